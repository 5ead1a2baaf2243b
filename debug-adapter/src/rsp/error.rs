//! Errors of the RSP client. Each names the operation that failed.

use std::time::Duration;

use super::registers::{DescriptionError, RegisterDecodeError};
use super::stop_reply::StopReplyError;

/// An RSP client failure.
#[derive(Debug, thiserror::Error)]
pub enum RspError {
    /// Reading from or writing to the connection failed.
    #[error("{operation}: connection to the debug server failed: {source}")]
    Io {
        /// The operation, e.g. "read memory".
        operation: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The server closed the connection.
    #[error("{operation}: the debug server closed the connection")]
    Closed {
        /// The operation.
        operation: &'static str,
    },
    /// No reply within the request timeout.
    #[error("{operation}: no reply from the debug server within {after:?}")]
    Timeout {
        /// The operation.
        operation: &'static str,
        /// The timeout.
        after: Duration,
    },
    /// The server answered with an error code (`E NN`).
    #[error("{operation}: the debug server reported error {code:#04x}")]
    Remote {
        /// The operation.
        operation: &'static str,
        /// The error number (often an errno).
        code: u8,
    },
    /// The server answered with an error message (`E.text`).
    #[error("{operation}: the debug server reported: {message}")]
    RemoteMessage {
        /// The operation.
        operation: &'static str,
        /// The message.
        message: String,
    },
    /// The server does not support the request (empty reply).
    #[error("{operation}: not supported by the debug server")]
    Unsupported {
        /// The operation.
        operation: &'static str,
    },
    /// The reply does not have the expected shape.
    #[error("{operation}: unexpected reply {reply:?}")]
    UnexpectedReply {
        /// The operation.
        operation: &'static str,
        /// The reply (truncated).
        reply: String,
    },
    /// A stop reply could not be parsed.
    #[error("{operation}: {source}")]
    StopReply {
        /// The operation.
        operation: &'static str,
        /// The parse error.
        source: StopReplyError,
    },
    /// The target description could not be used.
    #[error("reading the target description: {0}")]
    Description(#[from] DescriptionError),
    /// A register block did not match the target description.
    #[error("{operation}: {source}")]
    Registers {
        /// The operation.
        operation: &'static str,
        /// The decoding error.
        source: RegisterDecodeError,
    },
    /// The target has no register of this name.
    #[error("no register named {0:?} in the target description")]
    NoSuchRegister(String),
    /// The packet was dropped repeatedly (bad checksums in ack mode).
    #[error("{operation}: the debug server rejected the packet {attempts} times")]
    Rejected {
        /// The operation.
        operation: &'static str,
        /// How many times it was sent.
        attempts: u32,
    },
    /// A request was made while the target runs (only `wait_stop` and
    /// `interrupt` are valid then).
    #[error("{operation}: the target is running; wait for it to stop first")]
    Running {
        /// The operation.
        operation: &'static str,
    },
}

/// Keeps at most 80 characters of a reply for error messages.
pub(crate) fn excerpt(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply);
    if text.chars().count() > 80 {
        let mut cut: String = text.chars().take(80).collect();
        cut.push('…');
        cut
    } else {
        text.into_owned()
    }
}
