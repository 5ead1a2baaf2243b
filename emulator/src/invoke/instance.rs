//! One instance: a running bootstrap, its Runtime API endpoint, and the
//! rules for one invocation on it (timeouts, crashes, logs).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::events::{DebugEndpoint, InstanceEvent};
use super::output::InstanceOutput;
use super::pool::Versioned;
use super::report;
use super::{Completed, FunctionError, Invocation, Outcome, Shared};
use crate::app::Function;
use crate::backend::{BackendError, DebugLaunch, ExitReason, InstanceControl, InstanceSpec};
use crate::runtime_api::{
    self, Dispatch, ErrorReport, InvocationStart, MAX_RESPONSE_BYTES, RuntimeChannel, RuntimeReply,
};

pub(crate) struct Instance {
    id: String,
    function: Arc<str>,
    version: u64,
    /// True while the debugger holds the instance stopped; its timeout
    /// does not run then.
    paused: watch::Sender<bool>,
    debug: bool,
    shared: Arc<Shared>,
    channel: Arc<RuntimeChannel>,
    control: Box<dyn InstanceControl>,
    exit: watch::Receiver<Option<ExitReason>>,
    output: Arc<InstanceOutput>,
    started_at: Instant,
    /// Set once the cold start's Init Duration has been reported.
    init_reported: AtomicBool,
}

/// How long an instance's Runtime API outlives shutdown when the
/// instance's exit is never reported.
const RUNTIME_API_GRACE: Duration = Duration::from_secs(10);

/// Whether an instance's output is shown from its start.
pub(crate) enum OutputMode {
    Shown,
    /// A reload's prepared instance: its output waits for the pool to
    /// adopt it, and is dropped with it otherwise (its version failed its
    /// check, so its crash would only repeat the check's error).
    HeldUntilAdopted,
}

/// The result of running one invocation on an instance.
pub(crate) struct RunResult {
    pub completed: Completed,
    /// False when the instance must not serve again (it timed out, crashed
    /// or broke the protocol).
    pub reusable: bool,
}

/// An instance that could not be started at all.
pub(crate) struct StartFailure {
    error_type: &'static str,
    message: String,
}

impl StartFailure {
    /// The failed start as the result of the invocation that needed it.
    pub fn for_invocation(self, invocation: &Invocation) -> Completed {
        Completed {
            request_id: invocation.request_id.clone(),
            outcome: Outcome::Error(FunctionError::platform(
                self.error_type,
                &invocation.request_id,
                &self.message,
            )),
            log_tail: invocation.log_tail.then(String::new),
            duration: Duration::ZERO,
        }
    }
}

impl From<BackendError> for StartFailure {
    fn from(error: BackendError) -> StartFailure {
        let error_type = match &error {
            BackendError::InvalidEntrypoint { .. } | BackendError::MissingInterpreter { .. } => {
                "Runtime.InvalidEntrypoint"
            }
            BackendError::Spawn { .. } | BackendError::Engine { .. } => "Runtime.Unknown",
        };
        StartFailure {
            error_type,
            message: error.to_string(),
        }
    }
}

impl Instance {
    /// Binds the instance's Runtime API and starts its process.
    pub async fn start(
        shared: &Arc<Shared>,
        deployment: &Arc<Versioned>,
        number: u64,
        output_mode: OutputMode,
    ) -> Result<Arc<Instance>, StartFailure> {
        let function = &deployment.function;
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|error| StartFailure {
                error_type: "Runtime.Unknown",
                message: format!("binding the Runtime API listener: {error}"),
            })?;
        let runtime_api = listener.local_addr().map_err(|error| StartFailure {
            error_type: "Runtime.Unknown",
            message: format!("reading the Runtime API address: {error}"),
        })?;
        let identity = &shared.settings.endpoints.identity;
        let channel = Arc::new(RuntimeChannel::new(
            identity.function_arn(&function.name),
            function.timeout,
        ));
        // The Runtime API serves until the instance's process has exited
        // (the exit watcher below), not merely until shutdown begins. Until
        // that watcher exists, any early return (or a panic, or the caller
        // dropping this future) stops it.
        let stop = CancellationToken::new();
        tokio::spawn(runtime_api::run(listener, channel.clone(), stop.clone()));
        let stop_unless_watched = stop.clone().drop_guard();

        let output = InstanceOutput::new(
            Arc::from(function.logical_id.as_str()),
            shared.settings.console.clone(),
            Some(shared.logs.clone()),
        );
        let output = Arc::new(match output_mode {
            OutputMode::Shown => output,
            OutputMode::HeldUntilAdopted => output.holding(),
        });
        let instance_id = format!("{}{number:08x}", uuid::Uuid::new_v4().simple());
        let debug = match &deployment.debug {
            Some(config) => {
                let rsp_port = free_port().map_err(|error| StartFailure {
                    error_type: "Runtime.Unknown",
                    message: format!("choosing a port for the debug agent: {error}"),
                })?;
                Some(DebugLaunch {
                    agent: config.agent.clone(),
                    rsp_port,
                })
            }
            None => None,
        };
        let debug_endpoint = debug.as_ref().map(|launch| DebugEndpoint {
            rsp_port: launch.rsp_port,
            program: deployment.code_dir.join("bootstrap"),
        });
        let spec = InstanceSpec {
            function: function.clone(),
            code_dir: deployment.code_dir.clone(),
            instance_id: instance_id.clone(),
            runtime_api,
            endpoints: shared.settings.endpoints.clone(),
            output: output.clone(),
            debug,
            cloud_environment: deployment.cloud_environment.clone(),
        };
        let started_at = Instant::now();
        let running = shared.backend.start(spec).await?;

        let function_name: Arc<str> = Arc::from(function.logical_id.as_str());
        let _ = shared.events.send(InstanceEvent::Started {
            function: function_name.clone(),
            instance: instance_id.clone(),
            debug: debug_endpoint.clone(),
        });

        // When the process exits, fail whatever it was doing and stop its
        // Runtime API.
        let mut exit = running.exit.clone();
        let watcher_channel = channel.clone();
        let watcher_stop = stop.clone();
        let watcher_events = shared.events.clone();
        let watcher_function = function_name.clone();
        let watcher_id = instance_id.clone();
        let watcher_shutdown = shared.shutdown.clone();
        tokio::spawn(async move {
            let exited = async {
                loop {
                    if let Some(reason) = exit.borrow().clone() {
                        break reason;
                    }
                    if exit.changed().await.is_err() {
                        break ExitReason::Lost(
                            "the backend stopped watching the instance".to_owned(),
                        );
                    }
                }
            };
            // An exit that is never reported (a hung Docker engine) must
            // not keep the listener forever: after shutdown it gets a grace
            // period, then stops.
            let abandoned = async {
                watcher_shutdown.cancelled().await;
                tokio::time::sleep(RUNTIME_API_GRACE).await;
                ExitReason::Lost("the instance did not exit after shutdown".to_owned())
            };
            let reason = tokio::select! {
                reason = exited => reason,
                reason = abandoned => reason,
            };
            watcher_channel.close(&reason.to_string());
            watcher_stop.cancel();
            let _ = watcher_events.send(InstanceEvent::Stopped {
                function: watcher_function,
                instance: watcher_id,
            });
        });

        stop_unless_watched.disarm();
        Ok(Arc::new(Instance {
            id: instance_id,
            function: function_name,
            paused: watch::channel(false).0,
            debug: debug_endpoint.is_some(),
            shared: shared.clone(),
            version: deployment.version,
            channel,
            control: running.control,
            exit: running.exit,
            output,
            started_at,
            init_reported: AtomicBool::new(false),
        }))
    }

    /// Shows the output held since a prepared start, and all later output.
    pub fn release_output(&self) {
        self.output.release();
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn set_paused(&self, paused: bool) {
        self.paused.send_replace(paused);
    }

    pub fn is_alive(&self) -> bool {
        self.exit.borrow().is_none()
    }

    /// The error as the developer should see it: its stack trace names
    /// source files, not the build copy the function runs from.
    fn with_source_paths(&self, error: FunctionError) -> FunctionError {
        match self.control.source_paths() {
            Some(paths) => match paths.rewrite_json(&error.payload) {
                std::borrow::Cow::Owned(payload) => FunctionError {
                    payload: Bytes::from(payload),
                    ..error
                },
                std::borrow::Cow::Borrowed(_) => error,
            },
            None => error,
        }
    }

    /// Stops the instance (idempotent). Its Runtime API keeps serving
    /// until the process has exited: a bootstrap that found it closed
    /// while still alive (a container takes a moment to die) would print
    /// a connection error into the function's log.
    pub fn stop(&self) {
        self.control.kill();
    }

    /// Resolves once the process has exited.
    pub async fn exited(&self) {
        let mut exit = self.exit.clone();
        let _ = exit.wait_for(Option::is_some).await;
    }

    /// True once the bootstrap has asked for work.
    pub fn is_ready(&self) -> bool {
        self.channel.initialized_at().is_some()
    }

    /// Waits until the bootstrap has asked for work, or `limit` passes.
    pub async fn wait_ready(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.channel.initialized_at().is_none()
            && self.is_alive()
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Runs one invocation to its end.
    pub async fn run(&self, invocation: Invocation, function: &Function) -> RunResult {
        let request_id = invocation.request_id.clone();
        let (started_tx, mut started_rx) = oneshot::channel();
        let (reply_tx, mut reply_rx) = oneshot::channel();
        if invocation.log_tail {
            self.output.begin_capture();
        }
        let dispatch = Dispatch {
            request_id: request_id.clone(),
            payload: invocation.payload,
            trace_id: invocation.trace_id,
            client_context: invocation.client_context,
            cognito_identity: invocation.cognito_identity,
            started: started_tx,
            reply: reply_tx,
        };
        if self.channel.dispatch(dispatch).is_err() {
            let completed = self.finish(
                &request_id,
                invocation.log_tail,
                Duration::ZERO,
                Outcome::Error(FunctionError::platform(
                    "Runtime.ExitError",
                    &request_id,
                    "Runtime exited before it could take the invocation",
                )),
            );
            return RunResult {
                completed,
                reusable: false,
            };
        }

        // Phase one: wait for the bootstrap to take the event. A cold
        // instance may still be initialising.
        let init_limit = self.init_wait_limit(function);
        let phase_one = tokio::select! {
            biased;
            started = &mut started_rx => match started {
                Ok(start) => PhaseOne::Started { start, early_reply: None },
                // The dispatch was dropped unpicked, so its reply says why.
                Err(_) => PhaseOne::Failed((&mut reply_rx).await.ok()),
            },
            reply = &mut reply_rx => settle_early_reply(reply.ok(), &mut started_rx),
            () = tokio::time::sleep(init_limit) => PhaseOne::InitTimedOut,
        };
        let (start, early_reply) = match phase_one {
            PhaseOne::Started { start, early_reply } => (start, early_reply),
            PhaseOne::Failed(reply) => {
                // The instance failed before taking the event.
                let outcome = self.outcome_of_early_reply(&request_id, reply);
                let completed =
                    self.finish(&request_id, invocation.log_tail, Duration::ZERO, outcome);
                return RunResult {
                    completed,
                    reusable: false,
                };
            }
            PhaseOne::InitTimedOut => {
                self.stop();
                let outcome = Outcome::Error(FunctionError::platform(
                    "Runtime.InitError",
                    &request_id,
                    &format!(
                        "Runtime did not finish initialising within {:.2} seconds",
                        init_limit.as_secs_f64()
                    ),
                ));
                let completed =
                    self.finish(&request_id, invocation.log_tail, Duration::ZERO, outcome);
                return RunResult {
                    completed,
                    reusable: false,
                };
            }
        };
        self.output.platform_line(&report::start_line(&request_id));

        // Events are built only when someone listens: this is the hot path.
        self.shared.publish(|| InstanceEvent::InvocationStarted {
            function: self.function.clone(),
            instance: self.id.clone(),
            request_id: request_id.clone(),
            deadline_ms: start
                .deadline
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0),
        });

        // Phase two: the function runs until it answers, dies, or times out.
        // Time spent stopped in the debugger does not count.
        let mut deadline = tokio::time::Instant::from_std(start.at + function.timeout);
        let mut paused = self.paused.subscribe();
        let mut paused_since = (*paused.borrow_and_update()).then(tokio::time::Instant::now);
        let mut pause_tracking = true;
        let reply = if let Some(reply) = early_reply {
            reply
        } else {
            loop {
                tokio::select! {
                    biased;
                    reply = &mut reply_rx => break reply.ok(),
                    changed = paused.changed(), if pause_tracking => {
                        if changed.is_err() {
                            pause_tracking = false;
                            continue;
                        }
                        let now_paused = *paused.borrow_and_update();
                        match (now_paused, paused_since) {
                            (true, None) => paused_since = Some(tokio::time::Instant::now()),
                            (false, Some(since)) => {
                                deadline += since.elapsed();
                                paused_since = None;
                            }
                            _ => {}
                        }
                    }
                    () = tokio::time::sleep_until(deadline), if paused_since.is_none() => break None,
                }
            }
        };
        let duration = start.at.elapsed();
        let (outcome, reusable) = match reply {
            Some(RuntimeReply::Response(payload)) => (Outcome::Success(payload), true),
            Some(RuntimeReply::Error(report)) => {
                (Outcome::Error(self.with_source_paths(function_error(report, "Unhandled"))), true)
            }
            Some(RuntimeReply::ResponseTooLarge) => (
                Outcome::Error(FunctionError {
                    error_type: "Function.ResponseSizeTooLarge".to_owned(),
                    payload: Bytes::from(
                        serde_json::json!({
                            "errorType": "Function.ResponseSizeTooLarge",
                            "errorMessage": format!(
                                "Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
                            ),
                        })
                        .to_string(),
                    ),
                }),
                true,
            ),
            Some(RuntimeReply::InitError(report)) => (
                Outcome::Error(self.with_source_paths(function_error(report, "Runtime.InitError"))),
                false,
            ),
            Some(RuntimeReply::Exited { reason, .. }) => (self.exit_outcome(&request_id, &reason), false),
            None if !self.is_alive() => {
                let reason = self.exit_reason_text();
                (self.exit_outcome(&request_id, &reason), false)
            }
            None => {
                // Lambda stops the sandbox of a function that timed out.
                self.stop();
                let seconds = function.timeout.as_secs_f64();
                self.output.platform_line(&report::timeout_line(&request_id, seconds));
                (
                    Outcome::Error(FunctionError::platform(
                        "Sandbox.Timedout",
                        &request_id,
                        &format!("Task timed out after {seconds:.2} seconds"),
                    )),
                    false,
                )
            }
        };
        // Output written before the answer is in the pipe already; draining
        // it here puts it between START and END, and into the log tail.
        self.control.flush_output().await;
        let init = if self.init_reported.swap(true, Ordering::Relaxed) {
            None
        } else {
            self.channel
                .initialized_at()
                .map(|ready| ready.saturating_duration_since(self.started_at))
        };
        self.output.platform_line(&report::end_line(&request_id));
        self.output
            .platform_line(&report::report_line(&report::Report {
                request_id: &request_id,
                duration,
                memory_size_mb: function.memory_mb,
                max_memory_used_mb: self.control.max_memory_used_mb(),
                init_duration: init,
            }));
        self.shared.publish(|| InstanceEvent::InvocationFinished {
            function: self.function.clone(),
            instance: self.id.clone(),
            request_id: request_id.clone(),
            error_type: match &outcome {
                Outcome::Success(_) => None,
                Outcome::Error(error) => Some(error.error_type.clone()),
            },
        });
        let completed = self.finish(&request_id, invocation.log_tail, duration, outcome);
        RunResult {
            completed,
            reusable,
        }
    }

    fn init_wait_limit(&self, function: &Function) -> Duration {
        if self.debug {
            // The agent holds the bootstrap at its first instruction until
            // a debugger attaches, and the developer may then sit at a
            // breakpoint in init code for as long as they like.
            return Duration::from_secs(24 * 3600);
        }
        if self.channel.initialized_at().is_some() {
            // A warm instance takes its event at once; anything longer means
            // it is stuck, which the function timeout then reports.
            function.timeout
        } else {
            Duration::from_secs(10).max(function.timeout)
        }
    }

    fn outcome_of_early_reply(&self, request_id: &str, reply: Option<RuntimeReply>) -> Outcome {
        match reply {
            Some(RuntimeReply::InitError(report)) => {
                Outcome::Error(self.with_source_paths(function_error(report, "Runtime.InitError")))
            }
            Some(RuntimeReply::Exited {
                reason,
                during_init: true,
            }) => Outcome::Error(FunctionError::platform(
                "Runtime.InitError",
                request_id,
                &format!("Runtime exited during initialization: {reason}"),
            )),
            Some(RuntimeReply::Exited { reason, .. }) => self.exit_outcome(request_id, &reason),
            _ => self.exit_outcome(request_id, &self.exit_reason_text()),
        }
    }

    fn exit_reason_text(&self) -> String {
        match &*self.exit.borrow() {
            Some(reason) => reason.to_string(),
            None => "the runtime stopped answering".to_owned(),
        }
    }

    fn exit_outcome(&self, request_id: &str, reason: &str) -> Outcome {
        let out_of_memory = matches!(*self.exit.borrow(), Some(ExitReason::OutOfMemory));
        let error_type = if out_of_memory {
            "Runtime.OutOfMemory"
        } else {
            "Runtime.ExitError"
        };
        Outcome::Error(FunctionError::platform(
            error_type,
            request_id,
            &format!("Runtime exited with error: {reason}"),
        ))
    }

    fn finish(
        &self,
        request_id: &str,
        log_tail: bool,
        duration: Duration,
        outcome: Outcome,
    ) -> Completed {
        Completed {
            request_id: request_id.to_owned(),
            outcome,
            log_tail: log_tail.then(|| self.output.end_capture()),
            duration,
        }
    }
}

/// How phase one of an invocation ended: the bootstrap took the event
/// (perhaps answering it already), the instance failed first, or it never
/// finished initialising.
#[derive(Debug)]
enum PhaseOne {
    Started {
        start: InvocationStart,
        early_reply: Option<Option<RuntimeReply>>,
    },
    Failed(Option<RuntimeReply>),
    InitTimedOut,
}

/// Decides what a reply seen before the start means. The Runtime API sends
/// `started` before the reply can exist, but one poll of phase one checks
/// `started` first and the reply a moment later: on a loaded machine the
/// bootstrap can take the event and answer it in between. So a start that
/// is there now belongs to this reply, and the invocation ran normally.
fn settle_early_reply(
    reply: Option<RuntimeReply>,
    started: &mut oneshot::Receiver<InvocationStart>,
) -> PhaseOne {
    match started.try_recv() {
        Ok(start) => PhaseOne::Started {
            start,
            early_reply: Some(reply),
        },
        Err(_) => PhaseOne::Failed(reply),
    }
}

/// A free loopback port for a debug agent to listen on. The port is free
/// when chosen; the agent binds it a moment later.
fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

/// A runtime-reported error as the caller sees it. The runtime's body is
/// passed through when it is a JSON object, as Lambda does; anything else
/// is wrapped so the caller always gets `errorType`/`errorMessage`.
fn function_error(report: ErrorReport, default_type: &str) -> FunctionError {
    let parsed: Option<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(&report.body).ok();
    let body_type = parsed
        .as_ref()
        .and_then(|object| object.get("errorType"))
        .and_then(|value| value.as_str())
        .map(str::to_owned);
    let error_type = report
        .error_type
        .clone()
        .or(body_type)
        .unwrap_or_else(|| default_type.to_owned());
    let payload = match parsed {
        Some(_) => report.body,
        None => Bytes::from(
            serde_json::json!({
                "errorType": error_type,
                "errorMessage": String::from_utf8_lossy(&report.body),
            })
            .to_string(),
        ),
    };
    FunctionError {
        error_type,
        payload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(header: Option<&str>, body: &str, expected_type: &str, expected_body: &str) {
        let error = function_error(
            ErrorReport::new(header.map(str::to_owned), Bytes::from(body.to_owned())),
            "Unhandled",
        );
        assert_eq!(error.error_type, expected_type);
        assert_eq!(String::from_utf8_lossy(&error.payload), expected_body);
    }

    #[test]
    fn runtime_errors_become_lambda_errors() {
        let json = r#"{"errorMessage":"boom","errorType":"ValueError","stackTrace":[]}"#;
        check(None, json, "ValueError", json);
        check(Some("Runtime.Custom"), json, "Runtime.Custom", json);
        check(
            None,
            "not json",
            "Unhandled",
            r#"{"errorMessage":"not json","errorType":"Unhandled"}"#,
        );
        check(
            None,
            "",
            "Unhandled",
            r#"{"errorMessage":"","errorType":"Unhandled"}"#,
        );
    }

    fn start() -> InvocationStart {
        InvocationStart {
            at: Instant::now(),
            deadline: std::time::SystemTime::now(),
        }
    }

    #[test]
    fn a_reply_seen_before_its_start_still_belongs_to_a_started_invocation() {
        let (started_tx, mut started_rx) = oneshot::channel();
        started_tx.send(start()).ok();
        let reply = Some(RuntimeReply::Response(Bytes::from_static(b"ok")));
        let settled = settle_early_reply(reply.clone(), &mut started_rx);
        assert!(
            matches!(&settled, PhaseOne::Started { early_reply, .. } if *early_reply == Some(reply)),
            "expected a started invocation with its reply, got {settled:?}"
        );
    }

    #[test]
    fn a_reply_without_a_start_is_a_failure_before_the_event_was_taken() {
        let (started_tx, mut started_rx) = oneshot::channel::<InvocationStart>();
        drop(started_tx);
        let reply = Some(RuntimeReply::Exited {
            reason: "exit status 1".into(),
            during_init: true,
        });
        let settled = settle_early_reply(reply.clone(), &mut started_rx);
        assert!(
            matches!(&settled, PhaseOne::Failed(failed) if *failed == reply),
            "expected a failure with the exit reply, got {settled:?}"
        );
        let (_started_tx, mut started_rx) = oneshot::channel::<InvocationStart>();
        assert!(matches!(
            settle_early_reply(None, &mut started_rx),
            PhaseOne::Failed(None)
        ));
    }
}
