//! The async client, for the developer's adapter (and for tests that play
//! the agent): attach to a session, learn about agents, join each one.
//!
//! A joined channel is handed out as a [`tokio::io::DuplexStream`]: a pump
//! task on each side seals what the application writes into Noise messages
//! and opens what arrives, and sends keepalives so the relay's idle timeout
//! does not close a debugging session in which nobody typed for a while.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::client::TlsStream;

use super::{ClientError, KEEPALIVE_INTERVAL, RelaySettings, SETUP_TIMEOUT, io_error, unexpected};
use crate::noise::{AgentHello, DeveloperHello, Handshake, MAX_CHUNK, Opener, Sealer, prologue};
use crate::wire::{ChannelId, Frame, FrameDecoder, MAX_NOISE_MESSAGE, Role};

type Tls = TlsStream<TcpStream>;

/// Capacity of the in-memory pipe between the application and the pump.
const PIPE_CAPACITY: usize = 256 * 1024;

async fn within<T>(
    what: &'static str,
    future: impl Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    tokio::time::timeout(SETUP_TIMEOUT, future)
        .await
        .map_err(|_| ClientError::Timeout(what, SETUP_TIMEOUT))?
}

async fn connect_tls(settings: &RelaySettings) -> Result<Tls, ClientError> {
    let address = settings.address.to_string();
    let tcp = within("connecting to the relay", async {
        TcpStream::connect((settings.address.host.as_str(), settings.address.port))
            .await
            .map_err(|error| ClientError::Connect {
                address: address.clone(),
                cause: error.to_string(),
            })
    })
    .await?;
    let _ = tcp.set_nodelay(true);
    let name = settings
        .address
        .server_name()
        .map_err(|error| ClientError::Tls {
            address: address.clone(),
            cause: error.to_string(),
        })?;
    let connector = tokio_rustls::TlsConnector::from(settings.tls.clone());
    within("the TLS handshake with the relay", async {
        connector
            .connect(name, tcp)
            .await
            .map_err(|error| ClientError::Tls {
                address: address.clone(),
                cause: error.to_string(),
            })
    })
    .await
}

async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    decoder: &mut FrameDecoder,
) -> Result<Frame, ClientError> {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        if let Some(frame) = decoder.next_frame() {
            return frame.map_err(|error| ClientError::Protocol(error.to_string()));
        }
        match reader.read(&mut buffer).await {
            Ok(0) => return Err(ClientError::Closed),
            Ok(count) => decoder.push(&buffer[..count]),
            Err(error) => return Err(io_error(&error)),
        }
    }
}

async fn send<W: AsyncWrite + Unpin>(writer: &mut W, frame: &Frame) -> Result<(), ClientError> {
    writer
        .write_all(&frame.encode())
        .await
        .map_err(|error| io_error(&error))?;
    writer.flush().await.map_err(|error| io_error(&error))
}

/// A developer attached to a session: the relay announces each agent that
/// arrives, to be joined with [`join`].
pub struct Attachment {
    incoming: mpsc::UnboundedReceiver<Result<ChannelId, ClientError>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Attachment")
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Attachment {
    /// The next agent waiting to be joined; an error (or `None`) when the
    /// attachment ended.
    pub async fn next(&mut self) -> Option<Result<ChannelId, ClientError>> {
        self.incoming.recv().await
    }
}

/// Attaches to the session as its developer. Refused with `SessionBusy` when
/// another debugger is attached.
pub async fn attach(settings: &RelaySettings) -> Result<Attachment, ClientError> {
    let mut tls = connect_tls(settings).await?;
    let mut decoder = FrameDecoder::new(MAX_NOISE_MESSAGE);
    within("attaching to the session", async {
        send(&mut tls, &settings.hello(Role::Developer, false)).await?;
        match read_frame(&mut tls, &mut decoder).await? {
            Frame::Accepted { .. } => Ok(()),
            other => Err(unexpected(&other, "the relay's answer")),
        }
    })
    .await?;
    let (sender, incoming) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let (mut reader, mut writer) = tokio::io::split(tls);
        let mut keepalive = tokio::time::interval(KEEPALIVE_INTERVAL);
        keepalive.tick().await;
        loop {
            tokio::select! {
                frame = read_frame(&mut reader, &mut decoder) => {
                    let item = match frame {
                        Ok(Frame::Incoming(channel)) => Ok(channel),
                        Ok(Frame::Keepalive) => continue,
                        Ok(other) => Err(unexpected(&other, "announcements")),
                        Err(error) => Err(error),
                    };
                    let end = item.is_err();
                    if sender.send(item).is_err() || end {
                        return;
                    }
                }
                _ = keepalive.tick() => {
                    if let Err(error) = send(&mut writer, &Frame::Keepalive).await {
                        let _ = sender.send(Err(error));
                        return;
                    }
                }
            }
        }
    });
    Ok(Attachment { incoming, task })
}

/// Joins an announced agent: pairs with it, answers its Noise handshake
/// with `decide`'s verdict on its hello, and returns the hello and the
/// decrypted byte stream.
pub async fn join(
    settings: &RelaySettings,
    channel: ChannelId,
    decide: impl FnOnce(&AgentHello) -> DeveloperHello,
) -> Result<(AgentHello, DuplexStream), ClientError> {
    let mut tls = connect_tls(settings).await?;
    let mut decoder = FrameDecoder::new(MAX_NOISE_MESSAGE);
    let session = settings.credentials.ticket.session;
    let psk = settings.credentials.psk();
    let (hello, sealer, opener) = within("joining the agent", async {
        send(&mut tls, &settings.hello(Role::Join(channel), false)).await?;
        match read_frame(&mut tls, &mut decoder).await? {
            Frame::Paired(paired) if paired == channel => {}
            other => return Err(unexpected(&other, "pairing")),
        }
        let mut handshake = Handshake::responder(&psk, &prologue(&session, &channel))?;
        let first = loop {
            match read_frame(&mut tls, &mut decoder).await? {
                Frame::Data(message) => break message,
                Frame::Keepalive => {}
                other => return Err(unexpected(&other, "the agent's handshake")),
            }
        };
        let hello = AgentHello::decode(&handshake.read(&first)?)?;
        let verdict = decide(&hello);
        send(&mut tls, &Frame::Data(handshake.write(&verdict.encode())?)).await?;
        if let DeveloperHello::Decline(reason) = verdict {
            let _ = tls.shutdown().await;
            return Err(ClientError::Declined(reason));
        }
        let (sealer, opener) = handshake.finish()?;
        Ok((hello, sealer, opener))
    })
    .await?;
    Ok((hello, spawn_pump(tls, decoder, sealer, opener, true)))
}

/// Connects as an agent and completes the handshake as the initiator: the
/// agent's side in async form, for tests and benchmarks (the real agent
/// uses the blocking client). With `wait`, waits for a developer.
pub async fn dial_agent(
    settings: &RelaySettings,
    wait: bool,
    hello: &AgentHello,
    pairing_timeout: Duration,
) -> Result<DuplexStream, ClientError> {
    let mut tls = connect_tls(settings).await?;
    let mut decoder = FrameDecoder::new(MAX_NOISE_MESSAGE);
    within("connecting as an agent", async {
        send(&mut tls, &settings.hello(Role::Agent, wait)).await?;
        match read_frame(&mut tls, &mut decoder).await? {
            Frame::Accepted { .. } => Ok(()),
            other => Err(unexpected(&other, "the relay's answer")),
        }
    })
    .await?;
    let channel = tokio::time::timeout(pairing_timeout, async {
        loop {
            match read_frame(&mut tls, &mut decoder).await? {
                Frame::Paired(channel) => return Ok(channel),
                Frame::Keepalive => {}
                other => return Err(unexpected(&other, "pairing")),
            }
        }
    })
    .await
    .map_err(|_| ClientError::Timeout("waiting to be paired", pairing_timeout))??;
    let session = settings.credentials.ticket.session;
    let psk = settings.credentials.psk();
    let (sealer, opener) = within("the end-to-end handshake", async {
        let mut handshake = Handshake::initiator(&psk, &prologue(&session, &channel))?;
        send(&mut tls, &Frame::Data(handshake.write(&hello.encode())?)).await?;
        let answer = loop {
            match read_frame(&mut tls, &mut decoder).await? {
                Frame::Data(message) => break handshake.read(&message)?,
                Frame::Keepalive => {}
                other => return Err(unexpected(&other, "the debugger's handshake")),
            }
        };
        if let DeveloperHello::Decline(reason) = DeveloperHello::decode(&answer)? {
            return Err(ClientError::Declined(reason));
        }
        Ok(handshake.finish()?)
    })
    .await?;
    Ok(spawn_pump(tls, decoder, sealer, opener, false))
}

/// Moves bytes between the application's end of an in-memory pipe and the
/// relay connection, sealing and opening Noise messages. Ends when either
/// side closes; closing one side closes the other.
fn spawn_pump(
    tls: Tls,
    mut decoder: FrameDecoder,
    mut sealer: Sealer,
    mut opener: Opener,
    keepalives: bool,
) -> DuplexStream {
    let (application, pump) = tokio::io::duplex(PIPE_CAPACITY);
    let (mut from_app, mut to_app) = tokio::io::split(pump);
    let (mut from_relay, mut to_relay) = tokio::io::split(tls);
    tokio::spawn(async move {
        let outgoing = async {
            let mut buffer = vec![0u8; MAX_CHUNK];
            let mut keepalive = tokio::time::interval(KEEPALIVE_INTERVAL);
            keepalive.tick().await;
            loop {
                tokio::select! {
                    read = from_app.read(&mut buffer) => {
                        let count = match read {
                            Ok(0) | Err(_) => break,
                            Ok(count) => count,
                        };
                        let Ok(message) = sealer.seal(&buffer[..count]) else { break };
                        if send(&mut to_relay, &Frame::Data(message)).await.is_err() {
                            break;
                        }
                    }
                    _ = keepalive.tick(), if keepalives => {
                        if send(&mut to_relay, &Frame::Keepalive).await.is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = to_relay.shutdown().await;
        };
        let incoming = async {
            loop {
                match read_frame(&mut from_relay, &mut decoder).await {
                    Ok(Frame::Data(message)) => {
                        let Ok(plaintext) = opener.open(&message) else {
                            tracing::warn!(
                                "an end-to-end message failed to authenticate; closing the channel"
                            );
                            break;
                        };
                        if to_app.write_all(&plaintext).await.is_err() {
                            break;
                        }
                    }
                    Ok(Frame::Keepalive) => {}
                    Ok(Frame::Refused { message, .. }) => {
                        tracing::info!(%message, "the relay closed the channel");
                        break;
                    }
                    Ok(_) | Err(_) => break,
                }
            }
            let _ = to_app.shutdown().await;
        };
        // Either direction ending ends the channel: the other half would
        // only write into a dead connection or wait forever.
        tokio::select! {
            () = outgoing => {}
            () = incoming => {}
        }
    });
    application
}
