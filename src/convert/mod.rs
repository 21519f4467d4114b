//! The conversion itself: pure functions from bytes of whole lines to bytes of output rows,
//! the rows of the reference script (`matrix_to_haplotype.py`) or VCF records. No files, no
//! threads; the pipeline feeds it chunks.
//!
//! [`convert_chunk`] converts a chunk of whole lines; [`row`] one line to one table row,
//! [`vcf`] one line to one VCF record; [`fast`] the same rows for the common one-letter
//! lines without splitting fields; [`layout`] which columns make which pairs.

pub mod alleles;
pub mod chunk;
pub mod fast;
pub mod layout;
pub mod row;
pub mod vcf;

pub use alleles::Alleles;
pub use chunk::{convert_chunk, ChunkError, ChunkOutput, ChunkStats, ContigRun};
pub use layout::Layout;
pub use row::{RowOutcome, Scratch};
