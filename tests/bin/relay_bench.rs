//! Cloud-debugging relay benchmark:
//! `cargo run --release -p fogbank-tests --bin relay-bench [-- ROUNDS]`.
//!
//! - An RSP round trip (`m`, reading 8 bytes at the stopped program's pc)
//!   with `fogbank-agent --relay` through an in-process `fogbank-relay`
//!   (TLS + Noise both ways), beside the same agent over a direct loopback
//!   TCP connection (`fogbank-agent --listen`).
//! - A live-mode invocation of examples/hello-api: AWS's RIE (host process)
//!   running `fogbank-agent --forward`, through the relay, answered by
//!   `fogbank start` via `fogbank_relay::developer::serve_live`, beside the
//!   same event invoked directly on `fogbank start`'s Invoke API. The live
//!   figure includes RIE's own invoke path.
//!
//! - A DAP `next` in hello-api's handler: fogbank-dap attached in place
//!   through the relay (`"relay"` + `"mode": "in-place"`, the agent run
//!   with `--relay`), beside fogbank-dap attached to the same agent over a
//!   direct loopback connection (`"gdbserver"`, the agent run with
//!   `--listen`). A small Runtime API in this process hands hello-api the
//!   same event forever, so the handler runs again after every `continue`.
//!
//! Medians of sequential requests; targets: the relay adds at most 1 ms per
//! round trip, live mode at most 5 ms per invocation.

// A benchmark stops at the first failure with a message, like a test.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fogbank_dap::rsp::RspClient;
use fogbank_relay::client::RelaySettings;
use fogbank_relay::client::asynch::{attach, join};
use fogbank_relay::developer::{InvokeApi, serve_live};
use fogbank_relay::noise::DeveloperHello;
use fogbank_relay::registry::Limits;
use fogbank_relay::secret::{RelayKey, SessionCredentials, new_session};
use fogbank_relay::server::{RelayConfig, run};
use fogbank_relay::tls::RelayAddress;
use fogbank_tests::bench::{Table, median, spawn_looping_runtime_api};
use fogbank_tests::dap_client::DapClient;
use fogbank_tests::{
    Fogbank, StartOptions, example, fogbank_binary, http, rie_binary, workspace_binary,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

struct Relay {
    address: SocketAddr,
    key: RelayKey,
    pem: String,
    _shutdown: CancellationToken,
}

impl Relay {
    async fn start() -> Relay {
        let certified =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("certificate");
        let pem = certified.cert.pem();
        let tls = fogbank_relay::tls::server_config_from_pem(
            pem.as_bytes(),
            certified.signing_key.serialize_pem().as_bytes(),
            "bench certificate",
        )
        .expect("tls");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let key = RelayKey::generate();
        let shutdown = CancellationToken::new();
        let config = RelayConfig {
            key: key.clone(),
            limits: Limits::default(),
            tls,
        };
        tokio::spawn(run(listener, config, shutdown.clone()));
        Relay {
            address,
            key,
            pem,
            _shutdown: shutdown,
        }
    }

    fn session(&self) -> (SessionCredentials, RelaySettings) {
        let credentials = new_session(&self.key, unix_now() + 3600);
        let address = RelayAddress::parse(&format!("https://127.0.0.1:{}", self.address.port()))
            .expect("address");
        let settings = RelaySettings::new(
            address,
            credentials.clone(),
            Some((self.pem.as_bytes(), "bench")),
        )
        .expect("settings");
        (credentials, settings)
    }

    /// A fresh session for a fogbank-dap attach: the agent's environment
    /// and the attach attributes (the relay's certificate in a file that
    /// lives as long as the process).
    fn dap_session(&self) -> (Vec<(String, String)>, Value) {
        let (credentials, _) = self.session();
        let ca = std::env::temp_dir().join(format!("relay-bench-{}.pem", std::process::id()));
        std::fs::write(&ca, &self.pem).expect("write the relay certificate");
        let attributes = json!({
            "type": "fogbank",
            "request": "attach",
            "relay": format!("https://127.0.0.1:{}", self.address.port()),
            "session": credentials.ticket.to_text(),
            "secret": credentials.secret.to_text(),
            "relayCa": ca,
            "mode": "in-place",
        });
        (self.env(&credentials), attributes)
    }

    fn env(&self, credentials: &SessionCredentials) -> Vec<(String, String)> {
        vec![
            (
                "FOGBANK_RELAY".into(),
                format!("https://127.0.0.1:{}", self.address.port()),
            ),
            ("FOGBANK_SESSION".into(), credentials.ticket.to_text()),
            (
                "FOGBANK_SESSION_SECRET".into(),
                credentials.secret.to_text(),
            ),
            ("FOGBANK_RELAY_CA".into(), self.pem.clone()),
        ]
    }
}

async fn rsp_round_trips<S>(client: &mut RspClient<S>, rounds: usize) -> Duration
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
{
    let thread = client.threads().await.expect("threads")[0];
    let pc = client.read_pc(thread).await.expect("pc");
    for _ in 0..20 {
        client.read_memory(pc, 8).await.expect("warm-up read");
    }
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        client.read_memory(pc, 8).await.expect("read memory");
        samples.push(started.elapsed());
    }
    median(samples)
}

fn sleeper_program() -> PathBuf {
    PathBuf::from("/bin/sleep")
}

async fn rsp_direct(agent: &PathBuf, rounds: usize) -> Duration {
    let dir = tempfile::tempdir().expect("temp dir");
    let port_file = dir.path().join("port");
    let _agent = Killed(
        Command::new(agent)
            .args(["--listen", "127.0.0.1:0", "--port-file"])
            .arg(&port_file)
            .arg("--")
            .arg(sleeper_program())
            .arg("600")
            .stderr(Stdio::null())
            .spawn()
            .expect("start the agent"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let address: SocketAddr = loop {
        if let Ok(text) = std::fs::read_to_string(&port_file)
            && let Ok(address) = text.trim().parse()
        {
            break address;
        }
        assert!(Instant::now() < deadline, "the agent did not listen");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut client = RspClient::connect(stream).await.expect("rsp");
    rsp_round_trips(&mut client, rounds).await
}

async fn rsp_relayed(agent: &PathBuf, relay: &Relay, rounds: usize) -> Duration {
    let (credentials, settings) = relay.session();
    let mut attachment = attach(&settings).await.expect("attach");
    let _agent = Killed(
        Command::new(agent)
            .arg("--relay")
            .arg("--")
            .arg(sleeper_program())
            .arg("600")
            .envs(relay.env(&credentials))
            .stderr(Stdio::null())
            .spawn()
            .expect("start the agent"),
    );
    let channel = tokio::time::timeout(Duration::from_secs(20), attachment.next())
        .await
        .expect("the agent arrives")
        .expect("attachment open")
        .expect("announcement");
    let (_, stream) = join(&settings, channel, |_| DeveloperHello::Accept)
        .await
        .expect("join");
    let mut client = RspClient::connect(stream).await.expect("rsp");
    rsp_round_trips(&mut client, rounds).await
}

async fn invoke_latency(address: SocketAddr, path: &str, event: &str, rounds: usize) -> Duration {
    for _ in 0..10 {
        http::send(address, "POST", path, &[], event.to_owned()).await;
    }
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        let response = http::send(address, "POST", path, &[], event.to_owned()).await;
        samples.push(started.elapsed());
        assert_eq!(response.status, 200, "{}", response.text());
        assert!(
            !response.text().contains("errorType"),
            "{}",
            response.text()
        );
    }
    median(samples)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let _ = fogbank_binary();
    let agent = workspace_binary("fogbank-agent", "fogbank-agent");
    let relay = Relay::start().await;

    let direct = rsp_direct(&agent, rounds).await;
    let relayed = rsp_relayed(&agent, &relay, rounds).await;

    // DAP `next`, direct and through the relay, alternating sessions so
    // drift hits both alike.
    let program = hello_api_binary();
    let dap = workspace_binary("fogbank-dap", "fogbank-dap");
    let runtime_api = spawn_looping_runtime_api(
        std::fs::read_to_string(example("hello-api").join("events/hello.json"))
            .expect("hello-api's event"),
    );
    let sessions = (rounds / 100).clamp(1, 5);
    let mut next_direct = Vec::new();
    let mut next_relayed = Vec::new();
    for _ in 0..sessions {
        let (settings_env, attributes) = relay.dap_session();
        let (dap_path, agent_path, program_path) = (dap.clone(), agent.clone(), program.clone());
        let (direct, relayed) = tokio::task::spawn_blocking(move || {
            let direct = dap_nexts(&dap_path, &agent_path, &program_path, runtime_api, None);
            let relayed = dap_nexts(
                &dap_path,
                &agent_path,
                &program_path,
                runtime_api,
                Some((settings_env, attributes)),
            );
            (direct, relayed)
        })
        .await
        .expect("the DAP sessions");
        next_direct.extend(direct);
        next_relayed.extend(relayed);
    }
    let next_count = next_direct.len();
    let next_direct = median(next_direct);
    let next_relayed = median(next_relayed);

    // The example in place: its build output is reused between runs.
    let app = example("hello-api");
    let template = app.join("template.yaml");
    let fogbank = Fogbank::start_with(StartOptions::new(&template).args(&["--warm"]));
    let event = std::fs::read_to_string(app.join("events/hello.json")).expect("hello-api event");
    let local = invoke_latency(
        fogbank.lambda,
        "/2015-03-31/functions/HelloFunction/invocations",
        &event,
        rounds / 2,
    )
    .await;

    let (credentials, settings) = relay.session();
    let shutdown = CancellationToken::new();
    let invoker = Arc::new(InvokeApi::new(
        &format!("http://{}", fogbank.lambda),
        "HelloFunction",
    ));
    tokio::spawn(serve_live(settings, invoker, |_| {}, shutdown.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let invoke_address = free_port();
    let _rie = Killed(
        Command::new(rie_binary())
            .arg("--runtime-interface-emulator-address")
            .arg(invoke_address.to_string())
            .arg("--runtime-api-address")
            .arg(free_port().to_string())
            .arg(&agent)
            .arg("--forward")
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .env("AWS_LAMBDA_FUNCTION_TIMEOUT", "30")
            .envs(relay.env(&credentials))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start RIE"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(invoke_address).is_err() {
        assert!(Instant::now() < deadline, "RIE did not listen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let live = invoke_latency(
        invoke_address,
        "/2015-03-31/functions/function/invocations",
        &event,
        rounds / 2,
    )
    .await;
    shutdown.cancel();

    let mut table = Table::new(&format!(
        "Cloud debugging relay, loopback, medians of {rounds} RSP round trips and {} invocations",
        rounds / 2
    ));
    table.latency(
        "RSP round trip (m, 8 bytes) through the relay",
        relayed,
        "direct TCP to the agent",
        direct,
    );
    table.row(
        "added by the relay per round trip",
        fogbank_tests::bench::format_duration(relayed.saturating_sub(direct)),
        "target",
        "≤ 1 ms".into(),
        String::new(),
    );
    table.latency(
        &format!("DAP `next` p50 ({next_count} steps), fogbank-dap in place through the relay"),
        next_relayed,
        "fogbank-dap, direct TCP to the agent",
        next_direct,
    );
    table.row(
        "added by the relay per `next`",
        fogbank_tests::bench::format_duration(next_relayed.saturating_sub(next_direct)),
        "target",
        "≤ 1 ms per round trip".into(),
        String::new(),
    );
    table.latency(
        "live-mode invocation (RIE → stub → relay → fogbank)",
        live,
        "local invoke (Invoke API)",
        local,
    );
    table.row(
        "added by live mode per invocation",
        fogbank_tests::bench::format_duration(live.saturating_sub(local)),
        "target",
        "≤ 5 ms".into(),
        String::new(),
    );
    println!("{}", table.render());
}

/// How long one DAP exchange may take before the benchmark gives up.
const DAP_STEP: Duration = Duration::from_secs(120);

/// Handler runs per session, and `next`s per run.
const RUNS_PER_SESSION: usize = 5;
const NEXTS_PER_RUN: usize = 3;

/// hello-api's release binary (with debug info, as the example's profile
/// builds it), built in place when missing.
fn hello_api_binary() -> PathBuf {
    let app = example("hello-api");
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release"])
        .current_dir(&app)
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("run cargo build for hello-api");
    assert!(status.success(), "building examples/hello-api failed");
    app.join("target/release/hello-api")
}

/// One fogbank-dap session on hello-api under fogbank-agent: a breakpoint
/// on the handler's first line, then `next`s; returns each `next`'s
/// request-to-`stopped` time. With `relay` (the agent's environment and
/// the attach attributes) the adapter attaches in place through the relay;
/// without, to the agent's `--listen` port.
fn dap_nexts(
    dap: &Path,
    agent: &Path,
    program: &Path,
    runtime_api: SocketAddr,
    relay: Option<(Vec<(String, String)>, Value)>,
) -> Vec<Duration> {
    let source = example("hello-api").join("src/main.rs");
    let line = {
        let text = std::fs::read_to_string(&source).expect("read hello-api's source");
        text.lines()
            .position(|l| l.trim() == "let greeting = format!(\"Hello, {name}!\");")
            .expect("the greeting line") as i64
            + 1
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut client = DapClient::spawn(dap, &[], dir.path(), &[]);
    client.request(
        "initialize",
        json!({"clientID": "vscode", "adapterID": "fogbank", "pathFormat": "path", "linesStartAt1": true, "columnsStartAt1": true}),
        DAP_STEP,
    );
    let mut command = Command::new(agent);
    // What the lambda_runtime crate reads at start-up.
    command
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "HelloFunction")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/HelloFunction")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let (attach, _agent) = match relay {
        Some((env, mut attributes)) => {
            attributes["program"] = json!(program);
            let attach = client.send("attach", attributes);
            // The agent finds the adapter attached to the session.
            client.output_containing("waiting for the function's sandbox", DAP_STEP);
            command
                .args(["--relay", "--wait-timeout", "60", "--"])
                .arg(program)
                .envs(env);
            (attach, Killed(command.spawn().expect("start the agent")))
        }
        None => {
            let port_file = dir.path().join("port");
            command
                .args(["--listen", "127.0.0.1:0", "--port-file"])
                .arg(&port_file)
                .arg("--")
                .arg(program);
            let agent = Killed(command.spawn().expect("start the agent"));
            let deadline = Instant::now() + Duration::from_secs(10);
            let address = loop {
                if let Ok(text) = std::fs::read_to_string(&port_file)
                    && let Ok(address) = text.trim().parse::<SocketAddr>()
                {
                    break address;
                }
                assert!(Instant::now() < deadline, "the agent did not listen");
                std::thread::sleep(Duration::from_millis(10));
            };
            let attach = client.send(
                "attach",
                json!({"type": "fogbank", "request": "attach", "gdbserver": address.to_string(), "program": program}),
            );
            (attach, agent)
        }
    };
    let got = client.wait_for("`initialized`", DAP_STEP, |m| {
        (m["type"] == "event" && m["event"] == "initialized")
            || (m["type"] == "response" && m["request_seq"] == attach && m["success"] == false)
    });
    assert_eq!(
        got.message["event"], "initialized",
        "attach failed: {}",
        got.message
    );
    let set = client.request(
        "setBreakpoints",
        json!({ "source": { "name": "main.rs", "path": source }, "breakpoints": [{ "line": line }] }),
        DAP_STEP,
    );
    assert_eq!(set["breakpoints"][0]["verified"], true, "{set}");
    client.request("configurationDone", Value::Null, DAP_STEP);
    assert_eq!(client.response(attach, DAP_STEP).message["success"], true);
    let stopped = client.event("stopped", DAP_STEP).message;
    assert_eq!(stopped["body"]["reason"], "breakpoint", "{stopped}");
    let thread = stopped["body"]["threadId"].clone();
    let mut nexts = Vec::new();
    for run in 0..RUNS_PER_SESSION {
        if run > 0 {
            client.request("continue", json!({ "threadId": thread }), DAP_STEP);
            let stopped = client.event("stopped", DAP_STEP).message;
            assert_eq!(stopped["body"]["reason"], "breakpoint", "{stopped}");
        }
        for _ in 0..NEXTS_PER_RUN {
            let sent = Instant::now();
            client.send("next", json!({ "threadId": thread }));
            let stop = client.event("stopped", DAP_STEP);
            assert_eq!(stop.message["body"]["reason"], "step", "{}", stop.message);
            nexts.push(stop.at.duration_since(sent));
        }
    }
    client.send("disconnect", json!({ "terminateDebuggee": true }));
    let _ = client.wait_exit(Duration::from_secs(10));
    nexts
}
