//! The application model: SAM template in, typed [`App`] out.
//!
//! [`load`] reads a template and returns the resolved [`App`] plus
//! warnings, or every problem found. The stages, each in its own module:
//!
//! 1. [`yaml`]: text to a position-carrying tree, short-form tags turned
//!    into long-form intrinsics, with limits against hostile input;
//! 2. [`template`]: the tree split into sections (`Parameters`,
//!    `Resources`, ...), checking the template's shape;
//! 3. [`params`]: parameter values from defaults and overrides;
//! 4. [`resolve`]: conditions and intrinsic functions, plus a reference
//!    check over the whole template;
//! 5. [`globals`], then [`queue`], [`layer`], [`function`] and [`api`]
//!    build the model types from resolved properties.
//!
//! Architecture invariant: no stage stops at the first problem. Problems go
//! to a [`diagnostic::Sink`] and a value that failed becomes
//! `Value::Invalid`, which later readers skip silently, so one mistake gives
//! one message and `fogbank validate` lists everything at once.
//!
//! Architecture invariant: only [`yaml`] knows the YAML library; nothing
//! past the loader sees YAML or template nodes, only [`model`] types.

mod api;
mod diagnostic;
mod function;
mod globals;
mod layer;
mod model;
mod params;
mod queue;
mod read;
mod resolve;
mod template;
mod yaml;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use model::*;

use diagnostic::{Sink, Site};
use resolve::{EMULATED, FUNCTION, LAYER, QUEUE, Resolver};

/// How to load a template.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `--parameter-overrides`: values for template parameters, by name.
    pub parameter_overrides: BTreeMap<String, String>,
    /// Base URL that `!Ref Queue` / `GetAtt Queue.QueueUrl` resolve under, e.g. "http://127.0.0.1:9324".
    /// A queue URL is `{sqs_endpoint}/{account_id}/{queue_name}`.
    pub sqs_endpoint: String,
    /// Region, account and stack used for pseudo parameters and ARNs.
    pub identity: Identity,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            parameter_overrides: BTreeMap::new(),
            sqs_endpoint: "http://127.0.0.1:9324".to_owned(),
            identity: Identity::default(),
        }
    }
}

/// A template that loaded: the model and the warnings found on the way
/// (ignored resources, unfetchable layers...), in source order.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub app: App,
    pub warnings: Vec<Diagnostic>,
}

/// Reads and loads the template at `path`.
///
/// # Errors
///
/// Every problem found, errors and warnings, in source order, when the file
/// cannot be read or the template has at least one error.
pub fn load(path: &Path, options: &LoadOptions) -> Result<Loaded, Diagnostics> {
    let bytes = std::fs::read(path).map_err(|e| {
        single_error(
            path,
            None,
            format!("cannot read the template: {e}; pass the right file with --template PATH"),
        )
    })?;
    let source = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        single_error(
            path,
            Some(u32::try_from(line).unwrap_or(u32::MAX)),
            "the template is not valid UTF-8; save it as UTF-8".to_owned(),
        )
    })?;
    load_str(&source, path, options)
}

fn single_error(path: &Path, line: Option<u32>, message: String) -> Diagnostics {
    Diagnostics(vec![Diagnostic {
        severity: Severity::Error,
        file: path.to_owned(),
        line,
        column: None,
        resource: None,
        property: None,
        message,
    }])
}

/// Loads a template from text. `path` names the file in messages, and
/// relative `CodeUri`, `ContentUri` and layer paths resolve against its
/// directory.
///
/// # Errors
///
/// Every problem found, errors and warnings, in source order, when the
/// template has at least one error.
pub fn load_str(source: &str, path: &Path, options: &LoadOptions) -> Result<Loaded, Diagnostics> {
    let mut sink = Sink::new(path);
    let app = load_into(source, path, options, &mut sink);
    match app {
        Some(app) if !sink.has_errors() => Ok(Loaded {
            app,
            warnings: sink.finish(),
        }),
        _ => Err(Diagnostics(sink.finish())),
    }
}

fn load_into(source: &str, path: &Path, options: &LoadOptions, sink: &mut Sink) -> Option<App> {
    let template_path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let root_dir = function::normalize(template_path.parent().unwrap_or(Path::new("/")));

    let root = match yaml::parse(source) {
        Ok(root) => root,
        Err(e) => {
            sink.error(e.pos, &Site::default(), e.message);
            return None;
        }
    };
    let template = template::read(&root, sink);
    drop(root);
    globals::check(&template, sink);
    globals::register_positions(&template, sink);
    let params = params::resolve(&template.parameters, &options.parameter_overrides, sink);
    let mut resolver = Resolver::new(&template, &options.identity, &options.sqs_endpoint, params);

    check_references(&template, &mut resolver, sink);

    let mut active = Vec::new();
    for resource in &template.resources {
        if resolver.is_active(resource, sink) {
            active.push(resource);
        }
    }
    check_types(&active, sink);

    // Queues first: functions' SQS events find them by ARN.
    let mut queues = BTreeMap::new();
    let mut queue_arns = BTreeMap::new();
    for resource in active.iter().filter(|r| r.kind == QUEUE) {
        if let Some(name) = resolver.physical_name(resource, sink) {
            queue_arns.insert(
                options.identity.queue_arn(&name),
                resource.logical_id.clone(),
            );
        }
        if let Some(queue) = queue::build(resource, &mut resolver, sink) {
            queues.insert(resource.logical_id.clone(), queue);
        }
    }
    check_redrive_targets(&queues, &queue_arns, &template, sink);

    let mut layers = BTreeMap::new();
    for resource in active.iter().filter(|r| r.kind == LAYER) {
        let name = resolver.physical_name(resource, sink);
        let dir = layer::build(resource, &root_dir, &mut resolver, sink);
        if let (Some(name), Some(dir)) = (name, dir) {
            layers.insert(resolver.layer_arn(&name), dir);
        }
    }

    let mut function_arns = BTreeMap::new();
    for resource in active.iter().filter(|r| r.kind == FUNCTION) {
        if let Some(name) = resolver.physical_name(resource, sink) {
            function_arns.insert(
                options.identity.function_arn(&name),
                resource.logical_id.clone(),
            );
        }
    }
    let context = function::Context {
        root_dir: &root_dir,
        layers: &layers,
        queue_arns: &queue_arns,
    };
    let mut built = Vec::new();
    for resource in active.iter().filter(|r| r.kind == FUNCTION) {
        let merged = globals::merge(
            template.globals.function.as_ref(),
            globals::FUNCTION_GLOBALS,
            resource,
            sink,
        );
        built.push(function::build(
            resource,
            &merged,
            &mut resolver,
            &context,
            sink,
        ));
    }

    let apis = api::assemble(
        &template,
        &active,
        &mut resolver,
        &mut built,
        &function_arns,
        sink,
    );

    let mut names: HashMap<String, String> = HashMap::new();
    let mut functions = BTreeMap::new();
    for b in built {
        if b.named {
            if let Some(first) = names.get(&b.function.name) {
                sink.error(
                    Some(b.pos),
                    &Site::resource(&b.function.logical_id, "Properties.FunctionName"),
                    format!(
                        "function name `{}` is already used by {first}; function names must be \
                         unique",
                        b.function.name
                    ),
                );
                continue;
            }
            names.insert(b.function.name.clone(), b.function.logical_id.clone());
        }
        if b.complete {
            functions.insert(b.function.logical_id.clone(), Arc::new(b.function));
        }
    }

    Some(App {
        template_path,
        root_dir,
        identity: options.identity.clone(),
        functions,
        apis,
        queues,
    })
}

/// Reports references to undeclared names anywhere in the template.
fn check_references(template: &template::Template, resolver: &mut Resolver<'_>, sink: &mut Sink) {
    resolver.check_conditions(sink);
    for resource in &template.resources {
        for (key, value) in &resource.properties.entries {
            let site = Site::resource(&resource.logical_id, format!("Properties.{}", key.name));
            resolver.check_references(value, &site, sink);
        }
        for (target, pos) in &resource.depends_on {
            if template.resource(target).is_none() {
                sink.error(
                    Some(*pos),
                    &Site::resource(&resource.logical_id, "DependsOn"),
                    format!(
                        "DependsOn names `{target}`, which is not a resource of this template{}",
                        sink.did_you_mean(
                            target,
                            template.resources.iter().map(|r| r.logical_id.as_str())
                        )
                    ),
                );
            }
        }
    }
    for (section, map) in [
        ("Function", &template.globals.function),
        ("Api", &template.globals.api),
        ("HttpApi", &template.globals.http_api),
    ] {
        for (key, value) in map.iter().flat_map(|m| m.entries.iter()) {
            let site = Site::section(format!("Globals.{section}.{}", key.name));
            resolver.check_references(value, &site, sink);
        }
    }
    for output in &template.outputs {
        let site = Site::section(format!("Outputs.{}", output.name));
        resolver.check_references(&output.node, &site, sink);
    }
}

/// The `AWS::Serverless::*` types SAM defines.
const SAM_TYPES: &[&str] = &[
    "AWS::Serverless::Api",
    "AWS::Serverless::Application",
    "AWS::Serverless::CapacityProvider",
    "AWS::Serverless::Connector",
    "AWS::Serverless::Function",
    "AWS::Serverless::GraphQLApi",
    "AWS::Serverless::HttpApi",
    "AWS::Serverless::LayerVersion",
    "AWS::Serverless::SimpleTable",
    "AWS::Serverless::StateMachine",
    "AWS::Serverless::WebSocketApi",
];

/// Warns about resources Fogbank ignores; errors on misspelt SAM types.
fn check_types(active: &[&template::Resource], sink: &mut Sink) {
    for resource in active {
        let kind = resource.kind.as_str();
        if EMULATED.contains(&kind) {
            continue;
        }
        let site = Site::resource(&resource.logical_id, "Type");
        if kind.starts_with("AWS::Serverless::") && !SAM_TYPES.contains(&kind) {
            sink.error(
                Some(resource.pos),
                &site,
                format!(
                    "unknown SAM resource type `{kind}`{}",
                    sink.did_you_mean(kind, SAM_TYPES.iter().copied())
                ),
            );
            continue;
        }
        sink.warning(
            Some(resource.pos),
            &site,
            format!(
                "{kind} is not emulated; the resource is ignored and references to it resolve \
                 to placeholders"
            ),
        );
    }
}

/// Warns when a dead-letter target is not a queue of this template, since
/// redriven messages would then go nowhere locally.
fn check_redrive_targets(
    queues: &BTreeMap<String, Queue>,
    queue_arns: &BTreeMap<String, String>,
    template: &template::Template,
    sink: &mut Sink,
) {
    for queue in queues.values() {
        let Some(policy) = &queue.redrive_policy else {
            continue;
        };
        if !queue_arns.contains_key(&policy.dead_letter_target_arn) {
            let pos = template
                .resource(&queue.logical_id)
                .and_then(|r| r.properties.get("RedrivePolicy"))
                .map(|n| n.pos);
            sink.warning(
                pos,
                &Site::resource(
                    &queue.logical_id,
                    "Properties.RedrivePolicy.deadLetterTargetArn",
                ),
                format!(
                    "dead-letter queue `{}` is not a queue of this template; use !GetAtt \
                     MyDeadLetterQueue.Arn",
                    policy.dead_letter_target_arn
                ),
            );
        }
    }
}
