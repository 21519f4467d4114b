//! The streaming pipeline: one reader cuts the input into chunks of whole lines, N workers
//! convert chunks, and the calling thread writes results back in input order.
//!
//! Bounded everywhere by permits: a fixed set of chunk slots (input, output and run buffers,
//! all reserved from the [`Budget`](crate::budget::Budget)) circulates reader -> worker ->
//! writer -> reader. The reader cannot start a chunk without a free slot, so the chunks in
//! flight, the reorder window included, never exceed the slot count, however slow one chunk
//! is.
//!
//! One file per part: [`Request`] (what to convert, `request.rs`), [`Plan`] (how the memory
//! limit is divided, `plan.rs`), `run.rs` (the wiring), the thread roles `reader.rs`,
//! `worker.rs` and `writer.rs` (with the reorder window), `slot.rs` (the buffers that
//! circulate), `errors.rs` (a failure in a thread, as the conversion's error), and
//! [`Observer`] (what the caller hears, with a [`CheckpointHandle`], `observer.rs`).

mod errors;
pub mod observer;
pub mod plan;
mod reader;
mod request;
mod run;
mod slot;
mod worker;
mod writer;

use crate::write::{ContigBytes, TempOutput};
pub use observer::{CheckpointHandle, CheckpointState, Observer, Silent};
pub use plan::Plan;
pub use request::Request;

/// What a finished conversion did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    /// Lines read, the header line and blank lines included.
    pub lines: u64,
    /// Data lines (sites) read.
    pub rows_in: u64,
    /// Rows written: sites with an ALT (the others are dropped).
    pub rows_out: u64,
    /// Contigs in the output.
    pub contigs: usize,
    /// Bytes of (decompressed) input converted.
    pub input_bytes: u64,
    /// Bytes read from the file or stream (compressed bytes for compressed input).
    pub source_bytes: u64,
    /// Bytes of the finished output.
    pub output_bytes: u64,
    /// Contigs were interleaved in the input and the output had to be regrouped.
    pub regrouped: bool,
    /// The output was copied once the input was converted, rather than the spool becoming
    /// the output as it was: its contigs were regrouped, or a VCF's header could not be
    /// written first (a compressed input or a stream, whose contigs cannot be guessed
    /// before it is read, or a guess the conversion proved wrong).
    pub copied: bool,
    /// Lines equal to the header line, skipped (matrices joined with `cat`). Counted from
    /// where this run started (a resumed job counts only what it read).
    pub repeated_headers: u64,
    /// Wall time of the run, in seconds.
    pub seconds: f64,
}

/// Where a conversion is: after the last chunk written, everything before `input_bytes`
/// is converted and in the writer's spool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bytes read from the file or stdin (compressed bytes for gzip).
    pub source_bytes: u64,
    /// Bytes of (decompressed) input converted: a line boundary.
    pub input_bytes: u64,
    /// Lines converted, the header line and blank lines included.
    pub lines: u64,
    /// Data lines (sites) converted.
    pub rows_in: u64,
    /// Rows written: sites with an ALT.
    pub rows_out: u64,
    /// Contigs seen.
    pub contigs: usize,
    /// The input moved on to another contig in this chunk.
    pub left_contig: bool,
    /// The whole input is converted.
    pub finished: bool,
}

/// Where a conversion starts.
pub enum StartFrom {
    /// From the beginning of the input, into this empty spool.
    Fresh(TempOutput),
    /// From a checkpoint.
    Resume(Checkpoint),
}

/// Everything a conversion needs to carry on where a checkpoint left it.
pub struct Checkpoint {
    /// The spool, cut back to `progress`'s bytes ([`TempOutput::at`]).
    pub spool: TempOutput,
    /// Bytes of the spool that belong to the checkpoint.
    pub spool_len: u64,
    /// Where the conversion was; it carries on from `progress.input_bytes`.
    pub progress: Progress,
    /// Contig names in first-appearance order, with their output bytes.
    pub contigs: Vec<ContigBytes>,
    /// The contig of the last run of rows written.
    pub current: Option<u32>,
    /// Every contig came in one stretch so far.
    pub contiguous: bool,
}
