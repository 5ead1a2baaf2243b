//! The Lambda SQS event (`{"Records": [...]}`) and the partial batch
//! response (`{"batchItemFailures": [...]}`), as AWS documents them. Pure
//! functions, tested without queues.

use std::collections::BTreeSet;

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::sqs::{AttributeValue, ReceivedMessage};

/// The system attributes Lambda puts in each record's `attributes`.
const RECORD_ATTRIBUTES: &[&str] = &[
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
];

/// Builds the event for one batch.
pub fn event(messages: &[ReceivedMessage], queue_arn: &str, region: &str) -> Value {
    let names: Vec<String> = RECORD_ATTRIBUTES.iter().map(|s| (*s).to_owned()).collect();
    let records: Vec<Value> = messages
        .iter()
        .map(|message| {
            let attributes: Map<String, Value> = message
                .system_attributes(&names)
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            let message_attributes: Map<String, Value> = message
                .message_attributes
                .iter()
                .map(|attribute| {
                    let value = match &attribute.value {
                        AttributeValue::String(text) => json!({
                            "stringValue": text,
                            "stringListValues": [],
                            "binaryListValues": [],
                            "dataType": attribute.data_type,
                        }),
                        AttributeValue::Binary(bytes) => json!({
                            "binaryValue": base64::engine::general_purpose::STANDARD.encode(bytes),
                            "stringListValues": [],
                            "binaryListValues": [],
                            "dataType": attribute.data_type,
                        }),
                    };
                    (attribute.name.clone(), value)
                })
                .collect();
            let mut record = json!({
                "messageId": message.message_id,
                "receiptHandle": message.receipt_handle,
                "body": &*message.body,
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": message.md5_of_body,
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            });
            if let Some(md5) = &message.md5_of_message_attributes {
                record["md5OfMessageAttributes"] = json!(md5);
            }
            record
        })
        .collect();
    json!({ "Records": records })
}

/// What to do with a batch after the function answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchResult {
    /// Delete every message.
    AllSucceeded,
    /// Delete all but these message IDs, which are retried.
    PartialFailure(BTreeSet<String>),
    /// Keep every message: they reappear after the visibility timeout.
    AllFailed,
}

/// Reads a function's answer with `ReportBatchItemFailures` on. As AWS
/// does, an empty or null answer (or an empty `batchItemFailures`) means
/// success, and a malformed answer or an unknown or empty identifier fails
/// the whole batch.
pub fn batch_result(payload: &[u8], message_ids: &BTreeSet<&str>) -> BatchResult {
    let text = std::str::from_utf8(payload).unwrap_or("").trim();
    if text.is_empty() || text == "null" {
        return BatchResult::AllSucceeded;
    }
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return BatchResult::AllFailed;
    };
    let Some(object) = value.as_object() else {
        return BatchResult::AllFailed;
    };
    let failures = match object.get("batchItemFailures") {
        None | Some(Value::Null) => return BatchResult::AllSucceeded,
        Some(Value::Array(items)) => items,
        Some(_) => return BatchResult::AllFailed,
    };
    if failures.is_empty() {
        return BatchResult::AllSucceeded;
    }
    let mut failed = BTreeSet::new();
    for item in failures {
        match item.get("itemIdentifier").and_then(Value::as_str) {
            Some(id) if !id.is_empty() && message_ids.contains(id) => {
                failed.insert(id.to_owned());
            }
            _ => return BatchResult::AllFailed,
        }
    }
    BatchResult::PartialFailure(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqs::{MessageAttribute, SystemAttributes};
    use expect_test::expect;
    use std::sync::Arc;

    fn message(id: &str, fifo: bool) -> ReceivedMessage {
        ReceivedMessage {
            message_id: id.to_owned(),
            receipt_handle: format!("handle-{id}"),
            body: Arc::from("{\"order\":1}"),
            md5_of_body: "d1b8e3a7".to_owned(),
            message_attributes: vec![
                MessageAttribute {
                    name: "kind".into(),
                    data_type: "String".into(),
                    value: AttributeValue::String("order".into()),
                },
                MessageAttribute {
                    name: "blob".into(),
                    data_type: "Binary".into(),
                    value: AttributeValue::Binary(vec![1, 2, 3]),
                },
            ],
            md5_of_message_attributes: Some("a1b2".into()),
            system: SystemAttributes {
                sender_id: "AIDAFOGBANK".into(),
                sent_timestamp_ms: 1_700_000_000_000,
                approximate_receive_count: 1,
                approximate_first_receive_timestamp_ms: 1_700_000_000_005,
                message_group_id: fifo.then(|| "g1".into()),
                message_deduplication_id: fifo.then(|| "d1".into()),
                sequence_number: fifo.then(|| "18849496460467696128".into()),
                aws_trace_header: None,
                dead_letter_queue_source_arn: None,
            },
        }
    }

    #[test]
    fn records_have_lambdas_shape() {
        let event = event(
            &[message("m1", true)],
            "arn:aws:sqs:us-east-1:123456789012:orders.fifo",
            "us-east-1",
        );
        expect![[r#"
            {
              "Records": [
                {
                  "attributes": {
                    "ApproximateFirstReceiveTimestamp": "1700000000005",
                    "ApproximateReceiveCount": "1",
                    "MessageDeduplicationId": "d1",
                    "MessageGroupId": "g1",
                    "SenderId": "AIDAFOGBANK",
                    "SentTimestamp": "1700000000000",
                    "SequenceNumber": "18849496460467696128"
                  },
                  "awsRegion": "us-east-1",
                  "body": "{\"order\":1}",
                  "eventSource": "aws:sqs",
                  "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders.fifo",
                  "md5OfBody": "d1b8e3a7",
                  "md5OfMessageAttributes": "a1b2",
                  "messageAttributes": {
                    "blob": {
                      "binaryListValues": [],
                      "binaryValue": "AQID",
                      "dataType": "Binary",
                      "stringListValues": []
                    },
                    "kind": {
                      "binaryListValues": [],
                      "dataType": "String",
                      "stringListValues": [],
                      "stringValue": "order"
                    }
                  },
                  "messageId": "m1",
                  "receiptHandle": "handle-m1"
                }
              ]
            }"#]]
        .assert_eq(&serde_json::to_string_pretty(&event).unwrap_or_default());
    }

    fn check(payload: &str, expected: BatchResult) {
        let ids: BTreeSet<&str> = ["a", "b", "c"].into_iter().collect();
        assert_eq!(
            batch_result(payload.as_bytes(), &ids),
            expected,
            "{payload}"
        );
    }

    #[test]
    fn partial_batch_responses() {
        let partial =
            |ids: &[&str]| BatchResult::PartialFailure(ids.iter().map(|s| s.to_string()).collect());
        check("", BatchResult::AllSucceeded);
        check("null", BatchResult::AllSucceeded);
        check("{}", BatchResult::AllSucceeded);
        check(r#"{"batchItemFailures":[]}"#, BatchResult::AllSucceeded);
        check(r#"{"batchItemFailures":null}"#, BatchResult::AllSucceeded);
        check(
            r#"{"batchItemFailures":[{"itemIdentifier":"b"}]}"#,
            partial(&["b"]),
        );
        check(
            r#"{"batchItemFailures":[{"itemIdentifier":"a"},{"itemIdentifier":"c"}]}"#,
            partial(&["a", "c"]),
        );
        check(
            r#"{"batchItemFailures":[{"itemIdentifier":"zzz"}]}"#,
            BatchResult::AllFailed,
        );
        check(
            r#"{"batchItemFailures":[{"itemIdentifier":""}]}"#,
            BatchResult::AllFailed,
        );
        check(r#"{"batchItemFailures":[{}]}"#, BatchResult::AllFailed);
        check(r#"{"batchItemFailures":"b"}"#, BatchResult::AllFailed);
        check("not json", BatchResult::AllFailed);
        check("[1]", BatchResult::AllFailed);
    }
}
