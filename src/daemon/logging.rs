//! Structured logs on stderr (the journal, under systemd), with a level SIGHUP can change.

use tracing_subscriber::prelude::*;
use tracing_subscriber::{fmt, reload, EnvFilter, Registry};

/// Changes the log filter of a running daemon.
pub struct LogHandle(reload::Handle<EnvFilter, Registry>);

/// Starts logging at `level` (a `tracing` filter directive).
pub fn init(level: &str) -> Result<LogHandle, String> {
    let filter =
        EnvFilter::try_new(level).map_err(|e| format!("invalid log_level {level:?}: {e}"))?;
    let (filter, handle) = reload::Layer::new(filter);
    tracing_subscriber::registry()
        .with(filter)
        .with(
            fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .try_init()
        .map_err(|e| e.to_string())?;
    Ok(LogHandle(handle))
}

impl LogHandle {
    pub fn set(&self, level: &str) -> Result<(), String> {
        let filter =
            EnvFilter::try_new(level).map_err(|e| format!("invalid log_level {level:?}: {e}"))?;
        self.0.reload(filter).map_err(|e| e.to_string())
    }
}
