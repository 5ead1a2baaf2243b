//! The Docker runtime (`--runtime docker`) against a real engine: the
//! example apps through every front door, the sandbox's isolation (read-only
//! code, writable /tmp, private environment, memory limit), faults (kill -9
//! of fogbank, containers killed from outside, an unreachable engine) and
//! the container lifecycle (warm reuse, concurrency, idle stop, shutdown,
//! labels, logs). Slow tier: these tests fail, never skip, when no engine
//! answers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod debug;
mod examples;
mod faults;
mod isolation;
mod lifecycle;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine as _;
use fogbank_tests::{Fogbank, StartOptions, http};
use serde_json::Value;

/// A fixture under `tests/docker/fixtures/`.
pub fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("docker/fixtures")
        .join(path)
}

/// Runs the docker CLI (a real client, to check what fogbank did through
/// the Engine API).
pub fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "cannot run docker ({error}); install it: .ci/docker-up (apt-get install docker.io)"
            )
        })
}

/// Fails the test, saying how to get one, unless a Docker engine answers.
pub fn require_docker() {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    let result = CHECKED.get_or_init(|| {
        let info = Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .output();
        match info {
            Ok(output) if output.status.success() => Ok(()),
            Ok(output) => Err(String::from_utf8_lossy(&output.stderr).into_owned()),
            Err(error) => Err(error.to_string()),
        }
    });
    if let Err(why) = result {
        panic!(
            "the Docker runtime's tests need a Docker engine, and none answers ({why}).\n\
             Install and start one with `.ci/docker-up` (as root: apt-get install -y docker.io; \
             dockerd --bridge=none --iptables=false &)"
        );
    }
}

/// `fogbank start --runtime docker` on `template`, plus `extra` arguments.
pub fn start_docker(template: &Path, extra: &[&str]) -> Fogbank {
    require_docker();
    let mut args = vec!["--runtime", "docker"];
    args.extend_from_slice(extra);
    Fogbank::start_with(StartOptions::new(template).args(&args))
}

/// IDs of the running containers carrying `label` (`key=value`).
pub fn running_containers(label: &str) -> Vec<String> {
    let output = docker(&[
        "ps",
        "-q",
        "--no-trunc",
        "--filter",
        &format!("label={label}"),
    ]);
    assert!(
        output.status.success(),
        "docker ps: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// IDs of all containers (running or not) carrying `label`.
pub fn all_containers(label: &str) -> Vec<String> {
    let output = docker(&[
        "ps",
        "-aq",
        "--no-trunc",
        "--filter",
        &format!("label={label}"),
    ]);
    assert!(
        output.status.success(),
        "docker ps: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// IDs of all containers carrying `label` that the Fogbank process `pid`
/// started, as their `dev.fogbank.owner` label (`BOOT_ID:PID:START_TIME`)
/// shows. Tests that share an example run in parallel, so the app label alone
/// would also match another test's containers.
pub fn containers_owned_by(label: &str, pid: u32) -> Vec<String> {
    let output = docker(&[
        "ps",
        "-a",
        "--no-trunc",
        "--filter",
        &format!("label={label}"),
        "--format",
        "{{.ID}} {{.Label \"dev.fogbank.owner\"}}",
    ]);
    assert!(
        output.status.success(),
        "docker ps: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_once(' '))
        .filter(|(_, owner)| owner.split(':').nth(1) == Some(pid.to_string().as_str()))
        .map(|(id, _)| id.to_owned())
        .collect()
}

/// The `dev.fogbank.app` label of containers of the app at `template`.
pub fn app_label(template: &Path) -> String {
    format!(
        "dev.fogbank.app={}",
        std::path::absolute(template).unwrap().display()
    )
}

/// Polls `condition` until it holds or `within` passes.
pub fn eventually(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One synchronous invocation through the Lambda Invoke API.
#[derive(Debug)]
pub struct Invoked {
    pub status: u16,
    /// `X-Amz-Function-Error`, when the function failed.
    pub function_error: Option<String>,
    pub body: Value,
    /// The decoded `X-Amz-Log-Result` (last 4 KB of the log).
    pub log: String,
}

pub async fn invoke(fogbank: &Fogbank, function: &str, event: Value) -> Invoked {
    let response = http::send(
        fogbank.lambda,
        "POST",
        &format!("/2015-03-31/functions/{function}/invocations"),
        &[
            ("content-type", "application/json"),
            ("x-amz-log-type", "Tail"),
        ],
        event.to_string(),
    )
    .await;
    let log = response
        .header("x-amz-log-result")
        .map(|encoded| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap();
            String::from_utf8_lossy(&bytes).into_owned()
        })
        .unwrap_or_default();
    Invoked {
        status: response.status,
        function_error: response.header("x-amz-function-error").map(str::to_owned),
        body: serde_json::from_slice(&response.body).unwrap_or(Value::Null),
        log,
    }
}
