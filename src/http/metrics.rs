//! The engine's Prometheus metrics (issue 6; Prometheus naming conventions: base units,
//! `_seconds`, counters end in `_total`): their names, help texts, histogram buckets, the
//! recorder set-up, and one small function per observation so the engine side never
//! spells a metric name. Recording goes through the [`metrics`] facade (a few atomic
//! operations; nothing blocks); `GET /metrics` renders the text exposition format with
//! [`PrometheusHandle::render`].
//!
//! | metric | type | labels | meaning |
//! | --- | --- | --- | --- |
//! | `answerpoint_calls_arrived_total` | counter | `class` | INVITEs classified into a queue class |
//! | `answerpoint_calls_total` | counter | `class`, `outcome` | calls that reached an outcome ([`Outcome`]) |
//! | `answerpoint_queue_depth` | gauge | `class` | calls waiting now |
//! | `answerpoint_handlers` | gauge | `state` | handlers in each state (`logged-out`, `not-ready`, `available`, `ringing`, `busy`, `wrap-up`) |
//! | `answerpoint_answer_time_seconds` | histogram | `class` | INVITE arrival → handler's 200 OK |
//! | `answerpoint_engine_latency_seconds` | histogram | — | INVITE received (kernel receive stamp over UDP, so the wait in the socket counts) → INVITE sent to a free handler |
//! | `answerpoint_udp_wait_seconds` | histogram | — | every UDP datagram: kernel receive → the engine takes it (is the engine keeping up?) |
//! | `answerpoint_journal_dropped_total` | counter | — | journal records dropped (channel full) |
//! | `answerpoint_events_lagged_total` | counter | — | events an SSE client missed because it read too slowly |

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

use crate::call::CallClass;

/// Counter: calls classified into a queue class; label `class`.
pub const CALLS_ARRIVED_TOTAL: &str = "answerpoint_calls_arrived_total";
/// Counter: calls that reached an outcome; labels `class`, `outcome`.
pub const CALLS_TOTAL: &str = "answerpoint_calls_total";
/// Gauge: calls waiting; label `class`.
pub const QUEUE_DEPTH: &str = "answerpoint_queue_depth";
/// Gauge: handlers per state; label `state`.
pub const HANDLERS: &str = "answerpoint_handlers";
/// Histogram, s: answer time; label `class`.
pub const ANSWER_TIME_SECONDS: &str = "answerpoint_answer_time_seconds";
/// Histogram, s: INVITE in (the kernel's receive stamp over UDP) → INVITE to the handler.
pub const ENGINE_LATENCY_SECONDS: &str = "answerpoint_engine_latency_seconds";
/// Histogram, s: how long each UDP datagram waited (kernel receive → the engine takes it).
pub const UDP_WAIT_SECONDS: &str = "answerpoint_udp_wait_seconds";
/// Counter: journal records dropped.
pub const JOURNAL_DROPPED_TOTAL: &str = "answerpoint_journal_dropped_total";
/// Counter: events missed by slow SSE clients.
pub const EVENTS_LAGGED_TOTAL: &str = "answerpoint_events_lagged_total";
/// Counter: requests (INVITEs above all) refused without a dialog — 403 not a carrier,
/// 404 unknown number, 413 too large, 503 class limit, 4xx parse errors; label `status`.
pub const CALLS_REFUSED_TOTAL: &str = "answerpoint_calls_refused_total";

/// Answer-time buckets, s: the regulators' thresholds (5, 10, 15, 20, 60 s) are bucket
/// bounds, so `le` counts read off BT/Ofcom, police, NENA and Home Office figures.
pub const ANSWER_TIME_BUCKETS_S: [f64; 12] = [
    1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];
/// Engine-latency buckets, s: 10 µs to 100 ms (target: p99 well under 1 ms, docs/DESIGN.md §7).
pub const ENGINE_LATENCY_BUCKETS_S: [f64; 12] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.1,
];

/// Final outcome of a call, the `outcome` label of [`CALLS_TOTAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A handler answered.
    Answered,
    /// The caller hung up before an answer (callback list).
    Abandoned,
    /// Refused (503 at a non-emergency class limit, 404 unknown number).
    Rejected,
    /// Sent to a partner control room.
    Overflowed,
    /// Failed (no ACK, partner refused, internal error).
    Failed,
}

impl Outcome {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Abandoned => "abandoned",
            Outcome::Rejected => "rejected",
            Outcome::Overflowed => "overflowed",
            Outcome::Failed => "failed",
        }
    }
}

/// Registers help texts for every metric above (call once after installing a recorder).
pub fn describe() {
    describe_counter!(
        CALLS_ARRIVED_TOTAL,
        "Calls classified into a queue class (emergency, non-emergency, admin)."
    );
    describe_counter!(
        CALLS_TOTAL,
        "Calls that reached an outcome, by class and outcome."
    );
    describe_gauge!(QUEUE_DEPTH, "Calls waiting in the queue, by class.");
    describe_gauge!(HANDLERS, "Call handlers in each state.");
    describe_histogram!(
        ANSWER_TIME_SECONDS,
        metrics::Unit::Seconds,
        "Answer time: INVITE arrival to the handler's 200 OK, by class."
    );
    describe_histogram!(
        ENGINE_LATENCY_SECONDS,
        metrics::Unit::Seconds,
        "Engine latency: INVITE received (kernel receive time over UDP) to INVITE sent to a free handler."
    );
    describe_histogram!(
        UDP_WAIT_SECONDS,
        metrics::Unit::Seconds,
        "UDP datagram wait: kernel receive time to the engine taking the datagram."
    );
    describe_counter!(
        JOURNAL_DROPPED_TOTAL,
        "Journal records dropped because the writer channel was full."
    );
    describe_counter!(
        CALLS_REFUSED_TOTAL,
        "Requests (mostly INVITEs) refused without a dialog, by SIP status code sent."
    );
    describe_counter!(
        EVENTS_LAGGED_TOTAL,
        "Events missed by event-stream clients that read too slowly."
    );
}

/// A Prometheus recorder builder with this module's histogram buckets (histograms, not
/// summaries, so that `le` buckets aggregate across instances).
///
/// # Errors
/// Never in practice (bucket lists are non-empty constants).
pub fn builder() -> Result<PrometheusBuilder, BuildError> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(ANSWER_TIME_SECONDS.to_owned()),
            &ANSWER_TIME_BUCKETS_S,
        )?
        .set_buckets_for_metric(
            Matcher::Full(ENGINE_LATENCY_SECONDS.to_owned()),
            &ENGINE_LATENCY_BUCKETS_S,
        )?
        .set_buckets_for_metric(
            Matcher::Full(UDP_WAIT_SECONDS.to_owned()),
            &ENGINE_LATENCY_BUCKETS_S,
        )
}

static GLOBAL: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once (later calls return the same handle) and
/// registers the help texts. Run [`PrometheusHandle::run_upkeep`] every few seconds
/// ([`crate::http::serve`] does).
///
/// # Errors
/// [`BuildError`] when another recorder is already installed.
pub fn install() -> Result<PrometheusHandle, BuildError> {
    if let Some(h) = GLOBAL.get() {
        return Ok(h.clone());
    }
    let handle = builder()?.install_recorder()?;
    describe();
    Ok(GLOBAL.get_or_init(|| handle).clone())
}

// === observations (call these from the engine's owner task) ===

/// A call was classified into `class`.
pub fn call_arrived(class: CallClass) {
    counter!(CALLS_ARRIVED_TOTAL, "class" => class.as_str()).increment(1);
}

/// A call of `class` reached `outcome`.
pub fn call_outcome(class: CallClass, outcome: Outcome) {
    counter!(CALLS_TOTAL, "class" => class.as_str(), "outcome" => outcome.as_str()).increment(1);
}

/// `depth` calls of `class` are waiting.
pub fn set_queue_depth(class: CallClass, depth: usize) {
    gauge!(QUEUE_DEPTH, "class" => class.as_str()).set(depth as f64);
}

/// `count` handlers are in `state` (a [`crate::queue::HandlerState::as_str`] name).
pub fn set_handlers(state: &'static str, count: usize) {
    gauge!(HANDLERS, "state" => state).set(count as f64);
}

/// A call of `class` was answered `answer_time` after its INVITE arrived.
pub fn observe_answer_time(class: CallClass, answer_time: Duration) {
    histogram!(ANSWER_TIME_SECONDS, "class" => class.as_str()).record(answer_time.as_secs_f64());
}

/// The engine took `latency` from an INVITE's arrival to the INVITE sent to a handler.
pub fn observe_engine_latency(latency: Duration) {
    histogram!(ENGINE_LATENCY_SECONDS).record(latency.as_secs_f64());
}

/// A UDP datagram waited `wait` between the kernel queuing it and the engine taking it.
pub fn observe_udp_wait(wait: Duration) {
    histogram!(UDP_WAIT_SECONDS).record(wait.as_secs_f64());
}

/// `n` journal records were dropped.
pub fn journal_dropped(n: u64) {
    counter!(JOURNAL_DROPPED_TOTAL).increment(n);
}

/// The engine refused a request without a dialog with final `status` (RFC 3261 §21:
/// 403, 404, 413, 503 …): one increment of [`CALLS_REFUSED_TOTAL`] labelled
/// `status="<code>"`. Call it for each `EngineEvent::Refused { status, .. }`. A status
/// outside 300–699 (not a final non-2xx response) is counted as `status="other"`, so
/// the label set stays bounded.
pub fn call_refused(status: u16) {
    let label = if (300..=699).contains(&status) {
        status.to_string()
    } else {
        "other".to_owned()
    };
    counter!(CALLS_REFUSED_TOTAL, "status" => label).increment(1);
}

/// An SSE client missed `n` events.
pub fn events_lagged(n: u64) {
    counter!(EVENTS_LAGGED_TOTAL).increment(n);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_names_units_and_buckets() {
        let recorder = builder().unwrap().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            describe();
            call_arrived(CallClass::Emergency);
            call_arrived(CallClass::Emergency);
            call_outcome(CallClass::Emergency, Outcome::Answered);
            set_queue_depth(CallClass::NonEmergency, 3);
            set_handlers("available", 2);
            observe_answer_time(CallClass::Emergency, Duration::from_millis(4_200));
            observe_engine_latency(Duration::from_micros(80));
            observe_udp_wait(Duration::from_micros(30));
            observe_udp_wait(Duration::from_millis(3));
        });
        let text = handle.render();
        assert!(
            text.contains("answerpoint_calls_arrived_total{class=\"emergency\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("answerpoint_calls_total{class=\"emergency\",outcome=\"answered\"} 1")
        );
        assert!(text.contains("answerpoint_queue_depth{class=\"non-emergency\"} 3"));
        assert!(text.contains("answerpoint_handlers{state=\"available\"} 2"));
        // 4.2 s falls in le=5 and above, not le=2.
        assert!(
            text.contains("answerpoint_answer_time_seconds_bucket{class=\"emergency\",le=\"2\"} 0")
        );
        assert!(
            text.contains("answerpoint_answer_time_seconds_bucket{class=\"emergency\",le=\"5\"} 1")
        );
        assert!(text.contains("answerpoint_answer_time_seconds_count{class=\"emergency\"} 1"));
        assert!(text.contains("answerpoint_engine_latency_seconds_bucket{le=\"0.0001\"} 1"));
        // 30 µs and 3 ms: one in le=50 µs, both in le=5 ms.
        assert!(
            text.contains("answerpoint_udp_wait_seconds_bucket{le=\"0.00005\"} 1"),
            "{text}"
        );
        assert!(text.contains("answerpoint_udp_wait_seconds_bucket{le=\"0.005\"} 2"));
        assert!(text.contains("answerpoint_udp_wait_seconds_count 2"));
        assert!(text.contains("answerpoint_engine_latency_seconds_bucket{le=\"0.00005\"} 0"));
        assert!(text.contains("# HELP answerpoint_queue_depth Calls waiting in the queue"));
        assert!(text.contains("# TYPE answerpoint_answer_time_seconds histogram"));
    }

    #[test]
    fn refused_requests_are_counted_by_status() {
        let recorder = builder().unwrap().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            describe();
            call_refused(413);
            call_refused(413);
            call_refused(404);
            call_refused(503);
            call_refused(200);
        });
        let text = handle.render();
        assert!(
            text.contains("answerpoint_calls_refused_total{status=\"413\"} 2"),
            "{text}"
        );
        assert!(text.contains("answerpoint_calls_refused_total{status=\"404\"} 1"));
        assert!(text.contains("answerpoint_calls_refused_total{status=\"503\"} 1"));
        assert!(text.contains("answerpoint_calls_refused_total{status=\"other\"} 1"));
        assert!(text.contains("# TYPE answerpoint_calls_refused_total counter"));
    }
}
