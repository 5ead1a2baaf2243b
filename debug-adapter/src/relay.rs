//! Attaching through a fogbank-relay: the adapter is the developer's end of
//! a cloud-debugging session, in process, with the fogbank-relay client.
//!
//! - **In place**: the adapter attaches to the session, takes the first
//!   sandbox whose agent arrives, and the end-to-end-encrypted stream it
//!   joins becomes the target's gdb-remote connection, exactly as a
//!   `gdbserver` attach's TCP stream does.
//! - **Live**: the adapter attaches to the session, the session prepares
//!   the local emulator's function in debug mode (as an emulator attach
//!   does), and [`serve_live`] answers every forwarded cloud invocation
//!   through the emulator's Invoke API, so each one runs under the
//!   debugger here. What happens (sandboxes, invocations, the cloud
//!   deadline) becomes `output` events.
//!
//! This module knows the relay's client API and the session's inputs; DAP
//! attributes stay in [`crate::config`]. Errors name the attribute the user
//! can fix.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fogbank_relay::client::asynch::{Attachment, attach, join};
use fogbank_relay::client::{ClientError, RelaySettings};
use fogbank_relay::developer::{InvokeApi, LiveEvent, serve_live_attached};
use fogbank_relay::noise::{ChannelMode, DeveloperHello};
use fogbank_relay::secret::{SessionCredentials, SessionSecret};
use fogbank_relay::wire::RefusalReason;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{RelayConfig, SecretSource};
use crate::session::{Category, Input, Prepared, Transport};

/// Reads the secret and the CA file and builds the client's settings.
/// `environment` looks up the adapter's environment (injected for tests).
pub fn settings(
    config: &RelayConfig,
    environment: impl Fn(&str) -> Option<String>,
) -> Result<RelaySettings, String> {
    let secret = match &config.secret {
        SecretSource::Given(secret) => secret.clone(),
        SecretSource::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|error| {
                format!("\"secretFile\": cannot read {}: {error}", path.display())
            })?;
            SessionSecret::parse(&text)
                .map_err(|error| format!("\"secretFile\": {}: {error}", path.display()))?
        }
        SecretSource::Environment => {
            let name = fogbank_relay::env::SECRET;
            let text = environment(name).filter(|text| !text.trim().is_empty()).ok_or_else(|| {
                format!(
                    "\"secret\" is missing: give \"secret\" (e.g. \"${{env:{name}}}\") or \"secretFile\", or set {name} for the adapter"
                )
            })?;
            SessionSecret::parse(&text).map_err(|error| format!("{name}: {error}"))?
        }
    };
    let ca = match &config.ca {
        Some(path) => Some(
            std::fs::read(path)
                .map_err(|error| format!("\"relayCa\": cannot read {}: {error}", path.display()))?,
        ),
        None => None,
    };
    let origin = config
        .ca
        .as_deref()
        .map(Path::display)
        .map(|shown| shown.to_string())
        .unwrap_or_default();
    RelaySettings::new(
        config.address.clone(),
        SessionCredentials {
            ticket: config.ticket.clone(),
            secret,
        },
        ca.as_deref().map(|pem| (pem, origin.as_str())),
    )
    .map_err(|error| format!("\"relayCa\": {error}"))
}

/// Says what went wrong reaching the relay, naming the attribute to fix.
pub fn describe(error: &ClientError, relay: &str) -> String {
    match error {
        ClientError::Refused {
            reason: RefusalReason::BadToken,
            message,
        } => format!(
            "\"secret\": the relay {relay} refused the session: {message}; use the secret `fogbank debug-session new` printed with this session"
        ),
        ClientError::Refused {
            reason: RefusalReason::Expired,
            message,
        } => format!("\"session\": the relay {relay} refused the session: {message}"),
        ClientError::Refused {
            reason: RefusalReason::SessionBusy,
            message,
        } => format!(
            "\"session\": another debugger is attached to this session ({message}); detach it first"
        ),
        ClientError::Connect { .. } => format!("\"relay\": {error}"),
        ClientError::Tls { .. } => format!(
            "\"relay\": {error}; for a relay with a private or self-signed certificate, give its PEM in \"relayCa\""
        ),
        other => format!("the relay {relay}: {other}"),
    }
}

fn console(inputs: &mpsc::UnboundedSender<Input>, category: Category, text: String) {
    let _ = inputs.send(Input::Output(category, text));
}

/// Attaches to the session as its developer (checking the secret with the
/// relay), before anything local is prepared.
pub async fn attach_session(config: &RelayConfig) -> Result<(RelaySettings, Attachment), String> {
    let settings = settings(config, |name| std::env::var(name).ok())?;
    let relay = config.address.to_string();
    let attachment = attach(&settings)
        .await
        .map_err(|error| describe(&error, &relay))?;
    Ok((settings, attachment))
}

/// In place: attaches, waits for the function's sandbox, and returns its
/// decrypted RSP stream as the target's connection. Later sandboxes (one
/// per concurrent cloud invocation) become further targets of the same
/// session, so their threads appear beside the first's; the attachment
/// lives as long as the session, so no second debugger can take the
/// session over.
pub async fn prepare_in_place(
    config: RelayConfig,
    program: PathBuf,
    inputs: &mpsc::UnboundedSender<Input>,
) -> Result<Prepared, String> {
    let (settings, mut attachment) = attach_session(&config).await?;
    let relay = config.address.to_string();
    console(
        inputs,
        Category::Console,
        format!(
            "Attached to session {} on {relay}; waiting for the function's sandbox (invoke the cloud function: its agent waits for a debugger before running it).\n",
            config.ticket.session
        ),
    );
    loop {
        let channel = match attachment.next().await {
            Some(Ok(channel)) => channel,
            Some(Err(error)) => return Err(describe(&error, &relay)),
            None => return Err(describe(&ClientError::Closed, &relay)),
        };
        let name = channel.short();
        match join(&settings, channel, in_place_verdict).await {
            Ok((hello, stream)) => {
                keep_attached(attachment, settings, program.clone(), inputs.clone());
                return Ok(Prepared::Server {
                    stream: Box::new(stream) as Transport,
                    label: stream_label(&hello.software, &name),
                    program,
                    child: None,
                    cloud_channel: Some(name),
                });
            }
            Err(error) => console(
                inputs,
                Category::Important,
                format!("cloud sandbox {name} could not be joined: {error}\n"),
            ),
        }
    }
}

fn in_place_verdict(hello: &fogbank_relay::noise::AgentHello) -> DeveloperHello {
    match hello.mode {
        ChannelMode::InPlace => DeveloperHello::Accept,
        ChannelMode::Live => DeveloperHello::Decline(
            "this debugger serves in-place mode; the agent is a live-mode forwarding stub (set \"mode\": \"live\")"
                .into(),
        ),
    }
}

fn stream_label(software: &str, channel: &str) -> String {
    format!("the cloud sandbox {channel} ({software})")
}

/// Holds the attachment for the rest of the session and joins the
/// sandboxes that arrive after the first, each as a further target.
fn keep_attached(
    mut attachment: Attachment,
    settings: RelaySettings,
    program: PathBuf,
    inputs: mpsc::UnboundedSender<Input>,
) {
    let relay = settings.address.to_string();
    let settings = Arc::new(settings);
    tokio::spawn(async move {
        loop {
            match attachment.next().await {
                Some(Ok(channel)) => {
                    // Joined on a task of its own, so that a slow handshake
                    // never holds up the next sandbox.
                    let settings = settings.clone();
                    let program = program.clone();
                    let inputs = inputs.clone();
                    tokio::spawn(async move {
                        let name = channel.short();
                        match join(&settings, channel, in_place_verdict).await {
                            Ok((hello, stream)) => {
                                let _ = inputs.send(Input::Target {
                                    stream: Box::new(stream) as Transport,
                                    label: stream_label(&hello.software, &name),
                                    program,
                                    channel: name,
                                });
                            }
                            Err(error) => console(
                                &inputs,
                                Category::Important,
                                format!("cloud sandbox {name} could not be joined: {error}\n"),
                            ),
                        }
                    });
                }
                Some(Err(error)) => {
                    return console(
                        &inputs,
                        Category::Important,
                        format!("The relay session ended: {}\n", describe(&error, &relay)),
                    );
                }
                None => return,
            }
        }
    });
}

/// Live: serves the attached session's forwarding stubs with the local
/// emulator's Invoke API on `lambda_port` for `function`, for the rest of
/// the session. The sandbox's environment is laid over the function's
/// through the control interface on `control_port`; the session restores
/// it when it ends.
pub fn serve_live(
    (settings, attachment): (RelaySettings, Attachment),
    lambda_port: u16,
    control_port: u16,
    function: &str,
    inputs: mpsc::UnboundedSender<Input>,
) {
    console(
        &inputs,
        Category::Console,
        format!(
            "Live mode: attached to session {} on {}; the cloud function's invocations run {function} here, under the debugger.\n",
            settings.credentials.ticket.session, settings.address
        ),
    );
    let invoker = Arc::new(
        InvokeApi::new(&format!("http://127.0.0.1:{lambda_port}"), function)
            .with_control(&format!("http://127.0.0.1:{control_port}"), function),
    );
    let relay = settings.address.to_string();
    let function = function.to_owned();
    let events = {
        let inputs = inputs.clone();
        move |event: LiveEvent| {
            if let Some((category, text)) = live_output(&event, &function) {
                console(&inputs, category, text);
            }
        }
    };
    tokio::spawn(async move {
        // Cancelled by nobody: the task ends with the session's runtime.
        let shutdown = CancellationToken::new();
        if let Err(error) =
            serve_live_attached(attachment, settings, invoker, events, shutdown).await
        {
            console(
                &inputs,
                Category::Important,
                format!("Live mode ended: {}\n", describe(&error, &relay)),
            );
        }
    });
}

/// The `output` event (category and text) for a live-mode event; `None`
/// for events the debug console does not need.
pub fn live_output(event: &LiveEvent, function: &str) -> Option<(Category, String)> {
    let seconds = |duration: &std::time::Duration| format!("{:.1} s", duration.as_secs_f64());
    Some(match event {
        LiveEvent::Attached => return None,
        LiveEvent::SandboxConnected { channel, software } => (
            Category::Console,
            format!(
                "Cloud sandbox {channel} connected ({software}); its invocations run {function} here.\n"
            ),
        ),
        LiveEvent::Invoked {
            channel,
            request_id,
            remaining,
        } => (
            Category::Console,
            match remaining {
                Some(left) => format!(
                    "[{channel}] cloud invocation {request_id}: {} left before the cloud's deadline.\n",
                    seconds(left)
                ),
                None => format!("[{channel}] cloud invocation {request_id}.\n"),
            },
        ),
        LiveEvent::Answered {
            channel,
            request_id,
            error,
            took,
        } => (
            Category::Console,
            format!(
                "[{channel}] {request_id} answered{} after {} ms.\n",
                if *error { " with an error" } else { "" },
                took.as_millis()
            ),
        ),
        LiveEvent::DeadlineNear {
            channel,
            request_id,
            remaining,
        } => (
            Category::Important,
            format!(
                "[{channel}] cloud invocation {request_id} has {} left before its deadline; the cloud's clock does not pause, so continue soon or its caller gets a timeout.\n",
                seconds(remaining)
            ),
        ),
        LiveEvent::DeadlinePassed {
            channel,
            request_id,
        } => (
            Category::Important,
            format!(
                "[{channel}] cloud invocation {request_id} passed its deadline: the cloud answered its caller with a timeout, and this run's answer will be refused.\n"
            ),
        ),
        LiveEvent::SandboxLeft { channel, error } => (
            Category::Console,
            match error {
                Some(error) => format!("[{channel}] the sandbox's channel ended: {error}\n"),
                None => format!("[{channel}] the sandbox left.\n"),
            },
        ),
    })
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};
    use std::time::Duration;

    fn check(event: LiveEvent, expected: Expect) {
        let rendered = match live_output(&event, "HelloFunction") {
            Some((category, text)) => format!("{category:?}: {text}"),
            None => "none".to_owned(),
        };
        expected.assert_eq(&rendered);
    }

    #[test]
    fn live_events_become_output() {
        check(LiveEvent::Attached, expect!["none"]);
        check(
            LiveEvent::Invoked {
                channel: "ab12".into(),
                request_id: "r-1".into(),
                remaining: Some(Duration::from_millis(2500)),
            },
            expect![[r#"
                Console: [ab12] cloud invocation r-1: 2.5 s left before the cloud's deadline.
            "#]],
        );
        check(
            LiveEvent::DeadlineNear {
                channel: "ab12".into(),
                request_id: "r-1".into(),
                remaining: Duration::from_secs(5),
            },
            expect![[r#"
                Important: [ab12] cloud invocation r-1 has 5.0 s left before its deadline; the cloud's clock does not pause, so continue soon or its caller gets a timeout.
            "#]],
        );
        check(
            LiveEvent::DeadlinePassed {
                channel: "ab12".into(),
                request_id: "r-1".into(),
            },
            expect![[r#"
                Important: [ab12] cloud invocation r-1 passed its deadline: the cloud answered its caller with a timeout, and this run's answer will be refused.
            "#]],
        );
    }

    /// The whole path from a held invocation to the session's input queue,
    /// on tokio's paused clock: the warnings reach the session as
    /// `important` output while the local run is still held.
    #[tokio::test(start_paused = true)]
    async fn a_held_invocation_warns_the_session_before_and_at_its_deadline() {
        let (inputs, mut received) = mpsc::unbounded_channel();
        let start = tokio::time::Instant::now();
        let sender = inputs.clone();
        let held = fogbank_relay::developer::watch_deadline(
            tokio::time::sleep(Duration::from_secs(40)),
            Some(Duration::from_secs(30)),
            move |warning| {
                let event = match warning {
                    fogbank_relay::developer::DeadlineWarning::Near(remaining) => {
                        LiveEvent::DeadlineNear {
                            channel: "c".into(),
                            request_id: "r".into(),
                            remaining,
                        }
                    }
                    fogbank_relay::developer::DeadlineWarning::Passed => {
                        LiveEvent::DeadlinePassed {
                            channel: "c".into(),
                            request_id: "r".into(),
                        }
                    }
                };
                if let Some((category, text)) = live_output(&event, "F") {
                    let at = start.elapsed().as_secs();
                    console(&sender, category, format!("{at}: {text}"));
                }
            },
        );
        held.await;
        let mut seen = Vec::new();
        while let Ok(Input::Output(category, text)) = received.try_recv() {
            seen.push(format!("{category:?} {text}"));
        }
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(
            seen[0].starts_with("Important 25: [c] cloud invocation r has 5.0 s left"),
            "{seen:?}"
        );
        assert!(
            seen[1].starts_with("Important 30: [c] cloud invocation r passed its deadline"),
            "{seen:?}"
        );
    }

    fn config(secret: SecretSource, ca: Option<PathBuf>) -> RelayConfig {
        let key = fogbank_relay::secret::RelayKey::generate();
        let credentials = fogbank_relay::secret::new_session(&key, u64::MAX / 2);
        RelayConfig {
            address: fogbank_relay::tls::RelayAddress::parse("https://127.0.0.1:7443")
                .expect("address"),
            ticket: credentials.ticket,
            secret,
            ca,
        }
    }

    #[test]
    fn settings_errors_name_the_attribute() {
        let check = |config: RelayConfig, environment: Option<&str>, expected: Expect| {
            let rendered = match settings(&config, |_| environment.map(str::to_owned)) {
                Ok(_) => "ok".to_owned(),
                Err(error) => error,
            };
            expected.assert_eq(&rendered);
        };
        let secret = SessionSecret::generate();
        check(
            config(SecretSource::Given(secret.clone()), None),
            None,
            expect!["ok"],
        );
        check(
            config(SecretSource::Environment, None),
            Some(&secret.to_text()),
            expect!["ok"],
        );
        check(
            config(SecretSource::Environment, None),
            None,
            expect![[
                r#""secret" is missing: give "secret" (e.g. "${env:FOGBANK_SESSION_SECRET}") or "secretFile", or set FOGBANK_SESSION_SECRET for the adapter"#
            ]],
        );
        check(
            config(SecretSource::Environment, None),
            Some("nope"),
            expect![
                "FOGBANK_SESSION_SECRET: the session secret should start with `fbsec1_` (as `fogbank debug-session new` prints it)"
            ],
        );
        check(
            config(
                SecretSource::File(PathBuf::from("/nonexistent/secret")),
                None,
            ),
            None,
            expect![[
                r#""secretFile": cannot read /nonexistent/secret: No such file or directory (os error 2)"#
            ]],
        );
        let dir = std::env::temp_dir().join(format!("fogbank-dap-relay-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let not_pem = dir.join("ca.pem");
        std::fs::write(&not_pem, "hello").expect("write");
        let rendered = settings(
            &config(SecretSource::Given(secret), Some(not_pem.clone())),
            |_| None,
        )
        .err()
        .unwrap_or_default();
        assert!(rendered.starts_with("\"relayCa\": "), "{rendered}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn refusals_name_the_attribute() {
        let refused = |reason| ClientError::Refused {
            reason,
            message: "the relay's words".into(),
        };
        let check = |error: ClientError, expected: Expect| {
            expected.assert_eq(&describe(&error, "https://relay:1"));
        };
        check(
            refused(RefusalReason::BadToken),
            expect![
                "\"secret\": the relay https://relay:1 refused the session: the relay's words; use the secret `fogbank debug-session new` printed with this session"
            ],
        );
        check(
            refused(RefusalReason::Expired),
            expect![[
                r#""session": the relay https://relay:1 refused the session: the relay's words"#
            ]],
        );
        check(
            refused(RefusalReason::SessionBusy),
            expect![[
                r#""session": another debugger is attached to this session (the relay's words); detach it first"#
            ]],
        );
        check(
            ClientError::Tls {
                address: "https://relay:1".into(),
                cause: "invalid peer certificate: UnknownIssuer".into(),
            },
            expect![[
                r#""relay": TLS with the relay at https://relay:1 failed: invalid peer certificate: UnknownIssuer; for a relay with a private or self-signed certificate, give its PEM in "relayCa""#
            ]],
        );
    }
}
