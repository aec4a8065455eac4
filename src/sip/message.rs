//! The owned SIP message (RFC 3261 §7): start line, header fields in order, body.
//!
//! A [`Message`] owns one UTF-8 string holding the start line and the header section
//! (folded lines already joined with spaces, RFC 3261 §7.3.1) plus the body octets, and
//! a vector of byte ranges: one entry per header field with its classified
//! [`HeaderName`]. Nothing else is allocated per header. Typed values (Via, From, …) are
//! parsed on access from those ranges and borrow from the message. It is `Send + Sync +
//! Clone`, so it can sit in a transaction or cross a channel.

use super::header::{
    CSeq, Contact, ContentType, GeolocationRouting, HeaderError, HeaderName, NameAddr, Priority,
    ResourcePriority, Via,
};
use super::scan::{is_token, parse_bounded_u64, CommaSplit};
use super::uri::Uri;

/// A byte range inside [`Message`]'s head string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Span {
    pub(crate) fn new(start: usize, end: usize) -> Span {
        // Limits keep messages far below 4 GiB; saturate rather than wrap.
        Span {
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end).unwrap_or(u32::MAX),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Start {
    Request {
        method: Span,
        uri: Span,
        version: Span,
    },
    Response {
        version: Span,
        code: u16,
        reason: Span,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) name: HeaderName,
    pub(crate) name_span: Span,
    pub(crate) value_span: Span,
}

/// A SIP request method (RFC 3261 §7.1, case-sensitive) including the extension
/// methods of RFC 3262 (PRACK), RFC 6665 (SUBSCRIBE/NOTIFY), RFC 3903, RFC 6086,
/// RFC 3515, RFC 3428 and RFC 3311.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method<'a> {
    /// INVITE
    Invite,
    /// ACK
    Ack,
    /// BYE
    Bye,
    /// CANCEL
    Cancel,
    /// OPTIONS
    Options,
    /// REGISTER
    Register,
    /// PRACK
    Prack,
    /// SUBSCRIBE
    Subscribe,
    /// NOTIFY
    Notify,
    /// PUBLISH
    Publish,
    /// INFO
    Info,
    /// REFER
    Refer,
    /// MESSAGE
    Message,
    /// UPDATE
    Update,
    /// Any other token.
    Extension(&'a str),
}

impl<'a> Method<'a> {
    /// Classifies a method token (case-sensitive, RFC 3261 §7.1).
    pub fn from_token(t: &'a str) -> Method<'a> {
        match t {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "REGISTER" => Method::Register,
            "PRACK" => Method::Prack,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "PUBLISH" => Method::Publish,
            "INFO" => Method::Info,
            "REFER" => Method::Refer,
            "MESSAGE" => Method::Message,
            "UPDATE" => Method::Update,
            other => Method::Extension(other),
        }
    }

    /// The method token.
    pub fn as_str(&self) -> &'a str {
        match *self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Register => "REGISTER",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Publish => "PUBLISH",
            Method::Info => "INFO",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Update => "UPDATE",
            Method::Extension(t) => t,
        }
    }
}

impl std::fmt::Display for Method<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One header field as received: the name as spelled on the wire, its classification
/// and the value (trimmed, folding replaced by spaces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderField<'a> {
    /// Classified name (compact forms resolved).
    pub name: HeaderName,
    /// Name as received, e.g. `v` or `MaX-fOrWaRdS`.
    pub raw_name: &'a str,
    /// Value.
    pub value: &'a str,
}

/// An owned, parsed SIP request or response. Build one with [`super::parse`], the
/// stream decoder in [`super::framing`] or a [`super::MessageBuilder`].
#[derive(Debug, Clone)]
pub struct Message {
    pub(crate) head: Box<str>,
    pub(crate) start: Start,
    pub(crate) fields: Vec<Field>,
    pub(crate) body: Vec<u8>,
}

impl PartialEq for Message {
    /// Messages are equal when start line, header fields (names as spelled, values) in
    /// order, and body are equal; insignificant LWS and folding are not compared.
    fn eq(&self, other: &Message) -> bool {
        self.start_line() == other.start_line()
            && self.body == other.body
            && self.fields.len() == other.fields.len()
            && self
                .fields()
                .zip(other.fields())
                .all(|(a, b)| a.raw_name == b.raw_name && a.value == b.value)
    }
}

impl Eq for Message {}

impl Message {
    pub(crate) fn span(&self, s: Span) -> &str {
        self.head
            .get(s.start as usize..s.end as usize)
            .unwrap_or("")
    }

    /// True for a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, Start::Request { .. })
    }

    /// True for a response.
    pub fn is_response(&self) -> bool {
        !self.is_request()
    }

    /// The start line without CRLF (e.g. `INVITE sip:999@example.net SIP/2.0`).
    pub fn start_line(&self) -> &str {
        let end = match self.start {
            Start::Request { version, .. } => version.end,
            Start::Response { reason, .. } => reason.end,
        };
        self.head.get(..end as usize).unwrap_or("")
    }

    /// Request method (requests only).
    pub fn method(&self) -> Option<Method<'_>> {
        match self.start {
            Start::Request { method, .. } => Some(Method::from_token(self.span(method))),
            Start::Response { .. } => None,
        }
    }

    /// Request-URI text (requests only).
    pub fn request_uri_str(&self) -> Option<&str> {
        match self.start {
            Start::Request { uri, .. } => Some(self.span(uri)),
            Start::Response { .. } => None,
        }
    }

    /// Parsed Request-URI (requests only; validated when the message was parsed).
    pub fn request_uri(&self) -> Option<Uri<'_>> {
        Uri::parse(self.request_uri_str()?).ok()
    }

    /// Status code (responses only), 100–699.
    pub fn status_code(&self) -> Option<u16> {
        match self.start {
            Start::Response { code, .. } => Some(code),
            Start::Request { .. } => None,
        }
    }

    /// Reason phrase (responses only); may be empty or UTF-8 (RFC 4475 §3.1.1.12–13).
    pub fn reason_phrase(&self) -> Option<&str> {
        match self.start {
            Start::Response { reason, .. } => Some(self.span(reason)),
            Start::Request { .. } => None,
        }
    }

    /// SIP-Version as received (`SIP/2.0`).
    pub fn version(&self) -> &str {
        match self.start {
            Start::Request { version, .. } | Start::Response { version, .. } => self.span(version),
        }
    }

    /// All header fields in order.
    pub fn fields(&self) -> impl Iterator<Item = HeaderField<'_>> + '_ {
        self.fields.iter().map(move |f| HeaderField {
            name: f.name,
            raw_name: self.span(f.name_span),
            value: self.span(f.value_span),
        })
    }

    /// Number of header fields.
    pub fn field_count(&self) -> usize {
        self.fields.len()
    }

    /// Values of every field named `name` (case-insensitive, compact forms included),
    /// one per header line, in order.
    pub fn header_all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        let id = HeaderName::parse(name);
        self.fields
            .iter()
            .filter(move |f| {
                f.name == id
                    && (id != HeaderName::Other
                        || self.span(f.name_span).eq_ignore_ascii_case(name))
            })
            .map(move |f| self.span(f.value_span))
    }

    /// Value of the first field named `name` (case-insensitive, compact forms included).
    pub fn header<'s>(&'s self, name: &str) -> Option<&'s str> {
        let id = HeaderName::parse(name);
        self.fields
            .iter()
            .find(|f| {
                f.name == id
                    && (id != HeaderName::Other
                        || self.span(f.name_span).eq_ignore_ascii_case(name))
            })
            .map(|f| self.span(f.value_span))
    }

    /// Values of every field with a known name, one per header line, in order.
    pub fn get_all(&self, name: HeaderName) -> impl Iterator<Item = &str> + '_ {
        self.fields
            .iter()
            .filter(move |f| f.name == name)
            .map(move |f| self.span(f.value_span))
    }

    /// Value of the first field with a known name.
    pub fn get(&self, name: HeaderName) -> Option<&str> {
        self.get_all(name).next()
    }

    /// Every value of a list header (RFC 3261 §7.3.1): each header line split on commas
    /// outside quotes and `<>`, empty elements skipped, in order. For a non-list
    /// header each line is one value.
    pub fn values(&self, name: HeaderName) -> impl Iterator<Item = &str> + '_ {
        let split = name.is_list();
        self.get_all(name).flat_map(move |v| {
            let mut it = CommaSplit::new(v);
            let mut whole = Some(v);
            std::iter::from_fn(move || if split { it.next() } else { whole.take() })
                .filter(|x| !x.is_empty())
        })
    }

    /// The body octets (exactly Content-Length octets when it was given).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    // === typed accessors for headers validated at parse time ===

    /// Via values top to bottom (RFC 3261 §20.42). Only the topmost is validated at
    /// parse time; lower values that do not parse are skipped here (they are still
    /// copied into responses as received, from [`Message::values`]).
    pub fn vias(&self) -> impl Iterator<Item = Via<'_>> + '_ {
        self.values(HeaderName::Via)
            .filter_map(|v| Via::parse(v).ok())
    }

    /// The topmost Via (the one a response is routed by, RFC 3261 §18.2.2).
    pub fn top_via(&self) -> Option<Via<'_>> {
        self.vias().next()
    }

    /// The From address (RFC 3261 §20.20), validated at parse time.
    pub fn from(&self) -> Option<NameAddr<'_>> {
        NameAddr::parse(self.get(HeaderName::From)?).ok()
    }

    /// The To address (RFC 3261 §20.39), validated at parse time.
    pub fn to(&self) -> Option<NameAddr<'_>> {
        NameAddr::parse(self.get(HeaderName::To)?).ok()
    }

    /// Call-ID (RFC 3261 §20.8).
    pub fn call_id(&self) -> Option<&str> {
        self.get(HeaderName::CallId)
    }

    /// CSeq (RFC 3261 §20.16), validated at parse time.
    pub fn cseq(&self) -> Option<CSeq<'_>> {
        CSeq::parse(self.get(HeaderName::CSeq)?).ok()
    }

    /// Content-Length value (RFC 3261 §20.14), validated at parse time.
    pub fn content_length(&self) -> Option<usize> {
        parse_bounded_u64(self.get(HeaderName::ContentLength)?, u64::from(u32::MAX))
            .and_then(|v| usize::try_from(v).ok())
    }

    /// Contact values in order (RFC 3261 §20.10), validated at parse time.
    pub fn contacts(&self) -> impl Iterator<Item = Contact<'_>> + '_ {
        self.values(HeaderName::Contact)
            .filter_map(|v| Contact::parse(v).ok())
    }

    // === typed accessors parsed lazily (errors returned, not raised at parse time) ===

    fn typed<'s, T>(
        &'s self,
        name: HeaderName,
        f: impl Fn(&'s str) -> Result<T, &'static str>,
    ) -> Result<Option<T>, HeaderError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => f(v).map(Some).map_err(|fault| HeaderError { name, fault }),
        }
    }

    fn typed_list<'s, T: 's>(
        &'s self,
        name: HeaderName,
        f: impl Fn(&'s str) -> Result<T, &'static str> + 's,
    ) -> impl Iterator<Item = Result<T, HeaderError>> + 's {
        self.values(name)
            .map(move |v| f(v).map_err(|fault| HeaderError { name, fault }))
    }

    /// Max-Forwards (RFC 3261 §20.22): 0–255; larger values are an error (RFC 4475
    /// §3.1.2.4 allows treating the field as absent instead, which the caller may do).
    pub fn max_forwards(&self) -> Result<Option<u8>, HeaderError> {
        self.typed(HeaderName::MaxForwards, |v| {
            parse_bounded_u64(v, 255)
                .and_then(|n| u8::try_from(n).ok())
                .ok_or("not 1*DIGIT in 0..=255")
        })
    }

    /// Expires in seconds (RFC 3261 §20.19): 0..=2^32-1. An overlarge value is an
    /// error; RFC 4475 §3.1.2.4 lets the caller use its default instead.
    pub fn expires_s(&self) -> Result<Option<u32>, HeaderError> {
        self.typed(HeaderName::Expires, |v| {
            parse_bounded_u64(v, u64::from(u32::MAX))
                .and_then(|n| u32::try_from(n).ok())
                .ok_or("not delta-seconds in 0..=2^32-1")
        })
    }

    /// Content-Type (RFC 3261 §20.15) with parameters such as a quoted `boundary`.
    pub fn content_type(&self) -> Result<Option<ContentType<'_>>, HeaderError> {
        self.typed(HeaderName::ContentType, ContentType::parse)
    }

    /// Route values in order (RFC 3261 §20.34).
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, HeaderError>> + '_ {
        self.typed_list(HeaderName::Route, NameAddr::parse)
    }

    /// Record-Route values in order (RFC 3261 §20.30).
    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, HeaderError>> + '_ {
        self.typed_list(HeaderName::RecordRoute, NameAddr::parse)
    }

    /// P-Asserted-Identity values (RFC 3325 §9.1): at most one sip/sips and one tel.
    pub fn p_asserted_identities(
        &self,
    ) -> impl Iterator<Item = Result<NameAddr<'_>, HeaderError>> + '_ {
        self.typed_list(HeaderName::PAssertedIdentity, NameAddr::parse)
    }

    /// Call-Info values (RFC 3261 §20.9); RFC 7852 additional data uses
    /// `purpose=EmergencyCallData.*` (see [`NameAddr::param`]).
    pub fn call_infos(&self) -> impl Iterator<Item = Result<NameAddr<'_>, HeaderError>> + '_ {
        self.typed_list(HeaderName::CallInfo, NameAddr::parse)
    }

    /// History-Info entries (RFC 7044 §4.1) with their `index` parameters.
    pub fn history_infos(&self) -> impl Iterator<Item = Result<NameAddr<'_>, HeaderError>> + '_ {
        self.typed_list(HeaderName::HistoryInfo, NameAddr::parse)
    }

    /// Geolocation values (RFC 6442 §4.1): `<cid:…>` by value or `<https:…>` by reference.
    pub fn geolocations(&self) -> impl Iterator<Item = Result<NameAddr<'_>, HeaderError>> + '_ {
        self.typed_list(HeaderName::Geolocation, NameAddr::parse)
    }

    /// Geolocation-Routing (RFC 6442 §4.2).
    pub fn geolocation_routing(&self) -> Result<Option<GeolocationRouting<'_>>, HeaderError> {
        self.typed(HeaderName::GeolocationRouting, GeolocationRouting::parse)
    }

    /// Resource-Priority values (RFC 4412 §3.1), e.g. `esnet.0`.
    pub fn resource_priorities(
        &self,
    ) -> impl Iterator<Item = Result<ResourcePriority<'_>, HeaderError>> + '_ {
        self.typed_list(HeaderName::ResourcePriority, ResourcePriority::parse)
    }

    /// Priority (RFC 3261 §20.26).
    pub fn priority(&self) -> Result<Option<Priority<'_>>, HeaderError> {
        self.typed(HeaderName::Priority, Priority::parse)
    }

    fn option_tags(
        &self,
        name: HeaderName,
    ) -> impl Iterator<Item = Result<&str, HeaderError>> + '_ {
        self.typed_list(name, |v| {
            if is_token(v) {
                Ok(v)
            } else {
                Err("option-tag is not a token")
            }
        })
    }

    /// Require option tags (RFC 3261 §20.32).
    pub fn require(&self) -> impl Iterator<Item = Result<&str, HeaderError>> + '_ {
        self.option_tags(HeaderName::Require)
    }

    /// Proxy-Require option tags (RFC 3261 §20.29).
    pub fn proxy_require(&self) -> impl Iterator<Item = Result<&str, HeaderError>> + '_ {
        self.option_tags(HeaderName::ProxyRequire)
    }

    /// Supported option tags (RFC 3261 §20.37).
    pub fn supported(&self) -> impl Iterator<Item = Result<&str, HeaderError>> + '_ {
        self.option_tags(HeaderName::Supported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_is_owned_and_sendable() {
        fn assert_send_sync_static<T: Send + Sync + 'static>() {}
        assert_send_sync_static::<Message>();
        let m = crate::sip::parse(b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x1\r\n\r\n").unwrap();
        // Owned: the message outlives the input buffer.
        let boxed: Box<dyn std::any::Any + Send + Sync> = Box::new(m);
        let m = boxed.downcast::<Message>().unwrap();
        assert_eq!(m.call_id(), Some("x1"));
    }

    #[test]
    fn lookup_by_name_case_and_compact() {
        let m = crate::sip::parse(
            b"OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1, SIP/2.0/TCP g\r\nVIA: SIP/2.0/UDP k\r\nX-Custom: 1\r\nx-custom: 2\r\n\r\n",
        )
        .unwrap();
        assert_eq!(m.header_all("Via").count(), 2);
        assert_eq!(m.values(HeaderName::Via).count(), 3);
        assert_eq!(
            m.vias().map(|v| v.transport).collect::<Vec<_>>(),
            vec!["UDP", "TCP", "UDP"]
        );
        assert_eq!(m.header_all("X-CUSTOM").collect::<Vec<_>>(), vec!["1", "2"]);
        assert_eq!(m.header("x-missing"), None);
        let raw: Vec<_> = m.fields().map(|f| f.raw_name).collect();
        assert_eq!(raw, vec!["v", "VIA", "X-Custom", "x-custom"]);
    }
}
