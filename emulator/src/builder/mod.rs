//! Builds: turning a function's source into the code directory an instance
//! runs, following SAM's `Metadata.BuildMethod`.
//!
//! Outputs go under `.fogbank/build/<LogicalId>/`. Functions without a build
//! method run straight from their CodeUri.

mod cargo;
mod python;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::app::{Function, Runtime};
use crate::console::Console;
use crate::invoke::Deployment;

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{function}: BuildMethod `{method}` is not supported; supported: rust-cargolambda")]
    UnsupportedMethod { function: String, method: String },
    #[error("{function}: running `{command}`: {cause}")]
    Spawn {
        function: String,
        command: String,
        cause: std::io::Error,
    },
    #[error("{function}: `{command}` failed ({status}); its output is above")]
    Failed {
        function: String,
        command: String,
        status: String,
    },
    #[error("{function}: {message}")]
    Output { function: String, message: String },
    #[error("{function}: writing the build output to {}: {cause}", path.display())]
    Io {
        function: String,
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// Where builds put their outputs.
#[derive(Debug, Clone)]
pub struct BuildDirs {
    /// `.fogbank/build` under the app's state directory.
    pub root: PathBuf,
}

impl BuildDirs {
    pub fn for_function(&self, function: &Function) -> PathBuf {
        self.root.join(&function.logical_id)
    }
}

/// True when the function has a build step: a BuildMethod, or Python
/// dependencies to install.
pub fn needs_build(function: &Function) -> bool {
    function.build.method.is_some()
        || (matches!(function.runtime, Runtime::Python { .. }) && python::requirements(function).is_some())
}

/// Builds one function and returns what to run: the code directory and the
/// function as served (with build-produced layers such as installed Python
/// dependencies). Functions with nothing to build run from their CodeUri.
pub async fn build(function: &Arc<Function>, dirs: &BuildDirs, console: &Console) -> Result<Deployment, BuildError> {
    let output = dirs.for_function(function);
    match (function.build.method.as_deref(), &function.runtime) {
        (Some("rust-cargolambda"), Runtime::Provided { .. }) => {
            cargo::build(function, &output, console).await?;
            Ok(Deployment {
                function: function.clone(),
                code_dir: output,
            })
        }
        (None, Runtime::Python { minor, id }) => {
            let Some(requirements) = python::requirements(function) else {
                return Ok(unbuilt(function));
            };
            let interpreter = crate::host::python(*minor).ok_or_else(|| BuildError::Output {
                function: function.logical_id.clone(),
                message: format!("installing requirements.txt for {id} needs python3 with pip on PATH"),
            })?;
            let layer = python::install(function, &interpreter, &requirements, &dirs.root, console).await?;
            let mut served = Function::clone(function);
            // Dependencies come after the function's own layers, as SAM's
            // artifact puts them in /var/task, which precedes /opt.
            served.layers.push(layer);
            Ok(Deployment {
                function: Arc::new(served),
                code_dir: function.code_uri.clone(),
            })
        }
        (None, _) => Ok(unbuilt(function)),
        (Some(method), _) => Err(BuildError::UnsupportedMethod {
            function: function.logical_id.clone(),
            method: method.to_owned(),
        }),
    }
}

fn unbuilt(function: &Arc<Function>) -> Deployment {
    Deployment {
        function: function.clone(),
        code_dir: function.code_uri.clone(),
    }
}

/// Copies a built file into place through a temporary name and a rename,
/// so a starting instance never sees a half-written artifact.
pub(crate) fn install_file(function: &Function, from: &Path, to: &Path) -> Result<(), BuildError> {
    let io_error = |source| BuildError::Io {
        function: function.logical_id.clone(),
        path: to.to_path_buf(),
        cause: source,
    };
    let parent = to.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io_error)?;
    let temporary = parent.join(format!(".fogbank-{}.tmp", std::process::id()));
    std::fs::copy(from, &temporary).map_err(io_error)?;
    std::fs::rename(&temporary, to).map_err(io_error)
}
