//! Lambda Invoke API benchmark:
//! `cargo run --release -p fogbank-tests --bin lambda-bench [-- SECONDS]`.
//!
//! Warm invokes of `examples/hello-api` (the real `lambda_runtime` crate)
//! through `fogbank start` with the process runtime, at 1 and 8
//! connections, beside a bare hyper server answering a fixed response in the
//! same run. At one connection it also measures AWS's Runtime Interface
//! Emulator (from aws-sam-cli) running the same bootstrap: the same
//! architecture (an invoke front, a Runtime API, the function's process),
//! built by AWS. RIE serves one invocation at a time, so it has no
//! 8-connection figure. wrk is the load generator for all of them.
#![allow(clippy::expect_used)] // A benchmark command: a missing file or port is fatal.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fogbank_tests::bench::{LoadRequest, Table, spawn_bare_hyper_server, wrk};
use fogbank_tests::{Fogbank, StartOptions, copy_dir, example, fogbank_binary, rie_binary};

/// RIE serving one bootstrap on a free loopback port; killed on drop.
struct Rie {
    child: Child,
    address: SocketAddr,
}

impl Rie {
    fn start(bootstrap: &Path) -> Rie {
        let free_port = || {
            TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("a free loopback port")
        };
        let address = free_port();
        let child = Command::new(rie_binary())
            .arg("--runtime-interface-emulator-address")
            .arg(address.to_string())
            .arg("--runtime-api-address")
            .arg(free_port().to_string())
            .arg("--log-level")
            .arg("error")
            .arg(bootstrap)
            .env("AWS_LAMBDA_FUNCTION_NAME", "HelloFunction")
            .env("AWS_LAMBDA_FUNCTION_TIMEOUT", "10")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start AWS's RIE");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(address).is_err() {
            assert!(Instant::now() < deadline, "RIE did not listen on {address}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Rie { child, address }
    }
}

impl Drop for Rie {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
    // A state directory of the benchmark's own, so RIE can run the very
    // bootstrap fogbank built.
    let state = tempfile::tempdir().expect("state directory");
    let state_dir = state.path().to_str().expect("a UTF-8 temporary path");
    let fogbank = Fogbank::start_with(StartOptions::new(&template).args(&[
        "--warm",
        "--state-dir",
        state_dir,
    ]));
    let bare = spawn_bare_hyper_server();

    let event =
        std::fs::read_to_string(app.path().join("events/hello.json")).expect("hello-api event");
    let invoke = LoadRequest {
        method: "POST",
        path: "/2015-03-31/functions/HelloFunction/invocations",
        headers: &[("content-type", "application/json")],
        body: &event,
    };
    let fixed = LoadRequest::get("/");

    // Warm the pool to eight instances, then measure.
    let _ = wrk(fogbank.lambda, &invoke, 8, Duration::from_secs(2));
    let ours_8 = wrk(fogbank.lambda, &invoke, 8, duration);
    let ours_1 = wrk(fogbank.lambda, &invoke, 1, duration);
    let bare_8 = wrk(bare, &fixed, 8, duration);
    let bare_1 = wrk(bare, &fixed, 1, duration);
    // RIE runs the bootstrap fogbank built, so both serve the same program.
    let rie = Rie::start(&state.path().join("build/HelloFunction/bootstrap"));
    let rie_invoke = LoadRequest {
        path: "/2015-03-31/functions/function/invocations",
        ..invoke
    };
    let _ = wrk(rie.address, &rie_invoke, 1, Duration::from_secs(1));
    let rie_1 = wrk(rie.address, &rie_invoke, 1, duration);
    drop(rie);
    // A failing baseline would make its figures meaningless.
    assert_eq!(rie_1.errors, 0, "AWS's RIE answered with errors");

    let mut table = Table::new(&format!(
        "Warm invokes of hello-api through the Invoke API, process runtime, {seconds} s per run"
    ));
    table.throughput(
        "invokes/s, 8 connections",
        ours_8.requests_per_second,
        "bare hyper, fixed 200",
        bare_8.requests_per_second,
    );
    table.throughput(
        "invokes/s, 1 connection",
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
    table.throughput(
        "invokes/s, 1 connection",
        ours_1.requests_per_second,
        "AWS RIE, same bootstrap",
        rie_1.requests_per_second,
    );
    table.latency(
        "p50, 1 connection",
        ours_1.p50,
        "AWS RIE, same bootstrap",
        rie_1.p50,
    );
    table.latency(
        "p99, 1 connection",
        ours_1.p99,
        "AWS RIE, same bootstrap",
        rie_1.p99,
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
        "bare hyper; AWS RIE",
        format!("{}; {}", bare_1.errors + bare_8.errors, rie_1.errors),
        "-".to_owned(),
    );
    println!("{}", table.render());
    println!(
        "Targets: >= 10,000 invokes/s at 8 connections (got {:.0}); p50 <= 200 µs at 1 connection (got {:.0} µs).",
        ours_8.requests_per_second,
        ours_1.p50.as_secs_f64() * 1e6
    );
    drop(fogbank);
}
