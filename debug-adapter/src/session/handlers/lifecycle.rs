//! initialize, launch, attach, configurationDone, disconnect and terminate;
//! the emulator's events; and the background preparation of a session.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::super::breakpoints::RUST_PANIC_FILTER;
use super::super::{
    Category, EmulatorLink, HandlerResult, Input, Phase, Prepared, Reply, Session, Transport,
};
use crate::config::{self, EmulatorConfig, ProgramConfig, SessionKind};
use crate::control::{self, ControlClient, ControlEvent};
use crate::launcher;

/// How many of the function's output lines are kept to find a panic's
/// message.
const RECENT_OUTPUT: usize = 64;

impl<W: Write> Session<W> {
    pub(in crate::session) fn initialize(
        &mut self,
        _args: &dap::requests::InitializeArguments,
    ) -> HandlerResult {
        if self.phase != Phase::New {
            return Err("the session is already initialized".to_owned().into());
        }
        self.phase = Phase::Initialized;
        let capabilities = json!({
            "supportsConfigurationDoneRequest": true,
            "supportsFunctionBreakpoints": true,
            "supportsConditionalBreakpoints": true,
            "supportsHitConditionalBreakpoints": true,
            "supportsLogPoints": true,
            "supportsEvaluateForHovers": true,
            "exceptionBreakpointFilters": [{
                "filter": RUST_PANIC_FILTER,
                "label": "Rust panic",
                "description": "Stop when a Rust function panics, after the panic message is printed.",
                "default": false,
            }],
            "supportsExceptionInfoRequest": true,
            "supportsReadMemoryRequest": true,
            "supportsDisassembleRequest": true,
            "supportsSteppingGranularity": true,
            "supportsDelayedStackTraceLoading": true,
            "supportsTerminateRequest": true,
            "supportTerminateDebuggee": true,
            "supportsCancelRequest": true,
        });
        Ok(Reply::Body(Some(capabilities)))
    }

    pub(in crate::session) fn launch_or_attach(
        &mut self,
        seq: i64,
        is_launch: bool,
        attributes: Option<Value>,
    ) -> HandlerResult {
        let command = if is_launch { "launch" } else { "attach" };
        match self.phase {
            Phase::Initialized => {}
            Phase::New => return Err(format!("`{command}` came before `initialize`").into()),
            _ => {
                return Err(
                    format!("the session already has a {command} in progress or done").into(),
                );
            }
        }
        let cwd = std::env::current_dir().unwrap_or_default();
        let config = config::parse(&attributes.unwrap_or(Value::Null), is_launch, &cwd)
            .map_err(|error| error.0)?;
        self.config = Some(config.clone());
        self.phase = Phase::Preparing { seq, command };
        let inputs = self.input_sender.clone();
        match config.kind {
            SessionKind::Emulator(emulator) => {
                self.event_file = emulator.event.clone();
                let agent = config.agent.clone();
                self.runtime.spawn(async move {
                    let result = match emulator.live.clone() {
                        None => prepare_emulator(emulator, agent, &inputs).await,
                        // Live mode: the relay checks the session before
                        // anything local starts; then the emulator session
                        // also answers the cloud's invocations.
                        Some(relay) => match crate::relay::attach_session(&relay).await {
                            Err(error) => Err(error),
                            Ok(attached) => {
                                let prepared = prepare_emulator(emulator, agent, &inputs).await;
                                if let Ok(Prepared::Emulator {
                                    status,
                                    function_name,
                                    ..
                                }) = &prepared
                                {
                                    crate::relay::serve_live(
                                        attached,
                                        status.ports.lambda,
                                        status.ports.control,
                                        function_name,
                                        inputs.clone(),
                                    );
                                }
                                prepared
                            }
                        },
                    };
                    let _ = inputs.send(Input::Prepared(result));
                });
            }
            SessionKind::Relay { relay, program } => {
                self.runtime.spawn(async move {
                    let result = crate::relay::prepare_in_place(relay, program, &inputs).await;
                    let _ = inputs.send(Input::Prepared(result));
                });
            }
            SessionKind::Program(program) => {
                let agent = config.agent.clone();
                self.runtime.spawn(async move {
                    let result = prepare_program(program, agent, &inputs).await;
                    let _ = inputs.send(Input::Prepared(result));
                });
            }
            SessionKind::Remote { address, program } => {
                self.runtime.spawn(async move {
                    let result = tokio::time::timeout(
                        Duration::from_secs(10),
                        tokio::net::TcpStream::connect(&address),
                    )
                    .await
                    .map_err(|_| format!("connecting to the gdb server at {address} timed out"))
                    .and_then(|connected| {
                        connected.map_err(|error| {
                            format!("cannot connect to the gdb server at {address}: {error}")
                        })
                    })
                    .map(|stream| {
                        let _ = stream.set_nodelay(true);
                        Prepared::Server {
                            stream: Box::new(stream) as Transport,
                            label: format!("the program at {address}"),
                            program,
                            child: None,
                            cloud_channel: None,
                        }
                    });
                    let _ = inputs.send(Input::Prepared(result));
                });
            }
        }
        Ok(Reply::Later)
    }

    /// Finishes a launch or attach once its preparation is done.
    pub(in crate::session) fn on_prepared(
        &mut self,
        result: Result<Prepared, String>,
    ) -> io::Result<()> {
        let Phase::Preparing { seq, command } = self.phase.clone() else {
            return Ok(());
        };
        let outcome = match result {
            Ok(Prepared::Emulator {
                control,
                status,
                logical_id,
                function_name,
                program,
            }) => {
                let pauser = spawn_pauser(&self.runtime, control);
                self.emulator = Some(EmulatorLink {
                    control,
                    status: *status,
                    logical_id: logical_id.clone(),
                    function_name,
                    pauser,
                });
                self.load_program(&program).map(|index| {
                    self.current_program = Some(index);
                    format!(
                        "Debugging {logical_id}: every invocation of it now runs under the debugger (symbols from {}).\n",
                        program.display()
                    )
                })
            }
            Ok(Prepared::Server {
                stream,
                label,
                program,
                child,
                cloud_channel,
            }) => {
                self.child = child;
                self.add_target(stream, label.clone(), None, &program)
                    .map(|id| {
                        if let Some(target) = self.target_mut(id) {
                            target.cloud =
                                cloud_channel.map(crate::session::cloud::CloudClock::new);
                            self.current_program = Some(target.program);
                        }
                        format!("Debugging {label}.\n")
                    })
            }
            Err(error) => Err(error),
        };
        match outcome {
            Ok(message) => {
                self.phase = Phase::Ready;
                self.out.response(seq, command, None)?;
                self.out.raw_event("initialized", json!({}))?;
                self.console(&message)?;
                while let Some(input) = self.deferred.pop_front() {
                    self.handle_input(input)?;
                }
                Ok(())
            }
            Err(error) => {
                self.phase = Phase::Initialized;
                self.deferred.clear();
                self.out.error(seq, command, &error)?;
                self.output(Category::Important, &format!("{command} failed: {error}\n"))
            }
        }
    }

    pub(in crate::session) fn configuration_done(&mut self, seq: i64) -> HandlerResult {
        if self.phase != Phase::Ready {
            return Err(
                "configurationDone came before the launch or attach finished"
                    .to_owned()
                    .into(),
            );
        }
        self.out.response(seq, "configurationDone", None)?;
        self.configured = true;
        let held: Vec<u32> = self
            .targets
            .iter()
            .filter(|target| target.held)
            .map(|target| target.id)
            .collect();
        for id in held {
            self.release(id)?;
        }
        if let (Some(event), Some(emulator)) = (self.event_file.take(), &self.emulator) {
            let port = emulator.status.ports.lambda;
            let function = emulator.function_name.clone();
            let inputs = self.input_sender.clone();
            self.console(&format!("Invoking {function} with {}\n", event.display()))?;
            self.runtime.spawn(async move {
                invoke_with_event(port, function, event, inputs).await;
            });
        }
        Ok(Reply::Sent)
    }

    pub(in crate::session) fn disconnect(
        &mut self,
        seq: i64,
        _terminate_debuggee: Option<bool>,
    ) -> HandlerResult {
        self.shutdown();
        self.out.response(seq, "disconnect", None)?;
        self.phase = Phase::Ended;
        Ok(Reply::Sent)
    }

    pub(in crate::session) fn terminate(&mut self, seq: i64) -> HandlerResult {
        self.shutdown();
        self.out.response(seq, "terminate", None)?;
        self.out.raw_event("terminated", json!({}))?;
        Ok(Reply::Sent)
    }

    /// Handles one event of the emulator.
    pub(in crate::session) fn on_control_event(&mut self, event: ControlEvent) -> io::Result<()> {
        let Some(ours) = self
            .emulator
            .as_ref()
            .map(|emulator| emulator.logical_id.clone())
        else {
            return Ok(());
        };
        match event {
            ControlEvent::InstanceStarted {
                function,
                instance,
                debug: Some(endpoint),
            } if function == ours => {
                let label = format!("{function} instance {}", short(&instance));
                let address = std::net::SocketAddr::from(([127, 0, 0, 1], endpoint.rsp_port));
                let connected = self.runtime.block_on(connect_agent(address));
                match connected {
                    Ok(Ok(stream)) => {
                        let _ = stream.set_nodelay(true);
                        match self.add_target(Box::new(stream), label.clone(), Some(instance), &endpoint.program) {
                            Ok(_) => self.console(&format!("Attached to {label}.\n")),
                            Err(error) => self.output(Category::Important, &format!("{error}\n")),
                        }
                    }
                    Ok(Err(error)) => self.output(
                        Category::Important,
                        &format!("cannot connect to the agent of {label} at {address}: {error}\n"),
                    ),
                    Err(_) => self.output(
                        Category::Important,
                        &format!("connecting to the agent of {label} at {address} timed out\n"),
                    ),
                }
            }
            ControlEvent::InstanceStopped { function, instance } if function == ours => {
                let gone: Vec<u32> = self
                    .targets
                    .iter()
                    .filter(|target| target.instance.as_deref() == Some(instance.as_str()))
                    .map(|target| target.id)
                    .collect();
                for id in gone {
                    self.end_target(id, None, &format!("{function} instance {} stopped", short(&instance)))?;
                }
                Ok(())
            }
            ControlEvent::InvocationStarted {
                function,
                instance,
                request_id,
                ..
            } if function == ours => {
                if let Some(target) = self
                    .targets
                    .iter_mut()
                    .find(|target| target.instance.as_deref() == Some(instance.as_str()))
                {
                    target.request_id = Some(request_id);
                }
                Ok(())
            }
            ControlEvent::InvocationFinished {
                function,
                instance,
                error_type,
                request_id,
            } if function == ours => {
                if let Some(target) = self
                    .targets
                    .iter_mut()
                    .find(|target| target.instance.as_deref() == Some(instance.as_str()))
                {
                    target.request_id = None;
                }
                if let Some(error_type) = error_type {
                    self.console(&format!("Invocation {request_id} failed: {error_type}\n"))?;
                }
                Ok(())
            }
            ControlEvent::Redeployed {
                function,
                code_dir,
                debug,
                version,
            } if function == ours => {
                if !debug {
                    self.output(
                        Category::Important,
                        &format!("{function} is no longer in debug mode (another client switched it off).\n"),
                    )?;
                    return Ok(());
                }
                self.on_reload(&code_dir, None, version)
            }
            ControlEvent::Reload {
                function,
                version,
                code_dir,
                artifact,
            } if function == ours => {
                self.console(&format!("{function} was reloaded (version {version}).\n"))?;
                self.on_reload(&code_dir, artifact.as_deref(), version)
            }
            ControlEvent::ReloadFailed { function, error } if function == ours => self.output(
                Category::Important,
                &format!("Reloading {function} failed; the previous version keeps running: {error}\n"),
            ),
            ControlEvent::Log { function, line } if function == ours => {
                if self.recent_output.len() >= RECENT_OUTPUT {
                    self.recent_output.pop_front();
                }
                self.recent_output.push_back(line.clone());
                self.output(Category::Stdout, &format!("{line}\n"))
            }
            ControlEvent::Lagged { missed } => self.console(&format!(
                "fogbank-dap: {missed} emulator events were dropped because the adapter fell behind\n"
            )),
            _ => Ok(()),
        }
    }

    /// A new version of the function: loads its program, re-resolves the
    /// breakpoints against it and tells the client about moved lines.
    fn on_reload(
        &mut self,
        code_dir: &std::path::Path,
        artifact: Option<&std::path::Path>,
        version: u64,
    ) -> io::Result<()> {
        let Some(emulator) = &self.emulator else {
            return Ok(());
        };
        let control = emulator.control;
        let logical_id = emulator.logical_id.clone();
        // A reload names its artifact; otherwise the status says where the
        // new program is, and the code directory's bootstrap is the
        // convention when the status cannot be read.
        let program = match artifact {
            Some(artifact) => artifact.to_path_buf(),
            None => self
                .runtime
                .block_on(control.status())
                .ok()
                .and_then(|status| status.function(&logical_id).and_then(|f| f.program.clone()))
                .unwrap_or_else(|| code_dir.join("bootstrap")),
        };
        let before = self.breakpoint_views();
        match self.load_program(&program) {
            Ok(index) if Some(index) == self.current_program => Ok(()),
            Ok(index) => {
                self.current_program = Some(index);
                self.console(&format!(
                    "{logical_id} was rebuilt (version {version}); breakpoints now apply to {}.\n",
                    program.display()
                ))?;
                let after = self.breakpoint_views();
                for (id, view) in after {
                    if before.get(&id) != Some(&view) {
                        self.out.raw_event(
                            "breakpoint",
                            json!({ "reason": "changed", "breakpoint": view }),
                        )?;
                    }
                }
                Ok(())
            }
            Err(error) => self.output(
                Category::Important,
                &format!("cannot load the symbols of the rebuilt {logical_id}: {error}\n"),
            ),
        }
    }
}

/// How long an instance's agent may take to listen after the emulator
/// announced the instance.
const AGENT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to a new instance's agent. The emulator announces an instance
/// as soon as its container or process starts, which can be before the
/// agent inside listens, so refused connections are retried until
/// [`AGENT_CONNECT_TIMEOUT`]. The outer error is the timeout; the inner
/// one the last connection error.
async fn connect_agent(
    address: std::net::SocketAddr,
) -> Result<io::Result<tokio::net::TcpStream>, tokio::time::error::Elapsed> {
    let deadline = tokio::time::Instant::now() + AGENT_CONNECT_TIMEOUT;
    loop {
        let attempt =
            tokio::time::timeout_at(deadline, tokio::net::TcpStream::connect(address)).await?;
        match attempt {
            Ok(stream) => return Ok(Ok(stream)),
            Err(error) if tokio::time::Instant::now() + RETRY_PAUSE >= deadline => {
                return Ok(Err(error));
            }
            Err(_) => tokio::time::sleep(RETRY_PAUSE).await,
        }
    }
}

/// The pause between connection attempts to an agent.
const RETRY_PAUSE: Duration = Duration::from_millis(20);

/// The first characters of an instance id, enough to tell instances apart.
fn short(instance: &str) -> &str {
    instance.get(..8).unwrap_or(instance)
}

/// How many instances live mode debugs at once (concurrent cloud
/// invocations beyond this wait for one to finish).
const LIVE_DEBUG_INSTANCES: u32 = 8;

/// Connects to (or starts) the emulator, finds the function and the
/// agent, follows the event stream and switches debug mode on.
async fn prepare_emulator(
    config: EmulatorConfig,
    agent: Option<PathBuf>,
    inputs: &mpsc::UnboundedSender<Input>,
) -> Result<Prepared, String> {
    let control = ControlClient::new(config.control_port);
    let (progress, mut progress_lines) = mpsc::unbounded_channel::<String>();
    let forward = {
        let inputs = inputs.clone();
        tokio::spawn(async move {
            while let Some(line) = progress_lines.recv().await {
                let _ = inputs.send(Input::Output(Category::Console, line));
            }
        })
    };
    let start = match (&config.template, config.may_start) {
        (Some(template), true) => Some((template.as_path(), config.runtime.as_deref())),
        _ => None,
    };
    let status = launcher::connect_or_start(control, start, &progress).await;
    drop(progress);
    let _ = forward.await;
    let status = status.map_err(|error| error.to_string())?;
    if let Some(template) = &config.template {
        let wanted = std::fs::canonicalize(template).unwrap_or_else(|_| template.clone());
        let served =
            std::fs::canonicalize(&status.template).unwrap_or_else(|_| status.template.clone());
        if wanted != served {
            return Err(format!(
                "the emulator on 127.0.0.1:{} serves {}, not {}; stop it, or give \"controlPort\" to start another",
                config.control_port,
                status.template.display(),
                template.display()
            ));
        }
    }
    if let Some(runtime) = &config.runtime
        && runtime != &status.runtime
    {
        let _ = inputs.send(Input::Output(
            Category::Important,
            format!(
                "The running emulator uses the {} runtime, not {runtime} as \"runtime\" asks; restart it with `--runtime {runtime}` to change that.\n",
                status.runtime
            ),
        ));
    }
    if !config.env.is_empty() {
        let _ = inputs.send(Input::Output(
            Category::Important,
            "\"env\" is not applied: the emulator's debug mode cannot set extra variables for a function yet; \
             set them in the template's Environment.Variables.\n"
                .to_owned(),
        ));
    }
    let Some(function) = status.function(&config.function).cloned() else {
        let known: Vec<&str> = status
            .functions
            .iter()
            .map(|f| f.logical_id.as_str())
            .collect();
        return Err(format!(
            "\"function\": {} is not a function of {}; it has: {}",
            config.function,
            status.template.display(),
            known.join(", ")
        ));
    };
    let Some(program) = function.program.clone() else {
        return Err(format!(
            "{} uses the {} runtime; fogbank-dap debugs native functions (provided.* runtimes with a `bootstrap` executable)",
            function.logical_id, function.runtime
        ));
    };
    let agent = launcher::find_agent(agent.as_deref(), status.runtime == "docker")
        .map_err(|error| error.to_string())?;

    // Follow events before switching debug mode on, so that no instance
    // start is missed.
    let (opened_sender, opened) = tokio::sync::oneshot::channel();
    let (events_sender, mut events) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let reason = control.follow_events(events_sender, opened_sender).await;
        tracing::debug!(%reason, "the emulator's event stream ended");
    });
    {
        let inputs = inputs.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if inputs.send(Input::Control(event)).is_err() {
                    return;
                }
            }
            let _ = inputs.send(Input::ControlClosed(
                "the emulator's event stream ended (did `fogbank start` stop?)".to_owned(),
            ));
        });
    }
    match opened.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return Err(error.to_string()),
        Err(_) => return Err("the emulator's event stream could not be opened".to_owned()),
    }
    if function.debugging {
        // Left on by an earlier session: switching it off and on again
        // retires instances that waited for that session.
        let _ = control.disable_debug(&function.logical_id).await;
    }
    // Live mode serves every cloud sandbox's invocation, several at once
    // when the cloud runs them at once: each gets its own debugged instance
    // (a target of this session, its threads DAP threads of their own).
    let instances = if config.live.is_some() {
        LIVE_DEBUG_INSTANCES
    } else {
        1
    };
    control
        .enable_debug(&function.logical_id, &agent, instances)
        .await
        .map_err(|error| error.to_string())?;
    Ok(Prepared::Emulator {
        control,
        status: Box::new(status),
        logical_id: function.logical_id,
        function_name: function.name,
        program,
    })
}

/// Starts the program under fogbank-agent and connects to it.
async fn prepare_program(
    config: ProgramConfig,
    agent: Option<PathBuf>,
    inputs: &mpsc::UnboundedSender<Input>,
) -> Result<Prepared, String> {
    use tokio::io::AsyncBufReadExt;
    let agent = launcher::find_agent(agent.as_deref(), false).map_err(|error| error.to_string())?;
    let mut command = tokio::process::Command::new(&agent);
    command.arg("--listen").arg("127.0.0.1:0");
    if let Some(cwd) = &config.cwd {
        command.arg("--cwd").arg(cwd);
    }
    command.arg("--").arg(&config.program).args(&config.args);
    command
        .envs(&config.env)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|error| format!("cannot start {}: {error}", agent.display()))?;
    if let Some(stdout) = child.stdout.take() {
        let inputs = inputs.clone();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = inputs.send(Input::Output(Category::Stdout, format!("{line}\n")));
            }
        });
    }
    let Some(stderr) = child.stderr.take() else {
        return Err("the agent's standard error is not available".to_owned());
    };
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let address = loop {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .map_err(|_| "fogbank-agent did not start listening within 10 s".to_owned())?
            .map_err(|error| format!("reading fogbank-agent's output: {error}"))?;
        match line {
            Some(line) => {
                if let Some(address) = line.strip_prefix("fogbank-agent: listening on ") {
                    break address.trim().to_owned();
                }
                let _ = inputs.send(Input::Output(Category::Stderr, format!("{line}\n")));
            }
            None => {
                let status = child.wait().await.ok();
                return Err(format!(
                    "fogbank-agent ended before listening ({})",
                    status.map_or_else(|| "unknown status".to_owned(), |s| s.to_string())
                ));
            }
        }
    };
    {
        let inputs = inputs.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = inputs.send(Input::Output(Category::Stderr, format!("{line}\n")));
            }
        });
    }
    let stream = tokio::net::TcpStream::connect(&address)
        .await
        .map_err(|error| format!("cannot connect to fogbank-agent at {address}: {error}"))?;
    let _ = stream.set_nodelay(true);
    Ok(Prepared::Server {
        stream: Box::new(stream),
        label: config.program.file_name().map_or_else(
            || "the program".to_owned(),
            |name| name.to_string_lossy().into_owned(),
        ),
        program: config.program,
        child: Some(child),
        cloud_channel: None,
    })
}

/// Sends pause notifications in order, dropping superseded ones.
fn spawn_pauser(
    runtime: &tokio::runtime::Runtime,
    control: ControlClient,
) -> mpsc::UnboundedSender<(String, bool)> {
    let (sender, mut receiver) = mpsc::unbounded_channel::<(String, bool)>();
    runtime.spawn(async move {
        let mut last: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
        while let Some(first) = receiver.recv().await {
            // Coalesce what queued up: only each instance's final state
            // matters, and only when it differs from what was sent.
            let mut latest = vec![first];
            while let Ok(next) = receiver.try_recv() {
                latest.push(next);
            }
            let mut wanted: Vec<(String, bool)> = Vec::new();
            for (instance, paused) in latest {
                match wanted.iter_mut().find(|(known, _)| *known == instance) {
                    Some(entry) => entry.1 = paused,
                    None => wanted.push((instance, paused)),
                }
            }
            for (instance, paused) in wanted {
                if last.get(&instance) == Some(&paused) {
                    continue;
                }
                match control.set_paused(&instance, paused).await {
                    Ok(()) => {
                        last.insert(instance, paused);
                    }
                    Err(error) => tracing::debug!(%error, "pausing an instance's clock"),
                }
            }
        }
    });
    sender
}

/// Invokes the function once with an event file and prints the result as
/// `fogbank invoke` does.
async fn invoke_with_event(
    port: u16,
    function: String,
    event: PathBuf,
    inputs: mpsc::UnboundedSender<Input>,
) {
    let send = |category, text: String| {
        let _ = inputs.send(Input::Output(category, text));
    };
    let payload = match tokio::fs::read(&event).await {
        Ok(payload) => payload,
        Err(error) => {
            return send(
                Category::Important,
                format!("cannot read the event {}: {error}\n", event.display()),
            );
        }
    };
    if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(&payload) {
        return send(
            Category::Important,
            format!("the event {} is not valid JSON: {error}\n", event.display()),
        );
    }
    match control::invoke(port, &function, payload).await {
        Ok(answer) => {
            let text = format!("{}\n", String::from_utf8_lossy(&answer.body));
            if answer.status >= 300 || answer.headers.contains_key("x-amz-function-error") {
                send(Category::Stderr, text);
            } else {
                send(Category::Stdout, text);
            }
        }
        Err(error) => send(
            Category::Important,
            format!("invoking {function} failed: {error}\n"),
        ),
    }
}
