//! The writer (the calling thread): puts converted chunks back in input order within the
//! reorder window (one place per slot), writes them, tells the observer, and returns each
//! slot to the reader.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crossbeam_channel::{Receiver, Sender};

use crate::config::Format;
use crate::convert::{convert_chunk, ChunkOutput, Layout, Scratch};
use crate::error::{Error, ErrorKind, Result};
use crate::read::format::Format as InputFormat;
use crate::write::bgzf::Deflater;
use crate::write::{GroupedWriter, WriteError};

use super::errors::{line_error, read_error, too_long, unsorted, Failure, ReadFailure};
use super::observer::{CheckpointHandle, Observer};
use super::plan::Plan;
use super::slot::{Chunk, Slot};
use super::Progress;

/// What the writer works with, borrowed from the run for its length.
pub(super) struct WriteCtx<'a> {
    /// Compresses what the writer converts itself, when the output is BGZF.
    pub(super) deflater: Option<Deflater>,
    /// The path named in I/O errors.
    pub(super) io_path: &'a Path,
    pub(super) name: &'a str,
    pub(super) plan: &'a Plan,
    pub(super) format: InputFormat,
    pub(super) repeated_headers: &'a mut u64,
    pub(super) layout: &'a Layout,
    pub(super) writer: &'a mut GroupedWriter,
    pub(super) spare: &'a mut Slot,
    pub(super) observer: &'a mut dyn Observer,
    pub(super) source_bytes: &'a AtomicU64,
    pub(super) stop: &'a AtomicBool,
}

/// The writer: puts chunks back in input order (the reorder window is the slot count) and
/// writes them, returning each slot to the reader.
pub(super) fn write_in_order(
    ctx: &mut WriteCtx<'_>,
    state: &mut Progress,
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

fn write_chunk(ctx: &mut WriteCtx<'_>, state: &mut Progress, chunk: &Chunk) -> Result<()> {
    let outcome = chunk.outcome.as_ref().expect("workers fill every outcome");
    let input = &chunk.slot.input[..chunk.len];
    let mut stats = match outcome {
        Ok(stats) => *stats,
        Err(Failure::Line(e)) => {
            // VCF: a record before this line may break the sorted order against earlier
            // chunks (the worker cannot see them); the first fault is the one named.
            let before = &input[..e.line_start];
            return Err(first_unsorted(ctx, state.lines, chunk.start_byte, before)
                .unwrap_or_else(|| line_error(ctx.name, state.lines, chunk.start_byte, e)));
        }
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
                ctx.name,
                ctx.io_path,
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
                // Named at the first line of the contig that did not fit (its run's first
                // line: a contig's first appearance always starts a run).
                WriteError::TooManyContigs { run_start, what } => Error::bad_line(
                    ctx.name,
                    state.lines + crate::convert::chunk::count_lines(&piece[..run_start]) + 1,
                    chunk.start_byte + (at + run_start) as u64,
                    what,
                ),
                WriteError::Unsorted {
                    run_start,
                    contig,
                    before,
                } => unsorted(
                    ctx.name,
                    ctx.layout,
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
        .map_err(|e| {
            let base = chunk.start_byte + at as u64;
            let before = &input[at..at + e.line_start];
            first_unsorted(ctx, state.lines, base, before)
                .unwrap_or_else(|| line_error(ctx.name, state.lines, base, &e))
        })?;
        if let Some(d) = &mut ctx.deflater {
            ctx.spare.packed.clear();
            d.compress(&ctx.spare.out, &mut ctx.spare.packed);
        }
    }
    state.input_bytes = chunk.start_byte + chunk.len as u64;
    state.source_bytes = ctx.source_bytes.load(Ordering::Relaxed);
    state.contigs = ctx.writer.contigs().len();
    state.left_contig = left;
    ctx.observer
        .written(state, &mut CheckpointHandle::new(ctx.writer))
}

/// Lets the observer checkpoint what is written, and ends the conversion as stopped.
fn stopping(ctx: &mut WriteCtx<'_>, state: &mut Progress) -> Result<()> {
    state.left_contig = false;
    ctx.observer
        .stopping(state, &mut CheckpointHandle::new(ctx.writer))?;
    Err(Error::stopped())
}

/// VCF: the error for the first record of `lines_ok` (whole lines that converted without
/// error, before a line that did not) that breaks the sorted order against what the writer
/// has seen: a contig coming back below its last POS. None when there is none (or for other
/// formats). `lines` counts the lines before `lines_ok`, which starts at byte `base`. This
/// runs only on the way to an error, so converting the lines again costs nothing that
/// matters; the writer's state it changes dies with the conversion.
fn first_unsorted(
    ctx: &mut WriteCtx<'_>,
    mut lines: u64,
    mut base: u64,
    lines_ok: &[u8],
) -> Option<Error> {
    if ctx.layout.format() != Format::Vcf {
        return None;
    }
    let mut scratch = Scratch::new(ctx.layout);
    let mut at = 0;
    while at < lines_ok.len() {
        let piece = &lines_ok[at..];
        let spare = &mut *ctx.spare;
        spare.out.clear();
        spare.runs.clear();
        let stats = convert_chunk(
            ctx.layout,
            piece,
            &mut scratch,
            ChunkOutput {
                out_cap: spare.out.capacity(),
                out: &mut spare.out,
                runs_cap: spare.runs.capacity(),
                runs: &mut spare.runs,
            },
        )
        .ok()?;
        if let Err(WriteError::Unsorted {
            run_start,
            contig,
            before,
        }) = ctx.writer.write_chunk(piece, &spare.out, &[], &spare.runs)
        {
            return Some(unsorted(
                ctx.name, ctx.layout, lines, base, piece, run_start, &contig, before,
            ));
        }
        if stats.consumed == 0 {
            return None;
        }
        lines += stats.lines;
        base += stats.consumed as u64;
        at += stats.consumed;
    }
    None
}
