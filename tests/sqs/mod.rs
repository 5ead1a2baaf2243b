//! SQS: the wire protocols over real HTTP (fast tier, in-process server on
//! 127.0.0.1:0), the conformance suite with boto3 and the aws CLI against
//! fogbank and moto server (slow tier), and the kill -9 durability test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod durability;
mod protocol;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fogbank::sqs::{SqsConfig, SqsService};
use tokio_util::sync::CancellationToken;

/// An in-process SQS server; stops when dropped.
pub struct Server {
    pub endpoint: String,
    pub service: SqsService,
    shutdown: CancellationToken,
    _state: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Starts a server on 127.0.0.1:0: durable in a temporary directory, or ephemeral.
pub async fn start(durable: bool) -> Server {
    let state = durable.then(|| tempfile::tempdir().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let service = SqsService::open(SqsConfig {
        state_dir: state.as_ref().map(|d| d.path().to_owned()),
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        endpoint: endpoint.clone(),
    })
    .unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(fogbank::sqs::run(
        listener,
        service.clone(),
        shutdown.clone(),
    ));
    Server {
        endpoint,
        service,
        shutdown,
        _state: state,
    }
}

pub use fogbank_tests::venv;

/// Fails with an install hint when a venv tool is missing.
pub fn require_venv_tool(tool: &str) -> PathBuf {
    let path = venv().join("bin").join(tool);
    assert!(
        path.exists(),
        "{} is missing: create the venv with `python3 -m venv /opt/fbvenv && /opt/fbvenv/bin/pip install boto3 awscli 'moto[server]'` \
         (or point FOGBANK_VENV at one)",
        path.display()
    );
    path
}

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sqs")
}

/// A moto server on a free port; killed when dropped.
pub struct Moto {
    pub endpoint: String,
    child: std::process::Child,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_moto() -> Moto {
    let moto = require_venv_tool("moto_server");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(moto)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Owned by `Moto` from here on, whose drop kills and reaps it.
    let moto = Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        child,
    };
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return moto;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("moto_server did not start listening on port {port}");
}

/// Runs the conformance script against `endpoint`; returns its output.
fn conformance(endpoint: &str, protocol: &str, target: &str) -> (bool, String) {
    let python = require_venv_tool("python");
    require_venv_tool("aws");
    let mut command = Command::new(python);
    command
        .arg(here().join("conformance.py"))
        .args([endpoint, protocol, target]);
    if protocol == "query" {
        command.env("AWS_DATA_PATH", here().join("query-model"));
    } else {
        command.env_remove("AWS_DATA_PATH");
    }
    let output = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Slow tier: the same suite over both protocols against fogbank (durable)
/// and moto server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_against_fogbank_and_moto() {
    let server = start(true).await;
    let moto = start_moto();
    let mut failures = Vec::new();
    let mut jobs = Vec::new();
    for protocol in ["json", "query"] {
        for (target, endpoint) in [
            ("fogbank", server.endpoint.clone()),
            ("moto", moto.endpoint.clone()),
        ] {
            jobs.push(tokio::task::spawn_blocking(move || {
                let (ok, text) = conformance(&endpoint, protocol, target);
                (protocol, target, ok, text)
            }));
        }
    }
    for job in jobs {
        let (protocol, target, ok, text) = job.await.unwrap();
        println!("===== {target} over {protocol} =====\n{text}");
        if !ok {
            failures.push(format!("{target}/{protocol}"));
        }
    }
    assert!(
        failures.is_empty(),
        "conformance failed for {failures:?} (see output above)"
    );
}
