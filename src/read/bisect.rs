//! The contigs of an uncompressed matrix file, guessed before the conversion reads it, from
//! a few lines sampled by bisection: each contig is taken to be one stretch of lines, as in
//! a sorted matrix, so two samples naming the same contig are taken to have only that
//! contig between them, and two naming different contigs are split until the lines where
//! one contig gives way to the next are found.
//!
//! A VCF header must list every contig before the first record, yet a stream's contigs are
//! known only at its end. With the guess the VCF writer writes the header first, and the
//! spool becomes the output as it is, as a table's does; without it the records are copied
//! after a header made at the end, which for the question's mix cost about a third of the
//! conversion's time (a 340 MB copy on ext4, which cannot share extents). The guess is
//! checked against the contigs the conversion saw: a wrong one (contigs interleaved, a
//! contig's name appearing inside another's stretch, a repeated header line) costs that
//! copy, never a wrong output.

use std::collections::HashSet;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

/// How much a guess may cost before it is given up.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Reads of at most [`READ`] bytes: page-cached, a few microseconds each; on a cold
    /// disk, a seek each.
    pub reads: usize,
    /// Past [`Limits::FREE_READS`] reads, the time the guess may take: about what the copy
    /// it saves would cost, so that on a slow disk a file of many contigs loses little.
    pub time: Duration,
    /// Bytes the guess may hold while the header is made from it: each name counted at
    /// three times its length plus [`NAME_OVERHEAD`] (its copies in the list and the set
    /// of names seen, and its line in the header).
    pub memory: usize,
}

impl Limits {
    /// Reads that are never timed, so a guess of a few dozen contigs never depends on how
    /// busy the machine is.
    pub const FREE_READS: usize = 1024;

    /// The limits for a file of `len` bytes: a read per 16 KiB of it (at least
    /// [`Limits::FREE_READS`]; 1,000 contigs of a 640 MiB file take about 12,000), an
    /// eighth of a second per GB of it (at least 10 ms; the copy of a VCF of the question's
    /// mix, about 0.28 bytes per byte of matrix, takes about a quarter of a second per GB
    /// of matrix on ext4), and `memory` bytes of names.
    pub fn for_file(len: u64, memory: usize) -> Limits {
        Limits {
            reads: ((len >> 14) as usize).max(Self::FREE_READS),
            time: Duration::from_millis(10).max(Duration::from_nanos(len / 8)),
            memory,
        }
    }
}

/// What a name costs the guess besides three times its length: two allocations and their
/// bookkeeping (a `Vec` and a hash-set entry), and the rest of its `##contig` line.
pub const NAME_OVERHEAD: usize = 160;

/// Bytes read per sample.
pub const READ: usize = 4096;

/// The longest line a sample reads through before the guess is given up.
const LONGEST_LINE: usize = 1 << 20;

/// The UTF-8 byte-order mark, which the conversion ignores at the start of any line.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// Guesses the contigs of the matrix lines in `file[start..end]` (`start`: the first data
/// line, after any header line), in first-appearance order. None when the guess is given
/// up: a line without a tab, an empty line, one starting with `#`, one longer than 1 MiB,
/// a contig seen again after another (the contigs are interleaved), a read error, or
/// `limits` reached.
pub fn guess_contigs(file: &File, start: u64, end: u64, limits: Limits) -> Option<Vec<Vec<u8>>> {
    let mut b = Bisection {
        file,
        start,
        end,
        buf: vec![0; READ],
        reads: 0,
        started: Instant::now(),
        limits,
        names: Vec::new(),
        seen: HashSet::new(),
        memory: 0,
    };
    let first = b.line_from(start).ok()??;
    let last = b.last_line().ok()?;
    b.push(&first.name).ok()?;
    b.between(&first, &last).ok()?;
    b.push(&last.name).ok()?;
    Some(b.names)
}

/// A guess given up.
struct GiveUp;

/// A sampled line: where it starts, and its contig.
struct Line {
    start: u64,
    name: Vec<u8>,
}

/// The line at `start` whose first field is `name`, the byte-order mark removed; given up
/// for an empty name or one starting with `#` (not a matrix row).
fn named(start: u64, name: Vec<u8>) -> Result<Line, GiveUp> {
    let name = name.strip_prefix(BOM).map(<[u8]>::to_vec).unwrap_or(name);
    if name.is_empty() || name[0] == b'#' {
        return Err(GiveUp);
    }
    Ok(Line { start, name })
}

struct Bisection<'a> {
    file: &'a File,
    start: u64,
    end: u64,
    buf: Vec<u8>,
    reads: usize,
    started: Instant,
    limits: Limits,
    names: Vec<Vec<u8>>,
    seen: HashSet<Vec<u8>>,
    /// What the names found so far cost, as [`Limits::memory`] counts.
    memory: usize,
}

impl Bisection<'_> {
    /// The contigs between `a` and `b` (lines in file order), neither's own included.
    fn between(&mut self, a: &Line, b: &Line) -> Result<(), GiveUp> {
        if a.name == b.name {
            return Ok(());
        }
        if b.start - a.start <= READ as u64 {
            return self.each_line(a.start, b.start);
        }
        // A line halfway, or else the line after `a`; none before `b`: `a` and `b` are
        // neighbours, and their contigs meet there.
        let halfway = a.start + (b.start - a.start) / 2;
        let m = match self.line_from(halfway.max(a.start + 1))? {
            Some(m) if m.start < b.start => m,
            _ => match self.line_from(a.start + 1)? {
                Some(m) if m.start < b.start => m,
                _ => return Ok(()),
            },
        };
        self.between(a, &m)?;
        self.push(&m.name)?;
        self.between(&m, b)
    }

    /// The contigs of the lines after the one starting at `from`, up to `to` (a line's
    /// start at most [`READ`] bytes further), from one read.
    fn each_line(&mut self, from: u64, to: u64) -> Result<(), GiveUp> {
        let n = self.read(from)?;
        let bytes = std::mem::take(&mut self.buf);
        let lines = &bytes[..n.min((to - from) as usize)];
        let mut result = Ok(());
        // Each line feed but the last one (which ends the line before `to`) starts a line.
        let feeds = memchr::memchr_iter(b'\n', lines).collect::<Vec<_>>();
        for pair in feeds.windows(2) {
            let line = &lines[pair[0] + 1..pair[1]];
            result = match memchr::memchr(b'\t', line) {
                Some(t) => named(from + pair[0] as u64 + 1, line[..t].to_vec())
                    .and_then(|l| self.push(&l.name)),
                None => Err(GiveUp),
            };
            if result.is_err() {
                break;
            }
        }
        self.buf = bytes;
        result
    }

    /// Adds a contig after those found so far (again in a row: nothing).
    fn push(&mut self, name: &[u8]) -> Result<(), GiveUp> {
        if self.names.last().is_some_and(|n| n == name) {
            return Ok(());
        }
        self.memory += 3 * name.len() + NAME_OVERHEAD;
        if self.memory > self.limits.memory || !self.seen.insert(name.to_vec()) {
            return Err(GiveUp);
        }
        self.names.push(name.to_vec());
        Ok(())
    }

    /// Reads up to [`READ`] bytes at `at` into the buffer; returns how many.
    fn read(&mut self, at: u64) -> Result<usize, GiveUp> {
        self.reads += 1;
        let timed = self.reads > Limits::FREE_READS;
        if self.reads > self.limits.reads || timed && self.started.elapsed() > self.limits.time {
            return Err(GiveUp);
        }
        let want = (self.end.saturating_sub(at) as usize).min(READ);
        let mut got = 0;
        while got < want {
            match self.file.read_at(&mut self.buf[got..want], at + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Err(GiveUp),
            }
        }
        Ok(got)
    }

    /// The first line starting at or after `at` (None: no line starts before the end).
    fn line_from(&mut self, at: u64) -> Result<Option<Line>, GiveUp> {
        let mut line_start = at;
        if at > self.start {
            // A line starts just after a line feed: find the first one at or after at - 1.
            let mut from = at - 1;
            loop {
                if from >= self.end || from - (at - 1) > LONGEST_LINE as u64 {
                    return if from >= self.end {
                        Ok(None)
                    } else {
                        Err(GiveUp)
                    };
                }
                let n = self.read(from)?;
                if n == 0 {
                    return Ok(None);
                }
                if let Some(i) = memchr::memchr(b'\n', &self.buf[..n]) {
                    line_start = from + i as u64 + 1;
                    // Mostly the name is in the same read.
                    let rest = &self.buf[i + 1..n];
                    if let Some(t) = memchr::memchr3(b'\t', b'\n', b'\r', rest) {
                        if rest[t] == b'\t' && line_start < self.end {
                            return named(line_start, rest[..t].to_vec()).map(Some);
                        }
                    }
                    break;
                }
                from += n as u64;
            }
        }
        if line_start >= self.end {
            return Ok(None);
        }
        self.name_at(line_start).map(Some)
    }

    /// The contig of the line starting at `at`: its bytes up to the first tab.
    fn name_at(&mut self, at: u64) -> Result<Line, GiveUp> {
        let mut name = Vec::new();
        let mut from = at;
        loop {
            let n = self.read(from)?;
            let got = &self.buf[..n];
            match memchr::memchr3(b'\t', b'\n', b'\r', got) {
                Some(i) if got[i] == b'\t' => {
                    name.extend_from_slice(&got[..i]);
                    break;
                }
                // A line without a tab, or the end of the file inside one.
                Some(_) => return Err(GiveUp),
                None if n == 0 || name.len() > LONGEST_LINE => return Err(GiveUp),
                None => {
                    name.extend_from_slice(got);
                    from += n as u64;
                }
            }
        }
        named(at, name)
    }

    /// The last line: the one after the last line feed before the final line ending.
    fn last_line(&mut self) -> Result<Line, GiveUp> {
        let mut end = self.end;
        for ending in [b'\n', b'\r'] {
            if end > self.start && self.byte_at(end - 1)? == ending {
                end -= 1;
            }
        }
        let mut to = end;
        while to > self.start {
            let from = to.saturating_sub(READ as u64).max(self.start);
            if end - from > LONGEST_LINE as u64 {
                return Err(GiveUp);
            }
            let n = self.read(from)?;
            let got = &self.buf[..n.min((to - from) as usize)];
            if let Some(i) = memchr::memrchr(b'\n', got) {
                return self.name_at(from + i as u64 + 1);
            }
            to = from;
        }
        self.name_at(self.start)
    }

    fn byte_at(&mut self, at: u64) -> Result<u8, GiveUp> {
        match self.read(at)? {
            0 => Err(GiveUp),
            _ => Ok(self.buf[0]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(text: &str) -> (File, u64) {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        (f, text.len() as u64)
    }

    fn guess(text: &str, start: u64) -> Option<Vec<String>> {
        let (f, len) = file(text);
        guess_contigs(&f, start, len, Limits::for_file(len, 1 << 20)).map(|names| {
            names
                .into_iter()
                .map(|n| String::from_utf8(n).unwrap())
                .collect()
        })
    }

    fn matrix(contigs: &[(&str, usize)]) -> String {
        let mut m = String::new();
        for (name, rows) in contigs {
            for pos in 1..=*rows {
                m.push_str(&format!("{name}\t{pos}\tA\tA\tC\n"));
            }
        }
        m
    }

    #[test]
    fn every_stretch_is_found_whatever_its_length() {
        let shape = [
            ("chr1", 1000),
            ("chr2", 1),
            ("chr3", 2),
            ("chrUn_x", 5000),
            ("chrM", 1),
        ];
        let names: Vec<String> = shape.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(guess(&matrix(&shape), 0), Some(names));
        assert_eq!(guess(&matrix(&[("a", 1)]), 0), Some(vec!["a".into()]));
        let many: Vec<(String, usize)> = (0..300).map(|i| (format!("s{i}"), 1 + i % 7)).collect();
        let shape: Vec<(&str, usize)> = many.iter().map(|(n, r)| (n.as_str(), *r)).collect();
        let want: Vec<String> = many.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(guess(&matrix(&shape), 0), Some(want));
    }

    #[test]
    fn header_lines_crlf_a_missing_last_line_feed_and_boms_are_read_past() {
        let body = matrix(&[("chr1", 50), ("chr2", 50)]).replace('\n', "\r\n");
        let text = format!("CHROM\tPOS\tREF\ta\tb\r\n{body}");
        assert_eq!(guess(&text, 19), Some(vec!["chr1".into(), "chr2".into()]));
        let text = matrix(&[("chr1", 50), ("chr2", 50)]);
        assert_eq!(
            guess(text.trim_end(), 0),
            Some(vec!["chr1".into(), "chr2".into()])
        );
        let joined = format!(
            "\u{feff}{}\u{feff}{}",
            matrix(&[("x", 9)]),
            matrix(&[("y", 9)])
        );
        assert_eq!(guess(&joined, 0), Some(vec!["x".into(), "y".into()]));
    }

    #[test]
    fn interleaved_contigs_and_lines_that_are_not_rows_give_up_or_are_caught_later() {
        // Seen again after another: interleaved, given up.
        let text = matrix(&[("a", 10), ("b", 10), ("c", 10), ("b", 10)]);
        assert_eq!(guess(&text, 0), None);
        // A stretch hidden between two samples of one contig is missed: the conversion's
        // own contigs differ from the guess, and the header is made at the end instead.
        let text = matrix(&[("a", 500), ("b", 1), ("a", 500)]);
        assert_eq!(guess(&text, 0), Some(vec!["a".into()]));
        assert_eq!(guess("a\t1\tA\tC\n\n", 0), None, "an empty line");
        assert_eq!(guess("a\t1\tA\tC\nb 2 A C\n", 0), None, "no tab");
        assert_eq!(guess("", 0), None);
        let text = format!("{}#comment\t\n{}", matrix(&[("a", 3)]), matrix(&[("b", 3)]));
        assert_eq!(guess(&text, 0), None);
    }

    #[test]
    fn the_limits_bound_the_work() {
        let many: Vec<(String, usize)> = (0..400).map(|i| (format!("s{i}"), 100)).collect();
        let shape: Vec<(&str, usize)> = many.iter().map(|(n, r)| (n.as_str(), *r)).collect();
        let text = matrix(&shape);
        let (f, len) = file(&text);
        let hour = Duration::from_secs(3600);
        let few_reads = Limits {
            reads: 500,
            time: hour,
            memory: 1 << 20,
        };
        assert!(guess_contigs(&f, 0, len, few_reads).is_none());
        let few_names = Limits {
            reads: 1 << 20,
            time: hour,
            memory: 100 * NAME_OVERHEAD,
        };
        assert!(guess_contigs(&f, 0, len, few_names).is_none());
        // Time counts only past the free reads: a guess that needs more gives up at once.
        let no_time = Limits {
            reads: 1 << 20,
            time: Duration::ZERO,
            memory: 1 << 20,
        };
        let many: Vec<(String, usize)> = (0..3000).map(|i| (format!("s{i}"), 50)).collect();
        let shape: Vec<(&str, usize)> = many.iter().map(|(n, r)| (n.as_str(), *r)).collect();
        let (big, big_len) = file(&matrix(&shape));
        assert!(guess_contigs(&big, 0, big_len, no_time).is_none());
        assert_eq!(
            guess_contigs(&f, 0, len, no_time).map(|n| n.len()),
            Some(400),
            "under the free reads"
        );
        let enough = Limits {
            reads: 8000,
            time: hour,
            memory: 400 * (3 * 4 + NAME_OVERHEAD),
        };
        assert_eq!(
            guess_contigs(&f, 0, len, enough).map(|n| n.len()),
            Some(400)
        );
    }
}
