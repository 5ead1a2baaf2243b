//! Fogbank's integration tests.

// The Python and Node.js bootstraps and the example apps under AWS's Runtime
// Interface Emulator, plus the differential test against awslambdaric.
mod runtimes;
