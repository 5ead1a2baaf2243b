//! Benchmark helpers: wrk as the load generator, a bare hyper server as
//! the same-run baseline, and the table every benchmark prints.
//!
//! These machines are noisy, so a figure means little alone: each table
//! sets Fogbank's figure beside a baseline measured in the same run, with
//! the ratio.

use std::convert::Infallible;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// What one wrk run measured.
#[derive(Debug, Clone, Copy)]
pub struct LoadResult {
    pub requests_per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub requests: u64,
    /// Socket errors, timeouts and non-2xx/3xx responses.
    pub errors: u64,
}

/// A request wrk sends over and over.
pub struct LoadRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a str,
}

impl LoadRequest<'_> {
    pub fn get(path: &str) -> LoadRequest<'_> {
        LoadRequest {
            method: "GET",
            path,
            headers: &[],
            body: "",
        }
    }
}

/// Runs wrk against `address` with `connections` connections (one thread
/// per two connections, at most two) for `duration`.
pub fn wrk(
    address: SocketAddr,
    request: &LoadRequest<'_>,
    connections: u32,
    duration: Duration,
) -> LoadResult {
    let mut script = tempfile::NamedTempFile::new().expect("wrk script file");
    let headers: String = request
        .headers
        .iter()
        .map(|(name, value)| {
            format!(
                "wrk.headers[{}] = {}\n",
                lua_string(name),
                lua_string(value)
            )
        })
        .collect();
    write!(
        script,
        "wrk.method = {}\nwrk.body = {}\n{headers}",
        lua_string(request.method),
        lua_string(request.body)
    )
    .expect("write wrk script");
    let threads = connections.clamp(1, 2);
    let output = Command::new("wrk")
        .arg(format!("-t{threads}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{}s", duration.as_secs().max(1)))
        .arg("--latency")
        .arg("-s")
        .arg(script.path())
        .arg(format!("http://{address}{}", request.path))
        .output()
        .unwrap_or_else(|e| panic!("wrk is needed for benchmarks ({e}): apt-get install wrk"));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse_wrk(&text).unwrap_or_else(|| panic!("unexpected wrk output:\n{text}"))
}

fn lua_string(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// Parses wrk's `--latency` report.
pub fn parse_wrk(text: &str) -> Option<LoadResult> {
    let mut p50 = None;
    let mut p99 = None;
    let mut requests = None;
    let mut rps = None;
    let mut errors = 0u64;
    for line in text.lines() {
        let line = line.trim();
        let mut words = line.split_whitespace();
        match words.next() {
            Some("50%") => p50 = words.next().and_then(parse_duration),
            Some("99%") => p99 = words.next().and_then(parse_duration),
            Some("Requests/sec:") => rps = words.next().and_then(|w| w.parse().ok()),
            Some("Non-2xx") => {
                errors += line
                    .rsplit(' ')
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0)
            }
            Some("Socket") => {
                // "Socket errors: connect 0, read 0, write 0, timeout 0"
                errors += line
                    .split(',')
                    .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
        if let Some(count) = line
            .split(" requests in ")
            .next()
            .filter(|_| line.contains(" requests in "))
        {
            requests = count.trim().parse().ok();
        }
    }
    Some(LoadResult {
        requests_per_second: rps?,
        p50: p50?,
        p99: p99?,
        requests: requests?,
        errors,
    })
}

fn parse_duration(text: &str) -> Option<Duration> {
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        return None;
    };
    let value: f64 = number.parse().ok()?;
    Some(Duration::from_secs_f64(value * factor))
}

/// Serves a fixed 200 response with hyper: the ceiling for one HTTP hop on
/// this machine. Runs on a current-thread runtime in its own thread, so it
/// competes for CPU like a separate server process would.
pub fn spawn_bare_hyper_server() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let service = service_fn(|_request: Request<hyper::body::Incoming>| async {
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                            b"{\"ok\":true}",
                        ))))
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    address
}

/// A benchmark table: rows of named figures with their baseline.
pub struct Table {
    title: String,
    rows: Vec<[String; 5]>,
}

impl Table {
    pub fn new(title: &str) -> Table {
        Table {
            title: title.to_owned(),
            rows: Vec::new(),
        }
    }

    /// A row comparing a throughput (higher is better) with its baseline.
    pub fn throughput(&mut self, what: &str, ours: f64, baseline_name: &str, baseline: f64) {
        self.rows.push([
            what.to_owned(),
            format!("{ours:.0}/s"),
            baseline_name.to_owned(),
            format!("{baseline:.0}/s"),
            format!("{:.2}x", ours / baseline),
        ]);
    }

    /// A row comparing a latency (lower is better) with its baseline.
    pub fn latency(&mut self, what: &str, ours: Duration, baseline_name: &str, baseline: Duration) {
        self.rows.push([
            what.to_owned(),
            format_duration(ours),
            baseline_name.to_owned(),
            format_duration(baseline),
            format!(
                "{:.2}x",
                ours.as_secs_f64() / baseline.as_secs_f64().max(1e-9)
            ),
        ]);
    }

    /// A row with a figure and a free-form comparison.
    pub fn row(
        &mut self,
        what: &str,
        ours: String,
        baseline_name: &str,
        baseline: String,
        ratio: String,
    ) {
        self.rows.push([
            what.to_owned(),
            ours,
            baseline_name.to_owned(),
            baseline,
            ratio,
        ]);
    }

    /// The table as Markdown.
    pub fn render(&self) -> String {
        let mut out = format!(
            "### {}\n\n| measure | fogbank | baseline | baseline figure | ratio |\n|---|---:|---|---:|---:|\n",
            self.title
        );
        for row in &self.rows {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                row[0], row[1], row[2], row[3], row[4]
            ));
        }
        out
    }
}

pub fn format_duration(duration: Duration) -> String {
    let micros = duration.as_secs_f64() * 1e6;
    if micros < 1000.0 {
        format!("{micros:.0} µs")
    } else if micros < 1e6 {
        format!("{:.2} ms", micros / 1000.0)
    } else {
        format!("{:.2} s", micros / 1e6)
    }
}

/// The median of `samples` (zero when there are none).
pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

/// A Runtime API that answers every `next` with `event` (and a deadline an
/// hour away) and accepts every response: enough for a Lambda runtime
/// client to run its handler in a loop, with nothing of fogbank's in the
/// way. Serves until the process exits.
pub fn spawn_looping_runtime_api(event: String) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the Runtime API");
    let address = listener.local_addr().expect("address");
    let event = std::sync::Arc::new(event);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let event = event.clone();
            std::thread::spawn(move || serve_looping_runtime_api(stream, &event));
        }
    });
    address
}

fn serve_looping_runtime_api(stream: TcpStream, event: &str) {
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(stream) => stream,
        Err(_) => return,
    });
    let mut writer = stream;
    let mut count = 0u64;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let answer = if request_line.starts_with("GET ")
            && request_line.contains("/invocation/next")
        {
            count += 1;
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() + 3_600_000)
                .unwrap_or(0);
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nlambda-runtime-aws-request-id: bench-{count}\r\n\
                 lambda-runtime-deadline-ms: {deadline}\r\n\
                 lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:HelloFunction\r\n\
                 lambda-runtime-trace-id: Root=1-00000000-000000000000000000000000\r\n\
                 content-length: {}\r\n\r\n{event}",
                event.len()
            )
        } else {
            "HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 16\r\n\r\n{\"status\":\"OK\"}\n"
                .to_owned()
        };
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_reports_are_parsed() {
        let text = "Running 2s test @ http://127.0.0.1:3001/\n  2 threads and 8 connections\n  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency   100.00us   20.00us   1.00ms   90.00%\n  Latency Distribution\n     50%  95.00us\n     75%  110.00us\n     90%  130.00us\n     99%    1.20ms\n  20000 requests in 2.00s, 3.00MB read\n  Socket errors: connect 0, read 1, write 0, timeout 2\n  Non-2xx or 3xx responses: 4\nRequests/sec:  10000.00\nTransfer/sec:      1.50MB\n";
        let result = parse_wrk(text).unwrap();
        assert_eq!(result.requests, 20000);
        assert_eq!(result.errors, 7);
        assert!((result.requests_per_second - 10000.0).abs() < 1e-6);
        assert_eq!(result.p50, Duration::from_micros(95));
        assert_eq!(result.p99, Duration::from_micros(1200));
    }
}
