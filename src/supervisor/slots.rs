//! A set of worker slots, each a task that starts, serves and restarts its process until it is
//! told to stop: what the shutdown sequence stops for handler workers and for Lambda-style
//! bootstraps alike.

use std::future::Future;

use libc::c_int;
use tokio::task::JoinSet;

use super::control::{Control, ControlSender, Controls, Stop};
use super::lifecycle::Groups;
use super::reaper::WaitStatus;
use super::shutdown::Workers;

pub(crate) struct Slots {
    groups: Groups,
    tell: Vec<ControlSender>,
    tasks: JoinSet<()>,
    /// The signal every slot stops its process with, whichever stopped fnshim (handler workers
    /// get SIGTERM after their socket closes); `None`: the one that stopped fnshim.
    stop_with: Option<c_int>,
}

impl Slots {
    pub fn new(groups: Groups, stop_with: Option<c_int>) -> Slots {
        Slots {
            groups,
            tell: Vec::new(),
            tasks: JoinSet::new(),
            stop_with,
        }
    }

    /// Starts one more slot; `slot` gets the stops meant for it.
    pub fn spawn<F>(&mut self, slot: impl FnOnce(Controls) -> F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (tx, controls) = Controls::channel();
        self.tell.push(tx);
        self.tasks.spawn(slot(controls));
    }

    /// Tells every slot to stop its process with `signal`.
    pub fn tell(&self, signal: c_int) {
        for tell in &self.tell {
            tell.send(Control::Stop(Stop {
                signal,
                forced: false,
            }));
        }
    }
}

impl Workers for Slots {
    fn groups(&self) -> Groups {
        self.groups.clone()
    }

    /// Slots restart their processes until they are told to stop, so the drain never ends
    /// early.
    async fn exited(&mut self) -> WaitStatus {
        std::future::pending().await
    }

    fn stop(&mut self, signal: c_int) {
        self.tell(self.stop_with.unwrap_or(signal));
    }

    async fn gone(&mut self) -> Option<WaitStatus> {
        while self.tasks.join_next().await.is_some() {}
        None
    }

    fn main_group(&self) -> i32 {
        0
    }
}
