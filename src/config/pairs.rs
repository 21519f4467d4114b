//! Pairs of haplotype columns as the user names them (`[[pair]]` tables, `--pairs`), and
//! the reference script's (`matrix_to_haplotype.py`) layout.

use serde::{Deserialize, Serialize};

/// A column of the matrix, by 0-based index or by header name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ColumnRef {
    /// A 0-based index: 0 is CHROM, 1 POS, 2 REF, 3 the first haplotype.
    Index(usize),
    /// A name of the header line or header file (`NA12878_1`), in TOML a string.
    Name(String),
}

/// One haplotype of a pair: its label in the output header, and where it is in the input.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Haplotype {
    /// Text that names this haplotype in the output header (`10a`).
    pub label: String,
    /// The input column: a 0-based index, or a header name given as a string.
    pub column: ColumnRef,
}

/// Two haplotype columns that make one `_PI`/`_PG_al` pair in the output, in this order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PairSpec {
    /// The sample's name, which names the pair's output columns (`<name>_PI`,
    /// `<name>:PI`, the VCF sample column); default: first label, then second.
    #[serde(default)]
    pub name: Option<String>,
    /// Written left of the `|`; its label comes first in the pair's name.
    pub first: Haplotype,
    /// Written right of the `|`.
    pub second: Haplotype,
}

impl PairSpec {
    /// A pair of labelled columns.
    pub fn new(
        first_label: impl Into<String>,
        first: ColumnRef,
        second_label: impl Into<String>,
        second: ColumnRef,
    ) -> PairSpec {
        PairSpec {
            name: None,
            first: Haplotype {
                label: first_label.into(),
                column: first,
            },
            second: Haplotype {
                label: second_label.into(),
                column: second,
            },
        }
    }

    /// The same pair named `name` (the sample's name).
    pub fn named(mut self, name: impl Into<String>) -> PairSpec {
        self.name = Some(name.into());
        self
    }

    /// The pair's name in the output header: its `name`, else first label then second
    /// (`10a10b`, the reference's naming).
    pub fn name(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => format!("{}{}", self.first.label, self.second.label),
        }
    }
}

/// The original script's 15 pairs over a 34-column matrix, each with its labels in sorted
/// order: `(first label, first column, second label, second column)`, columns 0-based.
/// Column 16 is in no pair but still counts for ALT. `config/hapflow.toml` spells out the
/// same table.
pub const DEFAULT_LAYOUT: [(&str, usize, &str, usize); 15] = [
    ("10a", 33, "10b", 18),
    ("13a", 3, "13b", 19),
    ("14a", 20, "14b", 4),
    ("16a", 5, "16b", 21),
    ("17a", 6, "17b", 22),
    ("23a", 7, "23b", 23),
    ("24a", 8, "24b", 24),
    ("25a", 25, "25b", 9),
    ("26a", 10, "26b", 26),
    ("34a", 11, "34b", 27),
    ("35a", 12, "35b", 28),
    ("37a", 13, "37b", 29),
    ("38a", 14, "38b", 30),
    ("3a", 31, "3b", 15),
    ("8a", 32, "8b", 17),
];

/// Pairs that cannot make a table: a pair naming one column twice (its `_PG_al` would be
/// `x|x`), or two pairs with the same name (their output columns would share names). Uses
/// each pair's name as the output writes it ([`PairSpec::name`]).
///
/// # Errors
///
/// The message naming the first such pair (1-based, in the order given).
pub fn check_pairs(pairs: &[PairSpec]) -> Result<(), String> {
    for (i, pair) in pairs.iter().enumerate() {
        if pair.first.column == pair.second.column {
            let column = match &pair.first.column {
                ColumnRef::Index(n) => n.to_string(),
                ColumnRef::Name(name) => format!("{name:?}"),
            };
            return Err(format!(
                "pair {} ({}) names column {column} twice; a pair is two different haplotype columns",
                i + 1,
                pair.name()
            ));
        }
        let name = pair.name();
        if let Some(j) = pairs[..i].iter().position(|p| p.name() == name) {
            return Err(format!(
                "pairs {} and {} are both named {name:?}; their output columns would have the same names",
                j + 1,
                i + 1
            ));
        }
    }
    Ok(())
}

/// [`DEFAULT_LAYOUT`] as pairs: the layout when none are configured.
pub fn default_pairs() -> Vec<PairSpec> {
    DEFAULT_LAYOUT
        .iter()
        .map(|&(a, ca, b, cb)| PairSpec::new(a, ColumnRef::Index(ca), b, ColumnRef::Index(cb)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_layout_names_follow_the_reference_header() {
        let names: Vec<String> = default_pairs().iter().map(PairSpec::name).collect();
        assert_eq!(names[0], "10a10b");
        assert_eq!(names[13], "3a3b");
        assert_eq!(names.len(), 15);
    }

    #[test]
    fn the_default_layout_passes_the_pair_checks() {
        assert_eq!(check_pairs(&default_pairs()), Ok(()));
    }

    #[test]
    fn default_layout_uses_31_haplotype_columns_of_34() {
        let mut cols: Vec<usize> = DEFAULT_LAYOUT
            .iter()
            .flat_map(|&(_, a, _, b)| [a, b])
            .collect();
        cols.sort();
        cols.dedup();
        assert_eq!(cols.len(), 30);
        assert_eq!(*cols.first().unwrap(), 3);
        assert_eq!(*cols.last().unwrap(), 33);
        assert!(!cols.contains(&16), "column 16 belongs to no pair");
    }
}
