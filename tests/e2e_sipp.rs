//! Real-peer integration tests: SIPp as the carrier (`load-scripts/sipp/carrier-*.xml`)
//! and as a handler seat (`handler-uas.xml`), the engine in-process on real sockets
//! (`runtime::Server` on port 0). Each test uses its own ports and scratch directory.
//! Requires SIPp (`apt-get install sip-tester`); fails with that hint when it is missing.

mod e2e_support;

use std::time::Duration;

use answerpoint::call::CallClass;
use answerpoint::engine::{CallState, Command, EndReason};
use answerpoint::queue::RequestedState;
use e2e_support::{free_port, header, scratch_dir, sipp_messages, Engine, Sipp};

/// Bound on every SIPp run here (calls take a few hundred ms each).
const CALL_WITHIN: Duration = Duration::from_secs(45);

/// An engine config with one seat at `seat_contact`; wrap-up 0 so a seat takes the next
/// call at once.
fn config_with_seat(seat_contact: &str) -> String {
    format!(
        r#"
[sip]
listen = ["udp:127.0.0.1:0"]
carriers = ["127.0.0.0/8"]

[queue]
ring_timeout_ms = 20000

[queue.wrap_up_s]
emergency = 0
non-emergency = 0
admin = 0

[[seats]]
id = "seat-1"
contact = "{seat_contact}"
skills = ["emergency", "non-emergency"]
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_999_with_pidf_lo_is_answered_by_a_sipp_seat_and_completes() {
    let dir = scratch_dir("sipp-999");
    let seat_port = free_port();
    let engine = Engine::start(&config_with_seat(&format!(
        "sip:seat-1@127.0.0.1:{seat_port}"
    )))
    .await;

    let mut seat = Sipp {
        name: "seat",
        scenario: "handler-uas.xml",
        port: seat_port,
        transport: "u1",
        calls: 1,
        rate: 0,
        pause_ms: 200,
        remote: None,
    }
    .spawn(&dir);
    let mut carrier = Sipp {
        name: "carrier",
        scenario: "carrier-999-pidf.xml",
        port: free_port(),
        transport: "u1",
        calls: 1,
        rate: 0,
        pause_ms: 300,
        remote: Some(engine.udp),
    }
    .spawn(&dir);

    carrier.wait_success(CALL_WITHIN).await;
    seat.wait_success(CALL_WITHIN).await;

    let snap = engine
        .wait_for("the call to end", Duration::from_secs(5), |s| {
            s.calls.len() == 1 && s.calls[0].state == CallState::Ended
        })
        .await;
    let call = &snap.calls[0];
    assert_eq!(call.class, Some(CallClass::Emergency));
    assert_eq!(call.handler.as_deref(), Some("seat-1"));
    assert_eq!(call.end_reason, Some(EndReason::CallerHangup));
    assert_eq!(call.callback_number.as_deref(), Some("+447700901"));
    let loc = call.location.as_ref().expect("PIDF-LO location parsed");
    let json = serde_json::to_value(loc).expect("location serializes");
    let text = json.to_string();
    assert!(text.contains("51.501364"), "location {text}");
    assert!(text.contains("-0.14189"), "location {text}");
    let (arrived, answered) = (call.arrived_ms, call.answered_ms.expect("answered"));
    assert!(answered >= arrived);

    // What the seat saw: one INVITE carrying the class, our call id and the PIDF-LO.
    let seen = sipp_messages(&dir.join("seat_messages.log"), true);
    let invites: Vec<&String> = seen.iter().filter(|m| m.starts_with("INVITE ")).collect();
    assert_eq!(invites.len(), 1, "seat received {seen:#?}");
    let invite = invites[0];
    assert_eq!(header(invite, "Priority"), Some("emergency"));
    assert_eq!(
        header(invite, "X-Answerpoint-Call-Id"),
        Some(call.id.to_string().as_str())
    );
    assert!(invite.contains("application/pidf+xml"), "{invite}");
    assert!(invite.contains("<gml:pos>51.501364 -0.141890</gml:pos>"));
    assert!(
        seen.iter().any(|m| m.starts_with("BYE ")),
        "seat got the BYE"
    );

    let stats = engine.stop().await;
    assert_eq!(stats.udp_dropped_queue_full, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_101_over_tcp_reuses_connections_both_ways() {
    let dir = scratch_dir("sipp-tcp");
    let seat_port = free_port();
    let engine = Engine::start(&config_with_seat(&format!(
        "sip:seat-1@127.0.0.1:{seat_port};transport=tcp"
    )))
    .await;

    let mut seat = Sipp {
        name: "seat",
        scenario: "handler-uas.xml",
        port: seat_port,
        transport: "t1",
        calls: 1,
        rate: 0,
        pause_ms: 100,
        remote: None,
    }
    .spawn(&dir);
    // SIPp's TCP UAS must be listening before the engine connects to it.
    e2e_support::wait_for_tcp_listener(seat_port, Duration::from_secs(10)).await;
    let mut carrier = Sipp {
        name: "carrier",
        scenario: "carrier-101.xml",
        port: free_port(),
        transport: "t1",
        calls: 1,
        rate: 0,
        pause_ms: 200,
        remote: Some(engine.tcp),
    }
    .spawn(&dir);

    carrier.wait_success(CALL_WITHIN).await;
    seat.wait_success(CALL_WITHIN).await;

    let snap = engine
        .wait_for("the call to end", Duration::from_secs(5), |s| {
            s.calls.len() == 1 && s.calls[0].state == CallState::Ended
        })
        .await;
    assert_eq!(snap.calls[0].class, Some(CallClass::NonEmergency));
    assert_eq!(snap.calls[0].handler.as_deref(), Some("seat-1"));

    // Every request and response of the call travelled over TCP, both legs.
    for side in ["carrier", "seat"] {
        let log =
            std::fs::read_to_string(dir.join(format!("{side}_messages.log"))).expect("message log");
        assert!(log.contains("TCP message received"), "{side}: {log}");
        assert!(!log.contains("UDP message"), "{side} used UDP: {log}");
    }
    let stats = engine.stop().await;
    assert_eq!(stats.tcp_connect_failures, 0);
    assert_eq!(stats.tcp_bad_streams, 0);
    assert_eq!(stats.tcp_write_dropped, 0);
}

/// A 101 arrives first, then a 999, while the only seat is logged out; when the seat logs
/// in, the 999 is offered (and answered) first. Deterministic: both calls are queued
/// (checked in the snapshot) before the seat becomes available.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_999_waiting_with_an_earlier_101_is_answered_first() {
    let dir = scratch_dir("sipp-999-first");
    let seat_port = free_port();
    let engine = Engine::start(&config_with_seat(&format!(
        "sip:seat-1@127.0.0.1:{seat_port}"
    )))
    .await;
    engine
        .handle
        .command(Command::SetHandlerState {
            handler: "seat-1".into(),
            state: RequestedState::LoggedOut,
        })
        .await
        .expect("engine running")
        .expect("seat-1 logs out");

    let mut carrier_101 = Sipp {
        name: "carrier-101",
        scenario: "carrier-101.xml",
        port: free_port(),
        transport: "u1",
        calls: 1,
        rate: 0,
        pause_ms: 200,
        remote: Some(engine.udp),
    }
    .spawn(&dir);
    engine
        .wait_for("the 101 to queue", Duration::from_secs(10), |s| {
            s.calls.iter().any(|c| c.state == CallState::Queued)
        })
        .await;
    let mut carrier_999 = Sipp {
        name: "carrier-999",
        scenario: "carrier-999-pidf.xml",
        port: free_port(),
        transport: "u1",
        calls: 1,
        rate: 0,
        pause_ms: 200,
        remote: Some(engine.udp),
    }
    .spawn(&dir);
    let queued = engine
        .wait_for("both calls to queue", Duration::from_secs(10), |s| {
            s.calls
                .iter()
                .filter(|c| c.state == CallState::Queued)
                .count()
                == 2
        })
        .await;
    let id_of = |class: CallClass| {
        queued
            .calls
            .iter()
            .find(|c| c.class == Some(class))
            .map(|c| c.id)
            .expect("call of that class")
    };
    let (id_999, id_101) = (id_of(CallClass::Emergency), id_of(CallClass::NonEmergency));
    assert!(id_101 < id_999, "the 101 arrived first");

    let mut seat = Sipp {
        name: "seat",
        scenario: "handler-uas.xml",
        port: seat_port,
        transport: "u1",
        calls: 2,
        rate: 0,
        pause_ms: 200,
        remote: None,
    }
    .spawn(&dir);
    engine
        .handle
        .command(Command::SetHandlerState {
            handler: "seat-1".into(),
            state: RequestedState::Available,
        })
        .await
        .expect("engine running")
        .expect("seat-1 logs in");

    carrier_999.wait_success(CALL_WITHIN).await;
    carrier_101.wait_success(CALL_WITHIN).await;
    seat.wait_success(CALL_WITHIN).await;

    // The seat's own log: the first INVITE it received was the 999.
    let invites: Vec<String> = sipp_messages(&dir.join("seat_messages.log"), true)
        .into_iter()
        .filter(|m| m.starts_with("INVITE "))
        .collect();
    let order: Vec<Option<&str>> = invites
        .iter()
        .map(|m| header(m, "X-Answerpoint-Call-Id"))
        .collect();
    let (s999, s101) = (id_999.to_string(), id_101.to_string());
    assert_eq!(
        order,
        vec![Some(s999.as_str()), Some(s101.as_str())],
        "INVITE order at the seat"
    );
    assert_eq!(header(&invites[0], "Priority"), Some("emergency"));

    let snap = engine
        .wait_for("both calls to end", Duration::from_secs(5), |s| {
            s.calls.iter().all(|c| c.state == CallState::Ended)
        })
        .await;
    let answered = |id: u64| {
        snap.calls
            .iter()
            .find(|c| c.id == id)
            .and_then(|c| c.answered_ms)
            .expect("answered")
    };
    assert!(answered(id_999) < answered(id_101));
    engine.stop().await;
}

/// A burst: 30 emergency calls at 30/s from one SIPp carrier, two SIPp seats. Every call is
/// queued, offered, answered and completed (SIPp exits 0 only if all 30 succeeded); none is
/// lost or duplicated, both seats work, and the runtime dropped nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_30_emergency_calls_all_complete_on_two_seats() {
    let dir = scratch_dir("sipp-burst");
    let (port_1, port_2) = (free_port(), free_port());
    let config = config_with_seat(&format!("sip:seat-1@127.0.0.1:{port_1}"))
        + &format!(
            "\n[[seats]]\nid = \"seat-2\"\ncontact = \"sip:seat-2@127.0.0.1:{port_2}\"\nskills = [\"emergency\"]\n"
        );
    let engine = Engine::start(&config).await;
    let seat = |name, port| Sipp {
        name,
        scenario: "handler-uas.xml",
        port,
        transport: "u1",
        calls: 0,
        rate: 0,
        pause_ms: 50,
        remote: None,
    };
    let _seat_1 = seat("seat-1", port_1).spawn(&dir);
    let _seat_2 = seat("seat-2", port_2).spawn(&dir);
    let mut carrier = Sipp {
        name: "carrier",
        scenario: "carrier-999-pidf.xml",
        port: free_port(),
        transport: "u1",
        calls: 30,
        rate: 30,
        pause_ms: 100,
        remote: Some(engine.udp),
    }
    .spawn(&dir);
    carrier.wait_success(Duration::from_secs(60)).await;

    let snap = engine
        .wait_for("all 30 calls to end", Duration::from_secs(10), |s| {
            s.calls.len() == 30 && s.calls.iter().all(|c| c.state == CallState::Ended)
        })
        .await;
    let mut carrier_ids: Vec<&str> = snap.calls.iter().map(|c| &*c.carrier_call_id).collect();
    carrier_ids.sort_unstable();
    carrier_ids.dedup();
    assert_eq!(carrier_ids.len(), 30, "one engine call per carrier call");
    for c in &snap.calls {
        assert_eq!(c.class, Some(CallClass::Emergency));
        assert_eq!(c.end_reason, Some(EndReason::CallerHangup));
        assert!(c.answered_ms.is_some());
    }
    for seat in ["seat-1", "seat-2"] {
        assert!(
            snap.calls
                .iter()
                .any(|c| c.handler.as_deref() == Some(seat)),
            "{seat} answered some calls"
        );
    }
    let stats = engine.stop().await;
    assert_eq!(stats, answerpoint::runtime::RuntimeStats::default());
}
