//! The output formats through the real binary: phase-extender's table, VCF checked by the
//! field's own tools (bcftools, tabix, plink2), and BGZF for every format.

use crate::helper;

use std::path::Path;

use crate::helper::{data, hapflow, run, Outcome};

fn convert(args: &[&str], stdin: Option<&Path>) -> Outcome {
    run(hapflow().arg("convert").args(args), stdin)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ok(o: Outcome) -> Outcome {
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
fn tool(name: &str) -> Option<std::path::PathBuf> {
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
fn checked(cmd: &mut std::process::Command) -> Vec<u8> {
    let o = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{cmd:?} failed: {stderr}");
    assert!(
        !stderr.contains("[E::") && !stderr.contains("[W::"),
        "{cmd:?} complained: {stderr}"
    );
    o.stdout
}

fn inflate(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    noodles_bgzf::io::Reader::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn generated(dir: &Path, name: &str, args: &[&str]) -> std::path::PathBuf {
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
            assert!(packed.ends_with(&hapflow::write::bgzf::EOF));
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
    let pairs: Vec<(usize, usize)> = hapflow::config::pairs::DEFAULT_LAYOUT
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

/// The daemon writing VCF + BGZF, killed (-9) mid-file three times: the resumed job
/// publishes `<stem>.vcf.gz`, which inflates to `convert --format vcf`'s output and is
/// byte-identical to the same file converted by the daemon without a crash.
#[test]
fn daemon_vcf_bgzf_killed_mid_file_resumes_to_the_same_bytes() {
    use helper::daemon::{names, Daemon};
    use std::os::unix::process::ExitStatusExt;
    use std::time::Duration;
    const MINUTE: Duration = Duration::from_secs(60);

    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let input = generated(
        &work,
        "big.txt",
        &["--size", "48MiB", "--contigs", "6", "--seed", "8"],
    );
    let expected = work.join("expected.vcf");
    ok(convert(
        &["-q", "--format", "vcf", path(&input), "-o", path(&expected)],
        None,
    ));
    std::fs::copy(&input, work.join("again.txt")).unwrap();

    let slow = [("HAPFLOW_FAILPOINTS", "chunk.written=sleep(60)")];
    let mut d = Daemon::start_with_env(
        root.path(),
        "[output]\nformat = \"vcf\"\ncompress = \"bgzf\"\n",
        &slow,
    );
    std::fs::rename(&input, d.inbox().join("big.txt")).unwrap();
    let mut resumed = Vec::new();
    for round in 0..3 {
        d.wait_until(MINUTE, "progress", |s| {
            s["jobs"].as_array().is_some_and(|j| {
                j.iter()
                    .any(|j| j["state"] == "running" && j["bytes_done"].as_u64() > Some(0))
            })
        });
        std::thread::sleep(Duration::from_millis(300 + 200 * round));
        assert_eq!(d.kill9().status.signal(), Some(libc::SIGKILL));
        assert!(
            names(&d.outbox()).iter().all(|n| n.starts_with('.')),
            "nothing partial is published: {:?}",
            names(&d.outbox())
        );
        d.restart();
        let status = d.status();
        let job = status["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["input"] == "big.txt")
            .cloned();
        if let Some(b) = job.and_then(|j| j["resumed_at_byte"].as_u64()) {
            resumed.push(b);
        }
    }
    d.wait_settled_jobs(1, MINUTE);
    assert!(
        resumed.iter().any(|&b| b > 0),
        "no restart resumed past byte 0: {resumed:?}"
    );
    std::fs::rename(work.join("again.txt"), d.inbox().join("again.txt")).unwrap();
    d.wait_settled_jobs(2, MINUTE);
    let crashed = std::fs::read(d.outbox().join("big.vcf.gz")).unwrap();
    let uninterrupted = std::fs::read(d.outbox().join("again.vcf.gz")).unwrap();
    assert_eq!(inflate(&crashed), std::fs::read(&expected).unwrap());
    assert!(
        crashed == uninterrupted,
        "the resumed job's bytes differ from an uninterrupted one's"
    );
    if let Some(bgzip) = tool("bgzip") {
        checked(
            std::process::Command::new(bgzip)
                .arg("-t")
                .arg(d.outbox().join("big.vcf.gz")),
        );
    }
    assert_eq!(names(&d.outbox()), ["again.vcf.gz", "big.vcf.gz"]);
    assert_eq!(d.terminate().status.code(), Some(0));
}
