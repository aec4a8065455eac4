//! Advanced Mobile Location (ETSI TS 103 625; ETSI TR 103 393): the handset sends its
//! position during an emergency call, by SMS or HTTPS. Three wire forms are read:
//!
//! * the SMS text form, v1 `A"ML=1;lt=…;lg=…;rd=…;top=…;lc=…;pm=…;si=…;ei=…;mcc=…;mnc=…;ml=…`
//!   and the v2 ("ELS") form `A"ML=2;en=…;et=…;lo=lat,lon,acc;lt=…;lc=…;lz=…;ls=…;…`;
//! * the data-SMS form: the same text GSM 7-bit packed (3GPP TS 23.038 §6.1.2.1.1), here
//!   as bytes or hex;
//! * the HTTPS POST body, `application/x-www-form-urlencoded` (`v=1&device_number=…&
//!   location_latitude=…`), optionally signed with `hmac=` = HMAC-SHA1 over the body
//!   before `&hmac=` with a shared key, checked when a key is configured.
//!
//! Published examples carry a wrong `ml` (message length): it is tolerated and reported
//! as [`AmlFix::length_mismatch`]. Field meanings of v2 follow the ELS beta examples
//! (`lt` = seconds from `et`, the call start, to the fix); the ETSI text itself was not
//! available when this was written.
//!
//! Sanity rules (ours; the fix decides which location a handler sees):
//! - The accuracy (v1 `rd`, v2 third `lo` value, HTTPS `location_accuracy`) is the
//!   radius in metres of the area the handset is in (ETSI TS 103 625, TR 103 393
//!   examples). When given it must be finite, at least [`MIN_UNCERTAINTY_M`] (1 cm) and
//!   at most [`MAX_UNCERTAINTY_M`] (100 km, as for PIDF-LO):
//!   0 m is no measurement (read as exact it would beat every real fix; read as unknown
//!   it would quietly rank below them), so it is a [`AmlError::BadField`] and the HTTPS
//!   sender gets 400. A fix without accuracy omits it (or sends `rd=N`) and is kept with
//!   an unknown radius.
//! - A time of positioning more than [`MAX_FIX_AGE_MS`] (1 h) old is refused by
//!   [`check_time`] ([`AmlError::TimeTooOld`]): it is not where the caller is now.
//! - A time of positioning more than [`MAX_CLOCK_AHEAD_MS`] (5 min) ahead of the
//!   receiver's clock is refused by [`check_time`] ([`AmlError::TimeInFuture`]): the
//!   best fix is chosen by newest time among equals, so a far-future time (a year-5138
//!   `location_time`) would otherwise displace every later, real fix. The parsers have
//!   no clock; the layer that receives the report (HTTP `POST /api/aml`) calls it.
//! - The HTTPS `location_time` is Unix ms (ETSI TR 103 393 HTTPS example
//!   `location_time=1476189444435`). A value below [`SECONDS_BELOW`] (10^11: before
//!   1973-03-03 as ms, year 5138 as s) is Unix *seconds*, as some senders send it: read as
//!   ms it would put the fix 56 years in the past, so the handler would see it as stale
//!   and any later fix would win regardless of its age. It is read as seconds and
//!   reported as [`AmlFix::time_in_seconds`].

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha1::Sha1;

use super::multipart::percent_decode;
pub use super::pidf::{MAX_UNCERTAINTY_M, MIN_UNCERTAINTY_M};
use super::time::parse_compact_utc_ms;

/// Longest accepted AML text or form body, bytes (a concatenated SMS is at most a few
/// hundred characters; HTTPS bodies are ~500 bytes).
pub const MAX_AML_BYTES: usize = 4096;
/// Most `key=value` fields read from one message.
pub const MAX_AML_FIELDS: usize = 64;
/// How far a time of positioning may be ahead of the receiver's clock, ms (handset and
/// server clock skew; handsets take time from the network or GNSS, so minutes of skew
/// are already a fault). See [`check_time`].
pub const MAX_CLOCK_AHEAD_MS: i64 = 5 * 60 * 1000;
/// How old a time of positioning may be, ms. AML positions the handset for the call in
/// progress and sends within seconds (ETSI TR 103 393: the handset starts positioning when
/// the emergency call starts); a fix an hour old is a cached last-known position, not
/// where the caller is, and a time near 1970 is a sender's fault. Older fixes are refused
/// ([`check_time`]): the best fix is chosen by radius first, so an old, tight one would
/// otherwise displace the call's real, fresh fix.
pub const MAX_FIX_AGE_MS: i64 = 60 * 60 * 1000;
/// An HTTPS `location_time` below this is Unix seconds, not ms (10^11 ms is 1973-03-03;
/// 10^11 s is the year 5138, refused by [`check_time`] anyway).
pub const SECONDS_BELOW: i64 = 100_000_000_000;

/// Errors in an AML message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmlError {
    /// Larger than [`MAX_AML_BYTES`].
    #[error("AML message larger than {MAX_AML_BYTES} bytes")]
    TooLarge,
    /// More than [`MAX_AML_FIELDS`] fields.
    #[error("more than {MAX_AML_FIELDS} fields")]
    TooManyFields,
    /// The SMS text does not start with the `A"ML=` header.
    #[error("not an AML message (no A\"ML= header)")]
    NotAml,
    /// A version other than 1 or 2.
    #[error("unsupported AML version {0:?}")]
    UnsupportedVersion(String),
    /// A required field is missing.
    #[error("missing field {0}")]
    MissingField(&'static str),
    /// A field with an unusable value.
    #[error("field {field} has bad value {value:?}")]
    BadField {
        /// Field name.
        field: &'static str,
        /// The value (first 32 characters).
        value: String,
    },
    /// Hex input with an odd length or a non-hex digit.
    #[error("data SMS is not valid hex")]
    BadHex,
    /// A GSM 7-bit code with no ASCII equivalent in an AML message.
    #[error("data SMS contains GSM code {0:#04x} not used by AML")]
    BadGsmCharacter(u8),
    /// Not UTF-8 (HTTPS form) or a bad %-escape.
    #[error("form body is not valid UTF-8 / percent-encoding")]
    BadEncoding,
    /// An HMAC key is configured and the body has no `hmac` parameter.
    #[error("hmac parameter missing")]
    HmacMissing,
    /// The `hmac` parameter does not match HMAC-SHA1(key, body before `&hmac=`).
    #[error("hmac does not match")]
    HmacMismatch,
    /// The time of positioning is more than [`MAX_CLOCK_AHEAD_MS`] ahead of the
    /// receiver's clock ([`check_time`]).
    #[error("{field} is {ahead_s} s in the future (at most {} s of clock skew accepted)", MAX_CLOCK_AHEAD_MS / 1000)]
    TimeInFuture {
        /// The field that carried the time (`location_time`, `top`, `lt`).
        field: &'static str,
        /// How far ahead, s.
        ahead_s: i64,
    },
    /// The time of positioning is more than [`MAX_FIX_AGE_MS`] before the receiver's
    /// clock ([`check_time`]).
    #[error("{field} is {age_s} s old (at most {} s accepted)", MAX_FIX_AGE_MS / 1000)]
    TimeTooOld {
        /// The field that carried the time (`location_time`, `top`, `lt`).
        field: &'static str,
        /// How old, s.
        age_s: i64,
    },
}

/// How the message arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AmlTransport {
    /// SMS, text form.
    SmsText,
    /// SMS, GSM 7-bit packed data form.
    SmsData,
    /// HTTPS form POST.
    Https,
}

/// Positioning method (`pm` v1, `ls` v2, `location_source` HTTPS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PositioningMethod {
    /// GNSS (`G`, `GPS`).
    Gnss,
    /// Wi-Fi (`W`, `WIFI`).
    Wifi,
    /// Cell (`C`, `CELL`).
    Cell,
    /// Fused (`F`, `FUSED`).
    Fused,
    /// No location available (`N`).
    None,
    /// Anything else (`U`, unknown codes).
    Unknown,
}

impl PositioningMethod {
    fn from_code(s: &str) -> PositioningMethod {
        match s.trim().to_ascii_uppercase().as_str() {
            "G" | "GPS" | "GNSS" => PositioningMethod::Gnss,
            "W" | "WIFI" | "WI-FI" => PositioningMethod::Wifi,
            "C" | "CELL" => PositioningMethod::Cell,
            "F" | "FUSED" | "HYBRID" => PositioningMethod::Fused,
            "N" | "NONE" | "NO_LOCATION" => PositioningMethod::None,
            _ => PositioningMethod::Unknown,
        }
    }

    /// Lower-case name for summaries (`gnss`, `wifi`, `cell`, `fused`, `none`, `unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            PositioningMethod::Gnss => "gnss",
            PositioningMethod::Wifi => "wifi",
            PositioningMethod::Cell => "cell",
            PositioningMethod::Fused => "fused",
            PositioningMethod::None => "none",
            PositioningMethod::Unknown => "unknown",
        }
    }
}

/// A WGS 84 position from AML.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AmlPosition {
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Horizontal accuracy radius, m, in [[`MIN_UNCERTAINTY_M`], [`MAX_UNCERTAINTY_M`]];
    /// `None` when unknown (not sent, or `rd=N`).
    pub radius_m: Option<f64>,
}

/// One AML location report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AmlFix {
    /// AML version (1 or 2).
    pub version: u8,
    /// Wire form it came in.
    pub transport: AmlTransport,
    /// The position; `None` when the handset had no location (`pm=N`).
    pub position: Option<AmlPosition>,
    /// Time of positioning, Unix ms (v1 `top`, v2 `et`+`lt`, HTTPS `location_time`).
    pub time_of_positioning_ms: Option<i64>,
    /// Level of confidence, %.
    pub confidence_pct: Option<f64>,
    /// Positioning method.
    pub method: PositioningMethod,
    /// Altitude, m (v2 `lz`, HTTPS `location_altitude`).
    pub altitude_m: Option<f64>,
    /// Floor (HTTPS `location_floor`).
    pub floor: Option<String>,
    /// Caller number carried in the message (HTTPS `device_number`); SMS carries it in
    /// the transport (the originating address), not the text.
    pub device_number: Option<String>,
    /// Emergency number dialled (v2 `en`).
    pub emergency_number: Option<String>,
    /// Call start, Unix ms (v2 `et`).
    pub call_start_ms: Option<i64>,
    /// IMSI (`si`, `device_imsi`).
    pub imsi: Option<String>,
    /// IMEI (`ei`, `device_imei`).
    pub imei: Option<String>,
    /// Network MCC (`mcc`, v2 `nc`, `cell_network_mcc`).
    pub mcc: Option<String>,
    /// Network MNC.
    pub mnc: Option<String>,
    /// v1 `ml` differs from the real length (tolerated).
    pub length_mismatch: bool,
    /// HTTPS: the `hmac` was checked against a configured key and matched.
    pub authenticated: bool,
    /// HTTPS: `location_time` was below [`SECONDS_BELOW`] and read as Unix seconds.
    pub time_in_seconds: bool,
}

impl AmlFix {
    fn empty(version: u8, transport: AmlTransport) -> AmlFix {
        AmlFix {
            version,
            transport,
            position: None,
            time_of_positioning_ms: None,
            confidence_pct: None,
            method: PositioningMethod::Unknown,
            altitude_m: None,
            floor: None,
            device_number: None,
            emergency_number: None,
            call_start_ms: None,
            imsi: None,
            imei: None,
            mcc: None,
            mnc: None,
            length_mismatch: false,
            authenticated: false,
            time_in_seconds: false,
        }
    }
}

fn bad(field: &'static str, value: &str) -> AmlError {
    AmlError::BadField {
        field,
        value: value.chars().take(32).collect(),
    }
}

fn f64_field(field: &'static str, v: &str) -> Result<f64, AmlError> {
    match v.trim().parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => Err(bad(field, v)),
    }
}

/// Field names of the latitude, longitude and radius as the sender wrote them (the SMS
/// v1 `lt`/`lg`/`rd`, the SMS v2 `lo`, or the HTTPS form's `location_*`), for errors.
type PosNames = [&'static str; 3];
const SMS1_NAMES: PosNames = ["lt", "lg", "rd"];
const SMS2_NAMES: PosNames = ["lo", "lo", "lo"];
const FORM_NAMES: PosNames = [
    "location_latitude",
    "location_longitude",
    "location_accuracy",
];

fn position(
    lat: f64,
    lon: f64,
    radius: Option<f64>,
    names: PosNames,
) -> Result<AmlPosition, AmlError> {
    let [lat_name, lon_name, radius_name] = names;
    if !(-90.0..=90.0).contains(&lat) {
        return Err(bad(lat_name, &lat.to_string()));
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err(bad(lon_name, &lon.to_string()));
    }
    // Finite already (`f64_field`); 0 m (or under 1 cm) is no measurement (module docs).
    let radius_m = match radius {
        Some(r) if !(MIN_UNCERTAINTY_M..=MAX_UNCERTAINTY_M).contains(&r) => {
            return Err(bad(radius_name, &r.to_string()))
        }
        r => r,
    };
    Ok(AmlPosition { lat, lon, radius_m })
}

fn confidence(v: &str, name: &'static str) -> Result<f64, AmlError> {
    let c = f64_field(name, v)?;
    if (0.0..=100.0).contains(&c) {
        Ok(c)
    } else {
        Err(bad(name, v))
    }
}

fn nonempty(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_owned())
}

/// Parses the SMS text form, v1 or v2.
///
/// # Errors
/// [`AmlError`] for a missing header, unsupported version, missing latitude/longitude
/// (unless the method is `N`), or unparseable values. A wrong `ml` is not an error.
pub fn parse_sms_text(text: &str) -> Result<AmlFix, AmlError> {
    parse_text(text, AmlTransport::SmsText)
}

fn parse_text(text: &str, transport: AmlTransport) -> Result<AmlFix, AmlError> {
    if text.len() > MAX_AML_BYTES {
        return Err(AmlError::TooLarge);
    }
    let text = text.trim_end_matches(['\r', '\n', '\0']);
    let mut fields = Vec::new();
    for f in text.split(';') {
        if fields.len() == MAX_AML_FIELDS {
            return Err(AmlError::TooManyFields);
        }
        if let Some((k, v)) = f.split_once('=') {
            fields.push((k.trim(), v.trim()));
        }
    }
    let version = match fields.first() {
        Some((k, v)) if k.eq_ignore_ascii_case("A\"ML") => *v,
        _ => return Err(AmlError::NotAml),
    };
    match version {
        "1" => parse_v1(text, &fields, transport),
        "2" => parse_v2(&fields, transport),
        v => Err(AmlError::UnsupportedVersion(v.chars().take(8).collect())),
    }
}

fn get<'a>(fields: &[(&'a str, &'a str)], key: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

fn parse_v1(
    text: &str,
    fields: &[(&str, &str)],
    transport: AmlTransport,
) -> Result<AmlFix, AmlError> {
    let mut fix = AmlFix::empty(1, transport);
    fix.method = get(fields, "pm").map_or(PositioningMethod::Unknown, PositioningMethod::from_code);
    if fix.method != PositioningMethod::None {
        let lat = f64_field("lt", get(fields, "lt").ok_or(AmlError::MissingField("lt"))?)?;
        let lon = f64_field("lg", get(fields, "lg").ok_or(AmlError::MissingField("lg"))?)?;
        let radius = match get(fields, "rd") {
            None => None,
            Some(r) if r.eq_ignore_ascii_case("N") => None,
            Some(r) => Some(f64_field("rd", r)?),
        };
        fix.position = Some(position(lat, lon, radius, SMS1_NAMES)?);
    }
    if let Some(top) = get(fields, "top") {
        fix.time_of_positioning_ms =
            Some(parse_compact_utc_ms(top).ok_or_else(|| bad("top", top))?);
    }
    if let Some(lc) = get(fields, "lc") {
        fix.confidence_pct = Some(confidence(lc, "lc")?);
    }
    fix.imsi = get(fields, "si").and_then(nonempty);
    fix.imei = get(fields, "ei").and_then(nonempty);
    fix.mcc = get(fields, "mcc").and_then(nonempty);
    fix.mnc = get(fields, "mnc").and_then(nonempty);
    if let Some(ml) = get(fields, "ml") {
        fix.length_mismatch = ml.parse::<usize>().ok() != Some(text.len());
    }
    Ok(fix)
}

fn parse_v2(fields: &[(&str, &str)], transport: AmlTransport) -> Result<AmlFix, AmlError> {
    let mut fix = AmlFix::empty(2, transport);
    fix.method = get(fields, "ls").map_or(PositioningMethod::Unknown, PositioningMethod::from_code);
    fix.emergency_number = get(fields, "en").and_then(nonempty);
    if let Some(et) = get(fields, "et") {
        let s = et.parse::<i64>().map_err(|_| bad("et", et))?;
        fix.call_start_ms = s.checked_mul(1000);
    }
    if let Some(lo) = get(fields, "lo") {
        let mut it = lo.split(',');
        let lat = f64_field("lo", it.next().unwrap_or(""))?;
        let lon = f64_field("lo", it.next().ok_or_else(|| bad("lo", lo))?)?;
        let acc = it.next().map(|a| f64_field("lo", a)).transpose()?;
        fix.position = Some(position(lat, lon, acc, SMS2_NAMES)?);
    } else if fix.method != PositioningMethod::None {
        return Err(AmlError::MissingField("lo"));
    }
    if let (Some(start), Some(lt)) = (fix.call_start_ms, get(fields, "lt")) {
        let off = lt.parse::<i64>().map_err(|_| bad("lt", lt))?;
        fix.time_of_positioning_ms = off.checked_mul(1000).and_then(|o| start.checked_add(o));
    }
    if let Some(lc) = get(fields, "lc") {
        fix.confidence_pct = Some(confidence(lc, "lc")?);
    }
    if let Some(lz) = get(fields, "lz") {
        fix.altitude_m = Some(f64_field("lz", lz.split(',').next().unwrap_or(""))?);
    }
    fix.imei = get(fields, "ei").and_then(nonempty);
    if let Some(nc) = get(fields, "nc") {
        if let (Some(mcc), Some(mnc)) = (nc.get(..3), nc.get(3..)) {
            if mnc.len() >= 2 {
                fix.mcc = Some(mcc.to_owned());
                fix.mnc = Some(mnc.to_owned());
            }
        }
    }
    Ok(fix)
}

/// Refuses a fix whose time of positioning is more than [`MAX_CLOCK_AHEAD_MS`] ahead of
/// `now_unix_ms` (the receiver's wall clock, Unix ms) or more than [`MAX_FIX_AGE_MS`]
/// behind it. A fix without a time passes; one within the window passes with its age
/// shown to the handler.
///
/// # Errors
/// [`AmlError::TimeInFuture`] / [`AmlError::TimeTooOld`] naming the field the time came
/// from.
pub fn check_time(fix: &AmlFix, now_unix_ms: i64) -> Result<(), AmlError> {
    let Some(t) = fix.time_of_positioning_ms else {
        return Ok(());
    };
    let field = match (fix.transport, fix.version) {
        (AmlTransport::Https, _) => "location_time",
        (_, 1) => "top",
        _ => "lt",
    };
    let ahead_ms = t.saturating_sub(now_unix_ms);
    if ahead_ms > MAX_CLOCK_AHEAD_MS {
        return Err(AmlError::TimeInFuture {
            field,
            ahead_s: ahead_ms / 1000,
        });
    }
    if -ahead_ms > MAX_FIX_AGE_MS {
        return Err(AmlError::TimeTooOld {
            field,
            age_s: -ahead_ms / 1000,
        });
    }
    Ok(())
}

/// Unpacks GSM 7-bit packed septets (3GPP TS 23.038 §6.1.2.1.1) and maps them to ASCII
/// (AML uses only characters whose GSM default-alphabet codes equal ASCII).
///
/// # Errors
/// [`AmlError::BadGsmCharacter`] for a code AML never uses.
pub fn unpack_gsm7(packed: &[u8]) -> Result<String, AmlError> {
    let n = packed.len() * 8 / 7;
    let mut out = String::with_capacity(n);
    for i in 0..n {
        let bit = i * 7;
        let byte = bit / 8;
        let shift = bit % 8;
        let lo = u16::from(packed.get(byte).copied().unwrap_or(0));
        let hi = u16::from(packed.get(byte + 1).copied().unwrap_or(0));
        let septet = (((hi << 8) | lo) >> shift) as u8 & 0x7f;
        let c = match septet {
            0x00 => '@',
            0x02 => '$',
            0x0a => '\n',
            0x0d => '\r',
            0x11 => '_',
            0x20..=0x23 | 0x25..=0x3f | 0x41..=0x5a | 0x61..=0x7a => septet as char,
            other => return Err(AmlError::BadGsmCharacter(other)),
        };
        out.push(c);
    }
    // A final septet of fill bits (7 spare bits decode as '@') is not content.
    if packed.len() % 7 == 0 && out.ends_with('@') {
        out.pop();
    }
    Ok(out)
}

/// Parses the data-SMS form: GSM 7-bit packed bytes carrying the text form.
///
/// # Errors
/// [`AmlError`] from unpacking or from [`parse_sms_text`].
pub fn parse_sms_data(packed: &[u8]) -> Result<AmlFix, AmlError> {
    if packed.len() > MAX_AML_BYTES {
        return Err(AmlError::TooLarge);
    }
    parse_text(&unpack_gsm7(packed)?, AmlTransport::SmsData)
}

/// [`parse_sms_data`] from hex text (whitespace ignored).
///
/// # Errors
/// [`AmlError::BadHex`], or as [`parse_sms_data`].
pub fn parse_sms_data_hex(hex_text: &str) -> Result<AmlFix, AmlError> {
    if hex_text.len() > 2 * MAX_AML_BYTES {
        return Err(AmlError::TooLarge);
    }
    let compact: String = hex_text.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = hex::decode(compact).map_err(|_| AmlError::BadHex)?;
    parse_sms_data(&bytes)
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` = space).
fn form_decode(s: &str) -> Result<String, AmlError> {
    percent_decode(&s.replace('+', " ")).ok_or(AmlError::BadEncoding)
}

/// Parses the HTTPS form body. When `hmac_key` is given, the body must end with
/// `&hmac=<40 hex>` equal to HMAC-SHA1(key, body before `&hmac=`) (checked in constant
/// time); without a key any `hmac` is ignored and [`AmlFix::authenticated`] is false.
///
/// # Errors
/// [`AmlError::HmacMissing`], [`AmlError::HmacMismatch`], [`AmlError::BadEncoding`],
/// [`AmlError::MissingField`] for latitude/longitude, or a [`AmlError::BadField`].
pub fn parse_https_form(body: &[u8], hmac_key: Option<&[u8]>) -> Result<AmlFix, AmlError> {
    if body.len() > MAX_AML_BYTES {
        return Err(AmlError::TooLarge);
    }
    let text = std::str::from_utf8(body).map_err(|_| AmlError::BadEncoding)?;
    let text = text.trim_end_matches(['\r', '\n']);
    let mut authenticated = false;
    if let Some(key) = hmac_key {
        let idx = text.rfind("&hmac=").ok_or(AmlError::HmacMissing)?;
        let given = hex::decode(text.get(idx + 6..).unwrap_or("").trim())
            .map_err(|_| AmlError::HmacMismatch)?;
        let mut mac =
            <Hmac<Sha1> as Mac>::new_from_slice(key).map_err(|_| AmlError::HmacMismatch)?;
        mac.update(text.as_bytes().get(..idx).unwrap_or_default());
        mac.verify_slice(&given)
            .map_err(|_| AmlError::HmacMismatch)?;
        authenticated = true;
    }
    let mut fields: Vec<(String, String)> = Vec::new();
    for pair in text.split('&') {
        if fields.len() == MAX_AML_FIELDS {
            return Err(AmlError::TooManyFields);
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        fields.push((form_decode(k)?, form_decode(v)?));
    }
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty())
    };
    let version = match get("v") {
        Some(v) => v
            .trim()
            .parse::<u8>()
            .map_err(|_| AmlError::UnsupportedVersion(v.chars().take(8).collect()))?,
        None => 1,
    };
    if !(1..=2).contains(&version) {
        return Err(AmlError::UnsupportedVersion(version.to_string()));
    }
    let mut fix = AmlFix::empty(version, AmlTransport::Https);
    fix.authenticated = authenticated;
    fix.method =
        get("location_source").map_or(PositioningMethod::Unknown, PositioningMethod::from_code);
    let lat = f64_field(
        "location_latitude",
        get("location_latitude").ok_or(AmlError::MissingField("location_latitude"))?,
    )?;
    let lon = f64_field(
        "location_longitude",
        get("location_longitude").ok_or(AmlError::MissingField("location_longitude"))?,
    )?;
    let acc = get("location_accuracy")
        .map(|a| f64_field("location_accuracy", a))
        .transpose()?;
    fix.position = Some(position(lat, lon, acc, FORM_NAMES)?);
    if let Some(t) = get("location_time") {
        // Unix ms (or s below `SECONDS_BELOW`, a fraction allowed); a negative time is no
        // time of positioning.
        let v = t
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0 && *v < 9.0e15)
            .ok_or_else(|| bad("location_time", t))?;
        fix.time_in_seconds = v < SECONDS_BELOW as f64;
        fix.time_of_positioning_ms = Some(if fix.time_in_seconds {
            (v * 1000.0).round() as i64
        } else {
            v.trunc() as i64
        });
    }
    if let Some(c) = get("location_certainty") {
        fix.confidence_pct = Some(confidence(c, "location_certainty")?);
    }
    // Altitude within the same ±100 km as every distance (PIDF-LO rules, `pidf`).
    fix.altitude_m = get("location_altitude")
        .map(|a| {
            f64_field("location_altitude", a).and_then(|m| {
                if m.abs() <= super::pidf::MAX_UNCERTAINTY_M {
                    Ok(m)
                } else {
                    Err(bad("location_altitude", a))
                }
            })
        })
        .transpose()?;
    fix.floor = get("location_floor").and_then(nonempty);
    fix.device_number = get("device_number").and_then(nonempty);
    fix.imei = get("device_imei").and_then(nonempty);
    fix.imsi = get("device_imsi").and_then(nonempty);
    fix.mcc = get("cell_network_mcc").and_then(nonempty);
    fix.mnc = get("cell_network_mnc").and_then(nonempty);
    Ok(fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_aml_and_versions() {
        assert_eq!(parse_sms_text("hello"), Err(AmlError::NotAml));
        assert_eq!(
            parse_sms_text("A\"ML=3;lt=1"),
            Err(AmlError::UnsupportedVersion("3".into()))
        );
        assert_eq!(
            parse_sms_text("A\"ML=1;lg=1;pm=G"),
            Err(AmlError::MissingField("lt"))
        );
        assert!(matches!(
            parse_sms_text("A\"ML=1;lt=95;lg=1;pm=G"),
            Err(AmlError::BadField { field: "lt", .. })
        ));
        assert!(matches!(
            parse_sms_text("A\"ML=1;lt=1;lg=1;top=2019;pm=G"),
            Err(AmlError::BadField { field: "top", .. })
        ));
    }

    #[test]
    fn https_form_versions_other_than_1_and_2_are_refused() {
        for v in ["0", "3", "9"] {
            let form = format!("v={v}&location_latitude=1&location_longitude=2");
            assert_eq!(
                parse_https_form(form.as_bytes(), None),
                Err(AmlError::UnsupportedVersion(v.into()))
            );
        }
        for v in ["1", "2"] {
            let form =
                format!("v={v}&location_latitude=1&location_longitude=2&location_altitude=-30");
            let fix = parse_https_form(form.as_bytes(), None).unwrap();
            assert_eq!(fix.altitude_m, Some(-30.0));
        }
    }

    #[test]
    fn hmac_required_when_key_set() {
        let body = b"v=1&location_latitude=1&location_longitude=2";
        assert_eq!(
            parse_https_form(body, Some(b"k")),
            Err(AmlError::HmacMissing)
        );
        let with = b"v=1&location_latitude=1&location_longitude=2&hmac=00";
        assert_eq!(
            parse_https_form(with, Some(b"k")),
            Err(AmlError::HmacMismatch)
        );
        let ok = parse_https_form(with, None).unwrap();
        assert!(!ok.authenticated);
        // Errors name the form field actually sent, not the SMS key.
        for (form, field) in [
            (
                &b"location_latitude=91&location_longitude=2"[..],
                "location_latitude",
            ),
            (
                b"location_latitude=1&location_longitude=181",
                "location_longitude",
            ),
            (
                b"location_latitude=1&location_longitude=2&location_accuracy=-3",
                "location_accuracy",
            ),
            (
                b"location_latitude=1&location_longitude=2&location_certainty=101",
                "location_certainty",
            ),
            (
                b"location_latitude=1&location_longitude=2&location_time=-9223372036854775808",
                "location_time",
            ),
            (
                b"location_latitude=1&location_longitude=2&location_altitude=1e308",
                "location_altitude",
            ),
        ] {
            assert!(
                matches!(parse_https_form(form, None), Err(AmlError::BadField { field: f, .. }) if f == field),
                "{field}"
            );
        }
    }

    #[test]
    fn accuracy_must_be_a_radius_of_0_to_100_km() {
        for acc in [
            "0", "-3", "0.0", "1e-300", "0.009", "100000.5", "1e308", "inf", "NaN",
        ] {
            let form = format!("location_latitude=1&location_longitude=2&location_accuracy={acc}");
            assert!(
                matches!(
                    parse_https_form(form.as_bytes(), None),
                    Err(AmlError::BadField {
                        field: "location_accuracy",
                        ..
                    })
                ),
                "{acc}"
            );
            let sms = format!("A\"ML=1;lt=1;lg=2;rd={acc};pm=G");
            assert!(
                matches!(
                    parse_sms_text(&sms),
                    Err(AmlError::BadField { field: "rd", .. })
                ),
                "{acc}"
            );
        }
        for (acc, want) in [
            ("0.5", Some(0.5)),
            ("0.01", Some(0.01)),
            ("100000", Some(100_000.0)),
        ] {
            let form = format!("location_latitude=1&location_longitude=2&location_accuracy={acc}");
            let fix = parse_https_form(form.as_bytes(), None).unwrap();
            assert_eq!(fix.position.unwrap().radius_m, want);
        }
        // Unknown accuracy is said by leaving it out (or rd=N).
        let fix = parse_https_form(b"location_latitude=1&location_longitude=2", None).unwrap();
        assert_eq!(fix.position.unwrap().radius_m, None);
        let fix = parse_sms_text("A\"ML=1;lt=1;lg=2;rd=N;pm=G").unwrap();
        assert_eq!(fix.position.unwrap().radius_m, None);
    }

    #[test]
    fn time_of_positioning_in_the_future_is_refused() {
        let now = 1_764_374_400_000; // 2025-11-29T00:00:00Z
        let at = |t: i64| {
            parse_https_form(
                format!("location_latitude=1&location_longitude=2&location_time={t}").as_bytes(),
                None,
            )
            .unwrap()
        };
        assert_eq!(check_time(&at(now - 3_600_000), now), Ok(()));
        assert_eq!(check_time(&at(now + MAX_CLOCK_AHEAD_MS), now), Ok(()));
        assert_eq!(
            check_time(&at(now + MAX_CLOCK_AHEAD_MS + 1000), now),
            Err(AmlError::TimeInFuture {
                field: "location_time",
                ahead_s: 301
            })
        );
        // Year 5138 (the SMS form's compact UTC time).
        let sms = parse_sms_text("A\"ML=1;lt=1;lg=2;rd=5;top=51380101000000;pm=G").unwrap();
        assert!(matches!(
            check_time(&sms, now),
            Err(AmlError::TimeInFuture { field: "top", ahead_s }) if ahead_s > 3_000 * 365 * 86_400
        ));
        // Unix seconds (some senders): read as such, and checked like any other time.
        let secs = at(now / 1000 - 60);
        assert!(secs.time_in_seconds);
        assert_eq!(secs.time_of_positioning_ms, Some(now - 60_000));
        assert_eq!(check_time(&secs, now), Ok(()));
        assert!(matches!(
            check_time(&at(SECONDS_BELOW - 1), now),
            Err(AmlError::TimeInFuture {
                field: "location_time",
                ..
            })
        ));
        // Fractional seconds, to the ms.
        let frac = at(0).time_of_positioning_ms;
        assert_eq!(frac, Some(0));
        let frac = parse_https_form(
            b"location_latitude=1&location_longitude=2&location_time=1764374399.5",
            None,
        )
        .unwrap();
        assert_eq!(frac.time_of_positioning_ms, Some(now - 500));
        assert!(frac.time_in_seconds);
        // Older than an hour: not where the caller is now (1970 is a sender's fault).
        for t in [0, now / 1000 - 3_601] {
            assert!(matches!(
                check_time(&at(t), now),
                Err(AmlError::TimeTooOld { field: "location_time", age_s }) if age_s > 3_600
            ));
        }
        // The spec's ms (the corpus example): not seconds.
        let ms = at(1_476_189_444_435);
        assert!(!ms.time_in_seconds);
        assert_eq!(ms.time_of_positioning_ms, Some(1_476_189_444_435));
        // No time at all: nothing to check.
        let none = parse_https_form(b"location_latitude=1&location_longitude=2", None).unwrap();
        assert_eq!(check_time(&none, now), Ok(()));
    }

    #[test]
    fn gsm7_round_trip_of_ascii() {
        // "hellohello" packed per 3GPP TS 23.038 example.
        let packed = hex::decode("E8329BFD4697D9EC37").unwrap();
        assert_eq!(unpack_gsm7(&packed).unwrap(), "hellohello");
    }
}
