//! BGZF output (the SAM/BAM specification, section 4.1; what `bgzip` writes): bytes cut into
//! blocks of at most [`BLOCK_DATA`] bytes, each block one gzip member whose extra field `BC`
//! gives its compressed size, and the file ended by the empty [`EOF`] block. BGZF files
//! concatenate, so each chunk's output is compressed on its own, by a worker thread, into
//! whole blocks, and the writer only appends them.
//!
//! Deflate is libdeflate's (the `libdeflater` crate, also noodles-bgzf's fast backend): one
//! compressor per thread, reused for every block, so no allocation per block.

use libdeflater::{CompressionLvl, Compressor, Crc};

/// Uncompressed bytes in a full block: what bgzip puts in one (0xff00), so that even a
/// block that does not compress fits BGZF's 64 KiB limit.
pub const BLOCK_DATA: usize = 0xff00;
/// Header (18 bytes) and trailer (CRC32, ISIZE: 8 bytes) of a block.
const FRAME: usize = 18 + 8;
/// The largest block BGZF allows.
const MAX_BLOCK: usize = 1 << 16;

/// The end-of-file marker block: an empty block, which htslib checks for (the one the
/// reader looks for, `read::format::BGZF_EOF`).
pub const EOF: [u8; 28] = crate::read::format::BGZF_EOF;

/// Bytes a compressor holds, for the memory budget: libdeflate's compressor state, at most
/// about 1 MiB at levels 10 to 12 (its near-optimal parser) and well under 512 KiB below.
pub fn compressor_bytes(level: u32) -> usize {
    if level >= 10 {
        1200 << 10
    } else {
        512 << 10
    }
}

/// The capacity [`Deflater::compress`] needs for `len` bytes of input, whatever they are: a
/// stored block costs 5 bytes more than its data (deflate is never allowed more), and each
/// block is compressed into a whole 64 KiB of room before it is cut to size.
pub fn bound(len: usize) -> usize {
    let blocks = len.div_ceil(BLOCK_DATA).max(1);
    len + blocks * (FRAME + 5) + MAX_BLOCK
}

/// Compresses byte runs into whole BGZF blocks at one level (0: stored, 1 to 12: libdeflate).
pub struct Deflater {
    compressor: Option<Compressor>,
    level: u32,
}

impl Deflater {
    /// A compressor at `level` (0 to 12; higher is clamped to 12).
    pub fn new(level: u32) -> Deflater {
        let compressor = (level > 0).then(|| {
            let level = CompressionLvl::new(level.min(12) as i32).expect("1 to 12 is valid");
            Compressor::new(level)
        });
        Deflater { compressor, level }
    }

    /// The deflate level, 0 (stored) to 12.
    pub fn level(&self) -> u32 {
        self.level
    }

    /// Appends `data` to `out` as whole blocks (nothing for empty `data`). `out` grows by at
    /// most [`bound`]`(data.len())`; callers reserve that much so it never reallocates.
    pub fn compress(&mut self, data: &[u8], out: &mut Vec<u8>) {
        for block in data.chunks(BLOCK_DATA) {
            self.block(block, out);
        }
    }

    fn block(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + MAX_BLOCK, 0);
        let body = &mut out[start + 18..start + MAX_BLOCK - 8];
        let deflated = match &mut self.compressor {
            Some(c) => c.deflate_compress(data, body).ok(),
            None => None,
        };
        let n = match deflated {
            Some(n) => n,
            // Level 0, or data that did not shrink: one stored deflate block.
            None => {
                let len = data.len() as u16;
                body[0] = 1; // BFINAL, BTYPE 00
                body[1..3].copy_from_slice(&len.to_le_bytes());
                body[3..5].copy_from_slice(&(!len).to_le_bytes());
                body[5..5 + data.len()].copy_from_slice(data);
                5 + data.len()
            }
        };
        let size = 18 + n + 8;
        let header = &mut out[start..start + 18];
        header[..16].copy_from_slice(&EOF[..16]);
        header[16..18].copy_from_slice(&((size - 1) as u16).to_le_bytes());
        let mut crc = Crc::new();
        crc.update(data);
        let trailer = start + 18 + n;
        out[trailer..trailer + 4].copy_from_slice(&crc.sum().to_le_bytes());
        out[trailer + 4..trailer + 8].copy_from_slice(&(data.len() as u32).to_le_bytes());
        out.truncate(start + size);
    }
}

/// Compresses `data` into a new buffer (headers and other small pieces).
pub fn compress_to_vec(level: u32, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bound(data.len()));
    Deflater::new(level).compress(data, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn inflate(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        noodles_bgzf::io::Reader::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn blocks_inflate_to_the_input_at_every_level() {
        let text: Vec<u8> = (0..300_000u32)
            .flat_map(|i| format!("chr1\t{i}\tA\tC\n").into_bytes())
            .collect();
        for level in [0, 1, 6, 12] {
            let mut out = Vec::with_capacity(bound(text.len()));
            let cap = out.capacity();
            Deflater::new(level).compress(&text, &mut out);
            assert_eq!(out.capacity(), cap, "the buffer never grows");
            out.extend_from_slice(&EOF);
            assert_eq!(inflate(&out), text, "level {level}");
        }
    }

    #[test]
    fn incompressible_data_fits_in_blocks_and_members_concatenate() {
        let mut x = 1u64;
        let noise: Vec<u8> = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let mut out = compress_to_vec(6, &noise[..100_000]);
        assert!(out.len() <= bound(100_000));
        out.extend(compress_to_vec(1, &noise[100_000..]));
        out.extend_from_slice(&EOF);
        assert_eq!(inflate(&out), noise);
    }

    #[test]
    fn the_eof_block_is_an_empty_member() {
        assert!(inflate(&EOF).is_empty());
        assert!(compress_to_vec(1, b"").is_empty());
    }
}
