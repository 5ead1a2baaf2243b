//! Faults: fogbank killed with containers running, a container killed from
//! outside mid-invocation, and a Docker engine that is missing or stuck.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fogbank_tests::{copy_dir, fogbank_binary};
use serde_json::json;

use super::{
    all_containers, app_label, docker, eventually, fixture, invoke, running_containers,
    start_docker,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_of_a_killed_fogbank_are_removed_by_the_next_start() {
    let app = copy_dir(&fixture("sandbox"));
    let template = app.path().join("template.yaml");
    let label = app_label(&template);
    let mut first = start_docker(&template, &["--warm"]);
    // --warm starts the containers before the banner's last line.
    eventually(Duration::from_secs(10), || {
        running_containers(&label).len() == 3
    });
    let warm = running_containers(&label);
    assert_eq!(
        warm.len(),
        3,
        "--warm starts one container per function: {warm:?}"
    );

    // A long invocation keeps one container busy, so it outlives fogbank.
    let lambda = first.lambda;
    tokio::spawn(async move {
        let _ = tokio::time::timeout(
            Duration::from_secs(30),
            fogbank_tests::http::send(
                lambda,
                "POST",
                "/2015-03-31/functions/Sandbox/invocations",
                &[],
                json!({"action": "sleep", "seconds": 60}).to_string(),
            ),
        )
        .await;
    });
    // START is logged when the event is handed over; the function has it
    // only once it says so. Killing fogbank in between would end the
    // bootstrap's `next` request and with it the container.
    assert!(
        first.wait_for_output("sleeping 60 s", Duration::from_secs(10)),
        "{}",
        first.output()
    );
    first.kill9();
    std::thread::sleep(Duration::from_millis(500));
    let orphans = running_containers(&label);
    assert!(
        !orphans.is_empty(),
        "the busy container should outlive a killed fogbank"
    );

    // The clock starts when `fogbank start` is run, not when it
    // has printed its banner.
    let started = Instant::now();
    let second = start_docker(&template, &[]);
    let gone = eventually(
        Duration::from_secs(5).saturating_sub(started.elapsed()),
        || {
            orphans.iter().all(|id| {
                let output = docker(&["ps", "-q", "--no-trunc", "--filter", &format!("id={id}")]);
                String::from_utf8_lossy(&output.stdout).trim().is_empty()
            })
        },
    );
    assert!(
        gone,
        "orphans still running {:?} after the second start:\n{}",
        started.elapsed(),
        second.output()
    );
    assert!(
        second.wait_for_output(
            "left behind by an earlier Fogbank run",
            Duration::from_secs(5)
        ),
        "{}",
        second.output()
    );
    // Stopped containers of the first run are removed too.
    let left: Vec<String> = all_containers(&label)
        .into_iter()
        .filter(|id| warm.contains(id))
        .collect();
    assert!(
        eventually(Duration::from_secs(5), || all_containers(&label)
            .iter()
            .all(|id| !warm.contains(id))),
        "containers of the first run remain: {left:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_killed_from_outside_fails_its_invocation_and_is_replaced() {
    let app = copy_dir(&fixture("sandbox"));
    let template = app.path().join("template.yaml");
    let fogbank = start_docker(&template, &[]);
    let before = invoke(&fogbank, "Sandbox", json!({"action": "env"})).await;
    let first_stream = before.body["env"]["AWS_LAMBDA_LOG_STREAM_NAME"].clone();
    let function_label = "dev.fogbank.function=Sandbox".to_owned();
    let containers: Vec<String> = running_containers(&app_label(&template))
        .into_iter()
        .filter(|id| running_containers(&function_label).contains(id))
        .collect();
    assert_eq!(containers.len(), 1, "{containers:?}");

    let busy = {
        let lambda = fogbank.lambda;
        tokio::spawn(async move {
            let response = fogbank_tests::http::send(
                lambda,
                "POST",
                "/2015-03-31/functions/Sandbox/invocations",
                &[],
                json!({"action": "sleep", "seconds": 2}).to_string(),
            )
            .await;
            (
                response.status,
                response.header("x-amz-function-error").map(str::to_owned),
                response.json(),
            )
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let killed = docker(&["kill", &containers[0]]);
    assert!(
        killed.status.success(),
        "docker kill: {}",
        String::from_utf8_lossy(&killed.stderr)
    );
    let (status, function_error, body) = busy.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(function_error.as_deref(), Some("Unhandled"), "{body}");
    assert_eq!(body["errorType"], "Runtime.ExitError", "{body}");
    let message = body["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("RequestId: ") && message.contains("Runtime exited"),
        "{message}"
    );

    let after = invoke(&fogbank, "Sandbox", json!({"action": "env"})).await;
    assert_eq!(after.function_error, None, "{after:?}");
    assert_ne!(
        after.body["env"]["AWS_LAMBDA_LOG_STREAM_NAME"], first_stream,
        "the dead container was reused"
    );
    assert!(
        eventually(Duration::from_secs(5), || !all_containers(&app_label(
            &template
        ))
        .contains(&containers[0])),
        "the killed container was not removed"
    );
}

/// Runs a fogbank command that should fail, returning (seconds taken,
/// exit success, stdout, stderr); kills it after 30 s.
fn run_expecting_exit(args: &[&str], env: &[(&str, &str)]) -> (f64, bool, String, String) {
    // Resolving the binary may build the workspace first; that is not
    // fogbank's time.
    let fogbank = fogbank_binary();
    let started = Instant::now();
    let mut child = Command::new(fogbank)
        .args(args)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("fogbank {args:?} still running after 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (
        started.elapsed().as_secs_f64(),
        status.success(),
        stdout,
        stderr,
    )
}

#[test]
fn an_unreachable_engine_is_reported_clearly_and_fast() {
    let template = fixture("sandbox/template.yaml");
    let template = template.to_str().unwrap();
    let state = tempfile::tempdir().unwrap();
    let state = state.path().to_str().unwrap();
    let missing = [("DOCKER_HOST", "unix:///nonexistent.sock")];
    let ports = [
        "--lambda-port",
        "0",
        "--sqs-port",
        "0",
        "--port",
        "0",
        "--control-port",
        "0",
    ];

    let mut args = vec![
        "start",
        "--runtime",
        "docker",
        "--template",
        template,
        "--state-dir",
        state,
    ];
    args.extend(ports);
    let (seconds, success, _, stderr) = run_expecting_exit(&args, &missing);
    assert!(!success, "{stderr}");
    assert!(seconds < 10.0, "took {seconds:.1} s");
    assert!(
        stderr.contains("Docker engine at unix:///nonexistent.sock"),
        "{stderr}"
    );
    assert!(stderr.contains("--runtime process"), "{stderr}");

    let args = [
        "invoke",
        "Sandbox",
        "--runtime",
        "docker",
        "--template",
        template,
        "--state-dir",
        state,
    ];
    let (seconds, success, _, stderr) = run_expecting_exit(&args, &missing);
    assert!(!success && seconds < 10.0, "{seconds:.1} s: {stderr}");
    assert!(stderr.contains("unix:///nonexistent.sock"), "{stderr}");

    // An engine that accepts connections but never answers.
    let stuck = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("tcp://{}", stuck.local_addr().unwrap());
    let mut args = vec![
        "start",
        "--runtime",
        "docker",
        "--template",
        template,
        "--state-dir",
        state,
    ];
    args.extend(ports);
    let (seconds, success, _, stderr) = run_expecting_exit(&args, &[("DOCKER_HOST", &host)]);
    assert!(!success && seconds < 15.0, "{seconds:.1} s: {stderr}");
    assert!(stderr.contains("no answer within"), "{stderr}");
    drop(stuck);

    // Without --runtime, fogbank says why and runs processes instead.
    let options = fogbank_tests::StartOptions {
        env: vec![
            ("DOCKER_HOST".into(), "unix:///nonexistent.sock".into()),
            ("FOGBANK_RUNTIME".into(), "auto".into()),
        ],
        ..fogbank_tests::StartOptions::new(std::path::Path::new(template))
    };
    let fogbank = fogbank_tests::Fogbank::start_with(options);
    let output = fogbank.output();
    assert!(output.contains("(runtime: process)"), "{output}");
    let notice: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("nonexistent.sock"))
        .collect();
    assert_eq!(notice.len(), 1, "one notice line saying why: {output}");
    assert!(notice[0].contains("host processes"), "{output}");
}
