//! `name-addr / addr-spec` header values with parameters: From, To (RFC 3261 §20.20,
//! §20.39), Contact (§20.10), Route / Record-Route (§20.34, §20.30), P-Asserted-Identity
//! (RFC 3325 §9.1), History-Info (RFC 7044 §4.1), Call-Info (§20.9, RFC 7852),
//! Geolocation (RFC 6442 §4.1).

use std::borrow::Cow;

use crate::sip::scan::{find_byte, is_token_char, is_ws, quoted_end, trim_ws, unquote, Params};
use crate::sip::uri::Uri;

/// Display name of a `name-addr` (RFC 3261 §25.1 `display-name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisplayName<'a> {
    /// `*(token LWS)` form, trimmed, e.g. `A. Bell`; also, read liberally, any other
    /// text before the `<` (outside quotes), e.g. `Zoë Smith`, `Bell, Alexander` or
    /// `"Bob" Smith` (see [`NameAddr::parse`]).
    Tokens(&'a str),
    /// Quoted form: the raw text between the quotes, quoted-pairs still escaped.
    Quoted(&'a str),
}

impl<'a> DisplayName<'a> {
    /// The display name with quoted-pairs resolved (`"J Rosenberg \\\""` →
    /// `J Rosenberg \"`). May be empty (`"" <sip:…>`).
    pub fn text(&self) -> Cow<'a, str> {
        match *self {
            DisplayName::Tokens(t) => Cow::Borrowed(t),
            DisplayName::Quoted(q) => {
                if q.contains('\\') {
                    let mut out = String::with_capacity(q.len());
                    let mut it = q.chars();
                    while let Some(c) = it.next() {
                        if c == '\\' {
                            if let Some(n) = it.next() {
                                out.push(n);
                            }
                        } else {
                            out.push(c);
                        }
                    }
                    Cow::Owned(out)
                } else {
                    Cow::Borrowed(q)
                }
            }
        }
    }
}

/// An address with parameters: `[display-name] <URI> *(;param)` or `URI *(;param)`.
/// In the second (addr-spec) form every `;param` belongs to the header, not the URI
/// (RFC 3261 §20.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// Display name, if one was given (an empty `""` counts as given).
    pub display_name: Option<DisplayName<'a>>,
    /// The URI.
    pub uri: Uri<'a>,
    /// True when the URI was enclosed in `<>`.
    pub angle: bool,
    /// Header parameters (`tag`, `expires`, `q`, `purpose`, `index`, `+sip.instance`, …).
    pub params: Params<'a>,
}

impl<'a> NameAddr<'a> {
    /// Parses one element. Errors name the fault (RFC 4475 §3.1.2.6 unterminated quote,
    /// §3.1.2.13 `?`/`,` in an addr-spec, §3.1.2.14 spaces in `<>`).
    ///
    /// Liberal (RFC 3261 §7.5; RFC 4475 §3.1.2.15 calls rejecting it "reasonable", not
    /// required): a display name that is not `*(token LWS)` or one quoted-string — UTF-8
    /// letters, commas, parentheses, a quoted word followed by others — is read as the
    /// text before the first `<` outside quotes. Caller names arrive that way from legacy
    /// PBXs and name-insertion services, and every request of the dialog repeats the
    /// From, so refusing it would refuse the call (a 999 included) or, were only the
    /// INVITE repaired, its ACK and BYE.
    pub fn parse(s: &'a str) -> Result<NameAddr<'a>, &'static str> {
        let s = trim_ws(s);
        let b = s.as_bytes();
        let (display_name, after_display) = if b.first() == Some(&b'"') {
            let end = quoted_end(b).ok_or("unterminated quoted string")?;
            let inner = s.get(1..end - 1).ok_or("bad display name")?;
            let rest = trim_ws(s.get(end..).unwrap_or(""));
            if rest.starts_with('<') {
                (Some(DisplayName::Quoted(inner)), rest)
            } else {
                // `"Bob" Smith <sip:…>`: the whole text before `<`, liberally.
                let lt = first_angle_outside_quotes(b)
                    .ok_or("quoted display name not followed by <URI>")?;
                (
                    Some(DisplayName::Tokens(trim_ws(s.get(..lt).unwrap_or("")))),
                    s.get(lt..).unwrap_or(""),
                )
            }
        } else {
            let n = b
                .iter()
                .position(|&c| !(is_token_char(c) || is_ws(c)))
                .unwrap_or(b.len());
            // A display name of tokens ends at `<`; any other text before a `<` is one
            // too, read liberally (see above). Without a `<` this is an addr-spec.
            let lt = if b.get(n) == Some(&b'<') {
                Some(n)
            } else {
                first_angle_outside_quotes(b)
            };
            match lt {
                Some(lt) => {
                    let dn = trim_ws(s.get(..lt).unwrap_or(""));
                    let rest = s.get(lt..).unwrap_or("");
                    ((!dn.is_empty()).then_some(DisplayName::Tokens(dn)), rest)
                }
                None => (None, s),
            }
        };
        if let Some(inner) = after_display.strip_prefix('<') {
            // The matching `>`: nested `<…>` inside URI headers are tolerated (liberal).
            let ib = inner.as_bytes();
            let first_close = find_byte(ib, b'>').ok_or("missing >")?;
            let close = if find_byte(ib.get(..first_close).unwrap_or_default(), b'<').is_none() {
                first_close
            } else {
                let mut depth = 0usize;
                ib.iter()
                    .position(|&b| match b {
                        b'<' => {
                            depth += 1;
                            false
                        }
                        b'>' if depth == 0 => true,
                        b'>' => {
                            depth -= 1;
                            false
                        }
                        _ => false,
                    })
                    .ok_or("missing >")?
            };
            let uri = inner.get(..close).ok_or("missing >")?;
            let rest = inner.get(close + 1..).unwrap_or("");
            let uri = Uri::parse(uri).map_err(|_| "malformed URI in <>")?;
            let rest = trim_ws(rest);
            let params = match rest.strip_prefix(';') {
                Some(p) => Params::parse(p)?,
                None if rest.is_empty() => Params::default(),
                None => return Err("junk after >"),
            };
            Ok(NameAddr {
                display_name,
                uri,
                angle: true,
                params,
            })
        } else {
            let (uri, params) = match find_byte(s.as_bytes(), b';') {
                Some(k) => (trim_ws(s.get(..k).unwrap_or("")), s.get(k + 1..)),
                None => (s, None),
            };
            if uri.bytes().any(|c| c == b'?' || c == b',') {
                return Err("URI with ? or , must be enclosed in <>");
            }
            let uri = Uri::parse(uri).map_err(|_| "malformed URI")?;
            let params = match params {
                Some(p) => Params::parse(p)?,
                None => Params::default(),
            };
            Ok(NameAddr {
                display_name: None,
                uri,
                angle: false,
                params,
            })
        }
    }

    /// The `tag` parameter (RFC 3261 §19.3), if present and non-empty.
    pub fn tag(&self) -> Option<&'a str> {
        self.params.get("tag").flatten()
    }

    /// A parameter's value with quotes removed, e.g. `purpose` of Call-Info or
    /// `+sip.instance` of Contact.
    pub fn param(&self, name: &str) -> Option<Cow<'a, str>> {
        self.params.get(name).flatten().map(unquote)
    }

    /// The display name text, if any.
    pub fn display_text(&self) -> Option<Cow<'a, str>> {
        self.display_name.map(|d| d.text())
    }
}

/// Index of the first `<` outside a quoted-string (quoted-pairs skipped), if any.
fn first_angle_outside_quotes(b: &[u8]) -> Option<usize> {
    let mut in_quotes = false;
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' if in_quotes => i += 1,
            b'"' => in_quotes = !in_quotes,
            b'<' if !in_quotes => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// One Contact value (RFC 3261 §20.10): `*` (REGISTER removal) or an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact<'a> {
    /// `Contact: *`
    Wildcard,
    /// An address with `expires`, `q`, `+sip.instance`, … parameters.
    Addr(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    /// Parses one Contact element.
    pub fn parse(s: &'a str) -> Result<Contact<'a>, &'static str> {
        if trim_ws(s) == "*" {
            Ok(Contact::Wildcard)
        } else {
            NameAddr::parse(s).map(Contact::Addr)
        }
    }

    /// The address, unless this is the wildcard.
    pub fn addr(&self) -> Option<&NameAddr<'a>> {
        match self {
            Contact::Wildcard => None,
            Contact::Addr(a) => Some(a),
        }
    }

    /// The `expires` parameter in seconds, if present and within 0..=2^32-1
    /// (RFC 3261 §20.10; out-of-range values read as absent, RFC 4475 §3.1.2.4).
    pub fn expires_s(&self) -> Option<u32> {
        let v = self.addr()?.params.get("expires")??;
        crate::sip::scan::parse_bounded_u64(v, u64::from(u32::MAX))
            .and_then(|v| u32::try_from(v).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let a = NameAddr::parse(
            r#""J Rosenberg \\\""       <sip:jdrosen@example.com>  ;  tag = 98asjd8"#,
        )
        .unwrap();
        assert_eq!(a.display_text().unwrap(), r#"J Rosenberg \""#);
        assert_eq!(a.tag(), Some("98asjd8"));
        let b = NameAddr::parse("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(b.display_text().unwrap(), "caller");
        let c =
            NameAddr::parse("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n").unwrap();
        assert!(!c.angle);
        assert_eq!(c.tag(), Some("1918181833n"));
        let e = NameAddr::parse(r#""" <sip:a@b>"#).unwrap();
        assert_eq!(e.display_text().unwrap(), "");
        assert!(NameAddr::parse(r#""Mr. J. User <sip:j.user@example.com>"#).is_err());
        // Liberal (RFC 4475 §3.1.2.15 allows refusing; we read them): non-token text, a
        // quoted word followed by others.
        for (v, dn) in [
            (
                "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
                "Bell, Alexander",
            ),
            ("Zoë Smith <sip:z@example.com>;tag=1", "Zoë Smith"),
            ("John (mobile)<sip:j@example.com>", "John (mobile)"),
            (r#""Bob" Smith <sip:b@example.com>;tag=2"#, r#""Bob" Smith"#),
            (r#"a "<x>" b <sip:c@example.com>"#, r#"a "<x>" b"#),
        ] {
            let a = NameAddr::parse(v).unwrap_or_else(|e| panic!("{v}: {e}"));
            assert_eq!(a.display_text().unwrap(), dn, "{v}");
            assert!(a.angle, "{v}");
        }
        assert_eq!(
            NameAddr::parse("Zoë <sip:z@example.com>;tag=1")
                .unwrap()
                .tag(),
            Some("1")
        );
        // Still refused: nothing but a broken URI after the `<`.
        assert!(NameAddr::parse("a<b Smith <sip:c@example.com>").is_err());
        assert!(NameAddr::parse("Zoë <not a uri>").is_err());
        assert!(NameAddr::parse(r#""Watson, Thomas" < sip:t.watson@example.org >"#).is_err());
        assert!(NameAddr::parse("sip:user@example.com?Route=%3Csip:sip.example.com%3E").is_err());
        assert!(NameAddr::parse(r#""Joe" <sip:joe@example.org>;;;;"#).is_err());
        let inst =
            Contact::parse(r#"<sip:a@192.0.2.1>;+sip.instance="<urn:uuid:f81d4fae>";expires=3600"#)
                .unwrap();
        assert_eq!(
            inst.addr().unwrap().param("+sip.instance").unwrap(),
            "<urn:uuid:f81d4fae>"
        );
        assert_eq!(inst.expires_s(), Some(3600));
        assert_eq!(Contact::parse(" * ").unwrap(), Contact::Wildcard);
    }
}
