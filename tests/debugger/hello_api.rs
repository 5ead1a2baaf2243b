//! The acceptance test of fogbank-dap: a DAP client sending requests in the
//! order VS Code does, on examples/hello-api run by `fogbank start` in a
//! Docker container, triggered by curl through the API gateway.

use std::path::Path;
use std::process::Command;
use std::thread::JoinHandle;
use std::time::Duration;

use expect_test::expect;
use fogbank_tests::{Fogbank, StartOptions};
use serde_json::{Value, json};

use super::support::{
    Dap, STEP, hello_api_copy, hello_api_target, line_of, redact, static_agent, variable,
};

/// curl's answer: status line and body.
struct Curl {
    status: u16,
    body: String,
}

/// Runs curl against the gateway on a thread (the request blocks while the
/// function is stopped).
fn curl(
    gateway: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> JoinHandle<Curl> {
    let url = format!("http://{gateway}{path}");
    let method = method.to_owned();
    let body = body.map(str::to_owned);
    std::thread::spawn(move || {
        let mut command = Command::new("curl");
        command.args([
            "-sS",
            "--max-time",
            "300",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            "-X",
            &method,
            &url,
        ]);
        if let Some(body) = &body {
            command.args([
                "-H",
                "content-type: application/json",
                "--data-binary",
                body,
            ]);
        }
        let output = command.output().unwrap_or_else(|error| {
            panic!("cannot run curl ({error}); install it: apt-get install curl")
        });
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap_or((&text, "0"));
        Curl {
            status: status.trim().parse().unwrap_or(0),
            body: body.to_owned(),
        }
    })
}

fn top_frame(dap: &mut Dap, thread: i64) -> Value {
    dap.stack(thread).into_iter().next().expect("a stack frame")
}

#[test]
fn debugs_hello_api_in_a_container_through_the_gateway() {
    crate::docker::require_docker();
    static_agent();
    let app = hello_api_copy();
    let template = app.path().join("template.yaml");
    let source = app.path().join("src/main.rs");
    let target = hello_api_target().to_string_lossy().into_owned();
    let mut options = StartOptions::new(&template).args(&["--runtime", "docker"]);
    options.env.push(("CARGO_TARGET_DIR".to_owned(), target));
    let fogbank = Fogbank::start_with(options);
    let gateway = fogbank.gateway.expect("hello-api has an HTTP API");

    let mut dap = Dap::start(app.path());
    let capabilities = dap.initialize();
    let launch = dap.launch(
        "launch",
        json!({
            "type": "fogbank",
            "request": "launch",
            "name": "Debug HelloFunction",
            "template": template,
            "function": "HelloFunction",
            "runtime": "docker",
            "controlPort": fogbank.control.port(),
            "__sessionId": "4f1c",
        }),
    );

    // hello-api is built in release mode (with debug info), as `cargo
    // lambda build --release` builds it. (A line whose code is all inlined,
    // like the `length` line, binds to its inlined call; the symbols unit
    // tests cover that.)
    let hello_line = line_of(
        &source,
        "let body = json!({ \"message\": greeting, \"length\": length });",
    );
    let order_line = line_of(&source, "order.total = order_total(&order.items);");
    // The loop of order_total is unrolled in the release build, so the
    // conditional breakpoint and the logpoint sit on straight-line code:
    // the hello breakpoint only stops for Ada, and the logpoint logs the
    // order before its summary is formatted.
    let log_line = line_of(&source, "let summary = format!(");
    let breakpoints = dap.set_breakpoints(
        &source,
        json!([
            { "line": hello_line, "condition": "name == \"Ada\"" },
            { "line": order_line },
            { "line": log_line, "logMessage": "summing up {order.id}: second item {order.items[1].sku}" },
        ]),
    );
    assert!(
        breakpoints.iter().all(|b| b["verified"] == true),
        "{breakpoints:#?}"
    );
    assert_eq!(breakpoints[0]["line"], hello_line);
    dap.client
        .request("setFunctionBreakpoints", json!({ "breakpoints": [] }), STEP);
    dap.client.request(
        "setExceptionBreakpoints",
        json!({ "filters": ["rust_panic"] }),
        STEP,
    );
    dap.client.request("configurationDone", Value::Null, STEP);
    let launched = dap.client.response(launch, STEP);
    assert_eq!(launched.message["success"], true, "{}", launched.message);

    // The conditional breakpoint lets Grace through: her response comes
    // while the breakpoint is set.
    let grace = curl(gateway, "GET", "/hello/Grace", None).join().unwrap();
    assert_eq!(grace.status, 200, "{}", grace.body);
    assert_eq!(
        serde_json::from_str::<Value>(&grace.body).unwrap(),
        json!({ "message": "Hello, Grace!", "length": 13 })
    );

    // A breakpoint in the handler, hit by curl through the gateway.
    let hello = curl(gateway, "GET", "/hello/Ada", None);
    let stopped = dap.stopped(Duration::from_secs(120));
    assert_eq!(stopped["reason"], "breakpoint", "{stopped}");
    let thread = stopped["threadId"].as_i64().unwrap();
    let threads = dap.client.request("threads", Value::Null, STEP);
    let names: Vec<&str> = threads["threads"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.iter().any(|name| name.contains("HelloFunction")),
        "{names:?}"
    );
    let frames = dap.stack(thread);
    let top = &frames[0];
    assert_eq!(
        top["source"]["path"],
        source.to_string_lossy().as_ref(),
        "{top}"
    );
    assert_eq!(top["line"], hello_line, "{top}");
    assert!(top["name"].as_str().unwrap().ends_with("hello"), "{top}");
    let frame = top["id"].as_i64().unwrap();
    let locals = dap.scope_variables(frame, "Locals");
    let greeting = variable(&locals, "greeting");
    assert_eq!(greeting["value"], "\"Hello, Ada!\"", "{greeting}");
    let arguments = dap.scope_variables(frame, "Arguments");
    assert_eq!(variable(&arguments, "name")["value"], "\"Ada\"");
    assert_eq!(dap.evaluate(frame, "greeting")["result"], "\"Hello, Ada!\"");
    expect![[r#"
        {
          "capabilities": {
            "exceptionBreakpointFilters": [
              {
                "default": false,
                "description": "Stop when a Rust function panics, after the panic message is printed.",
                "filter": "rust_panic",
                "label": "Rust panic"
              }
            ],
            "supportTerminateDebuggee": true,
            "supportsCancelRequest": true,
            "supportsConditionalBreakpoints": true,
            "supportsConfigurationDoneRequest": true,
            "supportsDelayedStackTraceLoading": true,
            "supportsDisassembleRequest": true,
            "supportsEvaluateForHovers": true,
            "supportsExceptionInfoRequest": true,
            "supportsFunctionBreakpoints": true,
            "supportsHitConditionalBreakpoints": true,
            "supportsLogPoints": true,
            "supportsReadMemoryRequest": true,
            "supportsSteppingGranularity": true,
            "supportsTerminateRequest": true
          },
          "first breakpoint": {
            "id": "<n>",
            "line": 86,
            "source": {
              "name": "main.rs",
              "path": "$APP/src/main.rs"
            },
            "verified": true
          },
          "stopped": {
            "allThreadsStopped": true,
            "hitBreakpointIds": [
              1
            ],
            "reason": "breakpoint",
            "threadId": "<n>"
          },
          "top frame": {
            "column": "<column>",
            "id": "<n>",
            "instructionPointerReference": "<address>",
            "line": 86,
            "name": "hello_api::hello",
            "presentationHint": "normal",
            "source": {
              "name": "main.rs",
              "path": "$APP/src/main.rs"
            }
          }
        }"#]]
    .assert_eq(
        &serde_json::to_string_pretty(&redact(
            &json!({
                "capabilities": capabilities,
                "first breakpoint": breakpoints[0],
                "stopped": stopped,
                "top frame": with_column_redacted(top),
            }),
            app.path(),
        ))
        .unwrap(),
    );

    // `next` moves to the following line, `stepOut` returns to the caller.
    dap.client
        .request("next", json!({ "threadId": thread }), STEP);
    let stepped = dap.stopped(STEP);
    assert_eq!(stepped["reason"], "step");
    let next_top = top_frame(&mut dap, thread);
    assert_eq!(next_top["line"], hello_line + 1, "{next_top}");
    let greeting = dap.evaluate(next_top["id"].as_i64().unwrap(), "greeting");
    assert_eq!(greeting["result"], "\"Hello, Ada!\"");
    dap.client
        .request("stepOut", json!({ "threadId": thread }), STEP);
    let stepped = dap.stopped(STEP);
    assert_eq!(stepped["reason"], "step");
    let caller = top_frame(&mut dap, thread);
    assert!(
        caller["name"].as_str().unwrap().ends_with("route"),
        "{caller}"
    );
    // stepOut stops at the return address, in `route`. In the release
    // build the call is the last instruction of its line, so the return
    // address starts the row of the code after the `match` (moving the
    // result out): either line belongs to the caller.
    let call_line = line_of(&source, "hello(name)");
    // The closing brace of `route`, three lines after its last arm's body.
    let route_end = line_of(
        &source,
        "&json!({ \"message\": format!(\"no route for {}\", other.unwrap_or(\"(none)\")) }),",
    ) + 3;
    assert!(
        (call_line..=route_end).contains(&caller["line"].as_i64().unwrap()),
        "{caller}"
    );

    // `continue`, and the HTTP response arrives intact.
    dap.client
        .request("continue", json!({ "threadId": thread }), STEP);
    let answer = hello.join().unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        serde_json::from_str::<Value>(&answer.body).unwrap(),
        json!({ "message": "Hello, Ada!", "length": 11 })
    );

    // A struct's fields, stepping in, and a logpoint.
    let order_body = r#"{"id":"o-1001","items":[{"sku":"apple","quantity":3,"unit_price_cents":50},{"sku":"pear","quantity":1,"unit_price_cents":125}]}"#;
    let order = curl(gateway, "POST", "/orders", Some(order_body));
    let stopped = dap.stopped(Duration::from_secs(60));
    assert_eq!(stopped["reason"], "breakpoint");
    let thread = stopped["threadId"].as_i64().unwrap();
    let top = top_frame(&mut dap, thread);
    assert_eq!(top["line"], order_line, "{top}");
    let frame = top["id"].as_i64().unwrap();
    assert_eq!(dap.evaluate(frame, "order.id")["result"], "\"o-1001\"");
    assert_eq!(
        dap.evaluate(frame, "order.items[1].sku")["result"],
        "\"pear\""
    );
    let locals = dap.scope_variables(frame, "Locals");
    let order_variable = variable(&locals, "order");
    let fields = dap.variables(order_variable["variablesReference"].as_i64().unwrap());
    assert_eq!(variable(&fields, "id")["value"], "\"o-1001\"");
    assert_eq!(variable(&fields, "total")["value"], "0");
    dap.client
        .request("stepIn", json!({ "threadId": thread }), STEP);
    assert_eq!(dap.stopped(STEP)["reason"], "step");
    let inside = top_frame(&mut dap, thread);
    assert!(
        inside["name"].as_str().unwrap().ends_with("order_total"),
        "{inside}"
    );
    // Optimised code starts order_total on the loop, not on `total = 0`.
    let (first, last) = (
        line_of(&source, "let mut total = 0;"),
        line_of(&source, "total"),
    );
    assert!(
        (first..=last).contains(&inside["line"].as_i64().unwrap()),
        "{inside}"
    );
    dap.client
        .request("continue", json!({ "threadId": thread }), STEP);
    dap.client
        .output_containing("summing up \"o-1001\": second item \"pear\"", STEP);
    let answer = order.join().unwrap();
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(
        serde_json::from_str::<Value>(&answer.body).unwrap(),
        json!({ "orderId": "o-1001", "itemCount": 4, "totalCents": 275, "summary": "order o-1001 has 4 items totalling 2.75" })
    );

    // A panic, stopped by the "Rust panic" exception filter.
    let panic = curl(gateway, "GET", "/panic", None);
    let stopped = dap.stopped(Duration::from_secs(60));
    assert_eq!(stopped["reason"], "exception", "{stopped}");
    assert_eq!(stopped["description"], "Rust panic");
    let thread = stopped["threadId"].as_i64().unwrap();
    let frames = dap.stack(thread);
    assert!(
        frames.iter().any(|f| f["name"]
            .as_str()
            .is_some_and(|n| n.ends_with("panic_on_purpose"))),
        "{frames:#?}"
    );
    dap.client
        .output_containing("this route panics on purpose", STEP);
    let info = dap
        .client
        .request("exceptionInfo", json!({ "threadId": thread }), STEP);
    assert!(
        info["description"]
            .as_str()
            .unwrap()
            .contains("this route panics on purpose"),
        "{info}"
    );
    dap.client
        .request("continue", json!({ "threadId": thread }), STEP);
    let answer = panic.join().unwrap();
    assert_eq!(answer.status, 500, "{}", answer.body);

    // A breakpoint survives a hot reload. The edit changes the greeting
    // and prints it on the `length` line, keeping the line count: the
    // breakpoint on the `json!` line stays set, and the rebuilt function
    // stops there with the new greeting.
    let edited = std::fs::read_to_string(&source)
        .unwrap()
        .replace("let greeting = format!(\"Hello, {name}!\");", "let greeting = format!(\"Hi, {name}!\");")
        .replace(
            "    let length = greeting.chars().count();\n    let body = json!({ \"message\": greeting, \"length\": length });",
            "    println!(\"greeting {greeting}\");\n    let body = json!({ \"message\": greeting, \"length\": greeting.chars().count() });",
        );
    assert!(
        edited.contains("Hi, {name}!") && edited.contains("println!(\"greeting {greeting}\");")
    );
    std::fs::write(&source, edited).unwrap();
    dap.client
        .output_containing("HelloFunction was reloaded", STEP);
    let reloaded = curl(gateway, "GET", "/hello/Ada", None);
    let stopped = dap.stopped(Duration::from_secs(120));
    assert_eq!(stopped["reason"], "breakpoint", "{stopped}");
    let thread = stopped["threadId"].as_i64().unwrap();
    let top = top_frame(&mut dap, thread);
    assert_eq!(top["line"], hello_line, "{top}");
    assert!(top["name"].as_str().unwrap().ends_with("hello"), "{top}");
    assert_eq!(
        dap.evaluate(top["id"].as_i64().unwrap(), "greeting")["result"],
        "\"Hi, Ada!\""
    );
    dap.client
        .request("continue", json!({ "threadId": thread }), STEP);
    dap.client.output_containing("greeting Hi, Ada!", STEP);
    let answer = reloaded.join().unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        serde_json::from_str::<Value>(&answer.body).unwrap(),
        json!({ "message": "Hi, Ada!", "length": 8 })
    );

    // Disconnecting leaves the emulator running and the function usable.
    dap.client
        .request("disconnect", json!({ "restart": false }), STEP);
    assert!(
        dap.client
            .wait_exit(Duration::from_secs(20))
            .is_some_and(|s| s.success())
    );
    let after = curl(gateway, "GET", "/hello/Bob", None).join().unwrap();
    assert_eq!(after.status, 200, "{}", after.body);
    assert!(after.body.contains("Hi, Bob!"), "{}", after.body);
    drop(fogbank);
    let _ = Path::new("");
}

/// The top frame with its column (compiler-dependent) redacted.
fn with_column_redacted(frame: &Value) -> Value {
    let mut frame = frame.clone();
    frame["column"] = json!("<column>");
    frame
}
