//! Console logins: a login through the page gets a random token, kept here with its principal
//! and sent back as the `stompbox_session` cookie (HttpOnly, SameSite=Strict, and Secure on
//! `https`). A session ends at logout, after `console.session_idle_ms` unused, or when
//! `console.max_sessions` are open and it is the least recently used. The access rules are asked
//! on every request, so a rule change applies to open sessions at once.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use axum::http::header::COOKIE;
use axum::http::HeaderMap;
use parking_lot::Mutex;
use stompbox_core::auth::Principal;
use tokio::time::Instant;

/// The cookie's name.
pub(crate) const COOKIE_NAME: &str = "stompbox_session";

/// The open console logins. See the module docs.
#[derive(Debug)]
pub(crate) struct Sessions {
    idle: Duration,
    max: usize,
    open: Mutex<HashMap<String, Session>>,
}

#[derive(Debug)]
struct Session {
    principal: Arc<Principal>,
    last_used: Instant,
}

impl Sessions {
    /// Sessions that end after `idle` unused, at most `max` at once.
    pub(crate) fn new(idle: Duration, max: usize) -> Sessions {
        Sessions { idle, max, open: Mutex::default() }
    }

    /// Opens a session for `principal`; returns its token, or why the operating system could
    /// not give the random bytes of one.
    pub(crate) fn open(&self, principal: Arc<Principal>) -> Result<String, getrandom::Error> {
        let token = new_token()?;
        let now = Instant::now();
        let mut open = self.open.lock();
        open.retain(|_, session| now.saturating_duration_since(session.last_used) < self.idle);
        if open.len() >= self.max {
            let oldest = open.iter().min_by_key(|(_, session)| session.last_used).map(|(token, _)| token.clone());
            oldest.map(|oldest| open.remove(&oldest));
        }
        open.insert(token.clone(), Session { principal, last_used: now });
        Ok(token)
    }

    /// The principal of a session still open, which counts as a use.
    pub(crate) fn get(&self, token: &str) -> Option<Arc<Principal>> {
        let now = Instant::now();
        let mut open = self.open.lock();
        let session = open.get_mut(token)?;
        if now.saturating_duration_since(session.last_used) >= self.idle {
            open.remove(token);
            return None;
        }
        session.last_used = now;
        Some(session.principal.clone())
    }

    /// Ends a session.
    pub(crate) fn close(&self, token: &str) {
        self.open.lock().remove(token);
    }
}

/// The session token a request's cookies carry.
pub(crate) fn token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|cookie| cookie.trim().split_once('='))
        .find_map(|(name, value)| (name == COOKIE_NAME).then_some(value))
}

/// The `Set-Cookie` value that stores `token` (or, with `None`, removes the cookie).
pub(crate) fn set_cookie(token: Option<&str>, secure: bool) -> String {
    let mut cookie = format!("{COOKIE_NAME}={}; Path=/; HttpOnly; SameSite=Strict", token.unwrap_or(""));
    if token.is_none() {
        cookie.push_str("; Max-Age=0");
    }
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

/// 32 random bytes from the operating system, in hex.
fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().fold(String::with_capacity(64), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    }))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use stompbox_core::auth::Connector;

    use super::*;

    fn user(name: &str) -> Arc<Principal> {
        Arc::new(Principal::user(name, Connector::of_kind("http")))
    }

    #[tokio::test(start_paused = true)]
    async fn a_session_ends_when_unused_for_the_idle_time() {
        let sessions = Sessions::new(Duration::from_secs(60), 10);
        let token = sessions.open(user("admin")).unwrap();
        assert_eq!(token.len(), 64);
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(sessions.get(&token).unwrap().user.as_deref(), Some("admin"), "a use starts the time again");
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(sessions.get(&token).is_some());
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(sessions.get(&token).is_none());
        assert!(sessions.get("forged").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_cap_the_least_recently_used_session_ends() {
        let sessions = Sessions::new(Duration::from_secs(60), 2);
        let first = sessions.open(user("a")).unwrap();
        tokio::time::advance(Duration::from_secs(1)).await;
        let second = sessions.open(user("b")).unwrap();
        tokio::time::advance(Duration::from_secs(1)).await;
        sessions.get(&first);
        let third = sessions.open(user("c")).unwrap();
        assert!(sessions.get(&second).is_none(), "b was the least recently used");
        assert!(sessions.get(&first).is_some() && sessions.get(&third).is_some());
        sessions.close(&first);
        assert!(sessions.get(&first).is_none());
    }

    #[test]
    fn the_cookie_is_read_among_others_and_written_strict() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("theme=dark; stompbox_session=abc123; x=y"));
        assert_eq!(token(&headers), Some("abc123"));
        assert_eq!(set_cookie(Some("abc"), false), "stompbox_session=abc; Path=/; HttpOnly; SameSite=Strict");
        assert_eq!(set_cookie(None, true), "stompbox_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure");
    }
}
