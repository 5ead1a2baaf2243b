//! DAP messages on the wire: decoding a frame's JSON into a typed request
//! (the `dap` crate's [`Command`]), and writing responses and events with
//! sequence numbers.
//!
//! Where the `dap` crate falls short, this module adjusts at the edge:
//! - requests it cannot decode (unknown commands, wrong argument shapes)
//!   become [`Incoming::BadRequest`], answered with an error response
//!   instead of being dropped;
//! - argument-less commands sent with `"arguments": {}` are accepted;
//! - its `Option` fields serialise as `null`, which some clients treat as a
//!   present value, so outgoing messages are written without `null`
//!   members;
//! - error responses carry the structured `body.error` message DAP
//!   specifies (the crate puts it at the top level).

use std::io::{self, Write};

use dap::requests::{Command, Request};
use serde_json::{Map, Value, json};

use crate::codec;

/// A decoded frame from the client.
#[derive(Debug)]
pub enum Incoming {
    /// A request the adapter understands.
    Request(Box<Request>),
    /// A request whose command or arguments could not be decoded.
    BadRequest {
        /// Its sequence number, for the error response.
        seq: i64,
        /// Its command.
        command: String,
        /// Why it could not be decoded.
        reason: String,
    },
    /// A message that is not a request (a response to a reverse request,
    /// or an event): nothing to do.
    NotARequest,
    /// Not a DAP message at all.
    Malformed(String),
}

/// Commands without arguments: the `dap` crate models them as unit
/// variants, which refuse an `arguments` member.
const ARGUMENTLESS: &[&str] = &["configurationDone", "threads", "loadedSources"];

/// Decodes one frame's body.
pub fn decode(body: &[u8]) -> Incoming {
    let mut value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(error) => {
            let excerpt: String = String::from_utf8_lossy(body).chars().take(80).collect();
            return Incoming::Malformed(format!(
                "a DAP message is not valid JSON ({error}): {excerpt:?}"
            ));
        }
    };
    let Some(object) = value.as_object_mut() else {
        return Incoming::Malformed("a DAP message is not a JSON object".to_owned());
    };
    match object.get("type").and_then(Value::as_str) {
        Some("request") => {}
        Some("response" | "event") => return Incoming::NotARequest,
        Some(other) => {
            return Incoming::Malformed(format!("a DAP message has the unknown type {other:?}"));
        }
        None => return Incoming::Malformed("a DAP message has no `type`".to_owned()),
    }
    let Some(seq) = object.get("seq").and_then(Value::as_i64) else {
        return Incoming::Malformed("a DAP request has no numeric `seq`".to_owned());
    };
    let Some(command) = object
        .get("command")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return Incoming::BadRequest {
            seq,
            command: String::new(),
            reason: "the request has no `command`".to_owned(),
        };
    };
    if ARGUMENTLESS.contains(&command.as_str()) {
        object.remove("arguments");
    }
    // Launch and attach carry adapter-specific attributes only; DAP allows
    // clients to omit `arguments` there.
    if matches!(
        command.as_str(),
        "launch" | "attach" | "disconnect" | "terminate"
    ) && !object.contains_key("arguments")
    {
        object.insert("arguments".to_owned(), Value::Object(Map::new()));
    }
    if command == "setBreakpoints" {
        rename_source_breakpoint_fields(&mut value);
    }
    match serde_json::from_value::<Request>(value) {
        Ok(request) => Incoming::Request(Box::new(request)),
        Err(error) => Incoming::BadRequest {
            seq,
            reason: if error.to_string().starts_with("unknown variant") {
                format!("fogbank-dap does not support the `{command}` request")
            } else {
                format!("the arguments of `{command}` are not valid: {error}")
            },
            command,
        },
    }
}

/// The `dap` crate's `SourceBreakpoint` lacks serde's camelCase renaming,
/// so it would drop `hitCondition` and `logMessage`: they are renamed to
/// the field names it reads before decoding.
fn rename_source_breakpoint_fields(request: &mut Value) {
    let Some(breakpoints) = request
        .pointer_mut("/arguments/breakpoints")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for breakpoint in breakpoints.iter_mut().filter_map(Value::as_object_mut) {
        for (wire, field) in [
            ("hitCondition", "hit_condition"),
            ("logMessage", "log_message"),
        ] {
            if let Some(value) = breakpoint.remove(wire) {
                breakpoint.insert(field.to_owned(), value);
            }
        }
    }
}

/// The name of a command as it appears on the wire (for responses).
pub fn command_name(command: &Command) -> String {
    // The enum is adjacently tagged, so its serialised form starts with
    // the command name; serialising only to read the tag back is cheap
    // for the small argument structs involved.
    match serde_json::to_value(CommandTag(command)) {
        Ok(Value::String(name)) => name,
        _ => "unknown".to_owned(),
    }
}

/// Serialises just the tag of a [`Command`].
struct CommandTag<'a>(&'a Command);

impl serde::Serialize for CommandTag<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let name = match self.0 {
            Command::Attach(_) => "attach",
            Command::BreakpointLocations(_) => "breakpointLocations",
            Command::Completions(_) => "completions",
            Command::ConfigurationDone => "configurationDone",
            Command::Continue(_) => "continue",
            Command::DataBreakpointInfo(_) => "dataBreakpointInfo",
            Command::Disassemble(_) => "disassemble",
            Command::Disconnect(_) => "disconnect",
            Command::Evaluate(_) => "evaluate",
            Command::ExceptionInfo(_) => "exceptionInfo",
            Command::Goto(_) => "goto",
            Command::GotoTargets(_) => "gotoTargets",
            Command::Initialize(_) => "initialize",
            Command::Launch(_) => "launch",
            Command::LoadedSources => "loadedSources",
            Command::Modules(_) => "modules",
            Command::Next(_) => "next",
            Command::Pause(_) => "pause",
            Command::ReadMemory(_) => "readMemory",
            Command::Restart(_) => "restart",
            Command::RestartFrame(_) => "restartFrame",
            Command::ReverseContinue(_) => "reverseContinue",
            Command::Scopes(_) => "scopes",
            Command::SetBreakpoints(_) => "setBreakpoints",
            Command::SetDataBreakpoints(_) => "setDataBreakpoints",
            Command::SetExceptionBreakpoints(_) => "setExceptionBreakpoints",
            Command::SetExpression(_) => "setExpression",
            Command::SetFunctionBreakpoints(_) => "setFunctionBreakpoints",
            Command::SetInstructionBreakpoints(_) => "setInstructionBreakpoints",
            Command::SetVariable(_) => "setVariable",
            Command::Source(_) => "source",
            Command::StackTrace(_) => "stackTrace",
            Command::StepBack(_) => "stepBack",
            Command::StepIn(_) => "stepIn",
            Command::StepInTargets(_) => "stepInTargets",
            Command::StepOut(_) => "stepOut",
            Command::Terminate(_) => "terminate",
            Command::TerminateThreads(_) => "terminateThreads",
            Command::Threads => "threads",
            Command::Variables(_) => "variables",
            Command::WriteMemory(_) => "writeMemory",
            Command::Cancel(_) => "cancel",
        };
        serializer.serialize_str(name)
    }
}

/// Removes `null` members from objects, recursively (see the module docs).
pub fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, member| !member.is_null());
            for member in map.values_mut() {
                strip_nulls(member);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// Writes messages to the client, numbering them.
#[derive(Debug)]
pub struct Sender<W> {
    writer: W,
    seq: i64,
}

impl<W: Write> Sender<W> {
    /// A sender writing frames to `writer`.
    pub fn new(writer: W) -> Sender<W> {
        Sender { writer, seq: 0 }
    }

    /// A successful response; `body` is the response body, if any.
    pub fn response(
        &mut self,
        request_seq: i64,
        command: &str,
        body: Option<Value>,
    ) -> io::Result<()> {
        let mut message = json!({
            "type": "response",
            "request_seq": request_seq,
            "success": true,
            "command": command,
        });
        if let (Some(body), Some(object)) = (body, message.as_object_mut()) {
            object.insert("body".to_owned(), body);
        }
        self.send(message)
    }

    /// An error response. `message` is shown to the user.
    pub fn error(&mut self, request_seq: i64, command: &str, message: &str) -> io::Result<()> {
        self.send(json!({
            "type": "response",
            "request_seq": request_seq,
            "success": false,
            "command": command,
            "message": message,
            "body": { "error": { "id": 1, "format": message, "showUser": false } },
        }))
    }

    /// An event given as the `dap` crate's type.
    pub fn event(&mut self, event: &dap::events::Event) -> io::Result<()> {
        let mut value = serde_json::to_value(event)
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
        if let Some(object) = value.as_object_mut() {
            object.insert("type".to_owned(), Value::from("event"));
        }
        self.send(value)
    }

    /// An event given as a name and a JSON body (for events or fields the
    /// `dap` crate lacks).
    pub fn raw_event(&mut self, event: &str, body: Value) -> io::Result<()> {
        self.send(json!({ "type": "event", "event": event, "body": body }))
    }

    fn send(&mut self, mut message: Value) -> io::Result<()> {
        strip_nulls(&mut message);
        self.seq += 1;
        if let Some(object) = message.as_object_mut() {
            object.insert("seq".to_owned(), Value::from(self.seq));
        }
        let body = serde_json::to_vec(&message)
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
        self.writer.write_all(&codec::encode(&body))?;
        self.writer.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    fn check(body: &str, expected: Expect) {
        let rendered = match decode(body.as_bytes()) {
            Incoming::Request(request) => {
                format!("request {} {}", request.seq, command_name(&request.command))
            }
            Incoming::BadRequest {
                seq,
                command,
                reason,
            } => format!("bad request {seq} {command:?}: {reason}"),
            Incoming::NotARequest => "not a request".to_owned(),
            Incoming::Malformed(reason) => format!("malformed: {reason}"),
        };
        expected.assert_eq(&rendered);
    }

    #[test]
    fn decodes_requests() {
        check(
            r#"{"seq":1,"type":"request","command":"initialize","arguments":{"adapterID":"fogbank"}}"#,
            expect!["request 1 initialize"],
        );
        check(
            r#"{"seq":2,"type":"request","command":"configurationDone","arguments":{}}"#,
            expect!["request 2 configurationDone"],
        );
        check(
            r#"{"seq":3,"type":"request","command":"threads"}"#,
            expect!["request 3 threads"],
        );
        check(
            r#"{"seq":4,"type":"request","command":"launch"}"#,
            expect!["request 4 launch"],
        );
        check(
            r#"{"seq":5,"type":"request","command":"launch","arguments":{"template":"t.yaml","function":"F","__restart":1}}"#,
            expect!["request 5 launch"],
        );
    }

    #[test]
    #[allow(clippy::unwrap_used, clippy::panic)]
    fn source_breakpoints_keep_hit_conditions_and_log_messages() {
        let body = br#"{"seq":3,"type":"request","command":"setBreakpoints","arguments":{"source":{"path":"/a.rs"},"breakpoints":[{"line":4,"condition":"x == 1","hitCondition":">= 2","logMessage":"x is {x}"}]}}"#;
        let Incoming::Request(request) = decode(body) else {
            panic!("not decoded");
        };
        let Command::SetBreakpoints(arguments) = request.command else {
            panic!("not setBreakpoints");
        };
        let breakpoint = &arguments.breakpoints.unwrap()[0];
        assert_eq!(breakpoint.condition.as_deref(), Some("x == 1"));
        assert_eq!(breakpoint.hit_condition.as_deref(), Some(">= 2"));
        assert_eq!(breakpoint.log_message.as_deref(), Some("x is {x}"));
    }

    #[test]
    fn reports_what_it_cannot_decode() {
        check(
            r#"{"seq":7,"type":"request","command":"frobnicate","arguments":{}}"#,
            expect![
                "bad request 7 \"frobnicate\": fogbank-dap does not support the `frobnicate` request"
            ],
        );
        check(
            r#"{"seq":8,"type":"request","command":"next","arguments":{"threadId":"one"}}"#,
            expect![[
                r#"bad request 8 "next": the arguments of `next` are not valid: invalid type: string "one", expected i64"#
            ]],
        );
        check(
            r#"{"seq":9,"type":"request"}"#,
            expect![[r#"bad request 9 "": the request has no `command`"#]],
        );
        check(
            r#"{"seq":1,"type":"response","request_seq":1,"success":true,"command":"runInTerminal"}"#,
            expect!["not a request"],
        );
        check(
            "[1,2]",
            expect!["malformed: a DAP message is not a JSON object"],
        );
        check(
            "{not json",
            expect![[
                r#"malformed: a DAP message is not valid JSON (key must be a string at line 1 column 2): "{not json""#
            ]],
        );
        check(
            r#"{"type":"request","command":"threads"}"#,
            expect!["malformed: a DAP request has no numeric `seq`"],
        );
    }

    #[test]
    fn writes_messages_without_nulls() {
        let mut sender = Sender::new(Vec::new());
        sender
            .event(&dap::events::Event::Stopped(
                dap::events::StoppedEventBody {
                    reason: dap::types::StoppedEventReason::Breakpoint,
                    description: None,
                    thread_id: Some(1),
                    preserve_focus_hint: None,
                    text: None,
                    all_threads_stopped: Some(true),
                    hit_breakpoint_ids: Some(vec![3]),
                },
            ))
            .ok();
        sender.response(4, "next", None).ok();
        sender
            .error(5, "evaluate", "cannot evaluate `x`: no variable `x`")
            .ok();
        let text = String::from_utf8(sender.writer).unwrap_or_default();
        expect![[r#"
            Content-Length: 134

            {"body":{"allThreadsStopped":true,"hitBreakpointIds":[3],"reason":"breakpoint","threadId":1},"event":"stopped","seq":1,"type":"event"}Content-Length: 75

            {"command":"next","request_seq":4,"seq":2,"success":true,"type":"response"}Content-Length: 220

            {"body":{"error":{"format":"cannot evaluate `x`: no variable `x`","id":1,"showUser":false}},"command":"evaluate","message":"cannot evaluate `x`: no variable `x`","request_seq":5,"seq":3,"success":false,"type":"response"}"#]]
        .assert_eq(&text.replace("\r\n", "\n"));
    }
}
