//! The console's router, called with `oneshot` (no socket): every answer of the JSON API is
//! compared with its data function's (so the JSON and the structs cannot drift, as NATS's
//! `pollConnz` checks), and every endpoint is refused without credentials, to a user the rules
//! do not let monitor or act, and to another site's page.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, SET_COOKIE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};
use stompbox_core::auth::{Connector, Rules, Users};
use stompbox_core::broker::{Action, Broker, BrokerConfig, ConnectionMeta, ManualClock, OutboxReceiver, Session};
use stompbox_core::{Command, Frame};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::{app, view, Console};
use crate::config::{Config, ListenerConfig};
use crate::listener::http::{Peer, Site};
use crate::listener::ListenerKind;
use crate::virtual_host::HostBroker;

const HOST: &str = "127.0.0.1:61680";
const LOOPBACK: [u8; 4] = [127, 0, 0, 1];

/// Users and rules: admin acts, viewer monitors, nobody may only connect.
const AUTH: &str = r#"
[auth]
users_file = "users.properties"

[[access_rule]]
allow = "admins"
action = "*"

[[access_rule]]
allow = "monitors"
action = "connect monitor"

[[access_rule]]
allow = "+"
action = "connect create send receive consume"
"#;

/// A console for a broker configured by `toml`, with `[auth]`'s users in place.
struct Harness {
    app: Router,
    broker: Broker,
}

impl Harness {
    fn new(toml: &str) -> Harness {
        let mut config = Config::from_toml_str(toml).expect("valid configuration");
        config.console.max_list_items = 2;
        let mut engine = BrokerConfig { clock: Arc::new(ManualClock::starting_at(5_000)), ..config.broker_config() };
        if config.auth.is_some() {
            let users = "admin=adminpw\nviewer=viewerpw\nnobody=nobodypw\n";
            engine.authenticator =
                Arc::new(Users::parse(users, Some("admins=admin\nmonitors=viewer\n"), false).unwrap());
        }
        engine.authorizer = Arc::new(Rules::compile(&config.access_rule).unwrap());
        let broker = Broker::new(engine);
        let spec = crate::virtual_host::config::hosts(&config).remove(0);
        let hosts = Arc::new(crate::start_hosts(vec![HostBroker { spec, broker: broker.clone() }], &config));
        let permits = Arc::new(Semaphore::new(10));
        let console = Console::new(&config, hosts, permits, CancellationToken::new(), TaskTracker::new());
        Harness { app: app(console), broker }
    }

    /// Guest mode: no `[auth]`, no rules.
    fn guest() -> Harness {
        Harness::new("")
    }

    async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.app.clone().oneshot(request).await.expect("the router never fails");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        Answer { status, headers, text }
    }

    /// A GET from loopback, without credentials.
    async fn get(&self, uri: &str) -> Answer {
        self.send(request(Method::GET, uri).body(Body::empty()).unwrap()).await
    }

    /// An in-process STOMP session, connected as `login` (or anonymously).
    fn connect(&self, login: Option<(&str, &str)>) -> (Session, OutboxReceiver) {
        let meta = ConnectionMeta { peer: None, connector: Connector::of_kind("tcp") };
        let (mut session, outbox) = self.broker.open_session(meta);
        let mut connect = Frame::new(Command::Connect).with_header("accept-version", "1.2");
        if let Some((user, password)) = login {
            connect = connect.with_header("login", user).with_header("passcode", password);
        }
        let mut replies = Vec::new();
        let Ok(Action::Authenticate(login)) = session.handle(connect, &mut replies) else { panic!("CONNECT") };
        let verdict = login.verify(&*self.broker.authenticator());
        assert!(matches!(session.authenticated(verdict, &mut replies), Ok(Action::Connected { .. })));
        (session, outbox)
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    fn error(&self) -> String {
        self.json()["error"].as_str().expect("an error message").to_owned()
    }
}

/// A request as the `http` listener hands it over: from loopback, to `HOST`.
fn request(method: Method, uri: &str) -> axum::http::request::Builder {
    request_from(LOOPBACK, method, uri)
}

fn request_from(ip: [u8; 4], method: Method, uri: &str) -> axum::http::request::Builder {
    let site = Arc::new(Site::new(&ListenerConfig::new(ListenerKind::Http, HOST.parse().unwrap())));
    let peer = Peer { address: SocketAddr::from((ip, 40_000)), site };
    Request::builder().method(method).uri(uri).header("host", HOST).extension(peer)
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

fn send_frame(session: &mut Session, destination: &str, body: &'static str) {
    let frame = Frame::new(Command::Send).with_header("destination", destination).with_body(body);
    assert!(matches!(session.handle(frame, &mut Vec::new()), Ok(Action::Continue)));
}

fn subscribe(session: &mut Session, id: &str, destination: &str) {
    let frame = Frame::new(Command::Subscribe).with_header("id", id).with_header("destination", destination);
    assert!(matches!(session.handle(frame, &mut Vec::new()), Ok(Action::Continue)));
}

/// Every endpoint of the API, with what it needs: `true` to act, `false` to read.
const ENDPOINTS: [(Method, &str, bool); 9] = [
    (Method::GET, "/api/broker", false),
    (Method::GET, "/api/connections", false),
    (Method::GET, "/api/connections/1", false),
    (Method::GET, "/api/destinations", false),
    (Method::GET, "/metrics", false),
    (Method::DELETE, "/api/connections/1", true),
    (Method::POST, "/api/queues/jobs/purge", true),
    (Method::DELETE, "/api/queues/jobs", true),
    (Method::GET, "/api/whoami", false),
];

#[tokio::test]
async fn json_answers_are_what_the_data_functions_return() {
    let harness = Harness::guest();
    let broker = &harness.broker;
    let (mut worker, _worker_out) = harness.connect(None);
    subscribe(&mut worker, "s", "/topic/chat.general.demo");
    let (mut producer, _producer_out) = harness.connect(None);
    send_frame(&mut producer, "/topic/chat.general.demo", "hi");
    send_frame(&mut producer, "/queue/jobs", "job");
    let (closing, _closing_out) = harness.connect(None);
    closing.finish(&stompbox_core::broker::CloseReason::PeerClosed);
    let value = |data| serde_json::to_value(data).unwrap();
    let answer = harness.get("/api/broker").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json(), value(json!(view::overview(broker, "default".into(), vec!["default".into()]))));
    assert_eq!((answer.json()["connections"].clone(), answer.json()["messages_in"].clone()), (json!(2), json!(2)));
    assert_eq!(answer.json()["store"], json!(null), "persistence is off");
    for options in ["", "?sort=-id", "?offset=1", "?limit=1&sort=subscriptions", "?state=closed"] {
        let answer = harness.get(&format!("/api/connections{options}")).await;
        let parsed = query_options(options);
        assert_eq!(answer.json(), value(json!(view::connections(broker, &parsed, 2).unwrap())), "{options}");
    }
    for options in ["", "?kind=queue", "?sort=-enqueued", "?limit=1&offset=1"] {
        let answer = harness.get(&format!("/api/destinations{options}")).await;
        let parsed = query_options(options);
        assert_eq!(answer.json(), value(json!(view::destinations(broker, &parsed, 2).unwrap())), "{options}");
    }
    let id = broker.connections()[0].id;
    let answer = harness.get(&format!("/api/connections/{id}")).await;
    assert_eq!(answer.json(), value(json!(broker.connection(id).unwrap())));
    assert_eq!(answer.json()["subscriptions"][0]["destination"], "/topic/chat.general.demo");
    let answer = harness.get("/api/connections/999").await;
    assert_eq!((answer.status, answer.error()), (StatusCode::NOT_FOUND, "no open connection 999".to_owned()));
}

/// The query string as the handler's `Query` extractor reads it.
fn query_options(options: &str) -> view::ListOptions {
    let uri: axum::http::Uri = format!("/x{options}").parse().unwrap();
    axum::extract::Query::try_from_uri(&uri).unwrap().0
}

#[tokio::test]
async fn lists_are_paged_sorted_and_checked() {
    let harness = Harness::guest();
    let sessions: Vec<_> = (0..3).map(|_| harness.connect(None)).collect();
    let page = harness.get("/api/connections?limit=10").await.json();
    assert_eq!((page["total"].clone(), page["limit"].clone()), (json!(3), json!(2)), "limit capped by max_list_items");
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let ids: Vec<u64> = harness.get("/api/connections?sort=-id").await.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    assert!(ids[0] > ids[1], "descending: {ids:?}");
    let refused = harness.get("/api/connections?sort=colour").await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.error().starts_with("cannot sort by \"colour\": sort by id, since, user"), "{}", refused.text);
    for bad in ["/api/connections?state=dead", "/api/connections?kind=topic", "/api/destinations?kind=stream"] {
        assert_eq!(harness.get(bad).await.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let unknown = harness.get("/api/connections?colour=red").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.error().contains("colour"), "{}", unknown.text);
    drop(sessions);
}

#[tokio::test]
async fn guest_mode_serves_loopback_only() {
    let harness = Harness::guest();
    let whoami = harness.get("/api/whoami").await;
    assert_eq!(whoami.json(), json!({ "user": null, "monitor": true, "admin": true }));
    for (method, uri, _) in ENDPOINTS {
        let remote = harness.send(request_from([10, 0, 0, 7], method.clone(), uri).body(Body::empty()).unwrap()).await;
        assert_eq!(remote.status, StatusCode::FORBIDDEN, "{method} {uri}");
        assert!(remote.error().contains("loopback clients only"), "{}", remote.text);
    }
}

#[tokio::test]
async fn every_endpoint_needs_credentials_and_the_right_to_monitor_or_act() {
    let harness = Harness::new(AUTH);
    for (method, uri, acts) in ENDPOINTS {
        let call = |credentials: Option<(&str, &str)>| {
            let mut builder = request(method.clone(), uri);
            if let Some((user, password)) = credentials {
                builder = builder.header(AUTHORIZATION, basic(user, password));
            }
            harness.send(builder.body(Body::empty()).unwrap())
        };
        let anonymous = call(None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        assert_eq!(anonymous.headers[WWW_AUTHENTICATE], "Basic realm=\"stompbox\"");
        let wrong = call(Some(("admin", "nope"))).await;
        assert_eq!(wrong.error(), "authentication failed: unknown login or wrong passcode", "{method} {uri}");
        if uri == "/api/whoami" {
            assert_eq!(call(Some(("nobody", "nobodypw"))).await.json()["monitor"], false);
            continue;
        }
        let nobody = call(Some(("nobody", "nobodypw"))).await;
        assert_eq!(nobody.status, StatusCode::FORBIDDEN, "{method} {uri}");
        let operation = if acts { "admin" } else { "monitor" };
        assert_eq!(nobody.error(), format!("access denied: nobody may not {operation} the broker"));
        let viewer = call(Some(("viewer", "viewerpw"))).await;
        assert_eq!(viewer.status == StatusCode::FORBIDDEN, acts, "{method} {uri}: {}", viewer.text);
        let admin = call(Some(("admin", "adminpw"))).await;
        assert_ne!(admin.status, StatusCode::FORBIDDEN, "{method} {uri}");
        assert_ne!(admin.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
    }
    let from_page = request(Method::GET, "/api/broker").header("x-requested-with", "stompbox-console");
    let from_page = harness.send(from_page.body(Body::empty()).unwrap()).await;
    assert_eq!(from_page.status, StatusCode::UNAUTHORIZED);
    assert!(!from_page.headers.contains_key(WWW_AUTHENTICATE), "the page asks with its own form");
}

#[tokio::test]
async fn every_endpoint_refuses_another_sites_page() {
    let harness = Harness::new(AUTH);
    let admin = basic("admin", "adminpw");
    for (method, uri, _) in ENDPOINTS.iter().cloned().chain([(Method::POST, "/api/login", true)]) {
        for (header, value) in [
            ("origin", "https://evil.example"),
            ("referer", "https://evil.example/x"),
            ("sec-fetch-site", "cross-site"),
        ] {
            let builder = request(method.clone(), uri).header(AUTHORIZATION, &admin).header(header, value);
            let answer = harness.send(builder.body(Body::empty()).unwrap()).await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method} {uri} with {header}");
            assert!(answer.error().starts_with("cross-site request refused"), "{}", answer.text);
        }
    }
    let same_site =
        request(Method::GET, "/api/broker").header(AUTHORIZATION, &admin).header("origin", "http://127.0.0.1:61680");
    assert_eq!(harness.send(same_site.body(Body::empty()).unwrap()).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_login_sets_a_strict_cookie_that_works_until_logout() {
    let harness = Harness::new(AUTH);
    let login = |user: &str, password: &str| {
        let body = json!({ "user": user, "password": password }).to_string();
        let builder = request(Method::POST, "/api/login").header(CONTENT_TYPE, "application/json");
        harness.send(builder.body(Body::from(body)).unwrap())
    };
    let refused = login("viewer", "wrong").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let answer = login("viewer", "viewerpw").await;
    assert_eq!(answer.json(), json!({ "user": "viewer", "monitor": true, "admin": false }));
    let cookie = answer.headers[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.ends_with("; Path=/; HttpOnly; SameSite=Strict"), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_owned();
    let with_cookie = |method: Method, uri: &str| {
        harness.send(request(method, uri).header(COOKIE, &session).body(Body::empty()).unwrap())
    };
    assert_eq!(with_cookie(Method::GET, "/api/broker").await.status, StatusCode::OK);
    assert_eq!(with_cookie(Method::DELETE, "/api/connections/1").await.status, StatusCode::FORBIDDEN);
    let logout = with_cookie(Method::POST, "/api/logout").await;
    assert!(logout.headers[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(with_cookie(Method::GET, "/api/broker").await.status, StatusCode::UNAUTHORIZED);
    let malformed = request(Method::POST, "/api/login").header(CONTENT_TYPE, "application/json");
    assert_eq!(harness.send(malformed.body(Body::from("{")).unwrap()).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn admins_close_connections_and_purge_and_delete_queues() {
    let harness = Harness::new(AUTH);
    let admin = basic("admin", "adminpw");
    let act = |method: Method, uri: &str| {
        harness.send(request(method, uri).header(AUTHORIZATION, &admin).body(Body::empty()).unwrap())
    };
    let (mut producer, producer_out) = harness.connect(Some(("nobody", "nobodypw")));
    send_frame(&mut producer, "/queue/jobs", "1");
    send_frame(&mut producer, "/queue/jobs", "2");
    let purged = act(Method::POST, "/api/queues/jobs/purge").await;
    assert_eq!(purged.json(), json!({ "queue": "/queue/jobs", "purged": 2 }));
    let in_use = act(Method::DELETE, "/api/queues/jobs").await;
    assert_eq!(in_use.status, StatusCode::CONFLICT);
    assert!(in_use.error().contains("in use (0 consumers, 1 producers)"), "{}", in_use.text);
    let id = harness.broker.connections()[0].id;
    let closed = act(Method::DELETE, &format!("/api/connections/{id}")).await;
    assert_eq!(closed.json(), json!({ "closed": id }));
    let reason = stompbox_core::broker::CloseReason::from(producer_out.closed().expect("closed by the operator"));
    assert_eq!(reason.to_string(), "closed by an operator");
    drop(producer);
    assert_eq!(
        act(Method::DELETE, "/api/queues/jobs").await.json(),
        json!({ "queue": "/queue/jobs", "deleted": true, "messages": 0 })
    );
    assert_eq!(act(Method::DELETE, "/api/queues/jobs").await.status, StatusCode::NOT_FOUND);
    assert_eq!(act(Method::POST, "/api/queues/a.*/purge").await.status, StatusCode::BAD_REQUEST, "no wildcards");
    assert_eq!(act(Method::DELETE, &format!("/api/connections/{id}")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_capped_destination_labels() {
    let harness = Harness::new("[console]\nmetrics_max_destinations = 2\n");
    let (mut producer, _out) = harness.connect(None);
    for (destination, times) in [("/queue/a", 1), ("/queue/b", 3), ("/topic/c", 2)] {
        for _ in 0..times {
            send_frame(&mut producer, destination, "x");
        }
    }
    let answer = harness.get("/metrics").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers[CONTENT_TYPE], "text/plain; version=0.0.4; charset=utf-8");
    let text = answer.text;
    for line in [
        "stompbox_connections 1\n",
        "stompbox_messages_in_total 6\n",
        "stompbox_connections_closed_total{reason=\"slow-consumer\"} 0\n",
        "stompbox_destinations{kind=\"queue\"} 2\n",
        "stompbox_destination_enqueued_total{destination=\"/queue/b\",kind=\"queue\"} 3\n",
        "stompbox_destination_depth_messages{destination=\"/topic/c\",kind=\"topic\"} 0\n",
        "stompbox_build_info{version=\"0.1.0\"} 1\n",
    ] {
        assert!(text.contains(line), "no {line:?} in\n{text}");
    }
    assert!(!text.contains("/queue/a"), "the quietest destination is past the cap:\n{text}");
}

#[tokio::test]
async fn pages_are_embedded_and_stomp_needs_an_upgrade() {
    let harness = Harness::guest();
    for (path, kind) in
        [("/console/", "text/html"), ("/chat/", "text/html"), ("/chat/stomp.umd.min.js", "text/javascript")]
    {
        let answer = harness.get(path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert!(answer.headers[CONTENT_TYPE].to_str().unwrap().starts_with(kind), "{path}");
        assert!(answer.headers[CONTENT_SECURITY_POLICY].to_str().unwrap().contains("frame-ancestors 'none'"));
    }
    assert_eq!(harness.get("/").await.headers["location"], "/console/");
    assert_eq!(harness.get("/nothing").await.status, StatusCode::NOT_FOUND);
    assert_eq!(harness.get("/stomp").await.status, StatusCode::BAD_REQUEST);
    let foreign = request(Method::GET, "/stomp").header("origin", "https://evil.example");
    assert_eq!(harness.send(foreign.body(Body::empty()).unwrap()).await.status, StatusCode::FORBIDDEN);
}
