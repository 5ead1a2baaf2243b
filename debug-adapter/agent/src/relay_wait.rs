//! In-place mode's transport: the agent dials the relay as its session's
//! agent (asking to wait for a developer) and waits, in the supervisor's
//! poll(2) loop, until the developer takes the channel; the Noise handshake
//! then gives the end-to-end encrypted stream the RSP session runs over.
//!
//! A refusal that retrying cannot cure (a wrong secret, an expired session)
//! is printed once and releases the program at once: production traffic is
//! never held for a debugger that cannot come. Other failures (the relay
//! restarting, the developer's channel closing) are retried with a pause.

use std::time::{Duration, Instant};

use fogbank_relay::client::blocking::{SecureStream, WaitingAgent, dial_agent};
use fogbank_relay::noise::{AgentHello, ChannelMode};

use crate::AgentError;
use crate::forward::RelayTarget;
use crate::wakeup::{Wake, Wakeup};

/// Pause between attempts after a failure that may pass.
const RETRY: Duration = Duration::from_secs(1);

/// How long the developer may take to complete the handshake once the relay
/// paired the channel.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What one wait produced.
#[derive(Debug)]
pub enum RelayPoll {
    /// A developer took the channel; the stream is ready for RSP.
    Paired(Box<SecureStream>),
    /// The relay refused the session for good; run without a debugger.
    Refused,
    /// The deadline (or a retry time) came.
    Deadline,
    /// The child may have changed state.
    CheckChild,
    /// A termination signal arrived.
    Terminate(i32),
}

/// The dialing state across waits.
#[derive(Debug, Default)]
pub struct RelayDialer {
    waiting: Option<WaitingAgent>,
    next_attempt: Option<Instant>,
    given_up: bool,
}

fn map_wake(wake: Wake) -> RelayPoll {
    match wake {
        Wake::Readable | Wake::CheckChild => RelayPoll::CheckChild,
        Wake::Deadline => RelayPoll::Deadline,
        Wake::Terminate(signal) => RelayPoll::Terminate(signal),
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

impl RelayDialer {
    /// Waits once: dials if needed, then waits for the pairing, the
    /// deadline, the child or a signal.
    pub fn poll(
        &mut self,
        target: &RelayTarget,
        wakeup: &Wakeup,
        deadline: Option<Instant>,
    ) -> Result<RelayPoll, AgentError> {
        if self.given_up {
            return wakeup
                .wait(None, true, deadline)
                .map(map_wake)
                .map_err(AgentError::Signals);
        }
        if self.waiting.is_none() && self.next_attempt.is_none_or(|at| at <= Instant::now()) {
            match dial_agent(&target.settings, true, target.server_name.as_deref()) {
                Ok(waiting) => {
                    self.waiting = Some(waiting);
                    self.next_attempt = None;
                }
                Err(error) if error.is_permanent() => {
                    eprintln!(
                        "fogbank-agent: the relay refused this agent: {error}; the program runs without a debugger"
                    );
                    self.given_up = true;
                    return Ok(RelayPoll::Refused);
                }
                Err(error) => {
                    tracing::info!("cannot reach the relay ({error}); retrying");
                    self.next_attempt = Some(Instant::now() + RETRY);
                }
            }
        }
        let Some(waiting) = self.waiting.as_mut() else {
            return wakeup
                .wait(None, true, earliest(deadline, self.next_attempt))
                .map(map_wake)
                .map_err(AgentError::Signals);
        };
        if !waiting.has_buffered_input() {
            match wakeup
                .wait(Some(waiting.readiness_fd()), true, deadline)
                .map_err(AgentError::Signals)?
            {
                Wake::Readable => {}
                other => return Ok(map_wake(other)),
            }
        }
        let Some(waiting) = self.waiting.take() else {
            return Ok(RelayPoll::CheckChild);
        };
        let hello = AgentHello {
            mode: ChannelMode::InPlace,
            software: format!("fogbank-agent {} (in-place)", env!("CARGO_PKG_VERSION")),
        };
        match waiting.pair(&hello, HANDSHAKE_TIMEOUT) {
            Ok(stream) => Ok(RelayPoll::Paired(Box::new(stream))),
            Err(error) if error.is_permanent() => {
                eprintln!(
                    "fogbank-agent: the debugger could not be reached end to end: {error}; the program runs without a debugger"
                );
                self.given_up = true;
                Ok(RelayPoll::Refused)
            }
            Err(error) => {
                eprintln!(
                    "fogbank-agent: the debugger's channel failed: {error}; waiting for another"
                );
                self.next_attempt = Some(Instant::now() + RETRY);
                Ok(RelayPoll::CheckChild)
            }
        }
    }
}
