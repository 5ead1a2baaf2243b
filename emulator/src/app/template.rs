//! The template's sections, read structurally from the YAML tree.
//!
//! Nothing here evaluates intrinsics: this stage only checks that the
//! top-level shape is a CloudFormation template (sections are maps,
//! resources have a `Type`, logical IDs are alphanumeric) and splits it into
//! [`Template`] for the later stages.

use std::cell::Cell;

use super::diagnostic::{Pos, Sink, Site};
use super::yaml::{Map, Node, Value};

/// The transform that makes a template a SAM template.
pub(crate) const SERVERLESS_TRANSFORM: &str = "AWS::Serverless-2016-10-31";

const SECTIONS: &[&str] = &[
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Transform",
    "Parameters",
    "Rules",
    "Mappings",
    "Conditions",
    "Globals",
    "Resources",
    "Outputs",
];

/// A template split into sections.
#[derive(Debug, Default)]
pub(crate) struct Template {
    pub parameters: Vec<Entry>,
    pub mappings: Vec<Entry>,
    pub conditions: Vec<Entry>,
    pub globals: Globals,
    pub resources: Vec<Resource>,
    pub outputs: Vec<Entry>,
}

/// A named entry of a section (a parameter, mapping, condition or output).
#[derive(Debug)]
pub(crate) struct Entry {
    pub name: String,
    pub pos: Pos,
    pub node: Node,
}

/// The `Globals` section, by resource kind.
#[derive(Debug, Default)]
pub(crate) struct Globals {
    pub function: Option<Map>,
    pub api: Option<Map>,
    pub http_api: Option<Map>,
}

/// One entry of `Resources`.
#[derive(Debug)]
pub(crate) struct Resource {
    pub logical_id: String,
    /// Position of the logical ID key, where resource-level problems point.
    pub pos: Pos,
    pub kind: String,
    pub properties: Map,
    /// Position of the `Properties` key (or of the resource when it has
    /// none), where "missing property" problems point.
    pub properties_pos: Pos,
    /// The `Condition` attribute: the condition's name and its position.
    pub condition: Option<(String, Pos)>,
    pub metadata: Option<Node>,
    /// `IgnoreGlobals`: `*` or a list of property names.
    pub ignore_globals: Option<Node>,
    /// `DependsOn` targets with their positions.
    pub depends_on: Vec<(String, Pos)>,
}

impl Template {
    pub fn resource(&self, logical_id: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.logical_id == logical_id)
    }
}

/// Splits the root node into sections, reporting shape problems.
pub(crate) fn read(root: &Node, sink: &mut Sink) -> Template {
    let mut template = Template::default();
    let Some(top) = root.as_map() else {
        sink.error(
            Some(root.pos),
            &Site::default(),
            format!(
                "the template is {}, not a map of sections; it needs at least `Resources:`",
                root.kind_name()
            ),
        );
        return template;
    };
    for (key, _) in &top.entries {
        if !SECTIONS.contains(&key.name.as_str()) {
            sink.error(
                Some(key.pos),
                &Site::section(key.name.clone()),
                format!(
                    "unknown template section `{}`{}; sections are {}",
                    key.name,
                    sink.did_you_mean(&key.name, SECTIONS.iter().copied()),
                    SECTIONS.join(", ")
                ),
            );
        }
    }
    read_transform(top, sink);
    template.parameters = entries(top, "Parameters", true, sink);
    template.mappings = entries(top, "Mappings", true, sink);
    template.conditions = entries(top, "Conditions", false, sink);
    template.outputs = entries(top, "Outputs", true, sink);
    template.globals = read_globals(top, sink);
    template.resources = read_resources(top, sink);
    template
}

fn read_transform(top: &Map, sink: &mut Sink) {
    let site = Site::section("Transform");
    let names: Vec<&str> = match top.get("Transform") {
        None => Vec::new(),
        Some(node) => match &node.value {
            Value::Scalar(name) => vec![name.as_str()],
            Value::Seq(items) => items.iter().filter_map(Node::as_scalar).collect(),
            // The `{Name: ..., Parameters: ...}` form names macros; only the
            // name matters here.
            Value::Map(map) => map
                .get("Name")
                .and_then(Node::as_scalar)
                .into_iter()
                .collect(),
            _ => Vec::new(),
        },
    };
    let pos = top.get("Transform").map(|n| n.pos);
    if !names.contains(&SERVERLESS_TRANSFORM) {
        sink.warning(
            pos,
            &site,
            format!(
                "the template does not declare `Transform: {SERVERLESS_TRANSFORM}`; Fogbank reads \
                 it as a SAM template anyway, but CloudFormation would reject the \
                 AWS::Serverless resources"
            ),
        );
    }
    for name in names {
        if name != SERVERLESS_TRANSFORM && name != "AWS::LanguageExtensions" {
            sink.warning(
                pos,
                &site,
                format!("transform `{name}` is not applied locally; its output is not emulated"),
            );
        }
    }
}

/// The entries of a map section. `maps_only` requires every value to be a map.
fn entries(top: &Map, section: &str, maps_only: bool, sink: &mut Sink) -> Vec<Entry> {
    let Some(node) = top.get(section) else {
        return Vec::new();
    };
    let Some(map) = section_map(node, section, sink) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in &map.entries {
        if maps_only && value.as_map().is_none() {
            sink.error(
                Some(value.pos),
                &Site::section(format!("{section}.{}", key.name)),
                format!("expected a map, found {}", value.kind_name()),
            );
            continue;
        }
        out.push(Entry {
            name: key.name.clone(),
            pos: key.pos,
            node: value.clone(),
        });
    }
    out
}

fn section_map<'a>(node: &'a Node, section: &str, sink: &mut Sink) -> Option<&'a Map> {
    match &node.value {
        Value::Map(map) => Some(map),
        // `Outputs:` with nothing under it is harmless.
        Value::Null => None,
        _ => {
            sink.error(
                Some(node.pos),
                &Site::section(section),
                format!(
                    "the `{section}` section must be a map, found {}",
                    node.kind_name()
                ),
            );
            None
        }
    }
}

fn read_globals(top: &Map, sink: &mut Sink) -> Globals {
    let mut globals = Globals::default();
    let Some(node) = top.get("Globals") else {
        return globals;
    };
    let Some(map) = section_map(node, "Globals", sink) else {
        return globals;
    };
    for (key, value) in &map.entries {
        let site = Site::section(format!("Globals.{}", key.name));
        let slot = match key.name.as_str() {
            "Function" => &mut globals.function,
            "Api" => &mut globals.api,
            "HttpApi" => &mut globals.http_api,
            "SimpleTable" | "LayerVersion" | "StateMachine" | "CapacityProvider"
            | "WebSocketApi" => {
                // Valid SAM, but for resources Fogbank does not emulate.
                continue;
            }
            other => {
                sink.error(
                    Some(key.pos),
                    &site,
                    format!(
                        "`{other}` is not a Globals section{}; use Function, Api or HttpApi",
                        sink.did_you_mean(other, ["Function", "Api", "HttpApi"])
                    ),
                );
                continue;
            }
        };
        match &value.value {
            Value::Map(map) => *slot = Some(map.clone()),
            _ => sink.error(
                Some(value.pos),
                &site,
                format!("expected a map of properties, found {}", value.kind_name()),
            ),
        }
    }
    globals
}

fn read_resources(top: &Map, sink: &mut Sink) -> Vec<Resource> {
    let Some(node) = top.get("Resources") else {
        sink.error(
            None,
            &Site::section("Resources"),
            "the template has no `Resources` section; declare at least one function",
        );
        return Vec::new();
    };
    let Some(map) = section_map(node, "Resources", sink) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in &map.entries {
        let logical_id = key.name.clone();
        let site = Site::resource(&logical_id, "");
        if logical_id.is_empty() || !logical_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            sink.error(
                Some(key.pos),
                &site,
                "logical IDs may contain only letters and digits (A-Z, a-z, 0-9)",
            );
            continue;
        }
        let Some(body) = value.as_map() else {
            sink.error(
                Some(value.pos),
                &site,
                format!(
                    "expected a map with `Type` and `Properties`, found {}",
                    value.kind_name()
                ),
            );
            continue;
        };
        let kind = match body.get("Type") {
            Some(Node {
                value: Value::Scalar(kind),
                ..
            }) => kind.clone(),
            Some(other) => {
                sink.error(
                    Some(other.pos),
                    &Site::resource(&logical_id, "Type"),
                    format!(
                        "`Type` must be a resource type name, found {}",
                        other.kind_name()
                    ),
                );
                continue;
            }
            None => {
                sink.error(
                    Some(key.pos),
                    &Site::resource(&logical_id, "Type"),
                    "missing `Type`; every resource needs one, such as AWS::Serverless::Function",
                );
                continue;
            }
        };
        let (properties, properties_pos) = match body.get_entry("Properties") {
            None => (Map::default(), key.pos),
            Some((
                key,
                Node {
                    value: Value::Null, ..
                },
            )) => (Map::default(), key.pos),
            Some((
                key,
                Node {
                    value: Value::Map(map),
                    ..
                },
            )) => (map.clone(), key.pos),
            Some((key, other)) => {
                sink.error(
                    Some(other.pos),
                    &Site::resource(&logical_id, "Properties"),
                    format!("`Properties` must be a map, found {}", other.kind_name()),
                );
                (Map::default(), key.pos)
            }
        };
        let condition = match body.get("Condition") {
            None => None,
            Some(Node {
                value: Value::Scalar(name),
                pos,
            }) => Some((name.clone(), *pos)),
            Some(other) => {
                sink.error(
                    Some(other.pos),
                    &Site::resource(&logical_id, "Condition"),
                    format!(
                        "`Condition` must name a condition, found {}",
                        other.kind_name()
                    ),
                );
                None
            }
        };
        let depends_on = match body.get("DependsOn") {
            None => Vec::new(),
            Some(Node {
                value: Value::Scalar(name),
                pos,
            }) => vec![(name.clone(), *pos)],
            Some(Node {
                value: Value::Seq(items),
                ..
            }) => items
                .iter()
                .filter_map(|item| match &item.value {
                    Value::Scalar(name) => Some((name.clone(), item.pos)),
                    _ => {
                        sink.error(
                            Some(item.pos),
                            &Site::resource(&logical_id, "DependsOn"),
                            format!("expected a logical ID, found {}", item.kind_name()),
                        );
                        None
                    }
                })
                .collect(),
            Some(other) => {
                sink.error(
                    Some(other.pos),
                    &Site::resource(&logical_id, "DependsOn"),
                    format!(
                        "`DependsOn` must be a logical ID or a list of them, found {}",
                        other.kind_name()
                    ),
                );
                Vec::new()
            }
        };
        out.push(Resource {
            logical_id,
            pos: key.pos,
            kind,
            properties,
            properties_pos,
            condition,
            metadata: body.get("Metadata").cloned(),
            ignore_globals: body.get("IgnoreGlobals").cloned(),
            depends_on,
        });
    }
    out
}

/// ` (did you mean `X`?)` when a candidate is within two edits of `name`.
/// Each candidate compared spends one unit of `budget`; an empty budget
/// gives no suggestion, which bounds the work a template with thousands of
/// misspellings can cause.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    budget: &Cell<usize>,
) -> String {
    // Long names are never typos of short candidates and comparing them costs
    // quadratic time, so they are skipped.
    if name.len() > 64 {
        return String::new();
    }
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let left = budget.get();
        if left == 0 {
            break;
        }
        budget.set(left - 1);
        if candidate.len() > 64 || candidate.len().abs_diff(name.len()) > 2 {
            continue;
        }
        let distance = edit_distance(name, candidate);
        if distance <= 2 && distance < candidate.len() && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    match best {
        Some((_, candidate)) => format!(" (did you mean `{candidate}`?)"),
        None => String::new(),
    }
}

/// Levenshtein distance, case-insensitive, over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().flat_map(char::to_lowercase).collect();
    let b: Vec<char> = b.chars().flat_map(char::to_lowercase).collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("Handler", "Hanlder"), 2);
        assert_eq!(edit_distance("Runtime", "runtime"), 0);
        let budget = Cell::new(10);
        assert_eq!(
            did_you_mean("Hanlder", ["Handler", "Runtime"], &budget),
            " (did you mean `Handler`?)"
        );
        assert_eq!(did_you_mean("Zzz", ["Handler"], &budget), "");
        assert_eq!(budget.get(), 7);
        let empty = Cell::new(0);
        assert_eq!(did_you_mean("Hanlder", ["Handler"], &empty), "");
    }
}
