//! The three example apps through the gateway: their routes, at the root
//! and (REST) under the stage, and the error paths an app without special
//! fixtures can reach (function errors, unknown routes and methods,
//! oversized bodies).

use fogbank_tests::{Fogbank, example};
use serde_json::{Value, json};

use super::send;

fn start(name: &str) -> (Fogbank, std::net::SocketAddr) {
    let fogbank = Fogbank::start(&example(name).join("template.yaml"));
    let gateway = fogbank
        .gateway
        .expect("fogbank printed its API Gateway address");
    (fogbank, gateway)
}

/// Sends a request and checks the status and the JSON body's fields.
fn check(
    fogbank: &Fogbank,
    method: &str,
    path: &str,
    body: &[u8],
    status: u16,
    fields: Value,
) -> Value {
    let gateway = fogbank.gateway.unwrap();
    let response = send(
        gateway,
        method,
        path,
        &[("content-type", "application/json")],
        body,
    );
    assert_eq!(
        response.status,
        status,
        "{method} {path}: {}\n{}",
        response.text(),
        fogbank.output()
    );
    let json = response.json();
    for (key, value) in fields.as_object().unwrap() {
        assert_eq!(&json[key], value, "{method} {path}: field {key} of {json}");
    }
    json
}

const TOO_BIG: usize = 10 * 1024 * 1024 + 1;

#[test]
fn hello_api_rust_http_api() {
    let (fogbank, _) = start("hello-api");
    check(
        &fogbank,
        "GET",
        "/hello/Ada",
        b"",
        200,
        json!({ "message": "Hello, Ada!", "length": 11 }),
    );
    let order = br#"{"id":"o-1","items":[{"sku":"apple","quantity":3,"unit_price_cents":50}]}"#;
    check(
        &fogbank,
        "POST",
        "/orders",
        order,
        201,
        json!({ "orderId": "o-1", "totalCents": 150 }),
    );
    check(
        &fogbank,
        "GET",
        "/panic",
        b"",
        500,
        json!({ "message": "Internal Server Error" }),
    );
    check(
        &fogbank,
        "GET",
        "/nope",
        b"",
        404,
        json!({ "message": "Not Found" }),
    );
    check(
        &fogbank,
        "DELETE",
        "/hello/Ada",
        b"",
        404,
        json!({ "message": "Not Found" }),
    );
    check(
        &fogbank,
        "POST",
        "/orders",
        &vec![b' '; TOO_BIG],
        413,
        json!({ "message": "Request Entity Too Large" }),
    );
    // The function keeps serving after its panic.
    check(
        &fogbank,
        "GET",
        "/hello/Grace",
        b"",
        200,
        json!({ "message": "Hello, Grace!" }),
    );
    assert!(
        fogbank.output().contains("[API Gateway] GET /panic 500 "),
        "{}",
        fogbank.output()
    );
}

#[test]
fn python_api_rest_api() {
    let (fogbank, _) = start("python-api");
    check(
        &fogbank,
        "GET",
        "/hello",
        b"",
        200,
        json!({ "message": "hello world" }),
    );
    check(
        &fogbank,
        "GET",
        "/Prod/hello",
        b"",
        200,
        json!({ "message": "hello world" }),
    );
    check(
        &fogbank,
        "GET",
        "/items/42",
        b"",
        200,
        json!({ "id": "42", "name": "towel" }),
    );
    check(
        &fogbank,
        "GET",
        "/Prod/items/7",
        b"",
        200,
        json!({ "id": "7", "name": "kettle" }),
    );
    check(
        &fogbank,
        "GET",
        "/items/999",
        b"",
        404,
        json!({ "message": "no item 999" }),
    );
    check(
        &fogbank,
        "POST",
        "/items",
        br#"{"name":"mug","price":7}"#,
        201,
        json!({ "name": "mug", "price": 7 }),
    );
    check(&fogbank, "POST", "/items", b"{", 400, json!({}));
    check(
        &fogbank,
        "GET",
        "/nope",
        b"",
        403,
        json!({ "message": "Missing Authentication Token" }),
    );
    check(
        &fogbank,
        "DELETE",
        "/items/42",
        b"",
        403,
        json!({ "message": "Missing Authentication Token" }),
    );
    check(
        &fogbank,
        "POST",
        "/items",
        &vec![b' '; TOO_BIG],
        413,
        json!({ "message": "Request Entity Too Large" }),
    );
}

#[test]
fn node_api_http_api() {
    let (fogbank, _) = start("node-api");
    check(
        &fogbank,
        "GET",
        "/hello/Grace?lang=fr",
        b"",
        200,
        json!({ "message": "Bonjour, Grace!", "functionName": "HelloFunction" }),
    );
    check(
        &fogbank,
        "GET",
        "/items/7",
        b"",
        200,
        json!({ "id": "7", "currency": "EUR" }),
    );
    check(
        &fogbank,
        "GET",
        "/items/8",
        b"",
        404,
        json!({ "message": "no item 8" }),
    );
    check(
        &fogbank,
        "POST",
        "/items",
        br#"{"name":"lamp","price":12}"#,
        201,
        json!({ "name": "lamp", "currency": "EUR" }),
    );
    check(
        &fogbank,
        "GET",
        "/nope",
        b"",
        404,
        json!({ "message": "Not Found" }),
    );
    check(
        &fogbank,
        "POST",
        "/items",
        &vec![b' '; TOO_BIG],
        413,
        json!({ "message": "Request Entity Too Large" }),
    );
}
