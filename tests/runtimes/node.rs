//! Fogbank's Node.js bootstrap under AWS's RIE.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::rie::{self, FUNCTION_NAME, Rie};

fn start(handler: &str) -> Rie {
    Rie::start(&rie::node_function(rie::fixtures("node"), handler))
}

/// Invokes `handler` once with `event` and compares the JSON body.
async fn check(handler: &str, event: &str, expected: Value) {
    let rie = start(handler);
    let invocation = rie.invoke(event).await;
    assert_eq!(
        invocation.json(),
        expected,
        "{handler}; log:\n{}",
        rie.output()
    );
}

/// Invokes once to finish init, then times a second invoke.
async fn time_warm_invoke(rie: &Rie) -> (Value, Duration) {
    rie.invoke("{}").await;
    let started = Instant::now();
    let body = rie.invoke("{}").await.json();
    (body, started.elapsed())
}

#[tokio::test]
async fn esm_async_handler_returns_json() {
    check(
        "esm.echo",
        r#"{"a":[1,{"b":null}]}"#,
        json!({"event": {"a": [1, {"b": null}]}}),
    )
    .await;
}

#[tokio::test]
async fn every_module_kind_and_extension_loads() {
    check("cjs.kind", "{}", json!({"moduleKind": "cjs"})).await;
    check("other.handler", "{}", json!({"extension": "cjs"})).await;
    check(
        "typemodule/index.handler",
        "{}",
        json!({"moduleKind": "esm"}),
    )
    .await;
    check("lib/util.handler", "{}", json!({"from": "lib/util.js"})).await;
    check("esm.nested.inner.handler", "{}", json!("nested export")).await;
}

#[tokio::test]
async fn promise_returning_handler_resolves() {
    check("esm.promise", r#"{"n":5}"#, json!({"resolved": 5})).await;
}

#[tokio::test]
async fn context_carries_every_documented_field() {
    let rie = start("esm.contextFields");
    let client_context = r#"{"custom":{"tenant":"t1"},"env":{"platform":"test"}}"#;
    let encoded = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        client_context.as_bytes(),
    );
    let body = rie
        .invoke_with_headers("{}", &[("X-Amz-Client-Context", &encoded)])
        .await
        .json();
    assert_eq!(body["moduleKind"], "esm");
    assert_eq!(body["functionName"], FUNCTION_NAME);
    assert_eq!(body["functionVersion"], "$LATEST");
    assert_eq!(body["memoryLimitInMB"], "256", "a string, as in Lambda");
    assert_eq!(
        body["invokedFunctionArn"],
        format!("arn:aws:lambda:us-east-1:012345678912:function:{FUNCTION_NAME}")
    );
    assert_eq!(body["awsRequestId"].as_str().unwrap().len(), 36);
    assert!(
        body["logGroupName"]
            .as_str()
            .unwrap()
            .starts_with("/aws/lambda/")
    );
    assert!(body["logStreamName"].is_string());
    let remaining = body["remainingMs"].as_i64().unwrap();
    assert!(
        remaining > 25_000 && remaining <= 30_000,
        "timeout is 30 s: {remaining}"
    );
    assert_eq!(body["identity"], json!(null));
    assert_eq!(
        body["clientContext"],
        json!({"custom": {"tenant": "t1"}, "env": {"platform": "test"}})
    );
    assert_eq!(body["callbackWaitsForEmptyEventLoop"], true);
}

#[tokio::test]
async fn a_thrown_error_becomes_lambdas_error_body() {
    let rie = start("esm.fail");
    let body = rie.invoke("{}").await.json();
    assert_eq!(body["errorType"], "TypeError");
    assert_eq!(body["errorMessage"], "the type is wrong");
    let trace: Vec<&str> = body["trace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line.as_str().unwrap())
        .collect();
    assert_eq!(trace[0], "TypeError: the type is wrong");
    assert!(trace[1].contains("/esm.mjs:"), "{trace:?}");
    let lines = rie.function_output();
    let logged = lines
        .iter()
        .find(|line| line.contains("\tERROR\tInvoke Error \t{"))
        .unwrap_or_else(|| panic!("no Invoke Error line in {lines:#?}"));
    let record: Value =
        serde_json::from_str(logged.split("Invoke Error \t").nth(1).unwrap()).unwrap();
    assert_eq!(record["errorType"], "TypeError");
    assert_eq!(record["errorMessage"], "the type is wrong");
}

#[tokio::test]
async fn a_rejected_non_error_keeps_its_type() {
    check(
        "esm.rejectWithString",
        "{}",
        json!({"errorType": "string", "errorMessage": "just a string", "trace": []}),
    )
    .await;
}

#[tokio::test]
async fn callback_style_handlers_answer() {
    check("cjs.callback", r#"{"n":3}"#, json!({"viaCallback": 3})).await;
    check("cjs.succeed", "{}", json!({"via": "succeed"})).await;
    check("cjs.onlyFirstCallbackCounts", "{}", json!("first")).await;
    let rie = start("cjs.callbackError");
    let body = rie.invoke("{}").await.json();
    assert_eq!(body["errorType"], "RangeError");
    assert_eq!(body["errorMessage"], "out of range");
}

#[tokio::test]
async fn a_sync_handler_without_callback_answers_null() {
    check("cjs.syncReturn", "{}", json!(null)).await;
}

#[tokio::test]
async fn callback_waits_for_the_empty_event_loop() {
    let rie = start("cjs.waitsForEventLoop");
    let (body, elapsed) = time_warm_invoke(&rie).await;
    assert_eq!(body, json!("after the timer"));
    assert!(
        elapsed >= Duration::from_millis(380),
        "answered after {elapsed:?}"
    );
}

#[tokio::test]
async fn callback_can_skip_waiting_for_the_event_loop() {
    let rie = start("cjs.doesNotWait");
    let (body, elapsed) = time_warm_invoke(&rie).await;
    assert_eq!(body, json!("straight away"));
    assert!(
        elapsed < Duration::from_millis(300),
        "answered after {elapsed:?}"
    );
}

#[tokio::test]
async fn an_unserialisable_result_is_an_error() {
    let rie = start("cjs.circular");
    let body = rie.invoke("{}").await.json();
    assert_eq!(body["errorType"], "Error");
    assert_eq!(body["errorMessage"], "Unable to stringify response body");
}

#[tokio::test]
async fn an_uncaught_exception_fails_the_invocation_and_exits() {
    let rie = start("esm.uncaught");
    let body = rie.invoke("{}").await.json();
    assert_eq!(body["errorType"], "Error");
    assert_eq!(body["errorMessage"], "thrown from a timer");
    let output = rie.output();
    assert!(
        output.contains("\tERROR\tUncaught Exception \t{"),
        "{output}"
    );
    assert!(
        output.contains("exit status 129"),
        "exits as Lambda's runtime does: {output}"
    );
}

#[tokio::test]
async fn an_unhandled_rejection_fails_the_invocation_and_exits() {
    let rie = start("esm.unhandledRejection");
    let body = rie.invoke("{}").await.json();
    assert_eq!(body["errorType"], "Runtime.UnhandledPromiseRejection");
    assert_eq!(body["errorMessage"], "Error: nobody handles this");
    let output = rie.output();
    assert!(
        output.contains("\tERROR\tUnhandled Promise Rejection \t{"),
        "{output}"
    );
    assert!(
        output.contains("exit status 128"),
        "exits as Lambda's runtime does: {output}"
    );
}

#[tokio::test]
async fn an_oversized_response_fails_that_invocation_only() {
    let rie = start("esm.sized");
    let body = rie.invoke(r#"{"size": 7000000}"#).await.json();
    assert_eq!(body["errorType"], "Function.ResponseSizeTooLarge", "{body}");
    assert!(
        rie.output().contains("answered 413"),
        "the runtime says the Runtime API refused the response: {}",
        rie.output()
    );
    assert_eq!(rie.invoke(r#"{"size": 3}"#).await.json(), json!("xxx"));
}

#[tokio::test]
async fn large_events_and_responses_arrive_whole() {
    let rie = start("esm.echo");
    // Large enough that RIE sends the event in chunked encoding.
    let text: String = (0..300_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let event = json!({ "text": text, "unicode": "héllo ✓" });
    let body = rie.invoke(&event.to_string()).await.json();
    assert_eq!(body, json!({ "event": event }));
}

#[tokio::test]
async fn the_instance_stays_warm_between_invocations() {
    let rie = start("esm.count");
    for expected in 1..=20 {
        assert_eq!(rie.invoke("{}").await.json(), json!(expected));
    }
}

#[tokio::test]
async fn console_uses_lambdas_line_format() {
    let rie = start("esm.log");
    assert_eq!(rie.invoke("{}").await.json(), json!("logged"));
    let lines = rie.function_output();
    for (level, message) in [
        ("INFO", "log line { a: 1 }"),
        ("INFO", "info line"),
        ("WARN", "warn line"),
        ("ERROR", "error line"),
        ("DEBUG", "debug line"),
    ] {
        let line = lines
            .iter()
            .find(|line| line.ends_with(&format!("\t{level}\t{message}")))
            .unwrap_or_else(|| panic!("no {level} line for {message:?} in {lines:#?}"));
        let fields: Vec<&str> = line.split('\t').collect();
        // 2024-01-31T12:34:56.789Z
        assert_eq!(fields[0].len(), 24, "{line}");
        assert!(fields[0].ends_with('Z'), "{line}");
        assert_eq!(fields[1].len(), 36, "the request id: {line}");
    }
}

#[tokio::test]
async fn log_level_filters_the_console() {
    let mut function = rie::node_function(rie::fixtures("node"), "esm.log");
    function.env.push(("AWS_LAMBDA_LOG_FORMAT", "JSON".into()));
    function.env.push(("AWS_LAMBDA_LOG_LEVEL", "WARN".into()));
    let rie = Rie::start(&function);
    rie.invoke("{}").await;
    let records: Vec<Value> = rie
        .function_output()
        .iter()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let levels: Vec<&str> = records
        .iter()
        .filter_map(|record| record["level"].as_str())
        .collect();
    assert_eq!(levels, ["WARN", "ERROR"], "{records:#?}");
    assert_eq!(records[0]["message"], "warn line");
    assert_eq!(records[0]["requestId"].as_str().unwrap().len(), 36);
}

#[tokio::test]
async fn streamed_responses_arrive_whole() {
    let rie = start("esm.streaming");
    assert_eq!(rie.invoke("{}").await.text(), "streamed body");
}

#[tokio::test]
async fn init_errors_use_lambdas_types_and_messages() {
    let cases = [
        (
            "missing.handler",
            "Runtime.ImportModuleError",
            "Error: Cannot find module 'missing'",
        ),
        (
            "missing-dep.handler",
            "Runtime.ImportModuleError",
            "Error: Cannot find module 'a-package-that-does-not-exist'",
        ),
        (
            "esm.noSuchExport",
            "Runtime.HandlerNotFound",
            "esm.noSuchExport is undefined or not exported",
        ),
        (
            "esm.notAFunction",
            "Runtime.HandlerNotFound",
            "esm.notAFunction is not a function",
        ),
        ("esm", "Runtime.MalformedHandlerName", "Bad handler"),
        (
            "../esm.echo",
            "Runtime.MalformedHandlerName",
            "'../esm.echo' is not a valid handler name. Use absolute paths when specifying root directories in handler names.",
        ),
        (
            "syntax.handler",
            "Runtime.UserCodeSyntaxError",
            "SyntaxError: Unexpected token '=>'",
        ),
        ("throws.handler", "Error", "failed while loading"),
    ];
    for (handler, error_type, message) in cases {
        let rie = start(handler);
        let body = rie.invoke("{}").await.json();
        assert_eq!(body["errorType"], error_type, "{handler}: {body}");
        let actual = body["errorMessage"].as_str().unwrap();
        assert!(
            actual.starts_with(message),
            "{handler}: {actual:?} should start with {message:?}"
        );
        assert!(body["trace"].is_array(), "{handler}: {body}");
        let output = rie.output();
        assert!(
            output.contains("\tundefined\tERROR\tUncaught Exception \t{"),
            "{handler}: init errors are logged before any request: {output}"
        );
        assert!(output.contains("exit status 129"), "{handler}: {output}");
    }
}
