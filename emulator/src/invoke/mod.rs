//! The invoker: pools of warm instances per function, concurrency limits,
//! timeouts, and the one internal shape every front door speaks.
//!
//! Front doors (the Lambda Invoke API, the gateway, the SQS event-source
//! mappings, the debugger) turn their wire format into an [`Invocation`] and
//! turn the [`Completed`] result back. They never touch instances. The
//! invoker knows nothing of HTTP shapes, Docker or DWARF: it drives a
//! [`Backend`] and each instance's [`RuntimeChannel`].
//!
//! [`RuntimeChannel`]: crate::runtime_api::RuntimeChannel

pub mod events;
mod instance;
pub mod output;
mod pool;
mod report;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::app::Function;
use crate::backend::Backend;
use crate::backend::environment::{CloudEnvironment, Endpoints};
use crate::console::Console;
use events::InstanceEvent;
use instance::Instance;
use output::FunctionLogLine;
use pool::{Change, FunctionPool};

/// One request to run a function, independent of where it came from.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    /// The event, as JSON bytes.
    pub payload: Bytes,
    /// `X-Amzn-Trace-Id`, passed to the function as `Lambda-Runtime-Trace-Id`.
    pub trace_id: String,
    /// The client context as JSON text.
    pub client_context: Option<String>,
    /// The Cognito identity as JSON text.
    pub cognito_identity: Option<String>,
    /// Whether the caller wants the last 4 KB of the invocation's log.
    pub log_tail: bool,
}

impl Invocation {
    /// An invocation with a fresh request ID and trace ID.
    pub fn new(payload: Bytes) -> Invocation {
        Invocation {
            request_id: uuid::Uuid::new_v4().to_string(),
            payload,
            trace_id: new_trace_id(),
            client_context: None,
            cognito_identity: None,
            log_tail: false,
        }
    }
}

/// A new X-Ray trace header value, `Root=1-<epoch hex>-<24 hex>;Sampled=0`.
pub fn new_trace_id() -> String {
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{epoch:08x}-{};Parent={};Sampled=0",
        &random[..24],
        &random[16..32]
    )
}

/// How a function invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The function returned this payload.
    Success(Bytes),
    /// The function, its runtime or the platform failed the invocation.
    Error(FunctionError),
}

/// A failed invocation, as Lambda reports it to the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionError {
    /// `errorType`, e.g. `Runtime.ExitError` or the function's exception.
    pub error_type: String,
    /// The body Lambda returns: `{"errorType", "errorMessage", ...}`.
    pub payload: Bytes,
}

impl FunctionError {
    /// A platform error with Lambda's `RequestId: … Error: …` message form.
    pub(crate) fn platform(error_type: &str, request_id: &str, message: &str) -> FunctionError {
        let body = serde_json::json!({
            "errorType": error_type,
            "errorMessage": format!("RequestId: {request_id} Error: {message}"),
        });
        FunctionError {
            error_type: error_type.to_owned(),
            payload: Bytes::from(body.to_string()),
        }
    }
}

/// A finished invocation.
#[derive(Debug, Clone)]
pub struct Completed {
    pub request_id: String,
    pub outcome: Outcome,
    /// The last 4 KB of the invocation's log, when asked for.
    pub log_tail: Option<String>,
    /// Time from the bootstrap picking the event up to its answer.
    pub duration: Duration,
}

/// Why an invocation did not end with the function's own outcome.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvokeError {
    #[error("function not found: {0}")]
    FunctionNotFound(String),
    #[error("rate exceeded: {function} is at its concurrency limit of {limit}")]
    TooManyRequests { function: String, limit: u32 },
    #[error("the emulator is shutting down")]
    ShuttingDown,
    /// The task running the invocation died: a bug in the invoker.
    #[error("the invocation of {function} failed inside the emulator: {reason}")]
    Lost { function: String, reason: String },
}

/// Where a function's code is served from, and which build it is.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub function: Arc<Function>,
    /// The directory holding the runnable code: the build output for
    /// functions that are built, else the CodeUri.
    pub code_dir: PathBuf,
}

/// How to run a function's instances under the debugger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugConfig {
    /// The `fogbank-agent` binary on the host; it runs the bootstrap under
    /// ptrace and serves RSP.
    pub agent: PathBuf,
    /// How many instances may run under the debugger at once (at least 1).
    /// One is what a developer expects locally: every invocation stops in
    /// the same process, one after the other. Live mode asks for more, so
    /// that concurrent cloud invocations run (and stop) side by side, each
    /// instance a target of the debug session.
    pub instances: u32,
}

/// Why a function cannot be debugged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DebugError {
    #[error("function not found: {0}")]
    FunctionNotFound(String),
    #[error(
        "{function} uses {runtime}; the native debugger supports provided.* runtimes (a `bootstrap` executable)"
    )]
    UnsupportedRuntime { function: String, runtime: String },
    #[error("the debug agent {} does not exist; build it with `cargo build -p fogbank-agent`", .0.display())]
    MissingAgent(PathBuf),
}

/// Settings shared by every pool.
#[derive(Clone)]
pub struct InvokerSettings {
    pub console: Console,
    pub endpoints: Endpoints,
    /// The concurrency limit of functions without ReservedConcurrentExecutions.
    pub default_concurrency: u32,
    /// How long an instance may take from start to its first `next`.
    pub init_timeout: Duration,
    /// Idle instances unused this long are stopped; `None` keeps them.
    pub idle_timeout: Option<Duration>,
}

impl InvokerSettings {
    pub fn new(console: Console, endpoints: Endpoints) -> InvokerSettings {
        InvokerSettings {
            console,
            endpoints,
            default_concurrency: 10,
            // Lambda gives the init phase 10 seconds.
            init_timeout: Duration::from_secs(10),
            idle_timeout: Some(Duration::from_secs(600)),
        }
    }
}

/// The invoker: a cheap-to-clone handle on every function's pool.
#[derive(Clone)]
pub struct Invoker {
    inner: Arc<Inner>,
}

pub(crate) struct Shared {
    pub backend: Arc<dyn Backend>,
    pub settings: InvokerSettings,
    /// Cancelled at shutdown. An instance's Runtime API outlives it until
    /// the instance has exited (or a grace period passed).
    pub shutdown: CancellationToken,
    pub logs: broadcast::Sender<FunctionLogLine>,
    pub events: broadcast::Sender<InstanceEvent>,
}

impl Shared {
    /// Publishes an event built by `event`, which runs only when the event
    /// stream has subscribers.
    pub(crate) fn publish(&self, event: impl FnOnce() -> InstanceEvent) {
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(event());
        }
    }
}

/// A started instance of a function's next version (ready, or dead from
/// its init), made by [`Invoker::prepare`]. Dropped without being swapped
/// in, it stops.
pub struct Prepared {
    instance: Option<Arc<Instance>>,
}

impl Drop for Prepared {
    fn drop(&mut self) {
        if let Some(instance) = self.instance.take() {
            instance.stop();
        }
    }
}

struct Inner {
    shared: Arc<Shared>,
    /// Pools by logical ID and by physical name.
    pools: RwLock<HashMap<String, Arc<FunctionPool>>>,
}

impl Invoker {
    /// An invoker for `deployments`, starting instances with `backend`.
    pub fn new(
        deployments: Vec<Deployment>,
        backend: Arc<dyn Backend>,
        settings: InvokerSettings,
    ) -> Invoker {
        let (logs, _) = broadcast::channel(1024);
        let (events, _) = broadcast::channel(1024);
        let shared = Arc::new(Shared {
            backend,
            settings,
            shutdown: CancellationToken::new(),
            logs,
            events,
        });
        let mut pools = HashMap::new();
        for deployment in deployments {
            let pool = Arc::new(FunctionPool::new(shared.clone(), deployment));
            insert_pool(&mut pools, pool);
        }
        let invoker = Invoker {
            inner: Arc::new(Inner {
                shared,
                pools: RwLock::new(pools),
            }),
        };
        if let Some(idle_timeout) = invoker.inner.shared.settings.idle_timeout {
            invoker.spawn_reaper(idle_timeout);
        }
        invoker
    }

    /// Stops idle instances past `idle_timeout`, checking a few times per
    /// timeout period. Holds the invoker weakly so it never keeps it alive.
    fn spawn_reaper(&self, idle_timeout: Duration) {
        let inner = Arc::downgrade(&self.inner);
        let shutdown = self.inner.shared.shutdown.clone();
        let period = (idle_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(30));
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    _ = ticks.tick() => {}
                }
                let Some(inner) = inner.upgrade() else { return };
                let invoker = Invoker { inner };
                for pool in invoker.unique_pools() {
                    pool.reap_idle(idle_timeout);
                }
            }
        });
    }

    /// Runs one invocation synchronously and returns how it ended.
    pub async fn invoke(
        &self,
        function: &str,
        invocation: Invocation,
    ) -> Result<Completed, InvokeError> {
        let pool = self.pool(function)?;
        self.run_to_end(pool, function, invocation).await
    }

    /// Runs `invocation` on `pool` to its end, whoever waits for it.
    async fn run_to_end(
        &self,
        pool: Arc<FunctionPool>,
        function: &str,
        invocation: Invocation,
    ) -> Result<Completed, InvokeError> {
        // The invocation runs in a task of its own so that it always ends
        // and hands its instance back, even when the caller gives up (a
        // client that hangs up drops the caller's future). Lambda too runs
        // an invocation to its end after the client has gone.
        let task = tokio::spawn(async move { pool.invoke(invocation).await });
        match task.await {
            Ok(result) => result,
            // The handle is never aborted, so only the runtime itself
            // shutting down cancels the task.
            Err(error) if error.is_cancelled() => Err(InvokeError::ShuttingDown),
            Err(error) => {
                let lost = InvokeError::Lost {
                    function: function.to_owned(),
                    reason: error.to_string(),
                };
                // Printed here, once for every front door, since some (the
                // Invoke API) have no console of their own.
                self.inner
                    .shared
                    .settings
                    .console
                    .line(&format!("error: {lost}; this is a bug in fogbank"));
                Err(lost)
            }
        }
    }

    /// Queues an asynchronous (`Event`) invocation. Like Lambda's internal
    /// queue, a throttled event waits for capacity instead of failing.
    pub fn invoke_async(&self, function: &str, invocation: Invocation) -> Result<(), InvokeError> {
        let pool = self.pool(function)?;
        let invoker = self.clone();
        let function = function.to_owned();
        let shutdown = self.inner.shared.shutdown.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(20);
            loop {
                // Through `run_to_end`, so a lost invocation is reported
                // as for every other front door.
                let attempt = tokio::select! {
                    () = shutdown.cancelled() => return,
                    result = invoker.run_to_end(pool.clone(), &function, invocation.clone()) => result,
                };
                match attempt {
                    Err(InvokeError::TooManyRequests { .. }) => {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                    }
                    _ => return,
                }
            }
        });
        Ok(())
    }

    /// The function a name refers to (logical ID or physical name).
    pub fn function(&self, name: &str) -> Option<Arc<Function>> {
        self.pool(name)
            .ok()
            .map(|pool| pool.deployment().function.clone())
    }

    /// Every function served, in logical-ID order.
    pub fn functions(&self) -> Vec<Arc<Function>> {
        let mut functions: Vec<Arc<Function>> = self
            .unique_pools()
            .iter()
            .map(|pool| pool.deployment().function.clone())
            .collect();
        functions.sort_by(|a, b| a.logical_id.cmp(&b.logical_id));
        functions
    }

    /// Starts one instance of every function ahead of traffic (`--warm`).
    pub async fn prewarm(&self) {
        let pools = self.unique_pools();
        futures::future::join_all(pools.iter().map(|pool| pool.prewarm())).await;
    }

    /// Runs every later instance of `function` under the debugger (or, with
    /// `None`, normally again). Instances of the old mode retire.
    pub fn set_debug(
        &self,
        function: &str,
        debug: Option<DebugConfig>,
    ) -> Result<Arc<Function>, DebugError> {
        let pool = self
            .pool(function)
            .map_err(|_| DebugError::FunctionNotFound(function.to_owned()))?;
        let current = pool.deployment();
        if debug.is_some()
            && !matches!(
                current.function.runtime,
                crate::app::Runtime::Provided { .. }
            )
        {
            return Err(DebugError::UnsupportedRuntime {
                function: current.function.logical_id.clone(),
                runtime: current.function.runtime.id().to_owned(),
            });
        }
        if let Some(config) = &debug
            && !config.agent.is_file()
        {
            return Err(DebugError::MissingAgent(config.agent.clone()));
        }
        if current.debug == debug {
            return Ok(current.function.clone());
        }
        let next = pool.redeploy(Change::Debug(debug));
        Ok(next.function.clone())
    }

    /// Runs every later instance of `function` with a cloud sandbox's
    /// environment laid over its own (or, with `None`, with its own again),
    /// through hot reloads, until it is changed again. Instances with the
    /// old environment retire. Setting the environment it already has does
    /// not restart anything.
    pub fn set_cloud_environment(
        &self,
        function: &str,
        cloud: Option<CloudEnvironment>,
    ) -> Result<Arc<Function>, InvokeError> {
        let pool = self.pool(function)?;
        let current = pool.deployment();
        if current.cloud_environment.as_deref() == cloud.as_ref() {
            return Ok(current.function.clone());
        }
        let next = pool.redeploy(Change::CloudEnvironment(cloud.map(Arc::new)));
        Ok(next.function.clone())
    }

    /// Whether `function` runs with a cloud sandbox's environment.
    pub fn has_cloud_environment(&self, function: &str) -> bool {
        self.pool(function)
            .is_ok_and(|pool| pool.deployment().cloud_environment.is_some())
    }

    /// The directory `function`'s current version runs from.
    pub fn code_dir(&self, function: &str) -> Option<PathBuf> {
        self.pool(function)
            .ok()
            .map(|pool| pool.deployment().code_dir.clone())
    }

    /// True while `function` runs under the debugger. Front doors use it to
    /// suspend their own time limits (API Gateway's 29 s).
    pub fn is_debugging(&self, function: &str) -> bool {
        self.pool(function)
            .is_ok_and(|pool| pool.deployment().debug.is_some())
    }

    /// Serves a new build of `function` from `code_dir`: new invocations go
    /// to instances of the new version; busy instances finish on the old one.
    pub fn redeploy(&self, function: &str, code_dir: PathBuf) -> Result<(), InvokeError> {
        let pool = self.pool(function)?;
        let mut deployment = pool.deployment().deployment.clone();
        deployment.code_dir = code_dir;
        pool.redeploy(Change::Deployment(deployment));
        Ok(())
    }

    /// Tells the invoker that a debugged instance is stopped (or running
    /// again), so its timeout does not run while it is stopped.
    pub fn set_paused(&self, instance: &str, paused: bool) -> bool {
        self.unique_pools()
            .iter()
            .any(|pool| pool.set_paused(instance, paused))
    }

    /// Subscribes to instance and deployment events.
    pub fn subscribe_events(&self) -> broadcast::Receiver<InstanceEvent> {
        self.inner.shared.events.subscribe()
    }

    /// (idle, total) instances of a function.
    pub fn instance_counts(&self, function: &str) -> Option<(usize, usize)> {
        self.pool(function).ok().map(|pool| pool.counts())
    }

    fn unique_pools(&self) -> Vec<Arc<FunctionPool>> {
        let pools = self
            .inner
            .pools
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pools
            .iter()
            .filter(|(key, pool)| key.as_str() == &**pool.logical_id())
            .map(|(_, pool)| pool.clone())
            .collect()
    }

    /// Subscribes to every function's log lines.
    pub fn subscribe_logs(&self) -> broadcast::Receiver<FunctionLogLine> {
        self.inner.shared.logs.subscribe()
    }

    /// Stops every instance and waits for them to exit.
    pub async fn shutdown(&self) {
        self.inner.shared.shutdown.cancel();
        let pools: Vec<Arc<FunctionPool>> = {
            let pools = self
                .inner
                .pools
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            pools.values().cloned().collect()
        };
        futures::future::join_all(pools.iter().map(|pool| pool.stop_all())).await;
        self.inner.shared.backend.shutdown().await;
    }

    /// Starts and readies an instance of `deployment`, the next version of
    /// its function, without serving it; [`Invoker::swap`] then serves it.
    /// None when the function is unknown or debugged, or the instance did
    /// not come up (the first invocation of the new version then starts
    /// one and reports why).
    pub async fn prepare(&self, deployment: &Deployment) -> Option<Prepared> {
        let pool = self.pool(&deployment.function.logical_id).ok()?;
        pool.prepare(deployment.clone()).await
    }

    /// Serves `deployment` as the next version of its function (a hot
    /// reload): new invocations go to instances of the new version, busy
    /// instances finish on the old one, idle ones stop. A `prepared`
    /// instance of it becomes the new version's first idle instance.
    /// Returns the new version number.
    pub fn swap(
        &self,
        deployment: Deployment,
        prepared: Option<Prepared>,
    ) -> Result<u64, InvokeError> {
        let pool = self.pool(&deployment.function.logical_id)?;
        let old_name = pool.deployment().function.name.clone();
        let new_name = deployment.function.name.clone();
        let next = pool.redeploy(Change::Deployment(deployment));
        if let Some(instance) = prepared.and_then(|mut prepared| prepared.instance.take()) {
            pool.adopt(instance);
        }
        if old_name != new_name {
            let mut pools = self
                .inner
                .pools
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            pools.remove(&old_name);
            insert_pool(&mut pools, pool);
        }
        Ok(next.version)
    }

    /// Starts serving a function added to the template. A function of the
    /// same logical ID is swapped to the new deployment instead.
    pub fn add_function(&self, deployment: Deployment) -> u64 {
        if self.pool(&deployment.function.logical_id).is_ok() {
            return self.swap(deployment.clone(), None).unwrap_or(1);
        }
        let pool = Arc::new(FunctionPool::new(self.inner.shared.clone(), deployment));
        let mut pools = self
            .inner
            .pools
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        insert_pool(&mut pools, pool);
        1
    }

    /// Stops serving a function removed from the template: new invocations
    /// find no function, busy instances finish, idle ones stop. Returns
    /// false if there was no such function.
    pub fn remove_function(&self, logical_id: &str) -> bool {
        let removed = {
            let mut pools = self
                .inner
                .pools
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let Some(pool) = pools.remove(logical_id) else {
                return false;
            };
            let name = pool.deployment().function.name.clone();
            if pools.get(&name).is_some_and(|p| Arc::ptr_eq(p, &pool)) {
                pools.remove(&name);
            }
            pool
        };
        // A version bump retires every instance the way a redeploy does.
        removed.redeploy(Change::Retire);
        true
    }

    /// Publishes an event on the control interface's event stream (the
    /// reloader announces reloads this way).
    pub fn publish(&self, event: InstanceEvent) {
        let _ = self.inner.shared.events.send(event);
    }

    fn pool(&self, name: &str) -> Result<Arc<FunctionPool>, InvokeError> {
        if self.inner.shared.shutdown.is_cancelled() {
            return Err(InvokeError::ShuttingDown);
        }
        let pools = self
            .inner
            .pools
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pools
            .get(name)
            .cloned()
            .ok_or_else(|| InvokeError::FunctionNotFound(name.to_owned()))
    }
}

fn insert_pool(pools: &mut HashMap<String, Arc<FunctionPool>>, pool: Arc<FunctionPool>) {
    let deployment = pool.deployment();
    pools.insert(deployment.function.name.clone(), pool.clone());
    pools.insert(deployment.function.logical_id.clone(), pool);
}
