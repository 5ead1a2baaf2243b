//! The command-line side of debugging a function in the cloud (issue 9):
//! `fogbank debug-session new`, `fogbank live` and `fogbank package-agent`.
//! The relay protocol, the live-mode messages and the packaging live in
//! `fogbank-relay`; this module only reads flags and prints.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use fogbank_relay::client::RelaySettings;
use fogbank_relay::developer::{InvokeApi, LiveEvent, serve_live};
use fogbank_relay::secret::{
    RelayKey, SessionCredentials, SessionSecret, SessionTicket, new_session,
};
use fogbank_relay::tls::RelayAddress;
use tokio_util::sync::CancellationToken;

/// `fogbank debug-session …`.
#[derive(Debug, Args)]
pub struct DebugSessionArgs {
    #[command(subcommand)]
    command: DebugSessionCommand,
}

#[derive(Debug, Subcommand)]
enum DebugSessionCommand {
    /// Mint a session on a relay: prints what to put in the cloud function's
    /// configuration and in launch.json.
    New(NewSessionArgs),
    /// In-place mode: take the agent that runs the function under ptrace in
    /// the cloud sandbox and serve its GDB remote protocol on a local port,
    /// for fogbank-dap or `gdb -ex 'target remote ADDR'`.
    Attach(AttachArgs),
}

/// The relay and session flags of `live` and `debug-session attach`.
#[derive(Debug, Args)]
struct RelayArgs {
    /// The relay: https://HOST:PORT.
    #[arg(long, value_name = "URL", env = "FOGBANK_RELAY")]
    relay: String,
    /// The session (`fbs1.…`), from `fogbank debug-session new`.
    #[arg(long, value_name = "SESSION", env = "FOGBANK_SESSION")]
    session: String,
    /// The session secret (`fbsec1_…`). Prefer the environment variable, so
    /// it stays out of shell history and process listings.
    #[arg(
        long,
        value_name = "SECRET",
        env = "FOGBANK_SESSION_SECRET",
        hide_env_values = true
    )]
    secret: String,
    /// A PEM file with the certificate (or CA) a private relay is trusted
    /// by; the public web roots by default.
    #[arg(long, value_name = "PEM", env = "FOGBANK_RELAY_CA")]
    relay_ca: Option<PathBuf>,
}

impl RelayArgs {
    fn settings(&self) -> Result<RelaySettings> {
        let address = RelayAddress::parse(&self.relay).context("--relay")?;
        let ticket = SessionTicket::parse(&self.session).context("--session")?;
        let secret =
            SessionSecret::parse(&self.secret).context("--secret (FOGBANK_SESSION_SECRET)")?;
        let ca = match &self.relay_ca {
            Some(path) => Some(
                std::fs::read(path)
                    .with_context(|| format!("reading the relay CA {}", path.display()))?,
            ),
            None => None,
        };
        let origin = self
            .relay_ca
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        Ok(RelaySettings::new(
            address,
            SessionCredentials { ticket, secret },
            ca.as_deref().map(|pem| (pem, origin.as_str())),
        )?)
    }
}

#[derive(Debug, Args)]
struct AttachArgs {
    #[command(flatten)]
    relay: RelayArgs,
    /// The local address the sandbox's GDB remote protocol is served on
    /// (port 0 picks one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:2345", value_name = "ADDR")]
    listen: std::net::SocketAddr,
}

#[derive(Debug, Args)]
struct NewSessionArgs {
    /// The relay, as clients reach it: https://HOST:PORT.
    #[arg(long, value_name = "URL", env = "FOGBANK_RELAY")]
    relay: String,
    /// The relay key file (`fbrk1_…`), which `fogbank-relay --session-key`
    /// reads. Created (mode 0600) when it does not exist.
    #[arg(long, value_name = "FILE")]
    relay_key: PathBuf,
    /// How long the session is valid: `90m`, `12h`, `7d`.
    #[arg(long, default_value = "12h", value_name = "DURATION", value_parser = parse_lifetime)]
    expires_in: Duration,
    /// Print machine-readable `KEY=VALUE` lines only.
    #[arg(long)]
    env_only: bool,
    /// The function (logical ID) of the local template that live mode runs,
    /// for the printed launch.json.
    #[arg(long, value_name = "LOGICAL_ID")]
    function: Option<String>,
}

/// `fogbank live`.
#[derive(Debug, Args)]
pub struct LiveArgs {
    /// The function (logical ID or name) of the local `fogbank start` that
    /// answers the cloud's invocations.
    function: String,
    #[command(flatten)]
    relay: RelayArgs,
    /// The local Lambda Invoke API (`fogbank start`'s --lambda-port).
    #[arg(long, default_value = "http://127.0.0.1:3001", value_name = "URL")]
    lambda_endpoint: String,
    /// The local control interface (`fogbank start`'s --control-port),
    /// through which the cloud sandbox's environment and credentials are
    /// laid over the local function's.
    #[arg(long, default_value = "http://127.0.0.1:3002", value_name = "URL")]
    control_endpoint: String,
}

/// `fogbank package-agent`.
#[derive(Debug, Args)]
pub struct PackageAgentArgs {
    /// The fogbank-agent binary to package (build it static, see the
    /// agent's README); by default the one beside this `fogbank`.
    #[arg(long, value_name = "PATH")]
    agent: Option<PathBuf>,
    /// Where to write the layer zip and the bootstrap.
    #[arg(long, default_value = "fogbank-agent-package", value_name = "DIR")]
    out: PathBuf,
}

fn parse_lifetime(text: &str) -> Result<Duration, String> {
    let error = || format!("`{text}` is not a duration; use for example 90m, 12h or 7d");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(error)?;
    let (number, unit) = text.split_at(split);
    let value: u64 = number.parse().map_err(|_| error())?;
    let seconds = match unit {
        "s" => value,
        "m" => value.saturating_mul(60),
        "h" => value.saturating_mul(3600),
        "d" => value.saturating_mul(86_400),
        _ => return Err(error()),
    };
    if seconds == 0 {
        return Err(format!("`{text}`: a session must last longer than 0"));
    }
    Ok(Duration::from_secs(seconds))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Reads the relay key, or creates it (readable by its owner only).
fn relay_key(path: &Path) -> Result<(RelayKey, bool)> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let key = RelayKey::parse(&text)
                .with_context(|| format!("reading the relay key {}", path.display()))?;
            Ok((key, false))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let key = RelayKey::generate();
            use std::io::Write as _;
            use std::os::unix::fs::OpenOptionsExt as _;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("creating the relay key {}", path.display()))?;
            writeln!(file, "{}", key.to_text())
                .with_context(|| format!("writing the relay key {}", path.display()))?;
            Ok((key, true))
        }
        Err(error) => Err(anyhow!(
            "cannot read the relay key {}: {error}",
            path.display()
        )),
    }
}

/// `fogbank debug-session …`.
pub async fn debug_session(args: DebugSessionArgs) -> Result<ExitCode> {
    match args.command {
        DebugSessionCommand::New(args) => new_session_command(args),
        DebugSessionCommand::Attach(args) => attach_in_place(args).await,
    }
}

/// `fogbank debug-session attach`.
async fn attach_in_place(args: AttachArgs) -> Result<ExitCode> {
    let settings = args.relay.settings()?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener
        .local_addr()
        .context("reading the listening address")?;
    let address = settings.address.clone();
    let events = move |event: LiveEvent| match event {
        LiveEvent::Attached => println!(
            "in-place: attached to the session on {address}; the sandbox's debugger port will be {local} (gdb: target remote {local})"
        ),
        LiveEvent::SandboxConnected { channel, software } => {
            println!(
                "in-place: a cloud sandbox is waiting ({software}, channel {channel}); connect a debugger to {local}"
            )
        }
        LiveEvent::SandboxLeft { channel, error } => match error {
            Some(error) => println!("in-place: [{channel}] the channel ended: {error}"),
            None => println!("in-place: [{channel}] the debugger left; the function runs on"),
        },
        LiveEvent::Invoked { .. }
        | LiveEvent::Answered { .. }
        | LiveEvent::DeadlineNear { .. }
        | LiveEvent::DeadlinePassed { .. } => {}
    };
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    });
    fogbank_relay::developer::serve_in_place(settings, listener, events, shutdown)
        .await
        .map_err(|error| anyhow!("in-place mode ended: {error}"))?;
    Ok(ExitCode::SUCCESS)
}

/// `fogbank debug-session new`.
fn new_session_command(args: NewSessionArgs) -> Result<ExitCode> {
    let address = RelayAddress::parse(&args.relay).context("--relay")?;
    let (key, created) = relay_key(&args.relay_key)?;
    let expires_at = unix_now().saturating_add(args.expires_in.as_secs());
    let credentials = new_session(&key, expires_at);
    let ticket = credentials.ticket.to_text();
    let secret = credentials.secret.to_text();
    if args.env_only {
        println!("FOGBANK_RELAY={address}");
        println!("FOGBANK_SESSION={ticket}");
        println!("FOGBANK_SESSION_SECRET={secret}");
        return Ok(ExitCode::SUCCESS);
    }
    if created {
        println!(
            "Created the relay key {}. Start the relay with it:\n  fogbank-relay --listen 0.0.0.0:{} --cert CERT.pem --key KEY.pem --session-key {}\n",
            args.relay_key.display(),
            address.port,
            args.relay_key.display()
        );
    }
    let expiry = time::OffsetDateTime::from_unix_timestamp(expires_at as i64)
        .map(|at| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                at.year(),
                u8::from(at.month()),
                at.day(),
                at.hour(),
                at.minute()
            )
        })
        .unwrap_or_else(|_| expires_at.to_string());
    println!(
        "Session {} on {address}, valid until {expiry}.\n",
        credentials.ticket.session
    );
    println!(
        "1. On the cloud function (environment variables; keep the secret in a secret store):"
    );
    println!("   FOGBANK_RELAY={address}");
    println!("   FOGBANK_SESSION={ticket}");
    println!("   FOGBANK_SESSION_SECRET={secret}");
    println!(
        "   Live mode: the layer from `fogbank package-agent`, and AWS_LAMBDA_EXEC_WRAPPER=/opt/fogbank-forward"
    );
    println!("   (or its `bootstrap` for provided.* runtimes).\n");
    println!("2. On your machine:");
    println!("   export FOGBANK_SESSION_SECRET={secret}\n");
    println!(
        "3. In .vscode/launch.json, one of (fogbank-dap attaches through the relay itself; add \"relayCa\": \"PEM\" for a relay with a private or self-signed certificate):"
    );
    let function = args
        .function
        .clone()
        .unwrap_or_else(|| "LOGICAL_ID_IN_TEMPLATE".to_owned());
    let live = serde_json::json!({
        "type": "fogbank",
        "request": "attach",
        "name": "Fogbank: cloud (live)",
        "relay": address.to_string(),
        "session": ticket,
        "secret": "${env:FOGBANK_SESSION_SECRET}",
        "mode": "live",
        "function": function,
        "template": "${workspaceFolder}/template.yaml",
    });
    let in_place = serde_json::json!({
        "type": "fogbank",
        "request": "attach",
        "name": "Fogbank: cloud (in-place)",
        "relay": address.to_string(),
        "session": ticket,
        "secret": "${env:FOGBANK_SESSION_SECRET}",
        "mode": "in-place",
        "program": "${workspaceFolder}/PATH/TO/THE/DEPLOYED/bootstrap",
    });
    for (what, configuration) in [
        (
            "live: the cloud's invocations run here, in the local emulator's function",
            live,
        ),
        (
            "in-place: the function runs under fogbank-agent in the sandbox; \"program\" is your copy of the deployed executable, for symbols",
            in_place,
        ),
    ] {
        println!("   // {what}");
        let text = serde_json::to_string_pretty(&configuration).unwrap_or_default();
        for line in text.lines() {
            println!("   {line}");
        }
    }
    println!(
        "\n   or, for another debugger: fogbank live FUNCTION --relay {address} --session {ticket}\n   (live), or fogbank debug-session attach --relay {address} --session {ticket} (in-place, then gdb's target remote)"
    );
    Ok(ExitCode::SUCCESS)
}

/// `fogbank live`: answers the cloud function's invocations with the local
/// `fogbank start` until Ctrl-C.
pub async fn live(args: LiveArgs) -> Result<ExitCode> {
    let settings = args.relay.settings()?;
    let address = settings.address.clone();
    let invoker = Arc::new(
        InvokeApi::new(&args.lambda_endpoint, &args.function)
            .with_control(&args.control_endpoint, &args.function),
    );
    let function = args.function.clone();
    let events = move |event: LiveEvent| match event {
        LiveEvent::Attached => println!(
            "live: attached to the session on {address}; cloud invocations of the function run {function} locally"
        ),
        LiveEvent::SandboxConnected { channel, software } => {
            println!("live: a cloud sandbox connected ({software}, channel {channel})")
        }
        LiveEvent::Invoked {
            channel,
            request_id,
            remaining,
        } => match remaining {
            Some(remaining) => println!(
                "live: [{channel}] invocation {request_id}, {:.1} s left before the cloud deadline",
                remaining.as_secs_f64()
            ),
            None => println!("live: [{channel}] invocation {request_id}"),
        },
        LiveEvent::Answered {
            channel,
            request_id,
            error,
            took,
        } => println!(
            "live: [{channel}] {request_id} answered{} in {} ms",
            if error { " with an error" } else { "" },
            took.as_millis()
        ),
        LiveEvent::DeadlineNear {
            channel,
            request_id,
            remaining,
        } => println!(
            "live: [{channel}] warning: {request_id} has {:.1} s left before the cloud's deadline; the cloud will answer it with a timeout error",
            remaining.as_secs_f64()
        ),
        LiveEvent::DeadlinePassed {
            channel,
            request_id,
        } => println!(
            "live: [{channel}] warning: {request_id} passed its cloud deadline; the cloud answered its caller with a timeout error"
        ),
        LiveEvent::SandboxLeft { channel, error } => match error {
            Some(error) => println!("live: [{channel}] the sandbox's channel ended: {error}"),
            None => println!("live: [{channel}] the sandbox left"),
        },
    };
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    });
    let served = serve_live(settings, invoker.clone(), events, shutdown).await;
    // The local function gets its own environment back, whichever way
    // live mode ended.
    if let Err(error) = invoker.restore_environment().await {
        eprintln!("live: warning: {error}");
    }
    served.map_err(|error| anyhow!("live mode ended: {error}"))?;
    Ok(ExitCode::SUCCESS)
}

/// `fogbank package-agent`.
pub fn package_agent(args: PackageAgentArgs) -> Result<ExitCode> {
    let agent = match args.agent {
        Some(agent) => agent,
        None => std::env::current_exe()
            .context("locating the fogbank binary")?
            .with_file_name("fogbank-agent"),
    };
    let packaged = fogbank_relay::package::package_agent(&agent, &args.out)?;
    println!("wrote {}", packaged.layer.display());
    println!("wrote {}", packaged.bootstrap.display());
    if !packaged.agent_is_static {
        bail!(
            "{} is dynamically linked and may not run in the Lambda sandbox; build it static (see debug-adapter/agent/README.md) and pass it with --agent",
            agent.display()
        );
    }
    println!(
        "Publish the layer (aws lambda publish-layer-version --zip-file fileb://...), add it to the function,"
    );
    println!(
        "and set AWS_LAMBDA_EXEC_WRAPPER=/opt/fogbank-forward (or use the bootstrap for provided.* runtimes)."
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes() {
        let check = |text: &str, expected: Option<u64>| {
            assert_eq!(
                parse_lifetime(text).ok().map(|d| d.as_secs()),
                expected,
                "{text}"
            );
        };
        check("90m", Some(5400));
        check("12h", Some(43_200));
        check("7d", Some(604_800));
        check("30s", Some(30));
        check("0h", None);
        check("12", None);
        check("h", None);
        check("1w", None);
    }
}
