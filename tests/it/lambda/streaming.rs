//! Lambda response streaming (AWS_LWA_INVOKE_MODE=response_stream): a bootstrap's answer to an
//! HTTP event reaches `/response` as it is written, after the Function URL prelude. The
//! Runtime API here is `tests/fixtures/recording-runtime-api.py`, which records the bytes and
//! when they came (cargo-lambda's emulator answers a streamed `/response` with 500).

use super::*;

fn record_of(path: &std::path::Path, shim: &Shim) -> Value {
    let text = wait_for(Duration::from_secs(30), || {
        std::fs::read_to_string(path).ok()
    });
    let text = text.unwrap_or_else(|| panic!("no /response was recorded{shim}"));
    serde_json::from_str(&text).unwrap()
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// Runs fnshim on `function` against the recording Runtime API with one HTTP event for
/// `/stream?n=3&delay_ms=400`; the recorded `/response`.
fn record_streamed(function: &Function) -> (Value, Shim) {
    let folder = tempfile::tempdir().unwrap();
    let (event_file, record_file) = (folder.path().join("event"), folder.path().join("record"));
    let mut event = api_v2("/stream");
    event["rawQueryString"] = json!("n=3&delay_ms=400");
    event["requestContext"]["http"]["method"] = json!("GET");
    std::fs::write(&event_file, event.to_string()).unwrap();
    // Port 0: the API binds a port of the kernel's choosing and says which.
    let mut api = std::process::Command::new(crate::support::python())
        .arg(crate::support::fixture("recording-runtime-api.py"))
        .args(["0", &event_file.display().to_string()])
        .arg(&record_file)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = String::new();
    let stdout = api.stdout.take().unwrap();
    let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut said);
    let port: u16 = said
        .strip_prefix("listening ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("the recording API said {said:?}"));
    let cache = cache_dir();
    let shim = fnshim()
        .env("AWS_LAMBDA_RUNTIME_API", &format!("127.0.0.1:{port}"))
        .env("AWS_LWA_INVOKE_MODE", "response_stream")
        .env("CACHE_DIR", cache.path().to_str().unwrap())
        .function(function)
        .spawn();
    let record = record_of(&record_file, &shim);
    let _ = api.kill();
    let _ = api.wait();
    (record, shim)
}

#[test]
fn a_streamed_answer_is_posted_as_it_arrives_after_the_prelude() {
    let (record, shim) = record_streamed(&Function::upstream(&[]));
    check_streamed(&record, &shim);
}

/// A Python handler's generator, as a Lambda function with response streaming.
#[test]
fn a_handlers_stream_is_posted_as_it_arrives_too() {
    let function = Function::empty();
    let handler = r#"
import time


def handler(event, context):
    def chunks():
        yield {"statusCode": 200, "headers": {"content-type": "text/plain"}}
        for i in range(3):
            yield f"chunk {i}\n"
            if i < 2:
                time.sleep(0.4)
    return chunks()
"#;
    function.write("main.py", handler, 0o644);
    let (record, shim) = record_streamed(&function);
    check_streamed(&record, &shim);
}

fn check_streamed(record: &Value, shim: &Shim) {
    assert_eq!(
        record["path"],
        "/2018-06-01/runtime/invocation/rec-1/response"
    );
    let headers = &record["headers"];
    assert_eq!(
        headers["lambda-runtime-function-response-mode"], "streaming",
        "{record}"
    );
    assert_eq!(
        headers["content-type"],
        "application/vnd.awslambda.http-integration-response"
    );
    let pieces: Vec<(u64, Vec<u8>)> = record["pieces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["ms"].as_u64().unwrap(), hex(p["hex"].as_str().unwrap())))
        .collect();
    let body: Vec<u8> = pieces.iter().flat_map(|(_, bytes)| bytes.clone()).collect();
    let separator = body
        .windows(8)
        .position(|w| w == [0; 8])
        .expect("eight NULs");
    let prelude: Value = serde_json::from_slice(&body[..separator]).unwrap();
    assert_eq!(prelude["statusCode"], 200, "{prelude}");
    assert_eq!(
        String::from_utf8_lossy(&body[separator + 8..]),
        "chunk 0\nchunk 1\nchunk 2\n"
    );
    let first_chunk = pieces
        .iter()
        .find(|(_, b)| b.windows(7).any(|w| w == b"chunk 0"));
    let last_chunk = pieces
        .iter()
        .find(|(_, b)| b.windows(7).any(|w| w == b"chunk 2"));
    let (first, last) = (first_chunk.unwrap().0, last_chunk.unwrap().0);
    assert!(
        last >= first + 600,
        "the chunks arrived together ({first} ms, {last} ms): not streamed{record}{shim}"
    );
}
