//! The conversion itself (README, "What the conversion does"): pure functions from bytes
//! of whole lines to bytes of output rows. No files, no threads; the pipeline feeds it chunks.

pub mod alleles;
pub mod chunk;
pub mod fast;
pub mod layout;
pub mod row;
pub mod vcf;

pub use alleles::Alleles;
pub use chunk::{convert_chunk, ChunkError, ChunkOutput, ChunkStats, Run};
pub use layout::Layout;
pub use row::{convert_line, LineError, RowOutcome, Scratch};
