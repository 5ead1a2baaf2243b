//! Measures the symbols core on a real binary: the time to load an
//! executable and resolve one source breakpoint (what a debug session pays
//! before its first `setBreakpoints` answer), then the first
//! address-to-frames lookup and a function breakpoint.
//!
//! ```text
//! cargo run --release -p fogbank-dap --example symbols_bench -- \
//!     examples/hello-api/target/release/hello-api "$PWD/examples/hello-api/src/main.rs" 54 10
//! ```
//!
//! Compare with lldb on the same binary and line:
//! `hyperfine 'lldb-19 --batch -o "breakpoint set --file main.rs --line 54" BINARY'`.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use fogbank_dap::symbols::DebugInfo;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, binary, source, line, rest @ ..] = args.as_slice() else {
        bail!("usage: symbols_bench BINARY SOURCE_FILE LINE [RUNS]");
    };
    let line: u32 = line.parse().context("LINE must be a number")?;
    let runs: usize = match rest.first() {
        Some(runs) => runs.parse().context("RUNS must be a number")?,
        None => 10,
    };
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let info = DebugInfo::from_file(Path::new(binary))?;
        let breakpoint = info.resolve_line_breakpoint(source, line)?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
        last = Some((info, breakpoint));
    }
    let Some((info, breakpoint)) = last else {
        bail!("no run")
    };
    println!("breakpoint: {breakpoint:?}");
    times.sort_by(f64::total_cmp);
    println!(
        "load + resolve line breakpoint: median {:.1} ms, min {:.1} ms, max {:.1} ms ({} runs)",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
        times.len()
    );
    if let Some(address) = breakpoint.and_then(|bp| bp.addresses.first().copied()) {
        let start = Instant::now();
        let frames = info.frames_at(address)?;
        println!(
            "first frames_at (builds the address index): {:.1} ms, {} levels, innermost {:?}",
            start.elapsed().as_secs_f64() * 1e3,
            frames.len(),
            frames.first().and_then(|frame| frame.function.clone())
        );
    }
    let start = Instant::now();
    let functions = info.resolve_function_breakpoint("main")?;
    println!(
        "function breakpoint `main`: {:.1} ms, {} matches",
        start.elapsed().as_secs_f64() * 1e3,
        functions.len()
    );
    Ok(())
}
