//! The cloud sandbox: AWS's Runtime Interface Emulator in its own
//! host-network container, running `fogbank-agent --forward` as the
//! function's bootstrap, exactly as a Lambda sandbox runs a custom runtime.
//! An invocation sent to the sandbox's invoke endpoint is a cloud
//! invocation; live mode answers it on the developer's side.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use fogbank_tests::http;
use fogbank_tests::{Fogbank, example, workspace_binary};
use serde_json::Value;

use super::{Live, RelayProcess, Session};
use crate::docker::{docker, require_docker};
use crate::runtimes::rie::rie_binary;

/// The temporary credentials the sandbox's role gives the function.
const CLOUD_ACCESS_KEY_ID: &str = "ASIAFOGBANKCLOUDTEST";

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
}

/// An image with nothing but the directories a sandbox has; the binaries
/// and the host's libraries are mounted read-only (the test build of the
/// agent is dynamically linked).
fn sandbox_image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            // The image is the same empty directory tree every time, so one
            // fixed tag is imported once and reused by later runs rather
            // than leaving an image behind per run.
            let image = "fogbank-relay-sandbox:1".to_owned();
            if docker(&["image", "inspect", &image]).status.success() {
                return image;
            }
            let dir = tempfile::tempdir().expect("temp dir");
            let root = dir.path().join("rootfs");
            for sub in ["tmp", "opt/bin", "var/task", "var/runtime", "etc"] {
                std::fs::create_dir_all(root.join(sub)).expect("rootfs dir");
            }
            let tarball = dir.path().join("rootfs.tar");
            let status = Command::new("tar")
                .arg("-cf")
                .arg(&tarball)
                .arg("-C")
                .arg(&root)
                .arg(".")
                .status()
                .expect("run tar");
            assert!(status.success(), "tar failed");
            let imported = docker(&["import", tarball.to_str().expect("utf-8 path"), &image]);
            assert!(
                imported.status.success(),
                "docker import failed: {}",
                String::from_utf8_lossy(&imported.stderr)
            );
            image
        })
        .clone()
}

/// A running sandbox container, removed on drop.
pub struct Sandbox {
    name: String,
    pub invoke: SocketAddr,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.name]);
    }
}

/// What the sandbox's invoke endpoint answered.
#[derive(Debug)]
pub struct CloudAnswer {
    pub status: u16,
    pub body: String,
    pub took: Duration,
}

impl CloudAnswer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }
}

impl Sandbox {
    /// Starts the sandbox with the session's variables (`relay` overrides
    /// the relay address, e.g. to go through a recording proxy).
    pub fn start(relay: &RelayProcess, session: &Session, relay_url: &str) -> Sandbox {
        Sandbox::start_command(
            relay,
            session,
            relay_url,
            &["/opt/bin/fogbank-agent", "--forward"],
            &[],
        )
    }

    /// Starts the sandbox with `bootstrap` as the function's command line
    /// and extra read-only mounts (host path, container path).
    pub fn start_command(
        relay: &RelayProcess,
        session: &Session,
        relay_url: &str,
        bootstrap: &[&str],
        mounts: &[(&std::path::Path, &str)],
    ) -> Sandbox {
        require_docker();
        let image = sandbox_image();
        let agent = workspace_binary("fogbank-agent", "fogbank-agent");
        let rie = rie_binary();
        let invoke = free_port();
        let runtime_api = free_port();
        let name = format!("fogbank-sandbox-{}", uuid::Uuid::new_v4().simple());
        let mount = |from: &std::path::Path, to: &str| format!("{}:{to}:ro", from.display());
        let mut command = Command::new("docker");
        command.args(["run", "-d", "--name", &name, "--network", "host"]);
        if bootstrap.contains(&"--relay") {
            // In-place mode needs ptrace, as on ECS/Fargate with SYS_PTRACE.
            command.args(["--cap-add", "SYS_PTRACE"]);
        }
        for dir in ["/lib", "/lib64", "/usr"] {
            if std::path::Path::new(dir).exists() {
                command.args(["-v", &format!("{dir}:{dir}:ro")]);
            }
        }
        command
            .args(["-v", &mount(&agent, "/opt/bin/fogbank-agent")])
            .args(["-v", &mount(&rie, "/opt/aws-lambda-rie")])
            .args(
                mounts
                    .iter()
                    .flat_map(|(from, to)| ["-v".to_owned(), mount(from, to)]),
            )
            .args(["-e", "AWS_LAMBDA_FUNCTION_NAME=hello-api-cloud"])
            .args(["-e", "AWS_LAMBDA_FUNCTION_TIMEOUT=10"])
            .args(["-e", "AWS_REGION=eu-west-1"])
            .args(["-e", "ORDERS_TABLE=orders-prod"])
            .args(["-e", &format!("AWS_ACCESS_KEY_ID={CLOUD_ACCESS_KEY_ID}")])
            .args(["-e", "AWS_SECRET_ACCESS_KEY=cloud/secret/access/key"])
            .args(["-e", "AWS_SESSION_TOKEN=cloud-session-token"])
            .args(["-e", &format!("FOGBANK_RELAY={relay_url}")])
            .args(["-e", &format!("FOGBANK_SESSION={}", session.ticket)])
            .args(["-e", &format!("FOGBANK_SESSION_SECRET={}", session.secret)])
            .args(["-e", &format!("FOGBANK_RELAY_CA={}", relay.certificate.pem)])
            .arg(&image)
            .args([
                "/opt/aws-lambda-rie",
                "--runtime-interface-emulator-address",
            ])
            .arg(invoke.to_string())
            .arg("--runtime-api-address")
            .arg(runtime_api.to_string())
            .args(bootstrap);
        let output = command.output().expect("docker run");
        assert!(
            output.status.success(),
            "docker run failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let sandbox = Sandbox { name, invoke };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(invoke).is_err() {
            assert!(
                Instant::now() < deadline,
                "the sandbox did not listen: {}",
                sandbox.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        sandbox
    }

    pub fn logs(&self) -> String {
        let output = docker(&["logs", &self.name]);
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }

    /// Invokes the function as the cloud would.
    pub async fn invoke(&self, event: &str) -> CloudAnswer {
        let started = Instant::now();
        let response = tokio::time::timeout(
            Duration::from_secs(30),
            http::send(
                self.invoke,
                "POST",
                "/2015-03-31/functions/function/invocations",
                &[("content-type", "application/json")],
                event.to_owned(),
            ),
        )
        .await
        .unwrap_or_else(|_| panic!("the sandbox did not answer within 30 s: {}", self.logs()));
        CloudAnswer {
            status: response.status,
            body: response.text(),
            took: started.elapsed(),
        }
    }
}

/// A plain TCP proxy in front of the relay that records every byte both
/// ways: what anyone on the network path sees.
pub struct Recorder {
    pub address: SocketAddr,
    pub bytes: Arc<Mutex<Vec<u8>>>,
}

impl Recorder {
    pub fn start(upstream: SocketAddr) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let log = bytes.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                for (mut from, mut to) in [
                    (
                        client.try_clone().expect("clone"),
                        server.try_clone().expect("clone"),
                    ),
                    (server, client),
                ] {
                    let log = log.clone();
                    std::thread::spawn(move || {
                        let mut buffer = [0u8; 16 * 1024];
                        loop {
                            match from.read(&mut buffer) {
                                Ok(0) | Err(_) => break,
                                Ok(count) => {
                                    log.lock()
                                        .unwrap_or_else(|p| p.into_inner())
                                        .extend_from_slice(&buffer[..count]);
                                    if to.write_all(&buffer[..count]).is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                }
            }
        });
        Recorder { address, bytes }
    }

    pub fn contains(&self, needle: &[u8]) -> bool {
        let bytes = self.bytes.lock().unwrap_or_else(|p| p.into_inner());
        bytes.windows(needle.len()).any(|window| window == needle)
    }

    pub fn len(&self) -> usize {
        self.bytes.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// hello-api's `GET /hello/{name}` event, for `name`.
pub fn hello_event(name: &str) -> String {
    let text = std::fs::read_to_string(example("hello-api").join("events/hello.json"))
        .expect("hello.json");
    let mut event: Value = serde_json::from_str(&text).expect("hello.json is JSON");
    event["pathParameters"]["name"] = Value::String(name.to_owned());
    event["rawPath"] = Value::String(format!("/hello/{name}"));
    event.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_mode_answers_a_cloud_invocation_through_the_relay() {
    require_docker();
    let relay = RelayProcess::start(&[]);
    let session = relay.mint("1h");
    let recorder = Recorder::start(relay.address);
    let fogbank = Fogbank::start(&example("hello-api").join("template.yaml"));
    // The reference: the same event invoked locally.
    let marker = format!("Marker{}", uuid::Uuid::new_v4().simple());
    let event = hello_event(&marker);
    let local = http::send(
        fogbank.lambda,
        "POST",
        "/2015-03-31/functions/HelloFunction/invocations",
        &[],
        event.clone(),
    )
    .await;
    assert_eq!(local.status, 200, "{}", local.text());
    assert!(local.text().contains(&marker), "{}", local.text());

    let live = Live::start(
        &relay,
        &session,
        "HelloFunction",
        fogbank.lambda,
        fogbank.control,
    );
    let relay_url = format!("https://127.0.0.1:{}", recorder.address.port());
    let sandbox = Sandbox::start(&relay, &session, &relay_url);
    let answer = sandbox.invoke(&event).await;
    assert_eq!(
        answer.status,
        200,
        "{answer:?}\nsandbox: {}\nlive: {}",
        sandbox.logs(),
        live.output()
    );
    assert_eq!(
        answer.json(),
        local.json(),
        "sandbox: {}\nlive: {}",
        sandbox.logs(),
        live.output()
    );
    // The channel is kept: a second invocation reuses it.
    let second = sandbox.invoke(&hello_event("Grace")).await;
    assert!(second.body.contains("Grace"), "{second:?}");
    let output = live.output();
    assert!(output.contains("a cloud sandbox connected"), "{output}");
    assert_eq!(
        output.matches("a cloud sandbox connected").count(),
        1,
        "{output}"
    );
    assert!(
        output.contains("left before the cloud deadline"),
        "{output}"
    );

    // Everything on the network path is TLS; inside it, Noise: no event,
    // no response, no secret in the clear.
    assert!(recorder.len() > 1000, "the recorder saw the traffic");
    for needle in [
        marker.as_bytes(),
        b"Grace",
        b"routeKey",
        session.secret.as_bytes(),
    ] {
        assert!(
            !recorder.contains(needle),
            "{:?} crossed the network in plaintext",
            String::from_utf8_lossy(needle)
        );
    }

    // The developer leaves: the next cloud invocation is answered at once
    // with a clear error, not after the function's timeout.
    drop(live);
    let answer = sandbox.invoke(&event).await;
    let body = answer.json();
    assert_eq!(body["errorType"], "Fogbank.NoDeveloper", "{answer:?}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("no developer is connected"),
        "{answer:?}"
    );
    assert!(
        answer.took < Duration::from_secs(3),
        "took {:?}",
        answer.took
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_with_a_wrong_or_expired_secret_still_answers_with_a_clear_error() {
    require_docker();
    let relay = RelayProcess::start(&[]);
    let session = relay.mint("1h");
    let mut wrong = session.clone();
    wrong.secret = fogbank_relay::secret::SessionSecret::generate().to_text();
    let expired = relay.mint("1s");
    std::thread::sleep(Duration::from_millis(1100));
    // A developer is attached with the right secret; the sandboxes hold a
    // wrong one, and an expired session.
    let invoke_api = free_port();
    let live = Live::start(&relay, &session, "HelloFunction", invoke_api, free_port());
    for (credentials, expected) in [
        (&wrong, "the session token is not valid for this session"),
        (&expired, "expired"),
    ] {
        let sandbox = Sandbox::start(&relay, credentials, &relay.url());
        let answer = sandbox.invoke("{}").await;
        let body = answer.json();
        assert_eq!(body["errorType"], "Fogbank.NoDeveloper", "{answer:?}");
        let message = body["errorMessage"].as_str().unwrap_or_default().to_owned();
        assert!(message.contains(expected), "{message}");
        assert!(
            answer.took < Duration::from_secs(3),
            "took {:?}",
            answer.took
        );
    }
    assert!(
        !live.output().contains("a cloud sandbox connected"),
        "{}",
        live.output()
    );
}

/// A Python function that answers with the environment variables the event
/// names, and a template with a variable of its own.
fn environment_app() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary app");
    std::fs::create_dir(dir.path().join("src")).expect("src");
    std::fs::write(
        dir.path().join("src/app.py"),
        "import os\n\ndef handler(event, context):\n    return {key: os.environ.get(key) for key in event['keys']}\n",
    )
    .expect("app.py");
    std::fs::write(
        dir.path().join("template.yaml"),
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  EnvFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src\n      Handler: app.handler\n      Runtime: python3.12\n      Environment:\n        Variables:\n          ORDERS_TABLE: orders-local\n",
    )
    .expect("template.yaml");
    dir
}

const ENVIRONMENT_KEYS: &str = r#"{"keys": ["ORDERS_TABLE", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "AWS_LAMBDA_FUNCTION_NAME", "AWS_ENDPOINT_URL_SQS", "AWS_LAMBDA_RUNTIME_API", "FOGBANK_SESSION_SECRET"]}"#;

async fn local_environment(fogbank: &Fogbank) -> Value {
    let answer = http::send(
        fogbank.lambda,
        "POST",
        "/2015-03-31/functions/EnvFunction/invocations",
        &[],
        ENVIRONMENT_KEYS.to_owned(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()
}

/// Live mode runs the function locally with the cloud sandbox's
/// environment: its variables, its role's temporary credentials and its
/// region, with no local endpoint overrides, and gives the function its own
/// environment back when the developer leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_mode_runs_the_function_with_the_sandboxs_environment() {
    require_docker();
    let app = environment_app();
    let fogbank = Fogbank::start(&app.path().join("template.yaml"));
    let local = local_environment(&fogbank).await;
    assert_eq!(local["ORDERS_TABLE"], "orders-local", "{local}");
    assert_eq!(
        local["AWS_ACCESS_KEY_ID"], "AKIAFOGBANKLOCAL0000",
        "{local}"
    );
    assert!(
        local["AWS_ENDPOINT_URL_SQS"]
            .as_str()
            .is_some_and(|url| url.starts_with("http://127.0.0.1:")),
        "{local}"
    );

    let relay = RelayProcess::start(&[]);
    let session = relay.mint("1h");
    let mut live = Live::start(
        &relay,
        &session,
        "EnvFunction",
        fogbank.lambda,
        fogbank.control,
    );
    let sandbox = Sandbox::start(&relay, &session, &relay.url());
    let answer = sandbox.invoke(ENVIRONMENT_KEYS).await;
    assert_eq!(answer.status, 200, "{answer:?}\nlive: {}", live.output());
    let cloud = answer.json();
    let runtime_api = cloud["AWS_LAMBDA_RUNTIME_API"].as_str().unwrap_or_default();
    assert!(
        runtime_api.starts_with("127.0.0.1:"),
        "the local Runtime API stays: {cloud}"
    );
    assert_eq!(
        cloud,
        serde_json::json!({
            "ORDERS_TABLE": "orders-prod",
            "AWS_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": CLOUD_ACCESS_KEY_ID,
            "AWS_SESSION_TOKEN": "cloud-session-token",
            "AWS_LAMBDA_FUNCTION_NAME": "hello-api-cloud",
            "AWS_ENDPOINT_URL_SQS": null,
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "FOGBANK_SESSION_SECRET": null,
        }),
        "live: {}",
        live.output()
    );
    let status = http::send(
        fogbank.control,
        "GET",
        "/fogbank/v1/status",
        &[],
        String::new(),
    )
    .await;
    assert_eq!(
        status.json()["functions"][0]["cloudEnvironment"],
        true,
        "{}",
        status.text()
    );

    // The developer leaves: the function runs with its own environment again.
    live.interrupt();
    let local = local_environment(&fogbank).await;
    assert_eq!(
        local["ORDERS_TABLE"],
        "orders-local",
        "{local}\nlive: {}",
        live.output()
    );
    assert_eq!(
        local["AWS_ACCESS_KEY_ID"], "AKIAFOGBANKLOCAL0000",
        "{local}"
    );
}
