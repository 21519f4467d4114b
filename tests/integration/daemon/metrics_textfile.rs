//! The daemon's Prometheus textfile (`[metrics] textfile`), read as node_exporter would and
//! checked by the real `promtool check metrics`.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::helper::daemon::{drop_by_rename, names, Daemon};
use crate::helper::{generate, hapflow, run, Mount};

const MINUTE: Duration = Duration::from_secs(60);

/// The samples of a text-format file: `name{labels}` to value.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series.to_string(), value.parse().unwrap())
        })
        .collect()
}

/// Polls the metrics file until `pred` holds on its samples.
fn wait_for_metrics(
    d: &Daemon,
    path: &Path,
    what: &str,
    pred: impl Fn(&HashMap<String, f64>) -> bool,
) -> (String, HashMap<String, f64>) {
    let deadline = Instant::now() + MINUTE;
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            let s = samples(&text);
            if pred(&s) {
                return (text, s);
            }
        }
        if Instant::now() > deadline {
            panic!(
                "timed out waiting for metrics with {what}; last file:\n{}\nlog:\n{}",
                std::fs::read_to_string(path).unwrap_or_default(),
                d.log()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `hapflow convert`'s own counts for `input`: (rows in, rows out), and its output's size.
fn convert_counts(input: &Path, out: &Path) -> (u64, u64, u64) {
    let o = run(hapflow().arg("convert").arg(input).arg("-o").arg(out), None);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    // "hapflow: 1234 rows in, 1200 rows out, ..."
    let line = o
        .stderr
        .lines()
        .find(|l| l.starts_with("hapflow: ") && l.contains(" rows in, "))
        .unwrap_or_else(|| panic!("no summary line in {}", o.stderr));
    let words: Vec<&str> = line.split_whitespace().collect();
    let rows_in = words[1].parse().unwrap();
    let rows_out = words[4].parse().unwrap();
    (rows_in, rows_out, std::fs::metadata(out).unwrap().len())
}

/// `promtool check metrics` on `text`: `Some(report)` if it complains, `None` if it passes.
/// Without promtool the check fails in CI (`CI` set) and is skipped loudly elsewhere.
fn promtool_check(text: &str) -> Option<String> {
    if Command::new("promtool").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "promtool is not installed (Debian package `prometheus`), and CI needs it"
        );
        eprintln!(
            "\n*** promtool is not installed: SKIPPING `promtool check metrics` \
             (apt-get install prometheus) ***\n"
        );
        return None;
    }
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (!out.status.success() || !report.trim().is_empty())
        .then(|| format!("{}: {report}", out.status))
}

/// Two matrices and a bad file through a real daemon under `umask = "0077"`: the textfile
/// (a path relative to the config file) shows the running job's progress while it runs,
/// then 2 jobs done, 1 failed, the inputs' bytes and `convert`'s own row counts; it is
/// 0644, no temporary file is left beside it, and promtool finds nothing to say.
#[test]
fn the_textfile_counts_jobs_bytes_rows_and_passes_promtool() {
    let root = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let prom_dir = root.path().join("node-exporter");
    std::fs::create_dir(&prom_dir).unwrap();
    let prom = prom_dir.join("hapflow.prom");

    let mut inputs = Vec::new();
    for (name, size, seed) in [("a.txt", "6MiB", "1"), ("b.txt", "1MiB", "2")] {
        let path = work.path().join(name);
        generate(&path, &["--size", size, "--contigs", "3", "--seed", seed]);
        let counts = convert_counts(&path, &work.path().join(format!("{name}.out")));
        inputs.push((name, path, counts));
    }

    // Small chunks, slowed down: the first job runs long enough to be seen running.
    let slow = [("HAPFLOW_FAILPOINTS", "chunk.written=sleep(150)")];
    let started = SystemTime::now();
    let mut d = Daemon::start_with_env(
        root.path(),
        "umask = \"0077\"\n[memory]\nlimit = \"24MiB\"\n[metrics]\ntextfile = \"node-exporter/hapflow.prom\"",
        &slow,
    );
    let (a_name, a_path, _) = &inputs[0];
    let a_size = std::fs::metadata(a_path).unwrap().len();
    drop_by_rename(&d.inbox(), a_name, &std::fs::read(a_path).unwrap());

    let (_, s) = wait_for_metrics(&d, &prom, "the running job's progress", |s| {
        s["hapflow_running_jobs"] == 1.0 && s["hapflow_running_job_done_bytes"] > 0.0
    });
    assert_eq!(s["hapflow_running_job_size_bytes"], a_size as f64);
    assert!(s["hapflow_running_job_done_bytes"] <= a_size as f64);
    assert_eq!(s["hapflow_jobs_total{result=\"done\"}"], 0.0);

    let (b_name, b_path, _) = &inputs[1];
    drop_by_rename(&d.inbox(), b_name, &std::fs::read(b_path).unwrap());
    drop_by_rename(&d.inbox(), "bad.txt", b"c\t1\tA\n");
    d.wait_settled_jobs(3, MINUTE);
    let (text, s) = wait_for_metrics(&d, &prom, "3 jobs counted", |s| {
        s["hapflow_jobs_total{result=\"done\"}"] + s["hapflow_jobs_total{result=\"failed\"}"] == 3.0
    });
    let finished = SystemTime::now();

    let sum = |f: fn(&(u64, u64, u64)) -> u64| inputs.iter().map(|i| f(&i.2)).sum::<u64>() as f64;
    let input_bytes: u64 = inputs
        .iter()
        .map(|i| std::fs::metadata(&i.1).unwrap().len())
        .sum();
    let published: u64 = ["a.haplotype.txt", "b.haplotype.txt"]
        .iter()
        .map(|n| std::fs::metadata(d.outbox().join(n)).unwrap().len())
        .sum();
    for (series, want) in [
        ("hapflow_jobs_total{result=\"done\"}", 2.0),
        ("hapflow_jobs_total{result=\"failed\"}", 1.0),
        ("hapflow_job_retries_total", 0.0),
        ("hapflow_input_bytes_total", input_bytes as f64),
        ("hapflow_output_bytes_total", sum(|c| c.2)),
        ("hapflow_output_bytes_total", published as f64),
        ("hapflow_input_rows_total", sum(|c| c.0)),
        ("hapflow_output_rows_total", sum(|c| c.1)),
        ("hapflow_queued_jobs", 0.0),
        ("hapflow_running_jobs", 0.0),
        ("hapflow_running_job_done_bytes", 0.0),
        ("hapflow_running_job_size_bytes", 0.0),
        ("hapflow_paused", 0.0),
    ] {
        assert_eq!(s.get(series), Some(&want), "{series} in\n{text}");
    }
    assert!(sum(|c| c.0) > 1000.0, "the matrices have rows");
    let unix = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    let last = s["hapflow_last_success_timestamp_seconds"];
    assert!(
        unix(started) - 1.0 <= last && last <= unix(finished) + 1.0,
        "{last} not between {:?} and {:?}",
        started,
        finished
    );

    // Others can read it whatever the daemon's umask; the umask did apply to the outputs.
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&prom), 0o644);
    assert_eq!(mode(&d.outbox().join("a.haplotype.txt")), 0o600);
    assert_eq!(names(&prom_dir), ["hapflow.prom"], "a temporary file left");

    if let Some(report) = promtool_check(&text) {
        panic!("promtool check metrics complains: {report}\n{text}");
    }

    // The peak the file shows is the process's own, as measured from outside at its exit.
    let peak = s["hapflow_peak_resident_memory_bytes"];
    let ended = d.terminate();
    assert_eq!(ended.status.code(), Some(0));
    assert!(
        peak >= 1e6 && peak <= ended.max_rss as f64,
        "peak {peak} vs ru_maxrss {}",
        ended.max_rss
    );
}

/// Counters start over with each daemon: the jobs a restarted daemon finds done are not
/// counted again, and the file is there as soon as it is ready.
#[test]
fn a_restarted_daemon_starts_its_counters_from_zero() {
    let root = tempfile::tempdir().unwrap();
    let prom = root.path().join("hapflow.prom");
    let extra = format!("[metrics]\ntextfile = {:?}", prom.to_str().unwrap());
    let mut d = Daemon::start(root.path(), &extra);
    drop_by_rename(&d.inbox(), "bad.txt", b"c\t1\tA\n");
    d.wait_settled_jobs(1, MINUTE);
    wait_for_metrics(&d, &prom, "a failed job", |s| {
        s["hapflow_jobs_total{result=\"failed\"}"] == 1.0
    });
    assert_eq!(d.terminate().status.code(), Some(0));

    d.restart();
    assert_eq!(d.status()["jobs"][0]["state"], "failed");
    let (text, s) = wait_for_metrics(&d, &prom, "a new daemon's file", |s| {
        s.contains_key("hapflow_peak_resident_memory_bytes")
            && s["hapflow_jobs_total{result=\"failed\"}"] == 0.0
    });
    assert_eq!(s["hapflow_jobs_total{result=\"done\"}"], 0.0, "{text}");
    assert_eq!(s["hapflow_last_success_timestamp_seconds"], 0.0, "{text}");
    assert_eq!(d.terminate().status.code(), Some(0));
}

/// A full outbox disk: the file shows the queue paused and the retries while it lasts, and
/// the job done once the disk is grown.
#[test]
fn a_full_disk_shows_as_paused_with_retries_until_space_returns() {
    let root = tempfile::tempdir().unwrap();
    let Some(outbox) = Mount::tmpfs(&root.path().join("outbox"), "2m") else {
        eprintln!("cannot mount a tmpfs here (needs root): skipping");
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("m.txt");
    generate(
        &input,
        &["--size", "16MiB", "--contigs", "3", "--seed", "41"],
    );
    let prom = root.path().join("hapflow.prom");
    let mut d = Daemon::start(root.path(), "[metrics]\ntextfile = \"hapflow.prom\"");
    drop_by_rename(&d.inbox(), "m.txt", &std::fs::read(&input).unwrap());

    let (text, s) = wait_for_metrics(&d, &prom, "the queue paused after a retry", |s| {
        s["hapflow_paused"] == 1.0 && s["hapflow_job_retries_total"] >= 1.0
    });
    assert_eq!(s["hapflow_queued_jobs"], 1.0, "{text}");
    assert_eq!(s["hapflow_jobs_total{result=\"done\"}"], 0.0, "{text}");
    if let Some(report) = promtool_check(&text) {
        panic!("promtool check metrics complains: {report}\n{text}");
    }

    outbox.resize("64m");
    let (text, s) = wait_for_metrics(&d, &prom, "the job done", |s| {
        s["hapflow_jobs_total{result=\"done\"}"] == 1.0
    });
    assert_eq!(s["hapflow_paused"], 0.0, "{text}");
    assert_eq!(s["hapflow_queued_jobs"], 0.0, "{text}");
    assert_eq!(
        s["hapflow_input_bytes_total"],
        std::fs::metadata(&input).unwrap().len() as f64
    );
    assert_eq!(d.terminate().status.code(), Some(0));
}

/// A metrics file inside the inbox would be taken as a matrix every time it is rewritten:
/// `serve` refuses it at start, exit 2, naming it, before it creates anything.
#[test]
fn a_metrics_file_in_the_inbox_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hapflow.toml");
    std::fs::write(
        &config,
        "[paths]\ninbox = \"q\"\noutbox = \"o\"\nfailed = \"f\"\nstate = \"s\"\n\
         [metrics]\ntextfile = \"q/hapflow.prom\"\n",
    )
    .unwrap();
    let o = run(hapflow().arg("serve").arg("--config").arg(&config), None);
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(
        o.stderr.contains("[metrics] textfile") && o.stderr.contains("inside the inbox"),
        "{}",
        o.stderr
    );
    assert!(!dir.path().join("s").exists(), "nothing is created");
}

/// A `[metrics] textfile` whose folder does not exist: the daemon creates it at start (the
/// parents too), as it does its inbox, outbox, failed and state folders, mode 0755 whatever
/// the umask (node_exporter runs as another user and lists it), and writes the file there.
/// A folder it cannot create is said in the log and the daemon converts on.
#[test]
fn a_missing_metrics_folder_is_created_at_start_readable_by_node_exporter() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(
        root.path(),
        "umask = \"0077\"\n[metrics]\ntextfile = \"node-exporter/textfile/hapflow.prom\"",
    );
    let dir = root.path().join("node-exporter/textfile");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&dir), 0o755, "{}", d.log());
    let (_, s) = wait_for_metrics(&d, &dir.join("hapflow.prom"), "the idle daemon", |s| {
        s.get("hapflow_queued_jobs") == Some(&0.0)
    });
    assert_eq!(s["hapflow_paused"], 0.0);
    assert_eq!(mode(&dir.join("hapflow.prom")), 0o644);
    assert!(!d.log().contains("cannot write the metrics"), "{}", d.log());
    assert_eq!(d.terminate().status.code(), Some(0));

    // Where no folder can be made (a file stands in the way), conversion goes on.
    let blocked = tempfile::tempdir().unwrap();
    std::fs::write(blocked.path().join("node-exporter"), b"a file").unwrap();
    let mut d = Daemon::start(
        blocked.path(),
        "[metrics]\ntextfile = \"node-exporter/textfile/hapflow.prom\"",
    );
    let matrix = blocked.path().join("m.txt");
    generate(&matrix, &["--size", "64KiB"]);
    std::fs::rename(&matrix, d.inbox().join("m.txt")).unwrap();
    let status = d.wait_settled_jobs(1, MINUTE);
    assert_eq!(status["jobs"][0]["state"], "done", "{status}");
    assert!(
        d.log().contains("cannot create the metrics folder"),
        "{}",
        d.log()
    );
    assert_eq!(d.terminate().status.code(), Some(0));
}
