//! fogbank-agent: runs a function's bootstrap under ptrace and serves it to a
//! debugger over the GDB Remote Serial Protocol (gdbstub).
//!
//! The agent does process control only; all symbol work happens on the
//! developer's side. It is built static so it runs in any container image.
//!
//! Code map:
//! - [`inferior`]: the traced process (ptrace, threads, all-stop, memory,
//!   breakpoints). `sys` wraps the raw wait/ptrace calls.
//! - `arch`: registers and instruction encodings of one CPU architecture.
//! - [`target`]: gdbstub's `Target` traits over the inferior.
//! - [`frames`] and [`connection`]: screening and buffering debugger input.
//! - [`session`]: one debugger session (gdbstub state machine + events).
//! - [`wakeup`]: poll(2) over the socket, SIGCHLD and termination signals.
//! - [`relay_wait`]: in-place mode: waiting for the developer through the
//!   relay, then RSP over the end-to-end encrypted channel.
//! - [`forward`]: live mode's forwarding stub (`--forward`): the Runtime API
//!   client that sends invocations through the relay to the developer.
//! - [`runtime_watch`]: in-place mode's proxy in front of the sandbox's
//!   Runtime API, which notes each invocation's request ID and deadline for
//!   the `monitor fogbank invocation` command.
//! - [`http`]: the minimal blocking HTTP/1.1 both of those speak.
//! - [`run`] (this file): the supervisor: start or attach, wait for a
//!   debugger (or a deadline), serve sessions, detach, mirror the exit status.

pub mod arch;
pub mod connection;
pub mod forward;
pub mod frames;
pub mod http;
pub mod inferior;
pub mod relay_wait;
pub mod runtime_watch;
pub mod session;
pub mod signals;
mod sys;
pub mod target;
pub mod wakeup;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::unistd::Pid;

pub use inferior::{Inferior, InferiorError, Program, StopEvent};
pub use session::{SessionEnd, SessionError};
pub use target::AgentTarget;

/// Which process to debug.
#[derive(Debug, Clone)]
pub enum Launch {
    /// Start this program, stopped at its first instruction.
    Spawn(Program),
    /// Attach to this running process.
    Attach(i32),
}

/// How the debugger reaches the agent.
#[derive(Debug)]
pub enum TransportConfig {
    /// Accept debuggers on this bound listener, one at a time; after a
    /// debugger detaches, a new one may connect and re-attach.
    Listen {
        /// The bound listener.
        listener: TcpListener,
        /// A file to write the listening address to, for whoever started
        /// the agent with port 0.
        port_file: Option<PathBuf>,
    },
    /// Connect out to a debugger (or a relay) once.
    Connect(SocketAddr),
    /// In-place mode: dial the relay as the session's agent and serve the
    /// developer who takes the channel, end-to-end encrypted. The program
    /// waits for the developer as with the other transports (up to the wait
    /// timeout); a refused session (wrong secret, expired) releases it at
    /// once.
    Relay(forward::RelayTarget),
}

/// A connected debugger: a TCP socket, or a channel through the relay.
#[derive(Debug)]
pub enum DebuggerStream {
    /// A direct TCP connection.
    Tcp(TcpStream),
    /// A channel through the relay.
    Relay(Box<fogbank_relay::client::blocking::SecureStream>),
}

impl std::io::Read for DebuggerStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            DebuggerStream::Tcp(stream) => stream.read(buf),
            DebuggerStream::Relay(stream) => stream.read(buf),
        }
    }
}

impl std::io::Write for DebuggerStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            DebuggerStream::Tcp(stream) => stream.write(buf),
            DebuggerStream::Relay(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            DebuggerStream::Tcp(stream) => stream.flush(),
            DebuggerStream::Relay(stream) => stream.flush(),
        }
    }
}

impl connection::Transport for DebuggerStream {
    fn readiness_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            DebuggerStream::Tcp(stream) => stream.as_fd(),
            DebuggerStream::Relay(stream) => stream.readiness_fd(),
        }
    }

    fn has_buffered_input(&self) -> bool {
        match self {
            DebuggerStream::Tcp(_) => false,
            DebuggerStream::Relay(stream) => stream.has_buffered_input(),
        }
    }
}

/// Agent configuration; see `fogbank-agent --help` for the flags.
#[derive(Debug)]
pub struct AgentConfig {
    /// The debuggee.
    pub launch: Launch,
    /// The debugger transport.
    pub transport: TransportConfig,
    /// How long the debuggee waits stopped for a first debugger before it is
    /// released to run untraced; `None` waits forever.
    pub wait_timeout: Option<Duration>,
    /// Whether SIGTERM/SIGINT/SIGHUP sent to the agent are handled (forwarded
    /// to, or killing, the debuggee). Only for the binary: in-process hosts
    /// keep their own signal handling.
    pub handle_termination_signals: bool,
    /// In-place mode: the sandbox's Runtime API (`host:port`). A started
    /// program then reaches it through [`runtime_watch`]'s proxy, so that
    /// the debugger can ask which invocation runs and how long it has.
    pub watch_runtime_api: Option<String>,
}

/// How the debuggee ended, which the agent binary mirrors as its own exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The debuggee exited with this code.
    Exited(i32),
    /// The debuggee was killed by this signal.
    Killed(i32),
    /// The agent detached from a process it did not start; it runs on.
    Detached,
}

/// Errors that stop the agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Starting, attaching to or controlling the debuggee failed.
    #[error(transparent)]
    Inferior(#[from] InferiorError),
    /// A debugger session failed.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// Signal handling could not be set up.
    #[error("cannot set up signal handling: {0}")]
    Signals(nix::errno::Errno),
    /// Accepting a debugger connection failed.
    #[error("accepting a debugger connection failed: {0}")]
    Accept(std::io::Error),
    /// Writing the port file failed.
    #[error("cannot write port file {path}: {source}")]
    PortFile {
        /// The port file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The Runtime API proxy of in-place mode could not start.
    #[error("cannot start the Runtime API proxy in front of {upstream}: {source}")]
    RuntimeWatch {
        /// The sandbox's Runtime API.
        upstream: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Prefix of the line the agent prints to stderr once it listens, e.g.
/// `fogbank-agent: listening on 127.0.0.1:40123`.
pub const LISTENING_PREFIX: &str = "fogbank-agent: listening on ";

/// Announces the listening address on stderr and in the port file (written
/// atomically, so a reader never sees a partial address).
pub fn announce(
    listener: &TcpListener,
    port_file: Option<&PathBuf>,
) -> Result<SocketAddr, AgentError> {
    let addr = listener.local_addr().map_err(AgentError::Accept)?;
    eprintln!("{LISTENING_PREFIX}{addr}");
    if let Some(path) = port_file {
        let temp = path.with_extension("tmp");
        std::fs::write(&temp, format!("{addr}\n"))
            .and_then(|()| std::fs::rename(&temp, path))
            .map_err(|source| AgentError::PortFile {
                path: path.clone(),
                source,
            })?;
    }
    Ok(addr)
}

/// The variable that tells a Lambda runtime client where the Runtime API is.
pub const RUNTIME_API_VARIABLE: &str = "AWS_LAMBDA_RUNTIME_API";

enum Waited {
    Debugger(DebuggerStream),
    DeadlinePassed,
    ChildEnded(Outcome),
    Terminate(i32),
}

/// Runs the agent until the debuggee ends (or, for an attached process, until
/// the debugger leaves).
///
/// Invariants: the debuggee is traced exactly while a debugger is connected
/// or it waits at exec for the first one; otherwise it runs untraced with no
/// breakpoints, so a debugger's disconnect never leaves it stopped.
pub fn run(config: AgentConfig) -> Result<Outcome, AgentError> {
    let wakeup =
        wakeup::Wakeup::new(config.handle_termination_signals).map_err(AgentError::Signals)?;
    let upstream = config.watch_runtime_api.as_deref().unwrap_or_default();
    let watch_error = |source| AgentError::RuntimeWatch {
        upstream: upstream.to_owned(),
        source,
    };
    // The proxy's port is bound before the program starts, to go into its
    // environment; its threads start after (never between fork and exec)
    // and after `Wakeup` blocked SIGCHLD, so they inherit the mask.
    let watch = match (&config.watch_runtime_api, &config.launch) {
        (Some(upstream), Launch::Spawn(_)) => {
            Some(runtime_watch::RuntimeWatch::bind(upstream).map_err(watch_error)?)
        }
        _ => None,
    };
    let inferior = match &config.launch {
        Launch::Spawn(program) => match &watch {
            Some(watch) => {
                let address = watch.address().map_err(watch_error)?;
                let mut program = program.clone();
                program
                    .env
                    .push((RUNTIME_API_VARIABLE.into(), address.to_string().into()));
                Inferior::spawn(&program, wakeup.blocked_signals())?
            }
            None => Inferior::spawn(program, wakeup.blocked_signals())?,
        },
        Launch::Attach(pid) => Inferior::attach(Pid::from_raw(*pid), false)?,
    };
    let invocations = match watch {
        Some(watch) => {
            let invocations = std::sync::Arc::new(runtime_watch::Invocations::default());
            watch.serve(invocations.clone()).map_err(watch_error)?;
            Some(invocations)
        }
        None => None,
    };
    let new_target = |inferior: Inferior| {
        let target = AgentTarget::new(inferior);
        match &invocations {
            Some(invocations) => target.with_invocations(invocations.clone()),
            None => target,
        }
    };
    let pid = inferior.pid();
    let spawned = inferior.is_spawned();
    let mut traced = Some(new_target(inferior));
    let mut deadline = config.wait_timeout.map(|timeout| Instant::now() + timeout);
    let mut may_connect = true;
    let mut relay = relay_wait::RelayDialer::default();
    if let TransportConfig::Listen {
        listener,
        port_file,
    } = &config.transport
    {
        announce(listener, port_file.as_ref())?;
    }
    loop {
        let waited = wait_for_debugger(
            &config.transport,
            &mut relay,
            &wakeup,
            deadline,
            pid,
            may_connect,
        )?;
        let stream = match waited {
            Waited::Debugger(stream) => stream,
            Waited::DeadlinePassed => {
                deadline = None;
                if let Some(target) = traced.take() {
                    tracing::info!("no debugger connected in time; the program runs untraced");
                    target.into_inferior().detach()?;
                    if !spawned {
                        return Ok(Outcome::Detached);
                    }
                }
                continue;
            }
            Waited::ChildEnded(outcome) => return Ok(outcome),
            Waited::Terminate(signal) => {
                if let Some(mut target) = traced.take() {
                    // A stopped, traced process would never act on the
                    // signal, so it is killed outright.
                    return Ok(outcome_of(target.inferior_mut().kill()?));
                }
                // SAFETY: a plain syscall with integer arguments.
                unsafe { libc::kill(pid.as_raw(), signal) };
                if !spawned {
                    return Ok(Outcome::Detached);
                }
                continue;
            }
        };
        deadline = None;
        if matches!(config.transport, TransportConfig::Connect(_)) {
            may_connect = false;
        }
        if let DebuggerStream::Tcp(stream) = &stream {
            let _ = stream.set_nodelay(true);
        }
        let mut target = match traced.take() {
            Some(target) => target,
            None => new_target(Inferior::attach(pid, spawned)?),
        };
        tracing::info!("debugger connected");
        match session::serve(&mut target, stream, &wakeup)? {
            SessionEnd::Killed(event) | SessionEnd::ProcessEnded(event) => {
                return Ok(outcome_of(event));
            }
            SessionEnd::Terminated(_) => return Ok(outcome_of(target.inferior_mut().kill()?)),
            SessionEnd::Detached | SessionEnd::ConnectionLost => {
                tracing::info!("debugger left; the program runs on untraced");
                target.into_inferior().detach()?;
                if !spawned {
                    return Ok(Outcome::Detached);
                }
            }
        }
    }
}

fn outcome_of(event: StopEvent) -> Outcome {
    match event {
        StopEvent::Killed(signal) => Outcome::Killed(signal),
        StopEvent::Exited(code) => Outcome::Exited(code),
        // kill() and process ends only produce the two above.
        _ => Outcome::Killed(libc::SIGKILL),
    }
}

/// Waits for a debugger connection, the deadline, the end of the (untraced
/// or stopped) child, or a termination signal.
fn wait_for_debugger(
    transport: &TransportConfig,
    relay: &mut relay_wait::RelayDialer,
    wakeup: &wakeup::Wakeup,
    deadline: Option<Instant>,
    pid: Pid,
    may_connect: bool,
) -> Result<Waited, AgentError> {
    const CONNECT_RETRY: Duration = Duration::from_millis(200);
    let mut next_connect = Instant::now();
    loop {
        if let Some(outcome) = child_outcome(pid) {
            return Ok(Waited::ChildEnded(outcome));
        }
        if let TransportConfig::Relay(target) = transport {
            match relay.poll(target, wakeup, deadline)? {
                relay_wait::RelayPoll::Paired(stream) => {
                    return Ok(Waited::Debugger(DebuggerStream::Relay(stream)));
                }
                relay_wait::RelayPoll::Refused => return Ok(Waited::DeadlinePassed),
                relay_wait::RelayPoll::Deadline => {
                    if deadline.is_some_and(|deadline| deadline <= Instant::now()) {
                        return Ok(Waited::DeadlinePassed);
                    }
                }
                relay_wait::RelayPoll::CheckChild => {}
                relay_wait::RelayPoll::Terminate(signal) => return Ok(Waited::Terminate(signal)),
            }
            continue;
        }
        let listen_fd = match transport {
            TransportConfig::Relay(_) => None,
            TransportConfig::Listen { listener, .. } => Some(listener.as_fd()),
            TransportConfig::Connect(addr) => {
                if may_connect && Instant::now() >= next_connect {
                    match TcpStream::connect_timeout(addr, Duration::from_secs(2)) {
                        Ok(stream) => return Ok(Waited::Debugger(DebuggerStream::Tcp(stream))),
                        Err(error) => {
                            tracing::debug!("cannot connect to debugger at {addr}: {error}");
                            next_connect = Instant::now() + CONNECT_RETRY;
                        }
                    }
                }
                None
            }
        };
        let wait_until = match (deadline, may_connect && listen_fd.is_none()) {
            (Some(deadline), true) => Some(deadline.min(next_connect)),
            (None, true) => Some(next_connect),
            (deadline, false) => deadline,
        };
        match wakeup
            .wait(listen_fd, true, wait_until)
            .map_err(AgentError::Signals)?
        {
            wakeup::Wake::Readable => {
                if let TransportConfig::Listen { listener, .. } = transport {
                    match listener.accept() {
                        Ok((stream, peer)) => {
                            tracing::info!("debugger connected from {peer}");
                            stream.set_nonblocking(false).map_err(AgentError::Accept)?;
                            return Ok(Waited::Debugger(DebuggerStream::Tcp(stream)));
                        }
                        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(error) => return Err(AgentError::Accept(error)),
                    }
                }
            }
            wakeup::Wake::Deadline => {
                if deadline.is_some_and(|deadline| deadline <= Instant::now()) {
                    return Ok(Waited::DeadlinePassed);
                }
            }
            wakeup::Wake::CheckChild => {}
            wakeup::Wake::Terminate(signal) => return Ok(Waited::Terminate(signal)),
        }
    }
}

/// The child's exit, if it has ended (never blocks; `None` for a live or a
/// non-child process).
fn child_outcome(pid: Pid) -> Option<Outcome> {
    match sys::wait_thread(pid, false) {
        Ok(sys::WaitStatus::Exited(code)) => Some(Outcome::Exited(code)),
        Ok(sys::WaitStatus::Killed(signal)) => Some(Outcome::Killed(signal)),
        _ => None,
    }
}
