//! The process backend: each instance is a child process on the host.
//!
//! This is the fastest backend and the fallback when no Docker engine is
//! reachable. Fidelity is lower than in a container: the function sees the
//! host's filesystem and interpreters, and MemorySize is not enforced.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::Interest;
use tokio::net::unix::pipe;
use tokio::sync::watch;

use super::environment::{self, Paths};
use super::source_paths::SourcePaths;
use super::{
    Backend, BackendError, BoxFuture, ExitReason, InstanceControl, InstanceSpec, RunningInstance,
};
use crate::app::Runtime;
use crate::builder::BuildKind;
use crate::invoke::output::InstanceOutput;
use crate::runtimes::RuntimeFiles;

/// Starts instances as host processes.
pub struct ProcessBackend {
    runtime_files: RuntimeFiles,
}

impl ProcessBackend {
    /// A backend whose Python and Node bootstraps live in `runtime_files`.
    pub fn new(runtime_files: RuntimeFiles) -> ProcessBackend {
        ProcessBackend { runtime_files }
    }

    fn command(&self, spec: &InstanceSpec) -> Result<tokio::process::Command, BackendError> {
        let function = &spec.function;
        let (program, args) = match &function.runtime {
            Runtime::Provided { .. } => {
                let bootstrap = spec.code_dir.join("bootstrap");
                check_executable(&bootstrap).map_err(|message| {
                    BackendError::InvalidEntrypoint {
                        function: function.logical_id.clone(),
                        message,
                    }
                })?;
                (bootstrap, Vec::new())
            }
            Runtime::Python { minor, id } => {
                let program = crate::host::python(*minor).ok_or_else(|| {
                    BackendError::MissingInterpreter {
                        runtime: id.clone(),
                        program: format!("python3.{minor}"),
                        hint: "install Python 3 or use `--runtime docker`".to_owned(),
                    }
                })?;
                let bootstrap = self.runtime_files.python_bootstrap();
                (program, vec![bootstrap.into_os_string()])
            }
            Runtime::Node { id, .. } => {
                let program =
                    crate::host::node().ok_or_else(|| BackendError::MissingInterpreter {
                        runtime: id.clone(),
                        program: "node".to_owned(),
                        hint: "install Node.js 18 or newer or use `--runtime docker`".to_owned(),
                    })?;
                let bootstrap = self.runtime_files.node_bootstrap();
                (program, vec![bootstrap.into_os_string()])
            }
        };

        let layers: Vec<&Path> = function.layers.iter().map(PathBuf::as_path).collect();
        let runtime_api = spec.runtime_api.to_string();
        let env = environment::lambda_environment(
            function,
            &spec.endpoints,
            &runtime_api,
            &spec.instance_id,
            Paths {
                task_root: &spec.code_dir,
                runtime_dir: self.runtime_files.dir(),
                layers: &layers,
            },
        );
        let env = match &spec.cloud_environment {
            Some(cloud) => environment::with_cloud_environment(env, cloud),
            None => env,
        };

        let mut command = match &spec.debug {
            Some(debug) => {
                let mut command = tokio::process::Command::new(&debug.agent);
                command
                    .arg("--listen")
                    .arg(format!("127.0.0.1:{}", debug.rsp_port))
                    .arg("--")
                    .arg(&program)
                    .args(&args);
                command
            }
            None => {
                let mut command = tokio::process::Command::new(&program);
                command.args(&args);
                command
            }
        };
        command.env_clear();
        // The host's PATH lets functions run the tools they shell out to;
        // everything else comes from Lambda's environment.
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        command.envs(env);
        command.current_dir(&spec.code_dir);
        command.stdin(Stdio::null());
        // Each instance gets its own process group, so that stopping it also
        // stops whatever its bootstrap started.
        command.process_group(0);
        command.kill_on_drop(true);
        // SAFETY: the closure only calls prctl, which is async-signal-safe,
        // and touches no memory shared with the parent.
        unsafe {
            command.pre_exec(|| {
                // If Fogbank dies without cleaning up (kill -9), the kernel
                // kills the instance too instead of leaving an orphan.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Ok(command)
    }
}

impl Backend for ProcessBackend {
    fn name(&self) -> &'static str {
        "process"
    }

    fn start(&self, spec: InstanceSpec) -> BoxFuture<'_, Result<RunningInstance, BackendError>> {
        Box::pin(async move {
            let mut command = self.command(&spec)?;
            let spawn_error = |source| BackendError::Spawn {
                function: spec.function.logical_id.clone(),
                cause: source,
            };
            // stdout and stderr share one pipe, as they share one log stream
            // in Lambda; this also keeps their relative order.
            let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                .map_err(|errno| spawn_error(io::Error::from(errno)))?;
            let write_copy = write_end.try_clone().map_err(spawn_error)?;
            command.stdout(Stdio::from(write_end));
            command.stderr(Stdio::from(write_copy));
            let mut child = command.spawn().map_err(|source| {
                if source.kind() == io::ErrorKind::NotFound
                    || source.kind() == io::ErrorKind::PermissionDenied
                {
                    BackendError::InvalidEntrypoint {
                        function: spec.function.logical_id.clone(),
                        message: source.to_string(),
                    }
                } else {
                    spawn_error(source)
                }
            })?;
            // Our copies of the pipe's write end must be closed, or the
            // reader would never see end-of-file.
            drop(command);

            let pid = child.id().map(|id| id as i32).unwrap_or(0);
            let reader = pipe::Receiver::from_owned_fd(read_end).map_err(spawn_error)?;
            // Only a plain copy keeps every file's lines; pointing at the
            // source of a bundle (esbuild) or of a makefile's output would
            // send the developer to the right file at the wrong line.
            let source_paths = match crate::builder::kind_of(&spec.function) {
                Ok(BuildKind::Python | BuildKind::Node) => {
                    SourcePaths::new(&spec.code_dir, &spec.function.code_uri)
                }
                _ => None,
            };
            let pipe = Arc::new(OutputPipe {
                reader,
                lines: Mutex::new(LineSplitter::default()),
                output: spec.output.clone(),
                source_paths,
            });
            tokio::spawn(pump_output(pipe.clone()));
            let status_file = std::fs::File::open(format!("/proc/{pid}/status")).ok();
            let statm_file = std::fs::File::open(format!("/proc/{pid}/statm")).ok();

            let exited = Arc::new(AtomicBool::new(false));
            let (exit_tx, exit_rx) = watch::channel(None);
            let exited_flag = exited.clone();
            tokio::spawn(async move {
                let reason = match child.wait().await {
                    Ok(status) => exit_reason(status),
                    Err(error) => ExitReason::Lost(format!("waiting for the process: {error}")),
                };
                exited_flag.store(true, Ordering::SeqCst);
                // Stop any process the bootstrap left behind in its group.
                if pid > 0 {
                    let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                }
                let _ = exit_tx.send(Some(reason));
            });

            Ok(RunningInstance {
                exit: exit_rx,
                control: Box::new(ProcessControl {
                    pid,
                    exited,
                    pipe,
                    status_file,
                    statm_file,
                    peak_mb: std::sync::atomic::AtomicU64::new(0),
                }),
            })
        })
    }
}

struct ProcessControl {
    pid: i32,
    exited: Arc<AtomicBool>,
    pipe: Arc<OutputPipe>,
    /// `/proc/PID/status` and `/proc/PID/statm`, kept open: re-reading an
    /// open proc file is one `pread`, cheaper than opening it for every
    /// REPORT line.
    status_file: Option<std::fs::File>,
    statm_file: Option<std::fs::File>,
    /// The peak resident size (VmHWM) last read, in MB.
    peak_mb: std::sync::atomic::AtomicU64,
}

impl InstanceControl for ProcessControl {
    fn kill(&self) {
        // After the exit watcher has reaped the child, the pid may belong to
        // someone else; never signal it then.
        if self.pid > 0 && !self.exited.load(Ordering::SeqCst) {
            let _ = killpg(Pid::from_raw(self.pid), Signal::SIGKILL);
        }
    }

    fn max_memory_used_mb(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        // `status` is costly for the kernel to render, so it is read only
        // when the cheap `statm` shows the resident size above the peak
        // seen so far; otherwise the known peak still holds.
        let mut buffer = [0u8; 4096];
        let resident_mb = self.statm_file.as_ref().and_then(|file| {
            let read = file.read_at(&mut buffer, 0).ok()?;
            resident_mb(std::str::from_utf8(&buffer[..read]).ok()?)
        });
        let known = self.peak_mb.load(Ordering::Relaxed);
        if known > 0 && resident_mb.is_some_and(|rss| rss <= known) {
            return Some(known);
        }
        let file = self.status_file.as_ref()?;
        let read = file.read_at(&mut buffer, 0).ok()?;
        let peak = peak_rss_mb(std::str::from_utf8(&buffer[..read]).ok()?)?;
        self.peak_mb.fetch_max(peak, Ordering::Relaxed);
        Some(peak)
    }

    fn flush_output(&self) -> BoxFuture<'_, ()> {
        // Everything the function wrote before it answered the Runtime API
        // is in the pipe by now, so a non-blocking drain finds all of it.
        self.pipe.drain();
        Box::pin(async {})
    }

    fn source_paths(&self) -> Option<&SourcePaths> {
        self.pipe.source_paths.as_ref()
    }
}

/// The read end of an instance's output pipe and its line splitter, shared
/// by the pump task and by flushes.
struct OutputPipe {
    reader: pipe::Receiver,
    lines: Mutex<LineSplitter>,
    output: Arc<InstanceOutput>,
    /// Set for functions run from a plain copy of their source.
    source_paths: Option<SourcePaths>,
}

impl OutputPipe {
    /// Reads until the pipe would block. Returns false at end-of-file.
    fn drain(&self) -> bool {
        let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.reader.try_read(&mut chunk) {
                Ok(0) => {
                    lines.finish(self.source_paths.as_ref(), &self.output);
                    return false;
                }
                Ok(n) => lines.push(&chunk[..n], self.source_paths.as_ref(), &self.output),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return true,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    lines.finish(self.source_paths.as_ref(), &self.output);
                    return false;
                }
            }
        }
    }
}

/// Reads the instance's output as it comes, until the pipe closes.
async fn pump_output(pipe: Arc<OutputPipe>) {
    loop {
        if pipe.reader.ready(Interest::READABLE).await.is_err() {
            break;
        }
        if !pipe.drain() {
            break;
        }
    }
}

/// Splits a byte stream into lines, bounding the length of any one line,
/// and shows paths into the build copy as source paths.
#[derive(Default)]
struct LineSplitter {
    partial: Vec<u8>,
}

/// Longer lines are split, so a function printing megabytes without a
/// newline cannot grow our memory without bound.
const MAX_LINE: usize = 256 * 1024;

impl LineSplitter {
    fn push(&mut self, mut bytes: &[u8], paths: Option<&SourcePaths>, output: &InstanceOutput) {
        while let Some(newline) = memchr_newline(bytes) {
            let (line, rest) = bytes.split_at(newline);
            if self.partial.is_empty() {
                emit(paths, strip_cr(line), output);
            } else {
                self.partial.extend_from_slice(line);
                emit(paths, strip_cr(&self.partial), output);
                self.partial.clear();
            }
            bytes = &rest[1..];
        }
        self.partial.extend_from_slice(bytes);
        while self.partial.len() >= MAX_LINE {
            let rest = self.partial.split_off(MAX_LINE);
            emit(paths, &self.partial, output);
            self.partial = rest;
        }
    }

    fn finish(&mut self, paths: Option<&SourcePaths>, output: &InstanceOutput) {
        if !self.partial.is_empty() {
            emit(paths, strip_cr(&self.partial), output);
            self.partial.clear();
        }
    }
}

fn emit(paths: Option<&SourcePaths>, line: &[u8], output: &InstanceOutput) {
    match paths {
        Some(paths) => output.function_line(&paths.rewrite(line)),
        None => output.function_line(line),
    }
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn exit_reason(status: std::process::ExitStatus) -> ExitReason {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitReason::Code(code),
        (None, Some(signal)) => ExitReason::Signal(signal),
        (None, None) => ExitReason::Lost("the process ended without a status".to_owned()),
    }
}

/// The resident size in MB from `/proc/PID/statm` (second field, in pages).
fn resident_mb(statm: &str) -> Option<u64> {
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page_size = u64::try_from(page_size)
        .ok()
        .filter(|&size| size > 0)
        .unwrap_or(4096);
    Some((pages * page_size).div_ceil(1024 * 1024))
}

/// Reads `VmHWM` (peak resident set size) from `/proc/PID/status`.
fn peak_rss_mb(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.div_ceil(1024))
}

fn check_executable(path: &Path) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::console::Console;

    #[test]
    fn peak_rss_is_read_from_status() {
        let status = "Name:\tpython3\nVmPeak:\t  30000 kB\nVmHWM:\t   10241 kB\nVmRSS:\t 9000 kB\n";
        assert_eq!(peak_rss_mb(status), Some(11));
        assert_eq!(peak_rss_mb("Name: x\n"), None);
    }

    #[test]
    fn resident_size_is_read_from_statm() {
        assert_eq!(resident_mb("4000 512 300 10 0 200 0"), Some(2));
        assert_eq!(resident_mb("garbage"), None);
    }

    #[test]
    fn lines_are_split_across_chunks() {
        let output = InstanceOutput::new("F".into(), Console::silent(), None);
        output.begin_capture();
        let mut splitter = LineSplitter::default();
        splitter.push(b"hel", None, &output);
        splitter.push(b"lo\r\nwor", None, &output);
        splitter.push(b"ld\npartial", None, &output);
        splitter.finish(None, &output);
        assert_eq!(output.end_capture(), "hello\nworld\npartial\n");
    }

    #[test]
    fn missing_bootstrap_says_how_to_fix_it() {
        let error = check_executable(Path::new("/nonexistent/bootstrap")).unwrap_err();
        assert!(error.contains("fogbank build"), "{error}");
    }
}
