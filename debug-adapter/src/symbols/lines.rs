//! Line tables: source breakpoints, address-to-location lookups and the
//! address ranges of a line for stepping.
//!
//! A unit's file list is read from its line-program header first; the
//! line program itself runs only for units that mention the requested
//! file, so a breakpoint in a big binary does not decode every line table.

use std::ops::Range;
use std::sync::Arc;

use super::DebugInfo;
use super::error::{Result, SymbolError};
use super::loader::Reader;
use super::units::{self, DieKey};

/// Rewrites source-path prefixes between the machine that built the
/// binary (the paths in DWARF) and the developer's machine (the paths the
/// IDE sends), like lldb's `target.source-map`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceMap {
    /// `(prefix in DWARF, prefix on the developer's machine)` pairs; the
    /// first matching pair wins.
    pub rules: Vec<(String, String)>,
}

impl SourceMap {
    /// A map with one rule: DWARF paths under `build_prefix` are the
    /// developer's files under `local_prefix`.
    pub fn with_rule(build_prefix: impl Into<String>, local_prefix: impl Into<String>) -> Self {
        SourceMap {
            rules: vec![(build_prefix.into(), local_prefix.into())],
        }
    }

    /// Converts a path from the developer's machine to its DWARF form.
    pub fn to_build_path(&self, local: &str) -> String {
        rewrite(
            local,
            self.rules
                .iter()
                .map(|(build, local)| (local.as_str(), build.as_str())),
        )
    }

    /// Converts a DWARF path to the developer's machine.
    pub fn to_local_path(&self, build: &str) -> String {
        rewrite(
            build,
            self.rules
                .iter()
                .map(|(build, local)| (build.as_str(), local.as_str())),
        )
    }
}

fn rewrite<'a>(path: &str, mut rules: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    rules
        .find_map(|(from, to)| {
            let from = from.trim_end_matches('/');
            let rest = path.strip_prefix(from)?;
            (rest.is_empty() || rest.starts_with('/'))
                .then(|| format!("{}{}", to.trim_end_matches('/'), rest))
        })
        .unwrap_or_else(|| path.to_owned())
}

/// A source position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLocation {
    /// Path on the developer's machine (after the source map), or as in
    /// DWARF when no rule applies.
    pub path: String,
    /// 1-based line; 0 when the compiler attributes the code to no line.
    pub line: u32,
    /// 1-based column, or 0 when unknown.
    pub column: u32,
}

/// Where a source breakpoint goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineBreakpoint {
    /// The line the user asked for.
    pub requested_line: u32,
    /// The line that has code: the requested one or the nearest following
    /// line with code. Report it as the verified breakpoint's line.
    pub line: u32,
    /// The DWARF file the breakpoint matched (after the source map).
    pub path: String,
    /// Runtime addresses to patch: one per place the line's code starts
    /// (several for loops, generic instances or inlined copies). Sorted,
    /// without duplicates, never empty.
    pub addresses: Vec<u64>,
}

/// The code of the current line around a pc, for `next` and `stepIn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRange {
    /// Source line of the pc.
    pub line: u32,
    /// Runtime address ranges (end exclusive) of the current function that
    /// belong to this line, the range holding the pc first; compiler-
    /// generated line-0 code adjoining them is included. Single-step (or
    /// run) while the pc stays in these ranges.
    pub ranges: Vec<Range<u64>>,
    /// Runtime address range of the function holding the pc, if known.
    pub function: Option<Range<u64>>,
}

/// A file entry of a unit's line-program header.
#[derive(Debug, Clone)]
pub(crate) struct FileEntry {
    /// Normalised absolute (or comp_dir-relative, when there is no
    /// comp_dir) path.
    pub(crate) path: String,
    /// Number of trailing components that the header wrote explicitly
    /// (directory and name, without comp_dir): matching all of them is
    /// strong evidence of the right file.
    pub(crate) written_components: usize,
}

/// One row of a line table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row {
    pub(crate) address: u64,
    pub(crate) file: u64,
    pub(crate) line: u32,
    pub(crate) is_stmt: bool,
    pub(crate) prologue_end: bool,
}

/// A contiguous run of rows ending at `end`.
pub(crate) struct Sequence {
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) rows: Vec<Row>,
}

/// The decoded line program of one unit.
pub(crate) struct UnitLines {
    pub(crate) sequences: Vec<Sequence>,
}

impl UnitLines {
    /// The sequence and row index covering file address `pc`.
    pub(crate) fn row_at(&self, pc: u64) -> Option<(&Sequence, usize)> {
        let sequence = self
            .sequences
            .iter()
            .find(|s| s.start <= pc && pc < s.end)?;
        let index = sequence
            .rows
            .partition_point(|row| row.address <= pc)
            .checked_sub(1)?;
        Some((sequence, index))
    }
}

impl Sequence {
    /// End address of row `index` (the next row's start, or the sequence end).
    pub(crate) fn row_end(&self, index: usize) -> u64 {
        self.rows.get(index + 1).map_or(self.end, |row| row.address)
    }
}

/// A call of an inlined function, seen from its call site: where the call
/// is written and where the inlined code starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InlinedCall {
    /// DWARF file index (the unit's line-program numbering) of the call.
    pub(crate) file: u64,
    /// Line of the call.
    pub(crate) line: u32,
    /// File address where the inlined code starts (`DW_AT_entry_pc`, else
    /// the lowest address of its ranges).
    pub(crate) address: u64,
    /// The function or inlined call the call is written in (its DIE key):
    /// one breakpoint address per caller, as for line-table rows.
    pub(crate) caller: Option<DieKey>,
}

/// Splits a path into normal components, resolving `.` and `..` lexically.
fn components(path: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts
}

fn normalise(path: &str) -> String {
    let absolute = path.starts_with('/');
    let joined = components(path).join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

fn join(base: &str, path: &str) -> String {
    if path.starts_with('/') || base.is_empty() {
        path.to_owned()
    } else {
        format!("{}/{}", base.trim_end_matches('/'), path)
    }
}

/// How well a DWARF file matches a requested path: larger is better,
/// `None` when the file names differ.
fn match_score(file: &FileEntry, request: &str) -> Option<(bool, bool, usize)> {
    if file.path == request {
        return Some((true, true, usize::MAX));
    }
    let file_parts = components(&file.path);
    let request_parts = components(request);
    let common = file_parts
        .iter()
        .rev()
        .zip(request_parts.iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    if common == 0 {
        return None;
    }
    // A relative DWARF path (`src/main.rs` under a comp_dir that only
    // existed on the build machine) matches when all its written
    // components match the end of the IDE's absolute path.
    let whole_written = common >= file.written_components.min(file_parts.len());
    Some((false, whole_written, common))
}

fn attr_text(
    unit: gimli::UnitRef<'_, Reader>,
    value: gimli::AttributeValue<Reader>,
) -> Option<String> {
    use gimli::Reader as _;
    let reader = unit.attr_string(value).ok()?;
    Some(reader.to_string_lossy().ok()?.into_owned())
}

fn file_entry(
    unit: gimli::UnitRef<'_, Reader>,
    header: &gimli::LineProgramHeader<Reader>,
    file: &gimli::FileEntry<Reader>,
) -> Option<FileEntry> {
    let name = attr_text(unit, file.path_name())?;
    let directory = file
        .directory(header)
        .and_then(|dir| attr_text(unit, dir))
        .unwrap_or_default();
    let written = join(&directory, &name);
    let comp_dir = unit
        .comp_dir
        .as_ref()
        .and_then(|dir| {
            use gimli::Reader as _;
            dir.to_string_lossy().ok().map(|s| s.into_owned())
        })
        .unwrap_or_default();
    let written_components = if written.starts_with('/') {
        usize::MAX
    } else {
        components(&written).len()
    };
    Some(FileEntry {
        path: normalise(&join(&comp_dir, &written)),
        written_components,
    })
}

/// Adds the inlined calls of a unit, with their callers, to `out`. Stops
/// at malformed data.
fn scan_inlined_calls(unit: gimli::UnitRef<'_, Reader>, out: &mut Vec<InlinedCall>) {
    let mut cursor = unit.entries();
    // The enclosing functions and inlined calls: (depth, DIE key).
    let mut callers: Vec<(isize, Option<DieKey>)> = Vec::new();
    while let Ok(Some(entry)) = cursor.next_dfs() {
        let depth = entry.depth();
        while callers
            .last()
            .is_some_and(|(caller_depth, _)| *caller_depth >= depth)
        {
            callers.pop();
        }
        let tag = entry.tag();
        if tag != gimli::DW_TAG_subprogram && tag != gimli::DW_TAG_inlined_subroutine {
            continue;
        }
        if tag == gimli::DW_TAG_inlined_subroutine {
            let file = entry
                .attr_value(gimli::DW_AT_call_file)
                .and_then(|value| match value {
                    gimli::AttributeValue::FileIndex(index) => Some(index),
                    other => other.udata_value(),
                });
            let line = units::attr_u64(entry, gimli::DW_AT_call_line)
                .and_then(|line| u32::try_from(line).ok())
                .filter(|line| *line != 0);
            let entry_pc = entry
                .attr_value(gimli::DW_AT_entry_pc)
                .and_then(|value| unit.attr_address(value).ok().flatten());
            let low = super::functions::first_range(unit, entry).map(|(low, _)| low);
            let address = entry_pc.filter(|pc| *pc != 0).or(low);
            if let (Some(file), Some(line), Some(address)) = (file, line, address) {
                out.push(InlinedCall {
                    file,
                    line,
                    address,
                    caller: callers.last().and_then(|(_, key)| *key),
                });
            }
        }
        callers.push((depth, units::die_key(&unit, entry.offset())));
    }
}

impl DebugInfo {
    fn require_dwarf(&self) -> Result<()> {
        if self.has_dwarf {
            Ok(())
        } else {
            Err(SymbolError::NoDebugInfo)
        }
    }

    /// The files of unit `index` whose name is `file_name` (the last
    /// path component), with their DWARF file index. Names are compared
    /// before any path is built, so most units cost no allocation.
    pub(crate) fn unit_files_named(&self, index: usize, file_name: &str) -> Vec<(u64, FileEntry)> {
        use gimli::Reader as _;
        let Some(unit) = self.units().unit(index) else {
            return Vec::new();
        };
        let Some(program) = unit.line_program.as_ref() else {
            return Vec::new();
        };
        let header = program.header();
        let mut found = Vec::new();
        // DWARF 5 numbers files from 0, earlier versions from 1; asking the
        // header for every index covers both.
        let count = header.file_names().len() as u64 + 1;
        for file_index in 0..count {
            let Some(file) = header.file(file_index) else {
                continue;
            };
            let Ok(name) = unit.attr_string(file.path_name()) else {
                continue;
            };
            let Ok(name) = name.to_slice() else { continue };
            let name_matches = name.ends_with(file_name.as_bytes())
                && (name.len() == file_name.len()
                    || matches!(
                        name.get(name.len() - file_name.len() - 1),
                        Some(b'/' | b'\\')
                    ));
            if name_matches && let Some(entry) = file_entry(unit, header, file) {
                found.push((file_index, entry));
            }
        }
        found
    }

    /// The decoded line program of unit `index`, cached.
    pub(crate) fn unit_lines(&self, index: usize) -> Result<Option<Arc<UnitLines>>> {
        if let Some(lines) = self.unit_lines.borrow().get(&index) {
            return Ok(Some(lines.clone()));
        }
        let Some(unit) = self.units().unit(index) else {
            return Ok(None);
        };
        let Some(program) = unit.line_program.clone() else {
            return Ok(None);
        };
        let operation = "decoding a line program";
        let mut rows = program.rows();
        let mut sequences = Vec::new();
        let mut current: Vec<Row> = Vec::new();
        while let Some((_, row)) = rows
            .next_row()
            .map_err(|e| SymbolError::dwarf(operation, e))?
        {
            if row.end_sequence() {
                if let Some(first) = current.first() {
                    let start = first.address;
                    let end = row.address();
                    let mut finished = std::mem::take(&mut current);
                    // Rows of one sequence are address-ordered by the spec;
                    // a stable sort keeps malformed input usable.
                    finished.sort_by_key(|row| row.address);
                    if end > start {
                        sequences.push(Sequence {
                            start,
                            end,
                            rows: finished,
                        });
                    }
                }
                current.clear();
                continue;
            }
            current.push(Row {
                address: row.address(),
                file: row.file_index(),
                line: row
                    .line()
                    .map_or(0, |line| u32::try_from(line.get()).unwrap_or(u32::MAX)),
                is_stmt: row.is_stmt(),
                prologue_end: row.prologue_end(),
            });
        }
        // Linkers leave sequences of discarded functions at address 0 (or
        // the tombstone -1); they would shadow real code.
        sequences.retain(|sequence| sequence.start != 0 && sequence.start != u64::MAX);
        sequences.sort_by_key(|sequence| sequence.start);
        let lines = Arc::new(UnitLines { sequences });
        self.unit_lines.borrow_mut().insert(index, lines.clone());
        Ok(Some(lines))
    }

    /// The calls of inlined functions in unit `index`, by call site;
    /// scanned once per unit and cached.
    pub(crate) fn inlined_calls(&self, index: usize) -> Arc<Vec<InlinedCall>> {
        if let Some(calls) = self.inlined_calls.borrow().get(&index) {
            return calls.clone();
        }
        let mut calls = Vec::new();
        if let Some(unit) = self.units().unit(index) {
            scan_inlined_calls(unit, &mut calls);
        }
        let calls = Arc::new(calls);
        self.inlined_calls.borrow_mut().insert(index, calls.clone());
        calls
    }

    /// Resolves a source breakpoint at `path:line`.
    ///
    /// `path` is as the IDE sends it (usually absolute on the developer's
    /// machine); it matches DWARF files by exact path after the source map,
    /// else by the longest common path suffix. Returns `Ok(None)` when no
    /// file matches or no line at or after `line` has code in the matched
    /// files (report the breakpoint unverified).
    pub fn resolve_line_breakpoint(&self, path: &str, line: u32) -> Result<Option<LineBreakpoint>> {
        self.require_dwarf()?;
        let request = normalise(&self.source_map.to_build_path(path));

        let Some(file_name) = components(&request).last().map(|name| name.to_string()) else {
            return Ok(None);
        };
        // Score every file of that name in every unit, keeping the
        // best-matching ones.
        let mut best: Option<(bool, bool, usize)> = None;
        let mut matches: Vec<(usize, u64, String)> = Vec::new();
        for index in 0..self.units().len() {
            for (file_index, file) in self.unit_files_named(index, &file_name) {
                let Some(score) = match_score(&file, &request) else {
                    continue;
                };
                if best.is_some_and(|best| score < best) {
                    continue;
                }
                if best != Some(score) {
                    matches.clear();
                    best = Some(score);
                }
                matches.push((index, file_index, file.path));
            }
        }
        if matches.is_empty() {
            return Ok(None);
        }

        // Find the smallest line >= the requested one that has statement
        // rows, across all matched files.
        let mut candidates: Vec<(u32, u64, String, usize)> = Vec::new();
        for (unit_index, file_index, file_path) in &matches {
            let Some(lines) = self.unit_lines(*unit_index)? else {
                continue;
            };
            for sequence in &lines.sequences {
                let mut previous_line: Option<u32> = None;
                for row in &sequence.rows {
                    let same_file = row.file == *file_index;
                    if same_file && row.is_stmt && row.line >= line && row.line != 0 {
                        // A breakpoint goes where a run of the line begins,
                        // not at every row the line has.
                        if previous_line != Some(row.line) {
                            candidates.push((
                                row.line,
                                row.address,
                                file_path.clone(),
                                *unit_index,
                            ));
                        }
                    }
                    previous_line = same_file.then_some(row.line);
                }
            }
        }
        let row_line = candidates.iter().map(|(line, ..)| *line).min();
        // A line whose only code is an inlined call has no rows of its own
        // (they carry the callee's lines). Like lldb, such a line binds to
        // where the inlined code starts, found through the call sites of
        // DW_TAG_inlined_subroutine, when it comes before the next line
        // with rows.
        let mut calls: Vec<(u32, u64, Option<DieKey>, &str)> = Vec::new();
        // When the requested line has rows, no call can come before them:
        // the units' DIEs need no scan.
        let scanned = if row_line == Some(line) {
            &[][..]
        } else {
            &matches[..]
        };
        for (unit_index, file_index, file_path) in scanned {
            for call in self.inlined_calls(*unit_index).iter() {
                if call.file == *file_index
                    && call.line >= line
                    && row_line.is_none_or(|row_line| call.line < row_line)
                {
                    calls.push((call.line, call.address, call.caller, file_path));
                }
            }
        }
        if let Some(call_line) = calls.iter().map(|(line, ..)| *line).min() {
            calls.retain(|(line, ..)| *line == call_line);
            calls.sort_unstable_by_key(|(_, address, ..)| *address);
            // One address per caller: several calls on one line (or one
            // call split over ranges) stop once, each inlined copy of the
            // caller once.
            let mut callers = Vec::new();
            let mut addresses = Vec::new();
            for (_, address, caller, _) in &calls {
                if let Some(caller) = caller {
                    if callers.contains(caller) {
                        continue;
                    }
                    callers.push(*caller);
                }
                let address = self.to_runtime_address(*address);
                if !addresses.contains(&address) {
                    addresses.push(address);
                }
            }
            let path = calls.first().map(|call| call.3).unwrap_or_default();
            return Ok(Some(LineBreakpoint {
                requested_line: line,
                line: call_line,
                path: self.source_map.to_local_path(path),
                addresses,
            }));
        }
        let Some(found_line) = row_line else {
            return Ok(None);
        };
        let mut file_addresses: Vec<(usize, u64)> = candidates
            .iter()
            .filter(|(line, ..)| *line == found_line)
            .map(|(_, address, _, unit)| (*unit, *address))
            .collect();
        file_addresses.sort_unstable_by_key(|(_, address)| *address);
        file_addresses.dedup_by_key(|(_, address)| *address);
        // Like gdb, keep one address per function or inlined copy: a line
        // whose code is split by a call (or a loop) would otherwise stop
        // twice, while each inlined copy of a function must stop once.
        let blocks = self.innermost_blocks(&file_addresses);
        let mut seen_blocks = Vec::new();
        let mut kept = Vec::new();
        for (address, block) in file_addresses.iter().zip(blocks) {
            match block {
                Some(block) if seen_blocks.contains(&block) => {}
                Some(block) => {
                    seen_blocks.push(block);
                    kept.push(address.1);
                }
                None => kept.push(address.1),
            }
        }
        let file_addresses = kept;
        let addresses: Vec<u64> = file_addresses
            .iter()
            .map(|a| self.to_runtime_address(*a))
            .collect();
        let matched_path = candidates
            .iter()
            .find(|(line, ..)| *line == found_line)
            .map(|(_, _, path, _)| path.clone())
            .unwrap_or_default();
        Ok(Some(LineBreakpoint {
            requested_line: line,
            line: found_line,
            path: self.source_map.to_local_path(&matched_path),
            addresses,
        }))
    }

    /// The source location of runtime address `pc` (the innermost inlined
    /// function's position), or `None` when no line table covers it.
    pub fn location_at(&self, pc: u64) -> Result<Option<SourceLocation>> {
        self.require_dwarf()?;
        let Some(context) = self.addr2line() else {
            return Ok(None);
        };
        let location = context
            .find_location(self.to_file_address(pc))
            .map_err(|e| SymbolError::dwarf("looking up a line", e))?;
        Ok(location.and_then(|location| self.source_location(&location)))
    }

    pub(crate) fn source_location(
        &self,
        location: &addr2line::Location<'_>,
    ) -> Option<SourceLocation> {
        Some(SourceLocation {
            path: self.source_map.to_local_path(&normalise(location.file?)),
            line: location.line.unwrap_or(0),
            column: location.column.unwrap_or(0),
        })
    }

    /// The ranges of the line holding runtime address `pc` within its
    /// function, for `next`/`stepIn`; `None` when no line table covers it.
    pub fn step_range(&self, pc: u64) -> Result<Option<StepRange>> {
        self.require_dwarf()?;
        let file_pc = self.to_file_address(pc);
        let Some(unit_index) = self.unit_index_for_pc(file_pc) else {
            return Ok(None);
        };
        let Some(lines) = self.unit_lines(unit_index)? else {
            return Ok(None);
        };
        let Some((sequence, index)) = lines.row_at(file_pc) else {
            return Ok(None);
        };
        let Some(current) = sequence.rows.get(index) else {
            return Ok(None);
        };
        let function = self.function_range_file(file_pc);
        let bounds = function.clone().unwrap_or(sequence.start..sequence.end);

        // Merge the rows of this line (and line-0 rows) into ranges.
        let mut ranges: Vec<Range<u64>> = Vec::new();
        for (row_index, row) in sequence.rows.iter().enumerate() {
            if row.address < bounds.start || row.address >= bounds.end {
                continue;
            }
            let same = (row.line == current.line && row.file == current.file) || row.line == 0;
            if !same {
                continue;
            }
            let end = sequence.row_end(row_index).min(bounds.end);
            match ranges.last_mut() {
                Some(last) if last.end == row.address => last.end = end,
                _ => ranges.push(row.address..end),
            }
        }
        // Line-0 ranges that do not touch the current line's code belong
        // to other statements.
        let touches = |range: &Range<u64>| {
            sequence.rows.iter().any(|row| {
                row.line == current.line && row.address >= range.start && row.address < range.end
            })
        };
        ranges.retain(touches);
        let holding = ranges.iter().position(|range| range.contains(&file_pc));
        if let Some(position) = holding {
            let first = ranges.remove(position);
            ranges.insert(0, first);
        }
        let ranges = ranges
            .into_iter()
            .map(|range| self.to_runtime_address(range.start)..self.to_runtime_address(range.end))
            .collect();
        Ok(Some(StepRange {
            line: current.line,
            ranges,
            function: function.map(|range| {
                self.to_runtime_address(range.start)..self.to_runtime_address(range.end)
            }),
        }))
    }
}

impl DebugInfo {
    /// The code of the function holding runtime address `pc` that has no
    /// source the user can see: rows at line 0, or of files for which
    /// `has_source` (given the path after the source map) is false, such
    /// as the standard library's inlined code. `next` runs through it with
    /// the line it steps over. Runtime ranges, merged, in address order.
    pub fn sourceless_ranges(
        &self,
        pc: u64,
        mut has_source: impl FnMut(&str) -> bool,
    ) -> Result<Vec<Range<u64>>> {
        self.require_dwarf()?;
        let file_pc = self.to_file_address(pc);
        let Some(unit_index) = self.unit_index_for_pc(file_pc) else {
            return Ok(Vec::new());
        };
        let Some(lines) = self.unit_lines(unit_index)? else {
            return Ok(Vec::new());
        };
        let Some((sequence, _)) = lines.row_at(file_pc) else {
            return Ok(Vec::new());
        };
        let Some(bounds) = self.function_range_file(file_pc) else {
            return Ok(Vec::new());
        };
        let Some(unit) = self.units().unit(unit_index) else {
            return Ok(Vec::new());
        };
        let header = unit.line_program.as_ref().map(|program| program.header());
        let mut visible: std::collections::HashMap<u64, bool> = std::collections::HashMap::new();
        let mut ranges: Vec<Range<u64>> = Vec::new();
        for (index, row) in sequence.rows.iter().enumerate() {
            if row.address < bounds.start || row.address >= bounds.end {
                continue;
            }
            let seen = row.line != 0
                && *visible.entry(row.file).or_insert_with(|| {
                    header
                        .and_then(|header| {
                            let file = header.file(row.file)?;
                            file_entry(unit, header, file)
                        })
                        .is_some_and(|entry| {
                            has_source(&self.source_map.to_local_path(&entry.path))
                        })
                });
            if seen {
                continue;
            }
            let end = sequence.row_end(index).min(bounds.end);
            match ranges.last_mut() {
                Some(last) if last.end == row.address => last.end = end,
                _ if end > row.address => ranges.push(row.address..end),
                _ => {}
            }
        }
        Ok(ranges
            .into_iter()
            .map(|range| self.to_runtime_address(range.start)..self.to_runtime_address(range.end))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use expect_test::{Expect, expect};

    use super::*;
    use crate::symbols::testing;

    const FIXTURES: &str = "/work/main/debug-adapter/fixtures";

    fn render(result: Result<Option<LineBreakpoint>>) -> String {
        match result {
            Ok(Some(bp)) => {
                let addresses: Vec<String> =
                    bp.addresses.iter().map(|a| format!("{a:#x}")).collect();
                format!(
                    "line {} -> {} in {} at [{}]",
                    bp.requested_line,
                    bp.line,
                    bp.path,
                    addresses.join(", ")
                )
            }
            Ok(None) => "unresolved".to_owned(),
            Err(error) => format!("error: {error}"),
        }
    }

    fn check_breakpoint(
        program: &str,
        source_map: Option<SourceMap>,
        path: &str,
        line: u32,
        expect: Expect,
    ) {
        let mut info = testing::load(program);
        if let Some(map) = source_map {
            info.set_source_map(map);
        }
        expect.assert_eq(&render(info.resolve_line_breakpoint(path, line)));
    }

    #[test]
    fn line_breakpoints_resolve_to_lines_with_code() {
        let abs = format!("{FIXTURES}/rust_types.rs");
        // A line with code.
        check_breakpoint(
            "rust_types",
            None,
            &abs,
            47,
            expect![
                "line 47 -> 47 in /work/main/debug-adapter/fixtures/rust_types.rs at [0x17d2f]"
            ],
        );
        // A comment line moves to the next line with code, as does a blank one.
        check_breakpoint(
            "rust_types",
            None,
            &abs,
            76,
            expect![
                "line 76 -> 77 in /work/main/debug-adapter/fixtures/rust_types.rs at [0x18268, 0x18500]"
            ],
        );
        check_breakpoint(
            "rust_types",
            None,
            &abs,
            75,
            expect![
                "line 75 -> 77 in /work/main/debug-adapter/fixtures/rust_types.rs at [0x18268, 0x18500]"
            ],
        );
        // The IDE's absolute path on another machine matches by suffix.
        check_breakpoint(
            "rust_types",
            None,
            "/Users/dev/project/fixtures/rust_types.rs",
            92,
            expect![
                "line 92 -> 92 in /work/main/debug-adapter/fixtures/rust_types.rs at [0x17c69]"
            ],
        );
        // A bare relative path works too.
        check_breakpoint(
            "rust_types",
            None,
            "rust_types.rs",
            86,
            expect![
                "line 86 -> 86 in /work/main/debug-adapter/fixtures/rust_types.rs at [0x17ca4]"
            ],
        );
        // Past the last line with code, or an unknown file: unverified.
        check_breakpoint("rust_types", None, &abs, 500, expect!["unresolved"]);
        check_breakpoint(
            "rust_types",
            None,
            "/src/other.rs",
            3,
            expect!["unresolved"],
        );
        // C: a declaration without code moves to the next statement.
        check_breakpoint(
            "c_frames",
            None,
            "c_frames.c",
            21,
            expect!["line 21 -> 22 in /work/main/debug-adapter/fixtures/c_frames.c at [0x1168]"],
        );
        check_breakpoint(
            "c_frames",
            None,
            "c_frames.c",
            37,
            expect!["line 37 -> 37 in /work/main/debug-adapter/fixtures/c_frames.c at [0x11d4]"],
        );
    }

    #[test]
    fn lines_whose_code_is_all_inlined_bind_to_the_inlined_call() {
        let check = |line, expect: Expect| {
            check_breakpoint("rust_inline", None, "rust_inline.rs", line, expect);
        };
        // `let total = sum_of_squares(a, b);` has no rows of its own: the
        // breakpoint goes where the inlined call starts, on line 21.
        check(
            21,
            expect![
                "line 21 -> 21 in /work/main/debug-adapter/fixtures/rust_inline.rs at [0x201220]"
            ],
        );
        // `exit(result as i32)` in `_start`, likewise.
        check(
            28,
            expect![
                "line 28 -> 28 in /work/main/debug-adapter/fixtures/rust_inline.rs at [0x201294]"
            ],
        );
        // Lines with rows of their own keep them.
        check(
            16,
            expect![
                "line 16 -> 16 in /work/main/debug-adapter/fixtures/rust_inline.rs at [0x201259]"
            ],
        );
        check(
            22,
            expect![
                "line 22 -> 22 in /work/main/debug-adapter/fixtures/rust_inline.rs at [0x20126b]"
            ],
        );
        // A function's signature has neither: the next line with code.
        check(
            15,
            expect![
                "line 15 -> 16 in /work/main/debug-adapter/fixtures/rust_inline.rs at [0x201259]"
            ],
        );
        // `exit(101)` in the panic handler, which the linker discarded
        // (its inlined call starts at address 0): nothing to bind.
        check(40, expect!["unresolved"]);
    }

    #[test]
    fn source_map_applies_to_requests_and_results() {
        let map = SourceMap::with_rule(FIXTURES, "/home/dev/checkout");
        check_breakpoint(
            "rust_types",
            Some(map),
            "/home/dev/checkout/rust_types.rs",
            76,
            expect!["line 76 -> 77 in /home/dev/checkout/rust_types.rs at [0x18268, 0x18500]"],
        );
    }

    #[test]
    fn addresses_map_to_locations_and_step_ranges() {
        let info = testing::load("rust_types");
        let bp = info
            .resolve_line_breakpoint("rust_types.rs", 77)
            .unwrap()
            .unwrap();
        let pc = bp.addresses[0];
        let location = info.location_at(pc).unwrap().unwrap();
        let step = info.step_range(pc).unwrap().unwrap();
        let ranges: Vec<String> = step
            .ranges
            .iter()
            .map(|r| format!("{:#x}..{:#x}", r.start, r.end))
            .collect();
        let function = step
            .function
            .map(|r| format!("{:#x}..{:#x}", r.start, r.end));
        expect![[r#"
            /work/main/debug-adapter/fixtures/rust_types.rs:77:22
            line 77 ranges ["0x18268..0x182af", "0x182bc..0x182c9", "0x184e8..0x184f5"] function Some("0x17d10..0x184f5")"#]].assert_eq(&format!(
            "{}:{}:{}\nline {} ranges {:?} function {:?}",
            location.path, location.line, location.column, step.line, ranges, function
        ));
        // An address in another module (libc) has no location here.
        assert!(info.location_at(0x7fff_f7dd_5000).unwrap().is_none());
    }

    #[test]
    fn sourceless_code_of_a_function_is_found_by_file() {
        let info = testing::load("rust_inline");
        let render = |ranges: Vec<Range<u64>>| {
            ranges
                .iter()
                .map(|r| format!("{:#x}..{:#x}", r.start, r.end))
                .collect::<Vec<_>>()
                .join(" ")
        };
        // In `compute`, core::hint::black_box is inlined from a file that
        // is not on this machine.
        let local = |path: &str| path.ends_with("rust_inline.rs");
        expect!["0x201220..0x201239 0x20123f..0x201253 0x20125c..0x20126b"]
            .assert_eq(&render(info.sourceless_ranges(0x20126b, local).unwrap()));
        // With every file present, only line-0 code is left.
        expect![""].assert_eq(&render(info.sourceless_ranges(0x20126b, |_| true).unwrap()));
        assert!(info.sourceless_ranges(0x10, local).unwrap().is_empty());
    }

    #[test]
    fn source_map_rewrites_prefixes_both_ways() {
        let map = SourceMap::with_rule("/build/app", "/home/dev/app/");
        let check = |local: &str, build: &str| {
            assert_eq!(map.to_build_path(local), build);
            assert_eq!(map.to_local_path(build), local);
        };
        check("/home/dev/app/src/main.rs", "/build/app/src/main.rs");
        check("/home/dev/application/x.rs", "/home/dev/application/x.rs");
    }

    #[test]
    fn match_scores_prefer_exact_then_whole_relative_paths() {
        let file = |path: &str, written: usize| FileEntry {
            path: path.to_owned(),
            written_components: written,
        };
        let request = "/Users/me/app/src/main.rs";
        let check = |entry: FileEntry, expected: Option<(bool, bool, usize)>| {
            assert_eq!(match_score(&entry, request), expected, "{}", entry.path);
        };
        check(
            file("/Users/me/app/src/main.rs", usize::MAX),
            Some((true, true, usize::MAX)),
        );
        check(file("/build/src/main.rs", 2), Some((false, true, 2)));
        check(
            file("/rustc/abc/library/std/src/main.rs", usize::MAX),
            Some((false, false, 2)),
        );
        check(file("/build/src/lib.rs", 2), None);
        assert_eq!(normalise("/a/./b/../c//d.rs"), "/a/c/d.rs");
    }
}
