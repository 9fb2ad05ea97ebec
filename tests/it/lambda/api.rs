//! A Runtime API that is gone or failing: bounded retries, then exit 69 with the address
//! and the reason.

use std::io::{Read, Write};
use std::thread;

use super::*;

fn gives_up_with_69(api: &str, reason: &str) {
    let function = Function::upstream(&[]);
    let cache = cache_dir();
    let shim = fnshim()
        .function(&function)
        .env("AWS_LAMBDA_RUNTIME_API", api)
        .env("CACHE_DIR", cache.path().to_str().unwrap())
        .spawn();
    assert_eq!(shim.wait_code(STARTUP), 69, "{shim}");
    let gone = shim.logs().into_iter().find(|l| l["exit_code"] == 69);
    let gone = gone.unwrap_or_else(|| panic!("no exit line{shim}"));
    assert_eq!(gone["address"], api, "{shim}");
    let said = gone["reason"].as_str().unwrap_or_default();
    assert!(
        said.contains(reason) && said.contains("after 6 attempts"),
        "{shim}"
    );
}

/// The port is held by a socket that is bound but does not listen: connecting is refused, and
/// no other test can bind it meanwhile (a port freed after the choice could be taken).
#[test]
fn an_unreachable_runtime_api_ends_fnshim_with_69() {
    let (_held, port) = bound_not_listening();
    gives_up_with_69(&format!("127.0.0.1:{port}"), "/invocation/next");
}

/// A TCP socket bound to a loopback port of the kernel's choosing, never listening.
fn bound_not_listening() -> (std::os::fd::OwnedFd, u16) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a descriptor this function owns from its creation.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let held = std::os::fd::OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let size = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let at = &mut addr as *mut libc::sockaddr_in as *mut libc::sockaddr;
        assert_eq!(
            libc::bind(fd, at, size),
            0,
            "bind: {}",
            std::io::Error::last_os_error()
        );
        let mut len = size;
        assert_eq!(libc::getsockname(fd, at, &mut len), 0, "getsockname");
        (held, u16::from_be(addr.sin_port))
    }
}

#[test]
fn a_runtime_api_answering_5xx_ends_fnshim_with_69() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (seen, heads) = std::sync::mpsc::channel();
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut head = [0u8; 4096];
            let n = stream.read(&mut head).unwrap_or(0);
            let _ = seen.send(String::from_utf8_lossy(&head[..n]).into_owned());
            let answer = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\nconnection: close\r\n\r\ndown";
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    gives_up_with_69(
        &format!("127.0.0.1:{port}/prefix"),
        "503 Service Unavailable: down",
    );
    let heads: Vec<String> = heads.try_iter().collect();
    assert_eq!(heads.len(), 6, "{heads:?}");
    let asked = "GET /prefix/2018-06-01/runtime/invocation/next HTTP/1.1";
    assert!(heads.iter().all(|h| h.starts_with(asked)), "{heads:?}");
}
