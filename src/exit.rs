//! The one mapping from start-up failures to process exit codes (SPEC §7).

use std::io;
use std::path::PathBuf;

use crate::config::ConfigError;

pub const OK: i32 = 0;
/// `fnshim invoke` answered 400 or more, or failed; `fnshim health` found fnshim not ready.
pub const FAILED: i32 = 1;
pub const USAGE: i32 = 64;
pub const LOAD: i32 = 65;
pub const UNAVAILABLE: i32 = 69;
pub const CANNOT_EXECUTE: i32 = 126;
pub const NOT_FOUND: i32 = 127;
/// Custom and handler modes: a worker had to be SIGKILLed (as a shell reports a SIGKILLed child).
pub const KILLED: i32 = 128 + libc::SIGKILL;

/// Why fnshim could not start serving; each variant knows its exit code.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid configuration")]
    Config(Vec<ConfigError>),
    #[error("the function could not be loaded: {0}")]
    Load(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("cannot execute {}: {source}", path.display())]
    Exec { path: PathBuf, source: io::Error },
    #[error("cannot listen on port {port}: {source}")]
    Bind { port: u16, source: io::Error },
}

impl StartError {
    pub fn exit_code(&self) -> i32 {
        match self {
            StartError::Config(_) | StartError::Bind { .. } => USAGE,
            StartError::Load(_) => LOAD,
            StartError::Unavailable(_) => UNAVAILABLE,
            StartError::Exec { source, .. } => exec_code(source),
        }
    }
}

/// 127 when the program does not exist, 126 when it exists but cannot be run (as a shell says).
pub fn exec_code(error: &io::Error) -> i32 {
    match error.kind() {
        io::ErrorKind::NotFound => NOT_FOUND,
        _ => CANNOT_EXECUTE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let cfg = StartError::Config(vec![]);
        assert_eq!(cfg.exit_code(), 64);
        assert_eq!(StartError::Load("x".into()).exit_code(), 65);
        assert_eq!(StartError::Unavailable("x".into()).exit_code(), 69);
        let exec = |kind| StartError::Exec {
            path: "/x".into(),
            source: io::Error::from(kind),
        };
        assert_eq!(exec(io::ErrorKind::NotFound).exit_code(), 127);
        assert_eq!(exec(io::ErrorKind::PermissionDenied).exit_code(), 126);
        let bind = StartError::Bind {
            port: 1,
            source: io::Error::from(io::ErrorKind::AddrInUse),
        };
        assert_eq!(bind.exit_code(), 64);
        assert_eq!(KILLED, 137);
    }
}
