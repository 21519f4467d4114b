//! One job, from a taken input to a published output, in steps that a crash may cut at any
//! point: every step is recorded in the store (and flushed) before the next begins, and
//! every step can be done again without harm.
//!
//! Queued/Running: convert, checkpointing as it goes (output fsynced, then the record, then
//! flush). Publishing: link the finished work file into the outbox under the recorded name.
//! Published: take the input out of the inbox. Done.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::files::{self, Linked};
use super::inbox::{look, Entry};
use super::records::{CheckpointV1, JobState, JobV1};
use super::status::{Board, CONTIGS_LISTED};
use super::store::Store;
use super::systemd::Systemd;
use crate::config::{OnSuccess, OutputSettings, PairSpec};
use crate::error::{Error, ErrorKind, Result};
use crate::failpoints::hit as failpoint;
use crate::pipeline::{self, Checkpoint, Conversion, Observer, Plan, Position, Start};
use crate::read::Input;
use crate::write::{GroupedWriter, TempOutput};

/// Input converted since the last checkpoint that calls for a new one.
pub const CHECKPOINT_BYTES: u64 = 256 << 20;
/// Time since the last checkpoint that calls for a new one.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(5);

/// The daemon's folders.
#[derive(Debug, Clone)]
pub struct Folders {
    pub inbox: PathBuf,
    pub outbox: PathBuf,
    pub failed: PathBuf,
    pub state: PathBuf,
}

impl Folders {
    pub fn archive(&self) -> PathBuf {
        self.state.join("archive")
    }

    pub fn all(&self) -> [&Path; 4] {
        [&self.inbox, &self.outbox, &self.failed, &self.state]
    }
}

/// What a job needs from the daemon, shared with the main loop.
pub struct Runner {
    pub store: Arc<Store>,
    pub folders: Folders,
    pub board: Arc<Mutex<Board>>,
    pub systemd: Arc<Systemd>,
    pub stop: Arc<AtomicBool>,
}

/// The configuration a job runs with (it may change between jobs, on SIGHUP).
#[derive(Debug, Clone)]
pub struct Settings {
    pub plan: Plan,
    pub pairs: Vec<PairSpec>,
    pub header_file: Option<PathBuf>,
    pub on_success: OnSuccess,
    /// Format and compression of the outputs.
    pub output: OutputSettings,
}

/// How a job run ended.
#[derive(Debug)]
pub enum Outcome {
    Done,
    Failed,
    /// The input changed (or vanished) since it was taken: its record is gone, and the file,
    /// if still there, settles and becomes a new job.
    Dropped(String),
    /// Stopped on request, after a checkpoint.
    Stopped,
    /// A failure of the machine (I/O): the job stays, to be tried again. The job as this
    /// run left it, for when the store cannot be read back.
    Retry(Error, Box<JobV1>),
}

/// The hidden work files of a job, in the outbox (so publishing is a link in one folder).
pub fn work_files(folders: &Folders, job: &JobV1) -> (PathBuf, PathBuf) {
    let stem = files::output_stem(&job.input);
    let base = format!(".{stem}.job{}", job.id);
    (
        folders.outbox.join(format!("{base}.part")),
        folders.outbox.join(format!("{base}.grouped.part")),
    )
}

/// Removes a job's work files, if they are there.
fn remove_work_files(r: &Runner, job: &JobV1) -> Result<()> {
    let (spool, grouped) = work_files(&r.folders, job);
    files::remove_if_there(&spool)?;
    files::remove_if_there(&grouped)
}

pub fn run_job(r: &Runner, s: &Settings, mut job: JobV1) -> Outcome {
    let result = match job.state.clone() {
        JobState::Queued | JobState::Running => convert(r, s, &mut job),
        JobState::Publishing { output, from } => {
            publish(r, s, &mut job, output, PathBuf::from(from))
        }
        JobState::Published { output } => finish(r, s, &mut job, output),
        JobState::Done { .. } | JobState::Failed { .. } => Ok(Outcome::Done),
    };
    match result {
        Ok(outcome) => outcome,
        Err(e) if matches!(e.kind(), ErrorKind::Stopped) => Outcome::Stopped,
        Err(e) if e.is_user_error() => match fail(r, &mut job, &e.to_string()) {
            Ok(()) => Outcome::Failed,
            Err(io) => Outcome::Retry(io, Box::new(job)),
        },
        Err(e) => Outcome::Retry(e, Box::new(job)),
    }
}

fn input_path(r: &Runner, job: &JobV1) -> PathBuf {
    r.folders.inbox.join(&job.input)
}

/// Forgets a job whose input is no longer the file that was taken.
fn drop_job(r: &Runner, job: &JobV1, why: &str) -> Result<Outcome> {
    remove_work_files(r, job)?;
    r.store.remove_job(job.id)?;
    r.store.flush()?;
    r.board.lock().expect("not poisoned").remove(job.id);
    tracing::warn!(job = job.id, input = %job.input, "dropped: {why}");
    Ok(Outcome::Dropped(why.to_string()))
}

fn convert(r: &Runner, s: &Settings, job: &mut JobV1) -> Result<Outcome> {
    let path = input_path(r, job);
    match look(&path) {
        Entry::File(id) if id == job.identity => {}
        Entry::File(_) => return drop_job(r, job, "the input changed after it was taken"),
        _ => return drop_job(r, job, "the input is gone"),
    }
    let (spool_path, grouped_path) = work_files(&r.folders, job);
    let start = match resume_point(r, job, &spool_path)? {
        Some(cp) => {
            job.resumed_at_byte = Some(cp.position.input_bytes);
            tracing::info!(job = job.id, input = %job.input, at_byte = cp.position.input_bytes, "resume");
            Start::Resume(cp)
        }
        None => {
            r.store.remove_contigs(job.id)?;
            job.checkpoint = None;
            tracing::info!(job = job.id, input = %job.input, bytes = job.identity.size, "start");
            Start::Fresh(TempOutput::at(&spool_path, None)?)
        }
    };
    job.state = JobState::Running;
    r.store.put_job(job)?;
    r.store.flush()?;
    r.board.lock().expect("not poisoned").update(job.id, |b| {
        b.state = "running".into();
        b.resumed_at_byte = job.resumed_at_byte;
        b.error = None;
    });
    r.systemd.status(&format!("converting {}", job.input));

    let input = Input::Path(path.clone());
    let conversion = Conversion {
        input: &input,
        pairs: &s.pairs,
        header_file: s.header_file.as_deref(),
        plan: s.plan,
        output: &s.output,
    };
    let spool = match &start {
        Start::Fresh(t) => t.file(),
        Start::Resume(cp) => cp.spool.file(),
    }
    .try_clone()
    .map_err(|e| Error::io(&spool_path, "open work file", e))?;
    let failed = Mutex::new(None);
    let (output, summary) = std::thread::scope(|scope| {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let (syncer, failed) = (&spool_path, &failed);
        scope.spawn(move || commit_checkpoints(r, &spool, syncer, rx, failed));
        let mut cp = Checkpointer {
            r,
            job: &mut *job,
            last_at: Instant::now(),
            last_bytes: 0,
            commits: tx,
            failed,
        };
        pipeline::run(&conversion, start, &mut cp, &r.stop, || {
            TempOutput::at(&grouped_path, None)
        })
    })?;

    // A file that changed while it was converted is not published.
    match look(&path) {
        Entry::File(id) if id == job.identity => {}
        _ => return drop_job(r, job, "the input changed while it was converted"),
    }
    output.sync()?;
    let from = output.path();
    let other = if from == spool_path {
        grouped_path
    } else {
        spool_path
    };
    files::remove_if_there(&other)?;
    tracing::info!(
        job = job.id,
        input = %job.input,
        rows_in = summary.rows_in,
        rows_out = summary.rows_out,
        contigs = summary.contigs,
        bytes = summary.input_bytes,
        seconds = format!("{:.2}", summary.seconds),
        mb_per_s = format!("{:.0}", summary.input_bytes as f64 / 1e6 / summary.seconds.max(1e-9)),
        peak_memory_mib = crate::sys::peak_rss().map(|b| b / (1 << 20)),
        "converted"
    );
    let output = files::free_output_name(
        &r.folders.outbox,
        files::output_stem(&job.input),
        s.output.extension(),
    );
    publish(r, s, job, output, from)
}

/// The checkpoint to resume from, if the job has one that still applies.
fn resume_point(r: &Runner, job: &JobV1, spool: &Path) -> Result<Option<Checkpoint>> {
    let Some(cp) = job.checkpoint else {
        return Ok(None);
    };
    let Some(contigs) = r.store.contigs(job.id, cp.contigs)? else {
        tracing::warn!(
            job = job.id,
            "checkpoint's contigs are missing: starting over"
        );
        return Ok(None);
    };
    let spool = match TempOutput::at_existing(spool, cp.spool_len) {
        Ok(Some(spool)) => spool,
        Ok(None) => {
            tracing::warn!(job = job.id, "work file is missing or short: starting over");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    Ok(Some(Checkpoint {
        spool,
        spool_len: cp.spool_len,
        position: Position {
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
    }))
}

/// Checkpoints a running conversion and keeps the status board and systemd informed.
///
/// The writer only captures a checkpoint (the position, the record, the contigs that
/// changed); a thread of its own makes it durable ([`commit_checkpoints`]) while the
/// conversion goes on, so the disk writes the spool while the next chunks convert, instead
/// of the pipeline waiting on every fsync. One checkpoint commits while at most one more
/// waits; the last one (the input finished) and a stop's are waited for.
struct Checkpointer<'a> {
    r: &'a Runner,
    job: &'a mut JobV1,
    last_at: Instant,
    last_bytes: u64,
    commits: crossbeam_channel::Sender<Pending>,
    failed: &'a Mutex<Option<Error>>,
}

/// A checkpoint on its way to disk: what the writer knew when it took it.
struct Pending {
    job: JobV1,
    changed: Vec<(u32, Vec<u8>, u64)>,
    at: Position,
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

    fn save(&mut self, at: &Position, w: &mut GroupedWriter, wait: bool) -> Result<()> {
        self.failure()?;
        let mut changed = Vec::new();
        w.contigs_mut()
            .take_changed(|id, name, bytes| changed.push((id, name.to_vec(), bytes)));
        let t = w.contigs();
        self.job.checkpoint = Some(CheckpointV1 {
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
            changed,
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

/// Commits checkpoints in the order taken: the spool's data up to the checkpoint durable
/// first (`fdatasync`; what was written after it is carried along, harmlessly), then the
/// record and the contigs that changed, in one batch, then the store flushed. The first
/// failure is kept in `failed` for the writer, and nothing after it is committed.
fn commit_checkpoints(
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
    r.store.checkpoint(&p.job, &p.changed)?;
    failpoint("checkpoint.flushed");
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
    r.board.lock().expect("not poisoned").update(id, |b| {
        b.contigs_done = p.contigs_done.clone();
        b.contigs_done_count = p.contigs_done_count;
    });
    Ok(())
}

impl Observer for Checkpointer<'_> {
    fn written(&mut self, at: &Position, w: &mut GroupedWriter) -> Result<()> {
        failpoint("chunk.written");
        self.r.systemd.alive();
        self.r
            .board
            .lock()
            .expect("not poisoned")
            .update(self.job.id, |b| {
                b.bytes_done = at.source_bytes;
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

    fn stopping(&mut self, at: &Position, w: &mut GroupedWriter) -> Result<()> {
        self.save(at, w, true)
    }
}

/// Links the finished work file `from` into the outbox as `output` (or the next free name),
/// recording the name first so a restart finishes the same link.
fn publish(
    r: &Runner,
    s: &Settings,
    job: &mut JobV1,
    mut output: String,
    from: PathBuf,
) -> Result<Outcome> {
    loop {
        job.state = JobState::Publishing {
            output: output.clone(),
            from: from.to_string_lossy().into_owned(),
        };
        r.store.put_job(job)?;
        r.store.flush()?;
        failpoint("publish.recorded");
        let to = r.folders.outbox.join(&output);
        if !from.exists() {
            if to.exists() {
                break; // linked, and the work file removed, before a stop
            }
            // The finished work file is gone: convert again from the input.
            tracing::warn!(
                job = job.id,
                "finished work file is missing: converting again"
            );
            job.state = JobState::Queued;
            job.checkpoint = None;
            return convert(r, s, job);
        }
        match files::link_output(&from, &to)? {
            Linked::Done => break,
            Linked::Taken => {
                output = files::free_output_name(
                    &r.folders.outbox,
                    files::output_stem(&job.input),
                    s.output.extension(),
                )
            }
        }
    }
    files::sync_dir(&r.folders.outbox)?;
    failpoint("publish.linked");
    files::remove_if_there(&from)?;
    files::sync_dir(&r.folders.outbox)?;
    tracing::info!(job = job.id, input = %job.input, output = %output, "published");
    job.state = JobState::Published {
        output: output.clone(),
    };
    r.store.put_job(job)?;
    r.store.flush()?;
    failpoint("publish.done");
    finish(r, s, job, output)
}

/// Takes the input out of the inbox, now that its output is published.
fn finish(r: &Runner, s: &Settings, job: &mut JobV1, output: String) -> Result<Outcome> {
    let path = input_path(r, job);
    if matches!(look(&path), Entry::File(id) if id == job.identity) {
        match s.on_success {
            OnSuccess::Archive => {
                let archive = r.folders.archive();
                std::fs::create_dir_all(&archive).map_err(|e| Error::io(&archive, "create", e))?;
                let to = files::move_into(&path, &archive)?;
                failpoint("archive.moved");
                tracing::info!(job = job.id, to = %to.display(), "archived input");
            }
            OnSuccess::Delete => {
                files::remove_if_there(&path)?;
                files::sync_dir(&r.folders.inbox)?;
                tracing::info!(job = job.id, "deleted input");
            }
        }
    }
    job.state = JobState::Done {
        output: output.clone(),
    };
    r.store.put_job(job)?;
    r.store.flush()?;
    r.board.lock().expect("not poisoned").update(job.id, |b| {
        b.state = "done".into();
        b.output = Some(output);
        b.error = None;
        b.bytes_done = b.bytes_total;
    });
    Ok(Outcome::Done)
}

/// Moves a bad input to `failed/` with a report beside it, and records the failure.
pub fn fail(r: &Runner, job: &mut JobV1, error: &str) -> Result<()> {
    let name = std::ffi::OsString::from(&job.input);
    fail_entry(r, job, &name, error)
}

/// [`fail`] for the inbox entry `name` (which may not be valid UTF-8).
pub fn fail_entry(r: &Runner, job: &mut JobV1, name: &std::ffi::OsStr, error: &str) -> Result<()> {
    let path = r.folders.inbox.join(name);
    let moved = if std::fs::symlink_metadata(&path).is_ok() {
        Some(files::move_into(&path, &r.folders.failed)?)
    } else {
        None
    };
    let name = moved
        .as_ref()
        .and_then(|p| p.file_name())
        .map_or(job.input.clone(), |n| n.to_string_lossy().into_owned());
    let report = format!(
        "file: {}\nerror: {error}\ntime: {}\n",
        job.input,
        humantime::format_rfc3339_seconds(std::time::SystemTime::now()),
    );
    files::write_atomically(
        &r.folders.failed.join(format!("{name}.error.txt")),
        report.as_bytes(),
    )?;
    remove_work_files(r, job)?;
    r.store.remove_contigs(job.id)?;
    job.state = JobState::Failed {
        error: error.to_string(),
    };
    job.checkpoint = None;
    r.store.put_job(job)?;
    r.store.flush()?;
    tracing::error!(job = job.id, input = %job.input, "failed: {error}");
    r.board.lock().expect("not poisoned").update(job.id, |b| {
        b.state = "failed".into();
        b.error = Some(error.to_string());
    });
    Ok(())
}
