//! Real gdb (Debian's gdb 13) debugging a program through fogbank-agent.

use std::process::Command;
use std::time::Duration;

use super::support::{Server, fixture, launch, marker_line};

#[test]
fn gdb_batch_breaks_backtraces_steps_and_finishes_through_the_agent() {
    let program = fixture(false);
    let running = launch(Server::Agent, &program, &["normal"]);
    let line = marker_line("add-body");
    let output = Command::new("gdb")
        .args(["--batch", "-nx"])
        .args(["-ex", "set confirm off"])
        .args(["-ex", &format!("target remote {}", running.addr)])
        .args(["-ex", &format!("break target.c:{line}")])
        .args(["-ex", "continue"])
        .args(["-ex", "backtrace"])
        .args(["-ex", "info threads"])
        .args(["-ex", "print a"])
        .args(["-ex", "print b"])
        .args(["-ex", "next"])
        .args(["-ex", "print sum"])
        .args(["-ex", "finish"])
        .args(["-ex", "continue"])
        .arg(&program)
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run gdb ({error}); install it: apt-get install gdb")
        });
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let expect = |needle: &str| {
        assert!(
            text.contains(needle),
            "gdb output lacks {needle:?}:\n{text}"
        )
    };
    expect("Breakpoint 1, add (a=40, b=2) at ");
    expect(&format!("target.c:{line}"));
    expect("#0  add (a=40, b=2) at ");
    expect(&format!(
        "in middle (x=40) at {}:{}",
        program_source_name(),
        marker_line("middle-call")
    ));
    expect("in main (argc=2, argv=");
    expect("$1 = 40");
    expect("$2 = 2");
    expect("$3 = 42");
    expect(&format!(
        "middle (x=40) at {}:{}",
        program_source_name(),
        marker_line("middle-call")
    ));
    expect("Value returned is $4 = 42");
    expect("exited with code 07");
    let (code, stdout) = running.finish(Duration::from_secs(10));
    assert_eq!(code, 7, "the agent exits like the program");
    assert!(
        stdout.contains("result=84 env=passed"),
        "program stdout {stdout:?}"
    );
}

/// The fixture's source path as gdb prints it in frames.
fn program_source_name() -> String {
    super::support::fixture_source().display().to_string()
}
