//! Conversions from the symbols core's types to DAP shapes.

use std::path::Path;

use serde_json::{Value, json};

use crate::symbols::{FunctionFrame, Variable};

/// A `Source` for a path.
pub fn source(path: &str) -> Value {
    json!({
        "name": Path::new(path).file_name().map(|name| name.to_string_lossy().into_owned()),
        "path": path,
    })
}

/// A memory reference for an address.
pub fn memory_reference(address: u64) -> String {
    format!("{address:#x}")
}

/// Parses a memory reference (`0x…` hex, or decimal).
pub fn parse_memory_reference(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// A DAP stack frame for one function level at `pc`.
pub fn stack_frame(id: i64, level: Option<&FunctionFrame>, pc: u64, source_exists: bool) -> Value {
    let name = level
        .and_then(|level| level.function.clone())
        .map(|name| shorten_function(&name))
        .unwrap_or_else(|| format!("{pc:#x}"));
    let location = level.and_then(|level| level.location.as_ref());
    match location {
        Some(location) if location.line != 0 => json!({
            "id": id,
            "name": name,
            "source": source(&location.path),
            "line": location.line,
            "column": location.column.max(1),
            "instructionPointerReference": memory_reference(pc),
            "presentationHint": if source_exists { "normal" } else { "subtle" },
        }),
        _ => json!({
            "id": id,
            "name": name,
            "line": 0,
            "column": 0,
            "instructionPointerReference": memory_reference(pc),
            "presentationHint": "subtle",
        }),
    }
}

/// Drops the hash suffix rustc's legacy mangling leaves (`::h0123…`).
pub fn shorten_function(name: &str) -> String {
    match name.rsplit_once("::h") {
        Some((base, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            base.to_owned()
        }
        _ => name.to_owned(),
    }
}

/// A DAP variable; `reference` is its variables reference (0 when it has
/// no children).
pub fn variable(variable: &Variable, reference: i64) -> Value {
    json!({
        "name": variable.name,
        "value": variable.value,
        "type": (!variable.type_name.is_empty()).then_some(&variable.type_name),
        "variablesReference": reference,
        "indexedVariables": variable.indexed_children,
        "evaluateName": variable.evaluate_name,
        "memoryReference": variable.address.map(memory_reference),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_references_round_trip() {
        assert_eq!(
            parse_memory_reference(&memory_reference(0x7fff_1234)),
            Some(0x7fff_1234)
        );
        assert_eq!(parse_memory_reference("4096"), Some(4096));
        assert_eq!(parse_memory_reference("0xzz"), None);
    }

    #[test]
    fn function_names_lose_their_hash() {
        assert_eq!(
            shorten_function("hello_api::hello::h0123456789abcdef"),
            "hello_api::hello"
        );
        assert_eq!(shorten_function("hello_api::hello"), "hello_api::hello");
        assert_eq!(shorten_function("a::hx"), "a::hx");
    }
}
