//! Fogbank: a local emulator for AWS SAM applications.
//!
//! See ARCHITECTURE.md at the repository root for the bird's-eye view. In
//! short: [`app`] turns a template into a typed model, front doors
//! ([`lambda_api`], [`gateway`], [`sqs`]) turn wire formats into
//! [`invoke::Invocation`]s, the [`invoke::Invoker`] owns instance pools, and
//! [`backend`]s start the function processes that talk to [`runtime_api`].

pub mod app;
pub mod backend;
pub mod builder;
pub mod cli;
pub mod console;
pub mod control;
pub mod event_source;
pub mod gateway;
pub mod host;
pub mod http_server;
pub mod invoke;
pub mod lambda_api;
pub mod reload;
pub mod runtime_api;
pub mod runtimes;
pub mod server;
pub mod sqs;
