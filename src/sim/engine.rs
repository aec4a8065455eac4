//! The discrete-event loop: virtual time, a heap of scheduled events, and the real
//! [`Router`] deciding every offer. Handlers and callers are random processes; the
//! router's timers (ring-no-answer, wrap-up, overflow) are honoured through
//! [`Router::poll_timeout`], exactly as the runtime does.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp};

use crate::queue::{
    Action, CallId, CancelReason, Event, HandlerId, NewCall, RequestedState, Router, Skills,
};
use crate::sim::report::{ClassStats, SimReport};
use crate::sim::scenario::{Scenario, ScenarioError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SimEvent {
    Arrival(usize),
    RouterTimer,
    Answer(CallId, HandlerId),
    Hangup(CallId),
    Abandon(CallId),
    Login(HandlerId),
    Logout(HandlerId),
}

struct SimCall {
    class: usize,
    arrival_ns: u64,
    counted: bool,
}

struct Sim<'a> {
    scenario: &'a Scenario,
    rng: StdRng,
    router: Router,
    origin: Instant,
    now_ns: u64,
    heap: BinaryHeap<Reverse<(u64, u64, SimEvent)>>,
    seq: u64,
    calls: HashMap<CallId, SimCall>,
    handler_group: Vec<usize>,
    class_skills: Vec<Skills>,
    stats: Vec<ClassStats>,
    arrivals: u64,
    router_timer: Option<u64>,
}

fn ns(s: f64) -> u64 {
    (s * 1e9).round().max(0.0) as u64
}

/// Runs `scenario` to completion: `warmup_calls + calls` arrivals, then until every call
/// is answered and ended, abandoned, rejected or overflowed (or stranded with no handler
/// left). `origin` is the `Instant` that virtual time 0 maps to (only used as the base
/// of the router's clock; no real time passes).
///
/// # Errors
/// [`ScenarioError`] if the scenario does not check.
pub fn run(scenario: &Scenario, origin: Instant) -> Result<SimReport, ScenarioError> {
    scenario.check()?;
    let class_skills = scenario
        .classes
        .iter()
        .map(|c| scenario.skills(&c.required_skills))
        .collect::<Result<Vec<_>, _>>()?;
    let mut sim = Sim {
        scenario,
        rng: StdRng::seed_from_u64(scenario.seed),
        router: Router::new(scenario.queue.clone())?,
        origin,
        now_ns: 0,
        heap: BinaryHeap::new(),
        seq: 0,
        calls: HashMap::new(),
        handler_group: Vec::new(),
        class_skills,
        stats: scenario
            .classes
            .iter()
            .map(|c| ClassStats::new(c.class))
            .collect(),
        arrivals: 0,
        router_timer: None,
    };
    for (g, group) in scenario.handlers.iter().enumerate() {
        let skills = scenario.skills(&group.skills)?;
        for _ in 0..group.count {
            let handler = HandlerId(sim.handler_group.len() as u32);
            sim.handler_group.push(g);
            sim.feed(Event::HandlerAdded { handler, skills });
            sim.schedule(ns(group.login_at_s), SimEvent::Login(handler));
            if let Some(t) = group.logout_at_s {
                sim.schedule(ns(t), SimEvent::Logout(handler));
            }
        }
    }
    for class in 0..scenario.classes.len() {
        sim.schedule_arrival(class);
    }
    while let Some(Reverse((t, _, event))) = sim.heap.pop() {
        sim.now_ns = t;
        sim.step(event);
    }
    let stranded = sim.calls.values().filter(|c| c.counted).fold(
        vec![0u64; scenario.classes.len()],
        |mut acc, c| {
            acc[c.class] += 1;
            acc
        },
    );
    for (s, n) in sim.stats.iter_mut().zip(stranded) {
        s.unanswered_at_end = n;
    }
    Ok(SimReport::new(sim.stats, sim.now_ns))
}

impl Sim<'_> {
    fn now(&self) -> Instant {
        self.origin + Duration::from_nanos(self.now_ns)
    }

    fn schedule(&mut self, at_ns: u64, event: SimEvent) {
        self.seq += 1;
        self.heap.push(Reverse((at_ns, self.seq, event)));
    }

    fn total_arrivals(&self) -> u64 {
        self.scenario.warmup_calls + self.scenario.calls
    }

    fn schedule_arrival(&mut self, class: usize) {
        if self.arrivals >= self.total_arrivals() {
            return;
        }
        let rate = self.scenario.classes[class].arrival_rate_per_s;
        let gap = Exp::new(rate).map_or(1.0 / rate, |d| d.sample(&mut self.rng));
        self.schedule(
            self.now_ns.saturating_add(ns(gap)),
            SimEvent::Arrival(class),
        );
    }

    fn step(&mut self, event: SimEvent) {
        match event {
            SimEvent::Arrival(class) => {
                if self.arrivals >= self.total_arrivals() {
                    return;
                }
                self.arrivals += 1;
                let call = CallId(self.arrivals);
                let counted = self.arrivals > self.scenario.warmup_calls;
                let traffic = &self.scenario.classes[class];
                let patience = traffic.patience.map(|p| p.sample(&mut self.rng));
                let new = NewCall {
                    call,
                    class: traffic.class,
                    caller: String::new(),
                    location: None,
                    required_skills: self.class_skills[class],
                };
                self.calls.insert(
                    call,
                    SimCall {
                        class,
                        arrival_ns: self.now_ns,
                        counted,
                    },
                );
                if counted {
                    self.stats[class].calls += 1;
                }
                if let Some(p) = patience {
                    self.schedule(self.now_ns.saturating_add(ns(p)), SimEvent::Abandon(call));
                }
                self.feed(Event::CallArrived(new));
                self.schedule_arrival(class);
            }
            SimEvent::RouterTimer => {
                if self.router_timer == Some(self.now_ns) {
                    self.router_timer = None;
                }
                let now = self.now();
                self.router.handle_timeout(now);
                self.drain();
            }
            SimEvent::Answer(call, handler) => {
                let now = self.now();
                if self
                    .router
                    .handle(now, Event::OfferAccepted { call, handler })
                    .is_ok()
                {
                    if let Some(c) = self.calls.get(&call) {
                        if c.counted {
                            let wait = self.now_ns - c.arrival_ns;
                            self.stats[c.class].waits_ns.push(wait);
                        }
                        let handle = self.scenario.classes[c.class].handle.sample(&mut self.rng);
                        self.schedule(
                            self.now_ns.saturating_add(ns(handle)),
                            SimEvent::Hangup(call),
                        );
                    }
                    self.drain();
                }
            }
            SimEvent::Hangup(call) => {
                self.calls.remove(&call);
                self.feed(Event::CallEnded { call });
            }
            SimEvent::Abandon(call) => {
                let now = self.now();
                if self
                    .router
                    .handle(now, Event::CallAbandoned { call })
                    .is_ok()
                {
                    if let Some(c) = self.calls.remove(&call) {
                        if c.counted {
                            self.stats[c.class].abandoned += 1;
                        }
                    }
                    self.drain();
                }
            }
            SimEvent::Login(handler) => self.feed(Event::SetHandlerState {
                handler,
                state: RequestedState::Available,
            }),
            SimEvent::Logout(handler) => self.feed(Event::SetHandlerState {
                handler,
                state: RequestedState::LoggedOut,
            }),
        }
    }

    /// Feeds an event whose validity the simulation guarantees, then drains.
    fn feed(&mut self, event: Event) {
        let now = self.now();
        // Errors here would be simulation bugs; they leave the router unchanged and the
        // affected call is reported as unanswered at the end.
        let _ = self.router.handle(now, event);
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(action) = self.router.poll_action() {
            match action {
                Action::Offer { call, handler } => {
                    let group = &self.scenario.handlers[self.handler_group[handler.0 as usize]];
                    if self.rng.gen::<f64>() < group.no_answer_probability {
                        continue; // rings out; the router's ring-no-answer timer fires
                    }
                    let delay = group.answer_delay.map_or(0.0, |d| d.sample(&mut self.rng));
                    self.schedule(
                        self.now_ns.saturating_add(ns(delay)),
                        SimEvent::Answer(call, handler),
                    );
                }
                Action::Reject { call, .. } => {
                    if let Some(c) = self.calls.remove(&call) {
                        if c.counted {
                            self.stats[c.class].rejected += 1;
                        }
                    }
                }
                Action::Overflow { call, .. } => {
                    if let Some(c) = self.calls.remove(&call) {
                        if c.counted {
                            self.stats[c.class].overflowed += 1;
                        }
                    }
                }
                Action::CancelOffer {
                    call,
                    reason: CancelReason::RingNoAnswer,
                    ..
                } => {
                    if let Some(c) = self.calls.get(&call).filter(|c| c.counted) {
                        self.stats[c.class].ring_no_answer += 1;
                    }
                }
                Action::Queued { .. }
                | Action::CancelOffer { .. }
                | Action::HandlerStateChanged { .. }
                | Action::CallbackAdded(_) => {}
            }
        }
        if let Some(t) = self.router.poll_timeout() {
            let t_ns = u64::try_from(t.saturating_duration_since(self.origin).as_nanos())
                .unwrap_or(u64::MAX)
                .max(self.now_ns);
            if self.router_timer.is_none_or(|s| t_ns < s) {
                self.router_timer = Some(t_ns);
                self.schedule(t_ns, SimEvent::RouterTimer);
            }
        }
    }
}
