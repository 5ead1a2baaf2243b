//! Thin wrappers over the few ptrace and wait calls that take or return raw
//! signal numbers.
//!
//! nix models signals as an enum without the real-time signals (SIGRTMIN..),
//! which glibc and managed runtimes do use. A wait status carrying one would
//! make nix's `waitpid` fail *after* the kernel consumed the event, losing it;
//! so waiting and resuming go through libc here, with signals as plain `i32`.

use nix::errno::Errno;
use nix::unistd::Pid;

/// What `waitpid` reported for one thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitStatus {
    /// Nothing happened yet (`WNOHANG`).
    StillAlive,
    /// The thread exited with this status code.
    Exited(i32),
    /// The thread was killed by this signal.
    Killed(i32),
    /// The thread is in a signal-delivery-stop for this signal.
    Stopped(i32),
    /// The thread is in a ptrace event stop (`PTRACE_EVENT_*`).
    Event(i32),
}

/// `waitpid(tid, __WALL | (WNOHANG if !block))`, retried on `EINTR`.
pub fn wait_thread(tid: Pid, block: bool) -> Result<WaitStatus, Errno> {
    let mut status: libc::c_int = 0;
    let flags = libc::__WALL | if block { 0 } else { libc::WNOHANG };
    loop {
        // SAFETY: `status` is a valid out-pointer for the duration of the call.
        let result = unsafe { libc::waitpid(tid.as_raw(), &mut status, flags) };
        if result == -1 {
            let errno = Errno::last();
            if errno == Errno::EINTR {
                continue;
            }
            return Err(errno);
        }
        if result == 0 {
            return Ok(WaitStatus::StillAlive);
        }
        return Ok(decode_status(status));
    }
}

/// Decodes a raw wait status with the libc macros.
fn decode_status(status: libc::c_int) -> WaitStatus {
    if libc::WIFEXITED(status) {
        WaitStatus::Exited(libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        WaitStatus::Killed(libc::WTERMSIG(status))
    } else if libc::WIFSTOPPED(status) {
        let event = status >> 16;
        if event != 0 {
            WaitStatus::Event(event)
        } else {
            WaitStatus::Stopped(libc::WSTOPSIG(status))
        }
    } else {
        // WIFCONTINUED is not requested; treat anything else as "no news".
        WaitStatus::StillAlive
    }
}

fn ptrace_raw(
    request: libc::c_uint,
    tid: Pid,
    addr: usize,
    data: usize,
) -> Result<libc::c_long, Errno> {
    // SAFETY: the requests used here (CONT, SINGLESTEP, DETACH) take an
    // integer signal in `data` and ignore `addr`; no memory is passed.
    let result = unsafe {
        libc::ptrace(
            request,
            tid.as_raw(),
            addr as *mut libc::c_void,
            data as *mut libc::c_void,
        )
    };
    if result == -1 {
        Err(Errno::last())
    } else {
        Ok(result)
    }
}

/// Resumes a stopped thread, delivering `signal` (0 for none).
pub fn cont(tid: Pid, signal: i32) -> Result<(), Errno> {
    ptrace_raw(libc::PTRACE_CONT, tid, 0, signal as usize).map(drop)
}

/// Single-steps a stopped thread, delivering `signal` (0 for none).
pub fn step(tid: Pid, signal: i32) -> Result<(), Errno> {
    ptrace_raw(libc::PTRACE_SINGLESTEP, tid, 0, signal as usize).map(drop)
}

/// Detaches from a stopped thread, delivering `signal` (0 for none).
pub fn detach(tid: Pid, signal: i32) -> Result<(), Errno> {
    ptrace_raw(libc::PTRACE_DETACH, tid, 0, signal as usize).map(drop)
}

/// Sends `signal` to one thread of the process `pid`.
pub fn tgkill(pid: Pid, tid: Pid, signal: i32) -> Result<(), Errno> {
    // SAFETY: a plain syscall with integer arguments.
    let result = unsafe { libc::syscall(libc::SYS_tgkill, pid.as_raw(), tid.as_raw(), signal) };
    if result == -1 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// The `si_code` of the signal that stopped a thread (e.g. `SI_KERNEL` for
/// `int3`, `TRAP_TRACE` for a single step).
pub fn stop_signal_code(tid: Pid) -> Result<i32, Errno> {
    nix::sys::ptrace::getsiginfo(tid).map(|info| info.si_code)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn check(status: libc::c_int, expected: WaitStatus) {
        assert_eq!(decode_status(status), expected, "status {status:#x}");
    }

    #[test]
    fn decodes_wait_statuses() {
        check(7 << 8, WaitStatus::Exited(7));
        check(libc::SIGSEGV, WaitStatus::Killed(libc::SIGSEGV));
        check(
            (libc::SIGTRAP << 8) | 0x7f,
            WaitStatus::Stopped(libc::SIGTRAP),
        );
        // A real-time signal, which nix's Signal enum cannot represent.
        check((34 << 8) | 0x7f, WaitStatus::Stopped(34));
        check(
            (libc::PTRACE_EVENT_CLONE << 16) | (libc::SIGTRAP << 8) | 0x7f,
            WaitStatus::Event(libc::PTRACE_EVENT_CLONE),
        );
    }
}
