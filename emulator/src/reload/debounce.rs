//! Debouncing: an editor's save is several file-system events (a write, a
//! rename of a temporary file, an attribute change), and a `git checkout`
//! is hundreds. They become one batch once the tree has been quiet for a
//! short while, so a save rebuilds once.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

/// How long the tree must be quiet before a batch is released. Short,
/// because it is part of every reload's latency; editors finish a save
/// within a few milliseconds.
pub const DEFAULT_QUIET: Duration = Duration::from_millis(20);
/// The longest a batch is held back while changes keep arriving (a long
/// checkout or a generator writing files), so reloads are not starved.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(2);

/// Groups changed paths into batches. Time comes from tokio's clock, so
/// tests drive it with `tokio::time::pause`.
#[derive(Debug, Clone, Copy)]
pub struct Debouncer {
    pub quiet: Duration,
    pub max_wait: Duration,
}

impl Default for Debouncer {
    fn default() -> Self {
        Debouncer {
            quiet: DEFAULT_QUIET,
            max_wait: DEFAULT_MAX_WAIT,
        }
    }
}

impl Debouncer {
    /// Waits for the next change, then collects changes until none has come
    /// for `quiet` (or `max_wait` has passed since the first) and returns
    /// them. Returns `None` once the sender is gone and nothing is pending.
    pub async fn next_batch(
        &self,
        changes: &mut mpsc::UnboundedReceiver<PathBuf>,
    ) -> Option<BTreeSet<PathBuf>> {
        let first = changes.recv().await?;
        let started = Instant::now();
        let mut batch = BTreeSet::from([first]);
        loop {
            let hard_deadline = started + self.max_wait;
            let deadline = (Instant::now() + self.quiet).min(hard_deadline);
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => return Some(batch),
                change = changes.recv() => match change {
                    Some(path) => {
                        batch.insert(path);
                        if Instant::now() >= hard_deadline {
                            return Some(batch);
                        }
                    }
                    // The watcher is gone: what was seen still counts.
                    None => return Some(batch),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    /// Sends `(delay_ms, path)` pairs, each after the given pause, and
    /// returns the batches the debouncer makes with the time each was
    /// released, in milliseconds after the start.
    async fn check(debouncer: Debouncer, events: &[(u64, &str)], expected: &[(u64, &[&str])]) {
        let (sender, mut receiver) = mpsc::unbounded_channel();
        let script: Vec<(u64, PathBuf)> =
            events.iter().map(|(d, p)| (*d, PathBuf::from(p))).collect();
        let start = Instant::now();
        tokio::spawn(async move {
            for (delay, path) in script {
                tokio::time::sleep(Duration::from_millis(delay)).await;
                let _ = sender.send(path);
            }
            // The watcher lives on; only then does the stream end.
            tokio::time::sleep(Duration::from_secs(10)).await;
            drop(sender);
        });
        let mut got = Vec::new();
        while let Some(batch) = debouncer.next_batch(&mut receiver).await {
            let at = (Instant::now() - start).as_millis() as u64;
            got.push((
                at,
                batch
                    .into_iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>(),
            ));
        }
        let expected: Vec<(u64, Vec<String>)> = expected
            .iter()
            .map(|(at, paths)| (*at, paths.iter().map(|p| p.to_string()).collect()))
            .collect();
        assert_eq!(got, expected);
    }

    fn debouncer() -> Debouncer {
        Debouncer {
            quiet: Duration::from_millis(40),
            max_wait: Duration::from_millis(500),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn one_save_is_one_batch() {
        check(
            debouncer(),
            &[(10, "a.py"), (1, "a.py"), (2, ".a.py.swp")],
            &[(53, &[".a.py.swp", "a.py"])],
        )
        .await;
    }

    #[tokio::test(start_paused = true)]
    async fn separate_saves_are_separate_batches() {
        check(
            debouncer(),
            &[(0, "a.py"), (100, "b.py"), (5, "b.py")],
            &[(40, &["a.py"]), (145, &["b.py"])],
        )
        .await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_of_changes_is_cut_at_the_maximum_wait() {
        // A change every 30 ms never leaves 40 ms of quiet.
        let events: Vec<(u64, &str)> = (0..30)
            .map(|i| (if i == 0 { 0 } else { 30 }, "gen.rs"))
            .collect();
        check(
            debouncer(),
            &events,
            &[(500, &["gen.rs"]), (910, &["gen.rs"])],
        )
        .await;
    }

    #[tokio::test(start_paused = true)]
    async fn no_changes_no_batches() {
        check(debouncer(), &[], &[]).await;
    }
}
