//! What the outside asks of a running daemon, as one enum on the channel
//! [`serve`](crate::daemon::serve) takes: `hapflow serve` turns SIGTERM/SIGINT and SIGHUP into
//! these (in `main.rs`, which owns the process), a test sends them itself.

/// A request to the daemon's main loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Stop taking files, checkpoint the running job, return (SIGTERM or SIGINT).
    Shutdown,
    /// Read the configuration file again (SIGHUP).
    Reload,
}
