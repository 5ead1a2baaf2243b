//! The protocol session: one DAP client, the targets it debugs, and the
//! loop that turns requests, emulator events and target stops into
//! responses and events.
//!
//! Concurrency model: the session runs on one thread with a
//! current-thread tokio runtime. It waits (in `block_on`) for whichever
//! comes first: a client message (read by a reader thread), an emulator
//! event, a background task's result, or a stop of a running target. It
//! then handles that one thing synchronously, calling the RSP client with
//! `block_on` and the symbols core directly. Nothing else touches the
//! targets, so no locks are needed, and a request that arrives while a
//! target runs (`pause`, `setBreakpoints`) is handled at once.
//!
//! Architecture invariants:
//! - Wire shapes stay at the edges: [`crate::protocol`] for DAP, the RSP
//!   module for the gdb protocol, [`crate::control`] for the emulator. The
//!   symbols core sees only addresses, registers and [`Memory`].
//! - No panics: every failure becomes an error response, a console
//!   message, or the end of one target, never of the session.
//! - Frame ids and variable references are valid only while their target
//!   stays stopped ([`handles`]).
//!
//! [`Memory`]: crate::symbols::Memory

mod breakpoints;
mod cloud;
mod handlers;
mod handles;
mod stepping;
mod stops;
mod target;
mod to_proto;

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

use crate::codec::{Decoded, Decoder};
use crate::config::SessionConfig;
use crate::control::{ControlClient, ControlEvent, Status};
use crate::protocol::{self, Incoming, Sender};
use crate::rsp::{RspClient, RspError, StopReply, ThreadId};
use crate::symbols::{DebugInfo, SourceMap};

use breakpoints::Breakpoints;
use handles::Handles;
use target::{FileIdentity, Program, Target};
pub use target::{Stream, Transport};

/// Largest DAP frame accepted from the client.
const MAX_FRAME: usize = 64 << 20;

/// How long connecting to a gdb server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Output categories of `output` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// The debug console (the adapter's own messages).
    Console,
    /// The debuggee's standard output.
    Stdout,
    /// The debuggee's standard error.
    Stderr,
    /// Important messages (shown prominently).
    Important,
}

impl Category {
    fn as_str(self) -> &'static str {
        match self {
            Category::Console => "console",
            Category::Stdout => "stdout",
            Category::Stderr => "stderr",
            Category::Important => "important",
        }
    }
}

/// Something for the session to handle, from the client reader, the
/// emulator's event stream, or a background task.
pub enum Input {
    /// A message from the client.
    Client(Incoming),
    /// Bytes from the client that were not a frame.
    FrameError(String),
    /// The client closed its end.
    ClientClosed,
    /// An emulator event (or a line that could not be read).
    Control(Result<ControlEvent, String>),
    /// The emulator's event stream ended.
    ControlClosed(String),
    /// The launch or attach preparation finished.
    Prepared(Result<Prepared, String>),
    /// Text for an `output` event.
    Output(Category, String),
    /// Another gdb server to debug beside the first: a later cloud sandbox
    /// of an in-place session, one per concurrent cloud invocation.
    Target {
        /// The connection, already open.
        stream: Transport,
        /// What to call the target.
        label: String,
        /// The program, for symbols.
        program: PathBuf,
        /// The relay channel's short name.
        channel: String,
    },
}

/// What a launch or attach prepared in the background.
pub enum Prepared {
    /// The emulator serves the function in debug mode.
    Emulator {
        /// The control interface.
        control: ControlClient,
        /// Its status.
        status: Box<Status>,
        /// The function's logical ID.
        logical_id: String,
        /// Its FunctionName.
        function_name: String,
        /// The program to load symbols from.
        program: PathBuf,
    },
    /// A gdb server accepts connections for the program.
    Server {
        /// The connection, already open.
        stream: Transport,
        /// What to call the target.
        label: String,
        /// The program, for symbols.
        program: PathBuf,
        /// The agent process the adapter started, if any.
        child: Option<tokio::process::Child>,
        /// In place: the relay channel's short name. The target runs a
        /// cloud invocation, whose deadline the session watches.
        cloud_channel: Option<String>,
    },
}

/// Where the session is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Before `initialize`.
    New,
    /// Initialized, waiting for `launch` or `attach`.
    Initialized,
    /// Preparing a launch or attach, whose response is still due.
    Preparing {
        /// The request's sequence number.
        seq: i64,
        /// `launch` or `attach`.
        command: &'static str,
    },
    /// Debugging.
    Ready,
    /// Disconnected: the loop ends.
    Ended,
}

/// The link to the emulator in an emulator session.
#[derive(Debug)]
struct EmulatorLink {
    control: ControlClient,
    status: Status,
    logical_id: String,
    function_name: String,
    /// Pause and resume notifications for instances, sent in order by a
    /// background task so they never delay a stop or a step.
    pauser: mpsc::UnboundedSender<(String, bool)>,
}

/// DAP thread ids for (target, thread) pairs. Kernel thread ids are not
/// unique across containers, so the session numbers threads itself.
#[derive(Debug, Default)]
struct ThreadIds {
    next: i64,
    ids: HashMap<(u32, ThreadId), i64>,
    back: HashMap<i64, (u32, ThreadId)>,
}

impl ThreadIds {
    fn id(&mut self, target: u32, thread: ThreadId) -> i64 {
        if let Some(id) = self.ids.get(&(target, thread)) {
            return *id;
        }
        self.next += 1;
        self.ids.insert((target, thread), self.next);
        self.back.insert(self.next, (target, thread));
        self.next
    }

    fn lookup(&self, id: i64) -> Option<(u32, ThreadId)> {
        self.back.get(&id).copied()
    }

    fn known(&self, target: u32, thread: ThreadId) -> bool {
        self.ids.contains_key(&(target, thread))
    }

    /// Forgets a target's threads and returns their DAP ids.
    fn forget_target(&mut self, target: u32) -> Vec<i64> {
        let ids: Vec<i64> = self
            .ids
            .iter()
            .filter(|((t, _), _)| *t == target)
            .map(|(_, id)| *id)
            .collect();
        self.ids.retain(|(t, _), _| *t != target);
        for id in &ids {
            self.back.remove(id);
        }
        ids
    }

    fn forget(&mut self, target: u32, thread: ThreadId) -> Option<i64> {
        let id = self.ids.remove(&(target, thread))?;
        self.back.remove(&id);
        Some(id)
    }
}

/// One DAP session.
pub struct Session<W: Write> {
    out: Sender<W>,
    runtime: Rc<Runtime>,
    inputs: mpsc::UnboundedReceiver<Input>,
    input_sender: mpsc::UnboundedSender<Input>,
    phase: Phase,
    config: Option<SessionConfig>,
    emulator: Option<EmulatorLink>,
    programs: Vec<Program>,
    /// The program new instances run (breakpoints are reported against it).
    current_program: Option<usize>,
    targets: Vec<Target>,
    next_target_id: u32,
    breakpoints: Breakpoints,
    handles: Handles,
    threads: ThreadIds,
    configured: bool,
    /// Emulator events that came while preparing.
    deferred: VecDeque<Input>,
    /// Stops found while the session itself waited on a target.
    pending_stops: VecDeque<(u32, Result<StopReply, RspError>)>,
    /// The function's last output lines (to find a panic's message).
    recent_output: VecDeque<String>,
    /// Whether source files exist on this machine, by path.
    source_exists: HashMap<String, bool>,
    /// The agent the adapter started for a program session.
    child: Option<tokio::process::Child>,
    /// The event file to invoke once configured (emulator sessions).
    event_file: Option<PathBuf>,
}

/// Runs one session over `input` and `output` until the client disconnects
/// or closes its end. The client is read on a thread of its own.
pub fn serve<R, W>(input: R, output: W) -> io::Result<()>
where
    R: Read + Send + 'static,
    W: Write,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (sender, receiver) = mpsc::unbounded_channel();
    spawn_reader(input, sender.clone());
    let session = Session::new(Rc::new(runtime), sender, receiver, output);
    session.run()
}

/// Reads and decodes client frames on a thread of its own.
fn spawn_reader<R: Read + Send + 'static>(mut input: R, sender: mpsc::UnboundedSender<Input>) {
    let spawned = std::thread::Builder::new()
        .name("dap-reader".to_owned())
        .spawn(move || {
            let mut decoder = Decoder::new(MAX_FRAME);
            let mut buffer = vec![0u8; 64 * 1024];
            loop {
                let count = match input.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(count) => count,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                decoder.push(&buffer[..count]);
                while let Some(item) = decoder.next_item() {
                    let input = match item {
                        Decoded::Frame(body) => Input::Client(protocol::decode(&body)),
                        Decoded::Error(error) => Input::FrameError(error.to_string()),
                    };
                    if sender.send(input).is_err() {
                        return;
                    }
                }
            }
            let _ = sender.send(Input::ClientClosed);
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "cannot start the DAP reader thread");
    }
}

/// What the session waited for.
enum Event {
    Input(Option<Input>),
    Stop(u32, Result<StopReply, RspError>),
}

/// How a handler answered.
enum Reply {
    /// Send a success response with this body.
    Body(Option<Value>),
    /// The handler sent the response itself (and maybe events after it).
    Sent,
    /// The response comes later (launch and attach).
    Later,
}

/// Why a handler failed: the request (answered with an error response),
/// or writing to the client (which ends the session).
#[derive(Debug)]
enum Failure {
    Request(String),
    Client(io::Error),
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::Request(message)
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Failure {
        Failure::Request(message.to_owned())
    }
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Failure {
        Failure::Client(error)
    }
}

type HandlerResult = Result<Reply, Failure>;

impl<W: Write> Session<W> {
    /// A session writing to `output`, reading [`Input`]s from `inputs`.
    pub fn new(
        runtime: Rc<Runtime>,
        input_sender: mpsc::UnboundedSender<Input>,
        inputs: mpsc::UnboundedReceiver<Input>,
        output: W,
    ) -> Session<W> {
        Session {
            out: Sender::new(output),
            runtime,
            inputs,
            input_sender,
            phase: Phase::New,
            config: None,
            emulator: None,
            programs: Vec::new(),
            current_program: None,
            targets: Vec::new(),
            next_target_id: 0,
            breakpoints: Breakpoints::default(),
            handles: Handles::default(),
            threads: ThreadIds::default(),
            configured: false,
            deferred: VecDeque::new(),
            pending_stops: VecDeque::new(),
            recent_output: VecDeque::new(),
            source_exists: HashMap::new(),
            child: None,
            event_file: None,
        }
    }

    /// Runs until the client disconnects. An error means the client can no
    /// longer be written to.
    pub fn run(mut self) -> io::Result<()> {
        let result = self.run_loop();
        self.shutdown();
        result
    }

    fn run_loop(&mut self) -> io::Result<()> {
        while self.phase != Phase::Ended {
            match self.wait() {
                Event::Input(Some(input)) => self.handle_input(input)?,
                Event::Input(None) => break,
                Event::Stop(target, stop) => self.on_stop(target, stop)?,
            }
        }
        Ok(())
    }

    /// Waits for the next thing to handle.
    fn wait(&mut self) -> Event {
        if let Some((target, stop)) = self.pending_stops.pop_front() {
            return Event::Stop(target, stop);
        }
        let runtime = self.runtime.clone();
        let inputs = &mut self.inputs;
        let targets = &mut self.targets;
        runtime.block_on(async move {
            let waits: Vec<_> = targets
                .iter_mut()
                .filter(|target| target.running)
                .map(|target| {
                    let id = target.id;
                    Box::pin(async move { (id, target.rsp.wait_stop().await) })
                })
                .collect();
            let any_stop = async move {
                if waits.is_empty() {
                    std::future::pending().await
                } else {
                    futures::future::select_all(waits).await.0
                }
            };
            tokio::select! {
                biased;
                (id, stop) = any_stop => Event::Stop(id, stop),
                input = inputs.recv() => Event::Input(input),
            }
        })
    }

    fn handle_input(&mut self, input: Input) -> io::Result<()> {
        match input {
            Input::Client(Incoming::Request(request)) => self.handle_request(*request),
            Input::Client(Incoming::BadRequest {
                seq,
                command,
                reason,
            }) => {
                self.out.error(seq, &command, &reason)?;
                self.console(&format!("{reason}\n"))
            }
            Input::Client(Incoming::NotARequest) => Ok(()),
            Input::Client(Incoming::Malformed(reason)) | Input::FrameError(reason) => self.console(
                &format!("fogbank-dap: ignored a malformed message from the client: {reason}\n"),
            ),
            Input::ClientClosed => {
                self.phase = Phase::Ended;
                Ok(())
            }
            Input::Output(category, text) => self.output(category, &text),
            Input::Control(event) => {
                if matches!(self.phase, Phase::Preparing { .. }) {
                    self.deferred.push_back(Input::Control(event));
                    return Ok(());
                }
                match event {
                    Ok(event) => self.on_control_event(event),
                    Err(reason) => self.console(&format!("{reason}\n")),
                }
            }
            Input::ControlClosed(reason) => {
                if self.emulator.is_none() {
                    return Ok(());
                }
                self.output(
                    Category::Important,
                    &format!("The debug session ends: {reason}.\n"),
                )?;
                self.emulator = None;
                self.out.raw_event("terminated", json!({}))
            }
            Input::Prepared(result) => self.on_prepared(result),
            Input::Target {
                stream,
                label,
                program,
                channel,
            } => {
                if matches!(self.phase, Phase::Preparing { .. }) {
                    self.deferred.push_back(Input::Target {
                        stream,
                        label,
                        program,
                        channel,
                    });
                    return Ok(());
                }
                if matches!(self.phase, Phase::Ended) {
                    return Ok(());
                }
                match self.add_target(stream, label.clone(), None, &program) {
                    Ok(id) => {
                        if let Some(target) = self.target_mut(id) {
                            target.cloud = Some(cloud::CloudClock::new(channel));
                        }
                        self.console(&format!("Debugging {label} too.\n"))
                    }
                    Err(error) => self.output(Category::Important, &format!("{error}\n")),
                }
            }
        }
    }

    fn handle_request(&mut self, request: dap::requests::Request) -> io::Result<()> {
        use dap::requests::Command;
        let seq = request.seq;
        let name = protocol::command_name(&request.command);
        tracing::trace!(target: "fogbank_dap::session", "request {seq} {name}");
        if self.phase == Phase::New && !matches!(request.command, Command::Initialize(_)) {
            return self.out.error(
                seq,
                &name,
                &format!("`{name}` came before `initialize`; the client must initialize first"),
            );
        }
        let result = match request.command {
            Command::Initialize(args) => self.initialize(&args),
            Command::Launch(args) => self.launch_or_attach(seq, true, args.additional_data),
            Command::Attach(args) => self.launch_or_attach(seq, false, args.additional_data),
            Command::ConfigurationDone => self.configuration_done(seq),
            Command::Disconnect(args) => self.disconnect(seq, args.terminate_debuggee),
            Command::Terminate(_) => self.terminate(seq),
            Command::SetBreakpoints(args) => self.set_breakpoints(&args),
            Command::SetFunctionBreakpoints(args) => self.set_function_breakpoints(&args),
            Command::SetExceptionBreakpoints(args) => self.set_exception_breakpoints(&args),
            Command::Threads => self.threads_request(),
            Command::StackTrace(args) => self.stack_trace(&args),
            Command::Scopes(args) => self.scopes(&args),
            Command::Variables(args) => self.variables(&args),
            Command::Evaluate(args) => self.evaluate(&args),
            Command::Continue(args) => self.continue_request(seq, args.thread_id),
            Command::Next(args) => self.step_request(
                seq,
                "next",
                args.thread_id,
                stepping_kind(args.granularity.as_ref(), stepping::StepKind::Over),
            ),
            Command::StepIn(args) => self.step_request(
                seq,
                "stepIn",
                args.thread_id,
                stepping_kind(args.granularity.as_ref(), stepping::StepKind::Into),
            ),
            Command::StepOut(args) => {
                self.step_request(seq, "stepOut", args.thread_id, stepping::StepKind::Out)
            }
            Command::Pause(args) => self.pause(args.thread_id),
            Command::ReadMemory(args) => self.read_memory(&args),
            Command::Disassemble(args) => self.disassemble(&args),
            Command::ExceptionInfo(args) => self.exception_info(args.thread_id),
            Command::Source(_) => Err(
                "fogbank-dap has no source for this frame; the source file is not on this machine"
                    .into(),
            ),
            Command::Cancel(_) => Ok(Reply::Body(None)),
            other => Err(format!(
                "fogbank-dap does not support the `{}` request",
                protocol::command_name(&other)
            )
            .into()),
        };
        match result {
            Ok(Reply::Body(body)) => self.out.response(seq, &name, body),
            Ok(Reply::Sent | Reply::Later) => Ok(()),
            Err(Failure::Client(error)) => Err(error),
            Err(Failure::Request(message)) => {
                self.out.error(seq, &name, &message)?;
                // Hover and watch evaluations fail all the time while the
                // user moves the mouse; only other failures are echoed.
                if name != "evaluate" {
                    self.console(&format!("{name} failed: {message}\n"))?;
                }
                Ok(())
            }
        }
    }

    /// Writes an `output` event.
    fn output(&mut self, category: Category, text: &str) -> io::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        self.out.raw_event(
            "output",
            json!({ "category": category.as_str(), "output": text }),
        )
    }

    /// Writes a console message.
    fn console(&mut self, text: &str) -> io::Result<()> {
        self.output(Category::Console, text)
    }

    fn target(&self, id: u32) -> Option<&Target> {
        self.targets.iter().find(|target| target.id == id)
    }

    fn target_mut(&mut self, id: u32) -> Option<&mut Target> {
        self.targets.iter_mut().find(|target| target.id == id)
    }

    /// The target and thread behind a DAP thread id.
    fn thread(&self, dap_thread: i64) -> Result<(u32, ThreadId), String> {
        let (target, thread) = self
            .threads
            .lookup(dap_thread)
            .ok_or_else(|| format!("thread {dap_thread} is gone (its instance ended)"))?;
        if self.target(target).is_none() {
            return Err(format!("thread {dap_thread} is gone (its instance ended)"));
        }
        Ok((target, thread))
    }

    /// Loads (or reuses) the program at `path`, returning its index.
    fn load_program(&mut self, path: &Path) -> Result<usize, String> {
        let identity = FileIdentity::of(path);
        if let Some(index) = self.programs.iter().position(|program| {
            program.path == path && program.identity == identity && identity.is_some()
        }) {
            return Ok(index);
        }
        let mut info = DebugInfo::from_file(path).map_err(|error| error.to_string())?;
        if let Some(config) = &self.config
            && !config.source_map.is_empty()
        {
            let mut map = SourceMap::default();
            for (build, local) in &config.source_map {
                map.rules.push((build.clone(), local.clone()));
            }
            info.set_source_map(map);
        }
        if !info.has_dwarf() {
            let message = format!(
                "{} has no debug information: breakpoints on source lines cannot be set. Build it with debug info \
                 (`debug = true` in the cargo profile)\n",
                path.display()
            );
            let _ = self.output(Category::Important, &message);
        }
        self.programs.push(Program {
            path: path.to_path_buf(),
            identity,
            info,
            resolved: HashMap::new(),
            panic_addresses: None,
        });
        Ok(self.programs.len() - 1)
    }

    /// Opens an RSP session with a gdb server over `stream` and adds the
    /// target (stopped, breakpoints installed; resumed when configuration
    /// is done).
    fn add_target(
        &mut self,
        stream: Transport,
        label: String,
        instance: Option<String>,
        program: &Path,
    ) -> Result<u32, String> {
        let program = self.load_program(program)?;
        let runtime = self.runtime.clone();
        let (mut rsp, stop) = runtime
            .block_on(async {
                let mut rsp = tokio::time::timeout(CONNECT_TIMEOUT, RspClient::connect(stream))
                    .await
                    .map_err(|_| "the debug server did not answer within 10 s".to_owned())?
                    .map_err(|error| error.to_string())?;
                let stop = rsp.stop_reason().await.map_err(|error| error.to_string())?;
                Ok::<_, String>((rsp, stop))
            })
            .map_err(|error| format!("connecting to {label}: {error}"))?;
        let bias = runtime
            .block_on(rsp.read_auxv())
            .ok()
            .and_then(|auxv| entry_from_auxv(&auxv))
            .map(|entry| entry.wrapping_sub(self.programs[program].info.entry_point()))
            .unwrap_or(0);
        self.next_target_id += 1;
        let id = self.next_target_id;
        let (thread, pid) = match &stop {
            StopReply::Stopped(details) => (details.thread, details.thread.and_then(|t| t.process)),
            _ => (None, None),
        };
        self.targets.push(Target {
            id,
            label,
            instance,
            rsp,
            program,
            bias,
            running: false,
            activity: stepping::Activity::Free,
            last_resume: None,
            threads: thread.into_iter().collect(),
            threads_fresh: false,
            thread_names: HashMap::new(),
            stop_thread: thread,
            pending_signal: None,
            temporary: Default::default(),
            memory: Default::default(),
            stacks: HashMap::new(),
            held: true,
            pause_requested: false,
            silent_interrupts: 0,
            request_id: None,
            pid,
            cloud: None,
        });
        if let StopReply::Exited { .. } | StopReply::Terminated { .. } = stop {
            self.pending_stops.push_back((id, Ok(stop)));
            return Ok(id);
        }
        self.refresh_threads(id);
        self.sync_breakpoints(id);
        if self.configured {
            self.release(id)
                .map_err(|error| format!("resuming the new target: {error}"))?;
        }
        Ok(id)
    }

    /// Lets a held target go: reports the entry stop, or resumes it.
    fn release(&mut self, id: u32) -> io::Result<()> {
        let stop_on_entry = self
            .config
            .as_ref()
            .is_some_and(|config| config.stop_on_entry);
        let Some(target) = self.target_mut(id) else {
            return Ok(());
        };
        if !target.held {
            return Ok(());
        }
        target.held = false;
        if stop_on_entry {
            let thread = target.default_thread();
            if let Some(thread) = thread {
                return self.report_stop(id, thread, stops::StopKind::Entry);
            }
        }
        self.resume(id, crate::rsp::ResumeAction::Continue)
    }

    /// Stops everything and lets go of the targets and the emulator.
    fn shutdown(&mut self) {
        let runtime = self.runtime.clone();
        let targets = std::mem::take(&mut self.targets);
        let kill = matches!(
            self.config.as_ref().map(|config| &config.kind),
            Some(crate::config::SessionKind::Program(_))
        );
        for mut target in targets {
            runtime.block_on(async {
                if target.running {
                    let _ = target.rsp.interrupt().await;
                    let _ =
                        tokio::time::timeout(Duration::from_secs(2), target.rsp.wait_stop()).await;
                }
                if let (Some(emulator), Some(instance)) = (&self.emulator, &target.instance) {
                    let _ = emulator.control.set_paused(instance, false).await;
                }
                let ended = if kill {
                    target.rsp.kill().await
                } else {
                    target.rsp.detach().await
                };
                if let Err(error) = ended {
                    tracing::debug!(%error, "letting go of a target");
                }
            });
        }
        if let Some(emulator) = self.emulator.take() {
            let result = runtime.block_on(emulator.control.disable_debug(&emulator.logical_id));
            if let Err(error) = result {
                tracing::debug!(%error, "switching debug mode off");
            }
            let live = matches!(
                self.config.as_ref().map(|config| &config.kind),
                Some(crate::config::SessionKind::Emulator(emulator)) if emulator.live.is_some()
            );
            if live {
                let result =
                    runtime.block_on(emulator.control.restore_environment(&emulator.logical_id));
                if let Err(error) = result {
                    tracing::debug!(%error, "restoring the function's own environment");
                }
            }
        }
        if let Some(mut child) = self.child.take() {
            let _ = runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(5), child.wait()).await
            });
        }
    }
}

fn stepping_kind(
    granularity: Option<&dap::types::SteppingGranularity>,
    kind: stepping::StepKind,
) -> stepping::StepKind {
    match granularity {
        Some(dap::types::SteppingGranularity::Instruction) => stepping::StepKind::Instruction,
        _ => kind,
    }
}

/// `AT_ENTRY` from an auxiliary vector (pairs of 64-bit words).
fn entry_from_auxv(auxv: &[u8]) -> Option<u64> {
    const AT_ENTRY: u64 = 9;
    auxv.chunks_exact(16).find_map(|pair| {
        let key = u64::from_le_bytes(pair[..8].try_into().ok()?);
        let value = u64::from_le_bytes(pair[8..].try_into().ok()?);
        (key == AT_ENTRY).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_at_entry() {
        let mut auxv = Vec::new();
        for (key, value) in [(6u64, 4096u64), (9, 0x5555_0000_1234), (0, 0)] {
            auxv.extend_from_slice(&key.to_le_bytes());
            auxv.extend_from_slice(&value.to_le_bytes());
        }
        assert_eq!(entry_from_auxv(&auxv), Some(0x5555_0000_1234));
        assert_eq!(entry_from_auxv(&auxv[..16]), None);
        assert_eq!(entry_from_auxv(&[1, 2, 3]), None);
    }

    #[test]
    fn thread_ids_are_per_target() {
        let mut ids = ThreadIds::default();
        let a = ids.id(1, ThreadId::new(7));
        let b = ids.id(2, ThreadId::new(7));
        assert_ne!(a, b);
        assert_eq!(ids.id(1, ThreadId::new(7)), a);
        assert_eq!(ids.lookup(b), Some((2, ThreadId::new(7))));
        assert_eq!(ids.forget_target(1), vec![a]);
        assert_eq!(ids.lookup(a), None);
        assert!(ids.known(2, ThreadId::new(7)));
        assert_eq!(ids.forget(2, ThreadId::new(7)), Some(b));
    }
}
