//! One matrix line to one VCF 4.2 record (README, "Output formats"), into a reused byte buffer, by
//! hand: building a noodles record per row measured about 25x slower.
//!
//! - REF and the alleles are upper-cased; ALT is the distinct alleles other than REF and
//!   the missing symbols, in order of first appearance (every haplotype column counts, as
//!   for the table), `-` written `*`. A literal `*` in the matrix is refused: it would be
//!   written as the same ALT as `-`, merging two alleles the table keeps apart (a `*` meaning
//!   no call belongs in the missing symbols).
//! - Each pair is one sample: `GT:PS` = `i|j:1`, `i` and `j` allele indexes (0 = REF), `.`
//!   for a missing symbol. PS is 1 on every record: the matrix phases each contig as one
//!   block, and a phase set does not reach past its contig, so 1 names the contig's block.
//! - A line whose ALT is empty is left out. Only a record's alleles are checked: one VCF
//!   cannot carry (anything but `A C G T N` strings, `-` and `*`) is bad input naming the
//!   line and column. POS is written without leading zeros and must fit htslib's 32-bit
//!   positions; within a contig's run of lines it must not decrease (the writer checks
//!   across runs and chunks). With a FASTA index (`--fai`), POS must not pass its contig's
//!   length.
//! - A contig name VCF cannot carry as a contig ID, or one the FASTA index does not list,
//!   is refused at the first line of its run ([`check_contig`]).

use super::layout::Layout;
use super::row::{check_alleles, check_fields, split_fields, BadLine, RowOutcome, Scratch};
use crate::error::{BadInputReason, Column};
use crate::read::fai::FastaIndex;

/// The largest POS htslib reads (`hts_pos_t` in VCF is limited to 2^31 - 1).
pub const MAX_POS: u64 = (1 << 31) - 1;

/// Per-thread buffers for VCF records.
#[derive(Debug, Default)]
pub struct VcfScratch {
    /// Per haplotype column: its allele's index (0 = REF), or [`MISSING`].
    codes: Vec<u16>,
    /// ALT alleles as (start, end, column) of the line, in order of first appearance.
    alts: Vec<(usize, usize, usize)>,
    /// The contig and POS of the chunk's last record, to catch a decreasing POS.
    last_contig: Vec<u8>,
    last_pos: Option<u64>,
    /// The contig whose FASTA-index length `length` holds (None: not listed).
    length_of: Vec<u8>,
    length: Option<u64>,
}

const MISSING: u16 = u16::MAX;

impl VcfScratch {
    /// Forgets the last record: the next chunk may be anywhere in the input.
    pub fn start_chunk(&mut self) {
        self.last_pos = None;
    }
}

/// The allele as VCF writes it: `-` is `*`.
#[inline]
fn canon(a: &[u8]) -> &[u8] {
    if a == b"-" {
        b"*"
    } else {
        a
    }
}

/// Alleles are compared case-insensitively (they are written upper-cased).
#[inline]
fn same_allele(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// True for an allele VCF can carry as REF (`ACGTN`, any case) or, with `gap`, as ALT
/// (`-` too, written `*`). A literal `*` is never one: it would merge with `-`.
fn vcf_bases(a: &[u8], gap: bool) -> bool {
    (gap && a == b"-")
        || (!a.is_empty()
            && a.iter()
                .all(|b| matches!(b.to_ascii_uppercase(), b'A' | b'C' | b'G' | b'T' | b'N')))
}

/// The index of ALT `allele` (field `i`), added to the ALT list if new.
#[inline]
fn alt_index(v: &mut VcfScratch, line: &[u8], f: &[usize], i: usize, allele: &[u8]) -> u16 {
    match v
        .alts
        .iter()
        .position(|&(a, b, _)| same_allele(&line[a..b], allele))
    {
        Some(k) => k as u16 + 1,
        None => {
            v.alts.push((f[i], f[i + 1] - 1, i));
            v.alts.len() as u16
        }
    }
}

/// Converts one line (no line ending) into a VCF record appended to `out`, never growing
/// `out` beyond `out_cap` bytes.
pub fn convert_line(
    layout: &Layout,
    line: &[u8],
    s: &mut Scratch,
    out: &mut Vec<u8>,
    out_cap: usize,
) -> Result<RowOutcome, BadLine> {
    split_fields(layout, line, &mut s.fields)?;
    let f = &s.fields;
    let field = |i: usize| &line[f[i]..f[i + 1] - 1];
    check_fields(layout, line, f)?;
    // The same cells are refused whatever the format: a genotype or a list is not an allele.
    check_alleles(layout, line, f)?;
    let missing = layout.missing();
    let v = &mut s.vcf;

    let reference = field(2);
    v.codes.clear();
    v.alts.clear();
    for i in 3..layout.columns() {
        let allele = field(i);
        let code = if let [a] = allele {
            // Upper-cased first, as every allele is: `n` is `N`.
            let a = a.to_ascii_uppercase();
            if missing.iter().any(|m| m.to_ascii_uppercase() == a) {
                MISSING
            } else if same_allele(allele, reference) {
                0
            } else {
                alt_index(v, line, f, i, allele)
            }
        } else if same_allele(allele, reference) {
            0
        } else {
            alt_index(v, line, f, i, allele)
        };
        v.codes.push(code);
    }
    if v.alts.is_empty() {
        return Ok(RowOutcome::Dropped);
    }

    let bad = |at: usize, column: Column, allele: &[u8], no_call: Option<char>| BadLine {
        at,
        reason: BadInputReason::VcfAllele {
            column,
            allele: String::from_utf8_lossy(allele).into_owned(),
            no_call,
        },
    };
    if !vcf_bases(reference, false) {
        return Err(bad(f[2], Column::Ref, reference, None));
    }
    for &(a, b, column) in &v.alts {
        let described = || Column::Haplotype(layout.describe_column(column));
        if &line[a..b] == b"*" {
            return Err(BadLine {
                at: a,
                reason: BadInputReason::VcfStar(described()),
            });
        }
        if !vcf_bases(&line[a..b], true) {
            let no_call = (b - a == 1).then_some(line[a] as char);
            return Err(bad(a, described(), &line[a..b], no_call));
        }
    }

    // POS without leading zeros, within htslib's range, not decreasing on a contig.
    let pos_text = field(1);
    let digits = match pos_text.iter().position(|&b| b != b'0') {
        Some(i) => &pos_text[i..],
        None => &pos_text[pos_text.len() - 1..],
    };
    let pos = if digits.len() > 10 {
        None
    } else {
        Some(digits.iter().fold(0u64, |n, &d| n * 10 + (d - b'0') as u64)).filter(|&p| p <= MAX_POS)
    };
    if pos == Some(0) {
        return Err(BadLine {
            at: f[1],
            reason: BadInputReason::VcfPosZero,
        });
    }
    let Some(pos) = pos else {
        return Err(BadLine {
            at: f[1],
            reason: BadInputReason::VcfPosTooLarge(String::from_utf8_lossy(pos_text).into_owned()),
        });
    };
    let chrom = field(0);
    if let Some(last) = v.last_pos.filter(|_| v.last_contig == chrom) {
        if pos < last {
            return Err(decreasing(f[1], chrom, pos, last));
        }
    }
    if let Some(fai) = layout.fasta_index() {
        if v.length_of != chrom {
            v.length_of.clear();
            v.length_of.extend_from_slice(chrom);
            v.length = fai.length(chrom);
        }
        match v.length {
            Some(len) if pos > len => {
                return Err(BadLine {
                    at: f[1],
                    reason: BadInputReason::PastContigEnd {
                        contig: String::from_utf8_lossy(chrom).into_owned(),
                        pos,
                        length: len,
                        fai: fai.path().to_path_buf(),
                    },
                })
            }
            Some(_) => {}
            None => return Err(not_in_index(0, chrom, fai)),
        }
    }
    v.last_contig.clear();
    v.last_contig.extend_from_slice(chrom);
    v.last_pos = Some(pos);

    // The record's size, worked out before a byte is written.
    let digits_of = |n: usize| {
        if n < 10 {
            1
        } else if n < 100 {
            2
        } else if n < 1000 {
            3
        } else {
            5
        }
    };
    let gt = digits_of(v.alts.len());
    let mut need = chrom.len() + 1 + digits.len() + 3 + reference.len() + 1;
    need += v.alts.iter().map(|&(a, b, _)| b - a + 1).sum::<usize>() - 1;
    need += "\t.\t.\t.\tGT:PS".len() + layout.pairs().len() * (1 + 2 * gt + 1 + 2) + 1;
    if out.len() + need > out_cap {
        return Ok(RowOutcome::NoRoom(need));
    }

    out.extend_from_slice(chrom);
    out.push(b'\t');
    out.extend_from_slice(digits);
    out.extend_from_slice(b"\t.\t");
    upper(reference, out);
    out.push(b'\t');
    for (k, &(a, b, _)) in v.alts.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        upper(canon(&line[a..b]), out);
    }
    out.extend_from_slice(b"\t.\t.\t.\tGT:PS");
    for &(x, y) in layout.pairs() {
        out.push(b'\t');
        index(v.codes[x - 3], out);
        out.push(b'|');
        index(v.codes[y - 3], out);
        out.extend_from_slice(b":1");
    }
    out.push(b'\n');
    Ok(RowOutcome::Written)
}

/// The fast path for a variant line in the fixed one-letter layout (see
/// [`super::fast`]): Some(true) when its record was written, Some(false) when it has none,
/// None when the general path must decide (an allele or POS out of the ordinary, an
/// error, no room).
#[inline]
pub fn write_fixed(
    layout: &Layout,
    line: &[u8],
    fixed: &super::fast::FixedLine,
    contig: &[u8],
    s: &mut Scratch,
    out: &mut Vec<u8>,
    out_cap: usize,
) -> Option<bool> {
    const BASES: &[u8] = b"ACGTN-";
    let reference = line[fixed.reference].to_ascii_uppercase();
    if !b"ACGTN".contains(&reference) {
        return None;
    }
    let pos_text = &line[contig.len() + 1..fixed.reference - 1];
    if pos_text.len() > 9 || (pos_text[0] == b'0' && pos_text.len() > 1) {
        return None;
    }
    let pos = pos_text
        .iter()
        .fold(0u64, |n, &d| n * 10 + (d - b'0') as u64);
    if pos == 0 {
        // The general path says why POS 0 cannot be written.
        return None;
    }
    // Per upper-cased allele byte: its GT character, b'.' for missing, 0 for not seen yet.
    let mut code = [0u8; 256];
    code[reference as usize] = b'0';
    // A missing symbol is missing even when it is REF (`N`), as on the general path.
    for &m in layout.missing() {
        code[m.to_ascii_uppercase() as usize] = b'.';
    }
    let mut alts = [0u8; 8];
    let mut n_alts = 0;
    let tail = &line[fixed.reference + 1..fixed.end];
    let v = &mut s.vcf;
    v.codes.clear();
    for pair in tail.chunks_exact(2) {
        // `-` is kept as `-` here and written `*`; a literal `*` that is not a missing
        // symbol is refused by the general path.
        let a = pair[1].to_ascii_uppercase();
        if a == b'*' && code[a as usize] != b'.' {
            return None;
        }
        if code[a as usize] == 0 {
            if !BASES.contains(&a) {
                return None;
            }
            alts[n_alts] = a;
            n_alts += 1;
            code[a as usize] = b'0' + n_alts as u8;
        }
        v.codes.push(code[a as usize] as u16);
    }
    if n_alts == 0 {
        return Some(false);
    }
    if let Some(last) = v.last_pos.filter(|_| v.last_contig == contig) {
        if pos < last {
            return None;
        }
    }
    // Past the contig's length, or a contig not looked up yet: the general path decides.
    if layout.fasta_index().is_some() && (v.length_of != contig || Some(pos) > v.length) {
        return None;
    }
    let need = contig.len() + 1 + pos_text.len() + 5 + 2 * n_alts + 12 + 6 * layout.pairs().len();
    if out.len() + need > out_cap {
        return None;
    }
    v.last_contig.clear();
    v.last_contig.extend_from_slice(contig);
    v.last_pos = Some(pos);
    out.extend_from_slice(&line[..contig.len() + 1]);
    out.extend_from_slice(pos_text);
    out.extend_from_slice(&[b'\t', b'.', b'\t', reference, b'\t']);
    for (k, &a) in alts[..n_alts].iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        out.push(if a == b'-' { b'*' } else { a });
    }
    out.extend_from_slice(b"\t.\t.\t.\tGT:PS");
    for &(x, y) in layout.pairs() {
        out.extend_from_slice(&[
            b'\t',
            v.codes[x - 3] as u8,
            b'|',
            v.codes[y - 3] as u8,
            b':',
            b'1',
        ]);
    }
    out.push(b'\n');
    Some(true)
}

/// Checks a contig name where its run of lines starts (`at`: the name's offset in the
/// line): VCF 4.2's contig ID grammar (section 1.4.7, aligned with SAM's RNAME: no
/// whitespace, commas, angle brackets, brackets, quotes or backslashes, not starting with
/// `*` or `=`), and with a FASTA index, that the index lists it.
pub fn check_contig(layout: &Layout, name: &[u8], at: usize) -> Result<(), BadLine> {
    if !valid_contig_id(name) {
        return Err(BadLine {
            at,
            reason: BadInputReason::VcfContigName(String::from_utf8_lossy(name).into_owned()),
        });
    }
    match layout.fasta_index() {
        Some(fai) if fai.length(name).is_none() => Err(not_in_index(at, name, fai)),
        _ => Ok(()),
    }
}

fn not_in_index(at: usize, name: &[u8], fai: &FastaIndex) -> BadLine {
    BadLine {
        at,
        reason: BadInputReason::ContigNotInIndex {
            contig: String::from_utf8_lossy(name).into_owned(),
            fai: fai.path().to_path_buf(),
        },
    }
}

/// VCF 4.2's contig ID (section 1.4.7):
/// `[0-9A-Za-z!#$%&+./:;?@^_|~-][0-9A-Za-z!#$%&*+./:;=?@^_|~-]*`, less a leading `#`: the
/// grammar allows it, but a record line starting with `#` is a header line to htslib
/// (tabix, `bcftools index` and region queries skip it without a word) and to plink2.
pub fn valid_contig_id(name: &[u8]) -> bool {
    let ok = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&+./:;?@^_|~-*=".contains(&b);
    match name {
        [first, rest @ ..] => {
            ok(*first) && !matches!(first, b'*' | b'=' | b'#') && rest.iter().all(|&b| ok(b))
        }
        [] => false,
    }
}

/// The refusal of a POS lower than the contig's previous record's.
pub fn decreasing(at: usize, chrom: &[u8], pos: u64, last: u64) -> BadLine {
    BadLine {
        at,
        reason: BadInputReason::PosDecreasing {
            contig: String::from_utf8_lossy(chrom).into_owned(),
            pos,
            last,
        },
    }
}

fn upper(a: &[u8], out: &mut Vec<u8>) {
    out.extend(a.iter().map(u8::to_ascii_uppercase));
}

fn index(code: u16, out: &mut Vec<u8>) {
    match code {
        MISSING => out.push(b'.'),
        0..=9 => out.push(b'0' + code as u8),
        _ => out.extend_from_slice(code.to_string().as_bytes()),
    }
}

/// The POS of a VCF record (`CHROM\tPOS\t...`), for the writer's order check.
pub fn record_pos(record: &[u8]) -> Option<u64> {
    let start = memchr::memchr(b'\t', record)? + 1;
    let end = start + memchr::memchr(b'\t', &record[start..])?;
    std::str::from_utf8(&record[start..end]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Format;
    use crate::convert::row::LineError;

    fn layout(columns: usize, pairs: &[(usize, usize)], missing: &[u8]) -> Layout {
        let mut l = super::super::row::tests::layout(columns, pairs)
            .with_alleles(crate::convert::Alleles::new(missing, false));
        l.set_output(Format::Vcf);
        l
    }

    fn record(l: &Layout, s: &mut Scratch, line: &str) -> Result<Option<String>, LineError> {
        let mut out = Vec::with_capacity(4096);
        match convert_line(l, line.as_bytes(), s, &mut out, 4096)? {
            RowOutcome::Dropped => Ok(None),
            RowOutcome::Written => Ok(Some(String::from_utf8(out).unwrap())),
            RowOutcome::NoRoom(n) => panic!("no room for {n}"),
        }
    }

    #[test]
    fn records_carry_phased_indexes_and_the_contigs_phase_set() {
        let l = layout(7, &[(3, 4), (5, 6)], b"N");
        let mut s = Scratch::new(&l);
        assert_eq!(
            record(&l, &mut s, "chr1\t0012\ta\tG\tN\t-\tA")
                .unwrap()
                .unwrap(),
            "chr1\t12\t.\tA\tG,*\t.\t.\t.\tGT:PS\t1|.:1\t2|0:1\n"
        );
        // Case does not make an allele: `c` and `C` are one.
        assert_eq!(
            record(&l, &mut s, "chr1\t13\tA\tc\tC\tAT\tN")
                .unwrap()
                .unwrap(),
            "chr1\t13\t.\tA\tC,AT\t.\t.\t.\tGT:PS\t1|1:1\t2|.:1\n"
        );
        // REF N stays N; only REF and missing: no record.
        assert_eq!(record(&l, &mut s, "chr1\t14\tN\tN\tN\tN\tn").unwrap(), None);
        assert_eq!(
            record(&l, &mut s, "chr1\t14\tA\tn\tAN\tN\tA")
                .unwrap()
                .unwrap(),
            "chr1\t14\t.\tA\tAN\t.\t.\t.\tGT:PS\t.|1:1\t.|0:1\n"
        );
        assert_eq!(record(&l, &mut s, "chr1\t15\tA\ta\tN\tA\tA").unwrap(), None);
    }

    #[test]
    fn alleles_vcf_cannot_carry_are_refused_with_their_column() {
        let l = layout(5, &[(3, 4)], b"N");
        let mut s = Scratch::new(&l);
        let e = record(&l, &mut s, "c\t1\tA\tA\tR").unwrap_err();
        assert_eq!(e.at, 8);
        assert!(
            e.what.contains("allele in column 4") && e.what.contains("\"R\""),
            "{}",
            e.what
        );
        let e = record(&l, &mut s, "c\t1\tA\t.\tA").unwrap_err();
        assert!(
            e.what.contains("add it to the missing symbols"),
            "{}",
            e.what
        );
        let e = record(&l, &mut s, "c\t1\t-\tA\tA").unwrap_err();
        assert!(e.what.starts_with("REF \"-\""), "{}", e.what);
        // A row that is no record is not checked for VCF's alphabet...
        assert_eq!(record(&l, &mut s, "c\t2\tR\tR\tN").unwrap(), None);
        // ...but a genotype or a list is refused whatever the format, record or not.
        let e = record(&l, &mut s, "c\t3\tC/T\tN\tN").unwrap_err();
        assert!(
            e.what.contains("REF holds \"C/T\", a genotype"),
            "{}",
            e.what
        );
        // VCF positions start at 1.
        let e = record(&l, &mut s, "c\t0\tA\tC\tA").unwrap_err();
        assert_eq!(e.at, 2);
        assert!(e.what.contains("POS 0"), "{}", e.what);
        // A literal `*` would merge with `-` (written `*`): refused, unless it means no call.
        let e = record(&l, &mut s, "c\t4\tA\t-\t*").unwrap_err();
        assert_eq!(e.at, 8);
        assert!(e.what.contains("would merge with it"), "{}", e.what);
        let star = layout(5, &[(3, 4)], b"N*");
        let mut s = Scratch::new(&star);
        assert_eq!(
            record(&star, &mut s, "c\t4\tA\t-\t*").unwrap().unwrap(),
            "c\t4\t.\tA\t*\t.\t.\t.\tGT:PS\t1|.:1\n"
        );
        // With `.` missing, it is a no-call.
        let l = layout(5, &[(3, 4)], b"N.");
        let mut s = Scratch::new(&l);
        assert_eq!(
            record(&l, &mut s, "c\t1\tA\t.\tT").unwrap().unwrap(),
            "c\t1\t.\tA\tT\t.\t.\t.\tGT:PS\t.|1:1\n"
        );
    }

    /// The fixed-layout writer and the general path agree wherever the former answers.
    #[test]
    fn fixed_records_equal_the_general_path() {
        for missing in [&b"N"[..], b"N-", b"N.", b".", b"N*"] {
            let l = layout(9, &[(3, 4), (5, 8), (7, 6)], missing);
            // `*` where it is a missing symbol; elsewhere the fast path leaves it (below).
            let odd = if missing.contains(&b'*') { "*" } else { "." };
            let alleles = ["A", "C", "G", "T", "N", "-", "a", "n", "R", odd];
            let mut x = 7u64;
            let (mut fast_answers, mut records) = (0, 0);
            for i in 0..5000 {
                let mut line = format!("chr1\t{}\t{}", 10 + i, ["A", "c", "N", "G", "R"][i % 5]);
                for _ in 0..6 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    line += "\t";
                    line += alleles[(x % 10) as usize];
                }
                let bytes = line.as_bytes();
                let f = crate::convert::fast::fixed_line(bytes, b"chr1", 9).unwrap();
                let (mut s1, mut s2) = (Scratch::new(&l), Scratch::new(&l));
                let (mut fast, mut general) = (Vec::with_capacity(4096), Vec::with_capacity(4096));
                let Some(wrote) = write_fixed(&l, bytes, &f, b"chr1", &mut s1, &mut fast, 4096)
                else {
                    continue;
                };
                fast_answers += 1;
                records += wrote as usize;
                let g = convert_line(&l, bytes, &mut s2, &mut general, 4096);
                match g {
                    Ok(RowOutcome::Written) => assert!(wrote, "{line}"),
                    Ok(RowOutcome::Dropped) => assert!(!wrote, "{line}"),
                    other => panic!("{line}: the general path says {other:?}"),
                }
                assert_eq!(
                    String::from_utf8(fast).unwrap(),
                    String::from_utf8(general).unwrap(),
                    "{line}"
                );
            }
            assert!(
                fast_answers > 1000 && records > 500,
                "{fast_answers} {records}"
            );
        }
        // A literal `*` that is not a missing symbol goes to the general path (refused).
        let l = layout(5, &[(3, 4)], b"N");
        let line = b"chr1\t5\tA\t-\t*";
        let f = crate::convert::fast::fixed_line(line, b"chr1", 5).unwrap();
        let mut out = Vec::with_capacity(4096);
        let mut s = Scratch::new(&l);
        assert_eq!(
            write_fixed(&l, line, &f, b"chr1", &mut s, &mut out, 4096),
            None
        );
    }

    #[test]
    fn pos_must_not_decrease_on_a_contig_and_must_fit() {
        let l = layout(5, &[(3, 4)], b"N");
        let mut s = Scratch::new(&l);
        record(&l, &mut s, "c\t10\tA\tC\tA").unwrap();
        record(&l, &mut s, "d\t5\tA\tC\tA").unwrap();
        record(&l, &mut s, "d\t5\tA\tG\tA").unwrap();
        let e = record(&l, &mut s, "d\t4\tA\tC\tA").unwrap_err();
        assert!(
            e.what.contains("POS 4 comes after POS 5 on contig d"),
            "{}",
            e.what
        );
        s.vcf.start_chunk();
        assert!(record(&l, &mut s, "d\t4\tA\tC\tA").is_ok());
        let e = record(&l, &mut s, "d\t2147483648\tA\tC\tA").unwrap_err();
        assert!(e.what.contains("larger than VCF allows"), "{}", e.what);
        assert_eq!(record_pos(b"chr1\t123\t.\tA"), Some(123));
    }
}
