//! One debuggee: an RSP connection to its agent (or gdbserver), the program
//! whose symbols describe it, and what the session knows about it at the
//! current stop.
//!
//! The symbols core reads memory synchronously through [`Memory`]; the
//! RSP client is async. The session runs on a current-thread tokio
//! runtime that it drives with `block_on`, and is never inside one while
//! it calls into the symbols core, so [`TargetMemory`] can block on the
//! client for each read.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::path::PathBuf;
use std::rc::Rc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::runtime::Runtime;

use super::cloud::CloudClock;
use super::stepping::Activity;
use crate::rsp::{ResumeAction, RspClient, ThreadId};
use crate::symbols::{DebugInfo, FrameVariables, FunctionFrame, Memory, MemoryError, StackTrace};

/// A byte stream to a gdb server: TCP today, the relay's encrypted stream
/// later.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// The connection type every target uses.
pub type Transport = Box<dyn Stream>;

/// Size of the aligned blocks the per-stop memory cache keeps.
const BLOCK: u64 = 256;

/// Most blocks kept per stop.
const MAX_BLOCKS: usize = 4096;

/// Target memory read during one stop, in aligned blocks. It lives in the
/// [`Target`] (the symbols core's `CachedMemory` cannot, as it owns its
/// reader) and is cleared whenever the target runs.
#[derive(Debug, Default)]
pub struct BlockCache {
    blocks: HashMap<u64, Option<Box<[u8]>>>,
}

impl BlockCache {
    /// Forgets everything (the target ran).
    pub fn clear(&mut self) {
        self.blocks.clear();
    }
}

/// The symbols core's view of a stopped target's memory.
pub struct TargetMemory<'a> {
    /// The session's runtime, to block on RSP requests.
    pub runtime: &'a Runtime,
    /// The connection.
    pub rsp: &'a mut RspClient<Transport>,
    /// This stop's cache.
    pub cache: &'a mut BlockCache,
}

impl TargetMemory<'_> {
    fn read_direct(&mut self, address: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        let data = self
            .runtime
            .block_on(self.rsp.read_memory(address, buf.len()))
            .map_err(|error| MemoryError {
                address,
                len: buf.len(),
                reason: error.to_string(),
            })?;
        if data.len() < buf.len() {
            return Err(MemoryError {
                address,
                len: buf.len(),
                reason: format!("only {} bytes are readable", data.len()),
            });
        }
        buf.copy_from_slice(&data[..buf.len()]);
        Ok(())
    }
}

impl Memory for TargetMemory<'_> {
    fn read(&mut self, address: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        let len = buf.len() as u64;
        let Some(end) = address.checked_add(len) else {
            return self.read_direct(address, buf);
        };
        if len > 4 * BLOCK {
            return self.read_direct(address, buf);
        }
        if self.cache.blocks.len() >= MAX_BLOCKS {
            self.cache.blocks.clear();
        }
        let mut copied = 0usize;
        let mut start = address - address % BLOCK;
        while start < end {
            if !self.cache.blocks.contains_key(&start) {
                let block = self
                    .runtime
                    .block_on(self.rsp.read_memory(start, BLOCK as usize))
                    .ok()
                    .filter(|data| !data.is_empty())
                    .map(Vec::into_boxed_slice);
                self.cache.blocks.insert(start, block);
            }
            let block = self.cache.blocks.get(&start).and_then(Option::as_ref);
            let from = (address.max(start) - start) as usize;
            let to = (end.min(start.saturating_add(BLOCK)) - start) as usize;
            match block {
                Some(block) if block.len() >= to => {
                    buf[copied..copied + (to - from)].copy_from_slice(&block[from..to]);
                    copied += to - from;
                }
                // Unreadable (part of) a block: the exact range decides.
                _ => return self.read_direct(address, buf),
            }
            match start.checked_add(BLOCK) {
                Some(next) => start = next,
                None => break,
            }
        }
        Ok(())
    }
}

/// An executable whose symbols are loaded. A rebuilt binary at the same
/// path is a new `Program`; targets keep the one they started with.
pub struct Program {
    /// Where it was loaded from.
    pub path: PathBuf,
    /// The file's identity when loaded (to notice rebuilds).
    pub identity: Option<FileIdentity>,
    /// Its symbols. The load bias is set per query to the target's.
    pub info: DebugInfo,
    /// Breakpoint resolutions (by breakpoint id), as file addresses.
    pub resolved: HashMap<i64, Option<Resolved>>,
    /// File addresses of the panic hook, once looked up.
    pub panic_addresses: Option<Vec<u64>>,
}

/// Where a breakpoint resolved in one program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The line it was moved to (line breakpoints), or its function's line.
    pub line: Option<u32>,
    /// The source path, when known.
    pub path: Option<String>,
    /// File addresses (without load bias).
    pub addresses: Vec<u64>,
}

/// What identifies a file's contents cheaply: a rebuild that renames a new
/// file into place changes the inode, an in-place write the mtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileIdentity {
    inode: u64,
    device: u64,
    modified: Option<std::time::SystemTime>,
    len: u64,
}

impl FileIdentity {
    /// The identity of the file at `path`, if it exists.
    pub fn of(path: &std::path::Path) -> Option<FileIdentity> {
        use std::os::unix::fs::MetadataExt;
        let metadata = std::fs::metadata(path).ok()?;
        Some(FileIdentity {
            inode: metadata.ino(),
            device: metadata.dev(),
            modified: metadata.modified().ok(),
            len: metadata.len(),
        })
    }
}

/// A thread's call stack at the current stop.
pub struct Stack {
    /// Physical frames, top first.
    pub trace: StackTrace,
    /// The function levels of each physical frame, innermost first.
    pub levels: Vec<Vec<FunctionFrame>>,
}

/// The arguments and locals of one DAP frame, read once per stop.
pub type CachedVariables = Rc<FrameVariables>;

/// One debugged process.
pub struct Target {
    /// The session's id for it.
    pub id: u32,
    /// What to call it in messages ("HelloFunction instance 7f3a").
    pub label: String,
    /// The emulator's instance id, for pausing its timeout.
    pub instance: Option<String>,
    /// The connection.
    pub rsp: RspClient<Transport>,
    /// Index of its program in the session.
    pub program: usize,
    /// Its load bias (PIE base).
    pub bias: u64,
    /// Whether a resume is waiting for its stop.
    pub running: bool,
    /// What the session is doing with it.
    pub activity: Activity,
    /// The last resume sent (to repeat it after an interrupt).
    pub last_resume: Option<ResumeAction>,
    /// Threads at the last listing.
    pub threads: Vec<ThreadId>,
    /// Whether `threads` was listed at this stop.
    pub threads_fresh: bool,
    /// Thread names from the server.
    pub thread_names: HashMap<ThreadId, String>,
    /// The thread that stopped.
    pub stop_thread: Option<ThreadId>,
    /// A signal to deliver on the next resume (it stopped the program).
    pub pending_signal: Option<(ThreadId, u8)>,
    /// Temporary breakpoints of the step engine.
    pub temporary: BTreeSet<u64>,
    /// This stop's memory cache.
    pub memory: BlockCache,
    /// This stop's stacks.
    pub stacks: HashMap<ThreadId, Rc<Stack>>,
    /// Stopped before configuration is done, waiting for `configurationDone`.
    pub held: bool,
    /// A `pause` was asked for and not yet reported.
    pub pause_requested: bool,
    /// Interrupts sent by the session itself (to change breakpoints) whose
    /// stops must not be reported.
    pub silent_interrupts: u32,
    /// The invocation it runs, if known.
    pub request_id: Option<String>,
    /// Its process id, if the server says.
    pub pid: Option<u64>,
    /// In place: the cloud invocation's clock, which does not pause.
    pub cloud: Option<CloudClock>,
}

impl Target {
    /// Forgets everything that is only true while stopped.
    pub fn mark_running(&mut self) {
        if let Some(clock) = &mut self.cloud {
            clock.stop_warnings();
        }
        self.running = true;
        self.threads_fresh = false;
        self.memory.clear();
        self.stacks.clear();
    }

    /// The thread to use when a request names none of this target's
    /// threads: the one that stopped, else the first known.
    pub fn default_thread(&self) -> Option<ThreadId> {
        self.stop_thread.or_else(|| self.threads.first().copied())
    }
}

/// Runtime address ranges of a program's text, for checks.
pub fn contains(ranges: &[Range<u64>], pc: u64) -> bool {
    ranges.iter().any(|range| range.contains(&pc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_identity_changes_with_a_rename_into_place() {
        let dir = std::env::temp_dir().join(format!("fogbank-dap-identity-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("bootstrap");
        let _ = std::fs::write(&path, b"one");
        let first = FileIdentity::of(&path);
        let staged = dir.join("staged");
        let _ = std::fs::write(&staged, b"two");
        let _ = std::fs::rename(&staged, &path);
        let second = FileIdentity::of(&path);
        assert!(first.is_some() && second.is_some());
        assert_ne!(first, second);
        assert_eq!(FileIdentity::of(&dir.join("missing")), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
