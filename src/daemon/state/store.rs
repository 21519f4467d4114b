//! The checkpoint store: one record per job in sled. A checkpoint's contig table is not
//! here but in the job's contig journal (`journal.rs`): sled keeps every key in memory,
//! and a matrix of 100,000 scaffolds would be 100,000 keys. Writes are durable only after
//! [`Store::flush`]; callers flush after every state change that matters.

use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard};

use crate::daemon::state::records::{decode, encode, Job, JobRecord};
use crate::error::{Error, Result};

/// The job records, in sled; one opener at a time (the daemon, under its lock).
pub struct Store {
    /// None after a failed [`Store::reopen`]: every operation then fails until one works.
    db: RwLock<Option<sled::Db>>,
    path: PathBuf,
    cache_bytes: u64,
    /// The next job id (see [`Store::next_id`]).
    next: std::sync::Mutex<u64>,
}

/// A record that did not decode: its key and why.
#[derive(Debug)]
pub struct Damaged {
    /// The record's key.
    pub key: Vec<u8>,
    /// Why it did not decode.
    pub why: String,
}

fn job_key(id: u64) -> [u8; 9] {
    let mut k = [b'j'; 9];
    k[1..].copy_from_slice(&id.to_be_bytes());
    k
}

/// The key of the next job id.
const NEXT_ID_KEY: &[u8] = b"n";

/// Contig records of hapflow 0.1 were keyed `c`, job id, contig id; they are only removed.
const LEGACY_CONTIG_PREFIX: u8 = b'c';

impl Store {
    /// Opens (or creates) the store in `dir`, with a page cache of `cache_bytes`. sled's
    /// own default cache is 1 GiB: it must be set, and counted in the memory budget.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Store> {
        let db = Store::open_db(dir, cache_bytes)?;
        let stored = db
            .get(NEXT_ID_KEY)
            .map_err(|e| sled_error(dir, "read the next job id in", e))?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map_or(0, u64::from_be_bytes);
        // At least one past the newest job, whatever the counter says (a store of an older
        // hapflow has none).
        let newest = db
            .scan_prefix(b"j")
            .keys()
            .next_back()
            .and_then(|k| k.ok())
            .and_then(|k| <[u8; 8]>::try_from(&k[1..]).ok())
            .map_or(0, |id| u64::from_be_bytes(id) + 1);
        Ok(Store {
            db: RwLock::new(Some(db)),
            path: dir.to_path_buf(),
            cache_bytes,
            next: std::sync::Mutex::new(stored.max(newest)),
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

    /// A new job id: one more than the last, across restarts. The counter is written with
    /// the job (durable at the next flush); sled's own `generate_id` reserves ids in blocks
    /// and jumps by a million after every reopen.
    pub fn next_id(&self) -> Result<u64> {
        let mut next = self.next.lock().expect("not poisoned");
        let id = *next;
        self.db()?
            .insert(NEXT_ID_KEY, &(id + 1).to_be_bytes())
            .map_err(|e| self.err("write the next job id to", e))?;
        *next = id + 1;
        Ok(id)
    }

    /// Writes a job record (not yet durable: see [`Store::flush`]).
    pub fn put_job(&self, job: &Job) -> Result<()> {
        let bytes = encode(&JobRecord::V2(job.clone()))
            .map_err(|e| Error::store(format!("cannot encode job {}: {e}", job.id)))?;
        self.db()?
            .insert(job_key(job.id), bytes)
            .map_err(|e| self.err("write a job to", e))?;
        Ok(())
    }

    /// Writes a job's checkpoint record and flushes.
    pub fn checkpoint(&self, job: &Job) -> Result<()> {
        self.put_job(job)?;
        crate::failpoints::hit("checkpoint.recorded");
        self.flush()
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<()> {
        self.db()?.flush().map_err(|e| self.err("flush", e))?;
        Ok(())
    }

    /// Every job, oldest first, and the records that did not decode.
    pub fn jobs(&self) -> Result<(Vec<Job>, Vec<Damaged>)> {
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

    /// Removes the contig records hapflow 0.1 kept in the store (not yet durable).
    pub fn remove_legacy_contigs(&self) -> Result<usize> {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for item in self.db()?.scan_prefix([LEGACY_CONTIG_PREFIX]).keys() {
            batch.remove(item.map_err(|e| self.err("read contigs from", e))?);
            n += 1;
        }
        self.db()?
            .apply_batch(batch)
            .map_err(|e| self.err("remove contigs from", e))?;
        Ok(n)
    }

    /// Removes a job (not yet durable).
    pub fn remove_job(&self, job: u64) -> Result<()> {
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
    use crate::daemon::state::records::{CheckpointV2, JobState};

    fn job(id: u64, queued_at: u64) -> Job {
        Job {
            queued_at,
            ..Job::queued_for_test(id, format!("m{id}.txt"))
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
            j.checkpoint = Some(CheckpointV2 {
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
                journal_generation: 0,
                journal_len: 8,
                settings: 1,
            });
            s.checkpoint(&j).unwrap();
            // A contig record as hapflow 0.1 wrote it.
            s.db()
                .unwrap()
                .insert(b"c\0\0\0\0\0\0\0\x03\0\0\0\0", &b"x"[..])
                .unwrap();
            s.flush().unwrap();
        }
        let s = Store::open(dir.path(), 1 << 20).unwrap();
        let (jobs, damaged) = s.jobs().unwrap();
        assert!(damaged.is_empty());
        assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), [3, 2, 1]);
        assert_eq!(jobs[0].checkpoint.unwrap().journal_len, 8);
        assert_eq!(s.remove_legacy_contigs().unwrap(), 1);
        assert_eq!(s.remove_legacy_contigs().unwrap(), 0);
        s.remove_job(3).unwrap();
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
    /// sled's log grows at first, then its segment cleaner holds it flat (measured with job
    /// records alone: about 800 bytes a lifecycle up to 2.6 MB, reached after 3,000
    /// lifecycles, then 2.1 to 2.6 MB up to 8,000).
    #[test]
    fn the_store_stops_growing_when_finished_jobs_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), 1 << 20).unwrap();
        let mut sizes = Vec::new();
        for i in 0..8000u64 {
            let mut j = job(i, i);
            s.put_job(&j).unwrap();
            s.flush().unwrap();
            j.state = JobState::Running;
            for c in 0..4u32 {
                j.checkpoint = Some(CheckpointV2 {
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
                    journal_generation: 0,
                    journal_len: 100 * c as u64,
                    settings: 1,
                });
                s.checkpoint(&j).unwrap();
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
        eprintln!("store bytes every 500 lifecycles: {sizes:?}");
        let (early, late) = (sizes[7], *sizes.last().unwrap());
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

    /// Regression: ids jumped to 1,000,000, then 2,000,000, after a reopen.
    #[test]
    fn job_ids_count_on_across_reopens_and_crashes() {
        let dir = tempfile::tempdir().unwrap();
        let mut ids = Vec::new();
        for _ in 0..3 {
            let s = Store::open(dir.path(), 1 << 20).unwrap();
            ids.push(s.next_id().unwrap());
            ids.push(s.next_id().unwrap());
            s.flush().unwrap();
            s.reopen().unwrap();
            ids.push(s.next_id().unwrap());
            s.flush().unwrap();
        }
        assert_eq!(ids, (0..9).collect::<Vec<u64>>());
        // A store whose counter is behind its jobs (an older hapflow's) counts past them.
        let s = Store::open(dir.path(), 1 << 20).unwrap();
        s.put_job(&job(41, 1)).unwrap();
        s.flush().unwrap();
        drop(s);
        let s = Store::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(s.next_id().unwrap(), 42);
    }

    #[test]
    fn a_second_open_of_the_same_store_fails() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path(), 1 << 20).unwrap();
        assert!(Store::open(dir.path(), 1 << 20).is_err());
    }
}
