//! One debugger session: drives gdbstub's state machine with the debugger's
//! input and the debuggee's stop events, until the debugger detaches, kills
//! the process, disconnects, or the process ends.
//!
//! Robustness: input passes through [`FrameFilter`] first, so garbage, bad
//! checksums and oversized packets are answered here (NACK or `E01`). Packets
//! gdbstub still rejects (a malformed known command) end its state machine
//! with an error; the session then answers `E01`, builds a fresh gdbstub and
//! silently replays the handshake (`qSupported`, `QStartNoAckMode`) into it,
//! so the debugger can carry on.

use gdbstub::stub::state_machine::GdbStubStateMachine;
use gdbstub::stub::{DisconnectReason, GdbStubBuilder, GdbStubError, MultiThreadStopReason};

use crate::connection::{BufferedConnection, Transport};
use crate::frames::{Filtered, Frame, FrameFilter, Rejected, frame_payload};
use crate::inferior::{InferiorError, StopEvent};
use crate::target::{AgentTarget, stop_reason};
use crate::wakeup::{Wake, Wakeup};

/// Size of gdbstub's packet buffer, advertised to the debugger as PacketSize.
pub const PACKET_BUFFER_SIZE: usize = 0x4000;

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The debugger sent `D`. The process is still traced, all stopped.
    Detached,
    /// The connection closed or failed. The process is still traced, and may
    /// be running.
    ConnectionLost,
    /// The debugger killed the process; it is gone.
    Killed(StopEvent),
    /// The process exited or was killed while running; it is gone.
    ProcessEnded(StopEvent),
    /// The agent received this termination signal.
    Terminated(i32),
}

/// Errors that end a session abnormally.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Process control failed in a way the session cannot recover from.
    #[error("debuggee control failed: {0}")]
    Inferior(#[from] InferiorError),
    /// gdbstub could not be set up.
    #[error("cannot start the gdb stub: {0}")]
    Stub(String),
    /// Waiting for input or events failed.
    #[error("waiting for debugger input failed: {0}")]
    Wait(nix::errno::Errno),
}

type Machine<'a, T> = GdbStubStateMachine<'a, AgentTarget, &'a mut BufferedConnection<T>>;
type StubError = GdbStubError<InferiorError, std::io::Error>;

/// What the debugger negotiated, replayed into a fresh gdbstub after a
/// protocol error.
#[derive(Debug, Default)]
struct Handshake {
    supported: Option<Vec<u8>>,
    no_ack: bool,
}

impl Handshake {
    fn observe(&mut self, packet: &[u8]) {
        let body = &packet[1..packet.len().saturating_sub(3).max(1)];
        if body.starts_with(b"qSupported") {
            self.supported = Some(packet.to_vec());
            self.no_ack = false;
        } else if body == b"QStartNoAckMode" {
            self.no_ack = true;
        }
    }
}

/// Why the inner loop handed control back.
enum Exit {
    End(SessionEnd),
    /// gdbstub failed on the last packet; restart it.
    Restart,
}

/// Serves one debugger over `transport` until the session ends.
pub fn serve<T: Transport>(
    target: &mut AgentTarget,
    transport: T,
    wakeup: &Wakeup,
) -> Result<SessionEnd, SessionError> {
    let mut conn = BufferedConnection::new(transport);
    let mut filter = FrameFilter::new(PACKET_BUFFER_SIZE - 8);
    let mut handshake = Handshake::default();
    let mut replay = false;
    loop {
        if target.inferior().any_running() {
            // A protocol error struck while threads ran: stop them so the
            // fresh stub starts, as gdbstub does, with the target stopped.
            target.inferior_mut().interrupt()?;
            while target.inferior().any_running() {
                if let Some(StopEvent::Exited(_) | StopEvent::Killed(_)) =
                    target.inferior_mut().poll_stop()?
                {
                    break;
                }
                wakeup.wait(None, true, None).map_err(SessionError::Wait)?;
            }
        }
        let exit = run_stub(
            target,
            &mut conn,
            &mut filter,
            &mut handshake,
            wakeup,
            std::mem::take(&mut replay),
        )?;
        match exit {
            Exit::End(end) => return Ok(end),
            Exit::Restart => {
                tracing::warn!("restarting the gdb stub after a protocol error");
                if send_error(&mut conn).is_err() {
                    return Ok(SessionEnd::ConnectionLost);
                }
                replay = true;
            }
        }
    }
}

fn send_error<T: Transport>(conn: &mut BufferedConnection<T>) -> std::io::Result<()> {
    conn.send_raw(&frame_payload(b"E01"))
}

/// Classifies a gdbstub error: lost connection, or a protocol error after
/// which the stub is rebuilt.
fn on_stub_error(error: StubError) -> Exit {
    if error.is_connection_error() {
        tracing::info!("debugger connection failed: {error}");
        Exit::End(SessionEnd::ConnectionLost)
    } else {
        tracing::warn!("gdb stub error: {error}");
        Exit::Restart
    }
}

fn run_stub<T: Transport>(
    target: &mut AgentTarget,
    conn: &mut BufferedConnection<T>,
    filter: &mut FrameFilter,
    handshake: &mut Handshake,
    wakeup: &Wakeup,
    replay: bool,
) -> Result<Exit, SessionError> {
    let stub = GdbStubBuilder::new(&mut *conn)
        .packet_buffer_size(PACKET_BUFFER_SIZE)
        .build()
        .map_err(|error| SessionError::Stub(error.to_string()))?;
    let mut machine: Machine<'_, T> = match stub.run_state_machine(target) {
        Ok(machine) => machine,
        Err(error) => return Ok(on_stub_error(error)),
    };
    if replay {
        machine = match replay_handshake(machine, target, handshake) {
            Ok(machine) => machine,
            Err(error) => return Ok(on_stub_error(error)),
        };
    }
    loop {
        machine = match machine {
            GdbStubStateMachine::Disconnected(inner) => {
                return Ok(Exit::End(match inner.get_reason() {
                    DisconnectReason::Disconnect => SessionEnd::Detached,
                    DisconnectReason::Kill => SessionEnd::Killed(target.inferior_mut().kill()?),
                    DisconnectReason::TargetExited(code) => {
                        SessionEnd::ProcessEnded(StopEvent::Exited(i32::from(code)))
                    }
                    DisconnectReason::TargetTerminated(signal) => {
                        SessionEnd::ProcessEnded(StopEvent::Killed(i32::from(signal.0)))
                    }
                }));
            }
            GdbStubStateMachine::CtrlCInterrupt(inner) => {
                if target.inferior().any_running() {
                    target.inferior_mut().interrupt()?;
                }
                // The stop itself is reported when the threads have stopped.
                match inner.interrupt_handled(target, None::<MultiThreadStopReason<u64>>) {
                    Ok(machine) => machine,
                    Err(error) => return Ok(on_stub_error(error)),
                }
            }
            GdbStubStateMachine::Running(inner) => {
                if let Some(event) = target.inferior_mut().poll_stop()? {
                    match inner.report_stop(target, stop_reason(event)) {
                        Ok(machine) => machine,
                        Err(error) => return Ok(on_stub_error(error)),
                    }
                } else {
                    let mut machine = GdbStubStateMachine::Running(inner);
                    match next_input(conn_of(&mut machine), filter, wakeup, true)? {
                        Input::Frame(Frame::Interrupt) => match feed(machine, target, &[0x03]) {
                            Ok(machine) => machine,
                            Err(error) => return Ok(on_stub_error(error)),
                        },
                        Input::Frame(Frame::Packet(packet)) => {
                            // In all-stop mode the debugger waits for the stop
                            // reply; a packet now is a protocol violation.
                            tracing::warn!(
                                "ignoring packet while the debuggee runs: {}",
                                String::from_utf8_lossy(&packet)
                            );
                            machine
                        }
                        Input::Rejected(_) | Input::Nothing => machine,
                        Input::Closed => return Ok(Exit::End(SessionEnd::ConnectionLost)),
                        Input::Terminate(signal) => {
                            return Ok(Exit::End(SessionEnd::Terminated(signal)));
                        }
                    }
                }
            }
            GdbStubStateMachine::Idle(inner) => {
                let mut machine = GdbStubStateMachine::Idle(inner);
                match next_input(conn_of(&mut machine), filter, wakeup, false)? {
                    Input::Frame(Frame::Interrupt) => match feed(machine, target, &[0x03]) {
                        Ok(machine) => machine,
                        Err(error) => return Ok(on_stub_error(error)),
                    },
                    Input::Frame(Frame::Packet(packet)) => {
                        handshake.observe(&packet);
                        match feed(machine, target, &packet) {
                            Ok(machine) => machine,
                            Err(error) => return Ok(on_stub_error(error)),
                        }
                    }
                    Input::Rejected(reason) => {
                        let reply: &[u8] = match (reason, handshake.no_ack) {
                            // With acks, a NACK makes the sender retransmit.
                            (Rejected::BadChecksum, false) => b"-",
                            (Rejected::Oversized, false) => b"+$E01#a6",
                            (_, true) => b"$E01#a6",
                        };
                        if conn_of(&mut machine).send_raw(reply).is_err() {
                            return Ok(Exit::End(SessionEnd::ConnectionLost));
                        }
                        machine
                    }
                    Input::Nothing => machine,
                    Input::Closed => return Ok(Exit::End(SessionEnd::ConnectionLost)),
                    Input::Terminate(signal) => {
                        return Ok(Exit::End(SessionEnd::Terminated(signal)));
                    }
                }
            }
        };
    }
}

fn conn_of<'m, 'a, T: Transport>(machine: &'m mut Machine<'a, T>) -> &'m mut BufferedConnection<T> {
    match machine {
        GdbStubStateMachine::Idle(inner) => inner.borrow_conn(),
        GdbStubStateMachine::Running(inner) => inner.borrow_conn(),
        GdbStubStateMachine::CtrlCInterrupt(inner) => inner.borrow_conn(),
        GdbStubStateMachine::Disconnected(inner) => inner.borrow_conn(),
    }
}

/// Feeds the bytes of one frame to gdbstub.
fn feed<'a, T: Transport>(
    mut machine: Machine<'a, T>,
    target: &mut AgentTarget,
    bytes: &[u8],
) -> Result<Machine<'a, T>, StubError> {
    for byte in bytes {
        machine = match machine {
            GdbStubStateMachine::Idle(inner) => inner.incoming_data(target, *byte)?,
            GdbStubStateMachine::Running(inner) => inner.incoming_data(target, *byte)?,
            // A frame is complete only at its last byte, so these states
            // cannot occur before it.
            other => other,
        };
    }
    Ok(machine)
}

fn replay_handshake<'a, T: Transport>(
    mut machine: Machine<'a, T>,
    target: &mut AgentTarget,
    handshake: &Handshake,
) -> Result<Machine<'a, T>, StubError> {
    conn_of(&mut machine).set_muted(true);
    if let Some(supported) = &handshake.supported {
        machine = feed(machine, target, supported)?;
    }
    if handshake.no_ack {
        machine = feed(machine, target, b"$QStartNoAckMode#b0")?;
    }
    conn_of(&mut machine).set_muted(false);
    Ok(machine)
}

enum Input {
    Frame(Frame),
    Rejected(Rejected),
    /// Input was consumed (or a wait ended) without a complete frame.
    Nothing,
    Closed,
    Terminate(i32),
}

/// Returns the next frame from buffered input, or waits for more input (and,
/// if `running`, for a debuggee event, in which case `Nothing` is returned).
fn next_input<T: Transport>(
    conn: &mut BufferedConnection<T>,
    filter: &mut FrameFilter,
    wakeup: &Wakeup,
    running: bool,
) -> Result<Input, SessionError> {
    loop {
        while let Some(byte) = conn.next_byte() {
            match filter.push(byte) {
                Filtered::Nothing => {}
                Filtered::Frame(frame) => return Ok(Input::Frame(frame)),
                Filtered::Rejected(reason) => return Ok(Input::Rejected(reason)),
            }
        }
        if !conn.has_buffered_input() {
            let fd = conn.transport().readiness_fd();
            match wakeup
                .wait(Some(fd), running, None)
                .map_err(SessionError::Wait)?
            {
                Wake::Readable | Wake::Deadline => {}
                Wake::CheckChild if running => return Ok(Input::Nothing),
                Wake::CheckChild => continue,
                Wake::Terminate(signal) => return Ok(Input::Terminate(signal)),
            }
        }
        match conn.fill() {
            Ok(0) | Err(_) => return Ok(Input::Closed),
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn handshake_remembers_features_and_no_ack() {
        let mut handshake = Handshake::default();
        handshake.observe(&frame_payload(b"qSupported:swbreak+"));
        handshake.observe(&frame_payload(b"QStartNoAckMode"));
        handshake.observe(&frame_payload(b"g"));
        assert_eq!(
            handshake.supported,
            Some(frame_payload(b"qSupported:swbreak+"))
        );
        assert!(handshake.no_ack);
        handshake.observe(&frame_payload(b"qSupported"));
        assert!(!handshake.no_ack);
        assert_eq!(frame_payload(b"QStartNoAckMode"), b"$QStartNoAckMode#b0");
        assert_eq!(frame_payload(b"E01"), b"$E01#a6");
    }
}
