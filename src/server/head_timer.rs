//! The timer hyper's HTTP/1 server is given for its header-read timeout (KEEPALIVE_TIMEOUT: the
//! idle time before a request and the time to send its head, the slowloris bound). hyper asks
//! for a new sleep at every request head and drops it once the head is in; with hyper-util's
//! `TokioTimer` each one was a tokio timer inserted into the wheel and taken out again (~840
//! instructions per request, bench/README.md). Here the sleeps of one connection share one tokio
//! timer, armed for the earliest deadline still asked for and re-armed only when it fires before
//! the deadline of the sleep being polled: at most once per KEEPALIVE_TIMEOUT, not per request.
//! A sleep is ready exactly when hyper's would be (the shared timer reached its deadline).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// One per client connection.
#[derive(Default)]
pub(super) struct HeadTimer {
    shared: Arc<Mutex<Shared>>,
}

#[derive(Default)]
struct Shared {
    /// Made at the first poll (inside the runtime).
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The deadline `timer` is armed for; None when it is not armed.
    armed: Option<tokio::time::Instant>,
}

impl hyper::rt::Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(self.now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HeadSleep {
            shared: self.shared.clone(),
            deadline: deadline.into(),
        })
    }

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into()
    }
}

struct HeadSleep {
    shared: Arc<Mutex<Shared>>,
    deadline: tokio::time::Instant,
}

impl hyper::rt::Sleep for HeadSleep {}

impl Future for HeadSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = self.deadline;
        let mut shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        let Shared { timer, armed } = &mut *shared;
        let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        loop {
            // A timer armed later than this deadline (or not at all) is armed for it.
            if armed.is_none_or(|at| at > deadline) {
                timer.as_mut().reset(deadline);
                *armed = Some(deadline);
            }
            match timer.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) if *armed == Some(deadline) => return Poll::Ready(()),
                // It fired for an earlier head's deadline: armed again for this one.
                Poll::Ready(()) => *armed = None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Timer;

    #[tokio::test]
    async fn each_sleep_ends_at_its_own_deadline_on_one_shared_timer() {
        let timer = HeadTimer::default();
        let start = Instant::now();
        // A first head's sleep (400 ms), polled once and dropped: its head came in.
        assert!(!poll_once(timer.sleep(Duration::from_millis(400))).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
        // The next head's sleep ends 400 ms after it began, not at the first one's deadline.
        timer.sleep(Duration::from_millis(400)).await;
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(600), "{took:?}");
        // A sleep whose deadline is past ends at the timer's next tick (tokio fires a past
        // deadline at once only when its wheel has not yet moved beyond it), whether the shared
        // timer was armed later or not.
        let past = timer.sleep_until(timer.now() - Duration::from_millis(1));
        let ended = tokio::time::timeout(Duration::from_secs(5), past).await;
        assert!(ended.is_ok(), "a past deadline's sleep did not end");
    }

    /// Polls once; whether it was ready.
    async fn poll_once(mut sleep: Pin<Box<dyn hyper::rt::Sleep>>) -> bool {
        std::future::poll_fn(|cx| Poll::Ready(sleep.as_mut().poll(cx).is_ready())).await
    }
}
