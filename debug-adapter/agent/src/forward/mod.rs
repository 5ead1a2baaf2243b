//! Live mode's forwarding stub (`fogbank-agent --forward`): deployed as a
//! cloud function's bootstrap, it is the runtime client of the sandbox's
//! real Lambda Runtime API and forwards every invocation through the relay
//! to the developer's machine, where fogbank runs the function locally.
//!
//! Per invocation: `next` from the Runtime API; a channel to the developer
//! (opened on first use and kept while it works); the environment (once per
//! channel) and the invocation (event and every Runtime API header) sent
//! end-to-end encrypted; the developer's response or error posted back.
//!
//! Invariant: a cloud invocation is always answered before its deadline.
//! When no developer is attached, the relay refuses the channel at once and
//! the stub posts a `Fogbank.NoDeveloper` error straight away; when the
//! developer does not answer in time, a `Fogbank.DeveloperTimeout` error is
//! posted shortly before the deadline instead of letting Lambda time out.

use crate::http;

use std::io::{Read, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fogbank_relay::client::blocking::{SecureStream, dial_agent};
use fogbank_relay::client::{ClientError, RelaySettings};
use fogbank_relay::live::{LiveDecoder, LiveMessage, forwards_env};
use fogbank_relay::noise::{AgentHello, ChannelMode};
use fogbank_relay::secret::{SessionCredentials, SessionSecret, SessionTicket};
use fogbank_relay::tls::RelayAddress;
use fogbank_relay::wire::RefusalReason;

/// The Runtime API's path prefix.
const RUNTIME_PREFIX: &str = "/2018-06-01/runtime";

/// How long a developer that is attached may take to pick up a new channel.
const PAIRING_TIMEOUT: Duration = Duration::from_secs(10);

/// How long before the cloud deadline the stub gives up on the developer and
/// answers with an error itself.
const DEADLINE_MARGIN: Duration = Duration::from_millis(300);

/// Everything the stub needs, read from its environment.
#[derive(Debug)]
pub struct ForwardConfig {
    /// `AWS_LAMBDA_RUNTIME_API`: the sandbox's Runtime API, `host:port`.
    pub runtime_api: String,
    /// The relay and the session.
    pub relay: RelaySettings,
    /// A TLS name for a relay given by IP address (`FOGBANK_RELAY_NAME`).
    pub server_name: Option<String>,
    /// The function's environment, minus the deny-list.
    pub environment: Vec<(String, String)>,
}

/// A relay and session to dial, as the agent's environment gives them
/// (`FOGBANK_RELAY`, `FOGBANK_SESSION`, `FOGBANK_SESSION_SECRET`,
/// optionally `FOGBANK_RELAY_CA` and `FOGBANK_RELAY_NAME`).
#[derive(Debug, Clone)]
pub struct RelayTarget {
    /// The relay and the session.
    pub settings: RelaySettings,
    /// A TLS name for a relay given by IP address.
    pub server_name: Option<String>,
}

impl RelayTarget {
    /// Reads the relay variables from `vars`.
    pub fn from_vars(vars: &[(String, String)]) -> Result<RelayTarget, ForwardError> {
        use fogbank_relay::env;
        let lookup = |name: &str| {
            vars.iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        };
        let hint = "`fogbank debug-session new` prints the variables to set on the function";
        let relay_text = variable(&lookup, env::RELAY, hint)?;
        let address =
            RelayAddress::parse(&relay_text).map_err(|error| ForwardError::BadVariable {
                name: env::RELAY,
                cause: error.to_string(),
            })?;
        let ticket =
            SessionTicket::parse(&variable(&lookup, env::SESSION, hint)?).map_err(|error| {
                ForwardError::BadVariable {
                    name: env::SESSION,
                    cause: error.to_string(),
                }
            })?;
        let secret =
            SessionSecret::parse(&variable(&lookup, env::SECRET, hint)?).map_err(|error| {
                ForwardError::BadVariable {
                    name: env::SECRET,
                    cause: error.to_string(),
                }
            })?;
        let ca = match lookup(env::RELAY_CA).filter(|value| !value.is_empty()) {
            None => None,
            Some(value) if value.contains("-----BEGIN") => {
                Some((value.into_bytes(), env::RELAY_CA.to_owned()))
            }
            Some(path) => {
                let bytes = std::fs::read(&path).map_err(|error| ForwardError::BadVariable {
                    name: env::RELAY_CA,
                    cause: format!("cannot read {path}: {error}"),
                })?;
                Some((bytes, path))
            }
        };
        let settings = RelaySettings::new(
            address,
            SessionCredentials { ticket, secret },
            ca.as_ref()
                .map(|(pem, origin)| (pem.as_slice(), origin.as_str())),
        )
        .map_err(|error| ForwardError::BadVariable {
            name: env::RELAY_CA,
            cause: error.to_string(),
        })?;
        Ok(RelayTarget {
            settings,
            server_name: lookup(env::RELAY_NAME).filter(|name| !name.is_empty()),
        })
    }
}

/// Why the stub cannot start or carry on.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// A required variable is missing.
    #[error("{name} is not set; {hint}")]
    MissingVariable {
        /// The variable.
        name: &'static str,
        /// How to fix it.
        hint: &'static str,
    },
    /// A variable's value is unusable.
    #[error("{name} is not usable: {cause}")]
    BadVariable {
        /// The variable.
        name: &'static str,
        /// Why.
        cause: String,
    },
    /// The Runtime API failed.
    #[error(transparent)]
    RuntimeApi(#[from] http::HttpError),
    /// The Runtime API answered with an unexpected status.
    #[error("the Runtime API answered {status} to {what}: {body}")]
    RuntimeApiStatus {
        /// What was asked.
        what: &'static str,
        /// The status.
        status: u16,
        /// The body, for the log.
        body: String,
    },
}

fn variable(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    hint: &'static str,
) -> Result<String, ForwardError> {
    lookup(name)
        .filter(|value| !value.is_empty())
        .ok_or(ForwardError::MissingVariable { name, hint })
}

impl ForwardConfig {
    /// Reads the configuration from `vars` (the process environment in the
    /// binary; a list in tests).
    pub fn from_vars(vars: &[(String, String)]) -> Result<ForwardConfig, ForwardError> {
        let runtime_api = vars
            .iter()
            .find(|(key, _)| key == "AWS_LAMBDA_RUNTIME_API")
            .map(|(_, value)| value.clone())
            .filter(|value| !value.is_empty())
            .ok_or(ForwardError::MissingVariable {
                name: "AWS_LAMBDA_RUNTIME_API",
                hint: "the stub must run as the function's bootstrap inside a Lambda sandbox",
            })?;
        let target = RelayTarget::from_vars(vars)?;
        let environment = vars
            .iter()
            .filter(|(key, _)| forwards_env(key))
            .cloned()
            .collect();
        Ok(ForwardConfig {
            runtime_api,
            relay: target.settings,
            server_name: target.server_name,
            environment,
        })
    }
}

/// One invocation taken from the Runtime API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudInvocation {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// Every header of the `next` response.
    pub headers: Vec<(String, String)>,
    /// The event.
    pub body: Vec<u8>,
    /// `Lambda-Runtime-Deadline-Ms`, if given.
    pub deadline_ms: Option<u64>,
}

/// What the stub posts back for an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The function's response payload.
    Response(Vec<u8>),
    /// An error: its type and the error document.
    Error {
        /// `Lambda-Runtime-Function-Error-Type`.
        error_type: String,
        /// `{"errorType","errorMessage"}`.
        body: Vec<u8>,
    },
}

impl Answer {
    /// An error raised by the stub itself.
    pub fn stub_error(error_type: &str, message: &str) -> Answer {
        let body = format!(
            "{{\"errorType\":{},\"errorMessage\":{}}}",
            json_string(error_type),
            json_string(message)
        );
        Answer::Error {
            error_type: error_type.to_owned(),
            body: body.into_bytes(),
        }
    }
}

/// A JSON string literal (the stub has no JSON library).
pub(crate) fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The Runtime API, as the stub uses it.
#[derive(Debug, Clone)]
pub struct RuntimeApi {
    address: String,
}

impl RuntimeApi {
    /// The Runtime API at `host:port`.
    pub fn new(address: &str) -> RuntimeApi {
        RuntimeApi {
            address: address.to_owned(),
        }
    }

    /// Waits for the next invocation.
    pub fn next(&self) -> Result<CloudInvocation, ForwardError> {
        let response = http::request(
            &self.address,
            "GET",
            &format!("{RUNTIME_PREFIX}/invocation/next"),
            &[],
            &[],
            None,
        )?;
        if response.status != 200 {
            return Err(ForwardError::RuntimeApiStatus {
                what: "invocation/next",
                status: response.status,
                body: String::from_utf8_lossy(&response.body).into_owned(),
            });
        }
        let request_id = response
            .header("lambda-runtime-aws-request-id")
            .ok_or(http::HttpError::Malformed(
                "invocation/next has no Lambda-Runtime-Aws-Request-Id",
            ))?
            .to_owned();
        let deadline_ms = response
            .header("lambda-runtime-deadline-ms")
            .and_then(|value| value.parse().ok());
        Ok(CloudInvocation {
            request_id,
            headers: response.headers,
            body: response.body,
            deadline_ms,
        })
    }

    /// Posts the answer to an invocation.
    pub fn answer(&self, request_id: &str, answer: &Answer) -> Result<(), ForwardError> {
        let timeout = Some(Duration::from_secs(10));
        let response = match answer {
            Answer::Response(body) => http::request(
                &self.address,
                "POST",
                &format!("{RUNTIME_PREFIX}/invocation/{request_id}/response"),
                &[],
                body,
                timeout,
            )?,
            Answer::Error { error_type, body } => http::request(
                &self.address,
                "POST",
                &format!("{RUNTIME_PREFIX}/invocation/{request_id}/error"),
                &[
                    ("Lambda-Runtime-Function-Error-Type", error_type),
                    ("Content-Type", "application/json"),
                ],
                body,
                timeout,
            )?,
        };
        if !(200..300).contains(&response.status) {
            return Err(ForwardError::RuntimeApiStatus {
                what: "the invocation's answer",
                status: response.status,
                body: String::from_utf8_lossy(&response.body).into_owned(),
            });
        }
        Ok(())
    }

    /// Reports a failure to start (the stub's configuration is unusable).
    pub fn init_error(&self, message: &str) -> Result<(), ForwardError> {
        let Answer::Error { error_type, body } =
            Answer::stub_error("Fogbank.ForwarderConfig", message)
        else {
            return Ok(());
        };
        http::request(
            &self.address,
            "POST",
            &format!("{RUNTIME_PREFIX}/init/error"),
            &[("Lambda-Runtime-Function-Error-Type", &error_type)],
            &body,
            Some(Duration::from_secs(10)),
        )?;
        Ok(())
    }
}

/// An open channel to the developer.
struct Channel {
    stream: SecureStream,
    decoder: LiveDecoder,
}

/// The forwarding loop's state: the configuration and the open channel.
pub struct Forwarder {
    config: ForwardConfig,
    channel: Option<Channel>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("runtime_api", &self.config.runtime_api)
            .field("connected", &self.channel.is_some())
            .finish()
    }
}

/// Milliseconds since the epoch on this machine's clock, the clock the
/// Runtime API's deadlines use.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Forwarder {
    /// A forwarder with no channel yet.
    pub fn new(config: ForwardConfig) -> Forwarder {
        Forwarder {
            config,
            channel: None,
        }
    }

    /// Serves invocations until the Runtime API fails (in Lambda, the
    /// sandbox is frozen or shut down around this loop).
    pub fn run(&mut self) -> Result<(), ForwardError> {
        let api = RuntimeApi::new(&self.config.runtime_api);
        loop {
            let invocation = api.next()?;
            let answer = self.forward(&invocation);
            if let Answer::Error { error_type, .. } = &answer {
                eprintln!(
                    "fogbank-agent: invocation {} answered with {error_type}",
                    invocation.request_id
                );
            }
            api.answer(&invocation.request_id, &answer)?;
        }
    }

    /// Forwards one invocation and returns what to post back. Never fails:
    /// every problem becomes an error answer naming it.
    pub fn forward(&mut self, invocation: &CloudInvocation) -> Answer {
        // A kept channel may have died since the last invocation (the
        // developer restarted); one fresh attempt follows a failure on it.
        let reused = self.channel.is_some();
        match self.try_forward(invocation) {
            Ok(answer) => answer,
            Err(_) if reused => {
                self.channel = None;
                self.try_forward(invocation)
                    .unwrap_or_else(|error| self.failure(&error))
            }
            Err(error) => self.failure(&error),
        }
    }

    fn failure(&mut self, error: &ForwardFailure) -> Answer {
        self.channel = None;
        let session = self.config.relay.credentials.ticket.session;
        match error {
            ForwardFailure::Relay(
                error @ ClientError::Refused {
                    reason:
                        RefusalReason::NoDeveloper | RefusalReason::BadToken | RefusalReason::Expired,
                    ..
                },
            ) => Answer::stub_error(
                "Fogbank.NoDeveloper",
                &format!(
                    "no developer is connected to fogbank debug session {session}: {error}. Run `fogbank live` (or attach the debugger) with this session, or remove the forwarding stub from the function"
                ),
            ),
            ForwardFailure::Timeout => Answer::stub_error(
                "Fogbank.DeveloperTimeout",
                &format!(
                    "the developer's machine did not answer before the invocation's deadline (session {session})"
                ),
            ),
            other => Answer::stub_error(
                "Fogbank.RelayError",
                &format!(
                    "forwarding the invocation to the developer failed (session {session}): {other}"
                ),
            ),
        }
    }

    fn try_forward(&mut self, invocation: &CloudInvocation) -> Result<Answer, ForwardFailure> {
        if self.channel.is_none() {
            self.channel = Some(self.open_channel()?);
        }
        let Some(channel) = self.channel.as_mut() else {
            return Err(ForwardFailure::Protocol("no channel".into()));
        };
        let message = LiveMessage::Invoke {
            request_id: invocation.request_id.clone(),
            headers: invocation.headers.clone(),
            body: invocation.body.clone(),
        };
        channel
            .stream
            .write_all(&message.encode())
            .map_err(ForwardFailure::Io)?;
        channel.stream.flush().map_err(ForwardFailure::Io)?;
        let budget = invocation.deadline_ms.map(|deadline| {
            Duration::from_millis(deadline.saturating_sub(now_ms())).saturating_sub(DEADLINE_MARGIN)
        });
        let reply = read_message(channel, budget)?;
        match reply {
            LiveMessage::Response { request_id, body } if request_id == invocation.request_id => {
                Ok(Answer::Response(body))
            }
            LiveMessage::Error {
                request_id,
                error_type,
                body,
            } if request_id == invocation.request_id => Ok(Answer::Error { error_type, body }),
            other => Err(ForwardFailure::Protocol(format!(
                "the developer answered out of turn: {:?}",
                std::mem::discriminant(&other)
            ))),
        }
    }

    fn open_channel(&self) -> Result<Channel, ForwardFailure> {
        let waiting = dial_agent(
            &self.config.relay,
            false,
            self.config.server_name.as_deref(),
        )
        .map_err(ForwardFailure::Relay)?;
        let hello = AgentHello {
            mode: ChannelMode::Live,
            software: format!("fogbank-agent {} (forward)", env!("CARGO_PKG_VERSION")),
        };
        let mut stream = waiting
            .pair(&hello, PAIRING_TIMEOUT)
            .map_err(ForwardFailure::Relay)?;
        let environment = LiveMessage::Environment {
            vars: self.config.environment.clone(),
        };
        stream
            .write_all(&environment.encode())
            .map_err(ForwardFailure::Io)?;
        Ok(Channel {
            stream,
            decoder: LiveDecoder::new(),
        })
    }
}

/// Reads one live message, waiting at most `budget`.
fn read_message(
    channel: &mut Channel,
    budget: Option<Duration>,
) -> Result<LiveMessage, ForwardFailure> {
    if budget.is_some_and(|budget| budget.is_zero()) {
        return Err(ForwardFailure::Timeout);
    }
    let give_up = budget.map(|budget| std::time::Instant::now() + budget);
    let mut buffer = [0u8; 16 * 1024];
    loop {
        if let Some(message) = channel.decoder.next_message() {
            return message.map_err(|error| ForwardFailure::Protocol(error.to_string()));
        }
        let remaining = match give_up {
            Some(give_up) => {
                let left = give_up.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    return Err(ForwardFailure::Timeout);
                }
                Some(left)
            }
            None => None,
        };
        channel
            .stream
            .set_read_timeout(remaining)
            .map_err(ForwardFailure::Io)?;
        match channel.stream.read(&mut buffer) {
            Ok(0) => return Err(ForwardFailure::Io(std::io::ErrorKind::UnexpectedEof.into())),
            Ok(count) => channel.decoder.push(&buffer[..count]),
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(ForwardFailure::Timeout);
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(ForwardFailure::Io(error)),
        }
    }
}

/// Why forwarding one invocation failed.
#[derive(Debug, thiserror::Error)]
enum ForwardFailure {
    #[error("{0}")]
    Relay(ClientError),
    #[error("the channel to the developer failed: {0}")]
    Io(std::io::Error),
    #[error("the developer broke the live protocol: {0}")]
    Protocol(String),
    #[error("the developer did not answer in time")]
    Timeout,
}

/// `fogbank-agent --forward`: reads the environment, serves forever.
pub fn run_from_environment() -> Result<(), ForwardError> {
    let vars: Vec<(String, String)> = std::env::vars().collect();
    let config = match ForwardConfig::from_vars(&vars) {
        Ok(config) => config,
        Err(error) => {
            // Tell Lambda why the function cannot start, when its Runtime
            // API is known; the error is returned (and printed) either way.
            if let Some((_, api)) = vars.iter().find(|(key, _)| key == "AWS_LAMBDA_RUNTIME_API") {
                let _ = RuntimeApi::new(api).init_error(&error.to_string());
            }
            return Err(error);
        }
    };
    eprintln!(
        "fogbank-agent: forwarding invocations to session {} through {}",
        config.relay.credentials.ticket.session, config.relay.address
    );
    Forwarder::new(config).run()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use fogbank_relay::secret::{RelayKey, new_session};

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn check_config(pairs: &[(&str, &str)], expected: &str) {
        let rendered = match ForwardConfig::from_vars(&vars(pairs)) {
            Ok(config) => format!("ok {} {:?}", config.runtime_api, config.environment),
            Err(error) => error.to_string(),
        };
        assert_eq!(rendered, expected);
    }

    #[test]
    fn configuration_from_the_environment() {
        let credentials = new_session(&RelayKey::generate(), 2_000_000_000);
        let ticket = credentials.ticket.to_text();
        let secret = credentials.secret.to_text();
        check_config(
            &[],
            "AWS_LAMBDA_RUNTIME_API is not set; the stub must run as the function's bootstrap inside a Lambda sandbox",
        );
        check_config(
            &[("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")],
            "FOGBANK_RELAY is not set; `fogbank debug-session new` prints the variables to set on the function",
        );
        check_config(
            &[
                ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
                ("FOGBANK_RELAY", "relay:1"),
            ],
            "FOGBANK_RELAY is not usable: the relay address \"relay:1\" does not start with https://; write it as https://HOST:PORT",
        );
        check_config(
            &[
                ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
                ("FOGBANK_RELAY", "https://127.0.0.1:7443"),
                ("FOGBANK_SESSION", &ticket),
                ("FOGBANK_SESSION_SECRET", "fbsec1_nope"),
            ],
            "FOGBANK_SESSION_SECRET is not usable: the session secret is damaged: it is not 32 bytes of base64url; copy it again from `fogbank debug-session new`'s output",
        );
        check_config(
            &[
                ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
                ("FOGBANK_RELAY", "https://127.0.0.1:7443"),
                ("FOGBANK_SESSION", &ticket),
                ("FOGBANK_SESSION_SECRET", &secret),
                ("FOGBANK_RELAY_CA", "/nonexistent.pem"),
            ],
            "FOGBANK_RELAY_CA is not usable: cannot read /nonexistent.pem: No such file or directory (os error 2)",
        );
        check_config(
            &[
                ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
                ("FOGBANK_RELAY", "https://127.0.0.1:7443"),
                ("FOGBANK_SESSION", &ticket),
                ("FOGBANK_SESSION_SECRET", &secret),
                ("TABLE", "orders"),
                ("AWS_SESSION_TOKEN", "t"),
                ("PATH", "/usr/bin"),
            ],
            "ok 127.0.0.1:9001 [(\"TABLE\", \"orders\"), (\"AWS_SESSION_TOKEN\", \"t\")]",
        );
    }

    #[test]
    fn stub_errors_are_json() {
        let Answer::Error { error_type, body } =
            Answer::stub_error("Fogbank.NoDeveloper", "no \"dev\"\n\u{1}")
        else {
            panic!("an error");
        };
        assert_eq!(error_type, "Fogbank.NoDeveloper");
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "{\"errorType\":\"Fogbank.NoDeveloper\",\"errorMessage\":\"no \\\"dev\\\"\\n\\u0001\"}"
        );
    }
}
