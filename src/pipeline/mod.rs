//! The streaming pipeline: one reader cuts the input into chunks of whole lines, N workers
//! convert chunks, and the calling thread writes results back in input order.
//!
//! Bounded everywhere by permits: a fixed set of chunk slots (input, output and run buffers,
//! all reserved from the [`Budget`]) circulates reader -> worker -> writer -> reader. The
//! reader cannot start a chunk without a free slot, so the chunks in flight, the reorder
//! window included, never exceed the slot count, however slow one chunk is.

mod errors;
pub mod observer;
pub mod plan;
mod reader;
mod run;
mod slot;
mod worker;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use crate::config::{OutputSettings, PairSpec};
use crate::convert::Alleles;
use crate::error::Result;
use crate::read::Input;
use crate::write::{Output, TempOutput};
pub use observer::{Observer, Silent};
pub use plan::Plan;
pub use run::run;

/// One conversion for the command line: which input, which output, which pairs, under
/// which limit.
#[derive(Debug, Clone)]
pub struct Job {
    pub input: Input,
    pub output: Output,
    /// Format and compression of the output.
    pub output_settings: OutputSettings,
    pub pairs: Vec<PairSpec>,
    /// Column names for an input without a header line.
    pub header_file: Option<PathBuf>,
    /// Ceiling on the process's peak resident memory, in bytes.
    pub memory_limit: u64,
    /// Worker threads (at least 1).
    pub workers: usize,
    /// How alleles are read (missing characters, upper-casing).
    pub alleles: Alleles,
}

/// What a finished conversion did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    pub lines: u64,
    pub rows_in: u64,
    pub rows_out: u64,
    pub contigs: usize,
    pub input_bytes: u64,
    pub source_bytes: u64,
    pub output_bytes: u64,
    /// Contigs were interleaved in the input and the output had to be regrouped.
    pub regrouped: bool,
    /// Lines equal to the header line, skipped (matrices joined with `cat`). Counted from
    /// where this run started (a resumed job counts only what it read).
    pub repeated_headers: u64,
    pub seconds: f64,
}

/// Where a conversion is: after the last chunk written, everything before `input_bytes`
/// is converted and in the writer's spool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// Bytes read from the file or stdin (compressed bytes for gzip).
    pub source_bytes: u64,
    /// Bytes of (decompressed) input converted: a line boundary.
    pub input_bytes: u64,
    pub lines: u64,
    pub rows_in: u64,
    pub rows_out: u64,
    pub contigs: usize,
    /// The input moved on to another contig in this chunk.
    pub left_contig: bool,
    /// The whole input is converted.
    pub finished: bool,
}

/// What a conversion reads, and how it reads it.
#[derive(Debug, Clone, Copy)]
pub struct Conversion<'a> {
    pub input: &'a Input,
    pub pairs: &'a [PairSpec],
    pub header_file: Option<&'a Path>,
    pub alleles: &'a Alleles,
    pub plan: Plan,
    /// Format and compression of the output.
    pub output: &'a OutputSettings,
}

/// Where a conversion starts.
pub enum Start {
    /// From the beginning of the input, into this empty spool.
    Fresh(TempOutput),
    /// From a checkpoint.
    Resume(Checkpoint),
}

/// Everything a conversion needs to carry on where a checkpoint left it.
pub struct Checkpoint {
    /// The spool, cut back to `position`'s bytes ([`TempOutput::at`]).
    pub spool: TempOutput,
    pub spool_len: u64,
    pub position: Position,
    /// Contig names in first-appearance order, with their output bytes.
    pub contigs: Vec<(Vec<u8>, u64)>,
    pub current: Option<u32>,
    pub contiguous: bool,
}

/// Converts `job.input` into `job.output`, publishing it only when the whole input is
/// converted. `stop` is polled between chunks; when it is set, the conversion ends with
/// [`crate::ErrorKind::Stopped`] and publishes nothing.
pub fn convert(job: &Job, observer: &mut dyn Observer, stop: &AtomicBool) -> Result<Summary> {
    let plan = Plan::for_output(
        job.memory_limit,
        job.workers,
        job.output_settings.bgzf_level,
    )?;
    convert_with_plan(job, &plan, observer, stop)
}

/// [`convert`] with buffer sizes chosen by the caller rather than derived from
/// `job.memory_limit` (which this ignores).
pub fn convert_with_plan(
    job: &Job,
    plan: &Plan,
    observer: &mut dyn Observer,
    stop: &AtomicBool,
) -> Result<Summary> {
    let conversion = Conversion {
        input: &job.input,
        pairs: &job.pairs,
        header_file: job.header_file.as_deref(),
        alleles: &job.alleles,
        plan: *plan,
        output: &job.output_settings,
    };
    let spool = TempOutput::create(&job.output)?;
    let (output, summary) = run(&conversion, Start::Fresh(spool), observer, stop, || {
        TempOutput::create(&job.output)
    })?;
    output.publish()?;
    Ok(summary)
}
