//! Issue 7 acceptance: the load harness catches a routing regression. The `101-flood`
//! scenario (load-scripts/101-flood.toml: 101 at ~4× capacity while 999 continues),
//! compressed to ×60, runs twice against an in-process engine on loopback UDP: with the
//! real policy (emergency calls offered first, NENA-STA-020 class order) every target
//! holds; with the deliberately broken test-only policy that serves 101 before 999
//! (`QueueConfig::test_broken_serve_non_emergency_first`, `#[serde(skip)]`, so no TOML
//! file can turn it on) the emergency answer-time target fails.

use std::net::SocketAddr;

use answerpoint::call::CallClass;
use answerpoint::config::{Config, SipTransport};
use answerpoint::load::{self, LoadReport, LoadScenario, Peers};
use answerpoint::runtime::Server;

fn compressed_flood() -> LoadScenario {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/load-scripts/101-flood.toml");
    let mut sc = LoadScenario::from_toml(&std::fs::read_to_string(path).unwrap()).unwrap();
    // 10 scenario minutes in 10 real seconds; calls still waiting 5 s after are cut off.
    sc.time_scale = 60.0;
    sc.phases[0].duration_s = 600.0;
    sc.drain_s = 300.0;
    sc.check().unwrap();
    sc
}

async fn run(broken: bool) -> LoadReport {
    let sc = compressed_flood();
    let peers = Peers::bind().await.unwrap();
    let mut config = Config::from_toml_str(&sc.engine_config_toml(peers.handler_addr())).unwrap();
    config.queue.test_broken_serve_non_emergency_first = broken;
    let server = Server::bind(config).await.unwrap();
    let engine: SocketAddr = server
        .local_addrs()
        .iter()
        .find(|l| l.transport == SipTransport::Udp)
        .unwrap()
        .addr;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let report = load::run_against(&sc, peers, engine, None).await;
    let _ = stop.send(());
    task.await.unwrap();
    report
}

fn class(r: &LoadReport, c: CallClass) -> &load::report::ClassResult {
    r.classes.iter().find(|x| x.class == c).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_of_101_passes_with_the_real_policy_and_fails_when_101_is_served_first() {
    let good = run(false).await;
    eprintln!("real policy:\n{}", good.summary());
    let e = class(&good, CallClass::Emergency);
    let n = class(&good, CallClass::NonEmergency);
    assert!(good.pass, "real policy must pass:\n{}", good.summary());
    // ~50 emergency and ~1,200 non-emergency calls were placed (Poisson, seed 4: 49 and 1,159).
    assert!(e.sent >= 40 && n.sent >= 1_000, "{}", good.summary());
    // The flood really was a flood: 101 callers were turned away or gave up...
    assert!(n.rejected + n.abandoned > n.sent / 2, "{}", good.summary());
    assert!(n.rejected_by_code.contains_key(&503), "{}", good.summary());
    // ...while every 999 call was answered, none rejected or lost.
    assert_eq!(e.rejected, 0);
    assert_eq!(e.lost + n.lost, 0);
    assert!(e.kpi.answered_within_10s_pct.unwrap() >= 90.0);

    let bad = run(true).await;
    eprintln!("broken policy (101 first):\n{}", bad.summary());
    let e = class(&bad, CallClass::Emergency);
    assert!(!bad.pass, "broken policy must fail:\n{}", bad.summary());
    let failed: Vec<&str> = bad
        .verdicts
        .iter()
        .filter(|v| !v.pass)
        .map(|v| v.target.as_str())
        .collect();
    assert!(
        failed
            .iter()
            .any(|t| t.starts_with("emergency answered within 10 s")),
        "{failed:?}\n{}",
        bad.summary()
    );
    // 999 callers waited behind the 101 queue: most gave up or were cut off unanswered.
    assert!(
        e.answered < e.sent / 2,
        "emergency answered {} of {}\n{}",
        e.answered,
        e.sent,
        bad.summary()
    );
}
