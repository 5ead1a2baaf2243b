//! The typed application model: what a SAM template means once parameters,
//! conditions, globals and intrinsics have been resolved.
//!
//! Every part of Fogbank past the loader reads these types and never the
//! template. They carry no YAML and no wire shapes; absolute paths are already
//! resolved against the template's directory.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A loaded application: everything `fogbank start` serves.
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    /// The template file this model was loaded from.
    pub template_path: PathBuf,
    /// The directory relative paths in the template are resolved against.
    pub root_dir: PathBuf,
    /// The emulated deployment's identity, used in ARNs and pseudo parameters.
    pub identity: Identity,
    /// Functions by logical ID, in a stable order.
    pub functions: BTreeMap<String, Arc<Function>>,
    /// Every API Gateway API: explicit `AWS::Serverless::Api`/`HttpApi`
    /// resources and the implicit ones SAM creates for events that name none.
    pub apis: Vec<Api>,
    /// SQS queues by logical ID.
    pub queues: BTreeMap<String, Queue>,
}

impl App {
    /// Finds a function by logical ID or by its physical `FunctionName`.
    pub fn function(&self, name: &str) -> Option<&Arc<Function>> {
        self.functions
            .get(name)
            .or_else(|| self.functions.values().find(|f| f.name == name))
    }
}

/// The account, region and stack an emulated deployment pretends to live in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub region: String,
    pub account_id: String,
    pub stack_name: String,
    pub partition: String,
}

impl Default for Identity {
    fn default() -> Self {
        Identity {
            region: "us-east-1".to_owned(),
            // The account ID every local AWS emulator uses, so ARNs printed by
            // Fogbank look like the ones in SAM CLI's and moto's output.
            account_id: "123456789012".to_owned(),
            stack_name: "fogbank".to_owned(),
            partition: "aws".to_owned(),
        }
    }
}

impl Identity {
    /// `arn:aws:lambda:REGION:ACCOUNT:function:NAME`, the form Lambda puts in
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub fn function_arn(&self, function_name: &str) -> String {
        format!(
            "arn:{}:lambda:{}:{}:function:{}",
            self.partition, self.region, self.account_id, function_name
        )
    }

    /// `arn:aws:sqs:REGION:ACCOUNT:NAME`.
    pub fn queue_arn(&self, queue_name: &str) -> String {
        format!(
            "arn:{}:sqs:{}:{}:{}",
            self.partition, self.region, self.account_id, queue_name
        )
    }
}

/// One `AWS::Serverless::Function`, with `Globals.Function` already merged in.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    /// The resource's logical ID in the template (`HelloFunction`).
    pub logical_id: String,
    /// The physical name: `FunctionName` when the template sets one, else the
    /// logical ID, as SAM CLI names local functions.
    pub name: String,
    /// Absolute path of the code: a directory (or, for a zip, the file).
    pub code_uri: PathBuf,
    /// `Handler`; required by every runtime but `provided.*`.
    pub handler: Option<String>,
    pub runtime: Runtime,
    pub timeout: Duration,
    pub memory_mb: u32,
    /// `EphemeralStorage.Size` in MB; 512 by default.
    pub ephemeral_storage_mb: u32,
    pub architecture: Architecture,
    /// `Environment.Variables`, resolved to strings.
    pub environment: BTreeMap<String, String>,
    /// `ReservedConcurrentExecutions`; `None` means the emulator's default.
    pub reserved_concurrency: Option<u32>,
    /// Absolute paths of local layer directories, in template order.
    pub layers: Vec<PathBuf>,
    pub events: Vec<Event>,
    /// Build instructions from the resource's `Metadata`.
    pub build: BuildMetadata,
    /// `FunctionUrlConfig`, when the function has a URL.
    pub function_url: Option<FunctionUrl>,
}

/// A Lambda runtime identifier, split into the family Fogbank runs it with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Runtime {
    /// `provided`, `provided.al2`, `provided.al2023`: a `bootstrap` executable.
    Provided { id: String },
    /// `python3.N`.
    Python { id: String, minor: u32 },
    /// `nodejsN.x`, N >= 18.
    Node { id: String, major: u32 },
}

impl Runtime {
    /// The identifier as written in the template (`python3.12`).
    pub fn id(&self) -> &str {
        match self {
            Runtime::Provided { id } | Runtime::Python { id, .. } | Runtime::Node { id, .. } => id,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Architecture {
    #[default]
    X86_64,
    Arm64,
}

/// SAM's `Metadata` on a function: how `sam build` (and `fogbank build`)
/// produce its artifact.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BuildMetadata {
    /// `BuildMethod`: `rust-cargolambda`, `makefile`, `esbuild`, ...
    pub method: Option<String>,
    /// `BuildProperties`, kept as given (for example `Binary` for Rust).
    pub properties: BTreeMap<String, String>,
    /// `DockerImage`: the container image to run this function in.
    pub docker_image: Option<String>,
}

/// One entry of a function's `Events`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event's key under `Events` (`GetHello`).
    pub name: String,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// `Type: Api`, a REST API route.
    Api(ApiRoute),
    /// `Type: HttpApi`, an HTTP API route.
    HttpApi(ApiRoute),
    /// `Type: SQS`, an event source mapping.
    Sqs(SqsMapping),
}

/// A route of an `Api` or `HttpApi` event.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRoute {
    /// `Path`, for example `/hello/{name}`; `None` for an HTTP API's
    /// `$default` route (an event with neither Path nor Method).
    pub path: Option<String>,
    /// `Method` upper-cased; `ANY` matches every method.
    pub method: String,
    /// The logical ID of the API this route belongs to: `RestApiId`/`ApiId`
    /// when given, else SAM's implicit `ServerlessRestApi`/`ServerlessHttpApi`.
    pub api_id: String,
    /// `PayloadFormatVersion` for HTTP APIs ("1.0" or "2.0"); REST is "1.0".
    pub payload_format_version: String,
    /// The authorizer that guards this route, already resolved by the
    /// loader: the event's `Auth.Authorizer`, else the API's
    /// `Auth.DefaultAuthorizer`; `None` when the route is open (no
    /// authorizer, `Authorizer: NONE`, or an `AWS_IAM`/Cognito authorizer,
    /// which are not emulated). A name is always a key of the API's
    /// `authorizers`.
    pub authorizer: Option<String>,
    /// `TimeoutInMillis`: the integration timeout of this route; `None`
    /// means API Gateway's default (29 s for REST, 30 s for HTTP APIs).
    pub timeout: Option<Duration>,
}

/// A `Type: SQS` event: the function is fed from a queue.
#[derive(Debug, Clone, PartialEq)]
pub struct SqsMapping {
    /// The logical ID of the queue when `Queue` refers to one in the template.
    pub queue_logical_id: Option<String>,
    /// The queue's ARN as resolved from the template.
    pub queue_arn: String,
    pub batch_size: u32,
    pub maximum_batching_window: Duration,
    pub enabled: bool,
    /// True when `FunctionResponseTypes` includes `ReportBatchItemFailures`.
    pub report_batch_item_failures: bool,
    /// `ScalingConfig.MaximumConcurrency`.
    pub maximum_concurrency: Option<u32>,
}

/// An API Gateway API, REST (v1) or HTTP (v2).
#[derive(Debug, Clone, PartialEq)]
pub struct Api {
    /// The logical ID; `ServerlessRestApi`/`ServerlessHttpApi` for implicit APIs.
    pub logical_id: String,
    pub kind: ApiKind,
    /// `StageName`; SAM's default is `Prod` for REST and `$default` for HTTP.
    pub stage_name: String,
    /// True when SAM created this API implicitly from function events.
    pub implicit: bool,
    /// `Cors` (REST) or `CorsConfiguration` (HTTP), when set.
    pub cors: Option<Cors>,
    /// `BinaryMediaTypes` (REST only).
    pub binary_media_types: Vec<String>,
    /// Authorizers declared under `Auth.Authorizers`, by name.
    pub authorizers: BTreeMap<String, Authorizer>,
    /// `Auth.DefaultAuthorizer`.
    pub default_authorizer: Option<String>,
    /// Stage variables: `Variables` (REST) or `StageVariables` (HTTP).
    pub stage_variables: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKind {
    Rest,
    Http,
}

/// CORS settings of an API, normalised across REST and HTTP APIs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cors {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age: Option<u32>,
    pub allow_credentials: bool,
}

/// An authorizer declared on an API.
#[derive(Debug, Clone, PartialEq)]
pub enum Authorizer {
    /// A Lambda authorizer (REQUEST or TOKEN type for REST, REQUEST for HTTP).
    Lambda {
        /// Logical ID of the authorizer function.
        function_logical_id: String,
        /// Identity sources such as `$request.header.Authorization` (HTTP)
        /// or `method.request.header.Authorization` (REST), as written.
        identity_sources: Vec<String>,
        /// HTTP APIs: `EnableSimpleResponses`.
        simple_responses: bool,
        /// HTTP APIs: `AuthorizerPayloadFormatVersion` ("1.0" or "2.0").
        payload_format_version: String,
        /// REST APIs: true for a TOKEN authorizer.
        token: bool,
    },
    /// An HTTP API JWT authorizer.
    Jwt {
        identity_source: String,
        issuer: Option<String>,
        audience: Vec<String>,
    },
}

/// `FunctionUrlConfig`.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionUrl {
    /// `AuthType`: `NONE` or `AWS_IAM`.
    pub auth_type: String,
    pub cors: Option<Cors>,
}

/// One `AWS::SQS::Queue`.
#[derive(Debug, Clone, PartialEq)]
pub struct Queue {
    pub logical_id: String,
    /// `QueueName`, or a generated `<stack>-<LogicalId>` name (with `.fifo`
    /// appended for FIFO queues), as CloudFormation generates one.
    pub name: String,
    pub fifo: bool,
    pub content_based_deduplication: bool,
    pub visibility_timeout: Option<Duration>,
    pub message_retention_period: Option<Duration>,
    pub delay: Option<Duration>,
    pub maximum_message_size: Option<u32>,
    pub receive_wait_time: Option<Duration>,
    pub redrive_policy: Option<RedrivePolicy>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RedrivePolicy {
    pub dead_letter_target_arn: String,
    pub max_receive_count: u32,
}
