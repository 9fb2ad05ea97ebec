//! Pure parsers for the value syntaxes of SPEC §2 (durations, sizes, ports, enums, booleans).
//!
//! Each returns the reason text that ends up in a `ConfigError`; none reads the environment.

use std::time::Duration;

/// The longest duration: any longer overflows the instants it is added to (a deadline, the next
/// firing of `@every`); fuzzing found `@every 12409149616095639780` firing in the past.
const LONGEST: Duration = Duration::from_secs(100 * 366 * 86_400);

/// `500ms`, `30s`, `2m`, `1h 5m` (humantime), or a bare number of seconds as Lambda and f.yml write it.
pub(crate) fn duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let parsed = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(value)
            .map_err(|e| format!("not a duration ({e}); write e.g. 500ms, 30s or 2m"))?,
    };
    if parsed.is_zero() {
        return Err("must be greater than zero".into());
    }
    if parsed > LONGEST {
        return Err("must be at most 100 years".into());
    }
    Ok(parsed)
}

/// `6MB`, `512KB`, `1MiB`, `1024`: binary units (1 MB = 1 MiB = 1,048,576 bytes), as Docker counts memory.
pub(crate) fn size(value: &str) -> Result<u64, String> {
    let trimmed = value.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| "not a size; write e.g. 6MB, 512KB or 1048576".to_string())?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?}; use B, KB, MB or GB")),
    };
    let bytes = number.checked_mul(multiplier).ok_or("size is too large")?;
    if bytes == 0 {
        return Err("must be greater than zero".into());
    }
    Ok(bytes)
}

pub(crate) fn port(value: &str) -> Result<u16, String> {
    value
        .trim()
        .parse::<u16>()
        .map_err(|_| "not a TCP port (0 to 65535)".to_string())
}

pub(crate) fn positive(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("must be a whole number of at least 1".into()),
    }
}

pub(crate) fn boolean(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err("must be true or false".into()),
    }
}

/// Matches `value` (case-insensitively) against the allowed words and returns the canonical one.
pub(crate) fn one_of(value: &str, allowed: &[&'static str]) -> Result<&'static str, String> {
    let lower = value.trim().to_ascii_lowercase();
    allowed
        .iter()
        .copied()
        .find(|word| *word == lower)
        .ok_or_else(|| format!("must be one of: {}", allowed.join(", ")))
}

/// INSTALL_DEPS.
pub(crate) fn install_deps(value: &str) -> Result<super::InstallDeps, String> {
    use super::InstallDeps;
    Ok(match one_of(value, super::settings::INSTALL_MODES)? {
        "auto" => InstallDeps::Auto,
        "always" => InstallDeps::Always,
        _ => InstallDeps::Never,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("15"), Ok(Duration::from_secs(15)));
        assert!(duration("abc").unwrap_err().contains("not a duration"));
        assert!(duration("0s").unwrap_err().contains("greater than zero"));
        assert!(duration("-1s").is_err());
        assert!(duration("36600d").is_ok());
        let error = duration("12409149616095639780").unwrap_err();
        assert!(error.contains("at most 100 years"), "{error}");
    }

    #[test]
    fn sizes() {
        assert_eq!(size("6MB"), Ok(6 << 20));
        assert_eq!(size("512KB"), Ok(512 << 10));
        assert_eq!(size("1 MiB"), Ok(1 << 20));
        assert_eq!(size("1024"), Ok(1024));
        assert_eq!(size("2g"), Ok(2 << 30));
        assert!(size("6XB").unwrap_err().contains("unknown size unit"));
        assert!(size("MB").is_err());
        assert!(size("0").is_err());
        assert!(size("99999999999999999999GB").is_err());
    }

    #[test]
    fn ports() {
        assert_eq!(port("0"), Ok(0));
        assert_eq!(port("8080"), Ok(8080));
        assert!(port("70000").is_err());
        assert!(port("-1").is_err());
        assert!(port("http").is_err());
    }

    #[test]
    fn booleans_and_words() {
        assert_eq!(boolean("TRUE"), Ok(true));
        assert_eq!(boolean("0"), Ok(false));
        assert!(boolean("maybe").is_err());
        assert_eq!(one_of("JSON", &["json", "text"]), Ok("json"));
        assert_eq!(
            one_of("xml", &["json", "text"]).unwrap_err(),
            "must be one of: json, text"
        );
        assert_eq!(positive("3"), Ok(3));
        assert!(positive("0").is_err());
    }
}
