//! What a running conversion tells its caller: where it is after every chunk written, with
//! the writer in hand so a caller can make a checkpoint there.

use super::Position;
use crate::error::Result;
use crate::write::GroupedWriter;

/// Hears about a conversion as it goes; called from the writing thread, between chunks.
pub trait Observer {
    /// The input is open; its size is known when it is a regular file.
    fn started(&mut self, _total_source_bytes: Option<u64>) {}
    /// A chunk has been written, or (with `at.finished`) the whole input has. An error
    /// stops the conversion.
    fn written(&mut self, _at: &Position, _writer: &mut GroupedWriter) -> Result<()> {
        Ok(())
    }
    /// The conversion is stopping on request; everything up to `at` has been written.
    fn stopping(&mut self, _at: &Position, _writer: &mut GroupedWriter) -> Result<()> {
        Ok(())
    }
}

/// Hears nothing.
pub struct Silent;

impl Observer for Silent {}
