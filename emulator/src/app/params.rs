//! Template `Parameters`: declared types, defaults, overrides and constraints.

use std::collections::BTreeMap;

use super::diagnostic::{Pos, Sink, Site};
use super::template::Entry;
use super::yaml::{Map, Node, Value};

/// The value a `!Ref` to a parameter yields.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ParamValue {
    Scalar(String),
    /// `CommaDelimitedList` and `List<...>` parameters.
    List(Vec<String>),
    /// The parameter's value is unusable and that was already reported.
    Invalid,
}

/// Where a parameter's value came from, for messages.
#[derive(Clone, Copy)]
enum Source {
    Override,
    Default(Pos),
}

/// Computes every parameter's value: the override when given, else the
/// `Default`. Reports missing values, constraint violations and overrides
/// that name no parameter.
pub(crate) fn resolve(
    declared: &[Entry],
    overrides: &BTreeMap<String, String>,
    sink: &mut Sink,
) -> BTreeMap<String, ParamValue> {
    let mut values = BTreeMap::new();
    for entry in declared {
        let value = resolve_one(entry, overrides.get(&entry.name), sink);
        values.insert(entry.name.clone(), value);
    }
    for name in overrides.keys() {
        if !values.contains_key(name) {
            sink.warning(
                None,
                &Site::section(format!("Parameters.{name}")),
                format!(
                    "--parameter-overrides sets `{name}`, which the template does not declare{}; \
                     the override is ignored",
                    sink.did_you_mean(name, declared.iter().map(|e| e.name.as_str()))
                ),
            );
        }
    }
    values
}

fn resolve_one(entry: &Entry, override_value: Option<&String>, sink: &mut Sink) -> ParamValue {
    let site = Site::section(format!("Parameters.{}", entry.name));
    let Some(decl) = entry.node.as_map() else {
        return ParamValue::Invalid;
    };
    if entry.name.is_empty() || !entry.name.chars().all(|c| c.is_ascii_alphanumeric()) {
        sink.error(
            Some(entry.pos),
            &site,
            "parameter names may contain only letters and digits",
        );
    }
    let kind = match decl.get("Type") {
        Some(Node {
            value: Value::Scalar(kind),
            ..
        }) => kind.clone(),
        Some(other) => {
            sink.error(
                Some(other.pos),
                &site.child("Type"),
                format!(
                    "`Type` must be a name such as String, found {}",
                    other.kind_name()
                ),
            );
            return ParamValue::Invalid;
        }
        None => {
            sink.error(
                Some(entry.pos),
                &site.child("Type"),
                "missing `Type`; use String, Number or CommaDelimitedList",
            );
            return ParamValue::Invalid;
        }
    };
    let is_list = kind == "CommaDelimitedList" || kind.starts_with("List<");
    let is_number = kind == "Number";
    let known = is_list
        || is_number
        || kind == "String"
        || kind.starts_with("AWS::SSM::Parameter::")
        || kind.starts_with("AWS::EC2::")
        || kind.starts_with("AWS::Route53::");
    if !known {
        sink.error(
            decl.get("Type").map(|n| n.pos),
            &site.child("Type"),
            format!(
                "unknown parameter type `{kind}`; use String, Number, CommaDelimitedList, \
                 List<Number> or an AWS-specific type"
            ),
        );
        return ParamValue::Invalid;
    }

    let (text, source) = match override_value {
        Some(value) => (value.clone(), Source::Override),
        None => match decl.get("Default") {
            Some(Node {
                value: Value::Scalar(text),
                pos,
            }) => (text.clone(), Source::Default(*pos)),
            Some(Node {
                value: Value::Seq(items),
                pos,
            }) if is_list => {
                let mut parts = Vec::new();
                for item in items {
                    match item.as_scalar() {
                        Some(text) => parts.push(text.to_owned()),
                        None => {
                            sink.error(
                                Some(item.pos),
                                &site.child("Default"),
                                format!("list items must be scalars, found {}", item.kind_name()),
                            );
                            return ParamValue::Invalid;
                        }
                    }
                }
                (parts.join(","), Source::Default(*pos))
            }
            Some(Node {
                value: Value::Null,
                pos,
            }) => (String::new(), Source::Default(*pos)),
            Some(other) => {
                sink.error(
                    Some(other.pos),
                    &site.child("Default"),
                    format!("`Default` must be a scalar, found {}", other.kind_name()),
                );
                return ParamValue::Invalid;
            }
            None => {
                sink.error(
                    Some(entry.pos),
                    &site,
                    format!(
                        "parameter `{}` has no Default and no override; add a Default or pass \
                         --parameter-overrides {}=VALUE",
                        entry.name, entry.name
                    ),
                );
                return ParamValue::Invalid;
            }
        },
    };

    let (pos, origin) = match source {
        Source::Override => (None, " (from --parameter-overrides)"),
        Source::Default(pos) => (Some(pos), ""),
    };
    let items: Vec<String> = if is_list {
        if text.is_empty() {
            Vec::new()
        } else {
            text.split(',').map(str::to_owned).collect()
        }
    } else {
        vec![text.clone()]
    };
    let mut ok = true;
    let numeric = is_number || kind == "List<Number>";
    for item in &items {
        ok &= check_constraints(decl, item, numeric, pos, origin, &site, sink);
    }
    if kind.starts_with("AWS::SSM::Parameter::Value") && override_value.is_none() {
        sink.warning(
            pos,
            &site,
            format!(
                "`{}` is read from SSM Parameter Store when deployed; offline its value is the \
                 parameter name `{text}`. Pass --parameter-overrides {}=VALUE to set it",
                entry.name, entry.name
            ),
        );
    }
    if !ok {
        ParamValue::Invalid
    } else if is_list {
        ParamValue::List(items)
    } else {
        ParamValue::Scalar(text)
    }
}

/// Checks AllowedValues, MinLength/MaxLength and MinValue/MaxValue.
fn check_constraints(
    decl: &Map,
    value: &str,
    numeric: bool,
    pos: Option<Pos>,
    origin: &str,
    site: &Site,
    sink: &mut Sink,
) -> bool {
    let mut ok = true;
    let number = if numeric {
        match value.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => Some(n),
            _ => {
                sink.error(
                    pos,
                    site,
                    format!("value `{value}`{origin} is not a number"),
                );
                return false;
            }
        }
    } else {
        None
    };
    if let Some(Node {
        value: Value::Seq(allowed),
        ..
    }) = decl.get("AllowedValues")
    {
        let allowed: Vec<&str> = allowed.iter().filter_map(Node::as_scalar).collect();
        if !allowed.contains(&value) {
            sink.error(
                pos,
                site,
                format!(
                    "value `{value}`{origin} is not one of the AllowedValues: {}",
                    allowed.join(", ")
                ),
            );
            ok = false;
        }
    }
    let bound = |name: &str| -> Option<f64> {
        decl.get(name)
            .and_then(Node::as_scalar)
            .and_then(|s| s.trim().parse::<f64>().ok())
    };
    let length = value.chars().count() as f64;
    if let Some(min) = bound("MinLength")
        && length < min
    {
        sink.error(
            pos,
            site,
            format!("value `{value}`{origin} is shorter than MinLength {min}"),
        );
        ok = false;
    }
    if let Some(max) = bound("MaxLength")
        && length > max
    {
        sink.error(
            pos,
            site,
            format!("value `{value}`{origin} is longer than MaxLength {max}"),
        );
        ok = false;
    }
    if let Some(n) = number {
        if let Some(min) = bound("MinValue")
            && n < min
        {
            sink.error(
                pos,
                site,
                format!("value `{value}`{origin} is below MinValue {min}"),
            );
            ok = false;
        }
        if let Some(max) = bound("MaxValue")
            && n > max
        {
            sink.error(
                pos,
                site,
                format!("value `{value}`{origin} is above MaxValue {max}"),
            );
            ok = false;
        }
    }
    ok
}
