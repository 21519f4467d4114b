//! The daemon's Prometheus metrics (`[metrics] textfile`): a text-format file for
//! node_exporter's textfile collector, read off the status board and rewritten atomically.
//!
//! Counters count since the daemon started: node_exporter's users expect a counter to reset
//! when its process restarts (`rate()` and `increase()` allow for it). A job is counted the
//! first time the board shows it done or failed; jobs already finished at start are not.
//! The file is rewritten when a figure changes, every [`RUNNING_EVERY`] while a job runs
//! (progress, peak memory) and every [`IDLE_EVERY`] otherwise, so its mtime
//! (`node_textfile_mtime_seconds`) tells a live daemon from a dead one.

use std::fmt::Display;
use std::fs::{File, OpenOptions, Permissions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::daemon::job::Outcome;
use crate::daemon::status::{Board, JobPhase};

/// How often the file is rewritten at least while a job runs.
pub const RUNNING_EVERY: Duration = Duration::from_secs(2);
/// How often the file is rewritten at least while no job runs.
pub const IDLE_EVERY: Duration = Duration::from_secs(30);
/// The board is read at most this often: the main loop may wake on every inbox event.
const SCAN_EVERY: Duration = Duration::from_millis(200);
/// The file's mode, whatever the umask: node_exporter runs as another user.
const MODE: u32 = 0o644;

/// Everything the file shows, at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    /// Jobs done (output published) since the daemon started.
    pub jobs_done: u64,
    /// Jobs failed (input moved to `failed/` with a report, or refused) since start.
    pub jobs_failed: u64,
    /// Job runs ended by a machine-wide failure, to be tried again, since start.
    pub retries: u64,
    /// Sizes of the inputs of the jobs done, in bytes (compressed bytes for gzip).
    pub input_bytes: u64,
    /// Sizes of the outputs of the jobs done, in bytes.
    pub output_bytes: u64,
    /// Matrix rows converted by the jobs done.
    pub input_rows: u64,
    /// Rows written to the outputs of the jobs done.
    pub output_rows: u64,
    /// Jobs waiting their turn.
    pub queued: u64,
    /// Jobs converting now (jobs run one at a time: 0 or 1).
    pub running: u64,
    /// Input bytes the running job has converted.
    pub running_done_bytes: u64,
    /// Input size of the running job, in bytes.
    pub running_size_bytes: u64,
    /// The queue waits for a machine-wide failure to pass (a full disk, the store failing).
    pub paused: bool,
    /// Unix time of the last job done, in milliseconds; 0 before the first since start.
    pub last_success_unix_ms: u64,
    /// Peak resident memory of the process (`VmHWM`), in bytes, where `/proc` has it.
    pub peak_rss_bytes: Option<u64>,
}

/// The metrics file and the counts behind it. Every method does nothing when metrics are
/// off (no `[metrics] textfile`).
pub struct Metrics {
    file: Option<TextFile>,
}

struct TextFile {
    path: PathBuf,
    tmp: PathBuf,
    outbox: PathBuf,
    /// The counters (the gauges are filled in at each update).
    counts: Sample,
    /// Ids of the finished jobs on the board, counted (or finished before start), ascending.
    counted: Vec<u64>,
    /// The next `counted`, reused so that a scan does not allocate.
    scratch: Vec<u64>,
    last_scan: Option<Instant>,
    /// A job ended: scan and write at the next update, whenever the last scan was.
    ended: bool,
    written: Option<(Sample, Instant)>,
    text: Vec<u8>,
    proc_status: String,
    failing: bool,
}

impl Metrics {
    /// Metrics written to `textfile`, if given. The jobs finished on `board` now are the
    /// past: they are not counted.
    pub fn new(textfile: Option<&Path>, outbox: &Path, board: &Board) -> Metrics {
        let file = textfile.map(|path| {
            let name = path.file_name().unwrap_or("hapflow.prom".as_ref());
            let mut tmp_name = std::ffi::OsString::from(".");
            tmp_name.push(name);
            tmp_name.push(".tmp");
            let mut file = TextFile {
                path: path.to_path_buf(),
                // In the same folder (a rename), and not ending in `.prom`: the collector
                // never reads a half-written file.
                tmp: path.with_file_name(tmp_name),
                outbox: outbox.to_path_buf(),
                counts: Sample::default(),
                counted: Vec::new(),
                scratch: Vec::new(),
                last_scan: None,
                ended: false,
                written: None,
                text: Vec::with_capacity(4096),
                proc_status: String::with_capacity(2048),
                failing: false,
            };
            file.count_finished(board, false);
            file
        });
        Metrics { file }
    }

    /// A job run ended with `outcome`: counts a retry, and the job if `board` shows it
    /// finished (before it can be pruned from the board).
    pub fn job_ended(&mut self, board: &Board, outcome: &Outcome) {
        self.ended(board, matches!(outcome, Outcome::Retry(..)));
    }

    fn ended(&mut self, board: &Board, retry: bool) {
        let Some(f) = self.file.as_mut() else { return };
        f.counts.retries += u64::from(retry);
        f.count_finished(board, true);
        f.ended = true;
    }

    /// Reads the board and rewrites the file if a figure changed or it is due. `paused`:
    /// the queue waits for a machine-wide failure to pass. A write failure is logged once
    /// until a write works again; the daemon carries on without the file.
    pub fn update(&mut self, board: &Board, paused: bool) {
        let Some(f) = self.file.as_mut() else { return };
        let now = Instant::now();
        if !f.ended && f.last_scan.is_some_and(|t| now - t < SCAN_EVERY) {
            return;
        }
        f.last_scan = Some(now);
        f.ended = false;
        f.count_finished(board, true);
        let mut s = f.counts;
        s.paused = paused;
        for j in board.jobs_active() {
            match j.state {
                JobPhase::Queued => s.queued += 1,
                _ => {
                    s.running += 1;
                    s.running_done_bytes += j.bytes_done;
                    s.running_size_bytes += j.bytes_total;
                }
            }
        }
        let due = match f.written {
            None => true,
            Some((last, at)) => {
                let every = if s.running > 0 {
                    RUNNING_EVERY
                } else {
                    IDLE_EVERY
                };
                !last.same_events(&s) || now - at >= every
            }
        };
        if !due {
            return;
        }
        s.peak_rss_bytes = f.peak_rss();
        f.text.clear();
        render(&s, &mut f.text);
        match f.write() {
            Ok(()) => {
                if f.failing {
                    tracing::info!(file = %f.path.display(), "metrics written again");
                }
                f.failing = false;
            }
            Err(e) if !f.failing => {
                tracing::warn!(
                    file = %f.path.display(),
                    "cannot write the metrics: {e} (said once until it works again)"
                );
                f.failing = true;
            }
            Err(_) => {}
        }
        // A failed write is tried again when due, not at every tick.
        f.written = Some((s, now));
    }
}

impl Sample {
    /// Whether `self` and `other` differ only in what moves all the time: the running
    /// job's progress and the peak memory.
    fn same_events(&self, other: &Sample) -> bool {
        let quiet = |s: &Sample| Sample {
            running_done_bytes: 0,
            peak_rss_bytes: None,
            ..*s
        };
        quiet(self) == quiet(other)
    }
}

impl TextFile {
    /// Counts the jobs `board` shows finished that were not counted yet (`count` false:
    /// only notes them). Allocates only when more jobs are finished than ever before.
    fn count_finished(&mut self, board: &Board, count: bool) {
        self.scratch.clear();
        for j in board.jobs() {
            let done = match j.state {
                JobPhase::Done => true,
                JobPhase::Failed => false,
                _ => continue,
            };
            // The board iterates in id order: `scratch` stays sorted.
            self.scratch.push(j.id);
            if !count || self.counted.binary_search(&j.id).is_ok() {
                continue;
            }
            let c = &mut self.counts;
            if !done {
                c.jobs_failed += 1;
                continue;
            }
            c.jobs_done += 1;
            c.input_bytes += j.bytes_total;
            c.input_rows += j.rows_in;
            c.output_rows += j.rows_out;
            // Counted within a tick of publishing: the output is still in the outbox
            // unless a user took it at once.
            if let Some(output) = &j.output {
                c.output_bytes +=
                    std::fs::metadata(self.outbox.join(output)).map_or(0, |m| m.len());
            }
            c.last_success_unix_ms = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
        }
        std::mem::swap(&mut self.counted, &mut self.scratch);
    }

    /// `VmHWM` of this process, read into a buffer kept for it.
    fn peak_rss(&mut self) -> Option<u64> {
        self.proc_status.clear();
        File::open("/proc/self/status")
            .and_then(|mut f| f.read_to_string(&mut self.proc_status))
            .ok()?;
        crate::sys::status_kib(&self.proc_status, "VmHWM:").map(|kib| kib * 1024)
    }

    /// `text` to the file: a temporary name in its folder, mode 0644 whatever the umask,
    /// then a rename. Visibility, not durability (no fsync): a daemon that starts again
    /// writes it anew, and its counters start over anyway.
    fn write(&self) -> std::io::Result<()> {
        let mut tmp = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(MODE)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&self.tmp)?;
        // The umask took bits from the mode at creation; fchmod gives them back.
        tmp.set_permissions(Permissions::from_mode(MODE))?;
        tmp.write_all(&self.text)?;
        drop(tmp);
        std::fs::rename(&self.tmp, &self.path)
    }
}

/// Writes `s` in the Prometheus text exposition format (version 0.0.4) to `out`: for each
/// metric a `# HELP` and a `# TYPE` line, then its samples. Names follow Prometheus's
/// conventions: a `hapflow_` prefix, base units (`_bytes`, `_seconds`), `_total` on counters.
pub fn render(s: &Sample, out: &mut Vec<u8>) {
    let mut t = Text(out);
    t.family(
        "hapflow_jobs_total",
        "counter",
        "Jobs finished since the daemon started, by result: done (output published) or \
         failed (input moved to the failed folder with a report, or refused).",
    );
    t.sample("hapflow_jobs_total", "{result=\"done\"}", s.jobs_done);
    t.sample("hapflow_jobs_total", "{result=\"failed\"}", s.jobs_failed);
    t.counter(
        "hapflow_job_retries_total",
        "Job runs ended by a machine-wide failure (a full disk, the store failing) since the \
         daemon started; each is tried again from its last checkpoint.",
        s.retries,
    );
    t.counter(
        "hapflow_input_bytes_total",
        "Bytes of the inputs of the jobs done since the daemon started (file sizes; \
         compressed bytes for gzip).",
        s.input_bytes,
    );
    t.counter(
        "hapflow_output_bytes_total",
        "Bytes of the outputs published by the jobs done since the daemon started.",
        s.output_bytes,
    );
    t.counter(
        "hapflow_input_rows_total",
        "Matrix rows converted by the jobs done since the daemon started.",
        s.input_rows,
    );
    t.counter(
        "hapflow_output_rows_total",
        "Rows written to the outputs of the jobs done since the daemon started.",
        s.output_rows,
    );
    t.gauge("hapflow_queued_jobs", "Jobs waiting their turn.", s.queued);
    t.gauge(
        "hapflow_running_jobs",
        "Jobs converting now (one at a time: 0 or 1).",
        s.running,
    );
    t.gauge(
        "hapflow_running_job_done_bytes",
        "Input bytes the running job has converted (0 when none runs).",
        s.running_done_bytes,
    );
    t.gauge(
        "hapflow_running_job_size_bytes",
        "Input size of the running job (0 when none runs).",
        s.running_size_bytes,
    );
    t.gauge(
        "hapflow_paused",
        "1 while the queue waits for a machine-wide failure to pass (a full disk, the store \
         failing), retrying with backoff; else 0.",
        u64::from(s.paused),
    );
    t.gauge(
        "hapflow_last_success_timestamp_seconds",
        "Unix time the last job was done; 0 until one is done since the daemon started.",
        Seconds(s.last_success_unix_ms),
    );
    if let Some(peak) = s.peak_rss_bytes {
        t.gauge(
            "hapflow_peak_resident_memory_bytes",
            "Peak resident memory of the daemon process (VmHWM) since it started.",
            peak,
        );
    }
}

/// Milliseconds shown as seconds with three decimals, without going through a float.
struct Seconds(u64);

impl Display for Seconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

struct Text<'a>(&'a mut Vec<u8>);

impl Text<'_> {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}").expect("in memory");
    }

    fn sample(&mut self, name: &str, labels: &str, value: impl Display) {
        writeln!(self.0, "{name}{labels} {value}").expect("in memory");
    }

    fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.family(name, "counter", help);
        self.sample(name, "", value);
    }

    fn gauge(&mut self, name: &str, help: &str, value: impl Display) {
        self.family(name, "gauge", help);
        self.sample(name, "", value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::status::JobStatus;

    fn job(id: u64, state: &str, bytes: u64, output: Option<&str>) -> JobStatus {
        JobStatus {
            id,
            input: format!("m{id}.txt"),
            state: serde_json::from_value(state.into()).expect("a job state word"),
            bytes_total: bytes,
            bytes_done: if state == "done" { bytes } else { bytes / 2 },
            rows_in: bytes / 10,
            rows_out: bytes / 20,
            contigs_done: Vec::new(),
            contigs_done_count: 0,
            resumed_at_byte: None,
            output: output.map(Into::into),
            error: None,
        }
    }

    fn text(s: &Sample) -> String {
        let mut out = Vec::new();
        render(s, &mut out);
        String::from_utf8(out).unwrap()
    }

    /// The value of the sample line starting with `series` (name and labels).
    fn value(text: &str, series: &str) -> Option<String> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .map(Into::into)
    }

    #[test]
    fn every_metric_has_help_and_type_and_one_name_per_family() {
        let t = text(&Sample {
            peak_rss_bytes: Some(1 << 20),
            ..Sample::default()
        });
        let mut families = Vec::new();
        for line in t.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(name.starts_with("hapflow_"), "{line}");
            assert!(t.contains(&format!("# HELP {name} ")), "{name}");
            let kind = t
                .lines()
                .find_map(|l| l.strip_prefix(&format!("# TYPE {name} ")))
                .unwrap();
            assert_eq!(kind == "counter", name.ends_with("_total"), "{name}");
            if !families.contains(&name) {
                families.push(name);
            }
        }
        assert_eq!(families.len(), 13, "{t}");
        assert!(t.ends_with('\n'));
    }

    #[test]
    fn values_are_shown_as_given() {
        let t = text(&Sample {
            jobs_done: 2,
            jobs_failed: 1,
            retries: 3,
            input_bytes: 1234,
            output_bytes: 5678,
            input_rows: 10,
            output_rows: 9,
            queued: 4,
            running: 1,
            running_done_bytes: 50,
            running_size_bytes: 100,
            paused: true,
            last_success_unix_ms: 1_700_000_000_042,
            peak_rss_bytes: Some(7 << 20),
        });
        for (series, v) in [
            ("hapflow_jobs_total{result=\"done\"}", "2"),
            ("hapflow_jobs_total{result=\"failed\"}", "1"),
            ("hapflow_job_retries_total", "3"),
            ("hapflow_input_bytes_total", "1234"),
            ("hapflow_output_bytes_total", "5678"),
            ("hapflow_input_rows_total", "10"),
            ("hapflow_output_rows_total", "9"),
            ("hapflow_queued_jobs", "4"),
            ("hapflow_running_jobs", "1"),
            ("hapflow_running_job_done_bytes", "50"),
            ("hapflow_running_job_size_bytes", "100"),
            ("hapflow_paused", "1"),
            ("hapflow_last_success_timestamp_seconds", "1700000000.042"),
            ("hapflow_peak_resident_memory_bytes", "7340032"),
        ] {
            assert_eq!(value(&t, series).as_deref(), Some(v), "{series} in\n{t}");
        }
    }

    #[test]
    fn no_peak_memory_line_where_proc_has_none() {
        let t = text(&Sample::default());
        assert!(!t.contains("peak_resident"), "{t}");
        assert_eq!(
            value(&t, "hapflow_last_success_timestamp_seconds").as_deref(),
            Some("0.000")
        );
    }

    #[test]
    fn jobs_finished_before_start_are_not_counted_and_each_is_counted_once() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("outbox");
        std::fs::create_dir(&outbox).unwrap();
        std::fs::write(outbox.join("m3.haplotype.txt"), [b'x'; 77]).unwrap();
        let path = dir.path().join("hapflow.prom");

        let mut board = Board::default();
        board.insert(job(1, "done", 1000, Some("old.haplotype.txt")));
        board.insert(job(2, "queued", 500, None));
        board.insert(job(3, "running", 300, None));
        let mut m = Metrics::new(Some(&path), &outbox, &board);
        m.update(&board, false);
        let t = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            value(&t, "hapflow_jobs_total{result=\"done\"}").unwrap(),
            "0"
        );
        assert_eq!(value(&t, "hapflow_queued_jobs").unwrap(), "1");
        assert_eq!(value(&t, "hapflow_running_jobs").unwrap(), "1");
        assert_eq!(value(&t, "hapflow_running_job_done_bytes").unwrap(), "150");
        assert_eq!(value(&t, "hapflow_running_job_size_bytes").unwrap(), "300");

        board.update(3, |b| {
            b.state = JobPhase::Done;
            b.bytes_done = 300;
            b.output = Some("m3.haplotype.txt".into());
        });
        board.update(2, |b| b.state = JobPhase::Failed);
        m.job_ended(&board, &Outcome::Done);
        board.remove(3); // pruned: it must not matter
        m.job_ended(&board, &Outcome::Failed(None));
        m.update(&board, true);
        let t = std::fs::read_to_string(&path).unwrap();
        for (series, v) in [
            ("hapflow_jobs_total{result=\"done\"}", "1"),
            ("hapflow_jobs_total{result=\"failed\"}", "1"),
            ("hapflow_input_bytes_total", "300"),
            ("hapflow_output_bytes_total", "77"),
            ("hapflow_input_rows_total", "30"),
            ("hapflow_output_rows_total", "15"),
            ("hapflow_queued_jobs", "0"),
            ("hapflow_running_jobs", "0"),
            ("hapflow_paused", "1"),
        ] {
            assert_eq!(value(&t, series).as_deref(), Some(v), "{series} in\n{t}");
        }
        let last: f64 = value(&t, "hapflow_last_success_timestamp_seconds")
            .unwrap()
            .parse()
            .unwrap();
        assert!(last > 1.6e9, "{last}");
        assert!(
            value(&t, "hapflow_peak_resident_memory_bytes")
                .unwrap()
                .parse::<u64>()
                .unwrap()
                > 0
        );
    }

    #[test]
    fn a_retry_is_counted_and_the_job_stays_queued() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hapflow.prom");
        let mut board = Board::default();
        board.insert(job(1, "queued", 10, None));
        let mut m = Metrics::new(Some(&path), dir.path(), &board);
        m.ended(&board, true);
        m.update(&board, true);
        let t = std::fs::read_to_string(&path).unwrap();
        assert_eq!(value(&t, "hapflow_job_retries_total").unwrap(), "1");
        assert_eq!(value(&t, "hapflow_queued_jobs").unwrap(), "1");
        assert_eq!(value(&t, "hapflow_paused").unwrap(), "1");
    }

    /// Rewritten when a figure changes, not at every tick; progress alone waits its turn.
    #[test]
    fn rewritten_on_change_but_progress_only_every_few_seconds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hapflow.prom");
        let mut board = Board::default();
        board.insert(job(1, "running", 1000, None));
        let mut m = Metrics::new(Some(&path), dir.path(), &board);
        m.update(&board, false);
        let written = |m: &Metrics| m.file.as_ref().unwrap().written.unwrap();
        let (first, at) = written(&m);

        board.update(1, |b| b.bytes_done = 900);
        m.file.as_mut().unwrap().last_scan = None;
        m.update(&board, false);
        assert_eq!(
            written(&m),
            (first, at),
            "progress alone is not written at once"
        );

        m.file.as_mut().unwrap().last_scan = None;
        m.update(&board, true);
        let (paused, _) = written(&m);
        assert!(paused.paused && paused.running_done_bytes == 900);

        m.file.as_mut().unwrap().written = Some((paused, Instant::now() - RUNNING_EVERY));
        board.update(1, |b| b.bytes_done = 950);
        m.file.as_mut().unwrap().last_scan = None;
        m.update(&board, true);
        assert_eq!(written(&m).0.running_done_bytes, 950);
    }

    /// The umask takes bits at creation: an old temporary file left at 0600 (or one
    /// created under `umask 077`) still gives a 0644 file. (The daemon test runs under a
    /// 0077 umask; a unit test must not change the process-wide mask under other tests.)
    #[test]
    fn the_file_is_0644_whatever_the_mode_at_creation_and_no_temporary_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hapflow.prom");
        let tmp = dir.path().join(".hapflow.prom.tmp");
        std::fs::write(&tmp, "half a file").unwrap();
        std::fs::set_permissions(&tmp, Permissions::from_mode(0o600)).unwrap();
        let board = Board::default();
        let mut m = Metrics::new(Some(&path), dir.path(), &board);
        m.update(&board, false);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o644);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["hapflow.prom"]);
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("# HELP"));
    }

    #[test]
    fn off_without_a_textfile() {
        let board = Board::default();
        let mut m = Metrics::new(None, Path::new("/nonexistent"), &board);
        m.job_ended(&board, &Outcome::Done);
        m.update(&board, true);
        assert!(m.file.is_none());
    }

    /// A folder that cannot be written: the daemon carries on, and writes once it can.
    #[test]
    fn a_missing_folder_is_survived_and_written_once_it_exists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("later").join("hapflow.prom");
        let board = Board::default();
        let mut m = Metrics::new(Some(&path), dir.path(), &board);
        m.update(&board, false);
        assert!(m.file.as_ref().unwrap().failing);
        std::fs::create_dir(dir.path().join("later")).unwrap();
        m.file.as_mut().unwrap().last_scan = None;
        m.update(&board, true);
        assert!(path.exists() && !m.file.as_ref().unwrap().failing);
    }
}
