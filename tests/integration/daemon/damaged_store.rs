//! A damaged state store (truncated, zero-filled, overwritten): moved aside, work goes on.

use super::{walk, MINUTE};
use crate::helper;
use crate::helper::daemon::{drop_by_rename, names, Daemon};
use crate::helper::{convert_once, generate};
use std::path::Path;

/// Overwrites every file of the store in one of three ways.
fn damage(db: &Path, how: &str) {
    for entry in walk(db) {
        let len = std::fs::metadata(&entry).unwrap().len() as usize;
        match how {
            "truncate" => std::fs::OpenOptions::new()
                .write(true)
                .open(&entry)
                .unwrap()
                .set_len(len as u64 / 3)
                .unwrap(),
            "zero" => std::fs::write(&entry, vec![0u8; len]).unwrap(),
            _ => std::fs::write(
                &entry,
                (0..len).map(|i| (i * 7919 % 251) as u8).collect::<Vec<_>>(),
            )
            .unwrap(),
        }
    }
}

/// The store truncated, zero-filled or overwritten while the daemon is stopped: it starts
/// anyway, keeps the damaged store aside, says so loudly, converts the unfinished input
/// again and carries on with new files.
#[test]
fn a_damaged_store_is_moved_aside_and_work_goes_on() {
    let work = tempfile::tempdir().unwrap();
    let big = work.path().join("big.txt");
    generate(&big, &["--size", "12MiB", "--contigs", "4", "--seed", "31"]);
    let expected = work.path().join("expected.txt");
    convert_once(&big, &expected, None);
    let content = std::fs::read(&big).unwrap();
    let small = std::fs::read(helper::data("golden/plain/input.txt")).unwrap();
    for how in ["truncate", "zero", "garbage"] {
        let root = tempfile::tempdir().unwrap();
        let mut d = Daemon::start_with_env(
            root.path(),
            "",
            &[("HAPFLOW_FAILPOINTS", "chunk.written=sleep(40)")],
        );
        drop_by_rename(&d.inbox(), "done.txt", &small);
        d.wait_settled_jobs(1, MINUTE);
        drop_by_rename(&d.inbox(), "big.txt", &content);
        d.wait_until(MINUTE, "a checkpoint", |s| {
            s["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|j| j["input"] == "big.txt" && j["bytes_done"].as_u64() > Some(0))
        });
        assert_eq!(d.terminate().status.code(), Some(0));
        damage(&d.state().join("db"), how);

        d.restart_with_env(&[]);
        assert!(
            d.log().contains("THE CHECKPOINT STORE IS DAMAGED"),
            "{how}:\n{}",
            d.log()
        );
        assert!(
            names(&d.state())
                .iter()
                .any(|n| n.starts_with("db.damaged-")),
            "{how}: not kept"
        );
        drop_by_rename(&d.inbox(), "new.txt", &small);
        d.wait_until(MINUTE, "big.txt and new.txt done", |s| {
            let done = |n: &str| {
                s["jobs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|j| j["input"] == n && j["state"] == "done")
            };
            done("big.txt") && done("new.txt")
        });
        assert!(
            std::fs::read(d.outbox().join("big.haplotype.txt")).unwrap()
                == std::fs::read(&expected).unwrap(),
            "{how}: the reconverted output differs"
        );
        assert_eq!(
            names(&d.outbox()),
            [
                "big.haplotype.txt",
                "done.haplotype.txt",
                "new.haplotype.txt"
            ],
            "{how}"
        );
        assert_eq!(d.terminate().status.code(), Some(0));
    }
}
