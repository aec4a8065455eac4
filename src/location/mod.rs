//! Caller location and emergency data: PIDF-LO (RFC 4119, RFC 5491, RFC 5139, RFC 6848,
//! RFC 7459), multipart bodies (RFC 2046 §5.1), Geolocation (RFC 6442), AML (ETSI TS
//! 103 625) and RFC 7852 additional data.
//!
//! Everything here is sans-IO and never panics on input: parsers take bytes or text and
//! return typed errors; the message-level [`locate`](self::locate) collects every source
//! in an INVITE, keeps the best, records what failed and never fails the call.
//!
//! | module | what |
//! | --- | --- |
//! | [`xml`] | bounded XML (size, depth, node count, no DTD/entities) |
//! | [`multipart`] | `multipart/mixed` bodies, `cid:` matching |
//! | [`pidf`] | PIDF-LO locations and RFC 5491 shapes |
//! | [`additional_data`] | RFC 7852 blocks, CAP, vCard |
//! | [`header`] | Geolocation, Geolocation-Routing, Call-Info, P-Asserted-Identity values |
//! | [`aml`] | AML SMS (text v1/v2, 7-bit data) and HTTPS forms |
//! | [`aml_store`] | correlation of AML fixes to calls by caller number |
//! | [`summary`] | the JSON location summary for the API and console |
//! | [`time`] | RFC 3339 / AML timestamps |

pub mod additional_data;
pub mod aml;
pub mod aml_store;
pub mod header;
pub mod locate;
pub mod multipart;
pub mod passon;
pub mod pidf;
pub mod summary;
pub mod time;
pub mod xml;
