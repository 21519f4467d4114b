//! Quarantine: a bad input goes to `failed/` with a report beside it, in an order that
//! lets the reason outlive any crash; an input its folder will not let go stays in the
//! inbox, held until it changes.

use std::path::Path;

use crate::daemon::inbox::files;
use crate::daemon::inbox::watch::{look, Entry};
use crate::daemon::inbox::work_files::WorkFiles;
use crate::daemon::job::blame::{blame, Blame};
use crate::daemon::job::Runner;
use crate::daemon::state::journal;
use crate::daemon::state::records::{FileIdentity, Job, JobState};
use crate::daemon::status::JobPhase;
use crate::error::{Error, ErrorKind, Result};
use crate::failpoints::hit as failpoint;

/// Moves a bad input to `failed/` with a report beside it, and records the failure. Returns
/// the input's name and identity if it could not be moved and stays in the inbox.
pub fn fail(r: &Runner, job: &mut Job, error: &str) -> Result<Option<(String, FileIdentity)>> {
    let name = std::ffi::OsString::from(&job.input);
    fail_entry(r, job, &name, error)
}

/// [`fail`] for the inbox entry `name` (which may not be valid UTF-8).
///
/// The order makes the reason outlive any crash: the report is durable in `failed/` first
/// (under the name the input will take there), then the job is recorded as failed, and
/// only then does the input leave the inbox. A crash before the record runs the job again
/// (it fails again, writing the same report); a crash after it finishes the move at the
/// next start. An input that cannot be moved (its folder refuses) stays in the inbox, its
/// reason in the status and the log, and is tried again only when it changes.
pub fn fail_entry(
    r: &Runner,
    job: &mut Job,
    name: &std::ffi::OsStr,
    error: &str,
) -> Result<Option<(String, FileIdentity)>> {
    let path = r.folders.inbox.join(name);
    let there = std::fs::symlink_metadata(&path).is_ok();
    if !there {
        // Vanished: nothing to move, and no report without its file; the status says why.
        return record_failure(r, job, error).map(|()| None);
    }
    let target = files::free_name(&r.folders.failed, name);
    let moved_name = target.file_name().unwrap_or(name).to_os_string();
    let report_path = r.folders.failed.join(files::report_name(&moved_name));
    let input = job.input.clone();
    let report = move |note: &str| {
        format!(
            "file: {input}\nerror: {error}\ntime: {}\n{note}",
            humantime::format_rfc3339_seconds(std::time::SystemTime::now()),
        )
    };
    files::write_atomically(&report_path, report("").as_bytes())?;
    failpoint("fail.reported");

    // A start-up finishing a failing that a crash cut short has it recorded already.
    if !matches!(job.state, JobState::Failed { .. }) {
        record(r, job, error)?;
    }
    finish_failing(r, job, error, &path, &target, &report_path, report)
}

/// Records a job as failed (durably), forgetting its checkpoint and work files.
fn record(r: &Runner, job: &mut Job, error: &str) -> Result<()> {
    WorkFiles::of(&r.folders.outbox, job).remove()?;
    job.state = JobState::Failed {
        error: error.to_string(),
    };
    job.checkpoint = None;
    r.store.put_job(job)?;
    r.store.flush()?;
    journal::remove_job(&r.folders.state, job.id)?;
    failpoint("fail.recorded");
    Ok(())
}

/// [`record`], then the log line and the status.
fn record_failure(r: &Runner, job: &mut Job, error: &str) -> Result<()> {
    record(r, job, error)?;
    show_failure(r, job, error.to_string());
    Ok(())
}

fn show_failure(r: &Runner, job: &Job, shown: String) {
    tracing::error!(job = job.id, input = %job.input, "failed: {shown}");
    r.board.with(|b| {
        b.update(job.id, |b| {
            b.state = JobPhase::Failed;
            b.error = Some(shown);
        })
    });
}

/// The last step of failing: the input leaves the inbox for `target`, or, if its folder
/// refuses, stays (said in its report, the status and the log).
fn finish_failing(
    r: &Runner,
    job: &Job,
    error: &str,
    path: &Path,
    target: &Path,
    report_path: &Path,
    report: impl Fn(&str) -> String,
) -> Result<Option<(String, FileIdentity)>> {
    let mut shown = error.to_string();
    let mut stayed = None;
    if let Err(e) = files::move_to(path, target) {
        if blame(&e, path) == Blame::Machine && !is_refusal(&e) {
            return Err(e);
        }
        let note = format!("it stays in the inbox: it cannot be moved to failed/ ({e})");
        files::write_atomically(report_path, report(&format!("note: {note}\n")).as_bytes())?;
        shown = format!("{error} ({note}; tried again when it changes)");
        if let Entry::File(id) = look(path) {
            stayed = Some((job.input.clone(), id));
        }
    }
    show_failure(r, job, shown);
    Ok(stayed)
}

/// A move the file system refuses for this file (permission, a protected folder), not a
/// failure of the machine.
fn is_refusal(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Io { source, .. }
        if matches!(source.raw_os_error(), Some(libc::EACCES | libc::EPERM | libc::EBUSY)))
}
