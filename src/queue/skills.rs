//! Handler skills and call skill requirements as a small bit set (docs/DESIGN.md §6).
//!
//! A call carries the skills it *requires* (at least its class skill, e.g.
//! [`Skills::EMERGENCY`]); a handler holds the skills it *has*. A handler is eligible
//! for a call when its skills cover every required skill ([`Skills::covers`]). The
//! bit set keeps eligibility tests to one AND and lets the router group handlers and
//! calls by exact skill set, so a routing decision visits one entry per group.

use serde::{Deserialize, Serialize};

use crate::call::CallClass;

/// A set of skills: bits 0–7 are fixed skills, bits 8–63 are language slots
/// (`Skills::language(slot)`, slot 0–55) whose meaning (`"en"`, `"cy"`, `"pl"`…) the
/// configuration assigns.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Skills(pub u64);

impl Skills {
    /// No skill.
    pub const NONE: Skills = Skills(0);
    /// May take emergency (999/112) calls.
    pub const EMERGENCY: Skills = Skills(1 << 0);
    /// May take non-emergency (101) calls.
    pub const NON_EMERGENCY: Skills = Skills(1 << 1);
    /// May take administrative calls.
    pub const ADMIN: Skills = Skills(1 << 2);
    /// May take text calls (TTY / real-time text relay).
    pub const TEXT: Skills = Skills(1 << 3);
    /// First bit used for language slots.
    pub const LANGUAGE_BASE_BIT: u32 = 8;
    /// Number of language slots (bits 8–63).
    pub const LANGUAGE_SLOTS: u32 = 56;

    /// The skill a call of `class` requires at minimum.
    pub const fn for_class(class: CallClass) -> Skills {
        match class {
            CallClass::Emergency => Skills::EMERGENCY,
            CallClass::NonEmergency => Skills::NON_EMERGENCY,
            CallClass::Admin => Skills::ADMIN,
        }
    }

    /// The language skill in `slot` (0–55), or `None` if the slot is out of range.
    pub const fn language(slot: u32) -> Option<Skills> {
        if slot < Skills::LANGUAGE_SLOTS {
            Some(Skills(1 << (Skills::LANGUAGE_BASE_BIT + slot)))
        } else {
            None
        }
    }

    /// Every skill of both sets.
    #[must_use]
    pub const fn union(self, other: Skills) -> Skills {
        Skills(self.0 | other.0)
    }

    /// `true` if `self` holds every skill in `required` (a handler with skills `self`
    /// is eligible for a call requiring `required`).
    pub const fn covers(self, required: Skills) -> bool {
        self.0 & required.0 == required.0
    }

    /// Parses a skill name: `emergency`, `non-emergency`, `admin`, `text`, or a
    /// language tag listed in `languages` (its index is the slot). Returns `None` for an
    /// unknown name.
    pub fn from_name(name: &str, languages: &[String]) -> Option<Skills> {
        match name {
            "emergency" => Some(Skills::EMERGENCY),
            "non-emergency" => Some(Skills::NON_EMERGENCY),
            "admin" => Some(Skills::ADMIN),
            "text" => Some(Skills::TEXT),
            other => {
                let slot = languages
                    .iter()
                    .position(|l| l.eq_ignore_ascii_case(other))?;
                Skills::language(u32::try_from(slot).ok()?)
            }
        }
    }
}

impl std::ops::BitOr for Skills {
    type Output = Skills;
    fn bitor(self, rhs: Skills) -> Skills {
        self.union(rhs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_is_subset() {
        let h = Skills::EMERGENCY | Skills::NON_EMERGENCY | Skills::language(1).unwrap();
        assert!(h.covers(Skills::EMERGENCY));
        assert!(h.covers(Skills::EMERGENCY | Skills::language(1).unwrap()));
        assert!(!h.covers(Skills::EMERGENCY | Skills::language(0).unwrap()));
        assert!(!h.covers(Skills::ADMIN));
        assert!(h.covers(Skills::NONE));
        assert_eq!(Skills::language(56), None);
        assert_eq!(Skills::language(0), Some(Skills(1 << 8)));
    }

    #[test]
    fn names() {
        let langs = vec!["en".to_string(), "cy".to_string()];
        assert_eq!(Skills::from_name("cy", &langs), Skills::language(1));
        assert_eq!(
            Skills::from_name("non-emergency", &langs),
            Some(Skills::NON_EMERGENCY)
        );
        assert_eq!(Skills::from_name("pl", &langs), None);
    }
}
