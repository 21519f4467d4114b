//! Reading: open the input, recognise gzip, find the column names, and cut the byte stream
//! into chunks of whole lines.

pub mod chunker;
pub mod header;
pub mod source;
pub mod start;

pub use chunker::{Chunker, Cut};
pub use source::{Input, Source};
