//! What to convert: a [`Request`] names the input (a path, stdin or any reader), the output
//! (a path, stdout or any writer), the pairs and the output settings, and how the memory
//! limit is divided; built with chained setters and run with [`Request::convert`] (the
//! command line) or [`Request::run`] (the daemon, which owns its work files).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use crate::config::{default_pairs, OutputSettings, PairSpec, DEFAULT_MEMORY_LIMIT};
use crate::convert::Alleles;
use crate::error::Result;
use crate::read::format::DecoderCaps;
use crate::read::source::open_error;
use crate::read::{Input, Source};
use crate::write::{Output, TempOutput};

use super::observer::Observer;
use super::plan::Plan;
use super::{StartFrom, Summary};

/// One conversion: where the matrix comes from, where the haplotype table goes, which pairs
/// of haplotype columns become which samples, and under which memory limit.
///
/// ```no_run
/// use std::sync::atomic::AtomicBool;
/// use hapflow::{Input, Output, Request, Silent};
///
/// let summary = Request::new(Input::Path("matrix.tsv".into()))
///     .output(Output::Path("out.tsv".into()))
///     .memory_limit(64 << 20)
///     .workers(2)
///     .convert(&mut Silent, &AtomicBool::new(false))?;
/// println!("{} rows", summary.rows_out);
/// # Ok::<(), hapflow::Error>(())
/// ```
pub struct Request {
    input: From,
    output: To,
    pairs: Vec<PairSpec>,
    pairs_source: Option<String>,
    header_file: Option<PathBuf>,
    alleles: Alleles,
    output_settings: OutputSettings,
    memory_limit: u64,
    workers: usize,
    plan: Option<Plan>,
}

/// Where the matrix is read from.
enum From {
    /// A path or stdin; only a path can be resumed from a checkpoint.
    Input(Input),
    /// Any reader, named in messages by `name`.
    Reader {
        name: String,
        reader: Box<dyn Read + Send>,
    },
}

/// Where the table goes.
enum To {
    /// A path (written to a temporary file beside it and renamed into place) or stdout.
    Output(Output),
    /// Any writer: the table is spooled to an unnamed temporary file and copied into it once
    /// the whole input converted.
    Writer(Box<dyn Write + Send>),
}

impl Request {
    /// A request to convert `input` to stdout with the default pairs (the 34-column
    /// layout's 15 samples), no header file, the default alleles and output settings (a
    /// plain table), one worker and the default memory limit (256 MiB).
    pub fn new(input: Input) -> Request {
        Request {
            input: From::Input(input),
            output: To::Output(Output::Stdout),
            pairs: default_pairs(),
            pairs_source: None,
            header_file: None,
            alleles: Alleles::DEFAULT,
            output_settings: OutputSettings::default(),
            memory_limit: DEFAULT_MEMORY_LIMIT,
            workers: 1,
            plan: None,
        }
    }

    /// Reads the matrix from `reader` instead (plain or compressed, as its first bytes say),
    /// named `name` in messages. Such an input cannot be resumed from a checkpoint.
    pub fn reader(mut self, name: impl Into<String>, reader: impl Read + Send + 'static) -> Self {
        self.input = From::Reader {
            name: name.into(),
            reader: Box::new(reader),
        };
        self
    }

    /// Writes the table to `output` instead: a path is replaced in one step when the whole
    /// input converted, stdout (or a device, a FIFO) receives a copy of the finished spool.
    pub fn output(mut self, output: Output) -> Self {
        self.output = To::Output(output);
        self
    }

    /// Writes the table into `writer` instead, once the whole input converted (it is
    /// spooled to an unnamed temporary file until then, so nothing partial reaches it).
    pub fn writer(mut self, writer: impl Write + Send + 'static) -> Self {
        self.output = To::Writer(Box::new(writer));
        self
    }

    /// The pairs of haplotype columns, each becoming one sample.
    pub fn pairs(mut self, pairs: Vec<PairSpec>) -> Self {
        self.pairs = pairs;
        self
    }

    /// Where the pairs come from (a configuration file's path), named in the configuration
    /// errors about them that only the input's header can show (a pair naming one column by
    /// name and by index, a name repeated in the header file). `None`: the pairs are named
    /// as "the pairs".
    pub fn pairs_source(mut self, source: Option<String>) -> Self {
        self.pairs_source = source;
        self
    }

    /// Column names for an input without a header line (one name a line, or one
    /// tab-separated line).
    pub fn header_file(mut self, file: Option<PathBuf>) -> Self {
        self.header_file = file;
        self
    }

    /// How alleles are read (missing characters, upper-casing).
    pub fn alleles(mut self, alleles: Alleles) -> Self {
        self.alleles = alleles;
        self
    }

    /// Format and compression of the output.
    pub fn output_settings(mut self, settings: OutputSettings) -> Self {
        self.output_settings = settings;
        self
    }

    /// Ceiling on the process's peak resident memory, in bytes; the buffers are sized from
    /// it ([`Plan::for_output`]) unless a [`Request::plan`] is given.
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// Worker threads converting chunks (at least 1 is used), unless the tests' plan is
    /// given, which has its own.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// Buffer sizes chosen by the caller rather than derived from the memory limit (tests
    /// and benchmarks force small chunks with `Plan::with_chunk`; the daemon plans once).
    /// Not part of the API: `Plan` is in the hidden `hapflow::testing`.
    #[doc(hidden)]
    pub fn plan(mut self, plan: Plan) -> Self {
        self.plan = Some(plan);
        self
    }

    /// How the input is named in messages: its path, `<stdin>`, or the reader's name.
    pub fn input_name(&self) -> String {
        match &self.input {
            From::Input(input) => input.display_name(),
            From::Reader { name, .. } => name.clone(),
        }
    }

    /// Converts the whole input and publishes the output only then: a path is replaced in
    /// one step (a temporary file beside it renamed into place), stdout, a device or a
    /// writer receive a copy of the finished spool. `stop` is polled between chunks; when it
    /// is set, the conversion ends with [`crate::ErrorKind::Stopped`] and publishes nothing.
    ///
    /// # Errors
    ///
    /// Bad input (naming the line and byte), a memory limit too small for the plan, or an
    /// I/O failure reading the input or writing the output.
    pub fn convert(self, observer: &mut dyn Observer, stop: &AtomicBool) -> Result<Summary> {
        let (parts, to) = self.into_parts()?;
        match to {
            To::Output(target) => {
                let spool = TempOutput::create(&target)?;
                let (output, summary) =
                    super::run::run(parts, StartFrom::Fresh(spool), observer, stop, || {
                        TempOutput::create(&target)
                    })?;
                output.publish()?;
                Ok(summary)
            }
            To::Writer(mut writer) => {
                let spool = TempOutput::unnamed()?;
                let (output, summary) = super::run::run(
                    parts,
                    StartFrom::Fresh(spool),
                    observer,
                    stop,
                    TempOutput::unnamed,
                )?;
                output.publish_into(&mut writer)?;
                Ok(summary)
            }
        }
    }

    /// Runs the conversion from `start` to its finished, unpublished output: the spool
    /// itself, or the regrouped copy `grouped()` gives when contigs were interleaved. The
    /// request's output is not used: the caller owns the spool and publishes it.
    ///
    /// # Errors
    ///
    /// As [`Request::convert`]; and a configuration error when `start` is a checkpoint and
    /// the input is not a file, or the checkpoint's contigs do not fit.
    ///
    /// Not part of the API: the daemon's checkpoint and resume, and the resume test
    /// (`StartFrom` and `TempOutput` are in the hidden `hapflow::testing`).
    #[doc(hidden)]
    pub fn run(
        self,
        start: StartFrom,
        observer: &mut dyn Observer,
        stop: &AtomicBool,
        grouped: impl FnOnce() -> Result<TempOutput>,
    ) -> Result<(TempOutput, Summary)> {
        super::run::run(self.into_parts()?.0, start, observer, stop, grouped)
    }

    /// The request's plan, and the rest of it for the run; the output apart.
    fn into_parts(self) -> Result<(Parts, To)> {
        let plan = match self.plan {
            Some(plan) => plan,
            None => Plan::for_output(
                self.memory_limit,
                self.workers,
                self.output_settings.bgzf_level,
            )?,
        };
        let parts = Parts {
            input: self.input,
            pairs: self.pairs,
            pairs_source: self.pairs_source,
            header_file: self.header_file,
            alleles: self.alleles,
            output: self.output_settings,
            plan,
        };
        Ok((parts, self.output))
    }
}

/// A request taken apart for the run.
pub(super) struct Parts {
    input: From,
    pub(super) pairs: Vec<PairSpec>,
    pub(super) pairs_source: Option<String>,
    pub(super) header_file: Option<PathBuf>,
    pub(super) alleles: Alleles,
    pub(super) output: OutputSettings,
    pub(super) plan: Plan,
}

/// The input, opened.
pub(super) struct Opened {
    /// How the input is named in messages.
    pub(super) name: String,
    /// The path named in I/O errors (`<stdin>`, or the reader's name, when not a file).
    pub(super) io_path: PathBuf,
    /// The file, which alone can be resumed.
    pub(super) path: Option<PathBuf>,
    pub(super) source: Source,
}

impl Parts {
    /// Opens the input: its first bytes say how it is stored.
    pub(super) fn open(&mut self, inflaters: usize, caps: DecoderCaps) -> Result<Opened> {
        let input = std::mem::replace(&mut self.input, From::Input(Input::Stdin));
        match input {
            From::Input(input) => {
                let source = Source::open(&input, inflaters, caps)?;
                let (io_path, path) = match input {
                    Input::Path(p) => (p.clone(), Some(p)),
                    Input::Stdin => (PathBuf::from("<stdin>"), None),
                };
                Ok(Opened {
                    name: io_path.display().to_string(),
                    io_path,
                    path,
                    source,
                })
            }
            From::Reader { name, reader } => {
                let io_path = PathBuf::from(&name);
                let source = Source::from_reader_with(reader, None, inflaters, caps)
                    .map_err(|e| open_error(Path::new(&name), e))?;
                Ok(Opened {
                    name,
                    io_path,
                    path: None,
                    source,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::config::{ColumnRef, PairSpec};
    use crate::pipeline::Silent;

    /// A writer the test can read back after the request has taken it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    const MATRIX: &str = "CHROM\tPOS\tREF\ta1\ta2\n\
                          chr1\t10\tA\tA\tG\n\
                          chr2\t5\tC\tT\tC\n\
                          chr1\t20\tG\tG\tT\n";

    fn pairs() -> Vec<PairSpec> {
        vec![PairSpec::new(
            "s",
            ColumnRef::Name("a1".into()),
            "s",
            ColumnRef::Name("a2".into()),
        )]
    }

    /// A reader in and a writer out give the same bytes as a file in and a file out, with
    /// the contigs regrouped in both.
    #[test]
    fn any_reader_and_writer_convert_as_files_do() {
        let dir = tempfile::tempdir().unwrap();
        let (input, output) = (dir.path().join("m.tsv"), dir.path().join("o.tsv"));
        std::fs::write(&input, MATRIX).unwrap();
        let never = AtomicBool::new(false);
        Request::new(Input::Path(input))
            .output(Output::Path(output.clone()))
            .pairs(pairs())
            .plan(Plan::with_chunk(1 << 16, 2))
            .convert(&mut Silent, &never)
            .unwrap();
        let from_files = std::fs::read(&output).unwrap();

        let sink = Shared::default();
        let summary = Request::new(Input::Stdin)
            .reader(
                "in memory",
                std::io::Cursor::new(MATRIX.as_bytes().to_vec()),
            )
            .writer(sink.clone())
            .pairs(pairs())
            .plan(Plan::with_chunk(1 << 16, 2))
            .convert(&mut Silent, &never)
            .unwrap();
        assert_eq!(summary.rows_in, 3);
        assert!(summary.regrouped);
        assert_eq!(*sink.0.lock().unwrap(), from_files);
        let rows: Vec<&[u8]> = from_files.split(|&b| b == b'\n').skip(1).collect();
        assert!(rows[0].starts_with(b"chr1\t10\t"), "{rows:?}");
        assert!(rows[1].starts_with(b"chr1\t20\t"), "{rows:?}");
        assert!(rows[2].starts_with(b"chr2\t5\t"), "{rows:?}");
    }

    /// A bad line in a reader's input is named by the reader's name.
    #[test]
    fn a_reader_is_named_in_its_errors() {
        let e = Request::new(Input::Stdin)
            .reader(
                "the upload",
                &b"CHROM\tPOS\tREF\ta1\ta2\nchr1\tten\tA\tA\tG\n"[..],
            )
            .writer(Shared::default())
            .pairs(pairs())
            .convert(&mut Silent, &AtomicBool::new(false))
            .unwrap_err();
        assert!(e.to_string().contains("the upload"), "{e}");
    }
}
