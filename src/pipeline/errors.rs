//! How a failure in one thread becomes the conversion's error: what the reader and the
//! workers hand the writer instead of a converted chunk, and the messages that name the line
//! and byte of the input where it happened.

use std::path::Path;

use crate::convert::{ChunkError, Layout, Scratch};
use crate::error::{BadInputReason, Error};
use crate::read::format::Format as InputFormat;

use super::plan::Plan;

/// Why the reader stopped short of the end of the input.
pub(super) enum ReadFailure {
    /// A line does not fit a chunk buffer.
    LineTooLong,
    /// The chunk's `len` bytes are what was read before the error: the data ends there.
    Read(std::io::Error),
    /// A stop was requested.
    Stopped,
}

/// What a chunk carries instead of its conversion's statistics.
pub(super) enum Failure {
    /// The reader failed or stopped here.
    Read(ReadFailure),
    /// A line of the chunk is not a matrix line.
    Line(ChunkError),
}

pub(super) fn too_long(plan: &Plan) -> BadInputReason {
    BadInputReason::LineTooLong {
        chunk: plan.chunk as u64,
        limit: plan.limit,
    }
}

/// A read that failed: for compressed input, bad input that names where the data ends
/// (`line`, `byte` of the decompressed input: the same whatever the chunk size); else an
/// I/O error.
pub(super) fn read_error(
    name: &str,
    io_path: &Path,
    format: InputFormat,
    e: std::io::Error,
    line: u64,
    byte: u64,
) -> Error {
    use std::io::ErrorKind::{InvalidData, InvalidInput, Other, UnexpectedEof};
    if format.is_compressed()
        && matches!(e.kind(), UnexpectedEof | InvalidData | InvalidInput | Other)
    {
        let stored = format.name();
        let text = e.to_string();
        let what: BadInputReason = if text.to_lowercase().contains("memory")
            || text.contains("window")
        {
            let (fits, hint) = match format {
                InputFormat::Xz => (
                    "xz -6 and lower always fit; xz -9 needs a limit of about 200 MiB",
                    "xz -6",
                ),
                _ => (
                    "zstd -19 and lower always fit; a larger window (zstd --long) needs a limit of about three times the window",
                    "zstd -19, without --long or --ultra",
                ),
            };
            format!(
                "this {stored} file needs more memory to decompress than this memory limit sets aside for it (a third of the limit; {fits}): raise --memory-limit, or recompress it with {hint} ({text})"
            )
            .into()
        } else if crate::read::decode::is_bytes_after_end(&e) {
            BadInputReason::TrailingBytes {
                format: stored,
                lines: line - 1,
                decoder: text,
            }
        } else if crate::read::decode::fails_integrity_check(&e) {
            BadInputReason::CorruptCompressed {
                format: stored,
                lines: line - 1,
                decoder: text,
            }
        } else {
            BadInputReason::CutShort {
                format: stored,
                lines: line - 1,
                decoder: text,
            }
        };
        Error::bad_line(name, line, byte, what)
    } else {
        Error::io(io_path, "read", e)
    }
}

/// The error for the first record (a line with a VCF record, not one left out) of the
/// contig run starting at `run_start` in `piece`: its POS is below `before`, the contig's
/// last POS so far. `lines` counts the lines before `piece`, which starts at byte `base`
/// of the input.
#[allow(clippy::too_many_arguments)]
pub(super) fn unsorted(
    name: &str,
    layout: &Layout,
    lines: u64,
    base: u64,
    piece: &[u8],
    run_start: usize,
    contig: &[u8],
    before: u64,
) -> Error {
    let mut scratch = Scratch::new(layout);
    let mut record = Vec::new();
    let mut start = run_start;
    let (mut at, mut pos) = (run_start + contig.len() + 1, before);
    for line in piece[run_start..].split(|&b| b == b'\n') {
        let text = line.strip_suffix(b"\r").unwrap_or(line);
        record.clear();
        let written =
            crate::convert::vcf::convert_line(layout, text, &mut scratch, &mut record, usize::MAX);
        if matches!(written, Ok(crate::convert::RowOutcome::Written)) {
            at = start + contig.len() + 1;
            pos = crate::convert::vcf::record_pos(&record).unwrap_or(0);
            break;
        }
        start += line.len() + 1;
    }
    let line = lines + crate::convert::chunk::count_lines(&piece[..at]) + 1;
    let e = crate::convert::vcf::decreasing(at, contig, pos, before);
    Error::bad_line(name, line, base + at as u64, e.reason)
}

/// The error for a bad line in a chunk that starts at byte `base` of the input, after
/// `lines` lines.
pub(super) fn line_error(name: &str, lines: u64, base: u64, e: &ChunkError) -> Error {
    Error::bad_line(
        name,
        lines + e.line + 1,
        base + e.offset as u64,
        e.what.clone(),
    )
}
