//! `[output]`: which format the conversion writes (the reference's table, phase-extender's
//! table, or VCF 4.2) and whether it is compressed as BGZF.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What the output looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// The reference's table: `contig pos ref alt <name>_PI <name>_PG_al ...`.
    #[default]
    Table,
    /// The same rows under the header phase-extender and phase-stitcher read:
    /// `CHROM POS REF all-alleles <name>:PI <name>:PG_al ...`, all-alleles being REF then ALT.
    PhaseExtender,
    /// VCF 4.2, one sample per pair, phased `GT:PS`.
    Vcf,
}

/// How the output is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compress {
    /// Plain text.
    #[default]
    None,
    /// BGZF, what `bgzip` writes: gzip members of at most 64 KiB and the empty end block.
    Bgzf,
}

/// The BGZF deflate level used when none is given. Measured on the question's mix (a 106 MB
/// table): level 1 compressed it in 0.26 CPU-seconds to 13.7 MB, level 6 in 1.05 s to
/// 10.9 MB (README, "Output formats").
pub const DEFAULT_LEVEL: u32 = 1;
/// The highest level libdeflate has.
pub const MAX_LEVEL: u32 = 12;

/// The `[output]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// `table`, `phase-extender` or `vcf`.
    #[serde(default)]
    pub format: Format,
    /// `none` or `bgzf`; None (not given): an output name ending in `.gz` or `.bgz` (any
    /// case) means `bgzf`, any other plain text. `none` with such a name is a contradiction,
    /// refused by [`OutputConfig::check_name`].
    #[serde(default)]
    pub compress: Option<Compress>,
    /// BGZF deflate level, 0 (stored) to 12 (libdeflate's slowest).
    #[serde(default = "default_level")]
    pub compress_level: u32,
}

fn default_level() -> u32 {
    DEFAULT_LEVEL
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            format: Format::default(),
            compress: None,
            compress_level: DEFAULT_LEVEL,
        }
    }
}

impl OutputConfig {
    /// Checks the values' ranges; the error is a config error's sentence.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.compress_level > MAX_LEVEL {
            return Err(format!(
                "output.compress_level {} is out of range: BGZF levels are 0 to {MAX_LEVEL}",
                self.compress_level
            ));
        }
        Ok(())
    }

    /// Refuses an output name that contradicts an explicit `compress = "none"` (flag or
    /// config): a name ending in `.gz` or `.bgz` (any case) promises BGZF, and writing
    /// plain text under it would fool every reader.
    ///
    /// # Errors
    ///
    /// The config error's sentence, naming the output, when the name and the compression
    /// contradict each other.
    pub fn check_name(&self, name: Option<&Path>) -> Result<(), String> {
        match name {
            Some(n) if self.compress == Some(Compress::None) && compressed_name(n) => Err(format!(
                "the output name {} ends in .gz or .bgz, which means BGZF, but the compression is none; drop --compress none (or compress = \"none\") or name the output without .gz",
                n.display()
            )),
            _ => Ok(()),
        }
    }

    /// The settings for an output named `name` (None: stdout): BGZF when `compress` says
    /// so, or when it is not given and the name ends in `.gz` or `.bgz` (any case:
    /// `OUT.VCF.GZ` too).
    pub fn settings(&self, name: Option<&Path>) -> OutputSettings {
        let by_name = name.is_some_and(compressed_name);
        let bgzf = match self.compress {
            Some(c) => c == Compress::Bgzf,
            None => by_name,
        };
        OutputSettings {
            format: self.format,
            bgzf_level: bgzf.then_some(self.compress_level),
            ..OutputSettings::default()
        }
    }
}

/// True for a name ending in `.gz` or `.bgz`, in any case.
fn compressed_name(name: &Path) -> bool {
    name.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("gz") || e.eq_ignore_ascii_case("bgz"))
}

/// What a conversion writes: the format, the BGZF level (None: not compressed), and the
/// VCF-only settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSettings {
    /// The format of the rows and header.
    pub format: Format,
    /// The BGZF deflate level, 0 to 12 (`MAX_LEVEL`); `None`: plain text.
    pub bgzf_level: Option<u32>,
    /// A FASTA index (`.fai`) giving the VCF's contig names and lengths.
    pub fai: Option<PathBuf>,
}

impl OutputSettings {
    /// The daemon's output name after `<stem>.`: `haplotype.txt` (table, phase-extender) or
    /// `vcf`, with `.gz` when compressed.
    pub fn extension(&self) -> &'static str {
        match (self.format, self.bgzf_level.is_some()) {
            (Format::Vcf, false) => "vcf",
            (Format::Vcf, true) => "vcf.gz",
            (_, false) => "haplotype.txt",
            (_, true) => "haplotype.txt.gz",
        }
    }
}

impl Default for OutputSettings {
    fn default() -> Self {
        OutputSettings {
            format: Format::Table,
            bgzf_level: None,
            fai: None,
        }
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "table" => Ok(Format::Table),
            "phase-extender" => Ok(Format::PhaseExtender),
            "vcf" => Ok(Format::Vcf),
            _ => Err(format!(
                "{s:?} is not a format: table, phase-extender or vcf"
            )),
        }
    }
}

impl FromStr for Compress {
    type Err = String;
    fn from_str(s: &str) -> Result<Compress, String> {
        match s {
            "none" => Ok(Compress::None),
            "bgzf" => Ok(Compress::Bgzf),
            _ => Err(format!("{s:?} is not a compression: none or bgzf")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gz_or_bgz_name_means_bgzf() {
        let c = OutputConfig::default();
        assert_eq!(
            c.settings(Some(Path::new("o.vcf.gz"))).bgzf_level,
            Some(DEFAULT_LEVEL)
        );
        assert_eq!(
            c.settings(Some(Path::new("o.bgz"))).bgzf_level,
            Some(DEFAULT_LEVEL)
        );
        assert_eq!(
            c.settings(Some(Path::new("OUT.VCF.GZ"))).bgzf_level,
            Some(DEFAULT_LEVEL)
        );
        assert_eq!(c.settings(Some(Path::new("o.txt"))).bgzf_level, None);
        assert_eq!(c.settings(None).bgzf_level, None);
        assert!(c.check_name(Some(Path::new("o.vcf.gz"))).is_ok());
        let none = OutputConfig {
            compress: Some(Compress::None),
            ..OutputConfig::default()
        };
        assert!(none.check_name(Some(Path::new("o.txt"))).is_ok());
        assert!(none.check_name(None).is_ok());
        assert!(none
            .check_name(Some(Path::new("o.Bgz")))
            .unwrap_err()
            .contains("means BGZF"));
        let c = OutputConfig {
            compress: Some(Compress::Bgzf),
            compress_level: 6,
            ..OutputConfig::default()
        };
        assert_eq!(c.settings(None).bgzf_level, Some(6));
    }

    #[test]
    fn daemon_outputs_are_named_by_format_and_compression() {
        let named = |format, compress| {
            OutputConfig {
                format,
                compress: Some(compress),
                ..OutputConfig::default()
            }
            .settings(None)
            .extension()
        };
        assert_eq!(named(Format::Table, Compress::None), "haplotype.txt");
        assert_eq!(
            named(Format::PhaseExtender, Compress::Bgzf),
            "haplotype.txt.gz"
        );
        assert_eq!(named(Format::Vcf, Compress::None), "vcf");
        assert_eq!(named(Format::Vcf, Compress::Bgzf), "vcf.gz");
    }

    #[test]
    fn formats_parse_from_flags_and_toml() {
        assert_eq!(
            "phase-extender".parse::<Format>(),
            Ok(Format::PhaseExtender)
        );
        assert!("csv".parse::<Format>().is_err());
        let c: OutputConfig =
            toml::from_str("format = \"vcf\"\ncompress = \"bgzf\"\ncompress_level = 9").unwrap();
        assert_eq!(
            (c.format, c.compress, c.compress_level),
            (Format::Vcf, Some(Compress::Bgzf), 9)
        );
        assert!(toml::from_str::<OutputConfig>("format = \"bcf\"").is_err());
        assert!(toml::from_str::<OutputConfig>("level = 3").is_err());
        let c = OutputConfig {
            compress_level: 13,
            ..OutputConfig::default()
        };
        assert!(c.check().unwrap_err().contains("0 to 12"));
    }
}
