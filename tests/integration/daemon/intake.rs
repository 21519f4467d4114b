//! Which inbox entries become jobs, and when: files dropped by rename or written slowly,
//! files present at start, a FIFO and a directory, a file its writer still holds open, strange
//! names and hard links, a burst of 2,000 files.

use super::{golden_input, job, same_file, LIMIT_64, MINUTE};
use crate::helper;
use crate::helper::daemon::{drop_by_rename, names, Daemon};
use crate::helper::{assert_same_conversion, convert_once, data, generate, read_matrix};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// The daemon's output for a golden case equals the reference's (ALT compared as a set).
pub(super) fn check_against_reference(output: &Path, case: &str, file: &str) {
    let ours = std::fs::read_to_string(output).unwrap();
    let reference = std::fs::read_to_string(data(&format!("golden/{case}/reference.txt"))).unwrap();
    let matrix = read_matrix(&data(&format!("golden/{case}/{file}")));
    assert_same_conversion(&matrix, &ours, &reference);
}

/// The scenario hapflow was made for: a plain matrix, one with a header line and a gzip one by rename,
/// a slow writer, a malformed file, a symlink and temporary names, under a 64 MiB ceiling.
#[test]
fn mixed_inbox_under_64_mib() {
    let root = tempfile::tempdir().unwrap();
    let header = root.path().join("header.txt");
    std::fs::copy(data("golden/header.txt"), &header).unwrap();
    let extra = format!(
        "header_file = {:?}\n[memory]\nlimit = \"64MiB\"",
        header.to_str().unwrap()
    );
    // `header_file` is a top-level key: it must come before the first table.
    let config = root.path().join("hapflow.toml");
    std::fs::write(
        &config,
        format!("{extra}\n{}", Daemon::config_text(""))
            .replacen("\n[memory]\nlimit = \"64MiB\"", "", 1)
            .replacen("[daemon]", "[memory]\nlimit = \"64MiB\"\n\n[daemon]", 1),
    )
    .unwrap();
    let mut d = Daemon::start(root.path(), "");
    let inbox = d.inbox();

    // Temporary names first: they must be left alone throughout.
    for name in ["x.part", ".hidden", "y.tmp", "z~", "w.crdownload"] {
        std::fs::write(inbox.join(name), "not a matrix").unwrap();
    }
    drop_by_rename(&inbox, "plain.txt", &golden_input("plain", "input.txt"));
    drop_by_rename(
        &inbox,
        "header.txt",
        &golden_input("header_line", "input.txt"),
    );
    drop_by_rename(&inbox, "g.txt.gz", &golden_input("gzip", "input.txt.gz"));
    let mut bad = String::from_utf8(golden_input("plain", "input.txt")).unwrap();
    let third = bad.match_indices('\n').nth(1).unwrap().0 + 1;
    bad.insert_str(third, "chr1\t12\tA\tA\n");
    drop_by_rename(&inbox, "bad.txt", bad.as_bytes());
    std::os::unix::fs::symlink(data("golden/plain/input.txt"), inbox.join("link.txt")).unwrap();

    // A slow writer: five pieces, each within the settle time of the last.
    let slow = golden_input("crlf", "input.txt");
    let mut f = std::fs::File::create(inbox.join("slow.txt")).unwrap();
    for piece in slow.chunks(slow.len() / 5 + 1) {
        f.write_all(piece).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(120));
    }
    drop(f);

    let status = d.wait_settled_jobs(6, MINUTE);
    let done: Vec<&str> = status["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["state"] == "done")
        .map(|j| j["input"].as_str().unwrap())
        .collect();
    assert_eq!(done.len(), 4, "{status}");
    assert_eq!(
        names(&d.outbox()),
        [
            "g.haplotype.txt",
            "header.haplotype.txt",
            "plain.haplotype.txt",
            "slow.haplotype.txt"
        ]
    );
    check_against_reference(
        &d.outbox().join("plain.haplotype.txt"),
        "plain",
        "input.txt",
    );
    check_against_reference(
        &d.outbox().join("header.haplotype.txt"),
        "header_line",
        "input.txt",
    );
    check_against_reference(&d.outbox().join("g.haplotype.txt"), "gzip", "input.txt.gz");
    check_against_reference(&d.outbox().join("slow.haplotype.txt"), "crlf", "input.txt");

    assert_eq!(
        names(&d.failed()),
        [
            "bad.txt",
            "bad.txt.error.txt",
            "link.txt",
            "link.txt.error.txt"
        ]
    );
    let report = std::fs::read_to_string(d.failed().join("bad.txt.error.txt")).unwrap();
    assert!(
        report.contains("line 3")
            && report.contains("4 fields, but")
            && report.contains("byte offset"),
        "{report}"
    );
    let report = std::fs::read_to_string(d.failed().join("link.txt.error.txt")).unwrap();
    assert!(report.contains("symbolic link"), "{report}");
    assert!(std::fs::symlink_metadata(d.failed().join("link.txt"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        names(&inbox),
        [".hidden", "w.crdownload", "x.part", "y.tmp", "z~"]
    );
    assert_eq!(
        names(&d.state().join("archive")),
        ["g.txt.gz", "header.txt", "plain.txt", "slow.txt"]
    );

    let ended = d.terminate();
    assert_eq!(ended.status.code(), Some(0), "{}", d.log());
    assert!(ended.took < Duration::from_secs(5), "{:?}", ended.took);
    assert!(
        ended.max_rss <= LIMIT_64,
        "peak RSS {} over 64 MiB",
        ended.max_rss
    );
    let after = d.status();
    assert_eq!(after["daemon"]["running"], false);
    assert_eq!(
        after["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|j| j["state"] == "done")
            .count(),
        4
    );
    assert!(d.log().contains("published"));
}

#[test]
fn files_present_at_start_are_taken_and_outputs_never_overwrite() {
    let root = tempfile::tempdir().unwrap();
    for dir in ["inbox", "outbox"] {
        std::fs::create_dir(root.path().join(dir)).unwrap();
    }
    std::fs::write(
        root.path().join("inbox/m.txt"),
        golden_input("plain", "input.txt"),
    )
    .unwrap();
    std::fs::write(root.path().join("outbox/m.haplotype.txt"), "someone else's").unwrap();
    let mut d = Daemon::start(root.path(), "");
    d.wait_settled_jobs(1, MINUTE);
    assert_eq!(names(&d.outbox()), ["m.1.haplotype.txt", "m.haplotype.txt"]);
    assert_eq!(
        std::fs::read_to_string(d.outbox().join("m.haplotype.txt")).unwrap(),
        "someone else's"
    );
    check_against_reference(&d.outbox().join("m.1.haplotype.txt"), "plain", "input.txt");
    assert_eq!(d.terminate().status.code(), Some(0));
}

#[test]
fn a_fifo_and_a_directory_are_refused_without_hanging() {
    let root = tempfile::tempdir().unwrap();
    let d = Daemon::start(root.path(), "");
    let fifo = std::ffi::CString::new(d.inbox().join("pipe.txt").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid C string.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    std::fs::create_dir(d.inbox().join("folder.txt")).unwrap();
    let status = d.wait_settled_jobs(2, MINUTE);
    assert!(job(&status, "pipe.txt")["error"]
        .as_str()
        .unwrap()
        .contains("FIFO"));
    assert!(job(&status, "folder.txt")["error"]
        .as_str()
        .unwrap()
        .contains("directory"));
    // And it carries on with regular files.
    drop_by_rename(&d.inbox(), "after.txt", &golden_input("plain", "input.txt"));
    let status = d.wait_settled_jobs(3, MINUTE);
    assert_eq!(job(&status, "after.txt")["state"], "done");
    assert!(names(&d.failed()).contains(&"pipe.txt.error.txt".to_string()));
}

/// A writer that keeps its file open and pauses far longer than the settle time: the file
/// is not taken while it is open, and once closed it is converted whole. (Regression: half
/// the matrix was converted and published, and the input archived while still open.)
#[test]
fn a_file_held_open_by_its_writer_is_not_taken_until_closed() {
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let input = work.join("m.txt");
    generate(&input, &["--size", "2MiB", "--contigs", "3", "--seed", "4"]);
    let expected = work.join("expected.txt");
    convert_once(&input, &expected, None);
    let content = std::fs::read(&input).unwrap();
    let half = content[..content.len() / 2]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;

    let d = Daemon::start(root.path(), "");
    let mut writer = std::fs::File::create(d.inbox().join("m.txt")).unwrap();
    writer.write_all(&content[..half]).unwrap();
    // Ten settle times and two rescans, the file unchanged but open.
    std::thread::sleep(Duration::from_millis(2200));
    let status = d.status();
    assert!(
        status["jobs"].as_array().unwrap().is_empty(),
        "taken while its writer held it open: {status}"
    );
    assert!(names(&d.outbox()).is_empty());
    writer.write_all(&content[half..]).unwrap();
    drop(writer);
    let status = d.wait_settled_jobs(1, MINUTE);
    assert_eq!(job(&status, "m.txt")["state"], "done", "{status}");
    assert!(same_file(&d.outbox().join("m.haplotype.txt"), &expected));
    assert_eq!(names(&d.state().join("archive")), ["m.txt"]);
}

/// Names with spaces, unicode, a leading dash and a newline, a hard link and an empty
/// file: every regular file converted, nothing written outside the daemon's folders.
#[test]
fn strange_names_hard_links_and_empty_files_are_converted() {
    let root = tempfile::tempdir().unwrap();
    let outside = root.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let mut d = Daemon::start(root.path(), "");
    let matrix = std::fs::read(helper::data("golden/plain/input.txt")).unwrap();
    let names_in = [
        "with space.txt",
        "é матрица.txt",
        "-rf.txt",
        "new\nline.txt",
    ];
    for n in names_in {
        drop_by_rename(&d.inbox(), n, &matrix);
    }
    std::fs::write(outside.join("linked.txt"), &matrix).unwrap();
    std::fs::hard_link(outside.join("linked.txt"), d.inbox().join("hard.txt")).unwrap();
    drop_by_rename(&d.inbox(), "empty.txt", b"");
    let status = d.wait_settled_jobs(6, MINUTE);
    assert!(
        status["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["state"] == "done"),
        "{status}"
    );
    let mut expected: Vec<String> = [
        "with space",
        "é матрица",
        "-rf",
        "new\nline",
        "hard",
        "empty",
    ]
    .iter()
    .map(|s| format!("{s}.haplotype.txt"))
    .collect();
    expected.sort();
    assert_eq!(names(&d.outbox()), expected);
    let reference = std::fs::read(d.outbox().join("with space.haplotype.txt")).unwrap();
    assert!(std::fs::read(d.outbox().join("new\nline.haplotype.txt")).unwrap() == reference);
    assert_eq!(
        std::fs::read_to_string(d.outbox().join("empty.haplotype.txt"))
            .unwrap()
            .lines()
            .count(),
        1
    );
    // The hard link's other name is untouched; nothing else appeared outside.
    assert_eq!(names(&outside), ["linked.txt"]);
    assert_eq!(std::fs::read(outside.join("linked.txt")).unwrap(), matrix);
    assert_eq!(d.terminate().status.code(), Some(0));
}

/// 2,000 small files renamed into the inbox at once: each converted exactly once, the
/// daemon's memory under its ceiling.
#[test]
fn a_burst_of_2000_files_is_converted_exactly_once() {
    let root = tempfile::tempdir().unwrap();
    let staging = root.path().join("staging");
    std::fs::create_dir(&staging).unwrap();
    let small = staging.join("small");
    generate(&small, &["--rows", "40", "--contigs", "2"]);
    let content = std::fs::read(&small).unwrap();
    std::fs::remove_file(&small).unwrap();
    for i in 0..2000 {
        std::fs::write(staging.join(format!("m{i:04}.txt")), &content).unwrap();
    }
    std::fs::write(
        root.path().join("hapflow.toml"),
        format!(
            "[memory]\nlimit = \"64MiB\"\n{}",
            Daemon::config_text("keep_jobs = 5000")
                .replace("log_level = \"debug,sled=info\"", "log_level = \"warn\"")
        ),
    )
    .unwrap();
    // More events than the inotify queue holds: as root, shrink the queue for the daemon's
    // watcher (the limit applies when an inotify instance is created), then restore it.
    let knob = "/proc/sys/fs/inotify/max_queued_events";
    let saved = std::fs::read_to_string(knob).ok();
    let shrunk = saved.is_some() && std::fs::write(knob, "128").is_ok();
    let mut d = Daemon::start(root.path(), "");
    if let (true, Some(v)) = (shrunk, &saved) {
        std::fs::write(knob, v.trim()).unwrap();
    }
    // The daemon is frozen while the files arrive (as a busy or swapped-out one would
    // be), so the kernel's queue overflows for certain.
    d.send(libc::SIGSTOP);
    for i in 0..2000 {
        let name = format!("m{i:04}.txt");
        std::fs::rename(staging.join(&name), d.inbox().join(&name)).unwrap();
    }
    d.send(libc::SIGCONT);
    let status = d.wait_settled_jobs(2000, MINUTE * 5);
    let jobs = status["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2000, "a file became two jobs");
    assert!(jobs.iter().all(|j| j["state"] == "done"));
    let out = names(&d.outbox());
    assert_eq!(out.len(), 2000);
    assert!(
        out.iter().all(|n| !n.contains(".1.")),
        "a file was published twice"
    );
    assert_eq!(names(&d.state().join("archive")).len(), 2000);
    if shrunk {
        assert!(
            d.log().contains("rescan") || d.log().contains("overflow"),
            "no overflow seen"
        );
    }
    let ended = d.terminate();
    assert_eq!(ended.status.code(), Some(0));
    assert!(ended.max_rss <= 64 << 20, "peak RSS {}", ended.max_rss);
}

/// Output names drop a trailing compression extension, whichever compression hapflow
/// reads and however it is spelled, then one extension: `m.txt.zst` gives `m.vcf.gz`.
/// Inputs sharing a stem take numbered names; a stem too long is cut to 200 bytes.
#[test]
fn output_names_drop_every_compression_extension() {
    let root = tempfile::tempdir().unwrap();
    let text = golden_input("plain", "input.txt");
    let helper::Compressed {
        gz,
        bgzf,
        zst,
        xz,
        bz2: bz,
    } = helper::compressed(&text);
    let long = "l".repeat(230);
    let inputs: Vec<(String, &[u8])> = vec![
        ("plain.txt".into(), &text),
        ("a.txt.gz".into(), &gz),
        ("b.TXT.GZ".into(), &gz),
        ("c.txt.gzip".into(), &gz),
        ("d.txt.bgz".into(), &bgzf),
        ("e.txt.bgzf".into(), &bgzf),
        ("f.txt.zst".into(), &zst),
        ("g.txt.zstd".into(), &zst),
        ("h.txt.xz".into(), &xz),
        ("i.txt.bz2".into(), &bz),
        ("j.txt.bzip2".into(), &bz),
        ("k.txt".into(), &text),
        ("k.txt.zst".into(), &zst),
        ("k.txt.xz".into(), &xz),
        (format!("{long}.txt.bz2"), &bz),
    ]
    .into_iter()
    .map(|(n, b): (String, &Vec<u8>)| (n, b.as_slice()))
    .collect();
    let mut d = Daemon::start(
        root.path(),
        "[output]\nformat = \"vcf\"\ncompress = \"bgzf\"",
    );
    for (name, bytes) in &inputs {
        drop_by_rename(&d.inbox(), name, bytes);
    }
    let status = d.wait_settled_jobs(inputs.len(), MINUTE);
    for (name, _) in &inputs {
        assert_eq!(job(&status, name)["state"], "done", "{name}: {status}");
    }
    let mut expected: Vec<String> = ["plain", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]
        .iter()
        .map(|s| format!("{s}.vcf.gz"))
        .chain(["k.vcf.gz", "k.1.vcf.gz", "k.2.vcf.gz"].map(String::from))
        .chain([format!("{}.vcf.gz", "l".repeat(200))])
        .collect();
    expected.sort();
    assert_eq!(names(&d.outbox()), expected);
    let want = std::fs::read(d.outbox().join("plain.vcf.gz")).unwrap();
    for name in &expected {
        assert!(
            std::fs::read(d.outbox().join(name)).unwrap() == want,
            "{name} differs from the plain input's output"
        );
    }
    assert_eq!(d.terminate().status.code(), Some(0));
}
