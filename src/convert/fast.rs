//! The fast path for the common row: one-letter REF, every haplotype a one-letter `N` or
//! REF, so the row has no ALT and is dropped. Such a line's tail is `\tX\tX...\tX`, a fixed
//! layout checked eight bytes at a time. Anything else (a variant, a longer allele, a
//! malformed field) is left to the general path, which also reports errors.

/// If the line at `line` (which extends to the end of `rest`) is a known-contig, invariant
/// row of `columns` fields, returns the offset just past its line ending.
///
/// `contig` is the contig of the previous row; the line must start with it and a tab.
#[inline]
pub fn skip_invariant(rest: &[u8], contig: &[u8], columns: usize) -> Option<usize> {
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
    if matches!(reference, b'\t' | b'\n' | b'\r' | 0) {
        return None;
    }
    let tail = q + 2;
    let end = tail + 2 * (columns - 3);
    if end > rest.len() || !invariant_tail(&rest[tail..end], reference) {
        return None;
    }
    match rest.get(end) {
        None => Some(end),
        Some(b'\n') => Some(end + 1),
        Some(b'\r') if rest.get(end + 1) == Some(&b'\n') => Some(end + 2),
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn line(reference: &str, alleles: &[&str]) -> Vec<u8> {
        let mut l = format!("chr1\t123\t{reference}");
        for a in alleles {
            l.push('\t');
            l.push_str(a);
        }
        l.into_bytes()
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
    fn anything_unusual_goes_to_the_general_path() {
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
}
