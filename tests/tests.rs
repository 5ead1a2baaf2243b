//! Fogbank's integration tests.

// The Python and Node.js bootstraps and the example apps under AWS's Runtime
// Interface Emulator, plus the differential test against awslambdaric.
mod runtimes;

// fogbank-agent (ptrace over RSP) and fogbank-dap's RSP client against real
// servers (the agent, Debian's gdbserver), real gdb, fuzzing, containers.
mod debugger_rsp;

// SQS over both wire protocols (in-process server), the boto3/aws CLI
// conformance suite against fogbank and moto, and the kill -9 durability test.
mod sqs;

// `fogbank start`/`invoke` as processes: the Invoke and Runtime APIs and
// their error paths, the examples through fogbank invoke, boto3 and the aws
// CLI, awslambdaric, the differential test against AWS's RIE, and the CLI.
mod emulator;

// The Docker runtime against a real engine: the examples in containers,
// sandbox isolation, memory limits, faults (kill -9, killed containers, an
// unreachable engine) and the container lifecycle. Slow tier; fails when no
// engine answers (start one with .ci/docker-up).
mod docker;

// API Gateway through `fogbank start`: the events functions receive
// (snapshots, AWS's field lists, the differential test against SAM CLI's
// generated events), every error path, CORS, authorizers, function URLs,
// the three examples over HTTP, and bad input.
mod gateway;

// fogbank-dap as a DAP server: the acceptance test on hello-api in a
// container (breakpoints, stepping, variables, conditions, logpoints, the
// panic filter, hot reload) and fogbank-dap against Debian's gdbserver.
mod debugger;

// Hot reload through `fogbank start`: edits of each example's handler under
// a load loop (no failed, hung or mixed-version response), broken builds
// that keep the old version and recover, template edits that add routes,
// functions and queues without a restart, --no-watch, stale-only builds at
// start, and the control interface's reload event.
mod reload;

// Debugging a function in the cloud: the fogbank-relay process, sessions
// from `fogbank debug-session new`, `fogbank live`, package-agent, and the
// cloud sandbox (AWS's RIE in a host-network container running
// `fogbank-agent --forward`) with the security checks.
mod relay;
