//! What a running conversion tells its caller, and how the caller tells it to stop.

/// Where a conversion is, after each chunk written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Advance {
    /// Bytes read from the file or stdin (compressed bytes for gzip).
    pub source_bytes: u64,
    /// Bytes of (decompressed) input converted and written.
    pub input_bytes: u64,
    pub rows_in: u64,
    pub rows_out: u64,
    pub contigs: usize,
}

/// Hears about a conversion's progress; called from the writing thread, so keep it quick.
pub trait Progress: Sync {
    /// The input is open; its size is known when it is a regular file.
    fn started(&self, _total_source_bytes: Option<u64>) {}
    /// A chunk has been written.
    fn advanced(&self, _at: &Advance) {}
    /// The input moved on from contig `name` (finished, unless its lines come back later).
    fn contig_left(&self, _name: &[u8]) {}
}

/// Ignores everything.
pub struct NoProgress;

impl Progress for NoProgress {}
