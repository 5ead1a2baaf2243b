//! fogbank-dap: a Debug Adapter Protocol server for native Lambda functions.

pub mod symbols;
pub mod rsp;
