//! Users, groups and access rules from real files, spoken to over real sockets: the seed's
//! example, every action the broker asks allowed and refused, rule order, connectors, hashed
//! and plain passwords, the wildcard deny filter, `add_user_header`, rules replaced while
//! connections are open, and the per-address connection limit.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use stompbox_core::auth::hash_password;
use stompbox_server::config::ListenerConfig;
use stompbox_server::{Auth, Config};
use stompbox_tests::{all_values, body, start_with_engine, test_config, Client, TestBroker};

/// The seed's groups and rules, from the example that runs them (`examples/auth/`).
const GROUPS: &str = include_str!("../../examples/auth/groups.properties");
const SEED_CONFIG: &str = include_str!("../../examples/auth/stompbox.toml");

/// The seed's rules: the `[[access_rule]]` tables that end the example.
fn seed_rules() -> String {
    let (_, rules) = SEED_CONFIG.split_once("\n[[access_rule]]").expect("the example has rules");
    format!("[[access_rule]]{rules}")
}

/// Users and groups files in a directory of their own, and the `[auth]` table naming them.
struct Files {
    dir: PathBuf,
}

impl Files {
    /// Writes the files: `app1`'s password is stored hashed, the others' in plain text.
    fn new() -> Files {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("stompbox-access-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let users = format!(
            "# plain and hashed\nmtchang=m-pw\nadmin=a-pw\ndemo=d-pw\nnobody=n-pw\napp1={}\n",
            hash_password("a-pw").unwrap()
        );
        std::fs::write(dir.join("users.properties"), users).unwrap();
        std::fs::write(dir.join("groups.properties"), GROUPS).unwrap();
        Files { dir }
    }

    /// A configuration with `[auth]` naming the files (and `extra` auth keys), then `rules`.
    fn config(&self, extra: &str, rules: &str) -> Config {
        let users = self.dir.join("users.properties");
        let groups = self.dir.join("groups.properties");
        let text = format!("[auth]\nusers_file = {users:?}\ngroups_file = {groups:?}\n{extra}\n{rules}");
        Config::from_toml_str(&text).expect("test configuration parses")
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A broker on 127.0.0.1:0 with `files`' users and `rules`, `tweak`ed; and its [`Auth`], to
/// replace the rules while it runs.
async fn start(files: &Files, extra: &str, rules: &str, tweak: impl Fn(&mut Config)) -> (TestBroker, Auth) {
    let configured = files.config(extra, rules);
    let apply = |config: &mut Config| {
        config.auth = configured.auth.clone();
        config.access_rule = configured.access_rule.clone();
        tweak(config);
    };
    let mut config = test_config();
    apply(&mut config);
    let auth = Auth::load(&config).expect("users, groups and rules load");
    let installed = auth.clone();
    let broker = start_with_engine(apply, move |engine| installed.install(engine)).await;
    (broker, auth)
}

/// A 1.2 session logged in as `user` (password `<initial>-pw`).
async fn login(broker: &TestBroker, user: &str) -> Client {
    let passcode = format!("{}-pw", &user[..1]);
    broker.connect_with(&format!("CONNECT\naccept-version:1.2\nlogin:{user}\npasscode:{passcode}\n\n\0")).await
}

/// A CONNECT that must be refused with `code` and a message containing `needle`.
async fn refused_login(broker: &TestBroker, credentials: &str, code: &str, needle: &str) {
    let mut client = broker.client().await;
    client.send(format!("CONNECT\naccept-version:1.2\n{credentials}\n\0")).await;
    let error = client.expect_error_and_close(needle).await;
    assert_eq!(error.header("code"), Some(code));
}

#[tokio::test]
async fn the_seeds_example_app1_publishes_and_demo_only_subscribes() {
    let files = Files::new();
    let (broker, _) = start(&files, "", &seed_rules(), |_| {}).await;
    let mut demo = login(&broker, "demo").await;
    demo.subscribe("/topic/chat.general.demo", "0", "").await;
    let mut app1 = login(&broker, "app1").await;
    app1.publish_sync("/topic/chat.general.demo", "hello from app1").await;
    assert_eq!(body(&demo.message().await), "hello from app1");
    demo.send("SEND\ndestination:/topic/chat.general.demo\nreceipt:r\n\nfrom demo\0").await;
    let error = demo.expect_error_and_close("demo may not send /topic/chat.general.demo").await;
    assert_eq!(error.header("code"), Some("access-denied"));
    assert_eq!(error.header("receipt-id"), Some("r"));
}

#[tokio::test]
async fn each_action_the_broker_asks_is_allowed_and_refused() {
    let files = Files::new();
    let (broker, _) = start(&files, "", &seed_rules(), |_| {}).await;
    // connect: demo may, a user in no group may not.
    login(&broker, "demo").await;
    refused_login(&broker, "login:nobody\npasscode:n-pw\n", "access-denied", "nobody may not connect").await;
    // send: app1 may, the monitor may not.
    let mut app1 = login(&broker, "app1").await;
    app1.publish_sync("/queue/jobs", "job").await;
    let mut monitor = login(&broker, "admin").await;
    monitor.send("SEND\ndestination:/queue/jobs\n\n\0").await;
    monitor.expect_error_and_close("admin may not send /queue/jobs").await;
    // receive (topics) and consume (queues): demo may, the monitor may not.
    let mut demo = login(&broker, "demo").await;
    demo.subscribe("/topic/news", "t", "").await;
    demo.subscribe("/queue/jobs", "q", "").await;
    assert_eq!(body(&demo.message().await), "job");
    let mut monitor = login(&broker, "admin").await;
    monitor.send("SUBSCRIBE\nid:t\ndestination:/topic/news\n\n\0").await;
    monitor.expect_error_and_close("admin may not receive /topic/news").await;
    let mut monitor = login(&broker, "admin").await;
    monitor.send("SUBSCRIBE\nid:q\ndestination:/queue/jobs\n\n\0").await;
    monitor.expect_error_and_close("admin may not consume /queue/jobs").await;
}

#[tokio::test]
async fn create_is_asked_only_for_a_destination_that_does_not_exist() {
    let files = Files::new();
    let rules = r#"
[[access_rule]]
allow = "demo"
action = "connect send"

[[access_rule]]
allow = "app1"
action = "*"
"#;
    let (broker, _) = start(&files, "", rules, |_| {}).await;
    let mut demo = login(&broker, "demo").await;
    demo.send("SEND\ndestination:/queue/new\n\n\0").await;
    demo.expect_error_and_close("demo may not create /queue/new").await;
    assert_eq!(broker.broker.queue_depth("/queue/new"), 0);
    let mut app1 = login(&broker, "app1").await;
    app1.publish_sync("/queue/new", "made by app1").await;
    let mut demo = login(&broker, "demo").await;
    demo.publish_sync("/queue/new", "now it exists").await;
    assert_eq!(broker.broker.queue_depth("/queue/new"), 2);
}

#[tokio::test]
async fn the_first_matching_rule_decides_in_both_orders() {
    let files = Files::new();
    // demo is in `users` and in `blue`: in Apollo's example, blue and red.
    std::fs::write(files.dir.join("groups.properties"), "blue=demo\nred=demo\n").unwrap();
    let rule = |effect: &str, group: &str| format!("[[access_rule]]\n{effect} = \"{group}\"\naction = \"send\"\n");
    let connect = "[[access_rule]]\nallow = \"+\"\naction = \"connect create\"\n";
    let deny_first = format!("{connect}{}{}", rule("deny", "blue"), rule("allow", "red"));
    let (broker, _) = start(&files, "", &deny_first, |_| {}).await;
    let mut demo = login(&broker, "demo").await;
    demo.send("SEND\ndestination:/topic/t\n\n\0").await;
    demo.expect_error_and_close("demo may not send /topic/t").await;
    let allow_first = format!("{connect}{}{}", rule("allow", "red"), rule("deny", "blue"));
    let (broker, _) = start(&files, "", &allow_first, |_| {}).await;
    login(&broker, "demo").await.publish_sync("/topic/t", "allowed").await;
}

#[tokio::test]
async fn a_rule_can_name_the_listener_a_session_came_in_on() {
    let files = Files::new();
    let on_internal = |config: &mut Config| {
        config.listen.clear();
        config.listener.push(ListenerConfig {
            name: Some("internal".into()),
            ..ListenerConfig::tcp("127.0.0.1:0".parse().unwrap())
        });
    };
    let rules = |connector: &str| format!("[[access_rule]]\nallow = \"+\"\nconnector = \"{connector}\"\n");
    let (broker, _) = start(&files, "", &rules("internal"), on_internal).await;
    login(&broker, "demo").await.publish_sync("/topic/t", "in").await;
    let (broker, _) = start(&files, "", &rules("tcp"), on_internal).await;
    login(&broker, "demo").await.publish_sync("/topic/t", "by kind").await;
    let (broker, _) = start(&files, "", &rules("public"), on_internal).await;
    refused_login(&broker, "login:demo\npasscode:d-pw\n", "access-denied", "demo may not connect").await;
}

#[tokio::test]
async fn hashed_and_plain_passwords_log_in_and_a_refusal_never_says_which_half_was_wrong() {
    let files = Files::new();
    let (broker, _) = start(&files, "", "", |_| {}).await;
    login(&broker, "app1").await;
    login(&broker, "demo").await;
    let failed = "authentication failed: unknown login or wrong passcode";
    for credentials in ["login:app1\npasscode:wrong\n", "login:demo\npasscode:wrong\n", "login:ghost\npasscode:x\n"] {
        refused_login(&broker, credentials, "authentication-failed", failed).await;
    }
    refused_login(&broker, "", "authentication-failed", failed).await;
    refused_login(&broker, "login:guest\npasscode:guest\n", "authentication-failed", failed).await;
}

#[tokio::test]
async fn anonymous_logins_are_accepted_only_when_configured() {
    let files = Files::new();
    let rules = "[[access_rule]]\nallow = \"anonymous\"\naction = \"connect receive create\"\n";
    let (broker, _) = start(&files, "anonymous = true", rules, |_| {}).await;
    let mut anonymous = broker.connect12().await;
    anonymous.subscribe("/topic/public", "0", "").await;
    refused_login(&broker, "login:demo\npasscode:d-pw\n", "access-denied", "demo may not connect").await;
}

#[tokio::test]
async fn a_wildcard_subscription_does_not_receive_what_is_denied() {
    let files = Files::new();
    let rules =
        format!("[[access_rule]]\ndeny = \"users\"\naction = \"receive\"\nid = \"chat.secret\"\n{}", seed_rules());
    let (broker, _) = start(&files, "", &rules, |_| {}).await;
    let mut demo = login(&broker, "demo").await;
    demo.subscribe("/topic/chat.*", "0", "").await;
    let mut app1 = login(&broker, "app1").await;
    for topic in ["chat.secret", "chat.general", "chat.secret", "chat.random"] {
        app1.publish_sync(&format!("/topic/{topic}"), topic).await;
    }
    // One outbox delivers in publish order: a secret would have come before chat.random.
    assert_eq!(body(&demo.message().await), "chat.general");
    assert_eq!(body(&demo.message().await), "chat.random");
}

#[tokio::test]
async fn the_user_header_names_the_sender_and_cannot_be_forged() {
    let files = Files::new();
    let (broker, _) = start(&files, "add_user_header = \"sender\"", &seed_rules(), |_| {}).await;
    let mut demo = login(&broker, "demo").await;
    demo.subscribe("/topic/chat.general", "0", "").await;
    let mut app1 = login(&broker, "app1").await;
    app1.send("SEND\ndestination:/topic/chat.general\nsender:mtchang\nreceipt:r\n\nforged?\0").await;
    app1.expect_receipt("r").await;
    let message = demo.message().await;
    assert_eq!(all_values(&message, "sender"), ["app1"]);
}

#[tokio::test]
async fn replaced_rules_end_the_connections_and_subscriptions_they_refuse() {
    let files = Files::new();
    let (broker, auth) = start(&files, "", &seed_rules(), |_| {}).await;
    let mut demo = login(&broker, "demo").await;
    demo.subscribe("/topic/chat.general", "room", "").await;
    let mut app1 = login(&broker, "app1").await;
    let mut monitor = login(&broker, "admin").await;
    let stricter = format!(
        "[[access_rule]]\ndeny = \"users\"\naction = \"receive\"\nid = \"chat.**\"\n\
         [[access_rule]]\ndeny = \"monitors\"\naction = \"connect\"\n{}",
        seed_rules()
    );
    auth.replace(&files.config("", &stricter)).unwrap();
    assert_eq!(broker.broker.revoke_refused(), 2);
    let error = demo.expect_error_and_close("demo may not receive /topic/chat.general (subscription room)").await;
    assert_eq!(error.header("code"), Some("access-denied"));
    monitor.expect_error_and_close("admin may not connect").await;
    app1.publish_sync("/topic/chat.general", "still here").await;
}

#[tokio::test]
async fn a_bad_reload_keeps_the_rules_in_force() {
    let files = Files::new();
    let (broker, auth) = start(&files, "", &seed_rules(), |_| {}).await;
    std::fs::write(files.dir.join("users.properties"), "demo=$argon2id$broken\n").unwrap();
    assert!(auth.replace(&files.config("", &seed_rules())).is_err());
    login(&broker, "app1").await.publish_sync("/topic/t", "unchanged").await;
}

#[tokio::test]
async fn connections_over_the_per_address_limit_are_told_and_closed() {
    let files = Files::new();
    let (broker, _) = start(&files, "", "", |config| config.limits.max_connections_per_address = 2).await;
    let first = login(&broker, "demo").await;
    let _second = login(&broker, "demo").await;
    let mut third = broker.client().await;
    let error = third.expect_error_and_close("too many connections from this address").await;
    assert_eq!(error.header("code"), Some("limit-exceeded"));
    first.disconnect().await;
    login(&broker, "demo").await;
}

#[tokio::test]
async fn frames_after_a_refused_connect_are_not_handled() {
    let files = Files::new();
    let (broker, _) = start(&files, "", &seed_rules(), |_| {}).await;
    let mut client = broker.client().await;
    client
        .send(
            "CONNECT\naccept-version:1.2\nlogin:nobody\npasscode:n-pw\n\n\0\
             SEND\ndestination:/queue/sneaky\n\n\0BEGIN\ntransaction:t\n\n\0",
        )
        .await;
    client.expect_error_and_close("nobody may not connect").await;
    assert_eq!(broker.broker.queue_depth("/queue/sneaky"), 0);
    assert!(broker.broker.snapshot().destinations.is_empty(), "nothing was created");
}
