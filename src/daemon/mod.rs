//! The daemon: `hapflow serve` watches an inbox, converts every matrix dropped there under
//! one memory ceiling, checkpoints in sled, and publishes results atomically.
//!
//! This file only wires the parts together ([`serve`]): settings -> folders and lock ->
//! store and recovery -> watcher and intake -> the event loop. Each part has its file:
//! [`event_loop`] (one method per event), [`intake`] (inbox -> job), [`job`] (a job's
//! state machine: [`converting`], [`checkpoint`], [`publish`], [`quarantine`]),
//! [`recovery`] and [`retention`], [`backoff`], [`status`], [`work_files`].

#![deny(missing_docs)]

pub mod backoff;
pub mod blame;
pub mod checkpoint;
pub mod checks;
pub mod control;
pub mod converting;
pub mod event_loop;
pub mod files;
pub mod fingerprint;
pub mod folders;
pub mod inbox;
pub mod intake;
pub mod job;
pub mod journal;
pub mod lock;
pub mod logging;
pub mod metrics;
pub mod publish;
pub mod quarantine;
pub mod records;
pub mod recovery;
pub mod retention;
pub mod settings;
pub mod status;
pub mod store;
pub mod systemd;
pub mod work_files;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver};

use crate::error::{Error, Result};
use backoff::Backoff;
use control::Control;
use event_loop::{EventLoop, Source};
use inbox::{InboxEvent, Settling};
use intake::Intake;
use job::{Outcome, Runner};
use settings::{folders_of, load_serve_config};
use status::{DaemonState, SharedBoard};
use systemd::Systemd;

pub use settings::{job_settings, load_config, Overrides, DAEMON_RESERVE, SLED_CACHE};

/// Events waiting for the main loop at most; past that the watcher asks for a rescan.
const EVENT_QUEUE: usize = 4096;

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
    let store = Arc::new(recovery::open_store(&folders.state)?);
    let systemd = Arc::new(Systemd::from_env());
    let runner = Arc::new(Runner {
        store: store.clone(),
        folders: folders.clone(),
        board: board.clone(),
        systemd: systemd.clone(),
        stop: Arc::new(AtomicBool::new(false)),
    });

    let recovered = recovery::recover(&store, &folders, &board)?;
    retention::prune(&store, &folders.state, &board, config.daemon.keep_jobs)?;
    let metrics = board
        .with(|b| metrics::Metrics::new(config.metrics.textfile.as_deref(), &folders.outbox, b));

    // Watch first, then list: a file arriving in between is seen by one or the other.
    let (tx, rx) = bounded::<Event>(EVENT_QUEUE);
    let overflow = Arc::new(AtomicBool::new(false));
    let _watcher = inbox::watch(&folders.inbox, tx.clone(), overflow.clone())
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
