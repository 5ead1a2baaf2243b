//! What a function can see and do inside its container: Lambda's read-only
//! code and root filesystem, a writable /tmp of EphemeralStorage, its own
//! environment only, merged layers at /opt, and MemorySize enforced as
//! `Runtime.OutOfMemory`.

use serde_json::json;

use super::{fixture, invoke, start_docker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_and_root_are_read_only_and_tmp_is_writable() {
    let fogbank = start_docker(&fixture("sandbox/template.yaml"), &[]);
    let check = async |path: &str, writable: bool| {
        let result = invoke(
            &fogbank,
            "Sandbox",
            json!({"action": "write", "path": path}),
        )
        .await;
        assert_eq!(result.status, 200, "{result:?}");
        assert_eq!(
            result.body["ok"], writable,
            "writing {path}: {}",
            result.body
        );
        if !writable {
            let error = result.body["error"].as_str().unwrap();
            assert!(
                error.contains("Read-only file system") || error.contains("Permission denied"),
                "writing {path}: {error}"
            );
        }
    };
    check("/var/task/new-file", false).await;
    check("/var/task/bootstrap", false).await;
    check("/opt/new-file", false).await;
    check("/var/runtime/new-file", false).await;
    check("/etc/new-file", false).await;
    check("/new-file", false).await;
    check("/tmp/new-file", true).await;

    let result = invoke(&fogbank, "Sandbox", json!({"action": "env"})).await;
    let report = &result.body;
    assert_eq!(report["cwd"], "/var/task", "{report}");
    // Lambda runs functions as an unprivileged user (sbx_user1051).
    assert_eq!(report["uid"], 993, "{report}");
    // /tmp is a tmpfs of the function's EphemeralStorage (600 MB here).
    let tmp_mb = report["tmp_mb"].as_u64().unwrap();
    assert!((590..=610).contains(&tmp_mb), "/tmp is {tmp_mb} MB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_sees_only_its_own_environment_and_processes() {
    let template = fixture("sandbox/template.yaml");
    let mut options = fogbank_tests::StartOptions::new(&template).args(&["--runtime", "docker"]);
    options
        .env
        .push(("FOGBANK_TEST_HOST_SECRET".into(), "must-not-leak".into()));
    super::require_docker();
    let fogbank = fogbank_tests::Fogbank::start_with(options);

    let sandbox = invoke(&fogbank, "Sandbox", json!({"action": "env"})).await;
    let neighbour = invoke(&fogbank, "Neighbour", json!({"action": "env"})).await;
    let env = sandbox.body["env"].as_object().unwrap();
    assert_eq!(env["VAR_A"], "only-in-sandbox");
    assert!(
        !env.contains_key("VAR_B"),
        "the neighbour's variable leaked: {env:?}"
    );
    assert!(
        !env.contains_key("FOGBANK_TEST_HOST_SECRET"),
        "fogbank's environment leaked: {env:?}"
    );
    assert!(
        !env.contains_key("CARGO_MANIFEST_DIR"),
        "the host's environment leaked: {env:?}"
    );
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "Sandbox");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "128");
    assert_eq!(env["LAMBDA_TASK_ROOT"], "/var/task");
    assert_eq!(env["LAMBDA_RUNTIME_DIR"], "/var/runtime");
    assert!(
        env["AWS_LAMBDA_RUNTIME_API"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    let neighbour_env = neighbour.body["env"].as_object().unwrap();
    assert_eq!(neighbour_env["VAR_B"], "only-in-neighbour");
    assert!(!neighbour_env.contains_key("VAR_A"));

    // Its own process namespace: init, the runtime, nothing of the host.
    let processes = sandbox.body["processes"].as_array().unwrap();
    assert!(
        processes.len() <= 3,
        "the function sees other processes: {processes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layers_are_merged_at_opt_with_later_layers_winning() {
    let fogbank = start_docker(&fixture("sandbox/template.yaml"), &[]);
    let read = async |path: &str| {
        let result = invoke(&fogbank, "Layered", json!({"action": "read", "path": path})).await;
        assert_eq!(result.body["ok"], true, "reading {path}: {}", result.body);
        result.body["value"].as_str().unwrap().trim().to_owned()
    };
    assert_eq!(read("/opt/python/only_one.txt").await, "from layer one");
    assert_eq!(read("/opt/python/shared.txt").await, "two");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allocating_past_memory_size_is_runtime_out_of_memory() {
    let fogbank = start_docker(&fixture("sandbox/template.yaml"), &[]);
    // Well under the limit: fine, and the REPORT line shows the use.
    let small = invoke(&fogbank, "Sandbox", json!({"action": "alloc", "mb": 40})).await;
    assert_eq!(small.function_error, None, "{small:?}");
    let used: u64 = small
        .log
        .split("Max Memory Used: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no Max Memory Used in {}", small.log));
    assert!(
        (40..=128).contains(&used),
        "Max Memory Used: {used} MB after allocating 40 MB"
    );

    // Past MemorySize (128 MB): the container is killed for it.
    let big = invoke(&fogbank, "Sandbox", json!({"action": "alloc", "mb": 300})).await;
    assert_eq!(big.status, 200, "{big:?}");
    assert_eq!(big.function_error.as_deref(), Some("Unhandled"), "{big:?}");
    assert_eq!(big.body["errorType"], "Runtime.OutOfMemory", "{}", big.body);
    assert!(
        big.body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("RequestId: "),
        "{}",
        big.body
    );

    // A new container serves the next invocation.
    let after = invoke(&fogbank, "Sandbox", json!({"action": "echo"})).await;
    assert_eq!(after.function_error, None, "{after:?}");
    assert_eq!(after.body["action"], "echo");
}
