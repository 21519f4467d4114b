//! Retention: the records and contig journals of the newest `[daemon] keep_jobs` finished
//! jobs are kept (for `hapflow status`), older ones forgotten, so the store stays bounded.

use std::collections::HashSet;
use std::path::Path;

use crate::daemon::state::journal;
use crate::daemon::state::records::Job;
use crate::daemon::state::store::Store;
use crate::daemon::status::SharedBoard;
use crate::error::Result;

/// Forgets the oldest finished jobs beyond the newest `keep` (records, contigs, status).
pub(crate) fn prune(store: &Store, state: &Path, board: &SharedBoard, keep: usize) -> Result<()> {
    let (jobs, _) = store.jobs()?;
    let finished: Vec<&Job> = jobs.iter().filter(|j| !j.is_active()).collect();
    let excess = finished.len().saturating_sub(keep);
    if excess == 0 {
        return Ok(());
    }
    for job in &finished[..excess] {
        store.remove_job(job.id)?;
        board.with(|b| b.remove(job.id));
    }
    store.flush()?;
    let pruned: HashSet<u64> = finished[..excess].iter().map(|j| j.id).collect();
    journal::remove_where(state, |job| pruned.contains(&job))?;
    tracing::info!(jobs = excess, keep, "pruned finished jobs");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::state::records::JobState;
    use crate::daemon::status::JobStatus;

    fn job(id: u64, state: JobState) -> Job {
        Job {
            state,
            queued_at: id,
            ..Job::queued_for_test(id, format!("m{id}.txt"))
        }
    }

    #[test]
    fn only_the_newest_finished_jobs_are_kept_and_active_ones_never_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), 1 << 20).unwrap();
        let board = SharedBoard::default();
        let done = |n: u64| JobState::Done {
            output: format!("m{n}.haplotype.txt"),
        };
        let jobs = [
            job(0, done(0)),
            job(1, JobState::Queued),
            job(2, JobState::Failed { error: "x".into() }),
            job(3, done(3)),
            job(4, done(4)),
        ];
        for j in &jobs {
            store.put_job(j).unwrap();
            board.with(|b| b.insert(JobStatus::of(j, Vec::new())));
        }
        let journal = journal::path(dir.path(), 0, 0);
        std::fs::create_dir_all(journal.parent().unwrap()).unwrap();
        std::fs::write(&journal, journal::MAGIC).unwrap();

        prune(&store, dir.path(), &board, 2).unwrap();
        let kept: Vec<u64> = store.jobs().unwrap().0.iter().map(|j| j.id).collect();
        assert_eq!(
            kept,
            [1, 3, 4],
            "the queued job and the two newest finished"
        );
        let shown: Vec<u64> = board.with(|b| b.jobs().map(|j| j.id).collect());
        assert_eq!(shown, [1, 3, 4]);
        assert!(!journal.exists(), "a pruned job's journal goes with it");

        prune(&store, dir.path(), &board, 2).unwrap();
        assert_eq!(store.jobs().unwrap().0.len(), 3, "nothing more to prune");
    }
}
