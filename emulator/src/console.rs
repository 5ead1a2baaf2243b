//! The console: everything Fogbank prints while serving.
//!
//! Function output, `START`/`END`/`REPORT` lines and access logs arrive from
//! many tasks at once and at high rates (a benchmark produces tens of
//! thousands of lines a second). Lines are therefore handed to one writer
//! thread through a channel; the writer batches whatever is queued into one
//! `write` and never blocks a runtime worker on a slow terminal.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;

/// A cheap-to-clone handle for printing lines.
#[derive(Clone)]
pub struct Console {
    inner: Arc<Inner>,
}

struct Inner {
    sender: Option<mpsc::Sender<Message>>,
    colour: bool,
}

enum Message {
    Line(Vec<u8>),
    Flush(mpsc::Sender<()>),
}

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
                sender: None,
                colour: false,
            }),
        }
    }

    /// A console writing to any sink; the writer thread owns it.
    pub fn spawn(mut sink: Box<dyn Write + Send>, colour: bool) -> Console {
        let (sender, receiver) = mpsc::channel::<Message>();
        let spawned = thread::Builder::new()
            .name("fogbank-console".to_owned())
            .spawn(move || {
                let mut buffer = Vec::with_capacity(64 * 1024);
                while let Ok(first) = receiver.recv() {
                    let mut flush_waiters = Vec::new();
                    let mut next = Some(first);
                    // Drain everything already queued so a burst of lines
                    // costs one write system call.
                    while let Some(message) = next {
                        match message {
                            Message::Line(line) => buffer.extend_from_slice(&line),
                            Message::Flush(done) => flush_waiters.push(done),
                        }
                        if buffer.len() > 256 * 1024 {
                            break;
                        }
                        next = receiver.try_recv().ok();
                    }
                    // A closed or failing terminal must not take the
                    // emulator down; output is best effort by nature.
                    let _ = sink.write_all(&buffer);
                    let _ = sink.flush();
                    buffer.clear();
                    for done in flush_waiters {
                        let _ = done.send(());
                    }
                }
            });
        let sender = spawned.ok().map(|_| sender);
        Console {
            inner: Arc::new(Inner { sender, colour }),
        }
    }

    /// True when output goes to a terminal and may carry colour codes.
    pub fn colour(&self) -> bool {
        self.inner.colour
    }

    /// Prints one line (a newline is appended).
    pub fn line(&self, text: &str) {
        let mut line = Vec::with_capacity(text.len() + 1);
        line.extend_from_slice(text.as_bytes());
        line.push(b'\n');
        self.send(line);
    }

    /// Prints one line prefixed with a source name, such as a function's
    /// logical ID, coloured on a terminal.
    pub fn prefixed(&self, prefix: &Prefix, text: &[u8]) {
        let mut line = Vec::with_capacity(prefix.rendered.len() + text.len() + 1);
        line.extend_from_slice(prefix.rendered.as_bytes());
        line.extend_from_slice(text);
        line.push(b'\n');
        self.send(line);
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
        if let Some(sender) = &self.inner.sender {
            let (done, wait) = mpsc::channel();
            if sender.send(Message::Flush(done)).is_ok() {
                let _ = wait.recv();
            }
        }
    }

    fn send(&self, line: Vec<u8>) {
        if let Some(sender) = &self.inner.sender {
            let _ = sender.send(Message::Line(line));
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
    let sum = name
        .bytes()
        .fold(0usize, |acc, b| acc.wrapping_mul(31).wrapping_add(b as usize));
    sum % PALETTE.len()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::Mutex;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_keep_their_order_and_prefix() {
        let shared = Shared::default();
        let console = Console::spawn(Box::new(shared.clone()), false);
        let prefix = console.prefix("HelloFunction");
        console.line("START");
        console.prefixed(&prefix, b"hello");
        console.line("END");
        console.flush();
        let text = String::from_utf8(shared.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "START\n[HelloFunction] hello\nEND\n");
    }

    #[test]
    fn colour_prefix_is_stable_per_name() {
        let console = Console::spawn(Box::new(Shared::default()), true);
        let a = console.prefix("A").rendered;
        assert_eq!(a, console.prefix("A").rendered);
        assert!(a.starts_with("\x1b["));
    }
}
