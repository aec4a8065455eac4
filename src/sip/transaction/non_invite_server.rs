//! Non-INVITE server transaction: RFC 3261 §17.2.2 (Figure 8), sans-IO. Serves CANCEL, BYE,
//! OPTIONS and REGISTER received by the engine.

use std::collections::VecDeque;
use std::time::Instant;

use super::timers::Timers;
use super::{check_status, Reliability, ServerEvent, Timer, TimerConfig, TransactionError};

/// State of a non-INVITE server transaction.
///
/// RFC 3261 Figure 8:
///
/// ```text
///                                   |Request received
///                                   |pass to TU
///                                   V
///                             +-----------+
///                             |           |
///                             | Trying    |-------------+
///                             |           |             |
///                             +-----------+             |200-699 from TU
///                                   |                   |send response
///                                   |1xx from TU        |
///                                   |send response      |
///                                   |                   |
///                Request            V      1xx from TU  |
///                send response+-----------+send response|
///                    +--------|           |--------+    |
///                    |        | Proceeding|        |    |
///                    +------->|           |<-------+    |
///             +<--------------|           |             |
///             |Trnsprt Err    +-----------+             |
///             |Inform TU            |                   |
///             |                     |                   |
///             |                     |200-699 from TU    |
///             |                     |send response      |
///             |  Request            V                   |
///             |  send response+-----------+             |
///             |      +--------|           |             |
///             |      |        | Completed |<------------+
///             |      +------->|           |
///             +<--------------|           |
///             |Trnsprt Err    +-----------+
///             |Inform TU            |
///             |                     |Timer J fires (0 on TCP)
///             |                     |-
///             |                     V
///             |               +-----------+
///             +-------------->| Terminated|
///                             +-----------+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonInviteServerState {
    /// Request passed to the TU, nothing sent; retransmitted requests are discarded.
    Trying,
    /// A provisional response was sent; retransmitted requests get it again.
    Proceeding,
    /// The final response was sent; retransmitted requests get it again until Timer J.
    Completed,
    /// Over; drop the transaction.
    Terminated,
}

impl NonInviteServerState {
    /// The state's name as in the RFC figure.
    pub fn name(self) -> &'static str {
        match self {
            NonInviteServerState::Trying => "Trying",
            NonInviteServerState::Proceeding => "Proceeding",
            NonInviteServerState::Completed => "Completed",
            NonInviteServerState::Terminated => "Terminated",
        }
    }
}

/// A non-INVITE server transaction (RFC 3261 §17.2.2), generic over the message type `M`.
///
/// The creator passes the request to the TU; this machine absorbs its retransmissions
/// ([`NonInviteServer::handle_request`]) and sends the TU's responses.
#[derive(Debug, Clone)]
pub struct NonInviteServer<M> {
    state: NonInviteServerState,
    reliability: Reliability,
    config: TimerConfig,
    last_response: Option<M>,
    timers: Timers,
    transmits: VecDeque<M>,
    events: VecDeque<ServerEvent<M>>,
    response_retransmissions: u32,
    absorbed: u32,
}

impl<M: Clone> NonInviteServer<M> {
    /// Creates the transaction, in Trying, for a request received at `_now`.
    pub fn new(_now: Instant, reliability: Reliability, config: TimerConfig) -> Self {
        NonInviteServer {
            state: NonInviteServerState::Trying,
            reliability,
            config: config.normalized(),
            last_response: None,
            timers: Timers::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            response_retransmissions: 0,
            absorbed: 0,
        }
    }

    /// A retransmission of the request arrived. Absorbed: discarded in Trying; in
    /// Proceeding and Completed the last response is sent again (§17.2.2).
    pub fn handle_request(&mut self, _now: Instant) {
        self.absorbed += 1;
        if matches!(
            self.state,
            NonInviteServerState::Proceeding | NonInviteServerState::Completed
        ) {
            if let Some(last) = &self.last_response {
                self.transmits.push_back(last.clone());
                self.response_retransmissions += 1;
            }
        }
    }

    /// The TU sends a response with status `status` at `now`.
    ///
    /// - 1xx in Trying/Proceeding: sent, state Proceeding.
    /// - 200–699 in Trying/Proceeding: sent, state Completed with Timer J = 64·T1
    ///   (unreliable) or straight to Terminated (reliable).
    ///
    /// Errors: [`TransactionError::InvalidStatus`] outside 100–699;
    /// [`TransactionError::ResponseNotAllowed`] after the final response.
    pub fn send_response(
        &mut self,
        now: Instant,
        status: u16,
        response: M,
    ) -> Result<(), TransactionError> {
        check_status(status)?;
        use NonInviteServerState::*;
        match (self.state, status) {
            (Trying | Proceeding, 100..=199) => {
                self.state = Proceeding;
                self.transmits.push_back(response.clone());
                self.last_response = Some(response);
            }
            (Trying | Proceeding, _) => {
                self.transmits.push_back(response.clone());
                self.last_response = Some(response);
                if self.reliability.is_reliable() {
                    self.terminate();
                } else {
                    self.state = Completed;
                    self.timers.arm(Timer::J, now + self.config.t1_x64());
                }
            }
            (state, status) => {
                return Err(TransactionError::ResponseNotAllowed {
                    status,
                    state: state.name(),
                })
            }
        }
        Ok(())
    }

    /// The transport failed to send a response: inform the TU and terminate (§17.2.4).
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if matches!(
            self.state,
            NonInviteServerState::Proceeding | NonInviteServerState::Completed
        ) {
            self.events.push_back(ServerEvent::TransportError);
            self.terminate();
        }
    }

    /// Fires every timer due at `now`: Timer J in Completed terminates.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((timer, _)) = self.timers.pop_due(now) {
            if timer == Timer::J && self.state == NonInviteServerState::Completed {
                self.terminate();
            }
        }
    }

    /// The next response to hand to the transport.
    pub fn poll_transmit(&mut self) -> Option<M> {
        self.transmits.pop_front()
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<ServerEvent<M>> {
        self.events.pop_front()
    }

    /// When [`NonInviteServer::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The current state.
    pub fn state(&self) -> NonInviteServerState {
        self.state
    }

    /// The deadline of `timer`, if armed.
    pub fn timer(&self, timer: Timer) -> Option<Instant> {
        self.timers.deadline(timer)
    }

    /// How many responses were re-sent for retransmitted requests.
    pub fn response_retransmissions(&self) -> u32 {
        self.response_retransmissions
    }

    /// How many retransmitted requests were absorbed.
    pub fn absorbed(&self) -> u32 {
        self.absorbed
    }

    /// `true` once Terminated.
    pub fn is_terminated(&self) -> bool {
        self.state == NonInviteServerState::Terminated
    }

    fn terminate(&mut self) {
        self.state = NonInviteServerState::Terminated;
        self.timers.clear();
        self.events.push_back(ServerEvent::Terminated);
    }
}
