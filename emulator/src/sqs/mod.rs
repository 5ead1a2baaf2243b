//! Amazon SQS emulation (issue 5): both wire protocols on one listener,
//! a pure queue engine, and a durable log.
//!
//! Code map:
//! - [`engine`]: every SQS semantic, pure, time injected as `now_ms`.
//! - [`attributes`], [`digest`], [`types`]: queue attributes, AWS's MD5s,
//!   plain shared types and [`SqsError`].
//! - `store`: the append-only log with group commit and compaction.
//! - `service`: [`SqsService`], the engine behind a lock plus the store and
//!   long polling; the API the HTTP edge and event-source mappings call.
//! - `wire`: JSON 1.0 and query protocol parsing/rendering (the only code
//!   that knows the wire formats) and request dispatch.
//! - `server`: the hyper listener, [`run`].

pub mod attributes;
pub mod digest;
pub mod engine;
mod server;
mod service;
mod store;
pub mod types;
mod wire;

pub use server::run;
pub use service::{ReceiveRequest, SqsConfig, SqsService, StoreOptions};
pub use store::SyncMode;
pub use types::*;
