//! The bootstraps Fogbank ships for managed runtimes (Python, Node).
//!
//! They are embedded in the binary, so a single `fogbank` file is all a user
//! installs, and written to the app's state directory at start-up, where the
//! process backend runs them and the Docker backend mounts them at
//! `/var/runtime`.

use std::io;
use std::path::{Path, PathBuf};

const PYTHON_BOOTSTRAP: &str = include_str!("../runtimes/python/bootstrap.py");
const NODE_BOOTSTRAP: &str = include_str!("../runtimes/node/bootstrap.mjs");

/// The directory the bootstraps were written to.
#[derive(Debug, Clone)]
pub struct RuntimeFiles {
    dir: PathBuf,
}

impl RuntimeFiles {
    /// Writes the bootstraps under `dir` (creating it), leaving files that
    /// already have the right content untouched.
    pub fn install(dir: &Path) -> io::Result<RuntimeFiles> {
        write_if_changed(&dir.join("python/bootstrap.py"), PYTHON_BOOTSTRAP)?;
        write_if_changed(&dir.join("node/bootstrap.mjs"), NODE_BOOTSTRAP)?;
        Ok(RuntimeFiles {
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn python_bootstrap(&self) -> PathBuf {
        self.dir.join("python/bootstrap.py")
    }

    pub fn node_bootstrap(&self) -> PathBuf {
        self.dir.join("node/bootstrap.mjs")
    }
}

/// Writes through a temporary file and a rename, so an instance starting
/// concurrently never reads a half-written bootstrap.
fn write_if_changed(path: &Path, content: &str) -> io::Result<()> {
    if std::fs::read(path).is_ok_and(|existing| existing == content.as_bytes()) {
        return Ok(());
    }
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let temporary = parent.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("bootstrap"),
        std::process::id()
    ));
    std::fs::write(&temporary, content)?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn install_writes_and_rewrites_bootstraps() {
        let dir = tempfile::tempdir().unwrap();
        let files = RuntimeFiles::install(dir.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(files.python_bootstrap()).unwrap(),
            PYTHON_BOOTSTRAP
        );
        std::fs::write(files.node_bootstrap(), "stale").unwrap();
        let files = RuntimeFiles::install(dir.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(files.node_bootstrap()).unwrap(),
            NODE_BOOTSTRAP
        );
    }
}
