//! `fogbank-relay`: parse flags, load the certificate and the relay key,
//! serve until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use fogbank_relay::registry::Limits;
use fogbank_relay::secret::RelayKey;
use fogbank_relay::server::{self, RelayConfig};
use tokio_util::sync::CancellationToken;

/// Rendezvous relay for debugging functions in the cloud: sandbox agents and
/// developers' debuggers both dial out to it over TLS; it pairs them by
/// session and forwards their end-to-end encrypted streams. It keeps no
/// data and cannot read the streams.
#[derive(Debug, Parser)]
#[command(name = "fogbank-relay", version)]
struct Args {
    /// The address to listen on, e.g. 0.0.0.0:7443.
    #[arg(long, value_name = "ADDR")]
    listen: SocketAddr,
    /// The TLS certificate chain (PEM).
    #[arg(long, value_name = "PEM")]
    cert: PathBuf,
    /// The TLS private key (PEM).
    #[arg(long, value_name = "PEM")]
    key: PathBuf,
    /// The relay key file (`fbrk1_…`) that session tickets are checked
    /// with. `fogbank debug-session new --relay-key FILE` creates it.
    #[arg(long, value_name = "FILE", env = "FOGBANK_RELAY_KEY_FILE")]
    session_key: PathBuf,
    /// Close a connection (or a paired channel) after this many seconds
    /// without traffic.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    idle_timeout: u64,
    /// Connections one session may hold (the debugger, and one per
    /// sandbox).
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_connections_per_session: u32,
    /// Connections the relay holds in all.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_connections: u32,
    /// Largest frame, in bytes (at least 1024; clients send at most 65535).
    #[arg(long, value_name = "BYTES", default_value_t = 65535)]
    max_message: usize,
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FOGBANK_RELAY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fogbank-relay: error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let key_text = std::fs::read_to_string(&args.session_key).with_context(|| {
        format!(
            "cannot read the relay key {}; create one with `fogbank debug-session new --relay-key {}`",
            args.session_key.display(),
            args.session_key.display()
        )
    })?;
    let key =
        RelayKey::parse(&key_text).with_context(|| format!("in {}", args.session_key.display()))?;
    let tls = fogbank_relay::tls::server_config(&args.cert, &args.key)?;
    anyhow::ensure!(
        args.max_message >= 1024,
        "--max-message must be at least 1024 bytes"
    );
    let limits = Limits {
        idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
        max_connections_per_session: args.max_connections_per_session.max(2),
        max_connections: args.max_connections.max(2),
        max_message: args.max_message,
        ..Limits::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let address = listener
            .local_addr()
            .context("reading the listening address")?;
        eprintln!("fogbank-relay: listening on {address}");
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        server::run(listener, RelayConfig { key, limits, tls }, shutdown)
            .await
            .context("serving")
    })
}

async fn stop_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    shutdown.cancel();
}
