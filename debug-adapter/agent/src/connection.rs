//! The byte stream to the debugger: the [`Transport`] trait over which the
//! agent serves RSP, and the buffered gdbstub `Connection` wrapped around it.
//!
//! The agent is single-threaded (ptrace must be driven from one thread), so
//! it multiplexes the debugger's input and the debuggee's events with poll(2)
//! on file descriptors. A transport therefore exposes the descriptor that
//! becomes readable when it has input, and says whether it holds input in a
//! buffer of its own: the relay transport of issue 9 (TLS + Noise over TCP)
//! decrypts whole records and may hold plaintext that poll cannot see.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;

/// A bidirectional, blocking byte stream to one debugger.
pub trait Transport: Read + Write {
    /// The descriptor poll(2) waits on for new input.
    fn readiness_fd(&self) -> BorrowedFd<'_>;

    /// Whether input is already buffered inside the transport, so that a
    /// read would not block even if the descriptor is not readable.
    fn has_buffered_input(&self) -> bool {
        false
    }
}

impl Transport for TcpStream {
    fn readiness_fd(&self) -> BorrowedFd<'_> {
        self.as_fd()
    }
}

impl Transport for UnixStream {
    fn readiness_fd(&self) -> BorrowedFd<'_> {
        self.as_fd()
    }
}

/// gdbstub connection over a [`Transport`]: replies are gathered and sent
/// with one write per packet (gdbstub writes byte by byte), and input is
/// read in large chunks.
#[derive(Debug)]
pub struct BufferedConnection<T> {
    transport: T,
    output: Vec<u8>,
    input: Vec<u8>,
    input_pos: usize,
    /// While set, replies are discarded (used to replay the handshake into
    /// a fresh gdbstub after a protocol error).
    muted: bool,
}

impl<T: Transport> BufferedConnection<T> {
    /// Wraps a transport.
    pub fn new(transport: T) -> BufferedConnection<T> {
        BufferedConnection {
            transport,
            output: Vec::with_capacity(4096),
            input: Vec::with_capacity(16 * 1024),
            input_pos: 0,
            muted: false,
        }
    }

    /// The wrapped transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Whether input is available without blocking (in either buffer).
    pub fn has_buffered_input(&self) -> bool {
        self.input_pos < self.input.len() || self.transport.has_buffered_input()
    }

    /// The next buffered input byte, if any.
    pub fn next_byte(&mut self) -> Option<u8> {
        let byte = self.input.get(self.input_pos).copied()?;
        self.input_pos += 1;
        Some(byte)
    }

    /// Reads more input, blocking until some arrives. Returns `Ok(0)` when
    /// the debugger closed the connection.
    pub fn fill(&mut self) -> std::io::Result<usize> {
        if self.input_pos >= self.input.len() {
            self.input.clear();
            self.input_pos = 0;
        }
        let start = self.input.len();
        self.input.resize(start + 16 * 1024, 0);
        let result = loop {
            match self.transport.read(&mut self.input[start..]) {
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let count = *result.as_ref().unwrap_or(&0);
        self.input.truncate(start + count);
        result
    }

    /// Sends raw bytes at once (the session's own replies).
    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.transport.write_all(bytes)?;
        self.transport.flush()
    }

    /// Starts or stops discarding replies.
    pub fn set_muted(&mut self, muted: bool) {
        self.muted = muted;
        self.output.clear();
    }
}

impl<T: Transport> gdbstub::conn::Connection for BufferedConnection<T> {
    type Error = std::io::Error;

    fn write(&mut self, byte: u8) -> Result<(), Self::Error> {
        if !self.muted {
            self.output.push(byte);
        }
        Ok(())
    }

    fn write_all(&mut self, buf: &[u8]) -> Result<(), Self::Error> {
        if !self.muted {
            self.output.extend_from_slice(buf);
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        if self.output.is_empty() {
            return Ok(());
        }
        let result = self.transport.write_all(&self.output);
        self.output.clear();
        result?;
        self.transport.flush()
    }
}

/// Lets gdbstub hold `&mut BufferedConnection` so that the session keeps the
/// connection when a protocol error consumes gdbstub's state machine.
impl<T: Transport> gdbstub::conn::Connection for &mut BufferedConnection<T> {
    type Error = std::io::Error;

    fn write(&mut self, byte: u8) -> Result<(), Self::Error> {
        (**self).write(byte)
    }

    fn write_all(&mut self, buf: &[u8]) -> Result<(), Self::Error> {
        gdbstub::conn::Connection::write_all(&mut **self, buf)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        gdbstub::conn::Connection::flush(&mut **self)
    }
}
