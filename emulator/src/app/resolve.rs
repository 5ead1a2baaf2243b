//! Intrinsic functions, conditions and the values references resolve to.
//!
//! [`Resolver::resolve`] turns a template node into a plain node: every
//! `Ref`, `Fn::*` and `AWS::NoValue` is evaluated against the parameters,
//! the conditions, the mappings and the emulated resources' physical names.
//! Evaluation is lazy and memoised (a condition or a function name is worked
//! out when first needed), with cycle detection and a depth limit so that a
//! hostile template cannot loop or overflow the stack. A failure is reported
//! once at the failing node and leaves [`Value::Invalid`] in its place, so
//! readers further on stay silent about it instead of piling up follow-on
//! errors.

use std::collections::{BTreeMap, HashMap, HashSet};

use base64::Engine as _;

use super::diagnostic::{Pos, Sink, Site};
use super::model::Identity;
use super::params::ParamValue;
use super::template::{Entry, Resource, Template};
use super::yaml::{Key, Map, Node, Value};

pub(crate) const FUNCTION: &str = "AWS::Serverless::Function";
pub(crate) const API: &str = "AWS::Serverless::Api";
pub(crate) const HTTP_API: &str = "AWS::Serverless::HttpApi";
pub(crate) const LAYER: &str = "AWS::Serverless::LayerVersion";
pub(crate) const QUEUE: &str = "AWS::SQS::Queue";

/// The resource types Fogbank emulates (or, for layers, uses locally).
pub(crate) const EMULATED: &[&str] = &[FUNCTION, API, HTTP_API, LAYER, QUEUE];

/// Implicit APIs SAM creates for events that name no API.
pub(crate) const IMPLICIT_REST_API: &str = "ServerlessRestApi";
pub(crate) const IMPLICIT_HTTP_API: &str = "ServerlessHttpApi";

const PSEUDO_PARAMETERS: &[&str] = &[
    "AWS::AccountId",
    "AWS::NoValue",
    "AWS::NotificationARNs",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
];

/// Bound on nested evaluation (tree depth plus chains of conditions and
/// names), keeping recursion well inside a 2 MB thread stack.
const MAX_EVAL_DEPTH: usize = 160;

enum Memo<T> {
    InProgress,
    Done(Option<T>),
}

/// Evaluates intrinsics for one template. See the module docs.
pub(crate) struct Resolver<'t> {
    template: &'t Template,
    identity: &'t Identity,
    sqs_endpoint: String,
    params: BTreeMap<String, ParamValue>,
    resources: HashMap<&'t str, &'t Resource>,
    /// Logical IDs of `AWS::Serverless::*` resources, the prefixes of the
    /// resources SAM generates from them.
    serverless_ids: HashSet<&'t str>,
    conditions: HashMap<&'t str, &'t Entry>,
    mappings: HashMap<&'t str, &'t Entry>,
    condition_memo: HashMap<String, Memo<bool>>,
    name_memo: HashMap<String, Memo<String>>,
    depth: usize,
    /// Non-zero while evaluating an intrinsic's arguments: problems there
    /// belong to the property holding the call, so paths stop growing.
    in_intrinsic: usize,
}

impl<'t> Resolver<'t> {
    pub fn new(
        template: &'t Template,
        identity: &'t Identity,
        sqs_endpoint: &str,
        params: BTreeMap<String, ParamValue>,
    ) -> Resolver<'t> {
        Resolver {
            template,
            identity,
            sqs_endpoint: sqs_endpoint.trim_end_matches('/').to_owned(),
            params,
            resources: template
                .resources
                .iter()
                .map(|r| (r.logical_id.as_str(), r))
                .collect(),
            serverless_ids: template
                .resources
                .iter()
                .filter(|r| r.kind.starts_with("AWS::Serverless::"))
                .map(|r| r.logical_id.as_str())
                .collect(),
            conditions: template
                .conditions
                .iter()
                .map(|c| (c.name.as_str(), c))
                .collect(),
            mappings: template
                .mappings
                .iter()
                .map(|m| (m.name.as_str(), m))
                .collect(),
            condition_memo: HashMap::new(),
            name_memo: HashMap::new(),
            depth: 0,
            in_intrinsic: 0,
        }
    }

    /// `{sqs_endpoint}/{account_id}/{queue_name}`.
    pub fn queue_url(&self, queue_name: &str) -> String {
        format!(
            "{}/{}/{}",
            self.sqs_endpoint, self.identity.account_id, queue_name
        )
    }

    /// Whether a resource is created: true unless its `Condition` is false.
    /// A condition that fails to evaluate counts as true so that the
    /// resource's own problems are still reported.
    pub fn is_active(&mut self, resource: &Resource, sink: &mut Sink) -> bool {
        match &resource.condition {
            None => true,
            Some((name, pos)) => {
                let site = Site::resource(&resource.logical_id, "Condition");
                self.condition(name, *pos, &site, sink).unwrap_or(true)
            }
        }
    }

    // ----- conditions -----

    /// Evaluates the named condition; `None` when it fails (reported).
    pub fn condition(
        &mut self,
        name: &str,
        pos: Pos,
        site: &Site,
        sink: &mut Sink,
    ) -> Option<bool> {
        match self.condition_memo.get(name) {
            Some(Memo::Done(value)) => return *value,
            Some(Memo::InProgress) => {
                sink.error(
                    Some(pos),
                    site,
                    format!("condition `{name}` refers to itself through other conditions"),
                );
                return None;
            }
            None => {}
        }
        let Some(entry) = self.conditions.get(name).copied() else {
            sink.error(
                Some(pos),
                site,
                format!(
                    "unknown condition `{name}`{}; declare it under `Conditions`",
                    sink.did_you_mean(name, self.conditions.keys().copied())
                ),
            );
            return None;
        };
        if !self.enter(pos, site, sink) {
            return None;
        }
        self.condition_memo
            .insert(name.to_owned(), Memo::InProgress);
        let condition_site = Site::section(format!("Conditions.{name}"));
        let value = self.eval_condition(&entry.node, &condition_site, sink);
        self.condition_memo
            .insert(name.to_owned(), Memo::Done(value));
        self.depth -= 1;
        value
    }

    /// Evaluates a condition expression: `Fn::Equals`, `Fn::Not`, `Fn::And`,
    /// `Fn::Or` or `Condition`.
    fn eval_condition(&mut self, node: &Node, site: &Site, sink: &mut Sink) -> Option<bool> {
        if !self.enter(node.pos, site, sink) {
            return None;
        }
        let value = self.eval_condition_inner(node, site, sink);
        self.depth -= 1;
        value
    }

    fn eval_condition_inner(&mut self, node: &Node, site: &Site, sink: &mut Sink) -> Option<bool> {
        if let Value::Invalid = node.value {
            return None;
        }
        let Some((key, arg)) = node.as_map().and_then(Map::single) else {
            // A literal boolean is what Fn::If branches of conditions end in
            // after substitution; accept it.
            if let Some(text) = node.as_scalar()
                && let Some(b) = parse_bool(text)
            {
                return Some(b);
            }
            sink.error(
                Some(node.pos),
                site,
                "a condition must be Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition",
            );
            return None;
        };
        match key.name.as_str() {
            "Condition" => {
                let Some(name) = arg.as_scalar() else {
                    sink.error(Some(arg.pos), site, "`Condition` takes a condition name");
                    return None;
                };
                self.condition(name, arg.pos, site, sink)
            }
            "Fn::Equals" => {
                let items = self.fixed_args(arg, 2, "Fn::Equals", site, sink)?;
                let a = self.resolve(&items[0], site, sink);
                let b = self.resolve(&items[1], site, sink);
                let a = self.scalar_of(a, items[0].pos, "Fn::Equals", site, sink)?;
                let b = self.scalar_of(b, items[1].pos, "Fn::Equals", site, sink)?;
                Some(a == b)
            }
            "Fn::Not" => {
                let items = self.fixed_args(arg, 1, "Fn::Not", site, sink)?;
                self.eval_condition(&items[0], site, sink).map(|b| !b)
            }
            "Fn::And" | "Fn::Or" => {
                let Value::Seq(items) = &arg.value else {
                    sink.error(
                        Some(arg.pos),
                        site,
                        format!("{} takes a list of 2 to 10 conditions", key.name),
                    );
                    return None;
                };
                if !(2..=10).contains(&items.len()) {
                    sink.error(
                        Some(arg.pos),
                        site,
                        format!(
                            "{} takes 2 to 10 conditions, found {}",
                            key.name,
                            items.len()
                        ),
                    );
                }
                // Every operand is evaluated (no short circuit) so that every
                // broken operand is reported.
                let mut results = Vec::with_capacity(items.len());
                for item in items {
                    results.push(self.eval_condition(item, site, sink));
                }
                let results: Option<Vec<bool>> = results.into_iter().collect();
                let results = results?;
                Some(if key.name == "Fn::And" {
                    results.iter().all(|b| *b)
                } else {
                    results.iter().any(|b| *b)
                })
            }
            "Fn::If" => {
                let value = self.resolve(node, site, sink)?;
                self.eval_condition_inner(&value, site, sink)
            }
            other => {
                sink.error(
                    Some(key.pos),
                    site,
                    format!(
                        "`{other}` cannot be used as a condition; use Fn::Equals, Fn::Not, \
                         Fn::And, Fn::Or or Condition"
                    ),
                );
                None
            }
        }
    }

    // ----- resolution -----

    fn enter(&mut self, pos: Pos, site: &Site, sink: &mut Sink) -> bool {
        if self.depth >= MAX_EVAL_DEPTH {
            sink.error(
                Some(pos),
                site,
                format!(
                    "intrinsic functions, conditions or references nest more than \
                     {MAX_EVAL_DEPTH} levels deep; simplify the template"
                ),
            );
            return false;
        }
        self.depth += 1;
        true
    }

    /// Resolves every intrinsic in `node`. `None` means the value is
    /// `AWS::NoValue`: the property (or list item) is absent.
    pub fn resolve(&mut self, node: &Node, site: &Site, sink: &mut Sink) -> Option<Node> {
        if !self.enter(node.pos, site, sink) {
            return Some(invalid(node.pos));
        }
        let value = self.resolve_inner(node, site, sink);
        self.depth -= 1;
        value
    }

    fn resolve_inner(&mut self, node: &Node, site: &Site, sink: &mut Sink) -> Option<Node> {
        match &node.value {
            Value::Null | Value::Scalar(_) | Value::Invalid => Some(node.clone()),
            Value::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let child = if self.in_intrinsic > 0 {
                        site.clone()
                    } else {
                        site.index(i)
                    };
                    if let Some(resolved) = self.resolve(item, &child, sink) {
                        out.push(resolved);
                    }
                }
                Some(Node::new(Value::Seq(out), node.pos))
            }
            Value::Map(map) => {
                if let Some((key, arg)) = map.single()
                    && is_intrinsic(&key.name)
                {
                    return self.intrinsic(key, arg, node.pos, site, sink);
                }
                let mut out = Map::default();
                for (key, value) in &map.entries {
                    let child = if self.in_intrinsic > 0 {
                        site.clone()
                    } else {
                        site.child(&key.name)
                    };
                    if let Some(resolved) = self.resolve(value, &child, sink) {
                        out.entries.push((key.clone(), resolved));
                    }
                }
                Some(Node::new(Value::Map(out), node.pos))
            }
        }
    }

    fn intrinsic(
        &mut self,
        key: &Key,
        arg: &Node,
        pos: Pos,
        site: &Site,
        sink: &mut Sink,
    ) -> Option<Node> {
        self.in_intrinsic += 1;
        let value = self.intrinsic_inner(key, arg, pos, site, sink);
        self.in_intrinsic -= 1;
        value
    }

    fn intrinsic_inner(
        &mut self,
        key: &Key,
        arg: &Node,
        pos: Pos,
        site: &Site,
        sink: &mut Sink,
    ) -> Option<Node> {
        let name = key.name.as_str();
        let result = match name {
            "Ref" => {
                let Some(target) = arg.as_scalar() else {
                    sink.error(
                        Some(arg.pos),
                        site,
                        format!(
                            "!Ref takes the name of a parameter or resource, found {}",
                            arg.kind_name()
                        ),
                    );
                    return Some(invalid(pos));
                };
                if target == "AWS::NoValue" {
                    return None;
                }
                self.reference(target, arg.pos, "!Ref", site, sink)
            }
            "Fn::GetAtt" => self.fn_get_att(arg, site, sink),
            "Fn::Sub" => self.fn_sub(arg, site, sink),
            "Fn::Join" => self.fn_join(arg, site, sink),
            "Fn::Select" => self.fn_select(arg, site, sink),
            "Fn::Split" => self.fn_split(arg, site, sink),
            "Fn::If" => return self.fn_if(arg, pos, site, sink),
            "Fn::FindInMap" => self.fn_find_in_map(arg, site, sink),
            "Fn::Base64" => {
                let value = self.resolve(arg, site, sink);
                self.scalar_of(value, arg.pos, name, site, sink)
                    .map(|text| {
                        Node::scalar(
                            base64::engine::general_purpose::STANDARD.encode(text.as_bytes()),
                            pos,
                        )
                    })
            }
            "Fn::GetAZs" => {
                let value = self.resolve(arg, site, sink);
                let region = match value {
                    Some(Node {
                        value: Value::Null, ..
                    }) => String::new(),
                    other => self.scalar_of(other, arg.pos, name, site, sink)?,
                };
                let region = if region.is_empty() {
                    self.identity.region.clone()
                } else {
                    region
                };
                let zones = ["a", "b", "c"]
                    .iter()
                    .map(|z| Node::scalar(format!("{region}{z}"), pos))
                    .collect();
                Some(Node::new(Value::Seq(zones), pos))
            }
            "Fn::Length" => {
                let value = self.resolve(arg, site, sink);
                match value.map(|n| n.value) {
                    Some(Value::Seq(items)) => Some(Node::scalar(items.len().to_string(), pos)),
                    Some(Value::Invalid) => None,
                    _ => {
                        sink.error(Some(arg.pos), site, "Fn::Length takes a list");
                        None
                    }
                }
            }
            "Fn::ToJsonString" => {
                let value = self.resolve(arg, site, sink)?;
                to_json(&value).map(|json| Node::scalar(json.to_string(), pos))
            }
            "Fn::ImportValue" => {
                sink.error(
                    Some(key.pos),
                    site,
                    "Fn::ImportValue reads another stack's outputs, which do not exist offline; \
                     use a parameter instead and set it with --parameter-overrides",
                );
                None
            }
            "Condition" => {
                // `{Condition: X}` outside a condition is not an intrinsic
                // CloudFormation evaluates; it stays a literal map.
                return Some(Node::new(
                    Value::Map(Map {
                        entries: vec![(key.clone(), arg.clone())],
                    }),
                    pos,
                ));
            }
            "Fn::Equals" | "Fn::Not" | "Fn::And" | "Fn::Or" => {
                sink.error(
                    Some(key.pos),
                    site,
                    format!(
                        "{name} may only be used under `Conditions`; declare a condition and \
                         use it with Fn::If"
                    ),
                );
                None
            }
            other => {
                sink.error(
                    Some(key.pos),
                    site,
                    format!(
                        "intrinsic function `{other}` is not supported locally; supported are \
                         Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select, Fn::Split, Fn::If, \
                         Fn::FindInMap, Fn::Base64, Fn::GetAZs, Fn::Length and Fn::ToJsonString"
                    ),
                );
                None
            }
        };
        Some(result.unwrap_or_else(|| invalid(pos)))
    }

    /// Resolves `arg` and requires a scalar. `None` when it is not one
    /// (reported) or was already invalid (silent).
    fn scalar_of(
        &mut self,
        value: Option<Node>,
        pos: Pos,
        function: &str,
        site: &Site,
        sink: &mut Sink,
    ) -> Option<String> {
        match value {
            Some(Node {
                value: Value::Scalar(text),
                ..
            }) => Some(text),
            Some(Node {
                value: Value::Invalid,
                ..
            }) => None,
            Some(other) => {
                sink.error(
                    Some(pos),
                    site,
                    format!(
                        "{function} expects a string here, found {}",
                        other.kind_name()
                    ),
                );
                None
            }
            None => {
                sink.error(
                    Some(pos),
                    site,
                    format!("{function} expects a string here, found AWS::NoValue"),
                );
                None
            }
        }
    }

    /// The items of a list argument that must have exactly `n` entries.
    fn fixed_args<'n>(
        &self,
        arg: &'n Node,
        n: usize,
        function: &str,
        site: &Site,
        sink: &mut Sink,
    ) -> Option<&'n [Node]> {
        match &arg.value {
            Value::Seq(items) if items.len() == n => Some(items),
            Value::Seq(items) => {
                sink.error(
                    Some(arg.pos),
                    site,
                    format!(
                        "{function} takes a list of {n} items, found {}",
                        items.len()
                    ),
                );
                None
            }
            _ => {
                sink.error(
                    Some(arg.pos),
                    site,
                    format!(
                        "{function} takes a list of {n} items, found {}",
                        arg.kind_name()
                    ),
                );
                None
            }
        }
    }

    /// What `!Ref target` yields.
    /// `how` names the construct in messages (`!Ref`, `!Sub`).
    pub fn reference(
        &mut self,
        target: &str,
        pos: Pos,
        how: &str,
        site: &Site,
        sink: &mut Sink,
    ) -> Option<Node> {
        if let Some(param) = self.params.get(target) {
            return match param {
                ParamValue::Scalar(text) => Some(Node::scalar(text.clone(), pos)),
                ParamValue::List(items) => Some(Node::new(
                    Value::Seq(items.iter().map(|s| Node::scalar(s.clone(), pos)).collect()),
                    pos,
                )),
                ParamValue::Invalid => None,
            };
        }
        if let Some(value) = self.pseudo(target, pos) {
            return Some(value);
        }
        let Some(resource) = self.resources.get(target).copied() else {
            if self.is_generated(target) {
                return Some(Node::scalar(target, pos));
            }
            sink.error(Some(pos), site, self.unknown_ref_message(target, how, sink));
            return None;
        };
        if !self.check_active(resource, pos, site, sink) {
            return None;
        }
        let text = match resource.kind.as_str() {
            FUNCTION => self.physical_name(resource, sink)?,
            QUEUE => {
                let name = self.physical_name(resource, sink)?;
                self.queue_url(&name)
            }
            LAYER => {
                let name = self.physical_name(resource, sink)?;
                self.layer_arn(&name)
            }
            _ => resource.logical_id.clone(),
        };
        Some(Node::scalar(text, pos))
    }

    fn pseudo(&self, name: &str, pos: Pos) -> Option<Node> {
        let id = self.identity;
        let text = match name {
            "AWS::Region" => id.region.clone(),
            "AWS::AccountId" => id.account_id.clone(),
            "AWS::StackName" => id.stack_name.clone(),
            "AWS::Partition" => id.partition.clone(),
            "AWS::URLSuffix" => {
                if id.partition == "aws-cn" {
                    "amazonaws.com.cn".to_owned()
                } else {
                    "amazonaws.com".to_owned()
                }
            }
            "AWS::StackId" => format!(
                "arn:{}:cloudformation:{}:{}:stack/{}/00000000-0000-0000-0000-000000000000",
                id.partition, id.region, id.account_id, id.stack_name
            ),
            "AWS::NotificationARNs" => return Some(Node::new(Value::Seq(Vec::new()), pos)),
            _ => return None,
        };
        Some(Node::scalar(text, pos))
    }

    /// `arn:aws:lambda:REGION:ACCOUNT:layer:NAME:1`: what `!Ref` to a local
    /// layer yields, and how a function's `Layers` entry finds it again.
    pub fn layer_arn(&self, name: &str) -> String {
        let id = self.identity;
        format!(
            "arn:{}:lambda:{}:{}:layer:{}:1",
            id.partition, id.region, id.account_id, name
        )
    }

    /// True for logical IDs SAM generates from the template's own resources
    /// (`ServerlessRestApi`, `HelloFunctionRole`, `MyApiProdStage`...):
    /// templates commonly name them in `Outputs`, and they are real once
    /// deployed, so referring to them is not an error.
    fn is_generated(&self, target: &str) -> bool {
        if target.starts_with(IMPLICIT_REST_API) || target.starts_with(IMPLICIT_HTTP_API) {
            return true;
        }
        // Every proper prefix of the target is looked up, which keeps this
        // linear in the target's length however many resources there are.
        target
            .char_indices()
            .skip(1)
            .any(|(i, _)| self.serverless_ids.contains(&target[..i]))
    }

    fn unknown_ref_message(&self, target: &str, how: &str, sink: &Sink) -> String {
        let candidates = self
            .params
            .keys()
            .map(String::as_str)
            .chain(self.resources.keys().copied())
            .chain(PSEUDO_PARAMETERS.iter().copied());
        format!(
            "unknown reference `{target}` in {how}{}; it is not a parameter, a pseudo parameter \
             or a resource of this template",
            sink.did_you_mean(target, candidates)
        )
    }

    fn check_active(
        &mut self,
        resource: &Resource,
        pos: Pos,
        site: &Site,
        sink: &mut Sink,
    ) -> bool {
        if self.is_active(resource, sink) {
            return true;
        }
        let condition = resource
            .condition
            .as_ref()
            .map(|(name, _)| name.as_str())
            .unwrap_or_default();
        sink.error(
            Some(pos),
            site,
            format!(
                "refers to `{}`, which is not created because its condition `{condition}` is \
                 false; guard the reference with !If [{condition}, ..., !Ref AWS::NoValue]",
                resource.logical_id
            ),
        );
        false
    }

    /// The physical name of a function, queue or layer: its name property
    /// when set, else a name derived from the logical ID. Memoised; reports
    /// a bad or circular name once.
    pub fn physical_name(&mut self, resource: &Resource, sink: &mut Sink) -> Option<String> {
        let id = resource.logical_id.as_str();
        match self.name_memo.get(id) {
            Some(Memo::Done(name)) => return name.clone(),
            Some(Memo::InProgress) => {
                let property = match resource.kind.as_str() {
                    FUNCTION => "FunctionName",
                    QUEUE => "QueueName",
                    _ => "LayerName",
                };
                let pos = resource
                    .properties
                    .get(property)
                    .map_or(resource.pos, |n| n.pos);
                sink.error(
                    Some(pos),
                    &Site::resource(id, format!("Properties.{property}")),
                    "the name refers back to the resource itself; give a literal name or one \
                     built from parameters",
                );
                return None;
            }
            None => {}
        }
        if !self.enter(resource.pos, &Site::resource(id, ""), sink) {
            return None;
        }
        self.name_memo.insert(id.to_owned(), Memo::InProgress);
        let name = match resource.kind.as_str() {
            FUNCTION => self.function_name(resource, sink),
            QUEUE => self.queue_name(resource, sink),
            LAYER => self.named(resource, "LayerName", sink),
            _ => Some(id.to_owned()),
        };
        self.name_memo
            .insert(id.to_owned(), Memo::Done(name.clone()));
        self.depth -= 1;
        name
    }

    /// Resolves a name property. `Some(None)`-like results collapse: a
    /// missing property yields the logical ID, a bad one `None`.
    fn named(&mut self, resource: &Resource, property: &str, sink: &mut Sink) -> Option<String> {
        let Some(node) = resource.properties.get(property) else {
            return Some(resource.logical_id.clone());
        };
        let site = Site::resource(&resource.logical_id, format!("Properties.{property}"));
        match self.resolve(node, &site, sink) {
            None => Some(resource.logical_id.clone()),
            Some(Node {
                value: Value::Scalar(name),
                ..
            }) => Some(name),
            Some(Node {
                value: Value::Invalid,
                ..
            }) => None,
            Some(other) => {
                sink.error(
                    Some(other.pos),
                    &site,
                    format!("expected a name, found {}", other.kind_name()),
                );
                None
            }
        }
    }

    fn function_name(&mut self, resource: &Resource, sink: &mut Sink) -> Option<String> {
        let name = self.named(resource, "FunctionName", sink)?;
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            let pos = resource
                .properties
                .get("FunctionName")
                .map_or(resource.pos, |n| n.pos);
            sink.error(
                Some(pos),
                &Site::resource(&resource.logical_id, "Properties.FunctionName"),
                format!(
                    "function name `{name}` is invalid; use 1 to 64 letters, digits, hyphens or \
                     underscores"
                ),
            );
            return None;
        }
        Some(name)
    }

    fn queue_name(&mut self, resource: &Resource, sink: &mut Sink) -> Option<String> {
        let fifo = match resource.properties.get("FifoQueue") {
            None => false,
            Some(node) => {
                let site = Site::resource(&resource.logical_id, "Properties.FifoQueue");
                match self.resolve(node, &site, sink) {
                    Some(Node {
                        value: Value::Scalar(text),
                        ..
                    }) => parse_bool(&text).unwrap_or(false),
                    _ => false,
                }
            }
        };
        let site = Site::resource(&resource.logical_id, "Properties.QueueName");
        let pos = resource.properties.get("QueueName").map(|n| n.pos);
        if pos.is_none() {
            return Some(generated_queue_name(
                &self.identity.stack_name,
                &resource.logical_id,
                fifo,
            ));
        }
        let name = self.named(resource, "QueueName", sink)?;
        let stem = name.strip_suffix(".fifo").unwrap_or(&name);
        let valid = !stem.is_empty()
            && name.len() <= 80
            && stem
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            sink.error(
                pos,
                &site,
                format!(
                    "queue name `{name}` is invalid; use 1 to 80 letters, digits, hyphens or \
                     underscores (plus `.fifo` for FIFO queues)"
                ),
            );
            return None;
        }
        if fifo && !name.ends_with(".fifo") {
            sink.error(
                pos,
                &site,
                format!("FIFO queue name `{name}` must end in `.fifo`; rename it `{name}.fifo`"),
            );
            return None;
        }
        if !fifo && name.ends_with(".fifo") {
            sink.error(
                pos,
                &site,
                format!("queue name `{name}` ends in `.fifo` but FifoQueue is not true; set FifoQueue: true"),
            );
            return None;
        }
        Some(name)
    }

    fn fn_get_att(&mut self, arg: &Node, site: &Site, sink: &mut Sink) -> Option<Node> {
        let (resource, attribute, pos) = match &arg.value {
            Value::Scalar(text) => match text.split_once('.') {
                Some((r, a)) if !r.is_empty() && !a.is_empty() => {
                    (r.to_owned(), a.to_owned(), arg.pos)
                }
                _ => {
                    sink.error(
                        Some(arg.pos),
                        site,
                        format!("!GetAtt takes `Resource.Attribute`, found `{text}`"),
                    );
                    return None;
                }
            },
            Value::Seq(items) if items.len() == 2 => {
                let Some(resource) = items[0].as_scalar() else {
                    sink.error(
                        Some(items[0].pos),
                        site,
                        "Fn::GetAtt takes a logical ID as its first item",
                    );
                    return None;
                };
                let attribute = self.resolve(&items[1], site, sink);
                let attribute =
                    self.scalar_of(attribute, items[1].pos, "Fn::GetAtt", site, sink)?;
                (resource.to_owned(), attribute, items[0].pos)
            }
            _ => {
                sink.error(
                    Some(arg.pos),
                    site,
                    "Fn::GetAtt takes `Resource.Attribute` or [Resource, Attribute]",
                );
                return None;
            }
        };
        self.get_att(&resource, &attribute, pos, "!GetAtt", site, sink)
            .map(|text| Node::scalar(text, pos))
    }

    /// What `!GetAtt resource.attribute` yields.
    fn get_att(
        &mut self,
        target: &str,
        attribute: &str,
        pos: Pos,
        how: &str,
        site: &Site,
        sink: &mut Sink,
    ) -> Option<String> {
        let Some(resource) = self.resources.get(target).copied() else {
            if self.is_generated(target) {
                return Some(self.placeholder_attribute(
                    "AWS::Serverless::Generated",
                    target,
                    attribute,
                ));
            }
            sink.error(Some(pos), site, self.unknown_ref_message(target, how, sink));
            return None;
        };
        if !self.check_active(resource, pos, site, sink) {
            return None;
        }
        let Some(supported) = supported_attributes(&resource.kind) else {
            return Some(self.placeholder_attribute(&resource.kind, target, attribute));
        };
        if !supported.contains(&attribute) {
            sink.error(
                Some(pos),
                site,
                unknown_attribute_message(resource, attribute, supported, sink),
            );
            return None;
        }
        let name = self.physical_name(resource, sink)?;
        Some(match (resource.kind.as_str(), attribute) {
            (FUNCTION, _) => self.identity.function_arn(&name),
            (_, "Arn") => self.identity.queue_arn(&name),
            (_, "QueueUrl") => self.queue_url(&name),
            _ => name,
        })
    }

    /// A stand-in for an attribute of a resource Fogbank does not emulate:
    /// ARN-shaped for `Arn` so SDK argument validation passes, else
    /// `Resource.Attribute`.
    fn placeholder_attribute(&self, kind: &str, target: &str, attribute: &str) -> String {
        if attribute == "Arn" {
            let service = kind
                .split("::")
                .nth(1)
                .unwrap_or("unknown")
                .to_ascii_lowercase();
            let id = self.identity;
            format!(
                "arn:{}:{}:{}:{}:{}",
                id.partition, service, id.region, id.account_id, target
            )
        } else {
            format!("{target}.{attribute}")
        }
    }

    fn fn_sub(&mut self, arg: &Node, site: &Site, sink: &mut Sink) -> Option<Node> {
        let (template, template_pos, locals) = match &arg.value {
            Value::Scalar(text) => (text.clone(), arg.pos, BTreeMap::new()),
            Value::Seq(items) if items.len() == 2 => {
                let Some(text) = items[0].as_scalar() else {
                    sink.error(
                        Some(items[0].pos),
                        site,
                        "Fn::Sub takes a string as its first item",
                    );
                    return None;
                };
                let Some(vars) = items[1].as_map() else {
                    sink.error(
                        Some(items[1].pos),
                        site,
                        format!(
                            "Fn::Sub takes a map of variables as its second item, found {}",
                            items[1].kind_name()
                        ),
                    );
                    return None;
                };
                let mut locals = BTreeMap::new();
                let mut ok = true;
                for (key, value) in &vars.entries {
                    let resolved = self.resolve(value, site, sink);
                    match self.scalar_of(resolved, value.pos, "Fn::Sub", site, sink) {
                        Some(text) => {
                            locals.insert(key.name.clone(), text);
                        }
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                (text.to_owned(), items[0].pos, locals)
            }
            _ => {
                sink.error(
                    Some(arg.pos),
                    site,
                    "Fn::Sub takes a string or [string, {variables}]",
                );
                return None;
            }
        };
        let mut out = String::with_capacity(template.len());
        let mut ok = true;
        for piece in sub_pieces(&template) {
            match piece {
                SubPiece::Text(text) => out.push_str(text),
                SubPiece::Var(name) => {
                    if let Some(value) = locals.get(name) {
                        out.push_str(value);
                        continue;
                    }
                    let value = match name.split_once('.') {
                        Some((resource, attribute)) if !self.params.contains_key(name) => self
                            .get_att(resource, attribute, template_pos, "!Sub", site, sink)
                            .map(|text| Node::scalar(text, template_pos)),
                        _ => self.reference(name, template_pos, "!Sub", site, sink),
                    };
                    match value.map(|n| n.value) {
                        Some(Value::Scalar(text)) => out.push_str(&text),
                        None | Some(Value::Invalid) => ok = false,
                        Some(_) => {
                            sink.error(
                                Some(template_pos),
                                site,
                                format!(
                                    "`${{{name}}}` is a list; Fn::Sub can only substitute \
                                     strings (use Fn::Join to make one)"
                                ),
                            );
                            ok = false;
                        }
                    }
                }
            }
        }
        ok.then(|| Node::scalar(out, arg.pos))
    }

    fn fn_join(&mut self, arg: &Node, site: &Site, sink: &mut Sink) -> Option<Node> {
        let items = self.fixed_args(arg, 2, "Fn::Join", site, sink)?;
        let delimiter = self.resolve(&items[0], site, sink);
        let delimiter = match delimiter {
            Some(Node {
                value: Value::Null, ..
            }) => String::new(),
            other => self.scalar_of(other, items[0].pos, "Fn::Join", site, sink)?,
        };
        let parts = self.list_of_strings(&items[1], "Fn::Join", site, sink)?;
        Some(Node::scalar(parts.join(&delimiter), arg.pos))
    }

    /// Resolves a node that must be a list of strings.
    fn list_of_strings(
        &mut self,
        node: &Node,
        function: &str,
        site: &Site,
        sink: &mut Sink,
    ) -> Option<Vec<String>> {
        let resolved = self.resolve(node, site, sink);
        match resolved.map(|n| n.value) {
            Some(Value::Seq(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let pos = item.pos;
                    out.push(self.scalar_of(Some(item), pos, function, site, sink)?);
                }
                Some(out)
            }
            Some(Value::Invalid) => None,
            Some(other) => {
                let found = Node::new(other, node.pos);
                sink.error(
                    Some(node.pos),
                    site,
                    format!(
                        "{function} expects a list here, found {}",
                        found.kind_name()
                    ),
                );
                None
            }
            None => {
                sink.error(
                    Some(node.pos),
                    site,
                    format!("{function} expects a list here, found AWS::NoValue"),
                );
                None
            }
        }
    }

    fn fn_select(&mut self, arg: &Node, site: &Site, sink: &mut Sink) -> Option<Node> {
        let items = self.fixed_args(arg, 2, "Fn::Select", site, sink)?;
        let index = self.resolve(&items[0], site, sink);
        let index = self.scalar_of(index, items[0].pos, "Fn::Select", site, sink)?;
        let Ok(index) = index.trim().parse::<usize>() else {
            sink.error(
                Some(items[0].pos),
                site,
                format!("Fn::Select index `{index}` is not a non-negative whole number"),
            );
            return None;
        };
        let list = self.resolve(&items[1], site, sink);
        match list.map(|n| n.value) {
            Some(Value::Seq(values)) => {
                let len = values.len();
                match values.into_iter().nth(index) {
                    Some(value) => Some(value),
                    None => {
                        sink.error(
                            Some(items[0].pos),
                            site,
                            format!("Fn::Select index {index} is out of range for a list of {len}"),
                        );
                        None
                    }
                }
            }
            Some(Value::Invalid) => None,
            _ => {
                sink.error(Some(items[1].pos), site, "Fn::Select expects a list here");
                None
            }
        }
    }

    fn fn_split(&mut self, arg: &Node, site: &Site, sink: &mut Sink) -> Option<Node> {
        let items = self.fixed_args(arg, 2, "Fn::Split", site, sink)?;
        let delimiter = self.resolve(&items[0], site, sink);
        let delimiter = self.scalar_of(delimiter, items[0].pos, "Fn::Split", site, sink)?;
        if delimiter.is_empty() {
            sink.error(
                Some(items[0].pos),
                site,
                "Fn::Split needs a non-empty delimiter",
            );
            return None;
        }
        let text = self.resolve(&items[1], site, sink);
        let text = self.scalar_of(text, items[1].pos, "Fn::Split", site, sink)?;
        let parts = text
            .split(delimiter.as_str())
            .map(|part| Node::scalar(part, arg.pos))
            .collect();
        Some(Node::new(Value::Seq(parts), arg.pos))
    }

    fn fn_if(&mut self, arg: &Node, pos: Pos, site: &Site, sink: &mut Sink) -> Option<Node> {
        let Some(items) = self.fixed_args(arg, 3, "Fn::If", site, sink) else {
            return Some(invalid(pos));
        };
        let Some(name) = items[0].as_scalar() else {
            sink.error(
                Some(items[0].pos),
                site,
                "Fn::If takes a condition name as its first item",
            );
            return Some(invalid(pos));
        };
        match self.condition(name, items[0].pos, site, sink) {
            Some(true) => self.resolve(&items[1], site, sink),
            Some(false) => self.resolve(&items[2], site, sink),
            None => Some(invalid(pos)),
        }
    }

    fn fn_find_in_map(&mut self, arg: &Node, site: &Site, sink: &mut Sink) -> Option<Node> {
        let items = match &arg.value {
            Value::Seq(items) if items.len() == 3 || items.len() == 4 => items,
            _ => {
                sink.error(
                    Some(arg.pos),
                    site,
                    "Fn::FindInMap takes [MapName, TopLevelKey, SecondLevelKey]",
                );
                return None;
            }
        };
        let mut keys = Vec::with_capacity(3);
        for item in &items[..3] {
            let value = self.resolve(item, site, sink);
            keys.push(self.scalar_of(value, item.pos, "Fn::FindInMap", site, sink)?);
        }
        // The fourth item is AWS::LanguageExtensions' `{DefaultValue: x}`.
        let default = items
            .get(3)
            .and_then(|n| n.as_map())
            .and_then(|m| m.get("DefaultValue"));
        let Some(mapping) = self.mappings.get(keys[0].as_str()).copied() else {
            sink.error(
                Some(items[0].pos),
                site,
                format!(
                    "unknown mapping `{}`{}; declare it under `Mappings`",
                    keys[0],
                    sink.did_you_mean(&keys[0], self.mappings.keys().copied())
                ),
            );
            return None;
        };
        let found = mapping
            .node
            .as_map()
            .and_then(|m| m.get(&keys[1]))
            .and_then(Node::as_map)
            .and_then(|m| m.get(&keys[2]));
        match (found, default) {
            (Some(value), _) => {
                let value = value.clone();
                self.resolve(&value, site, sink)
            }
            (None, Some(default)) => self.resolve(default, site, sink),
            (None, None) => {
                sink.error(
                    Some(arg.pos),
                    site,
                    format!(
                        "mapping `{}` has no entry `{}` / `{}`",
                        keys[0], keys[1], keys[2]
                    ),
                );
                None
            }
        }
    }

    // ----- reference check -----

    /// Reports every reference in `node` to something the template does
    /// not declare: `Ref`/`GetAtt`/`Sub` targets, `Fn::If` and `Condition`
    /// names, and mapping names. Runs over every resource and output,
    /// including the properties Fogbank never evaluates, because
    /// CloudFormation would reject such a template when deployed.
    pub fn check_references(&self, node: &Node, site: &Site, sink: &mut Sink) {
        self.check_references_at(node, site, sink, false, 0);
    }

    fn check_references_at(
        &self,
        node: &Node,
        site: &Site,
        sink: &mut Sink,
        frozen: bool,
        depth: usize,
    ) {
        if depth > MAX_EVAL_DEPTH {
            return;
        }
        match &node.value {
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    let child = if frozen { site.clone() } else { site.index(i) };
                    self.check_references_at(item, &child, sink, frozen, depth + 1);
                }
            }
            Value::Map(map) => {
                if let Some((key, arg)) = map.single() {
                    match (key.name.as_str(), &arg.value) {
                        ("Ref", Value::Scalar(target)) => {
                            self.check_target(target, arg.pos, "!Ref", site, sink);
                        }
                        ("Fn::GetAtt", Value::Scalar(text)) => {
                            if let Some((target, attribute)) = text.split_once('.') {
                                self.check_target(target, arg.pos, "!GetAtt", site, sink);
                                self.check_attribute(target, attribute, arg.pos, site, sink);
                            }
                        }
                        ("Fn::GetAtt", Value::Seq(items)) => {
                            if let Some(target) = items.first().and_then(Node::as_scalar) {
                                self.check_target(target, arg.pos, "!GetAtt", site, sink);
                                if let Some(attribute) = items.get(1).and_then(Node::as_scalar) {
                                    self.check_attribute(target, attribute, arg.pos, site, sink);
                                }
                            }
                        }
                        ("Fn::Sub", _) => {
                            self.check_sub(arg, site, sink, depth);
                            return;
                        }
                        ("Fn::If", Value::Seq(items)) => {
                            if let Some(name) = items.first().and_then(Node::as_scalar) {
                                self.check_condition(name, items[0].pos, site, sink);
                            }
                        }
                        ("Fn::FindInMap", Value::Seq(items)) => {
                            if let Some(name) = items.first().and_then(Node::as_scalar)
                                && !self.mappings.contains_key(name)
                            {
                                sink.error(
                                    Some(items[0].pos),
                                    site,
                                    format!(
                                        "unknown mapping `{name}`{}; declare it under `Mappings`",
                                        sink.did_you_mean(name, self.mappings.keys().copied())
                                    ),
                                );
                            }
                        }
                        _ => {}
                    }
                }
                let intrinsic = map.single().is_some_and(|(key, _)| is_intrinsic(&key.name));
                for (key, value) in &map.entries {
                    // Arguments of an intrinsic belong to the property that
                    // holds the call, so the path stops growing there.
                    let frozen = frozen || intrinsic;
                    let child = if frozen {
                        site.clone()
                    } else {
                        site.child(&key.name)
                    };
                    self.check_references_at(value, &child, sink, frozen, depth + 1);
                }
            }
            Value::Null | Value::Scalar(_) | Value::Invalid => {}
        }
    }

    fn check_sub(&self, arg: &Node, site: &Site, sink: &mut Sink, depth: usize) {
        let (text, pos, locals): (&str, Pos, Vec<String>) = match &arg.value {
            Value::Scalar(text) => (text, arg.pos, Vec::new()),
            Value::Seq(items) if items.len() == 2 => {
                let locals = items[1]
                    .as_map()
                    .map(|m| m.entries.iter().map(|(k, _)| k.name.clone()).collect())
                    .unwrap_or_default();
                self.check_references_at(&items[1], site, sink, true, depth + 1);
                match items[0].as_scalar() {
                    Some(text) => (text, items[0].pos, locals),
                    None => return,
                }
            }
            _ => return,
        };
        for piece in sub_pieces(text) {
            if let SubPiece::Var(name) = piece {
                if locals.iter().any(|l| l == name) {
                    continue;
                }
                let target = match name.split_once('.') {
                    Some((resource, _)) if !self.params.contains_key(name) => resource,
                    _ => name,
                };
                self.check_target(target, pos, "!Sub", site, sink);
            }
        }
    }

    fn check_target(&self, target: &str, pos: Pos, how: &str, site: &Site, sink: &mut Sink) {
        let known = self.params.contains_key(target)
            || PSEUDO_PARAMETERS.contains(&target)
            || self.resources.contains_key(target)
            || self.is_generated(target);
        if !known {
            sink.error(Some(pos), site, self.unknown_ref_message(target, how, sink));
        }
    }

    fn check_attribute(
        &self,
        target: &str,
        attribute: &str,
        pos: Pos,
        site: &Site,
        sink: &mut Sink,
    ) {
        if let Some(resource) = self.resources.get(target)
            && let Some(supported) = supported_attributes(&resource.kind)
            && !supported.contains(&attribute)
        {
            sink.error(
                Some(pos),
                site,
                unknown_attribute_message(resource, attribute, supported, sink),
            );
        }
    }

    fn check_condition(&self, name: &str, pos: Pos, site: &Site, sink: &mut Sink) {
        if !self.conditions.contains_key(name) {
            sink.error(
                Some(pos),
                site,
                format!(
                    "unknown condition `{name}`{}; declare it under `Conditions`",
                    sink.did_you_mean(name, self.conditions.keys().copied())
                ),
            );
        }
    }

    /// Checks that every condition's expression refers only to declared
    /// names, and evaluates it so its own errors surface.
    pub fn check_conditions(&mut self, sink: &mut Sink) {
        let template = self.template;
        for entry in &template.conditions {
            let site = Site::section(format!("Conditions.{}", entry.name));
            self.check_references(&entry.node, &site, sink);
            self.walk_condition_names(&entry.node, &site, sink, 0);
            self.condition(&entry.name, entry.pos, &site, sink);
        }
    }

    fn walk_condition_names(&self, node: &Node, site: &Site, sink: &mut Sink, depth: usize) {
        if depth > MAX_EVAL_DEPTH {
            return;
        }
        if let Some(map) = node.as_map() {
            if let Some((key, arg)) = map.single()
                && key.name == "Condition"
                && let Some(name) = arg.as_scalar()
            {
                self.check_condition(name, arg.pos, site, sink);
            }
            for (_, value) in &map.entries {
                self.walk_condition_names(value, site, sink, depth + 1);
            }
        } else if let Value::Seq(items) = &node.value {
            for item in items {
                self.walk_condition_names(item, site, sink, depth + 1);
            }
        }
    }
}

/// The `Fn::GetAtt` attributes of emulated types; `None` for types whose
/// attributes become placeholders.
fn supported_attributes(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        FUNCTION => Some(&["Arn"]),
        QUEUE => Some(&["Arn", "QueueName", "QueueUrl"]),
        _ => None,
    }
}

fn unknown_attribute_message(
    resource: &Resource,
    attribute: &str,
    supported: &[&str],
    sink: &Sink,
) -> String {
    format!(
        "{} has no attribute `{attribute}`{}; use {}",
        resource.kind,
        sink.did_you_mean(attribute, supported.iter().copied()),
        supported
            .iter()
            .map(|a| format!("{}.{a}", resource.logical_id))
            .collect::<Vec<_>>()
            .join(" or ")
    )
}

fn invalid(pos: Pos) -> Node {
    Node::new(Value::Invalid, pos)
}

/// True for keys that make a single-key map an intrinsic function call.
fn is_intrinsic(key: &str) -> bool {
    key == "Ref" || key == "Condition" || key.starts_with("Fn::")
}

/// CloudFormation's booleans: `true`/`false` in any case.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

enum SubPiece<'a> {
    Text(&'a str),
    Var(&'a str),
}

/// Splits an `Fn::Sub` string into literal text and `${Var}` references.
/// `${!Literal}` is the escape for a literal `${Literal}`, and a `${` with
/// no closing brace is literal text, as in CloudFormation.
fn sub_pieces(text: &str) -> Vec<SubPiece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            break;
        };
        if start > 0 {
            pieces.push(SubPiece::Text(&rest[..start]));
        }
        let inner = &after[..end];
        if let Some(literal) = inner.strip_prefix('!') {
            pieces.push(SubPiece::Text("${"));
            pieces.push(SubPiece::Text(literal));
            pieces.push(SubPiece::Text("}"));
        } else {
            pieces.push(SubPiece::Var(inner.trim()));
        }
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        pieces.push(SubPiece::Text(rest));
    }
    pieces
}

/// `<stack>-<LogicalId>-<SUFFIX>` with a suffix that is stable across runs
/// (derived from the stack and logical ID, where CloudFormation uses a random
/// one), truncated to SQS's 80-character limit.
pub(crate) fn generated_queue_name(stack: &str, logical_id: &str, fifo: bool) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in stack.bytes().chain([b'/']).chain(logical_id.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut suffix = String::with_capacity(12);
    for _ in 0..12 {
        suffix.push(char::from(ALPHABET[(hash % 36) as usize]));
        hash /= 36;
    }
    let tail = if fifo { ".fifo" } else { "" };
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    };
    let mut prefix = format!("{}-{}", clean(stack), clean(logical_id));
    let room = 80 - suffix.len() - 1 - tail.len();
    prefix.truncate(room);
    format!("{prefix}-{suffix}{tail}")
}

/// Renders a resolved node as JSON for `Fn::ToJsonString`.
fn to_json(node: &Node) -> Option<serde_json::Value> {
    Some(match &node.value {
        Value::Null => serde_json::Value::Null,
        Value::Scalar(text) => serde_json::Value::String(text.clone()),
        Value::Seq(items) => {
            serde_json::Value::Array(items.iter().map(to_json).collect::<Option<_>>()?)
        }
        Value::Map(map) => serde_json::Value::Object(
            map.entries
                .iter()
                .map(|(k, v)| Some((k.name.clone(), to_json(v)?)))
                .collect::<Option<_>>()?,
        ),
        Value::Invalid => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_pieces_split() {
        let render = |text: &str| -> String {
            sub_pieces(text)
                .iter()
                .map(|p| match p {
                    SubPiece::Text(t) => format!("T({t})"),
                    SubPiece::Var(v) => format!("V({v})"),
                })
                .collect()
        };
        assert_eq!(
            render("a${B}c${!D}e${F.G}"),
            "T(a)V(B)T(c)T(${)T(D)T(})T(e)V(F.G)"
        );
        assert_eq!(render("${unclosed"), "T(${unclosed)");
        assert_eq!(render(""), "");
    }

    #[test]
    fn generated_queue_names_are_stable_and_bounded() {
        let a = generated_queue_name("fogbank", "Orders", false);
        assert_eq!(a, generated_queue_name("fogbank", "Orders", false));
        assert!(a.starts_with("fogbank-Orders-"), "{a}");
        let long = generated_queue_name(&"s".repeat(100), "Q", true);
        assert_eq!(long.len(), 80);
        assert!(long.ends_with(".fifo"));
    }
}
