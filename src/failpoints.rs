//! Test-only failpoints, so a test can stop the daemon between any two steps of its
//! protocol on purpose rather than by luck.
//!
//! `HAPFLOW_FAILPOINTS="checkpoint.synced=exit,chunk.written=sleep(20)"`: at each named
//! point, `sleep(MS)` pauses, `exit` ends the process at once with status 137 (no
//! destructor, no flush: as abrupt as `kill -9`), and `exit@N` does so at the N-th hit.
//! `error@N` makes the N-th hit an I/O error, at the points that can return one ([`fail`]).
//! Read in debug builds only; in release builds [`hit`] and [`fail`] do nothing.

#[cfg(debug_assertions)]
mod imp {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    use std::time::Duration;

    #[derive(Debug)]
    enum Action {
        Sleep(u64),
        Exit { at: u64, hits: AtomicU64 },
        Error { at: u64, hits: AtomicU64 },
    }

    fn points() -> &'static HashMap<String, Action> {
        static POINTS: OnceLock<HashMap<String, Action>> = OnceLock::new();
        POINTS.get_or_init(|| {
            let spec = std::env::var("HAPFLOW_FAILPOINTS").unwrap_or_default();
            spec.split(',')
                .filter_map(|item| item.split_once('='))
                .filter_map(|(name, action)| {
                    let action = if let Some(ms) = action
                        .strip_prefix("sleep(")
                        .and_then(|r| r.strip_suffix(')'))
                    {
                        Action::Sleep(ms.parse().ok()?)
                    } else if action == "exit" {
                        Action::Exit {
                            at: 1,
                            hits: AtomicU64::new(0),
                        }
                    } else if let Some(at) = action.strip_prefix("error@") {
                        Action::Error {
                            at: at.parse().ok()?,
                            hits: AtomicU64::new(0),
                        }
                    } else {
                        let at = action.strip_prefix("exit@")?.parse().ok()?;
                        Action::Exit {
                            at,
                            hits: AtomicU64::new(0),
                        }
                    };
                    Some((name.trim().to_string(), action))
                })
                .collect()
        })
    }

    pub fn fail(name: &str) -> std::io::Result<()> {
        if let Some(Action::Error { at, hits }) = points().get(name) {
            if hits.fetch_add(1, Ordering::SeqCst) + 1 == *at {
                eprintln!("failpoint {name}: failing");
                return Err(std::io::Error::other(format!("failpoint {name}")));
            }
            return Ok(());
        }
        hit(name);
        Ok(())
    }

    pub fn hit(name: &str) {
        match points().get(name) {
            None => {}
            Some(Action::Sleep(ms)) => std::thread::sleep(Duration::from_millis(*ms)),
            Some(Action::Exit { at, hits }) if hits.fetch_add(1, Ordering::SeqCst) + 1 == *at => {
                eprintln!("failpoint {name}: exiting");
                // SAFETY: _exit ends the process; nothing runs after it.
                unsafe { libc::_exit(137) }
            }
            Some(Action::Exit { .. } | Action::Error { .. }) => {}
        }
    }
}

/// A named point in the daemon's protocol (see the module doc): sleeps or ends the process
/// if `HAPFLOW_FAILPOINTS` says so for `name`; does nothing in release builds.
#[inline]
pub fn hit(_name: &str) {
    #[cfg(debug_assertions)]
    imp::hit(_name);
}

/// [`hit`], at a point that can also fail with an I/O error (`error@N`).
///
/// # Errors
///
/// An I/O error (`failpoint NAME`, of kind `Other`) at the N-th hit of a point set to
/// `error@N`; never in release builds.
#[inline]
pub fn fail(_name: &str) -> std::io::Result<()> {
    #[cfg(debug_assertions)]
    return imp::fail(_name);
    #[cfg(not(debug_assertions))]
    Ok(())
}
