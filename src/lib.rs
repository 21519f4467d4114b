//! hapflow: genome matrices to phased haplotype tables, streaming, in parallel, under a
//! fixed memory ceiling.
//!
//! A genome matrix has one site per line, tab-separated: `CHROM POS REF` and then one
//! allele per haplotype column, optionally under a header line (`CHROM` or `#CHROM`
//! first). hapflow writes the table of the reference script `matrix_to_haplotype.py`: per
//! line with an ALT allele, `contig pos ref alt` and, per pair of haplotype columns, the
//! phase block (`<name>_PI`, the contig) and the phased genotype (`<name>_PG_al`, `a|b`,
//! with a missing `N` or a `-` replaced by REF). It can also write phase-extender's table
//! or VCF 4.2.
//!
//! The API, all at the crate root but for four modules:
//! - [`Request`] converts one [`Input`] (a path, stdin or any reader) into one [`Output`]
//!   (a path, stdout or any writer), with its [`PairSpec`]s (by [`ColumnRef`]), [`Alleles`]
//!   and [`OutputSettings`] (a [`Format`]), and returns a [`Summary`]; an [`Observer`] (or
//!   [`Silent`]) hears its [`Progress`] after every chunk, with a [`CheckpointHandle`].
//! - [`Error`] is the one error type: its [`ErrorKind`], and for bad input a
//!   [`BadInputReason`] (naming a [`Column`]); [`Result`] carries it.
//! - [`config`]: the TOML configuration ([`Config`], every section and key).
//! - [`daemon`]: `hapflow serve` as a call ([`daemon::serve`], stopped over a channel of
//!   [`daemon::Control`]) and the status a daemon writes ([`daemon::read_status`]).
//! - [`generate`]: synthetic, question-shaped matrices for tests and benchmarks.
//! - [`sys`]: what the process can learn about itself (peak RSS), and the allocator tuning
//!   the command line applies.
//!
//! Inside, in the order data flows (private modules): `read` opens the input (plain, gzip,
//! BGZF, zstd, xz or bzip2) and cuts it into chunks of whole lines; `convert` is the pure
//! conversion of a chunk of lines into output rows; `write` puts rows into the output
//! grouped by contig and publishes it atomically; `pipeline` is the threads and bounded
//! channels that join the three under one memory budget (`budget`).
//!
//! # Converting a matrix
//!
//! A [`Request`] converts one input into one output: a path, stdin or any reader
//! in; a path, stdout or any writer out. The output is spooled and reaches its target only
//! once the whole input is converted. Here the matrix is read from memory and the table
//! written into a buffer:
//!
//! ```
//! use std::io::{Cursor, Write};
//! use std::sync::atomic::AtomicBool;
//! use std::sync::{Arc, Mutex};
//!
//! use hapflow::{ColumnRef, Input, PairSpec, Request, Silent};
//!
//! /// A buffer the caller keeps a handle on (the request owns its writer).
//! #[derive(Clone, Default)]
//! struct Shared(Arc<Mutex<Vec<u8>>>);
//! impl Write for Shared {
//!     fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
//!         self.0.lock().unwrap().write(bytes)
//!     }
//!     fn flush(&mut self) -> std::io::Result<()> {
//!         Ok(())
//!     }
//! }
//!
//! let matrix = "CHROM\tPOS\tREF\ts1a\ts1b\ts2a\ts2b\n\
//!               chr1\t100\tA\tA\tG\tN\tA\n\
//!               chr1\t101\tC\tC\tC\tC\tN\n\
//!               chr2\t5\tT\t-\tT\tG\tG\n";
//! let table = Shared::default();
//! let summary = Request::new(Input::Stdin)
//!     .reader("m.txt", Cursor::new(matrix))
//!     .writer(table.clone())
//!     .pairs(vec![
//!         // By header name, named by its labels (`s1as1b`)...
//!         PairSpec::new("s1a", ColumnRef::Name("s1a".into()), "s1b", ColumnRef::Name("s1b".into())),
//!         // ...or by 0-based column index, named as a sample.
//!         PairSpec::new("s2a", ColumnRef::Index(5), "s2b", ColumnRef::Index(6)).named("NA12878"),
//!     ])
//!     .memory_limit(32 << 20) // bytes of peak resident memory
//!     .convert(&mut Silent, &AtomicBool::new(false))?;
//!
//! // chr1:101 has no ALT (every haplotype C or N): no row. `-` is an ALT allele, and
//! // becomes REF in the phased genotype; so does `N`.
//! assert_eq!((summary.rows_in, summary.rows_out, summary.contigs), (3, 2, 2));
//! assert_eq!(
//!     String::from_utf8(table.0.lock().unwrap().clone())?,
//!     "contig\tpos\tref\talt\ts1as1b_PI\ts1as1b_PG_al\tNA12878_PI\tNA12878_PG_al\n\
//!      chr1\t100\tA\tG\tchr1\tA|G\tchr1\tA|A\n\
//!      chr2\t5\tT\t-,G\tchr2\tT|T\tchr2\tG|G\n"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Errors
//!
//! Every fallible entry point returns [`Result`]. An [`Error`]'s [`kind`](Error::kind) tells
//! bad input (the user's to fix: [`Error::exit_code`] 2) from bad configuration (2), an
//! I/O failure (1) and a requested stop (1); for bad input,
//! [`bad_input_reason`](Error::bad_input_reason) says what is wrong as a
//! [`BadInputReason`], and the message names the input, the line and the byte offset.
//!
//! ```
//! use std::sync::atomic::AtomicBool;
//!
//! use hapflow::{BadInputReason, Input, Output, Request, Silent};
//!
//! let dir = tempfile::tempdir()?;
//! let vcf = dir.path().join("calls.txt");
//! std::fs::write(&vcf, "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n")?;
//! let error = Request::new(Input::Path(vcf.clone()))
//!     .output(Output::Path(dir.path().join("out.txt")))
//!     .convert(&mut Silent, &AtomicBool::new(false))
//!     .unwrap_err();
//! assert_eq!(error.bad_input_reason(), Some(&BadInputReason::Vcf));
//! assert_eq!(error.exit_code(), 2);
//! let message = error.to_string();
//! assert!(message.starts_with(&format!("bad input: {}: line 1, byte offset 0: this is a VCF", vcf.display())));
//! assert!(!dir.path().join("out.txt").exists());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Modules are private unless the module is itself an API: `config` (the TOML
// configuration's schema), `daemon` (`hapflow serve` as a library call), `generate`
// (synthetic matrices) and `sys` (what the process can learn about itself). Everything
// else another program needs is re-exported below.
mod budget;
pub mod config;
mod convert;
pub mod daemon;
mod error;
mod failpoints;
pub mod generate;
mod pipeline;
mod read;
pub mod sys;
mod write;

pub use config::{ColumnRef, Config, Format, OutputSettings, PairSpec};
pub use convert::Alleles;
pub use error::{BadInputReason, Column, Error, ErrorKind, Result};
pub use pipeline::{CheckpointHandle, Observer, Progress, Request, Silent, Summary};
pub use read::Input;
pub use write::Output;

#[doc(hidden)]
pub mod testing;
