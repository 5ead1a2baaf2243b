//! Where DAP clients come from: standard input and output (how editors
//! start adapters), or a TCP listener (`--port`, for debugging the adapter
//! itself and for clients that connect to a running adapter).

use std::io;
use std::net::TcpListener;

use crate::session;

/// Serves one session over standard input and output.
pub fn serve_stdio() -> io::Result<()> {
    session::serve(io::stdin(), io::stdout().lock())
}

/// Serves sessions one after another on `listener`, until accepting fails.
/// Each connection is one session.
pub fn serve_tcp(listener: &TcpListener) -> io::Result<()> {
    loop {
        let (stream, peer) = listener.accept()?;
        tracing::info!(%peer, "DAP client connected");
        let _ = stream.set_nodelay(true);
        let input = stream.try_clone()?;
        if let Err(error) = session::serve(input, stream) {
            tracing::info!(%error, %peer, "DAP session ended with an error");
        }
    }
}
