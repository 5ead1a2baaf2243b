//! `AWS::Serverless::Api` and `AWS::Serverless::HttpApi`, explicit and
//! implicit, and the routes functions attach to them.
//!
//! SAM creates `ServerlessRestApi` (stage `Prod`) for `Api` events that name
//! no `RestApiId`, and `ServerlessHttpApi` (stage `$default`) for `HttpApi`
//! events that name no `ApiId`; `Globals.Api` and `Globals.HttpApi` apply to
//! those too. After the APIs exist, each route's API reference and
//! authorizer are checked against them and the API's `DefaultAuthorizer` is
//! applied, so the model's `ApiRoute::authorizer` is the effective one.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::diagnostic::{Pos, Sink, Site};
use super::function::{Built, read_cors_lists};
use super::globals;
use super::model::{Api, ApiKind, Authorizer, Cors, EventKind};
use super::read::{self, Props};
use super::resolve::{API, IMPLICIT_HTTP_API, IMPLICIT_REST_API, Resolver};
use super::template::{Resource, Template};
use super::yaml::{Map, Node, Value};

const REST_PROPERTIES: &[&str] = &[
    "Name",
    "StageName",
    "Tags",
    "PropagateTags",
    "DefinitionBody",
    "DefinitionUri",
    "MergeDefinitions",
    "CacheClusterEnabled",
    "CacheClusterSize",
    "Variables",
    "EndpointConfiguration",
    "MethodSettings",
    "BinaryMediaTypes",
    "MinimumCompressionSize",
    "Cors",
    "Auth",
    "GatewayResponses",
    "AccessLogSetting",
    "CanarySetting",
    "TracingEnabled",
    "OpenApiVersion",
    "Models",
    "Domain",
    "FailOnWarnings",
    "Description",
    "Mode",
    "DisableExecuteApiEndpoint",
    "ApiKeySourceType",
    "AlwaysDeploy",
    "Policy",
    "SecurityPolicy",
    "EndpointAccessMode",
];

const HTTP_PROPERTIES: &[&str] = &[
    "Name",
    "StageName",
    "Tags",
    "PropagateTags",
    "DefinitionBody",
    "DefinitionUri",
    "StageVariables",
    "CorsConfiguration",
    "AccessLogSettings",
    "DefaultRouteSettings",
    "Auth",
    "RouteSettings",
    "Domain",
    "FailOnWarnings",
    "Description",
    "DisableExecuteApiEndpoint",
];

const READ_PROPERTIES: &[&str] = &[
    "StageName",
    "Variables",
    "StageVariables",
    "Cors",
    "CorsConfiguration",
    "BinaryMediaTypes",
    "Auth",
    "DefinitionBody",
    "DefinitionUri",
];

/// Builds every API and fixes up the functions' routes against them.
pub(crate) fn assemble(
    template: &Template,
    active: &[&Resource],
    resolver: &mut Resolver<'_>,
    functions: &mut [Built],
    function_arns: &BTreeMap<String, String>,
    sink: &mut Sink,
) -> Vec<Api> {
    let mut apis = Vec::new();
    let mut open_authorizers = HashMap::new();
    for resource in active {
        let kind = match resource.kind.as_str() {
            API => ApiKind::Rest,
            super::resolve::HTTP_API => ApiKind::Http,
            _ => continue,
        };
        let (globals, allowed, known) = match kind {
            ApiKind::Rest => (
                template.globals.api.as_ref(),
                globals::API_GLOBALS,
                REST_PROPERTIES,
            ),
            ApiKind::Http => (
                template.globals.http_api.as_ref(),
                globals::HTTP_API_GLOBALS,
                HTTP_PROPERTIES,
            ),
        };
        let merged = globals::merge(globals, allowed, resource, sink);
        read::check_known(&resource.logical_id, &resource.kind, &merged, known, sink);
        if let Some((api, open)) = build(
            resource,
            &merged,
            kind,
            false,
            resolver,
            function_arns,
            sink,
        ) {
            open_authorizers.insert(api.logical_id.clone(), open);
            apis.push(api);
        }
    }

    // Implicit APIs, created on first use as SAM does.
    for (kind, logical_id) in [
        (ApiKind::Rest, IMPLICIT_REST_API),
        (ApiKind::Http, IMPLICIT_HTTP_API),
    ] {
        let first_use = functions.iter().find_map(|built| {
            built.routes.iter().find_map(|route| {
                let event = built.function.events.get(route.event)?;
                let uses = match (&event.kind, kind) {
                    (EventKind::Api(r), ApiKind::Rest) | (EventKind::HttpApi(r), ApiKind::Http) => {
                        route.api_pos.is_none() && r.api_id == logical_id
                    }
                    _ => false,
                };
                uses.then_some(route.pos)
            })
        });
        let Some(pos) = first_use else { continue };
        if apis.iter().any(|a| a.logical_id == logical_id) {
            continue;
        }
        let (globals, allowed) = match kind {
            ApiKind::Rest => (template.globals.api.as_ref(), globals::API_GLOBALS),
            ApiKind::Http => (
                template.globals.http_api.as_ref(),
                globals::HTTP_API_GLOBALS,
            ),
        };
        let mut properties = globals.cloned().unwrap_or_default();
        properties
            .entries
            .retain(|(key, _)| allowed.contains(&key.name.as_str()));
        let resource = Resource {
            logical_id: logical_id.to_owned(),
            pos,
            kind: String::new(),
            properties,
            properties_pos: pos,
            condition: None,
            metadata: None,
            ignore_globals: None,
            depends_on: Vec::new(),
        };
        let properties = resource.properties.clone();
        if let Some((api, open)) = build(
            &resource,
            &properties,
            kind,
            true,
            resolver,
            function_arns,
            sink,
        ) {
            open_authorizers.insert(api.logical_id.clone(), open);
            apis.push(api);
        }
    }

    link_routes(&apis, &open_authorizers, template, functions, sink);
    apis
}

fn build(
    resource: &Resource,
    merged: &Map,
    kind: ApiKind,
    implicit: bool,
    resolver: &mut Resolver<'_>,
    function_arns: &BTreeMap<String, String>,
    sink: &mut Sink,
) -> Option<(Api, BTreeSet<String>)> {
    let id = resource.logical_id.as_str();
    let props = Props::resolve(
        resolver,
        id,
        merged,
        resource.properties_pos,
        READ_PROPERTIES,
        sink,
    );
    let mut ok = true;

    for definition in ["DefinitionBody", "DefinitionUri"] {
        if let Some(node) = props.get(definition) {
            sink.warning(
                Some(node.pos),
                &props.site(definition),
                format!(
                    "routes declared in {definition} are not served locally; only routes from \
                     function Events are. Add an Api/HttpApi event for each route you need"
                ),
            );
        }
    }

    let stage_name = if implicit {
        match kind {
            ApiKind::Rest => "Prod".to_owned(),
            ApiKind::Http => "$default".to_owned(),
        }
    } else {
        match props.get("StageName") {
            Some(node) => read::string(node, &props.site("StageName"), sink).unwrap_or_else(|| {
                ok = false;
                String::new()
            }),
            None if kind == ApiKind::Http => "$default".to_owned(),
            None => {
                sink.error(
                    Some(props.pos),
                    &props.site("StageName"),
                    "missing StageName; AWS::Serverless::Api needs one, such as Prod",
                );
                ok = false;
                String::new()
            }
        }
    };

    let cors = match kind {
        ApiKind::Rest => match props.get("Cors") {
            None => None,
            Some(node) => {
                let cors = read_rest_cors(node, &props.site("Cors"), sink);
                ok &= cors.is_some();
                cors
            }
        },
        ApiKind::Http => match props.get("CorsConfiguration") {
            None => None,
            Some(node) => {
                let site = props.site("CorsConfiguration");
                let cors = match &node.value {
                    Value::Scalar(_) => match read::boolean(node, &site, sink) {
                        Some(true) => Some(Some(Cors {
                            allow_origins: vec!["*".to_owned()],
                            allow_methods: vec!["*".to_owned()],
                            allow_headers: vec!["*".to_owned()],
                            ..Cors::default()
                        })),
                        Some(false) => Some(None),
                        None => None,
                    },
                    _ => read_cors_lists(node, &site, sink).map(Some),
                };
                ok &= cors.is_some();
                cors.flatten()
            }
        },
    };

    let binary_media_types = match props.get("BinaryMediaTypes") {
        None => Vec::new(),
        Some(node) => match read::strings(node, false, &props.site("BinaryMediaTypes"), sink) {
            // SAM writes `/` as `~1` (JSON pointer escaping) in these.
            Some(types) => types.iter().map(|t| t.replace("~1", "/")).collect(),
            None => {
                ok = false;
                Vec::new()
            }
        },
    };

    let (authorizers, default_authorizer, open) = match props.get("Auth") {
        None => (BTreeMap::new(), None, BTreeSet::new()),
        Some(node) => match read_auth(node, kind, &props.site("Auth"), function_arns, sink) {
            Some(auth) => auth,
            None => {
                ok = false;
                (BTreeMap::new(), None, BTreeSet::new())
            }
        },
    };

    let variables_key = match kind {
        ApiKind::Rest => "Variables",
        ApiKind::Http => "StageVariables",
    };
    let stage_variables = match props.get(variables_key) {
        None => BTreeMap::new(),
        Some(node) => {
            read_stage_variables(node, &props.site(variables_key), sink).unwrap_or_else(|| {
                ok = false;
                BTreeMap::new()
            })
        }
    };

    let api = Api {
        logical_id: id.to_owned(),
        kind,
        stage_name,
        implicit,
        cors,
        binary_media_types,
        authorizers,
        default_authorizer,
        stage_variables,
    };
    ok.then_some((api, open))
}

/// Stage variables: a map of names (letters, digits, `_`, `.`, `:`, `-`)
/// to string values, as API Gateway's stage settings accept them.
fn read_stage_variables(
    node: &Node,
    site: &Site,
    sink: &mut Sink,
) -> Option<BTreeMap<String, String>> {
    let map = read::map(node, site, sink)?;
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (key, value) in &map.entries {
        let child = site.child(&key.name);
        let valid = !key.name.is_empty()
            && key
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'));
        if !valid {
            sink.error(
                Some(key.pos),
                &child,
                "stage variable names hold only letters, digits and `_ . : -`",
            );
            ok = false;
            continue;
        }
        match read::string(value, &child, sink) {
            Some(text) => {
                out.insert(key.name.clone(), text);
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// REST API `Cors`: a quoted origin string (`"'*'"`), or a map of quoted,
/// comma-separated values as API Gateway headers take them.
fn read_rest_cors(node: &Node, site: &Site, sink: &mut Sink) -> Option<Cors> {
    let unquote = |text: &str| -> String {
        let text = text.trim();
        text.strip_prefix('\'')
            .and_then(|t| t.strip_suffix('\''))
            .unwrap_or(text)
            .to_owned()
    };
    let split = |text: &str| -> Vec<String> {
        unquote(text)
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    if let Value::Scalar(origin) = &node.value {
        return Some(Cors {
            allow_origins: vec![unquote(origin)],
            ..Cors::default()
        });
    }
    let map = read::map(node, site, sink)?;
    let mut cors = Cors::default();
    let mut ok = true;
    let Some(origin) = map.get("AllowOrigin") else {
        sink.error(
            Some(node.pos),
            &site.child("AllowOrigin"),
            "missing AllowOrigin, such as \"'*'\"",
        );
        return None;
    };
    for (key, value) in &map.entries {
        let child = site.child(&key.name);
        match key.name.as_str() {
            "AllowOrigin" | "AllowMethods" | "AllowHeaders" => {
                let Some(text) = read::string(value, &child, sink) else {
                    ok = false;
                    continue;
                };
                match key.name.as_str() {
                    "AllowOrigin" => cors.allow_origins = vec![unquote(&text)],
                    "AllowMethods" => cors.allow_methods = split(&text),
                    _ => cors.allow_headers = split(&text),
                }
            }
            "MaxAge" => {
                // A list or map is reported as not being a number, which is
                // what MaxAge holds, rather than as not being a string.
                let problem = match &value.value {
                    Value::Scalar(text) => match unquote(text).parse::<u32>() {
                        Ok(n) => {
                            cors.max_age = Some(n);
                            continue;
                        }
                        Err(_) => {
                            format!("MaxAge `{text}` is not a number of seconds, such as \"'600'\"")
                        }
                    },
                    Value::Invalid => {
                        ok = false;
                        continue;
                    }
                    _ => format!(
                        "expected a number of seconds, such as \"'600'\", found {}",
                        value.kind_name()
                    ),
                };
                sink.error(Some(value.pos), &child, problem);
                ok = false;
            }
            "AllowCredentials" => match read::boolean(value, &child, sink) {
                Some(b) => cors.allow_credentials = b,
                None => ok = false,
            },
            other => {
                sink.error(
                    Some(key.pos),
                    &child,
                    format!(
                        "unknown Cors setting `{other}`; use AllowOrigin, AllowMethods, \
                         AllowHeaders, MaxAge or AllowCredentials"
                    ),
                );
                ok = false;
            }
        }
    }
    let _ = origin;
    ok.then_some(cors)
}

/// Emulated authorizers, the default one, and the names of declared
/// authorizers that are not emulated (routes using them are open).
type Auth = (
    BTreeMap<String, Authorizer>,
    Option<String>,
    BTreeSet<String>,
);

fn read_auth(
    node: &Node,
    kind: ApiKind,
    site: &Site,
    function_arns: &BTreeMap<String, String>,
    sink: &mut Sink,
) -> Option<Auth> {
    let map = read::map(node, site, sink)?;
    let mut ok = true;
    let mut authorizers = BTreeMap::new();
    let mut open = BTreeSet::new();
    if let Some(list) = map.get("Authorizers") {
        let list_site = site.child("Authorizers");
        if let Some(list) = read::map(list, &list_site, sink) {
            for (key, value) in &list.entries {
                let auth_site = list_site.child(&key.name);
                match read_authorizer(value, kind, &auth_site, function_arns, sink) {
                    Some(Some(authorizer)) => {
                        authorizers.insert(key.name.clone(), authorizer);
                    }
                    // Declared but not emulated (Cognito): already warned.
                    Some(None) => {
                        open.insert(key.name.clone());
                    }
                    None => ok = false,
                }
            }
        } else {
            ok = false;
        }
    }
    let default_authorizer = match map.get("DefaultAuthorizer") {
        None => None,
        Some(node) => {
            let default_site = site.child("DefaultAuthorizer");
            match read::string(node, &default_site, sink) {
                Some(name) if name == "AWS_IAM" => {
                    sink.warning(
                        Some(node.pos),
                        &default_site,
                        "AWS_IAM authorization is not checked locally; routes are open",
                    );
                    None
                }
                Some(name) if authorizers.contains_key(&name) => Some(name),
                Some(name) => {
                    let declared = list_names(&authorizers);
                    let is_declared = map
                        .get("Authorizers")
                        .and_then(Node::as_map)
                        .is_some_and(|m| m.get(&name).is_some());
                    if !is_declared {
                        sink.error(
                            Some(node.pos),
                            &default_site,
                            format!(
                                "DefaultAuthorizer `{name}` is not declared under Auth.Authorizers \
                                 (declared: {declared})"
                            ),
                        );
                        ok = false;
                    }
                    None
                }
                None => {
                    ok = false;
                    None
                }
            }
        }
    };
    ok.then_some((authorizers, default_authorizer, open))
}

fn list_names(authorizers: &BTreeMap<String, Authorizer>) -> String {
    if authorizers.is_empty() {
        "none".to_owned()
    } else {
        authorizers.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// One authorizer. `Some(None)` for kinds Fogbank does not emulate.
fn read_authorizer(
    node: &Node,
    kind: ApiKind,
    site: &Site,
    function_arns: &BTreeMap<String, String>,
    sink: &mut Sink,
) -> Option<Option<Authorizer>> {
    let map = read::map(node, site, sink)?;
    if let Some(arn_node) = map.get("FunctionArn") {
        let arn = read::string(arn_node, &site.child("FunctionArn"), sink)?;
        let Some(function) = function_arns.get(&arn) else {
            sink.error(
                Some(arn_node.pos),
                &site.child("FunctionArn"),
                format!(
                    "authorizer function `{arn}` is not a function of this template; use \
                     !GetAtt AuthFunction.Arn"
                ),
            );
            return None;
        };
        let identity = map.get("Identity");
        let identity_map = match identity {
            None => None,
            Some(node) => Some(read::map(node, &site.child("Identity"), sink)?),
        };
        let list = |name: &str, sink: &mut Sink| -> Option<Vec<String>> {
            match identity_map.and_then(|m| m.get(name)) {
                None => Some(Vec::new()),
                Some(node) => {
                    read::strings(node, false, &site.child(&format!("Identity.{name}")), sink)
                }
            }
        };
        return match kind {
            ApiKind::Rest => {
                let token = match map.get("FunctionPayloadType") {
                    None => true,
                    Some(node) => {
                        match read::string(node, &site.child("FunctionPayloadType"), sink)?.as_str()
                        {
                            "TOKEN" => true,
                            "REQUEST" => false,
                            other => {
                                sink.error(
                                Some(node.pos),
                                &site.child("FunctionPayloadType"),
                                format!("FunctionPayloadType `{other}` is invalid; use TOKEN or REQUEST"),
                            );
                                return None;
                            }
                        }
                    }
                };
                let mut sources = Vec::new();
                if token {
                    let header = match identity_map.and_then(|m| m.get("Header")) {
                        None => "Authorization".to_owned(),
                        Some(node) => read::string(node, &site.child("Identity.Header"), sink)?,
                    };
                    sources.push(format!("method.request.header.{header}"));
                } else {
                    for (name, prefix) in [
                        ("Headers", "method.request.header."),
                        ("QueryStrings", "method.request.querystring."),
                        ("StageVariables", "stageVariables."),
                        ("Context", "context."),
                    ] {
                        sources.extend(
                            list(name, sink)?
                                .into_iter()
                                .map(|s| format!("{prefix}{s}")),
                        );
                    }
                }
                Some(Some(Authorizer::Lambda {
                    function_logical_id: function.clone(),
                    identity_sources: sources,
                    simple_responses: false,
                    payload_format_version: "1.0".to_owned(),
                    token,
                }))
            }
            ApiKind::Http => {
                let version = match map.get("AuthorizerPayloadFormatVersion") {
                    None => {
                        sink.error(
                            Some(node.pos),
                            &site.child("AuthorizerPayloadFormatVersion"),
                            "missing AuthorizerPayloadFormatVersion; use \"1.0\" or \"2.0\"",
                        );
                        return None;
                    }
                    Some(node) => {
                        let v = read::string(
                            node,
                            &site.child("AuthorizerPayloadFormatVersion"),
                            sink,
                        )?;
                        if v != "1.0" && v != "2.0" {
                            sink.error(
                                Some(node.pos),
                                &site.child("AuthorizerPayloadFormatVersion"),
                                format!("AuthorizerPayloadFormatVersion `{v}` is invalid; use \"1.0\" or \"2.0\""),
                            );
                            return None;
                        }
                        v
                    }
                };
                let simple_responses = match map.get("EnableSimpleResponses") {
                    None => false,
                    Some(node) => read::boolean(node, &site.child("EnableSimpleResponses"), sink)?,
                };
                if simple_responses && version != "2.0" {
                    sink.error(
                        map.get("EnableSimpleResponses").map(|n| n.pos),
                        &site.child("EnableSimpleResponses"),
                        "EnableSimpleResponses needs AuthorizerPayloadFormatVersion \"2.0\"",
                    );
                    return None;
                }
                let mut sources = Vec::new();
                for (name, prefix) in [
                    ("Headers", "$request.header."),
                    ("QueryStrings", "$request.querystring."),
                    ("StageVariables", "$stageVariables."),
                    ("Context", "$context."),
                ] {
                    sources.extend(
                        list(name, sink)?
                            .into_iter()
                            .map(|s| format!("{prefix}{s}")),
                    );
                }
                Some(Some(Authorizer::Lambda {
                    function_logical_id: function.clone(),
                    identity_sources: sources,
                    simple_responses,
                    payload_format_version: version,
                    token: false,
                }))
            }
        };
    }
    if kind == ApiKind::Http
        && let Some(jwt) = map.get("JwtConfiguration")
    {
        let jwt_site = site.child("JwtConfiguration");
        let jwt = read::map(jwt, &jwt_site, sink)?;
        let issuer = match jwt.get("issuer") {
            None => None,
            Some(node) => Some(read::string(node, &jwt_site.child("issuer"), sink)?),
        };
        let audience = match jwt.get("audience") {
            None => Vec::new(),
            Some(node) => read::strings(node, true, &jwt_site.child("audience"), sink)?,
        };
        let identity_source = match map.get("IdentitySource") {
            None => "$request.header.Authorization".to_owned(),
            Some(node) => read::string(node, &site.child("IdentitySource"), sink)?,
        };
        return Some(Some(Authorizer::Jwt {
            identity_source,
            issuer,
            audience,
        }));
    }
    if map.get("UserPoolArn").is_some() {
        sink.warning(
            Some(node.pos),
            site,
            "Cognito user pool authorizers are not emulated; routes using it are open locally",
        );
        return Some(None);
    }
    sink.error(
        Some(node.pos),
        site,
        match kind {
            ApiKind::Rest => "an authorizer needs FunctionArn (Lambda) or UserPoolArn (Cognito)",
            ApiKind::Http => "an authorizer needs FunctionArn (Lambda) or JwtConfiguration (JWT)",
        },
    );
    None
}

/// Checks each route's API and authorizer and applies default authorizers.
/// Routes that cannot be linked are removed from their function (the error
/// was reported), so the model only holds routes that resolve.
fn link_routes(
    apis: &[Api],
    open_authorizers: &HashMap<String, BTreeSet<String>>,
    template: &Template,
    functions: &mut [Built],
    sink: &mut Sink,
) {
    let by_id: HashMap<&str, &Api> = apis.iter().map(|a| (a.logical_id.as_str(), a)).collect();
    let mut seen: HashMap<(String, String, Option<String>), (String, Pos)> = HashMap::new();
    for built in functions.iter_mut() {
        let mut broken = Vec::new();
        for route_site in &built.routes {
            let Some(event) = built.function.events.get_mut(route_site.event) else {
                continue;
            };
            let (route, kind) = match &mut event.kind {
                EventKind::Api(route) => (route, ApiKind::Rest),
                EventKind::HttpApi(route) => (route, ApiKind::Http),
                EventKind::Sqs(_) => continue,
            };
            let (key, wanted) = match kind {
                ApiKind::Rest => ("RestApiId", "AWS::Serverless::Api"),
                ApiKind::Http => ("ApiId", "AWS::Serverless::HttpApi"),
            };
            let Some(api) = by_id.get(route.api_id.as_str()) else {
                // An API that exists but failed to build was reported already;
                // so was an implicit one (the event names no API), whose
                // problems come from Globals.
                let declared = route_site.api_pos.is_none()
                    || template
                        .resource(&route.api_id)
                        .is_some_and(|r| r.kind == wanted);
                if !declared {
                    sink.error(
                        route_site.api_pos.or(Some(route_site.pos)),
                        &route_site.site.child(key),
                        format!(
                            "{key} `{}` is not an {wanted} of this template; use !Ref with the \
                             API's logical ID",
                            route.api_id
                        ),
                    );
                }
                broken.push(route_site.event);
                continue;
            };
            if api.kind != kind {
                sink.error(
                    route_site.api_pos.or(Some(route_site.pos)),
                    &route_site.site.child(key),
                    format!("{key} `{}` is not an {wanted}", route.api_id),
                );
                broken.push(route_site.event);
                continue;
            }
            route.authorizer = match route.authorizer.take() {
                Some(name) if name == "NONE" => None,
                Some(name) if name == "AWS_IAM" => {
                    sink.warning(
                        route_site.authorizer_pos,
                        &route_site.site.child("Auth.Authorizer"),
                        "AWS_IAM authorization is not checked locally; the route is open",
                    );
                    None
                }
                Some(name) if api.authorizers.contains_key(&name) => Some(name),
                Some(name)
                    if open_authorizers
                        .get(&api.logical_id)
                        .is_some_and(|open| open.contains(&name)) =>
                {
                    None
                }
                Some(name) => {
                    sink.error(
                        route_site.authorizer_pos,
                        &route_site.site.child("Auth.Authorizer"),
                        format!(
                            "authorizer `{name}` is not declared in {}'s Auth.Authorizers \
                             (declared: {})",
                            api.logical_id,
                            list_names(&api.authorizers)
                        ),
                    );
                    broken.push(route_site.event);
                    continue;
                }
                None => api.default_authorizer.clone(),
            };
            let route_key = (
                route.api_id.clone(),
                route.method.clone(),
                route.path.clone(),
            );
            let here = format!("{}.{}", built.function.logical_id, event.name);
            match seen.get(&route_key) {
                Some((first, first_pos)) => {
                    let path = route.path.as_deref().unwrap_or("$default");
                    sink.error(
                        Some(route_site.pos),
                        &route_site.site,
                        format!(
                            "route {} {path} on {} is already served by {first} (line {}); each \
                             method and path may have one function",
                            route.method, route.api_id, first_pos.line
                        ),
                    );
                    broken.push(route_site.event);
                }
                None => {
                    seen.insert(route_key, (here, route_site.pos));
                }
            }
        }
        if !broken.is_empty() {
            let mut index = 0;
            built.function.events.retain(|_| {
                let keep = !broken.contains(&index);
                index += 1;
                keep
            });
        }
    }
}
