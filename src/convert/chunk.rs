//! A chunk of whole lines to output rows, plus the contig runs the writer needs to keep
//! contigs grouped. Pure: bytes in, bytes out, no files, no threads.

use memchr::{memchr, memchr2, Memchr};

use super::fast::{classify_tail, fixed_line, write_fixed_variant, Tail};
use super::layout::Layout;
use super::row::{convert_line, same, RowOutcome, Scratch};
use crate::config::Format;
use crate::error::BadInputReason;

/// Why a VCF's first line after matrix lines is refused (a matrix and a VCF joined with
/// `cat`).
pub const VCF_JOINED: &str =
    "a VCF joined to the matrix starts here (a `##fileformat=VCF` or `#CHROM POS ID REF ALT` \
     line after matrix lines, as `cat` of a matrix and a VCF leaves it): convert the VCF to a \
     matrix on its own (`bcftools query -f '%CHROM\\t%POS\\t%REF[\\t%TGT]\\n' FILE.vcf.gz | \
     tr '|/' '\\t\\t'`) before joining";

/// What a `\r` inside a line means: an old-Mac line end (files of both kinds of line end
/// are made by joining or editing on different systems). The reference (pandas) would take
/// it as a line end; hapflow refuses rather than guess.
pub const BARE_CR: &str =
    "the line holds a bare \\r (an old-Mac line end) where only \\n or \\r\\n may \
     end a line: two lines run together here; convert the file with `tr '\\r' '\\n'` (blank \
     lines are skipped)";

/// A stretch of consecutive input lines of one contig. `contig` is a range of the chunk
/// (the contig's name); the stretch's rows start at `out_start` in the output buffer and end
/// where the next run starts (or at the end of the output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContigRun {
    /// The contig's name as a byte range `start..end` of the chunk.
    pub contig: (u32, u32),
    /// Where the run's first row starts in the output buffer, in bytes.
    pub out_start: u32,
}

/// Where a chunk's output goes: two reused buffers and the most each may hold.
pub struct ChunkOutput<'a> {
    /// The output rows, appended.
    pub out: &'a mut Vec<u8>,
    /// The most bytes `out` may hold; it is never grown beyond.
    pub out_cap: usize,
    /// The contig runs of the rows, appended.
    pub runs: &'a mut Vec<ContigRun>,
    /// The most runs `runs` may hold: a chunk with more contigs stops at the next one.
    pub runs_cap: usize,
}

/// What a chunk held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChunkStats {
    /// Lines read, blank ones included (each ends in `\n`, but the input's last may not).
    pub lines: u64,
    /// Data lines (not blank).
    pub rows: u64,
    /// Rows written.
    pub rows_out: u64,
    /// Lines equal to the input's header line, skipped (matrices joined with `cat`).
    pub headers: u64,
    /// Bytes of the chunk converted. Less than its length when the output buffers filled up:
    /// the caller writes what it has and converts the rest again.
    pub consumed: usize,
}

/// A bad line in a chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkError {
    /// Lines of the chunk before the bad one (blank lines included): 0 for its first line.
    pub line: u64,
    /// Byte offset in the chunk of the bad line's first byte.
    pub line_start: usize,
    /// Byte offset in the chunk of the problem.
    pub offset: usize,
    /// Why the line is bad.
    pub what: BadInputReason,
}

/// Converts the whole lines of `chunk`, appending rows to `dst.out` and contig runs to
/// `dst.runs` (which the caller clears). Never grows either beyond its cap.
///
/// Blank lines, and lines equal to the input's header line (matrices joined with `cat`),
/// give no row; a line ending `\r\n` is read without its `\r`. When the output buffers
/// fill up the chunk is converted only in part: [`ChunkStats::consumed`] says how far, and
/// the caller converts the rest again after writing the output.
///
/// # Errors
///
/// `ChunkError` at the first bad line: a NUL byte, a line that is not a matrix line (see
/// `convert_line`, and for VCF output
/// `vcf::convert_line`), or a row larger than `dst.out_cap`
/// on its own. The output of the lines before it is in `dst` then.
pub fn convert_chunk(
    layout: &Layout,
    chunk: &[u8],
    scratch: &mut Scratch,
    dst: ChunkOutput<'_>,
) -> Result<ChunkStats, ChunkError> {
    let ChunkOutput {
        out,
        out_cap,
        runs,
        runs_cap,
    } = dst;
    let mut stats = ChunkStats::default();
    let mut pos = 0;
    // The fast paths know only the default allele model.
    let fast = layout.alleles().is_default();
    let vcf = layout.format() == Format::Vcf;
    // VCF: an invariant line (every haplotype N or REF) has no record only if N means no call.
    let invariant_drops = !vcf || layout.missing().contains(&b'N');
    scratch.vcf.start_chunk();
    while pos < chunk.len() {
        // Most rows are in the fixed one-letter layout of the previous row's contig: drop
        // the invariant ones without splitting fields, write the variant ones from a
        // template.
        if let (Some(run), true) = (runs.last(), fast) {
            let contig = &chunk[run.contig.0 as usize..run.contig.1 as usize];
            let rest = &chunk[pos..];
            if let Some(f) = fixed_line(rest, contig, layout.columns()) {
                let tail = &rest[f.reference + 1..f.end];
                let kind = classify_tail(tail, rest[f.reference]);
                let mut written = kind == Tail::Variant;
                let done = match kind {
                    Tail::Invariant => invariant_drops,
                    Tail::Variant if vcf => {
                        match super::vcf::write_fixed(
                            layout, rest, &f, contig, scratch, out, out_cap,
                        ) {
                            Some(w) => {
                                written = w;
                                true
                            }
                            None => false,
                        }
                    }
                    Tail::Variant => write_fixed_variant(
                        layout,
                        rest,
                        &f,
                        contig,
                        &mut scratch.template,
                        out,
                        out_cap,
                    ),
                    Tail::Other => false,
                };
                if done {
                    debug_assert!(
                        memchr(0, &rest[..f.next]).is_none(),
                        "the fast path never takes a NUL"
                    );
                    stats.lines += 1;
                    stats.rows += 1;
                    stats.rows_out += written as u64;
                    pos += f.next;
                    continue;
                }
            }
        }
        let end = memchr(b'\n', &chunk[pos..]).map_or(chunk.len(), |i| pos + i);
        let error = |at: usize, what: BadInputReason| ChunkError {
            line: stats.lines,
            line_start: pos,
            offset: at,
            what,
        };
        // The fast path never takes a NUL or a `\r`; here, each line is checked for both: a
        // `\r` is only allowed right before the `\n`.
        let mut line = &chunk[pos..end];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        // A byte-order mark at the start of any line is ignored: files saved on Windows and
        // joined with `cat` carry one at each join. The fast path never takes such a line
        // (its contig compare fails on the mark's first byte, 0xEF), so this costs it nothing.
        let mut start = pos;
        if let Some(rest) = line.strip_prefix(crate::read::start::BOM) {
            line = rest;
            start += crate::read::start::BOM.len();
        }
        if let Some(i) = memchr2(0, b'\r', line) {
            return Err(error(
                start + i,
                match line[i] {
                    0 => BadInputReason::NulByte,
                    _ => BARE_CR.into(),
                },
            ));
        }
        if line.is_empty() || is_repeated_header(layout, line) {
            stats.headers += !line.is_empty() as u64;
            stats.lines += 1;
            pos = end + 1;
            continue;
        }

        let contig_end = memchr(b'\t', line).unwrap_or(line.len());
        let contig = (start as u32, (start + contig_end) as u32);
        let same = runs.last().is_some_and(|r| {
            same(
                &chunk[r.contig.0 as usize..r.contig.1 as usize],
                &line[..contig_end],
            )
        });
        if !same {
            if runs.len() == runs_cap {
                break;
            }
            // A commented-out row (`#chr1\t...`) has the fields of a row: it would convert
            // as a contig named `#chr1`. Looked at only where a contig's run starts.
            if crate::read::start::is_comment(line) && !is_vcf_start(line) {
                return Err(error(start, BadInputReason::CommentLine));
            }

            runs.push(ContigRun {
                contig,
                out_start: out.len() as u32,
            });
        }

        let converted = if vcf {
            super::vcf::convert_line(layout, line, scratch, out, out_cap)
        } else {
            convert_line(layout, line, scratch, out, out_cap)
        };
        // VCF: a contig's name is checked at its run's first line, once the line is known to
        // be a matrix row (a line of space-separated fields is named as such, not as a
        // contig name with spaces).
        if vcf && !same && matches!(converted, Ok(RowOutcome::Dropped | RowOutcome::Written)) {
            super::vcf::check_contig(layout, &line[..contig_end], 0)
                .map_err(|e| error(start + e.at, e.reason))?;
        }
        match converted {
            Ok(RowOutcome::Dropped) => {}
            Ok(RowOutcome::Written) => stats.rows_out += 1,
            Ok(RowOutcome::NoRoom(need)) => {
                if stats.rows_out == 0 && out.is_empty() {
                    return Err(error(
                        pos,
                        BadInputReason::RowTooLarge { need, cap: out_cap },
                    ));
                }
                if !same {
                    runs.pop();
                }
                break;
            }
            Err(_) if is_vcf_start(line) => return Err(error(start, VCF_JOINED.into())),
            Err(_) if crate::read::start::is_comment(line) => {
                return Err(error(start, BadInputReason::CommentLine))
            }
            Err(e) => return Err(error(start + e.at, e.reason)),
        }
        stats.lines += 1;
        stats.rows += 1;
        pos = end + 1;
    }
    stats.consumed = pos.min(chunk.len());
    Ok(stats)
}

/// True if `line` (its byte-order mark, if any, already removed) is the input's header line
/// again, as `cat` of several matrices leaves it.
fn is_repeated_header(layout: &Layout, line: &[u8]) -> bool {
    layout
        .repeated_header()
        .is_some_and(|h| line.len() == h.len() && line == h)
}

/// True if `line` starts a VCF: its `##fileformat=VCF` line or its `#CHROM POS ID REF ALT`
/// column header (looked at only once the line failed as a matrix line).
fn is_vcf_start(line: &[u8]) -> bool {
    line.starts_with(b"##fileformat=VCF") || crate::read::start::is_vcf_header(line)
}

/// Counts the lines in `bytes`, the `\n` bytes (used to turn a chunk's line index into a
/// file's).
pub fn count_lines(bytes: &[u8]) -> u64 {
    Memchr::new(b'\n', bytes).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::default_pairs;

    fn small_layout() -> Layout {
        use crate::config::{ColumnRef, PairSpec};
        let p = PairSpec::new("a", ColumnRef::Index(3), "b", ColumnRef::Index(4));
        Layout::resolve(&[p], None, 5).unwrap()
    }

    fn run(
        l: &Layout,
        chunk: &[u8],
        cap: usize,
    ) -> (Result<ChunkStats, ChunkError>, Vec<u8>, Vec<ContigRun>) {
        let mut out = Vec::with_capacity(cap);
        let mut runs = Vec::with_capacity(16);
        let mut s = Scratch::new(l);
        let r = convert_chunk(
            l,
            chunk,
            &mut s,
            ChunkOutput {
                out: &mut out,
                out_cap: cap,
                runs: &mut runs,
                runs_cap: 16,
            },
        );
        (r, out, runs)
    }

    #[test]
    fn crlf_blank_lines_and_a_missing_last_newline() {
        let l = small_layout();
        let (r, out, runs) = run(
            &l,
            b"c\t1\tA\tC\tA\r\n\r\n\nc\t2\tA\tA\tA\nd\t3\tG\tN\tT",
            1024,
        );
        let s = r.unwrap();
        assert_eq!((s.lines, s.rows, s.rows_out), (5, 3, 2));
        assert_eq!(out, b"c\t1\tA\tC\tc\tC|A\nd\t3\tG\tT\td\tG|T\n");
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[1].out_start as usize, "c\t1\tA\tC\tc\tC|A\n".len());
    }

    #[test]
    fn runs_record_contigs_of_dropped_rows_too() {
        let l = small_layout();
        let (_, out, runs) = run(&l, b"x\t1\tA\tA\tA\ny\t1\tA\tC\tA\n", 1024);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].out_start, 0);
        assert_eq!(runs[1].out_start, 0);
        assert!(out.starts_with(b"y\t"));
    }

    #[test]
    fn errors_carry_the_line_index_and_offset() {
        let l = small_layout();
        let (r, _, _) = run(&l, b"c\t1\tA\tC\tA\n\nc\tx\tA\tC\tA\n", 1024);
        let e = r.unwrap_err();
        assert_eq!((e.line, e.line_start, e.offset), (2, 11, 13));
        let (r, _, _) = run(&l, b"c\t1\tA\tC\tA\nc\t2\tA\0\tC\tA\n", 1024);
        let e = r.unwrap_err();
        assert_eq!((e.line, e.offset), (1, 15));
        assert!(e.what.to_string().contains("NUL"));
    }

    #[test]
    fn a_full_output_buffer_stops_at_a_line_boundary() {
        let l = small_layout();
        let chunk = b"c\t1\tA\tC\tA\nc\t2\tA\tC\tA\nc\t3\tA\tC\tA\n";
        let row = "c\t1\tA\tC\tc\tC|A\n".len();
        let (r, out, _) = run(&l, chunk, 2 * row + 3);
        let s = r.unwrap();
        assert_eq!((s.rows_out, s.consumed), (2, 20));
        assert_eq!(out.len(), 2 * row);
        let (r, _, _) = run(&l, chunk, row - 1);
        assert!(r.unwrap_err().what.to_string().contains("more than the"));
    }

    #[test]
    fn default_layout_converts_a_question_shaped_line() {
        let l = Layout::resolve(&default_pairs(), None, 34).unwrap();
        let mut line = b"2\t1\tT".to_vec();
        for i in 3..34 {
            line.extend_from_slice(if i == 7 { b"\tC" } else { b"\tT" });
        }
        let (r, out, _) = run(&l, &line, 4096);
        assert_eq!(r.unwrap().rows_out, 1);
        let text = String::from_utf8(out).unwrap();
        let fields: Vec<&str> = text.trim_end().split('\t').collect();
        assert_eq!(fields.len(), 34);
        assert_eq!(&fields[..4], &["2", "1", "T", "C"]);
        assert_eq!(
            fields[4 + 2 * 5 + 1],
            "C|T",
            "23a (column 7) | 23b (column 23)"
        );
    }
}
