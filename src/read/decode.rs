//! Decoders that say when a compressed input is not whole: gzip members read one after
//! another with a rule for the bytes after the last one, and BGZF's end-of-file check.

use std::io::{self, BufRead, Read};
use std::sync::{Arc, Mutex};

use flate2::bufread::GzDecoder;

use super::format::BGZF_EOF;

/// gzip members one after another, as `zcat` reads them. After the last member, zero bytes
/// (the padding tape and block devices add) are ignored, as `zcat` ignores them; any other
/// byte is an error, where `zcat` would only warn of "trailing garbage": hapflow does not
/// guess whether such bytes were meant to be data.
pub struct GzipMembers<R: BufRead> {
    state: Members<R>,
}

enum Members<R> {
    /// Boxed: the decoder's state is large, and one per input.
    In(Box<GzDecoder<R>>),
    Between(R),
    Done,
}

impl<R: BufRead> GzipMembers<R> {
    /// Decompresses `inner`, which starts with a gzip member.
    pub fn new(inner: R) -> GzipMembers<R> {
        GzipMembers {
            state: Members::In(Box::new(GzDecoder::new(inner))),
        }
    }
}

impl<R: BufRead> Read for GzipMembers<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match std::mem::replace(&mut self.state, Members::Done) {
                Members::Done => return Ok(0),
                Members::In(mut member) => {
                    let n = member.read(buf)?;
                    if n > 0 {
                        self.state = Members::In(member);
                        return Ok(n);
                    }
                    self.state = Members::Between(member.into_inner());
                }
                Members::Between(mut inner) => {
                    let next = inner.fill_buf()?;
                    match next.first() {
                        None => return Ok(0),
                        Some(0x1f) => self.state = Members::In(Box::new(GzDecoder::new(inner))),
                        Some(0) => {
                            let zeros = next.iter().take_while(|&&b| b == 0).count();
                            let all = zeros == next.len();
                            inner.consume(zeros);
                            if !all {
                                return Err(trailing());
                            }
                            self.state = Members::Between(inner);
                        }
                        Some(_) => return Err(trailing()),
                    }
                }
            }
        }
    }
}

fn trailing() -> io::Error {
    bytes_after_end("bytes that are not gzip follow the last gzip member (only zero padding may)")
}

/// What the readers here say when bytes follow the end of the compressed data (after the
/// last gzip member, BGZF's end-of-file block, the last zstd frame or bzip2 stream): an
/// `InvalidData` error carrying this type, told apart by [`is_bytes_after_end`] rather than
/// by its words.
#[derive(Debug)]
struct BytesAfterEnd(String);

impl std::fmt::Display for BytesAfterEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BytesAfterEnd {}

fn bytes_after_end(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, BytesAfterEnd(what.into()))
}

/// True if `e` (or an error it wraps) says bytes follow the end of the compressed data.
pub fn is_bytes_after_end(e: &io::Error) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = e
        .get_ref()
        .map(|inner| inner as &(dyn std::error::Error + 'static));
    while let Some(err) = next {
        if err.is::<BytesAfterEnd>() {
            return true;
        }
        next = match err.downcast_ref::<io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    false
}

/// BGZF's block framing, checked on the compressed stream as it passes (unchanged) to the
/// BGZF decoder, so that what follows the blocks is named for what it is:
/// - a gzip member that is not BGZF (`gzip -c more >> file.gz` after bgzip): an error
///   naming its byte, as the BGZF decoders would call it a corrupt block;
/// - after BGZF's end-of-file block, any byte but the start of another BGZF block (files
///   joined with `cat`) is an error saying there are bytes after the end, zero padding
///   included: htslib refuses it too (`bgzip -t`: "Invalid BGZF header"), unlike `zcat`.
pub struct BgzfFraming<R> {
    inner: R,
    /// Offset in the compressed stream of the next byte read.
    at: u64,
    state: Framing,
    /// Bytes of the block header being read.
    header: [u8; 18],
    /// The last whole block was the end-of-file block.
    after_eof: bool,
    /// An error found past the bytes handed out, returned by the next read.
    pending: Option<io::Error>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// `n` bytes of a block header read so far.
    Header(usize),
    /// `n` bytes of the current block left (its header is read).
    Body(u64),
}

impl<R: Read> BgzfFraming<R> {
    /// `inner`, a BGZF stream from its first byte.
    pub fn new(inner: R) -> BgzfFraming<R> {
        BgzfFraming {
            inner,
            at: 0,
            state: Framing::Header(0),
            header: [0; 18],
            after_eof: false,
            pending: None,
        }
    }

    /// Walks `bytes` (just read); returns how many of them are BGZF blocks to hand out.
    fn walk(&mut self, bytes: &[u8]) -> usize {
        let mut i = 0;
        while i < bytes.len() {
            match self.state {
                Framing::Body(left) => {
                    let take = left.min((bytes.len() - i) as u64);
                    i += take as usize;
                    self.at += take;
                    self.state = Framing::Body(left - take);
                    if left == take {
                        self.state = Framing::Header(0);
                    }
                }
                Framing::Header(0) if self.after_eof && bytes[i] != 0x1f => {
                    self.pending = Some(after_end(self.at, bytes[i] == 0));
                    return i;
                }
                Framing::Header(have) => {
                    let take = (18 - have).min(bytes.len() - i);
                    self.header[have..have + take].copy_from_slice(&bytes[i..i + take]);
                    i += take;
                    self.at += take as u64;
                    if have + take < 18 {
                        self.state = Framing::Header(have + take);
                        continue;
                    }
                    let start = self.at - 18;
                    if super::format::is_bgzf(&self.header) {
                        let size =
                            u64::from(u16::from_le_bytes([self.header[16], self.header[17]])) + 1;
                        self.after_eof = self.header[..18] == BGZF_EOF[..18] && size == 28;
                        self.state = Framing::Body(size.saturating_sub(18));
                        if size <= 18 {
                            self.state = Framing::Header(0);
                        }
                    } else if self.header[..3] == [0x1f, 0x8b, 8] {
                        self.pending = Some(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                                "a plain gzip member (not BGZF) follows the BGZF blocks at byte {start} of the file, as \
                                 `gzip -c more >> file.gz` leaves it; recompress the whole matrix with bgzip"
                            ),
                        ));
                        return i - take;
                    } else {
                        // Not a block: the BGZF decoder names it corrupt.
                        self.state = Framing::Body(u64::MAX);
                    }
                }
            }
        }
        i
    }
}

/// The error for bytes after BGZF's end-of-file block, from byte `at` (`zeros`: they start
/// with a zero byte, most likely padding).
fn after_end(at: u64, zeros: bool) -> io::Error {
    let what = if zeros {
        "zero padding (refused as htslib refuses it: `bgzip -t` says \"Invalid BGZF header\"; \
         strip it, or recompress the matrix)"
    } else {
        "bytes that are not BGZF"
    };
    bytes_after_end(format!(
        "{what} follow its end-of-file block, from byte {at} of the file"
    ))
}

impl<R: Read> Read for BgzfFraming<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(e) = self.pending.take() {
                return Err(e);
            }
            let n = self.inner.read(buf)?;
            if n == 0 {
                return Ok(0);
            }
            // Nothing to hand out (an error at its first byte): return the error.
            let keep = self.walk(&buf[..n]);
            if keep > 0 {
                return Ok(keep);
            }
        }
    }
}

/// A zstd or bzip2 decoder whose error for bytes after its last frame (stream) is named as
/// such: both decoders read frames one after another, and fail on the next frame's magic
/// (zstd: "Unknown frame descriptor", its `prefix_unknown`; bzip2: "bz2 header missing"),
/// which only the start of a frame can give, the first frame's magic being checked before
/// (format sniffing).
pub struct AfterEnd<R> {
    inner: R,
    format: super::format::Format,
}

impl<R: Read> AfterEnd<R> {
    /// `inner`, the decoder of `format` (zstd or bzip2).
    pub fn new(inner: R, format: super::format::Format) -> AfterEnd<R> {
        AfterEnd { inner, format }
    }
}

impl<R: Read> Read for AfterEnd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            let text = e.to_string();
            if text.contains("Unknown frame descriptor") || text.contains("bz2 header missing") {
                let name = self.format.name();
                bytes_after_end(format!(
                    "bytes that are not {name} follow the last {name} frame ({text})"
                ))
            } else {
                e
            }
        })
    }
}

/// The last 28 bytes read through a [`TailKeeper`], shared with the [`BgzfEofCheck`] that
/// reads the decompressed side.
#[derive(Debug, Default)]
pub struct Tail {
    bytes: [u8; 28],
    len: usize,
}

impl Tail {
    fn push(&mut self, data: &[u8]) {
        if data.len() >= 28 {
            self.bytes.copy_from_slice(&data[data.len() - 28..]);
            self.len = 28;
            return;
        }
        let keep = (28 - data.len()).min(self.len);
        self.bytes.copy_within(self.len - keep..self.len, 0);
        self.bytes[keep..keep + data.len()].copy_from_slice(data);
        self.len = keep + data.len();
    }

    fn is_bgzf_eof(&self) -> bool {
        self.len == 28 && self.bytes == BGZF_EOF
    }
}

/// Keeps the last 28 bytes of the compressed stream it reads.
pub struct TailKeeper<R> {
    /// The compressed stream.
    pub inner: R,
    /// Its last 28 bytes so far, shared with the [`BgzfEofCheck`].
    pub tail: Arc<Mutex<Tail>>,
}

impl<R: Read> Read for TailKeeper<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.tail.lock().expect("not poisoned").push(&buf[..n]);
        Ok(n)
    }
}

/// The decompressed side of a BGZF input: its end is an error unless the compressed stream
/// ended with BGZF's end-of-file block, which tells a whole file from one cut at a block
/// boundary (htslib's "EOF marker is absent" warning, made an error).
pub struct BgzfEofCheck<R> {
    /// The decompressed stream.
    pub inner: R,
    /// The compressed stream's last 28 bytes, kept by its [`TailKeeper`].
    pub tail: Arc<Mutex<Tail>>,
}

impl<R: Read> Read for BgzfEofCheck<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() && !self.tail.lock().expect("not poisoned").is_bgzf_eof() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the BGZF end-of-file block is missing: the file is truncated",
            ));
        }
        Ok(n)
    }
}

/// Reads a decoder through a buffer of its own, in reads of one fixed size, so that where a
/// failing decoder stops is a property of the stream, not of the caller's buffer sizes
/// (which follow `--memory-limit`). The zstd, xz and bzip2 decoders drop what they
/// decompressed in the call that fails (a checksum checked at the end of a frame): without
/// this, the data's end named in the message would move with the chunk size.
pub struct Staged<R> {
    inner: R,
    buf: Box<[u8]>,
    at: usize,
    len: usize,
    /// The error that ended the last fill, returned once its data is handed out.
    pending: Option<io::Error>,
}

/// The size of a [`Staged`] reader's buffer: 128 KiB, a zstd block's largest size.
pub const STAGED_BUFFER: usize = 128 << 10;

impl<R: Read> Staged<R> {
    /// `inner` read [`STAGED_BUFFER`] bytes at a time.
    pub fn new(inner: R) -> Staged<R> {
        Staged {
            inner,
            buf: vec![0; STAGED_BUFFER].into_boxed_slice(),
            at: 0,
            len: 0,
            pending: None,
        }
    }
}

impl<R: Read> Read for Staged<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at == self.len {
            if let Some(e) = self.pending.take() {
                return Err(e);
            }
            // Fill the whole buffer (or to the end), so every call asks the same of the
            // decoder wherever the caller's buffer ends.
            self.at = 0;
            self.len = 0;
            while self.len < self.buf.len() {
                match self.inner.read(&mut self.buf[self.len..]) {
                    Ok(0) => break,
                    Ok(n) => self.len += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if self.len > 0 => {
                        // Hand out what came before it first.
                        self.pending = Some(e);
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let n = (self.len - self.at).min(out.len());
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// True if the decoder's error `e` says the data is damaged: it fails an integrity check
/// (gzip's and BGZF's CRC32, zstd's and xz's checksums, bzip2's block CRC) or is not valid
/// compressed data, rather than that it ends early.
pub fn fails_integrity_check(e: &io::Error) -> bool {
    let text = e.to_string().to_lowercase();
    e.kind() != io::ErrorKind::UnexpectedEof
        && [
            "checksum",
            "crc",
            "corrupt",
            "integrity",
            "data error",
            "invalid",
        ]
        .iter()
        .any(|w| text.contains(w))
}

/// The refusal of a line of compressed input (`refused`, a bad-line error) once the decoder
/// failed further on with `e`, the data ending at byte `end` of the decompressed input: the
/// cause is named first (corrupt compressed data), the line's own fault after it.
pub fn corrupt_after(
    format: super::format::Format,
    refused: crate::error::Error,
    e: &io::Error,
    end: u64,
) -> crate::error::Error {
    use crate::error::{Error, ErrorKind};
    let ErrorKind::BadInput {
        input,
        line: Some(line),
        byte: Some(byte),
        reason: what,
    } = refused.kind()
    else {
        return refused;
    };
    let name = format.name();
    let cause = if e.kind() == io::ErrorKind::UnexpectedEof {
        format!("and the {name} input is cut short further on, at byte {end} of its data ({e})")
    } else {
        let check = if fails_integrity_check(e) {
            "its decoder finds damaged data (a failed CRC or checksum, or invalid compressed data)"
        } else {
            "its decoder fails"
        };
        format!(
            "the {name} input is corrupt from here: {check} further on ({e}; found decoding on \
             from byte {end}), so this line is most likely damaged data, not the matrix as \
             written; fetch or compress the file again"
        )
    };
    Error::bad_line(
        input.clone(),
        *line,
        *byte,
        format!("this line is not a matrix row ({what}); {cause}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn members(bytes: Vec<u8>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        // A tiny buffer, so members and padding straddle refills.
        GzipMembers::new(io::BufReader::with_capacity(7, io::Cursor::new(bytes)))
            .read_to_end(&mut out)
            .map(|_| out)
    }

    #[test]
    fn members_follow_each_other_and_zero_padding_is_ignored() {
        let mut data = gz(b"one\n");
        data.extend(gz(b"two\n"));
        assert_eq!(members(data.clone()).unwrap(), b"one\ntwo\n");
        data.extend([0u8; 40]);
        assert_eq!(members(data.clone()).unwrap(), b"one\ntwo\n");
    }

    #[test]
    fn other_bytes_after_the_last_member_are_an_error() {
        for tail in [&b"chr1\t5\tA\tC\n"[..], b"\0\0\0x", b"\x1f"] {
            let mut data = gz(b"one\n");
            data.extend_from_slice(tail);
            let e = members(data).unwrap_err();
            assert!(
                tail == b"\x1f" || e.to_string().contains("not gzip"),
                "{tail:?}: {e}"
            );
        }
    }

    #[test]
    fn the_tail_is_the_last_28_bytes_whatever_the_reads() {
        let data: Vec<u8> = (0..100u8).collect();
        for step in [1, 5, 27, 28, 29, 100] {
            let mut t = Tail::default();
            data.chunks(step).for_each(|c| t.push(c));
            assert_eq!((t.len, &t.bytes[..]), (28, &data[72..]), "step {step}");
        }
        let mut t = Tail::default();
        t.push(&BGZF_EOF[..10]);
        assert!(!t.is_bgzf_eof());
        t.push(&BGZF_EOF[10..]);
        assert!(t.is_bgzf_eof());
    }
}
