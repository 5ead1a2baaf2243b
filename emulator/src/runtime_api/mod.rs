//! The Lambda Runtime API (`/2018-06-01`), served once per instance.
//!
//! Every instance gets its own loopback listener, so the listener a request
//! arrives on identifies the instance: there is no routing by path or
//! header, exactly as in Lambda where each sandbox has its own endpoint.
//!
//! The [`RuntimeChannel`] is the meeting point between the invoker, which
//! [dispatches](RuntimeChannel::dispatch) one invocation at a time, and the
//! function's bootstrap, which long-polls `next` and posts the result.

mod channel;

pub use channel::{
    Dispatch, ErrorReport, InvocationStart, MAX_RESPONSE_BYTES, RuntimeChannel, RuntimeReply,
};

use std::sync::Arc;

use bytes::Bytes;
use http::header::HeaderValue;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::http_server::{self, HttpResponse, response};

/// The path prefix of every Runtime API route.
const PREFIX: &str = "/2018-06-01/runtime/";

/// Serves one instance's Runtime API until `shutdown` is cancelled.
pub async fn run(
    listener: TcpListener,
    channel: Arc<RuntimeChannel>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    http_server::serve(listener, Arc::new(RuntimeApi { channel }), shutdown).await
}

struct RuntimeApi {
    channel: Arc<RuntimeChannel>,
}

/// A Runtime API route, parsed from the request line.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    Next,
    Response(&'a str),
    Error(&'a str),
    InitError,
}

fn route<'a>(method: &Method, path: &'a str) -> Option<Route<'a>> {
    let rest = path.strip_prefix(PREFIX)?;
    match (method, rest) {
        (&Method::GET, "invocation/next") => Some(Route::Next),
        (&Method::POST, "init/error") => Some(Route::InitError),
        (&Method::POST, rest) => {
            let rest = rest.strip_prefix("invocation/")?;
            let (id, action) = rest.split_once('/')?;
            if id.is_empty() {
                return None;
            }
            match action {
                "response" => Some(Route::Response(id)),
                "error" => Some(Route::Error(id)),
                _ => None,
            }
        }
        _ => None,
    }
}

impl http_server::Handler for RuntimeApi {
    async fn call(&self, request: Request<Incoming>) -> HttpResponse {
        let path = request.uri().path().to_owned();
        match route(request.method(), &path) {
            Some(Route::Next) => self.next().await,
            Some(Route::Response(id)) => {
                let id = id.to_owned();
                match read_body(request).await {
                    Ok(body) => self.complete(&id, RuntimeReply::Response(body)),
                    Err(BodyError::TooLarge) => self.too_large(&id),
                    Err(BodyError::Broken) => bad_request("the request body could not be read"),
                }
            }
            Some(Route::Error(id)) => {
                let id = id.to_owned();
                let error_type = error_type_header(&request);
                match read_body(request).await {
                    Ok(body) => {
                        self.complete(&id, RuntimeReply::Error(ErrorReport::new(error_type, body)))
                    }
                    Err(BodyError::TooLarge) => self.too_large(&id),
                    Err(BodyError::Broken) => bad_request("the request body could not be read"),
                }
            }
            Some(Route::InitError) => {
                let error_type = error_type_header(&request);
                let body = read_body(request).await.unwrap_or_default();
                self.channel.init_error(ErrorReport::new(error_type, body));
                accepted()
            }
            None => runtime_error(
                404,
                "InvalidRoute",
                &format!("no Runtime API route for {path}"),
            ),
        }
    }
}

impl RuntimeApi {
    async fn next(&self) -> HttpResponse {
        let Some(event) = self.channel.next().await else {
            // The instance is shutting down; the bootstrap is about to be
            // stopped, so it only needs to not get an event.
            return runtime_error(500, "ServiceException", "the instance is shutting down");
        };
        let mut response = response(200, "application/json", event.payload);
        let headers = response.headers_mut();
        let mut put = |name: &'static str, value: &str| {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        };
        put("lambda-runtime-aws-request-id", &event.request_id);
        put("lambda-runtime-deadline-ms", &event.deadline_ms.to_string());
        put("lambda-runtime-invoked-function-arn", &event.function_arn);
        put("lambda-runtime-trace-id", &event.trace_id);
        if let Some(context) = &event.client_context {
            put("lambda-runtime-client-context", context);
        }
        if let Some(identity) = &event.cognito_identity {
            put("lambda-runtime-cognito-identity", identity);
        }
        response
    }

    fn complete(&self, id: &str, reply: RuntimeReply) -> HttpResponse {
        if self.channel.complete(id, reply) {
            accepted()
        } else {
            runtime_error(
                400,
                "InvalidRequestID",
                &format!("invalid request ID {id}: no invocation with this ID is in progress"),
            )
        }
    }

    fn too_large(&self, id: &str) -> HttpResponse {
        self.channel.complete(id, RuntimeReply::ResponseTooLarge);
        runtime_error(
            413,
            "RequestEntityTooLarge",
            &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
        )
    }
}

fn error_type_header(request: &Request<Incoming>) -> Option<String> {
    request
        .headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

enum BodyError {
    TooLarge,
    Broken,
}

/// Reads a body of at most [`MAX_RESPONSE_BYTES`]. A larger body is still
/// read to its end (up to a hard cap) and discarded: answering 413 before
/// the client finished sending would break its connection mid-write, and
/// runtimes, like AWS's own, expect to carry on after a refused response.
async fn read_body(request: Request<Incoming>) -> Result<Bytes, BodyError> {
    const DISCARD_CAP: usize = 64 * 1024 * 1024;
    let mut body = request.into_body();
    let mut collected = bytes::BytesMut::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(BodyError::Broken);
        };
        if let Ok(data) = frame.into_data() {
            total += data.len();
            if total <= MAX_RESPONSE_BYTES {
                collected.extend_from_slice(&data);
            } else {
                collected = bytes::BytesMut::new();
                if total > DISCARD_CAP {
                    return Err(BodyError::TooLarge);
                }
            }
        }
    }
    if total > MAX_RESPONSE_BYTES {
        return Err(BodyError::TooLarge);
    }
    Ok(collected.freeze())
}

fn accepted() -> HttpResponse {
    response(202, "application/json", r#"{"status":"OK"}"#)
}

fn bad_request(message: &str) -> HttpResponse {
    runtime_error(400, "InvalidRequest", message)
}

fn runtime_error(status: u16, error_type: &str, message: &str) -> HttpResponse {
    let body = serde_json::json!({ "errorMessage": message, "errorType": error_type });
    response(status, "application/json", body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(method: Method, path: &str, expected: Option<Route<'_>>) {
        assert_eq!(route(&method, path), expected, "{method} {path}");
    }

    #[test]
    fn routes() {
        check(
            Method::GET,
            "/2018-06-01/runtime/invocation/next",
            Some(Route::Next),
        );
        check(
            Method::POST,
            "/2018-06-01/runtime/invocation/abc-1/response",
            Some(Route::Response("abc-1")),
        );
        check(
            Method::POST,
            "/2018-06-01/runtime/invocation/abc-1/error",
            Some(Route::Error("abc-1")),
        );
        check(
            Method::POST,
            "/2018-06-01/runtime/init/error",
            Some(Route::InitError),
        );
        check(Method::POST, "/2018-06-01/runtime/invocation/next", None);
        check(
            Method::GET,
            "/2018-06-01/runtime/invocation/abc/response",
            None,
        );
        check(
            Method::POST,
            "/2018-06-01/runtime/invocation//response",
            None,
        );
        check(
            Method::POST,
            "/2018-06-01/runtime/invocation/abc/other",
            None,
        );
        check(Method::GET, "/2020-01-01/extension/register", None);
    }
}
