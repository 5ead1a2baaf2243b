//! The file-system watcher: notify (inotify on Linux) over each build
//! unit's source directory and the template's directory, forwarding the
//! paths of changes that matter to the reload loop.
//!
//! Rather than one recursive watch over a whole project, each source
//! directory is watched itself plus one recursive watch per top-level
//! subdirectory that is not ignored: a Rust project's `target/` or a Node
//! project's `node_modules/` holds thousands of directories that would each
//! cost an inotify watch and a burst of events per build.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc::UnboundedSender;

use super::ReloadError;
use super::ignore::is_ignored;

/// A directory to watch and whether its subdirectories count.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Root {
    pub dir: PathBuf,
    /// False for the template's directory when no function's code is
    /// there: only files directly in it matter.
    pub recursive: bool,
}

pub(super) struct Watcher {
    inner: notify::RecommendedWatcher,
    roots: Arc<RwLock<Vec<Root>>>,
    /// Every watch in place, with its mode.
    watches: BTreeMap<PathBuf, RecursiveMode>,
}

impl Watcher {
    /// A watcher that sends every relevant changed path to `changes`.
    pub(super) fn new(changes: UnboundedSender<PathBuf>) -> Result<Watcher, ReloadError> {
        let roots: Arc<RwLock<Vec<Root>>> = Arc::default();
        let filter_roots = roots.clone();
        let inner = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            // Reads (our own builds copy the sources) and opens are not
            // changes.
            if matches!(event.kind, EventKind::Access(_) | EventKind::Other) {
                return;
            }
            let roots = filter_roots.read().unwrap_or_else(PoisonError::into_inner);
            for path in event.paths {
                if relevant(&roots, &path) {
                    let _ = changes.send(path);
                }
            }
        })
        .map_err(|e| ReloadError::Watch {
            path: PathBuf::new(),
            cause: e.to_string(),
        })?;
        Ok(Watcher {
            inner,
            roots,
            watches: BTreeMap::new(),
        })
    }

    /// Watches exactly `roots` (adding new subdirectories of recursive
    /// roots, dropping watches no longer needed).
    pub(super) fn set_roots(&mut self, roots: &[Root]) -> Result<(), ReloadError> {
        *self.roots.write().unwrap_or_else(PoisonError::into_inner) = roots.to_vec();
        let wanted = watches_for(roots);
        let stale: Vec<PathBuf> = self
            .watches
            .keys()
            .filter(|path| !wanted.contains_key(*path))
            .cloned()
            .collect();
        for path in stale {
            let _ = self.inner.unwatch(&path);
            self.watches.remove(&path);
        }
        for (path, mode) in wanted {
            if self.watches.get(&path) == Some(&mode) {
                continue;
            }
            if self.watches.contains_key(&path) {
                let _ = self.inner.unwatch(&path);
            }
            match self.inner.watch(&path, mode) {
                Ok(()) => {
                    self.watches.insert(path, mode);
                }
                // A subdirectory deleted since it was listed is no error.
                Err(_) if !path.exists() => {}
                Err(error) => {
                    return Err(ReloadError::Watch {
                        path,
                        cause: error.to_string(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// The watches that cover `roots`: each root on its own, and each of its
/// subdirectories that is not ignored, recursively.
fn watches_for(roots: &[Root]) -> BTreeMap<PathBuf, RecursiveMode> {
    let mut watches = BTreeMap::new();
    for root in roots {
        watches
            .entry(root.dir.clone())
            .or_insert(RecursiveMode::NonRecursive);
        if !root.recursive {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&root.dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
            if is_dir && !is_ignored(Path::new(&entry.file_name())) {
                watches.insert(path, RecursiveMode::Recursive);
            }
        }
    }
    watches
}

/// True when a change at `path` may matter: it is inside a root (directly,
/// for a shallow root) and not ignored there.
pub fn relevant(roots: &[Root], path: &Path) -> bool {
    roots.iter().any(|root| {
        let Ok(relative) = path.strip_prefix(&root.dir) else {
            return false;
        };
        if relative.as_os_str().is_empty() || is_ignored(relative) {
            return false;
        }
        root.recursive || relative.components().count() == 1
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn check(path: &str, expected: bool) {
        let roots = [
            Root {
                dir: PathBuf::from("/app"),
                recursive: false,
            },
            Root {
                dir: PathBuf::from("/app/hello_world"),
                recursive: true,
            },
        ];
        assert_eq!(relevant(&roots, Path::new(path)), expected, "{path}");
    }

    #[test]
    fn changes_are_filtered_by_root() {
        check("/app/template.yaml", true);
        check("/app/hello_world/app.py", true);
        check("/app/hello_world/lib/util.py", true);
        check("/app/events/event.json", false);
        check("/app/hello_world/__pycache__/app.cpython-312.pyc", false);
        check("/app/.fogbank/build/F/v1/app.py", false);
        check("/app/.template.yaml.swp", false);
        check("/elsewhere/app.py", false);
    }

    #[test]
    fn noisy_directories_get_no_watch() {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["src/bin", "target/release", ".git", "events"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let watches = watches_for(&[Root {
            dir: dir.path().to_path_buf(),
            recursive: true,
        }]);
        let names: Vec<String> = watches
            .iter()
            .map(|(path, mode)| {
                let relative = path.strip_prefix(dir.path()).unwrap().display().to_string();
                format!("{relative}:{}", matches!(mode, RecursiveMode::Recursive))
            })
            .collect();
        assert_eq!(names, vec![":false", "events:true", "src:true"]);
    }
}
