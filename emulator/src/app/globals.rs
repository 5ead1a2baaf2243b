//! SAM's `Globals` section, merged into each resource as the SAM translator
//! does it (samtranslator/plugins/globals): maps merge key by key with the
//! resource winning, lists concatenate (globals first), scalars and
//! intrinsics are replaced by the resource's value, and `Architectures`
//! is replaced whole. `IgnoreGlobals` opts a resource out.

use super::diagnostic::{Sink, Site};
use super::template::{Resource, Template};
use super::yaml::{Map, Node, Value};

/// Properties SAM accepts under `Globals.Function`.
pub(crate) const FUNCTION_GLOBALS: &[&str] = &[
    "Handler",
    "Runtime",
    "CodeUri",
    "DeadLetterQueue",
    "Description",
    "MemorySize",
    "Timeout",
    "VpcConfig",
    "Environment",
    "Tags",
    "PropagateTags",
    "Tracing",
    "KmsKeyArn",
    "AutoPublishAlias",
    "AutoPublishAliasAllProperties",
    "Layers",
    "DeploymentPreference",
    "RolePath",
    "PermissionsBoundary",
    "ReservedConcurrentExecutions",
    "ProvisionedConcurrencyConfig",
    "AssumeRolePolicyDocument",
    "EventInvokeConfig",
    "FileSystemConfigs",
    "CodeSigningConfigArn",
    "Architectures",
    "SnapStart",
    "EphemeralStorage",
    "FunctionUrlConfig",
    "RuntimeManagementConfig",
    "LoggingConfig",
    "RecursiveLoop",
    "SourceKMSKeyArn",
    "TenancyConfig",
    "DurableConfig",
    "CapacityProviderConfig",
    "FunctionScalingConfig",
    "PublishToLatestPublished",
    "VersionDeletionPolicy",
];

/// Properties SAM accepts under `Globals.Api`.
pub(crate) const API_GLOBALS: &[&str] = &[
    "Auth",
    "Name",
    "DefinitionUri",
    "CacheClusterEnabled",
    "CacheClusterSize",
    "MergeDefinitions",
    "Variables",
    "EndpointConfiguration",
    "MethodSettings",
    "BinaryMediaTypes",
    "MinimumCompressionSize",
    "Cors",
    "GatewayResponses",
    "AccessLogSetting",
    "CanarySetting",
    "TracingEnabled",
    "OpenApiVersion",
    "Domain",
    "AlwaysDeploy",
    "PropagateTags",
    "SecurityPolicy",
    "EndpointAccessMode",
];

/// Properties SAM accepts under `Globals.HttpApi`.
pub(crate) const HTTP_API_GLOBALS: &[&str] = &[
    "Auth",
    "AccessLogSettings",
    "StageVariables",
    "Tags",
    "CorsConfiguration",
    "DefaultRouteSettings",
    "Domain",
    "RouteSettings",
    "FailOnWarnings",
    "PropagateTags",
];

/// Paths whose lists replace rather than concatenate.
const REPLACED: &[&str] = &["Architectures"];

/// Reports properties SAM does not allow in each Globals section.
pub(crate) fn check(template: &Template, sink: &mut Sink) {
    let sections = [
        ("Function", &template.globals.function, FUNCTION_GLOBALS),
        ("Api", &template.globals.api, API_GLOBALS),
        ("HttpApi", &template.globals.http_api, HTTP_API_GLOBALS),
    ];
    for (section, map, allowed) in sections {
        let Some(map) = map else { continue };
        for (key, _) in &map.entries {
            if !allowed.contains(&key.name.as_str()) {
                sink.error(
                    Some(key.pos),
                    &Site::section(format!("Globals.{section}.{}", key.name)),
                    format!(
                        "`{}` is not allowed under Globals.{section}{}; set it on each resource \
                         instead",
                        key.name,
                        sink.did_you_mean(&key.name, allowed.iter().copied())
                    ),
                );
            }
        }
    }
}

/// Tells the sink where each Globals section's keys and values sit, so that
/// a problem with a global value, found while reading the resources it was
/// merged into, is reported once as the global's.
pub(crate) fn register_positions(template: &Template, sink: &mut Sink) {
    fn walk(node: &Node, section: &'static str, sink: &mut Sink) {
        sink.global_position(node.pos, section);
        match &node.value {
            Value::Map(map) => walk_map(map, section, sink),
            Value::Seq(items) => items.iter().for_each(|item| walk(item, section, sink)),
            Value::Null | Value::Scalar(_) | Value::Invalid => {}
        }
    }
    fn walk_map(map: &Map, section: &'static str, sink: &mut Sink) {
        for (key, value) in &map.entries {
            sink.global_position(key.pos, section);
            walk(value, section, sink);
        }
    }
    let sections = [
        ("Globals.Function", &template.globals.function),
        ("Globals.Api", &template.globals.api),
        ("Globals.HttpApi", &template.globals.http_api),
    ];
    for (section, map) in sections {
        if let Some(map) = map {
            walk_map(map, section, sink);
        }
    }
}

/// The resource's properties with `globals` merged in.
/// Properties `check` refused are left out rather than reported again for
/// every resource.
pub(crate) fn merge(
    globals: Option<&Map>,
    allowed: &[&str],
    resource: &Resource,
    sink: &mut Sink,
) -> Map {
    let Some(globals) = globals else {
        return resource.properties.clone();
    };
    let mut globals = globals.clone();
    globals
        .entries
        .retain(|(key, _)| allowed.contains(&key.name.as_str()));
    if let Some(ignore) = &resource.ignore_globals {
        let site = Site::resource(&resource.logical_id, "IgnoreGlobals");
        match &ignore.value {
            Value::Scalar(star) if star == "*" => return resource.properties.clone(),
            Value::Seq(items) => {
                for item in items {
                    match item.as_scalar() {
                        Some(name) if globals.get(name).is_some() => {
                            globals.entries.retain(|(k, _)| k.name != name);
                        }
                        _ => sink.error(
                            Some(item.pos),
                            &site,
                            "each IgnoreGlobals item must name a property set in Globals",
                        ),
                    }
                }
            }
            _ => sink.error(
                Some(ignore.pos),
                &site,
                "IgnoreGlobals must be `*` or a list of property names",
            ),
        }
    }
    merge_maps(&globals, &resource.properties, "")
}

fn merge_maps(global: &Map, local: &Map, path: &str) -> Map {
    let mut out = global.clone();
    for (key, local_value) in &local.entries {
        let child_path = if path.is_empty() {
            key.name.clone()
        } else {
            format!("{path}.{}", key.name)
        };
        match out.entries.iter_mut().find(|(k, _)| k.name == key.name) {
            Some((slot_key, slot)) => {
                *slot = merge_values(slot, local_value, &child_path);
                // Problems in the merged value are the resource's; point at it.
                *slot_key = key.clone();
            }
            None => out.entries.push((key.clone(), local_value.clone())),
        }
    }
    out
}

fn merge_values(global: &Node, local: &Node, path: &str) -> Node {
    match (&global.value, &local.value) {
        (Value::Map(g), Value::Map(l)) if !is_intrinsic(g) && !is_intrinsic(l) => {
            Node::new(Value::Map(merge_maps(g, l, path)), local.pos)
        }
        (Value::Seq(g), Value::Seq(l)) if !REPLACED.contains(&path) => {
            let mut items = g.clone();
            items.extend(l.iter().cloned());
            Node::new(Value::Seq(items), local.pos)
        }
        _ => local.clone(),
    }
}

/// Intrinsic calls merge like scalars: they resolve to one value.
fn is_intrinsic(map: &Map) -> bool {
    map.single().is_some_and(|(key, _)| {
        key.name == "Ref" || key.name == "Condition" || key.name.starts_with("Fn::")
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::app::diagnostic::Pos;
    use crate::app::yaml;
    use expect_test::{Expect, expect};
    use std::path::Path;

    fn check_merge(globals: &str, local: &str, expected: Expect) {
        let globals = yaml::parse(globals).unwrap();
        let local = yaml::parse(local).unwrap();
        let resource = Resource {
            logical_id: "F".to_owned(),
            pos: Pos::default(),
            kind: "AWS::Serverless::Function".to_owned(),
            properties: local.as_map().unwrap().clone(),
            properties_pos: Pos::default(),
            condition: None,
            metadata: None,
            ignore_globals: None,
            depends_on: Vec::new(),
        };
        let mut sink = Sink::new(Path::new("t.yaml"));
        let merged = merge(globals.as_map(), FUNCTION_GLOBALS, &resource, &mut sink);
        expected.assert_eq(&render(&Node::new(Value::Map(merged), Pos::default())));
    }

    fn render(node: &Node) -> String {
        match &node.value {
            Value::Scalar(s) => s.clone(),
            Value::Seq(items) => format!(
                "[{}]",
                items.iter().map(render).collect::<Vec<_>>().join(", ")
            ),
            Value::Map(map) => format!(
                "{{{}}}",
                map.entries
                    .iter()
                    .map(|(k, v)| format!("{}: {}", k.name, render(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Value::Null => "null".to_owned(),
            Value::Invalid => "<invalid>".to_owned(),
        }
    }

    #[test]
    fn scalars_are_replaced() {
        check_merge(
            "Timeout: 3\nRuntime: python3.12",
            "Timeout: 10",
            expect!["{Timeout: 10, Runtime: python3.12}"],
        );
    }

    #[test]
    fn maps_merge_deeply() {
        check_merge(
            "Environment: {Variables: {A: '1', B: '2'}}",
            "Environment: {Variables: {B: '3', C: '4'}}",
            expect!["{Environment: {Variables: {A: 1, B: 3, C: 4}}}"],
        );
    }

    #[test]
    fn lists_concatenate_but_architectures_replace() {
        check_merge(
            "Layers: [a, b]\nArchitectures: [x86_64]",
            "Layers: [c]\nArchitectures: [arm64]",
            expect!["{Layers: [a, b, c], Architectures: [arm64]}"],
        );
    }

    #[test]
    fn intrinsics_are_replaced_like_scalars() {
        check_merge(
            "Environment: {Variables: {A: !Ref P}}",
            "Environment: {Variables: {A: {Other: x}}}",
            expect!["{Environment: {Variables: {A: {Other: x}}}}"],
        );
        check_merge(
            "CodeUri: {Bucket: b}",
            "CodeUri: ./src",
            expect!["{CodeUri: ./src}"],
        );
    }
}
