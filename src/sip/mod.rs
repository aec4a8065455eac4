//! SIP messages (RFC 3261 §7, §20, §25): bounded zero-copy parser, printer, URIs,
//! typed header access and transport framing. No tokio, no clock, no sockets.

pub mod digest;
pub mod transaction;
