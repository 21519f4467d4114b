//! Checkpoints: where a job resumes (its record, contig journal and work file, checked
//! against each other), and how a running conversion's checkpoints are taken on the
//! writer thread and made durable on a thread of their own.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::daemon::inbox::files;
use crate::daemon::job::{Runner, Settings};
use crate::daemon::state::journal::{self, Durable, Journal, JournalAt};
use crate::daemon::state::records::{CheckpointV2, Job, JobState};
use crate::daemon::status::CONTIGS_LISTED;
use crate::error::{Error, Result};
use crate::failpoints::hit as failpoint;
use crate::pipeline::{Checkpoint, CheckpointHandle, Observer, Progress};
use crate::write::TempOutput;

/// Input converted since the last checkpoint that calls for a new one.
pub const CHECKPOINT_BYTES: u64 = 256 << 20;
/// Time since the last checkpoint that calls for a new one.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(5);

/// The checkpoint to resume from, with its contig journal, if the job has one that still
/// applies: made under the current conversion settings, with its journal and work file.
pub(crate) fn resume_point(
    r: &Runner,
    s: &Settings,
    job: &Job,
    spool: &Path,
) -> Result<Option<(Checkpoint, Journal)>> {
    let Some(cp) = job.checkpoint else {
        return Ok(None);
    };
    if cp.settings != s.fingerprint {
        tracing::warn!(
            job = job.id,
            input = %job.input,
            "the checkpoint was made under other conversion settings (pairs, columns or \
             output options changed): starting over under the current ones"
        );
        return Ok(None);
    }
    let at = JournalAt {
        generation: cp.journal_generation,
        len: cp.journal_len,
    };
    let Some((journal, contigs)) = Journal::resume(&r.folders.state, job.id, at)? else {
        tracing::warn!(
            job = job.id,
            "checkpoint's contig journal is missing, damaged or of an older hapflow: starting over"
        );
        return Ok(None);
    };
    if contigs.len() != cp.contigs as usize {
        tracing::warn!(
            job = job.id,
            "checkpoint's contig journal does not match it: starting over"
        );
        return Ok(None);
    }
    let spool = match TempOutput::at_existing(spool, cp.spool_len) {
        Ok(Some(spool)) => spool,
        Ok(None) => {
            tracing::warn!(job = job.id, "work file is missing or short: starting over");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let checkpoint = Checkpoint {
        spool,
        spool_len: cp.spool_len,
        progress: Progress {
            source_bytes: cp.source_bytes,
            input_bytes: cp.input_bytes,
            lines: cp.lines,
            rows_in: cp.rows_in,
            rows_out: cp.rows_out,
            contigs: cp.contigs as usize,
            left_contig: false,
            finished: false,
        },
        contigs,
        current: cp.current,
        contiguous: cp.contiguous,
    };
    Ok(Some((checkpoint, journal)))
}

/// Checkpoints a running conversion and keeps the status board and systemd informed.
///
/// The writer only captures a checkpoint (the progress, the record, the contigs that
/// changed); a thread of its own makes it durable ([`commit_checkpoints`]) while the
/// conversion goes on, so the disk writes the spool while the next chunks convert, instead
/// of the pipeline waiting on every fsync. One checkpoint commits while at most one more
/// waits; the last one (the input finished) and a stop's are waited for.
pub(crate) struct Checkpointer<'a> {
    pub(crate) r: &'a Runner,
    /// The fingerprint of the settings the conversion runs under.
    pub(crate) settings: u64,
    pub(crate) journal: Journal,
    pub(crate) job: &'a mut Job,
    pub(crate) last_at: Instant,
    pub(crate) last_bytes: u64,
    pub(crate) commits: crossbeam_channel::Sender<Pending>,
    pub(crate) failed: &'a Mutex<Option<Error>>,
}

/// A checkpoint on its way to disk: what the writer knew when it took it.
pub(crate) struct Pending {
    job: Job,
    journal: Durable,
    at: Progress,
    contigs: usize,
    contigs_done: Vec<String>,
    contigs_done_count: usize,
    /// Set when the writer waits for this one.
    reply: Option<crossbeam_channel::Sender<bool>>,
}

impl Checkpointer<'_> {
    /// The error of a checkpoint that failed to commit, if one did.
    fn failure(&self) -> Result<()> {
        match self.failed.lock().expect("not poisoned").take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn save(&mut self, at: &Progress, w: &mut CheckpointHandle<'_>, wait: bool) -> Result<()> {
        self.failure()?;
        let (journal_at, journal) = self.journal.record(w.contigs_mut())?;
        let t = w.contigs();
        self.job.checkpoint = Some(CheckpointV2 {
            input_bytes: at.input_bytes,
            source_bytes: at.source_bytes,
            lines: at.lines,
            rows_in: at.rows_in,
            rows_out: at.rows_out,
            spool_len: w.spool_len(),
            contigs: t.len() as u32,
            current: t.current(),
            contiguous: t.contiguous(),
            converted: at.finished,
            journal_generation: journal_at.generation,
            journal_len: journal_at.len,
            settings: self.settings,
        });
        self.job.state = JobState::Running;
        self.last_at = Instant::now();
        self.last_bytes = at.input_bytes;
        let (reply, replied) = match wait {
            true => {
                let (tx, rx) = crossbeam_channel::bounded(1);
                (Some(tx), Some(rx))
            }
            false => (None, None),
        };
        let pending = Pending {
            job: self.job.clone(),
            journal,
            at: *at,
            contigs: t.len(),
            contigs_done: (0..t.len() as u32)
                .filter(|&id| at.finished || Some(id) != t.current())
                .take(CONTIGS_LISTED)
                .map(|id| String::from_utf8_lossy(t.name(id)).into_owned())
                .collect(),
            contigs_done_count: if at.finished {
                t.len()
            } else {
                t.len().saturating_sub(1)
            },
            reply,
        };
        let gone = || {
            Error::io(
                "checkpoint",
                "commit",
                std::io::Error::other("the committing thread ended"),
            )
        };
        self.commits.send(pending).map_err(|_| gone())?;
        if let Some(rx) = replied {
            let committed = rx.recv().unwrap_or(false);
            self.failure()?;
            if !committed {
                return Err(gone());
            }
        }
        Ok(())
    }
}

/// Commits checkpoints in the order taken: the spool's data and the contig journal up to the
/// checkpoint durable first (`fdatasync`; what was written after it is carried along,
/// harmlessly), then the record, then the store flushed; a journal generation the record
/// no longer names is removed last. The first
/// failure is kept in `failed` for the writer, and nothing after it is committed.
pub(crate) fn commit_checkpoints(
    r: &Runner,
    spool: &std::fs::File,
    path: &Path,
    pending: crossbeam_channel::Receiver<Pending>,
    failed: &Mutex<Option<Error>>,
) {
    let mut broken = false;
    for p in pending {
        if !broken {
            if let Err(e) = commit(r, spool, path, &p) {
                *failed.lock().expect("not poisoned") = Some(e);
                broken = true;
            }
        }
        if let Some(reply) = p.reply {
            let _ = reply.send(!broken);
        }
    }
}

fn commit(r: &Runner, spool: &std::fs::File, path: &Path, p: &Pending) -> Result<()> {
    spool
        .sync_data()
        .and_then(|()| crate::failpoints::fail("checkpoint.synced"))
        .map_err(|e| Error::io(path, "sync", e))?;
    let journal = journal::dir(&r.folders.state);
    p.journal
        .file
        .sync_data()
        .map_err(|e| Error::io(&journal, "sync a contig journal in", e))?;
    if p.journal.new_generation.is_some() {
        files::sync_dir(&journal)?;
        files::sync_dir(&r.folders.state)?;
    }
    r.store.checkpoint(&p.job)?;
    failpoint("checkpoint.flushed");
    if let Some(old) = &p.journal.superseded {
        files::remove_if_there(old)?;
    }
    let (id, at) = (p.job.id, &p.at);
    tracing::info!(
        job = id,
        at_byte = at.input_bytes,
        rows_out = at.rows_out,
        contigs = p.contigs,
        "checkpoint"
    );
    let total = p.job.identity.size.max(1);
    r.systemd.status(&format!(
        "converting {}: {:.0}%, {} contigs",
        p.job.input,
        100.0 * at.source_bytes.min(total) as f64 / total as f64,
        p.contigs
    ));
    r.board.with(|b| {
        b.update(id, |b| {
            b.contigs_done = p.contigs_done.clone();
            b.contigs_done_count = p.contigs_done_count;
        })
    });
    Ok(())
}

impl Observer for Checkpointer<'_> {
    fn written(&mut self, at: &Progress, w: &mut CheckpointHandle<'_>) -> Result<()> {
        failpoint("chunk.written");
        self.r.systemd.alive();
        self.r.board.with(|b| {
            b.update(self.job.id, |b| {
                b.bytes_done = at.source_bytes;
                (b.rows_in, b.rows_out) = (at.rows_in, at.rows_out);
            })
        });
        if at.finished
            || at.left_contig
            || at.input_bytes - self.last_bytes >= CHECKPOINT_BYTES
            || self.last_at.elapsed() >= CHECKPOINT_EVERY
        {
            self.save(at, w, at.finished)?;
        }
        self.failure()
    }

    fn stopping(&mut self, at: &Progress, w: &mut CheckpointHandle<'_>) -> Result<()> {
        self.save(at, w, true)
    }
}
