//! Commands from the API to the engine's owner task: one bounded `tokio::sync::mpsc`
//! channel, each request with a `oneshot` reply (docs/DESIGN.md §2: one owner for routing
//! state; no lock per call). The API never waits on a full channel: it answers 503 at
//! once (fail fast, like linkerd's bounded queues).
//!
//! For the integrator: the engine task `select!`s on the receiver and, per request,
//! calls `engine.handle_command(now, cmd)` and sends the result back:
//!
//! ```text
//! ApiCommand::SetHandlerState { handler, state } → Command::SetHandlerState { handler, state }
//! ApiCommand::CallbackDone { id }                → Command::CallbackDone { callback: CallbackId(id) }
//! ApiCommand::AmlReport { caller, fix }          → the engine's AmlStore::ingest(now, &caller, *fix)
//! CommandError::UnknownHandler(h)                → ApiCommandError::UnknownHandler(h)       (404)
//! CommandError::Router(UnknownCallback(id))      → ApiCommandError::UnknownCallback(id.0)  (404)
//! any other CommandError                         → ApiCommandError::Refused(e.to_string()) (409)
//! ```

use std::time::Duration;

use axum::http::StatusCode;
use tokio::sync::{mpsc, oneshot};

use super::error::ApiError;
use crate::location::aml::AmlFix;
use crate::queue::RequestedState;

/// What the API asks of the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiCommand {
    /// Log a handler in or out, or set it ready / not ready (seat id or user name).
    SetHandlerState {
        /// Seat id or user name.
        handler: String,
        /// The requested state.
        state: RequestedState,
    },
    /// An abandoned call was called back: remove item `id` from the callback list.
    CallbackDone {
        /// Callback item id as listed by `GET /api/abandoned`.
        id: u64,
    },
    /// An AML report (ETSI TS 103 625 HTTPS form) for the caller `caller`.
    AmlReport {
        /// The handset's number (`device_number`).
        caller: String,
        /// The parsed fix (boxed: it is ten times larger than the other commands).
        fix: Box<AmlFix>,
    },
}

/// Why the engine refused a command (its state is unchanged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiCommandError {
    /// No handler with this id → 404.
    #[error("unknown handler {0}")]
    UnknownHandler(String),
    /// No callback item with this id → 404.
    #[error("unknown callback item {0}")]
    UnknownCallback(u64),
    /// The change is not allowed in the current state → 409.
    #[error("{0}")]
    Refused(String),
}

impl From<ApiCommandError> for ApiError {
    fn from(e: ApiCommandError) -> ApiError {
        let status = match e {
            ApiCommandError::UnknownHandler(_) | ApiCommandError::UnknownCallback(_) => {
                StatusCode::NOT_FOUND
            }
            ApiCommandError::Refused(_) => StatusCode::CONFLICT,
        };
        ApiError::new(status, e.to_string())
    }
}

/// One request on the command channel.
#[derive(Debug)]
pub struct ApiRequest {
    /// The command.
    pub command: ApiCommand,
    /// Where the engine task sends the outcome.
    pub reply: oneshot::Sender<Result<(), ApiCommandError>>,
}

/// The API's end of the command channel.
#[derive(Debug, Clone)]
pub struct EngineHandle {
    tx: mpsc::Sender<ApiRequest>,
    timeout: Duration,
}

impl EngineHandle {
    /// A bounded channel of `depth` requests; the API waits at most `timeout` for a
    /// reply. Returns the handle and the receiver for the engine task.
    pub fn channel(depth: usize, timeout: Duration) -> (EngineHandle, mpsc::Receiver<ApiRequest>) {
        let (tx, rx) = mpsc::channel(depth.max(1));
        (EngineHandle { tx, timeout }, rx)
    }

    /// Sends `command` and waits for the engine's answer.
    ///
    /// # Errors
    /// The engine's refusal as 404/409; 503 when the channel is full or the engine task
    /// has stopped; 504 when it does not answer within the timeout.
    pub async fn send(&self, command: ApiCommand) -> Result<(), ApiError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .try_send(ApiRequest { command, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "engine busy, retry")
                }
                mpsc::error::TrySendError::Closed(_) => {
                    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "engine stopped")
                }
            })?;
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(result)) => result.map_err(ApiError::from),
            Ok(Err(_)) => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "engine dropped the request",
            )),
            Err(_) => Err(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "engine did not answer in time",
            )),
        }
    }
}
