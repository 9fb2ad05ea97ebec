//! RUNTIME_CONFIG's YAML: what it accepts is only settings a file may hold, by their variable
//! names, and those read into a `Config` (every value parser of SPEC §2) fail only on known
//! settings; what it refuses is reported against RUNTIME_CONFIG, never as an empty list.
#![no_main]

use fnshim::config::{settings, Config};
use fnshim::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let settings = match fuzzing::runtime_config(text) {
        Ok(settings) => settings,
        Err(errors) => {
            assert!(!errors.is_empty());
            assert!(errors.iter().all(|e| e.key == "RUNTIME_CONFIG"));
            return;
        }
    };
    for name in settings.keys() {
        assert!(settings::get(name).is_some_and(|s| s.in_file()), "{name}");
    }
    if let Err(errors) = Config::from_env(&settings, None) {
        assert!(!errors.is_empty());
        for error in errors {
            assert!(settings::get(&error.key).is_some(), "{}", error.key);
        }
    }
});
