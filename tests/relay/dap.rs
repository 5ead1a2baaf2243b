//! fogbank-dap debugging cloud invocations through the relay (issue 9),
//! with the adapter itself as the developer's end of the session
//! (`"relay"` attach attributes), in both modes:
//! - in place: hello-api's real bootstrap runs under `fogbank-agent
//!   --relay` in the sandbox container, and fogbank-dap's gdb-remote
//!   connection is the end-to-end-encrypted relay stream;
//! - live: the sandbox's forwarding stub sends the cloud invocation through
//!   the relay to fogbank-dap, which runs it with the local `fogbank start`
//!   under the debugger.
//!
//! In both, a cloud invocation stops at a line breakpoint in the handler,
//! the `String` local `greeting` is read from the debuggee, and after
//! `continue` the sandbox's caller receives the answer. The companion
//! commands (`fogbank debug-session attach` here, `fogbank live` in
//! `sandbox.rs`) keep working for other debuggers. Wrong or expired
//! secrets and a second debugger are refused with errors naming the field.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fogbank_tests::dap_client::{DapClient, Received};
use fogbank_tests::{example, fogbank_binary, workspace_binary};
use serde_json::{Value, json};

use super::in_place::hello_api_binary;
use super::sandbox::{CloudAnswer, Sandbox, hello_event};
use super::{RelayProcess, Session};
use crate::docker::require_docker;

const STEP: Duration = Duration::from_secs(60);

struct Attach {
    child: Child,
    output: Arc<Mutex<String>>,
}

impl Drop for Attach {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Attach {
    fn start(relay: &RelayProcess, session: &Session, listen: std::net::SocketAddr) -> Attach {
        let mut child = Command::new(fogbank_binary())
            .args([
                "debug-session",
                "attach",
                "--relay",
                &session.relay,
                "--session",
                &session.ticket,
            ])
            .arg("--relay-ca")
            .arg(&relay.certificate.cert)
            .args(["--listen", &listen.to_string()])
            .env("FOGBANK_SESSION_SECRET", &session.secret)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start fogbank debug-session attach");
        let output = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut output = output.lock().unwrap_or_else(|p| p.into_inner());
                    output.push_str(&line);
                    output.push('\n');
                }
            });
        }
        Attach { child, output }
    }

    fn output(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.output().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no {needle:?} from debug-session attach: {}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Starts fogbank-dap in `cwd` with extra environment and initializes it.
fn start_adapter(cwd: &Path, env: &[(&str, &str)]) -> DapClient {
    let fogbank = fogbank_binary().to_string_lossy().into_owned();
    let mut env = env.to_vec();
    env.push(("FOGBANK_BIN", fogbank.as_str()));
    let mut dap = DapClient::spawn(
        &workspace_binary("fogbank-dap", "fogbank-dap"),
        &[],
        cwd,
        &env,
    );
    dap.request(
        "initialize",
        json!({"clientID": "vscode", "adapterID": "fogbank", "pathFormat": "path", "linesStartAt1": true, "columnsStartAt1": true, "supportsVariableType": true}),
        STEP,
    );
    dap
}

/// The attach attributes of a session through the test's relay (its
/// self-signed certificate in `relayCa`), without the secret.
fn relay_attributes(relay: &RelayProcess, session: &Session, mode: &str) -> Value {
    json!({
        "type": "fogbank",
        "request": "attach",
        "relay": session.relay,
        "session": session.ticket,
        "relayCa": relay.certificate.cert,
        "mode": mode,
    })
}

/// Waits for `initialized` after an attach, failing with the attach's
/// error response if it comes first.
fn wait_initialized(dap: &mut DapClient, attach_seq: i64, within: Duration) {
    let got = dap.wait_for("initialized", within, |m| {
        (m["type"] == "event" && m["event"] == "initialized")
            || (m["type"] == "response" && m["request_seq"] == attach_seq && m["success"] == false)
    });
    assert_eq!(
        got.message["event"], "initialized",
        "attach failed: {}",
        got.message
    );
}

/// Sends the attach and returns its error message, which must come.
fn attach_error(dap: &mut DapClient, attributes: Value) -> String {
    let seq = dap.send("attach", attributes);
    let response = dap.response(seq, STEP).message;
    assert_eq!(response["success"], false, "{response}");
    response["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| response.to_string())
}

/// The 1-based number of the line of `path` whose trimmed text is `text`.
fn line_of(path: &Path, text: &str) -> i64 {
    let source = std::fs::read_to_string(path).expect("read source");
    let index = source
        .lines()
        .position(|line| line.trim() == text)
        .unwrap_or_else(|| panic!("{} has no line `{text}`", path.display()));
    index as i64 + 1
}

/// The line of hello-api's handler where `greeting` is complete.
const BREAKPOINT_LINE: &str = "let body = json!({ \"message\": greeting, \"length\": length });";

/// After an attach reached `initialized`: sets the handler's line
/// breakpoint in `source`, ends the configuration and waits for the
/// attach's success. Returns the breakpoint's line.
fn configure_with_breakpoint(dap: &mut DapClient, attach_seq: i64, source: &Path) -> i64 {
    let line = line_of(source, BREAKPOINT_LINE);
    let set = dap.request(
        "setBreakpoints",
        json!({ "source": { "name": "main.rs", "path": source }, "breakpoints": [{ "line": line }] }),
        STEP,
    );
    assert_eq!(set["breakpoints"][0]["verified"], true, "{set}");
    dap.request("setExceptionBreakpoints", json!({ "filters": [] }), STEP);
    dap.request("configurationDone", Value::Null, STEP);
    assert_eq!(dap.response(attach_seq, STEP).message["success"], true);
    line
}

/// After an attach reached `initialized`: sets the handler's line
/// breakpoint in `source`, configures, waits for the cloud invocation to
/// stop there, reads the `String` local `greeting` (it must hold `marker`,
/// which only the cloud event carries), continues, and returns the
/// sandbox's answer from `invocation`.
fn debug_the_invocation(
    dap: &mut DapClient,
    attach_seq: i64,
    source: &Path,
    marker: &str,
    invocation: impl FnOnce() -> (Sandbox, CloudAnswer),
) -> (Sandbox, CloudAnswer) {
    let line = configure_with_breakpoint(dap, attach_seq, source);

    let stopped = dap.event("stopped", Duration::from_secs(120)).message["body"].clone();
    assert_eq!(stopped["reason"], "breakpoint", "{stopped}");
    let thread = stopped["threadId"].as_i64().expect("threadId");
    let stack = dap.request(
        "stackTrace",
        json!({ "threadId": thread, "startFrame": 0, "levels": 1 }),
        STEP,
    );
    let top = &stack["stackFrames"][0];
    assert_eq!(top["line"], line, "{top}");
    let frame = top["id"].as_i64().expect("frame id");
    let greeting = dap.request(
        "evaluate",
        json!({ "expression": "greeting", "frameId": frame, "context": "watch" }),
        STEP,
    );
    assert!(
        greeting["result"]
            .as_str()
            .unwrap_or_default()
            .contains(marker),
        "{greeting}"
    );
    assert!(
        greeting["type"]
            .as_str()
            .unwrap_or_default()
            .contains("String"),
        "{greeting}"
    );
    dap.request("continue", json!({ "threadId": thread }), STEP);
    let (sandbox, answer) = invocation();
    assert_eq!(answer.status, 200, "{answer:?}\n{}", sandbox.logs());
    assert!(answer.body.contains(marker), "{answer:?}");
    (sandbox, answer)
}

/// A stable copy of hello-api's release binary (other tests rebuild the
/// example), in `dir`.
fn copy_hello_api(dir: &Path) -> std::path::PathBuf {
    let binary = dir.join("bootstrap");
    std::fs::copy(hello_api_binary(), &binary).expect("copy hello-api");
    binary
}

/// The sandbox's in-place command line: the agent runs the bootstrap under
/// ptrace and waits up to 60 s for a debugger.
const IN_PLACE: &[&str] = &[
    "/opt/bin/fogbank-agent",
    "--relay",
    "--wait-timeout",
    "60",
    "--",
    "/var/task/bootstrap",
];

/// Starts fogbank-dap in `dir` and attaches it in place to the session,
/// with `binary` for symbols. The secret comes from the adapter's
/// environment (neither "secret" nor "secretFile"; the live test passes
/// "secret"). Returns once the adapter is attached to the session and
/// waits for a sandbox, before any cloud invocation starts one (whose agent
/// then waits for the debugger).
fn attach_in_place(
    dir: &Path,
    relay: &RelayProcess,
    session: &Session,
    binary: &Path,
) -> (DapClient, i64) {
    let mut dap = start_adapter(dir, &[("FOGBANK_SESSION_SECRET", &session.secret)]);
    let mut attributes = relay_attributes(relay, session, "in-place");
    attributes["program"] = json!(binary);
    let attach_seq = dap.send("attach", attributes);
    dap.output_containing("waiting for the function's sandbox", STEP);
    (dap, attach_seq)
}

/// The common start of the in-place tests: a stable copy of hello-api's
/// binary in a temporary directory, a relay with a fresh session, and
/// fogbank-dap attached in place, waiting for a sandbox.
struct InPlace {
    _dir: tempfile::TempDir,
    binary: std::path::PathBuf,
    source: std::path::PathBuf,
    relay: RelayProcess,
    session: Session,
    dap: DapClient,
    attach_seq: i64,
}

impl InPlace {
    /// Starts an in-place sandbox and invokes it with an event carrying
    /// `marker`, on a thread of its own.
    fn invoke(&self, marker: &str) -> std::thread::JoinHandle<(Sandbox, CloudAnswer)> {
        invoke_in_place(&self.relay, &self.session, &self.binary, marker)
    }
}

fn in_place_session() -> InPlace {
    require_docker();
    let dir = tempfile::tempdir().expect("temp dir");
    let binary = copy_hello_api(dir.path());
    let source = example("hello-api").join("src/main.rs");
    let relay = RelayProcess::start(&[]);
    let session = relay.mint("1h");
    let (dap, attach_seq) = attach_in_place(dir.path(), &relay, &session, &binary);
    InPlace {
        _dir: dir,
        binary,
        source,
        relay,
        session,
        dap,
        attach_seq,
    }
}

/// Starts the in-place sandbox with `binary` and invokes it with an event
/// carrying `marker` on a thread of its own.
fn invoke_in_place(
    relay: &RelayProcess,
    session: &Session,
    binary: &Path,
    marker: &str,
) -> std::thread::JoinHandle<(Sandbox, CloudAnswer)> {
    let sandbox = Sandbox::start_command(
        relay,
        session,
        &relay.url(),
        IN_PLACE,
        &[(binary, "/var/task/bootstrap")],
    );
    let event = hello_event(marker);
    invoke_on_a_thread(sandbox, event)
}

/// Sends `event` to the sandbox's invoke endpoint on a thread of its own
/// (the call blocks while the invocation is stopped in the debugger).
fn invoke_on_a_thread(
    sandbox: Sandbox,
    event: String,
) -> std::thread::JoinHandle<(Sandbox, CloudAnswer)> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let answer = runtime.block_on(sandbox.invoke(&event));
        (sandbox, answer)
    })
}

#[test]
fn fogbank_dap_attaches_in_place_through_the_relay() {
    let mut run = in_place_session();
    let marker = format!("InPlace{}", uuid::Uuid::new_v4().simple());
    let invocation = run.invoke(&marker);
    wait_initialized(&mut run.dap, run.attach_seq, STEP);
    let (sandbox, _) =
        debug_the_invocation(&mut run.dap, run.attach_seq, &run.source, &marker, || {
            invocation.join().expect("the invocation thread")
        });
    // The stop showed how long the cloud still waits (the sandbox's
    // timeout is 10 s), from the agent's watch on the Runtime API.
    let shown = run
        .dap
        .output_containing("left before the cloud's deadline", STEP);
    let text = shown.message["body"]["output"].as_str().unwrap_or_default();
    let seconds: f64 = text
        .split(": ")
        .nth(1)
        .and_then(|rest| rest.split(" s left").next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no time left in {text:?}"));
    assert!(seconds > 0.0 && seconds <= 10.0, "{text}");
    let _ = run.dap.request("disconnect", json!({}), STEP);
    drop(sandbox);
}

/// The cloud's clock does not pause at a breakpoint: while the in-place
/// invocation stays stopped, the developer is warned before its deadline
/// and when it passes, and the cloud's caller gets the cloud's timeout.
#[test]
fn fogbank_dap_warns_while_an_in_place_invocation_nears_its_deadline() {
    let mut run = in_place_session();
    let marker = format!("Deadline{}", uuid::Uuid::new_v4().simple());
    let invocation = run.invoke(&marker);
    wait_initialized(&mut run.dap, run.attach_seq, STEP);
    configure_with_breakpoint(&mut run.dap, run.attach_seq, &run.source);
    let stopped = run.dap.event("stopped", Duration::from_secs(120)).message["body"].clone();
    assert_eq!(stopped["reason"], "breakpoint", "{stopped}");
    let shown = run
        .dap
        .output_containing("left before the cloud's deadline", STEP);
    let category = |received: &Received| received.message["body"]["category"].clone();
    assert_eq!(category(&shown), "console");
    // 10 s timeout: the warning comes with a fifth of the time left.
    let near = run.dap.output_containing(
        "left before its deadline; the cloud's clock does not pause",
        Duration::from_secs(15),
    );
    assert_eq!(category(&near), "important");
    let passed = run
        .dap
        .output_containing("passed its deadline while stopped", Duration::from_secs(15));
    assert_eq!(category(&passed), "important");
    let (sandbox, answer) = invocation.join().expect("the invocation thread");
    assert!(
        answer.body.to_ascii_lowercase().contains("timed out"),
        "{answer:?}\n{}",
        sandbox.logs()
    );
    let _ = run.dap.request("disconnect", json!({}), STEP);
    drop(sandbox);
}

/// Waits for each of `invocations` (one per marker, running at once) to
/// stop at the breakpoint on a thread of its own, checks that each thread's
/// `greeting` holds its own event's marker and that `threads` lists both,
/// continues them, and checks every caller's answer.
fn stop_each_and_answer(
    dap: &mut DapClient,
    markers: &[String],
    invocations: Vec<std::thread::JoinHandle<(Sandbox, CloudAnswer)>>,
) {
    let mut seen: Vec<(i64, String)> = Vec::new();
    for _ in markers {
        let stopped = dap.event("stopped", Duration::from_secs(120)).message["body"].clone();
        assert_eq!(stopped["reason"], "breakpoint", "{stopped}");
        let thread = stopped["threadId"].as_i64().expect("threadId");
        let stack = dap.request(
            "stackTrace",
            json!({ "threadId": thread, "startFrame": 0, "levels": 1 }),
            STEP,
        );
        let frame = stack["stackFrames"][0]["id"].as_i64().expect("frame id");
        let greeting = dap.request(
            "evaluate",
            json!({ "expression": "greeting", "frameId": frame, "context": "watch" }),
            STEP,
        );
        let text = greeting["result"].as_str().unwrap_or_default().to_owned();
        let marker = markers
            .iter()
            .find(|marker| text.contains(marker.as_str()))
            .unwrap_or_else(|| panic!("greeting {text} holds none of {markers:?}"))
            .clone();
        assert!(
            seen.iter()
                .all(|(other, known)| *other != thread && *known != marker),
            "a second stop of the same thread or invocation: {thread} {marker} after {seen:?}"
        );
        seen.push((thread, marker));
    }
    let threads = dap.request("threads", Value::Null, STEP);
    let listed: Vec<i64> = threads["threads"]
        .as_array()
        .expect("threads")
        .iter()
        .filter_map(|thread| thread["id"].as_i64())
        .collect();
    for (thread, _) in &seen {
        assert!(listed.contains(thread), "{thread} in {threads}");
    }
    for (thread, _) in &seen {
        dap.request("continue", json!({ "threadId": thread }), STEP);
    }
    for (invocation, marker) in invocations.into_iter().zip(markers) {
        let (sandbox, answer) = invocation.join().expect("the invocation thread");
        assert_eq!(answer.status, 200, "{answer:?}\n{}", sandbox.logs());
        assert!(answer.body.contains(marker.as_str()), "{answer:?}");
    }
}

/// Two cloud invocations at once run in two sandboxes; the in-place
/// session debugs both, each sandbox's thread a DAP thread of its own.
#[test]
fn fogbank_dap_shows_concurrent_cloud_sandboxes_as_threads() {
    let mut run = in_place_session();
    let markers: Vec<String> = (0..2)
        .map(|n| format!("Sandbox{n}x{}", uuid::Uuid::new_v4().simple()))
        .collect();
    let invocations: Vec<_> = markers.iter().map(|marker| run.invoke(marker)).collect();
    wait_initialized(&mut run.dap, run.attach_seq, STEP);
    configure_with_breakpoint(&mut run.dap, run.attach_seq, &run.source);
    stop_each_and_answer(&mut run.dap, &markers, invocations);
    let _ = run.dap.request("disconnect", json!({}), STEP);
}

#[test]
fn fogbank_dap_attaches_in_place_through_the_companion_command() {
    require_docker();
    let dir = tempfile::tempdir().expect("temp dir");
    let binary = copy_hello_api(dir.path());
    let source = example("hello-api").join("src/main.rs");
    let relay = RelayProcess::start(&[]);
    let session = relay.mint("1h");
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address");
    let attach = Attach::start(&relay, &session, listen);
    attach.wait_for("attached to the session");
    let marker = format!("Companion{}", uuid::Uuid::new_v4().simple());
    let invocation = invoke_in_place(&relay, &session, &binary, &marker);
    attach.wait_for("a cloud sandbox is waiting");
    let mut dap = start_adapter(dir.path(), &[]);
    let attach_seq = dap.send(
        "attach",
        json!({"type": "fogbank", "request": "attach", "gdbserver": listen.to_string(), "program": binary}),
    );
    wait_initialized(&mut dap, attach_seq, STEP);
    let (sandbox, _) = debug_the_invocation(&mut dap, attach_seq, &source, &marker, || {
        invocation.join().expect("the invocation thread")
    });
    let _ = dap.request("disconnect", json!({}), STEP);
    drop(sandbox);
}

/// Live mode in the adapter: fogbank-dap debugs HelloFunction of a local
/// `fogbank start` (a copy of hello-api built with debug info) and answers
/// the session's forwarded cloud invocations with it, with no companion
/// process.
#[test]
fn fogbank_dap_debugs_a_cloud_invocation_in_live_mode() {
    require_docker();
    let app = fogbank_tests::copy_dir(&example("hello-api"));
    let template = app.path().join("template.yaml");
    let source = app.path().join("src/main.rs");
    let mut options = fogbank_tests::StartOptions::new(&template);
    options.env.push((
        "CARGO_TARGET_DIR".to_owned(),
        fogbank_tests::target_dir()
            .join("hello-api-debugger")
            .to_string_lossy()
            .into_owned(),
    ));
    let fogbank = fogbank_tests::Fogbank::start_with(options);
    let relay = RelayProcess::start(&[]);
    let session = relay.mint("1h");

    let mut dap = start_adapter(app.path(), &[]);
    let mut attributes = relay_attributes(&relay, &session, "live");
    attributes["secret"] = json!(session.secret);
    attributes["function"] = json!("HelloFunction");
    attributes["controlPort"] = json!(fogbank.control.port());
    let attach_seq = dap.send("attach", attributes);
    wait_initialized(&mut dap, attach_seq, Duration::from_secs(600));
    dap.output_containing("Live mode: attached to session", STEP);

    let sandbox = Sandbox::start(&relay, &session, &relay.url());
    let marker = format!("Live{}", uuid::Uuid::new_v4().simple());
    let invocation = invoke_on_a_thread(sandbox, hello_event(&marker));
    let (_sandbox, _) = debug_the_invocation(&mut dap, attach_seq, &source, &marker, || {
        invocation.join().expect("the invocation thread")
    });
    // The forwarded invocation's remaining cloud time is shown.
    let output = dap.all_output();
    assert!(
        output.contains("left before the cloud's deadline"),
        "{output}"
    );

    // Two cloud invocations at once, from two sandboxes: each runs in its
    // own debugged instance here and stops on a thread of its own.
    let markers: Vec<String> = (0..2)
        .map(|n| format!("Live{n}x{}", uuid::Uuid::new_v4().simple()))
        .collect();
    let invocations = markers
        .iter()
        .map(|marker| {
            let sandbox = Sandbox::start(&relay, &session, &relay.url());
            invoke_on_a_thread(sandbox, hello_event(marker))
        })
        .collect();
    stop_each_and_answer(&mut dap, &markers, invocations);
    let _ = dap.request("disconnect", json!({}), STEP);
}

#[test]
fn fogbank_dap_refuses_bad_secrets_and_a_second_debugger_naming_the_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    let relay = RelayProcess::start(&[]);
    let session = relay.mint("1h");
    let program = workspace_binary("fogbank-agent", "fogbank-agent");
    let in_place = |session: &Session, secret: &str| {
        let mut attributes = relay_attributes(&relay, session, "in-place");
        attributes["program"] = json!(program);
        attributes["secret"] = json!(secret);
        attributes
    };

    // A wrong secret: the relay refuses it, and the error names "secret".
    let wrong = fogbank_relay::secret::SessionSecret::generate().to_text();
    let mut dap = start_adapter(dir.path(), &[]);
    let error = attach_error(&mut dap, in_place(&session, &wrong));
    assert!(
        error.starts_with("\"secret\"") && error.contains("not valid for this session"),
        "{error}"
    );
    dap.output_containing("attach failed", STEP);

    // An expired session names "session".
    let expired = relay.mint("1s");
    std::thread::sleep(Duration::from_millis(2100));
    let mut dap = start_adapter(dir.path(), &[]);
    let error = attach_error(&mut dap, in_place(&expired, &expired.secret));
    assert!(
        error.starts_with("\"session\"") && error.contains("expired"),
        "{error}"
    );

    // Without the relay's certificate, TLS fails and the error points at
    // "relayCa".
    let mut dap = start_adapter(dir.path(), &[]);
    let mut attributes = in_place(&session, &session.secret);
    attributes
        .as_object_mut()
        .expect("object")
        .remove("relayCa");
    let error = attach_error(&mut dap, attributes);
    assert!(
        error.starts_with("\"relay\"") && error.contains("relayCa"),
        "{error}"
    );

    // A second debugger cannot take over an attached session.
    let mut first = start_adapter(dir.path(), &[]);
    first.send("attach", in_place(&session, &session.secret));
    first.output_containing("waiting for the function's sandbox", STEP);
    let mut second = start_adapter(dir.path(), &[]);
    let error = attach_error(&mut second, in_place(&session, &session.secret));
    assert!(error.contains("another debugger is attached"), "{error}");

    // The relay never logged the secret.
    assert!(!relay.output().contains(&session.secret[7..]));
}
