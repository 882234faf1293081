//! stepbox's integration tests: one test binary, one module per area.

mod cli;
mod conformance;
mod crash;
mod sandbox;
mod server;
