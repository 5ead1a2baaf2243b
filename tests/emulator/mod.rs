//! `fogbank start` and `fogbank invoke` as real processes: the Lambda Invoke
//! and Runtime APIs with every error path, the example apps through
//! `fogbank invoke`, boto3 and the aws CLI, awslambdaric as the function,
//! the differential test against AWS's Runtime Interface Emulator, and the
//! command line's handling of bad templates and shutdown. Slow tier.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod clients;
mod esm;
mod examples;
mod invoke_api;

use std::path::PathBuf;

/// A fixture under `tests/emulator/fixtures/`.
pub fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("emulator/fixtures")
        .join(path)
}
