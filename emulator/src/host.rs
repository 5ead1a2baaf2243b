//! Programs on the host that Fogbank runs: interpreters for managed
//! runtimes, found once and cached.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Mutex, OnceLock, PoisonError};

/// The interpreter for `python3.minor`: that exact version when it runs,
/// else the host's `python3`. A name on PATH is not enough: version
/// managers such as pyenv install shims for versions that then refuse to
/// run.
pub fn python(minor: u32) -> Option<PathBuf> {
    static PYTHONS: OnceLock<Mutex<HashMap<u32, Option<PathBuf>>>> = OnceLock::new();
    let mut pythons = PYTHONS
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    pythons
        .entry(minor)
        .or_insert_with(|| {
            [format!("python3.{minor}"), "python3".to_owned()]
                .iter()
                .filter_map(|name| find_on_path(name))
                .find(|candidate| runs(candidate, &["-c", "pass"]))
                .map(|candidate| real_interpreter(&candidate).unwrap_or(candidate))
        })
        .clone()
}

/// The interpreter a launcher runs. A pyenv shim is a shell script that
/// costs a third of a second per start; every cold start and every reload's
/// syntax check would pay it, so the real executable is used instead.
fn real_interpreter(launcher: &Path) -> Option<PathBuf> {
    let output = std::process::Command::new(launcher)
        .args(["-c", "import sys; print(sys.executable)"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
    (output.status.success() && path.is_absolute() && path.is_file()).then_some(path)
}

/// `node`, when it runs.
pub fn node() -> Option<PathBuf> {
    static NODE: OnceLock<Option<PathBuf>> = OnceLock::new();
    NODE.get_or_init(|| find_on_path("node").filter(|node| runs(node, &["-e", "0"])))
        .clone()
}

/// True when `program ARGS` exits successfully.
fn runs(program: &Path, args: &[&str]) -> bool {
    std::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Looks a program up on PATH, as a shell would.
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}
