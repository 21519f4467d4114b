//! The converting step of a job: checks the input is still the file that was taken,
//! resumes from its checkpoint or starts afresh, runs the pipeline with a
//! [`Checkpointer`] as its observer, and hands the finished work file to publishing.

use std::sync::Mutex;
use std::time::Instant;

use crate::daemon::inbox::files;
use crate::daemon::inbox::watch::{look, Entry};
use crate::daemon::inbox::work_files::WorkFiles;
use crate::daemon::job::checkpoint::{commit_checkpoints, resume_point, Checkpointer};
use crate::daemon::job::publish::publish;
use crate::daemon::job::{drop_job, input_path, Outcome, Runner, Settings};
use crate::daemon::state::journal::{self, Journal};
use crate::daemon::state::records::{Job, JobState};
use crate::daemon::status::JobPhase;
use crate::error::{Error, Result};
use crate::pipeline::{Request, StartFrom};
use crate::read::Input;
use crate::write::TempOutput;

/// Converts the job's input into its work file (resuming from its checkpoint if one
/// applies), then publishes it. A changed or vanished input drops the job.
pub(crate) fn convert(r: &Runner, s: &Settings, job: &mut Job) -> Result<Outcome> {
    let path = input_path(r, job);
    match look(&path) {
        Entry::File(id) if id == job.identity => {}
        Entry::File(_) => return drop_job(r, job, "the input changed after it was taken"),
        _ => return drop_job(r, job, "the input is gone"),
    }
    let WorkFiles {
        spool: spool_path,
        grouped: grouped_path,
    } = WorkFiles::of(&r.folders.outbox, job);
    let (start, journal) = match resume_point(r, s, job, &spool_path)? {
        Some((cp, journal)) => {
            job.resumed_at_byte = Some(cp.progress.input_bytes);
            tracing::info!(job = job.id, input = %job.input, at_byte = cp.progress.input_bytes, "resume");
            job.state = JobState::Running;
            r.store.put_job(job)?;
            r.store.flush()?;
            (StartFrom::Resume(cp), journal)
        }
        None => {
            // The record forgets the checkpoint before its journal goes.
            job.checkpoint = None;
            job.state = JobState::Running;
            r.store.put_job(job)?;
            r.store.flush()?;
            journal::remove_job(&r.folders.state, job.id)?;
            tracing::info!(job = job.id, input = %job.input, bytes = job.identity.size, "start");
            let spool = TempOutput::at(&spool_path, None)?;
            (
                StartFrom::Fresh(spool),
                Journal::fresh(&r.folders.state, job.id)?,
            )
        }
    };
    r.board.with(|b| {
        b.update(job.id, |b| {
            b.state = JobPhase::Running;
            b.resumed_at_byte = job.resumed_at_byte;
            b.error = None;
        })
    });
    r.systemd.status(&format!("converting {}", job.input));

    let request = Request::new(Input::Path(path.clone()))
        .pairs(s.conversion.pairs.clone())
        .header_file(s.conversion.header_file.clone())
        .alleles(s.conversion.alleles.clone())
        .output_settings(s.conversion.output.clone())
        .plan(s.plan);
    let spool = match &start {
        StartFrom::Fresh(t) => t.file(),
        StartFrom::Resume(cp) => cp.spool.file(),
    }
    .try_clone()
    .map_err(|e| Error::io(&spool_path, "open work file", e))?;
    let failed = Mutex::new(None);
    let (output, summary) = std::thread::scope(|scope| {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let (syncer, failed) = (&spool_path, &failed);
        scope.spawn(move || commit_checkpoints(r, &spool, syncer, rx, failed));
        let mut cp = Checkpointer {
            r,
            settings: s.fingerprint,
            journal,
            job: &mut *job,
            last_at: Instant::now(),
            last_bytes: 0,
            commits: tx,
            failed,
        };
        request.run(start, &mut cp, &r.stop, || {
            TempOutput::at(&grouped_path, None)
        })
    })?;

    // A file that changed while it was converted is not published.
    match look(&path) {
        Entry::File(id) if id == job.identity => {}
        _ => return drop_job(r, job, "the input changed while it was converted"),
    }
    output.sync()?;
    let from = output.path();
    let other = if from == spool_path {
        grouped_path
    } else {
        spool_path
    };
    files::remove_if_there(&other)?;
    tracing::info!(
        job = job.id,
        input = %job.input,
        rows_in = summary.rows_in,
        rows_out = summary.rows_out,
        contigs = summary.contigs,
        bytes = summary.input_bytes,
        seconds = format!("{:.2}", summary.seconds),
        mb_per_s = format!("{:.0}", summary.input_bytes as f64 / 1e6 / summary.seconds.max(1e-9)),
        peak_memory_mib = crate::sys::peak_rss().map(|b| b / (1 << 20)),
        "converted"
    );
    let output = files::free_output_name(
        &r.folders.outbox,
        files::output_stem(&job.input),
        s.conversion.output.extension(),
    );
    publish(r, s, job, output, from)
}
