//! Matrices as the field writes them, through the real `hapflow convert`: what is not a
//! genome matrix (or not whole) is refused with its cause, its line and no output left;
//! what the field writes and means as a matrix (a byte-order mark, a repeated header,
//! bcftools' header, zstd, xz, bzip2) converts to the same bytes as the clean variant.

use std::io::{Read, Write};
use std::path::Path;

use crate::helper::{hapflow, run, Outcome};

fn convert(args: &[&str], stdin: Option<&Path>) -> Outcome {
    run(hapflow().arg("convert").args(args), stdin)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Two pairs over a five-haplotype matrix, by header name.
const BY_NAME: &str = r#"
[[pair]]
first = { label = "a", column = "s1" }
second = { label = "b", column = "s2" }
[[pair]]
first = { label = "c", column = "s3" }
second = { label = "d", column = "s5" }
"#;

/// The same pairs by index.
const BY_INDEX: &str = r#"
[[pair]]
first = { label = "a", column = 3 }
second = { label = "b", column = 4 }
[[pair]]
first = { label = "c", column = 5 }
second = { label = "d", column = 7 }
"#;

const HEADER: &str = "CHROM\tPOS\tREF\ts1\ts2\ts3\ts4\ts5\n";

/// A small matrix with some variant rows, written for these tests.
fn rows(contig: &str, n: u32) -> String {
    let alleles = ["A", "C", "N", "G", "-", "T"];
    (1..=n)
        .map(|i| {
            let mut l = format!("{contig}\t{}\tA", i * 10);
            for h in 0..5 {
                let a = if (i + h) % 4 == 0 {
                    alleles[((i * 7 + h) % 6) as usize]
                } else {
                    "A"
                };
                l += &format!("\t{a}");
            }
            l + "\n"
        })
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn bgzf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    hapflow::generate::bgzf_compress(data, &mut out).unwrap();
    out
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    liblzma::read::XzEncoder::new(data, 6)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    bzip2::read::BzEncoder::new(data, bzip2::Compression::best())
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn lines_in(data: &[u8]) -> u64 {
    data.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Decompresses what a gzip decoder can of `cut`: the bytes before the cut.
fn gunzip_prefix(cut: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = flate2::read::MultiGzDecoder::new(cut).read_to_end(&mut out);
    out
}

/// One input hapflow must refuse: its bytes, the line the message must name, and the words
/// that name the cause.
struct Refused {
    name: &'static str,
    bytes: Vec<u8>,
    config: &'static str,
    line: u64,
    says: &'static [&'static str],
}

fn refused_inputs() -> Vec<Refused> {
    let clean = format!("{HEADER}{}", rows("chr2", 40));
    let with_line = |n: usize, line: &str| -> Vec<u8> {
        let mut l: Vec<&str> = clean.split_inclusive('\n').collect();
        l.insert(n - 1, line);
        l.concat().into_bytes()
    };
    // A BGZF file of several blocks, cut at a block boundary that falls on a line end.
    let big = format!("{HEADER}{}", rows("chr7", 30_000));
    let mut first_block = Vec::new();
    let mut rest = big.as_bytes();
    while first_block.len() < 40_000 {
        let end = rest.iter().position(|&b| b == b'\n').unwrap() + 1;
        first_block.extend_from_slice(&rest[..end]);
        rest = &rest[end..];
    }
    let mut cut_bgzf = bgzf(&first_block);
    cut_bgzf.truncate(cut_bgzf.len() - 28); // the end-of-file block
    cut_bgzf.extend_from_slice(&bgzf(rest)[..100]); // and a piece of the next block
    let whole_bgzf_without_eof = {
        let mut b = bgzf(big.as_bytes());
        b.truncate(b.len() - 28);
        b
    };
    let gz = gzip(big.as_bytes());
    let cut_gz = gz[..gz.len() / 2].to_vec();
    let cut_gz_line = lines_in(&gunzip_prefix(&cut_gz)) + 1;
    let mut trailing_text = gzip(clean.as_bytes());
    trailing_text.extend_from_slice(b"chr9\t1\tA\tC\tC\tC\tC\tC\n");
    let mut tar = vec![0u8; 1024];
    tar[..8].copy_from_slice(b"m.txt\0\0\0");
    tar[257..263].copy_from_slice(b"ustar\0");
    vec![
        Refused {
            name: "unphased_genotype",
            bytes: with_line(5, "chr2\t35\tA\tA\tA/T\tA\tA\tA\n"),
            config: BY_NAME,
            line: 5,
            says: &["column 4 (s2) holds \"A/T\"", "genotype or a list"],
        },
        Refused {
            name: "phased_genotype",
            bytes: with_line(9, "chr2\t85\tG\tG|A\tG\tG\tG\tG\n"),
            config: BY_NAME,
            line: 9,
            says: &["column 3 (s1) holds \"G|A\"", "not one haplotype allele"],
        },
        Refused {
            name: "allele_list",
            bytes: with_line(2, "chr2\t5\tA\tA\tA\tA\tA\tC,T\n"),
            config: BY_INDEX,
            line: 2,
            says: &["column 7 (s5) holds \"C,T\""],
        },
        Refused {
            name: "ref_genotype",
            bytes: with_line(30, "chr2\t295\tA/A\tA\tA\tA\tA\tA\n"),
            config: BY_INDEX,
            line: 30,
            says: &["REF holds \"A/A\""],
        },
        Refused {
            name: "vcf",
            bytes: b"##fileformat=VCFv4.2\n##contig=<ID=1>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tx\n1\t5\t.\tA\tC\t9\tPASS\t.\tGT\t0|1\n".to_vec(),
            config: BY_INDEX,
            line: 1,
            says: &["this is a VCF", "bcftools query"],
        },
        Refused {
            name: "vcf_body",
            bytes: b"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t5\trs1\tA\tC\t9\tPASS\tDP=3\n".to_vec(),
            config: BY_INDEX,
            line: 1,
            says: &["this is a VCF"],
        },
        Refused {
            name: "space_separated",
            bytes: clean.replace('\t', " ").into_bytes(),
            config: BY_INDEX,
            line: 1,
            says: &["separated by spaces", "tab-separated"],
        },
        Refused {
            name: "space_separated_after_a_tab_header",
            bytes: format!("{HEADER}{}", rows("chr2", 3).replace('\t', " ")).into_bytes(),
            config: BY_INDEX,
            line: 2,
            says: &["separated by spaces"],
        },
        Refused {
            name: "one_line_with_spaces",
            bytes: with_line(7, "chr2 65 A C A A A A\n"),
            config: BY_INDEX,
            line: 7,
            says: &["1 fields", "separated by spaces rather than tabs"],
        },
        Refused {
            name: "old_mac_line_ends",
            bytes: clean.replace('\n', "\r").into_bytes(),
            config: BY_NAME,
            line: 1,
            says: &["\\r without \\n", "old Mac"],
        },
        Refused {
            name: "another_header_mid_file",
            bytes: with_line(12, "CHROM\tPOS\tREF\tx1\tx2\tx3\tx4\tx5\n"),
            config: BY_INDEX,
            line: 12,
            says: &["this is a header line", "not the same as the input's first line"],
        },
        Refused {
            name: "bgzf_cut_at_a_block_boundary",
            bytes: {
                // Only whole blocks: without the partial one, the file inflates cleanly.
                let mut b = bgzf(&first_block);
                b.truncate(b.len() - 28);
                b
            },
            config: BY_INDEX,
            line: lines_in(&first_block) + 1,
            says: &["BGZF", "end-of-file block is missing", "truncated"],
        },
        Refused {
            name: "bgzf_without_eof_block",
            bytes: whole_bgzf_without_eof,
            config: BY_INDEX,
            line: lines_in(big.as_bytes()) + 1,
            says: &["end-of-file block is missing"],
        },
        Refused {
            name: "bgzf_cut_inside_a_block",
            bytes: cut_bgzf,
            config: BY_INDEX,
            line: lines_in(&first_block) + 1,
            says: &["BGZF input is cut short or corrupt"],
        },
        Refused {
            name: "gzip_cut",
            bytes: cut_gz,
            config: BY_INDEX,
            line: cut_gz_line,
            says: &["gzip input is cut short or corrupt", "the data ends here"],
        },
        Refused {
            name: "gzip_then_text",
            bytes: trailing_text,
            config: BY_INDEX,
            line: lines_in(clean.as_bytes()) + 1,
            says: &["has bytes after its end", "not gzip"],
        },
        Refused {
            name: "zstd_cut",
            bytes: {
                let z = zstd::encode_all(big.as_bytes(), 3).unwrap();
                z[..z.len() - 5].to_vec()
            },
            config: BY_INDEX,
            line: 0,
            says: &["zstd input is cut short or corrupt"],
        },
        Refused {
            name: "xz_cut",
            bytes: {
                let z = xz(big.as_bytes());
                z[..z.len() - 5].to_vec()
            },
            config: BY_INDEX,
            line: 0,
            says: &["xz input is cut short or corrupt"],
        },
        Refused {
            name: "bzip2_cut",
            bytes: {
                let z = bzip2(big.as_bytes());
                z[..z.len() - 5].to_vec()
            },
            config: BY_INDEX,
            line: 0,
            says: &["bzip2 input is cut short or corrupt"],
        },
        Refused {
            name: "zip",
            bytes: b"PK\x03\x04\x14\x00\x00\x00\x08\x00matrix.txt".to_vec(),
            config: BY_INDEX,
            line: 1,
            says: &["this is a zip archive", "not a genome matrix"],
        },
        Refused {
            name: "tar_gz",
            bytes: gzip(&tar),
            config: BY_INDEX,
            line: 1,
            says: &["once decompressed, this is a tar archive"],
        },
        Refused {
            name: "tar",
            bytes: tar,
            config: BY_INDEX,
            line: 1,
            says: &["this is a tar archive"],
        },
        // BCF and BAM are BGZF outside: named by what the blocks hold.
        Refused {
            name: "bcf",
            bytes: bgzf(b"BCF\x02\x02\x00\x00\x00##fileformat=VCFv4.2\n"),
            config: BY_INDEX,
            line: 1,
            says: &["once decompressed, this is a BCF file", "not a genome matrix"],
        },
        Refused {
            name: "bam",
            bytes: bgzf(b"BAM\x01\x00\x00\x00\x00"),
            config: BY_INDEX,
            line: 1,
            says: &["once decompressed, this is a BAM file"],
        },
        Refused {
            name: "gzip_twice",
            bytes: gzip(&gzip(clean.as_bytes())),
            config: BY_INDEX,
            line: 1,
            says: &["compressed twice", "gzip"],
        },
    ]
}

/// Every refused shape: exit 2, the file and line named, the cause in words, and no output
/// file (nor temporary file) left; through stdin, nothing on stdout.
#[test]
fn inputs_that_are_not_matrices_are_refused_with_their_cause() {
    let dir = tempfile::tempdir().unwrap();
    for r in refused_inputs() {
        let case = dir.path().join(r.name);
        std::fs::create_dir(&case).unwrap();
        let (input, config, out) = (
            case.join("input.data"),
            case.join("pairs.toml"),
            case.join("out").join("table.txt"),
        );
        std::fs::create_dir(out.parent().unwrap()).unwrap();
        std::fs::write(&input, &r.bytes).unwrap();
        std::fs::write(&config, r.config).unwrap();
        let args = [
            "-q",
            "--config",
            path(&config),
            path(&input),
            "-o",
            path(&out),
        ];
        let o = convert(&args, None);
        assert_eq!(o.code, Some(2), "{}: {}", r.name, o.stderr);
        assert!(o.stderr.contains(path(&input)), "{}: {}", r.name, o.stderr);
        let line = match r.line {
            0 => ": line ".to_string(),
            n => format!(": line {n}, byte offset "),
        };
        assert!(
            o.stderr.contains(&line),
            "{}: no {line:?} in {}",
            r.name,
            o.stderr
        );
        for words in r.says {
            assert!(
                o.stderr.contains(words),
                "{}: no {words:?} in {}",
                r.name,
                o.stderr
            );
        }
        let left: Vec<_> = std::fs::read_dir(out.parent().unwrap()).unwrap().collect();
        assert!(left.is_empty(), "{}: left {left:?}", r.name);
        let o = convert(&["-q", "--config", path(&config), "-"], Some(&input));
        assert_eq!(o.code, Some(2), "{}: {}", r.name, o.stderr);
        assert!(
            o.stdout.is_empty() && o.stderr.contains("<stdin>"),
            "{}",
            r.name
        );
    }
}

/// Where a truncated stream's data ends does not depend on how the input is cut into
/// chunks: the same line and byte under every memory limit and thread count.
#[test]
fn a_truncated_stream_is_placed_the_same_under_every_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{HEADER}{}", rows("chr1", 120_000));
    let gz = gzip(text.as_bytes());
    let mut cut_bgzf = bgzf(text.as_bytes());
    cut_bgzf.truncate(cut_bgzf.len() * 3 / 5);
    for (name, bytes) in [
        ("gzip", gz[..gz.len() * 3 / 5].to_vec()),
        ("bgzf", cut_bgzf),
    ] {
        let input = dir.path().join(name);
        std::fs::write(&input, &bytes).unwrap();
        let config = dir.path().join("p.toml");
        std::fs::write(&config, BY_INDEX).unwrap();
        let mut seen = Vec::new();
        for (limit, threads) in [
            ("24MiB", "1"),
            ("32MiB", "2"),
            ("256MiB", "2"),
            ("1GiB", "3"),
        ] {
            let o = convert(
                &[
                    "-q",
                    "--config",
                    path(&config),
                    "--memory-limit",
                    limit,
                    "--threads",
                    threads,
                    path(&input),
                    "-o",
                    path(&dir.path().join("o.txt")),
                ],
                None,
            );
            assert_eq!(o.code, Some(2), "{name} {limit}: {}", o.stderr);
            seen.push(o.stderr);
        }
        assert!(seen.windows(2).all(|w| w[0] == w[1]), "{name}: {seen:#?}");
        if name == "gzip" {
            let line = lines_in(&gunzip_prefix(&bytes)) + 1;
            assert!(seen[0].contains(&format!(": line {line}, ")), "{}", seen[0]);
        }
    }
}

/// Converts `bytes` with `config`, through a file named `name` in `dir`; exit 0 expected.
fn converted(dir: &Path, name: &str, bytes: &[u8], config: &str, extra: &[&str]) -> Outcome {
    let (input, cfg) = (dir.join(name), dir.join(format!("{name}.toml")));
    std::fs::write(&input, bytes).unwrap();
    std::fs::write(&cfg, config).unwrap();
    let mut args = vec!["--config", path(&cfg)];
    args.extend_from_slice(extra);
    args.push(path(&input));
    let o = convert(&args, None);
    assert_eq!(o.code, Some(0), "{name}: {}", o.stderr);
    o
}

/// What the field writes and means as a matrix converts to the clean variant's bytes.
#[test]
fn forgiven_shapes_equal_the_clean_variant_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let part1 = format!("{HEADER}{}", rows("chr1", 300));
    let part2 = format!("{HEADER}{}", rows("chr2", 200));
    let clean = format!("{part1}{}", part2.split_once('\n').unwrap().1);
    let want = converted(dir.path(), "clean", clean.as_bytes(), BY_NAME, &["-q"]).stdout;
    assert!(String::from_utf8_lossy(&want).lines().count() > 100);

    let bcftools_header =
        "# [1]CHROM\t[2]POS\t[3]REF\t[4]s1:GT\t[5]s2:GT\t[6]s3:GT\t[7]s4:GT\t[8]s5:GT\n";
    let bcftools_new = "#[1]CHROM\t[2]POS\t[3]REF\t[4]s1\t[5]s2\t[6]s3\t[7]s4\t[8]s5\n";
    let body = clean.split_once('\n').unwrap().1;
    let mut padded = gzip(clean.as_bytes());
    padded.extend_from_slice(&[0u8; 512]);
    let variants: Vec<(&str, Vec<u8>)> = vec![
        ("bom", [b"\xef\xbb\xbf", clean.as_bytes()].concat()),
        (
            "bom_crlf",
            format!("\u{feff}{}", clean.replace('\n', "\r\n")).into_bytes(),
        ),
        (
            "bcftools_header",
            format!("{bcftools_header}{body}").into_bytes(),
        ),
        (
            "bcftools_header_new",
            format!("{bcftools_new}{body}").into_bytes(),
        ),
        ("gzip_zero_padded", padded),
        ("bgzf", bgzf(clean.as_bytes())),
        ("zstd", zstd::encode_all(clean.as_bytes(), 19).unwrap()),
        ("xz", xz(clean.as_bytes())),
        ("bzip2", bzip2(clean.as_bytes())),
    ];
    for (name, bytes) in variants {
        let o = converted(dir.path(), name, &bytes, BY_NAME, &["-q"]);
        assert!(
            o.stdout == want,
            "{name}: output differs from the clean variant's"
        );
    }

    // Matrices joined with `cat`, each with its header line (one with a byte-order mark):
    // the repeated header lines are skipped and counted.
    let catted = format!("{part1}{part2}\u{feff}{HEADER}");
    let o = converted(dir.path(), "catted", catted.as_bytes(), BY_NAME, &[]);
    assert!(
        o.stdout == want,
        "cat: output differs from the clean variant's"
    );
    assert!(
        o.stderr.contains(", 2 repeated header lines skipped,"),
        "{}",
        o.stderr
    );

    // Compressed through stdin too.
    let zst = dir.path().join("stdin.zst");
    std::fs::write(&zst, zstd::encode_all(clean.as_bytes(), 3).unwrap()).unwrap();
    let cfg = dir.path().join("clean.toml");
    let o = convert(&["-q", "--config", path(&cfg), "-"], Some(&zst));
    assert!(o.code == Some(0) && o.stdout == want, "{}", o.stderr);
}

/// Files saved on Windows and joined with `cat` carry a byte-order mark at each join: a mark
/// at the start of any line is ignored (before a data row of the same or a new contig, and
/// before a repeated header line, which is then skipped and counted as one).
#[test]
fn a_byte_order_mark_at_the_start_of_a_later_line_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let part1 = format!("{HEADER}{}", rows("chr1", 300));
    let part2 = format!("{HEADER}{}", rows("chr2", 200));
    let body2 = part2.split_once('\n').unwrap().1;
    let clean = format!("{part1}{body2}");
    let want = converted(dir.path(), "clean", clean.as_bytes(), BY_NAME, &["-q"]).stdout;

    // A mark before a row in the middle of a contig's run (where the fast path reads).
    let mut mid: Vec<&str> = clean.split_inclusive('\n').collect();
    let marked = format!("\u{feff}{}", mid[150]);
    mid[150] = &marked;
    let mid = mid.concat();
    let variants = [
        ("bom_mid_run", mid),
        ("bom_new_contig", format!("{part1}\u{feff}{body2}")),
        ("bom_every_line", clean.replace('\n', "\n\u{feff}")),
        ("bom_crlf_every_line", clean.replace('\n', "\r\n\u{feff}")),
    ];
    for (name, text) in variants {
        let o = converted(dir.path(), name, text.as_bytes(), BY_NAME, &["-q"]);
        assert!(
            o.stdout == want,
            "{name}: output differs from the clean variant's"
        );
    }
    for limit in ["64MiB", "24MiB"] {
        let text = clean.replace('\n', "\n\u{feff}");
        let o = converted(
            dir.path(),
            "bom_limit",
            text.as_bytes(),
            BY_NAME,
            &["-q", "--memory-limit", limit],
        );
        assert!(
            o.stdout == want,
            "{limit}: output differs from the clean variant's"
        );
    }

    // Two files saved on Windows, joined with `cat`: the second header line is repeated.
    let catted = format!("\u{feff}{part1}\u{feff}{part2}");
    let o = converted(dir.path(), "catted", catted.as_bytes(), BY_NAME, &[]);
    assert!(
        o.stdout == want,
        "cat: output differs from the clean variant's"
    );
    assert!(
        o.stderr.contains(", 1 repeated header line"),
        "{}",
        o.stderr
    );

    // Headerless, one pair: the contig is `20` on both lines, never `\u{feff}20`.
    let one_pair =
        "[[pair]]\nfirst = { label = \"a\", column = 3 }\nsecond = { label = \"b\", column = 4 }\n";
    let clean = converted(
        dir.path(),
        "ab_clean",
        b"20\t1\tG\tT\tG\n20\t2\tA\tC\tA\n",
        one_pair,
        &["-q"],
    );
    let joined = converted(
        dir.path(),
        "ab",
        b"20\t1\tG\tT\tG\n\xef\xbb\xbf20\t2\tA\tC\tA\n",
        one_pair,
        &["-q"],
    );
    assert!(
        joined.stdout == clean.stdout,
        "{}",
        String::from_utf8_lossy(&joined.stdout)
    );
    assert!(!joined.stdout.windows(3).any(|w| w == b"\xef\xbb\xbf"));
}

/// A bzip2 file cut inside its first bytes (its magic and little more) is named as a bzip2
/// input cut short, not as a matrix of one column.
#[test]
fn a_bzip2_input_cut_inside_its_first_bytes_is_named_as_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    let whole = bzip2(format!("{HEADER}{}", rows("chr1", 30)).as_bytes());
    for cut in [4, 6, 9] {
        let input = dir.path().join(format!("cut{cut}.bz2"));
        std::fs::write(&input, &whole[..cut]).unwrap();
        let out = dir.path().join(format!("o{cut}")).join("o.txt");
        std::fs::create_dir(out.parent().unwrap()).unwrap();
        let o = convert(&[path(&input), "-o", path(&out)], None);
        assert_eq!(o.code, Some(2), "{cut}: {}", o.stderr);
        assert!(o.stderr.contains("bzip2"), "{cut}: {}", o.stderr);
        assert!(
            o.stderr.contains("cut short") || o.stderr.contains("truncated"),
            "{cut}: {}",
            o.stderr
        );
        assert!(!o.stderr.contains("columns"), "{cut}: {}", o.stderr);
        assert_eq!(
            std::fs::read_dir(out.parent().unwrap()).unwrap().count(),
            0,
            "{cut}"
        );
    }
}

/// A VCF appended to a matrix with `cat` is named as a VCF joined to the matrix, at the
/// line where it starts, with no output left.
#[test]
fn a_vcf_joined_to_a_matrix_is_named_where_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let matrix = format!("{HEADER}{}", rows("chr1", 40));
    let vcf_head = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tx\n";
    for (case, vcf) in [
        ("fileformat", format!("##fileformat=VCFv4.2\n##contig=<ID=1>\n{vcf_head}1\t5\t.\tA\tC\t9\tPASS\t.\tGT\t0|1\n")),
        ("column_header", format!("{vcf_head}1\t5\t.\tA\tC\t9\tPASS\t.\tGT\t0|1\n")),
    ] {
        let input = dir.path().join(format!("{case}.txt"));
        std::fs::write(&input, format!("{matrix}{vcf}")).unwrap();
        let out = dir.path().join(case).join("o.txt");
        std::fs::create_dir(out.parent().unwrap()).unwrap();
        let o = convert(&["--config", &write_config(dir.path(), BY_NAME), path(&input), "-o", path(&out)], None);
        assert_eq!(o.code, Some(2), "{case}: {}", o.stderr);
        let byte = matrix.len();
        for w in ["a VCF joined to the matrix", "line 42", &format!("byte offset {byte}")] {
            assert!(o.stderr.contains(w), "{case}: no {w:?} in {}", o.stderr);
        }
        assert_eq!(std::fs::read_dir(out.parent().unwrap()).unwrap().count(), 0, "{case}");
    }
}

fn write_config(dir: &Path, text: &str) -> String {
    let p = dir.join("pairs.toml");
    std::fs::write(&p, text).unwrap();
    path(&p).to_string()
}

/// What follows BGZF's blocks is named for what it is: a plain gzip member appended with
/// `gzip -c more >> file.gz` (at its byte), or bytes after the end-of-file block (as after
/// gzip's last member), zero padding included (htslib refuses it too); BGZF files joined
/// with `cat` are one input.
#[test]
fn what_follows_the_bgzf_blocks_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let clean = format!("{HEADER}{}", rows("chr4", 3000));
    let want = converted(dir.path(), "clean", clean.as_bytes(), BY_NAME, &["-q"]).stdout;
    let blocks = bgzf(clean.as_bytes());
    assert!(blocks.ends_with(&hapflow::testing::bgzf::EOF));

    let mut padded = blocks.clone();
    padded.extend_from_slice(&[0u8; 700]);
    let two = [&blocks[..], &bgzf(b"")].concat();
    let o = converted(dir.path(), "two", &two, BY_NAME, &["-q"]);
    assert!(
        o.stdout == want,
        "cat of BGZF: output differs from the clean variant's"
    );

    let lines = lines_in(clean.as_bytes());
    let at = blocks.len().to_string();
    let cases: [(&str, Vec<u8>, Vec<&str>); 4] = [
        (
            "zero_padding",
            padded.clone(),
            vec!["has bytes after its end", "zero padding", &at],
        ),
        (
            "plain_gzip_member",
            [&blocks[..], &gzip(b"chr4\t99999\tA\tC\tA\tA\tA\tA\n")].concat(),
            vec![
                "a plain gzip member (not BGZF) follows the BGZF blocks",
                &at,
            ],
        ),
        (
            "text_after_eof",
            [&blocks[..], b"chr4\t99999\tA\tC\tA\tA\tA\tA\n"].concat(),
            vec!["has bytes after its end", &at],
        ),
        (
            "text_after_padding",
            [&padded[..], b"x\n"].concat(),
            vec!["has bytes after its end"],
        ),
    ];
    for (case, bytes, says) in cases {
        for limit in ["24MiB", "256MiB"] {
            let name = format!("{case}_{limit}");
            let byte = Some(clean.len() as u64);
            refused(
                dir.path(),
                &name,
                &bytes,
                &["--memory-limit", limit],
                (lines + 1, byte),
                &says,
            );
        }
    }
}

/// zstd and bzip2 followed by text (a matrix line appended to the compressed file) have
/// bytes after their end, said so at the line where the data ends.
#[test]
fn text_after_a_zstd_or_bzip2_stream_is_bytes_after_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let clean = format!("{HEADER}{}", rows("chr5", 500));
    let lines = lines_in(clean.as_bytes());
    let appended = b"chr5\t9999\tA\tC\tA\tA\tA\tA\n";
    for (name, bytes) in [
        ("zstd", zstd::encode_all(clean.as_bytes(), 3).unwrap()),
        ("bzip2", bzip2(clean.as_bytes())),
    ] {
        let input = [&bytes[..], appended].concat();
        let says = [
            &format!("the {name} input has bytes after its end")[..],
            &format!("not {name} follow the last {name} frame")[..],
        ];
        refused(
            dir.path(),
            name,
            &input,
            &[],
            (lines + 1, Some(clean.len() as u64)),
            &says,
        );
    }
}

/// `pzstd`'s layout: each frame of data preceded by a skippable frame holding its size.
fn pzstd(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in data.chunks(data.len().div_ceil(2)) {
        let frame = zstd::encode_all(part, 3).unwrap();
        out.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0]);
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&frame);
    }
    out
}

/// zstd that starts with a skippable frame (as `pzstd` writes it, and `zstd -dc` reads it)
/// converts as the plain matrix does, from a file and from stdin.
#[test]
fn zstd_with_skippable_frames_converts_like_the_clean_variant() {
    let dir = tempfile::tempdir().unwrap();
    let clean = format!("{HEADER}{}", rows("chr3", 400));
    let want = converted(dir.path(), "clean", clean.as_bytes(), BY_NAME, &["-q"]).stdout;
    let bytes = pzstd(clean.as_bytes());
    let mut check = Vec::new();
    zstd::stream::read::Decoder::new(&bytes[..])
        .unwrap()
        .read_to_end(&mut check)
        .unwrap();
    assert_eq!(
        check,
        clean.as_bytes(),
        "the test's pzstd layout is valid zstd"
    );
    let o = converted(dir.path(), "pzstd", &bytes, BY_NAME, &["-q"]);
    assert!(
        o.stdout == want,
        "pzstd: output differs from the clean variant's"
    );
    let input = dir.path().join("pzstd");
    let cfg = dir.path().join("pzstd.toml");
    let o = convert(&["-q", "--config", path(&cfg), "-"], Some(&input));
    assert!(o.code == Some(0) && o.stdout == want, "{}", o.stderr);
}

/// `--missing` and `--uppercase` (and `[alleles]`): a lower-case matrix with `.` for no
/// call converts as its upper-case twin with `N` for no call does with the defaults.
#[test]
fn missing_characters_and_upper_casing_from_flags_and_config() {
    let dir = tempfile::tempdir().unwrap();
    let m = rows("chr1", 400)
        .replace("\tN", "\t.")
        .replace("\tA\t", "\ta\t")
        .replace("\tC\n", "\tc\n")
        .replace("\tG", "\tg");
    let twin = m.to_uppercase().replace("CHR1", "chr1").replace('.', "N");
    let m = format!("{HEADER}{m}");
    let twin = format!("{HEADER}{twin}");
    let want = converted(dir.path(), "twin", twin.as_bytes(), BY_NAME, &["-q"]).stdout;
    let flags = converted(
        dir.path(),
        "flags",
        m.as_bytes(),
        BY_NAME,
        &["-q", "--missing", "N.", "--uppercase"],
    );
    assert!(flags.stdout == want, "flags");
    let config = format!("[alleles]\nmissing = [\"N\", \".\"]\nuppercase = true\n{BY_NAME}");
    let from_config = converted(dir.path(), "config", m.as_bytes(), &config, &["-q"]);
    assert!(from_config.stdout == want, "config");
    // The defaults keep the reference's conversion: `.` and `a` are alleles of their own.
    let defaults = converted(dir.path(), "defaults", m.as_bytes(), BY_NAME, &["-q"]);
    assert!(defaults.stdout != want);
    assert!(String::from_utf8_lossy(&defaults.stdout).contains("\t."));
    // A missing character that cannot be one is a usage error.
    let o = convert(&["--missing", "N|", path(&dir.path().join("twin"))], None);
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(o.stderr.contains("--missing"), "{}", o.stderr);
}

/// A pair naming one column by name and by index, or a name its header file lists twice,
/// is the configuration's fault, named as such (the configuration file and where the names
/// come from), not the matrix's.
#[test]
fn pair_errors_that_need_the_header_name_the_configuration_not_the_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let matrix = dir.path().join("m.txt");
    std::fs::write(&matrix, format!("{HEADER}{}", rows("chr1", 20))).unwrap();
    let headerless = dir.path().join("body.txt");
    std::fs::write(&headerless, rows("chr1", 20)).unwrap();
    let twice = dir.path().join("names.txt");
    std::fs::write(&twice, "CHROM\tPOS\tREF\ts1\ts2\ts1\ts4\ts5\n").unwrap();
    let cfg = |name: &str, a: &str, b: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, format!("[[pair]]\nfirst = {{ label = \"a\", column = {a} }}\nsecond = {{ label = \"b\", column = {b} }}\n")).unwrap();
        p
    };
    let same = cfg("same.toml", "\"s2\"", "4");
    let by_name = cfg("by_name.toml", "\"s1\"", "\"s2\"");
    for (case, config, input, header, says) in [
        (
            "name_and_index",
            &same,
            &matrix,
            None,
            vec!["both haplotypes name column 4", "the header line of"],
        ),
        (
            "name_and_index_header_file",
            &same,
            &headerless,
            Some(&twice),
            vec!["both haplotypes name column 4", "the header file"],
        ),
        (
            "name_twice_in_header_file",
            &by_name,
            &headerless,
            Some(&twice),
            vec![
                "\"s1\" occurs twice in the header",
                "the header file",
                "names.txt",
            ],
        ),
    ] {
        let out = dir.path().join(case).join("o.txt");
        std::fs::create_dir(out.parent().unwrap()).unwrap();
        let mut args = vec!["--config", path(config), path(input), "-o", path(&out)];
        if let Some(h) = header {
            args.extend(["--header", path(h)]);
        }
        let o = convert(&args, None);
        assert_eq!(o.code, Some(2), "{case}: {}", o.stderr);
        for w in says.iter().chain(&[path(config)]) {
            assert!(o.stderr.contains(w), "{case}: no {w:?} in {}", o.stderr);
        }
        assert!(!o.stderr.contains("bad input"), "{case}: {}", o.stderr);
        assert_eq!(
            std::fs::read_dir(out.parent().unwrap()).unwrap().count(),
            0,
            "{case}"
        );
    }
}

/// Pairs that cannot make a table are configuration errors: exit 2 before any output.
#[test]
fn pairs_that_cannot_make_a_table_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let matrix = dir.path().join("m.txt");
    std::fs::write(&matrix, format!("{HEADER}{}", rows("chr1", 50))).unwrap();
    let twice_in_header = dir.path().join("twice.txt");
    std::fs::write(
        &twice_in_header,
        format!("CHROM\tPOS\tREF\ts1\ts2\ts1\ts4\ts5\n{}", rows("chr1", 50)),
    )
    .unwrap();
    let pair = |a: &str, b: &str, name: &str| {
        format!("[[pair]]\nfirst = {{ label = \"{name}\", column = {a} }}\nsecond = {{ label = \"x\", column = {b} }}\n")
    };
    for (case, config, input, says) in [
        (
            "same_index",
            pair("3", "3", "a"),
            &matrix,
            "names column 3 twice",
        ),
        (
            "same_name",
            pair("\"s2\"", "\"s2\"", "a"),
            &matrix,
            "names column \"s2\" twice",
        ),
        (
            "name_and_index",
            pair("\"s2\"", "4", "a"),
            &matrix,
            "both haplotypes name column 4",
        ),
        (
            "same_pair_name",
            pair("3", "4", "a") + &pair("5", "6", "a"),
            &matrix,
            "pairs 1 and 2 are both named \"ax\"",
        ),
        (
            "name_twice_in_header",
            pair("\"s1\"", "4", "a"),
            &twice_in_header,
            "column \"s1\" occurs twice in the header",
        ),
    ] {
        let cfg = dir.path().join(format!("{case}.toml"));
        std::fs::write(&cfg, config).unwrap();
        let out = dir.path().join(case).join("o.txt");
        std::fs::create_dir(out.parent().unwrap()).unwrap();
        let o = convert(
            &["--config", path(&cfg), path(input), "-o", path(&out)],
            None,
        );
        assert_eq!(o.code, Some(2), "{case}: {}", o.stderr);
        assert!(
            o.stderr.contains(says),
            "{case}: no {says:?} in {}",
            o.stderr
        );
        assert_eq!(
            std::fs::read_dir(out.parent().unwrap()).unwrap().count(),
            0,
            "{case}"
        );
    }
}

/// An empty input (no byte, or blank lines only, plain or compressed) is a matrix without
/// sites: a header-only table, exit 0, with a warning, whether the pairs name their columns
/// by index or by header name (there is no header to look the names up in, and none is
/// needed for a header-only table).
#[test]
fn an_empty_input_is_a_header_only_table_whatever_the_pairs_name() {
    let dir = tempfile::tempdir().unwrap();
    let want = "contig\tpos\tref\talt\tab_PI\tab_PG_al\tcd_PI\tcd_PG_al\n";
    for (name, bytes) in [
        ("empty.txt", Vec::new()),
        ("blank.txt", b"\n\n".to_vec()),
        ("empty.gz", gzip(b"")),
    ] {
        for (pairs, config) in [("by_name", BY_NAME), ("by_index", BY_INDEX)] {
            let o = converted(dir.path(), &format!("{pairs}_{name}"), &bytes, config, &[]);
            assert_eq!(o.code, Some(0), "{pairs} {name}: {}", o.stderr);
            assert_eq!(String::from_utf8_lossy(&o.stdout), want, "{pairs} {name}");
            assert!(
                o.stderr.contains("has no data line"),
                "{pairs} {name}: {}",
                o.stderr
            );
        }
    }
}

/// Runs `convert` on `bytes` (through a file in a folder of its own) and checks a refusal:
/// exit 2, the file, `line` (0: some line) and `byte` named, every one of `says` in the message, and no
/// output file left. Returns the message.
fn refused(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    extra: &[&str],
    (line, byte): (u64, Option<u64>),
    says: &[&str],
) -> String {
    let case = dir.join(name);
    std::fs::create_dir_all(case.join("out")).unwrap();
    let (input, config, out) = (
        case.join("input.data"),
        case.join("pairs.toml"),
        case.join("out").join("table.txt"),
    );
    std::fs::write(&input, bytes).unwrap();
    std::fs::write(&config, BY_INDEX).unwrap();
    let mut args = vec!["-q", "--config", path(&config)];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[path(&input), "-o", path(&out)]);
    let o = convert(&args, None);
    assert_eq!(o.code, Some(2), "{name}: {}", o.stderr);
    assert!(o.stderr.contains(path(&input)), "{name}: {}", o.stderr);
    let at = match (line, byte) {
        (0, _) => ": line ".to_string(),
        (_, Some(b)) => format!(": line {line}, byte offset {b}: "),
        (_, None) => format!(": line {line}, byte offset "),
    };
    assert!(o.stderr.contains(&at), "{name}: no {at:?} in {}", o.stderr);
    for words in says {
        assert!(
            o.stderr.contains(words),
            "{name}: no {words:?} in {}",
            o.stderr
        );
    }
    let left: Vec<_> = std::fs::read_dir(case.join("out")).unwrap().collect();
    assert!(left.is_empty(), "{name}: left {left:?}");
    o.stderr
}

/// Byte offset of line `n` (1-based) of `text`.
fn line_start(text: &[u8], n: u64) -> u64 {
    let mut at = 0;
    for _ in 1..n {
        at += text[at..].iter().position(|&b| b == b'\n').unwrap() + 1;
    }
    at as u64
}

/// Compressed data damaged inside (not cut short) is refused as corrupt, naming the damaged
/// line where its garbage is read before the decoder's check fails (gzip checks its CRC
/// only at the end of a member, megabytes later), and the block where a check comes first
/// (BGZF's CRC per block, a gzip member's CRC, zstd's and xz's checksums).
#[test]
fn corrupt_compressed_data_is_named_as_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{HEADER}{}", rows("chr3", 80_000)).into_bytes();
    // gzip of stored blocks: the text is in the file as it is, so one byte can be damaged
    // without the deflate stream noticing; only the CRC at the end does.
    let stored = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
        e.write_all(&text).unwrap();
        e.finish().unwrap()
    };
    let damaged = 3001;
    let start = line_start(&text, damaged) as usize;
    let line = &text[start..start + 20];
    let at = stored.windows(20).position(|w| w == line).unwrap();
    for (limit, threads) in [("24MiB", "1"), ("256MiB", "2")] {
        let mut bad = stored.clone();
        bad[at + 4] = b'x'; // the tab after CHROM: a field fewer
        let says = refused(
            dir.path(),
            &format!("gzip_stored_{limit}"),
            &bad,
            &["--memory-limit", limit, "--threads", threads],
            (damaged, Some(start as u64)),
            &[
                "gzip input is corrupt from here",
                "its decoder finds damaged data (a failed CRC or checksum",
                "7 fields, but the header (or first line) has 8",
            ],
        );
        assert!(says.contains("checksum"), "{says}");
    }

    // The CRC of one member of several, and of one BGZF block: the refusal names the line
    // where that member's or block's data starts... or ends, where it is read first.
    let mut members = gzip(&text[..start]);
    let crc_at = members.len() - 8;
    members[crc_at] ^= 0xff;
    members.extend(gzip(&text[start..]));
    refused(
        dir.path(),
        "gzip_member_crc",
        &members,
        &[],
        (damaged, Some(start as u64)),
        &["gzip input is corrupt", "damaged data", "checksum"],
    );
    let mut blocks = bgzf(&text);
    let first = u16::from_le_bytes([blocks[16], blocks[17]]) as usize + 1;
    let second = u16::from_le_bytes([blocks[first + 16], blocks[first + 17]]) as usize + 1;
    blocks[first + second - 8] ^= 0xff; // the second block's CRC
    let inflated = gunzip_prefix(&blocks[..first]).len();
    let o = refused(
        dir.path(),
        "bgzf_block_crc",
        &blocks,
        &[],
        (lines_in(&text[..inflated]) + 1, None),
        &["BGZF input is corrupt", "damaged data", "checksum"],
    );
    assert!(o.contains(&format!(", byte offset {inflated}: ")), "{o}");

    // Bytes damaged inside a deflate (or bzip2) stream: garbage lines, or garbage without a
    // line end longer than a chunk, or invalid data; whichever comes first, the cause named
    // is the corruption, never a field count or a line length alone.
    let deflated = gzip(&text);
    let bz = bzip2(&text);
    for (name, packed, at) in [
        ("gzip_third", &deflated, deflated.len() / 3),
        ("gzip_fifth", &deflated, deflated.len() / 5),
        ("bzip2_half", &bz, bz.len() / 2),
    ] {
        let mut bad = packed.clone();
        for b in &mut bad[at..at + 4] {
            *b ^= 0x55;
        }
        refused(
            dir.path(),
            name,
            &bad,
            &["--memory-limit", "24MiB"],
            (0, None),
            &["input is corrupt", "damaged data"],
        );
    }

    // zstd (as the zstd tool writes it, with its checksum) and xz: the check at the end.
    let mut zst = {
        let mut e = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        e.include_checksum(true).unwrap();
        e.write_all(&text).unwrap();
        e.finish().unwrap()
    };
    let n = zst.len();
    zst[n - 2] ^= 0xff;
    let mut x = xz(&text);
    let n = x.len();
    x[n - 40] ^= 0xff; // inside the block's check (CRC64), before the index
    for (name, bytes, says) in [
        (
            "zstd_checksum",
            zst,
            &["zstd input is corrupt", "checksum"][..],
        ),
        ("xz_check", x, &["xz input is", "corrupt"]),
    ] {
        // Where the data ends is the same under every memory limit.
        let seen: Vec<String> = ["24MiB", "256MiB"]
            .iter()
            .map(|limit| {
                let o = refused(
                    dir.path(),
                    &format!("{name}_{limit}"),
                    &bytes,
                    &["--memory-limit", limit],
                    (0, None),
                    says,
                );
                o.replace(&format!("{name}_{limit}"), "")
            })
            .collect();
        assert_eq!(seen[0], seen[1], "{name}");
    }
}

/// A bare `\r` (an old-Mac line end) anywhere in a large file is named as such, at its
/// line and byte, whether it runs two lines together (a field count off) or sits inside a
/// field (the count right).
#[test]
fn a_bare_carriage_return_deep_inside_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{HEADER}{}", rows("chr4", 150_000)).into_bytes();
    for (name, line, replace) in [
        ("joins_two_lines", 120_000u64, None),
        ("inside_a_field", 140_000, Some(4usize)),
    ] {
        let start = line_start(&text, line) as usize;
        let end = start + text[start..].iter().position(|&b| b == b'\n').unwrap();
        let mut bad = text.clone();
        let at = match replace {
            None => end,
            // Inside the field after the fourth tab: `A` becomes `A\rA`-like `\r`.
            Some(tab) => {
                let tabs: Vec<usize> = (start..end).filter(|&i| bad[i] == b'\t').collect();
                tabs[tab] + 1
            }
        };
        bad[at] = b'\r';
        if replace.is_some() {
            bad.insert(at, b'A');
        }
        let at = if replace.is_some() { at + 1 } else { at };
        refused(
            dir.path(),
            name,
            &bad,
            &["--memory-limit", "24MiB"],
            (line, Some(at as u64)),
            &["bare \\r (an old-Mac line end)"],
        );
    }
}

/// A zstd file with a large window (`zstd --long=28`) converts when the memory limit leaves
/// room for its window, and is refused, naming the window and the limit that allows it,
/// when it does not.
#[test]
fn a_long_window_zstd_file_converts_under_the_limit_its_refusal_names() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{HEADER}{}", rows("chr5", 5000));
    let want = converted(dir.path(), "clean", text.as_bytes(), BY_INDEX, &["-q"]).stdout;
    let long = {
        let mut e = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        e.set_parameter(zstd::stream::raw::CParameter::WindowLog(28))
            .unwrap();
        e.long_distance_matching(true).unwrap();
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    let says = refused(
        dir.path(),
        "long_window",
        &long,
        &["--memory-limit", "256MiB"],
        (1, Some(0)),
        &[
            "256MiB window",
            "more than the 256MiB memory limit sets aside",
            "a --memory-limit of ",
        ],
    );
    let limit = says
        .split("a --memory-limit of ")
        .nth(1)
        .and_then(|s| s.split(" or more").next())
        .unwrap()
        .replace(' ', "");
    let o = converted(
        dir.path(),
        "long.zst",
        &long,
        BY_INDEX,
        &["-q", "--memory-limit", &limit],
    );
    assert!(o.stdout == want, "under {limit}");
}

/// A header file is read as a header line is: `bcftools query -H` decorations and a
/// byte-order mark removed; one whose names are separated by spaces is refused saying so.
#[test]
fn header_files_are_read_as_header_lines_are() {
    let dir = tempfile::tempdir().unwrap();
    let body = rows("chr6", 300);
    let want = converted(
        dir.path(),
        "with_header",
        format!("{HEADER}{body}").as_bytes(),
        BY_NAME,
        &["-q"],
    )
    .stdout;
    let matrix = dir.path().join("body.txt");
    std::fs::write(&matrix, &body).unwrap();
    for (name, header) in [
        ("plain", HEADER.to_string()),
        (
            "bcftools",
            "# [1]CHROM\t[2]POS\t[3]REF\t[4]s1:GT\t[5]s2:GT\t[6]s3:GT\t[7]s4:GT\t[8]s5:GT\n".into(),
        ),
        (
            "bcftools_bom_crlf",
            "\u{feff}#[1]CHROM\t[2]POS\t[3]REF\t[4]s1\t[5]s2\t[6]s3\t[7]s4\t[8]s5\r\n".into(),
        ),
    ] {
        let h = dir.path().join(format!("{name}.header"));
        std::fs::write(&h, header).unwrap();
        let cfg = dir.path().join("by_name.toml");
        std::fs::write(&cfg, BY_NAME).unwrap();
        let o = convert(
            &[
                "-q",
                "--config",
                path(&cfg),
                "--header",
                path(&h),
                path(&matrix),
            ],
            None,
        );
        assert!(
            o.code == Some(0) && o.stdout == want,
            "{name}: {}",
            o.stderr
        );
        // The same as `header_file` in the config.
        std::fs::write(
            &cfg,
            format!("header_file = {:?}\n{BY_NAME}", h.to_str().unwrap()),
        )
        .unwrap();
        let o = convert(&["-q", "--config", path(&cfg), path(&matrix)], None);
        assert!(
            o.code == Some(0) && o.stdout == want,
            "{name} (config): {}",
            o.stderr
        );
    }
    // `bcftools query -H ... | tr '|' '\t'`: the header names one column per sample, the
    // lines hold two.
    let split = format!(
        "# [1]CHROM\t[2]POS\t[3]REF\t[4]x:GT\t[5]y:GT\n{}",
        "chr1\t5\tA\tA\tC\tA\tA\nchr1\t9\tG\tG\tG\tT\tG\n"
    );
    refused(
        dir.path(),
        "split_genotypes",
        split.as_bytes(),
        &[],
        (2, Some(41)),
        &[
            "7 fields, but the header line has 5",
            "genotypes split into haplotypes",
        ],
    );
    for (name, header, says) in [
        ("spaces", HEADER.replace('\t', " "), "separated by spaces"),
        (
            "old_mac",
            HEADER.replace('\n', "\r") + "x\r",
            "\\r without \\n",
        ),
    ] {
        let h = dir.path().join(format!("{name}.header"));
        std::fs::write(&h, header).unwrap();
        let cfg = dir.path().join("by_name.toml");
        std::fs::write(&cfg, BY_NAME).unwrap();
        let out = dir.path().join(name).join("o.txt");
        std::fs::create_dir(out.parent().unwrap()).unwrap();
        let o = convert(
            &[
                "--config",
                path(&cfg),
                "--header",
                path(&h),
                path(&matrix),
                "-o",
                path(&out),
            ],
            None,
        );
        assert_eq!(o.code, Some(2), "{name}: {}", o.stderr);
        let at = format!("{}: line 1, byte offset 0: ", path(&h));
        assert!(
            o.stderr.contains(&at) && o.stderr.contains(says),
            "{name}: {}",
            o.stderr
        );
        assert_eq!(std::fs::read_dir(out.parent().unwrap()).unwrap().count(), 0);
    }
}

/// The refusal of a comment line, after `bad input: FILE: line L, byte offset B: `.
const COMMENT_LINE: &str = "a comment line (it starts with '#' and is not a header line): \
     hapflow does not read comment lines; remove them first, e.g. with `grep -v '^#'` (or \
     `awk '!/^#/ || /^#CHROM/'` to keep a #CHROM header line)";

/// Blank lines before the header line are skipped as blank lines before a headerless
/// matrix's first line are: the header line is still the header, in table and VCF output.
#[test]
fn blank_lines_before_the_header_line_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let clean = format!("{HEADER}{}", rows("chr1", 60));
    for format in ["table", "vcf"] {
        let args = ["-q", "--format", format];
        let want = converted(dir.path(), "clean", clean.as_bytes(), BY_NAME, &args).stdout;
        // The last: a Windows file (its byte-order mark) after a blank line.
        let cases = [
            ("one", "\n"),
            ("crlf_and_lf", "\r\n\n\n"),
            ("then_a_bom", "\n\u{feff}"),
        ];
        for (name, blanks) in cases {
            let input = format!("{blanks}{clean}");
            let o = converted(dir.path(), name, input.as_bytes(), BY_NAME, &args);
            assert!(
                o.stdout == want,
                "{format}, {name}: output differs from the clean variant's"
            );
        }
    }
}

/// A line starting with `#` that is neither a header line nor a VCF's is named as a comment
/// line, at its own line and byte, wherever it is: first, after blank lines, after the
/// header line, among the rows, last; with or without spaces or tabs in it. A header line
/// other than the input's among the rows is still named as a header line, and a `#CHROM`
/// header line whose names are separated by spaces as separated by spaces.
#[test]
fn comment_lines_are_named_as_comment_lines() {
    let dir = tempfile::tempdir().unwrap();
    let body = rows("chr1", 60);
    let clean = format!("{HEADER}{body}");
    let (head10, tail) = {
        let cut = body.match_indices('\n').nth(9).unwrap().0 + 1;
        (&body[..cut], &body[cut..])
    };
    let cases: Vec<(&str, String, u64, usize)> = vec![
        ("first", format!("# made by my pipeline\n{clean}"), 1, 0),
        (
            "first_headerless",
            format!("#made by my pipeline\n{body}"),
            1,
            0,
        ),
        (
            "after_blank_lines",
            format!("\n\n# made by my pipeline\n{clean}"),
            3,
            2,
        ),
        (
            "after_the_header",
            format!("{HEADER}#source\tmy pipeline\n{body}"),
            2,
            HEADER.len(),
        ),
        (
            "among_rows",
            format!("{HEADER}{head10}# part two\n{tail}"),
            12,
            HEADER.len() + head10.len(),
        ),
        ("last", format!("{clean}#end\n"), 62, clean.len()),
        (
            "commented_out_row",
            format!("{HEADER}{head10}#{tail}"),
            12,
            HEADER.len() + head10.len(),
        ),
    ];
    for (name, input, line, byte) in cases {
        for format in ["table", "vcf"] {
            let file = dir.path().join(format!("{name}.txt"));
            std::fs::write(&file, &input).unwrap();
            let args = [
                "-q",
                "--format",
                format,
                "--config",
                &write_config(dir.path(), BY_NAME),
                path(&file),
            ];
            let o = convert(&args, None);
            assert_eq!(o.code, Some(2), "{name}, {format}: {}", o.stderr);
            let want = format!(
                "hapflow: bad input: {}: line {line}, byte offset {byte}: {COMMENT_LINE}\n",
                path(&file)
            );
            assert_eq!(o.stderr, want, "{name}, {format}");
            assert!(o.stdout.is_empty(), "{name}, {format}");
        }
    }
    // Writes `text` as NAME.txt and converts it with the pairs by name.
    let refused = |name: &str, text: String| {
        let file = dir.path().join(format!("{name}.txt"));
        std::fs::write(&file, text).unwrap();
        let config = write_config(dir.path(), BY_NAME);
        convert(&["-q", "--config", &config, path(&file)], None)
    };
    let other_header = format!("{clean}#CHROM\tPOS\tREF\tx1\tx2\tx3\tx4\tx5\n{body}");
    let o = refused("other_header", other_header);
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(
        o.stderr.contains(": line 62, byte offset ")
            && o.stderr.contains("this is a header line, and not the same"),
        "{}",
        o.stderr
    );
    let spaced = format!(
        "{}{body}",
        HEADER.replace("CHROM", "#CHROM").replace('\t', " ")
    );
    let o = refused("spaced_header", spaced);
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(
        o.stderr
            .contains(": line 1, byte offset 0: no tab in the line, but spaces"),
        "{}",
        o.stderr
    );
}
