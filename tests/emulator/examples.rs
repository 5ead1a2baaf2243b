//! The three example apps, each invoked through `fogbank invoke`, through
//! boto3 and through `aws lambda invoke --endpoint-url`. hello-api is the
//! real `lambda_runtime` crate, unchanged.

use std::path::Path;
use std::process::Command;

use fogbank_tests::{Fogbank, example, fogbank_binary, python, run, venv_bin};
use serde_json::{Value, json};

/// (example, function, event file, expected status, expected body fields)
const CASES: &[(&str, &str, &str, u16, &str)] = &[
    (
        "hello-api",
        "HelloFunction",
        "hello.json",
        200,
        r#"{"message":"Hello, Ada!","length":11}"#,
    ),
    (
        "python-api",
        "HelloWorldFunction",
        "event.json",
        200,
        r#"{"message":"hello world"}"#,
    ),
    (
        "node-api",
        "HelloFunction",
        "hello.json",
        200,
        r#"{"message":"Hi, Grace!"}"#,
    ),
];

/// Checks an API Gateway proxy response: its status and that its JSON body
/// contains every expected field.
fn check_proxy_response(response: &Value, status: u16, expected: &str, context: &str) {
    assert_eq!(response["statusCode"], status, "{context}: {response}");
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap_or("null"))
        .unwrap_or_else(|_| panic!("{context}: body is not JSON: {response}"));
    let expected: Value = serde_json::from_str(expected).unwrap();
    for (key, value) in expected.as_object().unwrap() {
        assert_eq!(&body[key], value, "{context}: field {key} of {body}");
    }
}

#[test]
fn fogbank_invoke_runs_each_example() {
    for (name, function, event, status, expected) in CASES {
        let dir = example(name);
        let (exit, stdout, stderr) = run(Command::new(fogbank_binary())
            .current_dir(&dir)
            .args(["invoke", function, "--event"])
            .arg(Path::new("events").join(event))
            .env("NO_COLOR", "1"));
        assert!(
            exit.success(),
            "{name}: fogbank invoke failed ({exit}):\n{stderr}"
        );
        let response: Value = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|_| panic!("{name}: stdout is not one JSON document:\n{stdout}"));
        check_proxy_response(&response, *status, expected, name);
        // The logs go to stderr, with Lambda's platform lines.
        assert!(
            stderr.contains("START RequestId: ") && stderr.contains("REPORT RequestId: "),
            "{stderr}"
        );
    }
}

#[test]
fn fogbank_invoke_exits_non_zero_on_a_function_error() {
    let dir = example("hello-api");
    let (exit, stdout, _) = run(Command::new(fogbank_binary()).current_dir(&dir).args([
        "invoke",
        "HelloFunction",
        "--event",
        "events/panic.json",
    ]));
    assert!(!exit.success());
    let error: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(
        error["errorMessage"].as_str().unwrap().contains("panicked"),
        "{error}"
    );
    // Standard input works as the event source too.
    let mut child = Command::new(fogbank_binary())
        .current_dir(&dir)
        .args(["invoke", "HelloFunction", "--event", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(dir.join("events/hello.json")).unwrap())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let response: Value = serde_json::from_slice(&output.stdout).unwrap();
    check_proxy_response(&response, 200, r#"{"message":"Hello, Ada!"}"#, "stdin");
}

#[test]
fn boto3_and_the_aws_cli_invoke_each_example() {
    for (name, function, event, status, expected) in CASES {
        let dir = example(name);
        let fogbank = Fogbank::start(&dir.join("template.yaml"));
        let event_path = dir.join("events").join(event);

        let output = python(
            r#"
import json, sys, boto3
client = boto3.client("lambda", endpoint_url=sys.argv[1])
with open(sys.argv[3]) as f:
    event = f.read()
result = client.invoke(FunctionName=sys.argv[2], Payload=event)
print(json.dumps({"status": result["StatusCode"], "error": result.get("FunctionError"), "payload": json.loads(result["Payload"].read())}))
"#,
            &[
                &fogbank.lambda_url(),
                function,
                event_path.to_str().unwrap(),
            ],
        );
        let result: Value = serde_json::from_str(&output).unwrap();
        assert_eq!(result["status"], 200, "{name}: {result}");
        assert_eq!(result["error"], Value::Null, "{name}: {result}");
        check_proxy_response(
            &result["payload"],
            *status,
            expected,
            &format!("{name} via boto3"),
        );

        let out = tempfile::NamedTempFile::new().unwrap();
        let (exit, stdout, stderr) = run(Command::new(venv_bin("aws"))
            .args([
                "lambda",
                "invoke",
                "--endpoint-url",
                &fogbank.lambda_url(),
                "--function-name",
                function,
            ])
            .arg("--payload")
            .arg(format!("fileb://{}", event_path.display()))
            .arg(out.path())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_DEFAULT_REGION", "us-east-1"));
        assert!(
            exit.success(),
            "{name}: aws lambda invoke failed:\n{stderr}"
        );
        let summary: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(summary["StatusCode"], 200, "{name}: {summary}");
        assert_eq!(summary["ExecutedVersion"], "$LATEST");
        let response: Value = serde_json::from_slice(&std::fs::read(out.path()).unwrap()).unwrap();
        check_proxy_response(&response, *status, expected, &format!("{name} via aws"));
    }
}

#[test]
fn the_aws_cli_sees_function_errors() {
    let fogbank = Fogbank::start(&example("hello-api").join("template.yaml"));
    let out = tempfile::NamedTempFile::new().unwrap();
    let (exit, stdout, stderr) = run(Command::new(venv_bin("aws"))
        .args([
            "lambda",
            "invoke",
            "--endpoint-url",
            &fogbank.lambda_url(),
            "--function-name",
            "HelloFunction",
        ])
        .arg("--payload")
        .arg(format!(
            "fileb://{}",
            example("hello-api").join("events/panic.json").display()
        ))
        .arg(out.path())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1"));
    assert!(exit.success(), "{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["FunctionError"], "Unhandled");
    let error: Value = serde_json::from_slice(&std::fs::read(out.path()).unwrap()).unwrap();
    assert!(
        error["errorMessage"].as_str().unwrap().contains("panicked"),
        "{error}"
    );
    // The panicking instance keeps serving (lambda_runtime catches panics).
    let output = python(
        r#"
import sys, boto3
client = boto3.client("lambda", endpoint_url=sys.argv[1])
with open(sys.argv[2]) as f:
    r = client.invoke(FunctionName="HelloFunction", Payload=f.read())
print(r["Payload"].read().decode())
"#,
        &[
            &fogbank.lambda_url(),
            example("hello-api")
                .join("events/hello.json")
                .to_str()
                .unwrap(),
        ],
    );
    let response: Value = serde_json::from_str(&output).unwrap();
    assert_eq!(response["statusCode"], json!(200), "{response}");
}
