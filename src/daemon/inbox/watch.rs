//! The inbox: which entries to take, when a file is whole, and how changes are heard.
//!
//! A file is whole when it was renamed into the inbox, or closed after its last write
//! (inotify's `IN_CLOSE_WRITE`), and its size and mtime then stayed unchanged for the settle
//! time. A file written in place whose writer still holds it open (a write seen, and no
//! close-write since) is not taken, however long it stays unchanged. What no event speaks
//! for is judged by the settle time alone: files already there at start-up, files a rescan
//! finds that no event announced, and every file after an inotify queue overflow (whose
//! lost events may have held the close).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use notify::{RecursiveMode, Watcher};

use crate::daemon::state::records::FileIdentity;

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
    /// Nothing there any more.
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

/// The identity (size, mtime, device, inode) of a file, from its metadata.
pub fn identity(m: &std::fs::Metadata) -> FileIdentity {
    FileIdentity {
        size: m.len(),
        mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
        dev: m.dev(),
        ino: m.ino(),
    }
}

/// What an inotify event says about a file's writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    /// Its data was written (`IN_MODIFY`): not whole until a close-write or rename.
    Written,
    /// Closed by a writer (`IN_CLOSE_WRITE`), or renamed in (`IN_MOVED_TO`): whole.
    Closed,
    /// Nothing about writing (created, attributes, a rescan).
    None,
}

impl Hint {
    /// What a `notify` event kind says.
    pub fn of(kind: &notify::EventKind) -> Hint {
        use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
        match kind {
            EventKind::Modify(ModifyKind::Data(_)) => Hint::Written,
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => Hint::Closed,
            EventKind::Modify(ModifyKind::Name(_)) => Hint::Closed,
            _ => Hint::None,
        }
    }
}

/// A file seen in the inbox and not yet taken.
#[derive(Debug, Clone, Copy)]
struct Watched {
    identity: FileIdentity,
    /// When it was last seen to change.
    since: Instant,
    /// A write was seen and no close-write or rename since.
    open: bool,
}

/// Files seen in the inbox and not yet taken, each with when it was last seen to change.
pub struct Settling {
    dir: PathBuf,
    settle: Duration,
    files: HashMap<OsString, Watched>,
}

/// What became of a name looked at.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    /// A regular file, settling.
    Waiting,
    /// Not a regular file (what it is): to be refused, never opened.
    Refused(&'static str),
    /// A name the inbox ignores (hidden, `.part`, `.tmp`, index files...), or gone.
    Ignored,
}

impl Settling {
    /// Settling for the inbox `dir`: a file is taken once unchanged for `settle`.
    pub fn new(dir: &Path, settle: Duration) -> Settling {
        Settling {
            dir: dir.to_path_buf(),
            settle,
            files: HashMap::new(),
        }
    }

    /// Changes the settle time (on reload).
    pub fn set_settle(&mut self, settle: Duration) {
        self.settle = settle;
    }

    /// Looks at one inbox name (after an event, with what it said, or during a scan).
    pub fn observe(&mut self, name: &OsStr, now: Instant, hint: Hint) -> Seen {
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
                let slot = self.files.entry(name.to_os_string()).or_insert(Watched {
                    identity: id,
                    since: now,
                    open: false,
                });
                if slot.identity != id {
                    slot.identity = id;
                    slot.since = now;
                }
                match hint {
                    Hint::Written => slot.open = true,
                    Hint::Closed => slot.open = false,
                    Hint::None => {}
                }
                Seen::Waiting
            }
        }
    }

    /// Events were lost: what they said about writers is unknown, so every file is judged
    /// by the settle time alone.
    pub fn forget_writers(&mut self) {
        for w in self.files.values_mut() {
            w.open = false;
        }
    }

    /// Forgets a name (it became a job, or was refused).
    pub fn forget(&mut self, name: &OsStr) {
        self.files.remove(name);
    }

    /// Every whole file unchanged for the settle time, looked at once more to be sure; they
    /// are forgotten here and become the caller's.
    pub fn settled(&mut self, now: Instant) -> Vec<(OsString, FileIdentity)> {
        let due: Vec<OsString> = self
            .files
            .iter()
            .filter(|(_, w)| !w.open && now.duration_since(w.since) >= self.settle)
            .map(|(name, _)| name.clone())
            .collect();
        let mut ready = Vec::new();
        for name in due {
            match look(&self.dir.join(&name)) {
                Entry::File(id) if self.files[&name].identity == id => {
                    self.files.remove(&name);
                    ready.push((name, id));
                }
                Entry::File(id) => {
                    let w = self.files.get_mut(&name).expect("listed above");
                    w.identity = id;
                    w.since = now;
                }
                _ => {
                    self.files.remove(&name);
                }
            }
        }
        ready
    }

    /// When the next whole file may have settled (files held open wait for an event).
    pub fn next_due(&self) -> Option<Instant> {
        self.files
            .values()
            .filter(|w| !w.open)
            .map(|w| w.since + self.settle)
            .min()
    }

    /// No file is settling.
    #[cfg(test)]
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
    /// Look at this name again, with what the event said.
    Name(OsString, Hint),
    /// Events were lost (queue overflow): list the whole inbox again.
    Rescan,
}

/// Starts watching `dir`. The handler never blocks: when the channel is full it raises
/// `overflow` instead, and the main loop rescans.
pub fn watch(
    dir: &Path,
    tx: Sender<crate::daemon::Event>,
    overflow: Arc<AtomicBool>,
) -> notify::Result<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let events: Vec<InboxEvent> = match res {
            Ok(ev) if ev.need_rescan() => vec![InboxEvent::Rescan],
            Ok(ev) => {
                let hint = Hint::of(&ev.kind);
                ev.paths
                    .iter()
                    .filter_map(|p| {
                        p.file_name()
                            .map(|n| InboxEvent::Name(n.to_os_string(), hint))
                    })
                    .collect()
            }
            Err(_) => vec![InboxEvent::Rescan],
        };
        for e in events {
            if tx.try_send(crate::daemon::Event::Inbox(e)).is_err() {
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
        assert_eq!(
            s.observe(OsStr::new("m.txt"), t0, Hint::None),
            Seen::Waiting
        );
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
    fn a_file_written_and_not_closed_never_settles() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settling::new(dir.path(), Duration::from_millis(100));
        let t0 = Instant::now();
        let m = OsStr::new("m.txt");
        std::fs::write(dir.path().join("m.txt"), "a").unwrap();
        s.observe(m, t0, Hint::Written);
        assert!(s.settled(t0 + Duration::from_secs(3600)).is_empty());
        assert_eq!(s.next_due(), None, "nothing to wake up for");
        // Closed: whole, and unchanged since long enough.
        s.observe(m, t0 + Duration::from_secs(3600), Hint::Closed);
        assert_eq!(s.settled(t0 + Duration::from_secs(3600)).len(), 1);
        // Written again after a close, then held open: waits again; an overflow forgets.
        s.observe(m, t0, Hint::Closed);
        s.observe(m, t0, Hint::Written);
        assert!(s.settled(t0 + Duration::from_secs(10)).is_empty());
        s.forget_writers();
        assert_eq!(s.settled(t0 + Duration::from_secs(10)).len(), 1);
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
            matches!(s.observe(OsStr::new("link"), now, Hint::None), Seen::Refused(w) if w.contains("link"))
        );
        assert!(matches!(
            s.observe(OsStr::new("sub"), now, Hint::None),
            Seen::Refused("a directory")
        ));
        assert!(
            matches!(s.observe(OsStr::new("fifo"), now, Hint::None), Seen::Refused(w) if w.contains("FIFO"))
        );
        assert_eq!(
            s.observe(OsStr::new("missing"), now, Hint::None),
            Seen::Ignored
        );
    }
}
