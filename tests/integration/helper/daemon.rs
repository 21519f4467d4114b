//! A real `hapflow serve` on temporary folders, driven as a user (or systemd) would.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::bin;
use super::measured::{self, Measured};

pub struct Daemon {
    pub root: PathBuf,
    pub config: PathBuf,
    /// The running daemon, started by a spawner so that its peak RSS is its own.
    child: Option<Measured>,
    log: PathBuf,
    starts: u32,
    env: Vec<(String, String)>,
    /// `setpriv` options to run the daemon as another user (empty: as the test).
    user: Vec<String>,
}

/// How the daemon process ended.
#[derive(Debug)]
pub struct Ended {
    pub status: ExitStatus,
    pub max_rss: u64,
    /// From the signal to the exit.
    pub took: Duration,
}

impl Daemon {
    /// Writes a configuration under `root` (folders inside it, settle 200 ms, rescan 1 s,
    /// then `extra` TOML) and starts the daemon, waiting until it is ready.
    pub fn start(root: &Path, extra: &str) -> Daemon {
        Daemon::start_with_env(root, extra, &[])
    }

    pub fn start_with_env(root: &Path, extra: &str, env: &[(&str, &str)]) -> Daemon {
        Daemon::start_as(root, extra, env, &[])
    }

    /// [`Daemon::start_with_env`] as another user: `user` are `setpriv` options
    /// (`--reuid=1501`, `--regid=1600`, `--clear-groups`...).
    pub fn start_as(root: &Path, extra: &str, env: &[(&str, &str)], user: &[&str]) -> Daemon {
        let config = root.join("hapflow.toml");
        if !config.exists() {
            std::fs::write(&config, Daemon::config_text(extra)).unwrap();
        }
        let mut d = Daemon {
            root: root.to_path_buf(),
            config,
            child: None,
            log: root.join("daemon.log"),
            starts: 0,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            user: user.iter().map(|s| s.to_string()).collect(),
        };
        d.restart();
        d
    }

    pub fn config_text(extra: &str) -> String {
        format!("[daemon]\nsettle_ms = 200\nrescan_ms = 1000\nlog_level = \"debug,sled=info\"\n{extra}\n")
    }

    /// Starts the daemon again (after it ended), and waits until it is ready.
    pub fn restart(&mut self) {
        self.restart_with_env(&self.env.clone());
    }

    pub fn restart_with_env(&mut self, env: &[(String, String)]) {
        assert!(self.child.is_none(), "the daemon is still running");
        self.starts += 1;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = if self.user.is_empty() {
            Command::new(bin())
        } else {
            let mut c = Command::new("setpriv");
            c.args(&self.user).arg(bin());
            c
        };
        cmd.args(["serve", "--config"])
            .arg(&self.config)
            .env_remove("NOTIFY_SOCKET");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut wrapped = measured::command(&cmd);
        wrapped
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.child = Some(measured::spawn(&mut wrapped).expect("hapflow serve starts"));
        self.wait_until(Duration::from_secs(30), "the daemon to be ready", |s| {
            s["daemon"]["state"] == "ready" && s["daemon"]["pid"] == self.pid()
        });
    }

    /// The daemon's own pid (as its status reports it; 0 when not running): signals sent
    /// to it reach the daemon itself, not its spawner.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.pid as u32)
    }

    pub fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    pub fn inbox(&self) -> PathBuf {
        self.dir("inbox")
    }

    pub fn outbox(&self) -> PathBuf {
        self.dir("outbox")
    }

    pub fn failed(&self) -> PathBuf {
        self.dir("failed")
    }

    pub fn state(&self) -> PathBuf {
        self.dir("state")
    }

    /// `hapflow status --json`, parsed.
    pub fn status(&self) -> Value {
        let out = Command::new(bin())
            .args(["status", "--json", "--config"])
            .arg(&self.config)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Polls the status until `pred` holds, failing the test (with the log) on timeout or
    /// if the daemon died.
    pub fn wait_until(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(child) = &self.child {
                // A zombie (or no process: its spawner reaps it at once) means it died.
                if std::fs::read_to_string(format!("/proc/{}/stat", child.pid))
                    .map(|s| s.contains(") Z "))
                    .unwrap_or(true)
                {
                    panic!("the daemon died while waiting for {what}:\n{}", self.log());
                }
            }
            if let Ok(text) = std::fs::read(self.state().join("status.json")) {
                if let Ok(v) = serde_json::from_slice::<Value>(&text) {
                    if pred(&v) {
                        return v;
                    }
                }
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `n` jobs are done or failed.
    pub fn wait_settled_jobs(&self, n: usize, timeout: Duration) -> Value {
        self.wait_until(timeout, &format!("{n} finished jobs"), |s| {
            s["jobs"].as_array().is_some_and(|j| {
                j.iter()
                    .filter(|j| j["state"] == "done" || j["state"] == "failed")
                    .count()
                    >= n
            })
        })
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `signal` and waits for the process to end.
    pub fn signal_and_wait(&mut self, signal: i32) -> Ended {
        let start = Instant::now();
        self.send(signal);
        self.reap(start)
    }

    /// Waits for the daemon process to end, and forgets it.
    fn reap(&mut self, since: Instant) -> Ended {
        let child = self.child.take().expect("a running daemon");
        let (status, max_rss) = child.wait();
        Ended {
            status,
            max_rss,
            took: since.elapsed(),
        }
    }

    pub fn terminate(&mut self) -> Ended {
        self.signal_and_wait(libc::SIGTERM)
    }

    pub fn kill9(&mut self) -> Ended {
        self.signal_and_wait(libc::SIGKILL)
    }

    /// Waits (at most a minute) for a daemon that is exiting on its own (a failpoint).
    pub fn wait_exit(&mut self) -> Ended {
        let start = Instant::now();
        let pid = self.pid();
        while std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| !s.contains(") Z "))
        {
            if start.elapsed() > Duration::from_secs(60) {
                let log = self.log();
                if let Some(child) = self.child.take() {
                    child.kill();
                }
                panic!("the daemon did not exit on its own:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.reap(start)
    }

    pub fn send(&self, signal: i32) {
        // SAFETY: kill on our own child's pid.
        unsafe { libc::kill(self.pid() as libc::pid_t, signal) };
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            child.kill();
        }
    }
}

/// Puts `content` into `dir/name` the way `mv` does: written elsewhere, then renamed in.
pub fn drop_by_rename(dir: &Path, name: &str, content: &[u8]) {
    let staging = dir.parent().unwrap().join(format!(".staging-{name}"));
    std::fs::write(&staging, content).unwrap();
    std::fs::rename(&staging, dir.join(name)).unwrap();
}

/// Files in a folder, sorted (hidden ones included).
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
