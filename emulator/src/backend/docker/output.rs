//! A container's stdout and stderr, carried by a named pipe (FIFO) that the
//! container's command writes into and Fogbank reads on the host.
//!
//! Why not the Engine API's attach or logs stream: those reach Fogbank
//! through containerd's shim and dockerd, so a line the function printed
//! just before answering may still be in flight when the answer arrives,
//! and stdout and stderr arrive as separate streams whose order is lost.
//! With a FIFO, every byte the function wrote before it answered is in the
//! kernel's pipe buffer by then, so [`FifoOutput::drain`] is an exact flush
//! (one non-blocking read, as in the process backend), stdout and stderr
//! keep their relative order as they share one log stream in Lambda, and
//! dockerd does no work per log line.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::Interest;
use tokio::net::unix::pipe;
use tokio_util::sync::CancellationToken;

use crate::invoke::output::InstanceOutput;

/// The host end of one container's output pipe.
pub(crate) struct FifoOutput {
    path: PathBuf,
    reader: pipe::Receiver,
    lines: Mutex<LineSplitter>,
    output: Arc<InstanceOutput>,
    /// Stops the pump once the container has exited and been drained.
    stop: CancellationToken,
}

impl FifoOutput {
    /// Makes the FIFO at `path` (writable by the container's unprivileged
    /// user) and opens its read end.
    pub fn create(path: &Path, output: Arc<InstanceOutput>) -> io::Result<Arc<FifoOutput>> {
        let _ = std::fs::remove_file(path);
        nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .map_err(io::Error::from)?;
        // The mode is set after creation so that the umask cannot narrow it:
        // the function runs as another user and must be able to write.
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o622))?;
        // Opening read-write keeps a writer (us) on the pipe, so the open
        // does not block and reads never see end-of-file before the
        // container has opened its end.
        let reader = pipe::OpenOptions::new()
            .read_write(true)
            .open_receiver(path)?;
        let fifo = Arc::new(FifoOutput {
            path: path.to_path_buf(),
            reader,
            lines: Mutex::new(LineSplitter::default()),
            output,
            stop: CancellationToken::new(),
        });
        tokio::spawn(pump(fifo.clone()));
        Ok(fifo)
    }

    /// Passes on everything in the pipe now. Returns once the pipe is empty.
    ///
    /// This reads the pipe directly rather than through tokio's readiness,
    /// which may not have caught up yet with bytes written an instant ago:
    /// those are exactly the lines a flush must not miss.
    pub fn drain(&self) {
        let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match read_pipe(&self.reader, &mut chunk) {
                Ok(0) => return,
                Ok(n) => lines.push(&chunk[..n], &self.output),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
        }
    }

    /// Like `drain`, but through tokio's readiness, which it clears once
    /// the pipe is empty so that the pump sleeps until the next write.
    fn drain_ready(&self) {
        let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.reader.try_io(|| read_pipe(&self.reader, &mut chunk)) {
                Ok(0) => return,
                Ok(n) => lines.push(&chunk[..n], &self.output),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
        }
    }

    /// Drains the pipe a last time, passes on a final unterminated line,
    /// stops the pump and deletes the FIFO.
    pub fn finish(&self) {
        self.drain();
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .finish(&self.output);
        self.stop.cancel();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads the pipe as output comes, until [`FifoOutput::finish`].
async fn pump(fifo: Arc<FifoOutput>) {
    loop {
        tokio::select! {
            () = fifo.stop.cancelled() => return,
            ready = fifo.reader.ready(Interest::READABLE) => {
                if ready.is_err() {
                    return;
                }
                fifo.drain_ready();
            }
        }
    }
}

/// One non-blocking `read` of the pipe.
fn read_pipe(reader: &pipe::Receiver, buffer: &mut [u8]) -> io::Result<usize> {
    nix::unistd::read(reader, buffer).map_err(io::Error::from)
}

/// Splits a byte stream into lines, bounding the length of any one line.
#[derive(Default)]
pub(crate) struct LineSplitter {
    partial: Vec<u8>,
}

/// Longer lines are split, so a function printing megabytes without a
/// newline cannot grow our memory without bound.
const MAX_LINE: usize = 256 * 1024;

impl LineSplitter {
    pub fn push(&mut self, mut bytes: &[u8], output: &InstanceOutput) {
        while let Some(newline) = bytes.iter().position(|&b| b == b'\n') {
            let (line, rest) = bytes.split_at(newline);
            if self.partial.is_empty() {
                output.function_line(strip_cr(line));
            } else {
                self.partial.extend_from_slice(line);
                output.function_line(strip_cr(&self.partial));
                self.partial.clear();
            }
            bytes = &rest[1..];
        }
        self.partial.extend_from_slice(bytes);
        while self.partial.len() >= MAX_LINE {
            let rest = self.partial.split_off(MAX_LINE);
            output.function_line(&self.partial);
            self.partial = rest;
        }
    }

    pub fn finish(&mut self, output: &InstanceOutput) {
        if !self.partial.is_empty() {
            output.function_line(strip_cr(&self.partial));
            self.partial.clear();
        }
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::console::Console;
    use std::io::Write;

    fn check(chunks: &[&[u8]], expected: &str) {
        let output = InstanceOutput::new("F".into(), Console::silent(), None);
        output.begin_capture();
        let mut splitter = LineSplitter::default();
        for chunk in chunks {
            splitter.push(chunk, &output);
        }
        splitter.finish(&output);
        assert_eq!(output.end_capture(), expected);
    }

    #[test]
    fn lines_are_split_across_chunks() {
        check(
            &[b"hel", b"lo\r\nwor", b"ld\npartial"],
            "hello\nworld\npartial\n",
        );
        check(&[b"\n\n"], "\n\n");
        check(&[], "");
    }

    #[test]
    fn very_long_lines_are_cut() {
        let long = vec![b'a'; MAX_LINE + 10];
        let output = InstanceOutput::new("F".into(), Console::silent(), None);
        let mut splitter = LineSplitter::default();
        splitter.push(&long, &output);
        assert_eq!(splitter.partial.len(), 10);
    }

    #[tokio::test]
    async fn drain_passes_on_everything_written_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let output = Arc::new(InstanceOutput::new("F".into(), Console::silent(), None));
        let fifo = FifoOutput::create(&path, output.clone()).unwrap();
        output.begin_capture();
        let mut writer = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        writer.write_all(b"one\ntwo\nthree").unwrap();
        fifo.drain();
        assert_eq!(output.end_capture(), "one\ntwo\n");
        output.begin_capture();
        fifo.finish();
        assert_eq!(output.end_capture(), "three\n");
        assert!(!path.exists());
    }
}
