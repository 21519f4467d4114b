//! The systemd unit: `systemd-analyze verify` without a warning, and an offline security
//! exposure of 2.0 or lower. The unit names the installed binary; the checks run on a copy
//! that names the one just built, as an installed unit would find it.

use crate::helper;

use std::process::Command;

fn unit_for_this_build() -> Option<(tempfile::TempDir, std::path::PathBuf)> {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("systemd-analyze is not installed: skipping");
        return None;
    }
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/hapflow.service"
    ))
    .unwrap();
    assert!(text.contains("ExecStart=/usr/local/bin/hapflow serve"));
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("hapflow.service");
    let text = text.replace("/usr/local/bin/hapflow", helper::bin().to_str().unwrap());
    std::fs::write(&unit, text).unwrap();
    Some((dir, unit))
}

#[test]
fn verify_prints_no_warning() {
    let Some((_dir, unit)) = unit_for_this_build() else {
        return;
    };
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // verify exits 0 even with warnings: the output must be empty too.
    assert!(out.status.success() && stderr.trim().is_empty(), "{stderr}");
}

#[test]
fn offline_security_exposure_is_at_most_2() {
    let Some((_dir, unit)) = unit_for_this_build() else {
        return;
    };
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true"])
        .arg(&unit)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let level: f64 = text
        .split("Overall exposure level for hapflow.service: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
    assert!(level <= 2.0, "exposure {level}:\n{text}");
}

#[test]
fn the_service_config_loads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/hapflow-service.toml");
    let c = hapflow::Config::load(std::path::Path::new(path)).unwrap();
    assert_eq!(
        c.paths.inbox,
        std::path::PathBuf::from("/var/lib/hapflow/inbox")
    );
    assert_eq!(c.memory.limit.0, 256 << 20);
}
