//! The start of an input: whether its first line is a header, and how many fields a line
//! has, read into the first chunk buffer before the pipeline starts.

use std::io::{self, Read};

use memchr::{memchr, Memchr};

use super::chunker::Chunker;
use super::header::header_line_names;

/// What the start of the input told us. The buffer's first `filled` bytes are data lines
/// (the header line, and blank lines before the first data line, are gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    /// Names from the header line, if the input has one.
    pub header_line: Option<Vec<String>>,
    /// Fields in the first data line; `None` when the input has no data line.
    pub first_line_fields: Option<usize>,
    pub filled: usize,
    /// Bytes and lines of the input before the buffer's first byte.
    pub skipped_bytes: u64,
    pub skipped_lines: u64,
}

#[derive(Debug)]
pub enum StartError {
    /// Line `line` (1-based), starting at byte `byte`, does not fit the buffer.
    LineTooLong {
        line: u64,
        byte: u64,
    },
    Read(io::Error),
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Fills `buf` from the start of the input and looks at its first lines.
pub fn read_start<R: Read>(chunker: &mut Chunker<R>, buf: &mut [u8]) -> Result<Start, StartError> {
    let mut filled = chunker.fill(buf, 0).map_err(StartError::Read)?;
    let mut start = Start {
        header_line: None,
        first_line_fields: None,
        filled: 0,
        skipped_bytes: 0,
        skipped_lines: 0,
    };
    let line_end =
        |buf: &[u8], from: usize, filled: usize, eof: bool| match memchr(b'\n', &buf[from..filled])
        {
            Some(i) => Some((from + i, from + i + 1)),
            None if eof && from < filled => Some((filled, filled)),
            None => None,
        };
    let too_long = |start: &Start, at: usize| StartError::LineTooLong {
        line: start.skipped_lines + 1,
        byte: start.skipped_bytes + at as u64,
    };

    // The first line: a header if its first field is CHROM or #CHROM.
    let mut pos = 0;
    match line_end(buf, 0, filled, chunker.at_eof()) {
        Some((end, next)) => {
            if let Some(names) = header_line_names(strip_cr(&buf[..end])) {
                start.header_line = Some(names);
                start.skipped_lines = 1;
                pos = next;
            }
        }
        None if filled == buf.len() => return Err(too_long(&start, 0)),
        None => {} // empty input
    }

    // Blank lines, then the first data line, whose field count every line must have.
    loop {
        match line_end(buf, pos, filled, chunker.at_eof()) {
            Some((end, next)) => {
                let line = strip_cr(&buf[pos..end]);
                if !line.is_empty() {
                    start.first_line_fields = Some(Memchr::new(b'\t', line).count() + 1);
                    break;
                }
                start.skipped_lines += 1;
                pos = next;
            }
            None if chunker.at_eof() => break,
            None => {
                // Only blank lines so far: drop them and read on.
                buf.copy_within(pos..filled, 0);
                start.skipped_bytes += pos as u64;
                filled -= pos;
                pos = 0;
                if filled == buf.len() {
                    return Err(too_long(&start, 0));
                }
                filled = chunker.fill(buf, filled).map_err(StartError::Read)?;
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

    fn start(input: &[u8], cap: usize) -> (Result<Start, StartError>, Vec<u8>) {
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
    fn empty_and_header_only_inputs() {
        let s = start(b"", 16).0.unwrap();
        assert_eq!((s.first_line_fields, s.filled), (None, 0));
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
