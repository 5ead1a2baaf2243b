//! reload-bench: hot reload on each example, from the save to the first
//! response of the new version, with the build time (from fogbank's reload
//! line) reported apart from the rest (detection, debounce, swap, the new
//! instance's start), beside `cargo lambda watch --release` doing the same
//! on the Rust example. A client polls back to back through every reload
//! and counts failed requests.
//!
//! `cargo run -p fogbank-tests --bin reload-bench [-- ROUNDS RUST_ROUNDS]`
//! (defaults 10 and 3). cargo-lambda is looked up at ~/.cargo/bin.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use fogbank_tests::bench::{Table, format_duration};
use fogbank_tests::{Fogbank, StartOptions, copy_dir, example};

/// One example under test: which file to edit and how to mark versions.
struct Subject {
    example: &'static str,
    function: &'static str,
    file: &'static str,
    /// The text in the original file that becomes the version marker.
    original: &'static str,
    /// The marker's source form for version `k`.
    marker: fn(u32) -> String,
    path: &'static str,
}

fn python() -> Subject {
    Subject {
        example: "python-api",
        function: "HelloWorldFunction",
        file: "hello_world/app.py",
        original: r#"os.environ.get("GREETING", "hello world")"#,
        marker: |k| format!("\"rv{k}x\""),
        path: "/hello",
    }
}

fn node() -> Subject {
    Subject {
        example: "node-api",
        function: "HelloFunction",
        file: "src/app.mjs",
        original: "`${greeting}, ${name}!`",
        marker: |k| format!("'rv{k}x'"),
        path: "/hello/Ada",
    }
}

fn rust() -> Subject {
    Subject {
        example: "hello-api",
        function: "HelloFunction",
        file: "src/main.rs",
        original: r#"format!("Hello, {name}!")"#,
        marker: |k| format!("format!(\"rv{k}x {{name}}\")"),
        path: "/hello/Ada",
    }
}

/// Figures of one round.
struct Round {
    total: Duration,
    build: Option<Duration>,
}

/// The result of polling until the new version answers.
struct Poll {
    elapsed: Duration,
    /// What each failed request got.
    failures: Vec<String>,
}

/// Sends `request` on a new connection and returns (status, body).
fn exchange(address: SocketAddr, request: &[u8], timeout: Duration) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.write_all(request)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("not an HTTP response: {text:?}"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Polls back to back until a 200 response contains `marker`; every
/// error or non-200 answer on the way counts as a failed request.
fn poll_until(address: SocketAddr, request: &[u8], marker: &str, within: Duration) -> Result<Poll> {
    let started = Instant::now();
    let mut failures = Vec::new();
    loop {
        if started.elapsed() > within {
            bail!("no response with {marker} within {within:?}");
        }
        match exchange(address, request, Duration::from_secs(300)) {
            Ok((200, body)) if body.contains(marker) => {
                return Ok(Poll {
                    elapsed: started.elapsed(),
                    failures,
                });
            }
            Ok((200, _)) => {}
            Ok((status, body)) => failures.push(format!(
                "{status} {}",
                body.chars().take(200).collect::<String>()
            )),
            Err(error) => failures.push(format!("{error:#}")),
        }
    }
}

fn get(address: SocketAddr, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").into_bytes()
}

/// Replaces the marker of version `from` with that of `to`.
fn save(file: &Path, subject: &Subject, from: u32, to: u32) -> Result<()> {
    let text = std::fs::read_to_string(file)?;
    let old = if from == 0 {
        subject.original.to_owned()
    } else {
        (subject.marker)(from)
    };
    if !text.contains(&old) {
        bail!("{} does not contain {old}", file.display());
    }
    std::fs::write(file, text.replacen(&old, &(subject.marker)(to), 1))?;
    Ok(())
}

/// `1.84 s` or `84 ms`, as the reload line prints them.
fn parse_build_time(text: &str) -> Option<Duration> {
    let (number, unit) = text.trim().split_once(' ')?;
    let value: f64 = number.parse().ok()?;
    match unit {
        "s" => Some(Duration::from_secs_f64(value)),
        "ms" => Some(Duration::from_secs_f64(value / 1000.0)),
        _ => None,
    }
}

/// The build time of the `nth` reload line for `function`.
fn build_time(output: &str, function: &str, nth: usize) -> Option<Duration> {
    let prefix = format!("reloaded {function}");
    let line = output.lines().filter(|l| l.starts_with(&prefix)).nth(nth)?;
    let inside = line.split_once("(build ")?.1;
    parse_build_time(inside.split_once(',')?.0)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// Runs `rounds` reloads of `subject` under fogbank.
fn measure_fogbank(
    subject: &Subject,
    rounds: u32,
    env: &[(&str, String)],
) -> Result<(Vec<Round>, Vec<String>)> {
    let dir = copy_dir(&example(subject.example));
    let file = dir.path().join(subject.file);
    // Version 1 is served from the start.
    save(&file, subject, 0, 1)?;
    let template = dir.path().join("template.yaml");
    let mut options = StartOptions::new(&template);
    options.env = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let fogbank = Fogbank::start_with(options);
    let gateway = fogbank.gateway.context("fogbank serves no gateway")?;
    let request = get(gateway, subject.path);
    // Requests before the first reload (the first cold start) are not
    // reload failures; they are still reported.
    let warmup = poll_until(gateway, &request, "rv1x", Duration::from_secs(60))?;
    for failure in &warmup.failures {
        eprintln!("{}: before any reload: {failure}", subject.example);
    }
    let mut failed = Vec::new();
    let mut results = Vec::new();
    for round in 0..rounds {
        let (from, to) = (round + 1, round + 2);
        // Quiet time between saves, as between a developer's edits.
        std::thread::sleep(Duration::from_millis(300));
        save(&file, subject, from, to)?;
        let poll = poll_until(
            gateway,
            &request,
            &format!("rv{to}x"),
            Duration::from_secs(600),
        )?;
        failed.extend(poll.failures);
        // The reload line is printed right after the swap; give the
        // console a moment to flush it.
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut build = None;
        while build.is_none() && Instant::now() < deadline {
            build = build_time(&fogbank.output(), subject.function, round as usize);
            std::thread::sleep(Duration::from_millis(10));
        }
        results.push(Round {
            total: poll.elapsed,
            build,
        });
    }
    Ok((results, failed))
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // The watcher runs the function as a child: stop the whole group.
        fogbank_tests::signal::to_group(self.0.id(), fogbank_tests::signal::Signal::SIGTERM);
        let _ = self.0.wait();
    }
}

/// Runs `rounds` reloads of the Rust example under `cargo lambda watch
/// --release`, through its Invoke API with the example's hello event.
fn measure_cargo_lambda(
    subject: &Subject,
    rounds: u32,
    target_dir: &str,
) -> Result<(Vec<Duration>, usize)> {
    let cargo_lambda = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".cargo/bin/cargo-lambda"))
        .filter(|p| p.is_file())
        .ok_or_else(|| {
            anyhow!("cargo-lambda is not installed (cargo install cargo-lambda --locked)")
        })?;
    let dir = copy_dir(&example(subject.example));
    let file = dir.path().join(subject.file);
    save(&file, subject, 0, 1)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new(&cargo_lambda)
        .process_group(0)
        .args([
            "lambda",
            "watch",
            "--release",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
        ])
        .arg(port.to_string())
        .current_dir(dir.path())
        .env("CARGO_TARGET_DIR", target_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting cargo lambda watch")?;
    let _guard = KillOnDrop(child);
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let event = std::fs::read_to_string(dir.path().join("events/hello.json"))?;
    let request = format!(
        "POST /2015-03-31/functions/hello-api/invocations HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{event}",
        event.len()
    )
    .into_bytes();
    let deadline = Instant::now() + Duration::from_secs(900);
    while TcpStream::connect(address).is_err() {
        if Instant::now() > deadline {
            bail!("cargo lambda watch did not listen within 15 minutes");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // The first invocation compiles and starts the function.
    let mut failed = 0;
    poll_until(address, &request, "rv1x", Duration::from_secs(900))?;
    let mut totals = Vec::new();
    for round in 0..rounds {
        let (from, to) = (round + 1, round + 2);
        std::thread::sleep(Duration::from_millis(300));
        save(&file, subject, from, to)?;
        let poll = poll_until(
            address,
            &request,
            &format!("rv{to}x"),
            Duration::from_secs(600),
        )?;
        failed += poll.failures.len();
        totals.push(poll.elapsed);
    }
    Ok((totals, failed))
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let rounds: u32 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(10);
    let rust_rounds: u32 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3);
    // Both tools build the edited copies of the Rust example into one
    // target directory kept between runs, so after the first run neither
    // pays for compiling its dependencies. It must not be the example's own
    // `target/`: cargo's fingerprints do not depend on where a package
    // lies, so the last edited copy's binary would look up to date to a
    // later build of the unedited example.
    let target_dir = fogbank_tests::target_dir()
        .join("reload-bench")
        .display()
        .to_string();

    let mut table = Table::new("Hot reload: save to the first response of the new version (p50)");
    let mut failures = Vec::new();
    for subject in [python(), node()] {
        let (results, failed) = measure_fogbank(&subject, rounds, &[])?;
        let failed_count = failed.len();
        failures.extend(
            failed
                .into_iter()
                .map(|f| format!("{}: {f}", subject.example)),
        );
        let total = median(results.iter().map(|r| r.total).collect());
        let build = median(results.iter().filter_map(|r| r.build).collect());
        let overhead = median(
            results
                .iter()
                .map(|r| r.total.saturating_sub(r.build.unwrap_or_default()))
                .collect(),
        );
        table.row(
            &format!("{}: save to new response", subject.example),
            format_duration(total),
            "",
            String::new(),
            String::new(),
        );
        table.row(
            &format!("{}: build (syntax check, copy)", subject.example),
            format_duration(build),
            "",
            String::new(),
            String::new(),
        );
        table.latency(
            &format!("{}: swap overhead (total - build)", subject.example),
            overhead,
            "target",
            Duration::from_millis(150),
        );
        table.row(
            &format!("{}: failed requests in {rounds} reloads", subject.example),
            failed_count.to_string(),
            "target",
            "0".to_owned(),
            String::new(),
        );
    }
    if rust_rounds == 0 {
        println!("{}", table.render());
        return report(&failures);
    }
    let subject = rust();
    let (results, failed) = measure_fogbank(
        &subject,
        rust_rounds,
        &[("CARGO_TARGET_DIR", target_dir.clone())],
    )?;
    let failed_count = failed.len();
    failures.extend(
        failed
            .into_iter()
            .map(|f| format!("{}: {f}", subject.example)),
    );
    let total = median(results.iter().map(|r| r.total).collect());
    let build = median(results.iter().filter_map(|r| r.build).collect());
    let overhead = median(
        results
            .iter()
            .map(|r| r.total.saturating_sub(r.build.unwrap_or_default()))
            .collect(),
    );
    let skip_cargo_lambda = std::env::var_os("RELOAD_BENCH_SKIP_CARGO_LAMBDA").is_some();
    let cargo_lambda = if skip_cargo_lambda {
        Err(anyhow!("skipped (RELOAD_BENCH_SKIP_CARGO_LAMBDA)"))
    } else {
        measure_cargo_lambda(&subject, rust_rounds, &target_dir)
    };
    match cargo_lambda {
        Ok((theirs, their_failed)) => {
            table.latency(
                "hello-api: save to new response",
                total,
                "cargo lambda watch --release",
                median(theirs),
            );
            table.row(
                &format!("hello-api: failed requests in {rust_rounds} reloads"),
                failed_count.to_string(),
                "cargo lambda watch --release",
                their_failed.to_string(),
                String::new(),
            );
        }
        Err(error) => {
            table.row(
                "hello-api: save to new response",
                format_duration(total),
                "cargo lambda watch (not run)",
                error.to_string(),
                String::new(),
            );
        }
    }
    table.row(
        "hello-api: build (cargo build --release)",
        format_duration(build),
        "",
        String::new(),
        String::new(),
    );
    table.row(
        "hello-api: swap overhead (total - build)",
        format_duration(overhead),
        "",
        String::new(),
        String::new(),
    );
    println!("{}", table.render());
    report(&failures)
}

/// Lists the requests that failed during reloads; any is an error.
fn report(failures: &[String]) -> Result<()> {
    for failure in failures {
        println!("failed during a reload: {failure}");
    }
    if !failures.is_empty() {
        bail!("{} requests failed during reloads", failures.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reload_lines_are_read() {
        let output = "x\nreloaded HelloFunction (build 1.84 s, swap 12 ms)\nreloaded HelloFunction (build 84 ms, swap 1 ms)\n";
        assert_eq!(
            build_time(output, "HelloFunction", 0),
            Some(Duration::from_millis(1840))
        );
        assert_eq!(
            build_time(output, "HelloFunction", 1),
            Some(Duration::from_millis(84))
        );
        assert_eq!(build_time(output, "HelloFunction", 2), None);
        assert_eq!(build_time(output, "Other", 0), None);
    }
}
