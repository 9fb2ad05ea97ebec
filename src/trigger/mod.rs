//! Triggers other than HTTP requests: the schedule (SCHEDULE) that invokes the function with
//! timer events.

pub mod schedule;
