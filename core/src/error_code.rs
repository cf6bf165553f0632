//! The `code` header of the broker's ERROR frames: a stable, machine-readable kind of failure
//! beside the `message` header, which is for people and may be reworded.
//!
//! Clients branch on the code, never on the words of the message: the blocking client reports
//! an ERROR coded [`ErrorCode::AuthenticationFailed`] in answer to CONNECT as a refused login.
//! Brokers other than stompbox send no code; their ERRORs are plain broker errors.

use std::fmt;

/// What kind of failure an ERROR frame reports. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The login was refused: unknown user or wrong passcode (never which of the two).
    AuthenticationFailed,
    /// The logged-in principal may not do this (access rules).
    AccessDenied,
    /// The frame broke the protocol: a malformed frame, a missing header, a frame not allowed
    /// in this state.
    ProtocolError,
    /// A configured limit was reached: a frame, subscription, transaction, queue or connection
    /// limit.
    LimitExceeded,
    /// The connection fell too far behind the messages delivered to it.
    SlowConsumer,
    /// A deadline passed: CONNECT, heart-beats, a write or a frame took too long.
    Timeout,
    /// The broker closed the connection: it is shutting down, or an operator closed it.
    Closed,
    /// The message store failed: persistent messages are refused, and those waiting for a
    /// RECEIPT may not have been stored.
    StoreFailed,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 8] = [
        ErrorCode::AuthenticationFailed,
        ErrorCode::AccessDenied,
        ErrorCode::ProtocolError,
        ErrorCode::LimitExceeded,
        ErrorCode::SlowConsumer,
        ErrorCode::Timeout,
        ErrorCode::Closed,
        ErrorCode::StoreFailed,
    ];

    /// The header value, e.g. `"authentication-failed"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AuthenticationFailed => "authentication-failed",
            ErrorCode::AccessDenied => "access-denied",
            ErrorCode::ProtocolError => "protocol-error",
            ErrorCode::LimitExceeded => "limit-exceeded",
            ErrorCode::SlowConsumer => "slow-consumer",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Closed => "closed",
            ErrorCode::StoreFailed => "store-failed",
        }
    }

    /// Parses a header value; `None` for a value this version does not know.
    pub fn parse(value: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|code| code.as_str() == value)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_parses_back() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::parse("teapot"), None);
    }
}
