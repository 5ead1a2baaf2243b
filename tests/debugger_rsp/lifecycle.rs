//! fogbank-agent's process lifecycle: the wait timeout, re-attaching after a
//! debugger left, attaching by pid, and termination signals.

use std::ffi::OsString;
use std::process::{Command, Stdio};
use std::time::Duration;

use fogbank_dap::rsp::{ResumeAction, RspClient, StopReason, StopReply, ThreadId};

use super::support::{Elf, Running, connect, fixture, launch_agent, load_bias};

fn agent_args(extra: &[&str], mode: &str) -> Vec<OsString> {
    let mut args: Vec<OsString> = extra.iter().map(Into::into).collect();
    args.push("--".into());
    args.push(fixture(false).into());
    args.push(mode.into());
    args
}

/// Breaks at `add` in the spinning fixture and checks its arguments.
async fn break_in_spinning_add(client: &mut RspClient<tokio::net::TcpStream>) -> ThreadId {
    let elf = Elf::load(&fixture(false));
    match client.stop_reason().await.expect("?") {
        StopReply::Stopped(_) => {}
        other => panic!("expected the attached process to be stopped, got {other:?}"),
    }
    let bias = load_bias(client, &elf).await;
    let add = elf.symbol("add").0 + bias;
    client.set_breakpoint(add).await.expect("break add");
    let stop = client
        .resume(ResumeAction::Continue)
        .await
        .expect("continue");
    let thread = match stop {
        StopReply::Stopped(stop) => {
            assert_eq!(stop.reason, StopReason::SoftwareBreakpoint, "{stop:?}");
            stop.thread.expect("thread")
        }
        other => panic!("expected a breakpoint stop, got {other:?}"),
    };
    assert_eq!(client.read_pc(thread).await.expect("pc"), add);
    assert_eq!(client.read_register(thread, "rdi").await.expect("rdi"), 1);
    thread
}

fn process_alive(pid: u32) -> bool {
    // Signal 0 checks existence; a zombie counts as gone.
    let status = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !status.is_empty() && !status.contains(") Z ")
}

#[test]
fn without_a_debugger_the_program_runs_after_the_wait_timeout() {
    let running = launch_agent(&agent_args(
        &["--wait-timeout", "0.2", "--env", "FOGBANK_TEST_ENV=given"],
        "normal",
    ));
    let (code, stdout) = running.finish(Duration::from_secs(10));
    assert_eq!(code, 7);
    assert!(stdout.contains("result=84 env=given"), "stdout {stdout:?}");
}

#[tokio::test]
async fn debuggers_attach_after_the_timeout_and_again_after_a_detach() {
    let running = launch_agent(&agent_args(&["--wait-timeout", "0.1"], "spin"));
    tokio::time::sleep(Duration::from_millis(400)).await;

    // First debugger: the program already runs untraced; the agent attaches.
    let mut client = connect(&running).await;
    break_in_spinning_add(&mut client).await;
    client.detach().await.expect("detach");

    // Second debugger on the same agent.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut client = connect(&running).await;
    break_in_spinning_add(&mut client).await;
    client.kill().await.expect("kill");
    let (code, _) = running.finish(Duration::from_secs(10));
    assert_eq!(code, 128 + libc::SIGKILL, "the agent ends like its program");
}

#[tokio::test]
async fn the_agent_attaches_to_a_running_process_by_pid() {
    let mut program = Command::new(fixture(false))
        .arg("spin")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the program");
    let running: Running = launch_agent(&["--pid".into(), program.id().to_string().into()]);
    let mut client = connect(&running).await;
    break_in_spinning_add(&mut client).await;
    client.detach().await.expect("detach");
    let (code, _) = running.finish(Duration::from_secs(10));
    assert_eq!(code, 0, "the agent leaves a process it did not start");
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        process_alive(program.id()),
        "the program runs on after the detach"
    );
    assert_eq!(program.try_wait().expect("try_wait"), None);
    program.kill().expect("kill the program");
    let _ = program.wait();
}

#[test]
fn sigterm_to_the_agent_reaches_the_program() {
    let running = launch_agent(&agent_args(&["--wait-timeout", "0.1"], "spin"));
    std::thread::sleep(Duration::from_millis(300));
    fogbank_tests::signal::to_process(running.pid(), fogbank_tests::signal::Signal::SIGTERM);
    let (code, _) = running.finish(Duration::from_secs(10));
    assert_eq!(
        code,
        128 + libc::SIGTERM,
        "the program died of SIGTERM and the agent mirrors it"
    );
}

#[tokio::test]
async fn the_agent_connects_out_to_a_waiting_debugger() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("listener address");
    let program = fixture(false);
    let mut agent = Command::new(super::support::static_agent())
        .arg("--connect")
        .arg(addr.to_string())
        .arg("--")
        .arg(&program)
        .arg("normal")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the agent");
    let (stream, _) = tokio::time::timeout(Duration::from_secs(20), listener.accept())
        .await
        .expect("the agent connects within 20 s")
        .expect("accept");
    let mut client = RspClient::connect(stream).await.expect("RSP handshake");
    let elf = Elf::load(&program);
    client.stop_reason().await.expect("?");
    let bias = load_bias(&mut client, &elf).await;
    let add = elf.symbol("add").0 + bias;
    client.set_breakpoint(add).await.expect("break add");
    let stop = client
        .resume(ResumeAction::Continue)
        .await
        .expect("continue");
    assert!(matches!(stop, StopReply::Stopped(_)), "{stop:?}");
    client.remove_breakpoint(add).await.expect("remove add");
    let stop = client
        .resume(ResumeAction::Continue)
        .await
        .expect("continue to exit");
    assert!(
        matches!(stop, StopReply::Exited { code: 7, .. }),
        "{stop:?}"
    );
    let status = agent.wait().expect("agent exit");
    assert_eq!(status.code(), Some(7));
}
