//! The value syntaxes of SPEC §2 for durations and sizes: what is accepted is greater than
//! zero, reads back the same when written out again, and a duration can be a deadline; and
//! READINESS_STATUS's sets: an accepted set is not empty and reads back the same written out.
#![no_main]

use fnshim::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(duration) = fuzzing::duration(text) {
        assert!(!duration.is_zero());
        let deadline = std::time::Instant::now().checked_add(duration);
        assert!(deadline.is_some(), "{duration:?} from now overflows");
        let written = humantime::format_duration(duration).to_string();
        assert_eq!(fuzzing::duration(&written), Ok(duration), "{written}");
    }
    if let Ok(bytes) = fuzzing::size(text) {
        assert!(bytes > 0);
        assert_eq!(fuzzing::size(&bytes.to_string()), Ok(bytes));
        if bytes % 1024 == 0 {
            assert_eq!(fuzzing::size(&format!("{}KB", bytes / 1024)), Ok(bytes));
        }
    }
    if let Ok(codes) = fuzzing::statuses(text) {
        assert!(!codes.is_empty());
        let written: Vec<String> = codes.iter().map(u16::to_string).collect();
        assert_eq!(fuzzing::statuses(&written.join(",")), Ok(codes));
    }
});
