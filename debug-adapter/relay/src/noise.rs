//! End-to-end encryption between an agent and a developer's adapter: a
//! Noise `NNpsk0` handshake keyed by the session's pre-shared key, then
//! ChaCha20-Poly1305 transport messages. Pure: bytes in, bytes out.
//!
//! Why NNpsk0: both ends know one secret and nothing else (no long-term key
//! pairs to distribute). The PSK authenticates both sides from the first
//! message; fresh ephemeral keys on both sides give forward secrecy. The
//! prologue binds the handshake to the session and the channel, so a relay
//! cannot splice one channel's handshake into another.
//!
//! The agent initiates. Each handshake message carries a small hello: the
//! agent's says which mode it serves (in-place RSP, or live forwarding), the
//! developer's accepts or declines with a reason.

use std::sync::Arc;

use crate::secret::SessionId;
use crate::wire::ChannelId;

/// The Noise protocol name.
pub const PATTERN: &str = "Noise_NNpsk0_25519_ChaChaPoly_SHA256";

/// Bytes the AEAD tag adds to each message.
pub const TAG_LEN: usize = 16;

/// Largest plaintext the clients put in one transport message. Smaller than
/// Noise's 65519 so that a message is one TLS record's worth and latency
/// stays low for small RSP packets.
pub const MAX_CHUNK: usize = 16 * 1024;

/// Noise failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoiseError {
    /// The handshake could not be set up.
    #[error("setting up the Noise handshake failed: {0}")]
    Setup(String),
    /// A handshake message failed to authenticate: the peer holds another
    /// secret, or the relay altered the message.
    #[error(
        "the end-to-end handshake failed: the other end does not hold this session's secret (or the message was altered)"
    )]
    Handshake,
    /// A transport message failed to authenticate.
    #[error(
        "an end-to-end encrypted message failed to authenticate (it was altered, replayed or reordered)"
    )]
    Decrypt,
    /// A message too large to encrypt.
    #[error("a message of {0} bytes is too large to encrypt")]
    TooLarge(usize),
    /// The peer's hello could not be read.
    #[error("the other end's hello is malformed: {0}")]
    BadHello(&'static str),
}

/// What an agent serves on its channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelMode {
    /// The GDB Remote Serial Protocol of a function traced in the sandbox.
    InPlace,
    /// Forwarded invocations (see [`crate::live`]).
    Live,
}

impl ChannelMode {
    /// The name used in launch.json (`"mode"`).
    pub fn name(self) -> &'static str {
        match self {
            ChannelMode::InPlace => "in-place",
            ChannelMode::Live => "live",
        }
    }

    /// Reads a launch.json `mode`.
    pub fn from_name(name: &str) -> Option<ChannelMode> {
        match name {
            "in-place" => Some(ChannelMode::InPlace),
            "live" => Some(ChannelMode::Live),
            _ => None,
        }
    }
}

/// The agent's hello, in the first handshake message (encrypted under the
/// PSK already).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentHello {
    /// What the agent serves.
    pub mode: ChannelMode,
    /// The agent's name and version, e.g. `fogbank-agent 0.1.0`.
    pub software: String,
}

impl AgentHello {
    /// Encodes the hello.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![1u8, mode_code(self.mode)];
        out.extend_from_slice(self.software.as_bytes());
        out
    }

    /// Decodes a hello.
    pub fn decode(bytes: &[u8]) -> Result<AgentHello, NoiseError> {
        let [1, mode, software @ ..] = bytes else {
            return Err(NoiseError::BadHello("unknown agent hello version"));
        };
        let mode = match *mode {
            1 => ChannelMode::InPlace,
            2 => ChannelMode::Live,
            _ => return Err(NoiseError::BadHello("unknown mode")),
        };
        let software = std::str::from_utf8(software)
            .map_err(|_| NoiseError::BadHello("software name is not UTF-8"))?;
        Ok(AgentHello {
            mode,
            software: software.to_owned(),
        })
    }
}

fn mode_code(mode: ChannelMode) -> u8 {
    match mode {
        ChannelMode::InPlace => 1,
        ChannelMode::Live => 2,
    }
}

/// The developer's answer, in the second handshake message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeveloperHello {
    /// The developer takes the channel.
    Accept,
    /// The developer declines it, saying why (e.g. a mode mismatch).
    Decline(String),
}

impl DeveloperHello {
    /// Encodes the answer.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            DeveloperHello::Accept => vec![1, 1],
            DeveloperHello::Decline(reason) => {
                let mut out = vec![1, 0];
                out.extend_from_slice(reason.as_bytes());
                out
            }
        }
    }

    /// Decodes an answer.
    pub fn decode(bytes: &[u8]) -> Result<DeveloperHello, NoiseError> {
        match bytes {
            [1, 1] => Ok(DeveloperHello::Accept),
            [1, 0, reason @ ..] => Ok(DeveloperHello::Decline(
                String::from_utf8_lossy(reason).into_owned(),
            )),
            _ => Err(NoiseError::BadHello("unknown developer answer")),
        }
    }
}

/// The prologue both ends mix in: protocol, session and channel.
pub fn prologue(session: &SessionId, channel: &ChannelId) -> Vec<u8> {
    let mut out = b"fogbank relay e2e v1".to_vec();
    out.extend_from_slice(&session.0);
    out.extend_from_slice(&channel.0);
    out
}

/// A handshake in progress.
pub struct Handshake {
    state: snow::HandshakeState,
}

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Handshake(..)")
    }
}

impl Handshake {
    fn build(psk: &[u8; 32], prologue: &[u8], initiator: bool) -> Result<Handshake, NoiseError> {
        let setup = |error: snow::Error| NoiseError::Setup(error.to_string());
        let params: snow::params::NoiseParams = PATTERN.parse().map_err(setup)?;
        let builder = snow::Builder::new(params)
            .psk(0, psk)
            .map_err(setup)?
            .prologue(prologue)
            .map_err(setup)?;
        let state = if initiator {
            builder.build_initiator()
        } else {
            builder.build_responder()
        }
        .map_err(setup)?;
        Ok(Handshake { state })
    }

    /// The agent's side.
    pub fn initiator(psk: &[u8; 32], prologue: &[u8]) -> Result<Handshake, NoiseError> {
        Handshake::build(psk, prologue, true)
    }

    /// The developer's side.
    pub fn responder(psk: &[u8; 32], prologue: &[u8]) -> Result<Handshake, NoiseError> {
        Handshake::build(psk, prologue, false)
    }

    /// The next handshake message, carrying `payload`.
    pub fn write(&mut self, payload: &[u8]) -> Result<Vec<u8>, NoiseError> {
        let mut message = vec![0u8; payload.len() + 128];
        let length = self
            .state
            .write_message(payload, &mut message)
            .map_err(|error| NoiseError::Setup(error.to_string()))?;
        message.truncate(length);
        Ok(message)
    }

    /// Reads the peer's handshake message and returns its payload.
    pub fn read(&mut self, message: &[u8]) -> Result<Vec<u8>, NoiseError> {
        let mut payload = vec![0u8; message.len()];
        let length = self
            .state
            .read_message(message, &mut payload)
            .map_err(|_| NoiseError::Handshake)?;
        payload.truncate(length);
        Ok(payload)
    }

    /// The transport keys, once both messages are through.
    pub fn finish(self) -> Result<(Sealer, Opener), NoiseError> {
        let state = self
            .state
            .into_stateless_transport_mode()
            .map_err(|error| NoiseError::Setup(error.to_string()))?;
        let state = Arc::new(state);
        Ok((
            Sealer {
                state: state.clone(),
                nonce: 0,
            },
            Opener { state, nonce: 0 },
        ))
    }
}

/// Encrypts outgoing messages (one direction of a channel).
pub struct Sealer {
    state: Arc<snow::StatelessTransportState>,
    nonce: u64,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer(nonce {})", self.nonce)
    }
}

impl Sealer {
    /// Encrypts one message of at most 65519 bytes.
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, NoiseError> {
        if plaintext.len() + TAG_LEN > crate::wire::MAX_NOISE_MESSAGE {
            return Err(NoiseError::TooLarge(plaintext.len()));
        }
        let mut message = vec![0u8; plaintext.len() + TAG_LEN];
        let length = self
            .state
            .write_message(self.nonce, plaintext, &mut message)
            .map_err(|_| NoiseError::TooLarge(plaintext.len()))?;
        self.nonce += 1;
        message.truncate(length);
        Ok(message)
    }
}

/// Decrypts incoming messages (the other direction). Nonces count up, so a
/// replayed, dropped or reordered message fails to authenticate.
pub struct Opener {
    state: Arc<snow::StatelessTransportState>,
    nonce: u64,
}

impl std::fmt::Debug for Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Opener(nonce {})", self.nonce)
    }
}

impl Opener {
    /// Decrypts and authenticates one message.
    pub fn open(&mut self, message: &[u8]) -> Result<Vec<u8>, NoiseError> {
        if message.len() < TAG_LEN || message.len() > crate::wire::MAX_NOISE_MESSAGE {
            return Err(NoiseError::Decrypt);
        }
        let mut plaintext = vec![0u8; message.len()];
        let length = self
            .state
            .read_message(self.nonce, message, &mut plaintext)
            .map_err(|_| NoiseError::Decrypt)?;
        self.nonce += 1;
        plaintext.truncate(length);
        Ok(plaintext)
    }
}

/// The result of a whole handshake on one side.
#[derive(Debug)]
pub struct Established {
    /// Encrypts what this side sends.
    pub sealer: Sealer,
    /// Decrypts what it receives.
    pub opener: Opener,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    type Pair = ((Sealer, Opener), (Sealer, Opener), AgentHello);

    fn pair(agent_psk: [u8; 32], developer_psk: [u8; 32]) -> Result<Pair, NoiseError> {
        let prologue = prologue(&SessionId([1; 16]), &ChannelId([2; 16]));
        let mut agent = Handshake::initiator(&agent_psk, &prologue)?;
        let mut developer = Handshake::responder(&developer_psk, &prologue)?;
        let hello = AgentHello {
            mode: ChannelMode::Live,
            software: "fogbank-agent test".into(),
        };
        let first = agent.write(&hello.encode())?;
        let seen = AgentHello::decode(&developer.read(&first)?)?;
        let second = developer.write(&DeveloperHello::Accept.encode())?;
        assert_eq!(
            DeveloperHello::decode(&agent.read(&second)?)?,
            DeveloperHello::Accept
        );
        Ok((agent.finish()?, developer.finish()?, seen))
    }

    #[test]
    fn both_ends_talk_through_a_handshake() {
        let ((mut agent_seal, mut agent_open), (mut dev_seal, mut dev_open), hello) =
            pair([5; 32], [5; 32]).unwrap();
        assert_eq!(hello.mode, ChannelMode::Live);
        let message = agent_seal.seal(b"$qSupported#37").unwrap();
        assert!(
            !message.windows(11).any(|w| w == b"qSupported"),
            "ciphertext leaks plaintext"
        );
        assert_eq!(dev_open.open(&message).unwrap(), b"$qSupported#37");
        let reply = dev_seal.seal(b"OK").unwrap();
        assert_eq!(agent_open.open(&reply).unwrap(), b"OK");
    }

    #[test]
    fn a_different_secret_fails_the_handshake() {
        let prologue = prologue(&SessionId([1; 16]), &ChannelId([2; 16]));
        let mut agent = Handshake::initiator(&[1; 32], &prologue).unwrap();
        let mut developer = Handshake::responder(&[2; 32], &prologue).unwrap();
        let first = agent.write(b"hi").unwrap();
        assert_eq!(developer.read(&first), Err(NoiseError::Handshake));
    }

    #[test]
    fn another_channel_cannot_take_the_handshake() {
        let mut agent = Handshake::initiator(
            &[1; 32],
            &prologue(&SessionId([1; 16]), &ChannelId([2; 16])),
        )
        .unwrap();
        let mut developer = Handshake::responder(
            &[1; 32],
            &prologue(&SessionId([1; 16]), &ChannelId([3; 16])),
        )
        .unwrap();
        let first = agent.write(b"hi").unwrap();
        assert_eq!(developer.read(&first), Err(NoiseError::Handshake));
    }

    #[test]
    fn altered_replayed_and_reordered_messages_fail() {
        let ((mut seal, _), (_, mut open), _) = pair([5; 32], [5; 32]).unwrap();
        let first = seal.seal(b"one").unwrap();
        let second = seal.seal(b"two").unwrap();
        let mut altered = first.clone();
        altered[0] ^= 1;
        assert_eq!(open.open(&altered), Err(NoiseError::Decrypt));
        assert_eq!(open.open(&second), Err(NoiseError::Decrypt), "reordered");
        assert_eq!(open.open(&first).unwrap(), b"one");
        assert_eq!(open.open(&first), Err(NoiseError::Decrypt), "replayed");
        assert_eq!(open.open(&second).unwrap(), b"two");
    }

    #[test]
    fn hellos_round_trip_and_reject_garbage() {
        let hello = AgentHello {
            mode: ChannelMode::InPlace,
            software: "x".into(),
        };
        assert_eq!(AgentHello::decode(&hello.encode()).unwrap(), hello);
        let decline = DeveloperHello::Decline("wrong mode".into());
        assert_eq!(DeveloperHello::decode(&decline.encode()).unwrap(), decline);
        assert!(AgentHello::decode(&[1, 9]).is_err());
        assert!(AgentHello::decode(&[]).is_err());
        assert!(DeveloperHello::decode(&[2]).is_err());
        assert_eq!(
            ChannelMode::from_name("in-place"),
            Some(ChannelMode::InPlace)
        );
        assert_eq!(
            ChannelMode::from_name(ChannelMode::Live.name()),
            Some(ChannelMode::Live)
        );
        assert_eq!(ChannelMode::from_name("remote"), None);
    }

    #[test]
    fn oversized_plaintext_is_refused() {
        let ((mut seal, _), _, _) = pair([5; 32], [5; 32]).unwrap();
        assert_eq!(seal.seal(&vec![0; 65520]), Err(NoiseError::TooLarge(65520)));
        assert!(seal.seal(&vec![0; 65519]).is_ok());
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = AgentHello::decode(&bytes);
            let _ = DeveloperHello::decode(&bytes);
            let prologue = prologue(&SessionId([1; 16]), &ChannelId([2; 16]));
            let mut developer = Handshake::responder(&[1; 32], &prologue).unwrap();
            let _ = developer.read(&bytes);
            let ((_, _), (_, mut open), _) = pair([5; 32], [5; 32]).unwrap();
            let _ = open.open(&bytes);
        }
    }
}
