//! Non-INVITE client transaction: RFC 3261 §17.1.2 (Figure 6), sans-IO. Used for the
//! engine's own BYE, CANCEL, OPTIONS and REGISTER-like requests.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::timers::Timers;
use super::{check_status, ClientEvent, Reliability, Timer, TimerConfig, TransactionError};

/// State of a non-INVITE client transaction.
///
/// RFC 3261 Figure 6:
///
/// ```text
///                                    |Request from TU
///                                    |send request
///                Timer E             V
///                send request  +-----------+
///                    +---------|           |-------------------+
///                    |         |  Trying   |  Timer F          |
///                    +-------->|           |  or Transport Err.|
///                              +-----------+  inform TU        |
///                 200-699         |  |                         |
///                 resp. to TU     |  |1xx                      |
///                 +---------------+  |resp. to TU              |
///                 |                  |                         |
///                 |   Timer E        V       Timer F           |
///                 |   send req +-----------+ or Transport Err. |
///                 |  +---------|           | inform TU         |
///                 |  |         |Proceeding |------------------>|
///                 |  +-------->|           |-----+             |
///                 |            +-----------+     |1xx          |
///                 |              |      ^        |resp to TU   |
///                 | 200-699      |      +--------+             |
///                 | resp. to TU  |                             |
///                 |              V                             |
///                 |            +-----------+                   |
///                 |            |           |                   |
///                 |            | Completed |                   |
///                 |            |           |                   |
///                 |            +-----------+                   |
///                 |              ^   |                         |
///                 |              |   | Timer K (0 on TCP)      |
///                 +--------------+   | -                       |
///                                    V                         |
///                              +-----------+                   |
///                              | Terminated|<------------------+
///                              +-----------+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonInviteClientState {
    /// Request sent, no response yet; Timer E (unreliable) and Timer F armed.
    Trying,
    /// A provisional response arrived; Timer E keeps retransmitting every T2, F still runs.
    Proceeding,
    /// A final response arrived; absorbing its retransmissions until Timer K.
    Completed,
    /// Over; drop the transaction.
    Terminated,
}

impl NonInviteClientState {
    /// The state's name as in the RFC figure.
    pub fn name(self) -> &'static str {
        match self {
            NonInviteClientState::Trying => "Trying",
            NonInviteClientState::Proceeding => "Proceeding",
            NonInviteClientState::Completed => "Completed",
            NonInviteClientState::Terminated => "Terminated",
        }
    }
}

/// A non-INVITE client transaction (RFC 3261 §17.1.2), generic over the message type `M`.
#[derive(Debug, Clone)]
pub struct NonInviteClient<M> {
    state: NonInviteClientState,
    reliability: Reliability,
    config: TimerConfig,
    request: M,
    timer_e_interval: Duration,
    timers: Timers,
    transmits: VecDeque<M>,
    events: VecDeque<ClientEvent<M>>,
    retransmissions: u32,
}

impl<M: Clone> NonInviteClient<M> {
    /// Starts the transaction at `now`: queues `request` for transmission, arms Timer E = T1
    /// (unreliable only) and Timer F = 64·T1 (RFC 3261 §17.1.2.2).
    pub fn new(now: Instant, request: M, reliability: Reliability, config: TimerConfig) -> Self {
        let config = config.normalized();
        let mut timers = Timers::default();
        if !reliability.is_reliable() {
            timers.arm(Timer::E, now + config.t1());
        }
        timers.arm(Timer::F, now + config.t1_x64());
        let mut transmits = VecDeque::new();
        transmits.push_back(request.clone());
        NonInviteClient {
            state: NonInviteClientState::Trying,
            reliability,
            config,
            request,
            timer_e_interval: config.t1(),
            timers,
            transmits,
            events: VecDeque::new(),
            retransmissions: 0,
        }
    }

    /// Feeds a response matched to this transaction.
    ///
    /// - 1xx in Trying/Proceeding: to the TU, state Proceeding.
    /// - 200–699 in Trying/Proceeding: to the TU, state Completed with Timer K = T4
    ///   (unreliable) or straight to Terminated (reliable).
    /// - Anything in Completed or Terminated: absorbed (retransmissions of the final).
    ///
    /// Errors: [`TransactionError::InvalidStatus`] if `status` is not 100–699.
    pub fn handle_response(
        &mut self,
        now: Instant,
        status: u16,
        response: M,
    ) -> Result<(), TransactionError> {
        check_status(status)?;
        use NonInviteClientState::*;
        match (self.state, status) {
            (Trying | Proceeding, 100..=199) => {
                self.state = Proceeding;
                self.events
                    .push_back(ClientEvent::Response { status, response });
            }
            (Trying | Proceeding, _) => {
                self.timers.clear();
                self.events
                    .push_back(ClientEvent::Response { status, response });
                if self.reliability.is_reliable() {
                    self.terminate();
                } else {
                    self.state = Completed;
                    self.timers.arm(Timer::K, now + self.config.t4());
                }
            }
            (Completed | Terminated, _) => {}
        }
        Ok(())
    }

    /// The transport failed to send the request: inform the TU and terminate (§17.1.4).
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if matches!(
            self.state,
            NonInviteClientState::Trying | NonInviteClientState::Proceeding
        ) {
            self.events.push_back(ClientEvent::TransportError);
            self.terminate();
        }
    }

    /// Fires every timer due at `now`.
    ///
    /// - Timer E: retransmit; next interval min(2·previous, T2) in Trying, T2 in Proceeding.
    /// - Timer F (Trying/Proceeding): inform the TU of the timeout, terminate.
    /// - Timer K (Completed): terminate.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((timer, fired_at)) = self.timers.pop_due(now) {
            match (timer, self.state) {
                (Timer::E, NonInviteClientState::Trying | NonInviteClientState::Proceeding) => {
                    self.transmits.push_back(self.request.clone());
                    self.retransmissions += 1;
                    self.timer_e_interval = if self.state == NonInviteClientState::Proceeding {
                        self.config.t2()
                    } else {
                        self.timer_e_interval
                            .saturating_mul(2)
                            .min(self.config.t2())
                    };
                    self.timers.arm(Timer::E, fired_at + self.timer_e_interval);
                }
                (Timer::F, NonInviteClientState::Trying | NonInviteClientState::Proceeding) => {
                    self.events.push_back(ClientEvent::Timeout);
                    self.terminate();
                }
                (Timer::K, NonInviteClientState::Completed) => self.terminate(),
                _ => {}
            }
        }
    }

    /// The next message to hand to the transport (the request and its retransmissions).
    pub fn poll_transmit(&mut self) -> Option<M> {
        self.transmits.pop_front()
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<ClientEvent<M>> {
        self.events.pop_front()
    }

    /// When [`NonInviteClient::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The current state.
    pub fn state(&self) -> NonInviteClientState {
        self.state
    }

    /// The deadline of `timer`, if armed.
    pub fn timer(&self, timer: Timer) -> Option<Instant> {
        self.timers.deadline(timer)
    }

    /// How many retransmissions Timer E caused.
    pub fn retransmissions(&self) -> u32 {
        self.retransmissions
    }

    /// The request that created the transaction.
    pub fn request(&self) -> &M {
        &self.request
    }

    /// `true` once Terminated.
    pub fn is_terminated(&self) -> bool {
        self.state == NonInviteClientState::Terminated
    }

    fn terminate(&mut self) {
        self.state = NonInviteClientState::Terminated;
        self.timers.clear();
        self.events.push_back(ClientEvent::Terminated);
    }
}
