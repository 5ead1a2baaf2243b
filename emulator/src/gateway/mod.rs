//! API Gateway emulation: REST APIs (payload 1.0), HTTP APIs (payload 2.0
//! or 1.0) and Lambda function URLs in front of the functions, on one
//! listener (127.0.0.1:3000 by default, SAM's `start-api` port).
//!
//! Only this module knows API Gateway's event and response shapes. It turns
//! an HTTP request into an [`Invocation`](crate::invoke::Invocation) whose
//! payload is the event JSON, calls [`Invoker::invoke`] with the function's
//! logical ID, and maps the result back to HTTP. It never touches instances.
//!
//! Code map:
//! - [`routes`]: the pure route matcher, compiled from the [`App`] model.
//! - [`request`], [`event_v1`], [`event_v2`]: the request events.
//! - [`response`]: function results to HTTP responses.
//! - [`errors`]: API Gateway's own error responses.
//! - [`cors`], [`authorizer`], [`policy`], [`jwt`]: CORS, Lambda and JWT
//!   authorizers.
//! - `server`: the thin hyper shell that wires them to the invoker.
//!
//! Function URLs are served at `/lambda-url/<Function>/<path>` (logical ID
//! or function name), the scheme cargo-lambda uses; the function sees
//! `<path>` as `rawPath`.

pub mod authorizer;
pub mod cors;
pub mod errors;
pub mod event_v1;
pub mod event_v2;
pub mod jwt;
pub mod policy;
pub mod request;
pub mod response;
pub mod routes;
mod server;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::app::{ApiKind, App, Authorizer, Identity};
use crate::console::Console;
use crate::invoke::Invoker;
pub use jwt::{JwksError, JwtVerifier};
use routes::{PayloadVersion, RouteTable};

/// The URL prefix of function URLs on the gateway listener.
pub const FUNCTION_URL_PREFIX: &str = "/lambda-url/";

/// Everything the gateway needs besides the app and its listener.
#[derive(Clone)]
pub struct GatewayConfig {
    pub invoker: Invoker,
    pub console: Console,
    pub identity: Identity,
    /// Checks JWT authorizers' tokens.
    pub jwt: JwtVerifier,
}

/// A compiled gateway, ready to serve.
pub struct Gateway {
    table: Routes,
    config: GatewayConfig,
}

/// The gateway's route table, shared with the server so a template reload
/// can replace it while serving. A request reads the table once and keeps
/// that snapshot to its end, so it never sees half of two tables.
#[derive(Clone)]
pub struct Routes {
    current: Arc<std::sync::RwLock<Arc<RouteTable>>>,
}

impl Routes {
    fn new(table: RouteTable) -> Routes {
        Routes {
            current: Arc::new(std::sync::RwLock::new(Arc::new(table))),
        }
    }

    /// The table in force now.
    pub(crate) fn get(&self) -> Arc<RouteTable> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Serves the routes of `app` from now on (a template reload).
    pub fn replace(&self, app: &App) {
        let table = Arc::new(RouteTable::build(app));
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = table;
    }
}

impl Gateway {
    /// Compiles the routes of every API and function URL of `app`.
    pub fn new(app: &App, config: GatewayConfig) -> Gateway {
        Gateway {
            table: Routes::new(RouteTable::build(app)),
            config,
        }
    }

    /// A handle on the route table, for replacing it while serving.
    pub fn routes(&self) -> Routes {
        self.table.clone()
    }

    /// True when the app has no routes and no function URLs.
    pub fn is_empty(&self) -> bool {
        let table = self.table.get();
        table.routes.is_empty() && table.urls.is_empty()
    }

    /// The route table as printed at start, one line per route, each
    /// starting with the method.
    pub fn route_lines(&self) -> Vec<String> {
        route_lines(&self.table.get())
    }
}

/// The lines [`Gateway::route_lines`] prints for `table`.
pub(crate) fn route_lines(table: &RouteTable) -> Vec<String> {
    {
        let mut lines = Vec::new();
        for (index, route) in table.routes.iter().enumerate() {
            let api = &table.apis[route.api];
            let method = route.method.as_ref().map_or("ANY", |m| m.as_str());
            let path = route.path.as_deref().unwrap_or("$default");
            let kind = match (api.kind, route.payload) {
                (ApiKind::Rest, _) => "REST".to_owned(),
                (ApiKind::Http, PayloadVersion::V2) => "HTTP".to_owned(),
                (ApiKind::Http, PayloadVersion::V1) => "HTTP, payload 1.0".to_owned(),
            };
            let mut line = format!(
                "{method:<7} {path}  -> {}  ({}, {kind}",
                route.function, api.logical_id
            );
            if api.kind == ApiKind::Rest || api.stage != "$default" {
                line.push_str(&format!(
                    ", also /{}{}",
                    api.stage,
                    route.path.as_deref().unwrap_or("")
                ));
            }
            if let Some(authorizer) = &route.authorizer {
                line.push_str(&format!(", authorizer {authorizer}"));
            }
            line.push(')');
            if let Some((_, winner)) = table.shadowed.iter().find(|(hidden, _)| *hidden == index) {
                let winner = &table.routes[*winner];
                line.push_str(&format!(
                    "  [shadowed at the root by {}'s route to {}]",
                    table.apis[winner.api].logical_id, winner.function
                ));
            }
            lines.push(line);
        }
        for url in &table.urls {
            lines.push(format!(
                "{:<7} {FUNCTION_URL_PREFIX}{}/*  -> {}  (function URL{})",
                "ANY",
                url.function,
                url.function,
                if url.iam { ", AWS_IAM not checked" } else { "" }
            ));
        }
        lines
    }
}

impl Routes {
    /// The route table as printed at start, one line per route.
    pub fn route_lines(&self) -> Vec<String> {
        route_lines(&self.get())
    }
}

impl Gateway {
    /// Things the user should know before sending requests: unverified
    /// JWT signatures and IAM auth that is not checked.
    pub fn warnings(&self) -> Vec<String> {
        let table = self.table.get();
        let mut warnings = Vec::new();
        for api in &table.apis {
            let mut names: Vec<&String> = api
                .authorizers
                .iter()
                .filter(|(_, a)| matches!(a, Authorizer::Jwt { .. }))
                .map(|(name, _)| name)
                .collect();
            names.sort();
            for name in names {
                if !self.config.jwt.verifies_signatures() {
                    warnings.push(format!(
                        "warning: JWT authorizer {name} of {}: token signatures are NOT checked (claims are); \
                         pass --jwks FILE (or set FOGBANK_JWKS) with the issuer's JSON Web Key Set to check them",
                        api.logical_id
                    ));
                }
            }
        }
        for url in &table.urls {
            if url.iam {
                warnings.push(format!(
                    "warning: the function URL of {} uses AuthType AWS_IAM, which is not checked locally; it is open",
                    url.function
                ));
            }
        }
        warnings
    }
}

/// Serves the gateway on `listener` until `shutdown` is cancelled.
pub async fn run(
    listener: TcpListener,
    gateway: Gateway,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let port = listener.local_addr()?.port();
    let handler = Arc::new(server::GatewayServer::new(
        gateway.table,
        gateway.config,
        port,
    ));
    crate::http_server::serve(listener, handler, shutdown).await
}
