//! A small synchronous DAP client for tests and benchmarks: it runs a debug
//! adapter process (fogbank-dap, lldb-dap) and talks to it over its
//! standard input and output, as an editor does. Messages are plain JSON
//! values; every message received is kept for transcript snapshots.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fogbank_dap::codec::{Decoded, Decoder};
use serde_json::{Value, json};

/// A message received, with when it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    /// The message.
    pub message: Value,
    /// When it arrived.
    pub at: Instant,
}

/// A debug adapter process and the conversation with it.
pub struct DapClient {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Received>,
    /// Messages received but not yet consumed by a wait.
    pending: VecDeque<Received>,
    /// Everything received, in order.
    pub transcript: Vec<Value>,
    next_seq: i64,
    stderr: Arc<Mutex<String>>,
}

impl DapClient {
    /// Starts `program` with `args`, in `cwd`, with extra `env`.
    pub fn spawn(program: &Path, args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> DapClient {
        let mut child = Command::new(program)
            .args(args)
            .current_dir(cwd)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", program.display()));
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = child.stdout.take().expect("stdout");
        let mut stderr_pipe = child.stderr.take().expect("stderr");
        let (sender, incoming) = channel();
        std::thread::spawn(move || {
            let mut decoder = Decoder::new(256 << 20);
            let mut buffer = vec![0u8; 64 * 1024];
            loop {
                let count = match stdout.read(&mut buffer) {
                    Ok(0) | Err(_) => return,
                    Ok(count) => count,
                };
                decoder.push(&buffer[..count]);
                while let Some(item) = decoder.next_item() {
                    let Decoded::Frame(body) = item else { continue };
                    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
                        continue;
                    };
                    if sender
                        .send(Received {
                            message,
                            at: Instant::now(),
                        })
                        .is_err()
                    {
                        return;
                    }
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let stderr = stderr.clone();
            std::thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                while let Ok(count) = stderr_pipe.read(&mut buffer) {
                    if count == 0 {
                        return;
                    }
                    let text = String::from_utf8_lossy(&buffer[..count]).into_owned();
                    if std::env::var_os("FOGBANK_TEST_ECHO").is_some() {
                        eprint!("adapter| {text}");
                    }
                    let mut all = stderr.lock().unwrap();
                    if all.len() < (1 << 20) {
                        all.push_str(&text);
                    }
                }
            });
        }
        DapClient {
            child,
            stdin,
            incoming,
            pending: VecDeque::new(),
            transcript: Vec::new(),
            next_seq: 0,
            stderr,
        }
    }

    /// What the adapter wrote on standard error.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends raw bytes (for malformed-frame tests).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).expect("write to the adapter");
        self.stdin.flush().expect("flush");
    }

    /// Sends a request and returns its sequence number.
    pub fn send(&mut self, command: &str, arguments: Value) -> i64 {
        self.next_seq += 1;
        let mut message = json!({ "seq": self.next_seq, "type": "request", "command": command });
        if !arguments.is_null() {
            message["arguments"] = arguments;
        }
        let body = serde_json::to_vec(&message).expect("serialise");
        self.send_raw(&fogbank_dap::codec::encode(&body));
        self.next_seq
    }

    fn receive(&mut self, deadline: Instant) -> Option<Received> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match self.incoming.recv_timeout(remaining) {
            Ok(received) => {
                if std::env::var_os("FOGBANK_TEST_ECHO").is_some() {
                    eprintln!("dap<- {}", received.message);
                }
                self.transcript.push(received.message.clone());
                Some(received)
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Waits for the first message (pending or new) that `wanted` accepts
    /// and removes it; other messages stay pending.
    pub fn wait_for(
        &mut self,
        what: &str,
        within: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> Received {
        self.try_wait_for(within, wanted).unwrap_or_else(|| {
            panic!(
                "timed out after {within:?} waiting for {what}; pending messages: {:#?}\nadapter stderr:\n{}",
                self.pending.iter().map(|r| &r.message).collect::<Vec<_>>(),
                self.stderr()
            )
        })
    }

    /// Like [`DapClient::wait_for`], returning `None` on timeout.
    pub fn try_wait_for(
        &mut self,
        within: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> Option<Received> {
        if let Some(index) = self.pending.iter().position(|r| wanted(&r.message)) {
            return self.pending.remove(index);
        }
        let deadline = Instant::now() + within;
        loop {
            let received = self.receive(deadline)?;
            if wanted(&received.message) {
                return Some(received);
            }
            self.pending.push_back(received);
        }
    }

    /// Waits for the response to request `seq`.
    pub fn response(&mut self, seq: i64, within: Duration) -> Received {
        self.wait_for(&format!("the response to request {seq}"), within, |m| {
            m["type"] == "response" && m["request_seq"] == seq
        })
    }

    /// Sends a request and waits for its response, which must succeed;
    /// returns the response body.
    pub fn request(&mut self, command: &str, arguments: Value, within: Duration) -> Value {
        let seq = self.send(command, arguments);
        let response = self.response(seq, within).message;
        assert_eq!(
            response["success"],
            true,
            "{command} failed: {response}\nadapter stderr:\n{}",
            self.stderr()
        );
        response["body"].clone()
    }

    /// Waits for an event named `event`.
    pub fn event(&mut self, event: &str, within: Duration) -> Received {
        self.wait_for(&format!("a `{event}` event"), within, |m| {
            m["type"] == "event" && m["event"] == event
        })
    }

    /// Waits for an `output` event whose text contains `needle`.
    pub fn output_containing(&mut self, needle: &str, within: Duration) -> Received {
        self.wait_for(&format!("output containing {needle:?}"), within, |m| {
            m["event"] == "output"
                && m["body"]["output"]
                    .as_str()
                    .is_some_and(|text| text.contains(needle))
        })
    }

    /// Every `output` event text received so far (pending or consumed).
    pub fn all_output(&self) -> String {
        self.transcript
            .iter()
            .filter(|m| m["event"] == "output")
            .filter_map(|m| m["body"]["output"].as_str())
            .collect()
    }

    /// Whether the adapter process has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits for the adapter to exit, killing it after `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for DapClient {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
