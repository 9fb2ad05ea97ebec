//! The application readiness check of a proxied server (READINESS_PATH, READINESS_STATUS,
//! READINESS_INTERVAL): besides accepting a TCP connection, the server must answer an HTTP GET
//! of the path with a status of the set before requests reach it.

use std::time::Duration;

use super::Reader;

/// An HTTP GET fnshim polls on the server's port until it answers a status of `statuses`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadinessCheck {
    /// The path and query asked for (starts with `/`).
    pub path: String,
    pub statuses: Statuses,
    /// The pause between two polls.
    pub interval: Duration,
}

/// A set of HTTP statuses: ranges and single codes (`200-299,404`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statuses(Vec<(u16, u16)>);

impl Statuses {
    pub fn contains(&self, status: u16) -> bool {
        self.0
            .iter()
            .any(|(low, high)| (*low..=*high).contains(&status))
    }
}

/// The check, when READINESS_PATH (or the Lambda Web Adapter's AWS_LWA_READINESS_CHECK_PATH)
/// is set; the other settings are read and checked either way.
pub(super) fn read(r: &mut Reader<'_>) -> Option<ReadinessCheck> {
    let own = r.parsed("READINESS_PATH", url_path);
    let path = own.or(r.parsed("AWS_LWA_READINESS_CHECK_PATH", url_path));
    let statuses = r.parsed("READINESS_STATUS", statuses);
    let interval = r
        .parsed("READINESS_INTERVAL", super::parse::duration)
        .unwrap_or(Duration::from_millis(50));
    Some(ReadinessCheck {
        path: path?,
        statuses: statuses.unwrap_or_else(|| Statuses(vec![(200, 499)])),
        interval,
    })
}

/// An origin-form request target: `/` then visible ASCII, no spaces.
pub(crate) fn url_path(value: &str) -> Result<String, String> {
    let value = value.trim();
    let visible = value.bytes().all(|b| b.is_ascii_graphic());
    if !value.starts_with('/') || !visible || value.len() > 2048 {
        return Err("must be a path starting with / (e.g. /health), without spaces".into());
    }
    Ok(value.to_owned())
}

/// `200-299,404`: comma-separated codes and inclusive ranges of codes from 100 to 599.
pub(crate) fn statuses(value: &str) -> Result<Statuses, String> {
    let bad = || {
        format!("not a status set ({value:?}); write codes from 100 to 599 and ranges, e.g. 200-299,404")
    };
    let code = |text: &str| {
        text.trim()
            .parse::<u16>()
            .ok()
            .filter(|c| (100..=599).contains(c))
            .ok_or_else(bad)
    };
    let mut ranges = Vec::new();
    for part in value.split(',') {
        let range = match part.split_once('-') {
            Some((low, high)) => (code(low)?, code(high)?),
            None => (code(part)?, code(part)?),
        };
        if range.0 > range.1 {
            return Err(bad());
        }
        ranges.push(range);
    }
    Ok(Statuses(ranges))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_sets_read_codes_and_ranges() {
        let set = statuses("200-299, 404").unwrap();
        assert!(set.contains(200) && set.contains(299) && set.contains(404));
        assert!(!set.contains(300) && !set.contains(503));
        assert!(statuses("200-499").unwrap().contains(499));
        for bad in ["", "abc", "99", "600", "300-200", "200-", "200,,404", "2xx"] {
            assert!(statuses(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_lambda_web_adapters_path_stands_in_for_an_unset_one() {
        let read = |pairs: &[(&str, &str)]| {
            let env = crate::config::test_env(pairs);
            let config = crate::config::Config::from_env(&env, None).unwrap();
            config.readiness.map(|check| (check.path, check.interval))
        };
        assert_eq!(read(&[]), None);
        let lwa = ("AWS_LWA_READINESS_CHECK_PATH", "/lwa");
        assert_eq!(
            read(&[lwa]),
            Some(("/lwa".into(), Duration::from_millis(50)))
        );
        let own = ("READINESS_PATH", "/own");
        assert_eq!(read(&[lwa, own]).unwrap().0, "/own");
    }

    #[test]
    fn paths_start_with_a_slash() {
        assert_eq!(url_path("/health?full=1").unwrap(), "/health?full=1");
        for bad in ["health", "/a b", "http://x/health"] {
            assert!(url_path(bad).is_err(), "{bad}");
        }
    }
}
