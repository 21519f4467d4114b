//! SIGTERM: the daemon checkpoints and exits 0 at once, also when the reader is already at
//! the end of the input, and the job resumes after a restart.

use super::{job, MINUTE};
use crate::helper::daemon::{names, Daemon};
use crate::helper::{convert_once, generate};
use std::time::Duration;

#[test]
fn sigterm_mid_file_checkpoints_exits_0_within_5_s_and_resumes() {
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let input = work.join("m.txt.gz");
    generate(
        &input,
        &["--size", "30MiB", "--contigs", "3", "--gzip", "--seed", "9"],
    );
    let expected = work.join("expected.txt");
    convert_once(&input, &expected, None);

    let slow = [("HAPFLOW_FAILPOINTS", "chunk.written=sleep(25)")];
    let mut d = Daemon::start_with_env(root.path(), "", &slow);
    std::fs::rename(&input, d.inbox().join("m.txt.gz")).unwrap();
    let running = d.wait_until(MINUTE, "progress", |s| {
        s["jobs"]
            .as_array()
            .is_some_and(|j| j.iter().any(|j| j["bytes_done"].as_u64() > Some(1 << 20)))
    });
    assert_eq!(running["daemon"]["state"], "ready");
    assert_eq!(job(&d.status(), "m.txt.gz")["state"], "running");
    let ended = d.terminate();
    assert_eq!(ended.status.code(), Some(0), "{}", d.log());
    assert!(ended.took < Duration::from_secs(5), "{:?}", ended.took);
    let stopped = d.status();
    assert_eq!(stopped["daemon"]["state"], "stopped");
    assert_eq!(job(&stopped, "m.txt.gz")["state"], "queued");

    d.restart_with_env(&[]);
    let status = d.wait_settled_jobs(1, MINUTE);
    let j = job(&status, "m.txt.gz");
    assert_eq!(j["state"], "done");
    assert!(j["resumed_at_byte"].as_u64() > Some(0), "{status}");
    assert!(d.log().contains("resume"));
    assert!(
        std::fs::read(d.outbox().join("m.haplotype.txt")).unwrap()
            == std::fs::read(&expected).unwrap()
    );
}

/// Regression: a stop request once waited for every chunk in flight when the reader had
/// already reached the end of the input, so SIGTERM finished the whole file instead of
/// checkpointing at once.
#[test]
fn regression_sigterm_stops_even_when_the_reader_is_done() {
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let input = work.join("m.txt");
    // Four 1 MiB chunks: the reader has them all in flight at once.
    generate(&input, &["--size", "4MiB", "--contigs", "2"]);
    let mut d = Daemon::start_with_env(
        root.path(),
        "",
        &[("HAPFLOW_FAILPOINTS", "chunk.written=sleep(700)")],
    );
    std::fs::rename(&input, d.inbox().join("m.txt")).unwrap();
    d.wait_until(MINUTE, "the first chunk", |s| {
        s["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["bytes_done"].as_u64() > Some(0))
    });
    let ended = d.terminate();
    assert_eq!(ended.status.code(), Some(0));
    assert!(
        ended.took < Duration::from_millis(1500),
        "took {:?}: it converted on",
        ended.took
    );
    assert!(
        names(&d.outbox()).iter().all(|n| n.starts_with('.')),
        "published after the stop request"
    );
    assert!(d.inbox().join("m.txt").exists());
}
