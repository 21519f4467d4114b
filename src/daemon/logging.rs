//! The daemon's log: a level that a reload can change, and one-line messages. The
//! process-wide logger itself is installed by `main.rs` (structured logs on stderr, the
//! journal under systemd), which hands [`serve`](crate::daemon::serve) a [`LogHandle`].

use tracing_subscriber::{reload, EnvFilter, Registry};

/// Changes the log filter of a running daemon.
pub struct LogHandle(reload::Handle<EnvFilter, Registry>);

/// The filter for `level` (a `tracing` filter directive such as `info` or
/// `debug,sled=info`).
///
/// # Errors
///
/// A directive `tracing` cannot parse, said as `invalid log_level "...": why`.
pub fn filter(level: &str) -> Result<EnvFilter, String> {
    EnvFilter::try_new(level).map_err(|e| format!("invalid log_level {level:?}: {e}"))
}

impl LogHandle {
    /// Wraps the reload handle of the filter layer the process's logger was built with.
    pub fn new(handle: reload::Handle<EnvFilter, Registry>) -> LogHandle {
        LogHandle(handle)
    }

    /// Sets the log level to `level` (a `tracing` filter directive).
    ///
    /// # Errors
    ///
    /// A directive that does not parse ([`filter`]), or a logger that is gone.
    pub fn set(&self, level: &str) -> Result<(), String> {
        self.0.reload(filter(level)?).map_err(|e| e.to_string())
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
