//! The output formats through the real binary: phase-extender's table, VCF checked by the
//! field's own tools (bcftools, tabix, plink2), and BGZF for every format.

mod helper;

use std::path::Path;

use helper::{data, hapflow, run, Outcome};

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
