//! What the daemon checks in its configuration before any work, at start and on every
//! reload: its four folders apart, and the values only it reads in range. Each refusal is a
//! configuration error (exit 2 at start; on reload the old configuration stays) that names
//! what the user wrote and what would work.

use std::path::{Component, Path, PathBuf};

use crate::config::Config;
use crate::error::{Error, Result};

/// The shortest full-rescan period: below it an idle daemon spends a core listing its inbox.
pub const MIN_RESCAN_MS: u64 = 100;

/// The level names a log filter may use (alone, or after `target=`).
const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// The values only the daemon reads: `rescan_ms` and `log_level`.
pub fn check_values(c: &Config) -> Result<()> {
    check_rescan(c.daemon.rescan_ms)?;
    check_log_level(&c.daemon.log_level)
}

/// `path` made absolute against the working folder, with `.` and `..` resolved by name,
/// and through the deepest part of it that exists resolved on disk (so a link to a folder
/// is seen as that folder).
fn normalize(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(path)
    };
    let mut lexical = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::ParentDir => {
                lexical.pop();
            }
            Component::CurDir => {}
            other => lexical.push(other),
        }
    }
    // Resolve the longest existing prefix on disk; the rest stays as written.
    let mut existing = lexical.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (
            existing.file_name().map(|n| n.to_os_string()),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => return lexical,
        }
    }
    let mut resolved = existing.canonicalize().unwrap_or(existing);
    for name in rest.into_iter().rev() {
        resolved.push(name);
    }
    resolved
}

/// The inbox, outbox, failed and state folders must be four different folders, none
/// inside another: an outbox that is the inbox takes every output back as input, a failed
/// folder that is the inbox loops one bad file forever, and a folder inside the inbox gets
/// moved into `failed/` with the daemon's own store in it. The metrics file must not be in
/// the inbox either.
pub fn check_folders(c: &Config) -> Result<()> {
    let p = &c.paths;
    let named = [
        ("inbox", &p.inbox),
        ("outbox", &p.outbox),
        ("failed", &p.failed),
        ("state", &p.state),
    ];
    let resolved: Vec<(&str, &PathBuf, PathBuf)> = named
        .iter()
        .map(|(name, path)| (*name, *path, normalize(path)))
        .collect();
    for (i, (a, a_path, a_real)) in resolved.iter().enumerate() {
        for (b, b_path, b_real) in &resolved[i + 1..] {
            let why = if a_real == b_real {
                "are the same folder"
            } else if b_real.starts_with(a_real) {
                "overlap: the second is inside the first"
            } else if a_real.starts_with(b_real) {
                "overlap: the first is inside the second"
            } else {
                continue;
            };
            return Err(Error::config(format!(
                "[paths] {a} ({}) and {b} ({}) {why}; inbox, outbox, failed and state must be \
                 four different folders, none inside another",
                a_path.display(),
                b_path.display()
            )));
        }
    }
    // The metrics file is rewritten every few seconds: in the inbox, it would be taken as a
    // matrix, again and again.
    if let Some(textfile) = &c.metrics.textfile {
        if normalize(textfile).starts_with(&resolved[0].2) {
            return Err(Error::config(format!(
                "[metrics] textfile ({}) is inside the inbox ({}): the daemon would take its \
                 own metrics as a matrix; put it in node_exporter's textfile folder",
                textfile.display(),
                p.inbox.display()
            )));
        }
    }
    Ok(())
}

/// Refuses a `[daemon] rescan_ms` below the shortest allowed.
///
/// # Errors
///
/// [`crate::ErrorKind::Config`], naming the value and the shortest allowed.
pub fn check_rescan(rescan_ms: u64) -> Result<()> {
    if rescan_ms < MIN_RESCAN_MS {
        return Err(Error::config(format!(
            "[daemon] rescan_ms = {rescan_ms} is too short: at least {MIN_RESCAN_MS} \
             (milliseconds; the default is 30000)"
        )));
    }
    Ok(())
}

/// A log filter: comma-separated directives, each a level (`warn`) or `target=level`
/// (`hapflow=debug`, `sled=warn`). A bare word that is not a level is refused: `tracing`
/// would read `warning` as "everything from a module named warning", silencing every
/// line, errors included.
pub fn check_log_level(filter: &str) -> Result<()> {
    let refuse = |why: String| {
        Err(Error::config(format!(
            "[daemon] log_level = {filter:?} is not a log filter: {why}; use a level ({}), or \
             directives such as \"info,sled=warn\"",
            LEVELS.join(", ")
        )))
    };
    if filter.trim().is_empty() {
        return refuse("it is empty".into());
    }
    for directive in filter.split(',').map(str::trim) {
        let level = match directive.rsplit_once('=') {
            Some((target, level)) if !target.is_empty() => level,
            Some(_) => return refuse(format!("{directive:?} names no target")),
            None => directive,
        };
        if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return refuse(format!("{level:?} is not a level"));
        }
    }
    tracing_subscriber::EnvFilter::try_new(filter)
        .map(|_| ())
        .or_else(|e| refuse(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(inbox: &str, outbox: &str, failed: &str, state: &str) -> Result<()> {
        let mut c = Config::default();
        c.paths.inbox = inbox.into();
        c.paths.outbox = outbox.into();
        c.paths.failed = failed.into();
        c.paths.state = state.into();
        check_folders(&c)
    }

    #[test]
    fn folders_must_differ_and_not_nest() {
        assert!(paths("in", "out", "failed", "state").is_ok());
        assert!(paths("/srv/in", "/srv/out", "/srv/failed", "/srv/inbox-state").is_ok());
        for (bad, names) in [
            (paths("in", "in", "f", "s"), ["inbox (in)", "outbox (in)"]),
            (paths("in", "o", "in/", "s"), ["inbox (in)", "failed (in/)"]),
            (
                paths("in", "in/out", "f", "s"),
                ["inbox (in)", "outbox (in/out)"],
            ),
            (paths("in", "o", "f", "./in/x/../state"), ["inbox", "state"]),
            (
                paths("/a/b", "o", "f", "/a"),
                ["inbox (/a/b)", "state (/a)"],
            ),
        ] {
            let e = bad.unwrap_err();
            assert_eq!(e.exit_code(), 2);
            let text = e.to_string();
            for n in names {
                assert!(text.contains(n), "{text}");
            }
        }
    }

    #[test]
    fn the_metrics_file_stays_out_of_the_inbox() {
        let mut c = Config::default();
        c.paths.inbox = "in".into();
        c.metrics.textfile = Some("in/hapflow.prom".into());
        let e = check_folders(&c).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e
            .to_string()
            .contains("[metrics] textfile (in/hapflow.prom) is inside the inbox"));
        c.metrics.textfile = Some("./in/../metrics/hapflow.prom".into());
        assert!(check_folders(&c).is_ok());
    }

    #[test]
    fn a_link_to_the_inbox_is_the_inbox() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = dir.path().join("in");
        std::fs::create_dir(&inbox).unwrap();
        std::os::unix::fs::symlink(&inbox, dir.path().join("out")).unwrap();
        let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
        assert!(paths(&p("in"), &p("out"), &p("f"), &p("s")).is_err());
    }

    #[test]
    fn rescan_and_log_level_ranges() {
        assert!(check_rescan(0).is_err());
        assert!(check_rescan(99).is_err());
        assert!(check_rescan(100).is_ok());
        for good in ["info", "WARN", "debug,sled=info", "hapflow=trace", "off"] {
            assert!(check_log_level(good).is_ok(), "{good}");
        }
        for bad in ["warning", "", "info,verbose", "sled=loud", "=info"] {
            let e = check_log_level(bad).unwrap_err().to_string();
            assert!(e.contains("log_level"), "{e}");
        }
    }
}
