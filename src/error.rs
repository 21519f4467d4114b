//! The one error type at the library boundary: bad input, bad configuration, I/O failure
//! and a requested stop are different variants, and each carries where it happened. Why an
//! input is bad is a [`BadInputReason`], so a caller can tell a VCF given by mistake from a
//! cut-short download without reading the message.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What went wrong, with its context. Boxed so `Result<T, Error>` stays one word wide.
///
/// Its `Display` is the message the command line prints after `hapflow: `; [`Error::kind`]
/// gives the variant to match on.
#[derive(Debug)]
pub struct Error(Box<ErrorKind>);

/// The kinds of [`Error`]. New kinds may be added, so a `match` outside this crate needs a
/// `_` arm.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is not a valid matrix. `line` is 1-based, `byte` the 0-based offset in the
    /// (decompressed) input of the line's first byte or of the problem in the line; either
    /// may be unknown (a header file, a problem found after the last line).
    BadInput {
        /// How the input is named in messages: its path as given, or `<stdin>`.
        input: String,
        /// The 1-based line of the problem.
        line: Option<u64>,
        /// The 0-based byte offset of the problem in the decompressed input.
        byte: Option<u64>,
        /// What is wrong with it.
        reason: BadInputReason,
    },
    /// The configuration or the command line asks for something that cannot be done.
    Config {
        /// The message, whole.
        what: String,
    },
    /// An operating-system call failed on `path`.
    Io {
        /// The file or folder the call was about.
        path: PathBuf,
        /// The verb of the message (`"open"`, `"read"`, `"rename"`...).
        action: &'static str,
        /// The system's error.
        source: io::Error,
    },
    /// The conversion was told to stop before it finished.
    Stopped,
    /// hapflow's own stored state is damaged or inconsistent: a checkpoint that does not
    /// match its contig journal or work file, a record that cannot be encoded. Neither the
    /// input's fault nor the user's (exit code 1); the daemon starts such a job over from
    /// the beginning instead of failing its input. `source` is the lower-level cause, if
    /// one.
    Store {
        /// What is damaged or inconsistent, as a whole message.
        what: String,
        /// The operating-system error underneath, if the fault came from one.
        source: Option<io::Error>,
    },
}

/// A column of a matrix line, as a bad-input message names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// The first field, the contig's name.
    Chrom,
    /// The second field, the 1-based position.
    Pos,
    /// The third field, the reference allele.
    Ref,
    /// A haplotype column, as [`Layout::describe_column`](crate::convert::Layout::describe_column)
    /// names it: `column 4`, or `column 4 (NA12878)` when the columns have names.
    Haplotype(String),
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Column::Chrom => f.write_str("CHROM"),
            Column::Pos => f.write_str("POS"),
            Column::Ref => f.write_str("REF"),
            Column::Haplotype(described) => f.write_str(described),
        }
    }
}

/// Why an input is not a matrix hapflow converts. `Display` gives the message (after
/// `bad input: NAME: line L, byte offset B: `), which says what the input is and how to fix it.
///
/// The matrix is the reference script's (`matrix_to_haplotype.py`): tab-separated,
/// `CHROM POS REF` then one allele per haplotype, every line with the same number of fields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BadInputReason {
    /// A line has `found` fields where the header line (or the first line) has `expected`.
    /// `spaces`: the line is short and holds spaces, so its fields are likely separated by
    /// spaces.
    FieldCount {
        /// Fields in the line.
        found: usize,
        /// Fields in the header line, or the first data line.
        expected: usize,
        /// The line has fewer fields and a space.
        spaces: bool,
    },
    /// A field is empty (two tabs in a row, or a tab at the end of the line).
    EmptyField(Column),
    /// POS is not a non-negative decimal integer. `header_line`: the line is a header line
    /// (`CHROM` or `#CHROM` first) other than the input's first line, as when matrices with
    /// different headers are joined with `cat`.
    BadPos {
        /// The field as written (lossily decoded as UTF-8).
        text: String,
        /// The line is a header line.
        header_line: bool,
    },
    /// REF or a haplotype allele holds a `/`, `|` or `,`: a genotype (`A/T`, `G|A`) or a list
    /// where one haplotype allele belongs, which would make `_PG_al` or ALT ambiguous.
    GenotypeCell {
        /// Where: [`Column::Ref`] or a [`Column::Haplotype`].
        column: Column,
        /// The field as written (lossily decoded as UTF-8).
        value: String,
    },
    /// A NUL byte in a line: the input is binary, not text.
    NulByte,
    /// One line's output row needs `need` bytes, more than the `cap` bytes an output chunk
    /// may hold under the memory limit.
    RowTooLarge {
        /// Bytes the row takes.
        need: usize,
        /// Bytes an output chunk may hold.
        cap: usize,
    },
    /// The input is a VCF (`##fileformat=VCF` or VCF's `#CHROM POS ID REF ALT` column
    /// header), not a matrix; the message says how `bcftools query` makes one.
    Vcf,
    /// The lines end in `\r` alone (a classic Mac OS text file), so the input looks like
    /// one long line.
    OldMacLineEnds,
    /// The first data line has no tab but has spaces: a space-separated table.
    SpaceSeparated,
    /// The input's first bytes are a format hapflow does not read (`"a zip archive"`, as
    /// `read/format.rs` names it). hapflow reads plain text, gzip,
    /// BGZF, zstd, xz and bzip2.
    UnreadableFormat(&'static str),
    /// Once decompressed, the input is a format that is not a matrix (BAM or BCF inside
    /// BGZF, a tar inside gzip), named as in [`UnreadableFormat`](Self::UnreadableFormat).
    NotAMatrixInside(&'static str),
    /// Once decompressed, the input is compressed again (`"gzip"`, `"zstd"`...).
    CompressedTwice(&'static str),
    /// The header file given for the column names has an empty first line.
    EmptyHeaderFile,
    /// Any other reason, as a whole message (kinds not yet given a variant of their own:
    /// VCF output's checks, a line longer than the memory limit allows, an input cut
    /// short, unsorted contigs, a header that does not fit the pairs...).
    Other(String),
}

impl fmt::Display for BadInputReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadInputReason::FieldCount {
                found,
                expected,
                spaces,
            } => {
                write!(
                    f,
                    "{found} fields, but the header (or first line) has {expected}"
                )?;
                if *spaces {
                    f.write_str(
                        " (the line has spaces: are its fields separated by spaces rather than tabs?)",
                    )?;
                }
                Ok(())
            }
            BadInputReason::EmptyField(Column::Haplotype(column)) => {
                write!(f, "empty allele in {column}")
            }
            BadInputReason::EmptyField(column) => write!(f, "empty {column}"),
            BadInputReason::BadPos { text, header_line } => {
                write!(f, "POS {text:?} is not a non-negative integer")?;
                if *header_line {
                    f.write_str(
                        " (this is a header line, and not the same as the input's first line: were \
                         different matrices joined?)",
                    )?;
                }
                Ok(())
            }
            BadInputReason::GenotypeCell { column, value } => write!(
                f,
                "{column} holds {value:?}, a genotype or a list, not one haplotype allele: a '/', '|' or ',' \
                 in an allele would make _PG_al or ALT ambiguous (give each haplotype its own column)"
            ),
            BadInputReason::NulByte => f.write_str("NUL byte: this is not a text matrix"),
            BadInputReason::RowTooLarge { need, cap } => write!(
                f,
                "its output row would take {need} bytes, more than the {cap} a chunk may hold under this memory limit"
            ),
            BadInputReason::Vcf => f.write_str(
                "this is a VCF, not a genome matrix (one allele per haplotype column): make one with \
                 `bcftools query -f '%CHROM\\t%POS\\t%REF[\\t%TGT]\\n' FILE.vcf.gz | tr '|/' '\\t\\t'` \
                 (each sample's phased genotype becomes two haplotype columns)",
            ),
            BadInputReason::OldMacLineEnds => f.write_str(
                "lines end in \\r without \\n (an old Mac text file): convert it with `tr '\\r' '\\n'`",
            ),
            BadInputReason::SpaceSeparated => f.write_str(
                "no tab in the line, but spaces: the fields seem separated by spaces; hapflow reads \
                 tab-separated matrices (convert with `tr ' ' '\\t'` if no field holds a space)",
            ),
            BadInputReason::UnreadableFormat(format) => write!(
                f,
                "this is {format}, not a genome matrix: hapflow reads plain text, gzip, BGZF, zstd, xz and bzip2 (extract the matrix first)"
            ),
            BadInputReason::NotAMatrixInside(format) => write!(
                f,
                "once decompressed, this is {format}, not a genome matrix: hapflow reads a \
                 plain-text matrix, plain or compressed once (extract the matrix first)"
            ),
            BadInputReason::CompressedTwice(format) => write!(
                f,
                "once decompressed, this is {format} data again: the file was compressed twice; \
                 decompress it once and give hapflow the result"
            ),
            BadInputReason::EmptyHeaderFile => f.write_str("the header file's first line is empty"),
            BadInputReason::Other(what) => f.write_str(what),
        }
    }
}

impl From<String> for BadInputReason {
    /// A whole message becomes [`BadInputReason::Other`].
    fn from(what: String) -> Self {
        BadInputReason::Other(what)
    }
}

impl From<&str> for BadInputReason {
    /// A whole message becomes [`BadInputReason::Other`].
    fn from(what: &str) -> Self {
        BadInputReason::Other(what.to_string())
    }
}

impl Error {
    /// The kind of error, to match on.
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }

    /// Bad input where no line can be named (a header file, the input as a whole).
    /// `reason` is a [`BadInputReason`] or a whole message (`&str`, `String`).
    pub fn bad_input(input: impl Into<String>, reason: impl Into<BadInputReason>) -> Error {
        Error(Box::new(ErrorKind::BadInput {
            input: input.into(),
            line: None,
            byte: None,
            reason: reason.into(),
        }))
    }

    /// Bad input at 1-based `line`, 0-based `byte` of the decompressed input.
    /// `reason` is a [`BadInputReason`] or a whole message (`&str`, `String`).
    pub fn bad_line(
        input: impl Into<String>,
        line: u64,
        byte: u64,
        reason: impl Into<BadInputReason>,
    ) -> Error {
        Error(Box::new(ErrorKind::BadInput {
            input: input.into(),
            line: Some(line),
            byte: Some(byte),
            reason: reason.into(),
        }))
    }

    /// A configuration or command-line error; `what` is the whole message.
    pub fn config(what: impl Into<String>) -> Error {
        Error(Box::new(ErrorKind::Config { what: what.into() }))
    }

    /// An operating-system call that failed: `cannot {action} {path}: {source}`.
    pub fn io(path: impl AsRef<Path>, action: &'static str, source: io::Error) -> Error {
        Error(Box::new(ErrorKind::Io {
            path: path.as_ref().to_path_buf(),
            action,
            source,
        }))
    }

    /// The conversion stopped because it was told to (a stop flag, a signal).
    pub fn stopped() -> Error {
        Error(Box::new(ErrorKind::Stopped))
    }

    /// A fault of hapflow's stored state ([`ErrorKind::Store`]), said in `what`.
    pub fn store(what: impl Into<String>) -> Error {
        Error(Box::new(ErrorKind::Store {
            what: what.into(),
            source: None,
        }))
    }

    /// [`Error::store`] with its lower-level cause.
    pub fn store_io(what: impl Into<String>, source: io::Error) -> Error {
        Error(Box::new(ErrorKind::Store {
            what: what.into(),
            source: Some(source),
        }))
    }

    /// Why the input is bad, if this is bad input.
    pub fn bad_input_reason(&self) -> Option<&BadInputReason> {
        match &*self.0 {
            ErrorKind::BadInput { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// True for errors caused by what the user gave us (input or configuration), as opposed
    /// to failures of the machine. The command line maps these to exit code 2.
    pub fn is_user_error(&self) -> bool {
        matches!(
            *self.0,
            ErrorKind::BadInput { .. } | ErrorKind::Config { .. }
        )
    }

    /// The process exit code this error calls for: 2 for bad input or configuration (the
    /// user's to fix), 1 for a failure of the machine (I/O) or a stop.
    pub fn exit_code(&self) -> i32 {
        if self.is_user_error() {
            2
        } else {
            1
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            ErrorKind::BadInput {
                input,
                line,
                byte,
                reason,
            } => {
                write!(f, "bad input: {input}")?;
                if let Some(line) = line {
                    write!(f, ": line {line}")?;
                }
                if let Some(byte) = byte {
                    write!(f, ", byte offset {byte}")?;
                }
                write!(f, ": {reason}")
            }
            ErrorKind::Config { what } => write!(f, "{what}"),
            ErrorKind::Io {
                path,
                action,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
            ErrorKind::Stopped => write!(f, "stopped before the end of the input"),
            ErrorKind::Store { what, source } => match source {
                Some(source) => write!(f, "{what}: {source}"),
                None => write!(f, "{what}"),
            },
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.0 {
            ErrorKind::Io { source, .. }
            | ErrorKind::Store {
                source: Some(source),
                ..
            } => Some(source),
            _ => None,
        }
    }
}

/// `Result` with hapflow's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_line_names_file_line_and_offset() {
        let e = Error::bad_line("m.txt", 12, 3456, "POS is not an integer");
        assert_eq!(
            e.to_string(),
            "bad input: m.txt: line 12, byte offset 3456: POS is not an integer"
        );
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn io_errors_exit_1_and_name_the_path() {
        let e = Error::io("/x/y", "open", io::Error::from(io::ErrorKind::NotFound));
        assert!(e.to_string().starts_with("cannot open /x/y: "));
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn a_store_fault_is_not_the_user_s_and_exits_1() {
        let e = Error::store_io(
            "cannot regroup contigs into /o/.m.part",
            io::Error::new(
                io::ErrorKind::InvalidData,
                "spooled row of a contig that was never seen",
            ),
        );
        assert!(!e.is_user_error());
        assert_eq!(e.exit_code(), 1);
        assert_eq!(
            e.to_string(),
            "cannot regroup contigs into /o/.m.part: spooled row of a contig that was never seen"
        );
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(Error::store("cannot resume: x").exit_code(), 1);
    }

    #[test]
    fn a_reason_is_kept_for_matching_and_gives_the_message() {
        let reason = BadInputReason::BadPos {
            text: "1e6".into(),
            header_line: false,
        };
        let e = Error::bad_line("m.txt", 3, 40, reason.clone());
        assert_eq!(e.bad_input_reason(), Some(&reason));
        assert_eq!(
            e.to_string(),
            "bad input: m.txt: line 3, byte offset 40: POS \"1e6\" is not a non-negative integer"
        );
        assert_eq!(Error::config("x").bad_input_reason(), None);
    }

    #[test]
    fn reasons_with_parts_word_their_messages_as_before() {
        let cases = [
            (
                BadInputReason::FieldCount {
                    found: 3,
                    expected: 6,
                    spaces: true,
                },
                "3 fields, but the header (or first line) has 6 (the line has spaces: are its \
                 fields separated by spaces rather than tabs?)",
            ),
            (
                BadInputReason::EmptyField(Column::Haplotype("column 4 (s1)".into())),
                "empty allele in column 4 (s1)",
            ),
            (BadInputReason::EmptyField(Column::Pos), "empty POS"),
            (
                BadInputReason::GenotypeCell {
                    column: Column::Ref,
                    value: "A/T".into(),
                },
                "REF holds \"A/T\", a genotype or a list, not one haplotype allele: a '/', '|' or \
                 ',' in an allele would make _PG_al or ALT ambiguous (give each haplotype its own \
                 column)",
            ),
            (
                BadInputReason::UnreadableFormat("a zip archive"),
                "this is a zip archive, not a genome matrix: hapflow reads plain text, gzip, BGZF, \
                 zstd, xz and bzip2 (extract the matrix first)",
            ),
            (BadInputReason::Other("as given".into()), "as given"),
        ];
        for (reason, message) in cases {
            assert_eq!(reason.to_string(), message);
        }
    }
}
