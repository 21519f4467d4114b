//! Scaffold-level assemblies through `hapflow convert`: 100,000 contigs fit the default
//! memory limit, or a clear error when the limit is too small for their names.

use super::{convert, path};
use crate::helper::{hapflow, run};

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

/// The line a "too many contigs" refusal names is where the contig that did not fit first
/// appears (its first line), and the count it gives is that contig's place in
/// first-appearance order, whatever the chunk the contig falls in: for table and VCF output,
/// plain and BGZF (where the limit is reached at another contig, the memory plan differing).
#[test]
fn too_many_contigs_names_the_first_line_of_the_contig_that_did_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m.txt");
    let o = run(
        hapflow().args([
            "generate",
            "--size",
            "20MiB",
            "--contigs",
            "20000",
            "--prefix",
            "scaffold_",
            "-o",
            path(&m),
        ]),
        None,
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let text = std::fs::read(&m).unwrap();
    // Each contig's first line: (1-based line, byte offset), in first-appearance order.
    let mut seen = std::collections::HashSet::new();
    let mut firsts = Vec::new();
    let mut at = 0;
    for (i, line) in text.split_inclusive(|&b| b == b'\n').enumerate() {
        let contig = line.split(|&b| b == b'\t').next().unwrap();
        if seen.insert(contig) {
            firsts.push((i as u64 + 1, at));
        }
        at += line.len();
    }
    for (format, compress) in [
        ("table", "none"),
        ("vcf", "none"),
        ("table", "bgzf"),
        ("vcf", "bgzf"),
    ] {
        let args = [
            "-q",
            "--format",
            format,
            "--compress",
            compress,
            "--memory-limit",
            "32MiB",
            path(&m),
            "-o",
            "/dev/null",
        ];
        let o = convert(&args, None);
        let case = format!("{format}, {compress}");
        assert_eq!(o.code, Some(2), "{case}: {}", o.stderr);
        // `...: line L, byte offset B: too many contigs: N distinct contigs do not fit ...`
        let number_after = |key: &str| -> u64 {
            let rest = &o.stderr[o.stderr.find(key).expect(key) + key.len()..];
            rest[..rest.find(|c: char| !c.is_ascii_digit()).unwrap()]
                .parse()
                .unwrap()
        };
        assert!(
            o.stderr
                .contains(" distinct contigs do not fit the memory limit"),
            "{case}: {}",
            o.stderr
        );
        let n = number_after("too many contigs: ") as usize;
        assert!(n > 1 && n <= firsts.len(), "{case}: {}", o.stderr);
        let (line, byte) = firsts[n - 1];
        assert!(
            o.stderr.contains(&format!(
                ": line {line}, byte offset {byte}: too many contigs: {n} "
            )),
            "{case}: contig {n} first appears at line {line} (byte {byte}): {}",
            o.stderr
        );
    }
}
