//! Amazon SQS emulation (issue 5).

pub mod attributes;
pub mod digest;
pub mod engine;
pub mod types;

pub use types::*;
