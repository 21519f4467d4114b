//! Opening an input: a file or stdin, plain or compressed (gzip single- or multi-member,
//! BGZF, zstd, xz, bzip2), recognised by its first bytes whatever its name, with a count of
//! the bytes read from it so progress can be shown against the file's size.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::decode::{AfterEnd, BgzfEofCheck, BgzfFraming, GzipMembers, Staged, Tail, TailKeeper};
use super::format::{
    sniff, zstd_limit_for, zstd_window, DecoderCaps, Format, COMPRESSED_READ_BUFFER, MAGIC_LEN,
};
use crate::error::{BadInputReason, Error, Result};

/// Where the matrix comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file (or anything `open` reads: a FIFO, `/dev/stdin`).
    Path(PathBuf),
    /// The process's standard input.
    Stdin,
}

impl Input {
    /// `-` means stdin.
    pub fn from_arg(arg: &Path) -> Input {
        if arg == Path::new("-") {
            Input::Stdin
        } else {
            Input::Path(arg.to_path_buf())
        }
    }

    /// How the input is named in messages.
    pub fn display_name(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Stdin => "<stdin>".to_string(),
        }
    }
}

/// An open input, decompressing if it is compressed.
pub struct Source {
    /// The matrix's bytes, decompressed.
    pub reader: Box<dyn Read + Send>,
    /// Bytes read so far from the file or stdin (compressed bytes for compressed input).
    pub source_bytes: Arc<AtomicU64>,
    /// The file's size, when it is a regular file.
    pub total_bytes: Option<u64>,
    /// How the input is stored, from its first bytes.
    pub format: Format,
}

/// Read buffer under the gzip decoder; plain input is read straight into chunk buffers.
pub const GZIP_READ_BUFFER: usize = 128 << 10;
/// What one BGZF block in flight holds: up to 64 KiB compressed and 64 KiB inflated.
const BGZF_BLOCK_BUFFERS: usize = (128 + 8) << 10;

/// Memory the decompressor of a gzip or BGZF input may hold with `inflaters` threads: one
/// gzip read buffer, or the BGZF blocks in flight (a block per thread, two waiting, one
/// being read). Other formats need [`DecoderCaps::extra_bytes`] on top.
pub fn decompress_bytes(inflaters: usize) -> usize {
    GZIP_READ_BUFFER.max((inflaters + 3) * BGZF_BLOCK_BUFFERS)
}

/// Why an input cannot be opened as a matrix: the system said no, or its first bytes say it
/// is a format hapflow does not read.
#[derive(Debug)]
pub enum OpenError {
    /// Reading the first bytes failed.
    Io(io::Error),
    /// The format, as named in messages (`"a zip archive"`).
    Refused(&'static str),
    /// The input needs more memory to decode than the budget sets aside: what it needs and
    /// what would allow it, as a message.
    NeedsMemory(String),
}

impl From<io::Error> for OpenError {
    fn from(e: io::Error) -> Self {
        OpenError::Io(e)
    }
}

/// The error for an input `name` that cannot be opened as a matrix.
pub(crate) fn open_error(name: &Path, e: OpenError) -> Error {
    match e {
        OpenError::Io(e) => Error::io(name, "read", e),
        OpenError::Refused(what) => Error::bad_line(
            name.display().to_string(),
            1,
            0,
            BadInputReason::UnreadableFormat(what),
        ),
        OpenError::NeedsMemory(what) => Error::bad_line(name.display().to_string(), 1, 0, what),
    }
}

/// Refuses a zstd input whose first frame declares a window larger than `caps` allow, with
/// the window, the limit that allows it (or that none does) and what to do.
fn check_zstd_window(magic: &[u8], caps: &DecoderCaps) -> std::result::Result<(), OpenError> {
    use crate::config::size::format_size;
    let Some(window) = zstd_window(magic) else {
        return Ok(());
    };
    if window <= 1 << caps.zstd_window_log_max {
        return Ok(());
    }
    let base = crate::pipeline::plan::BASE_RSS;
    let log = 64 - (window - 1).leading_zeros();
    let limit = format_size(caps.pool as u64 + base);
    let allows = match zstd_limit_for(window, base) {
        Some(need) => format!(
            "a --memory-limit of {} or more allows it (a third of the limit goes to the \
             window), or recompress it without --long (zstd -19 fits any limit)",
            format_size(need)
        ),
        None => "no memory limit allows it: hapflow decodes zstd windows up to 2 GiB \
                 (--long=31); recompress it with a smaller window (zstd -19 fits any limit)"
            .to_string(),
    };
    Err(OpenError::NeedsMemory(format!(
        "this zstd file was compressed with a {} window (zstd --long={log} or the like), \
         and decoding it takes that much memory: more than the {limit} memory limit sets aside \
         for it; {allows}",
        format_size(window)
    )))
}

impl Source {
    /// Opens `input`; BGZF input is inflated by `inflaters` threads (0: by the reader), zstd
    /// and xz within `caps`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when the file cannot be opened or is a
    /// folder; bad input ([`BadInputReason::UnreadableFormat`], line 1) when its first bytes
    /// are a format hapflow does not read. A compressed input that is cut short or corrupt
    /// fails later, when it is read.
    pub fn open(input: &Input, inflaters: usize, caps: DecoderCaps) -> Result<Source> {
        match input {
            Input::Path(path) => {
                let file = File::open(path).map_err(|e| Error::io(path, "open", e))?;
                let meta = file.metadata().map_err(|e| Error::io(path, "stat", e))?;
                if meta.is_dir() {
                    return Err(Error::io(
                        path,
                        "read",
                        io::Error::other("it is a directory"),
                    ));
                }
                let total = meta.is_file().then_some(meta.len());
                Source::from_reader_with(Box::new(file), total, inflaters, caps)
                    .map_err(|e| open_error(path, e))
            }
            Input::Stdin => Source::from_reader_with(Box::new(io::stdin()), None, inflaters, caps)
                .map_err(|e| open_error(Path::new("<stdin>"), e)),
        }
    }

    /// Opens a file to be read from `skip` bytes of (decompressed) input on: a plain file is
    /// sought there, compressed input is decompressed and the first `skip` bytes dropped
    /// (re-read, but not re-converted). Used to resume from a checkpoint.
    ///
    /// # Errors
    ///
    /// As [`Source::open`]; also [`ErrorKind::Io`](crate::ErrorKind::Io) when the input ends
    /// before `skip` bytes, or the seek or the re-read fails.
    pub fn open_at(path: &Path, skip: u64, inflaters: usize, caps: DecoderCaps) -> Result<Source> {
        let mut source = Source::open(&Input::Path(path.to_path_buf()), inflaters, caps)?;
        if skip == 0 {
            return Ok(source);
        }
        if source.format.is_compressed() {
            let skipped = io::copy(&mut (&mut source.reader).take(skip), &mut io::sink())
                .map_err(|e| Error::io(path, "re-read up to the checkpoint of", e))?;
            if skipped != skip {
                return Err(Error::io(
                    path,
                    "resume",
                    io::Error::other("input ends before its checkpoint"),
                ));
            }
            return Ok(source);
        }
        let mut file = File::open(path).map_err(|e| Error::io(path, "open", e))?;
        use std::io::Seek;
        file.seek(io::SeekFrom::Start(skip))
            .map_err(|e| Error::io(path, "seek", e))?;
        let counter = Arc::new(AtomicU64::new(skip));
        Ok(Source {
            reader: Box::new(Counted {
                inner: Box::new(file),
                count: counter.clone(),
            }),
            source_bytes: counter,
            total_bytes: source.total_bytes,
            format: Format::Plain,
        })
    }

    /// Wraps any reader: counts its bytes and decompresses it as its first bytes say, with
    /// `inflaters` threads if it is BGZF (and `inflaters` is not 0), zstd and xz within the
    /// least caps.
    ///
    /// # Errors
    ///
    /// [`OpenError`] when the first bytes cannot be read or name a format hapflow does
    /// not read.
    pub fn from_reader(
        inner: Box<dyn Read + Send>,
        total: Option<u64>,
        inflaters: usize,
    ) -> std::result::Result<Source, OpenError> {
        Source::from_reader_with(inner, total, inflaters, DecoderCaps::default())
    }

    /// [`Source::from_reader`] with the decoders' memory capped by `caps`.
    ///
    /// # Errors
    ///
    /// As [`Source::from_reader`].
    pub fn from_reader_with(
        inner: Box<dyn Read + Send>,
        total: Option<u64>,
        inflaters: usize,
        caps: DecoderCaps,
    ) -> std::result::Result<Source, OpenError> {
        let counter = Arc::new(AtomicU64::new(0));
        let mut counted = Counted {
            inner,
            count: counter.clone(),
        };
        // Enough of the start to tell the formats apart; it is replayed.
        let mut magic = [0u8; MAGIC_LEN];
        let mut got = 0;
        while got < magic.len() {
            match counted.read(&mut magic[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        let format = sniff(&magic[..got]).map_err(OpenError::Refused)?;
        let replay = io::Cursor::new(magic[..got].to_vec()).chain(counted);
        let buffered = |r| BufReader::with_capacity(COMPRESSED_READ_BUFFER, r);
        let reader: Box<dyn Read + Send> = match format {
            Format::Plain => Box::new(replay),
            Format::Gzip => Box::new(GzipMembers::new(BufReader::with_capacity(
                GZIP_READ_BUFFER,
                replay,
            ))),
            Format::Bgzf => {
                let tail = Arc::new(Mutex::new(Tail::default()));
                let kept = TailKeeper {
                    inner: BgzfFraming::new(replay),
                    tail: tail.clone(),
                };
                let inner: Box<dyn Read + Send> = match std::num::NonZero::new(inflaters) {
                    Some(n) => Box::new(noodles_bgzf::io::MultithreadedReader::with_worker_count(
                        n, kept,
                    )),
                    None => Box::new(GzipMembers::new(BufReader::with_capacity(
                        GZIP_READ_BUFFER,
                        kept,
                    ))),
                };
                Box::new(BgzfEofCheck { inner, tail })
            }
            Format::Zstd => {
                check_zstd_window(&magic[..got], &caps)?;
                let mut d = zstd::stream::read::Decoder::with_buffer(buffered(replay))?;
                d.window_log_max(caps.zstd_window_log_max)?;
                Box::new(Staged::new(AfterEnd::new(d, Format::Zstd)))
            }
            Format::Xz => {
                let stream = liblzma::stream::Stream::new_stream_decoder(
                    caps.xz_memlimit,
                    liblzma::stream::CONCATENATED,
                )
                .map_err(io::Error::from)?;
                Box::new(Staged::new(liblzma::bufread::XzDecoder::new_stream(
                    buffered(replay),
                    stream,
                )))
            }
            Format::Bzip2 => Box::new(Staged::new(AfterEnd::new(
                bzip2::bufread::MultiBzDecoder::new(buffered(replay)),
                Format::Bzip2,
            ))),
        };
        Ok(Source {
            reader,
            source_bytes: counter,
            total_bytes: total,
            format,
        })
    }
}

struct Counted {
    inner: Box<dyn Read + Send>,
    count: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
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

    fn read_all(bytes: Vec<u8>) -> (io::Result<Vec<u8>>, bool) {
        let mut s = Source::from_reader(Box::new(io::Cursor::new(bytes)), None, 2).unwrap();
        let mut v = Vec::new();
        let r = s.reader.read_to_end(&mut v).map(|_| v);
        (r, s.format.is_compressed())
    }

    #[test]
    fn plain_input_passes_through_even_when_tiny() {
        assert_eq!(read_all(b"c\t1".to_vec()).0.unwrap(), b"c\t1");
        assert_eq!(read_all(b"x".to_vec()).0.unwrap(), b"x");
        assert_eq!(read_all(Vec::new()).0.unwrap(), b"");
    }

    #[test]
    fn gzip_members_are_concatenated() {
        let mut data = gz(b"first\n");
        data.extend(gz(b"second\n"));
        let (r, is_gz) = read_all(data);
        assert!(is_gz);
        assert_eq!(r.unwrap(), b"first\nsecond\n");
    }

    #[test]
    fn open_at_skips_plain_and_gzip_input_alike() {
        let dir = tempfile::tempdir().unwrap();
        let text = b"0123456789".repeat(1000);
        let (plain, zipped) = (dir.path().join("p"), dir.path().join("z"));
        std::fs::write(&plain, &text).unwrap();
        std::fs::write(&zipped, gz(&text)).unwrap();
        for p in [&plain, &zipped] {
            let mut s = Source::open_at(p, 9995, 2, DecoderCaps::default()).unwrap();
            let mut rest = Vec::new();
            s.reader.read_to_end(&mut rest).unwrap();
            assert_eq!(rest, b"56789", "{p:?}");
        }
        assert!(Source::open_at(&zipped, 20_000, 2, DecoderCaps::default()).is_err());
    }

    fn bgzf(plain: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        crate::generate::bgzf_compress(plain, &mut out).unwrap();
        out
    }

    /// BGZF is recognised and inflated by the thread pool, block order kept; the same bytes
    /// as plain gzip decoding gives, with 1 or 3 threads, and across the empty EOF block of
    /// two files concatenated.
    #[test]
    fn bgzf_is_inflated_in_parallel_in_order() {
        let text: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("c{}\t{i}\tA\tC\n", i % 7).into_bytes())
            .collect();
        let one = bgzf(&text);
        assert!(super::super::format::is_bgzf(&one));
        let mut two = one.clone();
        two.extend_from_slice(&one);
        for inflaters in [1, 3] {
            for (data, want) in [
                (&one, text.clone()),
                (&two, [&text[..], &text[..]].concat()),
            ] {
                let mut s =
                    Source::from_reader(Box::new(io::Cursor::new(data.clone())), None, inflaters)
                        .unwrap();
                assert_eq!(s.format, Format::Bgzf);
                let mut got = Vec::new();
                s.reader.read_to_end(&mut got).unwrap();
                assert!(got == want, "{inflaters} inflaters: {} bytes", got.len());
            }
        }
    }

    /// Cut anywhere inside a block, BGZF input is an error, as gzip is.
    #[test]
    fn truncated_bgzf_is_an_error() {
        let data = bgzf(&b"a line of text\n".repeat(20_000));
        for cut in [data.len() / 2, data.len() - 40, 30] {
            let (r, _) = read_all(data[..cut].to_vec());
            assert!(r.is_err(), "cut at {cut} of {}", data.len());
        }
    }

    /// A BGZF file cut at a block boundary inflates without a hitch: only its missing
    /// end-of-file block tells it is not whole.
    #[test]
    fn bgzf_without_its_end_of_file_block_is_an_error() {
        let data = bgzf(&b"a line of text\n".repeat(20_000));
        let first_block = u16::from_le_bytes([data[16], data[17]]) as usize + 1;
        for inflaters in [0, 2] {
            let read = |bytes: &[u8]| {
                let mut s =
                    Source::from_reader(Box::new(io::Cursor::new(bytes.to_vec())), None, inflaters)
                        .unwrap();
                let mut v = Vec::new();
                s.reader.read_to_end(&mut v).map(|_| v)
            };
            let e = read(&data[..first_block]).unwrap_err();
            assert!(
                e.to_string().contains("end-of-file block is missing"),
                "{e}"
            );
            assert!(read(&data[..data.len() - 28]).is_err());
            assert!(read(&data).is_ok());
        }
    }

    #[test]
    fn zstd_xz_and_bzip2_are_read_and_archives_refused() {
        let text = b"c1\t1\tA\tC\n".repeat(5000);
        let zst = zstd::encode_all(&text[..], 3).unwrap();
        let mut xz = Vec::new();
        liblzma::read::XzEncoder::new(&text[..], 6)
            .read_to_end(&mut xz)
            .unwrap();
        let mut bz = Vec::new();
        bzip2::read::BzEncoder::new(&text[..], bzip2::Compression::best())
            .read_to_end(&mut bz)
            .unwrap();
        for (data, format) in [(zst, Format::Zstd), (xz, Format::Xz), (bz, Format::Bzip2)] {
            let mut s =
                Source::from_reader(Box::new(io::Cursor::new(data.clone())), None, 2).unwrap();
            assert_eq!(s.format, format);
            let mut got = Vec::new();
            s.reader.read_to_end(&mut got).unwrap();
            assert!(got == text, "{format:?}");
            let mut cut = Source::from_reader(
                Box::new(io::Cursor::new(data[..data.len() - 9].to_vec())),
                None,
                2,
            )
            .unwrap();
            assert!(
                cut.reader.read_to_end(&mut Vec::new()).is_err(),
                "{format:?} cut"
            );
        }
        let zip = b"PK\x03\x04\x14\x00\x00\x00".to_vec();
        match Source::from_reader(Box::new(io::Cursor::new(zip)), None, 2) {
            Err(OpenError::Refused(what)) => assert_eq!(what, "a zip archive"),
            _ => panic!("a zip archive is refused"),
        }
    }

    #[test]
    fn truncated_gzip_is_an_error_not_a_short_read() {
        let data = gz(&b"a line of text\n".repeat(1000));
        let (r, _) = read_all(data[..data.len() / 2].to_vec());
        assert!(r.is_err());
    }
}
