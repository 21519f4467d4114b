//! One daemon per state folder: an exclusive `flock` on `state/hapflow.lock`, held for the
//! daemon's life (the kernel drops it when the process dies, even by `kill -9`).

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// The lock file's name in the state folder (`flock`ed by the daemon that runs there).
pub const LOCK_FILE: &str = "hapflow.lock";

/// The held lock; dropping it releases the folder.
pub struct StateLock {
    _file: File,
}

fn flock(file: &File, op: libc::c_int) -> std::io::Result<()> {
    // SAFETY: flock on a file descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Takes the state folder, waiting up to a second (a `hapflow status` may hold a shared
/// lock for an instant). Fails at once, with the holder's pid, if another daemon has it.
pub fn lock_state(dir: &Path) -> Result<StateLock> {
    let path = dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io(&path, "open", e))?;
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        match flock(&file, libc::LOCK_EX | libc::LOCK_NB) {
            Ok(()) => break,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    let pid = std::fs::read_to_string(&path).unwrap_or_default();
                    return Err(Error::config(format!(
                        "another hapflow daemon holds the state folder {} (pid {})",
                        dir.display(),
                        pid.trim()
                    )));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(Error::io(&path, "lock", e)),
        }
    }
    file.set_len(0)
        .and_then(|_| file.write_all(std::process::id().to_string().as_bytes()))
        .map_err(|e| Error::io(&path, "write", e))?;
    Ok(StateLock { _file: file })
}

/// True if a daemon holds `dir` now.
pub fn daemon_running(dir: &Path) -> bool {
    let Ok(file) = File::open(dir.join(LOCK_FILE)) else {
        return false;
    };
    match flock(&file, libc::LOCK_SH | libc::LOCK_NB) {
        Ok(()) => false, // released when `file` closes
        Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!daemon_running(dir.path()));
        let held = lock_state(dir.path()).unwrap();
        assert!(daemon_running(dir.path()));
        let err = lock_state(dir.path()).err().unwrap().to_string();
        assert!(
            err.contains("another hapflow daemon") && err.contains(&std::process::id().to_string()),
            "{err}"
        );
        drop(held);
        assert!(!daemon_running(dir.path()));
    }
}
