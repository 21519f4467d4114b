//! Where the output goes, and how it gets there without anyone seeing a partial file: rows
//! are written to a temporary file (beside the target, or unnamed for stdout) which is
//! renamed into place, or copied to stdout, only once the whole input converted.

use std::fs::{File, Permissions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::{Error, Result};

/// Where the haplotype table is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Path(PathBuf),
    Stdout,
}

impl Output {
    /// No argument or `-` means stdout.
    pub fn from_arg(arg: Option<&Path>) -> Output {
        match arg {
            None => Output::Stdout,
            Some(p) if p == Path::new("-") => Output::Stdout,
            Some(p) => Output::Path(p.to_path_buf()),
        }
    }

    fn name(&self) -> PathBuf {
        match self {
            Output::Path(p) => p.clone(),
            Output::Stdout => PathBuf::from("<stdout>"),
        }
    }
}

/// A temporary file that becomes the output. Dropped without [`TempOutput::publish`], it
/// disappears.
pub struct TempOutput {
    file: TempFile,
    target: Output,
}

enum TempFile {
    Named(NamedTempFile),
    Unnamed(File),
}

impl TempOutput {
    /// A new empty temporary file for `target`: a hidden name beside it, or an unnamed file
    /// in the temporary folder for stdout.
    pub fn create(target: &Output) -> Result<TempOutput> {
        let file =
            match target {
                Output::Path(path) => {
                    let dir = match path.parent() {
                        Some(d) if !d.as_os_str().is_empty() => d,
                        _ => Path::new("."),
                    };
                    let name = path
                        .file_name()
                        .map_or("output".into(), |n| n.to_string_lossy());
                    let tmp = tempfile::Builder::new()
                        .prefix(&format!(".{name}."))
                        .suffix(".tmp")
                        .permissions(Permissions::from_mode(0o666))
                        .tempfile_in(dir)
                        .map_err(|e| Error::io(dir, "create a temporary file in", e))?;
                    TempFile::Named(tmp)
                }
                Output::Stdout => TempFile::Unnamed(tempfile::tempfile().map_err(|e| {
                    Error::io(std::env::temp_dir(), "create a temporary file in", e)
                })?),
            };
        Ok(TempOutput {
            file,
            target: target.clone(),
        })
    }

    pub fn file(&self) -> &File {
        match &self.file {
            TempFile::Named(t) => t.as_file(),
            TempFile::Unnamed(f) => f,
        }
    }

    /// The path to name in errors about this file.
    pub fn path(&self) -> PathBuf {
        match &self.file {
            TempFile::Named(t) => t.path().to_path_buf(),
            TempFile::Unnamed(_) => std::env::temp_dir(),
        }
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let mut f = self.file();
        f.write_all(bytes)
            .map_err(|e| Error::io(self.path(), "write", e))
    }

    /// Makes the file the output: renames it over the target, or copies it to stdout.
    pub fn publish(self) -> Result<()> {
        match self.file {
            TempFile::Named(tmp) => {
                let target = self.target.name();
                tmp.persist(&target)
                    .map_err(|e| Error::io(&target, "rename the finished output to", e.error))?;
                Ok(())
            }
            TempFile::Unnamed(mut f) => {
                f.seek(SeekFrom::Start(0))
                    .map_err(|e| Error::io("<stdout>", "rewind the spool for", e))?;
                let stdout = io::stdout();
                let mut lock = stdout.lock();
                io::copy(&mut f, &mut lock)
                    .and_then(|_| lock.flush())
                    .map_err(|e| Error::io("<stdout>", "write", e))
            }
        }
    }
}
