//! Property test: VCF records from the whole pipeline (tiny chunks, so the order check
//! crosses chunk boundaries, BGZF or not; files, whose header is written first from the
//! contigs guessed up front, and streams, whose header is made last) against a naive model
//! of the VCF mapping written from its rules (README, "Output formats"), refusals included:
//! a refusal names the first line at fault.

use std::io::Read;
use std::sync::atomic::AtomicBool;

use hapflow::testing::Plan;
use hapflow::{
    Alleles, ColumnRef, ErrorKind, Format, Input, Output, OutputSettings, PairSpec, Request, Silent,
};
use proptest::prelude::*;

/// The VCF the README describes, on strings; Err(line) when the input must be refused, with
/// the first line at fault (1 = the file's first line): an allele VCF cannot carry (a
/// literal `*` included: `-` is written `*`, so a `*` would merge with it), or a record whose
/// POS is below its contig's last record's, whatever contigs came between.
fn model(
    lines: &[(String, u64, String, Vec<String>)],
    pairs: &[(usize, usize)],
    missing: &str,
) -> Result<String, u64> {
    let upper = |a: &str| a.to_ascii_uppercase();
    let written = |a: &str| {
        if a == "-" {
            "*".to_string()
        } else {
            a.to_string()
        }
    };
    let is_missing = |a: &str| a.len() == 1 && missing.contains(&a.to_ascii_uppercase());
    let bases = |a: &str| !a.is_empty() && a.chars().all(|c| "ACGTN".contains(c));
    let mut contigs: Vec<(String, String, Option<u64>)> = Vec::new();
    for (line, (chrom, pos, reference, alleles)) in (1u64..).zip(lines) {
        if !contigs.iter().any(|c| &c.0 == chrom) {
            contigs.push((chrom.clone(), String::new(), None));
        }
        let r = upper(reference);
        let mut alt: Vec<String> = Vec::new();
        for a in alleles {
            let u = upper(a);
            if !is_missing(a) && u != r && !alt.contains(&u) {
                alt.push(u);
            }
        }
        if alt.is_empty() {
            continue;
        }
        if !bases(&r) || !alt.iter().all(|a| a == "-" || bases(a)) {
            return Err(line);
        }
        let contig = contigs.iter_mut().find(|c| &c.0 == chrom).unwrap();
        if contig.2.is_some_and(|last| *pos < last) {
            return Err(line);
        }
        contig.2 = Some(*pos);
        let gt = |a: &String| {
            if is_missing(a) {
                ".".to_string()
            } else if upper(a) == r {
                "0".to_string()
            } else {
                (alt.iter().position(|x| *x == upper(a)).unwrap() + 1).to_string()
            }
        };
        let alt_text: Vec<String> = alt.iter().map(|a| written(a)).collect();
        let mut rec = format!(
            "{chrom}\t{pos}\t.\t{r}\t{}\t.\t.\t.\tGT:PS",
            alt_text.join(",")
        );
        for &(x, y) in pairs {
            rec += &format!("\t{}|{}:1", gt(&alleles[x - 3]), gt(&alleles[y - 3]));
        }
        contig.1 += &(rec + "\n");
    }
    let mut out = String::from("##fileformat=VCFv4.2\n");
    out += &format!("##source=hapflow {}\n", env!("CARGO_PKG_VERSION"));
    for c in &contigs {
        out += &format!("##contig=<ID={}>\n", c.0);
    }
    out += "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Phased genotype: the pair's two haplotype alleles, first|second\">\n";
    out += "##FORMAT=<ID=PS,Number=1,Type=Integer,Description=\"Phase set: the matrix phases each contig as one block, named 1\">\n";
    out += "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT";
    for i in 0..pairs.len() {
        out += &format!("\tp{i}x{i}y");
    }
    out.push('\n');
    Ok(out + &contigs.into_iter().map(|c| c.1).collect::<String>())
}

fn allele() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "A", "C", "G", "T", "A", "C", "G", "T", "A", "C", "N", "N", "-", "a", "c", "n", ".", "AT",
        "AN", "*", "R",
    ])
    .prop_map(String::from)
}

#[derive(Debug, Clone)]
struct Case {
    lines: Vec<(String, u64, String, Vec<String>)>,
    pairs: Vec<(usize, usize)>,
    missing: &'static str,
    chunk: usize,
    bgzf: bool,
    /// Read as a stream rather than a file: the contigs cannot be guessed up front, and
    /// the header is made at the end.
    stream: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (3usize..7, 1usize..60).prop_flat_map(|(haplotypes, rows)| {
        let row = (
            0usize..3,
            0u64..4,
            prop::sample::select(vec!["A", "C", "G", "T", "N", "a", "-", "R"])
                .prop_map(String::from),
            prop::collection::vec(allele(), haplotypes),
            prop::bool::weighted(0.05),
        );
        (
            prop::collection::vec(row, rows),
            prop::collection::vec((3..3 + haplotypes, 3..3 + haplotypes), 1..3),
            prop::sample::select(vec!["N", "N.", "N-", "N*"]),
            prop::sample::select(vec![128usize, 256, 1024]),
            any::<bool>(),
            prop::bool::weighted(0.3),
            prop::bool::weighted(0.3),
        )
            .prop_map(move |(rows, pairs, missing, chunk, bgzf, odd, stream)| {
                // POS rises by a step per contig; now and then it falls (bad input for VCF).
                let mut last = [0u64; 3];
                let lines = rows
                    .into_iter()
                    .map(|(c, step, reference, mut alleles, fall)| {
                        // Most cases hold only alleles VCF can carry, so records get written.
                        if !odd {
                            for a in &mut alleles {
                                if a == "R" || a == "." || a == "*" {
                                    *a = "N".into();
                                }
                            }
                        }
                        let reference = if !odd && reference == "R" {
                            "G".into()
                        } else {
                            reference
                        };
                        last[c] = if fall && last[c] > 1 {
                            last[c] - 1
                        } else {
                            last[c] + step + 1
                        };
                        (format!("c{c}"), last[c], reference, alleles)
                    })
                    .collect();
                // A pair is two different columns (one column twice is refused at load).
                let pairs = pairs
                    .into_iter()
                    .map(|(a, b)| (a, if a == b { 3 + (a - 2) % haplotypes } else { b }))
                    .collect();
                Case {
                    lines,
                    pairs,
                    missing,
                    chunk,
                    bgzf,
                    stream,
                }
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn vcf_records_follow_the_model(c in case()) {
        let dir = tempfile::tempdir().unwrap();
        let (input, output) = (dir.path().join("m.txt"), dir.path().join("o.vcf"));
        let mut text = String::new();
        for (chrom, pos, reference, alleles) in &c.lines {
            text += &format!("{chrom}\t{pos}\t{reference}\t{}\n", alleles.join("\t"));
        }
        std::fs::write(&input, &text).unwrap();
        let pairs: Vec<PairSpec> = c
            .pairs
            .iter()
            .enumerate()
            .map(|(i, &(a, b))| PairSpec::new(format!("p{i}x"), ColumnRef::Index(a), format!("{i}y"), ColumnRef::Index(b)))
            .collect();
        let request = match c.stream {
            true => Request::new(Input::Stdin).reader("m.txt", std::fs::File::open(&input).unwrap()),
            false => Request::new(Input::Path(input)),
        };
        let request = request
            .output(Output::Path(output.clone()))
            .output_settings(OutputSettings {
                format: Format::Vcf,
                bgzf_level: c.bgzf.then_some(1),
                fai: None,
            })
            .alleles(Alleles::new(c.missing.as_bytes(), false))
            .pairs(pairs)
            .plan(Plan::with_chunk(c.chunk, 2));
        let got = request.convert(&mut Silent, &AtomicBool::new(false));
        match model(&c.lines, &c.pairs, c.missing) {
            Ok(expected) => {
                let summary = got.unwrap();
                // A file whose contigs come in one stretch each gets its header first, from
                // the contigs guessed by bisection, and its spool becomes the output.
                let mut seen: Vec<&str> = c.lines.iter().map(|l| l.0.as_str()).collect();
                seen.dedup();
                let stretches = seen.len();
                seen.sort();
                seen.dedup();
                prop_assert_eq!(summary.copied, c.stream || stretches != seen.len());
                let mut bytes = std::fs::read(&output).unwrap();
                if c.bgzf {
                    let mut plain = Vec::new();
                    noodles_bgzf::io::Reader::new(&bytes[..]).read_to_end(&mut plain).unwrap();
                    bytes = plain;
                }
                prop_assert_eq!(String::from_utf8(bytes).unwrap(), expected);
            }
            Err(line) => {
                let e = got.expect_err("the model refuses this input");
                prop_assert!(e.is_user_error(), "{}", e);
                prop_assert!(
                    matches!(e.kind(), ErrorKind::BadInput { line: Some(l), .. } if *l == line),
                    "the first fault is line {}: {}",
                    line,
                    e
                );
                prop_assert!(!output.exists());
            }
        }
    }
}
