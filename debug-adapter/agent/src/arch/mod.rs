//! Everything that depends on the CPU architecture of the debuggee.
//!
//! Architecture Invariant: no other module of the agent names a register, an
//! instruction encoding or a `libc::user_*` struct. Porting the agent to a new
//! architecture (aarch64 is next) means adding a sibling of `x86_64.rs` that
//! exposes the same items, selected by `cfg(target_arch)`.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

#[cfg(not(target_arch = "x86_64"))]
compile_error!(
    "fogbank-agent supports only x86_64 Linux so far; add an arch module for this target"
);
