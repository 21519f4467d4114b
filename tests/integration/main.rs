//! The integration tests, one binary with a module per area (`cargo test --test integration`;
//! filter by path, e.g. `cargo test --test integration daemon::`):
//!
//! - `convert/`: the real `hapflow convert` binary: command line, the field's matrix shapes,
//!   golden outputs, output formats, the memory ceiling.
//! - `daemon/`: a real `hapflow serve`: conversions, crashes and signals, reliability,
//!   metrics, the systemd unit.
//! - `helper/`: running the real binary with its peak memory measured, booting a daemon.
//!
//! The library's in-process property tests are a binary of their own, `tests/props/`.

mod convert;
mod daemon;
mod generate_command;
mod helper;
