//! Every scenario runs tiny against an in-process broker, through the real binary, and prints
//! one sane JSON object: nothing lost or duplicated, latency fields present. No timing is
//! asserted: the numbers only mean something on a quiet machine.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use stompbox_server::Config;

/// Starts one broker for the whole test binary on its own runtime thread; returns its address.
fn broker() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(async move {
                let config = Config { listen: vec!["127.0.0.1:0".parse().unwrap()], ..Config::default() };
                let bound = stompbox_server::bind(&config).await.unwrap();
                tx.send(bound.local_addrs()[0]).unwrap();
                stompbox_server::serve(config, bound, std::future::pending()).await.unwrap();
            });
        });
        rx.recv().unwrap()
    })
}

/// Runs `stompbox-bench ARGS --url ... --json` and parses its stdout.
fn bench(args: &[&str]) -> Value {
    let url = format!("tcp://{}", broker());
    let pid = std::process::id().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_stompbox-bench"))
        .args(args)
        .args(["--url", &url, "--pid", &pid, "--json", "--drain", "10s"])
        .output()
        .expect("run stompbox-bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{args:?} failed: {}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    for key in ["p50", "p99", "p999", "max"] {
        assert!(report["latency_us"][key].is_number(), "latency_us.{key} missing: {report}");
    }
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(report["lost"], 0, "{report}");
    assert_eq!(report["duplicated"], 0, "{report}");
    assert!(report["msgs_per_s"].as_f64().is_some_and(|r| r > 0.0), "{report}");
    report
}

fn count(report: &Value, key: &str) -> u64 {
    report[key].as_u64().unwrap_or_else(|| panic!("{key} missing: {report}"))
}

#[test]
fn fanout_delivers_every_message_to_every_subscriber() {
    let report = bench(&["fanout", "--count", "200", "--subscribers", "3"]);
    assert_eq!(report["scenario"], "fanout");
    assert_eq!(count(&report, "sent"), 200);
    assert_eq!(count(&report, "delivered"), 600);
    assert_eq!(report["stomp_version"], "1.2");
}

#[test]
fn queue_with_client_individual_acks_loses_and_duplicates_nothing() {
    let report = bench(&["queue", "--count", "200"]);
    assert_eq!(report["scenario"], "queue");
    assert_eq!(count(&report, "sent"), 200);
    assert_eq!(count(&report, "delivered"), 200);
}

#[test]
fn queue_with_auto_ack_loses_and_duplicates_nothing() {
    let report = bench(&["queue", "--count", "200", "--ack", "auto", "--producers", "1", "--consumers", "3"]);
    assert_eq!(count(&report, "sent"), count(&report, "delivered"));
}

#[test]
fn durable_consumers_share_one_durable_subscription() {
    let report = bench(&["durable", "--count", "200", "--consumers", "2"]);
    assert_eq!(report["scenario"], "durable");
    assert_eq!(count(&report, "sent"), 200);
    assert_eq!(count(&report, "delivered"), 200, "each message to one of the subscription's consumers");
}

#[test]
fn latency_runs_at_the_given_rate() {
    let report = bench(&["latency", "--count", "200", "--rate", "2000"]);
    assert_eq!(report["scenario"], "latency");
    assert_eq!(count(&report, "sent"), 200);
    assert_eq!(count(&report, "delivered"), 200);
    assert_eq!(count(&report["latency_us"], "count"), 200);
}

#[test]
fn persistent_gets_a_receipt_for_every_send_and_says_stompbox_does_not_persist() {
    let report = bench(&["persistent", "--count", "200"]);
    assert_eq!(count(&report, "sent"), 200);
    assert_eq!(count(&report, "delivered"), 200);
    assert_eq!(count(&report, "receipts"), 200);
    assert!(report["note"].as_str().is_some_and(|n| n.contains("receipt per SEND")), "{report}");
}

#[test]
fn room_delivers_every_message_to_every_subscriber_while_others_come_and_go() {
    let report = bench(&["room", "--count", "200", "--rate", "2000", "--subscribers", "50", "--churn", "100"]);
    assert_eq!(report["scenario"], "room");
    assert_eq!(count(&report, "sent"), 200);
    assert_eq!(count(&report, "delivered"), 200 * 50);
    assert_eq!(count(&report["latency_us"], "count"), 200 * 50);
    assert!(report["broker_cpu_seconds_per_million"].is_number(), "{report}");
    assert!(report["rss_per_subscriber_kib"].is_number(), "{report}");
    assert!(report["churned"].is_u64(), "{report}");
}

#[test]
fn connections_open_and_report_broker_memory() {
    let report = bench(&["connections", "--count", "200", "--hold", "0s"]);
    assert_eq!(report["scenario"], "connections");
    assert_eq!(count(&report, "sent"), 200);
    assert_eq!(count(&report, "delivered"), 200);
    assert!(report["broker_rss_after_kib"].as_u64().is_some_and(|kib| kib > 0), "{report}");
    assert!(report["rss_per_connection_kib"].is_number(), "{report}");
}

#[test]
fn relay_ceiling_needs_no_broker() {
    let report = bench(&["relay-ceiling", "--count", "200"]);
    assert_eq!(count(&report, "sent"), 200);
    assert_eq!(count(&report, "delivered"), 800);
}
