//! The daemon's main loop: one owner of every decision, one method per event. Everything
//! else sends it an [`Event`]: the inbox watcher, the outside ([`Control`]), the job
//! thread when a job ends. Jobs run one at a time, oldest first, with all worker threads.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver, Sender};

use crate::config::Config;
use crate::daemon::backoff::Backoff;
use crate::daemon::control::Control;
use crate::daemon::inbox::intake::Intake;
use crate::daemon::inbox::watch::InboxEvent;
use crate::daemon::job::{self, Outcome, Runner, Settings};
use crate::daemon::logging::{self, LogHandle};
use crate::daemon::metrics::Metrics;
use crate::daemon::settings::{job_settings, load_serve_config, log_changes, Overrides};
use crate::daemon::state::recovery::reopen_store;
use crate::daemon::state::retention::prune;
use crate::daemon::status::{DaemonState, JobPhase};
use crate::daemon::Event;
use crate::error::{Error, Result};

/// How long a stop request waits for the running job to checkpoint.
const STOP_GRACE: Duration = Duration::from_millis(4500);
/// The loop wakes at least this often (systemd's watchdog, the status file).
const TICK: Duration = Duration::from_millis(250);

/// Where the configuration comes from, for a reload.
pub(super) struct Source<'a> {
    /// The configuration file, read again on reload.
    pub(super) path: Option<&'a Path>,
    /// The command line's values, applied again on reload.
    pub(super) overrides: &'a Overrides,
    /// The log filter a reload changes, if the caller installed one.
    pub(super) logs: Option<&'a LogHandle>,
}

/// The main loop's state.
pub(super) struct EventLoop<'a> {
    pub(super) source: Source<'a>,
    pub(super) config: Config,
    pub(super) settings: Settings,
    pub(super) runner: Arc<Runner>,
    pub(super) intake: Intake,
    pub(super) metrics: Metrics,
    /// Events from the watcher and the job thread.
    pub(super) events: Receiver<Event>,
    /// A sender of `events`, for the job threads.
    pub(super) sender: Sender<Event>,
    /// Requests from the outside; `never()` once its senders are gone.
    pub(super) control: Receiver<Control>,
    /// Set by the watcher when events were lost: rescan.
    pub(super) overflow: Arc<AtomicBool>,
    /// The job running now, and its thread.
    pub(super) running: Option<(u64, JoinHandle<()>)>,
    /// The queue pauses until then (a failure of the machine).
    pub(super) retry_at: Option<Instant>,
    pub(super) backoff: Backoff,
    /// When a stop was asked for.
    pub(super) stopping: Option<Instant>,
    /// The status file could not be written last time (said once).
    pub(super) status_failing: bool,
    pub(super) next_rescan: Instant,
}

impl EventLoop<'_> {
    /// Runs until stopped: starts the next job when it may, waits for an event or a
    /// deadline, handles it, then does the periodic work ([`EventLoop::tick`]).
    pub(super) fn run(mut self) -> Result<()> {
        loop {
            self.start_next_job()?;
            if self.running.is_none() && self.stopping.is_some() {
                break;
            }
            if self.stopping.is_some_and(|t| t.elapsed() >= STOP_GRACE) {
                tracing::warn!(
                    "the running job did not stop in time; exiting (its last checkpoint stands)"
                );
                break;
            }
            match self.next_event() {
                Some(Event::Inbox(InboxEvent::Name(name, hint))) => {
                    self.intake.look_at(&name, hint)
                }
                Some(Event::Inbox(InboxEvent::Rescan)) => {
                    tracing::warn!("the inotify queue overflowed: rescanning the inbox");
                    self.on_lost_events();
                }
                Some(Event::Control(Control::Shutdown)) => self.on_shutdown(),
                Some(Event::Control(Control::Reload)) => self.on_reload(),
                Some(Event::Finished(id, outcome)) => self.on_finished(id, outcome),
                None => {}
            }
            self.tick();
        }
        self.stopped();
        Ok(())
    }

    /// Starts the oldest queued job, unless one runs, a stop was asked for, or the queue
    /// pauses.
    fn start_next_job(&mut self) -> Result<()> {
        let now = Instant::now();
        if self.running.is_some()
            || self.stopping.is_some()
            || self.retry_at.is_some_and(|t| now < t)
        {
            return Ok(());
        }
        self.retry_at = None;
        let Some(job) = self.intake.queue.pop_front() else {
            return Ok(());
        };
        let (id, r, s, tx) = (
            job.id,
            self.runner.clone(),
            self.settings.clone(),
            self.sender.clone(),
        );
        let handle = std::thread::Builder::new()
            .name(format!("job-{id}"))
            .spawn(move || {
                let outcome = job::run_job(&r, &s, job);
                let _ = tx.send(Event::Finished(id, outcome));
            })
            .map_err(|e| Error::io("job", "start a thread for", e))?;
        self.running = Some((id, handle));
        Ok(())
    }

    /// Waits for the next event, or until something falls due (a file settled, a rescan,
    /// the end of a pause, the tick): None then.
    fn next_event(&mut self) -> Option<Event> {
        let mut wake = Instant::now() + TICK;
        // While paused (retry_at), settled files wait: they must not wake the loop.
        let settle_due = self
            .intake
            .settling
            .next_due()
            .filter(|_| self.retry_at.is_none());
        for t in [settle_due, Some(self.next_rescan), self.retry_at]
            .into_iter()
            .flatten()
        {
            wake = wake.min(t);
        }
        let mut closed = false;
        let event = select! {
            recv(self.events) -> e => Some(e.expect("the loop holds a sender")),
            recv(self.control) -> c => Some(Event::Control(c.unwrap_or_else(|_| {
                // Nobody can ask any more: stop, as if asked once.
                closed = true;
                Control::Shutdown
            }))),
            default(wake.saturating_duration_since(Instant::now())) => None,
        };
        if closed {
            self.control = crossbeam_channel::never();
        }
        event
    }

    /// Stop requested: no new files; the running job checkpoints and ends.
    fn on_shutdown(&mut self) {
        if self.stopping.is_some() {
            return;
        }
        tracing::info!("stop requested: no new files; checkpointing");
        self.stopping = Some(Instant::now());
        self.runner.stop.store(true, Ordering::SeqCst);
        self.runner.systemd.stopping();
        (self.runner.board).with(|b| b.set_state(DaemonState::Stopping));
    }

    /// Reads the configuration again; a bad one is logged and the old one kept. Folders
    /// change only at the next start; the next job runs under the new settings.
    fn on_reload(&mut self) {
        self.runner.systemd.reloading();
        let source = &self.source;
        match load_serve_config(source.path, source.overrides)
            .and_then(|c| Ok((job_settings(&c)?, c)))
        {
            Ok((s, c)) => {
                log_changes(&self.config, &c);
                if let Err(e) = source.logs.map_or(Ok(()), |l| l.set(&c.daemon.log_level)) {
                    tracing::error!("{e}");
                }
                (self.intake.settling).set_settle(Duration::from_millis(c.daemon.settle_ms));
                self.next_rescan = Instant::now() + Duration::from_millis(c.daemon.rescan_ms);
                self.settings = s;
                self.config = c;
            }
            Err(e) => tracing::error!(
                "reload failed, keeping the old configuration: {}",
                logging::one_line(&e.to_string())
            ),
        }
        self.runner.systemd.ready();
    }

    /// A job run ended: count it, prune finished jobs, and act on how it ended (a retry
    /// pauses the queue for the backoff and puts the job back first).
    fn on_finished(&mut self, id: u64, outcome: Outcome) {
        if let Some((_, handle)) = self.running.take() {
            let _ = handle.join();
        }
        let r = self.runner.clone();
        r.board.with(|b| self.metrics.job_ended(b, &outcome));
        if matches!(outcome, Outcome::Done | Outcome::Failed(_)) {
            if let Err(e) = prune(&r.store, &r.folders.state, &r.board, self.keep_jobs()) {
                tracing::error!("cannot prune finished jobs: {e}");
            }
        }
        match outcome {
            Outcome::Done | Outcome::Stopped => self.backoff.reset(),
            Outcome::Failed(stayed) => {
                self.backoff.reset();
                self.intake.hold(stayed);
            }
            Outcome::Dropped(_) => self.intake.rescan(),
            Outcome::Retry(e, job) => {
                let pause = self.backoff.take();
                tracing::error!(job = id, "will retry in {:?}: {e}", pause);
                reopen_store(&r.store);
                r.board.with(|b| {
                    b.update(id, |b| {
                        b.state = JobPhase::Queued;
                        b.error = Some(e.to_string());
                    })
                });
                // The store's record is the durable one; the job as its run left it
                // serves when the store cannot be read.
                let stored = (r.store.jobs().ok())
                    .and_then(|(jobs, _)| jobs.into_iter().find(|j| j.id == id));
                self.intake.queue.push_front(stored.unwrap_or(*job));
                self.retry_at = Some(Instant::now() + pause);
            }
        }
        (r.systemd).status(&format!("ready, {} queued", self.intake.queue.len()));
    }

    /// Events were lost (the watcher's queue overflowed): forget who was writing, and
    /// look at the whole inbox again.
    fn on_lost_events(&mut self) {
        self.intake.settling.forget_writers();
        self.intake.rescan();
    }

    /// The periodic rescan is due: files no event announced are found.
    fn on_rescan_due(&mut self, now: Instant) {
        self.intake.rescan();
        self.next_rescan = now + Duration::from_millis(self.config.daemon.rescan_ms);
    }

    /// After every event or timeout: lost events, the rescan, settled files taken (unless
    /// stopping or paused), the watchdog, the status file and the metrics.
    fn tick(&mut self) {
        let now = Instant::now();
        if self.overflow.swap(false, Ordering::Relaxed) {
            tracing::warn!("inbox events overflowed: rescanning");
            self.on_lost_events();
        }
        if now >= self.next_rescan {
            self.on_rescan_due(now);
        }
        if self.stopping.is_none() && self.retry_at.is_none() {
            if let Err(e) = self.intake.take_settled(now) {
                // The store cannot record new jobs (a full disk, say): the files stay in the
                // inbox, and a rescan after the pause takes them.
                let pause = self.backoff.take();
                tracing::error!("cannot take new files, will retry in {pause:?}: {e}");
                reopen_store(&self.runner.store);
                self.retry_at = Some(Instant::now() + pause);
                self.next_rescan = Instant::now() + pause;
            }
        }
        let r = self.runner.clone();
        if self.running.is_none() {
            r.systemd.alive();
        }
        match r.board.with(|b| b.write_if_dirty(&r.folders.state)) {
            Ok(()) => self.status_failing = false,
            Err(e) if !self.status_failing => {
                tracing::warn!("{e} (said once until it works again)");
                self.status_failing = true;
            }
            Err(_) => {}
        }
        let paused = self.retry_at.is_some();
        r.board.with(|b| self.metrics.update(b, paused));
    }

    /// The loop ended: the store flushed, the status `stopped`.
    fn stopped(&self) {
        let r = &self.runner;
        if let Err(e) = r.store.flush() {
            tracing::error!("final flush: {e}");
        }
        r.board
            .with(|b| {
                b.set_state(DaemonState::Stopped);
                b.write_if_dirty(&r.folders.state)
            })
            .unwrap_or_else(|e| tracing::warn!("{e}"));
        tracing::info!("stopped");
    }

    fn keep_jobs(&self) -> usize {
        self.config.daemon.keep_jobs
    }
}
