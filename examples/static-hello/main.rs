//! A custom-runtime function for the `fnshim/custom` image (no shell, no libc): a static
//! `bootstrap` serving HTTP on $PORT, with the standard library only. Build it with
//!
//!     rustc -O -C target-feature=+crt-static --target x86_64-unknown-linux-gnu main.rs -o bootstrap
//!
//! then `docker run -v "$PWD":/app/function:ro -p 127.0.0.1:8080:8080 fnshim/custom`.
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

fn main() {
    let port = std::env::var("PORT").unwrap_or_else(|_| "9000".into());
    let listener = TcpListener::bind(("127.0.0.1", port.parse::<u16>().expect("PORT"))).unwrap();
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || serve(stream));
    }
}

/// One request per connection: the request line, headers skipped, a JSON greeting back.
fn serve(mut stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
        header.clear();
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let body = format!(
        "{{\"message\":\"Hello from a static bootstrap behind fnshim\",\"path\":\"{}\",\"uid\":{}}}",
        path.replace(['"', '\\'], ""),
        uid()
    );
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// The real user id, from /proc (the standard library has no getuid).
fn uid() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap_or("Uid: -1");
    line[4..]
        .split_whitespace()
        .next()
        .unwrap_or("-1")
        .to_string()
}
