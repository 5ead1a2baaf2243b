//! Live mode on the developer's machine: attach to the session, take every
//! forwarding stub that arrives, and answer its invocations by running the
//! function locally through an [`InvokeLocally`] implementation (fogbank's
//! Invoker in `fogbank live`, a plain function in tests).
//!
//! Channels are independent: each sandbox's stub has its own and sends its
//! invocations one at a time (a Lambda sandbox runs one at a time), so
//! invocations of different sandboxes run concurrently here.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio_util::sync::CancellationToken;

use crate::client::asynch::{Attachment, attach, join};
use crate::client::{ClientError, RelaySettings};
use crate::live::{LiveDecoder, LiveMessage};
use crate::noise::{ChannelMode, DeveloperHello};
use crate::wire::ChannelId;

/// How long before a cloud deadline the developer is warned, at most.
const DEADLINE_WARNING: Duration = Duration::from_secs(5);

/// One forwarded cloud invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedInvocation {
    /// The cloud's request id.
    pub request_id: String,
    /// Every Runtime API header the sandbox received.
    pub headers: Vec<(String, String)>,
    /// The event.
    pub body: Vec<u8>,
    /// The sandbox's environment (minus the deny-list), as its stub sent it.
    pub environment: Arc<Vec<(String, String)>>,
}

impl ForwardedInvocation {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The time left until the cloud invocation's deadline, from
    /// `Lambda-Runtime-Deadline-Ms` and the current wall clock.
    pub fn remaining(&self) -> Option<Duration> {
        let deadline: u64 = self.header("lambda-runtime-deadline-ms")?.parse().ok()?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_millis() as u64;
        Some(Duration::from_millis(deadline.saturating_sub(now)))
    }
}

/// The local run's result, sent back to the cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalOutcome {
    /// The function returned this payload.
    Response(Vec<u8>),
    /// The function (or its local run) failed.
    Error {
        /// `errorType`.
        error_type: String,
        /// The error document.
        body: Vec<u8>,
    },
}

/// Runs forwarded invocations locally.
pub trait InvokeLocally: Send + Sync + 'static {
    /// Runs one invocation to completion.
    fn invoke(&self, invocation: ForwardedInvocation) -> impl Future<Output = LocalOutcome> + Send;
}

/// What happened, for the developer's console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveEvent {
    /// The session is attached; stubs will be taken.
    Attached,
    /// A sandbox's stub connected.
    SandboxConnected {
        /// Its channel.
        channel: String,
        /// Its software, from its hello.
        software: String,
    },
    /// A cloud invocation arrived.
    Invoked {
        /// Its channel.
        channel: String,
        /// The cloud request id.
        request_id: String,
        /// Time left until the cloud deadline.
        remaining: Option<Duration>,
    },
    /// An invocation was answered.
    Answered {
        /// Its channel.
        channel: String,
        /// The cloud request id.
        request_id: String,
        /// Whether it failed.
        error: bool,
        /// Local run time.
        took: Duration,
    },
    /// An invocation is still running locally close to its cloud deadline
    /// (the cloud's clock cannot be paused while a breakpoint holds it).
    DeadlineNear {
        /// Its channel.
        channel: String,
        /// The cloud request id.
        request_id: String,
        /// Time left until the cloud deadline.
        remaining: Duration,
    },
    /// An invocation is still running locally after its cloud deadline:
    /// the cloud has answered its caller with a timeout, and this run's
    /// answer will be refused.
    DeadlinePassed {
        /// Its channel.
        channel: String,
        /// The cloud request id.
        request_id: String,
    },
    /// A channel ended or failed.
    SandboxLeft {
        /// Its channel.
        channel: String,
        /// Why, if it failed.
        error: Option<String>,
    },
}

/// A warning about a cloud deadline, from [`watch_deadline`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineWarning {
    /// This much time is left.
    Near(Duration),
    /// The deadline passed.
    Passed,
}

/// Runs `run` (a forwarded invocation's local run) and calls `warn` once
/// when less than a fifth of `remaining` (at most 5 s) is left, and once
/// more when the deadline passes, if `run` has not finished by then. The
/// cloud's clock keeps going while a breakpoint holds the local run, so the
/// developer is told before the cloud gives up. Uses tokio's clock, so
/// tests run it with paused time.
pub async fn watch_deadline<T>(
    run: impl Future<Output = T>,
    remaining: Option<Duration>,
    mut warn: impl FnMut(DeadlineWarning),
) -> T {
    let Some(remaining) = remaining else {
        return run.await;
    };
    tokio::pin!(run);
    let warn_after = remaining.saturating_sub((remaining / 5).min(DEADLINE_WARNING));
    // An invocation that arrives with no time left only gets the second
    // warning: "near" would say nothing more.
    if !remaining.is_zero() {
        tokio::select! {
            outcome = &mut run => return outcome,
            () = tokio::time::sleep(warn_after) => {
                warn(DeadlineWarning::Near(remaining.saturating_sub(warn_after)));
            }
        }
    }
    tokio::select! {
        outcome = &mut run => outcome,
        () = tokio::time::sleep(remaining.saturating_sub(warn_after)) => {
            warn(DeadlineWarning::Passed);
            run.await
        }
    }
}

/// Attaches to the session and serves live channels until `shutdown` is
/// cancelled or the attachment fails (the relay refused the session or
/// closed the connection). `events` sees what happens.
pub async fn serve_live<I: InvokeLocally>(
    settings: RelaySettings,
    invoker: Arc<I>,
    events: impl Fn(LiveEvent) + Send + Sync + 'static,
    shutdown: CancellationToken,
) -> Result<(), ClientError> {
    let attachment = attach(&settings).await?;
    events(LiveEvent::Attached);
    serve_live_attached(attachment, settings, invoker, events, shutdown).await
}

/// [`serve_live`] on an attachment made beforehand (by
/// [`crate::client::asynch::attach`]), so that a caller can report a
/// refused session before it prepares the local side.
pub async fn serve_live_attached<I: InvokeLocally>(
    mut attachment: Attachment,
    settings: RelaySettings,
    invoker: Arc<I>,
    events: impl Fn(LiveEvent) + Send + Sync + 'static,
    shutdown: CancellationToken,
) -> Result<(), ClientError> {
    let events = Arc::new(events);
    let settings = Arc::new(settings);
    loop {
        let channel = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            next = attachment.next() => match next {
                Some(Ok(channel)) => channel,
                Some(Err(error)) => return Err(error),
                None => return Err(ClientError::Closed),
            },
        };
        let settings = settings.clone();
        let invoker = invoker.clone();
        let events = events.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let name = channel.short();
            let result = tokio::select! {
                result = serve_channel(&settings, channel, invoker, &*events) => result,
                () = shutdown.cancelled() => Ok(()),
            };
            events(LiveEvent::SandboxLeft {
                channel: name,
                error: result.err().map(|error| error.to_string()),
            });
        });
    }
}

async fn serve_channel<I: InvokeLocally>(
    settings: &RelaySettings,
    channel: ChannelId,
    invoker: Arc<I>,
    events: &(impl Fn(LiveEvent) + Send + Sync),
) -> Result<(), ClientError> {
    let (hello, mut stream) = join(settings, channel, |hello| match hello.mode {
        ChannelMode::Live => DeveloperHello::Accept,
        ChannelMode::InPlace => DeveloperHello::Decline(
            "this debugger serves live mode; the agent serves in-place mode (set \"mode\": \"in-place\")".into(),
        ),
    })
    .await?;
    let name = channel.short();
    events(LiveEvent::SandboxConnected {
        channel: name.clone(),
        software: hello.software,
    });
    let mut decoder = LiveDecoder::new();
    let mut environment = Arc::new(Vec::new());
    loop {
        let Some(message) = read_message(&mut stream, &mut decoder).await? else {
            return Ok(());
        };
        match message {
            LiveMessage::Environment { vars } => environment = Arc::new(vars),
            LiveMessage::Invoke {
                request_id,
                headers,
                body,
            } => {
                let invocation = ForwardedInvocation {
                    request_id: request_id.clone(),
                    headers,
                    body,
                    environment: environment.clone(),
                };
                events(LiveEvent::Invoked {
                    channel: name.clone(),
                    request_id: request_id.clone(),
                    remaining: invocation.remaining(),
                });
                let started = Instant::now();
                let remaining = invocation.remaining();
                let outcome = watch_deadline(invoker.invoke(invocation), remaining, |warning| {
                    events(match warning {
                        DeadlineWarning::Near(left) => LiveEvent::DeadlineNear {
                            channel: name.clone(),
                            request_id: request_id.clone(),
                            remaining: left,
                        },
                        DeadlineWarning::Passed => LiveEvent::DeadlinePassed {
                            channel: name.clone(),
                            request_id: request_id.clone(),
                        },
                    })
                })
                .await;
                let error = matches!(outcome, LocalOutcome::Error { .. });
                let reply = match outcome {
                    LocalOutcome::Response(body) => LiveMessage::Response {
                        request_id: request_id.clone(),
                        body,
                    },
                    LocalOutcome::Error { error_type, body } => LiveMessage::Error {
                        request_id: request_id.clone(),
                        error_type,
                        body,
                    },
                };
                stream
                    .write_all(&reply.encode())
                    .await
                    .map_err(|error| ClientError::Io(error.to_string()))?;
                events(LiveEvent::Answered {
                    channel: name.clone(),
                    request_id,
                    error,
                    took: started.elapsed(),
                });
            }
            other => {
                return Err(ClientError::Protocol(format!(
                    "the forwarding stub sent a {} message, which only the developer sends",
                    match other {
                        LiveMessage::Response { .. } => "response",
                        _ => "error",
                    }
                )));
            }
        }
    }
}

async fn read_message(
    stream: &mut DuplexStream,
    decoder: &mut LiveDecoder,
) -> Result<Option<LiveMessage>, ClientError> {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        if let Some(message) = decoder.next_message() {
            return message
                .map(Some)
                .map_err(|error| ClientError::Protocol(error.to_string()));
        }
        let count = stream
            .read(&mut buffer)
            .await
            .map_err(|error| ClientError::Io(error.to_string()))?;
        if count == 0 {
            return Ok(None);
        }
        decoder.push(&buffer[..count]);
    }
}

/// Runs forwarded invocations through a local fogbank's Lambda Invoke API
/// (`fogbank start`, which may run the function under the debugger).
///
/// Mapping: the event is the payload; `Lambda-Runtime-Trace-Id` becomes
/// `X-Amzn-Trace-Id`; `Lambda-Runtime-Client-Context` becomes
/// `X-Amz-Client-Context` (base64, as the Invoke API takes it). A function
/// error (`X-Amz-Function-Error`) or an API error becomes
/// [`LocalOutcome::Error`] with the error type the body or
/// `x-amzn-ErrorType` names.
///
/// With [`InvokeApi::with_control`], the sandbox's forwarded environment is
/// laid over the local function's through fogbank's control interface
/// (`PUT /fogbank/v1/functions/{name}/cloud-environment`) before the first
/// invocation, and again when a sandbox's configuration differs; the local
/// instances then run with the cloud's variables and its role's temporary
/// credentials.
#[derive(Debug)]
pub struct InvokeApi {
    url: String,
    /// The control interface's cloud-environment URL for the function.
    environment_url: Option<String>,
    /// The environment last laid over the local function.
    applied: tokio::sync::Mutex<Option<Arc<Environment>>>,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<bytes::Bytes>,
    >,
}

/// A sandbox's environment variables, in its order.
type Environment = Vec<(String, String)>;

/// Variables that differ between sandboxes of one function (each has its
/// own credentials and log stream): a sandbox whose environment differs
/// only in these does not restart the local instances.
const PER_SANDBOX: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "_X_AMZN_TRACE_ID",
];

/// Whether two sandboxes' environments configure the function alike.
fn same_configuration(a: &[(String, String)], b: &[(String, String)]) -> bool {
    let configuration = |vars: &[(String, String)]| {
        let mut kept: Vec<(String, String)> = vars
            .iter()
            .filter(|(key, _)| !PER_SANDBOX.contains(&key.as_str()))
            .cloned()
            .collect();
        kept.sort();
        kept
    };
    configuration(a) == configuration(b)
}

impl InvokeApi {
    /// The Invoke API at `endpoint` (e.g. `http://127.0.0.1:3001`) for
    /// `function` (its logical ID or name).
    pub fn new(endpoint: &str, function: &str) -> InvokeApi {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(hyper_util::client::legacy::connect::HttpConnector::new());
        InvokeApi {
            url: format!(
                "{}/2015-03-31/functions/{function}/invocations",
                endpoint.trim_end_matches('/')
            ),
            environment_url: None,
            applied: tokio::sync::Mutex::new(None),
            client,
        }
    }

    /// Also lays each sandbox's forwarded environment over the local
    /// function's, through fogbank's control interface at `endpoint`
    /// (e.g. `http://127.0.0.1:3002`).
    pub fn with_control(mut self, endpoint: &str, function: &str) -> InvokeApi {
        self.environment_url = Some(format!(
            "{}/fogbank/v1/functions/{function}/cloud-environment",
            endpoint.trim_end_matches('/')
        ));
        self
    }

    /// Gives the local function its own environment back (when the
    /// developer leaves). Does nothing when no environment was laid over.
    pub async fn restore_environment(&self) -> Result<(), String> {
        let mut applied = self.applied.lock().await;
        let Some(url) = &self.environment_url else {
            return Ok(());
        };
        if applied.is_none() {
            return Ok(());
        }
        self.send_control(hyper::Method::DELETE, url, Vec::new())
            .await?;
        *applied = None;
        Ok(())
    }

    /// Lays `environment` over the local function's unless an environment
    /// of the same configuration already is.
    async fn apply_environment(
        &self,
        environment: &Arc<Vec<(String, String)>>,
    ) -> Result<(), String> {
        let Some(url) = &self.environment_url else {
            return Ok(());
        };
        if environment.is_empty() {
            // The stub sent no environment: nothing to lay over.
            return Ok(());
        }
        let mut applied = self.applied.lock().await;
        // A channel sends its environment once and every invocation of it
        // shares that Arc: the applied sandbox's invocations skip the
        // variable-by-variable comparison.
        if applied.as_ref().is_some_and(|current| {
            Arc::ptr_eq(current, environment) || same_configuration(current, environment)
        }) {
            return Ok(());
        }
        let variables: serde_json::Map<String, serde_json::Value> = environment
            .iter()
            .map(|(key, value)| (key.clone(), serde_json::Value::String(value.clone())))
            .collect();
        let body = serde_json::json!({ "variables": variables }).to_string();
        self.send_control(hyper::Method::PUT, url, body.into_bytes())
            .await?;
        *applied = Some(environment.clone());
        Ok(())
    }

    async fn send_control(
        &self,
        method: hyper::Method,
        url: &str,
        body: Vec<u8>,
    ) -> Result<(), String> {
        use http_body_util::BodyExt as _;
        let request = hyper::Request::builder()
            .method(method)
            .uri(url)
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .map_err(|error| format!("building the request failed: {error}"))?;
        let response = self.client.request(request).await.map_err(|error| {
            format!("cannot reach fogbank's control interface at {url}: {error}")
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response
            .into_body()
            .collect()
            .await
            .map(|collected| collected.to_bytes().to_vec())
            .unwrap_or_default();
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|document| document.get("message")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        Err(format!(
            "fogbank's control interface at {url} answered {status}: {message}"
        ))
    }

    async fn call(&self, invocation: &ForwardedInvocation) -> Result<LocalOutcome, String> {
        use base64::Engine as _;
        use http_body_util::BodyExt as _;
        self.apply_environment(&invocation.environment)
            .await
            .map_err(|error| format!("applying the cloud sandbox's environment failed: {error}"))?;
        let mut request =
            hyper::Request::post(&self.url).header("content-type", "application/json");
        if let Some(trace) = invocation.header("lambda-runtime-trace-id") {
            request = request.header("x-amzn-trace-id", trace);
        }
        if let Some(context) = invocation.header("lambda-runtime-client-context") {
            request = request.header(
                "x-amz-client-context",
                base64::engine::general_purpose::STANDARD.encode(context),
            );
        }
        let request = request
            .body(http_body_util::Full::new(bytes::Bytes::from(
                invocation.body.clone(),
            )))
            .map_err(|error| format!("building the request failed: {error}"))?;
        let response = self.client.request(request).await.map_err(|error| {
            format!("cannot reach the local Invoke API at {}: {error}", self.url)
        })?;
        let status = response.status();
        let function_error = response.headers().contains_key("x-amz-function-error");
        let api_error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|value| value.to_str().ok())
            .map(|value| value.split(':').next().unwrap_or(value).to_owned());
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|error| format!("reading the local Invoke API's answer failed: {error}"))?
            .to_bytes()
            .to_vec();
        if status.is_success() && !function_error {
            return Ok(LocalOutcome::Response(body));
        }
        let named = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|document| {
                document
                    .get("errorType")
                    .and_then(|t| t.as_str())
                    .map(str::to_owned)
            });
        let error_type = named
            .or(api_error_type)
            .unwrap_or_else(|| format!("Fogbank.LocalInvoke{}", status.as_u16()));
        Ok(LocalOutcome::Error { error_type, body })
    }
}

impl InvokeLocally for InvokeApi {
    async fn invoke(&self, invocation: ForwardedInvocation) -> LocalOutcome {
        match self.call(&invocation).await {
            Ok(outcome) => outcome,
            Err(message) => {
                let body = serde_json::json!({
                    "errorType": "Fogbank.LocalInvokeFailed",
                    "errorMessage": message,
                });
                LocalOutcome::Error {
                    error_type: "Fogbank.LocalInvokeFailed".into(),
                    body: body.to_string().into_bytes(),
                }
            }
        }
    }
}

/// In-place mode on the developer's machine: takes the agent that runs the
/// function under ptrace in the sandbox and serves its GDB remote protocol
/// on `listener` (a local port), so that fogbank-dap or gdb connects to it
/// as to a local agent (`target remote 127.0.0.1:PORT`). One sandbox at a
/// time: the next is taken when the local debugger disconnects. Runs until
/// `shutdown` is cancelled or the attachment fails.
pub async fn serve_in_place(
    settings: RelaySettings,
    listener: tokio::net::TcpListener,
    events: impl Fn(LiveEvent) + Send + Sync + 'static,
    shutdown: CancellationToken,
) -> Result<(), ClientError> {
    let mut attachment = attach(&settings).await?;
    events(LiveEvent::Attached);
    loop {
        let channel = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            next = attachment.next() => match next {
                Some(Ok(channel)) => channel,
                Some(Err(error)) => return Err(error),
                None => return Err(ClientError::Closed),
            },
        };
        let name = channel.short();
        let joined = join(&settings, channel, |hello| match hello.mode {
            ChannelMode::InPlace => DeveloperHello::Accept,
            ChannelMode::Live => DeveloperHello::Decline(
                "this debugger serves in-place mode; the agent is a live-mode forwarding stub (use `fogbank live`, or \"mode\": \"live\")"
                    .into(),
            ),
        })
        .await;
        let (hello, mut remote) = match joined {
            Ok(joined) => joined,
            Err(error) => {
                events(LiveEvent::SandboxLeft {
                    channel: name,
                    error: Some(error.to_string()),
                });
                continue;
            }
        };
        events(LiveEvent::SandboxConnected {
            channel: name.clone(),
            software: hello.software,
        });
        let local = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            accepted = listener.accept() => accepted,
        };
        let error = match local {
            Ok((mut local, _)) => {
                let _ = local.set_nodelay(true);
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    copied = tokio::io::copy_bidirectional(&mut local, &mut remote) => copied.err().map(|error| error.to_string()),
                }
            }
            Err(error) => Some(format!("accepting the local debugger failed: {error}")),
        };
        events(LiveEvent::SandboxLeft {
            channel: name,
            error,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a local run taking `takes` against a deadline `remaining` away,
    /// with tokio's clock paused, and returns the warnings with the
    /// (virtual) time each came at.
    async fn check(
        takes: Duration,
        remaining: Option<Duration>,
        expected: &[(u64, DeadlineWarning)],
    ) {
        let start = tokio::time::Instant::now();
        let mut warnings = Vec::new();
        let outcome = watch_deadline(
            async {
                tokio::time::sleep(takes).await;
                "done"
            },
            remaining,
            |warning| warnings.push((start.elapsed().as_millis() as u64, warning)),
        )
        .await;
        assert_eq!(outcome, "done");
        assert_eq!(start.elapsed(), takes, "the run is never cut short");
        assert_eq!(
            warnings, expected,
            "takes {takes:?}, remaining {remaining:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_warnings_come_before_and_at_the_cloud_deadline() {
        let s = Duration::from_secs;
        use DeadlineWarning::{Near, Passed};
        // Held at a breakpoint past the deadline: warned 5 s before (a
        // fifth of 60 s is more than 5 s), and when it passes.
        check(
            s(90),
            Some(s(60)),
            &[(55_000, Near(s(5))), (60_000, Passed)],
        )
        .await;
        // A short deadline: warned with a fifth of it left.
        check(
            s(3),
            Some(s(2)),
            &[(1_600, Near(Duration::from_millis(400))), (2_000, Passed)],
        )
        .await;
        // Finished in time: no warning.
        check(s(1), Some(s(60)), &[]).await;
        // Finished between the warning and the deadline.
        check(s(57), Some(s(60)), &[(55_000, Near(s(5)))]).await;
        // No deadline header: nothing to warn about.
        check(s(600), None, &[]).await;
        // Arrived with no time left: only "passed".
        check(s(1), Some(Duration::ZERO), &[(0, Passed)]).await;
    }

    #[test]
    fn sandboxes_differing_only_in_credentials_share_a_configuration() {
        let vars = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let first = vars(&[
            ("AWS_ACCESS_KEY_ID", "ASIA1"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "stream-1"),
            ("ORDERS_TABLE", "orders-prod"),
            ("AWS_REGION", "eu-west-1"),
        ]);
        let second = vars(&[
            ("AWS_REGION", "eu-west-1"),
            ("ORDERS_TABLE", "orders-prod"),
            ("AWS_ACCESS_KEY_ID", "ASIA2"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "stream-2"),
        ]);
        let redeployed = vars(&[
            ("AWS_ACCESS_KEY_ID", "ASIA1"),
            ("ORDERS_TABLE", "orders-v2"),
            ("AWS_REGION", "eu-west-1"),
        ]);
        assert!(same_configuration(&first, &second));
        assert!(!same_configuration(&first, &redeployed));
        assert!(!same_configuration(&first, &[]));
    }
}
