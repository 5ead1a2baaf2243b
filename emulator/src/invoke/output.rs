//! Where a function instance's log lines go: the console, prefixed with the
//! function's name, and the per-invocation capture behind
//! `X-Amz-Log-Type: Tail`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::broadcast;

use crate::console::{Console, Prefix};

/// Lambda returns at most the last 4 KB of an invocation's log.
pub const TAIL_BYTES: usize = 4 * 1024;

/// A log line of one function, published for subscribers such as the
/// debugger, which forwards function output to the IDE.
#[derive(Debug, Clone)]
pub struct FunctionLogLine {
    pub function: Arc<str>,
    pub line: Arc<[u8]>,
}

/// The log sink of one instance.
pub struct InstanceOutput {
    function: Arc<str>,
    console: Console,
    prefix: Prefix,
    capture: Mutex<Option<Vec<u8>>>,
    subscribers: Option<broadcast::Sender<FunctionLogLine>>,
    /// Lines held back while the instance is only prepared: a reload
    /// starts the new version's instance before its syntax check ends, and
    /// a version whose check fails is discarded together with its output,
    /// which would only repeat the check's error as a crash of the live
    /// function.
    held: Mutex<Option<HeldLines>>,
    /// True while lines are held: the common case, output shown as it
    /// comes, then takes no lock.
    holding: AtomicBool,
}

#[derive(Default)]
struct HeldLines {
    lines: Vec<Held>,
    /// Lines past [`MAX_HELD_LINES`], counted rather than kept.
    dropped: usize,
}

/// A line kept until the prepared instance is adopted.
enum Held {
    Function(Box<[u8]>),
    Platform(String),
}

/// At most this many lines are held; a prepared instance only runs its
/// init, so more than this is a flood whose head is kept.
const MAX_HELD_LINES: usize = 1000;

impl InstanceOutput {
    pub fn new(
        function: Arc<str>,
        console: Console,
        subscribers: Option<broadcast::Sender<FunctionLogLine>>,
    ) -> InstanceOutput {
        let prefix = console.prefix(&function);
        InstanceOutput {
            function,
            console,
            prefix,
            capture: Mutex::new(None),
            subscribers,
            held: Mutex::new(None),
            holding: AtomicBool::new(false),
        }
    }

    /// Holds every line back until [`release`](Self::release); dropping
    /// the output unreleased discards them.
    pub fn holding(self) -> InstanceOutput {
        *self.held.lock().unwrap_or_else(PoisonError::into_inner) = Some(HeldLines::default());
        self.holding.store(true, Ordering::SeqCst);
        self
    }

    /// Shows the held lines and every later one as they come.
    pub fn release(&self) {
        // Replayed under the lock, so a line arriving meanwhile waits and
        // follows the older ones.
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(HeldLines { lines, dropped }) = held.take() {
            for line in lines {
                match line {
                    Held::Function(line) => self.show_function_line(&line),
                    Held::Platform(line) => self.show_platform_line(&line),
                }
            }
            if dropped > 0 {
                self.show_platform_line(&format!(
                    "({dropped} more lines written before the instance served were not kept)"
                ));
            }
        }
        self.holding.store(false, Ordering::SeqCst);
    }

    /// Keeps `line` if output is held; gives it back otherwise.
    fn hold<T>(&self, line: T, wrap: impl FnOnce(T) -> Held) -> Option<T> {
        if !self.holding.load(Ordering::SeqCst) {
            return Some(line);
        }
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        match held.as_mut() {
            Some(held) => {
                if held.lines.len() < MAX_HELD_LINES {
                    held.lines.push(wrap(line));
                } else {
                    held.dropped += 1;
                }
                None
            }
            None => Some(line),
        }
    }

    /// One line written by the function (without its newline).
    pub fn function_line(&self, line: &[u8]) {
        if let Some(line) = self.hold(line, |line| Held::Function(Box::from(line))) {
            self.show_function_line(line);
        }
    }

    fn show_function_line(&self, line: &[u8]) {
        self.console.prefixed(&self.prefix, line);
        self.record(line);
        if let Some(subscribers) = &self.subscribers
            && subscribers.receiver_count() > 0
        {
            let _ = subscribers.send(FunctionLogLine {
                function: self.function.clone(),
                line: Arc::from(line),
            });
        }
    }

    /// One line Fogbank writes on the function's behalf (`START`, `END`,
    /// `REPORT`), which Lambda also puts in the function's log.
    pub fn platform_line(&self, line: &str) {
        if let Some(line) = self.hold(line, |line| Held::Platform(line.to_owned())) {
            self.show_platform_line(line);
        }
    }

    fn show_platform_line(&self, line: &str) {
        self.console.prefixed(&self.prefix, line.as_bytes());
        self.record(line.as_bytes());
    }

    /// Starts collecting lines for one invocation's log tail.
    pub fn begin_capture(&self) {
        *self.capture.lock().unwrap_or_else(PoisonError::into_inner) = Some(Vec::new());
    }

    /// Stops collecting and returns the last [`TAIL_BYTES`] of what was
    /// captured, cut at a character boundary.
    pub fn end_capture(&self) -> String {
        let captured = self
            .capture
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or_default();
        tail(&captured)
    }

    fn record(&self, line: &[u8]) {
        let mut guard = self.capture.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(buffer) = guard.as_mut() {
            buffer.extend_from_slice(line);
            buffer.push(b'\n');
            // Keep memory bounded for chatty functions: only the tail is
            // ever returned.
            if buffer.len() > 4 * TAIL_BYTES {
                let cut = buffer.len() - TAIL_BYTES;
                buffer.drain(..cut);
            }
        }
    }
}

fn tail(captured: &[u8]) -> String {
    let start = captured.len().saturating_sub(TAIL_BYTES);
    let text = String::from_utf8_lossy(&captured[start..]);
    // A cut in the middle of a multi-byte character shows up as a leading
    // replacement character; drop it rather than return a broken glyph.
    text.trim_start_matches('\u{FFFD}').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_only_the_tail() {
        let output = InstanceOutput::new("F".into(), Console::silent(), None);
        output.function_line(b"before capture");
        output.begin_capture();
        output.platform_line("START RequestId: 1 Version: $LATEST");
        for _ in 0..1000 {
            output.function_line(b"0123456789");
        }
        output.platform_line("END RequestId: 1");
        let tail = output.end_capture();
        assert!(tail.len() <= TAIL_BYTES);
        assert!(tail.ends_with("END RequestId: 1\n"));
        assert!(!tail.contains("before capture"));
        assert_eq!(output.end_capture(), "");
    }

    #[test]
    fn held_lines_show_only_once_released() {
        let (console, captured) = Console::capturing();
        let kept = InstanceOutput::new("Kept".into(), console.clone(), None).holding();
        let discarded = InstanceOutput::new("Gone".into(), console, None).holding();
        kept.function_line(b"loading the model");
        discarded.function_line(b"SyntaxError: invalid syntax");
        assert_eq!(captured.text(), "");
        kept.release();
        kept.function_line(b"ready");
        drop(discarded);
        assert_eq!(captured.text(), "[Kept] loading the model\n[Kept] ready\n");
    }

    #[test]
    fn tail_does_not_start_with_a_broken_character() {
        // "é" is two bytes; the 4 KB window starts in its middle.
        let mut bytes = "é".as_bytes().to_vec();
        bytes.extend(std::iter::repeat_n(b'a', TAIL_BYTES - 1));
        let text = tail(&bytes);
        assert!(!text.starts_with('\u{FFFD}'));
    }
}
