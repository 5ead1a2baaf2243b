//! The relay server over real TLS on 127.0.0.1, with the async clients:
//! pairing, refusals, hijack attempts, limits, what the relay sees, and many
//! sessions at once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{RelayConfig, run};
use crate::client::asynch::{attach, dial_agent, join};
use crate::client::{ClientError, RelaySettings};
use crate::noise::{AgentHello, ChannelMode, DeveloperHello};
use crate::registry::Limits;
use crate::secret::{RelayKey, SessionCredentials, SessionId, SessionSecret, new_session};
use crate::tls::RelayAddress;
use crate::wire::{ChannelId, Frame, FrameDecoder, RefusalReason};

struct Relay {
    address: SocketAddr,
    key: RelayKey,
    ca_pem: String,
    shutdown: CancellationToken,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn certificate() -> (CertificateDer<'static>, PrivateKeyDer<'static>, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let pem = certified.cert.pem();
    let der = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    (der, key, pem)
}

async fn start_relay(limits: Limits) -> Relay {
    let (cert, key_der, ca_pem) = certificate();
    let tls = crate::tls::server_config_from(vec![cert], key_der).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let key = RelayKey::generate();
    let shutdown = CancellationToken::new();
    let config = RelayConfig {
        key: key.clone(),
        limits,
        tls,
    };
    tokio::spawn(run(listener, config, shutdown.clone()));
    Relay {
        address,
        key,
        ca_pem,
        shutdown,
    }
}

impl Relay {
    fn session(&self) -> SessionCredentials {
        new_session(&self.key, unix_now() + 3600)
    }

    fn settings(&self, credentials: SessionCredentials) -> RelaySettings {
        self.settings_at(self.address, credentials)
    }

    fn settings_at(&self, address: SocketAddr, credentials: SessionCredentials) -> RelaySettings {
        let address =
            RelayAddress::parse(&format!("https://127.0.0.1:{}", address.port())).unwrap();
        RelaySettings::new(
            address,
            credentials,
            Some((self.ca_pem.as_bytes(), "test CA")),
        )
        .unwrap()
    }
}

fn unix_now() -> u64 {
    super::unix_now()
}

fn live_hello() -> AgentHello {
    AgentHello {
        mode: ChannelMode::Live,
        software: "test agent".into(),
    }
}

fn refusal(result: Result<impl std::fmt::Debug, ClientError>) -> (RefusalReason, String) {
    match result {
        Err(ClientError::Refused { reason, message }) => (reason, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Attaches a developer that joins every agent and echoes its bytes back,
/// prefixed with `tag`.
async fn echo_developer(settings: RelaySettings, tag: &'static str) -> tokio::task::JoinHandle<()> {
    let mut attachment = attach(&settings).await.unwrap();
    tokio::spawn(async move {
        while let Some(Ok(channel)) = attachment.next().await {
            let settings = settings.clone();
            tokio::spawn(async move {
                let (_, mut stream) = join(&settings, channel, |_| DeveloperHello::Accept)
                    .await
                    .unwrap();
                let mut buffer = vec![0u8; 4096];
                loop {
                    let count = stream.read(&mut buffer).await.unwrap_or(0);
                    if count == 0 {
                        return;
                    }
                    let mut reply = tag.as_bytes().to_vec();
                    reply.extend_from_slice(&buffer[..count]);
                    if stream.write_all(&reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    })
}

async fn read_exactly(stream: &mut tokio::io::DuplexStream, count: usize) -> Vec<u8> {
    let mut buffer = vec![0u8; count];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut buffer))
        .await
        .expect("reply in time")
        .unwrap();
    buffer
}

#[tokio::test]
async fn an_agent_and_a_developer_talk_end_to_end() {
    let relay = start_relay(Limits::default()).await;
    let credentials = relay.session();
    let _developer = echo_developer(relay.settings(credentials.clone()), "dev:").await;
    let mut agent = dial_agent(
        &relay.settings(credentials),
        false,
        &live_hello(),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    agent.write_all(b"$qSupported#37").await.unwrap();
    assert_eq!(read_exactly(&mut agent, 18).await, b"dev:$qSupported#37");
    // A message larger than one Noise chunk arrives whole.
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    agent.write_all(&big).await.unwrap();
    let mut received = Vec::new();
    while received.len() < big.len() {
        let mut buffer = vec![0u8; 65536];
        let count = tokio::time::timeout(Duration::from_secs(10), agent.read(&mut buffer))
            .await
            .unwrap()
            .unwrap();
        assert!(count > 0, "the channel closed early");
        received.extend_from_slice(&buffer[..count]);
        // Strip the echo's tags, which come once per chunk read.
        while let Some(position) = received.windows(4).position(|w| w == b"dev:") {
            received.drain(position..position + 4);
        }
    }
    assert_eq!(received, big);
}

#[tokio::test]
async fn a_wrong_or_expired_secret_is_refused_clearly() {
    let relay = start_relay(Limits::default()).await;
    let credentials = relay.session();
    let wrong = SessionCredentials {
        ticket: credentials.ticket.clone(),
        secret: SessionSecret::generate(),
    };
    let (reason, message) = refusal(attach(&relay.settings(wrong.clone())).await);
    assert_eq!(reason, RefusalReason::BadToken);
    assert!(
        message.contains("the session token is not valid for this session"),
        "{message}"
    );
    let (reason, _) = refusal(
        dial_agent(
            &relay.settings(wrong),
            false,
            &live_hello(),
            Duration::from_secs(1),
        )
        .await,
    );
    assert_eq!(reason, RefusalReason::BadToken);

    let expired = new_session(&relay.key, unix_now() - 1);
    let (reason, message) = refusal(attach(&relay.settings(expired)).await);
    assert_eq!(reason, RefusalReason::Expired);
    assert!(message.contains("fogbank debug-session new"), "{message}");

    // A ticket from another relay's key is refused too.
    let foreign = new_session(&RelayKey::generate(), unix_now() + 60);
    assert_eq!(
        refusal(attach(&relay.settings(foreign)).await).0,
        RefusalReason::BadToken
    );
}

#[tokio::test]
async fn an_agent_without_a_developer_is_refused_at_once() {
    let relay = start_relay(Limits::default()).await;
    let started = Instant::now();
    let (reason, message) = refusal(
        dial_agent(
            &relay.settings(relay.session()),
            false,
            &live_hello(),
            Duration::from_secs(30),
        )
        .await,
    );
    assert_eq!(reason, RefusalReason::NoDeveloper);
    assert!(message.contains("no developer is attached"), "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_second_developer_cannot_hijack_a_session() {
    let relay = start_relay(Limits::default()).await;
    let credentials = relay.session();
    let settings = relay.settings(credentials.clone());
    let mut first = attach(&settings).await.unwrap();
    // The same secret does not let a second debugger take over or listen in.
    let (reason, message) = refusal(attach(&settings).await);
    assert_eq!(reason, RefusalReason::SessionBusy);
    assert!(
        message.contains("already has a debugger attached"),
        "{message}"
    );

    let agent_settings = settings.clone();
    let agent = tokio::spawn(async move {
        dial_agent(
            &agent_settings,
            false,
            &live_hello(),
            Duration::from_secs(10),
        )
        .await
    });
    let channel = tokio::time::timeout(Duration::from_secs(5), first.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    // Guessing a channel id, or joining from another session, fails.
    let (reason, _) =
        refusal(join(&settings, ChannelId([7; 16]), |_| DeveloperHello::Accept).await);
    assert_eq!(reason, RefusalReason::UnknownChannel);
    let other = relay.settings(relay.session());
    let _other_attached = attach(&other).await.unwrap();
    let (reason, _) = refusal(join(&other, channel, |_| DeveloperHello::Accept).await);
    assert_eq!(reason, RefusalReason::UnknownChannel);
    // The attached developer joins; a second join of the same channel fails.
    let (_, mut developer_side) = join(&settings, channel, |_| DeveloperHello::Accept)
        .await
        .unwrap();
    let (reason, _) = refusal(join(&settings, channel, |_| DeveloperHello::Accept).await);
    assert_eq!(reason, RefusalReason::UnknownChannel);
    let mut agent_side = agent.await.unwrap().unwrap();
    agent_side.write_all(b"ping").await.unwrap();
    assert_eq!(read_exactly(&mut developer_side, 4).await, b"ping");
}

#[tokio::test]
async fn a_session_is_free_again_after_its_developer_leaves() {
    let relay = start_relay(Limits::default()).await;
    let settings = relay.settings(relay.session());
    let first = attach(&settings).await.unwrap();
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match attach(&settings).await {
            Ok(_) => break,
            Err(ClientError::Refused {
                reason: RefusalReason::SessionBusy,
                ..
            }) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(error) => panic!("{error}"),
        }
    }
}

#[tokio::test]
async fn a_developer_declining_an_agent_is_reported_to_it() {
    let relay = start_relay(Limits::default()).await;
    let settings = relay.settings(relay.session());
    let mut attachment = attach(&settings).await.unwrap();
    let developer_settings = settings.clone();
    tokio::spawn(async move {
        let channel = attachment.next().await.unwrap().unwrap();
        let _ = join(&developer_settings, channel, |_| {
            DeveloperHello::Decline("wrong mode".into())
        })
        .await;
    });
    match dial_agent(&settings, false, &live_hello(), Duration::from_secs(5)).await {
        Err(ClientError::Declined(reason)) => assert_eq!(reason, "wrong mode"),
        other => panic!("expected a decline, got {other:?}"),
    }
}

/// Raw frames to the relay over TLS, for rule-breaking clients.
async fn raw_connection(relay: &Relay) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let settings = relay.settings(relay.session());
    let tcp = tokio::net::TcpStream::connect(relay.address).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(settings.tls.clone());
    connector
        .connect(settings.address.server_name().unwrap(), tcp)
        .await
        .unwrap()
}

async fn next_frame(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> Option<Frame> {
    let mut decoder = FrameDecoder::new(1 << 20);
    let mut buffer = [0u8; 4096];
    loop {
        if let Some(frame) = decoder.next_frame() {
            return Some(frame.unwrap());
        }
        let count = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
            .await
            .ok()?
            .ok()?;
        if count == 0 {
            return None;
        }
        decoder.push(&buffer[..count]);
    }
}

#[tokio::test]
async fn oversized_and_malformed_frames_are_refused() {
    let relay = start_relay(Limits {
        max_message: 2048,
        ..Limits::default()
    })
    .await;
    let mut stream = raw_connection(&relay).await;
    stream
        .write_all(&Frame::Data(vec![0; 4096]).encode())
        .await
        .unwrap();
    match next_frame(&mut stream).await {
        Some(Frame::Refused { reason, message }) => {
            assert_eq!(reason, RefusalReason::MessageTooLarge);
            assert!(
                message.contains("larger than the limit of 2048"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let mut stream = raw_connection(&relay).await;
    stream.write_all(&Frame::Keepalive.encode()).await.unwrap();
    match next_frame(&mut stream).await {
        Some(Frame::Refused { reason, message }) => {
            assert_eq!(reason, RefusalReason::Malformed);
            assert_eq!(message, "expected a hello, got a keepalive frame");
        }
        other => panic!("{other:?}"),
    }
    let mut stream = raw_connection(&relay).await;
    stream.write_all(&[99, 0, 0, 0, 0]).await.unwrap();
    assert!(matches!(
        next_frame(&mut stream).await,
        Some(Frame::Refused {
            reason: RefusalReason::Malformed,
            ..
        })
    ));
}

#[tokio::test]
async fn idle_channels_are_closed() {
    let relay = start_relay(Limits {
        idle_timeout: Duration::from_millis(400),
        ..Limits::default()
    })
    .await;
    let settings = relay.settings(relay.session());
    let _developer = echo_developer(settings.clone(), "").await;
    let mut agent = dial_agent(&settings, false, &live_hello(), Duration::from_secs(5))
        .await
        .unwrap();
    agent.write_all(b"x").await.unwrap();
    assert_eq!(read_exactly(&mut agent, 1).await, b"x");
    // Nothing more is sent: the relay closes the pair after the idle time.
    let started = Instant::now();
    let mut buffer = [0u8; 16];
    let count = tokio::time::timeout(Duration::from_secs(10), agent.read(&mut buffer))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(count, 0);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn per_session_connection_limit() {
    let relay = start_relay(Limits {
        max_connections_per_session: 2,
        ..Limits::default()
    })
    .await;
    let settings = relay.settings(relay.session());
    let mut attached = attach(&settings).await.unwrap();
    let waiting_settings = settings.clone();
    // The second connection is an agent that waits (nobody joins it).
    let _waiting = tokio::spawn(async move {
        let _ = dial_agent(
            &waiting_settings,
            true,
            &live_hello(),
            Duration::from_secs(30),
        )
        .await;
    });
    // Once the relay announces it, the session holds its two connections.
    tokio::time::timeout(Duration::from_secs(5), attached.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let (reason, message) =
        refusal(dial_agent(&settings, false, &live_hello(), Duration::from_secs(1)).await);
    assert_eq!(reason, RefusalReason::TooManyConnections);
    assert!(message.contains("limit of 2 connections"), "{message}");
}

/// A TLS-terminating tap between the clients and the relay: it sees exactly
/// what the relay sees (the decrypted relay protocol) and records it.
async fn start_tap(relay: &Relay) -> (SocketAddr, Arc<std::sync::Mutex<Vec<u8>>>) {
    // The tap presents a certificate of its own (see `tap_settings`).
    let (cert, key, _) = certificate();
    let server = crate::tls::server_config_from(vec![cert], key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(server);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let recorded = Arc::new(std::sync::Mutex::new(Vec::new()));
    let upstream = relay.settings(relay.session());
    let relay_address = relay.address;
    let log = recorded.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let upstream = upstream.clone();
            let log = log.clone();
            tokio::spawn(async move {
                let Ok(client) = acceptor.accept(tcp).await else {
                    return;
                };
                let tcp = tokio::net::TcpStream::connect(relay_address).await.unwrap();
                let connector = tokio_rustls::TlsConnector::from(upstream.tls.clone());
                let server = connector
                    .connect(upstream.address.server_name().unwrap(), tcp)
                    .await
                    .unwrap();
                let (mut client_read, mut client_write) = tokio::io::split(client);
                let (mut server_read, mut server_write) = tokio::io::split(server);
                let up_log = log.clone();
                let up = async move {
                    let mut buffer = vec![0u8; 65536];
                    while let Ok(count) = client_read.read(&mut buffer).await {
                        if count == 0 || server_write.write_all(&buffer[..count]).await.is_err() {
                            break;
                        }
                        up_log.lock().unwrap().extend_from_slice(&buffer[..count]);
                    }
                    let _ = server_write.shutdown().await;
                };
                let down = async move {
                    let mut buffer = vec![0u8; 65536];
                    while let Ok(count) = server_read.read(&mut buffer).await {
                        if count == 0 || client_write.write_all(&buffer[..count]).await.is_err() {
                            break;
                        }
                        log.lock().unwrap().extend_from_slice(&buffer[..count]);
                    }
                    let _ = client_write.shutdown().await;
                };
                tokio::join!(up, down);
            });
        }
    });
    (address, recorded)
}

#[tokio::test]
async fn the_relay_sees_no_plaintext() {
    let relay = start_relay(Limits::default()).await;
    let (tap, recorded) = start_tap(&relay).await;
    let credentials = relay.session();
    // Both ends go through the tap.
    let settings = tap_settings(&relay, tap, credentials);
    let _developer = echo_developer(settings.clone(), "answer:").await;
    let mut agent = dial_agent(&settings, false, &live_hello(), Duration::from_secs(5))
        .await
        .unwrap();
    let event = b"{\"body\":\"top secret event body\"}";
    let packet = b"$qSupported:multiprocess+#c6";
    agent.write_all(packet).await.unwrap();
    read_exactly(&mut agent, 7 + packet.len()).await;
    agent.write_all(event).await.unwrap();
    read_exactly(&mut agent, 7 + event.len()).await;
    let seen = recorded.lock().unwrap().clone();
    assert!(
        seen.len() > 200,
        "the tap recorded the relay protocol ({} bytes)",
        seen.len()
    );
    for needle in [&b"qSupported"[..], b"top secret event body", b"answer:"] {
        assert!(
            !seen.windows(needle.len()).any(|window| window == needle),
            "the relay saw {:?} in plaintext",
            String::from_utf8_lossy(needle)
        );
    }
}

/// Settings that reach the relay through the tap. The tap's certificate is
/// self-signed and different from the relay's, so the client trusts it
/// explicitly; a real attacker would need a certificate the clients trust.
fn tap_settings(relay: &Relay, tap: SocketAddr, credentials: SessionCredentials) -> RelaySettings {
    let mut settings = relay.settings_at(tap, credentials);
    settings.tls = insecure_client();
    settings
}

fn insecure_client() -> Arc<rustls::ClientConfig> {
    #[derive(Debug)]
    struct AcceptAny;
    impl rustls::client::danger::ServerCertVerifier for AcceptAny {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &rustls::pki_types::ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny))
        .with_no_client_auth(),
    )
}

#[tokio::test]
async fn a_relay_that_alters_the_stream_is_detected() {
    // The relay (or anyone on its path) flipping a ciphertext bit makes the
    // receiving end close the channel instead of accepting altered input.
    let ((mut seal, _), (_, mut open)) = {
        let prologue = crate::noise::prologue(&SessionId([1; 16]), &ChannelId([2; 16]));
        let mut agent = crate::noise::Handshake::initiator(&[9; 32], &prologue).unwrap();
        let mut developer = crate::noise::Handshake::responder(&[9; 32], &prologue).unwrap();
        let first = agent.write(&live_hello().encode()).unwrap();
        developer.read(&first).unwrap();
        let second = developer.write(&DeveloperHello::Accept.encode()).unwrap();
        agent.read(&second).unwrap();
        (agent.finish().unwrap(), developer.finish().unwrap())
    };
    let mut message = seal.seal(b"$m0,4#fd").unwrap();
    message[3] ^= 0x40;
    assert!(open.open(&message).is_err());
}

#[tokio::test]
async fn a_hundred_sessions_at_once_without_cross_talk() {
    let relay = start_relay(Limits::default()).await;
    let mut tasks = Vec::new();
    for index in 0..100u32 {
        let credentials = relay.session();
        let settings = relay.settings(credentials);
        tasks.push(tokio::spawn(async move {
            let tag: &'static str = Box::leak(format!("s{index}:").into_boxed_str());
            let _developer = echo_developer(settings.clone(), tag).await;
            let mut agent = dial_agent(&settings, false, &live_hello(), Duration::from_secs(30))
                .await
                .unwrap();
            for round in 0..5u32 {
                let message = format!("session {index} round {round};");
                agent.write_all(message.as_bytes()).await.unwrap();
                let mut expected = tag.as_bytes().to_vec();
                expected.extend_from_slice(message.as_bytes());
                let mut received = vec![0u8; expected.len()];
                tokio::time::timeout(Duration::from_secs(30), agent.read_exact(&mut received))
                    .await
                    .expect("an answer in time")
                    .unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&received),
                    String::from_utf8_lossy(&expected)
                );
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// Answers after `delay`, echoing the event.
struct SlowEcho {
    delay: Duration,
}

impl crate::developer::InvokeLocally for SlowEcho {
    async fn invoke(
        &self,
        invocation: crate::developer::ForwardedInvocation,
    ) -> crate::developer::LocalOutcome {
        tokio::time::sleep(self.delay).await;
        let mut body = format!("env={};", invocation.environment.len()).into_bytes();
        body.extend_from_slice(&invocation.body);
        crate::developer::LocalOutcome::Response(body)
    }
}

#[tokio::test]
async fn live_mode_answers_invocations_and_warns_near_the_deadline() {
    use crate::developer::{LiveEvent, serve_live};
    use crate::live::{LiveDecoder, LiveMessage};
    let relay = start_relay(Limits::default()).await;
    let settings = relay.settings(relay.session());
    let events = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = events.clone();
    let shutdown = CancellationToken::new();
    tokio::spawn(serve_live(
        settings.clone(),
        Arc::new(SlowEcho {
            delay: Duration::from_millis(950),
        }),
        move |event| seen.lock().unwrap().push(event),
        shutdown.clone(),
    ));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !events.lock().unwrap().contains(&LiveEvent::Attached) {
        assert!(Instant::now() < deadline, "serve_live did not attach");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut agent = dial_agent(&settings, false, &live_hello(), Duration::from_secs(5))
        .await
        .unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut bytes = LiveMessage::Environment {
        vars: vec![("TABLE".into(), "orders".into())],
    }
    .encode();
    bytes.extend(
        LiveMessage::Invoke {
            request_id: "r-1".into(),
            headers: vec![(
                "Lambda-Runtime-Deadline-Ms".into(),
                (now_ms + 1000).to_string(),
            )],
            body: b"{\"a\":1}".to_vec(),
        }
        .encode(),
    );
    agent.write_all(&bytes).await.unwrap();
    let mut decoder = LiveDecoder::new();
    let reply = loop {
        if let Some(message) = decoder.next_message() {
            break message.unwrap();
        }
        let mut buffer = [0u8; 1024];
        let count = tokio::time::timeout(Duration::from_secs(10), agent.read(&mut buffer))
            .await
            .unwrap()
            .unwrap();
        assert!(count > 0, "the channel closed");
        decoder.push(&buffer[..count]);
    };
    assert_eq!(
        reply,
        LiveMessage::Response {
            request_id: "r-1".into(),
            body: b"env=1;{\"a\":1}".to_vec(),
        }
    );
    let events = events.lock().unwrap().clone();
    assert!(
        events.iter().any(|event| matches!(event, LiveEvent::DeadlineNear { request_id, .. } if request_id == "r-1")),
        "{events:?}"
    );
    assert!(
        events.iter().any(|event| matches!(event, LiveEvent::Answered { request_id, error: false, .. } if request_id == "r-1")),
        "{events:?}"
    );
    shutdown.cancel();
}
