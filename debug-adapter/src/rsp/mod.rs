//! A client for the GDB Remote Serial Protocol, used by the DAP layer to
//! control a debuggee through fogbank-agent or gdbserver.
//!
//! Layers, each its own module:
//! - [`packet`]: framing, checksums, acks, run-length decoding, escaping, hex
//!   (pure, fuzzed);
//! - [`stop_reply`]: stop replies and thread ids as typed values (pure, fuzzed);
//! - [`registers`]: target descriptions (`target.xml`) to register layouts,
//!   and `g` packet decoding (pure, fuzzed);
//! - [`x86_64`]: the architecture's fallback layout and DWARF numbering;
//! - [`client`]: the async [`RspClient`] over any `AsyncRead + AsyncWrite`
//!   stream (TCP today, the relay's encrypted stream later).
//!
//! API Boundary: RSP wire shapes (hex, packets, thread-id syntax) stay inside
//! this module; callers see [`ThreadId`], [`StopReply`], [`Registers`] and
//! byte vectors.

pub mod client;
pub mod error;
pub mod packet;
pub mod registers;
pub mod stop_reply;
pub mod x86_64;

pub use client::{ResumeAction, RspClient, ServerFeatures};
pub use error::RspError;
pub use registers::{RegisterInfo, RegisterLayout, Registers};
pub use stop_reply::{Stop, StopReason, StopReply, ThreadId, WatchKind, signal_name};
