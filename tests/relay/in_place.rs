//! In-place mode in the cloud sandbox: the container runs hello-api's real
//! bootstrap under `fogbank-agent --relay` (ptrace inside the sandbox), and
//! the developer's side debugs it over RSP through the relay: a breakpoint
//! in the handler is hit by a cloud invocation, and after `continue` the
//! caller gets the right answer. With a wrong secret the function runs at
//! once without a debugger.

use std::time::Duration;

use fogbank_dap::rsp::{ResumeAction, RspClient, StopReply};
use fogbank_relay::client::RelaySettings;
use fogbank_relay::client::asynch::{attach, join};
use fogbank_relay::noise::{ChannelMode, DeveloperHello};
use fogbank_relay::secret::{SessionCredentials, SessionSecret, SessionTicket};
use fogbank_relay::tls::RelayAddress;
use fogbank_tests::example;
use object::{Object, ObjectSymbol};

use super::sandbox::{Sandbox, hello_event};
use super::{RelayProcess, Session};
use crate::docker::require_docker;

/// hello-api's release binary, as `fogbank build` (and the live-mode test's
/// `fogbank start`) leaves it.
pub(super) fn hello_api_binary() -> std::path::PathBuf {
    let binary = example("hello-api").join("target/release/hello-api");
    if !binary.is_file() {
        let status =
            std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
                .args(["build", "--release"])
                .current_dir(example("hello-api"))
                .env_remove("CARGO_TARGET_DIR")
                .status()
                .expect("run cargo build for hello-api");
        assert!(status.success(), "building examples/hello-api failed");
    }
    binary
}

/// The entry point and the address of `hello_api::hello` in the ELF file.
fn entry_and_handler(binary: &std::path::Path) -> (u64, u64) {
    let bytes = std::fs::read(binary).expect("read hello-api");
    let file = object::File::parse(&*bytes).expect("parse hello-api");
    let handler = file
        .symbols()
        .find(|symbol| {
            symbol.name().is_ok_and(|name| {
                name.contains("9hello_api5hello17h") || name == "hello_api::hello"
            })
        })
        .expect("hello_api::hello in the symbol table")
        .address();
    (file.entry(), handler)
}

fn settings(relay: &RelayProcess, session: &Session) -> RelaySettings {
    RelaySettings::new(
        RelayAddress::parse(&session.relay).expect("relay address"),
        SessionCredentials {
            ticket: SessionTicket::parse(&session.ticket).expect("ticket"),
            secret: SessionSecret::parse(&session.secret).expect("secret"),
        },
        Some((relay.certificate.pem.as_bytes(), "test certificate")),
    )
    .expect("settings")
}

fn at_entry(auxv: &[u8]) -> u64 {
    auxv.chunks_exact(16)
        .find_map(|pair| {
            let key = u64::from_le_bytes(pair[..8].try_into().expect("8 bytes"));
            (key == 9).then(|| u64::from_le_bytes(pair[8..].try_into().expect("8 bytes")))
        })
        .expect("AT_ENTRY in the auxiliary vector")
}

fn in_place_command() -> Vec<&'static str> {
    vec![
        "/opt/bin/fogbank-agent",
        "--relay",
        "--wait-timeout",
        "30",
        "--",
        "/var/task/bootstrap",
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_place_mode_stops_a_cloud_invocation_at_a_breakpoint() {
    require_docker();
    let binary = hello_api_binary();
    let (entry, handler) = entry_and_handler(&binary);
    let relay = RelayProcess::start(&[]);
    let session = relay.mint("1h");
    let settings = settings(&relay, &session);
    let mut attachment = attach(&settings).await.expect("attach to the session");
    let sandbox = Sandbox::start_command(
        &relay,
        &session,
        &relay.url(),
        &in_place_command(),
        &[(binary.as_path(), "/var/task/bootstrap")],
    );
    // RIE starts the function on the first invocation, like Lambda's cold
    // start; the agent then waits for the debugger before its first
    // instruction.
    let marker = format!("InPlace{}", uuid::Uuid::new_v4().simple());
    let event = hello_event(&marker);
    let invoke = tokio::spawn(async move {
        let answer = sandbox.invoke(&event).await;
        (sandbox, answer)
    });
    let channel = tokio::time::timeout(Duration::from_secs(30), attachment.next())
        .await
        .expect("the sandbox's agent arrives")
        .expect("the attachment is open")
        .expect("an announcement");
    let (hello, stream) = join(&settings, channel, |hello| match hello.mode {
        ChannelMode::InPlace => DeveloperHello::Accept,
        ChannelMode::Live => DeveloperHello::Decline("expected in-place".into()),
    })
    .await
    .expect("join the agent");
    assert!(hello.software.contains("in-place"), "{hello:?}");
    let mut client = RspClient::connect(stream)
        .await
        .expect("RSP through the relay");
    let bias = at_entry(&client.read_auxv().await.expect("auxv")) - entry;
    let breakpoint = bias + handler;
    client
        .set_breakpoint(breakpoint)
        .await
        .expect("set the breakpoint");
    let stop = client
        .resume(ResumeAction::Continue)
        .await
        .expect("continue to the breakpoint");
    let StopReply::Stopped(stop) = stop else {
        panic!("expected a stop at the handler, got {stop:?}");
    };
    assert_eq!(stop.signal, 5, "{stop:?}");
    let thread = stop.thread.expect("the stopped thread");
    assert_eq!(client.read_pc(thread).await.expect("pc"), breakpoint);
    // The name the handler greets is in the sandbox's memory: its `&str`
    // argument is a pointer and a length in rsi and rdx (rdi holds the
    // return slot of the large response struct).
    let pointer = client.read_register(thread, "rsi").await.expect("rsi");
    let length = client.read_register(thread, "rdx").await.expect("rdx") as usize;
    assert_eq!(length, marker.len(), "the name's length at the breakpoint");
    let name = client
        .read_memory(pointer, length)
        .await
        .expect("read the name");
    assert_eq!(String::from_utf8_lossy(&name), marker);
    client
        .remove_breakpoint(breakpoint)
        .await
        .expect("remove the breakpoint");
    assert!(
        client
            .send_resume(ResumeAction::Continue)
            .await
            .expect("continue")
            .is_none()
    );
    let (sandbox, answer) = tokio::time::timeout(Duration::from_secs(30), invoke)
        .await
        .expect("the invocation finishes")
        .expect("the invoke task");
    assert_eq!(answer.status, 200, "{answer:?}\n{}", sandbox.logs());
    // (The greeting's wording is the example's to change; the name is ours.)
    assert!(
        answer.body.contains(&marker),
        "{answer:?}\n{}",
        sandbox.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_place_mode_with_a_wrong_secret_runs_the_function_at_once() {
    require_docker();
    let binary = hello_api_binary();
    let relay = RelayProcess::start(&[]);
    let mut session = relay.mint("1h");
    session.secret = SessionSecret::generate().to_text();
    let sandbox = Sandbox::start_command(
        &relay,
        &session,
        &relay.url(),
        &in_place_command(),
        &[(binary.as_path(), "/var/task/bootstrap")],
    );
    let answer = sandbox.invoke(&hello_event("Ada")).await;
    assert_eq!(answer.status, 200, "{answer:?}\n{}", sandbox.logs());
    assert!(answer.body.contains("Ada"), "{answer:?}");
    // No waiting for a debugger that cannot come (the wait timeout is 30 s).
    assert!(
        answer.took < Duration::from_secs(5),
        "took {:?}",
        answer.took
    );
    let logs = sandbox.logs();
    assert!(
        logs.contains("the relay refused this agent") && logs.contains("not valid"),
        "{logs}"
    );
}
