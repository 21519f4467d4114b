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

/// Large buffers of the test process stay out of forked children, so that a child's peak RSS
/// is its own although other tests run in the same process (see `helper/dont_fork.rs`).
#[global_allocator]
static ALLOCATOR: helper::dont_fork::DontForkBig = helper::dont_fork::DontForkBig;
