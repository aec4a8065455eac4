//! A tiny set of armed timers for one transaction (RFC 3261 §17 Table 4): a deadline per
//! named [`Timer`], no clock. The machines arm and disarm; the owner asks for the earliest.

use std::time::Instant;

use super::Timer;

const COUNT: usize = 13;

fn slot(timer: Timer) -> usize {
    match timer {
        Timer::A => 0,
        Timer::B => 1,
        Timer::D => 2,
        Timer::E => 3,
        Timer::F => 4,
        Timer::G => 5,
        Timer::H => 6,
        Timer::I => 7,
        Timer::J => 8,
        Timer::K => 9,
        Timer::L => 10,
        Timer::M => 11,
        Timer::Trying => 12,
    }
}

const ALL: [Timer; COUNT] = [
    Timer::A,
    Timer::B,
    Timer::D,
    Timer::E,
    Timer::F,
    Timer::G,
    Timer::H,
    Timer::I,
    Timer::J,
    Timer::K,
    Timer::L,
    Timer::M,
    Timer::Trying,
];

/// Deadlines of the armed timers of one transaction.
#[derive(Debug, Clone, Default)]
pub(crate) struct Timers {
    deadline: [Option<Instant>; COUNT],
}

impl Timers {
    pub(crate) fn arm(&mut self, timer: Timer, at: Instant) {
        self.deadline[slot(timer)] = Some(at);
    }

    pub(crate) fn disarm(&mut self, timer: Timer) {
        self.deadline[slot(timer)] = None;
    }

    pub(crate) fn clear(&mut self) {
        self.deadline = [None; COUNT];
    }

    pub(crate) fn deadline(&self, timer: Timer) -> Option<Instant> {
        self.deadline[slot(timer)]
    }

    /// The earliest armed deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.deadline.iter().flatten().min().copied()
    }

    /// Removes and returns the earliest timer due at `now` with its deadline (ties broken
    /// in [`Timer`] order). Retransmit schedules run from the deadline, not from `now`, so a
    /// late `handle_timeout` call does not shift later retransmissions.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Timer, Instant)> {
        let mut best: Option<(Instant, Timer)> = None;
        for timer in ALL {
            if let Some(at) = self.deadline[slot(timer)] {
                if at <= now && best.is_none_or(|(b, _)| at < b) {
                    best = Some((at, timer));
                }
            }
        }
        let (at, timer) = best?;
        self.disarm(timer);
        Some((timer, at))
    }
}
