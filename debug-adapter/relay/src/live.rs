//! Live mode's messages, carried end-to-end encrypted between the
//! forwarding stub in the cloud sandbox (`fogbank-agent --forward`) and the
//! developer's adapter. Pure encoding and an incremental decoder, fuzzed.
//!
//! The stub sends [`LiveMessage::Environment`] once per channel, then one
//! [`LiveMessage::Invoke`] per cloud invocation; the developer answers each
//! with [`LiveMessage::Response`] or [`LiveMessage::Error`].
//!
//! Each message is `length: u32 BE`, then `type: u8` and its fields; a
//! string or byte field is `length: u32 BE` and the bytes, a list is
//! `count: u32 BE` and its items.

/// Largest message: Lambda's 6 MB synchronous payload limit, plus headers.
pub const MAX_MESSAGE: usize = 7 * 1024 * 1024;

/// Environment variables the stub never forwards, and why:
/// - `AWS_LAMBDA_RUNTIME_API`: the cloud's Runtime API is the stub's, not the
///   local function's (fogbank sets its own);
/// - `AWS_LAMBDA_EXEC_WRAPPER`, `_HANDLER`'s companions `LAMBDA_TASK_ROOT` and
///   `LAMBDA_RUNTIME_DIR`: paths of the cloud sandbox, meaningless locally;
/// - `FOGBANK_*`: the relay address, session and the session secret itself;
/// - `PATH`, `LD_LIBRARY_PATH`, `LD_PRELOAD`, `HOME`, `PWD`, `OLDPWD`,
///   `SHLVL`, `_`, `HOSTNAME`, `TERM`: the sandbox's process setup, which
///   would break the developer's machine.
///
/// Everything else goes, including the function's temporary credentials
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), so
/// the local run acts with the function's real role.
pub const ENV_DENY_LIST: &[&str] = &[
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_EXEC_WRAPPER",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
    "PATH",
    "LD_LIBRARY_PATH",
    "LD_PRELOAD",
    "HOME",
    "PWD",
    "OLDPWD",
    "SHLVL",
    "_",
    "HOSTNAME",
    "TERM",
];

/// Prefix of Fogbank's own variables, never forwarded.
pub const ENV_DENY_PREFIX: &str = "FOGBANK_";

/// Whether the stub forwards the variable `key`.
pub fn forwards_env(key: &str) -> bool {
    !key.starts_with(ENV_DENY_PREFIX) && !ENV_DENY_LIST.contains(&key)
}

/// One message of a live channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveMessage {
    /// The function's environment in the sandbox, minus [`ENV_DENY_LIST`].
    Environment {
        /// Variables in the sandbox's order.
        vars: Vec<(String, String)>,
    },
    /// A cloud invocation, as the Runtime API handed it to the stub.
    Invoke {
        /// `Lambda-Runtime-Aws-Request-Id`.
        request_id: String,
        /// Every header of the Runtime API's `next` response, verbatim.
        headers: Vec<(String, String)>,
        /// The event.
        body: Vec<u8>,
    },
    /// The function's result.
    Response {
        /// The invocation answered.
        request_id: String,
        /// The response payload.
        body: Vec<u8>,
    },
    /// The invocation failed.
    Error {
        /// The invocation answered.
        request_id: String,
        /// `Lambda-Runtime-Function-Error-Type`.
        error_type: String,
        /// The error document (`{"errorType","errorMessage",...}`).
        body: Vec<u8>,
    },
}

impl LiveMessage {
    /// The message's bytes, length prefix included.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        match self {
            LiveMessage::Environment { vars } => {
                body.push(1);
                put_pairs(&mut body, vars);
            }
            LiveMessage::Invoke {
                request_id,
                headers,
                body: event,
            } => {
                body.push(2);
                put_bytes(&mut body, request_id.as_bytes());
                put_pairs(&mut body, headers);
                put_bytes(&mut body, event);
            }
            LiveMessage::Response {
                request_id,
                body: payload,
            } => {
                body.push(3);
                put_bytes(&mut body, request_id.as_bytes());
                put_bytes(&mut body, payload);
            }
            LiveMessage::Error {
                request_id,
                error_type,
                body: payload,
            } => {
                body.push(4);
                put_bytes(&mut body, request_id.as_bytes());
                put_bytes(&mut body, error_type.as_bytes());
                put_bytes(&mut body, payload);
            }
        }
        let mut out = Vec::with_capacity(body.len() + 4);
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// The value of header `name` (case-insensitive) of an `Invoke`.
    pub fn header(&self, name: &str) -> Option<&str> {
        match self {
            LiveMessage::Invoke { headers, .. } => headers
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_str()),
            _ => None,
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn put_pairs(out: &mut Vec<u8>, pairs: &[(String, String)]) {
    out.extend_from_slice(&(pairs.len() as u32).to_be_bytes());
    for (key, value) in pairs {
        put_bytes(out, key.as_bytes());
        put_bytes(out, value.as_bytes());
    }
}

/// Why bytes are not a live message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiveError {
    /// The message is longer than [`MAX_MESSAGE`].
    #[error("live message of {0} bytes is larger than the limit of {MAX_MESSAGE}")]
    TooLarge(usize),
    /// The message type is unknown.
    #[error("unknown live message type {0}")]
    UnknownType(u8),
    /// A field is cut short or is not UTF-8.
    #[error("malformed live message: {0}")]
    Malformed(&'static str),
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize, what: &'static str) -> Result<&'a [u8], LiveError> {
        let (head, rest) = self
            .bytes
            .split_at_checked(count)
            .ok_or(LiveError::Malformed(what))?;
        self.bytes = rest;
        Ok(head)
    }

    fn u32(&mut self, what: &'static str) -> Result<usize, LiveError> {
        let bytes = self.take(4, what)?;
        let mut word = [0u8; 4];
        word.copy_from_slice(bytes);
        Ok(u32::from_be_bytes(word) as usize)
    }

    fn bytes(&mut self, what: &'static str) -> Result<Vec<u8>, LiveError> {
        let length = self.u32(what)?;
        self.take(length, what).map(<[u8]>::to_vec)
    }

    fn string(&mut self, what: &'static str) -> Result<String, LiveError> {
        String::from_utf8(self.bytes(what)?).map_err(|_| LiveError::Malformed(what))
    }

    fn pairs(&mut self, what: &'static str) -> Result<Vec<(String, String)>, LiveError> {
        let count = self.u32(what)?;
        // Each pair takes at least 8 bytes, which bounds the allocation.
        if count > self.bytes.len() / 8 {
            return Err(LiveError::Malformed(what));
        }
        let mut pairs = Vec::with_capacity(count);
        for _ in 0..count {
            pairs.push((self.string(what)?, self.string(what)?));
        }
        Ok(pairs)
    }
}

/// Decodes one message body (after its length prefix).
pub fn decode_body(body: &[u8]) -> Result<LiveMessage, LiveError> {
    let Some((&kind, rest)) = body.split_first() else {
        return Err(LiveError::Malformed("empty message"));
    };
    let mut reader = Reader { bytes: rest };
    let message = match kind {
        1 => LiveMessage::Environment {
            vars: reader.pairs("environment variables")?,
        },
        2 => LiveMessage::Invoke {
            request_id: reader.string("invoke request id")?,
            headers: reader.pairs("invoke headers")?,
            body: reader.bytes("invoke event")?,
        },
        3 => LiveMessage::Response {
            request_id: reader.string("response request id")?,
            body: reader.bytes("response payload")?,
        },
        4 => LiveMessage::Error {
            request_id: reader.string("error request id")?,
            error_type: reader.string("error type")?,
            body: reader.bytes("error payload")?,
        },
        other => return Err(LiveError::UnknownType(other)),
    };
    if !reader.bytes.is_empty() {
        return Err(LiveError::Malformed("trailing bytes"));
    }
    Ok(message)
}

/// Incremental decoder over the decrypted byte stream of a live channel.
#[derive(Debug, Default)]
pub struct LiveDecoder {
    buffer: Vec<u8>,
}

impl LiveDecoder {
    /// A decoder with nothing buffered.
    pub fn new() -> LiveDecoder {
        LiveDecoder::default()
    }

    /// Adds received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next message, `None` if more bytes are needed. After an error the
    /// channel should be closed.
    pub fn next_message(&mut self) -> Option<Result<LiveMessage, LiveError>> {
        let [a, b, c, d, ..] = *self.buffer.as_slice() else {
            return None;
        };
        let length = u32::from_be_bytes([a, b, c, d]) as usize;
        if length > MAX_MESSAGE {
            return Some(Err(LiveError::TooLarge(length)));
        }
        if self.buffer.len() < 4 + length {
            return None;
        }
        let message = decode_body(&self.buffer[4..4 + length]);
        self.buffer.drain(..4 + length);
        Some(message)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    fn samples() -> Vec<LiveMessage> {
        vec![
            LiveMessage::Environment {
                vars: vec![
                    ("AWS_REGION".into(), "eu-west-1".into()),
                    ("EMPTY".into(), String::new()),
                ],
            },
            LiveMessage::Invoke {
                request_id: "r-1".into(),
                headers: vec![("Lambda-Runtime-Deadline-Ms".into(), "1700000000000".into())],
                body: b"{\"a\":1}".to_vec(),
            },
            LiveMessage::Response {
                request_id: "r-1".into(),
                body: b"ok".to_vec(),
            },
            LiveMessage::Error {
                request_id: "r-2".into(),
                error_type: "Runtime.ExitError".into(),
                body: Vec::new(),
            },
        ]
    }

    #[test]
    fn messages_round_trip_byte_by_byte() {
        let bytes: Vec<u8> = samples().iter().flat_map(LiveMessage::encode).collect();
        let mut decoder = LiveDecoder::new();
        let mut decoded = Vec::new();
        for byte in bytes {
            decoder.push(&[byte]);
            while let Some(message) = decoder.next_message() {
                decoded.push(message.unwrap());
            }
        }
        assert_eq!(decoded, samples());
        assert_eq!(
            samples()[1].header("lambda-runtime-deadline-ms"),
            Some("1700000000000")
        );
        assert_eq!(samples()[0].header("x"), None);
    }

    fn check(body: &[u8], expected: &str) {
        let rendered = match decode_body(body) {
            Ok(message) => format!("{message:?}"),
            Err(error) => format!("error: {error}"),
        };
        assert_eq!(rendered, expected);
    }

    #[test]
    fn bad_messages() {
        check(&[], "error: malformed live message: empty message");
        check(&[9], "error: unknown live message type 9");
        check(
            &[3, 0, 0, 0, 5, b'a'],
            "error: malformed live message: response request id",
        );
        check(
            &[1, 0xff, 0xff, 0xff, 0xff],
            "error: malformed live message: environment variables",
        );
        check(
            &[3, 0, 0, 0, 1, b'a', 0, 0, 0, 0, 7],
            "error: malformed live message: trailing bytes",
        );
        check(
            &[3, 0, 0, 0, 1, 0xff, 0, 0, 0, 0],
            "error: malformed live message: response request id",
        );
        check(
            &[3, 0, 0, 0, 1, b'a', 0, 0, 0, 0],
            "Response { request_id: \"a\", body: [] }",
        );
        let mut decoder = LiveDecoder::new();
        decoder.push(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(
            decoder.next_message(),
            Some(Err(LiveError::TooLarge(u32::MAX as usize)))
        );
    }

    #[test]
    fn deny_list() {
        for (key, forwarded) in [
            ("AWS_ACCESS_KEY_ID", true),
            ("AWS_SESSION_TOKEN", true),
            ("MY_TABLE", true),
            ("AWS_LAMBDA_RUNTIME_API", false),
            ("FOGBANK_SESSION_SECRET", false),
            ("FOGBANK_RELAY", false),
            ("PATH", false),
            ("LAMBDA_TASK_ROOT", false),
        ] {
            assert_eq!(forwards_env(key), forwarded, "{key}");
        }
    }

    proptest! {
        #[test]
        fn decoder_never_panics(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 0..10)) {
            let mut decoder = LiveDecoder::new();
            for chunk in chunks {
                decoder.push(&chunk);
                while let Some(message) = decoder.next_message() {
                    if message.is_err() {
                        break;
                    }
                }
            }
        }

        #[test]
        fn body_decoding_never_panics(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_body(&body);
        }

        #[test]
        fn encoded_messages_decode(request_id in ".{0,40}", key in ".{0,20}", value in ".{0,50}", body in proptest::collection::vec(any::<u8>(), 0..500)) {
            let message = LiveMessage::Invoke { request_id, headers: vec![(key, value)], body };
            let mut decoder = LiveDecoder::new();
            decoder.push(&message.encode());
            prop_assert_eq!(decoder.next_message().unwrap().unwrap(), message);
        }
    }
}
