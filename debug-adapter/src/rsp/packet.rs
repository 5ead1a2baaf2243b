//! RSP framing: `$payload#xx` packets, `%payload#xx` notifications, `+`/`-`
//! acknowledgements, run-length decoding, binary escaping and hex.
//!
//! Pure code, no I/O: the [`Decoder`] is fed bytes and yields [`Incoming`]
//! items; [`encode_packet`] frames outgoing payloads.

/// One unit received from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// `+`: the last packet arrived intact.
    Ack,
    /// `-`: the last packet must be sent again.
    Nack,
    /// A packet's payload, run-length expanded (binary escapes remain; see
    /// [`unescape_binary`]).
    Packet(Vec<u8>),
    /// A `%` notification's payload (non-stop mode; unused in all-stop).
    Notification(Vec<u8>),
    /// A frame that could not be accepted.
    Corrupt(Corruption),
}

/// Why a frame was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corruption {
    /// The checksum did not match the payload.
    Checksum,
    /// The checksum digits were not hex.
    ChecksumDigits,
    /// A `*` run-length marker with no character before it or an invalid count.
    RunLength,
    /// The frame exceeded the decoder's size limit.
    Oversized,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Between,
    Body { notification: bool },
    Checksum1 { notification: bool },
    Checksum2 { notification: bool, high: u8 },
}

/// Incremental frame decoder.
#[derive(Debug)]
pub struct Decoder {
    state: State,
    raw: Vec<u8>,
    max_len: usize,
    oversized: bool,
}

impl Decoder {
    /// A decoder that drops frames whose raw payload exceeds `max_len` bytes.
    pub fn new(max_len: usize) -> Decoder {
        Decoder {
            state: State::Between,
            raw: Vec::new(),
            max_len,
            oversized: false,
        }
    }

    /// Feeds one byte; returns an item when one completes.
    pub fn push(&mut self, byte: u8) -> Option<Incoming> {
        match self.state {
            State::Between => match byte {
                b'+' => Some(Incoming::Ack),
                b'-' => Some(Incoming::Nack),
                b'$' | b'%' => {
                    self.start(byte == b'%');
                    None
                }
                // Anything else between frames is line noise.
                _ => None,
            },
            State::Body { notification } => {
                match byte {
                    b'#' => self.state = State::Checksum1 { notification },
                    // An unescaped `$` cannot occur in a payload: the old
                    // frame was cut off and a new one begins.
                    b'$' => self.start(false),
                    _ => {
                        if self.raw.len() < self.max_len {
                            self.raw.push(byte);
                        } else {
                            self.oversized = true;
                        }
                    }
                }
                None
            }
            State::Checksum1 { notification } => match hex_digit(byte) {
                Some(high) => {
                    self.state = State::Checksum2 { notification, high };
                    None
                }
                None => Some(self.bad_digits(byte)),
            },
            State::Checksum2 { notification, high } => match hex_digit(byte) {
                Some(low) => {
                    self.state = State::Between;
                    Some(self.finish(notification, (high << 4) | low))
                }
                None => Some(self.bad_digits(byte)),
            },
        }
    }

    fn start(&mut self, notification: bool) {
        self.raw.clear();
        self.oversized = false;
        self.state = State::Body { notification };
    }

    fn bad_digits(&mut self, byte: u8) -> Incoming {
        self.raw.clear();
        self.state = State::Between;
        if byte == b'$' {
            self.start(false);
        }
        Incoming::Corrupt(Corruption::ChecksumDigits)
    }

    fn finish(&mut self, notification: bool, checksum: u8) -> Incoming {
        let raw = std::mem::take(&mut self.raw);
        if std::mem::take(&mut self.oversized) {
            return Incoming::Corrupt(Corruption::Oversized);
        }
        if checksum_of(&raw) != checksum {
            return Incoming::Corrupt(Corruption::Checksum);
        }
        match expand_run_length(&raw, self.max_len) {
            Ok(payload) if notification => Incoming::Notification(payload),
            Ok(payload) => Incoming::Packet(payload),
            Err(corruption) => Incoming::Corrupt(corruption),
        }
    }
}

fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// The modulo-256 sum of the payload bytes.
pub fn checksum_of(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |sum, byte| sum.wrapping_add(*byte))
}

/// Expands `X*n` runs: the character before `*` repeats `n - 29` more times.
fn expand_run_length(raw: &[u8], max_len: usize) -> Result<Vec<u8>, Corruption> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter().copied();
    while let Some(byte) = bytes.next() {
        if byte != b'*' {
            out.push(byte);
            continue;
        }
        let count = bytes.next().ok_or(Corruption::RunLength)?;
        let previous = *out.last().ok_or(Corruption::RunLength)?;
        let repeat = usize::from(count)
            .checked_sub(29)
            .ok_or(Corruption::RunLength)?;
        if out.len() + repeat > max_len.saturating_mul(4) {
            return Err(Corruption::Oversized);
        }
        out.extend(std::iter::repeat_n(previous, repeat));
    }
    Ok(out)
}

/// Frames a payload as `$payload#xx`, escaping the bytes RSP reserves.
pub fn encode_packet(payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(payload.len() + 8);
    for byte in payload {
        match byte {
            b'$' | b'#' | b'}' | b'*' => {
                body.push(b'}');
                body.push(byte ^ 0x20);
            }
            _ => body.push(*byte),
        }
    }
    let mut framed = Vec::with_capacity(body.len() + 4);
    framed.push(b'$');
    framed.extend_from_slice(&body);
    framed.push(b'#');
    framed.extend_from_slice(&hex_byte(checksum_of(&body)));
    framed
}

fn hex_byte(byte: u8) -> [u8; 2] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    [
        DIGITS[usize::from(byte >> 4)],
        DIGITS[usize::from(byte & 0xf)],
    ]
}

/// Undoes `}`-escaping of binary data (`x`, `qXfer` replies).
pub fn unescape_binary(data: &[u8]) -> Result<Vec<u8>, BadEncoding> {
    let mut out = Vec::with_capacity(data.len());
    let mut bytes = data.iter();
    while let Some(byte) = bytes.next() {
        if *byte == b'}' {
            let escaped = bytes.next().ok_or(BadEncoding::DanglingEscape)?;
            out.push(escaped ^ 0x20);
        } else {
            out.push(*byte);
        }
    }
    Ok(out)
}

/// Malformed encoded data inside a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadEncoding {
    /// A `}` escape at the very end.
    #[error("escape character at end of binary data")]
    DanglingEscape,
    /// An odd number of hex digits or a non-hex character.
    #[error("invalid hex data")]
    Hex,
}

/// Encodes bytes as lowercase hex.
pub fn encode_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let [high, low] = hex_byte(*byte);
        out.push(char::from(high));
        out.push(char::from(low));
    }
    out
}

/// Decodes hex pairs into bytes.
pub fn decode_hex(text: &[u8]) -> Result<Vec<u8>, BadEncoding> {
    if !text.len().is_multiple_of(2) {
        return Err(BadEncoding::Hex);
    }
    text.chunks_exact(2)
        .map(|pair| match (hex_digit(pair[0]), hex_digit(pair[1])) {
            (Some(high), Some(low)) => Ok((high << 4) | low),
            _ => Err(BadEncoding::Hex),
        })
        .collect()
}

/// Parses a big-endian hex number as used in addresses and ids.
pub fn parse_hex_u64(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 16 {
        return None;
    }
    text.iter().try_fold(0u64, |value, byte| {
        hex_digit(*byte).map(|digit| (value << 4) | u64::from(digit))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn decode_all(input: &[u8]) -> Vec<Incoming> {
        let mut decoder = Decoder::new(64);
        input
            .iter()
            .filter_map(|byte| decoder.push(*byte))
            .collect()
    }

    fn check(input: &[u8], expected: &[Incoming]) {
        assert_eq!(
            decode_all(input),
            expected,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }

    fn packet(text: &[u8]) -> Incoming {
        Incoming::Packet(text.to_vec())
    }

    #[test]
    fn decodes_frames() {
        check(b"+$OK#9a", &[Incoming::Ack, packet(b"OK")]);
        check(b"-", &[Incoming::Nack]);
        check(b"$OK#9A", &[packet(b"OK")]);
        check(b"$#00", &[packet(b"")]);
        check(b"%Stop:T05#00", &[Incoming::Corrupt(Corruption::Checksum)]);
        check(b"noise$OK#9a\r\n", &[packet(b"OK")]);
        check(b"$OK#9b", &[Incoming::Corrupt(Corruption::Checksum)]);
        check(b"$OK#g1", &[Incoming::Corrupt(Corruption::ChecksumDigits)]);
        check(
            b"$OK#9$OK#9a",
            &[Incoming::Corrupt(Corruption::ChecksumDigits), packet(b"OK")],
        );
        check(b"$cut$OK#9a", &[packet(b"OK")]);
        let long = format!("${}#00", "a".repeat(100));
        check(long.as_bytes(), &[Incoming::Corrupt(Corruption::Oversized)]);
    }

    #[test]
    fn expands_run_length_encoding() {
        // "0* " is "0" plus 3 more: "0000" (the example in the gdb manual).
        let framed = |body: &[u8]| {
            let mut out = vec![b'$'];
            out.extend_from_slice(body);
            out.push(b'#');
            out.extend_from_slice(&hex_byte(checksum_of(body)));
            out
        };
        check(&framed(b"0* "), &[packet(b"0000")]);
        check(&framed(b"ab*\"c"), &[packet(b"abbbbbbc")]);
        check(&framed(b"*!"), &[Incoming::Corrupt(Corruption::RunLength)]);
        check(&framed(b"a*"), &[Incoming::Corrupt(Corruption::RunLength)]);
        check(
            &framed(b"a*\x01"),
            &[Incoming::Corrupt(Corruption::RunLength)],
        );
    }

    #[test]
    fn encodes_and_escapes() {
        assert_eq!(encode_packet(b"g"), b"$g#67");
        assert_eq!(encode_packet(b"qSupported"), b"$qSupported#37");
        assert_eq!(encode_packet(b"X1,2:$#"), b"$X1,2:}\x04}\x03#22".to_vec());
        assert_eq!(unescape_binary(b"a}\x04}]").unwrap(), b"a$}".to_vec());
        assert_eq!(unescape_binary(b"a}"), Err(BadEncoding::DanglingEscape));
        assert_eq!(decode_hex(b"00ff7F").unwrap(), vec![0, 255, 127]);
        assert_eq!(decode_hex(b"0"), Err(BadEncoding::Hex));
        assert_eq!(decode_hex(b"zz"), Err(BadEncoding::Hex));
        assert_eq!(encode_hex(&[0, 255, 16]), "00ff10");
        assert_eq!(parse_hex_u64(b"7fff0000"), Some(0x7fff_0000));
        assert_eq!(parse_hex_u64(b""), None);
        assert_eq!(parse_hex_u64(b"11112222333344445"), None);
    }

    proptest! {
        #[test]
        fn garbage_never_panics(input in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_all(&input);
        }

        #[test]
        fn encoded_packets_round_trip(payload in proptest::collection::vec(any::<u8>(), 0..40)) {
            let mut decoder = Decoder::new(256);
            let framed = encode_packet(&payload);
            let items: Vec<Incoming> = framed.iter().filter_map(|b| decoder.push(*b)).collect();
            prop_assert_eq!(items.len(), 1);
            match &items[0] {
                Incoming::Packet(raw) => prop_assert_eq!(unescape_binary(raw).unwrap(), payload),
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }

        #[test]
        fn resyncs_after_garbage(input in proptest::collection::vec(any::<u8>(), 0..100)) {
            let mut decoder = Decoder::new(64);
            for byte in &input {
                let _ = decoder.push(*byte);
            }
            let items: Vec<Incoming> = b"$OK#9a".iter().filter_map(|b| decoder.push(*b)).collect();
            prop_assert_eq!(items.last(), Some(&packet(b"OK")));
        }
    }
}
