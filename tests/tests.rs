//! Fogbank's integration tests.
