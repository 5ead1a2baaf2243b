//! Shared helpers for Fogbank's integration tests.
