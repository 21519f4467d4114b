//! Opening an input: a file or stdin, plain or gzip (single-member, multi-member, bgzip),
//! recognised by its first bytes whatever its name, with a count of the bytes read from it
//! so progress can be shown against the file's size.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;

use crate::error::{Error, Result};

/// Where the matrix comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Path(PathBuf),
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

/// An open input, decompressing if it is gzip.
pub struct Source {
    pub reader: Box<dyn Read + Send>,
    /// Bytes read so far from the file or stdin (compressed bytes for gzip input).
    pub source_bytes: Arc<AtomicU64>,
    /// The file's size, when it is a regular file.
    pub total_bytes: Option<u64>,
    pub gzip: bool,
}

/// Read buffer under the gzip decoder; plain input is read straight into chunk buffers.
pub const GZIP_READ_BUFFER: usize = 128 << 10;
/// What one BGZF block in flight holds: up to 64 KiB compressed and 64 KiB inflated.
const BGZF_BLOCK_BUFFERS: usize = (128 + 8) << 10;

/// Memory the decompressor of an input may hold with `inflaters` threads: one gzip read
/// buffer, or the BGZF blocks in flight (a block per thread, two waiting, one being read).
pub fn decompress_bytes(inflaters: usize) -> usize {
    GZIP_READ_BUFFER.max((inflaters + 3) * BGZF_BLOCK_BUFFERS)
}

/// True if `header` starts a BGZF block (bgzip's format, and BAM's): gzip whose member
/// carries its own size in a `BC` extra field, so members can be inflated apart, in parallel.
fn is_bgzf(header: &[u8]) -> bool {
    header.len() >= 18
        && header[..3] == [0x1f, 0x8b, 8]
        && header[3] & 4 != 0
        && header[10..12] == [6, 0]
        && header[12..14] == *b"BC"
        && header[14..16] == [2, 0]
}

impl Source {
    /// Opens `input`; BGZF input is inflated by `inflaters` threads (0: by the reader).
    pub fn open(input: &Input, inflaters: usize) -> Result<Source> {
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
                Source::from_reader(Box::new(file), total, inflaters)
                    .map_err(|e| Error::io(path, "read", e))
            }
            Input::Stdin => Source::from_reader(Box::new(io::stdin()), None, inflaters)
                .map_err(|e| Error::io("<stdin>", "read", e)),
        }
    }

    /// Opens a file to be read from `skip` bytes of (decompressed) input on: a plain file is
    /// sought there, gzip is decompressed and the first `skip` bytes dropped (re-read, but
    /// not re-converted). Used to resume from a checkpoint.
    pub fn open_at(path: &Path, skip: u64, inflaters: usize) -> Result<Source> {
        if skip == 0 {
            return Source::open(&Input::Path(path.to_path_buf()), inflaters);
        }
        let mut file = File::open(path).map_err(|e| Error::io(path, "open", e))?;
        let total = file
            .metadata()
            .map_err(|e| Error::io(path, "stat", e))?
            .len();
        let mut magic = [0u8; 2];
        let got = std::os::unix::fs::FileExt::read_at(&file, &mut magic, 0)
            .map_err(|e| Error::io(path, "read", e))?;
        if got == 2 && magic == [0x1f, 0x8b] {
            let mut source = Source::from_reader(Box::new(file), Some(total), inflaters)
                .map_err(|e| Error::io(path, "read", e))?;
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
            total_bytes: Some(total),
            gzip: false,
        })
    }

    /// Wraps any reader: counts its bytes and decompresses it if it starts like gzip, with
    /// `inflaters` threads if it is BGZF (and `inflaters` is not 0).
    pub fn from_reader(
        inner: Box<dyn Read + Send>,
        total: Option<u64>,
        inflaters: usize,
    ) -> io::Result<Source> {
        let counter = Arc::new(AtomicU64::new(0));
        let mut counted = Counted {
            inner,
            count: counter.clone(),
        };
        // Enough of the start to tell plain, gzip and BGZF apart; it is replayed.
        let mut magic = [0u8; 18];
        let mut got = 0;
        while got < magic.len() {
            match counted.read(&mut magic[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let replay = io::Cursor::new(magic[..got].to_vec()).chain(counted);
        let gzip = got >= 2 && magic[..2] == [0x1f, 0x8b];
        let reader: Box<dyn Read + Send> =
            if let (true, Some(n)) = (is_bgzf(&magic[..got]), std::num::NonZero::new(inflaters)) {
                Box::new(noodles_bgzf::io::MultithreadedReader::with_worker_count(
                    n, replay,
                ))
            } else if gzip {
                Box::new(MultiGzDecoder::new(BufReader::with_capacity(
                    GZIP_READ_BUFFER,
                    replay,
                )))
            } else {
                Box::new(replay)
            };
        Ok(Source {
            reader,
            source_bytes: counter,
            total_bytes: total,
            gzip,
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
        (r, s.gzip)
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
            let mut s = Source::open_at(p, 9995, 2).unwrap();
            let mut rest = Vec::new();
            s.reader.read_to_end(&mut rest).unwrap();
            assert_eq!(rest, b"56789", "{p:?}");
        }
        assert!(Source::open_at(&zipped, 20_000, 2).is_err());
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
        assert!(is_bgzf(&one) && !is_bgzf(&gz(&text)));
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
                assert!(s.gzip);
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

    #[test]
    fn truncated_gzip_is_an_error_not_a_short_read() {
        let data = gz(&b"a line of text\n".repeat(1000));
        let (r, _) = read_all(data[..data.len() / 2].to_vec());
        assert!(r.is_err());
    }
}
