//! The streaming pipeline: one reader cuts the input into chunks of whole lines, N workers
//! convert chunks, and the calling thread writes results back in input order.
//!
//! Bounded everywhere by permits: a fixed set of chunk slots (input, output and run buffers,
//! all reserved from the [`Budget`]) circulates reader -> worker -> writer -> reader. The
//! reader cannot start a chunk without a free slot, so the chunks in flight, the reorder
//! window included, never exceed the slot count, however slow one chunk is.

pub mod observer;
pub mod plan;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::budget::{Budget, Grant};
use crate::config::{ColumnRef, Format, OutputSettings, PairSpec};
use crate::convert::{
    convert_chunk, Alleles, ChunkError, ChunkOutput, ChunkStats, Layout, Run, Scratch,
};
use crate::error::{Error, ErrorKind, Result};
use crate::read::format::{DecoderCaps, Format as InputFormat};
use crate::read::header::read_header_file;
use crate::read::start::{read_start, StartError};
use crate::read::{Chunker, Cut, Input, ReadError, Source};
use crate::write::bgzf::{self, Deflater};
use crate::write::{ContigTable, Ending, GroupedWriter, Output, TempOutput, WriteError};
pub use observer::{Observer, Silent};
pub use plan::Plan;

/// One conversion for the command line: which input, which output, which pairs, under
/// which limit.
#[derive(Debug, Clone)]
pub struct Job {
    pub input: Input,
    pub output: Output,
    /// Format and compression of the output.
    pub output_settings: OutputSettings,
    pub pairs: Vec<PairSpec>,
    /// Column names for an input without a header line.
    pub header_file: Option<PathBuf>,
    /// Ceiling on the process's peak resident memory, in bytes.
    pub memory_limit: u64,
    /// Worker threads (at least 1).
    pub workers: usize,
    /// How alleles are read (missing characters, upper-casing).
    pub alleles: Alleles,
}

/// What a finished conversion did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    pub lines: u64,
    pub rows_in: u64,
    pub rows_out: u64,
    pub contigs: usize,
    pub input_bytes: u64,
    pub source_bytes: u64,
    pub output_bytes: u64,
    /// Contigs were interleaved in the input and the output had to be regrouped.
    pub regrouped: bool,
    /// Lines equal to the header line, skipped (matrices joined with `cat`). Counted from
    /// where this run started (a resumed job counts only what it read).
    pub repeated_headers: u64,
    pub seconds: f64,
}

/// Where a conversion is: after the last chunk written, everything before `input_bytes`
/// is converted and in the writer's spool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// Bytes read from the file or stdin (compressed bytes for gzip).
    pub source_bytes: u64,
    /// Bytes of (decompressed) input converted: a line boundary.
    pub input_bytes: u64,
    pub lines: u64,
    pub rows_in: u64,
    pub rows_out: u64,
    pub contigs: usize,
    /// The input moved on to another contig in this chunk.
    pub left_contig: bool,
    /// The whole input is converted.
    pub finished: bool,
}

/// What a conversion reads, and how it reads it.
#[derive(Debug, Clone, Copy)]
pub struct Conversion<'a> {
    pub input: &'a Input,
    pub pairs: &'a [PairSpec],
    pub header_file: Option<&'a Path>,
    pub alleles: &'a Alleles,
    pub plan: Plan,
    /// Format and compression of the output.
    pub output: &'a OutputSettings,
}

/// Where a conversion starts.
pub enum Start {
    /// From the beginning of the input, into this empty spool.
    Fresh(TempOutput),
    /// From a checkpoint.
    Resume(Checkpoint),
}

/// Everything a conversion needs to carry on where a checkpoint left it.
pub struct Checkpoint {
    /// The spool, cut back to `position`'s bytes ([`TempOutput::at`]).
    pub spool: TempOutput,
    pub spool_len: u64,
    pub position: Position,
    /// Contig names in first-appearance order, with their output bytes.
    pub contigs: Vec<(Vec<u8>, u64)>,
    pub current: Option<u32>,
    pub contiguous: bool,
}

/// A chunk's buffers, reserved from the budget once and reused for the whole run.
struct Slot {
    input: Vec<u8>,
    out: Vec<u8>,
    /// `out` compressed as BGZF blocks, when the output is compressed.
    packed: Vec<u8>,
    runs: Vec<Run>,
    _grant: Grant,
}

impl Slot {
    /// A slot for the pipeline: input, output and runs.
    fn new(plan: &Plan, budget: &Budget) -> Result<Slot> {
        Ok(Slot {
            _grant: budget.reserve(plan.slot_bytes(), "a chunk buffer")?,
            input: vec![0u8; plan.chunk],
            out: Vec::with_capacity(plan.out_cap),
            packed: Vec::with_capacity(plan.packed_cap),
            runs: Vec::with_capacity(plan.runs_cap),
        })
    }

    /// The writer's spare: output and runs only, for the rest of a chunk whose rows did not
    /// fit its own output buffer, and to regroup contigs.
    fn spare(plan: &Plan, budget: &Budget) -> Result<Slot> {
        Ok(Slot {
            _grant: budget.reserve(plan.slot_bytes() - plan.chunk, "the writer's spare buffer")?,
            input: Vec::new(),
            out: Vec::with_capacity(plan.out_cap),
            packed: Vec::with_capacity(plan.packed_cap),
            runs: Vec::with_capacity(plan.runs_cap),
        })
    }
}

/// Why the reader stopped short of the end of the input.
enum ReadFailure {
    LineTooLong,
    /// The chunk's `len` bytes are what was read before the error: the data ends there.
    Read(std::io::Error),
    Stopped,
}

/// A chunk on its way through the pipeline, in input order by `seq`.
struct Chunk {
    seq: u64,
    slot: Slot,
    len: usize,
    /// Offset of the chunk's first byte in the (decompressed) input.
    start_byte: u64,
    /// Set by the reader when this is where reading failed, else the worker's result.
    outcome: Option<Result<ChunkStats, Failure>>,
}

enum Failure {
    Read(ReadFailure),
    Line(ChunkError),
}

/// Converts `job.input` into `job.output`, publishing it only when the whole input is
/// converted. `stop` is polled between chunks; when it is set, the conversion ends with
/// [`crate::ErrorKind::Stopped`] and publishes nothing.
pub fn convert(job: &Job, observer: &mut dyn Observer, stop: &AtomicBool) -> Result<Summary> {
    let plan = Plan::for_output(
        job.memory_limit,
        job.workers,
        job.output_settings.bgzf_level,
    )?;
    convert_with_plan(job, &plan, observer, stop)
}

/// [`convert`] with buffer sizes chosen by the caller rather than derived from
/// `job.memory_limit` (which this ignores).
pub fn convert_with_plan(
    job: &Job,
    plan: &Plan,
    observer: &mut dyn Observer,
    stop: &AtomicBool,
) -> Result<Summary> {
    let conversion = Conversion {
        input: &job.input,
        pairs: &job.pairs,
        header_file: job.header_file.as_deref(),
        alleles: &job.alleles,
        plan: *plan,
        output: &job.output_settings,
    };
    let spool = TempOutput::create(&job.output)?;
    let (output, summary) = run(&conversion, Start::Fresh(spool), observer, stop, || {
        TempOutput::create(&job.output)
    })?;
    output.publish()?;
    Ok(summary)
}

/// Runs a conversion from `start` to its finished, unpublished output: the spool itself, or
/// the regrouped copy `grouped()` gives when contigs were interleaved.
pub fn run(
    conversion: &Conversion<'_>,
    start: Start,
    observer: &mut dyn Observer,
    stop: &AtomicBool,
    grouped: impl FnOnce() -> Result<TempOutput>,
) -> Result<(TempOutput, Summary)> {
    let started = Instant::now();
    let bgzf_level = conversion.output.bgzf_level;
    let plan = match bgzf_level {
        Some(level) if conversion.plan.packed_cap == 0 => conversion.plan.with_bgzf(level),
        _ => conversion.plan,
    };
    let name = conversion.input.display_name();
    // The input's first bytes say how it is stored, and so what its decoder needs.
    let caps = DecoderCaps::for_pool(plan.pool);
    let source = Source::open(conversion.input, plan.inflaters(), caps)?;
    let stored = source.format;
    let plan = plan.with_decoder(caps.extra_bytes(stored))?;
    let budget = Budget::new(plan.pool);

    let mut slots = (0..plan.window)
        .map(|_| Slot::new(&plan, &budget))
        .collect::<Result<Vec<_>>>()?;
    let mut spare = Slot::spare(&plan, &budget)?;
    let contig_grant = budget.reserve(plan.contig_bytes, "the contig table")?;
    let _compressors = budget.reserve(plan.compressor_bytes, "the BGZF compressors")?;
    let _decompress = budget.reserve(
        crate::read::source::decompress_bytes(plan.inflaters()) + plan.decoder_bytes,
        "the decompressor",
    )?;

    // The start of the input says what its columns are, resumed or not.
    observer.started(source.total_bytes);
    let mut chunker = Chunker::new(source.reader);
    let mut first = slots.pop().expect("a plan has at least one slot");
    let begin = read_start(&mut chunker, &mut first.input).map_err(|e| match e {
        StartError::LineTooLong { line, byte } => {
            Error::bad_line(&name, line, byte, too_long(&plan))
        }
        StartError::NotAMatrix { line, byte, what } => Error::bad_line(&name, line, byte, what),
        StartError::Read { error, line, byte } => {
            read_error(conversion.input, stored, error, line, byte)
        }
    })?;
    let mut layout = resolve_layout(conversion, &begin, &name)?
        .with_alleles(conversion.alleles.clone())
        .with_repeated_header(begin.header_text.clone());
    layout.set_output(conversion.output.format);
    let header = match bgzf_level {
        Some(level) => bgzf::compress_to_vec(level, layout.header_line()),
        None => layout.header_line().to_vec(),
    };

    let (mut writer, mut state, filled, start_byte, source_bytes) = match start {
        Start::Fresh(spool) => {
            let mut writer = GroupedWriter::create(spool, &header, contig_grant)?;
            if layout.format() == Format::Vcf {
                writer.check_positions();
            }
            let state = Position {
                lines: begin.skipped_lines,
                ..Position::default()
            };
            (
                writer,
                state,
                begin.filled,
                begin.skipped_bytes,
                source.source_bytes,
            )
        }
        Start::Resume(cp) => {
            let Input::Path(path) = conversion.input else {
                return Err(Error::config("only a file can be resumed"));
            };
            let table = ContigTable::restore(contig_grant, cp.contigs, cp.current, cp.contiguous)
                .map_err(|e| Error::config(format!("cannot resume: {e}")))?;
            let mut writer = GroupedWriter::resume(cp.spool, &header, table, cp.spool_len);
            if layout.format() == Format::Vcf {
                writer.check_positions();
            }
            let source = Source::open_at(path, cp.position.input_bytes, plan.inflaters(), caps)?;
            chunker = Chunker::new(source.reader);
            let state = Position {
                left_contig: false,
                finished: false,
                ..cp.position
            };
            (
                writer,
                state,
                0,
                cp.position.input_bytes,
                source.source_bytes,
            )
        }
    };

    let workers = plan.workers;
    let mut repeated_headers = 0;
    let outcome = std::thread::scope(|s| -> Result<()> {
        let (work_tx, work_rx) = bounded::<Chunk>(plan.window);
        let (done_tx, done_rx) = bounded::<Chunk>(plan.window);
        let (free_tx, free_rx) = bounded::<Slot>(plan.window);
        for slot in slots {
            free_tx.send(slot).expect("the pool holds every slot");
        }
        let first_chunk = (first, filled, start_byte);
        s.spawn(move || {
            read_chunks(
                chunker,
                first_chunk,
                work_tx,
                free_rx,
                stop,
                stored.is_compressed(),
            )
        });
        for _ in 0..workers {
            let (rx, tx, layout) = (work_rx.clone(), done_tx.clone(), &layout);
            s.spawn(move || convert_chunks(layout, bgzf_level, rx, tx));
        }
        drop((work_rx, done_tx));
        let mut ctx = WriteCtx {
            deflater: bgzf_level.map(Deflater::new),
            input: conversion.input,
            name: &name,
            plan: &plan,
            format: stored,
            repeated_headers: &mut repeated_headers,
            layout: &layout,
            writer: &mut writer,
            spare: &mut spare,
            observer: &mut *observer,
            source_bytes: &source_bytes,
            stop,
        };
        write_in_order(&mut ctx, &mut state, done_rx, free_tx)
    });
    outcome?;

    state.source_bytes = source_bytes.load(Ordering::Relaxed);
    state.finished = true;
    state.left_contig = false;
    state.contigs = writer.contigs().len();
    observer.written(&state, &mut writer)?;
    let vcf_header = |contigs: &ContigTable| {
        crate::write::vcf::header(layout.samples(), contigs, conversion.output.fai.as_deref())
            .map_err(|e| Error::bad_input(&name, e))
    };
    let ending = Ending {
        bgzf_level,
        header_last: match layout.format() {
            Format::Vcf => Some(&vcf_header),
            _ => None,
        },
    };
    let spare = &mut spare;
    let (output, written) =
        writer.finish(&ending, &mut spare.out, &mut spare.packed, grouped, stop)?;
    Ok((
        output,
        Summary {
            lines: state.lines,
            rows_in: state.rows_in,
            rows_out: state.rows_out,
            contigs: written.contigs,
            input_bytes: state.input_bytes,
            source_bytes: state.source_bytes,
            output_bytes: written.bytes,
            regrouped: written.regrouped,
            repeated_headers,
            seconds: started.elapsed().as_secs_f64(),
        },
    ))
}

fn too_long(plan: &Plan) -> String {
    format!(
        "line longer than {}, the longest a {} memory limit allows (raise --memory-limit)",
        crate::config::size::format_size(plan.chunk as u64),
        crate::config::size::format_size(plan.limit),
    )
}

/// A read that failed: for compressed input, bad input that names where the data ends
/// (`line`, `byte` of the decompressed input: the same whatever the chunk size); else an
/// I/O error.
fn read_error(
    input: &Input,
    format: InputFormat,
    e: std::io::Error,
    line: u64,
    byte: u64,
) -> Error {
    use std::io::ErrorKind::{InvalidData, InvalidInput, Other, UnexpectedEof};
    if format.is_compressed()
        && matches!(e.kind(), UnexpectedEof | InvalidData | InvalidInput | Other)
    {
        let name = format.name();
        let text = e.to_string();
        let what = if text.to_lowercase().contains("memory") || text.contains("window") {
            let (fits, hint) = match format {
                InputFormat::Xz => (
                    "xz -6 and lower always fit; xz -9 needs a limit of about 200 MiB",
                    "xz -6",
                ),
                _ => (
                    "zstd -19 and lower always fit; a window over 128 MiB (--long=28 and up) never does, as zstd itself refuses it without --memory",
                    "zstd -19, without --long or --ultra",
                ),
            };
            format!(
                "this {name} file needs more memory to decompress than this memory limit sets aside for it (a third of the limit; {fits}): raise --memory-limit, or recompress it with {hint} ({text})"
            )
        } else {
            let problem = if text.contains("follow the last gzip member") {
                "has bytes after its end"
            } else if crate::read::decode::fails_integrity_check(&e) {
                return Error::bad_line(
                    input.display_name(),
                    line,
                    byte,
                    format!(
                        "the {name} input is corrupt: its decoder finds damaged data (a failed \
                         CRC or checksum, or invalid compressed data) after {} good lines ({text})",
                        line - 1
                    ),
                );
            } else {
                "is cut short or corrupt"
            };
            format!(
                "the {name} input {problem}: the data ends here, after {} lines ({text})",
                line - 1
            )
        };
        Error::bad_line(input.display_name(), line, byte, what)
    } else {
        let path = match input {
            Input::Path(p) => p.clone(),
            Input::Stdin => PathBuf::from("<stdin>"),
        };
        Error::io(path, "read", e)
    }
}

/// The pairs resolved against the input's header (line or file) or first line.
fn resolve_layout(
    conversion: &Conversion<'_>,
    start: &crate::read::start::Start,
    name: &str,
) -> Result<Layout> {
    let names = match (&start.header_line, conversion.header_file) {
        (Some(names), _) => Some(names.clone()),
        (None, Some(file)) => Some(read_header_file(file)?),
        (None, None) => None,
    };
    let (names, columns) = match (start.first_line_fields, names) {
        (Some(n), names) => (names, n),
        (None, Some(names)) => {
            let n = names.len();
            (Some(names), n)
        }
        // No data and no names (an empty input): any layout will do for a header-only
        // output. Columns named by the pairs get stand-in columns of their own, after the
        // highest index a pair gives.
        (None, None) => {
            let refs = || {
                conversion
                    .pairs
                    .iter()
                    .flat_map(|p| [&p.first.column, &p.second.column])
            };
            let top = refs()
                .map(|c| match c {
                    ColumnRef::Index(i) => i + 1,
                    ColumnRef::Name(_) => 0,
                })
                .max()
                .unwrap_or(0)
                .max(3);
            let mut stand_in: Vec<String> = (0..top).map(|i| format!("\0{i}")).collect();
            for c in refs() {
                if let ColumnRef::Name(n) = c {
                    if !stand_in.contains(n) {
                        stand_in.push(n.clone());
                    }
                }
            }
            let n = stand_in.len().max(4);
            let named = stand_in.len() > top;
            (named.then_some(stand_in), n)
        }
    };
    if let (Some(names), Some(n)) = (&names, start.first_line_fields) {
        if names.len() != n {
            let from = if start.header_line.is_some() {
                "header line"
            } else {
                "header file"
            };
            let hint = crate::read::header::split_genotypes_hint(names.len(), n);
            return Err(Error::bad_line(
                name,
                start.skipped_lines + 1,
                start.skipped_bytes,
                format!("{n} fields, but the {from} has {}{hint}", names.len()),
            ));
        }
    }
    // A layout that does not fit is the fault of the line that set the columns: the header
    // line, or the first data line (a header file has no line in the input).
    Layout::resolve(conversion.pairs, names.as_deref(), columns).map_err(|e| {
        match (
            &start.header_line,
            conversion.header_file,
            start.first_line_fields,
        ) {
            (Some(_), _, _) => Error::bad_line(name, 1, 0, e),
            (None, None, Some(_)) => {
                Error::bad_line(name, start.skipped_lines + 1, start.skipped_bytes, e)
            }
            _ => Error::bad_input(name, e),
        }
    })
}

/// The reader thread: fills slots with whole lines and sends them on in order.
fn read_chunks<R: std::io::Read>(
    mut chunker: Chunker<R>,
    first: (Slot, usize, u64),
    work: Sender<Chunk>,
    free: Receiver<Slot>,
    stop: &AtomicBool,
    compressed: bool,
) {
    let (mut slot, mut filled, mut start_byte) = first;
    for seq in 0.. {
        let chunk = |slot, len, outcome| Chunk {
            seq,
            slot,
            len,
            start_byte,
            outcome,
        };
        if stop.load(Ordering::Relaxed) {
            let _ = work.send(chunk(
                slot,
                0,
                Some(Err(Failure::Read(ReadFailure::Stopped))),
            ));
            return;
        }
        let (now, cut) = match chunker.next(&mut slot.input, filled) {
            Ok(next) => next,
            Err(ReadError { filled, error }) => {
                let failed = Some(Err(Failure::Read(ReadFailure::Read(error))));
                let _ = work.send(chunk(slot, filled, failed));
                return;
            }
        };
        match cut {
            Cut::End => {
                if now > 0 {
                    let _ = work.send(chunk(slot, now, None));
                }
                return;
            }
            Cut::LineTooLong => {
                // In compressed input, such a line may be damaged data: decode on to see.
                let failure = match compressed {
                    true => chunker.decode_to_end(&mut slot.input).err(),
                    false => None,
                };
                let failure = failure.map_or(ReadFailure::LineTooLong, ReadFailure::Read);
                let failed = Some(Err(Failure::Read(failure)));
                let _ = work.send(chunk(slot, 0, failed));
                return;
            }
            Cut::At(cut) => {
                // Backpressure: without a free slot there is no next chunk.
                let Ok(mut next) = free.recv() else { return };
                next.input[..now - cut].copy_from_slice(&slot.input[cut..now]);
                if work.send(chunk(slot, cut, None)).is_err() {
                    return;
                }
                start_byte += cut as u64;
                filled = now - cut;
                slot = next;
            }
        }
    }
}

/// A worker thread: converts chunks until the reader is done.
fn convert_chunks(
    layout: &Layout,
    bgzf_level: Option<u32>,
    work: Receiver<Chunk>,
    done: Sender<Chunk>,
) {
    let mut scratch = Scratch::new(layout);
    let mut deflater = bgzf_level.map(Deflater::new);
    for mut chunk in work {
        if chunk.outcome.is_none() {
            let slot = &mut chunk.slot;
            slot.out.clear();
            slot.runs.clear();
            let result = convert_chunk(
                layout,
                &slot.input[..chunk.len],
                &mut scratch,
                ChunkOutput {
                    out_cap: slot.out.capacity(),
                    out: &mut slot.out,
                    runs_cap: slot.runs.capacity(),
                    runs: &mut slot.runs,
                },
            );
            if let (Some(d), Ok(_)) = (&mut deflater, &result) {
                slot.packed.clear();
                d.compress(&slot.out, &mut slot.packed);
            }
            chunk.outcome = Some(result.map_err(Failure::Line));
        }
        if done.send(chunk).is_err() {
            return;
        }
    }
}

struct WriteCtx<'a> {
    /// Compresses what the writer converts itself, when the output is BGZF.
    deflater: Option<Deflater>,
    input: &'a Input,
    name: &'a str,
    plan: &'a Plan,
    format: InputFormat,
    repeated_headers: &'a mut u64,
    layout: &'a Layout,
    writer: &'a mut GroupedWriter,
    spare: &'a mut Slot,
    observer: &'a mut dyn Observer,
    source_bytes: &'a AtomicU64,
    stop: &'a AtomicBool,
}

/// The writer: puts chunks back in input order (the reorder window is the slot count) and
/// writes them, returning each slot to the reader.
fn write_in_order(
    ctx: &mut WriteCtx<'_>,
    state: &mut Position,
    done: Receiver<Chunk>,
    free: Sender<Slot>,
) -> Result<()> {
    let window = ctx.plan.window;
    let mut pending: Vec<Option<Chunk>> = (0..window).map(|_| None).collect();
    let mut next = 0u64;
    for chunk in &done {
        let at = (chunk.seq % window as u64) as usize;
        debug_assert!(pending[at].is_none(), "more chunks in flight than slots");
        pending[at] = Some(chunk);
        while let Some(chunk) = pending[(next % window as u64) as usize].take() {
            // The reader may be done already with chunks still in flight: a stop request
            // must not wait for all of them.
            if ctx.stop.load(Ordering::Relaxed) {
                return stopping(ctx, state);
            }
            if let Err(e) = write_chunk(ctx, state, &chunk) {
                return Err(match (e.kind(), ctx.format.is_compressed()) {
                    (ErrorKind::BadInput { .. }, true) => {
                        let _ = free.send(chunk.slot);
                        decoded_to_the_end(ctx.format, e, &mut pending, &done, &free)
                    }
                    _ => e,
                });
            }
            next += 1;
            let _ = free.send(chunk.slot);
        }
    }
    debug_assert!(pending.iter().all(Option::is_none));
    Ok(())
}

/// A line refused in compressed input may be damaged data that the decoder has not found
/// yet (gzip checks its CRC at the end of a member, zstd and xz theirs at the end of a frame
/// or block). The rest of the input is decompressed, its chunks dropped as they come: if the
/// decoder then fails, the refusal says the compressed input is corrupt; if the input ends
/// cleanly, it stands as it was. Costs nothing until a line is refused.
fn decoded_to_the_end(
    format: InputFormat,
    refused: Error,
    pending: &mut [Option<Chunk>],
    done: &Receiver<Chunk>,
    free: &Sender<Slot>,
) -> Error {
    let pending = pending.iter_mut().filter_map(Option::take);
    for chunk in pending.chain(done) {
        if let Some(Err(Failure::Read(ReadFailure::Read(e)))) = &chunk.outcome {
            let end = chunk.start_byte + chunk.len as u64;
            return crate::read::decode::corrupt_after(format, refused, e, end);
        }
        let _ = free.send(chunk.slot);
    }
    refused
}

fn write_chunk(ctx: &mut WriteCtx<'_>, state: &mut Position, chunk: &Chunk) -> Result<()> {
    let outcome = chunk.outcome.as_ref().expect("workers fill every outcome");
    let input = &chunk.slot.input[..chunk.len];
    let mut stats = match outcome {
        Ok(stats) => *stats,
        Err(Failure::Line(e)) => return Err(line_error(ctx, state, chunk.start_byte, e)),
        Err(Failure::Read(ReadFailure::Stopped)) => return stopping(ctx, state),
        Err(Failure::Read(ReadFailure::LineTooLong)) => {
            return Err(Error::bad_line(
                ctx.name,
                state.lines + 1,
                chunk.start_byte,
                too_long(ctx.plan),
            ))
        }
        Err(Failure::Read(ReadFailure::Read(e))) => {
            // The data ends after the chunk's `len` bytes.
            let e = std::io::Error::new(e.kind(), e.to_string());
            return Err(read_error(
                ctx.input,
                ctx.format,
                e,
                state.lines + crate::convert::chunk::count_lines(input) + 1,
                chunk.start_byte + chunk.len as u64,
            ));
        }
    };
    let mut scratch = None;
    let mut at = 0;
    let mut left = false;
    loop {
        let piece = &input[at..];
        let slot = if at == 0 { &chunk.slot } else { &*ctx.spare };
        let (out, runs) = (&slot.out, &slot.runs);
        let stored = match ctx.deflater {
            Some(_) => &slot.packed,
            None => out,
        };
        left |= ctx
            .writer
            .write_chunk(piece, out, stored, runs)
            .map_err(|e| match e {
                WriteError::TooManyContigs(what) => Error::bad_line(
                    ctx.name,
                    state.lines + 1,
                    chunk.start_byte + at as u64,
                    what,
                ),
                WriteError::Unsorted {
                    run_start,
                    contig,
                    before,
                } => unsorted(
                    ctx.name,
                    state.lines,
                    chunk.start_byte + at as u64,
                    piece,
                    run_start,
                    &contig,
                    before,
                ),
                WriteError::Io(e) => e,
            })?;
        state.lines += stats.lines;
        state.rows_in += stats.rows;
        state.rows_out += stats.rows_out;
        *ctx.repeated_headers += stats.headers;
        at += stats.consumed;
        if at >= input.len() {
            break;
        }
        // The chunk's rows did not all fit its output buffer: convert the rest here, a
        // buffer-full at a time.
        let scratch = scratch.get_or_insert_with(|| Scratch::new(ctx.layout));
        let spare = &mut *ctx.spare;
        spare.out.clear();
        spare.runs.clear();
        stats = convert_chunk(
            ctx.layout,
            &input[at..],
            scratch,
            ChunkOutput {
                out_cap: spare.out.capacity(),
                out: &mut spare.out,
                runs_cap: spare.runs.capacity(),
                runs: &mut spare.runs,
            },
        )
        .map_err(|e| line_error(ctx, state, chunk.start_byte + at as u64, &e))?;
        if let Some(d) = &mut ctx.deflater {
            ctx.spare.packed.clear();
            d.compress(&ctx.spare.out, &mut ctx.spare.packed);
        }
    }
    state.input_bytes = chunk.start_byte + chunk.len as u64;
    state.source_bytes = ctx.source_bytes.load(Ordering::Relaxed);
    state.contigs = ctx.writer.contigs().len();
    state.left_contig = left;
    ctx.observer.written(state, ctx.writer)
}

/// Lets the observer checkpoint what is written, and ends the conversion as stopped.
fn stopping(ctx: &mut WriteCtx<'_>, state: &mut Position) -> Result<()> {
    state.left_contig = false;
    ctx.observer.stopping(state, ctx.writer)?;
    Err(Error::stopped())
}

/// The error for the first line of `contig` from `run_start` on in `piece` whose POS is
/// below `before` (the run's first record is one). `lines` counts the lines before `piece`,
/// which starts at byte `base` of the input.
fn unsorted(
    name: &str,
    lines: u64,
    base: u64,
    piece: &[u8],
    run_start: usize,
    contig: &[u8],
    before: u64,
) -> Error {
    let mut start = run_start;
    let (mut at, mut pos) = (run_start, before);
    for line in piece[run_start..].split(|&b| b == b'\n') {
        let mut fields = line.splitn(3, |&b| b == b'\t');
        if fields.next() == Some(contig) {
            if let Some(p) = fields.next() {
                let value = std::str::from_utf8(p)
                    .ok()
                    .and_then(|p| p.parse::<u64>().ok());
                if let Some(value) = value.filter(|&v| v < before) {
                    (at, pos) = (start + contig.len() + 1, value);
                    break;
                }
            }
        }
        start += line.len() + 1;
    }
    let line = lines + crate::convert::chunk::count_lines(&piece[..at]) + 1;
    let e = crate::convert::vcf::decreasing(at, contig, pos, before);
    Error::bad_line(name, line, base + at as u64, e.what)
}

fn line_error(ctx: &WriteCtx<'_>, state: &Position, base: u64, e: &ChunkError) -> Error {
    Error::bad_line(
        ctx.name,
        state.lines + e.line + 1,
        base + e.offset as u64,
        e.what.clone(),
    )
}
