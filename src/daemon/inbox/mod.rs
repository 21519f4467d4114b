//! The inbox side of the daemon: `watch.rs` hears changes and judges when a file is whole,
//! `intake.rs` turns whole files into queued jobs, `files.rs` moves files between folders
//! without losing or overwriting any, `work_files.rs` names a job's hidden work files.

pub(crate) mod files;
pub(crate) mod intake;
pub(crate) mod watch;
pub(crate) mod work_files;
