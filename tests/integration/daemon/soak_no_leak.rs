//! Many jobs in a row: no leak (the daemon's `VmHWM` levels off) and finished job records
//! pruned; the 1,000-job soak is ignored by default.

use super::MINUTE;
use crate::helper::daemon::{names, Daemon};
use crate::helper::generate;

/// The daemon's peak RSS (`VmHWM`) now, read from /proc.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

/// Runs `jobs` jobs of an 8 MiB matrix in a row (`keep_jobs = 20`, inputs deleted) and
/// returns the daemon's peak RSS (`VmHWM`, from /proc) after the first job and after every
/// 100th, with the number of job records it kept.
fn soak(jobs: usize) -> (Vec<u64>, usize) {
    let root = tempfile::tempdir().unwrap();
    let staging = root.path().join("staging");
    std::fs::create_dir(&staging).unwrap();
    // Big enough to use every chunk buffer, so the first job reaches the steady peak.
    let m = staging.join("m");
    generate(&m, &["--size", "8MiB", "--contigs", "3"]);
    let content = std::fs::read(&m).unwrap();
    std::fs::remove_file(&m).unwrap();
    std::fs::write(
        root.path().join("hapflow.toml"),
        Daemon::config_text("keep_jobs = 20\non_success = \"delete\"")
            .replace("log_level = \"debug,sled=info\"", "log_level = \"warn\""),
    )
    .unwrap();
    let mut d = Daemon::start(root.path(), "");
    let mut peaks = Vec::new();
    for i in 0..jobs {
        let name = format!("m{i:04}.txt");
        std::fs::write(staging.join(&name), &content).unwrap();
        std::fs::rename(staging.join(&name), d.inbox().join(&name)).unwrap();
        d.wait_until(MINUTE, &format!("job {i}"), |s| {
            s["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|j| j["input"] == name.as_str() && j["state"] == "done")
        });
        std::fs::remove_file(d.outbox().join(format!("m{i:04}.haplotype.txt"))).unwrap();
        if i == 0 || (i + 1) % 100 == 0 {
            peaks.push(peak_rss(d.pid()));
        }
    }
    let kept = d.status()["jobs"].as_array().unwrap().len();
    // Contig journals go with their jobs' records.
    let journals = names(&d.state().join("checkpoints")).len();
    assert!(journals <= kept, "{journals} journals for {kept} jobs");
    assert_eq!(d.terminate().status.code(), Some(0));
    (peaks, kept)
}

/// 200 jobs in a row: no leak, and finished job records pruned to `keep_jobs`.
///
/// "No leak" is judged by the growth of the peak RSS: sled's heap warms up over the first
/// few hundred jobs (README, "Known problems"), so the peak after the last job is a little
/// above the peak after the first. A leak would grow without end; this must stay under
/// sled's cache plus 1 MiB, and grow less in the second hundred jobs than in the first.
/// The store's files are judged by
/// `store::tests::the_store_stops_growing_when_finished_jobs_are_pruned`; the thousand-job
/// figure by [`soak_1000_jobs_growth_levels_off`].
#[test]
fn soak_200_jobs_no_leak_and_bounded_records() {
    let (peaks, kept) = soak(200);
    assert!(kept <= 21, "records not pruned: {kept}");
    let (after_first, after_100, after_last) = (peaks[0], peaks[1], peaks[2]);
    eprintln!("peak RSS after jobs 1, 100, 200: {after_first}, {after_100}, {after_last}");
    assert!(
        after_last <= after_first + (3 << 20),
        "peak RSS grew from {after_first} to {after_last}"
    );
    assert!(
        after_last - after_100 <= after_100 - after_first,
        "growth is not slowing: {after_first}, {after_100}, {after_last}"
    );
}

/// The soak figure: over 1,000 jobs the daemon's peak RSS levels off: the last 500 jobs add
/// less than the first 500, and less than 2 MiB in all. Slow (a few minutes):
/// `cargo test --test integration -- --ignored soak_1000`.
#[test]
#[ignore = "1,000 jobs, a few minutes"]
fn soak_1000_jobs_growth_levels_off() {
    let (peaks, kept) = soak(1000);
    assert!(kept <= 21, "records not pruned: {kept}");
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    let (first, at_500, last) = (peaks[0], peaks[5], peaks[10]);
    eprintln!(
        "peak RSS (MiB) after job 1 and every 100th: {:?}",
        peaks
            .iter()
            .map(|&p| format!("{:.2}", mib(p)))
            .collect::<Vec<_>>()
    );
    assert!(
        last - at_500 < at_500 - first || last == at_500,
        "the last 500 jobs added {:.2} MiB, the first 500 {:.2} MiB",
        mib(last - at_500),
        mib(at_500 - first)
    );
    assert!(
        last - first < 2 << 20,
        "{:.2} MiB of growth over 1,000 jobs",
        mib(last - first)
    );
}
