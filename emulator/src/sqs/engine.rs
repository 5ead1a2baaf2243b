//! The queue engine: every SQS semantic, with no I/O and no clock of its own.
//!
//! Each operation takes `now_ms` (Unix epoch milliseconds; epoch time rather
//! than a monotonic instant because visibility deadlines and timestamps are
//! persisted and must mean the same after a restart).
//!
//! Architecture invariant: every durable state change goes through
//! [`Engine::record`], which applies a [`Change`] and appends it to the
//! outbox. Replaying the outbox (or a log of it) into an empty engine with
//! [`Engine::replay`] rebuilds the same state, which the unit tests check.
//! State that follows from time alone (a delay or visibility timeout running
//! out, retention expiry, dedup windows closing) is derived again after a
//! replay and so is never logged.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::attributes::{DedupScope, QueueConfig};
use super::digest::{md5_of_attributes, md5_of_body};
use super::types::{
    AttributeValue, MessageAttribute, ReceivedMessage, SendInput, SendOutput, SqsError,
    SystemAttributes,
};

/// The FIFO deduplication window.
pub const DEDUP_WINDOW_MS: u64 = 5 * 60 * 1000;
/// AWS's limit on in-flight messages per standard queue.
const MAX_IN_FLIGHT_STANDARD: usize = 120_000;
/// AWS's limit on in-flight messages per FIFO queue.
const MAX_IN_FLIGHT_FIFO: usize = 120_000;
/// PurgeQueue may run once per 60 seconds per queue.
const PURGE_INTERVAL_MS: u64 = 60_000;

/// A durable state change. The log stores these; a snapshot is a list of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Change {
    QueueCreated {
        name: String,
        config: QueueConfig,
        tags: BTreeMap<String, String>,
        created_ms: u64,
    },
    QueueConfigured {
        name: String,
        config: QueueConfig,
        last_modified_ms: u64,
    },
    QueueTagged {
        name: String,
        tags: BTreeMap<String, String>,
    },
    QueueDeleted {
        name: String,
    },
    QueuePurged {
        name: String,
        at_ms: u64,
    },
    /// A message stored with its full state: a send, a move to a DLQ, or a
    /// snapshot entry.
    MessagePut {
        queue: String,
        message: StoredMessage,
    },
    MessageReceived {
        queue: String,
        seq: u64,
        receipt: u64,
        visible_at_ms: u64,
        receive_count: u32,
        first_receive_ms: u64,
    },
    VisibilityChanged {
        queue: String,
        seq: u64,
        visible_at_ms: u64,
    },
    MessageDeleted {
        queue: String,
        seq: u64,
    },
    DedupRecorded {
        queue: String,
        key: String,
        entry: DedupEntry,
    },
}

/// Where a message is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageState {
    Visible,
    /// Waiting out `DelaySeconds` until `visible_at_ms`.
    Delayed,
    /// Received and invisible until `visible_at_ms`.
    InFlight,
}

/// A message as the engine keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMessage {
    /// Queue-local, strictly increasing: the send order.
    pub seq: u64,
    pub message_id: String,
    pub body: Arc<str>,
    pub md5_of_body: String,
    pub attributes: Vec<MessageAttribute>,
    pub md5_of_attributes: Option<String>,
    pub aws_trace_header: Option<String>,
    pub sent_ms: u64,
    pub sender_id: String,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
    pub sequence_number: Option<String>,
    pub receive_count: u32,
    pub first_receive_ms: u64,
    pub state: MessageState,
    pub visible_at_ms: u64,
    /// The nonce of the latest receipt handle; 0 before the first receive.
    pub receipt: u64,
    pub dead_letter_source_arn: Option<String>,
}

/// A FIFO deduplication entry: what a duplicate send answers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DedupEntry {
    pub expires_ms: u64,
    pub message_id: String,
    pub sequence_number: Option<String>,
}

/// Queue counts, as GetQueueAttributes reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub visible: usize,
    pub in_flight: usize,
    pub delayed: usize,
}

#[derive(Debug, Default)]
struct Group {
    /// Messages of the group in send order, in any state.
    seqs: VecDeque<u64>,
    in_flight: u32,
}

#[derive(Debug)]
struct Queue {
    name: String,
    arn: String,
    config: QueueConfig,
    tags: BTreeMap<String, String>,
    created_ms: u64,
    last_modified_ms: u64,
    last_purge_ms: Option<u64>,
    messages: HashMap<u64, StoredMessage>,
    /// Standard queues: visible messages in the order they became visible.
    /// May hold seqs of messages deleted since; receive skips those.
    ready: VecDeque<u64>,
    /// FIFO queues: messages per group.
    groups: HashMap<String, Group>,
    /// Delayed and in-flight messages by the time they become visible.
    timers: BTreeSet<(u64, u64)>,
    /// Messages by send time, for retention expiry.
    by_age: BTreeSet<(u64, u64)>,
    counts: Counts,
    dedup: HashMap<String, DedupEntry>,
    dedup_expiry: BTreeSet<(u64, String)>,
    next_seq: u64,
    next_receipt: u64,
    next_sequence_number: u64,
}

impl Queue {
    fn new(
        name: String,
        arn: String,
        config: QueueConfig,
        tags: BTreeMap<String, String>,
        created_ms: u64,
    ) -> Queue {
        Queue {
            name,
            arn,
            config,
            tags,
            created_ms,
            last_modified_ms: created_ms,
            last_purge_ms: None,
            messages: HashMap::new(),
            ready: VecDeque::new(),
            groups: HashMap::new(),
            timers: BTreeSet::new(),
            by_age: BTreeSet::new(),
            counts: Counts::default(),
            dedup: HashMap::new(),
            dedup_expiry: BTreeSet::new(),
            next_seq: 1,
            next_receipt: 1,
            next_sequence_number: 1,
        }
    }

    fn count(&mut self, state: MessageState, delta: isize) {
        let slot = match state {
            MessageState::Visible => &mut self.counts.visible,
            MessageState::Delayed => &mut self.counts.delayed,
            MessageState::InFlight => &mut self.counts.in_flight,
        };
        *slot = slot.saturating_add_signed(delta);
    }

    /// Indexes a message by its state; the message must not be indexed yet.
    fn insert(&mut self, message: StoredMessage) {
        let seq = message.seq;
        self.next_seq = self.next_seq.max(seq + 1);
        self.next_receipt = self.next_receipt.max(message.receipt + 1);
        if let Some(n) = message
            .sequence_number
            .as_deref()
            .and_then(|s| s.parse::<u128>().ok())
        {
            let counter = n.saturating_sub(SEQUENCE_BASE) as u64;
            self.next_sequence_number = self.next_sequence_number.max(counter + 1);
        }
        self.by_age.insert((message.sent_ms, seq));
        self.count(message.state, 1);
        match message.state {
            MessageState::Visible => {
                if !self.config.fifo {
                    self.ready.push_back(seq);
                }
            }
            MessageState::Delayed | MessageState::InFlight => {
                self.timers.insert((message.visible_at_ms, seq));
            }
        }
        if self.config.fifo {
            let group = self
                .groups
                .entry(message.group_id.clone().unwrap_or_default())
                .or_default();
            // Snapshots and DLQ moves may insert out of send order; keep the
            // group sorted by seq so per-group order is the send order.
            let at = group.seqs.partition_point(|s| *s < seq);
            group.seqs.insert(at, seq);
            if message.state == MessageState::InFlight {
                group.in_flight += 1;
            }
        }
        self.messages.insert(seq, message);
    }

    fn remove(&mut self, seq: u64) -> Option<StoredMessage> {
        let message = self.messages.remove(&seq)?;
        self.by_age.remove(&(message.sent_ms, seq));
        self.count(message.state, -1);
        if message.state != MessageState::Visible {
            self.timers.remove(&(message.visible_at_ms, seq));
        }
        if self.config.fifo {
            let key = message.group_id.clone().unwrap_or_default();
            if let Some(group) = self.groups.get_mut(&key) {
                if let Some(at) = group.seqs.iter().position(|s| *s == seq) {
                    group.seqs.remove(at);
                }
                if message.state == MessageState::InFlight {
                    group.in_flight = group.in_flight.saturating_sub(1);
                }
                if group.seqs.is_empty() {
                    self.groups.remove(&key);
                }
            }
        }
        Some(message)
    }

    /// Moves a message to a new state; `visible_at_ms` matters for the
    /// timed states.
    fn transition(&mut self, seq: u64, state: MessageState, visible_at_ms: u64) {
        let fifo = self.config.fifo;
        let Some(message) = self.messages.get_mut(&seq) else {
            return;
        };
        let old = message.state;
        let old_deadline = message.visible_at_ms;
        message.state = state;
        message.visible_at_ms = if state == MessageState::Visible {
            0
        } else {
            visible_at_ms
        };
        let group_key = message.group_id.clone();
        if old != MessageState::Visible {
            self.timers.remove(&(old_deadline, seq));
        }
        match state {
            MessageState::Visible => {
                if !fifo {
                    self.ready.push_back(seq);
                }
            }
            MessageState::Delayed | MessageState::InFlight => {
                self.timers.insert((visible_at_ms, seq));
            }
        }
        self.count(old, -1);
        self.count(state, 1);
        if fifo
            && (old == MessageState::InFlight) != (state == MessageState::InFlight)
            && let Some(group) = self.groups.get_mut(&group_key.unwrap_or_default())
        {
            if state == MessageState::InFlight {
                group.in_flight += 1;
            } else {
                group.in_flight = group.in_flight.saturating_sub(1);
            }
        }
    }

    /// Applies everything that follows from time alone: delays and
    /// visibility timeouts running out, retention, dedup windows.
    fn advance(&mut self, now_ms: u64) {
        while let Some(&(deadline, seq)) = self.timers.first() {
            if deadline > now_ms {
                break;
            }
            self.transition(seq, MessageState::Visible, 0);
        }
        let retention_ms = u64::from(self.config.retention_s) * 1000;
        while let Some(&(sent, seq)) = self.by_age.first() {
            if sent.saturating_add(retention_ms) > now_ms {
                break;
            }
            self.remove(seq);
        }
        while let Some((expires, key)) = self.dedup_expiry.first() {
            if *expires > now_ms {
                break;
            }
            let key = key.clone();
            let expires = *expires;
            self.dedup_expiry.remove(&(expires, key.clone()));
            if self
                .dedup
                .get(&key)
                .is_some_and(|e| e.expires_ms == expires)
            {
                self.dedup.remove(&key);
            }
        }
    }

    fn received(&self, message: &StoredMessage) -> ReceivedMessage {
        ReceivedMessage {
            message_id: message.message_id.clone(),
            receipt_handle: encode_receipt(&self.name, message.seq, message.receipt),
            body: message.body.clone(),
            md5_of_body: message.md5_of_body.clone(),
            message_attributes: message.attributes.clone(),
            md5_of_message_attributes: message.md5_of_attributes.clone(),
            system: SystemAttributes {
                sender_id: message.sender_id.clone(),
                sent_timestamp_ms: message.sent_ms,
                approximate_receive_count: message.receive_count,
                approximate_first_receive_timestamp_ms: message.first_receive_ms,
                message_group_id: message.group_id.clone(),
                message_deduplication_id: message.dedup_id.clone(),
                sequence_number: message.sequence_number.clone(),
                aws_trace_header: message.aws_trace_header.clone(),
                dead_letter_queue_source_arn: message.dead_letter_source_arn.clone(),
            },
        }
    }

    /// The next visible message to hand out, in queue order, without
    /// taking it: for standard queues the front of `ready`, for FIFO queues
    /// the head of the oldest unblocked group. `taken_groups` lists the groups
    /// this receive already takes from (a FIFO receive keeps taking from the
    /// same group first).
    fn next_candidate(&mut self, current_group: Option<&str>) -> Option<u64> {
        if !self.config.fifo {
            while let Some(&seq) = self.ready.front() {
                if self
                    .messages
                    .get(&seq)
                    .is_some_and(|m| m.state == MessageState::Visible)
                {
                    return Some(seq);
                }
                self.ready.pop_front();
            }
            return None;
        }
        // Within the group we are already taking from, the next message in
        // order is eligible if it is visible (earlier ones are in flight for
        // this very receive).
        if let Some(key) = current_group
            && let Some(group) = self.groups.get(key)
        {
            let next = group.seqs.iter().find(|s| {
                self.messages
                    .get(s)
                    .is_some_and(|m| m.state != MessageState::InFlight)
            });
            if let Some(seq) = next
                && self
                    .messages
                    .get(seq)
                    .is_some_and(|m| m.state == MessageState::Visible)
            {
                return Some(*seq);
            }
        }
        self.groups
            .values()
            .filter(|g| g.in_flight == 0)
            .filter_map(|g| g.seqs.front())
            .filter(|seq| {
                self.messages
                    .get(seq)
                    .is_some_and(|m| m.state == MessageState::Visible)
            })
            .min()
            .copied()
    }
}

/// 10^19: sequence numbers are 20-digit decimals like AWS's.
const SEQUENCE_BASE: u128 = 10_000_000_000_000_000_000;

/// What [`Engine::create_queue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    /// The queue existed with the same attributes; nothing changed.
    Existing,
}

/// How strictly a create validates its RedrivePolicy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedriveCheck {
    /// API calls: the dead-letter queue must exist and be of the same type.
    TargetMustExist,
    /// Template queues, created in any order at start: checked on use.
    Deferred,
}

/// The queue engine: all queues of one emulated account.
#[derive(Debug)]
pub struct Engine {
    region: String,
    account_id: String,
    queues: BTreeMap<String, Queue>,
    outbox: Vec<Change>,
}

impl Engine {
    pub fn new(region: &str, account_id: &str) -> Engine {
        Engine {
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            queues: BTreeMap::new(),
            outbox: Vec::new(),
        }
    }

    /// The ARN of a queue of this account.
    pub fn queue_arn(&self, name: &str) -> String {
        format!("arn:aws:sqs:{}:{}:{}", self.region, self.account_id, name)
    }

    /// Takes the changes recorded since the last call, for the log.
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.outbox)
    }

    /// Applies logged changes without recording them again (recovery).
    pub fn replay(&mut self, changes: impl IntoIterator<Item = Change>) {
        for change in changes {
            self.apply(change);
        }
    }

    /// The changes that rebuild the current state from nothing: the content
    /// of a compacted log.
    pub fn snapshot(&self) -> Vec<Change> {
        let mut out = Vec::new();
        for queue in self.queues.values() {
            out.push(Change::QueueCreated {
                name: queue.name.clone(),
                config: queue.config.clone(),
                tags: queue.tags.clone(),
                created_ms: queue.created_ms,
            });
            out.push(Change::QueueConfigured {
                name: queue.name.clone(),
                config: queue.config.clone(),
                last_modified_ms: queue.last_modified_ms,
            });
            if let Some(at_ms) = queue.last_purge_ms {
                out.push(Change::QueuePurged {
                    name: queue.name.clone(),
                    at_ms,
                });
            }
            let mut seqs: Vec<&u64> = queue.messages.keys().collect();
            seqs.sort();
            for seq in seqs {
                if let Some(message) = queue.messages.get(seq) {
                    out.push(Change::MessagePut {
                        queue: queue.name.clone(),
                        message: message.clone(),
                    });
                }
            }
            for (key, entry) in &queue.dedup {
                out.push(Change::DedupRecorded {
                    queue: queue.name.clone(),
                    key: key.clone(),
                    entry: entry.clone(),
                });
            }
        }
        out
    }

    fn record(&mut self, change: Change) {
        self.apply(change.clone());
        self.outbox.push(change);
    }

    fn apply(&mut self, change: Change) {
        match change {
            Change::QueueCreated {
                name,
                config,
                tags,
                created_ms,
            } => {
                let arn = self.queue_arn(&name);
                self.queues.insert(
                    name.clone(),
                    Queue::new(name, arn, config, tags, created_ms),
                );
            }
            Change::QueueConfigured {
                name,
                config,
                last_modified_ms,
            } => {
                if let Some(q) = self.queues.get_mut(&name) {
                    q.config = config;
                    q.last_modified_ms = last_modified_ms;
                }
            }
            Change::QueueTagged { name, tags } => {
                if let Some(q) = self.queues.get_mut(&name) {
                    q.tags = tags;
                }
            }
            Change::QueueDeleted { name } => {
                self.queues.remove(&name);
            }
            Change::QueuePurged { name, at_ms } => {
                if let Some(q) = self.queues.get_mut(&name) {
                    let seqs: Vec<u64> = q.messages.keys().copied().collect();
                    for seq in seqs {
                        q.remove(seq);
                    }
                    q.ready.clear();
                    q.last_purge_ms = Some(at_ms);
                }
            }
            Change::MessagePut { queue, message } => {
                if let Some(q) = self.queues.get_mut(&queue) {
                    q.remove(message.seq);
                    q.insert(message);
                }
            }
            Change::MessageReceived {
                queue,
                seq,
                receipt,
                visible_at_ms,
                receive_count,
                first_receive_ms,
            } => {
                if let Some(q) = self.queues.get_mut(&queue) {
                    q.next_receipt = q.next_receipt.max(receipt + 1);
                    if let Some(m) = q.messages.get_mut(&seq) {
                        m.receipt = receipt;
                        m.receive_count = receive_count;
                        m.first_receive_ms = first_receive_ms;
                        q.transition(seq, MessageState::InFlight, visible_at_ms);
                    }
                }
            }
            Change::VisibilityChanged {
                queue,
                seq,
                visible_at_ms,
            } => {
                if let Some(q) = self.queues.get_mut(&queue)
                    && q.messages.contains_key(&seq)
                {
                    // Zero means visible now; otherwise the message stays
                    // in flight until the new deadline (a past deadline is
                    // promoted by the next `advance`).
                    if visible_at_ms == 0 {
                        q.transition(seq, MessageState::Visible, 0);
                    } else {
                        q.transition(seq, MessageState::InFlight, visible_at_ms);
                    }
                }
            }
            Change::MessageDeleted { queue, seq } => {
                if let Some(q) = self.queues.get_mut(&queue) {
                    q.remove(seq);
                }
            }
            Change::DedupRecorded { queue, key, entry } => {
                if let Some(q) = self.queues.get_mut(&queue) {
                    q.dedup_expiry.insert((entry.expires_ms, key.clone()));
                    q.dedup.insert(key, entry);
                }
            }
        }
    }

    fn queue_mut(&mut self, name: &str, now_ms: u64) -> Result<&mut Queue, SqsError> {
        let queue = self
            .queues
            .get_mut(name)
            .ok_or(SqsError::QueueDoesNotExist)?;
        queue.advance(now_ms);
        Ok(queue)
    }

    /// True when the queue exists.
    pub fn has_queue(&self, name: &str) -> bool {
        self.queues.contains_key(name)
    }

    /// True when the queue exists and is FIFO.
    pub fn is_fifo(&self, name: &str) -> Result<bool, SqsError> {
        Ok(self
            .queues
            .get(name)
            .ok_or(SqsError::QueueDoesNotExist)?
            .config
            .fifo)
    }

    /// The queue's configuration.
    pub fn config(&self, name: &str) -> Result<&QueueConfig, SqsError> {
        Ok(&self
            .queues
            .get(name)
            .ok_or(SqsError::QueueDoesNotExist)?
            .config)
    }

    /// CreateQueue: idempotent for equal attributes, `QueueAlreadyExists`
    /// for different ones.
    pub fn create_queue(
        &mut self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
        redrive_check: RedriveCheck,
        now_ms: u64,
    ) -> Result<Created, SqsError> {
        let fifo_attr = attributes
            .get("FifoQueue")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        validate_queue_name(name, fifo_attr)?;
        let mut config = QueueConfig::new(fifo_attr);
        config.apply(attributes, true)?;
        if let Some(existing) = self.queues.get(name) {
            let current = existing.config.render();
            let wanted = config.render();
            for key in attributes.keys() {
                if current.get(key.as_str()) != wanted.get(key.as_str()) {
                    return Err(SqsError::QueueAlreadyExists(format!(
                        "A queue already exists with the same name and a different value for attribute {key}"
                    )));
                }
            }
            return Ok(Created::Existing);
        }
        if redrive_check == RedriveCheck::TargetMustExist {
            self.check_redrive_target(&config)?;
        }
        validate_tags(tags)?;
        self.record(Change::QueueCreated {
            name: name.to_owned(),
            config,
            tags: tags.clone(),
            created_ms: now_ms,
        });
        Ok(Created::New)
    }

    fn check_redrive_target(&self, config: &QueueConfig) -> Result<(), SqsError> {
        let Some(redrive) = &config.redrive else {
            return Ok(());
        };
        let target = self
            .queues
            .values()
            .find(|q| q.arn == redrive.dead_letter_target_arn);
        match target {
            None => Err(SqsError::InvalidParameterValue(format!(
                "Value {} for parameter RedrivePolicy is invalid. Reason: Dead-letter target does not exist.",
                redrive.dead_letter_target_arn
            ))),
            Some(q) if q.config.fifo != config.fifo => {
                Err(SqsError::InvalidParameterValue(format!(
                    "Value {} for parameter RedrivePolicy is invalid. Reason: Dead-letter queue must be same type of queue as the source.",
                    redrive.dead_letter_target_arn
                )))
            }
            Some(_) => Ok(()),
        }
    }

    /// Applies attributes to an existing queue, as template loading at
    /// start does (keeping its messages).
    pub fn update_queue(
        &mut self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        tags: Option<&BTreeMap<String, String>>,
        now_ms: u64,
    ) -> Result<(), SqsError> {
        let queue = self.queues.get(name).ok_or(SqsError::QueueDoesNotExist)?;
        let mut config = queue.config.clone();
        let old_tags = queue.tags.clone();
        config.apply(attributes, true)?;
        if config != queue.config {
            self.record(Change::QueueConfigured {
                name: name.to_owned(),
                config,
                last_modified_ms: now_ms,
            });
        }
        if let Some(tags) = tags
            && *tags != old_tags
        {
            validate_tags(tags)?;
            self.record(Change::QueueTagged {
                name: name.to_owned(),
                tags: tags.clone(),
            });
        }
        Ok(())
    }

    /// The names of all queues starting with `prefix`, sorted.
    pub fn list_queues(&self, prefix: &str) -> Vec<String> {
        self.queues
            .keys()
            .filter(|n| n.starts_with(prefix))
            .cloned()
            .collect()
    }

    pub fn delete_queue(&mut self, name: &str) -> Result<(), SqsError> {
        if !self.queues.contains_key(name) {
            return Err(SqsError::QueueDoesNotExist);
        }
        self.record(Change::QueueDeleted {
            name: name.to_owned(),
        });
        Ok(())
    }

    /// GetQueueAttributes: the named attributes (`All` for every one).
    /// Unknown names are `InvalidAttributeName`.
    pub fn get_attributes(
        &mut self,
        name: &str,
        names: &[String],
        now_ms: u64,
    ) -> Result<BTreeMap<String, String>, SqsError> {
        for n in names {
            if n != "All" && !super::attributes::QUEUE_ATTRIBUTE_NAMES.contains(&n.as_str()) {
                return Err(SqsError::InvalidAttributeName(format!(
                    "Unknown Attribute {n}."
                )));
            }
        }
        let queue = self.queue_mut(name, now_ms)?;
        let mut all: BTreeMap<String, String> = queue
            .config
            .render()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        all.insert("QueueArn".into(), queue.arn.clone());
        all.insert(
            "CreatedTimestamp".into(),
            (queue.created_ms / 1000).to_string(),
        );
        all.insert(
            "LastModifiedTimestamp".into(),
            (queue.last_modified_ms / 1000).to_string(),
        );
        all.insert(
            "ApproximateNumberOfMessages".into(),
            queue.counts.visible.to_string(),
        );
        all.insert(
            "ApproximateNumberOfMessagesNotVisible".into(),
            queue.counts.in_flight.to_string(),
        );
        all.insert(
            "ApproximateNumberOfMessagesDelayed".into(),
            queue.counts.delayed.to_string(),
        );
        if names.iter().any(|n| n == "All") {
            return Ok(all);
        }
        Ok(all
            .into_iter()
            .filter(|(k, _)| names.iter().any(|n| n == k))
            .collect())
    }

    /// The queue's counts right now.
    pub fn counts(&mut self, name: &str, now_ms: u64) -> Result<Counts, SqsError> {
        Ok(self.queue_mut(name, now_ms)?.counts)
    }

    pub fn set_attributes(
        &mut self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        now_ms: u64,
    ) -> Result<(), SqsError> {
        let queue = self.queue_mut(name, now_ms)?;
        let mut config = queue.config.clone();
        config.apply(attributes, false)?;
        self.check_redrive_target(&config)?;
        self.record(Change::QueueConfigured {
            name: name.to_owned(),
            config,
            last_modified_ms: now_ms,
        });
        Ok(())
    }

    pub fn tags(&self, name: &str) -> Result<BTreeMap<String, String>, SqsError> {
        Ok(self
            .queues
            .get(name)
            .ok_or(SqsError::QueueDoesNotExist)?
            .tags
            .clone())
    }

    pub fn tag_queue(
        &mut self,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), SqsError> {
        let mut merged = self.tags(name)?;
        if tags.is_empty() {
            return Err(SqsError::MissingParameter(
                "The request must contain the parameter Tags.".into(),
            ));
        }
        merged.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        validate_tags(&merged)?;
        self.record(Change::QueueTagged {
            name: name.to_owned(),
            tags: merged,
        });
        Ok(())
    }

    pub fn untag_queue(&mut self, name: &str, keys: &[String]) -> Result<(), SqsError> {
        let mut tags = self.tags(name)?;
        if keys.is_empty() {
            return Err(SqsError::MissingParameter(
                "The request must contain the parameter TagKeys.".into(),
            ));
        }
        for key in keys {
            tags.remove(key);
        }
        self.record(Change::QueueTagged {
            name: name.to_owned(),
            tags,
        });
        Ok(())
    }

    /// The names of the queues whose RedrivePolicy targets `name`.
    pub fn dead_letter_sources(&self, name: &str) -> Result<Vec<String>, SqsError> {
        let arn = &self
            .queues
            .get(name)
            .ok_or(SqsError::QueueDoesNotExist)?
            .arn;
        Ok(self
            .queues
            .values()
            .filter(|q| {
                q.config
                    .redrive
                    .as_ref()
                    .is_some_and(|r| &r.dead_letter_target_arn == arn)
            })
            .map(|q| q.name.clone())
            .collect())
    }

    pub fn purge(&mut self, name: &str, now_ms: u64) -> Result<(), SqsError> {
        let queue = self.queue_mut(name, now_ms)?;
        if let Some(last) = queue.last_purge_ms
            && now_ms < last + PURGE_INTERVAL_MS
        {
            return Err(SqsError::PurgeQueueInProgress(format!(
                "Only one PurgeQueue operation on {name} is allowed every 60 seconds."
            )));
        }
        self.record(Change::QueuePurged {
            name: name.to_owned(),
            at_ms: now_ms,
        });
        Ok(())
    }

    /// SendMessage (and one entry of SendMessageBatch).
    pub fn send(
        &mut self,
        name: &str,
        input: SendInput,
        now_ms: u64,
    ) -> Result<SendOutput, SqsError> {
        let prepared = prepare_send(input)?;
        self.send_prepared(name, prepared, now_ms)
    }

    /// Sends a message validated and digested by [`prepare_send`] (the
    /// service does that outside its lock).
    pub fn send_prepared(
        &mut self,
        name: &str,
        input: PreparedSend,
        now_ms: u64,
    ) -> Result<SendOutput, SqsError> {
        let queue = self.queue_mut(name, now_ms)?;
        let config = &queue.config;
        if input.size > config.maximum_message_size as usize {
            return Err(SqsError::InvalidParameterValue(format!(
                "One or more parameters are invalid. Reason: Message must be shorter than {} bytes.",
                config.maximum_message_size
            )));
        }
        let not_for_queue_type = |param: &str, value: &str| {
            SqsError::InvalidParameterValue(format!(
                "Value {value} for parameter {param} is invalid. Reason: The request include parameter that is not valid for this queue type."
            ))
        };
        let mut output = SendOutput {
            message_id: String::new(),
            md5_of_message_body: input.md5_of_body.clone(),
            md5_of_message_attributes: input.md5_of_attributes.clone(),
            md5_of_message_system_attributes: input.md5_of_system_attributes.clone(),
            sequence_number: None,
        };
        let delay_s = match input.delay_seconds {
            Some(d) if config.fifo => {
                return Err(not_for_queue_type("DelaySeconds", &d.to_string()));
            }
            Some(d) => d,
            None => config.delay_s,
        };
        let mut dedup_key = None;
        let mut dedup_id = None;
        if config.fifo {
            let group = input.group_id.as_deref().ok_or_else(|| {
                SqsError::MissingParameter(
                    "The request must contain the parameter MessageGroupId.".into(),
                )
            })?;
            let id = match (&input.dedup_id, config.content_based_dedup) {
                (Some(id), _) => id.clone(),
                (None, true) => sha256_hex(&input.body),
                (None, false) => {
                    return Err(SqsError::InvalidParameterValue(
                        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"
                            .into(),
                    ));
                }
            };
            let key = match config.dedup_scope {
                DedupScope::Queue => id.clone(),
                DedupScope::MessageGroup => format!("{group}\u{0}{id}"),
            };
            if let Some(entry) = queue.dedup.get(&key) {
                // A duplicate inside the window is accepted but not enqueued;
                // AWS answers with the original message's id.
                output.message_id = entry.message_id.clone();
                output.sequence_number = entry.sequence_number.clone();
                return Ok(output);
            }
            dedup_key = Some(key);
            dedup_id = Some(id);
        } else if let Some(id) = &input.dedup_id {
            return Err(not_for_queue_type("MessageDeduplicationId", id));
        }
        if queue.counts.in_flight
            >= if config.fifo {
                MAX_IN_FLIGHT_FIFO
            } else {
                MAX_IN_FLIGHT_STANDARD
            }
        {
            // AWS refuses receives, not sends, at the in-flight limit; the
            // check lives in `receive`. Nothing to do here.
        }
        let sequence_number = config
            .fifo
            .then(|| (SEQUENCE_BASE + u128::from(queue.next_sequence_number)).to_string());
        let seq = queue.next_seq;
        let message_id = uuid::Uuid::new_v4().to_string();
        let (state, visible_at_ms) = if delay_s > 0 {
            (MessageState::Delayed, now_ms + u64::from(delay_s) * 1000)
        } else {
            (MessageState::Visible, 0)
        };
        let message = StoredMessage {
            seq,
            message_id: message_id.clone(),
            body: input.body,
            md5_of_body: input.md5_of_body,
            attributes: input.attributes,
            md5_of_attributes: input.md5_of_attributes,
            aws_trace_header: input.aws_trace_header,
            sent_ms: now_ms,
            sender_id: input.sender_id,
            group_id: input.group_id,
            dedup_id,
            sequence_number: sequence_number.clone(),
            receive_count: 0,
            first_receive_ms: 0,
            state,
            visible_at_ms,
            receipt: 0,
            dead_letter_source_arn: None,
        };
        if let Some(key) = dedup_key {
            self.record(Change::DedupRecorded {
                queue: name.to_owned(),
                key,
                entry: DedupEntry {
                    expires_ms: now_ms + DEDUP_WINDOW_MS,
                    message_id: message_id.clone(),
                    sequence_number: sequence_number.clone(),
                },
            });
        }
        self.record(Change::MessagePut {
            queue: name.to_owned(),
            message,
        });
        output.message_id = message_id;
        output.sequence_number = sequence_number;
        Ok(output)
    }

    /// ReceiveMessage without waiting: up to `max` visible messages, made
    /// invisible for `visibility_timeout_s` (the queue's default when
    /// `None`). Messages past the redrive policy's maxReceiveCount move to
    /// the dead-letter queue instead of being returned.
    pub fn receive(
        &mut self,
        name: &str,
        max: usize,
        visibility_timeout_s: Option<u32>,
        now_ms: u64,
    ) -> Result<Vec<ReceivedMessage>, SqsError> {
        let queue = self.queue_mut(name, now_ms)?;
        let fifo = queue.config.fifo;
        let limit = if fifo {
            MAX_IN_FLIGHT_FIFO
        } else {
            MAX_IN_FLIGHT_STANDARD
        };
        if queue.counts.in_flight >= limit {
            return Err(SqsError::OverLimit(format!(
                "Too many messages in flight for queue {name}: the limit is {limit}."
            )));
        }
        let visibility_ms =
            u64::from(visibility_timeout_s.unwrap_or(queue.config.visibility_timeout_s)) * 1000;
        let redrive = queue.config.redrive.clone();
        let source_arn = queue.arn.clone();
        let dlq_name = redrive
            .as_ref()
            .and_then(|r| {
                self.queues
                    .values()
                    .find(|q| q.arn == r.dead_letter_target_arn && q.name != name)
            })
            .map(|q| q.name.clone());
        let mut out = Vec::new();
        let mut current_group: Option<String> = None;
        while out.len() < max {
            let Some(queue) = self.queues.get_mut(name) else {
                break;
            };
            let Some(seq) = queue.next_candidate(current_group.as_deref()) else {
                break;
            };
            let Some(message) = queue.messages.get(&seq) else {
                break;
            };
            if let (Some(redrive), Some(dlq)) = (&redrive, &dlq_name)
                && message.receive_count >= redrive.max_receive_count
            {
                let mut moved = message.clone();
                if !fifo {
                    // A standard queue delivers in any order; popping the
                    // candidate keeps `ready` from offering it again.
                    queue.ready.pop_front();
                }
                self.record(Change::MessageDeleted {
                    queue: name.to_owned(),
                    seq,
                });
                let Some(target) = self.queues.get_mut(dlq.as_str()) else {
                    break;
                };
                target.advance(now_ms);
                moved.seq = target.next_seq;
                moved.state = MessageState::Visible;
                moved.visible_at_ms = 0;
                moved.receipt = 0;
                moved.dead_letter_source_arn = Some(source_arn.clone());
                if moved.sequence_number.is_some() {
                    moved.sequence_number =
                        Some((SEQUENCE_BASE + u128::from(target.next_sequence_number)).to_string());
                }
                self.record(Change::MessagePut {
                    queue: dlq.clone(),
                    message: moved,
                });
                continue;
            }
            let receipt = queue.next_receipt;
            let receive_count = message.receive_count + 1;
            let first_receive_ms = if message.first_receive_ms == 0 {
                now_ms
            } else {
                message.first_receive_ms
            };
            if fifo {
                current_group = Some(message.group_id.clone().unwrap_or_default());
            } else {
                queue.ready.pop_front();
            }
            self.record(Change::MessageReceived {
                queue: name.to_owned(),
                seq,
                receipt,
                visible_at_ms: now_ms + visibility_ms,
                receive_count,
                first_receive_ms,
            });
            if let Some(queue) = self.queues.get(name)
                && let Some(message) = queue.messages.get(&seq)
            {
                out.push(queue.received(message));
            }
        }
        Ok(out)
    }

    /// Names the queue that received messages moved into, so the service
    /// can wake its waiters: the dead-letter queue of `name`, if any.
    pub fn dead_letter_queue_of(&self, name: &str) -> Option<String> {
        let redrive = self.queues.get(name)?.config.redrive.as_ref()?;
        self.queues
            .values()
            .find(|q| q.arn == redrive.dead_letter_target_arn)
            .map(|q| q.name.clone())
    }

    /// When the earliest delayed or in-flight message of the queue becomes
    /// visible, for long polls to wake up at.
    pub fn next_wakeup_ms(&self, name: &str) -> Option<u64> {
        self.queues
            .get(name)?
            .timers
            .first()
            .map(|(deadline, _)| *deadline)
    }

    /// DeleteMessage. Deleting an already deleted message succeeds, as in
    /// AWS; a stale handle (not the latest receive) succeeds without
    /// deleting, as AWS documents.
    pub fn delete(
        &mut self,
        name: &str,
        receipt_handle: &str,
        now_ms: u64,
    ) -> Result<(), SqsError> {
        let (seq, receipt) = decode_receipt(name, receipt_handle)?;
        let queue = self.queue_mut(name, now_ms)?;
        let Some(message) = queue.messages.get(&seq) else {
            return Ok(());
        };
        if message.receipt != receipt {
            return Ok(());
        }
        self.record(Change::MessageDeleted {
            queue: name.to_owned(),
            seq,
        });
        Ok(())
    }

    /// ChangeMessageVisibility: the message becomes visible
    /// `timeout_s` seconds from now (0: at once).
    pub fn change_visibility(
        &mut self,
        name: &str,
        receipt_handle: &str,
        timeout_s: i64,
        now_ms: u64,
    ) -> Result<(), SqsError> {
        if !(0..=43_200).contains(&timeout_s) {
            return Err(SqsError::InvalidParameterValue(format!(
                "Value {timeout_s} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided."
            )));
        }
        let (seq, receipt) = decode_receipt(name, receipt_handle)?;
        let queue = self.queue_mut(name, now_ms)?;
        let message = queue.messages.get(&seq).filter(|m| m.receipt == receipt).ok_or_else(|| {
            SqsError::InvalidParameterValue(format!(
                "Value {receipt_handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change."
            ))
        })?;
        if message.state != MessageState::InFlight {
            return Err(SqsError::MessageNotInflight(
                "The message referred to isn't in flight.".into(),
            ));
        }
        let visible_at_ms = if timeout_s == 0 {
            0
        } else {
            now_ms + timeout_s as u64 * 1000
        };
        self.record(Change::VisibilityChanged {
            queue: name.to_owned(),
            seq,
            visible_at_ms,
        });
        Ok(())
    }
}

/// A send validated and digested outside the engine lock.
#[derive(Debug, Clone)]
pub struct PreparedSend {
    body: Arc<str>,
    md5_of_body: String,
    attributes: Vec<MessageAttribute>,
    md5_of_attributes: Option<String>,
    md5_of_system_attributes: Option<String>,
    aws_trace_header: Option<String>,
    delay_seconds: Option<u32>,
    group_id: Option<String>,
    dedup_id: Option<String>,
    sender_id: String,
    /// Body plus attribute names, types and values: what MaximumMessageSize limits.
    size: usize,
}

/// Validates a send's body, attributes and ids and computes its digests:
/// everything that does not depend on the queue.
pub fn prepare_send(input: SendInput) -> Result<PreparedSend, SqsError> {
    if input.body.is_empty() {
        return Err(SqsError::MissingParameter(
            "The request must contain the parameter MessageBody.".into(),
        ));
    }
    validate_message_text(&input.body, "message body")?;
    let delay_seconds = match input.delay_seconds {
        None => None,
        Some(d) if (0..=900).contains(&d) => Some(d as u32),
        Some(d) => {
            return Err(SqsError::InvalidParameterValue(format!(
                "Value {d} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
            )));
        }
    };
    validate_attributes(&input.message_attributes)?;
    let mut aws_trace_header = None;
    for attribute in &input.system_attributes {
        match (attribute.name.as_str(), &attribute.value) {
            ("AWSTraceHeader", AttributeValue::String(s)) if attribute.data_type == "String" => {
                aws_trace_header = Some(s.clone());
            }
            _ => {
                return Err(SqsError::InvalidParameterValue(format!(
                    "Message system attribute name '{}' is invalid.",
                    attribute.name
                )));
            }
        }
    }
    for (param, value) in [
        ("MessageGroupId", &input.message_group_id),
        ("MessageDeduplicationId", &input.message_deduplication_id),
    ] {
        if let Some(value) = value {
            let ok = !value.is_empty()
                && value.len() <= 128
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c.is_ascii_punctuation());
            if !ok {
                return Err(SqsError::InvalidParameterValue(format!(
                    "Value {value} for parameter {param} is invalid. Reason: {param} can only include alphanumeric and punctuation characters. 1 to 128 in length."
                )));
            }
        }
    }
    let size = input.body.len()
        + input
            .message_attributes
            .iter()
            .map(|a| {
                a.name.len()
                    + a.data_type.len()
                    + match &a.value {
                        AttributeValue::String(s) => s.len(),
                        AttributeValue::Binary(b) => b.len(),
                    }
            })
            .sum::<usize>();
    let mut attributes = input.message_attributes;
    attributes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(PreparedSend {
        md5_of_body: md5_of_body(&input.body),
        md5_of_attributes: md5_of_attributes(&attributes),
        md5_of_system_attributes: md5_of_attributes(&input.system_attributes),
        body: Arc::from(input.body),
        attributes,
        aws_trace_header,
        delay_seconds,
        group_id: input.message_group_id,
        dedup_id: input.message_deduplication_id,
        sender_id: input.sender_id,
        size,
    })
}

/// Rejects characters outside the XML character set AWS allows:
/// `#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF`.
pub fn validate_message_text(text: &str, what: &str) -> Result<(), SqsError> {
    if let Some(bad) = text.chars().find(|c| !is_allowed_char(*c)) {
        return Err(SqsError::InvalidMessageContents(format!(
            "Invalid binary character '#x{:X}' was found in the {what}, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
            bad as u32
        )));
    }
    Ok(())
}

fn is_allowed_char(c: char) -> bool {
    matches!(c as u32, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

fn validate_attributes(attributes: &[MessageAttribute]) -> Result<(), SqsError> {
    if attributes.len() > 10 {
        return Err(SqsError::InvalidParameterValue(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [10].",
            attributes.len()
        )));
    }
    let mut seen = BTreeSet::new();
    for attribute in attributes {
        let name = attribute.name.as_str();
        let lower = name.to_ascii_lowercase();
        let valid_name = !name.is_empty()
            && name.len() <= 256
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            && !name.starts_with('.')
            && !name.ends_with('.')
            && !name.contains("..")
            && !lower.starts_with("aws.")
            && !lower.starts_with("amazon.");
        if !valid_name {
            return Err(SqsError::InvalidParameterValue(format!(
                "The message attribute name '{name}' is invalid. Attribute name can contain A-Z, a-z, 0-9, underscore (_), hyphen (-), and period (.) characters."
            )));
        }
        if !seen.insert(name) {
            return Err(SqsError::InvalidParameterValue(format!(
                "Message attribute name '{name}' already exists."
            )));
        }
        let base = attribute.data_type.split('.').next().unwrap_or_default();
        let custom_ok = attribute.data_type.len() <= 256
            && attribute
                .data_type
                .split_once('.')
                .is_none_or(|(_, custom)| !custom.is_empty());
        let value_ok = match (base, &attribute.value) {
            ("String" | "Number", AttributeValue::String(s)) => !s.is_empty(),
            ("Binary", AttributeValue::Binary(b)) => !b.is_empty(),
            _ => false,
        };
        if !custom_ok || !matches!(base, "String" | "Number" | "Binary") {
            return Err(SqsError::InvalidParameterValue(format!(
                "The message attribute '{name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
            )));
        }
        if !value_ok {
            return Err(SqsError::InvalidParameterValue(format!(
                "The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{}'.",
                attribute.data_type
            )));
        }
        if base == "Number"
            && let AttributeValue::String(s) = &attribute.value
            && s.trim().parse::<f64>().is_err()
        {
            return Err(SqsError::InvalidParameterValue(format!(
                "Could not cast message attribute '{name}' value to number."
            )));
        }
        if let AttributeValue::String(s) = &attribute.value {
            validate_message_text(s, &format!("message attribute '{name}'"))?;
        }
    }
    Ok(())
}

fn validate_queue_name(name: &str, fifo: bool) -> Result<(), SqsError> {
    let base = if fifo {
        name.strip_suffix(".fifo").ok_or_else(|| {
            SqsError::InvalidParameterValue(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length."
                    .into(),
            )
        })?
    } else {
        name
    };
    let ok = !base.is_empty()
        && name.len() <= 80
        && base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(SqsError::InvalidParameterValue(if fifo {
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.".into()
        } else {
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
                .into()
        }));
    }
    Ok(())
}

fn validate_tags(tags: &BTreeMap<String, String>) -> Result<(), SqsError> {
    if tags.len() > 50 {
        return Err(SqsError::InvalidParameterValue(
            "Too many tags added for queue: the limit is 50.".into(),
        ));
    }
    for (key, value) in tags {
        if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
            return Err(SqsError::InvalidParameterValue(format!(
                "Tag {key} is invalid: keys are 1 to 128 characters and values at most 256."
            )));
        }
    }
    Ok(())
}

fn sha256_hex(text: &str) -> String {
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Receipt handles are opaque to clients: base64 of `queue/seq/nonce`.
/// The queue name in them makes a handle from another queue invalid.
fn encode_receipt(queue: &str, seq: u64, receipt: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("fbrh1/{queue}/{seq}/{receipt}"))
}

fn decode_receipt(queue: &str, handle: &str) -> Result<(u64, u64), SqsError> {
    let invalid = || {
        SqsError::ReceiptHandleIsInvalid(format!(
            "The input receipt handle \"{handle}\" is not a valid receipt handle."
        ))
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(handle.trim())
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let mut parts = text.split('/');
    let (Some("fbrh1"), Some(name), Some(seq), Some(receipt), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(invalid());
    };
    if name != queue {
        return Err(invalid());
    }
    let seq = seq.parse::<u64>().map_err(|_| invalid())?;
    let receipt = receipt.parse::<u64>().map_err(|_| invalid())?;
    Ok((seq, receipt))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use expect_test::{Expect, expect};

    /// Drives an engine with a manual clock and keeps a transcript of what
    /// each step returned. Every step also checks that replaying the recorded
    /// changes (and a snapshot of them) rebuilds the same state.
    struct Harness {
        engine: Engine,
        log: Vec<Change>,
        now: u64,
        out: String,
        handles: Vec<String>,
    }

    const T0: u64 = 1_700_000_000_000;

    impl Harness {
        fn new() -> Harness {
            Harness {
                engine: Engine::new("us-east-1", "123456789012"),
                log: Vec::new(),
                now: T0,
                out: String::new(),
                handles: Vec::new(),
            }
        }
        fn note(&mut self, line: String) {
            self.log.extend(self.engine.take_changes());
            self.out.push_str(&line);
            self.out.push('\n');
        }
        fn tick(&mut self, secs: u64) {
            self.now += secs * 1000;
            self.note(format!("+{secs}s"));
        }
        fn create(&mut self, name: &str, attrs: &[(&str, &str)]) {
            let attrs = attrs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let r = self.engine.create_queue(
                name,
                &attrs,
                &BTreeMap::new(),
                RedriveCheck::TargetMustExist,
                self.now,
            );
            self.note(format!("create {name}: {r:?}"));
        }
        fn send_with(&mut self, queue: &str, input: SendInput) -> Option<SendOutput> {
            let body: String = if input.body.len() > 16 {
                format!("{}..({} bytes)", &input.body[..8], input.body.len())
            } else {
                input.body.clone()
            };
            let r = self.engine.send(queue, input, self.now);
            match &r {
                Ok(o) => self.note(format!(
                    "send {body:?}: ok seq={:?}",
                    o.sequence_number.as_deref().map(|s| &s[15..])
                )),
                Err(e) => self.note(format!("send {body:?}: {e:?}")),
            }
            r.ok()
        }
        fn send(&mut self, queue: &str, body: &str) {
            self.send_with(
                queue,
                SendInput {
                    body: body.into(),
                    sender_id: "AIDA".into(),
                    ..Default::default()
                },
            );
        }
        fn send_fifo(
            &mut self,
            queue: &str,
            body: &str,
            group: &str,
            dedup: Option<&str>,
        ) -> Option<SendOutput> {
            self.send_with(
                queue,
                SendInput {
                    body: body.into(),
                    sender_id: "AIDA".into(),
                    message_group_id: Some(group.into()),
                    message_deduplication_id: dedup.map(Into::into),
                    ..Default::default()
                },
            )
        }
        fn receive(&mut self, queue: &str, max: usize, vis: Option<u32>) {
            let r = self.engine.receive(queue, max, vis, self.now);
            match r {
                Ok(messages) => {
                    self.handles = messages.iter().map(|m| m.receipt_handle.clone()).collect();
                    let list: Vec<String> = messages
                        .iter()
                        .map(|m| {
                            format!(
                                "{}(n={}{})",
                                m.body,
                                m.system.approximate_receive_count,
                                m.system
                                    .message_group_id
                                    .as_deref()
                                    .map(|g| format!(",g={g}"))
                                    .unwrap_or_default()
                            )
                        })
                        .collect();
                    self.note(format!("receive {queue}: [{}]", list.join(", ")));
                }
                Err(e) => self.note(format!("receive {queue}: {e:?}")),
            }
        }
        fn delete(&mut self, queue: &str, index: usize) {
            let handle = self.handles[index].clone();
            let r = self.engine.delete(queue, &handle, self.now);
            self.note(format!("delete #{index}: {r:?}"));
        }
        fn change(&mut self, queue: &str, index: usize, secs: i64) {
            let handle = self.handles[index].clone();
            let r = self
                .engine
                .change_visibility(queue, &handle, secs, self.now);
            self.note(format!("change #{index} {secs}s: {r:?}"));
        }
        fn counts(&mut self, queue: &str) {
            let c = self.engine.counts(queue, self.now).unwrap();
            self.note(format!(
                "counts {queue}: visible={} in_flight={} delayed={}",
                c.visible, c.in_flight, c.delayed
            ));
        }
        /// Replays the log and a snapshot into fresh engines and compares
        /// their snapshots with the live engine's.
        fn assert_replays(&mut self) {
            let canon = |e: &Engine| {
                let mut v: Vec<String> = e.snapshot().iter().map(|c| format!("{c:?}")).collect();
                v.sort();
                v
            };
            let mut replayed = Engine::new("us-east-1", "123456789012");
            replayed.replay(self.log.clone());
            let mut from_snapshot = Engine::new("us-east-1", "123456789012");
            from_snapshot.replay(self.engine.snapshot());
            // Derived state (timers running out) is applied on access, so
            // bring every engine to the same instant before comparing.
            for e in [&mut self.engine, &mut replayed, &mut from_snapshot] {
                let names: Vec<String> = e.queues.keys().cloned().collect();
                for n in names {
                    e.queues.get_mut(&n).unwrap().advance(self.now);
                }
            }
            assert_eq!(canon(&replayed), canon(&self.engine), "log replay differs");
            assert_eq!(
                canon(&from_snapshot),
                canon(&self.engine),
                "snapshot replay differs"
            );
            for q in self.engine.queues.values() {
                let mut c = Counts::default();
                for m in q.messages.values() {
                    match m.state {
                        MessageState::Visible => c.visible += 1,
                        MessageState::Delayed => c.delayed += 1,
                        MessageState::InFlight => c.in_flight += 1,
                    }
                }
                assert_eq!(c, q.counts, "counters drifted in {}", q.name);
            }
        }
    }

    fn check(script: impl FnOnce(&mut Harness), expected: Expect) {
        let mut h = Harness::new();
        script(&mut h);
        h.assert_replays();
        expected.assert_eq(&h.out);
    }

    #[test]
    fn visibility_timeout_expiry_redelivers_with_a_higher_receive_count() {
        check(
            |h| {
                h.create("q", &[("VisibilityTimeout", "10")]);
                h.send("q", "a");
                h.receive("q", 10, None);
                h.receive("q", 10, None);
                h.counts("q");
                h.tick(9);
                h.receive("q", 10, None);
                h.tick(1);
                h.receive("q", 10, Some(5));
                h.delete("q", 0);
                h.counts("q");
            },
            expect![[r#"
                create q: Ok(New)
                send "a": ok seq=None
                receive q: [a(n=1)]
                receive q: []
                counts q: visible=0 in_flight=1 delayed=0
                +9s
                receive q: []
                +1s
                receive q: [a(n=2)]
                delete #0: Ok(())
                counts q: visible=0 in_flight=0 delayed=0
            "#]],
        );
    }

    #[test]
    fn stale_and_invalid_receipt_handles() {
        check(
            |h| {
                h.create("q", &[("VisibilityTimeout", "1")]);
                h.send("q", "a");
                h.receive("q", 1, None);
                let stale = h.handles[0].clone();
                h.tick(1);
                h.receive("q", 1, None);
                h.handles.push(stale);
                h.delete("q", 1);
                h.counts("q");
                h.handles.push("garbage".into());
                h.delete("q", 2);
                h.change("q", 2, 5);
                h.change("q", 1, 5);
                h.delete("q", 0);
                h.delete("q", 0);
                h.change("q", 0, 5);
            },
            expect![[r#"
                create q: Ok(New)
                send "a": ok seq=None
                receive q: [a(n=1)]
                +1s
                receive q: [a(n=2)]
                delete #1: Ok(())
                counts q: visible=0 in_flight=1 delayed=0
                delete #2: Err(ReceiptHandleIsInvalid("The input receipt handle \"garbage\" is not a valid receipt handle."))
                change #2 5s: Err(ReceiptHandleIsInvalid("The input receipt handle \"garbage\" is not a valid receipt handle."))
                change #1 5s: Err(InvalidParameterValue("Value ZmJyaDEvcS8xLzE= for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change."))
                delete #0: Ok(())
                delete #0: Ok(())
                change #0 5s: Err(InvalidParameterValue("Value ZmJyaDEvcS8xLzI= for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change."))
            "#]],
        );
    }

    #[test]
    fn change_visibility_extends_or_releases_in_flight_messages() {
        check(
            |h| {
                h.create("q", &[("VisibilityTimeout", "30")]);
                h.send("q", "a");
                h.send("q", "b");
                h.receive("q", 2, None);
                h.change("q", 0, 0);
                h.change("q", 1, 100);
                h.counts("q");
                h.receive("q", 10, None);
                h.tick(31);
                h.receive("q", 10, None);
                h.tick(70);
                h.receive("q", 10, None);
                h.change("q", 0, 43_201);
            },
            expect![[r#"
                create q: Ok(New)
                send "a": ok seq=None
                send "b": ok seq=None
                receive q: [a(n=1), b(n=1)]
                change #0 0s: Ok(())
                change #1 100s: Ok(())
                counts q: visible=1 in_flight=1 delayed=0
                receive q: [a(n=2)]
                +31s
                receive q: [a(n=3)]
                +70s
                receive q: [a(n=4), b(n=2)]
                change #0 43201s: Err(InvalidParameterValue("Value 43201 for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided."))
            "#]],
        );
    }

    #[test]
    fn change_visibility_of_a_visible_message_is_not_in_flight() {
        check(
            |h| {
                h.create("q", &[("VisibilityTimeout", "1")]);
                h.send("q", "a");
                h.receive("q", 1, None);
                h.tick(2);
                h.change("q", 0, 10);
            },
            expect![[r#"
                create q: Ok(New)
                send "a": ok seq=None
                receive q: [a(n=1)]
                +2s
                change #0 10s: Err(MessageNotInflight("The message referred to isn't in flight."))
            "#]],
        );
    }

    #[test]
    fn delays_on_the_queue_and_per_message() {
        check(
            |h| {
                h.create("q", &[("DelaySeconds", "5")]);
                h.send("q", "queue-delay");
                h.send_with(
                    "q",
                    SendInput {
                        body: "no-delay".into(),
                        delay_seconds: Some(0),
                        ..Default::default()
                    },
                );
                h.send_with(
                    "q",
                    SendInput {
                        body: "long".into(),
                        delay_seconds: Some(20),
                        ..Default::default()
                    },
                );
                h.send_with(
                    "q",
                    SendInput {
                        body: "bad".into(),
                        delay_seconds: Some(901),
                        ..Default::default()
                    },
                );
                h.counts("q");
                h.receive("q", 10, None);
                h.tick(5);
                h.receive("q", 10, None);
                h.tick(15);
                h.counts("q");
                h.receive("q", 10, None);
            },
            expect![[r#"
                create q: Ok(New)
                send "queue-delay": ok seq=None
                send "no-delay": ok seq=None
                send "long": ok seq=None
                send "bad": InvalidParameterValue("Value 901 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.")
                counts q: visible=1 in_flight=0 delayed=2
                receive q: [no-delay(n=1)]
                +5s
                receive q: [queue-delay(n=1)]
                +15s
                counts q: visible=1 in_flight=2 delayed=0
                receive q: [long(n=1)]
            "#]],
        );
    }

    #[test]
    fn retention_period_expires_messages() {
        check(
            |h| {
                h.create("q", &[("MessageRetentionPeriod", "60")]);
                h.send("q", "old");
                h.tick(30);
                h.send("q", "new");
                h.tick(30);
                h.counts("q");
                h.receive("q", 10, None);
            },
            expect![[r#"
                create q: Ok(New)
                send "old": ok seq=None
                +30s
                send "new": ok seq=None
                +30s
                counts q: visible=1 in_flight=0 delayed=0
                receive q: [new(n=1)]
            "#]],
        );
    }

    #[test]
    fn message_size_limits_and_contents() {
        check(
            |h| {
                h.create("small", &[("MaximumMessageSize", "1024")]);
                h.send("small", &"x".repeat(1024));
                h.send_with(
                    "small",
                    SendInput {
                        body: "x".repeat(1000),
                        message_attributes: vec![MessageAttribute {
                            name: "attr".into(),
                            data_type: "String".into(),
                            value: AttributeValue::String("y".repeat(20)),
                        }],
                        ..Default::default()
                    },
                );
                h.send("small", "");
                h.send("small", "bell\u{7}");
                h.send("small", "ok \u{9}\u{A}\u{D} \u{E000} \u{10000}");
                h.send("small", "\u{FFFE}");
                h.create("big", &[]);
                h.send("big", &"x".repeat(1_048_576));
                h.send("big", &"x".repeat(1_048_577));
            },
            expect![[r#"
                create small: Ok(New)
                send "xxxxxxxx..(1024 bytes)": ok seq=None
                send "xxxxxxxx..(1000 bytes)": InvalidParameterValue("One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes.")
                send "": MissingParameter("The request must contain the parameter MessageBody.")
                send "bell\u{7}": InvalidMessageContents("Invalid binary character '#x7' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")
                send "ok \t\n\r \u{e000} 𐀀": ok seq=None
                send "\u{fffe}": InvalidMessageContents("Invalid binary character '#xFFFE' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")
                create big: Ok(New)
                send "xxxxxxxx..(1048576 bytes)": ok seq=None
                send "xxxxxxxx..(1048577 bytes)": InvalidParameterValue("One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes.")
            "#]],
        );
    }

    #[test]
    fn redrive_moves_messages_to_the_dead_letter_queue_after_max_receive_count() {
        check(
            |h| {
                h.create("dlq", &[]);
                h.create(
                    "src",
                    &[
                        ("VisibilityTimeout", "1"),
                        ("RedrivePolicy", r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:dlq","maxReceiveCount":2}"#),
                    ],
                );
                h.create(
                    "bad",
                    &[("RedrivePolicy", r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:nope","maxReceiveCount":2}"#)],
                );
                h.send("src", "poison");
                h.receive("src", 1, None);
                h.tick(1);
                h.receive("src", 1, None);
                h.tick(1);
                h.receive("src", 1, None);
                h.counts("src");
                h.counts("dlq");
                h.receive("dlq", 1, None);
                let sources = h.engine.dead_letter_sources("dlq");
                h.note(format!("sources: {sources:?}"));
                let arn = h.engine.queues["dlq"]
                    .messages
                    .values()
                    .next()
                    .unwrap()
                    .dead_letter_source_arn
                    .clone();
                h.note(format!("source arn: {arn:?}"));
            },
            expect![[r#"
                create dlq: Ok(New)
                create src: Ok(New)
                create bad: Err(InvalidParameterValue("Value arn:aws:sqs:us-east-1:123456789012:nope for parameter RedrivePolicy is invalid. Reason: Dead-letter target does not exist."))
                send "poison": ok seq=None
                receive src: [poison(n=1)]
                +1s
                receive src: [poison(n=2)]
                +1s
                receive src: []
                counts src: visible=0 in_flight=0 delayed=0
                counts dlq: visible=1 in_flight=0 delayed=0
                receive dlq: [poison(n=3)]
                sources: Ok(["src"])
                source arn: Some("arn:aws:sqs:us-east-1:123456789012:src")
            "#]],
        );
    }

    #[test]
    fn fifo_orders_per_group_with_one_in_flight_batch_per_group() {
        check(
            |h| {
                h.create(
                    "f.fifo",
                    &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")],
                );
                for (body, group) in [
                    ("a1", "a"),
                    ("b1", "b"),
                    ("a2", "a"),
                    ("a3", "a"),
                    ("b2", "b"),
                ] {
                    h.send_fifo("f.fifo", body, group, None);
                }
                h.receive("f.fifo", 2, None);
                h.receive("f.fifo", 10, None);
                h.delete("f.fifo", 0);
                h.receive("f.fifo", 10, None);
                h.tick(30);
                h.receive("f.fifo", 1, None);
                h.delete("f.fifo", 0);
                h.receive("f.fifo", 10, None);
                h.delete("f.fifo", 0);
                h.delete("f.fifo", 1);
                h.receive("f.fifo", 10, None);
            },
            expect![[r#"
                create f.fifo: Ok(New)
                send "a1": ok seq=Some("00001")
                send "b1": ok seq=Some("00002")
                send "a2": ok seq=Some("00003")
                send "a3": ok seq=Some("00004")
                send "b2": ok seq=Some("00005")
                receive f.fifo: [a1(n=1,g=a), a2(n=1,g=a)]
                receive f.fifo: [b1(n=1,g=b), b2(n=1,g=b)]
                delete #0: Ok(())
                receive f.fifo: []
                +30s
                receive f.fifo: [a1(n=2,g=a)]
                delete #0: Ok(())
                receive f.fifo: [a2(n=2,g=a), a3(n=1,g=a), b2(n=2,g=b)]
                delete #0: Ok(())
                delete #1: Ok(())
                receive f.fifo: []
            "#]],
        );
    }

    #[test]
    fn fifo_deduplication_inside_and_outside_the_window() {
        check(
            |h| {
                h.create("d.fifo", &[("FifoQueue", "true")]);
                let first = h.send_fifo("d.fifo", "x", "g", Some("id-1")).unwrap();
                h.tick(299);
                let dup = h
                    .send_fifo("d.fifo", "other body", "g", Some("id-1"))
                    .unwrap();
                h.note(format!("same id: {}", first.message_id == dup.message_id));
                h.counts("d.fifo");
                h.tick(1);
                let late = h.send_fifo("d.fifo", "x", "g", Some("id-1")).unwrap();
                h.note(format!("same id: {}", first.message_id == late.message_id));
                h.counts("d.fifo");
                h.send_fifo("d.fifo", "no id", "g", None);
                h.send_with(
                    "d.fifo",
                    SendInput {
                        body: "no group".into(),
                        message_deduplication_id: Some("z".into()),
                        ..Default::default()
                    },
                );
                h.send_with(
                    "d.fifo",
                    SendInput {
                        body: "delay".into(),
                        delay_seconds: Some(1),
                        message_group_id: Some("g".into()),
                        message_deduplication_id: Some("y".into()),
                        ..Default::default()
                    },
                );
                h.create(
                    "c.fifo",
                    &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")],
                );
                h.send_fifo("c.fifo", "same", "g1", None);
                h.send_fifo("c.fifo", "same", "g2", None);
                h.counts("c.fifo");
                h.create(
                    "s.fifo",
                    &[
                        ("FifoQueue", "true"),
                        ("ContentBasedDeduplication", "true"),
                        ("DeduplicationScope", "messageGroup"),
                    ],
                );
                h.send_fifo("s.fifo", "same", "g1", None);
                h.send_fifo("s.fifo", "same", "g2", None);
                h.send_fifo("s.fifo", "same", "g2", None);
                h.counts("s.fifo");
                h.receive("s.fifo", 10, None);
            },
            expect![[r#"
                create d.fifo: Ok(New)
                send "x": ok seq=Some("00001")
                +299s
                send "other body": ok seq=Some("00001")
                same id: true
                counts d.fifo: visible=1 in_flight=0 delayed=0
                +1s
                send "x": ok seq=Some("00002")
                same id: false
                counts d.fifo: visible=2 in_flight=0 delayed=0
                send "no id": InvalidParameterValue("The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
                send "no group": MissingParameter("The request must contain the parameter MessageGroupId.")
                send "delay": InvalidParameterValue("Value 1 for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.")
                create c.fifo: Ok(New)
                send "same": ok seq=Some("00001")
                send "same": ok seq=Some("00001")
                counts c.fifo: visible=1 in_flight=0 delayed=0
                create s.fifo: Ok(New)
                send "same": ok seq=Some("00001")
                send "same": ok seq=Some("00002")
                send "same": ok seq=Some("00002")
                counts s.fifo: visible=2 in_flight=0 delayed=0
                receive s.fifo: [same(n=1,g=g1), same(n=1,g=g2)]
            "#]],
        );
    }

    #[test]
    fn standard_queues_reject_fifo_parameters() {
        check(
            |h| {
                h.create("q", &[]);
                h.send_with(
                    "q",
                    SendInput {
                        body: "x".into(),
                        message_deduplication_id: Some("d".into()),
                        ..Default::default()
                    },
                );
                h.send_with(
                    "q",
                    SendInput {
                        body: "x".into(),
                        message_group_id: Some("bad group!\u{e9}".into()),
                        ..Default::default()
                    },
                );
                h.create("q.fifo", &[]);
                h.create("q", &[("FifoQueue", "true")]);
                h.create("bad name", &[]);
                h.create(&"n".repeat(81), &[]);
            },
            expect![[r#"
                create q: Ok(New)
                send "x": InvalidParameterValue("Value d for parameter MessageDeduplicationId is invalid. Reason: The request include parameter that is not valid for this queue type.")
                send "x": InvalidParameterValue("Value bad group!é for parameter MessageGroupId is invalid. Reason: MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length.")
                create q.fifo: Err(InvalidParameterValue("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"))
                create q: Err(InvalidParameterValue("The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length."))
                create bad name: Err(InvalidParameterValue("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"))
                create nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn: Err(InvalidParameterValue("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"))
            "#]],
        );
    }

    #[test]
    fn create_is_idempotent_for_equal_attributes() {
        check(
            |h| {
                h.create("q", &[("VisibilityTimeout", "10")]);
                h.create("q", &[("VisibilityTimeout", "10")]);
                h.create("q", &[]);
                h.create("q", &[("VisibilityTimeout", "11")]);
                let r = h.engine.set_attributes(
                    "q",
                    &[("VisibilityTimeout".to_owned(), "11".to_owned())].into(),
                    h.now,
                );
                h.note(format!("set: {r:?}"));
                let r = h.engine.get_attributes(
                    "q",
                    &["VisibilityTimeout".into(), "QueueArn".into()],
                    h.now,
                );
                h.note(format!("get: {r:?}"));
                let r = h.engine.get_attributes("q", &["Nope".into()], h.now);
                h.note(format!("get: {r:?}"));
                let r = h.engine.delete_queue("q");
                h.note(format!("delete: {r:?}"));
                let r = h.engine.get_attributes("q", &["All".into()], h.now);
                h.note(format!("get: {r:?}"));
            },
            expect![[r#"
                create q: Ok(New)
                create q: Ok(Existing)
                create q: Ok(Existing)
                create q: Err(QueueAlreadyExists("A queue already exists with the same name and a different value for attribute VisibilityTimeout"))
                set: Ok(())
                get: Ok({"QueueArn": "arn:aws:sqs:us-east-1:123456789012:q", "VisibilityTimeout": "11"})
                get: Err(InvalidAttributeName("Unknown Attribute Nope."))
                delete: Ok(())
                get: Err(QueueDoesNotExist)
            "#]],
        );
    }

    #[test]
    fn purge_removes_everything_once_per_minute() {
        check(
            |h| {
                h.create("q", &[]);
                h.send("q", "a");
                h.send("q", "b");
                h.receive("q", 1, None);
                let r = h.engine.purge("q", h.now);
                h.note(format!("purge: {r:?}"));
                h.counts("q");
                let r = h.engine.purge("q", h.now);
                h.note(format!("purge: {r:?}"));
                h.tick(60);
                let r = h.engine.purge("q", h.now);
                h.note(format!("purge: {r:?}"));
                h.delete("q", 0);
            },
            expect![[r#"
                create q: Ok(New)
                send "a": ok seq=None
                send "b": ok seq=None
                receive q: [a(n=1)]
                purge: Ok(())
                counts q: visible=0 in_flight=0 delayed=0
                purge: Err(PurgeQueueInProgress("Only one PurgeQueue operation on q is allowed every 60 seconds."))
                +60s
                purge: Ok(())
                delete #0: Ok(())
            "#]],
        );
    }

    #[test]
    fn tags_merge_and_remove() {
        check(
            |h| {
                h.create("q", &[]);
                let r = h.engine.tag_queue(
                    "q",
                    &[
                        ("a".to_owned(), "1".to_owned()),
                        ("b".to_owned(), "2".to_owned()),
                    ]
                    .into(),
                );
                h.note(format!("tag: {r:?}"));
                let r = h.engine.untag_queue("q", &["a".to_owned()]);
                h.note(format!("untag: {r:?} -> {:?}", h.engine.tags("q")));
            },
            expect![[r#"
                create q: Ok(New)
                tag: Ok(())
                untag: Ok(()) -> Ok({"b": "2"})
            "#]],
        );
    }

    #[test]
    fn message_attributes_are_validated_and_digested() {
        let attr = |name: &str, data_type: &str, value: AttributeValue| MessageAttribute {
            name: name.into(),
            data_type: data_type.into(),
            value,
        };
        let cases: Vec<Vec<MessageAttribute>> = vec![
            vec![attr("ok", "String", AttributeValue::String("v".into()))],
            vec![attr("AWS.x", "String", AttributeValue::String("v".into()))],
            vec![attr("a..b", "String", AttributeValue::String("v".into()))],
            vec![attr("n", "Number", AttributeValue::String("abc".into()))],
            vec![attr("n", "Number.int", AttributeValue::String("12".into()))],
            vec![attr("b", "Binary", AttributeValue::String("x".into()))],
            vec![attr("e", "String", AttributeValue::String(String::new()))],
            vec![attr("t", "Blob", AttributeValue::String("v".into()))],
            (0..11)
                .map(|i| {
                    attr(
                        &format!("a{i}"),
                        "String",
                        AttributeValue::String("v".into()),
                    )
                })
                .collect(),
        ];
        let mut out = String::new();
        for attributes in cases {
            let r = prepare_send(SendInput {
                body: "b".into(),
                message_attributes: attributes,
                ..Default::default()
            });
            out.push_str(&match r {
                Ok(p) => format!("ok {:?}\n", p.md5_of_attributes),
                Err(e) => format!("{e:?}\n"),
            });
        }
        expect![[r#"
            ok Some("ba18b1f58d0158f1e4f4f08eb28310f9")
            InvalidParameterValue("The message attribute name 'AWS.x' is invalid. Attribute name can contain A-Z, a-z, 0-9, underscore (_), hyphen (-), and period (.) characters.")
            InvalidParameterValue("The message attribute name 'a..b' is invalid. Attribute name can contain A-Z, a-z, 0-9, underscore (_), hyphen (-), and period (.) characters.")
            InvalidParameterValue("Could not cast message attribute 'n' value to number.")
            ok Some("2cedb7f9c11ce4c099b1e317b1da81bc")
            InvalidParameterValue("The message attribute 'b' must contain non-empty message attribute value for message attribute type 'Binary'.")
            InvalidParameterValue("The message attribute 'e' must contain non-empty message attribute value for message attribute type 'String'.")
            InvalidParameterValue("The message attribute 't' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.")
            InvalidParameterValue("Number of message attributes [11] exceeds the allowed maximum [10].")
        "#]]
        .assert_eq(&out);
    }

    /// Random operation sequences never panic, keep the counters right and
    /// replay to the same state.
    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Op {
            Send { queue: u8, group: u8, delay: u8 },
            Receive { queue: u8, max: u8, vis: u8 },
            Delete { index: u8 },
            Change { index: u8, secs: u8 },
            Tick { secs: u16 },
            Purge { queue: u8 },
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                (0..3u8, 0..3u8, 0..3u8).prop_map(|(queue, group, delay)| Op::Send {
                    queue,
                    group,
                    delay
                }),
                (0..3u8, 1..11u8, 0..4u8).prop_map(|(queue, max, vis)| Op::Receive {
                    queue,
                    max,
                    vis
                }),
                any::<u8>().prop_map(|index| Op::Delete { index }),
                (any::<u8>(), 0..5u8).prop_map(|(index, secs)| Op::Change { index, secs }),
                (0..400u16).prop_map(|secs| Op::Tick { secs }),
                (0..3u8).prop_map(|queue| Op::Purge { queue }),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            #[test]
            fn random_operations_replay_identically(ops in proptest::collection::vec(op(), 1..120)) {
                let mut h = Harness::new();
                let names = ["std", "dlq", "f.fifo"];
                h.create("dlq", &[]);
                h.create("std", &[("VisibilityTimeout", "2"), ("RedrivePolicy", r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:dlq","maxReceiveCount":2}"#)]);
                h.create("f.fifo", &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true"), ("VisibilityTimeout", "3")]);
                let mut handles: Vec<(usize, String)> = Vec::new();
                let mut counter = 0;
                for op in ops {
                    counter += 1;
                    match op {
                        Op::Send { queue, group, delay } => {
                            let q = names[queue as usize];
                            let fifo = q.ends_with(".fifo");
                            let _ = h.engine.send(q, SendInput {
                                body: format!("m{counter}"),
                                delay_seconds: (!fifo && delay > 0).then_some(i64::from(delay)),
                                message_group_id: fifo.then(|| format!("g{group}")),
                                ..Default::default()
                            }, h.now);
                        }
                        Op::Receive { queue, max, vis } => {
                            let q = queue as usize;
                            let got = h.engine.receive(names[q], max as usize, (vis > 0).then_some(u32::from(vis)), h.now).unwrap();
                            handles.extend(got.into_iter().map(|m| (q, m.receipt_handle)));
                        }
                        Op::Delete { index } if !handles.is_empty() => {
                            let (q, handle) = &handles[index as usize % handles.len()];
                            h.engine.delete(names[*q], handle, h.now).unwrap();
                        }
                        Op::Change { index, secs } if !handles.is_empty() => {
                            let (q, handle) = &handles[index as usize % handles.len()];
                            let _ = h.engine.change_visibility(names[*q], handle, i64::from(secs), h.now);
                        }
                        Op::Tick { secs } => h.now += u64::from(secs) * 1000,
                        Op::Purge { queue } => { let _ = h.engine.purge(names[queue as usize], h.now); }
                        _ => {}
                    }
                    h.log.extend(h.engine.take_changes());
                }
                h.assert_replays();
                // FIFO invariant: a group with a message in flight offers
                // nothing else.
                let fifo = &h.engine.queues["f.fifo"];
                for group in fifo.groups.values() {
                    let in_flight = group.seqs.iter().filter(|s| fifo.messages[s].state == MessageState::InFlight).count();
                    prop_assert_eq!(in_flight as u32, group.in_flight);
                }
            }
        }
    }
}
