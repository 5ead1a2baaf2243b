//! Running build commands: output streams to the console line by line,
//! prefixed with the function name, and a failure names the command.

use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};

use super::BuildError;
use crate::app::Function;
use crate::console::{Console, Prefix};

/// Runs `command` (shown to the user as `rendered`) to completion,
/// streaming its stdout and stderr to the console.
pub(super) async fn run(
    function: &Function,
    mut command: tokio::process::Command,
    rendered: String,
    console: &Console,
    prefix: &Prefix,
) -> Result<(), BuildError> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|cause| BuildError::Spawn {
        function: function.logical_id.clone(),
        command: rendered.clone(),
        cause,
    })?;
    let mut streams = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        streams.push(tokio::spawn(forward(
            BufReader::new(stdout),
            console.clone(),
            prefix.clone(),
        )));
    }
    if let Some(stderr) = child.stderr.take() {
        streams.push(tokio::spawn(forward(
            BufReader::new(stderr),
            console.clone(),
            prefix.clone(),
        )));
    }
    let status = child.wait().await.map_err(|cause| BuildError::Spawn {
        function: function.logical_id.clone(),
        command: rendered.clone(),
        cause,
    })?;
    for stream in streams {
        let _ = stream.await;
    }
    if status.success() {
        Ok(())
    } else {
        Err(BuildError::Failed {
            function: function.logical_id.clone(),
            command: rendered,
            status: status.to_string(),
        })
    }
}

pub(super) async fn forward<R: tokio::io::AsyncBufRead + Unpin>(
    reader: R,
    console: Console,
    prefix: Prefix,
) {
    let mut lines = reader.lines();
    while let Ok(Some(line)) = lines.next_line().await {
        console.prefixed(&prefix, line.as_bytes());
    }
}

/// `BuildMethod: makefile`: `make build-<LogicalId>` in the CodeUri with
/// `ARTIFACTS_DIR` pointing at the new version directory, as SAM runs it.
pub(super) async fn makefile(
    function: &Function,
    artifacts: &Path,
    console: &Console,
    prefix: &Prefix,
) -> Result<(), BuildError> {
    let makefile = function.code_uri.join("Makefile");
    if !makefile.is_file() {
        return Err(BuildError::Output {
            function: function.logical_id.clone(),
            message: format!(
                "BuildMethod makefile needs a Makefile in the CodeUri {}, with a `build-{}` target",
                function.code_uri.display(),
                function.logical_id
            ),
        });
    }
    let target = format!("build-{}", function.logical_id);
    let mut command = tokio::process::Command::new("make");
    command
        .arg("--makefile")
        .arg(&makefile)
        .arg(&target)
        .current_dir(&function.code_uri)
        .env("ARTIFACTS_DIR", artifacts);
    run(function, command, format!("make {target}"), console, prefix).await
}
