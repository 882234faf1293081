//! Lean builds: the same task built for `wasm32-unknown-unknown`, whose std
//! imports nothing, then wrapped as a component (`wasm-tools component new`).
//! Without WASI imports a fresh instance is cheaper to create; two things the
//! WASI std gave for free are provided here instead:
//!
//! - an allocator that never grows memory for small tasks: std's allocator on
//!   this target takes its heap with `memory.grow` in every fresh instance,
//!   which the host pays for with page-protection changes on every invocation;
//! - a panic hook that sends the panic message to the invocation's log, where
//!   the host finds it for the failure's cause (this target's stderr is a void).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

/// Bytes served from the module's own zeroed data before memory is grown.
const INITIAL_ARENA: usize = 256 * 1024;
const WASM_PAGE: usize = 64 * 1024;

/// A bump allocator: an instance lives for one invocation, so freeing is
/// only worth doing for the newest block (rewound, or grown in place by
/// `realloc`, as a growing `Vec` or `String` is). Memory beyond the initial
/// arena comes from `memory.grow`, within the function's memory limit.
pub struct Arena {
    state: UnsafeCell<ArenaState>,
}

struct ArenaState {
    next: usize,
    end: usize,
}

#[repr(C, align(16))]
struct InitialArena(UnsafeCell<[u8; INITIAL_ARENA]>);

// SAFETY: wasm32-unknown-unknown runs one thread.
unsafe impl Sync for Arena {}
unsafe impl Sync for InitialArena {}

static INITIAL: InitialArena = InitialArena(UnsafeCell::new([0; INITIAL_ARENA]));

impl Arena {
    pub const fn new() -> Self {
        Arena { state: UnsafeCell::new(ArenaState { next: 0, end: 0 }) }
    }
}

impl ArenaState {
    fn take(&mut self, layout: Layout) -> *mut u8 {
        if self.end == 0 {
            self.next = INITIAL.0.get() as usize;
            self.end = self.next + INITIAL_ARENA;
        }
        let start = self.next.next_multiple_of(layout.align());
        if start.checked_add(layout.size()).is_some_and(|end| end <= self.end) {
            self.next = start + layout.size();
            return start as *mut u8;
        }
        // Grow memory: at least 1 MiB at a time, so growing stays rare.
        let Some(pages) = layout.size().checked_add(layout.align()).map(|n| n.div_ceil(WASM_PAGE).max(16)) else {
            return core::ptr::null_mut();
        };
        let previous = core::arch::wasm32::memory_grow(0, pages);
        if previous == usize::MAX {
            return core::ptr::null_mut();
        }
        let region = previous * WASM_PAGE;
        let region_end = region + pages * WASM_PAGE;
        // Continue the current run when the new pages follow it.
        let start = if region == self.end { start } else { region.next_multiple_of(layout.align()) };
        self.next = start + layout.size();
        self.end = region_end;
        start as *mut u8
    }
}

unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: one thread, and no allocator call re-enters another.
        unsafe { (*self.state.get()).take(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let state = unsafe { &mut *self.state.get() };
        if ptr as usize + layout.size() == state.next {
            state.next = ptr as usize;
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let state = unsafe { &mut *self.state.get() };
        let fits = (ptr as usize).checked_add(new_size).is_some_and(|end| end <= state.end);
        if ptr as usize + layout.size() == state.next && fits {
            state.next = ptr as usize + new_size;
            return ptr;
        }
        // SAFETY: the layout's alignment is unchanged and was valid for `ptr`.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let new = state.take(new_layout);
        if !new.is_null() {
            // SAFETY: both blocks are live and distinct; copy the smaller size.
            unsafe { core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Arena = Arena::new();

/// Send a panic's `panicked at FILE:LINE:COL:` line and message to the log
/// (once per instance; the host turns them into the failure's cause).
pub fn install_panic_hook() {
    static INSTALLED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
    if !INSTALLED.swap(true, core::sync::atomic::Ordering::Relaxed) {
        std::panic::set_hook(Box::new(|info| crate::log::error(&info.to_string())));
    }
}
