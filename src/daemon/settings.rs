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

/// Logs what a reload changed.
pub(super) fn log_changes(old: &Config, new: &Config) {
    let mut changes = Vec::new();
    let mut note = |what: &str, a: String, b: String| {
        if a != b {
            changes.push(format!("{what} {a} -> {b}"));
        }
    };
    note(
        "settle_ms",
        old.daemon.settle_ms.to_string(),
        new.daemon.settle_ms.to_string(),
    );
    note(
        "rescan_ms",
        old.daemon.rescan_ms.to_string(),
        new.daemon.rescan_ms.to_string(),
    );
    note(
        "memory limit",
        old.memory.limit.to_string(),
        new.memory.limit.to_string(),
    );
    note("threads", old.threads.to_string(), new.threads.to_string());
    note(
        "log_level",
        old.daemon.log_level.clone(),
        new.daemon.log_level.clone(),
    );
    note(
        "on_success",
        format!("{:?}", old.daemon.on_success),
        format!("{:?}", new.daemon.on_success),
    );
    note(
        "pairs",
        old.pairs().len().to_string(),
        new.pairs().len().to_string(),
    );
    if old.paths.inbox != new.paths.inbox
        || old.paths.outbox != new.paths.outbox
        || old.paths.failed != new.paths.failed
        || old.paths.state != new.paths.state
    {
        tracing::warn!("folder changes take effect at the next start");
    }
    if changes.is_empty() {
        tracing::info!("configuration reloaded: nothing changed");
    } else {
        tracing::info!("configuration reloaded: {}", changes.join(", "));
    }
}
