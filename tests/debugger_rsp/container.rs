//! The static fogbank-agent in an empty container: an image made by
//! `docker import` of a tarball holding only the agent and a static test
//! program, run with host networking, debugged from the host.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fogbank_dap::rsp::{ResumeAction, RspClient, StopReply};

use super::support::{Elf, fixture, load_bias, static_agent};

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run docker ({error}); install it: apt-get install docker.io")
        })
}

fn require_docker() {
    let info = docker(&["info", "--format", "{{.ServerVersion}}"]);
    assert!(
        info.status.success(),
        "the Docker engine is not running; start it: dockerd --bridge=none --iptables=false &\n{}",
        String::from_utf8_lossy(&info.stderr)
    );
}

/// Builds a tarball with `/fogbank-agent` and `/target` and imports it.
fn import_image(dir: &Path, image: &str) {
    let root = dir.join("rootfs");
    std::fs::create_dir_all(&root).expect("rootfs dir");
    std::fs::copy(static_agent(), root.join("fogbank-agent")).expect("copy agent");
    std::fs::copy(fixture(true), root.join("target")).expect("copy program");
    let tarball = dir.join("rootfs.tar");
    let status = Command::new("tar")
        .arg("-cf")
        .arg(&tarball)
        .arg("-C")
        .arg(&root)
        .args(["fogbank-agent", "target"])
        .status()
        .expect("run tar");
    assert!(status.success(), "tar failed");
    let imported = docker(&["import", tarball.to_str().expect("utf-8 path"), image]);
    assert!(
        imported.status.success(),
        "docker import failed: {}",
        String::from_utf8_lossy(&imported.stderr)
    );
}

#[tokio::test]
async fn static_agent_debugs_a_program_in_an_empty_container() {
    require_docker();
    let dir = tempfile::tempdir().expect("temp dir");
    let image = format!("fogbank-agent-test:{}", uuid::Uuid::new_v4().simple());
    import_image(dir.path(), &image);
    let shared = dir.path().join("shared");
    std::fs::create_dir_all(&shared).expect("shared dir");
    let mount = format!("{}:/x", shared.display());
    let container = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--network",
            "host",
            "-v",
            &mount,
            "-e",
            "FOGBANK_TEST_ENV=container",
            &image,
        ])
        .args([
            "/fogbank-agent",
            "--listen",
            "127.0.0.1:0",
            "--port-file",
            "/x/port",
            "--",
            "/target",
            "normal",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker run");

    let port_file = shared.join("port");
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr: std::net::SocketAddr = loop {
        if let Ok(text) = std::fs::read_to_string(&port_file)
            && let Ok(addr) = text.trim().parse()
        {
            break addr;
        }
        assert!(
            Instant::now() < deadline,
            "the agent in the container wrote no port file"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the agent");
    let mut client = RspClient::connect(stream).await.expect("RSP handshake");
    let (main_thread, elf) = match client.stop_reason().await.expect("?") {
        StopReply::Stopped(stop) => (stop.thread.expect("thread"), Elf::load(&fixture(true))),
        other => panic!("expected a stop at exec, got {other:?}"),
    };
    let bias = load_bias(&mut client, &elf).await;
    let add = elf.symbol("add").0 + bias;
    client.set_breakpoint(add).await.expect("break add");
    let stop = client
        .resume(ResumeAction::Continue)
        .await
        .expect("continue");
    assert!(matches!(stop, StopReply::Stopped(_)), "{stop:?}");
    assert_eq!(client.read_pc(main_thread).await.expect("pc"), add);
    assert_eq!(
        client.read_register(main_thread, "rdi").await.expect("rdi"),
        40
    );
    client.remove_breakpoint(add).await.expect("remove");
    let stop = client
        .resume(ResumeAction::Continue)
        .await
        .expect("continue to exit");
    assert!(
        matches!(stop, StopReply::Exited { code: 7, .. }),
        "{stop:?}"
    );
    drop(client);

    let output = container.wait_with_output().expect("container output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let _ = docker(&["rmi", "-f", &image]);
    assert_eq!(
        output.status.code(),
        Some(7),
        "container exit; stderr: {stderr}"
    );
    assert!(
        stdout.contains("result=84 env=container"),
        "stdout {stdout:?}"
    );
    assert!(
        stderr.contains(fogbank_agent::LISTENING_PREFIX),
        "stderr {stderr:?}"
    );
}
