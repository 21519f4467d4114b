//! The real `hapflow convert` binary: input and output forms, bad input, exit codes.

use crate::helper;

use std::path::{Path, PathBuf};

use crate::helper::{data, hapflow, run, Outcome};

const LIMIT_32: u64 = 32 << 20;

fn convert(args: &[&str], stdin: Option<&Path>) -> Outcome {
    run(hapflow().arg("convert").args(args), stdin)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Files in `dir`, hidden temporary ones included.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn golden(case: &str) -> PathBuf {
    data(&format!("golden/{case}/input.txt"))
}

#[test]
fn stdin_to_stdout_equals_file_to_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.txt");
    let a = convert(&["-q", path(&golden("plain")), "-o", path(&out)], None);
    assert_eq!(a.code, Some(0), "{}", a.stderr);
    assert!(a.stdout.is_empty());
    let b = convert(&["-q", "-"], Some(&golden("plain")));
    assert_eq!(b.code, Some(0), "{}", b.stderr);
    assert_eq!(b.stdout, std::fs::read(&out).unwrap());
    let c = convert(&["-q", "-", "-o", "-"], Some(&golden("plain")));
    assert_eq!(c.stdout, b.stdout);
    assert_eq!(
        listing(dir.path()),
        ["o.txt"],
        "no temporary file left behind"
    );
}

#[test]
fn gzip_through_stdin_is_recognised_by_its_bytes() {
    let plain = convert(&["-q", "-"], Some(&golden("plain")));
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("no_gz_suffix");
    let o = run(
        hapflow()
            .args(["generate", "--gzip", "-o", path(&gz)])
            .args(
                std::fs::read_to_string(data("golden/plain/generate.args"))
                    .unwrap()
                    .split_whitespace(),
            ),
        None,
    );
    assert_eq!(o.code, Some(0));
    let zipped = convert(&["-q", "-"], Some(&gz));
    assert_eq!(zipped.code, Some(0), "{}", zipped.stderr);
    assert_eq!(zipped.stdout, plain.stdout);
}

/// A header line and a header file give the same names, so pairs by name resolve the same.
#[test]
fn header_file_and_header_line_agree() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[[pair]]\nfirst = { label = \"x\", column = \"s5\" }\nsecond = { label = \"y\", column = \"s1\" }\n",
    )
    .unwrap();
    let with_line = golden("header_line");
    let headerless = dir.path().join("m.txt");
    let text = std::fs::read_to_string(&with_line).unwrap();
    std::fs::write(&headerless, text.split_once('\n').unwrap().1).unwrap();
    let a = convert(&["-q", "--config", path(&config), path(&with_line)], None);
    assert_eq!(a.code, Some(0), "{}", a.stderr);
    let b = convert(
        &[
            "-q",
            "--config",
            path(&config),
            "--header",
            path(&data("golden/header.txt")),
            path(&headerless),
        ],
        None,
    );
    assert_eq!(b.code, Some(0), "{}", b.stderr);
    assert_eq!(a.stdout, b.stdout);
    let text = String::from_utf8(a.stdout).unwrap();
    assert!(text.starts_with("contig\tpos\tref\talt\txy_PI\txy_PG_al\n"));
    assert!(text.lines().count() > 100);
    // Without any names, the named pair cannot be resolved.
    let c = convert(&["-q", "--config", path(&config), path(&headerless)], None);
    assert_eq!(c.code, Some(2));
    assert!(c.stderr.contains("no header line"), "{}", c.stderr);
}

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

#[test]
fn usage_and_config_errors_exit_2_io_errors_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "threads = 2\nunknown_key = 1\n").unwrap();
    let o = convert(&["--config", path(&config), path(&golden("plain"))], None);
    assert_eq!(o.code, Some(2));
    assert!(o.stderr.contains("unknown_key"), "{}", o.stderr);
    assert_eq!(
        convert(&["--memory-limit", "lots", "x"], None).code,
        Some(2)
    );
    assert_eq!(convert(&[], None).code, Some(2));
    let o = convert(&["--memory-limit", "4MiB", path(&golden("plain"))], None);
    assert_eq!(o.code, Some(2));
    assert!(o.stderr.contains("too small"), "{}", o.stderr);

    let missing = dir.path().join("missing.txt");
    let o = convert(&[path(&missing)], None);
    assert_eq!(o.code, Some(1));
    assert!(o.stderr.contains(path(&missing)), "{}", o.stderr);
    let o = convert(
        &[
            path(&golden("plain")),
            "-o",
            path(&dir.path().join("no/such/dir/o.txt")),
        ],
        None,
    );
    assert_eq!(o.code, Some(1));
    assert!(o.stderr.contains("no/such/dir"), "{}", o.stderr);
}

#[test]
fn summary_line_unless_quiet() {
    let o = convert(&[path(&golden("plain")), "-o", "/dev/null"], None);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let line = o.stderr.trim();
    assert!(
        line.starts_with("hapflow: 1500 rows in, 261 rows out, 3 contigs"),
        "{line}"
    );
    assert!(line.contains(" MB/s, peak memory "), "{line}");
    let o = convert(&["-q", path(&golden("plain")), "-o", "/dev/null"], None);
    assert_eq!(o.stderr, "");
}

#[test]
fn empty_and_header_only_inputs_give_just_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let header_line = std::fs::read_to_string(data("golden/header.txt")).unwrap();
    for (name, text) in [
        ("empty", ""),
        ("blank", "\n\r\n\n"),
        ("header_only", &header_line),
    ] {
        let input = dir.path().join(name);
        std::fs::write(&input, text).unwrap();
        let o = convert(&["-q", path(&input)], None);
        assert_eq!(o.code, Some(0), "{name}: {}", o.stderr);
        let out = String::from_utf8(o.stdout).unwrap();
        assert!(
            out.starts_with("contig\tpos\tref\talt\t10a10b_PI"),
            "{name}"
        );
        assert_eq!(out.lines().count(), 1, "{name}");
    }
}

/// Scaffold-level assemblies: 100,000 contigs work under the default limit; a limit too
/// small for their names is a clear error, not growth past the ceiling. (The input is large
/// enough that every chunk buffer is still in use when the names overflow: once the reader
/// is done, returned buffers give their bytes back to the budget.)
#[test]
fn many_contigs_fit_the_default_limit_or_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m.txt");
    let o = run(
        hapflow().args([
            "generate",
            "--rows",
            "200000",
            "--contigs",
            "100000",
            "--interleave",
            "1",
            "--prefix",
            "scaffold_",
            "-o",
            path(&m),
        ]),
        None,
    );
    assert_eq!(o.code, Some(0));
    let o = convert(&[path(&m), "-o", "/dev/null"], None);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(
        o.stderr.contains(" 100000 contigs (regrouped),"),
        "{}",
        o.stderr
    );
    let o = convert(
        &["-q", "--memory-limit", "24MiB", path(&m), "-o", "/dev/null"],
        None,
    );
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(o.stderr.contains("too many contigs"), "{}", o.stderr);
    assert!(o.stderr.contains(": line "), "{}", o.stderr);
    assert!(o.max_rss <= 24 << 20, "{}", o.max_rss);
}

/// Regression: `convert -o /dev/null` once renamed its output over the device node (as
/// root, that broke /dev/null for the whole machine).
#[test]
fn regression_output_to_dev_null_keeps_the_device() {
    use std::os::unix::fs::FileTypeExt;
    let o = convert(
        &["-q", path(&golden("interleaved")), "-o", "/dev/null"],
        None,
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let m = std::fs::metadata("/dev/null").unwrap();
    assert!(m.file_type().is_char_device(), "/dev/null was replaced");
}

/// Regression: `hapflow status | head` (and `convert ... | head`) once panicked on the
/// broken pipe; now they end quietly with status 141, as `cat` does.
#[test]
fn regression_a_closed_pipe_ends_quietly() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("m.txt");
    assert_eq!(
        run(
            hapflow().args(["generate", "--size", "4MiB", "-o", path(&big)]),
            None
        )
        .code,
        Some(0)
    );
    let mut child = hapflow()
        .args(["convert", "-q", path(&big)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away at once
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(141));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for _ in 0..20 {
        let mut status = Command::new(helper::bin())
            .args(["status", "--json", "--state", path(dir.path())])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(status.stdout.take());
        let out = status.wait_with_output().unwrap();
        // Written before the pipe closed, or not: never a panic (101).
        assert!(
            matches!(out.status.code(), Some(0 | 141)),
            "{:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `generate` needs two haplotype columns at least (its variant rows pick carriers among
/// half of them): fewer is a usage error, exit 2, and no output file is made.
#[test]
fn generate_refuses_fewer_than_two_haplotypes() {
    let dir = tempfile::tempdir().unwrap();
    for n in ["0", "1"] {
        let out = dir.path().join(format!("g{n}.txt"));
        let o = run(
            hapflow()
                .args(["generate", "--rows", "10", "--haplotypes", n, "-o"])
                .arg(&out),
            None,
        );
        assert_eq!(o.code, Some(2), "{}", o.stderr);
        assert!(o.stderr.contains("--haplotypes"), "{}", o.stderr);
        assert!(!out.exists());
    }
    let out = dir.path().join("g2.txt");
    let o = run(
        hapflow()
            .args(["generate", "--rows", "10", "--haplotypes", "2", "-o"])
            .arg(&out),
        None,
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 10);
}
