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
