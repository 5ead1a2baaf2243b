//! Locals and arguments of a frame: the DIEs in scope at the pc, located
//! through their DWARF location expressions.

use super::DebugInfo;
use super::error::{Result, SymbolError};
use super::loader::Reader;
use super::location::{self, EvalContext, Place};
use super::target::Memory;
use super::types::TypeInfo;
use super::units::{self, DieKey};
use super::unwind::StackFrame;
use super::values::{Value, Variable, unavailable};

/// The variables of one (possibly inlined) frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameVariables {
    /// Function arguments, in declaration order.
    pub arguments: Vec<Variable>,
    /// Locals in scope at the pc, in declaration order (outer scopes
    /// first, so a shadowing variable comes after the one it shadows).
    pub locals: Vec<Variable>,
}

/// A variable DIE in scope, located (or why not).
pub(crate) struct ScopedValue {
    pub(crate) name: String,
    pub(crate) is_argument: bool,
    pub(crate) value: std::result::Result<Value, (String, String)>,
}

/// The frame a variable query runs in.
pub(crate) struct FrameQuery<'a> {
    pub(crate) frame: &'a StackFrame,
    pub(crate) inline_depth: usize,
}

/// Most variables listed for one frame.
const MAX_VARIABLES: usize = 4096;

/// How deep lexical blocks may nest before we stop descending.
const MAX_SCOPE_DEPTH: usize = 64;

impl DebugInfo {
    /// The arguments and locals of a frame.
    ///
    /// `frame` comes from [`DebugInfo::unwind`]; `inline_depth` picks the
    /// function level at its [`StackFrame::lookup_pc`] as
    /// [`DebugInfo::frames_at`] lists them (0 for the innermost inlined
    /// function). Variables that cannot be read carry an
    /// `<unavailable: reason>` value.
    pub fn frame_variables(
        &self,
        frame: &StackFrame,
        inline_depth: usize,
        memory: &mut dyn Memory,
    ) -> Result<FrameVariables> {
        let query = FrameQuery {
            frame,
            inline_depth,
        };
        let mut result = FrameVariables::default();
        for scoped in self.scope_values(&query, memory)? {
            let variable = match scoped.value {
                Ok(value) => {
                    let path = Some(scoped.name.clone());
                    self.make_variable(scoped.name, path, value, memory)
                }
                Err((type_name, reason)) => Variable {
                    name: scoped.name,
                    type_name,
                    value: unavailable(&reason),
                    children: None,
                    indexed_children: None,
                    address: None,
                    evaluate_name: None,
                },
            };
            if scoped.is_argument {
                result.arguments.push(variable);
            } else {
                result.locals.push(variable);
            }
        }
        Ok(result)
    }

    /// Located variables in scope for `query`, in declaration order.
    pub(crate) fn scope_values(
        &self,
        query: &FrameQuery<'_>,
        memory: &mut dyn Memory,
    ) -> Result<Vec<ScopedValue>> {
        let file_pc = self.to_file_address(query.frame.lookup_pc());
        let frames = self.raw_frames_at(file_pc)?;
        let Some((_, Some(scope_key))) = frames.get(query.inline_depth) else {
            return Ok(Vec::new());
        };
        let Some((_, Some(function_key))) = frames.last() else {
            return Ok(Vec::new());
        };
        let Some((unit, scope_offset)) = self.units().locate(*scope_key) else {
            return Ok(Vec::new());
        };

        let mut found: Vec<(DieKey, bool)> = Vec::new();
        let mut tree = unit
            .entries_tree(Some(scope_offset))
            .map_err(|e| SymbolError::dwarf("reading a function's scopes", e))?;
        let root = tree
            .root()
            .map_err(|e| SymbolError::dwarf("reading a function's scopes", e))?;
        collect_variables(unit, root, file_pc, &mut found, 0);

        let frame_base = self.frame_base(*function_key, query);
        let mut values = Vec::new();
        for (key, is_argument) in found {
            let Some((name, value)) = self.locate_variable(key, query, file_pc, frame_base, memory)
            else {
                continue;
            };
            values.push(ScopedValue {
                name,
                is_argument,
                value,
            });
        }
        Ok(values)
    }

    /// The variable `name` declared at the top level of the compile unit
    /// of the frame's function (a C global or file-level static), located.
    /// Expressions fall back to these when no local or argument has the
    /// name; they are not listed among a frame's locals.
    pub(crate) fn unit_global(
        &self,
        name: &str,
        query: &FrameQuery<'_>,
        memory: &mut dyn Memory,
    ) -> Option<std::result::Result<Value, (String, String)>> {
        let file_pc = self.to_file_address(query.frame.lookup_pc());
        let frames = self.raw_frames_at(file_pc).ok()?;
        let (_, Some(function_key)) = frames.last()? else {
            return None;
        };
        let (unit, _) = self.units().locate(*function_key)?;
        let mut tree = unit.entries_tree(None).ok()?;
        let root = tree.root().ok()?;
        let mut children = root.children();
        let mut candidates = Vec::new();
        while let Ok(Some(child)) = children.next() {
            let entry = child.entry();
            if entry.tag() == gimli::DW_TAG_variable
                && entry.attr_value(gimli::DW_AT_location).is_some()
                && let Some(key) = units::die_key(&unit, entry.offset())
            {
                candidates.push(key);
            }
            if candidates.len() >= MAX_VARIABLES {
                break;
            }
        }
        candidates.into_iter().find_map(|key| {
            if self.inherited_string(key, gimli::DW_AT_name).as_deref() != Some(name) {
                return None;
            }
            self.locate_variable(key, query, file_pc, None, memory)
                .map(|(_, value)| value)
        })
    }

    /// Follows `DW_AT_abstract_origin`/`DW_AT_specification` to find an
    /// attribute that a concrete DIE inherits.
    fn inherited_attr(
        &self,
        key: DieKey,
        name: gimli::DwAt,
    ) -> Option<(DieKey, gimli::AttributeValue<Reader>)> {
        let mut current = key;
        for _ in 0..8 {
            let (unit, offset) = self.units().locate(current)?;
            let entry = unit.entry(offset).ok()?;
            if let Some(value) = entry.attr_value(name) {
                return Some((current, value));
            }
            let origin = entry
                .attr_value(gimli::DW_AT_abstract_origin)
                .or_else(|| entry.attr_value(gimli::DW_AT_specification))?;
            current = units::reference_key(&unit, &origin)?;
        }
        None
    }

    fn inherited_string(&self, key: DieKey, name: gimli::DwAt) -> Option<String> {
        let (owner, value) = self.inherited_attr(key, name)?;
        let (unit, _) = self.units().locate(owner)?;
        let text = unit.attr_string(value).ok()?;
        use gimli::Reader as _;
        Some(text.to_string_lossy().ok()?.into_owned())
    }

    fn inherited_type(&self, key: DieKey) -> Option<DieKey> {
        let (owner, value) = self.inherited_attr(key, gimli::DW_AT_type)?;
        let (unit, _) = self.units().locate(owner)?;
        units::reference_key(&unit, &value)
    }

    /// Evaluates the function's `DW_AT_frame_base`.
    fn frame_base(&self, function_key: DieKey, query: &FrameQuery<'_>) -> Option<u64> {
        let (unit, offset) = self.units().locate(function_key)?;
        let entry = unit.entry(offset).ok()?;
        let gimli::AttributeValue::Exprloc(expression) =
            entry.attr_value(gimli::DW_AT_frame_base)?
        else {
            return None;
        };
        let context = EvalContext {
            registers: &query.frame.registers,
            cfa: query.frame.cfa,
            frame_base: None,
            bias: self.bias,
            unit: Some(unit),
        };
        // The frame base never needs memory in practice; a failing reader
        // keeps this side-effect free.
        let mut no_memory = NoMemory;
        match location::evaluate(expression, unit.encoding(), &context, &mut no_memory, None)
            .ok()?
        {
            Place::Memory(address) => Some(address),
            Place::Value(bytes) => {
                let mut raw = [0u8; 8];
                for (slot, byte) in raw.iter_mut().zip(bytes) {
                    *slot = byte;
                }
                Some(u64::from_le_bytes(raw))
            }
        }
    }

    /// Name and located value of the variable DIE `key`; `None` for DIEs
    /// without a name (compiler temporaries).
    #[allow(clippy::type_complexity)]
    fn locate_variable(
        &self,
        key: DieKey,
        query: &FrameQuery<'_>,
        file_pc: u64,
        frame_base: Option<u64>,
        memory: &mut dyn Memory,
    ) -> Option<(String, std::result::Result<Value, (String, String)>)> {
        let name = self.inherited_string(key, gimli::DW_AT_name)?;
        let ty = self.type_of(self.inherited_type(key));
        let type_name = ty.name.clone();
        let fail = |reason: String| Some((name.clone(), Err((type_name.clone(), reason))));
        let Some((unit, offset)) = self.units().locate(key) else {
            return fail("malformed variable entry".into());
        };
        let Ok(entry) = unit.entry(offset) else {
            return fail("malformed variable entry".into());
        };
        let expression = match entry.attr_value(gimli::DW_AT_location) {
            Some(gimli::AttributeValue::Exprloc(expression)) => expression,
            Some(value) => match self.location_list_entry(unit, value, file_pc) {
                Ok(Some(expression)) => expression,
                Ok(None) => return fail("optimized out at this address".into()),
                Err(reason) => return fail(reason),
            },
            None => {
                return match self.const_value(key, &ty) {
                    Some(value) => Some((name, Ok(value))),
                    None => fail("optimized out".into()),
                };
            }
        };
        let context = EvalContext {
            registers: &query.frame.registers,
            cfa: query.frame.cfa,
            frame_base,
            bias: self.bias,
            unit: Some(unit),
        };
        match location::evaluate(expression, unit.encoding(), &context, memory, None) {
            Ok(place) => Some((name, Ok(Value { ty, place }))),
            Err(reason) => fail(reason),
        }
    }

    /// The expression of the location-list entry covering `file_pc`.
    fn location_list_entry(
        &self,
        unit: gimli::UnitRef<'_, Reader>,
        value: gimli::AttributeValue<Reader>,
        file_pc: u64,
    ) -> std::result::Result<Option<gimli::Expression<Reader>>, String> {
        let Some(mut locations) = unit.attr_locations(value).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        for _ in 0..100_000 {
            match locations.next().map_err(|e| e.to_string())? {
                Some(entry) if entry.range.begin <= file_pc && file_pc < entry.range.end => {
                    return Ok(Some(entry.data));
                }
                Some(_) => {}
                None => return Ok(None),
            }
        }
        Ok(None)
    }

    /// A `DW_AT_const_value` as a value of type `ty`.
    fn const_value(&self, key: DieKey, ty: &std::sync::Arc<TypeInfo>) -> Option<Value> {
        let (_, value) = self.inherited_attr(key, gimli::DW_AT_const_value)?;
        let size = ty.size.unwrap_or(8).min(8) as usize;
        let bytes = match value {
            gimli::AttributeValue::Sdata(v) => v.to_le_bytes()[..size].to_vec(),
            gimli::AttributeValue::Block(block) => {
                use gimli::Reader as _;
                block.to_slice().ok()?.into_owned()
            }
            other => other.udata_value()?.to_le_bytes()[..size].to_vec(),
        };
        Some(Value {
            ty: ty.clone(),
            place: Place::Value(bytes),
        })
    }
}

/// A memory that has nothing, for evaluations that must not read.
struct NoMemory;

impl Memory for NoMemory {
    fn read(
        &mut self,
        address: u64,
        buf: &mut [u8],
    ) -> std::result::Result<(), super::error::MemoryError> {
        Err(super::error::MemoryError {
            address,
            len: buf.len(),
            reason: "no memory access here".into(),
        })
    }
}

/// Whether a scope DIE covers `file_pc` (scopes without ranges do).
fn scope_contains(
    unit: gimli::UnitRef<'_, Reader>,
    entry: &gimli::DebuggingInformationEntry<Reader>,
    file_pc: u64,
) -> bool {
    let Ok(mut ranges) = unit.die_ranges(entry) else {
        return true;
    };
    let mut any = false;
    while let Ok(Some(range)) = ranges.next() {
        any = true;
        if range.begin <= file_pc && file_pc < range.end {
            return true;
        }
    }
    !any
}

/// Collects variable DIEs under `node` visible at `file_pc`, entering
/// lexical blocks that hold the pc but not inlined calls (those are frames
/// of their own) or nested functions.
fn collect_variables(
    unit: gimli::UnitRef<'_, Reader>,
    node: gimli::EntriesTreeNode<'_, '_, Reader>,
    file_pc: u64,
    out: &mut Vec<(DieKey, bool)>,
    depth: usize,
) {
    if depth > MAX_SCOPE_DEPTH {
        return;
    }
    let mut children = node.children();
    while let Ok(Some(child)) = children.next() {
        if out.len() >= MAX_VARIABLES {
            return;
        }
        let entry = child.entry();
        match entry.tag() {
            gimli::DW_TAG_formal_parameter | gimli::DW_TAG_variable => {
                if let Some(key) = units::die_key(&unit, entry.offset()) {
                    out.push((key, entry.tag() == gimli::DW_TAG_formal_parameter));
                }
            }
            gimli::DW_TAG_lexical_block if scope_contains(unit, entry, file_pc) => {
                collect_variables(unit, child, file_pc, out, depth + 1);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use expect_test::{Expect, expect};

    use super::*;
    use crate::symbols::testing::Stopped;

    /// Renders variables, expanding children down to `depth` levels.
    fn render(
        info: &DebugInfo,
        variables: &[Variable],
        memory: &mut dyn Memory,
        indent: usize,
        depth: usize,
        out: &mut String,
    ) {
        for variable in variables {
            let count = variable
                .indexed_children
                .map(|n| format!(" [{n} items]"))
                .unwrap_or_default();
            out.push_str(&format!(
                "{}{}: {} = {}{count}\n",
                "  ".repeat(indent),
                variable.name,
                variable.type_name,
                variable.value
            ));
            if let (Some(handle), true) = (&variable.children, depth > 0) {
                let children = info.children(handle, memory);
                render(info, &children, memory, indent + 1, depth - 1, out);
            }
        }
    }

    fn check_frame(program: &str, frame_index: usize, depth: usize, expect: Expect) {
        let stopped = Stopped::open(program);
        let mut memory = stopped.memory();
        let trace = stopped
            .info
            .unwind(&stopped.core.registers, &mut memory, 16);
        let frame = &trace.frames[frame_index];
        let variables = stopped.info.frame_variables(frame, 0, &mut memory).unwrap();
        let mut out = String::from("arguments:\n");
        render(
            &stopped.info,
            &variables.arguments,
            &mut memory,
            1,
            depth,
            &mut out,
        );
        out.push_str("locals:\n");
        render(
            &stopped.info,
            &variables.locals,
            &mut memory,
            1,
            depth,
            &mut out,
        );
        expect.assert_eq(&out);
    }

    #[test]
    fn rust_variables_of_every_kind() {
        check_frame(
            "rust_types",
            0,
            2,
            expect![[r#"
                arguments:
                  order: &rust_types::Order = &{id: 42, items: len=3 [{…}, {…}, {…}], note: Some("fragile")}
                    id: u32 = 42
                    items: alloc::vec::Vec<rust_types::Item, alloc::alloc::Global> = len=3 [{name: "apple", price: 3}, {name: "pear", price: 5}, {name: "plum", price: 7}] [3 items]
                      [0]: rust_types::Item = {name: "apple", price: 3}
                      [1]: rust_types::Item = {name: "pear", price: 5}
                      [2]: rust_types::Item = {name: "plum", price: 7}
                    note: core::option::Option<alloc::string::String> = Some("fragile")
                      0: alloc::string::String = "fragile"
                  depth: u32 = 2
                locals:
                  point: rust_types::Point = {x: 3, y: -4}
                    x: i32 = 3
                    y: i32 = -4
                  numbers: u16[4] = [1, 2, 3, 4] [4 items]
                    [0]: u16 = 1
                    [1]: u16 = 2
                    [2]: u16 = 3
                    [3]: u16 = 4
                  slice: &[u16] = len=3 [2, 3, 4] [3 items]
                    [0]: u16 = 2
                    [1]: u16 = 3
                    [2]: u16 = 4
                  text: &str = "hello"
                  owned: alloc::string::String = "owned string"
                  vec: alloc::vec::Vec<i64, alloc::alloc::Global> = len=3 [10, 20, 30] [3 items]
                    [0]: i64 = 10
                    [1]: i64 = 20
                    [2]: i64 = 30
                  some: core::option::Option<u32> = Some(7)
                    0: u32 = 7
                  none: core::option::Option<u32> = None
                  some_ref: core::option::Option<&rust_types::Point> = Some(&{…})
                    0: &rust_types::Point = &{x: 3, y: -4}
                      x: i32 = 3
                      y: i32 = -4
                  ok: core::result::Result<u8, alloc::string::String> = Ok(1)
                    0: u8 = 1
                  err: core::result::Result<u8, alloc::string::String> = Err("bad")
                    0: alloc::string::String = "bad"
                  boxed: alloc::boxed::Box<rust_types::Point, alloc::alloc::Global> = {x: 5, y: 6}
                    x: i32 = 5
                    y: i32 = 6
                  rc: alloc::rc::Rc<alloc::string::String, alloc::alloc::Global> = strong=2, weak=0 "shared"
                    value: alloc::string::String = "shared"
                    strong: usize = 2
                    weak: usize = 0
                  rc2: alloc::rc::Rc<alloc::string::String, alloc::alloc::Global> = strong=2, weak=0 "shared"
                    value: alloc::string::String = "shared"
                    strong: usize = 2
                    weak: usize = 0
                  arc: alloc::sync::Arc<alloc::vec::Vec<u8, alloc::alloc::Global>, alloc::alloc::Global> = strong=1, weak=0 len=2 [1, 2]
                    value: alloc::vec::Vec<u8, alloc::alloc::Global> = len=2 [1, 2] [2 items]
                      [0]: u8 = 1
                      [1]: u8 = 2
                    strong: usize = 1
                    weak: usize = 0
                  map: std::collections::hash::map::HashMap<alloc::string::String, u32, std::hash::random::RandomState, alloc::alloc::Global> = len=3 {"one": 1, "three": 3, "two": 2} [3 items]
                    ["one"]: u32 = 1
                    ["three"]: u32 = 3
                    ["two"]: u32 = 2
                  shape: rust_types::Shape = Rect({x: 3, y: -4}, {x: 7, y: 8})
                    0: rust_types::Point = {x: 3, y: -4}
                      x: i32 = 3
                      y: i32 = -4
                    1: rust_types::Point = {x: 7, y: 8}
                      x: i32 = 7
                      y: i32 = 8
                  circle: rust_types::Shape = Circle { radius: 1.5 }
                    radius: f64 = 1.5
                  empty: rust_types::Shape = Empty
                  direction: rust_types::Direction = South
                  union_value: rust_types::IntOrFloat = {i: 1065353216, f: 1}
                    i: u32 = 1065353216
                    f: f32 = 1
                  raw: *const rust_types::Point = 0x7fffffffde70
                    *: rust_types::Point = {x: 3, y: -4}
                      x: i32 = 3
                      y: i32 = -4
                  flag: bool = true
                  letter: char = 'λ'
                  ratio: f64 = 2.5
            "#]],
        );
    }

    #[test]
    fn caller_frame_variables_use_unwound_registers() {
        check_frame(
            "rust_types",
            1,
            1,
            expect![[r#"
            arguments:
              order: &rust_types::Order = &{id: 42, items: len=3 [{…}, {…}, {…}], note: Some("fragile")}
                id: u32 = 42
                items: alloc::vec::Vec<rust_types::Item, alloc::alloc::Global> = len=3 [{name: "apple", price: 3}, {name: "pear", price: 5}, {name: "plum", price: 7}] [3 items]
                note: core::option::Option<alloc::string::String> = Some("fragile")
              depth: u32 = 1
            locals:
        "#]],
        );
        check_frame(
            "rust_types",
            3,
            3,
            expect![[r#"
            arguments:
            locals:
              order: rust_types::Order = {id: 42, items: len=3 [{…}, {…}, {…}], note: Some("fragile")}
                id: u32 = 42
                items: alloc::vec::Vec<rust_types::Item, alloc::alloc::Global> = len=3 [{name: "apple", price: 3}, {name: "pear", price: 5}, {name: "plum", price: 7}] [3 items]
                  [0]: rust_types::Item = {name: "apple", price: 3}
                    name: alloc::string::String = "apple"
                    price: u64 = 3
                  [1]: rust_types::Item = {name: "pear", price: 5}
                    name: alloc::string::String = "pear"
                    price: u64 = 5
                  [2]: rust_types::Item = {name: "plum", price: 7}
                    name: alloc::string::String = "plum"
                    price: u64 = 7
                note: core::option::Option<alloc::string::String> = Some("fragile")
                  0: alloc::string::String = "fragile"
        "#]],
        );
    }

    #[test]
    fn c_variables_of_every_kind() {
        check_frame(
            "c_frames",
            0,
            1,
            expect![[r#"
            arguments:
              depth: int = 3
              pair: pair * = 0x7fffffffe650
                *: pair = {left: 1, right: 2}
            locals:
              local: int = 30
              values: int[3] = [7, 8, 9] [3 items]
                [0]: int = 7
                [1]: int = 8
                [2]: int = 9
              bits: bits = {word: 1065353216, real: 1}
                word: unsigned int = 1065353216
                real: float = 1
              colour: colour = GREEN
        "#]],
        );
        check_frame(
            "c_frames",
            2,
            1,
            expect![[r#"
            arguments:
              depth: int = 1
            locals:
              pair: pair = {left: 1, right: 2}
                left: int = 1
                right: long int = 2
              result: int = 32767
        "#]],
        );
    }

    #[test]
    fn every_evaluate_name_evaluates_to_its_variable() {
        for program in ["rust_types", "c_frames"] {
            let stopped = Stopped::open(program);
            let mut memory = stopped.memory();
            let trace = stopped
                .info
                .unwind(&stopped.core.registers, &mut memory, 16);
            let frame = &trace.frames[0];
            let variables = stopped.info.frame_variables(frame, 0, &mut memory).unwrap();
            let mut pending: Vec<Variable> = variables
                .arguments
                .into_iter()
                .chain(variables.locals)
                .collect();
            let mut checked = 0;
            for _ in 0..3 {
                let mut next = Vec::new();
                for variable in &pending {
                    if let Some(name) = &variable.evaluate_name {
                        let evaluated = stopped.info.evaluate(name, frame, 0, &mut memory).unwrap();
                        assert_eq!(evaluated.value, variable.value, "{name}");
                        assert_eq!(evaluated.type_name, variable.type_name, "{name}");
                        checked += 1;
                    }
                    if let Some(handle) = &variable.children {
                        next.extend(stopped.info.children(handle, &mut memory));
                    }
                }
                pending = next;
            }
            assert!(checked > 10, "{program}: only {checked} names checked");
        }
    }

    fn check_eval(program: &str, frame_index: usize, expressions: &[&str], expect: Expect) {
        let stopped = Stopped::open(program);
        let mut memory = stopped.memory();
        let trace = stopped
            .info
            .unwind(&stopped.core.registers, &mut memory, 16);
        let frame = &trace.frames[frame_index];
        let mut out = String::new();
        for expression in expressions {
            match stopped.info.evaluate(expression, frame, 0, &mut memory) {
                Ok(variable) => out.push_str(&format!(
                    "{expression}: {} = {}\n",
                    variable.type_name, variable.value
                )),
                Err(error) => out.push_str(&format!("{expression}: error: {error}\n")),
            }
        }
        expect.assert_eq(&out);
    }

    #[test]
    fn expressions_walk_variable_paths() {
        check_eval(
            "rust_types",
            0,
            &[
                "order.items[2].price",
                "order.items[1].name",
                "order.items.len",
                "order.note",
                "order.id",
                "owned.len",
                "vec[1]",
                "slice[0]",
                "*raw",
                "raw.x",
                "boxed.y",
                "*rc",
                "rc.strong",
                "arc.value[1]",
                "map.len",
                "shape.0.x",
                "circle.radius",
                "numbers[3]",
                "numbers[9]",
                "order.prize",
                "missing",
                "text.len",
            ],
            expect![[r#"
                order.items[2].price: u64 = 7
                order.items[1].name: alloc::string::String = "pear"
                order.items.len: usize = 3
                order.note: core::option::Option<alloc::string::String> = Some("fragile")
                order.id: u32 = 42
                owned.len: usize = 12
                vec[1]: i64 = 20
                slice[0]: u16 = 2
                *raw: rust_types::Point = {x: 3, y: -4}
                raw.x: i32 = 3
                boxed.y: i32 = 6
                *rc: alloc::string::String = "shared"
                rc.strong: usize = 2
                arc.value[1]: u8 = 2
                map.len: usize = 3
                shape.0.x: i32 = 3
                circle.radius: f64 = 1.5
                numbers[3]: u16 = 4
                numbers[9]: error: cannot evaluate `numbers[9]`: index 9 is out of bounds for `u16[4]`
                order.prize: error: cannot evaluate `order.prize`: `rust_types::Order` has no field `prize`
                missing: error: cannot evaluate `missing`: no variable `missing` in scope
                text.len: usize = 5
            "#]],
        );
        check_eval(
            "c_frames",
            0,
            &["pair->right", "values[1]", "*pair", "bits.real"],
            expect![[r#"
            pair->right: long int = 2
            values[1]: int = 8
            *pair: pair = {left: 1, right: 2}
            bits.real: float = 1
        "#]],
        );
    }
}

#[cfg(test)]
mod inlined_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use expect_test::expect;

    use super::*;
    use crate::symbols::arch;
    use crate::symbols::target::Registers;
    use crate::symbols::testing;

    /// Optimised code keeps variables in registers and location lists;
    /// each inline level sees its own variables.
    #[test]
    fn inlined_levels_have_their_own_variables() {
        let info = testing::load("rust_inline");
        let bp = info
            .resolve_line_breakpoint("rust_inline.rs", 11)
            .unwrap()
            .unwrap();
        let pc = bp.addresses[0];
        let mut registers = Registers::new();
        for number in 0..arch::REGISTER_COUNT as u16 {
            registers.set(number, 100 + u64::from(number));
        }
        registers.set(arch::PC, pc);
        let frame = StackFrame {
            pc,
            cfa: Some(0x7000_0000),
            registers,
            exact_pc: true,
        };
        struct NoMemory;
        impl Memory for NoMemory {
            fn read(
                &mut self,
                address: u64,
                buf: &mut [u8],
            ) -> std::result::Result<(), crate::symbols::MemoryError> {
                Err(crate::symbols::MemoryError {
                    address,
                    len: buf.len(),
                    reason: "no memory in this test".into(),
                })
            }
        }
        let mut out = String::new();
        for (depth, level) in info.frames_at(pc).unwrap().iter().enumerate() {
            let variables = info.frame_variables(&frame, depth, &mut NoMemory).unwrap();
            out.push_str(&format!("{}:\n", level.function.as_deref().unwrap_or("?")));
            for variable in variables.arguments.iter().chain(&variables.locals) {
                out.push_str(&format!(
                    "  {}: {} = {}\n",
                    variable.name, variable.type_name, variable.value
                ));
            }
        }
        expect![[r#"
            rust_inline::square:
              value: u64 = 105
            rust_inline::sum_of_squares:
              a: u64 = 105
              b: u64 = 104
            rust_inline::compute:
              a: u64 = 105
              b: u64 = 104
        "#]]
        .assert_eq(&out);
    }
}
