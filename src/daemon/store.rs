//! The checkpoint store: jobs and their contigs in sled, one tree, so that a checkpoint (a
//! job record and the contig records that changed) is one atomic batch. Writes are durable
//! only after [`Store::flush`]; callers flush after every state change that matters.

use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard};

use super::records::{decode, encode, ContigRecord, ContigV1, JobRecord, JobV1};
use crate::error::{Error, Result};

/// A contig's name and its bytes of output.
pub type ContigBytes = (Vec<u8>, u64);

pub struct Store {
    /// None after a failed [`Store::reopen`]: every operation then fails until one works.
    db: RwLock<Option<sled::Db>>,
    path: PathBuf,
    cache_bytes: u64,
}

/// A record that did not decode: its key and why.
#[derive(Debug)]
pub struct Damaged {
    pub key: Vec<u8>,
    pub why: String,
}

fn job_key(id: u64) -> [u8; 9] {
    let mut k = [b'j'; 9];
    k[1..].copy_from_slice(&id.to_be_bytes());
    k
}

fn contig_key(job: u64, contig: u32) -> [u8; 13] {
    let mut k = [b'c'; 13];
    k[1..9].copy_from_slice(&job.to_be_bytes());
    k[9..].copy_from_slice(&contig.to_be_bytes());
    k
}

impl Store {
    /// Opens (or creates) the store in `dir`, with a page cache of `cache_bytes`. sled's
    /// own default cache is 1 GiB: it must be set, and counted in the memory budget.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Store> {
        let db = Store::open_db(dir, cache_bytes)?;
        Ok(Store {
            db: RwLock::new(Some(db)),
            path: dir.to_path_buf(),
            cache_bytes,
        })
    }

    /// Opens sled. Its file lock outlives a dropped handle for a moment (its background
    /// work still holds the database), so a lock conflict is waited out for up to 2 s:
    /// `state/hapflow.lock` already guarantees no other daemon, so the holder can only be
    /// this process's previous handle going away.
    fn open_db(dir: &Path, cache_bytes: u64) -> Result<sled::Db> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        loop {
            let opened = sled::Config::new()
                .path(dir)
                .cache_capacity(cache_bytes)
                .flush_every_ms(None)
                .open();
            match opened {
                Err(e)
                    if e.to_string().contains("could not acquire lock")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other.map_err(|e| sled_error(dir, "open the store in", e)),
            }
        }
    }

    /// Drops the sled handle and opens the store again. sled latches an I/O error (a full
    /// disk, say): every later operation on that handle fails, even once the disk has room
    /// again, so recovering means a new handle. Durable data is what the last successful
    /// flush left, exactly as after a crash.
    pub fn reopen(&self) -> Result<()> {
        let mut db = self.db.write().expect("not poisoned");
        drop(db.take());
        *db = Some(Store::open_db(&self.path, self.cache_bytes)?);
        Ok(())
    }

    fn db(&self) -> Result<DbGuard<'_>> {
        let guard = self.db.read().expect("not poisoned");
        if guard.is_none() {
            return Err(Error::io(
                &self.path,
                "use",
                std::io::Error::other("the store could not be opened again after an I/O error"),
            ));
        }
        Ok(DbGuard(guard))
    }

    fn err(&self, action: &'static str, e: sled::Error) -> Error {
        sled_error(&self.path, action, e)
    }

    pub fn next_id(&self) -> Result<u64> {
        self.db()?
            .generate_id()
            .map_err(|e| self.err("make a job id in", e))
    }

    /// Writes a job record (not yet durable: see [`Store::flush`]).
    pub fn put_job(&self, job: &JobV1) -> Result<()> {
        let bytes = encode(&JobRecord::V1(job.clone())).map_err(Error::config)?;
        self.db()?
            .insert(job_key(job.id), bytes)
            .map_err(|e| self.err("write a job to", e))?;
        Ok(())
    }

    /// Writes a job record and its changed contigs as one atomic batch, and flushes.
    pub fn checkpoint(&self, job: &JobV1, contigs: &[(u32, Vec<u8>, u64)]) -> Result<()> {
        let mut batch = sled::Batch::default();
        for (id, name, bytes) in contigs {
            let record = ContigRecord::V1(ContigV1 {
                name: name.clone(),
                bytes: *bytes,
            });
            batch.insert(
                &contig_key(job.id, *id)[..],
                encode(&record).map_err(Error::config)?,
            );
        }
        let record = encode(&JobRecord::V1(job.clone())).map_err(Error::config)?;
        batch.insert(&job_key(job.id)[..], record);
        self.db()?
            .apply_batch(batch)
            .map_err(|e| self.err("write a checkpoint to", e))?;
        crate::failpoints::hit("checkpoint.recorded");
        self.flush()
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<()> {
        self.db()?.flush().map_err(|e| self.err("flush", e))?;
        Ok(())
    }

    /// Every job, oldest first, and the records that did not decode.
    pub fn jobs(&self) -> Result<(Vec<JobV1>, Vec<Damaged>)> {
        let mut jobs = Vec::new();
        let mut damaged = Vec::new();
        for item in self.db()?.scan_prefix(b"j") {
            let (k, v) = item.map_err(|e| self.err("read jobs from", e))?;
            match decode::<JobRecord>(&v) {
                Ok(r) => jobs.push(r.into_current()),
                Err(why) => damaged.push(Damaged {
                    key: k.to_vec(),
                    why,
                }),
            }
        }
        jobs.sort_by_key(|j| (j.queued_at, j.id));
        Ok((jobs, damaged))
    }

    /// The first `count` contigs of a job, in id order, or None if any is missing or
    /// damaged (the checkpoint cannot be used then).
    pub fn contigs(&self, job: u64, count: u32) -> Result<Option<Vec<ContigBytes>>> {
        let mut out = Vec::with_capacity(count as usize);
        for id in 0..count {
            let Some(v) = self
                .db()?
                .get(contig_key(job, id))
                .map_err(|e| self.err("read contigs from", e))?
            else {
                return Ok(None);
            };
            match decode::<ContigRecord>(&v) {
                Ok(c) => {
                    let c = c.into_current();
                    out.push((c.name, c.bytes));
                }
                Err(_) => return Ok(None),
            }
        }
        Ok(Some(out))
    }

    /// Removes a job's contig records (not yet durable).
    pub fn remove_contigs(&self, job: u64) -> Result<()> {
        let mut prefix = vec![b'c'];
        prefix.extend_from_slice(&job.to_be_bytes());
        let mut batch = sled::Batch::default();
        for item in self.db()?.scan_prefix(&prefix).keys() {
            batch.remove(item.map_err(|e| self.err("read contigs from", e))?);
        }
        self.db()?
            .apply_batch(batch)
            .map_err(|e| self.err("remove contigs from", e))
    }

    /// Removes a job and its contigs (not yet durable).
    pub fn remove_job(&self, job: u64) -> Result<()> {
        self.remove_contigs(job)?;
        self.db()?
            .remove(job_key(job))
            .map_err(|e| self.err("remove a job from", e))?;
        Ok(())
    }

    /// Removes a damaged record by key.
    pub fn remove_key(&self, key: &[u8]) -> Result<()> {
        self.db()?
            .remove(key)
            .map_err(|e| self.err("remove a damaged record from", e))?;
        Ok(())
    }
}

/// A read lock on an open store.
struct DbGuard<'a>(RwLockReadGuard<'a, Option<sled::Db>>);

impl std::ops::Deref for DbGuard<'_> {
    type Target = sled::Db;
    fn deref(&self) -> &sled::Db {
        self.0.as_ref().expect("checked when the guard was made")
    }
}

fn sled_error(path: &Path, action: &'static str, e: sled::Error) -> Error {
    let io = match e {
        sled::Error::Io(io) => io,
        other => std::io::Error::other(other.to_string()),
    };
    Error::io(path, action, io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::records::{CheckpointV1, FileIdentity, JobState};

    fn job(id: u64, queued_at: u64) -> JobV1 {
        JobV1 {
            id,
            input: format!("m{id}.txt"),
            identity: FileIdentity {
                size: 1,
                mtime_ns: 2,
                dev: 3,
                ino: 4,
            },
            state: JobState::Queued,
            queued_at,
            checkpoint: None,
            resumed_at_byte: None,
        }
    }

    #[test]
    fn jobs_come_back_oldest_first_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path(), 1 << 20).unwrap();
            s.put_job(&job(2, 20)).unwrap();
            s.put_job(&job(1, 30)).unwrap();
            let mut j = job(3, 10);
            j.state = JobState::Running;
            j.checkpoint = Some(CheckpointV1 {
                input_bytes: 10,
                source_bytes: 10,
                lines: 1,
                rows_in: 1,
                rows_out: 0,
                spool_len: 5,
                contigs: 2,
                current: Some(1),
                contiguous: true,
                converted: false,
            });
            s.checkpoint(&j, &[(0, b"a".to_vec(), 3), (1, b"b".to_vec(), 0)])
                .unwrap();
            s.checkpoint(&j, &[(1, b"b".to_vec(), 9)]).unwrap();
        }
        let s = Store::open(dir.path(), 1 << 20).unwrap();
        let (jobs, damaged) = s.jobs().unwrap();
        assert!(damaged.is_empty());
        assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), [3, 2, 1]);
        assert_eq!(
            s.contigs(3, 2).unwrap().unwrap(),
            [(b"a".to_vec(), 3), (b"b".to_vec(), 9)]
        );
        assert_eq!(
            s.contigs(3, 3).unwrap(),
            None,
            "a missing contig voids the checkpoint"
        );
        s.remove_job(3).unwrap();
        assert_eq!(s.contigs(3, 1).unwrap(), None);
        assert_eq!(s.jobs().unwrap().0.len(), 2);
    }

    fn files_size(dir: &Path) -> u64 {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_file())
            .map(|e| e.metadata().unwrap().len())
            .sum()
    }

    /// Thousands of job lifecycles (queued, running, four checkpoints, done, then pruned):
    /// sled's log grows at first, then its segment cleaner holds it flat (measured: about
    /// 2.6 MB from 2,000 lifecycles on).
    #[test]
    fn the_store_stops_growing_when_finished_jobs_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), 1 << 20).unwrap();
        let mut sizes = Vec::new();
        for i in 0..3000u64 {
            let mut j = job(i, i);
            s.put_job(&j).unwrap();
            s.flush().unwrap();
            j.state = JobState::Running;
            for c in 0..4u32 {
                j.checkpoint = Some(CheckpointV1 {
                    input_bytes: c as u64,
                    source_bytes: 0,
                    lines: 0,
                    rows_in: 0,
                    rows_out: 0,
                    spool_len: 0,
                    contigs: c + 1,
                    current: Some(c),
                    contiguous: true,
                    converted: false,
                });
                s.checkpoint(&j, &[(c, b"chr1".to_vec(), 100)]).unwrap();
            }
            j.state = JobState::Done { output: "x".into() };
            s.put_job(&j).unwrap();
            s.flush().unwrap();
            if i >= 20 {
                s.remove_job(i - 20).unwrap();
                s.flush().unwrap();
            }
            if i % 500 == 499 {
                sizes.push(files_size(dir.path()));
            }
        }
        let (early, late) = (sizes[3], *sizes.last().unwrap());
        assert!(late <= early, "the store keeps growing: {sizes:?}");
        assert!(late < 8 << 20, "{sizes:?}");
        assert_eq!(s.jobs().unwrap().0.len(), 20);
    }

    /// Regression: reopening right after dropping a handle failed now and then on sled's
    /// lock, which outlives the handle for a moment.
    #[test]
    fn regression_reopen_right_after_drop() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), 1 << 20).unwrap();
        for i in 0..20 {
            s.put_job(&job(i, i)).unwrap();
            s.flush().unwrap();
            s.reopen().unwrap();
        }
        assert_eq!(s.jobs().unwrap().0.len(), 20);
        drop(s);
        for _ in 0..10 {
            let s = Store::open(dir.path(), 1 << 20).unwrap();
            s.flush().unwrap();
        }
    }

    #[test]
    fn a_second_open_of_the_same_store_fails() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path(), 1 << 20).unwrap();
        assert!(Store::open(dir.path(), 1 << 20).is_err());
    }
}
