//! Throughput of the conversion on chunks of generated rows: all invariant (the fast path),
//! all variant (the general path), and the question's realistic mix. Reported in bytes of
//! input per second.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hapflow::config::default_pairs;
use hapflow::generate::{generate, Compress, Shape};
use hapflow::testing::{convert_chunk, ChunkOutput, ChunkStats, ContigRun, Layout, Scratch};

fn chunk(variant_rate: f64) -> Vec<u8> {
    let shape = Shape {
        bytes: 1 << 20,
        contigs: 1,
        variant_rate,
        ..Shape::default()
    };
    let mut v = Vec::new();
    generate(&shape, Compress::None, &mut v).unwrap();
    v
}

/// One chunk converted into reused buffers, cleared first (as a pipeline worker does).
fn convert_into(
    layout: &Layout,
    input: &[u8],
    out: &mut Vec<u8>,
    runs: &mut Vec<ContigRun>,
    scratch: &mut Scratch,
) -> ChunkStats {
    out.clear();
    runs.clear();
    let dst = ChunkOutput {
        out_cap: out.capacity(),
        out,
        runs_cap: runs.capacity(),
        runs,
    };
    convert_chunk(layout, input, scratch, dst).unwrap()
}

fn bench_convert(c: &mut Criterion) {
    let layout = Layout::resolve(&default_pairs(), None, 34).unwrap();
    let mut group = c.benchmark_group("convert_chunk");
    for (name, rate) in [("invariant", 0.0), ("mix_18pct", 0.18), ("variant", 1.0)] {
        let input = chunk(rate);
        let mut out = Vec::with_capacity(input.len() * 3);
        let mut runs = Vec::with_capacity(input.len() / 16);
        let mut scratch = Scratch::new(&layout);
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &input, |b, input| {
            b.iter(|| convert_into(&layout, input, &mut out, &mut runs, &mut scratch))
        });
    }
    group.finish();
}

/// The conversion on 1 and on 2 threads at once, each converting its own chunks of the mix
/// (as the pipeline's workers do): how the conversion scales with cores, without the
/// pipeline's reader and writer competing for them.
fn bench_scaling(c: &mut Criterion) {
    let layout = Layout::resolve(&default_pairs(), None, 34).unwrap();
    let input = chunk(0.18);
    const CHUNKS: usize = 16;
    let mut group = c.benchmark_group("convert_threads");
    for threads in [1usize, 2] {
        group.throughput(Throughput::Bytes((input.len() * CHUNKS * threads) as u64));
        // Each thread's buffers, made once (as a pipeline slot's are).
        let mut buffers: Vec<_> = (0..threads)
            .map(|_| {
                (
                    Vec::with_capacity(input.len() * 3),
                    Vec::with_capacity(input.len() / 16),
                    Scratch::new(&layout),
                )
            })
            .collect();
        group.bench_with_input(BenchmarkId::from_parameter(threads), &threads, |b, _| {
            b.iter(|| {
                std::thread::scope(|s| {
                    for (out, runs, scratch) in buffers.iter_mut() {
                        let (input, layout) = (&input, &layout);
                        s.spawn(move || {
                            for _ in 0..CHUNKS {
                                convert_into(layout, input, out, runs, scratch);
                            }
                        });
                    }
                })
            })
        });
    }
    group.finish();
}

/// The question's mix in each output format (bytes of input per second), and BGZF
/// compression of the table's rows at levels 1 and 6 (bytes of rows per second).
fn bench_formats(c: &mut Criterion) {
    use hapflow::Format;
    let input = chunk(0.18);
    let mut group = c.benchmark_group("formats");
    group.throughput(Throughput::Bytes(input.len() as u64));
    let mut table_rows = Vec::new();
    for (name, format) in [
        ("table", Format::Table),
        ("phase-extender", Format::PhaseExtender),
        ("vcf", Format::Vcf),
    ] {
        let mut layout = Layout::resolve(&default_pairs(), None, 34).unwrap();
        layout.set_output(format);
        let mut out = Vec::with_capacity(input.len() * 3);
        let mut runs = Vec::with_capacity(input.len() / 16);
        let mut scratch = Scratch::new(&layout);
        group.bench_with_input(BenchmarkId::from_parameter(name), &input, |b, input| {
            b.iter(|| convert_into(&layout, input, &mut out, &mut runs, &mut scratch))
        });
        if format == Format::Table {
            table_rows = out.clone();
        }
    }
    group.throughput(Throughput::Bytes(table_rows.len() as u64));
    for level in [1u32, 6] {
        let mut deflater = hapflow::testing::bgzf::Deflater::new(level);
        let mut packed = Vec::with_capacity(hapflow::testing::bgzf::bound(table_rows.len()));
        group.bench_function(format!("bgzf_level_{level}"), |b| {
            b.iter(|| {
                packed.clear();
                deflater.compress(&table_rows, &mut packed);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_convert, bench_scaling, bench_formats);
criterion_main!(benches);
