//! Debugger benchmark:
//! `cargo run --release -p fogbank-tests --bin dap-bench [-- ROUNDS]`.
//!
//! fogbank-dap (with fogbank-agent) beside Debian's `lldb-dap-19`, in the
//! same run, on the same binary: `examples/hello-api` built in release mode
//! with debug info. Both adapters launch the binary themselves, as VS Code
//! would ask them to, with `AWS_LAMBDA_RUNTIME_API` pointing at a small
//! Runtime API in this process that hands out `GET /hello/Ada` events
//! forever, so the handler runs again after every `continue`.
//!
//! `FOGBANK_DAP` and `FOGBANK_AGENT` may name the binaries to measure
//! (by default those of this build's profile).
//!
//! Figures, each the median over ROUNDS sessions (default 5):
//! - symbols and breakpoint: from the `launch` request to the verified
//!   `setBreakpoints` response on the handler's first line (the adapter
//!   must read the binary's debug info to answer);
//! - launch to first stop: from `launch` to the `stopped` event at that
//!   breakpoint;
//! - `next`: the p50 of `next` request to `stopped` event, over three
//!   `next`s per handler run and five handler runs per session.

// A benchmark command: failing loudly on a broken setup is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fogbank_tests::bench::{Table, median, spawn_looping_runtime_api};
use fogbank_tests::dap_client::DapClient;
use fogbank_tests::{copy_dir, example, target_dir, workspace_binary};
use serde_json::{Value, json};

/// How long one DAP exchange may take before the benchmark gives up.
const STEP: Duration = Duration::from_secs(120);

/// Handler runs per session, and `next`s per run.
const RUNS_PER_SESSION: usize = 5;
const NEXTS_PER_RUN: usize = 3;

/// One session's figures.
struct Sample {
    breakpoint: Duration,
    first_stop: Duration,
    nexts: Vec<Duration>,
}

/// Which adapter, and how to start and configure it.
enum Adapter {
    Fogbank { dap: PathBuf, agent: PathBuf },
    Lldb { dap: PathBuf },
}

impl Adapter {
    fn name(&self) -> &'static str {
        match self {
            Adapter::Fogbank { .. } => "fogbank-dap",
            Adapter::Lldb { .. } => "lldb-dap-19",
        }
    }

    fn spawn(&self, cwd: &Path) -> DapClient {
        match self {
            Adapter::Fogbank { dap, .. } => DapClient::spawn(dap, &[], cwd, &[]),
            Adapter::Lldb { dap } => DapClient::spawn(dap, &[], cwd, &[]),
        }
    }

    fn launch_arguments(&self, program: &Path, runtime_api: SocketAddr) -> Value {
        // What the lambda_runtime crate reads at start-up.
        let env = [
            (
                "AWS_LAMBDA_RUNTIME_API",
                format!("127.0.0.1:{}", runtime_api.port()),
            ),
            ("AWS_LAMBDA_FUNCTION_NAME", "HelloFunction".to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                "/aws/lambda/HelloFunction".to_owned(),
            ),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".to_owned()),
        ];
        match self {
            Adapter::Fogbank { agent, .. } => json!({
                "type": "fogbank",
                "request": "launch",
                "name": "bench",
                "program": program,
                "agent": agent,
                "env": env.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            }),
            Adapter::Lldb { .. } => json!({
                "type": "lldb-dap",
                "request": "launch",
                "name": "bench",
                "program": program,
                "env": env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
            }),
        }
    }
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .max(1);
    let lldb = PathBuf::from("/usr/bin/lldb-dap-19");
    assert!(
        lldb.is_file(),
        "lldb-dap-19 is missing; install it: apt-get install lldb-19"
    );

    // Build everything before measuring anything.
    // FOGBANK_DAP and FOGBANK_AGENT name other builds (a release build
    // measured from a debug build of this command, for example).
    let dap = std::env::var_os("FOGBANK_DAP")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_binary("fogbank-dap", "fogbank-dap"));
    let agent = std::env::var_os("FOGBANK_AGENT")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_binary("fogbank-agent", "fogbank-agent"));
    eprintln!("dap-bench: {} with {}", dap.display(), agent.display());
    let app = copy_dir(&example("hello-api"));
    let program = build_hello_api(app.path());
    let source = app.path().join("src/main.rs");
    let line = line_of(&source, "let greeting = format!(\"Hello, {name}!\");");
    let runtime_api = spawn_looping_runtime_api(hello_event());
    let adapters = [Adapter::Fogbank { dap, agent }, Adapter::Lldb { dap: lldb }];

    // One warm-up session each (page cache, lldb's module cache), then
    // alternate the adapters so drift hits both alike.
    let mut samples: [Vec<Sample>; 2] = [Vec::new(), Vec::new()];
    for (index, adapter) in adapters.iter().enumerate() {
        let _ = session(adapter, app.path(), &program, &source, line, runtime_api);
        eprintln!("dap-bench: warmed up {}", adapters[index].name());
    }
    for round in 0..rounds {
        for (index, adapter) in adapters.iter().enumerate() {
            samples[index].push(session(
                adapter,
                app.path(),
                &program,
                &source,
                line,
                runtime_api,
            ));
        }
        eprintln!("dap-bench: round {} of {rounds} done", round + 1);
    }

    let summary = |samples: &[Sample]| {
        let breakpoint = median(samples.iter().map(|s| s.breakpoint).collect());
        let first_stop = median(samples.iter().map(|s| s.first_stop).collect());
        let nexts = median(
            samples
                .iter()
                .flat_map(|s| s.nexts.iter().copied())
                .collect(),
        );
        (breakpoint, first_stop, nexts)
    };
    let ours = summary(&samples[0]);
    let theirs = summary(&samples[1]);
    let size = std::fs::metadata(&program).map(|m| m.len()).unwrap_or(0);
    let mut table = Table::new(&format!(
        "Debugging hello-api (release with debug info, {:.1} MB), median of {rounds} sessions",
        size as f64 / 1e6
    ));
    table.latency(
        "launch to verified breakpoint (symbols + resolve)",
        ours.0,
        "lldb-dap-19",
        theirs.0,
    );
    table.latency("launch to first stop", ours.1, "lldb-dap-19", theirs.1);
    table.latency(
        &format!(
            "`next` p50 ({} steps per session)",
            RUNS_PER_SESSION * NEXTS_PER_RUN
        ),
        ours.2,
        "lldb-dap-19",
        theirs.2,
    );
    println!("{}", table.render());
    println!("Target: each fogbank-dap figure at most lldb-dap-19's (ratio <= 1.00).");
}

/// One debug session: launch, breakpoint, first stop, then handler runs
/// with `next`s and a `continue` each.
fn session(
    adapter: &Adapter,
    cwd: &Path,
    program: &Path,
    source: &Path,
    line: i64,
    runtime_api: SocketAddr,
) -> Sample {
    let mut client = adapter.spawn(cwd);
    client.request(
        "initialize",
        json!({
            "clientID": "vscode",
            "adapterID": adapter.name(),
            "pathFormat": "path",
            "linesStartAt1": true,
            "columnsStartAt1": true,
            "supportsVariableType": true,
        }),
        STEP,
    );
    let started = Instant::now();
    let launch = client.send("launch", adapter.launch_arguments(program, runtime_api));
    client.wait_for("`initialized`", STEP, |m| {
        (m["type"] == "event" && m["event"] == "initialized")
            || (m["type"] == "response" && m["request_seq"] == launch && m["success"] == false)
    });
    let set = client.request(
        "setBreakpoints",
        json!({ "source": { "name": "main.rs", "path": source }, "breakpoints": [{ "line": line }] }),
        STEP,
    );
    let breakpoint = started.elapsed();
    assert_eq!(
        set["breakpoints"][0]["verified"],
        true,
        "{}: {set}",
        adapter.name()
    );
    client.request("configurationDone", Value::Null, STEP);
    let launched = client.response(launch, STEP).message;
    assert_eq!(launched["success"], true, "{}: {launched}", adapter.name());
    let stopped = stopped_at_breakpoint(&mut client, adapter);
    let first_stop = started.elapsed();
    let thread = stopped["body"]["threadId"].clone();

    let mut nexts = Vec::new();
    for run in 0..RUNS_PER_SESSION {
        if run > 0 {
            client.request("continue", json!({ "threadId": thread }), STEP);
            stopped_at_breakpoint(&mut client, adapter);
        }
        for _ in 0..NEXTS_PER_RUN {
            let sent = Instant::now();
            client.send("next", json!({ "threadId": thread }));
            let stop = client.event("stopped", STEP);
            nexts.push(stop.at.duration_since(sent));
            assert_eq!(
                stop.message["body"]["reason"],
                "step",
                "{}: {}",
                adapter.name(),
                stop.message
            );
        }
    }
    client.send("disconnect", json!({ "terminateDebuggee": true }));
    let _ = client.wait_exit(Duration::from_secs(10));
    Sample {
        breakpoint,
        first_stop,
        nexts,
    }
}

fn stopped_at_breakpoint(client: &mut DapClient, adapter: &Adapter) -> Value {
    let stopped = client.event("stopped", STEP).message;
    assert_eq!(
        stopped["body"]["reason"],
        "breakpoint",
        "{}: {stopped}",
        adapter.name()
    );
    stopped
}

/// Builds the copy of hello-api in release mode with debug info (as a
/// developer would to debug optimised code) and returns its binary.
fn build_hello_api(app: &Path) -> PathBuf {
    let target = target_dir().join("hello-api-bench");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(app)
        .args(["build", "--release"])
        .env("CARGO_TARGET_DIR", &target)
        .env("CARGO_PROFILE_RELEASE_DEBUG", "true")
        .env_remove("RUSTFLAGS")
        .status()
        .expect("run cargo build for hello-api");
    assert!(status.success(), "building hello-api failed");
    target.join("release/hello-api")
}

fn line_of(path: &Path, text: &str) -> i64 {
    let source = std::fs::read_to_string(path).expect("read source");
    source
        .lines()
        .position(|line| line.trim() == text)
        .unwrap_or_else(|| panic!("{} has no line `{text}`", path.display())) as i64
        + 1
}

/// hello-api's `GET /hello/{name}` event, as the Runtime API hands it out.
fn hello_event() -> String {
    json!({
        "version": "2.0",
        "routeKey": "GET /hello/{name}",
        "rawPath": "/hello/Ada",
        "rawQueryString": "",
        "headers": { "host": "localhost" },
        "pathParameters": { "name": "Ada" },
        "requestContext": {
            "accountId": "123456789012", "apiId": "bench", "domainName": "localhost",
            "domainPrefix": "bench", "requestId": "r", "routeKey": "GET /hello/{name}", "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 0,
            "http": { "method": "GET", "path": "/hello/Ada", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench" }
        },
        "isBase64Encoded": false
    })
    .to_string()
}
