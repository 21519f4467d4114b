//! SIGTERM: the daemon checkpoints and exits 0 at once, also when the reader is already at
//! the end of the input, and the job resumes after a restart.

use super::{job, MINUTE};
use crate::helper::daemon::{names, Daemon};
use crate::helper::{convert_once, generate};
use std::time::Duration;

#[test]
fn sigterm_mid_file_checkpoints_exits_0_within_5_s_and_resumes() {
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let input = work.join("m.txt.gz");
    generate(
        &input,
        &["--size", "30MiB", "--contigs", "3", "--gzip", "--seed", "9"],
    );
    let expected = work.join("expected.txt");
    convert_once(&input, &expected, None);

    let slow = [("HAPFLOW_FAILPOINTS", "chunk.written=sleep(25)")];
    let mut d = Daemon::start_with_env(root.path(), "", &slow);
    std::fs::rename(&input, d.inbox().join("m.txt.gz")).unwrap();
    let running = d.wait_until(MINUTE, "progress", |s| {
        s["jobs"]
            .as_array()
            .is_some_and(|j| j.iter().any(|j| j["bytes_done"].as_u64() > Some(1 << 20)))
    });
    assert_eq!(running["daemon"]["state"], "ready");
    assert_eq!(job(&d.status(), "m.txt.gz")["state"], "running");
    let ended = d.terminate();
    assert_eq!(ended.status.code(), Some(0), "{}", d.log());
    assert!(ended.took < Duration::from_secs(5), "{:?}", ended.took);
    let stopped = d.status();
    assert_eq!(stopped["daemon"]["state"], "stopped");
    assert_eq!(job(&stopped, "m.txt.gz")["state"], "queued");

    d.restart_with_env(&[]);
    let status = d.wait_settled_jobs(1, MINUTE);
    let j = job(&status, "m.txt.gz");
    assert_eq!(j["state"], "done");
    assert!(j["resumed_at_byte"].as_u64() > Some(0), "{status}");
    assert!(d.log().contains("resume"));
    assert!(
        std::fs::read(d.outbox().join("m.haplotype.txt")).unwrap()
            == std::fs::read(&expected).unwrap()
    );
}

/// Regression: a stop request once waited for every chunk in flight when the reader had
/// already reached the end of the input, so SIGTERM finished the whole file instead of
/// checkpointing at once.
#[test]
fn regression_sigterm_stops_even_when_the_reader_is_done() {
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let input = work.join("m.txt");
    // Four 1 MiB chunks: the reader has them all in flight at once.
    generate(&input, &["--size", "4MiB", "--contigs", "2"]);
    let mut d = Daemon::start_with_env(
        root.path(),
        "",
        &[("HAPFLOW_FAILPOINTS", "chunk.written=sleep(700)")],
    );
    std::fs::rename(&input, d.inbox().join("m.txt")).unwrap();
    d.wait_until(MINUTE, "the first chunk", |s| {
        s["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["bytes_done"].as_u64() > Some(0))
    });
    let ended = d.terminate();
    assert_eq!(ended.status.code(), Some(0));
    assert!(
        ended.took < Duration::from_millis(1500),
        "took {:?}: it converted on",
        ended.took
    );
    assert!(
        names(&d.outbox()).iter().all(|n| n.starts_with('.')),
        "published after the stop request"
    );
    assert!(d.inbox().join("m.txt").exists());
}

/// A SIGTERM in the first milliseconds of a start (before the daemon has read its
/// configuration, taken its state folder or become ready) stops it as one sent later
/// does: exit 0 at once, not the default action's status 143, never ignored until a second
/// one, and a state folder left `stopped`, its lock free. "A start" is from hapflow's first
/// line on: the time between `execve` and it (the dynamic loader's) is no program's, so each
/// try first waits until `/proc/<pid>/status` shows the signal blocked or caught.
#[test]
fn sigterm_in_the_first_milliseconds_exits_0_each_time() {
    sigterm_right_after_spawn(false);
}

/// The same when the launcher left SIGTERM, SIGINT and SIGHUP blocked (a signal mask is
/// inherited across `execve`): every SIGTERM, from the first microsecond, waits for the
/// daemon's handlers and stops it with exit 0 rather than staying blocked for ever.
#[test]
fn sigterm_right_after_spawn_by_a_launcher_blocking_it_exits_0_each_time() {
    sigterm_right_after_spawn(true);
}

/// 50 starts, each stopped by a SIGTERM 0 to 20 ms after the spawn (after hapflow's first
/// line unless `inherit_blocked`, when the child starts with the stop signals blocked).
fn sigterm_right_after_spawn(inherit_blocked: bool) {
    use crate::helper::bin;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    use std::time::Instant;
    for attempt in 0..50u64 {
        let root = tempfile::tempdir().unwrap();
        let config = root.path().join("hapflow.toml");
        std::fs::write(&config, Daemon::config_text("")).unwrap();
        let log = root.path().join("daemon.log");
        let mut cmd = Command::new(bin());
        cmd.args(["serve", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .env_remove("NOTIFY_SOCKET");
        if inherit_blocked {
            // SAFETY: only async-signal-safe calls on a local set, in the forked child.
            unsafe {
                cmd.pre_exec(|| {
                    let mut set: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut set);
                    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
                        libc::sigaddset(&mut set, sig);
                    }
                    libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().unwrap();
        if !inherit_blocked {
            wait_until_sigterm_is_the_programs(child.id());
        }
        let delay = Duration::from_millis(attempt % 21);
        std::thread::sleep(delay);
        // SAFETY: kill on our own child's pid.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let sent = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if sent.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "SIGTERM {delay:?} after the start was ignored for 10 s:\n{}",
                    std::fs::read_to_string(&log).unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(
            status.code(),
            Some(0),
            "SIGTERM {delay:?} after the start: {status:?}\n{}",
            std::fs::read_to_string(&log).unwrap()
        );
        let out = Command::new(bin())
            .args(["status", "--json", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let state: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(state["daemon"]["state"], "stopped", "{delay:?}: {state}");
        assert_eq!(state["daemon"]["running"], false, "{delay:?}: {state}");
    }
}

/// Waits until the process `pid` blocks or catches SIGTERM (its `SigBlk` or `SigCgt` in
/// `/proc/<pid>/status`): from then on a SIGTERM is the program's to handle.
fn wait_until_sigterm_is_the_programs(pid: u32) {
    let bit = 1u64 << (libc::SIGTERM - 1);
    let start = std::time::Instant::now();
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let mask = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map_or(0, |v| u64::from_str_radix(v.trim(), 16).unwrap())
        };
        if (mask("SigBlk:") | mask("SigCgt:")) & bit != 0 {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{status}");
        std::thread::yield_now();
    }
}
