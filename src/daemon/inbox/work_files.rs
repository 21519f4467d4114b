//! The names of a job's hidden work files in the outbox, written and read by the same
//! code: `.<stem>.job<id>.part` (the spool) and `.<stem>.job<id>.grouped.part` (the
//! regrouped output). They live in the outbox so that publishing is a link within one
//! folder; the leading dot and `.part` make every tool (and the workflow) skip them.

use std::path::{Path, PathBuf};

use crate::daemon::inbox::files;
use crate::daemon::state::records::Job;
use crate::error::Result;

const SUFFIX: &str = ".part";
const GROUPED: &str = ".grouped";
const JOB: &str = "job";

/// The two work files of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkFiles {
    /// The spool: the output as converted, contigs in input order.
    pub spool: PathBuf,
    /// The output regrouped by contig (only for inputs whose contigs were interleaved).
    pub grouped: PathBuf,
}

impl WorkFiles {
    /// The work files of `job` in `outbox`.
    pub fn of(outbox: &Path, job: &Job) -> WorkFiles {
        let base = format!(".{}.{JOB}{}", files::output_stem(&job.input), job.id);
        WorkFiles {
            spool: outbox.join(format!("{base}{SUFFIX}")),
            grouped: outbox.join(format!("{base}{GROUPED}{SUFFIX}")),
        }
    }

    /// Removes both, if they are there.
    pub fn remove(&self) -> Result<()> {
        files::remove_if_there(&self.spool)?;
        files::remove_if_there(&self.grouped)
    }
}

/// The job a file name in the outbox is a work file of, if it is one.
pub fn job_of(name: &str) -> Option<u64> {
    let rest = name.strip_prefix('.')?.strip_suffix(SUFFIX)?;
    let rest = rest.strip_suffix(GROUPED).unwrap_or(rest);
    let (_stem, job) = rest.rsplit_once('.')?;
    job.strip_prefix(JOB)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_written_are_the_names_read_back() {
        let outbox = Path::new("/o");
        for (id, input) in [
            (7, "m.txt"),
            (12, "x.job5.txt.gz"),
            (0, "plain"),
            (3, "a b.txt"),
        ] {
            let w = WorkFiles::of(outbox, &Job::queued_for_test(id, input));
            for p in [&w.spool, &w.grouped] {
                assert_eq!(p.parent(), Some(outbox));
                let name = p.file_name().unwrap().to_str().unwrap();
                assert_eq!(job_of(name), Some(id), "{name}");
            }
        }
        let w = WorkFiles::of(outbox, &Job::queued_for_test(7, "m.txt"));
        assert_eq!(w.spool, Path::new("/o/.m.job7.part"));
        assert_eq!(w.grouped, Path::new("/o/.m.job7.grouped.part"));
    }

    #[test]
    fn other_names_are_not_work_files() {
        for name in [
            "m.haplotype.txt",
            ".m.job7",
            "m.job7.part",
            ".m.jobx.part",
            ".status.json.tmp",
            ".part",
        ] {
            assert_eq!(job_of(name), None, "{name}");
        }
    }
}
