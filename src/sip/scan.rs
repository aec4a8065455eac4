//! Lexical helpers shared by the SIP parsers: token characters, linear white space,
//! quoted strings, comma-separated lists and `;name=value` parameter lists
//! (RFC 3261 §25.1 basic rules, §7.3.1 header field format).
//!
//! All helpers work on header values that the message parser has already unfolded
//! (every `CRLF SP` continuation replaced by spaces), so LWS here means SP / HTAB only.

/// Character-class table: RFC 3261 §25.1 `token` characters.
const TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    t
};

/// Character-class table: RFC 3261 §25.1 `paramchar` (unreserved, escaped,
/// `[]/:&+$`), plus `%`.
pub(crate) const URI_PARAM: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_'
                    | b'.'
                    | b'!'
                    | b'~'
                    | b'*'
                    | b'\''
                    | b'('
                    | b')'
                    | b'%'
                    | b'['
                    | b']'
                    | b'/'
                    | b':'
                    | b'&'
                    | b'+'
                    | b'$'
            );
        i += 1;
    }
    t
};

/// Character-class table: unquoted header-parameter value characters (token, host,
/// IPv6 reference, and other printable octets except separators).
const PARAM_VALUE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b > b' ' && b != 0x7f && !matches!(b, b'"' | b',' | b'<' | b'>' | b';');
        i += 1;
    }
    t
};

/// RFC 3261 §25.1 `token` character: alphanumerics and `-.!%*_+`'~`.
#[inline]
pub(crate) fn is_token_char(b: u8) -> bool {
    TOKEN[b as usize]
}

/// True when `s` is a non-empty RFC 3261 `token`.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// SP or HTAB.
#[inline]
pub(crate) fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Trims SP / HTAB on both sides.
#[inline]
pub(crate) fn trim_ws(s: &str) -> &str {
    let b = s.as_bytes();
    let mut start = 0;
    let mut end = b.len();
    while start < end && b.get(start).is_some_and(|&c| is_ws(c)) {
        start += 1;
    }
    while end > start && b.get(end - 1).is_some_and(|&c| is_ws(c)) {
        end -= 1;
    }
    s.get(start..end).unwrap_or("")
}

/// Index of `needle` in `b` (a short-string search; cheaper than memchr set-up for
/// the few dozen octets of a header element).
#[inline]
pub(crate) fn find_byte(b: &[u8], needle: u8) -> Option<usize> {
    b.iter().position(|&c| c == needle)
}

/// Advances `i` over SP / HTAB.
#[inline]
pub(crate) fn skip_ws(b: &[u8], i: &mut usize) {
    while b.get(*i).is_some_and(|&c| is_ws(c)) {
        *i += 1;
    }
}

/// Given `s` starting with `"`, returns the byte index just past the closing quote
/// (RFC 3261 §25.1 `quoted-string`, with `\` quoted-pairs), or `None` if unterminated.
pub(crate) fn quoted_end(s: &[u8]) -> Option<usize> {
    let mut i = 1;
    while i < s.len() {
        match s.get(i) {
            Some(b'\\') => i += 2,
            Some(b'"') => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Removes the quotes and quoted-pair backslashes of a quoted-string; returns the input
/// unchanged when it is not quoted.
pub fn unquote(s: &str) -> std::borrow::Cow<'_, str> {
    let inner = match s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(i) => i,
        None => return std::borrow::Cow::Borrowed(s),
    };
    if !inner.contains('\\') {
        return std::borrow::Cow::Borrowed(inner);
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Splits a header value on commas that are outside quoted strings and `<…>`
/// (RFC 3261 §7.3.1: several values of one header in one line). Yields each element
/// trimmed of LWS; empty elements are yielded too (typed parsers reject them).
#[derive(Debug, Clone)]
pub struct CommaSplit<'a> {
    rest: Option<&'a str>,
}

impl<'a> CommaSplit<'a> {
    /// Starts splitting `s`.
    pub fn new(s: &'a str) -> Self {
        CommaSplit { rest: Some(s) }
    }
}

impl<'a> Iterator for CommaSplit<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        let b = s.as_bytes();
        if memchr::memchr(b',', b).is_none() {
            self.rest = None;
            return Some(trim_ws(s));
        }
        let mut i = 0;
        let mut angle = 0usize;
        while i < b.len() {
            match b.get(i).copied() {
                Some(b'"') => match quoted_end(b.get(i..).unwrap_or_default()) {
                    Some(n) => i += n,
                    None => break, // unterminated: the rest is one element
                },
                Some(b'<') => {
                    angle += 1;
                    i += 1;
                }
                Some(b'>') => {
                    angle = angle.saturating_sub(1);
                    i += 1;
                }
                Some(b',') if angle == 0 => {
                    let (head, tail) = (s.get(..i).unwrap_or(""), s.get(i + 1..).unwrap_or(""));
                    self.rest = Some(tail);
                    return Some(trim_ws(head));
                }
                _ => i += 1,
            }
        }
        self.rest = None;
        Some(trim_ws(s))
    }
}

/// Splits `s` at the first `sep` outside quoted strings.
pub(crate) fn split_unquoted(s: &str, sep: u8) -> (&str, Option<&str>) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b.get(i).copied() {
            Some(b'"') => match quoted_end(b.get(i..).unwrap_or_default()) {
                Some(n) => i += n,
                None => return (s, None),
            },
            Some(c) if c == sep => {
                return (s.get(..i).unwrap_or(""), s.get(i + 1..));
            }
            _ => i += 1,
        }
    }
    (s, None)
}

/// One `name[=value]` parameter (RFC 3261 §25.1 `generic-param`, `uri-parameter`).
/// `value` is raw: a quoted-string keeps its quotes (see [`Param::unquoted`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    /// Parameter name as received (compare case-insensitively).
    pub name: &'a str,
    /// Raw value, `None` for a flag parameter such as `lr` or `rport`.
    pub value: Option<&'a str>,
}

impl<'a> Param<'a> {
    /// Value with surrounding quotes and quoted-pairs removed.
    pub fn unquoted(&self) -> Option<std::borrow::Cow<'a, str>> {
        self.value.map(unquote)
    }
}

/// A `;`-separated parameter list, kept as the raw text after the first `;` and parsed
/// on iteration (no allocation). Built only from text that passed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params<'a> {
    raw: &'a str,
}

impl<'a> Params<'a> {
    /// Validates `raw` (the text after a leading `;`, may be empty) as a list of
    /// `token [= (token / host / quoted-string)]` parameters with optional LWS around
    /// `;` and `=`. Empty parameters (`;;`) and empty values (`a=`) are errors.
    pub(crate) fn parse(raw: &'a str) -> Result<Self, &'static str> {
        let b = raw.as_bytes();
        let mut i = 0;
        skip_ws(b, &mut i);
        if i == b.len() {
            return Ok(Params { raw: "" });
        }
        loop {
            skip_ws(b, &mut i);
            let name_start = i;
            i = super::fast::skip(b, i, is_token_char);
            if i == name_start {
                return Err("bad parameter name");
            }
            skip_ws(b, &mut i);
            if b.get(i) == Some(&b'=') {
                i += 1;
                skip_ws(b, &mut i);
                if b.get(i) == Some(&b'"') {
                    let n = quoted_end(b.get(i..).unwrap_or_default())
                        .ok_or("bad quoted parameter value")?;
                    i += n;
                } else {
                    let v = i;
                    i = super::fast::skip(b, i, |c| PARAM_VALUE[c as usize]);
                    if i == v {
                        return Err("empty parameter value");
                    }
                }
                skip_ws(b, &mut i);
            }
            match b.get(i) {
                None => return Ok(Params { raw }),
                Some(b';') => i += 1,
                Some(_) => return Err("bad parameter value"),
            }
        }
    }

    /// Wraps text already checked as a URI parameter list (the fast path in
    /// `sip::fast`).
    pub(crate) fn from_checked(raw: &'a str) -> Self {
        Params { raw }
    }

    /// Parameters of a URI (RFC 3261 §19.1.1 `uri-parameters`): no LWS, no quotes.
    pub(crate) fn parse_uri(raw: &'a str) -> Result<Self, &'static str> {
        Self::parse_uri_chars(raw, is_uri_param_char)
    }

    /// [`Params::parse_uri`] also allowing `@` in values (liberal, for URNs).
    pub(crate) fn parse_uri_lenient(raw: &'a str) -> Result<Self, &'static str> {
        Self::parse_uri_chars(raw, |b| is_uri_param_char(b) || b == b'@')
    }

    fn parse_uri_chars(raw: &'a str, ok: impl Fn(u8) -> bool) -> Result<Self, &'static str> {
        let b = raw.as_bytes();
        if b.is_empty() {
            return Ok(Params { raw });
        }
        // name [= value] items separated by ';', each part non-empty.
        let mut part_len = 0usize;
        let mut in_value = false;
        for &c in b {
            match c {
                b';' => {
                    if part_len == 0 {
                        return Err("empty URI parameter");
                    }
                    part_len = 0;
                    in_value = false;
                }
                b'=' if !in_value => {
                    if part_len == 0 {
                        return Err("bad URI parameter name");
                    }
                    part_len = 0;
                    in_value = true;
                }
                c if ok(c) => part_len += 1,
                _ => return Err("bad URI parameter character"),
            }
        }
        if part_len == 0 {
            return Err("empty URI parameter");
        }
        Ok(Params { raw })
    }

    /// The raw text (without the leading `;`).
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// True when there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Iterates parameters in order.
    pub fn iter(&self) -> ParamIter<'a> {
        ParamIter {
            rest: if self.raw.is_empty() {
                None
            } else {
                Some(self.raw)
            },
        }
    }

    /// First parameter named `name` (case-insensitive): `Some(None)` for a flag.
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        self.iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value)
    }

    /// True when a parameter named `name` is present (case-insensitive).
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Iterator over [`Params`].
#[derive(Debug, Clone)]
pub struct ParamIter<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = Param<'a>;
    fn next(&mut self) -> Option<Param<'a>> {
        let r = self.rest?;
        let (item, next) = split_unquoted(r, b';');
        self.rest = next;
        let (name, value) = split_param(item);
        Some(Param { name, value })
    }
}

fn split_param(item: &str) -> (&str, Option<&str>) {
    match split_unquoted(item, b'=') {
        (n, Some(v)) => (trim_ws(n), Some(trim_ws(v))),
        (n, None) => (trim_ws(n), None),
    }
}

/// RFC 3261 §25.1 characters allowed in URI parameters (`paramchar`), plus `%`.
#[inline]
pub(crate) fn is_uri_param_char(b: u8) -> bool {
    URI_PARAM[b as usize]
}

/// Parses 1*DIGIT into a u64 bounded by `max`; `None` on any other character, on an
/// empty string or on overflow (RFC 4475 §3.1.2.4 overlarge scalars).
pub(crate) fn parse_bounded_u64(s: &str, max: u64) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        if v > max {
            return None;
        }
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_split_respects_quotes_and_angles() {
        let v: Vec<_> =
            CommaSplit::new(r#""Bell, A" <sip:a@b;x=1,2>;p="x,y" , <sip:c@d>"#).collect();
        assert_eq!(v, vec![r#""Bell, A" <sip:a@b;x=1,2>;p="x,y""#, "<sip:c@d>"]);
    }

    #[test]
    fn params_parse_and_lookup() {
        let p = Params::parse(" tag = 98asjd8 ; q=0.33;lr; gr=urn:uuid:1-2").unwrap();
        assert_eq!(p.get("TAG"), Some(Some("98asjd8")));
        assert_eq!(p.get("lr"), Some(None));
        assert_eq!(p.get("gr"), Some(Some("urn:uuid:1-2")));
        assert!(Params::parse(";;").is_err());
        assert!(Params::parse("a=").is_err());
        let q = Params::parse(r#"+sip.instance="<urn:uuid:abc>""#).unwrap();
        assert_eq!(
            q.iter().next().unwrap().unquoted().unwrap(),
            "<urn:uuid:abc>"
        );
    }

    #[test]
    fn bounded_numbers() {
        assert_eq!(parse_bounded_u64("0009", 100), Some(9));
        assert_eq!(parse_bounded_u64("36893488147419103232", u64::MAX), None);
        assert_eq!(parse_bounded_u64("-1", 10), None);
        assert_eq!(unquote(r#""J Rosenberg \\\"""#), r#"J Rosenberg \""#);
    }
}
