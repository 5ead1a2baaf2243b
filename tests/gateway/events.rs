//! The events functions receive through the gateway, captured by the echo
//! fixture: snapshots for GET, POST with a JSON body, a binary body,
//! repeated query keys, cookies and greedy paths, on REST APIs, HTTP APIs
//! (payload 2.0 and 1.0) and function URLs; checks against the field
//! lists of AWS's documentation; and the differential test against the
//! events SAM CLI generates.

use std::collections::BTreeSet;
use std::process::Command;

use fogbank_tests::{run, venv_bin};
use serde_json::Value;

use super::{Echo, field_paths, normalize};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\xff\xfe";

/// A normalized event, ready for a snapshot.
fn captured(echo: &Echo, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Value {
    let mut event = echo.event(method, path, headers, body);
    normalize(&mut event, echo.gateway.port());
    event
}

/// Fields the REST proxy integration documents (set-up-lambda-proxy-
/// integrations.html, "Input format of a Lambda function for proxy
/// integration"), plus the requestContext fields the issue names.
const REST_FIELDS: &[&str] = &[
    "resource",
    "path",
    "httpMethod",
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
    "requestContext.accountId",
    "requestContext.apiId",
    "requestContext.httpMethod",
    "requestContext.identity.sourceIp",
    "requestContext.identity.userAgent",
    "requestContext.requestId",
    "requestContext.requestTime",
    "requestContext.requestTimeEpoch",
    "requestContext.resourcePath",
    "requestContext.stage",
    "body",
    "isBase64Encoded",
];

/// Fields of HTTP API payload format 2.0 (http-api-develop-integrations-
/// lambda.html) that every request has.
const HTTP_FIELDS: &[&str] = &[
    "version",
    "routeKey",
    "rawPath",
    "rawQueryString",
    "headers",
    "requestContext.accountId",
    "requestContext.apiId",
    "requestContext.domainName",
    "requestContext.domainPrefix",
    "requestContext.http.method",
    "requestContext.http.path",
    "requestContext.http.protocol",
    "requestContext.http.sourceIp",
    "requestContext.http.userAgent",
    "requestContext.requestId",
    "requestContext.routeKey",
    "requestContext.stage",
    "requestContext.time",
    "requestContext.timeEpoch",
    "isBase64Encoded",
];

const OPAQUE: &[&str] = &[
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
    "requestContext.authorizer.jwt.claims",
];

fn assert_fields(event: &Value, required: &[&str], extra: &[&str], context: &str) {
    let present = field_paths(event, OPAQUE);
    for field in required.iter().chain(extra) {
        assert!(
            present.contains(*field),
            "{context}: no {field} in {event:#}"
        );
    }
}

#[test]
fn rest_api_events() {
    let echo = Echo::start();
    let headers = [
        ("user-agent", "fogbank-tests"),
        ("x-multi", "1"),
        ("x-multi", "2"),
        ("cookie", "session=abc; theme=dark"),
    ];
    let get = captured(
        &echo,
        "GET",
        "/rest/items/42?tag=a&tag=b&one=1",
        &headers,
        b"",
    );
    assert_fields(&get, REST_FIELDS, &[], "GET");
    assert_eq!(get["queryStringParameters"]["tag"], "b");
    assert_eq!(
        get["multiValueQueryStringParameters"]["tag"],
        serde_json::json!(["a", "b"])
    );
    assert_eq!(
        get["multiValueHeaders"]["X-Multi"],
        serde_json::json!(["1", "2"])
    );
    insta::assert_json_snapshot!("rest_get_repeated_query_and_cookies", get);

    let post = captured(
        &echo,
        "POST",
        "/rest/items",
        &[("content-type", "application/json")],
        br#"{"name":"towel","price":4.2}"#,
    );
    assert_fields(&post, REST_FIELDS, &[], "POST");
    assert_eq!(post["body"], r#"{"name":"towel","price":4.2}"#);
    insta::assert_json_snapshot!("rest_post_json", post);

    // image/png is one of the API's BinaryMediaTypes; text/plain is not.
    let binary = captured(
        &echo,
        "POST",
        "/rest/upload",
        &[("content-type", "image/png")],
        PNG,
    );
    assert_eq!(binary["isBase64Encoded"], true);
    assert_eq!(binary["body"], "iVBORw0KGgoA//4=");
    insta::assert_json_snapshot!("rest_binary_body", binary);
    let text = captured(
        &echo,
        "POST",
        "/rest/upload",
        &[("content-type", "text/plain")],
        b"plain",
    );
    assert_eq!(
        (text["isBase64Encoded"].clone(), text["body"].clone()),
        (Value::Bool(false), Value::from("plain"))
    );

    let greedy = captured(&echo, "DELETE", "/rest/files/reports/2024/q1.csv", &[], b"");
    assert_eq!(greedy["pathParameters"]["proxy"], "reports/2024/q1.csv");
    assert_eq!(greedy["resource"], "/rest/files/{proxy+}");
    insta::assert_json_snapshot!("rest_greedy_path", greedy);

    // The stage-prefixed form of the cloud URL reaches the same route.
    let staged = captured(&echo, "GET", "/Prod/rest/items/7", &[], b"");
    assert_eq!(staged["path"], "/rest/items/7");
    assert_eq!(staged["requestContext"]["path"], "/Prod/rest/items/7");
    assert_eq!(staged["pathParameters"]["id"], "7");
    assert_eq!(staged["stageVariables"]["tier"], "gold");
}

#[test]
fn http_api_events() {
    let echo = Echo::start();
    let headers = [
        ("user-agent", "fogbank-tests"),
        ("x-multi", "1"),
        ("x-multi", "2"),
        ("cookie", "session=abc; theme=dark"),
        ("cookie", "lang=fr"),
    ];
    let get = captured(
        &echo,
        "GET",
        "/http/hello/ada%20lovelace?lang=fr&tag=a&tag=b",
        &headers,
        b"",
    );
    assert_fields(
        &get,
        HTTP_FIELDS,
        &["cookies", "queryStringParameters", "pathParameters"],
        "GET",
    );
    assert_eq!(
        get["cookies"],
        serde_json::json!(["session=abc", "theme=dark", "lang=fr"])
    );
    assert_eq!(get["headers"]["x-multi"], "1,2");
    assert!(
        get["headers"].get("cookie").is_none(),
        "cookies move out of the headers: {get:#}"
    );
    assert_eq!(get["queryStringParameters"]["tag"], "a,b");
    assert_eq!(get["pathParameters"]["name"], "ada lovelace");
    assert_eq!(get["rawPath"], "/http/hello/ada%20lovelace");
    insta::assert_json_snapshot!("http_get_repeated_query_and_cookies", get);

    let post = captured(
        &echo,
        "POST",
        "/http/orders",
        &[("content-type", "application/json")],
        br#"{"id":"o-1"}"#,
    );
    assert_fields(&post, HTTP_FIELDS, &["body"], "POST");
    insta::assert_json_snapshot!("http_post_json", post);

    // HTTP APIs pass only text types as text, form posts included.
    let binary = captured(
        &echo,
        "POST",
        "/http/orders",
        &[("content-type", "application/octet-stream")],
        PNG,
    );
    assert_eq!(binary["isBase64Encoded"], true);
    insta::assert_json_snapshot!("http_binary_body", binary);
    let form = captured(
        &echo,
        "POST",
        "/http/orders",
        &[("content-type", "application/x-www-form-urlencoded")],
        b"a=1",
    );
    assert_eq!(
        (form["isBase64Encoded"].clone(), form["body"].clone()),
        (Value::Bool(true), Value::from("YT0x"))
    );

    let greedy = captured(&echo, "PATCH", "/http/files/a/b/c.txt", &[], b"");
    assert_eq!(greedy["routeKey"], "ANY /http/files/{path+}");
    assert_eq!(greedy["pathParameters"]["path"], "a/b/c.txt");
    insta::assert_json_snapshot!("http_greedy_path", greedy);

    // PayloadFormatVersion 1.0 on an HTTP API gives the 1.0 shape.
    let v1 = captured(&echo, "GET", "/http/v1?x=1&x=2", &[], b"");
    assert_fields(&v1, REST_FIELDS, &["version"], "HTTP 1.0");
    assert_eq!(v1["version"], "1.0");
    assert_eq!(
        v1["multiValueQueryStringParameters"]["x"],
        serde_json::json!(["1", "2"])
    );
    insta::assert_json_snapshot!("http_payload_1_0", v1);
}

#[test]
fn function_url_events() {
    let echo = Echo::start();
    let event = captured(
        &echo,
        "POST",
        "/lambda-url/EchoFunction/some/path?x=1",
        &[("content-type", "text/plain")],
        b"hi",
    );
    assert_fields(&event, HTTP_FIELDS, &["body"], "function URL");
    assert_eq!(event["rawPath"], "/some/path");
    assert_eq!(event["routeKey"], "$default");
    assert_eq!(event["requestContext"]["stage"], "$default");
    insta::assert_json_snapshot!("function_url_post", event);
    // The root of the URL, by function name as well as logical ID.
    let root = captured(&echo, "GET", "/lambda-url/EchoFunction", &[], b"");
    assert_eq!(root["rawPath"], "/");
}

/// `sam local generate-event apigateway <kind>` as JSON.
fn sam_event(kind: &str) -> Value {
    let (status, stdout, stderr) =
        run(Command::new(venv_bin("sam")).args(["local", "generate-event", "apigateway", kind]));
    assert!(
        status.success(),
        "sam local generate-event apigateway {kind} failed:\n{stderr}"
    );
    serde_json::from_str(&stdout).unwrap()
}

/// Compares field sets both ways; `missing` are SAM's fields a local
/// request cannot have, `extra` are fields AWS documents that SAM's sample
/// leaves out.
fn compare(ours: &Value, sam: &Value, missing: &[&str], extra: &[&str], context: &str) {
    let ours = field_paths(ours, OPAQUE);
    let sam = field_paths(sam, OPAQUE);
    let allowed_missing: BTreeSet<String> = missing.iter().map(|s| s.to_string()).collect();
    let allowed_extra: BTreeSet<String> = extra.iter().map(|s| s.to_string()).collect();
    let not_ours: BTreeSet<_> = sam
        .difference(&ours)
        .filter(|f| !allowed_missing.contains(*f))
        .collect();
    let not_sams: BTreeSet<_> = ours
        .difference(&sam)
        .filter(|f| !allowed_extra.contains(*f))
        .collect();
    assert!(
        not_ours.is_empty() && not_sams.is_empty(),
        "{context}: fields only SAM's event has: {not_ours:?}; fields only ours has: {not_sams:?}"
    );
}

#[test]
fn field_sets_match_sam_cli_generated_events() {
    let echo = Echo::start();
    // HTTP API: a JWT-authorized POST with a path parameter, a query,
    // cookies and a binary body, like SAM's http-api-proxy sample.
    let token = super::behaviour::jwt(serde_json::json!({}));
    let ours = echo.event(
        "POST",
        "/http/jwt/42?parameter1=value1&parameter1=value2&parameter2=value",
        &[
            ("authorization", &format!("Bearer {token}")),
            ("cookie", "cookie1; cookie2"),
            ("content-type", "application/octet-stream"),
        ],
        br#"{"test":"body"}"#,
    );
    compare(
        &ours,
        &sam_event("http-api-proxy"),
        // Mutual TLS only; there is no client certificate locally.
        &[
            "requestContext.authentication.clientCert.clientCertPem",
            "requestContext.authentication.clientCert.issuerDN",
            "requestContext.authentication.clientCert.serialNumber",
            "requestContext.authentication.clientCert.subjectDN",
            "requestContext.authentication.clientCert.validity.notAfter",
            "requestContext.authentication.clientCert.validity.notBefore",
        ],
        &[],
        "http-api-proxy",
    );

    // REST API: a greedy-path POST with a query and a binary body, like
    // SAM's aws-proxy sample.
    let ours = echo.event(
        "POST",
        "/Prod/rest/files/path/to/resource?foo=bar",
        &[("content-type", "image/png")],
        br#"{"test":"body"}"#,
    );
    compare(
        &ours,
        &sam_event("aws-proxy"),
        &[],
        // In AWS's own samples (the proxy integration page and the HTTP
        // API 1.0 payload) but not in SAM's.
        &[
            "requestContext.domainName",
            "requestContext.domainPrefix",
            "requestContext.extendedRequestId",
            "requestContext.identity.apiKey",
            "requestContext.identity.principalOrgId",
        ],
        "aws-proxy",
    );
}
