//! The Lambda Invoke API on 127.0.0.1:3001, the port `sam local
//! start-lambda` uses: Invoke, GetFunction, GetFunctionConfiguration and
//! ListFunctions, enough for `aws lambda invoke --endpoint-url` and boto3.

// Handlers return the AWS error response itself as their error: it is
// built once on a cold path and sent as is, so its size does not matter.
#![allow(clippy::result_large_err)]

mod wire;

pub use wire::{FunctionRef, parse_function_ref};

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use http::HeaderMap;
use http::header::HeaderValue;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::app::Identity;
use crate::http_server::{self, HttpResponse, response};
use crate::invoke::{Invocation, InvokeError, Invoker, Outcome, new_trace_id};

/// Lambda's limit on a synchronous request payload.
pub const MAX_SYNC_PAYLOAD: usize = 6_291_456;
/// Lambda's limit on an asynchronous (`Event`) request payload.
pub const MAX_ASYNC_PAYLOAD: usize = 1_048_576;

/// Serves the Lambda API until `shutdown` is cancelled.
pub async fn run(
    listener: TcpListener,
    invoker: Invoker,
    identity: Identity,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let last_modified = time::OffsetDateTime::now_utc()
        .format(&time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000"
        ))
        .unwrap_or_default();
    let api = LambdaApi {
        invoker,
        identity,
        last_modified,
    };
    http_server::serve(listener, Arc::new(api), shutdown).await
}

struct LambdaApi {
    invoker: Invoker,
    identity: Identity,
    /// When this emulator started, reported as every function's LastModified.
    last_modified: String,
}

#[derive(Debug, PartialEq, Eq)]
enum Route {
    Invoke(String),
    GetFunction(String),
    GetFunctionConfiguration(String),
    ListFunctions,
}

fn route(method: &Method, path: &str) -> Option<Route> {
    let rest = path.strip_prefix("/2015-03-31/functions")?;
    if rest.is_empty() || rest == "/" {
        return (method == Method::GET).then_some(Route::ListFunctions);
    }
    let rest = rest.strip_prefix('/')?;
    let (encoded_name, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let name = percent_encoding::percent_decode_str(encoded_name)
        .decode_utf8()
        .ok()?
        .into_owned();
    match (method, tail.trim_end_matches('/')) {
        (&Method::POST, "invocations") => Some(Route::Invoke(name)),
        (&Method::GET, "") => Some(Route::GetFunction(name)),
        (&Method::GET, "configuration") => Some(Route::GetFunctionConfiguration(name)),
        _ => None,
    }
}

impl http_server::Handler for LambdaApi {
    async fn call(&self, request: Request<Incoming>) -> HttpResponse {
        let request_id = uuid::Uuid::new_v4().to_string();
        let mut response = match route(request.method(), request.uri().path()) {
            Some(Route::Invoke(name)) => self.invoke(&name, &request_id, request).await,
            Some(Route::GetFunction(name)) => {
                self.get_function(&name, request.uri().query(), false)
            }
            Some(Route::GetFunctionConfiguration(name)) => {
                self.get_function(&name, request.uri().query(), true)
            }
            Some(Route::ListFunctions) => self.list_functions(request.uri().query()),
            None => aws_error(
                404,
                "UnknownOperationException",
                &format!(
                    "no Lambda operation for {} {}",
                    request.method(),
                    request.uri().path()
                ),
            ),
        };
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response
                .headers_mut()
                .entry("x-amzn-requestid")
                .or_insert(value);
        }
        response
    }
}

/// The parsed headers of an Invoke request.
struct InvokeHeaders {
    invocation_type: InvocationType,
    log_tail: bool,
    client_context: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

fn invoke_headers(headers: &HeaderMap) -> Result<InvokeHeaders, HttpResponse> {
    let text = |name: &str| -> Result<Option<&str>, HttpResponse> {
        match headers.get(name) {
            None => Ok(None),
            Some(value) => value.to_str().map(Some).map_err(|_| {
                aws_error(
                    400,
                    "InvalidParameterValueException",
                    &format!("the {name} header is not valid text"),
                )
            }),
        }
    };
    let invocation_type = match text("x-amz-invocation-type")? {
        None | Some("RequestResponse") => InvocationType::RequestResponse,
        Some("Event") => InvocationType::Event,
        Some("DryRun") => InvocationType::DryRun,
        Some(other) => {
            return Err(aws_error(
                400,
                "InvalidParameterValueException",
                &format!(
                    "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
                ),
            ));
        }
    };
    let log_tail = match text("x-amz-log-type")? {
        None | Some("None") => false,
        Some("Tail") => true,
        Some(other) => {
            return Err(aws_error(
                400,
                "InvalidParameterValueException",
                &format!(
                    "1 validation error detected: Value '{other}' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]"
                ),
            ));
        }
    };
    let client_context = match text("x-amz-client-context")? {
        None => None,
        Some(encoded) => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .filter(|json| {
                    serde_json::from_str::<serde_json::Value>(json).is_ok_and(|v| v.is_object())
                });
            match decoded {
                Some(json) => Some(json),
                None => {
                    return Err(aws_error(
                        400,
                        "InvalidRequestContentException",
                        "Client context must be a valid Base64-encoded JSON object.",
                    ));
                }
            }
        }
    };
    Ok(InvokeHeaders {
        invocation_type,
        log_tail,
        client_context,
    })
}

impl LambdaApi {
    async fn invoke(
        &self,
        name: &str,
        request_id: &str,
        request: Request<Incoming>,
    ) -> HttpResponse {
        let function = match self.resolve(name, request.uri().query()) {
            Ok(function) => function,
            Err(response) => return response,
        };
        let headers = match invoke_headers(request.headers()) {
            Ok(headers) => headers,
            Err(response) => return response,
        };
        let trace_id = request
            .headers()
            .get("x-amzn-trace-id")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(new_trace_id);
        let limit = match headers.invocation_type {
            InvocationType::Event => MAX_ASYNC_PAYLOAD,
            _ => MAX_SYNC_PAYLOAD,
        };
        let payload = match Limited::new(request.into_body(), limit).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) if error.is::<http_body_util::LengthLimitError>() => {
                return aws_error(
                    413,
                    "RequestTooLargeException",
                    &format!(
                        "Request must be smaller than {limit} bytes for the InvokeFunction operation"
                    ),
                );
            }
            Err(_) => {
                return aws_error(
                    400,
                    "InvalidRequestContentException",
                    "the request body could not be read",
                );
            }
        };
        let payload = if payload.iter().all(u8::is_ascii_whitespace) {
            // An invoke without a payload delivers an empty JSON object.
            Bytes::from_static(b"{}")
        } else {
            if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(&payload) {
                return aws_error(
                    400,
                    "InvalidRequestContentException",
                    &format!("Could not parse request body into json: {error}"),
                );
            }
            payload
        };

        let invocation = Invocation {
            request_id: request_id.to_owned(),
            payload,
            trace_id,
            client_context: headers.client_context,
            cognito_identity: None,
            log_tail: headers.log_tail,
        };
        match headers.invocation_type {
            InvocationType::DryRun => response(204, "application/json", Bytes::new()),
            InvocationType::Event => match self.invoker.invoke_async(&function, invocation) {
                Ok(()) => response(202, "application/json", Bytes::new()),
                Err(error) => self.invoke_error(&error),
            },
            InvocationType::RequestResponse => {
                match self.invoker.invoke(&function, invocation).await {
                    Ok(completed) => {
                        let (payload, function_error) = match completed.outcome {
                            Outcome::Success(payload) => (payload, false),
                            Outcome::Error(error) => (error.payload, true),
                        };
                        let mut reply = response(200, "application/json", payload);
                        let headers = reply.headers_mut();
                        headers.insert(
                            "x-amz-executed-version",
                            HeaderValue::from_static("$LATEST"),
                        );
                        if function_error {
                            headers.insert(
                                "x-amz-function-error",
                                HeaderValue::from_static("Unhandled"),
                            );
                        }
                        if let Some(tail) = completed.log_tail {
                            let encoded = base64::engine::general_purpose::STANDARD.encode(tail);
                            if let Ok(value) = HeaderValue::from_str(&encoded) {
                                headers.insert("x-amz-log-result", value);
                            }
                        }
                        reply
                    }
                    Err(error) => self.invoke_error(&error),
                }
            }
        }
    }

    fn invoke_error(&self, error: &InvokeError) -> HttpResponse {
        match error {
            InvokeError::FunctionNotFound(name) => self.not_found(name, None),
            InvokeError::TooManyRequests { .. } => {
                let mut reply = response(429, "application/json", wire::throttle_body());
                reply.headers_mut().insert(
                    "x-amzn-errortype",
                    HeaderValue::from_static("TooManyRequestsException"),
                );
                reply
            }
            InvokeError::ShuttingDown => {
                // Lambda's ServiceException is a 500.
                aws_error(500, "ServiceException", "the emulator is shutting down")
            }
            InvokeError::Lost { .. } => aws_error(500, "ServiceException", &error.to_string()),
        }
    }

    /// Resolves a function reference (and `Qualifier` query parameter) to
    /// the name the invoker knows, or the AWS error for it.
    fn resolve(&self, reference: &str, query: Option<&str>) -> Result<String, HttpResponse> {
        let Some(parsed) = parse_function_ref(reference) else {
            return Err(aws_error(
                400,
                "ValidationException",
                &format!(
                    "1 validation error detected: Value '{reference}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
                ),
            ));
        };
        let query_qualifier = query.and_then(|query| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(key, _)| key == "Qualifier")
                .map(|(_, value)| value.into_owned())
        });
        let qualifier = parsed.qualifier.or(query_qualifier);
        if self.invoker.function(&parsed.name).is_none() {
            return Err(self.not_found(&parsed.name, qualifier.as_deref()));
        }
        // Only the template's code exists locally: it is `$LATEST`.
        match qualifier.as_deref() {
            None | Some("$LATEST") => Ok(parsed.name),
            Some(other) => Err(self.not_found(&parsed.name, Some(other))),
        }
    }

    fn not_found(&self, name: &str, qualifier: Option<&str>) -> HttpResponse {
        let mut arn = self.identity.function_arn(name);
        if let Some(qualifier) = qualifier {
            arn.push(':');
            arn.push_str(qualifier);
        }
        aws_error(
            404,
            "ResourceNotFoundException",
            &format!("Function not found: {arn}"),
        )
    }

    fn get_function(
        &self,
        name: &str,
        query: Option<&str>,
        configuration_only: bool,
    ) -> HttpResponse {
        let name = match self.resolve(name, query) {
            Ok(name) => name,
            Err(response) => return response,
        };
        let Some(function) = self.invoker.function(&name) else {
            return self.not_found(&name, None);
        };
        let configuration =
            wire::function_configuration(&function, &self.identity, &self.last_modified);
        let body = if configuration_only {
            configuration
        } else {
            serde_json::json!({
                "Configuration": configuration,
                "Code": {
                    "RepositoryType": "Local",
                    "Location": format!("file://{}", function.code_uri.display()),
                },
                "Tags": {},
            })
        };
        response(200, "application/json", body.to_string())
    }

    fn list_functions(&self, query: Option<&str>) -> HttpResponse {
        let mut marker = None;
        let mut max_items = 50usize;
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*key {
                "Marker" => marker = Some(value.into_owned()),
                "MaxItems" => match value.parse::<usize>() {
                    Ok(n) if (1..=10_000).contains(&n) => max_items = n,
                    _ => {
                        return aws_error(
                            400,
                            "InvalidParameterValueException",
                            &format!("MaxItems must be a number from 1 to 10000, not '{value}'"),
                        );
                    }
                },
                _ => {}
            }
        }
        let mut functions = self.invoker.functions();
        functions.sort_by(|a, b| a.name.cmp(&b.name));
        let start = match &marker {
            Some(marker) => functions.partition_point(|f| f.name.as_str() <= marker.as_str()),
            None => 0,
        };
        let page: Vec<_> = functions.iter().skip(start).take(max_items).collect();
        let next_marker = (start + page.len() < functions.len())
            .then(|| page.last().map(|f| f.name.clone()))
            .flatten();
        let body = serde_json::json!({
            "Functions": page
                .iter()
                .map(|f| wire::function_configuration(f, &self.identity, &self.last_modified))
                .collect::<Vec<_>>(),
            "NextMarker": next_marker,
        });
        response(200, "application/json", body.to_string())
    }
}

fn aws_error(status: u16, code: &'static str, message: &str) -> HttpResponse {
    let mut reply = response(status, "application/json", wire::error_body(message));
    reply
        .headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(code));
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(method: Method, path: &str, expected: Option<Route>) {
        assert_eq!(route(&method, path), expected, "{method} {path}");
    }

    #[test]
    fn routes() {
        check(
            Method::POST,
            "/2015-03-31/functions/Hello/invocations",
            Some(Route::Invoke("Hello".into())),
        );
        check(
            Method::POST,
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3AHello/invocations",
            Some(Route::Invoke(
                "arn:aws:lambda:us-east-1:123456789012:function:Hello".into(),
            )),
        );
        check(
            Method::GET,
            "/2015-03-31/functions/Hello",
            Some(Route::GetFunction("Hello".into())),
        );
        check(
            Method::GET,
            "/2015-03-31/functions/Hello/configuration",
            Some(Route::GetFunctionConfiguration("Hello".into())),
        );
        check(
            Method::GET,
            "/2015-03-31/functions/",
            Some(Route::ListFunctions),
        );
        check(
            Method::GET,
            "/2015-03-31/functions",
            Some(Route::ListFunctions),
        );
        check(Method::DELETE, "/2015-03-31/functions/Hello", None);
        check(Method::GET, "/2015-03-31/functions/%FF/invocations", None);
        check(Method::POST, "/2015-03-31/functionsX", None);
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                *name,
                HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("")),
            );
        }
        map
    }

    #[test]
    fn invoke_headers_are_validated() {
        let ok = invoke_headers(&headers(&[
            ("x-amz-invocation-type", "Event"),
            ("x-amz-log-type", "Tail"),
        ]));
        assert!(matches!(
            ok,
            Ok(InvokeHeaders {
                invocation_type: InvocationType::Event,
                log_tail: true,
                ..
            })
        ));
        assert!(invoke_headers(&headers(&[("x-amz-invocation-type", "Sometimes")])).is_err());
        assert!(invoke_headers(&headers(&[("x-amz-log-type", "Verbose")])).is_err());
        assert!(invoke_headers(&headers(&[("x-amz-client-context", "not base64!")])).is_err());
        // eyJhIjoxfQ== is {"a":1}.
        let context = invoke_headers(&headers(&[("x-amz-client-context", "eyJhIjoxfQ==")]));
        assert!(
            matches!(context, Ok(InvokeHeaders { client_context: Some(ref c), .. }) if c == r#"{"a":1}"#)
        );
    }
}
