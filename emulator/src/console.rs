//! The console: everything Fogbank prints while serving.
//!
//! Function output, `START`/`END`/`REPORT` lines and access logs arrive from
//! many tasks at once and at high rates (a benchmark produces tens of
//! thousands of lines a second). Lines are appended to one shared buffer,
//! and a writer thread writes the buffer out every few milliseconds (or at
//! once when it grows large). That costs one `write` per interval instead
//! of a thread wake-up per line, and never blocks a runtime worker on a slow
//! terminal.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

/// A cheap-to-clone handle for printing lines.
#[derive(Clone)]
pub struct Console {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` for a silent console.
    shared: Option<Arc<Shared>>,
    colour: bool,
}

struct Shared {
    state: Mutex<Buffer>,
    /// Wakes the writer early: the buffer is large, or a flush is waited on.
    wake: Condvar,
    /// Tells flushers that a write finished.
    written: Condvar,
}

#[derive(Default)]
struct Buffer {
    pending: Vec<u8>,
    /// Incremented per line appended; a flush waits until `written`
    /// reaches the value it saw.
    appended: u64,
    written: u64,
    flush_requested: bool,
    closed: bool,
}

/// How long a line may wait in the buffer.
const INTERVAL: Duration = Duration::from_millis(5);
/// A buffer this large is written at once.
const HIGH_WATER: usize = 64 * 1024;

/// The ANSI colours function prefixes cycle through on a terminal.
const PALETTE: [&str; 6] = [
    "\x1b[36m", "\x1b[33m", "\x1b[35m", "\x1b[32m", "\x1b[34m", "\x1b[31m",
];
const RESET: &str = "\x1b[0m";

impl Console {
    /// A console writing to the process's standard output, coloured when
    /// that is a terminal.
    pub fn stdout() -> Console {
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Console::spawn(Box::new(std::io::stdout()), colour)
    }

    /// A console that drops everything, for tests that only look at
    /// results.
    pub fn silent() -> Console {
        Console {
            inner: Arc::new(Inner {
                shared: None,
                colour: false,
            }),
        }
    }

    /// A console writing to any sink; the writer thread owns it.
    pub fn spawn(mut sink: Box<dyn Write + Send>, colour: bool) -> Console {
        let shared = Arc::new(Shared {
            state: Mutex::new(Buffer::default()),
            wake: Condvar::new(),
            written: Condvar::new(),
        });
        let writer_shared = shared.clone();
        let spawned = thread::Builder::new()
            .name("fogbank-console".to_owned())
            .spawn(move || {
                let shared = writer_shared;
                let mut batch = Vec::with_capacity(HIGH_WATER);
                loop {
                    let (closed, upto) = {
                        let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
                        if state.pending.len() < HIGH_WATER
                            && !state.flush_requested
                            && !state.closed
                        {
                            state = shared
                                .wake
                                .wait_timeout(state, INTERVAL)
                                .unwrap_or_else(PoisonError::into_inner)
                                .0;
                        }
                        state.flush_requested = false;
                        std::mem::swap(&mut batch, &mut state.pending);
                        (state.closed, state.appended)
                    };
                    if !batch.is_empty() {
                        // A closed or failing terminal must not take the
                        // emulator down; output is best effort by nature.
                        let _ = sink.write_all(&batch);
                        let _ = sink.flush();
                        batch.clear();
                    }
                    {
                        let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
                        state.written = upto;
                    }
                    shared.written.notify_all();
                    if closed {
                        break;
                    }
                }
            });
        Console {
            inner: Arc::new(Inner {
                shared: spawned.ok().map(|_| shared),
                colour,
            }),
        }
    }

    /// True when output goes to a terminal and may carry colour codes.
    pub fn colour(&self) -> bool {
        self.inner.colour
    }

    /// Prints one line (a newline is appended).
    pub fn line(&self, text: &str) {
        self.append(&[text.as_bytes()]);
    }

    /// Prints one line prefixed with a source name, such as a function's
    /// logical ID, coloured on a terminal.
    pub fn prefixed(&self, prefix: &Prefix, text: &[u8]) {
        self.append(&[prefix.rendered.as_bytes(), text]);
    }

    /// Builds the prefix for a source once, so the per-line cost is a copy.
    pub fn prefix(&self, name: &str) -> Prefix {
        let rendered = if self.inner.colour {
            let colour = PALETTE[palette_index(name)];
            format!("{colour}[{name}]{RESET} ")
        } else {
            format!("[{name}] ")
        };
        Prefix { rendered }
    }

    /// Waits until every line printed before this call has been written.
    pub fn flush(&self) {
        let Some(shared) = &self.inner.shared else {
            return;
        };
        let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        let target = state.appended;
        state.flush_requested = true;
        shared.wake.notify_one();
        while state.written < target {
            let (next, timeout) = shared
                .written
                .wait_timeout(state, Duration::from_secs(5))
                .unwrap_or_else(PoisonError::into_inner);
            state = next;
            if timeout.timed_out() {
                // A wedged terminal must not hang shutdown.
                break;
            }
        }
    }

    fn append(&self, parts: &[&[u8]]) {
        let Some(shared) = &self.inner.shared else {
            return;
        };
        let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        for part in parts {
            state.pending.extend_from_slice(part);
        }
        state.pending.push(b'\n');
        state.appended += 1;
        if state.pending.len() >= HIGH_WATER {
            shared.wake.notify_one();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle going away writes what is left and ends the
        // writer thread.
        if let Some(shared) = &self.shared {
            let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.closed = true;
            shared.wake.notify_one();
        }
    }
}

/// A rendered line prefix, see [`Console::prefix`].
#[derive(Clone, Debug)]
pub struct Prefix {
    rendered: String,
}

fn palette_index(name: &str) -> usize {
    // A stable hash, so a function keeps its colour across runs.
    let sum = name.bytes().fold(0usize, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(b as usize)
    });
    sum % PALETTE.len()
}

/// What a console made by [`Console::capturing`] has written, for tests.
#[cfg(test)]
pub(crate) struct Captured {
    bytes: Arc<Mutex<Vec<u8>>>,
    console: Console,
}

#[cfg(test)]
impl Console {
    /// A console whose output the test reads back.
    pub(crate) fn capturing() -> (Console, Captured) {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let console = Console::spawn(Box::new(CaptureSink(bytes.clone())), false);
        (console.clone(), Captured { bytes, console })
    }
}

#[cfg(test)]
impl Captured {
    /// Everything written so far, once the console's writer thread has
    /// caught up.
    pub(crate) fn text(&self) -> String {
        self.console.flush();
        String::from_utf8_lossy(&self.bytes.lock().unwrap_or_else(PoisonError::into_inner))
            .into_owned()
    }
}

#[cfg(test)]
#[derive(Default)]
struct CaptureSink(Arc<Mutex<Vec<u8>>>);

#[cfg(test)]
impl Write for CaptureSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_their_order_and_prefix() {
        let (console, captured) = Console::capturing();
        let prefix = console.prefix("HelloFunction");
        console.line("START");
        console.prefixed(&prefix, b"hello");
        console.line("END");
        assert_eq!(captured.text(), "START\n[HelloFunction] hello\nEND\n");
    }

    #[test]
    fn colour_prefix_is_stable_per_name() {
        let console = Console::spawn(Box::new(CaptureSink::default()), true);
        let a = console.prefix("A").rendered;
        assert_eq!(a, console.prefix("A").rendered);
        assert!(a.starts_with("\x1b["));
    }
}
