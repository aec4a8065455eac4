//! INVITE server transaction: RFC 3261 §17.2.1 (Figure 7) with the RFC 6026 §7.1 "Accepted"
//! state, sans-IO. This is the machine that absorbs a carrier's INVITE retransmissions while
//! a 999 call waits in the queue (docs/DESIGN.md §3).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::timers::Timers;
use super::{
    check_status, Reliability, ServerEvent, Timer, TimerConfig, TransactionError, TRYING_DELAY_MS,
};

/// Who sends the 100 (Trying) of RFC 3261 §17.2.1, made explicit at construction.
///
/// "The server transaction MUST generate a 100 (Trying) response unless it knows that the TU
/// will generate a provisional or final response within 200 ms." The 100 itself (built per
/// §8.2.6 from the INVITE, without a To tag) is supplied by the caller because the machine
/// does not build messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trying<M> {
    /// Send this 100 at once, when the transaction is created (what the engine does for
    /// carriers: "100 Trying at once", docs/DESIGN.md §1).
    Immediate(M),
    /// Send this 100 only if the TU has sent no response within 200 ms
    /// ([`TRYING_DELAY_MS`]), or at once if the INVITE is retransmitted before that.
    Delayed(M),
    /// The TU promises a response (its own 100 or anything else) within 200 ms; the
    /// transaction sends no 100 itself.
    ByTu,
}

/// State of an INVITE server transaction.
///
/// RFC 3261 Figure 7 as amended by RFC 6026 §8.7 (a 2xx leads to Accepted, where INVITE
/// retransmissions are absorbed and the ACK for the 2xx is passed to the TU):
///
/// ```text
///                                |INVITE
///                                |pass INV to TU
///             INVITE             V send 100 if TU won't in 200ms
///             send response+-----------+
///                 +--------|           |--------+101-199 from TU
///                 |        | Proceeding|        |send response
///                 +------->|           |<-------+
///                          |           |          Transport Err.
///                          |           |          Inform TU
///                          |           |--------------->+
///                          +-----------+                |
///             300-699 from TU |     |2xx from TU        |
///             send response   |     |send response      |
///                             |     |                   |
///             INVITE          V     V      2xx from TU  |
///             send response+---------+ +----------+  send response
///                 +--------|         | |          |<------+
///                 |        |Completed| | Accepted | ACK   |
///                 +------->|         | |          | to TU |
///            Timer G fires +---------+ |          |-------+
///            send response   |  |      +----------+ INVITE: absorb
///                            |  |           |             |
///                        ACK |  |Timer H    |Timer L      |
///                        -   |  |or Transp. |-            |
///                            |  |Err.       |             |
///                            V  |Inform TU  |             |
///                    +---------+|           |             |
///                    |Confirmed||           |             |
///                    +---------+|           |             |
///       Timer I fires   |       |           |             |
///       (0 on TCP)  -   V       V           V             |
///                    +-------------------------+          |
///                    |        Terminated       |<---------+
///                    +-------------------------+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteServerState {
    /// INVITE received; provisional responses from the TU are sent, retransmitted INVITEs
    /// answered with the latest provisional response.
    Proceeding,
    /// A 300–699 final response was sent; retransmitted by Timer G until the ACK (or H).
    Completed,
    /// The ACK for the non-2xx arrived; absorbing ACK retransmissions until Timer I.
    Confirmed,
    /// RFC 6026: a 2xx was sent; the TU retransmits it and owns the ACK; until Timer L.
    Accepted,
    /// Over; drop the transaction.
    Terminated,
}

impl InviteServerState {
    /// The state's name as in the RFC figure.
    pub fn name(self) -> &'static str {
        match self {
            InviteServerState::Proceeding => "Proceeding",
            InviteServerState::Completed => "Completed",
            InviteServerState::Confirmed => "Confirmed",
            InviteServerState::Accepted => "Accepted",
            InviteServerState::Terminated => "Terminated",
        }
    }
}

/// An INVITE server transaction (RFC 3261 §17.2.1, RFC 6026 §7.1), generic over the message
/// type `M`.
///
/// The creator passes the INVITE to the TU itself; this machine handles what follows:
/// retransmitted INVITEs ([`InviteServer::handle_invite`]), ACKs
/// ([`InviteServer::handle_ack`]) and the TU's responses ([`InviteServer::send_response`]).
#[derive(Debug, Clone)]
pub struct InviteServer<M> {
    state: InviteServerState,
    reliability: Reliability,
    config: TimerConfig,
    pending_trying: Option<M>,
    last_provisional: Option<M>,
    last_final: Option<M>,
    timer_g_interval: Duration,
    timers: Timers,
    transmits: VecDeque<M>,
    events: VecDeque<ServerEvent<M>>,
    response_retransmissions: u32,
    absorbed: u32,
}

impl<M: Clone> InviteServer<M> {
    /// Creates the transaction for an INVITE received at `now`, in Proceeding. With
    /// [`Trying::Immediate`] the 100 is queued at once; with [`Trying::Delayed`] the
    /// [`Timer::Trying`] is armed for 200 ms.
    pub fn new(
        now: Instant,
        reliability: Reliability,
        config: TimerConfig,
        trying: Trying<M>,
    ) -> Self {
        let config = config.normalized();
        let mut server = InviteServer {
            state: InviteServerState::Proceeding,
            reliability,
            config,
            pending_trying: None,
            last_provisional: None,
            last_final: None,
            timer_g_interval: config.t1(),
            timers: Timers::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            response_retransmissions: 0,
            absorbed: 0,
        };
        match trying {
            Trying::Immediate(hundred) => server.send_provisional(hundred),
            Trying::Delayed(hundred) => {
                server.pending_trying = Some(hundred);
                server
                    .timers
                    .arm(Timer::Trying, now + Duration::from_millis(TRYING_DELAY_MS));
            }
            Trying::ByTu => {}
        }
        server
    }

    /// A retransmission of the INVITE arrived (matched by [`super::ServerKey`]). It is
    /// absorbed, never passed to the TU (§17.2.1, RFC 6026 §7.1):
    ///
    /// - Proceeding: the latest provisional response is sent again (the pending 100 of
    ///   [`Trying::Delayed`] is sent now if nothing was sent yet);
    /// - Completed: the final response is sent again;
    /// - Confirmed, Accepted, Terminated: nothing is sent (in Accepted the TU retransmits
    ///   the 2xx itself).
    pub fn handle_invite(&mut self, _now: Instant) {
        self.absorbed += 1;
        match self.state {
            InviteServerState::Proceeding => {
                if let Some(hundred) = self.pending_trying.take() {
                    self.timers.disarm(Timer::Trying);
                    self.send_provisional(hundred);
                } else if let Some(last) = &self.last_provisional {
                    self.transmits.push_back(last.clone());
                    self.response_retransmissions += 1;
                }
            }
            InviteServerState::Completed => {
                if let Some(last) = &self.last_final {
                    self.transmits.push_back(last.clone());
                    self.response_retransmissions += 1;
                }
            }
            InviteServerState::Confirmed
            | InviteServerState::Accepted
            | InviteServerState::Terminated => {}
        }
    }

    /// An ACK matching this transaction arrived.
    ///
    /// - Completed: the ACK for our non-2xx final; state Confirmed, Timer I = T4 (or
    ///   Terminated at once on a reliable transport). Not passed to the TU.
    /// - Accepted: the ACK for the 2xx; passed to the TU as [`ServerEvent::Ack`]
    ///   (RFC 6026 §7.1), every copy.
    /// - Otherwise absorbed (ACK retransmissions in Confirmed; an ACK in Proceeding is a
    ///   peer error and is ignored).
    pub fn handle_ack(&mut self, now: Instant, ack: M) {
        match self.state {
            InviteServerState::Completed => {
                self.timers.clear();
                if self.reliability.is_reliable() {
                    self.terminate();
                } else {
                    self.state = InviteServerState::Confirmed;
                    self.timers.arm(Timer::I, now + self.config.t4());
                }
            }
            InviteServerState::Accepted => self.events.push_back(ServerEvent::Ack(ack)),
            InviteServerState::Proceeding
            | InviteServerState::Confirmed
            | InviteServerState::Terminated => self.absorbed += 1,
        }
    }

    /// The TU sends a response with status `status` at `now`.
    ///
    /// - 100–199 in Proceeding: sent; answers later INVITE retransmissions.
    /// - 200–299 in Proceeding: sent; state Accepted with Timer L = 64·T1 (RFC 6026).
    /// - 200–299 in Accepted: sent (the TU's own 2xx retransmission, RFC 3261 §13.3.1.4).
    /// - 300–699 in Proceeding: sent; state Completed; Timer G = T1 (unreliable) and
    ///   Timer H = 64·T1. A 487 after CANCEL (§9.2) takes this path.
    ///
    /// Errors: [`TransactionError::InvalidStatus`] outside 100–699;
    /// [`TransactionError::ResponseNotAllowed`] for anything else (e.g. a second final
    /// response, or a 1xx after the final) — nothing is sent then.
    pub fn send_response(
        &mut self,
        now: Instant,
        status: u16,
        response: M,
    ) -> Result<(), TransactionError> {
        check_status(status)?;
        match (self.state, status) {
            (InviteServerState::Proceeding, 100..=199) => {
                self.pending_trying = None;
                self.timers.disarm(Timer::Trying);
                self.send_provisional(response);
            }
            (InviteServerState::Proceeding, 200..=299) => {
                self.pending_trying = None;
                self.timers.clear();
                self.transmits.push_back(response);
                self.state = InviteServerState::Accepted;
                self.timers.arm(Timer::L, now + self.config.t1_x64());
            }
            (InviteServerState::Accepted, 200..=299) => self.transmits.push_back(response),
            (InviteServerState::Proceeding, _) => {
                self.pending_trying = None;
                self.timers.clear();
                self.transmits.push_back(response.clone());
                self.last_final = Some(response);
                self.state = InviteServerState::Completed;
                if !self.reliability.is_reliable() {
                    self.timer_g_interval = self.config.t1();
                    self.timers.arm(Timer::G, now + self.timer_g_interval);
                }
                self.timers.arm(Timer::H, now + self.config.t1_x64());
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

    /// The transport failed to send a response: inform the TU and terminate (§17.2.4). In
    /// Accepted the TU is informed but the state stays until Timer L (the 2xx is the TU's).
    pub fn handle_transport_error(&mut self, _now: Instant) {
        match self.state {
            InviteServerState::Proceeding | InviteServerState::Completed => {
                self.events.push_back(ServerEvent::TransportError);
                self.terminate();
            }
            InviteServerState::Accepted => self.events.push_back(ServerEvent::TransportError),
            InviteServerState::Confirmed | InviteServerState::Terminated => {}
        }
    }

    /// Fires every timer due at `now`.
    ///
    /// - Trying (Proceeding, nothing sent yet): send the 100.
    /// - Timer G (Completed): resend the final, next interval min(2·previous, T2).
    /// - Timer H (Completed): no ACK; inform the TU ([`ServerEvent::Timeout`]), terminate.
    /// - Timer I (Confirmed), Timer L (Accepted): terminate.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((timer, fired_at)) = self.timers.pop_due(now) {
            match (timer, self.state) {
                (Timer::Trying, InviteServerState::Proceeding) => {
                    if let Some(hundred) = self.pending_trying.take() {
                        self.send_provisional(hundred);
                    }
                }
                (Timer::G, InviteServerState::Completed) => {
                    if let Some(last) = &self.last_final {
                        self.transmits.push_back(last.clone());
                        self.response_retransmissions += 1;
                    }
                    self.timer_g_interval = self
                        .timer_g_interval
                        .saturating_mul(2)
                        .min(self.config.t2());
                    self.timers.arm(Timer::G, fired_at + self.timer_g_interval);
                }
                (Timer::H, InviteServerState::Completed) => {
                    self.events.push_back(ServerEvent::Timeout);
                    self.terminate();
                }
                (Timer::I, InviteServerState::Confirmed)
                | (Timer::L, InviteServerState::Accepted) => self.terminate(),
                _ => {}
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

    /// When [`InviteServer::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The current state.
    pub fn state(&self) -> InviteServerState {
        self.state
    }

    /// `true` while a CANCEL can still take effect: no final response sent yet (RFC 3261
    /// §9.2). The TU then answers the CANCEL with 200 on its own transaction and sends 487
    /// here with [`InviteServer::send_response`].
    pub fn is_cancellable(&self) -> bool {
        self.state == InviteServerState::Proceeding
    }

    /// The deadline of `timer`, if armed.
    pub fn timer(&self, timer: Timer) -> Option<Instant> {
        self.timers.deadline(timer)
    }

    /// How many responses were re-sent (Timer G or absorbed INVITE retransmissions).
    pub fn response_retransmissions(&self) -> u32 {
        self.response_retransmissions
    }

    /// How many retransmitted INVITEs and stray ACKs were absorbed.
    pub fn absorbed(&self) -> u32 {
        self.absorbed
    }

    /// `true` once Terminated.
    pub fn is_terminated(&self) -> bool {
        self.state == InviteServerState::Terminated
    }

    fn send_provisional(&mut self, response: M) {
        self.transmits.push_back(response.clone());
        self.last_provisional = Some(response);
    }

    fn terminate(&mut self) {
        self.state = InviteServerState::Terminated;
        self.timers.clear();
        self.pending_trying = None;
        self.events.push_back(ServerEvent::Terminated);
    }
}
