//! Fast tests of the invoker against the in-process fake backend: every
//! error path of an invocation, concurrency and log tails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::events::InstanceEvent;
use super::*;
use crate::app::{Architecture, BuildMetadata, Function, Identity, Runtime};
use crate::backend::fake::{Behaviour, FakeBackend, Init, Script};

fn function(timeout: Duration, concurrency: Option<u32>) -> Function {
    Function {
        logical_id: "Hello".into(),
        name: "hello-fn".into(),
        code_uri: PathBuf::from("/code"),
        handler: None,
        runtime: Runtime::Provided {
            id: "provided.al2023".into(),
        },
        timeout,
        memory_mb: 128,
        ephemeral_storage_mb: 512,
        architecture: Architecture::X86_64,
        environment: BTreeMap::new(),
        reserved_concurrency: concurrency,
        layers: vec![],
        events: vec![],
        build: BuildMetadata::default(),
        function_url: None,
    }
}

fn invoker_with(function: Function, init: Init, script: Script) -> (Invoker, Arc<FakeBackend>) {
    invoker_with_console(function, init, script, Console::silent())
}

fn invoker_with_console(
    function: Function,
    init: Init,
    script: Script,
    console: Console,
) -> (Invoker, Arc<FakeBackend>) {
    let backend = Arc::new(FakeBackend::new(init, script));
    let endpoints = Endpoints {
        lambda: "http://127.0.0.1:3001".into(),
        sqs: "http://127.0.0.1:9324".into(),
        identity: Identity::default(),
    };
    let invoker = Invoker::new(
        vec![Deployment {
            function: Arc::new(function),
            code_dir: PathBuf::from("/code"),
        }],
        backend.clone(),
        InvokerSettings::new(console, endpoints),
    );
    (invoker, backend)
}

fn echo() -> Script {
    Arc::new(|event: &Bytes| Behaviour::Respond {
        payload: event.clone(),
        delay: Duration::ZERO,
    })
}

fn error_type(completed: &Completed) -> String {
    match &completed.outcome {
        Outcome::Error(error) => error.error_type.clone(),
        Outcome::Success(payload) => panic!("expected an error, got {payload:?}"),
    }
}

fn error_message(completed: &Completed) -> String {
    match &completed.outcome {
        Outcome::Error(error) => {
            let body: serde_json::Value = serde_json::from_slice(&error.payload).unwrap();
            body["errorMessage"].as_str().unwrap_or_default().to_owned()
        }
        Outcome::Success(payload) => panic!("expected an error, got {payload:?}"),
    }
}

#[tokio::test]
async fn warm_instances_are_reused() {
    let (invoker, backend) =
        invoker_with(function(Duration::from_secs(3), None), Init::Ready, echo());
    for i in 0..5 {
        let payload = Bytes::from(format!("{{\"n\":{i}}}"));
        let completed = invoker
            .invoke("Hello", Invocation::new(payload.clone()))
            .await
            .unwrap();
        assert_eq!(completed.outcome, Outcome::Success(payload));
    }
    assert_eq!(
        backend.started(),
        1,
        "one warm instance serves sequential calls"
    );
    // The physical name works as well as the logical ID.
    assert!(
        invoker
            .invoke("hello-fn", Invocation::new(Bytes::from_static(b"{}")))
            .await
            .is_ok()
    );
    invoker.shutdown().await;
}

#[tokio::test]
async fn unknown_functions_are_not_found() {
    let (invoker, _) = invoker_with(function(Duration::from_secs(3), None), Init::Ready, echo());
    let error = invoker
        .invoke("Nope", Invocation::new(Bytes::new()))
        .await
        .unwrap_err();
    assert_eq!(error, InvokeError::FunctionNotFound("Nope".into()));
    invoker.shutdown().await;
}

#[tokio::test]
async fn a_slow_function_times_out_and_its_instance_is_replaced() {
    let script: Script = Arc::new(|event: &Bytes| {
        if event.as_ref() == b"\"slow\"" {
            Behaviour::Hang
        } else {
            Behaviour::Respond {
                payload: Bytes::from_static(b"\"ok\""),
                delay: Duration::ZERO,
            }
        }
    });
    let (invoker, backend) = invoker_with(
        function(Duration::from_millis(200), None),
        Init::Ready,
        script,
    );
    let completed = invoker
        .invoke("Hello", Invocation::new(Bytes::from_static(b"\"slow\"")))
        .await
        .unwrap();
    assert_eq!(error_type(&completed), "Sandbox.Timedout");
    assert!(
        error_message(&completed).ends_with("Task timed out after 0.20 seconds"),
        "{}",
        error_message(&completed)
    );
    let next = invoker
        .invoke("Hello", Invocation::new(Bytes::from_static(b"\"fast\"")))
        .await
        .unwrap();
    assert_eq!(
        next.outcome,
        Outcome::Success(Bytes::from_static(b"\"ok\""))
    );
    assert_eq!(
        backend.started(),
        2,
        "the timed-out instance was not reused"
    );
    invoker.shutdown().await;
}

#[tokio::test]
async fn a_crash_mid_invocation_is_an_exit_error() {
    let script: Script = Arc::new(|event: &Bytes| {
        if event.as_ref() == b"\"crash\"" {
            Behaviour::Exit(3)
        } else {
            Behaviour::Respond {
                payload: event.clone(),
                delay: Duration::ZERO,
            }
        }
    });
    let (invoker, backend) =
        invoker_with(function(Duration::from_secs(3), None), Init::Ready, script);
    let completed = invoker
        .invoke("Hello", Invocation::new(Bytes::from_static(b"\"crash\"")))
        .await
        .unwrap();
    assert_eq!(error_type(&completed), "Runtime.ExitError");
    assert!(
        error_message(&completed).contains("exit status 3"),
        "{}",
        error_message(&completed)
    );
    let next = invoker
        .invoke("Hello", Invocation::new(Bytes::from_static(b"1")))
        .await
        .unwrap();
    assert_eq!(next.outcome, Outcome::Success(Bytes::from_static(b"1")));
    assert_eq!(backend.started(), 2);
    invoker.shutdown().await;
}

#[tokio::test]
async fn a_crash_during_init_is_an_init_error() {
    let (invoker, _) = invoker_with(
        function(Duration::from_secs(3), None),
        Init::Crash(1),
        echo(),
    );
    let completed = invoker
        .invoke("Hello", Invocation::new(Bytes::from_static(b"{}")))
        .await
        .unwrap();
    assert_eq!(error_type(&completed), "Runtime.InitError");
    assert!(
        error_message(&completed).contains("exit status 1"),
        "{}",
        error_message(&completed)
    );
    invoker.shutdown().await;
}

#[tokio::test]
async fn a_reported_init_error_is_passed_through() {
    let body = Bytes::from_static(br#"{"errorMessage":"Unable to import module 'app'","errorType":"Runtime.ImportModuleError"}"#);
    let init = Init::Error {
        error_type: "Runtime.ImportModuleError".into(),
        body: body.clone(),
    };
    let (invoker, _) = invoker_with(function(Duration::from_secs(3), None), init, echo());
    let completed = invoker
        .invoke("Hello", Invocation::new(Bytes::from_static(b"{}")))
        .await
        .unwrap();
    assert_eq!(
        completed.outcome,
        Outcome::Error(FunctionError {
            error_type: "Runtime.ImportModuleError".into(),
            payload: body
        })
    );
    invoker.shutdown().await;
}

#[tokio::test]
async fn function_errors_keep_the_instance() {
    let body = Bytes::from_static(br#"{"errorMessage":"boom","errorType":"ValueError"}"#);
    let script: Script = {
        let body = body.clone();
        Arc::new(move |_: &Bytes| Behaviour::Fail {
            error_type: "Unhandled".into(),
            body: body.clone(),
        })
    };
    let (invoker, backend) =
        invoker_with(function(Duration::from_secs(3), None), Init::Ready, script);
    for _ in 0..2 {
        let completed = invoker
            .invoke("Hello", Invocation::new(Bytes::from_static(b"{}")))
            .await
            .unwrap();
        assert_eq!(
            completed.outcome,
            Outcome::Error(FunctionError {
                error_type: "Unhandled".into(),
                payload: body.clone()
            })
        );
    }
    assert_eq!(backend.started(), 1);
    invoker.shutdown().await;
}

#[tokio::test]
async fn oversized_responses_get_lambdas_error() {
    let script: Script = Arc::new(|_: &Bytes| Behaviour::Respond {
        payload: Bytes::from(vec![b'a'; crate::runtime_api::MAX_RESPONSE_BYTES + 1]),
        delay: Duration::ZERO,
    });
    let (invoker, _) = invoker_with(function(Duration::from_secs(3), None), Init::Ready, script);
    let completed = invoker
        .invoke("Hello", Invocation::new(Bytes::from_static(b"{}")))
        .await
        .unwrap();
    assert_eq!(error_type(&completed), "Function.ResponseSizeTooLarge");
    invoker.shutdown().await;
}

#[tokio::test]
async fn past_the_concurrency_limit_calls_are_throttled() {
    let script: Script = Arc::new(|_: &Bytes| Behaviour::Respond {
        payload: Bytes::from_static(b"1"),
        delay: Duration::from_millis(300),
    });
    let (invoker, _) = invoker_with(
        function(Duration::from_secs(3), Some(1)),
        Init::Ready,
        script,
    );
    let first = tokio::spawn({
        let invoker = invoker.clone();
        async move {
            invoker
                .invoke("Hello", Invocation::new(Bytes::from_static(b"{}")))
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = invoker
        .invoke("Hello", Invocation::new(Bytes::from_static(b"{}")))
        .await;
    assert_eq!(
        second.unwrap_err(),
        InvokeError::TooManyRequests {
            function: "hello-fn".into(),
            limit: 1
        }
    );
    assert!(first.await.unwrap().is_ok());
    // Once the first call is done, the slot is free again.
    assert!(
        invoker
            .invoke("Hello", Invocation::new(Bytes::from_static(b"{}")))
            .await
            .is_ok()
    );
    invoker.shutdown().await;
}

#[tokio::test]
async fn an_abandoned_call_still_returns_its_instance() {
    let script: Script = Arc::new(|_: &Bytes| Behaviour::Respond {
        payload: Bytes::from_static(b"1"),
        delay: Duration::from_millis(200),
    });
    let (invoker, backend) = invoker_with(
        function(Duration::from_secs(3), Some(1)),
        Init::Ready,
        script,
    );
    // The caller gives up mid-invocation, as a server does when its client
    // hangs up: its future is dropped.
    let abandoned = tokio::time::timeout(
        Duration::from_millis(50),
        invoker.invoke("Hello", Invocation::new(Bytes::from_static(b"{}"))),
    )
    .await;
    assert!(abandoned.is_err(), "the call was still running");
    tokio::time::sleep(Duration::from_millis(400)).await;
    // The only slot is free again, and the same instance serves the call.
    let next = invoker
        .invoke("Hello", Invocation::new(Bytes::from_static(b"{}")))
        .await;
    assert!(next.is_ok(), "the slot leaked: {next:?}");
    assert_eq!(backend.started(), 1);
    assert_eq!(invoker.instance_counts("Hello"), Some((1, 1)));
    invoker.shutdown().await;
}

#[tokio::test]
async fn a_panic_while_starting_an_instance_frees_its_slot() {
    let (console, printed) = Console::capturing();
    let (invoker, backend) = invoker_with_console(
        function(Duration::from_secs(3), Some(1)),
        Init::PanicInStart,
        echo(),
        console,
    );
    for attempt in 1..=2 {
        let error = invoker
            .invoke("Hello", Invocation::new(Bytes::from_static(b"{}")))
            .await
            .unwrap_err();
        // A throttle on the second attempt would mean the first one's
        // slot leaked.
        assert!(
            matches!(error, InvokeError::Lost { .. }),
            "attempt {attempt}: {error:?}"
        );
    }
    assert_eq!(backend.started(), 2);
    let text = printed.text();
    assert!(
        text.contains("error: the invocation of Hello failed inside the emulator")
            && text.contains("this is a bug in fogbank"),
        "{text}"
    );
    invoker.shutdown().await;
}

#[tokio::test]
async fn a_failed_start_leaves_no_runtime_api_behind() {
    let (invoker, _) = invoker_with(
        function(Duration::from_secs(3), Some(1)),
        Init::PanicInStart,
        echo(),
    );
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    for _ in 0..5 {
        let _ = invoker
            .invoke("Hello", Invocation::new(Bytes::from_static(b"{}")))
            .await;
    }
    // Each attempt bound a Runtime API; its server must end with the
    // attempt, not linger for the rest of the run.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while metrics.num_alive_tasks() > before && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(metrics.num_alive_tasks(), before);
    invoker.shutdown().await;
}

#[tokio::test]
async fn an_invocation_torn_down_midway_frees_its_instances_slot() {
    // Unwinding from a panic mid-invocation drops the pool's future just as
    // dropping it here does; the invoker's own task never drops it.
    let script: Script = Arc::new(|event: &Bytes| {
        if event.as_ref() == b"hang" {
            Behaviour::Hang
        } else {
            Behaviour::Respond {
                payload: event.clone(),
                delay: Duration::ZERO,
            }
        }
    });
    let (invoker, backend) = invoker_with(
        function(Duration::from_secs(3), Some(1)),
        Init::Ready,
        script,
    );
    let pool = invoker.pool("Hello").unwrap();
    let torn_down = tokio::time::timeout(
        Duration::from_millis(100),
        pool.invoke(Invocation::new(Bytes::from_static(b"hang"))),
    )
    .await;
    assert!(torn_down.is_err(), "the invocation was still running");
    // The half-used instance is not handed out again: a new one serves.
    let next = invoker
        .invoke("Hello", Invocation::new(Bytes::from_static(b"{}")))
        .await;
    assert_eq!(
        next.map(|completed| completed.outcome),
        Ok(Outcome::Success(Bytes::from_static(b"{}")))
    );
    assert_eq!(backend.started(), 2);
    assert_eq!(invoker.instance_counts("Hello"), Some((1, 1)));
    invoker.shutdown().await;
}

/// Makes `count` calls of Hello at once, call `i` with payload `i`, and
/// checks that each got its own payload back (the echo script).
async fn echo_concurrently(invoker: &Invoker, count: usize, why: &str) {
    let calls = (0..count).map(|i| {
        let invoker = invoker.clone();
        tokio::spawn(async move {
            invoker
                .invoke("Hello", Invocation::new(Bytes::from(i.to_string())))
                .await
        })
    });
    for (i, result) in futures::future::join_all(calls)
        .await
        .into_iter()
        .enumerate()
    {
        assert_eq!(
            result.unwrap().unwrap().outcome,
            Outcome::Success(Bytes::from(i.to_string())),
            "call {i}: {why}"
        );
    }
}

#[tokio::test]
async fn concurrent_calls_get_their_own_instances() {
    let script: Script = Arc::new(|event: &Bytes| Behaviour::Respond {
        payload: event.clone(),
        delay: Duration::from_millis(100),
    });
    let (invoker, backend) =
        invoker_with(function(Duration::from_secs(3), None), Init::Ready, script);
    echo_concurrently(&invoker, 4, "each call answered").await;
    assert_eq!(backend.started(), 4);
    invoker.shutdown().await;
}

#[tokio::test]
async fn async_invocations_run() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let script: Script = Arc::new(move |event: &Bytes| {
        let _ = tx.send(event.clone());
        Behaviour::Respond {
            payload: Bytes::new(),
            delay: Duration::ZERO,
        }
    });
    let (invoker, _) = invoker_with(function(Duration::from_secs(3), None), Init::Ready, script);
    invoker
        .invoke_async("Hello", Invocation::new(Bytes::from_static(b"\"event\"")))
        .unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap();
    assert_eq!(seen, Some(Bytes::from_static(b"\"event\"")));
    assert_eq!(
        invoker
            .invoke_async("Nope", Invocation::new(Bytes::new()))
            .unwrap_err(),
        InvokeError::FunctionNotFound("Nope".into())
    );
    invoker.shutdown().await;
}

#[tokio::test]
async fn log_tails_hold_the_invocations_lines() {
    let script: Script = Arc::new(|_: &Bytes| Behaviour::LogAndRespond {
        line: "hello from the function".into(),
        payload: Bytes::from_static(b"1"),
    });
    let (invoker, _) = invoker_with(function(Duration::from_secs(3), None), Init::Ready, script);
    let mut invocation = Invocation::new(Bytes::from_static(b"{}"));
    invocation.log_tail = true;
    let request_id = invocation.request_id.clone();
    let completed = invoker.invoke("Hello", invocation).await.unwrap();
    let tail = completed.log_tail.unwrap();
    let lines: Vec<&str> = tail.lines().collect();
    assert_eq!(
        lines[0],
        format!("START RequestId: {request_id} Version: $LATEST")
    );
    assert_eq!(lines[1], "hello from the function");
    assert_eq!(lines[2], format!("END RequestId: {request_id}"));
    assert!(
        lines[3].starts_with(&format!("REPORT RequestId: {request_id}\tDuration: ")),
        "{}",
        lines[3]
    );
    assert!(
        lines[3].contains("Init Duration: "),
        "a cold start reports its init: {}",
        lines[3]
    );
    invoker.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_busy_instances() {
    let script: Script = Arc::new(|_: &Bytes| Behaviour::Hang);
    let (invoker, _) = invoker_with(function(Duration::from_secs(30), None), Init::Ready, script);
    let call = tokio::spawn({
        let invoker = invoker.clone();
        async move {
            invoker
                .invoke("Hello", Invocation::new(Bytes::from_static(b"{}")))
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    tokio::time::timeout(Duration::from_secs(5), invoker.shutdown())
        .await
        .expect("shutdown finishes");
    let completed = call.await.unwrap().unwrap();
    assert_eq!(error_type(&completed), "Runtime.ExitError");
    assert_eq!(
        invoker
            .invoke("Hello", Invocation::new(Bytes::new()))
            .await
            .unwrap_err(),
        InvokeError::ShuttingDown
    );
}

fn debug_config() -> DebugConfig {
    // The fake backend ignores the agent; it only has to exist.
    DebugConfig {
        agent: PathBuf::from("/bin/true"),
        instances: 1,
    }
}

#[tokio::test]
async fn debug_mode_queues_invocations_on_one_instance() {
    let script: Script = Arc::new(|event: &Bytes| Behaviour::Respond {
        payload: event.clone(),
        delay: Duration::from_millis(100),
    });
    let (invoker, backend) =
        invoker_with(function(Duration::from_secs(3), None), Init::Ready, script);
    let mut events = invoker.subscribe_events();
    invoker.set_debug("Hello", Some(debug_config())).unwrap();
    assert!(invoker.is_debugging("Hello"));
    echo_concurrently(&invoker, 3, "queued, not throttled").await;
    assert_eq!(
        backend.started(),
        1,
        "one debug instance serves them all in turn"
    );
    // The redeploy and the debug instance were announced.
    let mut saw_redeploy = false;
    let mut saw_debug_start = false;
    while let Ok(event) = events.try_recv() {
        match event {
            InstanceEvent::Redeployed { debug: true, .. } => saw_redeploy = true,
            InstanceEvent::Started {
                debug: Some(endpoint),
                ..
            } => {
                assert!(endpoint.rsp_port > 0);
                assert_eq!(endpoint.program, PathBuf::from("/code/bootstrap"));
                saw_debug_start = true;
            }
            _ => {}
        }
    }
    assert!(saw_redeploy && saw_debug_start);
    invoker.set_debug("Hello", None).unwrap();
    assert!(!invoker.is_debugging("Hello"));
    invoker.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_calls_waiting_for_the_debugged_instance() {
    let script: Script = Arc::new(|_: &Bytes| Behaviour::Hang);
    let (invoker, backend) =
        invoker_with(function(Duration::from_secs(30), None), Init::Ready, script);
    invoker.set_debug("Hello", Some(debug_config())).unwrap();
    let call = |invoker: &Invoker| {
        let invoker = invoker.clone();
        tokio::spawn(async move {
            invoker
                .invoke("Hello", Invocation::new(Bytes::from_static(b"{}")))
                .await
        })
    };
    // The first call holds the one debugged instance; the second queues.
    let holding = call(&invoker);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let waiting = call(&invoker);
    tokio::time::sleep(Duration::from_millis(100)).await;
    tokio::time::timeout(Duration::from_secs(5), invoker.shutdown())
        .await
        .expect("shutdown finishes");
    let waited = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the queued call ends with the shutdown")
        .unwrap();
    assert_eq!(waited.unwrap_err(), InvokeError::ShuttingDown);
    assert_eq!(
        error_type(&holding.await.unwrap().unwrap()),
        "Runtime.ExitError"
    );
    assert_eq!(backend.started(), 1, "no instance starts after shutdown");
}

#[tokio::test]
async fn only_native_functions_can_be_debugged() {
    let mut python = function(Duration::from_secs(3), None);
    python.runtime = Runtime::Python {
        id: "python3.12".into(),
        minor: 12,
    };
    let (invoker, _) = invoker_with(python, Init::Ready, echo());
    assert!(matches!(
        invoker.set_debug("Hello", Some(debug_config())),
        Err(DebugError::UnsupportedRuntime { .. })
    ));
    let (invoker, _) = invoker_with(function(Duration::from_secs(3), None), Init::Ready, echo());
    let missing = DebugConfig {
        agent: PathBuf::from("/nonexistent/fogbank-agent"),
        instances: 1,
    };
    assert!(matches!(
        invoker.set_debug("Hello", Some(missing)),
        Err(DebugError::MissingAgent(_))
    ));
    assert!(matches!(
        invoker.set_debug("Nope", Some(debug_config())),
        Err(DebugError::FunctionNotFound(_))
    ));
    invoker.shutdown().await;
}

#[tokio::test]
async fn a_paused_instance_does_not_time_out() {
    let script: Script = Arc::new(|_: &Bytes| Behaviour::Respond {
        payload: Bytes::from_static(b"1"),
        delay: Duration::from_millis(600),
    });
    let (invoker, _) = invoker_with(
        function(Duration::from_millis(300), None),
        Init::Ready,
        script,
    );
    let mut events = invoker.subscribe_events();
    let call = tokio::spawn({
        let invoker = invoker.clone();
        async move {
            invoker
                .invoke("Hello", Invocation::new(Bytes::from_static(b"{}")))
                .await
        }
    });
    // Pause as soon as the invocation starts, as a debugger stopping at a
    // breakpoint would.
    let instance = loop {
        if let InstanceEvent::InvocationStarted { instance, .. } = events.recv().await.unwrap() {
            break instance;
        }
    };
    assert!(invoker.set_paused(&instance, true));
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(invoker.set_paused(&instance, false));
    let completed = call.await.unwrap().unwrap();
    assert_eq!(
        completed.outcome,
        Outcome::Success(Bytes::from_static(b"1")),
        "the pause extended the deadline"
    );
    assert!(!invoker.set_paused("no-such-instance", true));
    invoker.shutdown().await;
}

#[tokio::test]
async fn a_redeploy_retires_old_instances() {
    let (invoker, backend) =
        invoker_with(function(Duration::from_secs(3), None), Init::Ready, echo());
    invoker
        .invoke("Hello", Invocation::new(Bytes::from_static(b"1")))
        .await
        .unwrap();
    assert_eq!(invoker.instance_counts("Hello"), Some((1, 1)));
    invoker
        .redeploy("Hello", PathBuf::from("/code-v2"))
        .unwrap();
    assert_eq!(
        invoker.instance_counts("Hello"),
        Some((0, 0)),
        "the idle old instance stopped"
    );
    invoker
        .invoke("Hello", Invocation::new(Bytes::from_static(b"2")))
        .await
        .unwrap();
    assert_eq!(backend.started(), 2);
    invoker.shutdown().await;
}

#[tokio::test]
async fn idle_instances_are_reaped() {
    let backend = Arc::new(FakeBackend::new(Init::Ready, echo()));
    let endpoints = Endpoints {
        lambda: String::new(),
        sqs: String::new(),
        identity: Identity::default(),
    };
    let mut settings = InvokerSettings::new(Console::silent(), endpoints);
    settings.idle_timeout = Some(Duration::from_millis(200));
    let invoker = Invoker::new(
        vec![Deployment {
            function: Arc::new(function(Duration::from_secs(3), None)),
            code_dir: PathBuf::from("/code"),
        }],
        backend.clone(),
        settings,
    );
    invoker
        .invoke("Hello", Invocation::new(Bytes::from_static(b"1")))
        .await
        .unwrap();
    assert_eq!(invoker.instance_counts("Hello"), Some((1, 1)));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(invoker.instance_counts("Hello"), Some((0, 0)));
    invoker.shutdown().await;
}

fn version_two(concurrency: Option<u32>) -> Deployment {
    Deployment {
        function: Arc::new(function(Duration::from_secs(3), concurrency)),
        code_dir: PathBuf::from("/code-v2"),
    }
}

#[tokio::test]
async fn a_prepared_instance_serves_the_new_versions_first_call() {
    let (invoker, backend) =
        invoker_with(function(Duration::from_secs(3), None), Init::Ready, echo());
    invoker
        .invoke("Hello", Invocation::new(Bytes::from_static(b"1")))
        .await
        .unwrap();
    let prepared = invoker.prepare(&version_two(None)).await;
    assert!(prepared.is_some(), "the new version's instance came up");
    assert_eq!(backend.started(), 2);
    assert_eq!(
        invoker.instance_counts("Hello"),
        Some((1, 1)),
        "a prepared instance does not serve before the swap"
    );
    invoker.swap(version_two(None), prepared).unwrap();
    assert_eq!(invoker.instance_counts("Hello"), Some((1, 1)));
    invoker
        .invoke("Hello", Invocation::new(Bytes::from_static(b"2")))
        .await
        .unwrap();
    assert_eq!(backend.started(), 2, "no cold start after the swap");
    assert_eq!(invoker.code_dir("Hello"), Some(PathBuf::from("/code-v2")));
    invoker.shutdown().await;
}

#[tokio::test]
async fn a_prepared_instance_that_is_not_swapped_in_stops() {
    let (invoker, backend) =
        invoker_with(function(Duration::from_secs(3), None), Init::Ready, echo());
    let prepared = invoker.prepare(&version_two(None)).await;
    assert!(prepared.is_some());
    drop(prepared);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(backend.running(), 0, "the dropped instance was stopped");
    invoker.shutdown().await;
}

#[tokio::test]
async fn a_prepared_instance_past_the_concurrency_limit_stops() {
    let (invoker, _backend) = invoker_with(
        function(Duration::from_secs(3), Some(1)),
        Init::Ready,
        Arc::new(|event: &Bytes| Behaviour::Respond {
            payload: event.clone(),
            delay: Duration::from_millis(300),
        }),
    );
    let busy = tokio::spawn({
        let invoker = invoker.clone();
        async move {
            invoker
                .invoke("Hello", Invocation::new(Bytes::from_static(b"1")))
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let prepared = invoker.prepare(&version_two(Some(1))).await;
    assert!(prepared.is_some());
    invoker.swap(version_two(Some(1)), prepared).unwrap();
    assert_eq!(
        invoker.instance_counts("Hello"),
        Some((0, 1)),
        "the old busy instance still holds the one slot"
    );
    assert!(busy.await.unwrap().is_ok());
    assert_eq!(invoker.instance_counts("Hello"), Some((0, 0)));
    invoker.shutdown().await;
}

#[tokio::test]
async fn a_cloud_environment_restarts_instances_once_and_outlives_reloads() {
    let (invoker, backend) =
        invoker_with(function(Duration::from_secs(3), None), Init::Ready, echo());
    let call = |n: &'static [u8]| invoker.invoke("Hello", Invocation::new(Bytes::from_static(n)));
    call(b"1").await.unwrap();
    assert_eq!(backend.last_cloud_environment(), None);
    let cloud = CloudEnvironment {
        variables: vec![("ORDERS_TABLE".into(), "orders-prod".into())],
    };
    invoker
        .set_cloud_environment("Hello", Some(cloud.clone()))
        .unwrap();
    assert!(invoker.has_cloud_environment("Hello"));
    assert_eq!(
        invoker.instance_counts("Hello"),
        Some((0, 0)),
        "the instance with the local environment retired"
    );
    call(b"2").await.unwrap();
    assert_eq!(backend.started(), 2);
    assert_eq!(backend.last_cloud_environment().as_deref(), Some(&cloud));

    // The same environment again (the next forwarded invocation) keeps the
    // warm instance.
    invoker
        .set_cloud_environment("Hello", Some(cloud.clone()))
        .unwrap();
    call(b"3").await.unwrap();
    assert_eq!(
        backend.started(),
        2,
        "no restart for an unchanged environment"
    );

    // A hot reload keeps it.
    invoker.swap(version_two(None), None).unwrap();
    call(b"4").await.unwrap();
    assert_eq!(backend.started(), 3);
    assert_eq!(backend.last_cloud_environment().as_deref(), Some(&cloud));

    // Clearing it restores the function's own environment.
    invoker.set_cloud_environment("Hello", None).unwrap();
    assert!(!invoker.has_cloud_environment("Hello"));
    call(b"5").await.unwrap();
    assert_eq!(backend.started(), 4);
    assert_eq!(backend.last_cloud_environment(), None);

    assert!(matches!(
        invoker.set_cloud_environment("Nope", None),
        Err(InvokeError::FunctionNotFound(name)) if name == "Nope"
    ));
    invoker.shutdown().await;
}

#[tokio::test]
async fn a_debug_session_may_ask_for_concurrent_instances() {
    let script: Script = Arc::new(|event: &Bytes| Behaviour::Respond {
        payload: event.clone(),
        delay: Duration::from_millis(200),
    });
    let (invoker, backend) =
        invoker_with(function(Duration::from_secs(3), None), Init::Ready, script);
    let config = DebugConfig {
        instances: 2,
        ..debug_config()
    };
    invoker.set_debug("Hello", Some(config)).unwrap();
    echo_concurrently(&invoker, 3, "queued past the limit, not throttled").await;
    assert_eq!(
        backend.started(),
        2,
        "two debugged instances side by side, the third call queued"
    );
    invoker.shutdown().await;
}
