//! Issue 6 acceptance, integration: the real `answerpoint` binary with the journal on, two
//! SIPp handler seats answering after known delays (999 seat after 1 s, 101 seat after
//! 6 s) and SIPp carriers placing two 999 calls (with PIDF-LO) and one 101 call. Then
//! `/metrics` and `/api/kpi` must report the counts the test placed and answer times equal
//! to what the carrier itself observed (its INVITE sent → its 200 OK received, from SIPp's
//! message log), so the within-5 s / within-10 s fractions are predictable: 100 % / 100 %
//! for 999, 0 % / 100 % for 101. Also: the event stream carries the calls, an AML fix sent
//! to `POST /api/aml` during the 101 call becomes that call's location in `GET /api/calls`,
//! and the journal holds every call. Requires SIPp (fails with an install hint if missing).

mod e2e_support;
mod observe_support;

use std::time::Duration;

use e2e_support::{free_port, scratch_dir, Sipp};
use observe_support::{observed_answer_ms, open_event_stream, prom_value, Binary};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_calls_show_up_in_metrics_and_kpis_as_the_carrier_observed_them() {
    let dir = scratch_dir("observe");
    let (seat_e, seat_n) = (free_port(), free_port());
    let config = format!(
        r#"
data_dir = "{data}"

[queue]
ring_timeout_ms = 30000
wrap_up_s = {{ emergency = 0, non-emergency = 0, admin = 0 }}

[[seats]]
id = "seat-999"
contact = "sip:seat-999@127.0.0.1:{seat_e}"
skills = ["emergency"]

[[seats]]
id = "seat-101"
contact = "sip:seat-101@127.0.0.1:{seat_n}"
skills = ["non-emergency"]
"#,
        data = dir.join("data").display()
    );
    let engine = Binary::start(&dir, "answerpoint", &config).await;
    let events = open_event_stream(engine.http).await;

    let mut h999 = Sipp {
        name: "seat999",
        scenario: "handler-uas.xml",
        port: seat_e,
        transport: "u1",
        calls: 2,
        rate: 0,
        pause_ms: 1_000,
        remote: None,
    }
    .spawn(&dir);
    let mut h101 = Sipp {
        name: "seat101",
        scenario: "handler-uas.xml",
        port: seat_n,
        transport: "u1",
        calls: 1,
        rate: 0,
        pause_ms: 6_000,
        remote: None,
    }
    .spawn(&dir);
    let mut c999 = Sipp {
        name: "carrier999",
        scenario: "carrier-999-pidf.xml",
        port: free_port(),
        transport: "u1",
        calls: 2,
        rate: 0,
        pause_ms: 200,
        remote: Some(engine.sip),
    }
    .spawn(&dir);
    let mut c101 = Sipp {
        name: "carrier101",
        scenario: "carrier-101.xml",
        port: free_port(),
        transport: "u1",
        calls: 1,
        rate: 0,
        pause_ms: 200,
        remote: Some(engine.sip),
    }
    .spawn(&dir);

    // While the 101 call rings (6 s), the handset's AML fix arrives over HTTPS.
    let ringing = engine
        .wait_json(
            "/api/calls",
            Duration::from_secs(20),
            "the 101 call ringing",
            |v| {
                v["calls"].as_array().is_some_and(|calls| {
                    calls
                        .iter()
                        .any(|c| c["class"] == "non-emergency" && c["state"] == "offered")
                })
            },
        )
        .await;
    let call101 = ringing["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class"] == "non-emergency")
        .unwrap()
        .clone();
    let number = call101["callback_number"]
        .as_str()
        .expect("callback number")
        .to_owned();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let aml = format!(
        "v=1&device_number={}&location_latitude=55.85732&location_longitude=-4.26325&location_time={now_ms}&location_accuracy=10.4&location_source=GPS&location_certainty=83",
        number.replace('+', "%2B")
    );
    let (status, body) = engine
        .request(
            "POST",
            "/api/aml",
            Some(("application/x-www-form-urlencoded", &aml)),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let id101 = call101["id"].as_u64().unwrap();
    engine
        .wait_json(
            "/api/calls",
            Duration::from_secs(5),
            "AML location on the 101 call",
            |v| {
                v["calls"].as_array().is_some_and(|calls| {
                    calls.iter().any(|c| {
                        c["id"] == id101
                            && c["location"]["source"] == "aml"
                            && c["location"]["radius_m"] == 10.4
                    })
                })
            },
        )
        .await;

    for p in [&mut c999, &mut c101, &mut h999, &mut h101] {
        p.wait_success(Duration::from_secs(45)).await;
    }

    // What the carrier observed.
    let seen999 = observed_answer_ms(&dir.join("carrier999_messages.log"));
    let seen101 = observed_answer_ms(&dir.join("carrier101_messages.log"));
    assert_eq!(seen999.len(), 2, "{seen999:?}");
    assert_eq!(seen101.len(), 1, "{seen101:?}");
    assert!(
        seen999
            .iter()
            .all(|(_, ms)| *ms >= 1_000.0 && *ms < 5_000.0),
        "{seen999:?}"
    );
    assert!(
        seen101[0].1 >= 6_000.0 && seen101[0].1 < 10_000.0,
        "{seen101:?}"
    );

    // /api/kpi: counts, fractions and answer times as observed (the engine's clock starts
    // at the INVITE's arrival, the carrier's when it sent it: within 50 ms).
    let kpi = engine
        .wait_json(
            "/api/kpi",
            Duration::from_secs(5),
            "3 answered calls",
            |v| {
                v["run"]["emergency"]["answered"] == 2 && v["run"]["non_emergency"]["answered"] == 1
            },
        )
        .await;
    let e = &kpi["run"]["emergency"];
    let n = &kpi["run"]["non_emergency"];
    assert_eq!(e["count"], 2);
    assert_eq!(e["abandoned"], 0);
    assert_eq!(e["answered_within_5s_pct"], 100.0);
    assert_eq!(e["answered_within_10s_pct"], 100.0);
    assert_eq!(n["count"], 1);
    assert_eq!(n["answered_within_5s_pct"], 0.0);
    assert_eq!(n["answered_within_10s_pct"], 100.0);
    assert_eq!(n["home_office_under_10s"], 1);
    let mean999 = seen999.iter().map(|(_, ms)| ms).sum::<f64>() / 2.0;
    let kmean999 = e["answer_time_mean_ms"].as_f64().unwrap();
    assert!(
        (kmean999 - mean999).abs() < 50.0,
        "kpi {kmean999} vs seen {mean999}"
    );
    let max999 = seen999.iter().map(|(_, ms)| *ms).fold(0.0, f64::max);
    let kmax999 = e["answer_time_max_ms"].as_f64().unwrap();
    assert!(
        (kmax999 - max999).abs() < 50.0,
        "kpi {kmax999} vs seen {max999}"
    );
    let k101 = n["answer_time_p50_ms"].as_f64().unwrap();
    assert!(
        (k101 - seen101[0].1).abs() < 50.0,
        "kpi {k101} vs seen {:?}",
        seen101
    );

    // /metrics: the same counts, the answer-time buckets and one engine-latency sample per
    // call offered on arrival (the first 999 and the 101; the second 999 waited).
    let (status, metrics) = engine.request("GET", "/metrics", None).await;
    assert_eq!(status, 200);
    let m = |series: &str| prom_value(&metrics, series).unwrap_or(-1.0);
    assert_eq!(
        m(r#"answerpoint_calls_arrived_total{class="emergency"}"#),
        2.0,
        "{metrics}"
    );
    assert_eq!(
        m(r#"answerpoint_calls_arrived_total{class="non-emergency"}"#),
        1.0
    );
    assert_eq!(
        m(r#"answerpoint_calls_total{class="emergency",outcome="answered"}"#),
        2.0
    );
    assert_eq!(
        m(r#"answerpoint_calls_total{class="non-emergency",outcome="answered"}"#),
        1.0
    );
    assert_eq!(
        m(r#"answerpoint_answer_time_seconds_bucket{class="emergency",le="5"}"#),
        2.0
    );
    assert_eq!(
        m(r#"answerpoint_answer_time_seconds_bucket{class="non-emergency",le="5"}"#),
        0.0
    );
    assert_eq!(
        m(r#"answerpoint_answer_time_seconds_bucket{class="non-emergency",le="10"}"#),
        1.0
    );
    assert_eq!(m("answerpoint_engine_latency_seconds_count"), 2.0);
    // Every UDP datagram's wait is observed: 3 calls' INVITEs, ACKs, handler responses…
    assert!(m("answerpoint_udp_wait_seconds_count") >= 10.0);
    let sum999 = m(r#"answerpoint_answer_time_seconds_sum{class="emergency"}"#);
    assert!((sum999 * 1000.0 - 2.0 * mean999).abs() < 100.0, "{sum999}");
    assert_eq!(m(r#"answerpoint_queue_depth{class="emergency"}"#), 0.0);
    assert_eq!(m(r#"answerpoint_handlers{state="available"}"#), 2.0);
    assert_eq!(m("answerpoint_journal_dropped_total").max(0.0), 0.0);

    // The event stream saw every call arrive and be answered.
    let stream = events.borrow().clone();
    assert!(stream.contains("event: call"), "{stream}");
    assert_eq!(
        stream.matches(r#""kind":"answered""#).count(),
        3,
        "{stream}"
    );
    assert_eq!(stream.matches(r#""kind":"arrived""#).count(), 3, "{stream}");

    // The per-call span carries the engine call id and both legs' Call-IDs.
    let log = engine.logs();
    assert!(
        log.lines().any(|l| l.contains("call{call=")
            && l.contains("carrier_call_id=")
            && l.contains("handler_call_id=")),
        "{log}"
    );

    // The journal has all three calls (read while the engine runs: WAL readers never block).
    let reader = answerpoint::store::JournalReader::open(
        &dir.join("data").join(answerpoint::store::DB_FILE),
    )
    .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let calls = reader.recent_calls(10).unwrap();
        let ended = calls
            .iter()
            .filter(|(_, c)| c.state == answerpoint::store::JournalState::Ended)
            .count();
        if ended == 3 {
            assert!(calls.iter().all(|(_, c)| c.answered_unix_ms.is_some()));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "journal: {calls:#?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
