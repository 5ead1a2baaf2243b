//! The `fogbank` command line as a user meets it: `validate` on broken
//! templates, shutdown on SIGTERM, and the idle footprint of `start`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use fogbank_tests::{Fogbank, fogbank_binary, run};

use super::fixture;

/// Writes `template` into a fresh directory (with a `src/` code dir) and
/// runs `fogbank validate` on it, returning exit code and stderr.
fn validate(template: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("template.yaml"), template).unwrap();
    let (status, _stdout, stderr) = run(Command::new(fogbank_binary())
        .current_dir(dir.path())
        .arg("validate")
        .env("NO_COLOR", "1"));
    assert!(!stderr.contains("panicked"), "{stderr}");
    (status.code().unwrap_or(-1), stderr)
}

/// Checks that a broken template fails with exit code 2 and one message
/// per problem, each naming the file, the place and the problem.
fn check_broken(template: &str, expected_messages: &[&str]) {
    let (code, stderr) = validate(template);
    assert_eq!(code, 2, "{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains(": error: "))
        .collect();
    assert_eq!(errors.len(), expected_messages.len(), "{stderr}");
    for (line, expected) in errors.iter().zip(expected_messages) {
        assert!(line.starts_with("template.yaml:"), "names the file: {line}");
        assert!(line.contains(expected), "expected {expected:?} in {line}");
    }
}

const HEADER: &str = "Transform: AWS::Serverless-2016-10-31\nResources:\n";

#[test]
fn broken_templates_get_one_clear_message_per_problem() {
    check_broken("Resources: [unclosed\n", &["template.yaml:"]);
    check_broken(
        &format!(
            "{HEADER}  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src\n      Runtime: python3.12\n"
        ),
        &["Fn.Properties.Handler"],
    );
    check_broken(
        &format!(
            "{HEADER}  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src\n      Handler: app.handler\n      Runtime: python3.12\n      Environment:\n        Variables:\n          TABLE: !Ref Missing\n"
        ),
        &["Missing"],
    );
    check_broken(
        &format!(
            "{HEADER}  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: nowhere\n      Handler: app.handler\n      Runtime: python3.12\n"
        ),
        &["Fn.Properties.CodeUri"],
    );
    check_broken(
        &format!(
            "{HEADER}  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src\n      Handler: app.handler\n      Runtime: cobol1.0\n"
        ),
        &["Fn.Properties.Runtime"],
    );
    // Several problems at once: each is reported.
    check_broken(
        &format!(
            "{HEADER}  A:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: nowhere\n      Handler: app.handler\n      Runtime: python3.12\n  B:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src\n      Runtime: cobol1.0\n      Handler: x.y\n"
        ),
        &["A.Properties.CodeUri", "B.Properties.Runtime"],
    );
    // Resources Fogbank doesn't emulate are warnings, not failures.
    let (code, stderr) = validate(&format!(
        "{HEADER}  Table:\n    Type: AWS::DynamoDB::Table\n    Properties: {{}}\n"
    ));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("warning") && stderr.contains("AWS::DynamoDB::Table"),
        "{stderr}"
    );
}

#[test]
fn start_and_invoke_report_template_errors_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("template.yaml"), format!("{HEADER}  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: nowhere\n      Handler: a.b\n      Runtime: python3.12\n")).unwrap();
    for args in [
        &["start", "--lambda-port", "0", "--sqs-port", "0"][..],
        &["invoke", "Fn"][..],
    ] {
        let (status, _, stderr) = run(Command::new(fogbank_binary())
            .current_dir(dir.path())
            .args(args));
        assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("Fn.Properties.CodeUri"), "{stderr}");
    }
    let (status, _, stderr) = run(Command::new(fogbank_binary())
        .current_dir(dir.path())
        .args(["invoke", "Fn", "--event", "missing.json"]));
    assert!(!status.success());
    assert!(stderr.contains("missing.json"), "{stderr}");
}

#[test]
fn tracebacks_name_source_files_not_the_build_copy() {
    // The process runtime runs interpreted functions from a versioned copy
    // under .fogbank/build; a developer must be sent to the files they edit.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(
        dir.path().join("template.yaml"),
        format!(
            "{HEADER}  Py:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src\n      Handler: app.handler\n      Runtime: python3.12\n  \
             Js:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src\n      Handler: index.handler\n      Runtime: nodejs20.x\n"
        ),
    )
    .unwrap();
    std::fs::write(
        src.join("app.py"),
        "import helper\n\ndef handler(event, context):\n    return helper.boom()\n",
    )
    .unwrap();
    std::fs::write(
        src.join("helper.py"),
        "def boom():\n    raise ValueError('boom')\n",
    )
    .unwrap();
    std::fs::write(
        src.join("index.mjs"),
        "export const handler = async () => {\n  throw new Error('kaboom');\n};\n",
    )
    .unwrap();
    let source = |file: &str| src.join(file).display().to_string();
    for (function, console_line, trace_key, trace_line) in [
        (
            "Py",
            format!("File \"{}\", line 2, in boom", source("helper.py")),
            "stackTrace",
            format!("File \"{}\", line 2, in boom", source("helper.py")),
        ),
        (
            "Js",
            format!("at Runtime.handler (file://{}:2:9)", source("index.mjs")),
            "trace",
            format!("at Runtime.handler (file://{}:2:9)", source("index.mjs")),
        ),
    ] {
        let (status, stdout, stderr) = run(Command::new(fogbank_binary())
            .current_dir(dir.path())
            .args(["invoke", function])
            .env("FOGBANK_RUNTIME", "process")
            .env("NO_COLOR", "1"));
        assert_eq!(status.code(), Some(1), "{function}: {stderr}");
        // The log, on the console.
        assert!(stderr.contains(&console_line), "{function}: {stderr}");
        // The error report the caller gets.
        let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        let trace = report[trace_key].to_string();
        assert!(
            trace.contains(&trace_line.replace('"', "\\\"")),
            "{function}: {trace}"
        );
        assert!(!trace.contains(".fogbank/build"), "{function}: {trace}");
    }
}

/// The child processes of `pid`, whichever of its threads started them.
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(Result::ok)
        .flat_map(|task| {
            std::fs::read_to_string(task.path().join("children"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

#[tokio::test]
async fn sigterm_stops_everything_and_leaves_no_child() {
    let mut fogbank = Fogbank::start(&fixture("probe/template.yaml"));
    for function in ["Probe", "Limited"] {
        let response = fogbank_tests::http::send(
            fogbank.lambda,
            "POST",
            &format!("/2015-03-31/functions/{function}/invocations"),
            &[],
            r#"{"action":"headers"}"#,
        )
        .await;
        assert_eq!(response.status, 200);
    }
    let instances = children_of(fogbank.pid());
    assert_eq!(instances.len(), 2, "two warm instances: {instances:?}");
    let status = fogbank.stop();
    assert!(status.success(), "{status}");
    for pid in instances {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "instance {pid} outlived fogbank"
        );
    }
}

#[test]
fn idle_start_with_the_three_examples_stays_small() {
    let fogbank = Fogbank::start(&fixture("all-examples/template.yaml"));
    std::thread::sleep(Duration::from_secs(1));
    let status = std::fs::read_to_string(format!("/proc/{}/status", fogbank.pid())).unwrap();
    let rss_kb: u64 = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kb| kb.parse().ok())
        .unwrap();
    let output = fogbank.output();
    for function in ["HelloFunction", "HelloWorldFunction", "NodeHelloFunction"] {
        assert!(output.contains(function), "{function} is served:\n{output}");
    }
    assert!(rss_kb < 30 * 1024, "idle fogbank uses {rss_kb} kB resident");
}
