//! The reader thread: cuts the input into chunks of whole lines, one free slot at a time
//! (backpressure: without a free slot there is no next chunk).

use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Receiver, Sender};

use crate::read::{Chunker, Cut, ReadError};

use super::errors::{Failure, ReadFailure};
use super::slot::{Chunk, Slot};

/// The reader thread: fills slots with whole lines and sends them on in order.
pub(super) fn read_chunks<R: std::io::Read>(
    mut chunker: Chunker<R>,
    first: (Slot, usize, u64),
    work: Sender<Chunk>,
    free: Receiver<Slot>,
    stop: &AtomicBool,
    compressed: bool,
) {
    let (mut slot, mut filled, mut start_byte) = first;
    for seq in 0.. {
        let chunk = |slot, len, outcome| Chunk {
            seq,
            slot,
            len,
            start_byte,
            outcome,
        };
        if stop.load(Ordering::Relaxed) {
            let _ = work.send(chunk(
                slot,
                0,
                Some(Err(Failure::Read(ReadFailure::Stopped))),
            ));
            return;
        }
        let (now, cut) = match chunker.next(&mut slot.input, filled) {
            Ok(next) => next,
            Err(ReadError { filled, error }) => {
                let failed = Some(Err(Failure::Read(ReadFailure::Read(error))));
                let _ = work.send(chunk(slot, filled, failed));
                return;
            }
        };
        match cut {
            Cut::End => {
                if now > 0 {
                    let _ = work.send(chunk(slot, now, None));
                }
                return;
            }
            Cut::LineTooLong => {
                // In compressed input, such a line may be damaged data: decode on to see.
                let failure = match compressed {
                    true => chunker.decode_to_end(&mut slot.input).err(),
                    false => None,
                };
                let failure = failure.map_or(ReadFailure::LineTooLong, ReadFailure::Read);
                let failed = Some(Err(Failure::Read(failure)));
                let _ = work.send(chunk(slot, 0, failed));
                return;
            }
            Cut::At(cut) => {
                // Backpressure: without a free slot there is no next chunk.
                let Ok(mut next) = free.recv() else { return };
                next.input[..now - cut].copy_from_slice(&slot.input[cut..now]);
                if work.send(chunk(slot, cut, None)).is_err() {
                    return;
                }
                start_byte += cut as u64;
                filled = now - cut;
                slot = next;
            }
        }
    }
}
