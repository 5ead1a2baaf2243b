//! Fogbank's Python bootstrap under AWS's RIE, and beside awslambdaric.

use serde_json::{Value, json};

use super::rie::{self, FUNCTION_NAME, Rie};

fn start(handler: &str) -> Rie {
    Rie::start(&rie::python_function(rie::fixtures("python"), handler))
}

/// Invokes `handler` once with `event` and returns the JSON body.
async fn check(handler: &str, event: &str, expected: Value) {
    let rie = start(handler);
    let invocation = rie.invoke(event).await;
    assert_eq!(invocation.json(), expected, "log:\n{}", rie.output());
}

/// The body with what differs between any two runs or runtimes replaced:
/// the request id, and stack frames inside the runtime itself (each
/// runtime's own file and line).
fn normalised(mut body: Value) -> Value {
    if let Some(id) = body.get_mut("requestId")
        && id.as_str().is_some_and(|id| !id.is_empty())
    {
        *id = json!("<request id>");
    }
    if let Some(Value::Array(frames)) = body.get_mut("stackTrace") {
        for frame in frames {
            if frame
                .as_str()
                .is_some_and(|text| text.contains("/bootstrap.py\""))
            {
                *frame = json!("<runtime frame>");
            }
        }
    }
    body
}

#[tokio::test]
async fn returns_the_handler_result_as_json() {
    check(
        "app.echo",
        r#"{"a":[1,2,{"b":null}]}"#,
        json!({"event": {"a": [1, 2, {"b": null}]}}),
    )
    .await;
}

#[tokio::test]
async fn none_becomes_null() {
    check("app.nothing", "{}", json!(null)).await;
}

#[tokio::test]
async fn decimals_become_numbers() {
    check("app.decimals", "{}", json!({"whole": 12, "fraction": 1.5})).await;
}

#[tokio::test]
async fn bytes_are_returned_raw() {
    let rie = start("app.raw_bytes");
    assert_eq!(rie.invoke("{}").await.text(), "raw bytes");
}

#[tokio::test]
async fn context_carries_every_documented_field() {
    let rie = start("app.context_fields");
    // RIE turns this base64 Client-Context into the runtime header.
    let client_context = r#"{"custom":{"tenant":"t1"},"env":{"platform":"test"}}"#;
    let encoded = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        client_context.as_bytes(),
    );
    let body = rie
        .invoke_with_headers("{}", &[("X-Amz-Client-Context", &encoded)])
        .await
        .json();
    assert_eq!(body["function_name"], FUNCTION_NAME);
    assert_eq!(body["function_version"], "$LATEST");
    assert_eq!(body["memory_limit_in_mb"], "256", "a string, as in Lambda");
    assert_eq!(
        body["invoked_function_arn"],
        format!("arn:aws:lambda:us-east-1:012345678912:function:{FUNCTION_NAME}")
    );
    let request_id = body["aws_request_id"].as_str().unwrap();
    assert_eq!(request_id.len(), 36, "a UUID: {request_id}");
    assert!(
        body["log_group_name"]
            .as_str()
            .unwrap()
            .starts_with("/aws/lambda/")
    );
    assert!(body["log_stream_name"].is_string());
    let remaining = body["remaining_ms"].as_i64().unwrap();
    assert!(
        remaining > 25_000 && remaining <= 30_000,
        "timeout is 30 s: {remaining}"
    );
    assert_eq!(
        body["identity"],
        json!({"cognito_identity_id": null, "cognito_identity_pool_id": null})
    );
    assert_eq!(
        body["client_context"],
        json!({"custom": {"tenant": "t1"}, "env": {"platform": "test"}})
    );
}

#[tokio::test]
async fn an_exception_becomes_lambdas_error_body() {
    let rie = start("app.fail");
    let body = rie.invoke(r#"{"value": 7}"#).await.json();
    assert_eq!(body["errorType"], "ValueError");
    assert_eq!(body["errorMessage"], "the value is bad: 7");
    assert_eq!(body["requestId"].as_str().unwrap().len(), 36);
    let trace = body["stackTrace"].as_array().unwrap();
    assert_eq!(trace.len(), 1, "only the user's frame: {trace:?}");
    let frame = trace[0].as_str().unwrap();
    assert!(
        frame.contains("/app.py\", line ") && frame.contains("in fail"),
        "{frame}"
    );
    // The log shows the error as Lambda's runtime does.
    let output = rie.function_output().join("\n");
    assert!(
        output.contains(
            "[ERROR] ValueError: the value is bad: 7\nTraceback (most recent call last):"
        ),
        "{output}"
    );
}

#[tokio::test]
async fn an_unserialisable_result_is_a_marshal_error() {
    let rie = start("app.not_serialisable");
    let body = rie.invoke("{}").await.json();
    assert_eq!(body["errorType"], "Runtime.MarshalError");
    assert_eq!(
        body["errorMessage"],
        "Unable to marshal response: Object of type set is not JSON serializable"
    );
}

#[tokio::test]
async fn an_oversized_response_fails_that_invocation_only() {
    let rie = start("app.sized");
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
    let rie = start("app.echo");
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
    let rie = start("app.count");
    for expected in 1..=20 {
        assert_eq!(rie.invoke("{}").await.json(), json!(expected));
    }
}

#[tokio::test]
async fn logging_uses_lambdas_line_format() {
    let rie = start("app.log");
    let body = rie.invoke("{}").await.json();
    assert_eq!(body, json!("logged"));
    let lines = rie.function_output();
    let info = lines
        .iter()
        .find(|line| line.ends_with("\tinfo from the handler"))
        .unwrap_or_else(|| panic!("no INFO line in {lines:#?}"));
    let fields: Vec<&str> = info.split('\t').collect();
    assert_eq!(fields[0], "[INFO]");
    // 2024-01-31T12:34:56.789Z
    assert_eq!(fields[1].len(), 24, "{}", fields[1]);
    assert!(fields[1].ends_with('Z') && fields[1].as_bytes()[10] == b'T');
    assert_eq!(fields[2].len(), 36, "the request id: {}", fields[2]);
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("[WARNING]\t") && line.ends_with("\ta warning"))
    );
    assert!(
        !lines
            .iter()
            .any(|line| line.contains("debug is below the level"))
    );
    assert!(lines.iter().any(|line| line == "printed by the handler"));
}

#[tokio::test]
async fn json_log_format_follows_logging_config() {
    let mut function = rie::python_function(rie::fixtures("python"), "levels.handle");
    function.env.push(("AWS_LAMBDA_LOG_FORMAT", "JSON".into()));
    function.env.push(("AWS_LAMBDA_LOG_LEVEL", "DEBUG".into()));
    let rie = Rie::start(&function);
    assert_eq!(rie.invoke("{}").await.json(), json!("logged"));
    let records: Vec<Value> = rie
        .function_output()
        .iter()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let messages: Vec<&str> = records
        .iter()
        .filter_map(|r| r["message"].as_str())
        .collect();
    assert_eq!(
        messages,
        ["a debug record", "an info record", "an error record"],
        "AWS_LAMBDA_LOG_LEVEL=DEBUG shows every level: {records:#?}"
    );
    assert_eq!(records[0]["level"], "DEBUG");
    assert_eq!(records[0]["logger"], "levels");
    assert_eq!(records[0]["requestId"].as_str().unwrap().len(), 36);
    assert_eq!(records[1]["order_id"], "o-1", "extra fields are kept");
    assert_eq!(records[2]["level"], "ERROR");
    assert_eq!(records[2]["errorType"], "KeyError");
    assert!(records[2]["stackTrace"].is_array());
}

#[tokio::test]
async fn dotted_packages_and_directory_paths_resolve() {
    check(
        "pkg.handlers.handle",
        "{}",
        json!({"module": "pkg.handlers"}),
    )
    .await;
    check("nested/deep.handle", "{}", json!({"module": "nested.deep"})).await;
}

#[tokio::test]
async fn init_errors_use_lambdas_types_and_messages() {
    let cases = [
        (
            "missing.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'missing': No module named 'missing'",
        ),
        (
            "imports_missing.handle",
            "Runtime.ImportModuleError",
            "Unable to import module 'imports_missing': No module named 'a_module_that_does_not_exist'",
        ),
        (
            "app.no_such_function",
            "Runtime.HandlerNotFound",
            "Handler 'no_such_function' missing on module 'app'",
        ),
        (
            "app",
            "Runtime.MalformedHandlerName",
            "Bad handler 'app': not enough values to unpack (expected 2, got 1)",
        ),
        (
            "sys.handler",
            "Runtime.BuiltInModuleConflict",
            "Cannot use built-in module sys as a handler module",
        ),
        (
            "broken_syntax.broken",
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module 'broken_syntax': invalid syntax (broken_syntax.py, line 1)",
        ),
        (
            "raises_on_import.handler",
            "RuntimeError",
            "failed while importing",
        ),
    ];
    for (handler, error_type, message) in cases {
        let rie = start(handler);
        let body = rie.invoke("{}").await.json();
        assert_eq!(body["errorType"], error_type, "{handler}: {body}");
        assert_eq!(body["errorMessage"], message, "{handler}: {body}");
        assert_eq!(
            body["requestId"], "",
            "{handler}: init errors have no request"
        );
        let output = rie.output();
        assert!(
            output.contains("LAMBDA_WARNING: Unhandled exception."),
            "{handler}: {output}"
        );
        assert!(
            output.contains(&format!("[ERROR] {error_type}: {message}")),
            "{handler}: {output}"
        );
    }
}

/// The same handlers and events, run by Fogbank's bootstrap and by AWS's
/// runtime interface client, answer the same bodies.
#[tokio::test]
async fn answers_as_awslambdaric_does() {
    let cases = [
        ("app.echo", r#"{"k":"v","n":[1,2.5,true]}"#),
        ("app.fail", r#"{"value":"x"}"#),
        ("app.unicode", "{}"),
        ("app.decimals", "{}"),
        ("app.nothing", "{}"),
        ("app.not_serialisable", "{}"),
        ("app.not_callable", "{}"),
        ("pkg.handlers.handle", "{}"),
        ("nested/deep.handle", "{}"),
        ("missing.handler", "{}"),
        ("imports_missing.handle", "{}"),
        ("app.no_such_function", "{}"),
        ("app", "{}"),
        ("broken_syntax.broken", "{}"),
        ("raises_on_import.handler", "{}"),
    ];
    let code = rie::fixtures("python");
    for (handler, event) in cases {
        let ours = Rie::start(&rie::python_function(code.clone(), handler));
        let ours_body = ours.invoke(event).await;
        drop(ours);
        let theirs = Rie::start(&rie::awslambdaric_function(code.clone(), handler));
        let theirs_body = theirs.invoke(event).await;
        assert_eq!(
            ours_body.status, theirs_body.status,
            "{handler}: status differs"
        );
        match (
            serde_json::from_slice::<Value>(&ours_body.body),
            serde_json::from_slice::<Value>(&theirs_body.body),
        ) {
            (Ok(ours_json), Ok(theirs_json)) => assert_eq!(
                normalised(ours_json),
                normalised(theirs_json),
                "{handler}: bodies differ"
            ),
            _ => assert_eq!(ours_body.body, theirs_body.body, "{handler}: bodies differ"),
        }
    }
}
