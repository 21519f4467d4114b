//! What must hold on a hostile analysis box (issue 5): crashes at every step of the
//! protocol, strange inbox entries, bursts, bad bytes. Each test runs the real daemon.

mod helper;

use std::path::Path;
use std::time::Duration;

use helper::daemon::{drop_by_rename, names, Daemon};
use helper::{hapflow, run};

const MINUTE: Duration = Duration::from_secs(60);

fn generate(path: &Path, args: &[&str]) {
    let o = run(
        hapflow().arg("generate").args(args).arg("-o").arg(path),
        None,
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
}

fn convert_once(input: &Path, out: &Path) {
    let o = run(
        hapflow()
            .args(["convert", "-q"])
            .arg(input)
            .arg("-o")
            .arg(out),
        None,
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
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
    convert_once(&input, &expected);
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
        assert_eq!(
            names(&d.outbox()),
            ["m.haplotype.txt"],
            "{point}: published once, nothing else left"
        );
        assert!(
            std::fs::read(d.outbox().join("m.haplotype.txt")).unwrap()
                == std::fs::read(&expected).unwrap(),
            "{point}: output differs"
        );
        assert_eq!(
            names(&d.state().join("archive")),
            ["m.txt"],
            "{point}: archived once"
        );
        assert!(names(&d.inbox()).is_empty(), "{point}");
        assert_eq!(d.terminate().status.code(), Some(0));
    }
}
