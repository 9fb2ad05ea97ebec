//! What front ends, back ends and the supervisor share: the worker's readiness and address, and the
//! in-flight count that enforces FUNCTION_CONCURRENCY and tells the drain when it is done.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

/// The worker as requests see it. `generation` changes every time a new worker starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    Starting {
        reason: String,
    },
    /// `addr` is the proxied server's address; handler workers have none.
    Ready {
        addr: Option<SocketAddr>,
        generation: u64,
    },
    Down {
        reason: String,
        generation: u64,
    },
    Draining,
}

impl Upstream {
    pub fn generation(&self) -> Option<u64> {
        match self {
            Upstream::Ready { generation, .. } | Upstream::Down { generation, .. } => {
                Some(*generation)
            }
            _ => None,
        }
    }
}

/// Why a request could not be given a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    Draining,
    NotReady,
}

pub struct Readiness {
    tx: watch::Sender<Upstream>,
}

impl Default for Readiness {
    fn default() -> Readiness {
        Readiness::new()
    }
}

impl Readiness {
    pub fn new() -> Readiness {
        let (tx, _) = watch::channel(Upstream::Starting {
            reason: "starting the worker".into(),
        });
        Readiness { tx }
    }

    pub fn set(&self, state: Upstream) {
        self.tx.send_replace(state);
    }

    pub fn current(&self) -> Upstream {
        self.tx.borrow().clone()
    }

    /// The worker's address and generation, waiting up to `limit` for it to become ready.
    pub async fn wait_ready(
        &self,
        limit: Duration,
    ) -> Result<(Option<SocketAddr>, u64), Unavailable> {
        if let Upstream::Ready { addr, generation } = &*self.tx.borrow() {
            return Ok((*addr, *generation));
        }
        let mut rx = self.tx.subscribe();
        let wait = async {
            let state = rx
                .wait_for(|s| matches!(s, Upstream::Ready { .. } | Upstream::Draining))
                .await;
            state.map(|s| s.clone())
        };
        match tokio::time::timeout(limit, wait).await {
            Ok(Ok(Upstream::Ready { addr, generation })) => Ok((addr, generation)),
            Ok(Ok(_)) => Err(Unavailable::Draining),
            _ => Err(Unavailable::NotReady),
        }
    }

    /// True if the worker of `generation` is gone within `limit` (tells a crash from a bad reply).
    pub async fn died(&self, generation: u64, limit: Duration) -> bool {
        let mut rx = self.tx.subscribe();
        let gone = async {
            rx.wait_for(|s| {
                s.generation() != Some(generation) || matches!(s, Upstream::Down { .. })
            })
            .await
            .is_ok()
        };
        tokio::time::timeout(limit, gone).await.unwrap_or(false)
    }
}

/// Counts requests in flight; refuses past the limit; wakes the drain at zero.
pub struct InFlight {
    count: AtomicUsize,
    limit: usize,
    idle: Notify,
    /// Woken when a place frees up (someone waits in `room`).
    freed: Notify,
}

pub struct Permit(Arc<InFlight>);

impl InFlight {
    pub fn new(limit: usize) -> Arc<InFlight> {
        Arc::new(InFlight {
            count: AtomicUsize::new(0),
            limit,
            idle: Notify::new(),
            freed: Notify::new(),
        })
    }

    pub fn try_acquire(self: &Arc<Self>) -> Option<Permit> {
        if self.count.fetch_add(1, Ordering::AcqRel) >= self.limit {
            self.release();
            return None;
        }
        Some(Permit(self.clone()))
    }

    pub fn current(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    fn release(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
        self.freed.notify_waiters();
    }

    /// Resolves when fewer than `limit` are in flight (at once when they are).
    pub async fn room(&self, limit: usize) {
        loop {
            let notified = self.freed.notified();
            if self.current() < limit {
                return;
            }
            notified.await;
        }
    }

    /// Resolves when nothing is in flight.
    pub async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.current() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_enforces_its_limit() {
        let in_flight = InFlight::new(2);
        let a = in_flight.try_acquire().unwrap();
        let _b = in_flight.try_acquire().unwrap();
        assert!(in_flight.try_acquire().is_none());
        assert_eq!(in_flight.current(), 2);
        drop(a);
        assert!(in_flight.try_acquire().is_some());
    }

    #[tokio::test]
    async fn idle_resolves_when_the_last_permit_goes() {
        let in_flight = InFlight::new(4);
        let permit = in_flight.try_acquire().unwrap();
        let waiter = tokio::spawn({
            let in_flight = in_flight.clone();
            async move { in_flight.idle().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(permit);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn wait_ready_sees_a_later_ready_and_draining() {
        let readiness = Arc::new(Readiness::new());
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(
            readiness.wait_ready(Duration::from_millis(10)).await,
            Err(Unavailable::NotReady)
        );
        let r = readiness.clone();
        tokio::spawn(async move {
            r.set(Upstream::Ready {
                addr: Some(addr),
                generation: 1,
            })
        });
        assert_eq!(
            readiness.wait_ready(Duration::from_secs(1)).await,
            Ok((Some(addr), 1))
        );
        readiness.set(Upstream::Draining);
        assert_eq!(
            readiness.wait_ready(Duration::from_secs(1)).await,
            Err(Unavailable::Draining)
        );
        assert!(readiness.died(1, Duration::from_millis(10)).await);
    }
}
