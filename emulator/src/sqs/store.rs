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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use super::engine::Change;
use super::types::SqsError;

/// The first bytes of every log file.
const MAGIC: &[u8; 8] = b"FBSQS01\n";
/// The largest frame the reader accepts; a larger length is corruption.
const MAX_FRAME: usize = 256 * 1024 * 1024;
/// How often unsynced data is flushed to the device.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(200);

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

/// Jobs waiting for a leader, in the order the engine applied them.
#[derive(Default)]
struct Pending {
    jobs: Vec<Job>,
    /// True while some caller is writing (the group-commit leader).
    writing: bool,
}

/// The handle the service holds.
///
/// Group commit without a writer thread: [`Store::append`] only queues the
/// changes (the service calls it while holding the engine lock, so the
/// queue order is the apply order); [`Store::drive`], called after the
/// engine lock is released, makes the caller the leader if nobody is
/// writing: it takes everything queued, writes it with one `write(2)`,
/// acknowledges it, and repeats while more arrived meanwhile. Requests that
/// arrive during a write ride along in the next one. Writing on the
/// requesting thread saves two thread wake-ups per group compared with a
/// dedicated writer thread, which on a 2-core machine is most of the cost.
pub(crate) struct Store {
    pending: Mutex<Pending>,
    writer: Mutex<Writer>,
    /// Set when the log has grown enough to be compacted.
    compaction_due: AtomicBool,
    /// Bytes in the current log, for tests and diagnostics.
    log_bytes: AtomicU64,
    syncer: Syncer,
    _lock: LockFile,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// The background `fdatasync` of [`SyncMode::Periodic`]: every
/// [`SYNC_INTERVAL`] while something was written since the last sync.
struct Syncer {
    shared: Arc<SyncShared>,
    thread: Option<thread::JoinHandle<()>>,
}

#[derive(Default)]
struct SyncShared {
    /// A handle on the current log file (replaced at rotation).
    file: Mutex<Option<File>>,
    dirty: AtomicBool,
    stop: Mutex<bool>,
    wake: std::sync::Condvar,
}

impl SyncShared {
    fn sync_now(&self) {
        if self.dirty.swap(false, Ordering::AcqRel)
            && let Ok(guard) = self.file.lock()
            && let Some(file) = guard.as_ref()
            && let Err(e) = file.sync_data()
        {
            tracing::error!(error = %e, "fdatasync of the sqs log failed");
        }
    }

    fn run(&self) {
        loop {
            let Ok(stop) = self.stop.lock() else { return };
            let Ok((stop, _)) = self.wake.wait_timeout(stop, SYNC_INTERVAL) else {
                return;
            };
            let stopping = *stop;
            drop(stop);
            self.sync_now();
            if stopping {
                return;
            }
        }
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
    /// frame and starts the sync thread. The caller replays the changes,
    /// then rotates to a snapshot so the log starts compact.
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
        let bytes = good_len.max(MAGIC.len() as u64);
        let sync_shared = Arc::new(SyncShared::default());
        if let Ok(mut slot) = sync_shared.file.lock() {
            *slot = file.try_clone().ok();
        }
        let thread = {
            let shared = sync_shared.clone();
            thread::Builder::new()
                .name("sqs-log-sync".into())
                .spawn(move || shared.run())
                .map_err(|e| err(format!("starting the log sync thread: {e}")))?
        };
        let writer = Writer {
            dir: dir.to_owned(),
            path,
            file,
            sync,
            bytes,
            base_bytes: bytes,
            compact_after_bytes,
            failed: None,
            buf: Vec::with_capacity(1 << 20),
            sync_shared: sync_shared.clone(),
        };
        Ok((
            Store {
                pending: Mutex::new(Pending::default()),
                writer: Mutex::new(writer),
                compaction_due: AtomicBool::new(false),
                log_bytes: AtomicU64::new(bytes),
                syncer: Syncer {
                    shared: sync_shared,
                    thread: Some(thread),
                },
                _lock: LockFile(lock),
            },
            Recovered {
                changes: recovered,
                truncated_bytes,
            },
        ))
    }

    /// Queues `changes` for the log; `ack` fires once they are written.
    /// The caller must call [`Store::drive`] afterwards (outside its locks).
    pub(crate) fn append(&self, changes: Vec<Change>, ack: Ack) {
        self.enqueue(Job::Append { changes, ack });
    }

    /// Queues a rotation to `snapshot`. Must be called while the engine is
    /// locked, so no change is applied between the snapshot and the switch;
    /// [`Store::drive`] performs it.
    pub(crate) fn rotate(&self, snapshot: Vec<Change>, ack: Option<Ack>) {
        self.compaction_due.store(false, Ordering::Relaxed);
        self.enqueue(Job::Rotate { snapshot, ack });
    }

    fn enqueue(&self, job: Job) {
        match self.pending.lock() {
            Ok(mut pending) => pending.jobs.push(job),
            Err(_) => fail(
                job,
                SqsError::WriteLog("the sqs log queue is poisoned".into()),
            ),
        }
    }

    /// Writes everything queued unless another caller is already doing so
    /// (then that caller writes ours too, before it stops).
    pub(crate) fn drive(&self) {
        loop {
            let jobs = {
                let Ok(mut pending) = self.pending.lock() else {
                    return;
                };
                if pending.writing || pending.jobs.is_empty() {
                    return;
                }
                pending.writing = true;
                std::mem::take(&mut pending.jobs)
            };
            match self.writer.lock() {
                Ok(mut writer) => {
                    writer.process(jobs, &self.compaction_due);
                    self.log_bytes.store(writer.bytes, Ordering::Relaxed);
                }
                Err(_) => {
                    for job in jobs {
                        fail(
                            job,
                            SqsError::WriteLog("the sqs log writer is poisoned".into()),
                        );
                    }
                }
            }
            match self.pending.lock() {
                Ok(mut pending) => pending.writing = false,
                Err(_) => return,
            }
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

fn fail(job: Job, error: SqsError) {
    match job {
        Job::Append { ack, .. } => ack.send(Err(error)),
        Job::Rotate { ack: Some(ack), .. } => ack.send(Err(error)),
        Job::Rotate { ack: None, .. } => {}
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Write what is still queued, then stop the sync thread, which
        // syncs once more: a clean shutdown leaves a fully synced log.
        self.drive();
        if let Ok(mut stop) = self.syncer.shared.stop.lock() {
            *stop = true;
        }
        self.syncer.shared.wake.notify_all();
        if let Some(thread) = self.syncer.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Writer {
    dir: PathBuf,
    path: PathBuf,
    file: File,
    sync: SyncMode,
    bytes: u64,
    /// Size of the log right after the last rotation (the snapshot).
    base_bytes: u64,
    compact_after_bytes: u64,
    /// After a failed write every later request fails too: acknowledging
    /// writes behind a hole would break recovery order.
    failed: Option<String>,
    buf: Vec<u8>,
    sync_shared: Arc<SyncShared>,
}

impl Writer {
    /// Writes a group of jobs in order and acknowledges them.
    fn process(&mut self, jobs: Vec<Job>, compaction_due: &AtomicBool) {
        let mut acks = Vec::with_capacity(jobs.len());
        for job in jobs {
            match job {
                Job::Append { changes, ack } => {
                    encode_frame(&changes, &mut self.buf);
                    acks.push(ack);
                }
                Job::Rotate { snapshot, ack } => {
                    self.flush(&mut acks, compaction_due);
                    let result = self.rotate(&snapshot);
                    if let Some(ack) = ack {
                        ack.send(result);
                    }
                }
            }
        }
        self.flush(&mut acks, compaction_due);
    }

    fn flush(&mut self, acks: &mut Vec<Ack>, compaction_due: &AtomicBool) {
        if acks.is_empty() && self.buf.is_empty() {
            return;
        }
        let result = match &self.failed {
            Some(e) => Err(SqsError::WriteLog(e.clone())),
            None => match self.file.write_all(&self.buf) {
                Ok(()) => {
                    self.bytes += self.buf.len() as u64;
                    if self.sync == SyncMode::EveryCommit {
                        if let Err(e) = self.file.sync_data() {
                            tracing::error!(error = %e, log = %self.path.display(), "fdatasync of the sqs log failed");
                        }
                    } else {
                        self.sync_shared.dirty.store(true, Ordering::Release);
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
        self.buf.clear();
        let threshold = self
            .compact_after_bytes
            .max(self.base_bytes.saturating_mul(4));
        if self.bytes > threshold {
            compaction_due.store(true, Ordering::Relaxed);
        }
        for ack in acks.drain(..) {
            ack.send(result.clone());
        }
    }

    /// Writes `snapshot` to a new file, syncs it, and atomically renames it
    /// over the log. A crash at any point leaves either the old complete
    /// log or the new one.
    fn rotate(&mut self, snapshot: &[Change]) -> Result<(), SqsError> {
        if let Some(e) = &self.failed {
            return Err(SqsError::WriteLog(e.clone()));
        }
        let tmp = self.dir.join("sqs.log.compacting");
        let result = (|| -> io::Result<(File, u64)> {
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
            Ok((file, buf.len() as u64))
        })();
        match result {
            Ok((file, bytes)) => {
                if let Ok(mut slot) = self.sync_shared.file.lock() {
                    *slot = file.try_clone().ok();
                }
                self.file = file;
                self.bytes = bytes;
                self.base_bytes = bytes;
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
        store.drive();
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
            store.drive();
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
