//! Not part of hapflow's API: internals that the property tests, the fuzz test and the
//! benchmarks drive directly (the chunk parser and converter, the reader and writer, the
//! daemon's record codec, checkpoint and resume). Hidden from the docs, and free to change
//! with any release; another program uses the re-exports at the crate root.

pub use crate::budget::Budget;
pub use crate::config::pairs::DEFAULT_LAYOUT;
pub use crate::convert::{convert_chunk, ChunkOutput, ChunkStats, ContigRun, Layout, Scratch};
pub use crate::daemon::state::records::{decode, encode, ContigRecord, JobRecord};
pub use crate::pipeline::{Checkpoint, CheckpointState, Plan, StartFrom};
pub use crate::read::{Chunker, Cut, Source};
pub use crate::write::{GroupedWriter, TempOutput};

/// BGZF pieces: the deflater a chunk is packed with, the bound on its packed size and the
/// end-of-file block.
pub mod bgzf {
    pub use crate::write::bgzf::{bound, compress_to_vec, Deflater, EOF};
}
