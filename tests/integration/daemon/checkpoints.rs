//! Checkpoints that cannot be used: a commit that fails (the job resumes from the last good
//! one) and one made under other settings (dropped, the job starts over, never a mixed output).

use super::{assert_published_once, job, same_file, MINUTE};
use crate::helper::daemon::{drop_by_rename, Daemon};
use crate::helper::{convert_once, generate, hapflow, run};
use std::path::Path;
use std::time::Duration;

/// Every data line of a table has as many fields as its header.
fn assert_one_field_count(table: &Path) {
    let text = std::fs::read_to_string(table).unwrap();
    let mut lines = text.lines();
    let fields = lines.next().unwrap().split('\t').count();
    for (i, line) in lines.enumerate() {
        assert_eq!(
            line.split('\t').count(),
            fields,
            "line {} of {} has another field count than its header",
            i + 2,
            table.display()
        );
    }
}

/// A job stopped mid-file, then started again after the pair layout changed: its checkpoint
/// was made under other settings, so it is dropped and the job starts over, with a log
/// line. The output is the new layout's conversion throughout. (Regression: the first rows
/// had 34 fields and the rest 6, and the job was called done.)
#[test]
fn a_checkpoint_made_under_other_settings_is_dropped_never_a_mixed_output() {
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let input = work.join("m.txt");
    generate(
        &input,
        &["--size", "20MiB", "--contigs", "6", "--seed", "11"],
    );
    let slow = [("HAPFLOW_FAILPOINTS", "chunk.written=sleep(60)")];
    let mut d = Daemon::start_with_env(root.path(), "", &slow);
    std::fs::copy(&input, work.join("m.copy")).unwrap();
    std::fs::rename(work.join("m.copy"), d.inbox().join("m.txt")).unwrap();
    d.wait_until(MINUTE, "progress", |s| {
        s["jobs"].as_array().is_some_and(|j| {
            j.iter()
                .any(|j| j["state"] == "running" && j["bytes_done"].as_u64() > Some(0))
        })
    });
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(d.terminate().status.code(), Some(0));

    let one_pair = "[[pair]]\nfirst = { label = \"x\", column = 3 }\n\
                    second = { label = \"y\", column = 4 }\n";
    std::fs::write(&d.config, Daemon::config_text(one_pair)).unwrap();
    let expected = work.join("expected.txt");
    let o = run(
        hapflow()
            .args(["convert", "-q", "--config"])
            .arg(&d.config)
            .arg(&input)
            .arg("-o")
            .arg(&expected),
        None,
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    d.restart_with_env(&[]);
    let status = d.wait_settled_jobs(1, MINUTE);
    assert_eq!(job(&status, "m.txt")["state"], "done", "{status}");
    assert_eq!(
        job(&status, "m.txt")["resumed_at_byte"],
        serde_json::Value::Null,
        "resumed a checkpoint made under other settings: {status}"
    );
    let published = d.outbox().join("m.haplotype.txt");
    assert_one_field_count(&published);
    assert!(
        same_file(&published, &expected),
        "not the new layout's output"
    );
    assert!(
        d.log().contains("other conversion settings"),
        "no log line says why the job started over:\n{}",
        d.log()
    );
    assert_eq!(d.terminate().status.code(), Some(0));
}

/// A checkpoint whose commit fails (here its fsync, by failpoint) while the conversion has
/// gone on: the job stops, waits out its backoff, resumes from the last checkpoint that did
/// commit, and publishes the same bytes as `hapflow convert`, once.
#[test]
fn a_failed_checkpoint_commit_resumes_from_the_last_good_one() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("m.txt");
    generate(
        &input,
        &["--size", "6MiB", "--contigs", "6", "--seed", "22"],
    );
    let expected = work.path().join("expected.txt");
    convert_once(&input, &expected, None);
    let root = tempfile::tempdir().unwrap();
    let mut d = Daemon::start_with_env(
        root.path(),
        "",
        &[("HAPFLOW_FAILPOINTS", "checkpoint.synced=error@2")],
    );
    drop_by_rename(&d.inbox(), "m.txt", &std::fs::read(&input).unwrap());
    let status = d.wait_settled_jobs(1, MINUTE);
    let log = d.log();
    assert!(
        log.contains("failpoint checkpoint.synced: failing"),
        "{log}"
    );
    assert!(
        log.contains("will retry"),
        "the failure did not reach the job:\n{log}"
    );
    let job = &status["jobs"][0];
    assert_eq!(job["state"], "done", "{status}");
    assert!(
        job["resumed_at_byte"].as_u64().is_some_and(|b| b > 0),
        "not resumed from the first checkpoint: {status}"
    );
    assert_published_once(&d, &expected, "a failed commit");
    assert_eq!(d.terminate().status.code(), Some(0));
}
