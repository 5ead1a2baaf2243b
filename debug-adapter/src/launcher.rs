//! Finding and starting the processes a session needs: the `fogbank`
//! emulator (when nothing answers on the control port) and `fogbank-agent`
//! (for program sessions, and as the agent the emulator runs functions
//! under).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::control::{ControlClient, ControlError, Status};

/// The static agent's place in a cargo target directory, as the agent's
/// README builds it.
const STATIC_AGENT_TARGET: &str = "x86_64-unknown-linux-gnu";

/// How long a `fogbank start` the adapter started may take to serve (it
/// builds the functions first).
const START_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// A failure to find or start a process.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// A binary was not found.
    #[error("{0}")]
    NotFound(String),
    /// A process could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The program.
        program: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// `fogbank start` ended or did not serve in time.
    #[error("{0}")]
    Emulator(String),
    /// The control interface failed.
    #[error(transparent)]
    Control(#[from] ControlError),
}

/// The directory holding this executable.
fn own_dir() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()?
        .parent()
        .map(Path::to_path_buf)
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The `fogbank` binary: `$FOGBANK_BIN`, next to fogbank-dap, then PATH.
pub fn find_fogbank() -> Result<PathBuf, LaunchError> {
    if let Some(path) = std::env::var_os("FOGBANK_BIN") {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        return Err(LaunchError::NotFound(format!(
            "FOGBANK_BIN is {}, which does not exist",
            path.display()
        )));
    }
    own_dir()
        .map(|dir| dir.join("fogbank"))
        .filter(|path| path.is_file())
        .or_else(|| on_path("fogbank"))
        .ok_or_else(|| {
            LaunchError::NotFound(
                "the fogbank emulator was not found next to fogbank-dap or on PATH; build it with \
                 `cargo build -p fogbank`, set FOGBANK_BIN, or start `fogbank start` yourself"
                    .to_owned(),
            )
        })
}

/// Whether an executable is statically linked (has no program
/// interpreter), so it runs in any container image.
pub fn is_static(path: &Path) -> bool {
    use object::Object;
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    match object::File::parse(&*bytes) {
        Ok(file) => {
            file.section_by_name(".interp").is_none() && file.format() == object::BinaryFormat::Elf
        }
        Err(_) => false,
    }
}

/// The fogbank-agent binary. `explicit` (the `agent` attribute) wins, then
/// `$FOGBANK_AGENT`; then, next to fogbank-dap and in the cargo target
/// directory it was built in, the static build when `need_static` (a
/// container runtime) or any build otherwise; then PATH.
pub fn find_agent(explicit: Option<&Path>, need_static: bool) -> Result<PathBuf, LaunchError> {
    let chosen = explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("FOGBANK_AGENT").map(PathBuf::from));
    if let Some(path) = chosen {
        if !path.is_file() {
            return Err(LaunchError::NotFound(format!(
                "the agent {} does not exist",
                path.display()
            )));
        }
        if need_static && !is_static(&path) {
            return Err(LaunchError::NotFound(format!(
                "the agent {} is dynamically linked; functions in containers need the static build: {}",
                path.display(),
                static_build_hint()
            )));
        }
        return Ok(path);
    }
    let mut candidates = Vec::new();
    if let Some(dir) = own_dir() {
        candidates.push(dir.join("fogbank-agent"));
        // <target>/<profile>/fogbank-dap: the static build lives in
        // <target>/x86_64-unknown-linux-gnu/<profile>/.
        if let Some(target) = dir.parent() {
            for profile in ["release", "debug"] {
                candidates.push(
                    target
                        .join(STATIC_AGENT_TARGET)
                        .join(profile)
                        .join("fogbank-agent"),
                );
            }
        }
    }
    candidates.extend(on_path("fogbank-agent"));
    let existing: Vec<PathBuf> = candidates
        .into_iter()
        .filter(|path| path.is_file())
        .collect();
    let found = if need_static {
        existing.iter().find(|path| is_static(path))
    } else {
        existing.first()
    };
    found.cloned().ok_or_else(|| {
        LaunchError::NotFound(if need_static {
            format!(
                "no static fogbank-agent was found (functions in containers need one); {}",
                static_build_hint()
            )
        } else {
            "fogbank-agent was not found next to fogbank-dap or on PATH; build it with \
             `cargo build -p fogbank-agent` or set FOGBANK_AGENT"
                .to_owned()
        })
    })
}

fn static_build_hint() -> &'static str {
    "build it with `RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build -p fogbank-agent --release \
     --target x86_64-unknown-linux-gnu` (see debug-adapter/agent/README.md) or set FOGBANK_AGENT"
}

/// Lines of progress for the debug console.
pub type Progress = tokio::sync::mpsc::UnboundedSender<String>;

/// Connects to the emulator on `control`, or, when nothing answers and
/// `start` is given (template, runtime), starts `fogbank start` detached
/// so it outlives the session, and waits until it serves.
pub async fn connect_or_start(
    control: ControlClient,
    start: Option<(&Path, Option<&str>)>,
    progress: &Progress,
) -> Result<Status, LaunchError> {
    match control.status().await {
        Ok(status) => return Ok(status),
        Err(ControlError::Connect { .. }) if start.is_some() => {}
        Err(error @ ControlError::Connect { .. }) => {
            return Err(LaunchError::Emulator(format!(
                "{error}; start the emulator with `fogbank start`, or use a launch configuration"
            )));
        }
        Err(error) => return Err(error.into()),
    }
    let Some((template, runtime)) = start else {
        return Err(LaunchError::Emulator("no emulator".to_owned()));
    };
    let fogbank = find_fogbank()?;
    let dir = template.parent().unwrap_or(Path::new("."));
    let log_dir = dir.join(".fogbank");
    let _ = std::fs::create_dir_all(&log_dir);
    let log_path = log_dir.join("fogbank-start.log");
    let log = std::fs::File::create(&log_path).map_err(|source| LaunchError::Spawn {
        program: log_path.clone(),
        source,
    })?;
    let log_err = log.try_clone().map_err(|source| LaunchError::Spawn {
        program: log_path.clone(),
        source,
    })?;
    let mut command = tokio::process::Command::new(&fogbank);
    command
        .arg("start")
        .arg("--template")
        .arg(template)
        .arg("--control-port")
        .arg(control.address().port().to_string());
    if let Some(runtime) = runtime {
        command.arg("--runtime").arg(runtime);
    }
    command
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        // Its own process group: the emulator outlives the debug session
        // (and the editor's signals to the adapter).
        .process_group(0)
        .kill_on_drop(false);
    let _ = progress.send(format!(
        "Starting `{} start --template {}`; its output goes to {}\n",
        fogbank.display(),
        template.display(),
        log_path.display()
    ));
    let mut child = command.spawn().map_err(|source| LaunchError::Spawn {
        program: fogbank.clone(),
        source,
    })?;
    let tail = tokio::spawn(tail_log(log_path.clone(), progress.clone()));
    let deadline = Instant::now() + START_TIMEOUT;
    let result = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Err(LaunchError::Emulator(format!(
                "`fogbank start` ended ({status}) before serving; see {}",
                log_path.display()
            )));
        }
        match control.status().await {
            Ok(status) => break Ok(status),
            Err(ControlError::Connect { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => break Err(error.into()),
        }
    };
    tail.abort();
    // The child is not waited for: it keeps running after the session.
    drop(child);
    result
}

/// Copies the lines of a growing log file to `progress` until aborted.
async fn tail_log(path: PathBuf, progress: Progress) {
    let Ok(file) = tokio::fs::File::open(&path).await else {
        return;
    };
    let mut lines = BufReader::new(file).lines();
    loop {
        match lines.next_line().await {
            Ok(Some(line)) => {
                if progress.send(format!("{line}\n")).is_err() {
                    return;
                }
            }
            Ok(None) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_detection() {
        // The test executable itself is dynamically linked.
        let exe = std::env::current_exe().unwrap_or_default();
        assert!(!is_static(&exe));
        assert!(!is_static(Path::new("/nonexistent")));
    }

    #[test]
    fn explicit_agents_are_checked() {
        let missing = find_agent(Some(Path::new("/nonexistent/agent")), false);
        assert!(
            matches!(missing, Err(LaunchError::NotFound(message)) if message.contains("/nonexistent/agent"))
        );
        let exe = std::env::current_exe().unwrap_or_default();
        let dynamic = find_agent(Some(&exe), true);
        assert!(
            matches!(dynamic, Err(LaunchError::NotFound(message)) if message.contains("dynamically linked"))
        );
    }
}
