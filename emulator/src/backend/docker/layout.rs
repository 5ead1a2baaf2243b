//! Lambda's sandbox as a container: which command runs, what is mounted
//! where, the environment and the limits. Pure: it turns an instance's spec
//! into a [`ContainerConfig`] and is tested without an engine.
//!
//! Inside every container:
//! - the code at `/var/task`, read-only, also the working directory;
//! - the layers at `/opt`, read-only (several layers are merged into one
//!   directory first, later layers winning, as Lambda extracts them);
//! - the runtime bootstrap at `/var/runtime` (Fogbank's, or the image's own
//!   in AWS's Lambda images);
//! - a writable tmpfs `/tmp` of EphemeralStorage MB; the rest of the root
//!   filesystem is read-only;
//! - Lambda's sandbox user (993:990), host networking, MemorySize as the
//!   memory limit with no swap, Lambda's process and open-file limits.

use std::collections::BTreeMap;
use std::path::Path;

use super::engine::{Bind, ContainerConfig};
use super::image::{HostInterpreter, ImageKind, SANDBOX_USER};
use crate::app::Runtime;
use crate::backend::InstanceSpec;
use crate::backend::environment::{self, Paths};

pub(crate) const TASK_ROOT: &str = "/var/task";
pub(crate) const RUNTIME_DIR: &str = "/var/runtime";
pub(crate) const LAYERS_DIR: &str = "/opt";
/// The output FIFO, inside the container.
pub(crate) const OUTPUT: &str = "/var/fogbank/output";
/// The debugger's agent, inside the container.
pub(crate) const AGENT: &str = "/var/fogbank/agent";

/// Lambda's limits on processes/threads and open files.
const PIDS_LIMIT: i64 = 1024;
const OPEN_FILES_LIMIT: i64 = 1024;

/// Lambda's PATH and library path, for images that do not bring their own.
const LAMBDA_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/opt/bin";
const LAMBDA_LIBRARY_PATH: &str =
    "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib";

/// Everything that decides one container's configuration.
pub(crate) struct Layout<'a> {
    pub spec: &'a InstanceSpec,
    pub name: String,
    pub image: &'a str,
    pub kind: ImageKind,
    /// The host interpreter (base image, Python and Node functions).
    pub interpreter: Option<&'a HostInterpreter>,
    /// The host's system directories (base image only).
    pub host_system: &'a [Bind],
    /// Fogbank's bootstraps on the host.
    pub runtime_files: &'a Path,
    /// The (merged) layers on the host, if the function has any.
    pub layers: Option<&'a Path>,
    /// The output FIFO on the host.
    pub fifo: &'a Path,
    pub labels: BTreeMap<String, String>,
}

/// The container configuration for one instance.
pub(crate) fn container_config(layout: &Layout<'_>) -> ContainerConfig {
    let spec = layout.spec;
    let function = &spec.function;

    let mut command = Vec::new();
    if let Some(debug) = &spec.debug {
        command.extend([
            AGENT.to_owned(),
            "--listen".to_owned(),
            format!("127.0.0.1:{}", debug.rsp_port),
            "--".to_owned(),
        ]);
    }
    command.extend(runtime_command(
        layout.kind,
        &function.runtime,
        layout.interpreter,
    ));

    let mut binds = vec![Bind {
        source: host_path(&spec.code_dir),
        target: TASK_ROOT.to_owned(),
        read_only: true,
    }];
    if layout.kind != ImageKind::Lambda {
        binds.push(Bind {
            source: host_path(layout.runtime_files),
            target: RUNTIME_DIR.to_owned(),
            read_only: true,
        });
    }
    if let Some(layers) = layout.layers {
        binds.push(Bind {
            source: host_path(layers),
            target: LAYERS_DIR.to_owned(),
            read_only: true,
        });
    }
    binds.push(Bind {
        source: host_path(layout.fifo),
        target: OUTPUT.to_owned(),
        read_only: false,
    });
    if let Some(debug) = &spec.debug {
        binds.push(Bind {
            source: host_path(&debug.agent),
            target: AGENT.to_owned(),
            read_only: true,
        });
    }
    if layout.kind == ImageKind::Base {
        binds.extend(layout.host_system.iter().cloned());
        if let Some(extra) = layout.interpreter.and_then(|i| i.extra.clone()) {
            binds.push(extra);
        }
    }

    let layer_paths = [Path::new(LAYERS_DIR)];
    let runtime_api = spec.runtime_api.to_string();
    let mut env = environment::lambda_environment(
        function,
        &spec.endpoints,
        &runtime_api,
        &spec.instance_id,
        Paths {
            task_root: Path::new(TASK_ROOT),
            runtime_dir: Path::new(RUNTIME_DIR),
            layers: if layout.layers.is_some() {
                &layer_paths
            } else {
                &[]
            },
        },
    );
    if let Some(cloud) = &spec.cloud_environment {
        env = environment::with_cloud_environment(env, cloud);
    }
    if layout.kind == ImageKind::Base {
        env.push(("PATH".to_owned(), LAMBDA_PATH.to_owned()));
        env.push(("LD_LIBRARY_PATH".to_owned(), LAMBDA_LIBRARY_PATH.to_owned()));
    }

    let (cap_add, security_opt) = if spec.debug.is_some() {
        // The agent traces the bootstrap; the engine's default seccomp
        // profile refuses some of the calls a debugger needs.
        (
            vec!["SYS_PTRACE".to_owned()],
            vec!["seccomp=unconfined".to_owned()],
        )
    } else {
        (Vec::new(), Vec::new())
    };

    ContainerConfig {
        name: layout.name.clone(),
        image: layout.image.to_owned(),
        // A shell sends the runtime's stdout and stderr into the output
        // FIFO (see output.rs) and then becomes the runtime.
        entrypoint: vec![
            "/bin/sh".to_owned(),
            "-c".to_owned(),
            format!("exec \"$@\" >{OUTPUT} 2>&1"),
            "bootstrap".to_owned(),
        ],
        cmd: command,
        env: env
            .into_iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect(),
        working_dir: TASK_ROOT.to_owned(),
        user: SANDBOX_USER.to_owned(),
        labels: layout.labels.clone(),
        binds,
        tmpfs: vec![(
            "/tmp".to_owned(),
            format!("rw,exec,size={}m,mode=1777", function.ephemeral_storage_mb),
        )],
        memory_bytes: i64::from(function.memory_mb) * 1024 * 1024,
        pids_limit: PIDS_LIMIT,
        open_files_limit: OPEN_FILES_LIMIT,
        read_only_root: true,
        cap_add,
        security_opt,
    }
}

/// The command that starts the function's runtime.
fn runtime_command(
    kind: ImageKind,
    runtime: &Runtime,
    interpreter: Option<&HostInterpreter>,
) -> Vec<String> {
    let bootstrap = |file: &str| format!("{RUNTIME_DIR}/{file}");
    match (runtime, kind) {
        // Provided runtimes run the function's own bootstrap everywhere.
        (Runtime::Provided { .. }, _) => vec![format!("{TASK_ROOT}/bootstrap")],
        (_, ImageKind::Lambda) => vec![bootstrap("bootstrap")],
        (Runtime::Python { .. }, _) => vec![
            interpreter.map_or_else(|| "python3".to_owned(), |i| i.program.clone()),
            bootstrap("python/bootstrap.py"),
        ],
        (Runtime::Node { .. }, _) => vec![
            interpreter.map_or_else(|| "node".to_owned(), |i| i.program.clone()),
            bootstrap("node/bootstrap.mjs"),
        ],
    }
}

fn host_path(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

/// A valid, readable container name: `fogbank-<function>-<instance>`.
pub(crate) fn container_name(logical_id: &str, instance_id: &str) -> String {
    let function: String = logical_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(48)
        .collect();
    format!(
        "fogbank-{function}-{}",
        &instance_id[..instance_id.len().min(16)]
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::app::{Architecture, BuildMetadata, Function, Identity};
    use crate::backend::DebugLaunch;
    use crate::backend::environment::Endpoints;
    use crate::console::Console;
    use crate::invoke::output::InstanceOutput;
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::time::Duration;

    fn spec(runtime: Runtime, debug: bool) -> InstanceSpec {
        let function = Function {
            logical_id: "Hello".into(),
            name: "Hello".into(),
            code_uri: PathBuf::from("/app/src"),
            handler: Some("app.handler".into()),
            runtime,
            timeout: Duration::from_secs(3),
            memory_mb: 256,
            ephemeral_storage_mb: 1024,
            architecture: Architecture::X86_64,
            environment: [("TABLE".to_owned(), "orders".to_owned())]
                .into_iter()
                .collect(),
            reserved_concurrency: None,
            layers: vec![],
            events: vec![],
            build: BuildMetadata::default(),
            function_url: None,
        };
        InstanceSpec {
            function: Arc::new(function),
            code_dir: PathBuf::from("/app/src"),
            instance_id: "0123456789abcdef0123".into(),
            runtime_api: "127.0.0.1:40000".parse().unwrap(),
            endpoints: Endpoints {
                lambda: "http://127.0.0.1:3001".into(),
                sqs: "http://127.0.0.1:9324".into(),
                identity: Identity::default(),
            },
            output: Arc::new(InstanceOutput::new("Hello".into(), Console::silent(), None)),
            debug: debug.then(|| DebugLaunch {
                agent: PathBuf::from("/host/fogbank-agent"),
                rsp_port: 2345,
            }),
            cloud_environment: None,
        }
    }

    /// Renders the parts of a configuration that tests pin down.
    fn render(config: &ContainerConfig) -> String {
        let mut out = String::new();
        out.push_str(&format!("image: {}\n", config.image));
        out.push_str(&format!("entrypoint: {:?}\n", config.entrypoint));
        out.push_str(&format!("cmd: {:?}\n", config.cmd));
        out.push_str(&format!(
            "user: {}  workdir: {}\n",
            config.user, config.working_dir
        ));
        for bind in &config.binds {
            let mode = if bind.read_only { "ro" } else { "rw" };
            out.push_str(&format!(
                "bind: {} -> {} ({mode})\n",
                bind.source, bind.target
            ));
        }
        for (target, options) in &config.tmpfs {
            out.push_str(&format!("tmpfs: {target} {options}\n"));
        }
        out.push_str(&format!(
            "memory: {} MiB, pids {}, nofile {}, read-only root {}\n",
            config.memory_bytes >> 20,
            config.pids_limit,
            config.open_files_limit,
            config.read_only_root
        ));
        if !config.cap_add.is_empty() {
            out.push_str(&format!(
                "cap_add: {:?} security_opt: {:?}\n",
                config.cap_add, config.security_opt
            ));
        }
        for entry in &config.env {
            if [
                "PATH=",
                "PYTHONPATH=",
                "NODE_PATH=",
                "LAMBDA_",
                "AWS_LAMBDA_RUNTIME_API=",
                "TABLE=",
                "_HANDLER=",
            ]
            .iter()
            .any(|prefix| entry.starts_with(prefix))
            {
                out.push_str(&format!("env: {entry}\n"));
            }
        }
        out
    }

    fn check(
        spec: &InstanceSpec,
        kind: ImageKind,
        layers: Option<&str>,
        expected: expect_test::Expect,
    ) {
        let interpreter = HostInterpreter {
            program: "/usr/bin/python3.11".into(),
            extra: None,
        };
        let host_system = [Bind {
            source: "/usr".into(),
            target: "/usr".into(),
            read_only: true,
        }];
        let layout = Layout {
            spec,
            name: container_name(&spec.function.logical_id, &spec.instance_id),
            image: "img:1",
            kind,
            interpreter: matches!(spec.function.runtime, Runtime::Python { .. })
                .then_some(&interpreter),
            host_system: &host_system,
            runtime_files: Path::new("/state/runtime"),
            layers: layers.map(Path::new),
            fifo: Path::new("/tmp/fifo/0123"),
            labels: BTreeMap::new(),
        };
        expected.assert_eq(&render(&container_config(&layout)));
    }

    fn python() -> Runtime {
        Runtime::Python {
            id: "python3.12".into(),
            minor: 12,
        }
    }

    #[test]
    fn python_in_the_base_image() {
        check(
            &spec(python(), false),
            ImageKind::Base,
            Some("/state/layers/Hello"),
            expect_test::expect![[r#"
                image: img:1
                entrypoint: ["/bin/sh", "-c", "exec \"$@\" >/var/fogbank/output 2>&1", "bootstrap"]
                cmd: ["/usr/bin/python3.11", "/var/runtime/python/bootstrap.py"]
                user: 993:990  workdir: /var/task
                bind: /app/src -> /var/task (ro)
                bind: /state/runtime -> /var/runtime (ro)
                bind: /state/layers/Hello -> /opt (ro)
                bind: /tmp/fifo/0123 -> /var/fogbank/output (rw)
                bind: /usr -> /usr (ro)
                tmpfs: /tmp rw,exec,size=1024m,mode=1777
                memory: 256 MiB, pids 1024, nofile 1024, read-only root true
                env: AWS_LAMBDA_RUNTIME_API=127.0.0.1:40000
                env: _HANDLER=app.handler
                env: LAMBDA_TASK_ROOT=/var/task
                env: LAMBDA_RUNTIME_DIR=/var/runtime
                env: PYTHONPATH=/var/task:/opt/python
                env: TABLE=orders
                env: PATH=/usr/local/bin:/usr/bin:/bin:/opt/bin
            "#]],
        );
    }

    #[test]
    fn python_in_an_aws_lambda_image_runs_its_own_bootstrap() {
        check(
            &spec(python(), false),
            ImageKind::Lambda,
            None,
            expect_test::expect![[r#"
                image: img:1
                entrypoint: ["/bin/sh", "-c", "exec \"$@\" >/var/fogbank/output 2>&1", "bootstrap"]
                cmd: ["/var/runtime/bootstrap"]
                user: 993:990  workdir: /var/task
                bind: /app/src -> /var/task (ro)
                bind: /tmp/fifo/0123 -> /var/fogbank/output (rw)
                tmpfs: /tmp rw,exec,size=1024m,mode=1777
                memory: 256 MiB, pids 1024, nofile 1024, read-only root true
                env: AWS_LAMBDA_RUNTIME_API=127.0.0.1:40000
                env: _HANDLER=app.handler
                env: LAMBDA_TASK_ROOT=/var/task
                env: LAMBDA_RUNTIME_DIR=/var/runtime
                env: PYTHONPATH=/var/task
                env: TABLE=orders
            "#]],
        );
    }

    #[test]
    fn node_in_a_plain_image_uses_its_node() {
        check(
            &spec(
                Runtime::Node {
                    id: "nodejs20.x".into(),
                    major: 20,
                },
                false,
            ),
            ImageKind::Plain,
            None,
            expect_test::expect![[r#"
                image: img:1
                entrypoint: ["/bin/sh", "-c", "exec \"$@\" >/var/fogbank/output 2>&1", "bootstrap"]
                cmd: ["node", "/var/runtime/node/bootstrap.mjs"]
                user: 993:990  workdir: /var/task
                bind: /app/src -> /var/task (ro)
                bind: /state/runtime -> /var/runtime (ro)
                bind: /tmp/fifo/0123 -> /var/fogbank/output (rw)
                tmpfs: /tmp rw,exec,size=1024m,mode=1777
                memory: 256 MiB, pids 1024, nofile 1024, read-only root true
                env: AWS_LAMBDA_RUNTIME_API=127.0.0.1:40000
                env: _HANDLER=app.handler
                env: LAMBDA_TASK_ROOT=/var/task
                env: LAMBDA_RUNTIME_DIR=/var/runtime
                env: NODE_PATH=/var/task/node_modules
                env: TABLE=orders
            "#]],
        );
    }

    #[test]
    fn a_debugged_provided_function_runs_under_the_agent() {
        check(
            &spec(
                Runtime::Provided {
                    id: "provided.al2023".into(),
                },
                true,
            ),
            ImageKind::Lambda,
            None,
            expect_test::expect![[r#"
                image: img:1
                entrypoint: ["/bin/sh", "-c", "exec \"$@\" >/var/fogbank/output 2>&1", "bootstrap"]
                cmd: ["/var/fogbank/agent", "--listen", "127.0.0.1:2345", "--", "/var/task/bootstrap"]
                user: 993:990  workdir: /var/task
                bind: /app/src -> /var/task (ro)
                bind: /tmp/fifo/0123 -> /var/fogbank/output (rw)
                bind: /host/fogbank-agent -> /var/fogbank/agent (ro)
                tmpfs: /tmp rw,exec,size=1024m,mode=1777
                memory: 256 MiB, pids 1024, nofile 1024, read-only root true
                cap_add: ["SYS_PTRACE"] security_opt: ["seccomp=unconfined"]
                env: AWS_LAMBDA_RUNTIME_API=127.0.0.1:40000
                env: _HANDLER=app.handler
                env: LAMBDA_TASK_ROOT=/var/task
                env: LAMBDA_RUNTIME_DIR=/var/runtime
                env: TABLE=orders
            "#]],
        );
    }

    #[test]
    fn container_names_are_valid() {
        assert_eq!(
            container_name("Hello", "0123456789abcdef0123"),
            "fogbank-Hello-0123456789abcdef"
        );
        assert_eq!(container_name("A.B C", "12"), "fogbank-A-B-C-12");
    }
}
