//! CORS as API Gateway applies an API's `Cors` (REST) or
//! `CorsConfiguration` (HTTP APIs, function URLs).
//!
//! - REST: SAM adds an `OPTIONS` method to every path, a mock integration
//!   answering 200 with the configured `Access-Control-*` headers. Other
//!   responses are the function's own; it must add CORS headers itself.
//! - HTTP APIs and function URLs: the gateway answers preflights (OPTIONS
//!   with `Origin` and `Access-Control-Request-Method`) with 204, and adds
//!   the configured headers to every response to an allowed origin,
//!   replacing any CORS headers the function set.

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use crate::app::Cors;

/// Every method, for `ANY` routes in REST preflights.
const ALL_METHODS: &str = "DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT";

/// Whether a request is a CORS preflight.
pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS
        && headers.contains_key(ORIGIN)
        && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
}

/// The REST mock `OPTIONS` answer: status 200 and the configured headers.
/// `path_methods` are the methods the path's routes declare, used when
/// `AllowMethods` is not set.
pub fn rest_options(
    cors: &Cors,
    path_methods: &[String],
) -> (StatusCode, Vec<(HeaderName, HeaderValue)>) {
    let mut headers = Vec::new();
    push(
        &mut headers,
        ACCESS_CONTROL_ALLOW_ORIGIN,
        &cors.allow_origins.join(","),
    );
    let methods = if !cors.allow_methods.is_empty() {
        cors.allow_methods.join(",")
    } else if path_methods.iter().any(|m| m == "ANY") {
        ALL_METHODS.to_owned()
    } else {
        let mut methods: Vec<&str> = path_methods.iter().map(String::as_str).collect();
        methods.push("OPTIONS");
        methods.sort_unstable();
        methods.dedup();
        methods.join(",")
    };
    push(&mut headers, ACCESS_CONTROL_ALLOW_METHODS, &methods);
    if !cors.allow_headers.is_empty() {
        push(
            &mut headers,
            ACCESS_CONTROL_ALLOW_HEADERS,
            &cors.allow_headers.join(","),
        );
    }
    if let Some(max_age) = cors.max_age {
        push(&mut headers, ACCESS_CONTROL_MAX_AGE, &max_age.to_string());
    }
    if cors.allow_credentials {
        push(&mut headers, ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
    }
    (StatusCode::OK, headers)
}

/// An HTTP API's (or function URL's) preflight answer: 204, with the CORS
/// headers when the origin and the requested method are allowed.
pub fn http_preflight(
    cors: &Cors,
    request: &HeaderMap,
) -> (StatusCode, Vec<(HeaderName, HeaderValue)>) {
    let mut headers = Vec::new();
    let Some(origin) = allowed_origin(cors, request) else {
        return (StatusCode::NO_CONTENT, headers);
    };
    let requested = request
        .get(ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim();
    let method_allowed = cors
        .allow_methods
        .iter()
        .any(|m| m == "*" || m.eq_ignore_ascii_case(requested));
    if !method_allowed {
        return (StatusCode::NO_CONTENT, headers);
    }
    push(&mut headers, ACCESS_CONTROL_ALLOW_ORIGIN, &origin);
    push(
        &mut headers,
        ACCESS_CONTROL_ALLOW_METHODS,
        &cors.allow_methods.join(","),
    );
    if !cors.allow_headers.is_empty() {
        push(
            &mut headers,
            ACCESS_CONTROL_ALLOW_HEADERS,
            &cors.allow_headers.join(","),
        );
    }
    if let Some(max_age) = cors.max_age {
        push(&mut headers, ACCESS_CONTROL_MAX_AGE, &max_age.to_string());
    }
    if cors.allow_credentials {
        push(&mut headers, ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
    }
    (StatusCode::NO_CONTENT, headers)
}

/// Applies an HTTP API's CORS to a response: the function's own CORS
/// headers are dropped, and an allowed origin gets the configured ones.
pub fn decorate(cors: &Cors, request: &HeaderMap, response: &mut HeaderMap) {
    for name in [
        ACCESS_CONTROL_ALLOW_ORIGIN,
        ACCESS_CONTROL_ALLOW_CREDENTIALS,
        ACCESS_CONTROL_EXPOSE_HEADERS,
        ACCESS_CONTROL_ALLOW_METHODS,
        ACCESS_CONTROL_ALLOW_HEADERS,
        ACCESS_CONTROL_MAX_AGE,
    ] {
        response.remove(name);
    }
    let Some(origin) = allowed_origin(cors, request) else {
        return;
    };
    if let Ok(value) = HeaderValue::from_str(&origin) {
        response.insert(ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    if !cors.expose_headers.is_empty()
        && let Ok(value) = HeaderValue::from_str(&cors.expose_headers.join(","))
    {
        response.insert(ACCESS_CONTROL_EXPOSE_HEADERS, value);
    }
    if cors.allow_credentials {
        response.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

/// The `Access-Control-Allow-Origin` value for the request's origin: `*`
/// when every origin is allowed (and credentials are not), else the origin
/// itself when listed.
fn allowed_origin(cors: &Cors, request: &HeaderMap) -> Option<String> {
    let origin = request.get(ORIGIN)?.to_str().ok()?.trim();
    let wildcard = cors.allow_origins.iter().any(|o| o == "*");
    if wildcard && !cors.allow_credentials {
        return Some("*".to_owned());
    }
    (wildcard
        || cors
            .allow_origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin)))
    .then(|| origin.to_owned())
}

fn push(headers: &mut Vec<(HeaderName, HeaderValue)>, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.push((name, value));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use expect_test::{Expect, expect};

    use super::*;

    fn render((status, headers): (StatusCode, Vec<(HeaderName, HeaderValue)>)) -> String {
        let mut out = status.as_u16().to_string();
        for (name, value) in headers {
            out.push_str(&format!("\n{name}: {}", value.to_str().unwrap()));
        }
        out
    }

    fn request(origin: Option<&str>, method: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(origin) = origin {
            headers.insert(ORIGIN, origin.parse().unwrap());
        }
        if let Some(method) = method {
            headers.insert(ACCESS_CONTROL_REQUEST_METHOD, method.parse().unwrap());
        }
        headers
    }

    fn http_cors() -> Cors {
        Cors {
            allow_origins: vec!["https://app.example".to_owned()],
            allow_methods: vec!["GET".to_owned(), "POST".to_owned()],
            allow_headers: vec!["authorization".to_owned(), "content-type".to_owned()],
            expose_headers: vec!["x-request-id".to_owned()],
            max_age: Some(600),
            allow_credentials: true,
        }
    }

    fn check_preflight(cors: &Cors, origin: Option<&str>, method: Option<&str>, expected: Expect) {
        expected.assert_eq(&render(http_preflight(cors, &request(origin, method))));
    }

    #[test]
    fn http_preflights() {
        let cors = http_cors();
        check_preflight(
            &cors,
            Some("https://app.example"),
            Some("POST"),
            expect![[r#"
            204
            access-control-allow-origin: https://app.example
            access-control-allow-methods: GET,POST
            access-control-allow-headers: authorization,content-type
            access-control-max-age: 600
            access-control-allow-credentials: true"#]],
        );
        check_preflight(
            &cors,
            Some("https://evil.example"),
            Some("POST"),
            expect!["204"],
        );
        check_preflight(
            &cors,
            Some("https://app.example"),
            Some("DELETE"),
            expect!["204"],
        );
        let open = Cors {
            allow_origins: vec!["*".to_owned()],
            allow_methods: vec!["*".to_owned()],
            allow_headers: vec!["*".to_owned()],
            ..Cors::default()
        };
        check_preflight(
            &open,
            Some("https://any.example"),
            Some("PATCH"),
            expect![[r#"
            204
            access-control-allow-origin: *
            access-control-allow-methods: *
            access-control-allow-headers: *"#]],
        );
    }

    #[test]
    fn rest_options_lists_path_methods() {
        let cors = Cors {
            allow_origins: vec!["*".to_owned()],
            ..Cors::default()
        };
        expect![[r#"
            200
            access-control-allow-origin: *
            access-control-allow-methods: GET,OPTIONS,POST"#]]
        .assert_eq(&render(rest_options(
            &cors,
            &["POST".to_owned(), "GET".to_owned()],
        )));
        expect![[r#"
            200
            access-control-allow-origin: *
            access-control-allow-methods: DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT"#]]
        .assert_eq(&render(rest_options(&cors, &["ANY".to_owned()])));
    }

    #[test]
    fn responses_get_configured_headers_only() {
        let cors = http_cors();
        let mut response = HeaderMap::new();
        response.insert(
            ACCESS_CONTROL_ALLOW_ORIGIN,
            "https://function.example".parse().unwrap(),
        );
        decorate(
            &cors,
            &request(Some("https://app.example"), None),
            &mut response,
        );
        assert_eq!(response[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
        assert_eq!(response[ACCESS_CONTROL_EXPOSE_HEADERS], "x-request-id");
        let mut response = HeaderMap::new();
        response.insert(ACCESS_CONTROL_ALLOW_ORIGIN, "*".parse().unwrap());
        decorate(
            &cors,
            &request(Some("https://evil.example"), None),
            &mut response,
        );
        assert!(response.is_empty());
    }
}
