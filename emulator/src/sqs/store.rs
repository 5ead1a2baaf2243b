//! The durable store: an append-only log of engine [`Change`]s with group
//! commit, compacted by rewriting it as a snapshot.
//!
//! Why a purpose-built log rather than an embedded database: every SQS
//! operation already is a small ordered state change, the engine keeps the
//! whole state in memory anyway, and the only reads happen once at start.
//! A log appends each group of requests with one `write(2)` and nothing
//! else (no B-tree pages, no second copy in a WAL), which is the cheapest
//! possible durable write, and recovery is a replay.
//!
//! Format: the file starts with [`MAGIC`], then frames of
//! `[payload length: u32 LE][crc32 of payload: u32 LE][payload]`, where a
//! payload is a postcard-encoded `Vec<Change>`: all changes of one request,
//! so a request is recovered entirely or not at all. A torn or corrupt tail
//! (a crash in the middle of a write) is cut off at the last good frame.
//!
//! Durability: a request is acknowledged once its frame was written with
//! `write(2)`, so it is in the OS page cache and survives `kill -9` of
//! Fogbank. The writer also calls `fdatasync` at most every
//! [`SYNC_INTERVAL`] while there is unsynced data, so a power loss or kernel
//! crash loses at most that much acknowledged work; [`SyncMode::EveryCommit`]
//! syncs each group before acknowledging it instead.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::engine::Change;
use super::types::SqsError;

/// The first bytes of every log file.
const MAGIC: &[u8; 8] = b"FBSQS01\n";
/// The largest frame the reader accepts; a larger length is corruption.
const MAX_FRAME: usize = 256 * 1024 * 1024;
/// How often unsynced data is flushed to the device.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(200);
/// How many requests one group commit takes at most.
const MAX_GROUP: usize = 4096;

/// When the writer calls `fdatasync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// After every group, before acknowledging it: survives power loss.
    EveryCommit,
    /// Every [`SYNC_INTERVAL`] in the background: survives `kill -9`.
    Periodic,
}

/// How a request waits for its frame to be written.
pub(crate) enum Ack {
    Async(tokio::sync::oneshot::Sender<Result<(), SqsError>>),
    Blocking(mpsc::Sender<Result<(), SqsError>>),
}

impl Ack {
    fn send(self, result: Result<(), SqsError>) {
        // A requester that went away (a dropped HTTP connection) no longer
        // needs the answer; the write itself happened regardless.
        match self {
            Ack::Async(tx) => {
                let _ = tx.send(result);
            }
            Ack::Blocking(tx) => {
                let _ = tx.send(result);
            }
        }
    }
}

enum Job {
    Append {
        changes: Vec<Change>,
        ack: Ack,
    },
    /// Replace the log with a snapshot; later appends go to the new file.
    Rotate {
        snapshot: Vec<Change>,
        ack: Option<Ack>,
    },
}

/// The handle the service holds. Sending is non-blocking; the writer thread
/// does the I/O. Jobs are written in the order they were submitted, which
/// the service makes equal to the order the engine applied them by
/// submitting while it holds the engine lock.
pub(crate) struct Store {
    tx: Option<mpsc::Sender<Job>>,
    writer: Option<thread::JoinHandle<()>>,
    /// Set by the writer when the log has grown enough to be compacted.
    compaction_due: Arc<AtomicBool>,
    /// Bytes in the current log, for tests and diagnostics.
    log_bytes: Arc<AtomicU64>,
    _lock: LockFile,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// The state directory's lock: one Fogbank per state directory.
struct LockFile(#[allow(dead_code)] nix::fcntl::Flock<File>);

/// What [`Store::open`] recovered.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub changes: Vec<Vec<Change>>,
    /// Bytes cut off a torn tail, 0 after a clean shutdown.
    pub truncated_bytes: u64,
}

impl Store {
    /// Opens (creating if needed) the log under `dir`, reads every intact
    /// frame and starts the writer. The caller replays the changes, then
    /// calls [`Store::rotate_blocking`] with a snapshot so the log starts
    /// compact.
    pub(crate) fn open(
        dir: &Path,
        sync: SyncMode,
        compact_after_bytes: u64,
    ) -> Result<(Store, Recovered), SqsError> {
        let err = |detail: String| SqsError::OpenStore {
            path: dir.to_owned(),
            detail,
        };
        std::fs::create_dir_all(dir).map_err(|e| err(format!("creating the directory: {e}")))?;
        let lock_path = dir.join("sqs.lock");
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| err(format!("opening {}: {e}", lock_path.display())))?;
        let lock = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusiveNonblock)
            .map_err(|(_, e)| {
                err(format!(
                    "another fogbank is using this state directory ({}: {e}); stop it or use --ephemeral",
                    lock_path.display()
                ))
            })?;
        let path = dir.join("sqs.log");
        let (recovered, good_len) =
            read_log(&path).map_err(|e| err(format!("reading {}: {e}", path.display())))?;
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| err(format!("opening {}: {e}", path.display())))?;
        let file_len = file.metadata().map_err(|e| err(format!("{e}")))?.len();
        let mut truncated_bytes = 0;
        if good_len == 0 {
            file.set_len(0)
                .map_err(|e| err(format!("resetting {}: {e}", path.display())))?;
            file.write_all(MAGIC)
                .map_err(|e| err(format!("writing {}: {e}", path.display())))?;
        } else if good_len < file_len {
            truncated_bytes = file_len - good_len;
            tracing::warn!(
                log = %path.display(),
                truncated_bytes,
                "sqs log ended in a partial write (a crash mid-write); cutting it off at the last intact record"
            );
            file.set_len(good_len)
                .map_err(|e| err(format!("truncating {}: {e}", path.display())))?;
        }
        use std::io::Seek;
        file.seek(io::SeekFrom::End(0))
            .map_err(|e| err(format!("{e}")))?;
        let (tx, rx) = mpsc::channel();
        let compaction_due = Arc::new(AtomicBool::new(false));
        let log_bytes = Arc::new(AtomicU64::new(good_len.max(MAGIC.len() as u64)));
        let mut writer = Writer {
            dir: dir.to_owned(),
            path,
            file,
            sync,
            dirty: false,
            last_sync: Instant::now(),
            bytes: log_bytes.load(Ordering::Relaxed),
            base_bytes: log_bytes.load(Ordering::Relaxed),
            compact_after_bytes,
            compaction_due: compaction_due.clone(),
            log_bytes: log_bytes.clone(),
            failed: None,
        };
        let handle = thread::Builder::new()
            .name("sqs-log-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| err(format!("starting the log writer: {e}")))?;
        Ok((
            Store {
                tx: Some(tx),
                writer: Some(handle),
                compaction_due,
                log_bytes,
                _lock: LockFile(lock),
            },
            Recovered {
                changes: recovered,
                truncated_bytes,
            },
        ))
    }

    /// Queues `changes` for the log; `ack` fires once they are written.
    pub(crate) fn append(&self, changes: Vec<Change>, ack: Ack) {
        match &self.tx {
            Some(tx) => {
                if let Err(mpsc::SendError(Job::Append { ack, .. })) =
                    tx.send(Job::Append { changes, ack })
                {
                    ack.send(Err(SqsError::ShuttingDown));
                }
            }
            None => ack.send(Err(SqsError::ShuttingDown)),
        }
    }

    /// Queues a rotation to `snapshot`. Must be called while the engine is
    /// locked, so no change is applied between the snapshot and the switch.
    pub(crate) fn rotate(&self, snapshot: Vec<Change>, ack: Option<Ack>) {
        self.compaction_due.store(false, Ordering::Relaxed);
        if let Some(tx) = &self.tx {
            let _ = tx.send(Job::Rotate { snapshot, ack });
        }
    }

    /// The current size of the log file in bytes.
    pub(crate) fn log_bytes(&self) -> u64 {
        self.log_bytes.load(Ordering::Relaxed)
    }

    /// True once the log has outgrown its last snapshot enough to compact.
    pub(crate) fn compaction_due(&self) -> bool {
        self.compaction_due.load(Ordering::Relaxed)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Closing the channel lets the writer drain what is queued, sync and
        // exit; joining makes a clean shutdown leave a fully synced log.
        self.tx.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

struct Writer {
    dir: PathBuf,
    path: PathBuf,
    file: File,
    sync: SyncMode,
    dirty: bool,
    last_sync: Instant,
    bytes: u64,
    /// Size of the log right after the last rotation (the snapshot).
    base_bytes: u64,
    compact_after_bytes: u64,
    compaction_due: Arc<AtomicBool>,
    log_bytes: Arc<AtomicU64>,
    /// After a failed write every later request fails too: acknowledging
    /// writes behind a hole would break recovery order.
    failed: Option<String>,
}

impl Writer {
    fn run(&mut self, rx: mpsc::Receiver<Job>) {
        let mut buf = Vec::with_capacity(1 << 20);
        let mut acks: Vec<Ack> = Vec::with_capacity(MAX_GROUP);
        loop {
            let first = if self.dirty {
                match rx.recv_timeout(SYNC_INTERVAL.saturating_sub(self.last_sync.elapsed())) {
                    Ok(job) => Some(job),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match rx.recv() {
                    Ok(job) => Some(job),
                    Err(_) => break,
                }
            };
            let mut next = first;
            while let Some(job) = next.take() {
                match job {
                    Job::Append { changes, ack } => {
                        encode_frame(&changes, &mut buf);
                        acks.push(ack);
                    }
                    Job::Rotate { snapshot, ack } => {
                        self.flush(&mut buf, &mut acks);
                        let result = self.rotate(&snapshot);
                        if let Some(ack) = ack {
                            ack.send(result);
                        }
                    }
                }
                if acks.len() < MAX_GROUP {
                    next = rx.try_recv().ok();
                }
            }
            self.flush(&mut buf, &mut acks);
            if self.dirty
                && (self.sync == SyncMode::EveryCommit || self.last_sync.elapsed() >= SYNC_INTERVAL)
            {
                self.sync_now();
            }
        }
        self.flush(&mut buf, &mut acks);
        if self.dirty {
            self.sync_now();
        }
    }

    /// Writes the group and acknowledges it.
    fn flush(&mut self, buf: &mut Vec<u8>, acks: &mut Vec<Ack>) {
        if acks.is_empty() && buf.is_empty() {
            return;
        }
        let result = match &self.failed {
            Some(e) => Err(SqsError::WriteLog(e.clone())),
            None => match self.file.write_all(buf) {
                Ok(()) => {
                    self.bytes += buf.len() as u64;
                    self.dirty = true;
                    if self.sync == SyncMode::EveryCommit {
                        self.sync_now();
                    }
                    Ok(())
                }
                Err(e) => {
                    let detail = format!("{}: {e}", self.path.display());
                    tracing::error!(error = %detail, "sqs log write failed; refusing further writes");
                    self.failed = Some(detail.clone());
                    Err(SqsError::WriteLog(detail))
                }
            },
        };
        buf.clear();
        self.log_bytes.store(self.bytes, Ordering::Relaxed);
        let threshold = self
            .compact_after_bytes
            .max(self.base_bytes.saturating_mul(4));
        if self.bytes > threshold {
            self.compaction_due.store(true, Ordering::Relaxed);
        }
        for ack in acks.drain(..) {
            ack.send(result.clone());
        }
    }

    fn sync_now(&mut self) {
        if let Err(e) = self.file.sync_data() {
            tracing::error!(error = %e, log = %self.path.display(), "fdatasync of the sqs log failed");
        }
        self.dirty = false;
        self.last_sync = Instant::now();
    }

    /// Writes `snapshot` to a new file, syncs it, and atomically renames it
    /// over the log. A crash at any point leaves either the old complete
    /// log or the new one.
    fn rotate(&mut self, snapshot: &[Change]) -> Result<(), SqsError> {
        if let Some(e) = &self.failed {
            return Err(SqsError::WriteLog(e.clone()));
        }
        let tmp = self.dir.join("sqs.log.compacting");
        let result = (|| -> io::Result<File> {
            let mut file = OpenOptions::new()
                .create(true)
                .truncate(true)
                .read(true)
                .write(true)
                .open(&tmp)?;
            let mut buf = Vec::with_capacity(4096);
            buf.extend_from_slice(MAGIC);
            // Snapshots are split into frames of bounded size so that the
            // reader's frame limit holds for any amount of queued data.
            for chunk in snapshot.chunks(1024) {
                encode_frame(chunk, &mut buf);
            }
            file.write_all(&buf)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            File::open(&self.dir)?.sync_all()?;
            self.bytes = buf.len() as u64;
            Ok(file)
        })();
        match result {
            Ok(file) => {
                self.file = file;
                self.base_bytes = self.bytes;
                self.log_bytes.store(self.bytes, Ordering::Relaxed);
                self.dirty = false;
                Ok(())
            }
            Err(e) => {
                // The old log is intact and still open; keep appending to it.
                tracing::warn!(error = %e, "compacting the sqs log failed; continuing with the old log");
                Err(SqsError::WriteLog(format!(
                    "compacting {}: {e}",
                    self.path.display()
                )))
            }
        }
    }
}

fn encode_frame(changes: &[Change], buf: &mut Vec<u8>) {
    let start = buf.len();
    buf.extend_from_slice(&[0; 8]);
    // Encoding plain in-memory values into a Vec cannot fail; if it somehow
    // did, the frame is dropped rather than written half-formed.
    match postcard::to_io(changes, &mut *buf) {
        Ok(_) => {
            let len = (buf.len() - start - 8) as u32;
            let crc = crc32fast::hash(&buf[start + 8..]);
            buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
            buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
        }
        Err(e) => {
            tracing::error!(error = %e, "encoding an sqs log record failed");
            buf.truncate(start);
        }
    }
}

/// Reads every intact frame; returns them and the length of the intact
/// prefix of the file (0 for a missing or foreign file).
fn read_log(path: &Path) -> io::Result<(Vec<Vec<Change>>, u64)> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes)?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
    }
    if bytes.is_empty() {
        return Ok((Vec::new(), 0));
    }
    if !bytes.starts_with(MAGIC) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a fogbank sqs log (bad header); move it away to start with empty queues",
        ));
    }
    Ok(decode_frames(&bytes))
}

/// Splits a log image into frames, stopping at the first torn or corrupt one.
fn decode_frames(bytes: &[u8]) -> (Vec<Vec<Change>>, u64) {
    let mut out = Vec::new();
    let mut at = MAGIC.len();
    while let Some(header) = bytes.get(at..at + 8) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len > MAX_FRAME {
            break;
        }
        let Some(payload) = bytes.get(at + 8..at + 8 + len) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        match postcard::from_bytes::<Vec<Change>>(payload) {
            Ok(changes) => out.push(changes),
            Err(_) => break,
        }
        at += 8 + len;
    }
    (out, at as u64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use std::collections::BTreeMap;

    fn change(i: u64) -> Change {
        Change::QueuePurged {
            name: format!("q{i}"),
            at_ms: i,
        }
    }

    fn append_blocking(store: &Store, changes: Vec<Change>) -> Result<(), SqsError> {
        let (tx, rx) = mpsc::channel();
        store.append(changes, Ack::Blocking(tx));
        rx.recv().unwrap()
    }

    #[test]
    fn appended_frames_are_recovered_in_order() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (store, recovered) = Store::open(dir.path(), SyncMode::Periodic, 1 << 30).unwrap();
            assert!(recovered.changes.is_empty());
            for i in 0..100 {
                append_blocking(&store, vec![change(i), change(i + 1000)]).unwrap();
            }
        }
        let (_store, recovered) = Store::open(dir.path(), SyncMode::Periodic, 1 << 30).unwrap();
        assert_eq!(recovered.changes.len(), 100);
        assert_eq!(recovered.changes[42], vec![change(42), change(1042)]);
        assert_eq!(recovered.truncated_bytes, 0);
    }

    #[test]
    fn a_second_process_cannot_open_the_same_directory() {
        let dir = tempfile::tempdir().unwrap();
        let (_store, _) = Store::open(dir.path(), SyncMode::Periodic, 1 << 30).unwrap();
        let err = Store::open(dir.path(), SyncMode::Periodic, 1 << 30).unwrap_err();
        assert!(
            err.to_string()
                .contains("another fogbank is using this state directory"),
            "{err}"
        );
    }

    /// Every possible torn tail (a write cut at any byte) recovers exactly
    /// the frames before the cut.
    #[test]
    fn torn_tails_are_cut_at_the_last_intact_frame() {
        let mut image = MAGIC.to_vec();
        let mut ends = vec![image.len()];
        for i in 0..5 {
            encode_frame(&[change(i)], &mut image);
            ends.push(image.len());
        }
        for cut in MAGIC.len()..=image.len() {
            let (frames, good) = decode_frames(&image[..cut]);
            let expected = ends.iter().filter(|e| **e <= cut).count() - 1;
            assert_eq!(frames.len(), expected, "cut at {cut}");
            assert_eq!(good as usize, ends[expected]);
        }
        // A flipped bit in the middle stops recovery there.
        let mut corrupt = image.clone();
        corrupt[ends[2] + 10] ^= 1;
        assert_eq!(decode_frames(&corrupt).0.len(), 2);
    }

    #[test]
    fn reopening_truncates_a_torn_tail_and_appends_after_it() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (store, _) = Store::open(dir.path(), SyncMode::Periodic, 1 << 30).unwrap();
            append_blocking(&store, vec![change(1)]).unwrap();
        }
        let path = dir.path().join("sqs.log");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2]).unwrap();
        drop(f);
        {
            let (store, recovered) =
                Store::open(dir.path(), SyncMode::EveryCommit, 1 << 30).unwrap();
            assert_eq!(recovered.changes.len(), 1);
            assert_eq!(recovered.truncated_bytes, 6);
            append_blocking(&store, vec![change(2)]).unwrap();
        }
        let (_store, recovered) = Store::open(dir.path(), SyncMode::Periodic, 1 << 30).unwrap();
        assert_eq!(recovered.changes, vec![vec![change(1)], vec![change(2)]]);
    }

    #[test]
    fn rotation_replaces_the_log_with_the_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (store, _) = Store::open(dir.path(), SyncMode::Periodic, 64).unwrap();
            for i in 0..50 {
                append_blocking(&store, vec![change(i)]).unwrap();
            }
            assert!(store.compaction_due());
            let (tx, rx) = mpsc::channel();
            store.rotate(
                vec![Change::QueueCreated {
                    name: "kept".into(),
                    config: crate::sqs::attributes::QueueConfig::new(false),
                    tags: BTreeMap::new(),
                    created_ms: 1,
                }],
                Some(Ack::Blocking(tx)),
            );
            rx.recv().unwrap().unwrap();
            assert!(!store.compaction_due());
            append_blocking(&store, vec![change(99)]).unwrap();
        }
        let (_store, recovered) = Store::open(dir.path(), SyncMode::Periodic, 1 << 30).unwrap();
        assert_eq!(recovered.changes.len(), 2);
        assert_eq!(recovered.changes[1], vec![change(99)]);
    }

    #[test]
    fn a_foreign_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sqs.log"), b"hello").unwrap();
        let err = Store::open(dir.path(), SyncMode::Periodic, 1 << 30).unwrap_err();
        assert!(err.to_string().contains("not a fogbank sqs log"), "{err}");
    }
}
