//! The hand-over point between the invoker and one instance's bootstrap.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::{Notify, oneshot};

/// Lambda's limit on a synchronous response: 6 MB as Lambda counts it.
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;

/// One invocation handed to an instance.
pub struct Dispatch {
    pub request_id: String,
    pub payload: Bytes,
    pub trace_id: String,
    /// The client context as JSON text (already base64-decoded).
    pub client_context: Option<String>,
    /// The Cognito identity as JSON text.
    pub cognito_identity: Option<String>,
    /// Told when the bootstrap picks the invocation up.
    pub started: oneshot::Sender<InvocationStart>,
    /// Told how the invocation ended.
    pub reply: oneshot::Sender<RuntimeReply>,
}

/// When the bootstrap received an invocation, and its deadline.
#[derive(Debug, Clone, Copy)]
pub struct InvocationStart {
    pub at: Instant,
    pub deadline: SystemTime,
}

/// An error reported by the runtime through `/error` or `/init/error`.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorReport {
    /// `Lambda-Runtime-Function-Error-Type`, when the runtime sent it.
    pub error_type: Option<String>,
    /// The body as posted, normally `{"errorMessage", "errorType", ...}`.
    pub body: Bytes,
}

impl ErrorReport {
    pub fn new(error_type: Option<String>, body: Bytes) -> ErrorReport {
        ErrorReport { error_type, body }
    }
}

/// How an invocation ended, as seen from the Runtime API.
#[derive(Debug, Clone, PartialEq)]
pub enum RuntimeReply {
    /// `/response` with this payload.
    Response(Bytes),
    /// `/error` with this report.
    Error(ErrorReport),
    /// The runtime tried to post a response over the size limit.
    ResponseTooLarge,
    /// The runtime reported an initialisation failure.
    InitError(ErrorReport),
    /// The instance stopped; the text says how (`exit status 1`).
    Exited { reason: String, during_init: bool },
}

/// What `next` hands to the bootstrap.
#[derive(Debug, Clone)]
pub struct NextEvent {
    pub request_id: String,
    pub payload: Bytes,
    pub deadline_ms: u128,
    pub function_arn: String,
    pub trace_id: String,
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
}

/// Shared state of one instance's Runtime API. Cheap operations only: the
/// lock is never held across an await.
pub struct RuntimeChannel {
    function_arn: String,
    timeout: Duration,
    state: Mutex<State>,
    next_ready: Notify,
}

#[derive(Default)]
struct State {
    pending: Option<Dispatch>,
    in_flight: Option<InFlight>,
    initialized_at: Option<Instant>,
    init_failure: Option<ErrorReport>,
    closed: bool,
}

struct InFlight {
    request_id: String,
    reply: oneshot::Sender<RuntimeReply>,
}

impl RuntimeChannel {
    pub fn new(function_arn: String, timeout: Duration) -> RuntimeChannel {
        RuntimeChannel {
            function_arn,
            timeout,
            state: Mutex::new(State::default()),
            next_ready: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing holding this lock can panic half-way through an update,
        // so a poisoned lock still guards consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// When the bootstrap first asked for work, which ends its init phase.
    pub fn initialized_at(&self) -> Option<Instant> {
        self.state().initialized_at
    }

    /// Hands an invocation to the instance. Gives it back if the instance
    /// can't take it (closed, or already busy).
    // The refused dispatch goes back by value so its caller can answer it;
    // it lives a moment on the stack, so its size does not matter.
    #[allow(clippy::result_large_err)]
    pub fn dispatch(&self, dispatch: Dispatch) -> Result<(), Dispatch> {
        let mut state = self.state();
        if state.closed || state.pending.is_some() || state.in_flight.is_some() {
            return Err(dispatch);
        }
        if let Some(report) = &state.init_failure {
            let _ = dispatch.reply.send(RuntimeReply::InitError(report.clone()));
            return Ok(());
        }
        state.pending = Some(dispatch);
        drop(state);
        self.next_ready.notify_one();
        Ok(())
    }

    /// Waits for the next invocation (the bootstrap's long poll). Returns
    /// `None` once the instance is closed.
    pub async fn next(&self) -> Option<NextEvent> {
        loop {
            {
                let mut state = self.state();
                if state.closed {
                    return None;
                }
                if state.initialized_at.is_none() {
                    state.initialized_at = Some(Instant::now());
                }
                if let Some(dispatch) = state.pending.take() {
                    if let Some(abandoned) = state.in_flight.take() {
                        // Asking for more work without answering means the
                        // runtime lost the invocation; say so to its caller
                        // instead of letting it run into the timeout.
                        let _ = abandoned.reply.send(RuntimeReply::Error(ErrorReport::new(
                            Some("Runtime.InvalidState".to_owned()),
                            Bytes::from(format!(
                                r#"{{"errorType":"Runtime.InvalidState","errorMessage":"the runtime asked for the next invocation without answering request {}"}}"#,
                                abandoned.request_id
                            )),
                        )));
                    }
                    let at = Instant::now();
                    let deadline = SystemTime::now() + self.timeout;
                    let _ = dispatch.started.send(InvocationStart { at, deadline });
                    let event = NextEvent {
                        request_id: dispatch.request_id.clone(),
                        payload: dispatch.payload,
                        deadline_ms: deadline
                            .duration_since(UNIX_EPOCH)
                            .map(|d| d.as_millis())
                            .unwrap_or(0),
                        function_arn: self.function_arn.clone(),
                        trace_id: dispatch.trace_id,
                        client_context: dispatch.client_context,
                        cognito_identity: dispatch.cognito_identity,
                    };
                    state.in_flight = Some(InFlight {
                        request_id: dispatch.request_id,
                        reply: dispatch.reply,
                    });
                    return Some(event);
                }
            }
            self.next_ready.notified().await;
        }
    }

    /// Completes the in-flight invocation `request_id`. Returns false if no
    /// invocation with that ID is in flight.
    pub fn complete(&self, request_id: &str, reply: RuntimeReply) -> bool {
        let mut state = self.state();
        match &state.in_flight {
            Some(in_flight) if in_flight.request_id == request_id => {
                if let Some(in_flight) = state.in_flight.take() {
                    let _ = in_flight.reply.send(reply);
                }
                true
            }
            _ => false,
        }
    }

    /// Records an init failure reported by the runtime, failing the
    /// invocation waiting for this instance, if any.
    pub fn init_error(&self, report: ErrorReport) {
        let mut state = self.state();
        if let Some(dispatch) = state.pending.take() {
            let _ = dispatch.reply.send(RuntimeReply::InitError(report.clone()));
        }
        state.init_failure = Some(report);
    }

    /// Closes the channel because the instance stopped, failing whatever
    /// was waiting or running.
    pub fn close(&self, reason: &str) {
        let mut state = self.state();
        state.closed = true;
        let during_init = state.initialized_at.is_none();
        if let Some(dispatch) = state.pending.take() {
            let reply = match &state.init_failure {
                Some(report) => RuntimeReply::InitError(report.clone()),
                None => RuntimeReply::Exited {
                    reason: reason.to_owned(),
                    during_init,
                },
            };
            let _ = dispatch.reply.send(reply);
        }
        if let Some(in_flight) = state.in_flight.take() {
            let _ = in_flight.reply.send(RuntimeReply::Exited {
                reason: reason.to_owned(),
                during_init: false,
            });
        }
        drop(state);
        self.next_ready.notify_waiters();
        // A `next` that checked the state just before `closed` was set may
        // not be registered as a waiter yet; a stored permit wakes it.
        self.next_ready.notify_one();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn dispatch(
        id: &str,
    ) -> (
        Dispatch,
        oneshot::Receiver<InvocationStart>,
        oneshot::Receiver<RuntimeReply>,
    ) {
        let (started, started_rx) = oneshot::channel();
        let (reply, reply_rx) = oneshot::channel();
        (
            Dispatch {
                request_id: id.to_owned(),
                payload: Bytes::from_static(b"{}"),
                trace_id: "Root=1-0-0".to_owned(),
                client_context: None,
                cognito_identity: None,
                started,
                reply,
            },
            started_rx,
            reply_rx,
        )
    }

    fn channel() -> RuntimeChannel {
        RuntimeChannel::new(
            "arn:aws:lambda:us-east-1:123456789012:function:F".into(),
            Duration::from_secs(3),
        )
    }

    #[tokio::test]
    async fn an_invocation_round_trips() {
        let channel = channel();
        let (d, started, reply) = dispatch("r1");
        assert!(channel.dispatch(d).is_ok());
        let event = channel.next().await.unwrap();
        assert_eq!(event.request_id, "r1");
        assert!(started.await.is_ok());
        assert!(channel.initialized_at().is_some());
        assert!(!channel.complete("other", RuntimeReply::Response(Bytes::new())));
        assert!(channel.complete("r1", RuntimeReply::Response(Bytes::from_static(b"ok"))));
        assert_eq!(
            reply.await.unwrap(),
            RuntimeReply::Response(Bytes::from_static(b"ok"))
        );
        assert!(
            !channel.complete("r1", RuntimeReply::Response(Bytes::new())),
            "completes once"
        );
    }

    #[tokio::test]
    async fn next_waits_for_a_dispatch() {
        let channel = std::sync::Arc::new(channel());
        let waiter = tokio::spawn({
            let channel = channel.clone();
            async move { channel.next().await.map(|e| e.request_id) }
        });
        tokio::task::yield_now().await;
        let (d, _started, _reply) = dispatch("later");
        assert!(channel.dispatch(d).is_ok());
        assert_eq!(waiter.await.unwrap().as_deref(), Some("later"));
    }

    #[tokio::test]
    async fn a_busy_instance_refuses_a_second_dispatch() {
        let channel = channel();
        let (a, _sa, _ra) = dispatch("a");
        let (b, _sb, _rb) = dispatch("b");
        assert!(channel.dispatch(a).is_ok());
        assert!(channel.dispatch(b).is_err());
    }

    #[tokio::test]
    async fn closing_fails_pending_work_and_ends_polls() {
        let channel = channel();
        let (d, _started, reply) = dispatch("r1");
        assert!(channel.dispatch(d).is_ok());
        channel.close("exit status 1");
        assert_eq!(
            reply.await.unwrap(),
            RuntimeReply::Exited {
                reason: "exit status 1".into(),
                during_init: true
            }
        );
        assert!(channel.next().await.is_none());
    }

    #[tokio::test]
    async fn init_errors_fail_this_and_later_dispatches() {
        let channel = channel();
        let report = ErrorReport::new(
            Some("Runtime.ImportModuleError".into()),
            Bytes::from_static(b"{}"),
        );
        let (d, _s, reply) = dispatch("r1");
        assert!(channel.dispatch(d).is_ok());
        channel.init_error(report.clone());
        assert_eq!(
            reply.await.unwrap(),
            RuntimeReply::InitError(report.clone())
        );
        let (d, _s, reply) = dispatch("r2");
        assert!(channel.dispatch(d).is_ok());
        assert_eq!(reply.await.unwrap(), RuntimeReply::InitError(report));
    }

    #[tokio::test]
    async fn a_crash_mid_invocation_is_not_an_init_failure() {
        let channel = channel();
        let (d, _s, reply) = dispatch("r1");
        assert!(channel.dispatch(d).is_ok());
        let _ = channel.next().await.unwrap();
        channel.close("signal: kill");
        assert_eq!(
            reply.await.unwrap(),
            RuntimeReply::Exited {
                reason: "signal: kill".into(),
                during_init: false
            }
        );
    }
}
