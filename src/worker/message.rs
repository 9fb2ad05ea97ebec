//! Reading a worker's lines (languages/PROTOCOL.md): pure functions from bytes to what the
//! connection acts on, fuzzed by `fuzz/fuzz_targets/worker_line.rs`.

use base64::Engine;
use bytes::Bytes;
use serde_json::Value;

use super::connection::Input;

/// How much of a line that is not JSON is logged (it may be megabytes, or hold secrets).
pub(super) const SHOWN: usize = 200;

/// The head of a streamed answer: `statusCode` and `headers` (names in lower case, in order).
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

/// A line from a worker, read: what `dispatch` acts on (a pure function, so that it is fuzzed).
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// `result`, `error` and `log` name their invocation; a `pong` its probe. A result or an
    /// error says whether background work (`waitUntil`) is still running for it.
    Result(String, Value, bool),
    Error(String, Value, bool),
    Log(String, Value),
    Pong(String),
    Ready(Input),
    InitError(Value),
    /// A streamed answer begins (`head`), goes on (`chunk`: its bytes, or why they are not
    /// readable) and ends (`end`, with the background flag).
    Head(String, Result<Head, String>),
    Chunk(String, Result<Bytes, String>),
    End(String, bool),
    /// The invocation's background work is over: the errors of the tasks that failed.
    Done(String, Vec<Value>),
    Unknown(String),
    /// Not JSON: the parser's reason, and the id near the start of the line if there is one.
    Unreadable {
        error: String,
        id: Option<String>,
    },
}

pub fn decode(line: &[u8]) -> Decoded {
    plain_result(line).unwrap_or_else(|| parsed(line))
}

/// Any line, parsed whole into a `Value` and read from it.
fn parsed(line: &[u8]) -> Decoded {
    let mut message = match serde_json::from_slice::<Value>(line) {
        Ok(message) => message,
        Err(error) => {
            return Decoded::Unreadable {
                error: error.to_string(),
                id: leading_id(line),
            }
        }
    };
    let id = message["id"].as_str().unwrap_or_default().to_owned();
    let background = message["background"] == true;
    match message["type"].as_str().unwrap_or_default() {
        "result" => Decoded::Result(id, message["result"].take(), background),
        "error" => Decoded::Error(id, message["error"].take(), background),
        "log" => Decoded::Log(id, message),
        "pong" => Decoded::Pong(id),
        "ready" if message["input"] == "request" => Decoded::Ready(Input::Request),
        "ready" => Decoded::Ready(Input::Event),
        "init_error" => Decoded::InitError(message["error"].take()),
        "head" => Decoded::Head(id, head(&message)),
        "chunk" => Decoded::Chunk(id, chunk(&message)),
        "end" => Decoded::End(id, background),
        "done" => Decoded::Done(id, errors(message["errors"].take())),
        other => Decoded::Unknown(other.to_owned()),
    }
}

/// The common line, `{"type":"result","id":"…","result":R}` with an optional
/// `"background":bool` after it (the adapters write the keys in this order), read without
/// building the message's own map: only `R` becomes a `Value`. Anything else (another order,
/// an escaped id, another key, a duplicate) is `None` and goes through the whole-line parse,
/// which gives the same answer for every line read here.
fn plain_result(line: &[u8]) -> Option<Decoded> {
    let mut at = Cursor { line, at: 0 };
    for token in [
        &b"{"[..],
        b"\"type\"",
        b":",
        b"\"result\"",
        b",",
        b"\"id\"",
        b":",
    ] {
        at.token(token)?;
    }
    let id = at.plain_string()?;
    for token in [&b","[..], b"\"result\"", b":"] {
        at.token(token)?;
    }
    let mut values = serde_json::Deserializer::from_slice(&line[at.at..]).into_iter::<Value>();
    let result = values.next()?.ok()?;
    at.at += values.byte_offset();
    let background = match at.token(b",") {
        Some(()) => {
            at.token(b"\"background\"")?;
            at.token(b":")?;
            match at.token(b"true") {
                Some(()) => true,
                None => at.token(b"false").map(|()| false)?,
            }
        }
        None => false,
    };
    at.token(b"}")?;
    at.blank();
    (at.at == line.len()).then(|| Decoded::Result(id.to_owned(), result, background))
}

struct Cursor<'a> {
    line: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// JSON's whitespace.
    fn blank(&mut self) {
        while matches!(self.line.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// `token` after optional whitespace.
    fn token(&mut self, token: &[u8]) -> Option<()> {
        self.blank();
        let found = self.line[self.at..].starts_with(token);
        found.then(|| self.at += token.len())
    }

    /// A string without escapes or control characters (one that has them is `None`).
    fn plain_string(&mut self) -> Option<&'a str> {
        self.token(b"\"")?;
        let rest = &self.line[self.at..];
        let length = rest
            .iter()
            .position(|b| matches!(b, b'"' | b'\\' | ..=0x1f))?;
        (rest[length] == b'"').then_some(())?;
        let text = std::str::from_utf8(&rest[..length]).ok()?;
        self.at += length + 1;
        Some(text)
    }
}

/// `{"statusCode": 200, "headers": [["name", "value"], …]}` (an object of names also does).
fn head(message: &Value) -> Result<Head, String> {
    let status = message["statusCode"]
        .as_u64()
        .filter(|s| (100..=999).contains(s))
        .ok_or_else(|| {
            format!(
                "a stream's statusCode must be a number from 100 to 999, not {}",
                message["statusCode"]
            )
        })?;
    let text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let mut headers = Vec::new();
    match &message["headers"] {
        Value::Null => {}
        Value::Array(pairs) => {
            for pair in pairs {
                match pair.as_array().map(Vec::as_slice) {
                    Some([name, value]) => headers.push((text(name).to_lowercase(), text(value))),
                    _ => {
                        return Err(format!(
                            "a stream's header must be [name, value], not {pair}"
                        ))
                    }
                }
            }
        }
        Value::Object(map) => {
            for (name, value) in map {
                headers.push((name.to_lowercase(), text(value)));
            }
        }
        other => {
            return Err(format!(
                "a stream's headers must be a list of pairs, not {other}"
            ))
        }
    }
    Ok(Head {
        status: status as u16,
        headers,
    })
}

/// A chunk's `data`: text, or base64 with `"base64": true`.
fn chunk(message: &Value) -> Result<Bytes, String> {
    let data = message["data"]
        .as_str()
        .ok_or("a stream chunk without a data string")?;
    match message["base64"] == true {
        true => base64::engine::general_purpose::STANDARD
            .decode(data)
            .map(Bytes::from)
            .map_err(|e| format!("a stream chunk that is not base64: {e}")),
        false => Ok(Bytes::copy_from_slice(data.as_bytes())),
    }
}

fn errors(value: Value) -> Vec<Value> {
    match value {
        Value::Array(errors) => errors,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// The `"id": "…"` near the start of a protocol line, read without parsing the rest.
pub(super) fn leading_id(line: &[u8]) -> Option<String> {
    let head = &line[..line.len().min(SHOWN)];
    let key = b"\"id\"";
    let after = head.windows(key.len()).position(|w| w == key)? + key.len();
    let value = head[after..].iter().position(|b| !b" \t:".contains(b))? + after;
    let quoted = head.get(value).filter(|b| **b == b'"').map(|_| value + 1)?;
    let length = head[quoted..].iter().position(|b| *b == b'"')?;
    String::from_utf8(head[quoted..quoted + length].to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_id_of_an_unreadable_line_is_found_without_parsing_it() {
        let deep = format!(
            "{{\"type\":\"result\",\"id\":\"17\",\"result\":{}}}",
            "[".repeat(200)
        );
        assert!(serde_json::from_str::<Value>(&deep).is_err());
        assert_eq!(leading_id(deep.as_bytes()).as_deref(), Some("17"));
        assert_eq!(leading_id(b"garbage"), None);
        assert_eq!(
            leading_id(br#"{"type": "result", "id": "4", "result": [[["#).as_deref(),
            Some("4")
        );
    }

    #[test]
    fn lines_decode_to_what_dispatch_acts_on() {
        let result = decode(br#"{"type":"result","id":"3","result":{"ok":true}}"#);
        assert_eq!(
            result,
            Decoded::Result("3".into(), json!({"ok": true}), false)
        );
        let later = decode(br#"{"type":"result","id":"3","result":1,"background":true}"#);
        assert_eq!(later, Decoded::Result("3".into(), json!(1), true));
        let ready = decode(br#"{"type":"ready","input":"request"}"#);
        assert_eq!(ready, Decoded::Ready(Input::Request));
        assert_eq!(decode(b"[1]\n"), Decoded::Unknown(String::new()));
        let unreadable = decode(br#"{"type":"result","id":"9","result":[[["#);
        assert!(matches!(unreadable, Decoded::Unreadable { id: Some(id), .. } if id == "9"));
    }

    #[test]
    fn a_result_line_read_without_its_map_is_what_the_whole_parse_reads() {
        let read = [
            r#"{"type":"result","id":"3","result":{"ok":true,"n":[1,2.5,"é\n"]}}"#,
            r#"{"type":"result","id":"3","result":"text","background":true}"#,
            r#"{"type":"result","id":"3","result":null,"background":false}"#,
            "{\"type\": \"result\", \"id\": \"7\", \"result\": 12}\n",
            r#"{"type":"result","id":"","result":[]}  "#,
        ];
        for line in read {
            let fast = plain_result(line.as_bytes());
            assert!(fast.is_some(), "{line}");
            assert_eq!(fast.unwrap(), parsed(line.as_bytes()), "{line}");
        }
        let left_to_the_whole_parse = [
            r#"{"id":"3","type":"result","result":1}"#,
            r#"{"type":"result","id":"a\"b","result":1}"#,
            r#"{"type":"result","id":3,"result":1}"#,
            r#"{"type":"result","id":"3","result":1,"extra":2}"#,
            r#"{"type":"result","id":"3","result":1,"result":2}"#,
            r#"{"type":"result","id":"3","result":1,"background":"yes"}"#,
            r#"{"type":"result","id":"3","result":1}x"#,
            r#"{"type":"result","id":"3","result":[[["#,
            r#"{"type":"results","id":"3","result":1}"#,
        ];
        for line in left_to_the_whole_parse {
            assert_eq!(plain_result(line.as_bytes()), None, "{line}");
        }
        let last = decode(br#"{"type":"result","id":"3","result":1,"result":2}"#);
        assert_eq!(last, Decoded::Result("3".into(), json!(2), false));
        let escaped = decode(br#"{"type":"result","id":"a\"b","result":1}"#);
        assert_eq!(escaped, Decoded::Result("a\"b".into(), json!(1), false));
    }

    #[test]
    fn streams_decode_to_a_head_chunks_and_an_end() {
        let head = decode(br#"{"type":"head","id":"5","statusCode":201,"headers":[["Content-Type","text/event-stream"]]}"#);
        let expected = Head {
            status: 201,
            headers: vec![("content-type".into(), "text/event-stream".into())],
        };
        assert_eq!(head, Decoded::Head("5".into(), Ok(expected)));
        let bad = decode(br#"{"type":"head","id":"5","statusCode":7}"#);
        assert!(matches!(bad, Decoded::Head(_, Err(_))));
        let text = decode(br#"{"type":"chunk","id":"5","data":"data: 1\n\n"}"#);
        assert_eq!(
            text,
            Decoded::Chunk("5".into(), Ok(Bytes::from("data: 1\n\n")))
        );
        let binary = decode(br#"{"type":"chunk","id":"5","data":"AP8=","base64":true}"#);
        assert_eq!(
            binary,
            Decoded::Chunk("5".into(), Ok(Bytes::from(vec![0, 255])))
        );
        let end = decode(br#"{"type":"end","id":"5","background":true}"#);
        assert_eq!(end, Decoded::End("5".into(), true));
        let done = decode(br#"{"type":"done","id":"5","errors":[{"errorType":"E"}]}"#);
        assert_eq!(
            done,
            Decoded::Done("5".into(), vec![json!({"errorType": "E"})])
        );
    }
}
