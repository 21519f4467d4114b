//! SIGHUP: the daemon reloads its configuration file.

use super::{golden_input, MINUTE};
use crate::helper::daemon::{drop_by_rename, Daemon};
use std::time::Duration;

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
