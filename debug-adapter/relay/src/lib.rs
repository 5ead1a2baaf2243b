//! fogbank-relay: debugging a function that runs in the cloud, through a
//! rendezvous relay both ends dial out to.
//!
//! Code map:
//! - [`secret`]: session secrets, relay keys, session tickets; the HKDF
//!   derivations of the relay token and the Noise PSK.
//! - [`wire`]: the relay's frames (pure, fuzzed).
//! - [`noise`]: the end-to-end Noise handshake and transport (pure).
//! - [`live`]: live mode's messages between the forwarding stub and the
//!   developer (pure, fuzzed), and the environment deny-list.
//! - [`registry`]: the relay's pure core: sessions, the attached developer,
//!   waiting agents, limits.
//! - [`server`] (feature `tokio`): the relay server, `run(listener,
//!   config, shutdown)`.
//! - [`client`]: the blocking client (the agent) and, with `tokio`, the
//!   async client (the adapter).
//! - [`tls`]: rustls settings and the relay address.
//! - [`package`] (feature `package`): `fogbank package-agent`'s layer zip.
//! - [`developer`] (feature `tokio`): live mode on the developer's side:
//!   takes forwarding stubs and answers their invocations locally.
//!
//! Architecture invariants:
//! - The relay never holds a session secret and cannot derive the Noise key:
//!   it validates an HMAC over the token (derived from the secret under
//!   another label) and forwards only Noise ciphertext after pairing.
//! - The relay keeps no data: no disk, no payload in logs; a session exists
//!   exactly while it has connections.
//! - One developer per session; the channel id told to it is the only way
//!   to join an agent.

pub mod client;
#[cfg(feature = "tokio")]
pub mod developer;
pub mod live;
pub mod noise;
#[cfg(feature = "package")]
pub mod package;
pub mod registry;
pub mod secret;
#[cfg(feature = "tokio")]
pub mod server;
pub mod tls;
pub mod wire;

/// Environment variable names shared by the agent, the adapter and the CLI.
pub mod env {
    /// The relay's address, `https://host:port`.
    pub const RELAY: &str = "FOGBANK_RELAY";
    /// The session ticket.
    pub const SESSION: &str = "FOGBANK_SESSION";
    /// The session secret.
    pub const SECRET: &str = "FOGBANK_SESSION_SECRET";
    /// A PEM file (or PEM text) with the certificate a private relay is
    /// trusted by.
    pub const RELAY_CA: &str = "FOGBANK_RELAY_CA";
    /// The name the relay's certificate carries, when `FOGBANK_RELAY` gives
    /// an IP address (the static agent cannot resolve names).
    pub const RELAY_NAME: &str = "FOGBANK_RELAY_NAME";
}
