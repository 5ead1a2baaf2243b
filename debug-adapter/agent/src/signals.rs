//! Signal numbers: Linux's (what ptrace reports) versus GDB's (what RSP
//! carries), and which signals the program receives without stopping.
//!
//! The numbering is the asm-generic one, shared by x86_64 and aarch64.
//! GDB's numbers come from gdb's `signals.def`; gdbserver translates the
//! same way, so a debugger sees the same signal from either server.

/// GDB's number for signals it has no name for.
const GDB_UNKNOWN: u8 = 143;

/// Translates a Linux signal number to GDB's numbering.
pub fn to_gdb(linux: i32) -> u8 {
    match linux {
        0 => 0,
        1..=6 | 8 | 9 | 11 | 13..=15 | 21 | 22 | 24..=28 => linux as u8,
        7 => 10,  // SIGBUS
        10 => 30, // SIGUSR1
        12 => 31, // SIGUSR2
        17 => 20, // SIGCHLD
        18 => 19, // SIGCONT
        19 => 17, // SIGSTOP
        20 => 18, // SIGTSTP
        23 => 16, // SIGURG
        29 => 23, // SIGIO
        30 => 32, // SIGPWR
        31 => 12, // SIGSYS
        32 => 77, // SIG32
        33..=63 => (linux - 33 + 45) as u8,
        64 => 78, // SIG64
        _ => GDB_UNKNOWN,
    }
}

/// Translates a GDB signal number to Linux's; `None` for signals Linux lacks.
pub fn to_linux(gdb: u8) -> Option<i32> {
    (0..=64).find(|linux| to_gdb(*linux) == gdb && gdb != GDB_UNKNOWN)
}

/// Whether the program receives this signal without the debugger being told:
/// the signals gdb handles as "nostop noprint pass" by default, plus glibc's
/// internal thread signals. gdbstub has no `QPassSignals`, so the agent
/// applies gdb's default itself; stopping on every SIGCHLD or SIGALRM would
/// make a debugged function crawl.
pub fn passes_silently(linux: i32) -> bool {
    matches!(
        linux,
        libc::SIGALRM
            | libc::SIGURG
            | libc::SIGCHLD
            | libc::SIGIO
            | libc::SIGVTALRM
            | libc::SIGPROF
            | libc::SIGWINCH
            // glibc's SIGCANCEL and SIGSETXID.
            | 32
            | 33
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_both_ways() {
        let check = |linux: i32, gdb: u8| {
            assert_eq!(to_gdb(linux), gdb, "linux {linux}");
            assert_eq!(to_linux(gdb), Some(linux), "gdb {gdb}");
        };
        check(libc::SIGTRAP, 5);
        check(libc::SIGSEGV, 11);
        check(libc::SIGABRT, 6);
        check(libc::SIGBUS, 10);
        check(libc::SIGUSR1, 30);
        check(libc::SIGCHLD, 20);
        check(libc::SIGSTOP, 17);
        check(libc::SIGSYS, 12);
        check(32, 77);
        check(34, 46);
        check(64, 78);
        assert_eq!(to_gdb(libc::SIGSTKFLT), GDB_UNKNOWN);
        assert_eq!(to_linux(GDB_UNKNOWN), None);
        assert_eq!(to_linux(7), None, "GDB's SIGEMT does not exist on Linux");
        // Every Linux signal maps to a distinct GDB number.
        let mut seen = std::collections::HashSet::new();
        for linux in 1..=64 {
            let gdb = to_gdb(linux);
            assert!(
                gdb == GDB_UNKNOWN || seen.insert(gdb),
                "duplicate {gdb} for {linux}"
            );
        }
    }
}
