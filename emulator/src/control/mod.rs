//! The control interface: a small JSON API on loopback (port 3002 by
//! default) through which the debugger and the editor drive a running
//! `fogbank start`.
//!
//! | route | does |
//! |---|---|
//! | `GET /fogbank/v1/status` | version, template, ports, functions |
//! | `PUT /fogbank/v1/functions/{name}/debug` `{"agent": PATH, "instances": N}` | run the function's next instances under `fogbank-agent`, at most N at once (default 1) |
//! | `DELETE /fogbank/v1/functions/{name}/debug` | run it normally again |
//! | `PUT /fogbank/v1/functions/{name}/cloud-environment` `{"variables": {NAME: VALUE}}` | run the function's next instances with a cloud sandbox's environment (live mode) |
//! | `DELETE /fogbank/v1/functions/{name}/cloud-environment` | with its own environment again |
//! | `PUT /fogbank/v1/instances/{id}/paused` `{"paused": BOOL}` | stop (or restart) the instance's timeout clock |
//! | `GET /fogbank/v1/events` | newline-delimited JSON events, streamed |
//!
//! It knows nothing of DWARF or DAP: it converts the invoker's events and
//! calls to JSON (in [`wire`]) and back.

mod wire;

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::backend::environment::CloudEnvironment;
use crate::http_server;
use crate::invoke::{DebugConfig, DebugError, InvokeError, Invoker};
pub use wire::{Ports, Status};

/// What the control interface reports about the emulator.
#[derive(Debug, Clone)]
pub struct ControlInfo {
    pub template: PathBuf,
    pub state_dir: PathBuf,
    pub runtime: String,
    pub ports: Ports,
}

/// The response body type: whole JSON documents or an event stream.
type Body = BoxBody<Bytes, Infallible>;

/// Serves the control interface until `shutdown` is cancelled.
pub async fn run(
    listener: TcpListener,
    invoker: Invoker,
    info: ControlInfo,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let api = ControlApi {
        invoker,
        info,
        shutdown: shutdown.clone(),
    };
    http_server::serve(listener, Arc::new(api), shutdown).await
}

struct ControlApi {
    invoker: Invoker,
    info: ControlInfo,
    shutdown: CancellationToken,
}

#[derive(Debug, PartialEq, Eq)]
enum Route {
    Status,
    Debug(String),
    CloudEnvironment(String),
    Paused(String),
    Events,
}

fn route(path: &str) -> Option<Route> {
    let rest = path.strip_prefix("/fogbank/v1/")?;
    match rest.split('/').collect::<Vec<_>>().as_slice() {
        ["status"] => Some(Route::Status),
        ["events"] => Some(Route::Events),
        ["functions", name, "debug"] if !name.is_empty() => Some(Route::Debug((*name).to_owned())),
        ["functions", name, "cloud-environment"] if !name.is_empty() => {
            Some(Route::CloudEnvironment((*name).to_owned()))
        }
        ["instances", id, "paused"] if !id.is_empty() => Some(Route::Paused((*id).to_owned())),
        _ => None,
    }
}

/// The largest request body the control interface reads.
const MAX_BODY: usize = 64 * 1024;

impl http_server::Handler<Body> for ControlApi {
    async fn call(&self, request: Request<Incoming>) -> Response<Body> {
        let method = request.method().clone();
        match (route(request.uri().path()), method) {
            (Some(Route::Status), Method::GET) => json(StatusCode::OK, &self.status()),
            (Some(Route::Events), Method::GET) => self.events(),
            (Some(Route::Debug(name)), Method::PUT) => {
                let body: wire::DebugRequest = match read_json(request).await {
                    Ok(body) => body,
                    Err(response) => return response,
                };
                if !(1..=wire::MAX_DEBUG_INSTANCES).contains(&body.instances) {
                    return error(
                        StatusCode::BAD_REQUEST,
                        &format!(
                            "instances: {} is out of range; give 1 to {}",
                            body.instances,
                            wire::MAX_DEBUG_INSTANCES
                        ),
                    );
                }
                let config = DebugConfig {
                    agent: body.agent,
                    instances: body.instances,
                };
                self.set_debug(&name, Some(config))
            }
            (Some(Route::Debug(name)), Method::DELETE) => self.set_debug(&name, None),
            (Some(Route::CloudEnvironment(name)), Method::PUT) => {
                let body: wire::CloudEnvironmentRequest = match read_json(request).await {
                    Ok(body) => body,
                    Err(response) => return response,
                };
                match body.into_environment() {
                    Ok(cloud) => self.set_cloud_environment(&name, Some(cloud)),
                    Err(message) => error(StatusCode::BAD_REQUEST, &message),
                }
            }
            (Some(Route::CloudEnvironment(name)), Method::DELETE) => {
                self.set_cloud_environment(&name, None)
            }
            (Some(Route::Paused(id)), Method::PUT) => {
                let body: wire::PausedRequest = match read_json(request).await {
                    Ok(body) => body,
                    Err(response) => return response,
                };
                if self.invoker.set_paused(&id, body.paused) {
                    empty(StatusCode::NO_CONTENT)
                } else {
                    error(
                        StatusCode::NOT_FOUND,
                        &format!("no instance {id}; it may have stopped"),
                    )
                }
            }
            (Some(_), method) => error(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("{method} is not supported on {}", request.uri().path()),
            ),
            (None, _) => error(
                StatusCode::NOT_FOUND,
                &format!(
                    "no control route {}; see GET /fogbank/v1/status",
                    request.uri().path()
                ),
            ),
        }
    }
}

impl ControlApi {
    fn status(&self) -> Status {
        wire::status(&self.info, &self.invoker)
    }

    fn set_debug(&self, name: &str, config: Option<DebugConfig>) -> Response<Body> {
        match self.invoker.set_debug(name, config) {
            Ok(function) => json(
                StatusCode::OK,
                &wire::function_status(&function, &self.invoker),
            ),
            Err(error @ DebugError::FunctionNotFound(_)) => {
                error_response(StatusCode::NOT_FOUND, &error)
            }
            Err(error) => error_response(StatusCode::BAD_REQUEST, &error),
        }
    }

    fn set_cloud_environment(&self, name: &str, cloud: Option<CloudEnvironment>) -> Response<Body> {
        match self.invoker.set_cloud_environment(name, cloud) {
            Ok(function) => json(
                StatusCode::OK,
                &wire::function_status(&function, &self.invoker),
            ),
            Err(error @ InvokeError::FunctionNotFound(_)) => {
                error_response(StatusCode::NOT_FOUND, &error)
            }
            Err(error) => error_response(StatusCode::BAD_REQUEST, &error),
        }
    }

    /// Streams events as newline-delimited JSON until shutdown. Function
    /// output is included, so a debugger can show it as DAP `output`.
    fn events(&self) -> Response<Body> {
        let events = self.invoker.subscribe_events();
        let logs = self.invoker.subscribe_logs();
        let shutdown = self.shutdown.clone();
        let stream = futures::stream::unfold(
            (events, logs, shutdown),
            |(mut events, mut logs, shutdown)| async move {
                let line = tokio::select! {
                    () = shutdown.cancelled() => return None,
                    event = events.recv() => match event {
                        Ok(event) => wire::event_line(&event),
                        Err(broadcast::error::RecvError::Lagged(missed)) => wire::lagged_line(missed),
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                    line = logs.recv() => match line {
                        Ok(line) => wire::log_line(&line),
                        Err(broadcast::error::RecvError::Lagged(missed)) => wire::lagged_line(missed),
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                };
                Some((
                    Ok::<_, Infallible>(Frame::data(Bytes::from(line))),
                    (events, logs, shutdown),
                ))
            },
        );
        let mut response = Response::new(BodyExt::boxed(StreamBody::new(stream)));
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/x-ndjson"),
        );
        response
    }
}

async fn read_json<T: serde::de::DeserializeOwned>(
    request: Request<Incoming>,
) -> Result<T, Response<Body>> {
    let bytes = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Err(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is too large or broken",
            ));
        }
    };
    serde_json::from_slice(&bytes).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("the request body is not the expected JSON: {e}"),
        )
    })
}

fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(body)).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::new()).boxed());
    *response.status_mut() = status;
    response
}

fn error(status: StatusCode, message: &str) -> Response<Body> {
    json(status, &serde_json::json!({ "message": message }))
}

fn error_response(status: StatusCode, error: &dyn std::error::Error) -> Response<Body> {
    self::error(status, &error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str, expected: Option<Route>) {
        assert_eq!(route(path), expected, "{path}");
    }

    #[test]
    fn routes() {
        check("/fogbank/v1/status", Some(Route::Status));
        check("/fogbank/v1/events", Some(Route::Events));
        check(
            "/fogbank/v1/functions/Hello/debug",
            Some(Route::Debug("Hello".into())),
        );
        check(
            "/fogbank/v1/instances/abc/paused",
            Some(Route::Paused("abc".into())),
        );
        check(
            "/fogbank/v1/functions/Hello/cloud-environment",
            Some(Route::CloudEnvironment("Hello".into())),
        );
        check("/fogbank/v1/functions//debug", None);
        check("/fogbank/v1/functions/Hello", None);
        check("/fogbank/v2/status", None);
        check("/", None);
    }
}
