//! JSON text written straight into bytes, for the lines and bodies fnshim writes on every
//! request (the worker's invoke line, its event and context, a handler's JSON result): strings
//! escaped as serde_json escapes them, but with the runs that need no escape found eight bytes
//! at a time and copied at once (serde_json looks at every byte on its own).

use serde_json::Value;

/// JSON text being written.
pub(crate) struct Json(pub(crate) Vec<u8>);

impl Json {
    pub(crate) fn with_capacity(capacity: usize) -> Json {
        Json(Vec::with_capacity(capacity))
    }

    /// A value as serde_json writes it (the same bytes: maps in their order, numbers as
    /// serde_json prints them), only faster at strings.
    pub(crate) fn value(&mut self, value: &Value) {
        match value {
            Value::Null => self.raw(b"null"),
            Value::Bool(true) => self.raw(b"true"),
            Value::Bool(false) => self.raw(b"false"),
            Value::Number(n) => match n.as_u64() {
                Some(n) => self.number(n),
                // Writing into a Vec cannot fail.
                None => drop(serde_json::to_writer(&mut self.0, n)),
            },
            Value::String(text) => self.str(text),
            Value::Array(items) => {
                self.raw(b"[");
                for (i, item) in items.iter().enumerate() {
                    self.comma(i);
                    self.value(item);
                }
                self.raw(b"]");
            }
            Value::Object(map) => {
                self.raw(b"{");
                for (i, (key, item)) in map.iter().enumerate() {
                    self.key(i, key);
                    self.value(item);
                }
                self.raw(b"}");
            }
        }
    }

    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// A comma before every item but the first.
    pub(crate) fn comma(&mut self, index: usize) {
        if index > 0 {
            self.0.push(b',');
        }
    }

    /// An object's `index`th key, with its colon.
    pub(crate) fn key(&mut self, index: usize, key: &str) {
        self.comma(index);
        self.str(key);
        self.0.push(b':');
    }

    pub(crate) fn str(&mut self, text: &str) {
        self.0.push(b'"');
        self.escaped(text);
        self.0.push(b'"');
    }

    pub(crate) fn number(&mut self, n: u64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = n;
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        self.raw(&digits[at..]);
    }

    /// The inside of a JSON string: a string that needs no escape (most: found eight bytes at a
    /// time) copied at once; else runs between escapes, `"` `\` and control characters escaped
    /// as serde_json escapes them.
    pub(crate) fn escaped(&mut self, text: &str) {
        let bytes = text.as_bytes();
        match clean(bytes) {
            true => self.0.extend_from_slice(bytes),
            false => self.escaped_runs(bytes),
        }
    }

    fn escaped_runs(&mut self, bytes: &[u8]) {
        let (mut run, mut i) = (0, 0);
        while i < bytes.len() {
            while let Some(chunk) = bytes.get(i..i + 8) {
                match needs_escape(word(chunk)) {
                    true => break,
                    false => i += 8,
                }
            }
            let end = bytes.len().min(i + 8);
            for (at, &byte) in bytes.iter().enumerate().take(end).skip(i) {
                if needs(byte) {
                    self.0.extend_from_slice(&bytes[run..at]);
                    escape(byte, &mut self.0);
                    run = at + 1;
                }
            }
            i = end;
        }
        self.0.extend_from_slice(&bytes[run..]);
    }
}

/// No byte needs an escape: word by word, the last (short) word read overlapping the one
/// before it, byte by byte only for strings shorter than a word.
fn clean(bytes: &[u8]) -> bool {
    let n = bytes.len();
    if n < 8 {
        return !bytes.iter().any(|&b| needs(b));
    }
    let mut chunks = bytes.chunks_exact(8);
    let words_clean = chunks.all(|chunk| !needs_escape(word(chunk)));
    words_clean && (chunks.remainder().is_empty() || !needs_escape(word(&bytes[n - 8..])))
}

fn needs(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// Eight bytes as a word (`chunk` is eight bytes long).
fn word(chunk: &[u8]) -> u64 {
    u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]))
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any of the word's bytes is below 0x20, `"` or `\` (exact, for the whole word: each
/// term is the classic "has a byte below n" test, which errs only above a byte that is).
fn needs_escape(word: u64) -> bool {
    let quotes = word ^ (ONES * b'"' as u64);
    let backslashes = word ^ (ONES * b'\\' as u64);
    let below = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = quotes.wrapping_sub(ONES) & !quotes;
    let backslash = backslashes.wrapping_sub(ONES) & !backslashes;
    (below | quote | backslash) & HIGHS != 0
}

/// The escape of a byte below 0x20, `"` or `\`: `\"`, `\\`, `\n`-style, or `\u00XX` (lower-case
/// hex).
fn escape(byte: u8, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        0x08 => b'b',
        0x0c => b'f',
        _ => {
            let (high, low) = (HEX[(byte >> 4) as usize], HEX[(byte & 15) as usize]);
            return out.extend_from_slice(&[b'\\', b'u', b'0', b'0', high, low]);
        }
    };
    out.extend_from_slice(&[b'\\', short]);
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
