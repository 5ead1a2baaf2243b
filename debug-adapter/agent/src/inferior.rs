//! The traced process: starting or attaching to it, its threads, their run
//! state, memory with software breakpoints, and the all-stop event model.
//!
//! All-stop means: whenever one thread reports something the debugger must
//! see, every other thread is stopped too before the event is reported.
//! Events that other threads produce while being stopped are kept as
//! *pending* and reported at the next resume instead of resuming, as
//! gdbserver does; breakpoint hits among them are cancelled instead (the
//! program counter is rewound so the thread hits the breakpoint again later).
//!
//! Architecture Invariant: only this module (and `sys`) calls ptrace or
//! waitpid, and it must be called from one OS thread, the tracer.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use nix::errno::Errno;
use nix::sys::ptrace;
use nix::sys::signal::SigSet;
use nix::unistd::Pid;

use crate::arch;
use crate::signals;
use crate::sys::{self, WaitStatus};

/// How to start the debuggee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// Executable to run (for Lambda, the function's `bootstrap`).
    pub path: PathBuf,
    /// Arguments after the program name.
    pub args: Vec<OsString>,
    /// Working directory; `None` inherits the agent's.
    pub cwd: Option<PathBuf>,
    /// Extra environment variables set on top of the agent's own, which the
    /// debuggee inherits (so `AWS_LAMBDA_RUNTIME_API` and friends pass through).
    pub env: Vec<(OsString, OsString)>,
}

/// Errors of process control. Each variant names the operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum InferiorError {
    /// The program could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The program path.
        program: PathBuf,
        /// The cause, e.g. "No such file or directory".
        source: std::io::Error,
    },
    /// The program started but did not stop at its first instruction.
    #[error("{program} did not stop at exec under ptrace (wait status {status:?})")]
    NoExecStop {
        /// The program path.
        program: PathBuf,
        /// What waitpid reported instead.
        status: WaitStatus,
    },
    /// Attaching to a running process failed.
    #[error(
        "cannot attach to process {pid}: {source} (ptrace needs CAP_SYS_PTRACE or kernel.yama.ptrace_scope=0 for non-children)"
    )]
    Attach {
        /// The process id.
        pid: i32,
        /// The errno.
        source: Errno,
    },
    /// A ptrace or wait call on a thread failed.
    #[error("{operation} on thread {tid} failed: {source}")]
    Ptrace {
        /// The operation, e.g. "PTRACE_CONT".
        operation: &'static str,
        /// The thread id.
        tid: i32,
        /// The errno.
        source: Errno,
    },
    /// `/proc/PID/...` could not be read.
    #[error("cannot open {path}: {source}")]
    Proc {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The debugger asked to resume no thread at all, which would hang.
    #[error("resume request selects no stopped thread")]
    NothingToResume,
}

fn ptrace_error(operation: &'static str, tid: Pid) -> impl FnOnce(Errno) -> InferiorError {
    move |source| InferiorError::Ptrace {
        operation,
        tid: tid.as_raw(),
        source,
    }
}

/// What a resumed thread does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeKind {
    /// Run freely.
    Continue,
    /// Execute one instruction.
    Step,
    /// Single-step while the program counter stays in `start..end`.
    RangeStep {
        /// First address of the range.
        start: u64,
        /// One past the last address of the range.
        end: u64,
    },
}

/// One thread's resume action: what to do and which signal to deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    /// Continue, step or range-step.
    pub kind: ResumeKind,
    /// Signal to deliver on resume, 0 for none.
    pub signal: i32,
}

/// Why the (all-stopped) process is being reported to the debugger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopEvent {
    /// The thread executed a breakpoint the debugger inserted; its program
    /// counter is already rewound to the breakpoint address.
    Breakpoint(Pid),
    /// The thread finished a single step or left its step range.
    Stepped(Pid),
    /// The thread received a signal (not yet delivered).
    Signal(Pid, i32),
    /// The thread stopped because the debugger asked for an interrupt.
    Interrupted(Pid),
    /// The process called execve; its memory, threads and breakpoints are new.
    Exec(Pid),
    /// The process exited with this code.
    Exited(i32),
    /// The process was killed by this signal.
    Killed(i32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Mode {
    #[default]
    Continue,
    Step,
    RangeStep {
        start: u64,
        end: u64,
    },
}

#[derive(Debug, Default)]
struct Thread {
    running: bool,
    /// A SIGSTOP sent by the agent that the thread has not reported yet.
    stop_requested: bool,
    /// A new thread whose initial SIGSTOP (from clone) is still due.
    awaiting_first_stop: bool,
    mode: Mode,
    /// An event seen while stopping this thread, reported at the next resume.
    pending: Option<StopEvent>,
    /// A silently passed signal that arrived while the thread was being
    /// stopped; delivered when it next resumes.
    deliver: Option<i32>,
}

/// A process under ptrace, all of whose threads are traced.
#[derive(Debug)]
pub struct Inferior {
    pid: Pid,
    threads: BTreeMap<Pid, Thread>,
    memory: File,
    /// Inserted software breakpoints: address to the original bytes.
    breakpoints: BTreeMap<u64, Vec<u8>>,
    /// Whether the agent started the process (and so may wait for it after
    /// detaching, and kills it if the agent dies).
    spawned: bool,
    interrupt_requested: bool,
    /// The process ended while other threads were being stopped.
    pending_exit: Option<StopEvent>,
    /// `resume` found pending events: the next poll reports one at once.
    report_pending: bool,
}

impl Inferior {
    /// Starts `program` under ptrace. On success the process is stopped at
    /// its first instruction (right after exec), waiting for a debugger.
    /// `unblock` are signals the agent blocked for itself (see
    /// `Wakeup::blocked_signals`); the program gets them unblocked.
    pub fn spawn(program: &Program, unblock: SigSet) -> Result<Inferior, InferiorError> {
        let mut command = Command::new(&program.path);
        command
            .args(&program.args)
            .envs(program.env.iter().cloned());
        if let Some(cwd) = &program.cwd {
            command.current_dir(cwd);
        }
        // SAFETY: the hook runs between fork and exec and only makes
        // async-signal-safe system calls.
        unsafe {
            command.pre_exec(move || {
                // The child inherits the agent's signal mask; without this a
                // function would never see SIGTERM or SIGCHLD.
                unblock.thread_unblock().map_err(std::io::Error::from)?;
                // The function must not outlive its agent (the emulator only
                // knows the agent's pid), also after the debugger detached.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                ptrace::traceme().map_err(std::io::Error::from)
            });
        }
        let child = command.spawn().map_err(|source| InferiorError::Spawn {
            program: program.path.clone(),
            source,
        })?;
        let pid = Pid::from_raw(child.id() as i32);
        // The std handle is not needed: the agent reaps the child itself.
        drop(child);
        match sys::wait_thread(pid, true).map_err(ptrace_error("waitpid", pid))? {
            WaitStatus::Stopped(libc::SIGTRAP) => {}
            status => {
                return Err(InferiorError::NoExecStop {
                    program: program.path.clone(),
                    status,
                });
            }
        }
        set_options(pid, true)?;
        let mut threads = BTreeMap::new();
        threads.insert(pid, Thread::default());
        Ok(Inferior {
            pid,
            threads,
            memory: open_memory(pid)?,
            breakpoints: BTreeMap::new(),
            spawned: true,
            interrupt_requested: false,
            pending_exit: None,
            report_pending: false,
        })
    }

    /// Attaches to every thread of a running process and stops them all.
    /// `spawned` says whether the agent is the process's parent.
    pub fn attach(pid: Pid, spawned: bool) -> Result<Inferior, InferiorError> {
        let mut threads: BTreeMap<Pid, Thread> = BTreeMap::new();
        // Threads not yet attached can create more threads meanwhile, so scan
        // until a pass finds nothing new.
        loop {
            let mut found_new = false;
            for tid in list_tasks(pid)? {
                if threads.contains_key(&tid) {
                    continue;
                }
                found_new = true;
                match ptrace::attach(tid) {
                    Ok(()) => {}
                    // The thread exited between the scan and the attach.
                    Err(Errno::ESRCH) if tid != pid => continue,
                    Err(source) => {
                        return Err(InferiorError::Attach {
                            pid: pid.as_raw(),
                            source,
                        });
                    }
                }
                let mut thread = Thread::default();
                loop {
                    match sys::wait_thread(tid, true).map_err(ptrace_error("waitpid", tid))? {
                        WaitStatus::Stopped(libc::SIGSTOP) => break,
                        WaitStatus::Stopped(signal) => {
                            // A signal raced the attach's SIGSTOP; keep it for
                            // the debugger and collect the SIGSTOP.
                            thread.pending = Some(StopEvent::Signal(tid, signal));
                            sys::cont(tid, 0).map_err(ptrace_error("PTRACE_CONT", tid))?;
                        }
                        WaitStatus::Exited(_) | WaitStatus::Killed(_) => break,
                        WaitStatus::Event(_) | WaitStatus::StillAlive => {
                            sys::cont(tid, 0).map_err(ptrace_error("PTRACE_CONT", tid))?;
                        }
                    }
                }
                threads.insert(tid, thread);
            }
            if !found_new {
                break;
            }
        }
        for tid in threads.keys() {
            set_options(*tid, spawned)?;
        }
        Ok(Inferior {
            pid,
            threads,
            memory: open_memory(pid)?,
            breakpoints: BTreeMap::new(),
            spawned,
            interrupt_requested: false,
            pending_exit: None,
            report_pending: false,
        })
    }

    /// The process id (the thread group leader's thread id).
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Whether the agent started this process.
    pub fn is_spawned(&self) -> bool {
        self.spawned
    }

    /// The ids of all live traced threads, leader first.
    pub fn thread_ids(&self) -> Vec<Pid> {
        let mut ids: Vec<Pid> = self.threads.keys().copied().collect();
        ids.sort_by_key(|tid| (*tid != self.pid, tid.as_raw()));
        ids
    }

    /// Whether `tid` is a live traced thread.
    pub fn has_thread(&self, tid: Pid) -> bool {
        self.threads.contains_key(&tid)
    }

    /// Whether any thread is currently running.
    pub fn any_running(&self) -> bool {
        self.threads.values().any(|thread| thread.running)
    }

    /// The thread's name from `/proc` (its `comm`), if readable.
    pub fn thread_name(&self, tid: Pid) -> Option<String> {
        let path = format!("/proc/{}/task/{}/comm", self.pid, tid);
        std::fs::read_to_string(path)
            .ok()
            .map(|name| name.trim_end().to_owned())
    }

    /// Reads `/proc/PID/<file>` (e.g. `auxv`).
    pub fn proc_file(&self, file: &str) -> Result<Vec<u8>, InferiorError> {
        let path = format!("/proc/{}/{file}", self.pid);
        std::fs::read(&path).map_err(|source| InferiorError::Proc { path, source })
    }

    /// The absolute path of the running executable.
    pub fn exe_path(&self) -> Result<PathBuf, InferiorError> {
        let path = format!("/proc/{}/exe", self.pid);
        std::fs::read_link(&path).map_err(|source| InferiorError::Proc { path, source })
    }

    /// Reads memory into `buf`, showing original bytes where breakpoints are
    /// inserted. Returns how many bytes were readable from `addr` on.
    pub fn read_memory(&self, addr: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            match self.memory.read_at(&mut buf[done..], addr + done as u64) {
                Ok(0) => break,
                Ok(count) => done += count,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) if done == 0 => return Err(error),
                Err(_) => break,
            }
        }
        let end = addr.saturating_add(done as u64);
        for (bp_addr, original) in self.breakpoints.range(..end) {
            for (offset, byte) in original.iter().enumerate() {
                let at = bp_addr + offset as u64;
                if at >= addr && at < end {
                    buf[(at - addr) as usize] = *byte;
                }
            }
        }
        Ok(done)
    }

    /// Writes memory, keeping inserted breakpoints in place (the written bytes
    /// become their new "original" bytes).
    pub fn write_memory(&mut self, addr: u64, data: &[u8]) -> std::io::Result<()> {
        let mut patched = data.to_vec();
        let end = addr.saturating_add(data.len() as u64);
        for (bp_addr, original) in self.breakpoints.range_mut(..end) {
            for (offset, byte) in original.iter_mut().enumerate() {
                let at = bp_addr + offset as u64;
                if at >= addr && at < end {
                    let index = (at - addr) as usize;
                    *byte = data[index];
                    patched[index] = arch::BREAKPOINT_INSTRUCTION[offset];
                }
            }
        }
        self.write_raw(addr, &patched)
    }

    fn write_raw(&self, addr: u64, data: &[u8]) -> std::io::Result<()> {
        self.memory.write_all_at(data, addr)
    }

    /// Inserts a software breakpoint. Inserting twice is harmless.
    pub fn insert_breakpoint(&mut self, addr: u64) -> std::io::Result<()> {
        if self.breakpoints.contains_key(&addr) {
            return Ok(());
        }
        let mut original = vec![0u8; arch::BREAKPOINT_INSTRUCTION.len()];
        if self.read_memory(addr, &mut original)? != original.len() {
            return Err(std::io::Error::from_raw_os_error(libc::EFAULT));
        }
        self.write_raw(addr, arch::BREAKPOINT_INSTRUCTION)?;
        self.breakpoints.insert(addr, original);
        Ok(())
    }

    /// Removes a software breakpoint; `false` if none was there.
    pub fn remove_breakpoint(&mut self, addr: u64) -> std::io::Result<bool> {
        match self.breakpoints.remove(&addr) {
            Some(original) => self.write_raw(addr, &original).map(|()| true),
            None => Ok(false),
        }
    }

    /// Removes every breakpoint (before detaching).
    pub fn remove_all_breakpoints(&mut self) -> std::io::Result<()> {
        let addrs: Vec<u64> = self.breakpoints.keys().copied().collect();
        for addr in addrs {
            self.remove_breakpoint(addr)?;
        }
        Ok(())
    }

    /// Resumes the stopped threads that `plan` gives an action to. If events
    /// are pending from the last stop, nothing is resumed and the next
    /// [`Inferior::poll_stop`] reports one of them at once.
    pub fn resume(&mut self, plan: &dyn Fn(Pid) -> Option<Resume>) -> Result<(), InferiorError> {
        self.interrupt_requested = false;
        if self.pending_exit.is_some() || self.threads.values().any(|t| t.pending.is_some()) {
            self.report_pending = true;
            return Ok(());
        }
        let mut resumed_any = false;
        let mut vanished = Vec::new();
        for (tid, thread) in self.threads.iter_mut() {
            if thread.running {
                continue;
            }
            let Some(action) = plan(*tid) else { continue };
            let signal = match action.signal {
                0 => thread.deliver.take().unwrap_or(0),
                signal => signal,
            };
            let (mode, result) = match action.kind {
                ResumeKind::Continue => (Mode::Continue, sys::cont(*tid, signal)),
                ResumeKind::Step => (Mode::Step, sys::step(*tid, signal)),
                ResumeKind::RangeStep { start, end } => {
                    (Mode::RangeStep { start, end }, sys::step(*tid, signal))
                }
            };
            match result {
                Ok(()) => {
                    thread.mode = mode;
                    thread.running = true;
                    resumed_any = true;
                }
                // The thread died while stopped (e.g. another thread called
                // exit_group); its exit is collected by the wait below.
                Err(Errno::ESRCH) => vanished.push(*tid),
                Err(source) => return Err(ptrace_error("PTRACE_CONT", *tid)(source)),
            }
        }
        for tid in vanished {
            self.reap_vanished(tid)?;
        }
        if !resumed_any {
            if self.pending_exit.is_some() {
                self.report_pending = true;
                return Ok(());
            }
            return Err(InferiorError::NothingToResume);
        }
        Ok(())
    }

    /// Asks every running thread to stop; the stop is reported by a later
    /// [`Inferior::poll_stop`] as [`StopEvent::Interrupted`].
    pub fn interrupt(&mut self) -> Result<(), InferiorError> {
        self.interrupt_requested = true;
        self.request_stops()
    }

    fn request_stops(&mut self) -> Result<(), InferiorError> {
        let pid = self.pid;
        for (tid, thread) in self.threads.iter_mut() {
            if thread.running && !thread.stop_requested && !thread.awaiting_first_stop {
                match sys::tgkill(pid, *tid, libc::SIGSTOP) {
                    Ok(()) => thread.stop_requested = true,
                    // Gone: its exit status is collected by the next wait.
                    Err(Errno::ESRCH) => {}
                    Err(source) => return Err(ptrace_error("tgkill", *tid)(source)),
                }
            }
        }
        Ok(())
    }

    /// Collects thread events without blocking. Internal events (new
    /// threads, range-step progress, the agent's own SIGSTOPs) are handled
    /// here; the first event the debugger must see stops all threads and is
    /// returned.
    pub fn poll_stop(&mut self) -> Result<Option<StopEvent>, InferiorError> {
        if self.report_pending {
            self.report_pending = false;
            return Ok(self.take_pending());
        }
        let running: Vec<Pid> = self
            .threads
            .iter()
            .filter(|(_, thread)| thread.running)
            .map(|(tid, _)| *tid)
            .collect();
        for tid in running {
            let status = match sys::wait_thread(tid, false) {
                Ok(status) => status,
                Err(Errno::ECHILD) => {
                    self.threads.remove(&tid);
                    continue;
                }
                Err(source) => return Err(ptrace_error("waitpid", tid)(source)),
            };
            if let Some(event) = self.handle_status(tid, status)? {
                self.stop_all()?;
                self.interrupt_requested = false;
                return Ok(Some(event));
            }
        }
        if self.threads.is_empty() {
            // Every thread vanished without the leader's exit being seen
            // (it was reaped elsewhere): report the process as gone.
            return Ok(Some(
                self.pending_exit.take().unwrap_or(StopEvent::Exited(0)),
            ));
        }
        Ok(None)
    }

    fn take_pending(&mut self) -> Option<StopEvent> {
        for thread in self.threads.values_mut() {
            if let Some(event) = thread.pending.take() {
                return Some(event);
            }
        }
        self.pending_exit.take()
    }

    /// Handles one wait status of a running thread; returns the event to
    /// report, if it is one the debugger must see.
    fn handle_status(
        &mut self,
        tid: Pid,
        status: WaitStatus,
    ) -> Result<Option<StopEvent>, InferiorError> {
        match status {
            WaitStatus::StillAlive => Ok(None),
            WaitStatus::Exited(code) => Ok(self.thread_ended(tid, StopEvent::Exited(code))),
            WaitStatus::Killed(signal) => Ok(self.thread_ended(tid, StopEvent::Killed(signal))),
            WaitStatus::Event(event) => {
                if let Some(thread) = self.threads.get_mut(&tid) {
                    thread.running = false;
                }
                match event {
                    libc::PTRACE_EVENT_CLONE => {
                        self.add_cloned_thread(tid)?;
                        self.continue_thread(tid, 0)?;
                        Ok(None)
                    }
                    libc::PTRACE_EVENT_EXEC => Ok(Some(self.exec_happened()?)),
                    libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK => {
                        self.release_fork_child(tid, event == libc::PTRACE_EVENT_VFORK)?;
                        self.continue_thread(tid, 0)?;
                        Ok(None)
                    }
                    _ => {
                        self.continue_thread(tid, 0)?;
                        Ok(None)
                    }
                }
            }
            WaitStatus::Stopped(signal) => {
                let Some(thread) = self.threads.get_mut(&tid) else {
                    return Ok(None);
                };
                thread.running = false;
                if signal == libc::SIGSTOP && thread.awaiting_first_stop {
                    // A new thread: it runs with the rest of the process.
                    thread.awaiting_first_stop = false;
                    self.continue_thread(tid, 0)?;
                    return Ok(None);
                }
                if signal == libc::SIGSTOP && thread.stop_requested {
                    thread.stop_requested = false;
                    return Ok(self
                        .interrupt_requested
                        .then_some(StopEvent::Interrupted(tid)));
                }
                if signal == libc::SIGTRAP {
                    return self.classify_trap(tid);
                }
                if signals::passes_silently(signal) {
                    self.continue_thread(tid, signal)?;
                    return Ok(None);
                }
                Ok(Some(StopEvent::Signal(tid, signal)))
            }
        }
    }

    /// Decides what a SIGTRAP stop was: our breakpoint, a (range) step, or a
    /// trap the program raised itself.
    fn classify_trap(&mut self, tid: Pid) -> Result<Option<StopEvent>, InferiorError> {
        let code = sys::stop_signal_code(tid).map_err(ptrace_error("PTRACE_GETSIGINFO", tid))?;
        let pc = arch::read_pc(tid).map_err(ptrace_error("PTRACE_GETREGS", tid))?;
        let breakpoint_addr = pc.wrapping_sub(arch::PC_ADVANCE_AFTER_BREAKPOINT);
        let by_breakpoint_insn = code == libc::SI_KERNEL || code == TRAP_BRKPT;
        if by_breakpoint_insn && self.breakpoints.contains_key(&breakpoint_addr) {
            arch::write_pc(tid, breakpoint_addr).map_err(ptrace_error("PTRACE_SETREGS", tid))?;
            return Ok(Some(StopEvent::Breakpoint(tid)));
        }
        let mode = self.threads.get(&tid).map(|thread| thread.mode);
        match mode {
            Some(Mode::Step) => Ok(Some(StopEvent::Stepped(tid))),
            Some(Mode::RangeStep { start, end }) => {
                if (start..end).contains(&pc) && !by_breakpoint_insn {
                    sys::step(tid, 0).map_err(ptrace_error("PTRACE_SINGLESTEP", tid))?;
                    if let Some(thread) = self.threads.get_mut(&tid) {
                        thread.running = true;
                    }
                    Ok(None)
                } else {
                    Ok(Some(StopEvent::Stepped(tid)))
                }
            }
            _ => Ok(Some(StopEvent::Signal(tid, libc::SIGTRAP))),
        }
    }

    fn thread_ended(&mut self, tid: Pid, event: StopEvent) -> Option<StopEvent> {
        self.threads.remove(&tid);
        if tid == self.pid {
            // The leader's exit is reported only after every other thread is
            // gone, so the process is over.
            self.threads.clear();
            Some(event)
        } else {
            None
        }
    }

    fn add_cloned_thread(&mut self, parent: Pid) -> Result<Pid, InferiorError> {
        let new_tid =
            ptrace::getevent(parent).map_err(ptrace_error("PTRACE_GETEVENTMSG", parent))?;
        let new_tid = Pid::from_raw(new_tid as i32);
        self.threads.insert(
            new_tid,
            Thread {
                running: true,
                awaiting_first_stop: true,
                ..Thread::default()
            },
        );
        Ok(new_tid)
    }

    /// A forked child starts traced (so it cannot run before this) and with
    /// a copy of the parent's memory, breakpoints included: restore the
    /// original bytes in its memory and let it go, as gdb's default
    /// `detach-on-fork` does. An `int3` left behind would kill it. A vfork
    /// child shares the parent's memory, so there nothing is restored (it
    /// normally only calls exec).
    fn release_fork_child(
        &mut self,
        parent: Pid,
        shares_memory: bool,
    ) -> Result<(), InferiorError> {
        let child = ptrace::getevent(parent).map_err(ptrace_error("PTRACE_GETEVENTMSG", parent))?;
        let child = Pid::from_raw(child as i32);
        loop {
            match sys::wait_thread(child, true) {
                Ok(WaitStatus::Stopped(_) | WaitStatus::Event(_)) => break,
                Ok(WaitStatus::Exited(_) | WaitStatus::Killed(_)) | Err(Errno::ECHILD) => {
                    return Ok(());
                }
                Ok(WaitStatus::StillAlive) => {}
                Err(source) => return Err(ptrace_error("waitpid", child)(source)),
            }
        }
        if !self.breakpoints.is_empty() && !shares_memory {
            let memory = open_memory(child)?;
            for (addr, original) in &self.breakpoints {
                // Best effort: a failure leaves the child as the kernel made it.
                let _ = memory.write_all_at(original, *addr);
            }
        }
        match sys::detach(child, 0) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(source) => Err(ptrace_error("PTRACE_DETACH", child)(source)),
        }
    }

    /// After execve only the leader is left, with new memory and no breakpoints.
    fn exec_happened(&mut self) -> Result<StopEvent, InferiorError> {
        self.threads.retain(|tid, _| *tid == self.pid);
        if let Some(leader) = self.threads.get_mut(&self.pid) {
            leader.running = false;
            leader.mode = Mode::Continue;
        }
        self.breakpoints.clear();
        self.memory = open_memory(self.pid)?;
        Ok(StopEvent::Exec(self.pid))
    }

    /// Resumes a thread after an internal event, in the mode it was in.
    fn continue_thread(&mut self, tid: Pid, signal: i32) -> Result<(), InferiorError> {
        let Some(thread) = self.threads.get_mut(&tid) else {
            return Ok(());
        };
        let result = match thread.mode {
            Mode::Continue => sys::cont(tid, signal),
            Mode::Step | Mode::RangeStep { .. } => sys::step(tid, signal),
        };
        match result {
            Ok(()) => {
                thread.running = true;
                Ok(())
            }
            Err(Errno::ESRCH) => self.reap_vanished(tid),
            Err(source) => Err(ptrace_error("PTRACE_CONT", tid)(source)),
        }
    }

    /// A thread that ptrace calls no longer find: wait for its exit status.
    fn reap_vanished(&mut self, tid: Pid) -> Result<(), InferiorError> {
        loop {
            match sys::wait_thread(tid, true) {
                Ok(WaitStatus::Exited(code)) => {
                    self.record_end(tid, StopEvent::Exited(code));
                    return Ok(());
                }
                Ok(WaitStatus::Killed(signal)) => {
                    self.record_end(tid, StopEvent::Killed(signal));
                    return Ok(());
                }
                Ok(_) => continue,
                Err(Errno::ECHILD) => {
                    self.threads.remove(&tid);
                    return Ok(());
                }
                Err(source) => return Err(ptrace_error("waitpid", tid)(source)),
            }
        }
    }

    fn record_end(&mut self, tid: Pid, event: StopEvent) {
        if self.thread_ended(tid, event).is_some() {
            self.pending_exit = Some(event);
        }
    }

    /// Stops every running thread and waits until each has stopped (or died).
    fn stop_all(&mut self) -> Result<(), InferiorError> {
        self.request_stops()?;
        while let Some(tid) = self
            .threads
            .iter()
            .find(|(_, thread)| thread.running)
            .map(|(tid, _)| *tid)
        {
            let status = match sys::wait_thread(tid, true) {
                Ok(status) => status,
                Err(Errno::ECHILD) => {
                    self.threads.remove(&tid);
                    continue;
                }
                Err(source) => return Err(ptrace_error("waitpid", tid)(source)),
            };
            match status {
                WaitStatus::StillAlive => {}
                WaitStatus::Exited(code) => self.record_end(tid, StopEvent::Exited(code)),
                WaitStatus::Killed(signal) => self.record_end(tid, StopEvent::Killed(signal)),
                WaitStatus::Stopped(libc::SIGSTOP)
                    if self
                        .threads
                        .get(&tid)
                        .is_some_and(|t| t.stop_requested || t.awaiting_first_stop) =>
                {
                    if let Some(thread) = self.threads.get_mut(&tid) {
                        thread.running = false;
                        thread.stop_requested = false;
                        thread.awaiting_first_stop = false;
                    }
                }
                WaitStatus::Event(libc::PTRACE_EVENT_CLONE) => {
                    self.add_cloned_thread(tid)?;
                    self.cont_while_stopping(tid)?;
                }
                WaitStatus::Event(event @ (libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK)) => {
                    self.release_fork_child(tid, event == libc::PTRACE_EVENT_VFORK)?;
                    self.cont_while_stopping(tid)?;
                }
                WaitStatus::Event(libc::PTRACE_EVENT_EXEC) => {
                    let event = self.exec_happened()?;
                    self.set_pending(tid, event);
                }
                WaitStatus::Event(_) => self.cont_while_stopping(tid)?,
                WaitStatus::Stopped(libc::SIGTRAP) => {
                    let pc = arch::read_pc(tid).map_err(ptrace_error("PTRACE_GETREGS", tid))?;
                    let breakpoint_addr = pc.wrapping_sub(arch::PC_ADVANCE_AFTER_BREAKPOINT);
                    let stepping = self
                        .threads
                        .get(&tid)
                        .is_some_and(|t| t.mode != Mode::Continue);
                    if self.breakpoints.contains_key(&breakpoint_addr) {
                        // Cancel the hit: the thread hits it again when resumed.
                        arch::write_pc(tid, breakpoint_addr)
                            .map_err(ptrace_error("PTRACE_SETREGS", tid))?;
                    } else if !stepping {
                        self.set_pending(tid, StopEvent::Signal(tid, libc::SIGTRAP));
                    }
                    self.cont_while_stopping(tid)?;
                }
                WaitStatus::Stopped(signal) if signals::passes_silently(signal) => {
                    if let Some(thread) = self.threads.get_mut(&tid) {
                        thread.deliver = Some(signal);
                    }
                    self.cont_while_stopping(tid)?;
                }
                WaitStatus::Stopped(signal) => {
                    self.set_pending(tid, StopEvent::Signal(tid, signal));
                    self.cont_while_stopping(tid)?;
                }
            }
        }
        Ok(())
    }

    fn set_pending(&mut self, tid: Pid, event: StopEvent) {
        if let Some(thread) = self.threads.get_mut(&tid)
            && thread.pending.is_none()
        {
            thread.pending = Some(event);
        }
    }

    /// Lets a thread that reported something else run on to its pending
    /// SIGSTOP, without delivering the signal it reported.
    fn cont_while_stopping(&mut self, tid: Pid) -> Result<(), InferiorError> {
        let needs_stop = self
            .threads
            .get(&tid)
            .is_some_and(|t| t.stop_requested || t.awaiting_first_stop);
        if !needs_stop {
            // Our SIGSTOP was already consumed (e.g. by an exec): ask again.
            if let Some(thread) = self.threads.get_mut(&tid) {
                thread.stop_requested = true;
            }
            match sys::tgkill(self.pid, tid, libc::SIGSTOP) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(source) => return Err(ptrace_error("tgkill", tid)(source)),
            }
        }
        match sys::cont(tid, 0) {
            Ok(()) => Ok(()),
            Err(Errno::ESRCH) => self.reap_vanished(tid),
            Err(source) => Err(ptrace_error("PTRACE_CONT", tid)(source)),
        }
    }

    /// Kills the process and waits until it is gone.
    pub fn kill(&mut self) -> Result<StopEvent, InferiorError> {
        if let Some(event) = self.pending_exit.take() {
            return Ok(event);
        }
        // SAFETY: a plain syscall with integer arguments.
        unsafe { libc::kill(self.pid.as_raw(), libc::SIGKILL) };
        let mut outcome = StopEvent::Killed(libc::SIGKILL);
        while let Some(tid) = self.thread_ids().last().copied() {
            match sys::wait_thread(tid, true) {
                Ok(WaitStatus::Exited(code)) => {
                    if self.thread_ended(tid, StopEvent::Exited(code)).is_some() {
                        outcome = StopEvent::Exited(code);
                    }
                }
                Ok(WaitStatus::Killed(signal)) => {
                    if self.thread_ended(tid, StopEvent::Killed(signal)).is_some() {
                        outcome = StopEvent::Killed(signal);
                    }
                }
                Ok(_) => {}
                Err(_) => {
                    self.threads.remove(&tid);
                }
            }
        }
        Ok(outcome)
    }

    /// Stops all threads, removes breakpoints and lets the process run on
    /// untraced. Pending signals are delivered on detach.
    pub fn detach(mut self) -> Result<(), InferiorError> {
        self.stop_all()?;
        self.remove_all_breakpoints()
            .map_err(|source| InferiorError::Proc {
                path: format!("/proc/{}/mem", self.pid),
                source,
            })?;
        for (tid, thread) in &self.threads {
            let signal = match thread.pending {
                Some(StopEvent::Signal(_, signal)) if signal != libc::SIGTRAP => signal,
                _ => thread.deliver.unwrap_or(0),
            };
            match sys::detach(*tid, signal) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(source) => return Err(ptrace_error("PTRACE_DETACH", *tid)(source)),
            }
        }
        Ok(())
    }
}

/// `si_code` of a trap raised by a breakpoint instruction on some kernels.
const TRAP_BRKPT: i32 = 1;

fn set_options(tid: Pid, spawned: bool) -> Result<(), InferiorError> {
    // Forks are traced only so that breakpoints can be removed from the
    // child before it runs (see `release_fork_child`).
    let mut options = ptrace::Options::PTRACE_O_TRACECLONE
        | ptrace::Options::PTRACE_O_TRACEEXEC
        | ptrace::Options::PTRACE_O_TRACEFORK
        | ptrace::Options::PTRACE_O_TRACEVFORK;
    if spawned {
        // If the agent dies, the function must not run on stopped forever.
        options |= ptrace::Options::PTRACE_O_EXITKILL;
    }
    ptrace::setoptions(tid, options).map_err(ptrace_error("PTRACE_SETOPTIONS", tid))
}

fn open_memory(pid: Pid) -> Result<File, InferiorError> {
    let path = format!("/proc/{pid}/mem");
    File::options()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|source| InferiorError::Proc { path, source })
}

fn list_tasks(pid: Pid) -> Result<Vec<Pid>, InferiorError> {
    let path = format!("/proc/{pid}/task");
    let entries = std::fs::read_dir(&path).map_err(|source| InferiorError::Proc {
        path: path.clone(),
        source,
    })?;
    let mut tids = Vec::new();
    for entry in entries.flatten() {
        if let Some(tid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse().ok())
        {
            tids.push(Pid::from_raw(tid));
        }
    }
    Ok(tids)
}
