//! A minimal blocking HTTP/1.1 client for the Lambda Runtime API: one
//! request per connection (`Connection: close`), responses framed by
//! `Content-Length`, chunked encoding, or the end of the stream.
//!
//! Why not an HTTP crate: the forwarding stub is a small static binary
//! without an async runtime, it talks to exactly one loopback server, and
//! the whole exchange is four request shapes. The response parser is pure
//! and fuzzed (`tests` below).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Largest response head (status line and headers).
const MAX_HEAD: usize = 64 * 1024;

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
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
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
    /// The connection closed before the response was complete.
    #[error("the Runtime API closed the connection before the response was complete")]
    Truncated,
}

/// Parses a complete response from `bytes`. `Ok(None)` means more bytes are
/// needed; with `eof` set, the stream has ended, which completes a body
/// framed by the end of the stream and makes anything else truncated.
pub fn parse_response(bytes: &[u8], eof: bool) -> Result<Option<Response>, HttpError> {
    let Some(head_end) = find(bytes, b"\r\n\r\n") else {
        if bytes.len() > MAX_HEAD {
            return Err(HttpError::Malformed(
                "the response head is larger than 64 KiB",
            ));
        }
        return if eof {
            Err(HttpError::Truncated)
        } else {
            Ok(None)
        };
    };
    if head_end > MAX_HEAD {
        return Err(HttpError::Malformed(
            "the response head is larger than 64 KiB",
        ));
    }
    let head = std::str::from_utf8(&bytes[..head_end])
        .map_err(|_| HttpError::Malformed("the response head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::Malformed("the status line is not HTTP/1.x"));
    }
    let status = parts
        .next()
        .filter(|code| code.len() == 3)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or(HttpError::Malformed("the status code is not three digits"))?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or(HttpError::Malformed("a header line has no colon"))?;
        if name.is_empty() || name.contains(|c: char| c.is_ascii_whitespace()) {
            return Err(HttpError::Malformed("a header name is empty or has spaces"));
        }
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let rest = &bytes[head_end + 4..];
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|value| value.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return match dechunk(rest)? {
            Some(body) => {
                response.body = body;
                Ok(Some(response))
            }
            None if eof => Err(HttpError::Truncated),
            None => Ok(None),
        };
    }
    if let Some(length) = response.header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| HttpError::Malformed("Content-Length is not a number"))?;
        if length > MAX_BODY {
            return Err(HttpError::Malformed(
                "the body is larger than the payload limit",
            ));
        }
        if rest.len() < length {
            return if eof {
                Err(HttpError::Truncated)
            } else {
                Ok(None)
            };
        }
        response.body = rest[..length].to_vec();
        return Ok(Some(response));
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

/// Decodes a chunked body; `Ok(None)` when it is not complete yet.
fn dechunk(mut bytes: &[u8]) -> Result<Option<Vec<u8>>, HttpError> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = find(bytes, b"\r\n") else {
            return if bytes.len() > 1024 {
                Err(HttpError::Malformed("a chunk size line is too long"))
            } else {
                Ok(None)
            };
        };
        let line = std::str::from_utf8(&bytes[..line_end])
            .map_err(|_| HttpError::Malformed("a chunk size is not UTF-8"))?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| HttpError::Malformed("a chunk size is not hexadecimal"))?;
        if size > MAX_BODY || body.len() + size > MAX_BODY {
            return Err(HttpError::Malformed(
                "the body is larger than the payload limit",
            ));
        }
        bytes = &bytes[line_end + 2..];
        if size == 0 {
            // Trailers end with an empty line; none are expected.
            return Ok(find(bytes, b"\r\n").map(|_| body));
        }
        if bytes.len() < size + 2 {
            return Ok(None);
        }
        if &bytes[size..size + 2] != b"\r\n" {
            return Err(HttpError::Malformed("a chunk does not end with CRLF"));
        }
        body.extend_from_slice(&bytes[..size]);
        bytes = &bytes[size + 2..];
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
    stream.write_all(&bytes).map_err(io)?;
    let mut received = Vec::with_capacity(4096);
    let mut buffer = [0u8; 16 * 1024];
    loop {
        if let Some(response) = parse_response(&received, false)? {
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
