//! What the integration tests share: running the real binary with its own peak memory
//! measured, booting a real daemon, and comparing an output with the reference script's.
#![allow(dead_code)]

pub mod daemon;
pub mod measured;

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hapflow"))
}

pub fn hapflow() -> Command {
    Command::new(bin())
}

pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

/// How a child process ended.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
    /// The child's own peak resident memory (`ru_maxrss` from `wait4`), in bytes.
    pub max_rss: u64,
}

/// Runs `cmd` to completion, stdin from `stdin` (a file) or nothing, and measures the peak
/// RSS of that child alone: it is started by a small spawner process, so that what the test
/// process holds or ever held is not counted (see `measured.rs` for why that matters).
pub fn run(cmd: &mut Command, stdin: Option<&Path>) -> Outcome {
    let mut wrapped = measured::command(cmd);
    let dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    wrapped.stdout(File::create(&out_path).unwrap());
    wrapped.stderr(File::create(&err_path).unwrap());
    match stdin {
        Some(p) => wrapped.stdin(File::open(p).unwrap()),
        None => wrapped.stdin(Stdio::null()),
    };
    let child = measured::spawn(&mut wrapped).expect("the hapflow binary runs");
    let (status, max_rss) = child.wait();
    Outcome {
        code: status.code(),
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read_to_string(&err_path).unwrap(),
        max_rss,
    }
}

/// Writes a matrix with `hapflow generate ARGS -o PATH`.
pub fn generate(path: &Path, args: &[&str]) {
    let o = run(
        hapflow().arg("generate").args(args).arg("-o").arg(path),
        None,
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
}

/// What `hapflow convert` makes of `input` (the daemon's output must equal it).
pub fn convert_once(input: &Path, out: &Path, header: Option<&Path>) {
    let mut cmd = hapflow();
    cmd.args(["convert", "-q"]);
    if let Some(h) = header {
        cmd.arg("--header").arg(h);
    }
    let o = run(cmd.arg(input).arg("-o").arg(out), None);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
}

/// Reads a matrix, decompressing gzip.
pub fn read_matrix(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_string(&mut s)
            .unwrap();
        s
    } else {
        String::from_utf8(bytes).unwrap()
    }
}

/// Contigs in order of first appearance in a matrix.
pub fn contig_order(matrix: &str) -> Vec<String> {
    let mut seen = Vec::<String>::new();
    for line in matrix.lines() {
        let line = line.trim_end_matches('\r');
        let first = line.split('\t').next().unwrap_or("");
        if line.is_empty() || first == "CHROM" || first == "#CHROM" {
            continue;
        }
        if !seen.iter().any(|c| c == first) {
            seen.push(first.to_string());
        }
    }
    seen
}

type Row = (Vec<String>, Vec<String>);

/// Splits an output into its header and rows, each row's ALT as a sorted list.
fn parse_output(text: &str) -> (String, Vec<Row>) {
    let mut lines = text.split_terminator('\n');
    let header = lines.next().unwrap_or("").to_string();
    let rows = lines
        .map(|l| {
            let mut f: Vec<String> = l.split('\t').map(str::to_string).collect();
            let mut alt: Vec<String> = f[3].split(',').map(str::to_string).collect();
            alt.sort();
            f[3].clear();
            (f, alt)
        })
        .collect();
    (header, rows)
}

/// Asserts that `ours` is the reference's conversion of `matrix`: the same header, the same
/// rows in the same order within each contig (ALT as a set), and contigs grouped in order of
/// first appearance in the input (the reference sorts them instead).
pub fn assert_same_conversion(matrix: &str, ours: &str, reference: &str) {
    let (h1, rows) = parse_output(ours);
    let (h2, ref_rows) = parse_output(reference);
    assert_eq!(h1, h2, "output headers differ");
    assert_eq!(rows.len(), ref_rows.len(), "row counts differ");

    let mut by_contig: HashMap<&str, Vec<&Row>> = HashMap::new();
    for r in &ref_rows {
        by_contig.entry(&r.0[0]).or_default().push(r);
    }
    let mut ours_order: Vec<&str> = Vec::new();
    let mut ours_by: HashMap<&str, Vec<&Row>> = HashMap::new();
    for r in &rows {
        if ours_order.last() != Some(&r.0[0].as_str()) {
            assert!(
                !ours_order.contains(&r.0[0].as_str()),
                "contig {} is not in one block",
                r.0[0]
            );
            ours_order.push(&r.0[0]);
        }
        ours_by.entry(&r.0[0]).or_default().push(r);
    }
    let expected_order: Vec<String> = contig_order(matrix)
        .into_iter()
        .filter(|c| by_contig.contains_key(c.as_str()))
        .collect();
    assert_eq!(
        ours_order, expected_order,
        "contigs not in first-appearance order"
    );
    for (contig, theirs) in &by_contig {
        let mine = &ours_by[contig];
        assert_eq!(
            mine.len(),
            theirs.len(),
            "contig {contig}: row counts differ"
        );
        for (a, b) in mine.iter().zip(theirs) {
            assert_eq!(a, b, "contig {contig}: rows differ");
        }
    }
}

/// A tmpfs mounted for a test, unmounted when dropped.
pub struct Mount(PathBuf);

impl Mount {
    pub fn tmpfs(at: &Path, size: &str) -> Option<Mount> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Mount(at.to_path_buf()))
    }

    pub fn resize(&self, size: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// `text` in every compression hapflow reads, as the usual tools write them.
pub struct Compressed {
    /// gzip, one member (`gzip -1`).
    pub gz: Vec<u8>,
    /// BGZF, as bgzip writes it (with its end-of-file block).
    pub bgzf: Vec<u8>,
    /// zstd at level 12.
    pub zst: Vec<u8>,
    /// xz at its default level 6.
    pub xz: Vec<u8>,
    /// bzip2 with 900 kB blocks (`bzip2 -9`).
    pub bz2: Vec<u8>,
}

/// Compresses `text` every way hapflow reads (see [`Compressed`]).
pub fn compressed(text: &[u8]) -> Compressed {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text).unwrap();
    let mut bgzf = Vec::new();
    hapflow::generate::bgzf_compress(text, &mut bgzf).unwrap();
    let mut xz = Vec::new();
    liblzma::read::XzEncoder::new(text, 6)
        .read_to_end(&mut xz)
        .unwrap();
    let mut bz2 = Vec::new();
    bzip2::read::BzEncoder::new(text, bzip2::Compression::best())
        .read_to_end(&mut bz2)
        .unwrap();
    Compressed {
        gz: gz.finish().unwrap(),
        bgzf,
        zst: zstd::encode_all(text, 12).unwrap(),
        xz,
        bz2,
    }
}
