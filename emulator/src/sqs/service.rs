//! [`SqsService`]: the engine behind a lock, made durable by the store and
//! made to wait by long polls. The HTTP edge and the event-source mapping
//! both call it; neither sees the engine.
//!
//! Locking: one mutex guards the engine and is held only for in-memory
//! work. A mutating call applies its changes and queues them for the log
//! while holding the lock (so the log order is the apply order), then
//! releases it and writes outside the lock as the group-commit leader, or
//! waits for the request that is already writing to take its changes too.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::engine::{Change, Created, Engine, RedriveCheck, prepare_send};
use super::store::{Ack, Store, SyncMode};
use super::types::{ReceivedMessage, SendInput, SendOutput, SqsError};

/// How the service is set up; the CLI fills it from its flags.
#[derive(Debug, Clone)]
pub struct SqsConfig {
    /// Where queue state lives (the CLI passes `<app>/.fogbank/sqs/`);
    /// `None` keeps everything in memory (`--ephemeral`).
    pub state_dir: Option<PathBuf>,
    pub region: String,
    pub account_id: String,
    /// The base URL in queue URLs, such as `http://127.0.0.1:9324`.
    pub endpoint: String,
}

/// Tuning knobs that tests and benchmarks change; defaults suit `fogbank start`.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub sync: SyncMode,
    /// Compact once the log has grown past this many bytes (and past four
    /// times its last snapshot).
    pub compact_after_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            sync: SyncMode::Periodic,
            compact_after_bytes: 64 * 1024 * 1024,
        }
    }
}

/// A cheap-to-clone handle on the SQS service.
#[derive(Clone, Debug)]
pub struct SqsService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: SqsConfig,
    engine: Mutex<Engine>,
    store: Option<Store>,
    /// One Notify per queue name, woken whenever messages may have become
    /// available there.
    arrivals: Mutex<HashMap<String, Arc<Notify>>>,
    /// Cancelled at shutdown so that long polls return at once.
    closing: CancellationToken,
}

/// One batch of the in-process receive API.
#[derive(Debug, Clone)]
pub struct ReceiveRequest {
    pub max_messages: usize,
    /// Visibility timeout for the batch; `None` uses the queue's.
    pub visibility_timeout: Option<Duration>,
    /// How long to wait for the first message (a long poll).
    pub wait: Duration,
    /// Once one message is there, how long to keep gathering more before
    /// returning a partial batch (Lambda's MaximumBatchingWindowInSeconds).
    pub batching_window: Duration,
}

/// Epoch milliseconds now.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl SqsService {
    /// Opens the service, replaying durable state from `config.state_dir`.
    pub fn open(config: SqsConfig) -> Result<SqsService, SqsError> {
        SqsService::open_with(config, StoreOptions::default())
    }

    /// [`SqsService::open`] with explicit store options.
    pub fn open_with(config: SqsConfig, options: StoreOptions) -> Result<SqsService, SqsError> {
        let mut engine = Engine::new(&config.region, &config.account_id);
        let store = match &config.state_dir {
            None => None,
            Some(dir) => {
                let (store, recovered) =
                    Store::open(dir, options.sync, options.compact_after_bytes)?;
                let frames = recovered.changes.len();
                let truncated_bytes = recovered.truncated_bytes;
                for changes in recovered.changes {
                    engine.replay(changes);
                }
                tracing::info!(dir = %dir.display(), frames, truncated_bytes, "sqs state recovered");
                // Start from a compact log: the recovered state as one snapshot.
                let (tx, rx) = std::sync::mpsc::channel();
                store.rotate(engine.snapshot(), Some(Ack::Blocking(tx)));
                store.drive();
                rx.recv().map_err(|_| SqsError::ShuttingDown)??;
                Some(store)
            }
        };
        Ok(SqsService {
            inner: Arc::new(Inner {
                config,
                engine: Mutex::new(engine),
                store,
                arrivals: Mutex::new(HashMap::new()),
                closing: CancellationToken::new(),
            }),
        })
    }

    /// The service's configuration.
    pub fn config(&self) -> &SqsConfig {
        &self.inner.config
    }

    /// `{endpoint}/{account_id}/{name}`.
    pub fn queue_url(&self, name: &str) -> String {
        format!(
            "{}/{}/{}",
            self.inner.config.endpoint.trim_end_matches('/'),
            self.inner.config.account_id,
            name
        )
    }

    /// `arn:aws:sqs:{region}:{account}:{name}`.
    pub fn queue_arn(&self, name: &str) -> String {
        self.inner.engine.lock().queue_arn(name)
    }

    /// The size of the durable log in bytes (`None` when ephemeral): for
    /// diagnostics and compaction tests.
    pub fn log_bytes(&self) -> Option<u64> {
        self.inner.store.as_ref().map(Store::log_bytes)
    }

    /// Makes long polls return and refuses further waiting; called by `run`
    /// at shutdown.
    pub fn close(&self) {
        self.inner.closing.cancel();
    }

    /// Runs `op` on the engine, logs its changes, wakes consumers of queues
    /// that gained messages, and waits until the changes are written.
    async fn mutate<T>(&self, op: impl FnOnce(&mut Engine, u64) -> T) -> Result<T, SqsError> {
        let (result, wait) = self.apply(op, |store, changes| {
            let (tx, rx) = tokio::sync::oneshot::channel();
            store.append(changes, Ack::Async(tx));
            rx
        });
        if let Some(rx) = wait {
            rx.await.map_err(|_| SqsError::ShuttingDown)??;
        }
        Ok(result)
    }

    /// [`SqsService::mutate`] for synchronous callers (start-up code).
    fn mutate_blocking<T>(&self, op: impl FnOnce(&mut Engine, u64) -> T) -> Result<T, SqsError> {
        let (result, wait) = self.apply(op, |store, changes| {
            let (tx, rx) = std::sync::mpsc::channel();
            store.append(changes, Ack::Blocking(tx));
            rx
        });
        if let Some(rx) = wait {
            rx.recv().map_err(|_| SqsError::ShuttingDown)??;
        }
        Ok(result)
    }

    fn apply<T, W>(
        &self,
        op: impl FnOnce(&mut Engine, u64) -> T,
        submit: impl FnOnce(&Store, Vec<Change>) -> W,
    ) -> (T, Option<W>) {
        let inner = &*self.inner;
        let mut woken: Vec<String> = Vec::new();
        let (result, wait) = {
            let mut engine = inner.engine.lock();
            let result = op(&mut engine, now_ms());
            let changes = engine.take_changes();
            for change in &changes {
                match change {
                    Change::MessagePut { queue, .. }
                    | Change::VisibilityChanged {
                        queue,
                        visible_at_ms: 0,
                        ..
                    } if !woken.contains(queue) => {
                        woken.push(queue.clone());
                    }
                    _ => {}
                }
            }
            let wait = match &inner.store {
                Some(store) if !changes.is_empty() => {
                    let wait = submit(store, changes);
                    if store.compaction_due() {
                        store.rotate(engine.snapshot(), None);
                    }
                    Some(wait)
                }
                _ => None,
            };
            (result, wait)
        };
        // Waking consumers before the write completes is safe: whatever they
        // do to these messages is logged after the send, so a crash loses
        // both or neither, and the sender was not yet acknowledged.
        if !woken.is_empty() {
            let arrivals = inner.arrivals.lock();
            for queue in woken {
                if let Some(notify) = arrivals.get(&queue) {
                    notify.notify_waiters();
                }
            }
        }
        // Outside the engine lock: write the queued changes (ours and any
        // that arrived meanwhile) unless another request is already doing it.
        if wait.is_some()
            && let Some(store) = &inner.store
        {
            store.drive();
        }
        (result, wait)
    }

    fn arrivals(&self, queue: &str) -> Arc<Notify> {
        self.inner
            .arrivals
            .lock()
            .entry(queue.to_owned())
            .or_default()
            .clone()
    }

    /// Creates a queue from the template at start, or brings an existing one
    /// (from a previous run) to the template's attributes, keeping its
    /// messages. Returns the queue URL.
    pub fn ensure_queue(&self, queue: &crate::app::Queue) -> Result<String, SqsError> {
        let attributes = template_attributes(queue);
        let name = queue.name.clone();
        self.mutate_blocking(|engine, now| {
            if engine.has_queue(&name) {
                engine.update_queue(&name, &attributes, Some(&queue.tags), now)
            } else {
                engine
                    .create_queue(&name, &attributes, &queue.tags, RedriveCheck::Deferred, now)
                    .map(|_| ())
            }
        })??;
        Ok(self.queue_url(&name))
    }

    pub async fn create_queue(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, SqsError> {
        let _created: Created = self
            .mutate(|e, now| {
                e.create_queue(name, attributes, tags, RedriveCheck::TargetMustExist, now)
            })
            .await??;
        Ok(self.queue_url(name))
    }

    /// The URL of an existing queue.
    pub fn get_queue_url(&self, name: &str) -> Result<String, SqsError> {
        if self.inner.engine.lock().has_queue(name) {
            Ok(self.queue_url(name))
        } else {
            Err(SqsError::QueueDoesNotExist)
        }
    }

    /// Queue names starting with `prefix`, sorted.
    pub fn list_queues(&self, prefix: &str) -> Vec<String> {
        self.inner.engine.lock().list_queues(prefix)
    }

    pub async fn delete_queue(&self, name: &str) -> Result<(), SqsError> {
        self.mutate(|e, _| e.delete_queue(name)).await??;
        // Wake long polls on the deleted queue so they fail promptly.
        if let Some(notify) = self.inner.arrivals.lock().remove(name) {
            notify.notify_waiters();
        }
        Ok(())
    }

    pub fn get_queue_attributes(
        &self,
        name: &str,
        names: &[String],
    ) -> Result<BTreeMap<String, String>, SqsError> {
        self.inner
            .engine
            .lock()
            .get_attributes(name, names, now_ms())
    }

    pub async fn set_queue_attributes(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), SqsError> {
        self.mutate(|e, now| e.set_attributes(name, attributes, now))
            .await?
    }

    pub fn list_queue_tags(&self, name: &str) -> Result<BTreeMap<String, String>, SqsError> {
        self.inner.engine.lock().tags(name)
    }

    pub async fn tag_queue(
        &self,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), SqsError> {
        self.mutate(|e, _| e.tag_queue(name, tags)).await?
    }

    pub async fn untag_queue(&self, name: &str, keys: &[String]) -> Result<(), SqsError> {
        self.mutate(|e, _| e.untag_queue(name, keys)).await?
    }

    pub fn list_dead_letter_source_queues(&self, name: &str) -> Result<Vec<String>, SqsError> {
        self.inner.engine.lock().dead_letter_sources(name)
    }

    pub async fn purge_queue(&self, name: &str) -> Result<(), SqsError> {
        self.mutate(|e, now| e.purge(name, now)).await?
    }

    /// Sends one message.
    pub async fn send_message(
        &self,
        queue: &str,
        input: SendInput,
    ) -> Result<SendOutput, SqsError> {
        // Validation and digests need no lock.
        let prepared = prepare_send(input)?;
        self.mutate(|e, now| e.send_prepared(queue, prepared, now))
            .await?
    }

    /// Sends several messages in one lock hold and one log write; each entry
    /// succeeds or fails on its own.
    pub async fn send_message_batch(
        &self,
        queue: &str,
        inputs: Vec<SendInput>,
    ) -> Result<Vec<Result<SendOutput, SqsError>>, SqsError> {
        let prepared: Vec<Result<_, SqsError>> = inputs.into_iter().map(prepare_send).collect();
        self.mutate(|e, now| {
            if !e.has_queue(queue) {
                return Err(SqsError::QueueDoesNotExist);
            }
            Ok(prepared
                .into_iter()
                .map(|p| p.and_then(|p| e.send_prepared(queue, p, now)))
                .collect())
        })
        .await?
    }

    /// ReceiveMessage: waits up to `wait` for the first message (returning
    /// as soon as one arrives), then returns what is visible, up to `max`.
    pub async fn receive_message(
        &self,
        queue: &str,
        max: usize,
        visibility_timeout_s: Option<u32>,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, SqsError> {
        let deadline = tokio::time::Instant::now() + wait;
        let arrivals = self.arrivals(queue);
        loop {
            let notified = arrivals.notified();
            tokio::pin!(notified);
            // Register before looking, so an arrival between the look and
            // the wait still wakes us.
            notified.as_mut().enable();
            let (messages, next_wakeup) = self
                .mutate(|e, now| {
                    let got = e.receive(queue, max, visibility_timeout_s, now)?;
                    Ok::<_, SqsError>((got, e.next_wakeup_ms(queue)))
                })
                .await??;
            if !messages.is_empty() {
                return Ok(messages);
            }
            let now = tokio::time::Instant::now();
            if now >= deadline || self.inner.closing.is_cancelled() {
                return Ok(messages);
            }
            // A delayed or in-flight message becoming visible is a timer,
            // not an arrival: sleep until the earliest one at most.
            let mut until = deadline;
            if let Some(at) = next_wakeup {
                let in_ms = at.saturating_sub(now_ms());
                until = until.min(now + Duration::from_millis(in_ms));
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(until) => {}
                _ = self.inner.closing.cancelled() => {}
            }
        }
    }

    /// The in-process receive API for event-source mappings: waits up to
    /// `wait` for a first message, then gathers more for up to
    /// `batching_window` (or until `max_messages`), and returns the batch.
    /// An empty batch means nothing arrived within `wait`.
    pub async fn receive_batch(
        &self,
        queue: &str,
        request: &ReceiveRequest,
    ) -> Result<Vec<ReceivedMessage>, SqsError> {
        let max = request.max_messages.max(1);
        let visibility = request
            .visibility_timeout
            .map(|d| d.as_secs().min(u64::from(u32::MAX)) as u32);
        let mut batch = self
            .receive_message(queue, max.min(10), visibility, request.wait)
            .await?;
        if batch.is_empty() {
            return Ok(batch);
        }
        let window_end = tokio::time::Instant::now() + request.batching_window;
        while batch.len() < max {
            let remaining = window_end.saturating_duration_since(tokio::time::Instant::now());
            let want = (max - batch.len()).min(10);
            let more = self
                .receive_message(queue, want, visibility, remaining)
                .await?;
            if more.is_empty() {
                break;
            }
            batch.extend(more);
        }
        Ok(batch)
    }

    /// Deletes the delivery named by `receipt_handle`.
    pub async fn delete_message(&self, queue: &str, receipt_handle: &str) -> Result<(), SqsError> {
        self.mutate(|e, now| e.delete(queue, receipt_handle, now))
            .await?
    }

    /// Deletes several deliveries in one lock hold and one log write.
    pub async fn delete_message_batch(
        &self,
        queue: &str,
        handles: &[String],
    ) -> Result<Vec<Result<(), SqsError>>, SqsError> {
        self.mutate(|e, now| {
            if !e.has_queue(queue) {
                return Err(SqsError::QueueDoesNotExist);
            }
            Ok(handles.iter().map(|h| e.delete(queue, h, now)).collect())
        })
        .await?
    }

    /// Makes a delivery visible again `timeout_s` seconds from now.
    pub async fn change_message_visibility(
        &self,
        queue: &str,
        receipt_handle: &str,
        timeout_s: i64,
    ) -> Result<(), SqsError> {
        self.mutate(|e, now| e.change_visibility(queue, receipt_handle, timeout_s, now))
            .await?
    }

    /// ChangeMessageVisibilityBatch: `(handle, timeout)` per entry.
    pub async fn change_message_visibility_batch(
        &self,
        queue: &str,
        entries: &[(String, i64)],
    ) -> Result<Vec<Result<(), SqsError>>, SqsError> {
        self.mutate(|e, now| {
            if !e.has_queue(queue) {
                return Err(SqsError::QueueDoesNotExist);
            }
            Ok(entries
                .iter()
                .map(|(h, t)| e.change_visibility(queue, h, *t, now))
                .collect())
        })
        .await?
    }

    /// True when the queue exists and is FIFO.
    pub fn is_fifo(&self, queue: &str) -> Result<bool, SqsError> {
        self.inner.engine.lock().is_fifo(queue)
    }

    /// The queue's default `ReceiveMessageWaitTimeSeconds`.
    pub fn default_wait_seconds(&self, queue: &str) -> Result<u32, SqsError> {
        Ok(self.inner.engine.lock().config(queue)?.receive_wait_s)
    }
}

/// A template queue's properties as SQS attributes.
fn template_attributes(queue: &crate::app::Queue) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    if queue.fifo {
        a.insert("FifoQueue".to_owned(), "true".to_owned());
        a.insert(
            "ContentBasedDeduplication".to_owned(),
            queue.content_based_deduplication.to_string(),
        );
    }
    let secs = |d: Duration| d.as_secs().to_string();
    if let Some(d) = queue.visibility_timeout {
        a.insert("VisibilityTimeout".to_owned(), secs(d));
    }
    if let Some(d) = queue.message_retention_period {
        a.insert("MessageRetentionPeriod".to_owned(), secs(d));
    }
    if let Some(d) = queue.delay {
        a.insert("DelaySeconds".to_owned(), secs(d));
    }
    if let Some(d) = queue.receive_wait_time {
        a.insert("ReceiveMessageWaitTimeSeconds".to_owned(), secs(d));
    }
    if let Some(size) = queue.maximum_message_size {
        a.insert("MaximumMessageSize".to_owned(), size.to_string());
    }
    a.insert(
        "RedrivePolicy".to_owned(),
        match &queue.redrive_policy {
            Some(r) => serde_json::json!({
                "deadLetterTargetArn": r.dead_letter_target_arn,
                "maxReceiveCount": r.max_receive_count,
            })
            .to_string(),
            // Empty removes a policy a previous run's template had.
            None => String::new(),
        },
    );
    a
}
