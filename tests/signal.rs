//! Signals to the processes the tests and benchmarks start, by system call.
//!
//! Never through the `kill` program: procps's `kill -TERM -1234` reads
//! `-1234` as an option and signals `-1`, every process the caller may
//! signal. A benchmark did that to a whole machine before these helpers.

pub use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// Sends `signal` to the process `pid`. A process that has gone already is
/// not an error: these are clean-up paths.
pub fn to_process(pid: u32, signal: Signal) {
    if let Some(pid) = checked(pid) {
        let _ = nix::sys::signal::kill(pid, signal);
    }
}

/// Sends `signal` to every process of the group that `leader` leads (a
/// child started with `process_group(0)`).
pub fn to_group(leader: u32, signal: Signal) {
    if let Some(leader) = checked(leader) {
        let _ = nix::sys::signal::killpg(leader, signal);
    }
}

/// A pid that names one process: 0 and 1 (our own group, init) never do
/// here, and a value beyond `i32` would turn negative.
fn checked(pid: u32) -> Option<Pid> {
    let pid = i32::try_from(pid).ok()?;
    (pid > 1).then(|| Pid::from_raw(pid))
}

#[cfg(test)]
mod tests {
    use super::checked;

    #[test]
    fn only_real_pids_are_signalled() {
        assert_eq!(checked(0), None);
        assert_eq!(checked(1), None);
        assert_eq!(checked(u32::MAX), None);
        assert_eq!(checked(1234).map(|pid| pid.as_raw()), Some(1234));
    }
}
