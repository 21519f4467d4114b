//! Whose problem a failure is: the file's own (it goes to `failed/`, and the queue moves
//! on) or the machine's (the queue pauses and the job is tried again later).
//!
//! A file's own: bad content or settings it cannot meet, an input that cannot be read
//! (permission denied, not a file any more), a name too long for the names derived from it.
//! The machine's: a full disk or quota, an I/O error of the device, a read-only file
//! system, no memory or file handles, and any failure or damage of the store or a
//! checkpoint ([`ErrorKind::Store`]). When in doubt, the
//! machine's: pausing is safe, failing a good file is not.

use std::path::Path;

use crate::error::{Error, ErrorKind};

/// Whose problem a failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// This file's problem: it fails, the others go on.
    File,
    /// A problem of the machine: everything waits and is tried again.
    Machine,
}

/// OS errors that no file causes, whatever path they came from.
const MACHINE_ERRNOS: [i32; 8] = [
    libc::ENOSPC,
    libc::EDQUOT,
    libc::EIO,
    libc::EROFS,
    libc::ENOMEM,
    libc::EMFILE,
    libc::ENFILE,
    libc::EAGAIN,
];

/// OS errors that, on the input file itself, are that file's problem.
const INPUT_ERRNOS: [i32; 6] = [
    libc::EACCES,
    libc::EPERM,
    libc::ENOENT,
    libc::EISDIR,
    libc::ELOOP,
    libc::ENXIO,
];

/// Whose problem `e` is, for a job whose input is `input`.
pub fn blame(e: &Error, input: &Path) -> Blame {
    match e.kind() {
        ErrorKind::BadInput { .. } | ErrorKind::Config { .. } => Blame::File,
        ErrorKind::Stopped | ErrorKind::Store { .. } => Blame::Machine,
        ErrorKind::Io { path, source, .. } => match source.raw_os_error() {
            Some(n) if MACHINE_ERRNOS.contains(&n) => Blame::Machine,
            Some(libc::ENAMETOOLONG) => Blame::File,
            Some(n) if INPUT_ERRNOS.contains(&n) && path == input => Blame::File,
            _ => Blame::Machine,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(path: &str, errno: i32) -> Error {
        Error::io(path, "open", std::io::Error::from_raw_os_error(errno))
    }

    #[test]
    fn the_input_s_own_errors_are_the_file_s_and_the_rest_the_machine_s() {
        let input = Path::new("/in/m.txt");
        assert_eq!(blame(&io("/in/m.txt", libc::EACCES), input), Blame::File);
        assert_eq!(blame(&io("/in/m.txt", libc::ENOENT), input), Blame::File);
        assert_eq!(
            blame(&io("/out/.long.job1.part", libc::ENAMETOOLONG), input),
            Blame::File
        );
        assert_eq!(blame(&io("/in/m.txt", libc::EIO), input), Blame::Machine);
        assert_eq!(blame(&io("/out/x", libc::ENOSPC), input), Blame::Machine);
        assert_eq!(blame(&io("/out/x", libc::EACCES), input), Blame::Machine);
        assert_eq!(
            blame(&Error::bad_input("m.txt", "not a matrix"), input),
            Blame::File
        );
        assert_eq!(
            blame(&Error::store("cannot resume: a damaged checkpoint"), input),
            Blame::Machine
        );
    }
}
