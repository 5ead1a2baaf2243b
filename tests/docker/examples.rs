//! The three example apps in containers: through `fogbank invoke --runtime
//! docker`, boto3 and the aws CLI against the Invoke API, and the API
//! Gateway.

use std::path::Path;
use std::process::{Command, Stdio};

use fogbank_tests::{example, fogbank_binary, http, python, run, venv_bin};
use serde_json::Value;

use super::{app_label, containers_owned_by, require_docker, running_containers, start_docker};

/// (example, function, event file, gateway path, expected body fields)
const CASES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "hello-api",
        "HelloFunction",
        "hello.json",
        "/hello/Ada",
        r#"{"message":"Hello, Ada!","length":11}"#,
    ),
    (
        "python-api",
        "HelloWorldFunction",
        "event.json",
        "/hello",
        r#"{"message":"hello world"}"#,
    ),
    (
        "node-api",
        "HelloFunction",
        "hello.json",
        "/hello/Grace?greeting=Hi",
        r#"{"message":"Hi, Grace!"}"#,
    ),
];

/// Checks that a JSON body contains every expected field.
fn check_body(body: &str, expected: &str, context: &str) {
    let body: Value = serde_json::from_str(body)
        .unwrap_or_else(|_| panic!("{context}: body is not JSON: {body}"));
    let expected: Value = serde_json::from_str(expected).unwrap();
    for (key, value) in expected.as_object().unwrap() {
        assert_eq!(&body[key], value, "{context}: field {key} of {body}");
    }
}

fn check_proxy_response(response: &Value, expected: &str, context: &str) {
    assert_eq!(response["statusCode"], 200, "{context}: {response}");
    check_body(
        response["body"].as_str().unwrap_or("null"),
        expected,
        context,
    );
}

#[test]
fn fogbank_invoke_runs_each_example_in_a_container() {
    require_docker();
    let mut invocations = Vec::new();
    for (name, function, event, _, expected) in CASES {
        let dir = example(name);
        let child = Command::new(fogbank_binary())
            .current_dir(&dir)
            .args(["invoke", function, "--runtime", "docker", "--event"])
            .arg(Path::new("events").join(event))
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning fogbank invoke");
        invocations.push((*name, child.id()));
        let output = child
            .wait_with_output()
            .expect("waiting for fogbank invoke");
        let (exit, stdout, stderr) = (
            output.status,
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        );
        assert!(
            exit.success(),
            "{name}: fogbank invoke --runtime docker failed ({exit}):\n{stderr}"
        );
        let response: Value = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|_| panic!("{name}: stdout is not one JSON document:\n{stdout}"));
        check_proxy_response(&response, expected, name);
        assert!(
            stderr.contains("START RequestId: ") && stderr.contains("REPORT RequestId: "),
            "{stderr}"
        );
        assert!(
            !stderr.contains("host processes"),
            "{name} fell back to the process runtime:\n{stderr}"
        );
        // Nothing from the function after its REPORT line: while its
        // container dies, its bootstrap must not find the Runtime API gone
        // and log connection errors.
        let prefix = format!("[{function}] ");
        let last_function_line = stderr.lines().rfind(|line| line.starts_with(&prefix));
        assert!(
            last_function_line.is_some_and(|line| line.contains("REPORT RequestId: ")),
            "{name}: output after the invocation's REPORT line:\n{stderr}"
        );
    }
    // `fogbank invoke` removes its container when it is done. Another test
    // serves the same examples in parallel, so only this test's processes'
    // containers count.
    for (name, pid) in invocations {
        let template = example(name).join("template.yaml");
        let left = containers_owned_by(&app_label(&template), pid);
        assert!(left.is_empty(), "{name} left containers behind: {left:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_the_aws_cli_and_the_gateway_reach_each_example_in_a_container() {
    for (name, function, event, path, expected) in CASES {
        let dir = example(name);
        let template = dir.join("template.yaml");
        let fogbank = start_docker(&template, &[]);
        assert!(
            fogbank.output().contains("(runtime: docker)"),
            "{}",
            fogbank.output()
        );
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
        check_proxy_response(&result["payload"], expected, &format!("{name} via boto3"));

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
        let response: Value = serde_json::from_slice(&std::fs::read(out.path()).unwrap()).unwrap();
        check_proxy_response(&response, expected, &format!("{name} via aws"));

        let gateway = fogbank
            .gateway
            .expect("fogbank printed its API Gateway address");
        let response = http::send(gateway, "GET", path, &[], "").await;
        assert_eq!(
            response.status,
            200,
            "{name} GET {path}: {}",
            response.text()
        );
        check_body(
            &response.text(),
            expected,
            &format!("{name} via the gateway"),
        );

        // The instance is a container of this app, and the REPORT line
        // carries the container's real memory use.
        assert!(
            !running_containers(&app_label(&template)).is_empty(),
            "{name}: no container runs"
        );
        let output = fogbank.output();
        let used: Vec<u64> = output
            .lines()
            .filter_map(|line| line.split("Max Memory Used: ").nth(1))
            .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
            .collect();
        assert!(
            !used.is_empty() && used.iter().all(|mb| *mb > 0),
            "{name}: {output}"
        );
        drop(fogbank);
    }
}
