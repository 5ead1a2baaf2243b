//! Which image a function's containers run, and making it available with
//! no registry.
//!
//! The choice, in order (never pulling unless `--pull` is given):
//! 1. the function's `Metadata.DockerImage`, else `--image RUNTIME=IMAGE`;
//! 2. AWS's `public.ecr.aws/lambda/<runtime>:<version>` if present locally;
//! 3. Fogbank's base image: an almost empty image imported from a tarball
//!    built here, run with the host's `/usr`, `/lib`… mounted read-only so
//!    the host's interpreters run inside.
//!
//! How an image is run depends on its kind: an image whose entrypoint is
//! AWS's `/lambda-entrypoint.sh` brings its own runtime at
//! `/var/runtime/bootstrap`; any other image gets Fogbank's bootstraps
//! mounted at `/var/runtime` and runs them with its own `python3`/`node`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::engine::{Bind, Engine, EngineError, ImageInfo};
use crate::app::{Architecture, Function, Runtime};
use crate::console::Console;

/// How a container of an image starts the function's runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ImageKind {
    /// An AWS Lambda image: its own `/var/runtime/bootstrap` runs Python
    /// and Node functions.
    Lambda,
    /// Any other image: Fogbank's bootstraps, the image's interpreters.
    Plain,
    /// Fogbank's base image: Fogbank's bootstraps, the host's interpreters.
    Base,
}

/// An image present on the engine, ready for containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PreparedImage {
    pub reference: String,
    pub kind: ImageKind,
}

/// Why no image could be made ready for a function.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ImageError {
    #[error(
        "image {image} (named by {origin}) is not present on the Docker engine and Fogbank never \
         pulls without being asked; build or load it (`docker build -t {image} .`, `docker load`) \
         or pass --pull"
    )]
    Missing { image: String, origin: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// The repository of Fogbank's base image; its tag is a hash of its
/// content, so a changed layout makes a new image.
pub(crate) const BASE_REPOSITORY: &str = "fogbank-base";

/// The image a function names itself, and where that name came from.
pub(crate) fn configured_image(
    function: &Function,
    overrides: &BTreeMap<String, String>,
) -> Option<(String, String)> {
    if let Some(image) = &function.build.docker_image {
        return Some((
            image.clone(),
            format!("Metadata.DockerImage of {}", function.logical_id),
        ));
    }
    let runtime = function.runtime.id();
    overrides
        .get(runtime)
        .map(|image| (image.clone(), format!("--image {runtime}={image}")))
}

/// AWS's official images for a runtime, in the tags they are published
/// under: the plain version tag, then the architecture-specific one.
pub(crate) fn official_candidates(runtime: &Runtime, architecture: Architecture) -> Vec<String> {
    let (repository, version) = match runtime {
        Runtime::Python { minor, .. } => ("python", format!("3.{minor}")),
        Runtime::Node { major, .. } => ("nodejs", major.to_string()),
        Runtime::Provided { id } => (
            "provided",
            match id.strip_prefix("provided.") {
                Some(flavour) => flavour.to_owned(),
                None => "alami".to_owned(),
            },
        ),
    };
    let arch = match architecture {
        Architecture::X86_64 => "x86_64",
        Architecture::Arm64 => "arm64",
    };
    vec![
        format!("public.ecr.aws/lambda/{repository}:{version}"),
        format!("public.ecr.aws/lambda/{repository}:{version}-{arch}"),
    ]
}

/// The kind of an image from its configuration.
pub(crate) fn kind_of(info: &ImageInfo) -> ImageKind {
    if info
        .entrypoint
        .first()
        .is_some_and(|e| e == "/lambda-entrypoint.sh")
    {
        ImageKind::Lambda
    } else {
        ImageKind::Plain
    }
}

/// Lambda's sandbox user, `sbx_user1051`.
pub(crate) const SANDBOX_USER: &str = "993:990";

/// The base image's root filesystem: mount points, a passwd file naming
/// Lambda's sandbox user, and nothing else. Deterministic (fixed times and
/// owners), so its hash names its content.
pub(crate) fn base_tarball() -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let directories: &[(&str, u32)] = &[
        ("bin/", 0o755),
        ("dev/", 0o755),
        ("etc/", 0o755),
        ("home/", 0o755),
        ("lib/", 0o755),
        ("lib64/", 0o755),
        ("opt/", 0o755),
        ("proc/", 0o555),
        ("sbin/", 0o755),
        ("sys/", 0o555),
        ("tmp/", 0o1777),
        ("usr/", 0o755),
        ("var/", 0o755),
        ("var/fogbank/", 0o755),
        ("var/runtime/", 0o755),
        ("var/task/", 0o755),
    ];
    for (path, mode) in directories {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(*mode);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_size(0);
        builder.append_data(&mut header, path, std::io::empty())?;
    }
    let files: &[(&str, &str)] = &[
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/sbin/nologin\nsbx_user1051:x:993:990::/home/sbx_user1051:/sbin/nologin\n",
        ),
        ("etc/group", "root:x:0:\nsbx_user1051:x:990:\n"),
    ];
    for (path, content) in files {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_size(content.len() as u64);
        builder.append_data(&mut header, path, content.as_bytes())?;
    }
    builder.into_inner()
}

/// The base image's tag: the start of its tarball's SHA-256.
pub(crate) fn base_tag(tarball: &[u8]) -> String {
    let digest = Sha256::digest(tarball);
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// The host directories a base-image container mounts read-only, at the
/// same paths: the system's programs and libraries, the dynamic linker's
/// cache and the TLS certificates. Symbolic links (`/bin -> usr/bin` on
/// merged-/usr systems) are mounted as the directories they point to.
pub(crate) fn host_system_binds() -> Vec<Bind> {
    HOST_SYSTEM_PATHS
        .iter()
        .filter(|path| Path::new(path).exists())
        .map(|path| Bind {
            source: (*path).to_owned(),
            target: (*path).to_owned(),
            read_only: true,
        })
        .collect()
}

// `/sbin` is left out: the engine mounts its init at `/sbin/docker-init`,
// which a read-only host directory there would hide.
const HOST_SYSTEM_PATHS: &[&str] = &[
    "/usr",
    "/bin",
    "/lib",
    "/lib64",
    "/etc/ld.so.cache",
    "/etc/alternatives",
    "/etc/ssl",
    "/etc/ca-certificates",
];

/// A host interpreter usable inside a base-image container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostInterpreter {
    /// The interpreter's path, the same inside the container.
    pub program: String,
    /// A read-only mount its installation needs when it lives outside the
    /// system directories (for example under `~/.pyenv`).
    pub extra: Option<Bind>,
}

/// Finds the host interpreter for a managed runtime: the exact version
/// first, then the generic name; system directories before PATH. Version
/// manager shims (scripts) are skipped: they do not work inside a
/// container, but the interpreters they point to do.
pub(crate) fn host_interpreter(runtime: &Runtime) -> Option<HostInterpreter> {
    let (names, check): (Vec<String>, &[&str]) = match runtime {
        Runtime::Python { minor, .. } => (
            vec![format!("python3.{minor}"), "python3".to_owned()],
            &["-c", "pass"],
        ),
        Runtime::Node { .. } => (vec!["node".to_owned()], &["-e", "0"]),
        Runtime::Provided { .. } => return None,
    };
    let mut dirs: Vec<PathBuf> = ["/usr/local/bin", "/usr/bin", "/bin"]
        .iter()
        .map(PathBuf::from)
        .collect();
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    for name in &names {
        for dir in &dirs {
            let candidate = dir.join(name);
            let Ok(real) = std::fs::canonicalize(&candidate) else {
                continue;
            };
            if !is_binary(&real) || !runs(&real, check) {
                continue;
            }
            let inside_system = HOST_SYSTEM_PATHS.iter().any(|root| real.starts_with(root));
            let extra = if inside_system {
                None
            } else {
                // `<prefix>/bin/python3.11` needs `<prefix>` (its lib/).
                let prefix = real.parent().and_then(Path::parent)?;
                Some(Bind {
                    source: prefix.to_string_lossy().into_owned(),
                    target: prefix.to_string_lossy().into_owned(),
                    read_only: true,
                })
            };
            return Some(HostInterpreter {
                program: real.to_string_lossy().into_owned(),
                extra,
            });
        }
    }
    None
}

/// True for an executable that is not a script.
fn is_binary(path: &Path) -> bool {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return false;
    }
    let mut magic = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut magic))
        .is_ok_and(|()| &magic != b"#!")
}

fn runs(program: &Path, args: &[&str]) -> bool {
    std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Makes images ready, once each, and remembers the result for the run.
pub(crate) struct Images {
    engine: Engine,
    overrides: BTreeMap<String, String>,
    pull: bool,
    console: Console,
    /// Held while an image is being prepared, so that concurrent cold
    /// starts wait for one import instead of racing.
    cache: tokio::sync::Mutex<HashMap<String, PreparedImage>>,
}

impl Images {
    pub fn new(
        engine: Engine,
        overrides: BTreeMap<String, String>,
        pull: bool,
        console: Console,
    ) -> Images {
        Images {
            engine,
            overrides,
            pull,
            console,
            cache: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The image `function` runs in, prepared (imported or pulled) if
    /// needed.
    pub async fn for_function(&self, function: &Function) -> Result<PreparedImage, ImageError> {
        let configured = configured_image(function, &self.overrides);
        let key = match &configured {
            Some((image, _)) => format!("image:{image}"),
            None => format!(
                "runtime:{}:{:?}",
                function.runtime.id(),
                function.architecture
            ),
        };
        let mut cache = self.cache.lock().await;
        if let Some(prepared) = cache.get(&key) {
            return Ok(prepared.clone());
        }
        let prepared = match configured {
            Some((image, origin)) => self.configured(&image, &origin).await?,
            None => self.official_or_base(function).await?,
        };
        cache.insert(key, prepared.clone());
        Ok(prepared)
    }

    /// Forgets every prepared image, so the next start checks again (after
    /// an image vanished from the engine).
    pub async fn forget(&self) {
        self.cache.lock().await.clear();
    }

    async fn configured(&self, image: &str, origin: &str) -> Result<PreparedImage, ImageError> {
        let info = match self.engine.inspect_image(image).await? {
            Some(info) => info,
            None if self.pull => {
                self.pull(image).await?;
                self.engine
                    .inspect_image(image)
                    .await?
                    .ok_or_else(|| ImageError::Missing {
                        image: image.to_owned(),
                        origin: origin.to_owned(),
                    })?
            }
            None => {
                return Err(ImageError::Missing {
                    image: image.to_owned(),
                    origin: origin.to_owned(),
                });
            }
        };
        Ok(PreparedImage {
            reference: image.to_owned(),
            kind: kind_of(&info),
        })
    }

    async fn official_or_base(&self, function: &Function) -> Result<PreparedImage, ImageError> {
        let candidates = official_candidates(&function.runtime, function.architecture);
        for candidate in &candidates {
            if let Some(info) = self.engine.inspect_image(candidate).await? {
                return Ok(PreparedImage {
                    reference: candidate.clone(),
                    kind: kind_of(&info),
                });
            }
        }
        if self.pull {
            let wanted = &candidates[0];
            match self.pull(wanted).await {
                Ok(()) => {
                    if let Some(info) = self.engine.inspect_image(wanted).await? {
                        return Ok(PreparedImage {
                            reference: wanted.clone(),
                            kind: kind_of(&info),
                        });
                    }
                }
                Err(error) => self.console.line(&format!(
                    "{error}; {} runs in Fogbank's base image instead",
                    function.logical_id
                )),
            }
        }
        self.base().await
    }

    async fn pull(&self, image: &str) -> Result<(), EngineError> {
        self.console
            .line(&format!("pulling image {image} (--pull) ..."));
        let console = self.console.clone();
        let started = Instant::now();
        self.engine
            .pull_image(image, |line| console.line(&format!("  {image}: {line}")))
            .await?;
        self.console.line(&format!(
            "pulled {image} in {:.1} s",
            started.elapsed().as_secs_f64()
        ));
        Ok(())
    }

    /// Fogbank's base image, imported the first time it is needed.
    async fn base(&self) -> Result<PreparedImage, ImageError> {
        let tarball = base_tarball().map_err(|error| EngineError::ImportImage {
            image: BASE_REPOSITORY.to_owned(),
            message: format!("building the root filesystem tarball: {error}"),
        })?;
        let tag = base_tag(&tarball);
        let reference = format!("{BASE_REPOSITORY}:{tag}");
        if self.engine.inspect_image(&reference).await?.is_none() {
            let started = Instant::now();
            self.console.line(&format!(
                "building Fogbank's base image {reference} (first use; imported from a {} byte tarball, no registry) ...",
                tarball.len()
            ));
            self.engine
                .import_image(BASE_REPOSITORY, &tag, Bytes::from(tarball))
                .await?;
            self.console.line(&format!(
                "built {reference} in {:.2} s",
                started.elapsed().as_secs_f64()
            ));
        }
        Ok(PreparedImage {
            reference,
            kind: ImageKind::Base,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn runtime(id: &str) -> Runtime {
        if let Some(minor) = id.strip_prefix("python3.") {
            Runtime::Python {
                id: id.to_owned(),
                minor: minor.parse().unwrap(),
            }
        } else if let Some(major) = id.strip_prefix("nodejs").and_then(|r| r.strip_suffix(".x")) {
            Runtime::Node {
                id: id.to_owned(),
                major: major.parse().unwrap(),
            }
        } else {
            Runtime::Provided { id: id.to_owned() }
        }
    }

    #[test]
    fn official_images_follow_aws_naming() {
        let check = |id: &str, arch: Architecture, expected: &[&str]| {
            assert_eq!(official_candidates(&runtime(id), arch), expected, "{id}");
        };
        check(
            "python3.12",
            Architecture::X86_64,
            &[
                "public.ecr.aws/lambda/python:3.12",
                "public.ecr.aws/lambda/python:3.12-x86_64",
            ],
        );
        check(
            "nodejs20.x",
            Architecture::Arm64,
            &[
                "public.ecr.aws/lambda/nodejs:20",
                "public.ecr.aws/lambda/nodejs:20-arm64",
            ],
        );
        check(
            "provided.al2023",
            Architecture::X86_64,
            &[
                "public.ecr.aws/lambda/provided:al2023",
                "public.ecr.aws/lambda/provided:al2023-x86_64",
            ],
        );
        check(
            "provided",
            Architecture::X86_64,
            &[
                "public.ecr.aws/lambda/provided:alami",
                "public.ecr.aws/lambda/provided:alami-x86_64",
            ],
        );
    }

    #[test]
    fn lambda_images_are_recognised_by_their_entrypoint() {
        let check = |entrypoint: &[&str], expected: ImageKind| {
            let info = ImageInfo {
                id: "sha256:1".into(),
                entrypoint: entrypoint.iter().map(|s| s.to_string()).collect(),
                architecture: "amd64".into(),
            };
            assert_eq!(kind_of(&info), expected, "{entrypoint:?}");
        };
        check(&["/lambda-entrypoint.sh"], ImageKind::Lambda);
        check(&[], ImageKind::Plain);
        check(&["/bin/sh", "-c"], ImageKind::Plain);
    }

    #[test]
    fn the_base_tarball_is_deterministic_and_small() {
        let first = base_tarball().unwrap();
        let second = base_tarball().unwrap();
        assert_eq!(first, second);
        assert_eq!(base_tag(&first), base_tag(&second));
        assert_eq!(base_tag(&first).len(), 12);
        assert!(first.len() < 32 * 1024, "{}", first.len());
        let mut archive = tar::Archive::new(first.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|entry| {
                entry
                    .unwrap()
                    .path()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        for expected in ["tmp/", "var/task/", "var/runtime/", "etc/passwd"] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} in {names:?}"
            );
        }
    }
}
