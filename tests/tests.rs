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
