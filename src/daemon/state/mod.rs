//! What survives a crash: `store.rs` (sled), `records.rs` (versioned bincode records),
//! `journal.rs` (a checkpoint's contig table), `fingerprint.rs` (the settings a checkpoint
//! was made under), `recovery.rs` (start-up after a crash), `retention.rs` (pruning).

pub(crate) mod fingerprint;
pub(crate) mod journal;
pub(crate) mod records;
pub(crate) mod recovery;
pub(crate) mod retention;
pub(crate) mod store;
