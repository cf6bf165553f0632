//! Whether a request comes from another site's page: such a request is refused, whatever it
//! asks, so a page elsewhere can neither act with a logged-in operator's cookie (CSRF) nor read
//! the API through a victim's browser, nor open `/stomp` (cross-site WebSocket hijacking).
//!
//! Browsers say where a request comes from: `Origin` (on every cross-origin fetch, every
//! POST/DELETE and every WebSocket), else `Referer`, else `Sec-Fetch-Site`. A request naming an
//! origin must name the listener's own (its scheme and the `Host` it was sent to) or one of the
//! listener's `allowed_origins`. A request that names none (curl, scripts, an address typed in)
//! is not a page's and goes on to the credential checks.

use axum::http::header::{HOST, ORIGIN, REFERER};
use axum::http::{HeaderMap, Uri};

use crate::listener::http::Site;

/// Why the request is refused as cross-site, if it is.
pub(crate) fn cross_site(headers: &HeaderMap, site: &Site) -> Option<String> {
    let text = |name: &str| headers.get(name).map(|value| value.to_str().unwrap_or_default());
    let named = match (text(ORIGIN.as_str()), text(REFERER.as_str())) {
        (Some(origin), _) => origin.to_owned(),
        (None, Some(referer)) => origin_of(referer).unwrap_or_default(),
        (None, None) => {
            let fetch_site = text("sec-fetch-site").unwrap_or_default();
            return matches!(fetch_site, "cross-site" | "same-site")
                .then(|| format!("cross-site request refused (Sec-Fetch-Site: {fetch_site})"));
        }
    };
    let own = text(HOST.as_str()).map(|host| format!("{}://{host}", site.scheme()));
    let trusted = own.iter().chain(&site.allowed_origins).any(|origin| origin.eq_ignore_ascii_case(&named));
    (!trusted).then(|| format!("cross-site request refused (from {named:?}, not this listener's origin)"))
}

/// `scheme://authority` of a URL.
fn origin_of(url: &str) -> Option<String> {
    let uri: Uri = url.parse().ok()?;
    Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::http::HeaderValue;
    use stompbox_core::auth::Connector;

    use super::*;

    fn site(tls: bool, allowed: &[&str]) -> Site {
        Site {
            connector: Connector::of_kind("http"),
            stomp_connector: Connector::of_kind("ws"),
            tls,
            allowed_origins: allowed.iter().map(|o| o.to_string()).collect(),
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn the_listeners_own_origin_and_allowed_ones_pass() {
        let plain = site(false, &["https://proxy.example"]);
        let host = ("host", "127.0.0.1:61680");
        assert_eq!(cross_site(&headers(&[host, ("origin", "http://127.0.0.1:61680")]), &plain), None);
        assert_eq!(cross_site(&headers(&[host, ("origin", "https://proxy.example")]), &plain), None);
        assert_eq!(cross_site(&headers(&[host, ("referer", "http://127.0.0.1:61680/console/")]), &plain), None);
        assert_eq!(cross_site(&headers(&[host]), &plain), None, "curl names no origin");
        assert_eq!(cross_site(&headers(&[host, ("sec-fetch-site", "same-origin")]), &plain), None);
    }

    #[test]
    fn other_origins_are_refused() {
        let secure = Arc::new(site(true, &[]));
        let host = ("host", "localhost:61681");
        for refused in [
            headers(&[host, ("origin", "https://evil.example")]),
            headers(&[host, ("origin", "http://localhost:61681")]),
            headers(&[host, ("origin", "null")]),
            headers(&[host, ("referer", "https://evil.example/page")]),
            headers(&[host, ("referer", "not a url")]),
            headers(&[host, ("sec-fetch-site", "cross-site")]),
            headers(&[host, ("sec-fetch-site", "same-site")]),
            headers(&[("origin", "https://localhost:61681")]),
        ] {
            assert!(cross_site(&refused, &secure).is_some(), "{refused:?}");
        }
        assert_eq!(cross_site(&headers(&[host, ("origin", "https://LOCALHOST:61681")]), &secure), None);
    }
}
