//! The `launch` and `attach` attributes fogbank-dap accepts, checked into
//! a [`SessionConfig`]. Every error names the attribute and says how to fix
//! it.
//!
//! Three kinds of session:
//! - **emulator** (`function`, with `template` for launch): debug every
//!   invocation of a function run by `fogbank start`;
//! - **program** (`program`, launch only): run a native program under
//!   fogbank-agent and debug it;
//! - **remote** (`gdbserver` + `program`): debug whatever a gdb server
//!   (fogbank-agent, Debian's gdbserver) serves, loading symbols from
//!   `program`;
//! - **relay** (attach with `relay`, `session`, `mode`): debug a function
//!   invoked in the cloud through a fogbank-relay. In place (`program` for
//!   symbols), the sandbox's agent is the target. Live (`function`), it is
//!   an emulator session whose function also runs the invocations the
//!   cloud forwards ([`EmulatorConfig::live`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fogbank_relay::secret::{SessionSecret, SessionTicket};
use fogbank_relay::tls::RelayAddress;
use serde::Deserialize;
use serde_json::Value;

/// The default port of the emulator's control interface.
pub const DEFAULT_CONTROL_PORT: u16 = 3002;

/// A checked launch or attach configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// What to debug.
    pub kind: SessionKind,
    /// Stop at the program's first instruction (reason `entry`).
    pub stop_on_entry: bool,
    /// Source-path rewrites: build prefix to local prefix.
    pub source_map: Vec<(String, String)>,
    /// The agent binary to use instead of the one found next to fogbank-dap.
    pub agent: Option<PathBuf>,
}

/// What a session debugs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionKind {
    /// A function of the emulator.
    Emulator(EmulatorConfig),
    /// A program fogbank-dap starts under fogbank-agent.
    Program(ProgramConfig),
    /// A program served by a gdb server at `address`.
    Remote {
        /// `host:port` of the gdb server.
        address: String,
        /// The host copy of the program, for symbols.
        program: PathBuf,
    },
    /// In-place mode: a function invoked in the cloud runs under the agent
    /// in its sandbox, reached through a fogbank-relay.
    Relay {
        /// The relay and the session.
        relay: RelayConfig,
        /// The host copy of the program, for symbols.
        program: PathBuf,
    },
}

/// A session on a fogbank-relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayConfig {
    /// The relay (`relay`).
    pub address: RelayAddress,
    /// The session ticket (`session`).
    pub ticket: SessionTicket,
    /// Where the session secret comes from.
    pub secret: SecretSource,
    /// A PEM file with the certificate (or CA) the relay is trusted by
    /// (`relayCa`); the public web roots when absent.
    pub ca: Option<PathBuf>,
}

/// Where the session secret comes from. Only the first is checked while
/// parsing; a file or the environment is read when the session starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The `secret` attribute (usually `${env:FOGBANK_SESSION_SECRET}`,
    /// which the editor substitutes).
    Given(SessionSecret),
    /// The `secretFile` attribute: a file holding the secret.
    File(PathBuf),
    /// Neither attribute: the adapter's `FOGBANK_SESSION_SECRET`.
    Environment,
}

/// An emulator session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatorConfig {
    /// `launch` starts `fogbank start` when nothing answers; `attach` only
    /// joins a running one.
    pub may_start: bool,
    /// The SAM template (absolute).
    pub template: Option<PathBuf>,
    /// The function's logical ID or FunctionName.
    pub function: String,
    /// An event to invoke the function with after configuration.
    pub event: Option<PathBuf>,
    /// `docker` or `process`, for a `fogbank start` the adapter starts.
    pub runtime: Option<String>,
    /// Extra environment for the debugged function.
    pub env: BTreeMap<String, String>,
    /// The control interface's port.
    pub control_port: u16,
    /// Live mode: the relay session whose cloud invocations the function
    /// also runs.
    pub live: Option<RelayConfig>,
}

/// A program session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramConfig {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
    /// Its working directory.
    pub cwd: Option<PathBuf>,
}

/// The attributes as sent; everything optional, checked afterwards.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Attributes {
    template: Option<String>,
    function: Option<String>,
    event: Option<String>,
    runtime: Option<String>,
    env: Option<BTreeMap<String, String>>,
    control_port: Option<u16>,
    program: Option<String>,
    args: Option<Vec<String>>,
    cwd: Option<String>,
    gdbserver: Option<String>,
    stop_on_entry: Option<bool>,
    source_map: Option<BTreeMap<String, String>>,
    agent: Option<String>,
    relay: Option<String>,
    session: Option<String>,
    secret: Option<String>,
    secret_file: Option<String>,
    relay_ca: Option<String>,
    mode: Option<String>,
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Checks the attributes of a `launch` (`is_launch`) or `attach` request.
/// Relative paths are resolved against `cwd` (the `cwd` attribute, or the
/// adapter's working directory).
pub fn parse(
    attributes: &Value,
    is_launch: bool,
    adapter_cwd: &Path,
) -> Result<SessionConfig, ConfigError> {
    let request = if is_launch { "launch" } else { "attach" };
    let attributes: Attributes = serde_json::from_value(attributes.clone()).map_err(|error| {
        ConfigError(format!(
            "the {request} configuration is not valid: {error}; see the README's \"Debugging in VS Code\" for the attributes"
        ))
    })?;
    let base = match &attributes.cwd {
        Some(cwd) => adapter_cwd.join(cwd),
        None => adapter_cwd.to_path_buf(),
    };
    let resolve = |path: &str| base.join(path);
    if attributes.relay.is_none() {
        for (name, given) in [
            ("session", attributes.session.is_some()),
            ("secret", attributes.secret.is_some()),
            ("secretFile", attributes.secret_file.is_some()),
            ("relayCa", attributes.relay_ca.is_some()),
            ("mode", attributes.mode.is_some()),
        ] {
            if given {
                return Err(ConfigError(format!(
                    "\"{name}\" belongs to a cloud session and needs \"relay\" (https://HOST:PORT of the fogbank-relay)"
                )));
            }
        }
    }
    if let Some(runtime) = &attributes.runtime
        && runtime != "docker"
        && runtime != "process"
    {
        return Err(ConfigError(format!(
            "\"runtime\" is {runtime:?}; use \"docker\" or \"process\", or leave it out"
        )));
    }
    let kind = if let Some(relay) = &attributes.relay {
        if is_launch {
            return Err(ConfigError(
                "\"relay\" is for attach configurations: set \"request\": \"attach\"".to_owned(),
            ));
        }
        relay_session(relay, &attributes, &resolve)?
    } else if let Some(address) = attributes.gdbserver {
        let Some(program) = attributes.program else {
            return Err(ConfigError(
                "\"gdbserver\" needs \"program\": the local copy of the debugged executable, for symbols".to_owned(),
            ));
        };
        if !address.contains(':') {
            return Err(ConfigError(format!(
                "\"gdbserver\" is {address:?}; give HOST:PORT, for example \"127.0.0.1:2345\""
            )));
        }
        SessionKind::Remote {
            address,
            program: resolve(&program),
        }
    } else if let Some(function) = attributes.function {
        if function.trim().is_empty() {
            return Err(ConfigError(
                "\"function\" is empty; give the function's logical ID from the template, e.g. \"HelloFunction\"".to_owned(),
            ));
        }
        let template = match attributes.template {
            Some(template) => Some(resolve(&template)),
            None if is_launch => Some(resolve("template.yaml")),
            None => None,
        };
        if let Some(template) = &template
            && is_launch
            && !template.is_file()
        {
            return Err(ConfigError(format!(
                "\"template\": {} does not exist; point it at the SAM template that defines {function}",
                template.display()
            )));
        }
        let event = attributes.event.map(|event| resolve(&event));
        if let Some(event) = &event
            && !event.is_file()
        {
            return Err(ConfigError(format!(
                "\"event\": {} does not exist; give a JSON event file or leave \"event\" out",
                event.display()
            )));
        }
        SessionKind::Emulator(EmulatorConfig {
            may_start: is_launch,
            template,
            function,
            event,
            runtime: attributes.runtime,
            env: attributes.env.unwrap_or_default(),
            control_port: attributes.control_port.unwrap_or(DEFAULT_CONTROL_PORT),
            live: None,
        })
    } else if let Some(program) = attributes.program {
        if !is_launch {
            return Err(ConfigError(
                "attach with \"program\" needs \"gdbserver\" (HOST:PORT of the gdb server to attach to), \
                 or give \"function\" to attach to a function of the running emulator"
                    .to_owned(),
            ));
        }
        let program = resolve(&program);
        if !program.is_file() {
            return Err(ConfigError(format!(
                "\"program\": {} does not exist",
                program.display()
            )));
        }
        SessionKind::Program(ProgramConfig {
            program,
            args: attributes.args.unwrap_or_default(),
            env: attributes.env.unwrap_or_default(),
            cwd: attributes.cwd.map(|cwd| adapter_cwd.join(cwd)),
        })
    } else {
        return Err(ConfigError(format!(
            "the {request} configuration needs \"function\" (a function of the SAM template, run by the emulator){}",
            if is_launch {
                ", or \"program\" (a native executable to run under the debugger)"
            } else {
                ", or \"gdbserver\" and \"program\""
            }
        )));
    };
    Ok(SessionConfig {
        kind,
        stop_on_entry: attributes.stop_on_entry.unwrap_or(false),
        source_map: attributes
            .source_map
            .unwrap_or_default()
            .into_iter()
            .collect(),
        agent: attributes.agent.map(|agent| resolve(&agent)),
    })
}

/// Checks the attributes of an attach through a relay.
fn relay_session(
    relay: &str,
    attributes: &Attributes,
    resolve: &dyn Fn(&str) -> PathBuf,
) -> Result<SessionKind, ConfigError> {
    let address =
        RelayAddress::parse(relay).map_err(|error| ConfigError(format!("\"relay\": {error}")))?;
    let Some(ticket) = &attributes.session else {
        return Err(ConfigError(
            "\"relay\" needs \"session\": the session (fbs1.…) that `fogbank debug-session new` printed".to_owned(),
        ));
    };
    let ticket = SessionTicket::parse(ticket)
        .map_err(|error| ConfigError(format!("\"session\": {error}")))?;
    let secret = match (&attributes.secret, &attributes.secret_file) {
        (Some(_), Some(_)) => {
            return Err(ConfigError(
                "give \"secret\" or \"secretFile\", not both".to_owned(),
            ));
        }
        (Some(secret), None) if secret.trim().is_empty() => {
            return Err(ConfigError(
                "\"secret\" is empty (is FOGBANK_SESSION_SECRET set where the editor runs?); \
                 give the session secret (fbsec1_…) that `fogbank debug-session new` printed"
                    .to_owned(),
            ));
        }
        (Some(secret), None) => SecretSource::Given(
            SessionSecret::parse(secret)
                .map_err(|error| ConfigError(format!("\"secret\": {error}")))?,
        ),
        (None, Some(file)) => SecretSource::File(resolve(file)),
        (None, None) => SecretSource::Environment,
    };
    let ca = attributes.relay_ca.as_deref().map(resolve);
    if let Some(ca) = &ca
        && !ca.is_file()
    {
        return Err(ConfigError(format!(
            "\"relayCa\": {} does not exist; give the PEM certificate the relay serves (or its CA)",
            ca.display()
        )));
    }
    let relay = RelayConfig {
        address,
        ticket,
        secret,
        ca,
    };
    Ok(match attributes.mode.as_deref() {
        Some("in-place") => {
            let Some(program) = &attributes.program else {
                return Err(ConfigError(
                    "\"mode\": \"in-place\" needs \"program\": the local copy of the function's executable, for symbols".to_owned(),
                ));
            };
            let program = resolve(program);
            if !program.is_file() {
                return Err(ConfigError(format!(
                    "\"program\": {} does not exist",
                    program.display()
                )));
            }
            SessionKind::Relay { relay, program }
        }
        Some("live") => {
            let Some(function) = attributes.function.clone().filter(|f| !f.trim().is_empty())
            else {
                return Err(ConfigError(
                    "\"mode\": \"live\" needs \"function\": the function of the local template that runs the cloud's invocations, e.g. \"HelloFunction\"".to_owned(),
                ));
            };
            let template = attributes.template.as_deref().map(resolve);
            if let Some(template) = &template
                && !template.is_file()
            {
                return Err(ConfigError(format!(
                    "\"template\": {} does not exist; point it at the SAM template that defines {function}",
                    template.display()
                )));
            }
            SessionKind::Emulator(EmulatorConfig {
                // With a template the adapter starts `fogbank start` when
                // none answers, as a launch does.
                may_start: template.is_some(),
                template,
                function,
                event: None,
                runtime: attributes.runtime.clone(),
                env: attributes.env.clone().unwrap_or_default(),
                control_port: attributes.control_port.unwrap_or(DEFAULT_CONTROL_PORT),
                live: Some(relay),
            })
        }
        Some(other) => {
            return Err(ConfigError(format!(
                "\"mode\" is {other:?}; use \"live\" (the cloud's invocations run here) or \"in-place\" (the function runs under the agent in the cloud sandbox)"
            )));
        }
        None => {
            return Err(ConfigError(
                "\"relay\" needs \"mode\": \"live\" (the cloud's invocations run here) or \"in-place\" (the function runs under the agent in the cloud sandbox)".to_owned(),
            ));
        }
    })
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};
    use serde_json::json;

    fn check(attributes: Value, is_launch: bool, expected: Expect) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let rendered = match parse(&attributes, is_launch, dir) {
            Ok(config) => format!("{config:#?}"),
            Err(error) => format!("error: {error}"),
        }
        .replace(dir.to_string_lossy().as_ref(), "$DIR");
        expected.assert_eq(&rendered);
    }

    #[test]
    fn emulator_launch() {
        check(
            json!({"type":"fogbank","request":"launch","template":"Cargo.toml","function":"HelloFunction","runtime":"docker","env":{"A":"1"},"__sessionId":"x"}),
            true,
            expect![[r#"
                SessionConfig {
                    kind: Emulator(
                        EmulatorConfig {
                            may_start: true,
                            template: Some(
                                "$DIR/Cargo.toml",
                            ),
                            function: "HelloFunction",
                            event: None,
                            runtime: Some(
                                "docker",
                            ),
                            env: {
                                "A": "1",
                            },
                            control_port: 3002,
                            live: None,
                        },
                    ),
                    stop_on_entry: false,
                    source_map: [],
                    agent: None,
                }"#]],
        );
    }

    #[test]
    fn attach_and_remote() {
        check(
            json!({"request":"attach","function":"F","controlPort":4000}),
            false,
            expect![[r#"
                SessionConfig {
                    kind: Emulator(
                        EmulatorConfig {
                            may_start: false,
                            template: None,
                            function: "F",
                            event: None,
                            runtime: None,
                            env: {},
                            control_port: 4000,
                            live: None,
                        },
                    ),
                    stop_on_entry: false,
                    source_map: [],
                    agent: None,
                }"#]],
        );
        check(
            json!({"request":"attach","gdbserver":"127.0.0.1:2345","program":"/bin/true","sourceMap":{"/build":"/src"}}),
            false,
            expect![[r#"
                SessionConfig {
                    kind: Remote {
                        address: "127.0.0.1:2345",
                        program: "/bin/true",
                    },
                    stop_on_entry: false,
                    source_map: [
                        (
                            "/build",
                            "/src",
                        ),
                    ],
                    agent: None,
                }"#]],
        );
    }

    #[test]
    fn errors_name_the_attribute() {
        check(
            json!({"function":"F","template":"nope.yaml"}),
            true,
            expect![[
                r#"error: "template": $DIR/nope.yaml does not exist; point it at the SAM template that defines F"#
            ]],
        );
        check(
            json!({"function":"F","template":"Cargo.toml","runtime":"vm"}),
            true,
            expect![[r#"error: "runtime" is "vm"; use "docker" or "process", or leave it out"#]],
        );
        check(
            json!({"function":"F","template":"Cargo.toml","event":"missing.json"}),
            true,
            expect![[
                r#"error: "event": $DIR/missing.json does not exist; give a JSON event file or leave "event" out"#
            ]],
        );
        check(
            json!({"gdbserver":"2345"}),
            false,
            expect![[
                r#"error: "gdbserver" needs "program": the local copy of the debugged executable, for symbols"#
            ]],
        );
        check(
            json!({"function": 3}),
            true,
            expect![[
                r#"error: the launch configuration is not valid: invalid type: integer `3`, expected a string; see the README's "Debugging in VS Code" for the attributes"#
            ]],
        );
        check(
            json!({}),
            true,
            expect![[
                r#"error: the launch configuration needs "function" (a function of the SAM template, run by the emulator), or "program" (a native executable to run under the debugger)"#
            ]],
        );
        check(
            json!({"program":"/bin/true"}),
            false,
            expect![[
                r#"error: attach with "program" needs "gdbserver" (HOST:PORT of the gdb server to attach to), or give "function" to attach to a function of the running emulator"#
            ]],
        );
    }

    /// A session ticket and secret minted for the tests (the ticket's text
    /// is random, so outputs show it as $TICKET).
    fn session() -> (String, String) {
        let key = fogbank_relay::secret::RelayKey::generate();
        let credentials = fogbank_relay::secret::new_session(&key, 4_000_000_000);
        (credentials.ticket.to_text(), credentials.secret.to_text())
    }

    fn check_relay(mut attributes: Value, expected: Expect) {
        let (ticket, secret) = session();
        let object = attributes.as_object_mut().expect("an object");
        if object.get("session").is_some_and(|v| v == "$TICKET") {
            object.insert("session".into(), Value::String(ticket.clone()));
        }
        if object.get("secret").is_some_and(|v| v == "$SECRET") {
            object.insert("secret".into(), Value::String(secret));
        }
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let rendered = match parse(&attributes, false, dir) {
            Ok(config) => format!("{config:#?}"),
            Err(error) => format!("error: {error}"),
        }
        .replace(dir.to_string_lossy().as_ref(), "$DIR");
        // The ticket's parts (id, expiry, MAC) are random apart from the
        // expiry; show only what the test controls.
        let mut in_mac = false;
        let rendered = rendered
            .lines()
            .filter(|line| {
                let line = line.trim_start();
                if line.starts_with("mac: [") {
                    in_mac = true;
                }
                let keep = !in_mac && !line.starts_with("session: ");
                if in_mac && line.starts_with("],") {
                    in_mac = false;
                }
                keep
            })
            .collect::<Vec<_>>()
            .join("\n");
        expected.assert_eq(&rendered);
    }

    #[test]
    fn relay_attach_in_place_and_live() {
        check_relay(
            json!({"request":"attach","relay":"https://127.0.0.1:7443","session":"$TICKET","secret":"$SECRET","mode":"in-place","program":"Cargo.toml","relayCa":"Cargo.toml"}),
            expect![[r#"
                SessionConfig {
                    kind: Relay {
                        relay: RelayConfig {
                            address: RelayAddress {
                                host: "127.0.0.1",
                                port: 7443,
                            },
                            ticket: SessionTicket {
                                expires_at: 4000000000,
                            },
                            secret: Given(
                                SessionSecret(..),
                            ),
                            ca: Some(
                                "$DIR/Cargo.toml",
                            ),
                        },
                        program: "$DIR/Cargo.toml",
                    },
                    stop_on_entry: false,
                    source_map: [],
                    agent: None,
                }"#]],
        );
        check_relay(
            json!({"request":"attach","relay":"https://relay.example.com","session":"$TICKET","secretFile":"secret.txt","mode":"live","function":"HelloFunction","controlPort":4000}),
            expect![[r#"
                SessionConfig {
                    kind: Emulator(
                        EmulatorConfig {
                            may_start: false,
                            template: None,
                            function: "HelloFunction",
                            event: None,
                            runtime: None,
                            env: {},
                            control_port: 4000,
                            live: Some(
                                RelayConfig {
                                    address: RelayAddress {
                                        host: "relay.example.com",
                                        port: 443,
                                    },
                                    ticket: SessionTicket {
                                        expires_at: 4000000000,
                                    },
                                    secret: File(
                                        "$DIR/secret.txt",
                                    ),
                                    ca: None,
                                },
                            ),
                        },
                    ),
                    stop_on_entry: false,
                    source_map: [],
                    agent: None,
                }"#]],
        );
    }

    #[test]
    fn relay_errors_name_the_attribute() {
        let base = || json!({"request":"attach","relay":"https://127.0.0.1:7443","session":"$TICKET","mode":"live","function":"F"});
        let with = |changes: Value| {
            let mut attributes = base();
            for (key, value) in changes.as_object().expect("object") {
                if value.is_null() {
                    attributes.as_object_mut().expect("object").remove(key);
                } else {
                    attributes[key] = value.clone();
                }
            }
            attributes
        };
        check_relay(
            with(json!({"relay":"http://127.0.0.1:7443"})),
            expect![[
                r#"error: "relay": the relay address "http://127.0.0.1:7443" does not start with https://; write it as https://HOST:PORT"#
            ]],
        );
        check_relay(
            with(json!({"session":null})),
            expect![
                "error: \"relay\" needs \"session\": the session (fbs1.…) that `fogbank debug-session new` printed"
            ],
        );
        check_relay(
            with(json!({"session":"fbs1.nope"})),
            expect![[
                r#"error: "session": the session is damaged: it should have four dot-separated parts; copy it again from `fogbank debug-session new`'s output"#
            ]],
        );
        check_relay(
            with(json!({"secret":""})),
            expect![[
                r#"error: "secret" is empty (is FOGBANK_SESSION_SECRET set where the editor runs?); give the session secret (fbsec1_…) that `fogbank debug-session new` printed"#
            ]],
        );
        check_relay(
            with(json!({"secret":"fbsec1_short"})),
            expect![[
                r#"error: "secret": the session secret is damaged: it is not 32 bytes of base64url; copy it again from `fogbank debug-session new`'s output"#
            ]],
        );
        check_relay(
            with(json!({"secret":"$SECRET","secretFile":"s.txt"})),
            expect![[r#"error: give "secret" or "secretFile", not both"#]],
        );
        check_relay(
            with(json!({"relayCa":"missing.pem"})),
            expect![[
                r#"error: "relayCa": $DIR/missing.pem does not exist; give the PEM certificate the relay serves (or its CA)"#
            ]],
        );
        check_relay(
            with(json!({"mode":null})),
            expect![[
                r#"error: "relay" needs "mode": "live" (the cloud's invocations run here) or "in-place" (the function runs under the agent in the cloud sandbox)"#
            ]],
        );
        check_relay(
            with(json!({"mode":"remote"})),
            expect![[
                r#"error: "mode" is "remote"; use "live" (the cloud's invocations run here) or "in-place" (the function runs under the agent in the cloud sandbox)"#
            ]],
        );
        check_relay(
            with(json!({"mode":"in-place"})),
            expect![[
                r#"error: "mode": "in-place" needs "program": the local copy of the function's executable, for symbols"#
            ]],
        );
        check_relay(
            with(json!({"mode":"in-place","program":"missing"})),
            expect![[r#"error: "program": $DIR/missing does not exist"#]],
        );
        check_relay(
            with(json!({"function":null})),
            expect![[
                r#"error: "mode": "live" needs "function": the function of the local template that runs the cloud's invocations, e.g. "HelloFunction""#
            ]],
        );
        check_relay(
            json!({"request":"attach","function":"F","mode":"live"}),
            expect![[
                r#"error: "mode" belongs to a cloud session and needs "relay" (https://HOST:PORT of the fogbank-relay)"#
            ]],
        );
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert_eq!(
            parse(&base(), true, dir).err(),
            Some(ConfigError(
                "\"relay\" is for attach configurations: set \"request\": \"attach\"".to_owned()
            ))
        );
    }
}
