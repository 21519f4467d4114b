//! Column names: from a header line (first field `CHROM` or `#CHROM`, or the decorated
//! form `bcftools query -H` writes), or a header file.

use std::path::Path;

use crate::error::{BadInputReason, Error, Result};

/// The column names if `line` (no line ending) is a header line: its first field is
/// `CHROM` or `#CHROM`, or `#[1]CHROM` / `# [1]CHROM` as `bcftools query -H` writes it. In
/// bcftools' form every name loses its `[n]` prefix and a `:GT`-style suffix, and the first
/// becomes `CHROM` (`# [1]CHROM  [2]POS  [4]NA12878:GT` gives `CHROM POS NA12878`).
pub fn header_line_names(line: &[u8]) -> Option<Vec<String>> {
    let first = line.split(|&b| b == b'\t').next()?;
    if first == b"CHROM" || first == b"#CHROM" {
        return Some(split_names(line));
    }
    let rest = first.strip_prefix(b"#")?;
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    if undecorated(rest) != b"CHROM" || rest.first() != Some(&b'[') {
        return None;
    }
    Some(
        line.split(|&b| b == b'\t')
            .enumerate()
            .map(|(i, f)| match i {
                0 => "CHROM".to_string(),
                _ => String::from_utf8_lossy(undecorated(f)).into_owned(),
            })
            .collect(),
    )
}

/// What to add to a "the header has another field count" message when the lines hold two
/// columns per name after the first three (`names` names, `fields` fields): each sample's
/// genotype split into two haplotype columns (`bcftools query -H ... | tr '|/' '\t\t'`)
/// under a header that names one column per sample. Empty otherwise.
pub fn split_genotypes_hint(names: usize, fields: usize) -> &'static str {
    if names > 3 && fields == 3 + 2 * (names - 3) {
        " (one name per sample, two columns per sample in the lines: genotypes split into \
         haplotypes, as `bcftools query -H ... | tr '|/' '\\t\\t'` leaves them; name the \
         haplotype columns in a header file given with --header (and drop the header line), \
         or name the pairs' columns by index)"
    } else {
        ""
    }
}

/// A `bcftools query -H` column name without its `[n]` prefix and its `:TAG` suffix (a FORMAT
/// tag: letters, digits and `_`).
fn undecorated(name: &[u8]) -> &[u8] {
    let mut name = name;
    if let Some(rest) = name.strip_prefix(b"[") {
        if let Some(close) = rest.iter().position(|&b| b == b']') {
            if close > 0 && rest[..close].iter().all(u8::is_ascii_digit) {
                name = &rest[close + 1..];
            }
        }
    }
    if let Some(colon) = name.iter().rposition(|&b| b == b':') {
        let tag = &name[colon + 1..];
        if colon > 0
            && !tag.is_empty()
            && tag.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
        {
            name = &name[..colon];
        }
    }
    name
}

/// Reads a header file: its first line, read as an input's header line is. A UTF-8
/// byte-order mark is skipped, a `\r\n` line end allowed, and the decorations of a
/// `bcftools query -H` header (`#[1]CHROM`, `[4]NA1:GT`) removed ([`header_line_names`]).
///
/// Errors: the file cannot be read; its first line is empty; it has no tab but spaces (names
/// separated by spaces); it holds a bare `\r` (old-Mac line ends, so the whole file would be
/// one line); it is a VCF's column header.
pub fn read_header_file(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read(path).map_err(|e| Error::io(path, "read header file", e))?;
    let text = text.strip_prefix(super::start::BOM).unwrap_or(&text);
    let line = text.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let refuse = |what: &str| Err(Error::bad_line(path.display().to_string(), 1, 0, what));
    if line.is_empty() {
        return Err(Error::bad_line(
            path.display().to_string(),
            1,
            0,
            BadInputReason::EmptyHeaderFile,
        ));
    }
    if line.contains(&b'\r') {
        return refuse(
            "the header file's lines end in \\r without \\n (an old Mac text file): its first \
             line must hold the tab-separated column names; convert it with `tr '\\r' '\\n'`",
        );
    }
    if !line.contains(&b'\t') && line.contains(&b' ') {
        return refuse(
            "the header file's first line has no tab, but spaces: its names seem separated by \
             spaces; hapflow reads tab-separated names, as in the matrix (convert with \
             `tr ' ' '\\t'` if no name holds a space)",
        );
    }
    if super::start::is_vcf_header(line) {
        return refuse(
            "the header file holds a VCF's column header (#CHROM POS ID REF ALT ...): hapflow \
             reads a genome matrix (CHROM POS REF, then one allele per haplotype column), not a \
             VCF; make one with `bcftools query` (see the README)",
        );
    }
    Ok(header_line_names(line).unwrap_or_else(|| split_names(line)))
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
    fn bcftools_query_headers_lose_their_decorations() {
        let want = ["CHROM", "POS", "REF", "NA1", "s:2"];
        for line in [
            &b"# [1]CHROM\t[2]POS\t[3]REF\t[4]NA1:GT\t[5]s:2:TGT"[..],
            b"#[1]CHROM\t[2]POS\t[3]REF\t[4]NA1\t[5]s:2:TGT",
        ] {
            assert_eq!(header_line_names(line).unwrap(), want);
        }
        assert!(header_line_names(b"#[1]POS\t[2]CHROM").is_none());
        assert!(header_line_names(b"[1]CHROM\t[2]POS").is_none());
    }

    #[test]
    fn header_files_take_their_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.txt");
        std::fs::write(&p, "CHROM\tPOS\tREF\ta\r\nignored\n").unwrap();
        assert_eq!(read_header_file(&p).unwrap(), ["CHROM", "POS", "REF", "a"]);
        std::fs::write(&p, "").unwrap();
        assert!(read_header_file(&p).is_err());
        std::fs::write(&p, "\u{feff}#[1]CHROM\t[2]POS\t[3]REF\t[4]s1:GT\n").unwrap();
        assert_eq!(read_header_file(&p).unwrap(), ["CHROM", "POS", "REF", "s1"]);
        for bad in ["CHROM POS REF s1\n", "CHROM\tPOS\tREF\ts1\rc\t1\tA\tC\r"] {
            std::fs::write(&p, bad).unwrap();
            assert!(read_header_file(&p).is_err(), "{bad:?}");
        }
    }
}
