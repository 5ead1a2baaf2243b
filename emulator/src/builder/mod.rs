//! Builds: turning a function's source into the code directory an instance
//! runs, following SAM's `Metadata.BuildMethod`.
//!
//! Functions are built in *units*: functions with the same build settings
//! on the same CodeUri (the two handlers of one Node.js package) are built
//! once and served from one output. Outputs go under
//! `.fogbank/build/<LogicalId>/` of the unit's first function:
//!
//! - `rust-cargolambda`: `cargo build --release`, installed as `bootstrap`
//!   (replaced through a rename, so a starting instance never sees half a
//!   binary; running instances keep the old file).
//! - Python and Node.js without a BuildMethod: the source is copied into a
//!   fresh version directory `v<N>/` and syntax-checked there
//!   (`python -m py_compile`, `node --check`), so what was checked is what
//!   runs and an instance of one version never loads a file of another.
//!   Python requirements go to a shared layer (see `python`), Node.js
//!   dependencies to a shared `node_modules` (see `node`).
//! - `makefile`: `make build-<LogicalId>` with `ARTIFACTS_DIR` set to a
//!   fresh `v<N>/`, as SAM does.
//! - `esbuild`: the entry points bundled into a fresh `v<N>/`.
//!
//! Each output carries a stamp of the input fingerprint it was built from
//! (computed by `reload::stale`); a build whose stamp matches is skipped.
//! A failed build leaves the previous output in place.

mod cargo;
mod check;
mod node;
mod process;
mod python;
mod snapshot;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::app::{Function, Runtime};
use crate::console::Console;
use crate::invoke::Deployment;

/// The stamp file recording the fingerprint an output was built from.
pub const STAMP: &str = ".fogbank-inputs";

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(
        "{function}: BuildMethod `{method}` is not supported for {runtime}; supported: rust-cargolambda (provided.*), makefile, esbuild (nodejs), or none"
    )]
    UnsupportedMethod {
        function: String,
        method: String,
        runtime: String,
    },
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

/// What kind of build a unit gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuildKind {
    /// `rust-cargolambda`.
    Cargo,
    /// `makefile`.
    Makefile,
    /// `esbuild` (Node.js).
    Esbuild,
    /// Python without a BuildMethod: snapshot, syntax check, requirements.
    Python,
    /// Node.js without a BuildMethod: snapshot, syntax check, `npm ci`.
    Node,
    /// Nothing to build: a prebuilt `bootstrap`, or a zip CodeUri.
    None,
}

/// The build kind of a function, or why it cannot be built.
pub fn kind_of(function: &Function) -> Result<BuildKind, BuildError> {
    let is_dir = function.code_uri.is_dir();
    match (function.build.method.as_deref(), &function.runtime) {
        (Some("rust-cargolambda"), Runtime::Provided { .. }) => Ok(BuildKind::Cargo),
        (Some("makefile"), _) => Ok(BuildKind::Makefile),
        (Some("esbuild"), Runtime::Node { .. }) => Ok(BuildKind::Esbuild),
        (None, Runtime::Python { .. }) if is_dir => Ok(BuildKind::Python),
        (None, Runtime::Node { .. }) if is_dir => Ok(BuildKind::Node),
        // SAM's default builders for managed runtimes go by runtime name.
        (Some(method), Runtime::Python { id, .. }) if method == id && is_dir => {
            Ok(BuildKind::Python)
        }
        (Some(method), Runtime::Node { id, .. }) if method == id && is_dir => Ok(BuildKind::Node),
        (None, _) => Ok(BuildKind::None),
        (Some(method), runtime) => Err(BuildError::UnsupportedMethod {
            function: function.logical_id.clone(),
            method: method.to_owned(),
            runtime: runtime.id().to_owned(),
        }),
    }
}

/// True when the function has a build step.
pub fn needs_build(function: &Function) -> bool {
    !matches!(kind_of(function), Ok(BuildKind::None))
}

/// Functions built together: one build kind, one CodeUri, one set of
/// build settings. The first function (by logical ID) owns the output
/// directory.
#[derive(Debug, Clone)]
pub struct BuildUnit {
    pub kind: BuildKind,
    pub functions: Vec<Arc<Function>>,
}

impl BuildUnit {
    /// The function whose build directory holds the unit's output.
    pub fn owner(&self) -> &Arc<Function> {
        &self.functions[0]
    }

    /// The directory whose files are the unit's inputs.
    pub fn source(&self) -> &Path {
        &self.owner().code_uri
    }

    /// `HelloFunction` or `HelloFunction, ItemsFunction`.
    pub fn names(&self) -> String {
        let names: Vec<&str> = self
            .functions
            .iter()
            .map(|f| f.logical_id.as_str())
            .collect();
        names.join(", ")
    }

    /// The unit's build output directory.
    pub fn output(&self, dirs: &BuildDirs) -> PathBuf {
        dirs.for_function(self.owner())
    }

    /// The build settings, as text: part of the input fingerprint, since
    /// changing them changes the output.
    pub fn settings(&self) -> String {
        let owner = self.owner();
        let mut text = format!(
            "{:?} {} {:?}",
            self.kind,
            owner.runtime.id(),
            owner.build.properties
        );
        if matches!(self.kind, BuildKind::Makefile | BuildKind::Esbuild) {
            text.push_str(&owner.logical_id);
        }
        text
    }
}

/// Groups functions into build units. Makefile and esbuild builds are per
/// function (SAM runs one make target per function); the others are shared
/// by every function with the same CodeUri and settings.
pub fn units<'a>(
    functions: impl IntoIterator<Item = &'a Arc<Function>>,
) -> Result<Vec<BuildUnit>, BuildError> {
    let mut functions: Vec<&Arc<Function>> = functions.into_iter().collect();
    functions.sort_by(|a, b| a.logical_id.cmp(&b.logical_id));
    let mut units: Vec<BuildUnit> = Vec::new();
    for function in functions {
        let kind = kind_of(function)?;
        let shared = !matches!(
            kind,
            BuildKind::Makefile | BuildKind::Esbuild | BuildKind::None
        );
        let candidate = BuildUnit {
            kind,
            functions: vec![function.clone()],
        };
        let existing = units.iter_mut().find(|unit| {
            shared
                && unit.kind == kind
                && unit.source() == function.code_uri
                && unit.settings() == candidate.settings()
        });
        match existing {
            Some(unit) => unit.functions.push(function.clone()),
            None => units.push(candidate),
        }
    }
    Ok(units)
}

/// A finished build of one unit.
#[derive(Debug, Clone)]
pub struct Built {
    /// What to serve, one per function of the unit.
    pub deployments: Vec<Deployment>,
    /// The directory instances run from.
    pub code_dir: PathBuf,
    /// The file a debugger loads: `bootstrap` for native functions, else
    /// the code directory.
    pub artifact: PathBuf,
    /// False when the output was already built from these inputs and
    /// nothing ran.
    pub ran: bool,
}

/// Builds a unit whose inputs hash to `fingerprint`, unless its output was
/// already built from them. Compiler output streams to the console,
/// prefixed with the function name.
pub async fn build_unit(
    unit: &BuildUnit,
    dirs: &BuildDirs,
    console: &Console,
    fingerprint: &str,
) -> Result<Built, BuildError> {
    stage_unit(unit, dirs, console, fingerprint)
        .await?
        .finish()
        .await
}

/// A build whose code directory is complete, with a last step left: the
/// syntax check of an interpreted function. Its deployments can already
/// start instances, which a reload does to overlap the new version's cold
/// start with the check; they must not serve before [`Staged::finish`]
/// succeeds.
pub struct Staged {
    built: Built,
    /// The version directory and its pending check, for a fresh Python or
    /// Node.js version.
    pending: Option<PendingCheck>,
}

struct PendingCheck {
    staging: snapshot::Staging,
    kind: BuildKind,
    owner: Arc<Function>,
    fingerprint: String,
    console: Console,
    prefix: crate::console::Prefix,
}

impl Staged {
    /// The deployments the build will serve.
    pub fn deployments(&self) -> &[Deployment] {
        &self.built.deployments
    }

    /// True when a check is still to run, so that starting an instance now
    /// saves time.
    pub fn has_pending_check(&self) -> bool {
        self.pending.is_some()
    }

    /// Runs the remaining check and finishes the version. A failed check
    /// removes the version directory.
    pub async fn finish(self) -> Result<Built, BuildError> {
        let Some(pending) = self.pending else {
            return Ok(self.built);
        };
        let version = pending.staging.path();
        let checked = match pending.kind {
            BuildKind::Python => {
                check::python(&pending.owner, version, &pending.console, &pending.prefix).await
            }
            BuildKind::Node => {
                check::node(&pending.owner, version, &pending.console, &pending.prefix).await
            }
            _ => Ok(()),
        };
        if let Err(error) = checked {
            pending.staging.discard();
            return Err(error);
        }
        pending.staging.commit(&pending.fingerprint)?;
        Ok(self.built)
    }
}

/// Does everything of [`build_unit`] but the syntax check of a fresh
/// Python or Node.js version, which [`Staged::finish`] runs.
pub async fn stage_unit(
    unit: &BuildUnit,
    dirs: &BuildDirs,
    console: &Console,
    fingerprint: &str,
) -> Result<Staged, BuildError> {
    let owner = unit.owner();
    let output = unit.output(dirs);
    let prefix = console.prefix(&format!("{} build", owner.logical_id));
    let mut pending = None;
    let (code_dir, ran) = match unit.kind {
        BuildKind::None => (owner.code_uri.clone(), false),
        BuildKind::Cargo => {
            let current = read_stamp(&output).as_deref() == Some(fingerprint)
                && output.join("bootstrap").is_file();
            if !current {
                cargo::build(owner, &output, console, &prefix).await?;
                write_stamp(owner, &output, fingerprint)?;
            }
            (output.clone(), !current)
        }
        BuildKind::Python | BuildKind::Node | BuildKind::Makefile | BuildKind::Esbuild => {
            if let Some(current) = snapshot::current(&output, fingerprint) {
                (current, false)
            } else {
                let staging = snapshot::Staging::new(owner, &output)?;
                let result = fill(unit, dirs, staging.path(), console, &prefix).await;
                if let Err(error) = result {
                    staging.discard();
                    return Err(error);
                }
                let code_dir = staging.path().to_path_buf();
                if matches!(unit.kind, BuildKind::Python | BuildKind::Node) {
                    pending = Some(PendingCheck {
                        staging,
                        kind: unit.kind,
                        owner: owner.clone(),
                        fingerprint: fingerprint.to_owned(),
                        console: console.clone(),
                        prefix: prefix.clone(),
                    });
                } else {
                    staging.commit(fingerprint)?;
                }
                (code_dir, true)
            }
        }
    };
    let layers = match unit.kind {
        BuildKind::Python => python::dependencies(owner, &dirs.root, console, &prefix).await,
        _ => Ok(Vec::new()),
    };
    let layers = match layers {
        Ok(layers) => layers,
        Err(error) => {
            if let Some(pending) = pending {
                pending.staging.discard();
            }
            return Err(error);
        }
    };
    let deployments = unit
        .functions
        .iter()
        .map(|function| {
            let served = if layers.is_empty() {
                function.clone()
            } else {
                let mut served = Function::clone(function);
                // Dependencies come after the function's own layers, as SAM's
                // artifact puts them in /var/task, which precedes /opt.
                served.layers.extend(layers.iter().cloned());
                Arc::new(served)
            };
            Deployment {
                function: served,
                code_dir: code_dir.clone(),
            }
        })
        .collect();
    let artifact = if matches!(owner.runtime, Runtime::Provided { .. }) {
        code_dir.join("bootstrap")
    } else {
        code_dir.clone()
    };
    Ok(Staged {
        built: Built {
            deployments,
            code_dir,
            artifact,
            ran,
        },
        pending,
    })
}

/// True when the unit's output was built from `fingerprint` (or the unit
/// has nothing to build), so [`build_unit`] would run nothing.
pub fn is_current(unit: &BuildUnit, dirs: &BuildDirs, fingerprint: &str) -> bool {
    let output = unit.output(dirs);
    match unit.kind {
        BuildKind::None => true,
        BuildKind::Cargo => {
            read_stamp(&output).as_deref() == Some(fingerprint)
                && output.join("bootstrap").is_file()
        }
        _ => snapshot::current(&output, fingerprint).is_some(),
    }
}

/// Produces a new version directory's contents.
async fn fill(
    unit: &BuildUnit,
    dirs: &BuildDirs,
    staging: &Path,
    console: &Console,
    prefix: &crate::console::Prefix,
) -> Result<(), BuildError> {
    let owner = unit.owner();
    match unit.kind {
        // The syntax check of these two is the staged build's last step.
        BuildKind::Python => snapshot::copy_source(owner, staging),
        BuildKind::Node => {
            snapshot::copy_source(owner, staging)?;
            if let Some(modules) = node::dependencies(owner, &dirs.root, console, prefix).await? {
                snapshot::link_node_modules(owner, &modules, staging)?;
            }
            Ok(())
        }
        BuildKind::Makefile => process::makefile(owner, staging, console, prefix).await,
        BuildKind::Esbuild => {
            let modules = node::dependencies(owner, &dirs.root, console, prefix).await?;
            node::esbuild(owner, modules.as_deref(), staging, console, prefix).await
        }
        BuildKind::Cargo | BuildKind::None => Ok(()),
    }
}

fn read_stamp(output: &Path) -> Option<String> {
    std::fs::read_to_string(output.join(STAMP))
        .ok()
        .map(|text| text.trim().to_owned())
}

fn write_stamp(function: &Function, output: &Path, fingerprint: &str) -> Result<(), BuildError> {
    let path = output.join(STAMP);
    std::fs::write(&path, fingerprint).map_err(|cause| BuildError::Io {
        function: function.logical_id.clone(),
        path,
        cause,
    })
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

/// A function for unit tests of the builder and the reloader.
#[cfg(test)]
pub(crate) mod test_support {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::collections::BTreeMap;
    use std::path::Path;
    use std::sync::Arc;

    use crate::app::{Function, Runtime};

    pub(crate) fn function(
        id: &str,
        runtime: Runtime,
        code_uri: &Path,
        method: Option<&str>,
    ) -> Arc<Function> {
        Arc::new(Function {
            logical_id: id.to_owned(),
            name: id.to_owned(),
            code_uri: code_uri.to_path_buf(),
            handler: Some("app.handler".to_owned()),
            runtime,
            timeout: std::time::Duration::from_secs(3),
            memory_mb: 128,
            ephemeral_storage_mb: 512,
            architecture: crate::app::Architecture::X86_64,
            environment: BTreeMap::new(),
            reserved_concurrency: None,
            layers: Vec::new(),
            events: Vec::new(),
            build: crate::app::BuildMetadata {
                method: method.map(str::to_owned),
                properties: BTreeMap::new(),
                docker_image: None,
            },
            function_url: None,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::test_support::function;
    use super::*;

    fn node() -> Runtime {
        Runtime::Node {
            id: "nodejs20.x".into(),
            major: 20,
        }
    }

    fn python(minor: u32) -> Runtime {
        Runtime::Python {
            id: format!("python3.{minor}"),
            minor,
        }
    }

    /// Groups functions and renders the units as `kind: names` lines.
    fn check(functions: &[Arc<Function>], expected: &[&str]) {
        let rendered: Vec<String> = units(functions)
            .unwrap()
            .iter()
            .map(|unit| format!("{:?}: {}", unit.kind, unit.names()))
            .collect();
        assert_eq!(rendered, expected);
    }

    #[test]
    fn shared_code_uris_build_once() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let other = dir.path().join("other");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::create_dir_all(&other).unwrap();
        check(
            &[
                function("Items", node(), &src, None),
                function("Hello", node(), &src, None),
                function("Other", node(), &other, None),
                function("Py12", python(12), &src, None),
                function("Py13", python(13), &src, None),
            ],
            &[
                "Node: Hello, Items",
                "Node: Other",
                "Python: Py12",
                "Python: Py13",
            ],
        );
        check(
            &[
                function("A", python(12), &src, Some("makefile")),
                function("B", python(12), &src, Some("makefile")),
            ],
            &["Makefile: A", "Makefile: B"],
        );
        let zip = dir.path().join("code.zip");
        std::fs::write(&zip, b"PK").unwrap();
        check(
            &[function("Zipped", python(12), &zip, None)],
            &["None: Zipped"],
        );
    }

    #[test]
    fn build_methods_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let provided = Runtime::Provided {
            id: "provided.al2023".into(),
        };
        let kind = |method: Option<&str>, runtime: Runtime| {
            kind_of(&function("F", runtime, dir.path(), method))
        };
        assert_eq!(
            kind(Some("rust-cargolambda"), provided.clone()).unwrap(),
            BuildKind::Cargo
        );
        assert_eq!(kind(None, provided.clone()).unwrap(), BuildKind::None);
        assert_eq!(kind(Some("esbuild"), node()).unwrap(), BuildKind::Esbuild);
        assert_eq!(
            kind(Some("python3.12"), python(12)).unwrap(),
            BuildKind::Python
        );
        let error = kind(Some("esbuild"), python(12)).unwrap_err().to_string();
        assert!(
            error.contains("F: BuildMethod `esbuild` is not supported for python3.12"),
            "{error}"
        );
        let error = kind(Some("dotnet7"), provided).unwrap_err().to_string();
        assert!(error.contains("`dotnet7`"), "{error}");
    }
}
