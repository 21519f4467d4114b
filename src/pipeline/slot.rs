//! The chunk slots that circulate reader -> worker -> writer -> reader: each holds a chunk's
//! input, output and contig-run buffers, reserved from the [`Budget`] once for the whole run.

use crate::budget::{Budget, Grant};
use crate::convert::{ChunkStats, ContigRun};
use crate::error::Result;

use super::errors::Failure;
use super::plan::Plan;

/// A chunk's buffers, reserved from the budget once and reused for the whole run.
pub(super) struct Slot {
    pub(super) input: Vec<u8>,
    pub(super) out: Vec<u8>,
    /// `out` compressed as BGZF blocks, when the output is compressed.
    pub(super) packed: Vec<u8>,
    pub(super) runs: Vec<ContigRun>,
    _grant: Grant,
}

impl Slot {
    /// A slot for the pipeline: input, output and runs.
    pub(super) fn new(plan: &Plan, budget: &Budget) -> Result<Slot> {
        Ok(Slot {
            _grant: budget.reserve(plan.slot_bytes(), "a chunk buffer")?,
            input: vec![0u8; plan.chunk],
            out: Vec::with_capacity(plan.out_cap),
            packed: Vec::with_capacity(plan.packed_cap),
            runs: Vec::with_capacity(plan.runs_cap),
        })
    }

    /// The writer's spare: output and runs only, for the rest of a chunk whose rows did not
    /// fit its own output buffer, and to regroup contigs.
    pub(super) fn spare(plan: &Plan, budget: &Budget) -> Result<Slot> {
        Ok(Slot {
            _grant: budget.reserve(plan.slot_bytes() - plan.chunk, "the writer's spare buffer")?,
            input: Vec::new(),
            out: Vec::with_capacity(plan.out_cap),
            packed: Vec::with_capacity(plan.packed_cap),
            runs: Vec::with_capacity(plan.runs_cap),
        })
    }
}

/// A chunk on its way through the pipeline, in input order by `seq`.
pub(super) struct Chunk {
    pub(super) seq: u64,
    pub(super) slot: Slot,
    pub(super) len: usize,
    /// Offset of the chunk's first byte in the (decompressed) input.
    pub(super) start_byte: u64,
    /// Set by the reader when this is where reading failed, else the worker's result.
    pub(super) outcome: Option<Result<ChunkStats, Failure>>,
}
