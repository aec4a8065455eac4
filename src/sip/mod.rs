//! SIP messages (RFC 3261 §7, §20, §25): bounded zero-copy parser, printer, URIs,
//! typed header access and transport framing. No tokio, no clock, no sockets.
//!
//! Entry points:
//! - [`parse`] / [`parse_with`]: one datagram (or buffer) → owned [`Message`] or a typed
//!   [`ParseError`] whose [`ParseError::status_code`] is the stateless answer (400, 413,
//!   505, 513). [`is_response_start`] says whether to answer or discard.
//! - [`parse_head_with`] / [`DroppedBody`]: the header section of a request whose body
//!   was truncated or too large, so an emergency INVITE is still served.
//! - [`framing::StreamDecoder`]: TCP/TLS byte stream → messages (Content-Length framing).
//! - [`Message`]: raw header access by name (case-insensitive, compact forms) and typed
//!   accessors (`top_via`, `from`, `to`, `cseq`, `contacts`, `routes`, …).
//! - [`MessageBuilder`]: new requests, responses to a request (§8.2.6), CANCEL, ACK.
//! - [`validate::validate_request`]: the §8.2 checks above the parser (416, 400, 483…).
//! - [`lenient::repair_request_datagram`]: a copy of a request datagram whose framing
//!   the parser accepts (bad Content-Length, malformed lines, too many fields, no empty
//!   line dropped or added), so an emergency INVITE over UDP is still served.
//! - [`peek::peek_invite`]: an INVITE's Request-URI and priority headers without a parse
//!   (to take emergency INVITEs first from the inbound queue).

mod build;
mod error;
mod fast;
pub mod framing;
pub mod header;
pub mod lenient;
mod limits;
mod message;
mod parse;
pub mod peek;
mod print;
pub(crate) mod scan;
pub mod uri;
pub mod validate;

pub mod digest;
pub mod transaction;

pub use build::{is_valid_tag, token_from_entropy, BuildError, MessageBuilder};
pub use error::{is_response_start, ParseError};
pub use header::{HeaderError, HeaderName};
pub use limits::{Limits, MAX_BODY_BYTES, MAX_HEADERS, MAX_LINE_BYTES, MAX_MESSAGE_BYTES};
pub use message::{HeaderField, Message, Method};
pub use parse::{header_section_len, parse, parse_head_with, parse_with, DroppedBody};
pub use scan::{unquote, CommaSplit, Param, ParamIter, Params};
pub use uri::{Host, Scheme, Uri};
