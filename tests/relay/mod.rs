//! Debugging a function in the cloud (issue 9), with real processes: the
//! `fogbank-relay` binary with a certificate made here, sessions minted by
//! `fogbank debug-session new`, and a "cloud sandbox": AWS's Runtime
//! Interface Emulator in its own host-network container with
//! `fogbank-agent --forward` (live) or `fogbank-agent --relay` (in place)
//! as the function's bootstrap, answered by fogbank-dap attached through
//! the relay (`dap.rs`), or by the companion commands `fogbank live` and
//! `fogbank debug-session attach`, with a local `fogbank start` of
//! examples/hello-api.
//!
//! The relay's own behaviour (pairing, refusals, hijack, limits, what it
//! sees) is tested in-process in `debug-adapter/relay/src/server_tests.rs`;
//! the frame parsers are fuzzed beside them. `load.rs` runs 100 sessions
//! against the relay binary.

// Tests stop at the first failure with a message.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod dap;
mod in_place;
mod load;
mod sandbox;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fogbank_relay::secret::RelayKey;
use fogbank_tests::{fogbank_binary, workspace_binary};

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM.
pub struct Certificate {
    pub dir: tempfile::TempDir,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub pem: String,
}

pub fn certificate() -> Certificate {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("self-signed certificate");
    let dir = tempfile::tempdir().expect("temp dir");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let pem = certified.cert.pem();
    std::fs::write(&cert, &pem).expect("write cert");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");
    Certificate {
        dir,
        cert,
        key,
        pem,
    }
}

/// A running `fogbank-relay` process, killed on drop.
pub struct RelayProcess {
    child: Child,
    pub address: SocketAddr,
    pub key_file: PathBuf,
    pub certificate: Certificate,
    output: Arc<Mutex<String>>,
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_reader(
    stream: impl std::io::Read + Send + 'static,
    output: Arc<Mutex<String>>,
    ready: Option<std::sync::mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            if let Some(ready) = &ready {
                let _ = ready.send(line.clone());
            }
            let mut output = output.lock().unwrap_or_else(|p| p.into_inner());
            output.push_str(&line);
            output.push('\n');
        }
    });
}

impl RelayProcess {
    /// Starts the relay on a kernel-chosen port with a fresh certificate and
    /// relay key, and extra flags.
    pub fn start(extra: &[&str]) -> RelayProcess {
        let certificate = certificate();
        let key_file = certificate.dir.path().join("relay.key");
        std::fs::write(&key_file, RelayKey::generate().to_text()).expect("write relay key");
        let mut child = Command::new(workspace_binary("fogbank-relay", "fogbank-relay"))
            .args(["--listen", "127.0.0.1:0", "--cert"])
            .arg(&certificate.cert)
            .arg("--key")
            .arg(&certificate.key)
            .arg("--session-key")
            .arg(&key_file)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start fogbank-relay");
        let output = Arc::new(Mutex::new(String::new()));
        let (ready, lines) = std::sync::mpsc::channel();
        spawn_reader(
            child.stderr.take().expect("stderr"),
            output.clone(),
            Some(ready),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        let address = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(address) = line.strip_prefix("fogbank-relay: listening on ") {
                        break address.parse().expect("relay address");
                    }
                }
                Err(_) => panic!("fogbank-relay did not start: {}", output.lock().unwrap()),
            }
        };
        RelayProcess {
            child,
            address,
            key_file,
            certificate,
            output,
        }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.address.port())
    }

    pub fn output(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Mints a session with `fogbank debug-session new --env-only`.
    pub fn mint(&self, expires_in: &str) -> Session {
        mint(&self.url(), &self.key_file, expires_in)
    }
}

/// A session's variables, as `fogbank debug-session new --env-only` prints
/// them.
#[derive(Debug, Clone)]
pub struct Session {
    pub relay: String,
    pub ticket: String,
    pub secret: String,
}

pub fn mint(relay: &str, key_file: &Path, expires_in: &str) -> Session {
    let output = Command::new(fogbank_binary())
        .args([
            "debug-session",
            "new",
            "--env-only",
            "--relay",
            relay,
            "--relay-key",
        ])
        .arg(key_file)
        .args(["--expires-in", expires_in])
        .output()
        .expect("run fogbank debug-session new");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "debug-session new failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value = |name: &str| {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
            .to_owned()
    };
    Session {
        relay: value("FOGBANK_RELAY"),
        ticket: value("FOGBANK_SESSION"),
        secret: value("FOGBANK_SESSION_SECRET"),
    }
}

/// A running `fogbank live`, killed on drop.
pub struct Live {
    child: Child,
    output: Arc<Mutex<String>>,
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Live {
    /// Starts `fogbank live FUNCTION` against the local Invoke API at
    /// `lambda` and the control interface at `control`, and waits until it
    /// attached (or exited).
    pub fn start(
        relay: &RelayProcess,
        session: &Session,
        function: &str,
        lambda: SocketAddr,
        control: SocketAddr,
    ) -> Live {
        let mut child = Command::new(fogbank_binary())
            .args([
                "live",
                function,
                "--relay",
                &session.relay,
                "--session",
                &session.ticket,
            ])
            .arg("--relay-ca")
            .arg(&relay.certificate.cert)
            .args(["--lambda-endpoint", &format!("http://{lambda}")])
            .args(["--control-endpoint", &format!("http://{control}")])
            .env("FOGBANK_SESSION_SECRET", &session.secret)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start fogbank live");
        let output = Arc::new(Mutex::new(String::new()));
        spawn_reader(child.stdout.take().expect("stdout"), output.clone(), None);
        spawn_reader(child.stderr.take().expect("stderr"), output.clone(), None);
        let mut live = Live { child, output };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !live.output().contains("attached to the session") {
            if let Ok(Some(status)) = live.child.try_wait() {
                // Give the readers a moment to collect the last lines.
                std::thread::sleep(Duration::from_millis(100));
                panic!("fogbank live exited with {status}: {}", live.output());
            }
            assert!(
                Instant::now() < deadline,
                "fogbank live did not attach: {}",
                live.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        live
    }

    pub fn output(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Stops it as Ctrl-C does, and waits for it to exit.
    pub fn interrupt(&mut self) -> std::process::ExitStatus {
        fogbank_tests::signal::to_process(self.child.id(), fogbank_tests::signal::Signal::SIGINT);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "fogbank live did not stop on SIGINT: {}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Runs `fogbank live` expecting it to fail; returns its output.
pub fn live_failure(relay: &RelayProcess, session: &Session) -> String {
    let output = Command::new(fogbank_binary())
        .args([
            "live",
            "HelloFunction",
            "--relay",
            &session.relay,
            "--session",
            &session.ticket,
        ])
        .arg("--relay-ca")
        .arg(&relay.certificate.cert)
        .env("FOGBANK_SESSION_SECRET", &session.secret)
        .stdin(Stdio::null())
        .output()
        .expect("run fogbank live");
    assert!(!output.status.success(), "fogbank live should have failed");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn debug_session_new_creates_the_relay_key_and_prints_the_configuration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key_file = dir.path().join("relay.key");
    let output = Command::new(fogbank_binary())
        .args([
            "debug-session",
            "new",
            "--relay",
            "https://relay.example.com:7443",
            "--relay-key",
        ])
        .arg(&key_file)
        .output()
        .expect("run fogbank debug-session new");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let key = std::fs::read_to_string(&key_file).expect("relay key written");
    assert!(key.starts_with("fbrk1_"), "{key}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key_file)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    for needle in [
        "Created the relay key",
        "fogbank-relay --listen 0.0.0.0:7443",
        "FOGBANK_RELAY=https://relay.example.com:7443",
        "FOGBANK_SESSION=fbs1.",
        "FOGBANK_SESSION_SECRET=fbsec1_",
        "AWS_LAMBDA_EXEC_WRAPPER=/opt/fogbank-forward",
        "\"request\": \"attach\"",
        "\"secret\": \"${env:FOGBANK_SESSION_SECRET}\"",
        "\"mode\": \"live\"",
    ] {
        assert!(
            stdout.contains(needle),
            "{needle:?} missing from:\n{stdout}"
        );
    }
    // A second session reuses the key; bad input names the flag.
    let again = mint("https://relay.example.com:7443", &key_file, "1h");
    assert!(again.ticket.starts_with("fbs1."));
    assert_eq!(std::fs::read_to_string(&key_file).expect("key"), key);
    let output = Command::new(fogbank_binary())
        .args([
            "debug-session",
            "new",
            "--relay",
            "http://x:1",
            "--relay-key",
        ])
        .arg(&key_file)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("--relay") && stderr.contains("does not start with https://"),
        "{stderr}"
    );
}

#[test]
fn the_relay_refuses_bad_flags_clearly() {
    let output = Command::new(workspace_binary("fogbank-relay", "fogbank-relay"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--cert",
            "/nonexistent/cert.pem",
            "--key",
            "/nonexistent/key.pem",
        ])
        .args(["--session-key", "/nonexistent/relay.key"])
        .output()
        .expect("run fogbank-relay");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("cannot read the relay key /nonexistent/relay.key")
            && stderr.contains("fogbank debug-session new --relay-key"),
        "{stderr}"
    );
}

#[test]
fn live_mode_refuses_a_wrong_or_expired_secret_clearly() {
    let relay = RelayProcess::start(&[]);
    let session = relay.mint("1h");
    let mut wrong = session.clone();
    wrong.secret = fogbank_relay::secret::SessionSecret::generate().to_text();
    let output = live_failure(&relay, &wrong);
    assert!(
        output.contains("the session token is not valid for this session"),
        "{output}"
    );
    let expired = relay.mint("1s");
    std::thread::sleep(Duration::from_millis(2100));
    let output = live_failure(&relay, &expired);
    assert!(
        output.contains("expired") && output.contains("fogbank debug-session new"),
        "{output}"
    );
    // The relay logs refusals, never secrets.
    let log = relay.output();
    assert!(
        !log.contains(&session.secret[7..]),
        "the relay logged the secret"
    );
}

#[test]
fn package_agent_writes_the_layer_and_bootstrap() {
    let dir = tempfile::tempdir().expect("temp dir");
    let agent = workspace_binary("fogbank-agent", "fogbank-agent");
    let output = Command::new(fogbank_binary())
        .args(["package-agent", "--agent"])
        .arg(&agent)
        .arg("--out")
        .arg(dir.path())
        .output()
        .expect("run fogbank package-agent");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("fogbank-agent-layer.zip"), "{text}");
    let bootstrap = std::fs::read_to_string(dir.path().join("bootstrap")).expect("bootstrap");
    assert!(
        bootstrap.contains("exec /opt/bin/fogbank-agent --forward"),
        "{bootstrap}"
    );
    assert!(dir.path().join("fogbank-agent-layer.zip").is_file());
    // The test build of the agent is dynamically linked: packaging it
    // succeeds but says that it will not run in the sandbox.
    assert!(
        !output.status.success(),
        "a dynamically linked agent is reported: {text}"
    );
    assert!(text.contains("is dynamically linked"), "{text}");
}
