//! AML correlation inside the engine (issue 6): an AML fix (ETSI TS 103 625 §6, the
//! handset's own position sent by SMS/HTTPS during the call) received by the HTTP API is
//! matched to the live and recently finished calls of the same caller number
//! ([`crate::location::aml_store::caller_key`]: the last 10 digits) and becomes that call's
//! location summary when it ranks better than what the INVITE carried (a geodetic area with
//! a smaller radius beats a larger one; any position beats a civic-only or missing one;
//! see `LocationSummary::rank`). The best fix per caller over the AML window is chosen by
//! the runtime's [`crate::location::aml_store::AmlStore`] before it reaches the engine, and
//! re-sent when a later call of that caller arrives.
//!
//! Reached through [`Command::AmlLocation`](super::Command::AmlLocation); nothing here
//! reads a clock.

use std::sync::Arc;

use serde::Serialize;

use super::endpoint::Engine;
use crate::location::aml_store::caller_key;
use crate::location::summary::LocationSummary;

/// An AML location for a caller, as [`Command::AmlLocation`](super::Command::AmlLocation)
/// carries it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AmlLocation {
    /// The handset's number (AML `device_number`); matched on its last 10 digits.
    pub caller: String,
    /// The fix as a location summary (`source: aml`, `radius_m`, `timestamp_ms`).
    pub location: LocationSummary,
}

// `Command` is `Eq`: AML coordinates come from a parser that refuses non-finite numbers
// (`crate::location::aml`), so equality on them is reflexive.
impl Eq for AmlLocation {}

/// `true` when `new` should replace `old` as a call's location.
fn better(new: &LocationSummary, old: Option<&LocationSummary>) -> bool {
    match old {
        None => true,
        Some(o) => {
            let (nc, nr, nt) = new.rank();
            let (oc, or, ot) = o.rank();
            (nc, nr) < (oc, or) || ((nc, nr) == (oc, or) && nt <= ot)
        }
    }
}

impl Engine {
    /// The view of call `id` (live, or recently finished and not yet purged): what the
    /// journal and `GET /api/calls` record. O(1) for live calls.
    pub fn call_view(&self, id: u64) -> Option<super::CallView> {
        match self.calls.get(&id) {
            Some(c) => Some(c.view(self)),
            None => self
                .recent
                .iter()
                .rev()
                .find(|v| v.id == id)
                .map(|v| super::CallView::clone(v)),
        }
    }

    /// The time of the engine's last input (`handle_received` / `handle_timeout` /
    /// `handle_command`): the freshest "now" the engine knows.
    pub fn last_input(&self) -> std::time::Instant {
        self.last_now
    }

    /// The SIP Call-IDs of call `id`: the carrier leg's and each handler leg's (ours, in
    /// offer order), for the per-call log span. `None` once the call is purged.
    pub fn call_leg_ids(&self, id: u64) -> Option<(String, Vec<String>)> {
        let c = self.calls.get(&id)?;
        Some((
            c.carrier.call_id.to_string(),
            c.legs.iter().map(|l| l.call_id.clone()).collect(),
        ))
    }

    /// Applies an AML fix to every live call, and each of the last
    /// [`MAX_RECENT_CALLS`](super::MAX_RECENT_CALLS) finished ones, whose callback number
    /// (else caller) has the same [`caller_key`]; returns how many calls took it as their
    /// location.
    pub(crate) fn apply_aml_location(&mut self, aml: AmlLocation) -> usize {
        let Some(key) = caller_key(&aml.caller) else {
            return 0;
        };
        let matches = |callback: Option<&Arc<str>>, caller: &str| {
            caller_key(callback.map_or(caller, |c| c)).as_deref() == Some(key.as_str())
        };
        let location = Arc::new(aml.location);
        // Live calls and the recent list only, not every finished call still lingering in
        // `calls` (tens of thousands at 1,000 calls/s, with an AML per mobile 999 call).
        let mut updated = 0;
        for id in &self.live {
            if let Some(c) = self.calls.get_mut(id) {
                if matches(c.callback_number.as_ref(), &c.caller)
                    && better(&location, c.location.as_deref())
                {
                    c.location = Some(Arc::clone(&location));
                    updated += 1;
                }
            }
        }
        for v in self.recent.iter_mut() {
            if matches(v.callback_number.as_ref(), &v.caller)
                && better(&location, v.location.as_deref())
            {
                Arc::make_mut(v).location = Some(Arc::clone(&location));
                // The record of a finished call not yet purged takes it too.
                if let Some(c) = self.calls.get_mut(&v.id) {
                    c.location = Some(Arc::clone(&location));
                }
                updated += 1;
            }
        }
        updated
    }
}
