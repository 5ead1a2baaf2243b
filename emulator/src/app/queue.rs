//! `AWS::SQS::Queue` resources to [`Queue`]s.

use std::collections::BTreeMap;
use std::time::Duration;

use super::diagnostic::Sink;
use super::model::{Queue, RedrivePolicy};
use super::read::{self, Props};
use super::resolve::Resolver;
use super::template::Resource;
use super::yaml::{Map, Node, Value};

const KNOWN_PROPERTIES: &[&str] = &[
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "QueueName",
    "ReceiveMessageWaitTimeSeconds",
    "RedriveAllowPolicy",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "Tags",
    "VisibilityTimeout",
];

const READ_PROPERTIES: &[&str] = &[
    "ContentBasedDeduplication",
    "DelaySeconds",
    "FifoQueue",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "Tags",
    "VisibilityTimeout",
];

/// Builds one queue; `None` when a problem (reported) leaves it unusable.
pub(crate) fn build(
    resource: &Resource,
    resolver: &mut Resolver<'_>,
    sink: &mut Sink,
) -> Option<Queue> {
    let id = resource.logical_id.as_str();
    read::check_known(
        id,
        "AWS::SQS::Queue",
        &resource.properties,
        KNOWN_PROPERTIES,
        sink,
    );
    let props = Props::resolve(
        resolver,
        id,
        &resource.properties,
        resource.properties_pos,
        READ_PROPERTIES,
        sink,
    );
    let mut ok = true;
    let name = resolver.physical_name(resource, sink);
    let mut flag = |name: &str| -> bool {
        match props.get(name) {
            None => false,
            Some(node) => read::boolean(node, &props.site(name), sink).unwrap_or_else(|| {
                ok = false;
                false
            }),
        }
    };
    let fifo = flag("FifoQueue");
    let content_based_deduplication = flag("ContentBasedDeduplication");
    let mut seconds = |name: &str, min: i64, max: i64| -> Option<i64> {
        let node = props.get(name)?;
        let value = read::integer(
            node,
            min,
            max,
            "a number of seconds",
            &props.site(name),
            sink,
        );
        if value.is_none() {
            ok = false;
        }
        value
    };
    let visibility_timeout = seconds("VisibilityTimeout", 0, 43_200);
    let message_retention_period = seconds("MessageRetentionPeriod", 60, 1_209_600);
    let delay = seconds("DelaySeconds", 0, 900);
    let receive_wait_time = seconds("ReceiveMessageWaitTimeSeconds", 0, 20);
    let maximum_message_size = match props.get("MaximumMessageSize") {
        None => None,
        Some(node) => {
            let value = read::integer(
                node,
                1024,
                1_048_576,
                "a size in bytes",
                &props.site("MaximumMessageSize"),
                sink,
            );
            if value.is_none() {
                ok = false;
            }
            value.map(|n| n as u32)
        }
    };
    if content_based_deduplication && !fifo {
        sink.error(
            props.get("ContentBasedDeduplication").map(|n| n.pos),
            &props.site("ContentBasedDeduplication"),
            "ContentBasedDeduplication only applies to FIFO queues; set FifoQueue: true or remove it",
        );
        ok = false;
    }
    let redrive_policy = match props.get("RedrivePolicy") {
        None => None,
        Some(node) => {
            let policy = read_redrive(node, &props, sink);
            if policy.is_none() {
                ok = false;
            }
            policy
        }
    };
    let tags = match props.get("Tags") {
        None => BTreeMap::new(),
        Some(node) => read_tags(node, &props, sink).unwrap_or_else(|| {
            ok = false;
            BTreeMap::new()
        }),
    };
    let secs = |n: i64| Duration::from_secs(n as u64);
    (ok && name.is_some()).then(|| Queue {
        logical_id: id.to_owned(),
        name: name.unwrap_or_default(),
        fifo,
        content_based_deduplication,
        visibility_timeout: visibility_timeout.map(secs),
        message_retention_period: message_retention_period.map(secs),
        delay: delay.map(secs),
        maximum_message_size,
        receive_wait_time: receive_wait_time.map(secs),
        redrive_policy,
        tags,
    })
}

/// `RedrivePolicy` as a map, or as the JSON string CloudFormation also takes.
fn read_redrive(node: &Node, props: &Props, sink: &mut Sink) -> Option<RedrivePolicy> {
    let site = props.site("RedrivePolicy");
    let parsed;
    let map: &Map = match &node.value {
        Value::Scalar(text) => {
            let Ok(serde_json::Value::Object(object)) =
                serde_json::from_str::<serde_json::Value>(text)
            else {
                sink.error(
                    Some(node.pos),
                    &site,
                    "RedrivePolicy must be a map or a JSON object with deadLetterTargetArn and \
                     maxReceiveCount",
                );
                return None;
            };
            let mut map = Map::default();
            for (key, value) in object {
                let text = match value {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                map.entries.push((
                    super::yaml::Key {
                        name: key,
                        pos: node.pos,
                    },
                    Node::scalar(text, node.pos),
                ));
            }
            parsed = map;
            &parsed
        }
        _ => read::map(node, &site, sink)?,
    };
    let arn = match map.get("deadLetterTargetArn") {
        Some(arn) => read::string(arn, &site.child("deadLetterTargetArn"), sink),
        None => {
            sink.error(
                Some(node.pos),
                &site.child("deadLetterTargetArn"),
                "missing deadLetterTargetArn; use !GetAtt DeadLetterQueue.Arn",
            );
            None
        }
    };
    let count = match map.get("maxReceiveCount") {
        Some(count) => read::integer(
            count,
            1,
            1000,
            "a receive count",
            &site.child("maxReceiveCount"),
            sink,
        ),
        None => {
            sink.error(
                Some(node.pos),
                &site.child("maxReceiveCount"),
                "missing maxReceiveCount (1 to 1000)",
            );
            None
        }
    };
    Some(RedrivePolicy {
        dead_letter_target_arn: arn?,
        max_receive_count: count? as u32,
    })
}

/// `Tags: [{Key: k, Value: v}, ...]`.
fn read_tags(node: &Node, props: &Props, sink: &mut Sink) -> Option<BTreeMap<String, String>> {
    let site = props.site("Tags");
    let items = read::list(node, &site, sink)?;
    let mut tags = BTreeMap::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let item_site = site.index(i);
        let Some(map) = read::map(item, &item_site, sink) else {
            ok = false;
            continue;
        };
        match (map.get("Key"), map.get("Value")) {
            (Some(key), Some(value)) => {
                match (
                    read::string(key, &item_site.child("Key"), sink),
                    read::string(value, &item_site.child("Value"), sink),
                ) {
                    (Some(key), Some(value)) => {
                        tags.insert(key, value);
                    }
                    _ => ok = false,
                }
            }
            _ => {
                sink.error(Some(item.pos), &item_site, "each tag needs Key and Value");
                ok = false;
            }
        }
    }
    ok.then_some(tags)
}
