//! AWS JSON 1.0: `X-Amz-Target: AmazonSQS.<Action>` with a JSON body.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::{ACTIONS, BatchFailure, OutMessage, Request, Response, error_codes};
use crate::sqs::types::{AttributeValue, MessageAttribute, SendInput, SendOutput, SqsError};

/// The content type of requests and responses.
pub(crate) const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// Parses the body of a JSON request for `action`.
pub(crate) fn parse(action: &str, body: &[u8]) -> Result<Request, SqsError> {
    if !ACTIONS.contains(&action) {
        return Err(SqsError::InvalidAction(format!(
            "The action {action} is not valid for this endpoint."
        )));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| SqsError::MalformedRequest("The request body is not valid UTF-8.".into()))?;
    let value: Value = if text.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_str(text)
            .map_err(|e| SqsError::MalformedRequest(format!("Malformed JSON request body: {e}")))?
    };
    let Value::Object(map) = value else {
        return Err(SqsError::MalformedRequest(
            "The request body must be a JSON object.".into(),
        ));
    };
    let o = Obj(&map);
    Ok(match action {
        "CreateQueue" => Request::CreateQueue {
            name: o.req_str("QueueName")?,
            attributes: o.str_map("Attributes")?,
            tags: o.str_map("tags")?,
        },
        "GetQueueUrl" => Request::GetQueueUrl {
            name: o.req_str("QueueName")?,
        },
        "ListQueues" => Request::ListQueues {
            prefix: o.opt_str("QueueNamePrefix")?,
            max_results: o.opt_int("MaxResults")?,
            next_token: o.opt_str("NextToken")?,
        },
        "DeleteQueue" => Request::DeleteQueue {
            queue: o.req_str("QueueUrl")?,
        },
        "GetQueueAttributes" => Request::GetQueueAttributes {
            queue: o.req_str("QueueUrl")?,
            names: o.str_list("AttributeNames")?,
        },
        "SetQueueAttributes" => Request::SetQueueAttributes {
            queue: o.req_str("QueueUrl")?,
            attributes: o.str_map("Attributes")?,
        },
        "SendMessage" => Request::SendMessage {
            queue: o.req_str("QueueUrl")?,
            entry: send_entry(&o)?,
        },
        "SendMessageBatch" => {
            let mut entries = Vec::new();
            for entry in o.obj_list("Entries")? {
                let e = Obj(entry);
                entries.push((e.req_str("Id")?, send_entry(&e)?));
            }
            Request::SendMessageBatch {
                queue: o.req_str("QueueUrl")?,
                entries,
            }
        }
        "ReceiveMessage" => {
            let mut system = o.str_list("AttributeNames")?;
            system.extend(o.str_list("MessageSystemAttributeNames")?);
            Request::ReceiveMessage {
                queue: o.req_str("QueueUrl")?,
                max: o.opt_int("MaxNumberOfMessages")?,
                visibility_timeout: o.opt_int("VisibilityTimeout")?,
                wait_seconds: o.opt_int("WaitTimeSeconds")?,
                system_attribute_names: system,
                message_attribute_names: o.str_list("MessageAttributeNames")?,
            }
        }
        "DeleteMessage" => Request::DeleteMessage {
            queue: o.req_str("QueueUrl")?,
            receipt_handle: o.req_str("ReceiptHandle")?,
        },
        "DeleteMessageBatch" => {
            let mut entries = Vec::new();
            for entry in o.obj_list("Entries")? {
                let e = Obj(entry);
                entries.push((e.req_str("Id")?, e.req_str("ReceiptHandle")?));
            }
            Request::DeleteMessageBatch {
                queue: o.req_str("QueueUrl")?,
                entries,
            }
        }
        "ChangeMessageVisibility" => Request::ChangeMessageVisibility {
            queue: o.req_str("QueueUrl")?,
            receipt_handle: o.req_str("ReceiptHandle")?,
            timeout: o
                .opt_int("VisibilityTimeout")?
                .ok_or_else(|| missing("VisibilityTimeout"))?,
        },
        "ChangeMessageVisibilityBatch" => {
            let mut entries = Vec::new();
            for entry in o.obj_list("Entries")? {
                let e = Obj(entry);
                entries.push((
                    e.req_str("Id")?,
                    e.req_str("ReceiptHandle")?,
                    e.opt_int("VisibilityTimeout")?,
                ));
            }
            Request::ChangeMessageVisibilityBatch {
                queue: o.req_str("QueueUrl")?,
                entries,
            }
        }
        "PurgeQueue" => Request::PurgeQueue {
            queue: o.req_str("QueueUrl")?,
        },
        "TagQueue" => Request::TagQueue {
            queue: o.req_str("QueueUrl")?,
            tags: o.str_map("Tags")?,
        },
        "UntagQueue" => Request::UntagQueue {
            queue: o.req_str("QueueUrl")?,
            keys: o.str_list("TagKeys")?,
        },
        "ListQueueTags" => Request::ListQueueTags {
            queue: o.req_str("QueueUrl")?,
        },
        "ListDeadLetterSourceQueues" => Request::ListDeadLetterSourceQueues {
            queue: o.req_str("QueueUrl")?,
            max_results: o.opt_int("MaxResults")?,
            next_token: o.opt_str("NextToken")?,
        },
        other => {
            return Err(SqsError::InvalidAction(format!(
                "The action {other} is not valid for this endpoint."
            )));
        }
    })
}

fn send_entry(o: &Obj<'_>) -> Result<SendInput, SqsError> {
    Ok(SendInput {
        body: o.req_str("MessageBody")?,
        delay_seconds: o.opt_int("DelaySeconds")?,
        message_attributes: attributes(o, "MessageAttributes")?,
        system_attributes: attributes(o, "MessageSystemAttributes")?,
        message_group_id: o.opt_str("MessageGroupId")?,
        message_deduplication_id: o.opt_str("MessageDeduplicationId")?,
        sender_id: String::new(),
    })
}

fn attributes(o: &Obj<'_>, field: &str) -> Result<Vec<MessageAttribute>, SqsError> {
    let Some(value) = o.0.get(field).filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let Value::Object(map) = value else {
        return Err(wrong_type(field, "a map"));
    };
    let mut out = Vec::new();
    for (name, value) in map {
        let Value::Object(fields) = value else {
            return Err(wrong_type(field, "a map of attribute values"));
        };
        let v = Obj(fields);
        let data_type = v.opt_str("DataType")?.ok_or_else(|| {
            SqsError::InvalidParameterValue(format!(
                "The message attribute '{name}' must contain a non-empty message attribute type."
            ))
        })?;
        let value = match (v.opt_str("StringValue")?, v.opt_str("BinaryValue")?) {
            (Some(s), None) => AttributeValue::String(s),
            (None, Some(b)) => AttributeValue::Binary(
                base64::engine::general_purpose::STANDARD
                    .decode(b.as_bytes())
                    .map_err(|_| {
                        SqsError::InvalidParameterValue(format!(
                            "The message attribute '{name}' has an invalid base64 BinaryValue."
                        ))
                    })?,
            ),
            _ => {
                return Err(SqsError::InvalidParameterValue(format!(
                    "The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{data_type}'."
                )));
            }
        };
        out.push(MessageAttribute {
            name: name.clone(),
            data_type,
            value,
        });
    }
    Ok(out)
}

fn missing(field: &str) -> SqsError {
    SqsError::MissingParameter(format!("The request must contain the parameter {field}."))
}

fn wrong_type(field: &str, expected: &str) -> SqsError {
    SqsError::MalformedRequest(format!("Field {field} must be {expected}."))
}

/// Typed access to a JSON object's fields, with AWS errors.
struct Obj<'a>(&'a Map<String, Value>);

impl<'a> Obj<'a> {
    fn get(&self, field: &str) -> Option<&'a Value> {
        self.0.get(field).filter(|v| !v.is_null())
    }

    fn opt_str(&self, field: &str) -> Result<Option<String>, SqsError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(wrong_type(field, "a string")),
        }
    }

    fn req_str(&self, field: &str) -> Result<String, SqsError> {
        self.opt_str(field)?.ok_or_else(|| missing(field))
    }

    fn opt_int(&self, field: &str) -> Result<Option<i64>, SqsError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| wrong_type(field, "an integer")),
            // Some hand-written clients send numbers as strings.
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| wrong_type(field, "an integer")),
            Some(_) => Err(wrong_type(field, "an integer")),
        }
    }

    fn str_list(&self, field: &str) -> Result<Vec<String>, SqsError> {
        match self.get(field) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| wrong_type(field, "a list of strings"))
                })
                .collect(),
            Some(_) => Err(wrong_type(field, "a list of strings")),
        }
    }

    fn str_map(&self, field: &str) -> Result<BTreeMap<String, String>, SqsError> {
        match self.get(field) {
            None => Ok(BTreeMap::new()),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(wrong_type(field, "a map of strings")),
                })
                .collect(),
            Some(_) => Err(wrong_type(field, "a map of strings")),
        }
    }

    fn obj_list(&self, field: &str) -> Result<Vec<&'a Map<String, Value>>, SqsError> {
        match self.get(field) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_object()
                        .ok_or_else(|| wrong_type(field, "a list of objects"))
                })
                .collect(),
            Some(_) => Err(wrong_type(field, "a list of objects")),
        }
    }
}

fn sent(out: &SendOutput, into: &mut Map<String, Value>) {
    into.insert("MessageId".into(), json!(out.message_id));
    into.insert("MD5OfMessageBody".into(), json!(out.md5_of_message_body));
    if let Some(m) = &out.md5_of_message_attributes {
        into.insert("MD5OfMessageAttributes".into(), json!(m));
    }
    if let Some(m) = &out.md5_of_message_system_attributes {
        into.insert("MD5OfMessageSystemAttributes".into(), json!(m));
    }
    if let Some(s) = &out.sequence_number {
        into.insert("SequenceNumber".into(), json!(s));
    }
}

fn failures(failed: &[BatchFailure]) -> Value {
    Value::Array(
        failed
            .iter()
            .map(|f| json!({"Id": f.id, "SenderFault": f.sender_fault, "Code": f.code, "Message": f.message}))
            .collect(),
    )
}

fn message(m: &OutMessage) -> Value {
    let mut o = Map::new();
    o.insert("MessageId".into(), json!(m.message_id));
    o.insert("ReceiptHandle".into(), json!(m.receipt_handle));
    o.insert("MD5OfBody".into(), json!(m.md5_of_body));
    o.insert("Body".into(), json!(m.body));
    if !m.attributes.is_empty() {
        o.insert("Attributes".into(), json!(m.attributes));
    }
    if let Some(md5) = &m.md5_of_message_attributes {
        o.insert("MD5OfMessageAttributes".into(), json!(md5));
    }
    if !m.message_attributes.is_empty() {
        let mut attrs = Map::new();
        for a in &m.message_attributes {
            let value = match &a.value {
                AttributeValue::String(s) => json!({"StringValue": s, "DataType": a.data_type}),
                AttributeValue::Binary(b) => json!({
                    "BinaryValue": base64::engine::general_purpose::STANDARD.encode(b),
                    "DataType": a.data_type,
                }),
            };
            attrs.insert(a.name.clone(), value);
        }
        o.insert("MessageAttributes".into(), Value::Object(attrs));
    }
    Value::Object(o)
}

/// The JSON body of a successful response.
pub(crate) fn render(response: &Response) -> Vec<u8> {
    let value = match response {
        Response::Empty => json!({}),
        Response::QueueUrl(url) => json!({"QueueUrl": url}),
        Response::QueueUrls { urls, next_token } => {
            let mut o = Map::new();
            if !urls.is_empty() {
                o.insert("QueueUrls".into(), json!(urls));
            }
            if let Some(t) = next_token {
                o.insert("NextToken".into(), json!(t));
            }
            Value::Object(o)
        }
        Response::DeadLetterSourceQueues { urls, next_token } => {
            let mut o = Map::new();
            o.insert("queueUrls".into(), json!(urls));
            if let Some(t) = next_token {
                o.insert("NextToken".into(), json!(t));
            }
            Value::Object(o)
        }
        Response::Attributes(attributes) => {
            if attributes.is_empty() {
                json!({})
            } else {
                json!({"Attributes": attributes})
            }
        }
        Response::Tags(tags) => {
            if tags.is_empty() {
                json!({})
            } else {
                json!({"Tags": tags})
            }
        }
        Response::Sent(out) => {
            let mut o = Map::new();
            sent(out, &mut o);
            Value::Object(o)
        }
        Response::SentBatch { successful, failed } => json!({
            "Successful": successful.iter().map(|(id, out)| {
                let mut o = Map::new();
                o.insert("Id".into(), json!(id));
                sent(out, &mut o);
                Value::Object(o)
            }).collect::<Vec<_>>(),
            "Failed": failures(failed),
        }),
        Response::Messages(messages) => {
            if messages.is_empty() {
                json!({})
            } else {
                json!({"Messages": messages.iter().map(message).collect::<Vec<_>>()})
            }
        }
        Response::Batch { successful, failed } => json!({
            "Successful": successful.iter().map(|id| json!({"Id": id})).collect::<Vec<_>>(),
            "Failed": failures(failed),
        }),
    };
    value.to_string().into_bytes()
}

/// An error response: status, `x-amzn-query-error` header value and body.
/// Serialization errors come from AWS's protocol layer, before SQS, so they
/// carry no query-compatible code.
pub(crate) fn render_error(error: &SqsError) -> (u16, Option<String>, Vec<u8>) {
    let (shape, query_code, status) = error_codes(error);
    let fault = if error.is_sender_fault() {
        "Sender"
    } else {
        "Receiver"
    };
    let (type_name, header) = match error {
        SqsError::MalformedRequest(_) => (
            "com.amazon.coral.service#SerializationException".to_owned(),
            None,
        ),
        _ => (
            format!("com.amazonaws.sqs#{shape}"),
            Some(format!("{query_code};{fault}")),
        ),
    };
    let body = json!({"__type": type_name, "message": error.to_string()})
        .to_string()
        .into_bytes();
    (status, header, body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use expect_test::{Expect, expect};
    use proptest::prelude::*;

    fn check(action: &str, body: &str, expected: Expect) {
        let actual = match parse(action, body.as_bytes()) {
            Ok(r) => format!("{r:?}"),
            Err(e) => {
                let (status, header, body) = render_error(&e);
                format!("{status} {header:?} {}", String::from_utf8(body).unwrap())
            }
        };
        expected.assert_eq(&actual);
    }

    #[test]
    fn parses_requests() {
        check(
            "SendMessage",
            r#"{"QueueUrl":"http://x/1/q","MessageBody":"hi","DelaySeconds":3,"MessageAttributes":{"b":{"DataType":"Binary","BinaryValue":"AAE="},"s":{"DataType":"String","StringValue":"v"}}}"#,
            expect![[
                r#"SendMessage { queue: "http://x/1/q", entry: SendInput { body: "hi", delay_seconds: Some(3), message_attributes: [MessageAttribute { name: "b", data_type: "Binary", value: Binary([0, 1]) }, MessageAttribute { name: "s", data_type: "String", value: String("v") }], system_attributes: [], message_group_id: None, message_deduplication_id: None, sender_id: "" } }"#
            ]],
        );
        check(
            "ReceiveMessage",
            r#"{"QueueUrl":"u","AttributeNames":["All"],"MessageSystemAttributeNames":["SenderId"],"MaxNumberOfMessages":10,"WaitTimeSeconds":"2"}"#,
            expect![[
                r#"ReceiveMessage { queue: "u", max: Some(10), visibility_timeout: None, wait_seconds: Some(2), system_attribute_names: ["All", "SenderId"], message_attribute_names: [] }"#
            ]],
        );
    }

    #[test]
    fn bad_input_gets_aws_errors() {
        check(
            "SendMessage",
            "{not json",
            expect![[
                r#"400 None {"__type":"com.amazon.coral.service#SerializationException","message":"Malformed JSON request body: key must be a string at line 1 column 2"}"#
            ]],
        );
        check(
            "SendMessage",
            r#"{"QueueUrl":"u"}"#,
            expect![[
                r#"400 Some("MissingParameter;Sender") {"__type":"com.amazonaws.sqs#MissingParameter","message":"The request must contain the parameter MessageBody."}"#
            ]],
        );
        check(
            "SendMessage",
            r#"{"QueueUrl":5,"MessageBody":"x"}"#,
            expect![[
                r#"400 None {"__type":"com.amazon.coral.service#SerializationException","message":"Field QueueUrl must be a string."}"#
            ]],
        );
        check(
            "Frobnicate",
            "{}",
            expect![[
                r#"400 Some("InvalidAction;Sender") {"__type":"com.amazonaws.sqs#InvalidAction","message":"The action Frobnicate is not valid for this endpoint."}"#
            ]],
        );
        check(
            "DeleteQueue",
            "[]",
            expect![[
                r#"400 None {"__type":"com.amazon.coral.service#SerializationException","message":"The request body must be a JSON object."}"#
            ]],
        );
    }

    #[test]
    fn renders_errors_like_aws() {
        let (status, header, body) = render_error(&SqsError::QueueDoesNotExist);
        expect![[r#"400 Some("AWS.SimpleQueueService.NonExistentQueue;Sender") {"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#]]
            .assert_eq(&format!("{status} {header:?} {}", String::from_utf8(body).unwrap()));
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(action in proptest::sample::select(ACTIONS.to_vec()), body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse(action, &body);
        }

        #[test]
        fn arbitrary_json_values_never_panic(action in proptest::sample::select(ACTIONS.to_vec()), value in json_value()) {
            let _ = parse(action, value.to_string().as_bytes());
        }
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-zA-Z0-9 ]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(
                    proptest::sample::select(vec![
                        "QueueUrl",
                        "QueueName",
                        "MessageBody",
                        "Entries",
                        "Id",
                        "ReceiptHandle",
                        "MessageAttributes",
                        "DataType",
                        "StringValue",
                        "BinaryValue",
                        "Attributes",
                        "MaxNumberOfMessages",
                        "Tags",
                        "TagKeys"
                    ]),
                    inner,
                    0..5,
                )
                .prop_map(|m| Value::Object(
                    m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
            ]
        })
    }
}
