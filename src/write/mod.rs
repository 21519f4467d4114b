//! Writing: rows arrive in input order; they leave grouped by contig (first-appearance
//! order), in a temporary file that becomes the output only when the input is done.

pub mod assemble;
pub mod bgzf;
pub mod contigs;
pub mod output;
pub mod vcf;

use std::io::Seek;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use crate::budget::Grant;
use crate::convert::ContigRun;
use crate::error::{Error, Result};
pub use contigs::{ContigBytes, ContigTable};
pub use output::{Output, TempOutput};

/// Takes converted chunks in input order and produces the grouped output.
pub struct GroupedWriter {
    spool: TempOutput,
    header_len: u64,
    rows_bytes: u64,
    contigs: ContigTable,
    /// For VCF: each contig's records must come in POS order (the table keeps each
    /// contig's last POS, and checkpoints record it).
    check_positions: bool,
}

/// Why a chunk could not be written.
#[derive(Debug)]
pub enum WriteError {
    /// A new contig did not fit the memory set aside for contig names: the run of lines
    /// where it first appears starts at `run_start`.
    TooManyContigs {
        /// Offset in the chunk of the first line of the contig that did not fit.
        run_start: usize,
        /// Why, with the count of distinct contigs at that contig.
        what: String,
    },
    /// A VCF record's POS is below its contig's previous record's (`before`); its run of
    /// lines starts at `run_start` in the input.
    Unsorted {
        /// Offset of the run's first line in the chunk.
        run_start: usize,
        /// The contig's name.
        contig: Vec<u8>,
        /// The POS of the contig's last record before this run.
        before: u64,
    },
    /// Writing the spool failed.
    Io(Error),
}

/// What finishing an output takes besides its rows.
pub struct Ending<'a> {
    /// The BGZF level the rows were compressed at (None: plain text).
    pub bgzf_level: Option<u32>,
    /// For VCF, makes the header from the contigs seen, checked against the spool's head
    /// (or put before the rows at the end).
    pub header_last: Option<&'a MakeHeader<'a>>,
}

/// Makes a header from the contigs seen.
pub type MakeHeader<'a> = dyn Fn(&ContigTable) -> Result<Vec<u8>> + 'a;

/// How the output came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Bytes of the finished output.
    pub bytes: u64,
    /// Contigs in it.
    pub contigs: usize,
    /// The contigs were interleaved in the input and had to be regrouped.
    pub regrouped: bool,
    /// The output is a copy made after the conversion, not the spool itself.
    pub copied: bool,
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
            check_positions: false,
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
            check_positions: false,
        }
    }

    /// Appends a converted chunk: `out` holds its rows, `stored` the bytes that go into the
    /// spool (`out` itself, or `out` compressed), `runs` its contig stretches, whose names
    /// are ranges of `input`. Returns true if the input moved on to another contig.
    pub fn write_chunk(
        &mut self,
        input: &[u8],
        out: &[u8],
        stored: &[u8],
        runs: &[ContigRun],
    ) -> Result<bool, WriteError> {
        self.spool.write_all(stored).map_err(WriteError::Io)?;
        self.rows_bytes += stored.len() as u64;
        let mut left = false;
        for (i, run) in runs.iter().enumerate() {
            let end = runs.get(i + 1).map_or(out.len(), |r| r.out_start as usize);
            let name = &input[run.contig.0 as usize..run.contig.1 as usize];
            let seen = self
                .contigs
                .observe(name, (end - run.out_start as usize) as u64)
                .map_err(|what| WriteError::TooManyContigs {
                    run_start: run.contig.0 as usize,
                    what,
                })?;
            left |= seen.left.is_some();
            if self.check_positions {
                let rows = &out[run.out_start as usize..end];
                if rows.is_empty() {
                    continue;
                }
                let last_row = memchr::memrchr(b'\n', &rows[..rows.len() - 1]).map_or(0, |i| i + 1);
                let pos = |r: &[u8]| crate::convert::vcf::record_pos(r).unwrap_or(0);
                let before = self.contigs.last_pos(seen.id);
                if pos(rows) < before {
                    return Err(WriteError::Unsorted {
                        run_start: run.contig.0 as usize,
                        contig: name.to_vec(),
                        before,
                    });
                }
                self.contigs.set_last_pos(seen.id, pos(&rows[last_row..]));
            }
        }
        Ok(left)
    }

    /// Checks that the rows (VCF records) of each contig come in POS order across chunks
    /// (within a chunk the conversion checks). A resumed writer checks against the last POS
    /// its checkpoint recorded for each contig (none for a checkpoint of hapflow 0.1).
    pub fn check_positions(&mut self) {
        self.check_positions = true;
    }

    /// The contigs written so far.
    pub fn contigs(&self) -> &ContigTable {
        &self.contigs
    }

    /// The contigs written so far, to take those changed since the last checkpoint.
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

    /// The spool's first bytes: the header it was started with.
    fn spool_head(&self) -> Result<Vec<u8>> {
        let mut head = vec![0u8; self.header_len as usize];
        self.spool
            .file()
            .read_exact_at(&mut head, 0)
            .map_err(|e| Error::io(self.spool.path(), "read", e))?;
        Ok(head)
    }

    /// Finishes the output, unpublished. The spool itself when the contigs came in one
    /// stretch each and the header is already at its head (for VCF: the spool was started
    /// with the header of a guess of the contigs, and it equals the header made now from
    /// the contigs seen); else a copy made by `grouped()`: the header (for VCF, made now),
    /// then the rows, regrouped by contig if they came interleaved. BGZF output ends with
    /// the end-of-file block.
    ///
    /// `buf` and `packed` (capacities reserved from the budget; `buf` holds at least the
    /// longest row) are used only here. Interleaved BGZF rows are inflated, regrouped as
    /// plain text in an unnamed temporary file beside the output, and compressed again: the
    /// workers' blocks mix contigs, and a block cannot be cut.
    pub fn finish(
        mut self,
        ending: &Ending<'_>,
        buf: &mut Vec<u8>,
        packed: &mut Vec<u8>,
        grouped: impl FnOnce() -> Result<TempOutput>,
        stop: &AtomicBool,
    ) -> Result<(TempOutput, Written)> {
        let mut written = Written {
            bytes: self.spool_len(),
            contigs: self.contigs.len(),
            regrouped: !self.contigs.contiguous(),
            copied: true,
        };
        let eof: &[u8] = if ending.bgzf_level.is_some() {
            &bgzf::EOF
        } else {
            b""
        };
        // For VCF, the header made from the contigs seen; the spool starts with it when
        // they were guessed right before the conversion.
        let made = match ending.header_last {
            Some(make) => {
                let text = make(&self.contigs)?;
                Some(match ending.bgzf_level {
                    Some(level) => bgzf::compress_to_vec(level, &text),
                    None => text,
                })
            }
            None => None,
        };
        let header_ready = match &made {
            None => true,
            Some(h) => h.len() as u64 == self.header_len && self.spool_head()? == *h,
        };
        if self.contigs.contiguous() && header_ready {
            self.spool.write_all(eof)?;
            written.bytes += eof.len() as u64;
            written.copied = false;
            return Ok((self.spool, written));
        }
        let mut out = grouped()?;
        let head = match made {
            Some(head) => head,
            None => self.spool_head()?,
        };
        out.write_all(&head)?;
        let rows = || assemble::ReadFrom::new(self.spool.file(), self.header_len);
        let regroup_err = |path: PathBuf| {
            move |e: std::io::Error| match e.kind() {
                std::io::ErrorKind::Interrupted => Error::stopped(),
                // The spool does not match its contig table: a damaged checkpoint.
                std::io::ErrorKind::InvalidData => {
                    Error::store_io(format!("cannot regroup contigs into {}", path.display()), e)
                }
                _ => Error::io(path.clone(), "regroup contigs into", e),
            }
        };
        let body = if self.contigs.contiguous() {
            // File to file: std's copy is copy_file_range, in the kernel.
            let mut src = self.spool.file();
            src.seek(std::io::SeekFrom::Start(self.header_len))
                .and_then(|_| std::io::copy(&mut src, &mut out.file()))
                .map_err(|e| Error::io(out.path(), "write", e))?
        } else if let Some(level) = ending.bgzf_level {
            // Beside the output; an unnamed output (for stdout) names the folder it is in.
            let at = out.path();
            let dir = match at.parent() {
                _ if at.is_dir() => at,
                Some(d) if d.is_dir() => d.to_path_buf(),
                _ => std::env::temp_dir(),
            };
            let plain = tempfile::tempfile_in(&dir)
                .map_err(|e| Error::io(&dir, "create a temporary file in", e))?;
            buf.clear();
            buf.resize(buf.capacity(), 0);
            let total = assemble::regroup(
                &mut noodles_bgzf::io::Reader::new(rows()),
                &plain,
                0,
                &self.contigs,
                buf,
                stop,
            )
            .map_err(regroup_err(dir.clone()))?;
            assemble::compress_file(&plain, &mut out, level, buf, packed, stop)
                .map_err(regroup_err(out.path()))?;
            total
        } else {
            buf.clear();
            buf.resize(buf.capacity(), 0);
            assemble::regroup(
                &mut rows(),
                out.file(),
                head.len() as u64,
                &self.contigs,
                buf,
                stop,
            )
            .map_err(regroup_err(out.path()))?
        };
        let _ = body;
        out.write_all(eof)?;
        written.bytes = out
            .file()
            .metadata()
            .map_err(|e| Error::io(out.path(), "stat", e))?
            .len();
        Ok((out, written))
    }
}
