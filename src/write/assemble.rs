//! Regrouping an output whose contigs came interleaved: one sequential pass over the rows in
//! input order, each stretch of one contig's rows copied to where that contig's block
//! begins in the final file. Every contig's size is known, so every block's offset is too:
//! no sort, no index, one buffer.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};

use memchr::memchr;

use super::bgzf::{Deflater, BLOCK_DATA};
use super::contigs::ContigTable;

/// Reads a file from an offset on, without moving its cursor.
pub struct ReadFrom<'a> {
    file: &'a File,
    at: u64,
}

impl<'a> ReadFrom<'a> {
    /// Reads `file` from byte `at` on, without moving its cursor (`pread`).
    pub fn new(file: &'a File, at: u64) -> ReadFrom<'a> {
        ReadFrom { file, at }
    }
}

impl Read for ReadFrom<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read_at(buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

fn stopped() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::Interrupted, "stopped")
}

/// Copies the rows read from `src` into `dst` from offset `dst_start` on, grouped by contig
/// in id order, rows of a contig in input order. `buf` must hold the longest row. Returns
/// the bytes of rows.
pub fn regroup(
    src: &mut dyn Read,
    dst: &File,
    dst_start: u64,
    contigs: &ContigTable,
    buf: &mut [u8],
    stop: &AtomicBool,
) -> std::io::Result<u64> {
    let mut cursor: Vec<u64> = Vec::with_capacity(contigs.len());
    let mut at = dst_start;
    for id in 0..contigs.len() as u32 {
        cursor.push(at);
        at += contigs.bytes(id);
    }
    let total = at - dst_start;

    let mut filled = 0;
    let mut current: Option<u32> = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(stopped());
        }
        let n = read_some(src, &mut buf[filled..])?;
        filled += n;
        if filled == 0 {
            break;
        }
        // Copy every whole row in the buffer, a stretch of one contig at a time.
        let mut pos = 0;
        let mut stretch = 0;
        while let Some(end) = memchr(b'\n', &buf[pos..filled]).map(|i| pos + i + 1) {
            let row = &buf[pos..end];
            let name = &row[..memchr(b'\t', row).unwrap_or(row.len())];
            let same = current.is_some_and(|c| contigs.name(c) == name);
            if !same {
                flush(dst, &buf[stretch..pos], current, &mut cursor)?;
                stretch = pos;
                current = Some(contigs.id_of(name).ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "spooled row of a contig that was never seen",
                    )
                })?);
            }
            pos = end;
        }
        flush(dst, &buf[stretch..pos], current, &mut cursor)?;
        if pos == 0 && n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "spool ends in a partial row",
            ));
        }
        buf.copy_within(pos..filled, 0);
        filled -= pos;
    }
    Ok(total)
}

/// One read, again on `Interrupted` (a BGZF reader may return fewer bytes than asked).
fn read_some(src: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match src.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Compresses all of `plain` as BGZF blocks onto `dst` (at its cursor), a buffer at a time.
/// `packed` must have room for [`super::bgzf::bound`] of `buf`'s length.
pub fn compress_file(
    plain: &File,
    dst: &mut super::TempOutput,
    level: u32,
    buf: &mut [u8],
    packed: &mut Vec<u8>,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    let mut deflater = Deflater::new(level);
    // Whole blocks per read, so the blocks are those of one uninterrupted stream.
    let piece = (buf.len() / BLOCK_DATA).max(1) * BLOCK_DATA;
    let piece = piece.min(buf.len());
    let mut at = 0u64;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(stopped());
        }
        let mut filled = 0;
        while filled < piece {
            let n = plain.read_at(&mut buf[filled..piece], at + filled as u64)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            return Ok(());
        }
        at += filled as u64;
        packed.clear();
        deflater.compress(&buf[..filled], packed);
        dst.file().write_all(packed)?;
    }
}

fn flush(dst: &File, bytes: &[u8], id: Option<u32>, cursor: &mut [u64]) -> std::io::Result<()> {
    if let (Some(id), false) = (id, bytes.is_empty()) {
        let at = &mut cursor[id as usize];
        dst.write_all_at(bytes, *at)?;
        *at += bytes.len() as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Budget;
    use std::io::{Read, Seek, Write};

    #[test]
    fn interleaved_rows_come_out_grouped_in_first_appearance_order() {
        let rows: &[&[u8]] = &[b"b\t1\n", b"a\t2\n", b"b\t3\n", b"c\t4\n", b"a\t5\n"];
        let budget = Budget::new(1 << 20);
        let mut t = ContigTable::new(budget.reserve(4096, "t").unwrap());
        let mut src = tempfile::tempfile().unwrap();
        src.write_all(b"HEADER\n").unwrap();
        for r in rows {
            src.write_all(r).unwrap();
            t.observe(&r[..1], r.len() as u64).unwrap();
        }
        let mut dst = tempfile::tempfile().unwrap();
        dst.write_all(b"HEADER\n").unwrap();
        // A buffer of 9 bytes forces rows to straddle refills.
        let mut rows = ReadFrom::new(&src, 7);
        let total = regroup(
            &mut rows,
            &dst,
            7,
            &t,
            &mut [0u8; 9],
            &AtomicBool::new(false),
        )
        .unwrap();
        let mut text = String::new();
        dst.rewind().unwrap();
        dst.read_to_string(&mut text).unwrap();
        assert_eq!(text, "HEADER\nb\t1\nb\t3\na\t2\na\t5\nc\t4\n");
        assert_eq!(total, text.len() as u64 - 7);
    }
}
