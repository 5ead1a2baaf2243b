//! Debug mode in a container: the function's bootstrap runs under the
//! static `fogbank-agent`, bind-mounted into its container, and a debugger
//! on the host reaches the agent over loopback.

use std::time::Duration;

use fogbank_dap::rsp::{RspClient, StopReply};
use fogbank_tests::{copy_dir, http, static_agent};
use serde_json::json;

use super::{app_label, docker, eventually, fixture, running_containers, start_docker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_debugged_function_runs_under_the_agent_in_its_container() {
    let agent = static_agent();
    let app = copy_dir(&fixture("sandbox"));
    let template = app.path().join("template.yaml");
    let fogbank = start_docker(&template, &[]);
    let response = http::send(
        fogbank.control,
        "PUT",
        "/fogbank/v1/functions/Sandbox/debug",
        &[("content-type", "application/json")],
        json!({"agent": agent}).to_string(),
    )
    .await;
    assert!(
        response.status < 300,
        "enabling debug mode: {} {}",
        response.status,
        response.text()
    );

    let lambda = fogbank.lambda;
    let invocation = tokio::spawn(async move {
        http::send(
            lambda,
            "POST",
            "/2015-03-31/functions/Sandbox/invocations",
            &[],
            json!({"action": "echo", "debugged": true}).to_string(),
        )
        .await
    });

    // The container's command runs the bootstrap under the agent.
    let label = app_label(&template);
    assert!(
        eventually(Duration::from_secs(20), || !running_containers(&label)
            .is_empty()),
        "no container started"
    );
    let container = running_containers(&label).remove(0);
    let inspect = docker(&["inspect", "--format", "{{json .Args}}", &container]);
    let args: Vec<String> = serde_json::from_slice(&inspect.stdout).unwrap();
    // The container's shell wrapper redirects output, then runs the agent.
    assert!(args.iter().any(|a| a == "/var/fogbank/agent"), "{args:?}");
    let listen = args
        .iter()
        .position(|a| a == "--listen")
        .map(|i| args[i + 1].clone())
        .unwrap();
    assert_eq!(
        args.last().map(String::as_str),
        Some("/var/task/bootstrap"),
        "{args:?}"
    );

    // The agent holds the bootstrap at its first instruction until a
    // debugger connects; detaching lets it run and answer.
    let stream = loop {
        match tokio::net::TcpStream::connect(&listen).await {
            Ok(stream) => break stream,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let mut client = RspClient::connect(stream)
        .await
        .expect("RSP handshake with the agent in the container");
    let stop = client.stop_reason().await.expect("stop reason");
    assert!(matches!(stop, StopReply::Stopped(_)), "{stop:?}");
    client.detach().await.expect("detach");

    let response = tokio::time::timeout(Duration::from_secs(20), invocation)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["debugged"], true, "{}", response.text());
}
