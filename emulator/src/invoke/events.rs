//! What happens to instances, published for the control interface (the
//! debugger and the editor follow it).

use std::path::PathBuf;
use std::sync::Arc;

/// An instance or deployment change.
#[derive(Debug, Clone, PartialEq)]
pub enum InstanceEvent {
    /// An instance started. `debug` is set when it runs under the agent.
    Started {
        function: Arc<str>,
        instance: String,
        debug: Option<DebugEndpoint>,
    },
    /// An instance stopped, for whatever reason.
    Stopped {
        function: Arc<str>,
        instance: String,
    },
    /// An instance's bootstrap took an invocation.
    InvocationStarted {
        function: Arc<str>,
        instance: String,
        request_id: String,
        /// Milliseconds since the epoch when the function's time runs out.
        deadline_ms: u128,
    },
    /// An invocation ended; `error_type` is set when it failed.
    InvocationFinished {
        function: Arc<str>,
        instance: String,
        request_id: String,
        error_type: Option<String>,
    },
    /// A new version of a function is being served (a rebuild, or the
    /// debugger switched on or off).
    Redeployed {
        function: Arc<str>,
        version: u64,
        code_dir: PathBuf,
        debug: bool,
    },
    /// A hot reload finished: `function` serves `version`, built from
    /// `source`. A debugger re-resolves its breakpoints against `artifact`.
    Reloaded {
        function: Arc<str>,
        version: u64,
        code_dir: PathBuf,
        /// The `bootstrap` of native functions, else the code directory.
        artifact: PathBuf,
        source: PathBuf,
        build: std::time::Duration,
        swap: std::time::Duration,
    },
    /// A rebuild failed; the previous version keeps serving.
    ReloadFailed { function: Arc<str>, error: String },
}

/// Where a debugger reaches an instance started under `fogbank-agent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugEndpoint {
    /// The agent's RSP port on 127.0.0.1.
    pub rsp_port: u16,
    /// The host copy of the program the agent runs, for symbols.
    pub program: PathBuf,
}
