//! The bench over every transport: a tiny fan-out through the real binary against an
//! in-process broker's tls, ws and wss listeners, trusting the test CA (`--ca`) or anything
//! (`--insecure`). Nothing may be lost or duplicated; no timing is asserted.

use std::process::Command;

use serde_json::Value;
use stompbox_server::listener::ListenerKind;
use stompbox_tests::pki::TestPki;
use stompbox_tests::start_with;

/// Runs a tiny fan-out against `url` with `trust` options; returns its report.
fn fanout(url: &str, trust: &[String]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_stompbox-bench"))
        .args(["fanout", "--count", "200", "--subscribers", "2", "--json", "--url", url])
        .args(trust)
        .output()
        .expect("run stompbox-bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{url} failed: {}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    for key in ["errors", "lost", "duplicated"] {
        assert_eq!(report[key], 0, "{url}: {report}");
    }
    assert_eq!(report["delivered"], 400, "{url}: {report}");
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_runs_over_tls_ws_and_wss() {
    let pki = TestPki::new();
    let kinds = [ListenerKind::Tls, ListenerKind::Ws, ListenerKind::Wss];
    let listeners = kinds.iter().map(|&kind| pki.listener(kind)).collect();
    let broker = start_with(move |c| {
        c.listen.clear();
        c.listener = listeners;
    })
    .await;
    let ca = pki.ca.display().to_string();
    let [tls, ws, wss] = [broker.addrs[0], broker.addrs[1], broker.addrs[2]].map(|addr| addr.port());
    let runs = [
        (format!("ssl://localhost:{tls}"), vec!["--ca".to_owned(), ca.clone()]),
        (format!("tls://localhost:{tls}"), vec!["--insecure".to_owned()]),
        (format!("ws://127.0.0.1:{ws}/stomp"), vec![]),
        (format!("wss://localhost:{wss}"), vec!["--ca".to_owned(), ca]),
    ];
    for (url, trust) in runs {
        tokio::task::spawn_blocking(move || fanout(&url, &trust)).await.expect("the bench ran");
    }
}
