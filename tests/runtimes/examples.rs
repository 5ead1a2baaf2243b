//! The three example apps, run with their sample events under AWS's RIE.
//!
//! This pins what each example answers to each of its `events/*.json` as AWS's
//! own Runtime API implementation serves it, so a difference seen through
//! Fogbank is Fogbank's.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};

use super::rie::{self, Function, Rie, repo_root};

fn example(name: &str) -> PathBuf {
    repo_root().join("examples").join(name)
}

fn event(example_name: &str, file: &str) -> String {
    let path = example(example_name).join("events").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Checks an API Gateway proxy response: its status, and its body as JSON
/// with `volatile` keys (generated ids) only checked for presence.
fn check_proxy_response(response: &Value, status: u16, expected_body: Value, volatile: &[&str]) {
    assert_eq!(response["statusCode"], status, "{response}");
    let content_type = response["headers"]
        .as_object()
        .and_then(|headers| {
            headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        })
        .map(|(_, value)| value.clone());
    assert_eq!(content_type, Some(json!("application/json")), "{response}");
    let mut body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    for key in volatile {
        let value = body
            .as_object_mut()
            .and_then(|object| object.remove(*key))
            .unwrap_or_else(|| panic!("the body has no {key}: {response}"));
        assert!(
            value.as_str().is_some_and(|id| !id.is_empty()),
            "{key}: {value}"
        );
    }
    assert_eq!(body, expected_body);
}

#[tokio::test]
async fn python_api_answers_its_sample_events() {
    let rie = Rie::start(&rie::python_function(
        example("python-api/hello_world"),
        "app.lambda_handler",
    ));
    let cases = [
        (
            "event.json",
            200,
            json!({"message": "hello world"}),
            &[][..],
        ),
        (
            "get-item.json",
            200,
            json!({"id": "42", "name": "towel", "price": 4.2}),
            &["requestId"][..],
        ),
        (
            "create-item.json",
            201,
            json!({"name": "lamp", "price": 19.5}),
            &["id"][..],
        ),
    ];
    for (file, status, body, volatile) in cases {
        let response = rie.invoke(&event("python-api", file)).await.json();
        check_proxy_response(&response, status, body, volatile);
    }
}

#[tokio::test]
async fn node_api_answers_its_sample_events() {
    let hello = Rie::start(&rie::node_function(example("node-api/src"), "app.handler"));
    let response = hello.invoke(&event("node-api", "hello.json")).await.json();
    check_proxy_response(
        &response,
        200,
        json!({"message": "Hi, Grace!", "functionName": rie::FUNCTION_NAME, "remainingMs": true}),
        &[],
    );

    let items = Rie::start(&rie::node_function(
        example("node-api/src"),
        "items.handler",
    ));
    let response = items
        .invoke(&event("node-api", "get-item.json"))
        .await
        .json();
    check_proxy_response(
        &response,
        200,
        json!({"id": "7", "name": "kettle", "price": 35, "currency": "USD"}),
        &[],
    );
    let response = items
        .invoke(&event("node-api", "create-item.json"))
        .await
        .json();
    check_proxy_response(
        &response,
        201,
        json!({"name": "kettle", "price": 35, "currency": "USD"}),
        &["id"],
    );
}

/// Builds examples/hello-api once (release, as `cargo lambda build --release`
/// would) and returns its binary.
fn hello_api_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let project = example("hello-api");
            let target_dir = project.join("target");
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let output = Command::new(cargo)
                .args(["build", "--release", "--locked", "--manifest-path"])
                .arg(project.join("Cargo.toml"))
                .env("CARGO_TARGET_DIR", &target_dir)
                .output()
                .expect("run cargo build for examples/hello-api");
            assert!(
                output.status.success(),
                "building examples/hello-api failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            target_dir.join("release/hello-api")
        })
        .clone()
}

#[tokio::test]
async fn hello_api_answers_its_sample_events() {
    let binary = hello_api_binary();
    let rie = Rie::start(&Function {
        command: vec![binary.into()],
        code_dir: example("hello-api"),
        handler: "bootstrap",
        env: Vec::new(),
    });
    let response = rie.invoke(&event("hello-api", "hello.json")).await.json();
    check_proxy_response(
        &response,
        200,
        json!({"message": "Hello, Ada!", "length": 11}),
        &[],
    );
    let response = rie.invoke(&event("hello-api", "order.json")).await.json();
    check_proxy_response(
        &response,
        201,
        json!({
            "orderId": "o-1001",
            "itemCount": 4,
            "totalCents": 275,
            "summary": "order o-1001 has 4 items totalling 2.75",
        }),
        &[],
    );
    // The panic is caught by lambda_runtime and reported as a function error.
    let response = rie.invoke(&event("hello-api", "panic.json")).await.json();
    assert!(
        response["errorMessage"]
            .as_str()
            .is_some_and(|message| message.contains("this route panics on purpose")),
        "{response}"
    );
    // The instance survives its handler's panic.
    let response = rie.invoke(&event("hello-api", "hello.json")).await.json();
    assert_eq!(response["statusCode"], 200, "{response}");
}
