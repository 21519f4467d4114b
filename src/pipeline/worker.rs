//! A worker thread: converts chunks (and compresses their output, for a BGZF output) in
//! whatever order they come; the writer puts them back in order.

use crossbeam_channel::{Receiver, Sender};

use crate::convert::{convert_chunk, ChunkOutput, Layout, Scratch};
use crate::write::bgzf::Deflater;

use super::errors::Failure;
use super::slot::Chunk;

/// A worker thread: converts chunks until the reader is done.
pub(super) fn convert_chunks(
    layout: &Layout,
    bgzf_level: Option<u32>,
    work: Receiver<Chunk>,
    done: Sender<Chunk>,
) {
    let mut scratch = Scratch::new(layout);
    let mut deflater = bgzf_level.map(Deflater::new);
    for mut chunk in work {
        if chunk.outcome.is_none() {
            let slot = &mut chunk.slot;
            slot.out.clear();
            slot.runs.clear();
            let result = convert_chunk(
                layout,
                &slot.input[..chunk.len],
                &mut scratch,
                ChunkOutput {
                    out_cap: slot.out.capacity(),
                    out: &mut slot.out,
                    runs_cap: slot.runs.capacity(),
                    runs: &mut slot.runs,
                },
            );
            if let (Some(d), Ok(_)) = (&mut deflater, &result) {
                slot.packed.clear();
                d.compress(&slot.out, &mut slot.packed);
            }
            chunk.outcome = Some(result.map_err(Failure::Line));
        }
        if done.send(chunk).is_err() {
            return;
        }
    }
}
