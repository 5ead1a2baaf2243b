//! The route table: which function answers a method and path, built once
//! from the [`App`] model and matched without sockets or allocation beyond
//! the path parameters.
//!
//! Every route of every API answers at the root path (`/hello/ada`), as SAM
//! CLI serves them. REST APIs also answer at the stage-prefixed form of
//! their cloud URL (`/Prod/hello/ada`), and so do HTTP APIs with a named
//! stage; an HTTP API's `$default` stage has no prefix.
//!
//! Precedence follows API Gateway's "most specific route wins": segment by
//! segment, a static segment beats a `{param}`, which beats a greedy
//! `{proxy+}`; at the matched path an exact method beats `ANY`. A path
//! whose most specific route lacks the method falls back to less specific
//! routes that have it (`POST /pets/1` reaches `ANY /pets/{proxy+}` over
//! `GET /pets/{id}`). An HTTP API's `$default` route catches what nothing
//! else matched. When two APIs declare the same method and path, the first
//! in the template serves it at the root and the other is reported as
//! shadowed (its stage-prefixed form still reaches it).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use http::Method;

use crate::app::{Api, ApiKind, App, Authorizer, Cors, EventKind, Function};

/// API Gateway's REST integration timeout (the maximum, and the default).
pub const REST_TIMEOUT: Duration = Duration::from_millis(29_000);
/// API Gateway's HTTP API integration timeout (the maximum, and the default).
pub const HTTP_TIMEOUT: Duration = Duration::from_millis(30_000);

/// The request payload a route's function receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadVersion {
    /// The REST proxy shape (`resource`, `multiValueHeaders`, ...).
    V1,
    /// The HTTP API 2.0 shape (`routeKey`, `rawPath`, `cookies`, ...).
    V2,
}

/// One API, as the gateway serves it.
#[derive(Debug)]
pub struct ApiEntry {
    pub logical_id: String,
    pub kind: ApiKind,
    pub stage: String,
    /// A stable 10-character ID standing in for the cloud's API ID.
    pub api_id: String,
    pub cors: Option<Cors>,
    pub binary_media_types: Vec<String>,
    pub stage_variables: Vec<(String, String)>,
    pub authorizers: HashMap<String, Authorizer>,
}

/// One route: a method and path of an API, served by a function.
#[derive(Debug)]
pub struct Route {
    /// Index into [`RouteTable::apis`].
    pub api: usize,
    /// `None` for `ANY`.
    pub method: Option<Method>,
    /// The resource path as declared (`/items/{id}`); `None` for `$default`.
    pub path: Option<String>,
    /// `GET /items/{id}`, `ANY /{proxy+}` or `$default`.
    pub route_key: String,
    /// The function's logical ID.
    pub function: Arc<str>,
    pub payload: PayloadVersion,
    /// The authorizer's name in the API's authorizers.
    pub authorizer: Option<String>,
    pub timeout: Duration,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Static(String),
    Param(String),
    Greedy(String),
}

/// A function with a URL (`FunctionUrlConfig`).
#[derive(Debug)]
pub struct FunctionUrlEntry {
    pub function: Arc<str>,
    /// A stable 32-character ID standing in for the cloud's URL ID.
    pub url_id: String,
    pub cors: Option<Cors>,
    /// True for `AuthType: AWS_IAM`, which is not checked locally.
    pub iam: bool,
}

/// What a request matched.
#[derive(Debug, PartialEq, Eq)]
pub struct Match<'a> {
    /// Index into [`RouteTable::routes`].
    pub route: usize,
    /// The path parameters, raw (still percent-encoded), in path order.
    pub params: Vec<(&'a str, &'a str)>,
    /// The stage prefix the request used (`Some("Prod")` for
    /// `/Prod/items`), `None` when it came in at the root.
    pub stage_prefix: Option<&'a str>,
    /// The path without the stage prefix.
    pub path: &'a str,
}

/// Why no route matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    /// The request addressed a REST API (or only REST APIs exist): API
    /// Gateway answers 403 Missing Authentication Token.
    Rest,
    /// An HTTP API would have answered: 404 Not Found.
    Http,
}

/// The compiled route table.
#[derive(Debug, Default)]
pub struct RouteTable {
    pub apis: Vec<ApiEntry>,
    pub routes: Vec<Route>,
    /// Routes served at the root path.
    root: Node,
    /// Routes served under a stage prefix, by stage name.
    staged: Vec<(String, Node)>,
    /// The `$default` route served when nothing else matches.
    default_route: Option<usize>,
    /// Routes hidden at the root by an earlier API's identical route:
    /// (hidden, winner).
    pub shadowed: Vec<(usize, usize)>,
    /// Function URLs by logical ID and by function name.
    function_urls: HashMap<String, usize>,
    pub urls: Vec<FunctionUrlEntry>,
}

/// A trie node: children by segment kind, and the routes ending here.
#[derive(Debug, Default)]
struct Node {
    statics: Vec<(Box<str>, Node)>,
    param: Option<Box<Node>>,
    /// Routes whose greedy segment starts here.
    greedy: Methods,
    /// Routes ending exactly here.
    here: Methods,
}

#[derive(Debug, Default)]
struct Methods {
    exact: Vec<(Method, usize)>,
    any: Option<usize>,
}

/// Which routes a lookup accepts at a path.
#[derive(Debug, Clone, Copy)]
pub enum MethodFilter<'m> {
    /// Routes for this method (exact first, then `ANY`).
    Is(&'m Method),
    /// Any route at all: CORS preflights ask whether a path exists.
    Any,
}

impl Methods {
    fn pick(&self, filter: MethodFilter<'_>) -> Option<usize> {
        match filter {
            MethodFilter::Is(method) => self
                .exact
                .iter()
                .find(|(m, _)| m == method)
                .map(|(_, route)| *route)
                .or(self.any),
            MethodFilter::Any => self.exact.first().map(|(_, route)| *route).or(self.any),
        }
    }

    /// Adds a route; returns the route already holding this slot, if any.
    fn insert(&mut self, method: Option<&Method>, route: usize) -> Option<usize> {
        match method {
            None => match self.any {
                Some(existing) => Some(existing),
                None => {
                    self.any = Some(route);
                    None
                }
            },
            Some(method) => match self.exact.iter().find(|(m, _)| m == method) {
                Some((_, existing)) => Some(*existing),
                None => {
                    self.exact.push((method.clone(), route));
                    None
                }
            },
        }
    }

    fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.any.is_none()
    }
}

impl Node {
    fn insert(
        &mut self,
        segments: &[Segment],
        method: Option<&Method>,
        route: usize,
    ) -> Option<usize> {
        match segments.split_first() {
            None => self.here.insert(method, route),
            Some((Segment::Greedy(_), _)) => self.greedy.insert(method, route),
            Some((Segment::Param(_), rest)) => self
                .param
                .get_or_insert_with(Box::default)
                .insert(rest, method, route),
            Some((Segment::Static(name), rest)) => {
                let index = match self.statics.iter().position(|(n, _)| **n == **name) {
                    Some(index) => index,
                    None => {
                        self.statics
                            .push((name.clone().into_boxed_str(), Node::default()));
                        self.statics.len() - 1
                    }
                };
                self.statics[index].1.insert(rest, method, route)
            }
        }
    }

    /// Depth-first, most specific first: static, then param, then greedy.
    fn find(&self, segments: &[&str], method: MethodFilter<'_>) -> Option<usize> {
        let Some((first, rest)) = segments.split_first() else {
            return self.here.pick(method);
        };
        if let Some((_, child)) = self.statics.iter().find(|(name, _)| **name == **first)
            && let Some(route) = child.find(rest, method)
        {
            return Some(route);
        }
        if !first.is_empty()
            && let Some(child) = &self.param
            && let Some(route) = child.find(rest, method)
        {
            return Some(route);
        }
        // A greedy segment needs at least one non-empty segment to absorb.
        if segments.iter().any(|s| !s.is_empty()) {
            return self.greedy.pick(method);
        }
        None
    }

    /// Whether any route at all is reachable under this node.
    fn is_empty(&self) -> bool {
        self.statics.is_empty()
            && self.param.is_none()
            && self.greedy.is_empty()
            && self.here.is_empty()
    }
}

/// Most requests have few segments; this many are split without allocating.
const INLINE_SEGMENTS: usize = 16;

impl RouteTable {
    /// Compiles every `Api`/`HttpApi` event and function URL of `app`.
    pub fn build(app: &App) -> RouteTable {
        let mut table = RouteTable::default();
        for api in &app.apis {
            table.apis.push(api_entry(api));
        }
        for function in app.functions.values() {
            table.add_function(function);
        }
        // Identical routes of two APIs: the API declared first in the
        // template serves the root path.
        let mut order: Vec<usize> = (0..table.routes.len()).collect();
        order.sort_by_key(|&index| table.routes[index].api);
        for index in order {
            table.place(index);
        }
        table
    }

    fn add_function(&mut self, function: &Function) {
        let function_id: Arc<str> = Arc::from(function.logical_id.as_str());
        for event in &function.events {
            let (route, kind) = match &event.kind {
                EventKind::Api(route) => (route, ApiKind::Rest),
                EventKind::HttpApi(route) => (route, ApiKind::Http),
                EventKind::Sqs(_) => continue,
            };
            let Some(api) = self
                .apis
                .iter()
                .position(|a| a.logical_id == route.api_id && a.kind == kind)
            else {
                continue;
            };
            let method = if route.method == "ANY" {
                None
            } else {
                Method::from_bytes(route.method.as_bytes()).ok()
            };
            let payload = match (kind, route.payload_format_version.as_str()) {
                (ApiKind::Http, "2.0") => PayloadVersion::V2,
                _ => PayloadVersion::V1,
            };
            let route_key = match &route.path {
                None => "$default".to_owned(),
                Some(path) => format!("{} {path}", route.method),
            };
            let timeout = route.timeout.unwrap_or(match kind {
                ApiKind::Rest => REST_TIMEOUT,
                ApiKind::Http => HTTP_TIMEOUT,
            });
            let segments = route
                .path
                .as_deref()
                .map(parse_template)
                .unwrap_or_default();
            self.routes.push(Route {
                api,
                method: method.clone(),
                path: route.path.clone(),
                route_key,
                function: function_id.clone(),
                payload,
                authorizer: route.authorizer.clone(),
                timeout,
                segments,
            });
        }
        if let Some(url) = &function.function_url {
            let entry = FunctionUrlEntry {
                function: function_id.clone(),
                url_id: stable_id(&format!("url:{}", function.logical_id), 32),
                cors: url.cors.clone(),
                iam: url.auth_type == "AWS_IAM",
            };
            let index = self.urls.len();
            self.urls.push(entry);
            self.function_urls
                .insert(function.logical_id.clone(), index);
            self.function_urls
                .entry(function.name.clone())
                .or_insert(index);
        }
    }

    /// Puts route `index` into the root trie and its stage's trie.
    fn place(&mut self, index: usize) {
        let route = &self.routes[index];
        let api = &self.apis[route.api];
        if route.path.is_none() {
            match self.default_route {
                Some(winner) => self.shadowed.push((index, winner)),
                None => self.default_route = Some(index),
            }
            return;
        }
        let segments = route.segments.clone();
        let method = route.method.clone();
        let staged = api.kind == ApiKind::Rest || api.stage != "$default";
        if staged {
            let stage = api.stage.clone();
            let position = match self.staged.iter().position(|(s, _)| *s == stage) {
                Some(position) => position,
                None => {
                    self.staged.push((stage, Node::default()));
                    self.staged.len() - 1
                }
            };
            // Two APIs on one stage name: the first keeps the slot.
            let _ = self.staged[position]
                .1
                .insert(&segments, method.as_ref(), index);
        }
        if let Some(winner) = self.root.insert(&segments, method.as_ref(), index) {
            self.shadowed.push((index, winner));
        }
    }

    /// Finds the route for `method` and `path` (a raw path, no query).
    pub fn find<'p>(&'p self, method: MethodFilter<'_>, path: &'p str) -> Result<Match<'p>, Miss> {
        let mut storage: [&str; INLINE_SEGMENTS] = [""; INLINE_SEGMENTS];
        let spilled: Vec<&str>;
        let segments: &[&str] = {
            let trimmed = path.strip_prefix('/').unwrap_or(path);
            if trimmed.is_empty() {
                &[]
            } else {
                let mut count = 0;
                let mut overflow = false;
                for part in trimmed.split('/') {
                    if count == INLINE_SEGMENTS {
                        overflow = true;
                        break;
                    }
                    storage[count] = part;
                    count += 1;
                }
                if overflow {
                    spilled = trimmed.split('/').collect();
                    &spilled
                } else {
                    &storage[..count]
                }
            }
        };

        // The stage-prefixed form: `/Prod/items` on an API staged `Prod`.
        let mut stage_miss = false;
        if let Some((first, rest)) = segments.split_first()
            && let Some((_, node)) = self.staged.iter().find(|(stage, _)| **stage == **first)
        {
            let remainder = &path[1 + first.len()..];
            if let Some(route) = find_with_slash(node, rest, method, &self.routes, &self.apis) {
                return Ok(self.matched(route, remainder, Some(*first)));
            }
            stage_miss = !node.is_empty();
        }
        if let Some(route) = find_with_slash(&self.root, segments, method, &self.routes, &self.apis)
        {
            return Ok(self.matched(route, path, None));
        }
        if let Some(route) = self.default_route {
            return Ok(self.matched(route, path, None));
        }
        let has_http = self.apis.iter().any(|a| a.kind == ApiKind::Http);
        let has_rest = self.apis.iter().any(|a| a.kind == ApiKind::Rest);
        if stage_miss && has_rest {
            return Err(Miss::Rest);
        }
        Err(if has_http || !has_rest {
            Miss::Http
        } else {
            Miss::Rest
        })
    }

    fn matched<'p>(
        &'p self,
        route: usize,
        path: &'p str,
        stage_prefix: Option<&'p str>,
    ) -> Match<'p> {
        let params = extract_params(&self.routes[route].segments, path);
        Match {
            route,
            params,
            stage_prefix,
            path: if path.is_empty() { "/" } else { path },
        }
    }

    /// The function URL of `function` (logical ID or name).
    pub fn function_url(&self, function: &str) -> Option<&FunctionUrlEntry> {
        self.function_urls
            .get(function)
            .map(|&index| &self.urls[index])
    }

    /// The routes of one API path template (for REST CORS preflights, whose
    /// `Access-Control-Allow-Methods` lists the path's methods).
    pub fn methods_of(&self, api: usize, path: &str) -> Vec<String> {
        let mut methods: Vec<String> = self
            .routes
            .iter()
            .filter(|r| r.api == api && r.path.as_deref() == Some(path))
            .map(|r| {
                r.method
                    .as_ref()
                    .map_or_else(|| "ANY".to_owned(), |m| m.as_str().to_owned())
            })
            .collect();
        methods.sort();
        methods.dedup();
        methods
    }
}

/// Matches `segments`; REST APIs also accept the path with one trailing
/// slash removed, as API Gateway does for REST resources.
fn find_with_slash(
    node: &Node,
    segments: &[&str],
    method: MethodFilter<'_>,
    routes: &[Route],
    apis: &[ApiEntry],
) -> Option<usize> {
    if let Some(route) = node.find(segments, method) {
        return Some(route);
    }
    if let Some((last, rest)) = segments.split_last()
        && last.is_empty()
        && let Some(route) = node.find(rest, method)
        && apis[routes[route].api].kind == ApiKind::Rest
    {
        return Some(route);
    }
    None
}

/// The parameter values of a matched route, borrowed from the path.
fn extract_params<'p>(segments: &'p [Segment], path: &'p str) -> Vec<(&'p str, &'p str)> {
    let mut params = Vec::new();
    if !segments.iter().any(|s| !matches!(s, Segment::Static(_))) {
        return params;
    }
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let mut rest = trimmed;
    for segment in segments {
        let (part, tail) = rest.split_once('/').unwrap_or((rest, ""));
        match segment {
            Segment::Static(_) => {}
            Segment::Param(name) => params.push((name.as_str(), part)),
            Segment::Greedy(name) => {
                params.push((name.as_str(), rest));
                break;
            }
        }
        rest = tail;
    }
    params
}

/// Splits a resource path template into segments.
///
/// The loader (`app::function::check_path`) has already refused the paths
/// API Gateway refuses, so a `{` or `}` here always wraps a whole segment
/// with a non-empty name, and a greedy `{name+}` is the last segment (which
/// `Node::insert` relies on: it ignores segments after a greedy one).
fn parse_template(path: &str) -> Vec<Segment> {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    if trimmed.is_empty() {
        return Vec::new();
    }
    trimmed
        .split('/')
        .map(
            |part| match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => match name.strip_suffix('+') {
                    Some(name) => Segment::Greedy(name.to_owned()),
                    None => Segment::Param(name.to_owned()),
                },
                None => Segment::Static(part.to_owned()),
            },
        )
        .collect()
}

fn api_entry(api: &Api) -> ApiEntry {
    ApiEntry {
        logical_id: api.logical_id.clone(),
        kind: api.kind,
        stage: api.stage_name.clone(),
        api_id: stable_id(&api.logical_id, 10),
        cors: api.cors.clone(),
        binary_media_types: api.binary_media_types.clone(),
        stage_variables: api
            .stage_variables
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        authorizers: api
            .authorizers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// A lowercase alphanumeric ID derived from `seed`, stable across runs so
/// ARNs and domain names in events do not change between restarts.
pub fn stable_id(seed: &str, length: usize) -> String {
    use sha2::Digest;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let digest = sha2::Sha256::digest(seed.as_bytes());
    digest
        .iter()
        .cycle()
        .take(length)
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::fmt::Write as _;

    use expect_test::{Expect, expect};
    use proptest::prelude::*;

    use super::*;
    use crate::app::{LoadOptions, load_str};

    /// A template with every kind of route: REST (stage Prod) and HTTP
    /// APIs, static, param and greedy paths, ANY, `$default`, a function
    /// URL and a shadowed route.
    const TEMPLATE: &str = r#"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    CodeUri: .
    Handler: app.handler
Resources:
  Items:
    Type: AWS::Serverless::Function
    Properties:
      FunctionUrlConfig:
        AuthType: NONE
      Events:
        List: { Type: Api, Properties: { Path: '/items', Method: get } }
        Create: { Type: Api, Properties: { Path: '/items', Method: post } }
        One: { Type: Api, Properties: { Path: '/items/{id}', Method: get } }
        Special: { Type: Api, Properties: { Path: '/items/special', Method: get } }
        Root: { Type: Api, Properties: { Path: '/', Method: get } }
  Proxy:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Rest: { Type: Api, Properties: { Path: '/items/{proxy+}', Method: any } }
        Files: { Type: HttpApi, Properties: { Path: '/files/{path+}', Method: GET } }
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Hello: { Type: HttpApi, Properties: { Path: '/hello/{name}', Method: GET } }
        Any: { Type: HttpApi, Properties: { Path: '/hello/{name}', Method: ANY } }
        Orders: { Type: HttpApi, Properties: { Path: '/orders', Method: POST, TimeoutInMillis: 1500 } }
        Shadow: { Type: HttpApi, Properties: { Path: '/items', Method: GET } }
  Fallback:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Default: { Type: HttpApi }
"#;

    fn table(template: &str) -> RouteTable {
        let path = std::env::temp_dir().join("fogbank-routes-test.yaml");
        let loaded =
            load_str(template, &path, &LoadOptions::default()).unwrap_or_else(|d| panic!("{d}"));
        RouteTable::build(&loaded.app)
    }

    fn render(table: &RouteTable, method: &str, path: &str) -> String {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        match table.find(MethodFilter::Is(&method), path) {
            Ok(matched) => {
                let route = &table.routes[matched.route];
                let mut out = format!("{} -> {}", route.route_key, route.function);
                if let Some(stage) = matched.stage_prefix {
                    write!(out, " stage={stage}").unwrap();
                }
                if matched.path != path {
                    write!(out, " path={}", matched.path).unwrap();
                }
                for (name, value) in &matched.params {
                    write!(out, " {name}={value}").unwrap();
                }
                out
            }
            Err(miss) => format!("miss {miss:?}"),
        }
    }

    fn check(requests: &[(&str, &str)], expected: Expect) {
        let table = table(TEMPLATE);
        let mut out = String::new();
        for (method, path) in requests {
            writeln!(out, "{method} {path}: {}", render(&table, method, path)).unwrap();
        }
        expected.assert_eq(&out);
    }

    #[test]
    fn static_beats_param_beats_greedy() {
        check(
            &[
                ("GET", "/items"),
                ("GET", "/items/special"),
                ("GET", "/items/42"),
                ("GET", "/items/42/reviews/7"),
                ("DELETE", "/items/42"),
                ("POST", "/items"),
                ("GET", "/"),
                ("GET", "/files/a/b%20c.txt"),
            ],
            expect![[r#"
                GET /items: GET /items -> Items
                GET /items/special: GET /items/special -> Items
                GET /items/42: GET /items/{id} -> Items id=42
                GET /items/42/reviews/7: ANY /items/{proxy+} -> Proxy proxy=42/reviews/7
                DELETE /items/42: ANY /items/{proxy+} -> Proxy proxy=42
                POST /items: POST /items -> Items
                GET /: GET / -> Items
                GET /files/a/b%20c.txt: GET /files/{path+} -> Proxy path=a/b%20c.txt
            "#]],
        );
    }

    #[test]
    fn exact_method_beats_any_and_default_catches_the_rest() {
        check(
            &[
                ("GET", "/hello/ada"),
                ("PUT", "/hello/ada"),
                ("POST", "/orders"),
                ("GET", "/orders"),
                ("GET", "/nothing/here"),
                ("GET", "/hello/"),
                ("GET", "/hello"),
            ],
            expect![[r#"
                GET /hello/ada: GET /hello/{name} -> Hello name=ada
                PUT /hello/ada: ANY /hello/{name} -> Hello name=ada
                POST /orders: POST /orders -> Hello
                GET /orders: $default -> Fallback
                GET /nothing/here: $default -> Fallback
                GET /hello/: $default -> Fallback
                GET /hello: $default -> Fallback
            "#]],
        );
    }

    #[test]
    fn rest_routes_answer_under_their_stage() {
        check(
            &[
                ("GET", "/Prod/items"),
                ("GET", "/Prod/items/"),
                ("GET", "/Prod/items/42"),
                ("GET", "/Prod"),
                ("GET", "/Prod/"),
                ("GET", "/items/"),
                ("GET", "/Prod/nothing"),
            ],
            expect![[r#"
                GET /Prod/items: GET /items -> Items stage=Prod path=/items
                GET /Prod/items/: GET /items -> Items stage=Prod path=/items/
                GET /Prod/items/42: GET /items/{id} -> Items stage=Prod path=/items/42 id=42
                GET /Prod: GET / -> Items stage=Prod path=/
                GET /Prod/: GET / -> Items stage=Prod path=/
                GET /items/: GET /items -> Items
                GET /Prod/nothing: $default -> Fallback
            "#]],
        );
    }

    #[test]
    fn misses_name_the_api_kind() {
        let rest_only = table(
            "Transform: AWS::Serverless-2016-10-31\nResources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.12\n      CodeUri: .\n      Handler: a.b\n      Events:\n        E: { Type: Api, Properties: { Path: /x, Method: get } }\n",
        );
        assert_eq!(render(&rest_only, "GET", "/y"), "miss Rest");
        assert_eq!(render(&rest_only, "POST", "/x"), "miss Rest");
        assert_eq!(render(&rest_only, "GET", "/Prod/y"), "miss Rest");
        assert_eq!(
            render(&rest_only, "GET", "/Prod/x"),
            "GET /x -> F stage=Prod path=/x"
        );
        let http_only = table(
            "Transform: AWS::Serverless-2016-10-31\nResources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.12\n      CodeUri: .\n      Handler: a.b\n      Events:\n        E: { Type: HttpApi, Properties: { Path: /x, Method: get } }\n",
        );
        assert_eq!(render(&http_only, "GET", "/y"), "miss Http");
        assert_eq!(render(&http_only, "GET", "/x/"), "miss Http");
    }

    #[test]
    fn table_details() {
        let table = table(TEMPLATE);
        let shadowed: Vec<String> = table
            .shadowed
            .iter()
            .map(|(hidden, winner)| {
                format!(
                    "{} ({}) by {}",
                    table.routes[*hidden].route_key,
                    table.routes[*hidden].function,
                    table.routes[*winner].function
                )
            })
            .collect();
        assert_eq!(shadowed, ["GET /items (Hello) by Items"]);
        let orders = table
            .routes
            .iter()
            .find(|r| r.route_key == "POST /orders")
            .unwrap();
        assert_eq!(orders.timeout, Duration::from_millis(1500));
        let list = table
            .routes
            .iter()
            .find(|r| r.route_key == "GET /items" && &*r.function == "Items")
            .unwrap();
        assert_eq!(list.timeout, REST_TIMEOUT);
        assert_eq!(table.methods_of(list.api, "/items"), ["GET", "POST"]);
        assert!(table.function_url("Items").is_some());
        assert!(table.function_url("Proxy").is_none());
        assert_eq!(
            table.apis[0].api_id,
            stable_id(&table.apis[0].logical_id, 10)
        );
        assert_eq!(table.apis[0].api_id.len(), 10);
    }

    #[test]
    fn very_long_paths_spill_without_losing_segments() {
        let table = table(TEMPLATE);
        let deep = format!("/items/1/{}", vec!["x"; 40].join("/"));
        let rendered = render(&table, "GET", &deep);
        assert!(
            rendered.starts_with("ANY /items/{proxy+} -> Proxy proxy=1/x/x"),
            "{rendered}"
        );
        assert!(
            rendered.ends_with(&format!("1/{}", vec!["x"; 40].join("/"))),
            "{rendered}"
        );
    }

    proptest! {
        /// Any method and path either matches a route whose template fits
        /// the path, or misses; never a panic.
        #[test]
        fn matching_is_total_and_consistent(
            method in prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("DELETE"), Just("PATCH"), Just("OPTIONS")],
            segments in proptest::collection::vec(prop_oneof![
                Just("items".to_owned()), Just("hello".to_owned()), Just("Prod".to_owned()), Just("special".to_owned()),
                Just(String::new()), "[a-z0-9%]{1,6}", any::<String>().prop_map(|s| s.replace('/', "")),
            ], 0..8),
        ) {
            let table = table(TEMPLATE);
            let path = format!("/{}", segments.join("/"));
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            if let Ok(matched) = table.find(MethodFilter::Is(&method), &path) {
                let route = &table.routes[matched.route];
                if let Some(m) = &route.method {
                    prop_assert_eq!(m, &method);
                }
                if route.path.is_some() {
                    // Every static segment of the template appears in the path.
                    let template = parse_template(route.path.as_deref().unwrap());
                    let actual: Vec<&str> = matched.path.trim_start_matches('/').split('/').collect();
                    for (i, segment) in template.iter().enumerate() {
                        match segment {
                            Segment::Static(name) => prop_assert_eq!(Some(&name.as_str()), actual.get(i)),
                            Segment::Param(_) => prop_assert!(actual.get(i).is_some_and(|s| !s.is_empty())),
                            Segment::Greedy(_) => break,
                        }
                    }
                }
            }
            let _ = table.find(MethodFilter::Any, &path);
        }
    }
}
