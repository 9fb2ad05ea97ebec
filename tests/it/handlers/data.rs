//! Test data and decoding: binary bodies, base64 (no crate for it here), header lookup.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

pub(super) fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// `len` bytes covering every byte value (from 257 on), never valid UTF-8.
pub(super) fn binary_bytes(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    let mut out: Vec<u8> = std::iter::once(0xff).chain(0..=255u8).collect();
    while out.len() < len {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        out.push((x >> 24) as u8);
    }
    out.truncate(len);
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(super) fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            let c = if i <= chunk.len() {
                B64[(n >> (18 - 6 * i) & 63) as usize]
            } else {
                b'='
            };
            out.push(c as char);
        }
    }
    out
}

pub(super) fn base64_decode(text: &str) -> Vec<u8> {
    let digits: Vec<u32> = text
        .bytes()
        .filter(|b| *b != b'=')
        .map(|b| {
            B64.iter()
                .position(|c| *c == b)
                .unwrap_or_else(|| panic!("not base64: {text}")) as u32
        })
        .collect();
    let mut out = vec![];
    for group in digits.chunks(4) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, d)| n | d << (18 - 6 * i));
        out.extend((0..group.len() - 1).map(|i| (n >> (16 - 8 * i)) as u8));
    }
    out
}

/// A header's value looked up without regard to case in a JSON object of headers.
pub(super) fn header_in<'a>(headers: &'a Value, name: &str) -> &'a Value {
    let found = headers
        .as_object()
        .and_then(|m| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)));
    found.map_or(&Value::Null, |(_, v)| v)
}

#[test]
fn base64_helpers_round_trip() {
    for len in 0..8 {
        let bytes = binary_bytes(len);
        assert_eq!(base64_decode(&base64_encode(&bytes)), bytes);
    }
    assert_eq!(base64_encode(b"fnshim!"), "Zm5zaGltIQ==");
    assert_eq!(base64_decode("Zm5zaGltIQ=="), b"fnshim!");
    assert_eq!(json!(base64_encode(&[0xff, 0, 1])), json!("/wAB"));
}
