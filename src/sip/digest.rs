//! HTTP Digest authentication, server side, for SIP REGISTER: RFC 3261 §22.4 (Digest in SIP),
//! RFC 7616 §3.3–§3.4 (challenge, response, SHA-256), RFC 8760 (SHA-256 and MD5 for SIP,
//! one challenge per algorithm, SHA-256 first, §2.4), `qop=auth` only. Sans-IO: time comes in
//! as seconds (`now_s`, any monotonic or Unix epoch the caller keeps consistent), randomness
//! comes in as a number.
//!
//! # Flow
//!
//! 1. A REGISTER arrives without `Authorization`: answer 401 with one `WWW-Authenticate`
//!    header per value of [`DigestServer::challenge`].
//! 2. The REGISTER is retried with `Authorization`: [`Authorization::parse`] the header value
//!    and [`DigestServer::verify`] it against a [`Credentials`] store.
//! 3. `Err(AuthError::Stale)`: the password was right but the nonce has expired; challenge
//!    again with `stale = true` so the phone retries without asking its user.
//!
//! # Nonces
//!
//! Stateless and verifiable: `hex(timestamp_s ‖ random ‖ HMAC-SHA-256(secret, timestamp ‖
//! random ‖ realm)[..16])`, 64 hex characters. A nonce the server did not mint fails its MAC
//! ([`AuthError::BadNonce`]); one older than the lifetime is [`AuthError::Stale`]. Nonce-count
//! replay tracking is not done (that needs state); the nonce lifetime bounds replays.

use std::collections::{BTreeMap, HashMap};

use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::{Digest as _, Sha256};

/// Longest `Authorization` / `WWW-Authenticate` value accepted, bytes.
pub const MAX_HEADER_LEN: usize = 4096;
/// Most parameters accepted in one header value.
pub const MAX_PARAMS: usize = 32;
/// Longest single parameter value accepted (after unescaping), bytes.
pub const MAX_VALUE_LEN: usize = 1024;
/// Allowed clock skew for nonces "from the future", seconds.
const FUTURE_SKEW_S: u64 = 5;

/// A digest algorithm (RFC 7616 §3.3, RFC 8760 §2). The `-sess` variants are not offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `SHA-256`, preferred (RFC 8760 §2.4: offered first).
    Sha256,
    /// `MD5`, for older phones (RFC 2617, RFC 3261 §22.4).
    Md5,
}

impl Algorithm {
    /// The token as written in the header (`SHA-256`, `MD5`).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Md5 => "MD5",
        }
    }

    /// Parses the algorithm token, case-insensitively (RFC 7616 §3.3: tokens are
    /// case-insensitive). Errors: [`AuthError::UnsupportedAlgorithm`].
    pub fn parse(token: &str) -> Result<Self, AuthError> {
        if token.eq_ignore_ascii_case("SHA-256") {
            Ok(Algorithm::Sha256)
        } else if token.eq_ignore_ascii_case("MD5") {
            Ok(Algorithm::Md5)
        } else {
            Err(AuthError::UnsupportedAlgorithm(truncate(token)))
        }
    }

    /// Lower-case hex of the hash of `data`.
    pub fn hash_hex(self, data: &[u8]) -> String {
        match self {
            Algorithm::Sha256 => hex::encode(Sha256::digest(data)),
            Algorithm::Md5 => hex::encode(Md5::digest(data)),
        }
    }
}

/// Why an `Authorization` header was not accepted. Each maps to a 401 (new challenge) or a
/// 400 (malformed); [`AuthError::Stale`] maps to 401 with `stale=true`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The header value is longer than [`MAX_HEADER_LEN`].
    #[error("header value is {0} bytes, over the {MAX_HEADER_LEN}-byte cap")]
    TooLong(usize),
    /// The scheme is not `Digest`.
    #[error("authentication scheme is not Digest")]
    NotDigest,
    /// The parameter list does not follow RFC 7616 §3.4 / RFC 3261 §25.1 syntax.
    #[error("malformed digest parameters at byte {0}")]
    Syntax(usize),
    /// More than [`MAX_PARAMS`] parameters.
    #[error("more than {MAX_PARAMS} parameters")]
    TooManyParams,
    /// A parameter value is longer than [`MAX_VALUE_LEN`].
    #[error("parameter {0} is over {MAX_VALUE_LEN} bytes")]
    ValueTooLong(String),
    /// A parameter appears twice.
    #[error("parameter {0} appears twice")]
    DuplicateParam(String),
    /// A required parameter is missing.
    #[error("missing parameter {0}")]
    MissingParam(&'static str),
    /// `algorithm` is neither SHA-256 nor MD5.
    #[error("unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// `qop` is not `auth` (auth-int is not offered).
    #[error("unsupported qop {0:?}")]
    UnsupportedQop(String),
    /// `nc` is not 8 hex digits.
    #[error("nonce count {0:?} is not 8 hex digits")]
    BadNonceCount(String),
    /// `userhash=true` (RFC 7616 §3.4.4) is not supported.
    #[error("userhash is not supported")]
    UserhashUnsupported,
    /// The realm is not ours.
    #[error("realm {0:?} is not this server's")]
    WrongRealm(String),
    /// The `uri` parameter differs from the Request-URI (RFC 7616 §3.4.6).
    #[error("digest uri does not match the Request-URI")]
    UriMismatch,
    /// The opaque value is not the one we sent.
    #[error("opaque value does not match")]
    OpaqueMismatch,
    /// The nonce was not minted by this server (or was altered).
    #[error("nonce was not issued by this server")]
    BadNonce,
    /// No such user.
    #[error("unknown user {0:?}")]
    UnknownUser(String),
    /// The response hash is wrong (wrong password, or altered message).
    #[error("digest response does not match")]
    WrongResponse,
    /// The response is right but the nonce has expired: challenge again with `stale=true`.
    #[error("nonce is stale")]
    Stale,
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// A source of passwords for [`DigestServer::verify`] (the `[[users]]` of the config).
pub trait Credentials {
    /// The password of `username`, if the user exists.
    fn password(&self, username: &str) -> Option<&str>;
}

impl Credentials for HashMap<String, String> {
    fn password(&self, username: &str) -> Option<&str> {
        self.get(username).map(String::as_str)
    }
}

impl Credentials for BTreeMap<String, String> {
    fn password(&self, username: &str) -> Option<&str> {
        self.get(username).map(String::as_str)
    }
}

/// A parsed `Authorization` header value (RFC 7616 §3.4, RFC 3261 §25.1 `credentials`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// `username`.
    pub username: String,
    /// `realm`.
    pub realm: String,
    /// `nonce`, as sent in the challenge.
    pub nonce: String,
    /// `uri` (digest-uri), the Request-URI of the request.
    pub uri: String,
    /// `response`, hex.
    pub response: String,
    /// `algorithm`; MD5 when absent (RFC 7616 §3.4).
    pub algorithm: Algorithm,
    /// `cnonce`.
    pub cnonce: Option<String>,
    /// `nc`, parsed from 8 hex digits.
    pub nc: Option<u32>,
    /// `nc` as sent (the hash uses the exact text).
    pub nc_text: Option<String>,
    /// `qop`; only `auth` is accepted.
    pub qop: Option<String>,
    /// `opaque`.
    pub opaque: Option<String>,
}

impl Authorization {
    /// Parses an `Authorization` (or `Proxy-Authorization`) header value such as
    /// `Digest username="alice", realm="answerpoint", nonce="…", uri="sip:…", response="…"`.
    ///
    /// Bounded: at most [`MAX_HEADER_LEN`] bytes, [`MAX_PARAMS`] parameters, values of at most
    /// [`MAX_VALUE_LEN`] bytes. Unknown parameters are ignored (RFC 7616 §3.4).
    ///
    /// Errors: the syntax variants of [`AuthError`], [`AuthError::MissingParam`] for
    /// username, realm, nonce, uri, response (and cnonce/nc when qop is present),
    /// [`AuthError::UnsupportedAlgorithm`], [`AuthError::UnsupportedQop`],
    /// [`AuthError::BadNonceCount`], [`AuthError::UserhashUnsupported`].
    pub fn parse(value: &str) -> Result<Self, AuthError> {
        let params = parse_digest_params(value)?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let need = |name: &'static str| get(name).ok_or(AuthError::MissingParam(name));
        if get("userhash").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Err(AuthError::UserhashUnsupported);
        }
        let algorithm = match get("algorithm") {
            Some(a) => Algorithm::parse(&a)?,
            None => Algorithm::Md5,
        };
        let qop = get("qop");
        if let Some(q) = &qop {
            if !q.eq_ignore_ascii_case("auth") {
                return Err(AuthError::UnsupportedQop(truncate(q)));
            }
        }
        let (cnonce, nc_text) = if qop.is_some() {
            (Some(need("cnonce")?), Some(need("nc")?))
        } else {
            (get("cnonce"), get("nc"))
        };
        let nc = match &nc_text {
            Some(t) => {
                if t.len() != 8 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(AuthError::BadNonceCount(truncate(t)));
                }
                Some(
                    u32::from_str_radix(t, 16)
                        .map_err(|_| AuthError::BadNonceCount(truncate(t)))?,
                )
            }
            None => None,
        };
        Ok(Authorization {
            username: need("username")?,
            realm: need("realm")?,
            nonce: need("nonce")?,
            uri: need("uri")?,
            response: need("response")?,
            algorithm,
            cnonce,
            nc,
            nc_text,
            qop,
            opaque: get("opaque"),
        })
    }
}

/// The request-digest of RFC 7616 §3.4.1 (RFC 2617 §3.2.2.1) with `qop=auth`, or the
/// RFC 2069 form when `qop_auth` is `None`, as lower-case hex.
///
/// `qop_auth = Some((nc, cnonce))` with `nc` the exact 8-hex-digit text sent by the client.
/// A1 = `username:realm:password`, A2 = `method:uri`.
#[allow(clippy::too_many_arguments)]
pub fn request_digest(
    algorithm: Algorithm,
    username: &str,
    realm: &str,
    password: &str,
    method: &str,
    uri: &str,
    nonce: &str,
    qop_auth: Option<(&str, &str)>,
) -> String {
    let ha1 = algorithm.hash_hex(format!("{username}:{realm}:{password}").as_bytes());
    let ha2 = algorithm.hash_hex(format!("{method}:{uri}").as_bytes());
    let kd = match qop_auth {
        Some((nc, cnonce)) => format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"),
        None => format!("{ha1}:{nonce}:{ha2}"),
    };
    algorithm.hash_hex(kd.as_bytes())
}

/// Who was authenticated by [`DigestServer::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The user name, as in the config.
    pub username: String,
    /// The algorithm the client used.
    pub algorithm: Algorithm,
}

/// The server side of Digest: mints challenges and verifies responses for one realm.
#[derive(Clone)]
pub struct DigestServer {
    realm: String,
    secret: Vec<u8>,
    nonce_lifetime_s: u64,
    opaque: String,
    algorithms: Vec<Algorithm>,
}

impl std::fmt::Debug for DigestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestServer")
            .field("realm", &self.realm)
            .field("nonce_lifetime_s", &self.nonce_lifetime_s)
            .finish_non_exhaustive()
    }
}

type HmacSha256 = Hmac<Sha256>;

impl DigestServer {
    /// A server for `realm` whose nonces are keyed by `secret` (random bytes chosen at start,
    /// or from config so several engine instances accept each other's nonces) and stay fresh
    /// for `nonce_lifetime_s` seconds.
    pub fn new(realm: &str, secret: &[u8], nonce_lifetime_s: u64) -> Self {
        let opaque = hex::encode(&mac(secret, &[b"opaque", realm.as_bytes()])[..8]);
        DigestServer {
            realm: realm.to_owned(),
            secret: secret.to_vec(),
            nonce_lifetime_s,
            opaque,
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
        }
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// A fresh nonce minted at `now_s` with the caller's `random` number.
    pub fn nonce(&self, now_s: u64, random: u64) -> String {
        let tag = mac(
            &self.secret,
            &[
                &now_s.to_be_bytes(),
                &random.to_be_bytes(),
                self.realm.as_bytes(),
            ],
        );
        let mut raw = Vec::with_capacity(32);
        raw.extend_from_slice(&now_s.to_be_bytes());
        raw.extend_from_slice(&random.to_be_bytes());
        raw.extend_from_slice(&tag[..16]);
        hex::encode(raw)
    }

    /// Offers only `algorithms`, in this order, in [`DigestServer::challenge`] (default:
    /// SHA-256 then MD5, RFC 8760 §2.4). Legacy phones whose digest client gives up on any
    /// non-MD5 challenge (baresip 1.0 / libre) need `[Md5]`. An empty list keeps the default.
    pub fn with_algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        if !algorithms.is_empty() {
            self.algorithms = algorithms.to_vec();
        }
        self
    }

    /// The `WWW-Authenticate` header values for a 401 (RFC 8760 §2.4: one header per
    /// algorithm, SHA-256 first, then MD5), sharing one nonce minted at `now_s`.
    /// `stale = true` after [`AuthError::Stale`] (RFC 7616 §3.3).
    ///
    /// Shape: `Digest realm="answerpoint", nonce="<64 hex>", opaque="<16 hex>",
    /// algorithm=SHA-256, qop="auth"` (plus `, stale=true`).
    pub fn challenge(&self, now_s: u64, random: u64, stale: bool) -> Vec<String> {
        let nonce = self.nonce(now_s, random);
        self.algorithms
            .iter()
            .map(|alg| {
                let mut v = format!(
                    "Digest realm=\"{}\", nonce=\"{}\", opaque=\"{}\", algorithm={}, qop=\"auth\"",
                    escape(&self.realm),
                    nonce,
                    self.opaque,
                    alg.as_str()
                );
                if stale {
                    v.push_str(", stale=true");
                }
                v
            })
            .collect()
    }

    /// Verifies `auth` for a request with `method` (REGISTER) and `request_uri`, at `now_s`,
    /// against `users`.
    ///
    /// Checks, in order: realm, digest-uri = Request-URI, opaque, qop=auth present, the
    /// nonce's MAC and that it is not from the future, the user, the response hash
    /// (constant-time), and finally the nonce's age — so [`AuthError::Stale`] is only
    /// returned for a correct password (RFC 7616 §3.3, "stale").
    pub fn verify(
        &self,
        now_s: u64,
        method: &str,
        request_uri: &str,
        auth: &Authorization,
        users: &impl Credentials,
    ) -> Result<Authenticated, AuthError> {
        if auth.realm != self.realm {
            return Err(AuthError::WrongRealm(truncate(&auth.realm)));
        }
        if auth.uri != request_uri {
            return Err(AuthError::UriMismatch);
        }
        if let Some(op) = &auth.opaque {
            if op != &self.opaque {
                return Err(AuthError::OpaqueMismatch);
            }
        }
        let (nc, cnonce) = match (&auth.qop, &auth.nc_text, &auth.cnonce) {
            (Some(_), Some(nc), Some(cn)) => (nc.as_str(), cn.as_str()),
            _ => return Err(AuthError::MissingParam("qop")),
        };
        let minted_s = self.check_nonce(&auth.nonce)?;
        if minted_s > now_s.saturating_add(FUTURE_SKEW_S) {
            return Err(AuthError::BadNonce);
        }
        let password = users
            .password(&auth.username)
            .ok_or_else(|| AuthError::UnknownUser(truncate(&auth.username)))?;
        let expected = request_digest(
            auth.algorithm,
            &auth.username,
            &self.realm,
            password,
            method,
            &auth.uri,
            &auth.nonce,
            Some((nc, cnonce)),
        );
        if !ct_eq(
            expected.as_bytes(),
            auth.response.to_ascii_lowercase().as_bytes(),
        ) {
            return Err(AuthError::WrongResponse);
        }
        if now_s.saturating_sub(minted_s) > self.nonce_lifetime_s {
            return Err(AuthError::Stale);
        }
        Ok(Authenticated {
            username: auth.username.clone(),
            algorithm: auth.algorithm,
        })
    }

    /// Checks a nonce's MAC; returns its timestamp, seconds.
    fn check_nonce(&self, nonce: &str) -> Result<u64, AuthError> {
        if nonce.len() != 64 {
            return Err(AuthError::BadNonce);
        }
        let raw = hex::decode(nonce).map_err(|_| AuthError::BadNonce)?;
        let (ts, rest) = raw.split_at(8);
        let (random, tag) = rest.split_at(8);
        let expected = mac(&self.secret, &[ts, random, self.realm.as_bytes()]);
        if !ct_eq(&expected[..16], tag) {
            return Err(AuthError::BadNonce);
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(ts);
        Ok(u64::from_be_bytes(b))
    }
}

fn mac(secret: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length; new_from_slice cannot fail for HMAC.
    let mut m = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    for p in parts {
        m.update(&(p.len() as u32).to_be_bytes());
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// Constant-time equality for equal-length inputs (length is not secret).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Escapes `"` and `\` for a quoted-string (RFC 3261 §25.1).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Parses `Digest name=value, name="quoted \" value", …` into (name, unescaped value)
/// pairs. Shared by `Authorization` and (in tests and clients) `WWW-Authenticate`.
///
/// Errors: [`AuthError::TooLong`], [`AuthError::NotDigest`], [`AuthError::Syntax`] (with the
/// byte offset), [`AuthError::TooManyParams`], [`AuthError::ValueTooLong`],
/// [`AuthError::DuplicateParam`].
pub fn parse_digest_params(value: &str) -> Result<Vec<(String, String)>, AuthError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(AuthError::TooLong(value.len()));
    }
    let b = value.as_bytes();
    let mut i = skip_ws(b, 0);
    let scheme_start = i;
    while i < b.len() && is_token(b[i]) {
        i += 1;
    }
    if !value[scheme_start..i].eq_ignore_ascii_case("Digest") {
        return Err(AuthError::NotDigest);
    }
    if i < b.len() && !is_ws(b[i]) {
        return Err(AuthError::NotDigest);
    }
    let mut params: Vec<(String, String)> = Vec::new();
    i = skip_ws(b, i);
    if i == b.len() {
        return Err(AuthError::Syntax(i));
    }
    loop {
        // name
        let start = i;
        while i < b.len() && is_token(b[i]) {
            i += 1;
        }
        if start == i {
            return Err(AuthError::Syntax(i));
        }
        let name = &value[start..i];
        i = skip_ws(b, i);
        if b.get(i) != Some(&b'=') {
            return Err(AuthError::Syntax(i));
        }
        i = skip_ws(b, i + 1);
        // value: quoted-string or token
        let mut v = String::new();
        if b.get(i) == Some(&b'"') {
            i += 1;
            let mut closed = false;
            let mut run = i;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        v.push_str(&value[run..i]);
                        i += 1;
                        closed = true;
                        break;
                    }
                    b'\\' => {
                        v.push_str(&value[run..i]);
                        // quoted-pair: \ followed by one char (RFC 3261 §25.1: 0x00-0x09,
                        // 0x0B-0x0C, 0x0E-0x7F)
                        match b.get(i + 1) {
                            Some(&c) if c < 0x80 && c != b'\r' && c != b'\n' => {
                                v.push(c as char);
                                i += 2;
                                run = i;
                            }
                            _ => return Err(AuthError::Syntax(i)),
                        }
                    }
                    b'\r' | b'\n' => return Err(AuthError::Syntax(i)),
                    _ => i += 1,
                }
                if v.len() + (i - run) > MAX_VALUE_LEN {
                    return Err(AuthError::ValueTooLong(truncate(name)));
                }
            }
            if !closed {
                return Err(AuthError::Syntax(i));
            }
        } else {
            let vstart = i;
            while i < b.len() && is_token(b[i]) {
                i += 1;
            }
            if vstart == i {
                return Err(AuthError::Syntax(i));
            }
            v.push_str(&value[vstart..i]);
        }
        if v.len() > MAX_VALUE_LEN {
            return Err(AuthError::ValueTooLong(truncate(name)));
        }
        if params.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return Err(AuthError::DuplicateParam(truncate(name)));
        }
        if params.len() == MAX_PARAMS {
            return Err(AuthError::TooManyParams);
        }
        params.push((name.to_owned(), v));
        i = skip_ws(b, i);
        match b.get(i) {
            None => break,
            Some(b',') => i = skip_ws(b, i + 1),
            Some(_) => return Err(AuthError::Syntax(i)),
        }
    }
    Ok(params)
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_ws(b[i]) {
        i += 1;
    }
    i
}

/// RFC 3261 §25.1 token characters.
fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&c)
}

/// Builds an `Authorization` value answering `challenge` (a `WWW-Authenticate` value) with
/// `qop=auth` — the client side, for tests, load generators and the simulated softphone.
///
/// Errors: any parse error of the challenge, [`AuthError::MissingParam`] for realm/nonce.
#[allow(clippy::too_many_arguments)]
pub fn authorization_for(
    challenge: &str,
    username: &str,
    password: &str,
    method: &str,
    uri: &str,
    cnonce: &str,
    nc: u32,
) -> Result<String, AuthError> {
    let params = parse_digest_params(challenge)?;
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let realm = get("realm").ok_or(AuthError::MissingParam("realm"))?;
    let nonce = get("nonce").ok_or(AuthError::MissingParam("nonce"))?;
    let algorithm = Algorithm::parse(get("algorithm").unwrap_or("MD5"))?;
    let nc = format!("{nc:08x}");
    let response = request_digest(
        algorithm,
        username,
        realm,
        password,
        method,
        uri,
        nonce,
        Some((&nc, cnonce)),
    );
    let mut v = format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{}\", \
         algorithm={}, qop=auth, nc={}, cnonce=\"{}\"",
        escape(username),
        escape(realm),
        escape(nonce),
        escape(uri),
        response,
        algorithm.as_str(),
        nc,
        escape(cnonce)
    );
    if let Some(opaque) = get("opaque") {
        v.push_str(&format!(", opaque=\"{}\"", escape(opaque)));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2617 §3.5: Mufasa / "Circle Of Life", MD5, qop=auth.
    #[test]
    fn rfc2617_md5_vector() {
        let header = r#"Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
        let a = Authorization::parse(header).unwrap();
        assert_eq!(a.username, "Mufasa");
        assert_eq!(a.realm, "testrealm@host.com");
        assert_eq!(a.algorithm, Algorithm::Md5);
        assert_eq!(a.nc, Some(1));
        assert_eq!(
            a.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
        let r = request_digest(
            Algorithm::Md5,
            &a.username,
            &a.realm,
            "Circle Of Life",
            "GET",
            &a.uri,
            &a.nonce,
            Some(("00000001", "0a4f113b")),
        );
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
        assert_eq!(r, a.response);
    }

    /// RFC 7616 §3.9.1: Mufasa / "Circle of Life", SHA-256 and MD5 responses.
    #[test]
    fn rfc7616_sha256_and_md5_vectors() {
        let nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        let realm = "http-auth@example.org";
        let sha = request_digest(
            Algorithm::Sha256,
            "Mufasa",
            realm,
            "Circle of Life",
            "GET",
            "/dir/index.html",
            nonce,
            Some(("00000001", cnonce)),
        );
        assert_eq!(
            sha,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        let md5 = request_digest(
            Algorithm::Md5,
            "Mufasa",
            realm,
            "Circle of Life",
            "GET",
            "/dir/index.html",
            nonce,
            Some(("00000001", cnonce)),
        );
        assert_eq!(md5, "8ca523f5e9506fed4657c9700eebdbec");

        let header = format!(
            "Digest username=\"Mufasa\", realm=\"{realm}\", uri=\"/dir/index.html\", \
             algorithm=SHA-256, nonce=\"{nonce}\", nc=00000001, cnonce=\"{cnonce}\", \
             qop=auth, response=\"{sha}\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
        );
        let a = Authorization::parse(&header).unwrap();
        assert_eq!(a.algorithm, Algorithm::Sha256);
        assert_eq!(a.cnonce.as_deref(), Some(cnonce));
    }

    fn users() -> HashMap<String, String> {
        HashMap::from([("handler1".to_owned(), "change-me".to_owned())])
    }

    const URI: &str = "sip:answerpoint.example";

    fn server() -> DigestServer {
        DigestServer::new("answerpoint", b"0123456789abcdef0123456789abcdef", 300)
    }

    #[test]
    fn challenge_offers_only_the_configured_algorithms() {
        let both = server().challenge(1_000, 7, false);
        assert_eq!(both.len(), 2);
        assert!(both[0].contains("algorithm=SHA-256") && both[1].contains("algorithm=MD5"));
        let md5 = server()
            .with_algorithms(&[Algorithm::Md5])
            .challenge(1_000, 7, false);
        assert_eq!(md5.len(), 1);
        assert!(md5[0].contains("algorithm=MD5"), "{}", md5[0]);
        // An empty list keeps the default rather than offering nothing.
        assert_eq!(
            server()
                .with_algorithms(&[])
                .challenge(1_000, 7, false)
                .len(),
            2
        );
    }

    #[test]
    fn challenge_offers_sha256_then_md5_with_one_nonce() {
        let s = server();
        let c = s.challenge(1_000, 42, false);
        assert_eq!(c.len(), 2);
        assert!(c[0].contains("algorithm=SHA-256"), "{}", c[0]);
        assert!(c[1].contains("algorithm=MD5"), "{}", c[1]);
        let p0 = parse_digest_params(&c[0]).unwrap();
        let p1 = parse_digest_params(&c[1]).unwrap();
        let nonce =
            |p: &[(String, String)]| p.iter().find(|(n, _)| n == "nonce").unwrap().1.clone();
        assert_eq!(nonce(&p0), nonce(&p1));
        assert_eq!(nonce(&p0).len(), 64);
        assert!(p0.contains(&("qop".to_owned(), "auth".to_owned())));
        assert!(p0.contains(&("realm".to_owned(), "answerpoint".to_owned())));
        assert!(!c[0].contains("stale"));
        assert!(s.challenge(1_000, 42, true)[0].ends_with(", stale=true"));
        assert_ne!(s.nonce(1_000, 42), s.nonce(1_000, 43));
    }

    #[test]
    fn round_trip_both_algorithms() {
        let s = server();
        for (i, ch) in s.challenge(1_000, 7, false).iter().enumerate() {
            let h = authorization_for(ch, "handler1", "change-me", "REGISTER", URI, "c0ffee", 1)
                .unwrap();
            let a = Authorization::parse(&h).unwrap();
            let ok = s.verify(1_010, "REGISTER", URI, &a, &users()).unwrap();
            assert_eq!(ok.username, "handler1");
            let want = if i == 0 {
                Algorithm::Sha256
            } else {
                Algorithm::Md5
            };
            assert_eq!(ok.algorithm, want);
        }
    }

    #[test]
    fn wrong_password_unknown_user_and_tampering() {
        let s = server();
        let ch = &s.challenge(1_000, 7, false)[0];
        let bad = authorization_for(ch, "handler1", "wrong", "REGISTER", URI, "c", 1).unwrap();
        let a = Authorization::parse(&bad).unwrap();
        assert_eq!(
            s.verify(1_001, "REGISTER", URI, &a, &users()),
            Err(AuthError::WrongResponse)
        );
        let who = authorization_for(ch, "nobody", "x", "REGISTER", URI, "c", 1).unwrap();
        assert_eq!(
            s.verify(
                1_001,
                "REGISTER",
                URI,
                &Authorization::parse(&who).unwrap(),
                &users()
            ),
            Err(AuthError::UnknownUser("nobody".into()))
        );
        let good = authorization_for(ch, "handler1", "change-me", "REGISTER", URI, "c", 1).unwrap();
        let a = Authorization::parse(&good).unwrap();
        // Method and URI are covered by the hash / checked.
        assert_eq!(
            s.verify(1_001, "INVITE", URI, &a, &users()),
            Err(AuthError::WrongResponse)
        );
        assert_eq!(
            s.verify(1_001, "REGISTER", "sip:other", &a, &users()),
            Err(AuthError::UriMismatch)
        );
        // A nonce we did not mint (one hex digit changed in the timestamp).
        let mut forged = a.clone();
        forged.nonce.replace_range(0..1, "f");
        assert_eq!(
            s.verify(1_001, "REGISTER", URI, &forged, &users()),
            Err(AuthError::BadNonce)
        );
        // Another server (different secret) does not accept our nonces.
        let other = DigestServer::new("answerpoint", b"another secret", 300);
        assert!(matches!(
            other.verify(1_001, "REGISTER", URI, &a, &users()),
            Err(AuthError::OpaqueMismatch | AuthError::BadNonce)
        ));
        let mut no_opaque = a.clone();
        no_opaque.opaque = None;
        assert_eq!(
            other.verify(1_001, "REGISTER", URI, &no_opaque, &users()),
            Err(AuthError::BadNonce)
        );
        let mut realm = a.clone();
        realm.realm = "evil".into();
        assert_eq!(
            s.verify(1_001, "REGISTER", URI, &realm, &users()),
            Err(AuthError::WrongRealm("evil".into()))
        );
    }

    #[test]
    fn stale_only_for_right_password_and_future_nonce_rejected() {
        let s = server();
        let ch = &s.challenge(1_000, 1, false)[1];
        let good = Authorization::parse(
            &authorization_for(ch, "handler1", "change-me", "REGISTER", URI, "c", 2).unwrap(),
        )
        .unwrap();
        assert!(s.verify(1_300, "REGISTER", URI, &good, &users()).is_ok());
        assert_eq!(
            s.verify(1_301, "REGISTER", URI, &good, &users()),
            Err(AuthError::Stale)
        );
        let bad = Authorization::parse(
            &authorization_for(ch, "handler1", "nope", "REGISTER", URI, "c", 2).unwrap(),
        )
        .unwrap();
        assert_eq!(
            s.verify(1_301, "REGISTER", URI, &bad, &users()),
            Err(AuthError::WrongResponse)
        );
        assert_eq!(
            s.verify(900, "REGISTER", URI, &good, &users()),
            Err(AuthError::BadNonce)
        );
    }

    #[test]
    fn parser_quoting_and_errors() {
        let p = parse_digest_params(r#"digest realm="a \"quoted\" \\ realm", nonce=abc"#).unwrap();
        assert_eq!(p[0], ("realm".into(), r#"a "quoted" \ realm"#.into()));
        assert_eq!(p[1], ("nonce".into(), "abc".into()));
        // The challenge escapes what the parser unescapes.
        let s = DigestServer::new("we \"quote\"", b"k", 60);
        let c = &s.challenge(0, 0, false)[0];
        let p = parse_digest_params(c).unwrap();
        assert_eq!(p[0].1, "we \"quote\"");

        assert_eq!(parse_digest_params("Basic abc"), Err(AuthError::NotDigest));
        assert_eq!(
            parse_digest_params("Digestx a=b"),
            Err(AuthError::NotDigest)
        );
        assert_eq!(parse_digest_params("Digest"), Err(AuthError::Syntax(6)));
        assert_eq!(parse_digest_params("Digest a"), Err(AuthError::Syntax(8)));
        assert_eq!(
            parse_digest_params("Digest a=\"open"),
            Err(AuthError::Syntax(14))
        );
        assert_eq!(
            parse_digest_params("Digest a=b c=d"),
            Err(AuthError::Syntax(11))
        );
        assert_eq!(
            parse_digest_params("Digest a=\"x\\"),
            Err(AuthError::Syntax(11))
        );
        assert_eq!(
            parse_digest_params("Digest a=b, A=c"),
            Err(AuthError::DuplicateParam("A".into()))
        );
        let many: Vec<String> = (0..33).map(|i| format!("p{i}=v")).collect();
        assert_eq!(
            parse_digest_params(&format!("Digest {}", many.join(","))),
            Err(AuthError::TooManyParams)
        );
        let long = format!("Digest a=\"{}\"", "x".repeat(MAX_VALUE_LEN + 1));
        assert_eq!(
            parse_digest_params(&long),
            Err(AuthError::ValueTooLong("a".into()))
        );
        let huge = format!("Digest a=\"{}\"", "x".repeat(MAX_HEADER_LEN));
        assert_eq!(
            parse_digest_params(&huge),
            Err(AuthError::TooLong(huge.len()))
        );
        // Non-ASCII inside a quoted string is kept intact.
        let p = parse_digest_params("Digest username=\"Zoë\"").unwrap();
        assert_eq!(p[0].1, "Zoë");
    }

    #[test]
    fn authorization_field_errors() {
        let base = r#"Digest username="u", realm="r", nonce="n", uri="sip:x", response="0""#;
        let a = Authorization::parse(base).unwrap();
        assert_eq!(a.qop, None);
        assert_eq!(a.algorithm, Algorithm::Md5);
        assert_eq!(
            Authorization::parse(r#"Digest realm="r", nonce="n", uri="sip:x", response="0""#),
            Err(AuthError::MissingParam("username"))
        );
        assert_eq!(
            Authorization::parse(&format!("{base}, qop=auth")),
            Err(AuthError::MissingParam("cnonce"))
        );
        assert_eq!(
            Authorization::parse(&format!("{base}, qop=auth-int, cnonce=\"c\", nc=00000001")),
            Err(AuthError::UnsupportedQop("auth-int".into()))
        );
        assert_eq!(
            Authorization::parse(&format!("{base}, qop=auth, cnonce=\"c\", nc=1")),
            Err(AuthError::BadNonceCount("1".into()))
        );
        assert_eq!(
            Authorization::parse(&format!("{base}, algorithm=SHA-512-256")),
            Err(AuthError::UnsupportedAlgorithm("SHA-512-256".into()))
        );
        assert_eq!(
            Authorization::parse(&format!("{base}, userhash=true")),
            Err(AuthError::UserhashUnsupported)
        );
        // Without qop the server refuses (it always offers qop=auth).
        let s = server();
        assert_eq!(
            s.verify(
                0,
                "REGISTER",
                "sip:x",
                &Authorization {
                    realm: "answerpoint".into(),
                    ..a
                },
                &users()
            ),
            Err(AuthError::MissingParam("qop"))
        );
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(s in "\\PC{0,300}") {
            let _ = Authorization::parse(&s);
            let _ = Authorization::parse(&format!("Digest {s}"));
        }

        #[test]
        fn round_trip_any_user(user in "[ -~]{1,40}", pass in "[ -~]{0,40}", realm in "[ -~]{1,30}",
                               now in 0u64..1u64 << 40, rnd: u64) {
            let s = DigestServer::new(&realm, b"secret", 60);
            let users = HashMap::from([(user.clone(), pass.clone())]);
            for ch in s.challenge(now, rnd, false) {
                let h = authorization_for(&ch, &user, &pass, "REGISTER", "sip:r", "cn", 9).unwrap();
                let a = Authorization::parse(&h).unwrap();
                proptest::prop_assert_eq!(&a.username, &user);
                proptest::prop_assert_eq!(&a.realm, &realm);
                let ok = s.verify(now + 60, "REGISTER", "sip:r", &a, &users).unwrap();
                proptest::prop_assert_eq!(ok.username, user.clone());
            }
        }
    }
}
