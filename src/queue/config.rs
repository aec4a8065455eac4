//! Routing policy configuration: the `[queue]` section of the engine's TOML file
//! (docs/DESIGN.md §6): ring-no-answer timeout, missed-call limit, wrap-up per class,
//! admission limits for non-emergency and admin calls, emergency overflow rules to a
//! partner control room, and optional aging among non-emergency traffic.
//!
//! Every field has a default ([`QueueConfig::default`]), so an empty `[queue]` table is
//! valid. [`QueueConfig::validate`] rejects inconsistent settings before the engine starts.

use serde::{Deserialize, Serialize};

use crate::call::CallClass;

/// Routing policy. Durations carry their unit in the field name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// Ring-no-answer (RONA) timeout: how long an offer rings at a handler before it is
    /// cancelled and the call re-offered, in ms. Default 12,000.
    pub ring_timeout_ms: u64,
    /// Consecutive missed offers (ring-no-answer or 486/603/408) after which a handler
    /// is set NotReady("missed calls"). Default 2. 0 means never.
    pub max_consecutive_misses: u32,
    /// How long a handler set NotReady("missed calls") by ring-no-answer stays so before
    /// it is returned to Available automatically, in s. Default 60. 0 means it stays
    /// NotReady until a supervisor, the handler, or (for registered users / seats) a
    /// liveness signal ([`crate::queue::Event::HandlerAlive`]) returns it. Without this a
    /// control room whose seats all missed calls would silently stop answering 999.
    pub rona_not_ready_s: u32,
    /// Wrap-up (after-call work) time per class, in s. Default 10 / 10 / 5.
    pub wrap_up_s: PerClass<u32>,
    /// Admission limit for non-emergency (101) calls.
    pub non_emergency_limit: ClassLimit,
    /// Admission limit for admin calls.
    pub admin_limit: ClassLimit,
    /// When an emergency call leaves for a partner control room instead of waiting.
    pub emergency_overflow: EmergencyOverflow,
    /// Aging among non-emergency traffic. Emergency calls are never overtaken.
    pub aging: Aging,
    /// Test hook (issue 7 regression test, tests/load_*.rs): a deliberately broken policy that
    /// serves non-emergency (101) calls before emergency calls. Never read from TOML.
    #[doc(hidden)]
    #[serde(skip)]
    pub test_broken_serve_non_emergency_first: bool,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            ring_timeout_ms: 12_000,
            max_consecutive_misses: 2,
            rona_not_ready_s: 60,
            wrap_up_s: PerClass {
                emergency: 10,
                non_emergency: 10,
                admin: 5,
            },
            non_emergency_limit: ClassLimit {
                max_queued: 1_000,
                outcome: LimitOutcome::Reject,
                retry_after_s: 60,
                overflow_uri: None,
            },
            admin_limit: ClassLimit {
                max_queued: 200,
                outcome: LimitOutcome::Reject,
                retry_after_s: 120,
                overflow_uri: None,
            },
            emergency_overflow: EmergencyOverflow::default(),
            aging: Aging::default(),
            test_broken_serve_non_emergency_first: false,
        }
    }
}

/// One value per call class; TOML keys `emergency`, `non-emergency`, `admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerClass<T> {
    /// Value for emergency calls.
    pub emergency: T,
    /// Value for non-emergency calls.
    #[serde(rename = "non-emergency")]
    pub non_emergency: T,
    /// Value for admin calls.
    pub admin: T,
}

impl<T: Copy> PerClass<T> {
    /// The value for `class`.
    pub fn get(&self, class: CallClass) -> T {
        match class {
            CallClass::Emergency => self.emergency,
            CallClass::NonEmergency => self.non_emergency,
            CallClass::Admin => self.admin,
        }
    }
}

/// What happens to a non-emergency or admin call that arrives when its class already has
/// `max_queued` calls waiting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassLimit {
    /// Maximum calls of the class waiting at once.
    pub max_queued: usize,
    /// Outcome for a call over the limit.
    pub outcome: LimitOutcome,
    /// `Retry-After` value for [`LimitOutcome::Reject`] (RFC 3261 §20.33), in s.
    #[serde(default)]
    pub retry_after_s: u32,
    /// SIP URI the call is sent to for [`LimitOutcome::Overflow`].
    #[serde(default)]
    pub overflow_uri: Option<String>,
}

/// Outcome of a class limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LimitOutcome {
    /// Answer 503 Service Unavailable with `Retry-After`.
    Reject,
    /// Send the call to `overflow_uri`.
    Overflow,
}

/// Emergency overflow rules (docs/DESIGN.md §6). An emergency call is never rejected; it
/// leaves for `target_uri` only when a rule below fires, otherwise it stays queued.
/// With no `target_uri` no rule applies.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmergencyOverflow {
    /// Partner control room's SIP URI, e.g. `sip:overflow@partner.example.net`.
    pub target_uri: Option<String>,
    /// Overflow a waiting call once it has waited longer than this, in s (from its
    /// arrival). A call ringing at a handler is left alone; if that offer fails after the
    /// limit, the call is first offered to any free handler, else it overflows at the
    /// next [`crate::queue::Router::handle_timeout`].
    pub after_wait_s: Option<u32>,
    /// Overflow a call when no eligible handler is logged in.
    pub when_no_handler_logged_in: bool,
    /// Overflow an arriving call when this many emergency calls already wait.
    pub when_queue_longer_than: Option<usize>,
}

/// Aging among non-emergency traffic: an admin call that has waited longer than
/// `admin_promote_after_s` competes with non-emergency (101) calls by arrival time
/// instead of waiting behind all of them. Emergency calls are never affected.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Aging {
    /// Wait after which an admin call ranks with non-emergency calls, in s. `None`: off.
    pub admin_promote_after_s: Option<u32>,
}

/// A configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueConfigError {
    /// A ring timeout of 0 would cancel every offer at once.
    #[error("queue.ring_timeout_ms must be > 0")]
    ZeroRingTimeout,
    /// A class limit says `overflow` but has no URI.
    #[error("queue.{0}_limit: outcome = \"overflow\" needs overflow_uri")]
    OverflowWithoutUri(&'static str),
    /// A URI that does not start with `sip:`, `sips:` or `tel:`.
    #[error("queue: {0:?} is not a sip:, sips: or tel: URI")]
    BadUri(String),
    /// An emergency overflow rule without a target.
    #[error("queue.emergency_overflow: a rule is set but target_uri is missing")]
    RuleWithoutTarget,
}

impl QueueConfig {
    /// Checks the settings hang together.
    ///
    /// # Errors
    /// [`QueueConfigError`] naming the first bad field.
    pub fn validate(&self) -> Result<(), QueueConfigError> {
        if self.ring_timeout_ms == 0 {
            return Err(QueueConfigError::ZeroRingTimeout);
        }
        for (name, limit) in [
            ("non_emergency", &self.non_emergency_limit),
            ("admin", &self.admin_limit),
        ] {
            match (&limit.outcome, &limit.overflow_uri) {
                (LimitOutcome::Overflow, None) => {
                    return Err(QueueConfigError::OverflowWithoutUri(name))
                }
                (_, Some(uri)) => check_uri(uri)?,
                _ => {}
            }
        }
        let eo = &self.emergency_overflow;
        match &eo.target_uri {
            Some(uri) => check_uri(uri)?,
            None => {
                if eo.after_wait_s.is_some()
                    || eo.when_no_handler_logged_in
                    || eo.when_queue_longer_than.is_some()
                {
                    return Err(QueueConfigError::RuleWithoutTarget);
                }
            }
        }
        Ok(())
    }

    /// The admission limit of a non-emergency or admin class; `None` for emergency.
    pub fn limit(&self, class: CallClass) -> Option<&ClassLimit> {
        match class {
            CallClass::Emergency => None,
            CallClass::NonEmergency => Some(&self.non_emergency_limit),
            CallClass::Admin => Some(&self.admin_limit),
        }
    }
}

fn check_uri(uri: &str) -> Result<(), QueueConfigError> {
    let lower = uri.to_ascii_lowercase();
    if ["sip:", "sips:", "tel:"]
        .iter()
        .any(|s| lower.starts_with(s) && lower.len() > s.len())
    {
        Ok(())
    } else {
        Err(QueueConfigError::BadUri(uri.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_empty_table_parses_to_default() {
        QueueConfig::default().validate().unwrap();
        let c: QueueConfig = toml::from_str("").unwrap();
        assert_eq!(c, QueueConfig::default());
    }

    #[test]
    fn parses_toml_section() {
        let c: QueueConfig = toml::from_str(
            r#"
            ring_timeout_ms = 8000
            max_consecutive_misses = 3
            wrap_up_s = { emergency = 30, non-emergency = 20, admin = 0 }
            [non_emergency_limit]
            max_queued = 50
            outcome = "overflow"
            overflow_uri = "sip:101@partner.example.net"
            [emergency_overflow]
            target_uri = "sip:overflow@partner.example.net"
            after_wait_s = 90
            when_no_handler_logged_in = true
            [aging]
            admin_promote_after_s = 300
            "#,
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.ring_timeout_ms, 8000);
        assert_eq!(c.wrap_up_s.get(CallClass::NonEmergency), 20);
        assert_eq!(c.non_emergency_limit.outcome, LimitOutcome::Overflow);
        assert_eq!(c.admin_limit, QueueConfig::default().admin_limit);
        assert_eq!(c.emergency_overflow.after_wait_s, Some(90));
        assert_eq!(c.aging.admin_promote_after_s, Some(300));
    }

    #[test]
    fn rejects_inconsistent() {
        let mut c = QueueConfig::default();
        c.emergency_overflow.after_wait_s = Some(60);
        assert_eq!(c.validate(), Err(QueueConfigError::RuleWithoutTarget));
        c.emergency_overflow.target_uri = Some("http://x".into());
        assert!(matches!(c.validate(), Err(QueueConfigError::BadUri(_))));
        let mut c = QueueConfig::default();
        c.admin_limit.outcome = LimitOutcome::Overflow;
        assert_eq!(
            c.validate(),
            Err(QueueConfigError::OverflowWithoutUri("admin"))
        );
        assert!(toml::from_str::<QueueConfig>("ring_timeout = 3").is_err());
    }
}
