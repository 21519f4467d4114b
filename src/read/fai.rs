//! The FASTA index given with `--fai` (`samtools faidx`'s `.fai`), read once before the
//! conversion: the contigs' lengths for the VCF header's `##contig` lines and for checking
//! each record's POS.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A FASTA index (`samtools faidx`'s `.fai`: NAME, LENGTH, OFFSET, LINEBASES, LINEWIDTH,
/// tab-separated): the contigs' lengths in bp, for the VCF header's `##contig` lines and
/// the records' POS.
#[derive(Debug)]
pub struct FastaIndex {
    path: PathBuf,
    lengths: HashMap<Vec<u8>, u64>,
}

impl FastaIndex {
    /// Reads the index at `path`. Errors: the file cannot be read (an I/O error, exit 1, as
    /// for a config or header file), or a line is not NAME TAB LENGTH ... (bad input naming
    /// the line, exit 2).
    pub fn read(path: &Path) -> crate::Result<FastaIndex> {
        let text = std::fs::read(path)
            .map_err(|e| crate::Error::io(path, "read the FASTA index (--fai)", e))?;
        let mut lengths = HashMap::new();
        let mut byte = 0u64;
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            let start = byte;
            byte += line.len() as u64 + 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            let mut f = line.split(|&b| b == b'\t');
            let name = f.next().unwrap_or_default();
            let length = f
                .next()
                .and_then(|n| std::str::from_utf8(n).ok()?.parse::<u64>().ok());
            match length {
                Some(len) if !name.is_empty() => {
                    lengths.insert(name.to_vec(), len);
                }
                _ => {
                    return Err(crate::Error::bad_line(
                        path.display().to_string(),
                        i as u64 + 1,
                        start,
                        "not a FASTA index line (NAME, LENGTH, ... tab-separated, as samtools faidx writes)",
                    ))
                }
            }
        }
        Ok(FastaIndex {
            path: path.to_path_buf(),
            lengths,
        })
    }

    /// The length in bp of contig `name`, if the index lists it.
    pub fn length(&self, name: &[u8]) -> Option<u64> {
        self.lengths.get(name).copied()
    }

    /// The file the index was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
