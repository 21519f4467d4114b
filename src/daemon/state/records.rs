//! What the daemon stores in sled, one versioned record per key, encoded with bincode.
//!
//! Every record is an enum whose variant is its format version; a new format adds a
//! variant and a conversion from the old one, so a store written by an older hapflow still
//! reads. `tests/data/records/` keeps an encoded fixture of every version.

use serde::{Deserialize, Serialize};

/// The most bytes one record may decode from: a job record is a few hundred bytes, a contig
/// record its name plus a dozen.
pub const RECORD_LIMIT: usize = 64 << 10;

/// Where a job is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobState {
    /// Taken from the inbox, waiting its turn.
    Queued,
    /// Being converted; `checkpoint` says how far it got.
    Running,
    /// Converted into the work file `from` (in the outbox); being linked into the outbox as
    /// `output`, which may exist already if the daemon stopped half-way.
    Publishing {
        /// The output's file name in the outbox.
        output: String,
        /// The finished work file's path.
        from: String,
    },
    /// Published as `output`; the input is still to leave the inbox.
    Published {
        /// The output's file name in the outbox.
        output: String,
    },
    /// Published, and the input archived or deleted.
    Done {
        /// The output's file name in the outbox.
        output: String,
    },
    /// Bad input: moved to `failed/` with a report.
    Failed {
        /// Why, as the report and the status say it.
        error: String,
    },
}

/// The identity of an input file: if any of these change, a checkpoint no longer applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIdentity {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, in nanoseconds since the Unix epoch.
    pub mtime_ns: i128,
    /// The device the file is on.
    pub dev: u64,
    /// The file's inode number.
    pub ino: u64,
}

/// How far a conversion got, in hapflow 0.1 (see [`CheckpointV2`]): the output's first `spool_len` bytes are fsynced,
/// and they are the conversion of the input's first `input_bytes` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointV1 {
    /// Input bytes converted (decompressed bytes for compressed inputs): where the
    /// conversion resumes.
    pub input_bytes: u64,
    /// Bytes of the input file read (compressed bytes for compressed inputs), for progress.
    pub source_bytes: u64,
    /// Lines of the input read.
    pub lines: u64,
    /// Matrix rows converted.
    pub rows_in: u64,
    /// Rows written to the output.
    pub rows_out: u64,
    /// Bytes of the work file (the spool) that are durable and belong to this checkpoint.
    pub spool_len: u64,
    /// Contigs seen (their records were keyed by job and contig id).
    pub contigs: u32,
    /// The contig the input was in (its id), if any.
    pub current: Option<u32>,
    /// No contig has come back after another so far: the spool is the output as it is.
    pub contiguous: bool,
    /// The whole input is converted (only the regrouping and publishing are left).
    pub converted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
/// A job as hapflow 0.1 stored it: its checkpoint's contigs were sled records of their own.
pub struct JobV1 {
    /// The job's id (counts up from 0 across restarts).
    pub id: u64,
    /// The input's file name in the inbox.
    pub input: String,
    /// The input as it was when taken.
    pub identity: FileIdentity,
    /// Where the job is in its state machine.
    pub state: JobState,
    /// Unix milliseconds.
    pub queued_at: u64,
    /// The last durable checkpoint, if any.
    pub checkpoint: Option<CheckpointV1>,
    /// The input byte a restart resumed from, the last time one did.
    pub resumed_at_byte: Option<u64>,
}

/// How far a conversion got, durably, and under what: the output's first `spool_len` bytes
/// are fsynced, they are the conversion of the input's first `input_bytes` bytes under the
/// settings whose fingerprint is `settings`, and the contig table is the first
/// `journal_len` bytes of the job's contig journal of generation `journal_generation`
/// (`state/checkpoints/`, see `journal.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointV2 {
    /// Input bytes converted (decompressed bytes for compressed inputs): where the
    /// conversion resumes.
    pub input_bytes: u64,
    /// Bytes of the input file read (compressed bytes for compressed inputs), for progress.
    pub source_bytes: u64,
    /// Lines of the input read.
    pub lines: u64,
    /// Matrix rows converted.
    pub rows_in: u64,
    /// Rows written to the output.
    pub rows_out: u64,
    /// Bytes of the work file (the spool) that are durable and belong to this checkpoint.
    pub spool_len: u64,
    /// Contigs seen.
    pub contigs: u32,
    /// The contig the input was in (its id), if any.
    pub current: Option<u32>,
    /// No contig has come back after another so far: the spool is the output as it is.
    pub contiguous: bool,
    /// The whole input is converted (only the regrouping and publishing are left).
    pub converted: bool,
    /// Which file of the job's contig journal holds the contig table.
    pub journal_generation: u32,
    /// How many bytes of that file belong to this checkpoint.
    pub journal_len: u64,
    /// [`crate::daemon::state::fingerprint::fingerprint`] of the conversion settings.
    pub settings: u64,
}

/// A job as this version stores it: its checkpoint's contigs are in the job's contig
/// journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobV2 {
    /// The job's id (counts up from 0 across restarts).
    pub id: u64,
    /// The input's file name in the inbox.
    pub input: String,
    /// The input as it was when taken.
    pub identity: FileIdentity,
    /// Where the job is in its state machine.
    pub state: JobState,
    /// Unix milliseconds.
    pub queued_at: u64,
    /// The last durable checkpoint, if any.
    pub checkpoint: Option<CheckpointV2>,
    /// The input byte a restart resumed from, the last time one did.
    pub resumed_at_byte: Option<u64>,
}

/// The job record as this version writes it.
pub type Job = JobV2;

/// A job record, versioned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobRecord {
    /// hapflow 0.1.
    V1(JobV1),
    /// This version.
    V2(JobV2),
}

/// One contig of a job's output: its name and the bytes of rows it has so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContigV1 {
    /// The contig's name (CHROM), as bytes.
    pub name: Vec<u8>,
    /// Bytes of output rows.
    pub bytes: u64,
}

/// A contig record of hapflow 0.1, versioned (this version only reads them to remove them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContigRecord {
    /// hapflow 0.1.
    V1(ContigV1),
}

impl JobRecord {
    /// The record in the current format, whatever format it was stored in.
    /// A version 1 job keeps its state but not its checkpoint (whose contigs were sled
    /// records this version no longer reads): an unfinished one starts over.
    pub fn into_current(self) -> Job {
        match self {
            JobRecord::V1(j) => JobV2 {
                id: j.id,
                input: j.input,
                identity: j.identity,
                state: j.state,
                queued_at: j.queued_at,
                checkpoint: None,
                resumed_at_byte: j.resumed_at_byte,
            },
            JobRecord::V2(j) => j,
        }
    }
}

impl ContigRecord {
    /// The record in the current format.
    pub fn into_current(self) -> ContigV1 {
        match self {
            ContigRecord::V1(c) => c,
        }
    }
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<RECORD_LIMIT>()
}

impl Job {
    /// Not done and not failed: the job has work left (queued, converting or publishing).
    pub fn is_active(&self) -> bool {
        !matches!(self.state, JobState::Done { .. } | JobState::Failed { .. })
    }

    /// A queued job of `input` for the daemon's unit tests: file identity size 1, inode
    /// `id`, queued at 0, no checkpoint.
    #[cfg(test)]
    pub(crate) fn queued_for_test(id: u64, input: impl Into<String>) -> Job {
        Job {
            id,
            input: input.into(),
            identity: FileIdentity {
                size: 1,
                mtime_ns: 0,
                dev: 0,
                ino: id,
            },
            state: JobState::Queued,
            queued_at: 0,
            checkpoint: None,
            resumed_at_byte: None,
        }
    }
}

/// Encodes a record.
///
/// # Errors
///
/// bincode's message, when the record cannot be encoded.
pub fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>, String> {
    bincode::serde::encode_to_vec(record, config()).map_err(|e| e.to_string())
}

/// Decodes a record: no more than `RECORD_LIMIT` bytes, and every byte must be used (a
/// record with trailing bytes is damaged, not a shorter record).
///
/// # Errors
///
/// The message, for a record over the limit, one bincode cannot decode, or one with
/// trailing bytes.
pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, String> {
    if bytes.len() > RECORD_LIMIT {
        return Err(format!("record of {} bytes is over the limit", bytes.len()));
    }
    let (value, used) =
        bincode::serde::decode_from_slice(bytes, config()).map_err(|e| e.to_string())?;
    if used != bytes.len() {
        return Err(format!("record has {} bytes left over", bytes.len() - used));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn sample_job() -> JobRecord {
        JobRecord::V1(JobV1 {
            id: 7,
            input: "matrix.txt.gz".into(),
            identity: FileIdentity {
                size: 1234,
                mtime_ns: 1_700_000_000_123_456_789,
                dev: 2049,
                ino: 42,
            },
            state: JobState::Running,
            queued_at: 1_700_000_000_000,
            checkpoint: Some(CheckpointV1 {
                input_bytes: 1000,
                source_bytes: 500,
                lines: 12,
                rows_in: 12,
                rows_out: 3,
                spool_len: 900,
                contigs: 2,
                current: Some(1),
                contiguous: true,
                converted: false,
            }),
            resumed_at_byte: Some(640),
        })
    }

    pub fn sample_job_v2() -> JobRecord {
        let JobRecord::V1(v1) = sample_job() else {
            unreachable!()
        };
        JobRecord::V2(JobV2 {
            id: v1.id,
            input: v1.input,
            identity: v1.identity,
            state: v1.state,
            queued_at: v1.queued_at,
            checkpoint: Some(CheckpointV2 {
                input_bytes: 1000,
                source_bytes: 500,
                lines: 12,
                rows_in: 12,
                rows_out: 3,
                spool_len: 900,
                contigs: 2,
                current: Some(1),
                contiguous: true,
                converted: false,
                journal_generation: 3,
                journal_len: 70,
                settings: 0x0123_4567_89ab_cdef,
            }),
            resumed_at_byte: v1.resumed_at_byte,
        })
    }

    #[test]
    fn records_round_trip() {
        for job in [sample_job(), sample_job_v2()] {
            assert_eq!(decode::<JobRecord>(&encode(&job).unwrap()).unwrap(), job);
        }
        let v1 = sample_job().into_current();
        assert_eq!(v1.checkpoint, None, "a version 1 checkpoint is not resumed");
        assert_eq!(v1.state, JobState::Running);
        let c = ContigRecord::V1(ContigV1 {
            name: b"chr1".to_vec(),
            bytes: 99,
        });
        assert_eq!(decode::<ContigRecord>(&encode(&c).unwrap()).unwrap(), c);
    }

    #[test]
    fn trailing_bytes_truncation_and_garbage_are_refused() {
        let mut bytes = encode(&sample_job()).unwrap();
        bytes.push(0);
        assert!(decode::<JobRecord>(&bytes)
            .unwrap_err()
            .contains("left over"));
        bytes.pop();
        assert!(decode::<JobRecord>(&bytes[..bytes.len() - 3]).is_err());
        assert!(decode::<JobRecord>(&[9, 9, 9, 9]).is_err());
        // A length prefix claiming more than the limit is refused before allocating.
        assert!(decode::<ContigRecord>(&[0, 0xfc, 0xff, 0xff, 0xff, 0x7f]).is_err());
    }

    /// The checked-in fixture of every record version still decodes. To add a version, add
    /// its fixture; never change an old one.
    #[test]
    fn old_version_fixtures_decode() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/records");
        let job = std::fs::read(dir.join("job_v1.bin")).unwrap();
        assert_eq!(decode::<JobRecord>(&job).unwrap(), sample_job());
        let job = std::fs::read(dir.join("job_v2.bin")).unwrap();
        assert_eq!(decode::<JobRecord>(&job).unwrap(), sample_job_v2());
        let contig = std::fs::read(dir.join("contig_v1.bin")).unwrap();
        let c = decode::<ContigRecord>(&contig).unwrap().into_current();
        assert_eq!((c.name.as_slice(), c.bytes), (&b"chr1"[..], 99));
    }

    /// Writes the fixtures (run once per new version: `cargo test write_fixtures -- --ignored`).
    #[test]
    #[ignore = "writes tests/data/records; run only when adding a record version"]
    fn write_fixtures() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/records");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("job_v1.bin"), encode(&sample_job()).unwrap()).unwrap();
        std::fs::write(dir.join("job_v2.bin"), encode(&sample_job_v2()).unwrap()).unwrap();
        let c = ContigRecord::V1(ContigV1 {
            name: b"chr1".to_vec(),
            bytes: 99,
        });
        std::fs::write(dir.join("contig_v1.bin"), encode(&c).unwrap()).unwrap();
    }
}
