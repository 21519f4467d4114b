//! Moving files between the daemon's folders without losing or overwriting any: outputs
//! are hard-linked into the outbox under a free name (a link never replaces an existing
//! file), folders are fsynced after every change of their entries, and a move across
//! filesystems copies and syncs before it deletes.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The longest stem kept, in bytes: the longest derived name, the work file
/// `.<stem>.job<id>.grouped.part`, then stays within the 255 bytes a file name may have.
pub const MAX_STEM: usize = 200;

/// Extensions that name a compression hapflow reads (`read::format`: gzip, BGZF, zstd, xz,
/// bzip2), compared in any case: what the tools write (`gzip` `.gz`, `bgzip` `.gz` or
/// `.bgz`, `zstd` `.zst`, `xz` `.xz`, `bzip2` `.bz2`) and the names spelled out (`.gzip`,
/// `.bgzf`, `.zstd`, `.bzip2`).
pub const COMPRESSION_EXTENSIONS: [&str; 9] = [
    "gz", "gzip", "bgz", "bgzf", "zst", "zstd", "xz", "bz2", "bzip2",
];

/// `outbox/<stem>.haplotype.txt`: the input name without a trailing compression extension
/// (one of [`COMPRESSION_EXTENSIONS`], any case: `m.txt.zst`, `M.TXT.GZ`), then without its
/// last extension, then cut to [`MAX_STEM`] bytes (at a character boundary): a long name is
/// shortened, never a reason to stop. A name that is only a dot and an extension (`.gz`)
/// keeps it. Source of the rule: SPEC, "Output".
pub fn output_stem(input: &str) -> &str {
    let base = match input.rfind('.') {
        Some(i)
            if i > 0
                && COMPRESSION_EXTENSIONS
                    .iter()
                    .any(|e| input[i + 1..].eq_ignore_ascii_case(e)) =>
        {
            &input[..i]
        }
        _ => input,
    };
    let stem = match base.rfind('.') {
        Some(i) if i > 0 => &base[..i],
        _ => base,
    };
    let mut end = stem.len().min(MAX_STEM);
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    &stem[..end]
}

/// The failure report's name for an entry named `name` in `failed/`: `<name>.error.txt`,
/// byte for byte (a name that is not UTF-8 keeps its bytes, so the report sorts beside its
/// file), with the name cut short if the whole would pass 255 bytes.
pub fn report_name(name: &OsStr) -> std::ffi::OsString {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    const SUFFIX: &[u8] = b".error.txt";
    let bytes = name.as_bytes();
    let keep = bytes.len().min(255 - SUFFIX.len());
    let mut out = bytes[..keep].to_vec();
    out.extend_from_slice(SUFFIX);
    std::ffi::OsString::from_vec(out)
}

/// The n-th name tried for an output with extension `ext` (`haplotype.txt`, `vcf.gz`...):
/// `<stem>.haplotype.txt`, then `<stem>.1.haplotype.txt`...
pub fn output_name(stem: &str, n: u32, ext: &str) -> String {
    if n == 0 {
        format!("{stem}.{ext}")
    } else {
        format!("{stem}.{n}.{ext}")
    }
}

/// The first `output_name` that does not exist in `dir`.
pub fn free_output_name(dir: &Path, stem: &str, ext: &str) -> String {
    (0..)
        .map(|n| output_name(stem, n, ext))
        .find(|name| std::fs::symlink_metadata(dir.join(name)).is_err())
        .expect("some name is free")
}

/// Makes a folder's entries durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, "sync folder", e))
}

/// What linking the finished work file to its output name found.
#[derive(Debug, PartialEq, Eq)]
pub enum Linked {
    /// The output now exists (made now, or by an earlier attempt that stopped half-way).
    Done,
    /// The name is taken by another file: choose another.
    Taken,
}

/// Links `from` to `to` unless `to` exists; if `to` already is `from` (same inode), that
/// is an earlier attempt's work and counts as done.
pub fn link_output(from: &Path, to: &Path) -> Result<Linked> {
    match std::fs::hard_link(from, to) {
        Ok(()) => Ok(Linked::Done),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            use std::os::unix::fs::MetadataExt;
            let (a, b) = (std::fs::metadata(from), std::fs::metadata(to));
            match (a, b) {
                (Ok(a), Ok(b)) if a.ino() == b.ino() && a.dev() == b.dev() => Ok(Linked::Done),
                _ => Ok(Linked::Taken),
            }
        }
        Err(e) => Err(Error::io(to, "publish", e)),
    }
}

/// Removes a file if it is there.
pub fn remove_if_there(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, "remove", e)),
    }
}

/// A name in `dir` for `name` that is not taken: `name`, then `name.1`, `name.2`...
pub fn free_name(dir: &Path, name: &OsStr) -> PathBuf {
    let first = dir.join(name);
    if std::fs::symlink_metadata(&first).is_err() {
        return first;
    }
    (1..)
        .map(|n| {
            let mut s = name.to_os_string();
            s.push(format!(".{n}"));
            dir.join(s)
        })
        .find(|p| std::fs::symlink_metadata(p).is_err())
        .expect("some name is free")
}

/// Moves `from` into `dir` under a free name, without following links, and syncs both
/// folders. Across filesystems a regular file is copied, synced, then removed.
pub fn move_into(from: &Path, dir: &Path) -> Result<PathBuf> {
    let name = from.file_name().unwrap_or(OsStr::new("unnamed"));
    let to = free_name(dir, name);
    move_to(from, &to)?;
    Ok(to)
}

/// Moves `from` to `to` (a name that must be free), without following links, and syncs
/// both folders. Across filesystems a regular file is copied, synced, then removed.
pub fn move_to(from: &Path, to: &Path) -> Result<()> {
    let dir = to.parent().unwrap_or(Path::new("."));
    match std::fs::rename(from, to) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            let meta = std::fs::symlink_metadata(from).map_err(|e| Error::io(from, "stat", e))?;
            if !meta.file_type().is_file() {
                return Err(Error::io(from, "move across filesystems", e));
            }
            let mut src = File::open(from).map_err(|e| Error::io(from, "open", e))?;
            let mut dst = File::create(to).map_err(|e| Error::io(to, "create", e))?;
            if let Err(e) = io::copy(&mut src, &mut dst).and_then(|_| dst.sync_all()) {
                // No partial copy may stay behind (a full disk, say): the next try starts
                // over under the same name.
                drop(dst);
                let _ = std::fs::remove_file(to);
                return Err(Error::io(to, "copy into", e));
            }
            std::fs::remove_file(from).map_err(|e| Error::io(from, "remove", e))?;
        }
        Err(e) => return Err(Error::io(from, "move", e)),
    }
    sync_dir(dir)?;
    if let Some(parent) = from.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Writes `text` to `path` durably: a temporary name, fsync, rename, folder fsync.
pub fn write_atomically(path: &Path, text: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".hapflow.")
        .suffix(".tmp")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, "create a temporary file in", e))?;
    tmp.write_all(text)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| Error::io(tmp.path(), "write", e))?;
    tmp.persist(path)
        .map_err(|e| Error::io(path, "rename into place", e.error))?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_drop_a_compression_extension_then_one_extension() {
        assert_eq!(output_stem("m.txt"), "m");
        assert_eq!(output_stem("m.txt.gz"), "m");
        assert_eq!(output_stem("m.gz"), "m");
        for ext in ["bgz", "bgzf", "gzip", "zst", "zstd", "xz", "bz2", "bzip2"] {
            assert_eq!(output_stem(&format!("m.txt.{ext}")), "m", "{ext}");
            assert_eq!(output_stem(&format!("m.{ext}")), "m", "{ext}");
        }
        assert_eq!(output_stem("M.TXT.GZ"), "M");
        assert_eq!(output_stem("m.txt.Zst"), "m");
        // One compression extension only, and only at the end.
        assert_eq!(output_stem("m.gz.gz"), "m");
        assert_eq!(output_stem("m.xz.txt"), "m.xz");
        assert_eq!(output_stem("m.txt.lz4"), "m.txt");
        assert_eq!(output_stem("m.txtgz"), "m");
        assert_eq!(output_stem(".gz"), ".gz");
        let long = format!("{}.txt.zst", "a".repeat(240));
        assert_eq!(output_stem(&long), "a".repeat(200), "cut to 200 bytes");
        assert_eq!(output_stem("sample.v2.tsv"), "sample.v2");
        assert_eq!(output_stem("matrix"), "matrix");
        assert_eq!(output_stem("-x y.txt"), "-x y");
        let long = format!("{}.txt", "é".repeat(120));
        let stem = output_stem(&long);
        assert_eq!(
            stem,
            "é".repeat(100),
            "cut to 200 bytes, at a character boundary"
        );
    }

    #[test]
    fn reports_keep_the_name_bytes_and_fit_the_name_limit() {
        use std::os::unix::ffi::{OsStrExt, OsStringExt};
        let raw = std::ffi::OsString::from_vec(b"m\xff.txt".to_vec());
        assert_eq!(report_name(&raw).as_bytes(), b"m\xff.txt.error.txt");
        let long = "a".repeat(255);
        let r = report_name(OsStr::new(&long));
        assert_eq!(r.len(), 255);
        assert!(r.as_bytes().ends_with(b".error.txt"));
    }

    #[test]
    fn outputs_never_overwrite_and_relinking_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join(".work");
        std::fs::write(&work, "new").unwrap();
        std::fs::write(dir.path().join("m.haplotype.txt"), "old").unwrap();
        let name = free_output_name(dir.path(), "m", "haplotype.txt");
        assert_eq!(name, "m.1.haplotype.txt");
        let taken = dir.path().join("m.haplotype.txt");
        assert_eq!(link_output(&work, &taken).unwrap(), Linked::Taken);
        let to = dir.path().join(&name);
        assert_eq!(link_output(&work, &to).unwrap(), Linked::Done);
        assert_eq!(
            link_output(&work, &to).unwrap(),
            Linked::Done,
            "again after a crash"
        );
        assert_eq!(std::fs::read(&taken).unwrap(), b"old");
        assert_eq!(std::fs::read(&to).unwrap(), b"new");
    }

    #[test]
    fn moves_take_free_names_and_never_follow_links() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        std::fs::write(b.join("m.txt"), "there").unwrap();
        std::fs::write(a.join("m.txt"), "moved").unwrap();
        let to = move_into(&a.join("m.txt"), &b).unwrap();
        assert_eq!(to, b.join("m.txt.1"));
        std::os::unix::fs::symlink("/etc/passwd", a.join("l")).unwrap();
        let to = move_into(&a.join("l"), &b).unwrap();
        assert!(std::fs::symlink_metadata(&to)
            .unwrap()
            .file_type()
            .is_symlink());
    }
}
