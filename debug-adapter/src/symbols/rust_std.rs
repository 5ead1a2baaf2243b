//! Readable Rust standard-library types: String, &str, slices, Vec, Box,
//! Rc/Arc and HashMap/HashSet, recognised by their DWARF type names.
//!
//! Field paths follow Rust 1.95's std (hashbrown's `RawTable` for maps);
//! where a path could drift between versions we descend through wrapper
//! structs (`Unique`, `NonNull`, `Cell`, `UnsafeCell`, `Cap`) generically
//! rather than naming every level.

use std::sync::Arc;

use super::DebugInfo;
use super::location::Place;
use super::target::Memory;
use super::types::{Encoding, TypeInfo, TypeKind};
use super::values::{Value, format_list, read_string};

/// Most hash-table buckets scanned (larger tables show the first entries).
const MAX_BUCKETS: u64 = 1 << 20;
/// Entries shown in a one-line map preview.
const PREVIEW_ENTRIES: u64 = 4;

/// A standard-library type with a custom rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Special {
    None,
    String,
    Str,
    Slice,
    Vec,
    Box,
    RefCounted { atomic: bool },
    HashMap,
    HashSet,
}

impl Special {
    /// Whether children are elements (paged by index).
    pub(crate) fn indexed(&self) -> bool {
        matches!(
            self,
            Special::Slice | Special::Vec | Special::HashMap | Special::HashSet
        )
    }

    /// Whether the value has named children regardless of its length.
    pub(crate) fn has_named_children(&self) -> bool {
        matches!(self, Special::Box | Special::RefCounted { .. })
    }
}

/// Recognises a standard-library type by name and shape.
pub(crate) fn classify(_info: &DebugInfo, value: &Value) -> Special {
    let name = value.ty.name.as_str();
    let is_struct = matches!(value.ty.kind, TypeKind::Struct { .. });
    let is_pointer = matches!(value.ty.kind, TypeKind::Pointer { .. });
    if is_struct && name == "alloc::string::String" {
        Special::String
    } else if is_struct
        && (name == "&str" || name == "&mut str" || name == "*const str" || name == "*mut str")
    {
        Special::Str
    } else if is_struct
        && (name.starts_with("&[") || name.starts_with("&mut ["))
        && value.ty.field("data_ptr").is_some()
    {
        Special::Slice
    } else if is_struct && name.starts_with("alloc::vec::Vec<") {
        Special::Vec
    } else if is_pointer && name.starts_with("alloc::boxed::Box<") {
        Special::Box
    } else if is_struct && name.starts_with("alloc::rc::Rc<") {
        Special::RefCounted { atomic: false }
    } else if is_struct && name.starts_with("alloc::sync::Arc<") {
        Special::RefCounted { atomic: true }
    } else if is_struct && name.starts_with("std::collections::hash::map::HashMap<") {
        Special::HashMap
    } else if is_struct && name.starts_with("std::collections::hash::set::HashSet<") {
        Special::HashSet
    } else {
        Special::None
    }
}

/// Descends through single-purpose wrapper structs to the first pointer,
/// returning the pointer value.
fn pointer_leaf(info: &DebugInfo, value: &Value) -> Result<Value, String> {
    let mut current = value.clone();
    for _ in 0..8 {
        match &current.ty.kind {
            TypeKind::Pointer { .. } => return Ok(current),
            TypeKind::Struct { fields, .. } => {
                let field = fields
                    .iter()
                    .find(|field| {
                        let ty = info.type_of(field.ty);
                        ty.size != Some(0)
                    })
                    .ok_or_else(|| format!("no pointer inside `{}`", current.ty.name))?
                    .clone();
                current = info.field_value(&current, &field);
            }
            _ => break,
        }
    }
    Err(format!("no pointer inside `{}`", value.ty.name))
}

/// Descends through wrapper structs to the first integer and reads it.
fn integer_leaf(info: &DebugInfo, value: &Value, memory: &mut dyn Memory) -> Result<u64, String> {
    let mut current = value.clone();
    for _ in 0..8 {
        match &current.ty.kind {
            TypeKind::Base(_) => return info.read_unsigned(&current, memory),
            TypeKind::Struct { fields, .. } => {
                let field = fields
                    .iter()
                    .find(|field| info.type_of(field.ty).size != Some(0))
                    .ok_or_else(|| format!("no integer inside `{}`", current.ty.name))?
                    .clone();
                current = info.field_value(&current, &field);
            }
            _ => break,
        }
    }
    Err(format!("no integer inside `{}`", value.ty.name))
}

fn field(info: &DebugInfo, value: &Value, name: &str) -> Result<Value, String> {
    info.named_field(value, name).ok_or_else(|| {
        format!(
            "`{}` has no field `{name}` (unexpected standard-library layout)",
            value.ty.name
        )
    })
}

/// A pointer's address and pointee type.
fn pointer_target(
    info: &DebugInfo,
    pointer: &Value,
    memory: &mut dyn Memory,
) -> Result<(u64, Arc<TypeInfo>), String> {
    let TypeKind::Pointer { pointee, .. } = &pointer.ty.kind else {
        return Err("not a pointer".into());
    };
    Ok((info.read_unsigned(pointer, memory)?, info.type_of(*pointee)))
}

/// Data pointer, length and element type of a String, &str, slice or Vec.
pub(crate) fn sequence(
    info: &DebugInfo,
    special: &Special,
    value: &Value,
    memory: &mut dyn Memory,
) -> Result<(u64, u64, Arc<TypeInfo>), String> {
    match special {
        Special::Str | Special::Slice => {
            let (address, element) =
                pointer_target(info, &field(info, value, "data_ptr")?, memory)?;
            let length = info.read_unsigned(&field(info, value, "length")?, memory)?;
            Ok((address, length, element))
        }
        Special::String => {
            let vec = field(info, value, "vec")?;
            let (address, length, _) = sequence(info, &Special::Vec, &vec, memory)?;
            Ok((address, length, TypeInfo::base("u8", 1, Encoding::Unsigned)))
        }
        Special::Vec => {
            let element = info.type_of(value.ty.template_type("T"));
            let buffer = pointer_leaf(info, &field(info, value, "buf")?)?;
            let address = info.read_unsigned(&buffer, memory)?;
            let length = info.read_unsigned(&field(info, value, "len")?, memory)?;
            Ok((address, length, element))
        }
        _ => Err("not a sequence".into()),
    }
}

/// The capacity of a Vec or String.
pub(crate) fn capacity(
    info: &DebugInfo,
    special: &Special,
    value: &Value,
    memory: &mut dyn Memory,
) -> Result<u64, String> {
    let vec = match special {
        Special::String => field(info, value, "vec")?,
        Special::Vec => value.clone(),
        _ => return Err(format!("`{}` has no capacity", value.ty.name)),
    };
    let inner = field(info, &field(info, &vec, "buf")?, "inner")?;
    integer_leaf(info, &field(info, &inner, "cap")?, memory)
}

/// Layout of a hashbrown table: where buckets and control bytes are.
struct Table {
    ctrl: u64,
    buckets: u64,
    items: u64,
    element: Arc<TypeInfo>,
}

fn hash_table(
    info: &DebugInfo,
    special: &Special,
    value: &Value,
    memory: &mut dyn Memory,
) -> Result<Table, String> {
    let base = field(info, value, "base")?;
    // HashSet wraps a hashbrown HashSet, which wraps a HashMap<T, ()>.
    let map = if *special == Special::HashSet {
        field(info, &base, "map")?
    } else {
        base
    };
    let raw_table = field(info, &map, "table")?;
    let element = info.type_of(raw_table.ty.template_type("T"));
    let inner = field(info, &raw_table, "table")?;
    let bucket_mask = integer_leaf(info, &field(info, &inner, "bucket_mask")?, memory)?;
    let items = integer_leaf(info, &field(info, &inner, "items")?, memory)?;
    let ctrl = info.read_unsigned(&pointer_leaf(info, &field(info, &inner, "ctrl")?)?, memory)?;
    Ok(Table {
        ctrl,
        buckets: bucket_mask.saturating_add(1),
        items,
        element,
    })
}

/// The full buckets of a table, in bucket order, from entry `start` on.
fn table_entries(
    table: &Table,
    memory: &mut dyn Memory,
    start: u64,
    count: u64,
) -> Result<Vec<u64>, String> {
    if table.items == 0 {
        return Ok(Vec::new());
    }
    let stride = table.element.size.unwrap_or(0);
    let buckets = table.buckets.min(MAX_BUCKETS);
    let mut ctrl = vec![0u8; buckets as usize];
    memory
        .read(table.ctrl, &mut ctrl)
        .map_err(|e| e.to_string())?;
    let mut entries = Vec::new();
    let mut seen = 0u64;
    for (index, byte) in ctrl.iter().enumerate() {
        // A control byte with the top bit clear marks a full bucket;
        // buckets are laid out backwards from the control bytes.
        if byte & 0x80 != 0 {
            continue;
        }
        if seen >= start {
            let offset = stride.saturating_mul(index as u64 + 1);
            entries.push(table.ctrl.wrapping_sub(offset));
            if entries.len() as u64 >= count {
                break;
            }
        }
        seen += 1;
    }
    Ok(entries)
}

/// Number of elements (or entries) of a special value.
pub(crate) fn element_count(
    info: &DebugInfo,
    special: &Special,
    value: &Value,
    memory: &mut dyn Memory,
) -> Option<u64> {
    match special {
        Special::Str | Special::String | Special::Slice | Special::Vec => {
            sequence(info, special, value, memory)
                .ok()
                .map(|(_, len, _)| len)
        }
        Special::HashMap | Special::HashSet => hash_table(info, special, value, memory)
            .ok()
            .map(|t| t.items),
        _ => None,
    }
}

/// The reference-counted box of an Rc/Arc: (address, inner type).
fn rc_inner(info: &DebugInfo, value: &Value, memory: &mut dyn Memory) -> Result<Value, String> {
    let pointer = pointer_leaf(info, &field(info, value, "ptr")?)?;
    info.deref(&pointer, memory)
}

fn rc_parts(
    info: &DebugInfo,
    atomic: bool,
    value: &Value,
    memory: &mut dyn Memory,
) -> Result<(u64, u64, Value), String> {
    let inner = rc_inner(info, value, memory)?;
    let strong = integer_leaf(info, &field(info, &inner, "strong")?, memory)?;
    let weak = integer_leaf(info, &field(info, &inner, "weak")?, memory)?;
    let data = field(info, &inner, if atomic { "data" } else { "value" })?;
    Ok((strong, weak, data))
}

fn usize_value(value: u64) -> Value {
    Value {
        ty: TypeInfo::base("usize", 8, Encoding::Unsigned),
        place: Place::Value(value.to_le_bytes().to_vec()),
    }
}

/// Computed members that the expression evaluator accepts (`v.len`).
pub(crate) fn synthetic_member(
    info: &DebugInfo,
    special: &Special,
    value: &Value,
    name: &str,
    memory: &mut dyn Memory,
) -> Option<Result<Value, String>> {
    match (special, name) {
        (Special::String | Special::Str | Special::Slice | Special::Vec, "len") => {
            Some(sequence(info, special, value, memory).map(|(_, len, _)| usize_value(len)))
        }
        (Special::String | Special::Vec, "capacity") => {
            Some(capacity(info, special, value, memory).map(usize_value))
        }
        (Special::HashMap | Special::HashSet, "len") => {
            Some(hash_table(info, special, value, memory).map(|t| usize_value(t.items)))
        }
        (Special::RefCounted { atomic }, "strong" | "weak" | "value") => Some(
            rc_parts(info, *atomic, value, memory).map(|(strong, weak, data)| match name {
                "strong" => usize_value(strong),
                "weak" => usize_value(weak.saturating_sub(1)),
                _ => data,
            }),
        ),
        _ => None,
    }
}

/// One-line rendering of a special value.
pub(crate) fn summary(
    info: &DebugInfo,
    special: &Special,
    value: &Value,
    memory: &mut dyn Memory,
    depth: usize,
) -> Result<String, String> {
    match special {
        Special::None => Err("not a standard-library type".into()),
        Special::String | Special::Str => {
            let (address, len, _) = sequence(info, special, value, memory)?;
            read_string(memory, address, len)
        }
        Special::Slice | Special::Vec => {
            let (len, elements) = {
                let children = children(info, special, value, memory, 0, 8)?;
                let (_, len, _) = sequence(info, special, value, memory)?;
                (len, info.previews(children, memory, depth))
            };
            Ok(format!("len={len} {}", format_list(elements, len)))
        }
        Special::Box => {
            let target = info.deref(value, memory)?;
            Ok(info.summary(&target, memory, depth + 1))
        }
        Special::RefCounted { atomic } => {
            let (strong, weak, data) = rc_parts(info, *atomic, value, memory)?;
            // The implicit weak reference held by the strong ones is not
            // counted, matching `Rc::weak_count`.
            let text = info.summary(&data, memory, depth + 1);
            Ok(format!(
                "strong={strong}, weak={} {text}",
                weak.saturating_sub(1)
            ))
        }
        Special::HashMap | Special::HashSet => {
            let table = hash_table(info, special, value, memory)?;
            let entries = children(info, special, value, memory, 0, PREVIEW_ENTRIES)?;
            let shown = entries.len() as u64;
            let mut parts: Vec<String> = entries
                .into_iter()
                .map(|(name, child)| {
                    let text = info.summary(&child, memory, depth + 1);
                    if *special == Special::HashMap {
                        format!(
                            "{}: {text}",
                            name.trim_start_matches('[').trim_end_matches(']')
                        )
                    } else {
                        text
                    }
                })
                .collect();
            if table.items > shown {
                parts.push("…".into());
            }
            Ok(format!("len={} {{{}}}", table.items, parts.join(", ")))
        }
    }
}

/// Children of a special value.
pub(crate) fn children(
    info: &DebugInfo,
    special: &Special,
    value: &Value,
    memory: &mut dyn Memory,
    start: u64,
    count: u64,
) -> Result<Vec<(String, Value)>, String> {
    match special {
        Special::None | Special::String | Special::Str => Ok(Vec::new()),
        Special::Slice | Special::Vec => {
            let (address, len, element) = sequence(info, special, value, memory)?;
            let end = len.min(start.saturating_add(count));
            Ok((start..end)
                .map(|index| (format!("[{index}]"), info.element(&element, address, index)))
                .collect())
        }
        Special::Box => {
            let target = info.deref(value, memory)?;
            let nested = info.child_values(&target, memory, start, count)?;
            if nested.is_empty() {
                Ok(vec![("*".to_owned(), target)])
            } else {
                Ok(nested)
            }
        }
        Special::RefCounted { atomic } => {
            let (strong, weak, data) = rc_parts(info, *atomic, value, memory)?;
            Ok(vec![
                ("value".to_owned(), data),
                ("strong".to_owned(), usize_value(strong)),
                ("weak".to_owned(), usize_value(weak.saturating_sub(1))),
            ])
        }
        Special::HashMap | Special::HashSet => {
            let table = hash_table(info, special, value, memory)?;
            let entries = table_entries(&table, memory, start, count)?;
            let mut children = Vec::new();
            for address in entries {
                let entry = Value {
                    ty: table.element.clone(),
                    place: Place::Memory(address),
                };
                let key = field(info, &entry, "__0")?;
                if *special == Special::HashSet {
                    children.push((format!("[{}]", children.len() as u64 + start), key));
                } else {
                    let key_text = info.summary(&key, memory, 2);
                    children.push((format!("[{key_text}]"), field(info, &entry, "__1")?));
                }
            }
            Ok(children)
        }
    }
}
