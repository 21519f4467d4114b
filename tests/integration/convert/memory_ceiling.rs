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

/// Writes a FASTA index (`.fai`) listing `contigs` (name, length) and then `extra` more
/// scaffolds named `scaffold_` and a number padded to `name_len` bytes, streaming.
fn write_fai(path: &Path, contigs: &[(&str, u64)], extra: usize, name_len: usize) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for (name, length) in contigs {
        writeln!(f, "{name}\t{length}\t0\t60\t61").unwrap();
    }
    for i in 0..extra {
        let number = format!("{i}");
        let name = format!("scaffold_{number:0>w$}", w = name_len - "scaffold_".len());
        writeln!(f, "{name}\t{}\t{}\t60\t61", 1000 + i, i * 100).unwrap();
    }
    f.flush().unwrap();
}

/// True when the two files hold the same bytes (read a block at a time).
fn same_bytes(a: &Path, b: &Path) -> bool {
    use std::io::Read;
    let (mut a, mut b) = (
        std::fs::File::open(a).unwrap(),
        std::fs::File::open(b).unwrap(),
    );
    let (mut x, mut y) = (vec![0u8; 64 << 10], vec![0u8; 64 << 10]);
    loop {
        let n = a.read(&mut x).unwrap();
        let mut m = 0;
        while m < n {
            match b.read(&mut y[m..n]).unwrap() {
                0 => return false,
                k => m += k,
            }
        }
        if n == 0 {
            return b.read(&mut y).unwrap() == 0;
        }
        if x[..n] != y[..n] {
            return false;
        }
    }
}

/// A FASTA index of hundreds of thousands of contigs (a scaffold-level assembly) is held
/// within the memory limit: a 300,000-line index converts under 32 MiB, the process's peak
/// RSS included; one whose names take more than the limit is refused before any work, as a
/// configuration error saying what the index needs and the least limit that holds it; and
/// under that limit it converts, to the same VCF.
#[test]
fn a_fasta_index_of_300000_contigs_is_held_within_the_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = d.join("m.txt");
    generate(&m, &["--size", "12MiB", "--contigs", "4", "--seed", "7"]);
    let contigs = [
        ("chr1", 10_000_000),
        ("chr2", 10_000_000),
        ("chr3", 10_000_000),
        ("chr4", 10_000_000),
    ];
    let vcf = |fai: &Path, limit: &str, out: &Path| {
        run(
            hapflow()
                .args(["convert", "--format", "vcf", "--memory-limit", limit])
                .arg("--fai")
                .arg(fai)
                .arg(&m)
                .arg("-o")
                .arg(out),
            None,
        )
    };

    // Short names: about 10 MB held, the chunks make room for it.
    let short = d.join("short.fai");
    write_fai(&short, &contigs, 300_000, 16);
    let first = d.join("short.vcf");
    let o = vcf(&short, "32MiB", &first);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.max_rss <= LIMIT, "peak RSS {} > 32 MiB", o.max_rss);
    let head = std::fs::read(&first).unwrap();
    let head = String::from_utf8_lossy(&head[..4096]);
    assert!(
        head.contains("##contig=<ID=chr1,length=10000000>\n")
            && head.contains("##contig=<ID=chr4,length=10000000>\n")
            && !head.contains("scaffold_"),
        "{head}"
    );

    // Names of 100 bytes: 300,000 of them and their table need more than the whole limit.
    let long = d.join("long.fai");
    write_fai(&long, &contigs, 300_000, 100);
    let out = d.join("long.vcf");
    let o = vcf(&long, "32MiB", &out);
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(o.max_rss <= LIMIT, "peak RSS {} > 32 MiB", o.max_rss);
    for needle in [
        "memory limit too small: the FASTA index",
        "long.fai (--fai, 300004 contigs) needs 33.",
        "MiB, not 32MiB",
    ] {
        assert!(o.stderr.contains(needle), "{needle:?} not in: {}", o.stderr);
    }
    assert!(!out.exists(), "a refused run leaves no output");
    let least = o.stderr.split("at least ").nth(1).expect("the least limit");
    let least = &least[..least.find("MiB").unwrap() + 3];
    let mib: u64 = least.trim_end_matches("MiB").parse().unwrap();
    let o = vcf(&long, least, &out);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.max_rss <= mib << 20, "peak RSS {} > {least}", o.max_rss);
    assert!(same_bytes(&first, &out), "the VCFs differ");
}
