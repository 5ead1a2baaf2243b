//! The API Gateway emulation through `fogbank start` as a real process:
//! the events functions receive (snapshots, checked against AWS's field
//! lists and against SAM CLI's generated events), every error path, CORS,
//! Lambda and JWT authorizers, function URLs, the three examples, and bad
//! input. Slow tier: each test starts fogbank on kernel-chosen ports.
//!
//! Most tests run `fixtures/echo`, whose function answers with the event it
//! received (or misbehaves when asked through `x-echo-mode`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bad_input;
mod behaviour;
mod events;
mod examples;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use fogbank_tests::http::{self, Response};
use fogbank_tests::{Fogbank, StartOptions, copy_dir};
use serde_json::Value;

/// A fixture under `tests/gateway/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("gateway/fixtures")
        .join(name)
}

/// The echo fixture, copied to a temporary directory and started.
pub struct Echo {
    pub fogbank: Fogbank,
    pub gateway: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Echo {
    pub fn start() -> Echo {
        Echo::start_with(&[], &[])
    }

    pub fn start_with(args: &[&str], env: &[(&str, &str)]) -> Echo {
        let dir = copy_dir(&fixture("echo"));
        let template = dir.path().join("template.yaml");
        let mut options = StartOptions::new(&template).args(args);
        options
            .env
            .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let fogbank = Fogbank::start_with(options);
        let gateway = fogbank
            .gateway
            .expect("fogbank printed its API Gateway address");
        Echo {
            fogbank,
            gateway,
            _dir: dir,
        }
    }

    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        send(self.gateway, method, path, headers, body)
    }

    /// The event the echo function received for a request.
    pub fn event(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Value {
        let response = self.send(method, path, headers, body);
        assert_eq!(
            response.status,
            200,
            "{method} {path}: {}\n{}",
            response.text(),
            self.fogbank.output()
        );
        response.json()["event"].clone()
    }
}

/// One request on a fresh connection, failing the test after 30 s.
pub fn send(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let body = bytes::Bytes::copy_from_slice(body);
    runtime.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(30),
            http::send(address, method, path, headers, body),
        )
        .await
        .unwrap_or_else(|_| panic!("{method} {path}: no answer within 30 s"))
    })
}

/// Replaces what changes from run to run (IDs, times, ports, trace IDs)
/// with placeholders, so events can be compared with snapshots.
pub fn normalize(value: &mut Value, port: u16) {
    const MASKED: &[(&str, &str)] = &[
        ("requestId", "<request-id>"),
        ("extendedRequestId", "<request-id>"),
        ("time", "<time>"),
        ("requestTime", "<time>"),
        ("x-amzn-trace-id", "<trace-id>"),
        ("X-Amzn-Trace-Id", "<trace-id>"),
    ];
    const ZEROED: &[&str] = &[
        "timeEpoch",
        "requestTimeEpoch",
        "integrationLatency",
        "exp",
        "iat",
    ];
    let port_text = port.to_string();
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if let Some((_, placeholder)) = MASKED.iter().find(|(k, _)| k == key) {
                    *item = match item {
                        Value::Array(items) => {
                            Value::Array(items.iter().map(|_| Value::from(*placeholder)).collect())
                        }
                        _ => Value::from(*placeholder),
                    };
                } else if ZEROED.contains(&key.as_str()) && (item.is_number() || item.is_string()) {
                    *item = Value::from(0);
                } else {
                    normalize(item, port);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| normalize(item, port)),
        Value::String(text) if text.contains(&port_text) => {
            *text = text.replace(&port_text, "<port>");
        }
        _ => {}
    }
}

/// Every leaf path of a JSON document (`requestContext.http.method`),
/// stopping at `opaque` maps whose keys are data (headers, parameters).
pub fn field_paths(value: &Value, opaque: &[&str]) -> std::collections::BTreeSet<String> {
    fn walk(
        value: &Value,
        prefix: &str,
        opaque: &[&str],
        out: &mut std::collections::BTreeSet<String>,
    ) {
        match value {
            Value::Object(map) if !opaque.contains(&prefix) => {
                for (key, item) in map {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(item, &path, opaque, out);
                }
            }
            _ => {
                out.insert(prefix.to_owned());
            }
        }
    }
    let mut out = std::collections::BTreeSet::new();
    walk(value, "", opaque, &mut out);
    out
}
