//! A damaged state store (truncated, zero-filled, overwritten): moved aside, work goes on; a
//! damaged checkpoint: its job starts over from the beginning.

use super::{assert_published_once, walk, MINUTE};
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

/// Rewrites every entry of contig `from` in a contig journal to the name `to` (same
/// length): the journal still reads back, but names a contig the spool does not hold.
fn rename_in_journal(journal: &Path, from: &[u8], to: &[u8]) -> usize {
    assert_eq!(from.len(), to.len());
    let mut bytes = std::fs::read(journal).unwrap();
    assert_eq!(&bytes[..5], b"HFCJ\x02", "a version 2 journal");
    let mut at = 8; // the magic
    let mut renamed = 0;
    // Entries: id u32, bytes u64, last POS u64, name length u32, name.
    while at + 24 <= bytes.len() {
        let n = u32::from_le_bytes(bytes[at + 20..at + 24].try_into().unwrap()) as usize;
        let name = at + 24..at + 24 + n;
        if bytes[name.clone()] == *from {
            bytes[name].copy_from_slice(to);
            renamed += 1;
        }
        at += 24 + n;
    }
    std::fs::write(journal, bytes).unwrap();
    renamed
}

/// A checkpoint whose contig journal is damaged (it reads back, but a contig's name in it
/// is wrong, so the spool does not match it) is the store's fault, not the input's: the
/// job starts again from the beginning and publishes the same bytes as `hapflow convert`,
/// instead of being retried for ever or its good input going to `failed/`.
#[test]
fn a_damaged_checkpoint_restarts_the_job_from_the_beginning() {
    let work = tempfile::tempdir().unwrap();
    // chrA1, a short chrB1, chrA1 again (so the output is regrouped at the end), chrC1:
    // the first checkpoint is taken where the input leaves chrA1 for chrB1 and back.
    let mut matrix = Vec::new();
    for (i, args) in [
        ["--size", "6MiB", "--prefix", "chrA", "--seed", "31"],
        ["--rows", "200", "--prefix", "chrB", "--seed", "32"],
        ["--size", "6MiB", "--prefix", "chrA", "--seed", "33"],
        ["--size", "6MiB", "--prefix", "chrC", "--seed", "34"],
    ]
    .iter()
    .enumerate()
    {
        let part = work.path().join(format!("part{i}.txt"));
        generate(&part, &[args.as_slice(), &["--contigs", "1"]].concat());
        matrix.extend(std::fs::read(&part).unwrap());
    }
    let input = work.path().join("m.txt");
    std::fs::write(&input, &matrix).unwrap();
    let expected = work.path().join("expected.txt");
    convert_once(&input, &expected, None);

    let root = tempfile::tempdir().unwrap();
    let mut d = Daemon::start_with_env(
        root.path(),
        "",
        &[("HAPFLOW_FAILPOINTS", "checkpoint.flushed=exit")],
    );
    drop_by_rename(&d.inbox(), "m.txt", &matrix);
    assert_eq!(d.wait_exit().status.code(), Some(137), "{}", d.log());
    let journals = names(&d.state().join("checkpoints"));
    assert_eq!(journals.len(), 1, "{journals:?}");
    let journal = d.state().join("checkpoints").join(&journals[0]);
    assert!(
        rename_in_journal(&journal, b"chrB1", b"chrZ1") > 0,
        "the first checkpoint does not list chrB1"
    );

    d.restart_with_env(&[]);
    let status = d.wait_settled_jobs(1, MINUTE);
    assert_eq!(status["jobs"][0]["state"], "done", "{status}\n{}", d.log());
    assert_published_once(&d, &expected, "a damaged checkpoint");
    assert!(
        names(&d.failed()).is_empty(),
        "a good input went to failed/"
    );
    assert!(
        d.log().contains("a damaged checkpoint"),
        "the restart is not logged:\n{}",
        d.log()
    );
    assert_eq!(d.terminate().status.code(), Some(0));
}
