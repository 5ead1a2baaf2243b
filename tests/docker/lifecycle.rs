//! The container lifecycle: labels, warm reuse, several containers per
//! function, the idle timeout, the function timeout, shutdown, and logs
//! that are complete when the function answers.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use fogbank_tests::copy_dir;
use serde_json::json;

use super::{
    all_containers, app_label, docker, eventually, fixture, invoke, running_containers,
    start_docker,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_containers_are_labelled_reused_and_removed_at_shutdown() {
    let app = copy_dir(&fixture("sandbox"));
    let template = app.path().join("template.yaml");
    let label = app_label(&template);
    let mut fogbank = start_docker(&template, &["--warm"]);
    // --warm starts the containers before the banner's last line.
    eventually(Duration::from_secs(10), || {
        running_containers(&label).len() == 3
    });
    let warm = running_containers(&label);
    assert_eq!(warm.len(), 3, "one container per function: {warm:?}");

    let inspect = docker(&[
        "inspect",
        "--format",
        "{{json .Config.Labels}} {{.HostConfig.NetworkMode}} {{.HostConfig.Memory}} {{.Config.User}} {{.HostConfig.ReadonlyRootfs}}",
        &warm[0],
    ]);
    let text = String::from_utf8_lossy(&inspect.stdout);
    let (labels, rest) = text.trim().split_once(' ').unwrap();
    let labels: serde_json::Value = serde_json::from_str(labels).unwrap();
    for key in [
        "dev.fogbank.app",
        "dev.fogbank.function",
        "dev.fogbank.run",
        "dev.fogbank.owner",
    ] {
        assert!(labels.get(key).is_some(), "label {key} missing: {labels}");
    }
    assert_eq!(
        rest,
        format!("host {} 993:990 true", 128 * 1024 * 1024),
        "{text}"
    );
    let functions: BTreeSet<String> = warm
        .iter()
        .map(|id| {
            let output = docker(&[
                "inspect",
                "--format",
                "{{index .Config.Labels \"dev.fogbank.function\"}}",
                id,
            ]);
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        })
        .collect();
    assert_eq!(
        functions,
        ["Layered", "Neighbour", "Sandbox"]
            .map(String::from)
            .into_iter()
            .collect()
    );

    // Invocations reuse the warm containers: no new one appears.
    for _ in 0..5 {
        let result = invoke(&fogbank, "Sandbox", json!({"action": "echo"})).await;
        assert_eq!(result.function_error, None, "{result:?}");
    }
    assert_eq!(running_containers(&label), warm);

    fogbank.stop();
    assert!(
        all_containers(&label).is_empty(),
        "containers left after shutdown: {:?}",
        all_containers(&label)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_get_their_own_containers() {
    let app = copy_dir(&fixture("sandbox"));
    let template = app.path().join("template.yaml");
    let fogbank = start_docker(&template, &[]);
    let started = Instant::now();
    let lambda = fogbank.lambda;
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            tokio::spawn(async move {
                fogbank_tests::http::send(
                    lambda,
                    "POST",
                    "/2015-03-31/functions/Sandbox/invocations",
                    &[],
                    json!({"action": "sleep", "seconds": 2}).to_string(),
                )
                .await
            })
        })
        .collect();
    let mut streams = BTreeSet::new();
    for task in tasks {
        let response = task.await.unwrap();
        assert_eq!(response.status, 200, "{}", response.text());
        streams.insert(response.json()["stream"].as_str().unwrap().to_owned());
    }
    let elapsed = started.elapsed();
    assert_eq!(streams.len(), 3, "three instances: {streams:?}");
    assert!(
        elapsed < Duration::from_secs(6),
        "the three 2 s invocations ran one after another: {elapsed:?}"
    );
    assert_eq!(running_containers(&app_label(&template)).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_containers_stop_after_the_idle_timeout() {
    let app = copy_dir(&fixture("sandbox"));
    let template = app.path().join("template.yaml");
    let fogbank = start_docker(&template, &["--idle-timeout", "1s"]);
    let result = invoke(&fogbank, "Sandbox", json!({"action": "echo"})).await;
    assert_eq!(result.function_error, None, "{result:?}");
    assert_eq!(running_containers(&app_label(&template)).len(), 1);
    assert!(
        eventually(Duration::from_secs(6), || all_containers(&app_label(
            &template
        ))
        .is_empty()),
        "the idle container was not stopped and removed"
    );
    // The next invocation starts a new one.
    let result = invoke(&fogbank, "Sandbox", json!({"action": "echo"})).await;
    assert_eq!(result.function_error, None, "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_invocation_stops_its_container() {
    let app = copy_dir(&fixture("sandbox"));
    let template = app.path().join("template.yaml");
    let fogbank = start_docker(&template, &[]);
    let started = Instant::now();
    let result = invoke(
        &fogbank,
        "Sandbox",
        json!({"action": "sleep", "seconds": 10}),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        result.body["errorType"], "Sandbox.Timedout",
        "{}",
        result.body
    );
    assert!(
        eventually(Duration::from_secs(5), || all_containers(&app_label(
            &template
        ))
        .is_empty()),
        "the timed-out container was not removed"
    );
    let result = invoke(&fogbank, "Sandbox", json!({"action": "echo"})).await;
    assert_eq!(result.function_error, None, "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_written_before_the_answer_is_in_the_log_every_time() {
    let fogbank = start_docker(&fixture("sandbox/template.yaml"), &[]);
    for round in 0..30 {
        let lines = 40;
        let result = invoke(
            &fogbank,
            "Sandbox",
            json!({"action": "log", "lines": lines}),
        )
        .await;
        assert_eq!(result.function_error, None, "{result:?}");
        // Every line, stdout and stderr in the order written, then END.
        let log: Vec<&str> = result.log.lines().collect();
        let end = log
            .iter()
            .position(|l| l.starts_with("END RequestId"))
            .unwrap_or_else(|| panic!("{}", result.log));
        let printed: Vec<&str> = log[..end]
            .iter()
            .copied()
            .filter(|l| l.starts_with("line "))
            .collect();
        let expected: Vec<String> = (0..lines).map(|n| format!("line {n} of ")).collect();
        assert_eq!(printed.len(), lines, "round {round}: {}", result.log);
        for (line, prefix) in printed.iter().zip(&expected) {
            assert!(
                line.starts_with(prefix.as_str()),
                "round {round}: {line} should start with {prefix}"
            );
        }
    }
}
