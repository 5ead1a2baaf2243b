//! In-place mode's view of the invocations a function runs: a small proxy
//! between the function's runtime client and the sandbox's Lambda Runtime
//! API, which notes each invocation's request ID and deadline as it passes.
//!
//! Why: in place, the function talks to the sandbox's Runtime API directly,
//! so neither the agent nor the developer's adapter would otherwise know
//! which invocation a stopped program runs, or how long the cloud still
//! waits for it. The cloud's clock does not stop at a breakpoint. The
//! adapter asks with the monitor command [`MONITOR_COMMAND`] at each stop
//! and warns the developer before the deadline.
//!
//! The proxy passes every request and response on unchanged, one exchange
//! per connection (`Connection: close` both ways; clients open a new
//! connection for the next request). It reads each message whole before
//! passing it on, so a streamed response reaches the Runtime API at its end
//! (in-place debugging is not the place for streaming's latency). It runs on threads of its own, which
//! never touch the traced process, so it keeps serving while the program is
//! stopped or after the debugger left. Started after the agent blocked
//! SIGCHLD (see `wakeup`), its threads inherit that mask.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};

use crate::http::{self, HttpError, RawRequest, Response};

/// The `monitor` command that lists the running invocations
/// (`qRcmd`, e.g. `monitor fogbank invocation` in gdb).
pub const MONITOR_COMMAND: &str = "fogbank invocation";

/// The Runtime API path every invocation request starts with.
const INVOCATION_PREFIX: &str = "/2018-06-01/runtime/invocation/";

/// How long the accept loop pauses after a failed accept.
const ACCEPT_BACKOFF: std::time::Duration = std::time::Duration::from_millis(50);

/// How long a runtime client may stay silent within one request: a
/// streamed response may pause for as long as the function runs (at most
/// 15 minutes on Lambda).
const CLIENT_IDLE_LIMIT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Most invocations kept at once: a sandbox runs one at a time (a few with
/// managed-instance concurrency); more means responses were never seen.
const MAX_TRACKED: usize = 64;

/// An invocation the function took and has not answered yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// Its `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// Its `Lambda-Runtime-Deadline-Ms` (epoch milliseconds), if sent.
    pub deadline_ms: Option<u64>,
}

/// The invocations in progress, shared by the proxy and the gdb target.
#[derive(Debug, Default)]
pub struct Invocations {
    running: Mutex<Vec<Invocation>>,
}

impl Invocations {
    /// Notes what one exchange tells: `next` hands out an invocation, a
    /// response or error ends one.
    pub fn observe(&self, method: &str, path: &str, response: &Response) {
        let Some(rest) = path
            .split('?')
            .next()
            .and_then(|path| path.strip_prefix(INVOCATION_PREFIX))
        else {
            return;
        };
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if method == "GET" && rest == "next" && response.status == 200 {
            let Some(request_id) = response.header("lambda-runtime-aws-request-id") else {
                return;
            };
            running.retain(|invocation| invocation.request_id != request_id);
            if running.len() >= MAX_TRACKED {
                running.remove(0);
            }
            running.push(Invocation {
                request_id: request_id.to_owned(),
                deadline_ms: response
                    .header("lambda-runtime-deadline-ms")
                    .and_then(|value| value.trim().parse().ok()),
            });
            return;
        }
        let answered = rest
            .strip_suffix("/response")
            .or_else(|| rest.strip_suffix("/error"));
        if let Some(request_id) = answered
            && method == "POST"
            && (200..300).contains(&response.status)
        {
            running.retain(|invocation| invocation.request_id != request_id);
        }
    }

    /// The invocations in progress, oldest first.
    pub fn running(&self) -> Vec<Invocation> {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The monitor command's answer: one line per invocation in progress,
/// `invocation REQUEST_ID REMAINING_MS` (negative once the deadline passed;
/// `-` when the Runtime API sent no deadline). No invocation, no lines.
pub fn describe(invocations: &[Invocation], now_ms: u64) -> String {
    invocations
        .iter()
        .map(|invocation| {
            let remaining = invocation.deadline_ms.map_or_else(
                || "-".to_owned(),
                |deadline| (i128::from(deadline) - i128::from(now_ms)).to_string(),
            );
            format!("invocation {} {remaining}\n", invocation.request_id)
        })
        .collect()
}

/// The proxy's listening socket, bound before the function starts so that
/// its address can go into the function's `AWS_LAMBDA_RUNTIME_API`.
#[derive(Debug)]
pub struct RuntimeWatch {
    listener: TcpListener,
    upstream: String,
}

impl RuntimeWatch {
    /// Binds a loopback port for a proxy to the Runtime API at `upstream`
    /// (`host:port`, the sandbox's `AWS_LAMBDA_RUNTIME_API`).
    pub fn bind(upstream: &str) -> std::io::Result<RuntimeWatch> {
        Ok(RuntimeWatch {
            listener: TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?,
            upstream: upstream.to_owned(),
        })
    }

    /// The address to give the function as its Runtime API.
    pub fn address(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves on threads of its own for the rest of the agent's life.
    pub fn serve(self, invocations: Arc<Invocations>) -> std::io::Result<()> {
        std::thread::Builder::new()
            .name("runtime-watch".to_owned())
            .spawn(move || {
                for client in self.listener.incoming() {
                    let client = match client {
                        Ok(client) => client,
                        Err(error) => {
                            // Out of descriptors, say: pause instead of
                            // spinning on the error.
                            tracing::warn!(%error, "the Runtime API proxy cannot accept");
                            std::thread::sleep(ACCEPT_BACKOFF);
                            continue;
                        }
                    };
                    let upstream = self.upstream.clone();
                    let invocations = invocations.clone();
                    // One thread per connection: `next` blocks until an
                    // invocation comes, which may be a long time.
                    let spawned = std::thread::Builder::new()
                        .name("runtime-watch-exchange".to_owned())
                        .spawn(move || pass_on(client, &upstream, &invocations));
                    if let Err(error) = spawned {
                        tracing::warn!(%error, "cannot start a Runtime API proxy thread");
                    }
                }
            })
            .map(drop)
    }
}

/// Passes one request from the function's runtime client to the Runtime API
/// and the response back, noting what it says about invocations.
fn pass_on(mut client: TcpStream, upstream: &str, invocations: &Invocations) {
    let _ = client.set_nodelay(true);
    // A client that goes quiet mid-request does not hold a thread forever.
    let _ = client.set_read_timeout(Some(CLIENT_IDLE_LIMIT));
    let response = match read_request(&mut client) {
        Ok(Some(request)) => forward(&request, upstream, invocations),
        // The client closed without asking anything.
        Ok(None) => return,
        Err(error) => failure(400, &error),
    };
    let _ = client.write_all(&http::encode_response(&response));
    let _ = client.flush();
}

fn forward(request: &RawRequest, upstream: &str, invocations: &Invocations) -> Response {
    // No read timeout: `next` waits for the next invocation.
    match http::exchange(upstream, &http::encode_request(request, upstream), None) {
        Ok(response) => {
            invocations.observe(&request.method, &request.path, &response);
            response
        }
        Err(error) => {
            tracing::warn!(%error, path = %request.path, "the Runtime API did not answer");
            failure(502, &error)
        }
    }
}

fn read_request(client: &mut TcpStream) -> Result<Option<RawRequest>, HttpError> {
    let mut received = Vec::with_capacity(4096);
    let mut buffer = [0u8; 16 * 1024];
    let mut continued = false;
    loop {
        if http::may_be_complete(&received)
            && let Some(request) = http::parse_request(&received, false)?
        {
            return Ok(Some(request));
        }
        // The body is read whole before it goes upstream, so the proxy
        // itself tells the client to send it.
        if !continued && http::expects_continue(&received) {
            continued = true;
            let _ = client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        match client.read(&mut buffer) {
            Ok(0) if received.is_empty() => return Ok(None),
            Ok(0) => return http::parse_request(&received, true),
            Ok(count) => received.extend_from_slice(&buffer[..count]),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => {
                return Err(HttpError::Io {
                    address: "the function's runtime client".to_owned(),
                    source: error,
                });
            }
        }
    }
}

/// The proxy's own answer when it cannot pass an exchange on, in the
/// Runtime API's error shape.
fn failure(status: u16, error: &HttpError) -> Response {
    let message = format!("fogbank-agent's Runtime API proxy: {error}");
    let body = format!(
        "{{\"errorMessage\":{},\"errorType\":\"Fogbank.RuntimeApiProxy\"}}",
        crate::forward::json_string(&message)
    );
    Response {
        status,
        headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
        body: body.into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)]) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            body: Vec::new(),
        }
    }

    /// Runs exchanges (method, path, status, request id, deadline) through
    /// a fresh watch and renders what it reports at `now_ms` 1000.
    fn check(exchanges: &[(&str, &str, u16, &str, &str)], expected: &str) {
        let invocations = Invocations::default();
        for (method, path, status, request_id, deadline) in exchanges {
            let mut headers = Vec::new();
            if !request_id.is_empty() {
                headers.push(("Lambda-Runtime-Aws-Request-Id", *request_id));
            }
            if !deadline.is_empty() {
                headers.push(("Lambda-Runtime-Deadline-Ms", *deadline));
            }
            invocations.observe(method, path, &response(*status, &headers));
        }
        assert_eq!(describe(&invocations.running(), 1000), expected);
    }

    const NEXT: &str = "/2018-06-01/runtime/invocation/next";

    #[test]
    fn the_watch_follows_invocations_through_the_runtime_api() {
        check(&[], "");
        check(&[("GET", NEXT, 200, "r1", "4500")], "invocation r1 3500\n");
        check(
            &[
                ("GET", NEXT, 200, "r1", "4500"),
                (
                    "POST",
                    "/2018-06-01/runtime/invocation/r1/response",
                    202,
                    "",
                    "",
                ),
            ],
            "",
        );
        check(
            &[
                ("GET", NEXT, 200, "r1", "900"),
                (
                    "POST",
                    "/2018-06-01/runtime/invocation/r1/error",
                    202,
                    "",
                    "",
                ),
                ("GET", NEXT, 200, "r2", "900"),
            ],
            "invocation r2 -100\n",
        );
        // A refused answer (too large) leaves the invocation running: the
        // runtime client reports an error next.
        check(
            &[
                ("GET", NEXT, 200, "r1", "4500"),
                (
                    "POST",
                    "/2018-06-01/runtime/invocation/r1/response",
                    413,
                    "",
                    "",
                ),
            ],
            "invocation r1 3500\n",
        );
        check(&[("GET", NEXT, 200, "r1", "")], "invocation r1 -\n");
        check(&[("GET", NEXT, 200, "r1", "soon")], "invocation r1 -\n");
        check(&[("GET", NEXT, 500, "r1", "4500")], "");
        check(&[("GET", NEXT, 200, "", "4500")], "");
        check(
            &[("POST", "/2018-06-01/runtime/init/error", 202, "", "")],
            "",
        );
        // Concurrent invocations (managed instances) are listed in order.
        check(
            &[
                ("GET", NEXT, 200, "r1", "4500"),
                ("GET", NEXT, 200, "r2", "5500"),
                (
                    "POST",
                    "/2018-06-01/runtime/invocation/r1/response",
                    202,
                    "",
                    "",
                ),
                ("GET", NEXT, 200, "r3", "2000"),
            ],
            "invocation r2 4500\ninvocation r3 1000\n",
        );
        check(&[("GET", "/other/next", 200, "r1", "4500")], "");
    }

    #[test]
    fn the_watch_keeps_a_bounded_list() {
        let invocations = Invocations::default();
        for index in 0..(MAX_TRACKED + 10) {
            let id = format!("r{index}");
            invocations.observe(
                "GET",
                NEXT,
                &response(200, &[("Lambda-Runtime-Aws-Request-Id", &id)]),
            );
        }
        let running = invocations.running();
        assert_eq!(running.len(), MAX_TRACKED);
        assert_eq!(running[0].request_id, "r10");
    }

    /// A real exchange through the proxy against a tiny Runtime API on a
    /// thread: the function's requests and the API's responses pass
    /// unchanged, and the watch sees the invocation come and go.
    #[test]
    fn the_proxy_passes_exchanges_on_and_notes_the_invocation() {
        let api = TcpListener::bind("127.0.0.1:0").unwrap();
        let api_address = api.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for _ in 0..2 {
                let (mut stream, _) = api.accept().unwrap();
                let request = read_request(&mut stream).unwrap().unwrap();
                seen.push(format!(
                    "{} {} {}",
                    request.method,
                    request.path,
                    String::from_utf8_lossy(&request.body)
                ));
                let answer: &[u8] = if request.method == "GET" {
                    b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r7\r\nLambda-Runtime-Deadline-Ms: 99999999999999\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n{\"a\":1}\r\n0\r\n\r\n"
                } else {
                    b"HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n"
                };
                stream.write_all(answer).unwrap();
            }
            seen
        });
        let watch = RuntimeWatch::bind(&api_address).unwrap();
        let proxy = watch.address().unwrap().to_string();
        let invocations = Arc::new(Invocations::default());
        watch.serve(invocations.clone()).unwrap();

        let next = http::request(&proxy, "GET", NEXT, &[], &[], None).unwrap();
        assert_eq!(next.status, 200);
        assert_eq!(next.body, b"{\"a\":1}");
        assert_eq!(next.header("lambda-runtime-aws-request-id"), Some("r7"));
        let running = invocations.running();
        assert_eq!(running.len(), 1);
        assert_eq!(running[0].deadline_ms, Some(99_999_999_999_999));

        let answer = http::request(
            &proxy,
            "POST",
            "/2018-06-01/runtime/invocation/r7/response",
            &[],
            b"\"done\"",
            None,
        )
        .unwrap();
        assert_eq!(answer.status, 202);
        assert_eq!(answer.body, b"{\"status\":\"OK\"}\n");
        assert!(invocations.running().is_empty());
        assert_eq!(
            server.join().unwrap(),
            vec![
                format!("GET {NEXT} "),
                "POST /2018-06-01/runtime/invocation/r7/response \"done\"".to_owned(),
            ]
        );
    }

    /// curl (awslambdaric's client) asks for `100 Continue` before a large
    /// body; the proxy answers it itself and sends the body on whole.
    #[test]
    fn a_client_expecting_100_continue_gets_it_from_the_proxy() {
        let api = TcpListener::bind("127.0.0.1:0").unwrap();
        let api_address = api.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = api.accept().unwrap();
            let request = read_request(&mut stream).unwrap().unwrap();
            stream
                .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
            (request.header("expect").map(str::to_owned), request.body)
        });
        let watch = RuntimeWatch::bind(&api_address).unwrap();
        let proxy = watch.address().unwrap();
        watch.serve(Arc::new(Invocations::default())).unwrap();
        let mut client = TcpStream::connect(proxy).unwrap();
        client
            .write_all(b"POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
            .unwrap();
        let mut interim = [0u8; 25];
        client.read_exact(&mut interim).unwrap();
        assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
        client.write_all(b"hello").unwrap();
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).unwrap();
        assert!(
            answer.starts_with(b"HTTP/1.1 202 Accepted\r\n"),
            "{answer:?}"
        );
        assert_eq!(server.join().unwrap(), (None, b"hello".to_vec()));
    }

    #[test]
    fn an_unreachable_runtime_api_is_a_502_naming_the_proxy() {
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = closed.local_addr().unwrap().to_string();
        drop(closed);
        let watch = RuntimeWatch::bind(&address).unwrap();
        let proxy = watch.address().unwrap().to_string();
        watch.serve(Arc::new(Invocations::default())).unwrap();
        let response = http::request(&proxy, "GET", NEXT, &[], &[], None).unwrap();
        assert_eq!(response.status, 502);
        let body = String::from_utf8(response.body).unwrap();
        assert!(
            body.contains("fogbank-agent's Runtime API proxy: cannot connect to the Runtime API"),
            "{body}"
        );
    }
}
