//! `fogbank-dap`: the Debug Adapter Protocol server. Editors start it and
//! speak DAP on its standard input and output; `--port` serves DAP over
//! TCP instead. Logs go to standard error (`FOGBANK_DAP_LOG=debug`).

use std::net::TcpListener;
use std::process::ExitCode;

use clap::Parser;

/// Debug Adapter Protocol server for native functions run by Fogbank.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Serve DAP on 127.0.0.1:PORT instead of standard input and output
    /// (0 picks a free port, printed on standard error).
    #[arg(long, value_name = "PORT")]
    port: Option<u16>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FOGBANK_DAP_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let result = match args.port {
        None => fogbank_dap::server::serve_stdio(),
        Some(port) => match TcpListener::bind(("127.0.0.1", port)) {
            Ok(listener) => {
                if let Ok(address) = listener.local_addr() {
                    eprintln!("fogbank-dap: listening on {address}");
                }
                fogbank_dap::server::serve_tcp(&listener)
            }
            Err(error) => {
                eprintln!("fogbank-dap: cannot listen on 127.0.0.1:{port}: {error}");
                return ExitCode::FAILURE;
            }
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fogbank-dap: {error}");
            ExitCode::FAILURE
        }
    }
}
