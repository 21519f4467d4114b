//! The memory ceiling, judged by the real process's peak RSS: a generated matrix of a few
//! hundred MB, and interleaved contigs through stdin, under `--memory-limit 32MiB`.

use std::path::Path;

use crate::helper::{generate, hapflow, run, Outcome};

const LIMIT: u64 = 32 << 20;

/// The peak the binary reports for itself (`VmHWM`) in its summary line.
fn reported_peak(o: &Outcome) -> f64 {
    let mib = o
        .stderr
        .split("peak memory ")
        .nth(1)
        .expect("a summary line");
    mib.trim()
        .trim_end_matches("MiB")
        .trim()
        .parse::<f64>()
        .unwrap()
        * (1 << 20) as f64
}

fn convert_under_limit(input_args: &[&str], stdin: Option<&Path>, out: &Path) -> Outcome {
    let o = run(
        hapflow()
            .args(["convert", "--memory-limit", "32MiB"])
            .args(input_args)
            .arg("-o")
            .arg(out),
        stdin,
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(
        o.max_rss <= LIMIT,
        "peak RSS {} > 32 MiB: {}",
        o.max_rss,
        o.stderr
    );
    assert!(reported_peak(&o) <= LIMIT as f64, "{}", o.stderr);
    o
}

/// Sizes that fit CI: 200 MiB plain, 60 MiB interleaved. See the ignored test below for
/// the question-sized matrix and three copies of it through stdin.
#[test]
fn a_200_mib_matrix_and_interleaved_stdin_stay_under_32_mib() {
    let dir = tempfile::tempdir().unwrap();
    let (m, out) = (dir.path().join("m.txt"), dir.path().join("out.txt"));
    generate(&m, &["--size", "200MiB", "--contigs", "4"]);
    let o = convert_under_limit(&[m.to_str().unwrap()], None, &out);
    assert!(o.stderr.contains(" 4 contigs,"), "{}", o.stderr);
    let plain_out = std::fs::metadata(&out).unwrap().len();
    assert!(plain_out > 50 << 20, "{plain_out}");

    let il = dir.path().join("il.txt");
    generate(
        &il,
        &[
            "--size",
            "60MiB",
            "--contigs",
            "16",
            "--interleave",
            "100",
            "--seed",
            "3",
        ],
    );
    let o = convert_under_limit(&["-"], Some(&il), &out);
    assert!(
        o.stderr.contains(" 16 contigs (regrouped),"),
        "{}",
        o.stderr
    );
    // Streamed, not read whole: the test process must stay small while it spawns (see
    // helper::run).
    let mut seen = Vec::new();
    let reader = std::io::BufReader::new(std::fs::File::open(&out).unwrap());
    for line in std::io::BufRead::lines(reader).skip(1) {
        let line = line.unwrap();
        let contig = line.split('\t').next().unwrap();
        if seen.last().map(String::as_str) != Some(contig) {
            assert!(
                !seen.iter().any(|c| c == contig),
                "{contig} split in two blocks"
            );
            seen.push(contig.to_string());
        }
    }
    assert_eq!(seen.len(), 16);
}

/// BGZF input inflated by a thread pool (here 6 threads, more than the cores) still stays
/// under the limit: its blocks in flight are counted in the budget. The output equals the
/// plain input's.
#[test]
fn bgzf_inflated_by_many_threads_stays_under_32_mib() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, bgz) = (dir.path().join("m.txt"), dir.path().join("m.txt.gz"));
    generate(
        &plain,
        &["--size", "60MiB", "--contigs", "3", "--seed", "5"],
    );
    generate(
        &bgz,
        &[
            "--size",
            "60MiB",
            "--contigs",
            "3",
            "--seed",
            "5",
            "--bgzip",
        ],
    );
    let (a, b) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
    convert_under_limit(&[plain.to_str().unwrap()], None, &a);
    convert_under_limit(&["--threads", "6", bgz.to_str().unwrap()], None, &b);
    assert!(
        std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
        "BGZF and plain outputs differ"
    );
}

/// The README's figure: a 290 MB question-sized matrix, and three concatenated copies of it
/// through stdin, at or under 32 MiB. Run with
/// `cargo test --release --test integration -- --ignored question_sized`.
#[test]
#[ignore = "about 1.2 GB of disk and a minute; run by hand or in benchmarks"]
fn question_sized_matrix_and_three_copies_through_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let (m, out) = (dir.path().join("q.txt"), dir.path().join("out.txt"));
    generate(&m, &["--size", "290MiB", "--contigs", "4"]);
    convert_under_limit(&[m.to_str().unwrap()], None, &out);
    let single = std::fs::metadata(&out).unwrap().len();
    let header =
        std::io::BufRead::lines(std::io::BufReader::new(std::fs::File::open(&out).unwrap()))
            .next()
            .unwrap()
            .unwrap()
            .len() as u64
            + 1;

    let three = dir.path().join("q3.txt");
    {
        let mut f = std::fs::File::create(&three).unwrap();
        for _ in 0..3 {
            std::io::copy(&mut std::fs::File::open(&m).unwrap(), &mut f).unwrap();
        }
    }
    let o = convert_under_limit(&["-"], Some(&three), &out);
    assert!(o.stderr.contains("(regrouped)"), "{}", o.stderr);
    // Each row three times over, under one header.
    let tripled = std::fs::metadata(&out).unwrap().len();
    assert_eq!(tripled, 3 * single - 2 * header);
}

/// Every format, plain and BGZF (levels 1 and 6, and libdeflate's hungriest, 12, for VCF),
/// under 32 MiB, on
/// a plain matrix and on interleaved contigs (the regrouping pass, which for BGZF inflates,
/// regroups and compresses again), to a file and to stdout.
#[test]
fn every_format_and_compression_stays_under_32_mib() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m.txt");
    generate(&m, &["--size", "40MiB", "--contigs", "4", "--seed", "9"]);
    let il = dir.path().join("il.txt");
    generate(
        &il,
        &[
            "--size",
            "16MiB",
            "--contigs",
            "8",
            "--interleave",
            "200",
            "--seed",
            "4",
        ],
    );
    for format in ["table", "phase-extender", "vcf"] {
        // Plain output takes no level (--compress-level is refused there).
        let mut levels = vec![
            ("out.txt", None),
            ("out.gz", Some("1")),
            ("out.gz", Some("6")),
        ];
        if format == "vcf" {
            levels.push(("out.gz", Some("12")));
        }
        for (name, level) in levels {
            let out = dir.path().join(name);
            for input in [&m, &il] {
                let mut args = vec!["--format", format];
                if let Some(level) = level {
                    args.extend(["--compress-level", level]);
                }
                args.push(input.to_str().unwrap());
                let o = convert_under_limit(&args, None, &out);
                assert!(
                    std::fs::metadata(&out).unwrap().len() > 100 << 10,
                    "{}",
                    o.stderr
                );
            }
        }
        let o = run(
            hapflow()
                .args([
                    "convert",
                    "--memory-limit",
                    "32MiB",
                    "--compress",
                    "bgzf",
                    "--format",
                    format,
                ])
                .arg(&m),
            None,
        );
        assert_eq!(o.code, Some(0), "{}", o.stderr);
        assert!(
            o.max_rss <= LIMIT,
            "stdout {format}: peak RSS {} > 32 MiB",
            o.max_rss
        );
    }
}
