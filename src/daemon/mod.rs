//! The daemon: `hapflow serve` watches an inbox, converts every matrix dropped there under
//! one memory ceiling, checkpoints in sled, and publishes results atomically.
//!
//! This file only wires the parts together ([`serve`]): settings -> folders and lock ->
//! store and recovery -> watcher and intake -> the event loop. The parts, by folder:
//! `inbox/` (the watcher, intake of whole files as jobs, moving files, the work-file
//! names), `job/` (a job's state machine: converting with checkpoints, publishing,
//! quarantine), `state/` (what survives a crash: the sled store and its records, the
//! contig journals, the settings fingerprint, recovery and retention); beside them
//! `event_loop.rs` (one method per event), `backoff.rs`, `status.rs`, `metrics.rs` and the
//! start-up checks.
//!
//! Another program runs a daemon with [`serve`] (stopped and reloaded over a channel of
//! [`Control`]), reads its configuration as `hapflow serve` does with [`load_config`] and
//! [`Overrides`], and reads a daemon's status file with [`read_status`].

mod backoff;
mod checks;
mod control;
mod event_loop;
mod folders;
/// The inbox side: watching the folder, taking whole files as jobs, moving files, the
/// work-file names.
mod inbox;
/// One job: its state machine, the conversion with checkpoints, publishing, quarantine.
mod job;
mod lock;
mod logging;
mod metrics;
mod settings;
/// What survives a crash: the sled store, its records, the contig journals, the settings
/// fingerprint; recovery at start and retention of finished jobs.
pub(crate) mod state;
mod status;
mod systemd;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver};

use crate::error::{Error, Result};
use backoff::Backoff;
use event_loop::{EventLoop, Source};
use inbox::intake::Intake;
use inbox::watch::{InboxEvent, Settling};
use job::{Outcome, Runner};
use settings::{folders_of, load_serve_config};
use status::SharedBoard;
use systemd::Systemd;

use settings::{job_settings, SLED_CACHE};

pub use control::Control;
pub use logging::{filter as log_filter, LogHandle};
pub use settings::{load_config, Overrides};
pub use status::{
    read as read_status, table as status_table, DaemonState, DaemonStatus, JobPhase, JobStatus,
    Status,
};

/// Events waiting for the main loop at most; past that the watcher asks for a rescan.
const EVENT_QUEUE: usize = 4096;

/// What the main loop hears.
#[derive(Debug)]
pub(crate) enum Event {
    /// From the inbox watcher: a name to look at again, or "rescan".
    Inbox(InboxEvent),
    /// From the outside: stop, or reload the configuration.
    Control(Control),
    /// From the job thread: the job of this id ended with this outcome.
    Finished(u64, Outcome),
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
    let config = load_serve_config(config_path, overrides)?;
    let settings = job_settings(&config)?;
    let folders = folders_of(&config);
    folders::create(&folders)?;
    if let Some(textfile) = &config.metrics.textfile {
        // Monitoring does not stop conversion: a folder that cannot be made is said here,
        // and each write is tried again (logged once until it works).
        folders::create_metrics_folder(textfile)
            .unwrap_or_else(|e| tracing::warn!("cannot create the metrics folder: {e}"));
    }
    let _lock = lock::lock_state(&folders.state)?;
    let board = Arc::new(SharedBoard::default());
    // `hapflow status` shows `starting` from here on, however long recovery takes.
    board
        .with(|b| b.write_if_dirty(&folders.state))
        .unwrap_or_else(|e| tracing::warn!("{e}"));
    crate::failpoints::hit("serve.locked");
    let store = Arc::new(state::recovery::open_store(&folders.state)?);
    let systemd = Arc::new(Systemd::from_env());
    let runner = Arc::new(Runner {
        store: store.clone(),
        folders: folders.clone(),
        board: board.clone(),
        systemd: systemd.clone(),
        stop: Arc::new(AtomicBool::new(false)),
    });

    let recovered = state::recovery::recover(&store, &folders, &board)?;
    state::retention::prune(&store, &folders.state, &board, config.daemon.keep_jobs)?;
    let metrics = board
        .with(|b| metrics::Metrics::new(config.metrics.textfile.as_deref(), &folders.outbox, b));

    // Watch first, then list: a file arriving in between is seen by one or the other.
    let (tx, rx) = bounded::<Event>(EVENT_QUEUE);
    let overflow = Arc::new(AtomicBool::new(false));
    let _watcher = inbox::watch::watch(&folders.inbox, tx.clone(), overflow.clone())
        .map_err(|e| Error::io(&folders.inbox, "watch", std::io::Error::other(e)))?;
    let settling = Settling::new(
        &folders.inbox,
        Duration::from_millis(config.daemon.settle_ms),
    );
    let mut intake = Intake::new(runner.clone(), settling, recovered.queue);
    intake.fail_unmoved(recovered.unmoved);
    intake.rescan();

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

    EventLoop {
        source: Source {
            path: config_path,
            overrides,
            logs,
        },
        next_rescan: Instant::now() + Duration::from_millis(config.daemon.rescan_ms),
        config,
        settings,
        runner,
        intake,
        metrics,
        events: rx,
        sender: tx,
        control,
        overflow,
        running: None,
        retry_at: None,
        backoff: Backoff::default(),
        stopping: None,
        status_failing: false,
    }
    .run()
}
