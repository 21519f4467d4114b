//! Bad input to `hapflow convert`: exit 2, the first bad line named, a missing pair column
//! named, and no output left behind, under 32 MiB.

use std::path::Path;

use super::{convert, golden, listing, path};

const LIMIT_32: u64 = 32 << 20;

/// One bad input: its text, and the line the error must name.
struct Bad {
    name: &'static str,
    bytes: Vec<u8>,
    /// Bytes of `A` appended, then a newline: a line too long for any chunk, written to the
    /// file a piece at a time so the test process never holds it.
    long_tail: usize,
    line: u64,
    says: &'static str,
}

impl Bad {
    fn write(&self, path: &Path) {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
        f.write_all(&self.bytes).unwrap();
        let piece = [b'A'; 1 << 16];
        for _ in 0..self.long_tail / piece.len() {
            f.write_all(&piece).unwrap();
        }
        if self.long_tail > 0 {
            f.write_all(b"\n").unwrap();
        }
        f.flush().unwrap();
    }
}

fn good_line(contig: &str, pos: u32) -> String {
    let mut l = format!("{contig}\t{pos}\tA");
    for i in 3..34 {
        l += if i == 9 { "\tC" } else { "\tA" };
    }
    l + "\n"
}

fn bad_inputs() -> Vec<Bad> {
    let lines = |bad: &str| -> Vec<u8> {
        let mut t = good_line("c1", 1) + &good_line("c1", 2) + "\n";
        t += bad;
        t += &good_line("c1", 9);
        t.into_bytes()
    };
    let short = good_line("c1", 3).replacen("\tA\n", "\n", 1);
    let empty_chrom = good_line("", 3);
    let empty_ref = good_line("c1", 3).replacen("\tA\t", "\t\t", 1);
    let empty_allele = good_line("c1", 3).replacen("\tC\t", "\t\t", 1);
    let bad_pos = good_line("c1", 3).replacen("\t3\t", "\t3e5\t", 1);
    let nul = good_line("c1", 3).replacen("\tC\t", "\tC\0\t", 1);
    let mut long_line = lines("");
    long_line.extend_from_slice(b"c1\t4\tA\t");
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for i in 0..20_000 {
        std::io::Write::write_all(&mut z, good_line("c1", i).as_bytes()).unwrap();
    }
    let z = z.finish().unwrap();
    vec![
        Bad {
            name: "field_count",
            long_tail: 0,
            bytes: lines(&short),
            line: 4,
            says: "33 fields, but the header (or first line) has 34",
        },
        Bad {
            name: "empty_chrom",
            long_tail: 0,
            bytes: lines(&empty_chrom),
            line: 4,
            says: "empty CHROM",
        },
        Bad {
            name: "empty_ref",
            long_tail: 0,
            bytes: lines(&empty_ref),
            line: 4,
            says: "empty REF",
        },
        Bad {
            name: "empty_allele",
            long_tail: 0,
            bytes: lines(&empty_allele),
            line: 4,
            says: "empty allele in column 9",
        },
        Bad {
            name: "pos_not_integer",
            long_tail: 0,
            bytes: lines(&bad_pos),
            line: 4,
            says: "POS \"3e5\" is not a non-negative integer",
        },
        Bad {
            name: "nul_byte",
            long_tail: 0,
            bytes: lines(&nul),
            line: 4,
            says: "NUL byte",
        },
        Bad {
            name: "line_48_mib",
            long_tail: 48 << 20,
            bytes: long_line,
            line: 5,
            says: "line longer than",
        },
        Bad {
            name: "truncated_gzip",
            long_tail: 0,
            bytes: z[..z.len() * 2 / 3].to_vec(),
            line: 0,
            says: "the gzip input is cut short or corrupt",
        },
    ]
}

#[test]
fn eight_kinds_of_bad_input_exit_2_name_the_line_and_leave_nothing() {
    for bad in bad_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join(format!("{}.txt", bad.name));
        bad.write(&input);
        let out_dir = dir.path().join("out");
        std::fs::create_dir(&out_dir).unwrap();
        let out = out_dir.join("result.txt");
        let o = convert(
            &[
                "-q",
                "--memory-limit",
                "32MiB",
                path(&input),
                "-o",
                path(&out),
            ],
            None,
        );
        assert_eq!(o.code, Some(2), "{}: {}", bad.name, o.stderr);
        assert!(
            o.stderr.contains(path(&input)),
            "{}: file not named: {}",
            bad.name,
            o.stderr
        );
        let line = if bad.line == 0 {
            " line ".to_string()
        } else {
            format!(": line {},", bad.line)
        };
        assert!(
            o.stderr.contains(&line),
            "{}: {line:?} not in: {}",
            bad.name,
            o.stderr
        );
        assert!(
            o.stderr.contains("byte offset"),
            "{}: {}",
            bad.name,
            o.stderr
        );
        assert!(
            o.stderr.contains(bad.says),
            "{}: {:?} not in: {}",
            bad.name,
            bad.says,
            o.stderr
        );
        assert!(
            listing(&out_dir).is_empty(),
            "{}: left {:?}",
            bad.name,
            listing(&out_dir)
        );
        assert!(
            o.max_rss <= LIMIT_32,
            "{}: peak RSS {} over 32 MiB",
            bad.name,
            o.max_rss
        );
        // Through stdin to stdout: nothing at all is written.
        let o = convert(&["-q", "--memory-limit", "32MiB", "-"], Some(&input));
        assert_eq!(o.code, Some(2), "{}: {}", bad.name, o.stderr);
        assert!(
            o.stdout.is_empty(),
            "{}: partial output on stdout",
            bad.name
        );
        assert!(o.stderr.contains("<stdin>"), "{}", o.stderr);
    }
}

#[test]
fn the_first_bad_line_is_the_one_reported() {
    let mut t = String::new();
    for i in 0..50_000 {
        t += &good_line("c1", i);
    }
    t += "c1\tx\tA\n";
    t += &good_line("", 1);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("m.txt");
    std::fs::write(&input, &t).unwrap();
    let o = convert(&["-q", "--threads", "2", path(&input)], None);
    assert_eq!(o.code, Some(2));
    assert!(
        o.stderr.contains(": line 50001, byte offset"),
        "{}",
        o.stderr
    );
    let offset = t.find("c1\tx").unwrap();
    assert!(
        o.stderr.contains(&format!("byte offset {offset}:")),
        "{}",
        o.stderr
    );
}

#[test]
fn a_pair_column_that_does_not_exist_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[[pair]]\nfirst = { label = \"a\", column = 3 }\nsecond = { label = \"b\", column = 40 }\n",
    )
    .unwrap();
    let out = dir.path().join("o.txt");
    let o = convert(
        &[
            "-q",
            "--config",
            path(&config),
            path(&golden("plain")),
            "-o",
            path(&out),
        ],
        None,
    );
    assert_eq!(o.code, Some(2));
    assert!(o.stderr.contains("golden/plain/input.txt"), "{}", o.stderr);
    assert!(
        o.stderr.contains("pair 1 (ab): column 40 does not exist"),
        "{}",
        o.stderr
    );
    assert!(!out.exists());
}
