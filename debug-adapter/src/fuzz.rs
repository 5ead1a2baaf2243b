//! Fuzz tests of what the client sends: arbitrary bytes split at arbitrary
//! points through the framing codec, arbitrary JSON through the protocol
//! decoder, and arbitrary request sequences through a whole session. None
//! may panic, and every request gets exactly one response.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{self, Write};
use std::rc::Rc;

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::codec::{Decoded, Decoder, encode};
use crate::protocol;

/// Feeds `bytes` in pieces cut at `cuts` (positions, any order) and
/// returns the frames decoded and how many errors were reported.
fn decode_in_pieces(bytes: &[u8], cuts: &[usize], max_frame: usize) -> (Vec<Vec<u8>>, usize) {
    let mut positions: Vec<usize> = cuts.iter().map(|cut| cut % (bytes.len() + 1)).collect();
    positions.push(0);
    positions.push(bytes.len());
    positions.sort_unstable();
    positions.dedup();
    let mut decoder = Decoder::new(max_frame);
    let mut frames = Vec::new();
    let mut errors = 0;
    for piece in positions.windows(2) {
        decoder.push(&bytes[piece[0]..piece[1]]);
        while let Some(item) = decoder.next_item() {
            match item {
                Decoded::Frame(body) => frames.push(body),
                Decoded::Error(_) => errors += 1,
            }
        }
    }
    (frames, errors)
}

/// JSON values of any shape, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::from),
        Just(json!("x.y[2].z")),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(1)),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::hash_map(
                prop_oneof![
                    Just("threadId".to_owned()),
                    Just("frameId".to_owned()),
                    Just("variablesReference".to_owned()),
                    Just("source".to_owned()),
                    Just("path".to_owned()),
                    Just("breakpoints".to_owned()),
                    Just("line".to_owned()),
                    Just("expression".to_owned()),
                    Just("memoryReference".to_owned()),
                    Just("count".to_owned()),
                    Just("filters".to_owned()),
                    Just("name".to_owned()),
                    "[a-z]{1,8}",
                ],
                inner,
                0..5,
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Every request fogbank-dap knows (and a few it does not), except
/// `launch` and `attach`, which would reach for an emulator or a gdb
/// server on this machine.
const COMMANDS: &[&str] = &[
    "initialize",
    "configurationDone",
    "disconnect",
    "terminate",
    "setBreakpoints",
    "setFunctionBreakpoints",
    "setExceptionBreakpoints",
    "threads",
    "stackTrace",
    "scopes",
    "variables",
    "evaluate",
    "continue",
    "next",
    "stepIn",
    "stepOut",
    "pause",
    "readMemory",
    "disassemble",
    "exceptionInfo",
    "source",
    "cancel",
    "loadedSources",
    "setVariable",
    "gotoTargets",
    "noSuchCommand",
];

/// A request with arguments that are sometimes sensible, sometimes not.
fn any_request() -> impl Strategy<Value = (String, Value)> {
    (
        prop::sample::select(COMMANDS),
        prop_oneof![
            any_json(),
            Just(json!({ "threadId": 1 })),
            Just(json!({ "frameId": 1, "expression": "a.b[0]", "context": "hover" })),
            Just(json!({ "source": { "path": "/no/such/file.rs" }, "breakpoints": [{ "line": 3, "condition": "x ==" }] })),
            Just(json!({ "breakpoints": [{ "name": "main" }] })),
            Just(json!({ "filters": ["rust_panic", "nope"] })),
            Just(json!({ "memoryReference": "0xzz", "count": 4 })),
            Just(json!({ "memoryReference": "0x1000", "instructionCount": 10 })),
            Just(json!({ "variablesReference": 7 })),
        ],
    )
        .prop_map(|(command, arguments)| (command.to_owned(), arguments))
}

/// An output that tests can read after the session consumed it.
#[derive(Clone, Default)]
struct SharedOutput(Rc<RefCell<Vec<u8>>>);

impl Write for SharedOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs a whole session over `input` and returns the messages it wrote.
fn run_session(input: Vec<u8>) -> Vec<Value> {
    let output = SharedOutput::default();
    crate::session::serve(io::Cursor::new(input), output.clone()).expect("the session runs");
    let written = output.0.borrow().clone();
    let (frames, errors) = decode_in_pieces(&written, &[], usize::MAX);
    assert_eq!(errors, 0, "the session wrote a bad frame");
    frames
        .iter()
        .map(|frame| serde_json::from_slice(frame).expect("the session writes JSON"))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        max_frame in 0usize..512,
    ) {
        let _ = decode_in_pieces(&bytes, &cuts, max_frame);
    }

    #[test]
    fn header_like_bytes_never_panic_the_decoder(
        pieces in prop::collection::vec(
            prop_oneof![
                Just(b"Content-Length: ".to_vec()),
                Just(b"content-length:".to_vec()),
                Just(b"Content-Type: application/json".to_vec()),
                Just(b"\r\n".to_vec()),
                Just(b"\n\n".to_vec()),
                Just(b"\r\n\r\n".to_vec()),
                Just(b"{}".to_vec()),
                Just(b"99999999999999999999999".to_vec()),
                Just(b"-1".to_vec()),
                "[0-9]{1,3}".prop_map(String::into_bytes),
                prop::collection::vec(any::<u8>(), 0..8),
            ],
            0..40,
        ),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let bytes = pieces.concat();
        let _ = decode_in_pieces(&bytes, &cuts, 64);
    }

    /// Well-formed frames decode the same however the reads split them,
    /// and frames after garbage are still found.
    #[test]
    fn frames_survive_splits_and_garbage(
        bodies in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 1..6),
        garbage in prop::collection::vec(prop::sample::select(b"abc {}\x00\xff[]:".to_vec()), 0..32),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let mut bytes = garbage.clone();
        bytes.extend(b"\r\n");
        for body in &bodies {
            bytes.extend(encode(body));
        }
        let (frames, _) = decode_in_pieces(&bytes, &cuts, 1 << 20);
        prop_assert_eq!(&frames, &bodies);
    }

    #[test]
    fn arbitrary_frames_never_panic_the_protocol_decoder(
        body in prop::collection::vec(any::<u8>(), 0..512),
        value in any_json(),
        (command, arguments) in any_request(),
        seq in any::<i64>(),
    ) {
        let _ = protocol::decode(&body);
        let _ = protocol::decode(value.to_string().as_bytes());
        let request = json!({ "seq": seq, "type": "request", "command": command, "arguments": arguments });
        let _ = protocol::decode(request.to_string().as_bytes());
    }
}

proptest! {
    // Each case runs a whole session (a runtime and a reader thread).
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Arbitrary request sequences, with garbage between frames, through
    /// a whole session: it never panics, answers every request exactly
    /// once, and ends when the client closes its end.
    #[test]
    fn sessions_answer_every_request_once(
        initialize_first in any::<bool>(),
        requests in prop::collection::vec(any_request(), 0..16),
        // Garbage ends with a line break: bytes glued to the front of a
        // header make that header unreadable (and that frame is lost, with
        // an error), which is the codec tests' concern.
        garbage in prop::collection::vec("[^:\r\n]{0,6}\r\n", 16),
    ) {
        let mut input = Vec::new();
        let mut all = Vec::new();
        if initialize_first {
            all.push(("initialize".to_owned(), json!({ "adapterID": "fogbank" })));
        }
        all.extend(requests);
        let mut expected: HashMap<i64, String> = HashMap::new();
        for (index, (command, arguments)) in all.iter().enumerate() {
            let seq = index as i64 + 1;
            let message = json!({ "seq": seq, "type": "request", "command": command, "arguments": arguments });
            input.extend(encode(message.to_string().as_bytes()));
            input.extend(garbage[index % garbage.len()].as_bytes());
            expected.insert(seq, command.clone());
        }
        let messages = run_session(input);
        let mut answered: HashMap<i64, usize> = HashMap::new();
        for message in &messages {
            if message["type"] == "response" {
                let seq = message["request_seq"].as_i64().expect("request_seq");
                *answered.entry(seq).or_default() += 1;
                prop_assert!(message["success"].is_boolean(), "{}", message);
                if message["success"] == false {
                    prop_assert!(message["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", message);
                }
            }
        }
        // Requests after a disconnect are not read; all before it are
        // answered exactly once.
        let disconnect = all
            .iter()
            .position(|(command, _)| command == "disconnect")
            .map(|index| index as i64 + 1);
        for (seq, command) in &expected {
            if disconnect.is_some_and(|at| *seq > at) {
                continue;
            }
            prop_assert_eq!(answered.get(seq).copied(), Some(1), "{} (seq {}) in {:#?}", command, seq, messages);
        }
    }
}

#[test]
fn a_session_answers_garbage_with_console_messages() {
    let mut input = b"garbage\r\n".to_vec();
    input.extend(encode(
        br#"{"seq":1,"type":"request","command":"initialize","arguments":{"adapterID":"x"}}"#,
    ));
    input.extend(encode(b"not json"));
    input.extend(encode(
        br#"{"seq":2,"type":"request","command":"threads","arguments":{}}"#,
    ));
    let messages = run_session(input);
    let kinds: Vec<String> = messages
        .iter()
        .map(|m| {
            format!(
                "{} {}",
                m["type"].as_str().unwrap_or(""),
                m["command"].as_str().or(m["event"].as_str()).unwrap_or("")
            )
        })
        .collect();
    expect_test::expect![[r#"
        [
            "event output",
            "response initialize",
            "event output",
            "response threads",
        ]
    "#]]
    .assert_debug_eq(&kinds);
}
