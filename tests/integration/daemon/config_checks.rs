//! Configuration checked at start and on reload: folders that would make the daemon eat
//! its own output or move its own store, and values out of range, are refused and named.

use super::{golden_input, job, MINUTE};
use crate::helper::daemon::{drop_by_rename, Daemon};
use crate::helper::hapflow;
use std::path::Path;
use std::time::Duration;

/// `hapflow serve --config <text>` on a fresh folder, to its exit (it must refuse at once).
fn serve_refuses(root: &Path, config: &str) -> (Option<i32>, String) {
    let path = root.join("refused.toml");
    std::fs::write(&path, config).unwrap();
    let mut cmd = hapflow();
    cmd.args(["serve", "--config"]).arg(&path);
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve did not refuse {config:?}: it runs");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Folders that would make the daemon eat its own output, loop on a bad file or move its
/// own store, and values out of range, are refused at start with exit 2 and a message
/// naming them; the same values are refused on reload, the old configuration kept.
#[test]
fn folders_and_values_are_checked_at_start_and_on_reload() {
    let root = tempfile::tempdir().unwrap();
    for (config, named) in [
        (
            "[paths]\ninbox = \"in\"\noutbox = \"in\"\n",
            &["inbox", "outbox", "same folder"][..],
        ),
        (
            "[paths]\ninbox = \"in\"\nfailed = \"in\"\n",
            &["inbox", "failed"],
        ),
        (
            "[paths]\ninbox = \"in\"\noutbox = \"in/out\"\n",
            &["inbox", "outbox", "inside"],
        ),
        (
            "[paths]\ninbox = \"in\"\nstate = \"in/state\"\n",
            &["inbox", "state", "inside"],
        ),
        (
            "[daemon]\nrescan_ms = 0\n",
            &["rescan_ms = 0", "at least 100"],
        ),
        (
            "[daemon]\nlog_level = \"warning\"\n",
            &["log_level", "\"warning\""],
        ),
        ("[memory]\nlimit = \"11MiB\"\n", &["\"11MiB\"", "at least"]),
    ] {
        let (code, stderr) = serve_refuses(root.path(), config);
        assert_eq!(code, Some(2), "{config:?}: {stderr}");
        for n in named {
            assert!(stderr.contains(n), "{config:?}: {n:?} not in {stderr}");
        }
        assert!(
            !root.path().join("in").join("state").exists(),
            "{config:?}: created folders before refusing"
        );
    }

    let d = Daemon::start(root.path(), "");
    for (from, to, named) in [
        ("rescan_ms = 1000", "rescan_ms = 0", "rescan_ms"),
        (
            "log_level = \"debug,sled=info\"",
            "log_level = \"warning\"",
            "log_level",
        ),
        // Broken TOML: one log line, not the parser's multi-line diagram.
        ("rescan_ms = 1000", "rescan_ms = \"x", "TOML parse error"),
    ] {
        let text = Daemon::config_text("");
        assert!(text.contains(from));
        std::fs::write(&d.config, text.replace(from, to)).unwrap();
        let before = d.log().len();
        d.send(libc::SIGHUP);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !d.log()[before..].contains("reload failed") {
            assert!(std::time::Instant::now() < deadline, "{to}: {}", d.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(100));
        let log = d.log()[before..].to_string();
        let line = log.lines().find(|l| l.contains("reload failed")).unwrap();
        assert!(line.contains(named), "{to}: {line}");
        assert!(
            !log.contains('^') && !log.lines().any(|l| l.trim_start().starts_with('|')),
            "{to}: more than one line:\n{log}"
        );
    }
    // Still running on the old configuration: a file is converted.
    drop_by_rename(&d.inbox(), "m.txt", &golden_input("plain", "input.txt"));
    let status = d.wait_settled_jobs(1, MINUTE);
    assert_eq!(job(&status, "m.txt")["state"], "done", "{status}");
}
