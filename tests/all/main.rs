//! stepbox's integration tests: one test binary, one module per area.

mod callbacks;
mod clients;
mod console;
mod cli;
mod cli_mocks;
mod conformance;
mod crash;
mod database_lost;
mod disk_full;
mod failover;
mod http;
mod polyglot;
mod postgres;
mod sandbox;
mod server;
mod tenants_cli;
mod warm;
