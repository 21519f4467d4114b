//! Throughput of the pipeline's ends: the reader cutting plain and gzip input into chunks
//! of whole lines, and the writer appending converted chunks to its spool. Bytes per
//! second of input.

use std::io::Cursor;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hapflow::config::default_pairs;
use hapflow::generate::{generate, Compress, Shape};
use hapflow::testing::{
    convert_chunk, Budget, ChunkOutput, Chunker, Cut, GroupedWriter, Layout, Scratch, Source,
    TempOutput,
};

const CHUNK: usize = 1 << 20;

fn matrix(bytes: u64, compress: Compress) -> Vec<u8> {
    let mut v = Vec::new();
    let shape = Shape {
        bytes,
        contigs: 2,
        ..Shape::default()
    };
    generate(&shape, compress, &mut v).unwrap();
    v
}

/// Reads everything through a chunker, carrying tails like the pipeline's reader.
fn read_all(mut chunker: Chunker<impl std::io::Read>, a: &mut [u8], b: &mut [u8]) -> usize {
    let (mut cur, mut next) = (a, b);
    let (mut filled, mut total) = (0, 0);
    loop {
        let (now, cut) = chunker.next(cur, filled).unwrap();
        match cut {
            Cut::End => return total + now,
            Cut::LineTooLong => panic!("no line is that long"),
            Cut::At(cut) => {
                next[..now - cut].copy_from_slice(&cur[cut..now]);
                total += cut;
                filled = now - cut;
                std::mem::swap(&mut cur, &mut next);
            }
        }
    }
}

fn bench_reader(c: &mut Criterion) {
    let plain = matrix(32 << 20, Compress::None);
    let gz = matrix(32 << 20, Compress::Bgzip);
    let (mut a, mut b) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
    let mut group = c.benchmark_group("reader");
    group.throughput(Throughput::Bytes(plain.len() as u64));
    group.bench_function("plain", |bench| {
        bench.iter(|| read_all(Chunker::new(Cursor::new(&plain[..])), &mut a, &mut b))
    });
    group.bench_function("bgzip", |bench| {
        bench.iter(|| {
            let src = Source::from_reader(Box::new(Cursor::new(gz.clone())), None, 0).unwrap();
            read_all(Chunker::new(src.reader), &mut a, &mut b)
        })
    });
    group.finish();
}

fn bench_writer(c: &mut Criterion) {
    let layout = Layout::resolve(&default_pairs(), None, 34).unwrap();
    let input = matrix(CHUNK as u64 - 4096, Compress::None);
    let mut out = Vec::with_capacity(CHUNK * 2);
    let mut runs = Vec::with_capacity(CHUNK / 16);
    let dst = ChunkOutput {
        out_cap: CHUNK * 2,
        out: &mut out,
        runs_cap: CHUNK / 16,
        runs: &mut runs,
    };
    convert_chunk(&layout, &input, &mut Scratch::new(&layout), dst).unwrap();
    let budget = Budget::new(1 << 20);
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("writer");
    group.throughput(Throughput::Bytes(input.len() as u64));
    group.bench_function("write_chunk", |bench| {
        let spool = TempOutput::at(&dir.path().join("spool"), None).unwrap();
        let mut w = GroupedWriter::create(
            spool,
            layout.header_line(),
            budget.reserve(1 << 16, "t").unwrap(),
        )
        .unwrap();
        let mut n = 0u32;
        bench.iter(|| {
            n += 1;
            if n.is_multiple_of(256) {
                // Keep the spool (and the page cache) from growing without end.
                let spool = TempOutput::at(&dir.path().join("spool"), None).unwrap();
                w = GroupedWriter::create(
                    spool,
                    layout.header_line(),
                    budget.reserve(1 << 16, "t").unwrap(),
                )
                .unwrap();
            }
            w.write_chunk(&input, &out, &out, &runs).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_reader, bench_writer);
criterion_main!(benches);
