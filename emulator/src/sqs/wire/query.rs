//! The query protocol: form-encoded `Action=...&Version=2012-11-05`
//! parameters (in the body or the URL), XML responses. Parameter names are
//! those of AWS's query-era service model: flattened lists such as
//! `AttributeName.1`, maps such as `Attribute.1.Name`/`Attribute.1.Value`,
//! and batch entries such as `SendMessageBatchRequestEntry.1.Id`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;

use super::{ACTIONS, BatchFailure, OutMessage, Request, Response, error_codes};
use crate::sqs::types::{AttributeValue, MessageAttribute, SendInput, SendOutput, SqsError};

const XMLNS: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// Decoded form parameters. Values that are not valid UTF-8 are kept as
/// errors so that only the parameter that carries them fails (a message
/// body then gets AWS's InvalidMessageContents).
#[derive(Debug, Default)]
pub(crate) struct Params(BTreeMap<String, Result<String, ()>>);

impl Params {
    /// Parses `a=b&c=d` form data (`+` is a space, `%XX` a byte).
    pub(crate) fn parse(form: &[u8], into: &mut Params) -> Result<(), SqsError> {
        for pair in form.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let mut halves = pair.splitn(2, |b| *b == b'=');
            let key = decode(halves.next().unwrap_or_default());
            let value = decode(halves.next().unwrap_or_default());
            let key = String::from_utf8(key).map_err(|_| {
                SqsError::MalformedRequest("A parameter name is not valid UTF-8.".into())
            })?;
            into.0.insert(key, String::from_utf8(value).map_err(|_| ()));
        }
        Ok(())
    }

    pub(crate) fn opt(&self, key: &str) -> Result<Option<String>, SqsError> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Ok(v)) => Ok(Some(v.clone())),
            Some(Err(())) if key.ends_with("MessageBody") => Err(SqsError::InvalidMessageContents(
                "The message body is not valid UTF-8; the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF"
                    .into(),
            )),
            Some(Err(())) => Err(SqsError::InvalidParameterValue(format!(
                "Value for parameter {key} is invalid. Reason: it is not valid UTF-8."
            ))),
        }
    }

    fn req(&self, key: &str) -> Result<String, SqsError> {
        self.opt(key)?.ok_or_else(|| {
            SqsError::MissingParameter(format!("The request must contain the parameter {key}."))
        })
    }

    fn int(&self, key: &str) -> Result<Option<i64>, SqsError> {
        match self.opt(key)? {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| {
                SqsError::InvalidParameterValue(format!(
                    "Value {v} for parameter {key} is invalid. Reason: must be an integer."
                ))
            }),
        }
    }

    /// The indexes N present under `prefix.N.` or `prefix.N`, ascending.
    fn indexes(&self, prefix: &str) -> Vec<u32> {
        let dotted = format!("{prefix}.");
        let mut out: Vec<u32> = self
            .0
            .keys()
            .filter_map(|k| k.strip_prefix(&dotted))
            .filter_map(|rest| rest.split('.').next()?.parse().ok())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// A flattened list `prefix.1`, `prefix.2`, ...
    fn list(&self, prefix: &str) -> Result<Vec<String>, SqsError> {
        self.indexes(prefix)
            .into_iter()
            .filter_map(|i| self.opt(&format!("{prefix}.{i}")).transpose())
            .collect()
    }

    /// A flattened map `prefix.N.<key>` / `prefix.N.<value>`.
    fn map(
        &self,
        prefix: &str,
        key: &str,
        value: &str,
    ) -> Result<BTreeMap<String, String>, SqsError> {
        let mut out = BTreeMap::new();
        for i in self.indexes(prefix) {
            let k = self.req(&format!("{prefix}.{i}.{key}"))?;
            let v = self
                .opt(&format!("{prefix}.{i}.{value}"))?
                .unwrap_or_default();
            out.insert(k, v);
        }
        Ok(out)
    }

    fn attributes(&self, prefix: &str) -> Result<Vec<MessageAttribute>, SqsError> {
        let mut out = Vec::new();
        for i in self.indexes(prefix) {
            let base = format!("{prefix}.{i}");
            let name = self.req(&format!("{base}.Name"))?;
            let data_type = self.opt(&format!("{base}.Value.DataType"))?.ok_or_else(|| {
                SqsError::InvalidParameterValue(format!("The message attribute '{name}' must contain a non-empty message attribute type."))
            })?;
            let string = self.opt(&format!("{base}.Value.StringValue"))?;
            let binary = self.opt(&format!("{base}.Value.BinaryValue"))?;
            let value = match (string, binary) {
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
                name,
                data_type,
                value,
            });
        }
        Ok(out)
    }

    fn send_entry(&self, prefix: &str) -> Result<SendInput, SqsError> {
        Ok(SendInput {
            body: self.req(&format!("{prefix}MessageBody"))?,
            delay_seconds: self.int(&format!("{prefix}DelaySeconds"))?,
            message_attributes: self.attributes(&format!("{prefix}MessageAttribute"))?,
            system_attributes: self.attributes(&format!("{prefix}MessageSystemAttribute"))?,
            message_group_id: self.opt(&format!("{prefix}MessageGroupId"))?,
            message_deduplication_id: self.opt(&format!("{prefix}MessageDeduplicationId"))?,
            sender_id: String::new(),
        })
    }
}

fn decode(raw: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_encoding::percent_decode(&spaced).collect()
}

/// Builds the request from parameters. `path_queue` is the request path
/// when it names a queue (`/123456789012/name`), used when the parameters
/// carry no `QueueUrl`.
pub(crate) fn parse(params: &Params, path_queue: Option<&str>) -> Result<Request, SqsError> {
    let action = params.req("Action")?;
    if !ACTIONS.contains(&action.as_str()) {
        return Err(SqsError::InvalidAction(format!(
            "The action {action} is not valid for this endpoint."
        )));
    }
    let queue = || -> Result<String, SqsError> {
        match (params.opt("QueueUrl")?, path_queue) {
            (Some(url), _) => Ok(url),
            (None, Some(path)) => Ok(path.to_owned()),
            (None, None) => Err(SqsError::MissingParameter(
                "The request must contain the parameter QueueUrl.".into(),
            )),
        }
    };
    Ok(match action.as_str() {
        "CreateQueue" => Request::CreateQueue {
            name: params.req("QueueName")?,
            attributes: params.map("Attribute", "Name", "Value")?,
            tags: params.map("Tag", "Key", "Value")?,
        },
        "GetQueueUrl" => Request::GetQueueUrl {
            name: params.req("QueueName")?,
        },
        "ListQueues" => Request::ListQueues {
            prefix: params.opt("QueueNamePrefix")?,
            max_results: params.int("MaxResults")?,
            next_token: params.opt("NextToken")?,
        },
        "DeleteQueue" => Request::DeleteQueue { queue: queue()? },
        "GetQueueAttributes" => Request::GetQueueAttributes {
            queue: queue()?,
            names: params.list("AttributeName")?,
        },
        "SetQueueAttributes" => Request::SetQueueAttributes {
            queue: queue()?,
            attributes: params.map("Attribute", "Name", "Value")?,
        },
        "SendMessage" => Request::SendMessage {
            queue: queue()?,
            entry: params.send_entry("")?,
        },
        "SendMessageBatch" => {
            let mut entries = Vec::new();
            for i in params.indexes("SendMessageBatchRequestEntry") {
                let prefix = format!("SendMessageBatchRequestEntry.{i}.");
                entries.push((
                    params.req(&format!("{prefix}Id"))?,
                    params.send_entry(&prefix)?,
                ));
            }
            Request::SendMessageBatch {
                queue: queue()?,
                entries,
            }
        }
        "ReceiveMessage" => {
            let mut system = params.list("AttributeName")?;
            system.extend(params.list("MessageSystemAttributeName")?);
            Request::ReceiveMessage {
                queue: queue()?,
                max: params.int("MaxNumberOfMessages")?,
                visibility_timeout: params.int("VisibilityTimeout")?,
                wait_seconds: params.int("WaitTimeSeconds")?,
                system_attribute_names: system,
                message_attribute_names: params.list("MessageAttributeName")?,
            }
        }
        "DeleteMessage" => Request::DeleteMessage {
            queue: queue()?,
            receipt_handle: params.req("ReceiptHandle")?,
        },
        "DeleteMessageBatch" => {
            let mut entries = Vec::new();
            for i in params.indexes("DeleteMessageBatchRequestEntry") {
                let prefix = format!("DeleteMessageBatchRequestEntry.{i}.");
                entries.push((
                    params.req(&format!("{prefix}Id"))?,
                    params.req(&format!("{prefix}ReceiptHandle"))?,
                ));
            }
            Request::DeleteMessageBatch {
                queue: queue()?,
                entries,
            }
        }
        "ChangeMessageVisibility" => Request::ChangeMessageVisibility {
            queue: queue()?,
            receipt_handle: params.req("ReceiptHandle")?,
            timeout: params.int("VisibilityTimeout")?.ok_or_else(|| {
                SqsError::MissingParameter(
                    "The request must contain the parameter VisibilityTimeout.".into(),
                )
            })?,
        },
        "ChangeMessageVisibilityBatch" => {
            let mut entries = Vec::new();
            for i in params.indexes("ChangeMessageVisibilityBatchRequestEntry") {
                let prefix = format!("ChangeMessageVisibilityBatchRequestEntry.{i}.");
                entries.push((
                    params.req(&format!("{prefix}Id"))?,
                    params.req(&format!("{prefix}ReceiptHandle"))?,
                    params.int(&format!("{prefix}VisibilityTimeout"))?,
                ));
            }
            Request::ChangeMessageVisibilityBatch {
                queue: queue()?,
                entries,
            }
        }
        "PurgeQueue" => Request::PurgeQueue { queue: queue()? },
        "TagQueue" => Request::TagQueue {
            queue: queue()?,
            tags: params.map("Tag", "Key", "Value")?,
        },
        "UntagQueue" => Request::UntagQueue {
            queue: queue()?,
            keys: params.list("TagKey")?,
        },
        "ListQueueTags" => Request::ListQueueTags { queue: queue()? },
        "ListDeadLetterSourceQueues" => Request::ListDeadLetterSourceQueues {
            queue: queue()?,
            max_results: params.int("MaxResults")?,
            next_token: params.opt("NextToken")?,
        },
        other => {
            return Err(SqsError::InvalidAction(format!(
                "The action {other} is not valid for this endpoint."
            )));
        }
    })
}

/// Escapes text for XML content. Carriage returns are escaped too, because
/// XML parsers turn a literal CR (or CRLF) into LF, which would change
/// message bodies and break their MD5.
fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn element(out: &mut String, name: &str, text: &str) {
    let _ = write!(out, "<{name}>");
    escape(text, out);
    let _ = write!(out, "</{name}>");
}

fn sent(out: &mut String, s: &SendOutput) {
    element(out, "MessageId", &s.message_id);
    element(out, "MD5OfMessageBody", &s.md5_of_message_body);
    if let Some(m) = &s.md5_of_message_attributes {
        element(out, "MD5OfMessageAttributes", m);
    }
    if let Some(m) = &s.md5_of_message_system_attributes {
        element(out, "MD5OfMessageSystemAttributes", m);
    }
    if let Some(n) = &s.sequence_number {
        element(out, "SequenceNumber", n);
    }
}

fn failures(out: &mut String, failed: &[BatchFailure]) {
    for f in failed {
        out.push_str("<BatchResultErrorEntry>");
        element(out, "Id", &f.id);
        element(
            out,
            "SenderFault",
            if f.sender_fault { "true" } else { "false" },
        );
        element(out, "Code", f.code);
        element(out, "Message", &f.message);
        out.push_str("</BatchResultErrorEntry>");
    }
}

fn pairs(out: &mut String, wrapper: &str, key: &str, map: &BTreeMap<String, String>) {
    for (k, v) in map {
        let _ = write!(out, "<{wrapper}>");
        element(out, key, k);
        element(out, "Value", v);
        let _ = write!(out, "</{wrapper}>");
    }
}

fn message(out: &mut String, m: &OutMessage) {
    out.push_str("<Message>");
    element(out, "MessageId", &m.message_id);
    element(out, "ReceiptHandle", &m.receipt_handle);
    element(out, "MD5OfBody", &m.md5_of_body);
    element(out, "Body", &m.body);
    pairs(out, "Attribute", "Name", &m.attributes);
    if let Some(md5) = &m.md5_of_message_attributes {
        element(out, "MD5OfMessageAttributes", md5);
    }
    for a in &m.message_attributes {
        out.push_str("<MessageAttribute>");
        element(out, "Name", &a.name);
        out.push_str("<Value>");
        match &a.value {
            AttributeValue::String(s) => element(out, "StringValue", s),
            AttributeValue::Binary(b) => element(
                out,
                "BinaryValue",
                &base64::engine::general_purpose::STANDARD.encode(b),
            ),
        }
        element(out, "DataType", &a.data_type);
        out.push_str("</Value></MessageAttribute>");
    }
    out.push_str("</Message>");
}

/// The XML body of a successful response to `action`.
pub(crate) fn render(action: &str, response: &Response, request_id: &str) -> Vec<u8> {
    let mut out = String::with_capacity(512);
    let _ = write!(
        out,
        "<?xml version=\"1.0\"?><{action}Response xmlns=\"{XMLNS}\">"
    );
    let mut result = String::new();
    match response {
        Response::Empty => {}
        Response::QueueUrl(url) => element(&mut result, "QueueUrl", url),
        Response::QueueUrls { urls, next_token }
        | Response::DeadLetterSourceQueues { urls, next_token } => {
            for url in urls {
                element(&mut result, "QueueUrl", url);
            }
            if let Some(t) = next_token {
                element(&mut result, "NextToken", t);
            }
        }
        Response::Attributes(map) => pairs(&mut result, "Attribute", "Name", map),
        Response::Tags(map) => pairs(&mut result, "Tag", "Key", map),
        Response::Sent(s) => sent(&mut result, s),
        Response::SentBatch { successful, failed } => {
            for (id, s) in successful {
                result.push_str("<SendMessageBatchResultEntry>");
                element(&mut result, "Id", id);
                sent(&mut result, s);
                result.push_str("</SendMessageBatchResultEntry>");
            }
            failures(&mut result, failed);
        }
        Response::Messages(messages) => {
            for m in messages {
                message(&mut result, m);
            }
        }
        Response::Batch { successful, failed } => {
            for id in successful {
                let _ = write!(result, "<{action}ResultEntry>");
                element(&mut result, "Id", id);
                let _ = write!(result, "</{action}ResultEntry>");
            }
            failures(&mut result, failed);
        }
    }
    if !matches!(response, Response::Empty) {
        let _ = write!(out, "<{action}Result>{result}</{action}Result>");
    }
    let _ = write!(
        out,
        "<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
    );
    out.into_bytes()
}

/// An XML ErrorResponse: status and body.
pub(crate) fn render_error(error: &SqsError, request_id: &str) -> (u16, Vec<u8>) {
    let (_, code, status) = error_codes(error);
    let mut out = String::new();
    let _ = write!(
        out,
        "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>{}</Type><Code>{code}</Code>",
        if error.is_sender_fault() {
            "Sender"
        } else {
            "Receiver"
        }
    );
    element(&mut out, "Message", &error.to_string());
    let _ = write!(
        out,
        "<Detail/></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    );
    (status, out.into_bytes())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use expect_test::{Expect, expect};
    use proptest::prelude::*;

    fn check(form: &str, expected: Expect) {
        let mut params = Params::default();
        let actual = match Params::parse(form.as_bytes(), &mut params)
            .and_then(|()| parse(&params, Some("/123456789012/q")))
        {
            Ok(r) => format!("{r:?}"),
            Err(e) => String::from_utf8(render_error(&e, "rid").1).unwrap(),
        };
        expected.assert_eq(&actual);
    }

    #[test]
    fn parses_flattened_parameters() {
        check(
            "Action=SendMessageBatch&SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=two&SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=one+%26+more&SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=n&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=Number&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=1",
            expect![[
                r#"SendMessageBatch { queue: "/123456789012/q", entries: [("a", SendInput { body: "one & more", delay_seconds: None, message_attributes: [MessageAttribute { name: "n", data_type: "Number", value: String("1") }], system_attributes: [], message_group_id: None, message_deduplication_id: None, sender_id: "" }), ("b", SendInput { body: "two", delay_seconds: None, message_attributes: [], system_attributes: [], message_group_id: None, message_deduplication_id: None, sender_id: "" })] }"#
            ]],
        );
        check(
            "Action=CreateQueue&QueueName=x&Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=5&Tag.1.Key=k&Tag.1.Value=v",
            expect![[
                r#"CreateQueue { name: "x", attributes: {"VisibilityTimeout": "5"}, tags: {"k": "v"} }"#
            ]],
        );
        check(
            "Action=ReceiveMessage&QueueUrl=http%3A%2F%2Fh%2F1%2Fq&AttributeName.1=All&MessageAttributeName.1=a.*&MaxNumberOfMessages=3",
            expect![[
                r#"ReceiveMessage { queue: "http://h/1/q", max: Some(3), visibility_timeout: None, wait_seconds: None, system_attribute_names: ["All"], message_attribute_names: ["a.*"] }"#
            ]],
        );
    }

    #[test]
    fn bad_input_gets_aws_errors() {
        check(
            "Action=Nope",
            expect![[
                r#"<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>The action Nope is not valid for this endpoint.</Message><Detail/></Error><RequestId>rid</RequestId></ErrorResponse>"#
            ]],
        );
        check(
            "QueueName=x",
            expect![[
                r#"<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Type>Sender</Type><Code>MissingParameter</Code><Message>The request must contain the parameter Action.</Message><Detail/></Error><RequestId>rid</RequestId></ErrorResponse>"#
            ]],
        );
        check(
            "Action=SendMessage&MessageBody=%FF%FE",
            expect![[
                r#"<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Type>Sender</Type><Code>InvalidMessageContents</Code><Message>The message body is not valid UTF-8; the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF</Message><Detail/></Error><RequestId>rid</RequestId></ErrorResponse>"#
            ]],
        );
        check(
            "Action=ReceiveMessage&MaxNumberOfMessages=lots",
            expect![[
                r#"<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Type>Sender</Type><Code>InvalidParameterValue</Code><Message>Value lots for parameter MaxNumberOfMessages is invalid. Reason: must be an integer.</Message><Detail/></Error><RequestId>rid</RequestId></ErrorResponse>"#
            ]],
        );
    }

    #[test]
    fn renders_xml_with_escaped_bodies() {
        let response = Response::Messages(vec![OutMessage {
            message_id: "id".into(),
            receipt_handle: "rh".into(),
            md5_of_body: "md5".into(),
            body: "<a>&\r\n".into(),
            attributes: [("SenderId".to_owned(), "X".to_owned())].into(),
            md5_of_message_attributes: None,
            message_attributes: vec![],
        }]);
        expect![[r#"<?xml version="1.0"?><ReceiveMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><ReceiveMessageResult><Message><MessageId>id</MessageId><ReceiptHandle>rh</ReceiptHandle><MD5OfBody>md5</MD5OfBody><Body>&lt;a&gt;&amp;&#xD;
</Body><Attribute><Name>SenderId</Name><Value>X</Value></Attribute></Message></ReceiveMessageResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></ReceiveMessageResponse>"#]]
        .assert_eq(&String::from_utf8(render("ReceiveMessage", &response, "r")).unwrap());
    }

    proptest! {
        #[test]
        fn arbitrary_forms_never_panic(form in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut params = Params::default();
            if Params::parse(&form, &mut params).is_ok() {
                let _ = parse(&params, None);
            }
        }

        #[test]
        fn structured_forms_never_panic(
            action in proptest::sample::select(ACTIONS.to_vec()),
            pairs in proptest::collection::vec((
                proptest::sample::select(vec!["QueueUrl", "QueueName", "MessageBody", "Attribute.1.Name", "Attribute.1.Value",
                    "SendMessageBatchRequestEntry.1.Id", "SendMessageBatchRequestEntry.99999999999.Id", "MessageAttribute.1.Name",
                    "MessageAttribute.1.Value.DataType", "MessageAttribute.1.Value.BinaryValue", "AttributeName.1", "Tag.1.Key",
                    "DeleteMessageBatchRequestEntry.1.ReceiptHandle", "VisibilityTimeout", "MaxResults"]),
                "[%a-zA-Z0-9.+=&]{0,12}",
            ), 0..8),
        ) {
            let form: String = std::iter::once(format!("Action={action}"))
                .chain(pairs.into_iter().map(|(k, v)| format!("{k}={v}")))
                .collect::<Vec<_>>()
                .join("&");
            let mut params = Params::default();
            if Params::parse(form.as_bytes(), &mut params).is_ok() {
                let _ = parse(&params, Some("/1/q"));
            }
        }
    }
}
