//! # answerpoint
//!
//! An emergency-call telephony and queueing engine: carriers deliver 999/112 and
//! non-emergency (101) calls over SIP; the engine classifies each call, attaches the
//! caller's location, queues it by priority and routes it to an available call handler.
//!
//! # Layout
//!
//! | module | what it is | I/O |
//! | --- | --- | --- |
//! | [`sip`] | SIP messages: bounded parser, printer, URIs, typed headers, framing (RFC 3261) | sans-IO |
//! | [`location`] | PIDF-LO, multipart bodies, Geolocation, AML, RFC 7852 additional data | sans-IO |
//! | [`call`] | call classification (emergency / non-emergency / test) and the call record | sans-IO |
//! | [`queue`] | priority queue, handler registry, routing policy: `(now, event) → actions` | sans-IO |
//! | [`config`] | engine TOML configuration, validated before any port is bound; embedded default | sans-IO |
//! | [`runtime`] | tokio shell: UDP/TCP SIP transports, timers, bounded queues driving [`engine`] | I/O |
//! | [`sim`] | discrete-event simulation in virtual time driving the [`queue`] core | sans-IO |
//! | [`kpi`] | answer-time KPIs per class, per 15-minute interval and per run (hdrhistogram) | sans-IO |
//! | [`store`] | call journal: SQLite (WAL) written by one thread off the call path; crash recovery | file I/O, thread |
//! | [`load`] | load harness: simulated carriers and handlers over loopback SIP, scenarios, report | tokio, child process |
//! | [`http`] | axum: `/metrics` (Prometheus), JSON API, Server-Sent Events, AML ingest | tokio |
//!
//! Everything that decides takes `now` and an input and returns outputs; sockets and
//! timers live in a thin runtime layer (see `docs/DESIGN.md` §2 in the project's shared notes).

pub mod call;
pub mod config;
pub mod engine;
pub mod http;
pub mod kpi;
pub mod load;
pub mod location;
pub mod queue;
pub mod runtime;
pub mod sharded;
pub mod sim;
pub mod sip;
pub mod store;
