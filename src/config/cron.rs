//! Schedules (pure): cron expressions with 5 fields (`min hour dom mon dow`) or 6 (seconds
//! first, as f.yml and Function Compute write `0 0 8 * * *`), the `@hourly`-style macros, and
//! `@every 30s`; and the next time one fires after a given instant, in UTC or in a time zone
//! given as its UTC offset at each instant (so that a daylight-saving change is followed).

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Cron(Cron),
    Every(Duration),
}

/// Each field as a bit set of the values it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    seconds: u64,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Vixie cron: when both day fields are restricted, a day matching either fires.
    days_restricted: bool,
    weekdays_restricted: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let text = text.trim();
        if let Some(every) = text.strip_prefix("@every") {
            let every = super::parse::duration(every.trim())?;
            return Ok(Schedule::Every(every));
        }
        let expanded = match text {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other if other.starts_with('@') => {
                return Err(format!("unknown schedule macro {other:?}"))
            }
            other => other,
        };
        Cron::parse(expanded).map(Schedule::Cron)
    }

    /// The first firing strictly after `after` (seconds since the epoch, UTC). `@every` counts
    /// from `start`, the moment the schedule began.
    pub fn next_after(&self, after: i64, start: i64) -> Option<i64> {
        match self {
            Schedule::Every(every) => {
                let period = every.as_secs().max(1) as i64;
                let periods = after.checked_sub(start)?.div_euclid(period) + 1;
                start.checked_add(periods.checked_mul(period)?)
            }
            Schedule::Cron(cron) => cron.next_after(after),
        }
    }

    /// As [`Schedule::next_after`], with the cron fields read as local time in a zone whose
    /// offset from UTC at an instant is `offset(instant)` seconds. A local time that a
    /// daylight-saving jump skips fires as soon as the jump is over (as the hour's other times
    /// do); a local time that happens twice fires once, the first time.
    pub fn next_in_zone(&self, after: i64, start: i64, offset: &dyn Fn(i64) -> i64) -> Option<i64> {
        let Schedule::Cron(cron) = self else {
            return self.next_after(after, start);
        };
        let mut local = after + offset(after);
        // Each round moves `local` forward; a handful covers any run of zone transitions.
        for _ in 0..8 {
            let wanted = cron.next_after(local)?;
            // The instant whose local time is `wanted`: with the offset of the day before (the
            // first of two, when a clock goes back), else of the day after; in a skipped hour
            // neither fits, and the day before's offset puts it just after the jump.
            let early = wanted - offset(wanted - 86_400);
            let late = wanted - offset(wanted + 86_400);
            let instant = match early + offset(early) != wanted && late + offset(late) == wanted {
                true => late,
                false => early,
            };
            if instant > after {
                return Some(instant);
            }
            local = wanted;
        }
        None
    }
}

impl Cron {
    fn parse(text: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let (seconds, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            n => return Err(format!("a cron expression has 5 or 6 fields, not {n}")),
        };
        let field = |text: &str, name, min, max, names: &[&str]| {
            parse_field(text, min, max, names).map_err(|e| format!("{name} field {text:?}: {e}"))
        };
        let mut weekdays = field(rest[4], "day-of-week", 0, 7, &WEEKDAYS)?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1; // 7 is Sunday too
        }
        Ok(Cron {
            seconds: field(seconds, "seconds", 0, 59, &[])?,
            minutes: field(rest[0], "minutes", 0, 59, &[])?,
            hours: field(rest[1], "hours", 0, 23, &[])?,
            days: field(rest[2], "day-of-month", 1, 31, &[])?,
            months: field(rest[3], "month", 1, 12, &MONTHS)?,
            weekdays,
            days_restricted: !is_any(rest[2]),
            weekdays_restricted: !is_any(rest[4]),
        })
    }

    fn day_matches(&self, day: u32, weekday: u32) -> bool {
        let by_day = self.days & (1 << day) != 0;
        let by_weekday = self.weekdays & (1 << weekday) != 0;
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => by_day || by_weekday,
            _ => by_day && by_weekday,
        }
    }

    /// Walks forward day by day (at most about five years), then through the day's hours,
    /// minutes and seconds.
    fn next_after(&self, after: i64) -> Option<i64> {
        let first = after + 1;
        let first_day = first.div_euclid(86_400);
        (first_day..first_day + 366 * 5).find_map(|day_number| {
            let (_, month, day) = civil_from_days(day_number);
            let weekday = (day_number + 4).rem_euclid(7) as u32; // 1970-01-01 was a Thursday
            if self.months & (1 << month) == 0 || !self.day_matches(day, weekday) {
                return None;
            }
            let from_second = if day_number == first_day {
                first.rem_euclid(86_400)
            } else {
                0
            };
            Some(day_number * 86_400 + self.first_time_of_day(from_second)?)
        })
    }

    fn first_time_of_day(&self, from: i64) -> Option<i64> {
        (0..24i64)
            .filter(|h| self.hours & (1 << h) != 0)
            .find_map(|hour| {
                (0..60i64)
                    .filter(|m| self.minutes & (1 << m) != 0)
                    .find_map(|minute| {
                        (0..60i64)
                            .filter(|s| self.seconds & (1 << s) != 0)
                            .map(|second| hour * 3600 + minute * 60 + second)
                            .find(|t| *t >= from)
                    })
            })
    }
}

fn is_any(field: &str) -> bool {
    field == "*" || field == "?"
}

/// One field: `*`, `?`, `5`, `1-5`, `*/15`, `10-50/10`, `mon-fri`, and lists of those.
fn parse_field(text: &str, min: u32, max: u32, names: &[&str]) -> Result<u64, String> {
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (
                range,
                step.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or(format!("bad step {step:?}"))?,
            ),
            None => (part, 1),
        };
        let (low, high) = match range {
            "*" | "?" => (min, max),
            _ => match range.split_once('-') {
                Some((a, b)) => (value(a, min, max, names)?, value(b, min, max, names)?),
                None if part.contains('/') => (value(range, min, max, names)?, max),
                None => {
                    let v = value(range, min, max, names)?;
                    (v, v)
                }
            },
        };
        if low > high {
            return Err(format!("range {low}-{high} runs backwards"));
        }
        for v in (low..=high).step_by(step as usize) {
            bits |= 1 << v;
        }
    }
    Ok(bits)
}

fn value(text: &str, min: u32, max: u32, names: &[&str]) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    let number = match names.iter().position(|name| *name == lower) {
        Some(index) => index as u32 + if names.len() == 12 { 1 } else { 0 },
        None => text
            .parse::<u32>()
            .map_err(|_| format!("{text:?} is not a number or a name"))?,
    };
    match (min..=max).contains(&number) {
        true => Ok(number),
        false => Err(format!("{number} is outside {min}-{max}")),
    }
}

/// (year, month 1-12, day 1-31) of a day number since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// `2026-11-21T08:00:00Z` for seconds since the epoch.
pub fn iso8601(epoch: i64) -> String {
    let (year, month, day) = civil_from_days(epoch.div_euclid(86_400));
    let second = epoch.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second / 3600,
        second / 60 % 60,
        second % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seconds since the epoch of a UTC date and time (test helper, via iso8601's inverse).
    fn at(text: &str) -> i64 {
        let (date, time) = text.split_once('T').unwrap();
        let d: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
        let t: Vec<i64> = time
            .trim_end_matches('Z')
            .split(':')
            .map(|p| p.parse().unwrap())
            .collect();
        let days = (0..200_000i64)
            .map(|n| n - 100_000)
            .find(|n| civil_from_days(*n) == (d[0], d[1] as u32, d[2] as u32))
            .unwrap();
        days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]
    }

    fn next(expr: &str, after: &str) -> String {
        let schedule = Schedule::parse(expr).unwrap();
        iso8601(schedule.next_after(at(after), at(after)).unwrap())
    }

    /// Central European time: +1h, and +2h from the last Sunday of March, 01:00 UTC, to the
    /// last Sunday of October, 01:00 UTC (2026: March 29 and October 25).
    fn berlin(instant: i64) -> i64 {
        let summer = at("2026-03-29T01:00:00Z")..at("2026-10-25T01:00:00Z");
        if summer.contains(&instant) {
            7200
        } else {
            3600
        }
    }

    fn next_in_berlin(expr: &str, after: &str) -> String {
        let schedule = Schedule::parse(expr).unwrap();
        iso8601(
            schedule
                .next_in_zone(at(after), at(after), &berlin)
                .unwrap(),
        )
    }

    #[test]
    fn zones_shift_the_fields_and_follow_daylight_saving() {
        // 08:00 in Berlin is 07:00 UTC in winter and 06:00 UTC in summer.
        assert_eq!(
            next_in_berlin("0 8 * * *", "2026-01-10T12:00:00Z"),
            "2026-01-11T07:00:00Z"
        );
        assert_eq!(
            next_in_berlin("0 8 * * *", "2026-07-10T12:00:00Z"),
            "2026-07-11T06:00:00Z"
        );
        assert_eq!(
            next_in_berlin("0 8 * * *", "2026-03-28T12:00:00Z"),
            "2026-03-29T06:00:00Z"
        );
        // 02:30 does not exist on 2026-03-29: it fires after the jump, at 03:30 CEST.
        assert_eq!(
            next_in_berlin("30 2 * * *", "2026-03-28T12:00:00Z"),
            "2026-03-29T01:30:00Z"
        );
        // 02:30 happens twice on 2026-10-25: once, the first time (CEST).
        assert_eq!(
            next_in_berlin("30 2 * * *", "2026-10-24T12:00:00Z"),
            "2026-10-25T00:30:00Z"
        );
        assert_eq!(
            next_in_berlin("30 2 * * *", "2026-10-25T00:30:00Z"),
            "2026-10-26T01:30:00Z"
        );
        // From far away (a yearly schedule), the first of the two 02:30s still.
        assert_eq!(
            next_in_berlin("30 2 25 10 *", "2026-01-01T00:00:00Z"),
            "2026-10-25T00:30:00Z"
        );
        // @every ignores zones.
        assert_eq!(
            next_in_berlin("@every 90s", "2026-01-10T12:00:00Z"),
            "2026-01-10T12:01:30Z"
        );
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(at("2026-11-21T08:30:05Z")), "2026-11-21T08:30:05Z");
    }

    #[test]
    fn five_fields_fire_on_the_minute() {
        assert_eq!(
            next("*/15 * * * *", "2026-11-21T08:07:30Z"),
            "2026-11-21T08:15:00Z"
        );
        assert_eq!(
            next("0 9 * * mon-fri", "2026-11-21T08:00:00Z"),
            "2026-11-23T09:00:00Z"
        );
        assert_eq!(
            next("30 2 1 jan *", "2026-11-21T08:00:00Z"),
            "2027-01-01T02:30:00Z"
        );
        assert_eq!(
            next("0 0 29 2 *", "2026-03-01T00:00:00Z"),
            "2028-02-29T00:00:00Z"
        );
        assert_eq!(
            next("5,10 8-9 * * *", "2026-11-21T08:10:00Z"),
            "2026-11-21T09:05:00Z"
        );
    }

    #[test]
    fn six_fields_have_seconds_first() {
        assert_eq!(
            next("0 0 8 * * *", "2026-11-21T08:00:00Z"),
            "2026-11-22T08:00:00Z"
        );
        assert_eq!(
            next("*/10 * * * * *", "2026-11-21T08:00:05Z"),
            "2026-11-21T08:00:10Z"
        );
        assert_eq!(
            next("0 0 8 * * ?", "2026-11-21T07:00:00Z"),
            "2026-11-21T08:00:00Z"
        );
    }

    #[test]
    fn both_day_fields_restricted_means_either() {
        // The 1st of the month, or any Monday (Vixie cron).
        assert_eq!(
            next("0 0 1 * mon", "2026-11-21T00:00:00Z"),
            "2026-11-23T00:00:00Z"
        );
        assert_eq!(
            next("0 0 1 * 7", "2026-11-21T00:00:00Z"),
            "2026-11-22T00:00:00Z"
        );
    }

    #[test]
    fn macros_and_every() {
        assert_eq!(
            next("@hourly", "2026-11-21T08:59:59Z"),
            "2026-11-21T09:00:00Z"
        );
        assert_eq!(
            next("@daily", "2026-11-21T08:00:00Z"),
            "2026-11-22T00:00:00Z"
        );
        let every = Schedule::parse("@every 30s").unwrap();
        assert_eq!(every, Schedule::Every(Duration::from_secs(30)));
        assert_eq!(every.next_after(100, 100), Some(130));
        assert_eq!(every.next_after(131, 100), Some(160));
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        let error = |text: &str| Schedule::parse(text).unwrap_err();
        assert!(error("* * *").contains("5 or 6 fields"));
        assert!(error("61 * * * *").contains("minutes field"));
        assert!(error("* * * foo *").contains("month field"));
        assert!(error("*/0 * * * *").contains("bad step"));
        assert!(error("5-1 * * * *").contains("backwards"));
        assert!(error("@sometimes").contains("unknown schedule macro"));
        assert!(error("@every soon").contains("not a duration"));
        // Found by fuzzing: a period beyond i64 seconds made the next firing one in the past.
        assert!(error("@every 00012409149616095639780").contains("at most 100 years"));
        let century = Schedule::parse("@every 36600d").unwrap();
        assert_eq!(century.next_after(i64::MAX - 10, -10), None);
        assert_eq!(
            Schedule::parse("0 0 30 2 *").unwrap().next_after(0, 0),
            None
        );
    }
}
