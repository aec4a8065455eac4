//! Erlang C: the M/M/c queue's waiting-time distribution, the theory the simulation and
//! the load harness compare the engine against (docs/DESIGN.md §7).
//!
//! For `c` servers, Poisson arrivals at rate λ, exponential holding times with mean
//! 1/μ and FIFO service, with offered load `A = λ/μ` (Erlangs) and `A < c`:
//!
//! - Erlang B by the standard recursion `B(0) = 1`, `B(k) = A·B(k−1) / (k + A·B(k−1))`,
//!   numerically stable for thousands of servers;
//! - probability of waiting `C(c, A) = c·B / (c − A·(1 − B))`;
//! - `P(W > t) = C(c, A) · e^{−(cμ − λ)·t}`;
//! - mean wait (average speed of answer) `E[W] = C(c, A) / (cμ − λ)`.
//!
//! Sources: D. Gross, J. F. Shortle, J. M. Thompson, C. M. Harris, *Fundamentals of
//! Queueing Theory*, 4th ed., Wiley 2008, §2.3 (the M/M/c queue: steady-state
//! probabilities, the Erlang C probability of waiting and the waiting-time
//! distribution `P(W_q > t)`); the Erlang B recursion: D. L. Jagerman, "Some properties
//! of the Erlang loss function", Bell System Technical Journal 53(3), 1974.

/// Erlang B blocking probability for `servers` servers and offered load `load_erlangs`.
/// Returns 1.0 for 0 servers.
pub fn erlang_b(servers: u32, load_erlangs: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=servers {
        let ab = load_erlangs * b;
        b = ab / (f64::from(k) + ab);
    }
    b
}

/// Erlang C: probability that an arriving call waits (all `servers` busy), for offered
/// load `load_erlangs` = arrival rate × mean handle time. Returns 1.0 when the system
/// is not stable (`load_erlangs >= servers`).
pub fn erlang_c(servers: u32, load_erlangs: f64) -> f64 {
    let c = f64::from(servers);
    if load_erlangs >= c {
        return 1.0;
    }
    let b = erlang_b(servers, load_erlangs);
    c * b / (c - load_erlangs * (1.0 - b))
}

/// An M/M/c system described in the engine's terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MmcModel {
    /// Calls per s.
    pub arrival_rate_per_s: f64,
    /// Handlers.
    pub handlers: u32,
    /// Mean handle (talk) time, in s.
    pub mean_handle_s: f64,
}

impl MmcModel {
    /// Offered load in Erlangs (λ × mean handle time).
    pub fn load_erlangs(&self) -> f64 {
        self.arrival_rate_per_s * self.mean_handle_s
    }

    /// Utilisation ρ = A / c.
    pub fn utilisation(&self) -> f64 {
        self.load_erlangs() / f64::from(self.handlers)
    }

    /// Probability that a call waits at all, `C(c, A)`.
    pub fn p_wait(&self) -> f64 {
        erlang_c(self.handlers, self.load_erlangs())
    }

    /// `P(W > t_s)`; 1.0 for an unstable system.
    pub fn p_wait_longer_than(&self, t_s: f64) -> f64 {
        let rate = self.drain_rate_per_s();
        if rate <= 0.0 {
            return 1.0;
        }
        self.p_wait() * (-rate * t_s).exp()
    }

    /// Service level: fraction answered within `t_s`, `1 − P(W > t_s)`.
    pub fn answered_within(&self, t_s: f64) -> f64 {
        1.0 - self.p_wait_longer_than(t_s)
    }

    /// Mean wait (average speed of answer), in s; infinite for an unstable system.
    pub fn mean_wait_s(&self) -> f64 {
        let rate = self.drain_rate_per_s();
        if rate <= 0.0 {
            return f64::INFINITY;
        }
        self.p_wait() / rate
    }

    /// Wait percentile `q` (0 < q < 1), in s: 0 when `P(W > 0) <= 1 − q`.
    pub fn wait_percentile_s(&self, q: f64) -> f64 {
        let tail = 1.0 - q;
        let c = self.p_wait();
        let rate = self.drain_rate_per_s();
        if c <= tail {
            0.0
        } else if rate <= 0.0 {
            f64::INFINITY
        } else {
            (c / tail).ln() / rate
        }
    }

    /// Fewest handlers for which `answered_within(t_s) >= target`, searching up to
    /// `max_handlers`; `None` if even that is not enough.
    pub fn handlers_for_service_level(
        &self,
        t_s: f64,
        target: f64,
        max_handlers: u32,
    ) -> Option<u32> {
        let start = (self.load_erlangs().floor() as u32).saturating_add(1);
        (start.max(1)..=max_handlers).find(|&c| {
            MmcModel {
                handlers: c,
                ..*self
            }
            .answered_within(t_s)
                >= target
        })
    }

    /// `cμ − λ`, the exponential rate of the conditional wait, per s.
    fn drain_rate_per_s(&self) -> f64 {
        f64::from(self.handlers) / self.mean_handle_s - self.arrival_rate_per_s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // A = 2, c = 3: B = 4/19, C = 4/9 (hand-computed from the formulas above).
        assert!((erlang_b(3, 2.0) - 4.0 / 19.0).abs() < 1e-12);
        assert!((erlang_c(3, 2.0) - 4.0 / 9.0).abs() < 1e-12);
        // M/M/1: C = ρ; P(W > t) = ρ e^{−(μ−λ)t}.
        let m = MmcModel {
            arrival_rate_per_s: 0.7,
            handlers: 1,
            mean_handle_s: 1.0,
        };
        assert!((m.p_wait() - 0.7).abs() < 1e-12);
        assert!((m.p_wait_longer_than(2.0) - 0.7 * (-0.6f64).exp()).abs() < 1e-12);
        assert!((m.mean_wait_s() - 0.7 / 0.3).abs() < 1e-12);
        // Classic call-centre example: 10 Erlangs on 11 agents waits 68.2 %.
        assert!((erlang_c(11, 10.0) - 0.6821).abs() < 1e-4);
        assert_eq!(erlang_c(5, 5.0), 1.0);
    }

    #[test]
    fn stable_for_large_systems_and_staffing() {
        let c = erlang_c(2000, 1900.0);
        assert!(c > 0.0 && c < 1.0, "{c}");
        let m = MmcModel {
            arrival_rate_per_s: 10.0 / 180.0,
            handlers: 1,
            mean_handle_s: 180.0,
        };
        // The smallest staffing that meets 80 % within 20 s, and one fewer does not.
        let n = m.handlers_for_service_level(20.0, 0.8, 100).unwrap();
        let at = |c| MmcModel { handlers: c, ..m }.answered_within(20.0);
        assert!(at(n) >= 0.8 && at(n - 1) < 0.8);
        let p = MmcModel { handlers: 12, ..m };
        assert!((p.p_wait_longer_than(p.wait_percentile_s(0.9)) - 0.1).abs() < 1e-9);
    }
}
