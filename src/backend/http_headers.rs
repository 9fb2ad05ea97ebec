//! The proxy path's header work: hop-by-hop headers out (and `Upgrade` kept for a protocol
//! switch), the upstream's authority and `x-forwarded-for`, both cached per thread.

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

static FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The hop-by-hop names (RFC 9110 §7.6.1, and two that are not standard); `Connection` first.
static HOP: [HeaderName; 8] = [
    header::CONNECTION,
    header::TRANSFER_ENCODING,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
];

/// Connection-level headers are not forwarded (RFC 9110 §7.6.1), nor those `Connection` names.
/// One scan of the names tells which are there (most requests carry none: then nothing else
/// is done); `Connection` is taken out with its values in one lookup, each other one found
/// is removed by its constant name.
pub(super) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let found = headers
        .keys()
        .filter_map(hop_index)
        .fold(0u8, |found, at| found | 1 << at);
    if found == 0 {
        return;
    }
    let mut named = Vec::new();
    if found & 1 != 0 {
        if let header::Entry::Occupied(entry) = headers.entry(header::CONNECTION) {
            for value in entry.remove_entry_mult().1 {
                named.extend(listed(&value));
            }
        }
    }
    for (at, name) in HOP.iter().enumerate().skip(1) {
        if found & 1 << at != 0 {
            headers.remove(name);
        }
    }
    for name in named {
        headers.remove(name);
    }
}

/// The names a `Connection` value lists; `keep-alive` and `close` (the usual ones) name no
/// header beyond those already going.
fn listed(value: &HeaderValue) -> impl Iterator<Item = HeaderName> + '_ {
    tokens(value)
        .filter(|t| !t.eq_ignore_ascii_case("keep-alive") && !t.eq_ignore_ascii_case("close"))
        .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
}

/// A `Connection` value's options; none for the usual lone `keep-alive` or `close` (what
/// HTTP/1.0 keep-alive clients and Node's answers send), told without splitting it.
fn tokens(value: &HeaderValue) -> impl Iterator<Item = &str> {
    let bytes = value.as_bytes();
    let plain = bytes.eq_ignore_ascii_case(b"keep-alive") || bytes.eq_ignore_ascii_case(b"close");
    (!plain)
        .then(|| value.to_str().unwrap_or_default())
        .into_iter()
        .flat_map(|text| text.split(','))
        .map(str::trim)
}

/// Where `name` is in HOP. Matched as text: a standard name's text is a table look-up, and a
/// match on it is a switch on the length and at most two compares, where comparing a
/// name with each of the eight cost ~150 instructions per name of every request and answer.
fn hop_index(name: &HeaderName) -> Option<usize> {
    Some(match name.as_str() {
        "connection" => 0,
        "transfer-encoding" => 1,
        "te" => 2,
        "trailer" => 3,
        "upgrade" => 4,
        "proxy-authorization" => 5,
        "keep-alive" => 6,
        "proxy-connection" => 7,
        _ => return None,
    })
}

pub(super) fn is_hop_by_hop(name: &HeaderName) -> bool {
    hop_index(name).is_some()
}

thread_local! {
    /// The upstream's authority and the last client's address as header values: both rarely
    /// change, and formatting them cost more than the rest of the request head.
    static HOST: RefCell<Option<(SocketAddr, HeaderValue)>> = const { RefCell::new(None) };
    static CLIENT: RefCell<Option<(IpAddr, HeaderValue)>> = const { RefCell::new(None) };
}

/// The server's address as a `Host` value, for a client that sent none.
pub(super) fn host(addr: SocketAddr) -> HeaderValue {
    HOST.with_borrow_mut(|cached| match cached {
        Some((known, host)) if *known == addr => host.clone(),
        _ => {
            let host = HeaderValue::from_str(&addr.to_string())
                .unwrap_or_else(|_| HeaderValue::from_static("127.0.0.1"));
            *cached = Some((addr, host.clone()));
            host
        }
    })
}

pub(super) fn append_forwarded_for(headers: &mut HeaderMap, remote: IpAddr) {
    let remote = remote.to_canonical();
    let ip = CLIENT.with_borrow_mut(|cached| match cached {
        Some((known, value)) if *known == remote => Some(value.clone()),
        _ => {
            let value = HeaderValue::from_str(&remote.to_string()).ok()?;
            *cached = Some((remote, value.clone()));
            Some(value)
        }
    });
    let Some(ip) = ip else { return };
    // One lookup: the usual request has no x-forwarded-for, and gets the address as it is.
    match headers.entry(&FORWARDED_FOR) {
        header::Entry::Vacant(entry) => {
            entry.insert(ip);
        }
        header::Entry::Occupied(mut entry) => {
            let value = match entry.get().to_str() {
                Ok(previous) => {
                    let ip = ip.to_str().unwrap_or_default();
                    HeaderValue::from_str(&format!("{previous}, {ip}"))
                }
                Err(_) => Ok(ip), // a previous value that is not text is replaced
            };
            if let Ok(value) = value {
                entry.insert(value);
            }
        }
    }
}

/// A request asking to switch protocols (a WebSocket handshake): its `Upgrade` value, when
/// `Connection` names `upgrade`.
pub(super) fn upgrade_asked(headers: &HeaderMap) -> Option<HeaderValue> {
    let asks = headers
        .get_all(header::CONNECTION)
        .iter()
        .flat_map(tokens)
        .any(|token| token.eq_ignore_ascii_case("upgrade"));
    asks.then(|| headers.get(header::UPGRADE).cloned())
        .flatten()
}

/// What a protocol switch needs of the hop-by-hop headers, put back after they went.
pub(super) fn keep_upgrade(headers: &mut HeaderMap, upgrade: HeaderValue) {
    headers.insert(header::UPGRADE, upgrade);
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_are_removed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-private"),
        );
        headers.insert("x-private", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        headers.insert("x-kept", HeaderValue::from_static("yes"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert_eq!(headers["x-kept"], "yes");
    }

    #[test]
    fn every_connection_value_is_read_and_every_hop_name_goes() {
        let mut headers = HeaderMap::new();
        headers.append(header::CONNECTION, HeaderValue::from_static("close, X-A"));
        headers.append(header::CONNECTION, HeaderValue::from_static("x-b"));
        for name in [
            "x-a",
            "x-b",
            "te",
            "trailer",
            "proxy-connection",
            "proxy-authorization",
        ] {
            headers.insert(name, HeaderValue::from_static("1"));
        }
        headers.append("x-kept", HeaderValue::from_static("1"));
        headers.append("x-kept", HeaderValue::from_static("2"));
        strip_hop_by_hop(&mut headers);
        let mut lone = HeaderMap::new();
        lone.insert(header::CONNECTION, HeaderValue::from_static("Keep-Alive"));
        lone.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert_eq!(upgrade_asked(&lone), None);
        let left: Vec<_> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        assert_eq!(left, [("x-kept", &b"1"[..]), ("x-kept", &b"2"[..])]);
    }

    #[test]
    fn each_hop_name_is_found_at_its_place() {
        for (at, name) in HOP.iter().enumerate() {
            assert_eq!(hop_index(name), Some(at), "{name}");
        }
        assert_eq!(hop_index(&header::CONTENT_TYPE), None);
    }

    #[test]
    fn upgrades_are_asked_by_connection_and_upgrade_together() {
        let mut headers = HeaderMap::new();
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert_eq!(upgrade_asked(&headers), None);
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        assert_eq!(upgrade_asked(&headers).unwrap(), "websocket");
        strip_hop_by_hop(&mut headers);
        keep_upgrade(&mut headers, HeaderValue::from_static("websocket"));
        assert_eq!(headers[header::CONNECTION], "upgrade");
        assert_eq!(headers.len(), 2);
    }

    #[test]
    fn forwarded_for_is_appended() {
        let mut headers = HeaderMap::new();
        append_forwarded_for(&mut headers, "::ffff:10.0.0.1".parse().unwrap());
        assert_eq!(headers[&FORWARDED_FOR], "10.0.0.1");
        append_forwarded_for(&mut headers, "127.0.0.1".parse().unwrap());
        assert_eq!(headers[&FORWARDED_FOR], "10.0.0.1, 127.0.0.1");
    }
}
