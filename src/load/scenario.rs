//! Load scenarios (issue 7): a TOML file describing phases of Poisson traffic per call
//! class, simulated handlers, caller patience, the engine's routing settings, a time scale
//! and the targets the run is judged against. Every duration is in **scenario seconds**
//! (`_s`); the harness runs `time_scale` scenario seconds per real second, so a 40-minute
//! evening runs in two minutes at `time_scale = 20`. Answer times are reported back in
//! scenario seconds; engine latency (a property of the software, not of the humans) in
//! real microseconds.
//!
//! ```toml
//! name = "steady"
//! seed = 1
//! time_scale = 20
//! [[phases]]
//! name = "evening"
//! duration_s = 1800
//! arrivals_per_s = { emergency = 0.1, non-emergency = 0.1 }
//! [classes.emergency]
//! handle = { dist = "lognormal", mean_s = 60, sd_s = 30 }
//! patience = { dist = "exponential", mean_s = 300 }
//! [classes.non-emergency]
//! handle = { dist = "exponential", mean_s = 90 }
//! [[handlers]]
//! count = 12
//! mode = "static"                     # or "register" (REGISTER with digest, RFC 3261 §22.4)
//! skills = ["emergency", "non-emergency"]
//! think = { dist = "constant", value_s = 3 }
//! no_answer_probability = 0.0
//! [engine]
//! wrap_up_s = { emergency = 10, non-emergency = 10 }
//! [targets]
//! answer = [{ class = "emergency", within_s = 10, min_pct = 90 }]
//! ```

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::call::CallClass;
use crate::sim::Dist;

/// Answer-time thresholds a target may name: the ones [`crate::kpi`] reports, s.
pub const TARGET_WITHIN_S: [u64; 4] = [5, 10, 15, 20];

/// A load scenario. See the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadScenario {
    /// Short name for reports.
    pub name: String,
    /// One line saying what the scenario models.
    #[serde(default)]
    pub description: String,
    /// RNG seed for arrivals, handle times and handler behaviour.
    #[serde(default = "one")]
    pub seed: u64,
    /// Scenario seconds per real second (≥ 1; 1 = real time).
    #[serde(default = "one_f")]
    pub time_scale: f64,
    /// After the last phase, how long calls still in progress may take to finish, scenario
    /// s (default 600). Calls still waiting then are cancelled and reported as cut off.
    #[serde(default = "default_drain_s")]
    pub drain_s: f64,
    /// Traffic phases, run one after the other.
    pub phases: Vec<Phase>,
    /// Per-class caller behaviour.
    pub classes: Classes,
    /// Simulated handler groups.
    pub handlers: Vec<HandlerGroup>,
    /// Engine routing settings written into the generated engine configuration.
    #[serde(default)]
    pub engine: EngineSettings,
    /// What the run must achieve.
    #[serde(default)]
    pub targets: Targets,
}

fn one() -> u64 {
    1
}
fn one_f() -> f64 {
    1.0
}
fn default_drain_s() -> f64 {
    600.0
}

/// One traffic phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// Name for reports.
    pub name: String,
    /// Length, scenario s.
    pub duration_s: f64,
    /// Poisson arrival rate per class, calls per scenario s.
    pub arrivals_per_s: Rates,
    /// Whether the phase is a steady state worth an Erlang C expectation (default true).
    #[serde(default = "yes")]
    pub steady: bool,
}

fn yes() -> bool {
    true
}

/// Arrival rates per class, calls per scenario s.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rates {
    /// Emergency (999) calls per s.
    #[serde(default)]
    pub emergency: f64,
    /// Non-emergency (101) calls per s.
    #[serde(default, rename = "non-emergency")]
    pub non_emergency: f64,
}

impl Rates {
    /// The rate of `class` (0 for admin).
    pub fn get(&self, class: CallClass) -> f64 {
        match class {
            CallClass::Emergency => self.emergency,
            CallClass::NonEmergency => self.non_emergency,
            CallClass::Admin => 0.0,
        }
    }

    /// Sum over classes, calls per s.
    pub fn total(&self) -> f64 {
        self.emergency + self.non_emergency
    }
}

/// Caller behaviour per class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Classes {
    /// Emergency (999) callers.
    pub emergency: ClassBehaviour,
    /// Non-emergency (101) callers.
    #[serde(rename = "non-emergency")]
    pub non_emergency: ClassBehaviour,
}

impl Classes {
    /// Behaviour of `class` (admin uses the non-emergency one; scenarios send no admin calls).
    pub fn get(&self, class: CallClass) -> &ClassBehaviour {
        match class {
            CallClass::Emergency => &self.emergency,
            _ => &self.non_emergency,
        }
    }
}

/// How callers of one class behave and how long their calls last once answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassBehaviour {
    /// Talk time once answered (the handler hangs up after it), scenario s.
    pub handle: Dist,
    /// Caller patience: the carrier sends CANCEL (RFC 3261 §9.1) when the call is not
    /// answered by then (an abandoned call). None: the caller waits forever.
    #[serde(default)]
    pub patience: Option<Dist>,
}

/// How a simulated handler reaches the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HandlerMode {
    /// A statically provisioned seat (`[[seats]]` in the engine configuration).
    Static,
    /// A softphone user that REGISTERs with digest authentication (`[[users]]`).
    Register,
}

/// A group of identical simulated handlers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandlerGroup {
    /// Number of handlers (1–5,000 in all groups together).
    pub count: u32,
    /// Static seat or registering softphone.
    #[serde(default = "static_mode")]
    pub mode: HandlerMode,
    /// Skill names as in the engine configuration (default emergency + non-emergency).
    #[serde(default = "default_skills")]
    pub skills: Vec<String>,
    /// Think time: offer (INVITE received) → 200 OK, scenario s. None: answer at once.
    #[serde(default)]
    pub think: Option<Dist>,
    /// Probability that a handler lets an offer ring unanswered (ring-no-answer), 0–1.
    #[serde(default)]
    pub no_answer_probability: f64,
    /// A part of the group failing mid-run.
    #[serde(default)]
    pub failure: Option<Failure>,
}

fn static_mode() -> HandlerMode {
    HandlerMode::Static
}
fn default_skills() -> Vec<String> {
    vec!["emergency".into(), "non-emergency".into()]
}

/// Some handlers of a group stop taking calls.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    /// Fraction of the group that fails, 0–1 (rounded to whole handlers).
    pub fraction: f64,
    /// When, scenario s from the start of the run.
    pub at_s: f64,
    /// What the failing handlers do.
    #[serde(default = "stop")]
    pub mode: FailureMode,
}

fn stop() -> FailureMode {
    FailureMode::StopAnswering
}

/// What a failing handler does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureMode {
    /// Keeps its seat/registration but never answers again (the engine sees ring-no-answer
    /// and, after `max_consecutive_misses`, sets it NotReady).
    StopAnswering,
    /// Logs out: REGISTER with `Expires: 0` (RFC 3261 §10.2.2); for static seats, which
    /// cannot log out over SIP, the same as `stop-answering`.
    Logout,
}

/// Engine routing settings for the generated configuration (`[queue]`), scenario time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSettings {
    /// Ring-no-answer timeout, scenario s (default 12).
    pub ring_timeout_s: f64,
    /// Missed offers before a handler is set NotReady (default 2; 0 = never).
    pub max_consecutive_misses: u32,
    /// Wrap-up per class, scenario s (default 10 / 10). The engine keeps whole seconds, so
    /// the real wrap-up is `round(wrap_up_s / time_scale)` s; the report shows it.
    pub wrap_up_s: Rates,
    /// Most 101 calls waiting before new ones are answered 503 (default 1,000).
    pub non_emergency_max_queued: usize,
    /// The engine's `realtime_priority` (`SCHED_FIFO` for its thread; default 0 = normal
    /// scheduling, as in the engine's own default configuration).
    pub realtime_priority: u8,
    /// The engine's `cpu_latency_limit_us` (hold idle CPUs to this wake-up latency while it
    /// runs; default none, as in the engine's own default configuration).
    pub cpu_latency_limit_us: Option<u32>,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            ring_timeout_s: 12.0,
            max_consecutive_misses: 2,
            wrap_up_s: Rates {
                emergency: 10.0,
                non_emergency: 10.0,
            },
            non_emergency_max_queued: 1_000,
            realtime_priority: 0,
            cpu_latency_limit_us: None,
        }
    }
}

/// Targets the run is judged against; any miss makes `answerpoint load` exit 1.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Targets {
    /// Answer-time targets (over answered calls, as in `/api/kpi`).
    pub answer: Vec<AnswerTarget>,
    /// Most emergency calls rejected (final response ≥ 300 not caused by our CANCEL).
    /// Default 0: no 999 call is ever busied.
    pub max_emergency_rejected: u64,
    /// Most calls lost (sent, never finished) in any class. Default 0.
    pub max_lost: u64,
    /// Most emergency calls abandoned, % of offered. None: not judged.
    pub max_emergency_abandoned_pct: Option<f64>,
    /// Engine latency p99 bound, µs (carrier INVITE sent → handler INVITE received, calls
    /// offered at once). None: not judged.
    pub engine_latency_p99_max_us: Option<u64>,
}

/// "At least `min_pct` % of answered `class` calls answered within `within_s` s".
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerTarget {
    /// The class.
    pub class: CallClass,
    /// Threshold, scenario s: one of 5, 10, 15, 20 ([`TARGET_WITHIN_S`]).
    pub within_s: u64,
    /// Minimum share of answered calls, %.
    pub min_pct: f64,
}

/// A scenario that cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadScenarioError {
    /// Bad TOML or a wrong field.
    #[error("load scenario: {0}")]
    Toml(String),
    /// A value out of its documented range.
    #[error("load scenario: {0}")]
    Invalid(String),
}

/// Largest number of simulated handlers.
pub const MAX_HANDLERS: u32 = 5_000;

/// Most call arrivals per real second for one class (`arrivals_per_s.<class>` ×
/// `time_scale`): beyond it the harness would only queue calls in memory.
pub const MAX_RATE_PER_S: f64 = 5_000.0;

/// Most calls one run may expect (Σ phases `arrivals_per_s` × `duration_s`, both classes).
pub const MAX_CALLS_PER_RUN: f64 = 1_000_000.0;
/// Longest scenario time any one setting may give, s (about 11.6 days): phase lengths,
/// drain, failure time, distribution parameters, ring-no-answer timeout, wrap-up. Larger
/// finite values (`1e300`) would overflow the real-time clock arithmetic.
pub const MAX_TIME_S: f64 = 1_000_000.0;

impl LoadScenario {
    /// Parses and checks a TOML scenario.
    ///
    /// # Errors
    /// [`LoadScenarioError`] for bad TOML or values out of range.
    pub fn from_toml(text: &str) -> Result<LoadScenario, LoadScenarioError> {
        let s: LoadScenario =
            toml::from_str(text).map_err(|e| LoadScenarioError::Toml(e.to_string()))?;
        s.check()?;
        Ok(s)
    }

    /// Checks ranges: positive finite durations and rates, probabilities in 0–1, target
    /// thresholds among [`TARGET_WITHIN_S`], 1–[`MAX_HANDLERS`] handlers.
    ///
    /// # Errors
    /// The first [`LoadScenarioError::Invalid`] found.
    pub fn check(&self) -> Result<(), LoadScenarioError> {
        let bad = |m: String| Err(LoadScenarioError::Invalid(m));
        let finite_pos = |v: f64| v.is_finite() && v > 0.0 && v <= MAX_TIME_S;
        let time_ok = |v: f64| v.is_finite() && (0.0..=MAX_TIME_S).contains(&v);
        if !(self.time_scale.is_finite() && self.time_scale >= 1.0) {
            return bad(format!("time_scale {} must be ≥ 1", self.time_scale));
        }
        if !time_ok(self.drain_s) {
            return bad(format!("drain_s must be 0–{MAX_TIME_S}"));
        }
        if self.phases.is_empty() {
            return bad("needs at least one [[phases]]".into());
        }
        let mut expected = 0.0;
        for (i, p) in self.phases.iter().enumerate() {
            if !finite_pos(p.duration_s) {
                return bad(format!(
                    "phase {:?}: duration_s must be > 0 and ≤ {MAX_TIME_S}",
                    p.name
                ));
            }
            let r = p.arrivals_per_s;
            if !(r.emergency.is_finite()
                && r.emergency >= 0.0
                && r.non_emergency.is_finite()
                && r.non_emergency >= 0.0)
            {
                return bad(format!("phase {:?}: rates must be ≥ 0", p.name));
            }
            for (class, rate) in [
                ("emergency", r.emergency),
                ("non-emergency", r.non_emergency),
            ] {
                if rate * self.time_scale > MAX_RATE_PER_S {
                    return bad(format!(
                        "phases[{i}] ({:?}): arrivals_per_s.{class} = {rate} × time_scale {} \
                         is {} calls per real second, above the limit of {MAX_RATE_PER_S}",
                        p.name,
                        self.time_scale,
                        rate * self.time_scale
                    ));
                }
            }
            expected += (r.emergency + r.non_emergency) * p.duration_s;
        }
        if expected <= 0.0 {
            return bad("phases: every arrivals_per_s is 0, so no call would be placed".into());
        }
        if expected > MAX_CALLS_PER_RUN {
            return bad(format!(
                "phases: arrivals_per_s × duration_s expects {expected:.0} calls, \
                 above the limit of {MAX_CALLS_PER_RUN} per run"
            ));
        }
        for (name, c) in [
            ("emergency", &self.classes.emergency),
            ("non-emergency", &self.classes.non_emergency),
        ] {
            check_dist(&c.handle, &format!("classes.{name}.handle"))?;
            if let Some(p) = &c.patience {
                check_dist(p, &format!("classes.{name}.patience"))?;
            }
        }
        if self.handlers.is_empty() {
            return bad("needs at least one [[handlers]] group".into());
        }
        let total: u64 = self.handlers.iter().map(|g| u64::from(g.count)).sum();
        if total == 0 || total > u64::from(MAX_HANDLERS) {
            return bad(format!("handler count {total} must be 1..={MAX_HANDLERS}"));
        }
        for (i, g) in self.handlers.iter().enumerate() {
            if !(0.0..=1.0).contains(&g.no_answer_probability) {
                return bad(format!(
                    "handlers[{i}].no_answer_probability must be in 0..=1"
                ));
            }
            // As the engine will check them in the generated configuration, named here.
            crate::config::check_skills(&format!("handlers[{i}].skills"), &g.skills)
                .map_err(|e| LoadScenarioError::Invalid(e.to_string()))?;
            if g.skills.is_empty() {
                return bad(format!(
                    "handlers[{i}].skills is empty: the group takes no call"
                ));
            }
            if let Some(t) = &g.think {
                check_dist(t, &format!("handlers[{i}].think"))?;
            }
            if let Some(f) = &g.failure {
                if !(0.0..=1.0).contains(&f.fraction) {
                    return bad(format!("handlers[{i}].failure.fraction must be in 0..=1"));
                }
                if !time_ok(f.at_s) {
                    return bad(format!("handlers[{i}].failure.at_s must be 0–{MAX_TIME_S}"));
                }
            }
        }
        // Every class that arrives needs a handler with its skill, or the run can only
        // fail after its whole length.
        for (class, arrives) in [
            (
                "emergency",
                self.phases.iter().any(|p| p.arrivals_per_s.emergency > 0.0),
            ),
            (
                "non-emergency",
                self.phases
                    .iter()
                    .any(|p| p.arrivals_per_s.non_emergency > 0.0),
            ),
        ] {
            if arrives
                && !self
                    .handlers
                    .iter()
                    .any(|g| g.count > 0 && g.skills.iter().any(|k| k == class))
            {
                return bad(format!(
                    "{class} calls arrive but no handler group has the skill \"{class}\""
                ));
            }
        }
        let e = &self.engine;
        if !finite_pos(e.ring_timeout_s) {
            return bad(format!(
                "engine.ring_timeout_s must be > 0 and ≤ {MAX_TIME_S}"
            ));
        }
        // The engine's wrap-up is whole real seconds, at most a day.
        let wrap_max = (86_400.0 * self.time_scale).min(MAX_TIME_S);
        for (class, w) in [
            ("emergency", e.wrap_up_s.emergency),
            ("non-emergency", e.wrap_up_s.non_emergency),
        ] {
            if !(w.is_finite() && (0.0..=wrap_max).contains(&w)) {
                return bad(format!("engine.wrap_up_s.{class} must be 0–{wrap_max}"));
            }
        }
        if e.realtime_priority > crate::runtime::sched::MAX_REALTIME_PRIORITY {
            return bad("engine.realtime_priority must be 0–99".into());
        }
        if e.cpu_latency_limit_us > Some(crate::runtime::cpu_latency::MAX_CPU_LATENCY_LIMIT_US) {
            return bad("engine.cpu_latency_limit_us must be 0–1000000".into());
        }
        for t in &self.targets.answer {
            if !TARGET_WITHIN_S.contains(&t.within_s) {
                return bad(format!(
                    "targets.answer within_s {} must be one of 5, 10, 15, 20",
                    t.within_s
                ));
            }
            if !(0.0..=100.0).contains(&t.min_pct) {
                return bad("targets.answer min_pct must be in 0..=100".into());
            }
        }
        Ok(())
    }

    /// Total scenario time of the phases, s.
    pub fn phases_s(&self) -> f64 {
        self.phases.iter().map(|p| p.duration_s).sum()
    }

    /// Index of the phase running at scenario time `t_s` (the last one after the end).
    pub fn phase_at(&self, t_s: f64) -> usize {
        let mut end = 0.0;
        for (i, p) in self.phases.iter().enumerate() {
            end += p.duration_s;
            if t_s < end {
                return i;
            }
        }
        self.phases.len().saturating_sub(1)
    }

    /// Total handlers in all groups.
    pub fn handler_count(&self) -> u32 {
        self.handlers.iter().map(|g| g.count).sum()
    }

    /// Wrap-up the engine really applies, in whole real s, per class.
    pub fn engine_wrap_up_real_s(&self) -> (u32, u32) {
        let r = |s: f64| (s / self.time_scale).round().clamp(0.0, 86_400.0) as u32;
        (
            r(self.engine.wrap_up_s.emergency),
            r(self.engine.wrap_up_s.non_emergency),
        )
    }

    /// Poisson arrivals of every phase and class, sorted by time: `(scenario s, class)`.
    pub fn arrivals<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<(f64, CallClass)> {
        let mut out = Vec::new();
        let mut start = 0.0;
        for p in &self.phases {
            for class in [CallClass::Emergency, CallClass::NonEmergency] {
                let rate = p.arrivals_per_s.get(class);
                if rate <= 0.0 {
                    continue;
                }
                let exp = Dist::Exponential { mean_s: 1.0 / rate };
                let mut t = start + exp.sample(rng);
                while t < start + p.duration_s {
                    out.push((t, class));
                    t += exp.sample(rng);
                }
            }
            start += p.duration_s;
        }
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out
    }

    /// Engine configuration (TOML) for this scenario: SIP on UDP `127.0.0.1:0`, carriers
    /// from loopback, `[queue]` from [`EngineSettings`] scaled to real time, one `[[seats]]`
    /// per static handler (`contact = "sip:<id>@<handler_addr>"`) and one `[[users]]` per
    /// registering handler (password = [`handler_password`]).
    pub fn engine_config_toml(&self, handler_addr: std::net::SocketAddr) -> String {
        use std::fmt::Write;
        let e = &self.engine;
        let (wu_e, wu_n) = self.engine_wrap_up_real_s();
        let ring_ms = ((e.ring_timeout_s / self.time_scale) * 1000.0)
            .round()
            .max(1.0) as u64;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# generated by `answerpoint load` for scenario {:?}\n\
             realtime_priority = {}\n{}\n\
             [sip]\nlisten = [\"udp:127.0.0.1:0\"]\ncarriers = [\"127.0.0.0/8\"]\n\
             realm = \"load.answerpoint\"\n\n\
             [http]\nlisten = \"127.0.0.1:0\"\n\n\
             [limits]\nmax_registrations = {}\n\n\
             [queue]\nring_timeout_ms = {ring_ms}\nmax_consecutive_misses = {}\n\
             wrap_up_s = {{ emergency = {wu_e}, non-emergency = {wu_n}, admin = 0 }}\n\n\
             [queue.non_emergency_limit]\nmax_queued = {}\noutcome = \"reject\"\nretry_after_s = 60\n",
            self.name,
            e.realtime_priority,
            match e.cpu_latency_limit_us {
                Some(l) => format!("cpu_latency_limit_us = {l}\n"),
                None => String::new(),
            },
            (self.handler_count() as usize + 16).max(16),
            e.max_consecutive_misses,
            e.non_emergency_max_queued,
        );
        for (i, group, id) in self.handler_ids() {
            let skills = group
                .skills
                .iter()
                .map(|k| format!("{k:?}"))
                .collect::<Vec<_>>()
                .join(", ");
            match group.mode {
                HandlerMode::Static => {
                    let _ = writeln!(
                        s,
                        "[[seats]]\nid = \"{id}\"\ncontact = \"sip:{id}@{handler_addr}\"\nskills = [{skills}]\n"
                    );
                }
                HandlerMode::Register => {
                    let _ = writeln!(
                        s,
                        "[[users]]\nname = \"{id}\"\npassword = \"{}\"\nskills = [{skills}]\n",
                        handler_password(i)
                    );
                }
            }
        }
        s
    }

    /// Every simulated handler: `(index, group, id)`; ids are `h1`, `h2`, … for seats and
    /// `u1`, `u2`, … for registering users (numbered across groups).
    pub fn handler_ids(&self) -> Vec<(usize, &HandlerGroup, String)> {
        let mut out = Vec::new();
        for g in &self.handlers {
            for _ in 0..g.count {
                let i = out.len();
                let prefix = match g.mode {
                    HandlerMode::Static => 'h',
                    HandlerMode::Register => 'u',
                };
                out.push((i, g, format!("{prefix}{}", i + 1)));
            }
        }
        out
    }
}

/// The digest password of simulated handler `index` (not a secret: loopback test users).
pub fn handler_password(index: usize) -> String {
    format!("load-pw-{index}")
}

fn check_dist(d: &Dist, what: &str) -> Result<(), LoadScenarioError> {
    let pos = |v: f64| v.is_finite() && v > 0.0 && v <= MAX_TIME_S;
    let ok = match *d {
        Dist::Exponential { mean_s } => pos(mean_s),
        Dist::Lognormal { mean_s, sd_s } => pos(mean_s) && pos(sd_s),
        Dist::Constant { value_s } => value_s == 0.0 || pos(value_s),
    };
    if ok {
        Ok(())
    } else {
        Err(LoadScenarioError::Invalid(format!(
            "{what}: distribution parameters must be finite, > 0 and ≤ {MAX_TIME_S} s"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const MIN: &str = r#"
name = "t"
time_scale = 10
[[phases]]
name = "a"
duration_s = 1000
arrivals_per_s = { emergency = 2.0 }
[[phases]]
name = "b"
duration_s = 1000
arrivals_per_s = { emergency = 0.5, non-emergency = 1.0 }
[classes.emergency]
handle = { dist = "constant", value_s = 60 }
[classes.non-emergency]
handle = { dist = "exponential", mean_s = 90 }
[[handlers]]
count = 3
[[handlers]]
count = 2
mode = "register"
[engine]
wrap_up_s = { emergency = 10, non-emergency = 25 }
[targets]
answer = [{ class = "emergency", within_s = 10, min_pct = 90 }]
"#;

    #[test]
    fn parses_and_generates_an_engine_config_the_engine_accepts() {
        let s = LoadScenario::from_toml(MIN).unwrap();
        assert_eq!(s.handler_count(), 5);
        assert_eq!(s.engine_wrap_up_real_s(), (1, 3)); // 10/10 → 1 s, 25/10 = 2.5 → 3 s
        let toml = s.engine_config_toml("127.0.0.1:5071".parse().unwrap());
        let cfg = crate::config::Config::from_toml_str(&toml).unwrap();
        assert_eq!(cfg.seats.len(), 3);
        assert_eq!(cfg.seats[0].contact, "sip:h1@127.0.0.1:5071");
        assert_eq!(cfg.users.len(), 2);
        assert_eq!(cfg.users[1].name, "u5");
        assert_eq!(cfg.users[1].password, handler_password(4));
        assert_eq!(cfg.queue.ring_timeout_ms, 1_200);
        assert_eq!(cfg.queue.wrap_up_s.non_emergency, 3);
        assert_eq!(cfg.realtime_priority, 0);
        let rt = LoadScenario::from_toml(
            &MIN.replace("[engine]\n", "[engine]\nrealtime_priority = 10\n"),
        )
        .unwrap();
        let cfg = crate::config::Config::from_toml_str(
            &rt.engine_config_toml("127.0.0.1:5071".parse().unwrap()),
        )
        .unwrap();
        assert_eq!(cfg.realtime_priority, 10);
        assert_eq!(cfg.cpu_latency_limit_us, None);
        assert!(LoadScenario::from_toml(
            &MIN.replace("[engine]\n", "[engine]\nrealtime_priority = 100\n")
        )
        .is_err());
        let qos = LoadScenario::from_toml(
            &MIN.replace("[engine]\n", "[engine]\ncpu_latency_limit_us = 0\n"),
        )
        .unwrap();
        let cfg = crate::config::Config::from_toml_str(
            &qos.engine_config_toml("127.0.0.1:5071".parse().unwrap()),
        )
        .unwrap();
        assert_eq!(cfg.cpu_latency_limit_us, Some(0));
        assert!(LoadScenario::from_toml(
            &MIN.replace("[engine]\n", "[engine]\ncpu_latency_limit_us = 1000001\n")
        )
        .is_err());
    }

    /// A skill the engine would refuse (unknown, a control character that would also
    /// break the generated TOML, a repeat) is refused up front, naming the group.
    #[test]
    fn handler_skills_are_checked_up_front() {
        for (skills, want) in [
            ("[\"emergancy\"]", "unknown skill 'emergancy'"),
            ("[\"text\\u0007\"]", "handlers[1].skills[0]"),
            ("[\"text\", \"text\"]", "handlers[1].skills[1]"),
        ] {
            let text = MIN.replacen("count = 2\n", &format!("count = 2\nskills = {skills}\n"), 1);
            match LoadScenario::from_toml(&text) {
                Err(LoadScenarioError::Invalid(m)) => {
                    assert!(m.contains(want), "{skills}: {m}");
                    assert!(m.contains("handlers[1].skills"), "{skills}: {m}");
                }
                other => panic!("{skills}: {other:?}"),
            }
        }
        // No group can take a class that arrives, or a group with no skill at all.
        let text = MIN.replacen("count = 2\n", "count = 2\nskills = []\n", 1);
        match LoadScenario::from_toml(&text) {
            Err(LoadScenarioError::Invalid(m)) => {
                assert!(m.contains("handlers[1].skills is empty"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        let both = MIN
            .replacen("count = 3\n", "count = 3\nskills = [\"text\"]\n", 1)
            .replacen(
                "count = 2\n",
                "count = 2\nskills = [\"non-emergency\", \"admin\"]\n",
                1,
            );
        match LoadScenario::from_toml(&both) {
            Err(LoadScenarioError::Invalid(m)) => {
                assert!(
                    m.contains("no handler group has the skill \"emergency\""),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
        let text = MIN.replacen("count = 2\n", "count = 2\nskills = [\"text\"]\n", 1);
        let s = LoadScenario::from_toml(&text).unwrap();
        let cfg = crate::config::Config::from_toml_str(
            &s.engine_config_toml("127.0.0.1:5071".parse().unwrap()),
        )
        .unwrap();
        assert_eq!(cfg.users[0].skills, ["text"]);
    }

    #[test]
    fn a_scenario_without_any_arrivals_is_refused() {
        let text = MIN.replace("emergency = 2.0", "emergency = 0.0").replace(
            "emergency = 0.5, non-emergency = 1.0",
            "emergency = 0, non-emergency = 0",
        );
        let e = LoadScenario::from_toml(&text).unwrap_err().to_string();
        assert!(e.contains("no call would be placed"), "{e}");
    }

    #[test]
    fn arrivals_follow_the_phase_rates() {
        let s = LoadScenario::from_toml(MIN).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let a = s.arrivals(&mut rng);
        let count = |lo: f64, hi: f64, c: CallClass| {
            a.iter()
                .filter(|(t, k)| *t >= lo && *t < hi && *k == c)
                .count() as f64
        };
        // Expected 2000, 500 and 1000 calls; Poisson sd ≈ 45, 22, 32: allow ±5 sd.
        assert!((count(0.0, 1000.0, CallClass::Emergency) - 2000.0).abs() < 225.0);
        assert_eq!(count(0.0, 1000.0, CallClass::NonEmergency), 0.0);
        assert!((count(1000.0, 2000.0, CallClass::Emergency) - 500.0).abs() < 110.0);
        assert!((count(1000.0, 2000.0, CallClass::NonEmergency) - 1000.0).abs() < 160.0);
        assert!(a.windows(2).all(|w| w[0].0 <= w[1].0));
        assert_eq!(s.phase_at(999.0), 0);
        assert_eq!(s.phase_at(1000.0), 1);
        assert_eq!(s.phase_at(5000.0), 1);
    }

    #[test]
    fn rejects_out_of_range_values() {
        let bad = MIN.replace("within_s = 10", "within_s = 12");
        assert!(matches!(
            LoadScenario::from_toml(&bad),
            Err(LoadScenarioError::Invalid(m)) if m.contains("within_s 12")
        ));
        let bad = MIN.replace("time_scale = 10", "time_scale = 0.5");
        assert!(LoadScenario::from_toml(&bad).is_err());
        let bad = MIN.replace("count = 3", "count = 0\n[[handlers.x]]");
        assert!(matches!(
            LoadScenario::from_toml(&bad),
            Err(LoadScenarioError::Toml(_))
        ));
    }

    /// Finite but absurd times (found by a new user: they panicked the harness mid-run or
    /// made the engine refuse its own generated configuration) are refused up front,
    /// naming the key.
    #[test]
    fn rejects_huge_times() {
        let cases = [
            (
                "time_scale = 10",
                "time_scale = 10\ndrain_s = 1e300",
                "drain_s",
            ),
            (
                "duration_s = 1000\narrivals_per_s = { emergency = 2.0 }",
                "duration_s = 1e300\narrivals_per_s = { emergency = 2.0 }",
                "duration_s",
            ),
            (
                "value_s = 60",
                "value_s = 1e300",
                "classes.emergency.handle",
            ),
            (
                "mean_s = 90",
                "mean_s = inf",
                "classes.non-emergency.handle",
            ),
            (
                "count = 3",
                "count = 3\nfailure = { fraction = 0.5, at_s = 1e300 }",
                "at_s",
            ),
            (
                "[engine]",
                "[engine]\nring_timeout_s = 1e300",
                "ring_timeout_s",
            ),
            (
                "emergency = 10, non",
                "emergency = inf, non",
                "wrap_up_s.emergency",
            ),
            // Wrap-up over a real day at ×10.
            (
                "non-emergency = 25 }",
                "non-emergency = 864001 }",
                "wrap_up_s.non-emergency",
            ),
        ];
        for (from, to, key) in cases {
            assert!(MIN.contains(from), "{from}");
            let text = MIN.replacen(from, to, 1);
            match LoadScenario::from_toml(&text) {
                Err(LoadScenarioError::Invalid(m)) => assert!(m.contains(key), "{key}: {m}"),
                other => panic!("{key}: {other:?}"),
            }
        }
        // The largest allowed values are accepted.
        let text = MIN.replacen("value_s = 60", &format!("value_s = {MAX_TIME_S}"), 1);
        assert!(LoadScenario::from_toml(&text).is_ok());
    }
}
