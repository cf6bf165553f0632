//! The engine with Apollo's users, groups and access rules: the seed's example, the deny filter
//! of wildcard subscriptions, `add_user_header`, and rules replaced while sessions are open.

use std::sync::Arc;

use super::cluster::FakeBridge;
use super::{clustered, frame, handle_connect, open, Client};
use crate::auth::{AccessRule, Authenticator, Authorizer, Connector, Principal, Reloadable, Rules, Users};
use crate::broker::{Action, Broker, BrokerConfig, Closed, DurableSubscription, ProtocolError};
use crate::frame::Command;

/// The seed's groups: `admins=mtchang`, `monitors=admin`, `users=demo`, `appusers=app1`.
const GROUPS: &str = "admins=mtchang\nmonitors=admin\nusers=demo\nappusers=app1\n";
const USERS: &str = "mtchang=m\nadmin=a\ndemo=d\napp1=a\nnobody=n\n";

fn allow(who: &str, action: &str) -> AccessRule {
    AccessRule { allow: Some(who.into()), action: Some(action.into()), ..AccessRule::default() }
}

fn deny(who: &str, action: &str) -> AccessRule {
    AccessRule { deny: Some(who.into()), action: Some(action.into()), ..AccessRule::default() }
}

/// The seed's rules: `* → admins`, `connect monitor → monitors`,
/// `connect create send receive consume → appusers`, `connect create receive consume → users`.
fn seed_rules() -> Vec<AccessRule> {
    vec![
        allow("admins", "*"),
        allow("monitors", "connect monitor"),
        allow("appusers", "connect create send receive consume"),
        allow("users", "connect create receive consume"),
    ]
}

/// A broker with the seed's users and groups, these rules behind a [`Reloadable`], and
/// `add_user_header = "sender"`.
fn broker(rules: &[AccessRule]) -> (Broker, Arc<Reloadable<dyn Authorizer>>) {
    let users: Arc<dyn Authenticator> = Arc::new(Users::parse(USERS, Some(GROUPS), true).unwrap());
    let authorizer: Arc<Reloadable<dyn Authorizer>> =
        Arc::new(Reloadable::new(Arc::new(Rules::compile(rules).unwrap())));
    let config = BrokerConfig {
        authenticator: users,
        authorizer: authorizer.clone(),
        add_user_header: Some("sender".into()),
        ..BrokerConfig::default()
    };
    (Broker::new(config), authorizer)
}

/// A 1.2 session logged in as `user` (whose password is its initial).
fn login(broker: &Broker, user: &str) -> Client {
    let (mut session, outbox) = open(broker);
    let mut replies = Vec::new();
    let passcode = &user[..1];
    let connect = frame(Command::Connect, &[("accept-version", "1.2"), ("login", user), ("passcode", passcode)]);
    let action = handle_connect(broker, &mut session, connect, &mut replies).unwrap();
    assert!(matches!(action, Action::Connected { .. }), "{user} connects");
    Client { session, outbox, replies }
}

fn refused(client: &mut Client, command: Command, headers: &[(&str, &str)]) -> ProtocolError {
    client.handle(frame(command, headers)).expect_err("refused").error
}

#[test]
fn the_seeds_example_app1_publishes_and_demo_only_subscribes() {
    let (broker, _) = broker(&seed_rules());
    let mut demo = login(&broker, "demo");
    demo.ok(Command::Subscribe, &[("id", "0"), ("destination", "/topic/chat.general.demo")]);
    let mut app1 = login(&broker, "app1");
    app1.send("/topic/chat.general.demo", "hello");
    assert_eq!(demo.bodies(), ["hello"]);
    let error = refused(&mut demo, Command::Send, &[("destination", "/topic/chat.general.demo")]);
    assert_eq!(error.to_string(), "access denied: demo may not send /topic/chat.general.demo");
    let mut admin = login(&broker, "mtchang");
    admin.send("/queue/anything", "admins may do everything");
    // `monitors` may connect, and nothing else.
    let mut monitor = login(&broker, "admin");
    assert!(matches!(
        refused(&mut monitor, Command::Send, &[("destination", "/topic/x")]),
        ProtocolError::AccessDenied { .. }
    ));
}

#[test]
fn a_user_in_no_group_and_anonymous_logins_may_not_connect() {
    let (broker, _) = broker(&seed_rules());
    for (user, passcode) in [("nobody", "n"), ("", "")] {
        let (mut session, _outbox) = open(&broker);
        let mut replies = Vec::new();
        let connect = frame(Command::Connect, &[("login", user), ("passcode", passcode)]);
        let error = handle_connect(&broker, &mut session, connect, &mut replies).unwrap_err();
        assert_eq!(error.to_frame().header("code"), Some("access-denied"));
        assert!(replies.is_empty(), "no CONNECTED");
    }
}

#[test]
fn a_wildcard_subscription_does_not_receive_what_is_denied() {
    let mut rules = vec![AccessRule { id: Some("chat.secret".into()), ..deny("users", "receive") }];
    rules.extend(seed_rules());
    let (broker, _) = broker(&rules);
    let mut demo = login(&broker, "demo");
    demo.ok(Command::Subscribe, &[("id", "all"), ("destination", "/topic/chat.*")]);
    let mut app1 = login(&broker, "app1");
    for topic in ["/topic/chat.general", "/topic/chat.secret", "/topic/chat.random", "/topic/chat.secret"] {
        app1.send(topic, topic);
    }
    assert_eq!(demo.bodies(), ["/topic/chat.general", "/topic/chat.random"]);
    let error = refused(&mut demo, Command::Subscribe, &[("id", "s"), ("destination", "/topic/chat.secret")]);
    assert!(matches!(error, ProtocolError::AccessDenied { .. }), "{error}");
}

#[test]
fn another_nodes_wildcard_durable_subscription_collects_what_its_owner_may_receive() {
    let mut rules = vec![AccessRule { id: Some("chat.secret".into()), ..deny("users", "receive") }];
    rules.extend(seed_rules());
    let (broker, _) = broker(&rules);
    let (broker, bridge) = clustered::<FakeBridge>(broker);
    let demo = Principal { groups: vec!["users".into()], ..Principal::user("demo", Connector::of_kind("tcp")) };
    let archive = DurableSubscription { pattern: "/topic/chat.*".into(), selector: None };
    broker.durable_from_cluster("archive", Some(archive), Some(demo)).unwrap();
    let mut app1 = login(&broker, "app1");
    for topic in ["/topic/chat.general", "/topic/chat.secret"] {
        app1.send(topic, topic);
    }
    let collected: Vec<String> = bridge.enqueued.lock().drain(..).map(|(sent, _)| sent).collect();
    assert_eq!(collected, ["/dsub/archive /topic/chat.general"], "demo may not receive chat.secret");
}

#[test]
fn the_user_header_is_the_senders_and_cannot_be_forged() {
    let (broker, _) = broker(&seed_rules());
    let mut demo = login(&broker, "demo");
    demo.ok(Command::Subscribe, &[("id", "0"), ("destination", "/topic/chat")]);
    let mut app1 = login(&broker, "app1");
    let forged = frame(Command::Send, &[("destination", "/topic/chat"), ("sender", "mtchang"), ("sender", "x")]);
    assert!(matches!(app1.handle(forged).unwrap(), Action::Continue));
    let messages = demo.messages();
    let senders: Vec<&str> =
        messages[0].headers.iter().filter(|(n, _)| n == "sender").map(|(_, v)| v.as_str()).collect();
    assert_eq!(senders, ["app1"]);
}

#[test]
fn replaced_rules_apply_to_open_sessions_at_their_next_frame() {
    let (broker, authorizer) = broker(&seed_rules());
    let mut app1 = login(&broker, "app1");
    app1.ok(Command::Subscribe, &[("id", "jobs"), ("destination", "/queue/jobs"), ("ack", "client")]);
    app1.send("/topic/chat", "before");
    let mut rules = vec![AccessRule { kind: Some("queue".into()), ..deny("appusers", "consume") }];
    rules.extend(seed_rules());
    authorizer.replace(Arc::new(Rules::compile(&rules).unwrap()));
    let error = refused(&mut app1, Command::Ack, &[("id", "1")]);
    assert_eq!(error.to_string(), "access denied: app1 may not consume /queue/jobs (subscription jobs)");
    let mut demo = login(&broker, "demo");
    authorizer.replace(Arc::new(Rules::compile(&[allow("admins", "*")]).unwrap()));
    let error = refused(&mut demo, Command::Begin, &[("transaction", "t")]);
    assert_eq!(error.to_string(), "access denied: demo may not connect the broker");
}

#[test]
fn revoking_closes_idle_sessions_the_new_rules_refuse() {
    let (broker, authorizer) = broker(&seed_rules());
    let mut demo = login(&broker, "demo");
    demo.ok(Command::Subscribe, &[("id", "room"), ("destination", "/topic/chat.general")]);
    let app1 = login(&broker, "app1");
    let mut rules = vec![AccessRule { id: Some("chat.**".into()), ..deny("users", "receive") }];
    rules.extend(seed_rules());
    authorizer.replace(Arc::new(Rules::compile(&rules).unwrap()));
    assert_eq!(broker.revoke_refused(), 1, "demo's subscription is refused; app1 is fine");
    let Some(Closed::AccessRevoked(error)) = demo.outbox.closed() else { panic!("demo's outbox is closed") };
    assert_eq!(error.to_string(), "access denied: demo may not receive /topic/chat.general (subscription room)");
    assert_eq!(app1.outbox.closed(), None);
}
