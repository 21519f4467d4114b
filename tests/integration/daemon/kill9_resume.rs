//! `kill -9` and restart: mid-file at several moments (and five times on a 1.2 GB matrix,
//! ignored by default), and between every pair of steps of the checkpoint and publishing
//! protocol: the output is published once, byte-identical to `hapflow convert`'s; and a
//! daemon writing VCF + BGZF killed mid-file.

use super::{assert_published_once, job, same_file, LIMIT_64, MINUTE};
use crate::convert::output_formats::{checked, convert, generated, inflate, ok, path, tool};
use crate::helper::daemon::{drop_by_rename, names, Daemon};
use crate::helper::{convert_once, generate};
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

/// kill -9 at several moments of one file, each followed by a restart: the output is
/// byte-identical to `hapflow convert`'s, and the status says where the job resumed.
#[test]
fn kill_9_mid_file_then_restart_resumes_byte_identical() {
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let input = work.join("big.txt");
    generate(
        &input,
        &["--size", "40MiB", "--contigs", "8", "--seed", "5"],
    );
    let expected = work.join("expected.txt");
    convert_once(&input, &expected, None);

    // Slow the daemon down (60 ms a 1 MiB chunk) so that kills land mid-file.
    let slow = [("HAPFLOW_FAILPOINTS", "chunk.written=sleep(60)")];
    let mut d = Daemon::start_with_env(root.path(), "", &slow);
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
        let ended = d.kill9();
        assert_eq!(ended.status.signal(), Some(libc::SIGKILL));
        // Nothing partial is published.
        assert!(
            names(&d.outbox()).iter().all(|n| n.starts_with('.')),
            "{:?}",
            names(&d.outbox())
        );
        d.restart();
        if let Some(b) = job(&d.status(), "big.txt")["resumed_at_byte"].as_u64() {
            resumed.push(b);
        }
    }
    let status = d.wait_settled_jobs(1, MINUTE);
    assert_eq!(job(&status, "big.txt")["state"], "done", "{status}");
    assert!(
        resumed.iter().any(|&b| b > 0),
        "no restart resumed past byte 0: {resumed:?}\n{}",
        d.log()
    );
    let published = std::fs::read(d.outbox().join("big.haplotype.txt")).unwrap();
    assert!(
        published == std::fs::read(&expected).unwrap(),
        "the resumed output differs from convert's"
    );
    assert_eq!(
        names(&d.outbox()),
        ["big.haplotype.txt"],
        "work files left behind"
    );
    assert_eq!(d.terminate().status.code(), Some(0));
}

/// The README's figure: kill -9 at five moments of a 1.2 GB matrix under a 64 MiB ceiling,
/// each followed by a restart. Run with
/// `cargo test --test integration -- --ignored kill_9_five_times` (a debug build: its
/// failpoints are on).
#[test]
#[ignore = "1.2 GB of data and about a minute"]
fn kill_9_five_times_on_a_1_2_gb_matrix() {
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let input = work.join("big.txt");
    generate(&input, &["--size", "1200MiB", "--contigs", "16"]);
    let size = std::fs::metadata(&input).unwrap().len();
    let expected = work.join("expected.txt");
    convert_once(&input, &expected, None);
    std::fs::write(
        root.path().join("hapflow.toml"),
        format!("[memory]\nlimit = \"64MiB\"\n{}", Daemon::config_text("")),
    )
    .unwrap();
    // A little slower than free-running (2 ms a 1 MiB chunk) so five kills fit in one file.
    let slow = [("HAPFLOW_FAILPOINTS", "chunk.written=sleep(2)")];
    let mut d = Daemon::start_with_env(root.path(), "", &slow);
    std::fs::rename(&input, d.inbox().join("big.txt")).unwrap();
    let mut resumed = Vec::new();
    for (round, fraction) in [0.1, 0.3, 0.5, 0.7, 0.9].into_iter().enumerate() {
        let at = (size as f64 * fraction) as u64;
        d.wait_until(MINUTE * 2, &format!("{fraction} of the input"), |s| {
            s["jobs"]
                .as_array()
                .is_some_and(|j| j.iter().any(|j| j["bytes_done"].as_u64() >= Some(at)))
        });
        let ended = d.kill9();
        assert!(
            ended.max_rss <= LIMIT_64,
            "round {round}: peak RSS {}",
            ended.max_rss
        );
        assert!(
            !d.outbox().join("big.haplotype.txt").exists(),
            "published before the end"
        );
        d.restart();
        resumed.push(job(&d.status(), "big.txt")["resumed_at_byte"].as_u64());
    }
    d.wait_settled_jobs(1, MINUTE * 2);
    let ended = d.terminate();
    assert_eq!(ended.status.code(), Some(0));
    assert!(ended.max_rss <= LIMIT_64, "peak RSS {}", ended.max_rss);
    eprintln!("resumed at: {resumed:?}");
    assert!(resumed.iter().flatten().any(|&b| b > 0), "{resumed:?}");
    assert!(same_file(&d.outbox().join("big.haplotype.txt"), &expected));
}

/// The daemon dies (as abruptly as `kill -9`) between each pair of steps of the checkpoint
/// and publishing protocol: output written / fsynced / record written / flushed / published
/// / input archived. After a restart the output is published exactly once, byte-identical
/// to `hapflow convert`'s, and the input archived exactly once.
#[test]
fn a_crash_at_every_step_publishes_exactly_once() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("m.txt");
    // Several contigs, so checkpoints happen mid-file too.
    generate(
        &input,
        &["--size", "6MiB", "--contigs", "6", "--seed", "21"],
    );
    let expected = work.path().join("expected.txt");
    convert_once(&input, &expected, None);
    let content = std::fs::read(&input).unwrap();
    for point in [
        "chunk.written=exit@3",
        "checkpoint.synced=exit@2",
        "checkpoint.recorded=exit@2",
        "checkpoint.flushed=exit@2",
        "checkpoint.flushed=exit@4",
        "publish.recorded=exit",
        "publish.linked=exit",
        "publish.done=exit",
        "archive.moved=exit",
    ] {
        let root = tempfile::tempdir().unwrap();
        let mut d = Daemon::start_with_env(root.path(), "", &[("HAPFLOW_FAILPOINTS", point)]);
        drop_by_rename(&d.inbox(), "m.txt", &content);
        let ended = d.wait_exit();
        assert_eq!(
            ended.status.code(),
            Some(137),
            "{point}: the failpoint was not reached\n{}",
            d.log()
        );
        d.restart_with_env(&[]);
        let status = d.wait_settled_jobs(1, MINUTE);
        let jobs = status["jobs"].as_array().unwrap();
        assert_eq!(jobs.len(), 1, "{point}: {status}");
        assert_eq!(jobs[0]["state"], "done", "{point}: {status}");
        assert_published_once(&d, &expected, point);
        assert_eq!(
            names(&d.state().join("archive")),
            ["m.txt"],
            "{point}: archived once"
        );
        assert!(names(&d.inbox()).is_empty(), "{point}");
        assert_eq!(d.terminate().status.code(), Some(0));
    }
}

/// The daemon writing VCF + BGZF, killed (-9) mid-file three times: the resumed job
/// publishes `<stem>.vcf.gz`, which inflates to `convert --format vcf`'s output and is
/// byte-identical to the same file converted by the daemon without a crash.
#[test]
fn daemon_vcf_bgzf_killed_mid_file_resumes_to_the_same_bytes() {
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
}

/// A VCF job killed right after a checkpoint (as abruptly as `kill -9`) whose next records
/// fall below the last POS their contig had before the checkpoint: the resumed job knows
/// each contig's last POS from the checkpoint, and fails naming the same line, byte and
/// POS as `hapflow convert --format vcf` on the same input; nothing is published.
#[test]
fn a_vcf_pos_falling_across_the_resume_point_fails_the_job_like_convert() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("m.txt");
    generate(&input, &["--size", "3MiB", "--contigs", "2", "--seed", "3"]);
    // chr1, then chr2, then chr1 again from its start: a contig coming back below its last
    // POS, in the last chunk, after the checkpoint made where the input moved to chr2.
    let text = std::fs::read(&input).unwrap();
    let mut matrix = text.clone();
    matrix.extend(
        text.split_inclusive(|&b| b == b'\n')
            .skip(1)
            .take(199)
            .flatten(),
    );
    std::fs::write(&input, &matrix).unwrap();
    let convert = crate::helper::hapflow()
        .args(["convert", "--format", "vcf", "--quiet"])
        .arg(&input)
        .arg("-o")
        .arg(work.path().join("m.vcf"))
        .output()
        .unwrap();
    assert_eq!(convert.status.code(), Some(2), "{convert:?}");
    let stderr = String::from_utf8_lossy(&convert.stderr);
    let reason = stderr
        .split_once(": line ")
        .map(|(_, r)| format!("line {}", r.trim()))
        .unwrap_or_else(|| panic!("convert names no line: {stderr}"));
    assert!(reason.contains("comes after POS"), "{reason}");

    let root = tempfile::tempdir().unwrap();
    let mut d = Daemon::start_with_env(
        root.path(),
        "[output]\nformat = \"vcf\"",
        &[("HAPFLOW_FAILPOINTS", "checkpoint.flushed=exit")],
    );
    drop_by_rename(&d.inbox(), "m.txt", &matrix);
    assert_eq!(d.wait_exit().status.code(), Some(137), "{}", d.log());

    d.restart_with_env(&[]);
    let status = d.wait_settled_jobs(1, MINUTE);
    let j = job(&status, "m.txt");
    assert!(j["resumed_at_byte"].as_u64() > Some(0), "{status}");
    assert_eq!(j["state"], "failed", "{status}\n{}", d.log());
    let error = j["error"].as_str().unwrap();
    assert!(
        error.ends_with(&reason),
        "daemon: {error}\nconvert: {reason}"
    );
    assert!(
        names(&d.outbox()).iter().all(|n| n.starts_with('.')),
        "{:?}",
        names(&d.outbox())
    );
    assert_eq!(d.terminate().status.code(), Some(0));
}
