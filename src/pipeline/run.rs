//! One run of the pipeline, wired: the input opened and its start read, the layout resolved,
//! the slots reserved, the reader and worker threads started, and the calling thread
//! writing until the input ends.

use std::io::Read;
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
    let header_text = match layout.format() {
        Format::Vcf => vcf_header_first(
            &layout,
            opened.path.as_deref().filter(|_| !stored.is_compressed()),
            begin.skipped_bytes,
            // The contig table is empty yet: its memory holds the guess for a moment.
            plan.contig_bytes,
        ),
        _ => layout.header_line().to_vec(),
    };
    let header = match bgzf_level {
        Some(level) => bgzf::compress_to_vec(level, &header_text),
        None => header_text,
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
            let vcf_bgzf = (layout.format() == Format::Vcf).then_some(bgzf_level.is_some());
            check_spool_head(&cp.spool, cp.spool_len, &header, vcf_bgzf)?;
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

/// A resumed spool must start with the header this run writes (for VCF, made from a guess
/// of the contigs, which another version of hapflow, or a guess given up on a slow disk,
/// may have made otherwise), and a VCF spool for which this run has no header must not
/// start with one (`vcf_bgzf`: Some(whether it is BGZF) for VCF): else the checkpoint
/// cannot be carried on, and the store's error has the daemon start the job over.
fn check_spool_head(
    spool: &TempOutput,
    spool_len: u64,
    header: &[u8],
    vcf_bgzf: Option<bool>,
) -> Result<()> {
    let mut head = vec![0u8; header.len()];
    let mut same = spool_len >= header.len() as u64
        && spool.file().read_exact_at(&mut head, 0).is_ok()
        && head == header;
    if let (Some(bgzf), true, true) = (vcf_bgzf, header.is_empty(), same) {
        let mut first = [0u8; 2];
        let rows = ReadFrom::new(spool.file(), 0).take(spool_len);
        let read = match bgzf {
            true => noodles_bgzf::io::Reader::new(rows).read_exact(&mut first),
            false => { rows }.read_exact(&mut first),
        };
        same = !(read.is_ok() && &first == b"##");
    }
    if same {
        Ok(())
    } else {
        Err(Error::store(
            "cannot resume: the spool does not start with the header this version writes",
        ))
    }
}
