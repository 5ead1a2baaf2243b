//! What API Gateway does besides passing events: every error path (function
//! errors, malformed answers, unknown routes, oversized bodies, integration
//! timeouts, throttling), v2 response inference, cookies and binary
//! responses, CORS, Lambda and JWT authorizers, and function URLs.

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::{Echo, send};

const PRIVATE_KEY: &str = include_str!("../../emulator/src/gateway/testdata/jwt-private.pem");

/// The JWKS matching [`PRIVATE_KEY`].
fn jwks_path() -> String {
    format!(
        "{}/../emulator/src/gateway/testdata/jwks.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A token for the fixture's JWT authorizer, signed with the test key;
/// `overrides` replace or add claims.
pub fn jwt(overrides: Value) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut claims = json!({
        "sub": "ada",
        "iss": "https://issuer.example",
        "aud": "my-app",
        "iat": now,
        "exp": now + 600,
        "scope": "orders:read orders:write",
    });
    for (key, value) in overrides.as_object().unwrap() {
        claims[key] = value.clone();
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-key".to_owned());
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(PRIVATE_KEY.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// Asserts status and JSON body, showing fogbank's output on failure.
fn expect(echo: &Echo, response: &fogbank_tests::http::Response, status: u16, body: Value) {
    assert_eq!(
        (response.status, response.json()),
        (status, body),
        "headers: {:?}\noutput:\n{}",
        response.headers,
        echo.fogbank.output()
    );
}

#[test]
fn function_failures_and_malformed_answers() {
    let echo = Echo::start();
    let rest_error = json!({ "message": "Internal server error" });
    let http_error = json!({ "message": "Internal Server Error" });
    for mode in ["raise", "garbage", "nothing", "none", "extra-key"] {
        let rest = echo.send("GET", "/rest/mode", &[("x-echo-mode", mode)], b"");
        expect(&echo, &rest, 502, rest_error.clone());
        assert_eq!(
            rest.header("x-amzn-errortype"),
            Some("InternalServerErrorException")
        );
        assert!(
            rest.header("x-amzn-requestid").is_some() && rest.header("x-amz-apigw-id").is_some()
        );
    }
    for mode in ["raise", "garbage", "nothing"] {
        let http = echo.send("GET", "/http/mode", &[("x-echo-mode", mode)], b"");
        expect(&echo, &http, 500, http_error.clone());
        assert!(http.header("apigw-requestid").is_some());
    }
    // The console explains each failure. Each line is waited for: the
    // console writes in the background, and the requests' order says
    // nothing about which line is flushed first.
    for line in [
        "the function returned nothing",
        "unexpected key `unexpected`",
        "failed: RuntimeError",
    ] {
        assert!(
            echo.fogbank.wait_for_output(line, Duration::from_secs(5)),
            "no `{line}` in:\n{}",
            echo.fogbank.output()
        );
    }
}

#[test]
fn http_api_responses_are_inferred_and_mapped() {
    let echo = Echo::start();
    // A plain string or object (or null) without statusCode: 200 JSON.
    for (mode, body) in [
        ("string", r#""plain string""#),
        ("plain", r#"{"message": "plain object"}"#),
        ("none", "null"),
    ] {
        let response = echo.send("GET", "/http/mode", &[("x-echo-mode", mode)], b"");
        assert_eq!(
            (response.status, response.text().as_str()),
            (200, body),
            "{mode}"
        );
        assert_eq!(response.header("content-type"), Some("application/json"));
    }
    // Cookies become set-cookie headers; binary bodies are decoded.
    let cookies = echo.send("GET", "/http/mode", &[("x-echo-mode", "cookies")], b"");
    let set_cookies: Vec<&str> = cookies
        .headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(set_cookies, ["a=1; Max-Age=60", "b=2"]);
    let binary = echo.send("GET", "/http/mode", &[("x-echo-mode", "binary")], b"");
    assert_eq!(binary.body.as_ref(), b"\x89PNG\r\n\x1a\n\x00\xff");
    // REST decodes base64 only for BinaryMediaTypes (image/png here).
    let rest_binary = echo.send("GET", "/rest/mode", &[("x-echo-mode", "binary")], b"");
    assert_eq!(rest_binary.body.as_ref(), b"\x89PNG\r\n\x1a\n\x00\xff");
    // multiValueHeaders reach the client on REST.
    let rest = echo.send("GET", "/rest/items/1", &[], b"");
    let multi: Vec<&str> = rest
        .headers
        .iter()
        .filter(|(n, _)| n == "x-multi")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(multi, ["1", "2"]);
}

#[test]
fn unknown_routes_and_oversized_bodies() {
    let echo = Echo::start();
    // The fixture has both kinds of API; an unknown path anywhere is the
    // HTTP API's 404, an unknown path under the REST stage is REST's 403.
    expect(
        &echo,
        &echo.send("GET", "/nowhere", &[], b""),
        404,
        json!({ "message": "Not Found" }),
    );
    let rest = echo.send("GET", "/Prod/nowhere", &[], b"");
    expect(
        &echo,
        &rest,
        403,
        json!({ "message": "Missing Authentication Token" }),
    );
    assert_eq!(
        rest.header("x-amzn-errortype"),
        Some("MissingAuthenticationTokenException")
    );
    let big = vec![b'x'; 10 * 1024 * 1024 + 1];
    for path in ["/rest/items", "/http/orders"] {
        let response = echo.send("POST", path, &[("content-type", "text/plain")], &big);
        expect(
            &echo,
            &response,
            413,
            json!({ "message": "Request Entity Too Large" }),
        );
    }
    // Exactly 10 MB is accepted, though Lambda's 6 MB event limit then
    // refuses it, as in the cloud.
    let limit = vec![b'x'; 10 * 1024 * 1024];
    assert_eq!(
        echo.send(
            "POST",
            "/http/orders",
            &[("content-type", "text/plain")],
            &limit
        )
        .status,
        413
    );
    let small = vec![b'x'; 1024 * 1024];
    assert_eq!(
        echo.send(
            "POST",
            "/http/orders",
            &[("content-type", "text/plain")],
            &small
        )
        .status,
        200
    );
}

#[test]
fn integration_timeouts_and_throttling() {
    let echo = Echo::start();
    // TimeoutInMillis: 500 on both routes; the function sleeps 5 s.
    for (path, status, body) in [
        (
            "/rest/slow",
            504,
            json!({ "message": "Endpoint request timed out" }),
        ),
        (
            "/http/slow",
            503,
            json!({ "message": "Service Unavailable" }),
        ),
    ] {
        let started = Instant::now();
        let response = echo.send("GET", path, &[("x-echo-mode", "sleep5")], b"");
        expect(&echo, &response, status, body);
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{path}: the timeout took {:?}",
            started.elapsed()
        );
    }
    assert!(
        echo.fogbank
            .output()
            .contains("did not answer within the integration timeout of 500 ms")
    );

    // LimitedFunction has ReservedConcurrentExecutions: 1.
    let address = echo.gateway;
    let slow = std::thread::spawn(move || {
        send(
            address,
            "GET",
            "/http/limited",
            &[("x-echo-mode", "sleep1.5")],
            b"",
        )
    });
    std::thread::sleep(Duration::from_millis(700));
    let throttled = echo.send("GET", "/http/limited", &[], b"");
    expect(
        &echo,
        &throttled,
        429,
        json!({ "message": "Too Many Requests" }),
    );
    assert_eq!(slow.join().unwrap().status, 200);
    // Once the slow one finished, the function answers again.
    assert_eq!(echo.send("GET", "/http/limited", &[], b"").status, 200);
}

#[test]
fn cors_preflights_and_headers() {
    let echo = Echo::start();
    let preflight = [
        ("origin", "https://app.example"),
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "content-type"),
    ];
    // HTTP API: answered by the gateway with 204 and the configuration.
    let http = echo.send("OPTIONS", "/http/orders", &preflight, b"");
    assert_eq!(http.status, 204, "{}", echo.fogbank.output());
    assert_eq!(
        http.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        http.header("access-control-allow-methods"),
        Some("GET,POST")
    );
    assert_eq!(
        http.header("access-control-allow-headers"),
        Some("authorization,content-type")
    );
    assert_eq!(http.header("access-control-max-age"), Some("300"));
    assert_eq!(
        http.header("access-control-allow-credentials"),
        Some("true")
    );
    // An origin that is not allowed gets no CORS headers.
    let denied = echo.send(
        "OPTIONS",
        "/http/orders",
        &[
            ("origin", "https://evil.example"),
            ("access-control-request-method", "POST"),
        ],
        b"",
    );
    assert_eq!(denied.status, 204);
    assert!(denied.header("access-control-allow-origin").is_none());
    // Responses to allowed origins carry the configured headers, replacing
    // the function's own.
    let response = echo.send(
        "GET",
        "/http/mode",
        &[
            ("origin", "https://app.example"),
            ("x-echo-mode", "cookies"),
        ],
        b"",
    );
    assert_eq!(
        response.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        response.header("access-control-expose-headers"),
        Some("x-echo")
    );

    // REST: the OPTIONS method SAM adds, with the path's methods.
    let rest = echo.send("OPTIONS", "/rest/items", &preflight, b"");
    assert_eq!(rest.status, 200, "{}", echo.fogbank.output());
    assert_eq!(
        rest.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        rest.header("access-control-allow-methods"),
        Some("OPTIONS,POST")
    );
    assert_eq!(
        rest.header("access-control-allow-headers"),
        Some("content-type,authorization")
    );
    assert_eq!(rest.header("access-control-max-age"), Some("600"));
    let staged = echo.send("OPTIONS", "/Prod/rest/items/9", &[], b"");
    assert_eq!(
        staged.header("access-control-allow-methods"),
        Some("GET,OPTIONS")
    );

    // Function URL with AllowOrigins "*".
    let url = echo.send(
        "OPTIONS",
        "/lambda-url/EchoFunction/x",
        &[
            ("origin", "https://any.example"),
            ("access-control-request-method", "PUT"),
        ],
        b"",
    );
    assert_eq!(
        (url.status, url.header("access-control-allow-origin")),
        (204, Some("*"))
    );
}

#[test]
fn lambda_authorizers_allow_and_deny() {
    let echo = Echo::start();
    // REST TOKEN authorizer (Authorization header).
    let allowed = echo.send("GET", "/rest/token", &[("authorization", "allow")], b"");
    assert_eq!(allowed.status, 200, "{}", echo.fogbank.output());
    let authorizer = &allowed.json()["event"]["requestContext"]["authorizer"];
    assert_eq!(
        (
            authorizer["principalId"].clone(),
            authorizer["user"].clone(),
            authorizer["level"].clone()
        ),
        (json!("user-42"), json!("ada"), json!("3"))
    );
    expect(
        &echo,
        &echo.send("GET", "/rest/token", &[("authorization", "deny")], b""),
        403,
        json!({ "Message": "User is not authorized to access this resource with an explicit deny" }),
    );
    expect(
        &echo,
        &echo.send(
            "GET",
            "/rest/token",
            &[("authorization", "unauthorized")],
            b"",
        ),
        401,
        json!({ "message": "Unauthorized" }),
    );
    expect(
        &echo,
        &echo.send("GET", "/rest/token", &[], b""),
        401,
        json!({ "message": "Unauthorized" }),
    );
    expect(
        &echo,
        &echo.send("GET", "/rest/token", &[("authorization", "broken")], b""),
        500,
        json!({ "message": null }),
    );
    // REST REQUEST authorizer (X-User header).
    assert_eq!(
        echo.send("GET", "/rest/request", &[("x-user", "allow")], b"")
            .status,
        200
    );
    assert_eq!(
        echo.send("GET", "/rest/request", &[("x-user", "deny")], b"")
            .status,
        403
    );
    assert_eq!(echo.send("GET", "/rest/request", &[], b"").status, 401);

    // HTTP API, simple responses (payload 2.0): the context reaches the
    // function, and the authorizer saw the 2.0 authorizer event.
    let simple = echo.send(
        "GET",
        "/http/simple?x=1",
        &[("authorization", "allow")],
        b"",
    );
    assert_eq!(simple.status, 200, "{}", echo.fogbank.output());
    let lambda = &simple.json()["event"]["requestContext"]["authorizer"]["lambda"];
    assert_eq!(
        (lambda["user"].clone(), lambda["level"].clone()),
        (json!("ada"), json!(3))
    );
    let mut seen = lambda["event"].clone();
    super::normalize(&mut seen, echo.gateway.port());
    insta::assert_json_snapshot!("http_authorizer_event_2_0", seen);
    expect(
        &echo,
        &echo.send("GET", "/http/simple", &[("authorization", "deny")], b""),
        403,
        json!({ "message": "Forbidden" }),
    );
    expect(
        &echo,
        &echo.send("GET", "/http/simple", &[], b""),
        401,
        json!({ "message": "Unauthorized" }),
    );
    expect(
        &echo,
        &echo.send("GET", "/http/simple", &[("authorization", "broken")], b""),
        500,
        json!({ "message": "Internal Server Error" }),
    );
    // HTTP API, IAM policy (payload 1.0).
    let policy = echo.send("GET", "/http/policy", &[("authorization", "allow")], b"");
    assert_eq!(policy.status, 200, "{}", echo.fogbank.output());
    assert_eq!(
        policy.json()["event"]["requestContext"]["authorizer"]["lambda"]["user"],
        "ada"
    );
    expect(
        &echo,
        &echo.send("GET", "/http/policy", &[("authorization", "deny")], b""),
        403,
        json!({ "message": "Forbidden" }),
    );
}

#[test]
fn jwt_authorizer_checks_signatures_against_a_jwks() {
    let jwks = jwks_path();
    let echo = Echo::start_with(&["--jwks", &jwks], &[]);
    let token = jwt(json!({}));
    let allowed = echo.send(
        "POST",
        "/http/jwt/1",
        &[("authorization", &format!("Bearer {token}"))],
        b"",
    );
    assert_eq!(allowed.status, 200, "{}", echo.fogbank.output());
    let jwt_context = &allowed.json()["event"]["requestContext"]["authorizer"]["jwt"];
    assert_eq!(jwt_context["claims"]["sub"], "ada");
    assert_eq!(
        jwt_context["scopes"],
        json!(["orders:read", "orders:write"])
    );
    for (token, reason) in [
        (jwt(json!({ "exp": 1000 })), "expired"),
        (jwt(json!({ "aud": "someone-else" })), "audience"),
        (jwt(json!({ "iss": "https://evil.example" })), "issuer"),
        (format!("{}x", &token[..token.len() - 1]), "signature"),
        ("not-a-jwt".to_owned(), "not a JWT"),
    ] {
        let refused = echo.send(
            "POST",
            "/http/jwt/1",
            &[("authorization", &format!("Bearer {token}"))],
            b"",
        );
        expect(&echo, &refused, 401, json!({ "message": "Unauthorized" }));
        let challenge = refused.header("www-authenticate").unwrap_or("");
        assert!(
            challenge.contains("invalid_token") && challenge.contains(reason),
            "{reason}: {challenge}"
        );
    }
    expect(
        &echo,
        &echo.send("POST", "/http/jwt/1", &[], b""),
        401,
        json!({ "message": "Unauthorized" }),
    );
    assert!(!echo.fogbank.output().contains("NOT checked"));
}

#[test]
fn jwt_authorizer_without_jwks_warns_and_checks_claims() {
    let echo = Echo::start();
    assert!(
        echo.fogbank
            .output()
            .contains("JWT authorizer JwtAuth of HttpApi: token signatures are NOT checked"),
        "{}",
        echo.fogbank.output()
    );
    let forged = jwt(json!({}));
    let forged = format!("{}x", &forged[..forged.len() - 1]);
    assert_eq!(
        echo.send("POST", "/http/jwt/1", &[("authorization", &forged)], b"")
            .status,
        200
    );
    assert_eq!(
        echo.send(
            "POST",
            "/http/jwt/1",
            &[("authorization", &jwt(json!({ "exp": 1000 })))],
            b""
        )
        .status,
        401
    );
}

#[test]
fn function_urls_and_the_access_log() {
    let echo = Echo::start();
    let response = echo.send(
        "GET",
        "/lambda-url/EchoFunction/anything?mode=cookies",
        &[("origin", "https://x.example")],
        b"",
    );
    assert_eq!(response.status, 200);
    assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    assert!(response.header("x-amzn-requestid").is_some());
    let failed = echo.send("GET", "/lambda-url/EchoFunction/?mode=raise", &[], b"");
    expect(
        &echo,
        &failed,
        502,
        json!({ "message": "Internal Server Error" }),
    );
    let unknown = echo.send("GET", "/lambda-url/AuthFunction/", &[], b"");
    expect(&echo, &unknown, 404, json!({ "message": "Not Found" }));
    assert!(
        echo.fogbank
            .wait_for_output("no function URL for `AuthFunction`", Duration::from_secs(5))
    );

    // The route table at start, and one access line per request.
    let output = echo.fogbank.output();
    for line in [
        "GET     /rest/items/{id}  -> EchoFunction  (RestApi, REST, also /Prod/rest/items/{id})",
        "POST    /http/jwt/{id}  -> EchoFunction  (HttpApi, HTTP, authorizer JwtAuth)",
        "GET     /http/v1  -> EchoFunction  (HttpApi, HTTP, payload 1.0)",
        "ANY     /lambda-url/EchoFunction/*  -> EchoFunction  (function URL)",
    ] {
        assert!(output.contains(line), "no `{line}` in:\n{output}");
    }
    assert!(echo.fogbank.wait_for_output(
        "[API Gateway] GET /lambda-url/EchoFunction/anything 200 ",
        Duration::from_secs(5)
    ));
    assert!(output.contains(" ms EchoFunction"), "{output}");
}

#[test]
fn trace_ids_reach_the_function() {
    let echo = Echo::start();
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";
    let response = echo.send("GET", "/rest/items/1", &[("x-amzn-trace-id", trace)], b"");
    assert_eq!(response.header("x-amzn-trace-id"), Some(trace));
    assert_eq!(
        response.json()["event"]["headers"]["X-Amzn-Trace-Id"],
        trace
    );
    // Lambda-Runtime-Trace-Id, which the runtime exposes as _X_AMZN_TRACE_ID.
    assert_eq!(response.json()["traceId"], trace);
    // Each request gets its own IDs otherwise.
    let a = echo.send("GET", "/http/hello/a", &[], b"");
    let b = echo.send("GET", "/http/hello/b", &[], b"");
    assert_ne!(a.header("apigw-requestid"), b.header("apigw-requestid"));
    let a_trace = a.json()["event"]["headers"]["x-amzn-trace-id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(a_trace.starts_with("Root=1-"), "{a_trace}");
}
