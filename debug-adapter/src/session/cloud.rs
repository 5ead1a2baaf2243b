//! The cloud's clock for in-place targets. A cloud sandbox's invocation has
//! a deadline that a breakpoint here does not pause. At each reported stop
//! the session asks the sandbox's agent which invocations run and how long
//! the cloud still waits for them (the agent watches the sandbox's Runtime
//! API for this), tells the developer once per invocation, and warns while
//! the target stays stopped: once shortly before the deadline, once when it
//! passes. Resuming the target cancels the warnings of that stop.
//!
//! This module holds the rules and the texts; the session does the RSP
//! round trip and owns the tasks' inputs channel.

use std::collections::BTreeSet;
use std::time::Duration;

use fogbank_relay::developer::DeadlineWarning;

use super::Category;

/// The agent's monitor command (see fogbank-agent's `runtime_watch`).
pub const MONITOR_COMMAND: &str = "fogbank invocation";

/// One invocation the agent reports as running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningInvocation {
    /// Its request ID.
    pub request_id: String,
    /// Milliseconds left before its deadline on the sandbox's clock
    /// (negative once passed), when the Runtime API gave a deadline.
    pub remaining_ms: Option<i64>,
}

/// Reads the monitor command's answer: `invocation ID MS` lines (`-` for
/// no deadline). Other lines (an agent that does not watch a Runtime API
/// says so in words) are skipped.
pub fn parse_invocations(text: &str) -> Vec<RunningInvocation> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (Some("invocation"), Some(request_id), Some(remaining), None) =
                (words.next(), words.next(), words.next(), words.next())
            else {
                return None;
            };
            let remaining_ms = match remaining {
                "-" => None,
                number => Some(number.parse().ok()?),
            };
            Some(RunningInvocation {
                request_id: request_id.to_owned(),
                remaining_ms,
            })
        })
        .collect()
}

/// What the session should do at one stop of an in-place target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopNotice {
    /// Console messages for invocations first seen at this stop.
    pub announcements: Vec<(Category, String)>,
    /// The invocation to warn about while stopped, and its time left.
    pub watch: Option<(String, Duration)>,
}

/// Per-target state: the relay channel's name, the invocations already
/// announced, and the running warning task of the current stop.
#[derive(Debug)]
pub struct CloudClock {
    channel: String,
    announced: BTreeSet<String>,
    warnings: Option<tokio::task::AbortHandle>,
}

impl CloudClock {
    /// The clock of the target behind relay channel `channel`.
    pub fn new(channel: String) -> CloudClock {
        CloudClock {
            channel,
            announced: BTreeSet::new(),
            warnings: None,
        }
    }

    /// The relay channel's short name.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// Decides what to say at a stop, given the running invocations.
    pub fn at_stop(&mut self, running: &[RunningInvocation]) -> StopNotice {
        // Invocations that ended are forgotten, so the set stays small.
        self.announced.retain(|id| {
            running
                .iter()
                .any(|invocation| &invocation.request_id == id)
        });
        let mut announcements = Vec::new();
        for invocation in running {
            if self.announced.insert(invocation.request_id.clone()) {
                announcements.push(announcement(&self.channel, invocation));
            }
        }
        // The earliest deadline is the one to warn about.
        let watch = running
            .iter()
            .filter_map(|invocation| {
                let remaining = invocation.remaining_ms.filter(|ms| *ms > 0)?;
                Some((invocation.request_id.clone(), remaining))
            })
            .min_by_key(|(_, remaining)| *remaining)
            .map(|(id, remaining)| (id, Duration::from_millis(remaining as u64)));
        StopNotice {
            announcements,
            watch,
        }
    }

    /// Keeps the warning task of this stop, cancelling any earlier one.
    pub fn set_warnings(&mut self, task: tokio::task::AbortHandle) {
        self.stop_warnings();
        self.warnings = Some(task);
    }

    /// Cancels this stop's warnings (the target runs again, or ended).
    pub fn stop_warnings(&mut self) {
        if let Some(task) = self.warnings.take() {
            task.abort();
        }
    }
}

impl Drop for CloudClock {
    fn drop(&mut self) {
        self.stop_warnings();
    }
}

fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}

/// The message for an invocation first seen at a stop.
pub fn announcement(channel: &str, invocation: &RunningInvocation) -> (Category, String) {
    let id = &invocation.request_id;
    match invocation.remaining_ms {
        Some(ms) if ms > 0 => (
            Category::Console,
            format!(
                "[{channel}] cloud invocation {id}: {} left before the cloud's deadline; its clock does not pause while stopped.\n",
                seconds(Duration::from_millis(ms as u64))
            ),
        ),
        Some(_) => (
            Category::Important,
            format!(
                "[{channel}] cloud invocation {id} is past its deadline: the cloud has answered its caller with a timeout.\n"
            ),
        ),
        None => (
            Category::Console,
            format!("[{channel}] cloud invocation {id} (the Runtime API gave no deadline).\n"),
        ),
    }
}

/// The message for a warning while the target stays stopped.
pub fn warning(channel: &str, request_id: &str, warning: DeadlineWarning) -> (Category, String) {
    match warning {
        DeadlineWarning::Near(left) => (
            Category::Important,
            format!(
                "[{channel}] cloud invocation {request_id} has {} left before its deadline; the cloud's clock does not pause, so continue soon or its caller gets a timeout.\n",
                seconds(left)
            ),
        ),
        DeadlineWarning::Passed => (
            Category::Important,
            format!(
                "[{channel}] cloud invocation {request_id} passed its deadline while stopped: the cloud has answered its caller with a timeout.\n"
            ),
        ),
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    fn check_parse(text: &str, expected: Expect) {
        expected.assert_debug_eq(&parse_invocations(text));
    }

    #[test]
    fn the_agents_answer_is_read_line_by_line() {
        check_parse(
            "invocation r1 2500\ninvocation r2 -\ninvocation r3 -40\n",
            expect![[r#"
                [
                    RunningInvocation {
                        request_id: "r1",
                        remaining_ms: Some(
                            2500,
                        ),
                    },
                    RunningInvocation {
                        request_id: "r2",
                        remaining_ms: None,
                    },
                    RunningInvocation {
                        request_id: "r3",
                        remaining_ms: Some(
                            -40,
                        ),
                    },
                ]
            "#]],
        );
        check_parse(
            "",
            expect![[r#"
            []
        "#]],
        );
        check_parse(
            "fogbank-agent: not watching a Runtime API (in-place mode only)\ninvocation r1\ninvocation r1 soon\ninvocation r1 1 2\n",
            expect![[r#"
                []
            "#]],
        );
    }

    fn invocation(id: &str, remaining_ms: Option<i64>) -> RunningInvocation {
        RunningInvocation {
            request_id: id.to_owned(),
            remaining_ms,
        }
    }

    fn render(notice: &StopNotice) -> String {
        let mut text: String = notice
            .announcements
            .iter()
            .map(|(category, text)| format!("{category:?}: {text}"))
            .collect();
        if let Some((id, left)) = &notice.watch {
            text.push_str(&format!("watch {id} {} ms\n", left.as_millis()));
        }
        text
    }

    #[test]
    fn each_invocation_is_announced_once_and_the_earliest_deadline_watched() {
        let mut clock = CloudClock::new("ab12".into());
        expect![[r#"
            Console: [ab12] cloud invocation r1: 8.2 s left before the cloud's deadline; its clock does not pause while stopped.
            watch r1 8200 ms
        "#]]
        .assert_eq(&render(&clock.at_stop(&[invocation("r1", Some(8200))])));
        // A step later: same invocation, nothing announced, still watched.
        expect![[r#"
            watch r1 7900 ms
        "#]]
        .assert_eq(&render(&clock.at_stop(&[invocation("r1", Some(7900))])));
        expect![[r#"
            Console: [ab12] cloud invocation r2 (the Runtime API gave no deadline).
            Important: [ab12] cloud invocation r3 is past its deadline: the cloud has answered its caller with a timeout.
            Console: [ab12] cloud invocation r4: 1.0 s left before the cloud's deadline; its clock does not pause while stopped.
            watch r4 1000 ms
        "#]]
        .assert_eq(&render(&clock.at_stop(&[
            invocation("r1", Some(7000)),
            invocation("r2", None),
            invocation("r3", Some(-5)),
            invocation("r4", Some(1000)),
        ])));
        // Idle between invocations: nothing to say or watch.
        expect![""].assert_eq(&render(&clock.at_stop(&[])));
        // r1 ended before; a new stop in a later r1 (ids are unique in
        // practice, but the rule is "announce what was not running").
        expect![[r#"
            Console: [ab12] cloud invocation r1: 3.0 s left before the cloud's deadline; its clock does not pause while stopped.
            watch r1 3000 ms
        "#]]
        .assert_eq(&render(&clock.at_stop(&[invocation("r1", Some(3000))])));
    }

    #[test]
    fn warnings_name_the_channel_and_the_invocation() {
        let render = |(category, text): (Category, String)| format!("{category:?}: {text}");
        expect![[r#"
            Important: [ab12] cloud invocation r1 has 2.0 s left before its deadline; the cloud's clock does not pause, so continue soon or its caller gets a timeout.
        "#]]
        .assert_eq(&render(warning(
            "ab12",
            "r1",
            DeadlineWarning::Near(Duration::from_secs(2)),
        )));
        expect![[r#"
            Important: [ab12] cloud invocation r1 passed its deadline while stopped: the cloud has answered its caller with a timeout.
        "#]]
        .assert_eq(&render(warning("ab12", "r1", DeadlineWarning::Passed)));
    }

    /// Warnings run on tokio's clock while stopped, and stop when the
    /// target runs again.
    #[tokio::test(start_paused = true)]
    async fn a_resume_cancels_the_warnings_of_the_stop() {
        let (sender, mut received) = tokio::sync::mpsc::unbounded_channel();
        let mut clock = CloudClock::new("c".into());
        let spawn = |left: Duration| {
            let sender = sender.clone();
            tokio::spawn(async move {
                fogbank_relay::developer::watch_deadline(
                    std::future::pending::<()>(),
                    Some(left),
                    |event| {
                        let _ = sender.send(warning("c", "r", event).1);
                    },
                )
                .await
            })
            .abort_handle()
        };
        clock.set_warnings(spawn(Duration::from_secs(10)));
        tokio::time::sleep(Duration::from_secs(9)).await;
        let near = received.try_recv().expect("the near warning at 8 s");
        assert!(near.contains("has 2.0 s left"), "{near}");
        clock.stop_warnings();
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(received.try_recv().is_err(), "no warning after the resume");
        // The next stop's warnings replace nothing left running.
        clock.set_warnings(spawn(Duration::from_secs(1)));
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut seen = Vec::new();
        while let Ok(text) = received.try_recv() {
            seen.push(text);
        }
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(
            seen[1].contains("passed its deadline while stopped"),
            "{seen:?}"
        );
        drop(clock);
    }
}
