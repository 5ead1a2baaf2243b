//! A load loop for reload tests: workers send `GET path` back to back,
//! each on a new connection, and record what came back and when.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

/// How long one request may take before it counts as hung.
const HUNG: Duration = Duration::from_secs(15);

/// The texts (the `message` field of the JSON body) of the old and the new
/// version, and texts that would betray a mix of the two.
#[derive(Debug, Clone)]
pub struct Versions {
    pub old: String,
    pub new: String,
    pub mixed: Vec<String>,
}

impl Versions {
    pub fn new(old: &str, new: &str, mixed: &[&str]) -> Versions {
        Versions {
            old: old.to_owned(),
            new: new.to_owned(),
            mixed: mixed.iter().map(|m| (*m).to_owned()).collect(),
        }
    }
}

/// One request's fate.
#[derive(Debug, Clone)]
pub struct Sample {
    pub started: Instant,
    pub finished: Instant,
    /// Status and `message`, or why there was no response.
    pub outcome: Result<(u16, String), String>,
}

pub struct LoadLoop {
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: Arc<AtomicBool>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

async fn get(address: SocketAddr, path: &str) -> Result<(u16, String), String> {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(connection);
    let request = hyper::Request::get(path)
        .header("host", address.to_string())
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    let message = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
    Ok((status, message))
}

impl LoadLoop {
    pub fn start(address: SocketAddr, path: &str, workers: usize) -> LoadLoop {
        let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..workers)
            .map(|_| {
                let samples = samples.clone();
                let stop = stop.clone();
                let path = path.to_owned();
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let started = Instant::now();
                        let outcome = match tokio::time::timeout(HUNG, get(address, &path)).await {
                            Ok(outcome) => outcome,
                            Err(_) => Err(format!("hung for {HUNG:?}")),
                        };
                        samples.lock().unwrap().push(Sample {
                            started,
                            finished: Instant::now(),
                            outcome,
                        });
                    }
                })
            })
            .collect();
        LoadLoop {
            samples,
            stop,
            workers,
        }
    }

    /// How many responses carried `message` so far.
    pub fn count(&self, message: &str) -> usize {
        self.samples
            .lock()
            .unwrap()
            .iter()
            .filter(|s| matches!(&s.outcome, Ok((200, m)) if m == message))
            .count()
    }

    /// Waits until `count` responses carried `message`.
    pub async fn wait_for(&self, message: &str, count: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.count(message) < count {
            if Instant::now() > deadline {
                let samples = self.samples.lock().unwrap();
                let last: Vec<_> = samples.iter().rev().take(5).map(|s| &s.outcome).collect();
                panic!(
                    "only {} of {count} responses said {message:?} within {within:?} ({} requests; last: {last:?})",
                    self.count_locked(&samples, message),
                    samples.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn count_locked(&self, samples: &[Sample], message: &str) -> usize {
        samples
            .iter()
            .filter(|s| matches!(&s.outcome, Ok((200, m)) if m == message))
            .count()
    }

    /// Stops the workers and returns every sample.
    pub async fn stop(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        for worker in self.workers {
            worker.await.unwrap();
        }
        let samples = self.samples.lock().unwrap();
        samples.clone()
    }
}

/// What a load loop saw.
#[derive(Debug)]
pub struct Report {
    pub old: usize,
    pub new: usize,
    pub slowest: Duration,
}

/// Checks the acceptance conditions: every request answered 200 with
/// exactly the old or the new text (never a mix), none hung, and once the
/// new version has answered, every request started later gets it too.
pub fn check(samples: &[Sample], versions: &Versions) -> Report {
    let mut old = 0;
    let mut new = 0;
    let mut slowest = Duration::ZERO;
    for sample in samples {
        slowest = slowest.max(sample.finished - sample.started);
        match &sample.outcome {
            Ok((200, message)) if *message == versions.old => old += 1,
            Ok((200, message)) if *message == versions.new => new += 1,
            Ok((_, message)) if versions.mixed.contains(message) => {
                panic!("a response mixed two versions: {message:?}")
            }
            other => panic!("a request failed during the reload: {other:?}"),
        }
    }
    let first_new = samples
        .iter()
        .filter(|s| matches!(&s.outcome, Ok((_, m)) if *m == versions.new))
        .map(|s| s.finished)
        .min()
        .expect("the new version answered");
    let late_old = samples
        .iter()
        .filter(|s| s.started > first_new && matches!(&s.outcome, Ok((_, m)) if *m == versions.old))
        .count();
    assert_eq!(
        late_old, 0,
        "requests started after the new version answered got the old one"
    );
    assert!(old > 0 && new > 0, "old {old}, new {new}");
    Report { old, new, slowest }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_ms: u64, message: &str) -> Sample {
        let base = Instant::now();
        Sample {
            started: base + Duration::from_millis(at_ms),
            finished: base + Duration::from_millis(at_ms + 5),
            outcome: Ok((200, message.to_owned())),
        }
    }

    #[test]
    fn the_checker_accepts_a_clean_switch() {
        let versions = Versions::new("a", "b", &["ab"]);
        let report = check(
            &[sample(0, "a"), sample(10, "a"), sample(20, "b")],
            &versions,
        );
        assert_eq!((report.old, report.new), (2, 1));
    }

    #[test]
    #[should_panic(expected = "mixed two versions")]
    fn the_checker_catches_mixed_versions() {
        check(
            &[sample(0, "a"), sample(10, "ab"), sample(20, "b")],
            &Versions::new("a", "b", &["ab"]),
        );
    }

    #[test]
    #[should_panic(expected = "got the old one")]
    fn the_checker_catches_a_late_old_version() {
        check(
            &[sample(0, "a"), sample(10, "b"), sample(20, "a")],
            &Versions::new("a", "b", &[]),
        );
    }

    #[test]
    #[should_panic(expected = "failed during the reload")]
    fn the_checker_catches_failures() {
        let mut failed = sample(5, "a");
        failed.outcome = Err("connect: refused".into());
        check(
            &[sample(0, "a"), failed, sample(20, "b")],
            &Versions::new("a", "b", &[]),
        );
    }
}
