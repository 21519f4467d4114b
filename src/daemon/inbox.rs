//! The inbox: which entries to take, when a file is whole, and how changes are heard.
//!
//! Completeness is decided by the settle rule alone (size and mtime unchanged for the
//! settle time), never by the kind of event: a file moved in gives only a rename event, a
//! slow writer gives many writes. Events and rescans only say "look at this name again".

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use notify::{RecursiveMode, Watcher};

use super::records::FileIdentity;

/// Name endings of files still being written by common tools.
const TEMP_SUFFIXES: [&str; 6] = [".part", ".partial", ".tmp", ".filepart", ".crdownload", "~"];

/// True for names the daemon leaves alone: hidden, or a temporary name.
pub fn is_ignored(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    name.starts_with('.') || TEMP_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// What looking at an inbox entry found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A regular file, with its identity now.
    File(FileIdentity),
    /// Something that is not a regular file, and what it is. Never opened.
    Refused(&'static str),
    Gone,
}

/// Looks at `path` without following a link or opening anything.
pub fn look(path: &Path) -> Entry {
    match std::fs::symlink_metadata(path) {
        Err(_) => Entry::Gone,
        Ok(m) => {
            let t = m.file_type();
            if t.is_file() {
                Entry::File(identity(&m))
            } else if t.is_symlink() {
                Entry::Refused("a symbolic link (links are not followed)")
            } else if t.is_dir() {
                Entry::Refused("a directory")
            } else if t.is_fifo() {
                Entry::Refused("a FIFO (named pipe)")
            } else if t.is_socket() {
                Entry::Refused("a socket")
            } else {
                Entry::Refused("a device")
            }
        }
    }
}

pub fn identity(m: &std::fs::Metadata) -> FileIdentity {
    FileIdentity {
        size: m.len(),
        mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
        dev: m.dev(),
        ino: m.ino(),
    }
}

/// Files seen in the inbox and not yet taken, each with when it was last seen to change.
pub struct Settling {
    dir: PathBuf,
    settle: Duration,
    files: HashMap<OsString, (FileIdentity, Instant)>,
}

/// What became of a name looked at.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    Waiting,
    Refused(&'static str),
    Ignored,
}

impl Settling {
    pub fn new(dir: &Path, settle: Duration) -> Settling {
        Settling {
            dir: dir.to_path_buf(),
            settle,
            files: HashMap::new(),
        }
    }

    pub fn set_settle(&mut self, settle: Duration) {
        self.settle = settle;
    }

    /// Looks at one inbox name (after an event or during a scan).
    pub fn observe(&mut self, name: &OsStr, now: Instant) -> Seen {
        if is_ignored(name) {
            return Seen::Ignored;
        }
        match look(&self.dir.join(name)) {
            Entry::Gone => {
                self.files.remove(name);
                Seen::Ignored
            }
            Entry::Refused(what) => {
                self.files.remove(name);
                Seen::Refused(what)
            }
            Entry::File(id) => {
                let slot = self.files.entry(name.to_os_string()).or_insert((id, now));
                if slot.0 != id {
                    *slot = (id, now);
                }
                Seen::Waiting
            }
        }
    }

    /// Forgets a name (it became a job, or was refused).
    pub fn forget(&mut self, name: &OsStr) {
        self.files.remove(name);
    }

    /// Every file unchanged for the settle time, looked at once more to be sure; they are
    /// forgotten here and become the caller's.
    pub fn settled(&mut self, now: Instant) -> Vec<(OsString, FileIdentity)> {
        let due: Vec<OsString> = self
            .files
            .iter()
            .filter(|(_, (_, since))| now.duration_since(*since) >= self.settle)
            .map(|(name, _)| name.clone())
            .collect();
        let mut ready = Vec::new();
        for name in due {
            match look(&self.dir.join(&name)) {
                Entry::File(id) if self.files[&name].0 == id => {
                    self.files.remove(&name);
                    ready.push((name, id));
                }
                Entry::File(id) => {
                    self.files.insert(name, (id, now));
                }
                _ => {
                    self.files.remove(&name);
                }
            }
        }
        ready
    }

    /// When the next file may have settled.
    pub fn next_due(&self) -> Option<Instant> {
        self.files
            .values()
            .map(|(_, since)| *since + self.settle)
            .min()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Lists the inbox: every entry's name, ignored ones excluded.
pub fn list(dir: &Path) -> std::io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        if !is_ignored(&name) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// What the watcher tells the main loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboxEvent {
    /// Look at this name again.
    Name(OsString),
    /// Events were lost (queue overflow): list the whole inbox again.
    Rescan,
}

/// Starts watching `dir`. The handler never blocks: when the channel is full it raises
/// `overflow` instead, and the main loop rescans.
pub fn watch(
    dir: &Path,
    tx: Sender<super::Event>,
    overflow: Arc<AtomicBool>,
) -> notify::Result<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let events: Vec<InboxEvent> = match res {
            Ok(ev) if ev.need_rescan() => vec![InboxEvent::Rescan],
            Ok(ev) => ev
                .paths
                .iter()
                .filter_map(|p| p.file_name().map(|n| InboxEvent::Name(n.to_os_string())))
                .collect(),
            Err(_) => vec![InboxEvent::Rescan],
        };
        for e in events {
            if tx.try_send(super::Event::Inbox(e)).is_err() {
                overflow.store(true, Ordering::Relaxed);
            }
        }
    })?;
    watcher.watch(dir, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_and_hidden_names_are_ignored() {
        for n in [
            ".x",
            "a.part",
            "a.partial",
            "a.tmp",
            "a.filepart",
            "a.crdownload",
            "a~",
        ] {
            assert!(is_ignored(OsStr::new(n)), "{n}");
        }
        for n in ["a.txt", "a.gz", "part", "a.tmp.txt", "-x", "a b"] {
            assert!(!is_ignored(OsStr::new(n)), "{n}");
        }
    }

    #[test]
    fn files_settle_only_when_unchanged_for_the_settle_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settling::new(dir.path(), Duration::from_millis(100));
        let t0 = Instant::now();
        std::fs::write(dir.path().join("m.txt"), "a").unwrap();
        assert_eq!(s.observe(OsStr::new("m.txt"), t0), Seen::Waiting);
        assert!(s.settled(t0 + Duration::from_millis(50)).is_empty());
        // It grows: the clock starts again.
        std::fs::write(dir.path().join("m.txt"), "ab").unwrap();
        assert!(s.settled(t0 + Duration::from_millis(120)).is_empty());
        assert_eq!(s.next_due(), Some(t0 + Duration::from_millis(220)));
        let ready = s.settled(t0 + Duration::from_millis(230));
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].1.size, 2);
        assert!(s.is_empty());
    }

    #[test]
    fn links_fifos_and_folders_are_refused_without_opening() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let fifo = std::ffi::CString::new(dir.path().join("fifo").to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid C string.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let mut s = Settling::new(dir.path(), Duration::ZERO);
        let now = Instant::now();
        assert!(
            matches!(s.observe(OsStr::new("link"), now), Seen::Refused(w) if w.contains("link"))
        );
        assert!(matches!(
            s.observe(OsStr::new("sub"), now),
            Seen::Refused("a directory")
        ));
        assert!(
            matches!(s.observe(OsStr::new("fifo"), now), Seen::Refused(w) if w.contains("FIFO"))
        );
        assert_eq!(s.observe(OsStr::new("missing"), now), Seen::Ignored);
    }
}
