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

#[test]
fn an_unreachable_runtime_api_ends_fnshim_with_69() {
    gives_up_with_69(&format!("127.0.0.1:{}", free_port()), "/invocation/next");
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
