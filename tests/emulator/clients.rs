//! Independent implementations on either side of Fogbank's Runtime API:
//! AWS's official Python runtime interface client (awslambdaric) as the
//! function, and AWS's Runtime Interface Emulator as a second server that
//! the same functions and events run through for a differential test.

use std::collections::BTreeSet;
use std::ffi::OsString;

use fogbank_tests::http::send;
use fogbank_tests::{Fogbank, StartOptions, example, venv_bin};
use serde_json::{Value, json};

use super::fixture;
use crate::runtimes::rie::{Function, Rie};

#[tokio::test]
async fn awslambdaric_runs_unchanged_against_fogbank() {
    let python = venv_bin("python");
    let override_arg = format!("RicPython={}", python.display());
    let fogbank = Fogbank::start_with(
        StartOptions::new(&fixture("ric/template.yaml"))
            .args(&["--parameter-overrides", &override_arg]),
    );
    let path = "/2015-03-31/functions/Ric/invocations";
    let response = send(
        fogbank.lambda,
        "POST",
        path,
        &[],
        json!({"name": "ric"}).to_string(),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json();
    assert_eq!(body["greeting"], "hello ric");
    assert_eq!(
        body["request_id"],
        response.header("x-amzn-requestid").unwrap()
    );
    assert_eq!(body["function_name"], "Ric");
    assert_eq!(body["remaining_ms_positive"], true);
    assert_eq!(body["memory"], "128");
    // Warm: the second call reaches the same runtime.
    let again = send(fogbank.lambda, "POST", path, &[], "{}").await.json();
    assert_eq!(again["greeting"], "hello world");
    assert_eq!(again["runtime_api"], body["runtime_api"]);

    let response = send(
        fogbank.lambda,
        "POST",
        "/2015-03-31/functions/RicFails/invocations",
        &[],
        "{}",
    )
    .await;
    assert_eq!(response.header("x-amz-function-error"), Some("Unhandled"));
    let error = response.json();
    assert_eq!(error["errorType"], "ValueError");
    assert_eq!(error["errorMessage"], "ric says no");
}

/// What a function saw, normalised to what must match across servers.
fn header_names(response: &Value) -> BTreeSet<String> {
    response["headers"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|name| name.starts_with("lambda-runtime-"))
        .cloned()
        .collect()
}

#[tokio::test]
async fn fogbank_and_aws_rie_agree() {
    // The probe reports the Runtime API headers it receives; hello-api is
    // the real lambda_runtime crate answering its sample events.
    let probe_dir = fixture("probe/code");
    let rie = Rie::start(&Function {
        command: vec![OsString::from(probe_dir.join("bootstrap"))],
        code_dir: probe_dir.clone(),
        handler: "probe.handler",
        env: Vec::new(),
    });
    let fogbank = Fogbank::start(&fixture("probe/template.yaml"));
    let context = "eyJjdXN0b20iOnsiayI6InYifX0="; // {"custom":{"k":"v"}}
    let event = json!({"action": "headers"}).to_string();
    let from_rie = rie
        .invoke_with_headers(&event, &[("x-amz-client-context", context)])
        .await
        .json();
    let from_fogbank = send(
        fogbank.lambda,
        "POST",
        "/2015-03-31/functions/Probe/invocations",
        &[("x-amz-client-context", context)],
        event.clone(),
    )
    .await
    .json();
    let rie_headers = header_names(&from_rie);
    let fogbank_headers = header_names(&from_fogbank);
    assert!(
        rie_headers.is_subset(&fogbank_headers),
        "RIE sends {rie_headers:?}, fogbank {fogbank_headers:?}"
    );
    for name in [
        "lambda-runtime-client-context",
        "lambda-runtime-invoked-function-arn",
    ] {
        let rie_value = from_rie["headers"][name].as_str().unwrap_or_default();
        let ours = from_fogbank["headers"][name].as_str().unwrap_or_default();
        if name == "lambda-runtime-invoked-function-arn" {
            // Same shape, different function name and account.
            let shape = |arn: &str| arn.split(':').take(3).collect::<Vec<_>>().join(":");
            assert_eq!(shape(rie_value), shape(ours), "{name}");
        } else {
            let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
            assert_eq!(parse(rie_value), parse(ours), "{name}");
        }
    }
    assert_eq!(
        from_rie["headers"]["content-type"],
        from_fogbank["headers"]["content-type"]
    );
    drop(rie);

    // The same lambda_runtime function and events through both servers.
    let hello = example("hello-api");
    let fogbank = Fogbank::start(&hello.join("template.yaml"));
    let binary = hello.join(".fogbank/build/HelloFunction/bootstrap");
    let rie = Rie::start(&Function {
        command: vec![binary.into_os_string()],
        code_dir: hello.clone(),
        handler: "bootstrap",
        env: Vec::new(),
    });
    for event in ["hello.json", "order.json", "panic.json"] {
        let body = std::fs::read_to_string(hello.join("events").join(event)).unwrap();
        let from_rie = rie.invoke(&body).await;
        let from_fogbank = send(
            fogbank.lambda,
            "POST",
            "/2015-03-31/functions/HelloFunction/invocations",
            &[],
            body,
        )
        .await;
        assert_eq!(from_fogbank.status, from_rie.status, "{event}");
        assert_eq!(
            from_fogbank.json(),
            from_rie.json(),
            "{event}: the responses differ"
        );
    }
}
