//! Lambda authorizers: reading identity sources, building the event the
//! authorizer function receives, and judging its answer (a simple
//! `isAuthorized` response or an IAM policy). Also the [`Authorization`]
//! a successful authorizer (Lambda or JWT) contributes to the route's event.
//!
//! Pure: the server invokes the authorizer function and hands the payload
//! here. Authorizer results are not cached; every request invokes the
//! authorizer, which is what a TTL of 0 does in the cloud.

use serde_json::{Map, Value, json};

use super::policy::{self, PolicyDecision};
use super::request::{RequestParts, group_query};

/// What an authorizer established about the caller, passed to the function
/// in `requestContext.authorizer`.
#[derive(Debug, Clone, PartialEq)]
pub enum Authorization {
    Lambda {
        principal_id: Option<String>,
        /// The authorizer's `context`, passed through.
        context: Map<String, Value>,
        /// How long the authorizer took, in milliseconds.
        latency_ms: u64,
    },
    Jwt {
        /// The token's claims, as strings (as API Gateway passes them).
        claims: Map<String, Value>,
        scopes: Option<Vec<String>>,
    },
}

impl Authorization {
    /// The 1.0 payload's `requestContext.authorizer`: a Lambda authorizer's
    /// context keys beside `principalId` and `integrationLatency`, values
    /// as strings; a JWT authorizer's `claims` and `scopes`.
    pub fn v1(&self) -> Value {
        match self {
            Authorization::Lambda {
                principal_id,
                context,
                latency_ms,
            } => {
                let mut out = Map::new();
                for (key, value) in context {
                    out.insert(key.clone(), Value::String(scalar_text(value)));
                }
                out.insert(
                    "principalId".to_owned(),
                    principal_id.clone().map_or(Value::Null, Value::String),
                );
                out.insert("integrationLatency".to_owned(), json!(latency_ms));
                Value::Object(out)
            }
            Authorization::Jwt { claims, scopes } => json!({ "claims": claims, "scopes": scopes }),
        }
    }

    /// The 2.0 payload's `requestContext.authorizer`: `lambda` holds the
    /// context as returned; `jwt` holds `claims` and `scopes`.
    pub fn v2(&self) -> Value {
        match self {
            Authorization::Lambda { context, .. } => json!({ "lambda": context }),
            Authorization::Jwt { claims, scopes } => {
                json!({ "jwt": { "claims": claims, "scopes": scopes } })
            }
        }
    }
}

/// A JSON value as the text API Gateway passes for it.
pub fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(scalar_text).collect();
            format!("[{}]", parts.join(" "))
        }
        other => other.to_string(),
    }
}

/// What an identity source refers to, besides the request itself.
#[derive(Debug, Clone, Copy)]
pub struct SourceContext<'a> {
    pub stage_variables: &'a [(String, String)],
    pub request_id: &'a str,
    pub route_key: &'a str,
    pub stage: &'a str,
}

/// The values of `sources` (`$request.header.Authorization`,
/// `method.request.querystring.key`, `$stageVariables.x`, `$context.x`), in
/// order; `None` when any is missing or empty, in which case API Gateway
/// answers 401 without invoking the authorizer.
pub fn identity_values(
    sources: &[String],
    request: &RequestParts<'_>,
    context: &SourceContext<'_>,
) -> Option<Vec<String>> {
    let mut values = Vec::with_capacity(sources.len());
    for source in sources {
        let source = source.trim();
        let value = if let Some(name) = source
            .strip_prefix("$request.header.")
            .or_else(|| source.strip_prefix("method.request.header."))
        {
            let all: Vec<String> = request
                .headers
                .get_all(name.to_ascii_lowercase().as_str())
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            all.join(",")
        } else if let Some(name) = source
            .strip_prefix("$request.querystring.")
            .or_else(|| source.strip_prefix("method.request.querystring."))
        {
            group_query(request.raw_query)
                .into_iter()
                .find(|(key, _)| key == name)
                .map(|(_, values)| values.join(","))
                .unwrap_or_default()
        } else if let Some(name) = source
            .strip_prefix("$stageVariables.")
            .or_else(|| source.strip_prefix("stageVariables."))
        {
            context
                .stage_variables
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
                .unwrap_or_default()
        } else if let Some(name) = source
            .strip_prefix("$context.")
            .or_else(|| source.strip_prefix("context."))
        {
            match name {
                "requestId" => context.request_id.to_owned(),
                "routeKey" => context.route_key.to_owned(),
                "stage" => context.stage.to_owned(),
                "httpMethod" => request.method.as_str().to_owned(),
                "path" => request.raw_path.to_owned(),
                "identity.sourceIp" => request.source_ip.to_string(),
                "identity.userAgent" => request.user_agent().into_owned(),
                _ => String::new(),
            }
        } else {
            String::new()
        };
        if value.is_empty() {
            return None;
        }
        values.push(value);
    }
    Some(values)
}

/// `arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH`, the
/// `methodArn`/`routeArn` an authorizer receives and its policy names.
pub fn method_arn(
    partition: &str,
    region: &str,
    account_id: &str,
    api_id: &str,
    stage: &str,
    method: &str,
    path: &str,
) -> String {
    format!(
        "arn:{partition}:execute-api:{region}:{account_id}:{api_id}/{stage}/{method}/{}",
        path.strip_prefix('/').unwrap_or(path)
    )
}

/// The kind of Lambda authorizer, which decides its event and answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizerKind {
    /// REST `TOKEN`: `{type, authorizationToken, methodArn}`.
    Token,
    /// REST `REQUEST`: the 1.0 request fields plus `type` and `methodArn`.
    RestRequest,
    /// HTTP API, payload 1.0.
    HttpV1,
    /// HTTP API, payload 2.0.
    HttpV2,
}

/// The event a Lambda authorizer receives. `request_event` is the route's
/// own event in the matching format (1.0 for REST and HTTP 1.0, 2.0 for
/// HTTP 2.0); the body is removed, as authorizers never see it.
pub fn authorizer_event(
    kind: AuthorizerKind,
    request_event: &[u8],
    identity: &[String],
    arn: &str,
) -> Vec<u8> {
    if kind == AuthorizerKind::Token {
        let token = identity.first().cloned().unwrap_or_default();
        let event = json!({ "type": "TOKEN", "authorizationToken": token, "methodArn": arn });
        return event.to_string().into_bytes();
    }
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(request_event) else {
        return b"{}".to_vec();
    };
    let mut event = Map::new();
    match kind {
        AuthorizerKind::HttpV2 => {
            event.insert("version".to_owned(), json!("2.0"));
            event.insert("type".to_owned(), json!("REQUEST"));
            event.insert("routeArn".to_owned(), json!(arn));
            event.insert("identitySource".to_owned(), json!(identity));
        }
        AuthorizerKind::HttpV1 => {
            event.insert("version".to_owned(), json!("1.0"));
            event.insert("type".to_owned(), json!("REQUEST"));
            event.insert("methodArn".to_owned(), json!(arn));
            event.insert("identitySource".to_owned(), json!(identity.join(",")));
            event.insert("authorizationToken".to_owned(), json!(identity.join(",")));
        }
        AuthorizerKind::RestRequest | AuthorizerKind::Token => {
            event.insert("type".to_owned(), json!("REQUEST"));
            event.insert("methodArn".to_owned(), json!(arn));
        }
    }
    for (key, value) in fields {
        if matches!(key.as_str(), "body" | "isBase64Encoded" | "version") {
            continue;
        }
        event.insert(key, value);
    }
    Value::Object(event).to_string().into_bytes()
}

/// An authorizer's judgement.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Allow(Authorization),
    Deny { explicit: bool },
}

/// Why an authorizer's answer could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizerFault {
    /// A REST authorizer failed with the message `Unauthorized`: 401.
    #[error("the authorizer answered Unauthorized")]
    Unauthorized,
    /// The answer is malformed: 500.
    #[error("the authorizer's answer is unusable: {0}")]
    Malformed(String),
}

/// Judges an authorizer's successful payload. `simple` is an HTTP API
/// authorizer with `EnableSimpleResponses`; `rest` restricts context
/// values to strings, numbers and booleans, as REST APIs do.
pub fn judge(
    payload: &[u8],
    simple: bool,
    rest: bool,
    arn: &str,
    latency_ms: u64,
) -> Result<Verdict, AuthorizerFault> {
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| AuthorizerFault::Malformed(format!("the answer is not JSON ({e})")))?;
    let Some(answer) = value.as_object() else {
        return Err(AuthorizerFault::Malformed(
            "the answer is not a JSON object".to_owned(),
        ));
    };
    let context = match answer.get("context") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(context)) => context.clone(),
        Some(_) => {
            return Err(AuthorizerFault::Malformed(
                "context is not an object".to_owned(),
            ));
        }
    };
    if rest
        && let Some((key, _)) = context
            .iter()
            .find(|(_, v)| matches!(v, Value::Array(_) | Value::Object(_)))
    {
        return Err(AuthorizerFault::Malformed(format!(
            "context.{key} is a list or object; REST APIs accept only strings, numbers and booleans"
        )));
    }
    if simple && answer.contains_key("isAuthorized") {
        return match answer.get("isAuthorized") {
            Some(Value::Bool(true)) => Ok(Verdict::Allow(Authorization::Lambda {
                principal_id: None,
                context,
                latency_ms,
            })),
            Some(Value::Bool(false)) => Ok(Verdict::Deny { explicit: true }),
            _ => Err(AuthorizerFault::Malformed(
                "isAuthorized is not a boolean".to_owned(),
            )),
        };
    }
    let principal_id = match answer.get("principalId") {
        Some(Value::String(id)) => Some(id.clone()),
        None | Some(Value::Null) if !rest => None,
        None | Some(Value::Null) => {
            return Err(AuthorizerFault::Malformed(
                "principalId is missing".to_owned(),
            ));
        }
        Some(_) => {
            return Err(AuthorizerFault::Malformed(
                "principalId is not a string".to_owned(),
            ));
        }
    };
    let Some(document) = answer.get("policyDocument") else {
        let expected = if simple {
            "isAuthorized or policyDocument"
        } else {
            "policyDocument"
        };
        return Err(AuthorizerFault::Malformed(format!("{expected} is missing")));
    };
    match policy::evaluate(document, arn).map_err(AuthorizerFault::Malformed)? {
        PolicyDecision::Allow => Ok(Verdict::Allow(Authorization::Lambda {
            principal_id,
            context,
            latency_ms,
        })),
        PolicyDecision::ExplicitDeny => Ok(Verdict::Deny { explicit: true }),
        PolicyDecision::ImplicitDeny => Ok(Verdict::Deny { explicit: false }),
    }
}

/// Judges an authorizer that failed: REST treats the error message
/// `Unauthorized` as a 401, everything else is an authorizer failure.
pub fn judge_error(error_payload: &[u8]) -> AuthorizerFault {
    let message = serde_json::from_slice::<Value>(error_payload)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
    match message.as_deref() {
        Some("Unauthorized") => AuthorizerFault::Unauthorized,
        Some(message) => AuthorizerFault::Malformed(format!("the authorizer failed: {message}")),
        None => AuthorizerFault::Malformed("the authorizer failed".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use std::net::{IpAddr, Ipv4Addr};

    use expect_test::expect;
    use http::{HeaderMap, Method};
    use proptest::prelude::*;

    use super::*;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abc/Prod/GET/items/42";

    fn parts<'a>(headers: &'a HeaderMap, query: &'a str) -> RequestParts<'a> {
        RequestParts {
            method: &Method::GET,
            raw_path: "/items/42",
            raw_query: query,
            headers,
            body: b"",
            source_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            protocol: "HTTP/1.1",
            time_epoch_ms: 0,
            port: 3000,
            trace_id: "Root=1-0-0",
        }
    }

    #[test]
    fn identity_sources_resolve_or_go_missing() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer abc".parse().unwrap());
        let request = parts(&headers, "key=k1&key=k2");
        let stage_variables = [("tier".to_owned(), "gold".to_owned())];
        let context = SourceContext {
            stage_variables: &stage_variables,
            request_id: "req",
            route_key: "GET /items/{id}",
            stage: "Prod",
        };
        let check = |sources: &[&str], expected: Option<&[&str]>| {
            let sources: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
            let got = identity_values(&sources, &request, &context);
            assert_eq!(
                got,
                expected.map(|e| e.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
                "{sources:?}"
            );
        };
        check(&["$request.header.Authorization"], Some(&["Bearer abc"]));
        check(
            &[
                "method.request.header.authorization",
                "method.request.querystring.key",
            ],
            Some(&["Bearer abc", "k1,k2"]),
        );
        check(
            &["$stageVariables.tier", "$context.routeKey"],
            Some(&["gold", "GET /items/{id}"]),
        );
        check(&["$request.header.X-Missing"], None);
        check(&["$request.querystring.Key"], None);
        check(&["$context.unknown"], None);
        check(&[], Some(&[]));
    }

    #[test]
    fn answers_are_judged() {
        let check = |payload: &str, simple: bool, rest: bool, expected: expect_test::Expect| {
            let verdict = judge(payload.as_bytes(), simple, rest, ARN, 7);
            expected.assert_eq(&format!("{verdict:?}"));
        };
        check(
            r#"{"isAuthorized":true,"context":{"user":"ada"}}"#,
            true,
            false,
            expect![[
                r#"Ok(Allow(Lambda { principal_id: None, context: {"user": String("ada")}, latency_ms: 7 }))"#
            ]],
        );
        check(
            r#"{"isAuthorized":false}"#,
            true,
            false,
            expect!["Ok(Deny { explicit: true })"],
        );
        check(
            r#"{"isAuthorized":"yes"}"#,
            true,
            false,
            expect![[r#"Err(Malformed("isAuthorized is not a boolean"))"#]],
        );
        check(
            &format!(
                r#"{{"principalId":"u1","policyDocument":{{"Version":"2012-10-17","Statement":[{{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"{ARN}"}}]}},"context":{{"n":1}}}}"#
            ),
            false,
            true,
            expect![[
                r#"Ok(Allow(Lambda { principal_id: Some("u1"), context: {"n": Number(1)}, latency_ms: 7 }))"#
            ]],
        );
        check(
            r#"{"principalId":"u1","policyDocument":{"Statement":[{"Action":"execute-api:Invoke","Effect":"Deny","Resource":"*"}]}}"#,
            false,
            true,
            expect!["Ok(Deny { explicit: true })"],
        );
        check(
            r#"{"principalId":"u1","policyDocument":{"Statement":[]}}"#,
            false,
            true,
            expect!["Ok(Deny { explicit: false })"],
        );
        check(
            r#"{"policyDocument":{"Statement":[]}}"#,
            false,
            true,
            expect![[r#"Err(Malformed("principalId is missing"))"#]],
        );
        check(
            r#"{"principalId":"u","policyDocument":{"Statement":[]},"context":{"a":[1]}}"#,
            false,
            true,
            expect![[
                r#"Err(Malformed("context.a is a list or object; REST APIs accept only strings, numbers and booleans"))"#
            ]],
        );
        check(
            "garbage",
            false,
            true,
            expect![[
                r#"Err(Malformed("the answer is not JSON (expected value at line 1 column 1)"))"#
            ]],
        );
        check(
            "[]",
            true,
            false,
            expect![[r#"Err(Malformed("the answer is not a JSON object"))"#]],
        );
    }

    #[test]
    fn errors_named_unauthorized_are_401() {
        assert_eq!(
            judge_error(br#"{"errorMessage":"Unauthorized","errorType":"Error"}"#),
            AuthorizerFault::Unauthorized
        );
        assert!(matches!(judge_error(b"{}"), AuthorizerFault::Malformed(_)));
    }

    #[test]
    fn authorizer_events_have_their_shapes() {
        let base = br#"{"version":"2.0","routeKey":"GET /x","rawPath":"/x","headers":{"a":"b"},"body":"secret","isBase64Encoded":false}"#;
        let event = authorizer_event(AuthorizerKind::HttpV2, base, &["tok".to_owned()], ARN);
        expect![[r#"{"headers":{"a":"b"},"identitySource":["tok"],"rawPath":"/x","routeArn":"arn:aws:execute-api:us-east-1:123456789012:abc/Prod/GET/items/42","routeKey":"GET /x","type":"REQUEST","version":"2.0"}"#]]
            .assert_eq(&String::from_utf8(event).unwrap());
        let event = authorizer_event(AuthorizerKind::Token, b"", &["tok".to_owned()], ARN);
        expect![[r#"{"authorizationToken":"tok","methodArn":"arn:aws:execute-api:us-east-1:123456789012:abc/Prod/GET/items/42","type":"TOKEN"}"#]]
            .assert_eq(&String::from_utf8(event).unwrap());
        let base = br#"{"resource":"/x","path":"/x","httpMethod":"GET","body":null,"isBase64Encoded":false}"#;
        let event = authorizer_event(
            AuthorizerKind::HttpV1,
            base,
            &["a".to_owned(), "b".to_owned()],
            ARN,
        );
        expect![[r#"{"authorizationToken":"a,b","httpMethod":"GET","identitySource":"a,b","methodArn":"arn:aws:execute-api:us-east-1:123456789012:abc/Prod/GET/items/42","path":"/x","resource":"/x","type":"REQUEST","version":"1.0"}"#]]
            .assert_eq(&String::from_utf8(event).unwrap());
    }

    #[test]
    fn authorization_reaches_events_in_both_shapes() {
        let lambda = Authorization::Lambda {
            principal_id: Some("u1".to_owned()),
            context: serde_json::from_str(r#"{"n":1,"ok":true,"s":"x"}"#).unwrap(),
            latency_ms: 3,
        };
        expect![[r#"{"integrationLatency":3,"n":"1","ok":"true","principalId":"u1","s":"x"}"#]]
            .assert_eq(&lambda.v1().to_string());
        expect![[r#"{"lambda":{"n":1,"ok":true,"s":"x"}}"#]].assert_eq(&lambda.v2().to_string());
        let jwt = Authorization::Jwt {
            claims: serde_json::from_str(r#"{"sub":"ada"}"#).unwrap(),
            scopes: None,
        };
        expect![[r#"{"jwt":{"claims":{"sub":"ada"},"scopes":null}}"#]]
            .assert_eq(&jwt.v2().to_string());
    }

    proptest! {
        #[test]
        fn any_answer_is_judged_without_panicking(payload in any::<Vec<u8>>(), simple in any::<bool>(), rest in any::<bool>()) {
            let _ = judge(&payload, simple, rest, ARN, 0);
            let _ = judge_error(&payload);
        }
    }
}
