//! The relay as a separate process (the `fogbank-relay` binary) under
//! load: 100 sessions at once, each with its own developer and agent, pair
//! and pipe end-to-end-encrypted bytes with no cross-talk. (The same runs
//! in-process in `debug-adapter/relay/src/server_tests.rs`; this one adds
//! the binary's own accept loop, TLS set-up and limits from its flags.)

use std::time::Duration;

use fogbank_relay::client::RelaySettings;
use fogbank_relay::client::asynch::{attach, dial_agent, join};
use fogbank_relay::noise::{AgentHello, ChannelMode, DeveloperHello};
use fogbank_relay::secret::{RelayKey, new_session};
use fogbank_relay::tls::RelayAddress;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::RelayProcess;

const SESSIONS: u32 = 100;
const ROUNDS: u32 = 5;
const WITHIN: Duration = Duration::from_secs(60);

/// Attaches a developer that joins every agent of its session and echoes
/// its bytes back prefixed with `tag`, so a reply names the session that
/// answered it.
async fn echo_developer(settings: RelaySettings, tag: String) -> tokio::task::JoinHandle<()> {
    let mut attachment = attach(&settings).await.expect("attach the developer");
    tokio::spawn(async move {
        while let Some(Ok(channel)) = attachment.next().await {
            let settings = settings.clone();
            let tag = tag.clone();
            tokio::spawn(async move {
                let (_, mut stream) = join(&settings, channel, |_| DeveloperHello::Accept)
                    .await
                    .expect("join the agent");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_process_pipes_a_hundred_sessions_without_cross_talk() {
    // Each session uses three connections (the developer's attachment, its
    // join, the agent); the flags leave room for all of them at once.
    let relay = RelayProcess::start(&["--max-connections", "1000"]);
    let key = RelayKey::parse(&std::fs::read_to_string(&relay.key_file).expect("relay key"))
        .expect("parse the relay key");
    let address = RelayAddress::parse(&relay.url()).expect("relay address");
    let expires_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 3600;
    let mut tasks = Vec::new();
    for index in 0..SESSIONS {
        let settings = RelaySettings::new(
            address.clone(),
            new_session(&key, expires_at),
            Some((relay.certificate.pem.as_bytes(), "test certificate")),
        )
        .expect("settings");
        tasks.push(tokio::spawn(async move {
            let tag = format!("s{index}:");
            let _developer = echo_developer(settings.clone(), tag.clone()).await;
            let hello = AgentHello {
                mode: ChannelMode::Live,
                software: format!("load agent {index}"),
            };
            let mut agent = dial_agent(&settings, false, &hello, WITHIN)
                .await
                .unwrap_or_else(|error| {
                    panic!("session {index}: the agent was not paired: {error}")
                });
            for round in 0..ROUNDS {
                let message = format!("session {index} round {round};");
                agent
                    .write_all(message.as_bytes())
                    .await
                    .expect("write through the relay");
                let expected = format!("{tag}{message}");
                let mut received = vec![0u8; expected.len()];
                tokio::time::timeout(WITHIN, agent.read_exact(&mut received))
                    .await
                    .unwrap_or_else(|_| panic!("session {index}: no answer within {WITHIN:?}"))
                    .expect("read through the relay");
                assert_eq!(String::from_utf8_lossy(&received), expected);
            }
        }));
    }
    for task in tasks {
        task.await.expect("a session's task");
    }
    // Every session ended cleanly on the relay's side: nothing failed there.
    let log = relay.output();
    assert!(!log.contains("panicked"), "{log}");
}
