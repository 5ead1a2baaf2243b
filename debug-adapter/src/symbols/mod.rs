//! The debug-info core of fogbank-dap: everything the adapter knows about a
//! native executable, read from its DWARF and ELF data with gimli,
//! addr2line and object.
//!
//! Architecture invariants:
//! - This module knows nothing about DAP or RSP. The adapter talks to it in
//!   plain addresses, [`Registers`] and the [`Memory`] trait, and converts
//!   the returned types ([`LineBreakpoint`], [`StackFrame`], [`Variable`],
//!   ...) to wire shapes itself.
//! - No gimli, addr2line or object type crosses this module's public API.
//! - Nothing here panics on malformed input: executables, core dumps and
//!   target memory are outside input, and bad data becomes a
//!   [`SymbolError`] or an `<unavailable>` value.
//! - Loading is lazy: [`DebugInfo::from_raw`] reads the ELF section table
//!   only; units, line programs, symbol tables, CFI indexes and types are
//!   parsed the first time a query needs them, and cached.
//!
//! How the adapter drives it:
//! 1. [`DebugInfo::from_file`] on the host copy of the function's binary,
//!    then [`DebugInfo::set_load_bias`] once the process's `AT_ENTRY` (or
//!    its mapping) is known, and [`DebugInfo::set_source_map`] from the
//!    launch configuration.
//! 2. `setBreakpoints`: [`DebugInfo::resolve_line_breakpoint`] per line;
//!    `setFunctionBreakpoints`: [`DebugInfo::resolve_function_breakpoint`].
//! 3. On a stop: fill [`Registers`] from the RSP `g` packet, implement
//!    [`Memory`] over `m` packets (wrapped in a fresh [`CachedMemory`] per
//!    stop), call [`DebugInfo::unwind`]; for each
//!    physical frame, [`DebugInfo::frames_at`] at
//!    [`StackFrame::lookup_pc`] gives its inline levels (DAP frames).
//! 4. `scopes`/`variables`: [`DebugInfo::frame_variables`] with
//!    `(frame, inline_depth)`, then [`DebugInfo::children`] or
//!    [`DebugInfo::children_range`] on [`ValueHandle`]s; `evaluate`:
//!    [`DebugInfo::evaluate`].
//! 5. Stepping: [`DebugInfo::step_range`] (`next`/`stepIn`),
//!    [`DebugInfo::return_address`] (`stepOut`, and stepping over calls),
//!    [`DebugInfo::has_debug_info`] (skip code without source).
//!
//! All public addresses are *runtime* addresses (file address plus the
//! load bias set with [`DebugInfo::set_load_bias`]).
#![warn(missing_docs)]

pub mod arch;
mod condition;
mod error;
mod expr;
mod flow;
mod functions;
mod lines;
mod loader;
mod location;
mod rust_std;
mod target;
mod types;
mod units;
mod unwind;
mod values;
mod variables;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
pub(crate) mod testing;

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::sync::Arc;

pub use error::{MemoryError, Result, SymbolError};
pub use functions::{FunctionBreakpoint, FunctionFrame};
pub use lines::{LineBreakpoint, SourceLocation, SourceMap, StepRange};
pub use target::{CachedMemory, Memory, Registers};
pub use unwind::{StackFrame, StackTrace, UnwindStop, unwind_stack};
pub use values::{ValueHandle, Variable};
pub use variables::FrameVariables;

use loader::Reader;

/// Debug information of one ELF executable (or shared object), loaded from
/// its bytes. Queries parse and cache what they need.
///
/// `DebugInfo` is `Send` but not `Sync` (its caches use cells): share it
/// between tasks behind a `Mutex`.
pub struct DebugInfo {
    bytes: loader::SharedBytes,
    bias: u64,
    source_map: SourceMap,
    dwarf: Arc<gimli::Dwarf<Reader>>,
    has_dwarf: bool,
    cfi: unwind::CfiSections,
    entry: u64,
    segments: Vec<loader::FileSegment>,
    units: OnceCell<units::Units>,
    addr2line: OnceCell<Option<addr2line::Context<Reader>>>,
    aranges: OnceCell<Vec<(u64, u64, usize)>>,
    unit_lines: RefCell<HashMap<usize, Arc<lines::UnitLines>>>,
    inlined_calls: RefCell<HashMap<usize, Arc<Vec<lines::InlinedCall>>>>,
    symbols: OnceCell<Vec<loader::FunctionSymbol>>,
    dwarf_functions: OnceCell<Vec<functions::DwarfFunction>>,
    types: RefCell<HashMap<units::DieKey, Arc<types::TypeInfo>>>,
    namespaces: RefCell<HashMap<usize, Arc<Vec<types::NamespaceScope>>>>,
    /// Current recursion depth of value and type walks (see `MAX_NESTING`).
    nesting: std::cell::Cell<usize>,
}

impl std::fmt::Debug for DebugInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DebugInfo")
            .field("size", &self.bytes.len())
            .field("bias", &format_args!("{:#x}", self.bias))
            .field("has_dwarf", &self.has_dwarf)
            .finish_non_exhaustive()
    }
}

impl DebugInfo {
    /// Loads an executable from its bytes (copied once into shared storage).
    ///
    /// Fails when the bytes are not an x86_64 ELF file or a debug section
    /// cannot be decompressed. An executable without DWARF loads fine (CFI
    /// unwinding and symbol-table function breakpoints still work); line
    /// queries then return [`SymbolError::NoDebugInfo`].
    pub fn from_raw(bytes: &[u8]) -> Result<Self> {
        Self::from_vec(bytes.to_vec())
    }

    /// Loads an executable from bytes it takes ownership of, without copying.
    pub fn from_vec(bytes: Vec<u8>) -> Result<Self> {
        let bytes = loader::SharedBytes::new(bytes);
        let sections = loader::load_sections(&bytes)?;
        let cfi = unwind::CfiSections::new(&sections);
        Ok(DebugInfo {
            dwarf: Arc::new(sections.dwarf),
            has_dwarf: sections.has_dwarf,
            cfi,
            entry: sections.entry,
            segments: sections.segments,
            bytes,
            bias: 0,
            source_map: SourceMap::default(),
            units: OnceCell::new(),
            addr2line: OnceCell::new(),
            aranges: OnceCell::new(),
            unit_lines: RefCell::default(),
            inlined_calls: RefCell::default(),
            symbols: OnceCell::new(),
            dwarf_functions: OnceCell::new(),
            types: RefCell::default(),
            namespaces: RefCell::default(),
            nesting: std::cell::Cell::new(0),
        })
    }

    /// Reads and loads the executable at `path` (the host copy of the
    /// debugged binary).
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|error| SymbolError::ReadFile {
            path: path.display().to_string(),
            reason: error.to_string(),
        })?;
        Self::from_vec(bytes)
    }

    /// Sets the load bias: the runtime address of the executable's file
    /// address 0. Zero for non-PIE executables; for a PIE it is the base
    /// the loader chose (the `AT_ENTRY` auxiliary value minus
    /// [`DebugInfo::entry_point`]).
    pub fn set_load_bias(&mut self, bias: u64) {
        self.bias = bias;
    }

    /// The load bias set with [`DebugInfo::set_load_bias`].
    pub fn load_bias(&self) -> u64 {
        self.bias
    }

    /// The ELF entry point as a file address (without bias).
    pub fn entry_point(&self) -> u64 {
        self.entry
    }

    /// Sets the source-path rewrites used by every path-taking and
    /// path-returning query.
    pub fn set_source_map(&mut self, source_map: SourceMap) {
        self.source_map = source_map;
    }

    /// Whether the executable has DWARF debug information.
    pub fn has_dwarf(&self) -> bool {
        self.has_dwarf
    }

    /// Reads bytes of the executable's file-backed segments at a runtime
    /// address: code and read-only data that a core dump may lack.
    pub fn read_file_bytes(&self, address: u64, len: usize) -> Option<&[u8]> {
        let file_address = address.checked_sub(self.bias)?;
        loader::read_file_segment(&self.bytes, &self.segments, file_address, len)
    }

    fn units(&self) -> &units::Units {
        self.units
            .get_or_init(|| units::Units::new(self.dwarf.clone()))
    }

    fn addr2line(&self) -> Option<&addr2line::Context<Reader>> {
        self.addr2line
            .get_or_init(|| {
                if !self.has_dwarf {
                    return None;
                }
                addr2line::Context::from_arc_dwarf(self.dwarf.clone())
                    .map_err(|error| tracing::debug!(%error, "addr2line context failed"))
                    .ok()
            })
            .as_ref()
    }

    fn to_file_address(&self, runtime: u64) -> u64 {
        runtime.wrapping_sub(self.bias)
    }

    fn to_runtime_address(&self, file: u64) -> u64 {
        file.wrapping_add(self.bias)
    }

    /// The index (in [`units::Units`]) of the unit covering file address
    /// `pc`: from `.debug_aranges` when it covers `pc` (cheap), else from
    /// addr2line (which parses every unit's ranges once).
    fn unit_index_for_pc(&self, pc: u64) -> Option<usize> {
        let aranges = self.aranges.get_or_init(|| {
            let mut table = Vec::new();
            let mut headers = self.dwarf.debug_aranges.headers();
            while let Ok(Some(header)) = headers.next() {
                let Some(index) = self
                    .units()
                    .index_of_unit_start(header.debug_info_offset().0 as u64)
                else {
                    continue;
                };
                let mut entries = header.entries();
                while let Ok(Some(entry)) = entries.next() {
                    let range = entry.range();
                    if range.begin != 0 && range.end > range.begin {
                        table.push((range.begin, range.end, index));
                    }
                }
            }
            table.sort_unstable();
            table
        });
        let upper = aranges.partition_point(|(begin, _, _)| *begin <= pc);
        if let Some((_, _, index)) = aranges[..upper]
            .iter()
            .rev()
            .take(16)
            .find(|(_, end, _)| pc < *end)
        {
            return Some(*index);
        }
        let context = self.addr2line()?;
        let unit = match context.find_dwarf_and_unit(pc) {
            addr2line::LookupResult::Output(unit) => unit?,
            // Split DWARF is not loaded; we treat such units as absent.
            addr2line::LookupResult::Load { .. } => return None,
        };
        let offset = unit.header.offset().0 as u64;
        self.units().index_of_unit_start(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_info_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<DebugInfo>();
        assert_send::<ValueHandle>();
    }
}
