//! `hapflow convert`'s exit codes (usage and configuration errors 2, I/O errors 1, a closed
//! pipe 141 and quiet, SIGINT/SIGTERM/SIGHUP 128 + the signal with nothing left behind) and
//! its summary line.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::{convert, golden, listing, path};
use crate::helper;
use crate::helper::{generate, hapflow, run};

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

/// `--compress-level` on a plain output is refused as `--fai` without VCF is (exit 2, saying
/// why), not silently ignored; a level out of range names the flag and the range 0..=12.
#[test]
fn compress_level_needs_bgzf_output_and_a_level_from_0_to_12() {
    let dir = tempfile::tempdir().unwrap();
    let plain = golden("plain");
    let o = convert(
        &[
            "--compress-level",
            "6",
            path(&plain),
            "-o",
            path(&dir.path().join("o.txt")),
        ],
        None,
    );
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(
        o.stderr.contains("--compress-level") && o.stderr.contains("plain text"),
        "{}",
        o.stderr
    );
    assert_eq!(listing(dir.path()), Vec::<String>::new());
    // To stdout (plain unless --compress bgzf), the same.
    let o = convert(&["--compress-level", "6", path(&plain)], None);
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(o.stdout.is_empty());
    // BGZF by the flag or by the name: accepted.
    for (args, name) in [
        (&["--compress", "bgzf"][..], "o.txt"),
        (&[][..], "o.txt.gz"),
        (&[][..], "o.bgz"),
    ] {
        let out = dir.path().join(name);
        let o = convert(
            &[
                args,
                &["--compress-level", "6", path(&plain), "-o", path(&out)],
            ]
            .concat(),
            None,
        );
        assert_eq!(o.code, Some(0), "{name}: {}", o.stderr);
        assert_eq!(&std::fs::read(&out).unwrap()[..2], b"\x1f\x8b", "{name}");
    }
    let spellings: [&[&str]; 3] = [
        &["--compress-level", "13"],
        &["--compress-level", "-1"],
        &["--compress-level=-1"],
    ];
    for level in spellings {
        let o = convert(
            &[&["--compress", "bgzf"], level, &[path(&plain)]].concat(),
            None,
        );
        assert_eq!(o.code, Some(2), "{level:?}: {}", o.stderr);
        assert!(
            o.stderr.contains("--compress-level") && o.stderr.contains("0..=12"),
            "{level:?}: {}",
            o.stderr
        );
        assert!(!o.stderr.contains("output.compress_level"), "{}", o.stderr);
    }
}

/// Polls `ready` every 2 ms for up to a minute.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < Duration::from_secs(60), "never: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The hidden temporary files (`.NAME.XXXXXX.tmp`) in `dir`, with their sizes.
fn temp_files(dir: &Path) -> Vec<(String, u64)> {
    listing(dir)
        .into_iter()
        .filter(|n| n.starts_with('.') && n.ends_with(".tmp"))
        .map(|n| {
            let len = std::fs::metadata(dir.join(&n)).map_or(0, |m| m.len());
            (n, len)
        })
        .collect()
}

fn send(child: &Child, signal: i32) {
    // SAFETY: kill with the pid of a child not yet waited for.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => unreachable!(),
    }
}

/// A matrix of interleaved contigs (`size`), its bytes.
fn matrix(dir: &Path, size: &str) -> (std::path::PathBuf, Vec<u8>) {
    let m = dir.join("m.txt");
    generate(
        &m,
        &[
            "--size",
            size,
            "--contigs",
            "20",
            "--interleave",
            "300",
            "--seed",
            "7",
        ],
    );
    let bytes = std::fs::read(&m).unwrap();
    (m, bytes)
}

/// Runs `convert ARGS -` (to `out` in its own folder, or stdout), feeds it the first half of
/// a matrix through a pipe, waits until its temporary output holds bytes, sends `signal`,
/// then feeds the rest: the run stops with status 128 + signal, one line saying so, no output
/// and nothing left beside where it would have been.
fn stopped_while_converting(signal: i32, args: &[&str], out: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = matrix(dir.path(), "6MiB");
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let mut cmd = hapflow();
    cmd.args(["convert", "-q", "--threads", "1", "--memory-limit", "32MiB"])
        .args(args)
        .arg("-");
    if let Some(name) = out {
        cmd.arg("-o").arg(out_dir.join(name));
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let half = bytes.len() / 2;
    stdin.write_all(&bytes[..half]).unwrap();
    if out.is_some() {
        wait_for("a temporary output with bytes in it", || {
            temp_files(&out_dir).iter().any(|(_, len)| *len > 0)
        });
    }
    send(&child, signal);
    // The rest wakes a reader waiting on the pipe; the stopped run need not take it all.
    let _ = stdin.write_all(&bytes[half..]);
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    let context = format!("{} {args:?} -o {out:?}: {stderr}", signal_name(signal));
    assert_eq!(o.status.code(), Some(128 + signal), "{context}");
    assert_eq!(
        stderr.trim(),
        format!(
            "hapflow: stopped by {}; no output written, temporary files removed",
            signal_name(signal)
        ),
        "{context}"
    );
    assert!(o.stdout.is_empty(), "{context}");
    assert_eq!(listing(&out_dir), Vec::<String>::new(), "{context}");
}

/// SIGINT (Ctrl-C), SIGTERM and SIGHUP stop a conversion to a file, table and VCF, plain and
/// BGZF, and remove its temporary output: status 130, 143, 129, nothing left.
#[test]
fn a_stop_signal_ends_convert_with_128_plus_signal_and_leaves_nothing() {
    let cases: [(i32, &[&str], &str); 6] = [
        (libc::SIGINT, &[], "o.txt"),
        (libc::SIGTERM, &["--format", "vcf"], "o.vcf"),
        (libc::SIGHUP, &[], "o.txt"),
        (libc::SIGINT, &["--format", "vcf"], "o.vcf.gz"),
        (libc::SIGTERM, &["--compress", "bgzf"], "o.txt"),
        (libc::SIGHUP, &["--format", "phase-extender"], "o.txt"),
    ];
    for (signal, args, out) in cases {
        stopped_while_converting(signal, args, Some(out));
    }
}

/// To stdout there is no file to remove; the status is the same and nothing is written.
#[test]
fn a_stop_signal_ends_convert_to_stdout_with_128_plus_signal_and_no_output() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        stopped_while_converting(signal, &["--format", "vcf"], None);
    }
}

/// Interleaved contigs written as BGZF are regrouped after the input is read: inflated into
/// an unnamed file, regrouped, compressed again into a second temporary output beside the
/// first. A SIGTERM then (both temporary files present) removes both: status 143.
#[test]
fn a_sigterm_during_the_final_regroup_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (m, _) = matrix(dir.path(), "8MiB");
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    // Level 12, libdeflate's slowest, keeps the compression long enough to be caught in.
    let child = hapflow()
        .args(["convert", "-q", "--threads", "1", "--memory-limit", "32MiB"])
        .args([
            "--format",
            "vcf",
            "--compress",
            "bgzf",
            "--compress-level",
            "12",
        ])
        .arg(&m)
        .arg("-o")
        .arg(out_dir.join("o.vcf.gz"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the regrouped copy beside the spool", || {
        temp_files(&out_dir).len() == 2
    });
    send(&child, libc::SIGTERM);
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("stopped by SIGTERM"), "{stderr}");
    assert_eq!(listing(&out_dir), Vec::<String>::new());
    assert_eq!(listing(dir.path()), ["m.txt", "out"]);
}

/// A second stop signal does not wait for the first to take effect: with the reader
/// waiting on a pipe that sends nothing more, SIGINT alone cannot stop the run, and the
/// SIGTERM after it ends the process at once with status 143.
#[test]
fn a_second_stop_signal_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = matrix(dir.path(), "2MiB");
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let mut child = hapflow()
        .args(["convert", "-q", "--threads", "1", "-", "-o"])
        .arg(out_dir.join("o.txt"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&bytes[..bytes.len() / 2]).unwrap();
    wait_for("a temporary output", || !temp_files(&out_dir).is_empty());
    send(&child, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended without the rest of its input"
    );
    send(&child, libc::SIGTERM);
    let start = Instant::now();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(143));
    assert!(start.elapsed() < Duration::from_secs(10));
    drop(stdin);
}

/// A stop signal the process was started with ignored (`nohup` ignores SIGHUP) stays
/// ignored: the conversion runs to its end and publishes its output.
#[test]
fn an_inherited_ignored_sighup_stays_ignored() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = matrix(dir.path(), "2MiB");
    let out = dir.path().join("o.txt");
    let mut cmd = hapflow();
    cmd.args(["convert", "-q", "--threads", "1", "-", "-o"])
        .arg(&out)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: only `signal`, async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&bytes[..bytes.len() / 2]).unwrap();
    wait_for("a temporary output", || !temp_files(dir.path()).is_empty());
    send(&child, libc::SIGHUP);
    stdin.write_all(&bytes[bytes.len() / 2..]).unwrap();
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(std::fs::metadata(&out).unwrap().len() > 0);
    assert!(temp_files(dir.path()).is_empty());
}
