use serde_json::json;

use super::*;

/// Strings of the bytes escaping is about, a deterministic draw (xorshift).
fn drawn_texts(count: usize) -> Vec<String> {
    const TEXT: &[u8] = b"ab\"\\/\x00\x01\x08\x0c\n\r\t\x1f\x7f \xc3\xbc\xe2\x9c\x93";
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..count)
        .map(|_| {
            let length = (next() % 41) as usize;
            let bytes: Vec<u8> = (0..length)
                .map(|_| match next() % 8 {
                    0 => next() as u8,
                    _ => TEXT[(next() % TEXT.len() as u64) as usize],
                })
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        })
        .collect()
}

#[test]
fn the_word_test_finds_every_byte_that_needs_an_escape() {
    let needs = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
    for filler in [b'a', 0xff, 0x80, b'!', b'#', b']', 0x7f, 0x20] {
        for byte in 0..=255u8 {
            for at in 0..8 {
                let mut word = [filler; 8];
                word[at] = byte;
                let expected = needs(byte) || needs(filler);
                assert_eq!(needs_escape(u64::from_le_bytes(word)), expected, "{word:?}");
            }
        }
    }
}

#[test]
fn strings_are_escaped_as_serde_json_escapes_them() {
    let mut texts: Vec<String> = (0..=0x7fu8).map(|b| (b as char).to_string()).collect();
    texts.extend(drawn_texts(3000));
    texts.push("a".repeat(17) + "\"" + &"b".repeat(9) + "\n");
    texts.push("ünïcödé ✓ \u{1F600}".repeat(3));
    for text in texts {
        let mut out = Json(Vec::new());
        out.str(&text);
        let expected = serde_json::to_string(&text).unwrap();
        assert_eq!(String::from_utf8(out.0).unwrap(), expected);
    }
}

#[test]
fn numbers_are_written_in_decimal() {
    for n in [0, 7, 10, 99, 1_700_000_000_000, u64::MAX] {
        let mut out = Json(Vec::new());
        out.number(n);
        assert_eq!(out.0, n.to_string().into_bytes());
    }
}

#[test]
fn values_are_the_bytes_serde_json_writes() {
    let texts = drawn_texts(200);
    let mut values = vec![
        json!(null),
        json!([
            true,
            false,
            0,
            -1,
            i64::MIN,
            u64::MAX,
            1.5,
            -0.25,
            1e300,
            []
        ]),
        json!({}),
        json!({"statusCode": 200, "headers": {"x-a": "1"}, "body": "ok", "n": {"deep": [[{}]]}}),
    ];
    for pair in texts.chunks(2) {
        values.push(json!({ pair[0].clone(): pair[pair.len() - 1].clone(), "list": pair }));
    }
    for value in values {
        let mut out = Json(Vec::new());
        out.value(&value);
        assert_eq!(out.0, serde_json::to_vec(&value).unwrap(), "{value}");
    }
}
