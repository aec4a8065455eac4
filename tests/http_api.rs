//! The HTTP API against a stand-in engine: a tokio task that owns a real
//! `queue::Router` and an `AmlStore`, answers `ApiRequest`s and republishes the views
//! after each command — the shape the integrator will give the real engine task.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use answerpoint::call::CallClass;
use answerpoint::http::{
    self, metrics as m, ApiCommand, ApiCommandError, ApiRequest, ApiSettings, ApiState,
    EngineHandle, SharedViews, StreamEvent, Views,
};
use answerpoint::kpi::{Kpi, KpiConfig};
use answerpoint::location::aml_store::AmlStore;
use answerpoint::queue::{
    Action, CallId, CallbackId, Event, HandlerId, NewCall, QueueConfig, Router, RouterError, Skills,
};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc, Mutex};
use tower::ServiceExt;

/// The ETSI TR 103 393 HTTPS example (corpus `aml-lib-https-v1-full.form`), its 2016
/// `location_time` replaced by the current time: fixes over an hour old are refused.
fn aml_form() -> String {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    format!("v=1&device_number=%2B447477593102&location_latitude=55.85732&location_longitude=-4.26325&location_time={now_ms}&location_accuracy=10.4&location_source=GPS&location_certainty=83")
}

/// The stand-in engine: handler names → router ids, the router, AML fixes received.
struct FakeEngine {
    t0: Instant,
    router: Router,
    names: HashMap<String, HandlerId>,
    aml: AmlStore,
    aml_reports: Vec<String>,
    views: Arc<SharedViews>,
}

impl FakeEngine {
    fn new(views: Arc<SharedViews>) -> (FakeEngine, CallbackId) {
        let t0 = Instant::now();
        let mut router = Router::new(QueueConfig::default()).unwrap();
        let mut names = HashMap::new();
        for (i, name) in ["seat-1", "seat-2"].iter().enumerate() {
            let h = HandlerId(i as u32 + 1);
            router
                .handle(
                    t0,
                    Event::HandlerAdded {
                        handler: h,
                        skills: Skills::EMERGENCY,
                    },
                )
                .unwrap();
            names.insert((*name).to_owned(), h);
        }
        let new_call = |id: u64, caller: &str| NewCall {
            call: CallId(id),
            class: CallClass::Emergency,
            caller: caller.into(),
            location: Some("55.85732,-4.26325 r=10m".into()),
            required_skills: Skills::NONE,
        };
        // Call 7 waits and is abandoned → callback item; call 8 waits.
        router
            .handle(t0, Event::CallArrived(new_call(7, "+441632960007")))
            .unwrap();
        router
            .handle(t0, Event::CallAbandoned { call: CallId(7) })
            .unwrap();
        router
            .handle(t0, Event::CallArrived(new_call(8, "+441632960008")))
            .unwrap();
        let mut callback = None;
        while let Some(a) = router.poll_action() {
            if let Action::CallbackAdded(item) = a {
                callback = Some(item.id);
            }
        }
        let mut e = FakeEngine {
            t0,
            router,
            names,
            aml: AmlStore::new(Duration::from_secs(300), 100),
            aml_reports: Vec::new(),
            views,
        };
        e.publish();
        (e, callback.unwrap())
    }

    fn publish(&mut self) {
        let now = self.t0;
        let snap = self.router.snapshot(now, 100);
        let by_id: HashMap<HandlerId, &String> = self.names.iter().map(|(n, h)| (*h, n)).collect();
        let handlers: Vec<Value> = snap
            .handlers
            .iter()
            .map(|h| {
                json!({
                    "id": by_id.get(&h.handler).map(|s| s.as_str()),
                    "state": h.state,
                    "reason": h.reason,
                    "call": h.call,
                })
            })
            .collect();
        self.views.publish(Views {
            queue: json!({ "depth": snap.depth, "waiting": snap.waiting }),
            handlers: Value::Array(handlers),
            calls: json!([]),
            abandoned: serde_json::to_value(&snap.callbacks).unwrap(),
        });
    }

    fn apply(&mut self, cmd: ApiCommand) -> Result<(), ApiCommandError> {
        let now = self.t0;
        let result = match cmd {
            ApiCommand::SetHandlerState { handler, state } => {
                if handler == "seat-locked" {
                    // Stands for any refusal the real engine returns as CommandError.
                    return Err(ApiCommandError::Refused(
                        "seat-locked is locked by a supervisor".into(),
                    ));
                }
                let h = *self
                    .names
                    .get(&handler)
                    .ok_or(ApiCommandError::UnknownHandler(handler))?;
                self.router
                    .handle(now, Event::SetHandlerState { handler: h, state })
            }
            ApiCommand::CallbackDone { id } => self.router.handle(
                now,
                Event::CallbackDone {
                    callback: CallbackId(id),
                },
            ),
            ApiCommand::AmlReport { caller, fix } => {
                self.aml.ingest(now, &caller, *fix);
                self.aml_reports.push(caller);
                Ok(())
            }
        };
        while self.router.poll_action().is_some() {}
        self.publish();
        result.map_err(|e| match e {
            RouterError::UnknownCallback(c) => ApiCommandError::UnknownCallback(c.0),
            other => ApiCommandError::Refused(other.to_string()),
        })
    }
}

struct Harness {
    app: axum::Router,
    views: Arc<SharedViews>,
    engine: Arc<Mutex<FakeEngine>>,
    callback: CallbackId,
    events: broadcast::Sender<StreamEvent>,
    state: ApiState,
}

fn spawn_engine(engine: Arc<Mutex<FakeEngine>>, mut rx: mpsc::Receiver<ApiRequest>) {
    tokio::spawn(async move {
        while let Some(req) = rx.recv().await {
            let result = engine.lock().await.apply(req.command);
            let _ = req.reply.send(result);
        }
    });
}

fn harness(
    settings: ApiSettings,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
) -> Harness {
    let views = Arc::new(SharedViews::new(Kpi::new(KpiConfig::default()).unwrap()));
    let (fake, callback) = FakeEngine::new(views.clone());
    let engine = Arc::new(Mutex::new(fake));
    let (handle, rx) = EngineHandle::channel(16, Duration::from_secs(2));
    spawn_engine(engine.clone(), rx);
    let (events, _) = broadcast::channel(64);
    let state = ApiState::new(settings, views.clone(), handle, events.clone(), metrics).unwrap();
    Harness {
        app: http::router(state.clone()),
        views,
        engine,
        callback,
        events,
        state,
    }
}

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, v)
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn post_json(uri: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn reads_serve_the_published_views() {
    let h = harness(ApiSettings::default(), None);
    let (s, q) = call(&h.app, get("/api/queue")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(q["depth"]["emergency"], 1);
    assert_eq!(q["waiting"][0]["call"], 8);
    assert_eq!(q["waiting"][0]["caller"], "+441632960008");
    let (_, hs) = call(&h.app, get("/api/handlers")).await;
    assert_eq!(hs.as_array().unwrap().len(), 2);
    assert!(hs
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["state"] == "logged-out"));
    let (_, ab) = call(&h.app, get("/api/abandoned")).await;
    assert_eq!(ab[0]["call"], 7);
    assert_eq!(ab[0]["caller"], "+441632960007");
    assert_eq!(ab[0]["location"], "55.85732,-4.26325 r=10m");
    assert_eq!(ab[0]["id"], h.callback.0);
    let (s, calls) = call(&h.app, get("/api/calls")).await;
    assert_eq!((s, calls), (StatusCode::OK, json!([])));
}

#[tokio::test]
async fn handler_state_changes_reach_the_engine() {
    let h = harness(ApiSettings::default(), None);
    let (s, body) = call(
        &h.app,
        post_json("/api/handlers/seat-1/state", r#"{"state":"available"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"handler": "seat-1", "requested": "available", "reason": null})
    );
    // Call 8 was waiting: seat-1 now rings with it, and the queue is empty.
    let (_, hs) = call(&h.app, get("/api/handlers")).await;
    let seat1 = hs
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "seat-1")
        .unwrap()
        .clone();
    assert_eq!(seat1["state"], "ringing");
    assert_eq!(seat1["call"], 8);
    let (_, q) = call(&h.app, get("/api/queue")).await;
    assert_eq!(q["depth"]["emergency"], 0);

    let (s, _) = call(
        &h.app,
        post_json(
            "/api/handlers/seat-2/state",
            r#"{"state":"not-ready","reason":"training"}"#,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, hs) = call(&h.app, get("/api/handlers")).await;
    let seat2 = hs
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "seat-2")
        .unwrap()
        .clone();
    assert_eq!(seat2["state"], "not-ready");
    assert_eq!(seat2["reason"], "training");
}

#[tokio::test]
async fn callback_done_then_unknown() {
    let h = harness(ApiSettings::default(), None);
    let uri = format!("/api/abandoned/{}/done", h.callback.0);
    let (s, body) = call(&h.app, Request::post(&uri).body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["done"], true);
    let (_, ab) = call(&h.app, get("/api/abandoned")).await;
    assert_eq!(ab, json!([]));
    let (s, body) = call(&h.app, Request::post(&uri).body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().unwrap().contains("unknown callback"));
}

/// Every client mistake is a 4xx with a JSON `{"error": "..."}` body, never a 5xx.
#[tokio::test]
async fn bad_requests_get_4xx_json_errors() {
    let h = harness(
        ApiSettings {
            max_body_bytes: 1024,
            ..ApiSettings::default()
        },
        None,
    );
    let st = "/api/handlers/seat-1/state";
    let long_id = format!("/api/handlers/{}/state", "x".repeat(65));
    let big = format!(r#"{{"state":"not-ready","reason":"{}"}}"#, "x".repeat(2000));
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            post_json(st, "{\"state\": "),
            StatusCode::BAD_REQUEST,
            "malformed JSON",
        ),
        (
            post_json(st, "[1,2]"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "wrong shape",
        ),
        (
            post_json(st, r#"{"reason":"x"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing state",
        ),
        (
            post_json(st, r#"{"state":"available","colour":"red"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown field",
        ),
        (
            Request::post(st)
                .body(Body::from(r#"{"state":"available"}"#))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "no content type",
        ),
        (
            post_json(st, r#"{"state":"on-fire"}"#),
            StatusCode::BAD_REQUEST,
            "unknown state",
        ),
        (
            post_json(st, r#"{"state":"not-ready"}"#),
            StatusCode::BAD_REQUEST,
            "no reason",
        ),
        (
            post_json(st, r#"{"state":"available","reason":"x"}"#),
            StatusCode::BAD_REQUEST,
            "reason with available",
        ),
        (
            post_json("/api/handlers/seat-99/state", r#"{"state":"available"}"#),
            StatusCode::NOT_FOUND,
            "unknown handler",
        ),
        (
            post_json(
                "/api/handlers/seat-locked/state",
                r#"{"state":"logged-out"}"#,
            ),
            StatusCode::CONFLICT,
            "engine refuses",
        ),
        (
            post_json(&long_id, r#"{"state":"available"}"#),
            StatusCode::BAD_REQUEST,
            "long id",
        ),
        (
            post_json(st, &big),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body too large",
        ),
        (
            Request::post("/api/abandoned/abc/done")
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "non-numeric callback id",
        ),
        (
            Request::post("/api/abandoned/424242/done")
                .body(Body::empty())
                .unwrap(),
            StatusCode::NOT_FOUND,
            "unknown callback",
        ),
        (get("/api/nothing"), StatusCode::NOT_FOUND, "unknown route"),
        (
            Request::delete("/api/queue").body(Body::empty()).unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
            "wrong method",
        ),
        (get("/metrics"), StatusCode::NOT_FOUND, "metrics disabled"),
        (
            Request::post("/api/aml")
                .body(Body::from("v=1&location_longitude=2"))
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "AML without latitude",
        ),
        (
            Request::post("/api/aml")
                .body(Body::from("v=1&location_latitude=1&location_longitude=2"))
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "AML without device_number",
        ),
    ];
    for (req, want, what) in cases {
        let (status, body) = call(&h.app, req).await;
        assert_eq!(status, want, "{what}: {body}");
        assert!(status.is_client_error(), "{what}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: body {body}"
        );
    }
    // Nothing reached the router for the refused requests: both seats still logged out.
    let (_, hs) = call(&h.app, get("/api/handlers")).await;
    assert!(hs
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["state"] == "logged-out"));
}

#[tokio::test]
async fn kpi_route_reports_the_kpi_keeper() {
    let h = harness(ApiSettings::default(), None);
    {
        let mut kpi = h.views.kpi();
        let t = 1_700_000_100_000;
        for (i, answer_ms) in [3_000u64, 8_000, 12_000, 25_000].iter().enumerate() {
            kpi.call_arrived(CallClass::Emergency, t + i as u64);
            kpi.call_answered(CallClass::Emergency, t + i as u64, *answer_ms);
        }
        kpi.call_arrived(CallClass::Emergency, t + 10);
        kpi.call_abandoned(CallClass::Emergency, t + 10);
    }
    let (s, k) = call(&h.app, get("/api/kpi")).await;
    assert_eq!(s, StatusCode::OK);
    let e = &k["run"]["emergency"];
    assert_eq!(e["count"], 5);
    assert_eq!(e["answered"], 4);
    assert_eq!(e["abandoned"], 1);
    assert_eq!(e["answered_within_5s_pct"], 25.0);
    assert_eq!(e["answered_within_10s_pct"], 50.0);
    assert_eq!(e["answered_within_15s_pct"], 75.0);
    assert_eq!(e["answered_within_20s_pct"], 75.0);
    assert_eq!(e["home_office_10s_to_60s"], 2);
    assert_eq!(e["answer_time_mean_ms"], 12_000.0);
    assert_eq!(k["intervals"][0]["start_unix_ms"], 1_700_000_100_000u64);
}

#[tokio::test]
async fn metrics_route_renders_prometheus_text() {
    let handle = m::install().unwrap();
    let h = harness(ApiSettings::default(), Some(handle));
    m::call_arrived(CallClass::Emergency);
    m::call_outcome(CallClass::Emergency, m::Outcome::Abandoned);
    m::set_queue_depth(CallClass::Emergency, 4);
    m::observe_answer_time(CallClass::Emergency, Duration::from_secs(12));
    let resp = h.app.clone().oneshot(get("/metrics")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(
        axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(
        text.contains("answerpoint_calls_arrived_total{class=\"emergency\"} 1"),
        "{text}"
    );
    assert!(text.contains("answerpoint_calls_total{class=\"emergency\",outcome=\"abandoned\"} 1"));
    assert!(text.contains("answerpoint_queue_depth{class=\"emergency\"} 4"));
    assert!(
        text.contains("answerpoint_answer_time_seconds_bucket{class=\"emergency\",le=\"10\"} 0")
    );
    assert!(
        text.contains("answerpoint_answer_time_seconds_bucket{class=\"emergency\",le=\"15\"} 1")
    );
}

#[tokio::test]
async fn bearer_token_is_enforced_when_configured() {
    let token = "s3cret-token-for-tests-0123";
    let h = harness(
        ApiSettings {
            listen: "0.0.0.0:8080".parse().unwrap(),
            bearer_token: Some(token.into()),
            ..ApiSettings::default()
        },
        None,
    );
    let (s, body) = call(&h.app, get("/api/queue")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "bearer token required");
    let wrong = Request::get("/api/queue")
        .header(header::AUTHORIZATION, "Bearer nope-nope-nope-nope-nope")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&h.app, wrong).await.0, StatusCode::UNAUTHORIZED);
    let basic = Request::get("/api/queue")
        .header(header::AUTHORIZATION, format!("Basic {token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&h.app, basic).await.0, StatusCode::UNAUTHORIZED);
    let right = Request::get("/api/queue")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let (s, q) = call(&h.app, right).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(q["depth"]["emergency"], 1);
    // Unauthenticated writes never reach the engine.
    let (s, _) = call(
        &h.app,
        post_json("/api/handlers/seat-1/state", r#"{"state":"available"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // And a non-loopback listener without a token is refused outright.
    let (handle, _rx) = EngineHandle::channel(1, Duration::from_secs(1));
    assert!(ApiState::new(
        ApiSettings {
            listen: "192.0.2.10:8080".parse().unwrap(),
            ..ApiSettings::default()
        },
        h.views.clone(),
        handle,
        h.events.clone(),
        None
    )
    .is_err());
}

#[tokio::test]
async fn aml_reports_reach_the_engine_and_hmac_is_checked() {
    let aml_form = aml_form();
    let h = harness(ApiSettings::default(), None);
    let req = Request::post("/api/aml")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(aml_form.clone()))
        .unwrap();
    let (s, body) = call(&h.app, req).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["caller"], "+447477593102");
    {
        let e = h.engine.lock().await;
        assert_eq!(e.aml_reports, vec!["+447477593102".to_owned()]);
        let fix = e.aml.best(e.t0, "07477593102").unwrap();
        assert_eq!(fix.position.unwrap().lat, 55.85732);
    }

    // With a key: unsigned → 403, correctly signed → 202.
    let key = b"aml-shared-key".to_vec();
    let hk = harness(
        ApiSettings {
            aml_hmac_key: Some(key.clone()),
            ..ApiSettings::default()
        },
        None,
    );
    let (s, body) = call(
        &hk.app,
        Request::post("/api/aml")
            .body(Body::from(aml_form.clone()))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(&key).unwrap();
    mac.update(aml_form.as_bytes());
    let signed = format!(
        "{aml_form}&hmac={}",
        hex::encode(mac.finalize().into_bytes())
    );
    let (s, _) = call(
        &hk.app,
        Request::post("/api/aml")
            .body(Body::from(signed.clone()))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let tampered = signed.replace("55.85732", "55.85733");
    let (s, _) = call(
        &hk.app,
        Request::post("/api/aml")
            .body(Body::from(tampered))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// A busy engine (full channel) gets 503 at once; a silent one 504 after the timeout.
/// Virtual time: the timeout elapses without waiting.
#[tokio::test(start_paused = true)]
async fn engine_busy_or_silent_is_503_or_504() {
    let views = Arc::new(SharedViews::new(Kpi::new(KpiConfig::default()).unwrap()));
    let (handle, _rx_never_read) = EngineHandle::channel(1, Duration::from_secs(2));
    let (events, _) = broadcast::channel(4);
    let state = ApiState::new(ApiSettings::default(), views, handle, events, None).unwrap();
    let app = http::router(state);
    let body = r#"{"state":"available"}"#;
    let (a, b) = tokio::join!(
        call(&app, post_json("/api/handlers/seat-1/state", body)),
        call(&app, post_json("/api/handlers/seat-2/state", body)),
    );
    let mut statuses = vec![a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        vec![StatusCode::SERVICE_UNAVAILABLE, StatusCode::GATEWAY_TIMEOUT]
    );
    assert!(a.1["error"].is_string() && b.1["error"].is_string());
}

/// Server-Sent Events over a real listener on port 0.
#[tokio::test]
async fn event_stream_delivers_broadcast_events() {
    let h = harness(
        ApiSettings {
            max_event_clients: 1,
            ..ApiSettings::default()
        },
        None,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(listener, h.app.clone(), None, async move {
        let _ = stop_rx.await;
    }));

    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    sock.write_all(b"GET /api/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        .await
        .unwrap();
    let mut got = String::new();
    let mut buf = [0u8; 4096];
    // Read the response head.
    while !got.contains("\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed early: {got}");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert!(got
        .to_ascii_lowercase()
        .contains("content-type: text/event-stream"));

    // A second client is over the limit of 1.
    let (s, body) = call(&h.app, get("/api/events")).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"], "too many event-stream clients");

    let payload = json!({"type": "call", "call": 8, "kind": "queued", "at_ms": 12});
    h.events
        .send(StreamEvent::new("call", &payload.to_string()))
        .unwrap();
    let want = format!("event: call\ndata: {payload}\n\n");
    while !got.contains(&want) {
        let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed early: {got}");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    drop(sock);
    let _ = stop_tx.send(());
    let _ = h.state;
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

/// QA pass: every rejection is a JSON `{"error": …}` 4xx that names what was sent.
#[tokio::test]
async fn rejections_are_json_and_name_what_was_sent() {
    let h = harness(ApiSettings::default(), None);
    // A path segment that is not UTF-8: axum's plain-text rejection, now JSON.
    for uri in ["/api/handlers/%00%ff/state", "/api/abandoned/%ff/done"] {
        let (s, body) = call(&h.app, post_json(uri, r#"{"state":"available"}"#)).await;
        assert!(s.is_client_error(), "{uri}: {s}");
        assert!(body["error"].is_string(), "{uri}: {body}");
    }
    // The AML form field actually sent is named.
    let form = |b: &str| {
        Request::post("/api/aml")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(b.to_owned()))
            .unwrap()
    };
    let (s, body) = call(
        &h.app,
        form("v=1&device_number=1&location_latitude=91&location_longitude=0"),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let msg = body["error"].as_str().unwrap();
    assert!(msg.contains("location_latitude"), "{msg}");
    assert!(!msg.contains("field lt "), "{msg}");
    // JSON to the form endpoint: 415, not "missing field".
    let (s, body) = call(&h.app, post_json("/api/aml", r#"{"location_latitude":51}"#)).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("x-www-form-urlencoded"));
    assert!(h.engine.lock().await.aml_reports.is_empty());
}

/// RFC 6750 §3.1: a wrong token is `invalid_token`; a missing one is a bare challenge.
#[tokio::test]
async fn wrong_bearer_token_is_invalid_token() {
    let token = "s3cret-token-for-tests-0123";
    let h = harness(
        ApiSettings {
            listen: "0.0.0.0:8080".parse().unwrap(),
            bearer_token: Some(token.into()),
            ..ApiSettings::default()
        },
        None,
    );
    let challenge = |r: &axum::response::Response| {
        r.headers()
            .get(header::WWW_AUTHENTICATE)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    let wrong = Request::get("/api/queue")
        .header(header::AUTHORIZATION, "Bearer nope-nope-nope-nope-nope")
        .body(Body::empty())
        .unwrap();
    let resp = h.app.clone().oneshot(wrong).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge(&resp),
        "Bearer realm=\"answerpoint\", error=\"invalid_token\""
    );
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16)
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["error"], "invalid bearer token");
    let none = h.app.clone().oneshot(get("/api/queue")).await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&none), "Bearer realm=\"answerpoint\"");
}

/// AML sanity (location::aml module docs): a year-5138 `location_time` or a 0 m accuracy
/// is answered 400 and never filed, so it cannot displace a real fix; a time a minute
/// ahead (clock skew) and an ordinary fix are filed (202).
#[tokio::test]
async fn aml_future_time_and_zero_accuracy_are_400_and_not_filed() {
    let h = harness(ApiSettings::default(), None);
    let form = |b: String| {
        Request::post("/api/aml")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(b))
            .unwrap()
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let base = "v=1&device_number=%2B447477593102&location_latitude=55.85&location_longitude=-4.26";
    let year_5138_ms = 99_999_999_999_999_i64; // 5138-11-16
    let (s, body) = call(
        &h.app,
        form(format!(
            "{base}&location_accuracy=5&location_time={year_5138_ms}"
        )),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("location_time"),
        "{body}"
    );
    let (s, body) = call(&h.app, form(format!("{base}&location_accuracy=0"))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("location_accuracy"),
        "{body}"
    );
    assert!(h.engine.lock().await.aml_reports.is_empty());

    // Over an hour old: refused, naming the field (not shown as the caller's position).
    let (s, body) = call(
        &h.app,
        form(format!(
            "{base}&location_accuracy=5&location_time={}",
            now_ms - 3_700_000
        )),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].as_str().unwrap().contains("s old"), "{body}");
    assert!(h.engine.lock().await.aml_reports.is_empty());

    let skewed = now_ms + 60_000;
    let (s, body) = call(
        &h.app,
        form(format!("{base}&location_accuracy=5&location_time={skewed}")),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    let e = h.engine.lock().await;
    assert_eq!(e.aml_reports, vec!["+447477593102".to_owned()]);
    let fix = e.aml.best(e.t0, "07477593102").unwrap();
    assert_eq!(fix.time_of_positioning_ms, Some(skewed));
    assert_eq!(fix.position.unwrap().radius_m, Some(5.0));
}
