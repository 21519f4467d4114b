//! `hapflow convert`'s exit codes (usage and configuration errors 2, I/O errors 1, a closed
//! pipe 141 and quiet) and its summary line.

use super::{convert, golden, path};
use crate::helper;
use crate::helper::{hapflow, run};

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
