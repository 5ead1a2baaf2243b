//! fogbank-dap end to end: a DAP client (sending requests in the order VS
//! Code does) on examples/hello-api in a container through the gateway,
//! fogbank-dap against Debian's gdbserver, and `next` under fogbank-agent
//! on a small C program (recursion, returns, code without debug info). (Malformed DAP frames are
//! fuzzed in fogbank-dap's own suite: `debug-adapter/src/fuzz.rs`.)
//!
//! Prerequisites (the tests fail, naming what to install, when missing):
//! docker (engine running), curl, gdbserver, gcc, and a cargo able to build
//! the static `fogbank-agent` for `x86_64-unknown-linux-gnu`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod gdbserver;
mod hello_api;
mod stepping;
mod support;
