//! Discrete-event simulation in virtual time that drives the [`crate::queue`] core
//! (docs/DESIGN.md §2, §7): Poisson arrivals per class, exponential / lognormal handle
//! times, wrap-up, ring-no-answer, caller abandonment (patience), handlers joining and
//! leaving. The same [`crate::queue::Router`] that runs in production decides every
//! offer, so the simulated waits measure the engine's policy, and for the M/M/c case
//! ([`Scenario::mmc`]) they must match the Erlang C formula ([`erlang`]).

mod engine;
pub mod erlang;
mod report;
mod scenario;

pub use engine::run;
pub use erlang::{erlang_b, erlang_c, MmcModel};
pub use report::{
    ClassReport, ClassStats, ErlangCPrediction, SimReport, SERVICE_LEVEL_THRESHOLDS_S,
};
pub use scenario::{ClassTraffic, Dist, HandlerGroup, Scenario, ScenarioError};
