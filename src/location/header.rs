//! Header values that carry location and emergency data, parsed from their text:
//! `Geolocation` and `Geolocation-Routing` (RFC 6442 §4.1, §4.2), `Call-Info` with
//! `purpose=EmergencyCallData.*` (RFC 3261 §20.9, RFC 7852 §4.1), `P-Asserted-Identity`
//! (RFC 3325 §9.1) and `History-Info` (RFC 7044 §4.1).
//!
//! All of them are comma-separated lists of `[display-name] <URI> *(;param)`; the SIP
//! layer's splitter and `name-addr` parser read them (with a cap on the number of values)
//! and this module gives them their RFC 6442 / RFC 7852 / RFC 3325 meaning. Input is a header *value* (`&str`) as the
//! SIP parser hands it over; several header lines are several calls.

use std::borrow::Cow;

use serde::Serialize;

use super::split_once_byte;
use crate::sip::header::NameAddr;
use crate::sip::CommaSplit;

/// Most values accepted in one header value (`a, b, c`).
pub const MAX_LIST_VALUES: usize = 32;

/// Errors in a location-related header value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderValueError {
    /// More than [`MAX_LIST_VALUES`] comma-separated values.
    #[error("more than {MAX_LIST_VALUES} values in one header")]
    TooManyValues,
    /// Not `[display-name] <URI> *(;param)`: the SIP parser's description of the fault
    /// (unbalanced `<`, unterminated quote, bad URI…).
    #[error("malformed value: {0}")]
    Syntax(&'static str),
    /// No value at all.
    #[error("empty URI in header value")]
    EmptyUri,
    /// `Geolocation-Routing` is neither `yes` nor `no` (RFC 6442 §4.2).
    #[error("Geolocation-Routing value {0:?} is neither yes nor no")]
    BadRouting(String),
}

/// One `[display-name] <URI> *(;name[=value])` element of a list-valued header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UriValue {
    /// Display name without quotes, if any.
    pub display_name: Option<String>,
    /// The URI between `<` and `>` (or the bare URI), trimmed.
    pub uri: String,
    /// Header parameters after the URI, names lower-cased, values unquoted.
    pub params: Vec<(String, Option<String>)>,
}

impl UriValue {
    /// Value of the parameter `name` (case-insensitive); `Some(None)` for a flag param.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// URI scheme, lower-cased (`cid`, `https`, `sip`, `tel`, `urn`, …).
    pub fn scheme(&self) -> String {
        self.uri
            .split_once(':')
            .map(|(s, _)| s.trim().to_ascii_lowercase())
            .unwrap_or_default()
    }
}

/// Splits a list-valued header (`<a>;p=1, "N" <b>`) into its [`UriValue`]s, using the SIP
/// layer's list splitter and `name-addr` parser ([`CommaSplit`], [`NameAddr`]).
///
/// # Errors
/// [`HeaderValueError::TooManyValues`], [`HeaderValueError::EmptyUri`], or
/// [`HeaderValueError::Syntax`] with the SIP parser's description.
pub fn parse_uri_list(value: &str) -> Result<Vec<UriValue>, HeaderValueError> {
    let mut out = Vec::new();
    for item in CommaSplit::new(value) {
        if item.is_empty() {
            continue;
        }
        if out.len() == MAX_LIST_VALUES {
            return Err(HeaderValueError::TooManyValues);
        }
        let na = NameAddr::parse(item).map_err(HeaderValueError::Syntax)?;
        out.push(UriValue {
            display_name: na
                .display_name
                .map(|d| d.text().into_owned())
                .filter(|d| !d.is_empty()),
            uri: na.uri.as_str().to_owned(),
            params: na
                .params
                .iter()
                .take(MAX_LIST_VALUES)
                .map(|p| {
                    (
                        p.name.to_ascii_lowercase(),
                        p.unquoted().map(|v| v.into_owned()),
                    )
                })
                .collect(),
        });
    }
    if out.is_empty() {
        return Err(HeaderValueError::EmptyUri);
    }
    Ok(out)
}

// === Geolocation (RFC 6442 §4.1) ===

/// How a `Geolocation` URI conveys the location (RFC 6442 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GeolocationKind {
    /// `cid:` — by value, in the body part with that Content-ID.
    ByValue,
    /// `http:`/`https:`/`sip:`/`sips:`/`pres:` — by reference, to dereference later
    /// (HELD, RFC 5985; or a SIP presence subscription, RFC 6442 §4.1).
    ByReference,
    /// Any other scheme: kept but not usable.
    Unsupported,
}

/// One value of a `Geolocation` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GeolocationValue {
    /// The location URI (`cid:…`, `https://…`, `sip:…`).
    pub uri: String,
    /// By value or by reference.
    pub kind: GeolocationKind,
    /// `inserted-by` parameter (RFC 6442 §4.1 / NENA), if present.
    pub inserted_by: Option<String>,
}

/// Parses one `Geolocation` header value (RFC 6442 §4.1): one or more `<URI>` with
/// parameters.
///
/// # Errors
/// Any [`HeaderValueError`] from the list syntax.
pub fn parse_geolocation(value: &str) -> Result<Vec<GeolocationValue>, HeaderValueError> {
    let (first, rest) = parse_geolocation_refs(value)?;
    Ok(std::iter::once(first)
        .chain(rest)
        .map(GeolocationRef::into_owned)
        .collect())
}

/// One `Geolocation` value borrowed from the header text: what [`GeolocationValue`]
/// holds, without copying (the hot path in `locate` only needs the `cid:` to find the
/// body part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GeolocationRef<'a> {
    /// The location URI as sent inside `<>`.
    pub uri: &'a str,
    /// By value or by reference.
    pub kind: GeolocationKind,
    /// `inserted-by` parameter value, unquoted.
    pub inserted_by: Option<Cow<'a, str>>,
}

impl GeolocationRef<'_> {
    /// The owned [`GeolocationValue`].
    pub fn into_owned(self) -> GeolocationValue {
        GeolocationValue {
            uri: self.uri.to_owned(),
            kind: self.kind,
            inserted_by: self.inserted_by.map(Cow::into_owned),
        }
    }
}

/// [`parse_geolocation`] without copies: the first value and the others (the list is
/// never empty; the `Vec` stays unallocated for the usual single value). Same syntax,
/// caps and errors as [`parse_uri_list`].
///
/// # Errors
/// Any [`HeaderValueError`] from the list syntax.
pub(crate) fn parse_geolocation_refs(
    value: &str,
) -> Result<(GeolocationRef<'_>, Vec<GeolocationRef<'_>>), HeaderValueError> {
    let mut first = None;
    let mut rest = Vec::new();
    let mut n = 0;
    for item in CommaSplit::new(value) {
        if item.is_empty() {
            continue;
        }
        if n == MAX_LIST_VALUES {
            return Err(HeaderValueError::TooManyValues);
        }
        n += 1;
        let na = NameAddr::parse(item).map_err(HeaderValueError::Syntax)?;
        let uri = na.uri.as_str();
        let scheme = split_once_byte(uri, b':').map_or("", |(s, _)| s.trim());
        let kind = if scheme.eq_ignore_ascii_case("cid") {
            GeolocationKind::ByValue
        } else if ["http", "https", "sip", "sips", "pres"]
            .iter()
            .any(|s| scheme.eq_ignore_ascii_case(s))
        {
            GeolocationKind::ByReference
        } else {
            GeolocationKind::Unsupported
        };
        // As `UriValue::param("inserted-by")`: the first such parameter among the
        // first MAX_LIST_VALUES, only when it has a value.
        let inserted_by = na
            .params
            .iter()
            .take(MAX_LIST_VALUES)
            .find(|p| p.name.eq_ignore_ascii_case("inserted-by"))
            .and_then(|p| p.unquoted());
        let g = GeolocationRef {
            uri,
            kind,
            inserted_by,
        };
        if first.is_none() {
            first = Some(g);
        } else {
            rest.push(g);
        }
    }
    first.map(|f| (f, rest)).ok_or(HeaderValueError::EmptyUri)
}

/// Parses a `Geolocation-Routing` header value (RFC 6442 §4.2): `yes` → `true` (location
/// may be used for routing), `no` → `false`. Generic parameters after `;` are ignored.
///
/// # Errors
/// [`HeaderValueError::BadRouting`] for any other token.
pub fn parse_geolocation_routing(value: &str) -> Result<bool, HeaderValueError> {
    let token = split_once_byte(value, b';')
        .map_or(value, |(t, _)| t)
        .trim();
    if token.eq_ignore_ascii_case("yes") {
        Ok(true)
    } else if token.eq_ignore_ascii_case("no") {
        Ok(false)
    } else {
        Err(HeaderValueError::BadRouting(
            token.chars().take(64).collect(),
        ))
    }
}

// === Call-Info (RFC 7852 §4.1) ===

/// One `Call-Info` value: the URI and its `purpose`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallInfoValue {
    /// The URI (`cid:…` by value, `https:…` by reference, `urn:nena:…` identifiers).
    pub uri: String,
    /// The `purpose` parameter, as sent (`EmergencyCallData.ProviderInfo`, `nena-CallId`…).
    pub purpose: Option<String>,
}

impl CallInfoValue {
    /// The RFC 7852 block name when `purpose` is `EmergencyCallData.<Name>`
    /// (case-insensitive prefix), e.g. `ProviderInfo`.
    pub fn emergency_call_data(&self) -> Option<&str> {
        let p = self.purpose.as_deref()?;
        let prefix = "EmergencyCallData.";
        let head = p.get(..prefix.len())?;
        let rest = p.get(prefix.len()..)?;
        (head.eq_ignore_ascii_case(prefix) && !rest.is_empty()).then_some(rest)
    }
}

/// Parses one `Call-Info` header value (RFC 3261 §20.9).
///
/// # Errors
/// Any [`HeaderValueError`] from the list syntax.
pub fn parse_call_info(value: &str) -> Result<Vec<CallInfoValue>, HeaderValueError> {
    Ok(parse_uri_list(value)?
        .into_iter()
        .map(|v| {
            let purpose = v.param("purpose").flatten().map(str::to_owned);
            CallInfoValue {
                uri: v.uri,
                purpose,
            }
        })
        .collect())
}

// === P-Asserted-Identity (RFC 3325 §9.1) ===

/// The callback number carried by a `P-Asserted-Identity` value: the number of its
/// `tel:` URI (RFC 3966), or of a `sip:`/`sips:` URI with `user=phone`. Visual separators
/// (`-`, `.`, `(`, `)`, space) are removed; URI parameters are dropped.
///
/// Returns `None` when the header carries no telephone number.
pub fn callback_number(pai_value: &str) -> Option<String> {
    let mut sip_phone: Option<&str> = None;
    let mut tel: Option<&str> = None;
    // Fast path for the usual single `<tel:…>` value (no display name, no parameters
    // outside the brackets): the same URI the name-addr parse would give.
    let v = pai_value.trim();
    if let Some(inner) = v.strip_prefix('<').and_then(|x| x.strip_suffix('>')) {
        let simple = !inner
            .bytes()
            .any(|c| matches!(c, b'<' | b'>' | b',' | b'"' | b' '));
        if let Some(rest) = inner
            .get(..4)
            .filter(|p| simple && p.eq_ignore_ascii_case("tel:"))
            .and_then(|_| inner.get(4..))
        {
            return clean_callback(split_once_byte(rest, b';').map_or(rest, |(n, _)| n));
        }
    }
    for item in CommaSplit::new(pai_value).take(MAX_LIST_VALUES) {
        let Ok(na) = NameAddr::parse(item) else {
            continue;
        };
        let uri = na.uri.as_str();
        let Some((scheme, rest)) = split_once_byte(uri, b':') else {
            continue;
        };
        if scheme.eq_ignore_ascii_case("tel") {
            tel = Some(rest.split(';').next().unwrap_or(rest));
            break;
        }
        let is_sip = scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips");
        if is_sip
            && sip_phone.is_none()
            && rest
                .split(';')
                .skip(1)
                .any(|p| p.eq_ignore_ascii_case("user=phone"))
        {
            let user = rest.split('@').next().unwrap_or("");
            sip_phone = Some(user.split(';').next().unwrap_or(user));
        }
    }
    clean_callback(tel.or(sip_phone)?)
}

/// A callback number with visual separators removed; `None` unless `+`? digits remain.
fn clean_callback(number: &str) -> Option<String> {
    // Byte-wise: the separators are ASCII, and any non-ASCII character fails the digit
    // check below either way.
    let mut cleaned = String::with_capacity(number.len());
    for c in number.bytes() {
        if !matches!(c, b'-' | b'.' | b'(' | b')' | b' ') {
            if !c.is_ascii() {
                return None;
            }
            cleaned.push(char::from(c));
        }
    }
    let digits = cleaned.strip_prefix('+').unwrap_or(&cleaned);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        Some(cleaned)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geolocation_values() {
        let g = parse_geolocation(
            "<cid:8185553333@10.1.11.3>;inserted-by=AddDataClient, <https://lis.example.com/l?id=1,2>",
        )
        .unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].uri, "cid:8185553333@10.1.11.3");
        assert_eq!(g[0].kind, GeolocationKind::ByValue);
        assert_eq!(g[0].inserted_by.as_deref(), Some("AddDataClient"));
        assert_eq!(g[1].uri, "https://lis.example.com/l?id=1,2");
        assert_eq!(g[1].kind, GeolocationKind::ByReference);
        assert_eq!(
            parse_geolocation("<sips:3sdefrhy2jj7@lis.example.com;transport=tls>").unwrap()[0].kind,
            GeolocationKind::ByReference
        );
        assert!(matches!(
            parse_geolocation("<cid:x").unwrap_err(),
            HeaderValueError::Syntax(_)
        ));
        assert_eq!(
            parse_geolocation(" , ").unwrap_err(),
            HeaderValueError::EmptyUri
        );
        assert_eq!(
            parse_geolocation("<mailto:a@b>").unwrap()[0].kind,
            GeolocationKind::Unsupported
        );
    }

    #[test]
    fn routing() {
        assert_eq!(parse_geolocation_routing("yes"), Ok(true));
        assert_eq!(parse_geolocation_routing(" No ;x=1"), Ok(false));
        assert_eq!(
            parse_geolocation_routing("maybe"),
            Err(HeaderValueError::BadRouting("maybe".into()))
        );
    }

    #[test]
    fn call_info_purpose() {
        let v = parse_call_info(
            "<cid:ProviderInfo@AddDataClient.com>;purpose=EmergencyCallData.ProviderInfo",
        )
        .unwrap();
        assert_eq!(v[0].emergency_call_data(), Some("ProviderInfo"));
        let v =
            parse_call_info("<urn:nena:uid:callid:c7bb:x@10.1.11.3>; purpose=nena-CallId").unwrap();
        assert_eq!(v[0].purpose.as_deref(), Some("nena-CallId"));
        assert_eq!(v[0].emergency_call_data(), None);
        // A multi-byte character across the prefix boundary must not panic.
        let odd = CallInfoValue {
            uri: "cid:x".into(),
            purpose: Some("EmergencyCallData\u{20ac}x".into()),
        };
        assert_eq!(odd.emergency_call_data(), None);
        let lower = CallInfoValue {
            uri: "cid:x".into(),
            purpose: Some("emergencycalldata.Comment".into()),
        };
        assert_eq!(lower.emergency_call_data(), Some("Comment"));
    }

    #[test]
    fn pai_callback() {
        assert_eq!(
            callback_number("<tel:+9073990000002>").as_deref(),
            Some("+9073990000002")
        );
        assert_eq!(
            callback_number("\"Alice, A\" <sip:alice@example.com>, <tel:+44-20-7946-0000;cpc=x>")
                .as_deref(),
            Some("+442079460000")
        );
        assert_eq!(
            callback_number("<sip:+447700900123@ims.example.com;user=phone>").as_deref(),
            Some("+447700900123")
        );
        assert_eq!(callback_number("<sip:alice@example.com>"), None);
        // The single-`<tel:…>` fast path agrees with the name-addr path (forced here by
        // a display name).
        for v in [
            "<tel:+44-20-7946-0000;cpc=x>",
            " <TEL:999> ",
            "<tel:12a>",
            "<tel:>",
        ] {
            let general = format!("\"x\" {}", v.trim());
            assert_eq!(callback_number(v), callback_number(&general), "{v}");
        }
        assert_eq!(callback_number(" <TEL:999> ").as_deref(), Some("999"));
    }

    #[test]
    fn list_cap() {
        let many = vec!["<cid:a@b>"; MAX_LIST_VALUES + 1].join(",");
        assert_eq!(
            parse_uri_list(&many).unwrap_err(),
            HeaderValueError::TooManyValues
        );
    }

    /// The byte-wise `clean_callback` gives what the char-wise definition gives.
    #[test]
    fn clean_callback_matches_the_char_definition() {
        fn reference(number: &str) -> Option<String> {
            let cleaned: String = number
                .chars()
                .filter(|c| !matches!(c, '-' | '.' | '(' | ')' | ' '))
                .collect();
            let digits = cleaned.strip_prefix('+').unwrap_or(&cleaned);
            (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(cleaned)
        }
        use proptest::prelude::*;
        proptest!(|(s in "[0-9 ()\\-.+é]{0,16}")| {
            prop_assert_eq!(clean_callback(&s), reference(&s));
        });
    }

    /// The borrowed Geolocation parse agrees with the general URI-list parser.
    #[test]
    fn geolocation_refs_match_owned() {
        for v in [
            "<cid:a@b>",
            "<cid:a@b>;inserted-by=x, <https://l/x>;Inserted-By=\"q y\"",
            "<sip:l@x>;inserted-by, <mailto:a@b>",
            " , ",
            "<cid:x",
        ] {
            // The definition through the general URI-list parser.
            let reference = parse_uri_list(v).map(|list| {
                list.into_iter()
                    .map(|u| GeolocationValue {
                        kind: match u.scheme().as_str() {
                            "cid" => GeolocationKind::ByValue,
                            "http" | "https" | "sip" | "sips" | "pres" => {
                                GeolocationKind::ByReference
                            }
                            _ => GeolocationKind::Unsupported,
                        },
                        inserted_by: u.param("inserted-by").flatten().map(str::to_owned),
                        uri: u.uri,
                    })
                    .collect::<Vec<_>>()
            });
            assert_eq!(parse_geolocation(v), reference, "{v:?}");
        }
        let g = parse_geolocation("<https://l/x>;Inserted-By=\"q y\"").unwrap();
        assert_eq!(g[0].inserted_by.as_deref(), Some("q y"));
        assert_eq!(g[0].kind, GeolocationKind::ByReference);
    }
}
