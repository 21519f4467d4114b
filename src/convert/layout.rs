//! The configured pairs resolved against one matrix: column indexes checked against the
//! header (or the first line), and the output header line built once.

use std::path::Path;

use super::alleles::Alleles;
use crate::config::{ColumnRef, Format, PairSpec};
use crate::error::{BadInputReason, Error};
use crate::read::header::read_header_file;

/// Suffix of a sample's phase block index column (`<sample>_PI`): the phase block the row's
/// two haplotypes are phased within, which is the contig (a matrix is phased per contig).
/// The name is the reference script's (`matrix_to_haplotype.py`) and phaseExtender's.
pub const PHASE_BLOCK_INDEX: &str = "PI";

/// Suffix of a sample's phased genotype alleles column (`<sample>_PG_al`): the pair's two
/// alleles as `A|G`, first haplotype first, a missing allele written as REF. The name is
/// the reference script's and phaseExtender's.
pub const PHASED_GENOTYPE_ALLELES: &str = "PG_al";

/// Everything the conversion needs to know about one input's columns.
#[derive(Debug, Clone)]
pub struct Layout {
    columns: usize,
    names: Option<Vec<String>>,
    pairs: Vec<(usize, usize)>,
    /// The pairs' names (sample names), in output order.
    samples: Vec<String>,
    header: Vec<u8>,
    alleles: Alleles,
    /// The input's header line as written: a later line equal to it is skipped.
    header_text: Option<Vec<u8>>,
    format: Format,
    /// `alleles`' missing characters, listed (VCF writes each as `.`).
    missing: Vec<u8>,
    /// VCF: the FASTA index given with `--fai` (contig names and lengths).
    fasta_index: Option<std::sync::Arc<crate::read::fai::FastaIndex>>,
}

impl Layout {
    /// Resolves `pairs` for a matrix of `columns` fields, with column `names` when the input
    /// has a header. The error says which pair and column is wrong.
    pub fn resolve(
        pairs: &[PairSpec],
        names: Option<&[String]>,
        columns: usize,
    ) -> Result<Layout, String> {
        Layout::resolve_with_fault(pairs, names, columns).map_err(|(what, _)| what)
    }

    /// [`Layout::resolve`], the error also saying whose fault it is.
    fn resolve_with_fault(
        pairs: &[PairSpec],
        names: Option<&[String]>,
        columns: usize,
    ) -> Result<Layout, (String, Fault)> {
        let matrix = |what: String| (what, Fault::Matrix);
        if columns < 4 {
            return Err(matrix(format!(
                "the matrix has {columns} columns; it needs CHROM, POS, REF and at least one haplotype"
            )));
        }
        let mut resolved = Vec::with_capacity(pairs.len());
        for (i, pair) in pairs.iter().enumerate() {
            let find = |r: &ColumnRef| -> Result<usize, (String, Fault)> {
                let where_ = format!("pair {} ({})", i + 1, pair.name());
                let index = match r {
                    ColumnRef::Index(n) => *n,
                    ColumnRef::Name(name) => match names {
                        None => {
                            return Err(matrix(format!(
                                "{where_}: column {name:?} is named, but the matrix has no header line and no header file was given"
                            )))
                        }
                        Some(names) => {
                            let mut at = names.iter().enumerate().filter(|(_, n)| *n == name);
                            match (at.next(), at.next()) {
                                (Some((i, _)), None) => i,
                                (None, _) => {
                                    return Err(matrix(format!(
                                        "{where_}: column {name:?} does not exist in the header"
                                    )))
                                }
                                (Some((i, _)), Some((j, _))) => {
                                    return Err((format!(
                                        "{where_}: column {name:?} occurs twice in the header (columns {i} and {j}); name the column by its index instead"
                                    ), Fault::NameTwice))
                                }
                            }
                        }
                    },
                };
                if index >= columns {
                    return Err(matrix(format!(
                        "{where_}: column {index} does not exist (the matrix has {columns} columns, 0 to {})",
                        columns - 1
                    )));
                }
                if index < 3 {
                    return Err(matrix(format!(
                        "{where_}: column {index} is {}, not a haplotype column (haplotypes start at column 3)",
                        ["CHROM", "POS", "REF"][index]
                    )));
                }
                Ok(index)
            };
            let (x, y) = (find(&pair.first.column)?, find(&pair.second.column)?);
            if x == y {
                return Err((
                    format!(
                        "pair {} ({}): both haplotypes name column {x}; a pair is two different columns",
                        i + 1,
                        pair.name()
                    ),
                    Fault::SameColumn,
                ));
            }
            resolved.push((x, y));
        }
        let mut layout = Layout {
            columns,
            names: names.map(<[String]>::to_vec),
            pairs: resolved,
            samples: pairs.iter().map(PairSpec::name).collect(),
            header: Vec::new(),
            format: Format::Table,
            missing: vec![b'N'],
            alleles: Alleles::default(),
            header_text: None,
            fasta_index: None,
        };
        layout.set_output(Format::Table);
        Ok(layout)
    }

    /// Chooses the output format (the table by default).
    pub fn set_output(&mut self, format: Format) {
        self.format = format;
        self.header = match format {
            Format::Table => b"contig\tpos\tref\talt".to_vec(),
            Format::PhaseExtender => b"CHROM\tPOS\tREF\tall-alleles".to_vec(),
            // The VCF header lists the contigs: it is made apart (write::vcf).
            Format::Vcf => {
                self.header.clear();
                return;
            }
        };
        // phaseExtender joins sample and column with `:`, the reference script with `_`.
        let sep = match format {
            Format::PhaseExtender => ':',
            _ => '_',
        };
        for name in &self.samples {
            let columns =
                format!("\t{name}{sep}{PHASE_BLOCK_INDEX}\t{name}{sep}{PHASED_GENOTYPE_ALLELES}");
            self.header.extend_from_slice(columns.as_bytes());
        }
        self.header.push(b'\n');
    }

    /// Sets the FASTA index whose contigs and lengths VCF records must keep to.
    pub fn set_fasta_index(&mut self, index: crate::read::fai::FastaIndex) {
        self.fasta_index = Some(std::sync::Arc::new(index));
    }

    /// The FASTA index given with `--fai`, if any.
    pub fn fasta_index(&self) -> Option<&crate::read::fai::FastaIndex> {
        self.fasta_index.as_deref()
    }

    /// The output format the header was built for ([`Layout::set_output`]).
    pub fn format(&self) -> Format {
        self.format
    }

    /// True when the fourth column is REF followed by ALT (phase-extender's all-alleles).
    #[inline]
    pub fn ref_in_alleles(&self) -> bool {
        self.format == Format::PhaseExtender
    }

    /// The characters that mean "no call" (`[alleles] missing`), listed.
    pub fn missing(&self) -> &[u8] {
        &self.missing
    }

    /// The pairs' names, in output order: VCF's sample names.
    pub fn samples(&self) -> &[String] {
        &self.samples
    }

    /// The same layout reading alleles by `alleles`.
    pub fn with_alleles(mut self, alleles: Alleles) -> Layout {
        self.missing = alleles.missing_chars();
        self.alleles = alleles;
        self
    }

    /// The same layout skipping every data line equal to `header_text`, the input's header
    /// line (as the reference skips repeated headers of matrices joined with `cat`).
    pub fn with_repeated_header(mut self, header_text: Option<Vec<u8>>) -> Layout {
        self.header_text = header_text;
        self
    }

    /// How alleles are read (missing characters, upper-casing).
    pub fn alleles(&self) -> &Alleles {
        &self.alleles
    }

    /// The header line a data line may repeat, if the input has one.
    pub fn repeated_header(&self) -> Option<&[u8]> {
        self.header_text.as_deref()
    }

    /// The number of fields every data line must have.
    pub fn columns(&self) -> usize {
        self.columns
    }

    /// Column index pairs, in output order.
    pub fn pairs(&self) -> &[(usize, usize)] {
        &self.pairs
    }

    /// The output's header line, `\n` included (empty for VCF, whose header is made from the contigs: `pipeline::run`).
    pub fn header_line(&self) -> &[u8] {
        &self.header
    }

    /// How a column is named in messages: its index, and its header name when there is one.
    pub fn describe_column(&self, index: usize) -> String {
        match self.names.as_ref().and_then(|n| n.get(index)) {
            Some(name) => format!("column {index} ({name})"),
            None => format!("column {index}"),
        }
    }
}

/// Whose fault a layout that cannot be made is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The matrix's: too few columns, a column it lacks, a name its header line repeats.
    Matrix,
    /// The pairs': one pair names the same column twice (by name and by index).
    SameColumn,
    /// A name the header repeats: the pairs' when the names come from a header file.
    NameTwice,
}

/// `pairs` resolved against what the start of the input `name` told (its header line, or
/// else the names in `header_file`, and the fields of its first data line).
///
/// # Errors
///
/// Bad input naming the line that set the columns (the header line or the first data line)
/// when a line's field count differs from the names' or a pair names a column the matrix
/// does not have; an I/O error when `header_file` cannot be read. A configuration error
/// naming `pairs_source` (the configuration file) and where the names come from when a
/// pair names one column twice (by name and by index), or names a column the header file
/// lists twice.
pub fn resolve_for_input(
    pairs: &[PairSpec],
    pairs_source: Option<&str>,
    header_file: Option<&Path>,
    start: &crate::read::start::InputStart,
    name: &str,
) -> crate::error::Result<Layout> {
    let names = match (&start.header_line, header_file) {
        (Some(names), _) => Some(names.clone()),
        (None, Some(file)) => Some(read_header_file(file)?),
        (None, None) => None,
    };
    let (names, columns) = match (start.first_line_fields, names) {
        (Some(n), names) => (names, n),
        (None, Some(names)) => {
            let n = names.len();
            (Some(names), n)
        }
        // No data and no names (an empty input): any layout will do for a header-only
        // output. Columns named by the pairs get stand-in columns of their own, after the
        // highest index a pair gives.
        (None, None) => {
            let refs = || {
                pairs
                    .iter()
                    .flat_map(|p| [&p.first.column, &p.second.column])
            };
            let top = refs()
                .map(|c| match c {
                    ColumnRef::Index(i) => i + 1,
                    ColumnRef::Name(_) => 0,
                })
                .max()
                .unwrap_or(0)
                .max(3);
            let mut stand_in: Vec<String> = (0..top).map(|i| format!("\0{i}")).collect();
            for c in refs() {
                if let ColumnRef::Name(n) = c {
                    if !stand_in.contains(n) {
                        stand_in.push(n.clone());
                    }
                }
            }
            let n = stand_in.len().max(4);
            let named = stand_in.len() > top;
            (named.then_some(stand_in), n)
        }
    };
    if let (Some(names), Some(n)) = (&names, start.first_line_fields) {
        if names.len() != n {
            return Err(Error::bad_line(
                name,
                start.skipped_lines + 1,
                start.skipped_bytes,
                BadInputReason::HeaderFieldCount {
                    found: n,
                    names: names.len(),
                    header_file: start.header_line.is_none(),
                },
            ));
        }
    }
    // A layout that does not fit is the fault of the line that set the columns: the header
    // line, or the first data line (a header file has no line in the input).
    Layout::resolve_with_fault(pairs, names.as_deref(), columns).map_err(|(e, fault)| {
        let names_from = match (&start.header_line, header_file) {
            (Some(_), _) => format!("the header line of {name}"),
            (None, Some(file)) => format!("the header file {}", file.display()),
            (None, None) => "the header".to_string(),
        };
        let config = || {
            Error::config(format!(
                "{}: {e} (column names from {names_from})",
                pairs_source.unwrap_or("the pairs")
            ))
        };
        match (&start.header_line, header_file, start.first_line_fields) {
            _ if fault == Fault::SameColumn => config(),
            (None, Some(_), _) if fault == Fault::NameTwice => config(),
            (Some(_), _, _) => Error::bad_line(name, 1, 0, e),
            (None, None, Some(_)) => {
                Error::bad_line(name, start.skipped_lines + 1, start.skipped_bytes, e)
            }
            _ => Error::bad_input(name, e),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::default_pairs;

    fn pair(a: ColumnRef, b: ColumnRef) -> PairSpec {
        PairSpec::new("x", a, "y", b)
    }

    #[test]
    fn default_layout_header_matches_the_reference() {
        let l = Layout::resolve(&default_pairs(), None, 34).unwrap();
        let h = String::from_utf8(l.header_line().to_vec()).unwrap();
        assert!(h.starts_with("contig\tpos\tref\talt\t10a10b_PI\t10a10b_PG_al\t13a13b_PI"));
        assert!(h.ends_with("8a8b_PI\t8a8b_PG_al\n"));
        assert_eq!(h.split('\t').count(), 4 + 30);
        assert_eq!(l.pairs()[0], (33, 18));
    }

    #[test]
    fn phase_extender_header_names_samples_with_colons() {
        let pairs =
            [PairSpec::new("a", ColumnRef::Index(3), "b", ColumnRef::Index(4)).named("NA12891")];
        let mut l = Layout::resolve(&pairs, None, 5).unwrap();
        assert_eq!(
            l.header_line(),
            b"contig\tpos\tref\talt\tNA12891_PI\tNA12891_PG_al\n"
        );
        l.set_output(Format::PhaseExtender);
        assert_eq!(
            l.header_line(),
            b"CHROM\tPOS\tREF\tall-alleles\tNA12891:PI\tNA12891:PG_al\n"
        );
        l.set_output(Format::Vcf);
        assert!(l.header_line().is_empty());
        assert_eq!(l.samples(), ["NA12891"]);
    }

    #[test]
    fn a_missing_column_is_named() {
        let err = Layout::resolve(&default_pairs(), None, 20).unwrap_err();
        assert!(
            err.contains("pair 1 (10a10b): column 33 does not exist"),
            "{err}"
        );
    }

    #[test]
    fn names_resolve_through_the_header() {
        let names: Vec<String> = ["CHROM", "POS", "REF", "s1", "s2"]
            .map(String::from)
            .to_vec();
        let p = [pair(ColumnRef::Name("s2".into()), ColumnRef::Index(3))];
        let l = Layout::resolve(&p, Some(&names), 5).unwrap();
        assert_eq!(l.pairs(), &[(4, 3)]);
        assert_eq!(l.describe_column(4), "column 4 (s2)");
        let p = [pair(ColumnRef::Name("s9".into()), ColumnRef::Index(3))];
        let err = Layout::resolve(&p, Some(&names), 5).unwrap_err();
        assert!(err.contains("\"s9\" does not exist"), "{err}");
        let err = Layout::resolve(&p, None, 5).unwrap_err();
        assert!(err.contains("no header"), "{err}");
    }

    #[test]
    fn a_pair_of_one_column_and_a_name_twice_in_the_header_are_refused() {
        let p = [pair(ColumnRef::Index(3), ColumnRef::Index(3))];
        let err = Layout::resolve(&p, None, 5).unwrap_err();
        assert!(err.contains("both haplotypes name column 3"), "{err}");
        let names: Vec<String> = ["CHROM", "POS", "REF", "s1", "s1"]
            .map(String::from)
            .to_vec();
        let p = [pair(ColumnRef::Name("s1".into()), ColumnRef::Index(3))];
        let err = Layout::resolve(&p, Some(&names), 5).unwrap_err();
        assert!(
            err.contains("occurs twice in the header (columns 3 and 4)"),
            "{err}"
        );
        let p = [pair(ColumnRef::Name("s1".into()), ColumnRef::Index(3))];
        let names: Vec<String> = ["CHROM", "POS", "REF", "s1", "s2"]
            .map(String::from)
            .to_vec();
        let err = Layout::resolve(&p, Some(&names), 5).unwrap_err();
        assert!(err.contains("both haplotypes name column 3"), "{err}");
    }

    #[test]
    fn fixed_columns_are_not_haplotypes() {
        let p = [pair(ColumnRef::Index(2), ColumnRef::Index(3))];
        let err = Layout::resolve(&p, None, 5).unwrap_err();
        assert!(err.contains("column 2 is REF"), "{err}");
    }
}
