//! The one HTTP/1.1 client of the tests: requests as raw bytes, keep-alive connections,
//! bodies framed by length, chunked or close, readable reports of every response, and the
//! timed helpers the drain tests need (a request on a thread, waiting for a refused connect).

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{wait_for, IO_TIMEOUT};

pub enum Body {
    Empty,
    Fixed(Vec<u8>),
    Chunked(Vec<Vec<u8>>),
}

pub struct Request {
    pub method: String,
    pub target: String,
    headers: Vec<(String, String)>,
    body: Body,
}

impl Request {
    pub fn new(method: &str, target: &str) -> Request {
        Request {
            method: method.into(),
            target: target.into(),
            headers: vec![],
            body: Body::Empty,
        }
    }

    pub fn get(target: &str) -> Request {
        Request::new("GET", target)
    }

    pub fn post(target: &str) -> Request {
        Request::new("POST", target)
    }

    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A body sent with Content-Length.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = Body::Fixed(body.into());
        self
    }

    /// A body sent with `Transfer-Encoding: chunked`, one chunk per element.
    pub fn chunked(mut self, chunks: Vec<Vec<u8>>) -> Request {
        self.body = Body::Chunked(chunks);
        self
    }

    /// The request line and headers, with Host and framing added.
    pub fn head_bytes(&self) -> Vec<u8> {
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.target);
        if !self.has_header("host") {
            head += "Host: 127.0.0.1\r\n";
        }
        for (k, v) in &self.headers {
            head += &format!("{k}: {v}\r\n");
        }
        match &self.body {
            Body::Fixed(b) if !self.has_header("content-length") => {
                head += &format!("Content-Length: {}\r\n", b.len())
            }
            Body::Chunked(_) => head += "Transfer-Encoding: chunked\r\n",
            _ => {}
        }
        head += "\r\n";
        head.into_bytes()
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.head_bytes();
        match &self.body {
            Body::Empty => {}
            Body::Fixed(b) => out.extend_from_slice(b),
            Body::Chunked(chunks) => {
                for c in chunks.iter().filter(|c| !c.is_empty()) {
                    out.extend_from_slice(&chunk_bytes(c));
                }
                out.extend_from_slice(b"0\r\n\r\n");
            }
        }
        out
    }
}

pub fn chunk_bytes(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

#[derive(Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response body is not JSON ({e}){self}"))
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "\n---- response: {}", self.status)?;
        for (k, v) in &self.headers {
            writeln!(f, "{k}: {v}")?;
        }
        let body = self.text();
        match body.char_indices().nth(2000) {
            Some((i, _)) => writeln!(f, "\n{}... [{} bytes]", &body[..i], self.body.len()),
            None => writeln!(f, "\n{body}"),
        }
    }
}

/// How the rest of the current response body is framed.
enum Framing {
    Done,
    Length(usize),
    Chunked,
    UntilClose,
}

/// One HTTP/1.1 client connection (keep-alive; bodies by length, chunked or close).
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    framing: Framing,
}

impl Conn {
    pub fn connect(port: u16) -> io::Result<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_nodelay(true)?;
        let writer = stream.try_clone()?;
        Ok(Conn {
            reader: BufReader::new(stream),
            writer,
            framing: Framing::Done,
        })
    }

    pub fn set_read_timeout(&self, t: Duration) {
        self.writer.set_read_timeout(Some(t)).unwrap();
    }

    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)?;
        self.writer.flush()
    }

    pub fn request(&mut self, req: &Request) -> io::Result<Response> {
        self.write_raw(&req.to_bytes())?;
        self.read_response(&req.method)
    }

    /// Reads a whole response (head and body).
    pub fn read_response(&mut self, method: &str) -> io::Result<Response> {
        let mut resp = self.read_head(method)?;
        while let Some(part) = self.read_some()? {
            resp.body.extend_from_slice(&part);
        }
        Ok(resp)
    }

    /// Reads the status line and headers (skipping 1xx); the body is left for `read_some`.
    pub fn read_head(&mut self, method: &str) -> io::Result<Response> {
        loop {
            let status_line = self.line()?;
            let status: u16 = status_line
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad(format!("bad status line {status_line:?}")))?;
            let mut headers = vec![];
            loop {
                let line = self.line()?;
                if line.is_empty() {
                    break;
                }
                let (k, v) = line
                    .split_once(':')
                    .ok_or_else(|| bad(format!("bad header {line:?}")))?;
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
            if (100..200).contains(&status) {
                continue;
            }
            let resp = Response {
                status,
                headers,
                body: vec![],
            };
            self.framing = if method == "HEAD" || status == 204 || status == 304 {
                Framing::Done
            } else if resp
                .header("transfer-encoding")
                .is_some_and(|t| t.contains("chunked"))
            {
                Framing::Chunked
            } else if let Some(n) = resp.header("content-length") {
                Framing::Length(
                    n.parse()
                        .map_err(|_| bad(format!("bad content-length {n}")))?,
                )
            } else {
                Framing::UntilClose
            };
            return Ok(resp);
        }
    }

    /// The next piece of the body as it arrives (a chunk, or what one read returns);
    /// `None` at its end.
    pub fn read_some(&mut self) -> io::Result<Option<Vec<u8>>> {
        match self.framing {
            Framing::Done => Ok(None),
            Framing::Length(0) => {
                self.framing = Framing::Done;
                Ok(None)
            }
            Framing::Length(n) => {
                let mut buf = vec![0; n.min(1 << 20)];
                self.reader.read_exact(&mut buf)?;
                self.framing = Framing::Length(n - buf.len());
                Ok(Some(buf))
            }
            Framing::Chunked => {
                let size_line = self.line()?;
                let hex = size_line.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(hex, 16)
                    .map_err(|_| bad(format!("bad chunk size line {size_line:?}")))?;
                if size == 0 {
                    while !self.line()?.is_empty() {}
                    self.framing = Framing::Done;
                    return Ok(None);
                }
                let mut buf = vec![0; size];
                self.reader.read_exact(&mut buf)?;
                if !self.line()?.is_empty() {
                    return Err(bad("chunk not followed by CRLF".into()));
                }
                Ok(Some(buf))
            }
            Framing::UntilClose => {
                let mut buf = vec![0; 64 * 1024];
                let n = self.reader.read(&mut buf)?;
                if n == 0 {
                    self.framing = Framing::Done;
                    return Ok(None);
                }
                buf.truncate(n);
                Ok(Some(buf))
            }
        }
    }

    /// Reads body pieces into `acc` until it contains `needle`.
    pub fn read_until(&mut self, acc: &mut Vec<u8>, needle: &[u8]) -> io::Result<()> {
        while !acc.windows(needle.len()).any(|w| w == needle) {
            match self.read_some()? {
                Some(part) => acc.extend_from_slice(&part),
                None => {
                    return Err(bad(format!(
                        "body ended before {:?}",
                        String::from_utf8_lossy(needle)
                    )))
                }
            }
        }
        Ok(())
    }

    fn line(&mut self) -> io::Result<String> {
        let mut buf = Vec::new();
        if self.reader.read_until(b'\n', &mut buf)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            buf.pop();
        }
        String::from_utf8(buf).map_err(|e| bad(format!("non-UTF-8 line: {e}")))
    }
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// GET `target` with `Connection: close` on a thread of its own; the answer (or the error)
/// comes with the instant it was complete.
pub fn get_in_background(port: u16, target: &str) -> JoinHandle<(io::Result<Response>, Instant)> {
    let req = Request::get(target).header("Connection", "close");
    thread::spawn(move || {
        let result = Conn::connect(port).and_then(|mut c| c.request(&req));
        (result, Instant::now())
    })
}

/// Whether connecting to `port` is refused within `limit`.
pub fn wait_refused(port: u16, limit: Duration) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let refused = wait_for(limit, || {
        let attempt = TcpStream::connect_timeout(&addr, Duration::from_millis(200));
        matches!(attempt, Err(e) if e.kind() == io::ErrorKind::ConnectionRefused).then_some(())
    });
    refused.is_some()
}
