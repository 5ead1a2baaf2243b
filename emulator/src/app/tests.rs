//! Loader tests: whole templates in, a compact rendering of the model (or
//! of the diagnostics) out, compared against expect-test snapshots.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use expect_test::{Expect, expect};
use proptest::prelude::*;

use super::*;

/// Directories every test template may point `CodeUri`/`ContentUri` at.
const DIRS: &[&str] = &["hello", "src/api", "layers/common", "auth"];

/// Files beside them, for paths that wrongly point at a file.
const FILES: &[&str] = &["hello/app.py", "code.zip", "layers/common.ZIP"];

fn check(template: &str, expected: Expect) {
    check_with(template, &LoadOptions::default(), expected);
}

/// The one place that calls the loader: writes `template` into a fresh
/// directory (with [`DIRS`] created), loads it, and renders the model plus
/// warnings, or the diagnostics, with the directory shown as `$DIR`.
fn check_with(template: &str, options: &LoadOptions, expected: Expect) {
    let dir = tempfile::tempdir().unwrap();
    for sub in DIRS {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    for file in FILES {
        std::fs::write(dir.path().join(file), "").unwrap();
    }
    let path = dir.path().join("template.yaml");
    std::fs::write(&path, template).unwrap();
    let rendered = match load(&path, options) {
        Ok(loaded) => {
            let mut out = render_app(&loaded.app);
            for warning in &loaded.warnings {
                writeln!(out, "{warning}").unwrap();
            }
            out
        }
        Err(diagnostics) => format!("{diagnostics}\n"),
    };
    let root = dir.path().to_string_lossy().into_owned();
    expected.assert_eq(&rendered.replace(&root, "$DIR"));
}

fn render_app(app: &App) -> String {
    let mut out = String::new();
    for f in app.functions.values() {
        writeln!(
            out,
            "function {} name={} runtime={} handler={} code={} timeout={}s memory={} storage={} arch={:?} reserved={}",
            f.logical_id,
            f.name,
            f.runtime.id(),
            f.handler.as_deref().unwrap_or("-"),
            f.code_uri.display(),
            f.timeout.as_secs(),
            f.memory_mb,
            f.ephemeral_storage_mb,
            f.architecture,
            f.reserved_concurrency.map_or("-".to_owned(), |n| n.to_string()),
        )
        .unwrap();
        for (key, value) in &f.environment {
            writeln!(out, "  env {key}={value}").unwrap();
        }
        for layer in &f.layers {
            writeln!(out, "  layer {}", layer.display()).unwrap();
        }
        for event in &f.events {
            match &event.kind {
                EventKind::Api(r) | EventKind::HttpApi(r) => writeln!(
                    out,
                    "  event {} {} {} {} api={} payload={} auth={}",
                    event.name,
                    if matches!(event.kind, EventKind::Api(_)) { "Api" } else { "HttpApi" },
                    r.method,
                    r.path.as_deref().unwrap_or("$default"),
                    r.api_id,
                    r.payload_format_version,
                    r.authorizer.as_deref().unwrap_or("-"),
                )
                .unwrap(),
                EventKind::Sqs(m) => writeln!(
                    out,
                    "  event {} SQS queue={} arn={} batch={} window={}s enabled={} partial={} max={:?}",
                    event.name,
                    m.queue_logical_id.as_deref().unwrap_or("-"),
                    m.queue_arn,
                    m.batch_size,
                    m.maximum_batching_window.as_secs(),
                    m.enabled,
                    m.report_batch_item_failures,
                    m.maximum_concurrency,
                )
                .unwrap(),
            }
        }
        if f.build != BuildMetadata::default() {
            writeln!(
                out,
                "  build method={:?} properties={:?} docker={:?}",
                f.build.method, f.build.properties, f.build.docker_image
            )
            .unwrap();
        }
        if let Some(url) = &f.function_url {
            writeln!(out, "  url auth={} cors={:?}", url.auth_type, url.cors).unwrap();
        }
    }
    for api in &app.apis {
        writeln!(
            out,
            "api {} {:?} stage={} implicit={} binary={:?} default_auth={}",
            api.logical_id,
            api.kind,
            api.stage_name,
            api.implicit,
            api.binary_media_types,
            api.default_authorizer.as_deref().unwrap_or("-"),
        )
        .unwrap();
        if let Some(cors) = &api.cors {
            writeln!(out, "  cors {cors:?}").unwrap();
        }
        for (name, authorizer) in &api.authorizers {
            writeln!(out, "  authorizer {name} {authorizer:?}").unwrap();
        }
    }
    for q in app.queues.values() {
        writeln!(
            out,
            "queue {} name={} fifo={} dedup={} visibility={:?} retention={:?} delay={:?} max_size={:?} wait={:?}",
            q.logical_id,
            q.name,
            q.fifo,
            q.content_based_deduplication,
            q.visibility_timeout.map(|d| d.as_secs()),
            q.message_retention_period.map(|d| d.as_secs()),
            q.delay.map(|d| d.as_secs()),
            q.maximum_message_size,
            q.receive_wait_time.map(|d| d.as_secs()),
        )
        .unwrap();
        if let Some(r) = &q.redrive_policy {
            writeln!(
                out,
                "  redrive {} after {}",
                r.dead_letter_target_arn, r.max_receive_count
            )
            .unwrap();
        }
        for (key, value) in &q.tags {
            writeln!(out, "  tag {key}={value}").unwrap();
        }
    }
    out
}

const HEADER: &str =
    "AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::Serverless-2016-10-31\n";

fn t(body: &str) -> String {
    format!("{HEADER}{body}")
}

// ----- happy paths -----

#[test]
fn python_hello_world_with_implicit_rest_api() {
    check(
        &t(r#"
Resources:
  HelloWorldFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello/
      Handler: app.lambda_handler
      Runtime: python3.12
      Events:
        HelloWorld:
          Type: Api
          Properties:
            Path: /hello
            Method: get
Outputs:
  HelloWorldApi:
    Value: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/hello/"
  HelloWorldFunctionIamRole:
    Value: !GetAtt HelloWorldFunctionRole.Arn
"#),
        expect![[r#"
            function HelloWorldFunction name=HelloWorldFunction runtime=python3.12 handler=app.lambda_handler code=$DIR/hello timeout=3s memory=128 storage=512 arch=X86_64 reserved=-
              event HelloWorld Api GET /hello api=ServerlessRestApi payload=1.0 auth=-
            api ServerlessRestApi Rest stage=Prod implicit=true binary=[] default_auth=-
        "#]],
    );
}

#[test]
fn globals_merge_into_functions() {
    check(
        &t(r#"
Globals:
  Function:
    Runtime: nodejs22.x
    Timeout: 10
    MemorySize: 256
    Architectures: [x86_64]
    Layers: [layers/common]
    Environment:
      Variables:
        STAGE: dev
        LOG_LEVEL: info
Resources:
  A:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/api
      Handler: index.handler
      Timeout: 30
      Architectures: [arm64]
      Environment:
        Variables:
          LOG_LEVEL: debug
          COUNT: 3
  B:
    Type: AWS::Serverless::Function
    IgnoreGlobals: [Layers]
    Properties:
      CodeUri: src/api
      Handler: src/b.main
      ReservedConcurrentExecutions: 2
      EphemeralStorage: {Size: 1024}
"#),
        expect![[r#"
            function A name=A runtime=nodejs22.x handler=index.handler code=$DIR/src/api timeout=30s memory=256 storage=512 arch=Arm64 reserved=-
              env COUNT=3
              env LOG_LEVEL=debug
              env STAGE=dev
              layer $DIR/layers/common
            function B name=B runtime=nodejs22.x handler=src/b.main code=$DIR/src/api timeout=10s memory=256 storage=1024 arch=X86_64 reserved=2
              env LOG_LEVEL=info
              env STAGE=dev
        "#]],
    );
}

#[test]
fn parameters_defaults_and_overrides() {
    let template = t(r#"
Parameters:
  Stage:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
  Memory:
    Type: Number
    Default: 512
  Names:
    Type: CommaDelimitedList
    Default: a,b,c
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub "${AWS::StackName}-${Stage}-fn"
      CodeUri: hello
      Handler: app.handler
      Runtime: python3.13
      MemorySize: !Ref Memory
      Environment:
        Variables:
          SECOND: !Select [1, !Ref Names]
          JOINED: !Join ['+', !Ref Names]
"#);
    check(
        &template,
        expect![[r#"
            function Fn name=fogbank-dev-fn runtime=python3.13 handler=app.handler code=$DIR/hello timeout=3s memory=512 storage=512 arch=X86_64 reserved=-
              env JOINED=a+b+c
              env SECOND=b
        "#]],
    );
    let mut options = LoadOptions::default();
    options
        .parameter_overrides
        .insert("Stage".into(), "prod".into());
    options
        .parameter_overrides
        .insert("Names".into(), "x,y".into());
    options
        .parameter_overrides
        .insert("Stagee".into(), "x".into());
    options.identity.stack_name = "shop".into();
    check_with(
        &template,
        &options,
        expect![[r#"
            function Fn name=shop-prod-fn runtime=python3.13 handler=app.handler code=$DIR/hello timeout=3s memory=512 storage=512 arch=X86_64 reserved=-
              env JOINED=x+y
              env SECOND=y
            $DIR/template.yaml: warning: Parameters.Stagee: --parameter-overrides sets `Stagee`, which the template does not declare (did you mean `Stage`?); the override is ignored
        "#]],
    );
    let mut options = LoadOptions::default();
    options
        .parameter_overrides
        .insert("Stage".into(), "qa".into());
    options
        .parameter_overrides
        .insert("Memory".into(), "lots".into());
    check_with(
        &template,
        &options,
        expect![[r#"
            $DIR/template.yaml: error: Parameters.Stage: value `qa` (from --parameter-overrides) is not one of the AllowedValues: dev, prod
            $DIR/template.yaml: error: Parameters.Memory: value `lots` (from --parameter-overrides) is not a number
        "#]],
    );
}

#[test]
fn intrinsic_functions() {
    check(
        &t(r#"
Mappings:
  Sizes:
    dev: {Memory: 256}
Conditions:
  IsDev: !Equals [!Ref AWS::AccountId, "123456789012"]
  IsProd: !Not [!Condition IsDev]
  Both: !And [!Condition IsDev, !Or [!Condition IsProd, !Equals [a, a]]]
Resources:
  Orders:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: orders
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello
      Handler: app.handler
      Runtime: python3.12
      MemorySize: !FindInMap [Sizes, dev, Memory]
      Environment:
        Variables:
          QUEUE_URL: !Ref Orders
          QUEUE_ARN: !GetAtt Orders.Arn
          QUEUE_NAME: !GetAtt [Orders, QueueName]
          QUEUE_URL2: !GetAtt Orders.QueueUrl
          SELF: !Ref Fn
          OTHER_ARN: !GetAtt Other.Arn
          SUB_LIST: !Sub
            - "${Name}@${AWS::Region}/${AWS::Partition}/${AWS::URLSuffix} ${!Literal} ${Orders.Arn}"
            - Name: !Select [0, !Split [",", "first,second"]]
          B64: !Base64 hello
          CHOSEN: !If [IsDev, dev-value, prod-value]
          BOTH: !If [Both, yes, no]
          NOVALUE: !If [IsProd, x, !Ref AWS::NoValue]
          AZ: !Select [1, !GetAZs ""]
          TABLE: !Ref Table
  Table:
    Type: AWS::DynamoDB::Table
  Other:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: other-fn
      CodeUri: hello
      Handler: app.handler
      Runtime: python3.12
"#),
        expect![[r#"
            function Fn name=Fn runtime=python3.12 handler=app.handler code=$DIR/hello timeout=3s memory=256 storage=512 arch=X86_64 reserved=-
              env AZ=us-east-1b
              env B64=aGVsbG8=
              env BOTH=yes
              env CHOSEN=dev-value
              env OTHER_ARN=arn:aws:lambda:us-east-1:123456789012:function:other-fn
              env QUEUE_ARN=arn:aws:sqs:us-east-1:123456789012:orders
              env QUEUE_NAME=orders
              env QUEUE_URL=http://127.0.0.1:9324/123456789012/orders
              env QUEUE_URL2=http://127.0.0.1:9324/123456789012/orders
              env SELF=Fn
              env SUB_LIST=first@us-east-1/aws/amazonaws.com ${Literal} arn:aws:sqs:us-east-1:123456789012:orders
              env TABLE=Table
            function Other name=other-fn runtime=python3.12 handler=app.handler code=$DIR/hello timeout=3s memory=128 storage=512 arch=X86_64 reserved=-
            queue Orders name=orders fifo=false dedup=false visibility=None retention=None delay=None max_size=None wait=None
            $DIR/template.yaml:40:3: warning: Table.Type: AWS::DynamoDB::Table is not emulated; the resource is ignored and references to it resolve to placeholders
        "#]],
    );
}

#[test]
fn resources_with_false_conditions_are_dropped() {
    check(
        &t(r#"
Parameters:
  Env: {Type: String, Default: dev}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  ProdOnly:
    Type: AWS::Serverless::Function
    Condition: IsProd
    Properties: {CodeUri: hello, Handler: app.handler, Runtime: python3.12}
  Always:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables:
          GUARDED: !If [IsProd, !Ref ProdOnly, none]
"#),
        expect![[r#"
            function Always name=Always runtime=python3.12 handler=app.handler code=$DIR/hello timeout=3s memory=128 storage=512 arch=X86_64 reserved=-
              env GUARDED=none
        "#]],
    );
}

#[test]
fn http_api_explicit_and_implicit_with_auth_and_cors() {
    check(
        &t(r#"
Globals:
  HttpApi:
    CorsConfiguration: true
Resources:
  MyApi:
    Type: AWS::Serverless::HttpApi
    Properties:
      StageName: v1
      CorsConfiguration:
        AllowOrigins: ["https://example.com"]
        AllowMethods: [GET, POST]
        MaxAge: 600
        AllowCredentials: true
      Auth:
        DefaultAuthorizer: LambdaAuth
        Authorizers:
          LambdaAuth:
            FunctionArn: !GetAtt AuthFn.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity:
              Headers: [Authorization]
          Jwt:
            JwtConfiguration:
              issuer: https://issuer.example.com
              audience: [app]
  AuthFn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: auth, Handler: index.handler, Runtime: nodejs20.x}
  Api:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/api
      Handler: index.handler
      Runtime: nodejs20.x
      Events:
        GetItem:
          Type: HttpApi
          Properties: {ApiId: !Ref MyApi, Path: "/items/{id}", Method: get}
        Public:
          Type: HttpApi
          Properties: {ApiId: !Ref MyApi, Path: /public, Method: GET, Auth: {Authorizer: NONE}}
        WithJwt:
          Type: HttpApi
          Properties: {ApiId: !Ref MyApi, Path: /jwt, Method: post, Auth: {Authorizer: Jwt}, PayloadFormatVersion: "1.0"}
        Default:
          Type: HttpApi
"#),
        expect![[r#"
            function Api name=Api runtime=nodejs20.x handler=index.handler code=$DIR/src/api timeout=3s memory=128 storage=512 arch=X86_64 reserved=-
              event GetItem HttpApi GET /items/{id} api=MyApi payload=2.0 auth=LambdaAuth
              event Public HttpApi GET /public api=MyApi payload=2.0 auth=-
              event WithJwt HttpApi POST /jwt api=MyApi payload=1.0 auth=Jwt
              event Default HttpApi ANY $default api=ServerlessHttpApi payload=2.0 auth=-
            function AuthFn name=AuthFn runtime=nodejs20.x handler=index.handler code=$DIR/auth timeout=3s memory=128 storage=512 arch=X86_64 reserved=-
            api MyApi Http stage=v1 implicit=false binary=[] default_auth=LambdaAuth
              cors Cors { allow_origins: ["https://example.com"], allow_methods: ["GET", "POST"], allow_headers: [], expose_headers: [], max_age: Some(600), allow_credentials: true }
              authorizer Jwt Jwt { identity_source: "$request.header.Authorization", issuer: Some("https://issuer.example.com"), audience: ["app"] }
              authorizer LambdaAuth Lambda { function_logical_id: "AuthFn", identity_sources: ["$request.header.Authorization"], simple_responses: true, payload_format_version: "2.0", token: false }
            api ServerlessHttpApi Http stage=$default implicit=true binary=[] default_auth=-
              cors Cors { allow_origins: ["*"], allow_methods: ["*"], allow_headers: ["*"], expose_headers: [], max_age: None, allow_credentials: false }
        "#]],
    );
}

#[test]
fn rest_api_explicit_with_cors_binary_types_and_authorizers() {
    check(
        &t(r#"
Globals:
  Api:
    BinaryMediaTypes: ["image~1png"]
Resources:
  Rest:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      Cors:
        AllowOrigin: "'*'"
        AllowMethods: "'GET,POST'"
        AllowHeaders: "'Content-Type,X-Api-Key'"
        MaxAge: "'300'"
      BinaryMediaTypes: ["application~1octet-stream"]
      Auth:
        DefaultAuthorizer: Token
        Authorizers:
          Token:
            FunctionArn: !GetAtt Authorizer.Arn
          Request:
            FunctionArn: !GetAtt Authorizer.Arn
            FunctionPayloadType: REQUEST
            Identity: {Headers: [X-User], QueryStrings: [key]}
          Pool:
            UserPoolArn: arn:aws:cognito-idp:us-east-1:123456789012:userpool/x
  Authorizer:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: auth, Handler: app.handler, Runtime: python3.11}
  Handler:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello
      Handler: app.handler
      Runtime: python3.11
      Events:
        Get: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /items, Method: GET}}
        Post: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /items, Method: post, Auth: {Authorizer: Request}}}
        Any: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: "/{proxy+}", Method: any, Auth: {Authorizer: NONE}}}
        Pooled: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /pooled, Method: get, Auth: {Authorizer: Pool}}}
"#),
        expect![[r#"
            function Authorizer name=Authorizer runtime=python3.11 handler=app.handler code=$DIR/auth timeout=3s memory=128 storage=512 arch=X86_64 reserved=-
            function Handler name=Handler runtime=python3.11 handler=app.handler code=$DIR/hello timeout=3s memory=128 storage=512 arch=X86_64 reserved=-
              event Get Api GET /items api=Rest payload=1.0 auth=Token
              event Post Api POST /items api=Rest payload=1.0 auth=Request
              event Any Api ANY /{proxy+} api=Rest payload=1.0 auth=-
              event Pooled Api GET /pooled api=Rest payload=1.0 auth=-
            api Rest Rest stage=Prod implicit=false binary=["image/png", "application/octet-stream"] default_auth=Token
              cors Cors { allow_origins: ["*"], allow_methods: ["GET", "POST"], allow_headers: ["Content-Type", "X-Api-Key"], expose_headers: [], max_age: Some(300), allow_credentials: false }
              authorizer Request Lambda { function_logical_id: "Authorizer", identity_sources: ["method.request.header.X-User", "method.request.querystring.key"], simple_responses: false, payload_format_version: "1.0", token: false }
              authorizer Token Lambda { function_logical_id: "Authorizer", identity_sources: ["method.request.header.Authorization"], simple_responses: false, payload_format_version: "1.0", token: true }
            $DIR/template.yaml:28:13: warning: Rest.Properties.Auth.Authorizers.Pool: Cognito user pool authorizers are not emulated; routes using it are open locally
        "#]],
    );
}

#[test]
fn queues_and_sqs_events() {
    check(
        &t(r#"
Resources:
  Dlq:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
      MessageRetentionPeriod: 1209600
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: jobs.fifo
      FifoQueue: true
      ContentBasedDeduplication: true
      VisibilityTimeout: 60
      DelaySeconds: 5
      MaximumMessageSize: 2048
      ReceiveMessageWaitTimeSeconds: 20
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt Dlq.Arn
        maxReceiveCount: 3
      Tags:
        - {Key: team, Value: core}
  Legacy:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy: '{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:elsewhere", "maxReceiveCount": 5}'
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello
      Handler: app.handler
      Runtime: python3.12
      Events:
        FromJobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 100
            MaximumBatchingWindowInSeconds: 2
            FunctionResponseTypes: [ReportBatchItemFailures]
            ScalingConfig: {MaximumConcurrency: 5}
        FromElsewhere:
          Type: SQS
          Properties:
            Queue: arn:aws:sqs:us-east-1:123456789012:external
            Enabled: false
        Nightly:
          Type: Schedule
          Properties: {Schedule: rate(1 day)}
"#),
        expect![[r#"
            function Worker name=Worker runtime=python3.12 handler=app.handler code=$DIR/hello timeout=3s memory=128 storage=512 arch=X86_64 reserved=-
              event FromJobs SQS queue=Jobs arn=arn:aws:sqs:us-east-1:123456789012:jobs.fifo batch=100 window=2s enabled=true partial=true max=Some(5)
              event FromElsewhere SQS queue=- arn=arn:aws:sqs:us-east-1:123456789012:external batch=10 window=0s enabled=false partial=false max=None
            queue Dlq name=fogbank-Dlq-HVDYEQLB5C36.fifo fifo=true dedup=false visibility=None retention=Some(1209600) delay=None max_size=None wait=None
            queue Jobs name=jobs.fifo fifo=true dedup=true visibility=Some(60) retention=None delay=Some(5) max_size=Some(2048) wait=Some(20)
              redrive arn:aws:sqs:us-east-1:123456789012:fogbank-Dlq-HVDYEQLB5C36.fifo after 3
              tag team=core
            queue Legacy name=fogbank-Legacy-5GKPKOOC6H69 fifo=false dedup=false visibility=None retention=None delay=None max_size=None wait=None
              redrive arn:aws:sqs:us-east-1:123456789012:elsewhere after 5
            $DIR/template.yaml:28:22: warning: Legacy.Properties.RedrivePolicy.deadLetterTargetArn: dead-letter queue `arn:aws:sqs:us-east-1:123456789012:elsewhere` is not a queue of this template; use !GetAtt MyDeadLetterQueue.Arn
            $DIR/template.yaml:47:20: warning: Worker.Properties.Events.FromElsewhere.Properties.Queue: Queue `arn:aws:sqs:us-east-1:123456789012:external`: it is not a queue of this template, so nothing will feed the function locally unless a queue with that name is created
            $DIR/template.yaml:50:17: warning: Worker.Properties.Events.Nightly.Type: event type `Schedule` is not emulated; the function can still be invoked directly (fogbank invoke, the Lambda API)
        "#]],
    );
}

#[test]
fn layers_local_and_arn() {
    check(
        &t(r#"
Resources:
  Common:
    Type: AWS::Serverless::LayerVersion
    Properties:
      LayerName: common
      ContentUri: layers/common
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello
      Handler: app.handler
      Runtime: python3.12
      Layers:
        - !Ref Common
        - ./src/api
        - arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3:7
"#),
        expect![[r#"
            function Fn name=Fn runtime=python3.12 handler=app.handler code=$DIR/hello timeout=3s memory=128 storage=512 arch=X86_64 reserved=-
              layer $DIR/layers/common
              layer $DIR/src/api
            $DIR/template.yaml:19:11: warning: Fn.Properties.Layers[2]: layer `arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3:7` is published in AWS and cannot be fetched offline; it is skipped. Declare it as an AWS::Serverless::LayerVersion with a local ContentUri to use it
        "#]],
    );
}

#[test]
fn function_url_metadata_and_provided_runtime() {
    check(
        &t(r#"
Resources:
  RustFn:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties:
        Binary: hello
        Flags: [--release]
      DockerImage: fogbank/rust:1
    Properties:
      CodeUri: .
      Handler: bootstrap
      Runtime: provided.al2023
      Architectures: [arm64]
      FunctionUrlConfig:
        AuthType: NONE
        Cors:
          AllowOrigins: ["*"]
          ExposeHeaders: [x-id]
  NoHandler:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: provided.al2
"#),
        expect![[r#"
            function NoHandler name=NoHandler runtime=provided.al2 handler=- code=$DIR timeout=3s memory=128 storage=512 arch=X86_64 reserved=-
            function RustFn name=RustFn runtime=provided.al2023 handler=bootstrap code=$DIR timeout=3s memory=128 storage=512 arch=Arm64 reserved=-
              build method=Some("rust-cargolambda") properties={"Binary": "hello", "Flags": "[\"--release\"]"} docker=Some("fogbank/rust:1")
              url auth=NONE cors=Some(Cors { allow_origins: ["*"], allow_methods: [], allow_headers: [], expose_headers: ["x-id"], max_age: None, allow_credentials: false })
        "#]],
    );
}

#[test]
fn json_template_without_transform() {
    check(
        r#"{
  "Resources": {
    "Fn": {
      "Type": "AWS::Serverless::Function",
      "Properties": {"CodeUri": "hello", "Handler": "app.handler", "Runtime": "python3.9", "Timeout": 900}
    }
  }
}"#,
        expect![[r#"
            function Fn name=Fn runtime=python3.9 handler=app.handler code=$DIR/hello timeout=900s memory=128 storage=512 arch=X86_64 reserved=-
            $DIR/template.yaml: warning: Transform: the template does not declare `Transform: AWS::Serverless-2016-10-31`; Fogbank reads it as a SAM template anyway, but CloudFormation would reject the AWS::Serverless resources
        "#]],
    );
}

#[test]
fn example_templates_load() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let examples = function::normalize(&examples);
    let mut out = String::new();
    for name in ["hello-api", "node-api", "python-api"] {
        let loaded = load(
            &examples.join(name).join("template.yaml"),
            &LoadOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        writeln!(out, "# {name}").unwrap();
        out.push_str(&render_app(&loaded.app));
        for warning in &loaded.warnings {
            writeln!(out, "{warning}").unwrap();
        }
    }
    expect![[r##"
        # hello-api
        function HelloFunction name=HelloFunction runtime=provided.al2023 handler=bootstrap code=$EXAMPLES/hello-api timeout=10s memory=128 storage=512 arch=X86_64 reserved=-
          event Hello HttpApi GET /hello/{name} api=ServerlessHttpApi payload=2.0 auth=-
          event CreateOrder HttpApi POST /orders api=ServerlessHttpApi payload=2.0 auth=-
          event Panic HttpApi GET /panic api=ServerlessHttpApi payload=2.0 auth=-
          build method=Some("rust-cargolambda") properties={} docker=None
        api ServerlessHttpApi Http stage=$default implicit=true binary=[] default_auth=-
        # node-api
        function HelloFunction name=HelloFunction runtime=nodejs20.x handler=app.handler code=$EXAMPLES/node-api/src timeout=5s memory=128 storage=512 arch=X86_64 reserved=-
          event Hello HttpApi GET /hello/{name} api=ServerlessHttpApi payload=2.0 auth=-
        function ItemsFunction name=ItemsFunction runtime=nodejs20.x handler=items.handler code=$EXAMPLES/node-api/src timeout=5s memory=128 storage=512 arch=X86_64 reserved=-
          env CURRENCY=EUR
          event GetItem HttpApi GET /items/{id} api=ServerlessHttpApi payload=2.0 auth=-
          event CreateItem HttpApi POST /items api=ServerlessHttpApi payload=2.0 auth=-
        api ServerlessHttpApi Http stage=$default implicit=true binary=[] default_auth=-
        # python-api
        function HelloWorldFunction name=HelloWorldFunction runtime=python3.12 handler=app.lambda_handler code=$EXAMPLES/python-api/hello_world timeout=3s memory=128 storage=512 arch=X86_64 reserved=-
          env GREETING=hello world
          event HelloWorld Api GET /hello api=ServerlessRestApi payload=1.0 auth=-
          event GetItem Api GET /items/{id} api=ServerlessRestApi payload=1.0 auth=-
          event CreateItem Api POST /items api=ServerlessRestApi payload=1.0 auth=-
        api ServerlessRestApi Rest stage=Prod implicit=true binary=[] default_auth=-
    "##]].assert_eq(&out.replace(&examples.to_string_lossy().into_owned(), "$EXAMPLES"));
}

// ----- the issue's required bad-input cases: one clear message each -----

#[test]
fn yaml_syntax_error() {
    check(
        &t("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n   Properties: {\n"),
        expect![[r#"
            $DIR/template.yaml:6:4: error: yaml syntax error: while parsing a block mapping, did not find expected key
        "#]],
    );
}

#[test]
fn missing_handler() {
    check(
        &t(r#"
Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello
      Runtime: python3.12
"#),
        expect![[r#"
            $DIR/template.yaml:7:5: error: HelloFunction.Properties.Handler: missing Handler; python3.12 functions need "module.function", such as app.lambda_handler
        "#]],
    );
}

#[test]
fn unknown_ref() {
    check(
        &t(r#"
Parameters:
  TableName: {Type: String, Default: t}
Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables:
          TABLE: !Ref TabelName
"#),
        expect![[r#"
            $DIR/template.yaml:15:18: error: HelloFunction.Properties.Environment.Variables.TABLE: unknown reference `TabelName` in !Ref (did you mean `TableName`?); it is not a parameter, a pseudo parameter or a resource of this template
        "#]],
    );
}

#[test]
fn code_uri_that_does_not_exist() {
    check(
        &t(r#"
Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ./missing
      Handler: app.handler
      Runtime: python3.12
"#),
        expect![[r#"
            $DIR/template.yaml:8:16: error: HelloFunction.Properties.CodeUri: CodeUri `./missing` does not exist (looked for $DIR/missing); create it or fix the path, which is relative to the template's directory
        "#]],
    );
}

#[test]
fn code_uri_and_content_uri_that_are_files() {
    check(
        &t(r#"
Resources:
  Layer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layers/common.ZIP
  Script:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello/app.py
      Handler: app.handler
      Runtime: python3.12
      Layers: [hello/app.py]
  Zipped:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code.zip
      Handler: app.handler
      Runtime: python3.12
"#),
        expect![[r#"
            $DIR/template.yaml:8:19: error: Layer.Properties.ContentUri: ContentUri `layers/common.ZIP` is a zip file, and zip ContentUris are not supported offline yet; unzip it and point ContentUri at the unzipped source directory
            $DIR/template.yaml:12:16: error: Script.Properties.CodeUri: CodeUri `hello/app.py` is a file, not a directory; point CodeUri at the directory that holds it, such as `hello`
            $DIR/template.yaml:15:16: error: Script.Properties.Layers[0]: layer path `hello/app.py` is a file, not a directory; point the layer path at the directory that holds it, such as `hello`
            $DIR/template.yaml:19:16: error: Zipped.Properties.CodeUri: CodeUri `code.zip` is a zip file, and zip CodeUris are not supported offline yet; unzip it and point CodeUri at the unzipped source directory
        "#]],
    );
}

#[test]
fn unknown_event_types_are_errors_and_unemulated_ones_warnings() {
    check(
        &t(r#"
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello
      Handler: app.handler
      Runtime: python3.12
      Events:
        Typo:
          Type: Apii
          Properties: {Path: /hello, Method: get}
        Lowercase:
          Type: sqs
        Nothing:
          Type: Carrier
        Nightly:
          Type: ScheduleV2
          Properties: {ScheduleExpression: rate(1 day)}
"#),
        expect![[r#"
            $DIR/template.yaml:13:17: error: Fn.Properties.Events.Typo.Type: unknown event type `Apii` (did you mean `Api`?); SAM's event types are Api, HttpApi, SQS, S3, SNS, Kinesis, DynamoDB, Schedule, ScheduleV2, CloudWatchEvent, EventBridgeRule, CloudWatchLogs, IoTRule, AlexaSkill, Cognito, MSK, MQ, SelfManagedKafka, DocumentDB
            $DIR/template.yaml:16:17: error: Fn.Properties.Events.Lowercase.Type: unknown event type `sqs` (did you mean `SQS`?); SAM's event types are Api, HttpApi, SQS, S3, SNS, Kinesis, DynamoDB, Schedule, ScheduleV2, CloudWatchEvent, EventBridgeRule, CloudWatchLogs, IoTRule, AlexaSkill, Cognito, MSK, MQ, SelfManagedKafka, DocumentDB
            $DIR/template.yaml:18:17: error: Fn.Properties.Events.Nothing.Type: unknown event type `Carrier`; SAM's event types are Api, HttpApi, SQS, S3, SNS, Kinesis, DynamoDB, Schedule, ScheduleV2, CloudWatchEvent, EventBridgeRule, CloudWatchLogs, IoTRule, AlexaSkill, Cognito, MSK, MQ, SelfManagedKafka, DocumentDB
            $DIR/template.yaml:20:17: warning: Fn.Properties.Events.Nightly.Type: event type `ScheduleV2` is not emulated; the function can still be invoked directly (fogbank invoke, the Lambda API)
        "#]],
    );
}

#[test]
fn malformed_paths_are_errors() {
    check(
        &t(r#"
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello
      Handler: app.handler
      Runtime: python3.12
      Events:
        Unclosed: {Type: Api, Properties: {Path: '/items/{id', Method: get}}
        Nameless: {Type: Api, Properties: {Path: '/items/{}', Method: get}}
        ExtraBrace: {Type: HttpApi, Properties: {Path: '/a/{x}}', Method: get}}
        GreedyFirst: {Type: HttpApi, Properties: {Path: '/{proxy+}/tail', Method: get}}
        Relative: {Type: HttpApi, Properties: {Path: items, Method: get}}
        Partial: {Type: Api, Properties: {Path: '/items/{id}.json', Method: get}}
        Twice: {Type: Api, Properties: {Path: '/a/{id}/b/{id}', Method: get}}
        RestDefault: {Type: Api, Properties: {Path: $default, Method: get}}
"#),
        expect![[r#"
            $DIR/template.yaml:12:50: error: Fn.Properties.Events.Unclosed.Properties.Path: Path `/items/{id` has a `{` without a closing `}` in `{id`; write a parameter as `{name}`
            $DIR/template.yaml:13:50: error: Fn.Properties.Events.Nameless.Properties.Path: Path `/items/{}` has `{}`, a parameter without a name; name it, such as `{id}`
            $DIR/template.yaml:14:56: error: Fn.Properties.Events.ExtraBrace.Properties.Path: Path `/a/{x}}` has a `}` without an opening `{` in `{x}}`; write a parameter as `{name}`
            $DIR/template.yaml:15:57: error: Fn.Properties.Events.GreedyFirst.Properties.Path: Path `/{proxy+}/tail` has `{proxy+}` before other segments; a greedy parameter must be the last segment, such as `/files/{proxy+}`
            $DIR/template.yaml:16:54: error: Fn.Properties.Events.Relative.Properties.Path: Path `items` must start with `/`
            $DIR/template.yaml:17:49: error: Fn.Properties.Events.Partial.Properties.Path: Path `/items/{id}.json` has `{id}.json`, but a parameter must be a whole segment, such as `/items/{id}`
            $DIR/template.yaml:18:47: error: Fn.Properties.Events.Twice.Properties.Path: Path `/a/{id}/b/{id}` names the parameter `id` twice; each parameter of a path needs its own name
            $DIR/template.yaml:19:53: error: Fn.Properties.Events.RestDefault.Properties.Path: Path `$default` must start with `/`
        "#]],
    );
}

#[test]
fn well_formed_paths_are_accepted() {
    check(
        &t(r#"
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello
      Handler: app.handler
      Runtime: python3.12
      Events:
        Root: {Type: Api, Properties: {Path: /, Method: get}}
        Params: {Type: Api, Properties: {Path: '/shops/{shop_id}/items/{item-id}', Method: get}}
        Greedy: {Type: Api, Properties: {Path: '/files/{proxy+}', Method: any}}
        Punctuated: {Type: HttpApi, Properties: {Path: /v1.2/my-items_all, Method: get}}
        Default: {Type: HttpApi}
        DefaultExplicit: {Type: HttpApi, Properties: {Path: $default, Method: post}}
"#),
        expect![[r#"
            function Fn name=Fn runtime=python3.12 handler=app.handler code=$DIR/hello timeout=3s memory=128 storage=512 arch=X86_64 reserved=-
              event Root Api GET / api=ServerlessRestApi payload=1.0 auth=-
              event Params Api GET /shops/{shop_id}/items/{item-id} api=ServerlessRestApi payload=1.0 auth=-
              event Greedy Api ANY /files/{proxy+} api=ServerlessRestApi payload=1.0 auth=-
              event Punctuated HttpApi GET /v1.2/my-items_all api=ServerlessHttpApi payload=2.0 auth=-
              event Default HttpApi ANY $default api=ServerlessHttpApi payload=2.0 auth=-
              event DefaultExplicit HttpApi POST $default api=ServerlessHttpApi payload=2.0 auth=-
            api ServerlessRestApi Rest stage=Prod implicit=true binary=[] default_auth=-
            api ServerlessHttpApi Http stage=$default implicit=true binary=[] default_auth=-
        "#]],
    );
}

#[test]
fn numbers_and_booleans_given_as_lists_or_maps() {
    check(
        &t(r#"
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello
      Handler: app.handler
      Runtime: python3.12
      Timeout: [3]
      MemorySize: {Size: 256}
      ReservedConcurrentExecutions: [1]
      EphemeralStorage: {Size: [1024]}
      FunctionUrlConfig: {AuthType: NONE, Cors: {MaxAge: [1], AllowCredentials: [true]}}
  Q:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: [true]
      VisibilityTimeout: [30]
  Rest:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      Cors: {AllowOrigin: "'*'", MaxAge: ["'600'"]}
"#),
        expect![[r#"
            $DIR/template.yaml:11:16: error: Fn.Properties.Timeout: expected a number of seconds between 1 and 900, found a list
            $DIR/template.yaml:12:19: error: Fn.Properties.MemorySize: expected a size in MB between 128 and 10240, found a map
            $DIR/template.yaml:13:37: error: Fn.Properties.ReservedConcurrentExecutions: expected a whole number between 0 and 4294967295, found a list
            $DIR/template.yaml:14:32: error: Fn.Properties.EphemeralStorage.Size: expected a size in MB between 512 and 10240, found a list
            $DIR/template.yaml:15:58: error: Fn.Properties.FunctionUrlConfig.Cors.MaxAge: expected a number of seconds between 0 and 86400, found a list
            $DIR/template.yaml:15:81: error: Fn.Properties.FunctionUrlConfig.Cors.AllowCredentials: expected true or false, found a list
            $DIR/template.yaml:19:18: error: Q.Properties.FifoQueue: expected true or false, found a list
            $DIR/template.yaml:20:26: error: Q.Properties.VisibilityTimeout: expected a number of seconds between 0 and 43200, found a list
            $DIR/template.yaml:25:42: error: Rest.Properties.Cors.MaxAge: expected a number of seconds, such as "'600'", found a list
        "#]],
    );
}

#[test]
fn problems_in_globals_are_reported_once_as_globals() {
    check(
        &t(r#"
Globals:
  Function:
    Timeout: "abc"
    Layers: [missing/]
    Environment:
      Variables:
        AWS_REGION: x
  Api:
    BinaryMediaTypes: {a: b}
Resources:
  A:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello
      Handler: app.handler
      Runtime: python3.12
      Events:
        Get: {Type: Api, Properties: {Path: /a, Method: get}}
  B:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello
      Handler: app.handler
      Runtime: python3.12
      MemorySize: 1
      Environment:
        Variables:
          OWN: y
"#),
        expect![[r#"
            $DIR/template.yaml:6:14: error: Globals.Function.Timeout: `abc` is not a number of seconds between 1 and 900
            $DIR/template.yaml:7:14: error: Globals.Function.Layers[0]: layer path `missing/` does not exist (looked for $DIR/missing); create it or fix the path, which is relative to the template's directory
            $DIR/template.yaml:10:9: error: Globals.Function.Environment.Variables.AWS_REGION: `AWS_REGION` is reserved by Lambda, which sets it itself; rename the variable
            $DIR/template.yaml:12:23: error: Globals.Api.BinaryMediaTypes: expected a list, found a map
            $DIR/template.yaml:28:19: error: B.Properties.MemorySize: `1` is not a size in MB between 128 and 10240
        "#]],
    );
}

#[test]
fn tab_indentation_is_named() {
    check(
        &t(
            "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n\t  CodeUri: hello\n      Handler: app.handler\n",
        ),
        expect![[r#"
            $DIR/template.yaml:7:1: error: line 7 is indented with a tab, and YAML does not allow tabs for indentation; indent with spaces (yaml syntax error at 7:4: tabs disallowed within this context (block indentation))
        "#]],
    );
}

#[test]
fn unsupported_runtime() {
    check(
        &t(r#"
Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello
      Handler: app.handler
      Runtime: java21
"#),
        expect![[r#"
            $DIR/template.yaml:10:16: error: HelloFunction.Properties.Runtime: unsupported Runtime `java21`; supported runtimes are provided, provided.al2, provided.al2023, python3.9, python3.10, python3.11, python3.12, python3.13, python3.14, nodejs18.x, nodejs20.x, nodejs22.x, nodejs24.x
        "#]],
    );
}

#[test]
fn every_problem_is_reported() {
    check(
        &t(r#"
Parameters:
  NoDefault: {Type: String}
Conditions:
  Loop: !Condition Loop
Globals:
  Function:
    Timeout: 3
    FunctionName: shared
Resources:
  A:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello
      Runtime: nodejs20.x
      Hanlder: index.handler
      Timeout: 2000
      MemorySize: big
      Architectures: [x86_64, arm64]
      Environment:
        Variables:
          AWS_REGION: x
          GOOD: !Sub "${Missing.Arn}"
      Events:
        Bad:
          Type: Api
          Properties: {Path: nope, Method: fetch}
  B:
    Type: AWS::Serverless::Function
    Condition: Loop
    DependsOn: [Nobody]
    Properties:
      CodeUri: s3://bucket/key.zip
      Handler: app
      Runtime: python3.8
  C:
    Type: AWS::Serverless::Functoin
  Q:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: not-fifo
      FifoQueue: true
      VisibilityTimeout: -1
Outputs:
  X:
    Value: !GetAtt A.Nope
"#),
        expect![[r#"
            $DIR/template.yaml:5:3: error: Parameters.NoDefault: parameter `NoDefault` has no Default and no override; add a Default or pass --parameter-overrides NoDefault=VALUE
            $DIR/template.yaml:7:9: error: Conditions.Loop: condition `Loop` refers to itself through other conditions
            $DIR/template.yaml:11:5: error: Globals.Function.FunctionName: `FunctionName` is not allowed under Globals.Function; set it on each resource instead
            $DIR/template.yaml:15:5: error: A.Properties.Handler: missing Handler; nodejs20.x functions need "file.function", such as index.handler
            $DIR/template.yaml:18:7: error: A.Properties.Hanlder: unknown property `Hanlder` for AWS::Serverless::Function (did you mean `Handler`?)
            $DIR/template.yaml:19:16: error: A.Properties.Timeout: `2000` is not a number of seconds between 1 and 900
            $DIR/template.yaml:20:19: error: A.Properties.MemorySize: `big` is not a size in MB between 128 and 10240
            $DIR/template.yaml:21:22: error: A.Properties.Architectures: Architectures must be a list of exactly one of x86_64 or arm64, found [x86_64, arm64]
            $DIR/template.yaml:24:11: error: A.Properties.Environment.Variables.AWS_REGION: `AWS_REGION` is reserved by Lambda, which sets it itself; rename the variable
            $DIR/template.yaml:25:17: error: A.Properties.Environment.Variables.GOOD: unknown reference `Missing` in !Sub; it is not a parameter, a pseudo parameter or a resource of this template
            $DIR/template.yaml:29:30: error: A.Properties.Events.Bad.Properties.Path: Path `nope` must start with `/`
            $DIR/template.yaml:29:44: error: A.Properties.Events.Bad.Properties.Method: Method `fetch` is not an HTTP method; use GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, ANY
            $DIR/template.yaml:33:17: error: B.DependsOn: DependsOn names `Nobody`, which is not a resource of this template
            $DIR/template.yaml:35:16: error: B.Properties.CodeUri: CodeUri `s3://bucket/key.zip` is in S3, which cannot be fetched offline; point it at the local source directory
            $DIR/template.yaml:37:16: error: B.Properties.Runtime: unsupported Runtime `python3.8`; supported runtimes are provided, provided.al2, provided.al2023, python3.9, python3.10, python3.11, python3.12, python3.13, python3.14, nodejs18.x, nodejs20.x, nodejs22.x, nodejs24.x
            $DIR/template.yaml:38:3: error: C.Type: unknown SAM resource type `AWS::Serverless::Functoin` (did you mean `AWS::Serverless::Function`?)
            $DIR/template.yaml:43:18: error: Q.Properties.QueueName: FIFO queue name `not-fifo` must end in `.fifo`; rename it `not-fifo.fifo`
            $DIR/template.yaml:45:26: error: Q.Properties.VisibilityTimeout: `-1` is not a number of seconds between 0 and 43200
            $DIR/template.yaml:48:12: error: Outputs.X.Value: AWS::Serverless::Function has no attribute `Nope`; use A.Arn
        "#]],
    );
}

#[test]
fn reference_and_route_errors() {
    check(
        &t(r#"
Conditions:
  Never: !Equals [a, b]
Mappings:
  M: {k: {v: x}}
Resources:
  Gone:
    Type: AWS::SQS::Queue
    Condition: Never
  Rest:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
  Loop:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Ref Loop
      Runtime: provided
  Dup:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: Fn
      Runtime: provided
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables:
          A: !Ref Gone
          B: !If [Missing, x, y]
          C: !Select [5, [a, b]]
          D: !FindInMap [M, k, nope]
          E: !ImportValue shared-value
          F: !GetAtt Fn.Nope
          G: !Equals [a, b]
      Events:
        One: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /x, Method: get}}
        Two: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /x, Method: GET}}
        Three: {Type: Api, Properties: {RestApiId: !Ref Fn, Path: /y, Method: get}}
        Four: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /z, Method: get, Auth: {Authorizer: Nobody}}}
        Five: {Type: HttpApi, Properties: {Path: /only-path}}
        Six: {Type: SQS, Properties: {Queue: !GetAtt Gone.Arn}}
"#),
        expect![[r#"
            $DIR/template.yaml:19:21: error: Loop.Properties.FunctionName: the name refers back to the resource itself; give a literal name or one built from parameters
            $DIR/template.yaml:26:3: error: Fn.Properties.FunctionName: function name `Fn` is already used by Dup; function names must be unique
            $DIR/template.yaml:34:14: error: Fn.Properties.Environment.Variables.A: refers to `Gone`, which is not created because its condition `Never` is false; guard the reference with !If [Never, ..., !Ref AWS::NoValue]
            $DIR/template.yaml:35:19: error: Fn.Properties.Environment.Variables.B: unknown condition `Missing`; declare it under `Conditions`
            $DIR/template.yaml:36:23: error: Fn.Properties.Environment.Variables.C: Fn::Select index 5 is out of range for a list of 2
            $DIR/template.yaml:37:14: error: Fn.Properties.Environment.Variables.D: mapping `M` has no entry `k` / `nope`
            $DIR/template.yaml:38:14: error: Fn.Properties.Environment.Variables.E: Fn::ImportValue reads another stack's outputs, which do not exist offline; use a parameter instead and set it with --parameter-overrides
            $DIR/template.yaml:39:14: error: Fn.Properties.Environment.Variables.F: AWS::Serverless::Function has no attribute `Nope`; use Fn.Arn
            $DIR/template.yaml:40:14: error: Fn.Properties.Environment.Variables.G: Fn::Equals may only be used under `Conditions`; declare a condition and use it with Fn::If
            $DIR/template.yaml:43:9: error: Fn.Properties.Events.Two.Properties: route GET /x on Rest is already served by Fn.One (line 42); each method and path may have one function
            $DIR/template.yaml:44:52: error: Fn.Properties.Events.Three.Properties.RestApiId: RestApiId `Fn` is not an AWS::Serverless::Api of this template; use !Ref with the API's logical ID
            $DIR/template.yaml:45:104: error: Fn.Properties.Events.Four.Properties.Auth.Authorizer: authorizer `Nobody` is not declared in Rest's Auth.Authorizers (declared: none)
            $DIR/template.yaml:46:9: error: Fn.Properties.Events.Five.Properties: an HttpApi event needs both Path and Method, or neither for the $default route
            $DIR/template.yaml:47:46: error: Fn.Properties.Events.Six.Properties.Queue: refers to `Gone`, which is not created because its condition `Never` is false; guard the reference with !If [Never, ..., !Ref AWS::NoValue]
        "#]],
    );
}

#[test]
fn yaml_anchors_and_aliases_are_usable() {
    check(
        &t(r#"
Resources:
  A:
    Type: AWS::Serverless::Function
    Properties: &common
      CodeUri: hello
      Handler: app.handler
      Runtime: python3.12
  B:
    Type: AWS::Serverless::Function
    Properties: *common
"#),
        expect![[r#"
            function A name=A runtime=python3.12 handler=app.handler code=$DIR/hello timeout=3s memory=128 storage=512 arch=X86_64 reserved=-
            function B name=B runtime=python3.12 handler=app.handler code=$DIR/hello timeout=3s memory=128 storage=512 arch=X86_64 reserved=-
        "#]],
    );
}

// ----- fuzzing -----

/// A valid template exercising most of the loader, the seed for mutations.
const SEED: &str = r#"AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Names: {Type: CommaDelimitedList, Default: "a,b"}
Mappings:
  M: {dev: {Mem: 256}}
Conditions:
  IsDev: !Equals [!Ref Stage, dev]
  NotDev: !Not [!Condition IsDev]
Globals:
  Function:
    Runtime: python3.12
    Timeout: 10
    Environment: {Variables: {STAGE: !Ref Stage}}
  HttpApi:
    CorsConfiguration: true
Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
      RedrivePolicy: {deadLetterTargetArn: !GetAtt D.Arn, maxReceiveCount: 2}
  D:
    Type: AWS::SQS::Queue
    Properties: {FifoQueue: true}
  L:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: .}
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        Authorizers:
          A: {FunctionArn: !GetAtt F.Arn, AuthorizerPayloadFormatVersion: "2.0"}
  F:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub "${AWS::StackName}-${Stage}"
      CodeUri: .
      Handler: app.handler
      MemorySize: !FindInMap [M, !Ref Stage, Mem]
      Layers: [!Ref L]
      Environment:
        Variables:
          Q: !Ref Q
          J: !Join ["-", !Ref Names]
          S: !Select [0, !Split [",", "x,y"]]
          I: !If [NotDev, a, !Ref AWS::NoValue]
          B: !Base64 x
      Events:
        R: {Type: Api, Properties: {Path: /r, Method: get}}
        H: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /h, Method: post, Auth: {Authorizer: A}}}
        D: {Type: HttpApi}
        S: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn, BatchSize: 5}}
  T:
    Type: AWS::DynamoDB::Table
Outputs:
  O: {Value: !Sub "${F.Arn} ${ServerlessRestApi}"}
"#;

/// Loads `source` and asserts the loader neither panics (a panic fails the
/// test by itself) nor takes long.
fn load_is_bounded(source: &str) {
    let started = Instant::now();
    let result = load_str(
        source,
        Path::new("/nonexistent-fogbank-fuzz/template.yaml"),
        &LoadOptions::default(),
    );
    if let Err(diagnostics) = &result {
        assert!(
            !diagnostics.0.is_empty(),
            "an error result must carry a diagnostic"
        );
        for d in &diagnostics.0 {
            assert!(!d.message.is_empty());
        }
    }
    // Generous for a debug build on a busy machine, yet far below what a
    // superlinear blow-up on the large inputs would take.
    let limit = Duration::from_secs(2) + Duration::from_micros(10) * source.len() as u32;
    let shown: String = source.chars().take(300).collect();
    assert!(
        started.elapsed() < limit,
        "loading took {:?} for {shown:?}...",
        started.elapsed()
    );
}

#[test]
fn seed_template_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("template.yaml");
    let loaded = load_str(SEED, &path, &LoadOptions::default()).unwrap();
    assert_eq!(loaded.app.functions.len(), 1);
    assert_eq!(loaded.app.apis.len(), 3);
    assert_eq!(loaded.app.queues.len(), 2);
}

/// One edit to a template's text.
#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    DuplicateLine { line: usize },
    SwapLines { a: usize, b: usize },
    Indent { line: usize, by: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Characters that matter to YAML and to the loader, plus a few tokens.
    let token = prop_oneof![
        Just(":".to_owned()),
        Just(" ".to_owned()),
        Just("\n".to_owned()),
        Just("- ".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("&a ".to_owned()),
        Just("*a".to_owned()),
        Just("!Ref ".to_owned()),
        Just("!GetAtt F.Arn".to_owned()),
        Just("!Sub '${".to_owned()),
        Just("!If [IsDev, ".to_owned()),
        Just("!Condition NotDev".to_owned()),
        Just("Fn::".to_owned()),
        Just("'".to_owned()),
        Just("\"".to_owned()),
        Just("#".to_owned()),
        Just("\t".to_owned()),
        Just("AWS::NoValue".to_owned()),
        "[a-zA-Z0-9.$/]{0,6}",
    ];
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), token).prop_map(|(at, text)| Mutation::Insert { at, text }),
        any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        (any::<usize>(), 0usize..6).prop_map(|(line, by)| Mutation::Indent { line, by }),
    ]
}

fn apply(source: &str, mutation: &Mutation) -> String {
    let mut lines: Vec<String> = source.lines().map(str::to_owned).collect();
    let char_index = |s: &str, at: usize| -> usize {
        let count = s.chars().count().max(1);
        s.char_indices().nth(at % count).map_or(s.len(), |(i, _)| i)
    };
    match mutation {
        Mutation::Delete { at, len } => {
            let start = char_index(source, *at);
            let end = source[start..]
                .char_indices()
                .nth(*len)
                .map_or(source.len(), |(i, _)| start + i);
            return format!("{}{}", &source[..start], &source[end..]);
        }
        Mutation::Insert { at, text } => {
            let i = char_index(source, *at);
            return format!("{}{}{}", &source[..i], text, &source[i..]);
        }
        Mutation::DuplicateLine { line } if !lines.is_empty() => {
            let i = line % lines.len();
            let copy = lines[i].clone();
            lines.insert(i, copy);
        }
        Mutation::SwapLines { a, b } if !lines.is_empty() => {
            let (a, b) = (a % lines.len(), b % lines.len());
            lines.swap(a, b);
        }
        Mutation::Indent { line, by } if !lines.is_empty() => {
            let i = line % lines.len();
            lines[i] = format!("{}{}", " ".repeat(*by), lines[i]);
        }
        _ => {}
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        load_is_bounded(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn fuzz_yaml_shaped_text(text in "[a-zA-Z:!&*\\[\\]{}#'\" \\n-]{0,300}") {
        load_is_bounded(&text);
    }

    #[test]
    fn fuzz_mutated_templates(mutations in proptest::collection::vec(mutation(), 1..6)) {
        let mut source = SEED.to_owned();
        for m in &mutations {
            source = apply(&source, m);
        }
        load_is_bounded(&source);
    }
}

#[test]
fn hostile_inputs_are_bounded() {
    // Deep nesting in every form the loader recurses over.
    let deep_flow = format!("Resources: {}{}", "[".repeat(5000), "]".repeat(5000));
    load_is_bounded(&deep_flow);
    let deep_intrinsics = format!(
        "{HEADER}Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Handler: {}x{}\n",
        "!Base64 [".repeat(98),
        "]".repeat(98)
    );
    load_is_bounded(&deep_intrinsics);
    // A long chain of conditions, each referring to the next.
    let mut chain = format!("{HEADER}Conditions:\n");
    for i in 0..3000 {
        writeln!(chain, "  C{i}: !Not [!Condition C{}]", i + 1).unwrap();
    }
    chain.push_str("  C3000: !Equals [a, a]\nResources:\n  F:\n    Type: AWS::Serverless::Function\n    Condition: C0\n    Properties: {Runtime: provided}\n");
    load_is_bounded(&chain);
    // A chain of function names, each the next function's name.
    let mut names = format!("{HEADER}Resources:\n");
    for i in 0..3000 {
        writeln!(
            names,
            "  F{i}:\n    Type: AWS::Serverless::Function\n    Properties: {{Runtime: provided, FunctionName: !Ref F{}}}",
            i + 1
        )
        .unwrap();
    }
    load_is_bounded(&names);
    // Many resources, each with problems and references.
    let mut wide = format!("{HEADER}Resources:\n");
    for i in 0..3000 {
        writeln!(
            wide,
            "  F{i}:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: provided\n      FunctionName: !Sub '${{Nope{i}}}-${{F{}.Arn}}'\n      Events: {{E: {{Type: Api, Properties: {{Path: /x, Method: get}}}}}}",
            (i + 1) % 3000
        )
        .unwrap();
    }
    load_is_bounded(&wide);
    // Alias expansion.
    let mut laughs = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        writeln!(
            laughs,
            "a{i}: &a{i} [{}]",
            vec![format!("*a{}", i - 1); 10].join(", ")
        )
        .unwrap();
    }
    load_is_bounded(&laughs);
}

#[test]
fn unreadable_file() {
    let err = load(
        Path::new("/nonexistent-fogbank/template.yaml"),
        &LoadOptions::default(),
    )
    .unwrap_err();
    expect!["/nonexistent-fogbank/template.yaml: error: cannot read the template: No such file or directory (os error 2); pass the right file with --template PATH"]
        .assert_eq(&err.to_string());
}
