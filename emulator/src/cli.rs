//! The `fogbank` command line. `main.rs` only calls [`main`].

use std::collections::BTreeMap;
use std::io::Read;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::app::{self, Identity, LoadOptions, Severity};
use crate::backend::docker::{self, RuntimeOptions, RuntimeRequest};
use crate::backend::environment::Endpoints;
use crate::builder::{self, BuildDirs};
use crate::console::Console;
use crate::invoke::{Invocation, Invoker, InvokerSettings, Outcome};
use crate::runtimes::RuntimeFiles;
use crate::server::{self, Listeners, StartConfig};

// Debugging a function in the cloud (issue 9): debug-session, live,
// package-agent.
mod cloud;

/// Run AWS SAM applications on your machine: Lambda functions, API Gateway
/// and SQS, offline, with no cloud account.
#[derive(Debug, Parser)]
#[command(name = "fogbank", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve every function, route and queue of the template.
    Start(StartArgs),
    /// Invoke one function once and print its result, like `sam local invoke`.
    Invoke(InvokeArgs),
    /// Check the template and print every problem found.
    Validate(TemplateArgs),
    /// Build functions that have a Metadata.BuildMethod, without serving.
    Build(BuildArgs),
    /// Sessions for debugging a function in the cloud through a relay.
    DebugSession(cloud::DebugSessionArgs),
    /// Live mode: answer a cloud function's invocations (forwarded by its
    /// fogbank-agent --forward stub through the relay) with the local
    /// `fogbank start`, under the debugger if one is attached.
    Live(cloud::LiveArgs),
    /// Write the Lambda layer zip and bootstrap of live mode's forwarding stub.
    PackageAgent(cloud::PackageAgentArgs),
}

#[derive(Debug, Args)]
struct TemplateArgs {
    /// The SAM template.
    #[arg(
        long,
        short = 't',
        default_value = "template.yaml",
        value_name = "PATH"
    )]
    template: PathBuf,
    /// Template parameter values: `Key=Value` or SAM's
    /// `ParameterKey=Key,ParameterValue=Value`.
    #[arg(long, num_args = 1.., value_name = "KEY=VALUE")]
    parameter_overrides: Vec<String>,
    /// The region functions and ARNs pretend to live in.
    #[arg(long, default_value = "us-east-1", env = "AWS_REGION")]
    region: String,
}

impl TemplateArgs {
    fn overrides(&self) -> Result<BTreeMap<String, String>> {
        parse_overrides(&self.parameter_overrides)
    }

    fn identity(&self) -> Identity {
        Identity {
            region: self.region.clone(),
            ..Identity::default()
        }
    }
}

#[derive(Debug, Args)]
struct StartArgs {
    #[command(flatten)]
    template: TemplateArgs,
    /// The address to listen on. Only loopback unless you change it.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// The Lambda Invoke API port (`sam local start-lambda` uses 3001).
    #[arg(long, default_value_t = 3001)]
    lambda_port: u16,
    /// The SQS API port (ElasticMQ's 9324).
    #[arg(long, default_value_t = 9324)]
    sqs_port: u16,
    /// The API Gateway port, serving every Api and HttpApi route and the
    /// function URLs (`sam local start-api` uses 3000).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// A JSON Web Key Set file against which HTTP API JWT authorizers check
    /// token signatures; without one, signatures are not checked.
    #[arg(long, env = "FOGBANK_JWKS", value_name = "FILE")]
    jwks: Option<PathBuf>,
    /// The control interface port, which the debugger and the editor use
    /// (always on 127.0.0.1).
    #[arg(long, default_value_t = 3002)]
    control_port: u16,
    /// Keep queues in memory only; nothing is written to disk.
    #[arg(long)]
    ephemeral: bool,
    /// Start one instance of every function before serving.
    #[arg(long)]
    warm: bool,
    /// Where state (builds, queues) is kept; `.fogbank/` beside the template by default.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    #[command(flatten)]
    runtime: RuntimeArgs,
    /// Stop an instance (container or process) after it has been idle this
    /// long: `90s`, `10m`, `1h`; `0` keeps idle instances forever.
    #[arg(long, default_value = "10m", value_name = "DURATION", value_parser = parse_idle_timeout)]
    idle_timeout: IdleTimeout,
    /// Do not watch sources and the template: no rebuilds or reloads on save.
    #[arg(long)]
    no_watch: bool,
}

/// How functions run: shared by `start` and `invoke`.
#[derive(Debug, Args)]
struct RuntimeArgs {
    /// `docker` runs each instance in a container, `process` as a host
    /// process; by default Docker when an engine answers at DOCKER_HOST or
    /// /var/run/docker.sock, else the process runtime.
    #[arg(
        long,
        env = "FOGBANK_RUNTIME",
        default_value = "auto",
        value_name = "docker|process|auto"
    )]
    runtime: RuntimeRequest,
    /// The container image for every function of a runtime, e.g.
    /// `python3.12=my/python:dev` (a function's Metadata.DockerImage wins).
    #[arg(long = "image", value_name = "RUNTIME=IMAGE", value_parser = RuntimeOptions::parse_image)]
    images: Vec<(String, String)>,
    /// Pull images that are not present locally (never done otherwise).
    #[arg(long)]
    pull: bool,
}

impl RuntimeArgs {
    fn options(&self) -> RuntimeOptions {
        RuntimeOptions {
            request: self.runtime,
            images: self.images.iter().cloned().collect(),
            pull: self.pull,
        }
    }
}

/// `--idle-timeout`: `None` for never.
#[derive(Debug, Clone, Copy)]
struct IdleTimeout(Option<std::time::Duration>);

fn parse_idle_timeout(text: &str) -> Result<IdleTimeout, String> {
    let error =
        || format!("`{text}` is not a duration; use for example 90s, 10m or 1h (0 for never)");
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(split) => text.split_at(split),
        None => (text, "s"),
    };
    let value: u64 = number.parse().map_err(|_| error())?;
    let seconds = match unit {
        "s" => value,
        "m" => value * 60,
        "h" => value * 3600,
        _ => return Err(error()),
    };
    Ok(IdleTimeout(
        (seconds > 0).then(|| std::time::Duration::from_secs(seconds)),
    ))
}

#[derive(Debug, Args)]
struct InvokeArgs {
    /// The function's logical ID or FunctionName.
    function: String,
    /// The event: a JSON file, or `-` for standard input. Defaults to `{}`.
    #[arg(long, short = 'e', value_name = "FILE|-")]
    event: Option<String>,
    #[command(flatten)]
    template: TemplateArgs,
    /// Where state (builds) is kept; `.fogbank/` beside the template by default.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

#[derive(Debug, Args)]
struct BuildArgs {
    /// Functions to build (logical IDs); all by default.
    functions: Vec<String>,
    #[command(flatten)]
    template: TemplateArgs,
    /// Where build outputs go; `.fogbank/` beside the template by default.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

/// Exit code for a template with errors, as `sam validate` uses.
const EXIT_TEMPLATE: u8 = 2;

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FOGBANK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Start(args) => start(args).await,
        Command::Invoke(args) => invoke(args).await,
        Command::Validate(args) => validate(&args),
        Command::Build(args) => build(args).await,
        Command::DebugSession(args) => cloud::debug_session(args).await,
        Command::Live(args) => cloud::live(args).await,
        Command::PackageAgent(args) => cloud::package_agent(args),
    }
}

async fn start(args: StartArgs) -> Result<ExitCode> {
    let config = StartConfig {
        template: args.template.template.clone(),
        parameter_overrides: args.template.overrides()?,
        state_dir: args.state_dir,
        ephemeral: args.ephemeral,
        warm: args.warm,
        identity: args.template.identity(),
        jwks: args.jwks.clone(),
        runtime: args.runtime.options(),
        idle_timeout: args.idle_timeout.0,
        watch: !args.no_watch,
    };
    let listeners = match Listeners::bind(
        args.host,
        args.lambda_port,
        args.sqs_port,
        args.control_port,
        args.port,
    )
    .await
    {
        Ok(listeners) => listeners,
        Err(error) => return Err(anyhow!(error)),
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    let console = Console::stdout();
    match server::run(config, listeners, console.clone(), shutdown).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(server::StartError::Template(diagnostics)) => {
            print_diagnostics(&diagnostics.0);
            Ok(ExitCode::from(EXIT_TEMPLATE))
        }
        Err(error) => Err(anyhow!(error)),
    }
}

/// Cancels `shutdown` on Ctrl-C or SIGTERM.
async fn stop_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).ok();
    let terminated = async {
        match terminate.as_mut() {
            Some(signal) => {
                signal.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminated => {}
    }
    eprintln!("stopping...");
    shutdown.cancel();
}

async fn invoke(args: InvokeArgs) -> Result<ExitCode> {
    let payload = read_event(args.event.as_deref())?;
    let options = LoadOptions {
        parameter_overrides: args.template.overrides()?,
        identity: args.template.identity(),
        ..LoadOptions::default()
    };
    let loaded = match app::load(&args.template.template, &options) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            print_diagnostics(&diagnostics.0);
            return Ok(ExitCode::from(EXIT_TEMPLATE));
        }
    };
    let Some(function) = loaded.app.function(&args.function).cloned() else {
        let known: Vec<&str> = loaded.app.functions.keys().map(String::as_str).collect();
        bail!(
            "no function named `{}` in {}; the template has: {}",
            args.function,
            args.template.template.display(),
            known.join(", ")
        );
    };

    // Logs go to stderr so that stdout carries only the result, which
    // scripts can pipe into jq.
    let console = Console::spawn(
        Box::new(std::io::stderr()),
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
    );
    let state_dir = server::state_dir(&args.template.template, args.state_dir.as_deref());
    let dirs = BuildDirs {
        root: state_dir.join("build"),
    };
    let deployment = crate::reload::build_functions(
        std::slice::from_ref(&function),
        &dirs,
        &args.template.template,
        &console,
    )
    .await
    .context("building the function")?
    .into_iter()
    .next()
    .ok_or_else(|| anyhow!("building {} produced nothing to run", function.logical_id))?;
    let runtime_files = RuntimeFiles::install(&state_dir.join("runtime"))
        .with_context(|| format!("writing runtime files under {}", state_dir.display()))?;
    let identity = options.identity.clone();
    let endpoints = Endpoints {
        lambda: "http://127.0.0.1:3001".to_owned(),
        sqs: options.sqs_endpoint.clone(),
        identity,
    };
    let app_label = std::path::absolute(&args.template.template)
        .unwrap_or_else(|_| args.template.template.clone());
    let backend = docker::select(
        &args.runtime.options(),
        runtime_files,
        &app_label.to_string_lossy(),
        std::slice::from_ref(&function),
        &console,
    )
    .await;
    let backend = match backend {
        Ok(backend) => backend,
        Err(error) => {
            console.flush();
            return Err(anyhow!(error));
        }
    };
    let invoker = Invoker::new(
        vec![deployment],
        backend,
        InvokerSettings::new(console.clone(), endpoints),
    );
    let result = invoker
        .invoke(&function.logical_id, Invocation::new(payload))
        .await;
    invoker.shutdown().await;
    console.flush();
    let completed = result.map_err(|error| anyhow!("{error}"))?;
    match completed.outcome {
        Outcome::Success(payload) => {
            println!("{}", String::from_utf8_lossy(&payload));
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Error(error) => {
            println!("{}", String::from_utf8_lossy(&error.payload));
            Ok(ExitCode::FAILURE)
        }
    }
}

fn read_event(event: Option<&str>) -> Result<Bytes> {
    let text = match event {
        None => return Ok(Bytes::from_static(b"{}")),
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the event from standard input")?;
            text
        }
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the event file {path}"))?,
    };
    if let Err(error) = serde_json::from_str::<serde::de::IgnoredAny>(&text) {
        bail!(
            "the event {} is not valid JSON: {error}",
            event.unwrap_or("-")
        );
    }
    Ok(Bytes::from(text))
}

fn validate(args: &TemplateArgs) -> Result<ExitCode> {
    let options = LoadOptions {
        parameter_overrides: args.overrides()?,
        identity: args.identity(),
        ..LoadOptions::default()
    };
    match app::load(&args.template, &options) {
        Ok(loaded) => {
            print_diagnostics(&loaded.warnings);
            let app = loaded.app;
            println!(
                "{} is valid: {} function(s), {} API(s), {} queue(s)",
                args.template.display(),
                app.functions.len(),
                app.apis.len(),
                app.queues.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(diagnostics) => {
            print_diagnostics(&diagnostics.0);
            let errors = diagnostics
                .0
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            eprintln!("{} is invalid: {errors} error(s)", args.template.display());
            Ok(ExitCode::from(EXIT_TEMPLATE))
        }
    }
}

async fn build(args: BuildArgs) -> Result<ExitCode> {
    let options = LoadOptions {
        parameter_overrides: args.template.overrides()?,
        identity: args.template.identity(),
        ..LoadOptions::default()
    };
    let loaded = match app::load(&args.template.template, &options) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            print_diagnostics(&diagnostics.0);
            return Ok(ExitCode::from(EXIT_TEMPLATE));
        }
    };
    for name in &args.functions {
        if loaded.app.function(name).is_none() {
            bail!(
                "no function named `{name}` in {}",
                args.template.template.display()
            );
        }
    }
    let console = Console::stdout();
    let dirs = BuildDirs {
        root: server::state_dir(&args.template.template, args.state_dir.as_deref()).join("build"),
    };
    // Units are built whole: naming one function of a shared CodeUri
    // builds the output its siblings use too.
    let units: Vec<builder::BuildUnit> = builder::units(loaded.app.functions.values())?
        .into_iter()
        .filter(|unit| builder::needs_build(unit.owner()))
        .filter(|unit| {
            args.functions.is_empty()
                || unit.functions.iter().any(|f| {
                    args.functions
                        .iter()
                        .any(|n| *n == f.logical_id || *n == f.name)
                })
        })
        .collect();
    let builds = crate::reload::build_units(units, &dirs, &args.template.template, &console).await;
    let builds = match builds {
        Ok(builds) => builds,
        Err(error) => {
            console.flush();
            return Err(anyhow!(error));
        }
    };
    for build in builds {
        let verb = if build.built.ran {
            "built"
        } else {
            "up to date:"
        };
        console.line(&format!(
            "{verb} {} in {:.2} s -> {}",
            build.unit.names(),
            build.elapsed.as_secs_f64(),
            build.built.code_dir.display()
        ));
    }
    console.flush();
    Ok(ExitCode::SUCCESS)
}

fn print_diagnostics(diagnostics: &[app::Diagnostic]) {
    for diagnostic in diagnostics {
        eprintln!("{diagnostic}");
    }
}

/// Parses `Key=Value` and `ParameterKey=Key,ParameterValue=Value` pairs.
fn parse_overrides(values: &[String]) -> Result<BTreeMap<String, String>> {
    let mut overrides = BTreeMap::new();
    for value in values.iter().flat_map(|v| v.split_whitespace()) {
        if let Some(rest) = value.strip_prefix("ParameterKey=") {
            let (key, parameter_value) = rest.split_once(",ParameterValue=").ok_or_else(|| {
                anyhow!(
                    "--parameter-overrides: `{value}` should be ParameterKey=K,ParameterValue=V"
                )
            })?;
            overrides.insert(key.to_owned(), parameter_value.to_owned());
        } else {
            let (key, parameter_value) = value
                .split_once('=')
                .ok_or_else(|| anyhow!("--parameter-overrides: `{value}` should be Key=Value"))?;
            if key.is_empty() {
                bail!("--parameter-overrides: `{value}` has an empty parameter name");
            }
            overrides.insert(key.to_owned(), parameter_value.to_owned());
        }
    }
    Ok(overrides)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]
    use super::*;

    fn check(input: &[&str], expected: Result<&[(&str, &str)], &str>) {
        let input: Vec<String> = input.iter().map(|s| s.to_string()).collect();
        match (parse_overrides(&input), expected) {
            (Ok(map), Ok(pairs)) => {
                let expected: BTreeMap<String, String> = pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                assert_eq!(map, expected);
            }
            (Err(error), Err(fragment)) => assert!(error.to_string().contains(fragment), "{error}"),
            (got, _) => panic!("unexpected {got:?} for {input:?}"),
        }
    }

    #[test]
    fn parameter_overrides() {
        check(
            &["Stage=dev", "Table=t=1"],
            Ok(&[("Stage", "dev"), ("Table", "t=1")]),
        );
        check(
            &["Stage=dev Table=x"],
            Ok(&[("Stage", "dev"), ("Table", "x")]),
        );
        check(
            &["ParameterKey=Stage,ParameterValue=prod"],
            Ok(&[("Stage", "prod")]),
        );
        check(&["Stage"], Err("should be Key=Value"));
        check(&["=x"], Err("empty parameter name"));
        check(
            &["ParameterKey=Stage"],
            Err("ParameterKey=K,ParameterValue=V"),
        );
    }

    #[test]
    fn idle_timeouts_are_parsed() {
        let check = |text: &str, expected: Option<Option<u64>>| {
            let parsed = parse_idle_timeout(text)
                .ok()
                .map(|t| t.0.map(|d| d.as_secs()));
            assert_eq!(parsed, expected, "{text}");
        };
        check("10m", Some(Some(600)));
        check("90s", Some(Some(90)));
        check("45", Some(Some(45)));
        check("1h", Some(Some(3600)));
        check("0", Some(None));
        check("10 minutes", None);
        check("m", None);
        check("", None);
    }

    #[test]
    fn every_command_has_help() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
