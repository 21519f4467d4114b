//! Publishing: the finished work file is linked into the outbox under a name recorded
//! first (so a restart finishes the same link), then the input leaves the inbox.

use std::path::PathBuf;

use crate::config::OnSuccess;
use crate::daemon::inbox::files::{self, Linked};
use crate::daemon::inbox::watch::{look, Entry};
use crate::daemon::job::converting::convert;
use crate::daemon::job::{input_path, Outcome, Runner, Settings};
use crate::daemon::state::records::{Job, JobState};
use crate::daemon::status::JobPhase;
use crate::error::{Error, Result};
use crate::failpoints::hit as failpoint;

/// Links the finished work file `from` into the outbox as `output` (or the next free name),
/// recording the name first so a restart finishes the same link.
pub(crate) fn publish(
    r: &Runner,
    s: &Settings,
    job: &mut Job,
    mut output: String,
    from: PathBuf,
) -> Result<Outcome> {
    loop {
        job.state = JobState::Publishing {
            output: output.clone(),
            from: from.to_string_lossy().into_owned(),
        };
        r.store.put_job(job)?;
        r.store.flush()?;
        failpoint("publish.recorded");
        let to = r.folders.outbox.join(&output);
        if !from.exists() {
            if to.exists() {
                break; // linked, and the work file removed, before a stop
            }
            // The finished work file is gone: convert again from the input.
            tracing::warn!(
                job = job.id,
                "finished work file is missing: converting again"
            );
            job.state = JobState::Queued;
            job.checkpoint = None;
            return convert(r, s, job);
        }
        match files::link_output(&from, &to)? {
            Linked::Done => break,
            Linked::Taken => {
                output = files::free_output_name(
                    &r.folders.outbox,
                    files::output_stem(&job.input),
                    s.conversion.output.extension(),
                )
            }
        }
    }
    files::sync_dir(&r.folders.outbox)?;
    failpoint("publish.linked");
    files::remove_if_there(&from)?;
    files::sync_dir(&r.folders.outbox)?;
    tracing::info!(job = job.id, input = %job.input, output = %output, "published");
    job.state = JobState::Published {
        output: output.clone(),
    };
    r.store.put_job(job)?;
    r.store.flush()?;
    failpoint("publish.done");
    finish(r, s, job, output)
}

/// Takes the input out of the inbox, now that its output is published.
pub(crate) fn finish(r: &Runner, s: &Settings, job: &mut Job, output: String) -> Result<Outcome> {
    let path = input_path(r, job);
    if matches!(look(&path), Entry::File(id) if id == job.identity) {
        match s.on_success {
            OnSuccess::Archive => {
                let archive = r.folders.archive();
                std::fs::create_dir_all(&archive).map_err(|e| Error::io(&archive, "create", e))?;
                let to = files::move_into(&path, &archive)?;
                failpoint("archive.moved");
                tracing::info!(job = job.id, to = %to.display(), "archived input");
            }
            OnSuccess::Delete => {
                files::remove_if_there(&path)?;
                files::sync_dir(&r.folders.inbox)?;
                tracing::info!(job = job.id, "deleted input");
            }
        }
    }
    job.state = JobState::Done {
        output: output.clone(),
    };
    r.store.put_job(job)?;
    r.store.flush()?;
    r.board.with(|b| {
        b.update(job.id, |b| {
            b.state = JobPhase::Done;
            b.output = Some(output);
            b.error = None;
            b.bytes_done = b.bytes_total;
        })
    });
    Ok(Outcome::Done)
}
