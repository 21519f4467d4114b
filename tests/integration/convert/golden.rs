//! Golden tests: the real binary against the reference script's committed outputs, on
//! small matrices of every input shape (see scripts/make_golden.sh, which made them).

use crate::helper::{assert_same_conversion, data, hapflow, read_matrix, run};

fn check(case: &str, file: &str) {
    let input = data(&format!("golden/{case}/{file}"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.txt");
    let o = run(
        hapflow()
            .args(["convert", "-q", "--header"])
            .arg(data("golden/header.txt"))
            .arg(&input)
            .arg("-o")
            .arg(&out),
        None,
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let ours = std::fs::read_to_string(&out).unwrap();
    let reference = std::fs::read_to_string(data(&format!("golden/{case}/reference.txt"))).unwrap();
    assert_same_conversion(&read_matrix(&input), &ours, &reference);
}

#[test]
fn plain() {
    check("plain", "input.txt");
}

#[test]
fn odd_alleles() {
    check("odd_alleles", "input.txt");
}

#[test]
fn header_line() {
    check("header_line", "input.txt");
}

#[test]
fn unsorted_contig_names() {
    check("unsorted_names", "input.txt");
}

#[test]
fn interleaved_contigs() {
    check("interleaved", "input.txt");
}

#[test]
fn crlf_line_ends() {
    check("crlf", "input.txt");
}

#[test]
fn gzip() {
    check("gzip", "input.txt.gz");
}

#[test]
fn bgzip_multi_member() {
    check("bgzip", "input.txt.gz");
}

#[test]
fn two_thousand_scaffolds_interleaved() {
    check("scaffolds_2000", "input.txt");
}

/// The golden inputs are what the generator makes today: if the generator changes, the
/// fixtures must be made again (scripts/make_golden.sh), not silently diverge.
#[test]
fn fixtures_match_the_generator() {
    for case in ["plain", "odd_alleles", "interleaved", "scaffolds_2000"] {
        let args = std::fs::read_to_string(data(&format!("golden/{case}/generate.args"))).unwrap();
        let o = run(
            hapflow().arg("generate").args(args.split_whitespace()),
            None,
        );
        assert_eq!(o.code, Some(0), "{}", o.stderr);
        let committed = std::fs::read(data(&format!("golden/{case}/input.txt"))).unwrap();
        assert!(
            o.stdout == committed,
            "{case}: the generator no longer makes this fixture"
        );
    }
}
