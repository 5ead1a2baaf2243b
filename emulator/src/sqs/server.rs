//! The HTTP listener: one hyper server speaking both SQS protocols.
//!
//! A request with `X-Amz-Target: AmazonSQS.<Action>` is AWS JSON 1.0;
//! anything else is the query protocol, with parameters in the form body
//! and/or the URL. Queue URLs in responses use the configured endpoint, not
//! the request's Host header, so they are the same for every client and
//! across restarts; requests may address a queue by any host.

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt as _;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::service::SqsService;
use super::types::SqsError;
use super::wire::{self, json, query};

/// The largest request body accepted: a 1 MiB message escaped as JSON
/// (`\uXXXX` for every byte) plus attributes fits comfortably.
const MAX_BODY: usize = 8 * 1024 * 1024;

/// Serves SQS on `listener` until `shutdown` is cancelled. Long polls in
/// progress return empty at shutdown; open connections get a second to finish.
pub async fn run(
    listener: TcpListener,
    service: SqsService,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Running out of file descriptors is transient; back off.
                    tracing::warn!(error = %e, "sqs: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let handler = hyper::service::service_fn(move |request| {
            let service = service.clone();
            async move { Ok::<_, Infallible>(handle(&service, request).await) }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), handler);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "sqs: connection ended with an error");
            }
        });
    }
    service.close();
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
    }
    Ok(())
}

/// Handles one HTTP request; never fails (errors become AWS error responses)
/// and turns a panic into a 500 as a last line of defence.
pub(crate) async fn handle(
    service: &SqsService,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            let error = SqsError::MalformedRequest(format!("Reading the request body failed: {e}"));
            return respond_error(&parts.headers, &error);
        }
    };
    match AssertUnwindSafe(handle_bytes(service, &parts, body))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(_) => {
            tracing::error!("sqs: request handler panicked");
            respond_error(&parts.headers, &SqsError::WriteLog("internal error".into()))
        }
    }
}

fn json_target(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get("x-amz-target")?
        .to_str()
        .ok()?
        .strip_prefix("AmazonSQS.")
}

async fn handle_bytes(
    service: &SqsService,
    parts: &http::request::Parts,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let sender = wire::sender_id(
        parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    );
    let request_id = uuid::Uuid::new_v4().to_string();
    if let Some(action) = json_target(&parts.headers) {
        let result = match json::parse(action, &body) {
            Ok(request) => wire::dispatch(service, request, &sender).await,
            Err(e) => Err(e),
        };
        return match result {
            Ok(response) => build(
                StatusCode::OK,
                json::CONTENT_TYPE,
                &request_id,
                json::render(&response),
                None,
            ),
            Err(e) => json_error(&e, &request_id),
        };
    }
    let mut params = query::Params::default();
    let parsed = (|| {
        if let Some(q) = parts.uri.query() {
            query::Params::parse(q.as_bytes(), &mut params)?;
        }
        query::Params::parse(&body, &mut params)?;
        let path = parts.uri.path();
        let path_queue = (path.trim_matches('/').contains('/')
            || !path.trim_matches('/').is_empty())
        .then_some(path);
        query::parse(&params, path_queue.filter(|p| *p != "/"))
    })();
    let result = match parsed {
        Ok(request) => {
            let action = request.action();
            wire::dispatch(service, request, &sender)
                .await
                .map(|r| (action, r))
        }
        Err(e) => Err(e),
    };
    match result {
        Ok((action, response)) => build(
            StatusCode::OK,
            "text/xml",
            &request_id,
            query::render(action, &response, &request_id),
            None,
        ),
        Err(e) => {
            let (status, body) = query::render_error(&e, &request_id);
            build(status_code(status), "text/xml", &request_id, body, None)
        }
    }
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn json_error(error: &SqsError, request_id: &str) -> Response<Full<Bytes>> {
    let (status, query_error, body) = json::render_error(error);
    build(
        status_code(status),
        json::CONTENT_TYPE,
        request_id,
        body,
        query_error,
    )
}

fn respond_error(headers: &http::HeaderMap, error: &SqsError) -> Response<Full<Bytes>> {
    let request_id = uuid::Uuid::new_v4().to_string();
    if json_target(headers).is_some() {
        json_error(error, &request_id)
    } else {
        let (status, body) = query::render_error(error, &request_id);
        build(status_code(status), "text/xml", &request_id, body, None)
    }
}

fn build(
    status: StatusCode,
    content_type: &'static str,
    request_id: &str,
    body: Vec<u8>,
    query_error: Option<String>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    if let Some(value) = query_error.and_then(|q| HeaderValue::from_str(&q).ok()) {
        headers.insert("x-amzn-query-error", value);
    }
    response
}
