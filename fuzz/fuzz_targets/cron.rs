//! SCHEDULE: cron expressions, macros and `@every`. The next firing is strictly later, is the
//! first one (nothing fires between), an `@every` keeps its period from the start, and a zone
//! with a fixed offset shifts firings by exactly that offset.
#![no_main]

use fnshim::fuzzing::{self, Schedule};
use fnshim_fuzz::draw;
use libfuzzer_sys::fuzz_target;

/// Instants up to 2106, as a timer sees them.
const UNTIL: u64 = 1 << 32;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(schedule) = fuzzing::schedule(text) else {
        return;
    };
    let drawn = draw(data);
    let after = (drawn % UNTIL) as i64;
    let start = after - (drawn >> 40) as i64 % 1_000_000;
    match schedule.every() {
        Some(every) => periodic(&schedule, every.as_secs().max(1) as i64, after, start),
        None => cron(&schedule, after),
    }
    let offset = ((drawn >> 32) % 113) as i64 * 900 - 14 * 3600;
    zoned(&schedule, after, start, offset);
});

fn periodic(schedule: &Schedule, period: i64, after: i64, start: i64) {
    let Some(next) = schedule.next_after(after, start) else {
        return;
    };
    assert!(
        next > after && next - after <= period,
        "{next} after {after}"
    );
    assert_eq!((next - start) % period, 0);
}

fn cron(schedule: &Schedule, after: i64) {
    let Some(next) = schedule.next_after(after, after) else {
        return;
    };
    assert!(next > after);
    assert_eq!(
        schedule.next_after(next - 1, after),
        Some(next),
        "{next} is first"
    );
    assert!(!fuzzing::iso8601(next).is_empty());
}

fn zoned(schedule: &Schedule, after: i64, start: i64, offset: i64) {
    let fixed = schedule.next_in_zone(after, start, &|_| offset);
    if schedule.every().is_none() {
        let shifted = schedule.next_after(after + offset, after + offset);
        assert_eq!(fixed, shifted.map(|local| local - offset));
    }
    let jump = after + 3600;
    let summer = |instant: i64| {
        if instant < jump {
            offset
        } else {
            offset + 3600
        }
    };
    if let Some(next) = schedule.next_in_zone(after, start, &summer) {
        assert!(next > after);
    }
}
