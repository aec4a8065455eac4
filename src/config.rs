//! Engine configuration: one TOML file, validated before any port is bound (docs/DESIGN.md §2,
//! §8), with an embedded default ([`DEFAULT_TOML`], [`Config::default`]) so the engine runs
//! with no file at all.
//!
//! Loading is two steps: serde reads the file into plain structs with
//! `deny_unknown_fields` (so a misspelt key is an error, not a silent default), then
//! [`Config::from_toml_str`] checks every value and builds the typed [`Config`]. A bad value
//! is reported with the key that holds it, e.g.
//! `sip.listen[1]: unknown transport 'sctp' (expected udp or tcp)`.
//!
//! Standards behind the values: RFC 3261 §17.1.1.1 (T1/T2/T4), §13.3.1.1 (a provisional
//! response at least every minute while a call waits), §10.3 (registration expiry),
//! §22.4 (the digest realm); RFC 4632 / RFC 4291 §2.3 (CIDR prefixes).
//!
//! The `[queue]` and `[classification]` sections are the queue and classification modules'
//! own structs ([`QueueConfig`], [`ClassifyConfig`]), read with `deny_unknown_fields` and
//! validated here like every other section.

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

use crate::call::ClassifyConfig;
use crate::queue::{QueueConfig, QueueConfigError};
use crate::sip::digest::Credentials;
use crate::sip::transaction::TimerConfig;

/// The embedded default configuration: SIP on UDP and TCP 127.0.0.1:5060, HTTP on
/// 127.0.0.1:8080, carriers from loopback only, no seats and no users.
pub const DEFAULT_TOML: &str = r#"
[sip]
listen = ["udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"]
carriers = ["127.0.0.0/8", "::1/128"]

[http]
listen = "127.0.0.1:8080"
"#;

/// Default `shutdown_grace_s`, s.
pub const DEFAULT_SHUTDOWN_GRACE_S: u32 = 10;

/// Most `sip.listen` entries.
pub const MAX_LISTEN: usize = 16;
/// Most `sip.carriers` entries.
pub const MAX_CARRIERS: usize = 1024;
/// Most `[[seats]]` or `[[users]]` entries.
pub const MAX_SEATS: usize = 10_000;
/// Most skills per seat or user.
pub const MAX_SKILLS: usize = 64;
/// Longest seat id, user name, skill or realm, bytes.
pub const MAX_NAME_LEN: usize = 64;

// === the typed, validated configuration ===

/// The validated engine configuration. Build it with [`Config::from_toml_str`],
/// [`Config::load`] or [`Config::default`]; every field has been checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `[sip]`.
    pub sip: SipConfig,
    /// `[http]`.
    pub http: HttpConfig,
    /// `[limits]`.
    pub limits: Limits,
    /// `[[seats]]`: statically provisioned handler positions.
    pub seats: Vec<Seat>,
    /// `[[users]]`: softphone credentials for REGISTER.
    pub users: Vec<User>,
    /// `data_dir`: where the call journal lives (`data_dir/journal.sqlite3`, `crate::store`).
    /// The journal is **on exactly when this is set**: every call and the abandoned-call
    /// list are then written to disk and recovered after a crash; `None` keeps everything
    /// in memory.
    pub data_dir: Option<PathBuf>,
    /// `shutdown_grace_s`: on SIGINT/SIGTERM, how long queued and ringing calls may still
    /// be answered before every remaining one gets a final 503 (and goes on the callback
    /// list), s. 0–300, default [`DEFAULT_SHUTDOWN_GRACE_S`].
    pub shutdown_grace_s: u32,
    /// `realtime_priority`: run the engine thread under Linux `SCHED_FIFO` at this priority
    /// (1–99) so other processes on the machine cannot keep an arriving call waiting for a
    /// CPU; 0 (the default) keeps the normal policy. Needs `CAP_SYS_NICE` or `ulimit -r`;
    /// without it the engine logs a warning and runs at normal priority
    /// (`crate::runtime::sched`).
    pub realtime_priority: u8,
    /// `cpu_latency_limit_us`: while the engine runs, hold the kernel's CPU latency QoS
    /// (`/dev/cpu_dma_latency`) at this many µs, so idle CPUs stay in states they leave
    /// within it and a waking engine thread does not wait for a sleeping (in a VM: halted)
    /// CPU. 0 keeps idle CPUs polling. `None` (the default) leaves the kernel's choice.
    /// 0–1,000,000; needs root, else a warning (`crate::runtime::cpu_latency`).
    pub cpu_latency_limit_us: Option<u32>,
    /// `[queue]`: routing policy (ring-no-answer, wrap-up, limits, overflow), checked by
    /// [`QueueConfig::validate`]; the defaults when absent.
    pub queue: QueueConfig,
    /// `[classification]`: emergency / non-emergency / admin numbers and the policy for
    /// unknown numbers; the defaults when absent.
    pub classification: ClassifyConfig,
}

/// `[sip]`: SIP transports, carriers, registrar and timers.
#[derive(Debug, Clone, PartialEq)]
pub struct SipConfig {
    /// `listen`: where SIP is served, e.g. `udp:127.0.0.1:5060`. At least one, no duplicates.
    pub listen: Vec<Listen>,
    /// `carriers`: the sources allowed to send INVITEs (a CIDR allow-list).
    pub carriers: Vec<Cidr>,
    /// `realm`: the digest realm for REGISTER (RFC 3261 §22.4). Default `answerpoint`.
    pub realm: String,
    /// `queued_keepalive_s`: how often a waiting call gets a fresh provisional response
    /// (RFC 3261 §13.3.1.1 asks for one at least every minute). 1–60 s, default 30.
    pub queued_keepalive_s: u32,
    /// `nonce_lifetime_s`: how long a digest nonce stays fresh, s. 10–86,400, default 300.
    pub nonce_lifetime_s: u64,
    /// `digest_algorithms`: digest algorithms offered to REGISTER, in order (RFC 8760 §2.4).
    /// `"SHA-256"` and/or `"MD5"`; default both, SHA-256 first. `["MD5"]` for legacy
    /// softphones (baresip 1.0) that give up on any non-MD5 challenge.
    pub digest_algorithms: Vec<crate::sip::digest::Algorithm>,
    /// `min_register_expires_s`: shortest registration accepted; shorter gets 423
    /// (RFC 3261 §10.3). Default 60.
    pub min_register_expires_s: u32,
    /// `max_register_expires_s`: longest registration granted, s. Default 3600.
    pub max_register_expires_s: u32,
    /// `[sip.timers]`: T1/T2/T4 in ms (RFC 3261 §17.1.1.1).
    pub timers: TimerConfig,
}

/// `[http]`: the HTTP API, metrics and console (`crate::http`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// `listen`: address and port, e.g. `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// `enabled`: serve the API at all (default `true`). `answerpoint run` binds `listen`
    /// when set; the in-process [`crate::runtime::Server`] binds it only when asked.
    pub enabled: bool,
    /// `bearer_token`: RFC 6750 §2.1 bearer token every route then requires; required when
    /// `listen` is not a loopback address. 16–256 characters of `A-Z a-z 0-9 - . _ ~ + /`.
    pub bearer_token: Option<String>,
    /// `aml_hmac_key`: shared key for the AML `hmac` parameter (ETSI TS 103 625) on
    /// `POST /api/aml`; `None` accepts unsigned reports.
    pub aml_hmac_key: Option<String>,
}

/// `[limits]`: caps on everything that comes from the network (docs/DESIGN.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest SIP message accepted, bytes (1,024–1,048,576; default 65,535).
    pub max_message_bytes: usize,
    /// Most header fields in one SIP message (8–1,024; default 128).
    pub max_headers: usize,
    /// Most live registrations (1–1,000,000; default 10,000).
    pub max_registrations: usize,
    /// Most live SIP transactions (1,000–10,000,000; default 500,000).
    pub max_transactions: usize,
    /// Most concurrent TCP connections (1–100,000; default 1,024).
    pub max_tcp_connections: usize,
    /// How long an inbound TCP connection may stay open without completing its first SIP
    /// message, s (1–3,600; default 30). RFC 5626 CRLF keepalives count as activity.
    pub tcp_idle_timeout_s: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 65_535,
            max_headers: 128,
            max_registrations: 10_000,
            max_transactions: 500_000,
            max_tcp_connections: 1_024,
            tcp_idle_timeout_s: 30,
        }
    }
}

/// A SIP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SipTransport {
    /// UDP (unreliable: transactions retransmit).
    Udp,
    /// TCP (reliable).
    Tcp,
}

impl SipTransport {
    /// `udp` or `tcp`.
    pub fn as_str(self) -> &'static str {
        match self {
            SipTransport::Udp => "udp",
            SipTransport::Tcp => "tcp",
        }
    }
}

/// One `sip.listen` entry: `transport:address:port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Listen {
    /// The transport.
    pub transport: SipTransport,
    /// The local address and port (port 0: any free port, for tests).
    pub addr: SocketAddr,
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport.as_str(), self.addr)
    }
}

impl FromStr for Listen {
    type Err = Problem;

    /// Parses `udp:127.0.0.1:5060`, `tcp:[::1]:5060`.
    fn from_str(s: &str) -> Result<Self, Problem> {
        let (transport, addr) = s
            .split_once(':')
            .ok_or_else(|| Problem::BadListen(clip(s)))?;
        let transport = if transport.eq_ignore_ascii_case("udp") {
            SipTransport::Udp
        } else if transport.eq_ignore_ascii_case("tcp") {
            SipTransport::Tcp
        } else {
            return Err(Problem::UnknownTransport(clip(transport)));
        };
        let addr = addr
            .parse::<SocketAddr>()
            .map_err(|_| Problem::BadSocketAddr(clip(addr)))?;
        Ok(Listen { transport, addr })
    }
}

/// A statically provisioned handler position.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seat {
    /// `id`: unique; letters, digits, `-`, `.`, `_`.
    pub id: String,
    /// `contact`: the SIP URI the engine sends INVITEs to.
    pub contact: String,
    /// `skills`: e.g. `emergency`, `non-emergency`, `admin`, `text`, language tags.
    #[serde(default)]
    pub skills: Vec<String>,
    /// `offer_body`: what body the handler's INVITE carries (default `multipart`).
    #[serde(default)]
    pub offer_body: OfferBody,
}

/// The body of the INVITE offered to a handler (`offer_body` of a seat or user).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OfferBody {
    /// `multipart`: the caller's SDP plus the PIDF-LO / additional-data parts, in a
    /// `multipart/mixed` body (RFC 6442 §3, RFC 5621).
    #[default]
    Multipart,
    /// `sdp-only`: only the caller's SDP, for softphones that refuse multipart offers
    /// (baresip 1.0 answers them 500). `Geolocation` / `Call-Info` headers are still sent
    /// and the location stays available through the API.
    SdpOnly,
}

/// Softphone credentials for REGISTER (digest, RFC 3261 §22.4).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// `name`: the digest username; unique; letters, digits, `-`, `.`, `_`.
    pub name: String,
    /// `password`: non-empty.
    pub password: String,
    /// `skills`, as for [`Seat::skills`].
    #[serde(default)]
    pub skills: Vec<String>,
    /// `offer_body`, as for [`Seat::offer_body`].
    #[serde(default)]
    pub offer_body: OfferBody,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .field("skills", &self.skills)
            .field("offer_body", &self.offer_body)
            .finish()
    }
}

// === CIDR ===

/// An IP prefix (RFC 4632 for IPv4, RFC 4291 §2.3 for IPv6): `10.0.0.0/8`, `::1/128`; a bare
/// address means a single host (/32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix_len: u8,
}

/// Why a CIDR string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// The part before `/` is not an IPv4 or IPv6 address.
    #[error("'{0}' is not an IP address")]
    BadAddress(String),
    /// The part after `/` is not a number.
    #[error("prefix length '{0}' is not a number")]
    BadPrefix(String),
    /// The prefix is longer than the address (32 or 128).
    #[error("prefix length {prefix_len} is over {max}")]
    PrefixTooLong {
        /// The given prefix length.
        prefix_len: u32,
        /// 32 or 128.
        max: u32,
    },
    /// Bits are set after the prefix, e.g. `10.1.2.3/8`; almost always a typo.
    #[error("host bits are set after the prefix (did you mean {0}?)")]
    HostBitsSet(String),
}

impl Cidr {
    /// The network address.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length in bits.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// `true` if `ip` lies in this prefix. An IPv4-mapped IPv6 source (`::ffff:a.b.c.d`, as
    /// seen on dual-stack sockets) is matched as the IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = mask_u32(self.prefix_len);
                u32::from(ip) & mask == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask_u128(self.prefix_len);
                u128::from(ip) & mask == u128::from(net)
            }
            _ => false,
        }
    }
}

fn mask_u32(prefix_len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix_len))
        .unwrap_or(0)
}

fn mask_u128(prefix_len: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(prefix_len))
        .unwrap_or(0)
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, CidrError> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| CidrError::BadAddress(clip(addr)))?;
        let max: u32 = if network.is_ipv4() { 32 } else { 128 };
        let prefix_len: u32 = match prefix {
            None => max,
            Some(p) => {
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(CidrError::BadPrefix(clip(p)));
                }
                p.parse().map_err(|_| CidrError::BadPrefix(clip(p)))?
            }
        };
        if prefix_len > max {
            return Err(CidrError::PrefixTooLong { prefix_len, max });
        }
        let prefix_len = prefix_len as u8;
        let masked = match network {
            IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & mask_u32(prefix_len)).into()),
            IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & mask_u128(prefix_len)).into()),
        };
        if masked != network {
            return Err(CidrError::HostBitsSet(format!("{masked}/{prefix_len}")));
        }
        Ok(Cidr {
            network,
            prefix_len,
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

// === errors ===

/// Why a configuration was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path given.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An unknown key or a value of the wrong type, located: `key` is the full path, e.g.
    /// `sip.lisen` or `seats[1].skill`.
    #[error("{key}: {message} (line {line})")]
    Key {
        /// The full key path.
        key: String,
        /// 1-based line number in the file.
        line: usize,
        /// serde's description, e.g. "unknown field `lisen`, expected one of …".
        message: String,
    },
    /// TOML syntax errors and anything that could not be located (toml's message names the
    /// line and column).
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    /// A value is out of range or malformed.
    #[error("{key}: {problem}")]
    Invalid {
        /// The key holding the value, e.g. `sip.listen[1]` or `seats[2].id`.
        key: String,
        /// What is wrong with it.
        problem: Problem,
    },
}

impl ConfigError {
    fn invalid(key: impl Into<String>, problem: Problem) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            problem,
        }
    }
}

/// What is wrong with one configuration value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// A listen entry's transport is not udp or tcp.
    #[error("unknown transport '{0}' (expected udp or tcp)")]
    UnknownTransport(String),
    /// A listen entry is not `transport:address:port`.
    #[error("'{0}' is not transport:address:port (e.g. udp:127.0.0.1:5060)")]
    BadListen(String),
    /// An address is not `ip:port` / `[ipv6]:port`.
    #[error("'{0}' is not an address with a port (e.g. 127.0.0.1:5060 or [::1]:5060)")]
    BadSocketAddr(String),
    /// A CIDR prefix is malformed.
    #[error("'{value}': {error}")]
    BadCidr {
        /// The value given.
        value: String,
        /// What is wrong.
        error: CidrError,
    },
    /// The same value appears earlier under `first`.
    #[error("'{value}' duplicates {first}")]
    Duplicate {
        /// The repeated value.
        value: String,
        /// The key of the first occurrence.
        first: String,
    },
    /// A value that must not be empty is empty.
    #[error("must not be empty")]
    Empty,
    /// A seat or user skill the queue does not know (a typo would create a skill no call
    /// ever requires, or silently fall back to every class skill).
    #[error("unknown skill '{0}' (known: emergency, non-emergency, admin, text)")]
    UnknownSkill(String),
    /// A list is longer than its cap.
    #[error("{len} entries, at most {max} allowed")]
    TooMany {
        /// Entries given.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// A number is outside its range.
    #[error("{value} is outside {min}..={max}")]
    OutOfRange {
        /// The value given.
        value: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// Two values that must be ordered are not.
    #[error("must be at least {other_key} ({other})")]
    BelowOther {
        /// The key it is compared with.
        other_key: &'static str,
        /// That key's value.
        other: u64,
    },
    /// A name with characters outside letters, digits, `-`, `.`, `_`, or too long.
    #[error("'{0}' must be 1-64 characters of letters, digits, '-', '.', '_'")]
    BadName(String),
    /// A contact that is not a `sip:` / `sips:` URI.
    #[error("'{0}' is not a sip: or sips: URI with a host")]
    BadSipUri(String),
    /// A string with a control character (e.g. a newline), which would corrupt headers.
    #[error("contains a control character")]
    ControlCharacter,
    /// `[queue]` settings that cannot work.
    #[error("{0}")]
    Queue(QueueConfigError),
    /// A digest algorithm other than SHA-256 or MD5 (RFC 8760).
    #[error("unknown digest algorithm '{0}' (expected SHA-256 or MD5)")]
    UnknownDigestAlgorithm(String),
    /// A classification number that is not 1–15 digits (E.164 length).
    #[error("'{0}' must be 1-15 digits")]
    BadNumber(String),
    /// The API listens on a non-loopback address without `http.bearer_token`.
    #[error("required because http.listen {0} is not a loopback address (RFC 6750 bearer token)")]
    TokenRequired(SocketAddr),
    /// A bearer token outside RFC 6750's `b64token` characters or 16–256 long.
    #[error("must be 16-256 characters of A-Z a-z 0-9 - . _ ~ + /")]
    BadToken,
}

fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

// === raw (serde) shape of the file ===

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    sip: RawSip,
    #[serde(default)]
    http: RawHttp,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    seats: Vec<Seat>,
    #[serde(default)]
    users: Vec<User>,
    #[serde(default)]
    data_dir: Option<PathBuf>,
    #[serde(default)]
    shutdown_grace_s: Option<u32>,
    #[serde(default)]
    realtime_priority: Option<u32>,
    #[serde(default)]
    cpu_latency_limit_us: Option<u32>,
    #[serde(default)]
    queue: QueueConfig,
    #[serde(default)]
    classification: ClassifyConfig,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawSip {
    listen: Vec<String>,
    carriers: Vec<String>,
    realm: String,
    queued_keepalive_s: u32,
    nonce_lifetime_s: u64,
    digest_algorithms: Vec<String>,
    min_register_expires_s: u32,
    max_register_expires_s: u32,
    timers: TimerConfig,
}

impl Default for RawSip {
    fn default() -> Self {
        RawSip {
            listen: vec!["udp:127.0.0.1:5060".into(), "tcp:127.0.0.1:5060".into()],
            carriers: vec!["127.0.0.0/8".into(), "::1/128".into()],
            realm: "answerpoint".into(),
            queued_keepalive_s: 30,
            nonce_lifetime_s: 300,
            digest_algorithms: vec!["SHA-256".into(), "MD5".into()],
            min_register_expires_s: 60,
            max_register_expires_s: 3600,
            timers: TimerConfig::default(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawHttp {
    listen: String,
    enabled: bool,
    bearer_token: Option<String>,
    aml_hmac_key: Option<String>,
}

impl Default for RawHttp {
    fn default() -> Self {
        RawHttp {
            listen: "127.0.0.1:8080".into(),
            enabled: true,
            bearer_token: None,
            aml_hmac_key: None,
        }
    }
}

// === loading and validation ===

impl Default for Config {
    /// The embedded default; equal to parsing [`DEFAULT_TOML`] (and to parsing an empty
    /// file), which the tests check.
    fn default() -> Self {
        let localhost = IpAddr::from([127, 0, 0, 1]);
        Config {
            sip: SipConfig {
                listen: vec![
                    Listen {
                        transport: SipTransport::Udp,
                        addr: SocketAddr::new(localhost, 5060),
                    },
                    Listen {
                        transport: SipTransport::Tcp,
                        addr: SocketAddr::new(localhost, 5060),
                    },
                ],
                carriers: vec![
                    Cidr {
                        network: IpAddr::from([127, 0, 0, 0]),
                        prefix_len: 8,
                    },
                    Cidr {
                        network: IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
                        prefix_len: 128,
                    },
                ],
                realm: "answerpoint".into(),
                queued_keepalive_s: 30,
                nonce_lifetime_s: 300,
                digest_algorithms: vec![
                    crate::sip::digest::Algorithm::Sha256,
                    crate::sip::digest::Algorithm::Md5,
                ],
                min_register_expires_s: 60,
                max_register_expires_s: 3600,
                timers: TimerConfig::default(),
            },
            http: HttpConfig {
                listen: SocketAddr::new(localhost, 8080),
                enabled: true,
                bearer_token: None,
                aml_hmac_key: None,
            },
            limits: Limits::default(),
            seats: Vec::new(),
            users: Vec::new(),
            data_dir: None,
            shutdown_grace_s: DEFAULT_SHUTDOWN_GRACE_S,
            realtime_priority: 0,
            cpu_latency_limit_us: None,
            queue: QueueConfig::default(),
            classification: ClassifyConfig::default(),
        }
    }
}

fn range(key: &str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(ConfigError::invalid(
            key,
            Problem::OutOfRange { value, min, max },
        ));
    }
    Ok(())
}

fn count(key: &str, len: usize, max: usize) -> Result<(), ConfigError> {
    if len > max {
        return Err(ConfigError::invalid(key, Problem::TooMany { len, max }));
    }
    Ok(())
}

fn check_name(key: &str, name: &str) -> Result<(), ConfigError> {
    if name.is_empty() {
        return Err(ConfigError::invalid(key, Problem::Empty));
    }
    if name.len() > MAX_NAME_LEN
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
    {
        return Err(ConfigError::invalid(key, Problem::BadName(clip(name))));
    }
    Ok(())
}

/// Checks a seat's or user's skill list under `key` (e.g. `seats[2].skills`): at most
/// [`MAX_SKILLS`], each a name of letters, digits, `-._` the queue knows, no repeats.
/// Also used by the load harness for its scenarios' `handlers[i].skills`.
pub(crate) fn check_skills(key: &str, skills: &[String]) -> Result<(), ConfigError> {
    count(key, skills.len(), MAX_SKILLS)?;
    let mut seen: HashSet<&str> = HashSet::new();
    for (i, s) in skills.iter().enumerate() {
        let k = format!("{key}[{i}]");
        check_name(&k, s)?;
        // The engine's queue knows the class skills and `text` (no language table yet:
        // `crate::queue::Skills::from_name` with no languages).
        if crate::queue::Skills::from_name(s, &[]).is_none() {
            return Err(ConfigError::invalid(k, Problem::UnknownSkill(clip(s))));
        }
        if !seen.insert(s) {
            let first = skills.iter().position(|x| x == s).unwrap_or(0);
            return Err(ConfigError::invalid(
                k,
                Problem::Duplicate {
                    value: s.clone(),
                    first: format!("{key}[{first}]"),
                },
            ));
        }
    }
    Ok(())
}

/// A `sip:`/`sips:` URI with something after the scheme and no whitespace or controls;
/// full URI parsing is the SIP layer's job (RFC 3261 §19.1).
fn check_sip_uri(key: &str, uri: &str) -> Result<(), ConfigError> {
    let lower = uri.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("sip:")
        .or_else(|| lower.strip_prefix("sips:"));
    let host = rest.map(|r| r.rsplit('@').next().unwrap_or(r));
    let ok = uri.len() <= 512
        && host.is_some_and(|h| !h.is_empty() && !h.starts_with(':') && !h.starts_with(';'))
        && !uri
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control());
    if !ok {
        return Err(ConfigError::invalid(key, Problem::BadSipUri(clip(uri))));
    }
    Ok(())
}

impl Config {
    /// Parses and validates a TOML document.
    ///
    /// Errors: [`ConfigError::Toml`] for syntax, types and unknown keys;
    /// [`ConfigError::Invalid`] naming the first bad key otherwise.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| locate(text, e))?;
        Config::from_raw(raw)
    }

    /// Reads, parses and validates the file at `path`.
    ///
    /// Errors: [`ConfigError::Read`] plus those of [`Config::from_toml_str`].
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_toml_str(&text)
    }

    fn from_raw(raw: RawConfig) -> Result<Self, ConfigError> {
        // [sip]
        Self::check_policy(&raw)?;
        let s = raw.sip;
        if s.listen.is_empty() {
            return Err(ConfigError::invalid("sip.listen", Problem::Empty));
        }
        count("sip.listen", s.listen.len(), MAX_LISTEN)?;
        let mut listen: Vec<Listen> = Vec::with_capacity(s.listen.len());
        for (i, text) in s.listen.iter().enumerate() {
            let key = format!("sip.listen[{i}]");
            let l: Listen = text
                .parse()
                .map_err(|p| ConfigError::invalid(key.clone(), p))?;
            if let Some(first) = listen.iter().position(|x| *x == l) {
                return Err(ConfigError::invalid(
                    key,
                    Problem::Duplicate {
                        value: text.clone(),
                        first: format!("sip.listen[{first}]"),
                    },
                ));
            }
            listen.push(l);
        }

        if s.carriers.is_empty() {
            return Err(ConfigError::invalid("sip.carriers", Problem::Empty));
        }
        count("sip.carriers", s.carriers.len(), MAX_CARRIERS)?;
        let mut carriers = Vec::with_capacity(s.carriers.len());
        for (i, text) in s.carriers.iter().enumerate() {
            let c: Cidr = text.trim().parse().map_err(|error| {
                ConfigError::invalid(
                    format!("sip.carriers[{i}]"),
                    Problem::BadCidr {
                        value: clip(text),
                        error,
                    },
                )
            })?;
            carriers.push(c);
        }

        if s.realm.is_empty() {
            return Err(ConfigError::invalid("sip.realm", Problem::Empty));
        }
        if s.realm.len() > MAX_NAME_LEN || s.realm.chars().any(char::is_control) {
            return Err(ConfigError::invalid(
                "sip.realm",
                Problem::BadName(clip(&s.realm)),
            ));
        }
        range(
            "sip.queued_keepalive_s",
            u64::from(s.queued_keepalive_s),
            1,
            60,
        )?;
        range("sip.nonce_lifetime_s", s.nonce_lifetime_s, 10, 86_400)?;
        if s.digest_algorithms.is_empty() {
            return Err(ConfigError::invalid(
                "sip.digest_algorithms",
                Problem::Empty,
            ));
        }
        let mut digest_algorithms = Vec::with_capacity(s.digest_algorithms.len());
        for (i, a) in s.digest_algorithms.iter().enumerate() {
            let alg = crate::sip::digest::Algorithm::parse(a).map_err(|_| {
                ConfigError::invalid(
                    format!("sip.digest_algorithms[{i}]"),
                    Problem::UnknownDigestAlgorithm(clip(a)),
                )
            })?;
            if digest_algorithms.contains(&alg) {
                return Err(ConfigError::invalid(
                    format!("sip.digest_algorithms[{i}]"),
                    Problem::Duplicate {
                        value: clip(a),
                        first: "an earlier entry".into(),
                    },
                ));
            }
            digest_algorithms.push(alg);
        }
        range(
            "sip.min_register_expires_s",
            u64::from(s.min_register_expires_s),
            1,
            86_400,
        )?;
        range(
            "sip.max_register_expires_s",
            u64::from(s.max_register_expires_s),
            1,
            86_400,
        )?;
        if s.max_register_expires_s < s.min_register_expires_s {
            return Err(ConfigError::invalid(
                "sip.max_register_expires_s",
                Problem::BelowOther {
                    other_key: "sip.min_register_expires_s",
                    other: u64::from(s.min_register_expires_s),
                },
            ));
        }
        let t = s.timers;
        range("sip.timers.t1_ms", t.t1_ms, 1, 10_000)?;
        range("sip.timers.t2_ms", t.t2_ms, 1, 60_000)?;
        range("sip.timers.t4_ms", t.t4_ms, 1, 60_000)?;
        if t.t2_ms < t.t1_ms {
            return Err(ConfigError::invalid(
                "sip.timers.t2_ms",
                Problem::BelowOther {
                    other_key: "sip.timers.t1_ms",
                    other: t.t1_ms,
                },
            ));
        }

        // [http]
        let http_listen: SocketAddr = raw.http.listen.parse().map_err(|_| {
            ConfigError::invalid(
                "http.listen",
                Problem::BadSocketAddr(clip(&raw.http.listen)),
            )
        })?;

        // [limits]
        let l = raw.limits;
        range(
            "limits.max_message_bytes",
            l.max_message_bytes as u64,
            1_024,
            1_048_576,
        )?;
        range("limits.max_headers", l.max_headers as u64, 8, 1_024)?;
        range(
            "limits.max_registrations",
            l.max_registrations as u64,
            1,
            1_000_000,
        )?;
        range(
            "limits.max_transactions",
            l.max_transactions as u64,
            1_000,
            10_000_000,
        )?;
        range(
            "limits.max_tcp_connections",
            l.max_tcp_connections as u64,
            1,
            100_000,
        )?;
        range("limits.tcp_idle_timeout_s", l.tcp_idle_timeout_s, 1, 3_600)?;

        // [[seats]]
        count("seats", raw.seats.len(), MAX_SEATS)?;
        for (i, seat) in raw.seats.iter().enumerate() {
            let key = format!("seats[{i}]");
            check_name(&format!("{key}.id"), &seat.id)?;
            if let Some(first) = raw.seats[..i].iter().position(|s| s.id == seat.id) {
                return Err(ConfigError::invalid(
                    format!("{key}.id"),
                    Problem::Duplicate {
                        value: seat.id.clone(),
                        first: format!("seats[{first}].id"),
                    },
                ));
            }
            check_sip_uri(&format!("{key}.contact"), &seat.contact)?;
            check_skills(&format!("{key}.skills"), &seat.skills)?;
        }

        // [[users]]
        count("users", raw.users.len(), MAX_SEATS)?;
        for (i, user) in raw.users.iter().enumerate() {
            let key = format!("users[{i}]");
            check_name(&format!("{key}.name"), &user.name)?;
            if let Some(first) = raw.users[..i].iter().position(|u| u.name == user.name) {
                return Err(ConfigError::invalid(
                    format!("{key}.name"),
                    Problem::Duplicate {
                        value: user.name.clone(),
                        first: format!("users[{first}].name"),
                    },
                ));
            }
            if user.password.is_empty() {
                return Err(ConfigError::invalid(
                    format!("{key}.password"),
                    Problem::Empty,
                ));
            }
            if user.password.chars().any(char::is_control) {
                return Err(ConfigError::invalid(
                    format!("{key}.password"),
                    Problem::ControlCharacter,
                ));
            }
            check_skills(&format!("{key}.skills"), &user.skills)?;
        }

        if let Some(g) = raw.shutdown_grace_s {
            range("shutdown_grace_s", u64::from(g), 0, 300)?;
        }
        if let Some(p) = raw.realtime_priority {
            range("realtime_priority", u64::from(p), 0, 99)?;
        }
        if let Some(l) = raw.cpu_latency_limit_us {
            range(
                "cpu_latency_limit_us",
                u64::from(l),
                0,
                u64::from(crate::runtime::cpu_latency::MAX_CPU_LATENCY_LIMIT_US),
            )?;
        }
        if let Some(t) = &raw.http.bearer_token {
            if !(16..=256).contains(&t.len())
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
            {
                return Err(ConfigError::invalid("http.bearer_token", Problem::BadToken));
            }
        } else if raw.http.enabled && !http_listen.ip().is_loopback() {
            return Err(ConfigError::invalid(
                "http.bearer_token",
                Problem::TokenRequired(http_listen),
            ));
        }
        if let Some(k) = &raw.http.aml_hmac_key {
            if k.is_empty() {
                return Err(ConfigError::invalid("http.aml_hmac_key", Problem::Empty));
            }
        }

        if let Some(dir) = &raw.data_dir {
            if dir.as_os_str().is_empty() {
                return Err(ConfigError::invalid("data_dir", Problem::Empty));
            }
        }

        Ok(Config {
            sip: SipConfig {
                listen,
                carriers,
                realm: s.realm,
                queued_keepalive_s: s.queued_keepalive_s,
                nonce_lifetime_s: s.nonce_lifetime_s,
                digest_algorithms,
                min_register_expires_s: s.min_register_expires_s,
                max_register_expires_s: s.max_register_expires_s,
                timers: t,
            },
            http: HttpConfig {
                listen: http_listen,
                enabled: raw.http.enabled,
                bearer_token: raw.http.bearer_token,
                aml_hmac_key: raw.http.aml_hmac_key,
            },
            limits: l,
            seats: raw.seats,
            users: raw.users,
            data_dir: raw.data_dir,
            shutdown_grace_s: raw.shutdown_grace_s.unwrap_or(DEFAULT_SHUTDOWN_GRACE_S),
            realtime_priority: raw
                .realtime_priority
                .and_then(|p| u8::try_from(p).ok())
                .unwrap_or(0),
            cpu_latency_limit_us: raw.cpu_latency_limit_us,
            queue: raw.queue,
            classification: raw.classification,
        })
    }

    /// Checks `[queue]` ([`QueueConfig::validate`]) and `[classification]` (numbers are
    /// digits, 1–15 of them, E.164 length; no number in two lists).
    fn check_policy(raw: &RawConfig) -> Result<(), ConfigError> {
        raw.queue.validate().map_err(|e| {
            let key = match &e {
                QueueConfigError::ZeroRingTimeout => "queue.ring_timeout_ms".to_owned(),
                QueueConfigError::OverflowWithoutUri(class) => {
                    format!("queue.{class}_limit.overflow_uri")
                }
                QueueConfigError::BadUri(_) => "queue".to_owned(),
                QueueConfigError::RuleWithoutTarget => {
                    "queue.emergency_overflow.target_uri".to_owned()
                }
            };
            ConfigError::invalid(key, Problem::Queue(e))
        })?;
        let c = &raw.classification;
        let mut seen: Vec<(&str, String)> = Vec::new();
        for (list, numbers) in [
            ("classification.emergency_numbers", &c.emergency_numbers),
            (
                "classification.non_emergency_numbers",
                &c.non_emergency_numbers,
            ),
            ("classification.admin_numbers", &c.admin_numbers),
        ] {
            count(list, numbers.len(), MAX_SKILLS)?;
            for (i, n) in numbers.iter().enumerate() {
                let key = format!("{list}[{i}]");
                if n.is_empty() || n.len() > 15 || !n.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ConfigError::invalid(key, Problem::BadNumber(clip(n))));
                }
                if let Some((_, first)) = seen.iter().find(|(v, _)| v == n) {
                    return Err(ConfigError::invalid(
                        key,
                        Problem::Duplicate {
                            value: n.clone(),
                            first: first.clone(),
                        },
                    ));
                }
                seen.push((n.as_str(), key));
            }
        }
        Ok(())
    }

    /// `true` if `source` may send INVITEs: it lies in one of `sip.carriers`.
    pub fn is_carrier(&self, source: IpAddr) -> bool {
        self.sip.carriers.iter().any(|c| c.contains(source))
    }

    /// A one-line summary for `check-config` and the start-up log, e.g.
    /// `sip udp:127.0.0.1:5060 tcp:127.0.0.1:5060; http 127.0.0.1:8080; 2 carrier prefixes;
    /// 0 seats; 0 users; realm answerpoint`.
    pub fn summary(&self) -> String {
        let listen: Vec<String> = self.sip.listen.iter().map(Listen::to_string).collect();
        format!(
            "sip {}; http {}; {} carrier prefix{}; {} seat{}; {} user{}; realm {}; T1 {} ms",
            listen.join(" "),
            self.http.listen,
            self.sip.carriers.len(),
            if self.sip.carriers.len() == 1 {
                ""
            } else {
                "es"
            },
            self.seats.len(),
            if self.seats.len() == 1 { "" } else { "s" },
            self.users.len(),
            if self.users.len() == 1 { "" } else { "s" },
            self.sip.realm,
            self.sip.timers.t1_ms,
        ) + &if self.realtime_priority > 0 {
            format!(
                "; engine thread SCHED_FIFO {} requested",
                self.realtime_priority
            )
        } else {
            String::new()
        } + &match self.cpu_latency_limit_us {
            Some(l) => format!("; CPU latency limit {l} µs requested"),
            None => String::new(),
        }
    }
}

/// Turns a serde error with a span into [`ConfigError::Key`] naming the full key path:
/// the enclosing `[table]` / `[[array]]` header (with the array index), the key on the line,
/// and for inline tables the inner key. Syntax errors stay [`ConfigError::Toml`].
fn locate(text: &str, err: toml::de::Error) -> ConfigError {
    let unknown = err.message().starts_with("unknown field");
    let typed = err.message().starts_with("invalid type")
        || err.message().starts_with("invalid value")
        || err.message().starts_with("unknown variant");
    let Some(span) = err.span() else {
        return ConfigError::Toml(err);
    };
    if !(unknown || typed) || span.start > text.len() || !text.is_char_boundary(span.start) {
        return ConfigError::Toml(err);
    }
    let before = &text[..span.start];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_no = before.matches('\n').count() + 1;
    let line = text[line_start..].lines().next().unwrap_or("");
    let spanned = text.get(span.clone()).unwrap_or("").trim();

    // The section: the last header above this line, `[[x]]` counted to give an index.
    let mut section = String::new();
    let mut arrays: Vec<(String, usize)> = Vec::new();
    for l in text[..line_start].lines() {
        let l = l.trim();
        if let Some(name) = l.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let name = name.trim().to_owned();
            let n = match arrays.iter_mut().find(|(a, _)| *a == name) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    arrays.push((name.clone(), 0));
                    0
                }
            };
            section = format!("{name}[{n}]");
        } else if let Some(name) = l.strip_prefix('[').and_then(|r| r.split(']').next()) {
            section = name.trim().to_owned();
        }
    }
    let join = |a: &str, b: &str| {
        if a.is_empty() {
            b.to_owned()
        } else {
            format!("{a}.{b}")
        }
    };
    let key = if line.trim_start().starts_with('[') {
        // A table header itself is unknown: `[htp]`.
        let header = line
            .trim()
            .trim_start_matches('[')
            .split(']')
            .next()
            .unwrap_or("");
        header.trim().to_owned()
    } else if let Some((lhs, _)) = line.split_once('=') {
        let lhs = lhs.trim();
        if !unknown || spanned == lhs {
            join(&section, lhs)
        } else {
            join(&join(&section, lhs), spanned)
        }
    } else if unknown {
        join(&section, spanned)
    } else {
        return ConfigError::Toml(err);
    };
    ConfigError::Key {
        key,
        line: line_no,
        message: err.message().to_owned(),
    }
}

impl Credentials for Config {
    /// The password of the `[[users]]` entry named `username`.
    fn password(&self, username: &str) -> Option<&str> {
        self.users
            .iter()
            .find(|u| u.name == username)
            .map(|u| u.password.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        let c = Config::from_toml_str(DEFAULT_TOML).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(
            c.sip.listen,
            vec![
                "udp:127.0.0.1:5060".parse::<Listen>().unwrap(),
                "tcp:127.0.0.1:5060".parse().unwrap()
            ]
        );
        assert_eq!(c.http.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.sip.queued_keepalive_s, 30);
        assert_eq!(c.sip.timers, TimerConfig::default());
        assert!(c.is_carrier("127.0.0.1".parse().unwrap()));
        assert!(c.is_carrier("::1".parse().unwrap()));
        assert!(c.is_carrier("::ffff:127.0.0.9".parse().unwrap()));
        assert!(!c.is_carrier("10.0.0.1".parse().unwrap()));
        // An empty file is the same as the default.
        assert_eq!(Config::from_toml_str("").unwrap(), c);
    }

    #[test]
    fn cidr_parsing_and_matching() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains("10.255.1.2".parse().unwrap()));
        assert!(!c.contains("11.0.0.0".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.7".parse().unwrap()));
        assert!(!all.contains("::1".parse().unwrap()));
        let host: Cidr = "192.0.2.10".parse().unwrap();
        assert_eq!(host.prefix_len(), 32);
        assert!(host.contains("192.0.2.10".parse().unwrap()));
        assert!(!host.contains("192.0.2.11".parse().unwrap()));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(!v6.contains("2001:db9::1".parse().unwrap()));
        let any6: Cidr = "::/0".parse().unwrap();
        assert!(any6.contains("2001:db9::1".parse().unwrap()));
        assert_eq!(v6.to_string(), "2001:db8::/32");
        assert_eq!(
            "10.1.2.3/8".parse::<Cidr>(),
            Err(CidrError::HostBitsSet("10.0.0.0/8".into()))
        );
        assert_eq!(
            "10.0.0.0/33".parse::<Cidr>(),
            Err(CidrError::PrefixTooLong {
                prefix_len: 33,
                max: 32
            })
        );
        assert_eq!(
            "::/129".parse::<Cidr>(),
            Err(CidrError::PrefixTooLong {
                prefix_len: 129,
                max: 128
            })
        );
        assert_eq!(
            "10.0.0.0/".parse::<Cidr>(),
            Err(CidrError::BadPrefix("".into()))
        );
        assert_eq!(
            "10.0.0.0/+8".parse::<Cidr>(),
            Err(CidrError::BadPrefix("+8".into()))
        );
        assert_eq!(
            "10.0.0/8".parse::<Cidr>(),
            Err(CidrError::BadAddress("10.0.0".into()))
        );
    }

    #[test]
    fn listen_parsing() {
        let l: Listen = "tcp:[::1]:5070".parse().unwrap();
        assert_eq!(l.transport, SipTransport::Tcp);
        assert_eq!(l.addr, "[::1]:5070".parse().unwrap());
        assert_eq!(l.to_string(), "tcp:[::1]:5070");
        assert_eq!(
            "sctp:1.2.3.4:5060".parse::<Listen>(),
            Err(Problem::UnknownTransport("sctp".into()))
        );
        assert_eq!(
            "udp:1.2.3.4".parse::<Listen>(),
            Err(Problem::BadSocketAddr("1.2.3.4".into()))
        );
        assert_eq!(
            "1.2.3.4".parse::<Listen>(),
            Err(Problem::BadListen("1.2.3.4".into()))
        );
    }

    #[test]
    fn http_api_and_journal_keys() {
        let d = Config::default();
        assert!(d.http.enabled);
        assert_eq!(d.http.bearer_token, None);
        assert_eq!(d.shutdown_grace_s, DEFAULT_SHUTDOWN_GRACE_S);
        assert_eq!(Config::from_toml_str(DEFAULT_TOML).unwrap(), d);
        let c = Config::from_toml_str(
            "data_dir = \"/var/lib/answerpoint\"\nshutdown_grace_s = 3\n[http]\nlisten = \"0.0.0.0:8080\"\nbearer_token = \"0123456789abcdef-xyz\"\naml_hmac_key = \"k\"\n",
        )
        .unwrap();
        assert_eq!(c.shutdown_grace_s, 3);
        assert_eq!(c.http.bearer_token.as_deref(), Some("0123456789abcdef-xyz"));
        assert_eq!(c.http.aml_hmac_key.as_deref(), Some("k"));
        let key = |toml: &str| match Config::from_toml_str(toml) {
            Err(ConfigError::Invalid { key, .. }) => key,
            Err(ConfigError::Key { key, .. }) => key,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            key("[http]\nlisten = \"0.0.0.0:8080\"\n"),
            "http.bearer_token"
        );
        assert_eq!(
            key("[http]\nbearer_token = \"short\"\n"),
            "http.bearer_token"
        );
        assert_eq!(
            key("[http]\nbearer = \"0123456789abcdef\"\n"),
            "http.bearer"
        );
        assert_eq!(key("shutdown_grace_s = 301\n"), "shutdown_grace_s");
        // A non-loopback address is fine when the API is off.
        let off =
            Config::from_toml_str("[http]\nenabled = false\nlisten = \"0.0.0.0:1\"\n").unwrap();
        assert!(!off.http.enabled);
    }

    #[test]
    fn cpu_latency_limit_is_unset_by_default_and_bounded() {
        assert_eq!(Config::default().cpu_latency_limit_us, None);
        assert!(!Config::default().summary().contains("CPU latency"));
        let c = Config::from_toml_str("cpu_latency_limit_us = 0\n").unwrap();
        assert_eq!(c.cpu_latency_limit_us, Some(0));
        assert!(
            c.summary().contains("CPU latency limit 0 µs"),
            "{}",
            c.summary()
        );
        assert_eq!(
            Config::from_toml_str("cpu_latency_limit_us = 1000000\n")
                .unwrap()
                .cpu_latency_limit_us,
            Some(1_000_000)
        );
        match Config::from_toml_str("cpu_latency_limit_us = 1000001\n") {
            Err(ConfigError::Invalid { key, .. }) => assert_eq!(key, "cpu_latency_limit_us"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn realtime_priority_is_off_by_default_and_bounded() {
        assert_eq!(Config::default().realtime_priority, 0);
        let c = Config::from_toml_str("realtime_priority = 10\n").unwrap();
        assert_eq!(c.realtime_priority, 10);
        assert_eq!(
            Config::from_toml_str("realtime_priority = 99\n")
                .unwrap()
                .realtime_priority,
            99
        );
        for bad in ["realtime_priority = 100\n", "realtime_priority = 70000\n"] {
            match Config::from_toml_str(bad) {
                Err(ConfigError::Invalid { key, .. }) => assert_eq!(key, "realtime_priority"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
