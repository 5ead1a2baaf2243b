//! Stop replies (`S`, `T`, `W`, `X`, `O`, `N`) and thread ids, parsed into
//! typed values. Pure code; garbage yields [`StopReplyError`], never a panic.

use std::fmt;

use super::packet::{decode_hex, parse_hex_u64};

/// A thread as the server names it: `tid` or `p<pid>.<tid>` (hex).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThreadId {
    /// The process, when the server uses multiprocess thread ids.
    pub process: Option<u64>,
    /// The thread (on Linux, the kernel thread id).
    pub thread: u64,
}

impl ThreadId {
    /// A thread id without a process part.
    pub fn new(thread: u64) -> ThreadId {
        ThreadId {
            process: None,
            thread,
        }
    }

    /// Parses `tid` or `p<pid>.<tid>`. The special ids `-1` (all) and `0`
    /// (any) are not thread ids and are rejected.
    pub fn parse(text: &[u8]) -> Option<ThreadId> {
        let (process, thread) = match text.strip_prefix(b"p") {
            Some(rest) => {
                let dot = rest.iter().position(|b| *b == b'.')?;
                (
                    Some(parse_hex_u64(&rest[..dot])?),
                    parse_hex_u64(&rest[dot + 1..])?,
                )
            }
            None => (None, parse_hex_u64(text)?),
        };
        if thread == 0 || process == Some(0) {
            return None;
        }
        Some(ThreadId { process, thread })
    }
}

impl fmt::Display for ThreadId {
    /// Formats the id the way packets carry it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.process {
            Some(process) => write!(f, "p{process:x}.{:x}", self.thread),
            None => write!(f, "{:x}", self.thread),
        }
    }
}

/// What the server reported after a resume (or for `?`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReply {
    /// The program stopped, with all threads stopped (all-stop mode).
    Stopped(Stop),
    /// The process exited with this status.
    Exited {
        /// The exit status (low 8 bits).
        code: u8,
        /// The process, if the server said.
        process: Option<u64>,
    },
    /// The process was terminated by this signal.
    Terminated {
        /// The GDB signal number (equal to Linux's for the common signals).
        signal: u8,
        /// The process, if the server said.
        process: Option<u64>,
    },
    /// No thread was left to resume (`N`).
    NoResumedThreads,
}

/// Details of a stop.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stop {
    /// The signal (5 = SIGTRAP for breakpoints and steps).
    pub signal: u8,
    /// The thread that stopped, if the server said (`T` packets do).
    pub thread: Option<ThreadId>,
    /// Why it stopped, beyond the signal.
    pub reason: StopReason,
    /// Registers the server sent along ("expedited"): number and raw bytes.
    pub registers: Vec<(usize, Vec<u8>)>,
    /// The CPU core, if reported.
    pub core: Option<u64>,
}

/// The reason keyword of a `T` stop reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StopReason {
    /// Just the signal (no keyword), e.g. a step completion or SIGSEGV.
    #[default]
    Signal,
    /// A software breakpoint (`swbreak`); the pc is at the breakpoint.
    SoftwareBreakpoint,
    /// A hardware breakpoint (`hwbreak`).
    HardwareBreakpoint,
    /// A watchpoint triggered at this data address.
    Watchpoint {
        /// Read, write or access.
        kind: WatchKind,
        /// The data address.
        addr: u64,
    },
    /// The set of loaded libraries changed (`library`).
    Library,
    /// The process called exec (`exec:<hex path>`).
    Exec(Vec<u8>),
    /// The thread forked a child (`fork`).
    Fork(ThreadId),
    /// The thread vforked a child (`vfork`).
    VFork(ThreadId),
    /// The vfork child exec'd or exited (`vforkdone`).
    VForkDone,
    /// Entry into this syscall (`syscall_entry`).
    SyscallEntry(u64),
    /// Return from this syscall (`syscall_return`).
    SyscallReturn(u64),
    /// Reverse execution hit the end of its log (`replaylog`).
    ReplayLog,
    /// A new thread was created (`create`).
    ThreadCreated,
}

/// The kind of a watchpoint hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchKind {
    /// `watch`: a write.
    Write,
    /// `rwatch`: a read.
    Read,
    /// `awatch`: a read or write.
    Access,
}

/// The conventional name of a GDB signal number (as carried in stop
/// replies), e.g. `SIGSEGV` for 11; `None` for the rarely seen ones.
pub fn signal_name(signal: u8) -> Option<&'static str> {
    const NAMES: [&str; 33] = [
        "0",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGEMT",
        "SIGFPE",
        "SIGKILL",
        "SIGBUS",
        "SIGSEGV",
        "SIGSYS",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGURG",
        "SIGSTOP",
        "SIGTSTP",
        "SIGCONT",
        "SIGCHLD",
        "SIGTTIN",
        "SIGTTOU",
        "SIGIO",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGLOST",
        "SIGUSR1",
        "SIGUSR2",
        "SIGPWR",
    ];
    NAMES
        .get(usize::from(signal))
        .copied()
        .filter(|_| signal != 0)
}

/// A stop reply that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StopReplyError {
    /// The reply is empty.
    #[error("empty stop reply")]
    Empty,
    /// The first character is not a stop reply kind.
    #[error("unknown stop reply kind {0:?}")]
    UnknownKind(char),
    /// The signal or status number is missing or not hex.
    #[error("bad signal or status number in stop reply")]
    BadNumber,
    /// A `key:value` field is malformed.
    #[error("malformed stop reply field {0:?}")]
    BadField(String),
    /// An `O` output packet's hex is invalid.
    #[error("malformed console output packet")]
    BadOutput,
}

/// A parsed reply to a resume: a stop, or console output sent meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResumeReply {
    /// The stop.
    Stop(StopReply),
    /// `O` console output; more replies follow.
    Output(Vec<u8>),
}

/// Parses a reply that may arrive while the program runs.
pub fn parse_resume_reply(payload: &[u8]) -> Result<ResumeReply, StopReplyError> {
    if let Some(hex) = payload.strip_prefix(b"O")
        && payload != b"OK"
    {
        return decode_hex(hex)
            .map(ResumeReply::Output)
            .map_err(|_| StopReplyError::BadOutput);
    }
    parse_stop_reply(payload).map(ResumeReply::Stop)
}

/// Parses an `S`, `T`, `W`, `X` or `N` stop reply.
pub fn parse_stop_reply(payload: &[u8]) -> Result<StopReply, StopReplyError> {
    let (&kind, rest) = payload.split_first().ok_or(StopReplyError::Empty)?;
    match kind {
        b'S' => Ok(StopReply::Stopped(Stop {
            signal: parse_u8(rest)?,
            ..Stop::default()
        })),
        b'T' => parse_t(rest),
        b'W' | b'X' => {
            let (number, process) = match rest.iter().position(|b| *b == b';') {
                Some(semi) => {
                    let field = &rest[semi + 1..];
                    let pid = field
                        .strip_prefix(b"process:")
                        .and_then(parse_hex_u64)
                        .ok_or_else(|| bad_field(field))?;
                    (parse_u8(&rest[..semi])?, Some(pid))
                }
                None => (parse_u8(rest)?, None),
            };
            Ok(if kind == b'W' {
                StopReply::Exited {
                    code: number,
                    process,
                }
            } else {
                StopReply::Terminated {
                    signal: number,
                    process,
                }
            })
        }
        b'N' => Ok(StopReply::NoResumedThreads),
        other => Err(StopReplyError::UnknownKind(char::from(other))),
    }
}

fn parse_u8(text: &[u8]) -> Result<u8, StopReplyError> {
    if text.is_empty() || text.len() > 2 {
        return Err(StopReplyError::BadNumber);
    }
    parse_hex_u64(text)
        .and_then(|n| u8::try_from(n).ok())
        .ok_or(StopReplyError::BadNumber)
}

fn bad_field(field: &[u8]) -> StopReplyError {
    StopReplyError::BadField(String::from_utf8_lossy(field).into_owned())
}

fn parse_t(rest: &[u8]) -> Result<StopReply, StopReplyError> {
    let signal = parse_u8(rest.get(..2).ok_or(StopReplyError::BadNumber)?)?;
    let mut stop = Stop {
        signal,
        ..Stop::default()
    };
    for field in rest[2..].split(|b| *b == b';') {
        if field.is_empty() {
            continue;
        }
        let colon = field
            .iter()
            .position(|b| *b == b':')
            .ok_or_else(|| bad_field(field))?;
        let (key, value) = (&field[..colon], &field[colon + 1..]);
        let hex_value = || parse_hex_u64(value).ok_or_else(|| bad_field(field));
        match key {
            b"thread" => {
                stop.thread = Some(ThreadId::parse(value).ok_or_else(|| bad_field(field))?)
            }
            b"core" => stop.core = Some(hex_value()?),
            b"swbreak" => stop.reason = StopReason::SoftwareBreakpoint,
            b"hwbreak" => stop.reason = StopReason::HardwareBreakpoint,
            b"watch" | b"rwatch" | b"awatch" => {
                let kind = match key {
                    b"watch" => WatchKind::Write,
                    b"rwatch" => WatchKind::Read,
                    _ => WatchKind::Access,
                };
                stop.reason = StopReason::Watchpoint {
                    kind,
                    addr: hex_value()?,
                };
            }
            b"library" => stop.reason = StopReason::Library,
            b"exec" => {
                stop.reason = StopReason::Exec(decode_hex(value).map_err(|_| bad_field(field))?)
            }
            b"fork" | b"vfork" => {
                let child = ThreadId::parse(value).ok_or_else(|| bad_field(field))?;
                stop.reason = if key == b"fork" {
                    StopReason::Fork(child)
                } else {
                    StopReason::VFork(child)
                };
            }
            b"vforkdone" => stop.reason = StopReason::VForkDone,
            b"syscall_entry" => stop.reason = StopReason::SyscallEntry(hex_value()?),
            b"syscall_return" => stop.reason = StopReason::SyscallReturn(hex_value()?),
            b"replaylog" => stop.reason = StopReason::ReplayLog,
            b"create" => stop.reason = StopReason::ThreadCreated,
            _ if key.iter().all(u8::is_ascii_hexdigit) => {
                let regnum = parse_hex_u64(key)
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| bad_field(field))?;
                // "xx" marks an unavailable register: not an error, no value.
                if let Ok(bytes) = decode_hex(value) {
                    stop.registers.push((regnum, bytes));
                }
            }
            // The protocol says unknown keys must be ignored.
            _ => {}
        }
    }
    Ok(StopReply::Stopped(stop))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn check(payload: &str, expected: Result<StopReply, StopReplyError>) {
        assert_eq!(
            parse_stop_reply(payload.as_bytes()),
            expected,
            "payload {payload:?}"
        );
    }

    fn stopped(stop: Stop) -> Result<StopReply, StopReplyError> {
        Ok(StopReply::Stopped(stop))
    }

    #[test]
    fn parses_stop_replies() {
        check(
            "S05",
            stopped(Stop {
                signal: 5,
                ..Stop::default()
            }),
        );
        check(
            "T05thread:p1.2b67;swbreak:;",
            stopped(Stop {
                signal: 5,
                thread: Some(ThreadId {
                    process: Some(1),
                    thread: 0x2b67,
                }),
                reason: StopReason::SoftwareBreakpoint,
                ..Stop::default()
            }),
        );
        // gdbserver's shape: expedited registers, thread, core.
        check(
            "T0506:0000000000000000;07:10e2ffffff7f0000;10:3011555555550000;thread:2b67;core:1;",
            stopped(Stop {
                signal: 5,
                thread: Some(ThreadId::new(0x2b67)),
                reason: StopReason::Signal,
                registers: vec![
                    (6, vec![0; 8]),
                    (7, vec![0x10, 0xe2, 0xff, 0xff, 0xff, 0x7f, 0, 0]),
                    (16, vec![0x30, 0x11, 0x55, 0x55, 0x55, 0x55, 0, 0]),
                ],
                core: Some(1),
            }),
        );
        check(
            "T0bthread:2a;",
            stopped(Stop {
                signal: 11,
                thread: Some(ThreadId::new(0x2a)),
                ..Stop::default()
            }),
        );
        check(
            "T05watch:7ffe0010;thread:1;",
            stopped(Stop {
                signal: 5,
                thread: Some(ThreadId::new(1)),
                reason: StopReason::Watchpoint {
                    kind: WatchKind::Write,
                    addr: 0x7ffe_0010,
                },
                ..Stop::default()
            }),
        );
        check(
            "T05futurekey:zz;06:xxxxxxxxxxxxxxxx;",
            stopped(Stop {
                signal: 5,
                ..Stop::default()
            }),
        );
        check(
            "W07",
            Ok(StopReply::Exited {
                code: 7,
                process: None,
            }),
        );
        check(
            "W00;process:2b67",
            Ok(StopReply::Exited {
                code: 0,
                process: Some(0x2b67),
            }),
        );
        check(
            "X09",
            Ok(StopReply::Terminated {
                signal: 9,
                process: None,
            }),
        );
        check("N", Ok(StopReply::NoResumedThreads));
        check("", Err(StopReplyError::Empty));
        check("Q05", Err(StopReplyError::UnknownKind('Q')));
        check("S", Err(StopReplyError::BadNumber));
        check("S123", Err(StopReplyError::BadNumber));
        check(
            "T05thread:0;",
            Err(StopReplyError::BadField("thread:0".into())),
        );
        check("T05thread", Err(StopReplyError::BadField("thread".into())));
        check("W07;pid:1", Err(StopReplyError::BadField("pid:1".into())));
    }

    #[test]
    fn names_gdb_signals() {
        assert_eq!(signal_name(11), Some("SIGSEGV"));
        assert_eq!(signal_name(10), Some("SIGBUS"));
        assert_eq!(signal_name(20), Some("SIGCHLD"));
        assert_eq!(signal_name(0), None);
        assert_eq!(signal_name(200), None);
    }

    #[test]
    fn parses_output_packets() {
        assert_eq!(
            parse_resume_reply(b"O6869"),
            Ok(ResumeReply::Output(b"hi".to_vec()))
        );
        assert_eq!(parse_resume_reply(b"O6"), Err(StopReplyError::BadOutput));
        assert_eq!(
            parse_resume_reply(b"OK"),
            Err(StopReplyError::UnknownKind('O'))
        );
    }

    #[test]
    fn thread_ids_parse_and_print() {
        let check = |text: &str, expected: Option<ThreadId>| {
            assert_eq!(ThreadId::parse(text.as_bytes()), expected, "{text}");
            if let Some(id) = expected {
                assert_eq!(ThreadId::parse(id.to_string().as_bytes()), Some(id));
            }
        };
        check("2b67", Some(ThreadId::new(0x2b67)));
        check(
            "p1.2",
            Some(ThreadId {
                process: Some(1),
                thread: 2,
            }),
        );
        check("-1", None);
        check("0", None);
        check("p1", None);
        check("p.2", None);
        check("", None);
    }

    proptest! {
        #[test]
        fn garbage_never_panics(payload in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = parse_resume_reply(&payload);
        }

        #[test]
        fn t_packets_with_arbitrary_fields_never_panic(fields in "[0-9a-zA-Z:;.x_-]{0,80}") {
            let _ = parse_stop_reply(format!("T05{fields}").as_bytes());
        }
    }
}
