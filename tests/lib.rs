//! Shared helpers for Fogbank's integration tests: where things are, the
//! `fogbank` binary run as a real process, and small HTTP and Python helpers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub mod bench;
/// A synchronous DAP client (fogbank-dap's tests and the debugger benchmark drive
/// fogbank-dap and lldb-dap with it).
pub mod dap_client;
pub mod signal;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// An example application's directory.
pub fn example(name: &str) -> PathBuf {
    repo_root().join("examples").join(name)
}

/// The venv holding boto3, awscli, moto, aws-sam-cli and awslambdaric
/// (`FOGBANK_VENV`, `/opt/fbvenv` by default).
pub fn venv() -> PathBuf {
    PathBuf::from(std::env::var_os("FOGBANK_VENV").unwrap_or_else(|| "/opt/fbvenv".into()))
}

/// AWS's Runtime Interface Emulator binary inside the venv's aws-sam-cli.
pub fn rie_binary() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let lib = venv().join("lib");
        let found = std::fs::read_dir(&lib).ok().and_then(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| {
                    entry
                        .path()
                        .join("site-packages/samcli/local/rapid/aws-lambda-rie-x86_64")
                })
                .find(|path| path.is_file())
        });
        found.unwrap_or_else(|| {
            panic!(
                "AWS's Runtime Interface Emulator was not found under {}: install it with \
                 `python3 -m venv /opt/fbvenv && /opt/fbvenv/bin/pip install aws-sam-cli` \
                 (or point FOGBANK_VENV at a venv that has aws-sam-cli)",
                lib.display()
            )
        })
    })
    .clone()
}

/// A program of the venv, checked to exist.
pub fn venv_bin(name: &str) -> PathBuf {
    let path = venv().join("bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: create the test venv with `python3 -m venv /opt/fbvenv && /opt/fbvenv/bin/pip install \
         aws-sam-cli 'moto[server]' boto3 awscli awslambdaric debugpy` (or set FOGBANK_VENV)",
        path.display()
    );
    path
}

/// The profile directory (`target/debug`) this executable was built into:
/// tests live in its `deps/`, benchmark binaries in it directly.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let parent = exe.parent().expect("executable directory");
    if parent.file_name().is_some_and(|name| name == "deps") {
        parent.parent().expect("profile directory").to_path_buf()
    } else {
        parent.to_path_buf()
    }
}

/// The target directory this executable was built into.
pub fn target_dir() -> PathBuf {
    profile_dir()
        .parent()
        .expect("target directory")
        .to_path_buf()
}

/// The variables that `cargo test` sets for a test binary, and a plain
/// `cargo build` does not see (prefixes).
const TEST_ONLY_CARGO_VARIABLES: &[&str] = &[
    "CARGO_MANIFEST_",
    "CARGO_PKG_",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
];

/// A binary of this workspace, built with the same profile as the tests.
///
/// `cargo test` builds another package's binaries only when that package
/// has integration tests, so a binary in the target directory may be older
/// than the sources. The workspace's binaries are therefore built once per
/// test process, never trusted as found: all of them together, and with
/// the tests, so that features resolve as in tests/run-all's
/// `cargo build --workspace --bins --tests` (making this a no-op there).
/// A release build (the benchmark commands) builds the binaries alone, as
/// `cargo run --release` resolves them.
pub fn workspace_binary(package: &str, binary: &str) -> PathBuf {
    static BUILT: Mutex<bool> = Mutex::new(false);
    let path = profile_dir().join(binary);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if !*built {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let release = profile_dir().file_name().is_some_and(|n| n == "release");
        let mut command = Command::new(cargo);
        command
            .current_dir(repo_root())
            .args(["build", "--workspace", "--bins"])
            .env("CARGO_TARGET_DIR", target_dir());
        // `cargo test` gives this process the package's variables
        // (CARGO_MANIFEST_DIR and the like). Some build scripts (ring's)
        // rerun when one of them changes, which would rebuild half the
        // workspace here, so the inner cargo runs without them.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if TEST_ONLY_CARGO_VARIABLES
                .iter()
                .any(|prefix| name.starts_with(prefix))
            {
                command.env_remove(name.as_ref());
            }
        }
        if release {
            command.arg("--release");
        } else {
            command.arg("--tests");
        }
        let status = command.status().expect("run cargo build");
        assert!(status.success(), "building the workspace's binaries failed");
        *built = true;
    }
    assert!(
        path.is_file(),
        "{} is not a binary of package {package}",
        path.display()
    );
    path
}

/// Compiles the C file `source` into `output` with gcc, debug info and no
/// optimisation, plus `flags`; fails the test with gcc's errors.
pub fn compile_c(source: &Path, output: &Path, flags: &[&str]) {
    let result = Command::new("gcc")
        .args(["-g", "-O0"])
        .args(flags)
        .arg("-o")
        .arg(output)
        .arg(source)
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run gcc ({error}); install it: apt-get install gcc libc6-dev")
        });
    assert!(
        result.status.success(),
        "gcc failed to build {}: {}",
        source.display(),
        String::from_utf8_lossy(&result.stderr)
    );
}

/// The `fogbank` binary.
pub fn fogbank_binary() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| workspace_binary("fogbank", "fogbank"))
        .clone()
}

/// fogbank-agent built static, exactly as its README says
/// (`RUSTFLAGS="-C target-feature=+crt-static" cargo build -p fogbank-agent
/// --release --target x86_64-unknown-linux-gnu`), into this test run's
/// target directory, where fogbank-dap looks for it and from where a
/// container can bind-mount it (it runs in any image). Built once per test
/// process; later runs reuse cargo's cache.
pub fn static_agent() -> PathBuf {
    static AGENT: OnceLock<PathBuf> = OnceLock::new();
    AGENT
        .get_or_init(|| {
            let target = target_dir();
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let output = Command::new(cargo)
                .current_dir(repo_root())
                .args([
                    "build",
                    "-p",
                    "fogbank-agent",
                    "--release",
                    "--target",
                    "x86_64-unknown-linux-gnu",
                ])
                .env("CARGO_TARGET_DIR", &target)
                .env("RUSTFLAGS", "-C target-feature=+crt-static")
                .output()
                .expect("run cargo build for the static agent");
            assert!(
                output.status.success(),
                "building the static fogbank-agent failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            target.join("x86_64-unknown-linux-gnu/release/fogbank-agent")
        })
        .clone()
}

/// A copy of an example (or any directory) in a fresh temporary directory,
/// without build outputs and state, so tests can edit and build it freely.
pub fn copy_dir(from: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    copy_tree(from, dir.path());
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || name == ".fogbank" || name == "node_modules" || name == "__pycache__"
        {
            continue;
        }
        let path = entry.path();
        let destination = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&path, &destination);
        } else {
            std::fs::copy(&path, &destination).unwrap();
        }
    }
}

/// How much of fogbank's output a test keeps.
const OUTPUT_LIMIT: usize = 16 << 20;

/// A running `fogbank start`, killed (SIGTERM, then SIGKILL) on drop.
pub struct Fogbank {
    child: Option<Child>,
    _state_dir: Option<tempfile::TempDir>,
    output: Arc<Mutex<String>>,
    pub lambda: SocketAddr,
    pub sqs: SocketAddr,
    pub control: SocketAddr,
    pub gateway: Option<SocketAddr>,
}

/// Options for [`Fogbank::start`].
pub struct StartOptions<'a> {
    pub template: &'a Path,
    pub extra_args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// How long to wait for the banner (builds happen before it).
    pub ready_within: Duration,
}

impl<'a> StartOptions<'a> {
    pub fn new(template: &'a Path) -> StartOptions<'a> {
        StartOptions {
            template,
            extra_args: Vec::new(),
            env: Vec::new(),
            ready_within: Duration::from_secs(600),
        }
    }

    pub fn args(mut self, args: &[&str]) -> Self {
        self.extra_args.extend(args.iter().map(|a| a.to_string()));
        self
    }
}

impl Fogbank {
    /// Starts `fogbank start` on the template with every port chosen by the
    /// kernel, and waits until it serves.
    pub fn start(template: &Path) -> Fogbank {
        Fogbank::start_with(StartOptions::new(template))
    }

    pub fn start_with(options: StartOptions<'_>) -> Fogbank {
        let mut command = Command::new(fogbank_binary());
        command
            .arg("start")
            .arg("--template")
            .arg(options.template)
            .args([
                "--lambda-port",
                "0",
                "--sqs-port",
                "0",
                "--port",
                "0",
                "--control-port",
                "0",
            ])
            .args(&options.extra_args)
            .env("NO_COLOR", "1")
            // Tests run the process runtime unless they ask for another with
            // `--runtime` or this variable: fogbank would otherwise pick Docker
            // whenever an engine answers. The Docker runtime's tests are in
            // tests/docker/.
            .env("FOGBANK_RUNTIME", "process")
            .envs(options.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Each run gets its own state directory unless the test chooses
        // one, so tests on the same template can run side by side.
        let state_dir = if options.extra_args.iter().any(|a| a == "--state-dir") {
            None
        } else {
            let dir = tempfile::tempdir().expect("state directory");
            command.arg("--state-dir").arg(dir.path());
            Some(dir)
        };
        let mut child = command.spawn().expect("start fogbank");
        let output = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<String>();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = output.clone();
            let ready_tx = ready_tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if std::env::var_os("FOGBANK_TEST_ECHO").is_some() {
                        eprintln!("fogbank| {line}");
                    }
                    {
                        // Benchmarks print tens of thousands of lines a
                        // second; keep only the first megabytes.
                        let mut output = output.lock().unwrap();
                        if output.len() < OUTPUT_LIMIT {
                            output.push_str(&line);
                            output.push('\n');
                        }
                    }
                    let _ = ready_tx.send(line);
                }
            });
        }
        drop(ready_tx);
        let deadline = Instant::now() + options.ready_within;
        let mut lambda = None;
        let mut sqs = None;
        let mut gateway = None;
        let mut control = None;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match ready_rx.recv_timeout(remaining) {
                Ok(line) => {
                    let trimmed = line.trim();
                    if let Some(address) = trimmed.strip_prefix("Lambda API  http://") {
                        lambda = address.parse().ok();
                    } else if let Some(address) = trimmed.strip_prefix("SQS API     http://") {
                        sqs = address.parse().ok();
                    } else if let Some(address) = trimmed.strip_prefix("API Gateway http://") {
                        gateway = address
                            .split_whitespace()
                            .next()
                            .and_then(|a| a.parse().ok());
                    } else if let Some(address) = trimmed.strip_prefix("Control     http://") {
                        control = address.parse().ok();
                    } else if trimmed.starts_with("Press Ctrl-C") {
                        break;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait().ok();
                    panic!(
                        "fogbank start did not become ready (exit: {status:?}); output:\n{}",
                        output.lock().unwrap()
                    );
                }
            }
        }
        Fogbank {
            child: Some(child),
            _state_dir: state_dir,
            output,
            lambda: lambda.expect("fogbank printed its Lambda API address"),
            sqs: sqs.expect("fogbank printed its SQS API address"),
            control: control.expect("fogbank printed its control interface address"),
            gateway,
        }
    }

    /// Everything fogbank printed so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits until the output contains `needle`.
    pub fn wait_for_output(&self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.output().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn lambda_url(&self) -> String {
        format!("http://{}", self.lambda)
    }

    pub fn sqs_url(&self) -> String {
        format!("http://{}", self.sqs)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("fogbank is running");
        signal::to_process(child.id(), signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "fogbank did not stop within 20 s of SIGTERM:\n{}",
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Fogbank {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal::to_process(child.id(), signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs a command to completion, returning (status, stdout, stderr).
pub fn run(command: &mut Command) -> (std::process::ExitStatus, String, String) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs a Python snippet with the venv's interpreter (boto3 available),
/// with `args` in `sys.argv[1:]`, and returns its stdout. Fails the test
/// with the script's stderr if it exits non-zero.
pub fn python(script: &str, args: &[&str]) -> String {
    let (status, stdout, stderr) = run(Command::new(venv_bin("python"))
        .arg("-c")
        .arg(script)
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_PROFILE"));
    assert!(
        status.success(),
        "python failed ({status}):\n{stderr}\nstdout:\n{stdout}"
    );
    stdout
}

/// A minimal HTTP/1.1 client over hyper, for requests with exact control of
/// method, headers and body.
pub mod http {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::Request;
    use hyper_util::rt::TokioIo;

    /// A response: status, headers (lower-cased names) and body.
    #[derive(Debug)]
    pub struct Response {
        pub status: u16,
        pub headers: Vec<(String, String)>,
        pub body: Bytes,
    }

    impl Response {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }

        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.body).into_owned()
        }

        pub fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body)
                .unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", self.text()))
        }
    }

    /// Sends one request on a new connection.
    pub async fn send(
        address: std::net::SocketAddr,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Response {
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("http handshake");
        tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", address.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(body.into())).expect("request");
        let response = sender.send_request(request).await.expect("send request");
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        Response {
            status,
            headers,
            body,
        }
    }
}
