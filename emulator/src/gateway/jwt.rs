//! HTTP API JWT authorizers: the token is checked as API Gateway checks it
//! (signature against the issuer's keys, `exp`, `nbf`, `iss`, and `aud` or
//! `client_id` against the configured audience) and its claims and scopes
//! are passed to the function.
//!
//! Locally the keys come from a JWKS file the user names (`fogbank start
//! --jwks FILE` or `FOGBANK_JWKS`), since the issuer's
//! `/.well-known/jwks.json` is not reachable offline. Without one, the
//! signature is not checked (a warning says so at start) but every claim
//! still is. Time is passed in, so the checks are tested without a clock.
//!
//! The `jsonwebtoken` crate does the JOSE parsing and signature
//! verification (RSA, ECDSA, EdDSA, HMAC keys from a JWK set).

use std::path::{Path, PathBuf};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::authorizer::{Authorization, scalar_text};

/// A configured JWKS that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("reading the JWKS file {}: {cause}", path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("the JWKS file {} is not a JSON Web Key Set ({cause}); it needs {{\"keys\": [...]}}", path.display())]
    Parse { path: PathBuf, cause: String },
    #[error("no JWT signature backend is available in this build")]
    NoCryptoProvider,
}

/// Checks bearer tokens.
#[derive(Debug, Clone, Default)]
pub struct JwtVerifier {
    /// `None`: signatures are not checked.
    keys: Option<JwkSet>,
}

/// Why a token is refused (401 with this as `error_description`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Rejection(pub String);

impl JwtVerifier {
    /// A verifier that checks claims but not signatures.
    pub fn unverified() -> JwtVerifier {
        JwtVerifier { keys: None }
    }

    /// A verifier that checks signatures against `keys`.
    pub fn with_keys(keys: JwkSet) -> JwtVerifier {
        JwtVerifier { keys: Some(keys) }
    }

    /// Loads a JWKS file.
    pub fn from_file(path: &Path) -> Result<JwtVerifier, JwksError> {
        let text = std::fs::read_to_string(path).map_err(|cause| JwksError::Read {
            path: path.to_path_buf(),
            cause,
        })?;
        let keys: JwkSet = serde_json::from_str(&text).map_err(|cause| JwksError::Parse {
            path: path.to_path_buf(),
            cause: cause.to_string(),
        })?;
        if jsonwebtoken::crypto::CryptoProvider::try_get_default().is_none() {
            return Err(JwksError::NoCryptoProvider);
        }
        Ok(JwtVerifier::with_keys(keys))
    }

    /// True when signatures are checked.
    pub fn verifies_signatures(&self) -> bool {
        self.keys.is_some()
    }

    /// Checks `header_value` (the identity source's value, `Bearer` prefix
    /// optional) at `now` (Unix seconds) against `issuer` and `audience`.
    pub fn check(
        &self,
        header_value: &str,
        issuer: Option<&str>,
        audience: &[String],
        now: u64,
    ) -> Result<Authorization, Rejection> {
        let token = strip_bearer(header_value);
        let claims: Map<String, Value> = match &self.keys {
            None => {
                jsonwebtoken::dangerous::insecure_decode::<Map<String, Value>>(token)
                    .map_err(|e| Rejection(format!("the token is not a JWT: {e}")))?
                    .claims
            }
            Some(keys) => verify_signature(token, keys)?,
        };
        check_claims(&claims, issuer, audience, now)?;
        let scopes = scopes(&claims);
        let claims = claims
            .into_iter()
            .map(|(key, value)| (key, Value::String(scalar_text(&value))))
            .collect();
        Ok(Authorization::Jwt { claims, scopes })
    }
}

fn strip_bearer(value: &str) -> &str {
    let value = value.trim();
    match value.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => value[7..].trim(),
        _ => value,
    }
}

fn verify_signature(token: &str, keys: &JwkSet) -> Result<Map<String, Value>, Rejection> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|e| Rejection(format!("the token is not a JWT: {e}")))?;
    let jwk = match &header.kid {
        Some(kid) => keys
            .find(kid)
            .ok_or_else(|| Rejection(format!("no key with kid {kid} in the JWKS")))?,
        None => match keys.keys.as_slice() {
            [only] => only,
            _ => {
                return Err(Rejection(
                    "the token has no kid and the JWKS has several keys".to_owned(),
                ));
            }
        },
    };
    let key = DecodingKey::from_jwk(jwk)
        .map_err(|e| Rejection(format!("the JWKS key cannot be used: {e}")))?;
    if header.alg == Algorithm::HS256
        || header.alg == Algorithm::HS384
        || header.alg == Algorithm::HS512
    {
        // API Gateway accepts only asymmetric signatures from an issuer.
        return Err(Rejection(format!(
            "signing algorithm {:?} is not supported",
            header.alg
        )));
    }
    let mut validation = Validation::new(header.alg);
    // Claims are checked below with the injected clock and API Gateway's
    // rules (`client_id` may stand in for `aud`).
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| Rejection(format!("the signature is invalid: {e}")))
}

fn number(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, Rejection> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(Rejection(format!("the {name} claim is not a number"))),
    }
}

fn check_claims(
    claims: &Map<String, Value>,
    issuer: Option<&str>,
    audience: &[String],
    now: u64,
) -> Result<(), Rejection> {
    let now = now as f64;
    match number(claims, "exp")? {
        None => return Err(Rejection("the token has no exp claim".to_owned())),
        Some(exp) if exp <= now => return Err(Rejection("the token has expired".to_owned())),
        Some(_) => {}
    }
    if let Some(nbf) = number(claims, "nbf")?
        && nbf > now
    {
        return Err(Rejection("the token is not valid yet (nbf)".to_owned()));
    }
    if let Some(issuer) = issuer {
        let actual = claims.get("iss").and_then(Value::as_str);
        if actual != Some(issuer) {
            return Err(Rejection(format!(
                "the token's issuer {} is not {issuer}",
                actual.unwrap_or("(none)")
            )));
        }
    }
    if !audience.is_empty() {
        let mut presented: Vec<&str> = match claims.get("aud") {
            Some(Value::String(aud)) => vec![aud.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if let Some(client_id) = claims.get("client_id").and_then(Value::as_str) {
            presented.push(client_id);
        }
        if !presented
            .iter()
            .any(|a| audience.iter().any(|allowed| allowed == a))
        {
            return Err(Rejection("the token's audience is not allowed".to_owned()));
        }
    }
    Ok(())
}

/// `scope` (space-separated) or `scp` (a list or a string).
fn scopes(claims: &Map<String, Value>) -> Option<Vec<String>> {
    let split = |text: &str| {
        text.split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    match claims.get("scope").or_else(|| claims.get("scp")) {
        Some(Value::String(text)) => Some(split(text)),
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use jsonwebtoken::{EncodingKey, Header, encode};
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    const PRIVATE_KEY: &str = include_str!("testdata/jwt-private.pem");
    const JWKS: &str = include_str!("testdata/jwks.json");
    const NOW: u64 = 1_700_000_000;

    fn token(claims: Value, kid: Option<&str>) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = kid.map(str::to_owned);
        encode(
            &header,
            &claims,
            &EncodingKey::from_rsa_pem(PRIVATE_KEY.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    fn verifier() -> JwtVerifier {
        JwtVerifier::with_keys(serde_json::from_str(JWKS).unwrap())
    }

    fn check(verifier: &JwtVerifier, token: &str, expected: Result<&str, &str>) {
        let audience = ["my-app".to_owned()];
        let got = verifier.check(
            &format!("Bearer {token}"),
            Some("https://issuer.example"),
            &audience,
            NOW,
        );
        match (got, expected) {
            (Ok(Authorization::Jwt { claims, .. }), Ok(sub)) => {
                assert_eq!(claims["sub"], json!(sub))
            }
            (Err(Rejection(message)), Err(want)) => assert!(message.contains(want), "{message}"),
            (got, want) => panic!("{got:?} vs {want:?}"),
        }
    }

    fn claims() -> Value {
        json!({ "sub": "ada", "iss": "https://issuer.example", "aud": "my-app", "exp": NOW + 60, "scope": "read write" })
    }

    #[test]
    fn signed_tokens_are_verified() {
        let verifier = verifier();
        check(&verifier, &token(claims(), Some("test-key")), Ok("ada"));
        let mut expired = claims();
        expired["exp"] = json!(NOW - 1);
        check(&verifier, &token(expired, Some("test-key")), Err("expired"));
        let mut early = claims();
        early["nbf"] = json!(NOW + 100);
        check(
            &verifier,
            &token(early, Some("test-key")),
            Err("not valid yet"),
        );
        let mut other_issuer = claims();
        other_issuer["iss"] = json!("https://evil.example");
        check(
            &verifier,
            &token(other_issuer, Some("test-key")),
            Err("issuer"),
        );
        let mut other_audience = claims();
        other_audience["aud"] = json!(["someone-else"]);
        check(
            &verifier,
            &token(other_audience.clone(), Some("test-key")),
            Err("audience"),
        );
        other_audience["client_id"] = json!("my-app");
        check(
            &verifier,
            &token(other_audience, Some("test-key")),
            Ok("ada"),
        );
        check(
            &verifier,
            &token(claims(), Some("unknown")),
            Err("no key with kid"),
        );
        check(&verifier, &token(claims(), None), Ok("ada"));
        let tampered = token(claims(), Some("test-key"));
        let mut parts: Vec<&str> = tampered.split('.').collect();
        let other_payload = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            json!({ "sub": "mallory", "iss": "https://issuer.example", "aud": "my-app", "exp": NOW + 60 }).to_string(),
        );
        parts[1] = &other_payload;
        check(&verifier, &parts.join("."), Err("signature"));
        check(&verifier, "not-a-token", Err("not a JWT"));
    }

    #[test]
    fn unverified_mode_still_checks_claims() {
        let verifier = JwtVerifier::unverified();
        let authorization = verifier
            .check(
                &token(claims(), None),
                Some("https://issuer.example"),
                &["my-app".to_owned()],
                NOW,
            )
            .unwrap();
        let Authorization::Jwt { claims, scopes } = authorization else {
            panic!()
        };
        assert_eq!(claims["exp"], json!((NOW + 60).to_string()));
        assert_eq!(scopes, Some(vec!["read".to_owned(), "write".to_owned()]));
        let mut expired = super::tests::claims();
        expired["exp"] = json!(NOW - 1);
        check(&verifier, &token(expired, None), Err("expired"));
    }

    proptest! {
        #[test]
        fn arbitrary_tokens_are_refused_without_panicking(text in any::<String>()) {
            let audience = ["a".to_owned()];
            prop_assert!(verifier().check(&text, None, &audience, NOW).is_err());
            prop_assert!(JwtVerifier::unverified().check(&text, None, &audience, NOW).is_err());
        }
    }
}
