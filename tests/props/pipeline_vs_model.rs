//! Property tests: the whole pipeline, forced into tiny chunks so that chunk boundaries,
//! carried line tails, full output buffers and the reorder window are all exercised,
//! against a deliberately simple model of the conversion written straight from its rules
//! (README, "What the conversion does"), with the allele options (missing characters,
//! upper-casing) drawn at random too.

use std::sync::atomic::AtomicBool;

use hapflow::testing::Plan;
use hapflow::{Alleles, ColumnRef, Input, Output, PairSpec, Request, Silent};
use proptest::prelude::*;

/// How alleles are read: the missing characters and upper-casing.
#[derive(Debug, Clone)]
struct Options {
    missing: Vec<char>,
    uppercase: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            missing: vec!['N'],
            uppercase: false,
        }
    }
}

/// The conversion as the README words it, on strings, with no regard for speed.
fn model(matrix: &str, pairs: &[(usize, usize)], labels: &[(String, String)]) -> String {
    model_with(matrix, pairs, labels, &Options::default())
}

/// [`model`] with allele options: REF and alleles upper-cased first if asked; an allele
/// that is one missing character is not in ALT; in `_PG_al` every missing character of an
/// allele as written becomes REF, and then every `-` becomes REF.
fn model_with(
    matrix: &str,
    pairs: &[(usize, usize)],
    labels: &[(String, String)],
    o: &Options,
) -> String {
    let mut header = String::from("contig\tpos\tref\talt");
    for (a, b) in labels {
        header += &format!("\t{a}{b}_PI\t{a}{b}_PG_al");
    }
    header.push('\n');
    let mut groups: Vec<(String, String)> = Vec::new();
    let mut first = true;
    for line in matrix.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let was_first = std::mem::replace(&mut first, false);
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if was_first && (f[0] == "CHROM" || f[0] == "#CHROM") {
            continue;
        }
        if !groups.iter().any(|g| g.0 == f[0]) {
            groups.push((f[0].to_string(), String::new()));
        }
        let up = |s: &str| {
            if o.uppercase {
                s.to_ascii_uppercase()
            } else {
                s.to_string()
            }
        };
        let reference = up(f[2]);
        let alleles: Vec<String> = f.iter().map(|a| up(a)).collect();
        let is_missing =
            |a: &str| a.chars().count() == 1 && o.missing.contains(&a.chars().next().unwrap());
        let mut alt: Vec<&str> = Vec::new();
        for a in &alleles[3..] {
            if !is_missing(a) && *a != reference && !alt.contains(&a.as_str()) {
                alt.push(a);
            }
        }
        if alt.is_empty() {
            continue;
        }
        let mut row = format!("{}\t{}\t{}\t{}", f[0], f[1], reference, alt.join(","));
        let fill = |a: &str| -> String {
            a.chars()
                .map(|c| {
                    if o.missing.contains(&c) {
                        reference.clone()
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        };
        for &(x, y) in pairs {
            let pg =
                format!("{}|{}", fill(&alleles[x]), fill(&alleles[y])).replace('-', &reference);
            row += &format!("\t{}\t{}", f[0], pg);
        }
        row.push('\n');
        groups.iter_mut().find(|g| g.0 == f[0]).unwrap().1 += &row;
    }
    header + &groups.into_iter().map(|g| g.1).collect::<String>()
}

#[derive(Debug, Clone)]
struct Case {
    matrix: String,
    columns: usize,
    pairs: Vec<(usize, usize)>,
    chunk: usize,
    workers: usize,
    options: Options,
}

const CONTIGS: [&str; 5] = ["c1", "c2", "chrX", "s_3", "CHROMx"];
const REFS: [&str; 11] = ["A", "C", "G", "T", "AT", "A-", "N", "-", "N-", "a", "c"];
const ALLELES: [&str; 14] = [
    "A", "C", "G", "T", "N", "-", "AT", "R", "a", "n", ".", "AN", "NA", "N-",
];

fn case() -> impl Strategy<Value = Case> {
    (5usize..9).prop_flat_map(|columns| {
        let row = (
            prop::sample::select(&CONTIGS[..]),
            0u32..100_000,
            prop::sample::select(&REFS[..]),
            prop::collection::vec(prop::sample::select(&ALLELES[..]), columns - 3),
            any::<bool>(),             // CRLF
            prop::bool::weighted(0.1), // a blank line after it
        );
        (
            prop::collection::vec(row, 0..80),
            any::<bool>(), // header line
            any::<bool>(), // newline after the last line
            prop::collection::vec((3..columns, 3..columns), 1..4),
            128usize..400,
            1usize..4,
            (
                prop::bool::weighted(0.25), // the defaults
                prop::sample::subsequence(vec!['N', '.', 'n', '-', 'A'], 0..=3),
                any::<bool>(),
            ),
        )
            .prop_map(
                move |(rows, header, last_nl, pairs, chunk, workers, options)| {
                    let pairs: Vec<(usize, usize)> = pairs
                        .into_iter()
                        .map(|(a, b)| {
                            if a == b {
                                (a, if b + 1 < columns { b + 1 } else { 3 })
                            } else {
                                (a, b)
                            }
                        })
                        .filter(|(a, b)| a != b)
                        .collect();
                    let options = match options {
                        (true, _, _) => Options::default(),
                        (false, missing, uppercase) => Options { missing, uppercase },
                    };
                    let mut m = String::new();
                    if header {
                        m += "#CHROM\tPOS\tREF";
                        for i in 3..columns {
                            m += &format!("\th{i}");
                        }
                        m += "\n";
                    }
                    for (contig, pos, r, alleles, crlf, blank) in &rows {
                        m += &format!("{contig}\t{pos}\t{r}\t{}", alleles.join("\t"));
                        m += if *crlf { "\r\n" } else { "\n" };
                        if *blank {
                            m += "\n";
                        }
                    }
                    if !last_nl && m.ends_with('\n') && !rows.is_empty() {
                        m.pop();
                        if m.ends_with('\r') {
                            m.pop();
                        }
                    }
                    Case {
                        matrix: m,
                        columns,
                        pairs,
                        chunk,
                        workers,
                        options,
                    }
                },
            )
    })
}

fn convert(c: &Case) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("m.txt"), dir.path().join("out.txt"));
    std::fs::write(&input, &c.matrix).unwrap();
    let specs: Vec<PairSpec> = c
        .pairs
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
    let request = Request::new(Input::Path(input))
        .output(Output::Path(output.clone()))
        .pairs(specs)
        .alleles(Alleles::new(
            c.options
                .missing
                .iter()
                .map(|&m| m as u8)
                .collect::<Vec<u8>>()
                .as_slice(),
            c.options.uppercase,
        ))
        .plan(Plan::with_chunk(c.chunk, c.workers));
    request
        .convert(&mut Silent, &AtomicBool::new(false))
        .unwrap();
    std::fs::read_to_string(output).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn pipeline_matches_the_model(c in case()) {
        let labels: Vec<(String, String)> = (0..c.pairs.len())
            .map(|i| (format!("p{i}x"), format!("p{i}y")))
            .collect();
        let _ = c.columns;
        prop_assert_eq!(convert(&c), model_with(&c.matrix, &c.pairs, &labels, &c.options));
    }
}

/// The model's allele options on a worked example: `n` upper-cased to `N`, `.` missing.
#[test]
fn model_reads_missing_characters_and_upper_cases() {
    let o = Options {
        missing: vec!['N', '.'],
        uppercase: true,
    };
    let out = model_with(
        "c\t1\ta-\tn.\t.\tg",
        &[(3, 4)],
        &[("a".into(), "b".into())],
        &o,
    );
    assert_eq!(out.lines().nth(1).unwrap(), "c\t1\tA-\tN.,G\tc\tAA-AA-|AA-");
}

/// The model itself on an example of the two replacements (N, then -).
#[test]
fn model_replaces_n_then_dash() {
    let out = model("c\t1\tA-\tN\tA", &[(3, 4)], &[("a".into(), "b".into())]);
    assert_eq!(out.lines().nth(1).unwrap(), "c\t1\tA-\tA\tc\tAA-|A");
}
