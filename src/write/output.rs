//! Where the output goes, and how it gets there without anyone seeing a partial file: rows
//! are written to a temporary file (beside the target, or unnamed for stdout) which is
//! renamed into place (swapped with an existing output), or copied to stdout, only once the
//! whole input converted.

use std::fs::{File, Permissions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::{Error, Result};

/// Where the haplotype table is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A file, replaced in one step when the conversion is done (or written into, when it
    /// is a device or a FIFO).
    Path(PathBuf),
    /// The process's standard output.
    Stdout,
}

impl Output {
    /// No argument or `-` means stdout.
    pub fn from_arg(arg: Option<&Path>) -> Output {
        match arg {
            None => Output::Stdout,
            Some(p) if p == Path::new("-") => Output::Stdout,
            Some(p) => Output::Path(p.to_path_buf()),
        }
    }

    fn name(&self) -> PathBuf {
        match self {
            Output::Path(p) => p.clone(),
            Output::Stdout => PathBuf::from("<stdout>"),
        }
    }
}

/// A temporary file that becomes the output: an `AtomicOutput` for a regular file (or a
/// new name), a `Spool` for everything else. Dropped without [`TempOutput::publish`], a
/// temporary file disappears (a work file stays, for its owner to resume or remove).
pub enum TempOutput {
    /// Beside the target, renamed into place.
    Atomic(AtomicOutput),
    /// Elsewhere: copied into the target, or left for the caller.
    Spool(Spool),
}

impl TempOutput {
    /// A new empty temporary file for `target`: a hidden name beside it, or an unnamed file
    /// in the temporary folder when the target is stdout or not a regular file (a device
    /// such as `/dev/null`, a FIFO: renaming over those would replace them).
    ///
    /// # Errors
    ///
    /// An I/O error when the target's path cannot be resolved or the file not created.
    pub fn create(target: &Output) -> Result<TempOutput> {
        match target {
            Output::Stdout => Spool::copied_to(Output::Stdout).map(TempOutput::Spool),
            Output::Path(path) => {
                // Write where a symlink points, not over the link.
                let path = match std::fs::canonicalize(path) {
                    Ok(real) => real,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => path.clone(),
                    Err(e) => return Err(Error::io(path, "resolve", e)),
                };
                match std::fs::metadata(&path) {
                    Ok(m) if !m.is_file() => {
                        Spool::copied_to(Output::Path(path)).map(TempOutput::Spool)
                    }
                    _ => AtomicOutput::beside(path).map(TempOutput::Atomic),
                }
            }
        }
    }

    /// A new empty unnamed spool, published by the caller ([`TempOutput::publish_into`] a
    /// writer, for one).
    ///
    /// # Errors
    ///
    /// An I/O error creating the file in the temporary folder.
    pub fn unnamed() -> Result<TempOutput> {
        Spool::unnamed().map(TempOutput::Spool)
    }

    /// A work file at `path` ([`Spool::at`]).
    ///
    /// # Errors
    ///
    /// As [`Spool::at`].
    pub fn at(path: &Path, keep: Option<u64>) -> Result<TempOutput> {
        Spool::at(path, keep).map(TempOutput::Spool)
    }

    /// An existing work file cut back to `keep` bytes, or None if it is missing or shorter.
    ///
    /// # Errors
    ///
    /// An I/O error other than the file missing.
    pub fn at_existing(path: &Path, keep: u64) -> Result<Option<TempOutput>> {
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() && m.len() >= keep => TempOutput::at(path, Some(keep)).map(Some),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, "stat", e)),
        }
    }

    /// The open file, positioned at its end for writing.
    pub fn file(&self) -> &File {
        match self {
            TempOutput::Atomic(a) => a.tmp.as_file(),
            TempOutput::Spool(s) => &s.file,
        }
    }

    /// The path to name in errors about this file.
    pub fn path(&self) -> PathBuf {
        match self {
            TempOutput::Atomic(a) => a.tmp.path().to_path_buf(),
            TempOutput::Spool(s) => s.path(),
        }
    }

    /// Makes everything written so far durable (`fdatasync`).
    ///
    /// # Errors
    ///
    /// An I/O error naming the file.
    pub fn sync(&self) -> Result<()> {
        self.file()
            .sync_data()
            .map_err(|e| Error::io(self.path(), "sync", e))
    }

    /// Appends `bytes`; an I/O error names the file.
    ///
    /// # Errors
    ///
    /// An I/O error naming the file.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let mut f = self.file();
        f.write_all(bytes)
            .map_err(|e| Error::io(self.path(), "write", e))
    }

    /// Makes the file the output: [`AtomicOutput::publish`] or [`Spool::publish`].
    ///
    /// # Errors
    ///
    /// An I/O error naming the target; a work file is published by its owner, not here.
    pub fn publish(self) -> Result<()> {
        match self {
            TempOutput::Atomic(a) => a.publish(),
            TempOutput::Spool(s) => s.publish(),
        }
    }

    /// Copies the whole file into `writer` and flushes it: how a table reaches a writer
    /// that is not a file (the file itself is then dropped).
    ///
    /// # Errors
    ///
    /// An I/O error reading the file or writing the writer.
    pub fn publish_into(self, writer: &mut dyn Write) -> Result<()> {
        let mut f = self.file();
        f.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(self.path(), "rewind the spool for", e))?;
        io::copy(&mut f, writer)
            .and_then(|_| writer.flush())
            .map(drop)
            .map_err(|e| Error::io("<writer>", "write", e))
    }
}

/// A temporary file beside its target, with a hidden name (`.NAME.XXXX.tmp`), that replaces
/// the target in one step when published, so a reader of the target sees the old output or
/// the new one, never a partial one. Dropped unpublished, it is removed.
pub struct AtomicOutput {
    tmp: NamedTempFile,
    /// A regular file or a new name, symlinks resolved.
    target: PathBuf,
}

impl AtomicOutput {
    /// A new empty temporary file in `target`'s folder (mode 0666 less the umask, as the
    /// output would have been created).
    ///
    /// # Errors
    ///
    /// An I/O error creating the file in the target's folder.
    pub fn beside(target: PathBuf) -> Result<AtomicOutput> {
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = target
            .file_name()
            .map_or("output".into(), |n| n.to_string_lossy());
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .permissions(Permissions::from_mode(0o666))
            .tempfile_in(dir)
            .map_err(|e| Error::io(dir, "create a temporary file in", e))?;
        Ok(AtomicOutput { tmp, target })
    }

    /// Swaps the file with an existing target (`renameat2` with `RENAME_EXCHANGE`) or
    /// renames it to a new one.
    ///
    /// # Errors
    ///
    /// An I/O error naming the target when the rename fails.
    pub fn publish(self) -> Result<()> {
        let AtomicOutput { tmp, target } = self;
        if exchange(tmp.path(), &target) {
            // The temporary name now holds the old output; dropping it removes it.
            drop(tmp);
            return Ok(());
        }
        tmp.persist(&target)
            .map_err(|e| Error::io(&target, "rename the finished output to", e.error))?;
        Ok(())
    }
}

/// A file the output is written to before it goes anywhere: unnamed in the temporary folder
/// (copied into stdout, a device, a FIFO or a writer when published; gone when dropped), or
/// a work file at a path of the caller's choosing (the daemon's, which must find it again
/// after a restart: it is not removed on drop, and its owner publishes it).
pub struct Spool {
    file: File,
    kind: SpoolKind,
}

enum SpoolKind {
    /// Unnamed; copied into the target when published, if it has one.
    Unnamed(Option<Output>),
    /// A work file at this path.
    Work(PathBuf),
}

impl Spool {
    /// A new empty unnamed file, published by the caller.
    ///
    /// # Errors
    ///
    /// An I/O error creating the file in the temporary folder.
    pub fn unnamed() -> Result<Spool> {
        Ok(Spool {
            file: unnamed_file()?,
            kind: SpoolKind::Unnamed(None),
        })
    }

    /// A new empty unnamed file, copied into `target` when published.
    fn copied_to(target: Output) -> Result<Spool> {
        Ok(Spool {
            file: unnamed_file()?,
            kind: SpoolKind::Unnamed(Some(target)),
        })
    }

    /// A work file at `path`: created empty, or, with `keep`, opened and cut back to its
    /// first `keep` bytes (the part a checkpoint found durable).
    ///
    /// # Errors
    ///
    /// An I/O error naming `path`; with `keep`, also when the file is shorter than that.
    pub fn at(path: &Path, keep: Option<u64>) -> Result<Spool> {
        let mut open = std::fs::OpenOptions::new();
        open.read(true).write(true).create(true);
        if keep.is_none() {
            open.truncate(true);
        }
        let file = open
            .open(path)
            .map_err(|e| Error::io(path, "open work file", e))?;
        if let Some(len) = keep {
            let have = file
                .metadata()
                .map_err(|e| Error::io(path, "stat", e))?
                .len();
            if have < len {
                return Err(Error::io(
                    path,
                    "resume from",
                    io::Error::other(format!("it has {have} bytes, the checkpoint needs {len}")),
                ));
            }
            file.set_len(len)
                .map_err(|e| Error::io(path, "truncate", e))?;
        }
        (&file)
            .seek(SeekFrom::End(0))
            .map_err(|e| Error::io(path, "seek", e))?;
        Ok(Spool {
            file,
            kind: SpoolKind::Work(path.to_path_buf()),
        })
    }

    /// The path to name in errors: the work file's, or the temporary folder.
    pub fn path(&self) -> PathBuf {
        match &self.kind {
            SpoolKind::Unnamed(_) => std::env::temp_dir(),
            SpoolKind::Work(p) => p.clone(),
        }
    }

    /// Copies the file into its target (stdout, or a file that is not a regular file).
    ///
    /// # Errors
    ///
    /// An I/O error naming the target; an error for a spool without a target (a work file,
    /// an unnamed spool for a writer), which its owner publishes.
    pub fn publish(self) -> Result<()> {
        let Spool { mut file, kind } = self;
        let to = match kind {
            SpoolKind::Unnamed(Some(to)) => to,
            SpoolKind::Unnamed(None) => {
                return Err(Error::io(
                    std::env::temp_dir(),
                    "publish",
                    io::Error::other("a spool without a target is published by its owner"),
                ))
            }
            SpoolKind::Work(path) => {
                return Err(Error::io(
                    path,
                    "publish",
                    io::Error::other("a work file is published by its owner"),
                ))
            }
        };
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(to.name(), "rewind the spool for", e))?;
        let copied = match &to {
            Output::Stdout => {
                let stdout = io::stdout();
                let mut lock = stdout.lock();
                io::copy(&mut file, &mut lock).and_then(|_| lock.flush())
            }
            Output::Path(path) => std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|mut out| io::copy(&mut file, &mut out).and_then(|_| out.flush())),
        };
        copied
            .map(drop)
            .map_err(|e| Error::io(to.name(), "write", e))
    }
}

fn unnamed_file() -> Result<File> {
    tempfile::tempfile()
        .map_err(|e| Error::io(std::env::temp_dir(), "create a temporary file in", e))
}

/// Swaps `tmp` and an existing `target` in one atomic step (the `renameat2` syscall with
/// `RENAME_EXCHANGE`), so that readers see the old output or the new one, never neither.
/// Returns false when there is nothing to swap with or the kernel or filesystem cannot
/// swap; the caller then renames.
///
/// Why not simply rename over the target: on ext4 (`auto_da_alloc`, the default), renaming
/// over an existing file first starts writeback of the new file's data, in the rename call.
/// For a 420 MB output that took 0.2 s and more here, a third of the whole conversion. A
/// swap does not do that, so a replaced output is as unsynced as a new one: `convert` does
/// not fsync (the daemon does).
fn exchange(tmp: &Path, target: &Path) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let (Ok(from), Ok(to)) = (
            std::ffi::CString::new(tmp.as_os_str().as_bytes()),
            std::ffi::CString::new(target.as_os_str().as_bytes()),
        ) else {
            return false;
        };
        match std::fs::symlink_metadata(target) {
            Ok(m) if m.is_file() => {}
            _ => return false,
        }
        // The raw syscall, not glibc's `renameat2` wrapper: that symbol exists only from
        // glibc 2.28, and the portable build links against glibc 2.17 (CentOS 7). A kernel
        // without the syscall (before 3.15: ENOSYS) or a filesystem that cannot swap
        // (EINVAL) makes this return false, and the caller renames.
        // SAFETY: two valid C strings, relative to the current directory; the syscall takes
        // exactly these five arguments.
        let swapped = unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                libc::AT_FDCWD,
                from.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        swapped == 0
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (tmp, target);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt;

    fn publish(target: &Output, text: &[u8]) {
        let mut t = TempOutput::create(target).unwrap();
        t.write_all(text).unwrap();
        t.publish().unwrap();
    }

    /// Regression: `-o /dev/null` once renamed the output over the device node.
    #[test]
    fn regression_dev_null_is_written_into_not_replaced() {
        publish(&Output::Path("/dev/null".into()), b"rows\n");
        let m = std::fs::metadata("/dev/null").unwrap();
        assert!(
            m.file_type().is_char_device(),
            "/dev/null is no longer a device"
        );
    }

    /// An existing output is swapped out, not renamed over: the new content is in place,
    /// a reader holding the old file still reads the old content, and no temporary file
    /// (the old output after the swap) is left beside it.
    #[test]
    fn an_existing_output_is_swapped_and_the_old_one_removed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        std::fs::write(&target, b"old rows\n").unwrap();
        let old_reader = std::fs::File::open(&target).unwrap();
        publish(&Output::Path(target.clone()), b"new rows\n");
        assert_eq!(std::fs::read(&target).unwrap(), b"new rows\n");
        assert_eq!(
            std::io::read_to_string(old_reader).unwrap(),
            "old rows\n",
            "the old file was changed in place"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.txt"]);
        // And through a symlink: the file it points to is replaced, the link stays.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        publish(&Output::Path(link.clone()), b"via link\n");
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(std::fs::read(&target).unwrap(), b"via link\n");
    }

    #[test]
    fn a_fifo_target_receives_the_output() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        publish(&Output::Path(fifo.clone()), b"through the pipe\n");
        assert_eq!(reader.join().unwrap(), b"through the pipe\n");
        assert!(std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo());
    }

    #[test]
    fn a_symlinked_target_is_written_where_it_points() {
        let dir = tempfile::tempdir().unwrap();
        let (real, link) = (dir.path().join("real.txt"), dir.path().join("link.txt"));
        std::fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        publish(&Output::Path(link.clone()), b"new");
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
    }

    #[test]
    fn a_work_file_resumes_at_its_durable_length() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.part");
        let mut t = TempOutput::at(&p, None).unwrap();
        t.write_all(b"durable|lost").unwrap();
        drop(t);
        let mut t = TempOutput::at(&p, Some(8)).unwrap();
        t.write_all(b"again").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"durable|again");
        assert!(TempOutput::at(&p, Some(100)).is_err());
    }

    #[test]
    fn an_unpublished_output_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        let mut t = TempOutput::create(&Output::Path(target.clone())).unwrap();
        t.write_all(b"partial").unwrap();
        drop(t);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
