//! One run of the pipeline, wired: the input opened and its start read, the layout resolved,
//! the slots reserved, the reader and worker threads started, and the calling thread
//! writing until the input ends.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crossbeam_channel::bounded;

use crate::budget::Budget;
use crate::config::Format;
use crate::convert::layout::{resolve_for_input, Layout};
use crate::error::{Error, Result};
use crate::read::bisect;
use crate::read::fai::FastaIndex;
use crate::read::format::DecoderCaps;
use crate::read::start::{read_start, StartError};
use crate::read::{Chunker, Source};
use crate::write::assemble::ReadFrom;
use crate::write::bgzf::{self, Deflater};
use crate::write::{ContigTable, Ending, GroupedWriter, TempOutput};

use super::errors::{read_error, too_long};
use super::observer::{CheckpointHandle, Observer};
use super::reader::read_chunks;
use super::request::Parts;
use super::slot::{Chunk, Slot};
use super::worker::convert_chunks;
use super::writer::{write_in_order, WriteCtx};
use super::{Progress, StartFrom, Summary};

/// Runs a conversion from `start` to its finished, unpublished output: the spool itself, or
/// the regrouped copy `grouped()` gives when contigs were interleaved.
pub(super) fn run(
    mut request: Parts,
    start: StartFrom,
    observer: &mut dyn Observer,
    stop: &AtomicBool,
    grouped: impl FnOnce() -> Result<TempOutput>,
) -> Result<(TempOutput, Summary)> {
    let started = Instant::now();
    let bgzf_level = request.output.bgzf_level;
    let plan = match bgzf_level {
        Some(level) if request.plan.packed_cap == 0 => request.plan.with_bgzf(level),
        _ => request.plan,
    };
    // The input's first bytes say how it is stored, and so what its decoder needs.
    let caps = DecoderCaps::for_pool(plan.pool);
    let opened = request.open(plan.inflaters(), caps)?;
    let name = opened.name.clone();
    let source = opened.source;
    let stored = source.format;
    let plan = plan.with_decoder(caps.extra_bytes(stored))?;
    // A FASTA index is held for the whole run: its lines are checked and its memory
    // measured first, and the chunks make room for it.
    let fasta_index = match &request.output.fai {
        Some(path) => Some(FastaIndex::measure(path)?),
        None => None,
    };
    let plan = match &fasta_index {
        Some(index) => plan.with_index(index.bytes(), &index.what())?,
        None => plan,
    };
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
            read_error(&name, &opened.io_path, stored, error, line, byte)
        }
    })?;
    let mut layout = resolve_for_input(
        &request.pairs,
        request.pairs_source.as_deref(),
        request.header_file.as_deref(),
        &begin,
        &name,
    )?
    .with_alleles(request.alleles.clone())
    .with_repeated_header(begin.header_text.clone());
    layout.set_output(request.output.format);
    if let Some(index) = fasta_index {
        layout.set_fasta_index(index.load(&budget)?);
    }
    let compress = |text: Vec<u8>| match bgzf_level {
        Some(level) => bgzf::compress_to_vec(level, &text),
        None => text,
    };
    // A fresh VCF spool starts with the header of the contigs guessed up front, if any; a
    // resumed one with whatever header its first run wrote, read back from it.
    let header = match (&start, layout.format()) {
        (StartFrom::Fresh(_), Format::Vcf) => compress(vcf_header_first(
            &layout,
            opened.path.as_deref().filter(|_| !stored.is_compressed()),
            begin.skipped_bytes,
            // The contig table is empty yet: its memory holds the guess for a moment.
            plan.contig_bytes,
        )),
        (StartFrom::Resume(cp), Format::Vcf) => compress(vcf_header_in_spool(
            cp,
            bgzf_level.is_some(),
            plan.contig_bytes,
        )?),
        _ => compress(layout.header_line().to_vec()),
    };

    let (mut writer, mut state, filled, start_byte, source_bytes) = match start {
        StartFrom::Fresh(spool) => {
            let mut writer = GroupedWriter::create(spool, &header, contig_grant)?;
            if layout.format() == Format::Vcf {
                writer.check_positions();
            }
            let state = Progress {
                lines: begin.skipped_lines,
                ..Progress::default()
            };
            (
                writer,
                state,
                begin.filled,
                begin.skipped_bytes,
                source.source_bytes,
            )
        }
        StartFrom::Resume(cp) => {
            let Some(path) = &opened.path else {
                return Err(Error::config("only a file can be resumed"));
            };
            let table = ContigTable::restore(contig_grant, cp.contigs, cp.current, cp.contiguous)
                .map_err(|e| Error::store(format!("cannot resume: {e}")))?;
            check_spool_head(&cp.spool, cp.spool_len, &header)?;
            let mut writer = GroupedWriter::resume(cp.spool, &header, table, cp.spool_len);
            if layout.format() == Format::Vcf {
                writer.check_positions();
            }
            let source = Source::open_at(path, cp.progress.input_bytes, plan.inflaters(), caps)?;
            chunker = Chunker::new(source.reader);
            let state = Progress {
                left_contig: false,
                finished: false,
                ..cp.progress
            };
            (
                writer,
                state,
                0,
                cp.progress.input_bytes,
                source.source_bytes,
            )
        }
    };

    // In the spool now; a VCF header of many contigs is worth giving back before the
    // contig table grows into the memory it held.
    drop(header);
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
        let compressed = stored.is_compressed();
        s.spawn(move || read_chunks(chunker, first_chunk, work_tx, free_rx, stop, compressed));
        for _ in 0..workers {
            let (rx, tx, layout) = (work_rx.clone(), done_tx.clone(), &layout);
            s.spawn(move || convert_chunks(layout, bgzf_level, rx, tx));
        }
        drop((work_rx, done_tx));
        let mut ctx = WriteCtx {
            deflater: bgzf_level.map(Deflater::new),
            io_path: &opened.io_path,
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
    observer.written(&state, &mut CheckpointHandle::new(&mut writer))?;
    let vcf_header = |contigs: &ContigTable| {
        crate::write::vcf::header(layout.samples(), contigs.names(), layout.fasta_index())
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
            copied: written.copied,
            repeated_headers,
            seconds: started.elapsed().as_secs_f64(),
        },
    ))
}

/// For VCF, the header to write before the records: made from the contigs guessed by
/// bisection ([`crate::read::bisect`]) when `path` is an uncompressed regular file, so the
/// spool can become the output without a copy if the guess proves right; empty when there
/// is no guess (the header is then made at the end, from the contigs seen). `data_start`
/// is the first data line's offset; `memory` bounds the guess's memory.
fn vcf_header_first(
    layout: &Layout,
    path: Option<&Path>,
    data_start: u64,
    memory: usize,
) -> Vec<u8> {
    let guess = || {
        let file = std::fs::File::open(path?).ok()?;
        let len = file.metadata().ok().filter(|m| m.is_file())?.len();
        let limits = bisect::Limits::for_file(len, memory);
        let names = bisect::guess_contigs(&file, data_start, len, limits)?;
        let names = names.iter().map(|n| &n[..]);
        crate::write::vcf::header(layout.samples(), names, layout.fasta_index()).ok()
    };
    guess().unwrap_or_default()
}

/// The VCF header a resumed spool starts with, as text: its lines up to the `#CHROM` line
/// (records never start with `#`: such a contig is refused); empty when the spool starts
/// with a record, or holds nothing yet. The first run may have guessed the contigs or not
/// (a guess can be given up on a slow disk, and another version may guess otherwise), so
/// the spool, not a new guess, says what it holds; when the output is finished the header
/// is checked against the contigs seen as for a fresh run. `memory` bounds the header.
///
/// # Errors
///
/// A store error (the daemon then starts the job over) when the spool's head is not a
/// whole header: no `#CHROM` line before the first record or within `memory` bytes, or a
/// read or BGZF error.
fn vcf_header_in_spool(cp: &super::Checkpoint, bgzf: bool, memory: usize) -> Result<Vec<u8>> {
    let not_whole =
        |why: &str| Error::store(format!("cannot resume: the spool's VCF header {why}"));
    let raw = ReadFrom::new(cp.spool.file(), 0).take(cp.spool_len);
    let mut text: Box<dyn BufRead> = match bgzf {
        true => Box::new(BufReader::new(noodles_bgzf::io::Reader::new(raw))),
        false => Box::new(BufReader::new(raw)),
    };
    let mut header = Vec::new();
    loop {
        let next = text
            .fill_buf()
            .map_err(|e| not_whole(&format!("cannot be read: {e}")))?;
        if next.first() != Some(&b'#') {
            return match header.is_empty() {
                true => Ok(header),
                false => Err(not_whole("has no #CHROM line")),
            };
        }
        let line_start = header.len();
        (&mut text)
            .take((memory + 1).saturating_sub(header.len()) as u64)
            .read_until(b'\n', &mut header)
            .map_err(|e| not_whole(&format!("cannot be read: {e}")))?;
        if header.len() > memory || header.last() != Some(&b'\n') {
            return Err(not_whole("is cut short or too long"));
        }
        if header[line_start..].starts_with(b"#CHROM\t") {
            return Ok(header);
        }
    }
}

/// A resumed spool must start with the header this run writes: the table formats' header
/// line, or for VCF the header read back from the spool, compressed again for BGZF (the
/// same bytes only if its blocks were cut as this version cuts them). Else the checkpoint
/// cannot be carried on, and the store's error has the daemon start the job over.
fn check_spool_head(spool: &TempOutput, spool_len: u64, header: &[u8]) -> Result<()> {
    let mut head = vec![0u8; header.len()];
    let same = spool_len >= header.len() as u64
        && spool.file().read_exact_at(&mut head, 0).is_ok()
        && head == header;
    if same {
        Ok(())
    } else {
        Err(Error::store(
            "cannot resume: the spool does not start with the header this version writes",
        ))
    }
}
