//! hapflow: genome matrices to phased haplotype tables, streaming, in parallel, under a
//! fixed memory ceiling.
//!
//! The pipeline, in the order data flows through it:
//! - [`read`]: open the input (file or stdin, plain or gzip) and cut it into chunks of
//!   whole lines;
//! - [`convert`]: the pure conversion of a chunk of lines into output rows;
//! - [`write`]: put rows into the output grouped by contig, and publish it atomically;
//! - [`pipeline`]: the threads and bounded channels that join the three under one
//!   [`budget::Budget`].

pub mod budget;
pub mod config;
pub mod convert;
pub mod daemon;
pub mod error;
pub mod failpoints;
pub mod generate;
pub mod pipeline;
pub mod read;
pub mod sys;
pub mod write;

pub use error::{Error, ErrorKind, Result};
