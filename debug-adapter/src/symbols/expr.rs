//! Watch and hover expressions: variable paths such as
//! `order.items[2].price`, `*ptr`, `(*node).next` and `name.len`.
//!
//! Pointers and references are dereferenced automatically before a
//! member access, as in Rust's auto-deref.

use super::DebugInfo;
use super::error::{Result, SymbolError};
use super::rust_std::{self, Special};
use super::target::Memory;
use super::types::TypeKind;
use super::unwind::StackFrame;
use super::values::{Value, Variable};
use super::variables::FrameQuery;

/// A parsed variable path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expr {
    Variable(String),
    Member(Box<Expr>, String),
    Index(Box<Expr>, u64),
    Deref(Box<Expr>),
}

/// Longest expression accepted, and deepest nesting, so hostile input
/// cannot exhaust the stack.
const MAX_LENGTH: usize = 1024;
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    text: &'a str,
    position: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.position..]
    }

    fn skip_spaces(&mut self) {
        let trimmed = self.rest().trim_start();
        self.position = self.text.len() - trimmed.len();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_spaces();
        if self.rest().starts_with(token) {
            self.position += token.len();
            true
        } else {
            false
        }
    }

    fn word(&mut self) -> Option<&'a str> {
        self.skip_spaces();
        let rest = self.rest();
        let len = rest
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map_or(rest.len(), |(index, _)| index);
        if len == 0 {
            return None;
        }
        self.position += len;
        Some(&rest[..len])
    }

    fn unary(&mut self) -> std::result::Result<Expr, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("the expression nests too deeply".into());
        }
        if self.eat("*") {
            return Ok(Expr::Deref(Box::new(self.unary()?)));
        }
        self.postfix()
    }

    fn postfix(&mut self) -> std::result::Result<Expr, String> {
        let mut expr = if self.eat("(") {
            let inner = self.unary()?;
            if !self.eat(")") {
                return Err("expected `)`".into());
            }
            inner
        } else {
            let name = self.word().ok_or("expected a variable name")?;
            if name.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(format!("`{name}` is not a variable name"));
            }
            Expr::Variable(name.to_owned())
        };
        loop {
            if self.eat(".") || self.eat("->") {
                let member = self.word().ok_or("expected a field name after `.`")?;
                expr = Expr::Member(Box::new(expr), member.to_owned());
            } else if self.eat("[") {
                let index = self.word().ok_or("expected an index")?;
                let index: u64 = index
                    .parse()
                    .map_err(|_| format!("`{index}` is not an index"))?;
                if !self.eat("]") {
                    return Err("expected `]`".into());
                }
                expr = Expr::Index(Box::new(expr), index);
            } else {
                return Ok(expr);
            }
        }
    }
}

fn parse(text: &str) -> std::result::Result<Expr, String> {
    if text.len() > MAX_LENGTH {
        return Err("the expression is too long".into());
    }
    let mut parser = Parser {
        text,
        position: 0,
        depth: 0,
    };
    let expr = parser.unary()?;
    parser.skip_spaces();
    if !parser.rest().is_empty() {
        return Err(format!("unexpected `{}`", parser.rest()));
    }
    Ok(expr)
}

impl DebugInfo {
    /// Parses and evaluates a variable path to its value.
    pub(crate) fn eval_path(
        &self,
        text: &str,
        query: &FrameQuery<'_>,
        memory: &mut dyn Memory,
    ) -> std::result::Result<Value, String> {
        let parsed = parse(text)?;
        self.eval(&parsed, query, memory)
    }

    /// Evaluates a variable path in a frame (see
    /// [`DebugInfo::frame_variables`] for `inline_depth`). Returns the value named after the expression.
    pub fn evaluate(
        &self,
        expression: &str,
        frame: &StackFrame,
        inline_depth: usize,
        memory: &mut dyn Memory,
    ) -> Result<Variable> {
        let fail = |reason: String| SymbolError::Evaluate {
            expression: expression.to_owned(),
            reason,
        };
        let parsed = parse(expression).map_err(fail)?;
        let query = FrameQuery {
            frame,
            inline_depth,
        };
        let value = self.eval(&parsed, &query, memory).map_err(fail)?;
        let name = expression.trim().to_owned();
        Ok(self.make_variable(name.clone(), Some(name), value, memory))
    }

    fn eval(
        &self,
        expr: &Expr,
        query: &FrameQuery<'_>,
        memory: &mut dyn Memory,
    ) -> std::result::Result<Value, String> {
        match expr {
            Expr::Variable(name) => {
                let scoped = self
                    .scope_values(query, memory)
                    .map_err(|e| e.to_string())?;
                // The last declaration wins: it shadows earlier ones.
                let found = match scoped.into_iter().rev().find(|scoped| &scoped.name == name) {
                    Some(found) => found.value,
                    None => self
                        .unit_global(name, query, memory)
                        .ok_or_else(|| format!("no variable `{name}` in scope"))?,
                };
                found.map_err(|(_, reason)| format!("`{name}` is unavailable: {reason}"))
            }
            Expr::Deref(inner) => {
                let value = self.eval(inner, query, memory)?;
                self.deref_any(&value, memory)
            }
            Expr::Member(inner, member) => {
                let value = self.eval(inner, query, memory)?;
                self.member(value, member, memory)
            }
            Expr::Index(inner, index) => {
                let value = self.eval(inner, query, memory)?;
                self.index(value, *index, memory)
            }
        }
    }

    /// `*value`: a pointer's target, or a smart pointer's inner value.
    fn deref_any(
        &self,
        value: &Value,
        memory: &mut dyn Memory,
    ) -> std::result::Result<Value, String> {
        let special = rust_std::classify(self, value);
        if let Special::RefCounted { .. } = special
            && let Some(result) = rust_std::synthetic_member(self, &special, value, "value", memory)
        {
            return result;
        }
        self.deref(value, memory)
    }

    fn member(
        &self,
        mut value: Value,
        member: &str,
        memory: &mut dyn Memory,
    ) -> std::result::Result<Value, String> {
        for _ in 0..8 {
            let special = rust_std::classify(self, &value);
            if let Some(result) = rust_std::synthetic_member(self, &special, &value, member, memory)
            {
                return result;
            }
            if let TypeKind::Pointer { .. } = value.ty.kind {
                value = self.deref(&value, memory)?;
                continue;
            }
            let wanted = format!("__{member}");
            if let Some(field) = value
                .ty
                .field(member)
                .or_else(|| value.ty.field(&wanted))
                .cloned()
            {
                return Ok(self.field_value(&value, &field));
            }
            if let Some(variant) = self.active_variant(&value, memory)? {
                let payload = self.field_value(&value, &variant.field);
                if let Some(field) = payload
                    .ty
                    .field(member)
                    .or_else(|| payload.ty.field(&wanted))
                    .cloned()
                {
                    return Ok(self.field_value(&payload, &field));
                }
                return Err(format!(
                    "the active variant `{}` of `{}` has no field `{member}`",
                    variant.field.name, value.ty.name
                ));
            }
            break;
        }
        Err(format!("`{}` has no field `{member}`", value.ty.name))
    }

    fn index(
        &self,
        value: Value,
        index: u64,
        memory: &mut dyn Memory,
    ) -> std::result::Result<Value, String> {
        if let TypeKind::Pointer {
            pointee,
            reference: false,
        } = &value.ty.kind
            && rust_std::classify(self, &value) == Special::None
        {
            let element = self.type_of(*pointee);
            let address = self.read_unsigned(&value, memory)?;
            return Ok(self.element(&element, address, index));
        }
        let mut children = self.child_values(&value, memory, index, 1)?;
        let wanted = format!("[{index}]");
        match children.pop() {
            Some((name, child)) if name == wanted => Ok(child),
            _ => Err(format!(
                "index {index} is out of bounds for `{}`",
                value.ty.name
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_variable_paths() {
        let check = |text: &str, expected: &str| {
            let actual = match parse(text) {
                Ok(expr) => format!("{expr:?}"),
                Err(error) => format!("error: {error}"),
            };
            assert_eq!(actual, expected, "{text}");
        };
        check("order", r#"Variable("order")"#);
        check(
            "order.items[2].price",
            r#"Member(Index(Member(Variable("order"), "items"), 2), "price")"#,
        );
        check("*ptr", r#"Deref(Variable("ptr"))"#);
        check("(*node).next", r#"Member(Deref(Variable("node")), "next")"#);
        check("pair.0", r#"Member(Variable("pair"), "0")"#);
        check("p->x", r#"Member(Variable("p"), "x")"#);
        check("a[", "error: expected an index");
        check("a[x]", "error: `x` is not an index");
        check("1abc", "error: `1abc` is not a variable name");
        check("a b", "error: unexpected `b`");
        check("", "error: expected a variable name");
        check(&"*".repeat(100), "error: the expression nests too deeply");
    }
}
