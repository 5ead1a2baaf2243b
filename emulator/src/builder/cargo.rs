//! `BuildMethod: rust-cargolambda`: `cargo build --release` of the right
//! binary, installed as `bootstrap`. Plain cargo, no zig: the function runs
//! on this machine's architecture and libc. Incremental compilation is on,
//! since fogbank's builds are for the local loop (deployments are built by
//! the user's own `sam build` or `cargo lambda build`).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};

use super::{BuildError, install_file};
use crate::app::Function;
use crate::console::{Console, Prefix};

pub(super) async fn build(
    function: &Function,
    output: &Path,
    console: &Console,
    prefix: &Prefix,
) -> Result<(), BuildError> {
    let binary = function.build.properties.get("Binary").cloned();
    let mut command =
        tokio::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .arg("build")
        .arg("--release")
        .arg("--message-format=json-render-diagnostics")
        .current_dir(&function.code_uri)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(binary) = &binary {
        command.arg("--bin").arg(binary);
    }
    // These builds serve the edit-save-run loop, not a deployment: with
    // incremental compilation a release rebuild after a small edit takes
    // about a second instead of recompiling the whole crate (8 s for
    // hello-api). An explicit CARGO_INCREMENTAL in fogbank's environment
    // wins.
    if std::env::var_os("CARGO_INCREMENTAL").is_none() {
        command.env("CARGO_INCREMENTAL", "1");
    }
    let rendered = format!(
        "cargo build --release{}",
        binary
            .as_deref()
            .map(|b| format!(" --bin {b}"))
            .unwrap_or_default()
    );
    let mut child = command.spawn().map_err(|source| BuildError::Spawn {
        function: function.logical_id.clone(),
        command: rendered.clone(),
        cause: source,
    })?;

    // Compiler diagnostics stream to the console as they come, prefixed
    // with the function name; the JSON messages on stdout name the
    // executables that were built.
    let prefix = prefix.clone();
    let stderr_task = child.stderr.take().map(|stderr| {
        let console = console.clone();
        let prefix = prefix.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                console.prefixed(&prefix, line.as_bytes());
            }
        })
    });
    let mut executables: Vec<(String, PathBuf)> = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            match serde_json::from_str::<serde_json::Value>(&line) {
                Ok(message) => {
                    if let Some(executable) = executable_of(&message) {
                        executables.push(executable);
                    }
                }
                Err(_) => console.prefixed(&prefix, line.as_bytes()),
            }
        }
    }
    let status = child.wait().await.map_err(|source| BuildError::Spawn {
        function: function.logical_id.clone(),
        command: rendered.clone(),
        cause: source,
    })?;
    if let Some(task) = stderr_task {
        let _ = task.await;
    }
    if !status.success() {
        return Err(BuildError::Failed {
            function: function.logical_id.clone(),
            command: rendered,
            status: status.to_string(),
        });
    }

    let built = choose_executable(&executables, binary.as_deref()).map_err(|message| {
        BuildError::Output {
            function: function.logical_id.clone(),
            message,
        }
    })?;
    install_file(function, &built, &output.join("bootstrap"))
}

/// The binary target name and path of a `compiler-artifact` message that
/// produced an executable.
fn executable_of(message: &serde_json::Value) -> Option<(String, PathBuf)> {
    if message.get("reason")?.as_str()? != "compiler-artifact" {
        return None;
    }
    let executable = message.get("executable")?.as_str()?;
    let name = message.get("target")?.get("name")?.as_str()?;
    Some((name.to_owned(), PathBuf::from(executable)))
}

fn choose_executable(
    executables: &[(String, PathBuf)],
    wanted: Option<&str>,
) -> Result<PathBuf, String> {
    if let Some(wanted) = wanted {
        return executables
            .iter()
            .find(|(name, _)| name == wanted)
            .map(|(_, path)| path.clone())
            .ok_or_else(|| {
                format!("cargo built no binary named `{wanted}` (Metadata.BuildProperties.Binary)")
            });
    }
    match executables {
        [] => Err("cargo built no binary; the package needs a [[bin]] target".to_owned()),
        [(_, path)] => Ok(path.clone()),
        several => {
            // cargo-lambda's convention: a binary named `bootstrap` wins.
            if let Some((_, path)) = several.iter().find(|(name, _)| name == "bootstrap") {
                return Ok(path.clone());
            }
            let names: Vec<&str> = several.iter().map(|(name, _)| name.as_str()).collect();
            Err(format!(
                "the package has several binaries ({}); name one in Metadata.BuildProperties.Binary",
                names.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn check(executables: &[(&str, &str)], wanted: Option<&str>, expected: Result<&str, &str>) {
        let executables: Vec<(String, PathBuf)> = executables
            .iter()
            .map(|(name, path)| (name.to_string(), PathBuf::from(path)))
            .collect();
        let result = choose_executable(&executables, wanted);
        match (result, expected) {
            (Ok(path), Ok(expected)) => assert_eq!(path, PathBuf::from(expected)),
            (Err(message), Err(fragment)) => assert!(message.contains(fragment), "{message}"),
            (result, expected) => panic!("got {result:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn the_right_binary_is_chosen() {
        check(&[("hello", "/t/hello")], None, Ok("/t/hello"));
        check(
            &[("a", "/t/a"), ("bootstrap", "/t/bootstrap")],
            None,
            Ok("/t/bootstrap"),
        );
        check(
            &[("a", "/t/a"), ("b", "/t/b")],
            None,
            Err("several binaries (a, b)"),
        );
        check(&[("a", "/t/a"), ("b", "/t/b")], Some("b"), Ok("/t/b"));
        check(&[("a", "/t/a")], Some("c"), Err("no binary named `c`"));
        check(&[], None, Err("[[bin]]"));
    }

    #[test]
    fn artifacts_are_read_from_cargo_messages() {
        let message = serde_json::json!({
            "reason": "compiler-artifact",
            "target": {"name": "hello", "kind": ["bin"]},
            "executable": "/x/target/release/hello",
        });
        assert_eq!(
            executable_of(&message),
            Some(("hello".into(), PathBuf::from("/x/target/release/hello")))
        );
        let library = serde_json::json!({"reason": "compiler-artifact", "target": {"name": "lib"}, "executable": null});
        assert_eq!(executable_of(&library), None);
    }
}
