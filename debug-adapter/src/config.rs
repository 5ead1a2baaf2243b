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
//!   `program`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
    if attributes.relay.is_some() {
        return Err(ConfigError(
            "\"relay\": attaching through a fogbank-relay is not available in this version of fogbank-dap; \
             remove \"relay\" to attach to the local emulator"
                .to_owned(),
        ));
    }
    if let Some(runtime) = &attributes.runtime
        && runtime != "docker"
        && runtime != "process"
    {
        return Err(ConfigError(format!(
            "\"runtime\" is {runtime:?}; use \"docker\" or \"process\", or leave it out"
        )));
    }
    let kind = if let Some(address) = attributes.gdbserver {
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

#[cfg(test)]
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
}
