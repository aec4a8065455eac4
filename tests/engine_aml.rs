//! AML correlation in the engine (issue 6, `src/engine/observe.rs`): an AML fix for the
//! caller's number becomes the location of that caller's live (and recent) calls when it
//! ranks better; other callers' calls are untouched.

mod engine_support;

use std::collections::BTreeMap;
use std::time::Duration;

use answerpoint::engine::{AmlLocation, Command};
use answerpoint::location::summary::{LocationSummary, Source};
use answerpoint::queue::RequestedState;
use engine_support::*;

fn aml(caller: &str, radius_m: f64) -> Command {
    Command::AmlLocation(AmlLocation {
        caller: caller.into(),
        location: LocationSummary {
            lat: Some(51.5),
            lon: Some(-0.12),
            alt_m: None,
            radius_m: Some(radius_m),
            confidence_pct: Some(68.0),
            shape: Some("Circle"),
            civic: BTreeMap::new(),
            source: Source::Aml,
            method: Some("GNSS".into()),
            timestamp_ms: Some(1_700_000_000_000),
            age_s: None,
        },
    })
}

#[test]
fn aml_fix_for_the_caller_becomes_the_call_location_when_better() {
    let mut net = Net::new(&config(""));
    for seat in ["seat1", "seat2"] {
        let now = net.now;
        net.engine
            .handle_command(
                now,
                Command::SetHandlerState {
                    handler: seat.into(),
                    state: RequestedState::LoggedOut,
                },
            )
            .unwrap();
    }
    net.send(CARRIER, &invite_999("aml@c", "z9hG4bKaml"));
    net.advance(Duration::from_secs(3));
    assert_eq!(net.snapshot().calls[0].location, None);

    // Another caller's fix does not touch this call.
    let now = net.now;
    net.engine
        .handle_command(now, aml("+447700900123", 12.0))
        .unwrap();
    assert_eq!(net.snapshot().calls[0].location, None);

    // The caller's number in national form (+44 1632 960001 → 01632 960001) matches.
    net.engine
        .handle_command(now, aml("01632 960001", 40.0))
        .unwrap();
    let loc = net.snapshot().calls[0].location.clone().unwrap();
    assert_eq!(loc.source, Source::Aml);
    assert_eq!(loc.radius_m, Some(40.0));
    // A worse fix is ignored, a better one replaces it.
    net.engine
        .handle_command(now, aml("+441632960001", 300.0))
        .unwrap();
    assert_eq!(
        net.snapshot().calls[0].location.as_ref().unwrap().radius_m,
        Some(40.0)
    );
    net.engine
        .handle_command(now, aml("+441632960001", 8.0))
        .unwrap();
    assert_eq!(
        net.snapshot().calls[0].location.as_ref().unwrap().radius_m,
        Some(8.0)
    );
}

#[test]
fn aml_fix_after_the_caller_hung_up_updates_the_recent_call_once() {
    // The handset's AML SMS often lands after a short call ended: the abandoned call on the
    // recent list (and so its callback item's view) takes the fix, before and after the
    // record is purged (64·T1 later).
    let mut net = Net::new(&config(""));
    net.set_state("seat1", RequestedState::LoggedOut);
    net.set_state("seat2", RequestedState::LoggedOut);
    let ruri = "sip:999@127.0.0.1:5060;user=phone";
    net.send(CARRIER, &invite_999("gone@c", "z9hG4bKgone"));
    net.advance(Duration::from_secs(2));
    net.send(CARRIER, &cancel_for("gone@c", "z9hG4bKgone", ruri));
    net.response(CARRIER, 487);
    let snap = net.snapshot();
    assert_eq!(snap.calls.len(), 1);
    assert_eq!(snap.calls[0].location, None);
    let id = snap.calls[0].id;

    let now = net.now;
    net.engine
        .handle_command(now, aml("+441632960001", 25.0))
        .unwrap();
    let snap = net.snapshot();
    assert_eq!(
        snap.calls.len(),
        1,
        "one call, not a live and a recent copy"
    );
    let loc = snap.calls[0].location.clone().unwrap();
    assert_eq!((loc.source, loc.radius_m), (Source::Aml, Some(25.0)));
    assert_eq!(
        net.engine.call_view(id).unwrap().location.unwrap().radius_m,
        Some(25.0)
    );

    // After the purge the recent view still takes a better fix.
    net.advance(Duration::from_secs(40));
    let now = net.now;
    net.engine
        .handle_command(now, aml("+441632960001", 6.0))
        .unwrap();
    let snap = net.snapshot();
    assert_eq!(snap.calls.len(), 1);
    assert_eq!(snap.calls[0].location.as_ref().unwrap().radius_m, Some(6.0));
    assert_eq!(
        net.engine.call_view(id).unwrap().location.unwrap().radius_m,
        Some(6.0)
    );
}
