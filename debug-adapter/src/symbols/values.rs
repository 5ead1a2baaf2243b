//! Values: reading typed data from the target, formatting it, and listing
//! a value's children on demand.
//!
//! A [`Variable`] carries a [`ValueHandle`] when it has children; the
//! children are read only when the adapter asks for them
//! ([`DebugInfo::children`]), which maps onto DAP's lazy `variables`
//! requests. A handle owns everything it needs (type description and
//! address or captured bytes), so it stays valid until the target runs.

use std::sync::Arc;

use super::DebugInfo;
use super::location::Place;
use super::rust_std::{self, Special};
use super::target::Memory;
use super::types::{Encoding, Field, TypeInfo, TypeKind, Variant};

/// Most bytes read for one value (larger values show as unavailable).
const MAX_READ: u64 = 1 << 20;
/// Most elements listed as children of one value in one request.
pub(crate) const MAX_CHILDREN: u64 = 10_000;
/// Most elements shown in a one-line preview.
const PREVIEW_ELEMENTS: u64 = 8;
/// Deepest recursion through references, boxes and enum variants (and
/// through type definitions) before giving up.
pub(crate) const MAX_NESTING: usize = 32;
/// Most characters of a string shown in a preview.
const MAX_STRING: u64 = 4096;

/// A typed value in the target.
#[derive(Debug, Clone)]
pub(crate) struct Value {
    pub(crate) ty: Arc<TypeInfo>,
    pub(crate) place: Place,
}

/// An opaque reference to a value whose children have not been read yet.
/// Pass it to [`DebugInfo::children`]. It is valid while the target stays
/// stopped: after it runs, memory may have changed.
#[derive(Debug, Clone)]
pub struct ValueHandle {
    pub(crate) value: Value,
    /// The expression that evaluates to this value, if it has one.
    pub(crate) path: Option<String>,
}

/// A named value, formatted for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// Name: the variable's name, a field name, `[3]` for an element, or
    /// `["key"]` for a map entry.
    pub name: String,
    /// The DWARF type name (`alloc::string::String`, `int *`, ...).
    pub type_name: String,
    /// One-line value: `42`, `"text"`, `Some(7)`, `len=3 [1, 2, 3]`, or
    /// `<unavailable: reason>` when it cannot be read.
    pub value: String,
    /// Present when the value has children to expand.
    pub children: Option<ValueHandle>,
    /// Number of indexed children (elements of arrays, slices, `Vec`s,
    /// entries of maps), for paging; `None` for named children.
    pub indexed_children: Option<u64>,
    /// Address of the value in target memory, when it has one.
    pub address: Option<u64>,
    /// An expression that [`DebugInfo::evaluate`] accepts and that yields
    /// this value (`order.items[2].price`), for "add to watch" and hover;
    /// `None` where no path expression reaches it (map entries).
    pub evaluate_name: Option<String>,
}

impl PartialEq for ValueHandle {
    fn eq(&self, other: &Self) -> bool {
        self.value.place == other.value.place && self.value.ty == other.value.ty
    }
}
impl Eq for ValueHandle {}

pub(crate) fn unavailable(reason: &str) -> String {
    format!("<unavailable: {reason}>")
}

/// Display name of a field: tuple fields `__0` show as `0`.
fn field_display_name(name: &str) -> String {
    match name.strip_prefix("__") {
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.to_owned()
        }
        _ => name.to_owned(),
    }
}

fn escape(text: &str) -> String {
    text.chars().flat_map(char::escape_debug).collect()
}

impl DebugInfo {
    /// Reads the bytes of `value` (its type's size).
    pub(crate) fn read_value(
        &self,
        value: &Value,
        memory: &mut dyn Memory,
    ) -> Result<Vec<u8>, String> {
        let size = value.ty.size.ok_or("the type has no size")?;
        if size > MAX_READ {
            return Err(format!("the value is too large ({size} bytes)"));
        }
        match &value.place {
            Place::Memory(address) => {
                let mut bytes = vec![0u8; size as usize];
                memory
                    .read(*address, &mut bytes)
                    .map_err(|e| e.to_string())?;
                Ok(bytes)
            }
            Place::Value(bytes) => {
                let mut bytes = bytes.clone();
                bytes.resize(size as usize, 0);
                Ok(bytes)
            }
        }
    }

    /// Reads `value` as an unsigned integer of its size (at most 8 bytes).
    pub(crate) fn read_unsigned(
        &self,
        value: &Value,
        memory: &mut dyn Memory,
    ) -> Result<u64, String> {
        let bytes = self.read_value(value, memory)?;
        let mut raw = [0u8; 8];
        for (slot, byte) in raw.iter_mut().zip(bytes) {
            *slot = byte;
        }
        Ok(u64::from_le_bytes(raw))
    }

    /// The sub-value `field` of `value`.
    pub(crate) fn field_value(&self, value: &Value, field: &Field) -> Value {
        let ty = self.type_of(field.ty);
        let place = match &value.place {
            Place::Memory(address) => Place::Memory(address.wrapping_add(field.offset)),
            Place::Value(bytes) => {
                let start = usize::try_from(field.offset).unwrap_or(usize::MAX);
                let len = ty.size.and_then(|s| usize::try_from(s).ok()).unwrap_or(0);
                let slice = bytes.get(start..).unwrap_or(&[]);
                Place::Value(slice.iter().take(len).copied().collect())
            }
        };
        Value { ty, place }
    }

    /// The field called `name` of a struct or union value.
    pub(crate) fn named_field(&self, value: &Value, name: &str) -> Option<Value> {
        let field = value.ty.field(name)?.clone();
        Some(self.field_value(value, &field))
    }

    /// The value a pointer points to; `Err` when it is null or unreadable.
    pub(crate) fn deref(&self, pointer: &Value, memory: &mut dyn Memory) -> Result<Value, String> {
        let TypeKind::Pointer { pointee, .. } = &pointer.ty.kind else {
            return Err(format!("`{}` is not a pointer", pointer.ty.name));
        };
        let address = self.read_unsigned(pointer, memory)?;
        if address == 0 {
            return Err("null pointer".into());
        }
        Ok(Value {
            ty: self.type_of(*pointee),
            place: Place::Memory(address),
        })
    }

    /// The element at `index` of `count` elements of type `element` at `address`.
    pub(crate) fn element(&self, element: &Arc<TypeInfo>, address: u64, index: u64) -> Value {
        let stride = element.size.unwrap_or(0);
        Value {
            ty: element.clone(),
            place: Place::Memory(address.wrapping_add(stride.wrapping_mul(index))),
        }
    }

    /// The active variant of a Rust enum value (a struct with a variant part).
    pub(crate) fn active_variant(
        &self,
        value: &Value,
        memory: &mut dyn Memory,
    ) -> Result<Option<Variant>, String> {
        let TypeKind::Struct {
            variants: Some(part),
            ..
        } = &value.ty.kind
        else {
            return Ok(None);
        };
        let Some(discriminant) = &part.discriminant else {
            return Ok(part.variants.first().cloned());
        };
        let discr_value = self.field_value(value, discriminant);
        let bits = discr_value.ty.size.unwrap_or(8).min(8) * 8;
        let mask = if bits >= 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        let raw = self.read_unsigned(&discr_value, memory)? & mask;
        let chosen = part
            .variants
            .iter()
            .find(|variant| variant.discr_value.is_some_and(|v| v & mask == raw))
            .or_else(|| {
                part.variants
                    .iter()
                    .find(|variant| variant.discr_value.is_none())
            });
        Ok(chosen.cloned())
    }

    /// Formats `value` under `name`, with a handle when it has children.
    pub(crate) fn make_variable(
        &self,
        name: String,
        path: Option<String>,
        value: Value,
        memory: &mut dyn Memory,
    ) -> Variable {
        let address = match value.place {
            Place::Memory(address) => Some(address),
            Place::Value(_) => None,
        };
        let summary = self.summary(&value, memory, 0);
        let (has_children, indexed_children) = self.child_shape(&value, memory);
        Variable {
            name,
            type_name: value.ty.name.clone(),
            value: summary,
            children: has_children.then(|| ValueHandle {
                value: value.clone(),
                path: path.clone(),
            }),
            indexed_children,
            address,
            evaluate_name: path,
        }
    }

    /// Whether `value` has children, and how many indexed ones.
    fn child_shape(&self, value: &Value, memory: &mut dyn Memory) -> (bool, Option<u64>) {
        match rust_std::classify(self, value) {
            Special::String | Special::Str => return (false, None),
            Special::None => {}
            special => {
                let count = rust_std::element_count(self, &special, value, memory);
                return match count {
                    Some(count) => (
                        count > 0 || special.has_named_children(),
                        special.indexed().then_some(count),
                    ),
                    None => (special.has_named_children(), None),
                };
            }
        }
        match &value.ty.kind {
            TypeKind::Pointer { pointee, .. } => {
                let pointee = self.type_of(*pointee);
                let readable =
                    matches!(self.read_unsigned(value, memory), Ok(address) if address != 0);
                let derefable = !matches!(
                    pointee.kind,
                    TypeKind::Void | TypeKind::Function | TypeKind::Unknown
                );
                (readable && derefable, None)
            }
            TypeKind::Struct { .. } | TypeKind::Union { .. } => {
                let children = self
                    .child_values(value, memory, 0, MAX_CHILDREN)
                    .unwrap_or_default();
                (!children.is_empty(), None)
            }
            TypeKind::Array { dims, .. } => {
                let count = dims.first().copied().flatten().unwrap_or(0);
                (count > 0, Some(count))
            }
            _ => (false, None),
        }
    }

    /// The children of the value behind `handle`, formatted: fields,
    /// elements (at most 10,000; use [`DebugInfo::children_range`] to page),
    /// the pointee of a pointer, or a standard-library type's contents.
    pub fn children(&self, handle: &ValueHandle, memory: &mut dyn Memory) -> Vec<Variable> {
        self.children_range(handle, 0, MAX_CHILDREN, memory)
    }

    /// Like [`DebugInfo::children`], for indexed children `start..start+count`.
    /// An unreadable value yields one child whose value says why.
    pub fn children_range(
        &self,
        handle: &ValueHandle,
        start: u64,
        count: u64,
        memory: &mut dyn Memory,
    ) -> Vec<Variable> {
        match self.child_values(&handle.value, memory, start, count.min(MAX_CHILDREN)) {
            Ok(children) => children
                .into_iter()
                .map(|(name, value)| {
                    let path = child_path(handle.path.as_deref(), &name);
                    self.make_variable(name, path, value, memory)
                })
                .collect(),
            Err(reason) => vec![Variable {
                name: "<error>".into(),
                type_name: String::new(),
                value: unavailable(&reason),
                children: None,
                indexed_children: None,
                address: None,
                evaluate_name: None,
            }],
        }
    }

    /// Named child values of `value` (unformatted).
    pub(crate) fn child_values(
        &self,
        value: &Value,
        memory: &mut dyn Memory,
        start: u64,
        count: u64,
    ) -> Result<Vec<(String, Value)>, String> {
        // Self-referential types in malformed DWARF would recurse forever
        // through references, boxes and variants.
        let depth = self.nesting.get();
        if depth > MAX_NESTING {
            return Err("the value nests too deeply".into());
        }
        self.nesting.set(depth + 1);
        let result = self.child_values_unguarded(value, memory, start, count);
        self.nesting.set(depth);
        result
    }

    fn child_values_unguarded(
        &self,
        value: &Value,
        memory: &mut dyn Memory,
        start: u64,
        count: u64,
    ) -> Result<Vec<(String, Value)>, String> {
        let special = rust_std::classify(self, value);
        if special != Special::None {
            return rust_std::children(self, &special, value, memory, start, count);
        }
        match &value.ty.kind {
            TypeKind::Pointer { reference, .. } => {
                let target = self.deref(value, memory)?;
                // References are shown transparently, like the Rust
                // pretty-printers of gdb and lldb do.
                if *reference || value.ty.name.starts_with('&') {
                    let nested = self.child_values(&target, memory, start, count)?;
                    if !nested.is_empty() {
                        return Ok(nested);
                    }
                }
                Ok(vec![("*".to_owned(), target)])
            }
            TypeKind::Struct {
                fields, variants, ..
            } => {
                if variants.is_some() {
                    let Some(variant) = self.active_variant(value, memory)? else {
                        return Ok(Vec::new());
                    };
                    let payload = self.field_value(value, &variant.field);
                    return self.child_values(&payload, memory, start, count);
                }
                Ok(fields
                    .iter()
                    .map(|field| (field, self.field_value(value, field)))
                    .filter(|(_, child)| child.ty.size != Some(0))
                    .map(|(field, child)| (field_display_name(&field.name), child))
                    .collect())
            }
            TypeKind::Union { fields } => Ok(fields
                .iter()
                .map(|field| {
                    (
                        field_display_name(&field.name),
                        self.field_value(value, field),
                    )
                })
                .collect()),
            TypeKind::Array { element, dims } => {
                let total = dims.first().copied().flatten().unwrap_or(0);
                let element_type = if dims.len() > 1 {
                    // A row of a multi-dimensional array is itself an array.
                    let inner = self.type_of(*element);
                    let inner_count = dims[1..]
                        .iter()
                        .fold(1u64, |count, d| count.saturating_mul(d.unwrap_or(0)));
                    Arc::new(TypeInfo {
                        name: format!(
                            "{}{}",
                            inner.name,
                            dims[1..]
                                .iter()
                                .map(|d| format!("[{}]", d.unwrap_or(0)))
                                .collect::<String>()
                        ),
                        size: inner.size.map(|s| s.saturating_mul(inner_count)),
                        kind: TypeKind::Array {
                            element: *element,
                            dims: dims[1..].to_vec(),
                        },
                    })
                } else {
                    self.type_of(*element)
                };
                let end = total.min(start.saturating_add(count));
                let stride = element_type.size.unwrap_or(0);
                let mut children = Vec::new();
                for index in start..end {
                    let offset = stride.saturating_mul(index);
                    let field = Field {
                        name: String::new(),
                        ty: None,
                        offset,
                    };
                    let mut child = self.field_value(value, &field);
                    child.ty = element_type.clone();
                    if let Place::Value(bytes) = &value.place {
                        let from = usize::try_from(offset).unwrap_or(usize::MAX);
                        let len = usize::try_from(stride).unwrap_or(0);
                        child.place =
                            Place::Value(bytes.iter().skip(from).take(len).copied().collect());
                    }
                    children.push((format!("[{index}]"), child));
                }
                Ok(children)
            }
            _ => Ok(Vec::new()),
        }
    }

    /// A one-line rendering of `value`; `depth` limits nesting.
    pub(crate) fn summary(&self, value: &Value, memory: &mut dyn Memory, depth: usize) -> String {
        if depth > 3 {
            return "{…}".into();
        }
        let special = rust_std::classify(self, value);
        if special != Special::None {
            return rust_std::summary(self, &special, value, memory, depth)
                .unwrap_or_else(|reason| unavailable(&reason));
        }
        match &value.ty.kind {
            TypeKind::Base(encoding) => match self.read_value(value, memory) {
                Ok(bytes) => format_base(*encoding, &bytes),
                Err(reason) => unavailable(&reason),
            },
            TypeKind::Enum {
                signed,
                enumerators,
            } => match self.read_value(value, memory) {
                Ok(bytes) => {
                    let raw = integer(&bytes, *signed);
                    enumerators
                        .iter()
                        .find(|(_, v)| *v == raw)
                        .map(|(name, _)| name.clone())
                        .unwrap_or_else(|| raw.to_string())
                }
                Err(reason) => unavailable(&reason),
            },
            TypeKind::Pointer { pointee, reference } => {
                let address = match self.read_unsigned(value, memory) {
                    Ok(address) => address,
                    Err(reason) => return unavailable(&reason),
                };
                let pointee_type = self.type_of(*pointee);
                if address == 0 {
                    return "null".into();
                }
                if matches!(pointee_type.kind, TypeKind::Base(Encoding::CChar)) {
                    let text = read_c_string(memory, address);
                    return format!("{address:#x} \"{}\"", escape(&text));
                }
                let is_reference = *reference || value.ty.name.starts_with('&');
                if is_reference
                    && depth < 2
                    && !matches!(pointee_type.kind, TypeKind::Void | TypeKind::Function)
                {
                    let target = Value {
                        ty: pointee_type,
                        place: Place::Memory(address),
                    };
                    return format!("&{}", self.summary(&target, memory, depth + 1));
                }
                format!("{address:#x}")
            }
            TypeKind::Struct {
                variants: Some(_), ..
            } => match self.active_variant(value, memory) {
                Ok(Some(variant)) => {
                    let payload = self.field_value(value, &variant.field);
                    let fields = self
                        .child_values(&payload, memory, 0, PREVIEW_ELEMENTS)
                        .unwrap_or_default();
                    format_compound(&variant.field.name, &self.previews(fields, memory, depth))
                }
                Ok(None) => unavailable("no variant matches the discriminant"),
                Err(reason) => unavailable(&reason),
            },
            TypeKind::Struct { .. } | TypeKind::Union { .. } => {
                if depth >= 2 {
                    return "{…}".into();
                }
                match self.child_values(value, memory, 0, PREVIEW_ELEMENTS) {
                    Ok(fields) => {
                        let parts = self.previews(fields, memory, depth);
                        let body = parts
                            .iter()
                            .map(|(name, text)| format!("{name}: {text}"))
                            .collect::<Vec<_>>()
                            .join(", ");
                        format!("{{{body}}}")
                    }
                    Err(reason) => unavailable(&reason),
                }
            }
            TypeKind::Array { dims, .. } => {
                let total = dims.first().copied().flatten().unwrap_or(0);
                match self.child_values(value, memory, 0, PREVIEW_ELEMENTS) {
                    Ok(elements) => format_list(self.previews(elements, memory, depth), total),
                    Err(reason) => unavailable(&reason),
                }
            }
            TypeKind::Void => "void".into(),
            TypeKind::Function => "fn".into(),
            TypeKind::Unknown => unavailable("unsupported type"),
        }
    }

    /// Summaries of child values, for previews.
    pub(crate) fn previews(
        &self,
        children: Vec<(String, Value)>,
        memory: &mut dyn Memory,
        depth: usize,
    ) -> Vec<(String, String)> {
        children
            .into_iter()
            .map(|(name, child)| {
                let text = self.summary(&child, memory, depth + 1);
                (name, text)
            })
            .collect()
    }
}

/// The expression for child `name` of the value at `parent`: `p.x`,
/// `p[3]` or `*p`; `None` for children no expression reaches (map entries).
fn child_path(parent: Option<&str>, name: &str) -> Option<String> {
    let parent = parent?;
    // Wrap compound parents so that `.` and `[]` bind to the whole.
    let parent = if parent.starts_with('*') {
        format!("({parent})")
    } else {
        parent.to_owned()
    };
    if name == "*" {
        Some(format!("*{parent}"))
    } else if let Some(index) = name
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    {
        index
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| format!("{parent}[{index}]"))
    } else if name.chars().all(|c| c.is_alphanumeric() || c == '_') && !name.is_empty() {
        Some(format!("{parent}.{name}"))
    } else {
        None
    }
}

/// `Name`, `Name(a, b)` or `Name { x: a }`, as Rust's Debug prints variants.
fn format_compound(name: &str, fields: &[(String, String)]) -> String {
    if fields.is_empty() {
        return name.to_owned();
    }
    if fields
        .iter()
        .all(|(field, _)| field.bytes().all(|b| b.is_ascii_digit()))
    {
        let values: Vec<&str> = fields.iter().map(|(_, v)| v.as_str()).collect();
        return format!("{name}({})", values.join(", "));
    }
    let body: Vec<String> = fields.iter().map(|(f, v)| format!("{f}: {v}")).collect();
    format!("{name} {{ {} }}", body.join(", "))
}

/// `[a, b, c]`, with `…` when `total` exceeds the preview.
pub(crate) fn format_list(elements: Vec<(String, String)>, total: u64) -> String {
    let shown = elements.len() as u64;
    let mut parts: Vec<String> = elements.into_iter().map(|(_, text)| text).collect();
    if total > shown {
        parts.push("…".into());
    }
    format!("[{}]", parts.join(", "))
}

pub(crate) fn integer(bytes: &[u8], signed: bool) -> i128 {
    let mut raw = [0u8; 16];
    for (slot, byte) in raw.iter_mut().zip(bytes) {
        *slot = *byte;
    }
    let unsigned = u128::from_le_bytes(raw);
    let bits = (bytes.len().min(16) * 8) as u32;
    if signed && bits > 0 && bits < 128 {
        let shift = 128 - bits;
        ((unsigned << shift) as i128) >> shift
    } else {
        unsigned as i128
    }
}

/// Formats a base-type value from its bytes.
pub(crate) fn format_base(encoding: Encoding, bytes: &[u8]) -> String {
    match encoding {
        Encoding::Bool => match bytes.first() {
            Some(0) => "false".into(),
            Some(1) => "true".into(),
            Some(other) => format!("true ({other})"),
            None => unavailable("empty bool"),
        },
        Encoding::Float => match bytes.len() {
            4 => format!(
                "{}",
                f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
            ),
            8 => {
                let mut raw = [0u8; 8];
                raw.copy_from_slice(bytes);
                format!("{}", f64::from_le_bytes(raw))
            }
            _ => unavailable("unsupported float size"),
        },
        Encoding::Utf => {
            let code = integer(bytes, false) as u32;
            match char::from_u32(code) {
                Some(c) => format!("'{}'", c.escape_debug()),
                None => format!("{code:#x} (invalid char)"),
            }
        }
        Encoding::CChar => {
            let byte = bytes.first().copied().unwrap_or(0);
            format!("{} '{}'", byte as i8, (byte as char).escape_default())
        }
        Encoding::Signed => integer(bytes, true).to_string(),
        Encoding::Unsigned | Encoding::Other => integer(bytes, false).to_string(),
    }
}

/// Reads a NUL-terminated string (at most `MAX_STRING` bytes).
fn read_c_string(memory: &mut dyn Memory, address: u64) -> String {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 64];
    while (bytes.len() as u64) < MAX_STRING {
        let at = address.wrapping_add(bytes.len() as u64);
        if memory.read(at, &mut chunk).is_err() {
            // The string may end near the end of a mapping: go bytewise.
            let mut byte = [0u8; 1];
            if memory.read(at, &mut byte).is_err() || byte[0] == 0 {
                break;
            }
            bytes.push(byte[0]);
            continue;
        }
        match chunk.iter().position(|b| *b == 0) {
            Some(end) => {
                bytes.extend_from_slice(&chunk[..end]);
                break;
            }
            None => bytes.extend_from_slice(&chunk),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Reads a UTF-8 string of `len` bytes at `address` (truncated for display).
pub(crate) fn read_string(
    memory: &mut dyn Memory,
    address: u64,
    len: u64,
) -> Result<String, String> {
    let shown = len.min(MAX_STRING);
    let mut bytes = vec![0u8; shown as usize];
    if shown > 0 {
        memory
            .read(address, &mut bytes)
            .map_err(|e| e.to_string())?;
    }
    let mut text = format!("\"{}\"", escape(&String::from_utf8_lossy(&bytes)));
    if len > shown {
        text.push('…');
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_values_format_like_rust() {
        let check = |encoding: Encoding, bytes: &[u8], expected: &str| {
            assert_eq!(format_base(encoding, bytes), expected);
        };
        check(Encoding::Signed, &(-4i32).to_le_bytes(), "-4");
        check(
            Encoding::Unsigned,
            &u64::MAX.to_le_bytes(),
            "18446744073709551615",
        );
        check(Encoding::Signed, &i8::MIN.to_le_bytes(), "-128");
        check(Encoding::Float, &2.5f64.to_le_bytes(), "2.5");
        check(Encoding::Float, &1.0f32.to_le_bytes(), "1");
        check(Encoding::Bool, &[1], "true");
        check(Encoding::Utf, &('λ' as u32).to_le_bytes(), "'λ'");
        check(
            Encoding::Utf,
            &0xd800u32.to_le_bytes(),
            "0xd800 (invalid char)",
        );
        check(Encoding::CChar, b"A", "65 'A'");
        check(
            Encoding::Float,
            &[1, 2, 3],
            "<unavailable: unsupported float size>",
        );
    }

    #[test]
    fn compound_values_format_like_debug() {
        let pairs = |items: &[(&str, &str)]| -> Vec<(String, String)> {
            items
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(format_compound("None", &[]), "None");
        assert_eq!(format_compound("Some", &pairs(&[("0", "7")])), "Some(7)");
        assert_eq!(
            format_compound("Circle", &pairs(&[("radius", "1.5")])),
            "Circle { radius: 1.5 }"
        );
        assert_eq!(format_list(pairs(&[("[0]", "1")]), 3), "[1, …]");
        assert_eq!(field_display_name("__12"), "12");
        assert_eq!(field_display_name("__x"), "__x");
        assert_eq!(
            child_path(Some("order"), "items").as_deref(),
            Some("order.items")
        );
        assert_eq!(
            child_path(Some("order.items"), "[2]").as_deref(),
            Some("order.items[2]")
        );
        assert_eq!(child_path(Some("raw"), "*").as_deref(), Some("*raw"));
        assert_eq!(child_path(Some("*raw"), "x").as_deref(), Some("(*raw).x"));
        assert_eq!(child_path(Some("map"), "[\"one\"]"), None);
        assert_eq!(child_path(None, "x"), None);
    }
}
