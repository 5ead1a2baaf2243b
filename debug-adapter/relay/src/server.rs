//! The relay server: TLS in, hellos checked against the [`Registry`],
//! agents paired with developers, frames piped. A thin async shell around
//! the registry.
//!
//! Ownership: every connection is one task. A developer's task owns its
//! attachment and sends announcements; an agent's task owns its connection
//! while it waits and, once a joiner's task hands over the joining
//! connection, pipes the pair. Nothing is written anywhere: the relay keeps
//! no data, and it only ever sees hellos and Noise ciphertext.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::registry::{Limits, Refusal, Registry};
use crate::secret::{RelayKey, SessionId};
use crate::wire::{ChannelId, Frame, FrameDecoder, Hello, RefusalReason, Role, WireError};

/// What the relay needs besides its listener.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The key tickets are checked with.
    pub key: RelayKey,
    /// Connection limits and timeouts.
    pub limits: Limits,
    /// TLS settings (certificate and key).
    pub tls: Arc<rustls::ServerConfig>,
}

type Tls = TlsStream<TcpStream>;

/// A connection and the bytes read from it but not yet decoded.
struct Connection {
    stream: Tls,
    decoder: FrameDecoder,
}

/// A joining connection, handed to the waiting agent's task.
struct Joiner {
    connection: Connection,
    _guard: SessionGuard,
}

type Announce = mpsc::UnboundedSender<ChannelId>;
type Waiter = oneshot::Sender<Joiner>;

struct Shared {
    registry: Mutex<Registry<Announce, Waiter>>,
    limits: Limits,
    next_id: AtomicU64,
}

impl Shared {
    fn registry(&self) -> std::sync::MutexGuard<'_, Registry<Announce, Waiter>> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Uncounts a connection from its session when dropped.
struct SessionGuard {
    shared: Arc<Shared>,
    session: SessionId,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.shared.registry().close(&self.session);
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Serves the relay on `listener` until `shutdown` is cancelled; then
/// closes every connection (telling clients why) and returns.
pub async fn run(
    listener: TcpListener,
    config: RelayConfig,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(config.tls);
    let shared = Arc::new(Shared {
        registry: Mutex::new(Registry::new(config.key, config.limits.clone())),
        limits: config.limits,
        next_id: AtomicU64::new(1),
    });
    let tracker = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let _ = tcp.set_nodelay(true);
                let shared = shared.clone();
                let acceptor = acceptor.clone();
                let shutdown = shutdown.clone();
                tracker.spawn(async move {
                    if let Err(error) = serve_connection(shared, acceptor, tcp, shutdown).await {
                        tracing::debug!(%peer, %error, "relay connection ended");
                    }
                });
            }
            // Per-connection failures (a reset before accept, too many open
            // files) must not stop the relay; back off briefly instead.
            Err(error) => {
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), tracker.wait()).await;
    Ok(())
}

impl Connection {
    async fn read_frame(&mut self) -> io::Result<Option<Result<Frame, WireError>>> {
        read_frame(&mut self.stream, &mut self.decoder).await
    }

    async fn send(&mut self, frame: &Frame) -> io::Result<()> {
        self.stream.write_all(&frame.encode()).await?;
        self.stream.flush().await
    }

    /// Tells the client why, and closes the connection.
    async fn refuse(mut self, refusal: Refusal) {
        tracing::info!(reason = ?refusal.reason, message = %refusal.message, "refusing a relay connection");
        let frame = Frame::Refused {
            reason: refusal.reason,
            message: refusal.message,
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            let _ = self.send(&frame).await;
            let _ = self.stream.shutdown().await;
        })
        .await;
    }
}

async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    decoder: &mut FrameDecoder,
) -> io::Result<Option<Result<Frame, WireError>>> {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        if let Some(frame) = decoder.next_frame() {
            return Ok(Some(frame));
        }
        let count = match reader.read(&mut buffer).await {
            Ok(count) => count,
            // A client that closes without TLS close_notify has closed.
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => 0,
            Err(error) => return Err(error),
        };
        if count == 0 {
            return Ok(None);
        }
        decoder.push(&buffer[..count]);
    }
}

fn wire_refusal(error: &WireError) -> Refusal {
    match error {
        WireError::TooLarge { .. } => {
            Refusal::new(RefusalReason::MessageTooLarge, error.to_string())
        }
        _ => Refusal::new(RefusalReason::Malformed, error.to_string()),
    }
}

async fn serve_connection(
    shared: Arc<Shared>,
    acceptor: tokio_rustls::TlsAcceptor,
    tcp: TcpStream,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let limits = shared.limits.clone();
    let setup = async {
        let stream = acceptor.accept(tcp).await?;
        let mut connection = Connection {
            stream,
            decoder: FrameDecoder::new(limits.max_message),
        };
        let first = connection.read_frame().await?;
        io::Result::Ok((connection, first))
    };
    let (connection, first) = match tokio::time::timeout(limits.hello_timeout, setup).await {
        Ok(result) => result?,
        Err(_) => return Ok(()),
    };
    let hello = match first {
        Some(Ok(Frame::Hello(hello))) => hello,
        Some(Ok(other)) => {
            let message = format!("expected a hello, got a {} frame", other.name());
            connection
                .refuse(Refusal::new(RefusalReason::Malformed, message))
                .await;
            return Ok(());
        }
        Some(Err(error)) => {
            connection.refuse(wire_refusal(&error)).await;
            return Ok(());
        }
        None => return Ok(()),
    };
    let admitted = shared.registry().admit(&hello, unix_now());
    let session = match admitted {
        Ok(session) => session,
        Err(refusal) => {
            connection.refuse(refusal).await;
            return Ok(());
        }
    };
    let guard = SessionGuard {
        shared: shared.clone(),
        session,
    };
    match hello.role {
        Role::Developer => developer(shared, connection, guard, shutdown).await,
        Role::Agent => agent(shared, connection, guard, &hello, shutdown).await,
        Role::Join(channel) => {
            join(&shared, connection, guard, channel).await;
            Ok(())
        }
    }
}

/// A developer's attachment: announces waiting agents until it leaves.
async fn developer(
    shared: Arc<Shared>,
    mut connection: Connection,
    guard: SessionGuard,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let session = guard.session;
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let (announce, mut announcements) = mpsc::unbounded_channel();
    let attached = shared.registry().attach_developer(&session, id, announce);
    let waiting = match attached {
        Ok(waiting) => waiting,
        Err(refusal) => {
            connection.refuse(refusal).await;
            return Ok(());
        }
    };
    tracing::info!(%session, "a developer attached");
    // Detaches even if this task is cancelled mid-way.
    struct Detach(Arc<Shared>, SessionId, u64);
    impl Drop for Detach {
        fn drop(&mut self) {
            self.0.registry().detach_developer(&self.1, self.2);
        }
    }
    let _detach = Detach(shared.clone(), session, id);
    connection.send(&Frame::Accepted { waiting: false }).await?;
    for channel in waiting {
        connection.send(&Frame::Incoming(channel)).await?;
    }
    let idle = shared.limits.idle_timeout;
    let mut last_activity = Instant::now();
    loop {
        tokio::select! {
            Some(channel) = announcements.recv() => connection.send(&Frame::Incoming(channel)).await?,
            frame = connection.read_frame() => match frame? {
                None => break,
                Some(Ok(Frame::Keepalive)) => last_activity = Instant::now(),
                Some(Ok(other)) => {
                    let message = format!("unexpected {} frame from an attached developer", other.name());
                    connection.refuse(Refusal::new(RefusalReason::Malformed, message)).await;
                    break;
                }
                Some(Err(error)) => {
                    connection.refuse(wire_refusal(&error)).await;
                    break;
                }
            },
            () = tokio::time::sleep_until(last_activity + idle) => {
                connection.refuse(Refusal::new(RefusalReason::IdleTimeout, format!("nothing was sent for {idle:?}"))).await;
                break;
            }
            () = shutdown.cancelled() => {
                connection.refuse(Refusal::new(RefusalReason::ShuttingDown, "the relay is stopping")).await;
                break;
            }
        }
    }
    tracing::info!(%session, "a developer detached");
    drop(guard);
    Ok(())
}

/// An agent: waits to be joined, then pipes the pair.
async fn agent(
    shared: Arc<Shared>,
    mut connection: Connection,
    guard: SessionGuard,
    hello: &Hello,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let session = guard.session;
    let (waiter, mut joined) = oneshot::channel();
    let added = shared.registry().add_agent(&session, hello.wait, waiter);
    let added = match added {
        Ok(added) => added,
        Err(refusal) => {
            connection.refuse(refusal).await;
            return Ok(());
        }
    };
    let channel = added.channel;
    // Forgets the channel however this task ends, unless it was joined.
    struct Remove(Arc<Shared>, SessionId, ChannelId);
    impl Drop for Remove {
        fn drop(&mut self) {
            self.0.registry().remove_agent(&self.1, &self.2);
        }
    }
    let _remove = Remove(shared.clone(), session, channel);
    let announced = added
        .announce
        .is_some_and(|announce| announce.send(channel).is_ok());
    connection
        .send(&Frame::Accepted {
            waiting: !announced,
        })
        .await?;
    let limits = &shared.limits;
    // An agent that did not ask to wait gives the developer a bounded time
    // to take it; one that did waits as long as the idle timeout allows.
    let give_up = Instant::now()
        + if hello.wait {
            limits.idle_timeout
        } else {
            limits.join_timeout
        };
    let joiner = loop {
        tokio::select! {
            joiner = &mut joined => match joiner {
                Ok(joiner) => break joiner,
                Err(_) => return Ok(()),
            },
            frame = connection.read_frame() => match frame? {
                None => return Ok(()),
                Some(Ok(Frame::Keepalive)) => {}
                Some(Ok(other)) => {
                    let message = format!("unexpected {} frame from an agent before pairing", other.name());
                    connection.refuse(Refusal::new(RefusalReason::Malformed, message)).await;
                    return Ok(());
                }
                Some(Err(error)) => {
                    connection.refuse(wire_refusal(&error)).await;
                    return Ok(());
                }
            },
            () = tokio::time::sleep_until(give_up) => {
                let refusal = if hello.wait {
                    Refusal::new(RefusalReason::IdleTimeout, format!("no debugger took this agent within {:?}", limits.idle_timeout))
                } else {
                    Refusal::new(RefusalReason::NoDeveloper, format!("the attached debugger did not take this agent within {:?}", limits.join_timeout))
                };
                connection.refuse(refusal).await;
                return Ok(());
            }
            () = shutdown.cancelled() => {
                connection.refuse(Refusal::new(RefusalReason::ShuttingDown, "the relay is stopping")).await;
                return Ok(());
            }
        }
    };
    let Joiner {
        connection: mut other,
        _guard: joiner_guard,
    } = joiner;
    connection.send(&Frame::Paired(channel)).await?;
    other.send(&Frame::Paired(channel)).await?;
    tracing::info!(%session, channel = %channel.short(), "paired an agent with its debugger");
    pipe(connection, other, limits, &shutdown).await;
    drop(joiner_guard);
    drop(guard);
    Ok(())
}

/// A joining connection: hands itself to the waiting agent.
async fn join(
    shared: &Arc<Shared>,
    connection: Connection,
    guard: SessionGuard,
    channel: ChannelId,
) {
    let taken = shared.registry().join(&guard.session, &channel);
    let waiter = match taken {
        Ok(waiter) => waiter,
        Err(refusal) => {
            connection.refuse(refusal).await;
            return;
        }
    };
    if let Err(Joiner { connection, .. }) = waiter.send(Joiner {
        connection,
        _guard: guard,
    }) {
        let refusal = Refusal::new(
            RefusalReason::UnknownChannel,
            "the agent left before it could be joined",
        );
        connection.refuse(refusal).await;
    }
}

/// How piping one direction ended.
enum Ended {
    /// The sender closed its end.
    Closed,
    /// The sender broke a rule; it is told why.
    Refused(Refusal),
    /// Reading or writing failed.
    Failed,
}

/// Forwards Data frames from one side to the other until it closes, fails
/// or breaks a rule. Keepalives only count as activity.
async fn forward<R, W>(
    reader: &mut R,
    decoder: &mut FrameDecoder,
    writer: &mut W,
    activity: &AtomicU64,
    epoch: Instant,
) -> Ended
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buffer = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(64 * 1024);
    loop {
        out.clear();
        while let Some(frame) = decoder.next_frame() {
            match frame {
                Ok(Frame::Data(data)) => Frame::Data(data).encode_into(&mut out),
                Ok(Frame::Keepalive) => {}
                Ok(other) => {
                    let message = format!("unexpected {} frame on a paired channel", other.name());
                    return Ended::Refused(Refusal::new(RefusalReason::Malformed, message));
                }
                Err(error) => return Ended::Refused(wire_refusal(&error)),
            }
        }
        if !out.is_empty()
            && (writer.write_all(&out).await.is_err() || writer.flush().await.is_err())
        {
            return Ended::Failed;
        }
        activity.store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        match reader.read(&mut buffer).await {
            Ok(0) => return Ended::Closed,
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ended::Closed,
            Err(_) => return Ended::Failed,
            Ok(count) => decoder.push(&buffer[..count]),
        }
    }
}

/// Pipes a paired agent and joiner until either closes, breaks a rule, the
/// pair idles past the limit, or the relay stops. Both ends are closed
/// afterwards; the one at fault is told why.
async fn pipe(
    agent: Connection,
    joiner: Connection,
    limits: &Limits,
    shutdown: &CancellationToken,
) {
    let epoch = Instant::now();
    let activity = AtomicU64::new(0);
    let (mut agent_read, mut agent_write): (ReadHalf<Tls>, WriteHalf<Tls>) =
        tokio::io::split(agent.stream);
    let (mut joiner_read, mut joiner_write) = tokio::io::split(joiner.stream);
    let mut agent_decoder = agent.decoder;
    let mut joiner_decoder = joiner.decoder;
    let idle = limits.idle_timeout;
    let idle_watch = async {
        loop {
            let last = Duration::from_millis(activity.load(Ordering::Relaxed));
            let deadline = epoch + last + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    };
    // (refusal, whether the agent side is at fault)
    let verdict: Option<(Refusal, Option<bool>)> = tokio::select! {
        ended = forward(&mut agent_read, &mut agent_decoder, &mut joiner_write, &activity, epoch) => match ended {
            Ended::Refused(refusal) => Some((refusal, Some(true))),
            Ended::Closed | Ended::Failed => None,
        },
        ended = forward(&mut joiner_read, &mut joiner_decoder, &mut agent_write, &activity, epoch) => match ended {
            Ended::Refused(refusal) => Some((refusal, Some(false))),
            Ended::Closed | Ended::Failed => None,
        },
        () = idle_watch => Some((Refusal::new(RefusalReason::IdleTimeout, format!("the channel was idle for {idle:?}")), None)),
        () = shutdown.cancelled() => Some((Refusal::new(RefusalReason::ShuttingDown, "the relay is stopping"), None)),
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        if let Some((refusal, at_fault)) = verdict {
            tracing::info!(reason = ?refusal.reason, message = %refusal.message, "closing a paired channel");
            let frame = Frame::Refused {
                reason: refusal.reason,
                message: refusal.message,
            }
            .encode();
            if at_fault != Some(false) {
                let _ = agent_write.write_all(&frame).await;
            }
            if at_fault != Some(true) {
                let _ = joiner_write.write_all(&frame).await;
            }
        }
        let _ = agent_write.shutdown().await;
        let _ = joiner_write.shutdown().await;
    })
    .await;
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
