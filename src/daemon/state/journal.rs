//! A job's contig journal: the contig table of its checkpoints, kept in a file of its own
//! in `state/checkpoints/` rather than in sled.
//!
//! Why a file: a matrix of 100,000 scaffolds gave sled 100,000 records per job, and sled
//! keeps an in-memory index of every key it holds: the daemon peaked at 200 MiB under a
//! 64 MiB limit, and the store grew by 50 MB for that one job. A journal is appended to at
//! every checkpoint with the contigs that changed since the last one, made durable with the
//! spool (`fdatasync`) before the job record that names its length, and read back only on
//! resume. Its memory is one small write buffer, whatever the number of contigs.
//!
//! Format (little-endian): the 8-byte magic [`MAGIC`], then entries `id: u32, bytes: u64,
//! last_pos: u64, name_len: u32, name` (`last_pos`: for VCF, the POS of the contig's last
//! record, which a resumed job's next record of that contig must not be below; 0 for
//! none). An entry for an id already seen sets that contig's bytes and last POS; the
//! next new id must be the table's length (ids count up in order of first appearance).
//! Version 1 ([`MAGIC_V1`], hapflow before the last POS was kept) had no `last_pos`: such a
//! journal is still read for `status`, but a job is not resumed from it (it starts over,
//! so that its POS order is checked from the first record).
//! Only the first `len` bytes named by the job record count: what lies beyond is from a
//! checkpoint that never committed, and is cut off on resume.
//!
//! When the appended changes outgrow the table itself (interleaved contigs change at every
//! checkpoint), the table is written whole into the next generation's file
//! (`job<id>.<gen>.contigs`); the older file is removed once a record naming the new one
//! is durable.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::write::{ContigBytes, ContigTable};

/// The first bytes of a journal file: format version 2 (entries with each contig's last POS).
pub const MAGIC: &[u8; 8] = b"HFCJ\x02\0\0\0";
/// The first bytes of a version 1 journal (entries without the last POS).
pub const MAGIC_V1: &[u8; 8] = b"HFCJ\x01\0\0\0";
/// Bytes of an entry besides its name: id, bytes, last POS, name length.
const ENTRY_HEAD: u64 = 24;
/// Appended entries beyond which the next checkpoint starts a new generation: at least
/// this, and more than the whole table takes.
const REWRITE_AT: u64 = 1 << 20;
/// The write buffer (the journal's whole memory besides the file handle).
const BUFFER: usize = 64 << 10;

/// The folder of journals in a state folder.
pub fn dir(state: &Path) -> PathBuf {
    state.join("checkpoints")
}

/// The journal of job `job`, generation `generation`.
pub fn path(state: &Path, job: u64, generation: u32) -> PathBuf {
    dir(state).join(format!("job{job}.{generation}.contigs"))
}

/// The job a journal file belongs to, from its name.
fn job_of(name: &str) -> Option<u64> {
    name.strip_prefix("job")?.split('.').next()?.parse().ok()
}

/// Removes the journal files of every job `remove` says yes to.
pub fn remove_where(state: &Path, remove: impl Fn(u64) -> bool) -> Result<()> {
    let dir = dir(state);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(&dir, "list", e)),
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if job_of(&name.to_string_lossy()).is_some_and(&remove) {
            crate::daemon::inbox::files::remove_if_there(&entry.path())?;
        }
    }
    Ok(())
}

/// Removes every journal file of one job.
pub fn remove_job(state: &Path, job: u64) -> Result<()> {
    remove_where(state, |j| j == job)
}

/// Contig names in id order, each with its bytes of output.
pub type Contigs = Vec<ContigBytes>;

/// Where a checkpoint's contigs are: which file, and how many of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalAt {
    /// Which file: `job<id>.<generation>.contigs`.
    pub generation: u32,
    /// How many of its bytes belong to the checkpoint.
    pub len: u64,
}

/// An open journal, written by the pipeline's writer thread.
pub struct Journal {
    state: PathBuf,
    job: u64,
    generation: u32,
    file: Arc<File>,
    out: BufWriter<FileRef>,
    len: u64,
    /// Bytes appended since the generation began with the whole table.
    appended: u64,
    /// The file is new: its folder entry is to be made durable with the next checkpoint.
    new_file: bool,
}

/// What a checkpoint hands its committing thread: the file to make durable, and the older
/// generation to remove once the record is.
pub struct Durable {
    /// The journal file, to `fdatasync`.
    pub file: Arc<File>,
    /// A file new since the last checkpoint: its folder (and the folder's own entry) must
    /// be synced too.
    pub new_generation: Option<PathBuf>,
    /// The older generation, to remove once a record naming the new one is durable.
    pub superseded: Option<PathBuf>,
}

/// Writes through a shared handle (the committing thread syncs the same file).
struct FileRef(Arc<File>);

impl Write for FileRef {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        (&*self.0).write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn entry(
    out: &mut impl Write,
    id: u32,
    name: &[u8],
    bytes: u64,
    last_pos: u64,
) -> std::io::Result<u64> {
    out.write_all(&id.to_le_bytes())?;
    out.write_all(&bytes.to_le_bytes())?;
    out.write_all(&last_pos.to_le_bytes())?;
    out.write_all(&(name.len() as u32).to_le_bytes())?;
    out.write_all(name)?;
    Ok(ENTRY_HEAD + name.len() as u64)
}

fn create(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create", e))?;
    }
    OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, "create", e))
}

impl Journal {
    /// A new, empty journal for a job starting from the beginning (generation 0; any older
    /// files of the job must be gone already).
    pub fn fresh(state: &Path, job: u64) -> Result<Journal> {
        let path = path(state, job, 0);
        let file = Arc::new(create(&path)?);
        let mut j = Journal {
            state: state.to_path_buf(),
            job,
            generation: 0,
            out: BufWriter::with_capacity(BUFFER, FileRef(file.clone())),
            file,
            len: 0,
            appended: 0,
            new_file: true,
        };
        j.out
            .write_all(MAGIC)
            .map_err(|e| Error::io(&path, "write", e))?;
        j.len = MAGIC.len() as u64;
        Ok(j)
    }

    /// Opens the journal a checkpoint names and reads its contigs (names in id order with
    /// their bytes), cutting off what lies beyond `at.len`. None if the file is missing,
    /// short or damaged: the checkpoint cannot be used then.
    pub fn resume(state: &Path, job: u64, at: JournalAt) -> Result<Option<(Journal, Contigs)>> {
        let path = path(state, job, at.generation);
        let file = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, "open", e)),
        };
        let size = file
            .metadata()
            .map_err(|e| Error::io(&path, "stat", e))?
            .len();
        if size < at.len {
            return Ok(None);
        }
        let Some((contigs, version)) =
            read_entries(&file, at.len).map_err(|e| Error::io(&path, "read", e))?
        else {
            return Ok(None);
        };
        if version != 2 {
            // No last POS to check the next records against (and appends would mix formats).
            return Ok(None);
        }
        file.set_len(at.len)
            .map_err(|e| Error::io(&path, "truncate", e))?;
        let file = Arc::new(file);
        let mut out = BufWriter::with_capacity(BUFFER, FileRef(file.clone()));
        // Appends go at the end: seek the shared handle there once.
        {
            use std::io::Seek;
            (&*file)
                .seek(std::io::SeekFrom::End(0))
                .map_err(|e| Error::io(&path, "seek", e))?;
        }
        out.flush().map_err(|e| Error::io(&path, "write", e))?;
        let j = Journal {
            state: state.to_path_buf(),
            job,
            generation: at.generation,
            out,
            file,
            len: at.len,
            appended: 0,
            new_file: false,
        };
        // Generations other than this one are from checkpoints that never committed.
        j.remove_other_generations()?;
        Ok(Some((j, contigs)))
    }

    fn remove_other_generations(&self) -> Result<()> {
        let keep = path(&self.state, self.job, self.generation);
        let dir = dir(&self.state);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            let p = entry.path();
            if p != keep && job_of(&entry.file_name().to_string_lossy()) == Some(self.job) {
                crate::daemon::inbox::files::remove_if_there(&p)?;
            }
        }
        Ok(())
    }

    /// Writes what the table changed since the last checkpoint (or the whole table into a
    /// new generation when the changes outgrew it), and says where the checkpoint's
    /// contigs are and what the committing thread must make durable.
    pub fn record(&mut self, table: &mut ContigTable) -> Result<(JournalAt, Durable)> {
        let mut superseded = None;
        let mut new_generation = None;
        if self.appended > REWRITE_AT && self.appended > whole_size(table) {
            let old = path(&self.state, self.job, self.generation);
            let next = path(&self.state, self.job, self.generation + 1);
            let file = Arc::new(create(&next)?);
            let mut out = BufWriter::with_capacity(BUFFER, FileRef(file.clone()));
            let mut len = MAGIC.len() as u64;
            out.write_all(MAGIC)
                .and_then(|()| {
                    for id in 0..table.len() as u32 {
                        len += entry(
                            &mut out,
                            id,
                            table.name(id),
                            table.bytes(id),
                            table.last_pos(id),
                        )?;
                    }
                    out.flush()
                })
                .map_err(|e| Error::io(&next, "write", e))?;
            table.take_changed(|_| ());
            self.generation += 1;
            self.file = file;
            self.out = out;
            self.len = len;
            self.appended = 0;
            superseded = Some(old);
            new_generation = Some(next);
        } else {
            let mut result = Ok(0);
            let out = &mut self.out;
            table.take_changed(|c| {
                if let Ok(n) = result {
                    result = entry(out, c.id, c.name, c.bytes, c.last_pos).map(|m| n + m);
                }
            });
            let n = result
                .and_then(|n| out.flush().map(|()| n))
                .map_err(|e| Error::io(self.path(), "write", e))?;
            self.len += n;
            self.appended += n;
            if std::mem::take(&mut self.new_file) {
                new_generation = Some(self.path());
            }
        }
        Ok((
            JournalAt {
                generation: self.generation,
                len: self.len,
            },
            Durable {
                file: self.file.clone(),
                new_generation,
                superseded,
            },
        ))
    }

    fn path(&self) -> PathBuf {
        path(&self.state, self.job, self.generation)
    }
}

/// The first `limit` contig names a checkpoint's journal holds, for the status of a job
/// recovered at start-up; empty if the journal cannot be read.
pub fn names(state: &Path, job: u64, at: JournalAt, limit: usize) -> Vec<String> {
    let Ok(file) = File::open(path(state, job, at.generation)) else {
        return Vec::new();
    };
    match read_entries(&file, at.len) {
        Ok(Some((contigs, _))) => contigs
            .into_iter()
            .take(limit)
            .map(|c| String::from_utf8_lossy(&c.name).into_owned())
            .collect(),
        _ => Vec::new(),
    }
}

/// The bytes of a journal holding `table` whole.
fn whole_size(table: &ContigTable) -> u64 {
    let names: u64 = (0..table.len() as u32)
        .map(|id| table.name(id).len() as u64)
        .sum();
    MAGIC.len() as u64 + ENTRY_HEAD * table.len() as u64 + names
}

/// Reads a journal's entries up to `len`: the contigs in id order and the format version
/// (1 or 2), or None if the bytes are not a journal or an entry breaks the rules.
fn read_entries(file: &File, len: u64) -> std::io::Result<Option<(Contigs, u8)>> {
    let mut r = std::io::BufReader::with_capacity(BUFFER, file.take(len));
    let mut magic = [0u8; 8];
    if len < 8 || r.read_exact(&mut magic).is_err() {
        return Ok(None);
    }
    let (version, head_len) = if &magic == MAGIC {
        (2, ENTRY_HEAD)
    } else if &magic == MAGIC_V1 {
        (1, 16)
    } else {
        return Ok(None);
    };
    let mut left = len - 8;
    let mut contigs: Contigs = Vec::new();
    let mut head = [0u8; ENTRY_HEAD as usize];
    while left > 0 {
        if left < head_len {
            return Ok(None);
        }
        let head = &mut head[..head_len as usize];
        r.read_exact(head)?;
        let u64_at = |i: usize| u64::from_le_bytes(head[i..i + 8].try_into().expect("8 bytes"));
        let id = u32::from_le_bytes(head[0..4].try_into().expect("4 bytes"));
        let bytes = u64_at(4);
        let last_pos = if version == 2 { u64_at(12) } else { 0 };
        let n_at = head_len as usize - 4;
        let n = u32::from_le_bytes(head[n_at..n_at + 4].try_into().expect("4 bytes")) as u64;
        if n > left - head_len {
            return Ok(None);
        }
        let mut name = vec![0u8; n as usize];
        r.read_exact(&mut name)?;
        left -= head_len + n;
        match (id as usize).cmp(&contigs.len()) {
            std::cmp::Ordering::Less if contigs[id as usize].name == name => {
                contigs[id as usize].bytes = bytes;
                contigs[id as usize].last_pos = last_pos;
            }
            std::cmp::Ordering::Equal => contigs.push(ContigBytes {
                name,
                bytes,
                last_pos,
            }),
            _ => return Ok(None),
        }
    }
    Ok(Some((contigs, version)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Budget;

    #[test]
    fn changes_append_and_read_back_up_to_the_recorded_length() {
        let state = tempfile::tempdir().unwrap();
        let b = Budget::new(8 << 20);
        let mut t = ContigTable::new(b.reserve(1 << 20, "t").unwrap());
        let mut j = Journal::fresh(state.path(), 3).unwrap();
        t.observe(b"chr1", 10).unwrap();
        t.observe(b"chr2", 5).unwrap();
        let (first, _) = j.record(&mut t).unwrap();
        t.observe(b"chr1", 7).unwrap();
        t.observe(b"chr3", 1).unwrap();
        let (second, _) = j.record(&mut t).unwrap();
        assert!(second.len > first.len);

        let (_, contigs) = Journal::resume(state.path(), 3, first).unwrap().unwrap();
        let contig = |name: &[u8], bytes| ContigBytes {
            name: name.to_vec(),
            bytes,
            last_pos: 0,
        };
        assert_eq!(contigs, [contig(b"chr1", 10), contig(b"chr2", 5)]);
        // Resuming from the first cut the second checkpoint's entries off.
        let cut = std::fs::metadata(path(state.path(), 3, 0)).unwrap().len();
        assert_eq!(cut, first.len);
        assert!(Journal::resume(state.path(), 3, second).unwrap().is_none());
        assert!(Journal::resume(state.path(), 4, first).unwrap().is_none());
    }

    #[test]
    fn a_table_that_keeps_changing_moves_to_a_new_generation() {
        let state = tempfile::tempdir().unwrap();
        let b = Budget::new(64 << 20);
        let mut t = ContigTable::new(b.reserve(1 << 20, "t").unwrap());
        let mut j = Journal::fresh(state.path(), 1).unwrap();
        let mut last = None;
        for round in 0..400u64 {
            for c in 0..1000 {
                t.observe(format!("scaffold_{c:06}").as_bytes(), round + 1)
                    .unwrap();
            }
            let (at, durable) = j.record(&mut t).unwrap();
            if let Some(old) = durable.superseded {
                std::fs::remove_file(old).unwrap();
            }
            last = Some(at);
        }
        let at = last.unwrap();
        assert!(at.generation > 0, "{at:?}");
        let size = std::fs::metadata(path(state.path(), 1, at.generation))
            .unwrap()
            .len();
        assert!(size <= REWRITE_AT + (1 << 20), "{size}");
        let (_, contigs) = Journal::resume(state.path(), 1, at).unwrap().unwrap();
        assert_eq!(contigs.len(), 1000);
        // Each contig has the sum 1 + 2 + ... + 400.
        assert!(contigs.iter().all(|c| c.bytes == 400 * 401 / 2));
    }

    #[test]
    fn garbage_is_not_a_journal() {
        let state = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir(state.path())).unwrap();
        std::fs::write(path(state.path(), 9, 0), b"not a journal at all").unwrap();
        let at = JournalAt {
            generation: 0,
            len: 20,
        };
        assert!(Journal::resume(state.path(), 9, at).unwrap().is_none());
    }

    #[test]
    fn each_contigs_last_pos_is_kept_and_a_version_1_journal_is_listed_not_resumed() {
        let state = tempfile::tempdir().unwrap();
        let b = Budget::new(8 << 20);
        let mut t = ContigTable::new(b.reserve(1 << 20, "t").unwrap());
        let mut j = Journal::fresh(state.path(), 2).unwrap();
        t.observe(b"chr1", 10).unwrap();
        t.set_last_pos(0, 500);
        t.observe(b"chr2", 5).unwrap();
        t.set_last_pos(1, 70);
        j.record(&mut t).unwrap();
        t.set_last_pos(0, 900);
        let (at, _) = j.record(&mut t).unwrap();
        let (_, contigs) = Journal::resume(state.path(), 2, at).unwrap().unwrap();
        let last: Vec<u64> = contigs.iter().map(|c| c.last_pos).collect();
        assert_eq!(last, [900, 70]);

        // hapflow 0.1's format: the same entries without the last POS.
        let mut v1 = MAGIC_V1.to_vec();
        for (id, name) in [(0u32, b"chr1"), (1, b"chr2")] {
            v1.extend(id.to_le_bytes());
            v1.extend(3u64.to_le_bytes());
            v1.extend(4u32.to_le_bytes());
            v1.extend(name);
        }
        std::fs::write(path(state.path(), 5, 0), &v1).unwrap();
        let at = JournalAt {
            generation: 0,
            len: v1.len() as u64,
        };
        assert_eq!(names(state.path(), 5, at, 10), ["chr1", "chr2"]);
        assert!(Journal::resume(state.path(), 5, at).unwrap().is_none());
    }
}
