//! Slow tier: `kill -9` of a real `fogbank start` while producers send and
//! consumers receive and delete; after a restart every message whose
//! SendMessage returned 200 must be delivered at least once.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fogbank_tests::{Fogbank, StartOptions};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

const MESSAGES: usize = 10_000;
const ROUNDS: usize = 5;
const PRODUCERS: usize = 4;
const CONSUMERS: usize = 2;

/// What producers had acknowledged and consumers were handed, by index.
#[derive(Default)]
struct Shared {
    acked: std::sync::Mutex<HashSet<usize>>,
    delivered: std::sync::Mutex<HashSet<usize>>,
    /// Producers that have finished after the restart.
    producers_done: AtomicUsize,
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

async fn call(
    client: &HttpClient,
    endpoint: &str,
    action: &str,
    body: Value,
) -> Result<Value, String> {
    let request = http::Request::post(endpoint)
        .header("x-amz-target", format!("AmazonSQS.{action}"))
        .header("content-type", "application/x-amz-json-1.0")
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(Duration::from_secs(30), client.request(request))
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    if !status.is_success() {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&bytes)));
    }
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

fn index_of(body: &str) -> Option<usize> {
    body.strip_prefix("m-")?.parse().ok()
}

/// Producers send `m-<i>` for i from a shared counter; an index counts as
/// acknowledged only when SendMessage returned 200 with its MD5.
async fn produce(
    endpoint: String,
    next: Arc<AtomicUsize>,
    shared: Arc<Shared>,
    stop_on_error: bool,
) {
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let url = format!("{endpoint}/123456789012/work");
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= MESSAGES {
            if !stop_on_error {
                shared.producers_done.fetch_add(1, Ordering::SeqCst);
            }
            return;
        }
        match call(
            &client,
            &endpoint,
            "SendMessage",
            json!({"QueueUrl": url, "MessageBody": format!("m-{i}")}),
        )
        .await
        {
            Ok(reply) if reply["MessageId"].is_string() => {
                shared.acked.lock().unwrap().insert(i);
            }
            Ok(reply) => panic!("SendMessage answered without a MessageId: {reply}"),
            Err(e) => {
                if stop_on_error {
                    // Fogbank was killed: this send is unacknowledged.
                    return;
                }
                panic!("SendMessage failed after the restart: {e}");
            }
        }
    }
}

/// Consumers receive and delete until `until` says stop or fogbank dies.
async fn consume(
    endpoint: String,
    shared: Arc<Shared>,
    until: impl Fn(&Shared) -> bool,
) -> Result<(), String> {
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let url = format!("{endpoint}/123456789012/work");
    while !until(&shared) {
        let reply = call(
            &client,
            &endpoint,
            "ReceiveMessage",
            json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1}),
        )
        .await?;
        let messages = reply["Messages"].as_array().cloned().unwrap_or_default();
        if messages.is_empty() {
            continue;
        }
        {
            let mut delivered = shared.delivered.lock().unwrap();
            for m in &messages {
                let body = m["Body"].as_str().unwrap_or_default();
                delivered
                    .insert(index_of(body).unwrap_or_else(|| panic!("unexpected body {body:?}")));
            }
        }
        let entries: Vec<Value> = messages
            .iter()
            .enumerate()
            .map(|(n, m)| json!({"Id": format!("e{n}"), "ReceiptHandle": m["ReceiptHandle"]}))
            .collect();
        call(
            &client,
            &endpoint,
            "DeleteMessageBatch",
            json!({"QueueUrl": url, "Entries": entries}),
        )
        .await?;
    }
    Ok(())
}

/// A pseudo-random number from the clock; good enough to vary the kill point.
fn random_below(n: usize) -> usize {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as usize;
    (nanos ^ (nanos >> 7)).wrapping_mul(2654435761) % n
}

async fn round(round: usize) {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("template.yaml");
    std::fs::write(
        &template,
        "AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::Serverless-2016-10-31\nResources:\n  Work:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: work\n      VisibilityTimeout: 2\n",
    )
    .unwrap();
    // An explicit state directory: the restart must find the first run's queues.
    let state_dir = dir.path().join("state").to_string_lossy().into_owned();
    let start = move || {
        Fogbank::start_with(StartOptions {
            ready_within: Duration::from_secs(120),
            ..StartOptions::new(&template).args(&["--state-dir", &state_dir])
        })
    };
    let mut fogbank = tokio::task::spawn_blocking(start.clone()).await.unwrap();
    let endpoint = fogbank.sqs_url();
    let shared = Arc::new(Shared::default());
    let next = Arc::new(AtomicUsize::new(0));
    let kill_after = 1_000 + random_below(8_000);

    let mut tasks = Vec::new();
    for _ in 0..PRODUCERS {
        tasks.push(tokio::spawn(produce(
            endpoint.clone(),
            next.clone(),
            shared.clone(),
            true,
        )));
    }
    let mut consumers = Vec::new();
    for _ in 0..CONSUMERS {
        consumers.push(tokio::spawn(consume(
            endpoint.clone(),
            shared.clone(),
            |_| false,
        )));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while shared.acked.lock().unwrap().len() < kill_after {
        assert!(
            Instant::now() < deadline,
            "round {round}: producers stalled before the kill point"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    fogbank.kill9();
    for task in tasks {
        task.await.unwrap();
    }
    for consumer in consumers {
        // Consumers end with a connection error once fogbank is gone.
        let _ = consumer.await.unwrap();
    }
    let acked_at_kill = shared.acked.lock().unwrap().len();

    // Restart on the same state directory; finish sending, then drain.
    let fogbank = tokio::task::spawn_blocking(start).await.unwrap();
    let endpoint = fogbank.sqs_url();
    let mut tasks = Vec::new();
    for _ in 0..PRODUCERS {
        tasks.push(tokio::spawn(produce(
            endpoint.clone(),
            next.clone(),
            shared.clone(),
            false,
        )));
    }
    let all_delivered = |s: &Shared| {
        if s.producers_done.load(Ordering::SeqCst) < PRODUCERS {
            return false;
        }
        let acked = s.acked.lock().unwrap();
        let delivered = s.delivered.lock().unwrap();
        !acked.is_empty() && acked.iter().all(|i| delivered.contains(i))
    };
    let mut consumers = Vec::new();
    for _ in 0..CONSUMERS {
        consumers.push(tokio::spawn(consume(
            endpoint.clone(),
            shared.clone(),
            all_delivered,
        )));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let drained = tokio::time::timeout(Duration::from_secs(120), async {
        for consumer in consumers {
            consumer.await.unwrap().unwrap();
        }
    })
    .await;
    let acked = shared.acked.lock().unwrap().clone();
    let delivered = shared.delivered.lock().unwrap().clone();
    let lost: Vec<usize> = acked.difference(&delivered).copied().take(10).collect();
    assert!(
        drained.is_ok() && lost.is_empty(),
        "round {round}: killed after {acked_at_kill} acknowledged sends; {} acknowledged, {} delivered, lost e.g. {lost:?}\n{}",
        acked.len(),
        delivered.len(),
        fogbank.output()
    );
    let unacked_delivered: HashSet<usize> = delivered.difference(&acked).copied().collect();
    println!(
        "round {round}: kill -9 after {acked_at_kill} acknowledged sends; all {} acknowledged messages delivered \
         ({} unacknowledged sends were also delivered, which is allowed)",
        acked.len(),
        unacked_delivered.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_kill_9() {
    for r in 0..ROUNDS {
        round(r).await;
    }
}
