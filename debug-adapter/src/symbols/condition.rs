//! Breakpoint conditions: comparisons of variable paths with literals,
//! joined by `&&` and `||` (`order.id == 42 && name != "bob"`).
//!
//! Operands are variable paths (as in [`super::expr`]) or literals:
//! integers (decimal, `0x` hex, negative), floats, `true`/`false`,
//! `"strings"` and `'c'` chars. A bare path is true when it is a `true`
//! bool or a non-zero number, and `!path` negates that.

use super::DebugInfo;
use super::error::{Result, SymbolError};
use super::rust_std::{self, Special};
use super::target::Memory;
use super::types::{Encoding, TypeKind};
use super::unwind::StackFrame;
use super::values::{Value, integer};
use super::variables::FrameQuery;

/// A comparable value.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Int(i128),
    Float(f64),
    Bool(bool),
    Char(char),
    Str(String),
}

/// Longest string read for a comparison.
const MAX_COMPARED_STRING: u64 = 1 << 16;

const OPERATORS: [&str; 6] = ["==", "!=", "<=", ">=", "<", ">"];

/// Splits `text` at top-level occurrences of `separator` (outside quotes).
fn split_top_level<'a>(text: &'a str, separator: &str) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut start = 0;
    let mut index = 0;
    while index < text.len() {
        let rest = &text[index..];
        let Some(c) = rest.chars().next() else { break };
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '\'' => quote = Some(c),
            None if rest.starts_with(separator) => {
                parts.push(&text[start..index]);
                index += separator.len();
                start = index;
                continue;
            }
            None => {}
        }
        index += c.len_utf8();
    }
    parts.push(&text[start..]);
    parts
}

/// Finds the first top-level comparison operator: (left, operator, right).
fn split_comparison(text: &str) -> Option<(&str, &'static str, &str)> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (index, c) in text.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '\'' => quote = Some(c),
            None => {
                let rest = &text[index..];
                if let Some(operator) = OPERATORS.iter().find(|op| rest.starts_with(**op)) {
                    return Some((&text[..index], operator, &rest[operator.len()..]));
                }
            }
        }
    }
    None
}

fn unquote(text: &str, quote: char) -> Option<String> {
    let inner = text.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                '0' => out.push('\0'),
                other => out.push(other),
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Parses a literal operand, or `None` when it is not one.
fn literal(text: &str) -> Option<Scalar> {
    let text = text.trim();
    match text {
        "true" => return Some(Scalar::Bool(true)),
        "false" => return Some(Scalar::Bool(false)),
        _ => {}
    }
    if text.starts_with('"') {
        return unquote(text, '"').map(Scalar::Str);
    }
    if text.starts_with('\'') {
        let value = unquote(text, '\'')?;
        let mut chars = value.chars();
        return match (chars.next(), chars.next()) {
            (Some(c), None) => Some(Scalar::Char(c)),
            _ => None,
        };
    }
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, text),
    };
    let digits = digits.replace('_', "");
    let magnitude = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i128::from_str_radix(hex, 16).ok()
    } else if digits.bytes().all(|b| b.is_ascii_digit()) && !digits.is_empty() {
        digits.parse::<i128>().ok()
    } else {
        None
    };
    if let Some(magnitude) = magnitude {
        return Some(Scalar::Int(if negative { -magnitude } else { magnitude }));
    }
    let first = digits.chars().next()?;
    if first.is_ascii_digit() || first == '.' {
        let value: f64 = digits.parse().ok()?;
        return Some(Scalar::Float(if negative { -value } else { value }));
    }
    None
}

fn compare(left: &Scalar, operator: &str, right: &Scalar) -> std::result::Result<bool, String> {
    use std::cmp::Ordering;
    let ordering = match (left, right) {
        (Scalar::Int(a), Scalar::Int(b)) => a.cmp(b),
        (Scalar::Float(a), Scalar::Float(b)) => a.partial_cmp(b).ok_or("cannot compare NaN")?,
        (Scalar::Int(a), Scalar::Float(b)) => {
            (*a as f64).partial_cmp(b).ok_or("cannot compare NaN")?
        }
        (Scalar::Float(a), Scalar::Int(b)) => {
            a.partial_cmp(&(*b as f64)).ok_or("cannot compare NaN")?
        }
        (Scalar::Bool(a), Scalar::Bool(b)) => a.cmp(b),
        (Scalar::Char(a), Scalar::Char(b)) => a.cmp(b),
        (Scalar::Str(a), Scalar::Str(b)) => a.cmp(b),
        (a, b) => return Err(format!("cannot compare {a:?} with {b:?}")),
    };
    Ok(match operator {
        "==" => ordering == Ordering::Equal,
        "!=" => ordering != Ordering::Equal,
        "<" => ordering == Ordering::Less,
        "<=" => ordering != Ordering::Greater,
        ">" => ordering == Ordering::Greater,
        ">=" => ordering != Ordering::Less,
        other => return Err(format!("unknown operator `{other}`")),
    })
}

impl DebugInfo {
    /// Evaluates a breakpoint condition in a frame (see
    /// [`DebugInfo::frame_variables`] for `inline_depth`): whether the
    /// breakpoint should stop. Errors (unknown variable, type mismatch)
    /// are returned so the adapter can report them and stop anyway, as
    /// other debuggers do.
    pub fn evaluate_condition(
        &self,
        condition: &str,
        frame: &StackFrame,
        inline_depth: usize,
        memory: &mut dyn Memory,
    ) -> Result<bool> {
        let query = FrameQuery {
            frame,
            inline_depth,
        };
        self.condition(condition, &query, memory)
            .map_err(|reason| SymbolError::Evaluate {
                expression: condition.to_owned(),
                reason,
            })
    }

    fn condition(
        &self,
        text: &str,
        query: &FrameQuery<'_>,
        memory: &mut dyn Memory,
    ) -> std::result::Result<bool, String> {
        if text.len() > 4096 {
            return Err("the condition is too long".into());
        }
        let mut any = false;
        for alternative in split_top_level(text, "||") {
            let mut all = true;
            for term in split_top_level(alternative, "&&") {
                // Every term is evaluated so that errors surface even when
                // an earlier term already decided the result.
                all &= self.term(term.trim(), query, memory)?;
            }
            any |= all;
        }
        Ok(any)
    }

    fn term(
        &self,
        term: &str,
        query: &FrameQuery<'_>,
        memory: &mut dyn Memory,
    ) -> std::result::Result<bool, String> {
        if term.is_empty() {
            return Err("empty condition".into());
        }
        match split_comparison(term) {
            Some((left, operator, right)) => {
                let left = self.operand(left, query, memory)?;
                let right = self.operand(right, query, memory)?;
                compare(&left, operator, &right)
            }
            None => {
                let (negated, path) = match term.strip_prefix('!') {
                    Some(rest) => (true, rest),
                    None => (false, term),
                };
                let truthy = match self.operand(path, query, memory)? {
                    Scalar::Bool(value) => value,
                    Scalar::Int(value) => value != 0,
                    other => return Err(format!("{other:?} is not a truth value")),
                };
                Ok(truthy != negated)
            }
        }
    }

    fn operand(
        &self,
        text: &str,
        query: &FrameQuery<'_>,
        memory: &mut dyn Memory,
    ) -> std::result::Result<Scalar, String> {
        if let Some(value) = literal(text) {
            return Ok(value);
        }
        let value = self.eval_path(text.trim(), query, memory)?;
        self.scalar(&value, memory)
    }

    /// Reads a value as a comparable scalar.
    fn scalar(
        &self,
        value: &Value,
        memory: &mut dyn Memory,
    ) -> std::result::Result<Scalar, String> {
        let special = rust_std::classify(self, value);
        if matches!(special, Special::String | Special::Str) {
            let (address, len, _) = rust_std::sequence(self, &special, value, memory)?;
            if len > MAX_COMPARED_STRING {
                return Err("the string is too long to compare".into());
            }
            let mut bytes = vec![0u8; len as usize];
            memory
                .read(address, &mut bytes)
                .map_err(|e| e.to_string())?;
            return Ok(Scalar::Str(String::from_utf8_lossy(&bytes).into_owned()));
        }
        let bytes = self.read_value(value, memory)?;
        match &value.ty.kind {
            TypeKind::Base(Encoding::Bool) => {
                Ok(Scalar::Bool(bytes.first().is_some_and(|b| *b != 0)))
            }
            TypeKind::Base(Encoding::Float) => match bytes.len() {
                4 => Ok(Scalar::Float(f64::from(f32::from_le_bytes([
                    bytes[0], bytes[1], bytes[2], bytes[3],
                ])))),
                8 => {
                    let mut raw = [0u8; 8];
                    raw.copy_from_slice(&bytes);
                    Ok(Scalar::Float(f64::from_le_bytes(raw)))
                }
                _ => Err("unsupported float size".into()),
            },
            TypeKind::Base(Encoding::Utf) => char::from_u32(integer(&bytes, false) as u32)
                .map(Scalar::Char)
                .ok_or_else(|| "invalid char".into()),
            TypeKind::Base(Encoding::Signed) => Ok(Scalar::Int(integer(&bytes, true))),
            TypeKind::Base(_) | TypeKind::Pointer { .. } => Ok(Scalar::Int(integer(&bytes, false))),
            TypeKind::Enum { signed, .. } => Ok(Scalar::Int(integer(&bytes, *signed))),
            _ => Err(format!(
                "cannot compare a value of type `{}`",
                value.ty.name
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use expect_test::expect;

    use super::*;
    use crate::symbols::testing::Stopped;

    #[test]
    fn literals_parse() {
        let check =
            |text: &str, expected: Option<Scalar>| assert_eq!(literal(text), expected, "{text}");
        check("42", Some(Scalar::Int(42)));
        check("-0x10", Some(Scalar::Int(-16)));
        check("1_000", Some(Scalar::Int(1000)));
        check("2.5", Some(Scalar::Float(2.5)));
        check("true", Some(Scalar::Bool(true)));
        check("\"a \\\"b\\\"\"", Some(Scalar::Str("a \"b\"".into())));
        check("'λ'", Some(Scalar::Char('λ')));
        check("order.id", None);
        check("x1", None);
    }

    #[test]
    fn splitting_respects_quotes() {
        assert_eq!(
            split_top_level("a == \"x||y\" || b", "||"),
            ["a == \"x||y\" ", " b"]
        );
        assert_eq!(
            split_comparison("name != \"a==b\""),
            Some(("name ", "!=", " \"a==b\""))
        );
        assert_eq!(split_comparison("a <= 3"), Some(("a ", "<=", " 3")));
        assert_eq!(split_comparison("flag"), None);
    }

    #[test]
    fn conditions_compare_variables_with_literals() {
        let stopped = Stopped::open("rust_types");
        let mut memory = stopped.memory();
        let trace = stopped.info.unwind(&stopped.core.registers, &mut memory, 4);
        let frame = &trace.frames[0];
        let conditions = [
            "order.id == 42",
            "order.id != 42",
            "depth > 1 && depth <= 2",
            "order.items[1].name == \"pear\"",
            "owned == \"owned\" || text == \"hello\"",
            "ratio >= 2.5",
            "letter == 'λ'",
            "flag",
            "!flag",
            "point.y < 0",
            "order.items.len == 3",
            "missing == 1",
            "text == 3",
            "order",
        ];
        let results: Vec<String> = conditions
            .iter()
            .map(|condition| {
                match stopped
                    .info
                    .evaluate_condition(condition, frame, 0, &mut memory)
                {
                    Ok(value) => format!("{condition}: {value}"),
                    Err(error) => format!("{condition}: error: {error}"),
                }
            })
            .collect();
        expect![[r#"
            order.id == 42: true
            order.id != 42: false
            depth > 1 && depth <= 2: true
            order.items[1].name == "pear": true
            owned == "owned" || text == "hello": true
            ratio >= 2.5: true
            letter == 'λ': true
            flag: true
            !flag: false
            point.y < 0: true
            order.items.len == 3: true
            missing == 1: error: cannot evaluate `missing == 1`: no variable `missing` in scope
            text == 3: error: cannot evaluate `text == 3`: cannot compare Str("hello") with Int(3)
            order: true"#]]
        .assert_eq(&results.join("\n"));
    }
}
