//! threads, stackTrace, scopes, variables, evaluate and exceptionInfo.

use std::io::Write;
use std::rc::Rc;

use serde_json::{Value, json};

use super::super::handles::{FrameRef, ScopeKind, VarRef};
use super::super::to_proto;
use super::super::{HandlerResult, Reply, Session};
use crate::symbols::{FrameVariables, Variable};

impl<W: Write> Session<W> {
    pub(in crate::session) fn threads_request(&mut self) -> HandlerResult {
        let ids: Vec<u32> = self.targets.iter().map(|target| target.id).collect();
        let mut threads = Vec::new();
        for id in ids {
            self.refresh_threads(id);
            let Some(target) = self.target(id) else {
                continue;
            };
            let label = target.label.clone();
            let request = target
                .request_id
                .as_deref()
                .map(|request| format!(", request {}", request.get(..8).unwrap_or(request)))
                .unwrap_or_default();
            let listed: Vec<(crate::rsp::ThreadId, Option<String>)> = target
                .threads
                .iter()
                .map(|thread| (*thread, target.thread_names.get(thread).cloned()))
                .collect();
            let process = target.pid;
            for (thread, name) in listed {
                let dap = self.threads.id(id, thread);
                let main = process.is_some_and(|pid| pid == thread.thread);
                let name = format!(
                    "{} {}{} — {label}{request}",
                    name.unwrap_or_else(|| "thread".to_owned()),
                    thread.thread,
                    if main { " (main)" } else { "" },
                );
                threads.push(json!({ "id": dap, "name": name }));
            }
        }
        Ok(Reply::Body(Some(json!({ "threads": threads }))))
    }

    pub(in crate::session) fn stack_trace(
        &mut self,
        args: &dap::requests::StackTraceArguments,
    ) -> HandlerResult {
        let (id, thread) = self.thread(args.thread_id)?;
        if self.target(id).is_some_and(|target| target.running) {
            return Err("the thread is running; pause it to see its stack"
                .to_owned()
                .into());
        }
        let stack = self.stack(id, thread)?;
        let mut frames = Vec::new();
        for (physical, frame) in stack.trace.frames.iter().enumerate() {
            let levels = stack
                .levels
                .get(physical)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let count = levels.len().max(1);
            for depth in 0..count {
                frames.push((physical, depth, levels.get(depth).cloned(), frame.pc));
            }
        }
        let total = frames.len();
        let start = usize::try_from(args.start_frame.unwrap_or(0).max(0)).unwrap_or(0);
        let levels = match args.levels {
            Some(levels) if levels > 0 => usize::try_from(levels).unwrap_or(usize::MAX),
            _ => usize::MAX,
        };
        let mut out = Vec::new();
        for (physical, depth, level, pc) in frames.into_iter().skip(start).take(levels) {
            let frame_id = self.handles.frame_id(FrameRef {
                target: id,
                thread,
                physical,
                depth,
            });
            let exists = level
                .as_ref()
                .and_then(|level| level.location.as_ref())
                .is_some_and(|location| {
                    *self
                        .source_exists
                        .entry(location.path.clone())
                        .or_insert_with(|| std::path::Path::new(&location.path).is_file())
                });
            out.push(to_proto::stack_frame(frame_id, level.as_ref(), pc, exists));
        }
        Ok(Reply::Body(Some(
            json!({ "stackFrames": out, "totalFrames": total }),
        )))
    }

    pub(in crate::session) fn scopes(
        &mut self,
        args: &dap::requests::ScopesArguments,
    ) -> HandlerResult {
        let frame = self
            .handles
            .frame(args.frame_id)
            .ok_or_else(|| format!("frame {} is gone (the thread ran)", args.frame_id))?;
        let variables = self.frame_variables(args.frame_id, frame)?;
        let mut scopes = Vec::new();
        for (name, kind, hint, count) in [
            (
                "Locals",
                ScopeKind::Locals,
                "locals",
                Some(variables.locals.len()),
            ),
            (
                "Arguments",
                ScopeKind::Arguments,
                "arguments",
                Some(variables.arguments.len()),
            ),
            ("Registers", ScopeKind::Registers, "registers", None),
        ] {
            let reference = self.handles.var_ref(VarRef::Scope {
                frame: args.frame_id,
                kind,
            });
            scopes.push(json!({
                "name": name,
                "presentationHint": hint,
                "variablesReference": reference,
                "namedVariables": count,
                "expensive": false,
            }));
        }
        Ok(Reply::Body(Some(json!({ "scopes": scopes }))))
    }

    pub(in crate::session) fn variables(
        &mut self,
        args: &dap::requests::VariablesArguments,
    ) -> HandlerResult {
        let var = self
            .handles
            .var(args.variables_reference)
            .cloned()
            .ok_or_else(|| {
                format!(
                    "variables reference {} is gone (the thread ran)",
                    args.variables_reference
                )
            })?;
        let out: Vec<Value> = match var {
            VarRef::Scope { frame, kind } => {
                let frame_ref = self
                    .handles
                    .frame(frame)
                    .ok_or("the frame is gone (the thread ran)")?;
                match kind {
                    ScopeKind::Locals => {
                        let variables = self.frame_variables(frame, frame_ref)?;
                        self.variable_values(frame, &variables.locals)
                    }
                    ScopeKind::Arguments => {
                        let variables = self.frame_variables(frame, frame_ref)?;
                        self.variable_values(frame, &variables.arguments)
                    }
                    ScopeKind::Registers => self.registers(frame_ref)?,
                }
            }
            VarRef::Value { frame, handle } => {
                let frame_ref = self
                    .handles
                    .frame(frame)
                    .ok_or("the frame is gone (the thread ran)")?;
                let named_only = matches!(
                    args.filter,
                    Some(dap::types::VariablesArgumentsFilter::Named)
                );
                let children = if named_only {
                    Vec::new()
                } else {
                    match (args.start, args.count) {
                        (Some(start), Some(count)) if count > 0 => self
                            .with_symbols(frame_ref.target, |info, memory| {
                                info.children_range(
                                    &handle,
                                    u64::try_from(start.max(0)).unwrap_or(0),
                                    u64::try_from(count).unwrap_or(0),
                                    memory,
                                )
                            })
                            .unwrap_or_default(),
                        _ => self
                            .with_symbols(frame_ref.target, |info, memory| {
                                info.children(&handle, memory)
                            })
                            .unwrap_or_default(),
                    }
                };
                self.variable_values(frame, &children)
            }
        };
        Ok(Reply::Body(Some(json!({ "variables": out }))))
    }

    pub(in crate::session) fn evaluate(
        &mut self,
        args: &dap::requests::EvaluateArguments,
    ) -> HandlerResult {
        let frame_id = match args.frame_id {
            Some(frame_id) => frame_id,
            None => self.default_frame()?,
        };
        let frame = self
            .handles
            .frame(frame_id)
            .ok_or_else(|| format!("frame {frame_id} is gone (the thread ran)"))?;
        let stack = self.stack(frame.target, frame.thread)?;
        let physical = stack
            .trace
            .frames
            .get(frame.physical)
            .cloned()
            .ok_or("the frame is gone")?;
        let result = self
            .with_symbols(frame.target, |info, memory| {
                info.evaluate(&args.expression, &physical, frame.depth, memory)
            })
            .ok_or("the target is gone")?
            .map_err(|error| error.to_string())?;
        let reference = self.children_reference(frame_id, &result);
        Ok(Reply::Body(Some(json!({
            "result": result.value,
            "type": (!result.type_name.is_empty()).then_some(&result.type_name),
            "variablesReference": reference,
            "indexedVariables": result.indexed_children,
            "memoryReference": result.address.map(to_proto::memory_reference),
        }))))
    }

    pub(in crate::session) fn exception_info(&mut self, dap_thread: i64) -> HandlerResult {
        self.thread(dap_thread)?;
        let message = self.panic_message();
        Ok(Reply::Body(Some(json!({
            "exceptionId": "rust_panic",
            "description": message.clone().unwrap_or_else(|| "Rust panic".to_owned()),
            "breakMode": "always",
            "details": { "message": message, "typeName": "panic" },
        }))))
    }

    /// The top frame of the first stopped thread (for evaluations without
    /// a frame, such as the debug console's).
    fn default_frame(&mut self) -> Result<i64, String> {
        let stopped = self
            .targets
            .iter()
            .find(|target| !target.running)
            .and_then(|target| Some((target.id, target.default_thread()?)))
            .ok_or("nothing is stopped: pause the function or wait for a breakpoint")?;
        Ok(self.handles.frame_id(FrameRef {
            target: stopped.0,
            thread: stopped.1,
            physical: 0,
            depth: 0,
        }))
    }

    /// A frame's arguments and locals, read once per stop.
    fn frame_variables(
        &mut self,
        frame_id: i64,
        frame: FrameRef,
    ) -> Result<Rc<FrameVariables>, String> {
        if let Some(cached) = self.handles.variables(frame_id) {
            return Ok(cached);
        }
        let stack = self.stack(frame.target, frame.thread)?;
        let physical = stack
            .trace
            .frames
            .get(frame.physical)
            .cloned()
            .ok_or("the frame is gone")?;
        let variables = self
            .with_symbols(frame.target, |info, memory| {
                info.frame_variables(&physical, frame.depth, memory)
            })
            .ok_or("the target is gone")?
            .map_err(|error| error.to_string())?;
        let variables = Rc::new(variables);
        self.handles.store_variables(frame_id, variables.clone());
        Ok(variables)
    }

    fn variable_values(&mut self, frame: i64, variables: &[Variable]) -> Vec<Value> {
        variables
            .iter()
            .map(|variable| {
                let reference = self.children_reference(frame, variable);
                to_proto::variable(variable, reference)
            })
            .collect()
    }

    fn children_reference(&mut self, frame: i64, variable: &Variable) -> i64 {
        match &variable.children {
            Some(handle) => self.handles.var_ref(VarRef::Value {
                frame,
                handle: handle.clone(),
            }),
            None => 0,
        }
    }

    /// The registers of a frame: all of them for the top frame, the ones
    /// unwinding recovered for callers.
    fn registers(&mut self, frame: FrameRef) -> Result<Vec<Value>, String> {
        if frame.physical == 0 {
            let runtime = self.runtime.clone();
            let target = self.target_mut(frame.target).ok_or("the target is gone")?;
            let registers = runtime
                .block_on(target.rsp.read_registers(frame.thread))
                .map_err(|error| error.to_string())?;
            let layout = target.rsp.layout();
            return Ok(layout
                .registers()
                .iter()
                .filter(|info| info.size <= 8)
                .filter_map(|info| {
                    let value = registers.value(layout, &info.name)?;
                    Some(json!({
                        "name": info.name,
                        "value": format!("{value:#x}"),
                        "variablesReference": 0,
                    }))
                })
                .collect());
        }
        let stack = self.stack(frame.target, frame.thread)?;
        let physical = stack
            .trace
            .frames
            .get(frame.physical)
            .ok_or("the frame is gone")?;
        Ok(physical
            .registers
            .iter()
            .map(|(name, _, value)| json!({ "name": name, "value": format!("{value:#x}"), "variablesReference": 0 }))
            .collect())
    }
}
