//! The settings that shape a conversion's output bytes, and their fingerprint, which every
//! checkpoint records: a job resumed under other settings would publish a mixed file (its
//! first rows under the old pair layout, the rest under the new), so a checkpoint whose
//! fingerprint differs is dropped and the job starts over.
//!
//! A new option that changes output bytes (allele handling, output format, compression)
//! joins by becoming a field of [`ConversionSettings`]: the fingerprint covers every field.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use crate::config::{Config, OutputSettings, PairSpec};
use crate::convert::Alleles;
use crate::pipeline::Plan;

/// Everything in the configuration that shapes the bytes of an output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionSettings {
    /// The pairs, one table per pair, in output order.
    pub pairs: Vec<PairSpec>,
    /// Column names for matrices without a header line (the file's contents are part of
    /// the fingerprint, not only its name).
    pub header_file: Option<PathBuf>,
    /// How alleles are read (`[alleles] missing` and `uppercase`).
    pub alleles: Alleles,
    /// The output's format and compression (`[output]`).
    pub output: OutputSettings,
    /// For a BGZF output, the chunk size: blocks end where chunks end, so a job resumed
    /// under another memory limit would cut its blocks elsewhere than an uninterrupted one.
    pub bgzf_chunk: Option<usize>,
}

impl ConversionSettings {
    /// The settings `c` gives, for outputs converted under `plan`.
    pub fn from_config(c: &Config, plan: &Plan) -> ConversionSettings {
        let output = c.output.settings(None);
        ConversionSettings {
            pairs: c.pairs(),
            header_file: c.header_file.clone(),
            alleles: c.alleles.alleles(),
            bgzf_chunk: output.bgzf_level.map(|_| plan.chunk),
            output,
        }
    }

    /// A 64-bit fingerprint of every field (and of the header file's contents).
    ///
    /// It hashes the settings' `Debug` form with the standard library's SipHash: the same
    /// binary gives the same figure for the same settings in every run. A hapflow upgrade
    /// that changes either may give another figure for the same settings; the cost is a
    /// job that starts over, never a mixed output.
    pub fn fingerprint(&self) -> u64 {
        #[allow(deprecated)]
        let mut h = std::hash::SipHasher::new();
        format!("{self:?}").hash(&mut h);
        if let Some(path) = &self.header_file {
            // A header file that cannot be read fails the conversion anyway.
            std::fs::read(path).ok().hash(&mut h);
        }
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_and_the_header_file_contents_count() {
        let c = Config::parse("").unwrap();
        let plan = Plan::new(64 << 20, 2).unwrap();
        let base = ConversionSettings::from_config(&c, &plan);
        assert_eq!(base.fingerprint(), base.clone().fingerprint());
        let mut fewer = base.clone();
        fewer.pairs.truncate(1);
        assert_ne!(base.fingerprint(), fewer.fingerprint());
        let mut swapped = base.clone();
        let p = &mut swapped.pairs[0];
        std::mem::swap(&mut p.first, &mut p.second);
        assert_ne!(base.fingerprint(), swapped.fingerprint());
        let mut dot = base.clone();
        dot.alleles = Alleles::new(b"N.", false);
        assert_ne!(base.fingerprint(), dot.fingerprint());
        let vcf = Config::parse("[output]\nformat = \"vcf\"").unwrap();
        assert_ne!(
            base.fingerprint(),
            ConversionSettings::from_config(&vcf, &plan).fingerprint()
        );
        let bgzf = Config::parse("[output]\ncompress = \"bgzf\"").unwrap();
        let packed = ConversionSettings::from_config(&bgzf, &plan);
        assert_ne!(base.fingerprint(), packed.fingerprint());
        let other_chunks = ConversionSettings::from_config(&bgzf, &Plan::new(32 << 20, 2).unwrap());
        assert_ne!(
            packed.fingerprint(),
            other_chunks.fingerprint(),
            "BGZF blocks follow the chunk size"
        );
        let mut upper = base.clone();
        upper.alleles = Alleles::new(b"N", true);
        assert_ne!(base.fingerprint(), upper.fingerprint());

        let dir = tempfile::tempdir().unwrap();
        let header = dir.path().join("h.txt");
        std::fs::write(&header, "CHROM\tPOS\tREF\ta\tb\n").unwrap();
        let mut with = base.clone();
        with.header_file = Some(header.clone());
        let before = with.fingerprint();
        assert_ne!(before, base.fingerprint());
        std::fs::write(&header, "CHROM\tPOS\tREF\tb\ta\n").unwrap();
        assert_ne!(before, with.fingerprint(), "same file name, other columns");
    }
}
