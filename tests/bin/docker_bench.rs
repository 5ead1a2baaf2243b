//! Docker runtime benchmark:
//! `cargo run --release -p fogbank-tests --bin docker-bench [-- SECONDS]`.
//!
//! All figures come from one run on `examples/hello-api` (the real
//! `lambda_runtime` crate), each beside its baseline:
//! - cold start: the first invocation after `fogbank start` (a container is
//!   created and started, the bootstrap initialises and answers), beside a
//!   raw `docker run` of the same bootstrap with the same image, mounts and
//!   limits, answering one event from a minimal Runtime API in this process;
//! - warm throughput through the API Gateway at 8 connections, Docker
//!   runtime beside the process runtime (wrk);
//! - fogbank's own resident memory with 10 warm containers, beside the
//!   same with 10 warm processes.
//!
//! Needs a Docker engine (`.ci/docker-up`) and wrk.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fogbank_tests::bench::{LoadRequest, Table, format_duration, wrk};
use fogbank_tests::{Fogbank, StartOptions, copy_dir, example, fogbank_binary, http};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;

/// Cold starts measured per side; the median is reported.
const COLD_ROUNDS: usize = 7;

fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let duration = Duration::from_secs(seconds);
    let info = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output();
    assert!(
        info.is_ok_and(|o| o.status.success()),
        "the benchmark needs a Docker engine: run .ci/docker-up"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // Build everything before measuring anything: the binary, the example
    // (through a process-runtime start) and the base image (through a
    // Docker start).
    let _ = fogbank_binary();
    let app = copy_dir(&example("hello-api"));
    let template = app.path().join("template.yaml");
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().to_str().unwrap().to_owned();
    {
        let fogbank = start(&template, "docker", &["--state-dir", &state_arg]);
        runtime.block_on(invoke_hello(&fogbank));
    }
    let bootstrap = find_bootstrap(state.path()).expect("the built hello-api bootstrap");
    let image = base_image();

    // Cold starts, alternating sides so that drift affects both alike.
    let mut raw = Vec::new();
    let mut first_invoke = Vec::new();
    let mut start_to_answer = Vec::new();
    for _ in 0..COLD_ROUNDS {
        raw.push(runtime.block_on(raw_docker_run(&image, &bootstrap)));
        let spawned = Instant::now();
        let fogbank = start(&template, "docker", &["--state-dir", &state_arg]);
        let ready = Instant::now();
        runtime.block_on(invoke_hello(&fogbank));
        first_invoke.push(ready.elapsed());
        start_to_answer.push(spawned.elapsed());
        drop(fogbank);
    }
    let raw = median(raw);
    let first_invoke = median(first_invoke);
    let start_to_answer = median(start_to_answer);

    // Warm throughput through the gateway.
    let hello = LoadRequest::get("/hello/Ada");
    let mut warm = Vec::new();
    for runtime_name in ["process", "docker"] {
        let fogbank = start(&template, runtime_name, &["--state-dir", &state_arg]);
        let gateway = fogbank
            .gateway
            .expect("fogbank printed its API Gateway address");
        // Grow the pool to eight warm instances first.
        let _ = wrk(gateway, &hello, 8, Duration::from_secs(3));
        warm.push(wrk(gateway, &hello, 8, duration));
    }

    // Resident memory with ten warm instances.
    let mut rss = Vec::new();
    for runtime_name in ["process", "docker"] {
        let fogbank = start(&template, runtime_name, &["--state-dir", &state_arg]);
        let gateway = fogbank.gateway.unwrap();
        let _ = wrk(gateway, &hello, 10, Duration::from_secs(3));
        let instances = fogbank.output().matches("Init Duration").count();
        rss.push((resident_mb(fogbank.pid()), instances));
    }

    let mut table = Table::new(&format!(
        "Docker runtime, hello-api (lambda_runtime), {COLD_ROUNDS} cold starts (median), {seconds} s load runs"
    ));
    table.latency(
        "cold start: first invoke after fogbank start",
        first_invoke,
        "raw docker run, same bootstrap",
        raw,
    );
    table.row(
        "cold-start overhead over docker run",
        format_signed(first_invoke, raw),
        "target",
        "<= 50 ms".to_owned(),
        "-".to_owned(),
    );
    table.latency(
        "spawning fogbank start to first answer",
        start_to_answer,
        "raw docker run, same bootstrap",
        raw,
    );
    table.throughput(
        "warm req/s via gateway, 8 connections",
        warm[1].requests_per_second,
        "process runtime",
        warm[0].requests_per_second,
    );
    table.latency(
        "warm p50 via gateway, 8 connections",
        warm[1].p50,
        "process runtime",
        warm[0].p50,
    );
    table.row(
        "fogbank RSS, 10 warm instances",
        format!("{:.1} MB ({} containers)", rss[1].0, rss[1].1),
        "process runtime",
        format!("{:.1} MB ({} processes)", rss[0].0, rss[0].1),
        format!("{:.2}x", rss[1].0 / rss[0].0),
    );
    table.row(
        "errors during load (docker, process)",
        warm[1].errors.to_string(),
        "process runtime",
        warm[0].errors.to_string(),
        "-".to_owned(),
    );
    println!("{}", table.render());
    println!(
        "Targets: cold-start overhead <= 50 ms (got {}); warm throughput >= 80% of the process runtime's (got {:.0}%); \
         RSS < 40 MB with 10 warm containers (got {:.1} MB).",
        format_signed(first_invoke, raw),
        100.0 * warm[1].requests_per_second / warm[0].requests_per_second,
        rss[1].0
    );
}

fn start(template: &Path, runtime: &str, extra: &[&str]) -> Fogbank {
    let mut args = vec!["--runtime", runtime];
    args.extend_from_slice(extra);
    Fogbank::start_with(StartOptions::new(template).args(&args))
}

async fn invoke_hello(fogbank: &Fogbank) {
    let response = http::send(
        fogbank.lambda,
        "POST",
        "/2015-03-31/functions/HelloFunction/invocations",
        &[],
        r#"{"pathParameters":{"name":"Ada"}}"#,
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(response.text().contains("Ada"), "{}", response.text());
}

fn find_bootstrap(dir: &Path) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_bootstrap(&path) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|n| n == "bootstrap") {
            return Some(path);
        }
    }
    None
}

/// Fogbank's base image, as the Docker start built it.
fn base_image() -> String {
    let output = Command::new("docker")
        .args([
            "images",
            "fogbank-base",
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .expect("fogbank's base image exists after a Docker start")
        .to_owned()
}

/// `docker run` of the bootstrap with the flags fogbank uses, until it has
/// answered one event from a Runtime API served here.
async fn raw_docker_run(image: &str, bootstrap: &Path) -> Duration {
    let (answered_tx, mut answered_rx) = mpsc::unbounded_channel();
    let api = serve_runtime_api(answered_tx).await;
    let code = bootstrap.parent().unwrap().display().to_string();
    let name = format!("fogbank-bench-{}", uuid::Uuid::new_v4().simple());
    let mut args: Vec<String> = [
        "run",
        "--rm",
        "--name",
        &name,
        "--network",
        "host",
        "--init",
        "--read-only",
        "--user",
        "993:990",
        "--memory",
        "128m",
        "--memory-swap",
        "128m",
        "--pids-limit",
        "1024",
        "--ulimit",
        "nofile=1024:1024",
        "--tmpfs",
        "/tmp:rw,exec,size=512m,mode=1777",
        "--workdir",
        "/var/task",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(["-v".into(), format!("{code}:/var/task:ro")]);
    for path in [
        "/usr",
        "/bin",
        "/lib",
        "/lib64",
        "/etc/ld.so.cache",
        "/etc/alternatives",
        "/etc/ssl",
    ] {
        if Path::new(path).exists() {
            args.extend(["-v".into(), format!("{path}:{path}:ro")]);
        }
    }
    for (key, value) in [
        ("AWS_LAMBDA_RUNTIME_API", api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", "HelloFunction".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "/aws/lambda/HelloFunction".into(),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".into()),
    ] {
        args.extend(["-e".into(), format!("{key}={value}")]);
    }
    args.extend([image.to_owned(), "/var/task/bootstrap".to_owned()]);
    let started = Instant::now();
    let mut child = Command::new("docker")
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let answered = tokio::time::timeout(Duration::from_secs(30), answered_rx.recv()).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(answered, Ok(Some(()))),
        "the raw container never answered"
    );
    let _ = Command::new("docker").args(["rm", "-f", &name]).output();
    let _ = child.wait();
    elapsed
}

/// A Runtime API serving one event and reporting its response.
async fn serve_runtime_api(answered: mpsc::UnboundedSender<()>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let served = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let answered = answered.clone();
            let served = served.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let answered = answered.clone();
                    let served = served.clone();
                    async move {
                        let path = request.uri().path().to_owned();
                        if path.ends_with("/invocation/next") {
                            if served.swap(true, std::sync::atomic::Ordering::SeqCst) {
                                std::future::pending::<()>().await;
                            }
                            let deadline = std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .unwrap()
                                .as_millis()
                                + 3000;
                            let response = Response::builder()
                                .header("Lambda-Runtime-Aws-Request-Id", "bench-request")
                                .header("Lambda-Runtime-Deadline-Ms", deadline.to_string())
                                .header(
                                    "Lambda-Runtime-Invoked-Function-Arn",
                                    "arn:aws:lambda:us-east-1:123456789012:function:HelloFunction",
                                )
                                .header(
                                    "Lambda-Runtime-Trace-Id",
                                    "Root=1-00000000-000000000000000000000000",
                                )
                                .body(Full::new(Bytes::from_static(
                                    br#"{"pathParameters":{"name":"Ada"}}"#,
                                )))
                                .unwrap();
                            Ok::<_, Infallible>(response)
                        } else {
                            if path.ends_with("/response") {
                                let _ = answered.send(());
                            }
                            Ok(Response::builder()
                                .status(202)
                                .body(Full::new(Bytes::new()))
                                .unwrap())
                        }
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

fn resident_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap();
    kb / 1024.0
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn format_signed(ours: Duration, baseline: Duration) -> String {
    let difference = ours.as_secs_f64() - baseline.as_secs_f64();
    let sign = if difference < 0.0 { "-" } else { "+" };
    format!(
        "{sign}{}",
        format_duration(Duration::from_secs_f64(difference.abs()))
    )
}
