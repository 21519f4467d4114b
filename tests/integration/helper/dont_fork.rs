//! Keeps the test process's large buffers out of the children it spawns.
//!
//! A child's peak RSS is measured from outside (`wait4`'s `ru_maxrss`), and a child made by
//! `fork` starts with a copy of the test process's memory, whose size Linux folds into that
//! peak at `exec` (see [`super::run`]). With every test in one binary, other tests running
//! at the same moment hold matrices and outputs in that process, and a child's figure came
//! out at 100 MiB and more. Allocations of [`BIG`] bytes and more are therefore mapped on
//! their own and marked `MADV_DONTFORK`: a child never gets them (between `fork` and `exec`
//! it touches only the small argument and environment strings), so its peak is its own
//! plus what small allocations the test process holds.

use std::alloc::{GlobalAlloc, Layout, System};

/// Allocations from this size on (bytes) are not copied into forked children.
pub const BIG: usize = 64 << 10;

/// The integration tests' global allocator: [`System`] for small allocations, private
/// anonymous `mmap`s marked `MADV_DONTFORK` for [`BIG`] ones.
pub struct DontForkBig;

fn mapped(layout: Layout) -> bool {
    layout.size() >= BIG && layout.align() <= 4096
}

// SAFETY: small layouts go to `System` unchanged; big ones get a fresh page-aligned mapping
// of at least `layout.size()` bytes (so any alignment up to a page holds), unmapped with the
// same size, which `dealloc` receives as the same layout.
unsafe impl GlobalAlloc for DontForkBig {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !mapped(layout) {
            return unsafe { System.alloc(layout) };
        }
        // SAFETY: an anonymous private mapping of a non-zero length, no file.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                layout.size(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return std::ptr::null_mut();
        }
        // SAFETY: `p` is the mapping just made, of this length. Failure only means the
        // mapping is copied at fork, as any other memory is.
        unsafe { libc::madvise(p, layout.size(), libc::MADV_DONTFORK) };
        p.cast()
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !mapped(layout) {
            return unsafe { System.alloc_zeroed(layout) };
        }
        // SAFETY: fresh anonymous mappings are zero-filled.
        unsafe { self.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !mapped(layout) {
            return unsafe { System.dealloc(ptr, layout) };
        }
        // SAFETY: `ptr` came from `alloc` with this layout, so it is a mapping of this length.
        unsafe { libc::munmap(ptr.cast(), layout.size()) };
    }
}
