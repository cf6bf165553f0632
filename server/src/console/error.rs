//! How the console refuses: an HTTP status and a JSON body `{"error": "..."}` that says why.
//! A 401 invites HTTP basic credentials (`WWW-Authenticate`), except to the console's own page,
//! which asks with its own form rather than the browser's.

use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// The header the console's page sends with every API call (no basic challenge for it).
pub(crate) const FROM_CONSOLE: &str = "x-requested-with";

/// A refused API request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    /// Whether to answer with a `WWW-Authenticate: Basic` challenge.
    challenge: bool,
}

impl ApiError {
    /// A refusal with this status.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into(), challenge: false }
    }

    /// 400.
    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 403.
    pub(crate) fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, message)
    }

    /// 404.
    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// 401: a login is needed or was refused. `headers` are the request's: a challenge is sent
    /// unless the console's page asked.
    pub(crate) fn unauthorized(message: impl Into<String>, headers: &HeaderMap) -> ApiError {
        ApiError { challenge: !headers.contains_key(FROM_CONSOLE), ..ApiError::new(StatusCode::UNAUTHORIZED, message) }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "error": self.message }))).into_response();
        if self.challenge {
            response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"stompbox\""));
        }
        response
    }
}
