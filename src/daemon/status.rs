//! What the daemon is doing, for `hapflow status`: a board the daemon keeps in memory and
//! writes to `state/status.json` (temporary name, then rename) whenever it changes. sled
//! allows one opener, so the status command reads this file, never the store.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const STATUS_FILE: &str = "status.json";
/// Contig names listed per job at most; `contigs_done_count` has the full count.
pub const CONTIGS_LISTED: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStatus {
    pub id: u64,
    pub input: String,
    /// `queued`, `running`, `done` or `failed`.
    pub state: String,
    /// Size of the input file.
    pub bytes_total: u64,
    /// Bytes of the input file converted (compressed bytes for gzip).
    pub bytes_done: u64,
    /// Rows of the matrix converted so far (all of them once done).
    #[serde(default)]
    pub rows_in: u64,
    /// Rows written to the output so far (all of them once done).
    #[serde(default)]
    pub rows_out: u64,
    /// Contigs the conversion has finished (the input moved past them).
    pub contigs_done: Vec<String>,
    pub contigs_done_count: usize,
    /// The input byte the last restart resumed from; null if the job never resumed.
    pub resumed_at_byte: Option<u64>,
    /// The output's file name in the outbox, once published.
    pub output: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub pid: u32,
    /// `starting`, `ready`, `stopping` or `stopped`.
    pub state: String,
    /// Whether a daemon holds the state folder now (filled in by the reader).
    pub running: bool,
    pub updated_unix_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub daemon: DaemonStatus,
    pub jobs: Vec<JobStatus>,
}

/// The daemon's in-memory board.
#[derive(Debug)]
pub struct Board {
    state: String,
    jobs: BTreeMap<u64, JobStatus>,
    dirty: bool,
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Default for Board {
    fn default() -> Self {
        Board {
            state: "starting".into(),
            jobs: BTreeMap::new(),
            dirty: true,
        }
    }
}

impl Board {
    pub fn set_state(&mut self, state: &str) {
        self.state = state.into();
        self.dirty = true;
    }

    pub fn update(&mut self, id: u64, f: impl FnOnce(&mut JobStatus)) {
        if let Some(j) = self.jobs.get_mut(&id) {
            f(j);
            self.dirty = true;
        }
    }

    pub fn insert(&mut self, job: JobStatus) {
        self.jobs.insert(job.id, job);
        self.dirty = true;
    }

    pub fn remove(&mut self, id: u64) {
        self.dirty |= self.jobs.remove(&id).is_some();
    }

    /// Every job on the board, oldest first.
    pub fn jobs(&self) -> impl Iterator<Item = &JobStatus> {
        self.jobs.values()
    }

    /// Jobs queued or running.
    pub fn jobs_active(&self) -> impl Iterator<Item = &JobStatus> {
        self.jobs
            .values()
            .filter(|j| j.state == "queued" || j.state == "running")
    }

    pub fn snapshot(&self) -> Status {
        Status {
            daemon: DaemonStatus {
                pid: std::process::id(),
                state: self.state.clone(),
                running: true,
                updated_unix_ms: now_ms(),
            },
            jobs: self.jobs.values().cloned().collect(),
        }
    }

    /// Writes the board to `state/status.json` if it changed since the last write.
    pub fn write_if_dirty(&mut self, state_dir: &Path) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let json = serde_json::to_vec_pretty(&self.snapshot()).expect("status serialises");
        // Visibility, not durability: the store is the record; this is rebuilt from it.
        let path = state_dir.join(STATUS_FILE);
        let tmp = state_dir.join(".status.json.tmp");
        std::fs::write(&tmp, json)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|e| Error::io(&path, "write", e))?;
        self.dirty = false;
        Ok(())
    }
}

/// Reads the status a daemon left in `state_dir`, saying whether one runs there now. A
/// stopped daemon's running jobs are shown as queued: they resume when it starts again. A
/// daemon that holds the folder but has not written its status yet is `starting`. A state
/// folder that does not exist is an error (a typo, not "no jobs").
pub fn read(state_dir: &Path) -> Result<Status> {
    match std::fs::metadata(state_dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(Error::config(format!(
                "the state folder {} is not a folder",
                state_dir.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::config(format!(
                "the state folder {} does not exist (no daemon has run there; check --state \
                 or [paths] state)",
                state_dir.display()
            )))
        }
        Err(e) => return Err(Error::io(state_dir, "read", e)),
    }
    let path = state_dir.join(STATUS_FILE);
    let running = super::lock::daemon_running(state_dir);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Status {
                daemon: DaemonStatus {
                    pid: 0,
                    state: if running { "starting" } else { "stopped" }.into(),
                    running,
                    updated_unix_ms: 0,
                },
                jobs: Vec::new(),
            })
        }
        Err(e) => return Err(Error::io(&path, "read", e)),
    };
    let mut status: Status = serde_json::from_slice(&text)
        .map_err(|e| Error::io(&path, "parse", std::io::Error::other(e)))?;
    status.daemon.running = running;
    if running && status.daemon.state == "stopped" {
        // The last daemon's file, not yet replaced by the one starting now.
        status.daemon.state = "starting".into();
    }
    if !running {
        status.daemon.state = "stopped".into();
        for j in &mut status.jobs {
            if j.state == "running" {
                j.state = "queued".into();
            }
        }
    }
    Ok(status)
}

/// The plain form of `hapflow status`: one line per job.
pub fn table(status: &Status) -> String {
    let mut s = format!(
        "daemon: {}{}\n",
        status.daemon.state,
        if status.daemon.running {
            format!(" (pid {})", status.daemon.pid)
        } else {
            String::new()
        }
    );
    if status.jobs.is_empty() {
        s += "no jobs\n";
        return s;
    }
    s += &format!(
        "{:<8} {:>6}  {:<40} {}\n",
        "STATE", "DONE", "INPUT", "OUTPUT / ERROR"
    );
    for j in &status.jobs {
        let pct = if j.bytes_total == 0 {
            100.0
        } else {
            100.0 * j.bytes_done as f64 / j.bytes_total as f64
        };
        let note = match (&j.output, &j.error) {
            (_, Some(e)) => e.clone(),
            (Some(o), None) => o.clone(),
            _ => match j.resumed_at_byte {
                Some(b) => format!("resumed at byte {b}"),
                None => String::new(),
            },
        };
        s += &format!("{:<8} {:>5.1}%  {:<40} {}\n", j.state, pct, j.input, note);
    }
    s
}
