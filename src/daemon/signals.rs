//! OS signals become one enum on the main loop's channel. The handling thread only
//! forwards (and counts: a second stop request exits at once, as the README's "Signals" says).

use std::sync::atomic::{AtomicU32, Ordering};

use crossbeam_channel::Sender;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// What a signal asks of the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM or SIGINT: stop taking files, checkpoint, exit 0.
    Shutdown,
    /// SIGHUP: read the configuration again.
    Reload,
}

/// Exit code of a daemon stopped by a second stop request before it finished stopping.
pub const EXIT_AT_ONCE: i32 = 130;

/// Starts forwarding signals to `tx`.
pub fn forward(tx: Sender<super::Event>) -> std::io::Result<()> {
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP])?;
    static STOPS: AtomicU32 = AtomicU32::new(0);
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                let event = match sig {
                    SIGHUP => Signal::Reload,
                    _ => {
                        if STOPS.fetch_add(1, Ordering::SeqCst) >= 1 {
                            // The store is consistent at every moment (flushed records),
                            // so leaving now loses at most the work since the last
                            // checkpoint.
                            tracing::warn!("second stop request: exiting at once");
                            std::process::exit(EXIT_AT_ONCE);
                        }
                        Signal::Shutdown
                    }
                };
                let _ = tx.send(super::Event::Signal(event));
            }
        })?;
    Ok(())
}
