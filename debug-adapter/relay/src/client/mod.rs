//! Clients of the relay: what the agent (blocking, single-threaded) and the
//! adapter (async) use to reach each other through it.
//!
//! Both follow the same steps: TCP and TLS to the relay, a hello with the
//! session ticket and relay token, pairing, then the Noise handshake (the
//! agent initiates) and encrypted Data frames. Whatever the relay forwards
//! is Noise ciphertext.

#[cfg(feature = "tokio")]
pub mod asynch;
pub mod blocking;

use std::sync::Arc;
use std::time::Duration;

use crate::noise::NoiseError;
use crate::secret::SessionCredentials;
use crate::tls::{RelayAddress, TlsError};
use crate::wire::{Frame, Hello, PROTOCOL_VERSION, RefusalReason, Role};

/// How long connecting and each step of the set-up may take.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// How often an idle developer connection tells the relay it is alive.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);

/// Everything a client needs to reach a session on a relay.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// The relay.
    pub address: RelayAddress,
    /// TLS settings (trusted roots).
    pub tls: Arc<rustls::ClientConfig>,
    /// The session and its secret.
    pub credentials: SessionCredentials,
}

impl RelaySettings {
    /// Settings trusting `ca_pem` (a private relay's certificate) if given,
    /// else the public web roots.
    pub fn new(
        address: RelayAddress,
        credentials: SessionCredentials,
        ca_pem: Option<(&[u8], &str)>,
    ) -> Result<RelaySettings, TlsError> {
        let roots = match ca_pem {
            Some((pem, origin)) => {
                crate::tls::certificates_from_pem(pem, "relay CA certificate", origin)?
            }
            None => Vec::new(),
        };
        Ok(RelaySettings {
            address,
            tls: crate::tls::client_config(&roots)?,
            credentials,
        })
    }

    pub(crate) fn hello(&self, role: Role, wait: bool) -> Frame {
        Frame::Hello(Hello {
            version: PROTOCOL_VERSION,
            role,
            wait,
            ticket: self.credentials.ticket.to_text(),
            token: self.credentials.token(),
        })
    }
}

/// Why a client could not reach its peer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No TCP connection to the relay.
    #[error("cannot connect to the relay at {address}: {cause}")]
    Connect {
        /// The relay.
        address: String,
        /// The cause.
        cause: String,
    },
    /// The TLS handshake failed (wrong CA, wrong name, not a relay).
    #[error("TLS with the relay at {address} failed: {cause}")]
    Tls {
        /// The relay.
        address: String,
        /// The cause.
        cause: String,
    },
    /// The relay refused the connection or closed it.
    #[error("the relay refused the connection: {message}")]
    Refused {
        /// The reason.
        reason: RefusalReason,
        /// The relay's explanation.
        message: String,
    },
    /// The relay or peer sent something out of place.
    #[error("the relay connection broke the protocol: {0}")]
    Protocol(String),
    /// The relay closed the connection.
    #[error("the relay closed the connection")]
    Closed,
    /// A step took too long.
    #[error("{0} took longer than {1:?}")]
    Timeout(&'static str, Duration),
    /// End-to-end encryption failed.
    #[error(transparent)]
    Noise(#[from] NoiseError),
    /// The developer's adapter declined the channel.
    #[error("the debugger declined this agent: {0}")]
    Declined(String),
    /// Reading or writing failed.
    #[error("relay connection failed: {0}")]
    Io(String),
}

impl ClientError {
    /// True when retrying cannot help: the session is refused for what it
    /// is (bad secret, expired, unsupported version).
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            ClientError::Refused {
                reason: RefusalReason::BadToken
                    | RefusalReason::Expired
                    | RefusalReason::UnsupportedVersion,
                ..
            } | ClientError::Tls { .. }
                | ClientError::Noise(NoiseError::Handshake)
        )
    }
}

pub(crate) fn io_error(error: &std::io::Error) -> ClientError {
    match error.kind() {
        std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::BrokenPipe => ClientError::Closed,
        _ => ClientError::Io(error.to_string()),
    }
}

/// A frame the relay sent while a client waited for something else.
pub(crate) fn unexpected(frame: &Frame, waiting_for: &str) -> ClientError {
    match frame {
        Frame::Refused { reason, message } => ClientError::Refused {
            reason: *reason,
            message: message.clone(),
        },
        other => ClientError::Protocol(format!(
            "expected {waiting_for}, got a {} frame",
            other.name()
        )),
    }
}
