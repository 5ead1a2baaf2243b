//! The gdbstub `Target`: maps RSP operations onto the [`Inferior`].
//!
//! Architecture Invariant: this is the only module that knows gdbstub's target
//! traits; it holds no process-control logic of its own beyond collecting the
//! per-thread resume actions of one `vCont` packet.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;

use gdbstub::common::{Signal, Tid};
use gdbstub::stub::MultiThreadStopReason;
use gdbstub::target::ext::auxv::{Auxv, AuxvOps};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::base::multithread::{
    MultiThreadBase, MultiThreadRangeStepping, MultiThreadRangeSteppingOps, MultiThreadResume,
    MultiThreadResumeOps, MultiThreadSchedulerLocking, MultiThreadSchedulerLockingOps,
    MultiThreadSingleStep, MultiThreadSingleStepOps,
};
use gdbstub::target::ext::base::single_register_access::{
    SingleRegisterAccess, SingleRegisterAccessOps,
};
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, SwBreakpoint, SwBreakpointOps,
};
use gdbstub::target::ext::exec_file::{ExecFile, ExecFileOps};
use gdbstub::target::ext::monitor_cmd::{
    ConsoleOutput, MonitorCmd, MonitorCmdOps, output, outputln,
};
use gdbstub::target::ext::target_description_xml_override::{
    TargetDescriptionXmlOverride, TargetDescriptionXmlOverrideOps,
};
use gdbstub::target::ext::thread_extra_info::{ThreadExtraInfo, ThreadExtraInfoOps};
use gdbstub::target::{Target, TargetError, TargetResult};
use nix::unistd::Pid;

use crate::arch::{self, LinuxX86_64, LinuxX86_64RegId, LinuxX86_64Regs};
use crate::inferior::{Inferior, InferiorError, Resume, ResumeKind, StopEvent};
use crate::runtime_watch::{self, Invocations};
use crate::signals;

/// The resume actions gathered from one `vCont` packet.
#[derive(Debug, Default)]
struct ResumePlan {
    explicit: BTreeMap<Pid, Resume>,
    /// Threads without an explicit action stay stopped (scheduler locking)
    /// instead of continuing.
    locked: bool,
}

/// gdbstub target over a traced process.
#[derive(Debug)]
pub struct AgentTarget {
    inferior: Inferior,
    plan: ResumePlan,
    /// In place: what the Runtime API proxy saw, for the monitor command.
    invocations: Option<std::sync::Arc<Invocations>>,
}

impl AgentTarget {
    /// Wraps a traced, stopped process.
    pub fn new(inferior: Inferior) -> AgentTarget {
        AgentTarget {
            inferior,
            plan: ResumePlan::default(),
            invocations: None,
        }
    }

    /// Answers `monitor fogbank invocation` from what `invocations` saw.
    pub fn with_invocations(mut self, invocations: std::sync::Arc<Invocations>) -> AgentTarget {
        self.invocations = Some(invocations);
        self
    }

    /// The traced process.
    pub fn inferior(&self) -> &Inferior {
        &self.inferior
    }

    /// The traced process, mutably (for interrupt, kill and stop polling).
    pub fn inferior_mut(&mut self) -> &mut Inferior {
        &mut self.inferior
    }

    /// Gives the process back, e.g. to detach from it.
    pub fn into_inferior(self) -> Inferior {
        self.inferior
    }
}

/// Converts an inferior event into gdbstub's stop reason.
pub fn stop_reason(event: StopEvent) -> MultiThreadStopReason<u64> {
    let signal = |linux: i32| Signal(signals::to_gdb(linux));
    match event {
        StopEvent::Breakpoint(tid) => MultiThreadStopReason::SwBreak(to_tid(tid)),
        // A plain `S05` would not name the thread; gdb needs it after a step.
        StopEvent::Stepped(tid) | StopEvent::Exec(tid) => MultiThreadStopReason::SignalWithThread {
            tid: to_tid(tid),
            signal: Signal::SIGTRAP,
        },
        StopEvent::Signal(tid, number) => MultiThreadStopReason::SignalWithThread {
            tid: to_tid(tid),
            signal: signal(number),
        },
        StopEvent::Interrupted(tid) => MultiThreadStopReason::SignalWithThread {
            tid: to_tid(tid),
            signal: Signal::SIGINT,
        },
        StopEvent::Exited(code) => MultiThreadStopReason::Exited(code as u8),
        StopEvent::Killed(number) => MultiThreadStopReason::Terminated(signal(number)),
    }
}

fn to_tid(pid: Pid) -> Tid {
    NonZeroUsize::new(pid.as_raw().max(1) as usize).unwrap_or(NonZeroUsize::MIN)
}

fn to_pid(tid: Tid) -> Pid {
    Pid::from_raw(i32::try_from(tid.get()).unwrap_or(i32::MAX))
}

fn errno(error: nix::errno::Errno) -> TargetError<InferiorError> {
    TargetError::Errno(u8::try_from(error as i32).unwrap_or(u8::MAX))
}

/// Copies `data[offset..]` into `buf` as the qXfer-style readers expect.
fn copy_range(data: &[u8], offset: u64, length: usize, buf: &mut [u8]) -> usize {
    let Ok(start) = usize::try_from(offset) else {
        return 0;
    };
    if start >= data.len() {
        return 0;
    }
    let count = (data.len() - start).min(length).min(buf.len());
    buf[..count].copy_from_slice(&data[start..start + count]);
    count
}

impl Target for AgentTarget {
    type Arch = LinuxX86_64;
    type Error = InferiorError;

    fn base_ops(&mut self) -> BaseOps<'_, Self::Arch, Self::Error> {
        BaseOps::MultiThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }

    fn support_auxv(&mut self) -> Option<AuxvOps<'_, Self>> {
        Some(self)
    }

    fn support_exec_file(&mut self) -> Option<ExecFileOps<'_, Self>> {
        Some(self)
    }

    fn support_monitor_cmd(&mut self) -> Option<MonitorCmdOps<'_, Self>> {
        Some(self)
    }

    // Forked children are detached by the agent (see `Inferior`), never
    // reported, so the stub must not announce fork events.
    fn use_fork_stop_reason(&self) -> bool {
        false
    }

    fn use_vfork_stop_reason(&self) -> bool {
        false
    }

    fn use_vforkdone_stop_reason(&self) -> bool {
        false
    }

    fn support_target_description_xml_override(
        &mut self,
    ) -> Option<TargetDescriptionXmlOverrideOps<'_, Self>> {
        Some(self)
    }
}

impl MultiThreadBase for AgentTarget {
    fn read_registers(&mut self, regs: &mut LinuxX86_64Regs, tid: Tid) -> TargetResult<(), Self> {
        *regs = arch::read_registers(to_pid(tid)).map_err(errno)?;
        Ok(())
    }

    fn write_registers(&mut self, regs: &LinuxX86_64Regs, tid: Tid) -> TargetResult<(), Self> {
        arch::write_registers(to_pid(tid), regs).map_err(errno)
    }

    fn support_single_register_access(&mut self) -> Option<SingleRegisterAccessOps<'_, Tid, Self>> {
        Some(self)
    }

    fn read_addrs(
        &mut self,
        start_addr: u64,
        data: &mut [u8],
        _tid: Tid,
    ) -> TargetResult<usize, Self> {
        match self.inferior.read_memory(start_addr, data) {
            Ok(0) if !data.is_empty() => Err(TargetError::Errno(libc::EFAULT as u8)),
            Ok(count) => Ok(count),
            Err(error) => Err(TargetError::Errno(
                error
                    .raw_os_error()
                    .and_then(|e| u8::try_from(e).ok())
                    .unwrap_or(libc::EIO as u8),
            )),
        }
    }

    fn write_addrs(&mut self, start_addr: u64, data: &[u8], _tid: Tid) -> TargetResult<(), Self> {
        self.inferior
            .write_memory(start_addr, data)
            .map_err(|error| {
                TargetError::Errno(
                    error
                        .raw_os_error()
                        .and_then(|e| u8::try_from(e).ok())
                        .unwrap_or(libc::EIO as u8),
                )
            })
    }

    fn list_active_threads(
        &mut self,
        thread_is_active: &mut dyn FnMut(Tid),
    ) -> Result<(), Self::Error> {
        for tid in self.inferior.thread_ids() {
            thread_is_active(to_tid(tid));
        }
        Ok(())
    }

    fn is_thread_alive(&mut self, tid: Tid) -> Result<bool, Self::Error> {
        Ok(self.inferior.has_thread(to_pid(tid)))
    }

    fn support_resume(&mut self) -> Option<MultiThreadResumeOps<'_, Self>> {
        Some(self)
    }

    fn support_thread_extra_info(&mut self) -> Option<ThreadExtraInfoOps<'_, Self>> {
        Some(self)
    }
}

impl SingleRegisterAccess<Tid> for AgentTarget {
    fn read_register(
        &mut self,
        tid: Tid,
        reg_id: LinuxX86_64RegId,
        buf: &mut [u8],
    ) -> TargetResult<usize, Self> {
        let regs = arch::read_registers(to_pid(tid)).map_err(errno)?;
        let bytes = arch::register_bytes(&regs, reg_id);
        Ok(copy_range(&bytes, 0, bytes.len(), buf))
    }

    fn write_register(
        &mut self,
        tid: Tid,
        reg_id: LinuxX86_64RegId,
        val: &[u8],
    ) -> TargetResult<(), Self> {
        let pid = to_pid(tid);
        let mut regs = arch::read_registers(pid).map_err(errno)?;
        arch::set_register_bytes(&mut regs, reg_id, val).map_err(|()| TargetError::NonFatal)?;
        arch::write_registers(pid, &regs).map_err(errno)
    }
}

impl MultiThreadResume for AgentTarget {
    fn resume(&mut self) -> Result<(), Self::Error> {
        let plan = std::mem::take(&mut self.plan);
        let decide = |tid: Pid| -> Option<Resume> {
            match plan.explicit.get(&tid) {
                Some(action) => Some(*action),
                None if plan.locked => None,
                None => Some(Resume {
                    kind: ResumeKind::Continue,
                    signal: 0,
                }),
            }
        };
        self.inferior.resume(&decide)
    }

    fn clear_resume_actions(&mut self) -> Result<(), Self::Error> {
        self.plan = ResumePlan::default();
        Ok(())
    }

    fn set_resume_action_continue(
        &mut self,
        tid: Tid,
        signal: Option<Signal>,
    ) -> Result<(), Self::Error> {
        self.set_action(tid, ResumeKind::Continue, signal);
        Ok(())
    }

    fn support_single_step(&mut self) -> Option<MultiThreadSingleStepOps<'_, Self>> {
        Some(self)
    }

    fn support_range_step(&mut self) -> Option<MultiThreadRangeSteppingOps<'_, Self>> {
        Some(self)
    }

    fn support_scheduler_locking(&mut self) -> Option<MultiThreadSchedulerLockingOps<'_, Self>> {
        Some(self)
    }
}

impl AgentTarget {
    fn set_action(&mut self, tid: Tid, kind: ResumeKind, signal: Option<Signal>) {
        // A signal Linux does not have cannot be delivered; resume without.
        let signal = signal
            .and_then(|signal| signals::to_linux(signal.0))
            .unwrap_or(0);
        self.plan
            .explicit
            .insert(to_pid(tid), Resume { kind, signal });
    }
}

impl MultiThreadSingleStep for AgentTarget {
    fn set_resume_action_step(
        &mut self,
        tid: Tid,
        signal: Option<Signal>,
    ) -> Result<(), Self::Error> {
        self.set_action(tid, ResumeKind::Step, signal);
        Ok(())
    }
}

impl MultiThreadRangeStepping for AgentTarget {
    fn set_resume_action_range_step(
        &mut self,
        tid: Tid,
        start: u64,
        end: u64,
    ) -> Result<(), Self::Error> {
        self.set_action(tid, ResumeKind::RangeStep { start, end }, None);
        Ok(())
    }
}

impl MultiThreadSchedulerLocking for AgentTarget {
    fn set_resume_action_scheduler_lock(&mut self) -> Result<(), Self::Error> {
        self.plan.locked = true;
        Ok(())
    }
}

impl Breakpoints for AgentTarget {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }
}

impl SwBreakpoint for AgentTarget {
    fn add_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        Ok(self.inferior.insert_breakpoint(addr).is_ok())
    }

    fn remove_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        Ok(self.inferior.remove_breakpoint(addr).unwrap_or(false))
    }
}

impl Auxv for AgentTarget {
    fn get_auxv(&self, offset: u64, length: usize, buf: &mut [u8]) -> TargetResult<usize, Self> {
        let auxv = self
            .inferior
            .proc_file("auxv")
            .map_err(|_| TargetError::NonFatal)?;
        Ok(copy_range(&auxv, offset, length, buf))
    }
}

impl MonitorCmd for AgentTarget {
    fn handle_monitor_cmd(
        &mut self,
        cmd: &[u8],
        mut out: ConsoleOutput<'_>,
    ) -> Result<(), Self::Error> {
        let command = String::from_utf8_lossy(cmd);
        if command.trim() != runtime_watch::MONITOR_COMMAND {
            outputln!(
                out,
                "fogbank-agent: unknown monitor command {:?}; it knows \"{}\"",
                command.trim(),
                runtime_watch::MONITOR_COMMAND
            );
            return Ok(());
        }
        match &self.invocations {
            Some(invocations) => output!(
                out,
                "{}",
                runtime_watch::describe(&invocations.running(), crate::forward::now_ms())
            ),
            None => outputln!(
                out,
                "fogbank-agent: not watching a Runtime API (in-place mode only)"
            ),
        }
        Ok(())
    }
}

impl ExecFile for AgentTarget {
    fn get_exec_file(
        &self,
        _pid: Option<gdbstub::common::Pid>,
        offset: u64,
        length: usize,
        buf: &mut [u8],
    ) -> TargetResult<usize, Self> {
        let path = self
            .inferior
            .exe_path()
            .map_err(|_| TargetError::NonFatal)?;
        Ok(copy_range(
            path.as_os_str().as_encoded_bytes(),
            offset,
            length,
            buf,
        ))
    }
}

impl TargetDescriptionXmlOverride for AgentTarget {
    fn target_description_xml(
        &self,
        annex: &[u8],
        offset: u64,
        length: usize,
        buf: &mut [u8],
    ) -> TargetResult<usize, Self> {
        if annex != b"target.xml" {
            return Err(TargetError::NonFatal);
        }
        Ok(copy_range(arch::TARGET_XML.as_bytes(), offset, length, buf))
    }
}

impl ThreadExtraInfo for AgentTarget {
    fn thread_extra_info(&self, tid: Tid, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let name = self.inferior.thread_name(to_pid(tid)).unwrap_or_default();
        Ok(copy_range(name.as_bytes(), 0, name.len(), buf))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn copy_range_clamps_offsets_and_lengths() {
        let check = |offset: u64, length: usize, expected: &[u8]| {
            let mut buf = [0u8; 4];
            let count = copy_range(b"abcdef", offset, length, &mut buf);
            assert_eq!(&buf[..count], expected, "offset {offset} length {length}");
        };
        check(0, 3, b"abc");
        check(4, 10, b"ef");
        check(6, 10, b"");
        check(u64::MAX, 10, b"");
        check(0, 10, b"abcd");
    }

    #[test]
    fn stop_events_map_to_thread_stop_reasons() {
        let tid = Pid::from_raw(42);
        assert!(
            matches!(stop_reason(StopEvent::Breakpoint(tid)), MultiThreadStopReason::SwBreak(t) if t.get() == 42)
        );
        assert!(matches!(
            stop_reason(StopEvent::Signal(tid, libc::SIGSEGV)),
            MultiThreadStopReason::SignalWithThread {
                signal: Signal(11),
                ..
            }
        ));
        assert!(matches!(
            stop_reason(StopEvent::Exited(3)),
            MultiThreadStopReason::Exited(3)
        ));
        assert!(matches!(
            stop_reason(StopEvent::Killed(9)),
            MultiThreadStopReason::Terminated(Signal(9))
        ));
    }
}
