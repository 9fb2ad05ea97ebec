//! The host's process table as `/proc` shows it: one process's stat and status fields, and
//! the walk from a pid to every process below it (no `children` file on this kernel).

/// One process as seen in `/proc/<pid>/stat` (and its cmdline; empty for zombies).
#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: i32,
    pub ppid: i32,
    pub state: char,
    pub cmdline: Vec<String>,
}

pub fn proc_stat(pid: i32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    Some(Proc {
        pid,
        ppid,
        state,
        cmdline,
    })
}

/// A `/proc/<pid>/status` field in its unit (kB for memory), e.g. `VmRSS`.
pub fn status_field(pid: i32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?;
    line.split_whitespace().next()?.parse().ok()
}

/// utime + stime of the whole process, in clock ticks.
pub fn cpu_ticks(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Context switches of every thread of the process: each is one wake-up (or preemption).
pub fn context_switches(pid: i32) -> u64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten();
    let tids = tasks.filter_map(|t| t.ok()?.file_name().to_str()?.parse::<i32>().ok());
    let per_task = |tid: i32| {
        let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status"));
        let status = status.unwrap_or_default();
        let count = |key: &str| -> u64 {
            let line = status.lines().find_map(|l| l.strip_prefix(key));
            line.and_then(|v| v.trim().parse().ok()).unwrap_or(0)
        };
        count("voluntary_ctxt_switches:") + count("nonvoluntary_ctxt_switches:")
    };
    tids.map(per_task).sum()
}

fn all_procs() -> Vec<Proc> {
    let dir = std::fs::read_dir("/proc").expect("read /proc");
    let pids = dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok());
    pids.filter_map(proc_stat).collect()
}

/// Every process below `root` in the host's process tree.
pub fn descendants(root: i32) -> Vec<Proc> {
    let all = all_procs();
    let mut found: Vec<Proc> = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for p in all.iter().filter(|p| p.ppid == parent) {
            frontier.push(p.pid);
            found.push(p.clone());
        }
    }
    found
}

/// SIGKILL to every process below `root`, then to `root` and its process group.
pub fn kill_tree(root: i32) {
    for p in descendants(root) {
        // SAFETY: kill(2) on processes descended from one this test started.
        unsafe { libc::kill(p.pid, libc::SIGKILL) };
    }
    // SAFETY: `root` is a child this test started (in a group of its own) and has not reaped.
    unsafe {
        libc::kill(root, libc::SIGKILL);
        libc::kill(-root, libc::SIGKILL);
    }
}
