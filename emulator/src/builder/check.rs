//! Syntax checks: the build step of interpreted functions. A syntax error
//! is a failed build (the old version keeps serving), not a broken
//! version whose every request fails.

use std::path::{Path, PathBuf};

use super::BuildError;
use super::process::run;
use crate::app::{Function, Runtime};
use crate::console::{Console, Prefix};
use crate::reload::ignore::is_ignored;

/// `python -m py_compile` over every `.py` file of the version, with the
/// interpreter the function runs with. The compiled files stay, so the
/// first import of the new version is faster.
pub(super) async fn python(
    function: &Function,
    version: &Path,
    console: &Console,
    prefix: &Prefix,
) -> Result<(), BuildError> {
    let Runtime::Python { minor, id } = &function.runtime else {
        return Ok(());
    };
    let interpreter = crate::host::python(*minor).ok_or_else(|| BuildError::Output {
        function: function.logical_id.clone(),
        message: format!("checking {id} code needs python3 on PATH"),
    })?;
    let files = sources(version, &["py"]);
    if files.is_empty() {
        return Ok(());
    }
    let mut command = tokio::process::Command::new(&interpreter);
    command
        .args(["-m", "py_compile"])
        .args(&files)
        .current_dir(version);
    run(
        function,
        command,
        "python -m py_compile".to_owned(),
        console,
        prefix,
    )
    .await
}

/// `node --check` on every JavaScript file of the version, several at once.
pub(super) async fn node(
    function: &Function,
    version: &Path,
    console: &Console,
    prefix: &Prefix,
) -> Result<(), BuildError> {
    let node = crate::host::node().ok_or_else(|| BuildError::Output {
        function: function.logical_id.clone(),
        message: format!("checking {} code needs node on PATH", function.runtime.id()),
    })?;
    let files = sources(version, &["js", "mjs", "cjs"]);
    let checks = files.iter().map(|file| {
        let mut command = tokio::process::Command::new(&node);
        command.arg("--check").arg(file).current_dir(version);
        run(
            function,
            command,
            format!("node --check {}", file.display()),
            console,
            prefix,
        )
    });
    for result in futures::future::join_all(checks).await {
        result?;
    }
    Ok(())
}

/// Files under `dir` with one of `extensions`, relative to `dir`, sorted.
fn sources(dir: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, extensions: &[&str], found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(relative) = path.strip_prefix(root) else {
                continue;
            };
            if is_ignored(relative) {
                continue;
            }
            // `node_modules` may be a link to installed dependencies,
            // which are not the function's code.
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => walk(root, &path, extensions, found),
                Ok(kind) if kind.is_file() => {
                    let matches = path
                        .extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| extensions.contains(&e));
                    if matches {
                        found.push(relative.to_path_buf());
                    }
                }
                _ => {}
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, dir, extensions, &mut found);
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn sources_are_found_outside_dependencies() {
        let dir = tempfile::tempdir().unwrap();
        for file in [
            "app.mjs",
            "items.js",
            "lib/x.cjs",
            "node_modules/a/index.js",
            "README.md",
            "app.py",
        ] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        let found: Vec<String> = sources(dir.path(), &["js", "mjs", "cjs"])
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(found, vec!["app.mjs", "items.js", "lib/x.cjs"]);
        let found: Vec<String> = sources(dir.path(), &["py"])
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(found, vec!["app.py"]);
    }
}
