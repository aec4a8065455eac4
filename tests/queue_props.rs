//! Property tests of the routing core over random event sequences (issue 3):
//! no call lost or duplicated; while an eligible handler is Available no call waits
//! (so no emergency call waits); an emergency call is always offered before a waiting
//! non-emergency one; FIFO within a class; a re-offered call keeps its place; abandoned
//! calls always reach the callback list; emergency calls are never rejected.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use answerpoint::call::CallClass;
use answerpoint::queue::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Arrive { class: u8, language: bool },
    Abandon(usize),
    Accept(usize),
    Refuse(usize),
    End(usize),
    Advance(u64),
    SetState { handler: u8, kind: u8 },
    EndWrapUp(u8),
    CallbackDone(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..3, any::<bool>()).prop_map(|(class, language)| Op::Arrive { class, language }),
        1 => any::<usize>().prop_map(Op::Abandon),
        3 => any::<usize>().prop_map(Op::Accept),
        1 => any::<usize>().prop_map(Op::Refuse),
        2 => any::<usize>().prop_map(Op::End),
        2 => (0u64..15).prop_map(Op::Advance),
        1 => (0u8..4, 0u8..3).prop_map(|(handler, kind)| Op::SetState { handler, kind }),
        1 => (0u8..4).prop_map(Op::EndWrapUp),
        1 => any::<usize>().prop_map(Op::CallbackDone),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    New,
    Waiting,
    Offered(HandlerId),
    Connected(HandlerId),
}

#[derive(Debug, Clone, Copy)]
struct MCall {
    class: CallClass,
    order: u64,
    required: Skills,
    state: St,
}

const HANDLER_SKILLS: [Skills; 4] = [
    Skills(0b111),
    Skills::EMERGENCY,
    Skills(0b110),
    Skills(0b111 | 1 << 8),
];

struct Model {
    now: Instant,
    router: Router,
    live: HashMap<CallId, MCall>,
    finished: HashMap<CallId, &'static str>,
    next_call: u64,
    callbacks: BTreeSet<CallbackId>,
}

impl Model {
    fn new() -> Model {
        let mut config = QueueConfig {
            ring_timeout_ms: 10_000,
            max_consecutive_misses: 2,
            wrap_up_s: PerClass {
                emergency: 3,
                non_emergency: 2,
                admin: 0,
            },
            ..QueueConfig::default()
        };
        config.non_emergency_limit.max_queued = 6;
        config.admin_limit.max_queued = 3;
        let t0 = Instant::now();
        let mut m = Model {
            now: t0,
            router: Router::new(config).unwrap(),
            live: HashMap::new(),
            finished: HashMap::new(),
            next_call: 1,
            callbacks: BTreeSet::new(),
        };
        for (i, skills) in HANDLER_SKILLS.iter().enumerate() {
            let handler = HandlerId(i as u32);
            m.apply(Event::HandlerAdded {
                handler,
                skills: *skills,
            });
            m.apply(Event::SetHandlerState {
                handler,
                state: RequestedState::Available,
            });
        }
        m
    }

    fn waiting(&self) -> BTreeSet<CallId> {
        self.live
            .iter()
            .filter(|(_, c)| c.state == St::Waiting)
            .map(|(id, _)| *id)
            .collect()
    }

    fn pick(&self, idx: usize, f: impl Fn(&MCall) -> bool) -> Option<(CallId, MCall)> {
        let mut v: Vec<(CallId, MCall)> = self
            .live
            .iter()
            .filter(|(_, c)| f(c))
            .map(|(i, c)| (*i, *c))
            .collect();
        v.sort_by_key(|(i, _)| *i);
        (!v.is_empty()).then(|| v[idx % v.len()])
    }

    fn apply(&mut self, event: Event) {
        let before = self.waiting();
        self.router.handle(self.now, event).unwrap();
        self.absorb(&before);
    }

    /// Consumes the actions of one step, updates the model and checks the per-step
    /// properties against the calls that waited before it.
    fn absorb(&mut self, waited_before: &BTreeSet<CallId>) {
        let actions: Vec<Action> = std::iter::from_fn(|| self.router.poll_action()).collect();
        let waiting_after_step = {
            // Calls that were waiting before and never left the queue in this step.
            let offered: BTreeSet<CallId> = actions
                .iter()
                .filter_map(|a| match a {
                    Action::Offer { call, .. } | Action::Overflow { call, .. } => Some(*call),
                    Action::CallbackAdded(i) => Some(i.call),
                    _ => None,
                })
                .collect();
            waited_before
                .iter()
                .filter(|c| !offered.contains(c))
                .copied()
                .collect::<BTreeSet<_>>()
        };
        for a in &actions {
            match a {
                Action::Queued { call } => {
                    let c = self.live.get_mut(call).expect("queued call is live");
                    assert_eq!(c.state, St::New, "Queued only once, on arrival");
                    c.state = St::Waiting;
                }
                Action::Offer { call, handler } => {
                    let c = *self.live.get(call).expect("offered call is live");
                    assert!(
                        matches!(c.state, St::New | St::Waiting),
                        "{call} offered while {:?} (duplicate)",
                        c.state
                    );
                    let skills = HANDLER_SKILLS[handler.0 as usize];
                    assert!(skills.covers(c.required), "ineligible handler");
                    for w in &waiting_after_step {
                        let o = self.live[w];
                        if !skills.covers(o.required) {
                            continue;
                        }
                        assert!(
                            !(o.class == CallClass::Emergency && c.class != CallClass::Emergency),
                            "{c:?} offered to {handler} while emergency {w} waits"
                        );
                        assert!(
                            !(o.class == c.class && o.order < c.order),
                            "FIFO: {call} offered before earlier {w}"
                        );
                    }
                    self.live.get_mut(call).unwrap().state = St::Offered(*handler);
                }
                Action::CancelOffer {
                    call,
                    handler,
                    reason,
                } => {
                    let c = self.live.get_mut(call).expect("cancelled call is live");
                    assert_eq!(c.state, St::Offered(*handler));
                    c.state = if *reason == CancelReason::CallerAbandoned {
                        St::New // removed by CallbackAdded below
                    } else {
                        St::Waiting
                    };
                }
                Action::Reject { call, status, .. } => {
                    let c = self.live.remove(call).expect("rejected call is live");
                    assert_eq!(*status, 503);
                    assert_ne!(c.class, CallClass::Emergency, "999 rejected");
                    assert_eq!(c.state, St::New);
                    self.finished.insert(*call, "rejected");
                }
                Action::Overflow { call, .. } => {
                    let c = self.live.remove(call).expect("overflowed call is live");
                    assert_ne!(c.class, CallClass::Emergency, "no overflow rule configured");
                    self.finished.insert(*call, "overflowed");
                }
                Action::CallbackAdded(item) => {
                    self.live
                        .remove(&item.call)
                        .expect("abandoned call was live");
                    self.finished.insert(item.call, "abandoned");
                    self.callbacks.insert(item.id);
                }
                Action::HandlerStateChanged { .. } => {}
            }
        }
        self.check_state();
    }

    fn check_state(&self) {
        // No call lost or duplicated: the router holds exactly the model's live calls.
        assert_eq!(self.router.live_calls(), self.live.len());
        for (id, c) in &self.live {
            let expect = match c.state {
                St::Waiting => CallStatus::Waiting,
                St::Offered(h) => CallStatus::Offered(h),
                St::Connected(h) => CallStatus::Connected(h),
                St::New => panic!("{id} arrived without an outcome"),
            };
            assert_eq!(self.router.call_status(*id), Some(expect), "{id}");
        }
        for id in self.finished.keys() {
            assert_eq!(self.router.call_status(*id), None);
        }
        let waiting = self.router.waiting_calls(self.now, usize::MAX);
        let ids: BTreeSet<CallId> = waiting.iter().map(|w| w.call).collect();
        assert_eq!(ids.len(), waiting.len(), "a call waits twice");
        assert_eq!(ids, self.waiting());
        // FIFO and kept place: within a class the queue is in original arrival order.
        for class in CallClass::ALL {
            let orders: Vec<u64> = waiting
                .iter()
                .filter(|w| w.class == class)
                .map(|w| self.live[&w.call].order)
                .collect();
            assert!(
                orders.windows(2).all(|p| p[0] < p[1]),
                "{class}: {orders:?}"
            );
        }
        // While an eligible handler is Available, no call waits.
        for h in self.router.handler_views(self.now) {
            if h.state == "available" {
                for w in &waiting {
                    assert!(
                        !h.skills.covers(self.live[&w.call].required),
                        "{} available while eligible {} waits",
                        h.handler,
                        w.call
                    );
                }
            }
        }
        // Abandoned calls are on the callback list until marked done.
        let listed: BTreeSet<CallbackId> = self
            .router
            .callback_views(self.now)
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(listed, self.callbacks);
    }

    fn run(&mut self, op: Op) {
        match op {
            Op::Arrive { class, language } => {
                let class = CallClass::ALL[class as usize];
                let call = CallId(self.next_call);
                self.next_call += 1;
                let extra = if language {
                    Skills::language(0).unwrap()
                } else {
                    Skills::NONE
                };
                self.live.insert(
                    call,
                    MCall {
                        class,
                        order: call.0,
                        required: extra | Skills::for_class(class),
                        state: St::New,
                    },
                );
                self.apply(Event::CallArrived(NewCall {
                    call,
                    class,
                    caller: format!("+44{}", call.0),
                    location: None,
                    required_skills: extra,
                }));
            }
            Op::Abandon(i) => {
                if let Some((call, _)) =
                    self.pick(i, |c| matches!(c.state, St::Waiting | St::Offered(_)))
                {
                    self.apply(Event::CallAbandoned { call });
                    assert_eq!(self.finished.get(&call), Some(&"abandoned"));
                }
            }
            Op::Accept(i) => {
                if let Some((call, c)) = self.pick(i, |c| matches!(c.state, St::Offered(_))) {
                    let St::Offered(handler) = c.state else {
                        unreachable!()
                    };
                    self.live.get_mut(&call).unwrap().state = St::Connected(handler);
                    self.apply(Event::OfferAccepted { call, handler });
                }
            }
            Op::Refuse(i) => {
                if let Some((call, c)) = self.pick(i, |c| matches!(c.state, St::Offered(_))) {
                    let St::Offered(handler) = c.state else {
                        unreachable!()
                    };
                    // The refused call re-enters the queue inside this step.
                    self.live.get_mut(&call).unwrap().state = St::Waiting;
                    let before = self.waiting();
                    self.router
                        .handle(
                            self.now,
                            Event::OfferRejected {
                                call,
                                handler,
                                status: 486,
                            },
                        )
                        .unwrap();
                    self.absorb_requeued(&before, call);
                }
            }
            Op::End(i) => {
                if let Some((call, _)) = self.pick(i, |c| matches!(c.state, St::Connected(_))) {
                    self.live.remove(&call);
                    self.finished.insert(call, "ended");
                    self.apply(Event::CallEnded { call });
                }
            }
            Op::Advance(s) => {
                self.now += Duration::from_secs(s);
                if self.router.poll_timeout().is_some_and(|t| t <= self.now) {
                    let before = self.waiting();
                    self.router.handle_timeout(self.now);
                    self.absorb(&before);
                }
                assert!(self.router.poll_timeout().is_none_or(|t| t > self.now));
            }
            Op::SetState { handler, kind } => {
                let state = match kind {
                    0 => RequestedState::Available,
                    1 => RequestedState::NotReady("break".into()),
                    _ => RequestedState::LoggedOut,
                };
                self.apply(Event::SetHandlerState {
                    handler: HandlerId(u32::from(handler)),
                    state,
                });
            }
            Op::EndWrapUp(h) => {
                let handler = HandlerId(u32::from(h));
                if matches!(
                    self.router.handler_state(handler),
                    Some(HandlerState::WrapUp { .. })
                ) {
                    self.apply(Event::EndWrapUp { handler });
                } else {
                    let r = self.router.handle(self.now, Event::EndWrapUp { handler });
                    assert_eq!(r, Err(RouterError::NotInWrapUp(handler)));
                    assert_eq!(self.router.poll_action(), None);
                }
            }
            Op::CallbackDone(i) => {
                if !self.callbacks.is_empty() {
                    let id = *self.callbacks.iter().nth(i % self.callbacks.len()).unwrap();
                    self.callbacks.remove(&id);
                    self.apply(Event::CallbackDone { callback: id });
                }
            }
        }
    }

    /// Like `absorb`, for a step whose requeued call counts as waiting "before" only for
    /// the FIFO/priority checks of other calls, not its own.
    fn absorb_requeued(&mut self, before: &BTreeSet<CallId>, requeued: CallId) {
        let mut b = before.clone();
        b.remove(&requeued);
        self.absorb(&b);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn routing_invariants_hold(ops in prop::collection::vec(op(), 1..120)) {
        let mut m = Model::new();
        for op in ops {
            m.run(op);
        }
        // Drain: everyone available, time moves on, every offer answered and ended.
        for h in 0..4 {
            m.run(Op::SetState { handler: h, kind: 0 });
        }
        for _ in 0..400 {
            if m.live.is_empty() {
                break;
            }
            m.run(Op::Accept(0));
            m.run(Op::End(0));
            m.run(Op::Advance(5));
            for h in 0..4 {
                m.run(Op::SetState { handler: h, kind: 0 });
            }
        }
        prop_assert!(m.live.is_empty(), "calls stuck: {:?}", m.live);
    }
}
