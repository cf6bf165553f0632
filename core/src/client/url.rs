//! Broker URLs: `tcp://host:port`, `ssl://host:port` or `tls://host:port` (TLS), and
//! `failover://(url,url,...)`, whose addresses are tried in order and may mix schemes.

use std::fmt;

use super::error::Error;

/// The port STOMP brokers listen on when a URL names none.
pub const DEFAULT_PORT: u16 = 61613;

/// One broker address from a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP address, without the brackets of an IPv6 literal.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Whether the connection runs TLS (`ssl://`, `tls://`) over TCP.
    pub tls: bool,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Parses a broker URL into the endpoints to try, in order.
///
/// Accepted forms: `tcp://host:port` (also `stomp://`; the port defaults to 61613),
/// `ssl://host:port` (PECL's scheme; also `tls://` and `stomp+ssl://`; the port defaults to
/// 61613 too, though brokers serve TLS on 61614), `failover://(tcp://a:1,ssl://b:2)` and
/// ActiveMQ's `failover:(...)`, with or without the parentheses.
pub fn parse(url: &str) -> Result<Vec<Endpoint>, Error> {
    let url = url.trim();
    let invalid = |reason: &str| Error::InvalidUrl { url: url.to_owned(), reason: reason.to_owned() };
    let (scheme, rest) = url.split_once(':').ok_or_else(|| invalid("expected scheme://host:port"))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme == "failover" {
        let list = rest.strip_prefix("//").unwrap_or(rest);
        let list = match list.strip_prefix('(') {
            Some(inner) => inner.strip_suffix(')').ok_or_else(|| invalid("unbalanced parenthesis"))?,
            None => list,
        };
        let mut endpoints = Vec::new();
        for member in list.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            if member.to_ascii_lowercase().starts_with("failover:") {
                return Err(invalid("failover URLs do not nest"));
            }
            endpoints.extend(parse(member)?);
        }
        if endpoints.is_empty() {
            return Err(invalid("failover list is empty"));
        }
        return Ok(endpoints);
    }
    let authority = rest.strip_prefix("//").ok_or_else(|| invalid("expected scheme://host:port"))?;
    let tls = match scheme.as_str() {
        "tcp" | "stomp" => false,
        "ssl" | "tls" | "stomp+ssl" => true,
        _ => return Err(Error::UnsupportedScheme(scheme)),
    };
    // Anything after the authority (a path or query) carries no meaning for STOMP: refuse it
    // rather than silently ignore a typo.
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    if authority.contains(['/', '?', '#', '@']) {
        return Err(invalid("only scheme://host:port is supported"));
    }
    Ok(vec![parse_authority(authority, tls).map_err(invalid)?])
}

/// Splits `host:port`, `host`, `[v6]:port` or `[v6]`.
fn parse_authority(authority: &str, tls: bool) -> Result<Endpoint, &'static str> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or("unbalanced bracket in IPv6 address")?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':').ok_or("expected :port after an IPv6 address")?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => return Err("IPv6 addresses must be in brackets"),
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("missing host");
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(text) => text.parse::<u16>().ok().filter(|&p| p != 0).ok_or("port must be a number from 1 to 65535")?,
    };
    Ok(Endpoint { host: host.to_owned(), port, tls })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(host: &str, port: u16) -> Endpoint {
        Endpoint { host: host.to_owned(), port, tls: false }
    }

    fn tls(host: &str, port: u16) -> Endpoint {
        Endpoint { host: host.to_owned(), port, tls: true }
    }

    #[test]
    fn tcp_url_gives_one_endpoint() {
        assert_eq!(parse("tcp://127.0.0.1:61613").unwrap(), vec![ep("127.0.0.1", 61613)]);
        assert_eq!(parse("tcp://broker.example:1234/").unwrap(), vec![ep("broker.example", 1234)]);
        assert_eq!(parse("TCP://localhost").unwrap(), vec![ep("localhost", DEFAULT_PORT)]);
        assert_eq!(parse("stomp://[::1]:5").unwrap(), vec![ep("::1", 5)]);
        assert_eq!(parse("tcp://[::1]").unwrap(), vec![ep("::1", DEFAULT_PORT)]);
    }

    #[test]
    fn failover_lists_endpoints_in_order() {
        let expected = vec![ep("a", 1), ep("b", 2)];
        assert_eq!(parse("failover://(tcp://a:1,tcp://b:2)").unwrap(), expected);
        assert_eq!(parse("failover:(tcp://a:1, tcp://b:2)").unwrap(), expected);
        assert_eq!(parse("failover://tcp://a:1,tcp://b:2").unwrap(), expected);
    }

    #[test]
    fn ssl_and_tls_urls_are_tls_endpoints_and_failover_mixes_schemes() {
        assert_eq!(parse("ssl://broker:61614").unwrap(), vec![tls("broker", 61614)]);
        assert_eq!(parse("TLS://[::1]:1/").unwrap(), vec![tls("::1", 1)]);
        assert_eq!(parse("stomp+ssl://broker").unwrap(), vec![tls("broker", DEFAULT_PORT)]);
        assert_eq!(parse("failover://(tcp://a:1,ssl://b:2)").unwrap(), vec![ep("a", 1), tls("b", 2)]);
    }

    #[test]
    fn malformed_urls_are_invalid() {
        for url in [
            "",
            "localhost:61613",
            "tcp://",
            "tcp://:1",
            "tcp://host:0",
            "tcp://host:70000",
            "tcp://host:port",
            "tcp://::1:5",
            "tcp://[::1:5",
            "tcp://host:1/path",
            "tcp://user@host:1",
            "failover://()",
            "failover://(tcp://a:1",
            "failover://(failover://(tcp://a:1))",
        ] {
            assert!(matches!(parse(url), Err(Error::InvalidUrl { .. })), "{url:?} should be invalid");
        }
        assert!(matches!(parse("http://host:1"), Err(Error::UnsupportedScheme(ref s)) if s == "http"));
    }
}
