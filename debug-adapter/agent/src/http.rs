//! Minimal blocking HTTP/1.1 for the Lambda Runtime API: a client (one
//! request per connection, `Connection: close`; responses framed by
//! `Content-Length`, chunked encoding, or the end of the stream), and the
//! request framing the in-place Runtime API watch needs to pass a runtime
//! client's requests on unchanged.
//!
//! Why not an HTTP crate: the agent is a small static binary without an
//! async runtime, it talks to exactly one loopback server, and the whole
//! exchange is four request shapes. The parsers are pure and fuzzed
//! (`tests` below).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Largest response head (status line and headers).
const MAX_HEAD: usize = 64 * 1024;

/// Largest request head: runtime clients send an error's X-Ray cause in a
/// header of up to 1 MiB.
const MAX_REQUEST_HEAD: usize = (1 << 20) + 64 * 1024;

/// Largest request body: a streamed response may exceed the 6 MB
/// buffered payload limit (Lambda's soft limit for streams is 20 MB).
const MAX_REQUEST_BODY: usize = 32 << 20;

/// Largest response body: Lambda's 6 MB payload limit with room to spare.
pub const MAX_BODY: usize = fogbank_relay::live::MAX_MESSAGE;

/// A parsed HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers in the order received, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        first_header(&self.headers, name)
    }
}

/// Why an HTTP exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// No connection to the server.
    #[error("cannot connect to the Runtime API at {address}: {source}")]
    Connect {
        /// The server.
        address: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Sending or receiving failed.
    #[error("talking to the Runtime API at {address} failed: {source}")]
    Io {
        /// The server.
        address: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The response is not HTTP as expected.
    #[error("the Runtime API sent a malformed response: {0}")]
    Malformed(&'static str),
    /// A runtime client's request is not HTTP as expected.
    #[error("the function's runtime client sent a malformed request: {0}")]
    MalformedRequest(&'static str),
    /// The connection closed before the response was complete.
    #[error("the Runtime API closed the connection before the response was complete")]
    Truncated,
}

/// A request from a runtime client, with its body as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequest {
    /// The method.
    pub method: String,
    /// The request target (a path).
    pub path: String,
    /// Headers in the order received, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body exactly as framed on the wire: `Content-Length` bytes, or
    /// the chunks with their sizes and trailers (a streamed response's
    /// error type travels in a trailer, so the framing is kept).
    pub body: Vec<u8>,
    /// Whether `body` is chunked.
    pub chunked: bool,
}

impl RawRequest {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        first_header(&self.headers, name)
    }
}

fn first_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// A message head: its first line and headers, and where the body starts.
struct Head<'a> {
    first_line: &'a str,
    headers: Vec<(String, String)>,
    body_start: usize,
}

/// Why a message could not be framed; the caller says which side sent it.
enum Framing {
    Incomplete,
    Malformed(&'static str),
}

fn parse_head(bytes: &[u8], max_head: usize) -> Result<Head<'_>, Framing> {
    let Some(head_end) = find(bytes, b"\r\n\r\n") else {
        return Err(if bytes.len() > max_head {
            Framing::Malformed("the head is too large")
        } else {
            Framing::Incomplete
        });
    };
    if head_end > max_head {
        return Err(Framing::Malformed("the head is too large"));
    }
    let head = std::str::from_utf8(&bytes[..head_end])
        .map_err(|_| Framing::Malformed("the head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let first_line = lines.next().unwrap_or_default();
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or(Framing::Malformed("a header line has no colon"))?;
        if name.is_empty() || name.contains(|c: char| c.is_ascii_whitespace()) {
            return Err(Framing::Malformed("a header name is empty or has spaces"));
        }
        // A bare CR or LF would split the header differently upstream.
        if value.contains(['\r', '\n', '\0']) {
            return Err(Framing::Malformed(
                "a header value holds a line break or NUL",
            ));
        }
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    // Framing both sides must read alike: one length, or plain chunking.
    let count = |name: &str| {
        headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(name))
            .count()
    };
    let lengths = count("content-length");
    let encodings = count("transfer-encoding");
    if lengths > 1 || encodings > 1 || (lengths == 1 && encodings == 1) {
        return Err(Framing::Malformed(
            "the body's length is given more than once",
        ));
    }
    if first_header(&headers, "transfer-encoding")
        .is_some_and(|value| !value.eq_ignore_ascii_case("chunked"))
    {
        return Err(Framing::Malformed("Transfer-Encoding is not plain chunked"));
    }
    Ok(Head {
        first_line,
        headers,
        body_start: head_end + 4,
    })
}

fn is_chunked(headers: &[(String, String)]) -> bool {
    first_header(headers, "transfer-encoding").is_some()
}

/// Whether `bytes` may hold a whole message, to parse only then: a chunked
/// body can only end with an empty line, and re-walking a large one after
/// every read would cost time quadratic in its size.
pub fn may_be_complete(bytes: &[u8]) -> bool {
    match parse_head(bytes, MAX_REQUEST_HEAD) {
        Ok(head) if is_chunked(&head.headers) => bytes.ends_with(b"\r\n\r\n"),
        Ok(_) => true,
        // Malformed: parsing says how.
        Err(Framing::Malformed(_)) => true,
        Err(Framing::Incomplete) => false,
    }
}

/// The `Content-Length`, if any, checked against the payload limit.
fn content_length(headers: &[(String, String)], limit: usize) -> Result<Option<usize>, Framing> {
    let Some(length) = first_header(headers, "content-length") else {
        return Ok(None);
    };
    let length: usize = length
        .parse()
        .map_err(|_| Framing::Malformed("Content-Length is not a number"))?;
    if length > limit {
        return Err(Framing::Malformed(
            "the body is larger than the payload limit",
        ));
    }
    Ok(Some(length))
}

/// Parses a complete response from `bytes`. `Ok(None)` means more bytes are
/// needed; with `eof` set, the stream has ended, which completes a body
/// framed by the end of the stream and makes anything else truncated.
pub fn parse_response(bytes: &[u8], eof: bool) -> Result<Option<Response>, HttpError> {
    let incomplete = || {
        if eof {
            Err(HttpError::Truncated)
        } else {
            Ok(None)
        }
    };
    let head = match parse_head(bytes, MAX_HEAD) {
        Ok(head) => head,
        Err(Framing::Incomplete) => return incomplete(),
        Err(Framing::Malformed(problem)) => return Err(HttpError::Malformed(problem)),
    };
    let mut parts = head.first_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::Malformed("the status line is not HTTP/1.x"));
    }
    let status = parts
        .next()
        .filter(|code| code.len() == 3)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or(HttpError::Malformed("the status code is not three digits"))?;
    // An interim answer (`100 Continue`) has no body; the real one follows.
    if (100..200).contains(&status) && status != 101 {
        return parse_response(&bytes[head.body_start..], eof);
    }
    let mut response = Response {
        status,
        headers: head.headers,
        body: Vec::new(),
    };
    let rest = &bytes[head.body_start..];
    if is_chunked(&response.headers) {
        let mut body = Vec::new();
        return match walk_chunks(rest, MAX_BODY, |chunk| body.extend_from_slice(chunk)) {
            Ok(_) => {
                response.body = body;
                Ok(Some(response))
            }
            Err(Framing::Incomplete) => incomplete(),
            Err(Framing::Malformed(problem)) => Err(HttpError::Malformed(problem)),
        };
    }
    match content_length(&response.headers, MAX_BODY) {
        Ok(Some(length)) if rest.len() < length => return incomplete(),
        Ok(Some(length)) => {
            response.body = rest[..length].to_vec();
            return Ok(Some(response));
        }
        Ok(None) => {}
        Err(Framing::Incomplete) => return incomplete(),
        Err(Framing::Malformed(problem)) => return Err(HttpError::Malformed(problem)),
    }
    // No framing: a bodiless status, or a body running to the end.
    if status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(Some(response));
    }
    if rest.len() > MAX_BODY {
        return Err(HttpError::Malformed(
            "the body is larger than the payload limit",
        ));
    }
    if eof {
        response.body = rest.to_vec();
        Ok(Some(response))
    } else {
        Ok(None)
    }
}

/// Parses a complete request from `bytes`, its body kept as framed.
/// `Ok(None)` means more bytes are needed; with `eof` set, the client
/// closed its end, which leaves an incomplete request malformed.
pub fn parse_request(bytes: &[u8], eof: bool) -> Result<Option<RawRequest>, HttpError> {
    let incomplete = || {
        if eof {
            Err(HttpError::MalformedRequest(
                "the connection closed before the request was complete",
            ))
        } else {
            Ok(None)
        }
    };
    let head = match parse_head(bytes, MAX_REQUEST_HEAD) {
        Ok(head) => head,
        Err(Framing::Incomplete) => return incomplete(),
        Err(Framing::Malformed(problem)) => return Err(HttpError::MalformedRequest(problem)),
    };
    let mut parts = head.first_line.split(' ');
    let (Some(method), Some(path), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::MalformedRequest(
            "the request line is not METHOD PATH VERSION",
        ));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(HttpError::MalformedRequest("the method is not a token"));
    }
    if !path.starts_with('/') {
        return Err(HttpError::MalformedRequest(
            "the path does not start with /",
        ));
    }
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::MalformedRequest("the version is not HTTP/1.x"));
    }
    let rest = &bytes[head.body_start..];
    let chunked = is_chunked(&head.headers);
    let length = if chunked {
        walk_chunks(rest, MAX_REQUEST_BODY, |_| {})
    } else {
        content_length(&head.headers, MAX_REQUEST_BODY).and_then(|length| match length {
            Some(length) if rest.len() < length => Err(Framing::Incomplete),
            Some(length) => Ok(length),
            // A request without framing has no body.
            None => Ok(0),
        })
    };
    match length {
        Ok(length) => Ok(Some(RawRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            headers: head.headers,
            body: rest[..length].to_vec(),
            chunked,
        })),
        Err(Framing::Incomplete) => incomplete(),
        Err(Framing::Malformed(problem)) => Err(HttpError::MalformedRequest(problem)),
    }
}

/// Whether `bytes` hold a complete request head that asks for
/// `100 Continue` before its body (curl does so for large bodies, and
/// waits a second for it otherwise).
pub fn expects_continue(bytes: &[u8]) -> bool {
    parse_head(bytes, MAX_REQUEST_HEAD).is_ok_and(|head| {
        first_header(&head.headers, "expect")
            .is_some_and(|value| value.eq_ignore_ascii_case("100-continue"))
    })
}

/// Walks a chunked body, handing each chunk's data to `on_chunk`, and
/// returns the length of the whole framed body, trailers included.
fn walk_chunks(
    bytes: &[u8],
    limit: usize,
    mut on_chunk: impl FnMut(&[u8]),
) -> Result<usize, Framing> {
    let mut at = 0;
    let mut total = 0usize;
    loop {
        let Some(line_end) = find(&bytes[at..], b"\r\n") else {
            return Err(if bytes.len() - at > 1024 {
                Framing::Malformed("a chunk size line is too long")
            } else {
                Framing::Incomplete
            });
        };
        let line = std::str::from_utf8(&bytes[at..at + line_end])
            .map_err(|_| Framing::Malformed("a chunk size is not UTF-8"))?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| Framing::Malformed("a chunk size is not hexadecimal"))?;
        if size > limit || total + size > limit {
            return Err(Framing::Malformed(
                "the body is larger than the payload limit",
            ));
        }
        at += line_end + 2;
        if size == 0 {
            // Trailer lines, if any, end with an empty line.
            loop {
                let Some(end) = find(&bytes[at..], b"\r\n") else {
                    return Err(if bytes.len() - at > MAX_HEAD {
                        Framing::Malformed("the trailers are larger than 64 KiB")
                    } else {
                        Framing::Incomplete
                    });
                };
                at += end + 2;
                if end == 0 {
                    return Ok(at);
                }
            }
        }
        if bytes.len() - at < size + 2 {
            return Err(Framing::Incomplete);
        }
        if &bytes[at + size..at + size + 2] != b"\r\n" {
            return Err(Framing::Malformed("a chunk does not end with CRLF"));
        }
        on_chunk(&bytes[at..at + size]);
        total += size;
        at += size + 2;
    }
}

/// The wire form of `response` for a client: the body de-chunked with a
/// `Content-Length`, and `Connection: close` (one exchange per connection).
pub fn encode_response(response: &Response) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason_phrase(response.status)
    );
    for (name, value) in &response.headers {
        if is_framing_header(name) {
            continue;
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        response.body.len()
    ));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&response.body);
    bytes
}

/// The wire form of `request` for `address`, framed as the client framed
/// it, with `Connection: close`.
pub fn encode_request(request: &RawRequest, address: &str) -> Vec<u8> {
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {address}\r\n",
        request.method, request.path
    );
    for (name, value) in &request.headers {
        // The body goes upstream whole, so there is nothing to expect.
        if name.eq_ignore_ascii_case("host")
            || name.eq_ignore_ascii_case("expect")
            || is_connection_header(name)
        {
            continue;
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&request.body);
    bytes
}

fn is_connection_header(name: &str) -> bool {
    ["connection", "keep-alive", "proxy-connection"]
        .iter()
        .any(|header| name.eq_ignore_ascii_case(header))
}

fn is_framing_header(name: &str) -> bool {
    is_connection_header(name)
        || name.eq_ignore_ascii_case("content-length")
        || name.eq_ignore_ascii_case("transfer-encoding")
}

/// Reason phrases of the statuses the Runtime API uses; clients ignore the
/// phrase, so others get a generic one.
fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        _ => "Status",
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Sends one request to `address` (`host:port`) and reads the response.
/// `timeout` bounds each read (`None`: wait as long as it takes, which the
/// long-polling `next` needs).
pub fn request(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Option<Duration>,
) -> Result<Response, HttpError> {
    let mut message = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        message.push_str(name);
        message.push_str(": ");
        message.push_str(value);
        message.push_str("\r\n");
    }
    message.push_str("\r\n");
    let mut bytes = message.into_bytes();
    bytes.extend_from_slice(body);
    exchange(address, &bytes, timeout)
}

/// Sends `message` (a whole request with `Connection: close`) to `address`
/// and reads the response; `timeout` as for [`request`].
pub fn exchange(
    address: &str,
    message: &[u8],
    timeout: Option<Duration>,
) -> Result<Response, HttpError> {
    let io = |source| HttpError::Io {
        address: address.to_owned(),
        source,
    };
    let mut stream = TcpStream::connect(address).map_err(|source| HttpError::Connect {
        address: address.to_owned(),
        source,
    })?;
    let _ = stream.set_nodelay(true);
    stream.set_read_timeout(timeout).map_err(io)?;
    stream.write_all(message).map_err(io)?;
    let mut received = Vec::with_capacity(4096);
    let mut buffer = [0u8; 16 * 1024];
    loop {
        if may_be_complete(&received)
            && let Some(response) = parse_response(&received, false)?
        {
            return Ok(response);
        }
        match stream.read(&mut buffer) {
            Ok(0) => return parse_response(&received, true)?.ok_or(HttpError::Truncated),
            Ok(count) => received.extend_from_slice(&buffer[..count]),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(io(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    fn check(bytes: &[u8], eof: bool, expected: &str) {
        let rendered = match parse_response(bytes, eof) {
            Ok(None) => "incomplete".to_owned(),
            Ok(Some(response)) => format!(
                "{} {:?} {:?}",
                response.status,
                response.headers,
                String::from_utf8_lossy(&response.body)
            ),
            Err(error) => format!("error: {error}"),
        };
        assert_eq!(rendered, expected);
    }

    #[test]
    fn responses() {
        check(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nLambda-Runtime-Aws-Request-Id: r1\r\n\r\nhi",
            false,
            "200 [(\"Content-Length\", \"2\"), (\"Lambda-Runtime-Aws-Request-Id\", \"r1\")] \"hi\"",
        );
        check(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhi",
            false,
            "incomplete",
        );
        check(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhi",
            true,
            "error: the Runtime API closed the connection before the response was complete",
        );
        check(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n3;x=1\r\n th\r\n0\r\n\r\n",
            false,
            "200 [(\"Transfer-Encoding\", \"chunked\")] \"hi th\"",
        );
        check(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n",
            false,
            "incomplete",
        );
        check(
            b"HTTP/1.1 202 Accepted\r\n\r\n{\"status\":\"OK\"}",
            true,
            "202 [] \"{\\\"status\\\":\\\"OK\\\"}\"",
        );
        check(b"HTTP/1.1 202 Accepted\r\n\r\n", false, "incomplete");
        check(b"HTTP/1.1 204 No Content\r\n\r\n", false, "204 [] \"\"");
        check(b"HTTP/1.1 200", false, "incomplete");
        check(
            b"SMTP 200 OK\r\n\r\n",
            false,
            "error: the Runtime API sent a malformed response: the status line is not HTTP/1.x",
        );
        check(
            b"HTTP/1.1 2000 OK\r\n\r\n",
            false,
            "error: the Runtime API sent a malformed response: the status code is not three digits",
        );
        check(
            b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
            false,
            "error: the Runtime API sent a malformed response: a header line has no colon",
        );
        check(
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            false,
            "error: the Runtime API sent a malformed response: Content-Length is not a number",
        );
        check(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            false,
            "error: the Runtime API sent a malformed response: a chunk size is not hexadecimal",
        );
        check(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc",
            false,
            "error: the Runtime API sent a malformed response: a chunk does not end with CRLF",
        );
        check(
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
            false,
            "error: the Runtime API sent a malformed response: the body is larger than the payload limit",
        );
        // An interim 100 is skipped; the real answer follows it.
        check(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok",
            false,
            "202 [(\"Content-Length\", \"2\")] \"ok\"",
        );
        check(b"HTTP/1.1 100 Continue\r\n\r\n", false, "incomplete");
        // Framing that two parsers could read differently is refused.
        check(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
            false,
            "error: the Runtime API sent a malformed response: the body's length is given more than once",
        );
        check(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
            false,
            "error: the Runtime API sent a malformed response: the body's length is given more than once",
        );
        check(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            false,
            "error: the Runtime API sent a malformed response: Transfer-Encoding is not plain chunked",
        );
        check(
            b"HTTP/1.1 200 OK\r\nX-A: one\ntwo\r\n\r\n",
            false,
            "error: the Runtime API sent a malformed response: a header value holds a line break or NUL",
        );
    }

    #[test]
    fn only_a_chunked_message_ending_in_an_empty_line_may_be_complete() {
        assert!(!may_be_complete(
            b"POST /r HTTP/1.1\r\nContent-Length: 2\r\n"
        ));
        assert!(may_be_complete(
            b"POST /r HTTP/1.1\r\nContent-Length: 2\r\n\r\nh"
        ));
        let chunked = b"POST /r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n";
        assert!(!may_be_complete(chunked));
        let mut ended = chunked.to_vec();
        ended.extend_from_slice(b"0\r\n\r\n");
        assert!(may_be_complete(&ended));
        assert!(may_be_complete(b"POST /r HTTP/1.1\r\nbad\r\n\r\n"));
    }

    /// The error cause of a deep stack travels in a header of up to 1 MiB.
    #[test]
    fn a_request_head_may_carry_a_large_error_cause() {
        let cause = "x".repeat(900 * 1024);
        let text = format!(
            "POST /2018-06-01/runtime/invocation/r1/error HTTP/1.1\r\nLambda-Runtime-Function-XRay-Error-Cause: {cause}\r\nContent-Length: 2\r\n\r\n{{}}"
        );
        let request = parse_request(text.as_bytes(), false).unwrap().unwrap();
        assert_eq!(
            request
                .header("lambda-runtime-function-xray-error-cause")
                .map(str::len),
            Some(cause.len())
        );
    }

    fn check_request(bytes: &[u8], eof: bool, expected: &str) {
        let rendered = match parse_request(bytes, eof) {
            Ok(None) => "incomplete".to_owned(),
            Ok(Some(request)) => format!(
                "{} {} {:?} chunked={} {:?}",
                request.method,
                request.path,
                request.headers,
                request.chunked,
                String::from_utf8_lossy(&request.body)
            ),
            Err(error) => format!("error: {error}"),
        };
        assert_eq!(rendered, expected);
    }

    #[test]
    fn requests() {
        check_request(
            b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n",
            false,
            "GET /2018-06-01/runtime/invocation/next [(\"Host\", \"x\")] chunked=false \"\"",
        );
        check_request(
            b"POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nContent-Length: 4\r\n\r\n\"hi\"",
            false,
            "POST /2018-06-01/runtime/invocation/r1/response [(\"Content-Length\", \"4\")] chunked=false \"\\\"hi\\\"\"",
        );
        check_request(
            b"POST /r HTTP/1.1\r\nContent-Length: 4\r\n\r\nhi",
            false,
            "incomplete",
        );
        check_request(
            b"POST /r HTTP/1.1\r\nContent-Length: 4\r\n\r\nhi",
            true,
            "error: the function's runtime client sent a malformed request: the connection closed before the request was complete",
        );
        // A streamed response: the chunks and the error-type trailer stay
        // as sent.
        check_request(
            b"POST /r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nLambda-Runtime-Function-Error-Type: E\r\n\r\nnext",
            false,
            "POST /r [(\"Transfer-Encoding\", \"chunked\")] chunked=true \"2\\r\\nhi\\r\\n0\\r\\nLambda-Runtime-Function-Error-Type: E\\r\\n\\r\\n\"",
        );
        check_request(
            b"POST /r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nTrailer: x\r\n",
            false,
            "incomplete",
        );
        check_request(
            b"GET /a b HTTP/1.1\r\n\r\n",
            false,
            "error: the function's runtime client sent a malformed request: the request line is not METHOD PATH VERSION",
        );
        check_request(
            b"get /a HTTP/1.1\r\n\r\n",
            false,
            "error: the function's runtime client sent a malformed request: the method is not a token",
        );
        check_request(
            b"GET a HTTP/1.1\r\n\r\n",
            false,
            "error: the function's runtime client sent a malformed request: the path does not start with /",
        );
        check_request(
            b"GET /a SPDY/3\r\n\r\n",
            false,
            "error: the function's runtime client sent a malformed request: the version is not HTTP/1.x",
        );
        check_request(
            b"POST /r HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            false,
            "error: the function's runtime client sent a malformed request: Content-Length is not a number",
        );
    }

    #[test]
    fn a_head_may_ask_for_100_continue() {
        assert!(expects_continue(
            b"POST /r HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n"
        ));
        assert!(!expects_continue(
            b"POST /r HTTP/1.1\r\nExpect: 100-continue\r\n"
        ));
        assert!(!expects_continue(
            b"POST /r HTTP/1.1\r\nContent-Length: 9\r\n\r\n"
        ));
        let request = parse_request(
            b"POST /r HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
            false,
        )
        .unwrap()
        .unwrap();
        let upstream = String::from_utf8(encode_request(&request, "h:1")).unwrap();
        assert!(
            !upstream.to_ascii_lowercase().contains("expect"),
            "{upstream}"
        );
    }

    #[test]
    fn a_response_is_encoded_with_its_length_and_without_chunking() {
        let response = Response {
            status: 200,
            headers: vec![
                ("Transfer-Encoding".into(), "chunked".into()),
                ("Lambda-Runtime-Aws-Request-Id".into(), "r1".into()),
                ("Connection".into(), "keep-alive".into()),
            ],
            body: b"{}".to_vec(),
        };
        let bytes = encode_response(&response);
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        );
        assert_eq!(parse_response(&bytes, false).unwrap().unwrap().body, b"{}");
    }

    #[test]
    fn a_request_is_encoded_for_the_upstream_as_framed() {
        let raw = b"POST /r HTTP/1.1\r\nHost: 127.0.0.1:1\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n";
        let request = parse_request(raw, false).unwrap().unwrap();
        let bytes = encode_request(&request, "127.0.0.1:9001");
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            "POST /r HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
        );
        assert_eq!(
            parse_request(&bytes, false).unwrap().unwrap().body,
            request.body
        );
    }

    proptest! {
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400), eof: bool) {
            let _ = parse_response(&bytes, eof);
        }

        #[test]
        fn http_like_input_never_panics(status in "[0-9]{0,4}", name in "[A-Za-z-]{0,20}", value in "[ -~]{0,30}", body in "[0-9a-fA-F\r\n;]{0,80}", eof: bool) {
            let text = format!("HTTP/1.1 {status} X\r\n{name}: {value}\r\nTransfer-Encoding: chunked\r\n\r\n{body}");
            let _ = parse_response(text.as_bytes(), eof);
            let text = format!("HTTP/1.1 {status} X\r\nContent-Length: {value}\r\n\r\n{body}");
            let _ = parse_response(text.as_bytes(), eof);
        }

        #[test]
        fn request_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400), eof: bool) {
            let _ = parse_request(&bytes, eof);
        }

        #[test]
        fn http_like_requests_never_panic(method in "[A-Za-z]{0,6}", path in "[ -~]{0,20}", name in "[A-Za-z-]{0,20}", value in "[ -~]{0,30}", body in "[0-9a-fA-F\r\n;:]{0,80}", eof: bool) {
            let text = format!("{method} {path} HTTP/1.1\r\n{name}: {value}\r\nTransfer-Encoding: chunked\r\n\r\n{body}");
            let _ = parse_request(text.as_bytes(), eof);
            let text = format!("{method} /x HTTP/1.1\r\nContent-Length: {value}\r\n\r\n{body}");
            let _ = parse_request(text.as_bytes(), eof);
        }

        /// Whatever request parses, its upstream encoding parses back to
        /// the same method, path and body.
        #[test]
        fn parsed_requests_survive_re_encoding(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..40), 0..6), chunked: bool) {
            let data: Vec<u8> = chunks.concat();
            let mut text = if chunked {
                b"POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec()
            } else {
                format!("POST /p HTTP/1.1\r\nContent-Length: {}\r\n\r\n", data.len()).into_bytes()
            };
            if chunked {
                for chunk in &chunks {
                    text.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    text.extend_from_slice(chunk);
                    text.extend_from_slice(b"\r\n");
                }
                text.extend_from_slice(b"0\r\n\r\n");
            } else {
                text.extend_from_slice(&data);
            }
            let request = parse_request(&text, false).unwrap().unwrap();
            let again = parse_request(&encode_request(&request, "h:1"), false).unwrap().unwrap();
            prop_assert_eq!(&again.method, "POST");
            prop_assert_eq!(&again.path, "/p");
            prop_assert_eq!(again.body, request.body);
        }

        #[test]
        fn chunked_bodies_round_trip(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..50), 0..8)) {
            let mut text = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            let mut expected = Vec::new();
            for chunk in &chunks {
                text.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                text.extend_from_slice(chunk);
                text.extend_from_slice(b"\r\n");
                expected.extend_from_slice(chunk);
            }
            text.extend_from_slice(b"0\r\n\r\n");
            let response = parse_response(&text, false).unwrap().unwrap();
            prop_assert_eq!(response.body, expected);
        }
    }
}
