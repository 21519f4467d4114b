//! The daemon: `hapflow serve` watches an inbox, converts every matrix dropped there under
//! one memory ceiling, checkpoints in sled, and publishes results atomically.

pub mod records;
pub mod store;
