//! The state machine: queue, hand-out, answers, unknown and finished ids, timeouts, exits.

use super::*;
use crate::invoke::{Kind, Payload};
use crate::readiness::Upstream;

fn api(slots: usize) -> (Arc<RuntimeApi>, mpsc::UnboundedReceiver<TimedOut>) {
    let readiness = Arc::new(Readiness::new());
    readiness.set(Upstream::Ready {
        addr: None,
        generation: 1,
    });
    let function = FunctionInfo {
        name: "f".into(),
        version: "$LATEST".into(),
        memory_mb: Some(128),
        timeout: Duration::from_secs(3),
    };
    RuntimeApi::start(slots, function, readiness, Some(Protocol::Lambda)).unwrap()
}

fn invocation(id: &str, within: Duration) -> Invocation {
    Invocation {
        function: 0,
        kind: Kind::Event,
        request_id: id.into(),
        event: Payload::Json(json!({"n": id})),
        context: Map::new(),
        trace: None,
        deadline: Instant::now() + within,
        stream: false,
        logs: None,
    }
}

#[tokio::test]
async fn an_invocation_is_handed_out_once_and_answered_once() {
    let (api, _timeouts) = api(1);
    api.attach(0, 42);
    let caller = tokio::spawn({
        let api = api.clone();
        async move { api.invoke(invocation("r-1", Duration::from_secs(5))).await }
    });
    let next = api.next(0).await;
    assert_eq!(next.id, "r-1");
    assert_eq!(&next.event[..], br#"{"n":"r-1"}"#);
    assert_eq!(
        next.context["invokedFunctionArn"],
        json!(api.function.arn())
    );
    assert_eq!(api.started(0).await, Started::Polled);
    assert!(api.answer("r-1", Outcome::Result(json!(7))));
    assert!(
        !api.answer("r-1", Outcome::Result(json!(8))),
        "answered twice"
    );
    assert!(
        !api.answer("nobody", Outcome::Result(json!(8))),
        "unknown id"
    );
    assert_eq!(caller.await.unwrap(), Ok(Outcome::Result(json!(7))));
}

#[tokio::test]
async fn a_timeout_reports_the_process_and_the_late_answer_is_refused() {
    let (api, mut timeouts) = api(1);
    api.attach(0, 42);
    let caller = tokio::spawn({
        let api = api.clone();
        async move {
            api.invoke(invocation("slow", Duration::from_millis(100)))
                .await
        }
    });
    let next = api.next(0).await;
    assert_eq!(caller.await.unwrap(), Err(Failed::Timeout));
    assert_eq!(timeouts.recv().await, Some(TimedOut { slot: 0, pid: 42 }));
    assert!(!api.answer(&next.id, Outcome::Result(json!(1))));
}

#[tokio::test]
async fn an_exit_fails_what_the_process_held_and_ids_stay_unique() {
    let (api, _timeouts) = api(2);
    api.attach(0, 42);
    let call = |api: &Arc<RuntimeApi>| {
        let api = api.clone();
        tokio::spawn(async move { api.invoke(invocation("same", Duration::from_secs(5))).await })
    };
    let first = call(&api);
    let held = api.next(0).await;
    let second = call(&api);
    let queued = api.next(1).await;
    assert_eq!((held.id.as_str(), queued.id.as_str()), ("same", "same-2"));
    api.detach(0);
    assert_eq!(first.await.unwrap(), Err(Failed::WorkerExited));
    assert!(api.answer("same-2", Outcome::Error(json!({"errorType": "E"}))));
    assert_eq!(
        second.await.unwrap(),
        Ok(Outcome::Error(json!({"errorType": "E"})))
    );
}

#[tokio::test]
async fn a_full_queue_throttles() {
    let (api, _timeouts) = api(1);
    let mut callers = Vec::new();
    for n in 0..api.max_waiting {
        let api = api.clone();
        let id = format!("q-{n}");
        callers.push(tokio::spawn(async move {
            api.invoke(invocation(&id, Duration::from_secs(5))).await
        }));
    }
    let queued = async {
        while api.lock().queue.len() < api.max_waiting {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), queued)
        .await
        .unwrap();
    let refused = api
        .invoke(invocation("one-more", Duration::from_secs(5)))
        .await;
    assert_eq!(refused, Err(Failed::Throttled));
    callers.iter().for_each(|c| c.abort());
}

/// One HTTP/1.1 request to slot 0's endpoint; the status and body.
async fn http(api: &RuntimeApi, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(api.endpoint(0))
        .await
        .unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let _ = stream.write_all(body).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

#[tokio::test]
async fn the_routes_answer_with_lambdas_statuses_and_error_bodies() {
    let (api, _timeouts) = api(1);
    api.attach(0, 42);
    let base = "/2018-06-01/runtime/invocation";
    let (status, body) = http(&api, "POST", &format!("{base}/nobody/response"), b"1").await;
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})
    );
    let caller = tokio::spawn({
        let api = api.clone();
        async move { api.invoke(invocation("r-9", Duration::from_secs(5))).await }
    });
    let (status, event) = http(&api, "GET", &format!("{base}/next"), b"").await;
    assert_eq!((status, event.as_str()), (200, r#"{"n":"r-9"}"#));
    let (status, _) = http(&api, "POST", &format!("{base}/r-9/response"), b"{\"ok\":1}").await;
    assert_eq!(status, 202);
    assert_eq!(caller.await.unwrap(), Ok(Outcome::Result(json!({"ok": 1}))));
    let (status, _) = http(&api, "POST", &format!("{base}/r-9/response"), b"2").await;
    assert_eq!(status, 400, "a second answer is refused");
    let (status, _) = http(&api, "GET", &format!("{base}/r-9/response"), b"").await;
    assert_eq!(status, 405);
    let (status, _) = http(&api, "GET", "/2018-06-01/elsewhere", b"").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_answer_over_6_mib_is_413_and_a_function_error() {
    let (api, _timeouts) = api(1);
    api.attach(0, 42);
    let caller = tokio::spawn({
        let api = api.clone();
        async move { api.invoke(invocation("big", Duration::from_secs(5))).await }
    });
    let base = "/2018-06-01/runtime/invocation";
    let (status, _) = http(&api, "GET", &format!("{base}/next"), b"").await;
    assert_eq!(status, 200);
    let huge = vec![b'x'; MAX_PAYLOAD + 1];
    let (status, body) = http(&api, "POST", &format!("{base}/big/response"), &huge).await;
    assert_eq!(status, 413);
    assert!(body.contains("RequestEntityTooLarge"), "{body}");
    let Ok(Outcome::Error(error)) = caller.await.unwrap() else {
        panic!("expected a function error")
    };
    assert_eq!(error["errorType"], "Function.ResponseSizeTooLarge");
}

#[tokio::test]
async fn init_error_is_reported_to_the_supervisor() {
    let (api, _timeouts) = api(1);
    let body = br#"{"errorMessage":"no config","errorType":"ConfigError","stackTrace":["at x"]}"#;
    let (status, _) = http(&api, "POST", "/2018-06-01/runtime/init/error", body).await;
    assert_eq!(status, 202);
    assert_eq!(
        api.started(0).await,
        Started::InitError("ConfigError: no config\n    at x".into())
    );
}

#[tokio::test]
async fn a_process_is_reset_at_the_deadline_even_when_the_caller_went_away() {
    let (api, mut timeouts) = api(1);
    api.attach(0, 42);
    let caller = tokio::spawn({
        let api = api.clone();
        async move {
            api.invoke(invocation("gone", Duration::from_millis(200)))
                .await
        }
    });
    let next = api.next(0).await;
    caller.abort();
    let reported = tokio::time::timeout(Duration::from_secs(5), timeouts.recv()).await;
    assert_eq!(reported.unwrap(), Some(TimedOut { slot: 0, pid: 42 }));
    assert!(!api.answer(&next.id, Outcome::Result(json!(1))));
}
