//! The protocol edge: both SQS wire protocols parse into one neutral
//! [`Request`], [`dispatch`] runs it against the service, and each protocol
//! renders the neutral [`Response`] or error its own way. Only this module
//! (and its children) knows JSON, form encoding and XML.

pub(crate) mod json;
pub(crate) mod query;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use base64::Engine as _;

use super::service::SqsService;
use super::types::{MessageAttribute, ReceivedMessage, SendInput, SendOutput, SqsError};

/// The actions the service implements, by their AWS names.
pub(crate) const ACTIONS: &[&str] = &[
    "CreateQueue",
    "GetQueueUrl",
    "ListQueues",
    "DeleteQueue",
    "GetQueueAttributes",
    "SetQueueAttributes",
    "SendMessage",
    "SendMessageBatch",
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
    "PurgeQueue",
    "TagQueue",
    "UntagQueue",
    "ListQueueTags",
    "ListDeadLetterSourceQueues",
];

/// A request, protocol-neutral. `queue` fields hold the queue URL as sent
/// (or the request path for path-addressed query requests).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Request {
    CreateQueue {
        name: String,
        attributes: BTreeMap<String, String>,
        tags: BTreeMap<String, String>,
    },
    GetQueueUrl {
        name: String,
    },
    ListQueues {
        prefix: Option<String>,
        max_results: Option<i64>,
        next_token: Option<String>,
    },
    DeleteQueue {
        queue: String,
    },
    GetQueueAttributes {
        queue: String,
        names: Vec<String>,
    },
    SetQueueAttributes {
        queue: String,
        attributes: BTreeMap<String, String>,
    },
    SendMessage {
        queue: String,
        entry: SendInput,
    },
    SendMessageBatch {
        queue: String,
        entries: Vec<(String, SendInput)>,
    },
    ReceiveMessage {
        queue: String,
        max: Option<i64>,
        visibility_timeout: Option<i64>,
        wait_seconds: Option<i64>,
        system_attribute_names: Vec<String>,
        message_attribute_names: Vec<String>,
    },
    DeleteMessage {
        queue: String,
        receipt_handle: String,
    },
    DeleteMessageBatch {
        queue: String,
        entries: Vec<(String, String)>,
    },
    ChangeMessageVisibility {
        queue: String,
        receipt_handle: String,
        timeout: i64,
    },
    ChangeMessageVisibilityBatch {
        queue: String,
        entries: Vec<(String, String, Option<i64>)>,
    },
    PurgeQueue {
        queue: String,
    },
    TagQueue {
        queue: String,
        tags: BTreeMap<String, String>,
    },
    UntagQueue {
        queue: String,
        keys: Vec<String>,
    },
    ListQueueTags {
        queue: String,
    },
    ListDeadLetterSourceQueues {
        queue: String,
        max_results: Option<i64>,
        next_token: Option<String>,
    },
}

impl Request {
    pub(crate) fn action(&self) -> &'static str {
        match self {
            Request::CreateQueue { .. } => "CreateQueue",
            Request::GetQueueUrl { .. } => "GetQueueUrl",
            Request::ListQueues { .. } => "ListQueues",
            Request::DeleteQueue { .. } => "DeleteQueue",
            Request::GetQueueAttributes { .. } => "GetQueueAttributes",
            Request::SetQueueAttributes { .. } => "SetQueueAttributes",
            Request::SendMessage { .. } => "SendMessage",
            Request::SendMessageBatch { .. } => "SendMessageBatch",
            Request::ReceiveMessage { .. } => "ReceiveMessage",
            Request::DeleteMessage { .. } => "DeleteMessage",
            Request::DeleteMessageBatch { .. } => "DeleteMessageBatch",
            Request::ChangeMessageVisibility { .. } => "ChangeMessageVisibility",
            Request::ChangeMessageVisibilityBatch { .. } => "ChangeMessageVisibilityBatch",
            Request::PurgeQueue { .. } => "PurgeQueue",
            Request::TagQueue { .. } => "TagQueue",
            Request::UntagQueue { .. } => "UntagQueue",
            Request::ListQueueTags { .. } => "ListQueueTags",
            Request::ListDeadLetterSourceQueues { .. } => "ListDeadLetterSourceQueues",
        }
    }
}

/// One failed entry of a batch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BatchFailure {
    pub id: String,
    pub sender_fault: bool,
    pub code: &'static str,
    pub message: String,
}

/// A received message with the attributes the request selected.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OutMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub md5_of_body: String,
    pub body: String,
    pub attributes: BTreeMap<String, String>,
    pub md5_of_message_attributes: Option<String>,
    pub message_attributes: Vec<MessageAttribute>,
}

/// A response, protocol-neutral.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Response {
    Empty,
    QueueUrl(String),
    QueueUrls {
        urls: Vec<String>,
        next_token: Option<String>,
    },
    DeadLetterSourceQueues {
        urls: Vec<String>,
        next_token: Option<String>,
    },
    Attributes(BTreeMap<String, String>),
    Tags(BTreeMap<String, String>),
    Sent(SendOutput),
    SentBatch {
        successful: Vec<(String, SendOutput)>,
        failed: Vec<BatchFailure>,
    },
    Messages(Vec<OutMessage>),
    Batch {
        successful: Vec<String>,
        failed: Vec<BatchFailure>,
    },
}

/// AWS's names and status for an error: the JSON `__type` shape name, the
/// query-protocol code (also sent in `x-amzn-query-error`), and the status.
pub(crate) fn error_codes(error: &SqsError) -> (&'static str, &'static str, u16) {
    match error {
        SqsError::QueueDoesNotExist => (
            "QueueDoesNotExist",
            "AWS.SimpleQueueService.NonExistentQueue",
            400,
        ),
        SqsError::QueueAlreadyExists(_) => ("QueueNameExists", "QueueAlreadyExists", 400),
        SqsError::InvalidParameterValue(_) => {
            ("InvalidParameterValue", "InvalidParameterValue", 400)
        }
        SqsError::MissingParameter(_) => ("MissingParameter", "MissingParameter", 400),
        SqsError::InvalidAttributeName(_) => ("InvalidAttributeName", "InvalidAttributeName", 400),
        SqsError::InvalidAttributeValue(_) => {
            ("InvalidAttributeValue", "InvalidAttributeValue", 400)
        }
        SqsError::InvalidMessageContents(_) => {
            ("InvalidMessageContents", "InvalidMessageContents", 400)
        }
        SqsError::ReceiptHandleIsInvalid(_) => {
            ("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 404)
        }
        SqsError::MessageNotInflight(_) => (
            "MessageNotInflight",
            "AWS.SimpleQueueService.MessageNotInflight",
            400,
        ),
        SqsError::PurgeQueueInProgress(_) => (
            "PurgeQueueInProgress",
            "AWS.SimpleQueueService.PurgeQueueInProgress",
            403,
        ),
        SqsError::OverLimit(_) => ("OverLimit", "OverLimit", 403),
        SqsError::BatchEntryIdsNotDistinct(_) => (
            "BatchEntryIdsNotDistinct",
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
            400,
        ),
        SqsError::EmptyBatchRequest(_) => (
            "EmptyBatchRequest",
            "AWS.SimpleQueueService.EmptyBatchRequest",
            400,
        ),
        SqsError::InvalidBatchEntryId(_) => (
            "InvalidBatchEntryId",
            "AWS.SimpleQueueService.InvalidBatchEntryId",
            400,
        ),
        SqsError::TooManyEntriesInBatchRequest(_) => (
            "TooManyEntriesInBatchRequest",
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            400,
        ),
        SqsError::BatchRequestTooLong(_) => (
            "BatchRequestTooLong",
            "AWS.SimpleQueueService.BatchRequestTooLong",
            400,
        ),
        SqsError::UnsupportedOperation(_) => (
            "UnsupportedOperation",
            "AWS.SimpleQueueService.UnsupportedOperation",
            400,
        ),
        SqsError::InvalidAction(_) => ("InvalidAction", "InvalidAction", 400),
        SqsError::MalformedRequest(_) => ("SerializationException", "MalformedQueryString", 400),
        SqsError::OpenStore { .. } | SqsError::WriteLog(_) => {
            ("InternalFailure", "InternalError", 500)
        }
        SqsError::ShuttingDown => ("ServiceUnavailable", "ServiceUnavailable", 503),
    }
}

/// Who sent the request: the access key id from a SigV4 `Authorization`
/// header, which becomes the `SenderId` attribute. Any credentials are
/// accepted; without any, a fixed id stands in.
pub(crate) fn sender_id(authorization: Option<&str>) -> String {
    authorization
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').next())
        .filter(|k| !k.is_empty() && k.len() <= 128 && k.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or("AIDAFOGBANKLOCALUSER")
        .to_owned()
}

/// The queue name a queue URL (or request path) names. Any host is
/// accepted, because clients reach the same server as `localhost`,
/// `127.0.0.1` or a container's host name; an account id other than ours
/// names a queue that does not exist.
pub(crate) fn queue_name<'a>(service: &SqsService, url: &'a str) -> Result<&'a str, SqsError> {
    let without_query = url.split(['?', '#']).next().unwrap_or_default();
    let path = match without_query.find("://") {
        Some(at) => {
            let rest = &without_query[at + 3..];
            rest.find('/').map(|p| &rest[p..]).unwrap_or("")
        }
        None => without_query,
    };
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    let (account, name) = match (segments.next(), segments.next(), segments.next()) {
        (Some(name), None, None) => (None, name),
        (Some(account), Some(name), None) => (Some(account), name),
        _ => return Err(SqsError::QueueDoesNotExist),
    };
    if account.is_some_and(|a| a != service.config().account_id && a != "queue") {
        return Err(SqsError::QueueDoesNotExist);
    }
    Ok(name)
}

fn batch_ids<'a>(ids: impl Iterator<Item = &'a str>, kind: &str) -> Result<(), SqsError> {
    let mut seen = BTreeSet::new();
    let mut count = 0;
    for id in ids {
        count += 1;
        let valid = !id.is_empty()
            && id.len() <= 80
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(SqsError::InvalidBatchEntryId(
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long."
                    .into(),
            ));
        }
        if !seen.insert(id) {
            return Err(SqsError::BatchEntryIdsNotDistinct(format!(
                "Id {id} repeated."
            )));
        }
    }
    if count == 0 {
        return Err(SqsError::EmptyBatchRequest(format!(
            "There should be at least one {kind}RequestEntry in the request."
        )));
    }
    if count > 10 {
        return Err(SqsError::TooManyEntriesInBatchRequest(format!(
            "Maximum number of entries per request are 10. You have sent {count}."
        )));
    }
    Ok(())
}

fn failure(id: String, error: SqsError) -> BatchFailure {
    BatchFailure {
        id,
        sender_fault: error.is_sender_fault(),
        code: error_codes(&error).0,
        message: error.to_string(),
    }
}

fn page(
    names: Vec<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
) -> Result<(Vec<String>, Option<String>), SqsError> {
    let max = match max_results {
        None => 1000,
        Some(m) if (1..=1000).contains(&m) => m as usize,
        Some(m) => {
            return Err(SqsError::InvalidParameterValue(format!(
                "Value {m} for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000."
            )));
        }
    };
    let after = match next_token {
        None => None,
        Some(token) => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(token.as_bytes())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    SqsError::InvalidParameterValue("Invalid NextToken value.".into())
                })?;
            Some(decoded)
        }
    };
    let rest: Vec<String> = names
        .into_iter()
        .filter(|n| after.as_ref().is_none_or(|a| n > a))
        .collect();
    let more = rest.len() > max && max_results.is_some();
    let shown: Vec<String> = rest.into_iter().take(max).collect();
    let token = if more {
        shown
            .last()
            .map(|last| base64::engine::general_purpose::STANDARD.encode(last.as_bytes()))
    } else {
        None
    };
    Ok((shown, token))
}

fn render_message(message: ReceivedMessage, system: &[String], names: &[String]) -> OutMessage {
    let attributes = message.system_attributes(system);
    let (message_attributes, md5_of_message_attributes) = message.select_message_attributes(names);
    OutMessage {
        message_id: message.message_id,
        receipt_handle: message.receipt_handle,
        md5_of_body: message.md5_of_body,
        body: message.body.to_string(),
        attributes,
        md5_of_message_attributes: if message_attributes.is_empty() {
            None
        } else {
            md5_of_message_attributes
        },
        message_attributes,
    }
}

/// Runs one request. `sender` is the caller's id for `SenderId`.
pub(crate) async fn dispatch(
    service: &SqsService,
    request: Request,
    sender: &str,
) -> Result<Response, SqsError> {
    match request {
        Request::CreateQueue {
            name,
            attributes,
            tags,
        } => Ok(Response::QueueUrl(
            service.create_queue(&name, &attributes, &tags).await?,
        )),
        Request::GetQueueUrl { name } => Ok(Response::QueueUrl(service.get_queue_url(&name)?)),
        Request::ListQueues {
            prefix,
            max_results,
            next_token,
        } => {
            let names = service.list_queues(prefix.as_deref().unwrap_or(""));
            let (names, next_token) = page(names, max_results, next_token)?;
            Ok(Response::QueueUrls {
                urls: names.iter().map(|n| service.queue_url(n)).collect(),
                next_token,
            })
        }
        Request::DeleteQueue { queue } => {
            service.delete_queue(queue_name(service, &queue)?).await?;
            Ok(Response::Empty)
        }
        Request::GetQueueAttributes { queue, names } => {
            let names = if names.is_empty() { vec![] } else { names };
            Ok(Response::Attributes(service.get_queue_attributes(
                queue_name(service, &queue)?,
                &names,
            )?))
        }
        Request::SetQueueAttributes { queue, attributes } => {
            service
                .set_queue_attributes(queue_name(service, &queue)?, &attributes)
                .await?;
            Ok(Response::Empty)
        }
        Request::SendMessage { queue, mut entry } => {
            entry.sender_id = sender.to_owned();
            Ok(Response::Sent(
                service
                    .send_message(queue_name(service, &queue)?, entry)
                    .await?,
            ))
        }
        Request::SendMessageBatch { queue, entries } => {
            let name = queue_name(service, &queue)?;
            batch_ids(
                entries.iter().map(|(id, _)| id.as_str()),
                "SendMessageBatch",
            )?;
            let total: usize = entries.iter().map(|(_, e)| e.body.len()).sum();
            if total > super::attributes::MAX_MESSAGE_SIZE as usize {
                return Err(SqsError::BatchRequestTooLong(format!(
                    "Batch requests cannot be longer than {} bytes. You have sent {total} bytes.",
                    super::attributes::MAX_MESSAGE_SIZE
                )));
            }
            let (ids, inputs): (Vec<String>, Vec<SendInput>) = entries
                .into_iter()
                .map(|(id, mut e)| {
                    e.sender_id = sender.to_owned();
                    (id, e)
                })
                .unzip();
            let results = service.send_message_batch(name, inputs).await?;
            let mut successful = Vec::new();
            let mut failed = Vec::new();
            for (id, result) in ids.into_iter().zip(results) {
                match result {
                    Ok(out) => successful.push((id, out)),
                    Err(e) => failed.push(failure(id, e)),
                }
            }
            Ok(Response::SentBatch { successful, failed })
        }
        Request::ReceiveMessage {
            queue,
            max,
            visibility_timeout,
            wait_seconds,
            system_attribute_names,
            message_attribute_names,
        } => {
            let name = queue_name(service, &queue)?;
            let max = match max {
                None => 1,
                Some(m) if (1..=10).contains(&m) => m as usize,
                Some(m) => {
                    return Err(SqsError::InvalidParameterValue(format!(
                        "Value {m} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."
                    )));
                }
            };
            let visibility = match visibility_timeout {
                None => None,
                Some(v) if (0..=43_200).contains(&v) => Some(v as u32),
                Some(v) => {
                    return Err(SqsError::InvalidParameterValue(format!(
                        "Value {v} for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided."
                    )));
                }
            };
            let wait = match wait_seconds {
                None => service.default_wait_seconds(name)?,
                Some(w) if (0..=20).contains(&w) => w as u32,
                Some(w) => {
                    return Err(SqsError::InvalidParameterValue(format!(
                        "Value {w} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."
                    )));
                }
            };
            for n in &system_attribute_names {
                if !super::types::MESSAGE_SYSTEM_ATTRIBUTE_NAMES.contains(&n.as_str())
                    && !super::attributes::QUEUE_ATTRIBUTE_NAMES.contains(&n.as_str())
                {
                    return Err(SqsError::InvalidAttributeName(format!(
                        "Unknown Attribute {n}."
                    )));
                }
            }
            let messages = service
                .receive_message(name, max, visibility, Duration::from_secs(u64::from(wait)))
                .await?;
            Ok(Response::Messages(
                messages
                    .into_iter()
                    .map(|m| render_message(m, &system_attribute_names, &message_attribute_names))
                    .collect(),
            ))
        }
        Request::DeleteMessage {
            queue,
            receipt_handle,
        } => {
            service
                .delete_message(queue_name(service, &queue)?, &receipt_handle)
                .await?;
            Ok(Response::Empty)
        }
        Request::DeleteMessageBatch { queue, entries } => {
            let name = queue_name(service, &queue)?;
            batch_ids(
                entries.iter().map(|(id, _)| id.as_str()),
                "DeleteMessageBatch",
            )?;
            let handles: Vec<String> = entries.iter().map(|(_, h)| h.clone()).collect();
            let results = service.delete_message_batch(name, &handles).await?;
            Ok(batch_response(
                entries.into_iter().map(|(id, _)| id),
                results,
            ))
        }
        Request::ChangeMessageVisibility {
            queue,
            receipt_handle,
            timeout,
        } => {
            service
                .change_message_visibility(queue_name(service, &queue)?, &receipt_handle, timeout)
                .await?;
            Ok(Response::Empty)
        }
        Request::ChangeMessageVisibilityBatch { queue, entries } => {
            let name = queue_name(service, &queue)?;
            batch_ids(
                entries.iter().map(|(id, _, _)| id.as_str()),
                "ChangeMessageVisibilityBatch",
            )?;
            // An entry without a VisibilityTimeout is its own failure.
            let mut pairs = Vec::new();
            let mut missing = Vec::new();
            for (index, (_, handle, timeout)) in entries.iter().enumerate() {
                match timeout {
                    Some(t) => pairs.push((handle.clone(), *t)),
                    None => missing.push(index),
                }
            }
            let mut results = service
                .change_message_visibility_batch(name, &pairs)
                .await?
                .into_iter();
            let all: Vec<Result<(), SqsError>> = (0..entries.len())
                .map(|index| {
                    if missing.contains(&index) {
                        Err(SqsError::MissingParameter(
                            "The request must contain the parameter VisibilityTimeout.".into(),
                        ))
                    } else {
                        results.next().unwrap_or(Ok(()))
                    }
                })
                .collect();
            Ok(batch_response(
                entries.into_iter().map(|(id, _, _)| id),
                all,
            ))
        }
        Request::PurgeQueue { queue } => {
            service.purge_queue(queue_name(service, &queue)?).await?;
            Ok(Response::Empty)
        }
        Request::TagQueue { queue, tags } => {
            service
                .tag_queue(queue_name(service, &queue)?, &tags)
                .await?;
            Ok(Response::Empty)
        }
        Request::UntagQueue { queue, keys } => {
            service
                .untag_queue(queue_name(service, &queue)?, &keys)
                .await?;
            Ok(Response::Empty)
        }
        Request::ListQueueTags { queue } => Ok(Response::Tags(
            service.list_queue_tags(queue_name(service, &queue)?)?,
        )),
        Request::ListDeadLetterSourceQueues {
            queue,
            max_results,
            next_token,
        } => {
            let names = service.list_dead_letter_source_queues(queue_name(service, &queue)?)?;
            let (names, next_token) = page(names, max_results, next_token)?;
            Ok(Response::DeadLetterSourceQueues {
                urls: names.iter().map(|n| service.queue_url(n)).collect(),
                next_token,
            })
        }
    }
}

fn batch_response(
    ids: impl Iterator<Item = String>,
    results: Vec<Result<(), SqsError>>,
) -> Response {
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    for (id, result) in ids.zip(results) {
        match result {
            Ok(()) => successful.push(id),
            Err(e) => failed.push(failure(id, e)),
        }
    }
    Response::Batch { successful, failed }
}
