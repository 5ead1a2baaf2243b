//! fogbank-dap end to end: a DAP client (sending requests in the order VS
//! Code does) on examples/hello-api in a container through the gateway,
//! fogbank-dap against Debian's gdbserver, and malformed DAP frames sent
//! to the real binary.
//!
//! Prerequisites (the tests fail, naming what to install, when missing):
//! docker (engine running), curl, gdbserver, gcc, and a cargo able to build
//! the static `fogbank-agent` for `x86_64-unknown-linux-gnu`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod gdbserver;
mod hello_api;
mod support;
