//! The accept loop every Fogbank HTTP listener shares: HTTP/1.1 with
//! keep-alive, one task per connection, and a graceful stop.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The response type of every Fogbank handler.
pub type HttpResponse = Response<Full<Bytes>>;

/// A request handler shared by all connections of a listener. Most
/// handlers answer with whole bodies (`Full<Bytes>`); streaming handlers
/// (the control interface's event stream) pick another body type.
pub trait Handler<B = Full<Bytes>>: Send + Sync + 'static {
    fn call(&self, request: Request<Incoming>) -> impl Future<Output = Response<B>> + Send;
}

/// The client's address, in every request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// How long open connections get to finish their requests once shutdown is
/// asked for.
const GRACE: Duration = Duration::from_secs(5);

/// Serves `handler` on `listener` until `shutdown` is cancelled, then stops
/// accepting, lets in-flight requests finish (up to a grace period) and
/// returns.
pub async fn serve<H, B>(
    listener: TcpListener,
    handler: Arc<H>,
    shutdown: CancellationToken,
) -> std::io::Result<()>
where
    H: Handler<B>,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) if is_transient_accept_error(&error) => {
                // Running out of descriptors must not end the server: wait
                // for connections to close and try again.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            Err(error) => return Err(error),
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let service = service_fn(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(PeerAddr(peer));
                let handler = handler.clone();
                async move { Ok::<_, Infallible>(handler.call(request).await) }
            });
            let connection = http1::Builder::new()
                .keep_alive(true)
                .max_headers(crate::http_server::MAX_HEADERS)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(GRACE, connection).await;
                }
            }
        });
    }
    connections.close();
    let _ = tokio::time::timeout(GRACE, connections.wait()).await;
    Ok(())
}

/// The most headers a request may carry; more is answered with 431 by
/// hyper. hyper prepares a slot per allowed header for every request, so
/// this stays at hyper's own default rather than something generous.
pub const MAX_HEADERS: usize = 100;

fn is_transient_accept_error(error: &std::io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::ECONNABORTED)
    ) || error.kind() == std::io::ErrorKind::ConnectionAborted
}

/// A response with a body and content type.
pub fn response(status: u16, content_type: &str, body: impl Into<Bytes>) -> HttpResponse {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}
