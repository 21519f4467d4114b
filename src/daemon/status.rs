//! What the daemon is doing, for `hapflow status`: a board the daemon keeps in memory and
//! writes to `state/status.json` (temporary name, then rename) whenever it changes. sled
//! allows one opener, so the status command reads this file, never the store.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::daemon::state::records::{Job, JobState};
use crate::error::{Error, Result};

/// The status file's name in the state folder.
pub const STATUS_FILE: &str = "status.json";
/// Contig names listed per job at most; `contigs_done_count` has the full count.
pub const CONTIGS_LISTED: usize = 10_000;

/// A job's state as the status shows it: the record's
/// `JobState` (the job record's state) folded into four. Serialized (and printed) as
/// `queued`, `running`, `done`, `failed`: the words of `status.json` and `hapflow status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobPhase {
    /// Waiting its turn (also a running job of a daemon that stopped: it resumes then).
    Queued,
    /// Converting or publishing now.
    Running,
    /// Output published, input archived or deleted.
    Done,
    /// The input's own problem: moved to `failed/` with a report (or held in the inbox).
    Failed,
}

impl JobPhase {
    /// The word `status.json` and `hapflow status` show.
    pub fn as_str(self) -> &'static str {
        match self {
            JobPhase::Queued => "queued",
            JobPhase::Running => "running",
            JobPhase::Done => "done",
            JobPhase::Failed => "failed",
        }
    }

    /// Queued or running: the job has not finished.
    pub fn is_active(self) -> bool {
        matches!(self, JobPhase::Queued | JobPhase::Running)
    }
}

impl fmt::Display for JobPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What the daemon as a whole is doing. Serialized (and printed) as `starting`, `ready`,
/// `stopping`, `stopped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DaemonState {
    /// From the moment a daemon takes the state folder until recovery is over.
    Starting,
    /// Watching the inbox and converting.
    Ready,
    /// A stop was asked for: no new files, the running job checkpoints.
    Stopping,
    /// No daemon runs on the state folder.
    Stopped,
}

impl DaemonState {
    /// The word `status.json` and `hapflow status` show.
    pub fn as_str(self) -> &'static str {
        match self {
            DaemonState::Starting => "starting",
            DaemonState::Ready => "ready",
            DaemonState::Stopping => "stopping",
            DaemonState::Stopped => "stopped",
        }
    }
}

impl fmt::Display for DaemonState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One job as `status.json` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStatus {
    /// The job's id in the store (counts up from 0 across restarts).
    pub id: u64,
    /// The input's file name in the inbox.
    pub input: String,
    /// `queued`, `running`, `done` or `failed`.
    pub state: JobPhase,
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
    /// How many contigs the conversion has finished (all of them, beyond the list's limit).
    pub contigs_done_count: usize,
    /// The input byte the last restart resumed from; null if the job never resumed.
    pub resumed_at_byte: Option<u64>,
    /// The output's file name in the outbox, once published.
    pub output: Option<String>,
    /// Why the job failed, or why its last run is being tried again.
    pub error: Option<String>,
}

impl JobStatus {
    /// The status line of a job record; `contigs_done` are the names its journal lists.
    pub(crate) fn of(job: &Job, contigs_done: Vec<String>) -> JobStatus {
        let (state, output, error) = match &job.state {
            JobState::Queued => (JobPhase::Queued, None, None),
            JobState::Running | JobState::Publishing { .. } => (JobPhase::Running, None, None),
            JobState::Published { output } => (JobPhase::Running, Some(output.clone()), None),
            JobState::Done { output } => (JobPhase::Done, Some(output.clone()), None),
            JobState::Failed { error } => (JobPhase::Failed, None, Some(error.clone())),
        };
        let done = matches!(job.state, JobState::Done { .. });
        JobStatus {
            id: job.id,
            input: job.input.clone(),
            state,
            bytes_total: job.identity.size,
            bytes_done: if done {
                job.identity.size
            } else {
                job.checkpoint.map_or(0, |c| c.source_bytes)
            },
            rows_in: job.checkpoint.map_or(0, |c| c.rows_in),
            rows_out: job.checkpoint.map_or(0, |c| c.rows_out),
            contigs_done_count: contigs_done.len(),
            contigs_done,
            resumed_at_byte: job.resumed_at_byte,
            output,
            error,
        }
    }
}

/// The daemon as `status.json` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonStatus {
    /// The daemon's process id (0 if none has written the file yet).
    pub pid: u32,
    /// `starting`, `ready`, `stopping` or `stopped`.
    pub state: DaemonState,
    /// Whether a daemon holds the state folder now (filled in by the reader).
    pub running: bool,
    /// When the file was written, in milliseconds since the Unix epoch.
    pub updated_unix_ms: u64,
}

/// The whole of `status.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The daemon.
    pub daemon: DaemonStatus,
    /// Every job the store knows, oldest first.
    pub jobs: Vec<JobStatus>,
}

/// The daemon's in-memory board.
#[derive(Debug)]
pub struct Board {
    state: DaemonState,
    jobs: BTreeMap<u64, JobStatus>,
    dirty: bool,
}

/// Now, in milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Default for Board {
    fn default() -> Self {
        Board {
            state: DaemonState::Starting,
            jobs: BTreeMap::new(),
            dirty: true,
        }
    }
}

impl Board {
    /// Sets the daemon's state.
    pub fn set_state(&mut self, state: DaemonState) {
        self.state = state;
        self.dirty = true;
    }

    /// Changes job `id`'s line with `f`, if the board has it.
    pub fn update(&mut self, id: u64, f: impl FnOnce(&mut JobStatus)) {
        if let Some(j) = self.jobs.get_mut(&id) {
            f(j);
            self.dirty = true;
        }
    }

    /// Adds (or replaces) a job's line.
    pub fn insert(&mut self, job: JobStatus) {
        self.jobs.insert(job.id, job);
        self.dirty = true;
    }

    /// Forgets a job's line.
    pub fn remove(&mut self, id: u64) {
        self.dirty |= self.jobs.remove(&id).is_some();
    }

    /// Every job on the board, oldest first.
    pub fn jobs(&self) -> impl Iterator<Item = &JobStatus> {
        self.jobs.values()
    }

    /// Jobs queued or running.
    pub fn jobs_active(&self) -> impl Iterator<Item = &JobStatus> {
        self.jobs.values().filter(|j| j.state.is_active())
    }

    /// The board as `status.json` shows it, now.
    pub fn snapshot(&self) -> Status {
        Status {
            daemon: DaemonStatus {
                pid: std::process::id(),
                state: self.state,
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

/// The board shared by the main loop and the job thread: every change goes through
/// [`SharedBoard::with`], the one place that takes its lock.
#[derive(Debug, Default)]
pub struct SharedBoard(Mutex<Board>);

impl SharedBoard {
    /// Runs `f` on the board, under its lock (held only for `f`: keep it short, no I/O but
    /// the status file's own write).
    pub fn with<R>(&self, f: impl FnOnce(&mut Board) -> R) -> R {
        f(&mut self.0.lock().expect("no thread panics holding the board"))
    }
}

/// Reads the status a daemon left in `state_dir`, saying whether one runs there now. A
/// stopped daemon's running jobs are shown as queued: they resume when it starts again. A
/// daemon that holds the folder but has not written its status yet is `starting`. A state
/// folder that does not exist is an error (a typo, not "no jobs").
///
/// # Errors
///
/// [`ErrorKind::Config`](crate::ErrorKind::Config) when `state_dir` does not exist or is
/// not a folder; [`ErrorKind::Io`](crate::ErrorKind::Io) when it or the status file cannot
/// be read, or the status file is not the JSON a daemon writes.
///
/// ```
/// use hapflow::daemon::{read_status, DaemonState};
///
/// let state = tempfile::tempdir()?;
/// let status = read_status(state.path())?; // no daemon has run there yet
/// assert_eq!((status.daemon.state, status.jobs.len()), (DaemonState::Stopped, 0));
/// assert!(read_status(&state.path().join("typo")).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
    let running = crate::daemon::lock::daemon_running(state_dir);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Status {
                daemon: DaemonStatus {
                    pid: 0,
                    state: if running {
                        DaemonState::Starting
                    } else {
                        DaemonState::Stopped
                    },
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
    if running && status.daemon.state == DaemonState::Stopped {
        // The last daemon's file, not yet replaced by the one starting now.
        status.daemon.state = DaemonState::Starting;
    }
    if !running {
        status.daemon.state = DaemonState::Stopped;
        for j in &mut status.jobs {
            if j.state == JobPhase::Running {
                j.state = JobPhase::Queued;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_written_as_the_words_status_json_always_had() {
        let words = |v: serde_json::Value| v.as_str().unwrap().to_string();
        for (p, w) in [
            (JobPhase::Queued, "queued"),
            (JobPhase::Running, "running"),
            (JobPhase::Done, "done"),
            (JobPhase::Failed, "failed"),
        ] {
            assert_eq!(words(serde_json::to_value(p).unwrap()), w);
            assert_eq!(p.to_string(), w);
            assert_eq!(serde_json::from_value::<JobPhase>(w.into()).unwrap(), p);
        }
        for (d, w) in [
            (DaemonState::Starting, "starting"),
            (DaemonState::Ready, "ready"),
            (DaemonState::Stopping, "stopping"),
            (DaemonState::Stopped, "stopped"),
        ] {
            assert_eq!(words(serde_json::to_value(d).unwrap()), w);
            assert_eq!(serde_json::from_value::<DaemonState>(w.into()).unwrap(), d);
        }
        assert_eq!(format!("{:<8}|", JobPhase::Done), "done    |");
    }

    #[test]
    fn a_board_is_written_only_when_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let board = SharedBoard::default();
        board.with(|b| b.write_if_dirty(dir.path())).unwrap();
        let path = dir.path().join(STATUS_FILE);
        let first = read(dir.path()).unwrap();
        assert_eq!(
            first.daemon.state,
            DaemonState::Stopped,
            "no daemon holds it"
        );
        std::fs::remove_file(&path).unwrap();
        board.with(|b| b.write_if_dirty(dir.path())).unwrap();
        assert!(!path.exists(), "nothing changed, nothing written");
        board.with(|b| b.set_state(DaemonState::Ready));
        board.with(|b| b.write_if_dirty(dir.path())).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"state\": \"ready\""), "{text}");
    }
}
