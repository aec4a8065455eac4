//! Caller location and emergency data: PIDF-LO (RFC 4119, RFC 5491, RFC 5139, RFC 6848,
//! RFC 7459), multipart bodies (RFC 2046 §5.1), Geolocation (RFC 6442), AML (ETSI TS
//! 103 625) and RFC 7852 additional data.
//!
//! Everything here is sans-IO and never panics on input: parsers take bytes or text and
//! return typed errors. Entry points for the engine:
//!
//! * [`locate::locate`]`(&Message) -> CallLocation`: every location source in an INVITE,
//!   the best one, additional data, callback number; errors recorded, never fails.
//! * [`passon::pass_on`]`(&Message) -> PassOn`: the headers and body parts the handler's
//!   INVITE must carry, and [`passon::PassOn::body_with_sdp`] to frame them.
//! * [`aml::parse_https_form`] / [`aml::parse_sms_text`] / [`aml::parse_sms_data`] and
//!   [`aml_store::AmlStore`]: AML ingest (`POST /api/aml` calls `parse_https_form`) and
//!   correlation by caller number.
//! * [`locate::CallLocation::summary`]: the JSON summary for the API and console.
//!
//! Classification lives in [`mod@crate::call::classify`].
//!
//! | module | what |
//! | --- | --- |
//! | [`xml`] | bounded XML (size, depth, node count, no DTD/entities) |
//! | [`xmltree`] | compact quick-xml element tree for the PIDF-LO hot path, same bounds |
//! | [`multipart`] | `multipart/mixed` bodies, `cid:` matching |
//! | [`pidf`] | PIDF-LO locations and RFC 5491 shapes |
//! | [`additional_data`] | RFC 7852 blocks, CAP, vCard |
//! | [`header`] | Geolocation, Geolocation-Routing, Call-Info, P-Asserted-Identity values |
//! | [`locate`] | everything an INVITE says about location, collected without failing |
//! | [`passon`] | what the handler's INVITE carries |
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
pub mod xmltree;

/// `s.split_once(d)` for an ASCII delimiter byte, by a plain byte loop: on the short
/// header values and names of the location path this is several times cheaper than
/// the `char` pattern searcher (which sets up a `memchr` per call). An ASCII byte never
/// occurs inside a multi-byte UTF-8 sequence, so both halves are whole `str`s.
pub(crate) fn split_once_byte(s: &str, d: u8) -> Option<(&str, &str)> {
    debug_assert!(d.is_ascii());
    let i = s.bytes().position(|c| c == d)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn split_once_byte_is_split_once() {
        for s in ["", ":", "a:b", "ab", "é:ü:x", "::", "x:"] {
            assert_eq!(super::split_once_byte(s, b':'), s.split_once(':'), "{s:?}");
        }
    }
}
