//! The FASTA index given with `--fai` (`samtools faidx`'s `.fai`), read once before the
//! conversion: the contigs' lengths for the VCF header's `##contig` lines and for checking
//! each record's POS.
//!
//! The index is held compactly, in memory taken from the run's [`Budget`]: one buffer of
//! the contig names and a table of 16 bytes per contig (where its name is, its length),
//! sorted by name and searched by bisection. It is read twice, streaming: once to check its
//! lines and measure it ([`FastaIndex::measure`], so the run can plan around it), once to
//! fill buffers of exactly that size ([`Measured::load`]).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::budget::{Budget, Grant};
use crate::config::size::format_size;
use crate::error::{Error, Result};

/// The longest line of an index read, in bytes: a name and four numbers take far less (a
/// longer line is a file that is not an index, such as the FASTA itself).
const MAX_LINE: usize = 64 << 10;

/// What a bad line is told: the shape of an index line.
const NOT_AN_INDEX_LINE: &str =
    "not a FASTA index line (NAME, LENGTH, ... tab-separated, as samtools faidx writes)";

/// A FASTA index (`samtools faidx`'s `.fai`: NAME, LENGTH, OFFSET, LINEBASES, LINEWIDTH,
/// tab-separated): the contigs' lengths in bp, for the VCF header's `##contig` lines and
/// the records' POS. Its memory ([`Measured::bytes`]) is held from the run's budget for as
/// long as the index lives.
#[derive(Debug)]
pub struct FastaIndex {
    path: PathBuf,
    /// Every contig name, one after another, in the index's order.
    names: Vec<u8>,
    /// One per contig line, sorted by name; a name listed twice (with one length) is there
    /// twice.
    contigs: Vec<Contig>,
    /// The budget's bytes for `names` and `contigs`.
    _grant: Grant,
}

/// A contig of the index: its name at `names[start..start + len]`, its length in bp.
#[derive(Debug, Clone, Copy)]
struct Contig {
    start: u32,
    len: u32,
    length: u64,
}

/// A FASTA index whose lines were checked and counted ([`FastaIndex::measure`]), not yet
/// held in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measured {
    path: PathBuf,
    /// Contig lines.
    contigs: usize,
    /// Bytes of all the contig names.
    name_bytes: usize,
}

/// One line of the index as read: its 1-based number, its 0-based byte offset, and its
/// bytes without the line ending.
struct Line<'a> {
    number: u64,
    byte: u64,
    text: &'a [u8],
}

impl FastaIndex {
    /// Checks every line of the index at `path` and measures what holding it takes,
    /// reading it as a stream (a few KiB of memory, whatever its size).
    ///
    /// # Errors
    ///
    /// The file cannot be read (an I/O error, exit 1, as for a config or header file), is
    /// not a regular file (a pipe, `<(...)`, a FIFO: a configuration error, exit 2, since
    /// it is read twice, to measure and then to load it), or a line is not NAME TAB LENGTH
    /// ... or is longer than 64 KiB (bad input naming the line, exit 2).
    pub fn measure(path: &Path) -> Result<Measured> {
        let meta = std::fs::metadata(path)
            .map_err(|e| Error::io(path, "read the FASTA index (--fai)", e))?;
        if !meta.is_file() {
            return Err(Error::config(format!(
                "the FASTA index (--fai) {} is not a regular file: hapflow reads it twice (to \
                 measure it, then to load it within the memory limit), which a pipe cannot \
                 give; write it to a file first (e.g. `grep -wFf contigs.txt ref.fa.fai > \
                 used.fai`)",
                path.display()
            )));
        }
        let mut measured = Measured {
            path: path.to_path_buf(),
            contigs: 0,
            name_bytes: 0,
        };
        each_line(path, |line| {
            let (name, _) = parse(path, &line)?;
            measured.contigs += 1;
            measured.name_bytes += name.len();
            Ok(())
        })?;
        if u32::try_from(measured.name_bytes).is_err() {
            return Err(Error::bad_input(
                path.display().to_string(),
                "a FASTA index whose contig names take more than 4 GiB",
            ));
        }
        Ok(measured)
    }

    /// Reads the index at `path` into memory from `budget`: [`FastaIndex::measure`] and
    /// [`Measured::load`].
    ///
    /// # Errors
    ///
    /// As those two.
    pub fn read(path: &Path, budget: &Budget) -> Result<FastaIndex> {
        FastaIndex::measure(path)?.load(budget)
    }

    /// The length in bp of contig `name`, if the index lists it.
    pub fn length(&self, name: &[u8]) -> Option<u64> {
        self.contigs
            .binary_search_by(|c| self.name(c).cmp(name))
            .ok()
            .map(|i| self.contigs[i].length)
    }

    /// The file the index was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn name(&self, c: &Contig) -> &[u8] {
        name_in(&self.names, c)
    }
}

impl Measured {
    /// Bytes of memory the index takes once loaded: its names and 16 bytes per contig.
    pub fn bytes(&self) -> usize {
        self.name_bytes + self.contigs * std::mem::size_of::<Contig>()
    }

    /// Contig lines in the index (a name listed twice counts twice).
    pub fn contigs(&self) -> usize {
        self.contigs
    }

    /// The file measured.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the index is called in messages about memory: `the FASTA index NAME (--fai,
    /// N contigs)`.
    pub fn what(&self) -> String {
        format!(
            "the FASTA index {} (--fai, {} contigs)",
            self.path.display(),
            self.contigs
        )
    }

    /// Reads the measured index into buffers of exactly [`bytes`](Self::bytes), reserved
    /// from `budget` first.
    ///
    /// # Errors
    ///
    /// A configuration error (exit 2) when the budget has not the bytes left (`memory limit
    /// too small: the FASTA index ... needs ...`); an I/O error (exit 1) when the file
    /// cannot be read or changed since it was measured; bad input naming the line (exit 2)
    /// for a bad line, or for a contig listed again with another length.
    pub fn load(self, budget: &Budget) -> Result<FastaIndex> {
        let grant = budget.reserve(self.bytes(), &self.what())?;
        let mut names = Vec::with_capacity(self.name_bytes);
        let mut contigs = Vec::with_capacity(self.contigs);
        let path = &self.path;
        each_line(path, |line| {
            let (name, length) = parse(path, &line)?;
            if contigs.len() == self.contigs || names.len() + name.len() > self.name_bytes {
                return Err(changed(path));
            }
            contigs.push(Contig {
                start: names.len() as u32,
                len: name.len() as u32,
                length,
            });
            names.extend_from_slice(name);
            Ok(())
        })?;
        if contigs.len() != self.contigs {
            return Err(changed(path));
        }
        contigs.sort_unstable_by(|a, b| name_in(&names, a).cmp(name_in(&names, b)));
        let twice = contigs.windows(2).find(|w| {
            name_in(&names, &w[0]) == name_in(&names, &w[1]) && w[0].length != w[1].length
        });
        if let Some(w) = twice {
            return Err(other_length(path, name_in(&names, &w[0])));
        }
        Ok(FastaIndex {
            path: self.path,
            names,
            contigs,
            _grant: grant,
        })
    }
}

fn name_in<'a>(names: &'a [u8], c: &Contig) -> &'a [u8] {
    &names[c.start as usize..][..c.len as usize]
}

/// NAME and LENGTH of an index line, or bad input naming it.
fn parse<'a>(path: &Path, line: &Line<'a>) -> Result<(&'a [u8], u64)> {
    let mut f = line.text.split(|&b| b == b'\t');
    let name = f.next().unwrap_or_default();
    let length = f
        .next()
        .and_then(|n| std::str::from_utf8(n).ok()?.parse::<u64>().ok());
    match length {
        Some(length) if !name.is_empty() => Ok((name, length)),
        _ => Err(bad_line(path, line, NOT_AN_INDEX_LINE.to_string())),
    }
}

fn bad_line(path: &Path, line: &Line, why: String) -> Error {
    Error::bad_line(path.display().to_string(), line.number, line.byte, why)
}

/// The index was measured, and then read with other lines.
fn changed(path: &Path) -> Error {
    Error::io(
        path,
        "read the FASTA index (--fai)",
        std::io::Error::other("the file changed while it was read"),
    )
}

/// Bad input naming the first line that gives contig `name` another length than its first
/// line does: the index is read again to find it (the loaded index keeps no line numbers).
fn other_length(path: &Path, name: &[u8]) -> Error {
    let mut first: Option<(u64, u64)> = None;
    let mut found = None;
    let scan = each_line(path, |line| {
        let (n, length) = parse(path, &line)?;
        if n != name || found.is_some() {
            return Ok(());
        }
        match first {
            None => first = Some((line.number, length)),
            Some((at, was)) if was != length => {
                found = Some(bad_line(
                    path,
                    &line,
                    format!(
                        "contig {:?} is listed again with another length: {length} bp here, {was} bp on line {at}",
                        String::from_utf8_lossy(name)
                    ),
                ))
            }
            Some(_) => {}
        }
        Ok(())
    });
    match (scan, found) {
        (Err(e), _) => e,
        (Ok(()), Some(e)) => e,
        (Ok(()), None) => changed(path),
    }
}

/// Calls `f` with each non-empty line of the file at `path` (a `\r` before the `\n` taken
/// off), streaming: one line of at most [`MAX_LINE`] bytes is held at a time.
fn each_line(path: &Path, mut f: impl FnMut(Line) -> Result<()>) -> Result<()> {
    let io = |e| Error::io(path, "read the FASTA index (--fai)", e);
    let mut reader = BufReader::new(File::open(path).map_err(io)?);
    let mut text = Vec::new();
    let (mut number, mut byte) = (0u64, 0u64);
    loop {
        text.clear();
        let read = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut text)
            .map_err(io)?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        let line = Line {
            number,
            byte,
            text: &text,
        };
        if read > MAX_LINE && !text.ends_with(b"\n") {
            let why = format!(
                "{NOT_AN_INDEX_LINE}: longer than {}",
                format_size(MAX_LINE as u64)
            );
            return Err(bad_line(path, &line, why));
        }
        byte += read as u64;
        let mut text = &text[..];
        text = text.strip_suffix(b"\n").unwrap_or(text);
        text = text.strip_suffix(b"\r").unwrap_or(text);
        if !text.is_empty() {
            f(Line { text, ..line })?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_of(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ref.fa.fai");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn lengths_are_found_by_name_in_any_order() {
        let (_d, path) = index_of("chr2\t50\t0\t60\t61\r\n\nchr10\t7\t1\nchr1\t100\t9\t60\t61");
        let budget = Budget::new(1 << 20);
        let fai = FastaIndex::read(&path, &budget).unwrap();
        assert_eq!(fai.length(b"chr1"), Some(100));
        assert_eq!(fai.length(b"chr2"), Some(50));
        assert_eq!(fai.length(b"chr10"), Some(7));
        assert_eq!(fai.length(b"chr3"), None);
        assert_eq!(fai.length(b"chr"), None);
        assert_eq!(budget.used(), 4 + 4 + 5 + 3 * 16);
        drop(fai);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn the_index_takes_its_measured_bytes_from_the_budget_or_says_what_it_needs() {
        let (_d, path) = index_of("c1\t10\nc2\t20\n");
        let m = FastaIndex::measure(&path).unwrap();
        assert_eq!((m.contigs(), m.bytes()), (2, 4 + 2 * 16));
        let err = m.load(&Budget::new(35)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("memory limit too small") && text.contains("(--fai, 2 contigs) needs"),
            "{text}"
        );
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn a_name_listed_twice_needs_one_length() {
        let (_d, path) = index_of("c1\t10\nc2\t20\nc1\t10\n");
        assert_eq!(
            FastaIndex::read(&path, &Budget::new(1 << 20))
                .unwrap()
                .length(b"c1"),
            Some(10)
        );
        let (_d, path) = index_of("c1\t10\nc2\t20\n\nc1\t10\nc1\t11\n");
        let err = FastaIndex::read(&path, &Budget::new(1 << 20)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("line 5") && text.contains("11 bp here, 10 bp on line 1"),
            "{text}"
        );
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn bad_and_overlong_lines_are_named() {
        let (_d, path) = index_of("c1\t10\nc2 20\n");
        let text = FastaIndex::measure(&path).unwrap_err().to_string();
        assert!(
            text.contains("line 2") && text.contains(NOT_AN_INDEX_LINE),
            "{text}"
        );
        let long = format!("c1\t10\n{}\t5\n", "n".repeat(MAX_LINE + 10));
        let (_d, path) = index_of(&long);
        let text = FastaIndex::measure(&path).unwrap_err().to_string();
        assert!(
            text.contains("line 2") && text.contains("longer than"),
            "{text}"
        );
    }
}
