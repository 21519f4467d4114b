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

/// Stops the conversion after `stop_after` chunks, then resumes it from its checkpoint,
/// after `tamper` has had the spool.
fn interrupted(
    c: &Conversion<'_>,
    dir: &Path,
    stop_after: u32,
    tamper: &dyn Fn(&Path),
) -> hapflow::Result<Vec<u8>> {
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
        Ok((out, _)) => return Ok(std::fs::read(out.path()).unwrap()), // finished before the stop
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
    tamper(&spool_path);
    let resume = saved.resume_with(TempOutput::at(&spool_path, Some(spool_len)).unwrap());
    let never = AtomicBool::new(false);
    let (out, summary) =
        c.request()
            .run(StartFrom::Resume(resume), &mut Silent, &never, grouped)?;
    assert!(summary.input_bytes >= position.input_bytes);
    Ok(std::fs::read(out.path()).unwrap())
}

/// VCF output, BGZF at `bgzf_level` or plain.
fn vcf(bgzf_level: Option<u32>) -> OutputSettings {
    OutputSettings {
        format: Format::Vcf,
        bgzf_level,
        ..OutputSettings::default()
    }
}

/// A VCF spool starts with the header of the contigs guessed before the conversion, or
/// with records when there was no guess (a compressed input). A resumed run reads back
/// whatever header the spool holds rather than guessing again, and checks it against the
/// contigs seen when it finishes, as a fresh run does: a header another version wrote is
/// replaced by the right one, and a spool whose head is not a whole header (no `#CHROM`
/// line before the records) is not carried on: the error is the store's, on which the
/// daemon starts the job over.
#[test]
fn a_resumed_vcf_takes_its_header_from_the_spool() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.txt");
    let shape = Shape {
        seed: 5,
        rows: 1500,
        contigs: 3,
        ..Shape::default()
    };
    generate(
        &shape,
        Compress::None,
        std::fs::File::create(&path).unwrap(),
    )
    .unwrap();
    let (input, pairs) = (Input::Path(path), default_pairs());
    for bgzf_level in [None, Some(1)] {
        let output = vcf(bgzf_level);
        let c = conversion(&input, &pairs, 2048, &output);
        let whole = uninterrupted(&c, dir.path());
        assert_eq!(interrupted(&c, dir.path(), 5, &|_| ()).unwrap(), whole);
    }
    // Another version's header, of the same length (the checkpoint counts the spool's
    // bytes): the header made from the contigs seen replaces it.
    let output = vcf(None);
    let c = conversion(&input, &pairs, 2048, &output);
    let whole = uninterrupted(&c, dir.path());
    let other_source = |spool: &Path| {
        let text = String::from_utf8_lossy(&std::fs::read(spool).unwrap()).into_owned();
        let old = text.replacen("##source=hapflow ", "##source=HAPFLOW ", 1);
        assert_ne!(old, text);
        std::fs::write(spool, old).unwrap();
    };
    let resumed = interrupted(&c, dir.path(), 5, &other_source).unwrap();
    assert!(resumed == whole, "the header is made again");

    // A compressed input's contigs are not guessed: its spool starts with records, and
    // resumes so; one whose head is a header cut short of its #CHROM line is not resumed.
    let gz = dir.path().join("m.txt.gz");
    generate(&shape, Compress::Bgzip, std::fs::File::create(&gz).unwrap()).unwrap();
    let input = Input::Path(gz);
    for bgzf_level in [None, Some(1)] {
        let output = vcf(bgzf_level);
        let c = conversion(&input, &pairs, 2048, &output);
        let whole = uninterrupted(&c, dir.path());
        assert_eq!(interrupted(&c, dir.path(), 5, &|_| ()).unwrap(), whole);
        let cut_header = |spool: &Path| {
            let text = b"##fileformat=VCFv4.2\n";
            let head = match bgzf_level {
                Some(_) => hapflow::testing::bgzf::compress_to_vec(1, text),
                None => text.to_vec(),
            };
            let rest = std::fs::read(spool).unwrap();
            std::fs::write(spool, [head, rest].concat()).unwrap();
        };
        let e = interrupted(&c, dir.path(), 5, &cut_header).unwrap_err();
        assert!(matches!(e.kind(), hapflow::ErrorKind::Store { .. }), "{e}");
        assert!(e.to_string().contains("no #CHROM line"), "{e}");
    }
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
        let resumed = interrupted(&c, dir.path(), stop_after, &|_| ()).unwrap();
        prop_assert!(whole == resumed, "resumed output differs ({} vs {} bytes)", whole.len(), resumed.len());
    }
}
