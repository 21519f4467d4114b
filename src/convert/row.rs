//! One matrix line to one haplotype row, into a reused byte buffer.
//!
//! The row is the reference script's (`matrix_to_haplotype.py`): `CHROM POS REF`, then
//! ALT: every haplotype allele that is neither REF nor missing, once, comma-separated, in
//! order of first appearance (the script takes them from a Python set, so its order varies;
//! phase-extender's all-alleles puts REF first). Then per pair of haplotypes `CHROM` (the
//! phase block, `_PI`) and the phased genotype `a|b` (`_PG_al`), in which each missing
//! character (`N` by default) becomes REF and then each `-` becomes REF, the script's two
//! `str.replace` calls. A line with no ALT allele gives no row.
//!
//! The output's size is worked out before a byte is written, so a row that does not fit the
//! caller's buffer is reported instead of growing it: buffers are sized from the memory
//! budget and must never reallocate.

use memchr::Memchr;

use super::alleles::Alleles;
use super::fast::PairsTemplate;
use super::layout::Layout;
use crate::error::{BadInputReason, Column};

/// What became of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOutcome {
    /// The line had no ALT allele: nothing written.
    Dropped,
    /// One row was written.
    Written,
    /// The row needs this many bytes and the buffer does not have them; nothing written.
    NoRoom(usize),
}

/// Why a line is not a valid matrix line, and where in the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// Byte offset in the line of the problem (the start of the field at fault; 0 for the
    /// field count).
    pub at: usize,
    /// What is wrong.
    pub reason: BadInputReason,
}

/// [`BadLine`] with its reason as its message, for the unit tests' assertions on words.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// Byte offset in the line of the problem.
    pub at: usize,
    /// The message.
    pub what: String,
}

#[cfg(test)]
impl From<BadLine> for LineError {
    fn from(e: BadLine) -> Self {
        LineError {
            at: e.at,
            what: e.reason.to_string(),
        }
    }
}

/// Per-thread buffers reused from line to line, so the hot path does not allocate.
#[derive(Debug, Default)]
pub struct Scratch {
    /// `fields[i]` is where field `i` starts; one extra entry marks the end of the line.
    pub(super) fields: Vec<usize>,
    /// ALT alleles as ranges of the line, in order of first appearance.
    alts: Vec<(usize, usize)>,
    /// REF with every `-` replaced by REF: what an `N` becomes after both replacements.
    ref_for_n: Vec<u8>,
    /// The line with REF and the alleles upper-cased, when the options ask for it.
    upper: Vec<u8>,
    /// The fast path's pairs section for the current contig.
    pub(crate) template: PairsTemplate,
    /// VCF records' buffers.
    pub(crate) vcf: super::vcf::VcfScratch,
}

impl Scratch {
    /// Buffers sized for `layout`'s columns (the others grow to the longest allele seen).
    pub fn new(layout: &Layout) -> Scratch {
        Scratch {
            fields: Vec::with_capacity(layout.columns() + 1),
            alts: Vec::with_capacity(layout.columns()),
            ref_for_n: Vec::new(),
            upper: Vec::new(),
            template: PairsTemplate::default(),
            vcf: Default::default(),
        }
    }
}

/// Converts one line (no line ending) and appends the row to `out`, without ever growing
/// `out` beyond `out_cap` bytes.
///
/// # Errors
///
/// [`BadLine`] when the line does not have `layout.columns()` tab-separated fields, has an
/// empty field, a POS that is not a non-negative integer, or a genotype (`A/T`) or list
/// where one allele belongs. Nothing is written then.
pub fn convert_line(
    layout: &Layout,
    line: &[u8],
    s: &mut Scratch,
    out: &mut Vec<u8>,
    out_cap: usize,
) -> Result<RowOutcome, BadLine> {
    split_fields(layout, line, &mut s.fields)?;
    check_fields(layout, line, &s.fields)?;
    check_alleles(layout, line, &s.fields)?;
    if !layout.alleles().uppercase() {
        return write_row(layout, line, s, out, out_cap);
    }
    // REF and the alleles upper-cased first; CHROM and POS as written.
    let mut upper = std::mem::take(&mut s.upper);
    upper.clear();
    upper.extend_from_slice(line);
    upper[s.fields[2]..].make_ascii_uppercase();
    let row = write_row(layout, &upper, s, out, out_cap);
    s.upper = upper;
    row
}

/// The row of a checked line whose fields `s.fields` holds.
fn write_row(
    layout: &Layout,
    line: &[u8],
    s: &mut Scratch,
    out: &mut Vec<u8>,
    out_cap: usize,
) -> Result<RowOutcome, BadLine> {
    let alleles = layout.alleles();
    let f = &s.fields;
    let field = |i: usize| &line[f[i]..f[i + 1] - 1];

    let reference = field(2);
    s.alts.clear();
    for i in 3..layout.columns() {
        let allele = field(i);
        if matches!(allele, [b] if alleles.is_missing(*b)) || same(allele, reference) {
            continue;
        }
        if !s.alts.iter().any(|&(a, b)| same(&line[a..b], allele)) {
            s.alts.push((f[i], f[i + 1] - 1));
        }
    }
    if s.alts.is_empty() {
        return Ok(RowOutcome::Dropped);
    }

    let ref_for_n: &[u8] = if reference.contains(&b'-') {
        // REF with its own `-` replaced by REF (its missing characters stay: the
        // replacement of missing characters has already happened when this is inserted).
        s.ref_for_n.clear();
        for &b in reference {
            match b {
                b'-' => s.ref_for_n.extend_from_slice(reference),
                _ => s.ref_for_n.push(b),
            }
        }
        &s.ref_for_n
    } else {
        reference
    };
    let chrom = field(0);
    let prefix = f[3] - 1; // CHROM \t POS \t REF
    let mut need = prefix + 1 + s.alts.len() - 1 + 1;
    let with_ref = layout.ref_in_alleles();
    if with_ref {
        need += reference.len() + 1;
    }
    need += s.alts.iter().map(|&(a, b)| b - a).sum::<usize>();
    let sub_len = |a: &[u8]| substituted_len(a, reference.len(), ref_for_n.len(), alleles);
    for &(x, y) in layout.pairs() {
        need += 1 + chrom.len() + 1 + 1;
        need += sub_len(field(x)) + sub_len(field(y));
    }
    if out.len() + need > out_cap {
        return Ok(RowOutcome::NoRoom(need));
    }

    let start = out.len();
    out.extend_from_slice(&line[..prefix]);
    out.push(b'\t');
    if with_ref {
        out.extend_from_slice(reference);
        out.push(b',');
    }
    for (k, &(a, b)) in s.alts.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&line[a..b]);
    }
    for &(x, y) in layout.pairs() {
        out.push(b'\t');
        out.extend_from_slice(chrom);
        out.push(b'\t');
        substitute(field(x), reference, ref_for_n, alleles, out);
        out.push(b'|');
        substitute(field(y), reference, ref_for_n, alleles, out);
    }
    out.push(b'\n');
    debug_assert_eq!(out.len() - start, need);
    Ok(RowOutcome::Written)
}

/// REF and every allele must be one allele: a `/`, `|` or `,` in one (a genotype call such
/// as `A/T` or `G|A`, or a list) would make `_PG_al` or ALT ambiguous.
pub(super) fn check_alleles(layout: &Layout, line: &[u8], f: &[usize]) -> Result<(), BadLine> {
    let Some(i) = memchr::memchr3(b'|', b'/', b',', &line[f[2]..]) else {
        return Ok(());
    };
    let at = f[2] + i;
    let column = (2..layout.columns())
        .find(|&c| f[c + 1] > at)
        .expect("the byte is in a field");
    let value = String::from_utf8_lossy(&line[f[column]..f[column + 1] - 1]);
    let column_named = match column {
        2 => Column::Ref,
        c => Column::Haplotype(layout.describe_column(c)),
    };
    Err(BadLine {
        at: f[column],
        reason: BadInputReason::GenotypeCell {
            column: column_named,
            value: value.into_owned(),
        },
    })
}

/// Slice equality for the short fields of a matrix, without a call into libc's memcmp for
/// the usual one-byte case.
#[inline(always)]
pub fn same(a: &[u8], b: &[u8]) -> bool {
    match (a, b) {
        ([x], [y]) => x == y,
        _ => a == b,
    }
}

/// Records where each field starts; the line must have exactly `layout.columns()` fields.
///
/// A plain byte loop: fields here are one or two bytes long, so a SIMD search per tab
/// (memchr) would cost a call for every two bytes.
pub(super) fn split_fields(
    layout: &Layout,
    line: &[u8],
    fields: &mut Vec<usize>,
) -> Result<(), BadLine> {
    let expected = layout.columns();
    fields.clear();
    fields.push(0);
    for (i, &b) in line.iter().enumerate() {
        if b == b'\t' {
            if fields.len() == expected {
                let found = fields.len() + 1 + Memchr::new(b'\t', &line[i + 1..]).count();
                return Err(field_count(line, found, expected));
            }
            fields.push(i + 1);
        }
    }
    if fields.len() != expected {
        return Err(field_count(line, fields.len(), expected));
    }
    fields.push(line.len() + 1);
    Ok(())
}

fn field_count(line: &[u8], found: usize, expected: usize) -> BadLine {
    BadLine {
        at: 0,
        reason: BadInputReason::FieldCount {
            found,
            expected,
            spaces: found < expected && line.contains(&b' '),
        },
    }
}

/// Empty fields and a POS that is not a non-negative integer are errors.
pub(super) fn check_fields(layout: &Layout, line: &[u8], f: &[usize]) -> Result<(), BadLine> {
    for i in 0..layout.columns() {
        if f[i + 1] - 1 == f[i] {
            let column = match i {
                0 => Column::Chrom,
                1 => Column::Pos,
                2 => Column::Ref,
                _ => Column::Haplotype(layout.describe_column(i)),
            };
            return Err(BadLine {
                at: f[i],
                reason: BadInputReason::EmptyField(column),
            });
        }
    }
    let pos = &line[f[1]..f[2] - 1];
    if !pos.iter().all(u8::is_ascii_digit) {
        return Err(BadLine {
            at: f[1],
            reason: BadInputReason::BadPos {
                text: String::from_utf8_lossy(pos).into_owned(),
                header_line: crate::read::header::header_line_names(line).is_some(),
            },
        });
    }
    Ok(())
}

/// Length of `allele` after every missing character -> REF, then `-` -> REF.
fn substituted_len(allele: &[u8], ref_len: usize, ref_for_n_len: usize, a: &Alleles) -> usize {
    allele
        .iter()
        .map(|&b| match b {
            b if a.is_missing(b) => ref_for_n_len,
            b'-' => ref_len,
            _ => 1,
        })
        .sum()
}

/// Appends `allele` with every missing character (`N` by default) replaced by `ref_for_n`
/// and every `-` by `reference`: the reference's two plain replacements done in one pass (a
/// missing character becomes REF, and any `-` inside that REF is then replaced too, which
/// `ref_for_n` already holds).
fn substitute(allele: &[u8], reference: &[u8], ref_for_n: &[u8], a: &Alleles, out: &mut Vec<u8>) {
    for &b in allele {
        match b {
            b if a.is_missing(b) => out.extend_from_slice(ref_for_n),
            b'-' => out.extend_from_slice(reference),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::config::{ColumnRef, PairSpec};

    /// A layout of `columns` fields whose pairs are `pairs` by index (labels `p<i>x`,
    /// `p<i>y`), for the conversion paths' unit tests.
    pub(in crate::convert) fn layout(columns: usize, pairs: &[(usize, usize)]) -> Layout {
        let specs: Vec<PairSpec> = pairs
            .iter()
            .enumerate()
            .map(|(i, &(a, b))| {
                PairSpec::new(
                    format!("p{i}x"),
                    ColumnRef::Index(a),
                    format!("p{i}y"),
                    ColumnRef::Index(b),
                )
            })
            .collect();
        Layout::resolve(&specs, None, columns).unwrap()
    }

    /// The row of `line`, or its error with the reason as the message.
    fn convert(l: &Layout, line: &str) -> Result<Option<String>, LineError> {
        convert_or_reason(l, line).map_err(LineError::from)
    }

    fn convert_or_reason(l: &Layout, line: &str) -> Result<Option<String>, BadLine> {
        let mut s = Scratch::new(l);
        let mut out = Vec::with_capacity(1 << 16);
        match convert_line(l, line.as_bytes(), &mut s, &mut out, 1 << 16)? {
            RowOutcome::Dropped => Ok(None),
            RowOutcome::Written => Ok(Some(String::from_utf8(out).unwrap())),
            RowOutcome::NoRoom(n) => panic!("no room for {n}"),
        }
    }

    #[test]
    fn rows_with_only_n_and_ref_are_dropped() {
        let l = layout(6, &[(3, 4)]);
        assert_eq!(convert(&l, "c\t1\tA\tA\tN\tA"), Ok(None));
    }

    #[test]
    fn alt_keeps_first_appearance_order_and_the_dash() {
        let l = layout(7, &[(3, 4)]);
        assert_eq!(
            convert(&l, "c\t5\tA\tG\t-\tG\tT").unwrap().unwrap(),
            "c\t5\tA\tG,-,T\tc\tG|A\n"
        );
    }

    #[test]
    fn unpaired_columns_count_for_alt() {
        let l = layout(6, &[(3, 4)]);
        assert_eq!(
            convert(&l, "c\t5\tA\tA\tN\tC").unwrap().unwrap(),
            "c\t5\tA\tC\tc\tA|A\n"
        );
    }

    #[test]
    fn n_then_dash_are_replaced_as_substrings() {
        let l = layout(6, &[(3, 4)]);
        assert_eq!(
            convert(&l, "c\t1\tG\tAN\tn-\tN").unwrap().unwrap(),
            "c\t1\tG\tAN,n-\tc\tAG|nG\n"
        );
    }

    #[test]
    fn a_dash_inside_ref_is_replaced_after_n() {
        // "N|A".replace("N", "A-").replace("-", "A-") == "AA-|A"
        let l = layout(5, &[(3, 4)]);
        assert_eq!(
            convert(&l, "c\t1\tA-\tN\tA").unwrap().unwrap(),
            "c\t1\tA-\tA\tc\tAA-|A\n"
        );
    }

    #[test]
    fn text_is_copied_not_retyped() {
        let l = layout(5, &[(3, 4)]);
        assert_eq!(
            convert(&l, "chr01\t007\tA\tNA\t.").unwrap().unwrap(),
            "chr01\t007\tA\tNA,.\tchr01\tAA|.\n"
        );
    }

    #[test]
    fn wrong_field_counts_are_reported() {
        let l = layout(5, &[(3, 4)]);
        let e = convert(&l, "c\t1\tA\tA").unwrap_err();
        assert!(e.what.starts_with("4 fields, but"), "{}", e.what);
        let e = convert(&l, "c\t1\tA\tA\tA\tA\tA").unwrap_err();
        assert!(e.what.starts_with("7 fields, but"), "{}", e.what);
    }

    #[test]
    fn a_bad_line_says_why_as_a_reason_to_match_on() {
        let l = layout(5, &[(3, 4)]);
        let reason = |line| convert_or_reason(&l, line).unwrap_err().reason;
        assert_eq!(
            reason("c 1 A A C"),
            BadInputReason::FieldCount {
                found: 1,
                expected: 5,
                spaces: true
            }
        );
        assert_eq!(
            reason("c\t1\tA\tA\t"),
            BadInputReason::EmptyField(Column::Haplotype("column 4".into()))
        );
        assert_eq!(
            reason("c\tx\tA\tA\tC"),
            BadInputReason::BadPos {
                text: "x".into(),
                header_line: false
            }
        );
        assert_eq!(
            reason("c\t1\tA\tA|T\tC"),
            BadInputReason::GenotypeCell {
                column: Column::Haplotype("column 3".into()),
                value: "A|T".into()
            }
        );
    }

    #[test]
    fn empty_fields_and_bad_pos_are_reported_where_they_are() {
        let l = layout(5, &[(3, 4)]);
        assert_eq!(convert(&l, "\t1\tA\tA\tC").unwrap_err().what, "empty CHROM");
        assert_eq!(convert(&l, "c\t1\t\tA\tC").unwrap_err().at, 4);
        let e = convert(&l, "c\t1\tA\tA\t").unwrap_err();
        assert_eq!((e.at, e.what.as_str()), (8, "empty allele in column 4"));
        let e = convert(&l, "c\t-1\tA\tA\tC").unwrap_err();
        assert!(e.what.contains("\"-1\" is not a non-negative integer"));
        assert!(convert(&l, "c\t\tA\tA\tC").is_err());
    }

    #[test]
    fn a_row_that_does_not_fit_is_not_written() {
        let l = layout(5, &[(3, 4)]);
        let mut s = Scratch::new(&l);
        let mut out = Vec::with_capacity(64);
        let r = convert_line(&l, b"c\t1\tA\tC\tC", &mut s, &mut out, 10).unwrap();
        assert_eq!(r, RowOutcome::NoRoom("c\t1\tA\tC\tc\tC|C\n".len()));
        assert!(out.is_empty());
    }

    #[test]
    fn a_dash_and_an_n_inside_ref() {
        // "N|A".replace("N", "N-").replace("-", "N-") == "NN-|A"
        let l = layout(5, &[(3, 4)]);
        assert_eq!(
            convert(&l, "c\t1\tN-\tN\tA").unwrap().unwrap(),
            "c\t1\tN-\tA\tc\tNN-|A\n"
        );
    }

    #[test]
    fn genotypes_and_lists_are_not_alleles() {
        let l = layout(6, &[(3, 4)]);
        for (line, which, value) in [
            ("c\t1\tA\tA/T\tA\tA", "column 3", "A/T"),
            ("c\t1\tA\tA\tG|A\tA", "column 4", "G|A"),
            ("c\t1\tA\tA\tA\tC,T", "column 5", "C,T"),
            ("c\t1\tA/A\tA\tA\tA", "REF", "A/A"),
        ] {
            let e = convert(&l, line).unwrap_err();
            assert!(
                e.what
                    .starts_with(&format!("{which} holds {value:?}, a genotype or a list")),
                "{}",
                e.what
            );
            assert_eq!(e.at, line.find(value).unwrap());
        }
        // CHROM and POS are not alleles.
        assert!(convert(&l, "c/1\t1\tA\tC\tA\tA").is_ok());
    }

    #[test]
    fn missing_characters_and_upper_casing() {
        let l = layout(7, &[(3, 4), (5, 6)]).with_alleles(Alleles::new(b"N.", true));
        assert_eq!(convert(&l, "c\t1\ta\t.\tn\tN\tA"), Ok(None));
        assert_eq!(
            convert(&l, "c\t1\ta-\t.\tt\tg.\tA").unwrap().unwrap(),
            "c\t1\tA-\tT,G.,A\tc\tAA-|T\tc\tGAA-|A\n"
        );
        // Without upper-casing, `n` is an allele; the missing characters are as given.
        let l = layout(5, &[(3, 4)]).with_alleles(Alleles::new(b".", false));
        assert_eq!(
            convert(&l, "chr\t1\tA\tN\t.").unwrap().unwrap(),
            "chr\t1\tA\tN\tchr\tN|A\n"
        );
    }

    #[test]
    fn a_header_line_in_the_data_says_so() {
        let l = layout(5, &[(3, 4)]);
        let e = convert(&l, "CHROM\tPOS\tREF\ta\tb").unwrap_err();
        assert!(e.what.contains("this is a header line"), "{}", e.what);
        let e = convert(&l, "c 1 A C").unwrap_err();
        assert!(e.what.contains("separated by spaces"), "{}", e.what);
    }
}
