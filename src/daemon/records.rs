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
    Publishing { output: String, from: String },
    /// Published as `output`; the input is still to leave the inbox.
    Published { output: String },
    /// Published, and the input archived or deleted.
    Done { output: String },
    /// Bad input: moved to `failed/` with a report.
    Failed { error: String },
}

/// The identity of an input file: if any of these change, a checkpoint no longer applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIdentity {
    pub size: u64,
    pub mtime_ns: i128,
    pub dev: u64,
    pub ino: u64,
}

/// How far a conversion got, durably: the output's first `spool_len` bytes are fsynced,
/// and they are the conversion of the input's first `input_bytes` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointV1 {
    pub input_bytes: u64,
    pub source_bytes: u64,
    pub lines: u64,
    pub rows_in: u64,
    pub rows_out: u64,
    pub spool_len: u64,
    /// Contigs seen (their records are keyed by job and contig id).
    pub contigs: u32,
    pub current: Option<u32>,
    pub contiguous: bool,
    /// The whole input is converted (only the regrouping and publishing are left).
    pub converted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobV1 {
    pub id: u64,
    /// The input's file name in the inbox.
    pub input: String,
    pub identity: FileIdentity,
    pub state: JobState,
    /// Unix milliseconds.
    pub queued_at: u64,
    pub checkpoint: Option<CheckpointV1>,
    /// The input byte a restart resumed from, the last time one did.
    pub resumed_at_byte: Option<u64>,
}

/// A job record, versioned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobRecord {
    V1(JobV1),
}

/// One contig of a job's output: its name and the bytes of rows it has so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContigV1 {
    pub name: Vec<u8>,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContigRecord {
    V1(ContigV1),
}

impl JobRecord {
    /// The record in the current format, whatever format it was stored in.
    pub fn into_current(self) -> JobV1 {
        match self {
            JobRecord::V1(j) => j,
        }
    }
}

impl ContigRecord {
    pub fn into_current(self) -> ContigV1 {
        match self {
            ContigRecord::V1(c) => c,
        }
    }
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<RECORD_LIMIT>()
}

/// Encodes a record.
pub fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>, String> {
    bincode::serde::encode_to_vec(record, config()).map_err(|e| e.to_string())
}

/// Decodes a record: no more than [`RECORD_LIMIT`] bytes, and every byte must be used (a
/// record with trailing bytes is damaged, not a shorter record).
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

    #[test]
    fn records_round_trip() {
        let job = sample_job();
        assert_eq!(decode::<JobRecord>(&encode(&job).unwrap()).unwrap(), job);
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
        let c = ContigRecord::V1(ContigV1 {
            name: b"chr1".to_vec(),
            bytes: 99,
        });
        std::fs::write(dir.join("contig_v1.bin"), encode(&c).unwrap()).unwrap();
    }
}
