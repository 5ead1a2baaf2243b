//! continue, next, stepIn, stepOut and pause.

use std::io::Write;

use serde_json::json;

use super::super::stepping::{Activity, StepKind};
use super::super::{HandlerResult, Reply, Session};
use crate::rsp::ResumeAction;

impl<W: Write> Session<W> {
    pub(in crate::session) fn continue_request(
        &mut self,
        seq: i64,
        dap_thread: i64,
    ) -> HandlerResult {
        let (id, _) = self.thread(dap_thread)?;
        let all = self.targets.len() == 1;
        self.out
            .response(seq, "continue", Some(json!({ "allThreadsContinued": all })))?;
        let Some(target) = self.target_mut(id) else {
            return Ok(Reply::Sent);
        };
        if target.running {
            return Ok(Reply::Sent);
        }
        target.activity = Activity::Free;
        target.held = false;
        self.resume(id, ResumeAction::Continue)?;
        Ok(Reply::Sent)
    }

    pub(in crate::session) fn step_request(
        &mut self,
        seq: i64,
        command: &str,
        dap_thread: i64,
        kind: StepKind,
    ) -> HandlerResult {
        let (id, thread) = self.thread(dap_thread)?;
        if self.target(id).is_some_and(|target| target.running) {
            return Err(format!("cannot {command}: the thread is running; pause it first").into());
        }
        self.out.response(seq, command, None)?;
        if let Some(target) = self.target_mut(id) {
            target.held = false;
        }
        self.start_step(id, thread, kind)?;
        Ok(Reply::Sent)
    }

    pub(in crate::session) fn pause(&mut self, dap_thread: i64) -> HandlerResult {
        let runtime = self.runtime.clone();
        // A pause of an unknown thread pauses every running target.
        let ids: Vec<u32> = match self.thread(dap_thread) {
            Ok((id, _)) => vec![id],
            Err(_) => self.targets.iter().map(|target| target.id).collect(),
        };
        for id in ids {
            let Some(target) = self.target_mut(id) else {
                continue;
            };
            if !target.running {
                continue;
            }
            target.pause_requested = true;
            runtime
                .block_on(target.rsp.interrupt())
                .map_err(|error| format!("cannot pause: {error}"))?;
        }
        Ok(Reply::Body(None))
    }
}
