//! The one error type at the library boundary: bad input, bad configuration, I/O failure
//! and a requested stop are different variants, and each carries where it happened.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What went wrong, with its context. Boxed so `Result<T, Error>` stays one word wide.
#[derive(Debug)]
pub struct Error(Box<ErrorKind>);

#[derive(Debug)]
pub enum ErrorKind {
    /// The input is not a valid matrix. `line` is 1-based, `byte` the 0-based offset of the
    /// line's first byte in the (decompressed) input; either may be unknown.
    BadInput {
        input: String,
        line: Option<u64>,
        byte: Option<u64>,
        what: String,
    },
    /// The configuration or the command line asks for something that cannot be done.
    Config { what: String },
    /// An operating-system call failed on `path`.
    Io {
        path: PathBuf,
        action: &'static str,
        source: io::Error,
    },
    /// The conversion was told to stop before it finished.
    Stopped,
}

impl Error {
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }

    pub fn bad_input(input: impl Into<String>, what: impl Into<String>) -> Error {
        Error(Box::new(ErrorKind::BadInput {
            input: input.into(),
            line: None,
            byte: None,
            what: what.into(),
        }))
    }

    pub fn bad_line(
        input: impl Into<String>,
        line: u64,
        byte: u64,
        what: impl Into<String>,
    ) -> Error {
        Error(Box::new(ErrorKind::BadInput {
            input: input.into(),
            line: Some(line),
            byte: Some(byte),
            what: what.into(),
        }))
    }

    pub fn config(what: impl Into<String>) -> Error {
        Error(Box::new(ErrorKind::Config { what: what.into() }))
    }

    pub fn io(path: impl AsRef<Path>, action: &'static str, source: io::Error) -> Error {
        Error(Box::new(ErrorKind::Io {
            path: path.as_ref().to_path_buf(),
            action,
            source,
        }))
    }

    pub fn stopped() -> Error {
        Error(Box::new(ErrorKind::Stopped))
    }

    /// True for errors caused by what the user gave us (input or configuration), as opposed
    /// to failures of the machine. The command line maps these to exit code 2.
    pub fn is_user_error(&self) -> bool {
        matches!(
            *self.0,
            ErrorKind::BadInput { .. } | ErrorKind::Config { .. }
        )
    }

    /// The process exit code this error calls for (README, "Exit codes": 2 bad input or
    /// usage, 1 anything else).
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
                what,
            } => {
                write!(f, "bad input: {input}")?;
                if let Some(line) = line {
                    write!(f, ": line {line}")?;
                }
                if let Some(byte) = byte {
                    write!(f, ", byte offset {byte}")?;
                }
                write!(f, ": {what}")
            }
            ErrorKind::Config { what } => write!(f, "{what}"),
            ErrorKind::Io {
                path,
                action,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
            ErrorKind::Stopped => write!(f, "stopped before the end of the input"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.0 {
            ErrorKind::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

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
}
