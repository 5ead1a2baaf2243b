//! Docker runtime benchmark:
//! `cargo run --release -p fogbank-tests --bin docker-bench [-- SECONDS]`.
//!
//! All figures come from one run on `examples/hello-api` (the real
//! `lambda_runtime` crate), each beside its baseline:
//! - cold start: the first invocation after `fogbank start` has printed its
//!   banner (a container is created and started, the bootstrap initialises
//!   and answers), beside a raw `docker run` of the same container (the
//!   image, command, mounts, environment and limits are copied from
//!   fogbank's own container with `docker inspect`), timed from the `docker`
//!   command to the bootstrap's first response to a minimal Runtime API in
//!   this process; both attached (`docker run`) and detached (`docker run
//!   -d`, fewer CLI round trips), and the overhead is taken over the faster;
//! - warm throughput through the API Gateway at 8 connections, Docker
//!   runtime beside the process runtime (wrk, in the order process, docker,
//!   docker, process so that drift on a shared machine affects both alike);
//! - the resident memory of the fogbank process alone (not its containers
//!   or function processes) with 10 warm containers, counted with `docker
//!   ps`, after a load run, beside the same with 10 warm processes.
//!
//! Needs a Docker engine (`.ci/docker-up`) and wrk.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fogbank_tests::bench::{LoadRequest, LoadResult, Table, format_duration, wrk};
use fogbank_tests::{Fogbank, StartOptions, copy_dir, example, fogbank_binary, http};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;

/// Cold starts measured per side; the median is reported.
const COLD_ROUNDS: usize = 7;
/// Warm containers (and processes) for the memory figure: the default
/// concurrency limit.
const WARM_INSTANCES: usize = 10;

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
    // and the base image (through a Docker start), and copy the container
    // fogbank made so the raw `docker run` starts the very same one.
    let _ = fogbank_binary();
    let app = copy_dir(&example("hello-api"));
    let template = app.path().join("template.yaml");
    let label = format!(
        "dev.fogbank.app={}",
        std::path::absolute(&template).unwrap().display()
    );
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().to_str().unwrap().to_owned();
    let recipe = {
        let fogbank = start(&template, "docker", &["--state-dir", &state_arg]);
        runtime.block_on(invoke_hello(fogbank.lambda));
        let containers = running_containers(&label);
        assert_eq!(containers.len(), 1, "one container after one invoke");
        Recipe::inspect(&containers[0])
    };

    // Cold starts, alternating sides so that drift affects all alike.
    let mut attached = Vec::new();
    let mut detached = Vec::new();
    let mut first_invoke = Vec::new();
    let mut start_to_answer = Vec::new();
    for _ in 0..COLD_ROUNDS {
        attached.push(runtime.block_on(raw_docker_run(&recipe, false)));
        detached.push(runtime.block_on(raw_docker_run(&recipe, true)));
        let spawned = Instant::now();
        let fogbank = start(&template, "docker", &["--state-dir", &state_arg]);
        let ready = Instant::now();
        runtime.block_on(invoke_hello(fogbank.lambda));
        first_invoke.push(ready.elapsed());
        start_to_answer.push(spawned.elapsed());
        drop(fogbank);
    }
    let attached = median(attached);
    let detached = median(detached);
    let raw = attached.min(detached);
    let first_invoke = median(first_invoke);
    let start_to_answer = median(start_to_answer);

    // Warm throughput through the gateway, ABBA order.
    let hello = LoadRequest::get("/hello/Ada");
    let mut process_runs = Vec::new();
    let mut docker_runs = Vec::new();
    for runtime_name in ["process", "docker", "docker", "process"] {
        let fogbank = start(&template, runtime_name, &["--state-dir", &state_arg]);
        let gateway = fogbank
            .gateway
            .expect("fogbank printed its API Gateway address");
        // Grow the pool to eight warm instances first.
        let _ = wrk(gateway, &hello, 8, Duration::from_secs(3));
        let result = wrk(gateway, &hello, 8, duration);
        if runtime_name == "docker" {
            docker_runs.push(result);
        } else {
            process_runs.push(result);
        }
    }
    let warm_process = mean(&process_runs);
    let warm_docker = mean(&docker_runs);

    // Resident memory with ten warm instances: ten invocations at once on a
    // fresh start make ten instances (each finds no idle one), then a load
    // run at ten connections uses them all.
    let mut rss = Vec::new();
    for runtime_name in ["process", "docker"] {
        let fogbank = start(&template, runtime_name, &["--state-dir", &state_arg]);
        runtime.block_on(async {
            let lambda = fogbank.lambda;
            let invokes: Vec<_> = (0..WARM_INSTANCES)
                .map(|_| tokio::spawn(invoke_hello(lambda)))
                .collect();
            for invoke in invokes {
                invoke.await.unwrap();
            }
        });
        let _ = wrk(fogbank.gateway.unwrap(), &hello, 10, Duration::from_secs(3));
        let instances = if runtime_name == "docker" {
            running_containers(&label).len()
        } else {
            fogbank.output().matches("Init Duration").count()
        };
        assert_eq!(
            instances, WARM_INSTANCES,
            "{runtime_name}: {WARM_INSTANCES} warm instances expected"
        );
        rss.push(memory_mb(fogbank.pid()));
    }

    let mut table = Table::new(&format!(
        "Docker runtime, hello-api (lambda_runtime), {COLD_ROUNDS} cold starts (median), {seconds} s load runs"
    ));
    table.latency(
        "cold start: first invoke after fogbank start",
        first_invoke,
        "raw docker run, same container",
        attached,
    );
    table.latency(
        "cold start: first invoke after fogbank start",
        first_invoke,
        "raw docker run -d, same container",
        detached,
    );
    table.row(
        "cold-start overhead over the faster docker run",
        format_signed(first_invoke, raw),
        "target",
        "<= 50 ms".to_owned(),
        "-".to_owned(),
    );
    table.latency(
        "spawning fogbank start to first answer",
        start_to_answer,
        "raw docker run, same container",
        attached,
    );
    table.throughput(
        "warm req/s via gateway, 8 connections",
        warm_docker.requests_per_second,
        "process runtime",
        warm_process.requests_per_second,
    );
    table.latency(
        "warm p50 via gateway, 8 connections",
        warm_docker.p50,
        "process runtime",
        warm_process.p50,
    );
    table.row(
        &format!("fogbank RSS, {WARM_INSTANCES} warm instances"),
        format!("{:.1} MB ({WARM_INSTANCES} containers)", rss[1].0),
        "process runtime",
        format!("{:.1} MB ({WARM_INSTANCES} processes)", rss[0].0),
        format!("{:.2}x", rss[1].0 / rss[0].0),
    );
    table.row(
        &format!("fogbank peak RSS, {WARM_INSTANCES} warm instances"),
        format!("{:.1} MB", rss[1].1),
        "process runtime",
        format!("{:.1} MB", rss[0].1),
        format!("{:.2}x", rss[1].1 / rss[0].1),
    );
    table.row(
        "errors during load (docker, process)",
        docker_runs
            .iter()
            .map(|r| r.errors)
            .sum::<u64>()
            .to_string(),
        "process runtime",
        process_runs
            .iter()
            .map(|r| r.errors)
            .sum::<u64>()
            .to_string(),
        "-".to_owned(),
    );
    println!("{}", table.render());
    println!(
        "Targets: cold-start overhead <= 50 ms (got {}); warm throughput >= 80% of the process runtime's (got {:.0}%); \
         RSS < 40 MB with {WARM_INSTANCES} warm containers (got {:.1} MB).",
        format_signed(first_invoke, raw),
        100.0 * warm_docker.requests_per_second / warm_process.requests_per_second,
        rss[1].0
    );
}

fn start(template: &Path, runtime: &str, extra: &[&str]) -> Fogbank {
    let mut args = vec!["--runtime", runtime];
    args.extend_from_slice(extra);
    Fogbank::start_with(StartOptions::new(template).args(&args))
}

async fn invoke_hello(lambda: SocketAddr) {
    let response = http::send(
        lambda,
        "POST",
        "/2015-03-31/functions/HelloFunction/invocations",
        &[],
        hello_event(),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(response.text().contains("Ada"), "{}", response.text());
}

/// hello-api's own HTTP API event (`GET /hello/Ada`), sent by both sides
/// of the cold-start comparison.
fn hello_event() -> &'static str {
    static EVENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    EVENT.get_or_init(|| {
        std::fs::read_to_string(example("hello-api").join("events/hello.json"))
            .expect("examples/hello-api/events/hello.json")
    })
}

/// IDs of the running containers carrying `label` (`key=value`).
fn running_containers(label: &str) -> Vec<String> {
    let output = Command::new("docker")
        .args([
            "ps",
            "-q",
            "--no-trunc",
            "--filter",
            &format!("label={label}"),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Fogbank's container as `docker run` arguments, read back with `docker
/// inspect` so that the raw run cannot differ from it by accident.
struct Recipe {
    /// Everything between `run` and the image.
    options: Vec<String>,
    image: String,
    cmd: Vec<String>,
    /// The environment, without the Runtime API address.
    env: Vec<String>,
}

impl Recipe {
    fn inspect(id: &str) -> Recipe {
        let output = Command::new("docker")
            .args(["inspect", id])
            .output()
            .unwrap();
        assert!(output.status.success(), "docker inspect {id}");
        let inspected: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let container = &inspected[0];
        let config = &container["Config"];
        let host = &container["HostConfig"];
        let strings = |value: &serde_json::Value| -> Vec<String> {
            value
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|item| item.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut options: Vec<String> = vec![
            "--network".into(),
            host["NetworkMode"].as_str().unwrap().into(),
            "--user".into(),
            config["User"].as_str().unwrap().into(),
            "--workdir".into(),
            config["WorkingDir"].as_str().unwrap().into(),
            "--memory".into(),
            format!("{}b", host["Memory"].as_i64().unwrap()),
            "--memory-swap".into(),
            format!("{}b", host["MemorySwap"].as_i64().unwrap()),
            "--pids-limit".into(),
            host["PidsLimit"].as_i64().unwrap().to_string(),
        ];
        if host["Init"].as_bool() == Some(true) {
            options.push("--init".into());
        }
        if host["ReadonlyRootfs"].as_bool() == Some(true) {
            options.push("--read-only".into());
        }
        for ulimit in host["Ulimits"].as_array().into_iter().flatten() {
            options.push("--ulimit".into());
            options.push(format!(
                "{}={}:{}",
                ulimit["Name"].as_str().unwrap(),
                ulimit["Soft"],
                ulimit["Hard"]
            ));
        }
        for (path, mount_options) in host["Tmpfs"].as_object().into_iter().flatten() {
            options.push("--tmpfs".into());
            options.push(format!("{path}:{}", mount_options.as_str().unwrap()));
        }
        // Every bind but fogbank's output FIFO, which belongs to the run
        // that made it: the raw container writes to its own stdout instead.
        for bind in strings(&host["Binds"]) {
            if !bind.contains(":/var/fogbank/output:") {
                options.push("-v".into());
                options.push(bind);
            }
        }
        // The same shell hop as fogbank's entrypoint, minus the FIFO.
        let entrypoint = strings(&config["Entrypoint"]);
        assert_eq!(entrypoint.first().map(String::as_str), Some("/bin/sh"));
        options.push("--entrypoint".into());
        options.push("/bin/sh".into());
        let mut cmd = vec![
            "-c".to_owned(),
            "exec \"$@\"".to_owned(),
            "bootstrap".to_owned(),
        ];
        cmd.extend(strings(&config["Cmd"]));
        let env = strings(&config["Env"])
            .into_iter()
            .filter(|entry| !entry.starts_with("AWS_LAMBDA_RUNTIME_API="))
            .collect();
        Recipe {
            options,
            image: config["Image"].as_str().unwrap().to_owned(),
            cmd,
            env,
        }
    }
}

/// `docker run` (attached, or `-d`) of fogbank's container, until its
/// bootstrap has answered one event from a Runtime API served here.
async fn raw_docker_run(recipe: &Recipe, detach: bool) -> Duration {
    let (answered_tx, mut answered_rx) = mpsc::unbounded_channel();
    let api = serve_runtime_api(answered_tx).await;
    let name = format!("fogbank-bench-{}", uuid::Uuid::new_v4().simple());
    let mut args: Vec<String> = vec!["run".into(), "--rm".into(), "--name".into(), name.clone()];
    if detach {
        args.push("-d".into());
    }
    args.extend(recipe.options.iter().cloned());
    for entry in &recipe.env {
        args.extend(["-e".into(), entry.clone()]);
    }
    args.extend(["-e".into(), format!("AWS_LAMBDA_RUNTIME_API={api}")]);
    args.push(recipe.image.clone());
    args.extend(recipe.cmd.iter().cloned());
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
        matches!(answered, Ok(Some(true))),
        "the raw container did not answer the event ({answered:?}: false is an error response)"
    );
    let _ = Command::new("docker").args(["rm", "-f", &name]).output();
    let _ = child.wait();
    elapsed
}

/// A Runtime API serving one event and reporting its response.
async fn serve_runtime_api(answered: mpsc::UnboundedSender<bool>) -> SocketAddr {
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
                                .body(Full::new(Bytes::from_static(hello_event().as_bytes())))
                                .unwrap();
                            Ok::<_, Infallible>(response)
                        } else {
                            if path.ends_with("/response") {
                                let _ = answered.send(true);
                            } else if path.ends_with("/error") {
                                let _ = answered.send(false);
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

/// The process's resident and peak resident memory, in MB.
fn memory_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> f64 {
        let kb: f64 = status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap();
        kb / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The mean of several load runs (p50 as the mean of the p50s).
fn mean(runs: &[LoadResult]) -> LoadResult {
    let n = runs.len() as f64;
    LoadResult {
        requests_per_second: runs.iter().map(|r| r.requests_per_second).sum::<f64>() / n,
        p50: runs.iter().map(|r| r.p50).sum::<Duration>() / runs.len() as u32,
        p99: runs.iter().map(|r| r.p99).sum::<Duration>() / runs.len() as u32,
        requests: runs.iter().map(|r| r.requests).sum(),
        errors: runs.iter().map(|r| r.errors).sum(),
    }
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
