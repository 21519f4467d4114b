//! Writing: rows arrive in input order; they leave grouped by contig (first-appearance
//! order), in a temporary file that becomes the output only when the input is done.

pub mod assemble;
pub mod contigs;
pub mod output;

use std::sync::atomic::AtomicBool;

use crate::budget::Grant;
use crate::convert::Run;
use crate::error::{Error, Result};
pub use contigs::ContigTable;
pub use output::{Output, TempOutput};

/// Takes converted chunks in input order and produces the grouped output.
pub struct GroupedWriter {
    spool: TempOutput,
    header_len: u64,
    rows_bytes: u64,
    contigs: ContigTable,
}

/// Why a chunk could not be written.
#[derive(Debug)]
pub enum WriteError {
    /// A new contig did not fit the memory set aside for contig names.
    TooManyContigs(String),
    Io(Error),
}

/// How the output came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub bytes: u64,
    pub contigs: usize,
    /// The contigs were interleaved in the input and had to be regrouped.
    pub regrouped: bool,
}

impl GroupedWriter {
    /// Starts the output in `spool` with its header line. `contigs` bounds the contig
    /// table's memory.
    pub fn create(mut spool: TempOutput, header: &[u8], contigs: Grant) -> Result<GroupedWriter> {
        spool.write_all(header)?;
        Ok(GroupedWriter {
            spool,
            header_len: header.len() as u64,
            rows_bytes: 0,
            contigs: ContigTable::new(contigs),
        })
    }

    /// Carries on an output from a checkpoint: `spool` holds exactly the header and the rows
    /// the checkpoint counted, `contigs` their table.
    pub fn resume(
        spool: TempOutput,
        header: &[u8],
        contigs: ContigTable,
        spool_len: u64,
    ) -> GroupedWriter {
        let header_len = header.len() as u64;
        GroupedWriter {
            spool,
            header_len,
            rows_bytes: spool_len - header_len,
            contigs,
        }
    }

    /// Appends a converted chunk: `out` holds its rows, `runs` its contig stretches, whose
    /// names are ranges of `input`. Returns true if the input moved on to another contig.
    pub fn write_chunk(
        &mut self,
        input: &[u8],
        out: &[u8],
        runs: &[Run],
    ) -> Result<bool, WriteError> {
        self.spool.write_all(out).map_err(WriteError::Io)?;
        self.rows_bytes += out.len() as u64;
        let mut left = false;
        for (i, run) in runs.iter().enumerate() {
            let end = runs.get(i + 1).map_or(out.len(), |r| r.out_start as usize);
            let name = &input[run.contig.0 as usize..run.contig.1 as usize];
            let seen = self
                .contigs
                .observe(name, (end - run.out_start as usize) as u64)
                .map_err(WriteError::TooManyContigs)?;
            left |= seen.left.is_some();
        }
        Ok(left)
    }

    pub fn contigs(&self) -> &ContigTable {
        &self.contigs
    }

    pub fn contigs_mut(&mut self) -> &mut ContigTable {
        &mut self.contigs
    }

    /// Bytes in the spool: the header and every row written so far.
    pub fn spool_len(&self) -> u64 {
        self.header_len + self.rows_bytes
    }

    /// Makes the spool durable up to [`GroupedWriter::spool_len`].
    pub fn sync(&self) -> Result<()> {
        self.spool.sync()
    }

    /// Finishes the output, unpublished: the spool itself when the contigs came in one
    /// stretch each, else a regrouped copy made by `grouped()`, using `buf`, whose capacity
    /// (reserved from the budget, at least the longest row) is filled only then. Setting
    /// `stop` abandons the regrouping.
    pub fn finish(
        self,
        buf: &mut Vec<u8>,
        grouped: impl FnOnce() -> Result<TempOutput>,
        stop: &AtomicBool,
    ) -> Result<(TempOutput, Written)> {
        let written = Written {
            bytes: self.spool_len(),
            contigs: self.contigs.len(),
            regrouped: !self.contigs.contiguous(),
        };
        if self.contigs.contiguous() {
            return Ok((self.spool, written));
        }
        let out = grouped()?;
        buf.clear();
        buf.resize(buf.capacity(), 0);
        assemble::regroup(
            self.spool.file(),
            out.file(),
            self.header_len,
            &self.contigs,
            buf,
            stop,
        )
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::Interrupted => Error::stopped(),
            _ => Error::io(out.path(), "regroup contigs into", e),
        })?;
        Ok((out, written))
    }
}
