//! Session secrets, relay keys and session tickets: who may use a session on
//! the relay, and the keys the two ends encrypt with.
//!
//! Three values, held by different parties:
//! - the **session secret** (`fbsec1_…`), held only by the two ends (the
//!   function's configuration and the developer's launch.json). From it,
//!   HKDF-SHA256 derives, under different labels, the *relay token* (shown
//!   to the relay) and the *Noise PSK* (never leaves the ends). Knowing the
//!   token reveals nothing about the PSK, so the relay cannot read a session.
//! - the **relay key** (`fbrk1_…`), held by the relay and by whoever mints
//!   sessions for it. It authorises sessions but opens none.
//! - the **session ticket** (`fbs1.<id>.<expiry>.<mac>`), public: the
//!   session's id, its expiry and an HMAC-SHA256 under the relay key over
//!   both and the relay token. The relay recomputes the MAC from the token a
//!   client presents and compares in constant time; it stores nothing.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Text prefix of a session secret.
pub const SECRET_PREFIX: &str = "fbsec1_";
/// Text prefix of a relay key.
pub const RELAY_KEY_PREFIX: &str = "fbrk1_";
/// Text prefix of a session ticket.
pub const TICKET_PREFIX: &str = "fbs1";

/// HKDF salt: versions the derivations.
const KDF_SALT: &[u8] = b"fogbank session v1";
/// HKDF label of the relay token.
const TOKEN_LABEL: &[u8] = b"fogbank relay token";
/// HKDF label of the Noise pre-shared key.
const PSK_LABEL: &[u8] = b"fogbank noise psk";
/// Domain separation of the ticket MAC.
const TICKET_LABEL: &[u8] = b"fogbank relay ticket v1";

/// Why a secret, key or ticket could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The text does not start with the expected prefix.
    #[error("{what} should start with `{prefix}` (as `fogbank debug-session new` prints it)")]
    Prefix {
        /// What was being read.
        what: &'static str,
        /// The expected prefix.
        prefix: &'static str,
    },
    /// A part is not the expected base64url or number.
    #[error("{what} is damaged: {detail}; copy it again from `fogbank debug-session new`'s output")]
    Damaged {
        /// What was being read.
        what: &'static str,
        /// Which part failed.
        detail: &'static str,
    },
}

/// Why the relay refuses a token for a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// The MAC does not match: a wrong secret, or a ticket minted with
    /// another relay key.
    #[error(
        "the session token is not valid for this session (wrong secret, or a session minted for another relay)"
    )]
    BadToken,
    /// The ticket's time is up.
    #[error(
        "the session expired at {expired_at} (unix time); mint a new one with `fogbank debug-session new`"
    )]
    Expired {
        /// Unix seconds the ticket expired at.
        expired_at: u64,
    },
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

fn decode_fixed<const N: usize>(
    text: &str,
    what: &'static str,
    detail: &'static str,
) -> Result<[u8; N], ParseError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(text.trim())
        .map_err(|_| ParseError::Damaged { what, detail })?;
    bytes
        .try_into()
        .map_err(|_| ParseError::Damaged { what, detail })
}

/// A session's identifier: 16 random bytes, public.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub [u8; 16]);

impl SessionId {
    /// A fresh random id.
    pub fn generate() -> SessionId {
        SessionId(random())
    }

    /// The id as base64url text (22 characters).
    pub fn to_text(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }
}

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionId({})", self.to_text())
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// What a client shows the relay: derived from the session secret, it
/// proves knowledge of the secret without revealing the Noise key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RelayToken(pub [u8; 32]);

impl std::fmt::Debug for RelayToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RelayToken(..)")
    }
}

/// The secret both ends of a session hold. Its `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionSecret([u8; 32]);

impl std::fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionSecret(..)")
    }
}

impl SessionSecret {
    /// A fresh random secret.
    pub fn generate() -> SessionSecret {
        SessionSecret(random())
    }

    /// Reads `fbsec1_<base64url>`.
    pub fn parse(text: &str) -> Result<SessionSecret, ParseError> {
        let what = "the session secret";
        let body = text
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or(ParseError::Prefix {
                what,
                prefix: SECRET_PREFIX,
            })?;
        decode_fixed(body, what, "it is not 32 bytes of base64url").map(SessionSecret)
    }

    /// The text form, `fbsec1_<base64url>`.
    pub fn to_text(&self) -> String {
        format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(self.0))
    }

    fn derive(&self, label: &[u8], session: &SessionId) -> [u8; 32] {
        let kdf = hkdf::Hkdf::<Sha256>::new(Some(KDF_SALT), &self.0);
        let mut info = Vec::with_capacity(label.len() + 16);
        info.extend_from_slice(label);
        info.extend_from_slice(&session.0);
        let mut out = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit of 255 * 32, so this
        // cannot fail; the fallback keeps the function total anyway.
        if kdf.expand(&info, &mut out).is_err() {
            out = [0u8; 32];
        }
        out
    }

    /// The token this secret shows the relay for `session`.
    pub fn relay_token(&self, session: &SessionId) -> RelayToken {
        RelayToken(self.derive(TOKEN_LABEL, session))
    }

    /// The Noise pre-shared key of `session`; only the two ends know it.
    pub fn noise_psk(&self, session: &SessionId) -> [u8; 32] {
        self.derive(PSK_LABEL, session)
    }
}

/// The key with which a relay authorises sessions. Its `Debug` never
/// prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct RelayKey([u8; 32]);

impl std::fmt::Debug for RelayKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RelayKey(..)")
    }
}

impl RelayKey {
    /// A fresh random key.
    pub fn generate() -> RelayKey {
        RelayKey(random())
    }

    /// Reads `fbrk1_<base64url>`.
    pub fn parse(text: &str) -> Result<RelayKey, ParseError> {
        let what = "the relay key";
        let body = text
            .trim()
            .strip_prefix(RELAY_KEY_PREFIX)
            .ok_or(ParseError::Prefix {
                what,
                prefix: RELAY_KEY_PREFIX,
            })?;
        decode_fixed(body, what, "it is not 32 bytes of base64url").map(RelayKey)
    }

    /// The text form, `fbrk1_<base64url>`.
    pub fn to_text(&self) -> String {
        format!("{RELAY_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(self.0))
    }

    fn mac(&self, session: &SessionId, expires_at: u64, token: &RelayToken) -> [u8; 32] {
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail
        // for 32 bytes; the zero MAC fallback never verifies.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return [0u8; 32];
        };
        mac.update(TICKET_LABEL);
        mac.update(&session.0);
        mac.update(&expires_at.to_be_bytes());
        mac.update(&token.0);
        mac.finalize().into_bytes().into()
    }

    /// Mints a ticket for `session` that accepts `token` until `expires_at`
    /// (unix seconds).
    pub fn mint(&self, session: SessionId, expires_at: u64, token: &RelayToken) -> SessionTicket {
        SessionTicket {
            session,
            expires_at,
            mac: self.mac(&session, expires_at, token),
        }
    }

    /// Checks that `token` belongs to `ticket` and that the ticket is still
    /// valid at `now` (unix seconds). The MAC is compared in constant time,
    /// and checked before the expiry so that "expired" is only ever said to
    /// a client that holds the right secret.
    pub fn verify(
        &self,
        ticket: &SessionTicket,
        token: &RelayToken,
        now: u64,
    ) -> Result<(), TicketError> {
        let expected = self.mac(&ticket.session, ticket.expires_at, token);
        if !bool::from(expected.ct_eq(&ticket.mac)) {
            return Err(TicketError::BadToken);
        }
        if now >= ticket.expires_at {
            return Err(TicketError::Expired {
                expired_at: ticket.expires_at,
            });
        }
        Ok(())
    }
}

/// A session as the relay knows it: `fbs1.<id>.<expiry>.<mac>`. Public: it
/// goes in the function's configuration and in launch.json as `session`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTicket {
    /// The session's id.
    pub session: SessionId,
    /// Unix seconds after which the relay refuses the session.
    pub expires_at: u64,
    mac: [u8; 32],
}

impl SessionTicket {
    /// Reads `fbs1.<id>.<expiry>.<mac>`.
    pub fn parse(text: &str) -> Result<SessionTicket, ParseError> {
        let what = "the session";
        let mut parts = text.trim().split('.');
        if parts.next() != Some(TICKET_PREFIX) {
            return Err(ParseError::Prefix {
                what,
                prefix: "fbs1.",
            });
        }
        let (Some(id), Some(expiry), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ParseError::Damaged {
                what,
                detail: "it should have four dot-separated parts",
            });
        };
        let session = SessionId(decode_fixed(
            id,
            what,
            "its id is not 16 bytes of base64url",
        )?);
        if expiry.is_empty() || !expiry.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::Damaged {
                what,
                detail: "its expiry is not a number",
            });
        }
        let expires_at = expiry.parse().map_err(|_| ParseError::Damaged {
            what,
            detail: "its expiry is not a number",
        })?;
        let mac = decode_fixed(mac, what, "its MAC is not 32 bytes of base64url")?;
        Ok(SessionTicket {
            session,
            expires_at,
            mac,
        })
    }

    /// The text form.
    pub fn to_text(&self) -> String {
        format!(
            "{TICKET_PREFIX}.{}.{}.{}",
            self.session.to_text(),
            self.expires_at,
            URL_SAFE_NO_PAD.encode(self.mac)
        )
    }
}

/// Everything one end of a session needs: the public ticket and the secret.
#[derive(Debug, Clone)]
pub struct SessionCredentials {
    /// The session's ticket (public).
    pub ticket: SessionTicket,
    /// The session's secret.
    pub secret: SessionSecret,
}

impl SessionCredentials {
    /// The token shown to the relay.
    pub fn token(&self) -> RelayToken {
        self.secret.relay_token(&self.ticket.session)
    }

    /// The Noise pre-shared key.
    pub fn psk(&self) -> [u8; 32] {
        self.secret.noise_psk(&self.ticket.session)
    }
}

/// A new session on a relay: a fresh id and secret, and the ticket minted
/// for them with `key`, valid until `expires_at` (unix seconds).
pub fn new_session(key: &RelayKey, expires_at: u64) -> SessionCredentials {
    let secret = SessionSecret::generate();
    let session = SessionId::generate();
    let ticket = key.mint(session, expires_at, &secret.relay_token(&session));
    SessionCredentials { ticket, secret }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn texts_round_trip() {
        let secret = SessionSecret::generate();
        assert_eq!(SessionSecret::parse(&secret.to_text()).unwrap(), secret);
        let key = RelayKey::generate();
        assert_eq!(
            RelayKey::parse(&format!(" {}\n", key.to_text())).unwrap(),
            key
        );
        let credentials = new_session(&key, 1_900_000_000);
        let text = credentials.ticket.to_text();
        assert!(text.starts_with("fbs1."), "{text}");
        assert_eq!(SessionTicket::parse(&text).unwrap(), credentials.ticket);
    }

    #[test]
    fn debug_output_hides_secrets() {
        let secret = SessionSecret::generate();
        let rendered = format!(
            "{secret:?} {:?} {:?}",
            RelayKey::generate(),
            secret.relay_token(&SessionId::generate())
        );
        assert!(!rendered.contains(&secret.to_text()[SECRET_PREFIX.len()..]));
        assert_eq!(rendered, "SessionSecret(..) RelayKey(..) RelayToken(..)");
    }

    fn check_verify(now: u64, use_right_secret: bool, expected: Result<(), TicketError>) {
        let key = RelayKey::generate();
        let credentials = new_session(&key, 1000);
        let token = if use_right_secret {
            credentials.token()
        } else {
            SessionSecret::generate().relay_token(&credentials.ticket.session)
        };
        assert_eq!(key.verify(&credentials.ticket, &token, now), expected);
    }

    #[test]
    fn verification() {
        check_verify(999, true, Ok(()));
        check_verify(1000, true, Err(TicketError::Expired { expired_at: 1000 }));
        check_verify(5, false, Err(TicketError::BadToken));
        // A wrong secret is refused as such even after the expiry.
        check_verify(5000, false, Err(TicketError::BadToken));
    }

    #[test]
    fn tampered_tickets_and_other_relays_are_refused() {
        let key = RelayKey::generate();
        let credentials = new_session(&key, 1000);
        let token = credentials.token();
        let mut later = credentials.ticket.clone();
        later.expires_at = 10_000;
        assert_eq!(key.verify(&later, &token, 1), Err(TicketError::BadToken));
        let mut other_id = credentials.ticket.clone();
        other_id.session = SessionId::generate();
        assert_eq!(key.verify(&other_id, &token, 1), Err(TicketError::BadToken));
        assert_eq!(
            RelayKey::generate().verify(&credentials.ticket, &token, 1),
            Err(TicketError::BadToken)
        );
    }

    #[test]
    fn token_and_psk_are_independent() {
        let secret = SessionSecret::generate();
        let session = SessionId::generate();
        let token = secret.relay_token(&session);
        assert_ne!(token.0, secret.noise_psk(&session));
        assert_ne!(token, secret.relay_token(&SessionId::generate()));
        assert_eq!(token, secret.relay_token(&session));
    }

    fn check_parse_error(text: &str, expected: &str) {
        let error = SessionTicket::parse(text)
            .map(|_| ())
            .and_then(|()| SessionSecret::parse(text).map(|_| ()))
            .expect_err(text);
        assert_eq!(error.to_string(), expected, "{text}");
    }

    #[test]
    fn parse_errors_are_clear() {
        check_parse_error(
            "abc",
            "the session should start with `fbs1.` (as `fogbank debug-session new` prints it)",
        );
        check_parse_error(
            "fbs1.x.1",
            "the session is damaged: it should have four dot-separated parts; copy it again from `fogbank debug-session new`'s output",
        );
        check_parse_error(
            "fbs1.AAAAAAAAAAAAAAAAAAAAAA.12x.AAAA",
            "the session is damaged: its expiry is not a number; copy it again from `fogbank debug-session new`'s output",
        );
        check_parse_error(
            "fbs1.AAAA.12.AAAA",
            "the session is damaged: its id is not 16 bytes of base64url; copy it again from `fogbank debug-session new`'s output",
        );
        assert_eq!(
            SessionSecret::parse("fbsec1_short")
                .unwrap_err()
                .to_string(),
            "the session secret is damaged: it is not 32 bytes of base64url; copy it again from `fogbank debug-session new`'s output"
        );
        assert!(RelayKey::parse("fbsec1_x").is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(text in ".{0,200}") {
            let _ = SessionTicket::parse(&text);
            let _ = SessionSecret::parse(&text);
            let _ = RelayKey::parse(&text);
        }

        #[test]
        fn ticket_like_text_never_panics(id in "[A-Za-z0-9_-]{0,30}", expiry in "[0-9]{0,25}", mac in "[A-Za-z0-9_-]{0,50}") {
            let _ = SessionTicket::parse(&format!("fbs1.{id}.{expiry}.{mac}"));
        }
    }
}
