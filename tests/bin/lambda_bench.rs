//! Lambda Invoke API benchmark:
//! `cargo run --release -p fogbank-tests --bin lambda-bench [-- SECONDS]`.
//!
//! Warm invokes of `examples/hello-api` (the real `lambda_runtime` crate)
//! through `fogbank start` with the process runtime, at 1 and 8
//! connections, beside a bare hyper server answering a fixed response in the
//! same run. wrk is the load generator for both.
#![allow(clippy::expect_used)] // A benchmark command: a missing file or port is fatal.

use std::time::Duration;

use fogbank_tests::bench::{LoadRequest, Table, spawn_bare_hyper_server, wrk};
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
    println!("{}", table.render());
    println!(
        "Targets: >= 10,000 invokes/s at 8 connections (got {:.0}); p50 <= 200 µs at 1 connection (got {:.0} µs).",
        ours_8.requests_per_second,
        ours_1.p50.as_secs_f64() * 1e6
    );
    drop(fogbank);
}
