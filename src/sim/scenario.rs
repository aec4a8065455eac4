//! Simulation scenarios: traffic per class, handler groups and the routing policy,
//! from code ([`Scenario::mmc`]) or a TOML file (`answerpoint simulate --scenario F`).
//!
//! ```toml
//! seed = 7
//! calls = 100000          # counted arrivals (all classes), after warm-up
//! warmup_calls = 10000
//! languages = ["en", "cy"]
//! [queue]                 # the engine's [queue] section (crate::queue::QueueConfig)
//! ring_timeout_ms = 15000
//! [[classes]]
//! class = "emergency"
//! arrival_rate_per_s = 0.5
//! handle = { dist = "lognormal", mean_s = 180, sd_s = 120 }
//! patience = { dist = "exponential", mean_s = 120 }
//! [[handlers]]
//! count = 20
//! skills = ["emergency", "non-emergency"]
//! answer_delay = { dist = "constant", value_s = 2 }
//! no_answer_probability = 0.02
//! ```

use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal};
use serde::{Deserialize, Serialize};

use crate::call::CallClass;
use crate::queue::{PerClass, QueueConfig, Skills};

/// A scenario for [`crate::sim::run`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// RNG seed; the same seed gives the same report.
    #[serde(default)]
    pub seed: u64,
    /// Arrivals counted in the report (all classes together), after the warm-up.
    pub calls: u64,
    /// Arrivals simulated first and left out of the report (the system starts empty).
    #[serde(default)]
    pub warmup_calls: u64,
    /// Language tags; their position is the skill slot ([`Skills::language`]).
    #[serde(default)]
    pub languages: Vec<String>,
    /// Routing policy.
    #[serde(default)]
    pub queue: QueueConfig,
    /// Traffic per class.
    pub classes: Vec<ClassTraffic>,
    /// Handler groups.
    pub handlers: Vec<HandlerGroup>,
}

/// Poisson traffic of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassTraffic {
    /// The class.
    pub class: CallClass,
    /// Mean arrivals per s (Poisson process).
    pub arrival_rate_per_s: f64,
    /// Handle (talk) time.
    pub handle: Dist,
    /// Caller patience: the caller hangs up if not answered by then. None: infinite.
    #[serde(default)]
    pub patience: Option<Dist>,
    /// Extra skills the calls need (names as in [`Skills::from_name`]).
    #[serde(default)]
    pub required_skills: Vec<String>,
}

/// A group of identical handlers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandlerGroup {
    /// Number of handlers.
    pub count: u32,
    /// Skill names (as in [`Skills::from_name`]).
    pub skills: Vec<String>,
    /// Time from offer to answer. None: answer at once.
    #[serde(default)]
    pub answer_delay: Option<Dist>,
    /// Probability that an offer rings unanswered (ring-no-answer), 0–1.
    #[serde(default)]
    pub no_answer_probability: f64,
    /// Login time, in s of virtual time.
    #[serde(default)]
    pub login_at_s: f64,
    /// Logout time, in s of virtual time. None: stays.
    #[serde(default)]
    pub logout_at_s: Option<f64>,
}

/// A duration distribution, in s.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Dist {
    /// Exponential with mean `mean_s`.
    Exponential {
        /// Mean, in s.
        mean_s: f64,
    },
    /// Lognormal with mean `mean_s` and standard deviation `sd_s` (of the duration
    /// itself, not of its logarithm).
    Lognormal {
        /// Mean, in s.
        mean_s: f64,
        /// Standard deviation, in s.
        sd_s: f64,
    },
    /// Always `value_s`.
    Constant {
        /// Value, in s.
        value_s: f64,
    },
}

/// A scenario that cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScenarioError {
    /// Bad TOML or a wrong field.
    #[error("scenario: {0}")]
    Toml(String),
    /// A distribution parameter or rate that is not finite and positive.
    #[error("scenario: {0} must be finite and > 0")]
    NotPositive(&'static str),
    /// An unknown skill name.
    #[error("scenario: unknown skill {0:?}")]
    UnknownSkill(String),
    /// Invalid `[queue]` section.
    #[error("scenario: {0}")]
    Queue(#[from] crate::queue::QueueConfigError),
    /// No traffic or no handlers.
    #[error("scenario: needs at least one class and one handler group")]
    Empty,
    /// The scenario file could not be read (missing, unreadable, not UTF-8).
    #[error("scenario file {path}: {error}")]
    Read {
        /// The path as given.
        path: String,
        /// The I/O error, as text.
        error: String,
    },
    /// The file was read but is not a valid scenario.
    #[error("scenario file {path}: {error}")]
    InFile {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        error: Box<ScenarioError>,
    },
}

impl Dist {
    /// Draws one duration, in s.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            Dist::Exponential { mean_s } => {
                Exp::new(1.0 / mean_s).map_or(mean_s, |d| d.sample(rng))
            }
            Dist::Lognormal { mean_s, sd_s } => {
                let sigma2 = (1.0 + (sd_s / mean_s).powi(2)).ln();
                let mu = mean_s.ln() - sigma2 / 2.0;
                LogNormal::new(mu, sigma2.sqrt()).map_or(mean_s, |d| d.sample(rng))
            }
            Dist::Constant { value_s } => value_s,
        }
    }

    /// The mean, in s.
    pub fn mean_s(&self) -> f64 {
        match *self {
            Dist::Exponential { mean_s } | Dist::Lognormal { mean_s, .. } => mean_s,
            Dist::Constant { value_s } => value_s,
        }
    }

    fn check(&self, what: &'static str) -> Result<(), ScenarioError> {
        let ok = |v: f64| v.is_finite() && v > 0.0;
        let good = match *self {
            Dist::Exponential { mean_s } => ok(mean_s),
            Dist::Lognormal { mean_s, sd_s } => ok(mean_s) && ok(sd_s),
            Dist::Constant { value_s } => value_s.is_finite() && value_s >= 0.0,
        };
        if good {
            Ok(())
        } else {
            Err(ScenarioError::NotPositive(what))
        }
    }
}

impl Scenario {
    /// The M/M/c model: one emergency class, Poisson arrivals at `arrival_rate_per_s`,
    /// `handlers` handlers answering at once, exponential handle times with mean
    /// `mean_handle_s`, no wrap-up, no ring-no-answer, no abandonment.
    pub fn mmc(
        arrival_rate_per_s: f64,
        handlers: u32,
        mean_handle_s: f64,
        calls: u64,
        seed: u64,
    ) -> Scenario {
        Scenario {
            seed,
            calls,
            warmup_calls: calls / 10,
            languages: Vec::new(),
            queue: QueueConfig {
                wrap_up_s: PerClass::default(),
                max_consecutive_misses: 0,
                ..QueueConfig::default()
            },
            classes: vec![ClassTraffic {
                class: CallClass::Emergency,
                arrival_rate_per_s,
                handle: Dist::Exponential {
                    mean_s: mean_handle_s,
                },
                patience: None,
                required_skills: Vec::new(),
            }],
            handlers: vec![HandlerGroup {
                count: handlers,
                skills: vec!["emergency".into()],
                answer_delay: None,
                no_answer_probability: 0.0,
                login_at_s: 0.0,
                logout_at_s: None,
            }],
        }
    }

    /// Reads and checks a scenario file.
    ///
    /// # Errors
    /// [`ScenarioError::Read`] or [`ScenarioError::InFile`], both naming `path`.
    pub fn load(path: &std::path::Path) -> Result<Scenario, ScenarioError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::Read {
            path: shown.clone(),
            error: e.to_string(),
        })?;
        Scenario::from_toml(&text).map_err(|e| ScenarioError::InFile {
            path: shown,
            error: Box::new(e),
        })
    }

    /// Parses and checks a TOML scenario.
    ///
    /// # Errors
    /// [`ScenarioError`] for bad TOML or values.
    pub fn from_toml(text: &str) -> Result<Scenario, ScenarioError> {
        let s: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Toml(e.to_string()))?;
        s.check()?;
        Ok(s)
    }

    /// Checks rates, distributions, skills and the queue policy.
    ///
    /// # Errors
    /// The first [`ScenarioError`] found.
    pub fn check(&self) -> Result<(), ScenarioError> {
        if self.classes.is_empty() || self.handlers.is_empty() {
            return Err(ScenarioError::Empty);
        }
        self.queue.validate()?;
        for c in &self.classes {
            if !(c.arrival_rate_per_s.is_finite() && c.arrival_rate_per_s > 0.0) {
                return Err(ScenarioError::NotPositive("arrival_rate_per_s"));
            }
            c.handle.check("handle")?;
            if let Some(p) = &c.patience {
                p.check("patience")?;
            }
            self.skills(&c.required_skills)?;
        }
        for g in &self.handlers {
            self.skills(&g.skills)?;
            if let Some(d) = &g.answer_delay {
                d.check("answer_delay")?;
            }
            if !(0.0..=1.0).contains(&g.no_answer_probability) {
                return Err(ScenarioError::NotPositive("no_answer_probability"));
            }
        }
        Ok(())
    }

    /// Skill set from names.
    ///
    /// # Errors
    /// [`ScenarioError::UnknownSkill`].
    pub fn skills(&self, names: &[String]) -> Result<Skills, ScenarioError> {
        names.iter().try_fold(Skills::NONE, |acc, n| {
            Skills::from_name(n, &self.languages)
                .map(|s| acc | s)
                .ok_or_else(|| ScenarioError::UnknownSkill(n.clone()))
        })
    }
}
