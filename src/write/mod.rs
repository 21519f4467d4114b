//! Writing: rows arrive in input order; they leave grouped by contig (first-appearance
//! order), in a temporary file that becomes the output only when the input is done.

pub mod assemble;
pub mod contigs;
pub mod output;

use crate::budget::Grant;
use crate::convert::Run;
use crate::error::{Error, Result};
pub use contigs::ContigTable;
pub use output::{Output, TempOutput};

/// Takes converted chunks in input order and produces the grouped output.
pub struct GroupedWriter {
    spool: TempOutput,
    target: Output,
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
    /// Starts the output with its header line. `contigs` bounds the contig table's memory.
    pub fn create(target: &Output, header: &[u8], contigs: Grant) -> Result<GroupedWriter> {
        let mut spool = TempOutput::create(target)?;
        spool.write_all(header)?;
        Ok(GroupedWriter {
            spool,
            target: target.clone(),
            header_len: header.len() as u64,
            rows_bytes: 0,
            contigs: ContigTable::new(contigs),
        })
    }

    /// Appends a converted chunk: `out` holds its rows, `runs` its contig stretches, whose
    /// names are ranges of `input`. `left` hears of each contig the input moved away from.
    pub fn write_chunk(
        &mut self,
        input: &[u8],
        out: &[u8],
        runs: &[Run],
        mut left: impl FnMut(&[u8]),
    ) -> Result<(), WriteError> {
        self.spool.write_all(out).map_err(WriteError::Io)?;
        self.rows_bytes += out.len() as u64;
        for (i, run) in runs.iter().enumerate() {
            let end = runs.get(i + 1).map_or(out.len(), |r| r.out_start as usize);
            let name = &input[run.contig.0 as usize..run.contig.1 as usize];
            let seen = self
                .contigs
                .observe(name, (end - run.out_start as usize) as u64)
                .map_err(WriteError::TooManyContigs)?;
            if let Some(prev) = seen.left {
                left(self.contigs.name(prev));
            }
        }
        Ok(())
    }

    pub fn contigs(&self) -> &ContigTable {
        &self.contigs
    }

    /// Finishes the output: as written when the contigs came in one stretch each, else
    /// regrouped through a second temporary file using `buf`, whose capacity (reserved from
    /// the budget, and at least the longest row) is filled only then. Nothing is visible at
    /// the target before this returns Ok.
    pub fn finish(self, buf: &mut Vec<u8>) -> Result<Written> {
        let bytes = self.header_len + self.rows_bytes;
        let written = Written {
            bytes,
            contigs: self.contigs.len(),
            regrouped: !self.contigs.contiguous(),
        };
        if self.contigs.contiguous() {
            self.spool.publish()?;
            return Ok(written);
        }
        let grouped = TempOutput::create(&self.target)?;
        buf.clear();
        buf.resize(buf.capacity(), 0);
        assemble::regroup(
            self.spool.file(),
            grouped.file(),
            self.header_len,
            &self.contigs,
            buf,
        )
        .map_err(|e| Error::io(grouped.path(), "regroup contigs into", e))?;
        drop(self.spool);
        grouped.publish()?;
        Ok(written)
    }
}
