//! What the user asked to stop at: source and function breakpoints with
//! their conditions, hit conditions and log messages, and the exception
//! filters. Pure bookkeeping: resolution against a program's symbols and
//! installation in targets happen in the session.

use std::collections::BTreeMap;

/// The exception filter that stops on Rust panics.
pub const RUST_PANIC_FILTER: &str = "rust_panic";

/// The function the panic filter breaks in: every panic passes through it
/// after the panic hook printed the message.
pub const RUST_PANIC_FUNCTION: &str = "rust_panic";

/// When a breakpoint stops, beyond being reached.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StopOptions {
    /// An expression that must hold (`order.total > 100`).
    pub condition: Option<String>,
    /// Which hits stop.
    pub hit_condition: Option<HitCondition>,
    /// A logpoint's message, with `{expression}` parts; logpoints never
    /// stop.
    pub log_message: Option<String>,
    /// How often the breakpoint was reached with its condition holding.
    pub hits: u64,
}

/// A source breakpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineSpec {
    /// Its DAP id.
    pub id: i64,
    /// The line the user asked for.
    pub line: u32,
    /// Conditions and log message.
    pub options: StopOptions,
}

/// A function breakpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    /// Its DAP id.
    pub id: i64,
    /// The function name.
    pub name: String,
    /// Conditions and log message.
    pub options: StopOptions,
}

/// Every breakpoint of the session.
#[derive(Debug, Default)]
pub struct Breakpoints {
    next_id: i64,
    /// Source breakpoints by the path the client gave.
    pub sources: BTreeMap<String, Vec<LineSpec>>,
    /// Function breakpoints.
    pub functions: Vec<FunctionSpec>,
    /// Whether the "Rust panic" filter is on.
    pub panic: bool,
}

/// A breakpoint found by id.
#[derive(Debug, Clone, Copy)]
pub enum Found<'a> {
    /// A source breakpoint in `path`.
    Line(&'a str, &'a LineSpec),
    /// A function breakpoint.
    Function(&'a FunctionSpec),
}

impl Breakpoints {
    fn allocate(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// Replaces the breakpoints of one source. Breakpoints on a line that
    /// already had one keep their id and hit count.
    pub fn set_source(&mut self, path: &str, requested: Vec<(u32, StopOptions)>) -> Vec<LineSpec> {
        let previous = self.sources.remove(path).unwrap_or_default();
        let mut specs = Vec::with_capacity(requested.len());
        for (line, mut options) in requested {
            let id = match previous.iter().find(|old| old.line == line) {
                Some(old) => {
                    if old.options.condition == options.condition
                        && old.options.hit_condition == options.hit_condition
                    {
                        options.hits = old.options.hits;
                    }
                    old.id
                }
                None => self.allocate(),
            };
            specs.push(LineSpec { id, line, options });
        }
        if !specs.is_empty() {
            self.sources.insert(path.to_owned(), specs.clone());
        }
        specs
    }

    /// Replaces the function breakpoints.
    pub fn set_functions(&mut self, requested: Vec<(String, StopOptions)>) -> Vec<FunctionSpec> {
        let previous = std::mem::take(&mut self.functions);
        let mut specs = Vec::with_capacity(requested.len());
        for (name, mut options) in requested {
            let id = match previous.iter().find(|old| old.name == name) {
                Some(old) => {
                    options.hits = old.options.hits;
                    old.id
                }
                None => self.allocate(),
            };
            specs.push(FunctionSpec { id, name, options });
        }
        self.functions = specs.clone();
        specs
    }

    /// Finds a breakpoint by id.
    pub fn find(&self, id: i64) -> Option<Found<'_>> {
        for (path, specs) in &self.sources {
            if let Some(spec) = specs.iter().find(|spec| spec.id == id) {
                return Some(Found::Line(path, spec));
            }
        }
        self.functions
            .iter()
            .find(|spec| spec.id == id)
            .map(Found::Function)
    }

    /// The stop options of a breakpoint, to count a hit.
    pub fn options_mut(&mut self, id: i64) -> Option<&mut StopOptions> {
        for specs in self.sources.values_mut() {
            if let Some(spec) = specs.iter_mut().find(|spec| spec.id == id) {
                return Some(&mut spec.options);
            }
        }
        self.functions
            .iter_mut()
            .find(|spec| spec.id == id)
            .map(|spec| &mut spec.options)
    }

    /// Every breakpoint id, source breakpoints first.
    pub fn ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .sources
            .values()
            .flat_map(|specs| specs.iter().map(|spec| spec.id))
            .collect();
        ids.extend(self.functions.iter().map(|spec| spec.id));
        ids
    }
}

/// Which hits of a breakpoint stop: `N` or `>= N` (the Nth hit and later,
/// as lldb's ignore count), `> N`, `== N`, `< N`, `<= N`, `% N` (every Nth).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HitCondition {
    /// Hit count at least N.
    AtLeast(u64),
    /// Hit count above N.
    Above(u64),
    /// Exactly the Nth hit.
    Exactly(u64),
    /// Hit count below N.
    Below(u64),
    /// Hit count at most N.
    AtMost(u64),
    /// Every Nth hit.
    Every(u64),
}

impl HitCondition {
    /// Parses a hit condition as the user typed it.
    pub fn parse(text: &str) -> Result<HitCondition, String> {
        let text = text.trim();
        let split = text.find(|c: char| c.is_ascii_digit()).ok_or_else(|| {
            format!("the hit condition {text:?} has no number; write e.g. `3`, `>= 3` or `% 2`")
        })?;
        let (operator, number) = text.split_at(split);
        let count: u64 = number.trim().parse().map_err(|_| {
            format!("the hit condition {text:?} is not an operator followed by a whole number")
        })?;
        Ok(match operator.trim() {
            "" | ">=" => HitCondition::AtLeast(count),
            ">" => HitCondition::Above(count),
            "=" | "==" | "===" => HitCondition::Exactly(count),
            "<" => HitCondition::Below(count),
            "<=" => HitCondition::AtMost(count),
            "%" if count > 0 => HitCondition::Every(count),
            "%" => return Err("the hit condition `% 0` never holds; use `% 1` or more".to_owned()),
            other => {
                return Err(format!(
                    "the hit condition {text:?} has the unknown operator {other:?}; use >, >=, ==, <, <= or %"
                ));
            }
        })
    }

    /// Whether the `hits`th hit stops.
    pub fn holds(self, hits: u64) -> bool {
        match self {
            HitCondition::AtLeast(n) => hits >= n,
            HitCondition::Above(n) => hits > n,
            HitCondition::Exactly(n) => hits == n,
            HitCondition::Below(n) => hits < n,
            HitCondition::AtMost(n) => hits <= n,
            HitCondition::Every(n) => n > 0 && hits.is_multiple_of(n),
        }
    }
}

/// A part of a log message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogPart {
    /// Text printed as is.
    Text(String),
    /// An expression whose value is printed.
    Expression(String),
}

/// Splits a log message into text and `{expression}` parts; `{{` and `}}`
/// are literal braces, and an unclosed `{` is text.
pub fn parse_log_message(message: &str) -> Vec<LogPart> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = message.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let mut expression = String::new();
                let mut closed = false;
                for inner in chars.by_ref() {
                    if inner == '}' {
                        closed = true;
                        break;
                    }
                    expression.push(inner);
                }
                if closed && !expression.trim().is_empty() {
                    if !text.is_empty() {
                        parts.push(LogPart::Text(std::mem::take(&mut text)));
                    }
                    parts.push(LogPart::Expression(expression.trim().to_owned()));
                } else {
                    text.push('{');
                    text.push_str(&expression);
                    if closed {
                        text.push('}');
                    }
                }
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        parts.push(LogPart::Text(text));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    fn check_hit(text: &str, expected: Expect) {
        let rendered = match HitCondition::parse(text) {
            Ok(condition) => {
                let stops: Vec<u64> = (1..=7).filter(|hits| condition.holds(*hits)).collect();
                format!("{condition:?} stops at {stops:?}")
            }
            Err(error) => format!("error: {error}"),
        };
        expected.assert_eq(&rendered);
    }

    #[test]
    fn hit_conditions() {
        check_hit("3", expect!["AtLeast(3) stops at [3, 4, 5, 6, 7]"]);
        check_hit(">= 3", expect!["AtLeast(3) stops at [3, 4, 5, 6, 7]"]);
        check_hit("> 5", expect!["Above(5) stops at [6, 7]"]);
        check_hit("==2", expect!["Exactly(2) stops at [2]"]);
        check_hit(" < 3 ", expect!["Below(3) stops at [1, 2]"]);
        check_hit("<=1", expect!["AtMost(1) stops at [1]"]);
        check_hit("% 3", expect!["Every(3) stops at [3, 6]"]);
        check_hit(
            "% 0",
            expect!["error: the hit condition `% 0` never holds; use `% 1` or more"],
        );
        check_hit(
            "!= 3",
            expect![[
                r#"error: the hit condition "!= 3" has the unknown operator "!="; use >, >=, ==, <, <= or %"#
            ]],
        );
        check_hit(
            "often",
            expect![[
                r#"error: the hit condition "often" has no number; write e.g. `3`, `>= 3` or `% 2`"#
            ]],
        );
        check_hit(
            "3x",
            expect![[
                r#"error: the hit condition "3x" is not an operator followed by a whole number"#
            ]],
        );
    }

    fn check_log(message: &str, expected: Expect) {
        expected.assert_eq(&format!("{:?}", parse_log_message(message)));
    }

    #[test]
    fn log_messages() {
        check_log(
            "total is {order.total} for {order.id}",
            expect![[
                r#"[Text("total is "), Expression("order.total"), Text(" for "), Expression("order.id")]"#
            ]],
        );
        check_log(
            "{{literal}} {x}",
            expect![[r#"[Text("{literal} "), Expression("x")]"#]],
        );
        check_log("open { brace", expect![[r#"[Text("open { brace")]"#]]);
        check_log("empty {} ok", expect![[r#"[Text("empty {} ok")]"#]]);
        check_log("", expect!["[]"]);
    }

    #[test]
    fn ids_and_hit_counts_survive_resetting_a_source() {
        let mut breakpoints = Breakpoints::default();
        let first = breakpoints.set_source(
            "/src/main.rs",
            vec![(10, StopOptions::default()), (20, StopOptions::default())],
        );
        if let Some(options) = breakpoints.options_mut(first[0].id) {
            options.hits = 4;
        }
        let second = breakpoints.set_source(
            "/src/main.rs",
            vec![(10, StopOptions::default()), (30, StopOptions::default())],
        );
        assert_eq!(second[0].id, first[0].id);
        assert_eq!(second[0].options.hits, 4);
        assert_ne!(second[1].id, first[1].id);
        assert!(breakpoints.find(first[1].id).is_none());
        assert!(
            matches!(breakpoints.find(second[1].id), Some(Found::Line("/src/main.rs", spec)) if spec.line == 30)
        );
        breakpoints.set_source("/src/main.rs", Vec::new());
        assert!(breakpoints.sources.is_empty());
        let functions =
            breakpoints.set_functions(vec![("hello".to_owned(), StopOptions::default())]);
        assert_eq!(breakpoints.ids(), vec![functions[0].id]);
    }
}
