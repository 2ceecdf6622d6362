//! The allocator of a JavaScript run: the memory cap, enforced here rather than by QuickJS, and
//! the stop signal, so a stopped script cannot keep going by catching "out of memory".
//!
//! QuickJS polls its interrupt handler only every few thousand steps, and a built-in such as
//! `new Array(n).fill(x)` or `"x".repeat(n)` is one step however much it does. A script that
//! keeps memory full and catches every "out of memory" spends seconds between two polls, and the
//! error the interrupt throws needs memory of its own: without room it becomes a catchable
//! `null`. So once the run is told to stop, every allocation fails at once (each step is then
//! cheap, and the next poll comes soon), and when the handler raises the interrupt it
//! [`Budget::grant`]s the room its uncatchable error needs.

use super::limits::Stop;
use rquickjs::allocator::{Allocator, RustAllocator};
use std::cell::Cell;
use std::rc::Rc;

/// Allocations between two clock reads of the stop signal (the state flag is read on each).
const CLOCK_EVERY: u32 = 256;

/// Memory use and permission shared by a run's allocator and its interrupt handler.
#[derive(Debug)]
pub struct Budget {
    cap: usize,
    used: Cell<usize>,
    stop: Stop,
    /// Allocations since the last clock read.
    since_clock: Cell<u32>,
    /// Set when the interrupt is raised: the run is over, its last allocations are free.
    granted: Cell<bool>,
    /// Clear while the runtime is being created: rquickjs does not check that creation
    /// succeeded, so nothing may be refused before [`Budget::arm`].
    armed: Cell<bool>,
}

impl Budget {
    #[must_use]
    pub fn new(cap: usize, stop: Stop) -> Rc<Self> {
        Rc::new(Self {
            cap,
            used: Cell::new(0),
            stop,
            since_clock: Cell::new(0),
            granted: Cell::new(false),
            armed: Cell::new(false),
        })
    }

    /// Starts enforcing the cap and the stop signal (once the runtime exists).
    pub fn arm(&self) {
        self.armed.set(true);
    }

    /// Lets every allocation through from now on: the interrupt is being raised, and what it
    /// allocates is its own error.
    pub fn grant(&self) {
        self.granted.set(true);
    }

    /// Whether `extra` more bytes may be taken.
    fn admits(&self, extra: usize) -> bool {
        if self.granted.get() || !self.armed.get() {
            return true;
        }
        let ticks = self.since_clock.get() + 1;
        let stopped = if ticks >= CLOCK_EVERY {
            self.since_clock.set(0);
            self.stop.reached()
        } else {
            self.since_clock.set(ticks);
            self.stop.flagged()
        };
        !stopped && self.used.get().saturating_add(extra) <= self.cap
    }
}

/// QuickJS's allocations, through Rust's allocator, within a [`Budget`].
pub struct CappedAllocator {
    budget: Rc<Budget>,
}

impl CappedAllocator {
    #[must_use]
    pub fn new(budget: Rc<Budget>) -> Self {
        Self { budget }
    }

    fn took(&self, ptr: *mut u8) -> *mut u8 {
        if !ptr.is_null() {
            // SAFETY: `ptr` was just returned by `RustAllocator`.
            let size = unsafe { RustAllocator::usable_size(ptr) };
            self.budget.used.set(self.budget.used.get().saturating_add(size));
        }
        ptr
    }
}

// SAFETY: every block comes from `RustAllocator`, which meets the trait's requirements; this
// type only refuses some requests (returning null, which QuickJS handles as out of memory) and
// counts the sizes `RustAllocator` reports.
unsafe impl Allocator for CappedAllocator {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        if !self.budget.admits(size) {
            return std::ptr::null_mut();
        }
        let ptr = RustAllocator.alloc(size);
        self.took(ptr)
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        // `RustAllocator` panics on overflow, and a panic may not unwind into C.
        match count.checked_mul(size) {
            Some(total) if total > 0 && self.budget.admits(total) => {
                let ptr = RustAllocator.calloc(count, size);
                self.took(ptr)
            }
            _ => std::ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        // SAFETY: the caller passes a block of this allocator, so of `RustAllocator`.
        let size = unsafe { RustAllocator::usable_size(ptr) };
        self.budget.used.set(self.budget.used.get().saturating_sub(size));
        // SAFETY: as above.
        unsafe { RustAllocator.dealloc(ptr) };
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        // SAFETY: the caller passes a block of this allocator, so of `RustAllocator`.
        let old = unsafe { RustAllocator::usable_size(ptr) };
        if new_size > old && !self.budget.admits(new_size - old) {
            // The old block stays valid, as realloc promises on failure.
            return std::ptr::null_mut();
        }
        // SAFETY: as above.
        let moved = unsafe { RustAllocator.realloc(ptr, new_size) };
        if !moved.is_null() {
            // SAFETY: `moved` was just returned by `RustAllocator`.
            let new = unsafe { RustAllocator::usable_size(moved) };
            self.budget.used.set(self.budget.used.get().saturating_sub(old).saturating_add(new));
        }
        moved
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        // SAFETY: the caller passes a block of this allocator, so of `RustAllocator`.
        unsafe { RustAllocator::usable_size(ptr) }
    }
}
