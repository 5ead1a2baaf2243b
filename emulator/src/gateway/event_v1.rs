//! The REST API Lambda proxy payload (format 1.0), as AWS documents it:
//! `resource`, `path`, `httpMethod`, `headers` and `multiValueHeaders`,
//! `queryStringParameters` and `multiValueQueryStringParameters`,
//! `pathParameters`, `stageVariables`, `requestContext` (`requestId`,
//! `stage`, `resourcePath`, `httpMethod`, `identity.sourceIp`,
//! `identity.userAgent`, `requestTime`, `requestTimeEpoch`, `apiId`,
//! `accountId`, ...), `body` and `isBase64Encoded`.
//!
//! HTTP API routes with `PayloadFormatVersion: "1.0"` get the same shape
//! plus `"version": "1.0"`. Empty collections are `null`, as in the cloud.
//! Header names are title-cased (see [`title_case`]).

use std::borrow::Cow;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::authorizer::Authorization;
use super::event_v2::{Pairs, StringPairs, domain_prefix};
use super::request::{
    EventBody, RequestParts, group_query, is_gateway_header, request_time, title_case,
};

/// What the route contributes to a 1.0 event.
#[derive(Debug, Clone)]
pub struct V1Context<'a> {
    /// True for an HTTP API route with payload format 1.0 (adds `version`).
    pub http_api: bool,
    /// The resource path template (`/items/{id}`).
    pub resource: &'a str,
    /// The request path without the stage prefix.
    pub path: &'a str,
    /// A stable ID of the resource.
    pub resource_id: &'a str,
    pub account_id: &'a str,
    pub api_id: &'a str,
    pub stage: &'a str,
    /// The API Gateway request ID.
    pub request_id: &'a str,
    /// `extendedRequestId`.
    pub extended_request_id: &'a str,
    /// Path parameters as they appear in the path.
    pub path_params: &'a [(&'a str, Cow<'a, str>)],
    pub stage_variables: &'a [(String, String)],
    pub authorization: Option<&'a Authorization>,
    pub body: &'a EventBody<'a>,
}

/// Serialises the 1.0 event for `request` into JSON bytes.
pub fn event(request: &RequestParts<'_>, context: &V1Context<'_>) -> Vec<u8> {
    let event = Event { request, context };
    let mut out = Vec::with_capacity(2048 + request.body.len() * 4 / 3);
    // Writing to a Vec cannot fail, and every key is a string.
    let _ = serde_json::to_writer(&mut out, &event);
    out
}

struct Event<'r, 'a> {
    request: &'r RequestParts<'a>,
    context: &'r V1Context<'a>,
}

impl Serialize for Event<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let request = self.request;
        let context = self.context;
        let mut map = serializer.serialize_map(None)?;
        if context.http_api {
            map.serialize_entry("version", "1.0")?;
        }
        map.serialize_entry("resource", context.resource)?;
        map.serialize_entry("path", context.path)?;
        map.serialize_entry("httpMethod", request.method.as_str())?;
        map.serialize_entry(
            "headers",
            &Headers {
                request,
                multi: false,
            },
        )?;
        map.serialize_entry(
            "multiValueHeaders",
            &Headers {
                request,
                multi: true,
            },
        )?;
        let query = group_query(request.raw_query);
        if query.is_empty() {
            map.serialize_entry("queryStringParameters", &())?;
            map.serialize_entry("multiValueQueryStringParameters", &())?;
        } else {
            map.serialize_entry("queryStringParameters", &LastValues(&query))?;
            map.serialize_entry("multiValueQueryStringParameters", &AllValues(&query))?;
        }
        if context.path_params.is_empty() {
            map.serialize_entry("pathParameters", &())?;
        } else {
            map.serialize_entry("pathParameters", &Pairs(context.path_params))?;
        }
        if context.stage_variables.is_empty() {
            map.serialize_entry("stageVariables", &())?;
        } else {
            map.serialize_entry("stageVariables", &StringPairs(context.stage_variables))?;
        }
        map.serialize_entry("requestContext", &RequestContext { request, context })?;
        map.serialize_entry("body", &context.body.text())?;
        map.serialize_entry("isBase64Encoded", &context.body.is_base64())?;
        map.end()
    }
}

/// `headers` (the last value of each name) or `multiValueHeaders` (all of
/// them), plus the headers API Gateway adds itself.
struct Headers<'r, 'a> {
    request: &'r RequestParts<'a>,
    multi: bool,
}

impl Serialize for Headers<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let request = self.request;
        let mut map = serializer.serialize_map(None)?;
        for name in request.headers.keys() {
            if is_gateway_header(name) {
                continue;
            }
            let key = title_case(name.as_str());
            let values = request.headers.get_all(name);
            if self.multi {
                let all: Vec<Cow<'_, str>> = values
                    .iter()
                    .map(|v| String::from_utf8_lossy(v.as_bytes()))
                    .collect();
                map.serialize_entry(&key, &all)?;
            } else if let Some(last) = values.iter().next_back() {
                map.serialize_entry(&key, &String::from_utf8_lossy(last.as_bytes()))?;
            }
        }
        let forwarded_for = request.forwarded_for();
        let port = request.port.to_string();
        let added = [
            ("X-Amzn-Trace-Id", request.trace_id),
            ("X-Forwarded-For", forwarded_for.as_str()),
            ("X-Forwarded-Port", port.as_str()),
            ("X-Forwarded-Proto", "http"),
        ];
        for (name, value) in added {
            if self.multi {
                map.serialize_entry(name, &[value])?;
            } else {
                map.serialize_entry(name, value)?;
            }
        }
        map.end()
    }
}

type Grouped<'q> = [(Cow<'q, str>, Vec<Cow<'q, str>>)];

struct LastValues<'g, 'q>(&'g Grouped<'q>);

impl Serialize for LastValues<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, values) in self.0 {
            if let Some(last) = values.last() {
                map.serialize_entry(key, last)?;
            }
        }
        map.end()
    }
}

struct AllValues<'g, 'q>(&'g Grouped<'q>);

impl Serialize for AllValues<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, values) in self.0 {
            map.serialize_entry(key, values)?;
        }
        map.end()
    }
}

struct RequestContext<'r, 'a> {
    request: &'r RequestParts<'a>,
    context: &'r V1Context<'a>,
}

impl Serialize for RequestContext<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let request = self.request;
        let context = self.context;
        let host = request.host();
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("resourceId", context.resource_id)?;
        map.serialize_entry("resourcePath", context.resource)?;
        map.serialize_entry("httpMethod", request.method.as_str())?;
        map.serialize_entry("extendedRequestId", context.extended_request_id)?;
        map.serialize_entry("requestTime", &request_time(request.time_epoch_ms))?;
        // The cloud URL always carries the stage, and so does this path.
        let staged_path = if context.stage == "$default" {
            Cow::Borrowed(context.path)
        } else {
            Cow::Owned(format!("/{}{}", context.stage, context.path))
        };
        map.serialize_entry("path", &staged_path)?;
        map.serialize_entry("accountId", context.account_id)?;
        map.serialize_entry("protocol", request.protocol)?;
        map.serialize_entry("stage", context.stage)?;
        map.serialize_entry("domainPrefix", domain_prefix(&host))?;
        map.serialize_entry("requestTimeEpoch", &request.time_epoch_ms)?;
        map.serialize_entry("requestId", context.request_id)?;
        map.serialize_entry(
            "identity",
            &Identity {
                source_ip: request.source_ip.to_string(),
                user_agent: request.user_agent(),
            },
        )?;
        map.serialize_entry("domainName", &host)?;
        map.serialize_entry("apiId", context.api_id)?;
        if let Some(authorization) = context.authorization {
            map.serialize_entry("authorizer", &authorization.v1())?;
        }
        map.end()
    }
}

/// `requestContext.identity`: only the caller's address and agent are
/// known locally; the IAM and Cognito fields are `null`, as for an open
/// route in the cloud.
struct Identity<'a> {
    source_ip: String,
    user_agent: Cow<'a, str>,
}

impl Serialize for Identity<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(13))?;
        for key in [
            "cognitoIdentityPoolId",
            "accountId",
            "cognitoIdentityId",
            "caller",
            "apiKey",
        ] {
            map.serialize_entry(key, &())?;
        }
        map.serialize_entry("sourceIp", &self.source_ip)?;
        for key in [
            "principalOrgId",
            "accessKey",
            "cognitoAuthenticationType",
            "cognitoAuthenticationProvider",
            "userArn",
        ] {
            map.serialize_entry(key, &())?;
        }
        map.serialize_entry("userAgent", &self.user_agent)?;
        map.serialize_entry("user", &())?;
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
    use crate::gateway::authorizer::Authorization;
    use crate::gateway::request::{BinaryRule, event_body};

    struct Case<'a> {
        method: &'a str,
        target: &'a str,
        headers: &'a [(&'a str, &'a str)],
        body: &'a [u8],
        resource: &'a str,
        params: &'a [(&'a str, &'a str)],
        binary_media_types: &'a [String],
        authorization: Option<Authorization>,
    }

    impl Default for Case<'_> {
        fn default() -> Self {
            Case {
                method: "GET",
                target: "/",
                headers: &[],
                body: b"",
                resource: "/",
                params: &[],
                binary_media_types: &[],
                authorization: None,
            }
        }
    }

    /// The one place that builds a 1.0 event, rendered as pretty JSON.
    fn render(case: &Case<'_>) -> String {
        let method = Method::from_bytes(case.method.as_bytes()).unwrap();
        let (path, query) = case.target.split_once('?').unwrap_or((case.target, ""));
        let mut map = HeaderMap::new();
        for (name, value) in case.headers {
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
            body: case.body,
            source_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            protocol: "HTTP/1.1",
            time_epoch_ms: 1_428_582_896_000,
            port: 3000,
            trace_id: "Root=1-5e6a8e3e-0123456789abcdef01234567",
        };
        let params: Vec<(&str, Cow<'_, str>)> = case
            .params
            .iter()
            .map(|(k, v)| (*k, Cow::Borrowed(*v)))
            .collect();
        let body = event_body(
            case.body,
            &map,
            BinaryRule::MediaTypes(case.binary_media_types),
        );
        let event = event(
            &request,
            &V1Context {
                http_api: false,
                resource: case.resource,
                path,
                resource_id: "a1b2c3",
                account_id: "123456789012",
                api_id: "abcdefghij",
                stage: "Prod",
                request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                extended_request_id: "JkHs_jtXIAMEPqA=",
                path_params: &params,
                stage_variables: &[],
                authorization: case.authorization.as_ref(),
                body: &body,
            },
        );
        let value: serde_json::Value = serde_json::from_slice(&event).unwrap();
        serde_json::to_string_pretty(&value).unwrap()
    }

    fn check(case: Case<'_>, expected: Expect) {
        expected.assert_eq(&render(&case));
    }

    #[test]
    fn greedy_get_with_repeated_query_keys() {
        check(
            Case {
                target: "/files/a/b.txt?tag=x&tag=y&one=1",
                headers: &[
                    ("host", "localhost:3000"),
                    ("user-agent", "curl/8.0"),
                    ("x-multi", "1"),
                    ("x-multi", "2"),
                ],
                resource: "/files/{proxy+}",
                params: &[("proxy", "a/b.txt")],
                ..Case::default()
            },
            expect![[r#"
                {
                  "body": null,
                  "headers": {
                    "Host": "localhost:3000",
                    "User-Agent": "curl/8.0",
                    "X-Amzn-Trace-Id": "Root=1-5e6a8e3e-0123456789abcdef01234567",
                    "X-Forwarded-For": "127.0.0.1",
                    "X-Forwarded-Port": "3000",
                    "X-Forwarded-Proto": "http",
                    "X-Multi": "2"
                  },
                  "httpMethod": "GET",
                  "isBase64Encoded": false,
                  "multiValueHeaders": {
                    "Host": [
                      "localhost:3000"
                    ],
                    "User-Agent": [
                      "curl/8.0"
                    ],
                    "X-Amzn-Trace-Id": [
                      "Root=1-5e6a8e3e-0123456789abcdef01234567"
                    ],
                    "X-Forwarded-For": [
                      "127.0.0.1"
                    ],
                    "X-Forwarded-Port": [
                      "3000"
                    ],
                    "X-Forwarded-Proto": [
                      "http"
                    ],
                    "X-Multi": [
                      "1",
                      "2"
                    ]
                  },
                  "multiValueQueryStringParameters": {
                    "one": [
                      "1"
                    ],
                    "tag": [
                      "x",
                      "y"
                    ]
                  },
                  "path": "/files/a/b.txt",
                  "pathParameters": {
                    "proxy": "a/b.txt"
                  },
                  "queryStringParameters": {
                    "one": "1",
                    "tag": "y"
                  },
                  "requestContext": {
                    "accountId": "123456789012",
                    "apiId": "abcdefghij",
                    "domainName": "localhost:3000",
                    "domainPrefix": "localhost",
                    "extendedRequestId": "JkHs_jtXIAMEPqA=",
                    "httpMethod": "GET",
                    "identity": {
                      "accessKey": null,
                      "accountId": null,
                      "apiKey": null,
                      "caller": null,
                      "cognitoAuthenticationProvider": null,
                      "cognitoAuthenticationType": null,
                      "cognitoIdentityId": null,
                      "cognitoIdentityPoolId": null,
                      "principalOrgId": null,
                      "sourceIp": "127.0.0.1",
                      "user": null,
                      "userAgent": "curl/8.0",
                      "userArn": null
                    },
                    "path": "/Prod/files/a/b.txt",
                    "protocol": "HTTP/1.1",
                    "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                    "requestTime": "09/Apr/2015:12:34:56 +0000",
                    "requestTimeEpoch": 1428582896000,
                    "resourceId": "a1b2c3",
                    "resourcePath": "/files/{proxy+}",
                    "stage": "Prod"
                  },
                  "resource": "/files/{proxy+}",
                  "stageVariables": null
                }"#]],
        );
    }

    #[test]
    fn post_bodies_and_authorizer_context() {
        let types = ["image/*".to_owned()];
        let json = render(&Case {
            method: "POST",
            headers: &[("content-type", "application/json")],
            body: br#"{"name":"towel"}"#,
            binary_media_types: &types,
            authorization: Some(Authorization::Lambda {
                principal_id: Some("user-1".to_owned()),
                context: serde_json::from_str(r#"{"role":"admin","level":3}"#).unwrap(),
                latency_ms: 4,
            }),
            ..Case::default()
        });
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["body"], r#"{"name":"towel"}"#);
        assert_eq!(value["isBase64Encoded"], false);
        expect![[r#"{"integrationLatency":4,"level":"3","principalId":"user-1","role":"admin"}"#]]
            .assert_eq(&value["requestContext"]["authorizer"].to_string());
        let png = render(&Case {
            method: "POST",
            headers: &[("content-type", "image/png")],
            body: b"\x89PNG",
            binary_media_types: &types,
            ..Case::default()
        });
        let value: serde_json::Value = serde_json::from_str(&png).unwrap();
        assert_eq!(value["body"], "iVBORw==");
        assert_eq!(value["isBase64Encoded"], true);
        // Without a matching BinaryMediaTypes entry, text stays text.
        let text = render(&Case {
            method: "POST",
            headers: &[("content-type", "image/png")],
            body: b"PNG",
            ..Case::default()
        });
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["body"], "PNG");
    }

    proptest! {
        #[test]
        fn any_request_makes_a_valid_event(
            query in "[a-zA-Z0-9=&%+;,._~-]{0,40}",
            header_value in "[ -~]{0,40}",
            body in any::<Vec<u8>>(),
        ) {
            let target = format!("/x?{query}");
            let rendered = render(&Case { method: "PUT", target: &target, headers: &[("x-any", &header_value)], body: &body, ..Case::default() });
            let value: serde_json::Value = serde_json::from_str(&rendered).unwrap();
            prop_assert_eq!(value["httpMethod"].as_str(), Some("PUT"));
            prop_assert_eq!(value["body"].is_null(), body.is_empty());
        }
    }
}
