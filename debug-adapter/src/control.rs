//! A client of the emulator's control interface (`fogbank start` on
//! 127.0.0.1, port 3002 by default) and of its Lambda Invoke API.
//!
//! API Boundary: the control interface's JSON shapes are decoded here into
//! [`Status`] and [`ControlEvent`]; the session never sees JSON from the
//! emulator. Only this module speaks HTTP.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::sync::mpsc;

/// How long a control request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A failed call to the emulator.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Nothing accepts connections on the port.
    #[error("nothing answers on {address}: {source}")]
    Connect {
        /// The address tried.
        address: SocketAddr,
        /// The connection error.
        source: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("{operation} ({address}): {reason}")]
    Http {
        /// What was being done, e.g. "GET /fogbank/v1/status".
        operation: String,
        /// The address.
        address: SocketAddr,
        /// What went wrong.
        reason: String,
    },
    /// The emulator refused the request.
    #[error("{operation}: the emulator answered {status}: {message}")]
    Refused {
        /// What was being done.
        operation: String,
        /// The HTTP status.
        status: u16,
        /// The emulator's message.
        message: String,
    },
    /// The answer is not the expected JSON.
    #[error("{operation}: unexpected answer ({reason}): {excerpt}")]
    Decode {
        /// What was being done.
        operation: String,
        /// The decoding error.
        reason: String,
        /// The start of the body.
        excerpt: String,
    },
}

/// `GET /fogbank/v1/status`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The emulator's version.
    pub version: String,
    /// The template it serves.
    pub template: PathBuf,
    /// Its runtime (`process` or `docker`).
    pub runtime: String,
    /// Its ports.
    pub ports: Ports,
    /// Its functions.
    pub functions: Vec<FunctionStatus>,
}

/// The emulator's ports on 127.0.0.1.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Ports {
    /// The Lambda Invoke API.
    pub lambda: u16,
    /// API Gateway, when the template has routes.
    #[serde(default)]
    pub gateway: Option<u16>,
    /// The control interface.
    pub control: u16,
}

/// One function of the status.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FunctionStatus {
    /// The template's logical ID.
    pub logical_id: String,
    /// The FunctionName.
    pub name: String,
    /// The Lambda runtime identifier.
    pub runtime: String,
    /// The directory the current version runs from.
    pub code_dir: PathBuf,
    /// The executable to load symbols from (`provided.*` runtimes).
    #[serde(default)]
    pub program: Option<PathBuf>,
    /// Whether the function runs under the debugger.
    pub debugging: bool,
}

impl Status {
    /// The function named `name` (logical ID or FunctionName).
    pub fn function(&self, name: &str) -> Option<&FunctionStatus> {
        self.functions
            .iter()
            .find(|f| f.logical_id == name)
            .or_else(|| self.functions.iter().find(|f| f.name == name))
    }
}

/// Where a debugged instance's agent listens.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DebugEndpoint {
    /// The agent's RSP port on 127.0.0.1.
    pub rsp_port: u16,
    /// The host copy of the program, for symbols.
    pub program: PathBuf,
}

/// One line of `GET /fogbank/v1/events`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum ControlEvent {
    /// An instance started; `debug` is set when it waits for a debugger.
    #[serde(rename_all = "camelCase")]
    InstanceStarted {
        /// The function's logical ID.
        function: String,
        /// The instance ID.
        instance: String,
        /// The agent's endpoint.
        #[serde(default)]
        debug: Option<DebugEndpoint>,
    },
    /// An instance stopped.
    #[serde(rename_all = "camelCase")]
    InstanceStopped {
        /// The function.
        function: String,
        /// The instance.
        instance: String,
    },
    /// An instance took an invocation.
    #[serde(rename_all = "camelCase")]
    InvocationStarted {
        /// The function.
        function: String,
        /// The instance.
        instance: String,
        /// The request ID.
        request_id: String,
        /// When the function's time runs out (milliseconds since the epoch).
        #[serde(default)]
        deadline_ms: u64,
    },
    /// An invocation ended.
    #[serde(rename_all = "camelCase")]
    InvocationFinished {
        /// The function.
        function: String,
        /// The instance.
        instance: String,
        /// The request ID.
        request_id: String,
        /// Set when it failed.
        #[serde(default)]
        error_type: Option<String>,
    },
    /// A new version of the function is served (a rebuild or a debug
    /// mode change).
    #[serde(rename_all = "camelCase")]
    Redeployed {
        /// The function.
        function: String,
        /// The version number.
        version: u64,
        /// The directory the version runs from.
        code_dir: PathBuf,
        /// Whether it runs under the debugger.
        debug: bool,
    },
    /// A line of the function's output.
    Log {
        /// The function.
        function: String,
        /// The line, without its newline.
        line: String,
    },
    /// The stream dropped events because the adapter read too slowly.
    Lagged {
        /// How many.
        #[serde(default)]
        missed: u64,
    },
    /// Hot reload rebuilt the function and serves the new version (it
    /// follows the version's `redeployed` event).
    #[serde(rename_all = "camelCase")]
    Reload {
        /// The function.
        function: String,
        /// The version number.
        version: u64,
        /// The directory the version runs from.
        code_dir: PathBuf,
        /// The rebuilt executable (for native functions, the program to
        /// load symbols from).
        #[serde(default)]
        artifact: Option<PathBuf>,
    },
    /// Hot reload could not rebuild the function; the old version stays.
    #[serde(rename_all = "camelCase")]
    ReloadFailed {
        /// The function.
        function: String,
        /// Why.
        #[serde(default)]
        error: String,
    },
    /// An event this adapter does not know (a newer emulator's).
    #[serde(other)]
    Unknown,
}

/// A decoded events line, or why it could not be decoded.
pub fn parse_event_line(line: &str) -> Result<ControlEvent, String> {
    serde_json::from_str(line).map_err(|error| {
        let excerpt: String = line.chars().take(120).collect();
        format!("an emulator event could not be read ({error}): {excerpt}")
    })
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: HashMap<String, String>,
    /// The body.
    pub body: Bytes,
}

/// The control interface of one emulator.
#[derive(Debug, Clone, Copy)]
pub struct ControlClient {
    address: SocketAddr,
}

impl ControlClient {
    /// A client of the control interface on 127.0.0.1:`port`.
    pub fn new(port: u16) -> ControlClient {
        ControlClient {
            address: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    /// The control interface's address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The emulator's status.
    pub async fn status(&self) -> Result<Status, ControlError> {
        let operation = "GET /fogbank/v1/status";
        let answer = self.call("GET", "/fogbank/v1/status", None).await?;
        decode_json(operation, &answer)
    }

    /// Runs the function's next instances under `agent`, at most
    /// `instances` of them at once.
    pub async fn enable_debug(
        &self,
        function: &str,
        agent: &std::path::Path,
        instances: u32,
    ) -> Result<(), ControlError> {
        let path = format!("/fogbank/v1/functions/{}/debug", encode_segment(function));
        let body = serde_json::json!({ "agent": agent, "instances": instances }).to_string();
        self.call("PUT", &path, Some(body.into_bytes()))
            .await
            .map(drop)
    }

    /// Runs the function normally again.
    pub async fn disable_debug(&self, function: &str) -> Result<(), ControlError> {
        let path = format!("/fogbank/v1/functions/{}/debug", encode_segment(function));
        self.call("DELETE", &path, None).await.map(drop)
    }

    /// Gives the function its own environment back after live mode laid a
    /// cloud sandbox's over it (a no-op when none was).
    pub async fn restore_environment(&self, function: &str) -> Result<(), ControlError> {
        let path = format!(
            "/fogbank/v1/functions/{}/cloud-environment",
            encode_segment(function)
        );
        self.call("DELETE", &path, None).await.map(drop)
    }

    /// Stops (or restarts) an instance's timeout clock.
    pub async fn set_paused(&self, instance: &str, paused: bool) -> Result<(), ControlError> {
        let path = format!("/fogbank/v1/instances/{}/paused", encode_segment(instance));
        let body = serde_json::json!({ "paused": paused }).to_string();
        self.call("PUT", &path, Some(body.into_bytes()))
            .await
            .map(drop)
    }

    /// Opens the event stream and forwards each event (or a line that could
    /// not be decoded, as `Err`) to `sink` until the stream ends; returns
    /// why it ended.
    pub async fn follow_events(
        &self,
        sink: mpsc::UnboundedSender<Result<ControlEvent, String>>,
        opened: tokio::sync::oneshot::Sender<Result<(), ControlError>>,
    ) -> String {
        let operation = "GET /fogbank/v1/events";
        let response = match self
            .send(operation, "GET", "/fogbank/v1/events", None)
            .await
        {
            Ok(response) if response.status() == StatusCode::OK => response,
            Ok(response) => {
                let status = response.status().as_u16();
                let _ = opened.send(Err(ControlError::Refused {
                    operation: operation.to_owned(),
                    status,
                    message: "the event stream is not available".to_owned(),
                }));
                return format!("the emulator refused the event stream ({status})");
            }
            Err(error) => {
                let message = error.to_string();
                let _ = opened.send(Err(error));
                return message;
            }
        };
        let _ = opened.send(Ok(()));
        let mut body = response.into_body();
        let mut pending: Vec<u8> = Vec::new();
        loop {
            match body.frame().await {
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    pending.extend_from_slice(&data);
                    while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = pending.drain(..=end).collect();
                        let text = String::from_utf8_lossy(&line);
                        let text = text.trim();
                        if text.is_empty() {
                            continue;
                        }
                        if sink.send(parse_event_line(text)).is_err() {
                            return "the debug session ended".to_owned();
                        }
                    }
                }
                Some(Err(error)) => return format!("the emulator's event stream broke: {error}"),
                None => return "the emulator closed its event stream (it stopped)".to_owned(),
            }
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, ControlError> {
        let operation = format!("{method} {path}");
        let response = self.send(&operation, method, path, body).await?;
        let answer = read_answer(&operation, self.address, response).await?;
        if answer.status >= 300 {
            return Err(ControlError::Refused {
                operation,
                status: answer.status,
                message: error_message(&answer.body),
            });
        }
        Ok(answer)
    }

    async fn send(
        &self,
        operation: &str,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<hyper::Response<Incoming>, ControlError> {
        send_request(self.address, operation, method, path, &[], body).await
    }
}

/// Invokes a function through the Lambda Invoke API on 127.0.0.1:`port`.
/// The answer's `x-amz-function-error` header is set when the function
/// failed. Waits as long as the invocation takes (it may be stopped at a
/// breakpoint).
pub async fn invoke(port: u16, function: &str, payload: Vec<u8>) -> Result<Answer, ControlError> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let path = format!(
        "/2015-03-31/functions/{}/invocations",
        encode_segment(function)
    );
    let operation = format!("POST {path}");
    let response = send_request(
        address,
        &operation,
        "POST",
        &path,
        &[("content-type", "application/json")],
        Some(payload),
    )
    .await?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|error| ControlError::Http {
            operation: operation.clone(),
            address,
            reason: error.to_string(),
        })?
        .to_bytes();
    Ok(Answer {
        status: parts.status.as_u16(),
        headers: headers(&parts.headers),
        body,
    })
}

async fn send_request(
    address: SocketAddr,
    operation: &str,
    method: &str,
    path: &str,
    extra_headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Result<hyper::Response<Incoming>, ControlError> {
    let http_error = |reason: String| ControlError::Http {
        operation: operation.to_owned(),
        address,
        reason,
    };
    let stream = tokio::time::timeout(REQUEST_TIMEOUT, tokio::net::TcpStream::connect(address))
        .await
        .map_err(|_| http_error("connecting timed out".to_owned()))?
        .map_err(|source| ControlError::Connect { address, source })?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| http_error(error.to_string()))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", address.to_string());
    for (name, value) in extra_headers {
        request = request.header(*name, *value);
    }
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request = request
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|error| http_error(error.to_string()))?;
    sender
        .send_request(request)
        .await
        .map_err(|error| http_error(error.to_string()))
}

async fn read_answer(
    operation: &str,
    address: SocketAddr,
    response: hyper::Response<Incoming>,
) -> Result<Answer, ControlError> {
    let (parts, body) = response.into_parts();
    let body = tokio::time::timeout(REQUEST_TIMEOUT, body.collect())
        .await
        .map_err(|_| ControlError::Http {
            operation: operation.to_owned(),
            address,
            reason: "the answer timed out".to_owned(),
        })?
        .map_err(|error| ControlError::Http {
            operation: operation.to_owned(),
            address,
            reason: error.to_string(),
        })?
        .to_bytes();
    Ok(Answer {
        status: parts.status.as_u16(),
        headers: headers(&parts.headers),
        body,
    })
}

fn headers(map: &hyper::HeaderMap) -> HashMap<String, String> {
    map.iter()
        .map(|(name, value)| {
            (
                name.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn decode_json<T: serde::de::DeserializeOwned>(
    operation: &str,
    answer: &Answer,
) -> Result<T, ControlError> {
    serde_json::from_slice(&answer.body).map_err(|error| ControlError::Decode {
        operation: operation.to_owned(),
        reason: error.to_string(),
        excerpt: String::from_utf8_lossy(&answer.body)
            .chars()
            .take(200)
            .collect(),
    })
}

/// The `message` of an error body, or the body itself.
fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        message: String,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(error) => error.message,
        Err(_) => String::from_utf8_lossy(body).chars().take(200).collect(),
    }
}

/// Percent-encodes a path segment (function names and instance IDs are
/// usually plain, but a FunctionName may hold characters a path cannot).
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    fn check(line: &str, expected: Expect) {
        let rendered = match parse_event_line(line) {
            Ok(event) => format!("{event:?}"),
            Err(error) => format!("error: {error}"),
        };
        expected.assert_eq(&rendered);
    }

    #[test]
    fn decodes_event_lines() {
        check(
            r#"{"debug":{"program":"/app/.fogbank/build/Hello/bootstrap","rspPort":4444},"event":"instanceStarted","function":"Hello","instance":"i1"}"#,
            expect![[
                r#"InstanceStarted { function: "Hello", instance: "i1", debug: Some(DebugEndpoint { rsp_port: 4444, program: "/app/.fogbank/build/Hello/bootstrap" }) }"#
            ]],
        );
        check(
            r#"{"debug":null,"event":"instanceStarted","function":"Hello","instance":"i2"}"#,
            expect![[r#"InstanceStarted { function: "Hello", instance: "i2", debug: None }"#]],
        );
        check(
            r#"{"errorType":null,"event":"invocationFinished","function":"Hello","instance":"i1","requestId":"r1"}"#,
            expect![[
                r#"InvocationFinished { function: "Hello", instance: "i1", request_id: "r1", error_type: None }"#
            ]],
        );
        check(
            r#"{"event":"redeployed","function":"Hello","version":3,"codeDir":"/b","debug":true}"#,
            expect![[
                r#"Redeployed { function: "Hello", version: 3, code_dir: "/b", debug: true }"#
            ]],
        );
        check(
            r#"{"event":"log","function":"Hello","line":"hi"}"#,
            expect![[r#"Log { function: "Hello", line: "hi" }"#]],
        );
        check(
            r#"{"event":"lagged","missed":4}"#,
            expect!["Lagged { missed: 4 }"],
        );
        check(
            r#"{"artifact":"/app/.fogbank/build/Hello/bootstrap","buildMs":1840,"codeDir":"/app/.fogbank/build/Hello","event":"reload","function":"Hello","source":"/app","swapMs":12,"version":3}"#,
            expect![[
                r#"Reload { function: "Hello", version: 3, code_dir: "/app/.fogbank/build/Hello", artifact: Some("/app/.fogbank/build/Hello/bootstrap") }"#
            ]],
        );
        check(
            r#"{"error":"cargo build failed","event":"reloadFailed","function":"Hello"}"#,
            expect![[r#"ReloadFailed { function: "Hello", error: "cargo build failed" }"#]],
        );
        check(r#"{"event":"somethingNew","x":1}"#, expect!["Unknown"]);
        check(
            r#"{"event":"log"}"#,
            expect![[
                r#"error: an emulator event could not be read (missing field `function`): {"event":"log"}"#
            ]],
        );
    }

    #[test]
    fn encodes_segments() {
        assert_eq!(encode_segment("Hello-Fn_1"), "Hello-Fn_1");
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn reads_error_messages() {
        assert_eq!(
            error_message(br#"{"message":"no function X"}"#),
            "no function X"
        );
        assert_eq!(error_message(b"plain"), "plain");
    }
}
