//! A counting allocator: live heap bytes, for memory per execution without the noise of the
//! resident set (which keeps whatever earlier benchmarks freed), and on request the peak of live
//! bytes, for memory while something runs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static CALLS: AtomicUsize = AtomicUsize::new(0);
/// The highest `LIVE` since [`track_peak`], kept only while tracking: a shared maximum updated
/// on every allocation would slow down the benchmarks that count time.
static PEAK: AtomicUsize = AtomicUsize::new(0);
static TRACKING: AtomicBool = AtomicBool::new(false);

fn grew(live: usize) {
    if TRACKING.load(Ordering::Relaxed) {
        PEAK.fetch_max(live, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size());
        CALLS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same layout, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the pointer came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grew(LIVE.fetch_add(new_size, Ordering::Relaxed) + new_size);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        CALLS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Heap bytes allocated and not yet freed.
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Allocations (and reallocations) made so far, by every thread.
pub fn allocations() -> usize {
    CALLS.load(Ordering::Relaxed)
}

/// Starts tracking the peak of live heap bytes from now (see [`peak_bytes`]).
pub fn track_peak() {
    PEAK.store(live_bytes(), Ordering::Relaxed);
    TRACKING.store(true, Ordering::Relaxed);
}

/// The highest live heap bytes since [`track_peak`]; stops tracking.
pub fn peak_bytes() -> usize {
    TRACKING.store(false, Ordering::Relaxed);
    PEAK.load(Ordering::Relaxed).max(live_bytes())
}
