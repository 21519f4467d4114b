//! The daemon's folders as it creates them, and the modes it gives them.
//!
//! The inbox, outbox and failed folders are for people: the users of the service's group
//! drop matrices into the inbox and collect tables and reports, so the daemon creates them
//! `2770` (owner and group read, write and enter; set-group-ID, so every file made in them
//! belongs to the folder's group), whatever the umask. The state folder is the daemon's
//! own, but `hapflow status` run by a member of the group reads `state/status.json`: it is
//! created `0750`. Folders that exist already keep the modes their owner gave them.
//!
//! Files the daemon creates (outputs, reports, the status) have mode `0666` less
//! `[daemon] umask` (less others' write bit, always): under the shipped service
//! configuration's `umask = "0027"`, `0640`, read by the group, not by others.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The daemon's folders: `inbox` (matrices dropped in), `outbox` (tables published),
/// `failed` (bad inputs and their reports), `state` (store, journals, status, lock).
#[derive(Debug, Clone)]
pub struct Folders {
    /// Where matrices are dropped.
    pub inbox: PathBuf,
    /// Where outputs are published (and the hidden work files kept).
    pub outbox: PathBuf,
    /// Where bad inputs go, each with a report.
    pub failed: PathBuf,
    /// The daemon's own: the store, the contig journals, the status file, the lock.
    pub state: PathBuf,
}

impl Folders {
    /// Where inputs go after their output is published, under `on_success = "archive"`.
    pub fn archive(&self) -> PathBuf {
        self.state.join("archive")
    }

    /// The four folders, in the order above.
    #[cfg(test)]
    pub fn all(&self) -> [&Path; 4] {
        [&self.inbox, &self.outbox, &self.failed, &self.state]
    }
}

/// Mode of the inbox, outbox and failed folders the daemon creates.
pub const SHARED_MODE: u32 = 0o2770;
/// Mode of the state folder the daemon creates.
pub const STATE_MODE: u32 = 0o750;

/// Creates whichever of the four folders is missing (parents included), each with its mode.
pub fn create(folders: &Folders) -> Result<()> {
    for (dir, mode) in [
        (&folders.inbox, SHARED_MODE),
        (&folders.outbox, SHARED_MODE),
        (&folders.failed, SHARED_MODE),
        (&folders.state, STATE_MODE),
    ] {
        create_one(dir, mode)?;
    }
    Ok(())
}

/// Mode of the `[metrics] textfile` folder the daemon creates: node_exporter runs as another
/// user and must list it and read the file (itself `0644`).
pub const METRICS_MODE: u32 = 0o755;

/// Creates the folder of the `[metrics] textfile` at `textfile` if it is missing (parents
/// included), mode [`METRICS_MODE`], as the four folders are; an existing one keeps its
/// mode. Errors: the folder cannot be created ([`crate::ErrorKind::Io`]).
pub fn create_metrics_folder(textfile: &Path) -> Result<()> {
    match textfile.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => create_one(dir, METRICS_MODE),
        _ => Ok(()),
    }
}

fn create_one(dir: &Path, mode: u32) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, "create", e))?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(Error::io(dir, "create", e)),
    }
    // The umask applied to mkdir; the mode is set outright.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(dir, "set the mode of", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_folders_get_their_modes_whatever_the_umask() {
        let root = tempfile::tempdir().unwrap();
        let f = Folders {
            inbox: root.path().join("a/inbox"),
            outbox: root.path().join("outbox"),
            failed: root.path().join("failed"),
            state: root.path().join("state"),
        };
        std::fs::create_dir(&f.outbox).unwrap();
        std::fs::set_permissions(&f.outbox, std::fs::Permissions::from_mode(0o700)).unwrap();
        create(&f).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&f.inbox), 0o2770);
        assert_eq!(mode(&f.failed), 0o2770);
        assert_eq!(mode(&f.state), 0o750);
        assert_eq!(mode(&f.outbox), 0o700, "an existing folder keeps its mode");
        create(&f).unwrap();
        let textfile = root.path().join("node-exporter/textfile/hapflow.prom");
        create_metrics_folder(&textfile).unwrap();
        assert_eq!(mode(textfile.parent().unwrap()), 0o755);
    }
}
