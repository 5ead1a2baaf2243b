//! What the fogbank-dap tests share: the binaries (fogbank-dap, the static
//! agent), copies of hello-api built into one shared target directory, a
//! DAP session helper that speaks in the order VS Code does, and
//! redaction of transcripts for snapshots.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use fogbank_tests::dap_client::DapClient;
use serde_json::{Value, json};

/// How long one DAP step may take (the first launch builds nothing: the
/// emulator already built the function).
pub const STEP: Duration = Duration::from_secs(60);

/// The fogbank-dap binary of this build.
pub fn fogbank_dap() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| fogbank_tests::workspace_binary("fogbank-dap", "fogbank-dap"))
        .clone()
}

/// The static fogbank-agent, built into this test run's target directory,
/// where fogbank-dap looks for it
/// (`<target>/x86_64-unknown-linux-gnu/release/fogbank-agent`).
pub use fogbank_tests::static_agent;

/// Where copies of hello-api are built (shared, so a copy recompiles only
/// the example's own crate).
pub fn hello_api_target() -> PathBuf {
    fogbank_tests::target_dir().join("hello-api-debugger")
}

/// A copy of examples/hello-api that a test may edit.
pub fn hello_api_copy() -> tempfile::TempDir {
    fogbank_tests::copy_dir(&fogbank_tests::example("hello-api"))
}

/// The 1-based line of the C fixture `source` that carries the comment
/// `marker: NAME `.
pub fn marker_line(source: &Path, name: &str) -> i64 {
    let text = std::fs::read_to_string(source).unwrap();
    let needle = format!("marker: {name} ");
    text.lines()
        .position(|line| line.contains(&needle))
        .unwrap_or_else(|| panic!("{} has no marker {name}", source.display())) as i64
        + 1
}

/// The 1-based line of the first line of `path` whose trimmed text is
/// `text`.
pub fn line_of(path: &Path, text: &str) -> i64 {
    let source = std::fs::read_to_string(path).expect("read source");
    let index = source
        .lines()
        .position(|line| line.trim() == text)
        .unwrap_or_else(|| panic!("{} has no line `{text}`", path.display()));
    index as i64 + 1
}

/// A DAP conversation with fogbank-dap.
pub struct Dap {
    pub client: DapClient,
}

impl Dap {
    /// Starts fogbank-dap in `cwd`.
    pub fn start(cwd: &Path) -> Dap {
        let fogbank = fogbank_tests::fogbank_binary();
        let fogbank = fogbank.to_string_lossy().into_owned();
        let client = DapClient::spawn(
            &fogbank_dap(),
            &[],
            cwd,
            &[("FOGBANK_BIN", fogbank.as_str())],
        );
        Dap { client }
    }

    /// `initialize` as VS Code sends it; returns the capabilities.
    pub fn initialize(&mut self) -> Value {
        self.client.request(
            "initialize",
            json!({
                "clientID": "vscode",
                "clientName": "Visual Studio Code",
                "adapterID": "fogbank",
                "pathFormat": "path",
                "linesStartAt1": true,
                "columnsStartAt1": true,
                "supportsVariableType": true,
                "supportsVariablePaging": true,
                "supportsRunInTerminalRequest": true,
                "locale": "en",
                "supportsProgressReporting": true,
                "supportsInvalidatedEvent": true,
                "supportsMemoryReferences": true,
            }),
            STEP,
        )
    }

    /// Sends `launch` (or `attach`) and waits for the `initialized` event;
    /// returns the request's sequence number (its response may come
    /// later, as VS Code allows).
    pub fn launch(&mut self, request: &str, configuration: Value) -> i64 {
        let seq = self.client.send(request, configuration);
        let within = Duration::from_secs(900);
        let got = self
            .client
            .wait_for("`initialized` or the launch response", within, |m| {
                (m["type"] == "event" && m["event"] == "initialized")
                    || (m["type"] == "response" && m["request_seq"] == seq && m["success"] == false)
            });
        assert_eq!(
            got.message["event"], "initialized",
            "launch failed: {}",
            got.message
        );
        seq
    }

    /// `setBreakpoints` for one file; returns the breakpoints.
    pub fn set_breakpoints(&mut self, path: &Path, breakpoints: Value) -> Vec<Value> {
        let body = self.client.request(
            "setBreakpoints",
            json!({
                "source": { "name": path.file_name().unwrap().to_string_lossy(), "path": path },
                "breakpoints": breakpoints,
                "sourceModified": false,
            }),
            STEP,
        );
        body["breakpoints"].as_array().cloned().unwrap_or_default()
    }

    /// Waits for a `stopped` event; returns its body.
    pub fn stopped(&mut self, within: Duration) -> Value {
        self.client.event("stopped", within).message["body"].clone()
    }

    /// The stack of a thread (as VS Code asks: the top frame, then the rest).
    pub fn stack(&mut self, thread: i64) -> Vec<Value> {
        let top = self.client.request(
            "stackTrace",
            json!({ "threadId": thread, "startFrame": 0, "levels": 1 }),
            STEP,
        );
        let rest = self.client.request(
            "stackTrace",
            json!({ "threadId": thread, "startFrame": 1, "levels": 20 }),
            STEP,
        );
        let mut frames = top["stackFrames"].as_array().cloned().unwrap_or_default();
        frames.extend(rest["stackFrames"].as_array().cloned().unwrap_or_default());
        frames
    }

    /// The variables of the scope named `scope` of a frame.
    pub fn scope_variables(&mut self, frame: i64, scope: &str) -> Vec<Value> {
        let scopes = self
            .client
            .request("scopes", json!({ "frameId": frame }), STEP);
        let reference = scopes["scopes"]
            .as_array()
            .and_then(|scopes| scopes.iter().find(|s| s["name"] == scope))
            .map(|s| s["variablesReference"].clone())
            .unwrap_or_else(|| panic!("no scope {scope}: {scopes}"));
        self.variables(reference.as_i64().unwrap())
    }

    /// The children behind a variables reference.
    pub fn variables(&mut self, reference: i64) -> Vec<Value> {
        let body = self.client.request(
            "variables",
            json!({ "variablesReference": reference }),
            STEP,
        );
        body["variables"].as_array().cloned().unwrap_or_default()
    }

    /// `evaluate` in a frame, as a watch; returns the body.
    pub fn evaluate(&mut self, frame: i64, expression: &str) -> Value {
        self.client.request(
            "evaluate",
            json!({ "expression": expression, "frameId": frame, "context": "watch" }),
            STEP,
        )
    }
}

/// The variable named `name` in `variables`.
pub fn variable<'a>(variables: &'a [Value], name: &str) -> &'a Value {
    variables
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no variable {name} in {variables:#?}"))
}

/// A message with what changes between runs replaced: ids, addresses,
/// sequence numbers, absolute paths (below `root`) and thread ids.
pub fn redact(value: &Value, root: &Path) -> Value {
    let root = root.to_string_lossy();
    fn walk(value: &Value, root: &str, key: Option<&str>) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), walk(v, root, Some(k.as_str()))))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|v| walk(v, root, key)).collect()),
            Value::Number(_)
                if matches!(
                    key,
                    Some(
                        "seq"
                            | "request_seq"
                            | "id"
                            | "threadId"
                            | "frameId"
                            | "variablesReference"
                            | "totalFrames"
                    )
                ) =>
            {
                json!("<n>")
            }
            Value::String(text)
                if matches!(key, Some("instructionPointerReference" | "memoryReference")) =>
            {
                let _ = text;
                json!("<address>")
            }
            Value::String(text) if key == Some("value") && text.starts_with("0x") => {
                json!("<address>")
            }
            Value::String(text) => Value::String(text.replace(root, "$APP")),
            other => other.clone(),
        }
    }
    walk(value, &root, None)
}
