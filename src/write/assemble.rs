//! Regrouping an output whose contigs came interleaved: one sequential pass over the rows in
//! input order, each stretch of one contig's rows copied to where that contig's block
//! begins in the final file. Every contig's size is known, so every block's offset is too:
//! no sort, no index, one buffer.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};

use memchr::memchr;

use super::contigs::ContigTable;

/// Copies the rows of `src` (after its first `header_len` bytes, which are copied as they
/// are) into `dst`, grouped by contig in id order, rows of a contig in input order.
/// `buf` must hold the longest row.
pub fn regroup(
    src: &File,
    dst: &File,
    header_len: u64,
    contigs: &ContigTable,
    buf: &mut [u8],
    stop: &AtomicBool,
) -> std::io::Result<u64> {
    let mut cursor: Vec<u64> = Vec::with_capacity(contigs.len());
    let mut at = header_len;
    for id in 0..contigs.len() as u32 {
        cursor.push(at);
        at += contigs.bytes(id);
    }
    let total = at;

    let mut header = vec![0u8; header_len as usize];
    src.read_exact_at(&mut header, 0)?;
    dst.write_all_at(&header, 0)?;

    let mut read_at = header_len;
    let mut filled = 0;
    let mut current: Option<u32> = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "stopped",
            ));
        }
        let n = src.read_at(&mut buf[filled..], read_at)?;
        read_at += n as u64;
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
                    std::io::Error::other("spooled row of a contig that was never seen")
                })?);
            }
            pos = end;
        }
        flush(dst, &buf[stretch..pos], current, &mut cursor)?;
        if pos == 0 && n == 0 {
            return Err(std::io::Error::other("spool ends in a partial row"));
        }
        buf.copy_within(pos..filled, 0);
        filled -= pos;
    }
    Ok(total)
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
        // A buffer of 9 bytes forces rows to straddle refills.
        let total = regroup(&src, &dst, 7, &t, &mut [0u8; 9], &AtomicBool::new(false)).unwrap();
        let mut text = String::new();
        dst.rewind().unwrap();
        dst.read_to_string(&mut text).unwrap();
        assert_eq!(text, "HEADER\nb\t1\nb\t3\na\t2\na\t5\nc\t4\n");
        assert_eq!(total, text.len() as u64);
    }
}
