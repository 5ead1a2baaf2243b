//! The blocking client, for the agent: it is single-threaded and waits on
//! file descriptors with poll(2), so the connection exposes its socket and
//! says when it holds input that poll cannot see (decrypted TLS records,
//! buffered frames, decrypted plaintext).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use super::{ClientError, RelaySettings, SETUP_TIMEOUT, io_error, unexpected};
use crate::noise::{AgentHello, DeveloperHello, Handshake, MAX_CHUNK, Opener, Sealer, prologue};
use crate::secret::SessionId;
use crate::wire::{ChannelId, Frame, FrameDecoder, MAX_NOISE_MESSAGE, Role};

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// Resolves the relay's address. A static binary cannot resolve host names
/// through glibc, so the error says to give an IP address.
fn resolve(settings: &RelaySettings) -> Result<Vec<SocketAddr>, ClientError> {
    let address = &settings.address;
    (address.host.as_str(), address.port)
        .to_socket_addrs()
        .map(Iterator::collect)
        .map_err(|error| ClientError::Connect {
            address: address.to_string(),
            cause: format!(
                "cannot resolve {} ({error}); a statically linked agent cannot look up host names: give the relay as https://IP:PORT, keeping the name for TLS with FOGBANK_RELAY_NAME",
                address.host
            ),
        })
}

fn connect_tls(
    settings: &RelaySettings,
    server_name_override: Option<&str>,
) -> Result<Tls, ClientError> {
    let address = settings.address.to_string();
    let mut last = None;
    let mut tcp = None;
    for candidate in resolve(settings)? {
        match TcpStream::connect_timeout(&candidate, SETUP_TIMEOUT) {
            Ok(stream) => {
                tcp = Some(stream);
                break;
            }
            Err(error) => last = Some(error),
        }
    }
    let tcp = tcp.ok_or_else(|| ClientError::Connect {
        address: address.clone(),
        cause: last.map_or_else(
            || "the name has no addresses".to_owned(),
            |error| error.to_string(),
        ),
    })?;
    let _ = tcp.set_nodelay(true);
    let io = |error: std::io::Error| ClientError::Connect {
        address: address.clone(),
        cause: error.to_string(),
    };
    tcp.set_read_timeout(Some(SETUP_TIMEOUT)).map_err(io)?;
    tcp.set_write_timeout(Some(SETUP_TIMEOUT)).map_err(io)?;
    let name = match server_name_override {
        Some(name) => rustls::pki_types::ServerName::try_from(name.to_owned()).map_err(|_| {
            ClientError::Tls {
                address: address.clone(),
                cause: format!("{name:?} is not a valid server name"),
            }
        })?,
        None => settings
            .address
            .server_name()
            .map_err(|error| ClientError::Tls {
                address: address.clone(),
                cause: error.to_string(),
            })?,
    };
    let connection =
        rustls::ClientConnection::new(settings.tls.clone(), name).map_err(|error| {
            ClientError::Tls {
                address: address.clone(),
                cause: error.to_string(),
            }
        })?;
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    while tls.conn.is_handshaking() {
        if let Err(error) = tls.conn.complete_io(&mut tls.sock) {
            return Err(ClientError::Tls {
                address,
                cause: error.to_string(),
            });
        }
    }
    Ok(tls)
}

fn read_frame(tls: &mut Tls, decoder: &mut FrameDecoder) -> Result<Frame, ClientError> {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        if let Some(frame) = decoder.next_frame() {
            return frame.map_err(|error| ClientError::Protocol(error.to_string()));
        }
        match tls.read(&mut buffer) {
            Ok(0) => return Err(ClientError::Closed),
            Ok(count) => decoder.push(&buffer[..count]),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(ClientError::Timeout("waiting for the relay", SETUP_TIMEOUT));
            }
            Err(error) => return Err(io_error(&error)),
        }
    }
}

fn send(tls: &mut Tls, frame: &Frame) -> Result<(), ClientError> {
    tls.write_all(&frame.encode())
        .and_then(|()| tls.flush())
        .map_err(|error| io_error(&error))
}

/// Whether rustls holds decrypted bytes not yet read.
fn tls_has_plaintext(tls: &mut Tls) -> bool {
    tls.conn
        .process_new_packets()
        .map(|state| state.plaintext_bytes_to_read() > 0)
        .unwrap_or(true)
}

/// An agent connected to the relay, accepted, waiting to be paired.
pub struct WaitingAgent {
    tls: Tls,
    decoder: FrameDecoder,
    developer_attached: bool,
    session: SessionId,
    psk: [u8; 32],
}

impl std::fmt::Debug for WaitingAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitingAgent")
            .field("session", &self.session)
            .field("developer_attached", &self.developer_attached)
            .finish()
    }
}

/// Connects to the relay as an agent. With `wait`, the relay keeps the
/// connection until a developer attaches; without, it refuses at once when
/// none is attached (`NoDeveloper`). `server_name` overrides the TLS name
/// (for a relay given by IP address whose certificate names a host).
pub fn dial_agent(
    settings: &RelaySettings,
    wait: bool,
    server_name: Option<&str>,
) -> Result<WaitingAgent, ClientError> {
    let mut tls = connect_tls(settings, server_name)?;
    send(&mut tls, &settings.hello(Role::Agent, wait))?;
    let mut decoder = FrameDecoder::new(MAX_NOISE_MESSAGE);
    let developer_attached = match read_frame(&mut tls, &mut decoder)? {
        Frame::Accepted { waiting } => !waiting,
        other => return Err(unexpected(&other, "the relay's answer")),
    };
    // From here the agent waits on the socket with poll(2); reads block.
    let _ = tls.sock.set_read_timeout(None);
    Ok(WaitingAgent {
        tls,
        decoder,
        developer_attached,
        session: settings.credentials.ticket.session,
        psk: settings.credentials.psk(),
    })
}

impl WaitingAgent {
    /// The socket, for poll(2): readable when the relay pairs the agent (or
    /// closes the connection).
    pub fn readiness_fd(&self) -> BorrowedFd<'_> {
        self.tls.sock.as_fd()
    }

    /// Whether input is buffered that poll(2) cannot see.
    pub fn has_buffered_input(&mut self) -> bool {
        self.decoder.has_frame() || tls_has_plaintext(&mut self.tls)
    }

    /// Whether a developer was attached when the relay accepted the agent.
    pub fn developer_attached(&self) -> bool {
        self.developer_attached
    }

    /// Waits up to `timeout` to be paired, then runs the Noise handshake,
    /// announcing `hello`. Keepalives are skipped; a refusal or close ends
    /// the wait with an error.
    pub fn pair(
        mut self,
        hello: &AgentHello,
        timeout: Duration,
    ) -> Result<SecureStream, ClientError> {
        let _ = self.tls.sock.set_read_timeout(Some(timeout));
        let channel = loop {
            match read_frame(&mut self.tls, &mut self.decoder) {
                Ok(Frame::Paired(channel)) => break channel,
                Ok(Frame::Keepalive) => {}
                Ok(other) => return Err(unexpected(&other, "pairing")),
                Err(ClientError::Timeout(..)) => {
                    return Err(ClientError::Timeout(
                        "waiting for the debugger to take the connection",
                        timeout,
                    ));
                }
                Err(error) => return Err(error),
            }
        };
        let _ = self.tls.sock.set_read_timeout(Some(SETUP_TIMEOUT));
        let mut handshake = Handshake::initiator(&self.psk, &prologue(&self.session, &channel))?;
        send(
            &mut self.tls,
            &Frame::Data(handshake.write(&hello.encode())?),
        )?;
        let answer = loop {
            match read_frame(&mut self.tls, &mut self.decoder)? {
                Frame::Data(message) => break handshake.read(&message)?,
                Frame::Keepalive => {}
                other => return Err(unexpected(&other, "the debugger's handshake")),
            }
        };
        if let DeveloperHello::Decline(reason) = DeveloperHello::decode(&answer)? {
            return Err(ClientError::Declined(reason));
        }
        let (sealer, opener) = handshake.finish()?;
        let _ = self.tls.sock.set_read_timeout(None);
        Ok(SecureStream {
            tls: self.tls,
            decoder: self.decoder,
            sealer,
            opener,
            plaintext: Vec::new(),
            position: 0,
            channel,
        })
    }
}

/// The agent's end of a paired, end-to-end encrypted channel: a blocking
/// byte stream.
pub struct SecureStream {
    tls: Tls,
    decoder: FrameDecoder,
    sealer: Sealer,
    opener: Opener,
    plaintext: Vec<u8>,
    position: usize,
    channel: ChannelId,
}

impl std::fmt::Debug for SecureStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureStream")
            .field("channel", &self.channel)
            .finish()
    }
}

impl SecureStream {
    /// The socket, for poll(2).
    pub fn readiness_fd(&self) -> BorrowedFd<'_> {
        self.tls.sock.as_fd()
    }

    /// Whether input is buffered that poll(2) cannot see.
    ///
    /// Reads move everything rustls decrypted into this stream's own
    /// buffers, so the answer needs no access to the TLS state; buffered
    /// keepalives alone do not count.
    pub fn has_buffered_input(&self) -> bool {
        self.position < self.plaintext.len() || self.decoder.has_payload_frame()
    }

    /// Sets how long a read may block (`None`: forever).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        self.tls.sock.set_read_timeout(timeout)
    }

    /// The channel's id.
    pub fn channel(&self) -> ChannelId {
        self.channel
    }

    /// Ends the TLS session cleanly.
    pub fn close(mut self) {
        self.tls.conn.send_close_notify();
        let _ = self.tls.flush();
    }
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

impl Read for SecureStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut incoming = [0u8; 16 * 1024];
        while self.position >= self.plaintext.len() {
            match self.decoder.next_frame() {
                Some(Ok(Frame::Data(message))) => {
                    self.plaintext = self
                        .opener
                        .open(&message)
                        .map_err(|error| invalid(error.to_string()))?;
                    self.position = 0;
                }
                Some(Ok(Frame::Keepalive)) => {}
                Some(Ok(Frame::Refused { message, .. })) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        message,
                    ));
                }
                Some(Ok(other)) => {
                    return Err(invalid(format!("unexpected relay {} frame", other.name())));
                }
                Some(Err(error)) => return Err(invalid(error.to_string())),
                None => match self.tls.read(&mut incoming) {
                    Ok(0) => return Ok(0),
                    Ok(count) => {
                        self.decoder.push(&incoming[..count]);
                        // Take every record rustls already decrypted, so
                        // that none sits where poll(2) cannot see it.
                        while let Ok(more) = self.tls.conn.reader().read(&mut incoming) {
                            if more == 0 {
                                break;
                            }
                            self.decoder.push(&incoming[..more]);
                        }
                    }
                    // A peer that closes without TLS close_notify is a close.
                    Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
                        return Ok(0);
                    }
                    Err(error) => return Err(error),
                },
            }
        }
        let count = buf.len().min(self.plaintext.len() - self.position);
        buf[..count].copy_from_slice(&self.plaintext[self.position..self.position + count]);
        self.position += count;
        Ok(count)
    }
}

impl Write for SecureStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let count = buf.len().min(MAX_CHUNK);
        let message = self
            .sealer
            .seal(&buf[..count])
            .map_err(|error| invalid(error.to_string()))?;
        self.tls.write_all(&Frame::Data(message).encode())?;
        Ok(count)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.tls.flush()
    }
}
