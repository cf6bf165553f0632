//! CONNECT (or STOMP) to CONNECTED: version and heart-beat negotiation, then authentication off
//! the runtime ([`Action::Authenticate`]), then the `connect` permission.

use std::sync::Arc;

use super::{Action, Session};
use crate::auth::{AuthError, Login, Principal};
use crate::broker::error::{ProtocolError, SessionError};
use crate::broker::registry::LoggedIn;
use crate::frame::{header, Command, Frame};
use crate::heartbeat::{Heartbeat, Negotiated};
use crate::version::Version;

/// A CONNECT whose credentials are being checked.
#[derive(Debug)]
pub(super) struct Handshake {
    version: Version,
    client_heartbeat: Heartbeat,
    /// CONNECT's `receipt`, echoed by an ERROR that refuses it.
    receipt: Option<String>,
}

impl Session {
    /// Negotiates the version and heart-beats, then asks for the credentials to be checked.
    pub(super) fn connect(&mut self, frame: &Frame, receipt: Option<String>) -> Result<Action, ProtocolError> {
        let version = match frame.header(header::ACCEPT_VERSION) {
            None => Version::V1_0,
            Some(accepted) => Version::negotiate(accepted).ok_or(ProtocolError::UnsupportedVersion)?,
        };
        let client_heartbeat = match frame.header(header::HEART_BEAT) {
            None => Heartbeat::default(),
            Some(value) => Heartbeat::parse(value).ok_or_else(|| ProtocolError::BadHeartbeat(value.to_owned()))?,
        };
        self.handshake = Some(Handshake { version, client_heartbeat, receipt });
        self.client_id = frame.header(header::CLIENT_ID).map(str::to_owned);
        Ok(Action::Authenticate(Login {
            login: frame.header(header::LOGIN).map(str::to_owned),
            passcode: frame.header(header::PASSCODE).map(str::to_owned),
            connector: self.info.meta.connector.clone(),
        }))
    }

    /// Finishes the handshake with the authenticator's verdict on [`Action::Authenticate`]'s
    /// credentials: CONNECTED (in `replies`) and [`Action::Connected`], or the error to close with.
    pub fn authenticated(
        &mut self,
        verdict: Result<Principal, AuthError>,
        replies: &mut Vec<Frame>,
    ) -> Result<Action, SessionError> {
        let Some(handshake) = self.handshake.take() else {
            let error = ProtocolError::NotConnected(Command::Connected.as_str());
            return Err(SessionError { error, receipt: None });
        };
        let fail = |error: ProtocolError| SessionError { error, receipt: handshake.receipt.clone() };
        let principal = verdict.map_err(|e| fail(e.into()))?;
        let router = &self.broker.shared.router;
        router.authorize_connect(&principal).map_err(fail)?;
        let config = router.config();
        let version = handshake.version;
        let mut connected = Frame::new(Command::Connected)
            .with_header(header::VERSION, version.as_str())
            .with_header(header::SESSION, self.info.session.clone())
            .with_header(header::SERVER, config.server_name.clone());
        let negotiated = if version == Version::V1_0 {
            // PECL's reader breaks on a bare EOL: a 1.0 session never gets heart-beats.
            Negotiated::default()
        } else {
            let (answer, negotiated) = config.heartbeat.answer(handshake.client_heartbeat);
            connected = connected.with_header(header::HEART_BEAT, answer.to_header());
            negotiated
        };
        replies.push(connected);
        let principal = Arc::new(principal);
        let _ = self.info.login.set(LoggedIn { principal: principal.clone(), version });
        self.version = Some(version);
        self.principal = Some(principal);
        self.access_version = config.authorizer.version();
        Ok(Action::Connected { version, heartbeat: negotiated })
    }
}
