//! The schedule trigger (TRIGGER_TYPE=schedule): sleeps until each firing of SCHEDULE and
//! invokes the function with a timer event `{triggerTime, triggerName, payload}`. A firing that
//! finds the previous run still going is skipped and logged, never piled up; a running tick
//! holds a drain permit, so shutdown waits for it within the drain budget.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::sync::watch;

use crate::config::cron::{iso8601, Schedule};
use crate::server::App;

/// A time zone as its offset from UTC, in seconds, at each instant (seconds since the epoch).
pub type Zone = Arc<dyn Fn(i64) -> i64 + Send + Sync>;

/// The zone `TZ` names, as the C library reads it: a name under /usr/share/zoneinfo
/// (`Europe/Berlin`, with an optional leading `:`), a file path, or a POSIX rule (`CST-8`).
/// UTC needs no zone file.
pub fn zone(tz: &str) -> Result<Zone, String> {
    if matches!(
        tz.trim_start_matches(':'),
        "" | "UTC" | "Etc/UTC" | "UTC0" | "GMT"
    ) {
        return Ok(Arc::new(|_| 0));
    }
    let zone = tz::TimeZone::from_posix_tz(tz).map_err(|error| error.to_string())?;
    Ok(Arc::new(move |instant| {
        zone.find_local_time_type(instant)
            .map_or(0, |t| i64::from(t.ut_offset()))
    }))
}

/// Runs one timer event; `Err` carries why it failed, for the log.
pub type Fire =
    Arc<dyn Fn(Value) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

pub struct Ticker {
    pub schedule: Schedule,
    pub name: String,
    pub payload: String,
    /// Where cron fields are read (TZ); `@every` ignores it.
    pub zone: Zone,
    pub app: Arc<App>,
    pub fire: Fire,
}

impl Ticker {
    /// Ticks until `stopping` turns true. The first tick waits for the workers to be ready.
    pub async fn run(self, mut stopping: watch::Receiver<bool>) {
        let start = now();
        let running = Arc::new(AtomicBool::new(false));
        let _ = self
            .app
            .readiness
            .wait_ready(Duration::from_secs(24 * 3600))
            .await;
        let mut after = now();
        loop {
            let Some(next) = self.schedule.next_in_zone(after, start, &*self.zone) else {
                return tracing::warn!("SCHEDULE never fires again");
            };
            let wait = Duration::from_millis((next as i128 * 1000 - now_ms()).max(0) as u64);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stopping.wait_for(|s| *s) => return,
            }
            after = next;
            self.tick(next, &running);
        }
    }

    fn tick(&self, at: i64, running: &Arc<AtomicBool>) {
        let time = iso8601(at);
        if running.swap(true, Ordering::AcqRel) {
            return tracing::warn!(
                trigger_time = time,
                "schedule tick skipped: the previous run is still going"
            );
        }
        let Some(permit) = self.app.connections.try_acquire() else {
            return;
        };
        let event =
            json!({ "triggerTime": time, "triggerName": self.name, "payload": self.payload });
        let (fire, running) = (self.fire.clone(), running.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let started = tokio::time::Instant::now();
            let outcome = fire(event).await;
            let took_ms = started.elapsed().as_millis() as u64;
            match outcome {
                Ok(()) => tracing::info!(trigger_time = time, took_ms, "schedule tick"),
                Err(why) => tracing::warn!(
                    trigger_time = time,
                    took_ms,
                    error = why,
                    "schedule tick failed"
                ),
            }
            running.store(false, Ordering::Release);
        });
    }
}

fn now() -> i64 {
    (now_ms() / 1000) as i64
}

fn now_ms() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i128)
}
