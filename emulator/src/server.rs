//! `fogbank start`: every front door of one application, wired to one
//! invoker, stopped together.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::app::{self, App, Identity, LoadOptions};
use crate::backend::docker::{self, DockerError, RuntimeOptions};
use crate::backend::environment::Endpoints;
use crate::builder::{self, BuildDirs};
use crate::console::Console;
use crate::control::{self, ControlInfo, Ports};
use crate::event_source::{self, EventSources};
use crate::gateway::{self, Gateway, GatewayConfig, JwtVerifier};
use crate::invoke::{Deployment, Invoker, InvokerSettings};
use crate::lambda_api;
use crate::runtimes::RuntimeFiles;
use crate::sqs::{self, SqsConfig, SqsService};

/// Everything `fogbank start` needs to know besides its listeners.
#[derive(Debug, Clone)]
pub struct StartConfig {
    pub template: PathBuf,
    pub parameter_overrides: BTreeMap<String, String>,
    /// Where state lives: `.fogbank/` beside the template unless given.
    pub state_dir: Option<PathBuf>,
    /// Keep queues in memory only.
    pub ephemeral: bool,
    /// Start one instance per function before serving.
    pub warm: bool,
    pub identity: Identity,
    /// A JSON Web Key Set for HTTP API JWT authorizers (`--jwks`).
    pub jwks: Option<PathBuf>,
    /// Which runtime runs functions (`--runtime`, `--image`, `--pull`).
    pub runtime: RuntimeOptions,
    /// Idle instances are stopped after this long (`--idle-timeout`).
    pub idle_timeout: Option<std::time::Duration>,
    /// Rebuild and reload functions, routes and queues when their sources
    /// or the template change (off with `--no-watch`).
    pub watch: bool,
}

impl StartConfig {
    pub fn new(template: PathBuf) -> StartConfig {
        StartConfig {
            template,
            parameter_overrides: BTreeMap::new(),
            state_dir: None,
            ephemeral: false,
            warm: false,
            identity: Identity::default(),
            jwks: None,
            runtime: RuntimeOptions::default(),
            idle_timeout: Some(std::time::Duration::from_secs(600)),
            watch: true,
        }
    }

    /// The state directory: `--state-dir`, or `.fogbank` beside the template.
    pub fn state_dir(&self) -> PathBuf {
        state_dir(&self.template, self.state_dir.as_deref())
    }
}

/// The absolute state directory: `explicit` if given, else `.fogbank`
/// beside the template. Absolute, because instances run in other working
/// directories.
pub fn state_dir(template: &Path, explicit: Option<&Path>) -> PathBuf {
    let dir = match explicit {
        Some(dir) => dir.to_path_buf(),
        None => template
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join(".fogbank"),
    };
    std::path::absolute(&dir).unwrap_or(dir)
}

/// The listeners of every front door. Tests bind them on port 0.
pub struct Listeners {
    pub lambda: TcpListener,
    pub sqs: TcpListener,
    pub gateway: TcpListener,
    pub control: TcpListener,
}

impl Listeners {
    /// Binds every front door on `host` at the given ports.
    pub async fn bind(
        host: std::net::IpAddr,
        lambda_port: u16,
        sqs_port: u16,
        control_port: u16,
        gateway_port: u16,
    ) -> Result<Listeners, StartError> {
        let bind = |port: u16, what: &'static str| async move {
            TcpListener::bind(SocketAddr::new(host, port))
                .await
                .map_err(|source| StartError::Bind {
                    what,
                    address: SocketAddr::new(host, port),
                    cause: source,
                })
        };
        Ok(Listeners {
            lambda: bind(lambda_port, "Lambda API").await?,
            sqs: bind(sqs_port, "SQS API").await?,
            gateway: bind(gateway_port, "API Gateway").await?,
            // The control interface drives debugging; it never listens
            // beyond loopback, whatever `--host` says.
            control: bind_loopback(control_port, "control interface").await?,
        })
    }
}

async fn bind_loopback(port: u16, what: &'static str) -> Result<TcpListener, StartError> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    TcpListener::bind(address)
        .await
        .map_err(|cause| StartError::Bind {
            what,
            address,
            cause,
        })
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the template has problems:\n{0}")]
    Template(app::Diagnostics),
    // Messages carry their cause as text rather than as a `source`, so a
    // chain printer never says the same thing twice.
    #[error(
        "cannot listen for the {what} on {address}: {cause}; is another emulator running? Pick another port"
    )]
    Bind {
        what: &'static str,
        address: SocketAddr,
        cause: std::io::Error,
    },
    #[error("preparing the state directory {}: {cause}", path.display())]
    StateDir {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(transparent)]
    Build(#[from] builder::BuildError),
    #[error(transparent)]
    Sqs(#[from] sqs::SqsError),
    #[error(transparent)]
    Jwks(#[from] gateway::JwksError),
    #[error(transparent)]
    Runtime(#[from] DockerError),
    #[error(transparent)]
    Reload(#[from] crate::reload::ReloadError),
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

/// A loaded, built application, ready to serve.
pub struct Prepared {
    pub app: App,
    pub warnings: Vec<app::Diagnostic>,
    pub deployments: Vec<Deployment>,
    pub runtime_files: RuntimeFiles,
    /// Every build unit with the fingerprint it was built from, for the
    /// reloader.
    pub builds: Vec<crate::reload::UnitBuild>,
    /// What the app was loaded with, for template reloads.
    pub options: LoadOptions,
}

/// Loads the template and builds what needs building.
pub async fn prepare(
    config: &StartConfig,
    sqs_endpoint: &str,
    console: &Console,
) -> Result<Prepared, StartError> {
    let options = LoadOptions {
        parameter_overrides: config.parameter_overrides.clone(),
        sqs_endpoint: sqs_endpoint.to_owned(),
        identity: config.identity.clone(),
    };
    let loaded = app::load(&config.template, &options).map_err(StartError::Template)?;
    let state_dir = config.state_dir();
    let runtime_dir = state_dir.join("runtime");
    let runtime_files =
        RuntimeFiles::install(&runtime_dir).map_err(|source| StartError::StateDir {
            path: runtime_dir.clone(),
            cause: source,
        })?;
    let dirs = BuildDirs {
        root: state_dir.join("build"),
    };
    // Only stale units build: a restart with unchanged sources serves the
    // outputs of the last run at once.
    let units = builder::units(loaded.app.functions.values())?;
    let builds = crate::reload::build_units(units, &dirs, &config.template, console).await?;
    let deployments = builds
        .iter()
        .flat_map(|b| b.built.deployments.iter().cloned())
        .collect();
    Ok(Prepared {
        app: loaded.app,
        warnings: loaded.warnings,
        deployments,
        runtime_files,
        builds,
        options,
    })
}

/// Serves an application on `listeners` until `shutdown` is cancelled, then
/// stops every instance and returns.
pub async fn run(
    config: StartConfig,
    listeners: Listeners,
    console: Console,
    shutdown: CancellationToken,
) -> Result<(), StartError> {
    let lambda_address = listeners.lambda.local_addr().map_err(StartError::Serve)?;
    let sqs_address = listeners.sqs.local_addr().map_err(StartError::Serve)?;
    let gateway_address = listeners.gateway.local_addr().map_err(StartError::Serve)?;
    let jwt = match &config.jwks {
        Some(path) => JwtVerifier::from_file(path)?,
        None => JwtVerifier::unverified(),
    };
    let sqs_endpoint = format!("http://{sqs_address}");
    let prepared = prepare(&config, &sqs_endpoint, &console).await?;
    for warning in &prepared.warnings {
        console.line(&warning.to_string());
    }

    let queues = SqsService::open(SqsConfig {
        state_dir: (!config.ephemeral).then(|| config.state_dir().join("sqs")),
        region: config.identity.region.clone(),
        account_id: config.identity.account_id.clone(),
        endpoint: sqs_endpoint.clone(),
    })?;
    for queue in prepared.app.queues.values() {
        queues.ensure_queue(queue)?;
    }

    let endpoints = Endpoints {
        lambda: format!("http://{lambda_address}"),
        sqs: sqs_endpoint.clone(),
        identity: config.identity.clone(),
    };
    let functions: Vec<_> = prepared
        .deployments
        .iter()
        .map(|d| d.function.clone())
        .collect();
    let app_label =
        std::path::absolute(&config.template).unwrap_or_else(|_| config.template.clone());
    let backend = docker::select(
        &config.runtime,
        prepared.runtime_files.clone(),
        &app_label.to_string_lossy(),
        &functions,
        &console,
    )
    .await?;
    let mut settings = InvokerSettings::new(console.clone(), endpoints);
    settings.idle_timeout = config.idle_timeout;
    let invoker = Invoker::new(prepared.deployments.clone(), backend.clone(), settings);

    let control_address = listeners.control.local_addr().map_err(StartError::Serve)?;
    let gateway = Gateway::new(
        &prepared.app,
        GatewayConfig {
            invoker: invoker.clone(),
            console: console.clone(),
            identity: config.identity.clone(),
            jwt,
        },
    );
    let gateway_routes = gateway.routes();
    print_banner(
        &console,
        &config,
        &prepared.app,
        backend.name(),
        lambda_address,
        &sqs_endpoint,
    );
    let mappings = event_source::mappings(&prepared.app);
    for mapping in &mappings {
        console.line(&format!(
            "    {} -> {}  (batch {}{})",
            mapping.queue_name,
            mapping.function,
            mapping.config.batch_size,
            if mapping.config.enabled {
                ""
            } else {
                ", disabled"
            }
        ));
    }
    print_gateway(&console, &gateway, gateway_address);
    console.line(&format!("  Control     http://{control_address}"));
    if config.warm {
        invoker.prewarm().await;
    }

    let event_sources = std::sync::Arc::new(tokio::sync::Mutex::new(Some(EventSources::start(
        mappings,
        queues.clone(),
        invoker.clone(),
        console.clone(),
        &shutdown,
    ))));
    let reloader = if config.watch {
        let reload_config = crate::reload::ReloadConfig {
            template: config.template.clone(),
            options: prepared.options.clone(),
            dirs: BuildDirs {
                root: config.state_dir().join("build"),
            },
            debounce: crate::reload::Debouncer::default(),
        };
        let served = crate::reload::Served {
            invoker: invoker.clone(),
            routes: gateway_routes,
            queues: queues.clone(),
            event_sources: event_sources.clone(),
            console: console.clone(),
        };
        // Serving matters more than reloading: without a watcher (inotify
        // limits reached, say) the app is served as built, with a warning.
        match crate::reload::start(
            reload_config,
            prepared.app.clone(),
            &prepared.builds,
            served,
            shutdown.clone(),
        ) {
            Ok(reloader) => Some(reloader),
            Err(error) => {
                console.line(&format!("warning: hot reload is off: {error}"));
                None
            }
        }
    } else {
        None
    };
    // The last banner line says everything is in place, the file watcher
    // included: a save right after it is reloaded (tools and tests wait
    // for this line).
    console.line("Press Ctrl-C to stop.");
    let mut servers = JoinSet::new();
    servers.spawn(lambda_api::run(
        listeners.lambda,
        invoker.clone(),
        config.identity.clone(),
        shutdown.clone(),
    ));
    servers.spawn(sqs::run(listeners.sqs, queues.clone(), shutdown.clone()));
    servers.spawn(gateway::run(listeners.gateway, gateway, shutdown.clone()));
    let control_info = ControlInfo {
        template: std::path::absolute(&config.template).unwrap_or_else(|_| config.template.clone()),
        state_dir: config.state_dir(),
        runtime: backend.name().to_owned(),
        ports: Ports {
            lambda: lambda_address.port(),
            gateway: Some(gateway_address.port()),
            sqs: sqs_address.port(),
            control: control_address.port(),
        },
    };
    servers.spawn(control::run(
        listeners.control,
        invoker.clone(),
        control_info,
        shutdown.clone(),
    ));

    // A server that fails stops the whole emulator: serving half an app
    // would only hide the problem.
    let mut failure = None;
    tokio::select! {
        () = shutdown.cancelled() => {}
        Some(result) = servers.join_next() => {
            if let Ok(Err(error)) = result {
                failure = Some(error);
            }
            shutdown.cancel();
        }
    }
    while servers.join_next().await.is_some() {}
    if let Some(reloader) = reloader {
        // The reloader stops at shutdown; waiting for it means no build or
        // swap runs while the invoker shuts down.
        let _ = reloader.await;
    }
    if let Some(event_sources) = event_sources.lock().await.take() {
        event_sources.stop().await;
    }
    invoker.shutdown().await;
    console.flush();
    match failure {
        Some(error) => Err(StartError::Serve(error)),
        None => Ok(()),
    }
}

fn print_banner(
    console: &Console,
    config: &StartConfig,
    app: &App,
    runtime: &str,
    lambda_address: SocketAddr,
    sqs_endpoint: &str,
) {
    console.line(&format!(
        "fogbank {} serving {} (runtime: {runtime})",
        env!("CARGO_PKG_VERSION"),
        config.template.display()
    ));
    console.line(&format!("  Lambda API  http://{lambda_address}"));
    for function in app.functions.values() {
        console.line(&format!(
            "    {}  {}  timeout {} s, {} MB",
            function.logical_id,
            function.runtime.id(),
            function.timeout.as_secs(),
            function.memory_mb
        ));
    }
    console.line(&format!("  SQS API     {sqs_endpoint}"));
    for queue in app.queues.values() {
        console.line(&format!(
            "    {}  {sqs_endpoint}/{}/{}",
            queue.logical_id, config.identity.account_id, queue.name
        ));
    }
}

/// The gateway's address, its route table and its warnings.
fn print_gateway(console: &Console, gateway: &Gateway, address: SocketAddr) {
    console.line(&format!("  API Gateway http://{address}"));
    for line in gateway.route_lines() {
        console.line(&format!("    {line}"));
    }
    for warning in gateway.warnings() {
        console.line(&format!("    {warning}"));
    }
}
