//! Call classification (docs/DESIGN.md §4): emergency, non-emergency, test or other, decided
//! from the Request-URI, `Resource-Priority` and `Priority`, with the reason recorded.
//!
//! Emergency when any of: the Request-URI's number is a configured emergency number
//! (999, 112; 911 if enabled), the Request-URI is `urn:service:sos` or a `sos.*`
//! sub-service (RFC 5031 §4.2, RFC 8147 eCall), a `Resource-Priority` value in the
//! `esnet` namespace at any priority 0–4 (RFC 7135 §2), or `Priority: emergency`
//! (RFC 3261 §20.26). Test calls: `urn:service:test.sos*` (RFC 6881 §15). Non-emergency:
//! 101 and configured numbers. Everything else follows [`UnknownPolicy`]. Emergency
//! indications win over everything else: a 999 is never mistaken for anything less.
//!
//! [`ClassifyConfig`] is the engine config's `[classification]` section.

use serde::{Deserialize, Serialize};

use super::CallClass;
use crate::location::split_once_byte;
use crate::sip::{HeaderName, Message};

/// What to do with a call that matches no rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum UnknownPolicy {
    /// Answer `404 Not Found` (default).
    #[default]
    Reject,
    /// Queue as an administrative call ([`CallClass::Admin`]).
    Admin,
}

/// The `[classification]` section of the engine config.
///
/// ```toml
/// [classification]
/// emergency_numbers = ["999", "112"]
/// accept_911 = false
/// non_emergency_numbers = ["101"]
/// admin_numbers = []
/// unknown = "reject"     # or "admin"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassifyConfig {
    /// Emergency numbers (Request-URI user part / tel number). Default `["999", "112"]`.
    pub emergency_numbers: Vec<String>,
    /// Also treat 911 as emergency (UK networks route it as 999). Default `false`.
    pub accept_911: bool,
    /// Non-emergency numbers. Default `["101"]`.
    pub non_emergency_numbers: Vec<String>,
    /// Numbers queued as administrative lines. Default none.
    pub admin_numbers: Vec<String>,
    /// Everything else. Default [`UnknownPolicy::Reject`].
    pub unknown: UnknownPolicy,
}

impl Default for ClassifyConfig {
    fn default() -> Self {
        ClassifyConfig {
            emergency_numbers: vec!["999".into(), "112".into()],
            accept_911: false,
            non_emergency_numbers: vec!["101".into()],
            admin_numbers: Vec::new(),
            unknown: UnknownPolicy::Reject,
        }
    }
}

/// What the engine does with the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "action", content = "class", rename_all = "kebab-case")]
pub enum Action {
    /// Queue it in this class.
    Queue(CallClass),
    /// A test call (`urn:service:test.sos*`): answer automatically, never queue.
    AnswerTest,
    /// Refuse it with `404 Not Found` ([`UnknownPolicy::Reject`]).
    Reject,
}

/// Why a call got its class; shown in logs and the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
pub enum Reason {
    /// Request-URI number is a configured emergency number.
    EmergencyNumber {
        /// The number.
        number: String,
    },
    /// Request-URI is `urn:service:sos` or a sub-service.
    SosServiceUrn {
        /// The URN, lower-cased, without parameters.
        urn: String,
    },
    /// `Resource-Priority: esnet.<n>`.
    ResourcePriority {
        /// The value, as sent.
        value: String,
    },
    /// `Priority: emergency`.
    PriorityEmergency,
    /// Request-URI is `urn:service:test.sos*`.
    TestServiceUrn {
        /// The URN.
        urn: String,
    },
    /// Request-URI number is a configured non-emergency number.
    NonEmergencyNumber {
        /// The number.
        number: String,
    },
    /// Request-URI number is a configured admin number.
    AdminNumber {
        /// The number.
        number: String,
    },
    /// No rule matched; the [`UnknownPolicy`] decided.
    Unknown {
        /// The policy applied.
        policy: UnknownPolicy,
    },
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::EmergencyNumber { number } => {
                write!(f, "Request-URI number {number} is an emergency number")
            }
            Reason::SosServiceUrn { urn } => {
                write!(f, "Request-URI {urn} is an emergency service URN")
            }
            Reason::ResourcePriority { value } => write!(f, "Resource-Priority {value}"),
            Reason::PriorityEmergency => f.write_str("Priority: emergency"),
            Reason::TestServiceUrn { urn } => write!(f, "Request-URI {urn} is a test service URN"),
            Reason::NonEmergencyNumber { number } => {
                write!(f, "Request-URI number {number} is a non-emergency number")
            }
            Reason::AdminNumber { number } => {
                write!(f, "Request-URI number {number} is an admin number")
            }
            Reason::Unknown { policy } => write!(f, "no rule matched; policy {policy:?}"),
        }
    }
}

/// A classification decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    /// What to do.
    pub action: Action,
    /// Why.
    pub reason: Reason,
}

impl Classification {
    /// The queue class, when the call is queued.
    pub fn class(&self) -> Option<CallClass> {
        match self.action {
            Action::Queue(c) => Some(c),
            Action::AnswerTest | Action::Reject => None,
        }
    }

    /// `true` for an emergency call.
    pub fn is_emergency(&self) -> bool {
        self.action == Action::Queue(CallClass::Emergency)
    }
}

/// The classification inputs of a request, as text.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClassifyInput<'a> {
    /// The Request-URI (`sip:999@host;user=phone`, `tel:112`, `urn:service:sos.police`).
    pub request_uri: &'a str,
    /// Each `Resource-Priority` header value (RFC 4412 §3.1; comma lists allowed).
    pub resource_priority: &'a [&'a str],
    /// The `Priority` header value (RFC 3261 §20.26), if any.
    pub priority: Option<&'a str>,
}

/// What the Request-URI names: a service URN (lower-case, no params) or a dialled number.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Service(String),
    Number(String),
    Other,
}

fn target(uri: &str) -> Target {
    let uri = uri.trim();
    let uri = uri.strip_prefix('<').unwrap_or(uri);
    let uri = uri.strip_suffix('>').unwrap_or(uri);
    let Some((scheme, rest)) = split_once_byte(uri, b':') else {
        return Target::Other;
    };
    let before_params = split_once_byte(rest, b';').map_or(rest, |(b, _)| b);
    if scheme.eq_ignore_ascii_case("urn") {
        let urn = before_params.trim().to_ascii_lowercase();
        match urn.strip_prefix("service:") {
            Some(s) => Target::Service(s.to_owned()),
            None => Target::Other,
        }
    } else if scheme.eq_ignore_ascii_case("tel") {
        Target::Number(clean_number(before_params))
    } else if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
        // The user part only when there is an '@' (before any `?headers`, whose values
        // may hold one); otherwise the URI has no number. The user part of a
        // `user=phone` URI is an RFC 3966 telephone-subscriber and may carry parameters
        // (RFC 3261 §19.1.6; IMS: `sip:999;phone-context=ims.mnc015.mcc234.3gppnetwork.org@…`):
        // the number ends at the first ';' (and a password at ':').
        let no_headers = split_once_byte(rest, b'?').map_or(rest, |(b, _)| b);
        match split_once_byte(no_headers, b'@') {
            Some((userinfo, _)) => {
                // `clean_number` ends the number at the parameters' `;`.
                let user = split_once_byte(userinfo, b':').map_or(userinfo, |(u, _)| u);
                Target::Number(clean_number(user))
            }
            None => Target::Other,
        }
    } else {
        Target::Other
    }
}

/// The dialled number in a `tel:` number or `sip:` user part: `%XX` escapes decoded
/// (RFC 3261 §19.1.4: escaped and plain characters are equal in the user part; RFC 3986
/// §2.1), RFC 3966 visual separators (`-`, `.`, `(`, `)`, space) removed, and ended at a
/// parameter `;` (escaped as `%3B` too). Invalid escapes are kept as they are; octets
/// that decode to no UTF-8 become U+FFFD.
fn clean_number(s: &str) -> String {
    let b = s.as_bytes();
    let mut decoded: Vec<u8> = Vec::with_capacity(b.len());
    let hex = |c: u8| (c as char).to_digit(16);
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let pair = (
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        );
        let (byte, len) = match (c, pair) {
            (b'%', (Some(h), Some(l))) => ((h * 16 + l) as u8, 3),
            _ => (c, 1),
        };
        if byte == b';' {
            break;
        }
        decoded.push(byte);
        i += len;
    }
    String::from_utf8_lossy(&decoded)
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | '(' | ')' | ' '))
        .collect()
}

/// `true` for `esnet.<0-4>` (RFC 7135 §2; namespace case-insensitive).
fn is_esnet(v: &str) -> bool {
    match v.trim().split_once('.') {
        Some((ns, p)) => {
            ns.eq_ignore_ascii_case("esnet") && matches!(p.trim(), "0" | "1" | "2" | "3" | "4")
        }
        None => false,
    }
}

/// Classifies a request from its Request-URI, `Resource-Priority` and `Priority`.
pub fn classify_input(input: &ClassifyInput<'_>, cfg: &ClassifyConfig) -> Classification {
    let emergency = |reason| Classification {
        action: Action::Queue(CallClass::Emergency),
        reason,
    };
    let t = match target(input.request_uri) {
        Target::Number(n)
            if cfg.emergency_numbers.contains(&n) || (cfg.accept_911 && n == "911") =>
        {
            return emergency(Reason::EmergencyNumber { number: n });
        }
        t => t,
    };
    match &t {
        Target::Number(_) => {}
        Target::Service(s) => {
            if s == "sos" || s.starts_with("sos.") {
                return emergency(Reason::SosServiceUrn {
                    urn: format!("urn:service:{s}"),
                });
            }
            if s == "test.sos" || s.starts_with("test.sos.") {
                return Classification {
                    action: Action::AnswerTest,
                    reason: Reason::TestServiceUrn {
                        urn: format!("urn:service:{s}"),
                    },
                };
            }
        }
        Target::Other => {}
    }
    for v in input.resource_priority.iter().take(32) {
        if let Some(e) = v.split(',').take(32).find(|x| is_esnet(x)) {
            return emergency(Reason::ResourcePriority {
                value: e.trim().chars().take(32).collect(),
            });
        }
    }
    if let Some(p) = input.priority {
        if p.trim().eq_ignore_ascii_case("emergency") {
            return emergency(Reason::PriorityEmergency);
        }
    }
    if let Target::Number(n) = &t {
        if cfg.non_emergency_numbers.iter().any(|e| e == n) {
            return Classification {
                action: Action::Queue(CallClass::NonEmergency),
                reason: Reason::NonEmergencyNumber { number: n.clone() },
            };
        }
        if cfg.admin_numbers.iter().any(|e| e == n) {
            return Classification {
                action: Action::Queue(CallClass::Admin),
                reason: Reason::AdminNumber { number: n.clone() },
            };
        }
    }
    Classification {
        action: match cfg.unknown {
            UnknownPolicy::Reject => Action::Reject,
            UnknownPolicy::Admin => Action::Queue(CallClass::Admin),
        },
        reason: Reason::Unknown {
            policy: cfg.unknown,
        },
    }
}

/// Classifies a parsed SIP request: its Request-URI, every `Resource-Priority` value and
/// `Priority`. A response (no Request-URI) matches no rule and gets the unknown policy.
pub fn classify(msg: &Message, cfg: &ClassifyConfig) -> Classification {
    // At most 32 values, kept on the stack (no allocation per call).
    let mut rp = [""; 32];
    let mut n = 0;
    for (slot, v) in rp.iter_mut().zip(msg.get_all(HeaderName::ResourcePriority)) {
        *slot = v;
        n += 1;
    }
    classify_input(
        &ClassifyInput {
            request_uri: msg.request_uri_str().unwrap_or(""),
            resource_priority: rp.get(..n).unwrap_or_default(),
            priority: msg.get(HeaderName::Priority),
        },
        cfg,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(uri: &str) -> Classification {
        classify_input(
            &ClassifyInput {
                request_uri: uri,
                ..Default::default()
            },
            &ClassifyConfig::default(),
        )
    }

    #[test]
    fn emergency_numbers_and_urns() {
        for (uri, reason) in [
            ("sip:999@bt.example.com;user=phone", Reason::EmergencyNumber { number: "999".into() }),
            ("tel:112", Reason::EmergencyNumber { number: "112".into() }),
            ("sips:112@[2001:db8::1]:5061", Reason::EmergencyNumber { number: "112".into() }),
            ("urn:service:sos", Reason::SosServiceUrn { urn: "urn:service:sos".into() }),
            ("URN:Service:SOS.Police", Reason::SosServiceUrn { urn: "urn:service:sos.police".into() }),
            ("urn:service:sos.ecall.manual", Reason::SosServiceUrn { urn: "urn:service:sos.ecall.manual".into() }),
            (
                "urn:service:sos;phone-context=ims.mnc010.mcc226.3gppnetwork.org@ims.mnc010.mcc226.3gppnetwork.org;user=phone",
                Reason::SosServiceUrn { urn: "urn:service:sos".into() },
            ),
            // A telephone-subscriber user part with RFC 3966 parameters (IMS).
            (
                "sip:999;phone-context=ims.mnc015.mcc234.3gppnetwork.org@ims.example;user=phone",
                Reason::EmergencyNumber { number: "999".into() },
            ),
            ("sip:112;phone-context=+44:secret@x;user=phone", Reason::EmergencyNumber { number: "112".into() }),
            ("sip:999@x?Subject=a@b", Reason::EmergencyNumber { number: "999".into() }),
            // Escaped characters equal plain ones in the user part (RFC 3261 §19.1.4).
            ("sip:%39%39%39@x;user=phone", Reason::EmergencyNumber { number: "999".into() }),
            ("sip:999%3Bphone-context=x@y;user=phone", Reason::EmergencyNumber { number: "999".into() }),
        ] {
            let got = c(uri);
            assert_eq!(got.action, Action::Queue(CallClass::Emergency), "{uri}");
            assert_eq!(got.reason, reason, "{uri}");
        }
        assert_eq!(c("sip:911@x").action, Action::Reject);
        let cfg = ClassifyConfig {
            accept_911: true,
            ..Default::default()
        };
        let got = classify_input(
            &ClassifyInput {
                request_uri: "tel:911",
                ..Default::default()
            },
            &cfg,
        );
        assert!(got.is_emergency());
        // Not emergency: sossomething, a 999 host without user, 9999.
        assert_eq!(c("urn:service:sossy").action, Action::Reject);
        assert_eq!(c("sip:999.example.com").action, Action::Reject);
        assert_eq!(c("sip:999.example.com;user=phone").action, Action::Reject);
        assert_eq!(c("sip:999.example.com?h=x@y").action, Action::Reject);
        assert_eq!(c("sip:9999@x").action, Action::Reject);
    }

    #[test]
    fn headers_mark_emergency() {
        let cfg = ClassifyConfig::default();
        let got = classify_input(
            &ClassifyInput {
                request_uri: "sip:01234567890@x",
                resource_priority: &["wps.3, ESNET.2"],
                priority: None,
            },
            &cfg,
        );
        assert_eq!(
            got.reason,
            Reason::ResourcePriority {
                value: "ESNET.2".into()
            }
        );
        assert!(got.is_emergency());
        let got = classify_input(
            &ClassifyInput {
                request_uri: "sip:101@x",
                resource_priority: &["esnet.5"],
                priority: Some(" Emergency "),
            },
            &cfg,
        );
        assert_eq!(got.reason, Reason::PriorityEmergency);
        let got = classify_input(
            &ClassifyInput {
                request_uri: "sip:101@x",
                resource_priority: &["esnet.5", "dsn.flash"],
                priority: Some("urgent"),
            },
            &cfg,
        );
        assert_eq!(got.action, Action::Queue(CallClass::NonEmergency));
    }

    #[test]
    fn test_non_emergency_admin_unknown() {
        let got = c("urn:service:test.sos.fire");
        assert_eq!(got.action, Action::AnswerTest);
        assert_eq!(got.class(), None);
        assert_eq!(
            c("tel:101").reason,
            Reason::NonEmergencyNumber {
                number: "101".into()
            }
        );
        assert_eq!(c("tel:1-0-1").class(), Some(CallClass::NonEmergency));
        let got = c("sip:0800123@x");
        assert_eq!(got.action, Action::Reject);
        assert_eq!(
            got.reason,
            Reason::Unknown {
                policy: UnknownPolicy::Reject
            }
        );
        let cfg = ClassifyConfig {
            non_emergency_numbers: vec!["101".into(), "0300123".into()],
            admin_numbers: vec!["2000".into()],
            unknown: UnknownPolicy::Admin,
            ..Default::default()
        };
        let run = |u: &str| {
            classify_input(
                &ClassifyInput {
                    request_uri: u,
                    ..Default::default()
                },
                &cfg,
            )
        };
        assert_eq!(run("sip:0300123@x").class(), Some(CallClass::NonEmergency));
        assert_eq!(
            run("sip:2000@x").reason,
            Reason::AdminNumber {
                number: "2000".into()
            }
        );
        assert_eq!(run("sip:alice@x").class(), Some(CallClass::Admin));
    }

    #[test]
    fn config_from_toml() {
        let cfg: ClassifyConfig = toml::from_str(
            "emergency_numbers = [\"999\"]\naccept_911 = true\nunknown = \"admin\"\n",
        )
        .unwrap();
        assert_eq!(cfg.emergency_numbers, vec!["999".to_string()]);
        assert!(cfg.accept_911);
        assert_eq!(cfg.non_emergency_numbers, vec!["101".to_string()]);
        assert_eq!(cfg.unknown, UnknownPolicy::Admin);
        let d: ClassifyConfig = toml::from_str("").unwrap();
        assert_eq!(d, ClassifyConfig::default());
        assert!(toml::from_str::<ClassifyConfig>("bogus = 1").is_err());
    }

    #[test]
    fn json_shape() {
        let j = serde_json::to_value(c("tel:999")).unwrap();
        assert_eq!(j["action"]["action"], "queue");
        assert_eq!(j["action"]["class"], "emergency");
        assert_eq!(j["reason"]["rule"], "emergency-number");
        assert_eq!(j["reason"]["number"], "999");
    }

    /// The one-pass `clean_number` gives what the original two-step definition gives:
    /// every `%20` removed (left to right), then the visual separators.
    #[test]
    fn clean_number_matches_the_decode_then_filter_definition() {
        // Decode every valid %XX, cut at ';', drop the separators.
        fn reference(s: &str) -> String {
            let b = s.as_bytes();
            let mut dec = Vec::new();
            let mut i = 0;
            while i < b.len() {
                let hexpair = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match (b[i], hexpair) {
                    (b'%', Some(v)) => {
                        dec.push(v);
                        i += 3;
                    }
                    (c, _) => {
                        dec.push(c);
                        i += 1;
                    }
                }
            }
            let text = String::from_utf8_lossy(&dec).into_owned();
            text.split(';')
                .next()
                .unwrap_or("")
                .chars()
                .filter(|c| !matches!(c, '-' | '.' | '(' | ')' | ' '))
                .collect()
        }
        use proptest::prelude::*;
        proptest!(|(s in "[0-9%23BbDd ()\\-.+;é]{0,16}")| {
            prop_assert_eq!(clean_number(&s), reference(&s));
        });
        for (s, want) in [
            ("%2%200", "%20"),
            ("%%2020", "%20"),
            ("+44 (0)20-7946.0000", "+4402079460000"),
            ("%39%39%39", "999"),
            ("9%2D9%2d9", "999"),
            ("999%3Bphone-context=x", "999"),
            ("é%20-", "é"),
        ] {
            assert_eq!(clean_number(s), want, "{s:?}");
            assert_eq!(reference(s), want, "{s:?}");
        }
    }
}
