//! The RSP client against real servers: every scenario runs the same body
//! against fogbank-agent and against Debian's gdbserver.

use std::time::Duration;

use fogbank_dap::rsp::{ResumeAction, RspClient, StopReason, StopReply, ThreadId};

use super::support::{Elf, SERVERS, Server, connect, fixture, launch, load_bias};

type Client = RspClient<tokio::net::TcpStream>;

fn stopped_thread(server: Server, stop: &StopReply) -> (u8, ThreadId, StopReason) {
    match stop {
        StopReply::Stopped(stop) => (
            stop.signal,
            stop.thread
                .unwrap_or_else(|| panic!("{server:?}: stop without a thread: {stop:?}")),
            stop.reason.clone(),
        ),
        other => panic!("{server:?}: expected a stop, got {other:?}"),
    }
}

async fn pc(client: &mut Client, thread: ThreadId) -> u64 {
    client.read_pc(thread).await.expect("read pc")
}

/// Breakpoints in two threads, registers, memory, a single step, a range
/// step, and the exit code.
async fn check_breakpoints_steps_and_exit(server: Server) {
    let program = fixture(false);
    let elf = Elf::load(&program);
    let running = launch(server, &program, &["normal"]);
    let mut client = connect(&running).await;

    let (_, main_thread, _) = stopped_thread(server, &client.stop_reason().await.expect("?"));
    let registers = client
        .read_registers(main_thread)
        .await
        .expect("read registers");
    let layout = client.layout().clone();
    assert!(
        registers.value(&layout, "rip").is_some_and(|rip| rip != 0),
        "{server:?}: rip"
    );
    assert!(
        registers.value(&layout, "rsp").is_some_and(|rsp| rsp != 0),
        "{server:?}: rsp"
    );
    assert_eq!(
        client.threads().await.expect("threads"),
        vec![main_thread],
        "{server:?}"
    );

    let bias = load_bias(&mut client, &elf).await;
    let (add_link, add_size) = elf.symbol("add");
    let (worker_link, _) = elf.symbol("worker");
    let (middle_link, middle_size) = elf.symbol("middle");
    let (add, worker, middle) = (add_link + bias, worker_link + bias, middle_link + bias);
    client.set_breakpoint(worker).await.expect("break worker");
    client.set_breakpoint(add).await.expect("break add");

    // The worker runs in a second thread.
    let stop = client
        .resume(ResumeAction::Continue)
        .await
        .expect("continue to worker");
    let (signal, worker_thread, reason) = stopped_thread(server, &stop);
    assert_eq!(
        (signal, reason),
        (5, StopReason::SoftwareBreakpoint),
        "{server:?}"
    );
    assert_ne!(
        worker_thread, main_thread,
        "{server:?}: worker in its own thread"
    );
    assert_eq!(pc(&mut client, worker_thread).await, worker, "{server:?}");
    let threads = client.threads().await.expect("threads");
    assert!(
        threads.contains(&main_thread) && threads.contains(&worker_thread),
        "{server:?}: {threads:?}"
    );

    // add(40, 2) in the main thread: the breakpoint, then its arguments.
    let stop = client
        .resume(ResumeAction::Continue)
        .await
        .expect("continue to add");
    let (signal, thread, reason) = stopped_thread(server, &stop);
    assert_eq!(
        (signal, thread, reason),
        (5, main_thread, StopReason::SoftwareBreakpoint),
        "{server:?}"
    );
    assert_eq!(pc(&mut client, main_thread).await, add, "{server:?}");
    assert_eq!(
        client.read_register(main_thread, "rdi").await.expect("rdi"),
        40,
        "{server:?}"
    );
    assert_eq!(
        client.read_register(main_thread, "rsi").await.expect("rsi"),
        2,
        "{server:?}"
    );
    // Memory shows the program's bytes, not the inserted int3.
    let code = client.read_memory(add, 16).await.expect("read code");
    assert_eq!(code, elf.bytes_at(add_link, 16), "{server:?}: code at add");
    // Reads past the end of a mapping stop short instead of failing.
    let to_segment_end = client
        .read_memory(add, 1 << 20)
        .await
        .expect("read to the end of text");
    assert!(
        to_segment_end.len() > 16 && to_segment_end.len() < 1 << 20,
        "{server:?}"
    );
    assert_eq!(&to_segment_end[..16], &code[..], "{server:?}");
    // A block larger than one packet, from the stack below the stack pointer.
    let rsp = client.read_register(main_thread, "rsp").await.expect("rsp");
    let big = client
        .read_memory(rsp - 20_000, 20_000)
        .await
        .expect("read a large block");
    assert_eq!(big.len(), 20_000, "{server:?}: multi-packet read");

    // One instruction forward, still inside add.
    let stop = client
        .resume(ResumeAction::Step(main_thread))
        .await
        .expect("step");
    let (signal, thread, _) = stopped_thread(server, &stop);
    assert_eq!((signal, thread), (5, main_thread), "{server:?}");
    let stepped = pc(&mut client, main_thread).await;
    assert!(
        stepped > add && stepped < add + add_size,
        "{server:?}: pc {stepped:#x} after a step"
    );

    // Range-step to the end of add: the thread returns into middle.
    let stop = client
        .resume(ResumeAction::RangeStep {
            thread: main_thread,
            start: add,
            end: add + add_size,
        })
        .await
        .expect("range step");
    let (signal, thread, _) = stopped_thread(server, &stop);
    assert_eq!((signal, thread), (5, main_thread), "{server:?}");
    let returned = pc(&mut client, main_thread).await;
    assert!(
        returned > middle && returned < middle + middle_size,
        "{server:?}: pc {returned:#x} should be back in middle"
    );

    // Writing memory and a register round-trips.
    let rsp = client.read_register(main_thread, "rsp").await.expect("rsp");
    let probe = rsp - 256;
    client
        .write_memory(probe, b"fogbank")
        .await
        .expect("write memory");
    assert_eq!(
        client.read_memory(probe, 7).await.expect("read back"),
        b"fogbank",
        "{server:?}"
    );
    let rax = client.read_register(main_thread, "rax").await.expect("rax");
    client
        .write_register(main_thread, "rax", &rax.to_le_bytes())
        .await
        .expect("write rax");
    assert_eq!(
        client
            .read_register(main_thread, "rax")
            .await
            .expect("rax again"),
        rax,
        "{server:?}"
    );

    client.remove_breakpoint(add).await.expect("remove add");
    client
        .remove_breakpoint(worker)
        .await
        .expect("remove worker");
    let stop = client
        .resume(ResumeAction::Continue)
        .await
        .expect("continue to exit");
    assert!(
        matches!(stop, StopReply::Exited { code: 7, .. }),
        "{server:?}: {stop:?}"
    );
    drop(client);
    let (_, stdout) = running.finish(Duration::from_secs(10));
    assert!(
        stdout.contains("result=84 env=passed"),
        "{server:?}: stdout {stdout:?}"
    );
}

#[tokio::test]
async fn breakpoints_steps_and_exit_under_both_servers() {
    for server in SERVERS {
        check_breakpoints_steps_and_exit(server).await;
    }
}

/// A fatal signal is reported as a stop, then passed on to kill the process.
async fn check_fatal_signal(server: Server, mode: &str, signal: u8) {
    let program = fixture(false);
    let running = launch(server, &program, &[mode]);
    let mut client = connect(&running).await;
    client.stop_reason().await.expect("?");
    let stop = client
        .resume(ResumeAction::Continue)
        .await
        .expect("continue");
    let (reported, thread, reason) = stopped_thread(server, &stop);
    assert_eq!(
        (reported, reason),
        (signal, StopReason::Signal),
        "{server:?} {mode}"
    );
    let stop = client
        .resume(ResumeAction::ContinueWithSignal { thread, signal })
        .await
        .expect("pass the signal");
    assert!(
        matches!(stop, StopReply::Terminated { signal: s, .. } if s == signal),
        "{server:?} {mode}: {stop:?}"
    );
}

#[tokio::test]
async fn sigsegv_and_sigabrt_are_reported_then_delivered_under_both_servers() {
    for server in SERVERS {
        check_fatal_signal(server, "segv", libc::SIGSEGV as u8).await;
        check_fatal_signal(server, "abort", libc::SIGABRT as u8).await;
    }
}

/// After a detach at a breakpoint, the program finishes normally.
async fn check_detach(server: Server) {
    let program = fixture(false);
    let elf = Elf::load(&program);
    let running = launch(server, &program, &["normal"]);
    let mut client = connect(&running).await;
    client.stop_reason().await.expect("?");
    let bias = load_bias(&mut client, &elf).await;
    let add = elf.symbol("add").0 + bias;
    client.set_breakpoint(add).await.expect("break add");
    let stop = client
        .resume(ResumeAction::Continue)
        .await
        .expect("continue");
    assert!(
        matches!(stop, StopReply::Stopped(_)),
        "{server:?}: {stop:?}"
    );
    client.detach().await.expect("detach");
    let (code, stdout) = running.finish(Duration::from_secs(10));
    assert!(
        stdout.contains("result=84"),
        "{server:?}: stdout {stdout:?}"
    );
    if server == Server::Agent {
        // The agent mirrors the program's exit status.
        assert_eq!(code, 7, "{server:?}");
    }
}

#[tokio::test]
async fn detach_lets_the_program_finish_under_both_servers() {
    for server in SERVERS {
        check_detach(server).await;
    }
}

#[tokio::test]
async fn kill_ends_the_program_under_both_servers() {
    for server in SERVERS {
        let program = fixture(false);
        let running = launch(server, &program, &["normal"]);
        let mut client = connect(&running).await;
        client.stop_reason().await.expect("?");
        client.kill().await.expect("kill");
        let (code, stdout) = running.finish(Duration::from_secs(10));
        assert!(
            !stdout.contains("result="),
            "{server:?}: the program must not run: {stdout:?}"
        );
        if server == Server::Agent {
            assert_eq!(
                code,
                128 + libc::SIGKILL,
                "{server:?}: agent dies like its program"
            );
        }
    }
}

#[tokio::test]
async fn dropping_the_connection_releases_the_program_under_the_agent() {
    let program = fixture(false);
    let elf = Elf::load(&program);
    let running = launch(Server::Agent, &program, &["normal"]);
    let mut client = connect(&running).await;
    client.stop_reason().await.expect("?");
    let bias = load_bias(&mut client, &elf).await;
    client
        .set_breakpoint(elf.symbol("add").0 + bias)
        .await
        .expect("break add");
    client
        .resume(ResumeAction::Continue)
        .await
        .expect("continue");
    // No detach: the debugger just goes away while the program is stopped
    // at a breakpoint. The breakpoint must be gone and the program run on.
    drop(client);
    let (code, stdout) = running.finish(Duration::from_secs(10));
    assert_eq!(
        (code, stdout.contains("result=84")),
        (7, true),
        "stdout {stdout:?}"
    );
}

/// A forked child inherits the parent's memory, breakpoints included: the
/// server must take them out of the child, which then runs undisturbed.
async fn check_fork_child_survives_breakpoints(server: Server) {
    let program = fixture(false);
    let elf = Elf::load(&program);
    let running = launch(server, &program, &["fork"]);
    let mut client = connect(&running).await;
    client.stop_reason().await.expect("?");
    let bias = load_bias(&mut client, &elf).await;
    let add = elf.symbol("add").0 + bias;
    client.set_breakpoint(add).await.expect("break add");
    let stop = client
        .resume(ResumeAction::Continue)
        .await
        .expect("continue");
    let (signal, thread, _) = stopped_thread(server, &stop);
    assert_eq!(signal, 5, "{server:?}: {stop:?}");
    assert_eq!(
        client.read_register(thread, "rdi").await.expect("rdi"),
        1,
        "{server:?}: only the parent's add(1, 2) stops"
    );
    client.remove_breakpoint(add).await.expect("remove add");
    let stop = client
        .resume(ResumeAction::Continue)
        .await
        .expect("continue to exit");
    assert!(
        matches!(stop, StopReply::Exited { code: 0, .. }),
        "{server:?}: {stop:?}"
    );
    drop(client);
    let (_, stdout) = running.finish(Duration::from_secs(10));
    match server {
        Server::Agent => {
            assert!(
                stdout.contains("child=7"),
                "{server:?}: the child ran add(3, 4): {stdout:?}"
            );
        }
        // FIXME: gdbserver leaves the client's breakpoints in a forked child
        // unless the client takes fork events (`fork-events+`, multiprocess
        // ids, `D;pid`), which the RSP client does not do yet; the child then
        // dies of SIGTRAP (GDB signal 5). Asserted as it is.
        Server::Gdbserver => {
            assert!(
                stdout.contains("child=-5"),
                "{server:?}: known gdbserver behaviour changed: {stdout:?}"
            );
        }
    }
}

#[tokio::test]
async fn forked_children_run_free_of_breakpoints_under_both_servers() {
    for server in SERVERS {
        check_fork_child_survives_breakpoints(server).await;
    }
}
