//! SQS throughput benchmark: `cargo run --release -p fogbank-tests --bin sqs-bench [-- --seconds N]`.
//!
//! Drives real AWS JSON 1.0 requests over 8 keep-alive HTTP/1.1
//! connections against fogbank (durable, in a temporary state directory),
//! fogbank (ephemeral) and moto server, all in the same run, and prints
//! SendMessage and ReceiveMessage+DeleteMessage throughput with ratios.
//! The load generator shares the machine (and, for fogbank, the process)
//! with the server under test, as the same for every target.
//!
//! Then the event source mapping's latency: `fogbank start` (the real
//! binary, process runtime) with a Python function subscribed to a queue;
//! each message carries its send time, and the handler prints how long ago
//! that was when it starts. The baseline, in the same run, is the same
//! function invoked directly through the Invoke API, measured the same way.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use fogbank::sqs::{SqsConfig, SqsService};
use fogbank_tests::{Fogbank, StartOptions};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const CONNECTIONS: usize = 8;

struct Conn {
    sender: http1::SendRequest<Full<Bytes>>,
    host: String,
}

impl Conn {
    async fn open(endpoint: &str) -> Result<Conn> {
        let host = endpoint.trim_start_matches("http://").to_owned();
        let sender = Conn::connect(&host).await?;
        Ok(Conn { sender, host })
    }

    async fn connect(host: &str) -> Result<http1::SendRequest<Full<Bytes>>> {
        let stream = tokio::net::TcpStream::connect(host).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(sender)
    }

    async fn call(&mut self, action: &str, body: &Value) -> Result<Value> {
        let bytes = self.call_raw(action, Bytes::from(body.to_string())).await?;
        Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// Sends a pre-serialized body; returns the response body unparsed.
    async fn call_raw(&mut self, action: &str, body: Bytes) -> Result<Bytes> {
        let request = http::Request::post("/")
            .header("host", &self.host)
            .header("x-amz-target", format!("AmazonSQS.{action}"))
            .header("content-type", "application/x-amz-json-1.0")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDBENCH/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(Full::new(body))?;
        // moto's server (Werkzeug) closes every connection after one
        // response; reconnect then, as a keep-alive client would.
        if self.sender.is_closed() || self.sender.ready().await.is_err() {
            self.sender = Conn::connect(&self.host).await?;
        }
        let response = self.sender.send_request(request).await?;
        let closing = response
            .headers()
            .get("connection")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        if closing {
            self.sender = Conn::connect(&self.host).await?;
        }
        if !status.is_success() {
            bail!(
                "{action} failed with {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        Ok(bytes)
    }
}

/// Runs `CONNECTIONS` workers for `duration`; each iteration returns how
/// many messages it handled. Returns messages per second.
async fn run_phase<F, Fut>(endpoint: &str, duration: Duration, work: F) -> Result<f64>
where
    F: Fn(Conn, Arc<AtomicU64>, Instant) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send + 'static,
{
    let count = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let conn = Conn::open(endpoint).await?;
        tasks.push(tokio::spawn(work.clone()(conn, count.clone(), deadline)));
    }
    for task in tasks {
        task.await??;
    }
    Ok(count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

async fn measure(endpoint: &str, seconds: u64) -> Result<(f64, f64)> {
    let mut setup = Conn::open(endpoint).await?;
    let queue = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let url = setup
        .call("CreateQueue", &json!({"QueueName": queue}))
        .await?["QueueUrl"]
        .as_str()
        .context("CreateQueue returned no QueueUrl")?
        .to_owned();
    let duration = Duration::from_secs(seconds);
    let send_url = url.clone();
    let send = run_phase(endpoint, duration, move |mut conn, count, deadline| {
        let url = send_url.clone();
        async move {
            let body = json!({"QueueUrl": url, "MessageBody": "{\"order\":12345,\"item\":\"widget\",\"quantity\":3}"});
            let body = Bytes::from(body.to_string());
            while Instant::now() < deadline {
                conn.call_raw("SendMessage", body.clone()).await?;
                count.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }
    })
    .await?;
    let receive_url = url.clone();
    let receive = run_phase(endpoint, duration, move |mut conn, count, deadline| {
        let url = receive_url.clone();
        async move {
            let request =
                json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "VisibilityTimeout": 60});
            while Instant::now() < deadline {
                let got = conn.call("ReceiveMessage", &request).await?;
                let messages = got["Messages"].as_array().cloned().unwrap_or_default();
                if messages.is_empty() {
                    break;
                }
                for m in messages {
                    conn.call(
                        "DeleteMessage",
                        &json!({"QueueUrl": url, "ReceiptHandle": m["ReceiptHandle"]}),
                    )
                    .await?;
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(())
        }
    })
    .await?;
    Ok((send, receive))
}

async fn start_fogbank(
    state_dir: Option<std::path::PathBuf>,
    shutdown: CancellationToken,
) -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let service = SqsService::open(SqsConfig {
        state_dir,
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        endpoint: endpoint.clone(),
    })?;
    tokio::spawn(fogbank::sqs::run(listener, service, shutdown));
    Ok(endpoint)
}

fn start_moto() -> Result<(std::process::Child, String)> {
    let venv = std::env::var("FOGBANK_VENV").unwrap_or_else(|_| "/opt/fbvenv".into());
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = std::process::Command::new(format!("{venv}/bin/moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("starting {venv}/bin/moto_server (pip install 'moto[server]')"))?;
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok((child, format!("http://127.0.0.1:{port}")));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("moto_server did not start on port {port}")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let seconds = args
        .iter()
        .position(|a| a == "--seconds")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(5);
    let shutdown = CancellationToken::new();
    // `--serve DIR|-`: only run a fogbank SQS server (durable in DIR, or
    // ephemeral for `-`) and print its endpoint, for external load
    // generators such as wrk.
    if let Some(dir) = args
        .iter()
        .position(|a| a == "--serve")
        .and_then(|i| args.get(i + 1))
    {
        let state_dir = (dir != "-").then(|| std::path::PathBuf::from(dir));
        let endpoint = start_fogbank(state_dir, shutdown.clone()).await?;
        println!("{endpoint}");
        tokio::signal::ctrl_c().await?;
        return Ok(());
    }
    let state = tempfile::tempdir()?;
    let durable = start_fogbank(Some(state.path().join("sqs")), shutdown.clone()).await?;
    let ephemeral = start_fogbank(None, shutdown.clone()).await?;
    let (mut moto, moto_endpoint) = start_moto()?;

    let mut rows = Vec::new();
    for (name, endpoint) in [
        ("fogbank durable", &durable),
        ("fogbank ephemeral", &ephemeral),
        ("moto server", &moto_endpoint),
    ] {
        // The load generator gets its own single-threaded runtime on its own
        // thread (like `wrk -t1`), so it does not share the server's workers.
        let endpoint = endpoint.clone();
        let (send, receive) = tokio::task::spawn_blocking(move || -> Result<(f64, f64)> {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(measure(&endpoint, seconds))
        })
        .await?
        .with_context(|| format!("benchmarking {name}"))?;
        rows.push((name, send, receive));
    }
    let _ = moto.kill();
    let _ = moto.wait();
    shutdown.cancel();

    let (_, eph_send, eph_recv) = rows[1];
    let (_, moto_send, moto_recv) = rows[2];
    println!(
        "SQS throughput, {CONNECTIONS} keep-alive connections, JSON protocol, {seconds} s per phase (messages/s)"
    );
    println!(
        "| target | SendMessage | Receive+Delete | send vs ephemeral | send vs moto | recv+del vs moto |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, send, receive) in &rows {
        println!(
            "| {name} | {send:.0} | {receive:.0} | {:.0}% | {:.1}x | {:.1}x |",
            100.0 * send / eph_send,
            send / moto_send,
            receive / moto_recv,
        );
    }
    let _ = eph_recv;

    let esm = tokio::task::spawn_blocking(esm_latency).await??;
    println!();
    println!(
        "SQS event source mapping: send to handler start, {ESM_SAMPLES} messages one at a time (process runtime)"
    );
    println!("| path | p50 | p99 | baseline | p50 | p99 |");
    println!("|---|---:|---:|---|---:|---:|");
    println!(
        "| SendMessage → ESM → handler | {} | {} | Invoke API → handler | {} | {} |",
        format_micros(esm.esm_p50),
        format_micros(esm.esm_p99),
        format_micros(esm.invoke_p50),
        format_micros(esm.invoke_p99),
    );
    println!(
        "Target: ESM p50 <= 10 ms (got {}).",
        format_micros(esm.esm_p50)
    );
    Ok(())
}

const ESM_SAMPLES: usize = 100;

const ESM_TEMPLATE: &str = r#"AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  LatencyFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      CodeUri: src/
      Handler: app.handler
      Events:
        Queue:
          Type: SQS
          Properties:
            Queue: !GetAtt LatencyQueue.Arn
            BatchSize: 1
            MaximumBatchingWindowInSeconds: 0
  LatencyQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: esm-latency
"#;

// Both paths carry the send time in nanoseconds since the epoch: a queue
// message as its body, a direct invocation as `{"sent": ...}`.
const ESM_HANDLER: &str = r#"import time

def handler(event, context):
    now = time.time_ns()
    if "Records" in event:
        for record in event["Records"]:
            print("esm-latency-us", (now - int(record["body"])) // 1000, flush=True)
    else:
        print("invoke-latency-us", (now - int(event["sent"])) // 1000, flush=True)
    return {}
"#;

struct EsmLatency {
    esm_p50: u64,
    esm_p99: u64,
    invoke_p50: u64,
    invoke_p99: u64,
}

fn now_nanos() -> Result<u128> {
    Ok(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos())
}

/// The values printed after `marker` in fogbank's output, in order.
fn samples(output: &str, marker: &str) -> Vec<u64> {
    output
        .lines()
        .filter_map(|line| {
            let rest = &line[line.find(marker)? + marker.len()..];
            rest.split_whitespace().next()?.parse().ok()
        })
        .collect()
}

fn percentile(sorted: &[u64], fraction: f64) -> u64 {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted.get(index).copied().unwrap_or(0)
}

fn format_micros(micros: u64) -> String {
    if micros >= 10_000 {
        format!("{:.1} ms", micros as f64 / 1000.0)
    } else {
        format!("{micros} µs")
    }
}

/// Waits until fogbank has printed `count` samples after `marker`.
fn wait_for_samples(fogbank: &Fogbank, marker: &str, count: usize) -> Result<Vec<u64>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = samples(&fogbank.output(), marker);
        if found.len() >= count {
            return Ok(found);
        }
        if Instant::now() > deadline {
            bail!(
                "the handler printed {} of {count} `{marker}` samples within 30 s",
                found.len()
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn esm_latency() -> Result<EsmLatency> {
    let app = tempfile::tempdir()?;
    std::fs::create_dir(app.path().join("src"))?;
    std::fs::write(app.path().join("template.yaml"), ESM_TEMPLATE)?;
    std::fs::write(app.path().join("src/app.py"), ESM_HANDLER)?;
    let fogbank =
        Fogbank::start_with(StartOptions::new(&app.path().join("template.yaml")).args(&["--warm"]));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let sqs_endpoint = fogbank.sqs_url();
    let lambda = fogbank.lambda;
    let mut conn = runtime.block_on(Conn::open(&sqs_endpoint))?;
    let queue_url = runtime
        .block_on(conn.call("GetQueueUrl", &json!({"QueueName": "esm-latency"})))?["QueueUrl"]
        .as_str()
        .context("GetQueueUrl returned no QueueUrl")?
        .to_owned();

    // A warm-up message and invocation, so that neither path pays a cold start.
    runtime.block_on(conn.call(
        "SendMessage",
        &json!({"QueueUrl": queue_url, "MessageBody": now_nanos()?.to_string()}),
    ))?;
    wait_for_samples(&fogbank, "esm-latency-us", 1)?;
    for sample in 1..=ESM_SAMPLES {
        let body = now_nanos()?.to_string();
        runtime.block_on(conn.call(
            "SendMessage",
            &json!({"QueueUrl": queue_url, "MessageBody": body}),
        ))?;
        wait_for_samples(&fogbank, "esm-latency-us", sample + 1)?;
    }
    for sample in 1..=ESM_SAMPLES + 1 {
        let payload = json!({ "sent": now_nanos()?.to_string() }).to_string();
        let response = runtime.block_on(fogbank_tests::http::send(
            lambda,
            "POST",
            "/2015-03-31/functions/LatencyFunction/invocations",
            &[("content-type", "application/json")],
            payload,
        ));
        if response.status != 200 {
            bail!(
                "direct invoke failed with {}: {}",
                response.status,
                response.text()
            );
        }
        wait_for_samples(&fogbank, "invoke-latency-us", sample)?;
    }
    let output = fogbank.output();
    // The first sample of each path is the warm-up.
    let mut esm: Vec<u64> = samples(&output, "esm-latency-us")
        .into_iter()
        .skip(1)
        .collect();
    let mut invoke: Vec<u64> = samples(&output, "invoke-latency-us")
        .into_iter()
        .skip(1)
        .collect();
    esm.sort_unstable();
    invoke.sort_unstable();
    Ok(EsmLatency {
        esm_p50: percentile(&esm, 0.5),
        esm_p99: percentile(&esm, 0.99),
        invoke_p50: percentile(&invoke, 0.5),
        invoke_p99: percentile(&invoke, 0.99),
    })
}
