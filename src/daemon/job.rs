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

use super::blame::{blame, Blame};
use super::files::{self, Linked};
use super::fingerprint::ConversionSettings;
use super::inbox::{look, Entry};
use super::journal::{self, Durable, Journal, JournalAt};
use super::records::{CheckpointV2, FileIdentity, Job, JobState};
use super::status::{JobPhase, SharedBoard, CONTIGS_LISTED};
use super::store::Store;
use super::systemd::Systemd;
use crate::config::OnSuccess;
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
    pub board: Arc<SharedBoard>,
    pub systemd: Arc<Systemd>,
    pub stop: Arc<AtomicBool>,
}

/// The configuration a job runs with (it may change between jobs, on SIGHUP).
#[derive(Debug, Clone)]
pub struct Settings {
    pub plan: Plan,
    pub conversion: ConversionSettings,
    /// `conversion.fingerprint()`, taken once when the settings are loaded.
    pub fingerprint: u64,
    pub on_success: OnSuccess,
}

/// How a job run ended.
#[derive(Debug)]
pub enum Outcome {
    Done,
    /// The file's own problem: recorded, with its report in `failed/`. If the input could
    /// not be moved there, it stays in the inbox (its name and identity here) until it
    /// changes.
    Failed(Option<(String, FileIdentity)>),
    /// The input changed (or vanished) since it was taken: its record is gone, and the file,
    /// if still there, settles and becomes a new job.
    Dropped(String),
    /// Stopped on request, after a checkpoint.
    Stopped,
    /// A failure of the machine (I/O): the job stays, to be tried again. The job as this
    /// run left it, for when the store cannot be read back.
    Retry(Error, Box<Job>),
}

/// The hidden work files of a job, in the outbox (so publishing is a link in one folder).
pub fn work_files(folders: &Folders, job: &Job) -> (PathBuf, PathBuf) {
    let stem = files::output_stem(&job.input);
    let base = format!(".{stem}.job{}", job.id);
    (
        folders.outbox.join(format!("{base}.part")),
        folders.outbox.join(format!("{base}.grouped.part")),
    )
}

/// Removes a job's work files, if they are there.
fn remove_work_files(r: &Runner, job: &Job) -> Result<()> {
    let (spool, grouped) = work_files(&r.folders, job);
    files::remove_if_there(&spool)?;
    files::remove_if_there(&grouped)
}

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
fn start_over(r: &Runner, s: &Settings, job: &mut Job) -> Result<Outcome> {
    remove_work_files(r, job)?;
    job.state = JobState::Queued;
    job.checkpoint = None;
    convert(r, s, job)
}

fn input_path(r: &Runner, job: &Job) -> PathBuf {
    r.folders.inbox.join(&job.input)
}

/// Forgets a job whose input is no longer the file that was taken.
fn drop_job(r: &Runner, job: &Job, why: &str) -> Result<Outcome> {
    remove_work_files(r, job)?;
    r.store.remove_job(job.id)?;
    r.store.flush()?;
    journal::remove_job(&r.folders.state, job.id)?;
    r.board.with(|b| b.remove(job.id));
    tracing::warn!(job = job.id, input = %job.input, "dropped: {why}");
    Ok(Outcome::Dropped(why.to_string()))
}

fn convert(r: &Runner, s: &Settings, job: &mut Job) -> Result<Outcome> {
    let path = input_path(r, job);
    match look(&path) {
        Entry::File(id) if id == job.identity => {}
        Entry::File(_) => return drop_job(r, job, "the input changed after it was taken"),
        _ => return drop_job(r, job, "the input is gone"),
    }
    let (spool_path, grouped_path) = work_files(&r.folders, job);
    let (start, journal) = match resume_point(r, s, job, &spool_path)? {
        Some((cp, journal)) => {
            job.resumed_at_byte = Some(cp.position.input_bytes);
            tracing::info!(job = job.id, input = %job.input, at_byte = cp.position.input_bytes, "resume");
            job.state = JobState::Running;
            r.store.put_job(job)?;
            r.store.flush()?;
            (Start::Resume(cp), journal)
        }
        None => {
            // The record forgets the checkpoint before its journal goes.
            job.checkpoint = None;
            job.state = JobState::Running;
            r.store.put_job(job)?;
            r.store.flush()?;
            journal::remove_job(&r.folders.state, job.id)?;
            tracing::info!(job = job.id, input = %job.input, bytes = job.identity.size, "start");
            let spool = TempOutput::at(&spool_path, None)?;
            (
                Start::Fresh(spool),
                Journal::fresh(&r.folders.state, job.id)?,
            )
        }
    };
    r.board.with(|b| {
        b.update(job.id, |b| {
            b.state = JobPhase::Running;
            b.resumed_at_byte = job.resumed_at_byte;
            b.error = None;
        })
    });
    r.systemd.status(&format!("converting {}", job.input));

    let input = Input::Path(path.clone());
    let conversion = Conversion {
        input: &input,
        pairs: &s.conversion.pairs,
        header_file: s.conversion.header_file.as_deref(),
        alleles: &s.conversion.alleles,
        plan: s.plan,
        output: &s.conversion.output,
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
            settings: s.fingerprint,
            journal,
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
        s.conversion.output.extension(),
    );
    publish(r, s, job, output, from)
}

/// The checkpoint to resume from, with its contig journal, if the job has one that still
/// applies: made under the current conversion settings, with its journal and work file.
fn resume_point(
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
            "checkpoint's contig journal is missing or damaged: starting over"
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
    };
    Ok(Some((checkpoint, journal)))
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
    /// The fingerprint of the settings the conversion runs under.
    settings: u64,
    journal: Journal,
    job: &'a mut Job,
    last_at: Instant,
    last_bytes: u64,
    commits: crossbeam_channel::Sender<Pending>,
    failed: &'a Mutex<Option<Error>>,
}

/// A checkpoint on its way to disk: what the writer knew when it took it.
struct Pending {
    job: Job,
    journal: Durable,
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
    fn written(&mut self, at: &Position, w: &mut GroupedWriter) -> Result<()> {
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

    fn stopping(&mut self, at: &Position, w: &mut GroupedWriter) -> Result<()> {
        self.save(at, w, true)
    }
}

/// Links the finished work file `from` into the outbox as `output` (or the next free name),
/// recording the name first so a restart finishes the same link.
fn publish(
    r: &Runner,
    s: &Settings,
    job: &mut Job,
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
                    s.conversion.output.extension(),
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
fn finish(r: &Runner, s: &Settings, job: &mut Job, output: String) -> Result<Outcome> {
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
    r.board.with(|b| {
        b.update(job.id, |b| {
            b.state = JobPhase::Done;
            b.output = Some(output);
            b.error = None;
            b.bytes_done = b.bytes_total;
        })
    });
    Ok(Outcome::Done)
}

/// Moves a bad input to `failed/` with a report beside it, and records the failure. Returns
/// the input's name and identity if it could not be moved and stays in the inbox.
pub fn fail(r: &Runner, job: &mut Job, error: &str) -> Result<Option<(String, FileIdentity)>> {
    let name = std::ffi::OsString::from(&job.input);
    fail_entry(r, job, &name, error)
}

/// [`fail`] for the inbox entry `name` (which may not be valid UTF-8).
///
/// The order makes the reason outlive any crash: the report is durable in `failed/` first
/// (under the name the input will take there), then the job is recorded as failed, and
/// only then does the input leave the inbox. A crash before the record runs the job again
/// (it fails again, writing the same report); a crash after it finishes the move at the
/// next start. An input that cannot be moved (its folder refuses) stays in the inbox, its
/// reason in the status and the log, and is tried again only when it changes.
pub fn fail_entry(
    r: &Runner,
    job: &mut Job,
    name: &std::ffi::OsStr,
    error: &str,
) -> Result<Option<(String, FileIdentity)>> {
    let path = r.folders.inbox.join(name);
    let there = std::fs::symlink_metadata(&path).is_ok();
    if !there {
        // Vanished: nothing to move, and no report without its file; the status says why.
        return record_failure(r, job, error).map(|()| None);
    }
    let target = files::free_name(&r.folders.failed, name);
    let moved_name = target.file_name().unwrap_or(name).to_os_string();
    let report_path = r.folders.failed.join(files::report_name(&moved_name));
    let input = job.input.clone();
    let report = move |note: &str| {
        format!(
            "file: {input}\nerror: {error}\ntime: {}\n{note}",
            humantime::format_rfc3339_seconds(std::time::SystemTime::now()),
        )
    };
    files::write_atomically(&report_path, report("").as_bytes())?;
    failpoint("fail.reported");

    // A start-up finishing a failing that a crash cut short has it recorded already.
    if !matches!(job.state, JobState::Failed { .. }) {
        record(r, job, error)?;
    }
    finish_failing(r, job, error, &path, &target, &report_path, report)
}

/// Records a job as failed (durably), forgetting its checkpoint and work files.
fn record(r: &Runner, job: &mut Job, error: &str) -> Result<()> {
    remove_work_files(r, job)?;
    job.state = JobState::Failed {
        error: error.to_string(),
    };
    job.checkpoint = None;
    r.store.put_job(job)?;
    r.store.flush()?;
    journal::remove_job(&r.folders.state, job.id)?;
    failpoint("fail.recorded");
    Ok(())
}

/// [`record`], then the log line and the status.
fn record_failure(r: &Runner, job: &mut Job, error: &str) -> Result<()> {
    record(r, job, error)?;
    show_failure(r, job, error.to_string());
    Ok(())
}

fn show_failure(r: &Runner, job: &Job, shown: String) {
    tracing::error!(job = job.id, input = %job.input, "failed: {shown}");
    r.board.with(|b| {
        b.update(job.id, |b| {
            b.state = JobPhase::Failed;
            b.error = Some(shown);
        })
    });
}

/// The last step of failing: the input leaves the inbox for `target`, or, if its folder
/// refuses, stays (said in its report, the status and the log).
fn finish_failing(
    r: &Runner,
    job: &Job,
    error: &str,
    path: &Path,
    target: &Path,
    report_path: &Path,
    report: impl Fn(&str) -> String,
) -> Result<Option<(String, FileIdentity)>> {
    let mut shown = error.to_string();
    let mut stayed = None;
    if let Err(e) = files::move_to(path, target) {
        if blame(&e, path) == Blame::Machine && !is_refusal(&e) {
            return Err(e);
        }
        let note = format!("it stays in the inbox: it cannot be moved to failed/ ({e})");
        files::write_atomically(report_path, report(&format!("note: {note}\n")).as_bytes())?;
        shown = format!("{error} ({note}; tried again when it changes)");
        if let Entry::File(id) = look(path) {
            stayed = Some((job.input.clone(), id));
        }
    }
    show_failure(r, job, shown);
    Ok(stayed)
}

/// A move the file system refuses for this file (permission, a protected folder), not a
/// failure of the machine.
fn is_refusal(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Io { source, .. }
        if matches!(source.raw_os_error(), Some(libc::EACCES | libc::EPERM | libc::EBUSY)))
}
