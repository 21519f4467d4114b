//! Input and output forms of `hapflow convert`: stdin and stdout, gzip recognised by its
//! bytes, a header file or a header line, empty and header-only inputs, `-o /dev/null`.

use super::{convert, golden, listing, path};
use crate::helper::{data, hapflow, run};

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
