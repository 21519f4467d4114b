//! `hapflow serve`, a real daemon on real directories, one file per behaviour: intake,
//! kill -9 and SIGTERM, SIGHUP reload, checkpoints, damaged store, full disks, failed inputs,
//! permissions, memory ceiling and soak, status, metrics, the systemd unit. Below: what
//! several of these files share.

mod checkpoints;
mod config_checks;
mod damaged_store;
mod failed_inputs;
mod field_shapes;
mod full_disk;
mod in_process;
mod intake;
mod kill9_resume;
mod memory_ceiling;
mod metrics_textfile;
mod permissions;
mod sighup_reload;
mod sigterm_stop;
mod single_instance;
mod soak_no_leak;
mod status_command;
mod systemd_unit;

use crate::helper::daemon::{names, Daemon};
use crate::helper::data;
use std::path::Path;
use std::time::Duration;

pub(super) const LIMIT_64: u64 = 64 << 20;
pub(super) const MINUTE: Duration = Duration::from_secs(60);

/// The bytes of a golden case's input file.
pub(super) fn golden_input(case: &str, file: &str) -> Vec<u8> {
    std::fs::read(data(&format!("golden/{case}/{file}"))).unwrap()
}

/// The job of `input` in a `hapflow status --json` document.
pub(super) fn job<'a>(status: &'a serde_json::Value, input: &str) -> &'a serde_json::Value {
    status["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["input"] == input)
        .unwrap_or_else(|| panic!("no job for {input}: {status}"))
}

/// Two files have the same bytes (read in pieces: the test process must stay small).
pub(super) fn same_file(a: &Path, b: &Path) -> bool {
    use std::io::Read;
    let (mut fa, mut fb) = (
        std::fs::File::open(a).unwrap(),
        std::fs::File::open(b).unwrap(),
    );
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let na = fa.read(&mut ba).unwrap();
        let mut nb = 0;
        while nb < na {
            let n = fb.read(&mut bb[nb..na]).unwrap();
            if n == 0 {
                return false;
            }
            nb += n;
        }
        if na == 0 {
            return fb.read(&mut bb).unwrap() == 0;
        }
        if ba[..na] != bb[..na] {
            return false;
        }
    }
}

/// Bytes of the files under `dir`, the archived inputs left out.
pub(super) fn state_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let m = entry.metadata().unwrap();
        if m.is_dir() && entry.file_name() != "archive" {
            total += state_bytes(&entry.path());
        } else if m.is_file() {
            total += m.len();
        }
    }
    total
}

/// The outbox holds `m.haplotype.txt` alone (published once, nothing else left), with
/// the same bytes as `expected`.
pub(super) fn assert_published_once(d: &Daemon, expected: &Path, what: &str) {
    assert_eq!(
        names(&d.outbox()),
        ["m.haplotype.txt"],
        "{what}: published once, nothing else left"
    );
    assert!(
        std::fs::read(d.outbox().join("m.haplotype.txt")).unwrap()
            == std::fs::read(expected).unwrap(),
        "{what}: output differs"
    );
}

/// Every file under `dir`, recursively.
pub(super) fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files.extend(walk(&p));
        } else {
            files.push(p);
        }
    }
    files
}

/// The service user (and its group) that the tests needing someone other than root run
/// the daemon as, and a second user in that group. Numeric: no account is needed.
pub(super) const SERVICE: u32 = 1501;
pub(super) const GROUP: u32 = 1600;
pub(super) const MEMBER: u32 = 1502;
pub(super) const AS_SERVICE: [&str; 3] = ["--reuid=1501", "--regid=1600", "--clear-groups"];
pub(super) const AS_MEMBER: [&str; 3] = ["--reuid=1502", "--regid=1502", "--groups=1600"];

/// A test folder the service user owns and its group may enter.
pub(super) fn shared_root() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(root.path(), Some(SERVICE), Some(GROUP)).unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o770)).unwrap();
    root
}

/// Runs `argv` as the group member; its exit code and stderr.
pub(super) fn as_member(argv: &[&std::ffi::OsStr]) -> (Option<i32>, Vec<u8>, String) {
    let out = std::process::Command::new("setpriv")
        .args(AS_MEMBER)
        .args(argv)
        .output()
        .unwrap();
    (
        out.status.code(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
