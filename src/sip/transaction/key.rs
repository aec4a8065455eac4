//! Transaction keys: which transaction a message belongs to (RFC 3261 §17.1.3 for responses
//! reaching client transactions, §17.2.3 for requests reaching server transactions, §9.2 for
//! CANCEL). Written against plain strings (the top Via's branch and sent-by, the method) so
//! the B2BUA can feed it from whatever parsed headers it has.
//!
//! Comparison follows RFC 3261 §7.3.1: parameter values (the branch) and host names are
//! case-insensitive, so both are stored lower-cased; method names are case-sensitive (§7.1)
//! and stored as given. Inputs are capped in length ([`MAX_BRANCH_LEN`], …) so a key never
//! holds an unbounded peer-controlled string.

/// The RFC 3261 branch prefix ("magic cookie", §8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";
/// Longest branch accepted, bytes.
pub const MAX_BRANCH_LEN: usize = 256;
/// Longest sent-by (`host[:port]`) accepted, bytes.
pub const MAX_SENT_BY_LEN: usize = 300;
/// Longest method name accepted, bytes.
pub const MAX_METHOD_LEN: usize = 32;

/// Why a key could not be built from the given strings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The top Via has no branch parameter, or it is empty.
    #[error("top Via has no branch")]
    MissingBranch,
    /// The branch lacks the `z9hG4bK` magic cookie: an RFC 2543 peer, whose requests are
    /// matched by the §17.2.3 legacy rules (Request-URI, tags, Call-ID, CSeq, Via): build
    /// their key with [`ServerKey::rfc2543`].
    #[error("branch {0:?} lacks the RFC 3261 magic cookie z9hG4bK (RFC 2543 peer)")]
    Rfc2543Branch(String),
    /// The top Via has no sent-by.
    #[error("top Via has no sent-by")]
    MissingSentBy,
    /// The method is empty or not a token.
    #[error("invalid method")]
    InvalidMethod,
    /// A field is longer than its cap.
    #[error("{field} is {len} bytes, over the {max}-byte cap")]
    TooLong {
        /// Which input: "branch", "sent-by" or "method".
        field: &'static str,
        /// Its length, bytes.
        len: usize,
        /// The cap, bytes.
        max: usize,
    },
}

/// Key of a client transaction, matched by responses (RFC 3261 §17.1.3): the branch of the
/// top Via plus the CSeq method. A CANCEL shares its INVITE's branch but has its own client
/// transaction because the CSeq methods differ.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientKey {
    branch: String,
    method: String,
}

impl ClientKey {
    /// Key for a request we send with top-Via `branch` and `method`, or for a response with
    /// top-Via `branch` and CSeq method `cseq_method`: the same function serves both.
    ///
    /// Errors: [`KeyError::MissingBranch`], [`KeyError::InvalidMethod`],
    /// [`KeyError::TooLong`]. The magic cookie is not required here (we chose the branch).
    pub fn new(branch: &str, cseq_method: &str) -> Result<Self, KeyError> {
        Ok(ClientKey {
            branch: normalize_branch(branch)?,
            method: check_method(cseq_method)?.to_owned(),
        })
    }

    /// The branch, lower-cased.
    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// The method (CSeq method).
    pub fn method(&self) -> &str {
        &self.method
    }
}

/// Key of a server transaction, matched by requests (RFC 3261 §17.2.3): the top Via's branch
/// and sent-by, and the method — with ACK mapped to INVITE so that the ACK for a non-2xx
/// response reaches its INVITE server transaction.
///
/// An ACK for a 2xx carries a new branch (§13.2.2.4) and therefore matches no server
/// transaction: the B2BUA hands unmatched ACKs to the dialog layer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerKey {
    branch: String,
    sent_by: String,
    method: String,
}

impl ServerKey {
    /// Key for a received request: `branch` and `sent_by` (`host[:port]`, as in the top Via)
    /// and the request `method`. ACK yields the INVITE key; CANCEL yields its own key (use
    /// [`ServerKey::cancel_target`] to find the INVITE it cancels).
    ///
    /// Errors: [`KeyError::Rfc2543Branch`] when the branch lacks `z9hG4bK`; the other
    /// [`KeyError`] variants for missing, malformed or over-long inputs.
    pub fn new(branch: &str, sent_by: &str, method: &str) -> Result<Self, KeyError> {
        let branch = normalize_branch(branch)?;
        if !branch.starts_with(&MAGIC_COOKIE.to_ascii_lowercase()) {
            return Err(KeyError::Rfc2543Branch(branch));
        }
        let sent_by = sent_by.trim();
        if sent_by.is_empty() {
            return Err(KeyError::MissingSentBy);
        }
        if sent_by.len() > MAX_SENT_BY_LEN {
            return Err(KeyError::TooLong {
                field: "sent-by",
                len: sent_by.len(),
                max: MAX_SENT_BY_LEN,
            });
        }
        let method = check_method(method)?;
        let method = if method == "ACK" { "INVITE" } else { method };
        Ok(ServerKey {
            branch,
            sent_by: sent_by.to_ascii_lowercase(),
            method: method.to_owned(),
        })
    }

    /// Key for a request from an RFC 2543 peer, whose top Via has no branch or one
    /// without the `z9hG4bK` magic cookie: RFC 3261 §17.2.3 requires such requests to be
    /// matched on the Request-URI, From tag, Call-ID, CSeq number and top Via of the
    /// INVITE that created the transaction. Those fields (the Via as its whole value,
    /// case and whitespace aside) are hashed (64-bit FNV-1a) into a branch
    /// `z9hG4bK rfc2543 <16 hex digits>` — with spaces, which no branch on the wire can
    /// hold (a token, §20.42), so no request can name another's RFC 2543 transaction by
    /// a crafted branch — so a retransmission, the ACK for a non-2xx answer (method mapped to INVITE) and a CANCEL
    /// ([`ServerKey::cancel_target`]) all find the INVITE's transaction, while an ACK for
    /// a 2xx (Request-URI: the remote target) and every later request (another CSeq) do
    /// not. The To tag §17.2.3 also compares for an ACK is not part of the key: the
    /// INVITE had none.
    ///
    /// Errors: as [`ServerKey::new`] for `sent_by` and `method`.
    pub fn rfc2543(
        request_uri: &str,
        from_tag: &str,
        call_id: &str,
        cseq_number: u32,
        top_via: &str,
        sent_by: &str,
        method: &str,
    ) -> Result<Self, KeyError> {
        // The Via compared as SIP compares header values: case and LWS do not count
        // (RFC 3261 §7.3.1, §20.42), so a CANCEL that respells it still matches.
        let via: Vec<u8> = top_via
            .bytes()
            .filter(|b| !b.is_ascii_whitespace())
            .map(|b| b.to_ascii_lowercase())
            .collect();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for part in [
            request_uri.as_bytes(),
            from_tag.as_bytes(),
            call_id.as_bytes(),
            &cseq_number.to_be_bytes(),
            &via,
        ] {
            // Each part ends with a 0xFF octet (never in SIP text) so parts cannot shift.
            for &b in part.iter().chain(&[0xff]) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        ServerKey::new(&format!("{MAGIC_COOKIE} rfc2543 {h:016x}"), sent_by, method)
    }

    /// As [`ServerKey::new`], from a parsed Via's sent-by parts: `host` (an IPv6 address may
    /// come with or without brackets; it is stored with them, RFC 5118 §4.5) and `port`.
    pub fn from_parts(
        branch: &str,
        host: &str,
        port: Option<u16>,
        method: &str,
    ) -> Result<Self, KeyError> {
        let host = host.trim();
        let bracketed = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let sent_by = match port {
            Some(p) => format!("{bracketed}:{p}"),
            None => bracketed,
        };
        ServerKey::new(branch, &sent_by, method)
    }

    /// For a CANCEL's key: the key of the INVITE server transaction it cancels (RFC 3261
    /// §9.2: same branch and sent-by, method INVITE). For any other key, a copy of itself.
    pub fn cancel_target(&self) -> ServerKey {
        if self.method == "CANCEL" {
            ServerKey {
                method: "INVITE".to_owned(),
                ..self.clone()
            }
        } else {
            self.clone()
        }
    }

    /// The branch, lower-cased.
    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// The sent-by, lower-cased.
    pub fn sent_by(&self) -> &str {
        &self.sent_by
    }

    /// The method the transaction was created by (INVITE for an ACK).
    pub fn method(&self) -> &str {
        &self.method
    }
}

fn normalize_branch(branch: &str) -> Result<String, KeyError> {
    let branch = branch.trim();
    if branch.is_empty() {
        return Err(KeyError::MissingBranch);
    }
    if branch.len() > MAX_BRANCH_LEN {
        return Err(KeyError::TooLong {
            field: "branch",
            len: branch.len(),
            max: MAX_BRANCH_LEN,
        });
    }
    Ok(branch.to_ascii_lowercase())
}

/// RFC 3261 §25.1 token characters.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

fn check_method(method: &str) -> Result<&str, KeyError> {
    if method.len() > MAX_METHOD_LEN {
        return Err(KeyError::TooLong {
            field: "method",
            len: method.len(),
            max: MAX_METHOD_LEN,
        });
    }
    if method.is_empty() || !method.bytes().all(is_token_char) {
        return Err(KeyError::InvalidMethod);
    }
    Ok(method)
}

#[cfg(test)]
mod tests {

    #[test]
    fn rfc2543_keys_match_as_section_17_2_3_says() {
        let via = "SIP/2.0/UDP 192.0.2.1:5060";
        let key = |ruri: &str, seq: u32, via: &str, method: &str| {
            ServerKey::rfc2543(ruri, "ft", "cid@h", seq, via, "192.0.2.1:5060", method).unwrap()
        };
        let invite = key("sip:999@x", 1, via, "INVITE");
        // Retransmission, and the ACK for a non-2xx answer: the INVITE's transaction.
        assert_eq!(key("sip:999@x", 1, via, "INVITE"), invite);
        assert_eq!(key("sip:999@x", 1, &format!(" {via} "), "ACK"), invite);
        assert_eq!(
            key("sip:999@x", 1, "sip/2.0/udp  192.0.2.1:5060", "ACK"),
            invite
        );
        // CANCEL: its own transaction, targeting the INVITE's.
        let cancel = key("sip:999@x", 1, via, "CANCEL");
        assert_ne!(cancel, invite);
        assert_eq!(cancel.cancel_target(), invite);
        // The ACK for a 2xx (another Request-URI), a later request, another hop: not it.
        assert_ne!(key("sip:ap@y", 1, via, "ACK"), invite);
        assert_ne!(key("sip:999@x", 2, via, "INVITE"), invite);
        assert_ne!(
            key("sip:999@x", 1, "SIP/2.0/UDP 192.0.2.2", "INVITE"),
            invite
        );
        // No branch a Via can carry (a token) equals a synthetic one.
        let wire = invite.branch.replace(' ', ".");
        assert_ne!(
            ServerKey::new(&wire, "192.0.2.1:5060", "INVITE").unwrap(),
            invite
        );
        assert!(invite.branch.contains(' '));
        // Fields cannot shift into each other.
        assert_ne!(
            ServerKey::rfc2543("ab", "c", "d", 1, via, "h", "INVITE").unwrap(),
            ServerKey::rfc2543("a", "bc", "d", 1, via, "h", "INVITE").unwrap()
        );
    }

    use super::*;

    #[test]
    fn ack_maps_to_invite_and_cancel_targets_invite() {
        let invite = ServerKey::new("z9hG4bK776asdhds", "pc33.atlanta.com", "INVITE").unwrap();
        let ack = ServerKey::new("z9hG4bK776asdhds", "pc33.atlanta.com", "ACK").unwrap();
        let cancel = ServerKey::new("z9hG4bK776asdhds", "pc33.atlanta.com", "CANCEL").unwrap();
        assert_eq!(invite, ack);
        assert_ne!(invite, cancel);
        assert_eq!(cancel.cancel_target(), invite);
        assert_eq!(cancel.method(), "CANCEL");
    }

    #[test]
    fn case_rules() {
        let a = ServerKey::new("z9hG4bKabc", "Host.Example:5060", "INVITE").unwrap();
        let b = ServerKey::new("Z9HG4BKABC", "host.example:5060", "INVITE").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.sent_by(), "host.example:5060");
        assert_eq!(
            ServerKey::new("z9hG4bKabc", "h", "invite")
                .unwrap()
                .method(),
            "invite"
        );
        assert_ne!(a, ServerKey::new("z9hG4bKabc", "h", "invite").unwrap());
    }

    #[test]
    fn errors() {
        assert_eq!(
            ServerKey::new("", "h", "INVITE"),
            Err(KeyError::MissingBranch)
        );
        assert_eq!(
            ServerKey::new("1234", "h", "INVITE"),
            Err(KeyError::Rfc2543Branch("1234".into()))
        );
        assert_eq!(
            ServerKey::new("z9hG4bK1", " ", "INVITE"),
            Err(KeyError::MissingSentBy)
        );
        assert_eq!(
            ServerKey::new("z9hG4bK1", "h", "IN VITE"),
            Err(KeyError::InvalidMethod)
        );
        let long = "z9hG4bK".to_owned() + &"x".repeat(300);
        assert_eq!(
            ClientKey::new(&long, "INVITE"),
            Err(KeyError::TooLong {
                field: "branch",
                len: 307,
                max: MAX_BRANCH_LEN
            })
        );
    }

    #[test]
    fn from_parts_matches_sent_by_text() {
        assert_eq!(
            ServerKey::from_parts("z9hG4bK1", "2001:DB8::9", Some(5060), "INVITE").unwrap(),
            ServerKey::new("z9hG4bK1", "[2001:db8::9]:5060", "INVITE").unwrap()
        );
        assert_eq!(
            ServerKey::from_parts("z9hG4bK1", "[::1]", None, "ACK").unwrap(),
            ServerKey::new("z9hG4bK1", "[::1]", "INVITE").unwrap()
        );
        assert_eq!(
            ServerKey::from_parts("z9hG4bK1", "pc33.atlanta.com", Some(5066), "BYE")
                .unwrap()
                .sent_by(),
            "pc33.atlanta.com:5066"
        );
    }

    #[test]
    fn client_key_separates_cancel_from_invite() {
        let inv = ClientKey::new("z9hG4bKnashds8", "INVITE").unwrap();
        let can = ClientKey::new("z9hG4bKnashds8", "CANCEL").unwrap();
        assert_ne!(inv, can);
        assert_eq!(inv.branch(), "z9hg4bknashds8");
        assert_eq!(can.method(), "CANCEL");
    }
}
