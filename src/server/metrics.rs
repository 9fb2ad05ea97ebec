//! Counters behind `/_/metrics`, rendered in the Prometheus text format by hand (no registry).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How an invocation ended, as counted in `fnshim_invocations_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Error,
    Timeout,
    WorkerExited,
    InvalidResponse,
    Throttled,
    TooLarge,
    NotReady,
    /// The client closed its connection before the answer was ready.
    Abandoned,
}

const OUTCOMES: [(Outcome, &str); 9] = [
    (Outcome::Success, "success"),
    (Outcome::Error, "error"),
    (Outcome::Timeout, "timeout"),
    (Outcome::WorkerExited, "worker_exited"),
    (Outcome::InvalidResponse, "invalid_response"),
    (Outcome::Throttled, "throttled"),
    (Outcome::TooLarge, "too_large"),
    (Outcome::NotReady, "not_ready"),
    (Outcome::Abandoned, "abandoned"),
];

/// Upper bounds of the duration histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];

#[derive(Default)]
pub struct Metrics {
    outcomes: [AtomicU64; 9],
    buckets: [AtomicU64; 12],
    count: AtomicU64,
    sum_micros: AtomicU64,
    restarts: AtomicU64,
    init_micros: AtomicU64,
}

impl Metrics {
    pub fn record(&self, outcome: Outcome, elapsed: Duration) {
        let index = OUTCOMES
            .iter()
            .position(|(o, _)| *o == outcome)
            .unwrap_or(0);
        self.outcomes[index].fetch_add(1, Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        if let Some(bucket) = BUCKETS.iter().position(|bound| secs <= *bound) {
            self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    /// Invocations recorded so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn worker_restarted(&self) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
    }

    pub fn initialized(&self, took: Duration) {
        self.init_micros
            .store(took.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn render(&self, in_flight: usize, background_failures: u64) -> String {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut out = String::with_capacity(2048);
        out.push_str("# HELP fnshim_invocations_total Invocations by outcome.\n# TYPE fnshim_invocations_total counter\n");
        for ((_, name), counter) in OUTCOMES.iter().zip(&self.outcomes) {
            let _ = writeln!(
                out,
                "fnshim_invocations_total{{outcome=\"{name}\"}} {}",
                load(counter)
            );
        }
        out.push_str("# HELP fnshim_invocation_duration_seconds Time to the response headers.\n# TYPE fnshim_invocation_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += load(bucket);
            let _ = writeln!(
                out,
                "fnshim_invocation_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = load(&self.count);
        let _ = writeln!(
            out,
            "fnshim_invocation_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "fnshim_invocation_duration_seconds_sum {}",
            load(&self.sum_micros) as f64 / 1e6
        );
        let _ = writeln!(out, "fnshim_invocation_duration_seconds_count {count}");
        let _ = writeln!(out, "# HELP fnshim_in_flight Invocations in flight.\n# TYPE fnshim_in_flight gauge\nfnshim_in_flight {in_flight}");
        let _ = writeln!(out, "# HELP fnshim_worker_restarts_total Workers restarted after they exited.\n# TYPE fnshim_worker_restarts_total counter\nfnshim_worker_restarts_total {}", load(&self.restarts));
        let _ = writeln!(out, "# HELP fnshim_init_duration_seconds Time the last worker took to become ready.\n# TYPE fnshim_init_duration_seconds gauge\nfnshim_init_duration_seconds {}", load(&self.init_micros) as f64 / 1e6);
        let _ = writeln!(out, "# HELP fnshim_background_failures_total Background work (waitUntil) that failed, outlived FUNCTION_TIMEOUT or lost its worker.\n# TYPE fnshim_background_failures_total counter\nfnshim_background_failures_total {background_failures}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.record(Outcome::Success, Duration::from_millis(3));
        metrics.record(Outcome::Timeout, Duration::from_secs(31));
        metrics.worker_restarted();
        let text = metrics.render(2, 3);
        assert!(text.contains("fnshim_invocations_total{outcome=\"success\"} 1\n"));
        assert!(text.contains("fnshim_invocations_total{outcome=\"timeout\"} 1\n"));
        assert!(text.contains("fnshim_invocation_duration_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("fnshim_invocation_duration_seconds_bucket{le=\"30\"} 1\n"));
        assert!(text.contains("fnshim_invocation_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("fnshim_in_flight 2\n"));
        assert!(text.contains("fnshim_worker_restarts_total 1\n"));
        assert!(text.contains("fnshim_background_failures_total 3\n"));
    }
}
