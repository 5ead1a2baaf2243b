//! Choosing the runtime at start-up: Docker when an engine answers, else
//! the process runtime, with a one-line notice saying why.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::engine::{self, Engine};
use super::{DockerBackend, DockerError, DockerSettings};
use crate::app::Function;
use crate::backend::Backend;
use crate::backend::process::ProcessBackend;
use crate::console::Console;
use crate::runtimes::RuntimeFiles;

/// The runtime the user asked for (`--runtime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuntimeRequest {
    /// Docker when an engine answers, else the process runtime.
    #[default]
    Auto,
    Docker,
    Process,
}

impl std::str::FromStr for RuntimeRequest {
    type Err = String;

    fn from_str(text: &str) -> Result<RuntimeRequest, String> {
        match text {
            "auto" => Ok(RuntimeRequest::Auto),
            "docker" => Ok(RuntimeRequest::Docker),
            "process" => Ok(RuntimeRequest::Process),
            other => Err(format!(
                "unknown runtime `{other}`; use docker, process or auto"
            )),
        }
    }
}

/// How functions are run: the `--runtime`, `--image` and `--pull` options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeOptions {
    pub request: RuntimeRequest,
    /// `--image RUNTIME=IMAGE`, by runtime identifier.
    pub images: BTreeMap<String, String>,
    /// `--pull`: pull images that are not present locally.
    pub pull: bool,
}

impl RuntimeOptions {
    /// Parses one `--image RUNTIME=IMAGE` value.
    pub fn parse_image(value: &str) -> Result<(String, String), String> {
        match value.split_once('=') {
            Some((runtime, image)) if !runtime.is_empty() && !image.is_empty() => {
                Ok((runtime.to_owned(), image.to_owned()))
            }
            _ => Err(format!(
                "--image `{value}` should be RUNTIME=IMAGE, for example python3.12=my/python:dev"
            )),
        }
    }
}

/// Builds the backend `options` ask for. In automatic mode, an engine that
/// is missing or does not answer selects the process runtime and prints why;
/// `--runtime docker` turns the same situation into an error. With Docker,
/// every function's image is made ready before this returns.
pub async fn select(
    options: &RuntimeOptions,
    runtime_files: RuntimeFiles,
    app: &str,
    functions: &[Arc<Function>],
    console: &Console,
) -> Result<Arc<dyn Backend>, DockerError> {
    let process = |runtime_files: RuntimeFiles| -> Arc<dyn Backend> {
        Arc::new(ProcessBackend::new(runtime_files))
    };
    let engine = match options.request {
        RuntimeRequest::Process => {
            if !options.images.is_empty() || options.pull {
                console.line("note: --image and --pull apply to the Docker runtime only");
            }
            return Ok(process(runtime_files));
        }
        RuntimeRequest::Docker => Engine::connect().await.map_err(DockerError::Unreachable)?,
        RuntimeRequest::Auto => {
            if let Err(reason) = engine::configured_endpoint() {
                console.line(&format!(
                    "note: no Docker engine found ({reason}); functions run as host processes \
                     (--runtime process)"
                ));
                return Ok(process(runtime_files));
            }
            match Engine::connect().await {
                Ok(engine) => engine,
                Err(error) => {
                    console.line(&format!(
                        "note: {error}; functions run as host processes (--runtime process). Start \
                         the engine, or pass --runtime docker to insist"
                    ));
                    return Ok(process(runtime_files));
                }
            }
        }
    };
    let backend = DockerBackend::with_engine(
        engine,
        DockerSettings {
            runtime_files,
            images: options.images.clone(),
            pull: options.pull,
            app: app.to_owned(),
            console: console.clone(),
        },
    )?;
    backend.prepare(functions).await?;
    Ok(Arc::new(backend))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]
    use super::*;

    #[test]
    fn image_options_are_parsed() {
        let check = |value: &str, expected: Result<(&str, &str), &str>| match (
            RuntimeOptions::parse_image(value),
            expected,
        ) {
            (Ok((runtime, image)), Ok((want_runtime, want_image))) => {
                assert_eq!(
                    (runtime.as_str(), image.as_str()),
                    (want_runtime, want_image)
                );
            }
            (Err(error), Err(fragment)) => assert!(error.contains(fragment), "{error}"),
            (got, _) => panic!("unexpected {got:?} for {value}"),
        };
        check(
            "python3.12=my/python:dev",
            Ok(("python3.12", "my/python:dev")),
        );
        check(
            "nodejs20.x=registry:5000/node=x",
            Ok(("nodejs20.x", "registry:5000/node=x")),
        );
        check("python3.12", Err("RUNTIME=IMAGE"));
        check("=img", Err("RUNTIME=IMAGE"));
        check("python3.12=", Err("RUNTIME=IMAGE"));
    }

    #[test]
    fn runtime_names_are_parsed() {
        assert_eq!("docker".parse(), Ok(RuntimeRequest::Docker));
        assert_eq!("process".parse(), Ok(RuntimeRequest::Process));
        assert_eq!("auto".parse(), Ok(RuntimeRequest::Auto));
        assert!("podman".parse::<RuntimeRequest>().is_err());
    }
}
