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

/// `text` on one line, for a log that keeps one line per event: TOML's error diagram
/// (`  |`, `2 | x =`, `  |     ^`) is dropped and the remaining lines joined with "; ".
pub fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| {
            let diagram = l.starts_with('|')
                || l.split_once(" |")
                    .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            !l.is_empty() && !diagram
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_toml_error_diagram_becomes_one_line() {
        let e = crate::config::Config::parse("[daemon]\nsettle_ms = \"x\n").unwrap_err();
        assert!(e.contains('\n'), "{e}");
        let line = one_line(&format!("invalid config /etc/h.toml: {e}"));
        assert!(!line.contains('\n') && !line.contains('^'), "{line}");
        assert!(
            line.starts_with("invalid config /etc/h.toml: TOML parse error at line 2"),
            "{line}"
        );
    }
}
