//! Template text to a tree of [`Node`]s with source positions.
//!
//! We read saphyr-parser's event stream and build our own small tree rather
//! than use a generic YAML value type, because the loader needs three things
//! generic trees lose: the line and column of every key and value (for
//! diagnostics), CloudFormation's short-form tags (`!Ref X` becomes the
//! long form `{Ref: X}` here, so nothing downstream sees tags), and hard
//! limits against hostile input. Aliases are expanded by copying, against a
//! total node budget, so a "billion laughs" document fails fast instead of
//! exhausting memory; nesting is capped so later recursive passes cannot
//! overflow the stack.

use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use super::diagnostic::Pos;

/// Deepest nesting of maps and lists accepted. Real templates stay far below
/// this (an inline OpenAPI body is perhaps 15 levels); the limit bounds the
/// recursion of every later pass over the tree.
pub(crate) const MAX_DEPTH: usize = 100;

/// Most nodes a template may expand to, aliases included.
pub(crate) const MAX_NODES: usize = 1_000_000;

/// A YAML value with the position it starts at.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub value: Value,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// `null`, `~` or an empty value.
    Null,
    /// Any scalar, untyped: CloudFormation compares and passes scalars as
    /// strings, and each property parses the number or boolean it expects.
    Scalar(String),
    Seq(Vec<Node>),
    Map(Map),
    /// A value whose resolution failed; the failure was already reported,
    /// so whoever reads this node stays silent about it.
    Invalid,
}

/// A mapping, in source order, with unique keys.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Map {
    pub entries: Vec<(Key, Node)>,
}

/// A mapping key with its position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Key {
    pub name: String,
    pub pos: Pos,
}

impl Map {
    pub fn get(&self, name: &str) -> Option<&Node> {
        self.entries
            .iter()
            .find(|(key, _)| key.name == name)
            .map(|(_, node)| node)
    }

    pub fn get_entry(&self, name: &str) -> Option<(&Key, &Node)> {
        self.entries
            .iter()
            .find(|(key, _)| key.name == name)
            .map(|(key, node)| (key, node))
    }

    /// The single `(name, argument)` pair when this map has exactly one key.
    pub fn single(&self) -> Option<(&Key, &Node)> {
        match self.entries.as_slice() {
            [(key, node)] => Some((key, node)),
            _ => None,
        }
    }
}

impl Node {
    pub fn new(value: Value, pos: Pos) -> Node {
        Node { value, pos }
    }

    pub fn scalar(text: impl Into<String>, pos: Pos) -> Node {
        Node::new(Value::Scalar(text.into()), pos)
    }

    pub fn as_map(&self) -> Option<&Map> {
        match &self.value {
            Value::Map(map) => Some(map),
            _ => None,
        }
    }

    pub fn as_scalar(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(text) => Some(text),
            _ => None,
        }
    }

    /// A short name for the kind of value, for "expected X, found Y" messages.
    pub fn kind_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Scalar(_) => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
            Value::Invalid => "an invalid value",
        }
    }

    /// Number of nodes in this subtree, for the alias budget.
    fn size(&self) -> usize {
        match &self.value {
            Value::Seq(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            Value::Map(map) => 1 + map.entries.iter().map(|(_, n)| n.size()).sum::<usize>(),
            _ => 1,
        }
    }
}

/// Why the text is not a usable YAML document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct YamlError {
    pub pos: Option<Pos>,
    pub message: String,
}

/// The intrinsic functions CloudFormation accepts in short form, by tag.
/// `!Ref` and `!Condition` map to keys without the `Fn::` prefix.
const SHORT_FORM_FUNCTIONS: &[&str] = &[
    "Base64",
    "Cidr",
    "And",
    "Equals",
    "If",
    "Not",
    "Or",
    "FindInMap",
    "ForEach",
    "GetAtt",
    "GetAZs",
    "ImportValue",
    "Join",
    "Length",
    "Select",
    "Split",
    "Sub",
    "ToJsonString",
    "Transform",
];

/// Parses one YAML (or JSON) document.
pub(crate) fn parse(source: &str) -> Result<Node, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(source);
    let mut documents = 0usize;
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| syntax_error(source, &e))?;
        match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(YamlError {
                        pos: Some(pos_of(&span)),
                        message: "the file holds more than one YAML document; a template is \
                                  exactly one document, so remove the extra `---`"
                            .to_owned(),
                    });
                }
            }
            Event::StreamEnd => break,
            other => builder.event(other, &span)?,
        }
    }
    builder.root.ok_or_else(|| YamlError {
        pos: None,
        message: "the template is empty; it needs at least a `Resources` section".to_owned(),
    })
}

/// The parser's error, pointed at the first tab-indented line when there is
/// one up to the failure. YAML forbids tabs in block indentation, and the
/// parser then fails with a message ("mapping values are not allowed in this
/// context") that names neither the tab nor, often, its line, so the tab is
/// the likely cause; the message keeps the parser's words and position in
/// case it is not.
fn syntax_error(source: &str, e: &saphyr_parser::ScanError) -> YamlError {
    let at = Pos {
        line: to_u32(e.marker().line()),
        col: to_u32(e.marker().col() + 1),
    };
    // The parser may stop at the end of the line before the tab (a plain
    // scalar it was reading ends there), so the next line counts too.
    match first_tab_indent(source, at.line, at.line.saturating_add(1)) {
        Some(tab) => YamlError {
            pos: Some(tab),
            message: format!(
                "line {} is indented with a tab, and YAML does not allow tabs for \
                 indentation; indent with spaces (yaml syntax error at {}:{}: {})",
                tab.line,
                at.line,
                at.col,
                e.info()
            ),
        },
        None => YamlError {
            pos: Some(at),
            message: format!("yaml syntax error: {}", e.info()),
        },
    }
}

/// The first tab in the leading whitespace of a line from `first_line` to
/// `last` (1-based), in a block-style document. Only the lines at the
/// parser's error are looked at (it often stops at the end of the line
/// before the tab), since a tab earlier may be legal content of a block
/// scalar. Blank and comment lines are skipped, since a tab there is
/// allowed, and so are JSON-style documents (`{` first), whose
/// indentation may be tabs.
fn first_tab_indent(source: &str, first_line: u32, last: u32) -> Option<Pos> {
    let significant = |text: &&str| {
        let text = text.trim_start_matches([' ', '\t', '\u{feff}']);
        !text.is_empty() && !text.starts_with('#')
    };
    let first = source.lines().find(significant)?;
    if first
        .trim_start_matches([' ', '\t', '\u{feff}'])
        .starts_with(['{', '['])
    {
        return None;
    }
    source
        .lines()
        .zip(1..=last)
        .skip_while(|(_, line)| *line < first_line)
        .find_map(|(text, line)| {
            let indent = text.len() - text.trim_start_matches([' ', '\t']).len();
            let tab = text[..indent].find('\t')?;
            significant(&text).then_some(Pos {
                line,
                col: to_u32(tab + 1),
            })
        })
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn pos_of(span: &Span) -> Pos {
    Pos {
        line: to_u32(span.start.line()),
        col: to_u32(span.start.col().saturating_add(1)),
    }
}

/// An open collection waiting for its end event.
enum Frame {
    Seq {
        items: Vec<Node>,
        pos: Pos,
        anchor: usize,
        tag: Option<Tag>,
    },
    Map {
        map: Map,
        keys: HashSet<String>,
        pending_key: Option<Key>,
        pos: Pos,
        anchor: usize,
        tag: Option<Tag>,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    /// Completed anchored nodes by anchor ID, with their sizes.
    anchors: HashMap<usize, (Node, usize)>,
    nodes: usize,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: &Span) -> Result<(), YamlError> {
        let pos = pos_of(span);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1, pos)?;
                let tag = tag.map(|t| t.into_owned());
                let value = scalar_value(&text, style, tag.as_ref(), pos)?;
                let node = desugar(Node::new(value, pos), tag)?;
                self.complete(node, anchor)
            }
            Event::SequenceStart(anchor, tag) => {
                self.open(pos)?;
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    pos,
                    anchor,
                    tag: tag.map(|t| t.into_owned()),
                });
                Ok(())
            }
            Event::MappingStart(anchor, tag) => {
                self.open(pos)?;
                self.stack.push(Frame::Map {
                    map: Map::default(),
                    keys: HashSet::new(),
                    pending_key: None,
                    pos,
                    anchor,
                    tag: tag.map(|t| t.into_owned()),
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor, tag) = match self.stack.pop() {
                    Some(Frame::Seq {
                        items,
                        pos,
                        anchor,
                        tag,
                    }) => (Node::new(Value::Seq(items), pos), anchor, tag),
                    Some(Frame::Map {
                        map,
                        pending_key,
                        pos,
                        anchor,
                        tag,
                        ..
                    }) => {
                        if let Some(key) = pending_key {
                            // The parser always emits a value for a key, so
                            // this only guards against a changed event order.
                            return Err(YamlError {
                                pos: Some(key.pos),
                                message: format!("key `{}` has no value", key.name),
                            });
                        }
                        (Node::new(Value::Map(map), pos), anchor, tag)
                    }
                    None => {
                        return Err(YamlError {
                            pos: Some(pos),
                            message: "yaml syntax error: unbalanced collection end".to_owned(),
                        });
                    }
                };
                let node = desugar(node, tag)?;
                self.complete(node, anchor)
            }
            Event::Alias(id) => {
                let Some((node, size)) = self.anchors.get(&id) else {
                    return Err(YamlError {
                        pos: Some(pos),
                        message: "alias refers to an anchor that encloses it; recursive \
                                  aliases cannot be expanded"
                            .to_owned(),
                    });
                };
                let (mut node, size) = (node.clone(), *size);
                self.count(size, pos)?;
                node.pos = pos;
                self.complete(node, 0)
            }
            Event::Nothing | Event::StreamStart | Event::DocumentStart(_) | Event::StreamEnd => {
                Ok(())
            }
            Event::DocumentEnd => Ok(()),
        }
    }

    fn count(&mut self, n: usize, pos: Pos) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(YamlError {
                pos: Some(pos),
                message: format!(
                    "the template expands to more than {MAX_NODES} values; if it uses YAML \
                     aliases (*name), expand fewer of them"
                ),
            });
        }
        Ok(())
    }

    fn open(&mut self, pos: Pos) -> Result<(), YamlError> {
        self.count(1, pos)?;
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError {
                pos: Some(pos),
                message: format!(
                    "values are nested more than {MAX_DEPTH} levels deep; flatten the template"
                ),
            });
        }
        Ok(())
    }

    /// Attaches a finished node to its parent (or makes it the root).
    fn complete(&mut self, node: Node, anchor: usize) -> Result<(), YamlError> {
        if anchor != 0 {
            let size = node.size();
            // The stored copy counts too: it is memory the document made us hold.
            self.count(size, node.pos)?;
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                Ok(())
            }
            Some(Frame::Map {
                map,
                keys,
                pending_key,
                ..
            }) => match pending_key.take() {
                Some(key) => {
                    map.entries.push((key, node));
                    Ok(())
                }
                None => {
                    let name = match node.value {
                        Value::Scalar(name) => name,
                        Value::Null => {
                            return Err(YamlError {
                                pos: Some(node.pos),
                                message: "a mapping key is empty; give the key a name".to_owned(),
                            });
                        }
                        _ => {
                            return Err(YamlError {
                                pos: Some(node.pos),
                                message: format!(
                                    "a mapping key is {}; keys must be plain names",
                                    node.kind_name()
                                ),
                            });
                        }
                    };
                    if !keys.insert(name.clone()) {
                        let first = map
                            .get_entry(&name)
                            .map(|(k, _)| format!(" (first at line {})", k.pos.line))
                            .unwrap_or_default();
                        return Err(YamlError {
                            pos: Some(node.pos),
                            message: format!(
                                "duplicate key `{name}`{first}; each key may appear once per map"
                            ),
                        });
                    }
                    *pending_key = Some(Key {
                        name,
                        pos: node.pos,
                    });
                    Ok(())
                }
            },
        }
    }
}

/// Types a scalar by the YAML 1.2 core schema, as far as the loader cares:
/// a plain `null`, `~` or empty scalar is null, everything else is text.
fn scalar_value(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    pos: Pos,
) -> Result<Value, YamlError> {
    if let Some(tag) = tag
        && tag.is_yaml_core_schema()
    {
        return match tag.suffix.as_str() {
            "null" => Ok(Value::Null),
            "str" | "int" | "float" | "bool" | "binary" | "timestamp" => {
                Ok(Value::Scalar(text.to_owned()))
            }
            other => Err(YamlError {
                pos: Some(pos),
                message: format!("tag `!!{other}` cannot be applied to a scalar"),
            }),
        };
    }
    let is_null =
        style == ScalarStyle::Plain && matches!(text, "" | "~" | "null" | "Null" | "NULL");
    Ok(if is_null && tag.is_none() {
        Value::Null
    } else {
        Value::Scalar(text.to_owned())
    })
}

/// Turns a short-form tag into the long form: `!Sub x` becomes `{Fn::Sub: x}`.
fn desugar(node: Node, tag: Option<Tag>) -> Result<Node, YamlError> {
    let Some(tag) = tag else {
        return Ok(node);
    };
    if tag.is_yaml_core_schema() {
        return match (tag.suffix.as_str(), &node.value) {
            ("map", Value::Map(_)) | ("seq", Value::Seq(_)) | ("omap", Value::Seq(_)) => Ok(node),
            // Scalars were typed in `scalar_value` already.
            (_, Value::Scalar(_) | Value::Null) => Ok(node),
            (other, _) => Err(YamlError {
                pos: Some(node.pos),
                message: format!("tag `!!{other}` does not fit {}", node.kind_name()),
            }),
        };
    }
    let name = if tag.handle == "!" {
        match tag.suffix.as_str() {
            "Ref" => Some("Ref".to_owned()),
            "Condition" => Some("Condition".to_owned()),
            suffix if SHORT_FORM_FUNCTIONS.contains(&suffix) => Some(format!("Fn::{suffix}")),
            _ => None,
        }
    } else {
        None
    };
    let Some(name) = name else {
        return Err(YamlError {
            pos: Some(node.pos),
            message: format!(
                "unknown tag `{tag}`; CloudFormation's short forms are !Ref, !Condition and \
                 !{}",
                SHORT_FORM_FUNCTIONS.join(", !")
            ),
        });
    };
    let pos = node.pos;
    // An empty `!Ref` is a null argument; keep it so the resolver can say
    // which intrinsic lacks its argument.
    Ok(Node::new(
        Value::Map(Map {
            entries: vec![(Key { name, pos }, node)],
        }),
        pos,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use expect_test::{Expect, expect};

    /// Renders a tree compactly: scalars quoted, maps in braces with line:col
    /// of each key, so both structure and positions are visible.
    fn render(node: &Node) -> String {
        match &node.value {
            Value::Null => "null".to_owned(),
            Value::Invalid => "<invalid>".to_owned(),
            Value::Scalar(s) => format!("{s:?}"),
            Value::Seq(items) => {
                let inner: Vec<String> = items.iter().map(render).collect();
                format!("[{}]", inner.join(", "))
            }
            Value::Map(map) => {
                let inner: Vec<String> = map
                    .entries
                    .iter()
                    .map(|(k, v)| format!("{}@{}:{}: {}", k.name, k.pos.line, k.pos.col, render(v)))
                    .collect();
                format!("{{{}}}", inner.join(", "))
            }
        }
    }

    fn check(source: &str, expected: Expect) {
        let actual = match parse(source) {
            Ok(node) => render(&node),
            Err(e) => match e.pos {
                Some(p) => format!("error at {}:{}: {}", p.line, p.col, e.message),
                None => format!("error: {}", e.message),
            },
        };
        expected.assert_eq(&actual);
    }

    #[test]
    fn plain_mapping_with_positions() {
        check(
            "a: 1\nb:\n  c: x\n  d: [1, ~, '', null, 'null']\n",
            expect![[r#"{a@1:1: "1", b@2:1: {c@3:3: "x", d@4:3: ["1", null, "", null, "null"]}}"#]],
        );
    }

    #[test]
    fn short_form_tags_become_long_form() {
        check(
            "a: !Ref Foo\nb: !GetAtt Fn.Arn\nc: !Sub ['${X}', {X: !Ref Y}]\nd: !Condition C\n",
            expect![[
                r#"{a@1:1: {Ref@1:4: "Foo"}, b@2:1: {Fn::GetAtt@2:4: "Fn.Arn"}, c@3:1: {Fn::Sub@3:4: ["${X}", {X@3:19: {Ref@3:22: "Y"}}]}, d@4:1: {Condition@4:4: "C"}}"#
            ]],
        );
    }

    #[test]
    fn nested_short_forms() {
        check(
            "a: !If [C, !Join ['-', [!Ref A, b]], !Ref AWS::NoValue]\n",
            expect![[
                r#"{a@1:1: {Fn::If@1:4: ["C", {Fn::Join@1:12: ["-", [{Ref@1:25: "A"}, "b"]]}, {Ref@1:38: "AWS::NoValue"}]}}"#
            ]],
        );
    }

    #[test]
    fn json_templates_parse() {
        check(
            r#"{"Resources": {"F": {"Type": "AWS::Serverless::Function", "Properties": {"Timeout": 3}}}}"#,
            expect![[
                r#"{Resources@1:2: {F@1:16: {Type@1:22: "AWS::Serverless::Function", Properties@1:59: {Timeout@1:74: "3"}}}}"#
            ]],
        );
    }

    #[test]
    fn core_schema_tags() {
        check(
            "a: !!str null\nb: !!null x\nc: !!map {k: v}\n",
            expect![[r#"{a@1:1: "null", b@2:1: null, c@3:1: {k@3:11: "v"}}"#]],
        );
    }

    #[test]
    fn unknown_tag_is_an_error() {
        check(
            "a: !Reff Foo\n",
            expect![
                "error at 1:4: unknown tag `!Reff`; CloudFormation's short forms are !Ref, !Condition and !Base64, !Cidr, !And, !Equals, !If, !Not, !Or, !FindInMap, !ForEach, !GetAtt, !GetAZs, !ImportValue, !Join, !Length, !Select, !Split, !Sub, !ToJsonString, !Transform"
            ],
        );
    }

    #[test]
    fn syntax_error_has_position() {
        check(
            "Resources:\n  F:\n    Type: x\n   bad: [\n",
            expect![
                "error at 4:4: yaml syntax error: while parsing a block mapping, did not find expected key"
            ],
        );
    }

    #[test]
    fn tab_indentation_is_named() {
        // The parser stops at the end of `1`, the line before the tab.
        check(
            "a:\n  b: 1\n\tc: 2\n",
            expect![
                "error at 3:1: line 3 is indented with a tab, and YAML does not allow tabs for indentation; indent with spaces (yaml syntax error at 2:6: while scanning a plain scalar, found a tab)"
            ],
        );
        check(
            "a:\n  b:\n  \t c: 2\n  d: 3\n",
            expect![
                "error at 3:3: line 3 is indented with a tab, and YAML does not allow tabs for indentation; indent with spaces (yaml syntax error at 3:5: tabs disallowed within this context (block indentation))"
            ],
        );
        // Tabs on blank or comment lines, well after the failure, inside
        // values, or in a JSON-style document are not blamed.
        check(
            "a: [\n\t# comment\n\t\nb: ]\nc: 1\nd: 2\n\te: 3\n",
            expect!["error at 4:1: yaml syntax error: invalid indentation"],
        );
        // A tab inside a block scalar, lines before an unrelated error.
        check(
            "a: |\n  line\n  \tindented content\nb: 1\nc: [\nd: 2\n",
            expect!["error at 6:1: yaml syntax error: invalid indentation"],
        );
        check(
            "a: \"x\ty\"\nb:\n  - \tc\n",
            expect![[r#"{a@1:1: "x\ty", b@2:1: ["c"]}"#]],
        );
        check(
            "{\n\t\"a\": 1\n\t\"b\": 2\n}\n",
            expect![
                "error at 3:5: yaml syntax error: while parsing a flow mapping, did not find expected ',' or '}'"
            ],
        );
    }

    #[test]
    fn duplicate_keys_are_errors() {
        check(
            "a: 1\nb: 2\na: 3\n",
            expect![
                "error at 3:1: duplicate key `a` (first at line 1); each key may appear once per map"
            ],
        );
    }

    #[test]
    fn complex_keys_are_errors() {
        check(
            "? [a]\n: b\n",
            expect!["error at 1:3: a mapping key is a list; keys must be plain names"],
        );
    }

    #[test]
    fn empty_document() {
        check(
            "",
            expect!["error: the template is empty; it needs at least a `Resources` section"],
        );
        check(
            "# only a comment\n",
            expect!["error: the template is empty; it needs at least a `Resources` section"],
        );
    }

    #[test]
    fn two_documents() {
        check(
            "a: 1\n---\nb: 2\n",
            expect![
                "error at 2:1: the file holds more than one YAML document; a template is exactly one document, so remove the extra `---`"
            ],
        );
    }

    #[test]
    fn aliases_expand() {
        check(
            "a: &x {k: [1, 2]}\nb: *x\n",
            expect![[r#"{a@1:1: {k@1:8: ["1", "2"]}, b@2:1: {k@1:8: ["1", "2"]}}"#]],
        );
    }

    #[test]
    fn billion_laughs_is_refused() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            let items = [prev.as_str(); 10].join(", ");
            doc.push_str(&format!("a{i}: &a{i} [{items}]\n"));
        }
        let started = std::time::Instant::now();
        let err = parse(&doc).unwrap_err();
        assert!(
            err.message.contains("expands to more than"),
            "{}",
            err.message
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let doc = format!("{}{}", "[".repeat(150), "]".repeat(150));
        let err = parse(&doc).unwrap_err();
        expect!["values are nested more than 100 levels deep; flatten the template"]
            .assert_eq(&err.message);
        // Far deeper input trips the parser's own limit before ours.
        let doc = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(&doc).is_err());
        // Deep block nesting, one indentation level per line.
        let doc = "a:\n".to_owned()
            + &(1..5000)
                .map(|i| format!("{}b:\n", " ".repeat(i)))
                .collect::<String>();
        assert!(parse(&doc).is_err());
        let ok = format!("{}{}", "[".repeat(99), "]".repeat(99));
        assert!(parse(&ok).is_ok());
    }
}
