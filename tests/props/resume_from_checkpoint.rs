//! Resuming from a checkpoint gives the same bytes as an uninterrupted run: stop a
//! conversion after a random number of chunks, keep what a checkpoint keeps, start again
//! from it, and compare. Tiny chunks make every contig boundary and carried line tail a
//! possible stop point; interleaved contigs and gzip input are included.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use hapflow::config::default_pairs;
use hapflow::generate::{generate, Compress, Shape};
use hapflow::testing::{CheckpointState, Plan, StartFrom, TempOutput};
use hapflow::{
    CheckpointHandle, Format, Input, Observer, OutputSettings, Progress, Request, Silent,
};
use proptest::prelude::*;

/// Keeps what the daemon's checkpoint keeps, after `stop_after` chunks.
struct Checkpointer<'a> {
    stop_after: u32,
    chunks: u32,
    stop: &'a AtomicBool,
    saved: Option<CheckpointState>,
    state: CheckpointState,
}

impl Checkpointer<'_> {
    fn save(&mut self, at: &Progress, out: &mut CheckpointHandle<'_>) {
        out.capture(at, &mut self.state).unwrap();
        self.saved = Some(self.state.clone());
    }
}

impl Observer for Checkpointer<'_> {
    fn written(&mut self, at: &Progress, out: &mut CheckpointHandle<'_>) -> hapflow::Result<()> {
        self.chunks += 1;
        if self.chunks == self.stop_after {
            self.save(at, out);
            self.stop.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
    fn stopping(&mut self, at: &Progress, out: &mut CheckpointHandle<'_>) -> hapflow::Result<()> {
        // The reader may have been a chunk ahead: what was written since is durable too.
        self.save(at, out);
        Ok(())
    }
}

/// The same request each time it is asked for: a request is used up by its run.
struct Conversion<'a> {
    input: &'a Input,
    pairs: &'a [hapflow::PairSpec],
    chunk: usize,
    output: &'a OutputSettings,
}

impl Conversion<'_> {
    fn request(&self) -> Request {
        Request::new(self.input.clone())
            .pairs(self.pairs.to_vec())
            .alleles(hapflow::Alleles::DEFAULT)
            .plan(Plan::with_chunk(self.chunk, 2))
            .output_settings(self.output.clone())
    }
}

fn conversion<'a>(
    input: &'a Input,
    pairs: &'a [hapflow::PairSpec],
    chunk: usize,
    output: &'a OutputSettings,
) -> Conversion<'a> {
    Conversion {
        input,
        pairs,
        chunk,
        output,
    }
}

fn uninterrupted(c: &Conversion<'_>, dir: &Path) -> Vec<u8> {
    let spool = TempOutput::at(&dir.join("whole.part"), None).unwrap();
    let never = AtomicBool::new(false);
    let grouped = || TempOutput::at(&dir.join("whole.grouped"), None);
    let (out, _) = c
        .request()
        .run(StartFrom::Fresh(spool), &mut Silent, &never, grouped)
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
        saved: None,
        state: CheckpointState::default(),
    };
    let first = c.request().run(
        StartFrom::Fresh(TempOutput::at(&spool_path, None).unwrap()),
        &mut cp,
        &stop,
        grouped,
    );
    match first {
        Ok((out, _)) => return std::fs::read(out.path()).unwrap(), // finished before the stop
        Err(e) => assert!(matches!(e.kind(), hapflow::ErrorKind::Stopped), "{e}"),
    }
    let saved = cp.saved.expect("a checkpoint before stopping");
    let (position, spool_len) = (saved.progress, saved.spool_len);
    // Bytes written after the checkpoint are garbage to a resume: prove it by adding some.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&spool_path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"torn row\tafter the checkpoint"))
        .unwrap();
    let resume = saved.resume_with(TempOutput::at(&spool_path, Some(spool_len)).unwrap());
    let never = AtomicBool::new(false);
    let (out, summary) = c
        .request()
        .run(StartFrom::Resume(resume), &mut Silent, &never, grouped)
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
