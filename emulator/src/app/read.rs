//! Typed readers over resolved nodes: each reports a wrong type or range at
//! the node and returns `None`, and stays silent on a node whose resolution
//! already failed.

use super::diagnostic::{Pos, Sink, Site};
use super::resolve::{Resolver, parse_bool};
use super::yaml::{Map, Node, Value};

/// A resource's properties with the ones Fogbank reads resolved.
#[derive(Debug)]
pub(crate) struct Props {
    pub logical_id: String,
    pub map: Map,
    /// Where "missing property" problems point.
    pub pos: Pos,
}

impl Props {
    /// Resolves the properties named in `read` (the rest are left alone:
    /// they were only reference-checked). A property that resolves to
    /// `AWS::NoValue` is absent.
    pub fn resolve(
        resolver: &mut Resolver<'_>,
        logical_id: &str,
        properties: &Map,
        pos: Pos,
        read: &[&str],
        sink: &mut Sink,
    ) -> Props {
        let mut map = Map::default();
        for (key, value) in &properties.entries {
            if !read.contains(&key.name.as_str()) {
                continue;
            }
            let site = Site::resource(logical_id, format!("Properties.{}", key.name));
            if let Some(resolved) = resolver.resolve(value, &site, sink) {
                map.entries.push((key.clone(), resolved));
            }
        }
        Props {
            logical_id: logical_id.to_owned(),
            map,
            pos,
        }
    }

    pub fn get(&self, name: &str) -> Option<&Node> {
        self.map
            .get(name)
            .filter(|n| !matches!(n.value, Value::Null))
    }

    pub fn site(&self, name: &str) -> Site {
        Site::resource(&self.logical_id, format!("Properties.{name}"))
    }
}

/// Reports properties not in `known` (typos such as `Hanlder`), as SAM does.
pub(crate) fn check_known(
    logical_id: &str,
    kind: &str,
    properties: &Map,
    known: &[&str],
    sink: &mut Sink,
) {
    for (key, _) in &properties.entries {
        if !known.contains(&key.name.as_str()) {
            sink.error(
                Some(key.pos),
                &Site::resource(logical_id, format!("Properties.{}", key.name)),
                format!(
                    "unknown property `{}` for {kind}{}",
                    key.name,
                    sink.did_you_mean(&key.name, known.iter().copied())
                ),
            );
        }
    }
}

pub(crate) fn string(node: &Node, site: &Site, sink: &mut Sink) -> Option<String> {
    match &node.value {
        Value::Scalar(text) => Some(text.clone()),
        Value::Invalid => None,
        _ => {
            sink.error(
                Some(node.pos),
                site,
                format!("expected a string, found {}", node.kind_name()),
            );
            None
        }
    }
}

/// The text of a scalar that must be a number or a boolean. Not `string`:
/// a list or map here is reported as not being what the property wants
/// (`expected`), not as not being a string.
fn scalar<'a>(
    node: &'a Node,
    expected: impl FnOnce() -> String,
    site: &Site,
    sink: &mut Sink,
) -> Option<&'a String> {
    match &node.value {
        Value::Scalar(text) => Some(text),
        Value::Invalid => None,
        _ => {
            sink.error(
                Some(node.pos),
                site,
                format!("expected {}, found {}", expected(), node.kind_name()),
            );
            None
        }
    }
}

/// A whole number in `min..=max`; `what` describes the unit for messages.
pub(crate) fn integer(
    node: &Node,
    min: i64,
    max: i64,
    what: &str,
    site: &Site,
    sink: &mut Sink,
) -> Option<i64> {
    let text = scalar(
        node,
        || format!("{what} between {min} and {max}"),
        site,
        sink,
    )?;
    match parse_integer(text) {
        Some(n) if (min..=max).contains(&n) => Some(n),
        _ => {
            sink.error(
                Some(node.pos),
                site,
                format!("`{text}` is not {what} between {min} and {max}"),
            );
            None
        }
    }
}

/// Integers as CloudFormation accepts them: `30`, `"30"` or `30.0`.
fn parse_integer(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(n) = text.parse::<i64>() {
        return Some(n);
    }
    let float = text.parse::<f64>().ok()?;
    // The range check keeps the cast exact; fractional values are refused.
    (float.fract() == 0.0 && float.abs() < 9.0e15).then_some(float as i64)
}

pub(crate) fn boolean(node: &Node, site: &Site, sink: &mut Sink) -> Option<bool> {
    let text = scalar(node, || "true or false".to_owned(), site, sink)?;
    let value = parse_bool(text);
    if value.is_none() {
        sink.error(
            Some(node.pos),
            site,
            format!("`{text}` is not a boolean; use true or false"),
        );
    }
    value
}

pub(crate) fn map<'n>(node: &'n Node, site: &Site, sink: &mut Sink) -> Option<&'n Map> {
    match &node.value {
        Value::Map(map) => Some(map),
        Value::Invalid => None,
        _ => {
            sink.error(
                Some(node.pos),
                site,
                format!("expected a map, found {}", node.kind_name()),
            );
            None
        }
    }
}

pub(crate) fn list<'n>(node: &'n Node, site: &Site, sink: &mut Sink) -> Option<&'n [Node]> {
    match &node.value {
        Value::Seq(items) => Some(items),
        Value::Invalid => None,
        _ => {
            sink.error(
                Some(node.pos),
                site,
                format!("expected a list, found {}", node.kind_name()),
            );
            None
        }
    }
}

/// A list of strings; with `single`, a lone string counts as a list of one.
pub(crate) fn strings(
    node: &Node,
    single: bool,
    site: &Site,
    sink: &mut Sink,
) -> Option<Vec<String>> {
    if single && let Value::Scalar(text) = &node.value {
        return Some(vec![text.clone()]);
    }
    let items = list(node, site, sink)?;
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match string(item, &site.index(i), sink) {
            Some(text) => out.push(text),
            None => ok = false,
        }
    }
    ok.then_some(out)
}
