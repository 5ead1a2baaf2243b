//! A pure filter over the bytes a debugger sends, passing on only well-formed
//! RSP frames.
//!
//! gdbstub treats garbage between packets, a bad checksum, a NACK or an
//! oversized packet as fatal for the session. A debugger connection through a
//! relay must survive such input, so the agent screens it here first and
//! answers bad frames itself (see `session`).

/// One unit of debugger input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete packet with a valid checksum, as raw bytes from `$` through
    /// the two checksum digits.
    Packet(Vec<u8>),
    /// The interrupt byte (0x03, Ctrl-C).
    Interrupt,
}

/// Input that was dropped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// A packet whose checksum did not match; the sender should retransmit.
    BadChecksum,
    /// A packet longer than the stub's buffer.
    Oversized,
}

/// What [`FrameFilter::push`] produced for one byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filtered {
    /// Nothing complete yet (or a byte that carries no meaning, such as an
    /// acknowledgement or stray garbage).
    Nothing,
    /// A frame to pass to the stub.
    Frame(Frame),
    /// A packet that must be answered with an error or NACK.
    Rejected(Rejected),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Between,
    Body,
    Checksum1,
    Checksum2(u8),
}

/// Incremental RSP frame filter.
#[derive(Debug)]
pub struct FrameFilter {
    state: State,
    packet: Vec<u8>,
    max_len: usize,
    oversized: bool,
}

impl FrameFilter {
    /// A filter that rejects packets longer than `max_len` bytes in total.
    pub fn new(max_len: usize) -> FrameFilter {
        FrameFilter {
            state: State::Between,
            packet: Vec::new(),
            max_len,
            oversized: false,
        }
    }

    /// Whether a packet is partially received.
    pub fn in_packet(&self) -> bool {
        self.state != State::Between
    }

    /// Feeds one byte.
    pub fn push(&mut self, byte: u8) -> Filtered {
        match self.state {
            State::Between => match byte {
                b'$' => {
                    self.start_packet();
                    Filtered::Nothing
                }
                0x03 => Filtered::Frame(Frame::Interrupt),
                // Acks, nacks and garbage carry nothing the stub needs.
                _ => Filtered::Nothing,
            },
            State::Body => match byte {
                // `$` never appears unescaped inside a packet: a new packet
                // starts and the broken one is dropped.
                b'$' => {
                    self.start_packet();
                    Filtered::Nothing
                }
                b'#' => {
                    self.append(byte);
                    self.state = State::Checksum1;
                    Filtered::Nothing
                }
                _ => {
                    self.append(byte);
                    Filtered::Nothing
                }
            },
            State::Checksum1 => match hex_value(byte) {
                Some(high) => {
                    self.append(byte);
                    self.state = State::Checksum2(high);
                    Filtered::Nothing
                }
                None => self.restart_or_reject(byte),
            },
            State::Checksum2(high) => match hex_value(byte) {
                Some(low) => {
                    self.append(byte);
                    self.state = State::Between;
                    self.finish((high << 4) | low)
                }
                None => self.restart_or_reject(byte),
            },
        }
    }

    fn start_packet(&mut self) {
        self.packet.clear();
        self.packet.push(b'$');
        self.oversized = false;
        self.state = State::Body;
    }

    fn append(&mut self, byte: u8) {
        if self.packet.len() < self.max_len {
            self.packet.push(byte);
        } else {
            self.oversized = true;
        }
    }

    /// A malformed checksum: the packet is rejected, and a `$` starts anew.
    fn restart_or_reject(&mut self, byte: u8) -> Filtered {
        self.state = State::Between;
        self.packet.clear();
        if byte == b'$' {
            self.start_packet();
        }
        Filtered::Rejected(Rejected::BadChecksum)
    }

    fn finish(&mut self, checksum: u8) -> Filtered {
        let packet = std::mem::take(&mut self.packet);
        if self.oversized {
            self.oversized = false;
            return Filtered::Rejected(Rejected::Oversized);
        }
        // packet = '$' body '#' hex hex
        let body = &packet[1..packet.len() - 3];
        let sum = body.iter().fold(0u8, |sum, byte| sum.wrapping_add(*byte));
        if sum == checksum {
            Filtered::Frame(Frame::Packet(packet))
        } else {
            Filtered::Rejected(Rejected::BadChecksum)
        }
    }
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Frames a payload as `$payload#xx` (the agent's own replies).
pub fn frame_payload(payload: &[u8]) -> Vec<u8> {
    let sum = payload
        .iter()
        .fold(0u8, |sum, byte| sum.wrapping_add(*byte));
    let mut framed = Vec::with_capacity(payload.len() + 4);
    framed.push(b'$');
    framed.extend_from_slice(payload);
    framed.extend_from_slice(format!("#{sum:02x}").as_bytes());
    framed
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn run(input: &[u8]) -> Vec<Filtered> {
        let mut filter = FrameFilter::new(32);
        input
            .iter()
            .map(|byte| filter.push(*byte))
            .filter(|out| *out != Filtered::Nothing)
            .collect()
    }

    fn check(input: &[u8], expected: &[Filtered]) {
        assert_eq!(
            run(input),
            expected,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }

    fn packet(text: &str) -> Filtered {
        Filtered::Frame(Frame::Packet(text.as_bytes().to_vec()))
    }

    #[test]
    fn passes_valid_frames_and_drops_noise() {
        check(b"$?#3f", &[packet("$?#3f")]);
        check(b"+$?#3F-", &[packet("$?#3F")]);
        check(
            b"garbage\x03$g#67",
            &[Filtered::Frame(Frame::Interrupt), packet("$g#67")],
        );
        check(b"$?#00", &[Filtered::Rejected(Rejected::BadChecksum)]);
        check(b"$?#zz", &[Filtered::Rejected(Rejected::BadChecksum)]);
        check(
            b"$?#3$g#67",
            &[Filtered::Rejected(Rejected::BadChecksum), packet("$g#67")],
        );
        check(b"$half$g#67", &[packet("$g#67")]);
        check(
            format!("${}#00", "a".repeat(40)).as_bytes(),
            &[Filtered::Rejected(Rejected::Oversized)],
        );
        check(&frame_payload(b"qSupported"), &[packet("$qSupported#37")]);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_resync(noise in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut filter = FrameFilter::new(64);
            for byte in &noise {
                let _ = filter.push(*byte);
            }
            // Whatever came before, a well-formed packet gets through (at
            // worst after the rejection of a half-received one).
            let outputs: Vec<Filtered> = b"$?#3f".iter().map(|b| filter.push(*b)).collect();
            prop_assert_eq!(outputs.last(), Some(&packet("$?#3f")));
        }
    }
}
