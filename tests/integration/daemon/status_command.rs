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
