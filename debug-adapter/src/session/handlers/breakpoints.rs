//! setBreakpoints, setFunctionBreakpoints and setExceptionBreakpoints, and
//! resolving breakpoints in a program's symbols.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::{Value, json};

use super::super::breakpoints::{
    Found, HitCondition, RUST_PANIC_FILTER, RUST_PANIC_FUNCTION, StopOptions,
};
use super::super::target::Resolved;
use super::super::{HandlerResult, Reply, Session};

/// The options of a requested breakpoint; blank texts mean none. A hit
/// condition that does not parse is dropped and its problem returned.
fn stop_options(
    condition: Option<&str>,
    hit_condition: Option<&str>,
    log_message: Option<&str>,
) -> (StopOptions, Option<String>) {
    let (hit_condition, problem) = match hit_condition.map(str::trim) {
        Some(text) if !text.is_empty() => match HitCondition::parse(text) {
            Ok(condition) => (Some(condition), None),
            Err(error) => (None, Some(error)),
        },
        _ => (None, None),
    };
    let options = StopOptions {
        condition: condition
            .filter(|c| !c.trim().is_empty())
            .map(str::to_owned),
        hit_condition,
        log_message: log_message.filter(|m| !m.is_empty()).map(str::to_owned),
        hits: 0,
    };
    (options, problem)
}

impl<W: Write> Session<W> {
    pub(in crate::session) fn set_breakpoints(
        &mut self,
        args: &dap::requests::SetBreakpointsArguments,
    ) -> HandlerResult {
        let path = args.source.path.clone().ok_or(
            "setBreakpoints needs `source.path`: fogbank-dap sets breakpoints in files on disk",
        )?;
        let mut problems = Vec::new();
        let requested: Vec<(u32, StopOptions)> = args
            .breakpoints
            .iter()
            .flatten()
            .map(|breakpoint| {
                let (options, problem) = stop_options(
                    breakpoint.condition.as_deref(),
                    breakpoint.hit_condition.as_deref(),
                    breakpoint.log_message.as_deref(),
                );
                problems.push(problem);
                let line = u32::try_from(breakpoint.line.max(1)).unwrap_or(u32::MAX);
                (line, options)
            })
            .collect();
        let specs = self.breakpoints.set_source(&path, requested);
        let ids: Vec<i64> = specs.iter().map(|spec| spec.id).collect();
        self.install_breakpoints(&ids, problems)
    }

    pub(in crate::session) fn set_function_breakpoints(
        &mut self,
        args: &dap::requests::SetFunctionBreakpointsArguments,
    ) -> HandlerResult {
        let mut problems = Vec::new();
        let requested: Vec<(String, StopOptions)> = args
            .breakpoints
            .iter()
            .map(|breakpoint| {
                let (options, problem) = stop_options(
                    breakpoint.condition.as_deref(),
                    breakpoint.hit_condition.as_deref(),
                    None,
                );
                problems.push(problem);
                (breakpoint.name.trim().to_owned(), options)
            })
            .collect();
        let specs = self.breakpoints.set_functions(requested);
        let ids: Vec<i64> = specs.iter().map(|spec| spec.id).collect();
        self.install_breakpoints(&ids, problems)
    }

    /// Resolves the breakpoints `ids` in the current program, installs them
    /// in every target, and answers with their views; a breakpoint whose
    /// options could not be parsed is reported unverified with `problem`.
    fn install_breakpoints(&mut self, ids: &[i64], problems: Vec<Option<String>>) -> HandlerResult {
        if let Some(program) = self.current_program {
            self.resolve_in(program, ids);
        }
        let mut views = Vec::new();
        for (id, problem) in ids.iter().zip(problems) {
            let mut view = self.breakpoint_view(*id);
            if let Some(problem) = problem {
                view["verified"] = Value::Bool(false);
                view["message"] = Value::String(problem);
            }
            views.push(view);
        }
        self.on_every_target(|session, id| session.sync_breakpoints(id));
        Ok(Reply::Body(Some(json!({ "breakpoints": views }))))
    }

    pub(in crate::session) fn set_exception_breakpoints(
        &mut self,
        args: &dap::requests::SetExceptionBreakpointsArguments,
    ) -> HandlerResult {
        let unknown: Vec<&String> = args
            .filters
            .iter()
            .filter(|f| *f != RUST_PANIC_FILTER)
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "unknown exception filters {unknown:?}; fogbank-dap offers \"{RUST_PANIC_FILTER}\""
            )
            .into());
        }
        self.breakpoints.panic = args.filters.iter().any(|f| f == RUST_PANIC_FILTER);
        let mut found = None;
        if self.breakpoints.panic
            && let Some(program) = self.current_program
        {
            self.resolve_panic(program);
            found = self.programs[program]
                .panic_addresses
                .as_ref()
                .map(|a| !a.is_empty());
        }
        self.on_every_target(|session, id| session.sync_breakpoints(id));
        let views: Vec<Value> = args
            .filters
            .iter()
            .map(|_| match found {
                Some(false) => json!({
                    "verified": false,
                    "message": format!("the program has no `{RUST_PANIC_FUNCTION}` function (is it a Rust program?)"),
                }),
                _ => json!({ "verified": true }),
            })
            .collect();
        Ok(Reply::Body(Some(json!({ "breakpoints": views }))))
    }

    /// Resolves the given breakpoints in a program (once each).
    pub(in crate::session) fn resolve_in(&mut self, program: usize, ids: &[i64]) {
        let Some(loaded) = self.programs.get_mut(program) else {
            return;
        };
        loaded.info.set_load_bias(0);
        for id in ids {
            if loaded.resolved.contains_key(id) {
                continue;
            }
            let resolved = match self.breakpoints.find(*id) {
                Some(Found::Line(path, spec)) => {
                    match loaded.info.resolve_line_breakpoint(path, spec.line) {
                        Ok(Some(found)) if !found.addresses.is_empty() => Some(Resolved {
                            line: Some(found.line),
                            path: Some(found.path),
                            addresses: found.addresses,
                        }),
                        _ => None,
                    }
                }
                Some(Found::Function(spec)) => {
                    match loaded.info.resolve_function_breakpoint(&spec.name) {
                        Ok(found) if !found.is_empty() => Some(Resolved {
                            line: found
                                .first()
                                .and_then(|f| f.location.as_ref())
                                .map(|l| l.line),
                            path: found
                                .first()
                                .and_then(|f| f.location.as_ref())
                                .map(|l| l.path.clone()),
                            addresses: found.iter().map(|f| f.address).collect(),
                        }),
                        _ => None,
                    }
                }
                None => continue,
            };
            loaded.resolved.insert(*id, resolved);
        }
    }

    /// Finds the panic hook in a program (once).
    pub(in crate::session) fn resolve_panic(&mut self, program: usize) {
        let Some(loaded) = self.programs.get_mut(program) else {
            return;
        };
        if loaded.panic_addresses.is_some() {
            return;
        }
        loaded.info.set_load_bias(0);
        let addresses = loaded
            .info
            .resolve_function_breakpoint(RUST_PANIC_FUNCTION)
            .map(|found| found.iter().map(|f| f.address).collect())
            .unwrap_or_default();
        loaded.panic_addresses = Some(addresses);
    }

    /// A breakpoint as the client sees it, resolved in the current program.
    pub(in crate::session) fn breakpoint_view(&self, id: i64) -> Value {
        let found = self.breakpoints.find(id);
        let requested_line = match found {
            Some(Found::Line(_, spec)) => Some(spec.line),
            _ => None,
        };
        let source_path = match found {
            Some(Found::Line(path, _)) => Some(path.to_owned()),
            _ => None,
        };
        let Some(program) = self
            .current_program
            .and_then(|index| self.programs.get(index))
        else {
            return json!({
                "id": id,
                "verified": false,
                "line": requested_line,
                "message": "the program's symbols are not loaded yet",
            });
        };
        match program.resolved.get(&id) {
            Some(Some(resolved)) => json!({
                "id": id,
                "verified": true,
                "line": resolved.line.or(requested_line),
                "source": source_path.or_else(|| resolved.path.clone()).map(|path| json!({
                    "name": std::path::Path::new(&path).file_name().map(|n| n.to_string_lossy().into_owned()),
                    "path": path,
                })),
            }),
            _ => {
                let message = match found {
                    Some(Found::Line(path, spec)) => format!(
                        "no code at or after line {} of {path} in {}",
                        spec.line,
                        program.path.display()
                    ),
                    Some(Found::Function(spec)) => {
                        format!(
                            "no function named `{}` in {}",
                            spec.name,
                            program.path.display()
                        )
                    }
                    None => "unknown breakpoint".to_owned(),
                };
                json!({ "id": id, "verified": false, "line": requested_line, "message": message })
            }
        }
    }

    /// Every breakpoint's view, resolving them in the current program.
    pub(in crate::session) fn breakpoint_views(&mut self) -> BTreeMap<i64, Value> {
        let ids = self.breakpoints.ids();
        if let Some(program) = self.current_program {
            self.resolve_in(program, &ids);
        }
        ids.into_iter()
            .map(|id| (id, self.breakpoint_view(id)))
            .collect()
    }
}
