//! Stopping whatever the main child left behind: SIGTERM, a grace period, then SIGKILL, until no
//! child of ours is left (PID1-TESTS D6/D7).
//!
//! As PID 1 that is `kill(-1)` (the kernel spares the caller); otherwise only our own children
//! (adopted orphans, as a subreaper) and the main child's process group are signalled, never
//! anything else on the host.

use std::time::Duration;

use libc::c_int;
use tokio::time::{timeout_at, Instant};

use super::control::TERMINATE;
use super::reaper::Reaper;
use super::signals;

pub async fn stop_all(reaper: &Reaper, main_group: i32, grace: Duration) {
    if !reaper.reap() {
        return;
    }
    tracing::info!(
        grace_ms = grace.as_millis() as u64,
        "stopping processes left behind"
    );
    signal_all(main_group, TERMINATE);
    if wait_until_none(reaper, Instant::now() + grace).await {
        return;
    }
    tracing::warn!("processes left behind ignored SIGTERM; sending SIGKILL");
    for _ in 0..10 {
        signal_all(main_group, libc::SIGKILL);
        if wait_until_none(reaper, Instant::now() + Duration::from_millis(200)).await {
            return;
        }
    }
    tracing::error!("some processes could not be reaped");
}

fn signal_all(main_group: i32, sig: c_int) {
    // SAFETY: kill/getpid have no memory-safety preconditions.
    unsafe {
        if libc::getpid() == 1 {
            libc::kill(-1, sig);
            return;
        }
        for pid in own_children() {
            libc::kill(pid, sig);
        }
    }
    signals::kill_group(main_group, sig);
}

/// Our direct children, from /proc (field 4 of /proc/PID/stat is the parent pid).
fn own_children() -> Vec<i32> {
    // SAFETY: getpid cannot fail.
    let me = unsafe { libc::getpid() };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| parent_of(*pid) == Some(me))
        .collect()
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// True once no child is left; false when the deadline passes first.
async fn wait_until_none(reaper: &Reaper, deadline: Instant) -> bool {
    let mut changes = reaper.subscribe();
    loop {
        if !reaper.reap() {
            return true;
        }
        if timeout_at(deadline, changes.changed()).await.is_err() {
            return !reaper.reap();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parent_of_reads_the_stat_line() {
        let me = std::process::id() as i32;
        let parent = super::parent_of(me).unwrap();
        // SAFETY: getppid cannot fail.
        assert_eq!(parent, unsafe { libc::getppid() });
    }
}
