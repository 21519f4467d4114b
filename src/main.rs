//! The `hapflow` command: argument parsing and terminal output over the library.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use hapflow::config::{self as cfg, ByteSize};
use hapflow::daemon::{self, Control, Overrides};
use hapflow::generate::{generate, Compress, Shape};
use hapflow::{
    CheckpointHandle, Config, Format, Input, Observer, Output, Progress, Request, Summary,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Genome matrices to phased haplotype tables, fast, under a fixed memory ceiling.
#[derive(Parser)]
#[command(name = "hapflow", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert one matrix (a file, or `-` for stdin) into a haplotype table.
    Convert(ConvertArgs),
    /// Run the daemon: convert every matrix dropped into the inbox, crash-safe.
    Serve(ServeArgs),
    /// Show the daemon's jobs (works whether the daemon runs or not).
    Status(StatusArgs),
    /// Write a synthetic, question-shaped matrix (for tests, benchmarks and trying hapflow).
    Generate(GenerateArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Configuration file (TOML); read again on SIGHUP.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Folder to take matrices from.
    #[arg(long, value_name = "DIR")]
    inbox: Option<PathBuf>,
    /// Folder to publish haplotype tables into.
    #[arg(long, value_name = "DIR")]
    outbox: Option<PathBuf>,
    /// Folder for inputs that could not be converted.
    #[arg(long, value_name = "DIR")]
    failed: Option<PathBuf>,
    /// Folder for the checkpoint store and work files.
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Ceiling on the daemon's peak resident memory, e.g. 64MiB.
    #[arg(long, value_name = "SIZE")]
    memory_limit: Option<ByteSize>,
}

#[derive(Args)]
struct StatusArgs {
    /// Configuration file (TOML), for the state folder.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The daemon's state folder.
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ConvertArgs {
    /// Configuration file (TOML).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Column names for a matrix without a header line (one tab-separated line).
    #[arg(long, value_name = "FILE")]
    header: Option<PathBuf>,
    /// Ceiling on peak resident memory, e.g. 256MiB, 32M, 1GiB.
    #[arg(long, value_name = "SIZE")]
    memory_limit: Option<ByteSize>,
    /// Worker threads; 0 = one per core.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Output format: table (the reference's), phase-extender, or vcf.
    #[arg(long, value_name = "FORMAT")]
    format: Option<Format>,
    /// Output compression: none or bgzf; when not given, an OUTPUT ending in .gz or .bgz
    /// (any case) means bgzf, and none with such a name is refused.
    #[arg(long, value_name = "KIND")]
    compress: Option<cfg::Compress>,
    /// BGZF deflate level, 0 to 12; only for BGZF output (--compress bgzf, or an OUTPUT
    /// ending in .gz or .bgz).
    #[arg(long, value_name = "N", allow_negative_numbers = true,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(cfg::MAX_LEVEL)))]
    compress_level: Option<u32>,
    /// A FASTA index (.fai) whose names and lengths the VCF header's contig lines take
    /// (--format vcf only); a record past its contig's length is bad input.
    #[arg(long, value_name = "FILE")]
    fai: Option<PathBuf>,
    /// No progress bar and no summary line.
    #[arg(long, short)]
    quiet: bool,
    /// Characters that mean "no call", each one (e.g. `N.`); replaces `[alleles] missing`.
    #[arg(long, value_name = "CHARS")]
    missing: Option<String>,
    /// Upper-case REF and every allele before converting (`a` and `A` are one allele).
    #[arg(long)]
    uppercase: bool,
    /// The matrix: plain text, gzip, BGZF, zstd, xz or bzip2; `-` reads stdin.
    #[arg(value_name = "INPUT")]
    input: PathBuf,
    /// Where to write the table; stdout when absent or `-`.
    #[arg(short, long, value_name = "OUTPUT")]
    output: Option<PathBuf>,
}

#[derive(Args)]
struct GenerateArgs {
    /// Approximate size of the (uncompressed) matrix.
    #[arg(long, default_value = "10MiB", value_name = "SIZE")]
    size: ByteSize,
    /// Stop after this many rows (whichever of --size and --rows comes first).
    #[arg(long)]
    rows: Option<u64>,
    /// Number of contigs.
    #[arg(long, default_value_t = 4)]
    contigs: usize,
    /// Contig name prefix: `chr` gives chr1, chr2...; `scaffold_` gives scaffold_000001...
    #[arg(long, default_value = "chr")]
    prefix: String,
    /// List the contigs in shuffled rather than sorted order.
    #[arg(long)]
    shuffle_contigs: bool,
    /// Interleave contigs in blocks of N rows (0 = each contig in one stretch).
    #[arg(long, default_value_t = 0, value_name = "N")]
    interleave: u64,
    /// Start with a `CHROM POS REF s1 ...` header line.
    #[arg(long)]
    header_line: bool,
    /// End lines with CRLF.
    #[arg(long)]
    crlf: bool,
    /// Use odd alleles too (AT, R, a, n, ., AN).
    #[arg(long)]
    odd_alleles: bool,
    /// Haplotype columns per row (at least 2).
    #[arg(long, default_value_t = 31,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(2..))]
    haplotypes: usize,
    /// Compress as one gzip member.
    #[arg(long, conflicts_with = "bgzip")]
    gzip: bool,
    /// Compress as BGZF (many gzip members), like bgzip.
    #[arg(long)]
    bgzip: bool,
    /// Seed: the same seed and options give the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output file; stdout when absent.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

fn main() -> ExitCode {
    // Before anything else: a SIGTERM in the first milliseconds of `hapflow serve` is held
    // until its handlers are installed, then stops it cleanly (exit 0), never by the
    // default action (status 143). The other commands get the default actions back at once.
    let held = StopSignals::hold();
    hapflow::sys::tune_allocator();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => run_serve(args, held),
        Command::Convert(args) => run_convert(args, held),
        command => {
            drop(held);
            match command {
                Command::Status(args) => run_status(args),
                Command::Generate(args) => run_generate(args).map_err(Failure::Other),
                Command::Serve(_) | Command::Convert(_) => unreachable!("matched above"),
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output went away (`| head`): end quietly, as `cat` would.
        Err(Failure::Hapflow(e)) if is_broken_pipe(&e) => ExitCode::from(141),
        Err(Failure::Hapflow(e)) => {
            eprintln!("hapflow: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
        Err(Failure::Other(e)) => {
            eprintln!("hapflow: {e:#}");
            ExitCode::from(1)
        }
        Err(Failure::Signal(sig)) => {
            eprintln!(
                "hapflow: stopped by {}; no output written, temporary files removed",
                signal_name(sig)
            );
            ExitCode::from((128 + sig) as u8)
        }
    }
}

/// `SIGINT` for 2 and so on; `signal N` for one without a name.
fn signal_name(sig: i32) -> String {
    signal_hook::low_level::signal_name(sig).map_or_else(|| format!("signal {sig}"), str::to_string)
}

fn is_broken_pipe(e: &hapflow::Error) -> bool {
    matches!(e.kind(), hapflow::ErrorKind::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
}

enum Failure {
    Hapflow(hapflow::Error),
    Other(anyhow::Error),
    /// `convert` stopped on this signal (SIGINT, SIGTERM or SIGHUP) and removed its
    /// temporary files: exit status 128 + the signal's number, as a shell reports a process
    /// the signal killed.
    Signal(i32),
}

impl From<hapflow::Error> for Failure {
    fn from(e: hapflow::Error) -> Self {
        Failure::Hapflow(e)
    }
}

/// `hapflow convert`: `held` keeps SIGINT, SIGTERM and SIGHUP pending until
/// [`StopOnSignals`] is installed, so a signal that comes early stops the conversion before
/// it starts rather than killing the process.
fn run_convert(args: ConvertArgs, held: StopSignals) -> Result<(), Failure> {
    let signals = StopOnSignals::install()
        .map_err(|e| hapflow::Error::io("signals", "install handlers for", e))?;
    drop(held);
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let mut config = config;
    if let Some(t) = args.threads {
        config.threads = t;
    }
    if let Some(chars) = &args.missing {
        config.alleles.missing = hapflow::config::AllelesConfig::missing_from_flag(chars);
        config
            .alleles
            .check()
            .map_err(|e| hapflow::Error::config(e.replace("alleles.missing", "--missing")))?;
    }
    config.alleles.uppercase |= args.uppercase;
    if let Some(f) = args.format {
        config.output.format = f;
    }
    if let Some(c) = args.compress {
        config.output.compress = Some(c);
    }
    if let Some(level) = args.compress_level {
        config.output.compress_level = level;
    }
    config.check_output().map_err(hapflow::Error::config)?;
    let output = Output::from_arg(args.output.as_deref());
    if let Output::Path(p) = &output {
        config
            .output
            .check_name(Some(p))
            .map_err(hapflow::Error::config)?;
    }
    if args.fai.is_some() && config.output.format != Format::Vcf {
        return Err(hapflow::Error::config(
            "--fai gives the VCF header's contig names and lengths; it has no use with --format table or phase-extender (add --format vcf, or leave --fai out)",
        )
        .into());
    }
    let mut output_settings = config.output.settings(match &output {
        Output::Path(p) => Some(p),
        Output::Stdout => None,
    });
    output_settings.fai = args.fai;
    if args.compress_level.is_some() && output_settings.bgzf_level.is_none() {
        // As --fai without VCF: a flag this run has no use for is refused, not ignored.
        return Err(hapflow::Error::config(
            "--compress-level sets the BGZF deflate level, but the output is plain text; add --compress bgzf (or name the output .gz or .bgz), or leave --compress-level out",
        )
        .into());
    }
    let request = Request::new(Input::from_arg(&args.input))
        .output(output)
        .output_settings(output_settings)
        .pairs(config.pairs())
        .pairs_source(args.config.as_ref().map(|p| p.display().to_string()))
        .header_file(args.header.or(config.header_file.clone()))
        .memory_limit(args.memory_limit.unwrap_or(config.memory.limit).0)
        .workers(config.worker_threads())
        .alleles(config.alleles.alleles());
    let input_name = request.input_name();
    let show = !args.quiet;
    let mut bar = Bar::new(show && std::io::stderr().is_terminal());
    let summary = match request.convert(&mut bar, &signals.stop) {
        Ok(summary) => summary,
        Err(e) if matches!(e.kind(), hapflow::ErrorKind::Stopped) => {
            bar.finish();
            return Err(signals
                .received()
                .map_or(Failure::Hapflow(e), Failure::Signal));
        }
        Err(e) => return Err(e.into()),
    };
    bar.finish();
    if let Some(sig) = signals.received() {
        // Too late to stop anything: the output was complete and is in place.
        eprintln!(
            "hapflow: {} came after the output was complete; it is kept",
            signal_name(sig)
        );
    }
    if show {
        eprintln!("{}", summary_line(&summary));
    }
    if summary.rows_in == 0 {
        // Not an error (a matrix without sites converts to a table without rows), but
        // rarely what was meant: say so even with --quiet.
        eprintln!(
            "hapflow: warning: {} has no data line; the output is only the header line",
            input_name
        );
    }
    Ok(())
}

/// `convert`'s handlers for SIGINT (Ctrl-C), SIGTERM and SIGHUP: the first one sets the
/// conversion's stop flag (the conversion ends with [`hapflow::ErrorKind::Stopped`] and its
/// temporary files are removed) and is remembered for the exit status; a second one exits
/// at once with status 128 + its number, whatever the conversion is doing. A signal the
/// process inherited as ignored (`nohup` ignores SIGHUP) stays ignored.
struct StopOnSignals {
    /// Set by the first signal; polled by the conversion between chunks.
    stop: Arc<AtomicBool>,
    /// The first signal's number; 0 before any.
    first: Arc<AtomicUsize>,
}

impl StopOnSignals {
    /// Installs the handlers (signal-hook's, which only store to atomics: async-signal-safe).
    ///
    /// # Errors
    ///
    /// The `sigaction` error when a handler cannot be installed.
    fn install() -> std::io::Result<StopOnSignals> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        use signal_hook::flag;
        let stop = Arc::new(AtomicBool::new(false));
        let first = Arc::new(AtomicUsize::new(0));
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            if inherited_ignored(sig) {
                continue;
            }
            // Actions run in the order registered: the exit looks at the flag before this
            // signal sets it, so only a second signal exits.
            flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&stop))?;
            let remember = Arc::clone(&first);
            // SAFETY: the action only does a compare-exchange on an atomic, which is
            // async-signal-safe.
            unsafe {
                signal_hook::low_level::register(sig, move || {
                    let _ = remember.compare_exchange(
                        0,
                        sig as usize,
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    );
                })?;
            }
            flag::register(sig, Arc::clone(&stop))?;
        }
        Ok(StopOnSignals { stop, first })
    }

    /// The first stop signal received, if any.
    fn received(&self) -> Option<i32> {
        match self.first.load(Ordering::SeqCst) {
            0 => None,
            sig => Some(sig as i32),
        }
    }
}

/// True when `sig`'s disposition is "ignore" (inherited through `execve`, as `nohup` and a
/// shell's background jobs set it).
fn inherited_ignored(sig: i32) -> bool {
    // SAFETY: sigaction with a null new action only reads the current one into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN
    }
}

/// SIGTERM, SIGINT and SIGHUP blocked for this thread (and the threads it starts) from
/// [`StopSignals::hold`] until the value is dropped: one sent in between stays pending and
/// is delivered then, to the handlers installed meanwhile or, without any, by the default
/// action. Only the window between `execve` and `main`'s first line is left uncovered.
struct StopSignals {
    /// SIGTERM, SIGINT and SIGHUP.
    set: libc::sigset_t,
    /// The signal mask before [`StopSignals::hold`], put back on drop.
    previous: libc::sigset_t,
}

impl StopSignals {
    /// Blocks the three signals for the calling thread (`pthread_sigmask`, POSIX).
    fn hold() -> StopSignals {
        // SAFETY: sigemptyset/sigaddset/pthread_sigmask only read and write the two local
        // sets, which are valid for their whole use.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut previous: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
                libc::sigaddset(&mut set, sig);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut previous);
            StopSignals { set, previous }
        }
    }

    /// Unblocks the three signals for good, whatever mask the process inherited (a
    /// launcher that left SIGTERM blocked would make the daemon unstoppable): for once
    /// their handlers are installed. A pending one is delivered now.
    fn release(self) {
        // SAFETY: unblocks a valid set; `forget` skips the restoring drop.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &self.set, std::ptr::null_mut()) };
        std::mem::forget(self);
    }
}

impl Drop for StopSignals {
    fn drop(&mut self) {
        // SAFETY: puts back the mask saved by `hold`, a valid set.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.previous, std::ptr::null_mut()) };
    }
}

/// `hapflow serve`: `held` keeps the stop and reload signals pending until their handlers
/// are installed (then they are unblocked, even if inherited blocked, and a pending one is
/// handled as any other). A
/// configuration refused before that keeps them held, so the refusal's exit code (2) is
/// the process's, not a pending SIGTERM's 143.
fn run_serve(args: ServeArgs, held: StopSignals) -> Result<(), Failure> {
    let overrides = Overrides {
        inbox: args.inbox,
        outbox: args.outbox,
        failed: args.failed,
        state: args.state,
        memory_limit: args.memory_limit.map(|l| l.0),
    };
    let (logs, control) = match prepare_serve(args.config.as_deref(), &overrides) {
        Ok(prepared) => prepared,
        Err(e) => {
            std::mem::forget(held);
            return Err(e.into());
        }
    };
    held.release();
    daemon::serve(args.config.as_deref(), &overrides, control, Some(&logs))
        .inspect_err(|e| tracing::error!("{e}"))?;
    Ok(())
}

/// What the daemon does to the process as a whole, done here, not in the library: the
/// logger, the file-creation mask and the signal handlers (forwarded as [`Control`]s).
fn prepare_serve(
    config_path: Option<&std::path::Path>,
    overrides: &Overrides,
) -> hapflow::Result<(daemon::LogHandle, crossbeam_channel::Receiver<Control>)> {
    let config = daemon::load_config(config_path, overrides)?;
    let logs = init_logging(&config.daemon.log_level).map_err(hapflow::Error::config)?;
    // SAFETY: umask only sets this process's file-creation mask; no other thread creates
    // files yet.
    unsafe { libc::umask(config.umask() as libc::mode_t) };
    let control =
        forward_signals().map_err(|e| hapflow::Error::io("signals", "install handlers for", e))?;
    Ok((logs, control))
}

/// Installs the process's logger: structured lines on stderr (the journal, under
/// systemd), at `level`, which the returned handle changes on reload.
fn init_logging(level: &str) -> Result<daemon::LogHandle, String> {
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::{fmt, reload};
    let (filter, handle) = reload::Layer::new(daemon::log_filter(level)?);
    tracing_subscriber::registry()
        .with(filter)
        .with(
            fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false)
                .with_ansi(std::io::stderr().is_terminal()),
        )
        .try_init()
        .map_err(|e| e.to_string())?;
    Ok(daemon::LogHandle::new(handle))
}

/// Exit code of a daemon stopped by a second stop request before it finished stopping.
const EXIT_AT_ONCE: i32 = 130;

/// Turns SIGTERM/SIGINT and SIGHUP into the daemon's [`Control`] requests, on a thread
/// that only forwards: a second stop request exits at once (the store is consistent at
/// every moment, so that loses at most the work since the last checkpoint).
fn forward_signals() -> std::io::Result<crossbeam_channel::Receiver<Control>> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])?;
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut stops = 0;
            for sig in signals.forever() {
                let control = match sig {
                    SIGHUP => Control::Reload,
                    _ => {
                        stops += 1;
                        if stops > 1 {
                            tracing::warn!("second stop request: exiting at once");
                            std::process::exit(EXIT_AT_ONCE);
                        }
                        Control::Shutdown
                    }
                };
                let _ = tx.send(control);
            }
        })?;
    Ok(rx)
}

fn run_status(args: StatusArgs) -> Result<(), Failure> {
    let overrides = Overrides {
        state: args.state,
        ..Overrides::default()
    };
    let config = daemon::load_config(args.config.as_deref(), &overrides)?;
    let status = daemon::read_status(&config.paths.state)?;
    let text = if args.json {
        serde_json::to_string_pretty(&status).expect("status serialises") + "\n"
    } else {
        daemon::status_table(&status)
    };
    let mut out = std::io::stdout().lock();
    std::io::Write::write_all(&mut out, text.as_bytes())
        .and_then(|_| std::io::Write::flush(&mut out))
        .map_err(|e| hapflow::Error::io("<stdout>", "write", e))?;
    Ok(())
}

fn summary_line(s: &Summary) -> String {
    let mb_s = s.input_bytes as f64 / 1e6 / s.seconds.max(1e-9);
    let peak = hapflow::sys::peak_rss()
        .map(|b| format!("{:.1} MiB", b as f64 / (1 << 20) as f64))
        .unwrap_or_else(|| "unknown".into());
    format!(
        "hapflow: {} rows in, {} rows out, {} contigs{}{}, {:.2} s, {:.0} MB/s, peak memory {}",
        s.rows_in,
        s.rows_out,
        s.contigs,
        if s.regrouped { " (regrouped)" } else { "" },
        match s.repeated_headers {
            0 => String::new(),
            1 => ", 1 repeated header line skipped".to_string(),
            n => format!(", {n} repeated header lines skipped"),
        },
        s.seconds,
        mb_s,
        peak
    )
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
struct Bar(Option<ProgressBar>);

impl Bar {
    fn new(visible: bool) -> Bar {
        Bar(visible.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .expect("a valid template"),
            );
            bar
        }))
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl Observer for Bar {
    fn started(&mut self, total: Option<u64>) {
        if let (Some(bar), Some(total)) = (&self.0, total) {
            bar.set_length(total);
        }
    }
    fn written(&mut self, at: &Progress, _: &mut CheckpointHandle<'_>) -> hapflow::Result<()> {
        if let Some(bar) = &self.0 {
            bar.set_position(at.source_bytes);
        }
        Ok(())
    }
}

fn run_generate(args: GenerateArgs) -> anyhow::Result<()> {
    let shape = Shape {
        seed: args.seed,
        rows: args.rows.unwrap_or(u64::MAX),
        bytes: args.size.0,
        contigs: args.contigs,
        prefix: args.prefix,
        shuffle_contigs: args.shuffle_contigs,
        interleave: args.interleave,
        header_line: args.header_line,
        crlf: args.crlf,
        haplotypes: args.haplotypes,
        odd_alleles: args.odd_alleles,
        ..Shape::default()
    };
    let compress = match (args.gzip, args.bgzip) {
        (true, _) => Compress::Gzip,
        (_, true) => Compress::Bgzip,
        _ => Compress::None,
    };
    match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            generate(&shape, compress, file)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => {
            generate(&shape, compress, std::io::stdout().lock()).context("cannot write stdout")?;
        }
    }
    Ok(())
}
