//! INVITE client transaction: RFC 3261 §17.1.1 (Figure 5) with the RFC 6026 §7.2 "Accepted"
//! state, sans-IO.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::timers::Timers;
use super::{check_status, ClientEvent, Reliability, Timer, TimerConfig, TransactionError};

/// State of an INVITE client transaction.
///
/// RFC 3261 Figure 5 as amended by RFC 6026 §8.4 (a 2xx no longer ends the transaction; it
/// enters Accepted so that 2xx retransmissions and other forks' 2xx reach the TU):
///
/// ```text
///                                |INVITE from TU
///              Timer A fires     |INVITE sent           Timer B fires
///              Reset A,          V                      or Transport Err.
///              INVITE sent +-----------+                inform TU
///                +---------|           |---------------------------+
///                |         |  Calling  |                           |
///                +-------->|           |-----------+               |
///   300-699                +-----------+ 2xx       |               |
///   ACK sent                  |  |       2xx to TU |               |
///   resp. to TU               |  |1xx              |               |
///           +-----------------+  |1xx to TU        |               |
///           |                    |                 |               |
///           |  1xx               V                 |               |
///           |  1xx to TU   +-----------+           |               |
///           |  +-----------|           |           |               |
///           |  |           |Proceeding |---------->|               |
///           |  +---------->|           | 2xx       |               |
///           |              +-----------+ 2xx to TU |               |
///           |     300-699     |                    |               |
///           |     ACK sent,   |                    |               |
///           |     resp. to TU |                    V               |
///           |                 |              +-----------+         |
///           |  300-699        V              |           | 2xx     |
///           |  ACK sent  +-----------+       | Accepted  | 2xx to  |
///           |  +---------|           |       |           |   TU    |
///           |  |         | Completed |       +-----------+<-+      |
///           |  +-------->|           |          |  |  |     |      |
///           |            +-----------+          |  |  +-----+      |
///           |              ^    |               |  |               |
///           +--------------+    | Timer D fires |  | Timer M fires |
///                               | (0 on TCP)    |  | -             |
///                               V               |  V               |
///                          +-----------+        |                  |
///                          | Terminated|<-------+------------------+
///                          +-----------+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteClientState {
    /// INVITE sent, no response yet; Timer A (unreliable) and Timer B armed.
    Calling,
    /// A provisional response arrived; waiting for a final one (no timeout: the TU CANCELs).
    Proceeding,
    /// A 300–699 arrived and was ACKed; absorbing its retransmissions until Timer D.
    Completed,
    /// RFC 6026: a 2xx arrived; further 2xx go to the TU until Timer M (64·T1).
    Accepted,
    /// Over; drop the transaction.
    Terminated,
}

impl InviteClientState {
    /// The state's name as in the RFC figure.
    pub fn name(self) -> &'static str {
        match self {
            InviteClientState::Calling => "Calling",
            InviteClientState::Proceeding => "Proceeding",
            InviteClientState::Completed => "Completed",
            InviteClientState::Accepted => "Accepted",
            InviteClientState::Terminated => "Terminated",
        }
    }
}

/// An INVITE client transaction (RFC 3261 §17.1.1, RFC 6026 §7.2), generic over the message
/// type `M`.
///
/// Created with the INVITE, which is queued for transmission at once. The ACK for a
/// non-2xx final response is part of this transaction (§17.1.1.3): the caller supplies it
/// (built from the INVITE and the response) through the `make_ack` closure of
/// [`InviteClient::handle_response`], and the machine re-sends that same ACK for every
/// retransmission of the final response. The ACK for a 2xx is not: it belongs to the TU.
#[derive(Debug, Clone)]
pub struct InviteClient<M> {
    state: InviteClientState,
    reliability: Reliability,
    config: TimerConfig,
    request: M,
    ack: Option<M>,
    timer_a_interval: Duration,
    timers: Timers,
    transmits: VecDeque<M>,
    events: VecDeque<ClientEvent<M>>,
    retransmissions: u32,
}

impl<M: Clone> InviteClient<M> {
    /// Starts the transaction at `now`: queues `invite` for transmission, arms Timer A = T1
    /// (unreliable transports only) and Timer B = 64·T1 (RFC 3261 §17.1.1.2).
    pub fn new(now: Instant, invite: M, reliability: Reliability, config: TimerConfig) -> Self {
        let config = config.normalized();
        let mut timers = Timers::default();
        if !reliability.is_reliable() {
            timers.arm(Timer::A, now + config.t1());
        }
        timers.arm(Timer::B, now + config.t1_x64());
        let mut transmits = VecDeque::new();
        transmits.push_back(invite.clone());
        InviteClient {
            state: InviteClientState::Calling,
            reliability,
            config,
            request: invite,
            ack: None,
            timer_a_interval: config.t1(),
            timers,
            transmits,
            events: VecDeque::new(),
            retransmissions: 0,
        }
    }

    /// Feeds a response matched to this transaction (see [`super::ClientKey`]).
    ///
    /// - 1xx in Calling/Proceeding: passed to the TU, state Proceeding.
    /// - 2xx in Calling/Proceeding/Accepted: passed to the TU, state Accepted, Timer M
    ///   (RFC 6026 §8.4); the TU sends the ACK.
    /// - 300–699 in Calling/Proceeding: `make_ack()` is called once, the ACK is sent, the
    ///   response goes to the TU, state Completed with Timer D (≥ 32 s; 0 on reliable).
    /// - 300–699 in Completed: the stored ACK is sent again, nothing reaches the TU.
    /// - Anything else (e.g. a 1xx after a final response) is absorbed.
    ///
    /// Errors: [`TransactionError::InvalidStatus`] if `status` is not 100–699.
    pub fn handle_response(
        &mut self,
        now: Instant,
        status: u16,
        response: M,
        make_ack: impl FnOnce() -> M,
    ) -> Result<(), TransactionError> {
        check_status(status)?;
        use InviteClientState::*;
        match (self.state, status) {
            (Calling | Proceeding, 100..=199) => {
                self.state = Proceeding;
                self.timers.disarm(Timer::A);
                self.timers.disarm(Timer::B);
                self.events
                    .push_back(ClientEvent::Response { status, response });
            }
            (Calling | Proceeding, 200..=299) => {
                self.state = Accepted;
                self.timers.clear();
                self.timers.arm(Timer::M, now + self.config.t1_x64());
                self.events
                    .push_back(ClientEvent::Response { status, response });
            }
            (Accepted, 200..=299) => {
                self.events
                    .push_back(ClientEvent::Response { status, response });
            }
            (Calling | Proceeding, _) => {
                let ack = make_ack();
                self.transmits.push_back(ack.clone());
                self.ack = Some(ack);
                self.timers.clear();
                self.events
                    .push_back(ClientEvent::Response { status, response });
                if self.reliability.is_reliable() {
                    self.terminate();
                } else {
                    self.state = Completed;
                    self.timers
                        .arm(Timer::D, now + self.config.timer_d_unreliable());
                }
            }
            (Completed, 300..=699) => {
                if let Some(ack) = &self.ack {
                    self.transmits.push_back(ack.clone());
                }
            }
            // Stray responses: 1xx after a final, 3xx-6xx after a 2xx, or anything once
            // terminated. Absorbed (RFC 3261 §17.1.1.2 only defines the transitions above).
            _ => {}
        }
        Ok(())
    }

    /// The transport failed to send the INVITE (or the ACK): inform the TU and terminate
    /// (RFC 3261 §17.1.4). In Accepted the failure concerns the TU's own ACK and is ignored.
    pub fn handle_transport_error(&mut self, _now: Instant) {
        match self.state {
            InviteClientState::Calling
            | InviteClientState::Proceeding
            | InviteClientState::Completed => {
                self.events.push_back(ClientEvent::TransportError);
                self.terminate();
            }
            InviteClientState::Accepted | InviteClientState::Terminated => {}
        }
    }

    /// Fires every timer due at `now`.
    ///
    /// - Timer A (Calling): retransmit the INVITE, double the interval (no cap for INVITE).
    /// - Timer B (Calling): inform the TU of the timeout, terminate.
    /// - Timer D (Completed), Timer M (Accepted): terminate.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((timer, fired_at)) = self.timers.pop_due(now) {
            match (timer, self.state) {
                (Timer::A, InviteClientState::Calling) => {
                    self.transmits.push_back(self.request.clone());
                    self.retransmissions += 1;
                    self.timer_a_interval = self.timer_a_interval.saturating_mul(2);
                    self.timers.arm(Timer::A, fired_at + self.timer_a_interval);
                }
                (Timer::B, InviteClientState::Calling) => {
                    self.events.push_back(ClientEvent::Timeout);
                    self.terminate();
                }
                (Timer::D, InviteClientState::Completed)
                | (Timer::M, InviteClientState::Accepted) => self.terminate(),
                // A timer left over from an earlier state cannot be armed: every transition
                // clears or re-arms. Ignore rather than panic.
                _ => {}
            }
        }
    }

    /// The next message to hand to the transport (the INVITE, its retransmissions, ACKs).
    pub fn poll_transmit(&mut self) -> Option<M> {
        self.transmits.pop_front()
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<ClientEvent<M>> {
        self.events.pop_front()
    }

    /// When [`InviteClient::handle_timeout`] must next be called; `None` once nothing is armed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The current state.
    pub fn state(&self) -> InviteClientState {
        self.state
    }

    /// The deadline of `timer`, if armed (for tests and diagnostics).
    pub fn timer(&self, timer: Timer) -> Option<Instant> {
        self.timers.deadline(timer)
    }

    /// How many INVITE retransmissions Timer A caused.
    pub fn retransmissions(&self) -> u32 {
        self.retransmissions
    }

    /// The INVITE that created the transaction.
    pub fn request(&self) -> &M {
        &self.request
    }

    /// `true` once Terminated.
    pub fn is_terminated(&self) -> bool {
        self.state == InviteClientState::Terminated
    }

    fn terminate(&mut self) {
        self.state = InviteClientState::Terminated;
        self.timers.clear();
        self.events.push_back(ClientEvent::Terminated);
    }
}
