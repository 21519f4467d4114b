//! Telling systemd how the daemon is: READY once recovery is done, STATUS lines, and
//! WATCHDOG pings. Every call is a no-op outside systemd (no `NOTIFY_SOCKET`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;

pub struct Systemd {
    /// Ping at least this often when systemd's watchdog is on.
    watchdog: Option<Duration>,
    last_ping: Mutex<Instant>,
}

impl Systemd {
    pub fn from_env() -> Systemd {
        let mut usec = 0;
        let watchdog =
            sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec) / 4);
        Systemd {
            watchdog,
            last_ping: Mutex::new(Instant::now()),
        }
    }

    pub fn ready(&self) {
        let _ = sd_notify::notify(false, &[NotifyState::Ready]);
    }

    pub fn stopping(&self) {
        let _ = sd_notify::notify(false, &[NotifyState::Stopping]);
    }

    pub fn reloading(&self) {
        let _ = sd_notify::notify(false, &[NotifyState::Reloading]);
    }

    pub fn status(&self, text: &str) {
        let _ = sd_notify::notify(false, &[NotifyState::Status(text)]);
    }

    /// A sign of life. Called from pipeline progress while a job runs (so a stuck
    /// pipeline stops the pings), and from the main loop while idle.
    pub fn alive(&self) {
        let Some(every) = self.watchdog else { return };
        let mut last = self.last_ping.lock().expect("not poisoned");
        if last.elapsed() >= every {
            *last = Instant::now();
            let _ = sd_notify::notify(false, &[NotifyState::Watchdog]);
        }
    }
}
