//! Malformed RSP input to fogbank-agent, end to end through an in-memory
//! connection (a Unix socket pair) with a real traced process: every session
//! must stay responsive or end cleanly, never panic or hang.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fogbank_agent::{AgentTarget, Inferior, Program, SessionEnd, session, wakeup::Wakeup};
use proptest::prelude::*;

use super::support::fixture;

/// Frames a payload with a correct checksum.
fn framed(payload: &[u8]) -> Vec<u8> {
    let sum = payload
        .iter()
        .fold(0u8, |sum, byte| sum.wrapping_add(*byte));
    let mut out = vec![b'$'];
    out.extend_from_slice(payload);
    out.extend_from_slice(format!("#{sum:02x}").as_bytes());
    out
}

/// Random input chunks: raw bytes, well-framed packets whose payload starts
/// like a real command, and frames with broken checksums.
fn chunks() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let prefixes = prop::sample::select(vec![
        "m",
        "M",
        "x",
        "X",
        "g",
        "G",
        "p",
        "P",
        "H",
        "Hg",
        "Hc",
        "Z0,",
        "z0,",
        "Z1,",
        "vCont;",
        "vCont?",
        "vCont;r",
        "qSupported:",
        "qXfer:features:read:",
        "qXfer:auxv:read::",
        "qXfer:exec-file:read:",
        "qfThreadInfo",
        "qsThreadInfo",
        "qThreadExtraInfo,",
        "T",
        "QStartNoAckMode",
        "qAttached",
        "?",
        "vMustReplyEmpty",
        "qC",
        "qOffsets",
        "vFile:",
        "QThreadEvents:",
        "vKill;",
        "D",
        "k",
        "s",
        "c",
        "",
    ]);
    let packet = (prefixes, "[0-9a-fA-F,;:.xXpsScCr+=-]{0,40}")
        .prop_map(|(prefix, tail)| framed(format!("{prefix}{tail}").as_bytes()));
    let broken = "[ -~]{0,30}".prop_map(|body| format!("${body}#zz").into_bytes());
    let raw = prop::collection::vec(any::<u8>(), 0..64);
    prop::collection::vec(prop_oneof![4 => packet, 1 => broken, 1 => raw], 1..12)
}

/// Runs one agent session (tracer and gdbstub in one thread, as in the
/// binary) on `program` over the agent's end of a socket pair.
fn start_session(agent_end: UnixStream) -> mpsc::Receiver<Result<SessionEnd, String>> {
    let (sender, receiver) = mpsc::channel();
    let program = Program {
        path: fixture(false),
        args: vec!["normal".into()],
        cwd: None,
        env: vec![],
    };
    std::thread::spawn(move || {
        let result = (|| {
            let wakeup = Wakeup::new(false).map_err(|error| error.to_string())?;
            let inferior = Inferior::spawn(&program, wakeup.blocked_signals())
                .map_err(|error| error.to_string())?;
            let mut target = AgentTarget::new(inferior);
            let end =
                session::serve(&mut target, agent_end, &wakeup).map_err(|error| error.to_string());
            // Clean up whatever state the session left the process in.
            if !matches!(end, Ok(SessionEnd::Killed(_) | SessionEnd::ProcessEnded(_))) {
                let _ = target.inferior_mut().kill();
            }
            end
        })();
        let _ = sender.send(result);
    });
    receiver
}

fn check_session_survives(input: &[Vec<u8>]) -> Result<(), TestCaseError> {
    let (agent_end, mut test_end) = UnixStream::pair().expect("socket pair");
    let finished = start_session(agent_end);
    let received = Arc::new(Mutex::new(Vec::<u8>::new()));
    let reader = {
        let received = received.clone();
        let mut reader_end = test_end.try_clone().expect("clone socket");
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(count) = reader_end.read(&mut buf) {
                if count == 0 {
                    break;
                }
                received
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(&buf[..count]);
            }
        })
    };
    for chunk in input {
        // The session may already have ended (a fuzzed `k` or `D`).
        let _ = test_end.write_all(chunk);
    }
    // Probe: interrupt whatever runs, then ask for the stop reason.
    let probe_at = received.lock().unwrap_or_else(|p| p.into_inner()).len();
    let _ = test_end.write_all(b"\x03");
    let _ = test_end.write_all(&framed(b"?"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let answered = loop {
        let text = received.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let after_probe = &text[probe_at.min(text.len())..];
        if after_probe
            .windows(2)
            .any(|w| matches!(w, [b'$', b'T' | b'S' | b'W' | b'X' | b'E']))
        {
            break true;
        }
        if reader.is_finished() {
            // The session ended and closed the connection.
            break false;
        }
        prop_assert!(
            Instant::now() < deadline,
            "agent neither answered nor closed: {:?}",
            String::from_utf8_lossy(&text)
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    // The reader thread holds a clone of the socket: shut it down rather
    // than drop it, so the agent sees the debugger leave.
    let _ = test_end.shutdown(std::net::Shutdown::Both);
    let end = finished
        .recv_timeout(Duration::from_secs(10))
        .map_err(|_| TestCaseError::fail("agent session did not end after the debugger left"))?;
    let end = end.map_err(|error| TestCaseError::fail(format!("session failed: {error}")))?;
    if answered {
        prop_assert!(
            matches!(
                end,
                SessionEnd::ConnectionLost
                    | SessionEnd::ProcessEnded(_)
                    | SessionEnd::Detached
                    | SessionEnd::Killed(_)
            ),
            "unexpected end {:?}",
            end
        );
    }
    let _ = reader.join();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn agent_survives_malformed_rsp_input(input in chunks()) {
        check_session_survives(&input)?;
    }
}

#[test]
fn agent_answers_after_known_bad_inputs() {
    let cases: Vec<Vec<Vec<u8>>> = vec![
        vec![b"garbage before any packet".to_vec()],
        vec![b"$?#00".to_vec()],
        vec![framed(b"mzz,zz")],
        vec![framed(b"Z0,notanaddress,1")],
        vec![framed(b"vCont;q")],
        vec![b"-".to_vec(), framed(b"g")],
        vec![framed(&[b'M'; 20_000])],
        vec![
            framed(b"qSupported:swbreak+"),
            framed(b"QStartNoAckMode"),
            framed(b"mzz"),
        ],
    ];
    for case in cases {
        check_session_survives(&case).unwrap_or_else(|error| panic!("{error} for {case:?}"));
    }
}
