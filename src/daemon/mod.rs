//! The daemon: `hapflow serve` watches an inbox, converts every matrix dropped there under
//! one memory ceiling, checkpoints in sled, and publishes results atomically.
//!
//! One main loop owns the decisions. Everything else sends it [`Event`]s: the inbox
//! watcher (names to look at again, or "rescan"), the signal thread, and the job thread when
//! a job ends. Jobs run one at a time, oldest first, with all worker threads.

pub mod backoff;
pub mod blame;
pub mod checkpoint;
pub mod checks;
pub mod control;
pub mod converting;
pub mod files;
pub mod fingerprint;
pub mod folders;
pub mod inbox;
pub mod job;
pub mod journal;
pub mod lock;
pub mod logging;
pub mod metrics;
pub mod publish;
pub mod quarantine;
pub mod records;
pub mod status;
pub mod store;
pub mod systemd;
pub mod work_files;

use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, select, Receiver};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::pipeline::Plan;
use backoff::Backoff;
use control::Control;
use fingerprint::ConversionSettings;
use folders::Folders;
use inbox::{Hint, InboxEvent, Seen, Settling};
use job::{Outcome, Runner, Settings};
use records::{FileIdentity, Job, JobState};
use status::{DaemonState, JobPhase, JobStatus, SharedBoard};
use store::Store;
use systemd::Systemd;

/// sled's page cache. Its default is 1 GiB and it is not a ceiling on sled's memory, so it
/// is set small and the rest of sled's needs are in [`DAEMON_RESERVE`].
pub const SLED_CACHE: u64 = 1 << 20;
/// Memory the daemon needs besides the conversion's buffers and the process base: sled
/// (cache, log buffers, threads), the inotify watcher, logging, the status board. Measured
/// with `VmHWM` (README, "Memory"), with headroom.
pub const DAEMON_RESERVE: u64 = 10 << 20;
/// Events waiting for the main loop at most; past that the watcher asks for a rescan.
const EVENT_QUEUE: usize = 4096;
/// How long a stop request waits for the running job to checkpoint.
const STOP_GRACE: Duration = Duration::from_millis(4500);

/// What the main loop hears.
#[derive(Debug)]
pub enum Event {
    /// From the inbox watcher: a name to look at again, or "rescan".
    Inbox(InboxEvent),
    /// From the outside: stop, or reload the configuration.
    Control(Control),
    /// From the job thread: the job of this id ended with this outcome.
    Finished(u64, Outcome),
}

/// Command-line values that override the configuration file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub inbox: Option<PathBuf>,
    pub outbox: Option<PathBuf>,
    pub failed: Option<PathBuf>,
    pub state: Option<PathBuf>,
    pub memory_limit: Option<u64>,
}

impl Overrides {
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
/// then the daemon's value checks ([`checks::check_values`]; `serve` checks the folders
/// too, `status` does not need them apart).
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
fn load_serve_config(path: Option<&Path>, overrides: &Overrides) -> Result<Config> {
    let c = load_config(path, overrides)?;
    checks::check_folders(&c)?;
    Ok(c)
}

/// What a job runs with, from the configuration.
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

fn folders_of(c: &Config) -> Folders {
    Folders {
        inbox: c.paths.inbox.clone(),
        outbox: c.paths.outbox.clone(),
        failed: c.paths.failed.clone(),
        state: c.paths.state.clone(),
    }
}

/// The status line of a job record.
fn job_status(job: &Job, contigs_done: Vec<String>) -> JobStatus {
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

fn is_active(job: &Job) -> bool {
    !matches!(job.state, JobState::Done { .. } | JobState::Failed { .. })
}

/// Runs the daemon until `control` says [`Control::Shutdown`] (or its senders are all
/// gone); `config_path` is read again on [`Control::Reload`], and the log level set
/// through `logs`, if given.
///
/// It takes over no process-wide state: the file-creation mask, signal handling and the
/// global logger are the caller's (`hapflow serve` sets them in `main.rs`), so a test can
/// run a daemon in a thread.
///
/// # Errors
///
/// A configuration or folder the daemon refuses ([`crate::ErrorKind::Config`]), a state
/// folder another daemon holds, or a store that cannot be opened even anew
/// ([`crate::ErrorKind::Io`]). Once ready, failures are the jobs' and are handled there.
pub fn serve(
    config_path: Option<&Path>,
    overrides: &Overrides,
    control: Receiver<Control>,
    logs: Option<&logging::LogHandle>,
) -> Result<()> {
    let mut control = control;
    let mut config = load_serve_config(config_path, overrides)?;
    let mut settings = job_settings(&config)?;
    let folders = folders_of(&config);
    folders::create(&folders)?;
    let _lock = lock::lock_state(&folders.state)?;
    let board = Arc::new(SharedBoard::default());
    // `hapflow status` shows `starting` from here on, however long recovery takes.
    board
        .with(|b| b.write_if_dirty(&folders.state))
        .unwrap_or_else(|e| tracing::warn!("{e}"));
    crate::failpoints::hit("serve.locked");
    let store = Arc::new(open_store(&folders.state)?);
    let systemd = Arc::new(Systemd::from_env());
    let stop = Arc::new(AtomicBool::new(false));
    let runner = Arc::new(Runner {
        store: store.clone(),
        folders: folders.clone(),
        board: board.clone(),
        systemd: systemd.clone(),
        stop: stop.clone(),
    });

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
            let names = match (&job.state, job.checkpoint) {
                (JobState::Done { .. }, Some(cp)) => journal::names(
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
            b.insert(job_status(&job, names));
            if is_active(&job) {
                tracing::info!(job = job.id, input = %job.input, state = ?job.state, "recovered");
                queue.push_back(job);
            } else if matches!(job.state, JobState::Failed { .. })
                && inbox::look(&folders.inbox.join(&job.input)) == inbox::Entry::File(job.identity)
            {
                unmoved.push(job);
            }
        }
    });
    remove_stray_work_files(&folders, &queue)?;
    let known: HashSet<u64> = store.jobs()?.0.iter().map(|j| j.id).collect();
    journal::remove_where(&folders.state, |job| !known.contains(&job))?;
    if store.remove_legacy_contigs()? > 0 {
        store.flush()?;
        tracing::info!("removed the contig records of an older hapflow from the store");
    }
    prune(&store, &folders.state, &board, config.daemon.keep_jobs)?;
    let mut metrics = board
        .with(|b| metrics::Metrics::new(config.metrics.textfile.as_deref(), &folders.outbox, b));

    // Watch first, then list: a file arriving in between is seen by one or the other.
    let (tx, rx) = bounded::<Event>(EVENT_QUEUE);
    let overflow = Arc::new(AtomicBool::new(false));
    let _watcher = inbox::watch(&folders.inbox, tx.clone(), overflow.clone())
        .map_err(|e| Error::io(&folders.inbox, "watch", std::io::Error::other(e)))?;
    let mut settling = Settling::new(
        &folders.inbox,
        Duration::from_millis(config.daemon.settle_ms),
    );
    let mut ctx = Loop {
        runner: runner.clone(),
        settling: &mut settling,
        queue,
        held: HashMap::new(),
    };
    for mut job in unmoved {
        let JobState::Failed { error } = job.state.clone() else {
            unreachable!("only failed jobs")
        };
        match quarantine::fail(&runner, &mut job, &error) {
            Ok(stayed) => ctx.hold(stayed),
            Err(e) => tracing::error!(job = job.id, "cannot move a failed input: {e}"),
        }
    }
    ctx.rescan();

    board
        .with(|b| {
            b.set_state(DaemonState::Ready);
            b.write_if_dirty(&folders.state)
        })
        .unwrap_or_else(|e| tracing::warn!("{e}"));
    systemd.ready();
    systemd.status("ready, inbox empty");
    tracing::info!(
        inbox = %folders.inbox.display(),
        outbox = %folders.outbox.display(),
        memory_limit = %config.memory.limit,
        chunk = settings.plan.chunk,
        workers = settings.plan.workers,
        "ready"
    );

    let mut running: Option<(u64, std::thread::JoinHandle<()>)> = None;
    let mut retry_at: Option<Instant> = None;
    let mut backoff = Backoff::default();
    let mut stopping: Option<Instant> = None;
    let mut status_failing = false;
    let mut next_rescan = Instant::now() + Duration::from_millis(config.daemon.rescan_ms);
    loop {
        let now = Instant::now();
        if running.is_none() && stopping.is_none() && retry_at.is_none_or(|t| now >= t) {
            retry_at = None;
            if let Some(job) = ctx.queue.pop_front() {
                let (id, r, s, tx) = (job.id, runner.clone(), settings.clone(), tx.clone());
                let handle = std::thread::Builder::new()
                    .name(format!("job-{id}"))
                    .spawn(move || {
                        let outcome = job::run_job(&r, &s, job);
                        let _ = tx.send(Event::Finished(id, outcome));
                    })
                    .map_err(|e| Error::io("job", "start a thread for", e))?;
                running = Some((id, handle));
            }
        }
        if running.is_none() && stopping.is_some() {
            break;
        }
        if stopping.is_some_and(|t| t.elapsed() >= STOP_GRACE) {
            tracing::warn!(
                "the running job did not stop in time; exiting (its last checkpoint stands)"
            );
            break;
        }

        let mut wake = now + Duration::from_millis(250);
        // While paused (retry_at), settled files wait: they must not wake the loop.
        let settle_due = ctx.settling.next_due().filter(|_| retry_at.is_none());
        for t in [settle_due, Some(next_rescan), retry_at]
            .into_iter()
            .flatten()
        {
            wake = wake.min(t);
        }
        let event = select! {
            recv(rx) -> e => Some(e.expect("the loop holds a sender")),
            recv(control) -> c => Some(Event::Control(c.unwrap_or_else(|_| {
                // Nobody can ask any more: stop, as asked for once.
                control = crossbeam_channel::never();
                Control::Shutdown
            }))),
            default(wake.saturating_duration_since(Instant::now())) => None,
        };
        match event {
            Some(Event::Inbox(InboxEvent::Name(name, hint))) => ctx.look_at(&name, hint),
            Some(Event::Inbox(InboxEvent::Rescan)) => {
                tracing::warn!("the inotify queue overflowed: rescanning the inbox");
                ctx.settling.forget_writers();
                ctx.rescan();
            }
            Some(Event::Control(Control::Shutdown)) => {
                if stopping.is_none() {
                    tracing::info!("stop requested: no new files; checkpointing");
                    stopping = Some(Instant::now());
                    stop.store(true, Ordering::SeqCst);
                    systemd.stopping();
                    board.with(|b| b.set_state(DaemonState::Stopping));
                }
            }
            Some(Event::Control(Control::Reload)) => {
                systemd.reloading();
                match load_serve_config(config_path, overrides)
                    .and_then(|c| Ok((job_settings(&c)?, c)))
                {
                    Ok((s, c)) => {
                        log_changes(&config, &c);
                        if let Err(e) = logs.map_or(Ok(()), |l| l.set(&c.daemon.log_level)) {
                            tracing::error!("{e}");
                        }
                        ctx.settling
                            .set_settle(Duration::from_millis(c.daemon.settle_ms));
                        next_rescan = Instant::now() + Duration::from_millis(c.daemon.rescan_ms);
                        settings = s;
                        config = c;
                    }
                    Err(e) => tracing::error!(
                        "reload failed, keeping the old configuration: {}",
                        logging::one_line(&e.to_string())
                    ),
                }
                systemd.ready();
            }
            Some(Event::Finished(id, outcome)) => {
                if let Some((_, handle)) = running.take() {
                    let _ = handle.join();
                }
                board.with(|b| metrics.job_ended(b, &outcome));
                if matches!(outcome, Outcome::Done | Outcome::Failed(_)) {
                    if let Err(e) = prune(&store, &folders.state, &board, config.daemon.keep_jobs) {
                        tracing::error!("cannot prune finished jobs: {e}");
                    }
                }
                match outcome {
                    Outcome::Done | Outcome::Stopped => backoff.reset(),
                    Outcome::Failed(stayed) => {
                        backoff.reset();
                        ctx.hold(stayed);
                    }
                    Outcome::Dropped(_) => ctx.rescan(),
                    Outcome::Retry(e, job) => {
                        let pause = backoff.next();
                        tracing::error!(job = id, "will retry in {:?}: {e}", pause);
                        reopen_store(&store);
                        board.with(|b| {
                            b.update(id, |b| {
                                b.state = JobPhase::Queued;
                                b.error = Some(e.to_string());
                            })
                        });
                        // The store's record is the durable one; the job as its run left it
                        // serves when the store cannot be read.
                        let stored = store
                            .jobs()
                            .ok()
                            .and_then(|(jobs, _)| jobs.into_iter().find(|j| j.id == id));
                        ctx.queue.push_front(stored.unwrap_or(*job));
                        retry_at = Some(Instant::now() + pause);
                    }
                }
                systemd.status(&format!("ready, {} queued", ctx.queue.len()));
            }
            None => {}
        }

        let now = Instant::now();
        if overflow.swap(false, Ordering::Relaxed) {
            tracing::warn!("inbox events overflowed: rescanning");
            ctx.settling.forget_writers();
            ctx.rescan();
        }
        if now >= next_rescan {
            ctx.rescan();
            next_rescan = now + Duration::from_millis(config.daemon.rescan_ms);
        }
        if stopping.is_none() && retry_at.is_none() {
            if let Err(e) = ctx.take_settled(now) {
                // The store cannot record new jobs (a full disk, say): the files stay in the
                // inbox, and a rescan after the pause takes them.
                let pause = backoff.next();
                tracing::error!("cannot take new files, will retry in {pause:?}: {e}");
                reopen_store(&store);
                retry_at = Some(Instant::now() + pause);
                next_rescan = Instant::now() + pause;
            }
        }
        if running.is_none() {
            systemd.alive();
        }
        match board.with(|b| b.write_if_dirty(&folders.state)) {
            Ok(()) => status_failing = false,
            Err(e) if !status_failing => {
                tracing::warn!("{e} (said once until it works again)");
                status_failing = true;
            }
            Err(_) => {}
        }
        board.with(|b| metrics.update(b, retry_at.is_some()));
    }
    if let Err(e) = store.flush() {
        tracing::error!("final flush: {e}");
    }
    board
        .with(|b| {
            b.set_state(DaemonState::Stopped);
            b.write_if_dirty(&folders.state)
        })
        .unwrap_or_else(|e| tracing::warn!("{e}"));
    tracing::info!("stopped");
    Ok(())
}

/// Opens the store, or, if it is damaged, moves it aside (kept for inspection) and starts a
/// new one. Nothing is lost: inputs leave the inbox only after their output is published, so
/// the unfinished ones are taken again from the inbox. sled can panic on damaged files
/// rather than return an error, hence the `catch_unwind`.
fn open_store(state: &Path) -> Result<Store> {
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

/// Logs what a reload changed.
fn log_changes(old: &Config, new: &Config) {
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

/// After an I/O failure sled refuses every later write on the same handle: open it anew
/// (it may still fail while the disk is full; the next retry tries again).
fn reopen_store(store: &Store) {
    match store.reopen() {
        Ok(()) => tracing::info!("store reopened"),
        Err(e) => tracing::warn!("cannot reopen the store yet: {e}"),
    }
}

/// Forgets the oldest finished jobs beyond the newest `keep` (records, contigs, status).
fn prune(store: &Store, state: &Path, board: &SharedBoard, keep: usize) -> Result<()> {
    let (jobs, _) = store.jobs()?;
    let finished: Vec<&Job> = jobs.iter().filter(|j| !is_active(j)).collect();
    let excess = finished.len().saturating_sub(keep);
    if excess == 0 {
        return Ok(());
    }
    for job in &finished[..excess] {
        store.remove_job(job.id)?;
        board.with(|b| b.remove(job.id));
    }
    store.flush()?;
    let pruned: HashSet<u64> = finished[..excess].iter().map(|j| j.id).collect();
    journal::remove_where(state, |job| pruned.contains(&job))?;
    tracing::info!(jobs = excess, keep, "pruned finished jobs");
    Ok(())
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

/// The main loop's view of the inbox and the queue.
struct Loop<'a> {
    runner: Arc<Runner>,
    settling: &'a mut Settling,
    queue: VecDeque<Job>,
    /// Failed inputs that stay in the inbox (they could not be moved), as they were when
    /// they failed: not taken again until they change.
    held: HashMap<String, FileIdentity>,
}

impl Loop<'_> {
    fn hold(&mut self, stayed: Option<(String, FileIdentity)>) {
        if let Some((name, id)) = stayed {
            self.held.insert(name, id);
        }
    }

    /// Names with an unfinished job: not to be taken again.
    fn taken(&self, name: &OsString) -> bool {
        let name = name.to_string_lossy();
        self.queue.iter().any(|j| j.input == name)
            || (self.runner.board).with(|b| b.jobs_active().any(|j| j.input == name))
    }

    fn look_at(&mut self, name: &OsString, hint: Hint) {
        if self.taken(name) {
            return;
        }
        if name.to_str().is_none()
            && !inbox::is_ignored(name)
            && inbox::look(&self.runner.folders.inbox.join(name)) != inbox::Entry::Gone
        {
            // Job records keep names as text; such a file could never be found again.
            return self.refuse(name, "a file whose name is not valid UTF-8");
        }
        if let Seen::Refused(what) = self.settling.observe(name, Instant::now(), hint) {
            self.refuse(name, what);
        }
    }

    fn rescan(&mut self) {
        match inbox::list(&self.runner.folders.inbox) {
            Ok(names) => {
                for name in names {
                    self.look_at(&name, Hint::None);
                }
            }
            Err(e) => tracing::error!("cannot list the inbox: {e}"),
        }
    }

    /// Something that is not a regular file: to `failed/`, never opened.
    fn refuse(&mut self, name: &OsString, what: &str) {
        let r = &self.runner;
        let mut job = match new_job(r, name, zero_identity()) {
            Ok(j) => j,
            Err(e) => return tracing::error!("{e}"),
        };
        r.board.with(|b| b.insert(job_status(&job, Vec::new())));
        match quarantine::fail_entry(r, &mut job, name, &format!("refused: it is {what}")) {
            Ok(stayed) => self.hold(stayed),
            Err(e) => tracing::error!("cannot refuse {}: {e}", name.to_string_lossy()),
        }
        self.settling.forget(name);
    }

    /// Files unchanged for the settle time become jobs.
    fn take_settled(&mut self, now: Instant) -> Result<()> {
        for (name, identity) in self.settling.settled(now) {
            if self.taken(&name) {
                continue;
            }
            let key = name.to_string_lossy();
            if self.held.get(key.as_ref()) == Some(&identity) {
                continue; // failed, could not be moved, unchanged since
            }
            self.held.remove(key.as_ref());
            let job = new_job(&self.runner, &name, identity)?;
            self.runner.store.flush()?;
            tracing::info!(job = job.id, input = %job.input, bytes = identity.size, "queued");
            (self.runner.board).with(|b| b.insert(job_status(&job, Vec::new())));
            self.queue.push_back(job);
        }
        Ok(())
    }
}

fn zero_identity() -> FileIdentity {
    FileIdentity {
        size: 0,
        mtime_ns: 0,
        dev: 0,
        ino: 0,
    }
}

fn new_job(r: &Runner, name: &OsString, identity: FileIdentity) -> Result<Job> {
    let job = Job {
        id: r.store.next_id()?,
        input: name.to_string_lossy().into_owned(),
        identity,
        state: JobState::Queued,
        queued_at: status::now_ms(),
        checkpoint: None,
        resumed_at_byte: None,
    };
    r.store.put_job(&job)?;
    Ok(job)
}
