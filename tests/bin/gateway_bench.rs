//! API Gateway benchmark:
//! `cargo run --release -p fogbank-tests --bin gateway-bench [-- SECONDS]`.
//!
//! `GET /hello/{name}` on `examples/hello-api` (the real `lambda_runtime`
//! crate, an HTTP API route, payload 2.0) through `fogbank start`'s gateway
//! with the process runtime, at 1 and 8 connections, beside a bare hyper
//! server answering a fixed response in the same run, and beside
//! `cargo lambda watch` serving the same function through its function URL
//! when cargo-lambda is installed. wrk is the load generator for all.
#![allow(clippy::expect_used)] // A benchmark command: a missing file or port is fatal.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fogbank_tests::bench::{LoadRequest, LoadResult, Table, spawn_bare_hyper_server, wrk};
use fogbank_tests::{Fogbank, StartOptions, copy_dir, example, fogbank_binary};

fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let duration = Duration::from_secs(seconds);
    // Build everything before measuring anything.
    let _ = fogbank_binary();
    let app = copy_dir(&example("hello-api"));
    let template = app.path().join("template.yaml");
    let fogbank = Fogbank::start_with(StartOptions::new(&template).args(&["--warm"]));
    let gateway = fogbank
        .gateway
        .expect("fogbank printed its API Gateway address");
    let bare = spawn_bare_hyper_server();

    let hello = LoadRequest::get("/hello/Ada");
    let fixed = LoadRequest::get("/");

    // Warm the pool to eight instances, then measure.
    let _ = wrk(gateway, &hello, 8, Duration::from_secs(2));
    let ours_8 = wrk(gateway, &hello, 8, duration);
    let ours_1 = wrk(gateway, &hello, 1, duration);
    let bare_8 = wrk(bare, &fixed, 8, duration);
    let bare_1 = wrk(bare, &fixed, 1, duration);
    drop(fogbank);

    let cargo_lambda = measure_cargo_lambda(app.path(), duration);

    let mut table = Table::new(&format!(
        "GET /hello/{{name}} on hello-api through the API Gateway, process runtime, {seconds} s per run"
    ));
    table.throughput(
        "req/s, 8 connections",
        ours_8.requests_per_second,
        "bare hyper, fixed 200",
        bare_8.requests_per_second,
    );
    table.throughput(
        "req/s, 1 connection",
        ours_1.requests_per_second,
        "bare hyper, fixed 200",
        bare_1.requests_per_second,
    );
    table.latency(
        "p50, 1 connection",
        ours_1.p50,
        "bare hyper, fixed 200",
        bare_1.p50,
    );
    table.latency(
        "p99, 1 connection",
        ours_1.p99,
        "bare hyper, fixed 200",
        bare_1.p99,
    );
    table.latency(
        "p50, 8 connections",
        ours_8.p50,
        "bare hyper, fixed 200",
        bare_8.p50,
    );
    table.row(
        "errors (fogbank runs)",
        (ours_1.errors + ours_8.errors).to_string(),
        "bare hyper",
        (bare_1.errors + bare_8.errors).to_string(),
        "-".to_owned(),
    );
    match &cargo_lambda {
        Ok((lambda_8, lambda_1)) => {
            table.throughput(
                "req/s, 8 connections",
                ours_8.requests_per_second,
                "cargo lambda watch --release, function URL",
                lambda_8.requests_per_second,
            );
            table.throughput(
                "req/s, 1 connection",
                ours_1.requests_per_second,
                "cargo lambda watch --release, function URL",
                lambda_1.requests_per_second,
            );
            table.latency(
                "p50, 1 connection",
                ours_1.p50,
                "cargo lambda watch --release, function URL",
                lambda_1.p50,
            );
        }
        Err(reason) => println!("cargo-lambda comparison skipped: {reason}"),
    }
    println!("{}", table.render());
    if let Ok((lambda_8, lambda_1)) = &cargo_lambda {
        println!(
            "cargo lambda watch answered {} non-2xx or failed requests (its function URL event has routeKey $default, which hello-api answers with 404; the round trip is the same).",
            lambda_8.errors + lambda_1.errors
        );
    }
    println!(
        "Targets: >= 10,000 req/s at 8 connections (got {:.0}); p50 <= 250 µs at 1 connection (got {:.0} µs); no errors (got {}).",
        ours_8.requests_per_second,
        ours_1.p50.as_secs_f64() * 1e6,
        ours_1.errors + ours_8.errors
    );
}

/// The same function under `cargo lambda watch --release`, through its
/// function URL (`/lambda-url/<binary>/...`), at 8 and 1 connections.
fn measure_cargo_lambda(
    app: &std::path::Path,
    duration: Duration,
) -> Result<(LoadResult, LoadResult), String> {
    let cargo_lambda = std::env::var_os("HOME")
        .map(|home| std::path::PathBuf::from(home).join(".cargo/bin/cargo-lambda"))
        .filter(|p| p.is_file())
        .ok_or("cargo-lambda is not installed (cargo install cargo-lambda --locked)")?;
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        listener.local_addr().map_err(|e| e.to_string())?.port()
    };
    let child = Command::new(&cargo_lambda)
        // Its own process group, so stopping it stops the function too.
        .process_group(0)
        .args([
            "lambda",
            "watch",
            "--release",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
        ])
        .arg(port.to_string())
        .current_dir(app)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting cargo lambda watch: {e}"))?;
    let guard = KillOnDrop(child);
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let request = LoadRequest::get("/lambda-url/hello-api/hello/Ada");
    // The first request compiles and starts the function.
    let deadline = Instant::now() + Duration::from_secs(900);
    while TcpStream::connect(address).is_err() {
        if Instant::now() > deadline {
            return Err("cargo lambda watch did not listen within 15 minutes".to_owned());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    first_answer(address, request.path)?;
    let _ = wrk(address, &request, 8, Duration::from_secs(2));
    let lambda_8 = wrk(address, &request, 8, duration);
    let lambda_1 = wrk(address, &request, 1, duration);
    drop(guard);
    Ok((lambda_8, lambda_1))
}

/// Waits for one answer, however long the build behind it takes.
fn first_answer(address: SocketAddr, path: &str) -> Result<(), String> {
    let mut stream = TcpStream::connect(address).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(900)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| format!("no answer from cargo lambda watch: {e}"))?;
    if answer.starts_with("HTTP/1.1") {
        Ok(())
    } else {
        Err(format!(
            "unexpected answer from cargo lambda watch: {answer:?}"
        ))
    }
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        fogbank_tests::signal::to_group(self.0.id(), fogbank_tests::signal::Signal::SIGTERM);
        std::thread::sleep(Duration::from_millis(500));
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
