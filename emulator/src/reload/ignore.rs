//! Which paths never trigger a rebuild: build outputs, version-control and
//! dependency directories, caches, and the scratch files editors write
//! beside the file being saved.

use std::path::{Component, Path};

/// Directories whose contents are outputs or noise, wherever they appear.
const IGNORED_DIRS: &[&str] = &[
    "target",
    ".git",
    ".hg",
    ".svn",
    ".fogbank",
    ".aws-sam",
    "node_modules",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".idea",
    ".vscode",
];

/// True when a change to `relative` (a path inside a watched directory,
/// relative to it) must not trigger a rebuild.
pub fn is_ignored(relative: &Path) -> bool {
    let mut components = relative.components().peekable();
    while let Some(component) = components.next() {
        let Component::Normal(name) = component else {
            continue;
        };
        let Some(name) = name.to_str() else {
            // A name that is not UTF-8 is no editor's scratch file; keep it.
            continue;
        };
        let is_last = components.peek().is_none();
        if !is_last && IGNORED_DIRS.contains(&name) {
            return true;
        }
        if is_last {
            return IGNORED_DIRS.contains(&name) || is_scratch_file(name);
        }
    }
    false
}

/// Editor swap, backup and lock files, and compiled Python files.
fn is_scratch_file(name: &str) -> bool {
    // Vim: `.app.py.swp`, `.swo`, `.swx`, and the `4913` probe it writes to
    // test whether a directory is writable.
    name.ends_with(".swp")
        || name.ends_with(".swo")
        || name.ends_with(".swx")
        || name == "4913"
        // Emacs: `app.py~`, `#app.py#`, `.#app.py` lock links.
        || name.ends_with('~')
        || (name.starts_with('#') && name.ends_with('#'))
        || name.starts_with(".#")
        // JetBrains' safe write, VS Code's and others' temporaries.
        || name.ends_with(".tmp")
        || name.ends_with("___jb_tmp___")
        || name.ends_with("___jb_old___")
        || name.ends_with(".crdownload")
        || name == ".DS_Store"
        || name.ends_with(".pyc")
        || name.ends_with(".pyo")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn check(path: &str, expected: bool) {
        assert_eq!(is_ignored(Path::new(path)), expected, "{path}");
    }

    #[test]
    fn sources_are_watched() {
        check("src/main.rs", false);
        check("app.py", false);
        check("hello_world/app.py", false);
        check("Cargo.toml", false);
        check("Cargo.lock", false);
        check("package.json", false);
        check("src/items.js", false);
        check("Makefile", false);
        // A directory that merely contains an ignored word is fine.
        check("targets/x.rs", false);
        check("my_target/x.rs", false);
    }

    #[test]
    fn outputs_and_noise_are_ignored() {
        check("target/release/hello", true);
        check("target", true);
        check(".git/index", true);
        check(".fogbank/build/Hello/bootstrap", true);
        check("src/node_modules/left-pad/index.js", true);
        check("hello_world/__pycache__/app.cpython-312.pyc", true);
        check("deep/nested/target/debug/x", true);
        check(".aws-sam/build/x", true);
    }

    #[test]
    fn editor_files_are_ignored() {
        check("src/.main.rs.swp", true);
        check("src/.main.rs.swx", true);
        check("src/4913", true);
        check("app.py~", true);
        check("#app.py#", true);
        check(".#app.py", true);
        check("app.py.tmp", true);
        check("app.py___jb_tmp___", true);
        check("hello_world/app.pyc", true);
        check(".DS_Store", true);
    }
}
