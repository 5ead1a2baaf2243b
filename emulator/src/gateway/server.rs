//! The gateway's hyper shell: reads a request, asks the route table which
//! function answers, runs the authorizer, builds the event, invokes the
//! function under the integration timeout, maps the answer back, and logs
//! one access line. Every decision about shapes lives in the pure modules
//! beside this one.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use http::header::{ACCEPT, CONNECTION, CONTENT_TYPE};
use http::request::Parts;
use http::{HeaderValue, Method, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::Response;
use hyper::body::{Body as _, Incoming};

use super::authorizer::{
    self, Authorization, AuthorizerFault, AuthorizerKind, SourceContext, Verdict,
};
use super::cors;
use super::errors::{Flavour, GatewayError};
use super::event_v1::{self, V1Context};
use super::event_v2::{self, V2Context};
use super::request::{BinaryRule, EventBody, RequestParts, decode_path_param, event_body};
use super::response::{self, Decoding, Reply, ResponseFormat};
use super::routes::{
    ApiEntry, FunctionUrlEntry, Match, MethodFilter, Miss, PayloadVersion, Route, stable_id,
};
use super::{FUNCTION_URL_PREFIX, GatewayConfig, Routes};
use crate::app::{ApiKind, Authorizer};
use crate::console::Prefix;
use crate::http_server::{Handler, HttpResponse, PeerAddr};
use crate::invoke::{Completed, Invocation, InvokeError, Outcome, new_trace_id};
use crate::lambda_api::MAX_SYNC_PAYLOAD;

/// API Gateway's request payload limit.
const MAX_BODY: usize = 10 * 1024 * 1024;
/// Function URLs take what a synchronous Lambda invoke takes.
const MAX_URL_BODY: usize = MAX_SYNC_PAYLOAD;
/// Oversized bodies are read and dropped up to this size, so the client
/// gets to read the 413; bigger uploads get it with the connection closed.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

pub(super) struct GatewayServer {
    routes: Routes,
    config: GatewayConfig,
    port: u16,
    prefix: Prefix,
}

impl GatewayServer {
    pub(super) fn new(routes: Routes, config: GatewayConfig, port: u16) -> GatewayServer {
        let prefix = config.console.prefix("API Gateway");
        GatewayServer {
            routes,
            config,
            port,
            prefix,
        }
    }
}

impl Handler for GatewayServer {
    async fn call(&self, request: Request<Incoming>) -> HttpResponse {
        let started = Instant::now();
        let (head, body) = request.into_parts();
        let (response, function) = self.handle(&head, body).await;
        self.access_log(
            &head,
            response.status(),
            started.elapsed(),
            function.as_deref(),
        );
        response
    }
}

/// The IDs one request carries.
struct RequestIds {
    /// `requestContext.requestId` (a UUID on REST APIs, API Gateway's short
    /// form on HTTP APIs).
    gateway: String,
    /// `extendedRequestId` / `x-amz-apigw-id`.
    extended: String,
    /// `X-Amzn-Trace-Id`, passed on as `Lambda-Runtime-Trace-Id`.
    trace: String,
}

impl RequestIds {
    fn new(kind: ApiKind, head: &Parts) -> RequestIds {
        let extended = short_id();
        let gateway = match kind {
            ApiKind::Rest => uuid::Uuid::new_v4().to_string(),
            ApiKind::Http => extended.clone(),
        };
        RequestIds {
            gateway,
            extended,
            trace: trace_id(head),
        }
    }
}

/// API Gateway's 16-character request ID form (`JkHs_jtXIAMEPqA=`).
fn short_id() -> String {
    let random = uuid::Uuid::new_v4();
    base64::engine::general_purpose::URL_SAFE.encode(&random.as_bytes()[..11])
}

/// The client's `X-Amzn-Trace-Id` when it carries a root, else a new one.
fn trace_id(head: &Parts) -> String {
    head.headers
        .get("x-amzn-trace-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.contains("Root="))
        .map_or_else(new_trace_id, str::to_owned)
}

/// How an invocation ended, from the gateway's side.
enum Invoked {
    Done(Result<Completed, InvokeError>),
    /// The integration timeout passed first.
    TimedOut,
}

enum BodyError {
    TooLarge,
    Broken,
}

impl GatewayServer {
    async fn handle(&self, head: &Parts, body: Incoming) -> (HttpResponse, Option<Arc<str>>) {
        let table = self.routes.get();
        let path = head.uri.path();
        if let Some(rest) = path.strip_prefix(FUNCTION_URL_PREFIX) {
            return self.function_url(head, rest, body).await;
        }
        if head.method == Method::OPTIONS
            && let Some(response) = self.cors_preflight(head)
        {
            return (response, None);
        }
        let matched = match table.find(MethodFilter::Is(&head.method), path) {
            Ok(matched) => matched,
            Err(miss) => {
                let (error, flavour, kind) = match miss {
                    Miss::Rest => (
                        GatewayError::MissingAuthenticationToken,
                        Flavour::Rest,
                        ApiKind::Rest,
                    ),
                    Miss::Http => (GatewayError::NotFound, Flavour::Http, ApiKind::Http),
                };
                let ids = RequestIds::new(kind, head);
                return (finish(error.response(flavour), flavour, &ids), None);
            }
        };
        let route = &table.routes[matched.route];
        let api = &table.apis[route.api];
        let function = Some(route.function.clone());
        let flavour = match api.kind {
            ApiKind::Rest => Flavour::Rest,
            ApiKind::Http => Flavour::Http,
        };
        let ids = RequestIds::new(api.kind, head);
        let response = match self
            .serve_route(head, body, &matched, route, api, &ids)
            .await
        {
            Ok(response) => response,
            Err(error) => error.response(flavour),
        };
        let mut response = finish(response, flavour, &ids);
        if api.kind == ApiKind::Http
            && let Some(cors) = &api.cors
        {
            cors::decorate(cors, &head.headers, response.headers_mut());
        }
        (response, function)
    }

    async fn serve_route(
        &self,
        head: &Parts,
        body: Incoming,
        matched: &Match<'_>,
        route: &Route,
        api: &ApiEntry,
        ids: &RequestIds,
    ) -> Result<HttpResponse, GatewayError> {
        let body = match read_body(body, MAX_BODY).await {
            Ok(body) => body,
            Err(error) => return Err(self.body_error(head, error, MAX_BODY)),
        };
        let parts = self.request_parts(head, &body, &ids.trace);
        // REST passes path parameters as they appear in the URL; HTTP APIs
        // decode them.
        let params: Vec<(&str, Cow<'_, str>)> = matched
            .params
            .iter()
            .map(|(name, raw)| {
                let value = match api.kind {
                    ApiKind::Rest => Cow::Borrowed(*raw),
                    ApiKind::Http => decode_path_param(raw),
                };
                (*name, value)
            })
            .collect();
        let authorization = match route
            .authorizer
            .as_deref()
            .and_then(|name| api.authorizers.get(name).map(|a| (name, a)))
        {
            None => None,
            Some((name, authorizer)) => Some(
                self.authorize(name, authorizer, route, api, matched, &parts, &params, ids)
                    .await?,
            ),
        };
        let rule = match api.kind {
            ApiKind::Rest => BinaryRule::MediaTypes(&api.binary_media_types),
            ApiKind::Http => BinaryRule::TextTypesOnly,
        };
        let event_body = event_body(&body, &head.headers, rule);
        let event = self.event(
            route.payload,
            route,
            api,
            matched,
            &parts,
            &params,
            ids,
            authorization.as_ref(),
            &event_body,
        );
        if event.len() > MAX_SYNC_PAYLOAD {
            self.explain(
                head,
                &format!(
                    "the event is {} bytes, over Lambda's {MAX_SYNC_PAYLOAD}-byte limit for synchronous invocations",
                    event.len()
                ),
            );
            return Err(GatewayError::PayloadTooLarge);
        }
        let invocation = invocation(event, &ids.trace);
        let completed = self
            .invoke_checked(head, &route.function, invocation, Some(route.timeout))
            .await?;
        let format = match (api.kind, route.payload) {
            (ApiKind::Rest, _) => ResponseFormat::RestV1,
            (ApiKind::Http, PayloadVersion::V1) => ResponseFormat::HttpV1,
            (ApiKind::Http, PayloadVersion::V2) => ResponseFormat::V2,
        };
        let accept = head.headers.get(ACCEPT).and_then(|v| v.to_str().ok());
        let decoding = match api.kind {
            ApiKind::Rest => Decoding::BinaryMediaTypes {
                types: &api.binary_media_types,
                accept,
            },
            ApiKind::Http => Decoding::Always,
        };
        self.map_outcome(head, &route.function, completed, format, decoding)
    }

    /// Builds the route's event in `version`'s shape.
    #[allow(clippy::too_many_arguments)]
    fn event(
        &self,
        version: PayloadVersion,
        route: &Route,
        api: &ApiEntry,
        matched: &Match<'_>,
        parts: &RequestParts<'_>,
        params: &[(&str, Cow<'_, str>)],
        ids: &RequestIds,
        authorization: Option<&Authorization>,
        body: &EventBody<'_>,
    ) -> Vec<u8> {
        let identity = &self.config.identity;
        match version {
            PayloadVersion::V2 => event_v2::event(
                parts,
                &V2Context {
                    route_key: &route.route_key,
                    account_id: &identity.account_id,
                    api_id: &api.api_id,
                    stage: &api.stage,
                    request_id: &ids.gateway,
                    path_params: params,
                    stage_variables: &api.stage_variables,
                    authorization,
                    body,
                },
            ),
            PayloadVersion::V1 => {
                let resource = route.path.as_deref().unwrap_or(matched.path);
                let resource_id = stable_id(&format!("{}:{resource}", api.api_id), 6);
                event_v1::event(
                    parts,
                    &V1Context {
                        http_api: api.kind == ApiKind::Http,
                        resource,
                        path: matched.path,
                        resource_id: &resource_id,
                        account_id: &identity.account_id,
                        api_id: &api.api_id,
                        stage: &api.stage,
                        request_id: &ids.gateway,
                        extended_request_id: &ids.extended,
                        path_params: params,
                        stage_variables: &api.stage_variables,
                        authorization,
                        body,
                    },
                )
            }
        }
    }

    fn request_parts<'a>(
        &self,
        head: &'a Parts,
        body: &'a [u8],
        trace: &'a str,
    ) -> RequestParts<'a> {
        let source_ip = head
            .extensions
            .get::<PeerAddr>()
            .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |peer| peer.0.ip());
        let time_epoch_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        RequestParts {
            method: &head.method,
            raw_path: head.uri.path(),
            raw_query: head.uri.query().unwrap_or(""),
            headers: &head.headers,
            body,
            source_ip,
            protocol: if head.version == Version::HTTP_10 {
                "HTTP/1.0"
            } else {
                "HTTP/1.1"
            },
            time_epoch_ms,
            port: self.port,
            trace_id: trace,
        }
    }

    /// Runs the route's authorizer.
    #[allow(clippy::too_many_arguments)]
    async fn authorize(
        &self,
        name: &str,
        authorizer: &Authorizer,
        route: &Route,
        api: &ApiEntry,
        matched: &Match<'_>,
        parts: &RequestParts<'_>,
        params: &[(&str, Cow<'_, str>)],
        ids: &RequestIds,
    ) -> Result<Authorization, GatewayError> {
        let head_line = format!("{} {}", parts.method, parts.raw_path);
        let context = SourceContext {
            stage_variables: &api.stage_variables,
            request_id: &ids.gateway,
            route_key: &route.route_key,
            stage: &api.stage,
        };
        match authorizer {
            Authorizer::Jwt {
                identity_source,
                issuer,
                audience,
            } => {
                let Some(values) = authorizer::identity_values(
                    std::slice::from_ref(identity_source),
                    parts,
                    &context,
                ) else {
                    self.explain_line(
                        &head_line,
                        &format!("authorizer {name}: no token in {identity_source}"),
                    );
                    return Err(GatewayError::Unauthorized {
                        www_authenticate: None,
                    });
                };
                let token = values.first().map(String::as_str).unwrap_or("");
                self.config
                    .jwt
                    .check(token, issuer.as_deref(), audience, parts.time_epoch_ms / 1000)
                    .map_err(|rejection| {
                        self.explain_line(&head_line, &format!("authorizer {name}: {rejection}"));
                        GatewayError::Unauthorized {
                            www_authenticate: Some(format!(
                                "Bearer scope=\"\" error=\"invalid_token\" error_description=\"{}\"",
                                rejection.0.replace(['"', '\\'], "'")
                            )),
                        }
                    })
            }
            Authorizer::Lambda {
                function_logical_id,
                identity_sources,
                simple_responses,
                payload_format_version,
                token,
            } => {
                let kind = match (api.kind, *token, payload_format_version.as_str()) {
                    (ApiKind::Rest, true, _) => AuthorizerKind::Token,
                    (ApiKind::Rest, false, _) => AuthorizerKind::RestRequest,
                    (ApiKind::Http, _, "1.0") => AuthorizerKind::HttpV1,
                    (ApiKind::Http, _, _) => AuthorizerKind::HttpV2,
                };
                let Some(values) = authorizer::identity_values(identity_sources, parts, &context)
                else {
                    self.explain_line(
                        &head_line,
                        &format!(
                            "authorizer {name}: missing identity source ({})",
                            identity_sources.join(", ")
                        ),
                    );
                    return Err(GatewayError::Unauthorized {
                        www_authenticate: None,
                    });
                };
                let identity = &self.config.identity;
                let arn = authorizer::method_arn(
                    &identity.partition,
                    &identity.region,
                    &identity.account_id,
                    &api.api_id,
                    &api.stage,
                    parts.method.as_str(),
                    matched.path,
                );
                let base = match kind {
                    AuthorizerKind::Token => Vec::new(),
                    AuthorizerKind::HttpV2 => self.event(
                        PayloadVersion::V2,
                        route,
                        api,
                        matched,
                        parts,
                        params,
                        ids,
                        None,
                        &EventBody::Empty,
                    ),
                    AuthorizerKind::RestRequest | AuthorizerKind::HttpV1 => self.event(
                        PayloadVersion::V1,
                        route,
                        api,
                        matched,
                        parts,
                        params,
                        ids,
                        None,
                        &EventBody::Empty,
                    ),
                };
                let event = authorizer::authorizer_event(kind, &base, &values, &arn);
                let started = Instant::now();
                let function: Arc<str> = Arc::from(function_logical_id.as_str());
                let outcome = match self
                    .invoke(
                        &function,
                        invocation(event, &ids.trace),
                        Some(route.timeout),
                    )
                    .await
                {
                    Invoked::Done(Ok(completed)) => completed.outcome,
                    Invoked::Done(Err(error)) => {
                        self.explain_line(
                            &head_line,
                            &format!("authorizer {name} ({function}) could not run: {error}"),
                        );
                        return Err(GatewayError::AuthorizerFailure);
                    }
                    Invoked::TimedOut => {
                        self.explain_line(
                            &head_line,
                            &format!("authorizer {name} ({function}) timed out"),
                        );
                        return Err(GatewayError::AuthorizerFailure);
                    }
                };
                let latency_ms = started.elapsed().as_millis() as u64;
                let judged = match outcome {
                    Outcome::Success(payload) => authorizer::judge(
                        &payload,
                        *simple_responses,
                        api.kind == ApiKind::Rest,
                        &arn,
                        latency_ms,
                    ),
                    Outcome::Error(error) if api.kind == ApiKind::Rest => {
                        Err(authorizer::judge_error(&error.payload))
                    }
                    Outcome::Error(error) => Err(AuthorizerFault::Malformed(format!(
                        "the authorizer failed: {}",
                        String::from_utf8_lossy(&error.payload)
                    ))),
                };
                match judged {
                    Ok(Verdict::Allow(authorization)) => Ok(authorization),
                    Ok(Verdict::Deny { explicit }) => {
                        self.explain_line(
                            &head_line,
                            &format!("authorizer {name} denied the request"),
                        );
                        Err(GatewayError::Forbidden { explicit })
                    }
                    Err(AuthorizerFault::Unauthorized) => {
                        self.explain_line(
                            &head_line,
                            &format!("authorizer {name} answered Unauthorized"),
                        );
                        Err(GatewayError::Unauthorized {
                            www_authenticate: None,
                        })
                    }
                    Err(fault @ AuthorizerFault::Malformed(_)) => {
                        self.explain_line(
                            &head_line,
                            &format!("authorizer {name} ({function}): {fault}"),
                        );
                        Err(GatewayError::AuthorizerFailure)
                    }
                }
            }
        }
    }

    /// Runs `invocation` on `function`, waiting at most `limit` (none for
    /// function URLs, which wait for the function's own timeout).
    ///
    /// The invoker runs the invocation in a task of its own: a request the
    /// client abandons, or one the integration timeout gives up on, still
    /// lets the function finish, as in the cloud, and its instance returns
    /// to the pool.
    ///
    /// While the function runs under the debugger the limit is suspended:
    /// each time it passes, the gateway asks the invoker whether the
    /// function is being debugged and, if so, waits another period. A
    /// breakpoint stop can therefore last as long as the developer needs.
    async fn invoke(
        &self,
        function: &Arc<str>,
        invocation: Invocation,
        limit: Option<Duration>,
    ) -> Invoked {
        let invoked = self.config.invoker.invoke(function, invocation);
        let Some(limit) = limit else {
            return Invoked::Done(invoked.await);
        };
        let mut invoked = std::pin::pin!(invoked);
        let mut deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, &mut invoked).await {
                Ok(result) => return Invoked::Done(result),
                Err(_) if self.config.invoker.is_debugging(function) => {
                    deadline = tokio::time::Instant::now() + limit;
                }
                Err(_) => return Invoked::TimedOut,
            }
        }
    }

    /// [`invoke`](Self::invoke), with every failure mapped to the gateway
    /// error API Gateway would send.
    async fn invoke_checked(
        &self,
        head: &Parts,
        function: &Arc<str>,
        invocation: Invocation,
        limit: Option<Duration>,
    ) -> Result<Completed, GatewayError> {
        match self.invoke(function, invocation, limit).await {
            Invoked::Done(Ok(completed)) => Ok(completed),
            Invoked::Done(Err(InvokeError::TooManyRequests { function, limit })) => {
                self.explain(
                    head,
                    &format!("{function} is throttled: all {limit} of its instances are busy"),
                );
                Err(GatewayError::Throttled)
            }
            Invoked::Done(Err(InvokeError::ShuttingDown)) => Err(GatewayError::ShuttingDown),
            Invoked::Done(Err(error @ InvokeError::FunctionNotFound(_))) => {
                self.explain(head, &error.to_string());
                Err(GatewayError::Integration)
            }
            // The invoker has printed it, as a bug.
            Invoked::Done(Err(InvokeError::Lost { .. })) => Err(GatewayError::Integration),
            Invoked::TimedOut => {
                let limit = limit.unwrap_or_default();
                self.explain(
                    head,
                    &format!(
                        "{function} did not answer within the integration timeout of {} ms",
                        limit.as_millis()
                    ),
                );
                Err(GatewayError::Timeout)
            }
        }
    }

    fn map_outcome(
        &self,
        head: &Parts,
        function: &str,
        completed: Completed,
        format: ResponseFormat,
        decoding: Decoding<'_>,
    ) -> Result<HttpResponse, GatewayError> {
        match completed.outcome {
            Outcome::Success(payload) => match response::map(&payload, format, decoding) {
                Ok(reply) => Ok(reply_response(reply)),
                Err(malformed) => {
                    self.explain(head, &format!("{function}: {malformed}"));
                    Err(GatewayError::Integration)
                }
            },
            Outcome::Error(error) => {
                let message = serde_json::from_slice::<serde_json::Value>(&error.payload)
                    .ok()
                    .and_then(|v| {
                        v.get("errorMessage")
                            .and_then(|m| m.as_str())
                            .map(str::to_owned)
                    })
                    .unwrap_or_default();
                self.explain(
                    head,
                    &format!("{function} failed: {} {message}", error.error_type),
                );
                Err(GatewayError::Integration)
            }
        }
    }

    async fn function_url(
        &self,
        head: &Parts,
        rest: &str,
        body: Incoming,
    ) -> (HttpResponse, Option<Arc<str>>) {
        let table = self.routes.get();
        let (encoded_name, tail) = rest
            .split_once('/')
            .map_or((rest, ""), |(name, _)| (name, &rest[name.len()..]));
        let name = percent_encoding::percent_decode_str(encoded_name).decode_utf8_lossy();
        let Some(entry) = table.function_url(&name) else {
            let known: Vec<&str> = table.urls.iter().map(|u| &*u.function).collect();
            self.explain(
                head,
                &format!(
                    "no function URL for `{name}`; functions with a FunctionUrlConfig: {}",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            );
            let mut response = GatewayError::NotFound.response(Flavour::FunctionUrl);
            insert(
                &mut response,
                "x-amzn-requestid",
                &uuid::Uuid::new_v4().to_string(),
            );
            return (response, None);
        };
        let function = Some(entry.function.clone());
        let raw_path = if tail.is_empty() { "/" } else { tail };
        let request_id = uuid::Uuid::new_v4().to_string();
        let trace = trace_id(head);
        let mut response = if let Some(cors) = entry
            .cors
            .as_ref()
            .filter(|_| cors::is_preflight(&head.method, &head.headers))
        {
            let (status, headers) = cors::http_preflight(cors, &head.headers);
            empty_response(status, headers)
        } else {
            match self
                .serve_function_url(head, body, entry, raw_path, &request_id, &trace)
                .await
            {
                Ok(response) => response,
                Err(error) => error.response(Flavour::FunctionUrl),
            }
        };
        if let Some(cors) = &entry.cors
            && !cors::is_preflight(&head.method, &head.headers)
        {
            cors::decorate(cors, &head.headers, response.headers_mut());
        }
        insert(&mut response, "x-amzn-requestid", &request_id);
        insert(&mut response, "x-amzn-trace-id", &trace);
        (response, function)
    }

    async fn serve_function_url(
        &self,
        head: &Parts,
        body: Incoming,
        entry: &FunctionUrlEntry,
        raw_path: &str,
        request_id: &str,
        trace: &str,
    ) -> Result<HttpResponse, GatewayError> {
        let body = match read_body(body, MAX_URL_BODY).await {
            Ok(body) => body,
            Err(error) => return Err(self.body_error(head, error, MAX_URL_BODY)),
        };
        let mut parts = self.request_parts(head, &body, trace);
        parts.raw_path = raw_path;
        let event_body = event_body(&body, &head.headers, BinaryRule::TextTypesOnly);
        let event = event_v2::event(
            &parts,
            &V2Context {
                route_key: "$default",
                account_id: &self.config.identity.account_id,
                api_id: &entry.url_id,
                stage: "$default",
                request_id,
                path_params: &[],
                stage_variables: &[],
                authorization: None,
                body: &event_body,
            },
        );
        if event.len() > MAX_SYNC_PAYLOAD {
            return Err(GatewayError::PayloadTooLarge);
        }
        let mut invocation = invocation(event, trace);
        invocation.request_id = request_id.to_owned();
        let completed = self
            .invoke_checked(head, &entry.function, invocation, None)
            .await?;
        self.map_outcome(
            head,
            &entry.function,
            completed,
            ResponseFormat::V2,
            Decoding::Always,
        )
    }

    /// Answers a CORS preflight (HTTP APIs) or a REST `OPTIONS` request
    /// when the API has CORS and no `OPTIONS` route of its own.
    fn cors_preflight(&self, head: &Parts) -> Option<HttpResponse> {
        let table = self.routes.get();
        let path = head.uri.path();
        let preflight = cors::is_preflight(&head.method, &head.headers);
        if let Ok(matched) = table.find(MethodFilter::Is(&Method::OPTIONS), path)
            && table.routes[matched.route].method.as_ref() == Some(&Method::OPTIONS)
        {
            return None;
        }
        let matched = table.find(MethodFilter::Any, path).ok();
        let route = matched.as_ref().map(|m| &table.routes[m.route]);
        let api = match route {
            Some(route) => &table.apis[route.api],
            None if preflight => table
                .apis
                .iter()
                .find(|a| a.kind == ApiKind::Http && a.cors.is_some())?,
            None => return None,
        };
        let cors = api.cors.as_ref()?;
        let ids = RequestIds::new(api.kind, head);
        match api.kind {
            ApiKind::Rest => {
                let route = route?;
                let methods = route
                    .path
                    .as_deref()
                    .map(|p| table.methods_of(route.api, p))
                    .unwrap_or_default();
                let (status, headers) = cors::rest_options(cors, &methods);
                let mut response = empty_response(status, headers);
                insert(&mut response, CONTENT_TYPE.as_str(), "application/json");
                Some(finish(response, Flavour::Rest, &ids))
            }
            ApiKind::Http if preflight => {
                let (status, headers) = cors::http_preflight(cors, &head.headers);
                Some(finish(empty_response(status, headers), Flavour::Http, &ids))
            }
            ApiKind::Http => None,
        }
    }

    fn body_error(&self, head: &Parts, error: BodyError, limit: usize) -> GatewayError {
        match error {
            BodyError::TooLarge => {
                self.explain(
                    head,
                    &format!("the request body is over the {limit}-byte limit"),
                );
                GatewayError::PayloadTooLarge
            }
            BodyError::Broken => GatewayError::BadRequest,
        }
    }

    fn explain(&self, head: &Parts, message: &str) {
        self.explain_line(&format!("{} {}", head.method, head.uri.path()), message);
    }

    fn explain_line(&self, request: &str, message: &str) {
        self.config
            .console
            .prefixed(&self.prefix, format!("{request}: {message}").as_bytes());
    }

    /// One line per request: method, path, status, duration, function.
    fn access_log(
        &self,
        head: &Parts,
        status: StatusCode,
        elapsed: Duration,
        function: Option<&str>,
    ) {
        let micros = elapsed.as_micros();
        let line = format!(
            "{} {} {} {}.{:02} ms {}",
            head.method,
            head.uri.path(),
            status.as_u16(),
            micros / 1000,
            (micros % 1000) / 10,
            function.unwrap_or("-")
        );
        self.config.console.prefixed(&self.prefix, line.as_bytes());
    }
}

fn invocation(event: Vec<u8>, trace: &str) -> Invocation {
    let mut invocation = Invocation::new(Bytes::from(event));
    invocation.trace_id = trace.to_owned();
    invocation
}

/// Reads the whole body, up to `limit` bytes.
async fn read_body(mut body: Incoming, limit: usize) -> Result<Bytes, BodyError> {
    if body.is_end_stream() {
        return Ok(Bytes::new());
    }
    if body.size_hint().lower() > limit as u64 {
        let declared = body.size_hint().lower();
        drain(&mut body, 0, declared).await;
        return Err(BodyError::TooLarge);
    }
    let mut first: Option<Bytes> = None;
    let mut rest: Vec<u8> = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyError::Broken)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total += data.len();
        if total > limit {
            drain(&mut body, total, 0).await;
            return Err(BodyError::TooLarge);
        }
        match &first {
            None if rest.is_empty() => first = Some(data),
            _ => {
                if let Some(first) = first.take() {
                    rest.reserve(total.max(body.size_hint().lower() as usize));
                    rest.extend_from_slice(&first);
                }
                rest.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| Bytes::from(rest)))
}

/// Reads and drops the rest of an oversized body (up to [`DRAIN_LIMIT`]),
/// so the client reads the 413 instead of a reset connection. A bigger
/// body is left unread; the 413 closes the connection either way.
async fn drain(body: &mut Incoming, mut seen: usize, declared: u64) {
    if declared > DRAIN_LIMIT as u64 {
        return;
    }
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return };
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen > DRAIN_LIMIT {
                return;
            }
        }
    }
}

fn reply_response(reply: Reply) -> HttpResponse {
    let mut response = Response::new(Full::new(reply.body));
    *response.status_mut() = reply.status;
    let headers = response.headers_mut();
    headers.reserve(reply.headers.len() + 3);
    for (name, value) in reply.headers {
        headers.append(name, value);
    }
    response
}

fn empty_response(
    status: StatusCode,
    headers: Vec<(http::HeaderName, HeaderValue)>,
) -> HttpResponse {
    reply_response(Reply {
        status,
        headers,
        body: Bytes::new(),
    })
}

/// Adds the headers API Gateway puts on every response.
fn finish(mut response: HttpResponse, flavour: Flavour, ids: &RequestIds) -> HttpResponse {
    match flavour {
        Flavour::Rest => {
            insert(&mut response, "x-amzn-requestid", &ids.gateway);
            insert(&mut response, "x-amz-apigw-id", &ids.extended);
            insert(&mut response, "x-amzn-trace-id", &ids.trace);
        }
        Flavour::Http => insert(&mut response, "apigw-requestid", &ids.gateway),
        Flavour::FunctionUrl => {}
    }
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        // The body may not have been read to its end; the connection cannot
        // carry another request.
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

fn insert(response: &mut HttpResponse, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}
