//! The control interface's JSON shapes. Field names are camelCase, as the
//! TypeScript extension and DAP clients expect.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::ControlInfo;
use crate::app::{Function, Runtime};
use crate::backend::environment::CloudEnvironment;
use crate::invoke::Invoker;
use crate::invoke::events::InstanceEvent;
use crate::invoke::output::FunctionLogLine;

/// The ports the emulator serves on (127.0.0.1 unless `--host` says
/// otherwise).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Ports {
    pub lambda: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<u16>,
    pub sqs: u16,
    pub control: u16,
}

/// `GET /fogbank/v1/status`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub version: &'static str,
    pub template: PathBuf,
    pub state_dir: PathBuf,
    pub runtime: String,
    pub ports: Ports,
    pub functions: Vec<FunctionStatus>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionStatus {
    pub logical_id: String,
    pub name: String,
    pub runtime: String,
    pub code_dir: PathBuf,
    /// The executable a native debugger loads symbols from (`provided.*`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program: Option<PathBuf>,
    pub debugging: bool,
    /// Whether live mode lays a cloud sandbox's environment over the
    /// function's own.
    pub cloud_environment: bool,
    pub instances: usize,
}

#[derive(Debug, Deserialize)]
pub struct DebugRequest {
    pub agent: PathBuf,
    /// How many instances may run under the debugger at once.
    #[serde(default = "one_instance")]
    pub instances: u32,
}

fn one_instance() -> u32 {
    1
}

/// The most instances a debug session may ask for.
pub const MAX_DEBUG_INSTANCES: u32 = 64;

/// `PUT /fogbank/v1/functions/{name}/cloud-environment`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudEnvironmentRequest {
    pub variables: serde_json::Map<String, serde_json::Value>,
}

impl CloudEnvironmentRequest {
    /// The variables, checked: names are non-empty without `=` or NUL, and
    /// values are strings without NUL, as a process environment needs.
    pub fn into_environment(self) -> Result<CloudEnvironment, String> {
        let mut variables = Vec::with_capacity(self.variables.len());
        for (name, value) in self.variables {
            if name.is_empty() || name.contains(['=', '\0']) {
                return Err(format!(
                    "variables: {name:?} is not an environment variable name"
                ));
            }
            let serde_json::Value::String(value) = value else {
                return Err(format!("variables.{name}: the value must be a string"));
            };
            if value.contains('\0') {
                return Err(format!("variables.{name}: the value contains a NUL byte"));
            }
            variables.push((name, value));
        }
        Ok(CloudEnvironment { variables })
    }
}

#[derive(Debug, Deserialize)]
pub struct PausedRequest {
    pub paused: bool,
}

pub fn status(info: &ControlInfo, invoker: &Invoker) -> Status {
    Status {
        version: env!("CARGO_PKG_VERSION"),
        template: info.template.clone(),
        state_dir: info.state_dir.clone(),
        runtime: info.runtime.clone(),
        ports: info.ports.clone(),
        functions: invoker
            .functions()
            .iter()
            .map(|function| function_status(function, invoker))
            .collect(),
    }
}

pub fn function_status(function: &Function, invoker: &Invoker) -> FunctionStatus {
    let code_dir = invoker
        .code_dir(&function.logical_id)
        .unwrap_or_else(|| function.code_uri.clone());
    let program =
        matches!(function.runtime, Runtime::Provided { .. }).then(|| code_dir.join("bootstrap"));
    FunctionStatus {
        logical_id: function.logical_id.clone(),
        name: function.name.clone(),
        runtime: function.runtime.id().to_owned(),
        program,
        code_dir,
        debugging: invoker.is_debugging(&function.logical_id),
        cloud_environment: invoker.has_cloud_environment(&function.logical_id),
        instances: invoker
            .instance_counts(&function.logical_id)
            .map(|(_, all)| all)
            .unwrap_or(0),
    }
}

/// One event as a line of JSON.
pub fn event_line(event: &InstanceEvent) -> String {
    let value = match event {
        InstanceEvent::Started {
            function,
            instance,
            debug,
        } => json!({
            "event": "instanceStarted",
            "function": &**function,
            "instance": instance,
            "debug": debug.as_ref().map(|d| json!({"rspPort": d.rsp_port, "program": d.program})),
        }),
        InstanceEvent::Stopped { function, instance } => json!({
            "event": "instanceStopped",
            "function": &**function,
            "instance": instance,
        }),
        InstanceEvent::InvocationStarted {
            function,
            instance,
            request_id,
            deadline_ms,
        } => json!({
            "event": "invocationStarted",
            "function": &**function,
            "instance": instance,
            "requestId": request_id,
            "deadlineMs": *deadline_ms as u64,
        }),
        InstanceEvent::InvocationFinished {
            function,
            instance,
            request_id,
            error_type,
        } => json!({
            "event": "invocationFinished",
            "function": &**function,
            "instance": instance,
            "requestId": request_id,
            "errorType": error_type,
        }),
        InstanceEvent::Redeployed {
            function,
            version,
            code_dir,
            debug,
        } => json!({
            "event": "redeployed",
            "function": &**function,
            "version": version,
            "codeDir": code_dir,
            "debug": debug,
        }),
        InstanceEvent::Reloaded {
            function,
            version,
            code_dir,
            artifact,
            source,
            build,
            swap,
        } => json!({
            "event": "reload",
            "function": &**function,
            "version": version,
            "codeDir": code_dir,
            "artifact": artifact,
            "source": source,
            "buildMs": build.as_millis() as u64,
            "swapMs": swap.as_millis() as u64,
        }),
        InstanceEvent::ReloadFailed { function, error } => json!({
            "event": "reloadFailed",
            "function": &**function,
            "error": error,
        }),
    };
    let mut line = value.to_string();
    line.push('\n');
    line
}

/// A function's output line as an event line.
pub fn log_line(line: &FunctionLogLine) -> String {
    let mut text = json!({
        "event": "log",
        "function": &*line.function,
        "line": String::from_utf8_lossy(&line.line),
    })
    .to_string();
    text.push('\n');
    text
}

/// Tells a slow subscriber that it missed events.
pub fn lagged_line(missed: u64) -> String {
    format!("{}\n", json!({ "event": "lagged", "missed": missed }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::invoke::events::DebugEndpoint;
    use expect_test::expect;

    fn check_cloud_environment(body: &str, expected: Result<&[(&str, &str)], &str>) {
        let request: CloudEnvironmentRequest = serde_json::from_str(body).unwrap();
        let got = request.into_environment();
        match expected {
            Ok(variables) => {
                let got = got.unwrap().variables;
                let got: Vec<(&str, &str)> =
                    got.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                assert_eq!(got, variables, "{body}");
            }
            Err(message) => assert_eq!(got.unwrap_err(), message, "{body}"),
        }
    }

    #[test]
    fn cloud_environment_requests_are_checked() {
        check_cloud_environment(
            r#"{"variables": {"A": "1", "AWS_REGION": "eu-west-1"}}"#,
            Ok(&[("A", "1"), ("AWS_REGION", "eu-west-1")]),
        );
        check_cloud_environment(r#"{"variables": {}}"#, Ok(&[]));
        check_cloud_environment(
            r#"{"variables": {"A": 1}}"#,
            Err("variables.A: the value must be a string"),
        );
        check_cloud_environment(
            r#"{"variables": {"A=B": "1"}}"#,
            Err(r#"variables: "A=B" is not an environment variable name"#),
        );
        check_cloud_environment(
            r#"{"variables": {"": "1"}}"#,
            Err(r#"variables: "" is not an environment variable name"#),
        );
        check_cloud_environment(
            r#"{"variables": {"A": "x\u0000y"}}"#,
            Err("variables.A: the value contains a NUL byte"),
        );
    }

    #[test]
    fn event_lines() {
        let started = InstanceEvent::Started {
            function: "Hello".into(),
            instance: "i1".into(),
            debug: Some(DebugEndpoint {
                rsp_port: 4444,
                program: PathBuf::from("/app/.fogbank/build/Hello/bootstrap"),
            }),
        };
        expect![[r#"
            {"debug":{"program":"/app/.fogbank/build/Hello/bootstrap","rspPort":4444},"event":"instanceStarted","function":"Hello","instance":"i1"}
        "#]]
        .assert_eq(&event_line(&started));
        let finished = InstanceEvent::InvocationFinished {
            function: "Hello".into(),
            instance: "i1".into(),
            request_id: "r1".into(),
            error_type: None,
        };
        expect![[r#"
            {"errorType":null,"event":"invocationFinished","function":"Hello","instance":"i1","requestId":"r1"}
        "#]]
        .assert_eq(&event_line(&finished));
        let log = FunctionLogLine {
            function: "Hello".into(),
            line: std::sync::Arc::from(&b"hi"[..]),
        };
        expect![[r#"
            {"event":"log","function":"Hello","line":"hi"}
        "#]]
        .assert_eq(&log_line(&log));
    }

    #[test]
    fn reload_event_lines() {
        let reloaded = InstanceEvent::Reloaded {
            function: "Hello".into(),
            version: 3,
            code_dir: PathBuf::from("/app/.fogbank/build/Hello"),
            artifact: PathBuf::from("/app/.fogbank/build/Hello/bootstrap"),
            source: PathBuf::from("/app"),
            build: std::time::Duration::from_millis(1840),
            swap: std::time::Duration::from_millis(12),
        };
        expect![[r#"
            {"artifact":"/app/.fogbank/build/Hello/bootstrap","buildMs":1840,"codeDir":"/app/.fogbank/build/Hello","event":"reload","function":"Hello","source":"/app","swapMs":12,"version":3}
        "#]]
        .assert_eq(&event_line(&reloaded));
        let failed = InstanceEvent::ReloadFailed {
            function: "Hello".into(),
            error: "cargo build failed".into(),
        };
        expect![[r#"
            {"error":"cargo build failed","event":"reloadFailed","function":"Hello"}
        "#]]
        .assert_eq(&event_line(&failed));
    }
}
