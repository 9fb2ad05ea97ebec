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
        deadline: Instant::now() + within,
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
    assert_eq!(next.context["invokedFunctionArn"], json!(api.function.arn()));
    assert_eq!(api.started(0).await, Started::Polled);
    assert!(api.answer("r-1", Outcome::Result(json!(7))));
    assert!(!api.answer("r-1", Outcome::Result(json!(8))), "answered twice");
    assert!(!api.answer("nobody", Outcome::Result(json!(8))), "unknown id");
    assert_eq!(caller.await.unwrap(), Ok(Outcome::Result(json!(7))));
}

#[tokio::test]
async fn a_timeout_reports_the_process_and_the_late_answer_is_refused() {
    let (api, mut timeouts) = api(1);
    api.attach(0, 42);
    let caller = tokio::spawn({
        let api = api.clone();
        async move { api.invoke(invocation("slow", Duration::from_millis(100))).await }
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
    let refused = api.invoke(invocation("one-more", Duration::from_secs(5))).await;
    assert_eq!(refused, Err(Failed::Throttled));
    callers.iter().for_each(|c| c.abort());
}
