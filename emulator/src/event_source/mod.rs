//! Event source mappings: SQS queues feeding functions, from SAM's
//! `Events: {Type: SQS}`.
//!
//! Each mapping runs a few pollers. A poller long-polls the queue through
//! the in-process SQS API (so a message is delivered as soon as it arrives,
//! after at most the batching window), invokes the function through the
//! invoker, and then deletes what succeeded. Failed messages are left
//! alone: they reappear after the visibility timeout, and the queue's
//! RedrivePolicy moves them to the dead-letter queue after maxReceiveCount
//! receives. This module is the only one that knows the Lambda SQS event.

mod sqs_event;

pub use sqs_event::{BatchResult, batch_result, event};

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::app::{App, SqsMapping};
use crate::console::Console;
use crate::invoke::{Invocation, InvokeError, Invoker, Outcome};
use crate::sqs::{ReceiveRequest, SqsError, SqsService};

/// How long a poller's receive waits for a first message; it returns at
/// once when one arrives.
const LONG_POLL: Duration = Duration::from_secs(20);
/// Pollers per mapping without ScalingConfig.MaximumConcurrency. Lambda
/// starts with five.
const DEFAULT_POLLERS: u32 = 5;

/// One mapping, resolved against the running app.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub function: String,
    pub queue_name: String,
    pub config: SqsMapping,
}

/// The mappings of an app.
pub fn mappings(app: &App) -> Vec<Mapping> {
    app.functions
        .values()
        .flat_map(|function| {
            function
                .events
                .iter()
                .filter_map(|event| match &event.kind {
                    crate::app::EventKind::Sqs(config) => Some(Mapping {
                        function: function.logical_id.clone(),
                        queue_name: config
                            .queue_arn
                            .rsplit(':')
                            .next()
                            .unwrap_or_default()
                            .to_owned(),
                        config: config.clone(),
                    }),
                    _ => None,
                })
        })
        .collect()
}

/// Running pollers; dropped or stopped together.
pub struct EventSources {
    stop: CancellationToken,
    tasks: JoinSet<()>,
}

impl EventSources {
    /// Starts the pollers of every enabled mapping.
    pub fn start(
        mappings: Vec<Mapping>,
        sqs: SqsService,
        invoker: Invoker,
        console: Console,
        shutdown: &CancellationToken,
    ) -> EventSources {
        let stop = shutdown.child_token();
        let mut tasks = JoinSet::new();
        for mapping in mappings.into_iter().filter(|m| m.config.enabled) {
            let limit = invoker
                .function(&mapping.function)
                .and_then(|f| f.reserved_concurrency)
                .unwrap_or(10);
            let pollers = mapping
                .config
                .maximum_concurrency
                .unwrap_or(DEFAULT_POLLERS)
                .min(limit)
                .max(1);
            let mapping = Arc::new(mapping);
            for _ in 0..pollers {
                tasks.spawn(poll(
                    mapping.clone(),
                    sqs.clone(),
                    invoker.clone(),
                    console.clone(),
                    stop.clone(),
                ));
            }
        }
        EventSources { stop, tasks }
    }

    /// Stops every poller and waits for in-flight batches to finish.
    pub async fn stop(mut self) {
        self.stop.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}

async fn poll(
    mapping: Arc<Mapping>,
    sqs: SqsService,
    invoker: Invoker,
    console: Console,
    stop: CancellationToken,
) {
    let request = ReceiveRequest {
        max_messages: mapping.config.batch_size.max(1) as usize,
        visibility_timeout: None,
        wait: LONG_POLL,
        batching_window: mapping.config.maximum_batching_window,
    };
    let region = sqs.config().region.clone();
    let mut reported_missing = false;
    loop {
        let received = tokio::select! {
            () = stop.cancelled() => return,
            received = sqs.receive_batch(&mapping.queue_name, &request) => received,
        };
        let messages = match received {
            Ok(messages) => {
                reported_missing = false;
                messages
            }
            Err(SqsError::QueueDoesNotExist) => {
                if !reported_missing {
                    console.line(&format!(
                        "warning: {}: SQS event source queue {} does not exist; waiting for it",
                        mapping.function, mapping.queue_name
                    ));
                    reported_missing = true;
                }
                pause(&stop, Duration::from_secs(1)).await;
                continue;
            }
            Err(error) => {
                console.line(&format!(
                    "warning: {}: receiving from {}: {error}",
                    mapping.function, mapping.queue_name
                ));
                pause(&stop, Duration::from_secs(1)).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        let payload = event(&messages, &mapping.config.queue_arn, &region);
        let invocation = Invocation::new(Bytes::from(payload.to_string()));
        let result = match invoker.invoke(&mapping.function, invocation).await {
            Ok(completed) => match completed.outcome {
                Outcome::Success(payload) if mapping.config.report_batch_item_failures => {
                    let ids: BTreeSet<&str> =
                        messages.iter().map(|m| m.message_id.as_str()).collect();
                    batch_result(&payload, &ids)
                }
                Outcome::Success(_) => BatchResult::AllSucceeded,
                Outcome::Error(_) => BatchResult::AllFailed,
            },
            Err(InvokeError::TooManyRequests { .. }) => {
                // Like Lambda, leave the batch to the visibility timeout
                // and back off before polling again.
                pause(&stop, Duration::from_millis(100)).await;
                BatchResult::AllFailed
            }
            Err(InvokeError::FunctionNotFound(_) | InvokeError::ShuttingDown) => return,
            Err(InvokeError::Lost { .. }) => {
                // The invoker has printed the error. The batch stays on the
                // queue and comes back after its visibility timeout.
                console.line(&format!(
                    "warning: {}: its batch stays on {} until the visibility timeout",
                    mapping.function, mapping.queue_name
                ));
                BatchResult::AllFailed
            }
        };
        let delete: Vec<String> = match &result {
            BatchResult::AllSucceeded => {
                messages.iter().map(|m| m.receipt_handle.clone()).collect()
            }
            BatchResult::PartialFailure(failed) => messages
                .iter()
                .filter(|m| !failed.contains(&m.message_id))
                .map(|m| m.receipt_handle.clone())
                .collect(),
            BatchResult::AllFailed => Vec::new(),
        };
        if !delete.is_empty()
            && let Err(error) = sqs.delete_message_batch(&mapping.queue_name, &delete).await
        {
            console.line(&format!(
                "warning: {}: deleting a processed batch from {}: {error}",
                mapping.function, mapping.queue_name
            ));
        }
    }
}

async fn pause(stop: &CancellationToken, duration: Duration) {
    tokio::select! {
        () = stop.cancelled() => {}
        () = tokio::time::sleep(duration) => {}
    }
}
