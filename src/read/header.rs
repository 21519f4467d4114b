//! Column names: from a header line (first field `CHROM` or `#CHROM`), or a header file.

use std::path::Path;

use crate::error::{Error, Result};

/// The column names if `line` (no line ending) is a header line.
pub fn header_line_names(line: &[u8]) -> Option<Vec<String>> {
    let first = line.split(|&b| b == b'\t').next()?;
    if first == b"CHROM" || first == b"#CHROM" {
        Some(split_names(line))
    } else {
        None
    }
}

/// Reads a header file: its first line, tab-separated.
pub fn read_header_file(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read(path).map_err(|e| Error::io(path, "read header file", e))?;
    let line = text.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return Err(Error::bad_input(
            path.display().to_string(),
            "the header file's first line is empty",
        ));
    }
    Ok(split_names(line))
}

fn split_names(line: &[u8]) -> Vec<String> {
    line.split(|&b| b == b'\t')
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lines_start_with_chrom() {
        assert_eq!(
            header_line_names(b"#CHROM\tPOS\tREF\ts1").unwrap(),
            ["#CHROM", "POS", "REF", "s1"]
        );
        assert!(header_line_names(b"CHROM\tPOS").is_some());
        assert!(header_line_names(b"chr1\t1\tA\tC").is_none());
        assert!(header_line_names(b"CHROMOSOME\t1").is_none());
    }

    #[test]
    fn header_files_take_their_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.txt");
        std::fs::write(&p, "CHROM\tPOS\tREF\ta\r\nignored\n").unwrap();
        assert_eq!(read_header_file(&p).unwrap(), ["CHROM", "POS", "REF", "a"]);
        std::fs::write(&p, "").unwrap();
        assert!(read_header_file(&p).is_err());
    }
}
