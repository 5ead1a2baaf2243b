//! `AWS::Serverless::Function` resources to [`Function`]s.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use super::diagnostic::{Pos, Sink, Site};
use super::model::{
    ApiRoute, Architecture, BuildMetadata, Cors, Event, EventKind, Function, FunctionUrl, Runtime,
    SqsMapping,
};
use super::read::{self, Props};
use super::resolve::{IMPLICIT_HTTP_API, IMPLICIT_REST_API, Resolver};
use super::template::Resource;
use super::yaml::{Map, Node, Value};

/// Every property of `AWS::Serverless::Function` that SAM accepts.
const KNOWN_PROPERTIES: &[&str] = &[
    "FunctionName",
    "Handler",
    "Runtime",
    "CodeUri",
    "ImageUri",
    "PackageType",
    "InlineCode",
    "DeadLetterQueue",
    "Description",
    "MemorySize",
    "Timeout",
    "VpcConfig",
    "Role",
    "AssumeRolePolicyDocument",
    "Policies",
    "RolePath",
    "PermissionsBoundary",
    "Environment",
    "Events",
    "Tags",
    "PropagateTags",
    "Tracing",
    "KmsKeyArn",
    "DeploymentPreference",
    "ReservedConcurrentExecutions",
    "Layers",
    "EventInvokeConfig",
    "EphemeralStorage",
    "AutoPublishAlias",
    "AutoPublishCodeSha256",
    "AutoPublishAliasAllProperties",
    "VersionDescription",
    "ProvisionedConcurrencyConfig",
    "FileSystemConfigs",
    "ImageConfig",
    "CodeSigningConfigArn",
    "Architectures",
    "SnapStart",
    "FunctionUrlConfig",
    "RuntimeManagementConfig",
    "LoggingConfig",
    "RecursiveLoop",
    "SourceKMSKeyArn",
    "CapacityProviderConfig",
    "FunctionScalingConfig",
    "VersionDeletionPolicy",
    "PublishToLatestPublished",
    "TenancyConfig",
    "DurableConfig",
];

/// The properties the loader evaluates; the others are only checked for
/// references.
const READ_PROPERTIES: &[&str] = &[
    "Handler",
    "Runtime",
    "CodeUri",
    "InlineCode",
    "ImageUri",
    "PackageType",
    "MemorySize",
    "Timeout",
    "Environment",
    "ReservedConcurrentExecutions",
    "Layers",
    "Events",
    "EphemeralStorage",
    "Architectures",
    "FunctionUrlConfig",
];

/// Environment variables Lambda reserves for itself and refuses in a
/// function's configuration.
const RESERVED_ENVIRONMENT: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_REGION",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "LAMBDA_RUNTIME_DIR",
    "LAMBDA_TASK_ROOT",
];

/// The runtimes Fogbank runs, as listed in messages.
pub(crate) const SUPPORTED_RUNTIMES: &str = "provided, provided.al2, provided.al2023, python3.9, \
     python3.10, python3.11, python3.12, python3.13, python3.14, nodejs18.x, nodejs20.x, \
     nodejs22.x, nodejs24.x";

/// Parses a runtime identifier; `None` when Fogbank cannot run it.
pub(crate) fn parse_runtime(id: &str) -> Option<Runtime> {
    match id {
        "provided" | "provided.al2" | "provided.al2023" => {
            return Some(Runtime::Provided { id: id.to_owned() });
        }
        _ => {}
    }
    if let Some(minor) = id.strip_prefix("python3.")
        && let Ok(minor) = minor.parse::<u32>()
        && (9..=14).contains(&minor)
        && !minor.to_string().starts_with('0')
        && id == format!("python3.{minor}")
    {
        return Some(Runtime::Python {
            id: id.to_owned(),
            minor,
        });
    }
    if let Some(major) = id.strip_prefix("nodejs").and_then(|r| r.strip_suffix(".x"))
        && let Ok(major) = major.parse::<u32>()
        && matches!(major, 18 | 20 | 22 | 24)
        && id == format!("nodejs{major}.x")
    {
        return Some(Runtime::Node {
            id: id.to_owned(),
            major,
        });
    }
    None
}

/// Where a route's references sit, so API assembly can report a bad
/// `RestApiId` or authorizer at the right line.
#[derive(Debug)]
pub(crate) struct RouteSite {
    /// Index into the function's `events`.
    pub event: usize,
    pub site: Site,
    pub pos: Pos,
    /// Position of `RestApiId`/`ApiId` when the event names its API.
    pub api_pos: Option<Pos>,
    /// Position of `Auth.Authorizer` when given; `NONE` opts out of the
    /// API's default authorizer.
    pub authorizer_pos: Option<Pos>,
}

/// A function being built, before API assembly fixes up its routes.
#[derive(Debug)]
pub(crate) struct Built {
    pub function: Function,
    pub pos: Pos,
    pub routes: Vec<RouteSite>,
    /// False when a problem was reported; the function is then left out.
    pub complete: bool,
    /// False when the function's name failed to resolve (reported), so
    /// `function.name` is a stand-in that must not be checked for clashes.
    pub named: bool,
}

/// Inputs shared by every function of a template.
pub(crate) struct Context<'c> {
    pub root_dir: &'c Path,
    /// Local layers by the ARN `!Ref Layer` yields, to their directories.
    pub layers: &'c BTreeMap<String, PathBuf>,
    /// Queue ARNs of the template's queues, to their logical IDs.
    pub queue_arns: &'c BTreeMap<String, String>,
}

/// Builds one function from its merged properties. Problems are reported;
/// the result is then marked incomplete.
pub(crate) fn build(
    resource: &Resource,
    merged: &Map,
    resolver: &mut Resolver<'_>,
    context: &Context<'_>,
    sink: &mut Sink,
) -> Built {
    let id = resource.logical_id.as_str();
    read::check_known(
        id,
        "AWS::Serverless::Function",
        merged,
        KNOWN_PROPERTIES,
        sink,
    );
    let props = Props::resolve(
        resolver,
        id,
        merged,
        resource.properties_pos,
        READ_PROPERTIES,
        sink,
    );
    let mut ok = true;

    if let Some(node) = props.get("PackageType")
        && let Some(kind) = read::string(node, &props.site("PackageType"), sink)
        && kind != "Zip"
    {
        sink.error(
            Some(node.pos),
            &props.site("PackageType"),
            format!(
                "PackageType `{kind}` is not supported; Fogbank runs Zip functions (a CodeUri \
                 directory and a Runtime)"
            ),
        );
        ok = false;
    }
    if let Some(node) = props.get("InlineCode") {
        sink.error(
            Some(node.pos),
            &props.site("InlineCode"),
            "InlineCode is not supported; put the code in a directory and point CodeUri at it",
        );
        ok = false;
    }

    let runtime = read_runtime(&props, sink);
    let handler = read_handler(&props, runtime.as_ref(), sink);
    let code_uri = read_code_uri(&props, context.root_dir, sink);
    let name = resolver.physical_name(resource, sink);
    let timeout = match props.get("Timeout") {
        None => Some(3),
        Some(node) => read::integer(
            node,
            1,
            900,
            "a number of seconds",
            &props.site("Timeout"),
            sink,
        ),
    };
    let memory = match props.get("MemorySize") {
        None => Some(128),
        Some(node) => read::integer(
            node,
            128,
            10240,
            "a size in MB",
            &props.site("MemorySize"),
            sink,
        ),
    };
    let ephemeral = read_ephemeral_storage(&props, sink);
    let architecture = read_architecture(&props, sink);
    let environment = read_environment(&props, sink);
    let reserved = match props.get("ReservedConcurrentExecutions") {
        None => Some(None),
        Some(node) => read::integer(
            node,
            0,
            i64::from(u32::MAX),
            "a whole number",
            &props.site("ReservedConcurrentExecutions"),
            sink,
        )
        .map(|n| Some(n as u32)),
    };
    let layers = read_layers(&props, context, sink);
    let (events, routes) = read_events(&props, context, sink);
    let function_url = read_function_url(&props, sink);
    let build = read_metadata(resource, sink);

    let complete = ok
        && runtime.is_some()
        && handler.is_some()
        && code_uri.is_some()
        && name.is_some()
        && timeout.is_some()
        && memory.is_some()
        && ephemeral.is_some()
        && architecture.is_some()
        && environment.is_some()
        && reserved.is_some()
        && layers.is_some()
        && function_url.is_some();
    // An incomplete function still takes part in API assembly and the
    // name check, so their problems are reported too; the stand-in values
    // below never reach a caller because the load fails.
    Built {
        named: name.is_some(),
        function: Function {
            logical_id: id.to_owned(),
            name: name.unwrap_or_else(|| id.to_owned()),
            code_uri: code_uri.unwrap_or_default(),
            handler: handler.flatten(),
            runtime: runtime.unwrap_or(Runtime::Provided {
                id: "provided".to_owned(),
            }),
            timeout: Duration::from_secs(timeout.unwrap_or(3) as u64),
            memory_mb: memory.unwrap_or(128) as u32,
            ephemeral_storage_mb: ephemeral.unwrap_or(512),
            architecture: architecture.unwrap_or_default(),
            environment: environment.unwrap_or_default(),
            reserved_concurrency: reserved.flatten(),
            layers: layers.unwrap_or_default(),
            events,
            build,
            function_url: function_url.flatten(),
        },
        pos: resource.pos,
        routes,
        complete,
    }
}

fn read_runtime(props: &Props, sink: &mut Sink) -> Option<Runtime> {
    let site = props.site("Runtime");
    let Some(node) = props.get("Runtime") else {
        sink.error(
            Some(props.pos),
            &site,
            format!(
                "missing Runtime; set it on the function or under Globals.Function (supported: \
                 {SUPPORTED_RUNTIMES})"
            ),
        );
        return None;
    };
    let id = read::string(node, &site, sink)?;
    let runtime = parse_runtime(&id);
    if runtime.is_none() {
        sink.error(
            Some(node.pos),
            &site,
            format!("unsupported Runtime `{id}`; supported runtimes are {SUPPORTED_RUNTIMES}"),
        );
    }
    runtime
}

/// `Some(None)` when the runtime needs no handler and none is set.
fn read_handler(
    props: &Props,
    runtime: Option<&Runtime>,
    sink: &mut Sink,
) -> Option<Option<String>> {
    let site = props.site("Handler");
    let handler = match props.get("Handler") {
        Some(node) => Some((read::string(node, &site, sink)?, node.pos)),
        None => None,
    };
    let (shape, example) = match runtime {
        Some(Runtime::Python { .. }) => ("\"module.function\"", "app.lambda_handler"),
        Some(Runtime::Node { .. }) => ("\"file.function\"", "index.handler"),
        // A provided runtime runs `bootstrap`; Handler is passed through as
        // `_HANDLER` and may be anything.
        Some(Runtime::Provided { .. }) => return Some(handler.map(|(h, _)| h)),
        // The runtime's own problem was reported; don't guess.
        None => return Some(handler.map(|(h, _)| h)),
    };
    let runtime_id = runtime.map(Runtime::id).unwrap_or_default();
    let Some((handler, pos)) = handler else {
        sink.error(
            Some(props.pos),
            &site,
            format!("missing Handler; {runtime_id} functions need {shape}, such as {example}"),
        );
        return None;
    };
    let valid = match handler.rsplit_once('.') {
        Some((module, function)) => {
            !module.is_empty()
                && !module.ends_with('/')
                && !module.split(['/', '.']).any(str::is_empty)
                && !function.is_empty()
                && function
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
                && !function.starts_with(|c: char| c.is_ascii_digit())
        }
        None => false,
    };
    if !valid {
        sink.error(
            Some(pos),
            &site,
            format!("Handler `{handler}` must be {shape} for {runtime_id}, such as {example}"),
        );
        return None;
    }
    Some(Some(handler))
}

fn read_code_uri(props: &Props, root_dir: &Path, sink: &mut Sink) -> Option<PathBuf> {
    let site = props.site("CodeUri");
    let Some(node) = props.get("CodeUri") else {
        if props.get("ImageUri").is_none() && props.get("InlineCode").is_none() {
            // SAM CLI's default: the template's directory.
            return Some(root_dir.to_path_buf());
        }
        return None;
    };
    let text = match &node.value {
        Value::Map(_) => {
            sink.error(
                Some(node.pos),
                &site,
                "CodeUri points at an S3 object, which cannot be fetched offline; point it at \
                 the local source directory",
            );
            return None;
        }
        _ => read::string(node, &site, sink)?,
    };
    if text.starts_with("s3://") {
        sink.error(
            Some(node.pos),
            &site,
            format!(
                "CodeUri `{text}` is in S3, which cannot be fetched offline; point it at the \
                 local source directory"
            ),
        );
        return None;
    }
    local_path(&text, root_dir, node.pos, &site, "CodeUri", sink)
}

/// Resolves a template path against the template's directory and checks
/// that it exists.
pub(crate) fn local_path(
    text: &str,
    root_dir: &Path,
    pos: Pos,
    site: &Site,
    what: &str,
    sink: &mut Sink,
) -> Option<PathBuf> {
    if text.is_empty() || text.contains('\0') {
        sink.error(
            Some(pos),
            site,
            format!("{what} is empty; give a directory path"),
        );
        return None;
    }
    let path = normalize(&root_dir.join(text));
    let Ok(metadata) = std::fs::metadata(&path) else {
        sink.error(
            Some(pos),
            site,
            format!(
                "{what} `{text}` does not exist (looked for {}); create it or fix the path, \
                 which is relative to the template's directory",
                path.display()
            ),
        );
        return None;
    };
    // Code and layers are mounted or copied as directories; a file here would
    // otherwise load and only fail at the first invoke, with "Not a directory".
    if !metadata.is_dir() {
        let is_zip = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
        // "point CodeUri at", but "point the layer path at".
        let subject = if what.starts_with(char::is_lowercase) {
            format!("the {what}")
        } else {
            what.to_owned()
        };
        let message = if is_zip {
            format!(
                "{what} `{text}` is a zip file, and zip {what}s are not supported offline yet; \
                 unzip it and point {subject} at the unzipped source directory"
            )
        } else {
            let parent = Path::new(text)
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| ".".to_owned());
            format!(
                "{what} `{text}` is a file, not a directory; point {subject} at the directory \
                 that holds it, such as `{parent}`"
            )
        };
        sink.error(Some(pos), site, message);
        return None;
    }
    Some(path)
}

/// Removes `.` and resolves `..` without touching the file system, so
/// paths in messages and in the model read naturally.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn read_ephemeral_storage(props: &Props, sink: &mut Sink) -> Option<u32> {
    let Some(node) = props.get("EphemeralStorage") else {
        return Some(512);
    };
    let site = props.site("EphemeralStorage");
    let map = read::map(node, &site, sink)?;
    match map.get("Size") {
        None => {
            sink.error(
                Some(node.pos),
                &site.child("Size"),
                "missing Size (in MB, 512 to 10240)",
            );
            None
        }
        Some(size) => read::integer(size, 512, 10240, "a size in MB", &site.child("Size"), sink)
            .map(|n| n as u32),
    }
}

fn read_architecture(props: &Props, sink: &mut Sink) -> Option<Architecture> {
    let Some(node) = props.get("Architectures") else {
        return Some(Architecture::X86_64);
    };
    let site = props.site("Architectures");
    let names = read::strings(node, false, &site, sink)?;
    match names.as_slice() {
        [one] if one == "x86_64" => Some(Architecture::X86_64),
        [one] if one == "arm64" => Some(Architecture::Arm64),
        _ => {
            sink.error(
                Some(node.pos),
                &site,
                format!(
                    "Architectures must be a list of exactly one of x86_64 or arm64, found [{}]",
                    names.join(", ")
                ),
            );
            None
        }
    }
}

fn read_environment(props: &Props, sink: &mut Sink) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let Some(node) = props.get("Environment") else {
        return Some(out);
    };
    let site = props.site("Environment");
    let map = read::map(node, &site, sink)?;
    let Some(variables) = map.get("Variables") else {
        return Some(out);
    };
    let site = site.child("Variables");
    if matches!(variables.value, Value::Null) {
        return Some(out);
    }
    let variables = read::map(variables, &site, sink)?;
    let mut ok = true;
    for (key, value) in &variables.entries {
        let var_site = site.child(&key.name);
        let valid_name = key.name.starts_with(|c: char| c.is_ascii_alphabetic())
            && key
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            sink.error(
                Some(key.pos),
                &var_site,
                "environment variable names start with a letter and hold only letters, digits \
                 and underscores",
            );
            ok = false;
        } else if RESERVED_ENVIRONMENT.contains(&key.name.as_str()) {
            sink.error(
                Some(key.pos),
                &var_site,
                format!(
                    "`{}` is reserved by Lambda, which sets it itself; rename the variable",
                    key.name
                ),
            );
            ok = false;
        }
        match read::string(value, &var_site, sink) {
            Some(text) => {
                out.insert(key.name.clone(), text);
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn read_layers(props: &Props, context: &Context<'_>, sink: &mut Sink) -> Option<Vec<PathBuf>> {
    let Some(node) = props.get("Layers") else {
        return Some(Vec::new());
    };
    let site = props.site("Layers");
    let items = read::list(node, &site, sink)?;
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let item_site = site.index(i);
        let Some(text) = read::string(item, &item_site, sink) else {
            ok = false;
            continue;
        };
        if let Some(path) = context.layers.get(&text) {
            out.push(path.clone());
        } else if text.starts_with("arn:") {
            sink.warning(
                Some(item.pos),
                &item_site,
                format!(
                    "layer `{text}` is published in AWS and cannot be fetched offline; it is \
                     skipped. Declare it as an AWS::Serverless::LayerVersion with a local \
                     ContentUri to use it"
                ),
            );
        } else {
            match local_path(
                &text,
                context.root_dir,
                item.pos,
                &item_site,
                "layer path",
                sink,
            ) {
                Some(path) => out.push(path),
                None => ok = false,
            }
        }
    }
    ok.then_some(out)
}

fn read_function_url(props: &Props, sink: &mut Sink) -> Option<Option<FunctionUrl>> {
    let Some(node) = props.get("FunctionUrlConfig") else {
        return Some(None);
    };
    let site = props.site("FunctionUrlConfig");
    let map = read::map(node, &site, sink)?;
    let auth_type = match map.get("AuthType") {
        None => {
            sink.error(
                Some(node.pos),
                &site.child("AuthType"),
                "missing AuthType; use NONE or AWS_IAM",
            );
            return None;
        }
        Some(auth) => {
            let text = read::string(auth, &site.child("AuthType"), sink)?;
            if text != "NONE" && text != "AWS_IAM" {
                sink.error(
                    Some(auth.pos),
                    &site.child("AuthType"),
                    format!("AuthType `{text}` is invalid; use NONE or AWS_IAM"),
                );
                return None;
            }
            text
        }
    };
    let cors = match map.get("Cors") {
        None => None,
        Some(cors) => Some(read_cors_lists(cors, &site.child("Cors"), sink)?),
    };
    Some(Some(FunctionUrl { auth_type, cors }))
}

/// CORS in the list form HTTP APIs and function URLs use:
/// `AllowOrigins: [..]`, `AllowMethods`, `AllowHeaders`, `ExposeHeaders`,
/// `MaxAge`, `AllowCredentials`.
pub(crate) fn read_cors_lists(node: &Node, site: &Site, sink: &mut Sink) -> Option<Cors> {
    let map = read::map(node, site, sink)?;
    let mut cors = Cors::default();
    let mut ok = true;
    for (key, value) in &map.entries {
        let child = site.child(&key.name);
        let slot = match key.name.as_str() {
            "AllowOrigins" => &mut cors.allow_origins,
            "AllowMethods" => &mut cors.allow_methods,
            "AllowHeaders" => &mut cors.allow_headers,
            "ExposeHeaders" => &mut cors.expose_headers,
            "MaxAge" => {
                match read::integer(value, 0, 86400, "a number of seconds", &child, sink) {
                    Some(n) => cors.max_age = Some(n as u32),
                    None => ok = false,
                }
                continue;
            }
            "AllowCredentials" => {
                match read::boolean(value, &child, sink) {
                    Some(b) => cors.allow_credentials = b,
                    None => ok = false,
                }
                continue;
            }
            other => {
                sink.error(
                    Some(key.pos),
                    &child,
                    format!(
                        "unknown CORS setting `{other}`; use AllowOrigins, AllowMethods, \
                         AllowHeaders, ExposeHeaders, MaxAge or AllowCredentials"
                    ),
                );
                ok = false;
                continue;
            }
        };
        match read::strings(value, false, &child, sink) {
            Some(items) => *slot = items,
            None => ok = false,
        }
    }
    ok.then_some(cors)
}

fn read_metadata(resource: &Resource, sink: &mut Sink) -> BuildMetadata {
    let mut build = BuildMetadata::default();
    let Some(Node {
        value: Value::Map(metadata),
        ..
    }) = &resource.metadata
    else {
        return build;
    };
    let site = Site::resource(&resource.logical_id, "Metadata");
    if let Some(node) = metadata.get("BuildMethod") {
        build.method = read::string(node, &site.child("BuildMethod"), sink);
    }
    if let Some(node) = metadata.get("DockerImage") {
        build.docker_image = read::string(node, &site.child("DockerImage"), sink);
    }
    if let Some(node) = metadata.get("BuildProperties")
        && let Some(map) = read::map(node, &site.child("BuildProperties"), sink)
    {
        for (key, value) in &map.entries {
            // Build properties are mostly strings; lists and maps (esbuild's
            // EntryPoints) are kept as JSON for the builder to parse.
            let text = match &value.value {
                Value::Scalar(text) => text.clone(),
                _ => json_text(value),
            };
            build.properties.insert(key.name.clone(), text);
        }
    }
    build
}

fn json_text(node: &Node) -> String {
    fn to_json(node: &Node) -> serde_json::Value {
        match &node.value {
            Value::Scalar(text) => serde_json::Value::String(text.clone()),
            Value::Seq(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
            Value::Map(map) => serde_json::Value::Object(
                map.entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), to_json(v)))
                    .collect(),
            ),
            Value::Null | Value::Invalid => serde_json::Value::Null,
        }
    }
    to_json(node).to_string()
}

const HTTP_METHODS: &[&str] = &[
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];

/// Every event source type SAM defines for a function; Fogbank emulates
/// the first three and warns about the rest.
const SAM_EVENT_TYPES: &[&str] = &[
    "Api",
    "HttpApi",
    "SQS",
    "S3",
    "SNS",
    "Kinesis",
    "DynamoDB",
    "Schedule",
    "ScheduleV2",
    "CloudWatchEvent",
    "EventBridgeRule",
    "CloudWatchLogs",
    "IoTRule",
    "AlexaSkill",
    "Cognito",
    "MSK",
    "MQ",
    "SelfManagedKafka",
    "DocumentDB",
];

/// Checks an `Api`/`HttpApi` event's resource path the way API Gateway does
/// at deploy time, so a path no request can reach is refused at load instead
/// of served as a dead route. The route matcher (`gateway::routes`) relies on
/// what passes: braces wrap whole segments, parameter names are not empty,
/// and a greedy `{name+}` is the last segment.
///
/// Returns what is wrong, in words for the message.
pub(crate) fn check_path(path: &str) -> Result<(), String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err("must start with `/`".to_owned());
    };
    let segments: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').collect()
    };
    let mut names: Vec<&str> = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        let opens = segment.matches('{').count();
        let closes = segment.matches('}').count();
        if opens == 0 && closes == 0 {
            continue;
        }
        if opens > closes {
            return Err(format!(
                "has a `{{` without a closing `}}` in `{segment}`; write a parameter as `{{name}}`"
            ));
        }
        if closes > opens {
            return Err(format!(
                "has a `}}` without an opening `{{` in `{segment}`; write a parameter as `{{name}}`"
            ));
        }
        let inner = match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(inner) if opens == 1 => inner,
            _ => {
                return Err(format!(
                    "has `{segment}`, but a parameter must be a whole segment, such as \
                     `/items/{{id}}`"
                ));
            }
        };
        let (name, greedy) = match inner.strip_suffix('+') {
            Some(name) => (name, true),
            None => (inner, false),
        };
        if name.is_empty() {
            return Err(format!(
                "has `{segment}`, a parameter without a name; name it, such as `{{id}}`"
            ));
        }
        if greedy && i + 1 != segments.len() {
            return Err(format!(
                "has `{segment}` before other segments; a greedy parameter must be the last \
                 segment, such as `/files/{{proxy+}}`"
            ));
        }
        if names.contains(&name) {
            return Err(format!(
                "names the parameter `{name}` twice; each parameter of a path needs its own name"
            ));
        }
        names.push(name);
    }
    Ok(())
}

fn read_events(
    props: &Props,
    context: &Context<'_>,
    sink: &mut Sink,
) -> (Vec<Event>, Vec<RouteSite>) {
    let mut events = Vec::new();
    let mut routes = Vec::new();
    let Some(node) = props.get("Events") else {
        return (events, routes);
    };
    let site = props.site("Events");
    let Some(map) = read::map(node, &site, sink) else {
        return (events, routes);
    };
    for (key, event) in &map.entries {
        let event_site = site.child(&key.name);
        if key.name.is_empty() || !key.name.chars().all(|c| c.is_ascii_alphanumeric()) {
            sink.error(
                Some(key.pos),
                &event_site,
                "event names may contain only letters and digits",
            );
            continue;
        }
        let Some(body) = read::map(event, &event_site, sink) else {
            continue;
        };
        let Some(kind_node) = body.get("Type") else {
            sink.error(
                Some(key.pos),
                &event_site.child("Type"),
                "missing Type; use Api, HttpApi or SQS (other event types are not emulated)",
            );
            continue;
        };
        let Some(kind) = read::string(kind_node, &event_site.child("Type"), sink) else {
            continue;
        };
        let empty = Node::new(Value::Map(Map::default()), key.pos);
        let properties_node = match body.get("Properties") {
            Some(Node {
                value: Value::Null, ..
            })
            | None => &empty,
            Some(node) => node,
        };
        let properties_site = event_site.child("Properties");
        let Some(properties) = read::map(properties_node, &properties_site, sink) else {
            continue;
        };
        let read = EventRead {
            properties,
            site: &properties_site,
            pos: key.pos,
        };
        let parsed = match kind.as_str() {
            "Api" => read_api_event(&read, false, sink),
            "HttpApi" => read_api_event(&read, true, sink),
            "SQS" => read_sqs_event(&read, context, sink).map(|m| (EventKind::Sqs(m), None)),
            other if SAM_EVENT_TYPES.contains(&other) => {
                sink.warning(
                    Some(kind_node.pos),
                    &event_site.child("Type"),
                    format!(
                        "event type `{other}` is not emulated; the function can still be \
                         invoked directly (fogbank invoke, the Lambda API)"
                    ),
                );
                continue;
            }
            // SAM refuses a type it does not define, and a warning would let a
            // typo such as `Apii` silently drop a route.
            other => {
                sink.error(
                    Some(kind_node.pos),
                    &event_site.child("Type"),
                    format!(
                        "unknown event type `{other}`{}; SAM's event types are {}",
                        sink.did_you_mean(other, SAM_EVENT_TYPES.iter().copied()),
                        SAM_EVENT_TYPES.join(", ")
                    ),
                );
                continue;
            }
        };
        let Some((kind, route)) = parsed else {
            continue;
        };
        if let Some((api_pos, authorizer_pos)) = route {
            routes.push(RouteSite {
                event: events.len(),
                site: properties_site.clone(),
                pos: key.pos,
                api_pos,
                authorizer_pos,
            });
        }
        events.push(Event {
            name: key.name.clone(),
            kind,
        });
    }
    (events, routes)
}

struct EventRead<'a> {
    properties: &'a Map,
    site: &'a Site,
    pos: Pos,
}

/// An `Api` or `HttpApi` event, plus where its API and authorizer
/// references sit.
#[allow(clippy::type_complexity)]
fn read_api_event(
    read: &EventRead<'_>,
    http: bool,
    sink: &mut Sink,
) -> Option<(EventKind, Option<(Option<Pos>, Option<Pos>)>)> {
    let p = read.properties;
    let site = read.site;
    let mut ok = true;
    let path = match p.get("Path") {
        Some(node) => match read::string(node, &site.child("Path"), sink) {
            Some(path) if path == "$default" && http => None,
            Some(path) => match check_path(&path) {
                Ok(()) => Some(path),
                Err(problem) => {
                    sink.error(
                        Some(node.pos),
                        &site.child("Path"),
                        format!("Path `{path}` {problem}"),
                    );
                    ok = false;
                    None
                }
            },
            None => {
                ok = false;
                None
            }
        },
        None => None,
    };
    let method = match p.get("Method") {
        Some(node) => match read::string(node, &site.child("Method"), sink) {
            Some(method) => {
                let upper = method.to_ascii_uppercase();
                if HTTP_METHODS.contains(&upper.as_str()) {
                    Some(upper)
                } else {
                    sink.error(
                        Some(node.pos),
                        &site.child("Method"),
                        format!(
                            "Method `{method}` is not an HTTP method; use {}",
                            HTTP_METHODS.join(", ")
                        ),
                    );
                    ok = false;
                    None
                }
            }
            None => {
                ok = false;
                None
            }
        },
        None => None,
    };
    let path_given = p.get("Path").is_some();
    let method_given = p.get("Method").is_some();
    if http {
        if path_given != method_given {
            sink.error(
                Some(read.pos),
                site,
                "an HttpApi event needs both Path and Method, or neither for the $default route",
            );
            ok = false;
        }
    } else {
        if !path_given {
            sink.error(
                Some(read.pos),
                &site.child("Path"),
                "missing Path, such as /hello",
            );
            ok = false;
        }
        if !method_given {
            sink.error(
                Some(read.pos),
                &site.child("Method"),
                "missing Method, such as get",
            );
            ok = false;
        }
    }
    let api_key = if http { "ApiId" } else { "RestApiId" };
    let (api_id, api_pos) = match p.get(api_key) {
        Some(node) => match read::string(node, &site.child(api_key), sink) {
            Some(id) => (id, Some(node.pos)),
            None => {
                ok = false;
                (String::new(), None)
            }
        },
        None => (
            if http {
                IMPLICIT_HTTP_API
            } else {
                IMPLICIT_REST_API
            }
            .to_owned(),
            None,
        ),
    };
    let payload_format_version = if http {
        match p.get("PayloadFormatVersion") {
            None => "2.0".to_owned(),
            Some(node) => match read::string(node, &site.child("PayloadFormatVersion"), sink) {
                Some(v) if v == "1.0" || v == "2.0" => v,
                Some(v) => {
                    sink.error(
                        Some(node.pos),
                        &site.child("PayloadFormatVersion"),
                        format!("PayloadFormatVersion `{v}` is invalid; use \"1.0\" or \"2.0\""),
                    );
                    ok = false;
                    String::new()
                }
                None => {
                    ok = false;
                    String::new()
                }
            },
        }
    } else {
        "1.0".to_owned()
    };
    let (authorizer, authorizer_pos) = match p.get("Auth") {
        None => (None, None),
        Some(auth) => match read::map(auth, &site.child("Auth"), sink) {
            Some(auth) => match auth.get("Authorizer") {
                None => (None, None),
                Some(node) => match read::string(node, &site.child("Auth.Authorizer"), sink) {
                    Some(name) => (Some(name), Some(node.pos)),
                    None => {
                        ok = false;
                        (None, None)
                    }
                },
            },
            None => {
                ok = false;
                (None, None)
            }
        },
    };
    // REST integrations allow 50 ms to 29 s; HTTP API integrations 30 s.
    let max_timeout = if http { 30_000 } else { 29_000 };
    let timeout = match p.get("TimeoutInMillis") {
        None => None,
        Some(node) => match read::integer(
            node,
            50,
            max_timeout,
            "a number of milliseconds",
            &site.child("TimeoutInMillis"),
            sink,
        ) {
            Some(ms) => Some(Duration::from_millis(ms as u64)),
            None => {
                ok = false;
                None
            }
        },
    };
    if !ok {
        return None;
    }
    let route = ApiRoute {
        path,
        method: method.unwrap_or_else(|| "ANY".to_owned()),
        api_id,
        payload_format_version,
        authorizer,
        timeout,
    };
    let kind = if http {
        EventKind::HttpApi(route)
    } else {
        EventKind::Api(route)
    };
    Some((kind, Some((api_pos, authorizer_pos))))
}

fn read_sqs_event(
    read: &EventRead<'_>,
    context: &Context<'_>,
    sink: &mut Sink,
) -> Option<SqsMapping> {
    let p = read.properties;
    let site = read.site;
    let mut ok = true;
    let Some(queue_node) = p.get("Queue") else {
        sink.error(
            Some(read.pos),
            &site.child("Queue"),
            "missing Queue; give the queue's ARN, such as !GetAtt MyQueue.Arn",
        );
        return None;
    };
    let queue_arn = read::string(queue_node, &site.child("Queue"), sink)?;
    let queue_logical_id = context.queue_arns.get(&queue_arn).cloned();
    if queue_logical_id.is_none() {
        let hint = if queue_arn.starts_with("arn:") {
            "it is not a queue of this template, so nothing will feed the function locally \
             unless a queue with that name is created"
        } else {
            "it is not a queue ARN; use !GetAtt MyQueue.Arn"
        };
        sink.warning(
            Some(queue_node.pos),
            &site.child("Queue"),
            format!("Queue `{queue_arn}`: {hint}"),
        );
    }
    let mut int = |name: &str, min: i64, max: i64, default: i64, what: &str| -> i64 {
        match p.get(name) {
            None => default,
            Some(node) => match read::integer(node, min, max, what, &site.child(name), sink) {
                Some(n) => n,
                None => {
                    ok = false;
                    default
                }
            },
        }
    };
    let batch_size = int("BatchSize", 1, 10000, 10, "a batch size");
    let window = int(
        "MaximumBatchingWindowInSeconds",
        0,
        300,
        0,
        "a number of seconds",
    );
    let enabled = match p.get("Enabled") {
        None => true,
        Some(node) => read::boolean(node, &site.child("Enabled"), sink).unwrap_or_else(|| {
            ok = false;
            true
        }),
    };
    if batch_size > 10 && window == 0 && ok {
        sink.error(
            p.get("BatchSize").map(|n| n.pos),
            &site.child("BatchSize"),
            "a BatchSize above 10 needs MaximumBatchingWindowInSeconds of at least 1, as Lambda \
             requires",
        );
        ok = false;
    }
    let report_batch_item_failures = match p.get("FunctionResponseTypes") {
        None => false,
        Some(node) => {
            match read::strings(node, false, &site.child("FunctionResponseTypes"), sink) {
                Some(types) => types.iter().any(|t| t == "ReportBatchItemFailures"),
                None => {
                    ok = false;
                    false
                }
            }
        }
    };
    let maximum_concurrency = match p.get("ScalingConfig") {
        None => None,
        Some(node) => {
            let scaling_site = site.child("ScalingConfig");
            match read::map(node, &scaling_site, sink) {
                Some(scaling) => match scaling.get("MaximumConcurrency") {
                    None => None,
                    Some(value) => match read::integer(
                        value,
                        2,
                        1000,
                        "a concurrency",
                        &scaling_site.child("MaximumConcurrency"),
                        sink,
                    ) {
                        Some(n) => Some(n as u32),
                        None => {
                            ok = false;
                            None
                        }
                    },
                },
                None => {
                    ok = false;
                    None
                }
            }
        }
    };
    ok.then_some(SqsMapping {
        queue_logical_id,
        queue_arn,
        batch_size: batch_size as u32,
        maximum_batching_window: Duration::from_secs(window as u64),
        enabled,
        report_batch_item_failures,
        maximum_concurrency,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes() {
        let parsed: Vec<String> = [
            "provided",
            "provided.al2",
            "provided.al2023",
            "provided.al3",
            "python3.9",
            "python3.14",
            "python3.8",
            "python3.15",
            "python3.09",
            "nodejs18.x",
            "nodejs24.x",
            "nodejs19.x",
            "nodejs16.x",
            "java21",
            "",
        ]
        .iter()
        .map(|id| format!("{id}={:?}", parse_runtime(id).map(|r| r.id().to_owned())))
        .collect();
        expect_test::expect![[r#"
            provided=Some("provided")
            provided.al2=Some("provided.al2")
            provided.al2023=Some("provided.al2023")
            provided.al3=None
            python3.9=Some("python3.9")
            python3.14=Some("python3.14")
            python3.8=None
            python3.15=None
            python3.09=None
            nodejs18.x=Some("nodejs18.x")
            nodejs24.x=Some("nodejs24.x")
            nodejs19.x=None
            nodejs16.x=None
            java21=None
            =None"#]]
        .assert_eq(&parsed.join("\n"));
    }

    fn check_paths(paths: &[&str], expected: expect_test::Expect) {
        let rendered: Vec<String> = paths
            .iter()
            .map(|path| match check_path(path) {
                Ok(()) => format!("{path}: ok"),
                Err(problem) => format!("{path}: {problem}"),
            })
            .collect();
        expected.assert_eq(&rendered.join("\n"));
    }

    #[test]
    fn path_templates() {
        check_paths(
            &[
                "/",
                "/items",
                "/items/",
                "/items/{id}",
                "/items/{id}/parts/{part_no}",
                "/{proxy+}",
                "/files/{path+}",
                "/v1.2/my-items_all/~x",
                "items",
                "",
                "/items/{id",
                "/items/id}",
                "/items/{}",
                "/items/{+}",
                "/a/{x}}",
                "/a/{{x}",
                "/a/{x}{y}",
                "/a/x{y}",
                "/{proxy+}/tail",
                "/files/{proxy+}/",
                "/a/{id}/b/{id}",
            ],
            expect_test::expect![[r#"
                /: ok
                /items: ok
                /items/: ok
                /items/{id}: ok
                /items/{id}/parts/{part_no}: ok
                /{proxy+}: ok
                /files/{path+}: ok
                /v1.2/my-items_all/~x: ok
                items: must start with `/`
                : must start with `/`
                /items/{id: has a `{` without a closing `}` in `{id`; write a parameter as `{name}`
                /items/id}: has a `}` without an opening `{` in `id}`; write a parameter as `{name}`
                /items/{}: has `{}`, a parameter without a name; name it, such as `{id}`
                /items/{+}: has `{+}`, a parameter without a name; name it, such as `{id}`
                /a/{x}}: has a `}` without an opening `{` in `{x}}`; write a parameter as `{name}`
                /a/{{x}: has a `{` without a closing `}` in `{{x}`; write a parameter as `{name}`
                /a/{x}{y}: has `{x}{y}`, but a parameter must be a whole segment, such as `/items/{id}`
                /a/x{y}: has `x{y}`, but a parameter must be a whole segment, such as `/items/{id}`
                /{proxy+}/tail: has `{proxy+}` before other segments; a greedy parameter must be the last segment, such as `/files/{proxy+}`
                /files/{proxy+}/: has `{proxy+}` before other segments; a greedy parameter must be the last segment, such as `/files/{proxy+}`
                /a/{id}/b/{id}: names the parameter `id` twice; each parameter of a path needs its own name"#]],
        );
    }

    #[test]
    fn normalize_paths() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("/a/b/./")), PathBuf::from("/a/b"));
    }
}
