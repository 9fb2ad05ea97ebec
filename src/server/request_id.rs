//! Request ids for requests that bring none: random-looking UUID v4 strings made in user space
//! from a seed drawn once, so that no request pays a system call for randomness; the same bits
//! start the traces of requests that bring no trace header (`crate::trace`).

use std::sync::atomic::{AtomicU64, Ordering};

use http::HeaderValue;

pub struct RequestIds {
    seed: u64,
    counter: AtomicU64,
}

impl RequestIds {
    pub fn new() -> RequestIds {
        let seed = uuid::Uuid::new_v4().as_u64_pair();
        RequestIds {
            seed: seed.0 ^ seed.1.rotate_left(17),
            counter: AtomicU64::new(seed.1),
        }
    }

    /// A new id: unique within this process (a counter) and unpredictable across processes.
    pub fn next(&self) -> HeaderValue {
        let bytes = self.bits().to_le_bytes();
        let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        id.hyphenated().encode_lower(&mut text);
        // The value owns the text in one allocation that its clones share (from `from_str`,
        // the first clone, for the upstream request, would allocate a second).
        HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(text))
            .expect("a UUID is a valid header value")
    }
}

impl RequestIds {
    /// 128 new bits from the same generator (the random part of trace ids fnshim starts).
    pub fn bits(&self) -> u128 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let high = splitmix64(self.seed ^ n);
        let low = splitmix64(high ^ self.seed.rotate_left(32));
        (u128::from(high) << 64) | u128::from(low)
    }

    /// The request's trace context, or a new trace when it brings none.
    pub fn trace(&self, headers: &http::HeaderMap) -> crate::trace::Trace {
        crate::trace::Trace::from_headers(headers, || (self.bits(), epoch_secs()))
    }
}

fn epoch_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Default for RequestIds {
    fn default() -> RequestIds {
        RequestIds::new()
    }
}

/// Sebastiano Vigna's SplitMix64 finaliser: a bijective mix of 64 bits.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_v4_uuids_and_distinct() {
        let ids = RequestIds::new();
        let seen: HashSet<String> = (0..10_000)
            .map(|_| ids.next().to_str().unwrap().to_string())
            .collect();
        assert_eq!(seen.len(), 10_000);
        let one = seen.iter().next().unwrap();
        let parsed = uuid::Uuid::parse_str(one).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert_ne!(RequestIds::new().next(), RequestIds::new().next());
    }
}
