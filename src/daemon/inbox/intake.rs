//! Intake, the inbox -> job boundary: names the watcher reports settle, settled regular
//! files become queued jobs (recorded in the store first), anything else is refused to
//! `failed/` without being opened.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::sync::Arc;
use std::time::Instant;

use crate::daemon::inbox::watch::{self, Hint, Seen, Settling};
use crate::daemon::job::quarantine;
use crate::daemon::job::Runner;
use crate::daemon::state::records::{FileIdentity, Job, JobState};
use crate::daemon::status::{self, JobStatus};
use crate::error::Result;

/// The inbox -> job boundary: files settling in the inbox, the queue of jobs taken, and
/// the failed inputs held in the inbox.
pub(crate) struct Intake {
    runner: Arc<Runner>,
    /// Files seen in the inbox, until unchanged for the settle time.
    pub(crate) settling: Settling,
    /// Jobs waiting their turn, oldest first.
    pub(crate) queue: VecDeque<Job>,
    /// Failed inputs that stay in the inbox (they could not be moved), as they were when
    /// they failed: not taken again until they change.
    held: HashMap<String, FileIdentity>,
}

impl Intake {
    /// An intake over `runner`'s inbox with the jobs recovery queued.
    pub(crate) fn new(runner: Arc<Runner>, settling: Settling, queue: VecDeque<Job>) -> Intake {
        Intake {
            runner,
            settling,
            queue,
            held: HashMap::new(),
        }
    }

    /// Finishes failing the jobs recovery found failed with their input still in the inbox.
    pub(crate) fn fail_unmoved(&mut self, unmoved: Vec<Job>) {
        for mut job in unmoved {
            let JobState::Failed { error } = job.state.clone() else {
                unreachable!("only failed jobs")
            };
            match quarantine::fail(&self.runner, &mut job, &error) {
                Ok(stayed) => self.hold(stayed),
                Err(e) => tracing::error!(job = job.id, "cannot move a failed input: {e}"),
            }
        }
    }

    /// Holds a failed input that stayed in the inbox, until it changes.
    pub(crate) fn hold(&mut self, stayed: Option<(String, FileIdentity)>) {
        if let Some((name, id)) = stayed {
            self.held.insert(name, id);
        }
    }

    /// Names with an unfinished job: not to be taken again.
    fn taken(&self, name: &OsString) -> bool {
        let name = name.to_string_lossy();
        self.queue.iter().any(|j| j.input == name)
            || (self.runner.board).with(|b| b.jobs_active().any(|j| j.input == name))
    }

    /// An inbox event (or a listing) names `name`: refuse it, or let it settle.
    pub(crate) fn look_at(&mut self, name: &OsString, hint: Hint) {
        if self.taken(name) {
            return;
        }
        if name.to_str().is_none()
            && !watch::is_ignored(name)
            && watch::look(&self.runner.folders.inbox.join(name)) != watch::Entry::Gone
        {
            // Job records keep names as text; such a file could never be found again.
            return self.refuse(name, "a file whose name is not valid UTF-8");
        }
        if let Seen::Refused(what) = self.settling.observe(name, Instant::now(), hint) {
            self.refuse(name, what);
        }
    }

    /// Looks at every name in the inbox.
    pub(crate) fn rescan(&mut self) {
        match watch::list(&self.runner.folders.inbox) {
            Ok(names) => {
                for name in names {
                    self.look_at(&name, Hint::None);
                }
            }
            Err(e) => tracing::error!("cannot list the inbox: {e}"),
        }
    }

    /// Something that is not a regular file: to `failed/`, never opened.
    fn refuse(&mut self, name: &OsString, what: &str) {
        let r = &self.runner;
        let mut job = match new_job(r, name, zero_identity()) {
            Ok(j) => j,
            Err(e) => return tracing::error!("{e}"),
        };
        r.board.with(|b| b.insert(JobStatus::of(&job, Vec::new())));
        match quarantine::fail_entry(r, &mut job, name, &format!("refused: it is {what}")) {
            Ok(stayed) => self.hold(stayed),
            Err(e) => tracing::error!("cannot refuse {}: {e}", name.to_string_lossy()),
        }
        self.settling.forget(name);
    }

    /// Files unchanged for the settle time become jobs.
    pub(crate) fn take_settled(&mut self, now: Instant) -> Result<()> {
        for (name, identity) in self.settling.settled(now) {
            if self.taken(&name) {
                continue;
            }
            let key = name.to_string_lossy();
            if self.held.get(key.as_ref()) == Some(&identity) {
                continue; // failed, could not be moved, unchanged since
            }
            self.held.remove(key.as_ref());
            let job = new_job(&self.runner, &name, identity)?;
            self.runner.store.flush()?;
            tracing::info!(job = job.id, input = %job.input, bytes = identity.size, "queued");
            (self.runner.board).with(|b| b.insert(JobStatus::of(&job, Vec::new())));
            self.queue.push_back(job);
        }
        Ok(())
    }
}

fn zero_identity() -> FileIdentity {
    FileIdentity {
        size: 0,
        mtime_ns: 0,
        dev: 0,
        ino: 0,
    }
}

fn new_job(r: &Runner, name: &OsString, identity: FileIdentity) -> Result<Job> {
    let job = Job {
        id: r.store.next_id()?,
        input: name.to_string_lossy().into_owned(),
        identity,
        state: JobState::Queued,
        queued_at: status::now_ms(),
        checkpoint: None,
        resumed_at_byte: None,
    };
    r.store.put_job(&job)?;
    Ok(job)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::folders::Folders;
    use crate::daemon::state::store::Store;
    use crate::daemon::status::{JobPhase, SharedBoard};
    use crate::daemon::systemd::Systemd;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    fn intake(root: &std::path::Path) -> Intake {
        let folders = Folders {
            inbox: root.join("inbox"),
            outbox: root.join("outbox"),
            failed: root.join("failed"),
            state: root.join("state"),
        };
        for d in folders.all() {
            std::fs::create_dir_all(d).unwrap();
        }
        let runner = Arc::new(Runner {
            store: Arc::new(Store::open(&folders.state.join("db"), 1 << 20).unwrap()),
            board: Arc::new(SharedBoard::default()),
            systemd: Arc::new(Systemd::from_env()),
            stop: Arc::new(AtomicBool::new(false)),
            folders,
        });
        let settling = Settling::new(&runner.folders.inbox, Duration::ZERO);
        Intake::new(runner, settling, VecDeque::new())
    }

    #[test]
    fn a_settled_file_becomes_one_queued_job_and_a_fifo_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let mut intake = intake(root.path());
        let inbox = intake.runner.folders.inbox.clone();
        std::fs::write(inbox.join("m.txt"), "chr1\t1\tA\tA\tA\n").unwrap();
        let fifo = std::ffi::CString::new(inbox.join("pipe.txt").to_str().unwrap()).unwrap();
        // SAFETY: mkfifo only reads the path it is given.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);

        intake.rescan();
        intake.take_settled(Instant::now()).unwrap();
        intake.rescan();
        intake.take_settled(Instant::now()).unwrap();

        let queued: Vec<&str> = intake.queue.iter().map(|j| j.input.as_str()).collect();
        assert_eq!(queued, ["m.txt"], "taken once, though seen twice");
        let (stored, _) = intake.runner.store.jobs().unwrap();
        assert_eq!(stored.len(), 2, "the job and the refusal are recorded");
        let board = intake.runner.board.with(|b| b.snapshot());
        let state_of = |input: &str| board.jobs.iter().find(|j| j.input == input).unwrap().state;
        assert_eq!(state_of("m.txt"), JobPhase::Queued);
        assert_eq!(state_of("pipe.txt"), JobPhase::Failed);
        assert!(
            root.path().join("failed/pipe.txt").exists(),
            "moved, never opened"
        );
        assert!(
            inbox.join("m.txt").exists(),
            "a queued input stays until published"
        );
    }
}
