//! Fuzzing with proptest (cargo-fuzz needs a nightly toolchain, which this machine cannot
//! fetch): arbitrary bytes into the matrix parser and the checkpoint-record decoder. No
//! panic, no hang, no allocation beyond the buffers they were given.

use std::sync::atomic::AtomicBool;

use hapflow::config::default_pairs;
use hapflow::testing::{
    convert_chunk, decode, encode, ChunkOutput, ContigRecord, JobRecord, Layout, Plan, Scratch,
};
use hapflow::{Input, Output, Request, Silent};
use proptest::prelude::*;

/// Bytes that look like a matrix often enough to get past the first field: tabs, line
/// ends, N, -, digits, letters, NUL and anything else.
fn matrixish() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => Just(b'\t'),
        2 => Just(b'\n'),
        1 => Just(b'\r'),
        3 => Just(b'N'),
        2 => Just(b'-'),
        3 => prop::sample::select(b"ACGT0123456789".to_vec()),
        1 => Just(0u8),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..3000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_chunk_parser_never_panics_or_grows_its_buffers(bytes in matrixish(), columns in 4usize..40) {
        let pairs: Vec<_> = default_pairs().into_iter().filter(|p| {
            matches!((&p.first.column, &p.second.column), (hapflow::ColumnRef::Index(a), hapflow::ColumnRef::Index(b)) if *a < columns && *b < columns)
        }).collect();
        let layout = Layout::resolve(&pairs, None, columns).unwrap();
        let (cap, runs_cap) = (2048, 64);
        let mut out = Vec::with_capacity(cap);
        let mut runs = Vec::with_capacity(runs_cap);
        let _ = convert_chunk(&layout, &bytes, &mut Scratch::new(&layout), ChunkOutput {
            out: &mut out, out_cap: cap, runs: &mut runs, runs_cap,
        });
        prop_assert!(out.capacity() == cap && runs.capacity() == runs_cap, "a buffer grew");
    }

    #[test]
    fn the_record_decoder_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode::<JobRecord>(&bytes);
        let _ = decode::<ContigRecord>(&bytes);
    }

    #[test]
    fn damaged_real_records_are_refused_or_decode_whole(flip in 0usize..64, bit in 0u8..8, cut in 0usize..64) {
        let fixture = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/records/job_v1.bin")).unwrap();
        let mut bytes = fixture.clone();
        let i = flip % bytes.len();
        bytes[i] ^= 1 << bit;
        if let Ok(r) = decode::<JobRecord>(&bytes) {
            // bincode's varints accept non-canonical forms, so a flipped bit may still
            // decode; what decodes is a whole, well-formed record that round-trips.
            prop_assert_eq!(decode::<JobRecord>(&encode(&r).unwrap()).unwrap(), r);
        }
        prop_assert!(decode::<JobRecord>(&fixture[..cut.min(fixture.len() - 1)]).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    /// The whole pipeline on arbitrary bytes: a result or a bad-input error, never a panic
    /// or a hang, and never a partial output.
    #[test]
    fn the_pipeline_on_arbitrary_bytes_converts_or_says_why(bytes in matrixish()) {
        let dir = tempfile::tempdir().unwrap();
        let (input, output) = (dir.path().join("m"), dir.path().join("o"));
        std::fs::write(&input, &bytes).unwrap();
        let request = Request::new(Input::Path(input))
            .output(Output::Path(output.clone()))
            .pairs(default_pairs())
            .plan(Plan::with_chunk(256, 2));
        match request.convert(&mut Silent, &AtomicBool::new(false)) {
            Ok(_) => prop_assert!(output.exists()),
            Err(e) => {
                prop_assert!(e.is_user_error(), "{}", e);
                prop_assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "something was left behind");
            }
        }
    }
}
