//! Version directories: each build of an interpreted function is a fresh
//! `v<N>/` under its build directory. A version is finished when it holds
//! the stamp of the inputs it was built from; only a finished version is
//! ever served as current, and a failed build removes its directory. The
//! directory has its final name from the start so that a reload can start
//! the new version's instance while the syntax check still runs (the
//! instance is discarded if the check fails). Old versions stay while
//! instances may still run from them; the oldest are pruned.

use std::path::{Path, PathBuf};

use super::{BuildError, STAMP};
use crate::app::Function;
use crate::reload::ignore::is_ignored;

/// How many finished versions are kept. An instance busy on an old version
/// keeps running from its directory, so the previous ones must survive a
/// few quick reloads.
const KEEP: usize = 4;

/// The numbered versions under `output`, oldest first.
fn versions(output: &Path) -> Vec<(u64, PathBuf)> {
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(output)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let number = name.to_str()?.strip_prefix('v')?.parse().ok()?;
            Some((number, entry.path()))
        })
        .collect();
    found.sort();
    found
}

/// The newest version, if it was finished from `fingerprint`.
pub(super) fn current(output: &Path, fingerprint: &str) -> Option<PathBuf> {
    let (_, newest) = versions(output).pop()?;
    let stamp = std::fs::read_to_string(newest.join(STAMP)).ok()?;
    (stamp.trim() == fingerprint).then_some(newest)
}

/// A version being built.
pub(super) struct Staging {
    function: String,
    output: PathBuf,
    number: u64,
    path: PathBuf,
}

impl Staging {
    pub(super) fn new(function: &Function, output: &Path) -> Result<Staging, BuildError> {
        let number = versions(output).last().map_or(1, |(n, _)| n + 1);
        let path = output.join(format!("v{number}"));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).map_err(|cause| BuildError::Io {
            function: function.logical_id.clone(),
            path: path.clone(),
            cause,
        })?;
        Ok(Staging {
            function: function.logical_id.clone(),
            output: output.to_path_buf(),
            number,
            path,
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Drops a failed build's files.
    pub(super) fn discard(self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }

    /// Finishes the version by stamping it with `fingerprint`, and prunes
    /// the oldest. Returns its directory.
    pub(super) fn commit(self, fingerprint: &str) -> Result<PathBuf, BuildError> {
        let stamp = self.path.join(STAMP);
        std::fs::write(&stamp, fingerprint).map_err(|cause| BuildError::Io {
            function: self.function.clone(),
            path: stamp,
            cause,
        })?;
        let all = versions(&self.output);
        for (number, old) in all.iter().take(all.len().saturating_sub(KEEP)) {
            if *number != self.number {
                let _ = std::fs::remove_dir_all(old);
            }
        }
        Ok(self.path)
    }
}

/// Copies the function's source tree into `to`, without build outputs,
/// dependency directories and editor files.
pub(super) fn copy_source(function: &Function, to: &Path) -> Result<(), BuildError> {
    copy_tree(&function.code_uri, &function.code_uri, to).map_err(|(path, cause)| BuildError::Io {
        function: function.logical_id.clone(),
        path,
        cause,
    })
}

fn copy_tree(root: &Path, from: &Path, to: &Path) -> Result<(), (PathBuf, std::io::Error)> {
    std::fs::create_dir_all(to).map_err(|e| (to.to_path_buf(), e))?;
    let entries = std::fs::read_dir(from).map_err(|e| (from.to_path_buf(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| (from.to_path_buf(), e))?;
        let path = entry.path();
        let relative = path.strip_prefix(root).unwrap_or(&path);
        if is_ignored(relative) {
            continue;
        }
        let destination = to.join(entry.file_name());
        let kind = entry.file_type().map_err(|e| (path.clone(), e))?;
        if kind.is_dir() {
            copy_tree(root, &path, &destination)?;
        } else if path.is_file() {
            // A file deleted between listing and copying is simply absent
            // from this version; the watcher reports the deletion.
            match std::fs::copy(&path, &destination) {
                Ok(_) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err((path, error)),
            }
        }
    }
    Ok(())
}

/// Makes `node_modules` in the version point at installed dependencies.
pub(super) fn link_node_modules(
    function: &Function,
    modules: &Path,
    version: &Path,
) -> Result<(), BuildError> {
    let link = version.join("node_modules");
    std::os::unix::fs::symlink(modules, &link).map_err(|cause| BuildError::Io {
        function: function.logical_id.clone(),
        path: link,
        cause,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::super::test_support::function;
    use super::*;

    fn python() -> crate::app::Runtime {
        crate::app::Runtime::Python {
            id: "python3.12".into(),
            minor: 12,
        }
    }

    #[test]
    fn versions_are_published_whole_and_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path();
        let function = function("F", python(), output, None);
        for round in 1..=6u64 {
            let staging = Staging::new(&function, output).unwrap();
            // Until it is stamped, the version is not current.
            assert_eq!(current(output, &format!("f{round}")), None);
            let published = staging.commit(&format!("f{round}")).unwrap();
            assert_eq!(published, output.join(format!("v{round}")));
            assert_eq!(current(output, &format!("f{round}")), Some(published));
            assert_eq!(current(output, "other"), None);
        }
        let kept: Vec<u64> = versions(output).iter().map(|(n, _)| *n).collect();
        assert_eq!(kept, vec![3, 4, 5, 6]);
        // A failed build leaves nothing behind.
        Staging::new(&function, output).unwrap().discard();
        assert_eq!(std::fs::read_dir(output).unwrap().count(), 4);
    }

    #[test]
    fn sources_are_copied_without_noise() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("src");
        for file in [
            "app.py",
            "lib/util.py",
            "__pycache__/app.pyc",
            "node_modules/x/index.js",
            ".app.py.swp",
        ] {
            let path = source.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, file).unwrap();
        }
        let function = function("F", python(), &source, None);
        let to = dir.path().join("v1");
        copy_source(&function, &to).unwrap();
        let mut copied = Vec::new();
        for entry in walk(&to) {
            copied.push(entry.strip_prefix(&to).unwrap().display().to_string());
        }
        copied.sort();
        assert_eq!(copied, vec!["app.py", "lib/util.py"]);
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            if entry.file_type().unwrap().is_dir() {
                files.extend(walk(&entry.path()));
            } else {
                files.push(entry.path());
            }
        }
        files
    }
}
