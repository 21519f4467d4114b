//! The output formats through the real binary: phase-extender's table, VCF checked by the
//! field's own tools (bcftools, tabix, plink2), and BGZF for every format.

use crate::helper;

use std::path::Path;

use crate::helper::{data, hapflow, run, Outcome};

pub(crate) fn convert(args: &[&str], stdin: Option<&Path>) -> Outcome {
    run(hapflow().arg("convert").args(args), stdin)
}

pub(crate) fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub(crate) fn ok(o: Outcome) -> Outcome {
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    o
}

/// phase-extender reads `CHROM POS REF all-alleles <sample>:PI <sample>:PG_al`, the pair's
/// name being the sample it asks for; the rows are the table's with REF first in all-alleles.
#[test]
fn phase_extender_header_names_samples_and_all_alleles_start_with_ref() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[[pair]]\nname = \"NA12891\"\nfirst = { label = \"NA12891_a\", column = \"s1\" }\nsecond = { label = \"NA12891_b\", column = \"s2\" }\n\
         [[pair]]\nfirst = { label = \"x\", column = \"s3\" }\nsecond = { label = \"y\", column = \"s4\" }\n",
    )
    .unwrap();
    let matrix = dir.path().join("m.txt");
    std::fs::write(
        &matrix,
        "CHROM\tPOS\tREF\ts1\ts2\ts3\ts4\n\
         20\t9795\tG\tT\tG\tN\tG\n\
         20\t9800\tA\tA\tA\tA\tN\n\
         20\t11244\tA\tC\t-\tA\tA\n",
    )
    .unwrap();
    let c = path(&config);
    let table = ok(convert(&["-q", "--config", c, path(&matrix)], None)).stdout;
    let pe = ok(convert(
        &[
            "-q",
            "--config",
            c,
            "--format",
            "phase-extender",
            path(&matrix),
        ],
        None,
    ))
    .stdout;
    assert_eq!(
        String::from_utf8(table).unwrap(),
        "contig\tpos\tref\talt\tNA12891_PI\tNA12891_PG_al\txy_PI\txy_PG_al\n\
         20\t9795\tG\tT\t20\tT|G\t20\tG|G\n\
         20\t11244\tA\tC,-\t20\tC|A\t20\tA|A\n"
    );
    assert_eq!(
        String::from_utf8(pe).unwrap(),
        "CHROM\tPOS\tREF\tall-alleles\tNA12891:PI\tNA12891:PG_al\txy:PI\txy:PG_al\n\
         20\t9795\tG\tG,T\t20\tT|G\t20\tG|G\n\
         20\t11244\tA\tA,C,-\t20\tC|A\t20\tA|A\n"
    );
    // The config key says the same as the flag.
    std::fs::write(
        &config,
        std::fs::read_to_string(&config).unwrap() + "[output]\nformat = \"phase-extender\"\n",
    )
    .unwrap();
    let by_config = ok(convert(&["-q", "--config", c, path(&matrix)], None)).stdout;
    assert!(by_config.starts_with(b"CHROM\tPOS\tREF\tall-alleles\tNA12891:PI"));
}

/// On a generated matrix the phase-extender rows are the table's, with REF put first in
/// the fourth column.
#[test]
fn phase_extender_rows_are_the_tables_with_ref_first() {
    let input = data("golden/plain/input.txt");
    let table = String::from_utf8(ok(convert(&["-q", path(&input)], None)).stdout).unwrap();
    let pe = String::from_utf8(
        ok(convert(
            &["-q", "--format", "phase-extender", path(&input)],
            None,
        ))
        .stdout,
    )
    .unwrap();
    let (t, p): (Vec<&str>, Vec<&str>) = (table.lines().collect(), pe.lines().collect());
    assert_eq!(t.len(), p.len());
    assert!(t.len() > 100);
    for (t, p) in t.iter().zip(&p).skip(1) {
        let (t, p): (Vec<&str>, Vec<&str>) = (t.split('\t').collect(), p.split('\t').collect());
        assert_eq!(p[3], format!("{},{}", t[2], t[3]));
        assert_eq!((&t[..3], &t[4..]), (&p[..3], &p[4..]));
    }
}

/// A tool of the field (bcftools, bgzip, plink2...): its path, or None when it is not
/// installed and CI is not set, said loudly. In CI a missing tool fails the test.
pub(crate) fn tool(name: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is not installed (apt-get install -y bcftools tabix plink2): CI needs it"
        );
        eprintln!("SKIPPED: {name} is not installed; install it to run this test");
    }
    found
}

/// Runs a tool; returns its stdout, failing on a non-zero exit or on any htslib error or
/// warning on stderr (bcftools drops a bad record, says `[E::` or `[W::`, and exits 0).
pub(crate) fn checked(cmd: &mut std::process::Command) -> Vec<u8> {
    let o = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{cmd:?} failed: {stderr}");
    assert!(
        !stderr.contains("[E::") && !stderr.contains("[W::"),
        "{cmd:?} complained: {stderr}"
    );
    o.stdout
}

pub(crate) fn inflate(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    noodles_bgzf::io::Reader::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

pub(crate) fn generated(dir: &Path, name: &str, args: &[&str]) -> std::path::PathBuf {
    let p = dir.join(name);
    helper::generate(&p, args);
    p
}

/// BGZF output inflates to the plain output byte for byte, for every format, for files
/// (by flag and by a .gz name) and stdout, with contigs in one stretch each or interleaved
/// (regrouped), and ends with the end-of-file block that bgzip -t checks for.
#[test]
fn bgzf_output_inflates_to_the_plain_output_for_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = [
        generated(dir.path(), "plain.txt", &["--size", "3MiB", "--seed", "3"]),
        generated(
            dir.path(),
            "interleaved.txt",
            &[
                "--size",
                "3MiB",
                "--contigs",
                "5",
                "--interleave",
                "40",
                "--seed",
                "4",
            ],
        ),
    ];
    let bgzip = tool("bgzip");
    for input in &inputs {
        for format in ["table", "phase-extender", "vcf"] {
            let args = |more: &[&str]| {
                let mut a = vec!["-q", "--format", format, "--memory-limit", "24MiB"];
                a.extend_from_slice(more);
                a.push(path(input));
                a.into_iter().map(String::from).collect::<Vec<_>>()
            };
            let plain_out = dir.path().join("o.txt");
            let gz = dir.path().join("o.txt.gz");
            ok(convert(&as_str(&args(&["-o", path(&plain_out)])), None));
            ok(convert(&as_str(&args(&["-o", path(&gz)])), None));
            let plain = std::fs::read(&plain_out).unwrap();
            let packed = std::fs::read(&gz).unwrap();
            assert!(plain.len() > 1000, "{format}");
            assert!(packed.len() < plain.len() / 3, "{format}: compressed");
            assert!(packed.ends_with(&hapflow::testing::bgzf::EOF));
            assert_eq!(inflate(&packed), plain, "{format} {}", input.display());
            let stdout = ok(convert(&as_str(&args(&["--compress", "bgzf"])), None)).stdout;
            assert_eq!(stdout, packed, "stdout and file agree");
            if let Some(bgzip) = &bgzip {
                checked(std::process::Command::new(bgzip).arg("-t").arg(&gz));
            }
        }
    }
}

fn as_str(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The VCF mapping of one matrix line, as `bcftools query -f
/// '%CHROM\t%POS\t%REF\t%ALT[\t%TGT]\n'` prints it; None when the line makes no record.
fn expected_query_line(line: &str, pairs: &[(usize, usize)]) -> Option<String> {
    let f: Vec<&str> = line.split('\t').collect();
    let vcf = |a: &str| match a {
        "N" => ".".to_string(),
        "-" => "*".to_string(),
        a => a.to_ascii_uppercase(),
    };
    let reference = f[2].to_ascii_uppercase();
    let mut alt: Vec<String> = Vec::new();
    for a in &f[3..] {
        let a = vcf(a);
        if a != "." && a != reference && !alt.contains(&a) {
            alt.push(a);
        }
    }
    if alt.is_empty() {
        return None;
    }
    let mut row = format!("{}\t{}\t{reference}\t{}", f[0], f[1], alt.join(","));
    for &(x, y) in pairs {
        row += &format!("\t{}|{}", vcf(f[x]), vcf(f[y]));
    }
    Some(row + "\n")
}

/// The reference FASTA a matrix implies: each contig's REF column, position by position
/// (a generated matrix has every position, from 1).
fn reference_fasta(matrix: &str, fa: &Path) {
    let mut contigs: Vec<(String, String)> = Vec::new();
    for line in matrix.lines() {
        let f: Vec<&str> = line.splitn(4, '\t').collect();
        if contigs.last().is_none_or(|c| c.0 != f[0]) {
            contigs.push((f[0].to_string(), String::new()));
        }
        let seq = &mut contigs.last_mut().unwrap().1;
        assert_eq!(
            f[1].parse::<usize>().unwrap(),
            seq.len() + 1,
            "a generated matrix has every position"
        );
        seq.push_str(f[2]);
    }
    let mut text = String::new();
    for (name, seq) in contigs {
        text += &format!(">{name}\n");
        for piece in seq.as_bytes().chunks(60) {
            text += std::str::from_utf8(piece).unwrap();
            text.push('\n');
        }
    }
    std::fs::write(fa, text).unwrap();
}

/// The VCF as the field's tools read it: bgzip -t, bcftools view (to BCF), norm's REF check
/// against the matrix's own reference, bcftools index and tabix, a bcftools query round
/// trip equal to the matrix under the VCF mapping, and plink2's import of half-calls.
/// Any htslib error or warning fails the test.
#[test]
fn vcf_is_read_by_bcftools_tabix_and_plink2_as_the_matrix_says() {
    let (Some(bcftools), Some(bgzip), Some(tabix)) =
        (tool("bcftools"), tool("bgzip"), tool("tabix"))
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let matrix = generated(
        d,
        "m.txt",
        &["--size", "4MiB", "--contigs", "3", "--seed", "11"],
    );
    let text = std::fs::read_to_string(&matrix).unwrap();
    let vcf_gz = d.join("m.vcf.gz");
    let vcf = d.join("m.vcf");
    ok(convert(
        &["-q", "--format", "vcf", path(&matrix), "-o", path(&vcf_gz)],
        None,
    ));
    ok(convert(
        &["-q", "--format", "vcf", path(&matrix), "-o", path(&vcf)],
        None,
    ));
    assert_eq!(
        inflate(&std::fs::read(&vcf_gz).unwrap()),
        std::fs::read(&vcf).unwrap()
    );

    checked(std::process::Command::new(&bgzip).arg("-t").arg(&vcf_gz));
    let bcf = d.join("m.bcf");
    checked(
        std::process::Command::new(&bcftools)
            .args(["view", "-Ob", "-o"])
            .arg(&bcf)
            .arg(&vcf),
    );
    checked(
        std::process::Command::new(&bcftools)
            .args(["view", "-Ob", "-o"])
            .arg(&bcf)
            .arg(&vcf_gz),
    );
    let fa = d.join("ref.fa");
    reference_fasta(&text, &fa);
    checked(
        std::process::Command::new(&bcftools)
            .args(["norm", "--check-ref", "e", "-f"])
            .arg(&fa)
            .args(["-Ou", "-o", "/dev/null"])
            .arg(&vcf_gz),
    );
    checked(
        std::process::Command::new(&bcftools)
            .args(["index", "-f"])
            .arg(&vcf_gz),
    );
    checked(
        std::process::Command::new(&tabix)
            .args(["-f", "-p", "vcf"])
            .arg(&vcf_gz),
    );
    let region = checked(
        std::process::Command::new(&tabix)
            .arg(&vcf_gz)
            .arg("chr2:100-2000"),
    );
    assert!(!region.is_empty(), "tabix finds records by region");

    let query = checked(
        std::process::Command::new(&bcftools)
            .args(["query", "-f", "%CHROM\\t%POS\\t%REF\\t%ALT[\\t%TGT]\\n"])
            .arg(&vcf_gz),
    );
    let pairs: Vec<(usize, usize)> = hapflow::testing::DEFAULT_LAYOUT
        .iter()
        .map(|&(_, a, _, b)| (a, b))
        .collect();
    let expected: String = text
        .lines()
        .filter_map(|l| expected_query_line(l, &pairs))
        .collect();
    assert!(expected.lines().count() > 1000);
    assert_eq!(String::from_utf8(query).unwrap(), expected);

    // The header's samples are the pairs' names.
    let samples = checked(
        std::process::Command::new(&bcftools)
            .args(["query", "-l"])
            .arg(&vcf_gz),
    );
    assert!(String::from_utf8(samples)
        .unwrap()
        .starts_with("10a10b\n13a13b\n"));

    if let Some(plink2) = tool("plink2") {
        let o = std::process::Command::new(plink2)
            .arg("--vcf")
            .arg(&vcf_gz)
            .args(["--vcf-half-call", "m", "--make-pgen", "--out"])
            .arg(d.join("p"))
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "plink2: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        let pvar = std::fs::read_to_string(d.join("p.pvar")).unwrap();
        assert_eq!(
            pvar.lines().filter(|l| !l.starts_with('#')).count(),
            expected.lines().count()
        );
    }
}

/// A VCF from interleaved contigs is regrouped and still indexes; --fai puts lengths in
/// the contig lines, and a contig the index lacks is refused.
#[test]
fn vcf_from_interleaved_contigs_indexes_and_takes_lengths_from_a_fai() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let matrix = generated(
        d,
        "m.txt",
        &[
            "--size",
            "2MiB",
            "--contigs",
            "3",
            "--interleave",
            "25",
            "--seed",
            "5",
        ],
    );
    let fai = d.join("ref.fa.fai");
    std::fs::write(
        &fai,
        "chr1\t900000\t6\t60\t61\nchr2\t800000\t9\t60\t61\nchr3\t700000\t12\t60\t61\n",
    )
    .unwrap();
    let out = d.join("m.vcf.gz");
    ok(convert(
        &[
            "-q",
            "--format",
            "vcf",
            "--fai",
            path(&fai),
            path(&matrix),
            "-o",
            path(&out),
        ],
        None,
    ));
    let text = String::from_utf8(inflate(&std::fs::read(&out).unwrap())).unwrap();
    assert!(text.contains("##contig=<ID=chr1,length=900000>\n##contig=<ID=chr2,length=800000>\n##contig=<ID=chr3,length=700000>\n"));
    let chroms: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    let mut grouped = chroms.clone();
    grouped.dedup();
    assert_eq!(
        grouped,
        ["chr1", "chr2", "chr3"],
        "records grouped by contig"
    );
    if let Some(bcftools) = tool("bcftools") {
        checked(
            std::process::Command::new(bcftools)
                .args(["index", "-f"])
                .arg(&out),
        );
    }
    std::fs::write(&fai, "chr1\t900000\t6\t60\t61\n").unwrap();
    let o = convert(
        &[
            "-q",
            "--format",
            "vcf",
            "--fai",
            path(&fai),
            path(&matrix),
            "-o",
            path(&out),
        ],
        None,
    );
    assert_eq!(o.code, Some(2));
    assert!(
        o.stderr.contains("\"chr2\" is not in the FASTA index"),
        "{}",
        o.stderr
    );
}

/// The VCF header lists every contig before the records. For an uncompressed file it is
/// written first, from the contigs guessed by bisection before the conversion; for stdin
/// or a compressed file, or when the guess proves wrong (a header line repeated inside
/// matrices joined with `cat`), it is made at the end and the records copied after it.
/// Every way gives the same bytes, plain and BGZF.
#[test]
fn the_vcf_is_the_same_whether_its_header_is_written_first_or_last() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let matrix = generated(
        d,
        "m.txt",
        &[
            "--size",
            "3MiB",
            "--contigs",
            "40",
            "--prefix",
            "scaffold_",
            "--header-line",
            "--seed",
            "8",
        ],
    );
    let text = std::fs::read_to_string(&matrix).unwrap();
    let (header, rows) = text.split_at(text.find('\n').unwrap() + 1);
    // Joined with `cat` halfway: the second file's header line comes mid-contig.
    let half = rows[..rows.len() / 2].rfind('\n').unwrap() + 1;
    let joined = d.join("joined.txt");
    std::fs::write(
        &joined,
        format!("{header}{}{header}{}", &rows[..half], &rows[half..]),
    )
    .unwrap();
    let gz = d.join("m.txt.gz");
    checked(std::process::Command::new("sh").arg("-c").arg(format!(
        "gzip -c {} > {}",
        path(&matrix),
        path(&gz)
    )));
    for compress in [&[][..], &["--compress", "bgzf"][..]] {
        let vcf = |input: &Path, stdin: bool| {
            let mut args = vec!["-q", "--format", "vcf"];
            args.extend_from_slice(compress);
            args.push(if stdin { "-" } else { path(input) });
            ok(convert(&args, stdin.then_some(input))).stdout
        };
        let first = vcf(&matrix, false);
        let plain = match compress.is_empty() {
            true => first.clone(),
            false => inflate(&first),
        };
        let plain = String::from_utf8(plain).unwrap();
        let contigs = helper::contig_order(&text).len();
        assert!(contigs > 30, "{contigs}");
        assert_eq!(plain.matches("##contig=<ID=scaffold_").count(), contigs);
        assert!(plain
            .lines()
            .nth(2)
            .unwrap()
            .starts_with("##contig=<ID=scaffold_000001>"));
        assert_eq!(vcf(&matrix, true), first, "stdin {compress:?}");
        assert_eq!(vcf(&gz, false), first, "gzip {compress:?}");
        // The extra line moves where chunks, and so BGZF blocks, end: compare the text.
        let joined = vcf(&joined, false);
        match compress.is_empty() {
            true => assert_eq!(joined, first),
            false => assert_eq!(inflate(&joined), plain.as_bytes(), "joined, BGZF"),
        }
    }
}

/// An allele VCF cannot carry, and a POS that falls on a contig, are
/// bad input naming the line; no output is left.
#[test]
fn vcf_refuses_odd_alleles_and_unsorted_positions_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = d.join("m.txt");
    std::fs::write(
        &m,
        "CHROM\tPOS\tREF\ts1\ts2\nc\t1\tA\tA\tC\nc\t2\tA\tR\tC\n",
    )
    .unwrap();
    let config = d.join("c.toml");
    std::fs::write(
        &config,
        "[[pair]]\nfirst = { label = \"a\", column = 3 }\nsecond = { label = \"b\", column = 4 }\n",
    )
    .unwrap();
    let c = path(&config);
    let out = d.join("o.vcf");
    let o = convert(
        &[
            "-q",
            "--config",
            c,
            "--format",
            "vcf",
            path(&m),
            "-o",
            path(&out),
        ],
        None,
    );
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(
        o.stderr.contains("line 3")
            && o.stderr.contains("column 3 (s1)")
            && o.stderr.contains("\"R\""),
        "{}",
        o.stderr
    );
    // The table takes the same matrix.
    ok(convert(
        &["-q", "--config", c, path(&m), "-o", path(&out)],
        None,
    ));
    std::fs::remove_file(&out).unwrap();

    let mut text = String::new();
    for pos in 1..=40_000u32 {
        text += &format!("c\t{pos}\tA\tA\tC\n");
    }
    text += "c\t39999\tA\tG\tC\n";
    std::fs::write(&m, &text).unwrap();
    let o = convert(
        &[
            "-q",
            "--config",
            c,
            "--format",
            "vcf",
            "--memory-limit",
            "24MiB",
            path(&m),
            "-o",
            path(&out),
        ],
        None,
    );
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(
        o.stderr.contains("line 40001") && o.stderr.contains("POS 39999 comes after POS 40000"),
        "{}",
        o.stderr
    );
    assert!(!out.exists());

    // POS 0 (tabix warns "Coordinate <= 0") and a genotype in REF, on the one-letter fast
    // path (after a row of the same contig) and on the general path (a first row): refused
    // for VCF, by line, as the table refuses the genotype.
    for (rows, line, cause) in [
        (
            "c\t1\tA\tA\tC\nc\t0\tA\tA\tC\n",
            "line 3",
            "POS 0 cannot be written in VCF",
        ),
        (
            "c\t0\tA\tA\tC\n",
            "line 2",
            "POS 0 cannot be written in VCF",
        ),
        (
            "c\t1\tA\tA\tC\nc\t2\tC/T\tN\tN\n",
            "line 3",
            "REF holds \"C/T\", a genotype",
        ),
    ] {
        std::fs::write(&m, format!("CHROM\tPOS\tREF\ts1\ts2\n{rows}")).unwrap();
        let o = convert(
            &[
                "-q",
                "--config",
                c,
                "--format",
                "vcf",
                path(&m),
                "-o",
                path(&out),
            ],
            None,
        );
        assert_eq!(o.code, Some(2), "{rows:?}: {}", o.stderr);
        assert!(
            o.stderr.contains(line) && o.stderr.contains(cause),
            "{rows:?}: {}",
            o.stderr
        );
        assert!(!out.exists());
    }
}

/// Writes `text` as a matrix with one pair (columns 3 and 4) and converts it to VCF:
/// the outcome, and whether an output was left.
fn vcf_of(dir: &Path, text: &str, more: &[&str]) -> (Outcome, bool) {
    let (m, config, out) = (dir.join("m.txt"), dir.join("c.toml"), dir.join("o.vcf"));
    std::fs::write(&m, text).unwrap();
    std::fs::write(
        &config,
        "[[pair]]\nfirst = { label = \"a\", column = 3 }\nsecond = { label = \"b\", column = 4 }\n",
    )
    .unwrap();
    let _ = std::fs::remove_file(&out);
    let mut args = vec!["-q", "--config", path(&config), "--format", "vcf"];
    args.extend_from_slice(more);
    args.extend([path(&m), "-o", path(&out)]);
    let o = convert(&args, None);
    (o, out.exists())
}

fn refused(o: &(Outcome, bool), code: i32, needles: &[&str]) {
    assert_eq!(o.0.code, Some(code), "{}", o.0.stderr);
    for n in needles {
        assert!(o.0.stderr.contains(n), "{n:?} not in: {}", o.0.stderr);
    }
    assert!(!o.1, "no output is left");
}

/// The first record that breaks VCF's sorted order is the one named, also when its contig
/// comes back after another and a later line falls again or holds a bad allele, and
/// whether the fall is within a chunk of the input or across chunks; a left-out row (no
/// ALT) with a lower POS is not a record and is not named.
#[test]
fn vcf_names_the_first_record_out_of_order_when_contigs_interleave() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let small = "c1\t10\tA\tC\tA\nc2\t5\tA\tC\tA\nc1\t3\tA\tC\tA\nc1\t2\tA\tC\tA\n";
    refused(
        &vcf_of(d, small, &[]),
        2,
        &["line 3,", "POS 3 comes after POS 10 on contig c1"],
    );
    let mut long = String::new();
    for pos in 1..=40_000u32 {
        long += &format!("c1\t{pos}\tA\tC\tA\n");
    }
    for pos in 1..=5u32 {
        long += &format!("c2\t{pos}\tA\tC\tA\n");
    }
    // Line 40006 has no record, line 40007 is the first fault.
    long += "c1\t7\tA\tA\tA\nc1\t8\tA\tC\tA\n";
    for (tail, why) in [
        ("c1\t6\tA\tG\tA\n", "a later fall"),
        ("c1\t9\tA\tR\tA\n", "a later bad allele"),
        ("", "nothing after"),
    ] {
        let o = vcf_of(d, &(long.clone() + tail), &["--memory-limit", "24MiB"]);
        assert_eq!(o.0.code, Some(2), "{why}: {}", o.0.stderr);
        assert!(
            o.0.stderr.contains("line 40007,")
                && o.0
                    .stderr
                    .contains("POS 8 comes after POS 40000 on contig c1"),
            "{why}: {}",
            o.0.stderr
        );
        assert!(!o.1);
    }
}

/// A literal `*` in the matrix is refused for VCF, naming line and column: VCF's `*` is how
/// the matrix's `-` is written, and the two would become one ALT. As a missing symbol it is
/// a no-call. The table keeps both as they are.
#[test]
fn vcf_refuses_a_literal_star_that_would_merge_with_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The general path (a contig's first row) and the one-letter fast path (the rows after).
    for (text, line) in [
        ("c\t1\tA\t-\t*\n", "line 1,"),
        ("c\t1\tA\tC\tA\nc\t2\tA\t-\t*\n", "line 2,"),
    ] {
        refused(
            &vcf_of(d, text, &[]),
            2,
            &[
                line,
                "column 4",
                "\"*\" cannot be written in VCF",
                "--missing",
            ],
        );
    }
    let (o, made) = vcf_of(d, "c\t1\tA\tC\tA\nc\t2\tA\t-\t*\n", &["--missing", "N*"]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(made);
    let vcf = std::fs::read_to_string(d.join("o.vcf")).unwrap();
    assert!(
        vcf.ends_with(
            "c\t1\t.\tA\tC\t.\t.\t.\tGT:PS\t1|0:1\nc\t2\t.\tA\t*\t.\t.\t.\tGT:PS\t1|.:1\n"
        ),
        "{vcf}"
    );
    let m = d.join("m.txt");
    let table = ok(convert(
        &["-q", "--config", path(&d.join("c.toml")), path(&m)],
        None,
    ))
    .stdout;
    assert!(String::from_utf8(table)
        .unwrap()
        .ends_with("c\t2\tA\t-,*\tc\tA|*\n"));
}

/// A contig name VCF 4.2 cannot carry as a contig ID (whitespace, a comma, angle brackets,
/// a leading `*` or `=`) is refused at its first line, naming the line and the byte where
/// the name starts (column 0).
#[test]
fn vcf_refuses_contig_names_it_cannot_carry_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for name in ["c 2", "a,b", "<x>", "*x", "=x", "x\"y"] {
        let text = format!("c1\t10\tA\tC\tA\n{name}\t11\tA\tG\tA\n");
        refused(
            &vcf_of(d, &text, &[]),
            2,
            &[
                "line 2, byte offset 12",
                &format!("contig {name:?} cannot be a VCF contig ID"),
            ],
        );
    }
    // A leading `#` makes the line a commented-out row, in every format.
    refused(
        &vcf_of(d, "c1\t10\tA\tC\tA\n#x\t11\tA\tG\tA\n", &[]),
        2,
        &["line 2, byte offset 12", "a comment line"],
    );
    // A line of space-separated fields is named as such (its cause), not as a contig name
    // with spaces; an empty CHROM is named as empty.
    refused(
        &vcf_of(d, "c1\t10\tA\tC\tA\nc1 11 A G A\n", &[]),
        2,
        &["line 2,", "separated by spaces"],
    );
    refused(
        &vcf_of(d, "c1\t10\tA\tC\tA\n\t11\tA\tG\tA\n", &[]),
        2,
        &["line 2,", "empty CHROM"],
    );
    // Allowed by the grammar, and read by bcftools.
    let (o, made) = vcf_of(d, "HLA-A*01:01\t5\tA\tC\tA\n", &[]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(made);
    if let Some(bcftools) = tool("bcftools") {
        checked(
            std::process::Command::new(bcftools)
                .arg("view")
                .arg(d.join("o.vcf")),
        );
    }
}

/// --fai: a record past its contig's length and a contig the index does not list are bad
/// input naming the line; a missing index file is exit 1, as a missing config or header
/// file; a malformed index line is bad input naming the index's line; with a format other
/// than VCF the flag is a usage error.
#[test]
fn fai_lengths_bound_records_and_the_flag_needs_vcf() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fai = d.join("ref.fa.fai");
    std::fs::write(&fai, "c1\t100\t4\t60\t61\nc2\t50\t110\t60\t61\n").unwrap();
    let f = path(&fai);
    let (o, made) = vcf_of(d, "c1\t100\tA\tC\tA\nc2\t50\tA\tC\tA\n", &["--fai", f]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(made);
    // Past the end on the general path (a first row) and on the fast path (a later one).
    for (text, line) in [
        ("c1\t101\tA\tC\tA\n", "line 1,"),
        ("c1\t99\tA\tC\tA\nc1\t101\tA\tC\tA\n", "line 2,"),
        (
            "c1\t99\tA\tC\tA\nc2\t40\tA\tC\tA\nc2\t51\tA\tA\tT\n",
            "line 3,",
        ),
    ] {
        refused(
            &vcf_of(d, text, &["--fai", f]),
            2,
            &[
                line,
                "is past the end of contig",
                "bp long in the FASTA index",
            ],
        );
    }
    refused(
        &vcf_of(d, "c1\t5\tA\tC\tA\nc3\t5\tA\tA\tA\n", &["--fai", f]),
        2,
        &["line 2,", "contig \"c3\" is not in the FASTA index"],
    );
    let missing = d.join("none.fai");
    let o = vcf_of(d, "c1\t5\tA\tC\tA\n", &["--fai", path(&missing)]);
    refused(&o, 1, &["none.fai"]);
    let header = convert(
        &["-q", "--header", path(&missing), path(&d.join("m.txt"))],
        None,
    );
    assert_eq!(header.code, Some(1), "{}", header.stderr);
    std::fs::write(&fai, "c1\t100\t4\t60\t61\nc2 50\n").unwrap();
    refused(
        &vcf_of(d, "c1\t5\tA\tC\tA\n", &["--fai", f]),
        2,
        &["ref.fa.fai: line 2", "not a FASTA index line"],
    );
    for format in ["table", "phase-extender"] {
        let o = convert(
            &[
                "-q",
                "--config",
                path(&d.join("c.toml")),
                "--format",
                format,
                "--fai",
                f,
                path(&d.join("m.txt")),
                "-o",
                path(&d.join("t.txt")),
            ],
            None,
        );
        assert_eq!(o.code, Some(2), "{}", o.stderr);
        assert!(o.stderr.contains("--fai"), "{}", o.stderr);
        assert!(!d.join("t.txt").exists());
    }
}

/// A FASTA index is read twice (measured, then loaded within the memory limit), so it must
/// be a regular file: a FIFO is refused saying so (exit 2, no output), not read once and
/// then waited on for ever.
#[test]
fn a_fai_must_be_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fifo = d.join("used.fai");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a NUL-terminated path in a fresh folder.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    refused(
        &vcf_of(d, "c1\t100\tA\tC\tA\n", &["--fai", path(&fifo)]),
        2,
        &["used.fai is not a regular file", "write it to a file first"],
    );
}

/// A FASTA index may list a contig twice with one length (the records are checked against
/// it); two different lengths for one name are bad input naming the index's line that
/// gives the second, never the last length silently taken.
#[test]
fn a_fai_listing_a_contig_twice_needs_one_length() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fai = d.join("ref.fa.fai");
    let f = path(&fai);
    std::fs::write(
        &fai,
        "c1\t100\t4\t60\t61\nc2\t50\t110\t60\t61\nc1\t100\t4\t60\t61\n",
    )
    .unwrap();
    let (o, made) = vcf_of(d, "c1\t100\tA\tC\tA\n", &["--fai", f]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(made);
    let vcf = std::fs::read_to_string(d.join("o.vcf")).unwrap();
    assert!(vcf.contains("##contig=<ID=c1,length=100>\n"), "{vcf}");
    refused(
        &vcf_of(d, "c1\t101\tA\tC\tA\n", &["--fai", f]),
        2,
        &["is past the end of contig c1, 100 bp long"],
    );

    for (index, line) in [
        (
            "c1\t100\t4\t60\t61\nc2\t50\t110\t60\t61\nc1\t120\t170\t60\t61\n",
            "line 3,",
        ),
        (
            "c1\t120\t4\t60\t61\nc1\t120\t4\t60\t61\n\nc1\t100\t4\t60\t61\n",
            "line 4,",
        ),
    ] {
        std::fs::write(&fai, index).unwrap();
        // Whichever length the records would keep to.
        for text in ["c1\t100\tA\tC\tA\n", "c1\t110\tA\tC\tA\n"] {
            refused(
                &vcf_of(d, text, &["--fai", f]),
                2,
                &[
                    &format!("ref.fa.fai: {line}"),
                    "contig \"c1\" is listed again with another length",
                ],
            );
        }
    }
}

/// The output name's `.gz`/`.bgz` means BGZF in any case (`OUT.VCF.GZ`); an explicit
/// compression wins over the name, and `none` with such a name (flag or config) is a
/// contradiction refused before any work.
#[test]
fn output_names_mean_bgzf_in_any_case_and_never_contradict_the_compression() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = generated(d, "m.txt", &["--size", "200KiB", "--seed", "8"]);
    let is_bgzf = |p: &Path| {
        let b = std::fs::read(p).unwrap();
        b.starts_with(&hapflow::testing::bgzf::EOF[..16])
            && b.ends_with(&hapflow::testing::bgzf::EOF)
    };
    for name in ["OUT.VCF.GZ", "o.vcf.Bgz"] {
        let out = d.join(name);
        ok(convert(
            &["-q", "--format", "vcf", path(&m), "-o", path(&out)],
            None,
        ));
        assert!(is_bgzf(&out), "{name}");
        if let Some(bcftools) = tool("bcftools") {
            checked(
                std::process::Command::new(bcftools)
                    .arg("view")
                    .arg("-H")
                    .arg(&out),
            );
        }
    }
    let out = d.join("o.vcf");
    ok(convert(
        &[
            "-q",
            "--format",
            "vcf",
            "--compress",
            "bgzf",
            path(&m),
            "-o",
            path(&out),
        ],
        None,
    ));
    assert!(is_bgzf(&out), "the flag wins over a plain name");
    let config = d.join("c.toml");
    std::fs::write(&config, "[output]\ncompress = \"none\"\n").unwrap();
    for args in [vec!["--compress", "none"], vec!["--config", path(&config)]] {
        for name in ["o.txt.gz", "O.TXT.BGZ"] {
            let out = d.join(name);
            let mut a = vec!["-q"];
            a.extend(&args);
            a.extend([path(&m), "-o", path(&out)]);
            let o = convert(&a, None);
            assert_eq!(o.code, Some(2), "{args:?} {name}: {}", o.stderr);
            assert!(
                o.stderr.contains("means BGZF, but the compression is none"),
                "{}",
                o.stderr
            );
            assert!(!out.exists());
        }
    }
    // A config's bgzf with a plain name: compressed, as the config says.
    std::fs::write(&config, "[output]\ncompress = \"bgzf\"\n").unwrap();
    let out = d.join("t.txt");
    ok(convert(
        &["-q", "--config", path(&config), path(&m), "-o", path(&out)],
        None,
    ));
    assert!(is_bgzf(&out));
}

/// The README's two shell blocks for checking a VCF, run as written (`sh -e`, `hapflow` on
/// PATH) in an empty folder: generate, convert, bgzip -t, bcftools view and index, tabix,
/// query, plink2 (with `--allow-extra-chr`), then a FASTA made from the REF column with
/// awk, checked by `bcftools norm --check-ref e` (which writes `ref.fa.fai`), and that
/// index given back with `--fai`: every `##contig` line carries the contig's length. The
/// second block runs again on a matrix whose contigs interleave (`generate --interleave`),
/// which the awk line must also serve. Any `[E::` or `[W::` on stderr fails it.
#[test]
fn the_readmes_vcf_checks_run_as_written() {
    let tools = ["bcftools", "tabix", "bgzip", "plink2", "awk"];
    if tools.iter().any(|t| tool(t).is_none()) {
        return;
    }
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = &readme[readme
        .find("Checking a VCF with the field's tools")
        .unwrap()..];
    let blocks: Vec<&str> = section
        .split("```sh\n")
        .skip(1)
        .take(2)
        .map(|b| &b[..b.find("```").unwrap()])
        .collect();
    assert!(blocks[0].contains("plink2 --vcf") && blocks[1].contains("--check-ref e"));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bin_dir = helper::bin().parent().unwrap().to_path_buf();
    let path_var = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let sh = |script: &str| {
        checked(
            std::process::Command::new("sh")
                .args(["-e", "-c", script])
                .current_dir(d)
                .env("PATH", &path_var),
        )
    };
    sh(blocks[0]);
    let fai_lengths_match = || {
        let header = String::from_utf8(sh("bcftools view -h m.fai.vcf.gz")).unwrap();
        let rows = std::fs::read_to_string(d.join("m.txt"))
            .unwrap()
            .lines()
            .count();
        let lengths: u64 = header
            .lines()
            .filter_map(|l| l.strip_prefix("##contig=<ID="))
            .map(|l| {
                let length = l.split("length=").nth(1).unwrap();
                length.trim_end_matches('>').parse::<u64>().unwrap()
            })
            .sum();
        assert_eq!(
            lengths, rows as u64,
            "the contigs' lengths add up to the rows"
        );
    };
    sh(blocks[1]);
    assert!(d.join("ref.fa.fai").exists(), "bcftools indexed the FASTA");
    fai_lengths_match();
    sh(
        "rm ref.fa.fai; hapflow generate --size 4MiB --contigs 3 --interleave 50 -o m.txt; \
        hapflow convert -q --format vcf m.txt -o m.vcf.gz",
    );
    sh(blocks[1]);
    fai_lengths_match();
}
