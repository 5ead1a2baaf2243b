//! The Docker Engine API client: one method per Engine operation, each with
//! a time limit and an error variant named for the operation.
//!
//! Architecture invariant: this is the only file in Fogbank that imports
//! bollard. Everything it returns is one of the plain types below, so the
//! rest of the Docker backend never sees a bollard type and a log line says
//! exactly which Engine call failed.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::{ContainerCreateBody, HostConfig, ResourcesUlimits};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, InspectContainerOptions, ListContainersOptions,
    LogsOptions, RemoveContainerOptions, StartContainerOptions, WaitContainerOptions,
};
use bytes::Bytes;
use futures::StreamExt;

/// How long connecting and the version handshake may take: an engine that
/// does not answer in this time is treated as unreachable.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Quick reads (inspect, list, logs).
const QUERY_TIMEOUT: Duration = Duration::from_secs(20);
/// Creating, starting and removing containers; a busy engine can be slow.
const CONTAINER_TIMEOUT: Duration = Duration::from_secs(60);
/// Importing or pulling an image.
const IMAGE_TIMEOUT: Duration = Duration::from_secs(600);

/// Why an Engine operation failed. Every variant names the operation and
/// the resource, and carries the engine's own message.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    #[error("connecting to the Docker engine at {endpoint}: {message}")]
    Connect { endpoint: String, message: String },
    #[error("inspecting image {image}: {message}")]
    InspectImage { image: String, message: String },
    #[error("pulling image {image}: {message}")]
    PullImage { image: String, message: String },
    #[error("importing image {image}: {message}")]
    ImportImage { image: String, message: String },
    #[error("creating a container from image {image}: {message}")]
    CreateContainer { image: String, message: String },
    #[error("starting container {container}: {message}")]
    StartContainer { container: String, message: String },
    #[error("waiting for container {container}: {message}")]
    WaitContainer { container: String, message: String },
    #[error("inspecting container {container}: {message}")]
    InspectContainer { container: String, message: String },
    #[error("removing container {container}: {message}")]
    RemoveContainer { container: String, message: String },
    #[error("listing containers: {message}")]
    ListContainers { message: String },
    #[error("reading the logs of container {container}: {message}")]
    ContainerLogs { container: String, message: String },
}

impl EngineError {
    /// True when the engine answered 404 for the image or container.
    pub fn is_not_found(&self) -> bool {
        let message = match self {
            EngineError::InspectImage { message, .. }
            | EngineError::CreateContainer { message, .. }
            | EngineError::InspectContainer { message, .. }
            | EngineError::RemoveContainer { message, .. } => message,
            _ => return false,
        };
        message.starts_with(NOT_FOUND_PREFIX)
    }
}

/// Prefix of messages made from a 404 answer, so `is_not_found` works on
/// the plain error text.
const NOT_FOUND_PREFIX: &str = "not found: ";

/// What Fogbank needs to know about an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageInfo {
    pub id: String,
    pub entrypoint: Vec<String>,
    pub architecture: String,
}

/// A bind mount of a host path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bind {
    pub source: String,
    pub target: String,
    pub read_only: bool,
}

/// Everything needed to create one container; the Engine API's create body
/// is built from it here and nowhere else.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ContainerConfig {
    pub name: String,
    pub image: String,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// `KEY=VALUE` entries, added to the image's own environment.
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub labels: BTreeMap<String, String>,
    pub binds: Vec<Bind>,
    /// Mount point and mount options (`rw,size=512m,mode=1777`).
    pub tmpfs: Vec<(String, String)>,
    /// The memory limit, also used as the memory+swap limit (no swap).
    pub memory_bytes: i64,
    pub pids_limit: i64,
    pub open_files_limit: i64,
    pub read_only_root: bool,
    pub cap_add: Vec<String>,
    pub security_opt: Vec<String>,
}

/// A container's state as far as Fogbank cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerState {
    pub pid: Option<u32>,
    pub running: bool,
    pub oom_killed: bool,
}

/// One container from a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerSummary {
    pub id: String,
    pub labels: HashMap<String, String>,
    pub running: bool,
}

/// The Engine client. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub(crate) struct Engine {
    docker: Docker,
    endpoint: String,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

/// The engine address Fogbank would use: `DOCKER_HOST`, else the default
/// socket, or `None` when neither is set up.
pub(crate) fn configured_endpoint() -> Result<String, String> {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if !host.is_empty() => Ok(host),
        _ if std::path::Path::new(DEFAULT_SOCKET).exists() => {
            Ok(format!("unix://{DEFAULT_SOCKET}"))
        }
        _ => Err(format!(
            "DOCKER_HOST is not set and {DEFAULT_SOCKET} does not exist"
        )),
    }
}

const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

impl Engine {
    /// Connects to the engine at `DOCKER_HOST` (or the default socket) and
    /// agrees on an API version both sides speak, within
    /// [`CONNECT_TIMEOUT`].
    pub async fn connect() -> Result<Engine, EngineError> {
        let endpoint = configured_endpoint().map_err(|message| EngineError::Connect {
            endpoint: format!("unix://{DEFAULT_SOCKET}"),
            message,
        })?;
        let connect_error = |message: String| EngineError::Connect {
            endpoint: endpoint.clone(),
            message,
        };
        let docker = Docker::connect_with_defaults()
            .map_err(|error| connect_error(error.to_string()))?
            .with_timeout(CONTAINER_TIMEOUT);
        // Engines speak different API versions (Debian's 20.10 stops at
        // 1.41); negotiating picks the highest both understand.
        let docker = tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version())
            .await
            .map_err(|_| {
                connect_error(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()))
            })?
            .map_err(|error| connect_error(describe(&error)))?;
        Ok(Engine { docker, endpoint })
    }

    /// The address this client talks to, for messages.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The image's details, or `None` when it is not present locally.
    pub async fn inspect_image(&self, image: &str) -> Result<Option<ImageInfo>, EngineError> {
        let error = |message| EngineError::InspectImage {
            image: image.to_owned(),
            message,
        };
        match limit(QUERY_TIMEOUT, self.docker.inspect_image(image)).await {
            Ok(Ok(inspect)) => Ok(Some(ImageInfo {
                id: inspect.id.unwrap_or_default(),
                entrypoint: inspect
                    .config
                    .and_then(|config| config.entrypoint)
                    .unwrap_or_default(),
                architecture: inspect.architecture.unwrap_or_default(),
            })),
            Ok(Err(bollard_error)) if status(&bollard_error) == Some(404) => Ok(None),
            Ok(Err(bollard_error)) => Err(error(describe(&bollard_error))),
            Err(timeout) => Err(error(timeout)),
        }
    }

    /// Pulls an image from its registry, reporting each distinct progress
    /// message to `progress`.
    pub async fn pull_image(
        &self,
        image: &str,
        mut progress: impl FnMut(&str),
    ) -> Result<(), EngineError> {
        let error = |message| EngineError::PullImage {
            image: image.to_owned(),
            message,
        };
        let options = CreateImageOptions {
            from_image: Some(image.to_owned()),
            ..Default::default()
        };
        let mut stream = self.docker.create_image(Some(options), None, None);
        let pull = async {
            let mut last = String::new();
            while let Some(item) = stream.next().await {
                let info = item.map_err(|e| describe(&e))?;
                let line = match (info.id, info.status) {
                    (Some(id), Some(status)) => format!("{id}: {status}"),
                    (None, Some(status)) => status,
                    _ => continue,
                };
                if line != last {
                    progress(&line);
                    last = line;
                }
            }
            Ok::<(), String>(())
        };
        match tokio::time::timeout(IMAGE_TIMEOUT, pull).await {
            Ok(result) => result.map_err(error),
            Err(_) => Err(error(format!(
                "no answer within {} s",
                IMAGE_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Imports a root filesystem tarball as `repository:tag`, as
    /// `docker import` does.
    pub async fn import_image(
        &self,
        repository: &str,
        tag: &str,
        tarball: Bytes,
    ) -> Result<(), EngineError> {
        let image = format!("{repository}:{tag}");
        let error = |message| EngineError::ImportImage {
            image: image.clone(),
            message,
        };
        let options = CreateImageOptions {
            from_src: Some("-".to_owned()),
            repo: Some(repository.to_owned()),
            tag: Some(tag.to_owned()),
            message: Some("fogbank base image".to_owned()),
            ..Default::default()
        };
        let mut stream =
            self.docker
                .create_image(Some(options), Some(bollard::body_full(tarball)), None);
        let import = async {
            while let Some(item) = stream.next().await {
                item.map_err(|e| describe(&e))?;
            }
            Ok::<(), String>(())
        };
        match tokio::time::timeout(IMAGE_TIMEOUT, import).await {
            Ok(result) => result.map_err(error),
            Err(_) => Err(error(format!(
                "no answer within {} s",
                IMAGE_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Creates a container and returns its ID.
    pub async fn create_container(&self, config: ContainerConfig) -> Result<String, EngineError> {
        let image = config.image.clone();
        let error = |message| EngineError::CreateContainer {
            image: image.clone(),
            message,
        };
        let options = CreateContainerOptions {
            name: Some(config.name.clone()),
            ..Default::default()
        };
        let body = create_body(config);
        match limit(
            CONTAINER_TIMEOUT,
            self.docker.create_container(Some(options), body),
        )
        .await
        {
            Ok(Ok(created)) => Ok(created.id),
            Ok(Err(bollard_error)) => Err(error(describe(&bollard_error))),
            Err(timeout) => Err(error(timeout)),
        }
    }

    pub async fn start_container(&self, id: &str) -> Result<(), EngineError> {
        let error = |message| EngineError::StartContainer {
            container: short(id),
            message,
        };
        match limit(
            CONTAINER_TIMEOUT,
            self.docker
                .start_container(id, None::<StartContainerOptions>),
        )
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(bollard_error)) => Err(error(describe(&bollard_error))),
            Err(timeout) => Err(error(timeout)),
        }
    }

    /// Waits, without a time limit, until the container is not running,
    /// and returns its exit code.
    pub async fn wait_container(&self, id: &str) -> Result<i64, EngineError> {
        let options = WaitContainerOptions {
            condition: "not-running".to_owned(),
        };
        let mut stream = self.docker.wait_container(id, Some(options));
        match stream.next().await {
            Some(Ok(response)) => Ok(response.status_code),
            // bollard turns a non-zero exit into an error value.
            Some(Err(BollardError::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(bollard_error)) => Err(EngineError::WaitContainer {
                container: short(id),
                message: describe(&bollard_error),
            }),
            None => Err(EngineError::WaitContainer {
                container: short(id),
                message: "the engine closed the wait without a status".to_owned(),
            }),
        }
    }

    pub async fn inspect_container(&self, id: &str) -> Result<ContainerState, EngineError> {
        let error = |message| EngineError::InspectContainer {
            container: short(id),
            message,
        };
        match limit(
            QUERY_TIMEOUT,
            self.docker
                .inspect_container(id, None::<InspectContainerOptions>),
        )
        .await
        {
            Ok(Ok(inspect)) => {
                let state = inspect.state.unwrap_or_default();
                Ok(ContainerState {
                    pid: state
                        .pid
                        .and_then(|pid| u32::try_from(pid).ok())
                        .filter(|pid| *pid > 0),
                    running: state.running.unwrap_or(false),
                    oom_killed: state.oom_killed.unwrap_or(false),
                })
            }
            Ok(Err(bollard_error)) => Err(error(describe(&bollard_error))),
            Err(timeout) => Err(error(timeout)),
        }
    }

    /// Kills (if running) and removes a container. A container that is
    /// already gone counts as removed.
    pub async fn remove_container(&self, id: &str) -> Result<(), EngineError> {
        let options = RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        match limit(
            CONTAINER_TIMEOUT,
            self.docker.remove_container(id, Some(options)),
        )
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(bollard_error)) if status(&bollard_error) == Some(404) => Ok(()),
            // 409: removal already in progress (a concurrent remove).
            Ok(Err(bollard_error)) if status(&bollard_error) == Some(409) => Ok(()),
            Ok(Err(bollard_error)) => Err(EngineError::RemoveContainer {
                container: short(id),
                message: describe(&bollard_error),
            }),
            Err(timeout) => Err(EngineError::RemoveContainer {
                container: short(id),
                message: timeout,
            }),
        }
    }

    /// Every container (running or not) carrying all of `labels`
    /// (`key` or `key=value` filters).
    pub async fn list_containers(
        &self,
        labels: &[String],
    ) -> Result<Vec<ContainerSummary>, EngineError> {
        let mut filters = HashMap::new();
        filters.insert("label".to_owned(), labels.to_vec());
        let options = ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        let error = |message| EngineError::ListContainers { message };
        match limit(QUERY_TIMEOUT, self.docker.list_containers(Some(options))).await {
            Ok(Ok(containers)) => Ok(containers
                .into_iter()
                .filter_map(|container| {
                    Some(ContainerSummary {
                        id: container.id?,
                        labels: container.labels.unwrap_or_default(),
                        running: matches!(
                            container.state,
                            Some(bollard::models::ContainerSummaryStateEnum::RUNNING)
                                | Some(bollard::models::ContainerSummaryStateEnum::RESTARTING)
                                | Some(bollard::models::ContainerSummaryStateEnum::PAUSED)
                        ),
                    })
                })
                .collect()),
            Ok(Err(bollard_error)) => Err(error(describe(&bollard_error))),
            Err(timeout) => Err(error(timeout)),
        }
    }

    /// The last `tail` lines the container wrote to its own stdout and
    /// stderr (as the engine logged them).
    pub async fn container_logs(&self, id: &str, tail: u32) -> Result<Vec<u8>, EngineError> {
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            tail: tail.to_string(),
            ..Default::default()
        };
        let mut stream = self.docker.logs(id, Some(options));
        let collect = async {
            let mut bytes = Vec::new();
            while let Some(item) = stream.next().await {
                bytes.extend_from_slice(item.map_err(|e| describe(&e))?.as_ref());
            }
            Ok::<Vec<u8>, String>(bytes)
        };
        match tokio::time::timeout(QUERY_TIMEOUT, collect).await {
            Ok(result) => result.map_err(|message| EngineError::ContainerLogs {
                container: short(id),
                message,
            }),
            Err(_) => Err(EngineError::ContainerLogs {
                container: short(id),
                message: format!("no answer within {} s", QUERY_TIMEOUT.as_secs()),
            }),
        }
    }
}

fn create_body(config: ContainerConfig) -> ContainerCreateBody {
    let binds = config
        .binds
        .iter()
        .map(|bind| {
            let mode = if bind.read_only { "ro" } else { "rw" };
            format!("{}:{}:{mode}", bind.source, bind.target)
        })
        .collect();
    let host_config = HostConfig {
        binds: Some(binds),
        tmpfs: Some(config.tmpfs.into_iter().collect()),
        network_mode: Some("host".to_owned()),
        memory: Some(config.memory_bytes),
        memory_swap: Some(config.memory_bytes),
        pids_limit: Some(config.pids_limit),
        ulimits: Some(vec![ResourcesUlimits {
            name: Some("nofile".to_owned()),
            soft: Some(config.open_files_limit),
            hard: Some(config.open_files_limit),
        }]),
        // A minimal init (tini) as PID 1 reaps zombies and passes signals
        // on, as Lambda's own init does for the runtime.
        init: Some(true),
        readonly_rootfs: Some(config.read_only_root),
        cap_add: (!config.cap_add.is_empty()).then_some(config.cap_add),
        security_opt: (!config.security_opt.is_empty()).then_some(config.security_opt),
        ..Default::default()
    };
    ContainerCreateBody {
        image: Some(config.image),
        entrypoint: Some(config.entrypoint),
        cmd: Some(config.cmd),
        env: Some(config.env),
        working_dir: Some(config.working_dir),
        user: Some(config.user),
        labels: Some(config.labels.into_iter().collect()),
        attach_stdin: Some(false),
        attach_stdout: Some(false),
        attach_stderr: Some(false),
        tty: Some(false),
        open_stdin: Some(false),
        host_config: Some(host_config),
        ..Default::default()
    }
}

/// Runs an Engine call with a time limit; the error is the message.
async fn limit<T>(duration: Duration, call: impl Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(duration, call)
        .await
        .map_err(|_| format!("no answer within {} s", duration.as_secs()))
}

fn status(error: &BollardError) -> Option<u16> {
    match error {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The engine's message, without bollard's wrapping, lower-cased at the
/// start like our own messages.
fn describe(error: &BollardError) -> String {
    match error {
        BollardError::DockerResponseServerError {
            status_code: 404,
            message,
        } => {
            format!("{NOT_FOUND_PREFIX}{message}")
        }
        BollardError::DockerResponseServerError {
            status_code,
            message,
        } => {
            format!("the engine answered {status_code}: {message}")
        }
        other => other.to_string(),
    }
}

/// The 12-character form of a container ID, as `docker ps` shows it.
pub(crate) fn short(id: &str) -> String {
    id.chars().take(12).collect()
}
