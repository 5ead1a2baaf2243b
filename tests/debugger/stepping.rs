//! `next` through fogbank-dap and fogbank-agent on a small C program:
//! over a recursive call (the step stays in its frame while deeper frames
//! pass the same code), out of a function through its return, and over
//! library calls without debug info.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use super::support::{self, Dap, STEP};

fn fixture_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("debugger/fixtures/steps.c")
}

fn marker_line(name: &str) -> i64 {
    support::marker_line(&fixture_source(), name)
}

fn build_fixture(dir: &Path) -> PathBuf {
    let output = dir.join("steps");
    fogbank_tests::compile_c(&fixture_source(), &output, &[]);
    output
}

/// `next`, then the top frame after the stop.
fn next(dap: &mut Dap, thread: i64) -> Value {
    dap.client
        .request("next", json!({ "threadId": thread }), STEP);
    let stopped = dap.stopped(STEP);
    assert_eq!(stopped["reason"], "step", "{stopped}");
    dap.stack(thread).remove(0)
}

fn evaluate(dap: &mut Dap, frame: &Value, expression: &str) -> Value {
    dap.evaluate(frame["id"].as_i64().unwrap(), expression)["result"].clone()
}

#[test]
fn next_steps_over_recursion_returns_and_code_without_debug_info() {
    let dir = tempfile::tempdir().unwrap();
    let program = build_fixture(dir.path());
    let source = fixture_source();
    let agent = fogbank_tests::workspace_binary("fogbank-agent", "fogbank-agent");

    let mut dap = Dap::start(dir.path());
    dap.initialize();
    let launch = dap.launch(
        "launch",
        json!({
            "type": "fogbank",
            "request": "launch",
            "name": "steps",
            "program": program,
            "agent": agent,
        }),
    );
    let set = dap.set_breakpoints(&source, json!([{ "line": marker_line("recurse") }]));
    assert_eq!(set[0]["verified"], true, "{set:?}");
    dap.client.request("configurationDone", Value::Null, STEP);
    assert_eq!(dap.client.response(launch, STEP).message["success"], true);

    // factorial(5) at the recursive call; without the breakpoint, the
    // deeper calls run through the same lines.
    let stopped = dap.stopped(STEP);
    assert_eq!(stopped["reason"], "breakpoint", "{stopped}");
    let thread = stopped["threadId"].as_i64().unwrap();
    let top = dap.stack(thread).remove(0);
    assert_eq!(evaluate(&mut dap, &top, "n"), "5");
    dap.set_breakpoints(&source, json!([]));

    let top = next(&mut dap, thread);
    assert_eq!(top["line"], marker_line("multiply"), "{top}");
    assert_eq!(top["name"], "factorial");
    assert_eq!(evaluate(&mut dap, &top, "n"), "5");
    assert_eq!(evaluate(&mut dap, &top, "below"), "24");
    let frames = dap.stack(thread);
    let depth = frames.iter().filter(|f| f["name"] == "factorial").count();
    assert_eq!(depth, 1, "{frames:#?}");

    let top = next(&mut dap, thread);
    assert_eq!(top["line"], marker_line("return"), "{top}");
    // The closing brace (the epilogue), then out through the return into
    // main's line of the call.
    let top = next(&mut dap, thread);
    assert_eq!(top["name"], "factorial", "{top}");
    assert_eq!(top["line"], marker_line("return") + 1, "{top}");
    let top = next(&mut dap, thread);
    assert_eq!(top["name"], "main", "{top}");
    assert_eq!(top["line"], marker_line("call"), "{top}");
    let top = next(&mut dap, thread);
    assert_eq!(top["line"], marker_line("print"), "{top}");
    assert_eq!(evaluate(&mut dap, &top, "value"), "120");
    // printf and fflush have no debug info here: stepped over.
    let top = next(&mut dap, thread);
    assert_eq!(top["line"], marker_line("flush"), "{top}");
    let top = next(&mut dap, thread);
    assert_eq!(top["name"], "main", "{top}");
    assert!(
        top["line"].as_i64().unwrap() > marker_line("flush"),
        "{top}"
    );
    dap.client.output_containing("value=120", STEP);

    dap.client
        .request("continue", json!({ "threadId": thread }), STEP);
    let exited = dap.client.event("exited", STEP).message;
    assert_eq!(exited["body"]["exitCode"], 0, "{exited}");
    dap.client.request("disconnect", json!({}), STEP);
    assert!(dap.client.wait_exit(Duration::from_secs(20)).is_some());
}
