//! Errors of the symbols core.
//!
//! Binaries and core dumps are outside input: every malformed section,
//! DWARF entry or unreadable target memory becomes one of these values.

use thiserror::Error;

/// Why a memory read of the debugged target failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("cannot read {len} bytes of target memory at {address:#x}: {reason}")]
pub struct MemoryError {
    /// First address of the failed read.
    pub address: u64,
    /// Number of bytes requested.
    pub len: usize,
    /// What the target (RSP stub, core file) said.
    pub reason: String,
}

/// An error of the symbols core, named for the operation that failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SymbolError {
    /// The executable file could not be read.
    #[error("cannot read the executable {path}: {reason}")]
    ReadFile {
        /// Path of the executable.
        path: String,
        /// The operating system's error.
        reason: String,
    },
    /// The bytes are not an ELF object that we can read.
    #[error("cannot parse the executable as ELF: {0}")]
    ParseElf(String),
    /// An ELF section could not be read (or decompressed).
    #[error("cannot read section {section} of the executable: {reason}")]
    ReadSection {
        /// Section name, for example `.debug_info`.
        section: String,
        /// What went wrong.
        reason: String,
    },
    /// DWARF data is malformed where we needed it.
    #[error("malformed DWARF while {operation}: {reason}")]
    Dwarf {
        /// What the core was doing, e.g. "reading the line program of unit at 0x1c".
        operation: String,
        /// gimli's description.
        reason: String,
    },
    /// The executable has no DWARF debug information at all.
    #[error(
        "the executable has no DWARF debug information (build with debug info, e.g. `debug = true` in the cargo profile)"
    )]
    NoDebugInfo,
    /// Call-frame information could not be used to unwind a frame.
    #[error("cannot unwind the frame at pc {pc:#x}: {reason}")]
    Unwind {
        /// Program counter of the frame that could not be unwound.
        pc: u64,
        /// What went wrong.
        reason: String,
    },
    /// A target memory read failed.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// A watch or hover expression could not be parsed or evaluated.
    #[error("cannot evaluate `{expression}`: {reason}")]
    Evaluate {
        /// The expression as the user typed it.
        expression: String,
        /// What went wrong, e.g. "no field `prize` in `Item`".
        reason: String,
    },
    /// A variable's location could not be computed.
    #[error("cannot locate variable `{name}`: {reason}")]
    Locate {
        /// Variable name.
        name: String,
        /// What went wrong.
        reason: String,
    },
}

impl SymbolError {
    /// Wraps a gimli error with the operation that was under way.
    pub(crate) fn dwarf(operation: impl Into<String>, error: impl std::fmt::Display) -> Self {
        SymbolError::Dwarf {
            operation: operation.into(),
            reason: error.to_string(),
        }
    }
}

/// Result alias of the symbols core.
pub type Result<T, E = SymbolError> = std::result::Result<T, E>;
