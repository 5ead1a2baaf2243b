//! Turns a function's result into the HTTP response API Gateway sends:
//! `statusCode`, `headers`, `multiValueHeaders`, `cookies` (2.0), `body`
//! and `isBase64Encoded`.
//!
//! - Format 1.0 needs an object with a `statusCode`; REST APIs refuse any
//!   other key, as the cloud does ("Malformed Lambda proxy response").
//! - Format 2.0 infers: valid JSON without a `statusCode` (an object
//!   without one, a string, a number, `null`) becomes a 200
//!   `application/json` response whose body is the function's JSON text.
//! - A base64 body is decoded for HTTP APIs and function URLs; REST APIs
//!   decode it only when the response's `Content-Type` or the request's
//!   `Accept` matches a `BinaryMediaTypes` entry, else the text goes out.
//!
//! Anything else is [`Malformed`], which the gateway answers with its
//! integration error and explains on the console.

use base64::Engine as _;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, SET_COOKIE};
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::{Map, Value};

use super::request::media_type_matches;

/// The response to send, before the gateway adds its own headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

/// Why a function's result is not a usable response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed Lambda proxy response: {0}")]
pub struct Malformed(pub String);

fn malformed(reason: impl Into<String>) -> Malformed {
    Malformed(reason.into())
}

/// Which base64 bodies are decoded.
#[derive(Debug, Clone, Copy)]
pub enum Decoding<'a> {
    /// HTTP APIs and function URLs: always.
    Always,
    /// REST APIs: when the response's content type or the request's
    /// `Accept` matches one of these media types.
    BinaryMediaTypes {
        types: &'a [String],
        accept: Option<&'a str>,
    },
}

/// The format the function's answer is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFormat {
    /// REST APIs: 1.0, only the documented keys allowed.
    RestV1,
    /// HTTP API routes with payload format 1.0.
    HttpV1,
    /// HTTP API 2.0 and function URLs, with inference.
    V2,
}

/// Maps a successful function payload to a response.
pub fn map(
    payload: &[u8],
    format: ResponseFormat,
    decoding: Decoding<'_>,
) -> Result<Reply, Malformed> {
    let value: Value = serde_json::from_slice(payload).map_err(|e| {
        if payload.iter().all(u8::is_ascii_whitespace) {
            malformed("the function returned nothing")
        } else {
            malformed(format!("the function's result is not JSON ({e})"))
        }
    })?;
    let object = match value {
        Value::Object(object)
            if format != ResponseFormat::V2 || object.contains_key("statusCode") =>
        {
            object
        }
        _ if format == ResponseFormat::V2 => return Ok(inferred(payload)),
        Value::Null => {
            return Err(malformed(
                "the function returned null; it must return an object with a statusCode",
            ));
        }
        other => {
            return Err(malformed(format!(
                "the function returned {}; it must return an object with a statusCode",
                kind_name(&other)
            )));
        }
    };
    structured(object, format, decoding)
}

/// Format 2.0's inference for JSON without a `statusCode`.
fn inferred(payload: &[u8]) -> Reply {
    Reply {
        status: StatusCode::OK,
        headers: vec![(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body: Bytes::copy_from_slice(trim_ascii(payload)),
    }
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

const V1_KEYS: &[&str] = &[
    "statusCode",
    "headers",
    "multiValueHeaders",
    "body",
    "isBase64Encoded",
];

fn structured(
    object: Map<String, Value>,
    format: ResponseFormat,
    decoding: Decoding<'_>,
) -> Result<Reply, Malformed> {
    if format == ResponseFormat::RestV1
        && let Some(key) = object.keys().find(|k| !V1_KEYS.contains(&k.as_str()))
    {
        return Err(malformed(format!(
            "unexpected key `{key}`; the allowed keys are {}",
            V1_KEYS.join(", ")
        )));
    }
    let status = status_code(object.get("statusCode"))?;
    let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
    let multi_names: Vec<HeaderName> = match object.get("multiValueHeaders") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(multi)) if format != ResponseFormat::V2 => {
            let mut names = Vec::with_capacity(multi.len());
            for (name, values) in multi {
                let header = header_name(name)?;
                match values {
                    Value::Array(values) => {
                        for value in values {
                            headers.push((header.clone(), header_value(name, value)?));
                        }
                    }
                    Value::Null => {}
                    single => headers.push((header.clone(), header_value(name, single)?)),
                }
                names.push(header);
            }
            names
        }
        Some(Value::Object(_)) => Vec::new(),
        Some(_) => return Err(malformed("multiValueHeaders is not an object")),
    };
    match object.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(single)) => {
            for (name, value) in single {
                let header = header_name(name)?;
                // The same name in both maps: multiValueHeaders wins.
                if multi_names.contains(&header) || value.is_null() {
                    continue;
                }
                headers.push((header, header_value(name, value)?));
            }
        }
        Some(_) => return Err(malformed("headers is not an object")),
    }
    if format == ResponseFormat::V2 {
        match object.get("cookies") {
            None | Some(Value::Null) => {}
            Some(Value::Array(cookies)) => {
                for cookie in cookies {
                    let Some(text) = cookie.as_str() else {
                        return Err(malformed("cookies must be a list of strings"));
                    };
                    let value = HeaderValue::from_str(text).map_err(|_| {
                        malformed(format!("cookie `{text}` is not a valid header value"))
                    })?;
                    headers.push((SET_COOKIE, value));
                }
            }
            Some(_) => return Err(malformed("cookies must be a list of strings")),
        }
    }
    headers.retain(|(name, _)| !is_framing_header(name));

    let base64 = match object.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        // Some runtimes send the flag as a string.
        Some(Value::String(s))
            if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") =>
        {
            s.eq_ignore_ascii_case("true")
        }
        Some(_) => return Err(malformed("isBase64Encoded is not a boolean")),
    };
    let body = match object.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(text)) => {
            let decode = base64
                && match decoding {
                    Decoding::Always => true,
                    Decoding::BinaryMediaTypes { types, accept } => {
                        let content_type = headers
                            .iter()
                            .find(|(n, _)| *n == CONTENT_TYPE)
                            .and_then(|(_, v)| v.to_str().ok());
                        types.iter().any(|t| {
                            content_type.is_some_and(|c| media_type_matches(t, c))
                                || accept.is_some_and(|a| {
                                    a.split(',')
                                        .next()
                                        .is_some_and(|first| media_type_matches(t, first))
                                })
                        })
                    }
                };
            if decode {
                base64::engine::general_purpose::STANDARD
                    .decode(text.trim())
                    .map(Bytes::from)
                    .map_err(|e| {
                        malformed(format!(
                            "body is marked isBase64Encoded but is not base64 ({e})"
                        ))
                    })?
            } else {
                Bytes::from(text.clone())
            }
        }
        Some(other) if format == ResponseFormat::V2 => Bytes::from(other.to_string()),
        Some(other) => {
            return Err(malformed(format!(
                "body must be a string, found {}",
                kind_name(other)
            )));
        }
    };
    if format == ResponseFormat::RestV1 && !headers.iter().any(|(n, _)| *n == CONTENT_TYPE) {
        // REST APIs label a response without a type as JSON.
        headers.push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
    }
    Ok(Reply {
        status,
        headers,
        body,
    })
}

fn status_code(value: Option<&Value>) -> Result<StatusCode, Malformed> {
    let code = match value {
        Some(Value::Number(n)) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        }),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        None => return Err(malformed("statusCode is missing")),
        Some(_) => None,
    };
    code.and_then(|c| u16::try_from(c).ok())
        .filter(|c| (100..=599).contains(c))
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or_else(|| {
            malformed(format!(
                "statusCode {} is not an HTTP status",
                value.map(Value::to_string).unwrap_or_default()
            ))
        })
}

fn header_name(name: &str) -> Result<HeaderName, Malformed> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| malformed(format!("`{name}` is not a valid header name")))
}

fn header_value(name: &str, value: &Value) -> Result<HeaderValue, Malformed> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => {
            return Err(malformed(format!(
                "header `{name}` must be a string, number or boolean"
            )));
        }
    };
    HeaderValue::from_str(&text).map_err(|_| {
        malformed(format!(
            "header `{name}` has a value that is not valid in HTTP"
        ))
    })
}

/// Headers that describe the connection or the framing, which the gateway
/// decides itself; passing a function's would corrupt the response.
fn is_framing_header(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "content-length"
            | "transfer-encoding"
            | "connection"
            | "keep-alive"
            | "upgrade"
            | "te"
            | "trailer"
    )
}

fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use expect_test::{Expect, expect};
    use proptest::prelude::*;

    use super::*;

    fn render(result: Result<Reply, Malformed>) -> String {
        match result {
            Ok(reply) => {
                let mut out = format!("{}", reply.status.as_u16());
                for (name, value) in &reply.headers {
                    out.push_str(&format!("\n{name}: {}", value.to_str().unwrap_or("?")));
                }
                out.push_str(&format!("\n\n{:?}", reply.body));
                out
            }
            Err(Malformed(reason)) => format!("malformed: {reason}"),
        }
    }

    fn check(payload: &str, format: ResponseFormat, expected: Expect) {
        expected.assert_eq(&render(map(payload.as_bytes(), format, Decoding::Always)));
    }

    #[test]
    fn v2_infers_plain_results() {
        check(
            r#""Hello from Lambda!""#,
            ResponseFormat::V2,
            expect![[r#"
            200
            content-type: application/json

            b"\"Hello from Lambda!\"""#]],
        );
        check(
            r#" {"message":"hi"} "#,
            ResponseFormat::V2,
            expect![[r#"
            200
            content-type: application/json

            b"{\"message\":\"hi\"}""#]],
        );
        check(
            "null",
            ResponseFormat::V2,
            expect![[r#"
            200
            content-type: application/json

            b"null""#]],
        );
        check(
            "",
            ResponseFormat::V2,
            expect!["malformed: the function returned nothing"],
        );
        check(
            "garbage",
            ResponseFormat::V2,
            expect![
                "malformed: the function's result is not JSON (expected value at line 1 column 1)"
            ],
        );
    }

    #[test]
    fn v2_structured_responses() {
        check(
            r#"{"statusCode":201,"headers":{"content-type":"text/plain","x-n":5},"cookies":["a=1; Max-Age=60","b=2"],"body":"hi","isBase64Encoded":false}"#,
            ResponseFormat::V2,
            expect![[r#"
                201
                content-type: text/plain
                x-n: 5
                set-cookie: a=1; Max-Age=60
                set-cookie: b=2

                b"hi""#]],
        );
        check(
            r#"{"statusCode":200,"body":"AAEC","isBase64Encoded":true}"#,
            ResponseFormat::V2,
            expect![[r#"
            200

            b"\0\x01\x02""#]],
        );
        check(
            r#"{"statusCode":200,"body":"%%%","isBase64Encoded":true}"#,
            ResponseFormat::V2,
            expect![
                "malformed: body is marked isBase64Encoded but is not base64 (Invalid symbol 37, offset 0.)"
            ],
        );
        check(
            r#"{"statusCode":"abc"}"#,
            ResponseFormat::V2,
            expect![[r#"malformed: statusCode "abc" is not an HTTP status"#]],
        );
        check(
            r#"{"statusCode":200,"headers":{"content-length":"99","bad name":"x"}}"#,
            ResponseFormat::V2,
            expect!["malformed: `bad name` is not a valid header name"],
        );
        check(
            r#"{"statusCode":204,"headers":{"content-length":"99","transfer-encoding":"chunked"}}"#,
            ResponseFormat::V2,
            expect![[r#"
            204

            b"""#]],
        );
    }

    #[test]
    fn v1_is_strict_on_rest() {
        check(
            r#"{"statusCode":200,"headers":{"A":"1","B":"2"},"multiValueHeaders":{"B":["3","4"],"Set-Cookie":["x=1","y=2"]},"body":"ok"}"#,
            ResponseFormat::RestV1,
            expect![[r#"
                200
                b: 3
                b: 4
                set-cookie: x=1
                set-cookie: y=2
                a: 1
                content-type: application/json

                b"ok""#]],
        );
        check(
            r#"{"statusCode":"200","body":"ok"}"#,
            ResponseFormat::RestV1,
            expect![[r#"
            200
            content-type: application/json

            b"ok""#]],
        );
        check(
            r#"{"statusCode":200,"body":{"a":1}}"#,
            ResponseFormat::RestV1,
            expect!["malformed: body must be a string, found an object"],
        );
        check(
            r#"{"statusCode":200,"extra":1}"#,
            ResponseFormat::RestV1,
            expect![
                "malformed: unexpected key `extra`; the allowed keys are statusCode, headers, multiValueHeaders, body, isBase64Encoded"
            ],
        );
        check(
            r#"{"statusCode":200,"extra":1}"#,
            ResponseFormat::HttpV1,
            expect![[r#"
            200

            b"""#]],
        );
        check(
            r#"{"body":"x"}"#,
            ResponseFormat::RestV1,
            expect!["malformed: statusCode is missing"],
        );
        check(
            "null",
            ResponseFormat::RestV1,
            expect![
                "malformed: the function returned null; it must return an object with a statusCode"
            ],
        );
        check(
            r#""text""#,
            ResponseFormat::RestV1,
            expect![
                "malformed: the function returned a string; it must return an object with a statusCode"
            ],
        );
        check(
            r#"{"statusCode":700}"#,
            ResponseFormat::RestV1,
            expect!["malformed: statusCode 700 is not an HTTP status"],
        );
    }

    #[test]
    fn rest_decodes_base64_only_for_binary_media_types() {
        let payload = br#"{"statusCode":200,"headers":{"Content-Type":"image/png"},"body":"iVBO","isBase64Encoded":true}"#;
        let types = ["image/png".to_owned()];
        let decoded = map(
            payload,
            ResponseFormat::RestV1,
            Decoding::BinaryMediaTypes {
                types: &types,
                accept: None,
            },
        )
        .unwrap();
        assert_eq!(decoded.body.as_ref(), b"\x89PN");
        let kept = map(
            payload,
            ResponseFormat::RestV1,
            Decoding::BinaryMediaTypes {
                types: &[],
                accept: None,
            },
        )
        .unwrap();
        assert_eq!(kept.body.as_ref(), b"iVBO");
        let by_accept = map(
            br#"{"statusCode":200,"body":"iVBO","isBase64Encoded":true}"#,
            ResponseFormat::RestV1,
            Decoding::BinaryMediaTypes {
                types: &types,
                accept: Some("image/png, */*"),
            },
        )
        .unwrap();
        assert_eq!(by_accept.body.as_ref(), b"\x89PN");
    }

    proptest! {
        #[test]
        fn any_payload_maps_or_is_malformed(payload in any::<Vec<u8>>()) {
            for format in [ResponseFormat::RestV1, ResponseFormat::HttpV1, ResponseFormat::V2] {
                let _ = map(&payload, format, Decoding::Always);
            }
        }

        #[test]
        fn any_json_response_maps_or_is_malformed(
            status in prop_oneof![any::<i64>().prop_map(Value::from), any::<String>().prop_map(Value::from), Just(Value::Null)],
            headers in proptest::collection::btree_map(any::<String>(), any::<String>(), 0..4),
            body in any::<String>(),
            base64 in any::<bool>(),
        ) {
            let payload = serde_json::json!({ "statusCode": status, "headers": headers, "body": body, "isBase64Encoded": base64 });
            for format in [ResponseFormat::RestV1, ResponseFormat::HttpV1, ResponseFormat::V2] {
                if let Ok(reply) = map(payload.to_string().as_bytes(), format, Decoding::Always) {
                    prop_assert!((100..=599).contains(&reply.status.as_u16()));
                }
            }
        }
    }
}
