//! What happens when a target stops: breakpoint conditions and logpoints,
//! the step engine's moves, `stopped` events, and resuming. Also the
//! shared helpers that read a stopped target through the symbols core.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::rc::Rc;

use serde_json::json;

use super::breakpoints::{LogPart, parse_log_message};
use super::stepping::{Activity, CalleeLine, Next, Observation, StepKind, StepPlan};
use super::target::{Stack, TargetMemory, contains};
use super::{Category, Input, Session, cloud};
use crate::config::SessionKind;
use crate::rsp::{ResumeAction, RspError, Stop, StopReason, StopReply, ThreadId, signal_name};
use crate::symbols::{self, DebugInfo, StackFrame};

const SIGINT: u8 = 2;
const SIGTRAP: u8 = 5;

/// Most frames unwound for a stack trace.
const MAX_FRAMES: usize = 256;

/// Why a thread is reported stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopKind {
    /// At these breakpoints.
    Breakpoint(Vec<i64>),
    /// A step finished.
    Step,
    /// The user paused.
    Pause,
    /// At the program's first instruction.
    Entry,
    /// In the panic hook (the "Rust panic" filter).
    Panic,
    /// A signal other than the debugger's own.
    Signal(u8),
}

/// What a breakpoint hit means.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decision {
    /// Stop for these breakpoints.
    Stop(Vec<i64>),
    /// Stop for the panic filter.
    Panic,
    /// Our breakpoint, but nothing stops (a false condition, a logpoint).
    Continue,
    /// No breakpoint of the user's at this address.
    NotOurs,
}

impl<W: Write> Session<W> {
    /// Runs `f` with the target's symbols (biased for it) and memory.
    pub(super) fn with_symbols<R>(
        &mut self,
        id: u32,
        f: impl FnOnce(&DebugInfo, &mut TargetMemory<'_>) -> R,
    ) -> Option<R> {
        let runtime = self.runtime.clone();
        let target = self.targets.iter_mut().find(|target| target.id == id)?;
        let program = self.programs.get_mut(target.program)?;
        program.info.set_load_bias(target.bias);
        let mut memory = TargetMemory {
            runtime: &runtime,
            rsp: &mut target.rsp,
            cache: &mut target.memory,
        };
        Some(f(&program.info, &mut memory))
    }

    /// A thread's registers in the symbols core's numbering.
    pub(super) fn symbol_registers(
        &mut self,
        id: u32,
        thread: ThreadId,
    ) -> Result<symbols::Registers, String> {
        let runtime = self.runtime.clone();
        let target = self.target_mut(id).ok_or("the target is gone")?;
        let registers = runtime
            .block_on(target.rsp.read_registers(thread))
            .map_err(|error| error.to_string())?;
        let layout = target.rsp.layout();
        let mut values = symbols::Registers::new();
        for info in layout.registers() {
            if let Some(value) = registers.value(layout, &info.name) {
                values.set_by_name(&info.name, value);
            }
        }
        Ok(values)
    }

    /// The thread's top frame with its CFA (two frames unwound), cheaper
    /// than a whole stack for conditions and steps.
    fn top_frame(&mut self, id: u32, thread: ThreadId) -> Result<StackFrame, String> {
        if let Some(stack) = self
            .target(id)
            .and_then(|target| target.stacks.get(&thread).cloned())
            && let Some(frame) = stack.trace.frames.first()
        {
            return Ok(frame.clone());
        }
        let registers = self.symbol_registers(id, thread)?;
        self.with_symbols(id, |info, memory| info.unwind(&registers, memory, 2))
            .and_then(|trace| trace.frames.into_iter().next())
            .ok_or_else(|| "cannot read the top frame".to_owned())
    }

    /// The thread's call stack at this stop (cached until it runs).
    pub(super) fn stack(&mut self, id: u32, thread: ThreadId) -> Result<Rc<Stack>, String> {
        if let Some(stack) = self
            .target(id)
            .and_then(|target| target.stacks.get(&thread).cloned())
        {
            return Ok(stack);
        }
        let registers = self.symbol_registers(id, thread)?;
        let stack = self
            .with_symbols(id, |info, memory| {
                let trace = info.unwind(&registers, memory, MAX_FRAMES);
                let levels = trace
                    .frames
                    .iter()
                    .map(|frame| info.frames_at(frame.lookup_pc()).unwrap_or_default())
                    .collect();
                Stack { trace, levels }
            })
            .ok_or("the target is gone")?;
        let stack = Rc::new(stack);
        if let Some(target) = self.target_mut(id) {
            target.stacks.insert(thread, stack.clone());
        }
        Ok(stack)
    }

    /// Lists a stopped target's threads (once per stop), names new ones,
    /// and announces threads that appeared or went away.
    pub(super) fn refresh_threads(&mut self, id: u32) {
        let runtime = self.runtime.clone();
        let Some(target) = self.target_mut(id) else {
            return;
        };
        if target.running || target.threads_fresh {
            return;
        }
        let Ok(listed) = runtime.block_on(target.rsp.threads()) else {
            return;
        };
        target.threads_fresh = true;
        let old = std::mem::replace(&mut target.threads, listed.clone());
        for thread in &listed {
            if !target.thread_names.contains_key(thread)
                && let Ok(Some(name)) = runtime.block_on(target.rsp.thread_name(*thread))
            {
                target.thread_names.insert(*thread, name);
            }
        }
        let mut events = Vec::new();
        for thread in &listed {
            if !self.threads.known(id, *thread) {
                events.push(("started", self.threads.id(id, *thread)));
            }
        }
        for thread in old.iter().filter(|thread| !listed.contains(thread)) {
            if let Some(dap) = self.threads.forget(id, *thread) {
                events.push(("exited", dap));
            }
        }
        for (reason, dap) in events {
            let _ = self
                .out
                .raw_event("thread", json!({ "reason": reason, "threadId": dap }));
        }
    }

    /// Installs exactly the breakpoints the target should have: the user's
    /// (resolved in its program), the panic hook's, and the step engine's.
    /// The target must be stopped.
    pub(super) fn sync_breakpoints(&mut self, id: u32) {
        let ids = self.breakpoints.ids();
        let panic = self.breakpoints.panic;
        let Some(index) = self.targets.iter().position(|target| target.id == id) else {
            return;
        };
        let program_index = self.targets[index].program;
        self.resolve_in(program_index, &ids);
        if panic {
            self.resolve_panic(program_index);
        }
        let program = &self.programs[program_index];
        let target = &self.targets[index];
        let mut desired: BTreeSet<u64> = target.temporary.clone();
        for breakpoint in &ids {
            if let Some(Some(resolved)) = program.resolved.get(breakpoint) {
                desired.extend(
                    resolved
                        .addresses
                        .iter()
                        .map(|address| address.wrapping_add(target.bias)),
                );
            }
        }
        if panic && let Some(addresses) = &program.panic_addresses {
            desired.extend(
                addresses
                    .iter()
                    .map(|address| address.wrapping_add(target.bias)),
            );
        }
        let current: BTreeSet<u64> = target.rsp.breakpoints().collect();
        let runtime = self.runtime.clone();
        let mut failures = Vec::new();
        let target = &mut self.targets[index];
        for address in current.difference(&desired) {
            if let Err(error) = runtime.block_on(target.rsp.remove_breakpoint(*address)) {
                failures.push(format!("removing the breakpoint at {address:#x}: {error}"));
            }
        }
        for address in desired.difference(&current) {
            if let Err(error) = runtime.block_on(target.rsp.set_breakpoint(*address)) {
                failures.push(format!("inserting a breakpoint at {address:#x}: {error}"));
            }
        }
        for failure in failures {
            let _ = self.console(&format!("{failure}\n"));
        }
    }

    /// Runs `change` on every target with the target stopped: a running
    /// target is interrupted (silently) and resumed afterwards.
    pub(super) fn on_every_target(&mut self, change: impl Fn(&mut Self, u32)) {
        let ids: Vec<u32> = self.targets.iter().map(|target| target.id).collect();
        let runtime = self.runtime.clone();
        for id in ids {
            if !self.target(id).is_some_and(|target| target.running) {
                change(self, id);
                continue;
            }
            let Some(target) = self.target_mut(id) else {
                continue;
            };
            target.silent_interrupts += 1;
            let stopped = runtime.block_on(async {
                target.rsp.interrupt().await?;
                tokio::time::timeout(std::time::Duration::from_secs(5), target.rsp.wait_stop())
                    .await
                    .map_err(|_| RspError::Timeout {
                        operation: "interrupt to change breakpoints",
                        after: std::time::Duration::from_secs(5),
                    })?
            });
            target.running = target.rsp.is_running();
            let still_running = target.running;
            match stopped {
                Ok(StopReply::Stopped(stop)) if stop.signal == SIGINT || stop.signal == 0 => {
                    target.silent_interrupts = target.silent_interrupts.saturating_sub(1);
                    target.memory.clear();
                    target.stacks.clear();
                    let again = target.last_resume.unwrap_or(ResumeAction::Continue);
                    change(self, id);
                    let _ = self.resume(id, again);
                }
                other => {
                    // Something else stopped it first (it is reported as
                    // usual); the interrupt may still arrive later and is
                    // then swallowed.
                    if !still_running {
                        change(self, id);
                    }
                    self.pending_stops.push_back((id, other));
                }
            }
        }
    }

    /// Resumes a target, with exactly the breakpoints it should have.
    pub(super) fn resume(&mut self, id: u32, action: ResumeAction) -> io::Result<()> {
        self.sync_breakpoints(id);
        let runtime = self.runtime.clone();
        let pauser = self
            .emulator
            .as_ref()
            .map(|emulator| emulator.pauser.clone());
        let Some(target) = self.targets.iter_mut().find(|target| target.id == id) else {
            return Ok(());
        };
        if let (Some(pauser), Some(instance)) = (pauser, &target.instance) {
            let _ = pauser.send((instance.clone(), false));
        }
        let action = match (action, target.pending_signal.take()) {
            (ResumeAction::Continue, Some((thread, signal))) => {
                ResumeAction::ContinueWithSignal { thread, signal }
            }
            (action, _) => action,
        };
        target.last_resume = Some(match action {
            ResumeAction::ContinueWithSignal { .. } => ResumeAction::Continue,
            other => other,
        });
        target.mark_running();
        self.handles.clear_target(id);
        let sent = runtime.block_on(target.rsp.send_resume(action));
        match sent {
            Ok(None) => {}
            Ok(Some(stop)) => {
                target.running = false;
                self.pending_stops.push_back((id, Ok(stop)));
            }
            Err(error) => {
                target.running = false;
                self.pending_stops.push_back((id, Err(error)));
            }
        }
        Ok(())
    }

    /// Handles a stop (or the end) of a running target.
    pub(super) fn on_stop(
        &mut self,
        id: u32,
        result: Result<StopReply, RspError>,
    ) -> io::Result<()> {
        let Some(target) = self.target_mut(id) else {
            return Ok(());
        };
        target.running = false;
        target.memory.clear();
        target.stacks.clear();
        target.threads_fresh = false;
        let label = target.label.clone();
        let output = target.rsp.take_output();
        if !output.is_empty() {
            self.output(Category::Stdout, &String::from_utf8_lossy(&output))?;
        }
        match result {
            Err(error) => self.end_target(
                id,
                None,
                &format!("Lost the connection to {label}: {error}"),
            ),
            Ok(StopReply::Exited { code, .. }) => self.end_target(
                id,
                Some(i64::from(code)),
                &format!("{label} exited with code {code}"),
            ),
            Ok(StopReply::Terminated { signal, .. }) => {
                let name =
                    signal_name(signal).map_or_else(|| format!("signal {signal}"), str::to_owned);
                self.end_target(
                    id,
                    Some(128 + i64::from(signal)),
                    &format!("{label} was killed by {name}"),
                )
            }
            Ok(StopReply::NoResumedThreads) => {
                match self.target(id).and_then(|t| t.default_thread()) {
                    Some(thread) => self.report_stop(id, thread, StopKind::Pause),
                    None => Ok(()),
                }
            }
            Ok(StopReply::Stopped(stop)) => self.on_thread_stop(id, stop),
        }
    }

    /// Forgets a target that ended.
    pub(super) fn end_target(
        &mut self,
        id: u32,
        exit_code: Option<i64>,
        message: &str,
    ) -> io::Result<()> {
        let Some(index) = self.targets.iter().position(|target| target.id == id) else {
            return Ok(());
        };
        self.targets.remove(index);
        self.handles.clear_target(id);
        for dap in self.threads.forget_target(id) {
            self.out
                .raw_event("thread", json!({ "reason": "exited", "threadId": dap }))?;
        }
        self.console(&format!("{message}.\n"))?;
        let standalone = !matches!(
            self.config.as_ref().map(|config| &config.kind),
            Some(SessionKind::Emulator(_))
        );
        if standalone && self.targets.is_empty() {
            self.out
                .raw_event("exited", json!({ "exitCode": exit_code.unwrap_or(0) }))?;
            self.out.raw_event("terminated", json!({}))?;
        }
        Ok(())
    }

    fn on_thread_stop(&mut self, id: u32, stop: Stop) -> io::Result<()> {
        let runtime = self.runtime.clone();
        let Some(target) = self.target_mut(id) else {
            return Ok(());
        };
        let thread = match stop.thread.or_else(|| target.default_thread()) {
            Some(thread) => thread,
            None => match runtime.block_on(target.rsp.threads()) {
                Ok(threads) if !threads.is_empty() => threads[0],
                _ => {
                    let label = target.label.clone();
                    return self.end_target(id, None, &format!("{label} stopped without threads"));
                }
            },
        };
        target.stop_thread = Some(thread);
        if stop.signal == SIGINT && target.silent_interrupts > 0 && !target.pause_requested {
            target.silent_interrupts -= 1;
            let again = target.last_resume.unwrap_or(ResumeAction::Continue);
            return self.resume(id, again);
        }
        if matches!(target.activity, Activity::Step(_)) {
            // A step reads the stack pointer (and often the CFA's
            // registers) next: one `g` now instead of several `p`s. A
            // failure shows in the pc read below.
            let _ = runtime.block_on(target.rsp.read_registers(thread));
        }
        let pc = match runtime.block_on(target.rsp.read_pc(thread)) {
            Ok(pc) => pc,
            Err(error) => {
                let label = target.label.clone();
                return self.end_target(id, None, &format!("Lost {label}: {error}"));
            }
        };
        match std::mem::take(&mut target.activity) {
            Activity::Step(plan) => self.on_step_stop(id, thread, &stop, pc, plan),
            Activity::Free => self.on_free_stop(id, thread, &stop, pc),
        }
    }

    fn on_free_stop(&mut self, id: u32, thread: ThreadId, stop: &Stop, pc: u64) -> io::Result<()> {
        let pause_requested = self.target(id).is_some_and(|target| target.pause_requested);
        match stop.signal {
            SIGTRAP => match self.breakpoint_decision(id, thread, pc)? {
                Decision::Stop(ids) => self.report_stop(id, thread, StopKind::Breakpoint(ids)),
                Decision::Panic => self.report_stop(id, thread, StopKind::Panic),
                Decision::Continue if !pause_requested => self.resume(id, ResumeAction::Continue),
                Decision::Continue => self.report_stop(id, thread, StopKind::Pause),
                Decision::NotOurs if pause_requested => {
                    self.report_stop(id, thread, StopKind::Pause)
                }
                Decision::NotOurs => {
                    if self.follow_exec(id, stop)? {
                        return self.resume(id, ResumeAction::Continue);
                    }
                    self.report_stop(id, thread, StopKind::Signal(SIGTRAP))
                }
            },
            SIGINT | 0 if pause_requested => self.report_stop(id, thread, StopKind::Pause),
            SIGINT | 0 => self.report_stop(id, thread, StopKind::Signal(stop.signal)),
            signal => {
                if let Some(target) = self.target_mut(id) {
                    target.pending_signal = Some((thread, signal));
                }
                self.report_stop(id, thread, StopKind::Signal(signal))
            }
        }
    }

    /// After a SIGTRAP nobody asked for: if the process exec'd another
    /// program, loads its symbols (when the file is on this machine) and
    /// reinstalls breakpoints. Returns whether it did.
    fn follow_exec(&mut self, id: u32, stop: &Stop) -> io::Result<bool> {
        let runtime = self.runtime.clone();
        let Some(target) = self.target_mut(id) else {
            return Ok(false);
        };
        let Some(entry) = runtime
            .block_on(target.rsp.read_auxv())
            .ok()
            .and_then(|auxv| super::entry_from_auxv(&auxv))
        else {
            return Ok(false);
        };
        let program = target.program;
        let bias = target.bias;
        let expected = self.programs[program].info.entry_point().wrapping_add(bias);
        let Some(target) = self.target_mut(id) else {
            return Ok(false);
        };
        if entry == expected && !matches!(stop.reason, StopReason::Exec(_)) {
            return Ok(false);
        }
        let path = match &stop.reason {
            StopReason::Exec(path) => Some(String::from_utf8_lossy(path).into_owned()),
            _ => runtime.block_on(target.rsp.exec_file()).ok(),
        };
        let label = target.label.clone();
        let loaded = path
            .as_deref()
            .map(std::path::Path::new)
            .filter(|path| path.is_file())
            .map(|path| self.load_program(path));
        match loaded {
            Some(Ok(index)) => {
                let bias = entry.wrapping_sub(self.programs[index].info.entry_point());
                if let Some(target) = self.target_mut(id) {
                    target.program = index;
                    target.bias = bias;
                    target.temporary.clear();
                }
                self.console(&format!(
                    "{label} now runs {}; its symbols are loaded.\n",
                    path.unwrap_or_default()
                ))?;
            }
            _ => {
                self.console(&format!(
                    "{label} started another program ({}), which has no symbols on this machine.\n",
                    path.unwrap_or_else(|| "unknown".to_owned())
                ))?;
            }
        }
        self.sync_breakpoints(id);
        Ok(true)
    }

    fn on_step_stop(
        &mut self,
        id: u32,
        thread: ThreadId,
        stop: &Stop,
        pc: u64,
        plan: StepPlan,
    ) -> io::Result<()> {
        let pause_requested = self.target(id).is_some_and(|target| target.pause_requested);
        if pause_requested {
            return self.report_stop(id, thread, StopKind::Pause);
        }
        if stop.signal != SIGTRAP {
            if stop.signal != SIGINT
                && stop.signal != 0
                && let Some(target) = self.target_mut(id)
            {
                target.pending_signal = Some((thread, stop.signal));
            }
            return self.report_stop(id, thread, StopKind::Signal(stop.signal));
        }
        let at_temporary = self
            .target(id)
            .is_some_and(|target| target.temporary.contains(&pc));
        if thread != plan.thread || (!at_temporary && !contains(&plan.ranges, pc)) {
            match self.breakpoint_decision(id, thread, pc)? {
                Decision::Stop(ids) => {
                    return self.report_stop(id, thread, StopKind::Breakpoint(ids));
                }
                Decision::Panic => return self.report_stop(id, thread, StopKind::Panic),
                Decision::Continue | Decision::NotOurs if thread != plan.thread => {
                    // Another thread passed a breakpoint while the step
                    // ran all threads to a return address: carry on.
                    if let Some(target) = self.target_mut(id) {
                        target.activity = Activity::Step(plan);
                    }
                    return self.resume(id, ResumeAction::Continue);
                }
                Decision::Continue | Decision::NotOurs => {}
            }
        }
        self.step_move(id, plan, pc, false)
    }

    /// Decides and makes the step's next move from `pc`.
    pub(super) fn step_move(
        &mut self,
        id: u32,
        mut plan: StepPlan,
        pc: u64,
        first: bool,
    ) -> io::Result<()> {
        let thread = plan.thread;
        let next = if first {
            plan.first_move(pc)
        } else if plan.returning.is_none()
            && plan.exits.is_none()
            && let Some(range) = plan.ranges.iter().find(|range| range.contains(&pc))
        {
            // The common case (a range step ended inside the line, e.g. at
            // a breakpoint there): no need to read anything.
            plan.moves += 1;
            Next::RangeStep(range.clone())
        } else {
            match self.observe(id, thread, pc, &plan) {
                Ok(observation) => plan.decide(&observation, |callee| self.callee_line(id, callee)),
                Err(error) => {
                    self.console(&format!("stepping stopped: {error}\n"))?;
                    Next::Report
                }
            }
        };
        let mut next = plan.through_calls(next, pc, |code| {
            self.with_symbols(id, |info, _| info.range_exits(code))
                .flatten()
        });
        loop {
            match next {
                Next::StepOutToCaller => {
                    next = match self.caller(id, thread) {
                        Some((address, cfa)) => plan.step_out_to(address, cfa),
                        None => Next::Report,
                    };
                }
                Next::Report => return self.report_stop(id, thread, StopKind::Step),
                Next::RangeStep(range) => {
                    self.set_temporaries(id, []);
                    self.set_activity(id, plan);
                    return self.resume(
                        id,
                        ResumeAction::RangeStep {
                            thread,
                            start: range.start,
                            end: range.end,
                        },
                    );
                }
                Next::RunTo(address) => {
                    self.set_temporaries(id, [address]);
                    self.set_activity(id, plan);
                    return self.resume(id, ResumeAction::Continue);
                }
                Next::RunToExits(stops) => {
                    self.set_temporaries(id, stops);
                    self.set_activity(id, plan);
                    return self.resume(id, ResumeAction::Continue);
                }
                Next::Instruction => {
                    self.set_temporaries(id, []);
                    self.set_activity(id, plan);
                    return self.resume(id, ResumeAction::Step(thread));
                }
            }
        }
    }

    fn set_activity(&mut self, id: u32, plan: StepPlan) {
        if let Some(target) = self.target_mut(id) {
            target.activity = Activity::Step(plan);
        }
    }

    /// Sets the step engine's temporary breakpoints (or none); the
    /// resume that follows installs them.
    fn set_temporaries(&mut self, id: u32, addresses: impl IntoIterator<Item = u64>) {
        if let Some(target) = self.target_mut(id) {
            target.temporary = addresses.into_iter().collect();
        }
    }

    /// What the step engine needs to know about the thread at `pc`.
    fn observe(
        &mut self,
        id: u32,
        thread: ThreadId,
        pc: u64,
        plan: &StepPlan,
    ) -> Result<Observation, String> {
        let runtime = self.runtime.clone();
        let target = self.target_mut(id).ok_or("the target is gone")?;
        let sp_name = target.rsp.layout().sp_name().unwrap_or("rsp").to_owned();
        let sp = runtime
            .block_on(target.rsp.read_register(thread, &sp_name))
            .map_err(|error| error.to_string())?;
        // The word on top of the stack tells a call apart, which happens
        // outside the stepped function or at its entry only.
        let in_body = plan
            .function
            .as_ref()
            .is_some_and(|function| function.contains(&pc) && function.start != pc);
        let top_of_stack = if in_body {
            None
        } else {
            runtime
                .block_on(target.rsp.read_memory(sp, 8))
                .ok()
                .and_then(|bytes| Some(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?)))
        };
        let cfa = if plan.exits.is_some() {
            let registers = self.symbol_registers(id, thread)?;
            self.with_symbols(id, |info, memory| info.frame_cfa(&registers, memory))
                .flatten()
        } else {
            None
        };
        let has_source = self.has_source(id, pc);
        let function_has_source = has_source || self.function_has_source(id, pc);
        let inlined_range = if has_source {
            None
        } else {
            self.inlined_library_range(id, pc)
        };
        Ok(Observation {
            pc,
            sp,
            top_of_stack,
            has_source,
            function_has_source,
            inlined_range,
            cfa,
        })
    }

    /// The range of the inlined call that holds `pc` and was made from code
    /// with source on this machine (library code inlined into the user's),
    /// so a step can leave it in one move.
    fn inlined_library_range(&mut self, id: u32, pc: u64) -> Option<std::ops::Range<u64>> {
        let levels = self
            .with_symbols(id, |info, _| info.frames_at(pc).ok())
            .flatten()?;
        for (depth, pair) in levels.windows(2).enumerate() {
            if !pair[0].inlined {
                return None;
            }
            let Some(call_site) = pair[1].location.as_ref().filter(|l| l.line != 0) else {
                continue;
            };
            let path = call_site.path.clone();
            let local = *self
                .source_exists
                .entry(path.clone())
                .or_insert_with(|| std::path::Path::new(&path).is_file());
            if local {
                return self
                    .with_symbols(id, |info, _| info.function_level_range(pc, depth))
                    .flatten();
            }
        }
        None
    }

    /// Whether any function level at `pc` has a source position on this
    /// machine (an outer level's position is its call site of the inner).
    fn function_has_source(&mut self, id: u32, pc: u64) -> bool {
        let paths: Vec<String> = self
            .with_symbols(id, |info, _| info.frames_at(pc).ok())
            .flatten()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|level| level.location)
            .filter(|location| location.line != 0)
            .map(|location| location.path)
            .collect();
        paths.into_iter().any(|path| {
            *self
                .source_exists
                .entry(path.clone())
                .or_insert_with(|| std::path::Path::new(&path).is_file())
        })
    }

    /// The code of the function at `pc` without source on this machine.
    fn sourceless_ranges(&mut self, id: u32, pc: u64) -> Vec<std::ops::Range<u64>> {
        let mut exists = std::mem::take(&mut self.source_exists);
        let ranges = self
            .with_symbols(id, |info, _| {
                info.sourceless_ranges(pc, |path| {
                    *exists
                        .entry(path.to_owned())
                        .or_insert_with(|| std::path::Path::new(path).is_file())
                })
                .ok()
            })
            .flatten()
            .unwrap_or_default();
        self.source_exists = exists;
        ranges
    }

    /// Whether `pc` is in code whose source file is on this machine.
    pub(super) fn has_source(&mut self, id: u32, pc: u64) -> bool {
        let location = self
            .with_symbols(id, |info, _| info.location_at(pc).ok().flatten())
            .flatten();
        let Some(location) = location.filter(|location| location.line != 0) else {
            return false;
        };
        *self
            .source_exists
            .entry(location.path.clone())
            .or_insert_with(|| std::path::Path::new(&location.path).is_file())
    }

    fn callee_line(&mut self, id: u32, pc: u64) -> Option<CalleeLine> {
        self.with_symbols(id, |info, _| info.step_range(pc).ok().flatten())
            .flatten()
            .map(|range| CalleeLine {
                ranges: range.ranges,
                function: range.function,
            })
    }

    /// The return address and CFA of the thread's top frame.
    fn caller(&mut self, id: u32, thread: ThreadId) -> Option<(u64, u64)> {
        let registers = self.symbol_registers(id, thread).ok()?;
        let trace = self.with_symbols(id, |info, memory| info.unwind(&registers, memory, 2))?;
        let cfa = trace.frames.first()?.cfa?;
        let caller = trace.frames.get(1)?;
        Some((caller.pc, cfa))
    }

    /// The CFA of the thread's top frame, for a step. `stepOut` unwinds
    /// (it needs the caller next); the others read only the CFI row,
    /// unless this stop's stack is known already.
    fn frame_cfa(&mut self, id: u32, thread: ThreadId, kind: StepKind) -> Result<u64, String> {
        let cached = self
            .target(id)
            .is_some_and(|target| target.stacks.contains_key(&thread));
        if kind == StepKind::Out || cached {
            let frame = self.top_frame(id, thread)?;
            let sp = frame.registers.sp().unwrap_or(0);
            return Ok(frame.cfa.unwrap_or(sp.saturating_add(8)));
        }
        let registers = self.symbol_registers(id, thread)?;
        let sp = registers.sp().unwrap_or(0);
        Ok(self
            .with_symbols(id, |info, memory| info.frame_cfa(&registers, memory))
            .flatten()
            .unwrap_or(sp.saturating_add(8)))
    }

    /// Starts a step on a stopped thread.
    pub(super) fn start_step(
        &mut self,
        id: u32,
        thread: ThreadId,
        kind: StepKind,
    ) -> io::Result<()> {
        let runtime = self.runtime.clone();
        let Some(target) = self.target_mut(id) else {
            return Ok(());
        };
        // One `g` answers the pc, stack pointer and CFA reads below.
        let _ = runtime.block_on(target.rsp.read_registers(thread));
        let pc = match runtime.block_on(target.rsp.read_pc(thread)) {
            Ok(pc) => pc,
            Err(error) => return self.console(&format!("cannot step: {error}\n")),
        };
        let cfa = match self.frame_cfa(id, thread, kind) {
            Ok(cfa) => cfa,
            Err(error) => return self.console(&format!("cannot step: {error}\n")),
        };
        let plan = match kind {
            StepKind::Out => {
                let stack = match self.stack(id, thread) {
                    Ok(stack) => stack,
                    Err(error) => return self.console(&format!("cannot step out: {error}\n")),
                };
                let inlined = stack
                    .levels
                    .first()
                    .and_then(|levels| levels.first())
                    .is_some_and(|level| level.inlined);
                let inline_range = if inlined {
                    self.with_symbols(id, |info, _| info.function_level_range(pc, 0))
                        .flatten()
                } else {
                    None
                };
                match (inline_range, stack.trace.frames.get(1)) {
                    (Some(range), _) => StepPlan::line(
                        StepKind::Over,
                        thread,
                        vec![range.clone()],
                        Some(range),
                        cfa,
                    ),
                    (None, Some(caller)) => StepPlan::out(thread, caller.pc, cfa),
                    (None, None) => {
                        self.console("cannot step out: the caller of this frame is unknown\n")?;
                        return self.report_stop(id, thread, StopKind::Step);
                    }
                }
            }
            StepKind::Instruction => {
                StepPlan::line(StepKind::Instruction, thread, Vec::new(), None, cfa)
            }
            kind => {
                let range = self
                    .with_symbols(id, |info, _| info.step_range(pc).ok().flatten())
                    .flatten();
                let mut plan = match range {
                    Some(range) => StepPlan::line(kind, thread, range.ranges, range.function, cfa),
                    None => StepPlan::line(kind, thread, Vec::new(), None, cfa),
                };
                if kind == StepKind::Over && !plan.ranges.is_empty() {
                    plan.library = self.sourceless_ranges(id, pc);
                }
                plan
            }
        };
        self.step_move(id, plan, pc, true)
    }

    /// Decides whether a SIGTRAP at `pc` stops for a breakpoint, counting
    /// hits, checking conditions and printing logpoints.
    fn breakpoint_decision(&mut self, id: u32, thread: ThreadId, pc: u64) -> io::Result<Decision> {
        let Some(target) = self.target(id) else {
            return Ok(Decision::NotOurs);
        };
        let program = &self.programs[target.program];
        let bias = target.bias;
        let mut owners = Vec::new();
        for breakpoint in self.breakpoints.ids() {
            if let Some(Some(resolved)) = program.resolved.get(&breakpoint)
                && resolved
                    .addresses
                    .iter()
                    .any(|address| address.wrapping_add(bias) == pc)
            {
                owners.push(breakpoint);
            }
        }
        let panic = self.breakpoints.panic
            && program.panic_addresses.as_ref().is_some_and(|addresses| {
                addresses
                    .iter()
                    .any(|address| address.wrapping_add(bias) == pc)
            });
        if owners.is_empty() {
            return Ok(if panic {
                Decision::Panic
            } else {
                Decision::NotOurs
            });
        }
        let mut stopping = Vec::new();
        for breakpoint in owners {
            let Some(options) = self
                .breakpoints
                .options_mut(breakpoint)
                .map(|options| options.clone())
            else {
                continue;
            };
            if let Some(condition) = options
                .condition
                .as_deref()
                .filter(|c| !c.trim().is_empty())
            {
                let verdict = match self.top_frame(id, thread) {
                    Ok(frame) => self
                        .with_symbols(id, |info, memory| {
                            info.evaluate_condition(condition, &frame, 0, memory)
                        })
                        .unwrap_or(Ok(true))
                        .map_err(|error| error.to_string()),
                    Err(error) => Err(error),
                };
                match verdict {
                    Ok(false) => continue,
                    Ok(true) => {}
                    Err(error) => {
                        self.console(&format!(
                            "The condition `{condition}` of breakpoint {breakpoint} could not be evaluated ({error}); stopping.\n"
                        ))?;
                    }
                }
            }
            let hits = match self.breakpoints.options_mut(breakpoint) {
                Some(options) => {
                    options.hits += 1;
                    options.hits
                }
                None => continue,
            };
            if let Some(hit_condition) = options.hit_condition
                && !hit_condition.holds(hits)
            {
                continue;
            }
            if let Some(message) = &options.log_message {
                let text = self.format_log_message(id, thread, message);
                self.output(Category::Console, &format!("{text}\n"))?;
                continue;
            }
            stopping.push(breakpoint);
        }
        Ok(if !stopping.is_empty() {
            Decision::Stop(stopping)
        } else if panic {
            Decision::Panic
        } else {
            Decision::Continue
        })
    }

    fn format_log_message(&mut self, id: u32, thread: ThreadId, message: &str) -> String {
        let frame = self.top_frame(id, thread);
        let mut text = String::new();
        for part in parse_log_message(message) {
            match part {
                LogPart::Text(literal) => text.push_str(&literal),
                LogPart::Expression(expression) => {
                    let value = match &frame {
                        Ok(frame) => self
                            .with_symbols(id, |info, memory| {
                                info.evaluate(&expression, frame, 0, memory)
                            })
                            .map(|result| {
                                result
                                    .map(|variable| variable.value)
                                    .map_err(|error| error.to_string())
                            }),
                        Err(error) => Some(Err(error.clone())),
                    };
                    match value {
                        Some(Ok(value)) => text.push_str(&value),
                        Some(Err(error)) => text.push_str(&format!("<{error}>")),
                        None => text.push_str("<the target is gone>"),
                    }
                }
            }
        }
        text
    }

    /// Reports a stop to the client: the `stopped` event, and the emulator
    /// is told to stop the invocation's clock.
    pub(super) fn report_stop(
        &mut self,
        id: u32,
        thread: ThreadId,
        kind: StopKind,
    ) -> io::Result<()> {
        let pauser = self
            .emulator
            .as_ref()
            .map(|emulator| emulator.pauser.clone());
        let Some(target) = self.target_mut(id) else {
            return Ok(());
        };
        target.activity = Activity::Free;
        target.pause_requested = false;
        target.held = false;
        target.stop_thread = Some(thread);
        if let (Some(pauser), Some(instance)) = (pauser, &target.instance) {
            let _ = pauser.send((instance.clone(), true));
        }
        // The step engine's breakpoints stay in the program until it runs
        // again (`resume` removes them): a `next` after this one usually
        // wants most of them back, which saves a round trip each.
        target.temporary.clear();
        let dap_thread = self.threads.id(id, thread);
        let all_stopped = self.targets.len() == 1;
        let (reason, description, text, hit) = match kind {
            StopKind::Breakpoint(ids) => ("breakpoint", None, None, Some(ids)),
            StopKind::Step => ("step", None, None, None),
            StopKind::Pause => ("pause", None, None, None),
            StopKind::Entry => ("entry", None, None, None),
            StopKind::Panic => {
                let message = self.panic_message();
                ("exception", Some("Rust panic".to_owned()), message, None)
            }
            StopKind::Signal(signal) => {
                let name =
                    signal_name(signal).map_or_else(|| format!("signal {signal}"), str::to_owned);
                (
                    "exception",
                    Some(format!("{name} received")),
                    Some(name),
                    None,
                )
            }
        };
        tracing::trace!(target: "fogbank_dap::session", "stopped: {reason}");
        self.check_cloud_clock(id)?;
        self.out.raw_event(
            "stopped",
            json!({
                "reason": reason,
                "threadId": dap_thread,
                "allThreadsStopped": all_stopped,
                "description": description,
                "text": text,
                "hitBreakpointIds": hit,
            }),
        )
    }

    /// For an in-place target: asks its agent which cloud invocations run
    /// and how long they have, announces new ones, and warns while the
    /// target stays stopped (`mark_running` cancels the warnings).
    fn check_cloud_clock(&mut self, id: u32) -> io::Result<()> {
        // Every stop of every target passes here: local ones leave at once.
        if self.target(id).is_none_or(|target| target.cloud.is_none()) {
            return Ok(());
        }
        let runtime = self.runtime.clone();
        let sender = self.input_sender.clone();
        let Some(target) = self.target_mut(id) else {
            return Ok(());
        };
        let answer = runtime.block_on(target.rsp.monitor(cloud::MONITOR_COMMAND));
        let Some(clock) = target.cloud.as_mut() else {
            return Ok(());
        };
        let text = match answer {
            Ok(text) => text,
            Err(error) => {
                // An agent without the watch: no point asking again. Other
                // failures may pass, so the next stop asks again.
                if matches!(error, RspError::Unsupported { .. }) {
                    target.cloud = None;
                }
                return self.output(
                    Category::Console,
                    &format!(
                        "The sandbox's agent cannot tell the cloud invocation's deadline ({error}).\n"
                    ),
                );
            }
        };
        let notice = clock.at_stop(&cloud::parse_invocations(&text));
        if let Some((request_id, left)) = notice.watch {
            let channel = clock.channel().to_owned();
            let task = runtime.spawn(async move {
                fogbank_relay::developer::watch_deadline(
                    std::future::pending::<()>(),
                    Some(left),
                    |event| {
                        let (category, text) = cloud::warning(&channel, &request_id, event);
                        let _ = sender.send(Input::Output(category, text));
                    },
                )
                .await;
            });
            clock.set_warnings(task.abort_handle());
        }
        for (category, text) in notice.announcements {
            self.output(category, &text)?;
        }
        Ok(())
    }

    /// The message of the last panic in the function's output, if any.
    pub(super) fn panic_message(&self) -> Option<String> {
        let lines: Vec<&String> = self.recent_output.iter().collect();
        let start = lines
            .iter()
            .rposition(|line| line.contains("panicked at"))?;
        let mut message: Vec<&str> = lines[start..]
            .iter()
            .take(4)
            .map(|line| line.trim_end())
            .take_while(|line| !line.starts_with("note: run with"))
            .collect();
        message.retain(|line| !line.is_empty());
        Some(message.join("\n"))
    }
}
