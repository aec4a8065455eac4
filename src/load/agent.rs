//! The simulated peers of a load run: carriers (SIP UACs placing 999 and 101 calls,
//! RFC 3261 §13.2 / §9.1 CANCEL / §17.1.1.3 ACK) and handlers (UASs answering offers,
//! RFC 3261 §13.3, or softphones that REGISTER with digest, §10.2 / §22.4), all driven by
//! one tokio task over two loopback UDP sockets and a timer heap. Messages are built with
//! [`MessageBuilder`] and read with [`crate::sip::parse`]; nothing here is a second parser.
//!
//! Every call is followed to its outcome (answered, abandoned, rejected, cut off at the
//! end of the run, or lost), and two times are taken with µs resolution: answer time
//! (carrier INVITE sent → 200 OK received) and the first offer (carrier INVITE sent →
//! the engine's INVITE received at a handler). A first offer counts as **engine latency**
//! only when the harness knew, when it sent the carrier INVITE, that more handlers were
//! free than calls were waiting unoffered (each free for at least [`FREE_MARGIN`] after
//! its wrap-up): then the engine had nothing to wait for and the whole delay is its own
//! (plus two loopback hops and this task's scheduling). The other first offers include
//! queueing and are reported separately.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::UdpSocket;

use super::rxstamp;
use super::scenario::{FailureMode, HandlerMode, LoadScenario};
use crate::call::CallClass;
use crate::sim::Dist;
use crate::sip::{parse, Message, MessageBuilder, Method};

/// A handler counts as free for engine-latency purposes this long after its wrap-up
/// should have ended (covers the engine's own timer granularity), real time.
pub const FREE_MARGIN: Duration = Duration::from_millis(50);
/// RFC 3261 T1 for the harness's own retransmissions (real time).
const T1: Duration = Duration::from_millis(500);
/// Longest retransmission interval (RFC 3261 T2).
const T2: Duration = Duration::from_secs(4);
/// Sends of one request or 2xx before giving up (≈ Timer B / F of 32 s).
const MAX_SENDS: u32 = 7;
/// How long the end-of-run CANCELs and final BYEs may take, real time.
const CUTOFF_GRACE: Duration = Duration::from_secs(4);
/// How long registrations may take before traffic starts anyway, real time.
const REGISTER_WAIT: Duration = Duration::from_secs(10);
/// How far ahead of its arrival time a carrier INVITE is built and handed to the
/// [`Pacer`], real time: longer than any pause of the harness's own task should be.
const PACER_LOOKAHEAD: Duration = Duration::from_millis(20);

/// Outcome of one carrier call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 200 OK received; answer time known.
    Answered,
    /// Caller gave up: our CANCEL was answered with 487.
    Abandoned,
    /// A final response ≥ 300 not caused by our CANCEL (status code).
    Rejected(u16),
    /// Still waiting when the run ended; cancelled by the harness, not the caller.
    CutOff,
}

/// What the peers observed about one call.
#[derive(Debug, Clone)]
pub struct CallResult {
    /// The call's class.
    pub class: CallClass,
    /// Index of the phase it arrived in.
    pub phase: usize,
    /// Scenario time of arrival, s.
    pub arrival_s: f64,
    /// None: no final outcome (lost).
    pub outcome: Option<Outcome>,
    /// Carrier INVITE sent → 200 OK received, real µs.
    pub answer_us: Option<u64>,
    /// Carrier INVITE sent → first handler INVITE received, real µs.
    pub first_offer_us: Option<u64>,
    /// Whether a free handler was known to exist when the INVITE was sent.
    pub immediate: bool,
    /// Whether the call finished cleanly (final non-2xx, or BYE completed); an answered
    /// call that never finished counts as lost too.
    pub finished: bool,
    /// For a call cut off at the end of the run: how long it had waited unanswered
    /// (carrier INVITE sent → cut-off), real µs.
    pub cut_off_after_us: Option<u64>,
}

/// Raw results of a run, turned into a report by [`super::report`].
#[derive(Debug)]
pub struct RunData {
    /// Every call, in arrival order.
    pub calls: Vec<CallResult>,
    /// Engine latency (immediate first offers), µs.
    pub engine_latency_us: Histogram<u64>,
    /// How late each carrier INVITE left against its arrival time (the Poisson schedule),
    /// µs: the harness's own accuracy. Large values mean the harness could not keep the
    /// schedule and the arrivals the engine saw were burstier than the scenario's.
    pub send_lateness_us: Histogram<u64>,
    /// Every first offer, µs.
    pub first_offer_us: Histogram<u64>,
    /// Real time from traffic start to the end of the run.
    pub real_duration: Duration,
    /// Handlers that failed mid-run.
    pub handlers_failed: u32,
    /// Handlers registered before traffic started (registering groups only).
    pub handlers_registered: u32,
    /// Datagrams the peers could not parse.
    pub unparsable: u64,
    /// Offers (handler INVITEs) that reached a handler after it had failed: > 0 for
    /// `stop-answering`, 0 after a completed `logout`.
    pub offers_to_failed: u64,
    /// For answered calls that never finished: the handler leg's last state
    /// (`ringing`, `answered`, `bye-sent`, `ended`, `no-leg`) → count. Diagnostics.
    pub unfinished_leg_states: std::collections::BTreeMap<String, u64>,
}

/// Optional observer of progress: called about 5 times a real second with
/// `(elapsed scenario s, total scenario s, calls sent, calls finished)`.
pub type Progress<'a> = &'a mut dyn FnMut(f64, f64, u64, u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CState {
    /// Built and handed to the [`Pacer`]; not known to be sent yet.
    Scheduled,
    Calling,
    Answered,
    Ended,
}

struct Call {
    class: CallClass,
    phase: usize,
    arrival_s: f64,
    /// While [`CState::Scheduled`]: the arrival time the pacer sends at; then the send.
    sent: Instant,
    invite: Message,
    state: CState,
    cancelled: bool,
    cut_off: bool,
    /// See [`CallResult::cut_off_after_us`].
    cut_off_after_us: Option<u64>,
    outcome: Option<Outcome>,
    answer_us: Option<u64>,
    first_offer_us: Option<u64>,
    immediate: bool,
    ack: Option<Vec<u8>>,
    finished: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LState {
    Ringing,
    Answered,
    Bye,
    Ended,
}

struct Leg {
    handler: usize,
    invite: Message,
    call: Option<usize>,
    to_tag: String,
    last_response: Vec<u8>,
    source: SocketAddr,
    state: LState,
}

struct Sim {
    id: String,
    index: usize,
    mode: HandlerMode,
    think: Option<Dist>,
    no_answer_p: f64,
    registered: bool,
    failed: bool,
    busy: Option<String>,
    free_at: Instant,
    misses: u32,
    reg_cseq: u32,
    reg_call_id: String,
    reg_expires: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum RetxKey {
    Invite(usize),
    Cancel(usize),
    CarrierBye(usize),
    Ok200(String),
    HandlerBye(String),
    Register(usize),
}

struct Retx {
    bytes: Vec<u8>,
    to: SocketAddr,
    handler_side: bool,
    interval: Duration,
    sends: u32,
    gen: u64,
}

enum Timer {
    Patience(usize),
    Answer(String),
    HangUp(String),
    Retx(RetxKey, u64),
    Fail(usize),
}

/// The peers of one run. Build with [`Peers::bind`], read [`Peers::handler_addr`] to
/// generate the engine configuration, then [`Peers::run`] against the engine.
pub struct Peers {
    carrier: UdpSocket,
    pacer: Pacer,
    handler: UdpSocket,
    carrier_addr: SocketAddr,
    handler_addr: SocketAddr,
}

/// One carrier INVITE for the [`Pacer`]: send `bytes` to `to` at `due`.
struct PaceJob {
    call: usize,
    due: Instant,
    bytes: Vec<u8>,
    to: SocketAddr,
}

/// The carrier's INVITE sender: a thread of its own that sends each carrier INVITE at its
/// arrival time, so the engine sees the scenario's Poisson arrivals. Sent from the harness's
/// one task, INVITEs went out on tokio's 1 ms timer ticks and behind whatever that task
/// was handling (handlers' answers, BYEs, retransmissions): at 1,000 calls/s 30 % of the
/// gaps between INVITEs were under 50 µs (a Poisson process has 4.9 %), bursts of up to 30
/// INVITEs back to back, and the engine's latency measured the harness's bursts. The pacer
/// sleeps to each arrival time on its own (timer slack 1 ns on Linux, `prctl(2)`
/// `PR_SET_TIMERSLACK`), takes the send time just before `sendto`, and reports it on a
/// channel *before* sending, so the harness's task knows the send of every INVITE whose
/// answer it reads. It sends through a duplicate of the carrier socket's descriptor (same
/// socket: the engine's answers come back to the carrier). Should the pacer be preempted
/// between its stamp and `sendto`, that delay counts as engine latency: the error is
/// against the engine, never in its favour.
struct Pacer {
    jobs: Option<crossbeam_channel::Sender<PaceJob>>,
    /// `(call index, send time)`, in send order.
    sent: crossbeam_channel::Receiver<(usize, Instant)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Pacer {
    fn start(carrier: &UdpSocket) -> std::io::Result<Pacer> {
        use std::os::fd::AsFd;
        let socket = std::net::UdpSocket::from(carrier.as_fd().try_clone_to_owned()?);
        let (jobs, job_rx) = crossbeam_channel::unbounded::<PaceJob>();
        let (sent_tx, sent) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("load-pacer".into())
            .spawn(move || {
                #[cfg(target_os = "linux")]
                // SAFETY: prctl(2) PR_SET_TIMERSLACK changes only this thread's timer slack.
                unsafe {
                    libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
                }
                // A channel nothing is sent on: its `recv_deadline` is the sleep.
                let (_never_tx, never) = crossbeam_channel::bounded::<()>(0);
                for job in job_rx {
                    let _ = never.recv_deadline(job.due);
                    if sent_tx.send((job.call, Instant::now())).is_err() {
                        return;
                    }
                    // The socket is non-blocking (shared with tokio): a full send buffer
                    // loses the datagram like the network would; the harness's
                    // retransmission (T1) recovers it.
                    let _ = socket.send_to(&job.bytes, job.to);
                }
            })?;
        Ok(Pacer {
            jobs: Some(jobs),
            sent,
            thread: Some(thread),
        })
    }

    /// Hands `job` to the pacer thread (in arrival order).
    fn send_at(&self, job: PaceJob) {
        if let Some(j) = &self.jobs {
            let _ = j.send(job);
        }
    }

    /// Waits until every job handed over has been sent, and stops the thread.
    fn finish(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Peers {
    /// Binds the carrier and handler sockets on `127.0.0.1:0`.
    ///
    /// # Errors
    /// The operating system's error when a socket cannot be bound.
    pub async fn bind() -> std::io::Result<Peers> {
        let carrier = UdpSocket::bind("127.0.0.1:0").await?;
        let handler = UdpSocket::bind("127.0.0.1:0").await?;
        // Arrival times are the kernel's receive stamps (see `rxstamp`). The receive buffers
        // are as large as the engine's, so a burst the harness cannot read at once (it
        // shares the cores with the engine) waits in the kernel instead of being dropped
        // and showing up as a 500 ms SIP retransmission in the engine's latency.
        for s in [&carrier, &handler] {
            crate::runtime::udp::enlarge_recv_buffer(s);
            if let Err(e) = rxstamp::enable(s) {
                tracing::debug!(error = %e, "no kernel receive timestamps: read time used");
            }
        }
        Ok(Peers {
            carrier_addr: carrier.local_addr()?,
            handler_addr: handler.local_addr()?,
            pacer: Pacer::start(&carrier)?,
            carrier,
            handler,
        })
    }

    /// Where the simulated handlers listen (seat contacts point here).
    pub fn handler_addr(&self) -> SocketAddr {
        self.handler_addr
    }

    /// Where the simulated carrier sends from.
    pub fn carrier_addr(&self) -> SocketAddr {
        self.carrier_addr
    }

    /// Runs `scenario` against the engine listening on UDP `engine`: registers the
    /// registering handlers, places every call, follows it to its outcome, then cancels
    /// what is still waiting after the drain time and waits [`CUTOFF_GRACE`] for the rest.
    pub async fn run(
        self,
        scenario: &LoadScenario,
        engine: SocketAddr,
        progress: Option<Progress<'_>>,
    ) -> RunData {
        let mut w = World::new(self, scenario, engine);
        w.run(progress).await
    }
}

struct World<'s> {
    sc: &'s LoadScenario,
    p: Peers,
    engine: SocketAddr,
    rng: StdRng,
    /// Caller patience draws, in arrival order: independent of network timing, so the
    /// same seed gives the same patience to the same call.
    patience_rng: StdRng,
    calls: Vec<Call>,
    by_call_id: HashMap<String, usize>,
    handlers: Vec<Sim>,
    by_handler_id: HashMap<String, usize>,
    legs: HashMap<String, Leg>,
    retx: HashMap<RetxKey, Retx>,
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
    timer_data: HashMap<u64, Timer>,
    seq: u64,
    start: Instant,
    waiting_unoffered: usize,
    engine_latency: Histogram<u64>,
    first_offer: Histogram<u64>,
    unparsable: u64,
    offers_to_failed: u64,
    finished_calls: u64,
    handlers_failed: u32,
    pidf_body: Vec<u8>,
    sdp: String,
    send_lateness: Histogram<u64>,
    /// Carrier INVITEs handed to the pacer and not yet reported sent, by call.
    unsent: HashMap<usize, Vec<u8>>,
}

fn histogram() -> Histogram<u64> {
    // 1 µs .. 1 h, 3 significant digits: the bounds are valid constants.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap_or_else(|_| Histogram::new(3).unwrap())
}

impl<'s> World<'s> {
    fn new(p: Peers, sc: &'s LoadScenario, engine: SocketAddr) -> World<'s> {
        let now = Instant::now();
        let mut handlers = Vec::new();
        let mut by_handler_id = HashMap::new();
        for (i, g, id) in sc.handler_ids() {
            by_handler_id.insert(id.clone(), i);
            handlers.push(Sim {
                reg_call_id: format!("reg-{id}-{}@load", std::process::id()),
                id,
                index: i,
                mode: g.mode,
                think: g.think,
                no_answer_p: g.no_answer_probability,
                registered: g.mode == HandlerMode::Static,
                failed: false,
                busy: None,
                free_at: now,
                misses: 0,
                reg_cseq: 0,
                reg_expires: 3600,
            });
        }
        let sdp = format!(
            "v=0\r\no=load 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {} RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n",
            p.carrier_addr.port()
        );
        World {
            sc,
            engine,
            rng: StdRng::seed_from_u64(sc.seed),
            patience_rng: StdRng::seed_from_u64(sc.seed ^ 0x9e37_79b9_7f4a_7c15),
            calls: Vec::new(),
            by_call_id: HashMap::new(),
            handlers,
            by_handler_id,
            legs: HashMap::new(),
            retx: HashMap::new(),
            timers: BinaryHeap::new(),
            timer_data: HashMap::new(),
            seq: 0,
            start: now,
            waiting_unoffered: 0,
            engine_latency: histogram(),
            first_offer: histogram(),
            unparsable: 0,
            offers_to_failed: 0,
            finished_calls: 0,
            handlers_failed: 0,
            pidf_body: pidf_multipart(&sdp),
            sdp,
            send_lateness: histogram(),
            unsent: HashMap::new(),
            p,
        }
    }

    /// `scenario_s` in real time. Sampled times are clamped to [`super::scenario::MAX_TIME_S`]
    /// real seconds, so a far tail of a distribution cannot overflow the clock.
    fn real(&self, scenario_s: f64) -> Duration {
        let s = scenario_s / self.sc.time_scale;
        Duration::from_secs_f64(if s.is_finite() {
            s.clamp(0.0, super::scenario::MAX_TIME_S)
        } else {
            0.0
        })
    }

    fn at(&mut self, when: Instant, t: Timer) {
        self.seq += 1;
        self.timers.push(Reverse((when, self.seq)));
        self.timer_data.insert(self.seq, t);
    }

    async fn send(&self, handler_side: bool, bytes: &[u8], to: SocketAddr) {
        let sock = if handler_side {
            &self.p.handler
        } else {
            &self.p.carrier
        };
        // A refused datagram is like a lost one: retransmission or the lost count covers it.
        let _ = sock.send_to(bytes, to).await;
    }

    async fn send_retx(
        &mut self,
        key: RetxKey,
        handler_side: bool,
        bytes: Vec<u8>,
        to: SocketAddr,
    ) {
        self.send(handler_side, &bytes, to).await;
        self.track_retx(key, handler_side, bytes, to, Instant::now());
    }

    /// Retransmits `bytes` (sent at `sent`) to `to` until [`Retx`] is cleared by an answer.
    fn track_retx(
        &mut self,
        key: RetxKey,
        handler_side: bool,
        bytes: Vec<u8>,
        to: SocketAddr,
        sent: Instant,
    ) {
        self.seq += 1;
        let gen = self.seq;
        self.retx.insert(
            key.clone(),
            Retx {
                bytes,
                to,
                handler_side,
                interval: T1,
                sends: 1,
                gen,
            },
        );
        self.at(sent + T1, Timer::Retx(key, gen));
    }

    async fn run(&mut self, mut progress: Option<Progress<'_>>) -> RunData {
        let mut cbuf = vec![0u8; 65_536];
        let mut hbuf = vec![0u8; 65_536];

        // 1. Registrations.
        let reg: Vec<usize> = (0..self.handlers.len())
            .filter(|&i| self.handlers[i].mode == HandlerMode::Register)
            .collect();
        for &i in &reg {
            self.send_register(i, None).await;
        }
        let reg_deadline = Instant::now() + REGISTER_WAIT;
        while reg.iter().any(|&i| !self.handlers[i].registered) && Instant::now() < reg_deadline {
            self.step(&mut cbuf, &mut hbuf, Some(reg_deadline)).await;
        }
        let handlers_registered = reg.iter().filter(|&&i| self.handlers[i].registered).count();

        // 2. Traffic.
        self.start = Instant::now();
        let arrivals = self.sc.arrivals(&mut self.rng);
        for (gi, g) in self.sc.handlers.iter().enumerate() {
            if let Some(f) = &g.failure {
                let at = self.start + self.real(f.at_s);
                self.at(at, Timer::Fail(gi));
            }
        }
        let total_s = self.sc.phases_s();
        let end_arrivals = self.start + self.real(total_s);
        let drain_deadline = end_arrivals + self.real(self.sc.drain_s);
        let mut next = 0usize;
        let mut last_progress = Instant::now();
        loop {
            let now = Instant::now();
            self.take_sent();
            while let Some(&(t, class)) = arrivals.get(next) {
                let due = self.start + self.real(t);
                if due > now + PACER_LOOKAHEAD {
                    break;
                }
                next += 1;
                self.schedule_call(t, due, class);
            }
            if let Some(cb) = progress.as_mut() {
                if now.duration_since(last_progress) >= Duration::from_millis(200) {
                    last_progress = now;
                    let el = now.duration_since(self.start).as_secs_f64() * self.sc.time_scale;
                    cb(el, total_s, self.calls.len() as u64, self.finished_calls);
                }
            }
            // `finished_calls` counts calls in state Ended: O(1) per datagram.
            let all_done = next >= arrivals.len() && self.finished_calls == self.calls.len() as u64;
            if all_done || (next >= arrivals.len() && now >= drain_deadline) {
                break;
            }
            let wake = arrivals
                .get(next)
                .map(|&(t, _)| {
                    let due = self.start + self.real(t);
                    due.checked_sub(PACER_LOOKAHEAD).unwrap_or(due)
                })
                .unwrap_or(drain_deadline)
                .min(now + Duration::from_millis(200));
            self.step(&mut cbuf, &mut hbuf, Some(wake)).await;
        }

        // Every arrival is due by now: let the pacer send what it still holds.
        self.p.pacer.finish();
        self.take_sent();

        // 3. Cut-off: cancel what still waits, hang up what is still connected.
        for n in 0..self.calls.len() {
            if self.calls[n].state == CState::Calling && !self.calls[n].cancelled {
                self.calls[n].cut_off = true;
                self.calls[n].cut_off_after_us = Some(micros(
                    Instant::now().saturating_duration_since(self.calls[n].sent),
                ));
                self.cancel(n).await;
            }
        }
        let legs: Vec<String> = self
            .legs
            .iter()
            .filter(|(_, l)| l.state == LState::Answered)
            .map(|(k, _)| k.clone())
            .collect();
        for leg in legs {
            self.hang_up(&leg).await;
        }
        let grace = Instant::now() + CUTOFF_GRACE;
        while Instant::now() < grace && self.finished_calls < self.calls.len() as u64 {
            self.step(&mut cbuf, &mut hbuf, Some(grace)).await;
        }
        let real_duration = self.start.elapsed();
        if let Some(cb) = progress.as_mut() {
            cb(
                total_s,
                total_s,
                self.calls.len() as u64,
                self.finished_calls,
            );
        }

        let mut leg_of: HashMap<usize, LState> = HashMap::new();
        for l in self.legs.values() {
            if let Some(n) = l.call {
                leg_of.insert(n, l.state);
            }
        }
        let mut unfinished_leg_states = std::collections::BTreeMap::new();
        for (n, c) in self.calls.iter().enumerate() {
            if c.outcome == Some(Outcome::Answered) && !c.finished {
                let k = match leg_of.get(&n) {
                    Some(LState::Ringing) => "ringing",
                    Some(LState::Answered) => "answered",
                    Some(LState::Bye) => "bye-sent",
                    Some(LState::Ended) => "ended",
                    None => "no-leg",
                };
                *unfinished_leg_states.entry(k.to_owned()).or_insert(0u64) += 1;
            }
        }
        let calls = self
            .calls
            .iter()
            .map(|c| CallResult {
                class: c.class,
                phase: c.phase,
                arrival_s: c.arrival_s,
                outcome: if c.state == CState::Ended || c.outcome == Some(Outcome::Answered) {
                    c.outcome
                } else {
                    None
                },
                answer_us: c.answer_us,
                first_offer_us: c.first_offer_us,
                immediate: c.immediate,
                finished: c.finished,
                cut_off_after_us: c.cut_off_after_us,
            })
            .collect();
        RunData {
            calls,
            engine_latency_us: std::mem::replace(&mut self.engine_latency, histogram()),
            send_lateness_us: std::mem::replace(&mut self.send_lateness, histogram()),
            first_offer_us: std::mem::replace(&mut self.first_offer, histogram()),
            real_duration,
            handlers_failed: self.handlers_failed,
            handlers_registered: handlers_registered as u32,
            unparsable: self.unparsable,
            offers_to_failed: self.offers_to_failed,
            unfinished_leg_states,
        }
    }

    /// Waits for one datagram or the next timer (or `until`), and handles it.
    async fn step(&mut self, cbuf: &mut [u8], hbuf: &mut [u8], until: Option<Instant>) {
        let next_timer = self.timers.peek().map(|Reverse((t, _))| *t);
        let wake = match (next_timer, until) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a
                .or(b)
                .unwrap_or_else(|| Instant::now() + Duration::from_millis(200)),
        };
        tokio::select! {
            r = rxstamp::recv(&self.p.carrier, cbuf) => {
                if let Ok((n, from, now)) = r {
                    self.take_sent();
                    match parse(&cbuf[..n]) {
                        Ok(msg) => self.on_carrier(now, msg, from).await,
                        Err(_) => self.unparsable += 1,
                    }
                }
            }
            r = rxstamp::recv(&self.p.handler, hbuf) => {
                if let Ok((n, from, now)) = r {
                    self.take_sent();
                    match parse(&hbuf[..n]) {
                        Ok(msg) => self.on_handler(now, msg, from).await,
                        Err(_) => self.unparsable += 1,
                    }
                }
            }
            _ = tokio::time::sleep_until(wake.into()) => {}
        }
        let now = Instant::now();
        while let Some(&Reverse((t, id))) = self.timers.peek() {
            if t > now {
                break;
            }
            self.timers.pop();
            if let Some(timer) = self.timer_data.remove(&id) {
                self.on_timer(timer).await;
            }
        }
    }

    // === carrier side ===

    fn free_handlers(&self, now: Instant) -> usize {
        self.handlers
            .iter()
            .filter(|h| {
                h.registered
                    && !h.failed
                    && h.busy.is_none()
                    && h.misses == 0
                    && now >= h.free_at + FREE_MARGIN
            })
            .count()
    }

    /// Builds call `n`'s carrier INVITE and hands it to the [`Pacer`] for its arrival time
    /// `due` (scenario time `arrival_s`); the call is [`CState::Scheduled`] until the pacer
    /// reports the send ([`World::take_sent`]).
    fn schedule_call(&mut self, arrival_s: f64, due: Instant, class: CallClass) {
        let n = self.calls.len();
        let number = format!("+4477{n:09}");
        let local = self.p.carrier_addr;
        let (uri, to) = match class {
            CallClass::Emergency => ("urn:service:sos".to_owned(), "<urn:service:sos>".to_owned()),
            _ => (
                format!("sip:101@{}", self.engine),
                format!("<sip:101@{}>", self.engine),
            ),
        };
        let mut b = MessageBuilder::request(Method::Invite, &uri)
            .header(
                "Via",
                &format!("SIP/2.0/UDP {local};branch=z9hG4bKload{n}i;rport"),
            )
            .header("Max-Forwards", "70")
            .header("From", &format!("<sip:{number}@{local}>;tag=c{n}"))
            .header("To", &to)
            .header("Call-ID", &call_id(n))
            .header("CSeq", "1 INVITE")
            .header("Contact", &format!("<sip:{number}@{local}>"))
            .header("P-Asserted-Identity", &format!("<tel:{number}>"))
            .header("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS");
        b = if class == CallClass::Emergency {
            b.header("Geolocation", &format!("<cid:loc{n}@carrier.load>"))
                .header("Geolocation-Routing", "no")
                .body(
                    "multipart/mixed;boundary=loadb1",
                    self.pidf_body.replace_cid(n),
                )
        } else {
            b.body("application/sdp", self.sdp.as_bytes().to_vec())
        };
        let Ok(invite) = b.build() else {
            return;
        };
        let bytes = invite.to_bytes();
        self.calls.push(Call {
            class,
            phase: self.sc.phase_at(arrival_s),
            arrival_s,
            sent: due,
            invite,
            state: CState::Scheduled,
            cancelled: false,
            cut_off: false,
            cut_off_after_us: None,
            outcome: None,
            answer_us: None,
            first_offer_us: None,
            immediate: false,
            ack: None,
            finished: false,
        });
        self.by_call_id.insert(call_id(n), n);
        self.p.pacer.send_at(PaceJob {
            call: n,
            due,
            bytes: bytes.clone(),
            to: self.engine,
        });
        self.unsent.insert(n, bytes);
    }

    /// Takes the pacer's send reports: each reported call starts (latency clock at the
    /// send, free-handler check, retransmission, caller patience).
    fn take_sent(&mut self) {
        while let Ok((n, sent)) = self.p.pacer.sent.try_recv() {
            let Some(bytes) = self.unsent.remove(&n) else {
                continue;
            };
            let immediate = self.waiting_unoffered < self.free_handlers(sent);
            let Some(c) = self.calls.get_mut(n) else {
                continue;
            };
            let due = c.sent;
            self.send_lateness
                .saturating_record(micros(sent.saturating_duration_since(due)).max(1));
            c.sent = sent;
            c.state = CState::Calling;
            c.immediate = immediate;
            let class = c.class;
            self.waiting_unoffered += 1;
            self.track_retx(RetxKey::Invite(n), false, bytes, self.engine, sent);
            if let Some(p) = self.sc.classes.get(class).patience {
                let s = p.sample(&mut self.patience_rng);
                let wait = self.real(s);
                self.at(sent + wait, Timer::Patience(n));
            }
        }
    }

    async fn cancel(&mut self, n: usize) {
        let Some(call) = self.calls.get_mut(n) else {
            return;
        };
        if call.cancelled || call.state != CState::Calling {
            return;
        }
        call.cancelled = true;
        let Ok(cancel) = MessageBuilder::cancel_for(&call.invite).and_then(|b| b.build()) else {
            return;
        };
        let engine = self.engine;
        self.send_retx(RetxKey::Cancel(n), false, cancel.to_bytes(), engine)
            .await;
    }

    fn end_call(&mut self, n: usize, finished: bool) {
        if let Some(c) = self.calls.get_mut(n) {
            if c.state != CState::Ended {
                if c.state == CState::Calling && c.first_offer_us.is_none() {
                    self.waiting_unoffered = self.waiting_unoffered.saturating_sub(1);
                }
                c.state = CState::Ended;
                c.finished = finished;
                self.finished_calls += 1;
            }
        }
    }

    async fn on_carrier(&mut self, now: Instant, msg: Message, from: SocketAddr) {
        let Some(&n) = msg.call_id().and_then(|c| self.by_call_id.get(c)) else {
            if msg.is_request() && msg.method() != Some(Method::Ack) {
                self.reply(false, &msg, 481, "Call/Transaction Does Not Exist", from)
                    .await;
            }
            return;
        };
        if msg.is_request() {
            match msg.method() {
                Some(Method::Ack) => {}
                Some(Method::Bye) => {
                    self.reply(false, &msg, 200, "OK", from).await;
                    self.end_call(n, true);
                }
                _ => self.reply(false, &msg, 200, "OK", from).await,
            }
            return;
        }
        let Some(code) = msg.status_code() else {
            return;
        };
        let method = msg.cseq().map(|c| c.method.to_owned());
        match method.as_deref() {
            Some("INVITE") => {}
            Some("CANCEL") => {
                self.retx.remove(&RetxKey::Cancel(n));
                return;
            }
            Some("BYE") => {
                if code >= 200 {
                    self.retx.remove(&RetxKey::CarrierBye(n));
                    self.end_call(n, true);
                }
                return;
            }
            _ => return,
        }
        self.retx.remove(&RetxKey::Invite(n));
        if code < 200 {
            return;
        }
        let engine = self.engine;
        if let Some(ack) = self.calls[n].ack.clone() {
            // A retransmitted final response: the ACK got lost, send it again.
            self.send(false, &ack, engine).await;
            return;
        }
        let call = &mut self.calls[n];
        if code < 300 {
            call.answer_us = Some(micros(now.duration_since(call.sent)));
            call.outcome = Some(Outcome::Answered);
            let was_cancelled = call.cancelled;
            if call.state == CState::Calling && call.first_offer_us.is_none() {
                self.waiting_unoffered = self.waiting_unoffered.saturating_sub(1);
            }
            let call = &mut self.calls[n];
            // Only Calling → Answered: when the first 200 was lost, the engine's BYE can
            // arrive (and end the call) before the retransmitted 200 does.
            if call.state == CState::Calling {
                call.state = CState::Answered;
            }
            let target = msg
                .contacts()
                .find_map(|c| c.addr().map(|a| a.uri.as_str().to_owned()))
                .unwrap_or_else(|| format!("sip:{engine}"));
            let local = self.p.carrier_addr;
            let from_v = call.invite.header("From").unwrap_or_default().to_owned();
            let to_v = msg.header("To").unwrap_or_default().to_owned();
            let ack = MessageBuilder::request(Method::Ack, &target)
                .header(
                    "Via",
                    &format!("SIP/2.0/UDP {local};branch=z9hG4bKload{n}a"),
                )
                .header("Max-Forwards", "70")
                .header("From", &from_v)
                .header("To", &to_v)
                .header("Call-ID", &call_id(n))
                .header("CSeq", "1 ACK")
                .build();
            if let Ok(ack) = ack {
                let bytes = ack.to_bytes();
                self.calls[n].ack = Some(bytes.clone());
                self.send(false, &bytes, engine).await;
            }
            if was_cancelled {
                // Answered while our CANCEL was on its way (RFC 3261 §9.1): hang up.
                let bye = MessageBuilder::request(Method::Bye, &target)
                    .header(
                        "Via",
                        &format!("SIP/2.0/UDP {local};branch=z9hG4bKload{n}b"),
                    )
                    .header("Max-Forwards", "70")
                    .header("From", &from_v)
                    .header("To", &to_v)
                    .header("Call-ID", &call_id(n))
                    .header("CSeq", "2 BYE")
                    .build();
                if let Ok(bye) = bye {
                    self.send_retx(RetxKey::CarrierBye(n), false, bye.to_bytes(), engine)
                        .await;
                }
            }
        } else {
            call.outcome = Some(if call.cancelled && code == 487 {
                if call.cut_off {
                    Outcome::CutOff
                } else {
                    Outcome::Abandoned
                }
            } else {
                Outcome::Rejected(code)
            });
            if let Ok(ack) =
                MessageBuilder::ack_for_non2xx(&call.invite, &msg).and_then(|b| b.build())
            {
                let bytes = ack.to_bytes();
                call.ack = Some(bytes.clone());
                self.send(false, &bytes, engine).await;
            }
            self.retx.remove(&RetxKey::Cancel(n));
            self.end_call(n, true);
        }
    }

    // === handler side ===

    async fn reply(
        &self,
        handler_side: bool,
        req: &Message,
        code: u16,
        reason: &str,
        to: SocketAddr,
    ) {
        if let Ok(r) = MessageBuilder::response_to(req, code, reason).build() {
            self.send(handler_side, &r.to_bytes(), to).await;
        }
    }

    async fn on_handler(&mut self, now: Instant, msg: Message, from: SocketAddr) {
        if msg.is_response() {
            self.on_handler_response(now, msg).await;
            return;
        }
        let Some(cid) = msg.call_id().map(str::to_owned) else {
            return;
        };
        match msg.method() {
            Some(Method::Invite) => {
                if let Some(leg) = self.legs.get(&cid) {
                    if leg.state != LState::Ended || !leg.last_response.is_empty() {
                        let bytes = leg.last_response.clone();
                        self.send(true, &bytes, from).await;
                    }
                    return;
                }
                self.on_offer(now, cid, msg, from).await;
            }
            Some(Method::Ack) => {
                self.retx.remove(&RetxKey::Ok200(cid));
            }
            Some(Method::Cancel) => {
                self.reply(true, &msg, 200, "OK", from).await;
                let Some(leg) = self.legs.get_mut(&cid) else {
                    return;
                };
                if leg.state == LState::Ringing {
                    leg.state = LState::Ended;
                    let tag = leg.to_tag.clone();
                    if let Ok(r) =
                        MessageBuilder::response_to(&leg.invite, 487, "Request Terminated")
                            .to_tag(&tag)
                            .build()
                    {
                        leg.last_response = r.to_bytes();
                        let bytes = leg.last_response.clone();
                        let h = leg.handler;
                        self.send(true, &bytes, from).await;
                        self.leg_over(h, &cid, now, false, true);
                    }
                }
            }
            Some(Method::Bye) => {
                self.reply(true, &msg, 200, "OK", from).await;
                if let Some(leg) = self.legs.get_mut(&cid) {
                    if leg.state != LState::Ended {
                        leg.state = LState::Ended;
                        let h = leg.handler;
                        self.retx.remove(&RetxKey::Ok200(cid.clone()));
                        self.leg_over(h, &cid, now, true, false);
                    }
                }
            }
            _ => self.reply(true, &msg, 200, "OK", from).await,
        }
    }

    /// Handler `h` is done with leg `cid`: free again (after wrap-up when it talked).
    fn leg_over(&mut self, h: usize, cid: &str, now: Instant, talked: bool, missed: bool) {
        let class = self
            .legs
            .get(cid)
            .and_then(|l| l.call)
            .and_then(|n| self.calls.get(n))
            .map_or(CallClass::Emergency, |c| c.class);
        let (wu_e, wu_n) = self.sc.engine_wrap_up_real_s();
        let wrap = if talked {
            Duration::from_secs(u64::from(match class {
                CallClass::Emergency => wu_e,
                _ => wu_n,
            }))
        } else {
            Duration::ZERO
        };
        if let Some(s) = self.handlers.get_mut(h) {
            if s.busy.as_deref() == Some(cid) {
                s.busy = None;
            }
            s.free_at = now + wrap;
            if missed {
                s.misses += 1;
            } else if talked {
                s.misses = 0;
            }
        }
    }

    async fn on_offer(&mut self, now: Instant, cid: String, msg: Message, from: SocketAddr) {
        let user = msg
            .request_uri()
            .and_then(|u| u.user().map(str::to_owned))
            .unwrap_or_default();
        let Some(&h) = self.by_handler_id.get(&user) else {
            self.reply(true, &msg, 404, "Not Found", from).await;
            return;
        };
        let call = call_index(&msg).filter(|&n| n < self.calls.len());
        if let Some(n) = call {
            let c = &mut self.calls[n];
            if c.first_offer_us.is_none() {
                let us = micros(now.duration_since(c.sent));
                c.first_offer_us = Some(us);
                self.first_offer.saturating_record(us.max(1));
                if c.immediate {
                    self.engine_latency.saturating_record(us.max(1));
                }
                if c.state == CState::Calling {
                    self.waiting_unoffered = self.waiting_unoffered.saturating_sub(1);
                }
            }
        }
        let tag = format!("h{}x{}", h, self.seq);
        let ringing = MessageBuilder::response_to(&msg, 180, "Ringing")
            .to_tag(&tag)
            .header(
                "Contact",
                &format!("<sip:{}@{}>", user, self.p.handler_addr),
            )
            .build();
        let last_response = ringing.map(|r| r.to_bytes()).unwrap_or_default();
        self.send(true, &last_response, from).await;
        let sim = &self.handlers[h];
        if sim.failed {
            self.offers_to_failed += 1;
        }
        let answers = !sim.failed && self.rng.gen::<f64>() >= sim.no_answer_p;
        let think = sim.think;
        if let Some(s) = self.handlers.get_mut(h) {
            s.busy = Some(cid.clone());
        }
        self.legs.insert(
            cid.clone(),
            Leg {
                handler: h,
                invite: msg,
                call,
                to_tag: tag,
                last_response,
                source: from,
                state: LState::Ringing,
            },
        );
        if answers {
            let delay = think.map_or(Duration::ZERO, |d| {
                let s = d.sample(&mut self.rng);
                self.real(s)
            });
            self.at(now + delay, Timer::Answer(cid));
        }
    }

    async fn answer(&mut self, cid: String) {
        let handler_addr = self.p.handler_addr;
        let Some(leg) = self.legs.get_mut(&cid) else {
            return;
        };
        if leg.state != LState::Ringing {
            return;
        }
        let user = self
            .handlers
            .get(leg.handler)
            .map(|h| h.id.clone())
            .unwrap_or_default();
        let Ok(ok) = MessageBuilder::response_to(&leg.invite, 200, "OK")
            .to_tag(&leg.to_tag)
            .header("Contact", &format!("<sip:{user}@{handler_addr}>"))
            .body("application/sdp", self.sdp.as_bytes().to_vec())
            .build()
        else {
            return;
        };
        leg.state = LState::Answered;
        leg.last_response = ok.to_bytes();
        let bytes = leg.last_response.clone();
        let source = leg.source;
        let class = leg
            .call
            .and_then(|n| self.calls.get(n))
            .map_or(CallClass::Emergency, |c| c.class);
        self.send_retx(RetxKey::Ok200(cid.clone()), true, bytes, source)
            .await;
        let talk = self.sc.classes.get(class).handle.sample(&mut self.rng);
        let when = Instant::now() + self.real(talk);
        self.at(when, Timer::HangUp(cid));
    }

    async fn hang_up(&mut self, cid: &str) {
        let handler_addr = self.p.handler_addr;
        let Some(leg) = self.legs.get_mut(cid) else {
            return;
        };
        if leg.state != LState::Answered {
            return;
        }
        leg.state = LState::Bye;
        let inv = &leg.invite;
        let target = inv
            .contacts()
            .find_map(|c| c.addr().map(|a| a.uri.as_str().to_owned()))
            .unwrap_or_else(|| format!("sip:{}", leg.source));
        let from = format!(
            "{};tag={}",
            inv.header("To").unwrap_or_default(),
            leg.to_tag
        );
        let bye = MessageBuilder::request(Method::Bye, &target)
            .header(
                "Via",
                &format!(
                    "SIP/2.0/UDP {handler_addr};branch=z9hG4bKbye{}",
                    hex_of(cid)
                ),
            )
            .header("Max-Forwards", "70")
            .header("From", &from)
            .header("To", inv.header("From").unwrap_or_default())
            .header("Call-ID", cid)
            .header("CSeq", "1 BYE")
            .build();
        let source = leg.source;
        if let Ok(bye) = bye {
            self.retx.remove(&RetxKey::Ok200(cid.to_owned()));
            self.send_retx(
                RetxKey::HandlerBye(cid.to_owned()),
                true,
                bye.to_bytes(),
                source,
            )
            .await;
        }
    }

    async fn on_handler_response(&mut self, now: Instant, msg: Message) {
        let Some(code) = msg.status_code() else {
            return;
        };
        let Some(cid) = msg.call_id().map(str::to_owned) else {
            return;
        };
        let method = msg.cseq().map(|c| c.method.to_owned());
        match method.as_deref() {
            Some("BYE") if code >= 200 => {
                self.retx.remove(&RetxKey::HandlerBye(cid.clone()));
                if let Some(leg) = self.legs.get_mut(&cid) {
                    if leg.state != LState::Ended {
                        leg.state = LState::Ended;
                        let h = leg.handler;
                        self.leg_over(h, &cid, now, true, false);
                    }
                }
            }
            Some("REGISTER") => {
                let Some(h) = self.handlers.iter().position(|s| s.reg_call_id == cid) else {
                    return;
                };
                self.retx.remove(&RetxKey::Register(h));
                if code == 401 || code == 407 {
                    let challenge = msg
                        .header_all(if code == 401 {
                            "WWW-Authenticate"
                        } else {
                            "Proxy-Authenticate"
                        })
                        .next()
                        .map(str::to_owned);
                    // One authenticated retry per challenge: a second 401 is a refusal.
                    if let Some(ch) = challenge {
                        if msg.cseq().map(|c| c.seq).unwrap_or(0) % 2 == 1 {
                            self.send_register(h, Some(&ch)).await;
                        }
                    }
                } else if (200..300).contains(&code) {
                    let s = &mut self.handlers[h];
                    s.registered = s.reg_expires > 0;
                }
            }
            _ => {}
        }
    }

    /// REGISTER for handler `h` (odd CSeq without credentials, the next even one with the
    /// answer to `challenge`).
    async fn send_register(&mut self, h: usize, challenge: Option<&str>) {
        let handler_addr = self.p.handler_addr;
        let engine = self.engine;
        let s = &mut self.handlers[h];
        s.reg_cseq += 1;
        if challenge.is_none() && s.reg_cseq % 2 == 0 {
            s.reg_cseq += 1;
        }
        let uri = format!("sip:{engine}");
        let mut b = MessageBuilder::request(Method::Register, &uri)
            .header(
                "Via",
                &format!(
                    "SIP/2.0/UDP {handler_addr};branch=z9hG4bKreg{}x{};rport",
                    s.index, s.reg_cseq
                ),
            )
            .header("Max-Forwards", "70")
            .header(
                "From",
                &format!("<sip:{}@{}>;tag=r{}", s.id, engine.ip(), s.index),
            )
            .header("To", &format!("<sip:{}@{}>", s.id, engine.ip()))
            .header("Call-ID", &s.reg_call_id)
            .header("CSeq", &format!("{} REGISTER", s.reg_cseq))
            .header("Contact", &format!("<sip:{}@{handler_addr}>", s.id))
            .header("Expires", &s.reg_expires.to_string());
        if let Some(ch) = challenge {
            let auth = crate::sip::digest::authorization_for(
                ch,
                &s.id,
                &super::scenario::handler_password(s.index),
                "REGISTER",
                &uri,
                &format!("c{}x{}", s.index, s.reg_cseq),
                1,
            );
            match auth {
                Ok(a) => b = b.header("Authorization", &a),
                Err(_) => return,
            }
        }
        if let Ok(m) = b.build() {
            self.send_retx(RetxKey::Register(h), true, m.to_bytes(), engine)
                .await;
        }
    }

    async fn on_timer(&mut self, t: Timer) {
        match t {
            Timer::Patience(n) => {
                if self
                    .calls
                    .get(n)
                    .is_some_and(|c| c.state == CState::Calling)
                {
                    self.cancel(n).await;
                }
            }
            Timer::Answer(cid) => self.answer(cid).await,
            Timer::HangUp(cid) => self.hang_up(&cid).await,
            Timer::Fail(g) => self.fail_group(g).await,
            Timer::Retx(key, gen) => {
                let Some(r) = self.retx.get_mut(&key) else {
                    return;
                };
                if r.gen != gen {
                    return;
                }
                if r.sends >= MAX_SENDS {
                    self.retx.remove(&key);
                    return;
                }
                r.sends += 1;
                r.interval = (r.interval * 2).min(T2);
                let (bytes, to, hs, iv) = (r.bytes.clone(), r.to, r.handler_side, r.interval);
                self.send(hs, &bytes, to).await;
                self.at(Instant::now() + iv, Timer::Retx(key, gen));
            }
        }
    }

    async fn fail_group(&mut self, g: usize) {
        let Some(group) = self.sc.handlers.get(g) else {
            return;
        };
        let Some(f) = group.failure else {
            return;
        };
        let mode = f.mode;
        let members: Vec<usize> = self
            .sc
            .handler_ids()
            .into_iter()
            .filter(|(_, gg, _)| std::ptr::eq(*gg, group))
            .map(|(i, _, _)| i)
            .collect();
        let n = ((members.len() as f64) * f.fraction).round() as usize;
        for &h in members.iter().take(n) {
            self.handlers[h].failed = true;
            self.handlers_failed += 1;
            if mode == FailureMode::Logout && self.handlers[h].mode == HandlerMode::Register {
                self.handlers[h].reg_expires = 0;
                self.send_register(h, None).await;
            }
        }
    }
}

fn call_id(n: usize) -> String {
    format!("load-{n}-{}@carrier.load", std::process::id())
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn hex_of(s: &str) -> String {
    s.bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
        .to_string()
}

/// Our call number from the callback number the engine puts in the handler INVITE
/// (`+4477` + 9 digits in P-Asserted-Identity or From).
fn call_index(msg: &Message) -> Option<usize> {
    for v in [msg.header("P-Asserted-Identity"), msg.header("From")]
        .into_iter()
        .flatten()
    {
        if let Some(pos) = v.find("+4477") {
            let digits: String = v[pos + 5..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if digits.len() == 9 {
                if let Ok(n) = digits.parse() {
                    return Some(n);
                }
            }
        }
    }
    None
}

/// The emergency INVITE body: SDP + PIDF-LO Circle (RFC 4119, RFC 5491 §5.2.3) in a
/// multipart/mixed body (RFC 5621), with `@N@` where the call number goes.
fn pidf_multipart(sdp: &str) -> Vec<u8> {
    format!(
        "--loadb1\r\nContent-Type: application/sdp\r\n\r\n{sdp}\r\n--loadb1\r\n\
         Content-Type: application/pidf+xml\r\nContent-ID: <loc@N@@carrier.load>\r\n\r\n\
         <?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n\
         <presence xmlns=\"urn:ietf:params:xml:ns:pidf\" \
         xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" \
         xmlns:gp=\"urn:ietf:params:xml:ns:pidf:geopriv10\" \
         xmlns:gml=\"http://www.opengis.net/gml\" \
         xmlns:gs=\"http://www.opengis.net/pidflo/1.0\" entity=\"pres:caller@carrier.load\">\r\n\
         <dm:device id=\"d\"><gp:geopriv><gp:location-info>\
         <gs:Circle srsName=\"urn:ogc:def:crs:EPSG::4326\"><gml:pos>51.501364 -0.141890</gml:pos>\
         <gs:radius uom=\"urn:ogc:def:uom:EPSG::9001\">35</gs:radius></gs:Circle>\
         </gp:location-info><gp:usage-rules/><gp:method>Cell</gp:method></gp:geopriv>\
         </dm:device></presence>\r\n--loadb1--\r\n"
    )
    .into_bytes()
}

trait ReplaceCid {
    fn replace_cid(&self, n: usize) -> Vec<u8>;
}

impl ReplaceCid for Vec<u8> {
    fn replace_cid(&self, n: usize) -> Vec<u8> {
        String::from_utf8_lossy(self)
            .replace("@N@", &n.to_string())
            .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pacer's contract with the harness's task: every INVITE's send is reported
    /// before the datagram can be read (so its answer never finds the call unsent), in
    /// arrival order, never before its arrival time; `finish` sends what is left.
    #[tokio::test]
    async fn pacer_reports_each_send_before_the_datagram_and_never_early() {
        let carrier = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let engine = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = engine.local_addr().unwrap();
        let mut pacer = Pacer::start(&carrier).unwrap();
        let now = Instant::now();
        // Three overdue arrivals (sent at once) and one 20 ms ahead.
        let dues = [
            now - Duration::from_millis(30),
            now - Duration::from_millis(20),
            now - Duration::from_millis(10),
            now + Duration::from_millis(20),
        ];
        for (call, &due) in dues.iter().enumerate() {
            pacer.send_at(PaceJob {
                call,
                due,
                bytes: format!("INVITE {call}").into_bytes(),
                to,
            });
        }
        let mut buf = [0u8; 64];
        for (call, &due) in dues.iter().enumerate() {
            let (n, from) = engine.recv_from(&mut buf).unwrap();
            assert_eq!(
                from,
                carrier.local_addr().unwrap(),
                "sent from the carrier socket"
            );
            assert_eq!(&buf[..n], format!("INVITE {call}").as_bytes());
            let (reported, sent) = pacer.sent.try_recv().expect("reported before it arrived");
            assert_eq!(reported, call, "in arrival order");
            assert!(sent >= due, "call {call} sent {:?} early", due - sent);
        }
        pacer.finish();
        assert!(pacer.sent.try_recv().is_err(), "one report per INVITE");
    }

    #[test]
    fn call_index_reads_the_callback_number() {
        let m = MessageBuilder::request(Method::Invite, "sip:h1@127.0.0.1")
            .header("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1")
            .header("From", "<sip:+4477000000042@127.0.0.1>;tag=a")
            .header("To", "<sip:h1@127.0.0.1>")
            .header("Call-ID", "x")
            .header("CSeq", "1 INVITE")
            .build()
            .unwrap();
        assert_eq!(call_index(&m), Some(42));
    }

    #[test]
    fn pidf_body_carries_the_call_number_and_the_circle() {
        let body = pidf_multipart("v=0\r\n").replace_cid(7);
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("<loc7@carrier.load>"));
        assert!(text.contains("<gs:radius uom=\"urn:ogc:def:uom:EPSG::9001\">35</gs:radius>"));
    }
}
