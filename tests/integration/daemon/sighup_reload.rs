//! SIGHUP: the daemon reloads its configuration file.

use super::{golden_input, MINUTE};
use crate::helper::daemon::{drop_by_rename, names, Daemon};
use std::time::Duration;

/// Waits until the log holds `n` lines saying `what`; returns the log.
fn wait_for_log(d: &Daemon, what: &str, n: usize) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let log = d.log();
        if log.matches(what).count() >= n {
            return log;
        }
        assert!(std::time::Instant::now() < deadline, "no {what:?}:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sighup_reloads_the_configuration() {
    let root = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(root.path(), "");
    let text = std::fs::read_to_string(&d.config).unwrap();
    std::fs::write(
        &d.config,
        text.replace("settle_ms = 200", "settle_ms = 50")
            .replace("\"debug,sled=info\"", "\"info\""),
    )
    .unwrap();
    d.send(libc::SIGHUP);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !d.log().contains("configuration reloaded") {
        assert!(std::time::Instant::now() < deadline, "{}", d.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = d.log();
    assert!(
        log.contains("settle_ms 200 -> 50") && log.contains("log_level debug,sled=info -> info"),
        "{log}"
    );
    // A broken file keeps the old configuration running.
    std::fs::write(&d.config, "nonsense = [").unwrap();
    d.send(libc::SIGHUP);
    while !d.log().contains("reload failed") {
        assert!(std::time::Instant::now() < deadline, "{}", d.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    drop_by_rename(&d.inbox(), "m.txt", &golden_input("plain", "input.txt"));
    d.wait_settled_jobs(1, MINUTE);
    assert_eq!(d.terminate().status.code(), Some(0));
}

/// The output settings a reload changes are logged by name, old and new value, and the
/// next job is written under them; a reload that changes nothing says so.
#[test]
fn sighup_names_changed_output_settings() {
    let root = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(root.path(), "[output]\nformat = \"vcf\"");
    let text = std::fs::read_to_string(&d.config).unwrap();
    std::fs::write(
        &d.config,
        text.replace(
            "format = \"vcf\"",
            "format = \"table\"\ncompress = \"bgzf\"\ncompress_level = 6",
        ),
    )
    .unwrap();
    d.send(libc::SIGHUP);
    let log = wait_for_log(&d, "configuration reloaded", 1);
    let line = (log.lines())
        .find(|l| l.contains("configuration reloaded"))
        .unwrap();
    for change in [
        "output.format vcf -> table",
        "output.compress (unset) -> bgzf",
        "output.compress_level 1 -> 6",
    ] {
        assert!(line.contains(change), "no {change:?} in {line}");
    }
    assert!(!line.contains("nothing changed"), "{line}");
    drop_by_rename(&d.inbox(), "m.txt", &golden_input("plain", "input.txt"));
    d.wait_settled_jobs(1, MINUTE);
    assert_eq!(names(&d.outbox()), ["m.haplotype.txt.gz"]);

    // The same file again: nothing to name.
    d.send(libc::SIGHUP);
    let log = wait_for_log(&d, "configuration reloaded", 2);
    assert!(
        log.contains("configuration reloaded: nothing changed"),
        "{log}"
    );
    assert_eq!(d.terminate().status.code(), Some(0));
}
