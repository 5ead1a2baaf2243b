//! Builds: turning a function's source into the code directory an instance
//! runs, following SAM's `Metadata.BuildMethod`.
//!
//! Outputs go under `.fogbank/build/<LogicalId>/`. Functions without a build
//! method run straight from their CodeUri.

mod cargo;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::app::{Function, Runtime};
use crate::console::Console;

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

/// True when the function has a build step that produces its code dir.
pub fn needs_build(function: &Function) -> bool {
    function.build.method.is_some()
}

/// Builds one function and returns the directory to run it from. Functions
/// without a build method run from their CodeUri and are returned as is.
pub async fn build(function: &Arc<Function>, dirs: &BuildDirs, console: &Console) -> Result<PathBuf, BuildError> {
    let Some(method) = function.build.method.as_deref() else {
        return Ok(function.code_uri.clone());
    };
    match (method, &function.runtime) {
        ("rust-cargolambda", Runtime::Provided { .. }) => {
            let output = dirs.for_function(function);
            cargo::build(function, &output, console).await?;
            Ok(output)
        }
        (method, _) => Err(BuildError::UnsupportedMethod {
            function: function.logical_id.clone(),
            method: method.to_owned(),
        }),
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
