//! What one evaluation may hold in large blocks. A string an expression
//! doubles in a recursion (`$f($s & $s)`) grows past any bound before the
//! evaluation's result is checked, a gigabyte every few steps, within its
//! time bound: jsonata-core bounds sequences and time, not memory. The
//! program's allocator, wrapped in [`Counting`], counts each thread's large
//! blocks (from [`LARGE`] bytes: a check of the size on every other
//! allocation); an evaluation notes the count it starts from, and past
//! [`BUDGET`] more the allocator cancels it (jsonata-core's
//! [`CancelToken`], checked between steps), which fails the state with AWS's
//! memory refusal. Without the wrapper (a program that does not install it)
//! nothing is counted and nothing cancelled.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;

use jsonata_core::evaluator::CancelToken;

/// Blocks from this size on are counted.
pub const LARGE: usize = 64 << 10;
/// How many bytes of large blocks one evaluation may hold beyond those its
/// thread held when it began (a sequence at AWS's bound of 873,782 values
/// takes ~30 MB, a string at its bound 8 MB).
pub const BUDGET: isize = 256 << 20;

thread_local! {
    /// Bytes of large blocks allocated minus freed on this thread.
    static HELD: Cell<isize> = const { Cell::new(0) };
    /// The running evaluation's token and the count it began at (null: none).
    static WATCHED: Cell<(*const CancelToken, isize)> = const { Cell::new((std::ptr::null(), 0)) };
}

fn counted(size: usize) -> isize {
    if size >= LARGE { size as isize } else { 0 }
}

/// Adds `delta` to the thread's count; cancels the watched evaluation once
/// over its budget.
fn add(delta: isize) {
    if delta == 0 {
        return;
    }
    // `try_with`: a thread being torn down has no slots left.
    let _ = HELD.try_with(|held| {
        let now = held.get().wrapping_add(delta);
        held.set(now);
        if delta > 0 {
            let _ = WATCHED.try_with(|w| {
                let (token, from) = w.get();
                if !token.is_null() && now.wrapping_sub(from) > BUDGET {
                    // SAFETY: set by `Watch::begin` from a token that lives
                    // until the `Watch` is dropped, which clears it first.
                    unsafe { (*token).cancel() };
                }
            });
        }
    });
}

/// An allocator counting each thread's large blocks for [`Watch`].
pub struct Counting<A>(pub A);

// SAFETY: every call is passed to `A` unchanged; counting touches only
// const-initialised thread-locals, which allocate nothing.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { self.0.alloc(layout) };
        if !p.is_null() {
            add(counted(layout.size()));
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { self.0.alloc_zeroed(layout) };
        if !p.is_null() {
            add(counted(layout.size()));
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { self.0.dealloc(ptr, layout) };
        add(-counted(layout.size()));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(counted(new_size) - counted(layout.size()));
        }
        p
    }
}

/// One evaluation watched on this thread, from `begin` to its drop.
pub struct Watch<'a> {
    _token: &'a CancelToken,
    before: (*const CancelToken, isize),
}

impl<'a> Watch<'a> {
    /// Watches what this thread allocates until the returned value is
    /// dropped, cancelling `token` past [`BUDGET`].
    pub fn begin(token: &'a CancelToken) -> Self {
        let from = HELD.try_with(Cell::get).unwrap_or(0);
        let before = WATCHED.try_with(|w| w.replace((token as *const CancelToken, from))).unwrap_or((std::ptr::null(), 0));
        Watch { _token: token, before }
    }
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        let _ = WATCHED.try_with(|w| w.set(self.before));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_blocks_past_the_budget_cancel_the_watched_evaluation_only() {
        let token = CancelToken::new();
        {
            let _watch = Watch::begin(&token);
            add(BUDGET / 2);
            add(-(BUDGET / 2));
            add(BUDGET);
            assert!(!token.is_cancelled(), "freed blocks are not held");
            add(counted(LARGE));
            assert!(token.is_cancelled());
        }
        let later = CancelToken::new();
        add(BUDGET * 2);
        assert!(!later.is_cancelled(), "nothing is watched after the drop");
        let _watch = Watch::begin(&later);
        add(LARGE as isize);
        assert!(!later.is_cancelled(), "a watch counts from where it begins");
        assert_eq!(counted(LARGE - 1), 0);
    }
}
