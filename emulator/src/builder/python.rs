//! Python dependencies: `requirements.txt` installed with `pip install -t`.
//!
//! SAM copies the code and its dependencies into one artifact directory.
//! Fogbank copies only the code into each version (see `snapshot`) and
//! installs the dependencies once into a layer-shaped directory
//! (`<build>/python-deps/<hash>/python`), which instances get like any
//! layer: on `PYTHONPATH` in a process, at `/opt/python` in a container.
//! The directory is named by a hash of the requirements and the
//! interpreter, so functions with the same requirements share one install
//! and an unchanged file is never installed again.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::BuildError;
use crate::app::{Function, Runtime};
use crate::console::{Console, Prefix};

/// The dependency layers of a Python function: its requirements, installed
/// (or found installed), or none without a `requirements.txt`.
pub(super) async fn dependencies(
    function: &Function,
    build_root: &Path,
    console: &Console,
    prefix: &Prefix,
) -> Result<Vec<PathBuf>, BuildError> {
    let (Some(requirements), Runtime::Python { minor, id }) =
        (requirements(function), &function.runtime)
    else {
        return Ok(Vec::new());
    };
    let interpreter = crate::host::python(*minor).ok_or_else(|| BuildError::Output {
        function: function.logical_id.clone(),
        message: format!("installing requirements.txt for {id} needs python3 with pip on PATH"),
    })?;
    let layer = install(
        function,
        &interpreter,
        &requirements,
        build_root,
        console,
        prefix,
    )
    .await?;
    Ok(vec![layer])
}

/// The requirements file of a function, if it has one.
fn requirements(function: &Function) -> Option<PathBuf> {
    let path = function.code_uri.join("requirements.txt");
    path.is_file().then_some(path)
}

/// Installs the requirements under `build_root` unless the same
/// requirements were installed for the same interpreter already. Returns
/// the layer directory.
pub(super) async fn install(
    function: &Function,
    python: &Path,
    requirements: &Path,
    build_root: &Path,
    console: &Console,
    prefix: &Prefix,
) -> Result<PathBuf, BuildError> {
    let io_error = |path: &Path, cause| BuildError::Io {
        function: function.logical_id.clone(),
        path: path.to_path_buf(),
        cause,
    };
    let wanted = std::fs::read(requirements).map_err(|cause| io_error(requirements, cause))?;
    let mut hasher = Sha256::new();
    hasher.update(&wanted);
    hasher.update(python.as_os_str().as_encoded_bytes());
    let digest: String = hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let layer = build_root.join("python-deps").join(&digest);
    if layer.join("python").is_dir() {
        return Ok(layer);
    }
    // Install into a fresh directory and rename it into place, so an
    // instance never sees a half-installed set of packages.
    let staging = build_root
        .join("python-deps")
        .join(format!("{digest}.staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(staging.join("python")).map_err(|cause| io_error(&staging, cause))?;
    let rendered = format!(
        "pip install -r {} -t {}",
        requirements.display(),
        layer.join("python").display()
    );
    let mut command = tokio::process::Command::new(python);
    command
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--no-warn-conflicts",
            "--root-user-action=ignore",
            "-q",
            "-r",
        ])
        .arg(requirements)
        .arg("-t")
        .arg(staging.join("python"));
    if let Err(error) = super::process::run(function, command, rendered, console, prefix).await {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(error);
    }
    if std::fs::rename(&staging, &layer).is_err() {
        // Another build installed the same requirements first; use theirs.
        let _ = std::fs::remove_dir_all(&staging);
        if !layer.join("python").is_dir() {
            return Err(io_error(
                &layer,
                std::io::Error::other("the dependency directory could not be created"),
            ));
        }
    }
    Ok(layer)
}
