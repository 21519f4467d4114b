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
    /// The line starts with `#` and is neither a header line (`CHROM` or `#CHROM` first, or
    /// `bcftools query -H`'s `# [1]CHROM`) nor a VCF's: a comment line, which a matrix (the
    /// reference script's) does not have and hapflow does not skip.
    CommentLine,
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
    /// VCF output: REF or an ALT allele holds characters VCF's REF/ALT cannot carry (VCF
    /// 4.2 takes A, C, G, T and N; hapflow writes the matrix's `-` as `*` in ALT).
    VcfAllele {
        /// Where: [`Column::Ref`] or a [`Column::Haplotype`].
        column: Column,
        /// The allele as written (lossily decoded as UTF-8).
        allele: String,
        /// The allele is this one character: the message suggests it may mean "no call".
        no_call: Option<char>,
    },
    /// VCF output: a haplotype allele is a literal `*`, which would merge with the `*`
    /// hapflow writes for the matrix's `-` (a gap).
    VcfStar(Column),
    /// VCF output: POS is 0; VCF's positions start at 1.
    VcfPosZero,
    /// VCF output: POS is over VCF's (htslib's) largest position, 2^31 - 1.
    VcfPosTooLarge(String),
    /// VCF output: the contig's name is not a VCF 4.2 contig ID (section 1.4.7: no
    /// whitespace, commas, angle brackets, brackets, quotes or backslashes, not starting
    /// with `*` or `=`).
    VcfContigName(String),
    /// VCF output: POS falls within a contig (VCF needs a contig's records in position
    /// order).
    PosDecreasing {
        /// The contig (lossily decoded as UTF-8).
        contig: String,
        /// POS of this line.
        pos: u64,
        /// POS of the contig's record before it.
        last: u64,
    },
    /// VCF output with `--fai`: POS is past the contig's length in the FASTA index.
    PastContigEnd {
        /// The contig (lossily decoded as UTF-8).
        contig: String,
        /// POS of the line, in bp.
        pos: u64,
        /// The contig's length in the index, in bp.
        length: u64,
        /// The FASTA index (`--fai`).
        fai: PathBuf,
    },
    /// VCF output with `--fai`: the FASTA index does not list the contig.
    ContigNotInIndex {
        /// The contig (lossily decoded as UTF-8).
        contig: String,
        /// The FASTA index (`--fai`).
        fai: PathBuf,
    },
    /// The first data line has `found` fields where the header line or header file names
    /// `names` columns. The message adds a hint when the lines hold two columns per named
    /// sample (genotypes split into haplotypes under a per-sample header).
    HeaderFieldCount {
        /// Fields in the first data line.
        found: usize,
        /// Columns the header names.
        names: usize,
        /// The names come from a header file (`--header`), not the input's header line.
        header_file: bool,
    },
    /// A line is longer than a chunk buffer, `chunk` bytes under a `limit`-byte memory
    /// limit.
    LineTooLong {
        /// Bytes a chunk buffer holds: the longest line that fits.
        chunk: u64,
        /// The memory limit, in bytes.
        limit: u64,
    },
    /// Compressed input whose data ends early: the stream is cut short (or corrupt in a
    /// way its decoder cannot tell from a cut), after `lines` whole lines.
    CutShort {
        /// The stored format, as [`BadInputReason::UnreadableFormat`] names formats
        /// (`"gzip"`, `"BGZF"`, `"zstd"`...).
        format: &'static str,
        /// Whole lines read before the data ends.
        lines: u64,
        /// The decoder's own message.
        decoder: String,
    },
    /// Compressed input with bytes after the end of its last gzip member.
    TrailingBytes {
        /// The stored format.
        format: &'static str,
        /// Whole lines read before the data ends.
        lines: u64,
        /// The decoder's own message.
        decoder: String,
    },
    /// Compressed input whose decoder finds damaged data (a failed CRC or checksum, or
    /// invalid compressed data) after `lines` good lines.
    CorruptCompressed {
        /// The stored format.
        format: &'static str,
        /// Good lines read before the damage.
        lines: u64,
        /// The decoder's own message.
        decoder: String,
    },
    /// Any other reason, as a whole message (kinds not yet given a variant of their own:
    /// a compressed file that needs more memory than the limit sets aside, a header that
    /// does not fit the pairs...).
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
            BadInputReason::CommentLine => f.write_str(
                "a comment line (it starts with '#' and is not a header line): hapflow does not \
                 read comment lines; remove them first, e.g. with `grep -v '^#'` (or \
                 `awk '!/^#/ || /^#CHROM/'` to keep a #CHROM header line)",
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
            BadInputReason::HeaderFieldCount {
                found,
                names,
                header_file,
            } => write!(
                f,
                "{found} fields, but the {} has {names}{}",
                if *header_file { "header file" } else { "header line" },
                crate::read::header::split_genotypes_hint(*names, *found)
            ),
            BadInputReason::LineTooLong { chunk, limit } => write!(
                f,
                "line longer than {}, the longest a {} memory limit allows (raise --memory-limit)",
                crate::config::size::format_size(*chunk),
                crate::config::size::format_size(*limit),
            ),
            BadInputReason::CutShort {
                format,
                lines,
                decoder,
            } => write!(
                f,
                "the {format} input is cut short or corrupt: the data ends here, after {lines} lines ({decoder})"
            ),
            BadInputReason::TrailingBytes {
                format,
                lines,
                decoder,
            } => write!(
                f,
                "the {format} input has bytes after its end: the data ends here, after {lines} lines ({decoder})"
            ),
            BadInputReason::CorruptCompressed {
                format,
                lines,
                decoder,
            } => write!(
                f,
                "the {format} input is corrupt: its decoder finds damaged data (a failed \
                 CRC or checksum, or invalid compressed data) after {lines} good lines ({decoder})"
            ),
            BadInputReason::VcfAllele {
                column,
                allele,
                no_call,
            } => {
                match column {
                    Column::Haplotype(_) => write!(f, "allele in {column}")?,
                    _ => write!(f, "{column}")?,
                }
                write!(
                    f,
                    " {allele:?} cannot be written in VCF, which takes A, C, G, T and N (and `-`, written `*`, in ALT)"
                )?;
                if let Some(c) = no_call {
                    write!(f, "; if {c:?} means no call, add it to the missing symbols")?;
                }
                Ok(())
            }
            BadInputReason::VcfStar(column) => write!(
                f,
                "allele in {column} \"*\" cannot be written in VCF: hapflow writes the matrix's \"-\" (a gap) as VCF's \"*\", so a \"*\" would merge with it; write \"-\" for a gap, or add \"*\" to the missing symbols (--missing) if it means no call"
            ),
            BadInputReason::VcfPosZero => {
                f.write_str("POS 0 cannot be written in VCF, whose positions start at 1")
            }
            BadInputReason::VcfPosTooLarge(text) => write!(
                f,
                "POS {text} is larger than VCF allows ({})",
                crate::convert::vcf::MAX_POS
            ),
            BadInputReason::VcfContigName(contig) => write!(
                f,
                "contig {contig:?} cannot be a VCF contig ID: VCF 4.2 allows [0-9A-Za-z!#$%&+./:;?@^_|~-] and then also * and =, so no whitespace, commas, angle brackets or quotes; and a record starting with # is a header line to tabix, bcftools and plink2 (rename the contig, or write --format table)"
            ),
            BadInputReason::PosDecreasing { contig, pos, last } => write!(
                f,
                "POS {pos} comes after POS {last} on contig {contig}: VCF needs the records of a contig in position order (sort the matrix by POS, or write --format table)"
            ),
            BadInputReason::PastContigEnd {
                contig,
                pos,
                length,
                fai,
            } => write!(
                f,
                "POS {pos} is past the end of contig {contig}, {length} bp long in the FASTA index {}",
                fai.display()
            ),
            BadInputReason::ContigNotInIndex { contig, fai } => write!(
                f,
                "contig {contig:?} is not in the FASTA index {} given with --fai",
                fai.display()
            ),
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
    fn reasons_given_variants_read_as_their_former_messages() {
        let fai = PathBuf::from("ref.fa.fai");
        let cases = [
            (
                BadInputReason::VcfAllele {
                    column: Column::Haplotype("column 4".into()),
                    allele: "R".into(),
                    no_call: Some('R'),
                },
                "allele in column 4 \"R\" cannot be written in VCF, which takes A, C, G, T and N (and `-`, written `*`, in ALT); if 'R' means no call, add it to the missing symbols",
            ),
            (
                BadInputReason::VcfAllele {
                    column: Column::Ref,
                    allele: "-".into(),
                    no_call: None,
                },
                "REF \"-\" cannot be written in VCF, which takes A, C, G, T and N (and `-`, written `*`, in ALT)",
            ),
            (
                BadInputReason::VcfPosTooLarge("2147483648".into()),
                "POS 2147483648 is larger than VCF allows (2147483647)",
            ),
            (
                BadInputReason::PosDecreasing { contig: "d".into(), pos: 4, last: 5 },
                "POS 4 comes after POS 5 on contig d: VCF needs the records of a contig in position order (sort the matrix by POS, or write --format table)",
            ),
            (
                BadInputReason::PastContigEnd { contig: "chr1".into(), pos: 11, length: 10, fai: fai.clone() },
                "POS 11 is past the end of contig chr1, 10 bp long in the FASTA index ref.fa.fai",
            ),
            (
                BadInputReason::ContigNotInIndex { contig: "chr9".into(), fai },
                "contig \"chr9\" is not in the FASTA index ref.fa.fai given with --fai",
            ),
            (
                BadInputReason::LineTooLong { chunk: 1 << 20, limit: 32 << 20 },
                "line longer than 1MiB, the longest a 32MiB memory limit allows (raise --memory-limit)",
            ),
            (
                BadInputReason::CutShort { format: "gzip", lines: 7, decoder: "unexpected end of file".into() },
                "the gzip input is cut short or corrupt: the data ends here, after 7 lines (unexpected end of file)",
            ),
            (
                BadInputReason::HeaderFieldCount { found: 6, names: 4, header_file: true },
                "6 fields, but the header file has 4",
            ),
        ];
        for (reason, message) in cases {
            assert_eq!(reason.to_string(), message);
        }
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
