//! Measuring a child's own peak memory (`ru_maxrss`), whatever the test process holds.
//!
//! Why an intermediate process: on Linux, `execve` folds the high-water RSS of the address
//! space it throws away into the process's `ru_maxrss` (`fs/exec.c`, `exec_mmap()`:
//! `setmax_mm_hiwater_rss(&tsk->signal->maxrss, old_mm)`), and `wait4` reports that figure.
//! A child that a test process spawns the usual way (`posix_spawn`, i.e. `CLONE_VM|CLONE_VFORK`,
//! what `Command` does) throws away the *test process's* address space, so its figure is the
//! test process's peak ever; a child made by `fork` throws away a copy, whose high-water mark
//! is what the test process holds at that moment (`kernel/fork.c`, `dup_mm()`:
//! `mm->hiwater_rss = get_mm_rss(mm)`). Under `cargo test` every test of the binary shares one
//! process, so either way a daemon's figure came out at 75-80 MiB although it used less.
//!
//! So a measured program is not started by the test process but by a fresh process of this
//! test binary ([`command`] wraps the `Command`): [`spawner_hook`] runs before `main`, only
//! when [`REPORT_FD`] is set, starts the program with `posix_spawnp` from its own small
//! address space (a few MiB: the loader and libc, no test has run in it), reports the
//! program's pid, reaps it with `wait4` and reports its status and `ru_maxrss` over a pipe,
//! then exits without ever reaching the test harness. The figure is therefore
//! max(the program's own peak, the spawner's few MiB) in `cargo test` and `cargo nextest run`
//! alike. The pid the tests signal (SIGTERM, SIGHUP, SIGKILL) is the program's own, as the
//! daemon reports it in its status.

use std::ffi::{c_char, c_int};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus};

/// The environment variable that makes this binary a spawner: the number of the file
/// descriptor its reports go to (the write end of a pipe the test process reads).
pub const REPORT_FD: &str = "HAPFLOW_TEST_SPAWNER_FD";

extern "C" {
    static environ: *const *const c_char;
}

/// Runs before `main` in every process of this binary (glibc calls `.init_array` entries with
/// `argc`, `argv` and `envp`); returns at once unless [`REPORT_FD`] is set.
#[used]
#[link_section = ".init_array"]
static SPAWNER_HOOK: extern "C" fn(c_int, *const *const c_char, *const *const c_char) =
    spawner_hook;

/// The spawner: `argv[1..]` is the program and its arguments. Reports, one line each, to the
/// descriptor in [`REPORT_FD`]: `P <pid>` once started, then `X <wait status> <ru_maxrss in
/// KiB>` once reaped; or `E <errno>` if it could not be started. Never returns when it acts.
extern "C" fn spawner_hook(argc: c_int, argv: *const *const c_char, _: *const *const c_char) {
    // SAFETY: getenv before main, single-threaded; the string is copied at once.
    let fd = unsafe {
        let v = libc::getenv(c"HAPFLOW_TEST_SPAWNER_FD".as_ptr());
        if v.is_null() {
            return;
        }
        std::ffi::CStr::from_ptr(v)
            .to_str()
            .ok()
            .and_then(|s| s.parse::<c_int>().ok())
    };
    let Some(fd) = fd else { return };
    let report = |line: String| {
        // SAFETY: writes a live buffer to our own descriptor; a short write of a line this
        // small into a pipe does not happen.
        unsafe { libc::write(fd, line.as_ptr().cast(), line.len()) };
    };
    // SAFETY: single-threaded before main; argv has argc entries and a null after them;
    // environ is libc's, updated by unsetenv.
    unsafe {
        libc::unsetenv(c"HAPFLOW_TEST_SPAWNER_FD".as_ptr());
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        if argc < 2 {
            report(format!("E {}\n", libc::EINVAL));
            libc::_exit(1);
        }
        let mut pid: libc::pid_t = 0;
        let e = libc::posix_spawnp(
            &mut pid,
            *argv.add(1),
            std::ptr::null(),
            std::ptr::null(),
            argv.add(1).cast(),
            environ.cast(),
        );
        if e != 0 {
            report(format!("E {e}\n"));
            libc::_exit(1);
        }
        report(format!("P {pid}\n"));
        let mut status: c_int = 0;
        let mut usage: libc::rusage = std::mem::zeroed();
        while libc::wait4(pid, &mut status, 0, &mut usage) != pid {
            if *libc::__errno_location() != libc::EINTR {
                libc::_exit(1); // no `X` report: the test fails naming the spawner
            }
        }
        report(format!("X {status} {}\n", usage.ru_maxrss));
        libc::_exit(0);
    }
}

/// A command whose program is started by the spawner (see the module's doc): set stdio on it
/// and start it with [`spawn`]. Program, arguments, environment and working folder are
/// `cmd`'s; its stdio settings are not carried over (a `Command` does not show them).
pub fn command(cmd: &Command) -> Command {
    let mut c = Command::new(std::env::current_exe().expect("the test binary's path"));
    c.arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        c.current_dir(dir);
    }
    c
}

/// A measured program, running or ended.
pub struct Measured {
    /// The program's own pid (not the spawner's): signals go here.
    pub pid: libc::pid_t,
    spawner: Child,
    reports: BufReader<File>,
}

/// Starts `wrapped` (from [`command`]) and waits until the spawner reports the program's pid.
///
/// Errors: the spawner or the program could not be started (the program's errno, e.g.
/// `NotFound`), or the spawner died without a report.
pub fn spawn(wrapped: &mut Command) -> std::io::Result<Measured> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: pipe2 into a local array; both ends are owned right after.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fresh descriptors from pipe2, owned once each.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let w = write.as_raw_fd();
    wrapped.env(REPORT_FD, w.to_string());
    // SAFETY: only fcntl, async-signal-safe: the write end stays open across the spawner's
    // exec (and in no other child of the test process).
    unsafe {
        wrapped.pre_exec(move || {
            if libc::fcntl(w, libc::F_SETFD, 0) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let spawner = wrapped.spawn()?;
    drop(write);
    let mut m = Measured {
        pid: 0,
        spawner,
        reports: BufReader::new(File::from(read)),
    };
    let line = m.next_report();
    match line.split_once(' ') {
        Some(("P", pid)) => {
            m.pid = pid.parse().expect("a pid");
            Ok(m)
        }
        Some(("E", errno)) => {
            let _ = m.spawner.wait();
            Err(std::io::Error::from_raw_os_error(
                errno.parse().expect("an errno"),
            ))
        }
        _ => {
            let status = m.spawner.wait();
            Err(std::io::Error::other(format!(
                "the spawner ended without starting the program: {status:?}"
            )))
        }
    }
}

impl Measured {
    fn next_report(&mut self) -> String {
        let mut line = String::new();
        self.reports
            .read_line(&mut line)
            .expect("the spawner's report");
        line.trim_end().to_string()
    }

    /// Waits for the program to end; returns its exit status and its peak RSS in bytes
    /// (`ru_maxrss` from `wait4`).
    pub fn wait(mut self) -> (ExitStatus, u64) {
        let line = self.next_report();
        let spawner = self.spawner.wait().expect("the spawner is reaped");
        let fields: Vec<&str> = line.split(' ').collect();
        match fields[..] {
            ["X", status, kib] => (
                ExitStatus::from_raw(status.parse().expect("a wait status")),
                kib.parse::<u64>().expect("ru_maxrss") * 1024,
            ),
            _ => panic!("the spawner ended ({spawner}) without reporting the program's end"),
        }
    }

    /// Kills the program (SIGKILL) and reaps it and its spawner, never panicking (for `Drop`,
    /// also while a failed test unwinds).
    pub fn kill(mut self) {
        // SAFETY: kill on the program's pid. Had it ended already, its spawner reaped it a
        // moment ago, and pids are not reused that fast.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        let mut rest = String::new();
        let _ = self.reports.read_line(&mut rest);
        let _ = self.spawner.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    /// `true` started the usual way (`posix_spawn`, or `fork` when `forked`) and reaped by
    /// the test process itself: what the measurement was before the spawner.
    fn measured_from_the_test_process(forked: bool) -> u64 {
        let mut cmd = Command::new("true");
        if forked {
            // SAFETY: the closure does nothing, so it is async-signal-safe; it forces `fork`.
            unsafe { cmd.pre_exec(|| Ok(())) };
        }
        // Reaped by wait4 below, which also gives its rusage.
        #[allow(clippy::zombie_processes)]
        let child = cmd.spawn().unwrap();
        let mut status = 0;
        // SAFETY: wait4 on our own child, with pointers to locals.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let pid = child.id() as libc::pid_t;
        assert_eq!(unsafe { libc::wait4(pid, &mut status, 0, &mut usage) }, pid);
        usage.ru_maxrss as u64 * 1024
    }

    fn measured_by_the_spawner(cmd: &mut Command) -> (ExitStatus, u64) {
        let mut wrapped = command(cmd);
        spawn(&mut wrapped).unwrap().wait()
    }

    #[test]
    fn a_tiny_child_measures_small_however_much_the_test_process_holds_or_held() {
        // 150 MiB written in 32 KiB pieces (heap, copied by fork), held...
        let held: Vec<Vec<u8>> = (0..150 * 32).map(|_| vec![1u8; 32 << 10]).collect();
        let forked_while_held = measured_from_the_test_process(true);
        let (status, while_held) = measured_by_the_spawner(&mut Command::new("true"));
        assert!(status.success());
        drop(held);
        // ...then freed: the test process's peak stays behind it.
        let spawned_after = measured_from_the_test_process(false);
        let (_, after) = measured_by_the_spawner(&mut Command::new("true"));

        eprintln!(
            "true: {forked_while_held} B forked while 150 MiB held, {spawned_after} B spawned \
             after they were freed; by the spawner {while_held} B and {after} B"
        );
        // What the test process alone measured: its own memory, not the child's.
        assert!(
            forked_while_held >= 150 * MIB,
            "fork while 150 MiB are held: {forked_while_held} bytes"
        );
        assert!(
            spawned_after >= 150 * MIB,
            "posix_spawn after 150 MiB were freed: {spawned_after} bytes"
        );
        // Through the spawner: `true`'s own few MiB.
        assert!(while_held < 20 * MIB, "while held: {while_held} bytes");
        assert!(after < 20 * MIB, "after: {after} bytes");
    }

    #[test]
    fn a_child_that_uses_100_mib_measures_at_least_that() {
        // dd reads 100 MiB of zeros into one buffer of that size, so it touches all of it.
        let mut dd = Command::new("dd");
        dd.args([
            "if=/dev/zero",
            "of=/dev/null",
            "bs=100M",
            "count=1",
            "status=none",
        ]);
        let (status, peak) = measured_by_the_spawner(&mut dd);
        assert!(status.success());
        eprintln!("dd with a 100 MiB buffer: {peak} B");
        assert!(
            (100 * MIB..120 * MIB).contains(&peak),
            "dd with a 100 MiB buffer: {peak} bytes"
        );
    }

    #[test]
    fn signals_reach_the_program_not_the_spawner() {
        let mut wrapped = command(Command::new("sleep").arg("30"));
        let child = spawn(&mut wrapped).unwrap();
        // execve wakes the vforked spawner (exec_mmap releases the old memory) before it
        // renames the task (begin_new_exec sets comm later): the name may lag a moment.
        let comm = || std::fs::read_to_string(format!("/proc/{}/comm", child.pid)).unwrap();
        let mut name = comm();
        for _ in 0..400 {
            if name.trim_end() == "sleep" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
            name = comm();
        }
        assert_eq!(name.trim_end(), "sleep");
        // SAFETY: kill on the running program's pid.
        unsafe { libc::kill(child.pid, libc::SIGTERM) };
        let (status, _) = child.wait();
        assert_eq!(status.signal(), Some(libc::SIGTERM));
    }

    #[test]
    fn a_missing_program_is_an_error_at_spawn() {
        let mut wrapped = command(&Command::new("/nonexistent/hapflow"));
        let e = spawn(&mut wrapped).err().expect("an error");
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    }
}
