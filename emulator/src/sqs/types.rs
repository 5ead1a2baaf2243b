//! Plain types shared by the queue engine, the service and the protocol edge.
//! None of them knows JSON or XML.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A message attribute value: SQS carries `String` and `Number` types as
/// strings and `Binary` types as bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttributeValue {
    String(String),
    Binary(Vec<u8>),
}

/// One message attribute (or message system attribute such as
/// `AWSTraceHeader`): a name, a data type (`String`, `Number.int`, ...) and a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageAttribute {
    pub name: String,
    pub data_type: String,
    pub value: AttributeValue,
}

/// What a producer sends: the protocol-neutral form of `SendMessage` and of
/// one `SendMessageBatch` entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SendInput {
    pub body: String,
    /// `DelaySeconds`; `None` means the queue's default.
    pub delay_seconds: Option<i64>,
    pub message_attributes: Vec<MessageAttribute>,
    /// `MessageSystemAttributes` (only `AWSTraceHeader` exists).
    pub system_attributes: Vec<MessageAttribute>,
    pub message_group_id: Option<String>,
    pub message_deduplication_id: Option<String>,
    /// The `SenderId` system attribute: the caller's access key id.
    pub sender_id: String,
}

/// The result of one accepted send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutput {
    pub message_id: String,
    pub md5_of_message_body: String,
    pub md5_of_message_attributes: Option<String>,
    pub md5_of_message_system_attributes: Option<String>,
    /// FIFO queues only.
    pub sequence_number: Option<String>,
}

/// The system attributes of a received message, all of them; the caller
/// picks the ones a request asked for with [`ReceivedMessage::system_attributes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemAttributes {
    pub sender_id: String,
    pub sent_timestamp_ms: u64,
    pub approximate_receive_count: u32,
    pub approximate_first_receive_timestamp_ms: u64,
    pub message_group_id: Option<String>,
    pub message_deduplication_id: Option<String>,
    pub sequence_number: Option<String>,
    pub aws_trace_header: Option<String>,
    pub dead_letter_queue_source_arn: Option<String>,
}

/// A message handed to a consumer, by `ReceiveMessage` or by the in-process
/// receive API the event-source mapping uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    /// The handle that deletes this delivery or changes its visibility.
    pub receipt_handle: String,
    pub body: Arc<str>,
    pub md5_of_body: String,
    /// All message attributes, sorted by name.
    pub message_attributes: Vec<MessageAttribute>,
    /// MD5 of all message attributes (not only the selected ones, as AWS
    /// computes it over the attributes it returns; see
    /// [`ReceivedMessage::select_message_attributes`]).
    pub md5_of_message_attributes: Option<String>,
    pub system: SystemAttributes,
}

/// The system attribute names `ReceiveMessage` accepts.
pub const MESSAGE_SYSTEM_ATTRIBUTE_NAMES: &[&str] = &[
    "All",
    "SenderId",
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageDeduplicationId",
    "MessageGroupId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
    // Accepted because `AttributeNames` is typed as queue attribute names in
    // older models, and SDKs pass it through; it selects nothing.
    "SqsManagedSseEnabled",
];

impl ReceivedMessage {
    /// The system attributes selected by `names` (`All` selects every one),
    /// keyed by their AWS names, as `ReceiveMessage` returns them.
    pub fn system_attributes(&self, names: &[String]) -> BTreeMap<String, String> {
        let all = names.iter().any(|n| n == "All");
        let wants = |name: &str| all || names.iter().any(|n| n == name);
        let s = &self.system;
        let mut out = BTreeMap::new();
        let mut put = |name: &str, value: Option<String>| {
            if let Some(value) = value
                && wants(name)
            {
                out.insert(name.to_owned(), value);
            }
        };
        put("SenderId", Some(s.sender_id.clone()));
        put("SentTimestamp", Some(s.sent_timestamp_ms.to_string()));
        put(
            "ApproximateReceiveCount",
            Some(s.approximate_receive_count.to_string()),
        );
        put(
            "ApproximateFirstReceiveTimestamp",
            Some(s.approximate_first_receive_timestamp_ms.to_string()),
        );
        put("MessageGroupId", s.message_group_id.clone());
        put("MessageDeduplicationId", s.message_deduplication_id.clone());
        put("SequenceNumber", s.sequence_number.clone());
        put("AWSTraceHeader", s.aws_trace_header.clone());
        put(
            "DeadLetterQueueSourceArn",
            s.dead_letter_queue_source_arn.clone(),
        );
        out
    }

    /// The message attributes selected by `names`: `All` or `.*` selects
    /// every one, `prefix.*` those starting with `prefix.`, others by exact
    /// name. Returns them with the MD5 of the returned set, which is what AWS
    /// puts in `MD5OfMessageAttributes`.
    pub fn select_message_attributes(
        &self,
        names: &[String],
    ) -> (Vec<MessageAttribute>, Option<String>) {
        let selected: Vec<MessageAttribute> = self
            .message_attributes
            .iter()
            .filter(|a| {
                names.iter().any(|n| {
                    n == "All"
                        || n == ".*"
                        || n == &a.name
                        || n.strip_suffix(".*")
                            .is_some_and(|prefix| a.name.starts_with(&format!("{prefix}.")))
                })
            })
            .cloned()
            .collect();
        let md5 = if selected.len() == self.message_attributes.len() {
            self.md5_of_message_attributes.clone()
        } else {
            super::digest::md5_of_attributes(&selected)
        };
        (selected, md5)
    }
}

/// Every error the SQS service reports. The AWS-facing variants carry the
/// message AWS would send; the protocol edge maps each to AWS's error code
/// and HTTP status.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SqsError {
    #[error("The specified queue does not exist.")]
    QueueDoesNotExist,
    #[error("{0}")]
    QueueAlreadyExists(String),
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("{0}")]
    MissingParameter(String),
    #[error("{0}")]
    InvalidAttributeName(String),
    #[error("{0}")]
    InvalidAttributeValue(String),
    #[error("{0}")]
    InvalidMessageContents(String),
    #[error("{0}")]
    ReceiptHandleIsInvalid(String),
    #[error("{0}")]
    MessageNotInflight(String),
    #[error("{0}")]
    PurgeQueueInProgress(String),
    #[error("{0}")]
    OverLimit(String),
    #[error("{0}")]
    BatchEntryIdsNotDistinct(String),
    #[error("{0}")]
    EmptyBatchRequest(String),
    #[error("{0}")]
    InvalidBatchEntryId(String),
    #[error("{0}")]
    TooManyEntriesInBatchRequest(String),
    #[error("{0}")]
    BatchRequestTooLong(String),
    #[error("{0}")]
    UnsupportedOperation(String),
    /// An action name the service does not know.
    #[error("{0}")]
    InvalidAction(String),
    /// A request body that is not valid JSON or form data.
    #[error("{0}")]
    MalformedRequest(String),
    /// The state directory could not be created, locked or read.
    #[error("opening sqs state in {path}: {detail}")]
    OpenStore { path: PathBuf, detail: String },
    /// The log writer failed to append; the request was not made durable.
    #[error("writing the sqs log: {0}")]
    WriteLog(String),
    /// The service is shutting down and takes no more writes.
    #[error("the sqs service is shutting down")]
    ShuttingDown,
}

impl SqsError {
    /// True for errors the caller caused (`Sender` fault in AWS terms).
    pub fn is_sender_fault(&self) -> bool {
        !matches!(
            self,
            SqsError::OpenStore { .. } | SqsError::WriteLog(_) | SqsError::ShuttingDown
        )
    }
}
