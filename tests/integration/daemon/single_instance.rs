//! One daemon per state folder: a second one exits at once.

use super::{golden_input, MINUTE};
use crate::helper::daemon::{drop_by_rename, Daemon};
use crate::helper::{hapflow, run};

#[test]
fn a_second_daemon_on_the_same_state_exits_at_once() {
    let root = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(root.path(), "");
    let o = run(hapflow().args(["serve", "--config"]).arg(&d.config), None);
    assert_ne!(o.code, Some(0));
    assert!(
        o.stderr
            .contains("another hapflow daemon holds the state folder"),
        "{}",
        o.stderr
    );
    // The first carries on.
    drop_by_rename(&d.inbox(), "m.txt", &golden_input("plain", "input.txt"));
    d.wait_settled_jobs(1, MINUTE);
    assert_eq!(d.terminate().status.code(), Some(0));
}
