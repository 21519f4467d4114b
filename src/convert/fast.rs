//! The fast paths for the common rows: a known contig, a one-letter REF and one-letter
//! haplotypes, so the line's tail is `\tX\tX...\tX`, a fixed layout.
//!
//! - The tail is classified in one pass, 16 bytes at a time (SSE2; a scalar fallback
//!   elsewhere): invariant (every haplotype `N` or REF), variant, or other.
//! - An invariant row is dropped there.
//! - A variant row gets its ALT from a 256-bit seen-set fed only the alleles that are neither
//!   `N` nor REF (a bit mask from the same kind of pass), and its pairs section is a per-
//!   contig template (`\tchr1\tX|X` per pair) copied whole, with two bytes patched per pair.
//!
//! Anything else (longer alleles, a malformed field) is left to the general path in
//! [`super::row`], which also reports errors.

use super::layout::Layout;

/// A line in the fixed one-letter layout, as offsets into the bytes it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedLine {
    /// Offset of REF (one byte); `CHROM\tPOS\tREF` is everything before `reference + 1`.
    pub reference: usize,
    /// Where the `\tX` tail ends (the line's end, without its line ending).
    pub end: usize,
    /// Just past the line ending: where the next line starts.
    pub next: usize,
}

/// Recognises a line of `columns` fields in the fixed layout whose contig is `contig`.
/// Only the structure up to the tail's length is checked here; the tail's bytes are checked
/// by [`classify_tail`].
#[inline]
pub fn fixed_line(rest: &[u8], contig: &[u8], columns: usize) -> Option<FixedLine> {
    let n = contig.len();
    if rest.len() <= n || rest[n] != b'\t' || &rest[..n] != contig {
        return None;
    }
    // POS: one or more digits, then a tab.
    let mut q = n + 1;
    let digits = q;
    while q < rest.len() && rest[q].is_ascii_digit() {
        q += 1;
    }
    if q == digits || rest.get(q) != Some(&b'\t') {
        return None;
    }
    let reference = *rest.get(q + 1)?;
    // Not a field's end, nor a genotype or list separator: one table load (a bit test on a
    // 128-bit set cost the invariant pass about 13%, a u128 shift being several
    // instructions on every line).
    if NOT_A_REF[reference as usize] {
        return None;
    }
    let end = q + 2 + 2 * (columns - 3);
    let next = match rest.get(end) {
        _ if end > rest.len() => return None,
        None => end,
        Some(b'\n') => end + 1,
        Some(b'\r') if rest.get(end + 1) == Some(&b'\n') => end + 2,
        _ => return None,
    };
    Some(FixedLine {
        reference: q + 1,
        end,
        next,
    })
}

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
/// High bit of each even byte (0, 2, 4, 6: the tabs) and of each odd byte (the alleles).
const EVEN: u64 = 0x0080_0080_0080_0080;
const ODD: u64 = 0x8000_8000_8000_8000;

/// High bit set in exactly the bytes of `v` that are zero (no false positives, unlike the
/// shorter `(v - 1) & !v` trick).
#[inline(always)]
fn zero_bytes(v: u64) -> u64 {
    !(((v & LOW7) + LOW7) | v | LOW7)
}

/// What the tail of a fixed-layout line holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// `\tX` repeated, every `X` `N` or REF: the row has no ALT and is dropped.
    Invariant,
    /// `\tX` repeated, every `X` an ordinary byte, some not `N` or REF: a variant row.
    Variant,
    /// Something else (an empty field, a control byte): the general path decides.
    Other,
}

/// Classifies `tail` (see [`Tail`]) in one pass: 16 bytes at a time with SSE2 (every
/// x86-64 has it), with the scalar checks elsewhere and for tails under 16 bytes.
#[inline]
pub fn classify_tail(tail: &[u8], reference: u8) -> Tail {
    #[cfg(target_arch = "x86_64")]
    if tail.len() >= 16 {
        // SAFETY: SSE2 is part of x86-64; every load reads 16 bytes inside `tail`.
        return unsafe { sse2::classify(tail, reference) };
    }
    classify_scalar(tail, reference)
}

/// [`classify_tail`] a byte pair at a time: the reference the SIMD version is tested against.
fn classify_scalar(tail: &[u8], reference: u8) -> Tail {
    if invariant_tail(tail, reference) {
        Tail::Invariant
    } else if plain_tail(tail) {
        Tail::Variant
    } else {
        Tail::Other
    }
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use super::Tail;
    use std::arch::x86_64::*;

    /// See [`super::alt_positions`]; `tail` is 16 to 64 bytes long.
    ///
    /// # Safety
    ///
    /// The CPU has SSE2 (every x86-64 does), and `tail` is at least 16 bytes long: each load
    /// reads the 16 bytes from `min(at, len - 16)`, which are then inside `tail`. (At most
    /// 64 bytes is for the result, a bit per byte, not for safety.)
    #[inline]
    pub(super) unsafe fn alt_positions(tail: &[u8], reference: u8) -> u64 {
        debug_assert!((16..=64).contains(&tail.len()));
        let (n, r) = (_mm_set1_epi8(b'N' as i8), _mm_set1_epi8(reference as i8));
        let mut other = 0u64;
        let mut at = 0;
        while at < tail.len() {
            // The last block may overlap the one before: the same bytes give the same bits.
            let start = at.min(tail.len() - 16);
            let x = _mm_loadu_si128(tail.as_ptr().add(start).cast());
            let no_alt = _mm_or_si128(_mm_cmpeq_epi8(x, n), _mm_cmpeq_epi8(x, r));
            let bits = !(_mm_movemask_epi8(no_alt) as u32) & 0xffff;
            other |= (bits as u64) << start;
            at += 16;
        }
        // Alleles are at the odd offsets; the even ones are tabs.
        other & 0xaaaa_aaaa_aaaa_aaaa
    }

    /// See [`super::classify_tail`]. Blocks of 16 bytes start at even offsets (the last one
    /// overlaps the one before when the length is not a multiple of 16; the length is even,
    /// so the parity holds), so in every block the even bytes are tabs and the odd ones
    /// alleles.
    ///
    /// # Safety
    ///
    /// The CPU has SSE2 (every x86-64 does), and `tail` is at least 16 bytes long: each load
    /// reads the 16 bytes from `min(at, len - 16)`, which are then inside `tail`. (An even
    /// length is for the result, not for safety.)
    #[inline]
    pub(super) unsafe fn classify(tail: &[u8], reference: u8) -> Tail {
        debug_assert!(tail.len() >= 16 && tail.len().is_multiple_of(2));
        let odd = _mm_set1_epi16(0xff00u16 as i16);
        let (tab, n, r) = (
            _mm_set1_epi8(b'\t' as i8),
            _mm_set1_epi8(b'N' as i8),
            _mm_set1_epi8(reference as i8),
        );
        let (lf, cr, zero) = (
            _mm_set1_epi8(b'\n' as i8),
            _mm_set1_epi8(b'\r' as i8),
            _mm_setzero_si128(),
        );

        // Per byte, all ones where the byte is what its position wants.
        let mut invariant = _mm_set1_epi8(-1);
        let mut plain = _mm_set1_epi8(-1);
        let mut at = 0;
        loop {
            let start = at.min(tail.len() - 16);
            let x = _mm_loadu_si128(tail.as_ptr().add(start).cast());
            let is_tab = _mm_cmpeq_epi8(x, tab);
            let no_alt = _mm_or_si128(_mm_cmpeq_epi8(x, n), _mm_cmpeq_epi8(x, r));
            let special = _mm_or_si128(
                _mm_or_si128(is_tab, _mm_cmpeq_epi8(x, zero)),
                _mm_or_si128(_mm_cmpeq_epi8(x, lf), _mm_cmpeq_epi8(x, cr)),
            );

            // Even bytes: tabs. Odd bytes: N or REF (invariant), not special (plain).
            let tabs_ok = _mm_andnot_si128(odd, is_tab);
            invariant = _mm_and_si128(invariant, _mm_or_si128(tabs_ok, _mm_and_si128(odd, no_alt)));
            plain = _mm_and_si128(plain, _mm_or_si128(tabs_ok, _mm_andnot_si128(special, odd)));
            at += 16;
            if at >= tail.len() {
                break;
            }
        }
        if _mm_movemask_epi8(invariant) == 0xffff {
            Tail::Invariant
        } else if _mm_movemask_epi8(plain) == 0xffff {
            Tail::Variant
        } else {
            Tail::Other
        }
    }
}

/// The offsets in `tail` (a fixed-layout tail of 16 to 64 bytes) of the alleles that are
/// neither `N` nor `reference`, as bits; None for other lengths, or off x86-64.
#[inline]
fn alt_positions(tail: &[u8], reference: u8) -> Option<u64> {
    #[cfg(target_arch = "x86_64")]
    if (16..=64).contains(&tail.len()) {
        // SAFETY: SSE2 is part of x86-64; every load reads 16 bytes inside `tail`.
        return Some(unsafe { sse2::alt_positions(tail, reference) });
    }
    let _ = (tail, reference);
    None
}

/// True if `tail` is `\tX` repeated, each `X` being `N` or `reference`.
#[inline]
fn invariant_tail(tail: &[u8], reference: u8) -> bool {
    let (r, n, t) = (
        ONES * reference as u64,
        ONES * b'N' as u64,
        ONES * b'\t' as u64,
    );
    let mut words = tail.chunks_exact(8);
    for w in &mut words {
        let x = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        let allele_ok = (zero_bytes(x ^ r) | zero_bytes(x ^ n)) & ODD;
        let tab_ok = zero_bytes(x ^ t) & EVEN;
        if allele_ok | tab_ok != ODD | EVEN {
            return false;
        }
    }
    words
        .remainder()
        .chunks_exact(2)
        .all(|p| p[0] == b'\t' && (p[1] == reference || p[1] == b'N'))
}

/// True if `tail` is `\tX` repeated with every `X` an ordinary byte: not a tab, a line
/// ending or NUL (those make an empty or malformed field, which the general path reports).
/// A `/`, `|` or `,` passes here; [`write_fixed_variant`] turns such a row down.
#[inline]
fn plain_tail(tail: &[u8]) -> bool {
    tail.chunks_exact(2)
        .all(|p| p[0] == b'\t' && !matches!(p[1], b'\t' | b'\n' | b'\r' | 0))
}

/// The bytes a one-byte REF of the fixed layout cannot be, as a table: NUL, tab, `\n`,
/// `\r`, and the genotype and list separators `/`, `|` and `,`.
static NOT_A_REF: [bool; 256] = {
    let mut set = [false; 256];
    let mut i = 0;
    let bytes = [0, b'\t', b'\n', b'\r', b'/', b'|', b','];
    while i < bytes.len() {
        set[bytes[i] as usize] = true;
        i += 1;
    }
    set
};

/// `/` (47) and `,` (44) in the first word of a 256-bit byte set, `|` (124) in the second.
const SEPARATORS_LOW: u64 = (1 << b'/') | (1 << b',');
const SEPARATORS_HIGH: u64 = 1 << (b'|' - 64);

/// The pairs section of a row (`\tCHROM\tX|Y` per pair) for one contig, with the offsets of
/// every `X` (each `Y` is two bytes further).
#[derive(Debug, Default)]
pub struct PairsTemplate {
    contig: Vec<u8>,
    bytes: Vec<u8>,
    slots: Vec<usize>,
}

impl PairsTemplate {
    fn for_contig(&mut self, layout: &Layout, contig: &[u8]) {
        if self.contig == contig && !self.bytes.is_empty() {
            return;
        }
        self.contig.clear();
        self.contig.extend_from_slice(contig);
        self.bytes.clear();
        self.slots.clear();
        for _ in layout.pairs() {
            self.bytes.push(b'\t');
            self.bytes.extend_from_slice(contig);
            self.bytes.push(b'\t');
            self.slots.push(self.bytes.len());
            self.bytes.extend_from_slice(b"X|X");
        }
    }
}

/// Writes the row of a variant line in the fixed layout (`line` is `rest[..fixed.end]`),
/// or returns false, writing nothing, if it has no ALT (which [`classify_tail`] has already
/// ruled out, [`Tail::Variant`]), if an allele is a `/`, `|` or `,` (the general path
/// reports it), or if it does not fit in `out_cap`.
pub fn write_fixed_variant(
    layout: &Layout,
    line: &[u8],
    fixed: &FixedLine,
    contig: &[u8],
    template: &mut PairsTemplate,
    out: &mut Vec<u8>,
    out_cap: usize,
) -> bool {
    let reference = line[fixed.reference];
    let tail = &line[fixed.reference + 1..fixed.end];
    // ALT: first appearances, minus N and REF.
    let mut seen = [0u64; 4];
    let mut alts = [0u8; 256]; // at most 254 distinct bytes besides N and REF
    let mut n_alts = 0;
    seen[(b'N' >> 6) as usize] |= 1 << (b'N' & 63);
    seen[(reference >> 6) as usize] |= 1 << (reference & 63);
    let mut add = |a: u8| {
        // Branch-free: whether an allele is new is a coin toss the predictor loses.
        let (word, bit) = ((a >> 6) as usize, 1u64 << (a & 63));
        alts[n_alts] = a;
        n_alts += (seen[word] & bit == 0) as usize;
        seen[word] |= bit;
    };
    match alt_positions(tail, reference) {
        // Only the alleles that are neither N nor REF, usually a few of the 31.
        Some(mut at) => {
            while at != 0 {
                add(tail[at.trailing_zeros() as usize]);
                at &= at - 1;
            }
        }
        None => tail.chunks_exact(2).for_each(|p| add(p[1])),
    }
    // A genotype or list separator is never one allele (nor N, nor REF: it is in the
    // seen-set only as an ALT): the general path reports the row. Three bit tests, on the
    // variant rows only, so the invariant pass is as short as before.
    if seen[0] & SEPARATORS_LOW != 0 || seen[1] & SEPARATORS_HIGH != 0 {
        return false;
    }
    template.for_contig(layout, contig);
    let prefix = &line[..=fixed.reference];
    let with_ref = layout.ref_in_alleles();
    let need = prefix.len() + 1 + 2 * n_alts - 1 + template.bytes.len() + 1 + 2 * with_ref as usize;
    if n_alts == 0 || out.len() + need > out_cap {
        return false;
    }
    out.extend_from_slice(prefix);
    out.push(b'\t');
    if with_ref {
        out.extend_from_slice(&[reference, b',']);
    }
    for (i, &a) in alts[..n_alts].iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(a);
    }
    let start = out.len();
    out.extend_from_slice(&template.bytes);
    let pairs = &mut out[start..];
    let sub = |a: u8| if a == b'N' || a == b'-' { reference } else { a };
    for (&(x, y), &slot) in layout.pairs().iter().zip(&template.slots) {
        pairs[slot] = sub(tail[2 * (x - 3) + 1]);
        pairs[slot + 2] = sub(tail[2 * (y - 3) + 1]);
    }
    out.push(b'\n');
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::default_pairs;
    use crate::convert::row::{convert_line, RowOutcome, Scratch};

    fn line(reference: &str, alleles: &[&str]) -> Vec<u8> {
        let mut l = format!("chr1\t123\t{reference}");
        for a in alleles {
            l.push('\t');
            l.push_str(a);
        }
        l.into_bytes()
    }

    /// A `chr1` line in the fixed layout through the fast writer (whether it wrote, what)
    /// and through the general path (its outcome, what it wrote).
    fn both_paths(
        layout: &Layout,
        l: &[u8],
        template: &mut PairsTemplate,
        scratch: &mut Scratch,
    ) -> ((bool, Vec<u8>), (RowOutcome, Vec<u8>)) {
        let f = fixed_line(l, b"chr1", layout.columns()).unwrap();
        let (mut fast, mut general) = (Vec::with_capacity(4096), Vec::with_capacity(4096));
        let wrote = write_fixed_variant(layout, l, &f, b"chr1", template, &mut fast, 4096);
        let r = convert_line(layout, l, scratch, &mut general, 4096).unwrap();
        ((wrote, fast), (r, general))
    }

    fn skip_invariant(rest: &[u8], contig: &[u8], columns: usize) -> Option<usize> {
        let f = fixed_line(rest, contig, columns)?;
        invariant_tail(&rest[f.reference + 1..f.end], rest[f.reference]).then_some(f.next)
    }

    #[test]
    fn zero_bytes_is_exact() {
        for v in [
            0u64,
            1,
            0x0100,
            0x0001_0000_0100_0001,
            u64::MAX,
            0x8000_0000_0000_0080,
        ] {
            let want: u64 = (0..8)
                .filter(|i| (v >> (8 * i)) & 0xff == 0)
                .map(|i| 0x80u64 << (8 * i))
                .sum();
            assert_eq!(zero_bytes(v), want, "{v:#x}");
        }
    }

    #[test]
    fn invariant_rows_are_skipped_with_their_line_ending() {
        let mut l = line("A", &["A"; 31]);
        l[21] = b'N';
        assert_eq!(skip_invariant(&l, b"chr1", 34), Some(l.len()));
        l.extend_from_slice(b"\r\nnext");
        assert_eq!(skip_invariant(&l, b"chr1", 34), Some(l.len() - 4));
    }

    #[test]
    fn anything_unusual_is_not_invariant() {
        let ok = line("A", &["A"; 31]);
        assert!(skip_invariant(&ok, b"chr2", 34).is_none(), "other contig");
        assert!(skip_invariant(&ok, b"chr", 34).is_none(), "contig prefix");
        assert!(skip_invariant(&ok, b"chr1", 35).is_none(), "too few fields");
        let mut fields = ["A"; 31];
        for (i, odd) in ["C", "-", "AA", "n", "", "\0"].iter().enumerate() {
            fields[(i * 7) % 31] = odd;
            assert!(
                skip_invariant(&line("A", &fields), b"chr1", 34).is_none(),
                "{odd:?}"
            );
            fields[(i * 7) % 31] = "A";
        }
        assert!(skip_invariant(&line("AT", &["AT"; 31]), b"chr1", 34).is_none());
        assert!(skip_invariant(b"chr1\t12x\tA\tA", b"chr1", 4).is_none());
        assert!(skip_invariant(b"chr1\t\tA\tA", b"chr1", 4).is_none());
        assert!(
            skip_invariant(b"chr1\t1\tA\tA\tA", b"chr1", 4).is_none(),
            "extra field"
        );
        assert!(skip_invariant(b"chr1\t1\tA\tA\r", b"chr1", 4).is_none());
        assert!(skip_invariant(b"chr1\t1\tA\tA", b"chr1", 4).is_some());
    }

    /// The SIMD classifier agrees with the scalar one on every tail length and on tails
    /// with one or two odd bytes anywhere, in either parity.
    #[test]
    fn classify_tail_equals_the_scalar_checks() {
        let odd_bytes = [
            b'N', b'A', b'C', b'-', b'\t', b'\n', b'\r', 0, b'a', 0xff, b' ', b'/', b'|', b',',
        ];
        let mut checked = 0;
        for pairs in 1..=40 {
            for reference in [b'A', b'N', b'-'] {
                let base: Vec<u8> = (0..pairs)
                    .flat_map(|i| [b'\t', if i % 3 == 0 { b'N' } else { reference }])
                    .collect();
                let mut cases = vec![base.clone()];
                for at in 0..base.len() {
                    for &b in &odd_bytes {
                        let mut t = base.clone();
                        t[at] = b;
                        cases.push(t.clone());
                        t[(at * 7 + 3) % base.len()] = b'G';
                        cases.push(t);
                    }
                }
                for t in cases {
                    assert_eq!(
                        classify_tail(&t, reference),
                        classify_scalar(&t, reference),
                        "{:?} with REF {}",
                        String::from_utf8_lossy(&t),
                        reference as char
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 50_000);
    }

    #[test]
    fn plain_tails_exclude_empty_and_control_fields() {
        assert!(plain_tail(b"\tA\t-\tN\ta"));
        assert!(!plain_tail(b"\tA\t\tN\ta"));
        assert!(!plain_tail(b"\tA\t\0\tN\ta"));
    }

    /// The fixed-layout writer and the general path agree on every variant row.
    #[test]
    fn fixed_variant_rows_equal_the_general_path() {
        let mut layout = Layout::resolve(&default_pairs(), None, 34).unwrap();
        let mut template = PairsTemplate::default();
        let mut scratch = Scratch::new(&layout);
        for format in [
            crate::config::Format::Table,
            crate::config::Format::PhaseExtender,
        ] {
            layout.set_output(format);
            for (reference, alleles) in [
                ("A", ["C", "N", "-", "A", "T", "C", "a", ".", "R"]),
                ("-", ["N", "N", "-", "A", "-", "C", "A", "N", "G"]),
                ("N", ["N", "C", "-", "A", "N", "C", "A", "N", "G"]),
            ] {
                let all: Vec<&str> = (0..31).map(|i| alleles[(i * 5) % 9]).collect();
                let l = line(reference, &all);
                let f = fixed_line(&l, b"chr1", 34).unwrap();
                assert!(plain_tail(&l[f.reference + 1..f.end]));
                let (fast, general) = both_paths(&layout, &l, &mut template, &mut scratch);
                assert_eq!(general.0, RowOutcome::Written);
                assert!(fast.0);
                let fast = String::from_utf8(fast.1).unwrap();
                assert_eq!(fast, String::from_utf8(general.1).unwrap());
                let all_alleles = fast.split('\t').nth(3).unwrap();
                let with_ref = format == crate::config::Format::PhaseExtender;
                assert_eq!(
                    all_alleles.starts_with(&format!("{reference},")),
                    with_ref,
                    "{fast}"
                );
            }
        }
    }

    /// Every tail length (1 to 40 haplotypes: scalar, SIMD with an overlapping last block,
    /// and past 64 bytes), with the ALT alleles anywhere: fast and general paths agree.
    #[test]
    fn fixed_variant_rows_equal_the_general_path_at_every_width() {
        use crate::config::{ColumnRef, PairSpec};
        let mut template = PairsTemplate::default();
        for haplotypes in 1..=40usize {
            let columns = haplotypes + 3;
            // One haplotype makes no pair (a pair is two columns); the tail is still checked.
            let pairs = [PairSpec::new(
                "a",
                ColumnRef::Index(3),
                "b",
                ColumnRef::Index(columns - 1),
            )];
            let pairs = if haplotypes == 1 {
                &pairs[..0]
            } else {
                &pairs[..]
            };
            let layout = Layout::resolve(pairs, None, columns).unwrap();
            let mut scratch = Scratch::new(&layout);
            for at in 0..haplotypes {
                for (i, other) in ["C", "-", "G"].iter().enumerate() {
                    let mut alleles = vec!["A"; haplotypes];
                    alleles[at] = other;
                    alleles[(at * 5 + i) % haplotypes] = "T";
                    alleles[(at + 1) % haplotypes] = "N";
                    let l = line("A", &alleles);
                    let (fast, general) = both_paths(&layout, &l, &mut template, &mut scratch);
                    assert_eq!(fast.0, general.0 == RowOutcome::Written, "{alleles:?}");
                    assert_eq!(fast.1, general.1, "{alleles:?}");
                }
            }
        }
    }

    /// A genotype or list separator anywhere in a fixed-layout variant row sends it to the
    /// general path, which reports it.
    #[test]
    fn separators_are_turned_down_by_the_fast_writer() {
        let layout = Layout::resolve(&default_pairs(), None, 34).unwrap();
        let mut template = PairsTemplate::default();
        for sep in ["/", "|", ","] {
            for at in [0, 7, 30] {
                let mut alleles = ["A"; 31];
                alleles[(at + 3) % 31] = "C";
                alleles[at] = sep;
                let l = line("A", &alleles);
                let f = fixed_line(&l, b"chr1", 34).unwrap();
                let mut out = Vec::with_capacity(4096);
                assert!(
                    !write_fixed_variant(&layout, &l, &f, b"chr1", &mut template, &mut out, 4096),
                    "{sep:?} at {at}"
                );
                assert!(out.is_empty());
                let mut scratch = Scratch::new(&layout);
                assert!(convert_line(&layout, &l, &mut scratch, &mut out, 4096).is_err());
            }
        }
    }

    #[test]
    fn a_row_that_does_not_fit_is_not_written() {
        let layout = Layout::resolve(&default_pairs(), None, 34).unwrap();
        let l = line("A", &["C"; 31]);
        let f = fixed_line(&l, b"chr1", 34).unwrap();
        let mut out = Vec::with_capacity(64);
        let mut t = PairsTemplate::default();
        assert!(!write_fixed_variant(
            &layout, &l, &f, b"chr1", &mut t, &mut out, 64
        ));
        assert!(out.is_empty());
    }
}
