//! Amazon SQS emulation (issue 5).

pub mod attributes;
pub mod digest;
pub mod engine;
mod service;
mod store;
pub mod types;

pub use service::{ReceiveRequest, SqsConfig, SqsService, StoreOptions};
pub use store::SyncMode;
pub use types::*;
