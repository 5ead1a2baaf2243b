//! Round-trip latency of fogbank-agent beside Debian's gdbserver in the same
//! run: a memory read and a single step, p50 over many repetitions. A DAP
//! `next` is a handful of these, so the agent must not be slower in kind
//! (e.g. waiting for a polling interval instead of its SIGCHLD wakeup).

use std::time::{Duration, Instant};

use fogbank_dap::rsp::{ResumeAction, StopReply};

use super::support::{Elf, SERVERS, Server, connect, fixture, launch, load_bias};

const REPETITIONS: usize = 200;

fn p50(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Returns the p50 of a memory read and of a single step.
async fn measure(server: Server) -> (Duration, Duration) {
    let program = fixture(false);
    let elf = Elf::load(&program);
    let running = launch(server, &program, &["normal"]);
    let mut client = connect(&running).await;
    client.stop_reason().await.expect("?");
    let bias = load_bias(&mut client, &elf).await;
    let add = elf.symbol("add").0 + bias;
    client.set_breakpoint(add).await.expect("break add");
    let thread = match client
        .resume(ResumeAction::Continue)
        .await
        .expect("continue")
    {
        StopReply::Stopped(stop) => stop.thread.expect("thread"),
        other => panic!("{server:?}: {other:?}"),
    };
    client.remove_breakpoint(add).await.expect("remove add");
    let rsp = client.read_register(thread, "rsp").await.expect("rsp");

    let mut reads = Vec::with_capacity(REPETITIONS);
    for _ in 0..REPETITIONS {
        let start = Instant::now();
        client.read_memory(rsp, 8).await.expect("read memory");
        reads.push(start.elapsed());
    }
    let mut steps = Vec::with_capacity(REPETITIONS);
    for _ in 0..REPETITIONS {
        let start = Instant::now();
        let stop = client
            .resume(ResumeAction::Step(thread))
            .await
            .expect("step");
        steps.push(start.elapsed());
        assert!(
            matches!(stop, StopReply::Stopped(_)),
            "{server:?}: {stop:?}"
        );
    }
    client.kill().await.expect("kill");
    drop(running);
    (p50(reads), p50(steps))
}

#[tokio::test]
async fn agent_round_trips_are_on_par_with_gdbserver() {
    let mut results = Vec::new();
    for server in SERVERS {
        results.push((server, measure(server).await));
    }
    let (agent_read, agent_step) = results[0].1;
    let (gdbserver_read, gdbserver_step) = results[1].1;
    println!(
        "RSP p50 over {REPETITIONS} round trips: memory read agent {agent_read:?} / gdbserver {gdbserver_read:?} \
         (ratio {:.2}); single step agent {agent_step:?} / gdbserver {gdbserver_step:?} (ratio {:.2})",
        agent_read.as_secs_f64() / gdbserver_read.as_secs_f64(),
        agent_step.as_secs_f64() / gdbserver_step.as_secs_f64(),
    );
    // Generous bounds (shared 2-core machines are noisy) that still catch a
    // lost wakeup, which would cost the 20 ms sweep interval per stop.
    let bound = |baseline: Duration| baseline * 3 + Duration::from_millis(1);
    assert!(
        agent_read <= bound(gdbserver_read),
        "memory read: agent {agent_read:?} vs {gdbserver_read:?}"
    );
    assert!(
        agent_step <= bound(gdbserver_step),
        "single step: agent {agent_step:?} vs {gdbserver_step:?}"
    );
}
