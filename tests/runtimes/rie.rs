//! Runs a function under AWS's Lambda Runtime Interface Emulator (RIE).
//!
//! RIE is AWS's own implementation of the Runtime API (the binary ships in the
//! aws-sam-cli wheel). Running Fogbank's bootstraps under it proves they speak
//! the protocol as AWS serves it, independently of Fogbank's own server, and
//! gives a reference for the differential tests against awslambdaric.

use std::ffi::OsString;
use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;

pub use fogbank_tests::{rie_binary, venv};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

pub fn python_bootstrap() -> PathBuf {
    repo_root().join("emulator/runtimes/python/bootstrap.py")
}

pub fn node_bootstrap() -> PathBuf {
    repo_root().join("emulator/runtimes/node/bootstrap.mjs")
}

pub fn fixtures(language: &str) -> PathBuf {
    repo_root().join("tests/runtimes/fixtures").join(language)
}

/// The real Python interpreter behind `python3` (resolving version-manager
/// shims once, so every start is a plain exec).
pub fn python() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let output = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .unwrap_or_else(|error| {
                panic!("python3 is needed for the runtime tests ({error}): apt-get install python3")
            });
        assert!(output.status.success(), "python3 failed: {output:?}");
        PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
    })
    .clone()
}

/// `node`, checked to be 18 or newer.
pub fn node() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let output = Command::new("node")
            .args(["-p", "process.execPath + ' ' + process.versions.node"])
            .output()
            .unwrap_or_else(|error| {
                panic!("node 18+ is needed for the runtime tests ({error}): apt-get install nodejs")
            });
        let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        let (path, version) = text
            .split_once(' ')
            .expect("node printed its path and version");
        let major: u32 = version
            .split('.')
            .next()
            .unwrap_or("0")
            .parse()
            .unwrap_or(0);
        assert!(
            major >= 18,
            "node {version} is too old: the runtime tests need 18 or newer"
        );
        PathBuf::from(path)
    })
    .clone()
}

/// awslambdaric's Python, checked to import it.
pub fn awslambdaric_python() -> PathBuf {
    let python = venv().join("bin/python");
    let ok = Command::new(&python)
        .args(["-c", "import awslambdaric"])
        .status()
        .map(|status| status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "awslambdaric is not importable with {}: install it with `/opt/fbvenv/bin/pip install awslambdaric`",
        python.display()
    );
    python
}

/// A function running under RIE: RIE and the runtime process it starts.
pub struct Rie {
    child: Child,
    invoke_address: SocketAddr,
    log_path: PathBuf,
    _log_dir: tempfile::TempDir,
}

/// What RIE answered to one invoke.
#[derive(Debug)]
pub struct Invocation {
    pub status: u16,
    pub body: Bytes,
}

impl Invocation {
    /// The body as JSON (panics, naming the body, if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "invoke answered non-JSON ({error}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How to start the function.
pub struct Function<'a> {
    /// The runtime command, e.g. `python3 -u bootstrap.py`.
    pub command: Vec<OsString>,
    /// The code directory (the working directory and LAMBDA_TASK_ROOT).
    pub code_dir: PathBuf,
    /// `_HANDLER`.
    pub handler: &'a str,
    /// Extra environment variables.
    pub env: Vec<(&'a str, String)>,
}

pub const FUNCTION_NAME: &str = "fogbank-test-fn";

impl Rie {
    /// Starts RIE with the function on free loopback ports and waits until
    /// it accepts invokes.
    pub fn start(function: &Function<'_>) -> Rie {
        let binary = rie_binary();
        let mut last_failure = String::new();
        // A port picked free can be taken before RIE binds it; try again then.
        for _ in 0..3 {
            let invoke_address = free_port();
            let runtime_api = free_port();
            let log_dir = tempfile::tempdir().expect("temp dir");
            let log_path = log_dir.path().join("rie.log");
            let log = File::create(&log_path).expect("log file");
            let mut command = Command::new(&binary);
            command
                .arg("--runtime-interface-emulator-address")
                .arg(invoke_address.to_string())
                .arg("--runtime-api-address")
                .arg(runtime_api.to_string())
                .args(&function.command)
                .current_dir(&function.code_dir)
                .env_remove("AWS_LAMBDA_RUNTIME_API")
                .env_remove("PYTHONPATH")
                .env_remove("NODE_OPTIONS")
                .env("_HANDLER", function.handler)
                .env("LAMBDA_TASK_ROOT", &function.code_dir)
                .env("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME)
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
                .env("AWS_LAMBDA_FUNCTION_TIMEOUT", "30")
                .env("AWS_REGION", "us-east-1")
                .env("LOG_LEVEL", "warn")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log);
            for (key, value) in &function.env {
                command.env(key, value);
            }
            // Its own process group, so that dropping it stops the runtime
            // that RIE started too.
            std::os::unix::process::CommandExt::process_group(&mut command, 0);
            let child = command
                .spawn()
                .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary.display()));
            let mut rie = Rie {
                child,
                invoke_address,
                log_path,
                _log_dir: log_dir,
            };
            match rie.wait_until_listening() {
                Ok(()) => return rie,
                Err(failure) => last_failure = failure,
            }
        }
        panic!("RIE did not start: {last_failure}");
    }

    fn wait_until_listening(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("RIE exited with {status}: {}", self.output()));
            }
            if std::net::TcpStream::connect(self.invoke_address).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("RIE did not listen within 10 s: {}", self.output()))
    }

    /// Invokes the function with `event` (a JSON document).
    pub async fn invoke(&self, event: &str) -> Invocation {
        self.invoke_with_headers(event, &[]).await
    }

    /// Invokes the function, sending extra headers to RIE's invoke endpoint
    /// (RIE turns `X-Amz-Client-Context` into the Client-Context header).
    pub async fn invoke_with_headers(&self, event: &str, headers: &[(&str, &str)]) -> Invocation {
        let request = async {
            let stream = tokio::net::TcpStream::connect(self.invoke_address).await?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(connection);
            let mut builder = Request::post("/2015-03-31/functions/function/invocations")
                .header("host", self.invoke_address.to_string())
                .header("content-type", "application/json");
            for (name, value) in headers {
                builder = builder.header(*name, *value);
            }
            let response = sender
                .send_request(builder.body(Full::new(Bytes::from(event.to_owned())))?)
                .await?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::Ok(Invocation { status, body })
        };
        match tokio::time::timeout(Duration::from_secs(30), request).await {
            Ok(Ok(invocation)) => invocation,
            Ok(Err(error)) => panic!("invoke failed: {error:#}\nlog:\n{}", self.output()),
            Err(_) => panic!("invoke did not answer within 30 s\nlog:\n{}", self.output()),
        }
    }

    /// Everything RIE and the runtime printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The runtime's own output lines (RIE's `(rapid)` lines left out).
    pub fn function_output(&self) -> Vec<String> {
        self.output()
            .lines()
            .filter(|line| !line.contains("(rapid)"))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Rie {
    fn drop(&mut self) {
        fogbank_tests::signal::to_group(self.child.id(), fogbank_tests::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address")
}

/// A Python function run by Fogbank's bootstrap.
pub fn python_function<'a>(code_dir: PathBuf, handler: &'a str) -> Function<'a> {
    Function {
        command: vec![python().into(), "-u".into(), python_bootstrap().into()],
        code_dir,
        handler,
        env: Vec::new(),
    }
}

/// The same Python function run by AWS's runtime interface client.
pub fn awslambdaric_function<'a>(code_dir: PathBuf, handler: &'a str) -> Function<'a> {
    Function {
        command: vec![
            awslambdaric_python().into(),
            "-m".into(),
            "awslambdaric".into(),
            handler.into(),
        ],
        code_dir,
        handler,
        env: Vec::new(),
    }
}

/// A Node.js function run by Fogbank's bootstrap.
pub fn node_function<'a>(code_dir: PathBuf, handler: &'a str) -> Function<'a> {
    Function {
        command: vec![node().into(), node_bootstrap().into()],
        code_dir,
        handler,
        env: Vec::new(),
    }
}
