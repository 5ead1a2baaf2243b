//! Hot reload through `fogbank start` (watching, the default): for each
//! example, a load loop runs while the handler's source is edited; the new
//! text must appear with no failed or hung request and no response of a
//! mixed version. Also: a broken build keeps the old version answering and
//! recovers on the next good save, a template edit adds a route, a
//! function and a queue without a restart (warm instances and queue
//! contents survive), `--no-watch` turns it all off, and the control
//! interface announces each reload.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod load;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fogbank_tests::{Fogbank, StartOptions, copy_dir, example, http};
use load::{LoadLoop, Versions};

/// Replaces `from` with `to` in a file, failing if `from` is absent.
fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.contains(from),
        "{} does not contain {from:?}",
        path.display()
    );
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// The python-api example, changed so that `GET /hello` answers
/// `FIRST-SECOND` from two modules: a version mixing files of two saves
/// would answer `one-two` or `two-one`.
fn python_app() -> tempfile::TempDir {
    let dir = copy_dir(&example("python-api"));
    let code = dir.path().join("hello_world");
    std::fs::write(code.join("version.py"), "FIRST = \"one\"\n").unwrap();
    edit(
        &code.join("app.py"),
        "import os\n",
        "import os\n\nimport version\n\nSECOND = \"one\"\n",
    );
    edit(
        &code.join("app.py"),
        r#"os.environ.get("GREETING", "hello world")"#,
        r#"version.FIRST + "-" + SECOND"#,
    );
    dir
}

/// The node-api example, changed the same way (`GET /hello/{name}`).
fn node_app() -> tempfile::TempDir {
    let dir = copy_dir(&example("node-api"));
    let code = dir.path().join("src");
    std::fs::write(code.join("version.mjs"), "export const FIRST = 'one';\n").unwrap();
    let app = code.join("app.mjs");
    let text = std::fs::read_to_string(&app).unwrap();
    std::fs::write(
        &app,
        format!("import {{ FIRST }} from './version.mjs';\nconst SECOND = 'one';\n{text}"),
    )
    .unwrap();
    edit(
        &app,
        "message: `${greeting}, ${name}!`",
        "message: `${FIRST}-${SECOND}`",
    );
    dir
}

/// Saves the second version of a two-module app: both files at once, as a
/// "save all" does.
fn save_two(first: &Path, first_from: &str, second: &Path, second_from: &str) {
    edit(first, first_from, &first_from.replace("one", "two"));
    edit(second, second_from, &second_from.replace("one", "two"));
}

fn start(template: &Path, args: &[&str]) -> Fogbank {
    Fogbank::start_with(StartOptions::new(template).args(args))
}

/// Checks that no function reported a crash: a reload whose check fails
/// discards the new version's instance together with its output, so the
/// log shows the build's error only.
fn assert_no_function_crash(output: &str, functions: &[&str]) {
    for line in output.lines() {
        let from_function = functions
            .iter()
            .any(|function| line.starts_with(&format!("[{function}] ")));
        let crash = ["Error", "Traceback", "Unhandled exception", "Uncaught"]
            .iter()
            .any(|sign| line.contains(sign));
        assert!(!(from_function && crash), "a function crashed:\n{output}");
    }
}

/// Waits for `needle` in fogbank's output, failing with the output.
fn expect_output(fogbank: &Fogbank, needle: &str, within: Duration) {
    assert!(
        fogbank.wait_for_output(needle, within),
        "no `{needle}` within {within:?}; output:\n{}",
        fogbank.output()
    );
}

fn message(response: &http::Response) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(&response.body)
        .ok()?
        .get("message")?
        .as_str()
        .map(str::to_owned)
}

/// Runs the acceptance scenario: a load loop on `path`, the edit, and the
/// checks on every response.
async fn reload_under_load(
    fogbank: &Fogbank,
    path: &str,
    versions: Versions,
    save: impl FnOnce(),
    within: Duration,
) {
    let gateway = fogbank.gateway.unwrap();
    let load = LoadLoop::start(gateway, path, 4);
    load.wait_for(&versions.old, 20, Duration::from_secs(60))
        .await;
    save();
    let saved = Instant::now();
    load.wait_for(&versions.new, 1, within).await;
    let save_to_new = saved.elapsed();
    // Keep the load on a little longer: old instances retire while it runs.
    load.wait_for(&versions.new, 50, Duration::from_secs(30))
        .await;
    let samples = load.stop().await;
    // A failed request is explained by what fogbank printed around it.
    let failed = samples
        .iter()
        .any(|s| !matches!(&s.outcome, Ok((200, m)) if *m == versions.old || *m == versions.new));
    if failed {
        eprintln!("fogbank's output:\n{}", fogbank.output());
    }
    let report = load::check(&samples, &versions);
    eprintln!(
        "{} requests, save to new response {save_to_new:?}, slowest {:?}: {report:?}",
        samples.len(),
        report.slowest
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_edit_under_load() {
    let dir = python_app();
    let fogbank = start(&dir.path().join("template.yaml"), &[]);
    let code = dir.path().join("hello_world");
    let events = ControlEvents::subscribe(fogbank.control);
    reload_under_load(
        &fogbank,
        "/hello",
        Versions::new("one-one", "two-two", &["one-two", "two-one"]),
        || {
            save_two(
                &code.join("version.py"),
                "FIRST = \"one\"",
                &code.join("app.py"),
                "SECOND = \"one\"",
            )
        },
        Duration::from_secs(30),
    )
    .await;
    expect_output(
        &fogbank,
        "reloaded HelloWorldFunction (build ",
        Duration::from_secs(5),
    );
    // The control interface announces the reload for the debugger.
    let event = events.wait_for("reload", Duration::from_secs(10));
    assert_eq!(event["function"], "HelloWorldFunction");
    assert_eq!(event["version"], 2);
    let artifact = PathBuf::from(event["artifact"].as_str().unwrap());
    assert!(artifact.join("app.py").is_file(), "{event}");
    assert!(
        event["buildMs"].is_u64() && event["swapMs"].is_u64(),
        "{event}"
    );
    assert_eq!(event["source"], code.to_str().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_edit_under_load() {
    let dir = node_app();
    let fogbank = start(&dir.path().join("template.yaml"), &[]);
    let code = dir.path().join("src");
    reload_under_load(
        &fogbank,
        "/hello/load",
        Versions::new("one-one", "two-two", &["one-two", "two-one"]),
        || {
            save_two(
                &code.join("version.mjs"),
                "FIRST = 'one'",
                &code.join("app.mjs"),
                "SECOND = 'one'",
            )
        },
        Duration::from_secs(30),
    )
    .await;
    // Both functions share src/: one build, one line naming both.
    expect_output(
        &fogbank,
        "reloaded HelloFunction, ItemsFunction (build ",
        Duration::from_secs(5),
    );
    assert_eq!(
        fogbank.output().matches("reloaded HelloFunction").count(),
        1,
        "{}",
        fogbank.output()
    );
}

/// The target directory the edited copies of the Rust example build into:
/// shared by this module's tests, so hello-api's dependencies compile once,
/// but not the example's own `target/`, which other tests run in place and
/// must not find replaced by an edited version.
fn rust_target_dir() -> String {
    fogbank_tests::target_dir()
        .join("hello-api-reload")
        .display()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_edit_under_load() {
    let dir = copy_dir(&example("hello-api"));
    let template = dir.path().join("template.yaml");
    let mut options = StartOptions::new(&template);
    options
        .env
        .push(("CARGO_TARGET_DIR".into(), rust_target_dir()));
    let fogbank = Fogbank::start_with(options);
    let events = ControlEvents::subscribe(fogbank.control);
    let main = dir.path().join("src/main.rs");
    reload_under_load(
        &fogbank,
        "/hello/load",
        Versions::new("Hello, load!", "Howdy, load!", &[]),
        || {
            edit(
                &main,
                "format!(\"Hello, {name}!\")",
                "format!(\"Howdy, {name}!\")",
            )
        },
        Duration::from_secs(300),
    )
    .await;
    expect_output(
        &fogbank,
        "reloaded HelloFunction (build ",
        Duration::from_secs(5),
    );
    let event = events.wait_for("reload", Duration::from_secs(10));
    assert_eq!(event["function"], "HelloFunction");
    let artifact = PathBuf::from(event["artifact"].as_str().unwrap());
    assert!(
        artifact.ends_with("HelloFunction/bootstrap") && artifact.is_file(),
        "{event}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_build_keeps_the_old_version_and_recovers() {
    let dir = python_app();
    let fogbank = start(&dir.path().join("template.yaml"), &[]);
    let gateway = fogbank.gateway.unwrap();
    let app = dir.path().join("hello_world/app.py");
    let load = LoadLoop::start(gateway, "/hello", 2);
    load.wait_for("one-one", 10, Duration::from_secs(60)).await;

    // A syntax error: the build fails with Python's own message, once.
    let good = std::fs::read_to_string(&app).unwrap();
    let broken = good.replace("SECOND = \"one\"", "SECOND = (\"two\"");
    std::fs::write(&app, &broken).unwrap();
    expect_output(
        &fogbank,
        "reload of HelloWorldFunction failed",
        Duration::from_secs(30),
    );
    let output = fogbank.output();
    assert!(
        output.contains("SyntaxError") || output.contains("never closed"),
        "{output}"
    );
    // Saving the same broken text again neither rebuilds nor repeats it.
    std::fs::write(&app, &broken).unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        fogbank
            .output()
            .matches("reload of HelloWorldFunction failed")
            .count(),
        1
    );
    assert_no_function_crash(&fogbank.output(), &["HelloWorldFunction"]);
    load.wait_for("one-one", 20, Duration::from_secs(30)).await;

    // The next good save recovers.
    std::fs::write(&app, good.replace("SECOND = \"one\"", "SECOND = \"two\"")).unwrap();
    load.wait_for("one-two", 10, Duration::from_secs(30)).await;
    let samples = load.stop().await;
    load::check(&samples, &Versions::new("one-one", "one-two", &[]));
    expect_output(
        &fogbank,
        "reloaded HelloWorldFunction (build ",
        Duration::from_secs(5),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_syntax_error_is_a_failed_build() {
    let dir = node_app();
    let fogbank = start(&dir.path().join("template.yaml"), &[]);
    let gateway = fogbank.gateway.unwrap();
    let app = dir.path().join("src/app.mjs");
    edit(&app, "const SECOND = 'one';", "const SECOND = 'one'';");
    expect_output(
        &fogbank,
        "reload of HelloFunction, ItemsFunction failed",
        Duration::from_secs(30),
    );
    assert!(
        fogbank.output().contains("SyntaxError"),
        "{}",
        fogbank.output()
    );
    let response = http::send(gateway, "GET", "/hello/x", &[], "").await;
    // Give a discarded instance's crash time to show, were it shown.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_no_function_crash(&fogbank.output(), &["HelloFunction", "ItemsFunction"]);
    assert_eq!(
        (response.status, message(&response).as_deref()),
        (200, Some("one-one"))
    );
    edit(&app, "const SECOND = 'one'';", "const SECOND = 'two';");
    expect_output(
        &fogbank,
        "reloaded HelloFunction, ItemsFunction (build ",
        Duration::from_secs(30),
    );
    let response = http::send(gateway, "GET", "/hello/x", &[], "").await;
    assert_eq!(
        (response.status, message(&response).as_deref()),
        (200, Some("one-two"))
    );
}

/// One SQS JSON-protocol call.
async fn sqs(address: SocketAddr, action: &str, body: serde_json::Value) -> serde_json::Value {
    let response = http::send(
        address,
        "POST",
        "/",
        &[
            ("x-amz-target", &format!("AmazonSQS.{action}")),
            ("content-type", "application/x-amz-json-1.0"),
        ],
        body.to_string(),
    )
    .await;
    assert_eq!(response.status, 200, "{action}: {}", response.text());
    response.json()
}

/// The URL of the queue whose name contains the logical ID `queue` (SAM
/// names queues `<stack>-<LogicalId>-<suffix>`).
async fn queue_url(address: SocketAddr, queue: &str) -> Option<String> {
    let listed = sqs(address, "ListQueues", serde_json::json!({})).await;
    listed["QueueUrls"]
        .as_array()?
        .iter()
        .filter_map(|url| url.as_str())
        .find(|url| {
            url.rsplit('/')
                .next()
                .is_some_and(|name| name.contains(queue) && !name.contains(&format!("More{queue}")))
        })
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_edit_adds_a_route_a_function_and_a_queue_without_restart() {
    let dir = python_app();
    let template = dir.path().join("template.yaml");
    // A queue from the start, whose message must survive the reload.
    edit(
        &template,
        "Outputs:\n",
        "  Jobs:\n    Type: AWS::SQS::Queue\n\nOutputs:\n",
    );
    let fogbank = start(&template, &["--warm"]);
    let gateway = fogbank.gateway.unwrap();
    let response = http::send(gateway, "GET", "/hello", &[], "").await;
    assert_eq!(message(&response).as_deref(), Some("one-one"));
    let jobs_url = queue_url(fogbank.sqs, "Jobs")
        .await
        .expect("the Jobs queue exists");
    sqs(
        fogbank.sqs,
        "SendMessage",
        serde_json::json!({"QueueUrl": jobs_url, "MessageBody": "kept"}),
    )
    .await;
    let before = http::send(gateway, "GET", "/added", &[], "").await;
    assert_eq!(
        before.status,
        403,
        "REST APIs answer unknown routes with 403: {}",
        before.text()
    );
    let instances_before = instances(fogbank.control, "HelloWorldFunction").await;
    assert!(instances_before >= 1);

    // One save adds a route to the function, a new function with its own
    // route, and a new queue.
    edit(
        &template,
        "        CreateItem:\n",
        "        Added:\n          Type: Api\n          Properties:\n            Path: /added\n            Method: get\n        CreateItem:\n",
    );
    edit(
        &template,
        "  Jobs:\n",
        "  FreshFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: hello_world/\n      Handler: app.lambda_handler\n      Runtime: python3.12\n      Events:\n        Fresh:\n          Type: Api\n          Properties:\n            Path: /hello/fresh\n            Method: get\n  MoreJobs:\n    Type: AWS::SQS::Queue\n  Jobs:\n",
    );
    expect_output(&fogbank, "reloaded template (", Duration::from_secs(30));
    // The unchanged function kept its warm instance (checked before any
    // request could start another) and was not reloaded.
    assert!(instances(fogbank.control, "HelloWorldFunction").await >= 1);
    let output = fogbank.output();
    let reloaded: Vec<&str> = output
        .lines()
        .filter(|l| l.starts_with("reloaded "))
        .collect();
    assert!(
        reloaded.iter().all(|l| !l.contains("HelloWorldFunction")),
        "{reloaded:?}"
    );
    assert!(
        reloaded
            .iter()
            .any(|l| l.starts_with("reloaded FreshFunction (build")),
        "{reloaded:?}"
    );
    assert!(output.contains("added FreshFunction"), "{output}");
    assert!(output.contains("routes updated"), "{output}");

    // The new route reaches the function (which answers its own 404 for a
    // resource it does not know), and the new function answers.
    let added = http::send(gateway, "GET", "/added", &[], "").await;
    assert_eq!(
        (added.status, message(&added).as_deref()),
        (404, Some("no route for GET /added")),
        "{}",
        added.text()
    );
    let fresh = http::send(gateway, "GET", "/hello/fresh", &[], "").await;
    assert_eq!(
        (fresh.status, message(&fresh).as_deref()),
        (404, Some("no route for GET /hello/fresh")),
        "{}",
        fresh.text()
    );
    // The new queue exists and the old one kept its message.
    assert!(
        queue_url(fogbank.sqs, "MoreJobs").await.is_some(),
        "the MoreJobs queue was created"
    );
    let received = sqs(
        fogbank.sqs,
        "ReceiveMessage",
        serde_json::json!({"QueueUrl": jobs_url, "WaitTimeSeconds": 1}),
    )
    .await;
    assert_eq!(received["Messages"][0]["Body"], "kept", "{received}");

    // A broken template keeps serving the previous one.
    edit(
        &template,
        "Resources:\n",
        "Resources:\n  Broken:\n    Type: AWS::Serverless::Function\n    Properties: {}\n",
    );
    expect_output(&fogbank, "template reload failed", Duration::from_secs(30));
    let response = http::send(gateway, "GET", "/added", &[], "").await;
    assert_eq!(response.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_watch_serves_what_was_built() {
    let dir = python_app();
    let fogbank = start(&dir.path().join("template.yaml"), &["--no-watch"]);
    let gateway = fogbank.gateway.unwrap();
    edit(
        &dir.path().join("hello_world/version.py"),
        "\"one\"",
        "\"two\"",
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let response = http::send(gateway, "GET", "/hello", &[], "").await;
    assert_eq!(message(&response).as_deref(), Some("one-one"));
    assert!(
        !fogbank.output().contains("reloaded"),
        "{}",
        fogbank.output()
    );
}

#[test]
fn start_skips_builds_that_are_current() {
    let dir = python_app();
    let state = tempfile::tempdir().unwrap();
    let template = dir.path().join("template.yaml");
    let state_arg = state.path().to_str().unwrap();
    let first = start(&template, &["--state-dir", state_arg]);
    assert!(
        first.output().contains("building HelloWorldFunction"),
        "{}",
        first.output()
    );
    drop(first);
    let second = start(&template, &["--state-dir", state_arg]);
    assert!(
        !second.output().contains("building HelloWorldFunction"),
        "{}",
        second.output()
    );
    drop(second);
    edit(
        &dir.path().join("hello_world/version.py"),
        "\"one\"",
        "\"two\"",
    );
    let third = start(&template, &["--state-dir", state_arg]);
    assert!(
        third.output().contains("building HelloWorldFunction"),
        "{}",
        third.output()
    );
}

/// `instances` of a function in the control interface's status.
async fn instances(control: SocketAddr, function: &str) -> u64 {
    let status = http::send(control, "GET", "/fogbank/v1/status", &[], "")
        .await
        .json();
    status["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["logicalId"] == function)
        .unwrap_or_else(|| panic!("{function} not in {status}"))["instances"]
        .as_u64()
        .unwrap()
}

/// The control interface's event stream, read on a thread.
struct ControlEvents {
    events: mpsc::Receiver<serde_json::Value>,
}

impl ControlEvents {
    fn subscribe(control: SocketAddr) -> ControlEvents {
        let mut stream = std::net::TcpStream::connect(control).unwrap();
        write!(
            stream,
            "GET /fogbank/v1/events HTTP/1.1\r\nhost: {control}\r\n\r\n"
        )
        .unwrap();
        let (sender, events) = mpsc::channel();
        std::thread::spawn(move || {
            // The body is chunked; every JSON line sits inside one chunk,
            // so lines that do not parse (chunk sizes, headers) are skipped.
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { return };
                if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                    && event.is_object()
                    && sender.send(event).is_err()
                {
                    return;
                }
            }
        });
        // Let the subscription reach the emulator before anything happens.
        std::thread::sleep(Duration::from_millis(200));
        ControlEvents { events }
    }

    fn wait_for(&self, kind: &str, within: Duration) -> serde_json::Value {
        let deadline = Instant::now() + within;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(remaining) {
                Ok(event) if event["event"] == kind => return event,
                Ok(_) => continue,
                Err(_) => panic!("no `{kind}` event on the control stream within {within:?}"),
            }
        }
    }
}

/// `BuildMethod: makefile`: `make build-<LogicalId>` with `ARTIFACTS_DIR`,
/// at start and again on a save.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn makefile_builds_run_at_start_and_on_save() {
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("fn");
    std::fs::create_dir_all(&code).unwrap();
    std::fs::write(
        code.join("Makefile"),
        "build-MadeFunction:\n\tsed 's/MARK/made/' handler.py.in > $(ARTIFACTS_DIR)/handler.py\n",
    )
    .unwrap();
    std::fs::write(
        code.join("handler.py.in"),
        "import json\n\ndef handler(event, context):\n    return {\"statusCode\": 200, \"body\": json.dumps({\"message\": \"MARK one\"})}\n",
    )
    .unwrap();
    let template = dir.path().join("template.yaml");
    std::fs::write(
        &template,
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  MadeFunction:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildMethod: makefile\n    Properties:\n      CodeUri: fn/\n      Handler: handler.handler\n      Runtime: python3.12\n      Events:\n        Get:\n          Type: HttpApi\n          Properties: {Path: /made, Method: GET}\n",
    )
    .unwrap();
    let fogbank = start(&template, &[]);
    let gateway = fogbank.gateway.unwrap();
    let response = http::send(gateway, "GET", "/made", &[], "").await;
    assert_eq!(
        message(&response).as_deref(),
        Some("made one"),
        "{}",
        response.text()
    );
    edit(&code.join("handler.py.in"), "MARK one", "MARK two");
    expect_output(
        &fogbank,
        "reloaded MadeFunction (build ",
        Duration::from_secs(30),
    );
    let response = http::send(gateway, "GET", "/made", &[], "").await;
    assert_eq!(
        message(&response).as_deref(),
        Some("made two"),
        "{}",
        response.text()
    );
    // A failing target keeps version two.
    std::fs::write(code.join("Makefile"), "build-MadeFunction:\n\tfalse\n").unwrap();
    expect_output(
        &fogbank,
        "reload of MadeFunction failed",
        Duration::from_secs(30),
    );
    let response = http::send(gateway, "GET", "/made", &[], "").await;
    assert_eq!(message(&response).as_deref(), Some("made two"));
}

/// `BuildMethod: esbuild`: a TypeScript handler is bundled with the esbuild
/// from its devDependencies (installed by the build's `npm install`), at
/// start and again on a save.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esbuild_bundles_typescript_at_start_and_on_save() {
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("fn");
    std::fs::create_dir_all(&code).unwrap();
    std::fs::write(
        code.join("package.json"),
        r#"{"name": "bundled", "private": true, "devDependencies": {"esbuild": "^0.28.2"}}"#,
    )
    .unwrap();
    // Type annotations: only a TypeScript compiler makes this runnable.
    std::fs::write(
        code.join("app.ts"),
        "interface Reply { statusCode: number; body: string }\nconst label: string = \"bundled one\";\nexport const handler = async (): Promise<Reply> => ({ statusCode: 200, body: JSON.stringify({ message: label }) });\n",
    )
    .unwrap();
    let template = dir.path().join("template.yaml");
    std::fs::write(
        &template,
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  BundledFunction:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildMethod: esbuild\n      BuildProperties:\n        EntryPoints: [app.ts]\n        Target: es2020\n    Properties:\n      CodeUri: fn/\n      Handler: app.handler\n      Runtime: nodejs20.x\n      Events:\n        Get:\n          Type: HttpApi\n          Properties: {Path: /bundled, Method: GET}\n",
    )
    .unwrap();
    let state = dir.path().join("state");
    let fogbank = start(&template, &["--state-dir", state.to_str().unwrap()]);
    let gateway = fogbank.gateway.unwrap();
    let response = http::send(gateway, "GET", "/bundled", &[], "").await;
    assert_eq!(
        message(&response).as_deref(),
        Some("bundled one"),
        "{}\n{}",
        response.text(),
        fogbank.output()
    );
    edit(&code.join("app.ts"), "bundled one", "bundled two");
    expect_output(
        &fogbank,
        "reloaded BundledFunction (build ",
        Duration::from_secs(60),
    );
    let response = http::send(gateway, "GET", "/bundled", &[], "").await;
    assert_eq!(
        message(&response).as_deref(),
        Some("bundled two"),
        "{}",
        response.text()
    );
    // The bundle, not the source, is what ran: one per version.
    let files = walk(&state.join("build"));
    let bundles = files
        .iter()
        .filter(|path| path.file_name().is_some_and(|name| name == "app.js"))
        .count();
    assert!(bundles >= 2, "fewer than two app.js bundles: {files:#?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}
