//! Heart-beat negotiation (STOMP 1.1+): from the client's `cx,cy` and the server's `sx,sy` to
//! how often each side must send something.

use std::time::Duration;

/// A `heart-beat` header value: `(can send every ms, wants to receive every ms)`; 0 means never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Heartbeat {
    /// The smallest interval at which the sender can send heart-beats, in ms (0: cannot).
    pub send_ms: u64,
    /// The interval at which the sender wants to receive heart-beats, in ms (0: does not want them).
    pub receive_ms: u64,
}

impl Heartbeat {
    /// Parses `"cx,cy"`. `None` for anything else (a protocol error for the caller to report).
    pub fn parse(value: &str) -> Option<Heartbeat> {
        let (send, receive) = value.split_once(',')?;
        Some(Heartbeat { send_ms: send.trim().parse().ok()?, receive_ms: receive.trim().parse().ok()? })
    }

    /// The header value, `"send,receive"`.
    pub fn to_header(self) -> String {
        format!("{},{}", self.send_ms, self.receive_ms)
    }
}

/// What a negotiation settles for one connection, seen from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Negotiated {
    /// How often the server must send something to the client (`None`: never).
    pub send_every: Option<Duration>,
    /// How often the client promised to send something (`None`: no promise, never time out).
    pub expect_every: Option<Duration>,
}

/// Negotiates per the spec: server→client is `max(sx, cy)` unless either is 0; client→server is
/// `max(cx, sy)` unless either is 0.
pub fn negotiate(client: Heartbeat, server: Heartbeat) -> Negotiated {
    let interval = |a: u64, b: u64| (a != 0 && b != 0).then(|| Duration::from_millis(a.max(b)));
    Negotiated {
        send_every: interval(server.send_ms, client.receive_ms),
        expect_every: interval(client.send_ms, server.receive_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_two_numbers_only() {
        assert_eq!(Heartbeat::parse("10,20"), Some(Heartbeat { send_ms: 10, receive_ms: 20 }));
        assert_eq!(Heartbeat::parse("0,0"), Some(Heartbeat::default()));
        assert_eq!(Heartbeat::parse("10"), None);
        assert_eq!(Heartbeat::parse("a,b"), None);
    }

    #[test]
    fn negotiate_takes_the_larger_interval_and_zero_disables() {
        let server = Heartbeat { send_ms: 10_000, receive_ms: 10_000 };
        let n = negotiate(Heartbeat { send_ms: 4_000, receive_ms: 20_000 }, server);
        assert_eq!(n.send_every, Some(Duration::from_millis(20_000)));
        assert_eq!(n.expect_every, Some(Duration::from_millis(10_000)));
        let n = negotiate(Heartbeat { send_ms: 0, receive_ms: 1_000 }, server);
        assert_eq!(n.expect_every, None);
        assert_eq!(n.send_every, Some(Duration::from_millis(10_000)));
        let n = negotiate(Heartbeat { send_ms: 1_000, receive_ms: 1_000 }, Heartbeat::default());
        assert_eq!(n, Negotiated::default());
    }
}
