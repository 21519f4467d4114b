//! `hapflow status` against a daemon that is starting, and against no state folder.

use crate::helper;
use crate::helper::daemon::Daemon;
use std::time::Duration;

/// `hapflow status` works from the moment a daemon takes its state folder: `starting`
/// while it recovers, never an error; and a state folder that does not exist is an error,
/// not "no jobs".
#[test]
fn status_says_starting_during_start_and_refuses_a_missing_state_folder() {
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("hapflow.toml");
    std::fs::write(&config, Daemon::config_text("")).unwrap();
    let status = |extra: &[&str]| {
        let out = std::process::Command::new(helper::bin())
            .args(["status", "--json", "--config"])
            .arg(&config)
            .args(extra)
            .output()
            .unwrap();
        (out.status.code(), out.stdout, out.stderr)
    };
    let mut child = std::process::Command::new(helper::bin())
        .args(["serve", "--config"])
        .arg(&config)
        .env("HAPFLOW_FAILPOINTS", "serve.locked=sleep(1500)")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    // Until the daemon has made its state folder, there is nothing to ask (and asking is
    // an error: a missing state folder is refused, as checked below).
    let state = root.path().join("state");
    while !state.exists() {
        assert!(std::time::Instant::now() < deadline, "no state folder");
        std::thread::sleep(Duration::from_millis(5));
    }
    while seen.last().map(String::as_str) != Some("ready") {
        assert!(std::time::Instant::now() < deadline, "{seen:?}");
        let (code, stdout, stderr) = status(&[]);
        assert_eq!(
            code,
            Some(0),
            "status failed while the daemon started (after {seen:?}): {}",
            String::from_utf8_lossy(&stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
        let state = v["daemon"]["state"].as_str().unwrap().to_string();
        if seen.last() != Some(&state) {
            seen.push(state);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen.contains(&"starting".to_string()), "{seen:?}");

    let (code, _, stderr) = status(&["--state", root.path().join("typo/").to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&stderr);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
}

/// After a crash right after a checkpoint (as abrupt as `kill -9`), the restarted daemon's
/// `hapflow status` shows the recovered job's progress at that checkpoint (bytes and
/// contigs done) before the job runs again; not 0.
#[test]
fn a_recovered_job_shows_its_checkpoint_progress_until_it_runs_again() {
    use super::{job, MINUTE};
    use crate::helper::daemon::drop_by_rename;
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("m.txt");
    helper::generate(&input, &["--size", "3MiB", "--contigs", "3", "--seed", "4"]);
    let root = tempfile::tempdir().unwrap();
    let mut d = Daemon::start_with_env(
        root.path(),
        "",
        &[("HAPFLOW_FAILPOINTS", "checkpoint.flushed=exit")],
    );
    drop_by_rename(&d.inbox(), "m.txt", &std::fs::read(&input).unwrap());
    assert_eq!(d.wait_exit().status.code(), Some(137), "{}", d.log());

    // Restarted, the job waits (each chunk slowed) before it moves again: until then the
    // status shows the checkpoint's figures.
    d.restart_with_env(&[(
        "HAPFLOW_FAILPOINTS".into(),
        "chunk.written=sleep(2000)".into(),
    )]);
    let restarted = d.status();
    let j = job(&restarted, "m.txt");
    let done = j["bytes_done"].as_u64().unwrap();
    assert!(done > 0, "bytes_done 0 after a checkpoint: {restarted}");
    assert!(j["contigs_done_count"].as_u64() > Some(0), "{restarted}");
    assert!(!j["contigs_done"][0].is_null(), "{restarted}");
    assert_eq!(d.terminate().status.code(), Some(0));
    d.restart_with_env(&[]);
    let settled = d.wait_settled_jobs(1, MINUTE);
    assert_eq!(job(&settled, "m.txt")["state"], "done", "{settled}");
}
