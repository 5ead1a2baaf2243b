//! The Python and Node.js bootstraps Fogbank ships (`emulator/runtimes/`) and
//! the example apps, run under AWS's Runtime Interface Emulator: an
//! independent, real Runtime API, so these tests need no Fogbank server. The
//! Python tests also run the same handlers under AWS's awslambdaric and
//! compare the answers. Slow tier: real processes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod examples;
mod node;
mod python;
pub(crate) mod rie;
