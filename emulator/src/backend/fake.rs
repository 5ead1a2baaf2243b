//! An in-process backend for fast tests: each "instance" is a tokio task
//! that runs a scripted function against the instance's real Runtime API
//! over loopback HTTP, so the invoker and the Runtime API are exercised
//! exactly as with a real bootstrap, without starting processes.

use std::sync::Arc;

use super::environment::CloudEnvironment;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use super::{
    Backend, BackendError, BoxFuture, ExitReason, InstanceControl, InstanceSpec, RunningInstance,
};

/// What a scripted function does with one event.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Answer with this payload after an optional delay.
    Respond { payload: Bytes, delay: Duration },
    /// Post this error report to `/error`.
    Fail { error_type: String, body: Bytes },
    /// Print a line, as a function writing to stdout does, then answer.
    LogAndRespond { line: String, payload: Bytes },
    /// Exit with this code without answering.
    Exit(i32),
    /// Never answer.
    Hang,
}

/// What a scripted instance does before its first `next`.
#[derive(Debug, Clone)]
pub enum Init {
    Ready,
    /// Post `/init/error` and exit.
    Error {
        error_type: String,
        body: Bytes,
    },
    /// Exit with this code before asking for work.
    Crash(i32),
    /// Panic in `Backend::start`, as a backend with a bug would: the
    /// invoker must survive it without losing the slot.
    PanicInStart,
}

/// A function as the fake backend runs it.
pub type Script = Arc<dyn Fn(&Bytes) -> Behaviour + Send + Sync>;

pub struct FakeBackend {
    init: Init,
    script: Script,
    started: AtomicUsize,
    /// Instances whose exit has not been reported yet.
    running: Arc<AtomicUsize>,
    /// The cloud environment each instance was started with, in order.
    cloud_environments: std::sync::Mutex<Vec<Option<Arc<CloudEnvironment>>>>,
}

impl FakeBackend {
    pub fn new(init: Init, script: Script) -> FakeBackend {
        FakeBackend {
            init,
            script,
            started: AtomicUsize::new(0),
            running: Arc::new(AtomicUsize::new(0)),
            cloud_environments: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The cloud environment the last instance was started with.
    pub fn last_cloud_environment(&self) -> Option<Arc<CloudEnvironment>> {
        self.cloud_environments
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .last()
            .cloned()
            .flatten()
    }

    /// How many instances were started so far.
    pub fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    /// How many instances are running (started, and neither exited nor
    /// killed).
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }
}

impl Backend for FakeBackend {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn start(&self, spec: InstanceSpec) -> BoxFuture<'_, Result<RunningInstance, BackendError>> {
        self.started.fetch_add(1, Ordering::SeqCst);
        if matches!(self.init, Init::PanicInStart) {
            panic_in_start();
        }
        self.running.fetch_add(1, Ordering::SeqCst);
        self.cloud_environments
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(spec.cloud_environment.clone());
        let running = self.running.clone();
        let init = self.init.clone();
        let script = self.script.clone();
        Box::pin(async move {
            let (exit_tx, exit_rx) = watch::channel(None);
            // The exit is reported once, by the task or by a kill, and
            // counts the instance as no longer running.
            let counter = running.clone();
            let mut exits = exit_tx.subscribe();
            tokio::spawn(async move {
                if exits.wait_for(Option::is_some).await.is_ok() {
                    counter.fetch_sub(1, Ordering::SeqCst);
                }
            });
            let exit_tx = Arc::new(exit_tx);
            let task_exit = exit_tx.clone();
            let base = format!("http://{}/2018-06-01/runtime", spec.runtime_api);
            let output = spec.output.clone();
            let task = tokio::spawn(async move {
                let code = run_instance(&base, init, script, &output).await;
                let _ = task_exit.send(Some(ExitReason::Code(code)));
            });
            Ok(RunningInstance {
                exit: exit_rx,
                control: Box::new(FakeControl {
                    task: task.abort_handle(),
                    exit: exit_tx,
                }),
            })
        })
    }
}

#[allow(clippy::panic)] // The fake stands in for a backend with a bug.
fn panic_in_start() -> ! {
    panic!("the fake backend was told to panic in start")
}

struct FakeControl {
    task: AbortHandle,
    exit: Arc<watch::Sender<Option<ExitReason>>>,
}

impl InstanceControl for FakeControl {
    fn kill(&self) {
        self.task.abort();
        self.exit.send_if_modified(|exit| {
            if exit.is_none() {
                *exit = Some(ExitReason::Signal(libc::SIGKILL));
                true
            } else {
                false
            }
        });
    }

    fn max_memory_used_mb(&self) -> Option<u64> {
        None
    }

    fn flush_output(&self) -> BoxFuture<'_, ()> {
        // Lines are written synchronously by the scripted function.
        Box::pin(async {})
    }
}

async fn run_instance(
    base: &str,
    init: Init,
    script: Script,
    output: &crate::invoke::output::InstanceOutput,
) -> i32 {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let post = |url: String, error_type: Option<String>, body: Bytes| {
        let client = client.clone();
        async move {
            let mut request = Request::post(url);
            if let Some(error_type) = error_type {
                request = request.header("lambda-runtime-function-error-type", error_type);
            }
            let Ok(request) = request.body(Full::new(body)) else {
                return;
            };
            if let Ok(response) = client.request(request).await {
                let _ = response.into_body().collect().await;
            }
        }
    };
    match init {
        Init::Ready => {}
        Init::Error { error_type, body } => {
            post(format!("{base}/init/error"), Some(error_type), body).await;
            return 1;
        }
        Init::Crash(code) => return code,
        Init::PanicInStart => return 2,
    }
    loop {
        let Ok(request) =
            Request::get(format!("{base}/invocation/next")).body(Full::new(Bytes::new()))
        else {
            return 2;
        };
        let Ok(response) = client.request(request).await else {
            return 0;
        };
        if !response.status().is_success() {
            return 0;
        }
        let request_id = response
            .headers()
            .get("lambda-runtime-aws-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let Ok(body) = response.into_body().collect().await else {
            return 0;
        };
        let event = body.to_bytes();
        match script(&event) {
            Behaviour::Respond { payload, delay } => {
                tokio::time::sleep(delay).await;
                post(
                    format!("{base}/invocation/{request_id}/response"),
                    None,
                    payload,
                )
                .await;
            }
            Behaviour::LogAndRespond { line, payload } => {
                output.function_line(line.as_bytes());
                post(
                    format!("{base}/invocation/{request_id}/response"),
                    None,
                    payload,
                )
                .await;
            }
            Behaviour::Fail { error_type, body } => {
                post(
                    format!("{base}/invocation/{request_id}/error"),
                    Some(error_type),
                    body,
                )
                .await;
            }
            Behaviour::Exit(code) => return code,
            Behaviour::Hang => std::future::pending::<()>().await,
        }
    }
}
