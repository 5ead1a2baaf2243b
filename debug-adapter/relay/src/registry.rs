//! The relay's pure core: which sessions exist, who is attached, which
//! agents wait, and whether a new connection may join. No sockets and no
//! clock: the caller passes the time and keeps the handles it gets back.
//!
//! Invariants:
//! - a session has at most one attached developer; a second is refused
//!   (`SessionBusy`), so nobody can take over an attached session;
//! - a waiting agent's channel id is told only to the attached developer,
//!   and a join must name a waiting channel while that developer is still
//!   attached;
//! - a session's entry exists exactly while it has connections; nothing is
//!   kept after the last one closes.
//!
//! Generic over `A` (how to announce a channel to the developer) and `W`
//! (how to hand a joiner to a waiting agent), so the tests use plain values
//! and the server uses channels.

use std::collections::HashMap;

use crate::secret::{RelayKey, SessionId, SessionTicket, TicketError};
use crate::wire::{ChannelId, Hello, PROTOCOL_VERSION, RefusalReason};

/// A refusal: reason and message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The machine-readable reason.
    pub reason: RefusalReason,
    /// What the client shows its user.
    pub message: String,
}

impl Refusal {
    /// A refusal.
    pub fn new(reason: RefusalReason, message: impl Into<String>) -> Refusal {
        Refusal {
            reason,
            message: message.into(),
        }
    }
}

/// Limits of one relay.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections (developer, joins and agents) one session may have.
    pub max_connections_per_session: u32,
    /// Connections the relay holds in all.
    pub max_connections: u32,
    /// A connection (or a pair) with no frame for this long is closed.
    pub idle_timeout: std::time::Duration,
    /// Largest frame payload accepted.
    pub max_message: usize,
    /// Time for TLS and the hello.
    pub hello_timeout: std::time::Duration,
    /// How long an announced agent that did not ask to wait waits for the
    /// developer to join it.
    pub join_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections_per_session: 64,
            max_connections: 10_000,
            idle_timeout: std::time::Duration::from_secs(600),
            max_message: crate::wire::MAX_NOISE_MESSAGE,
            hello_timeout: std::time::Duration::from_secs(10),
            join_timeout: std::time::Duration::from_secs(10),
        }
    }
}

struct SessionState<A, W> {
    developer: Option<(u64, A)>,
    waiting: Vec<(ChannelId, W)>,
    connections: u32,
}

/// Sessions with connections.
pub struct Registry<A, W> {
    key: RelayKey,
    limits: Limits,
    sessions: HashMap<SessionId, SessionState<A, W>>,
    connections: u32,
}

impl<A, W> std::fmt::Debug for Registry<A, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("sessions", &self.sessions.len())
            .field("connections", &self.connections)
            .finish()
    }
}

/// What adding an agent produced.
#[derive(Debug)]
pub struct AgentAdded<A> {
    /// The agent's channel.
    pub channel: ChannelId,
    /// The developer to announce it to, if one is attached.
    pub announce: Option<A>,
}

impl<A: Clone, W> Registry<A, W> {
    /// A registry checking tickets with `key`.
    pub fn new(key: RelayKey, limits: Limits) -> Registry<A, W> {
        Registry {
            key,
            limits,
            sessions: HashMap::new(),
            connections: 0,
        }
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Checks a hello at `now` (unix seconds) and counts the connection
    /// into its session. Every `Ok` must be matched by a [`Registry::close`].
    pub fn admit(&mut self, hello: &Hello, now: u64) -> Result<SessionId, Refusal> {
        if hello.version != PROTOCOL_VERSION {
            return Err(Refusal::new(
                RefusalReason::UnsupportedVersion,
                format!(
                    "this relay speaks protocol version {PROTOCOL_VERSION}, the client {}; use matching versions of fogbank and fogbank-relay",
                    hello.version
                ),
            ));
        }
        let ticket = SessionTicket::parse(&hello.ticket)
            .map_err(|error| Refusal::new(RefusalReason::BadToken, error.to_string()))?;
        let session = ticket.session;
        self.key
            .verify(&ticket, &hello.token, now)
            .map_err(|error| match error {
                TicketError::BadToken => Refusal::new(
                    RefusalReason::BadToken,
                    format!("session {session}: {error}"),
                ),
                TicketError::Expired { .. } => Refusal::new(
                    RefusalReason::Expired,
                    format!("session {session}: {error}"),
                ),
            })?;
        if self.connections >= self.limits.max_connections {
            return Err(Refusal::new(
                RefusalReason::TooManyConnections,
                format!(
                    "the relay holds its limit of {} connections; try again later",
                    self.limits.max_connections
                ),
            ));
        }
        let state = self
            .sessions
            .entry(session)
            .or_insert_with(|| SessionState {
                developer: None,
                waiting: Vec::new(),
                connections: 0,
            });
        if state.connections >= self.limits.max_connections_per_session {
            let limit = self.limits.max_connections_per_session;
            if state.connections == 0 {
                self.sessions.remove(&session);
            }
            return Err(Refusal::new(
                RefusalReason::TooManyConnections,
                format!("session {session} has its limit of {limit} connections"),
            ));
        }
        state.connections += 1;
        self.connections += 1;
        Ok(session)
    }

    /// Uncounts a connection admitted earlier; forgets the session with its
    /// last connection.
    pub fn close(&mut self, session: &SessionId) {
        let Some(state) = self.sessions.get_mut(session) else {
            return;
        };
        state.connections = state.connections.saturating_sub(1);
        self.connections = self.connections.saturating_sub(1);
        if state.connections == 0 {
            self.sessions.remove(session);
        }
    }

    /// Attaches connection `id` as the session's developer. Returns the
    /// channels already waiting, to announce.
    pub fn attach_developer(
        &mut self,
        session: &SessionId,
        id: u64,
        announce: A,
    ) -> Result<Vec<ChannelId>, Refusal> {
        let state = self.state(session)?;
        if state.developer.is_some() {
            return Err(Refusal::new(
                RefusalReason::SessionBusy,
                format!(
                    "session {session} already has a debugger attached; only one may attach at a time (detach the other one first)"
                ),
            ));
        }
        state.developer = Some((id, announce));
        Ok(state.waiting.iter().map(|(channel, _)| *channel).collect())
    }

    /// Detaches developer connection `id` (if it is the attached one).
    pub fn detach_developer(&mut self, session: &SessionId, id: u64) {
        if let Some(state) = self.sessions.get_mut(session)
            && state
                .developer
                .as_ref()
                .is_some_and(|(attached, _)| *attached == id)
        {
            state.developer = None;
        }
    }

    /// Whether a developer is attached to the session.
    pub fn has_developer(&self, session: &SessionId) -> bool {
        self.sessions
            .get(session)
            .is_some_and(|state| state.developer.is_some())
    }

    /// Adds an agent, waiting to be joined. Refused when no developer is
    /// attached and the agent did not ask to wait.
    pub fn add_agent(
        &mut self,
        session: &SessionId,
        wait: bool,
        waiter: W,
    ) -> Result<AgentAdded<A>, Refusal> {
        let state = self.state(session)?;
        let announce = state
            .developer
            .as_ref()
            .map(|(_, announce)| announce.clone());
        if announce.is_none() && !wait {
            return Err(Refusal::new(
                RefusalReason::NoDeveloper,
                format!("no developer is attached to session {session}"),
            ));
        }
        let channel = ChannelId::generate();
        state.waiting.push((channel, waiter));
        Ok(AgentAdded { channel, announce })
    }

    /// Removes a waiting agent (it left, or waited too long). Returns its
    /// waiter if it was still waiting.
    pub fn remove_agent(&mut self, session: &SessionId, channel: &ChannelId) -> Option<W> {
        let state = self.sessions.get_mut(session)?;
        let position = state
            .waiting
            .iter()
            .position(|(waiting, _)| waiting == channel)?;
        Some(state.waiting.swap_remove(position).1)
    }

    /// Takes the waiting agent of `channel` for a joiner.
    pub fn join(&mut self, session: &SessionId, channel: &ChannelId) -> Result<W, Refusal> {
        let state = self.state(session)?;
        if state.developer.is_none() {
            return Err(Refusal::new(
                RefusalReason::NoDeveloper,
                format!("session {session} has no attached debugger to join for"),
            ));
        }
        let position = state
            .waiting
            .iter()
            .position(|(waiting, _)| waiting == channel)
            .ok_or_else(|| {
                Refusal::new(
                    RefusalReason::UnknownChannel,
                    format!(
                        "channel {} of session {session} is not waiting (already joined, or gone)",
                        channel.short()
                    ),
                )
            })?;
        Ok(state.waiting.swap_remove(position).1)
    }

    /// Sessions with connections.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Connections counted.
    pub fn connection_count(&self) -> u32 {
        self.connections
    }

    fn state(&mut self, session: &SessionId) -> Result<&mut SessionState<A, W>, Refusal> {
        self.sessions.get_mut(session).ok_or_else(|| {
            Refusal::new(
                RefusalReason::Malformed,
                format!("session {session} has no admitted connection"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::secret::{RelayToken, SessionCredentials, new_session};
    use crate::wire::Role;

    fn hello(credentials: &SessionCredentials, role: Role, wait: bool) -> Hello {
        Hello {
            version: PROTOCOL_VERSION,
            role,
            wait,
            ticket: credentials.ticket.to_text(),
            token: credentials.token(),
        }
    }

    fn setup(limits: Limits) -> (Registry<&'static str, u32>, SessionCredentials) {
        let key = RelayKey::generate();
        let credentials = new_session(&key, 1000);
        (Registry::new(key, limits), credentials)
    }

    fn reason<T: std::fmt::Debug>(result: Result<T, Refusal>) -> RefusalReason {
        result.expect_err("refused").reason
    }

    #[test]
    fn admission_checks_version_token_and_expiry() {
        let (mut registry, credentials) = setup(Limits::default());
        let mut bad = hello(&credentials, Role::Agent, false);
        bad.token = RelayToken([0; 32]);
        assert_eq!(reason(registry.admit(&bad, 1)), RefusalReason::BadToken);
        bad = hello(&credentials, Role::Agent, false);
        bad.version = 2;
        assert_eq!(
            reason(registry.admit(&bad, 1)),
            RefusalReason::UnsupportedVersion
        );
        bad = hello(&credentials, Role::Agent, false);
        bad.ticket = "garbage".into();
        assert_eq!(reason(registry.admit(&bad, 1)), RefusalReason::BadToken);
        let refusal = registry
            .admit(&hello(&credentials, Role::Agent, false), 1000)
            .unwrap_err();
        assert_eq!(refusal.reason, RefusalReason::Expired);
        assert!(
            refusal.message.contains("expired at 1000"),
            "{}",
            refusal.message
        );
        assert_eq!(registry.session_count(), 0);
        assert!(
            registry
                .admit(&hello(&credentials, Role::Agent, false), 999)
                .is_ok()
        );
        assert_eq!(registry.session_count(), 1);
    }

    #[test]
    fn one_developer_per_session() {
        let (mut registry, credentials) = setup(Limits::default());
        let session = registry
            .admit(&hello(&credentials, Role::Developer, false), 1)
            .unwrap();
        assert_eq!(
            registry.attach_developer(&session, 1, "first").unwrap(),
            vec![]
        );
        let second = registry
            .admit(&hello(&credentials, Role::Developer, false), 1)
            .unwrap();
        let refusal = registry.attach_developer(&second, 2, "second").unwrap_err();
        assert_eq!(refusal.reason, RefusalReason::SessionBusy);
        assert!(
            refusal.message.contains("already has a debugger attached"),
            "{}",
            refusal.message
        );
        registry.close(&second);
        // Only the attached connection detaches the developer.
        registry.detach_developer(&session, 2);
        assert!(registry.has_developer(&session));
        registry.detach_developer(&session, 1);
        assert!(!registry.has_developer(&session));
        registry.close(&session);
        assert_eq!(registry.session_count(), 0);
        assert_eq!(registry.connection_count(), 0);
    }

    #[test]
    fn agents_wait_are_announced_and_joined_once() {
        let (mut registry, credentials) = setup(Limits::default());
        let session = registry
            .admit(&hello(&credentials, Role::Agent, false), 1)
            .unwrap();
        assert_eq!(
            reason(registry.add_agent(&session, false, 1)),
            RefusalReason::NoDeveloper
        );
        let early = registry.add_agent(&session, true, 2).unwrap();
        assert!(early.announce.is_none());
        registry
            .admit(&hello(&credentials, Role::Developer, false), 1)
            .unwrap();
        assert_eq!(
            registry.attach_developer(&session, 7, "dev").unwrap(),
            vec![early.channel]
        );
        let late = registry.add_agent(&session, false, 3).unwrap();
        assert_eq!(late.announce, Some("dev"));
        assert_eq!(registry.join(&session, &late.channel).unwrap(), 3);
        assert_eq!(
            reason(registry.join(&session, &late.channel)),
            RefusalReason::UnknownChannel
        );
        assert_eq!(
            reason(registry.join(&session, &ChannelId([0; 16]))),
            RefusalReason::UnknownChannel
        );
        registry.detach_developer(&session, 7);
        assert_eq!(
            reason(registry.join(&session, &early.channel)),
            RefusalReason::NoDeveloper
        );
        assert_eq!(registry.remove_agent(&session, &early.channel), Some(2));
        assert_eq!(registry.remove_agent(&session, &early.channel), None);
    }

    #[test]
    fn connection_limits() {
        let (mut registry, credentials) = setup(Limits {
            max_connections_per_session: 2,
            max_connections: 3,
            ..Limits::default()
        });
        let agent = hello(&credentials, Role::Agent, true);
        let session = registry.admit(&agent, 1).unwrap();
        registry.admit(&agent, 1).unwrap();
        let refusal = registry.admit(&agent, 1).unwrap_err();
        assert_eq!(refusal.reason, RefusalReason::TooManyConnections);
        assert!(
            refusal.message.contains("limit of 2 connections"),
            "{}",
            refusal.message
        );
        let other = new_session(&registry.key.clone(), 1000);
        registry
            .admit(&hello(&other, Role::Agent, true), 1)
            .unwrap();
        let refusal = registry
            .admit(&hello(&other, Role::Agent, true), 1)
            .unwrap_err();
        assert!(
            refusal.message.contains("limit of 3 connections"),
            "{}",
            refusal.message
        );
        registry.close(&session);
        registry
            .admit(&hello(&other, Role::Agent, true), 1)
            .unwrap();
        assert_eq!(registry.connection_count(), 3);
    }
}
