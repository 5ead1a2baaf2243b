//! Queue attributes: the settable ones parsed and validated into a
//! [`QueueConfig`], with AWS's ranges, defaults and error messages.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::types::SqsError;

/// The default and upper limit of `MaximumMessageSize`: 1 MiB, as AWS
/// documents it since 2025.
pub const MAX_MESSAGE_SIZE: u32 = 1_048_576;

/// Every queue attribute name AWS knows, settable or read-only.
pub const QUEUE_ATTRIBUTE_NAMES: &[&str] = &[
    "Policy",
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
    "ApproximateNumberOfMessagesDelayed",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedriveAllowPolicy",
    "SqsManagedSseEnabled",
];

/// A queue's `RedrivePolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redrive {
    pub dead_letter_target_arn: String,
    pub max_receive_count: u32,
}

/// Whether FIFO deduplication is per queue or per message group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DedupScope {
    Queue,
    MessageGroup,
}

/// A queue's settable attributes, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueConfig {
    pub fifo: bool,
    pub visibility_timeout_s: u32,
    pub delay_s: u32,
    pub maximum_message_size: u32,
    pub retention_s: u32,
    pub receive_wait_s: u32,
    pub redrive: Option<Redrive>,
    /// `RedriveAllowPolicy`, stored as given (validated to be a JSON object).
    pub redrive_allow_policy: Option<String>,
    pub policy: Option<String>,
    pub content_based_dedup: bool,
    pub dedup_scope: DedupScope,
    /// `perQueue` or `perMessageGroupId`; informational here.
    pub fifo_throughput_limit_per_group: bool,
    pub kms_master_key_id: Option<String>,
    pub kms_data_key_reuse_s: u32,
    pub sqs_managed_sse: bool,
}

impl QueueConfig {
    /// AWS's defaults for a new queue.
    pub fn new(fifo: bool) -> QueueConfig {
        QueueConfig {
            fifo,
            visibility_timeout_s: 30,
            delay_s: 0,
            maximum_message_size: MAX_MESSAGE_SIZE,
            retention_s: 345_600,
            receive_wait_s: 0,
            redrive: None,
            redrive_allow_policy: None,
            policy: None,
            content_based_dedup: false,
            dedup_scope: DedupScope::Queue,
            fifo_throughput_limit_per_group: false,
            kms_master_key_id: None,
            kms_data_key_reuse_s: 300,
            sqs_managed_sse: true,
        }
    }

    /// Applies `attributes` (as given to CreateQueue or SetQueueAttributes).
    /// `creating` allows `FifoQueue`, which cannot change later.
    pub fn apply(
        &mut self,
        attributes: &BTreeMap<String, String>,
        creating: bool,
    ) -> Result<(), SqsError> {
        for (name, value) in attributes {
            self.apply_one(name, value, creating)?;
        }
        if !self.fifo
            && (attributes.contains_key("ContentBasedDeduplication")
                || attributes.contains_key("DeduplicationScope")
                || attributes.contains_key("FifoThroughputLimit"))
        {
            return Err(SqsError::InvalidAttributeName(
                "You can specify the ContentBasedDeduplication, DeduplicationScope and \
                     FifoThroughputLimit attributes only for FIFO queues."
                    .into(),
            ));
        }
        Ok(())
    }

    fn apply_one(&mut self, name: &str, value: &str, creating: bool) -> Result<(), SqsError> {
        let invalid =
            || SqsError::InvalidAttributeValue(format!("Invalid value for the parameter {name}."));
        let int = |lo: u32, hi: u32| -> Result<u32, SqsError> {
            value
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|v| (lo..=hi).contains(v))
                .ok_or_else(invalid)
        };
        let boolean = || -> Result<bool, SqsError> {
            match value.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(invalid()),
            }
        };
        match name {
            "VisibilityTimeout" => self.visibility_timeout_s = int(0, 43_200)?,
            "DelaySeconds" => self.delay_s = int(0, 900)?,
            "MaximumMessageSize" => self.maximum_message_size = int(1024, MAX_MESSAGE_SIZE)?,
            "MessageRetentionPeriod" => self.retention_s = int(60, 1_209_600)?,
            "ReceiveMessageWaitTimeSeconds" => self.receive_wait_s = int(0, 20)?,
            "KmsDataKeyReusePeriodSeconds" => self.kms_data_key_reuse_s = int(60, 86_400)?,
            "SqsManagedSseEnabled" => self.sqs_managed_sse = boolean()?,
            "KmsMasterKeyId" => {
                self.kms_master_key_id = (!value.is_empty()).then(|| value.to_owned())
            }
            "Policy" => {
                if value.is_empty() {
                    self.policy = None;
                } else if serde_json::from_str::<serde_json::Value>(value).is_ok() {
                    self.policy = Some(value.to_owned());
                } else {
                    return Err(invalid());
                }
            }
            "RedrivePolicy" => self.redrive = parse_redrive(value)?,
            "RedriveAllowPolicy" => {
                if value.is_empty() {
                    self.redrive_allow_policy = None;
                } else {
                    let parsed: serde_json::Value = serde_json::from_str(value).map_err(|_| {
                        SqsError::InvalidAttributeValue(format!(
                            "Value {value} for parameter RedriveAllowPolicy is invalid. Reason: Invalid JSON."
                        ))
                    })?;
                    let permission = parsed.get("redrivePermission").and_then(|p| p.as_str());
                    if !matches!(permission, Some("allowAll" | "denyAll" | "byQueue")) {
                        return Err(SqsError::InvalidAttributeValue(format!(
                            "Value {value} for parameter RedriveAllowPolicy is invalid. Reason: \
                             Amazon SQS can't create the redrive allow policy, as it's in an unsupported format."
                        )));
                    }
                    self.redrive_allow_policy = Some(value.to_owned());
                }
            }
            "FifoQueue" => {
                let fifo = boolean()?;
                if !creating && fifo != self.fifo {
                    return Err(SqsError::InvalidAttributeName(
                        "Invalid attribute name FifoQueue: it can only be set when creating a queue."
                            .into(),
                    ));
                }
                self.fifo = fifo;
            }
            "ContentBasedDeduplication" => self.content_based_dedup = boolean()?,
            "DeduplicationScope" => {
                self.dedup_scope = match value {
                    "queue" => DedupScope::Queue,
                    "messageGroup" => DedupScope::MessageGroup,
                    _ => return Err(invalid()),
                }
            }
            "FifoThroughputLimit" => {
                self.fifo_throughput_limit_per_group = match value {
                    "perQueue" => false,
                    "perMessageGroupId" => true,
                    _ => return Err(invalid()),
                }
            }
            _ if QUEUE_ATTRIBUTE_NAMES.contains(&name) => {
                // A read-only attribute such as QueueArn.
                return Err(SqsError::InvalidAttributeName(format!(
                    "Unknown Attribute {name}."
                )));
            }
            _ => {
                return Err(SqsError::InvalidAttributeName(format!(
                    "Unknown Attribute {name}."
                )));
            }
        }
        Ok(())
    }

    /// The settable attributes as AWS renders them in GetQueueAttributes.
    pub fn render(&self) -> BTreeMap<&'static str, String> {
        let mut out = BTreeMap::new();
        out.insert("VisibilityTimeout", self.visibility_timeout_s.to_string());
        out.insert("DelaySeconds", self.delay_s.to_string());
        out.insert("MaximumMessageSize", self.maximum_message_size.to_string());
        out.insert("MessageRetentionPeriod", self.retention_s.to_string());
        out.insert(
            "ReceiveMessageWaitTimeSeconds",
            self.receive_wait_s.to_string(),
        );
        out.insert("SqsManagedSseEnabled", self.sqs_managed_sse.to_string());
        if let Some(redrive) = &self.redrive {
            out.insert(
                "RedrivePolicy",
                serde_json::json!({
                    "deadLetterTargetArn": redrive.dead_letter_target_arn,
                    "maxReceiveCount": redrive.max_receive_count,
                })
                .to_string(),
            );
        }
        if let Some(p) = &self.redrive_allow_policy {
            out.insert("RedriveAllowPolicy", p.clone());
        }
        if let Some(p) = &self.policy {
            out.insert("Policy", p.clone());
        }
        if let Some(k) = &self.kms_master_key_id {
            out.insert("KmsMasterKeyId", k.clone());
            out.insert(
                "KmsDataKeyReusePeriodSeconds",
                self.kms_data_key_reuse_s.to_string(),
            );
        }
        if self.fifo {
            out.insert("FifoQueue", "true".into());
            out.insert(
                "ContentBasedDeduplication",
                self.content_based_dedup.to_string(),
            );
            out.insert(
                "DeduplicationScope",
                match self.dedup_scope {
                    DedupScope::Queue => "queue",
                    DedupScope::MessageGroup => "messageGroup",
                }
                .into(),
            );
            out.insert(
                "FifoThroughputLimit",
                if self.fifo_throughput_limit_per_group {
                    "perMessageGroupId"
                } else {
                    "perQueue"
                }
                .into(),
            );
        }
        out
    }
}

/// Parses a `RedrivePolicy` value; `maxReceiveCount` may be a number or a
/// numeric string, as CloudFormation and the console both send it.
fn parse_redrive(value: &str) -> Result<Option<Redrive>, SqsError> {
    if value.is_empty() {
        return Ok(None);
    }
    let invalid = |reason: &str| {
        SqsError::InvalidParameterValue(format!(
            "Value {value} for parameter RedrivePolicy is invalid. Reason: {reason}"
        ))
    };
    let parsed: serde_json::Value = serde_json::from_str(value)
        .map_err(|_| invalid("Redrive policy is not a valid JSON map."))?;
    let arn = parsed
        .get("deadLetterTargetArn")
        .and_then(|a| a.as_str())
        .ok_or_else(|| {
            invalid("Redrive policy does not contain mandatory attribute: deadLetterTargetArn.")
        })?;
    let count = match parsed.get("maxReceiveCount") {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<u64>().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        invalid("Redrive policy does not contain mandatory attribute: maxReceiveCount.")
    })?;
    if !(1..=1000).contains(&count) {
        return Err(invalid(
            "Invalid value for maxReceiveCount: must be between 1 and 1000.",
        ));
    }
    if !arn.starts_with("arn:") || arn.split(':').count() != 6 {
        return Err(invalid("Invalid value for deadLetterTargetArn."));
    }
    Ok(Some(Redrive {
        dead_letter_target_arn: arn.to_owned(),
        max_receive_count: count as u32,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    fn check(pairs: &[(&str, &str)], expected: Expect) {
        let attributes: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut config = QueueConfig::new(false);
        let actual = match config.apply(&attributes, true) {
            Ok(()) => format!("{:?}", config.render()),
            Err(e) => format!("{e:?}"),
        };
        expected.assert_eq(&actual);
    }

    #[test]
    fn defaults_render_as_aws_does() {
        check(
            &[],
            expect![[
                r#"{"DelaySeconds": "0", "MaximumMessageSize": "1048576", "MessageRetentionPeriod": "345600", "ReceiveMessageWaitTimeSeconds": "0", "SqsManagedSseEnabled": "true", "VisibilityTimeout": "30"}"#
            ]],
        );
    }

    #[test]
    fn ranges_are_enforced() {
        check(
            &[("VisibilityTimeout", "43201")],
            expect![[
                r#"InvalidAttributeValue("Invalid value for the parameter VisibilityTimeout.")"#
            ]],
        );
        check(
            &[("DelaySeconds", "-1")],
            expect![[r#"InvalidAttributeValue("Invalid value for the parameter DelaySeconds.")"#]],
        );
        check(
            &[("MaximumMessageSize", "1023")],
            expect![[
                r#"InvalidAttributeValue("Invalid value for the parameter MaximumMessageSize.")"#
            ]],
        );
        check(
            &[("Bogus", "1")],
            expect![[r#"InvalidAttributeName("Unknown Attribute Bogus.")"#]],
        );
        check(
            &[("QueueArn", "x")],
            expect![[r#"InvalidAttributeName("Unknown Attribute QueueArn.")"#]],
        );
        check(
            &[("ContentBasedDeduplication", "true")],
            expect![[
                r#"InvalidAttributeName("You can specify the ContentBasedDeduplication, DeduplicationScope and FifoThroughputLimit attributes only for FIFO queues.")"#
            ]],
        );
    }

    #[test]
    fn redrive_policy_accepts_string_or_number_counts() {
        check(
            &[(
                "RedrivePolicy",
                r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:dlq","maxReceiveCount":"3"}"#,
            )],
            expect![[
                r#"{"DelaySeconds": "0", "MaximumMessageSize": "1048576", "MessageRetentionPeriod": "345600", "ReceiveMessageWaitTimeSeconds": "0", "RedrivePolicy": "{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:123456789012:dlq\",\"maxReceiveCount\":3}", "SqsManagedSseEnabled": "true", "VisibilityTimeout": "30"}"#
            ]],
        );
        check(
            &[("RedrivePolicy", r#"{"maxReceiveCount":3}"#)],
            expect![[
                r#"InvalidParameterValue("Value {\"maxReceiveCount\":3} for parameter RedrivePolicy is invalid. Reason: Redrive policy does not contain mandatory attribute: deadLetterTargetArn.")"#
            ]],
        );
        check(
            &[("RedrivePolicy", "not json")],
            expect![[
                r#"InvalidParameterValue("Value not json for parameter RedrivePolicy is invalid. Reason: Redrive policy is not a valid JSON map.")"#
            ]],
        );
    }
}
