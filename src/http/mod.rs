//! The HTTP interface (issue 6; docs/DESIGN.md §8) on axum: Prometheus metrics, the JSON API
//! for supervisors and other systems, the Server-Sent Events stream (W3C/WHATWG HTML
//! "Server-sent events", `text/event-stream`) and AML ingest (ETSI TS 103 625 HTTPS form).
//! Bearer tokens follow RFC 6750 §2.1 (`Authorization: Bearer <token>`).
//!
//! | route | what |
//! | --- | --- |
//! | `GET /metrics` | Prometheus text format ([`metrics`] lists the names) |
//! | `GET /api/kpi` | answer-time KPIs ([`crate::kpi::KpiReport`]) |
//! | `GET /api/queue` | queue depth per class and waiting calls |
//! | `GET /api/handlers` | handlers and their states |
//! | `POST /api/handlers/{id}/state` | `{"state": "available"}`, `{"state": "not-ready", "reason": "break"}`, `{"state": "logged-out"}` |
//! | `GET /api/calls` | live and recent calls |
//! | `GET /api/abandoned` | the abandoned-call callback list |
//! | `POST /api/abandoned/{id}/done` | mark a callback item done |
//! | `GET /api/events` | Server-Sent Events: one `event:` per engine event, JSON `data:` |
//! | `POST /api/aml` | AML HTTPS form body (`application/x-www-form-urlencoded`): 202 when filed; 400 for a bad field (e.g. `location_accuracy` 0 or over 100 km) or a `location_time` more than 5 min ahead of this server's clock or more than 1 h behind it ([`crate::location::aml::check_time`]), 403 bad HMAC, 413 too large |
//!
//! Errors are JSON `{"error": "..."}` ([`ApiError`]): malformed JSON 400/422, wrong
//! content type 415, unknown handler or callback 404, a state change the engine refuses
//! 409, an unknown state or a missing not-ready reason 400, missing/wrong token 401.
//! 5xx only when the engine is busy (503), stopped (503) or slow (504).
//!
//! The API binds to loopback by default; [`ApiSettings::validate`] refuses any other
//! address without a bearer token, and when a token is set every route requires it.
//!
//! # How to wire it (for the integrator)
//! The engine stays the single owner of routing state; the HTTP side only reads
//! published views and sends commands:
//!
//! 1. **Reads.** Implement [`ReadModel`] — or use [`SharedViews`] — over what the engine
//!    task publishes. With `SharedViews`, after each batch of inputs (or every ~100 ms)
//!    the engine task calls `views.publish(Views { queue, handlers, calls, abandoned })`
//!    with `serde_json::to_value` of `snapshot.queue` (depth + waiting), of
//!    `snapshot.handlers`, of `snapshot.calls` and of the callback list (the router's
//!    plus the journal's recovered items, see [`crate::store::Recovery`]).
//! 2. **Events.** For every `engine.poll_event()` the engine task (all non-blocking,
//!    O(1)): (a) updates [`crate::kpi::Kpi`] through `views.kpi()` on `Arrived` (class,
//!    wall arrival), `Answered` (answer ms = `at_ms − arrived_ms`), `Abandoned`;
//!    (b) records [`metrics`] (`call_arrived`, `call_outcome`, `observe_answer_time`,
//!    `observe_engine_latency` on the first `Offered`, `set_queue_depth` and
//!    `set_handlers` from the snapshot); (c) journals the call's current `CallView` as a
//!    [`crate::store::CallRecord`] (wall times = engine start wall time + `_ms`) and each
//!    abandoned call as a [`crate::store::CallbackRecord`] with
//!    [`crate::store::Journal::record`] (never blocks; count drops with
//!    `metrics::journal_dropped`); (d) `events.send(StreamEvent::new(kind,
//!    serde_json::to_string(&event)))` on the broadcast sender (no receivers is fine).
//! 3. **Commands.** `let (engine_handle, mut rx) = EngineHandle::channel(64,
//!    Duration::from_secs(2));` — the engine task `select!`s on `rx` beside its SIP
//!    input and timer and answers each [`ApiRequest`] (mapping in [`command`]).
//! 4. **Start.** `metrics::install()`, build [`ApiState`], `router(state)`, bind
//!    `settings.listen` with `tokio::net::TcpListener`, [`serve`] it. On start, open the
//!    journal first: its [`crate::store::Recovery::open_callbacks`] are the callback
//!    list the API shows until they are marked done (`POST /api/abandoned/{id}/done` →
//!    engine → `JournalRecord::CallbackDoneById`).
//! 5. **Config.** `[http]` carries `listen`, `enabled`, `bearer_token` and `aml_hmac_key`;
//!    [`ApiSettings::from_config`] fills the settings from them.
//!
//! `crate::runtime` does all of the above (`Server::bind_http`, the engine task's
//! observer in `runtime/observe.rs`).

pub mod command;
pub mod error;
pub mod metrics;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use parking_lot::{Mutex, RwLock};
use serde::Deserialize;
use tokio::sync::broadcast;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::{Stream, StreamExt};

pub use command::{ApiCommand, ApiCommandError, ApiRequest, EngineHandle};
pub use error::ApiError;

use crate::kpi::{Kpi, KpiReport};
use crate::location::aml::{check_time, parse_https_form, AmlError};
use crate::queue::RequestedState;

/// Longest handler id accepted in a path, bytes (config's `MAX_NAME_LEN`).
pub const MAX_HANDLER_ID_LEN: usize = 64;
/// Longest not-ready reason, characters.
pub const MAX_REASON_LEN: usize = 128;

// === settings ===

/// API settings (from `[http]` in the config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSettings {
    /// Listening address (default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// Bearer token (RFC 6750); required when `listen` is not a loopback address.
    pub bearer_token: Option<String>,
    /// Shared key for the AML `hmac` parameter; `None` accepts unsigned reports.
    pub aml_hmac_key: Option<Vec<u8>>,
    /// Largest request body, bytes (default 65,536).
    pub max_body_bytes: usize,
    /// Longest wait for the engine's answer to a command (default 2 s).
    pub command_timeout: Duration,
    /// Most concurrent event-stream clients (default 64); more get 503.
    pub max_event_clients: usize,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            bearer_token: None,
            aml_hmac_key: None,
            max_body_bytes: 65_536,
            command_timeout: Duration::from_secs(2),
            max_event_clients: 64,
        }
    }
}

/// An [`ApiSettings`] value that cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiSettingsError {
    /// Bound to a non-loopback address without a bearer token.
    #[error("http.listen {0} is not loopback: a bearer token is required")]
    TokenRequired(SocketAddr),
    /// The token is empty, longer than 256 bytes or has characters outside RFC 6750's
    /// `b64token` set.
    #[error("bearer token must be 16-256 characters of A-Z a-z 0-9 - . _ ~ + /")]
    BadToken,
}

impl ApiSettings {
    /// Settings for `[http]` of the engine config: `listen`, `bearer_token`,
    /// `aml_hmac_key` (its UTF-8 bytes); defaults for the rest.
    pub fn from_config(http: &crate::config::HttpConfig) -> ApiSettings {
        ApiSettings {
            listen: http.listen,
            bearer_token: http.bearer_token.clone(),
            aml_hmac_key: http.aml_hmac_key.as_ref().map(|k| k.as_bytes().to_vec()),
            ..ApiSettings::default()
        }
    }

    /// Checks that a non-loopback listener has a token and that the token is usable.
    ///
    /// # Errors
    /// [`ApiSettingsError`].
    pub fn validate(&self) -> Result<(), ApiSettingsError> {
        match &self.bearer_token {
            None if !self.listen.ip().is_loopback() => {
                Err(ApiSettingsError::TokenRequired(self.listen))
            }
            Some(t)
                if !(16..=256).contains(&t.len())
                    || !t
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)) =>
            {
                Err(ApiSettingsError::BadToken)
            }
            _ => Ok(()),
        }
    }
}

// === what the engine side provides ===

/// Read-only views the API serves, provided by the engine side (published snapshots).
/// Each method returns the JSON for one route; it must be cheap and never block on the
/// engine task.
pub trait ReadModel: Send + Sync + 'static {
    /// `GET /api/queue`: depth per class and waiting calls.
    fn queue(&self) -> serde_json::Value;
    /// `GET /api/handlers`.
    fn handlers(&self) -> serde_json::Value;
    /// `GET /api/calls`: live and recent calls.
    fn calls(&self) -> serde_json::Value;
    /// `GET /api/abandoned`: the callback list.
    fn abandoned(&self) -> serde_json::Value;
    /// `GET /api/kpi`.
    fn kpi(&self) -> KpiReport;
}

/// The views one publication carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Views {
    /// For `GET /api/queue`.
    pub queue: serde_json::Value,
    /// For `GET /api/handlers`.
    pub handlers: serde_json::Value,
    /// For `GET /api/calls`.
    pub calls: serde_json::Value,
    /// For `GET /api/abandoned`.
    pub abandoned: serde_json::Value,
}

/// A ready-made [`ReadModel`]: the engine task publishes [`Views`] and updates the
/// [`Kpi`]; HTTP handlers read them. Guards are held only to swap an `Arc` or apply one
/// KPI update (parking_lot; read-mostly data, docs/DESIGN.md §2).
#[derive(Debug)]
pub struct SharedViews {
    views: RwLock<Arc<Views>>,
    kpi: Mutex<Kpi>,
}

impl SharedViews {
    /// Empty views and the given KPI keeper.
    pub fn new(kpi: Kpi) -> SharedViews {
        SharedViews {
            views: RwLock::new(Arc::new(Views::default())),
            kpi: Mutex::new(kpi),
        }
    }

    /// Replaces the published views.
    pub fn publish(&self, views: Views) {
        *self.views.write() = Arc::new(views);
    }

    /// The KPI keeper, locked (update it from the engine task on call events).
    pub fn kpi(&self) -> parking_lot::MutexGuard<'_, Kpi> {
        self.kpi.lock()
    }

    fn current(&self) -> Arc<Views> {
        self.views.read().clone()
    }
}

impl ReadModel for SharedViews {
    fn queue(&self) -> serde_json::Value {
        self.current().queue.clone()
    }
    fn handlers(&self) -> serde_json::Value {
        self.current().handlers.clone()
    }
    fn calls(&self) -> serde_json::Value {
        self.current().calls.clone()
    }
    fn abandoned(&self) -> serde_json::Value {
        self.current().abandoned.clone()
    }
    fn kpi(&self) -> KpiReport {
        self.kpi.lock().report()
    }
}

/// One event for the SSE stream: the SSE `event:` name and the JSON `data:` line,
/// serialized once by the engine side and shared by every client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEvent {
    /// Event name (`call`, `handler-state`, …): no line breaks.
    pub kind: Arc<str>,
    /// JSON text: one line.
    pub json: Arc<str>,
}

impl StreamEvent {
    /// An event; line breaks in `kind` or `json` are replaced by spaces (SSE fields are
    /// one line; JSON allows whitespace anywhere a break could be).
    pub fn new(kind: &str, json: &str) -> StreamEvent {
        let one_line = |s: &str| -> Arc<str> {
            if s.contains(['\n', '\r']) {
                s.replace(['\n', '\r'], " ").into()
            } else {
                s.into()
            }
        };
        StreamEvent {
            kind: one_line(kind),
            json: one_line(json),
        }
    }
}

// === state and router ===

/// Everything the handlers share.
#[derive(Clone)]
pub struct ApiState {
    read: Arc<dyn ReadModel>,
    engine: EngineHandle,
    events: broadcast::Sender<StreamEvent>,
    metrics: Option<PrometheusHandle>,
    settings: Arc<ApiSettings>,
    event_clients: Arc<AtomicUsize>,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("settings", &self.settings.listen)
            .finish_non_exhaustive()
    }
}

impl ApiState {
    /// The shared state. `events` is the engine side's broadcast sender (its capacity
    /// bounds how far a slow SSE client may lag); `metrics` is `None` to serve 404 at
    /// `/metrics`.
    ///
    /// # Errors
    /// [`ApiSettingsError`] from [`ApiSettings::validate`].
    pub fn new(
        settings: ApiSettings,
        read: Arc<dyn ReadModel>,
        engine: EngineHandle,
        events: broadcast::Sender<StreamEvent>,
        metrics: Option<PrometheusHandle>,
    ) -> Result<ApiState, ApiSettingsError> {
        settings.validate()?;
        Ok(ApiState {
            read,
            engine,
            events,
            metrics,
            settings: Arc::new(settings),
            event_clients: Arc::new(AtomicUsize::new(0)),
        })
    }
}

/// The API router with every route, the body limit, bearer-token checking and JSON 404 /
/// 405 fallbacks.
pub fn router(state: ApiState) -> Router {
    let limit = state.settings.max_body_bytes;
    Router::new()
        .route("/metrics", get(get_metrics))
        .route("/api/kpi", get(get_kpi))
        .route("/api/queue", get(get_queue))
        .route("/api/handlers", get(get_handlers))
        .route("/api/handlers/{id}/state", post(post_handler_state))
        .route("/api/calls", get(get_calls))
        .route("/api/abandoned", get(get_abandoned))
        .route("/api/abandoned/{id}/done", post(post_abandoned_done))
        .route("/api/events", get(get_events))
        .route("/api/aml", post(post_aml))
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        })
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` completes, running the Prometheus
/// recorder's upkeep every 5 s when `metrics` is given.
///
/// # Errors
/// The listener's I/O error.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    metrics: Option<PrometheusHandle>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let upkeep = metrics.map(|h| {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                h.run_upkeep();
            }
        })
    });
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    if let Some(u) = upkeep {
        u.abort();
    }
    result
}

// === bearer token (RFC 6750 §2.1) ===

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn require_token(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let Some(token) = &state.settings.bearer_token else {
        return next.run(req).await;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
    // RFC 6750 §3.1: no credentials → a bare challenge; wrong ones → error="invalid_token".
    let (message, challenge) = match given {
        Some(g) if constant_time_eq(g.as_bytes(), token.as_bytes()) => return next.run(req).await,
        Some(_) => (
            "invalid bearer token",
            "Bearer realm=\"answerpoint\", error=\"invalid_token\"",
        ),
        None => ("bearer token required", "Bearer realm=\"answerpoint\""),
    };
    let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    resp
}

// === handlers ===

async fn get_metrics(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let handle = state
        .metrics
        .as_ref()
        .ok_or_else(|| ApiError::not_found("metrics are not enabled"))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        handle.render(),
    )
        .into_response())
}

/// Builds a view with `view` and serialises it as the JSON response on tokio's blocking
/// pool, not on the runtime thread: that thread also runs the engine (and, with
/// `realtime_priority`, at real-time priority), and copying and serialising a view of
/// thousands of calls (MBs) there held 999 INVITEs up by tens of ms while a supervisor's
/// dashboard polled `GET /api/calls`.
async fn json_off_engine_thread<T, F>(view: F) -> Response
where
    T: serde::Serialize,
    F: FnOnce() -> T + Send + 'static,
{
    match tokio::task::spawn_blocking(move || serde_json::to_vec(&view())).await {
        Ok(Ok(body)) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "view not serialisable");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "view rendering failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn get_kpi(State(state): State<ApiState>) -> Response {
    json_off_engine_thread(move || state.read.kpi()).await
}

async fn get_queue(State(state): State<ApiState>) -> Response {
    json_off_engine_thread(move || state.read.queue()).await
}

async fn get_handlers(State(state): State<ApiState>) -> Response {
    json_off_engine_thread(move || state.read.handlers()).await
}

/// A list of calls (`view` of the read model) with each location's `age_s` filled in at
/// render time, off the engine thread.
async fn calls_view(state: ApiState, view: fn(&dyn ReadModel) -> serde_json::Value) -> Response {
    json_off_engine_thread(move || {
        let mut calls = view(&*state.read);
        fill_location_age(&mut calls, unix_now_ms());
        calls
    })
    .await
}

async fn get_calls(State(state): State<ApiState>) -> Response {
    calls_view(state, |r| r.calls()).await
}

async fn get_abandoned(State(state): State<ApiState>) -> Response {
    calls_view(state, |r| r.abandoned()).await
}

/// Wall clock as Unix ms (the engine core has none; ages are computed at render time).
fn unix_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Fills `age_s` (s, issue 4's location summary) in every `location` object of a view
/// (`GET /api/calls`, `GET /api/abandoned`) from its `timestamp_ms` (PIDF-LO
/// `<timestamp>`, RFC 3863 §4.1.7, or the AML time of positioning) and `now_unix_ms`,
/// with [`crate::location::summary::age_s_between`]: 0 for a timestamp in the future,
/// `null` without a timestamp. Walks at most 4 levels deep (views are arrays of objects).
fn fill_location_age(value: &mut serde_json::Value, now_unix_ms: i64) {
    fn walk(value: &mut serde_json::Value, now_unix_ms: i64, depth: u8) {
        if depth == 0 {
            return;
        }
        match value {
            serde_json::Value::Array(items) => {
                for item in items {
                    walk(item, now_unix_ms, depth - 1);
                }
            }
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::Object(location)) = map.get_mut("location") {
                    let timestamp_ms = location.get("timestamp_ms").and_then(|t| t.as_i64());
                    let age_s = crate::location::summary::age_s_between(timestamp_ms, now_unix_ms);
                    location.insert("age_s".to_owned(), serde_json::json!(age_s));
                }
                for (key, item) in map.iter_mut() {
                    if key != "location" {
                        walk(item, now_unix_ms, depth - 1);
                    }
                }
            }
            _ => {}
        }
    }
    walk(value, now_unix_ms, 4);
}

/// Body of `POST /api/handlers/{id}/state`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateBody {
    state: String,
    reason: Option<String>,
}

fn requested_state(body: StateBody) -> Result<RequestedState, ApiError> {
    match (body.state.as_str(), body.reason) {
        ("available", None) => Ok(RequestedState::Available),
        ("logged-out", None) => Ok(RequestedState::LoggedOut),
        ("available" | "logged-out", Some(_)) => Err(ApiError::bad_request(
            "reason is only allowed with state not-ready",
        )),
        ("not-ready", Some(r)) => {
            let r = r.trim();
            if r.is_empty() || r.chars().count() > MAX_REASON_LEN || r.chars().any(char::is_control)
            {
                return Err(ApiError::bad_request(format!(
                    "reason must be 1-{MAX_REASON_LEN} printable characters"
                )));
            }
            Ok(RequestedState::NotReady(r.to_owned()))
        }
        ("not-ready", None) => Err(ApiError::bad_request("state not-ready needs a reason")),
        (other, _) => Err(ApiError::bad_request(format!(
            "unknown state {:?} (expected available, not-ready or logged-out)",
            other.chars().take(32).collect::<String>()
        ))),
    }
}

fn handler_id(id: &str) -> Result<String, ApiError> {
    if id.is_empty() || id.len() > MAX_HANDLER_ID_LEN || id.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "handler id must be 1-{MAX_HANDLER_ID_LEN} bytes without control characters"
        )));
    }
    Ok(id.to_owned())
}

async fn post_handler_state(
    State(state): State<ApiState>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<StateBody>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Path(id) = id?;
    let id = handler_id(&id)?;
    let Json(body) = body?;
    let requested = requested_state(body)?;
    let (name, reason) = match &requested {
        RequestedState::Available => ("available", None),
        RequestedState::NotReady(r) => ("not-ready", Some(r.clone())),
        RequestedState::LoggedOut => ("logged-out", None),
    };
    state
        .engine
        .send(ApiCommand::SetHandlerState {
            handler: id.clone(),
            state: requested,
        })
        .await?;
    Ok(Json(serde_json::json!({
        "handler": id,
        "requested": name,
        "reason": reason,
    })))
}

async fn post_abandoned_done(
    State(state): State<ApiState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Path(id) = id?;
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::bad_request("callback id must be a non-negative integer"))?;
    state.engine.send(ApiCommand::CallbackDone { id }).await?;
    Ok(Json(serde_json::json!({ "id": id, "done": true })))
}

async fn post_aml(
    State(state): State<ApiState>,
    headers: axum::http::HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    // The AML HTTPS report is an HTML form post (ETSI TS 103 625 §7.2); a body declared
    // as JSON or anything else is 415, not a misleading "missing field". No Content-Type
    // at all is read as the form (some senders omit it).
    let ct = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let essence = ct
        .as_deref()
        .map(|c| c.split(';').next().unwrap_or("").trim().to_owned());
    if let Some(ct) = ct.filter(|_| {
        essence
            .as_deref()
            .is_some_and(|e| !e.eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    }) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type must be application/x-www-form-urlencoded (got {:?})",
                ct.chars().take(64).collect::<String>()
            ),
        ));
    }
    let body = body?;
    let refuse = |e: AmlError| {
        let status = match e {
            AmlError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AmlError::HmacMissing | AmlError::HmacMismatch => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.to_string())
    };
    let fix = parse_https_form(&body, state.settings.aml_hmac_key.as_deref()).map_err(refuse)?;
    // A far-future time would win every "newest fix" tie-break: refused, not filed.
    check_time(&fix, unix_now_ms()).map_err(refuse)?;
    let caller = fix
        .device_number
        .clone()
        .filter(|n| n.chars().any(|c| c.is_ascii_digit()))
        .ok_or_else(|| ApiError::bad_request("device_number missing: cannot match a call"))?;
    state
        .engine
        .send(ApiCommand::AmlReport {
            caller: caller.clone(),
            fix: Box::new(fix),
        })
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "accepted": true, "caller": caller })),
    )
        .into_response())
}

/// Decrements the client count when an event stream ends.
struct ClientGuard(Arc<AtomicUsize>);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn get_events(
    State(state): State<ApiState>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let max = state.settings.max_event_clients;
    if state
        .event_clients
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            (n < max).then_some(n + 1)
        })
        .is_err()
    {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many event-stream clients",
        ));
    }
    let guard = ClientGuard(state.event_clients.clone());
    let stream = BroadcastStream::new(state.events.subscribe()).map(move |item| {
        let _held = &guard;
        Ok(match item {
            Ok(ev) => Event::default().event(&*ev.kind).data(&*ev.json),
            Err(BroadcastStreamRecvError::Lagged(n)) => {
                metrics::events_lagged(n);
                Event::default()
                    .event("lagged")
                    .data(format!("{{\"missed\":{n}}}"))
            }
        })
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_loopback_needs_a_token() {
        let mut s = ApiSettings {
            listen: "0.0.0.0:8080".parse().unwrap(),
            ..ApiSettings::default()
        };
        assert_eq!(s.validate(), Err(ApiSettingsError::TokenRequired(s.listen)));
        s.bearer_token = Some("short".into());
        assert_eq!(s.validate(), Err(ApiSettingsError::BadToken));
        s.bearer_token = Some("0123456789abcdef-TOKEN".into());
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(ApiSettings::default().validate(), Ok(()));
        let v6 = ApiSettings {
            listen: "[::1]:8080".parse().unwrap(),
            ..ApiSettings::default()
        };
        assert_eq!(v6.validate(), Ok(()));
    }

    #[test]
    fn settings_from_the_default_config() {
        let cfg = crate::config::Config::default();
        let s = ApiSettings::from_config(&cfg.http);
        assert_eq!(s.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(s.validate(), Ok(()));
    }

    #[tokio::test]
    async fn views_are_built_and_serialised_off_the_engine_thread() {
        let runtime_thread = std::thread::current().id();
        let resp = json_off_engine_thread(
            move || serde_json::json!({"off": std::thread::current().id() != runtime_thread}),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/json"
        );
        let body = axum::body::to_bytes(resp.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], br#"{"off":true}"#);
    }

    #[test]
    fn location_age_is_filled_at_render_time() {
        let mut calls = serde_json::json!([
            {"id": 1, "location": {"lat": 51.5, "timestamp_ms": 1_000_000}},
            {"id": 2, "location": {"lat": 51.5, "timestamp_ms": null}},
            {"id": 3, "location": null},
            {"id": 4, "location": {"timestamp_ms": 9_000_000}},
        ]);
        fill_location_age(&mut calls, 1_012_500);
        assert_eq!(calls[0]["location"]["age_s"], 12.5);
        assert_eq!(calls[1]["location"]["age_s"], serde_json::Value::Null);
        assert_eq!(calls[2]["location"], serde_json::Value::Null);
        // A handset clock ahead of ours: age 0, never negative.
        assert_eq!(calls[3]["location"]["age_s"], 0.0);
        assert!(unix_now_ms() > 1_767_225_600_000, "wall clock after 2026");
    }

    #[test]
    fn state_bodies() {
        let b = |state: &str, reason: Option<&str>| StateBody {
            state: state.into(),
            reason: reason.map(Into::into),
        };
        assert_eq!(
            requested_state(b("not-ready", Some(" break "))),
            Ok(RequestedState::NotReady("break".into()))
        );
        assert_eq!(
            requested_state(b("available", None)),
            Ok(RequestedState::Available)
        );
        assert_eq!(
            requested_state(b("not-ready", None)).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            requested_state(b("busy", None)).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        assert!(requested_state(b("not-ready", Some(&"x".repeat(129)))).is_err());
    }

    #[test]
    fn stream_events_are_one_line() {
        let e = StreamEvent::new("call", "{\n\"a\": 1\n}");
        assert_eq!(&*e.json, "{ \"a\": 1 }");
        assert_eq!(&*e.kind, "call");
    }

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
