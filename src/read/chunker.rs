//! Cutting a byte stream into chunks of whole lines, in buffers the caller owns.
//!
//! The caller hands in a buffer that may already start with the tail of the previous chunk
//! (the part after its last newline); the chunker fills the rest and says where the last
//! whole line ends. A buffer that fills up without a newline holds a line longer than a
//! chunk may be, which is an error rather than a reason to grow.

use std::io::{self, Read};

use memchr::memrchr;

/// Reads whole lines from `R` into caller-owned buffers; never allocates. Interrupted reads
/// are retried.
pub struct Chunker<R> {
    src: R,
    eof: bool,
}

/// A read that failed after `filled` bytes of the buffer were filled: where the data ends
/// is known even when the input is cut short.
#[derive(Debug)]
pub struct ReadError {
    /// Bytes of the buffer filled before the read failed (those before the call included).
    pub filled: usize,
    /// The reader's error.
    pub error: io::Error,
}

/// Where a filled buffer is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Whole lines end here; the bytes after it start the next chunk.
    At(usize),
    /// The input ended: everything filled is the last chunk (its last line may lack `\n`).
    End,
    /// The buffer is full and holds no line ending.
    LineTooLong,
}

impl<R: Read> Chunker<R> {
    /// A chunker reading `src` from where it stands.
    pub fn new(src: R) -> Chunker<R> {
        Chunker { src, eof: false }
    }

    /// True once a read returned 0 bytes: the input has ended.
    pub fn at_eof(&self) -> bool {
        self.eof
    }

    /// Reads into `buf[filled..]` until it is full or the input ends; returns the new fill.
    ///
    /// # Errors
    ///
    /// [`ReadError`] when a read fails (other than `Interrupted`), with how far the buffer
    /// was filled.
    pub fn fill(&mut self, buf: &mut [u8], mut filled: usize) -> Result<usize, ReadError> {
        while filled < buf.len() && !self.eof {
            match self.src.read(&mut buf[filled..]) {
                Ok(0) => self.eof = true,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(ReadError { filled, error }),
            }
        }
        Ok(filled)
    }

    /// Reads the rest of the input into `scratch` (overwritten) and drops it, to see whether
    /// the input's decoder fails further on. Used after a line longer than a chunk in
    /// compressed input, which is often damaged data: the error, if any, says so (its kind
    /// kept, its text prefixed).
    pub fn decode_to_end(&mut self, scratch: &mut [u8]) -> io::Result<()> {
        loop {
            match self.src.read(scratch) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!(
                            "from this line on the data holds no line end within a chunk, and \
                             decoding on fails: {e}"
                        ),
                    ))
                }
            }
        }
    }

    /// Fills `buf` after its first `filled` bytes and says where to cut it: returns the new
    /// fill and the [`Cut`].
    ///
    /// # Errors
    ///
    /// As [`fill`](Self::fill).
    pub fn next(&mut self, buf: &mut [u8], filled: usize) -> Result<(usize, Cut), ReadError> {
        let filled = self.fill(buf, filled)?;
        if self.eof {
            return Ok((filled, Cut::End));
        }
        Ok(match memrchr(b'\n', &buf[..filled]) {
            Some(i) => (filled, Cut::At(i + 1)),
            None => (filled, Cut::LineTooLong),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most 3 bytes a call, like a slow pipe.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(3);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn chunks_end_on_line_boundaries_and_carry_tails() {
        let data = b"aaaa\nbb\ncccccc\nd";
        let mut c = Chunker::new(Trickle(data));
        let mut buf = [0u8; 10];
        let (filled, cut) = c.next(&mut buf, 0).unwrap();
        assert_eq!((filled, cut), (10, Cut::At(8)));
        let mut next = [0u8; 10];
        next[..2].copy_from_slice(&buf[8..10]);
        let (filled, cut) = c.next(&mut next, 2).unwrap();
        assert_eq!(cut, Cut::End);
        assert_eq!(&next[..filled], b"cccccc\nd");
    }

    #[test]
    fn a_full_buffer_without_newline_is_too_long() {
        let mut c = Chunker::new(&b"0123456789abc\n"[..]);
        let mut buf = [0u8; 8];
        assert_eq!(c.next(&mut buf, 0).unwrap().1, Cut::LineTooLong);
    }
}
