//! fogbank-dap against Debian's gdbserver: attach with `"gdbserver"` and
//! `"program"`, function and line breakpoints, a stack of three frames,
//! variables, `next`, `stepOut`, memory, disassembly, and the exit.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::support::{self, Dap, STEP, line_of, variable};

/// The C fixture the RSP tests use too.
fn fixture_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("debugger_rsp/fixtures/target.c")
}

fn marker_line(name: &str) -> i64 {
    support::marker_line(&fixture_source(), name)
}

fn build_fixture(dir: &Path) -> PathBuf {
    let output = dir.join("target");
    fogbank_tests::compile_c(&fixture_source(), &output, &["-pthread"]);
    output
}

/// `gdbserver --once 127.0.0.1:0 program args`, and its port.
fn gdbserver(program: &Path, args: &[&str]) -> (Child, u16) {
    let gdbserver = Path::new("/usr/bin/gdbserver");
    assert!(
        gdbserver.exists(),
        "Debian's gdbserver is missing; install it: apt-get install gdbserver"
    );
    let mut child = Command::new(gdbserver)
        .args(["--once", "127.0.0.1:0"])
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start gdbserver");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("gdbserver output")
            .expect("read gdbserver output");
        if let Some(port) = line.strip_prefix("Listening on port ") {
            break port.trim().parse().unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, port)
}

#[test]
fn debugs_a_program_under_debians_gdbserver() {
    let dir = tempfile::tempdir().unwrap();
    let program = build_fixture(dir.path());
    let (mut server, port) = gdbserver(&program, &["normal"]);
    let source = fixture_source();

    let mut dap = Dap::start(dir.path());
    dap.initialize();
    let attach = dap.launch(
        "attach",
        json!({
            "type": "fogbank",
            "request": "attach",
            "gdbserver": format!("127.0.0.1:{port}"),
            "program": program,
        }),
    );
    let add_line = marker_line("add-body");
    let set = dap.set_breakpoints(&source, json!([{ "line": add_line }]));
    assert_eq!(set[0]["verified"], true, "{set:?}");
    assert_eq!(set[0]["line"], add_line);
    let functions = dap.client.request(
        "setFunctionBreakpoints",
        json!({ "breakpoints": [{ "name": "middle" }] }),
        STEP,
    );
    assert_eq!(functions["breakpoints"][0]["verified"], true, "{functions}");
    dap.client
        .request("setExceptionBreakpoints", json!({ "filters": [] }), STEP);
    dap.client.request("configurationDone", Value::Null, STEP);
    assert_eq!(dap.client.response(attach, STEP).message["success"], true);

    // The function breakpoint on middle(40).
    let stopped = dap.stopped(STEP);
    assert_eq!(stopped["reason"], "breakpoint", "{stopped}");
    let thread = stopped["threadId"].as_i64().unwrap();
    let frames = dap.stack(thread);
    assert_eq!(frames[0]["name"], "middle", "{frames:#?}");
    let frame = frames[0]["id"].as_i64().unwrap();
    assert_eq!(dap.evaluate(frame, "x")["result"], "40");

    // The line breakpoint in add(40, 2): three frames, arguments, a step.
    dap.client
        .request("continue", json!({ "threadId": thread }), STEP);
    let stopped = dap.stopped(STEP);
    assert_eq!(stopped["reason"], "breakpoint");
    let frames = dap.stack(thread);
    let names: Vec<&str> = frames.iter().filter_map(|f| f["name"].as_str()).collect();
    assert_eq!(&names[..3], ["add", "middle", "main"], "{frames:#?}");
    assert_eq!(frames[0]["line"], add_line);
    assert_eq!(frames[1]["line"], marker_line("middle-call"));
    assert_eq!(frames[2]["line"], marker_line("main-call"));
    let arguments = dap.scope_variables(frames[0]["id"].as_i64().unwrap(), "Arguments");
    assert_eq!(variable(&arguments, "a")["value"], "40");
    assert_eq!(variable(&arguments, "b")["value"], "2");
    let main_locals = dap.scope_variables(frames[2]["id"].as_i64().unwrap(), "Locals");
    assert!(
        main_locals.iter().any(|v| v["name"] == "mode"),
        "{main_locals:#?}"
    );
    let registers = dap.scope_variables(frames[0]["id"].as_i64().unwrap(), "Registers");
    assert!(
        registers.iter().any(|v| v["name"] == "rip"),
        "{registers:#?}"
    );

    dap.client
        .request("next", json!({ "threadId": thread }), STEP);
    assert_eq!(dap.stopped(STEP)["reason"], "step");
    let top = dap.stack(thread).remove(0);
    assert_eq!(top["line"], line_of(&source, "counter += sum;"));
    let frame = top["id"].as_i64().unwrap();
    assert_eq!(dap.evaluate(frame, "sum")["result"], "42");

    // Memory and disassembly around the stop.
    let counter = dap.evaluate(frame, "counter");
    let reference = counter["memoryReference"]
        .as_str()
        .expect("counter has an address")
        .to_owned();
    let memory = dap.client.request(
        "readMemory",
        json!({ "memoryReference": reference, "count": 4 }),
        STEP,
    );
    assert!(
        memory["data"].as_str().is_some_and(|data| !data.is_empty()),
        "{memory}"
    );
    let pc = top["instructionPointerReference"]
        .as_str()
        .unwrap()
        .to_owned();
    let disassembly = dap.client.request(
        "disassemble",
        json!({ "memoryReference": pc, "instructionOffset": -4, "instructionCount": 10, "resolveSymbols": true }),
        STEP,
    );
    let instructions = disassembly["instructions"].as_array().unwrap();
    assert_eq!(instructions.len(), 10);
    assert_eq!(instructions[4]["address"], pc, "{disassembly}");
    assert!(
        instructions.iter().any(|i| i["symbol"] == "add"),
        "{disassembly}"
    );

    dap.client
        .request("stepOut", json!({ "threadId": thread }), STEP);
    assert_eq!(dap.stopped(STEP)["reason"], "step");
    let caller = dap.stack(thread).remove(0);
    assert_eq!(caller["name"], "middle", "{caller}");
    assert_eq!(caller["line"], marker_line("middle-call"));

    // Run to the end.
    dap.client
        .request("continue", json!({ "threadId": thread }), STEP);
    let exited = dap.client.event("exited", STEP).message;
    assert_eq!(exited["body"]["exitCode"], 7, "{exited}");
    dap.client.event("terminated", STEP);
    dap.client.request("disconnect", json!({}), STEP);
    assert!(dap.client.wait_exit(Duration::from_secs(20)).is_some());
    let _ = server.wait();
}
