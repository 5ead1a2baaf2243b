//! Bad input gets a clear HTTP error, never a panic or a hang: malformed
//! HTTP, a 20 MB body (with and without a length), 10,000 headers, invalid
//! UTF-8 in the path. Garbage and empty function results are in
//! `behaviour.rs`. After each, the gateway still serves.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::Echo;

/// Writes `request` on a new connection and returns the status line of the
/// answer (and whatever else arrived), failing after 30 s.
fn raw(echo: &Echo, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(echo.gateway).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // The server may answer and close before everything is written.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buffer[..n]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n")
                    && !answer.starts_with(b"HTTP/1.1 100")
                {
                    break;
                }
            }
            Err(error)
                if matches!(error.kind(), std::io::ErrorKind::ConnectionReset)
                    && !answer.is_empty() =>
            {
                break;
            }
            Err(error) => panic!(
                "no answer to a bad request ({error}); got {:?}",
                String::from_utf8_lossy(&answer)
            ),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

fn still_serves(echo: &Echo) {
    assert_eq!(
        echo.send("GET", "/http/hello/after", &[], b"").status,
        200,
        "{}",
        echo.fogbank.output()
    );
    assert!(
        !echo.fogbank.output().contains("panicked"),
        "{}",
        echo.fogbank.output()
    );
}

#[test]
fn malformed_http_is_refused() {
    let echo = Echo::start();
    for request in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET /http/hello/x HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET /http/hello/x HTTP/1.1\r\nHost x\r\n\r\n",
        b"POST /http/orders HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        b"POST /http/orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"\x00\x01\x02\x03\r\n\r\n",
    ] {
        let answer = raw(&echo, request);
        assert!(
            answer.starts_with("HTTP/1.1 400"),
            "{:?} -> {answer:?}",
            String::from_utf8_lossy(request)
        );
    }
    still_serves(&echo);
}

#[test]
fn twenty_megabyte_bodies_get_413() {
    let echo = Echo::start();
    let body = vec![b'a'; 20 * 1024 * 1024];
    let response = echo.send(
        "POST",
        "/http/orders",
        &[("content-type", "text/plain")],
        &body,
    );
    assert_eq!(response.status, 413);
    assert_eq!(
        response.json(),
        serde_json::json!({ "message": "Request Entity Too Large" })
    );
    // Chunked, so the size is only known while reading.
    let mut request =
        b"POST /rest/items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for chunk in body.chunks(1024 * 1024) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let answer = raw(&echo, &request);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // A declared 100 MB body is refused without reading it.
    let answer = raw(
        &echo,
        b"POST /http/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\nxx",
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    still_serves(&echo);
}

#[test]
fn ten_thousand_headers_are_refused() {
    let echo = Echo::start();
    let mut request = b"GET /http/hello/x HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..10_000 {
        request.extend_from_slice(format!("X-Header-{i}: value\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    let answer = raw(&echo, &request);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    still_serves(&echo);
}

#[test]
fn invalid_utf8_in_the_path() {
    let echo = Echo::start();
    // Raw bytes that are not UTF-8 (nor valid in a URI) are refused.
    let answer = raw(
        &echo,
        b"GET /http/hello/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    // Percent-encoded ones are valid HTTP; the parameter stays encoded
    // rather than being mangled.
    let event = echo.event("GET", "/http/hello/%FF%FE", &[], b"");
    assert_eq!(event["pathParameters"]["name"], "%FF%FE");
    assert_eq!(event["rawPath"], "/http/hello/%FF%FE");
    let event = echo.event("GET", "/rest/items/%FF?q=%FF", &[], b"");
    assert_eq!(event["pathParameters"]["id"], "%FF");
    assert_eq!(event["queryStringParameters"]["q"], "\u{FFFD}");
    // A body that is not UTF-8 on a text type reaches the function intact.
    let event = echo.event(
        "POST",
        "/http/orders",
        &[("content-type", "text/plain")],
        b"\xff\xfe",
    );
    assert_eq!(
        (event["isBase64Encoded"].clone(), event["body"].clone()),
        (serde_json::json!(true), serde_json::json!("//4="))
    );
    still_serves(&echo);
}
