//! `hapflow::daemon::serve` as a library call: a daemon in a thread of the test's own
//! process, driven over its control channel instead of by signals.

use super::intake::check_against_reference;
use super::{golden_input, LIMIT_64, MINUTE};
use crate::helper::daemon::{drop_by_rename, names, Daemon};
use std::time::Duration;

/// `hapflow::daemon::serve` runs in a thread of the test's own process (no signals, no
/// umask, no global logger of its own): a matrix dropped into its inbox is converted,
/// and a shutdown sent over its control channel makes it return Ok, its status `stopped`.
#[test]
fn serve_runs_in_process_and_stops_on_a_shutdown_sent_over_its_channel() {
    use hapflow::daemon::{self, Control, Overrides};
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("hapflow.toml");
    std::fs::write(&config, Daemon::config_text("")).unwrap();
    let overrides = Overrides {
        inbox: Some(root.path().join("inbox")),
        outbox: Some(root.path().join("outbox")),
        failed: Some(root.path().join("failed")),
        state: Some(root.path().join("state")),
        memory_limit: Some(LIMIT_64),
    };
    let (control, rx) = crossbeam_channel::unbounded();
    let daemon = std::thread::spawn({
        let (config, overrides) = (config.clone(), overrides.clone());
        move || daemon::serve(Some(&config), &overrides, rx, None)
    });
    let state = root.path().join("state");
    let status = || daemon::read_status(&state).ok();
    let deadline = std::time::Instant::now() + MINUTE;
    while status().is_none_or(|s| s.daemon.state.as_str() != "ready") {
        assert!(std::time::Instant::now() < deadline, "not ready");
        assert!(!daemon.is_finished(), "serve returned early");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop_by_rename(
        &root.path().join("inbox"),
        "m.txt",
        &golden_input("plain", "input.txt"),
    );
    let output = root.path().join("outbox/m.haplotype.txt");
    while !(output.exists() && names(&root.path().join("inbox")).is_empty()) {
        assert!(std::time::Instant::now() < deadline, "not converted");
        std::thread::sleep(Duration::from_millis(20));
    }
    check_against_reference(&output, "plain", "input.txt");
    control.send(Control::Shutdown).unwrap();
    daemon.join().unwrap().unwrap();
    let s = daemon::read_status(&state).unwrap();
    assert_eq!(s.daemon.state.as_str(), "stopped");
    assert_eq!(s.jobs.len(), 1);
    assert_eq!(s.jobs[0].state.as_str(), "done");
}
