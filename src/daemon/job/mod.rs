//! One job's state machine, from a taken input to a published output, in steps that a
//! crash may cut at any point: every step is recorded in the store (and flushed) before
//! the next begins, and every step can be done again without harm.
//!
//! Queued/Running: convert ([`converting`](crate::daemon::job::converting)), checkpointing as it goes
//! ([`checkpoint`](crate::daemon::job::checkpoint)). Publishing: link the finished work file into the
//! outbox under the recorded name; Published: take the input out of the inbox
//! ([`publish`](crate::daemon::job::publish)). Done. A bad input fails ([`quarantine`](crate::daemon::job::quarantine));
//! a failure of the machine ends the run to be tried again; a damaged checkpoint starts the
//! job over.

pub(crate) mod blame;
pub(crate) mod checkpoint;
pub(crate) mod converting;
pub(crate) mod publish;
pub(crate) mod quarantine;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::config::OnSuccess;
use crate::daemon::folders::Folders;
use crate::daemon::inbox::work_files::WorkFiles;
use crate::daemon::job::blame::{blame, Blame};
use crate::daemon::job::converting::convert;
use crate::daemon::job::publish::{finish, publish};
use crate::daemon::job::quarantine::fail;
use crate::daemon::state::fingerprint::ConversionSettings;
use crate::daemon::state::journal;
use crate::daemon::state::records::{FileIdentity, Job, JobState};
use crate::daemon::state::store::Store;
use crate::daemon::status::SharedBoard;
use crate::daemon::systemd::Systemd;
use crate::error::{Error, ErrorKind, Result};
use crate::pipeline::Plan;

/// What a job needs from the daemon, shared with the main loop.
pub struct Runner {
    /// The checkpoint store.
    pub store: Arc<Store>,
    /// The daemon's folders.
    pub folders: Folders,
    /// The status board.
    pub board: Arc<SharedBoard>,
    /// The service manager's notification socket (a no-op outside systemd).
    pub systemd: Arc<Systemd>,
    /// Set when the daemon is asked to stop: the conversion checkpoints and ends.
    pub stop: Arc<AtomicBool>,
}

/// The configuration a job runs with (it may change between jobs, on reload).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Chunk size, worker threads and the memory ceiling.
    pub plan: Plan,
    /// The settings that shape the output bytes.
    pub conversion: ConversionSettings,
    /// `conversion.fingerprint()`, taken once when the settings are loaded.
    pub fingerprint: u64,
    /// What becomes of an input once its output is published.
    pub on_success: OnSuccess,
}

/// How a job run ended.
#[derive(Debug)]
pub enum Outcome {
    /// Output published, input archived or deleted.
    Done,
    /// The file's own problem: recorded, with its report in `failed/`. If the input could
    /// not be moved there, it stays in the inbox (its name and identity here) until it
    /// changes.
    Failed(Option<(String, FileIdentity)>),
    /// The input changed (or vanished) since it was taken: its record is gone, and the file,
    /// if still there, settles and becomes a new job.
    Dropped(#[allow(dead_code, reason = "read through Debug only")] String),
    /// Stopped on request, after a checkpoint.
    Stopped,
    /// A failure of the machine (I/O): the job stays, to be tried again. The job as this
    /// run left it, for when the store cannot be read back.
    Retry(Error, Box<Job>),
}

/// Runs `job` from the step its record names to its end (or to a stop or failure), and
/// says how it ended. Never panics on a failure: every error becomes an [`Outcome`].
pub fn run_job(r: &Runner, s: &Settings, mut job: Job) -> Outcome {
    let result = match job.state.clone() {
        JobState::Queued | JobState::Running => convert(r, s, &mut job),
        JobState::Publishing { output, from } => {
            publish(r, s, &mut job, output, PathBuf::from(from))
        }
        JobState::Published { output } => finish(r, s, &mut job, output),
        JobState::Done { .. } | JobState::Failed { .. } => Ok(Outcome::Done),
    };
    let result = match result {
        // The stored state is damaged, not the input: once per run, throw the checkpoint
        // away and convert from the beginning (a second fault is the machine's: retried).
        Err(e) if matches!(e.kind(), ErrorKind::Store { .. }) => {
            tracing::warn!(
                job = job.id,
                input = %job.input,
                "a damaged checkpoint ({e}): starting over from the beginning"
            );
            start_over(r, s, &mut job)
        }
        other => other,
    };
    match result {
        Ok(outcome) => outcome,
        Err(e) if matches!(e.kind(), ErrorKind::Stopped) => Outcome::Stopped,
        Err(e) => match blame(&e, &input_path(r, &job)) {
            Blame::File => match fail(r, &mut job, &e.to_string()) {
                Ok(stayed) => Outcome::Failed(stayed),
                Err(io) => Outcome::Retry(io, Box::new(job)),
            },
            Blame::Machine => Outcome::Retry(e, Box::new(job)),
        },
    }
}

/// Converts a job again from the beginning, its checkpoint and work files forgotten.
pub(crate) fn start_over(r: &Runner, s: &Settings, job: &mut Job) -> Result<Outcome> {
    WorkFiles::of(&r.folders.outbox, job).remove()?;
    job.state = JobState::Queued;
    job.checkpoint = None;
    convert(r, s, job)
}

pub(crate) fn input_path(r: &Runner, job: &Job) -> PathBuf {
    r.folders.inbox.join(&job.input)
}

/// Forgets a job whose input is no longer the file that was taken.
pub(crate) fn drop_job(r: &Runner, job: &Job, why: &str) -> Result<Outcome> {
    WorkFiles::of(&r.folders.outbox, job).remove()?;
    r.store.remove_job(job.id)?;
    r.store.flush()?;
    journal::remove_job(&r.folders.state, job.id)?;
    r.board.with(|b| b.remove(job.id));
    tracing::warn!(job = job.id, input = %job.input, "dropped: {why}");
    Ok(Outcome::Dropped(why.to_string()))
}
