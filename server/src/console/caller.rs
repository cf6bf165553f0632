//! Who is asking, and whether they may. An API request is checked in this order, each step
//! refusing with its own status:
//!
//! 1. it comes from another site's page (`origin`): 403;
//! 2. guest mode (no `[auth]`) and the client is not on loopback: 403;
//! 3. its credentials: HTTP basic, else the session cookie, else none (an anonymous login, which
//!    guest mode and `[auth] anonymous = true` accept); refused: 401. Basic credentials are
//!    checked like a CONNECT's (off the runtime, slowed per address after failures);
//! 4. the access rules, asked about the broker: `monitor` or `admin` to read ([`Monitor`]),
//!    `admin` to act ([`Admin`]): 403 (401 for an anonymous caller, who may log in).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use stompbox_core::auth::{AuthError, Login, Operation, Principal, Resource};

use super::error::ApiError;
use super::origin::cross_site;
use super::sessions;
use super::Console;
use crate::connection::Context;
use crate::listener::http::Peer;

/// An authenticated caller (steps 1 to 3).
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) principal: Arc<Principal>,
}

impl Caller {
    /// The user's name, for logs (`anonymous` without one).
    pub(crate) fn name(&self) -> &str {
        self.principal.user.as_deref().unwrap_or("anonymous")
    }
}

/// A caller who may read: `monitor` or `admin`.
#[derive(Debug)]
pub(crate) struct Monitor;

/// A caller who may act: `admin`.
#[derive(Debug)]
pub(crate) struct Admin(pub(crate) Caller);

/// Steps 1 and 2: the request may be served at all. Returns where it came in.
pub(crate) fn admitted<'p>(parts: &'p Parts, console: &Console) -> Result<&'p Peer, ApiError> {
    let peer = parts
        .extensions
        .get::<Peer>()
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "request without its listener"))?;
    if let Some(why) = cross_site(&parts.headers, &peer.site) {
        return Err(ApiError::forbidden(why));
    }
    if console.shared.guest_mode && !peer.address.ip().is_loopback() {
        return Err(ApiError::forbidden(
            "without [auth] the console serves loopback clients only: configure users to open it to others",
        ));
    }
    Ok(peer)
}

impl Console {
    /// Checks a login's credentials like a CONNECT's: off the runtime, slowed per address
    /// after failures.
    pub(crate) async fn verify(&self, peer: &Peer, user: String, password: String) -> Result<Principal, AuthError> {
        let login = Login { login: Some(user), passcode: Some(password), connector: peer.site.connector.clone() };
        let context = self.first();
        context.logins.verify(Some(peer.address), login, context.broker.authenticator()).await
    }

    /// A login without credentials, accepted in guest mode and with `[auth] anonymous = true`.
    /// Not counted as a failed login when refused: it is what every first visit to the page is.
    async fn anonymous(&self, peer: &Peer) -> Result<Principal, AuthError> {
        let login = Login { login: None, passcode: None, connector: peer.site.connector.clone() };
        let authenticator = self.first().broker.authenticator();
        if !authenticator.may_block() {
            return login.verify(&*authenticator);
        }
        tokio::task::spawn_blocking(move || login.verify(&*authenticator)).await.unwrap_or(Err(AuthError))
    }

    /// Whether the access rules let `principal` perform `operation` on the broker.
    pub(crate) fn may(&self, principal: &Principal, operation: Operation) -> bool {
        self.first().broker.config().authorizer.allows(principal, operation, Resource::Broker)
    }

    /// The first host's context: its users, access rules and login checks are the console's.
    fn first(&self) -> &Context {
        &self.shared.hosts.first().context
    }

    /// Step 3.
    async fn authenticate(&self, headers: &HeaderMap, peer: &Peer) -> Result<Arc<Principal>, ApiError> {
        let refused = |error: AuthError| ApiError::unauthorized(error.to_string(), headers);
        if let Some(value) = headers.get(AUTHORIZATION) {
            let (user, password) = basic_credentials(value.as_bytes())
                .ok_or_else(|| ApiError::unauthorized("only HTTP basic authorization is accepted", headers))?;
            return self.verify(peer, user, password).await.map(Arc::new).map_err(refused);
        }
        if let Some(principal) = sessions::token(headers).and_then(|token| self.shared.sessions.get(token)) {
            return Ok(principal);
        }
        self.anonymous(peer)
            .await
            .map(Arc::new)
            .map_err(|_| ApiError::unauthorized("log in: this broker has no anonymous access", headers))
    }
}

impl FromRequestParts<Console> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, console: &Console) -> Result<Caller, ApiError> {
        let peer = admitted(parts, console)?;
        let principal = console.authenticate(&parts.headers, peer).await?;
        Ok(Caller { principal })
    }
}

impl FromRequestParts<Console> for Monitor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, console: &Console) -> Result<Monitor, ApiError> {
        let caller = Caller::from_request_parts(parts, console).await?;
        let principal = &caller.principal;
        if console.may(principal, Operation::Monitor) || console.may(principal, Operation::Admin) {
            return Ok(Monitor);
        }
        Err(denied(principal, Operation::Monitor, &parts.headers))
    }
}

impl FromRequestParts<Console> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, console: &Console) -> Result<Admin, ApiError> {
        let caller = Caller::from_request_parts(parts, console).await?;
        if console.may(&caller.principal, Operation::Admin) {
            return Ok(Admin(caller));
        }
        Err(denied(&caller.principal, Operation::Admin, &parts.headers))
    }
}

/// The refusal of a caller the rules refuse: 403, or for an anonymous caller 401 (a login may
/// be allowed what anonymous is not).
fn denied(principal: &Principal, operation: Operation, headers: &HeaderMap) -> ApiError {
    match principal.user.as_deref() {
        Some(user) => ApiError::forbidden(format!("access denied: {user} may not {operation} the broker")),
        None => ApiError::unauthorized(format!("log in: anonymous may not {operation} the broker"), headers),
    }
}

/// The user and password of an `Authorization: Basic ...` header.
fn basic_credentials(value: &[u8]) -> Option<(String, String)> {
    let encoded = value.strip_prefix(b"Basic ").or_else(|| value.strip_prefix(b"basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim_ascii()).ok()?;
    let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_decoded_and_anything_else_is_not() {
        assert_eq!(basic_credentials(b"Basic YWRtaW46czNjcjp0"), Some(("admin".into(), "s3cr:t".into())));
        assert_eq!(basic_credentials(b"Bearer abc"), None);
        assert_eq!(basic_credentials(b"Basic !!!"), None);
        assert_eq!(basic_credentials(b"Basic bm9jb2xvbg=="), None, "no colon");
    }
}
