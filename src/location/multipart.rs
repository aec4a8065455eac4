//! `multipart/mixed` message bodies (RFC 2046 §5.1) as carried in SIP (RFC 3261 §7.4,
//! RFC 5621): the Content-Type value is parsed for its boundary, the body is split at the
//! boundary delimiters (preamble and epilogue ignored), each part's headers are read, and
//! `cid:` URIs (RFC 2392) are matched against the parts' `Content-ID`.
//!
//! Zero-copy: parts borrow the body. Bounded: body size, part count and per-part header
//! count are capped ([`MultipartLimits`]). Lenient where real carriers are sloppy: bare LF
//! line ends are accepted, and when the declared boundary never occurs but the body
//! plainly starts with a delimiter line, that boundary is used and the mismatch reported
//! ([`Multipart::boundary_mismatch`]).

use std::borrow::Cow;
use std::sync::LazyLock;

use memchr::memmem;

use super::split_once_byte;

/// Limits for one multipart body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultipartLimits {
    /// Largest accepted body, in bytes.
    pub max_body_bytes: usize,
    /// Most parts accepted.
    pub max_parts: usize,
    /// Most header lines in one part.
    pub max_part_headers: usize,
}

impl Default for MultipartLimits {
    /// 1 MiB body, 32 parts, 32 header lines per part.
    fn default() -> Self {
        MultipartLimits {
            max_body_bytes: 1024 * 1024,
            max_parts: 32,
            max_part_headers: 32,
        }
    }
}

/// Why a multipart body could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultipartError {
    /// The Content-Type is not `multipart/*`.
    #[error("content type {0:?} is not multipart")]
    NotMultipart(String),
    /// No `boundary` parameter, or one outside RFC 2046's 1–70 characters.
    #[error("missing or invalid boundary parameter")]
    BadBoundary,
    /// Body larger than [`MultipartLimits::max_body_bytes`].
    #[error("multipart body of {size} bytes exceeds the {limit}-byte limit")]
    TooLarge {
        /// Body size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A part with more header lines than [`MultipartLimits::max_part_headers`].
    #[error("body part {part} has more than {limit} header lines")]
    TooManyHeaders {
        /// Zero-based part index.
        part: usize,
        /// The limit.
        limit: usize,
    },
    /// The boundary delimiter never occurs in the body.
    #[error("boundary delimiter not found in body")]
    NoDelimiter,
    /// A part's header block is not terminated by an empty line, or a header line has no
    /// colon.
    #[error("body part {0} has malformed headers")]
    BadPartHeaders(usize),
}

/// A parsed media type: `type/subtype` as sent (compare case-insensitively, RFC 2045
/// §5.1), parameters with unquoted values. Borrows the header value; no allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType<'a> {
    /// Top-level type (`multipart`, `application`).
    pub type_: &'a str,
    /// Subtype (`mixed`, `pidf+xml`).
    pub subtype: &'a str,
    /// The text after the first `;` outside quotes (parameters, read on demand by
    /// [`MediaType::params`]: no allocation).
    params_raw: &'a str,
}

impl<'a> MediaType<'a> {
    /// Parses a Content-Type value (RFC 2045 §5.1); `None` when there is no `/`.
    pub fn parse(value: &'a str) -> Option<MediaType<'a>> {
        let mut it = split_params(value);
        let essence = it.next()?;
        // What `split_params` yields after the first piece (`None` when there is none).
        let params_raw = value.get(essence.len() + 1..).unwrap_or("");
        let (t, s) = split_once_byte(essence.trim(), b'/')?;
        let (t, s) = (t.trim(), s.trim());
        if t.is_empty() || s.is_empty() {
            return None;
        }
        Some(MediaType {
            type_: t,
            subtype: s,
            params_raw,
        })
    }

    /// Parameters in order (at most 16 are read): names as sent, values without
    /// quotes; a parameter without `=` is skipped.
    pub fn params(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        let raw = self.params_raw;
        // Without a `;` after the essence there are no parameters at all.
        let mut it = split_params(raw);
        let none = raw.is_empty();
        std::iter::from_fn(move || if none { None } else { it.next() })
            .take(16)
            .filter_map(|p| {
                let (n, v) = split_once_byte(p, b'=')?;
                let v = v.trim();
                let v = v
                    .strip_prefix('"')
                    .and_then(|x| x.strip_suffix('"'))
                    .unwrap_or(v);
                Some((n.trim(), v))
            })
    }

    /// Value of the parameter `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&'a str> {
        self.params()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// `true` when this is `type_/subtype` (case-insensitive).
    pub fn is(&self, type_: &str, subtype: &str) -> bool {
        self.type_.eq_ignore_ascii_case(type_) && self.subtype.eq_ignore_ascii_case(subtype)
    }

    /// `true` when the top-level type is `type_` (case-insensitive).
    pub fn is_type(&self, type_: &str) -> bool {
        self.type_.eq_ignore_ascii_case(type_)
    }

    /// `true` for `application/EmergencyCallData.*` (RFC 7852 §11.1), case-insensitive.
    pub fn is_emergency_call_data(&self) -> bool {
        const P: &str = "emergencycalldata.";
        self.is_type("application")
            && self
                .subtype
                .get(..P.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(P))
    }
}

/// Splits on `;` outside double quotes.
fn split_params(s: &str) -> impl Iterator<Item = &str> {
    let mut in_quote = false;
    let mut start = 0;
    let mut done = false;
    let bytes = s.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        while let Some(&b) = bytes.get(i) {
            i += 1;
            match b {
                b'"' => in_quote = !in_quote,
                b';' if !in_quote => {
                    let piece = s.get(start..i - 1).unwrap_or("");
                    start = i;
                    return Some(piece);
                }
                _ => {}
            }
        }
        done = true;
        Some(s.get(start..).unwrap_or(""))
    })
}

/// One body part: its header lines and content, borrowed from the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    /// Header lines as `(name, value)`, values trimmed (folded lines stay joined as sent).
    pub headers: Vec<(&'a str, &'a str)>,
    /// The part's content, without the CRLF that precedes the next delimiter.
    pub body: &'a [u8],
}

impl<'a> Part<'a> {
    /// First header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The part's Content-Type value; RFC 2046 §5.1 default is `text/plain`.
    pub fn content_type(&self) -> &'a str {
        self.header("Content-Type").unwrap_or("text/plain")
    }

    /// The part's media type, parsed.
    pub fn media_type(&self) -> Option<MediaType<'a>> {
        MediaType::parse(self.content_type())
    }

    /// The Content-ID without angle brackets (RFC 2045 §7), if present.
    pub fn content_id(&self) -> Option<&'a str> {
        let v = self.header("Content-ID")?.trim();
        let v = v.strip_prefix('<').unwrap_or(v);
        Some(v.strip_suffix('>').unwrap_or(v).trim())
    }

    /// The body as UTF-8 text, if it is.
    pub fn text(&self) -> Option<&'a str> {
        std::str::from_utf8(self.body).ok()
    }
}

/// A split multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multipart<'a> {
    /// Parts in body order.
    pub parts: Vec<Part<'a>>,
    /// `true` when the declared boundary did not occur and the delimiter of the body's
    /// first line was used instead.
    pub boundary_mismatch: bool,
    /// `true` when the close delimiter (`--boundary--`) was missing (truncated body).
    pub unterminated: bool,
    /// `true` when the body had more than [`MultipartLimits::max_parts`] parts: `parts`
    /// holds the first `max_parts` and the rest were not examined (neither parsed nor
    /// searched for a Content-ID).
    pub parts_ignored: bool,
}

impl<'a> Multipart<'a> {
    /// Splits `body` according to the `content_type` value (`multipart/mixed;
    /// boundary=…`, quoted or not) under `limits` (RFC 2046 §5.1.1).
    ///
    /// # Errors
    /// Any [`MultipartError`].
    pub fn parse(
        content_type: &str,
        body: &'a [u8],
        limits: &MultipartLimits,
    ) -> Result<Multipart<'a>, MultipartError> {
        let mt = MediaType::parse(content_type)
            .ok_or_else(|| MultipartError::NotMultipart(truncate(content_type)))?;
        if !mt.is_type("multipart") {
            return Err(MultipartError::NotMultipart(truncate(content_type)));
        }
        Self::parse_typed(&mt, body, limits)
    }

    /// [`Multipart::parse`] for a Content-Type already parsed into `mt`.
    ///
    /// # Errors
    /// Any [`MultipartError`].
    pub fn parse_typed(
        mt: &MediaType<'_>,
        body: &'a [u8],
        limits: &MultipartLimits,
    ) -> Result<Multipart<'a>, MultipartError> {
        if !mt.is_type("multipart") {
            return Err(MultipartError::NotMultipart(truncate(&format!(
                "{}/{}",
                mt.type_, mt.subtype
            ))));
        }
        if body.len() > limits.max_body_bytes {
            return Err(MultipartError::TooLarge {
                size: body.len(),
                limit: limits.max_body_bytes,
            });
        }
        let boundary = mt.param("boundary").ok_or(MultipartError::BadBoundary)?;
        if boundary.is_empty() || boundary.len() > 70 {
            return Err(MultipartError::BadBoundary);
        }
        match split(body, boundary.as_bytes(), limits) {
            Err(MultipartError::NoDelimiter) => {
                let inferred = first_line_boundary(body).ok_or(MultipartError::NoDelimiter)?;
                let mut mp = split(body, inferred, limits)?;
                mp.boundary_mismatch = true;
                Ok(mp)
            }
            other => other,
        }
    }

    /// The part whose Content-ID matches the `cid:` URI `uri` (RFC 2392 §2: `cid:` prefix
    /// case-insensitive, %-escapes decoded, optional angle brackets tolerated).
    pub fn part_by_cid(&self, uri: &str) -> Option<&Part<'a>> {
        let wanted = cid_of(uri)?;
        self.parts
            .iter()
            .find(|p| p.content_id().is_some_and(|c| c == wanted.as_ref()))
    }
}

/// The Content-ID a `cid:` URI names: scheme removed, `<>` removed, %-decoded
/// (borrowed from `uri` when there is no `%` escape). `None` for another scheme or
/// undecodable escapes.
pub fn cid_of(uri: &str) -> Option<Cow<'_, str>> {
    let uri = uri.trim();
    let uri = uri.strip_prefix('<').unwrap_or(uri);
    let uri = uri.strip_suffix('>').unwrap_or(uri);
    let (scheme, rest) = split_once_byte(uri, b':')?;
    if !scheme.eq_ignore_ascii_case("cid") {
        return None;
    }
    if !rest.as_bytes().contains(&b'%') {
        return Some(Cow::Borrowed(rest));
    }
    percent_decode(rest).map(Cow::Owned)
}

/// Decodes `%XX` escapes; `None` for a bad escape or non-UTF-8 result.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let (&h, &l) = (b.get(i + 1)?, b.get(i + 2)?);
            let hi = char::from(h).to_digit(16)?;
            let lo = char::from(l).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// The boundary of a body whose first non-empty line is `--X`.
fn first_line_boundary(body: &[u8]) -> Option<&[u8]> {
    let start = body.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let rest = body.get(start..)?;
    let line_end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
    let line = rest.get(..line_end)?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let b = line.strip_prefix(b"--")?;
    let b = trim_ascii_end(b);
    if b.is_empty() || b.len() > 70 || b.ends_with(b"--") {
        None
    } else {
        Some(b)
    }
}

fn trim_ascii_end(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .rposition(|c| !matches!(c, b' ' | b'\t'))
        .map_or(0, |p| p + 1);
    b.get(..end).unwrap_or_default()
}

/// Searcher for `\n--`, the start of every delimiter line after the first (RFC 2046
/// §5.1.1: a delimiter is CRLF `--` boundary; bare LF accepted).
static LINE_DASHES: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"\n--"));

/// Finds each delimiter `--boundary` that starts the body or follows a line break.
fn split<'a>(
    body: &'a [u8],
    boundary: &[u8],
    limits: &MultipartLimits,
) -> Result<Multipart<'a>, MultipartError> {
    // `--` + boundary (at most 70 octets, RFC 2046 §5.1.1; longer is refused by callers)
    // on the stack.
    if boundary.len() > 70 {
        return Err(MultipartError::BadBoundary);
    }
    let mut buf = [0u8; 72];
    let delim_len = boundary.len() + 2;
    let delim = buf.get_mut(..delim_len).unwrap_or_default();
    let (dashes, rest) = delim.split_at_mut(2);
    dashes.copy_from_slice(b"--");
    rest.copy_from_slice(boundary.get(..rest.len()).unwrap_or_default());
    let delim: &[u8] = delim;
    // Positions of delimiters at line starts: the body's start, or a `\n--` (one
    // searcher for that fixed needle, built once) followed by the rest of the delimiter.
    // Far cheaper than building a searcher for `--boundary` per body.
    let find_from = |from: usize| -> Option<usize> {
        if from == 0 && body.starts_with(delim) {
            return Some(0);
        }
        // A `\n` just before `from` still puts a delimiter at `from`.
        let mut at = from.saturating_sub(1);
        loop {
            let nl = LINE_DASHES.find(body.get(at..)?)? + at;
            let pos = nl + 1;
            if pos >= from && body.get(pos..).is_some_and(|r| r.starts_with(delim)) {
                return Some(pos);
            }
            at = pos;
        }
    };

    let mut pos = find_from(0).ok_or(MultipartError::NoDelimiter)?;
    let mut parts = Vec::with_capacity(4);
    let mut unterminated = true;
    let mut parts_ignored = false;
    loop {
        let after = pos + delim.len();
        let rest = body.get(after..).unwrap_or_default();
        if rest.starts_with(b"--") {
            unterminated = false;
            break; // close delimiter; the rest is epilogue
        }
        // Transport padding (LWSP) then the line break ends the delimiter line.
        let line_end = match memchr::memchr(b'\n', rest) {
            Some(e) => after + e + 1,
            None => break, // delimiter at end of a truncated body
        };
        let next = find_from(line_end);
        let content_end = match next {
            Some(n) => strip_line_break(body, line_end, n),
            None => body.len(),
        };
        if parts.len() == limits.max_parts {
            // Keep what fits; the caller reports the rest as not examined.
            parts_ignored = true;
            unterminated = false;
            break;
        }
        let idx = parts.len();
        let raw = body.get(line_end..content_end).unwrap_or_default();
        parts.push(parse_part(raw, idx, limits)?);
        match next {
            Some(n) => pos = n,
            None => break,
        }
    }
    Ok(Multipart {
        parts,
        boundary_mismatch: false,
        unterminated,
        parts_ignored,
    })
}

/// End of a part's content: the CRLF (or LF) before the next delimiter belongs to it.
fn strip_line_break(body: &[u8], start: usize, delim_pos: usize) -> usize {
    let mut end = delim_pos;
    if end > start && body.get(end - 1) == Some(&b'\n') {
        end -= 1;
        if end > start && body.get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
    }
    end
}

fn parse_part<'a>(
    raw: &'a [u8],
    idx: usize,
    limits: &MultipartLimits,
) -> Result<Part<'a>, MultipartError> {
    let mut headers: Vec<(&'a str, &'a str)> = Vec::with_capacity(4);
    let bad = || MultipartError::BadPartHeaders(idx);
    let mut at = 0;
    let mut last_start: Option<usize> = None;
    loop {
        let Some(tail) = raw.get(at..).filter(|t| !t.is_empty()) else {
            // Headers without the empty line and no content: a header-only part.
            return Ok(Part {
                headers,
                body: raw.get(raw.len()..).unwrap_or_default(),
            });
        };
        let rel_end = memchr::memchr(b'\n', tail);
        let line_len = rel_end.unwrap_or(tail.len());
        let next = rel_end.map_or(raw.len(), |e| at + e + 1);
        let line = tail.get(..line_len).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Ok(Part {
                headers,
                body: raw.get(next..).unwrap_or_default(),
            });
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            // Folded continuation: re-read the previous header through this line.
            let hs = last_start.ok_or_else(bad)?;
            let joined = raw
                .get(hs..at + line.len())
                .and_then(|b| std::str::from_utf8(b).ok())
                .ok_or_else(bad)?;
            let (name, value) = split_once_byte(joined, b':').ok_or_else(bad)?;
            if let Some(last) = headers.last_mut() {
                *last = (name.trim(), value.trim());
            }
            at = next;
            continue;
        }
        let line = std::str::from_utf8(line).map_err(|_| bad())?;
        let (name, value) = split_once_byte(line, b':').ok_or_else(bad)?;
        if headers.len() == limits.max_part_headers {
            return Err(MultipartError::TooManyHeaders {
                part: idx,
                limit: limits.max_part_headers,
            });
        }
        headers.push((name.trim(), value.trim()));
        last_start = Some(at);
        at = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"preamble text\r\n--b1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n\r\n--b1 \t\r\nContent-Type: application/pidf+xml\r\nContent-ID: <alice%40x@example.com>\r\n\r\n<presence/>\r\n--b1--\r\nepilogue";

    #[test]
    fn splits_parts_with_preamble_and_epilogue() {
        let mp = Multipart::parse(
            "multipart/mixed; boundary=\"b1\"",
            BODY,
            &MultipartLimits::default(),
        )
        .unwrap();
        assert_eq!(mp.parts.len(), 2);
        assert_eq!(mp.parts[0].content_type(), "application/sdp");
        assert_eq!(mp.parts[0].body, b"v=0\r\n");
        assert_eq!(mp.parts[1].body, b"<presence/>");
        assert_eq!(mp.parts[1].content_id(), Some("alice%40x@example.com"));
        assert!(!mp.unterminated);
        assert!(!mp.boundary_mismatch);
    }

    #[test]
    fn cid_matching_decodes_percent() {
        let body = b"--b\r\nContent-ID: <alice@x.example.com>\r\n\r\nX\r\n--b--";
        let mp = Multipart::parse(
            "multipart/mixed;boundary=b",
            body,
            &MultipartLimits::default(),
        )
        .unwrap();
        assert!(mp.part_by_cid("cid:alice%40x.example.com").is_some());
        assert!(mp.part_by_cid("CID:alice@x.example.com").is_some());
        assert!(mp.part_by_cid("<cid:alice@x.example.com>").is_some());
        assert!(mp.part_by_cid("cid:bob@x.example.com").is_none());
        assert!(mp.part_by_cid("https://x").is_none());
    }

    #[test]
    fn lf_only_and_folded_headers() {
        let body = b"--b\nContent-Type: text/plain;\n charset=utf-8\n\nhi\n--b--\n";
        let mp = Multipart::parse(
            "multipart/mixed;boundary=b",
            body,
            &MultipartLimits::default(),
        )
        .unwrap();
        assert_eq!(mp.parts[0].body, b"hi");
        assert!(mp.parts[0].content_type().ends_with("charset=utf-8"));
    }

    #[test]
    fn boundary_inside_content_not_at_line_start_is_ignored() {
        let body = b"--b\r\n\r\nx--b y\r\n--b--";
        let mp = Multipart::parse(
            "multipart/mixed;boundary=b",
            body,
            &MultipartLimits::default(),
        )
        .unwrap();
        assert_eq!(mp.parts.len(), 1);
        assert_eq!(mp.parts[0].body, b"x--b y");
    }

    #[test]
    fn mismatched_boundary_is_inferred() {
        let body = b"--real\r\nContent-Type: a/b\r\n\r\n1\r\n--real--\r\n";
        let mp = Multipart::parse(
            "multipart/mixed;boundary=declared",
            body,
            &MultipartLimits::default(),
        )
        .unwrap();
        assert!(mp.boundary_mismatch);
        assert_eq!(mp.parts[0].body, b"1");
    }

    #[test]
    fn truncated_body_keeps_what_arrived() {
        let body = b"--b\r\nContent-Type: a/b\r\n\r\n123\r\n--b\r\nContent-Type: c/d\r\n\r\n<pres";
        let mp = Multipart::parse(
            "multipart/mixed;boundary=b",
            body,
            &MultipartLimits::default(),
        )
        .unwrap();
        assert!(mp.unterminated);
        assert_eq!(mp.parts.len(), 2);
        assert_eq!(mp.parts[1].body, b"<pres");
    }

    #[test]
    fn errors_are_typed() {
        let lim = MultipartLimits {
            max_body_bytes: 100,
            max_parts: 1,
            max_part_headers: 1,
        };
        assert!(matches!(
            Multipart::parse("application/sdp", b"", &lim),
            Err(MultipartError::NotMultipart(_))
        ));
        assert_eq!(
            Multipart::parse("multipart/mixed", b"", &lim),
            Err(MultipartError::BadBoundary)
        );
        assert_eq!(
            Multipart::parse("multipart/mixed;boundary=b", b"nothing here", &lim),
            Err(MultipartError::NoDelimiter)
        );
        let mp = Multipart::parse(
            "multipart/mixed;boundary=b",
            b"--b\r\n\r\n1\r\n--b\r\n\r\n2\r\n--b--",
            &lim,
        )
        .unwrap();
        assert_eq!(mp.parts.len(), 1);
        assert_eq!(mp.parts[0].body, b"1");
        assert!(mp.parts_ignored && !mp.unterminated);
        assert_eq!(
            Multipart::parse(
                "multipart/mixed;boundary=b",
                b"--b\r\nA: 1\r\nB: 2\r\n\r\n1\r\n--b--",
                &lim
            ),
            Err(MultipartError::TooManyHeaders { part: 0, limit: 1 })
        );
        assert_eq!(
            Multipart::parse(
                "multipart/mixed;boundary=b",
                b"--b\r\nno colon\r\n\r\n--b--",
                &lim
            ),
            Err(MultipartError::BadPartHeaders(0))
        );
        assert!(matches!(
            Multipart::parse("multipart/mixed;boundary=b", &[b'x'; 101], &lim),
            Err(MultipartError::TooLarge {
                size: 101,
                limit: 100
            })
        ));
    }
}
