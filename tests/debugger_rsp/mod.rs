//! fogbank-agent and the RSP client of fogbank-dap, against real processes:
//! the client against fogbank-agent and Debian's gdbserver (same bodies),
//! gdb 13 through the agent, malformed input fuzzed into the agent, and the
//! static agent in an empty container.
//!
//! Prerequisites (the tests fail, naming what to install, when missing):
//! gcc, gdb, gdbserver, docker (engine running), and a cargo able to build
//! `fogbank-agent` for `x86_64-unknown-linux-gnu` with `+crt-static`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client;
mod container;
mod fuzz;
mod gdb;
mod latency;
mod lifecycle;
mod support;
