//! Runtime backends: how a function instance's process is started, watched
//! and stopped.
//!
//! A backend knows how to run a bootstrap next to a Runtime API endpoint; it
//! knows nothing about invocations, pools, HTTP front doors or queues. The
//! [`crate::invoke`] module drives it through [`Backend`].

pub mod docker;
pub mod environment;
pub mod fake;
pub mod process;
pub mod source_paths;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::watch;

use crate::app::Function;
use crate::invoke::output::InstanceOutput;

/// A boxed future, as trait objects need.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a backend needs to start one instance of a function.
pub struct InstanceSpec {
    pub function: Arc<Function>,
    /// Where the function's code lives on the host: the built artifact
    /// directory, or the CodeUri itself when nothing is built.
    pub code_dir: PathBuf,
    /// A short unique ID, used in log stream names and container names.
    pub instance_id: String,
    /// The loopback address of this instance's own Runtime API.
    pub runtime_api: SocketAddr,
    /// Endpoints that keep SDK calls made inside the function local.
    pub endpoints: environment::Endpoints,
    /// Where the function's stdout and stderr lines go.
    pub output: Arc<InstanceOutput>,
    /// Set when the instance runs under the debugger's agent.
    pub debug: Option<DebugLaunch>,
    /// Set while live mode forwards a cloud sandbox's environment.
    pub cloud_environment: Option<Arc<environment::CloudEnvironment>>,
}

/// Runs the bootstrap under `fogbank-agent` instead of directly.
#[derive(Debug, Clone)]
pub struct DebugLaunch {
    /// The agent binary on the host.
    pub agent: PathBuf,
    /// The loopback port the agent's RSP server listens on.
    pub rsp_port: u16,
}

/// How an instance's process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitReason {
    /// The process exited on its own with this status code.
    Code(i32),
    /// The process was killed by this signal.
    Signal(i32),
    /// The process was killed because it used more memory than MemorySize.
    OutOfMemory,
    /// The backend lost track of the process (for example the container
    /// vanished); the text says what happened.
    Lost(String),
}

impl std::fmt::Display for ExitReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitReason::Code(code) => write!(f, "exit status {code}"),
            ExitReason::Signal(signal) => write!(f, "signal: {}", signal_name(*signal)),
            ExitReason::OutOfMemory => f.write_str("out of memory"),
            ExitReason::Lost(why) => f.write_str(why),
        }
    }
}

fn signal_name(signal: i32) -> String {
    match nix::sys::signal::Signal::try_from(signal) {
        Ok(sig) => sig.as_str().trim_start_matches("SIG").to_lowercase(),
        Err(_) => signal.to_string(),
    }
}

/// A started instance: its exit notification and a handle to control it.
pub struct RunningInstance {
    /// Becomes `Some` once when the process has exited.
    pub exit: watch::Receiver<Option<ExitReason>>,
    pub control: Box<dyn InstanceControl>,
}

/// Backend-specific operations on a running instance.
pub trait InstanceControl: Send + Sync {
    /// Stops the instance at once. Idempotent; returns before the process is
    /// reaped, which `RunningInstance::exit` reports.
    fn kill(&self);

    /// The instance's peak memory use in MB, if the backend can tell.
    fn max_memory_used_mb(&self) -> Option<u64>;

    /// Resolves once every byte the function wrote to stdout/stderr before
    /// this call has been passed to the instance's output.
    fn flush_output(&self) -> BoxFuture<'_, ()>;

    /// How paths into the build copy map to source files, where the
    /// function runs from such a copy on the host (the process runtime).
    fn source_paths(&self) -> Option<&source_paths::SourcePaths> {
        None
    }
}

/// Starts instances. Implemented by the process and Docker backends and by
/// an in-memory fake in tests.
pub trait Backend: Send + Sync + 'static {
    /// A short name for messages (`process`, `docker`).
    fn name(&self) -> &'static str;

    /// Starts one instance. Returns once the process exists; it becomes
    /// ready when its bootstrap calls the Runtime API.
    fn start(&self, spec: InstanceSpec) -> BoxFuture<'_, Result<RunningInstance, BackendError>>;

    /// Stops everything this backend started (at shutdown).
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// Why an instance could not be started.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The function's entry point does not exist or cannot be executed;
    /// Lambda calls this `Runtime.InvalidEntrypoint`.
    #[error("invalid entrypoint for {function}: {message}")]
    InvalidEntrypoint { function: String, message: String },
    /// The interpreter or tool a runtime needs is missing on this machine.
    #[error("{runtime} functions need `{program}`, which was not found on PATH: {hint}")]
    MissingInterpreter {
        runtime: String,
        program: String,
        hint: String,
    },
    /// Spawning the process failed for another reason.
    #[error("starting {function}: {cause}")]
    Spawn {
        function: String,
        cause: std::io::Error,
    },
    /// A container engine operation failed.
    #[error("{operation} for {function}: {message}")]
    Engine {
        operation: &'static str,
        function: String,
        message: String,
    },
}
