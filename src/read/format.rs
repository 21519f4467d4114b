//! What an input is, from its first bytes only (never its name): plain text, a compression
//! hapflow reads (gzip, BGZF, zstd, xz, bzip2), or a container it refuses by name (zip,
//! tar, 7-Zip, ...), so that a wrong file gets a message about what it is rather than about
//! its column count.

/// Bytes of the start of an input that [`sniff`] looks at: tar's `ustar` mark sits at 257.
pub const MAGIC_LEN: usize = 262;

/// The smallest zstd window hapflow sets aside memory for: 8 MiB, what `zstd` levels 1 to
/// 19 use, whatever the limit. A larger limit allows up to 2 GiB (`--long=31`, zstd's
/// largest window), the window coming out of the memory budget.
pub const ZSTD_WINDOW_LOG_MIN: u32 = 23;
/// zstd's largest window on 64-bit systems (`ZSTD_WINDOWLOG_MAX_64`, zstd.h).
pub const ZSTD_WINDOW_LOG_TOP: u32 = 31;
/// The least memory the xz decoder may use: enough for `xz -0` to `xz -6` (the default, an
/// 8 MiB dictionary), whatever the limit.
pub const XZ_MEMLIMIT_MIN: u64 = 9 << 20;
/// What `xz -9` (a 64 MiB dictionary) needs to decode; more is never set aside.
const XZ_MEMLIMIT_TOP: u64 = 65 << 20;
/// Memory of the bzip2 decoder for the largest block size (`-9`, 900 kB blocks): about 3.6 MB.
const BZIP2_BYTES: usize = 4 << 20;
/// A zstd decoder's memory besides its window: a block (128 KiB) and its tables.
pub const ZSTD_OVERHEAD: usize = 512 << 10;

/// How much memory the zstd and xz decoders may take: a third of the budget's pool, and at
/// least what the default compression levels need. A file that needs more is refused with
/// a message saying so (the decoders enforce these caps themselves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderCaps {
    /// `xz`'s memory limit, in bytes.
    pub xz_memlimit: u64,
    /// log2 of the largest zstd window accepted.
    pub zstd_window_log_max: u32,
    /// The budget's pool these caps were made for, in bytes (named in messages).
    pub pool: usize,
}

impl Default for DecoderCaps {
    /// The least: what `zstd -19` and `xz -6` need.
    fn default() -> Self {
        DecoderCaps::for_pool(0)
    }
}

impl DecoderCaps {
    /// The caps for a budget pool of `pool` bytes.
    pub fn for_pool(pool: usize) -> DecoderCaps {
        let share = pool / 3;
        let xz_memlimit = (share as u64).clamp(XZ_MEMLIMIT_MIN, XZ_MEMLIMIT_TOP);
        let mut log = ZSTD_WINDOW_LOG_MIN;
        while log < ZSTD_WINDOW_LOG_TOP && (1usize << (log + 1)) + ZSTD_OVERHEAD <= share {
            log += 1;
        }
        DecoderCaps {
            xz_memlimit,
            zstd_window_log_max: log,
            pool,
        }
    }

    /// Bytes the decoder of `format` holds beyond what gzip's needs, which every plan
    /// already sets aside ([`super::source::decompress_bytes`]).
    pub fn extra_bytes(&self, format: Format) -> usize {
        match format {
            Format::Plain | Format::Gzip | Format::Bgzf => 0,
            Format::Zstd => (1 << self.zstd_window_log_max) + ZSTD_OVERHEAD,
            Format::Xz => self.xz_memlimit as usize,
            Format::Bzip2 => BZIP2_BYTES,
        }
    }
}
/// The window size, in bytes, the first zstd frame of `magic` (the start of a zstd input)
/// declares in its header: what decoding it takes beyond [`ZSTD_OVERHEAD`] (RFC 8878,
/// 3.1.1.1.2: `Window_Descriptor`, or the content size of a single-segment frame). `None`
/// when the header is not all there or declares no size (a single-segment frame without a
/// content size cannot be written by zstd).
///
/// Skippable frames (what `pzstd` writes first, RFC 8878 3.1.2) are stepped over to the
/// first frame of data, as far as `magic` reaches.
pub fn zstd_window(magic: &[u8]) -> Option<u64> {
    let mut magic = magic;
    while is_zstd_skippable(magic) {
        let size = u32::from_le_bytes(magic.get(4..8)?.try_into().ok()?);
        magic = magic.get(8usize.checked_add(size as usize)?..)?;
    }
    let descriptor = *magic.get(4)?;
    let single_segment = descriptor & 0x20 != 0;
    if !single_segment {
        let wd = *magic.get(5)?;
        let log = 10 + u32::from(wd >> 3);
        let base = 1u64 << log;
        return Some(base + (base / 8) * u64::from(wd & 7));
    }
    // Single segment: the window is the content size; the dictionary id comes first.
    let dict_len = [0, 1, 2, 4][usize::from(descriptor & 3)];
    let fcs_len = [1, 2, 4, 8][usize::from(descriptor >> 6)];
    let at = 5 + dict_len;
    let bytes = magic.get(at..at + fcs_len)?;
    let mut size = bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    if fcs_len == 2 {
        size += 256;
    }
    Some(size)
}

/// The least memory limit (bytes) under which a zstd window of `window` bytes fits: the
/// caps give zstd a third of the budget's pool ([`DecoderCaps::for_pool`]) above a base of
/// `base_rss` bytes; rounded up to a MiB. `None` if no limit does (a window over 2 GiB).
pub fn zstd_limit_for(window: u64, base_rss: u64) -> Option<u64> {
    if window > 1 << ZSTD_WINDOW_LOG_TOP {
        return None;
    }
    let log = 64 - (window.max(1) - 1).leading_zeros();
    let log = log.max(ZSTD_WINDOW_LOG_MIN);
    if log == ZSTD_WINDOW_LOG_MIN {
        return Some(0);
    }
    let need = 3 * ((1u64 << log) + ZSTD_OVERHEAD as u64) + base_rss;
    Some(need.div_ceil(1 << 20) << 20)
}

/// Read buffer under a zstd, xz or bzip2 decoder.
pub const COMPRESSED_READ_BUFFER: usize = 128 << 10;

/// How an input is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Not compressed: the matrix as text.
    Plain,
    /// gzip, one member or many (RFC 1952).
    Gzip,
    /// gzip whose members carry their size (bgzip's format, htslib's BGZF).
    Bgzf,
    /// Zstandard (RFC 8878).
    Zstd,
    /// xz (the `.xz` container of LZMA2).
    Xz,
    /// bzip2.
    Bzip2,
}

impl Format {
    /// How the format is named in messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Plain => "plain text",
            Format::Gzip => "gzip",
            Format::Bgzf => "BGZF",
            Format::Zstd => "zstd",
            Format::Xz => "xz",
            Format::Bzip2 => "bzip2",
        }
    }

    /// True for every format but plain text.
    pub fn is_compressed(self) -> bool {
        self != Format::Plain
    }
}

/// Recognises the format from the input's first bytes (up to [`MAGIC_LEN`]); `Err` names
/// a format hapflow does not read (`"a zip archive"`, `"a BAM file"`...).
///
/// # Errors
///
/// The format's name, for archives (zip, tar, 7-Zip, RAR), other compressions (lz4, lzip,
/// compress, lzop, LZMA-alone) and uncompressed BAM, CRAM and BCF.
pub fn sniff(magic: &[u8]) -> Result<Format, &'static str> {
    let starts = |m: &[u8]| magic.starts_with(m);
    if starts(&[0x1f, 0x8b]) {
        return Ok(if is_bgzf(magic) {
            Format::Bgzf
        } else {
            Format::Gzip
        });
    }
    if starts(&[0x28, 0xb5, 0x2f, 0xfd]) || is_zstd_skippable(magic) {
        return Ok(Format::Zstd);
    }
    if starts(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return Ok(Format::Xz);
    }
    // "BZh", the block size 1-9, then a block's or the end-of-stream's magic.
    if magic.len() >= 10
        && starts(b"BZh")
        && (b'1'..=b'9').contains(&magic[3])
        && (magic[4..10] == [0x31, 0x41, 0x59, 0x26, 0x53, 0x59]
            || magic[4..10] == [0x17, 0x72, 0x45, 0x38, 0x50, 0x90])
    {
        return Ok(Format::Bzip2);
    }
    // A whole input shorter than that, "BZh", a block size and the start of a magic: a
    // bzip2 file cut inside its first bytes (no matrix line is that short), for the
    // decoder to name as cut short.
    if magic.len() >= 4 && magic.len() < 10 && starts(b"BZh") && (b'1'..=b'9').contains(&magic[3]) {
        let rest = &magic[4..];
        let blocks: [&[u8]; 2] = [
            &[0x31, 0x41, 0x59, 0x26, 0x53, 0x59],
            &[0x17, 0x72, 0x45, 0x38, 0x50, 0x90],
        ];
        if blocks.iter().any(|m| m.starts_with(rest)) {
            return Ok(Format::Bzip2);
        }
    }
    let refused: &[(&[u8], &str)] = &[
        (b"PK\x03\x04", "a zip archive"),
        (b"PK\x05\x06", "a zip archive (empty)"),
        (b"PK\x07\x08", "a zip archive (split)"),
        (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
        (b"Rar!\x1a\x07", "a RAR archive"),
        (b"\x04\x22\x4d\x18", "lz4-compressed"),
        (b"LZIP", "lzip-compressed"),
        (b"\x1f\x9d", "compressed with Unix compress (.Z)"),
        (b"\x89LZO\x00", "lzop-compressed"),
        (b"\x5d\x00\x00", "an LZMA-alone (.lzma) file"),
        (b"BAM\x01", "a BAM file"),
        (b"CRAM", "a CRAM file"),
        (b"BCF\x02", "a BCF file"),
    ];
    if let Some((_, name)) = refused.iter().find(|(m, _)| starts(m)) {
        return Err(name);
    }
    if magic.len() >= 262 && &magic[257..262] == b"ustar" {
        return Err("a tar archive");
    }
    Ok(Format::Plain)
}

/// True if `bytes` start a zstd skippable frame: magic `0x184D2A50` to `0x184D2A5F`, little
/// endian (RFC 8878, 3.1.2). `pzstd` starts its files with one; zstd's decoder skips them.
pub fn is_zstd_skippable(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && bytes[0] & 0xf0 == 0x50 && bytes[1..4] == [0x2a, 0x4d, 0x18]
}

/// True if `header` starts a BGZF block (bgzip's format, and BAM's): gzip whose member
/// carries its own size in a `BC` extra field, so members can be inflated apart, in parallel.
pub fn is_bgzf(header: &[u8]) -> bool {
    header.len() >= 18
        && header[..3] == [0x1f, 0x8b, 8]
        && header[3] & 4 != 0
        && header[10..12] == [6, 0]
        && header[12..14] == *b"BC"
        && header[14..16] == [2, 0]
}

/// BGZF's end-of-file marker: an empty block, the last 28 bytes of every complete BGZF file
/// (SAM/BAM format specification, section 4.1.2). htslib warns when it is absent.
pub const BGZF_EOF: [u8; 28] = [
    0x1f, 0x8b, 0x08, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x06, 0x00, 0x42, 0x43, 0x02, 0x00,
    0x1b, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressions_are_told_apart_by_their_first_bytes() {
        assert_eq!(sniff(b"chr1\t1\tA\tC\n"), Ok(Format::Plain));
        assert_eq!(sniff(b""), Ok(Format::Plain));
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Ok(Format::Gzip));
        assert_eq!(sniff(&BGZF_EOF), Ok(Format::Bgzf));
        assert_eq!(sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0x24]), Ok(Format::Zstd));
        // pzstd's files start with a skippable frame.
        assert_eq!(
            sniff(&[0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0]),
            Ok(Format::Zstd)
        );
        assert_eq!(
            sniff(&[0x5f, 0x2a, 0x4d, 0x18, 0, 0, 0, 0]),
            Ok(Format::Zstd)
        );
        let mut pz = vec![0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 9, 9, 9, 9];
        pz.extend_from_slice(&[0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58]);
        assert_eq!(zstd_window(&pz), zstd_window(&pz[12..]));
        assert!(zstd_window(&pz).is_some());
        assert_eq!(sniff(b"\xfd7zXZ\x00\x00\x04"), Ok(Format::Xz));
        assert_eq!(sniff(b"BZh91AY&SYxx"), Ok(Format::Bzip2));
        // A matrix whose first contig is named BZh9 is text.
        assert_eq!(sniff(b"BZh9\t1\tA\tC\n"), Ok(Format::Plain));
        // bzip2 cut inside its first bytes.
        assert_eq!(sniff(b"BZh9"), Ok(Format::Bzip2));
        assert_eq!(sniff(b"BZh91A"), Ok(Format::Bzip2));
        assert_eq!(sniff(b"BZh9\t1"), Ok(Format::Plain));
    }

    #[test]
    fn decoder_caps_grow_with_the_pool_between_their_bounds() {
        let least = DecoderCaps::default();
        assert_eq!(
            (least.xz_memlimit, least.zstd_window_log_max),
            (9 << 20, 23)
        );
        let default_limit = DecoderCaps::for_pool(249 << 20);
        assert_eq!(
            default_limit.xz_memlimit,
            65 << 20,
            "xz -9 fits the default limit"
        );
        assert_eq!(default_limit.zstd_window_log_max, 26);
        let huge = DecoderCaps::for_pool(8 << 30);
        assert_eq!((huge.xz_memlimit, huge.zstd_window_log_max), (65 << 20, 31));
        // The limit said to allow a window does allow it, and a MiB less does not.
        for log in 24..=31 {
            let limit = zstd_limit_for(1 << log, 7 << 20).unwrap();
            let caps = |l: u64| DecoderCaps::for_pool((l - (7 << 20)) as usize);
            assert_eq!(caps(limit).zstd_window_log_max, log);
            assert_eq!(caps(limit - (1 << 20)).zstd_window_log_max, log - 1);
        }
        assert_eq!(zstd_limit_for(1 << 23, 7 << 20), Some(0));
        assert_eq!(zstd_limit_for((1 << 31) + 1, 7 << 20), None);
        assert_eq!(huge.extra_bytes(Format::Plain), 0);
    }

    #[test]
    fn archives_are_named() {
        assert_eq!(sniff(b"PK\x03\x04\x14\x00"), Err("a zip archive"));
        assert_eq!(sniff(b"7z\xbc\xaf\x27\x1c\x00"), Err("a 7-Zip archive"));
        let mut tar = vec![b'm'; 300];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(sniff(&tar), Err("a tar archive"));
    }
}
