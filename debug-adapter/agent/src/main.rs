//! `fogbank-agent`: parse flags, set up logging, run the agent, and exit the
//! way the debuggee did.

use std::ffi::OsString;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use fogbank_agent::{AgentConfig, Launch, Outcome, Program, TransportConfig};

/// Runs a program under ptrace and serves it to a debugger over the GDB
/// Remote Serial Protocol.
///
/// The program waits stopped at its first instruction until a debugger
/// connects (or `--wait-timeout` passes). When the debugger detaches or
/// disconnects, the program runs on normally; the agent exits with the
/// program's exit status.
#[derive(Debug, Parser)]
#[command(name = "fogbank-agent", version)]
struct Args {
    /// Live mode: act as the function's runtime client against the Lambda
    /// Runtime API (AWS_LAMBDA_RUNTIME_API) and forward every invocation
    /// through the relay (FOGBANK_RELAY, FOGBANK_SESSION,
    /// FOGBANK_SESSION_SECRET) to the developer's machine. Takes no program.
    #[arg(long, conflicts_with_all = ["listen", "connect", "pid", "program"])]
    forward: bool,

    /// Accept a debugger on this address (port 0 picks a free port). The
    /// chosen address is printed to stderr as
    /// "fogbank-agent: listening on ADDR".
    #[arg(long, value_name = "ADDR", conflicts_with = "connect")]
    listen: Option<SocketAddr>,

    /// Write the listening address (e.g. "127.0.0.1:40123") to this file.
    #[arg(long, value_name = "PATH", requires = "listen")]
    port_file: Option<PathBuf>,

    /// Connect out to a debugger or relay at this address instead of
    /// listening (an IP address: the static binary cannot resolve names).
    #[arg(long, value_name = "ADDR")]
    connect: Option<SocketAddr>,

    /// In-place mode: serve the debugger through the relay, end-to-end
    /// encrypted (FOGBANK_RELAY, FOGBANK_SESSION, FOGBANK_SESSION_SECRET,
    /// optionally FOGBANK_RELAY_CA and FOGBANK_RELAY_NAME). With a wrong or
    /// expired session the program runs at once without a debugger. When
    /// AWS_LAMBDA_RUNTIME_API is set, the program reaches the Runtime API
    /// through a proxy of the agent's, which notes each invocation's request
    /// ID and deadline for the debugger (`monitor fogbank invocation`).
    #[arg(long, conflicts_with_all = ["listen", "connect"])]
    relay: bool,

    /// Attach to this running process instead of starting a program.
    #[arg(long, value_name = "PID", conflicts_with = "program")]
    pid: Option<i32>,

    /// Seconds the program waits stopped for a first debugger; after that it
    /// runs untraced (a debugger connecting later re-attaches). Default:
    /// wait forever.
    #[arg(long, value_name = "SECONDS")]
    wait_timeout: Option<f64>,

    /// Working directory of the program (default: the agent's).
    #[arg(long, value_name = "DIR")]
    cwd: Option<PathBuf>,

    /// Sets an environment variable for the program, on top of the agent's
    /// own environment, which the program inherits. Repeatable.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(OsString, OsString)>,

    /// The program and its arguments, after `--`. It inherits the agent's
    /// environment, stdin, stdout and stderr.
    #[arg(last = true, value_name = "PROGRAM")]
    program: Vec<OsString>,
}

fn main() {
    match run() {
        Ok(outcome) => exit_like(outcome),
        Err(error) => {
            eprintln!("fogbank-agent: error: {error:#}");
            std::process::exit(125);
        }
    }
}

fn run() -> anyhow::Result<Outcome> {
    let args = Args::parse();
    if args.forward {
        // The stub serves until its sandbox goes away; returning means the
        // Runtime API failed, which Lambda reports from the exit status.
        fogbank_agent::forward::run_from_environment()?;
        return Ok(Outcome::Exited(0));
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FOGBANK_AGENT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();

    let launch = match (args.pid, args.program.split_first()) {
        (Some(pid), _) => Launch::Attach(pid),
        (None, Some((path, rest))) => Launch::Spawn(Program {
            path: PathBuf::from(path),
            args: rest.to_vec(),
            cwd: args.cwd.clone(),
            env: args.env.clone(),
        }),
        (None, None) => anyhow::bail!("give a program after `--` or a process with --pid"),
    };
    let transport = match (args.listen, args.connect) {
        _ if args.relay => {
            let vars: Vec<(String, String)> = std::env::vars().collect();
            TransportConfig::Relay(fogbank_agent::forward::RelayTarget::from_vars(&vars)?)
        }
        (_, Some(addr)) => TransportConfig::Connect(addr),
        (listen, None) => {
            let addr = listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
            let listener =
                TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
            TransportConfig::Listen {
                listener,
                port_file: args.port_file.clone(),
            }
        }
    };
    let wait_timeout = match args.wait_timeout {
        Some(seconds) => Some(Duration::try_from_secs_f64(seconds).with_context(|| {
            format!("--wait-timeout {seconds} is not a valid number of seconds")
        })?),
        None => None,
    };
    // In place, the function reaches the sandbox's Runtime API through the
    // agent's proxy, so the developer can be told each invocation's deadline.
    let watch_runtime_api = if args.relay {
        args.env
            .iter()
            .rev()
            .find(|(key, _)| key == fogbank_agent::RUNTIME_API_VARIABLE)
            .map(|(_, value)| value.to_string_lossy().into_owned())
            .or_else(|| std::env::var(fogbank_agent::RUNTIME_API_VARIABLE).ok())
            .filter(|address| !address.is_empty())
    } else {
        None
    };
    let config = AgentConfig {
        launch,
        transport,
        wait_timeout,
        handle_termination_signals: true,
        watch_runtime_api,
    };
    Ok(fogbank_agent::run(config)?)
}

fn parse_env(text: &str) -> Result<(OsString, OsString), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.into(), value.into())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}

/// Ends the agent with the debuggee's exit status: the same code, or death by
/// the same signal, so whoever supervises the agent sees what the program did.
fn exit_like(outcome: Outcome) -> ! {
    match outcome {
        Outcome::Exited(code) => std::process::exit(code),
        Outcome::Detached => std::process::exit(0),
        Outcome::Killed(signal) => {
            // SAFETY: restoring the default action and re-raising the signal
            // are plain syscalls; the process is about to end anyway.
            unsafe {
                libc::signal(signal, libc::SIG_DFL);
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, signal);
                libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
                libc::raise(signal);
            }
            std::process::exit(128 + signal)
        }
    }
}
