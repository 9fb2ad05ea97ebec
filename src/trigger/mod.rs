//! Triggers other than HTTP requests: the schedule (SCHEDULE) that invokes the function with
//! timer events.

pub mod schedule;

use std::sync::Arc;

use crate::config::cron::Schedule;
use crate::config::{Config, Trigger};
use crate::invoke::Kind;
use crate::server;

/// f.yml's timers, as ticks of the function each belongs to.
pub(crate) fn of_service(service: &crate::runtime::Service) -> impl Iterator<Item = Tick> + '_ {
    service.timers.iter().map(|(function, timer)| Tick {
        function: *function,
        schedule: timer.schedule.clone(),
        name: timer.name.clone(),
        payload: timer.payload.clone(),
    })
}

/// A timer that invokes one function (the first, unless f.yml says otherwise).
pub(crate) struct Tick {
    pub function: usize,
    pub schedule: Schedule,
    pub name: String,
    pub payload: String,
}

/// TRIGGER_TYPE=schedule's SCHEDULE, as a timer of the (first) function called `name`.
pub(crate) fn schedule(config: &Config, name: &str) -> Vec<Tick> {
    let (Trigger::Schedule, Some(schedule)) = (config.trigger, config.schedule.clone()) else {
        return Vec::new();
    };
    vec![Tick {
        function: 0,
        schedule,
        name: format!("{name}-schedule"),
        payload: config.schedule_payload.clone(),
    }]
}

/// Ticks each timer in the background until shutdown begins, in TZ's time (checked at start).
pub(crate) fn start(
    config: &Config,
    app: &Arc<server::App>,
    tickers: Vec<Tick>,
    stopping: tokio::sync::watch::Receiver<bool>,
) {
    let utc: schedule::Zone = Arc::new(|_| 0);
    let zone = config
        .tz
        .as_deref()
        .and_then(|tz| schedule::zone(tz).ok())
        .unwrap_or(utc);
    for tick in tickers {
        let target = app.clone();
        let function = tick.function;
        let fire: schedule::Fire = Arc::new(move |event| {
            let target = target.clone();
            Box::pin(async move {
                target
                    .deliver(function, Kind::Timer, event, Default::default())
                    .await
            })
        });
        tracing::info!(timer = tick.name, schedule = ?tick.schedule, "timer started");
        let ticker = schedule::Ticker {
            schedule: tick.schedule,
            name: tick.name,
            payload: tick.payload,
            zone: zone.clone(),
            app: app.clone(),
            fire,
        };
        tokio::spawn(ticker.run(stopping.clone()));
    }
}
