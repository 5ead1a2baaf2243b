//! fogbank-dap: a Debug Adapter Protocol server for native Lambda functions.
//!
//! Layers, each knowing only the one below it:
//! 1. [`codec`]: Content-Length framing (pure, fuzzed);
//! 2. [`protocol`]: DAP messages decoded into the `dap` crate's types and
//!    written with sequence numbers;
//! 3. [`session`]: the protocol session, generic over its output (and fed
//!    by a reader of any `Read`), with one handler per request;
//! 4. [`symbols`]: the debug-info core, which never sees DAP types.
//!
//! Beside them: [`rsp`] (the gdb remote protocol client that controls
//! targets), [`control`] (the emulator's control interface), [`config`]
//! (launch and attach attributes), [`launcher`] (finding and starting
//! `fogbank` and `fogbank-agent`) and [`relay`] (attaching through a
//! fogbank-relay to a function invoked in the cloud). [`server`] is the entry point `main`
//! calls: DAP over stdio, or over TCP with `--port`.

pub mod codec;
pub mod config;
pub mod control;
pub mod launcher;
pub mod protocol;
pub mod relay;
pub mod rsp;
pub mod server;
pub mod session;
pub mod symbols;

#[cfg(test)]
mod fuzz;
