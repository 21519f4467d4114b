//! The start of an input: whether its first line is a header, how many fields a line has,
//! and whether it is a genome matrix at all (a VCF, an old-Mac text file and a space-separated
//! table are told apart here, by what they look like), read into the first chunk buffer
//! before the pipeline starts.

use std::io;

use memchr::{memchr, Memchr};

use super::chunker::{Chunker, ReadError};
use super::format::sniff;
use super::header::header_line_names;
use crate::error::BadInputReason;

/// UTF-8's byte-order mark, which Windows editors put before the first line.
pub const BOM: &[u8] = b"\xef\xbb\xbf";

/// What the start of the input told us. The buffer's first `filled` bytes are data lines
/// (the header line, and blank lines before and after it, are gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputStart {
    /// Names from the header line, if the input has one (`bcftools query -H` decorations
    /// removed).
    pub header_line: Option<Vec<String>>,
    /// The header line as written (no line ending, no byte-order mark): a later line equal
    /// to it is a repeated header (matrices joined with `cat`).
    pub header_text: Option<Vec<u8>>,
    /// Fields in the first data line; `None` when the input has no data line.
    pub first_line_fields: Option<usize>,
    /// Bytes of the buffer that hold data lines, from its start.
    pub filled: usize,
    /// Bytes of the (decompressed) input before the buffer's first byte: the byte-order
    /// mark, the header line, blank lines.
    pub skipped_bytes: u64,
    /// Lines of the input before the buffer's first byte.
    pub skipped_lines: u64,
}

/// Why the start of an input cannot be read as a matrix.
#[derive(Debug)]
pub enum StartError {
    /// Line `line` (1-based), starting at byte `byte`, does not fit the buffer.
    LineTooLong {
        /// The 1-based line.
        line: u64,
        /// The 0-based byte offset of the line's first byte.
        byte: u64,
    },
    /// The input is not a matrix hapflow reads as it is; `what` says what it looks like.
    NotAMatrix {
        /// The 1-based line.
        line: u64,
        /// The 0-based byte offset of the line's first byte.
        byte: u64,
        /// What the input looks like instead.
        what: BadInputReason,
    },
    /// Reading failed where the data ends: in line `line`, at byte `byte` of the
    /// (decompressed) input.
    Read {
        /// The reader's error.
        error: io::Error,
        /// The 1-based line the data ends in.
        line: u64,
        /// The 0-based offset where the data ends.
        byte: u64,
    },
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// What a first line that is not a matrix line looks like, if it is one of the shapes the
/// field produces: a VCF, or a text file whose lines end in `\r` alone.
fn not_a_matrix(line: &[u8]) -> Option<BadInputReason> {
    if line.starts_with(b"##fileformat=VCF") || is_vcf_header(line) {
        return Some(BadInputReason::Vcf);
    }
    if let Some(i) = memchr(b'\r', line) {
        if i + 1 < line.len() {
            return Some(BadInputReason::OldMacLineEnds);
        }
    }
    None
}

/// True for VCF's column header, `#CHROM POS ID REF ALT ...`.
pub(crate) fn is_vcf_header(line: &[u8]) -> bool {
    let mut fields = strip_cr(line).split(|&b| b == b'\t');
    ["#CHROM", "POS", "ID", "REF", "ALT"]
        .iter()
        .all(|want| fields.next() == Some(want.as_bytes()))
}

/// A line starting with `#` that is not a header line (the caller has ruled out VCF's): a
/// comment, which a matrix does not have.
fn comment(line: &[u8]) -> Option<BadInputReason> {
    is_comment(line).then_some(BadInputReason::CommentLine)
}

/// True if `line` (no line ending) is a comment line: it starts with `#` and is not a header
/// line, nor one whose names are separated by spaces (`#CHROM POS REF ...`, which is named
/// as separated by spaces). Meant for the error path: it copies the line.
pub(crate) fn is_comment(line: &[u8]) -> bool {
    let spaced_header = || {
        let tabs: Vec<u8> = line
            .iter()
            .map(|&b| if b == b' ' { b'\t' } else { b })
            .collect();
        header_line_names(&tabs).is_some()
    };
    line.starts_with(b"#") && header_line_names(line).is_none() && !spaced_header()
}

/// A first data line without a tab but with spaces: a table separated by spaces.
fn space_separated(line: &[u8]) -> Option<BadInputReason> {
    (memchr(b'\t', line).is_none() && memchr(b' ', line).is_some())
        .then_some(BadInputReason::SpaceSeparated)
}

/// Fills `buf` from the start of the input and looks at its first lines.
///
/// A byte-order mark is dropped; blank lines are dropped; the first other line is the header
/// line if its first field is `CHROM` or `#CHROM` (or `bcftools query -H`'s `# [1]CHROM`);
/// blank lines after it are dropped; the first data line sets how many fields every line
/// must have.
///
/// # Errors
///
/// [`StartError::NotAMatrix`] when the decompressed input is an archive, a binary format or
/// compressed again, a VCF, an old-Mac text file, or a space-separated table, or when the
/// first line that is not blank or the header line starts with `#` (a comment line);
/// [`StartError::LineTooLong`] when the first line does not fit `buf`;
/// [`StartError::Read`] when reading fails.
pub fn read_start<R: io::Read>(
    chunker: &mut Chunker<R>,
    buf: &mut [u8],
) -> Result<InputStart, StartError> {
    let mut start = InputStart {
        header_line: None,
        header_text: None,
        first_line_fields: None,
        filled: 0,
        skipped_bytes: 0,
        skipped_lines: 0,
    };
    // Where the data ends when a read fails: counted from the buffer's start.
    let read_failed = |start: &InputStart, buf: &[u8], e: ReadError| StartError::Read {
        line: start.skipped_lines + Memchr::new(b'\n', &buf[..e.filled]).count() as u64 + 1,
        byte: start.skipped_bytes + e.filled as u64,
        error: e.error,
    };
    let mut filled = chunker
        .fill(buf, 0)
        .map_err(|e| read_failed(&start, buf, e))?;
    if buf[..filled].starts_with(BOM) {
        buf.copy_within(BOM.len()..filled, 0);
        filled -= BOM.len();
        start.skipped_bytes = BOM.len() as u64;
        filled = chunker
            .fill(buf, filled)
            .map_err(|e| read_failed(&start, buf, e))?;
    }
    // What a compression holds is recognised too: BAM and BCF are BGZF inside, a tar is
    // often gzipped, and a file may have been compressed twice.
    match sniff(&buf[..filled]) {
        Err(name) => {
            return Err(StartError::NotAMatrix {
                line: 1,
                byte: 0,
                what: BadInputReason::NotAMatrixInside(name),
            })
        }
        Ok(inner) if inner.is_compressed() => {
            return Err(StartError::NotAMatrix {
                line: 1,
                byte: 0,
                what: BadInputReason::CompressedTwice(inner.name()),
            })
        }
        Ok(_) => {}
    }
    let line_end =
        |buf: &[u8], from: usize, filled: usize, eof: bool| match memchr(b'\n', &buf[from..filled])
        {
            Some(i) => Some((from + i, from + i + 1)),
            None if eof && from < filled => Some((filled, filled)),
            None => None,
        };
    let too_long = |start: &InputStart, at: usize| StartError::LineTooLong {
        line: start.skipped_lines + 1,
        byte: start.skipped_bytes + at as u64,
    };
    let bad = |start: &InputStart, at: usize, what: BadInputReason| StartError::NotAMatrix {
        line: start.skipped_lines + 1,
        byte: start.skipped_bytes + at as u64,
        what,
    };

    // Blank lines; the first other line, a header if its first field is CHROM or #CHROM (or
    // bcftools' form); blank lines; then the first data line, whose field count every line
    // must have.
    let mut pos = 0;
    let mut header_looked_for = false;
    loop {
        match line_end(buf, pos, filled, chunker.at_eof()) {
            Some((end, next)) => {
                // A byte-order mark may start any line (a Windows file after a blank line).
                let raw = buf[pos..end].strip_prefix(BOM).unwrap_or(&buf[pos..end]);
                let line = strip_cr(raw);
                if line.is_empty() {
                    start.skipped_lines += 1;
                    pos = next;
                    continue;
                }
                if let Some(what) = not_a_matrix(raw) {
                    return Err(bad(&start, pos, what));
                }
                if !header_looked_for {
                    header_looked_for = true;
                    if let Some(names) = header_line_names(line) {
                        start.header_line = Some(names);
                        start.header_text = Some(line.to_vec());
                        start.skipped_lines += 1;
                        pos = next;
                        continue;
                    }
                }
                if let Some(what) = comment(line).or_else(|| space_separated(line)) {
                    return Err(bad(&start, pos, what));
                }
                start.first_line_fields = Some(Memchr::new(b'\t', line).count() + 1);
                break;
            }
            None if chunker.at_eof() => break,
            None => {
                // No whole line after the blank (or header) lines so far: drop those and
                // read on.
                buf.copy_within(pos..filled, 0);
                start.skipped_bytes += pos as u64;
                filled -= pos;
                pos = 0;
                if filled == buf.len() {
                    return Err(match not_a_matrix(&buf[..filled]) {
                        Some(what) => bad(&start, 0, what),
                        None => too_long(&start, 0),
                    });
                }
                filled = chunker
                    .fill(buf, filled)
                    .map_err(|e| read_failed(&start, buf, e))?;
            }
        }
    }
    buf.copy_within(pos..filled, 0);
    start.skipped_bytes += pos as u64;
    start.filled = filled - pos;
    Ok(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(input: &[u8]) -> String {
        match start(input, 64).0 {
            Err(StartError::NotAMatrix { what, .. }) => what.to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_byte_order_mark_is_skipped_and_counted() {
        let (r, data) = start(b"\xef\xbb\xbfCHROM\tPOS\tREF\ts1\nc\t1\tA\tC\n", 64);
        let s = r.unwrap();
        assert_eq!(s.header_line.unwrap(), ["CHROM", "POS", "REF", "s1"]);
        assert_eq!(s.header_text.unwrap(), b"CHROM\tPOS\tREF\ts1");
        assert_eq!((s.skipped_lines, s.skipped_bytes), (1, 3 + 17));
        assert_eq!(data, b"c\t1\tA\tC\n");
    }

    #[test]
    fn a_byte_order_mark_after_blank_lines_still_starts_the_header_line() {
        let (r, data) = start(b"\n\xef\xbb\xbfCHROM\tPOS\tREF\ts1\r\nc\t1\tA\tC\n", 64);
        let s = r.unwrap();
        assert_eq!(s.header_line.unwrap(), ["CHROM", "POS", "REF", "s1"]);
        assert_eq!(s.header_text.unwrap(), b"CHROM\tPOS\tREF\ts1");
        assert_eq!(s.skipped_lines, 2);
        assert_eq!(data, b"c\t1\tA\tC\n");
    }

    #[test]
    fn what_is_not_a_matrix_is_named() {
        assert!(bad(b"##fileformat=VCFv4.2\n##x\n").contains("this is a VCF"));
        assert!(bad(b"#CHROM\tPOS\tID\tREF\tALT\tQUAL\nc\t1\t.\tA\tC\t.\n").contains("VCF"));
        assert!(bad(b"c\t1\tA\tC\rc\t2\tA\tC\r").contains("\\r without \\n"));
        assert!(bad(&[b"c\t1\tA\tC\r".repeat(20)].concat()).contains("old Mac"));
        assert!(bad(b"CHROM\tPOS\tREF\ts\nc 1 A C\n").contains("separated by spaces"));
        // A header line with spaces for tabs is not a comment line.
        assert!(bad(b"#CHROM POS REF s\nc 1 A C\n").contains("separated by spaces"));
        // Spaces inside tab-separated fields are text.
        assert!(start(b"c 1\t1\tA\tC A\n", 64).0.is_ok());
    }

    fn start(input: &[u8], cap: usize) -> (Result<InputStart, StartError>, Vec<u8>) {
        let mut buf = vec![0u8; cap];
        let mut c = Chunker::new(input);
        let r = read_start(&mut c, &mut buf);
        let data = match &r {
            Ok(s) => buf[..s.filled].to_vec(),
            Err(_) => Vec::new(),
        };
        (r, data)
    }

    #[test]
    fn a_header_line_is_taken_off() {
        let (r, data) = start(b"#CHROM\tPOS\tREF\ts1\r\nc\t1\tA\tC\n", 64);
        let s = r.unwrap();
        assert_eq!(s.header_line.unwrap(), ["#CHROM", "POS", "REF", "s1"]);
        assert_eq!(
            (s.first_line_fields, s.skipped_lines, s.skipped_bytes),
            (Some(4), 1, 19)
        );
        assert_eq!(data, b"c\t1\tA\tC\n");
    }

    #[test]
    fn blank_lines_before_the_first_data_line_are_skipped_even_past_the_buffer() {
        let mut input = b"\n\r\n".repeat(20);
        input.extend_from_slice(b"c\t1\tA\tC\tG");
        let (r, data) = start(&input, 16);
        let s = r.unwrap();
        assert_eq!(s.header_line, None);
        assert_eq!(
            (s.first_line_fields, s.skipped_lines, s.skipped_bytes),
            (Some(5), 40, 60)
        );
        assert_eq!(data, b"c\t1\tA\tC\tG");
    }

    #[test]
    fn blank_lines_before_the_header_line_are_skipped() {
        let (r, data) = start(b"\n\r\nCHROM\tPOS\tREF\ts1\n\nc\t1\tA\tC\n", 20);
        let s = r.unwrap();
        assert_eq!(s.header_line.unwrap(), ["CHROM", "POS", "REF", "s1"]);
        assert_eq!(
            (s.first_line_fields, s.skipped_lines, s.skipped_bytes),
            (Some(4), 4, 21)
        );
        assert_eq!(data, b"c\t1\tA\tC\n");
    }

    #[test]
    fn a_comment_line_is_named_at_its_line() {
        for (input, want_line, want_byte) in [
            (&b"# made by me\nCHROM\tPOS\tREF\ts1\n"[..], 1, 0),
            (b"\n#x\tyz\nc\t1\tA\tC\n", 2, 1),
            (b"CHROM\tPOS\tREF\ts1\n\n#\n", 3, 18),
        ] {
            match start(input, 64).0 {
                Err(StartError::NotAMatrix { line, byte, what }) => {
                    assert_eq!((line, byte), (want_line, want_byte));
                    assert_eq!(what, BadInputReason::CommentLine);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn empty_and_header_only_inputs() {
        for empty in [&b""[..], b"\n\r\n\n", BOM] {
            let s = start(empty, 16).0.unwrap();
            assert_eq!(
                (s.first_line_fields, s.filled, s.header_line),
                (None, 0, None)
            );
        }
        let s = start(b"CHROM\tPOS\tREF\tx\n", 64).0.unwrap();
        assert_eq!(
            (s.first_line_fields, s.header_line.unwrap().len()),
            (None, 4)
        );
    }

    #[test]
    fn a_first_line_longer_than_the_buffer_is_an_error() {
        match start(&[b'x'; 40], 16).0 {
            Err(StartError::LineTooLong { line: 1, byte: 0 }) => {}
            other => panic!("{other:?}"),
        }
    }
}
