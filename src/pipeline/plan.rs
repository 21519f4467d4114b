//! How one memory limit is divided: what the process needs before any buffer (code, stacks,
//! allocator), the contig table, and the chunk slots that bound the pipeline.

use crate::config::size::format_size;
use crate::convert::ContigRun;
use crate::error::{Error, Result};
use crate::read::source::decompress_bytes;
use crate::write::bgzf;

/// Resident memory of the process before any chunk buffer: the binary's pages, thread
/// stacks, the allocator's per-thread arenas, the gzip decoder. Measured with `VmHWM` on a
/// run with tiny chunks (see README, "Memory"), with headroom.
pub const BASE_RSS: u64 = 7 << 20;

/// The smallest chunk worth running with; it is also the longest line below it.
pub const MIN_CHUNK: usize = 64 << 10;
/// Chunks larger than this bring no speed, only memory.
pub const MAX_CHUNK: usize = 1 << 20;
/// A chunk's output buffer holds this many times the chunk's bytes: a question-shaped
/// matrix whose every row has an ALT needs about 2.1x. Rarer, larger rows still work (the
/// writer converts the rest of such a chunk itself); only a single row larger than this is
/// an error.
pub const OUT_FACTOR: usize = 2;
/// Contig runs a chunk may record: one per 16 bytes of input, more than any real matrix
/// (a line of the 34-column layout takes at least 68).
pub const RUN_EVERY: usize = 16;

/// Chunks in flight for `workers` workers: one being converted and one waiting per worker,
/// one being read and one being written.
fn window(workers: usize) -> usize {
    2 * workers + 2
}

/// The least memory limit, in bytes, that runs `workers` workers with `extra` bytes set
/// aside (a decoder's, a FASTA index's) beside the smallest chunks, with 1 MiB of headroom.
fn least_limit(workers: usize, extra: usize, bgzf_level: Option<u32>) -> u64 {
    let window = window(workers);
    let compressor_bytes = bgzf_level.map_or(0, |l| (workers + 1) * bgzf::compressor_bytes(l));
    let packed_room = if bgzf_level.is_some() {
        (window + 1) * (64 << 10)
    } else {
        0
    };
    let misc = decompress_bytes(workers) + extra + (64 << 10) + compressor_bytes + packed_room;
    let need = BASE_RSS as usize
        + 256 * 1024
        + misc
        + MIN_CHUNK * (window * (1 + OUT_FACTOR) + OUT_FACTOR)
        + MIN_CHUNK / RUN_EVERY * std::mem::size_of::<ContigRun>() * (window + 1);
    need as u64 + (1 << 20)
}

/// The least memory limit, in whole MiB, whose plan fits: [`least_limit`]'s estimate
/// rounded up, then raised a MiB at a time until chunks of [`MIN_CHUNK`] fit (the estimate
/// leaves out what grows with the pool, such as the contig table's share and BGZF's
/// compressed output per slot). Whole MiB, so that the figure a message prints is one that
/// works when typed back as `--memory-limit`.
fn least_fitting(workers: usize, extra: usize, bgzf_level: Option<u32>) -> u64 {
    let mut limit = least_limit(workers, extra, bgzf_level).next_multiple_of(1 << 20);
    let chunk = |limit: u64| {
        let pool = limit.saturating_sub(BASE_RSS) as usize;
        sizes(pool, workers, extra, bgzf_level).chunk
    };
    while chunk(limit) < MIN_CHUNK {
        limit += 1 << 20;
    }
    limit
}

/// How a pool divides, before the chunk is checked against [`MIN_CHUNK`].
struct Sizes {
    window: usize,
    contig_bytes: usize,
    compressor_bytes: usize,
    /// The chunk size (a multiple of 4 KiB, at most [`MAX_CHUNK`]).
    chunk: usize,
}

/// Divides `pool` bytes for `workers` threads with `extra` bytes set aside (the decoder and
/// the FASTA index), for an output compressed at `bgzf_level` or not.
fn sizes(pool: usize, workers: usize, extra: usize, bgzf_level: Option<u32>) -> Sizes {
    let window = window(workers);
    let contig_bytes = (pool / 16).max(256 << 10);
    let compressor_bytes = bgzf_level.map_or(0, |l| (workers + 1) * bgzf::compressor_bytes(l));
    // A compressed output takes at most its plain size and 1/16 more (in 16ths of a
    // chunk's byte), and 64 KiB of room (in `misc`).
    let packed = if bgzf_level.is_some() {
        OUT_FACTOR * 16 + 1
    } else {
        0
    };
    let packed_room = if bgzf_level.is_some() {
        (window + 1) * (64 << 10)
    } else {
        0
    };
    let misc = decompress_bytes(workers) + extra + (64 << 10) + compressor_bytes + packed_room;
    let run = std::mem::size_of::<ContigRun>();
    // Per slot: input + output (+ compressed output) + runs. The writer keeps one spare
    // output for the rest of a chunk whose rows did not fit, and to regroup contigs.
    let per_chunk_byte = |n: usize| n * ((1 + OUT_FACTOR) * 16 + packed) + n * run;
    let spare_per_byte = OUT_FACTOR * 16 + packed + run;
    let avail = pool.saturating_sub(contig_bytes + misc);
    let chunk = avail * 16 / (per_chunk_byte(window) + spare_per_byte);
    Sizes {
        window,
        contig_bytes,
        compressor_bytes,
        chunk: (chunk.min(MAX_CHUNK)) & !4095,
    }
}

/// The sizes the pipeline runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The memory limit the plan divides, in bytes (peak resident memory of the process).
    pub limit: u64,
    /// Worker threads converting chunks (at least 1).
    pub workers: usize,
    /// Chunks in flight at most: being read, converted, waiting to be written (the reorder
    /// window included).
    pub window: usize,
    /// Bytes of input per chunk, which is also the longest line accepted.
    pub chunk: usize,
    /// Bytes of a chunk's output buffer: `OUT_FACTOR` times the chunk.
    pub out_cap: usize,
    /// Room for a chunk's output compressed as BGZF; 0 when the output is not compressed.
    pub packed_cap: usize,
    /// Bytes of the BGZF compressors' state (one per worker and one for the writer).
    pub compressor_bytes: usize,
    /// Contig runs a chunk may record: one per `RUN_EVERY` bytes of input.
    pub runs_cap: usize,
    /// Bytes set aside for contig names.
    pub contig_bytes: usize,
    /// Bytes the budget hands out: the limit less `BASE_RSS`.
    pub pool: usize,
    /// Bytes set aside for a decoder beyond what gzip's needs (zstd's window, xz's
    /// dictionary, bzip2's blocks): `DecoderCaps::extra_bytes` (`read/format.rs`).
    pub decoder_bytes: usize,
    /// Bytes set aside for the FASTA index given with `--fai`
    /// (`Measured::bytes`, `read/fai.rs`); 0 without one.
    pub index_bytes: usize,
    /// The chunk size was chosen by the caller ([`Plan::with_chunk`]), not derived from the
    /// limit: it stays as it is, and the pool grows for a decoder.
    pub fixed_chunk: bool,
    /// The BGZF level of the output (None: not compressed), kept to size the plan again
    /// for a decoder.
    pub bgzf_level: Option<u32>,
}

impl Plan {
    /// The plan for an uncompressed output.
    pub fn new(limit: u64, workers: usize) -> Result<Plan> {
        Plan::for_output(limit, workers, None)
    }

    /// The plan for an output compressed as BGZF at `bgzf_level` (None: not compressed):
    /// each slot then also holds its output compressed, and each worker a compressor.
    pub fn for_output(limit: u64, workers: usize, bgzf_level: Option<u32>) -> Result<Plan> {
        let pool = limit.saturating_sub(BASE_RSS) as usize;
        Plan::from_pool(pool, limit, workers, 0, 0, bgzf_level)
    }

    /// The same plan with `decoder_bytes` set aside for the input's decoder: chunks shrink to
    /// make room (an error if they would fall below [`MIN_CHUNK`]).
    pub fn with_decoder(self, decoder_bytes: usize) -> Result<Plan> {
        if decoder_bytes <= self.decoder_bytes {
            return Ok(self);
        }
        if self.fixed_chunk {
            let grow = decoder_bytes - self.decoder_bytes;
            return Ok(Plan {
                pool: self.pool + grow,
                limit: self.limit + grow as u64,
                decoder_bytes,
                ..self
            });
        }
        Plan::from_pool(
            self.pool,
            self.limit,
            self.workers,
            decoder_bytes,
            self.index_bytes,
            self.bgzf_level,
        )
    }

    /// The same plan with `index_bytes` set aside for the FASTA index `what` (as
    /// `Measured::what` in `read/fai.rs` names it): chunks shrink to make room, as for a
    /// decoder. A plan with a chosen chunk size grows instead.
    ///
    /// # Errors
    ///
    /// A configuration error (exit 2) when the chunks would fall below [`MIN_CHUNK`]: the
    /// message says what the index needs and the least memory limit that holds it and the
    /// conversion (`memory limit too small: {what} needs ...; with it the conversion needs
    /// a memory limit of at least ..., not ...`).
    pub fn with_index(self, index_bytes: usize, what: &str) -> Result<Plan> {
        if index_bytes <= self.index_bytes {
            return Ok(self);
        }
        if self.fixed_chunk {
            let grow = index_bytes - self.index_bytes;
            return Ok(Plan {
                pool: self.pool + grow,
                limit: self.limit + grow as u64,
                index_bytes,
                ..self
            });
        }
        Plan::from_pool(
            self.pool,
            self.limit,
            self.workers,
            self.decoder_bytes,
            index_bytes,
            self.bgzf_level,
        )
        .map_err(|_| {
            let extra = self.decoder_bytes + index_bytes;
            let least = least_fitting(self.workers, extra, self.bgzf_level);
            Error::config(format!(
                "memory limit too small: {what} needs {}; with it the conversion needs a \
                 memory limit of at least {}, not {}",
                format_size(index_bytes as u64),
                format_size(least),
                format_size(self.limit),
            ))
        })
    }

    fn from_pool(
        pool: usize,
        limit: u64,
        workers: usize,
        decoder_bytes: usize,
        index_bytes: usize,
        bgzf_level: Option<u32>,
    ) -> Result<Plan> {
        let workers = workers.max(1);
        let Sizes {
            window,
            contig_bytes,
            compressor_bytes,
            chunk,
        } = sizes(pool, workers, decoder_bytes + index_bytes, bgzf_level);
        if chunk < MIN_CHUNK {
            let decoder = if decoder_bytes > 0 {
                " and this input's decompressor"
            } else {
                ""
            };
            return Err(Error::config(format!(
                "memory limit {} is too small for {workers} worker threads{decoder}: at least {} is needed",
                format_size(limit),
                format_size(least_fitting(workers, decoder_bytes + index_bytes, bgzf_level)),
            )));
        }
        let out_cap = chunk * OUT_FACTOR;
        Ok(Plan {
            limit,
            workers,
            window,
            chunk,
            out_cap,
            packed_cap: bgzf_level.map_or(0, |_| bgzf::bound(out_cap)),
            compressor_bytes,
            runs_cap: chunk / RUN_EVERY,
            contig_bytes,
            pool,
            decoder_bytes,
            index_bytes,
            fixed_chunk: false,
            bgzf_level,
        })
    }

    /// A plan with a chosen chunk size, whatever the limit: tests and benchmarks use it to
    /// force many small chunks (and so many chunk boundaries) through the pipeline.
    pub fn with_chunk(chunk: usize, workers: usize) -> Plan {
        let workers = workers.max(1);
        let mut plan = Plan {
            limit: 0,
            workers,
            window: window(workers),
            chunk,
            out_cap: chunk * OUT_FACTOR,
            packed_cap: 0,
            compressor_bytes: 0,
            runs_cap: (chunk / RUN_EVERY).max(1),
            contig_bytes: 1 << 20,
            pool: 0,
            decoder_bytes: 0,
            index_bytes: 0,
            fixed_chunk: true,
            bgzf_level: None,
        };
        plan.pool = plan.slot_bytes() * (plan.window + 1)
            + plan.contig_bytes
            + decompress_bytes(workers)
            + (64 << 10);
        plan.limit = plan.pool as u64 + BASE_RSS;
        plan
    }

    /// Threads inflating BGZF input: one per worker (inflating costs about four times what
    /// converting does, per byte, so the two share the cores).
    pub fn inflaters(&self) -> usize {
        self.workers
    }

    /// The same plan for an output compressed as BGZF at `level` (tests and benchmarks).
    pub fn with_bgzf(mut self, level: u32) -> Plan {
        self.bgzf_level = Some(level);
        self.packed_cap = bgzf::bound(self.out_cap);
        self.compressor_bytes = (self.workers + 1) * bgzf::compressor_bytes(level);
        self.pool += (self.window + 1) * self.packed_cap + self.compressor_bytes;
        self.limit = self.pool as u64 + BASE_RSS;
        self
    }

    /// Bytes one chunk slot holds.
    pub fn slot_bytes(&self) -> usize {
        self.chunk
            + self.out_cap
            + self.packed_cap
            + self.runs_cap * std::mem::size_of::<ContigRun>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The least limit a "too small" message names converts when typed back, whatever the
    /// threads and BGZF level, and a MiB less does not (when the estimate was raised).
    #[test]
    fn the_least_limit_named_is_one_that_fits() {
        for workers in [1, 2, 3, 4, 8, 16] {
            for level in [None, Some(1), Some(6), Some(12)] {
                let e = Plan::for_output(8 << 20, workers, level)
                    .unwrap_err()
                    .to_string();
                let least = least_fitting(workers, 0, level);
                assert!(
                    e.contains(&format!("at least {} is needed", format_size(least))),
                    "{workers} {level:?}: {e}"
                );
                assert!(
                    Plan::for_output(least, workers, level).is_ok(),
                    "{workers} {level:?}"
                );
                let estimate = least_limit(workers, 0, level).next_multiple_of(1 << 20);
                if least > estimate {
                    assert!(Plan::for_output(least - (1 << 20), workers, level).is_err());
                }
            }
        }
    }

    #[test]
    fn every_buffer_fits_in_the_pool() {
        for limit in [24u64 << 20, 32 << 20, 64 << 20, 256 << 20, 4 << 30] {
            for (workers, level) in [1, 2, 4, 16]
                .into_iter()
                .flat_map(|w| [(w, None), (w, Some(1)), (w, Some(12))])
            {
                let Ok(p) = Plan::for_output(limit, workers, level) else {
                    continue;
                };
                let spare = p.slot_bytes() - p.chunk;
                let used = p.slot_bytes() * p.window
                    + spare
                    + p.contig_bytes
                    + p.compressor_bytes
                    + decompress_bytes(p.inflaters());
                assert!(used <= p.pool, "{limit} {workers}: {used} > {}", p.pool);
                assert!(p.chunk >= MIN_CHUNK && p.chunk <= MAX_CHUNK);
                let Ok(d) = p.with_decoder(10 << 20) else {
                    continue;
                };
                let used = d.slot_bytes() * d.window
                    + (d.slot_bytes() - d.chunk)
                    + d.contig_bytes
                    + d.compressor_bytes
                    + decompress_bytes(d.inflaters())
                    + d.decoder_bytes;
                assert!(used <= d.pool, "{limit} {workers} with a decoder");
                assert!(d.chunk <= p.chunk && d.limit == p.limit);
            }
        }
    }

    #[test]
    fn a_32_mib_limit_runs_two_workers_with_megabyte_chunks() {
        let p = Plan::new(32 << 20, 2).unwrap();
        assert_eq!(p.window, 6);
        assert!(p.chunk >= 512 << 10, "{p:?}");
    }

    #[test]
    fn a_fasta_index_shrinks_the_chunks_or_says_the_limit_it_needs() {
        for (workers, level) in [(1, None), (2, None), (2, Some(6)), (8, Some(12))] {
            let p = Plan::for_output(64 << 20, workers, level).unwrap();
            let q = p.with_index(20 << 20, "the index").unwrap();
            assert!(q.chunk <= p.chunk && q.limit == p.limit, "{q:?}");
            let used = q.slot_bytes() * q.window
                + (q.slot_bytes() - q.chunk)
                + q.contig_bytes
                + q.compressor_bytes
                + decompress_bytes(q.inflaters())
                + q.index_bytes;
            assert!(used <= q.pool, "{workers} {level:?}: {used} > {}", q.pool);
            let d = q.with_decoder(4 << 20).unwrap();
            assert_eq!((d.index_bytes, d.limit), (20 << 20, q.limit));

            let err = p.with_index(60 << 20, "the FASTA index r.fai").unwrap_err();
            let text = err.to_string();
            assert!(
                text.starts_with("memory limit too small: the FASTA index r.fai needs 60MiB")
                    && text.ends_with(", not 64MiB"),
                "{text}"
            );
            let least = text.split("at least ").nth(1).unwrap();
            let least: u64 = least.split("MiB").next().unwrap().parse().unwrap();
            let fits = |mib: u64| {
                Plan::for_output(mib << 20, workers, level)
                    .and_then(|p| p.with_index(60 << 20, "i"))
                    .is_ok()
            };
            assert!(fits(least) && !fits(least - 1), "{text}");
        }
    }

    #[test]
    fn too_small_a_limit_says_what_is_needed() {
        let err = Plan::new(8 << 20, 2).unwrap_err().to_string();
        assert!(
            err.contains("too small") && err.contains("at least"),
            "{err}"
        );
    }
}
