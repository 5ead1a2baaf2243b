//! The HTTP API payload format 2.0 (also what function URLs send), as
//! AWS documents it: `version`, `routeKey`, `rawPath`, `rawQueryString`,
//! `cookies`, comma-joined lower-case `headers`, comma-joined
//! `queryStringParameters`, `requestContext` (`http.method`, `path`,
//! `protocol`, `sourceIp`, `userAgent`, `time`, `timeEpoch`, ...),
//! `body`, `pathParameters`, `isBase64Encoded` and `stageVariables`.
//!
//! Optional fields are left out when empty, as API Gateway leaves them out.
//! The event is serialised straight from the request's parts, without an
//! intermediate JSON tree.

use std::borrow::Cow;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::authorizer::Authorization;
use super::request::{EventBody, RequestParts, is_gateway_header, request_time};

/// What the route (or function URL) contributes to a 2.0 event.
#[derive(Debug, Clone)]
pub struct V2Context<'a> {
    /// `GET /items/{id}` or `$default`.
    pub route_key: &'a str,
    pub account_id: &'a str,
    pub api_id: &'a str,
    pub stage: &'a str,
    /// The API Gateway request ID (`requestContext.requestId`).
    pub request_id: &'a str,
    /// Path parameters, already decoded.
    pub path_params: &'a [(&'a str, Cow<'a, str>)],
    pub stage_variables: &'a [(String, String)],
    pub authorization: Option<&'a Authorization>,
    pub body: &'a EventBody<'a>,
}

/// Serialises the 2.0 event for `request` into JSON bytes.
pub fn event(request: &RequestParts<'_>, context: &V2Context<'_>) -> Vec<u8> {
    let event = Event { request, context };
    let mut out = Vec::with_capacity(1024 + request.body.len() * 4 / 3);
    // Writing to a Vec cannot fail, and every key is a string.
    let _ = serde_json::to_writer(&mut out, &event);
    out
}

struct Event<'r, 'a> {
    request: &'r RequestParts<'a>,
    context: &'r V2Context<'a>,
}

impl Serialize for Event<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let request = self.request;
        let context = self.context;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("version", "2.0")?;
        map.serialize_entry("routeKey", context.route_key)?;
        map.serialize_entry("rawPath", request.raw_path)?;
        map.serialize_entry("rawQueryString", request.raw_query)?;
        let cookies = request.cookies();
        if !cookies.is_empty() {
            map.serialize_entry("cookies", &cookies)?;
        }
        map.serialize_entry("headers", &Headers(request))?;
        if !request.raw_query.is_empty() {
            map.serialize_entry("queryStringParameters", &JoinedQuery(request.raw_query))?;
        }
        map.serialize_entry("requestContext", &RequestContext { request, context })?;
        if let Some(body) = context.body.text() {
            map.serialize_entry("body", body)?;
        }
        if !context.path_params.is_empty() {
            map.serialize_entry("pathParameters", &Pairs(context.path_params))?;
        }
        map.serialize_entry("isBase64Encoded", &context.body.is_base64())?;
        if !context.stage_variables.is_empty() {
            map.serialize_entry("stageVariables", &StringPairs(context.stage_variables))?;
        }
        map.end()
    }
}

/// Lower-case names, repeated headers joined with commas, `cookie` moved
/// to `cookies`, and the headers API Gateway adds itself.
struct Headers<'r, 'a>(&'r RequestParts<'a>);

impl Serialize for Headers<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let request = self.0;
        let mut map = serializer.serialize_map(None)?;
        for name in request.headers.keys() {
            if name == http::header::COOKIE || is_gateway_header(name) {
                continue;
            }
            let mut values = request.headers.get_all(name).iter();
            let Some(first) = values.next() else { continue };
            let mut joined = String::from_utf8_lossy(first.as_bytes());
            for value in values {
                let text = joined.to_mut();
                text.push(',');
                text.push_str(&String::from_utf8_lossy(value.as_bytes()));
            }
            map.serialize_entry(name.as_str(), &joined)?;
        }
        map.serialize_entry("x-amzn-trace-id", request.trace_id)?;
        map.serialize_entry("x-forwarded-for", &request.forwarded_for())?;
        map.serialize_entry("x-forwarded-port", &request.port.to_string())?;
        map.serialize_entry("x-forwarded-proto", "http")?;
        map.end()
    }
}

/// Query parameters with repeated keys' values joined by commas.
struct JoinedQuery<'a>(&'a str);

impl Serialize for JoinedQuery<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let groups = super::request::group_query(self.0);
        let mut map = serializer.serialize_map(Some(groups.len()))?;
        for (key, values) in &groups {
            if let [only] = values.as_slice() {
                map.serialize_entry(key, only)?;
            } else {
                map.serialize_entry(key, &values.join(","))?;
            }
        }
        map.end()
    }
}

struct RequestContext<'r, 'a> {
    request: &'r RequestParts<'a>,
    context: &'r V2Context<'a>,
}

impl Serialize for RequestContext<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let request = self.request;
        let context = self.context;
        let host = request.host();
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("accountId", context.account_id)?;
        map.serialize_entry("apiId", context.api_id)?;
        if let Some(authorization) = context.authorization {
            map.serialize_entry("authorizer", &authorization.v2())?;
        }
        map.serialize_entry("domainName", &host)?;
        map.serialize_entry("domainPrefix", domain_prefix(&host))?;
        map.serialize_entry(
            "http",
            &Http {
                method: request.method.as_str(),
                path: request.raw_path,
                protocol: request.protocol,
                source_ip: request.source_ip.to_string(),
                user_agent: request.user_agent(),
            },
        )?;
        map.serialize_entry("requestId", context.request_id)?;
        map.serialize_entry("routeKey", context.route_key)?;
        map.serialize_entry("stage", context.stage)?;
        map.serialize_entry("time", &request_time(request.time_epoch_ms))?;
        map.serialize_entry("timeEpoch", &request.time_epoch_ms)?;
        map.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Http<'a> {
    method: &'a str,
    path: &'a str,
    protocol: &'a str,
    source_ip: String,
    user_agent: Cow<'a, str>,
}

/// The first label of the host, as API Gateway's `domainPrefix`.
pub fn domain_prefix(host: &str) -> &str {
    let end = host.find(['.', ':']).unwrap_or(host.len());
    &host[..end]
}

pub(crate) struct Pairs<'p, 'a>(pub &'p [(&'a str, Cow<'a, str>)]);

impl Serialize for Pairs<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

pub(crate) struct StringPairs<'p>(pub &'p [(String, String)]);

impl Serialize for StringPairs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use std::net::{IpAddr, Ipv4Addr};

    use expect_test::{Expect, expect};
    use http::{HeaderMap, Method};
    use proptest::prelude::*;

    use super::*;
    use crate::gateway::request::{BinaryRule, event_body};

    /// The one place that builds a 2.0 event: a request from its method,
    /// target, headers and body, rendered as pretty JSON.
    fn check(
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        params: &[(&str, &str)],
        expected: Expect,
    ) {
        expected.assert_eq(&render(method, target, headers, body, params));
    }

    fn render(
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        params: &[(&str, &str)],
    ) -> String {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        let request = RequestParts {
            method: &method,
            raw_path: path,
            raw_query: query,
            headers: &map,
            body,
            source_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            protocol: "HTTP/1.1",
            time_epoch_ms: 1_583_348_638_390,
            port: 3000,
            trace_id: "Root=1-5e6a8e3e-0123456789abcdef01234567",
        };
        let params: Vec<(&str, Cow<'_, str>)> = params
            .iter()
            .map(|(k, v)| (*k, Cow::Borrowed(*v)))
            .collect();
        let body = event_body(body, &map, BinaryRule::TextTypesOnly);
        let stage_variables = [("tier".to_owned(), "gold".to_owned())];
        let event = event(
            &request,
            &V2Context {
                route_key: "GET /hello/{name}",
                account_id: "123456789012",
                api_id: "abcdefghij",
                stage: "$default",
                request_id: "JkHs_jtXIAMEPqA=",
                path_params: &params,
                stage_variables: if params.is_empty() {
                    &[]
                } else {
                    &stage_variables
                },
                authorization: None,
                body: &body,
            },
        );
        let value: serde_json::Value = serde_json::from_slice(&event).unwrap();
        serde_json::to_string_pretty(&value).unwrap()
    }

    #[test]
    fn get_with_repeated_query_and_cookies() {
        check(
            "GET",
            "/hello/ada?lang=fr&tag=a&tag=b&empty",
            &[
                ("host", "127.0.0.1:3000"),
                ("user-agent", "curl/8.0"),
                ("accept", "*/*"),
                ("x-multi", "1"),
                ("x-multi", "2"),
                ("cookie", "session=abc; theme=dark"),
                ("cookie", "extra=1"),
                ("x-forwarded-for", "10.0.0.1"),
            ],
            b"",
            &[("name", "ada")],
            expect![[r#"
                {
                  "cookies": [
                    "session=abc",
                    "theme=dark",
                    "extra=1"
                  ],
                  "headers": {
                    "accept": "*/*",
                    "host": "127.0.0.1:3000",
                    "user-agent": "curl/8.0",
                    "x-amzn-trace-id": "Root=1-5e6a8e3e-0123456789abcdef01234567",
                    "x-forwarded-for": "10.0.0.1, 127.0.0.1",
                    "x-forwarded-port": "3000",
                    "x-forwarded-proto": "http",
                    "x-multi": "1,2"
                  },
                  "isBase64Encoded": false,
                  "pathParameters": {
                    "name": "ada"
                  },
                  "queryStringParameters": {
                    "empty": "",
                    "lang": "fr",
                    "tag": "a,b"
                  },
                  "rawPath": "/hello/ada",
                  "rawQueryString": "lang=fr&tag=a&tag=b&empty",
                  "requestContext": {
                    "accountId": "123456789012",
                    "apiId": "abcdefghij",
                    "domainName": "127.0.0.1:3000",
                    "domainPrefix": "127",
                    "http": {
                      "method": "GET",
                      "path": "/hello/ada",
                      "protocol": "HTTP/1.1",
                      "sourceIp": "127.0.0.1",
                      "userAgent": "curl/8.0"
                    },
                    "requestId": "JkHs_jtXIAMEPqA=",
                    "routeKey": "GET /hello/{name}",
                    "stage": "$default",
                    "time": "04/Mar/2020:19:03:58 +0000",
                    "timeEpoch": 1583348638390
                  },
                  "routeKey": "GET /hello/{name}",
                  "stageVariables": {
                    "tier": "gold"
                  },
                  "version": "2.0"
                }"#]],
        );
    }

    #[test]
    fn json_and_binary_bodies() {
        check(
            "POST",
            "/orders",
            &[
                ("content-type", "application/json"),
                ("content-length", "8"),
            ],
            br#"{"id":1}"#,
            &[],
            expect![[r#"
            {
              "body": "{\"id\":1}",
              "headers": {
                "content-length": "8",
                "content-type": "application/json",
                "x-amzn-trace-id": "Root=1-5e6a8e3e-0123456789abcdef01234567",
                "x-forwarded-for": "127.0.0.1",
                "x-forwarded-port": "3000",
                "x-forwarded-proto": "http"
              },
              "isBase64Encoded": false,
              "rawPath": "/orders",
              "rawQueryString": "",
              "requestContext": {
                "accountId": "123456789012",
                "apiId": "abcdefghij",
                "domainName": "localhost",
                "domainPrefix": "localhost",
                "http": {
                  "method": "POST",
                  "path": "/orders",
                  "protocol": "HTTP/1.1",
                  "sourceIp": "127.0.0.1",
                  "userAgent": ""
                },
                "requestId": "JkHs_jtXIAMEPqA=",
                "routeKey": "GET /hello/{name}",
                "stage": "$default",
                "time": "04/Mar/2020:19:03:58 +0000",
                "timeEpoch": 1583348638390
              },
              "routeKey": "GET /hello/{name}",
              "version": "2.0"
            }"#]],
        );
        let binary = render(
            "POST",
            "/upload",
            &[("content-type", "image/png")],
            &[0x89, b'P', b'N', b'G', 0, 0xff],
            &[],
        );
        assert!(binary.contains(r#""body": "iVBORwD/""#), "{binary}");
        assert!(binary.contains(r#""isBase64Encoded": true"#), "{binary}");
    }

    proptest! {
        /// Whatever the client sends, the event is valid JSON carrying the
        /// path, query and body it was given.
        #[test]
        fn any_request_makes_a_valid_event(
            path in "/[a-zA-Z0-9/%._~-]{0,40}",
            query in "[a-zA-Z0-9=&%+;,._~-]{0,40}",
            header_value in "[ -~]{0,40}",
            body in any::<Vec<u8>>(),
        ) {
            let target = if query.is_empty() { path.clone() } else { format!("{path}?{query}") };
            let rendered = render("POST", &target, &[("x-any", &header_value), ("cookie", &header_value)], &body, &[]);
            let value: serde_json::Value = serde_json::from_str(&rendered).unwrap();
            prop_assert_eq!(value["rawPath"].as_str(), Some(path.as_str()));
            prop_assert_eq!(value["rawQueryString"].as_str(), Some(query.as_str()));
            prop_assert_eq!(value.get("body").is_some(), !body.is_empty());
        }
    }
}
