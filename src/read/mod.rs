//! Reading: open the input, recognise its format (plain or compressed), find the column
//! names, and cut the byte stream into chunks of whole lines; and the FASTA index `--fai`
//! names, read before the conversion.

pub mod bisect;
pub mod chunker;
pub mod decode;
pub mod fai;
pub mod format;
pub mod header;
pub mod source;
pub mod start;

pub use chunker::{Chunker, Cut, ReadError};
pub use source::{Input, Source};
