//! Functions: names at an address (with the inlined-call chain), function
//! breakpoints by name, and function extents.

use std::ops::Range;

use super::DebugInfo;
use super::error::{Result, SymbolError};
use super::lines::SourceLocation;
use super::loader::{self, Reader};
use super::units::{self, DieKey};

/// One function level at an address: the physical function, or a function
/// inlined into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionFrame {
    /// Demangled name without hash (`rust_types::inspect`), if known.
    pub function: Option<String>,
    /// Source position in this function: the pc's line for the innermost
    /// level, the call site of the next-inner level for outer levels.
    pub location: Option<SourceLocation>,
    /// Whether this level was inlined into the next-outer one.
    pub inlined: bool,
}

/// Where a function breakpoint goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionBreakpoint {
    /// The function's full demangled name.
    pub function: String,
    /// Runtime address after the prologue: the first address where the
    /// arguments are readable.
    pub address: u64,
    /// Source position of `address`, if a line table covers it.
    pub location: Option<SourceLocation>,
}

/// A function with code, found by scanning DWARF (used when the symbol
/// table is stripped or lacks a name).
#[derive(Debug, Clone)]
pub(crate) struct DwarfFunction {
    pub(crate) name: String,
    pub(crate) low: u64,
    pub(crate) high: u64,
    /// An inlined instance: it has no prologue to skip.
    pub(crate) inlined: bool,
    /// Index of the unit holding the DIE.
    pub(crate) unit: usize,
    /// The function's `DW_AT_decl_file` (a file index of that unit's line
    /// program), to find where an inlined instance's own code starts.
    pub(crate) decl_file: Option<u64>,
}

/// Whether a function named `full` is what the user meant by `request`:
/// the same name, or `full` ends with `::request`.
fn name_matches(full: &str, request: &str) -> bool {
    let request = request.trim();
    !request.is_empty()
        && (full == request
            || full
                .strip_suffix(request)
                .is_some_and(|prefix| prefix.ends_with("::")))
}

/// Whether `full` is a closure or async body (`handler::{{closure}}`,
/// `handler::{async_fn#0}`) of a function `request` names: where an
/// `async fn`'s code runs when release builds inline its constructor.
fn body_matches(full: &str, request: &str) -> bool {
    let mut base = full;
    while let Some((parent, last)) = split_last_component(base) {
        if !last.starts_with('{') {
            break;
        }
        base = parent;
    }
    base != full && name_matches(base, request)
}

/// Splits `a::b<c::d>::e` into `("a::b<c::d>", "e")`: at the last `::`
/// outside generic arguments.
fn split_last_component(path: &str) -> Option<(&str, &str)> {
    let bytes = path.as_bytes();
    let mut depth = 0i32;
    let mut index = bytes.len();
    while index > 0 {
        index -= 1;
        match bytes[index] {
            b'>' | b')' | b']' => depth += 1,
            b'<' | b'(' | b'[' => depth -= 1,
            b':' if depth == 0 && index > 0 && bytes[index - 1] == b':' => {
                return Some((&path[..index - 1], &path[index + 1..]));
            }
            _ => {}
        }
    }
    None
}

impl DebugInfo {
    /// The function levels at runtime address `pc`, innermost first: the
    /// functions inlined at `pc` and then the physical function. Empty
    /// when no debug information covers `pc`.
    pub fn frames_at(&self, pc: u64) -> Result<Vec<FunctionFrame>> {
        Ok(self
            .raw_frames_at(self.to_file_address(pc))?
            .into_iter()
            .map(|(frame, _)| frame)
            .collect())
    }

    /// Like `frames_at`, with each level's DIE key (subprogram or inlined
    /// subroutine). Takes a file address.
    pub(crate) fn raw_frames_at(
        &self,
        file_pc: u64,
    ) -> Result<Vec<(FunctionFrame, Option<DieKey>)>> {
        let Some(context) = self.addr2line() else {
            return Ok(Vec::new());
        };
        let mut iter = match context.find_frames(file_pc) {
            addr2line::LookupResult::Output(result) => {
                result.map_err(|e| SymbolError::dwarf("looking up frames", e))?
            }
            addr2line::LookupResult::Load { .. } => return Ok(Vec::new()),
        };
        let unit_offset = self.unit_index_for_pc(file_pc).and_then(|index| {
            let unit = self.units().unit(index)?;
            Some(unit.header.offset())
        });
        let mut frames = Vec::new();
        // A malformed chain ends the list instead of failing the lookup.
        while let Ok(Some(frame)) = iter.next() {
            let function = frame.function.as_ref().and_then(|name| {
                let raw = name.raw_name().ok()?;
                Some(loader::demangle(&raw))
            });
            let location = frame
                .location
                .as_ref()
                .and_then(|l| self.source_location(l));
            let key = frame.dw_die_offset.and_then(|offset| {
                let unit_start = unit_offset?.0;
                let index = self.units().index_of_unit_start(unit_start as u64)?;
                let unit = self.units().unit(index)?;
                units::die_key(&unit, offset)
            });
            frames.push((
                FunctionFrame {
                    function,
                    location,
                    inlined: true,
                },
                key,
            ));
            if frames.len() > 256 {
                break;
            }
        }
        if let Some((last, _)) = frames.last_mut() {
            last.inlined = false;
        }
        if frames.is_empty() {
            // No DWARF function: fall back to the symbol table's name.
            if let Some(symbol) = self.symbol_at(file_pc) {
                frames.push((
                    FunctionFrame {
                        function: Some(loader::demangle(&symbol.raw)),
                        location: None,
                        inlined: false,
                    },
                    None,
                ));
            }
        }
        Ok(frames)
    }

    /// The runtime address range of function level `inline_depth` at `pc`
    /// (as [`DebugInfo::frames_at`] numbers levels) that holds `pc`: for
    /// `stepOut` of an inlined level, run until the pc leaves this range;
    /// for the physical function it is the function's range. `None` when
    /// no such level exists.
    pub fn function_level_range(&self, pc: u64, inline_depth: usize) -> Option<Range<u64>> {
        let file_pc = self.to_file_address(pc);
        let frames = self.raw_frames_at(file_pc).ok()?;
        let (_, key) = frames.get(inline_depth)?;
        let (unit, offset) = self.units().locate((*key)?)?;
        let entry = unit.entry(offset).ok()?;
        let mut ranges = unit.die_ranges(&entry).ok()?;
        while let Ok(Some(range)) = ranges.next() {
            if range.begin <= file_pc && file_pc < range.end {
                return Some(
                    self.to_runtime_address(range.begin)..self.to_runtime_address(range.end),
                );
            }
        }
        None
    }

    /// The name of the physical function at runtime address `pc`.
    pub fn function_name_at(&self, pc: u64) -> Result<Option<String>> {
        Ok(self.frames_at(pc)?.pop().and_then(|frame| frame.function))
    }

    /// Whether runtime address `pc` is in a function that has line
    /// information (so source stepping can stop there). Code without it
    /// (libc, hand-written assembly, stripped dependencies) should be
    /// stepped over.
    pub fn has_debug_info(&self, pc: u64) -> bool {
        matches!(self.location_at(pc), Ok(Some(location)) if location.line != 0)
    }

    fn function_symbols(&self) -> &[loader::FunctionSymbol] {
        self.symbols
            .get_or_init(|| loader::function_symbols(&self.bytes).unwrap_or_default())
    }

    fn symbol_at(&self, file_pc: u64) -> Option<&loader::FunctionSymbol> {
        let symbols = self.function_symbols();
        let index = symbols
            .partition_point(|s| s.address <= file_pc)
            .checked_sub(1)?;
        // Several symbols may share an address; any with a size covering pc will do.
        symbols[..=index]
            .iter()
            .rev()
            .take_while(|s| s.address == symbols[index].address)
            .find(|s| file_pc < s.address.saturating_add(s.size.max(1)))
    }

    /// The file-address range of the function holding file address `pc`.
    pub(crate) fn function_range_file(&self, file_pc: u64) -> Option<Range<u64>> {
        if let Ok(frames) = self.raw_frames_at(file_pc)
            && let Some((_, Some(key))) = frames.last()
            && let Some((unit, offset)) = self.units().locate(*key)
            && let Ok(entry) = unit.entry(offset)
            && let Ok(mut ranges) = unit.die_ranges(&entry)
        {
            while let Ok(Some(range)) = ranges.next() {
                if range.begin <= file_pc && file_pc < range.end {
                    return Some(range.begin..range.end);
                }
            }
        }
        let symbol = self.symbol_at(file_pc)?;
        Some(symbol.address..symbol.address.saturating_add(symbol.size.max(1)))
    }

    /// Resolves a function breakpoint: every function whose demangled name
    /// is `name` or ends with `::name`, at its first address past the
    /// prologue. Empty when nothing matches.
    pub fn resolve_function_breakpoint(&self, name: &str) -> Result<Vec<FunctionBreakpoint>> {
        // Every spelling of a name (legacy or v0 mangling, or none) contains
        // its last path component verbatim, so only those are demangled.
        let last = name.rsplit("::").next().unwrap_or(name).trim();
        let candidates: Vec<(String, u64, u64)> = self
            .function_symbols()
            .iter()
            .filter(|symbol| !last.is_empty() && symbol.raw.contains(last))
            .map(|symbol| {
                let end = symbol.address.saturating_add(symbol.size);
                (loader::demangle(&symbol.raw), symbol.address, end)
            })
            .collect();
        let exact: Vec<_> = candidates
            .iter()
            .filter(|(full, ..)| name_matches(full, name))
            .cloned()
            .collect();
        // Only when no function has the name are closure and async bodies
        // of that name used, so `inspect` does not also stop in its closures.
        let mut found = if exact.is_empty() {
            candidates
                .into_iter()
                .filter(|(full, ..)| body_matches(full, name))
                .collect()
        } else {
            exact
        };
        // Functions without a symbol of their own (inlined everywhere, or a
        // stripped symbol table) are found by scanning the DWARF once.
        let mut inlined_entries: Vec<u64> = Vec::new();
        if found.is_empty() && self.has_dwarf {
            let functions = self.dwarf_functions();
            let mut matching: Vec<&DwarfFunction> = functions
                .iter()
                .filter(|function| name_matches(&function.name, name))
                .collect();
            if matching.is_empty() {
                matching = functions
                    .iter()
                    .filter(|function| body_matches(&function.name, name))
                    .collect();
            }
            for function in matching {
                let mut low = function.low;
                if function.inlined {
                    low = self.inlined_code_start(function);
                    inlined_entries.push(low);
                }
                found.push((function.name.clone(), low, function.high));
            }
        }
        found.sort_by_key(|(_, low, _)| *low);
        found.dedup_by_key(|(_, low, _)| *low);
        let mut breakpoints = Vec::new();
        for (function, low, high) in found {
            let inlined = inlined_entries.contains(&low);
            let entry = if inlined {
                low
            } else {
                self.skip_prologue(low, high)
            };
            let address = self.to_runtime_address(entry);
            // The function's own position: for an inlined instance the
            // innermost level, else the physical function (not code inlined
            // at its first statement).
            let location = if inlined {
                // The level of the inlined function itself: deeper levels
                // may start at the same address.
                self.frames_at(address).ok().and_then(|levels| {
                    levels
                        .into_iter()
                        .find(|level| level.function.as_deref() == Some(function.as_str()))
                        .and_then(|level| level.location)
                })
            } else {
                self.frames_at(address)
                    .ok()
                    .and_then(|levels| levels.into_iter().last())
                    .and_then(|level| level.location)
            };
            breakpoints.push(FunctionBreakpoint {
                function,
                address,
                location,
            });
        }
        Ok(breakpoints)
    }

    /// Where an inlined instance's own code starts: the first statement row
    /// of its range in the function's declaring file (the range may begin
    /// with code of its caller's expression), else the range start.
    fn inlined_code_start(&self, function: &DwarfFunction) -> u64 {
        let Some(decl_file) = function.decl_file else {
            return function.low;
        };
        let Ok(Some(lines)) = self.unit_lines(function.unit) else {
            return function.low;
        };
        let Some((sequence, first)) = lines.row_at(function.low) else {
            return function.low;
        };
        sequence.rows[first..]
            .iter()
            .take_while(|row| row.address < function.high)
            .find(|row| {
                row.is_stmt && row.line != 0 && row.file == decl_file && row.address >= function.low
            })
            .map_or(function.low, |row| row.address)
    }

    /// The first address of `low..high` past the prologue: the row the
    /// compiler marked `prologue_end`, else the second statement row.
    fn skip_prologue(&self, low: u64, high: u64) -> u64 {
        let Some(index) = self.unit_index_for_pc(low) else {
            return low;
        };
        let Ok(Some(lines)) = self.unit_lines(index) else {
            return low;
        };
        let Some((sequence, first)) = lines.row_at(low) else {
            return low;
        };
        let rows = sequence.rows[first..]
            .iter()
            .take_while(|row| row.address < high.max(low.saturating_add(1)));
        let mut statements = Vec::new();
        for row in rows {
            if row.prologue_end && row.address > low {
                return row.address;
            }
            if row.is_stmt && row.line != 0 && statements.last() != Some(&row.address) {
                statements.push(row.address);
            }
        }
        statements.get(1).copied().unwrap_or(low)
    }

    /// For each `(unit index, file address)`, the DIE key of the innermost
    /// function or inlined call holding the address, found by walking that
    /// unit's DIEs and entering only subtrees whose ranges hold an address.
    pub(crate) fn innermost_blocks(&self, addresses: &[(usize, u64)]) -> Vec<Option<DieKey>> {
        let mut blocks = vec![None; addresses.len()];
        let mut units: Vec<usize> = addresses.iter().map(|(unit, _)| *unit).collect();
        units.sort_unstable();
        units.dedup();
        for unit_index in units {
            let Some(unit) = self.units().unit(unit_index) else {
                continue;
            };
            let wanted: Vec<(usize, u64)> = addresses
                .iter()
                .enumerate()
                .filter(|(_, (unit, _))| *unit == unit_index)
                .map(|(position, (_, address))| (position, *address))
                .collect();
            let Ok(mut tree) = unit.entries_tree(None) else {
                continue;
            };
            let Ok(root) = tree.root() else { continue };
            find_blocks(unit, root, &wanted, &mut blocks, 0);
        }
        blocks
    }

    /// Every function with code in the DWARF, by qualified name; built on
    /// first use (a full DIE scan).
    fn dwarf_functions(&self) -> &[DwarfFunction] {
        self.dwarf_functions.get_or_init(|| {
            let mut functions = Vec::new();
            for index in 0..self.units().len() {
                if let Some(unit) = self.units().unit(index) {
                    scan_functions(unit, index, &mut functions);
                }
            }
            functions
        })
    }
}

/// Records in `blocks` the innermost function or inlined call holding each
/// wanted address, descending only into DIEs whose ranges hold one.
fn find_blocks(
    unit: gimli::UnitRef<'_, Reader>,
    node: gimli::EntriesTreeNode<'_, '_, Reader>,
    wanted: &[(usize, u64)],
    blocks: &mut [Option<DieKey>],
    depth: usize,
) {
    if depth > 128 {
        return;
    }
    let mut children = node.children();
    while let Ok(Some(child)) = children.next() {
        let entry = child.entry();
        let tag = entry.tag();
        let is_block = matches!(
            tag,
            gimli::DW_TAG_subprogram
                | gimli::DW_TAG_inlined_subroutine
                | gimli::DW_TAG_lexical_block
        );
        let is_scope = matches!(
            tag,
            gimli::DW_TAG_namespace | gimli::DW_TAG_structure_type | gimli::DW_TAG_class_type
        );
        if is_block {
            let mut inside: Vec<(usize, u64)> = Vec::new();
            if let Ok(mut ranges) = unit.die_ranges(entry) {
                while let Ok(Some(range)) = ranges.next() {
                    for (position, address) in wanted {
                        if range.begin <= *address
                            && *address < range.end
                            && !inside.iter().any(|(p, _)| p == position)
                        {
                            inside.push((*position, *address));
                        }
                    }
                }
            }
            if inside.is_empty() {
                continue;
            }
            if tag != gimli::DW_TAG_lexical_block {
                let key = units::die_key(&unit, entry.offset());
                for (position, _) in &inside {
                    if let Some(slot) = blocks.get_mut(*position) {
                        *slot = key;
                    }
                }
            }
            find_blocks(unit, child, &inside, blocks, depth + 1);
        } else if is_scope {
            find_blocks(unit, child, wanted, blocks, depth + 1);
        }
    }
}

/// Adds the unit's functions with code to `out`: concrete functions and
/// inlined instances (named after their abstract origin in this unit).
/// Stops at malformed data.
fn scan_functions(
    unit: gimli::UnitRef<'_, Reader>,
    unit_index: usize,
    out: &mut Vec<DwarfFunction>,
) {
    let mut cursor = unit.entries();
    let mut scopes: Vec<(isize, String)> = Vec::new();
    let mut names: std::collections::HashMap<usize, (String, Option<u64>)> =
        std::collections::HashMap::new();
    let mut inlined: Vec<(usize, u64, u64)> = Vec::new();
    while let Ok(Some(entry)) = cursor.next_dfs() {
        let depth = entry.depth();
        while scopes
            .last()
            .is_some_and(|(scope_depth, _)| *scope_depth >= depth)
        {
            scopes.pop();
        }
        let tag = entry.tag();
        let name = units::attr_string(unit, entry, gimli::DW_AT_name);
        match tag {
            gimli::DW_TAG_namespace
            | gimli::DW_TAG_structure_type
            | gimli::DW_TAG_class_type
            | gimli::DW_TAG_enumeration_type
            | gimli::DW_TAG_union_type => {
                scopes.push((depth, name.unwrap_or_default()));
            }
            gimli::DW_TAG_subprogram => {
                let linkage = units::attr_string(unit, entry, gimli::DW_AT_linkage_name)
                    .or_else(|| units::attr_string(unit, entry, gimli::DW_AT_MIPS_linkage_name));
                let qualified = match (linkage, &name) {
                    (Some(linkage), _) => loader::demangle(&linkage),
                    (None, Some(name)) => scopes
                        .iter()
                        .map(|(_, scope)| scope.as_str())
                        .chain(std::iter::once(name.as_str()))
                        .filter(|part| !part.is_empty())
                        .collect::<Vec<_>>()
                        .join("::"),
                    (None, None) => String::new(),
                };
                if !qualified.is_empty() {
                    let decl_file = units::attr_u64(entry, gimli::DW_AT_decl_file).or_else(|| {
                        match entry.attr_value(gimli::DW_AT_decl_file) {
                            Some(gimli::AttributeValue::FileIndex(index)) => Some(index),
                            _ => None,
                        }
                    });
                    names.insert(entry.offset().0, (qualified.clone(), decl_file));
                    if let Some((low, high)) = first_range(unit, entry) {
                        out.push(DwarfFunction {
                            name: qualified,
                            low,
                            high,
                            inlined: false,
                            unit: unit_index,
                            decl_file,
                        });
                    }
                }
                scopes.push((depth, name.unwrap_or_default()));
            }
            gimli::DW_TAG_inlined_subroutine => {
                if let Some(gimli::AttributeValue::UnitRef(origin)) =
                    entry.attr_value(gimli::DW_AT_abstract_origin)
                    && let Some((low, high)) = first_range(unit, entry)
                {
                    let entry_pc = entry
                        .attr_value(gimli::DW_AT_entry_pc)
                        .and_then(|value| unit.attr_address(value).ok().flatten())
                        .unwrap_or(low);
                    inlined.push((origin.0, entry_pc, high));
                }
            }
            _ => {}
        }
    }
    // Abstract origins usually precede their inlined instances, but not
    // always; names are resolved once the whole unit is known.
    for (origin, low, high) in inlined {
        if let Some((name, decl_file)) = names.get(&origin) {
            out.push(DwarfFunction {
                name: name.clone(),
                low,
                high,
                inlined: true,
                unit: unit_index,
                decl_file: *decl_file,
            });
        }
    }
}

/// The lowest range of a DIE with code: `(low, high)`; `None` without code.
pub(crate) fn first_range(
    unit: gimli::UnitRef<'_, Reader>,
    entry: &gimli::DebuggingInformationEntry<Reader>,
) -> Option<(u64, u64)> {
    let mut ranges = unit.die_ranges(entry).ok()?;
    let mut lowest: Option<(u64, u64)> = None;
    while let Ok(Some(range)) = ranges.next() {
        if range.begin != 0
            && range.end > range.begin
            && lowest.is_none_or(|(low, _)| range.begin < low)
        {
            lowest = Some((range.begin, range.end));
        }
    }
    lowest
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use expect_test::{Expect, expect};

    use super::*;
    use crate::symbols::testing;

    fn render_frames(frames: &[FunctionFrame]) -> String {
        frames
            .iter()
            .map(|frame| {
                let location = frame
                    .location
                    .as_ref()
                    .map(|l| {
                        format!(
                            "{}:{}:{}",
                            l.path.rsplit('/').next().unwrap_or_default(),
                            l.line,
                            l.column
                        )
                    })
                    .unwrap_or_else(|| "?".into());
                format!(
                    "{}{} at {location}",
                    if frame.inlined { "inlined " } else { "" },
                    frame.function.as_deref().unwrap_or("?")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn inlined_frames_are_listed_innermost_first() {
        let info = testing::load("rust_inline");
        // Line 11 is the body of `square`, inlined twice into `compute`
        // through `sum_of_squares`.
        let bp = info
            .resolve_line_breakpoint("rust_inline.rs", 11)
            .unwrap()
            .unwrap();
        let rendered: Vec<String> = bp
            .addresses
            .iter()
            .map(|address| {
                format!(
                    "{address:#x}:\n{}",
                    render_frames(&info.frames_at(*address).unwrap())
                )
            })
            .collect();
        expect![[r#"
            0x201239:
            inlined rust_inline::square at rust_inline.rs:11:5
            inlined rust_inline::sum_of_squares at rust_inline.rs:16:5
            rust_inline::compute at rust_inline.rs:21:17
            0x201253:
            inlined rust_inline::square at rust_inline.rs:11:5
            inlined rust_inline::sum_of_squares at rust_inline.rs:16:17
            rust_inline::compute at rust_inline.rs:21:17"#]]
        .assert_eq(&rendered.join("\n"));
        let name = info.function_name_at(bp.addresses[0]).unwrap();
        assert_eq!(name.as_deref(), Some("rust_inline::compute"));
        // Each level's range holds the pc and nests in the next level's.
        let pc = bp.addresses[0];
        let levels: Vec<_> = (0..3)
            .map(|depth| info.function_level_range(pc, depth).unwrap())
            .collect();
        for pair in levels.windows(2) {
            assert!(
                pair[1].start <= pair[0].start && pair[0].end <= pair[1].end,
                "{levels:?}"
            );
        }
        assert!(levels.iter().all(|range| range.contains(&pc)));
        assert!(levels[0] != levels[2]);
        assert_eq!(info.function_level_range(pc, 3), None);
    }

    fn check_function_breakpoint(program: &str, name: &str, expect: Expect) {
        let info = testing::load(program);
        let rendered: Vec<String> = info
            .resolve_function_breakpoint(name)
            .unwrap()
            .into_iter()
            .map(|bp| {
                let location = bp
                    .location
                    .map(|l| format!("line {}", l.line))
                    .unwrap_or_else(|| "?".into());
                format!("{} at {:#x} ({location})", bp.function, bp.address)
            })
            .collect();
        expect.assert_eq(&rendered.join("\n"));
    }

    #[test]
    fn function_breakpoints_skip_the_prologue() {
        check_function_breakpoint(
            "rust_types",
            "inspect",
            expect!["rust_types::inspect at 0x17d2f (line 47)"],
        );
        check_function_breakpoint(
            "rust_types",
            "rust_types::middle",
            expect!["rust_types::middle at 0x17ca4 (line 86)"],
        );
        check_function_breakpoint("rust_types", "nonexistent_function", expect![[""]]);
        check_function_breakpoint(
            "rust_inline",
            "compute",
            expect!["rust_inline::compute at 0x201239 (line 21)"],
        );
        // gcc marks no prologue_end: the second statement row is used.
        check_function_breakpoint("c_frames", "leaf", expect!["leaf at 0x1144 (line 19)"]);
        // Functions inlined everywhere are found through their DWARF instances.
        check_function_breakpoint(
            "rust_inline",
            "square",
            expect![[r#"
                rust_inline::square at 0x201239 (line 11)
                rust_inline::square at 0x201253 (line 11)"#]],
        );
        check_function_breakpoint(
            "rust_inline",
            "rust_inline::sum_of_squares",
            expect!["rust_inline::sum_of_squares at 0x201239 (line 16)"],
        );
    }

    #[test]
    fn dwarf_scan_finds_functions_without_the_symbol_table() {
        // (The scan runs only for stripped binaries; here it is called directly.)
        let info = testing::load("c_frames");
        let mut names: Vec<&str> = info
            .dwarf_functions()
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["branch", "leaf", "main", "trunk"]);
    }

    #[test]
    fn code_without_debug_info_is_reported() {
        let info = testing::load("rust_types");
        let bp = info.resolve_function_breakpoint("inspect").unwrap();
        assert!(info.has_debug_info(bp[0].address));
        assert!(!info.has_debug_info(0x7fff_f7dd_5000));
    }

    #[test]
    fn function_names_match_by_path_suffix() {
        let check = |full: &str, request: &str, expected: bool| {
            assert_eq!(name_matches(full, request), expected, "{full} vs {request}");
        };
        check("rust_types::inspect", "inspect", true);
        check("rust_types::inspect", "rust_types::inspect", true);
        check("rust_types::reinspect", "inspect", false);
        check("main", "main", true);
        check("rust_types::main", "main", true);
        check("main", "", false);
        let check_body = |full: &str, request: &str, expected: bool| {
            assert_eq!(body_matches(full, request), expected, "{full} vs {request}");
        };
        check_body("hello_api::handler::{{closure}}", "handler", true);
        check_body(
            "hello_api::handler::{async_fn#0}",
            "hello_api::handler",
            true,
        );
        check_body("hello_api::handler::{{closure}}", "closure", false);
        check_body("hello_api::other::{{closure}}", "handler", false);
        check_body("hello_api::handler", "handler", false);
        check_body(
            "core::ptr::drop_in_place<x::Future<hello_api::handler::{{closure}}>>",
            "handler",
            false,
        );
        assert_eq!(
            split_last_component("a::b<c::d>::e"),
            Some(("a::b<c::d>", "e"))
        );
        assert_eq!(split_last_component("f<a::b>"), None);
    }
}
