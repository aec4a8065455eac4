//! Issue 6 acceptance, API errors against the real running engine (`tests/http_api.rs`
//! covers the router alone): malformed JSON, wrong content type, unknown handler ids,
//! invalid state changes, unknown callback ids, bad AML bodies and unknown routes all get a
//! 4xx with a JSON `{"error": …}` body, never a 5xx; valid state changes reach the engine
//! and show in `GET /api/handlers`. With `http.bearer_token` set every route needs it.

mod e2e_support;
mod observe_support;

use std::time::Duration;

use e2e_support::{free_port, scratch_dir};
use observe_support::{http_request, Binary};

const JSON: &str = "application/json";

fn seats() -> String {
    format!(
        "[[seats]]\nid = \"seat-1\"\ncontact = \"sip:seat-1@127.0.0.1:{}\"\n",
        free_port()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_4xx_json_never_5xx() {
    let dir = scratch_dir("observe-api");
    let engine = Binary::start(&dir, "answerpoint", &seats()).await;
    let state = "/api/handlers/seat-1/state";
    type Case<'a> = (&'a str, &'a str, Option<(&'a str, &'a str)>, u16);
    let cases: Vec<Case> = vec![
        ("POST", state, Some((JSON, "{\"state\":")), 400),
        ("POST", state, Some((JSON, "[1,2,3]")), 422),
        (
            "POST",
            state,
            Some((JSON, "{\"state\":\"available\",\"x\":1}")),
            422,
        ),
        (
            "POST",
            state,
            Some(("text/plain", "{\"state\":\"available\"}")),
            415,
        ),
        ("POST", state, None, 415),
        ("POST", state, Some((JSON, "{\"state\":\"busy\"}")), 400),
        (
            "POST",
            state,
            Some((JSON, "{\"state\":\"not-ready\"}")),
            400,
        ),
        (
            "POST",
            state,
            Some((JSON, "{\"state\":\"available\",\"reason\":\"x\"}")),
            400,
        ),
        (
            "POST",
            "/api/handlers/nobody/state",
            Some((JSON, "{\"state\":\"available\"}")),
            404,
        ),
        ("POST", "/api/abandoned/12345/done", None, 404),
        ("POST", "/api/abandoned/1099511627777/done", None, 404),
        ("POST", "/api/abandoned/-1/done", None, 400),
        ("POST", "/api/abandoned/abc/done", None, 400),
        (
            "POST",
            "/api/aml",
            Some((
                "application/x-www-form-urlencoded",
                "v=1&location_latitude=x",
            )),
            400,
        ),
        (
            "POST",
            "/api/aml",
            Some((
                "application/x-www-form-urlencoded",
                "v=1&location_latitude=51.5&location_longitude=-0.1&location_accuracy=10",
            )),
            400,
        ),
        ("GET", "/api/nothing", None, 404),
        ("DELETE", "/api/handlers", None, 405),
    ];
    for (method, path, body, want) in cases {
        let (status, text) = engine.request(method, path, body).await;
        assert_eq!(status, want, "{method} {path} {body:?}: {text}");
        let v: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"));
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{text}");
    }

    // Valid changes reach the engine: not-ready with a reason, then available again.
    let (status, text) = engine
        .request(
            "POST",
            state,
            Some((JSON, "{\"state\":\"not-ready\",\"reason\":\"break\"}")),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    engine
        .wait_json(
            "/api/handlers",
            Duration::from_secs(5),
            "seat-1 not ready",
            |v| v[0]["id"] == "seat-1" && v[0]["state"] == "not-ready" && v[0]["reason"] == "break",
        )
        .await;
    let (status, _) = engine
        .request("POST", state, Some((JSON, "{\"state\":\"available\"}")))
        .await;
    assert_eq!(status, 200);
    engine
        .wait_json(
            "/api/handlers",
            Duration::from_secs(5),
            "seat-1 available",
            |v| v[0]["state"] == "available",
        )
        .await;
    assert!(!engine.logs().contains("panicked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_bearer_token_is_required_on_every_route() {
    let dir = scratch_dir("observe-token");
    let token = "test-token-0123456789abcdef";
    let engine = Binary::start(
        &dir,
        "answerpoint",
        &format!("[http]\nbearer_token = \"{token}\"\n{}", seats()),
    )
    .await;
    for path in ["/api/queue", "/metrics", "/api/kpi"] {
        let (status, body) = http_request(engine.http, "GET", path, None, None).await;
        assert_eq!(status, 401, "{path}: {body}");
        let (status, _) = http_request(
            engine.http,
            "GET",
            path,
            None,
            Some("wrong-token-000000000"),
        )
        .await;
        assert_eq!(status, 401, "{path}");
        let (status, body) = http_request(engine.http, "GET", path, None, Some(token)).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
}

/// Supervisors watch waits grow: with no SIP or API input at all, `GET /api/handlers`
/// still shows the idle seat's `idle_ms` growing (views refreshed every
/// `runtime::LIVE_VIEWS_INTERVAL`), instead of the value of the last input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_stay_live_without_input() {
    let dir = scratch_dir("observe-live");
    let engine = Binary::start(&dir, "answerpoint", &seats()).await;
    let idle_ms = |v: &serde_json::Value| {
        v.as_array()
            .and_then(|hs| hs.iter().find(|h| h["id"] == "seat-1"))
            .and_then(|h| h["idle_ms"].as_u64())
    };
    let first = idle_ms(&engine.get_json("/api/handlers").await).expect("seat-1 idle");
    let later = engine
        .wait_json(
            "/api/handlers",
            Duration::from_secs(10),
            "seat-1 idle_ms to grow by 1.5 s",
            |v| idle_ms(v).is_some_and(|ms| ms >= first + 1_500),
        )
        .await;
    assert!(idle_ms(&later).unwrap() < first + 10_000, "{later:#}");
}

/// A refused INVITE (an unknown number: 404) is counted in `/metrics` as
/// `answerpoint_calls_refused_total{status="404"}`, not only shown on the event stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_invites_are_counted_in_metrics() {
    let dir = scratch_dir("observe-refused");
    let engine = Binary::start(&dir, "answerpoint", &seats()).await;
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = udp.local_addr().unwrap();
    let invite = format!(
        "INVITE sip:123456@{sip} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bK-refused-1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:+447700900001@carrier.example>;tag=c1\r\n\
         To: <sip:123456@{sip}>\r\n\
         Call-ID: refused-1@test\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:carrier@{me}>\r\n\
         Content-Length: 0\r\n\r\n",
        sip = engine.sip
    );
    udp.send_to(invite.as_bytes(), engine.sip).await.unwrap();
    let mut buf = vec![0u8; 65_535];
    let status = loop {
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), udp.recv_from(&mut buf))
            .await
            .expect("a final response within 5 s")
            .unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        let code: u16 = text[8..11].parse().unwrap();
        if code >= 200 {
            break code;
        }
    };
    assert_eq!(status, 404, "unknown number");
    let series = "answerpoint_calls_refused_total{status=\"404\"}";
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (code, text) = engine.request("GET", "/metrics", None).await;
        assert_eq!(code, 200);
        if observe_support::prom_value(&text, series) == Some(1.0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{series} not 1 in:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
