//! The console's and the chat's pages, embedded in the binary at compile time (no build step,
//! nothing fetched from elsewhere: they work without internet access). The console is
//! `server/assets/console/`; the chat is the example `examples/chat/`, with @stomp/stompjs
//! vendored beside it.
//!
//! Pages are sent with a content security policy that lets them load only their own files and
//! forbids framing (so the console's buttons cannot be clickjacked); the chat may open
//! WebSockets to any broker, the console talks to its own origin only.

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One embedded file and the path it is served at.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

const ASSETS: [Asset; 9] = [
    Asset { path: "/console/", content_type: HTML, body: include_bytes!("../../assets/console/index.html") },
    Asset { path: "/console/console.js", content_type: JS, body: include_bytes!("../../assets/console/console.js") },
    Asset { path: "/console/console.css", content_type: CSS, body: include_bytes!("../../assets/console/console.css") },
    Asset { path: "/chat/", content_type: HTML, body: include_bytes!("../../../examples/chat/index.html") },
    Asset { path: "/chat/chat.js", content_type: JS, body: include_bytes!("../../../examples/chat/chat.js") },
    Asset { path: "/chat/chat.css", content_type: CSS, body: include_bytes!("../../../examples/chat/chat.css") },
    Asset {
        path: "/chat/stomp.umd.min.js",
        content_type: JS,
        body: include_bytes!("../../../examples/chat/vendor/stomp.umd.min.js"),
    },
    Asset {
        path: "/chat/stompjs-LICENSE.txt",
        content_type: TEXT,
        body: include_bytes!("../../../examples/chat/vendor/LICENSE"),
    },
    Asset { path: "/favicon.ico", content_type: "image/svg+xml", body: include_bytes!("../../assets/favicon.svg") },
];

/// What a page may load and talk to.
fn policy(path: &str) -> &'static str {
    if path.starts_with("/chat/") {
        "default-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    } else {
        "default-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    }
}

/// Serves the embedded file at the request's path (the router's fallback).
pub(crate) async fn serve(method: Method, uri: Uri) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.path == uri.path()) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n").into_response();
    }
    let headers = [
        (CONTENT_TYPE, asset.content_type),
        (CACHE_CONTROL, "no-cache"),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (CONTENT_SECURITY_POLICY, policy(asset.path)),
    ];
    (headers, asset.body).into_response()
}
