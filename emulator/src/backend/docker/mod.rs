//! The Docker backend: each instance is a container, started through the
//! Docker Engine API, with Lambda's filesystem layout, user, memory limit
//! and host networking.
//!
//! - `engine.rs` is the Engine API client (the only user of bollard);
//! - `image.rs` chooses and prepares images (never pulling unasked);
//! - `layout.rs` turns an instance spec into a container configuration;
//! - `output.rs` carries the container's output through a FIFO;
//! - `cgroup.rs` reads the container's peak memory from the host;
//! - `select.rs` picks the Docker or the process runtime at start-up.
//!
//! Lifecycle: the invoker's pool decides when instances start and stop;
//! this backend creates a container per instance, watches it with one
//! Engine `wait` per container (no Engine call per invocation), removes it
//! when it stops, and labels every container with the app, function, run
//! and owning process so that containers left by a Fogbank that was killed
//! are found and removed at the next start.

mod cgroup;
pub(crate) mod engine;
mod image;
mod layout;
mod output;
mod select;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use super::{
    Backend, BackendError, BoxFuture, ExitReason, InstanceControl, InstanceSpec, RunningInstance,
};
use crate::app::{Function, Runtime};
use crate::console::Console;
use crate::invoke::output::InstanceOutput;
use crate::runtimes::RuntimeFiles;
use cgroup::MemoryPeak;
pub use engine::EngineError;
use engine::{Bind, Engine};
pub use image::ImageError;
use image::{HostInterpreter, ImageKind, Images};
use output::FifoOutput;
pub use select::{RuntimeOptions, RuntimeRequest, select};

/// Labels on every container Fogbank starts.
pub const LABEL_MANAGED: &str = "dev.fogbank.managed";
pub const LABEL_APP: &str = "dev.fogbank.app";
pub const LABEL_FUNCTION: &str = "dev.fogbank.function";
pub const LABEL_RUN: &str = "dev.fogbank.run";
/// `BOOT_ID:PID:START_TIME` of the Fogbank process that owns the container.
pub const LABEL_OWNER: &str = "dev.fogbank.owner";

/// What the Docker backend needs besides an engine.
#[derive(Clone)]
pub struct DockerSettings {
    /// Fogbank's Python and Node bootstraps, mounted at `/var/runtime`.
    pub runtime_files: RuntimeFiles,
    /// `--image RUNTIME=IMAGE` choices, by runtime identifier.
    pub images: BTreeMap<String, String>,
    /// Pull missing images (`--pull`).
    pub pull: bool,
    /// The application, as the `dev.fogbank.app` label shows it.
    pub app: String,
    pub console: Console,
}

/// Why the Docker runtime could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(
        "{0}\n  start a Docker engine (`sudo systemctl start docker`, or \
         `dockerd --bridge=none --iptables=false &`), point DOCKER_HOST at one, \
         or use --runtime process"
    )]
    Unreachable(EngineError),
    #[error("preparing the image of {function}: {cause}")]
    Image { function: String, cause: ImageError },
    #[error("preparing the container work directory {}: {cause}", path.display())]
    WorkDir {
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// Starts instances as containers.
pub struct DockerBackend {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    images: Images,
    settings: DockerSettings,
    owner: Owner,
    run_id: String,
    /// Per-run scratch space on the host: output FIFOs and merged layers.
    work_dir: PathBuf,
    host_system: Vec<Bind>,
    interpreters: Mutex<HashMap<String, Option<HostInterpreter>>>,
    merged_layers: Mutex<HashMap<String, PathBuf>>,
    /// Container watchers and removals, awaited at shutdown.
    tasks: TaskTracker,
}

impl DockerBackend {
    /// Connects to the engine (within a few seconds, or fails with a
    /// message saying how to start one) and starts removing containers
    /// left behind by Fogbank runs that were killed.
    pub async fn connect(settings: DockerSettings) -> Result<DockerBackend, DockerError> {
        let engine = Engine::connect().await.map_err(DockerError::Unreachable)?;
        DockerBackend::with_engine(engine, settings)
    }

    fn with_engine(engine: Engine, settings: DockerSettings) -> Result<DockerBackend, DockerError> {
        let owner = Owner::current();
        let run_id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let work_root = work_root();
        let work_dir = work_root.join(owner.dir_name());
        std::fs::create_dir_all(&work_dir).map_err(|cause| DockerError::WorkDir {
            path: work_dir.clone(),
            cause,
        })?;
        let images = Images::new(
            engine.clone(),
            settings.images.clone(),
            settings.pull,
            settings.console.clone(),
        );
        let inner = Arc::new(Inner {
            engine,
            images,
            settings,
            owner,
            run_id,
            work_dir,
            host_system: image::host_system_binds(),
            interpreters: Mutex::new(HashMap::new()),
            merged_layers: Mutex::new(HashMap::new()),
            tasks: TaskTracker::new(),
        });
        inner.tasks.spawn(remove_orphans(inner.clone(), work_root));
        Ok(DockerBackend { inner })
    }

    /// The engine's address, for messages.
    pub fn endpoint(&self) -> &str {
        self.inner.engine.endpoint()
    }

    /// Makes every function's image ready before serving, so that a
    /// first-time import or pull happens (with progress) at start-up and
    /// not in the first invocation.
    pub async fn prepare(&self, functions: &[Arc<Function>]) -> Result<(), DockerError> {
        for function in functions {
            let image = self
                .inner
                .images
                .for_function(function)
                .await
                .map_err(|cause| DockerError::Image {
                    function: function.logical_id.clone(),
                    cause,
                })?;
            // Finding the host interpreter runs it once; do that now rather
            // than in the first cold start. A missing one is reported by the
            // invocations that need it, as the process runtime does.
            if image.kind == ImageKind::Base
                && !matches!(function.runtime, Runtime::Provided { .. })
            {
                let _ = self.inner.interpreter(&function.runtime);
            }
        }
        Ok(())
    }
}

impl Backend for DockerBackend {
    fn name(&self) -> &'static str {
        "docker"
    }

    fn start(&self, spec: InstanceSpec) -> BoxFuture<'_, Result<RunningInstance, BackendError>> {
        Box::pin(self.inner.clone().start(spec))
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.inner.clone().shutdown())
    }
}

impl Inner {
    async fn start(self: Arc<Self>, spec: InstanceSpec) -> Result<RunningInstance, BackendError> {
        let function = spec.function.clone();
        let engine_error = |operation: &'static str, message: String| BackendError::Engine {
            operation,
            function: function.logical_id.clone(),
            message,
        };
        let image = self
            .images
            .for_function(&function)
            .await
            .map_err(|error| engine_error("preparing the image", error.to_string()))?;
        if let Runtime::Provided { .. } = function.runtime {
            check_bootstrap(&spec.code_dir.join("bootstrap")).map_err(|message| {
                BackendError::InvalidEntrypoint {
                    function: function.logical_id.clone(),
                    message,
                }
            })?;
        }
        let interpreter = match (image.kind, &function.runtime) {
            (ImageKind::Base, Runtime::Python { .. } | Runtime::Node { .. }) => {
                Some(self.interpreter(&function.runtime)?)
            }
            _ => None,
        };
        let layers = self
            .layers(&function)
            .map_err(|error| engine_error("merging the layers", error.to_string()))?;

        let fifo_path = self.work_dir.join(&spec.instance_id);
        let fifo = FifoOutput::create(&fifo_path, spec.output.clone()).map_err(|cause| {
            BackendError::Spawn {
                function: function.logical_id.clone(),
                cause,
            }
        })?;
        let labels = self.labels(&function);
        let config = layout::container_config(&layout::Layout {
            spec: &spec,
            name: layout::container_name(&function.logical_id, &spec.instance_id),
            image: &image.reference,
            kind: image.kind,
            interpreter: interpreter.as_ref(),
            host_system: &self.host_system,
            runtime_files: self.settings.runtime_files.dir(),
            layers: layers.as_deref(),
            fifo: &fifo_path,
            labels,
        });

        let id = match self.engine.create_container(config).await {
            Ok(id) => id,
            Err(error) => {
                fifo.finish();
                if error.is_not_found() {
                    // The image was removed since it was checked; look again
                    // next time.
                    self.images.forget().await;
                }
                return Err(engine_error("creating the container", error.to_string()));
            }
        };
        if let Err(error) = self.engine.start_container(&id).await {
            fifo.finish();
            let engine = self.engine.clone();
            let doomed = id.clone();
            self.tasks.spawn(async move {
                let _ = engine.remove_container(&doomed).await;
            });
            return Err(engine_error("starting the container", error.to_string()));
        }

        let memory = Arc::new(OnceLock::new());
        match MemoryPeak::by_container_id(&id) {
            Some(peak) => {
                let _ = memory.set(peak);
            }
            None => {
                // An unusual cgroup layout: ask the engine for the
                // container's process and follow its cgroup file.
                let engine = self.engine.clone();
                let memory = memory.clone();
                let id = id.clone();
                self.tasks.spawn(async move {
                    if let Ok(state) = engine.inspect_container(&id).await
                        && let Some(peak) = state.pid.and_then(MemoryPeak::by_pid)
                    {
                        let _ = memory.set(peak);
                    }
                });
            }
        }

        let control = Arc::new(ContainerControl {
            id: id.clone(),
            backend: self.clone(),
            killed: AtomicBool::new(false),
            fifo,
            output: spec.output.clone(),
            memory,
            last_memory_mb: AtomicU64::new(0),
        });
        let (exit_tx, exit_rx) = watch::channel(None);
        self.tasks.spawn(watch_container(control.clone(), exit_tx));
        Ok(RunningInstance {
            exit: exit_rx,
            control: Box::new(ControlHandle(control)),
        })
    }

    fn labels(&self, function: &Function) -> BTreeMap<String, String> {
        [
            (LABEL_MANAGED, "true".to_owned()),
            (LABEL_APP, self.settings.app.clone()),
            (LABEL_FUNCTION, function.logical_id.clone()),
            (LABEL_RUN, self.run_id.clone()),
            (LABEL_OWNER, self.owner.label()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
    }

    /// The host interpreter a base-image container runs, found once.
    fn interpreter(&self, runtime: &Runtime) -> Result<HostInterpreter, BackendError> {
        let mut interpreters = self
            .interpreters
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let found = interpreters
            .entry(runtime.id().to_owned())
            .or_insert_with(|| image::host_interpreter(runtime))
            .clone();
        found.ok_or_else(|| {
            let (program, hint) = match runtime {
                Runtime::Python { minor, .. } => (
                    format!("python3.{minor}"),
                    "Fogbank's base image runs the host's Python: install Python 3, or load AWS's \
                     image (public.ecr.aws/lambda/python) or name one with --image",
                ),
                _ => (
                    "node".to_owned(),
                    "Fogbank's base image runs the host's Node.js: install Node.js 18 or newer, or \
                     load AWS's image (public.ecr.aws/lambda/nodejs) or name one with --image",
                ),
            };
            BackendError::MissingInterpreter {
                runtime: runtime.id().to_owned(),
                program,
                hint: hint.to_owned(),
            }
        })
    }

    /// The directory mounted at `/opt`: the only layer itself, or the
    /// layers merged (hard links where possible, later layers winning) into
    /// one directory, made once per function and run.
    fn layers(&self, function: &Function) -> std::io::Result<Option<PathBuf>> {
        match function.layers.as_slice() {
            [] => Ok(None),
            [only] => Ok(Some(only.clone())),
            layers => {
                let mut merged = self
                    .merged_layers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if let Some(dir) = merged.get(&function.logical_id) {
                    return Ok(Some(dir.clone()));
                }
                let dir = self.work_dir.join("layers").join(&function.logical_id);
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir)?;
                for layer in layers {
                    merge_tree(layer, &dir)?;
                }
                merged.insert(function.logical_id.clone(), dir.clone());
                Ok(Some(dir))
            }
        }
    }

    async fn shutdown(self: Arc<Self>) {
        // The pools have asked every container to stop; remove whatever is
        // left of this run (for example a container whose start was cut
        // short) and wait for the removals.
        let filter = [format!("{LABEL_RUN}={}", self.run_id)];
        if let Ok(containers) = self.engine.list_containers(&filter).await {
            for container in containers {
                let engine = self.engine.clone();
                self.tasks.spawn(async move {
                    let _ = engine.remove_container(&container.id).await;
                });
            }
        }
        self.tasks.close();
        if tokio::time::timeout(Duration::from_secs(30), self.tasks.wait())
            .await
            .is_err()
        {
            self.settings.console.line(
                "some containers were still being removed after 30 s; the next start removes them",
            );
        }
        let _ = std::fs::remove_dir_all(&self.work_dir);
    }
}

/// The instance side of one container.
struct ContainerControl {
    id: String,
    backend: Arc<Inner>,
    /// Set once Fogbank asked the container to go, so its exit is not
    /// investigated as a crash.
    killed: AtomicBool,
    fifo: Arc<FifoOutput>,
    output: Arc<InstanceOutput>,
    memory: Arc<OnceLock<MemoryPeak>>,
    /// The last peak read, reported once the cgroup is gone.
    last_memory_mb: AtomicU64,
}

impl ContainerControl {
    fn kill(&self) {
        if self.killed.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(container = %self.id, "cannot remove the container outside the async runtime");
            return;
        };
        let engine = self.backend.engine.clone();
        let id = self.id.clone();
        self.backend.tasks.spawn_on(
            async move {
                if let Err(error) = engine.remove_container(&id).await {
                    tracing::warn!("{error}");
                }
            },
            &runtime,
        );
    }

    fn memory_mb(&self) -> Option<u64> {
        match self.memory.get().and_then(MemoryPeak::megabytes) {
            Some(mb) => {
                self.last_memory_mb.fetch_max(mb, Ordering::Relaxed);
                Some(mb.max(self.last_memory_mb.load(Ordering::Relaxed)))
            }
            None => Some(self.last_memory_mb.load(Ordering::Relaxed)).filter(|mb| *mb > 0),
        }
    }
}

/// What the invoker holds: kills the container when told to.
struct ControlHandle(Arc<ContainerControl>);

impl InstanceControl for ControlHandle {
    fn kill(&self) {
        self.0.kill();
    }

    fn max_memory_used_mb(&self) -> Option<u64> {
        self.0.memory_mb()
    }

    fn flush_output(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move { self.0.fifo.drain() })
    }
}

/// Waits for the container to stop, works out why, reports it, and removes
/// the container.
async fn watch_container(control: Arc<ContainerControl>, exit: watch::Sender<Option<ExitReason>>) {
    let engine = control.backend.engine.clone();
    let waited = engine.wait_container(&control.id).await;
    // Read the final peak before the cgroup disappears with the container.
    let _ = control.memory_mb();
    let reason = match waited {
        Ok(code) if control.killed.load(Ordering::SeqCst) => exit_reason(code),
        Ok(code) => {
            let state = engine.inspect_container(&control.id).await.ok();
            if state.as_ref().is_some_and(|s| s.oom_killed) {
                ExitReason::OutOfMemory
            } else {
                // Whatever the container said before its output went to the
                // FIFO (the shell's own errors) is only in the engine's log.
                if code != 0
                    && let Ok(log) = engine.container_logs(&control.id, 20).await
                {
                    control.fifo.drain();
                    for line in log.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                        control.output.function_line(line);
                    }
                }
                exit_reason(code)
            }
        }
        Err(error) => ExitReason::Lost(format!("lost track of the container: {error}")),
    };
    control.fifo.finish();
    let _ = exit.send(Some(reason));
    if !control.killed.swap(true, Ordering::SeqCst)
        && let Err(error) = engine.remove_container(&control.id).await
    {
        tracing::warn!("{error}");
    }
}

/// A container's exit code as a process exit. The init process reports a
/// child killed by signal N as 128+N, which cannot be told from a program
/// exiting with that code; the signals that kill runtimes are taken as
/// signals, anything else as an exit code (Node exits 128 and 129 itself).
fn exit_reason(code: i64) -> ExitReason {
    const SIGNALS: [i32; 6] = [
        libc::SIGABRT,
        libc::SIGBUS,
        libc::SIGFPE,
        libc::SIGKILL,
        libc::SIGSEGV,
        libc::SIGTERM,
    ];
    let code = i32::try_from(code).unwrap_or(i32::MAX);
    match code.checked_sub(128) {
        Some(signal) if SIGNALS.contains(&signal) => ExitReason::Signal(signal),
        _ => ExitReason::Code(code),
    }
}

fn check_bootstrap(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o111 != 0 => Ok(()),
        Ok(meta) if meta.is_file() => Err(format!(
            "{} is not executable; run `chmod +x` on it",
            path.display()
        )),
        Ok(_) => Err(format!("{} is not a file", path.display())),
        Err(_) => Err(format!(
            "{} does not exist; provided runtimes run an executable named `bootstrap` in the \
             function's code directory (did you run `fogbank build`?)",
            path.display()
        )),
    }
}

/// Copies `from` into `to`, hard-linking files where the filesystem allows
/// and replacing files that already exist (later layers win).
fn merge_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            std::fs::create_dir_all(&target)?;
            merge_tree(&source, &target)?;
        } else if kind.is_symlink() {
            let _ = std::fs::remove_file(&target);
            std::os::unix::fs::symlink(std::fs::read_link(&source)?, &target)?;
        } else {
            let _ = std::fs::remove_file(&target);
            if std::fs::hard_link(&source, &target).is_err() {
                std::fs::copy(&source, &target)?;
            }
        }
    }
    Ok(())
}

/// Where per-run scratch directories live: a private directory under the
/// system's temporary directory (FIFOs need a local filesystem).
fn work_root() -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    // The owner of /proc/self is this process's user.
    let uid = std::fs::metadata("/proc/self")
        .map(|meta| meta.uid())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("fogbank-docker-{uid}"))
}

/// The Fogbank process that owns containers: the machine's boot, the
/// process ID and the process's start time, which together identify one
/// process even after its ID is reused.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owner {
    boot_id: String,
    pid: u32,
    start_time: u64,
}

impl Owner {
    fn current() -> Owner {
        let pid = std::process::id();
        Owner {
            boot_id: boot_id(),
            pid,
            start_time: process_start_time(pid).unwrap_or(0),
        }
    }

    fn label(&self) -> String {
        format!("{}:{}:{}", self.boot_id, self.pid, self.start_time)
    }

    fn parse(label: &str) -> Option<Owner> {
        let mut parts = label.rsplitn(3, ':');
        let start_time = parts.next()?.parse().ok()?;
        let pid = parts.next()?.parse().ok()?;
        let boot_id = parts.next()?.to_owned();
        Some(Owner {
            boot_id,
            pid,
            start_time,
        })
    }

    fn dir_name(&self) -> String {
        format!("{}-{}", self.pid, self.start_time)
    }

    fn parse_dir_name(name: &str) -> Option<(u32, u64)> {
        let (pid, start) = name.split_once('-')?;
        Some((pid.parse().ok()?, start.parse().ok()?))
    }
}

/// True when a container labelled with `owner` belongs to a Fogbank that
/// is gone. Containers of another machine sharing the engine are left
/// alone while they run.
fn is_orphan(
    owner: Option<&str>,
    running: bool,
    me: &Owner,
    alive: impl Fn(u32, u64) -> bool,
) -> bool {
    match owner.and_then(Owner::parse) {
        None => !running,
        Some(owner) if owner == *me => false,
        Some(owner) if owner.boot_id != me.boot_id => !running,
        Some(owner) => !alive(owner.pid, owner.start_time),
    }
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|id| id.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Field 22 of `/proc/PID/stat`: the start time in clock ticks since boot.
fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&stat)
}

fn parse_start_time(stat: &str) -> Option<u64> {
    // The command name (field 2) may contain spaces and parentheses; the
    // fields after it start after the last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn process_alive(pid: u32, start_time: u64) -> bool {
    process_start_time(pid) == Some(start_time)
}

/// Removes containers and scratch directories of Fogbank runs that ended
/// without cleaning up (killed, or crashed).
async fn remove_orphans(inner: Arc<Inner>, work_root: PathBuf) {
    let me = &inner.owner;
    if let Ok(containers) = inner
        .engine
        .list_containers(&[LABEL_MANAGED.to_owned()])
        .await
    {
        let orphans: Vec<_> = containers
            .into_iter()
            .filter(|c| {
                is_orphan(
                    c.labels.get(LABEL_OWNER).map(String::as_str),
                    c.running,
                    me,
                    process_alive,
                )
            })
            .collect();
        let removals = orphans.iter().map(|c| inner.engine.remove_container(&c.id));
        let removed = futures::future::join_all(removals)
            .await
            .into_iter()
            .filter(Result::is_ok)
            .count();
        if removed > 0 {
            inner.settings.console.line(&format!(
                "removed {removed} container(s) left behind by an earlier Fogbank run"
            ));
        }
    }
    if let Ok(entries) = std::fs::read_dir(&work_root) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            if let Some((pid, start)) = name.to_str().and_then(Owner::parse_dir_name)
                && !process_alive(pid, start)
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn exit_codes_become_exit_reasons() {
        let check =
            |code: i64, expected: ExitReason| assert_eq!(exit_reason(code), expected, "{code}");
        check(0, ExitReason::Code(0));
        check(1, ExitReason::Code(1));
        check(137, ExitReason::Signal(9));
        check(139, ExitReason::Signal(11));
        check(143, ExitReason::Signal(15));
        check(129, ExitReason::Code(129));
        check(128, ExitReason::Code(128));
        check(-1, ExitReason::Code(-1));
    }

    #[test]
    fn owners_round_trip_through_their_label() {
        let owner = Owner {
            boot_id: "8c1f-22".into(),
            pid: 4242,
            start_time: 987654,
        };
        assert_eq!(Owner::parse(&owner.label()), Some(owner.clone()));
        assert_eq!(
            Owner::parse_dir_name(&owner.dir_name()),
            Some((4242, 987654))
        );
        assert_eq!(Owner::parse("garbage"), None);
        assert_eq!(Owner::parse("a:b:c"), None);
    }

    #[test]
    fn orphans_are_containers_whose_owner_is_gone() {
        let me = Owner {
            boot_id: "boot".into(),
            pid: 10,
            start_time: 100,
        };
        let alive = |pid: u32, start: u64| pid == 20 && start == 200;
        let check = |owner: Option<&str>, running: bool, expected: bool| {
            assert_eq!(
                is_orphan(owner, running, &me, alive),
                expected,
                "{owner:?} running={running}"
            );
        };
        check(Some("boot:10:100"), true, false); // ours
        check(Some("boot:20:200"), true, false); // another live Fogbank
        check(Some("boot:20:199"), true, true); // pid reused by another process
        check(Some("boot:30:300"), true, true); // owner dead
        check(Some("other:30:300"), true, false); // another machine, running
        check(Some("other:30:300"), false, true); // another machine, stopped
        check(None, false, true);
        check(Some("nonsense"), true, false);
    }

    #[test]
    fn start_time_is_read_after_the_command_name() {
        let stat = "4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_start_time(stat), Some(987654));
        assert_eq!(parse_start_time("garbage"), None);
        assert!(process_start_time(std::process::id()).is_some());
    }

    #[test]
    fn layers_merge_with_later_layers_winning() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second, merged) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("m"),
        );
        std::fs::create_dir_all(first.join("python/pkg")).unwrap();
        std::fs::create_dir_all(second.join("python")).unwrap();
        std::fs::create_dir_all(&merged).unwrap();
        std::fs::write(first.join("python/pkg/a.py"), "first").unwrap();
        std::fs::write(first.join("python/common.py"), "first").unwrap();
        std::fs::write(second.join("python/common.py"), "second").unwrap();
        merge_tree(&first, &merged).unwrap();
        merge_tree(&second, &merged).unwrap();
        assert_eq!(
            std::fs::read_to_string(merged.join("python/pkg/a.py")).unwrap(),
            "first"
        );
        assert_eq!(
            std::fs::read_to_string(merged.join("python/common.py")).unwrap(),
            "second"
        );
    }
}
