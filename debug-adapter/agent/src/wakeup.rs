//! Waiting for "something happened": debugger input, a debuggee event
//! (SIGCHLD), a termination signal sent to the agent, or a deadline.
//!
//! SIGCHLD is received through a signalfd so that poll(2) can wait on it
//! together with the debugger's socket. That is only reliable when every
//! thread of the agent blocks SIGCHLD, which holds for the agent binary (it
//! is single-threaded) but not when the agent runs inside a multi-threaded
//! host such as a test harness. Every wait therefore also ends after
//! [`SWEEP_INTERVAL`], so a lost wakeup costs latency, never a hang.

use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};

/// Upper bound on how long a debuggee event can go unnoticed if its SIGCHLD
/// was delivered elsewhere.
pub const SWEEP_INTERVAL: Duration = Duration::from_millis(20);

/// What ended a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The watched descriptor is readable.
    Readable,
    /// A child changed state, or the sweep interval passed: check the debuggee.
    CheckChild,
    /// The agent was asked to terminate by this signal.
    Terminate(i32),
    /// The deadline passed.
    Deadline,
}

/// The agent's signal receiver.
#[derive(Debug)]
pub struct Wakeup {
    signals: SignalFd,
    /// The signals this receiver blocked that were not blocked before; a
    /// started debuggee must get them unblocked again.
    newly_blocked: SigSet,
}

impl Wakeup {
    /// Blocks SIGCHLD (and, if `handle_termination`, SIGTERM, SIGINT and
    /// SIGHUP) in the calling thread and receives them through a signalfd.
    /// Call it before starting the debuggee, from the tracer thread.
    pub fn new(handle_termination: bool) -> Result<Wakeup, Errno> {
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGCHLD);
        if handle_termination {
            mask.add(Signal::SIGTERM);
            mask.add(Signal::SIGINT);
            mask.add(Signal::SIGHUP);
        }
        let mut previous = SigSet::empty();
        pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&mask), Some(&mut previous))?;
        let mut newly_blocked = SigSet::empty();
        for signal in mask.iter() {
            if !previous.contains(signal) {
                newly_blocked.add(signal);
            }
        }
        let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
        Ok(Wakeup {
            signals,
            newly_blocked,
        })
    }

    /// The signals blocked by [`Wakeup::new`] (and not before): a process
    /// the agent starts must unblock them, since children inherit the mask.
    pub fn blocked_signals(&self) -> SigSet {
        self.newly_blocked
    }

    /// Waits until `fd` (if any) is readable, a signal arrives, the sweep
    /// interval passes (only if `sweep`), or `deadline` passes.
    pub fn wait(
        &self,
        fd: Option<BorrowedFd<'_>>,
        sweep: bool,
        deadline: Option<Instant>,
    ) -> Result<Wake, Errno> {
        let now = Instant::now();
        if deadline.is_some_and(|deadline| deadline <= now) {
            return Ok(Wake::Deadline);
        }
        let mut timeout: Option<Duration> = deadline.map(|deadline| deadline - now);
        if sweep {
            timeout = Some(timeout.map_or(SWEEP_INTERVAL, |t| t.min(SWEEP_INTERVAL)));
        }
        let poll_timeout = match timeout {
            // Round up so a sub-millisecond remainder does not spin.
            Some(timeout) => {
                let millis = timeout.as_millis().saturating_add(1).min(i32::MAX as u128);
                PollTimeout::try_from(millis as i32).unwrap_or(PollTimeout::MAX)
            }
            None => PollTimeout::NONE,
        };
        let mut fds = vec![PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
        if let Some(fd) = fd {
            fds.push(PollFd::new(fd, PollFlags::POLLIN));
        }
        let ready = match poll(&mut fds, poll_timeout) {
            Ok(ready) => ready,
            Err(Errno::EINTR) => return Ok(Wake::CheckChild),
            Err(error) => return Err(error),
        };
        if ready == 0 {
            if deadline.is_some_and(|deadline| deadline <= Instant::now()) {
                return Ok(Wake::Deadline);
            }
            return Ok(Wake::CheckChild);
        }
        let signal_ready = fds[0].revents().is_some_and(|r| !r.is_empty());
        let fd_ready = fds
            .get(1)
            .and_then(PollFd::revents)
            .is_some_and(|r| !r.is_empty());
        if signal_ready {
            let mut terminate = None;
            while let Some(info) = self.signals.read_signal()? {
                let number = info.ssi_signo as i32;
                if number != libc::SIGCHLD {
                    terminate = Some(number);
                }
            }
            if let Some(number) = terminate {
                return Ok(Wake::Terminate(number));
            }
            if !fd_ready {
                return Ok(Wake::CheckChild);
            }
        }
        Ok(Wake::Readable)
    }
}
