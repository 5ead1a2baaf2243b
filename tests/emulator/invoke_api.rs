//! The Lambda Invoke API and Runtime API of a real `fogbank start`, driven
//! with raw HTTP and boto3 against the probe functions, which misbehave on
//! demand.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use fogbank_tests::http::{Response, send};
use fogbank_tests::{Fogbank, StartOptions, python};
use serde_json::{Value, json};

use super::fixture;

fn start_probe() -> Fogbank {
    Fogbank::start_with(
        StartOptions::new(&fixture("probe/template.yaml"))
            .args(&["--parameter-overrides", "Stage=test"]),
    )
}

async fn invoke(
    fogbank: &Fogbank,
    function: &str,
    event: Value,
    headers: &[(&str, &str)],
) -> Response {
    send(
        fogbank.lambda,
        "POST",
        &format!("/2015-03-31/functions/{function}/invocations"),
        headers,
        event.to_string(),
    )
    .await
}

/// Checks a function error: status 200, `X-Amz-Function-Error: Unhandled`,
/// and the errorType.
fn check_function_error(response: &Response, error_type: &str) -> Value {
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.header("x-amz-function-error"),
        Some("Unhandled"),
        "{response:?}"
    );
    let body = response.json();
    assert_eq!(body["errorType"], error_type, "{body}");
    body
}

/// Checks an AWS API error: status, `x-amzn-ErrorType` and a message.
fn check_api_error(response: &Response, status: u16, code: &str) -> String {
    assert_eq!(response.status, status, "{}", response.text());
    assert_eq!(
        response.header("x-amzn-errortype"),
        Some(code),
        "{response:?}"
    );
    let body = response.json();
    body["message"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn runtime_api_headers_one_by_one() {
    let fogbank = start_probe();
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let context = base64::engine::general_purpose::STANDARD.encode(r#"{"custom":{"k":"v"}}"#);
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let response = invoke(
        &fogbank,
        "Probe",
        json!({"action": "headers"}),
        &[
            ("x-amzn-trace-id", trace),
            ("x-amz-client-context", &context),
        ],
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json();
    let headers = &body["headers"];

    // Request-Id: the ID the Invoke API answered with.
    let request_id = response.header("x-amzn-requestid").unwrap();
    assert_eq!(headers["lambda-runtime-aws-request-id"], request_id);
    // Deadline-Ms: a real epoch deadline, Timeout (2 s) after the pickup.
    let deadline: i64 = headers["lambda-runtime-deadline-ms"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let now_ms = body["now_ms"].as_i64().unwrap();
    assert!(
        deadline > now_ms && deadline <= now_ms + 2000,
        "deadline {deadline}, function clock {now_ms}"
    );
    assert!(
        deadline >= before + 1900,
        "deadline {deadline} is not ~2 s after {before}"
    );
    // Invoked-Function-Arn.
    assert_eq!(
        headers["lambda-runtime-invoked-function-arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:Probe"
    );
    // Trace-Id: the caller's X-Amzn-Trace-Id.
    assert_eq!(headers["lambda-runtime-trace-id"], trace);
    // Client-Context: the decoded JSON.
    assert_eq!(
        headers["lambda-runtime-client-context"],
        r#"{"custom":{"k":"v"}}"#
    );
    // Cognito-Identity: absent when the caller has none, as in Lambda.
    assert!(headers.get("lambda-runtime-cognito-identity").is_none());
    assert_eq!(headers["content-type"], "application/json");

    // A call without a trace header still gets a well-formed trace ID.
    let response = invoke(&fogbank, "Probe", json!({"action": "headers"}), &[]).await;
    let trace_id = response.json()["headers"]["lambda-runtime-trace-id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        trace_id.starts_with("Root=1-") && trace_id.contains(";Sampled="),
        "{trace_id}"
    );
}

#[tokio::test]
async fn the_function_environment_matches_lambdas() {
    let fogbank = start_probe();
    let response = invoke(&fogbank, "Probe", json!({"action": "headers"}), &[]).await;
    let body = response.json();
    let env = &body["env"];
    let check = |name: &str, expected: &str| assert_eq!(env[name], expected, "{name}");
    check("AWS_LAMBDA_FUNCTION_NAME", "Probe");
    check("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
    check("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256");
    check("AWS_REGION", "us-east-1");
    check("AWS_DEFAULT_REGION", "us-east-1");
    check("_HANDLER", "probe.handler");
    check("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/Probe");
    check("AWS_ENDPOINT_URL_LAMBDA", &fogbank.lambda_url());
    check("AWS_ENDPOINT_URL_SQS", &fogbank.sqs_url());
    check("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023");
    check("TABLE_NAME", "orders");
    check("STAGE", "test");
    let runtime_api = env["AWS_LAMBDA_RUNTIME_API"].as_str().unwrap();
    assert!(runtime_api.starts_with("127.0.0.1:"), "{runtime_api}");
    let task_root = env["LAMBDA_TASK_ROOT"].as_str().unwrap();
    assert!(task_root.ends_with("probe/code"), "{task_root}");
    assert_eq!(body["cwd"].as_str().unwrap(), task_root);
    let stream = env["AWS_LAMBDA_LOG_STREAM_NAME"].as_str().unwrap();
    assert!(
        stream.contains("/[$LATEST]") && stream.len() == "2026/11/29/[$LATEST]".len() + 32,
        "{stream}"
    );
    for credential in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        assert!(
            env[credential].as_str().is_some_and(|v| !v.is_empty()),
            "{credential}"
        );
    }
    // Nothing of the host's environment leaks in besides PATH.
    assert!(
        env.get("HOME").is_none() && env.get("FOGBANK_VENV").is_none(),
        "{env}"
    );
}

#[tokio::test]
async fn a_slow_function_times_out() {
    let fogbank = start_probe();
    let started = std::time::Instant::now();
    let response = invoke(
        &fogbank,
        "Probe",
        json!({"action": "sleep", "seconds": 5}),
        &[],
    )
    .await;
    let body = check_function_error(&response, "Sandbox.Timedout");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Error: Task timed out after 2.00 seconds"),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    // The next invocation runs on a fresh instance.
    let response = invoke(&fogbank, "Probe", json!({"n": 1}), &[]).await;
    assert_eq!(response.json(), json!({"n": 1}));
    assert!(fogbank.wait_for_output("Task timed out after 2.00 seconds", Duration::from_secs(5)));
}

#[tokio::test]
async fn a_crash_is_an_exit_error_and_the_next_call_works() {
    let fogbank = start_probe();
    let response = invoke(&fogbank, "Probe", json!({"action": "crash"}), &[]).await;
    let body = check_function_error(&response, "Runtime.ExitError");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Runtime exited with error: exit status 7"),
        "{body}"
    );
    let response = invoke(&fogbank, "Probe", json!({"again": true}), &[]).await;
    assert_eq!(response.json(), json!({"again": true}));
}

#[tokio::test]
async fn init_failures_are_init_errors() {
    let fogbank = start_probe();
    let response = invoke(&fogbank, "BrokenInit", json!({}), &[]).await;
    let body = check_function_error(&response, "Runtime.InitError");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("exit status 4"),
        "{body}"
    );
    // A runtime that reports its init failure gets it passed through.
    let response = invoke(&fogbank, "ReportedInit", json!({}), &[]).await;
    let body = check_function_error(&response, "ConfigError");
    assert_eq!(body["errorMessage"], "cannot load config");
}

#[tokio::test]
async fn function_errors_and_oversized_responses() {
    let fogbank = start_probe();
    let response = invoke(
        &fogbank,
        "Probe",
        json!({"action": "error", "message": "bad order"}),
        &[],
    )
    .await;
    let body = check_function_error(&response, "ProbeError");
    assert_eq!(body["errorMessage"], "bad order");
    let response = invoke(
        &fogbank,
        "Probe",
        json!({"action": "big", "bytes": 7_000_000}),
        &[],
    )
    .await;
    let body = check_function_error(&response, "Function.ResponseSizeTooLarge");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("6291556 bytes"),
        "{body}"
    );
    // Just under the limit passes (the JSON string adds two quotes).
    let response = invoke(
        &fogbank,
        "Probe",
        json!({"action": "big", "bytes": 6_291_556 - 2}),
        &[],
    )
    .await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.body.len(),
        6_291_556,
        "{}",
        String::from_utf8_lossy(&response.body[..response.body.len().min(300)])
    );
}

#[tokio::test]
async fn unknown_functions_are_resource_not_found() {
    let fogbank = start_probe();
    let response = invoke(&fogbank, "Nope", json!({}), &[]).await;
    let message = check_api_error(&response, 404, "ResourceNotFoundException");
    assert_eq!(
        message,
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:Nope"
    );
    let response = invoke(&fogbank, "Probe:live", json!({}), &[]).await;
    check_api_error(&response, 404, "ResourceNotFoundException");
    // ARNs and $LATEST work.
    let response = invoke(
        &fogbank,
        "arn:aws:lambda:us-east-1:123456789012:function:Probe:$LATEST",
        json!({"x": 1}),
        &[],
    )
    .await;
    assert_eq!(response.json(), json!({"x": 1}));
}

#[tokio::test]
async fn concurrency_one_throttles_the_second_call() {
    let fogbank = start_probe();
    let (first, second) = tokio::join!(
        invoke(
            &fogbank,
            "Limited",
            json!({"action": "sleep", "seconds": 1}),
            &[]
        ),
        async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            invoke(
                &fogbank,
                "Limited",
                json!({"action": "sleep", "seconds": 0}),
                &[],
            )
            .await
        }
    );
    assert_eq!(first.json(), json!({"slept": 1}));
    check_api_error(&second, 429, "TooManyRequestsException");
    assert_eq!(
        second.json()["Reason"],
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
}

#[tokio::test]
async fn a_caller_that_hangs_up_does_not_use_up_the_concurrency() {
    let fogbank = start_probe();
    // A warm instance first, so that the hang-up below happens mid-run
    // rather than during a cold start.
    let warm = invoke(
        &fogbank,
        "Limited",
        json!({"action": "sleep", "seconds": 0}),
        &[],
    )
    .await;
    assert_eq!(warm.status, 200, "{}", warm.text());
    // The client gives up and closes its connection while the only
    // instance allowed is busy.
    let abandoned = tokio::time::timeout(
        Duration::from_millis(300),
        invoke(
            &fogbank,
            "Limited",
            json!({"action": "sleep", "seconds": 1}),
            &[],
        ),
    )
    .await;
    assert!(abandoned.is_err(), "the call was still running");
    // Once the invocation has run to its end (about 0.7 s from now), its
    // slot is free again. Before that the call is throttled; a leaked slot
    // would throttle it for good.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let next = loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let next = invoke(
            &fogbank,
            "Limited",
            json!({"action": "sleep", "seconds": 0}),
            &[],
        )
        .await;
        if next.status != 429 || std::time::Instant::now() > deadline {
            break next;
        }
    };
    assert_eq!(next.status, 200, "{}", next.text());
    assert_eq!(next.json(), json!({"slept": 0}));
}

#[tokio::test]
async fn event_invocations_run_asynchronously() {
    let fogbank = start_probe();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let response = invoke(
        &fogbank,
        "Probe",
        json!({"action": "touch", "path": marker}),
        &[("x-amz-invocation-type", "Event")],
    )
    .await;
    assert_eq!(response.status, 202);
    assert!(response.body.is_empty());
    // The function creates the marker, then writes the request ID into it:
    // wait for the content, not only the file.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let written = loop {
        let written = std::fs::read_to_string(&marker).unwrap_or_default();
        if !written.is_empty() {
            break written;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the Event invocation never ran"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // The marker holds the request ID the API answered with.
    assert_eq!(written, response.header("x-amzn-requestid").unwrap());
    let response = invoke(
        &fogbank,
        "Probe",
        json!({}),
        &[("x-amz-invocation-type", "DryRun")],
    )
    .await;
    assert_eq!(response.status, 204);
}

#[tokio::test]
async fn log_tails_carry_the_invocations_log() {
    let fogbank = start_probe();
    let response = invoke(
        &fogbank,
        "Probe",
        json!({"action": "log", "line": "a line from the probe"}),
        &[("x-amz-log-type", "Tail")],
    )
    .await;
    assert_eq!(response.status, 200);
    let encoded = response
        .header("x-amz-log-result")
        .expect("X-Amz-Log-Result");
    let log = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap();
    let request_id = response.header("x-amzn-requestid").unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(format!("START RequestId: {request_id} Version: $LATEST").as_str()),
        "{log}"
    );
    assert!(lines.contains(&"a line from the probe"), "{log}");
    assert!(
        lines.contains(&format!("END RequestId: {request_id}").as_str()),
        "{log}"
    );
    let report = lines.last().unwrap();
    assert!(
        report.starts_with(&format!("REPORT RequestId: {request_id}\tDuration: ")),
        "{report}"
    );
    assert!(
        report.contains("\tMemory Size: 256 MB\tMax Memory Used: "),
        "{report}"
    );
    assert!(report.contains("\tInit Duration: "), "cold start: {report}");
}

#[tokio::test]
async fn malformed_requests_get_aws_errors() {
    let fogbank = start_probe();
    let path = "/2015-03-31/functions/Probe/invocations";
    let response = send(fogbank.lambda, "POST", path, &[], "{not json").await;
    let message = check_api_error(&response, 400, "InvalidRequestContentException");
    assert!(
        message.starts_with("Could not parse request body into json"),
        "{message}"
    );
    let response = send(
        fogbank.lambda,
        "POST",
        path,
        &[("x-amz-invocation-type", "Sometimes")],
        "{}",
    )
    .await;
    check_api_error(&response, 400, "InvalidParameterValueException");
    let response = send(
        fogbank.lambda,
        "POST",
        path,
        &[("x-amz-log-type", "Everything")],
        "{}",
    )
    .await;
    check_api_error(&response, 400, "InvalidParameterValueException");
    let response = send(
        fogbank.lambda,
        "POST",
        path,
        &[("x-amz-client-context", "%%%")],
        "{}",
    )
    .await;
    check_api_error(&response, 400, "InvalidRequestContentException");
    let big = format!("\"{}\"", "a".repeat(6_291_457));
    let response = send(fogbank.lambda, "POST", path, &[], big).await;
    check_api_error(&response, 413, "RequestTooLargeException");
    let response = send(
        fogbank.lambda,
        "POST",
        "/2015-03-31/functions/bad%20name/invocations",
        &[],
        "{}",
    )
    .await;
    check_api_error(&response, 400, "ValidationException");
    let response = send(
        fogbank.lambda,
        "DELETE",
        "/2015-03-31/functions/Probe",
        &[],
        "",
    )
    .await;
    check_api_error(&response, 404, "UnknownOperationException");
    // An empty payload is an empty JSON object, as in Lambda.
    let response = send(fogbank.lambda, "POST", path, &[], "").await;
    assert_eq!(response.json(), json!({}));
}

#[tokio::test]
async fn boto3_lists_gets_and_invokes() {
    let fogbank = start_probe();
    let output = python(
        r#"
import base64, json, sys, boto3, botocore
client = boto3.client("lambda", endpoint_url=sys.argv[1])
names = sorted(f["FunctionName"] for f in client.list_functions()["Functions"])
page = client.list_functions(MaxItems=2)
second = client.list_functions(Marker=page["NextMarker"], MaxItems=10)
config = client.get_function(FunctionName="Probe")["Configuration"]
result = client.invoke(FunctionName="Probe", Payload=json.dumps({"hello": "boto3"}), LogType="Tail")
payload = json.loads(result["Payload"].read())
error = client.invoke(FunctionName="Probe", Payload=json.dumps({"action": "error"}))
try:
    client.invoke(FunctionName="Missing")
    missing = None
except botocore.exceptions.ClientError as e:
    missing = e.response["Error"]["Code"]
print(json.dumps({
    "names": names,
    "paged": [f["FunctionName"] for f in page["Functions"]] + [f["FunctionName"] for f in second["Functions"]],
    "runtime": config["Runtime"], "timeout": config["Timeout"], "memory": config["MemorySize"],
    "arn": config["FunctionArn"], "env": config["Environment"]["Variables"],
    "status": result["StatusCode"], "payload": payload,
    "log_has_start": "START RequestId" in base64.b64decode(result["LogResult"]).decode(),
    "function_error": error.get("FunctionError"), "error_payload": json.loads(error["Payload"].read()),
    "missing": missing,
}))
"#,
        &[&fogbank.lambda_url()],
    );
    let result: Value = serde_json::from_str(&output).unwrap();
    assert_eq!(
        result["names"],
        json!(["BrokenInit", "Limited", "Probe", "ReportedInit"])
    );
    assert_eq!(result["paged"], result["names"]);
    assert_eq!(result["runtime"], "provided.al2023");
    assert_eq!(result["timeout"], 2);
    assert_eq!(result["memory"], 256);
    assert_eq!(
        result["arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:Probe"
    );
    assert_eq!(result["env"]["STAGE"], "test");
    assert_eq!(result["status"], 200);
    assert_eq!(result["payload"], json!({"hello": "boto3"}));
    assert_eq!(result["log_has_start"], true);
    assert_eq!(result["function_error"], "Unhandled");
    assert_eq!(result["error_payload"]["errorType"], "ProbeError");
    assert_eq!(result["missing"], "ResourceNotFoundException");
}
