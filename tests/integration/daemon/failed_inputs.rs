//! Inputs that fail go to `failed/` with a report: one bad file never holds up the others,
//! the report is on disk before the input leaves the inbox (crash between the steps), and a
//! bad file the daemon may not move stays until it changes.

use super::{as_member, job, shared_root, AS_SERVICE, GROUP, MINUTE};
use crate::helper;
use crate::helper::daemon::{drop_by_rename, names, Daemon};
use std::time::Duration;

/// An unreadable input, a name too long for the names derived from it, and bad content
/// are each that file's problem: to `failed/` with a report (or converted, the long name
/// shortened), logged once, and the good file dropped after them is converted. (Regression:
/// the first two were retried forever as machine failures, and every file behind them
/// waited.)
#[test]
fn one_bad_file_never_holds_up_the_others() {
    use std::os::unix::fs::PermissionsExt;
    let root = shared_root();
    let d = Daemon::start_as(root.path(), "", &[], &AS_SERVICE);
    let good = std::fs::read(helper::data("golden/plain/input.txt")).unwrap();

    let staging = root.path().join(".locked");
    std::fs::write(&staging, &good).unwrap();
    std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::rename(&staging, d.inbox().join("locked.txt")).unwrap();
    let long = format!("{}.txt", "l".repeat(240));
    drop_by_rename(&d.inbox(), &long, &good);
    drop_by_rename(&d.inbox(), "bad.txt", b"c\t1\tA\n");
    std::thread::sleep(Duration::from_millis(500));
    drop_by_rename(&d.inbox(), "good.txt", &good);

    let status = d.wait_settled_jobs(4, MINUTE);
    let locked = job(&status, "locked.txt");
    assert_eq!(locked["state"], "failed", "{status}");
    assert!(
        locked["error"]
            .as_str()
            .unwrap()
            .contains("ermission denied"),
        "{locked}"
    );
    assert_eq!(job(&status, "bad.txt")["state"], "failed");
    assert_eq!(job(&status, "good.txt")["state"], "done");
    let long_job = job(&status, &long);
    assert_eq!(long_job["state"], "done", "{long_job}");
    let shortened = format!("{}.haplotype.txt", "l".repeat(200));
    assert_eq!(long_job["output"], shortened.as_str());
    assert!(d.outbox().join(&shortened).exists());
    assert_eq!(
        names(&d.failed()),
        [
            "bad.txt",
            "bad.txt.error.txt",
            "locked.txt",
            "locked.txt.error.txt"
        ]
    );
    let report = std::fs::read_to_string(d.failed().join("locked.txt.error.txt")).unwrap();
    assert!(report.contains("ermission denied"), "{report}");
    // Logged once, not once per rescan.
    std::thread::sleep(Duration::from_millis(2500));
    let log = d.log();
    let said = log
        .lines()
        .filter(|l| l.contains("failed:") && l.contains("locked.txt"))
        .count();
    assert_eq!(said, 1, "{log}");
}

/// The daemon dies between writing a failure report and moving the input, and between
/// recording the failure and moving the input: the input never leaves the inbox without
/// its report, and after a restart `failed/` holds the input and one report, the reason
/// in the status. A name that is not UTF-8 gets a report named byte for byte after it.
#[test]
fn a_failure_report_is_on_disk_before_its_input_leaves_the_inbox() {
    use std::os::unix::ffi::OsStrExt;
    for point in ["fail.reported=exit", "fail.recorded=exit"] {
        let root = tempfile::tempdir().unwrap();
        let mut d = Daemon::start_with_env(root.path(), "", &[("HAPFLOW_FAILPOINTS", point)]);
        drop_by_rename(&d.inbox(), "bad.txt", b"c\t1\tA\n");
        let ended = d.wait_exit();
        assert_eq!(ended.status.code(), Some(137), "{point}: not reached");
        assert_eq!(names(&d.inbox()), ["bad.txt"], "{point}");
        assert!(
            std::fs::read_to_string(d.failed().join("bad.txt.error.txt"))
                .unwrap()
                .contains("error:"),
            "{point}: the input is still in the inbox, its report must be on disk"
        );
        d.restart_with_env(&[]);
        let status = d.wait_settled_jobs(1, MINUTE);
        let job = job(&status, "bad.txt");
        assert_eq!(job["state"], "failed", "{point}: {status}");
        assert!(job["error"].as_str().is_some_and(|e| !e.is_empty()));
        assert!(names(&d.inbox()).is_empty(), "{point}");
        assert_eq!(
            names(&d.failed()),
            ["bad.txt", "bad.txt.error.txt"],
            "{point}"
        );
        assert_eq!(d.terminate().status.code(), Some(0));
    }

    let root = tempfile::tempdir().unwrap();
    let d = Daemon::start(root.path(), "");
    let raw = std::ffi::OsStr::from_bytes(b"m\xff.txt");
    std::fs::write(d.inbox().join(raw), b"x").unwrap();
    d.wait_settled_jobs(1, MINUTE);
    let mut failed: Vec<Vec<u8>> = std::fs::read_dir(d.failed())
        .unwrap()
        .map(|e| e.unwrap().file_name().as_bytes().to_vec())
        .filter(|n| !n.starts_with(b"."))
        .collect();
    failed.sort();
    assert_eq!(
        failed,
        [b"m\xff.txt".to_vec(), b"m\xff.txt.error.txt".to_vec()]
    );
}

/// A bad file the daemon may not move (a member's file in an inbox that someone else owns,
/// with the sticky bit) stays in the inbox: failed in the status with its reason, logged once however many
/// rescans pass, not taken again until it changes; then it is tried again.
#[test]
fn a_bad_file_that_cannot_be_moved_stays_until_it_changes() {
    use std::os::unix::fs::PermissionsExt;
    let root = shared_root();
    let d = Daemon::start_as(root.path(), "", &[], &AS_SERVICE);
    std::os::unix::fs::chown(d.inbox(), Some(0), Some(GROUP)).unwrap();
    std::fs::set_permissions(d.inbox(), std::fs::Permissions::from_mode(0o3770)).unwrap();
    let bad = d.inbox().join("bad.txt");
    let (code, _, err) = as_member(&[
        "sh".as_ref(),
        "-c".as_ref(),
        format!("printf 'c\\t1\\tA\\n' > {}", bad.display()).as_ref(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let status = d.wait_settled_jobs(1, MINUTE);
    let job = job(&status, "bad.txt");
    assert_eq!(job["state"], "failed", "{status}");
    let error = job["error"].as_str().unwrap();
    assert!(error.contains("stays in the inbox"), "{error}");
    assert!(bad.exists());
    let report = std::fs::read_to_string(d.failed().join("bad.txt.error.txt")).unwrap();
    assert!(report.contains("stays in the inbox"), "{report}");
    // Three rescans later: still one job, one log line.
    std::thread::sleep(Duration::from_millis(3200));
    let said = |log: &str| {
        log.lines()
            .filter(|l| l.contains("failed:") && l.contains("bad.txt"))
            .count()
    };
    assert_eq!(d.status()["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(said(&d.log()), 1, "{}", d.log());
    // It changes: tried again (and fails again, being still bad).
    let (code, _, err) = as_member(&[
        "sh".as_ref(),
        "-c".as_ref(),
        format!("printf 'c\\t2\\tA\\n' >> {}", bad.display()).as_ref(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    d.wait_settled_jobs(2, MINUTE);
    assert_eq!(said(&d.log()), 2, "{}", d.log());
}
