//! The environment a function sees, as Lambda sets it.
//!
//! Both backends build the environment here so that a function behaves the
//! same in a process and in a container; only the paths differ.

use std::path::Path;

use crate::app::{Function, Identity, Runtime};

/// Local endpoints that SDK calls from inside a function are pointed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Base URL of the Lambda Invoke API, e.g. `http://127.0.0.1:3001`.
    pub lambda: String,
    /// Base URL of the SQS API, e.g. `http://127.0.0.1:9324`.
    pub sqs: String,
    pub identity: Identity,
}

/// Where things are, as the function sees its filesystem.
#[derive(Debug, Clone, Copy)]
pub struct Paths<'a> {
    /// `LAMBDA_TASK_ROOT`: the code (`/var/task` in a container).
    pub task_root: &'a Path,
    /// `LAMBDA_RUNTIME_DIR`: the runtime bootstraps (`/var/runtime`).
    pub runtime_dir: &'a Path,
    /// The layers, in order (`/opt` in a container, where they are merged).
    pub layers: &'a [&'a Path],
}

/// Placeholder credentials: real SDKs refuse to sign without some, and
/// Fogbank's servers accept any signature.
pub const ACCESS_KEY_ID: &str = "AKIAFOGBANKLOCAL0000";
pub const SECRET_ACCESS_KEY: &str = "fogbank/local/secret/access/key/0000000000";
pub const SESSION_TOKEN: &str = "fogbank-local-session-token";

/// Builds the full environment for one instance, in a stable order.
///
/// The template's `Environment.Variables` come last and win, except for the
/// variables Lambda reserves (it rejects templates that set them), which are
/// always Fogbank's.
pub fn lambda_environment(
    function: &Function,
    endpoints: &Endpoints,
    runtime_api: &str,
    instance_id: &str,
    paths: Paths<'_>,
) -> Vec<(String, String)> {
    let identity = &endpoints.identity;
    let task_root = paths.task_root.to_string_lossy().into_owned();
    let log_stream = log_stream_name(instance_id);
    let mut env: Vec<(String, String)> = vec![
        ("AWS_LAMBDA_FUNCTION_NAME".into(), function.name.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
            function.memory_mb.to_string(),
        ),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME".into(),
            format!("/aws/lambda/{}", function.name),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME".into(), log_stream),
        ("AWS_LAMBDA_RUNTIME_API".into(), runtime_api.to_owned()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE".into(), "on-demand".into()),
        ("AWS_REGION".into(), identity.region.clone()),
        ("AWS_DEFAULT_REGION".into(), identity.region.clone()),
        (
            "AWS_EXECUTION_ENV".into(),
            format!("AWS_Lambda_{}", function.runtime.id()),
        ),
        ("AWS_ACCESS_KEY_ID".into(), ACCESS_KEY_ID.into()),
        ("AWS_SECRET_ACCESS_KEY".into(), SECRET_ACCESS_KEY.into()),
        ("AWS_SESSION_TOKEN".into(), SESSION_TOKEN.into()),
        ("AWS_ENDPOINT_URL_LAMBDA".into(), endpoints.lambda.clone()),
        ("AWS_ENDPOINT_URL_SQS".into(), endpoints.sqs.clone()),
        (
            "_HANDLER".into(),
            function.handler.clone().unwrap_or_default(),
        ),
        ("LAMBDA_TASK_ROOT".into(), task_root.clone()),
        (
            "LAMBDA_RUNTIME_DIR".into(),
            paths.runtime_dir.to_string_lossy().into_owned(),
        ),
        ("TZ".into(), ":UTC".into()),
        ("LANG".into(), "en_US.UTF-8".into()),
    ];
    match &function.runtime {
        Runtime::Python { .. } => {
            let mut entries = vec![task_root.clone()];
            entries.extend(
                paths
                    .layers
                    .iter()
                    .map(|layer| layer.join("python").to_string_lossy().into_owned()),
            );
            env.push(("PYTHONPATH".into(), entries.join(":")));
            env.push(("PYTHONUNBUFFERED".into(), "1".into()));
            env.push(("PYTHONDONTWRITEBYTECODE".into(), "1".into()));
        }
        Runtime::Node { .. } => {
            let mut entries: Vec<String> = paths
                .layers
                .iter()
                .map(|layer| {
                    layer
                        .join("nodejs/node_modules")
                        .to_string_lossy()
                        .into_owned()
                })
                .collect();
            entries.push(format!("{task_root}/node_modules"));
            env.push(("NODE_PATH".into(), entries.join(":")));
        }
        Runtime::Provided { .. } => {}
    }
    for (key, value) in &function.environment {
        if is_reserved(key) {
            continue;
        }
        match env.iter_mut().find(|(existing, _)| existing == key) {
            Some(slot) => slot.1 = value.clone(),
            None => env.push((key.clone(), value.clone())),
        }
    }
    env
}

/// A cloud sandbox's environment, forwarded by live mode (`fogbank live`,
/// or fogbank-dap's live attach) so that the local run acts with the cloud
/// function's configuration and its real role's temporary credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloudEnvironment {
    /// The variables, in the sandbox's order.
    pub variables: Vec<(String, String)>,
}

/// Variables that describe how the instance runs here, not what the
/// function is: a cloud environment never replaces them.
fn describes_local_process(key: &str) -> bool {
    matches!(
        key,
        "AWS_LAMBDA_RUNTIME_API"
            | "LAMBDA_TASK_ROOT"
            | "LAMBDA_RUNTIME_DIR"
            | "_HANDLER"
            | "PATH"
            | "LD_LIBRARY_PATH"
            | "LD_PRELOAD"
            | "HOME"
            | "PYTHONPATH"
            | "NODE_PATH"
            | "PWD"
            | "HOSTNAME"
    )
}

/// Variables of the cloud sandbox that point at things only reachable from
/// inside it (its X-Ray daemon on a link-local address), dropped so that a
/// local run never sends traffic there.
fn sandbox_only(key: &str) -> bool {
    matches!(
        key,
        "AWS_XRAY_DAEMON_ADDRESS" | "_AWS_XRAY_DAEMON_ADDRESS" | "_AWS_XRAY_DAEMON_PORT"
    )
}

/// Lays a cloud sandbox's environment over a local one.
///
/// The cloud's variables win, including the reserved ones (credentials,
/// region, function name), except those that describe the local process
/// (the Runtime API, the code and runtime paths, the handler). Fogbank's
/// local endpoints (`AWS_ENDPOINT_URL_*`) are removed unless the cloud sets
/// them: with the cloud's credentials, the function's SDK calls go to the
/// same services as in the cloud, which is what live mode is for.
pub fn with_cloud_environment(
    mut env: Vec<(String, String)>,
    cloud: &CloudEnvironment,
) -> Vec<(String, String)> {
    env.retain(|(key, _)| !key.starts_with("AWS_ENDPOINT_URL"));
    for (key, value) in &cloud.variables {
        if describes_local_process(key) || sandbox_only(key) {
            continue;
        }
        match env.iter_mut().find(|(existing, _)| existing == key) {
            Some(slot) => slot.1 = value.clone(),
            None => env.push((key.clone(), value.clone())),
        }
    }
    env
}

/// Lambda's reserved variables: a template cannot override them.
fn is_reserved(key: &str) -> bool {
    matches!(
        key,
        "_HANDLER"
            | "AWS_REGION"
            | "AWS_EXECUTION_ENV"
            | "AWS_LAMBDA_FUNCTION_NAME"
            | "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
            | "AWS_LAMBDA_FUNCTION_VERSION"
            | "AWS_LAMBDA_INITIALIZATION_TYPE"
            | "AWS_LAMBDA_LOG_GROUP_NAME"
            | "AWS_LAMBDA_LOG_STREAM_NAME"
            | "AWS_ACCESS_KEY"
            | "AWS_ACCESS_KEY_ID"
            | "AWS_SECRET_ACCESS_KEY"
            | "AWS_SESSION_TOKEN"
            | "AWS_LAMBDA_RUNTIME_API"
            | "LAMBDA_TASK_ROOT"
            | "LAMBDA_RUNTIME_DIR"
    )
}

/// `2024/01/31/[$LATEST]<32 hex digits>`, the shape of Lambda's stream names.
fn log_stream_name(instance_id: &str) -> String {
    let today = time::OffsetDateTime::now_utc().date();
    let mut hex: String = instance_id
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    hex.truncate(32);
    while hex.len() < 32 {
        hex.push('0');
    }
    format!(
        "{:04}/{:02}/{:02}/[$LATEST]{hex}",
        today.year(),
        u8::from(today.month()),
        today.day()
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::app::{Architecture, BuildMetadata};
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use std::time::Duration;

    fn function(runtime: Runtime, vars: &[(&str, &str)]) -> Function {
        Function {
            logical_id: "Hello".into(),
            name: "Hello".into(),
            code_uri: PathBuf::from("/code"),
            handler: Some("app.handler".into()),
            runtime,
            timeout: Duration::from_secs(3),
            memory_mb: 256,
            ephemeral_storage_mb: 512,
            architecture: Architecture::X86_64,
            environment: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            reserved_concurrency: None,
            layers: vec![],
            events: vec![],
            build: BuildMetadata::default(),
            function_url: None,
        }
    }

    fn check(function: &Function, expected: &[(&str, &str)]) {
        let endpoints = Endpoints {
            lambda: "http://127.0.0.1:3001".into(),
            sqs: "http://127.0.0.1:9324".into(),
            identity: Identity::default(),
        };
        let layer = PathBuf::from("/opt");
        let env = lambda_environment(
            function,
            &endpoints,
            "127.0.0.1:9001",
            "abc123",
            Paths {
                task_root: Path::new("/var/task"),
                runtime_dir: Path::new("/var/runtime"),
                layers: &[layer.as_path()],
            },
        );
        for (key, value) in expected {
            let found = env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
            assert_eq!(found, Some(*value), "{key}");
        }
    }

    #[test]
    fn a_cloud_environment_wins_except_for_the_local_process() {
        let local = vec![
            (
                "AWS_LAMBDA_RUNTIME_API".to_owned(),
                "127.0.0.1:9001".to_owned(),
            ),
            ("AWS_ACCESS_KEY_ID".to_owned(), ACCESS_KEY_ID.to_owned()),
            ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
            (
                "AWS_ENDPOINT_URL_SQS".to_owned(),
                "http://127.0.0.1:9324".to_owned(),
            ),
            ("_HANDLER".to_owned(), "app.handler".to_owned()),
            ("PYTHONPATH".to_owned(), "/code".to_owned()),
        ];
        let cloud = CloudEnvironment {
            variables: [
                ("AWS_ACCESS_KEY_ID", "ASIACLOUD"),
                ("AWS_SESSION_TOKEN", "cloud-token"),
                ("AWS_REGION", "eu-west-1"),
                ("ORDERS_TABLE", "orders-prod"),
                ("_HANDLER", "cloud.handler"),
                ("PYTHONPATH", "/var/runtime"),
                ("AWS_LAMBDA_RUNTIME_API", "169.254.100.1:9001"),
                ("AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129:2000"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        };
        let env = with_cloud_environment(local, &cloud);
        let shown: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            shown,
            [
                "AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001",
                "AWS_ACCESS_KEY_ID=ASIACLOUD",
                "AWS_REGION=eu-west-1",
                "_HANDLER=app.handler",
                "PYTHONPATH=/code",
                "AWS_SESSION_TOKEN=cloud-token",
                "ORDERS_TABLE=orders-prod",
            ]
        );
    }

    #[test]
    fn lambda_variables_are_set() {
        let f = function(
            Runtime::Python {
                id: "python3.12".into(),
                minor: 12,
            },
            &[],
        );
        check(
            &f,
            &[
                ("AWS_LAMBDA_FUNCTION_NAME", "Hello"),
                ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
                ("AWS_REGION", "us-east-1"),
                ("AWS_DEFAULT_REGION", "us-east-1"),
                ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
                ("_HANDLER", "app.handler"),
                ("LAMBDA_TASK_ROOT", "/var/task"),
                ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/Hello"),
                ("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:3001"),
                ("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:9324"),
                ("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12"),
                ("PYTHONPATH", "/var/task:/opt/python"),
            ],
        );
    }

    #[test]
    fn template_variables_override_but_not_reserved_ones() {
        let f = function(
            Runtime::Provided {
                id: "provided.al2023".into(),
            },
            &[
                ("TABLE", "orders"),
                ("AWS_REGION", "eu-west-1"),
                ("AWS_ENDPOINT_URL_SQS", "http://elsewhere"),
            ],
        );
        check(
            &f,
            &[
                ("TABLE", "orders"),
                ("AWS_REGION", "us-east-1"),
                ("AWS_ENDPOINT_URL_SQS", "http://elsewhere"),
            ],
        );
    }

    #[test]
    fn log_stream_has_lambda_shape() {
        let name = log_stream_name("0123456789abcdefXYZ");
        assert!(
            name.ends_with("/[$LATEST]0123456789abcdef0000000000000000"),
            "{name}"
        );
    }
}
