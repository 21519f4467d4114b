//! The real `hapflow serve` on matrices as the field writes them: zstd, xz and bzip2 inputs
//! are converted to `hapflow convert`'s bytes, and every input that is not a whole genome
//! matrix goes to `failed/` with a report naming its cause, all under a 64 MiB ceiling
//! measured from outside.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use crate::helper::daemon::{drop_by_rename, names, Daemon};
use crate::helper::{convert_once, generate};

const LIMIT_64: u64 = 64 << 20;
const MINUTE: Duration = Duration::from_secs(60);

fn job<'a>(status: &'a serde_json::Value, input: &str) -> &'a serde_json::Value {
    status["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["input"] == input)
        .unwrap_or_else(|| panic!("no job for {input}: {status}"))
}

#[test]
fn compressed_inputs_convert_and_bad_ones_fail_with_their_cause_under_64_mib() {
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let plain = work.join("plain.txt");
    generate(
        &plain,
        &["--size", "16MiB", "--contigs", "3", "--header-line"],
    );
    let want = work.join("want.txt");
    convert_once(&plain, &want, None);
    let text = std::fs::read(&plain).unwrap();

    let crate::helper::Compressed {
        zst,
        xz,
        bz2: bz,
        mut bgzf,
        ..
    } = crate::helper::compressed(&text);
    bgzf.truncate(bgzf.len() - 28); // the end-of-file block
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&text[..200_000]).unwrap();
    let mut gz_text = gz.finish().unwrap();
    gz_text.extend_from_slice(b"not gzip\n");
    // The first rows of the matrix, one cell a genotype call.
    let first_rows: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').take(3).collect();
    let mut row: Vec<&[u8]> = first_rows[2].split(|&b| b == b'\t').collect();
    row[5] = b"A/G";
    let genotypes = [first_rows[0], first_rows[1], &row.join(&b'\t')].concat();
    let bad: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "genotypes.data",
            genotypes,
            &["line 3", "\"A/G\"", "genotype"],
        ),
        (
            "a.vcf.data",
            b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n".to_vec(),
            &["this is a VCF"],
        ),
        (
            "spaces.data",
            b"c 1 A C G\nc 2 A C G\n".to_vec(),
            &["separated by spaces"],
        ),
        (
            "old_mac.data",
            b"c\t1\tA\tC\tG\rc\t2\tA\tC\tG\r".to_vec(),
            &["\\r without \\n"],
        ),
        ("no_eof_block.data", bgzf, &["end-of-file block is missing"]),
        ("gzip_then_text.data", gz_text, &["has bytes after its end"]),
        (
            "archive.data",
            b"PK\x03\x04\x14\x00\x00\x00rest".to_vec(),
            &["zip archive"],
        ),
    ];

    std::fs::write(
        root.path().join("hapflow.toml"),
        format!("[memory]\nlimit = \"64MiB\"\n{}", Daemon::config_text("")),
    )
    .unwrap();
    let mut d = Daemon::start(root.path(), "");
    for (name, bytes) in [
        ("m_zstd.data", zst),
        ("m_xz.data", xz),
        ("m_bzip2.data", bz),
    ] {
        drop_by_rename(&d.inbox(), name, &bytes);
    }
    for (name, bytes, _) in &bad {
        drop_by_rename(&d.inbox(), name, bytes);
    }
    let status = d.wait_settled_jobs(3 + bad.len(), MINUTE * 4);
    for name in ["m_zstd", "m_xz", "m_bzip2"] {
        assert_eq!(
            job(&status, &format!("{name}.data"))["state"],
            "done",
            "{status}"
        );
        let out = d.outbox().join(format!("{name}.haplotype.txt"));
        assert!(
            same_file(&out, &want),
            "{name}: the daemon's output differs from convert's"
        );
    }
    let failed = names(&d.failed());
    for (name, _, says) in &bad {
        assert_eq!(job(&status, name)["state"], "failed", "{name}: {status}");
        assert!(
            failed.contains(&name.to_string()),
            "{name} not in failed/: {failed:?}"
        );
        let report = std::fs::read_to_string(d.failed().join(format!("{name}.error.txt"))).unwrap();
        for words in *says {
            assert!(report.contains(words), "{name}: no {words:?} in {report}");
        }
        assert!(report.contains("line "), "{name}: {report}");
        let stem = name.trim_end_matches(".data");
        assert!(
            !names(&d.outbox()).iter().any(|o| o.starts_with(stem)),
            "{name}: something was published"
        );
    }
    let ended = d.terminate();
    assert_eq!(ended.status.code(), Some(0));
    assert!(
        ended.max_rss <= LIMIT_64,
        "peak RSS {} over 64 MiB\n{}",
        ended.max_rss,
        d.log()
    );
}

/// Two files have the same bytes.
fn same_file(a: &Path, b: &Path) -> bool {
    std::fs::read(a).unwrap() == std::fs::read(b).unwrap()
}
