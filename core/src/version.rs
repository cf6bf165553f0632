//! STOMP protocol versions and the choice of one from a client's `accept-version` header.

use std::fmt;

/// A STOMP protocol version. Ordered: `V1_0 < V1_1 < V1_2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// STOMP 1.0: no header escaping, no NACK, no heart-beats, `id` optional on SUBSCRIBE.
    V1_0,
    /// STOMP 1.1: escapes `\\`, `\n`, `\c` in headers; heart-beats; NACK.
    V1_1,
    /// STOMP 1.2: also escapes `\r`; ACK and NACK name the MESSAGE's `ack` header.
    V1_2,
}

impl Version {
    /// Every version this implementation speaks, oldest first.
    pub const ALL: [Version; 3] = [Version::V1_0, Version::V1_1, Version::V1_2];

    /// The wire spelling, e.g. `"1.2"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1_0 => "1.0",
            Version::V1_1 => "1.1",
            Version::V1_2 => "1.2",
        }
    }

    /// Parses one wire spelling (`"1.0"`, `"1.1"`, `"1.2"`).
    pub fn parse(text: &str) -> Option<Version> {
        Version::ALL.into_iter().find(|v| v.as_str() == text.trim())
    }

    /// The highest version named in an `accept-version` value (comma-separated), if any is
    /// supported. A CONNECT without the header means 1.0 and is handled by the caller.
    pub fn negotiate(accept_version: &str) -> Option<Version> {
        accept_version.split(',').filter_map(Version::parse).max()
    }

    /// Whether header values are escaped in this version (all frames but CONNECT/CONNECTED).
    pub fn escapes_headers(self) -> bool {
        self != Version::V1_0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiate_picks_highest_common_version() {
        assert_eq!(Version::negotiate("1.0,1.1,1.2"), Some(Version::V1_2));
        assert_eq!(Version::negotiate("1.1,1.0"), Some(Version::V1_1));
        assert_eq!(Version::negotiate("1.0"), Some(Version::V1_0));
        assert_eq!(Version::negotiate("2.0,1.1"), Some(Version::V1_1));
        assert_eq!(Version::negotiate("2.0"), None);
        assert_eq!(Version::negotiate(""), None);
    }
}
