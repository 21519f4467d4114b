//! Telling systemd how the daemon is: READY once recovery is done, STATUS lines, and
//! WATCHDOG pings. Every call is a no-op outside systemd (no `NOTIFY_SOCKET`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;

/// The daemon's link to systemd's notification socket.
pub struct Systemd {
    /// Ping at least this often when systemd's watchdog is on.
    watchdog: Option<Duration>,
    last_ping: Mutex<Instant>,
}

impl Systemd {
    /// Reads `NOTIFY_SOCKET` and `WATCHDOG_USEC` from the environment; pings every quarter
    /// of the watchdog's interval.
    pub fn from_env() -> Systemd {
        let mut usec = 0;
        let watchdog =
            sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec) / 4);
        Systemd {
            watchdog,
            last_ping: Mutex::new(Instant::now()),
        }
    }

    /// `READY=1`: recovery is done (or a reload is).
    pub fn ready(&self) {
        let _ = sd_notify::notify(false, &[NotifyState::Ready]);
    }

    /// `STOPPING=1`: a stop was asked for.
    pub fn stopping(&self) {
        let _ = sd_notify::notify(false, &[NotifyState::Stopping]);
    }

    /// `RELOADING=1`: the configuration is being read again.
    pub fn reloading(&self) {
        let _ = sd_notify::notify(false, &[NotifyState::Reloading]);
    }

    /// `STATUS=text`: one line `systemctl status` shows.
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
