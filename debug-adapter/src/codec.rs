//! The DAP base protocol's framing: `Content-Length: N\r\n\r\n` followed by
//! N bytes of JSON. Pure code, fed bytes as they arrive.
//!
//! The decoder is forgiving in what it accepts and never panics:
//! - other headers (`Content-Type`) are ignored and header names are
//!   matched without regard to case;
//! - a frame may arrive split across any number of reads;
//! - garbage (bytes that are not a header, a missing or bad length, an
//!   oversized frame) becomes a [`FrameError`], after which the decoder
//!   skips to the next `Content-Length` header and carries on.

use std::fmt;

/// Largest header block accepted before the decoder gives up on it.
const MAX_HEADER: usize = 8 * 1024;

/// The header the decoder synchronises on after garbage.
const LENGTH_HEADER: &[u8] = b"content-length";

/// Something the decoder could not turn into a frame. The decoder has
/// already skipped the bad bytes when it reports one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Bytes that do not start a header were skipped.
    Garbage {
        /// How many bytes were skipped.
        skipped: usize,
        /// The first of them, for the message.
        excerpt: String,
    },
    /// A header block without a `Content-Length` header.
    MissingLength {
        /// The header block.
        headers: String,
    },
    /// A `Content-Length` whose value is not a number.
    BadLength {
        /// The value given.
        value: String,
    },
    /// A frame larger than the decoder accepts; its body was skipped.
    TooLarge {
        /// The announced length.
        length: usize,
        /// The largest accepted length.
        limit: usize,
    },
    /// A header block longer than [`MAX_HEADER`] without an end.
    HeaderTooLong,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Garbage { skipped, excerpt } => {
                write!(
                    f,
                    "skipped {skipped} bytes that are not a DAP header: {excerpt:?}"
                )
            }
            FrameError::MissingLength { headers } => {
                write!(f, "a DAP frame header has no Content-Length: {headers:?}")
            }
            FrameError::BadLength { value } => {
                write!(f, "a DAP frame has an invalid Content-Length {value:?}")
            }
            FrameError::TooLarge { length, limit } => write!(
                f,
                "a DAP frame of {length} bytes is larger than the limit of {limit} bytes and was skipped"
            ),
            FrameError::HeaderTooLong => write!(
                f,
                "a DAP frame header is longer than {MAX_HEADER} bytes and was skipped"
            ),
        }
    }
}

impl std::error::Error for FrameError {}

/// What the decoder produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A frame's body (the JSON text, not yet parsed).
    Frame(Vec<u8>),
    /// Bad input that was skipped.
    Error(FrameError),
}

/// An incremental decoder of DAP frames.
#[derive(Debug)]
pub struct Decoder {
    buffer: Vec<u8>,
    max_frame: usize,
    /// Body bytes of an oversized frame still to be thrown away.
    discard: usize,
    /// The body length of the frame whose header has been read.
    body_length: Option<usize>,
}

impl Decoder {
    /// A decoder that accepts frames of at most `max_frame` bytes.
    pub fn new(max_frame: usize) -> Decoder {
        Decoder {
            buffer: Vec::new(),
            max_frame,
            discard: 0,
            body_length: None,
        }
    }

    /// Adds bytes read from the connection.
    pub fn push(&mut self, bytes: &[u8]) {
        let mut bytes = bytes;
        if self.discard > 0 {
            let skipped = self.discard.min(bytes.len());
            self.discard -= skipped;
            bytes = &bytes[skipped..];
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// The next frame or error, or `None` when more bytes are needed.
    pub fn next_item(&mut self) -> Option<Decoded> {
        loop {
            if let Some(length) = self.body_length {
                if self.buffer.len() < length {
                    return None;
                }
                let rest = self.buffer.split_off(length);
                let body = std::mem::replace(&mut self.buffer, rest);
                self.body_length = None;
                return Some(Decoded::Frame(body));
            }
            if self.buffer.is_empty() {
                return None;
            }
            // Whitespace between frames (some clients end bodies with a
            // newline) is not garbage.
            let blank = self
                .buffer
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
            if blank > 0 {
                self.buffer.drain(..blank);
                continue;
            }
            if !starts_like_header(&self.buffer) {
                return Some(Decoded::Error(self.skip_garbage()));
            }
            let Some((header_end, body_start)) = find_header_end(&self.buffer) else {
                if self.buffer.len() > MAX_HEADER {
                    self.buffer.clear();
                    return Some(Decoded::Error(FrameError::HeaderTooLong));
                }
                return None;
            };
            let headers = String::from_utf8_lossy(&self.buffer[..header_end]).into_owned();
            self.buffer.drain(..body_start);
            match content_length(&headers) {
                Ok(length) if length > self.max_frame => {
                    let skipped = length.min(self.buffer.len());
                    self.buffer.drain(..skipped);
                    self.discard = length - skipped;
                    return Some(Decoded::Error(FrameError::TooLarge {
                        length,
                        limit: self.max_frame,
                    }));
                }
                Ok(length) => self.body_length = Some(length),
                Err(error) => return Some(Decoded::Error(error)),
            }
        }
    }

    /// Skips to the next `Content-Length` header (or keeps only a tail that
    /// could be the start of one).
    fn skip_garbage(&mut self) -> FrameError {
        let lower: Vec<u8> = self.buffer.iter().map(u8::to_ascii_lowercase).collect();
        let next = lower
            .windows(LENGTH_HEADER.len())
            .skip(1)
            .position(|window| window == LENGTH_HEADER)
            .map(|index| index + 1);
        let skipped = match next {
            Some(index) => index,
            None => {
                // Keep a tail that might be the beginning of a header
                // split across reads.
                let keep = (1..LENGTH_HEADER.len())
                    .rev()
                    .find(|&n| {
                        n <= lower.len() && LENGTH_HEADER.starts_with(&lower[lower.len() - n..])
                    })
                    .unwrap_or(0);
                lower.len() - keep
            }
        };
        let excerpt: String = String::from_utf8_lossy(&self.buffer[..skipped.min(40)]).into_owned();
        self.buffer.drain(..skipped);
        FrameError::Garbage { skipped, excerpt }
    }
}

/// Whether the buffer can be the start of a header block: a header name
/// made of token characters, followed by a colon (or not yet complete).
fn starts_like_header(buffer: &[u8]) -> bool {
    for byte in buffer.iter().take(64) {
        match byte {
            b':' => return true,
            b'-' | b'_' => {}
            b if b.is_ascii_alphanumeric() => {}
            _ => return false,
        }
    }
    buffer.len() < 64
}

/// The end of the header block: (end of the headers, start of the body).
/// Accepts `\r\n\r\n` and, leniently, `\n\n`.
fn find_header_end(buffer: &[u8]) -> Option<(usize, usize)> {
    let crlf = buffer.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = buffer.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(c), Some(l)) if l < c => Some((l, l + 2)),
        (Some(c), _) => Some((c, c + 4)),
        (None, Some(l)) => Some((l, l + 2)),
        (None, None) => None,
    }
}

fn content_length(headers: &str) -> Result<usize, FrameError> {
    for line in headers.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("content-length") {
            let value = value.trim();
            return value.parse().map_err(|_| FrameError::BadLength {
                value: value.chars().take(40).collect(),
            });
        }
    }
    Err(FrameError::MissingLength {
        headers: headers.chars().take(80).collect(),
    })
}

/// Frames a message body.
pub fn encode(body: &[u8]) -> Vec<u8> {
    let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    frame.extend_from_slice(body);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    /// Feeds `chunks` one after another and renders everything decoded.
    fn check(chunks: &[&[u8]], expected: Expect) {
        let mut decoder = Decoder::new(64);
        let mut out = String::new();
        for chunk in chunks {
            decoder.push(chunk);
            while let Some(item) = decoder.next_item() {
                match item {
                    Decoded::Frame(body) => {
                        out.push_str(&format!("frame {}\n", String::from_utf8_lossy(&body)))
                    }
                    Decoded::Error(error) => out.push_str(&format!("error {error}\n")),
                }
            }
        }
        expected.assert_eq(&out);
    }

    #[test]
    fn whole_frames() {
        check(
            &[b"Content-Length: 2\r\n\r\n{}Content-Length: 7\r\n\r\n{\"a\":1}"],
            expect![[r#"
                frame {}
                frame {"a":1}
            "#]],
        );
    }

    #[test]
    fn split_anywhere() {
        check(
            &[b"Cont", b"ent-Length", b": 2\r", b"\n\r", b"\n{", b"}"],
            expect![[r#"
                frame {}
            "#]],
        );
    }

    #[test]
    fn other_headers_and_case() {
        check(
            &[b"content-type: application/vscode-jsonrpc; charset=utf-8\r\nCONTENT-LENGTH:   2  \r\n\r\n{}"],
            expect![[r#"
                frame {}
            "#]],
        );
    }

    #[test]
    fn lenient_line_endings_and_whitespace_between_frames() {
        check(
            &[b"Content-Length: 2\n\n{}\r\n\r\nContent-Length: 2\r\n\r\n[]"],
            expect![[r#"
                frame {}
                frame []
            "#]],
        );
    }

    #[test]
    fn garbage_before_a_frame_is_skipped() {
        check(
            &[b"hello there! Content-Length: 2\r\n\r\n{}"],
            expect![[r#"
                error skipped 13 bytes that are not a DAP header: "hello there! "
                frame {}
            "#]],
        );
    }

    #[test]
    fn garbage_split_across_a_header_start() {
        check(
            &[b"{{{{ Conte", b"nt-Length: 2\r\n\r\n{}"],
            expect![[r#"
                error skipped 5 bytes that are not a DAP header: "{{{{ "
                frame {}
            "#]],
        );
    }

    #[test]
    fn bad_and_missing_lengths() {
        check(
            &[b"Content-Length: two\r\n\r\nContent-Type: x\r\n\r\nContent-Length: 2\r\n\r\nok"],
            expect![[r#"
                error a DAP frame has an invalid Content-Length "two"
                error a DAP frame header has no Content-Length: "Content-Type: x"
                frame ok
            "#]],
        );
    }

    #[test]
    fn oversized_frames_are_skipped_even_when_split() {
        let body = [b'x'; 100];
        check(
            &[
                b"Content-Length: 100\r\n\r\n",
                &body[..30],
                &body[30..],
                b"Content-Length: 2\r\n\r\n{}",
            ],
            expect![[r#"
                error a DAP frame of 100 bytes is larger than the limit of 64 bytes and was skipped
                frame {}
            "#]],
        );
    }

    #[test]
    fn endless_header() {
        let long = vec![b'a'; MAX_HEADER + 10];
        let mut decoder = Decoder::new(64);
        let mut chunk = b"X-Long: ".to_vec();
        chunk.extend_from_slice(&long);
        decoder.push(&chunk);
        assert_eq!(
            decoder.next_item(),
            Some(Decoded::Error(FrameError::HeaderTooLong))
        );
        decoder.push(b"Content-Length: 2\r\n\r\n{}");
        assert_eq!(decoder.next_item(), Some(Decoded::Frame(b"{}".to_vec())));
    }

    #[test]
    fn encodes() {
        assert_eq!(encode(b"{}"), b"Content-Length: 2\r\n\r\n{}".to_vec());
    }
}
