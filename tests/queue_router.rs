//! Scenario tests of the routing core (docs/DESIGN.md §6) in virtual time.

use std::time::{Duration, Instant};

use answerpoint::call::CallClass;
use answerpoint::queue::*;

struct World {
    t0: Instant,
    now: Instant,
    router: Router,
}

impl World {
    fn new(config: QueueConfig) -> World {
        let t0 = Instant::now();
        World {
            t0,
            now: t0,
            router: Router::new(config).unwrap(),
        }
    }

    fn at(&mut self, s: u64) {
        self.now = self.t0 + Duration::from_secs(s);
        if self.router.poll_timeout().is_some_and(|t| t <= self.now) {
            self.router.handle_timeout(self.now);
        }
    }

    fn ev(&mut self, e: Event) -> Vec<Action> {
        self.router.handle(self.now, e).unwrap();
        self.drain()
    }

    fn drain(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.router.poll_action()).collect()
    }

    fn handler(&mut self, id: u32, skills: Skills) {
        self.ev(Event::HandlerAdded {
            handler: HandlerId(id),
            skills,
        });
        self.ev(Event::SetHandlerState {
            handler: HandlerId(id),
            state: RequestedState::Available,
        });
    }

    fn call(&mut self, id: u64, class: CallClass) -> Vec<Action> {
        self.ev(Event::CallArrived(NewCall {
            call: CallId(id),
            class,
            caller: format!("+4416329600{id:02}"),
            location: Some("51.5,-0.12 r=35m".into()),
            required_skills: Skills::NONE,
        }))
    }
}

fn offers(actions: &[Action]) -> Vec<(u64, u32)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Offer { call, handler } => Some((call.0, handler.0)),
            _ => None,
        })
        .collect()
}

const ALL: Skills = Skills(0b111);

#[test]
fn emergency_first_then_fifo_when_a_handler_frees() {
    let mut w = World::new(QueueConfig {
        wrap_up_s: PerClass::default(),
        ..QueueConfig::default()
    });
    w.handler(1, ALL);
    assert_eq!(offers(&w.call(1, CallClass::Admin)), vec![(1, 1)]);
    w.ev(Event::OfferAccepted {
        call: CallId(1),
        handler: HandlerId(1),
    });
    assert_eq!(
        w.call(2, CallClass::NonEmergency),
        vec![Action::Queued { call: CallId(2) }]
    );
    w.call(3, CallClass::Admin);
    w.call(4, CallClass::Emergency);
    w.call(5, CallClass::Emergency);
    assert_eq!(w.router.queue_depth().emergency, 2);
    let order = [4, 5, 2, 3];
    let mut current = 1;
    for next in order {
        let a = w.ev(Event::CallEnded {
            call: CallId(current),
        });
        assert_eq!(offers(&a), vec![(next, 1)], "after call {current}");
        w.ev(Event::OfferAccepted {
            call: CallId(next),
            handler: HandlerId(1),
        });
        current = next;
    }
}

#[test]
fn longest_idle_handler_gets_the_call_and_skills_are_respected() {
    let mut w = World::new(QueueConfig::default());
    w.handler(1, Skills::NON_EMERGENCY);
    w.at(1);
    w.handler(2, ALL);
    w.at(2);
    w.handler(3, ALL);
    // Handler 1 idles longest but lacks the emergency skill.
    assert_eq!(offers(&w.call(10, CallClass::Emergency)), vec![(10, 2)]);
    assert_eq!(offers(&w.call(11, CallClass::NonEmergency)), vec![(11, 1)]);
    assert_eq!(offers(&w.call(12, CallClass::NonEmergency)), vec![(12, 3)]);
}

#[test]
fn ring_no_answer_reoffers_elsewhere_keeps_place_and_sets_not_ready_after_misses() {
    let mut w = World::new(QueueConfig {
        ring_timeout_ms: 10_000,
        max_consecutive_misses: 2,
        ..QueueConfig::default()
    });
    w.handler(1, ALL);
    w.handler(2, ALL);
    w.handler(3, ALL);
    w.call(1, CallClass::Emergency); // to handler 1
    w.call(2, CallClass::Emergency); // to handler 2
    w.call(3, CallClass::Emergency); // to handler 3
    w.ev(Event::OfferAccepted {
        call: CallId(2),
        handler: HandlerId(2),
    });
    w.ev(Event::OfferAccepted {
        call: CallId(3),
        handler: HandlerId(3),
    });
    w.at(1);
    w.call(4, CallClass::Emergency); // queued behind nothing; all handlers occupied
    assert_eq!(w.router.queue_depth().emergency, 1);
    w.at(10);
    let a = w.drain();
    // Call 1 rang 10 s at handler 1: cancelled; handler 1 is the only one free, so it
    // gets the oldest waiting call, which is call 1 again (its place kept, ahead of 4).
    assert!(a.contains(&Action::CancelOffer {
        call: CallId(1),
        handler: HandlerId(1),
        reason: CancelReason::RingNoAnswer
    }));
    assert_eq!(offers(&a), vec![(1, 1)]);
    w.at(20);
    let a = w.drain();
    // Second miss in a row: handler 1 goes NotReady("missed calls"); call 1 waits, first.
    assert!(a.contains(&Action::HandlerStateChanged {
        handler: HandlerId(1),
        state: HandlerState::NotReady(MISSED_CALLS_REASON.into())
    }));
    let waiting: Vec<u64> = w
        .router
        .waiting_calls(w.now, 10)
        .iter()
        .map(|c| c.call.0)
        .collect();
    assert_eq!(waiting, vec![1, 4]);
    assert_eq!(w.router.waiting_calls(w.now, 1)[0].wait_ms, 20_000);
    assert_eq!(w.router.waiting_calls(w.now, 1)[0].offers, 2);
    // Handler 2 hangs up: wrap-up 10 s, then takes call 1 (not 4).
    w.ev(Event::CallEnded { call: CallId(2) });
    w.at(30);
    assert_eq!(offers(&w.drain()), vec![(1, 2)]);
}

#[test]
fn reject_reoffers_to_another_free_handler() {
    let mut w = World::new(QueueConfig::default());
    w.handler(1, ALL);
    w.at(1);
    w.handler(2, ALL);
    w.at(2);
    assert_eq!(offers(&w.call(1, CallClass::Emergency)), vec![(1, 1)]);
    let a = w.ev(Event::OfferRejected {
        call: CallId(1),
        handler: HandlerId(1),
        status: 486,
    });
    assert_eq!(offers(&a), vec![(1, 2)]);
    // The late 200 OK from handler 1 is stale.
    assert_eq!(
        w.router.handle(
            w.now,
            Event::OfferAccepted {
                call: CallId(1),
                handler: HandlerId(1)
            }
        ),
        Err(RouterError::StaleOffer {
            call: CallId(1),
            handler: HandlerId(1)
        })
    );
}

#[test]
fn abandoned_calls_reach_the_callback_list() {
    let mut w = World::new(QueueConfig::default());
    w.handler(1, ALL);
    w.call(1, CallClass::Emergency);
    w.call(2, CallClass::Emergency);
    w.at(7);
    let a = w.ev(Event::CallAbandoned { call: CallId(2) });
    assert!(matches!(&a[..], [Action::CallbackAdded(item)] if item.call == CallId(2)));
    let a = w.ev(Event::CallAbandoned { call: CallId(1) });
    assert_eq!(
        a[0],
        Action::CancelOffer {
            call: CallId(1),
            handler: HandlerId(1),
            reason: CancelReason::CallerAbandoned
        }
    );
    assert_eq!(
        w.router.handler_state(HandlerId(1)),
        Some(&HandlerState::Available)
    );
    w.at(9);
    let list = w.router.callback_views(w.now);
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].call, CallId(2));
    assert_eq!(list[0].caller, "+441632960002");
    assert_eq!(list[0].waited_ms, 7_000);
    assert_eq!(list[0].since_abandoned_ms, 2_000);
    assert_eq!(list[1].offers, 1);
    let id = list[0].id;
    w.ev(Event::CallbackDone { callback: id });
    assert_eq!(w.router.callback_views(w.now).len(), 1);
    assert_eq!(
        w.router.handle(w.now, Event::CallbackDone { callback: id }),
        Err(RouterError::UnknownCallback(id))
    );
}

#[test]
fn class_limits_reject_or_overflow_but_never_emergency() {
    let mut cfg = QueueConfig::default();
    cfg.non_emergency_limit.max_queued = 1;
    cfg.non_emergency_limit.retry_after_s = 30;
    cfg.admin_limit.max_queued = 0;
    cfg.admin_limit.outcome = LimitOutcome::Overflow;
    cfg.admin_limit.overflow_uri = Some("sip:admin@partner.example.net".into());
    let mut w = World::new(cfg);
    assert_eq!(
        w.call(1, CallClass::NonEmergency),
        vec![Action::Queued { call: CallId(1) }]
    );
    assert_eq!(
        w.call(2, CallClass::NonEmergency),
        vec![Action::Reject {
            call: CallId(2),
            status: 503,
            retry_after_s: 30
        }]
    );
    assert_eq!(
        w.call(3, CallClass::Admin),
        vec![Action::Overflow {
            call: CallId(3),
            target_uri: "sip:admin@partner.example.net".into(),
            reason: OverflowReason::ClassLimit
        }]
    );
    for id in 10..1010 {
        assert_eq!(
            w.call(id, CallClass::Emergency),
            vec![Action::Queued { call: CallId(id) }]
        );
    }
    assert_eq!(w.router.queue_depth().emergency, 1000);
    assert_eq!(w.router.call_status(CallId(2)), None);
}

#[test]
fn emergency_overflow_rules() {
    let cfg = QueueConfig {
        emergency_overflow: EmergencyOverflow {
            target_uri: Some("sip:999@partner.example.net".into()),
            after_wait_s: Some(60),
            when_no_handler_logged_in: true,
            when_queue_longer_than: Some(2),
        },
        ..QueueConfig::default()
    };
    let mut w = World::new(cfg);
    let over = |call: u64, reason| Action::Overflow {
        call: CallId(call),
        target_uri: "sip:999@partner.example.net".into(),
        reason,
    };
    // Nobody logged in.
    assert_eq!(
        w.call(1, CallClass::Emergency),
        vec![over(1, OverflowReason::NoHandlerLoggedIn)]
    );
    // One handler, busy.
    w.handler(1, ALL);
    w.call(2, CallClass::Emergency);
    w.ev(Event::OfferAccepted {
        call: CallId(2),
        handler: HandlerId(1),
    });
    w.at(10);
    w.call(3, CallClass::Emergency);
    w.at(20);
    w.call(4, CallClass::Emergency);
    assert_eq!(
        w.call(5, CallClass::Emergency),
        vec![over(5, OverflowReason::QueueTooLong)]
    );
    // Call 3 waited 60 s at t = 70.
    assert_eq!(
        w.router.poll_timeout(),
        Some(w.t0 + Duration::from_secs(70))
    );
    w.at(70);
    assert_eq!(w.drain(), vec![over(3, OverflowReason::WaitedTooLong)]);
    // The handler logs out after its call: call 4 overflows then (nobody logged in).
    w.ev(Event::SetHandlerState {
        handler: HandlerId(1),
        state: RequestedState::LoggedOut,
    });
    assert_eq!(w.router.queue_depth().emergency, 1);
    w.ev(Event::CallEnded { call: CallId(2) });
    w.at(75);
    let a = w.ev(Event::EndWrapUp {
        handler: HandlerId(1),
    });
    assert_eq!(
        a,
        vec![
            Action::HandlerStateChanged {
                handler: HandlerId(1),
                state: HandlerState::LoggedOut
            },
            over(4, OverflowReason::NoHandlerLoggedIn)
        ]
    );
    assert_eq!(w.router.queue_depth().emergency, 0);
    assert_eq!(
        w.router.handler_state(HandlerId(1)),
        Some(&HandlerState::LoggedOut)
    );
    assert_eq!(w.router.call_status(CallId(4)), None);
}

#[test]
fn wrap_up_per_class_and_early_end() {
    let mut w = World::new(QueueConfig {
        wrap_up_s: PerClass {
            emergency: 30,
            non_emergency: 5,
            admin: 0,
        },
        ..QueueConfig::default()
    });
    w.handler(1, ALL);
    w.call(1, CallClass::Emergency);
    w.ev(Event::OfferAccepted {
        call: CallId(1),
        handler: HandlerId(1),
    });
    w.call(2, CallClass::NonEmergency);
    w.at(100);
    w.ev(Event::CallEnded { call: CallId(1) });
    assert_eq!(
        w.router.handler_state(HandlerId(1)),
        Some(&HandlerState::WrapUp {
            until: w.t0 + Duration::from_secs(130)
        })
    );
    assert_eq!(
        w.router.handler_views(w.now)[0].wrap_up_left_ms,
        Some(30_000)
    );
    w.at(110);
    let a = w.ev(Event::EndWrapUp {
        handler: HandlerId(1),
    });
    assert_eq!(offers(&a), vec![(2, 1)]);
}

#[test]
fn not_ready_while_busy_is_deferred_and_while_ringing_reoffers() {
    let mut w = World::new(QueueConfig {
        wrap_up_s: PerClass::default(),
        ..QueueConfig::default()
    });
    w.handler(1, ALL);
    w.handler(2, ALL);
    w.call(1, CallClass::Emergency);
    w.ev(Event::OfferAccepted {
        call: CallId(1),
        handler: HandlerId(1),
    });
    w.ev(Event::SetHandlerState {
        handler: HandlerId(1),
        state: RequestedState::NotReady("break".into()),
    });
    assert_eq!(
        w.router.handler_state(HandlerId(1)),
        Some(&HandlerState::Busy(CallId(1)))
    );
    w.ev(Event::CallEnded { call: CallId(1) });
    assert_eq!(
        w.router.handler_state(HandlerId(1)),
        Some(&HandlerState::NotReady("break".into()))
    );
    w.call(2, CallClass::Emergency); // to handler 2, ringing
    w.ev(Event::SetHandlerState {
        handler: HandlerId(1),
        state: RequestedState::Available,
    });
    let a = w.ev(Event::SetHandlerState {
        handler: HandlerId(2),
        state: RequestedState::LoggedOut,
    });
    assert_eq!(
        a[0],
        Action::CancelOffer {
            call: CallId(2),
            handler: HandlerId(2),
            reason: CancelReason::HandlerUnavailable
        }
    );
    assert_eq!(offers(&a), vec![(2, 1)]);
    assert_eq!(w.router.handler_views(w.now)[0].consecutive_misses, 0);
}

#[test]
fn aging_lets_old_admin_calls_rank_with_non_emergency_but_not_emergency() {
    let mut cfg = QueueConfig {
        wrap_up_s: PerClass::default(),
        ..QueueConfig::default()
    };
    cfg.aging.admin_promote_after_s = Some(300);
    let mut w = World::new(cfg);
    w.handler(1, ALL);
    w.call(1, CallClass::Emergency);
    w.ev(Event::OfferAccepted {
        call: CallId(1),
        handler: HandlerId(1),
    });
    w.call(2, CallClass::Admin); // t = 0
    w.at(100);
    w.call(3, CallClass::NonEmergency); // t = 100
    w.at(400);
    w.call(4, CallClass::Emergency);
    let a = w.ev(Event::CallEnded { call: CallId(1) });
    assert_eq!(offers(&a), vec![(4, 1)]);
    w.ev(Event::OfferAccepted {
        call: CallId(4),
        handler: HandlerId(1),
    });
    // Admin call 2 has waited 400 s > 300 s and arrived before 101 call 3.
    let a = w.ev(Event::CallEnded { call: CallId(4) });
    assert_eq!(offers(&a), vec![(2, 1)]);
}

#[test]
fn snapshot_serialises_with_units() {
    let mut w = World::new(QueueConfig::default());
    w.handler(1, ALL);
    w.call(1, CallClass::Emergency);
    w.call(2, CallClass::NonEmergency);
    w.at(3);
    let json = serde_json::to_value(w.router.snapshot(w.now, 10)).unwrap();
    assert_eq!(json["depth"]["non-emergency"], 1);
    assert_eq!(json["waiting"][0]["wait_ms"], 3000);
    assert_eq!(json["waiting"][0]["class"], "non-emergency");
    assert_eq!(json["handlers"][0]["state"], "ringing");
    assert_eq!(json["handlers"][0]["call"], 1);
}

#[test]
fn a_call_past_the_overflow_wait_overflows_when_its_offer_rings_out() {
    let mut w = World::new(QueueConfig {
        ring_timeout_ms: 30_000,
        emergency_overflow: EmergencyOverflow {
            target_uri: Some("sip:999@partner.example.net".into()),
            after_wait_s: Some(20),
            ..EmergencyOverflow::default()
        },
        ..QueueConfig::default()
    });
    w.handler(1, ALL);
    assert_eq!(offers(&w.call(1, CallClass::Emergency)), vec![(1, 1)]);
    // Ringing calls are left alone at 20 s; at 30 s the offer rings out: handler 1 is
    // the only one, so the call is re-offered to it rather than overflowed.
    w.at(20);
    assert!(w.drain().is_empty());
    w.at(30);
    assert_eq!(offers(&w.drain()), vec![(1, 1)]);
    // Second miss: handler 1 goes NotReady; the call (waited 60 s) overflows.
    w.at(60);
    let a = w.drain();
    assert!(a.contains(&Action::Overflow {
        call: CallId(1),
        target_uri: "sip:999@partner.example.net".into(),
        reason: OverflowReason::WaitedTooLong
    }));
    assert_eq!(w.router.call_status(CallId(1)), None);
}
