//! File modes and users: nothing the daemon creates is world-writable whatever the umask, and
//! the group workflow (the daemon as a service user, a second user in its group; root only).

use super::{as_member, job, shared_root, walk, AS_SERVICE, GROUP, MEMBER, MINUTE, SERVICE};
use crate::helper;
use crate::helper::convert_once;
use crate::helper::daemon::{drop_by_rename, Daemon};
use std::path::Path;

/// Outputs, reports and state are never world-writable, even under `umask = "0000"`.
#[test]
fn nothing_the_daemon_creates_is_world_writable() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(root.path(), "umask = \"0000\"");
    drop_by_rename(
        &d.inbox(),
        "m.txt",
        &std::fs::read(helper::data("golden/plain/input.txt")).unwrap(),
    );
    drop_by_rename(&d.inbox(), "bad.txt", b"c\t1\tA\n");
    d.wait_settled_jobs(2, MINUTE);
    assert_eq!(d.terminate().status.code(), Some(0));
    let mut checked = 0;
    for dir in ["outbox", "failed", "state"] {
        for p in walk(&root.path().join(dir)) {
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(
                mode & 0o002,
                0,
                "{} is world-writable ({mode:o})",
                p.display()
            );
            checked += 1;
        }
    }
    let out = std::fs::metadata(d.outbox().join("m.haplotype.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        out & 0o777,
        0o664,
        "0666 less the umask, less others' write"
    );
    assert!(checked >= 4);
}

/// The README's group workflow: the daemon runs as the service user, a second user in
/// the service's group drops a matrix into the inbox, collects the table from the outbox,
/// removes it, and reads the status. The three shared folders are created 2770 whatever
/// the umask; outputs are 0640 under the service configuration's umask, in the group.
#[test]
fn a_second_user_in_the_group_drops_files_and_collects_results() {
    use std::os::unix::fs::MetadataExt;
    let root = shared_root();
    let work = root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let input = work.join("m.txt");
    std::fs::copy(helper::data("golden/plain/input.txt"), &input).unwrap();
    let expected = work.join("expected.txt");
    convert_once(&input, &expected, None);

    let d = Daemon::start_as(root.path(), "umask = \"0027\"", &[], &AS_SERVICE);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o7777;
    for dir in [d.inbox(), d.outbox(), d.failed()] {
        assert_eq!(mode(&dir), 0o2770, "{}", dir.display());
        assert_eq!(std::fs::metadata(&dir).unwrap().gid(), GROUP);
    }
    assert_eq!(mode(&d.state()), 0o750);

    let part = d.inbox().join("m.txt.part");
    let (code, _, err) = as_member(&["cp".as_ref(), input.as_os_str(), part.as_os_str()]);
    assert_eq!(code, Some(0), "the member cannot drop a file: {err}");
    let (code, _, err) = as_member(&[
        "mv".as_ref(),
        part.as_os_str(),
        d.inbox().join("m.txt").as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let status = d.wait_settled_jobs(1, MINUTE);
    assert_eq!(job(&status, "m.txt")["state"], "done", "{status}");

    // The member's file took the inbox's group (set-group-ID), whatever the member's own.
    let dropped = std::fs::metadata(d.state().join("archive/m.txt")).unwrap();
    assert_eq!((dropped.uid(), dropped.gid()), (MEMBER, GROUP));
    let output = d.outbox().join("m.haplotype.txt");
    let meta = std::fs::metadata(&output).unwrap();
    assert_eq!(
        (meta.mode() & 0o777, meta.uid(), meta.gid()),
        (0o640, SERVICE, GROUP)
    );
    let (code, table, err) = as_member(&["cat".as_ref(), output.as_os_str()]);
    assert_eq!(code, Some(0), "the member cannot read the output: {err}");
    assert!(table == std::fs::read(&expected).unwrap());
    let (code, json, err) = as_member(&[
        helper::bin().as_os_str(),
        "status".as_ref(),
        "--json".as_ref(),
        "--config".as_ref(),
        d.config.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "the member cannot read the status: {err}");
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(job(&v, "m.txt")["state"], "done");
    let (code, _, err) = as_member(&["rm".as_ref(), output.as_os_str()]);
    assert_eq!(code, Some(0), "the member cannot clear the outbox: {err}");
    drop(d);

    // Under a umask that keeps the group out of files, the folders are still 2770.
    let root = shared_root();
    let d = Daemon::start_as(root.path(), "umask = \"0077\"", &[], &AS_SERVICE);
    for dir in [d.inbox(), d.outbox(), d.failed()] {
        assert_eq!(mode(&dir), 0o2770, "{}", dir.display());
    }
}
