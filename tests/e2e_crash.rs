//! Issue 6 acceptance, crash and shutdown, against the real `answerpoint` binary:
//!
//! - **Crash**: three 999 calls with PIDF-LO wait in the queue (no handler), the engine is
//!   killed with SIGKILL and restarted on the same `data_dir`: every call is in
//!   `GET /api/abandoned` with its callback number and location; marking one done is
//!   durable across another restart. Nothing lost.
//! - **Graceful shutdown** (SIGTERM with calls queued, `shutdown_grace_s = 1`): each
//!   waiting 999 call gets `503` + `Retry-After` (RFC 3261 §21.5.4, so the carrier fails
//!   over), the process exits 0, and at the next start the calls are on the callback list.
//!
//! Requires SIPp (fails with an install hint if missing).

mod e2e_support;
mod observe_support;

use std::time::Duration;

use e2e_support::{free_port, scratch_dir, sipp_messages, Sipp};
use observe_support::Binary;
use serde_json::Value;

fn config(dir: &std::path::Path, grace_s: u32) -> String {
    format!(
        "data_dir = \"{}\"\nshutdown_grace_s = {grace_s}\n",
        dir.join("data").display()
    )
}

/// Three queued 999 calls (SIPp waits for an answer that never comes).
async fn three_queued_calls(dir: &std::path::Path, engine: &Binary) -> e2e_support::Peer {
    let carrier = Sipp {
        name: "carrier",
        scenario: "carrier-999-pidf.xml",
        port: free_port(),
        transport: "u1",
        calls: 3,
        rate: 0,
        pause_ms: 100,
        remote: Some(engine.sip),
    }
    .spawn(dir);
    engine
        .wait_json(
            "/api/queue",
            Duration::from_secs(20),
            "3 queued 999 calls",
            |v| v["depth"]["emergency"] == 3,
        )
        .await;
    carrier
}

fn numbers(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["callback_number"].as_str().unwrap_or("").to_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_queued_999_calls_loses_none_of_them() {
    let dir = scratch_dir("crash");
    let mut engine = Binary::start(&dir, "first", &config(&dir, 10)).await;
    let mut carrier = three_queued_calls(&dir, &engine).await;

    // Durable within 100 ms of arrival: poll the journal itself (a separate reader) until
    // all three are recorded as queued, then kill.
    let db = dir.join("data").join(answerpoint::store::DB_FILE);
    let reader = answerpoint::store::JournalReader::open(&db).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let calls = reader.recent_calls(10).unwrap();
        if calls
            .iter()
            .filter(|(_, c)| c.state == answerpoint::store::JournalState::Queued)
            .count()
            == 3
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "journal: {calls:#?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(reader);
    engine.kill().await;
    let _ = carrier.child.start_kill();

    let mut second = Binary::start(&dir, "second", &config(&dir, 10)).await;
    let list = second.get_json("/api/abandoned").await;
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 3, "{list:#}");
    assert_eq!(
        numbers(&list),
        ["+447700901", "+447700902", "+447700903"],
        "{list:#}"
    );
    for item in items {
        assert_eq!(item["origin"], "recovered");
        assert_eq!(item["class"], "emergency");
        assert_eq!(item["location"]["lat"], 51.501364, "{item:#}");
        assert_eq!(item["location"]["lon"], -0.14189, "{item:#}");
        assert_eq!(item["location"]["radius_m"], 35.0, "{item:#}");
        // The PIDF-LO <timestamp> (2026-11-29T13:00:00Z) survives the crash; the API
        // computes the location's age at render time.
        let age_s = item["location"]["age_s"].as_f64().expect("age_s");
        assert!(age_s > 0.0, "{item:#}");
        assert!(item["id"].as_u64().unwrap() >= answerpoint::runtime::JOURNAL_ID_BASE);
    }
    assert!(second
        .logs()
        .contains("recovered: call was waiting when the process died"));

    // Calling one back is durable across a restart; unknown ids are 404.
    let id = items[0]["id"].as_u64().unwrap();
    let (status, body) = second
        .request("POST", &format!("/api/abandoned/{id}/done"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = second
        .request("POST", &format!("/api/abandoned/{id}/done"), None)
        .await;
    assert_eq!(status, 404, "done twice: {body}");
    second
        .wait_json(
            "/api/abandoned",
            Duration::from_secs(5),
            "2 items left",
            |v| v.as_array().is_some_and(|a| a.len() == 2),
        )
        .await;
    assert_eq!(second.terminate(Duration::from_secs(10)).await, Some(0));

    let third = Binary::start(&dir, "third", &config(&dir, 10)).await;
    let list = third.get_json("/api/abandoned").await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list:#}");
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["id"].as_u64() != Some(id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_queued_999_calls_with_503_and_keeps_them_for_callback() {
    let dir = scratch_dir("graceful");
    let mut engine = Binary::start(&dir, "first", &config(&dir, 1)).await;
    let mut carrier = three_queued_calls(&dir, &engine).await;

    let started = std::time::Instant::now();
    assert_eq!(engine.terminate(Duration::from_secs(10)).await, Some(0));
    // The grace period (1 s) was honoured, plus at most the ACK wait.
    assert!(started.elapsed() >= Duration::from_secs(1));
    let log = engine.logs();
    assert_eq!(
        log.matches("shutdown: call not answered in the grace period")
            .count(),
        3,
        "{log}"
    );
    assert!(log.contains("journal closed flushed=true"), "{log}");

    // The carrier got a 503 with Retry-After for each call (SIPp then fails: it wanted 200).
    let _ = tokio::time::timeout(Duration::from_secs(10), carrier.child.wait()).await;
    let got = sipp_messages(&dir.join("carrier_messages.log"), true);
    let finals: Vec<&String> = got
        .iter()
        .filter(|m| m.starts_with("SIP/2.0 503"))
        .collect();
    let mut call_ids: Vec<&str> = finals
        .iter()
        .filter_map(|m| e2e_support::header(m, "Call-ID"))
        .collect();
    call_ids.sort_unstable();
    call_ids.dedup();
    assert_eq!(call_ids.len(), 3, "{got:#?}");
    assert!(finals
        .iter()
        .all(|m| e2e_support::header(m, "Retry-After").is_some()));

    let second = Binary::start(&dir, "second", &config(&dir, 1)).await;
    let list = second.get_json("/api/abandoned").await;
    assert_eq!(
        numbers(&list),
        ["+447700901", "+447700902", "+447700903"],
        "{list:#}"
    );
    for item in list.as_array().unwrap() {
        assert_eq!(item["origin"], "abandoned", "{item:#}");
        assert_eq!(item["location"]["radius_m"], 35.0, "{item:#}");
    }
}
