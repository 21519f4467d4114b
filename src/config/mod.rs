//! The TOML configuration (`--config FILE`, `config/hapflow.toml` documents every key):
//! every key optional, unknown keys an error, defaults in one place, relative paths resolved
//! against the file's own folder.
//!
//! ```
//! use hapflow::config::Config;
//!
//! let config = Config::parse(
//!     r#"
//!     threads = 2
//!     [memory]
//!     limit = "64MiB"
//!     [[pair]]
//!     first = { label = "s1a", column = 3 }
//!     second = { label = "s1b", column = 4 }
//!     "#,
//! )
//! .unwrap();
//! assert_eq!(config.memory.limit.0, 64 << 20);
//! assert_eq!(config.pairs[0].name(), "s1as1b");
//! assert!(Config::parse("[memory]\nlimt = \"1GiB\"").is_err());
//! ```

mod output;
pub(crate) mod pairs;
pub(crate) mod size;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::convert::Alleles;
use crate::error::{Error, Result};
pub use output::{Compress, Format, OutputConfig, OutputSettings, MAX_LEVEL};
pub use pairs::{check_pairs, default_pairs, ColumnRef, Haplotype, PairSpec};
pub use size::ByteSize;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Column names for matrices without a header line: a file holding one tab-separated line.
    #[serde(default, serialize_with = "path_text::optional")]
    pub header_file: Option<PathBuf>,
    /// Worker threads converting chunks; 0 means one per core.
    #[serde(default)]
    pub threads: usize,
    /// `[memory]`: the memory ceiling.
    #[serde(default)]
    pub memory: MemoryConfig,
    /// `[paths]`: the daemon's folders.
    #[serde(default)]
    pub paths: PathsConfig,
    /// `[daemon]`: the daemon's timing, logging and file handling.
    #[serde(default)]
    pub daemon: DaemonConfig,
    /// `[alleles]`: which characters mean "no call", and upper-casing.
    #[serde(default)]
    pub alleles: AllelesConfig,
    /// `[metrics]`: the daemon's Prometheus textfile.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// `[output]`: the output format and its compression.
    #[serde(default)]
    pub output: OutputConfig,
    /// The pairs, one table per pair, in output order; empty means the built-in layout.
    #[serde(default, rename = "pair")]
    pub pairs: Vec<PairSpec>,
}

/// `[memory]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryConfig {
    /// Ceiling on the peak resident memory of the whole process, in bytes (`"256MiB"`;
    /// default [`DEFAULT_MEMORY_LIMIT`]).
    #[serde(default = "default_memory_limit")]
    pub limit: ByteSize,
}

/// `[paths]`: the daemon's folders (`hapflow serve` only), relative to the configuration
/// file's folder unless absolute.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PathsConfig {
    /// Folder the daemon takes matrices from (default `inbox`).
    #[serde(default = "default_inbox", serialize_with = "path_text::serialize")]
    pub inbox: PathBuf,
    /// Folder the daemon publishes haplotype tables into (default `outbox`).
    #[serde(default = "default_outbox", serialize_with = "path_text::serialize")]
    pub outbox: PathBuf,
    /// Folder for inputs that could not be converted, each with an `.error.txt` report
    /// (default `failed`).
    #[serde(default = "default_failed", serialize_with = "path_text::serialize")]
    pub failed: PathBuf,
    /// Folder for the checkpoint database and the daemon's work files (default `state`).
    #[serde(default = "default_state", serialize_with = "path_text::serialize")]
    pub state: PathBuf,
}

/// `[daemon]` (`hapflow serve` only).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    /// Milliseconds a file's size and mtime must stay unchanged before it is taken
    /// (default 2000).
    #[serde(default = "default_settle_ms")]
    pub settle_ms: u64,
    /// Milliseconds between full rescans of the inbox (default 30000).
    #[serde(default = "default_rescan_ms")]
    pub rescan_ms: u64,
    /// What happens to an input once its output is published (default: archived).
    #[serde(default)]
    pub on_success: OnSuccess,
    /// Log filter: `error`, `warn`, `info`, `debug`, `trace`, or a `tracing` directive
    /// such as `hapflow=debug` (default `info`).
    #[serde(default = "default_log_level")]
    pub log_level: String,
    /// File-creation mask, in octal: outputs, reports and state are created with mode
    /// `0666` less this (`0644` by default). Others' write bit is always masked: nothing
    /// the daemon creates is ever world-writable.
    #[serde(default = "default_umask")]
    pub umask: String,
    /// Finished (done or failed) jobs whose records are kept, newest first; older ones are
    /// pruned from the store and the status (default 1000).
    #[serde(default = "default_keep_jobs")]
    pub keep_jobs: usize,
}

/// `[alleles]`: how alleles are read. The defaults (`missing = ["N"]`, no upper-casing)
/// give the reference script's (`matrix_to_haplotype.py`) conversion exactly.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AllelesConfig {
    /// Single characters meaning "no call": an allele equal to one is not in ALT, and in
    /// `_PG_al` each is replaced by REF (before `-` is). Each is one ASCII character.
    #[serde(default = "default_missing")]
    pub missing: Vec<String>,
    /// Upper-case REF and every allele before anything else (`a` and `A` are one allele).
    #[serde(default)]
    pub uppercase: bool,
}

/// The daemon's Prometheus metrics (`hapflow serve` only; `convert` ignores them).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// The Prometheus text-format file the daemon keeps for node_exporter's textfile
    /// collector (a name ending in `.prom`, in the collector's folder); absent: no metrics.
    #[serde(default, serialize_with = "path_text::optional")]
    pub textfile: Option<PathBuf>,
}

/// `[daemon] on_success`: what becomes of an input once its output is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnSuccess {
    /// Move the input into `state/archive/`.
    #[default]
    Archive,
    /// Remove the input.
    Delete,
}

/// Paths serialized whatever their bytes: the text of a UTF-8 path, else its escaped
/// bytes in Rust's debug form (`"a\xFFb"`, quotes included). serde's own form refuses a
/// path that is not UTF-8, which a command-line folder or the configuration file's own
/// folder may be; a reload compares configurations through this form.
mod path_text {
    use std::path::{Path, PathBuf};

    use serde::Serializer;

    /// A path: its text, or its escaped bytes.
    pub fn serialize<S: Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
        match p.to_str() {
            Some(text) => s.serialize_str(text),
            None => s.serialize_str(&format!("{p:?}")),
        }
    }

    /// An optional path: none, or as [`serialize`] writes it.
    pub fn optional<S: Serializer>(p: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
        match p {
            Some(p) => s.serialize_some(&Text(p)),
            None => s.serialize_none(),
        }
    }

    /// A path serialized as [`serialize`] writes it.
    struct Text<'a>(&'a Path);

    impl serde::Serialize for Text<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            serialize(self.0, s)
        }
    }
}

/// The memory ceiling when neither `--memory-limit` nor `[memory] limit` sets one: 256 MiB,
/// in bytes.
pub const DEFAULT_MEMORY_LIMIT: u64 = 256 << 20;

fn default_memory_limit() -> ByteSize {
    ByteSize(DEFAULT_MEMORY_LIMIT)
}
fn default_missing() -> Vec<String> {
    vec!["N".into()]
}
fn default_inbox() -> PathBuf {
    "inbox".into()
}
fn default_outbox() -> PathBuf {
    "outbox".into()
}
fn default_failed() -> PathBuf {
    "failed".into()
}
fn default_state() -> PathBuf {
    "state".into()
}
fn default_settle_ms() -> u64 {
    2000
}
fn default_rescan_ms() -> u64 {
    30000
}
fn default_log_level() -> String {
    "info".into()
}
fn default_umask() -> String {
    "0022".into()
}
fn default_keep_jobs() -> usize {
    1000
}

impl Default for AllelesConfig {
    fn default() -> Self {
        AllelesConfig {
            missing: default_missing(),
            uppercase: false,
        }
    }
}

impl AllelesConfig {
    /// The missing characters of a `--missing` flag: every character of `chars` is one.
    pub fn missing_from_flag(chars: &str) -> Vec<String> {
        chars.chars().map(String::from).collect()
    }

    /// Each missing character must be one ASCII character that can be part of an allele.
    ///
    /// # Errors
    ///
    /// The message naming the first entry that is empty, longer than one character, not
    /// ASCII, or a tab, line break, `|`, `/`, `,` or NUL (which separate fields, genotypes
    /// and ALT alleles).
    pub fn check(&self) -> std::result::Result<(), String> {
        for m in &self.missing {
            let ok = m.len() == 1
                && m.is_ascii()
                && !matches!(
                    m.as_bytes()[0],
                    b'\t' | b'\n' | b'\r' | b'|' | b'/' | b',' | 0
                );
            if !ok {
                return Err(format!(
                    "alleles.missing: {m:?} is not one character that can stand for an allele (such as \"N\" or \".\"); each entry is a single ASCII character, not a tab, '|', '/' or ','"
                ));
            }
        }
        Ok(())
    }

    /// The allele model the conversion runs with.
    pub fn alleles(&self) -> Alleles {
        let missing: Vec<u8> = self.missing.iter().flat_map(|m| m.bytes()).collect();
        Alleles::new(&missing, self.uppercase)
    }
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            limit: default_memory_limit(),
        }
    }
}

impl Default for PathsConfig {
    fn default() -> Self {
        PathsConfig {
            inbox: default_inbox(),
            outbox: default_outbox(),
            failed: default_failed(),
            state: default_state(),
        }
    }
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            settle_ms: default_settle_ms(),
            rescan_ms: default_rescan_ms(),
            on_success: OnSuccess::default(),
            log_level: default_log_level(),
            umask: default_umask(),
            keep_jobs: default_keep_jobs(),
        }
    }
}

impl Config {
    /// Reads and checks a configuration file; relative paths in it are made relative to the
    /// file's folder.
    ///
    /// ```
    /// use hapflow::config::Config;
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("hapflow.toml");
    /// std::fs::write(&path, "header_file = \"names.txt\"\n[paths]\ninbox = \"/data/in\"\n").unwrap();
    /// let config = Config::load(&path).unwrap();
    /// assert_eq!(config.header_file, Some(dir.path().join("names.txt")));
    /// assert_eq!(config.paths.inbox, std::path::Path::new("/data/in"));
    /// assert_eq!(config.paths.outbox, dir.path().join("outbox"));
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when the file cannot be read;
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) (`invalid config PATH: ...`) when it
    /// is not TOML, has an unknown key or a value of the wrong type, or fails the checks of
    /// [`Config::parse`].
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "read config", e))?;
        let mut config = Config::parse(&text)
            .map_err(|e| Error::config(format!("invalid config {}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_relative_to(base);
        Ok(config)
    }

    /// Parses TOML text as a configuration (paths stay as written).
    ///
    /// # Errors
    ///
    /// The message, when the text is not TOML, has an unknown key or a value of the wrong
    /// type, or a value fails its check: `[daemon] umask` not an octal mask up to `0777`,
    /// `[output] compress_level` above 12, a pair's name that is empty or holds whitespace
    /// (it names a VCF sample), a label that is empty or holds a tab or line break, a pair
    /// naming one column twice, two pairs with one name, a bad `[alleles] missing` entry.
    pub fn parse(text: &str) -> std::result::Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        config.check()?;
        Ok(config)
    }

    /// The file-creation mask the daemon runs with: `[daemon] umask`, plus others' write bit.
    pub fn umask(&self) -> u32 {
        u32::from_str_radix(&self.daemon.umask, 8).expect("checked at load") | 0o002
    }

    fn check(&self) -> std::result::Result<(), String> {
        match u32::from_str_radix(&self.daemon.umask, 8) {
            Ok(m) if m <= 0o777 => {}
            _ => {
                return Err(format!(
                    "daemon.umask {:?} is not an octal mask such as \"0022\"",
                    self.daemon.umask
                ))
            }
        }
        self.output.check()?;
        for (i, pair) in self.pairs.iter().enumerate() {
            // The name, given or made of the two labels, names a VCF sample and columns.
            let name = pair.name();
            if name.is_empty() || name.contains(|c: char| c.is_whitespace()) {
                let whose = if pair.name.is_some() {
                    "name"
                } else {
                    "name (its first label then its second; or set `name`)"
                };
                return Err(format!(
                    "pair {}: {whose} {name:?} must be non-empty text without spaces, tabs or line breaks (it names a VCF sample)",
                    i + 1
                ));
            }
            for h in [&pair.first, &pair.second] {
                if h.label.is_empty() || h.label.contains(['\t', '\n', '\r']) {
                    return Err(format!(
                        "pair {}: a label must be non-empty text without tabs or line breaks",
                        i + 1
                    ));
                }
            }
        }
        check_pairs(&self.pairs)?;
        self.alleles.check()
    }

    fn resolve_relative_to(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(h) = self.header_file.as_mut() {
            fix(h);
        }
        fix(&mut self.paths.inbox);
        fix(&mut self.paths.outbox);
        fix(&mut self.paths.failed);
        fix(&mut self.paths.state);
        if let Some(t) = self.metrics.textfile.as_mut() {
            fix(t);
        }
    }

    /// Checks the `[output]` settings again, after flags changed them.
    ///
    /// # Errors
    ///
    /// The message, when `compress_level` is above 12 (libdeflate's highest level).
    pub fn check_output(&self) -> std::result::Result<(), String> {
        self.output.check()
    }

    /// The pairs to write: the configured ones, or the built-in layout when none are given.
    pub fn pairs(&self) -> Vec<PairSpec> {
        if self.pairs.is_empty() {
            default_pairs()
        } else {
            self.pairs.clone()
        }
    }

    /// Worker threads to start: the configured number, or one per core.
    pub fn worker_threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_the_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.memory.limit, ByteSize(256 << 20));
        assert_eq!(c.daemon.settle_ms, 2000);
        assert_eq!(c.daemon.rescan_ms, 30000);
        assert_eq!(c.daemon.on_success, OnSuccess::Archive);
        assert_eq!(c.paths.state, PathBuf::from("state"));
        assert_eq!(c.pairs(), default_pairs());
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Config::parse("treads = 3").unwrap_err();
        assert!(err.contains("treads"), "{err}");
        assert!(Config::parse("[memory]\nlimt = \"1G\"").is_err());
        assert!(Config::parse("[[pair]]\nfirst = { label = \"a\", column = 3, x = 1 }\nsecond = { label = \"b\", column = 4 }").is_err());
    }

    #[test]
    fn pairs_take_indexes_or_names() {
        let c = Config::parse(
            r#"
            [[pair]]
            first = { label = "x", column = 4 }
            second = { label = "y", column = "s2" }
            "#,
        )
        .unwrap();
        assert_eq!(c.pairs.len(), 1);
        assert_eq!(c.pairs[0].first.column, ColumnRef::Index(4));
        assert_eq!(c.pairs[0].second.column, ColumnRef::Name("s2".into()));
        assert_eq!(c.pairs[0].name(), "xy");
    }

    #[test]
    fn sizes_and_modes_parse() {
        let c = Config::parse(
            "threads = 3\n[memory]\nlimit = \"32MiB\"\n[daemon]\non_success = \"delete\"\n",
        )
        .unwrap();
        assert_eq!(c.threads, 3);
        assert_eq!(c.memory.limit, ByteSize(32 << 20));
        assert_eq!(c.daemon.on_success, OnSuccess::Delete);
        assert!(Config::parse("[daemon]\non_success = \"shred\"").is_err());
        assert!(Config::parse("[memory]\nlimit = \"lots\"").is_err());
    }

    #[test]
    fn umask_is_octal_and_never_allows_world_writes() {
        assert_eq!(Config::parse("").unwrap().umask(), 0o022);
        assert_eq!(
            Config::parse("[daemon]\numask = \"0000\"").unwrap().umask(),
            0o002
        );
        assert_eq!(
            Config::parse("[daemon]\numask = \"027\"").unwrap().umask(),
            0o027
        );
        assert!(Config::parse("[daemon]\numask = \"0999\"").is_err());
        assert!(Config::parse("[daemon]\numask = \"1777\"").is_err());
    }

    #[test]
    fn alleles_parse_with_their_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.alleles, AllelesConfig::default());
        assert!(c.alleles.alleles().is_default());
        let c = Config::parse("[alleles]\nmissing = [\"N\", \".\"]\nuppercase = true").unwrap();
        assert_eq!(c.alleles.alleles(), Alleles::new(b"N.", true));
        for bad in ["\"NN\"", "\"\"", "\"/\"", "\"é\""] {
            let err = Config::parse(&format!("[alleles]\nmissing = [{bad}]")).unwrap_err();
            assert!(err.contains("alleles.missing"), "{bad}: {err}");
        }
        assert!(Config::parse("[alleles]\nmising = []").is_err());
        assert_eq!(AllelesConfig::missing_from_flag("N."), ["N", "."]);
    }

    #[test]
    fn pairs_that_cannot_make_a_table_are_refused_at_load() {
        let twice = "[[pair]]\nfirst = { label = \"a\", column = 3 }\nsecond = { label = \"b\", column = 3 }";
        let err = Config::parse(twice).unwrap_err();
        assert!(err.contains("pair 1 (ab) names column 3 twice"), "{err}");
        let one = "[[pair]]\nfirst = { label = \"a\", column = 3 }\nsecond = { label = \"b\", column = 4 }\n";
        let err = Config::parse(&format!("{one}{one}")).unwrap_err();
        assert!(err.contains("pairs 1 and 2 are both named \"ab\""), "{err}");
    }

    #[test]
    fn a_pair_name_names_its_columns_and_must_be_unique() {
        let c = Config::parse(
            "[[pair]]\nname = \"NA12891\"\nfirst = { label = \"a\", column = 3 }\nsecond = { label = \"b\", column = 4 }\n[[pair]]\nfirst = { label = \"c\", column = 5 }\nsecond = { label = \"d\", column = 6 }",
        )
        .unwrap();
        assert_eq!(c.pairs[0].name(), "NA12891");
        assert_eq!(c.pairs[1].name(), "cd");
        let err = Config::parse(
            "[[pair]]\nname = \"cd\"\nfirst = { label = \"a\", column = 3 }\nsecond = { label = \"b\", column = 4 }\n[[pair]]\nfirst = { label = \"c\", column = 5 }\nsecond = { label = \"d\", column = 6 }",
        )
        .unwrap_err();
        assert!(err.contains("pairs 1 and 2 are both named \"cd\""), "{err}");
        let err = Config::parse(
            "[[pair]]\nname = \"a b\"\nfirst = { label = \"a\", column = 3 }\nsecond = { label = \"b\", column = 4 }",
        )
        .unwrap_err();
        assert!(err.contains("without spaces"), "{err}");
        let err = Config::parse(
            "[[pair]]\nfirst = { label = \"a b\", column = 3 }\nsecond = { label = \"c\", column = 4 }",
        )
        .unwrap_err();
        assert!(
            err.contains("\"a bc\" must be") && err.contains("or set `name`"),
            "{err}"
        );
    }

    #[test]
    fn labels_with_tabs_are_refused() {
        let err = Config::parse(
            "[[pair]]\nfirst = { label = \"a\\tb\", column = 3 }\nsecond = { label = \"b\", column = 4 }",
        )
        .unwrap_err();
        assert!(err.contains("pair 1"), "{err}");
    }

    #[test]
    fn relative_paths_resolve_against_the_config_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.toml");
        std::fs::write(
            &path,
            "header_file = \"hdr.txt\"\n[paths]\ninbox = \"/abs/in\"\n",
        )
        .unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!(c.header_file.unwrap(), dir.path().join("hdr.txt"));
        assert_eq!(c.paths.inbox, PathBuf::from("/abs/in"));
        assert_eq!(c.paths.outbox, dir.path().join("outbox"));
    }

    #[test]
    fn metrics_textfile_is_optional_and_resolves_like_the_folders() {
        assert_eq!(Config::parse("").unwrap().metrics.textfile, None);
        assert!(Config::parse("[metrics]\ntextfle = \"x.prom\"").is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.toml");
        std::fs::write(&path, "[metrics]\ntextfile = \"prom/hapflow.prom\"\n").unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!(
            c.metrics.textfile.unwrap(),
            dir.path().join("prom/hapflow.prom")
        );
        let abs = Config::parse("[metrics]\ntextfile = \"/var/lib/x/hapflow.prom\"").unwrap();
        assert_eq!(
            abs.metrics.textfile.unwrap(),
            PathBuf::from("/var/lib/x/hapflow.prom")
        );
    }

    /// The shipped configuration must load and must spell out exactly the built-in layout.
    #[test]
    fn shipped_config_is_the_default_layout() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/hapflow.toml");
        let c = Config::load(&path).unwrap();
        assert_eq!(c.pairs, default_pairs());
        assert_eq!(c.memory.limit, ByteSize(DEFAULT_MEMORY_LIMIT));
    }
}
