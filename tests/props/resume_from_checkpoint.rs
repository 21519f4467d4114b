//! Resuming from a checkpoint gives the same bytes as an uninterrupted run: stop a
//! conversion after a random number of chunks, keep what a checkpoint keeps, start again
//! from it, and compare. Tiny chunks make every contig boundary and carried line tail a
//! possible stop point; interleaved contigs and gzip input are included.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use hapflow::config::{default_pairs, Format, OutputSettings};
use hapflow::generate::{generate, Compress, Shape};
use hapflow::pipeline::{self, Checkpoint, Conversion, Observer, Plan, Position, Start};
use hapflow::read::Input;
use hapflow::write::{GroupedWriter, TempOutput};
use proptest::prelude::*;

/// Keeps what the daemon's checkpoint keeps, after `stop_after` chunks.
struct Checkpointer<'a> {
    stop_after: u32,
    chunks: u32,
    stop: &'a AtomicBool,
    contigs: Vec<(Vec<u8>, u64)>,
    saved: Option<(Position, u64, Option<u32>, bool)>,
}

impl Checkpointer<'_> {
    fn save(&mut self, at: &Position, w: &mut GroupedWriter) {
        w.sync().unwrap();
        let contigs = &mut self.contigs;
        w.contigs_mut().take_changed(|id, name, bytes| {
            if id as usize == contigs.len() {
                contigs.push((name.to_vec(), bytes));
            } else {
                contigs[id as usize].1 = bytes;
            }
        });
        let t = w.contigs();
        self.saved = Some((*at, w.spool_len(), t.current(), t.contiguous()));
    }
}

impl Observer for Checkpointer<'_> {
    fn written(&mut self, at: &Position, w: &mut GroupedWriter) -> hapflow::Result<()> {
        self.chunks += 1;
        if self.chunks == self.stop_after {
            self.save(at, w);
            self.stop.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
    fn stopping(&mut self, at: &Position, w: &mut GroupedWriter) -> hapflow::Result<()> {
        // The reader may have been a chunk ahead: what was written since is durable too.
        self.save(at, w);
        Ok(())
    }
}

fn conversion<'a>(
    input: &'a Input,
    pairs: &'a [hapflow::config::PairSpec],
    chunk: usize,
    output: &'a OutputSettings,
) -> Conversion<'a> {
    Conversion {
        input,
        pairs,
        header_file: None,
        alleles: &hapflow::convert::Alleles::DEFAULT,
        plan: Plan::with_chunk(chunk, 2),
        output,
    }
}

fn uninterrupted(c: &Conversion<'_>, dir: &Path) -> Vec<u8> {
    let spool = TempOutput::at(&dir.join("whole.part"), None).unwrap();
    let never = AtomicBool::new(false);
    let grouped = || TempOutput::at(&dir.join("whole.grouped"), None);
    let (out, _) = pipeline::run(
        c,
        Start::Fresh(spool),
        &mut pipeline::Silent,
        &never,
        grouped,
    )
    .unwrap();
    std::fs::read(out.path()).unwrap()
}

fn interrupted(c: &Conversion<'_>, dir: &Path, stop_after: u32) -> Vec<u8> {
    let spool_path = dir.join("job.part");
    let grouped = || TempOutput::at(&dir.join("job.grouped"), None);
    let stop = AtomicBool::new(false);
    let mut cp = Checkpointer {
        stop_after,
        chunks: 0,
        stop: &stop,
        contigs: Vec::new(),
        saved: None,
    };
    let first = pipeline::run(
        c,
        Start::Fresh(TempOutput::at(&spool_path, None).unwrap()),
        &mut cp,
        &stop,
        grouped,
    );
    match first {
        Ok((out, _)) => return std::fs::read(out.path()).unwrap(), // finished before the stop
        Err(e) => assert!(matches!(e.kind(), hapflow::ErrorKind::Stopped), "{e}"),
    }
    let (position, spool_len, current, contiguous) =
        cp.saved.expect("a checkpoint before stopping");
    // Bytes written after the checkpoint are garbage to a resume: prove it by adding some.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&spool_path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"torn row\tafter the checkpoint"))
        .unwrap();
    let resume = Checkpoint {
        spool: TempOutput::at(&spool_path, Some(spool_len)).unwrap(),
        spool_len,
        position,
        contigs: cp.contigs,
        current,
        contiguous,
    };
    let never = AtomicBool::new(false);
    let (out, summary) = pipeline::run(
        c,
        Start::Resume(resume),
        &mut pipeline::Silent,
        &never,
        grouped,
    )
    .unwrap();
    assert!(summary.input_bytes >= position.input_bytes);
    std::fs::read(out.path()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn resumed_output_is_byte_identical(
        seed in 1u64..1000,
        contigs in 1usize..6,
        interleave in prop::sample::select(vec![0u64, 1, 7]),
        gzip in any::<bool>(),
        header_line in any::<bool>(),
        stop_after in 1u32..40,
        chunk in prop::sample::select(vec![2048usize, 4096, 8192]),
        format in prop::sample::select(vec![Format::Table, Format::PhaseExtender, Format::Vcf]),
        bgzf in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.txt");
        let shape = Shape { seed, rows: 1500, contigs, interleave, header_line, ..Shape::default() };
        let compress = if gzip { Compress::Bgzip } else { Compress::None };
        generate(&shape, compress, std::fs::File::create(&path).unwrap()).unwrap();
        let input = Input::Path(path);
        let pairs = default_pairs();
        let output = OutputSettings { format, bgzf_level: bgzf.then_some(1), ..OutputSettings::default() };
        let c = conversion(&input, &pairs, chunk, &output);
        let whole = uninterrupted(&c, dir.path());
        let resumed = interrupted(&c, dir.path(), stop_after);
        prop_assert!(whole == resumed, "resumed output differs ({} vs {} bytes)", whole.len(), resumed.len());
    }
}
