//! What a running conversion tells its caller: where it is after every chunk written, with a
//! handle on the output so far so a caller can make a checkpoint there.

use super::{Checkpoint, Progress};
use crate::error::Result;
use crate::write::{ContigBytes, ContigTable, GroupedWriter, TempOutput};

/// Hears about a conversion as it goes; called from the writing thread, between chunks.
pub trait Observer {
    /// The input is open; its size in bytes is known when it is a regular file.
    fn started(&mut self, _total_source_bytes: Option<u64>) {}
    /// A chunk has been written, or (with `at.finished`) the whole input has.
    ///
    /// # Errors
    ///
    /// Whatever the observer returns (a failed checkpoint, say): it stops the conversion,
    /// which returns this error and publishes nothing.
    fn written(&mut self, _at: &Progress, _output: &mut CheckpointHandle<'_>) -> Result<()> {
        Ok(())
    }
    /// The conversion is stopping on request; everything up to `at` has been written.
    ///
    /// # Errors
    ///
    /// Whatever the observer returns: the conversion returns it instead of
    /// [`ErrorKind::Stopped`](crate::ErrorKind::Stopped).
    fn stopping(&mut self, _at: &Progress, _output: &mut CheckpointHandle<'_>) -> Result<()> {
        Ok(())
    }
}

/// Hears nothing.
pub struct Silent;

impl Observer for Silent {}

/// The output written so far, between two chunks: what a checkpoint of it needs (the
/// spool's durable length, the contigs and which of them changed), and nothing that could
/// write to it.
pub struct CheckpointHandle<'a> {
    writer: &'a mut GroupedWriter,
}

impl<'a> CheckpointHandle<'a> {
    pub(super) fn new(writer: &'a mut GroupedWriter) -> Self {
        CheckpointHandle { writer }
    }

    /// Bytes in the spool: the header and every row written so far.
    pub fn spool_len(&self) -> u64 {
        self.writer.spool_len()
    }

    /// Makes the spool durable up to [`CheckpointHandle::spool_len`] (`fdatasync`).
    ///
    /// # Errors
    ///
    /// An I/O error naming the spool.
    pub fn sync(&self) -> Result<()> {
        self.writer.sync()
    }

    /// The contigs seen so far, in first-appearance order.
    pub(crate) fn contigs(&self) -> &ContigTable {
        self.writer.contigs()
    }

    /// The contigs seen so far, to take the ones changed since the last checkpoint
    /// (`ContigTable::take_changed`).
    pub(crate) fn contigs_mut(&mut self) -> &mut ContigTable {
        self.writer.contigs_mut()
    }

    /// Makes the spool durable and records in `state` everything a resume from here needs:
    /// where the conversion is (`at`), the spool's length, and the contigs (only those that
    /// changed since the last capture are copied).
    ///
    /// # Errors
    ///
    /// An I/O error syncing the spool.
    ///
    /// Not part of the API: `CheckpointState` is in the hidden `hapflow::testing`.
    #[doc(hidden)]
    pub fn capture(&mut self, at: &Progress, state: &mut CheckpointState) -> Result<()> {
        self.sync()?;
        let contigs = &mut state.contigs;
        self.writer.contigs_mut().take_changed(|c| {
            if c.id as usize == contigs.len() {
                contigs.push(ContigBytes {
                    name: c.name.to_vec(),
                    bytes: c.bytes,
                    last_pos: c.last_pos,
                });
            } else {
                contigs[c.id as usize].bytes = c.bytes;
                contigs[c.id as usize].last_pos = c.last_pos;
            }
        });
        let t = self.writer.contigs();
        state.progress = *at;
        state.spool_len = self.writer.spool_len();
        state.current = t.current();
        state.contiguous = t.contiguous();
        Ok(())
    }
}

/// A checkpoint held in memory, without its spool file: what
/// [`CheckpointHandle::capture`] records. (The daemon keeps the same in its job record and
/// contig journal, so that only what changed is written at each checkpoint.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckpointState {
    /// Where the conversion was.
    pub progress: Progress,
    /// Bytes of the spool that belong to the checkpoint; anything after them is discarded
    /// on resume.
    pub spool_len: u64,
    /// Contig names in first-appearance order, with their output bytes.
    pub contigs: Vec<ContigBytes>,
    /// The contig of the last run of rows written.
    pub current: Option<u32>,
    /// Every contig came in one stretch so far.
    pub contiguous: bool,
}

impl CheckpointState {
    /// The checkpoint to resume from with `spool`, the work file cut back to
    /// [`CheckpointState::spool_len`] bytes ([`TempOutput::at`]).
    pub fn resume_with(self, spool: TempOutput) -> Checkpoint {
        Checkpoint {
            spool,
            spool_len: self.spool_len,
            progress: self.progress,
            contigs: self.contigs,
            current: self.current,
            contiguous: self.contiguous,
        }
    }
}
