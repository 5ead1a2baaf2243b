//! The relay's frames: what agents, adapters and the relay say to each
//! other inside TLS. Pure encoding and an incremental decoder, fuzzed.
//!
//! Every frame is `type: u8`, `length: u32 BE`, then `length` bytes. Before
//! pairing, a client sends one [`Hello`] and the relay answers
//! [`Frame::Accepted`] or [`Frame::Refused`]; a developer's listening
//! connection then receives [`Frame::Incoming`] for each agent waiting. Once
//! paired, both sides exchange [`Frame::Data`] (Noise messages the relay
//! forwards untouched) and [`Frame::Keepalive`] (which the relay drops).

use crate::secret::RelayToken;

/// Protocol version clients send in their hello.
pub const PROTOCOL_VERSION: u8 = 1;

/// Bytes of a frame header.
pub const HEADER_LEN: usize = 5;

/// Largest Data payload the clients send: one Noise message.
pub const MAX_NOISE_MESSAGE: usize = 65535;

/// Largest hello payload: flags, token, channel and a ticket of a few
/// hundred bytes.
const MAX_HELLO: usize = 1024;

/// A channel: one agent paired with one developer connection. Its id is
/// random and only ever told to the session's attached developer, so it is
/// also the capability to join.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub [u8; 16]);

impl ChannelId {
    /// A fresh random id.
    pub fn generate() -> ChannelId {
        let mut bytes = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        ChannelId(bytes)
    }

    /// The first characters of the id in hex, to tell channels apart in
    /// messages.
    pub fn short(&self) -> String {
        self.0[..4].iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Debug for ChannelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChannelId({})", self.short())
    }
}

/// Which end a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A sandbox agent (in-place or forwarding stub).
    Agent,
    /// A developer's adapter, attaching to the session: it is told about
    /// agents and joins them on separate connections.
    Developer,
    /// A developer's connection joining one announced agent.
    Join(ChannelId),
}

/// A client's first frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The client's protocol version.
    pub version: u8,
    /// Which end it is.
    pub role: Role,
    /// Agents: wait for a developer to attach instead of being refused at
    /// once when none is.
    pub wait: bool,
    /// The session ticket's text.
    pub ticket: String,
    /// The relay token derived from the session secret.
    pub token: RelayToken,
}

/// Why the relay refused or closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    /// The token does not match the session (wrong secret).
    BadToken,
    /// The session expired.
    Expired,
    /// No developer is attached to the session.
    NoDeveloper,
    /// A developer is already attached; a second may not take over.
    SessionBusy,
    /// The channel to join is not waiting (already joined, or never
    /// announced).
    UnknownChannel,
    /// The session has too many connections.
    TooManyConnections,
    /// A frame was larger than the relay allows.
    MessageTooLarge,
    /// The frame could not be understood.
    Malformed,
    /// The client's protocol version is not served.
    UnsupportedVersion,
    /// Nothing was sent for too long.
    IdleTimeout,
    /// The relay is stopping.
    ShuttingDown,
}

impl RefusalReason {
    fn code(self) -> u8 {
        match self {
            RefusalReason::BadToken => 1,
            RefusalReason::Expired => 2,
            RefusalReason::NoDeveloper => 3,
            RefusalReason::SessionBusy => 4,
            RefusalReason::UnknownChannel => 5,
            RefusalReason::TooManyConnections => 6,
            RefusalReason::MessageTooLarge => 7,
            RefusalReason::Malformed => 8,
            RefusalReason::UnsupportedVersion => 9,
            RefusalReason::IdleTimeout => 10,
            RefusalReason::ShuttingDown => 11,
        }
    }

    fn from_code(code: u8) -> Option<RefusalReason> {
        Some(match code {
            1 => RefusalReason::BadToken,
            2 => RefusalReason::Expired,
            3 => RefusalReason::NoDeveloper,
            4 => RefusalReason::SessionBusy,
            5 => RefusalReason::UnknownChannel,
            6 => RefusalReason::TooManyConnections,
            7 => RefusalReason::MessageTooLarge,
            8 => RefusalReason::Malformed,
            9 => RefusalReason::UnsupportedVersion,
            10 => RefusalReason::IdleTimeout,
            11 => RefusalReason::ShuttingDown,
            _ => return None,
        })
    }
}

/// One frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A client introduces itself.
    Hello(Hello),
    /// The relay accepted the hello. `waiting` is set for an agent that now
    /// waits for a developer.
    Accepted {
        /// The agent waits for a developer (none is attached yet).
        waiting: bool,
    },
    /// The relay refused the connection, or is closing it; `message` says
    /// why, for people.
    Refused {
        /// The machine-readable reason.
        reason: RefusalReason,
        /// The explanation.
        message: String,
    },
    /// To a developer: an agent waits on this channel; join it.
    Incoming(ChannelId),
    /// To an agent and its joiner: the channel is open; Data follows.
    Paired(ChannelId),
    /// Opaque bytes for the peer (a Noise message).
    Data(Vec<u8>),
    /// Keeps an idle connection open; the relay drops it.
    Keepalive,
}

const HELLO: u8 = 1;
const ACCEPTED: u8 = 2;
const REFUSED: u8 = 3;
const INCOMING: u8 = 4;
const PAIRED: u8 = 5;
const DATA: u8 = 6;
const KEEPALIVE: u8 = 7;

const ROLE_AGENT: u8 = 1;
const ROLE_DEVELOPER: u8 = 2;
const ROLE_JOIN: u8 = 3;
const FLAG_WAIT: u8 = 1;

/// Why bytes are not a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The frame type is unknown.
    #[error("unknown relay frame type {0}")]
    UnknownType(u8),
    /// The frame is longer than allowed.
    #[error("relay frame of {length} bytes is larger than the limit of {max}")]
    TooLarge {
        /// Its announced length.
        length: usize,
        /// The limit.
        max: usize,
    },
    /// The payload does not fit the frame type.
    #[error("malformed relay {frame} frame: {detail}")]
    Malformed {
        /// The frame type.
        frame: &'static str,
        /// What is wrong.
        detail: &'static str,
    },
}

fn push_frame(out: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    out.push(kind);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
}

impl Frame {
    /// The frame's bytes, header included.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the frame's bytes to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Frame::Hello(hello) => {
                let mut payload = Vec::with_capacity(64 + hello.ticket.len());
                payload.push(hello.version);
                let channel = match hello.role {
                    Role::Agent => {
                        payload.push(ROLE_AGENT);
                        None
                    }
                    Role::Developer => {
                        payload.push(ROLE_DEVELOPER);
                        None
                    }
                    Role::Join(channel) => {
                        payload.push(ROLE_JOIN);
                        Some(channel)
                    }
                };
                payload.push(if hello.wait { FLAG_WAIT } else { 0 });
                payload.extend_from_slice(&hello.token.0);
                if let Some(channel) = channel {
                    payload.extend_from_slice(&channel.0);
                }
                payload.extend_from_slice(hello.ticket.as_bytes());
                push_frame(out, HELLO, &payload);
            }
            Frame::Accepted { waiting } => push_frame(out, ACCEPTED, &[u8::from(*waiting)]),
            Frame::Refused { reason, message } => {
                let mut payload = Vec::with_capacity(1 + message.len());
                payload.push(reason.code());
                payload.extend_from_slice(message.as_bytes());
                push_frame(out, REFUSED, &payload);
            }
            Frame::Incoming(channel) => push_frame(out, INCOMING, &channel.0),
            Frame::Paired(channel) => push_frame(out, PAIRED, &channel.0),
            Frame::Data(data) => push_frame(out, DATA, data),
            Frame::Keepalive => push_frame(out, KEEPALIVE, &[]),
        }
    }

    /// A short name of the frame type, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Frame::Hello(_) => "hello",
            Frame::Accepted { .. } => "accepted",
            Frame::Refused { .. } => "refused",
            Frame::Incoming(_) => "incoming",
            Frame::Paired(_) => "paired",
            Frame::Data(_) => "data",
            Frame::Keepalive => "keepalive",
        }
    }
}

fn channel(payload: &[u8], frame: &'static str) -> Result<ChannelId, WireError> {
    payload
        .try_into()
        .map(ChannelId)
        .map_err(|_| WireError::Malformed {
            frame,
            detail: "a channel id is 16 bytes",
        })
}

/// Decodes one frame's payload.
pub fn decode_payload(kind: u8, payload: &[u8]) -> Result<Frame, WireError> {
    match kind {
        HELLO => decode_hello(payload).map(Frame::Hello),
        ACCEPTED => match payload {
            [waiting @ (0 | 1)] => Ok(Frame::Accepted {
                waiting: *waiting == 1,
            }),
            _ => Err(WireError::Malformed {
                frame: "accepted",
                detail: "expected one byte, 0 or 1",
            }),
        },
        REFUSED => {
            let Some((&code, message)) = payload.split_first() else {
                return Err(WireError::Malformed {
                    frame: "refused",
                    detail: "no reason code",
                });
            };
            let reason = RefusalReason::from_code(code).ok_or(WireError::Malformed {
                frame: "refused",
                detail: "unknown reason code",
            })?;
            Ok(Frame::Refused {
                reason,
                message: String::from_utf8_lossy(message).into_owned(),
            })
        }
        INCOMING => channel(payload, "incoming").map(Frame::Incoming),
        PAIRED => channel(payload, "paired").map(Frame::Paired),
        DATA => Ok(Frame::Data(payload.to_vec())),
        KEEPALIVE if payload.is_empty() => Ok(Frame::Keepalive),
        KEEPALIVE => Err(WireError::Malformed {
            frame: "keepalive",
            detail: "it carries no payload",
        }),
        other => Err(WireError::UnknownType(other)),
    }
}

fn decode_hello(payload: &[u8]) -> Result<Hello, WireError> {
    let malformed = |detail| WireError::Malformed {
        frame: "hello",
        detail,
    };
    if payload.len() > MAX_HELLO {
        return Err(malformed("longer than 1024 bytes"));
    }
    let [version, role, flags, rest @ ..] = payload else {
        return Err(malformed("shorter than its fixed fields"));
    };
    if flags & !FLAG_WAIT != 0 {
        return Err(malformed("unknown flags"));
    }
    let (token, rest) = rest
        .split_at_checked(32)
        .ok_or(malformed("no 32-byte token"))?;
    let token = RelayToken(
        token
            .try_into()
            .map_err(|_| malformed("no 32-byte token"))?,
    );
    let (role, rest) = match *role {
        ROLE_AGENT => (Role::Agent, rest),
        ROLE_DEVELOPER => (Role::Developer, rest),
        ROLE_JOIN => {
            let (id, rest) = rest
                .split_at_checked(16)
                .ok_or(malformed("no 16-byte channel id"))?;
            (Role::Join(channel(id, "hello")?), rest)
        }
        _ => return Err(malformed("unknown role")),
    };
    let ticket = std::str::from_utf8(rest).map_err(|_| malformed("the session is not UTF-8"))?;
    Ok(Hello {
        version: *version,
        role,
        wait: flags & FLAG_WAIT != 0,
        ticket: ticket.to_owned(),
        token,
    })
}

/// Incremental frame decoder: push bytes as they arrive, take frames out.
#[derive(Debug)]
pub struct FrameDecoder {
    buffer: Vec<u8>,
    start: usize,
    max_payload: usize,
}

impl FrameDecoder {
    /// A decoder refusing payloads above `max_payload` bytes.
    pub fn new(max_payload: usize) -> FrameDecoder {
        FrameDecoder {
            buffer: Vec::new(),
            start: 0,
            max_payload,
        }
    }

    /// Adds received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buffer.len() {
            self.buffer.clear();
            self.start = 0;
        } else if self.start > 64 * 1024 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// Whether a complete frame (or a decoding error) is buffered.
    pub fn has_frame(&self) -> bool {
        let pending = &self.buffer[self.start..];
        match header(pending) {
            Some((_, length)) => length > self.max_payload || pending.len() >= HEADER_LEN + length,
            None => false,
        }
    }

    /// Whether a complete frame other than a keepalive (or a decoding
    /// error) is buffered: input a reader would act on. Keepalives alone do
    /// not count, so a poll(2) loop does not spin on them.
    pub fn has_payload_frame(&self) -> bool {
        let mut pending = &self.buffer[self.start..];
        while let Some((kind, length)) = header(pending) {
            if length > self.max_payload {
                return true;
            }
            if pending.len() < HEADER_LEN + length {
                return false;
            }
            if kind != KEEPALIVE || length != 0 {
                return true;
            }
            pending = &pending[HEADER_LEN..];
        }
        false
    }

    /// Bytes buffered but not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buffer.len() - self.start
    }

    /// The next frame, `None` if more bytes are needed. After an error the
    /// stream is out of step; the connection should be closed.
    pub fn next_frame(&mut self) -> Option<Result<Frame, WireError>> {
        let pending = &self.buffer[self.start..];
        let (kind, length) = header(pending)?;
        if length > self.max_payload {
            // Skip nothing: the caller closes the connection.
            return Some(Err(WireError::TooLarge {
                length,
                max: self.max_payload,
            }));
        }
        if pending.len() < HEADER_LEN + length {
            return None;
        }
        let frame = decode_payload(kind, &pending[HEADER_LEN..HEADER_LEN + length]);
        self.start += HEADER_LEN + length;
        Some(frame)
    }
}

fn header(bytes: &[u8]) -> Option<(u8, usize)> {
    let [kind, a, b, c, d, ..] = *bytes else {
        return None;
    };
    Some((kind, u32::from_be_bytes([a, b, c, d]) as usize))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    fn samples() -> Vec<Frame> {
        vec![
            Frame::Hello(Hello {
                version: PROTOCOL_VERSION,
                role: Role::Agent,
                wait: true,
                ticket: "fbs1.a.1.b".into(),
                token: RelayToken([7; 32]),
            }),
            Frame::Hello(Hello {
                version: 9,
                role: Role::Join(ChannelId([3; 16])),
                wait: false,
                ticket: String::new(),
                token: RelayToken([0; 32]),
            }),
            Frame::Hello(Hello {
                version: 1,
                role: Role::Developer,
                wait: false,
                ticket: "t".into(),
                token: RelayToken([1; 32]),
            }),
            Frame::Accepted { waiting: true },
            Frame::Accepted { waiting: false },
            Frame::Refused {
                reason: RefusalReason::SessionBusy,
                message: "busy".into(),
            },
            Frame::Incoming(ChannelId([9; 16])),
            Frame::Paired(ChannelId([8; 16])),
            Frame::Data(vec![1, 2, 3]),
            Frame::Data(Vec::new()),
            Frame::Keepalive,
        ]
    }

    #[test]
    fn frames_round_trip_even_byte_by_byte() {
        let mut bytes = Vec::new();
        for frame in samples() {
            frame.encode_into(&mut bytes);
        }
        let mut decoder = FrameDecoder::new(1 << 16);
        let mut decoded = Vec::new();
        for byte in bytes {
            decoder.push(&[byte]);
            while let Some(frame) = decoder.next_frame() {
                decoded.push(frame.unwrap());
            }
        }
        assert_eq!(decoded, samples());
        assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn keepalives_alone_are_not_payload() {
        let mut decoder = FrameDecoder::new(100);
        decoder.push(&Frame::Keepalive.encode());
        decoder.push(&Frame::Keepalive.encode());
        assert!(decoder.has_frame());
        assert!(!decoder.has_payload_frame());
        decoder.push(&Frame::Data(vec![1]).encode()[..3]);
        assert!(!decoder.has_payload_frame());
        decoder.push(&Frame::Data(vec![1]).encode()[3..]);
        assert!(decoder.has_payload_frame());
        let mut decoder = FrameDecoder::new(100);
        decoder.push(&[6, 0, 0, 1, 0]);
        assert!(
            decoder.has_payload_frame(),
            "an oversized frame is an error to act on"
        );
    }

    fn check(bytes: &[u8], expected: &str) {
        let mut decoder = FrameDecoder::new(100);
        decoder.push(bytes);
        let rendered = match decoder.next_frame() {
            None => "incomplete".to_owned(),
            Some(Ok(frame)) => format!("{frame:?}"),
            Some(Err(error)) => format!("error: {error}"),
        };
        assert_eq!(rendered, expected);
    }

    #[test]
    fn bad_frames() {
        check(&[6, 0, 0], "incomplete");
        check(&[6, 0, 0, 0, 2, 1], "incomplete");
        check(
            &[6, 0, 0, 0, 101],
            "error: relay frame of 101 bytes is larger than the limit of 100",
        );
        check(&[99, 0, 0, 0, 0], "error: unknown relay frame type 99");
        check(
            &[2, 0, 0, 0, 1, 5],
            "error: malformed relay accepted frame: expected one byte, 0 or 1",
        );
        check(
            &[3, 0, 0, 0, 1, 77],
            "error: malformed relay refused frame: unknown reason code",
        );
        check(
            &[4, 0, 0, 0, 2, 1, 2],
            "error: malformed relay incoming frame: a channel id is 16 bytes",
        );
        check(
            &[1, 0, 0, 0, 3, 1, 1, 0],
            "error: malformed relay hello frame: no 32-byte token",
        );
        check(
            &[1, 0, 0, 0, 3, 1, 9, 0],
            "error: malformed relay hello frame: no 32-byte token",
        );
        check(
            &[1, 0, 0, 0, 2, 1, 1],
            "error: malformed relay hello frame: shorter than its fixed fields",
        );
        check(
            &[7, 0, 0, 0, 1, 0],
            "error: malformed relay keepalive frame: it carries no payload",
        );
        check(
            &[3, 0, 0, 0, 3, 4, b'h', b'i'],
            "Refused { reason: SessionBusy, message: \"hi\" }",
        );
    }

    #[test]
    fn hello_with_unknown_role_or_flags() {
        let mut payload = vec![1, 5, 0];
        payload.extend_from_slice(&[0; 32]);
        assert_eq!(
            decode_payload(1, &payload).unwrap_err().to_string(),
            "malformed relay hello frame: unknown role"
        );
        payload[1] = 1;
        payload[2] = 6;
        assert_eq!(
            decode_payload(1, &payload).unwrap_err().to_string(),
            "malformed relay hello frame: unknown flags"
        );
        payload[2] = 0;
        payload.extend_from_slice(&[0xff, 0xfe]);
        assert_eq!(
            decode_payload(1, &payload).unwrap_err().to_string(),
            "malformed relay hello frame: the session is not UTF-8"
        );
    }

    proptest! {
        #[test]
        fn decoder_never_panics(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20)) {
            let mut decoder = FrameDecoder::new(256);
            for chunk in chunks {
                decoder.push(&chunk);
                while let Some(frame) = decoder.next_frame() {
                    if frame.is_err() {
                        break;
                    }
                }
            }
        }

        #[test]
        fn payload_decoding_never_panics(kind in 0u8..10, payload in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_payload(kind, &payload);
        }

        #[test]
        fn encoded_frames_decode(data in proptest::collection::vec(any::<u8>(), 0..2000), ticket in ".{0,100}", wait: bool, token: [u8; 32], channel: [u8; 16], code in 1u8..12) {
            let frames = vec![
                Frame::Data(data),
                Frame::Hello(Hello { version: 1, role: Role::Join(ChannelId(channel)), wait, ticket: ticket.clone(), token: RelayToken(token) }),
                Frame::Refused { reason: RefusalReason::from_code(code).unwrap(), message: ticket },
            ];
            for frame in frames {
                let bytes = frame.encode();
                let mut decoder = FrameDecoder::new(4096);
                decoder.push(&bytes);
                prop_assert!(decoder.has_frame());
                prop_assert_eq!(decoder.next_frame().unwrap().unwrap(), frame);
            }
        }
    }
}
