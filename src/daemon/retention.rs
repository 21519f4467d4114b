//! Retention: the records and contig journals of the newest `[daemon] keep_jobs` finished
//! jobs are kept (for `hapflow status`), older ones forgotten, so the store stays bounded.

use std::collections::HashSet;
use std::path::Path;

use super::journal;
use super::records::Job;
use super::status::SharedBoard;
use super::store::Store;
use crate::error::Result;

/// Forgets the oldest finished jobs beyond the newest `keep` (records, contigs, status).
pub(super) fn prune(store: &Store, state: &Path, board: &SharedBoard, keep: usize) -> Result<()> {
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
