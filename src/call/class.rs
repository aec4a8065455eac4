//! The priority class of a call.

use serde::{Deserialize, Serialize};

/// Priority class of a call, in strict priority order (NENA-STA-020 §2.2.2;
/// docs/DESIGN.md §6): every waiting [`CallClass::Emergency`] call is offered before any
/// [`CallClass::NonEmergency`] call, which is offered before any [`CallClass::Admin`] call.
///
/// The derived `Ord` follows that order: `Emergency < NonEmergency < Admin`, so the
/// smallest class is served first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallClass {
    /// 999, 112, `urn:service:sos*`, `Resource-Priority: esnet.*`, `Priority: emergency`.
    Emergency,
    /// 101 and configured non-emergency numbers.
    NonEmergency,
    /// Administrative lines: everything else that the configuration admits.
    Admin,
}

impl CallClass {
    /// All classes, highest priority first.
    pub const ALL: [CallClass; 3] = [
        CallClass::Emergency,
        CallClass::NonEmergency,
        CallClass::Admin,
    ];

    /// Index in [`CallClass::ALL`] (0 = emergency), for per-class arrays.
    pub const fn index(self) -> usize {
        match self {
            CallClass::Emergency => 0,
            CallClass::NonEmergency => 1,
            CallClass::Admin => 2,
        }
    }

    /// The stable lower-case name used in config, JSON and metrics labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            CallClass::Emergency => "emergency",
            CallClass::NonEmergency => "non-emergency",
            CallClass::Admin => "admin",
        }
    }
}

impl std::fmt::Display for CallClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_priority_order() {
        let mut v = vec![
            CallClass::Admin,
            CallClass::Emergency,
            CallClass::NonEmergency,
        ];
        v.sort();
        assert_eq!(v, CallClass::ALL);
        for (i, c) in CallClass::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
        }
    }
}
