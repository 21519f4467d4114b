//! Recovery at start-up: the store opened (or, damaged, moved aside and started anew),
//! every job it knows put back on the board, the unfinished ones queued again, and what a
//! crash left behind removed (damaged records, stray work files, orphan journals). Also
//! the store's reopening after an I/O failure.

use std::collections::{HashSet, VecDeque};
use std::path::Path;

use crate::daemon::folders::Folders;
use crate::daemon::inbox::files;
use crate::daemon::inbox::watch;
use crate::daemon::inbox::work_files;
use crate::daemon::state::journal;
use crate::daemon::state::records::{Job, JobState};
use crate::daemon::state::store::Store;
use crate::daemon::status::{self, JobStatus, SharedBoard};
use crate::daemon::SLED_CACHE;
use crate::error::{Error, Result};

/// What the store held at start-up.
pub(crate) struct Recovered {
    /// Unfinished jobs, oldest first, to run again from the step their record names.
    pub(crate) queue: VecDeque<Job>,
    /// Failed jobs whose input is still in the inbox: a crash cut their failing short
    /// (the report and record are there; the move is not), or the input cannot be moved.
    pub(crate) unmoved: Vec<Job>,
}

/// Reads every job the store knows onto the board and sorts them into [`Recovered`];
/// removes damaged records, the work files and journals of jobs no longer active, and the
/// contig records of hapflow 0.1.
pub(crate) fn recover(store: &Store, folders: &Folders, board: &SharedBoard) -> Result<Recovered> {
    // Recovery: every job the store knows, the unfinished ones queued again.
    let (jobs, damaged) = store.jobs()?;
    for d in damaged {
        tracing::error!(key = ?d.key, "removing a damaged job record: {}", d.why);
        store.remove_key(&d.key)?;
    }
    let mut queue: VecDeque<Job> = VecDeque::new();
    // Failed jobs whose input is still in the inbox: a crash cut their failing short
    // (the report and record are there; the move is not), or the input cannot be moved.
    let mut unmoved: Vec<Job> = Vec::new();
    board.with(|b| {
        for job in jobs {
            // A finished job's contigs, and an unfinished one's as far as its checkpoint:
            // its progress shows until it runs again.
            let names = match (&job.state, job.checkpoint) {
                (JobState::Failed { .. }, _) => Vec::new(),
                (_, Some(cp)) => journal::names(
                    &folders.state,
                    job.id,
                    journal::JournalAt {
                        generation: cp.journal_generation,
                        len: cp.journal_len,
                    },
                    status::CONTIGS_LISTED,
                ),
                _ => Vec::new(),
            };
            b.insert(JobStatus::of(&job, names));
            if job.is_active() {
                tracing::info!(job = job.id, input = %job.input, state = ?job.state, "recovered");
                queue.push_back(job);
            } else if matches!(job.state, JobState::Failed { .. })
                && watch::look(&folders.inbox.join(&job.input)) == watch::Entry::File(job.identity)
            {
                unmoved.push(job);
            }
        }
    });
    remove_stray_work_files(folders, &queue)?;
    let known: HashSet<u64> = store.jobs()?.0.iter().map(|j| j.id).collect();
    journal::remove_where(&folders.state, |job| !known.contains(&job))?;
    if store.remove_legacy_contigs()? > 0 {
        store.flush()?;
        tracing::info!("removed the contig records of an older hapflow from the store");
    }
    Ok(Recovered { queue, unmoved })
}

/// Opens the store, or, if it is damaged, moves it aside (kept for inspection) and starts a
/// new one. Nothing is lost: inputs leave the inbox only after their output is published, so
/// the unfinished ones are taken again from the inbox. sled can panic on damaged files
/// rather than return an error, hence the `catch_unwind`.
pub(crate) fn open_store(state: &Path) -> Result<Store> {
    let db = state.join("db");
    let open = |db: &Path| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let store = Store::open(db, SLED_CACHE)?;
            store.jobs()?;
            Ok::<_, Error>(store)
        }))
        .unwrap_or_else(|panic| {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "sled panicked".into());
            Err(Error::io(
                db,
                "open the store in",
                std::io::Error::other(why),
            ))
        })
    };
    match open(&db) {
        Ok(store) => Ok(store),
        Err(e) if db.exists() => {
            let aside = state.join(format!("db.damaged-{}", status::now_ms()));
            tracing::error!(
                "THE CHECKPOINT STORE IS DAMAGED ({e}). It is moved to {} for inspection and a new \
                 one started; unfinished inputs are converted again from the start.",
                aside.display()
            );
            std::fs::rename(&db, &aside).map_err(|e| Error::io(&db, "move aside", e))?;
            files::sync_dir(state)?;
            open(&db)
        }
        Err(e) => Err(e),
    }
}

/// After an I/O failure sled refuses every later write on the same handle: open it anew
/// (it may still fail while the disk is full; the next retry tries again).
pub(crate) fn reopen_store(store: &Store) {
    match store.reopen() {
        Ok(()) => tracing::info!("store reopened"),
        Err(e) => tracing::warn!("cannot reopen the store yet: {e}"),
    }
}

/// Work files in the outbox whose job is not active any more (a crash between removing
/// the job and its files).
fn remove_stray_work_files(folders: &Folders, active: &VecDeque<Job>) -> Result<()> {
    let ids: HashSet<u64> = active.iter().map(|j| j.id).collect();
    let entries =
        std::fs::read_dir(&folders.outbox).map_err(|e| Error::io(&folders.outbox, "list", e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let id = work_files::job_of(&name);
        if let Some(id) = id.filter(|id| !ids.contains(id)) {
            tracing::info!(file = %name, job = id, "removing a stray work file");
            files::remove_if_there(&entry.path())?;
        }
    }
    Ok(())
}
