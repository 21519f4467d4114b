//! What the daemon runs with: the configuration file with the command line's overrides,
//! checked, and the settings a job takes from it; and what a reload changed.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::daemon::checks;
use crate::daemon::folders::Folders;
use crate::daemon::job::Settings;
use crate::daemon::state::fingerprint::ConversionSettings;
use crate::error::{Error, Result};
use crate::pipeline::Plan;

/// sled's page cache. Its default is 1 GiB and it is not a ceiling on sled's memory, so it
/// is set small and the rest of sled's needs are in [`DAEMON_RESERVE`].
pub const SLED_CACHE: u64 = 1 << 20;
/// Memory the daemon needs besides the conversion's buffers and the process base: sled
/// (cache, log buffers, threads), the inotify watcher, logging, the status board. Measured
/// with `VmHWM` (README, "Memory"), with headroom.
pub const DAEMON_RESERVE: u64 = 10 << 20;
/// Command-line values that override the configuration file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--inbox`: `[paths] inbox`.
    pub inbox: Option<PathBuf>,
    /// `--outbox`: `[paths] outbox`.
    pub outbox: Option<PathBuf>,
    /// `--failed`: `[paths] failed`.
    pub failed: Option<PathBuf>,
    /// `--state`: `[paths] state`.
    pub state: Option<PathBuf>,
    /// `--memory-limit`, in bytes: `[memory] limit`.
    pub memory_limit: Option<u64>,
}

impl Overrides {
    /// Sets in `c` every value given here.
    pub fn apply(&self, c: &mut Config) {
        let set = |to: &mut PathBuf, from: &Option<PathBuf>| {
            if let Some(p) = from {
                *to = p.clone();
            }
        };
        set(&mut c.paths.inbox, &self.inbox);
        set(&mut c.paths.outbox, &self.outbox);
        set(&mut c.paths.failed, &self.failed);
        set(&mut c.paths.state, &self.state);
        if let Some(l) = self.memory_limit {
            c.memory.limit.0 = l;
        }
    }
}

/// Reads the configuration the daemon runs with: the file (if any), then the overrides,
/// then the daemon's value checks (`checks::check_values`; `serve` checks the folders
/// too, `status` does not need them apart).
///
/// # Errors
///
/// A file that cannot be read or parsed, or a value the daemon refuses
/// ([`crate::ErrorKind::Config`]).
pub fn load_config(path: Option<&Path>, overrides: &Overrides) -> Result<Config> {
    let mut c = match path {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    overrides.apply(&mut c);
    checks::check_values(&c)?;
    Ok(c)
}

/// [`load_config`], and the folders apart ([`checks::check_folders`]): what `serve` runs
/// with, at start and on reload.
pub(super) fn load_serve_config(path: Option<&Path>, overrides: &Overrides) -> Result<Config> {
    let c = load_config(path, overrides)?;
    checks::check_folders(&c)?;
    Ok(c)
}

/// What a job runs with, from the configuration: the plan under `[memory] limit` less
/// [`DAEMON_RESERVE`].
///
/// # Errors
///
/// A limit too small for the daemon with its worker threads ([`crate::ErrorKind::Config`],
/// quoting the smallest whole MiB that works).
pub fn job_settings(c: &Config) -> Result<Settings> {
    let limit = c.memory.limit.0;
    let workers = c.worker_threads();
    let output = c.output.settings(None);
    let plan_for = |limit: u64| {
        Plan::for_output(
            limit.checked_sub(DAEMON_RESERVE)?,
            workers,
            output.bgzf_level,
        )
        .ok()
    };
    let Some(mut plan) = plan_for(limit) else {
        // Quote the user's figure, and the smallest whole MiB that works (the daemon's own
        // reserve included: it is not the user's to subtract).
        let need = (1u64..)
            .map(|mib| mib << 20)
            .find(|&l| plan_for(l).is_some())
            .expect("some limit is enough");
        return Err(Error::config(format!(
            "[memory] limit = \"{}\" is too small for the daemon with {workers} worker \
             threads: at least \"{}\" is needed",
            c.memory.limit,
            crate::config::size::format_size(need)
        )));
    };
    plan.limit = limit;
    let conversion = ConversionSettings::from_config(c, &plan);
    Ok(Settings {
        plan,
        fingerprint: conversion.fingerprint(),
        conversion,
        on_success: c.daemon.on_success,
    })
}

/// The folders `c` names.
pub(super) fn folders_of(c: &Config) -> Folders {
    Folders {
        inbox: c.paths.inbox.clone(),
        outbox: c.paths.outbox.clone(),
        failed: c.paths.failed.clone(),
        state: c.paths.state.clone(),
    }
}

/// Keys (or key prefixes, ending in `.`) a reload reads but the daemon applies only at its
/// next start: the folders, the process's umask and the metrics textfile are set up once.
const AT_NEXT_START: &[&str] = &["paths.", "daemon.umask", "metrics."];

/// Logs what a reload changed: one line naming every setting whose value differs
/// ([`config_changes`]), or saying that nothing did; and a warning naming those that take
/// effect only at the next start.
pub(super) fn log_changes(old: &Config, new: &Config) {
    let changes = config_changes(old, new);
    let later: Vec<&str> = (changes.iter())
        .map(|c| c.key.as_str())
        .filter(|k| AT_NEXT_START.iter().any(|p| k.starts_with(p)))
        .collect();
    if changes.is_empty() {
        tracing::info!("configuration reloaded: nothing changed");
    } else {
        let listed: Vec<String> = changes.iter().map(Change::to_string).collect();
        tracing::info!("configuration reloaded: {}", listed.join(", "));
    }
    if !later.is_empty() {
        tracing::warn!(
            "{} take effect at the next start, not on reload",
            later.join(", ")
        );
    }
}

/// One setting a reload changed: its key as the configuration file spells it, dotted
/// (`output.format`, `pair[0].first.label`), and its values before and after as TOML
/// would read them (strings unquoted; `(unset)` for a key absent or not given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Change {
    /// The dotted key: `daemon.settle_ms`, `memory.limit`, `pair[1].second.column`.
    pub key: String,
    /// The value before the reload.
    pub old: String,
    /// The value after the reload.
    pub new: String,
}

impl std::fmt::Display for Change {
    /// `key old -> new`: `output.format vcf -> table`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} -> {}", self.key, self.old, self.new)
    }
}

/// Every setting whose value differs between `old` and `new`, in key order.
///
/// The keys come from the configuration's own serialized form (the `Serialize` derive of
/// [`Config`] and its sections, with the file's names), never from a list kept here: a
/// setting added to the configuration is compared, and logged, without a change to this
/// function. A list of tables (`[[pair]]`) is compared by its length (`[2 tables]`) and
/// key by key, by each table's place in the list.
pub(super) fn config_changes(old: &Config, new: &Config) -> Vec<Change> {
    let (old, new) = (settings_by_key(old), settings_by_key(new));
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let value = |m: &std::collections::BTreeMap<String, String>, k: &str| {
        m.get(k).cloned().unwrap_or_else(|| "(unset)".into())
    };
    keys.into_iter()
        .map(|k| Change {
            key: k.clone(),
            old: value(&old, k),
            new: value(&new, k),
        })
        .filter(|c| c.old != c.new)
        .collect()
}

/// `c`'s every setting, by dotted key, each value written as [`Change`] shows it.
fn settings_by_key(c: &Config) -> std::collections::BTreeMap<String, String> {
    use serde_json::Value;
    fn walk(key: String, v: &Value, out: &mut std::collections::BTreeMap<String, String>) {
        let join = |k: &str| {
            if key.is_empty() {
                k.to_string()
            } else {
                format!("{key}.{k}")
            }
        };
        match v {
            Value::Object(fields) => {
                for (k, v) in fields {
                    walk(join(k), v, out);
                }
            }
            Value::Array(items) if items.iter().any(Value::is_object) => {
                let n = items.len();
                let tables = if n == 1 { "table" } else { "tables" };
                out.insert(key.clone(), format!("[{n} {tables}]"));
                for (i, v) in items.iter().enumerate() {
                    walk(format!("{key}[{i}]"), v, out);
                }
            }
            Value::Null => {
                out.insert(key, "(unset)".into());
            }
            Value::String(s) => {
                out.insert(key, s.clone());
            }
            other => {
                out.insert(key, other.to_string());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    match serde_json::to_value(c) {
        Ok(v) => walk(String::new(), &v, &mut out),
        // Plain data serializes (paths through `path_text`, whatever their bytes); were a
        // value ever refused, the whole configuration is compared as one setting, so that
        // a change is still reported.
        Err(_) => {
            out.insert("configuration".into(), format!("{c:?}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(old: &str, new: &str) -> Vec<String> {
        let (old, new) = (Config::parse(old).unwrap(), Config::parse(new).unwrap());
        config_changes(&old, &new)
            .iter()
            .map(Change::to_string)
            .collect()
    }

    #[test]
    fn every_changed_setting_is_named_with_its_file_key() {
        assert!(changes("", "").is_empty());
        assert_eq!(
            changes(
                "[output]\nformat = \"vcf\"",
                "[output]\nformat = \"table\"\ncompress = \"bgzf\"\ncompress_level = 6"
            ),
            [
                "output.compress (unset) -> bgzf",
                "output.compress_level 1 -> 6",
                "output.format vcf -> table",
            ]
        );
        assert_eq!(
            changes("", "[memory]\nlimit = \"64MiB\"\n[daemon]\nsettle_ms = 50"),
            [
                "daemon.settle_ms 2000 -> 50",
                "memory.limit 256MiB -> 64MiB"
            ]
        );
        assert_eq!(
            changes("", "[alleles]\nmissing = [\"N\", \".\"]\nuppercase = true"),
            [
                "alleles.missing [\"N\"] -> [\"N\",\".\"]",
                "alleles.uppercase false -> true"
            ]
        );
        assert_eq!(
            changes(
                "[[pair]]\nfirst = { label = \"a\", column = 3 }\nsecond = { label = \"b\", column = 4 }",
                "[[pair]]\nfirst = { label = \"a\", column = 3 }\nsecond = { label = \"b\", column = \"x_2\" }"
            ),
            ["pair[0].second.column 4 -> x_2"]
        );
    }

    #[test]
    fn every_key_of_every_section_is_compared() {
        let every = "header_file = \"h.txt\"\nthreads = 3\n\
            [memory]\nlimit = \"64MiB\"\n\
            [paths]\ninbox = \"/i\"\noutbox = \"/o\"\nfailed = \"/f\"\nstate = \"/s\"\n\
            [daemon]\nsettle_ms = 1\nrescan_ms = 100\non_success = \"delete\"\n\
            log_level = \"warn\"\numask = \"0077\"\nkeep_jobs = 5\n\
            [alleles]\nmissing = [\".\"]\nuppercase = true\n\
            [metrics]\ntextfile = \"/m/hapflow.prom\"\n\
            [output]\nformat = \"phase-extender\"\ncompress = \"bgzf\"\ncompress_level = 9\n\
            [[pair]]\nname = \"s\"\nfirst = { label = \"a\", column = 3 }\n\
            second = { label = \"b\", column = 4 }\n";
        let text = toml::from_str::<toml::Table>(every).unwrap();
        let mut keys = Vec::new();
        for (section, v) in &text {
            match v {
                toml::Value::Table(t) => keys.extend(t.keys().map(|k| format!("{section}.{k}"))),
                toml::Value::Array(_) => keys.push(format!("{section}[0].")),
                _ => keys.push(section.clone()),
            }
        }
        let listed = changes("", every);
        for key in &keys {
            assert!(
                listed.iter().any(|c| c.starts_with(key.as_str())),
                "{key} not named: {listed:?}"
            );
        }
        assert!(
            listed.contains(&"pair [] -> [1 table]".to_string()),
            "{listed:?}"
        );
    }

    #[test]
    fn paths_that_are_not_utf8_are_compared_too() {
        use std::os::unix::ffi::OsStrExt;
        let mut old = Config::default();
        old.paths.inbox = Path::new(std::ffi::OsStr::from_bytes(b"in\xffbox")).into();
        let mut new = old.clone();
        new.paths.outbox = Path::new(std::ffi::OsStr::from_bytes(b"out\xfe")).into();
        new.header_file = Some(new.paths.outbox.clone());
        let listed: Vec<String> = config_changes(&old, &new)
            .iter()
            .map(Change::to_string)
            .collect();
        assert_eq!(
            listed,
            [
                "header_file (unset) -> \"out\\xFE\"",
                "paths.outbox outbox -> \"out\\xFE\""
            ]
        );
    }
}
