//! The heap allocator algorithm, over any arena.
//!
//! On the guest the SDK's global allocator runs one [`Heap`] over the linker script's arena
//! `[__opml_heap_start, __opml_heap_end)` (from the end of the program image to
//! `opml_platform::memory::HEAP_END`) and turns exhaustion into an exit with
//! `exit_code::OUT_OF_MEMORY`. Natively the type is plain data, which is how its tests run.
//!
//! # Layout
//!
//! - **Small blocks** (size and alignment up to [`MAX_SMALL`]) come in power-of-two size classes
//!   from 8 bytes up, each block aligned to its own size. Every class has a LIFO free list
//!   threaded through the free blocks, so `alloc` and `dealloc` are a few instructions. A class
//!   with an empty list cuts the next block from its current 4 KiB slab; a new slab comes from
//!   the untouched top of the arena (the alignment gap goes to smaller classes) or, when that is
//!   used up, from a free large block.
//! - **Large blocks** are multiples of [`GRANULE`] bytes at `GRANULE`-aligned (or more strictly
//!   aligned) addresses. Free ones sit on one address-ordered list and are merged with their
//!   free neighbours, and a free block that reaches the untouched top of the arena is given back
//!   to it. Allocation is first fit, then the top. `realloc` of the block that ends at the top
//!   grows or shrinks it in place, which makes a growing vector cheap.
//!
//! Blocks carry no header: `dealloc` gets the block's layout from its caller, as `GlobalAlloc`
//! guarantees. Every block of 32 bytes or more is 32-byte aligned, which the SDK's stream
//! functions use to move whole memory leaves per system call.

use core::alloc::Layout;
use core::ptr::NonNull;

/// log2 of the smallest block: it must hold a free-list link (a pointer, 8 bytes natively).
const MIN_CLASS_LOG2: u32 = 3;
/// The smallest block size.
const MIN_CLASS: usize = 1 << MIN_CLASS_LOG2;
/// log2 of [`MAX_SMALL`].
const MAX_SMALL_LOG2: u32 = 11;
/// The largest size (and alignment) served by the small-block size classes.
pub const MAX_SMALL: usize = 1 << MAX_SMALL_LOG2;
/// Number of small size classes.
const CLASSES: usize = (MAX_SMALL_LOG2 - MIN_CLASS_LOG2 + 1) as usize;
/// Large blocks' sizes and addresses are multiples of this (a free one holds a two-word node).
pub const GRANULE: usize = 32;
/// Small blocks are cut from slabs of this many bytes (or one block, for bigger classes), which
/// keeps them together rather than scattered between large blocks.
const SLAB: usize = 4096;
/// A freed range smaller than this is split into small blocks rather than kept whole.
const KEEP_WHOLE: usize = 2 * MAX_SMALL;

/// Size class index for each small size, by `(size - 1) / MIN_CLASS`: one table load instead of
/// a count-leading-zeros loop (RV32IM has no `clz`).
const CLASS_OF: [u8; MAX_SMALL / MIN_CLASS] = {
    let mut table = [0u8; MAX_SMALL / MIN_CLASS];
    let mut i = 0;
    while i < table.len() {
        let size = (i + 1) * MIN_CLASS;
        let mut class = 0;
        while MIN_CLASS << class < size {
            class += 1;
        }
        table[i] = class as u8;
        i += 1;
    }
    table
};

/// The small class of `layout`, or `None` for a large block.
#[inline]
fn class_of(layout: Layout) -> Option<usize> {
    let size = layout.size().max(layout.align());
    if size > MAX_SMALL {
        None
    } else {
        Some(CLASS_OF[size.saturating_sub(1) / MIN_CLASS] as usize)
    }
}

/// The block size of a large allocation of `size` bytes.
#[inline]
fn large_size(size: usize) -> Option<usize> {
    Some(size.max(1).checked_add(GRANULE - 1)? & !(GRANULE - 1))
}

/// `addr` rounded up to a multiple of `align` (a power of two).
#[inline]
fn align_up(addr: usize, align: usize) -> Option<usize> {
    Some(addr.checked_add(align - 1)? & !(align - 1))
}

/// A heap over one arena. See the [module documentation](self) for the algorithm.
///
/// Addresses are kept as integers; `base` lends them the arena's provenance when they become
/// pointers again.
#[derive(Debug)]
pub struct Heap {
    /// Any pointer into the arena, for provenance.
    base: *mut u8,
    /// `[top, end)` has never been handed out (or was given back whole).
    top: usize,
    /// End of the arena.
    end: usize,
    /// Free-list heads of the small classes; 0 is the empty list.
    small: [usize; CLASSES],
    /// The unused part `[next, end)` of each small class's current slab.
    slabs: [(usize, usize); CLASSES],
    /// Head of the address-ordered list of free large blocks; 0 is the empty list. A node is two
    /// words at the block's start: the next node, then the block's size.
    large: usize,
}

impl Heap {
    /// A heap with no memory: every allocation fails.
    pub const fn empty() -> Heap {
        Heap {
            base: core::ptr::null_mut(),
            top: 0,
            end: 0,
            small: [0; CLASSES],
            slabs: [(0, 0); CLASSES],
            large: 0,
        }
    }

    /// A heap over the `len` bytes at `arena` (shrunk to [`GRANULE`] boundaries).
    ///
    /// # Safety
    ///
    /// The memory must be valid for reads and writes, unused by anything else for as long as the
    /// heap or any block it hands out lives, and must not contain address 0.
    pub unsafe fn new(arena: *mut u8, len: usize) -> Heap {
        let start = arena.addr();
        let end = start.saturating_add(len) & !(GRANULE - 1);
        let top = align_up(start, GRANULE).unwrap_or(end).min(end);
        Heap {
            base: arena,
            top,
            end,
            ..Heap::empty()
        }
    }

    /// Bytes at the top of the arena that are not part of any block, free or used.
    pub fn untouched(&self) -> usize {
        self.end - self.top
    }

    /// A block of `layout`, or `None` if the arena cannot provide one.
    ///
    /// # Safety
    ///
    /// The heap must have been made by [`Heap::new`] (or be [`Heap::empty`]), and every block
    /// given back to it must have come from it.
    pub unsafe fn alloc(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        // SAFETY (all calls below): the arena invariants are the caller's.
        let addr = match class_of(layout) {
            Some(class) => unsafe { self.alloc_small(class) }?,
            None => {
                let size = large_size(layout.size())?;
                let align = layout.align().max(GRANULE);
                unsafe { self.take_large(size, align) }
                    .or_else(|| unsafe { self.carve(size, align) })?
            }
        };
        NonNull::new(self.base.with_addr(addr))
    }

    /// Gives back a block.
    ///
    /// # Safety
    ///
    /// `ptr` must have come from this heap's `alloc` or `realloc` with this `layout` (for
    /// `realloc`: the new size and the old alignment), and not been given back since.
    pub unsafe fn dealloc(&mut self, ptr: NonNull<u8>, layout: Layout) {
        let addr = ptr.as_ptr().addr();
        // SAFETY: the block is ours and free from now on.
        unsafe {
            match class_of(layout) {
                Some(class) => self.push_small(class, addr),
                None => self.insert_large(addr, large_size(layout.size()).unwrap_or(0)),
            }
        }
    }

    /// Resizes a block to `new_size` bytes (keeping its alignment), in place when it can: same
    /// small class, a shrinking large block, or a large block ending at the top of the arena.
    /// Otherwise moves it. `None` (the old block untouched) if the arena cannot provide one.
    ///
    /// # Safety
    ///
    /// As for [`dealloc`](Heap::dealloc), and `new_size` rounded up to `layout.align()` must not
    /// overflow `isize`.
    pub unsafe fn realloc(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        // SAFETY: the caller guarantees the size and alignment form a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let addr = ptr.as_ptr().addr();
        match (class_of(layout), class_of(new_layout)) {
            (Some(old), Some(new)) if old == new => return Some(ptr),
            (None, None) => {
                let old = large_size(layout.size())?;
                let new = large_size(new_size)?;
                if new <= old {
                    if new < old {
                        // SAFETY: the tail is ours and free from now on.
                        unsafe { self.insert_large(addr + new, old - new) };
                    }
                    return Some(ptr);
                }
                if addr + old == self.top && addr.checked_add(new)? <= self.end {
                    self.top = addr + new;
                    return Some(ptr);
                }
            }
            _ => {}
        }
        // SAFETY: a fresh block of the new layout; the copy stays inside both blocks.
        unsafe {
            let moved = self.alloc(new_layout)?;
            let keep = layout.size().min(new_size);
            core::ptr::copy_nonoverlapping(ptr.as_ptr(), moved.as_ptr(), keep);
            self.dealloc(ptr, layout);
            Some(moved)
        }
    }

    /// The word at `addr`, as a pointer.
    fn word(&self, addr: usize) -> *mut usize {
        self.base.with_addr(addr).cast()
    }

    /// Pops a block of small `class`; with an empty list, bumps the class's slab, and with an
    /// exhausted slab, starts a new one.
    unsafe fn alloc_small(&mut self, class: usize) -> Option<usize> {
        let head = self.small[class];
        if head != 0 {
            // SAFETY: a free small block holds its list link.
            self.small[class] = unsafe { *self.word(head) };
            return Some(head);
        }
        let size = MIN_CLASS << class;
        let (next, slab_end) = self.slabs[class];
        if next < slab_end {
            self.slabs[class].0 = next + size;
            return Some(next);
        }
        // A whole slab if possible, else the least a large block can give.
        for len in [SLAB.max(size), size.max(GRANULE)] {
            // SAFETY: forwarded.
            let slab = unsafe { self.carve(len, size) }
                .or_else(|| unsafe { self.take_large(len, size.max(GRANULE)) });
            if let Some(start) = slab {
                self.slabs[class] = (start + size, start + len);
                return Some(start);
            }
        }
        None
    }

    /// Pushes a free block on the list of small `class`.
    unsafe fn push_small(&mut self, class: usize, addr: usize) {
        // SAFETY: the block is free and big enough for a link.
        unsafe { *self.word(addr) = self.small[class] };
        self.small[class] = addr;
    }

    /// Takes `size` bytes aligned to `align` from the untouched top; the alignment gap becomes
    /// free blocks.
    unsafe fn carve(&mut self, size: usize, align: usize) -> Option<usize> {
        let start = align_up(self.top, align)?;
        let new_top = start.checked_add(size)?;
        if new_top > self.end {
            return None;
        }
        let gap = self.top;
        self.top = new_top;
        // SAFETY: the gap was untouched and is now free.
        unsafe { self.release(gap, start) };
        Some(start)
    }

    /// Makes the range `[start, end)` (multiples of [`MIN_CLASS`]) free: naturally aligned small
    /// blocks at its ragged ends, and one large block in the middle if it is big enough.
    unsafe fn release(&mut self, start: usize, end: usize) {
        let mut middle = (start, start);
        if end - start >= KEEP_WHOLE {
            middle = (
                align_up(start, GRANULE).unwrap_or(end),
                end & !(GRANULE - 1),
            );
        }
        // SAFETY (all): the pieces are free and ours.
        unsafe {
            self.release_small(start, middle.0);
            if middle.1 > middle.0 {
                self.insert_large(middle.0, middle.1 - middle.0);
            }
            self.release_small(middle.1.max(start), end);
        }
    }

    /// Splits `[start, end)` into the largest naturally aligned small blocks and frees them.
    unsafe fn release_small(&mut self, mut start: usize, end: usize) {
        debug_assert!(start.is_multiple_of(MIN_CLASS) && end.is_multiple_of(MIN_CLASS));
        while start < end {
            // The largest power of two that divides `start`, fits, and is a small class.
            let mut size = MAX_SMALL;
            while start & (size - 1) != 0 || start + size > end {
                size >>= 1;
            }
            // SAFETY: a free piece of the range.
            unsafe { self.push_small(CLASS_OF[(size - 1) / MIN_CLASS] as usize, start) };
            start += size;
        }
    }

    /// Removes the first free large block that can hold `size` bytes (a [`GRANULE`] multiple)
    /// at an `align`-aligned address (`align >= GRANULE`), frees what is left of it on either
    /// side, and returns the address.
    unsafe fn take_large(&mut self, size: usize, align: usize) -> Option<usize> {
        let mut link: *mut usize = &raw mut self.large;
        // SAFETY: links and nodes are in free large blocks, which are ours.
        unsafe {
            while *link != 0 {
                let block = *link;
                let node = self.word(block);
                let block_end = block + *node.add(1);
                if let Some(start) = align_up(block, align)
                    && let Some(end) = start.checked_add(size)
                    && end <= block_end
                {
                    *link = *node;
                    // Both remnants are GRANULE multiples: they stay large, free blocks, so
                    // they can merge again when their neighbours are freed.
                    if start > block {
                        self.insert_large(block, start - block);
                    }
                    if block_end > end {
                        self.insert_large(end, block_end - end);
                    }
                    return Some(start);
                }
                link = node;
            }
        }
        None
    }

    /// Adds the free large block `[addr, addr + size)` to the address-ordered list, merging it
    /// with free neighbours, or with the untouched top when it reaches it.
    unsafe fn insert_large(&mut self, addr: usize, size: usize) {
        // SAFETY: links and nodes are in free large blocks, which are ours, and so is the new one.
        unsafe {
            let mut link: *mut usize = &raw mut self.large;
            let mut prev: Option<(*mut usize, usize)> = None;
            while *link != 0 && *link < addr {
                prev = Some((link, *link));
                link = self.word(*link);
            }
            let (mut start, mut len) = (addr, size);
            let mut next = *link;
            if next != 0 && addr + size == next {
                let node = self.word(next);
                len += *node.add(1);
                next = *node;
            }
            if let Some((prev_link, prev_block)) = prev {
                let prev_len = *self.word(prev_block).add(1);
                if prev_block + prev_len == addr {
                    start = prev_block;
                    len += prev_len;
                    link = prev_link;
                }
            }
            if start + len == self.top {
                self.top = start;
                *link = next;
            } else {
                let node = self.word(start);
                *node = next;
                *node.add(1) = len;
                *link = start;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// A GRANULE-aligned arena of `len` bytes on the native heap.
    struct Arena {
        words: Vec<[u64; 4]>,
    }

    impl Arena {
        fn new(len: usize) -> Arena {
            Arena {
                words: std::vec![[0; 4]; len / 32],
            }
        }
        fn heap(&mut self) -> Heap {
            let len = self.words.len() * 32;
            // SAFETY: the arena outlives the heap in every test and nothing else touches it.
            unsafe { Heap::new(self.words.as_mut_ptr().cast(), len) }
        }
        fn range(&self) -> core::ops::Range<usize> {
            let start = self.words.as_ptr().addr();
            start..start + self.words.len() * 32
        }
    }

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    fn alloc(heap: &mut Heap, l: Layout) -> Option<NonNull<u8>> {
        // SAFETY: the test heaps are well formed.
        unsafe { heap.alloc(l) }
    }

    fn free(heap: &mut Heap, p: NonNull<u8>, l: Layout) {
        // SAFETY: `p` came from `heap` with `l`.
        unsafe { heap.dealloc(p, l) }
    }

    /// All free memory of `heap` (untouched, free lists, unused slab parts) and the largest free
    /// large block, checking that the large list is sorted and merged.
    fn free_memory(heap: &Heap) -> (usize, usize) {
        let mut total = heap.untouched();
        let mut largest = 0;
        let mut node = heap.large;
        let mut previous_end = 0;
        // SAFETY: the list nodes are free blocks in the arena.
        unsafe {
            while node != 0 {
                let len = *heap.word(node).add(1);
                assert!(node > previous_end, "large list unsorted or unmerged");
                previous_end = node + len;
                assert_ne!(previous_end, heap.top, "free block not merged into the top");
                largest = largest.max(len);
                total += len;
                node = *heap.word(node);
            }
            for (class, &head) in heap.small.iter().enumerate() {
                let mut block = head;
                while block != 0 {
                    total += MIN_CLASS << class;
                    block = *heap.word(block);
                }
                let (next, end) = heap.slabs[class];
                total += end.saturating_sub(next);
            }
        }
        (total, largest)
    }

    #[test]
    fn class_table_rounds_up_to_powers_of_two() {
        assert_eq!(class_of(layout(1, 1)), Some(0));
        assert_eq!(class_of(layout(8, 8)), Some(0));
        assert_eq!(class_of(layout(9, 1)), Some(1));
        assert_eq!(class_of(layout(4, 64)), Some(3));
        assert_eq!(class_of(layout(1025, 1)), Some(CLASSES - 1));
        assert_eq!(class_of(layout(MAX_SMALL, 1)), Some(CLASSES - 1));
        assert_eq!(class_of(layout(MAX_SMALL + 1, 1)), None);
        assert_eq!(class_of(layout(8, 2 * MAX_SMALL)), None);
    }

    #[test]
    fn blocks_are_aligned_disjoint_and_inside_the_arena() {
        let mut arena = Arena::new(1 << 20);
        let range = arena.range();
        let mut heap = arena.heap();
        let mut blocks: Vec<(usize, usize)> = Vec::new();
        for (size, align) in [
            (1, 1),
            (3, 2),
            (8, 8),
            (24, 4),
            (100, 16),
            (32, 32),
            (5000, 8),
            (64, 4096),
            (2049, 1),
            (7, 1),
        ] {
            let p = alloc(&mut heap, layout(size, align))
                .unwrap()
                .as_ptr()
                .addr();
            assert_eq!(p % align, 0, "{size} bytes aligned to {align}");
            if size >= 32 {
                assert_eq!(p % 32, 0, "blocks of 32 bytes or more are leaf aligned");
            }
            assert!(range.contains(&p) && p + size <= range.end);
            for &(q, qsize) in &blocks {
                assert!(p + size <= q || q + qsize <= p, "overlap");
            }
            blocks.push((p, size));
        }
    }

    #[test]
    fn freed_small_blocks_are_reused() {
        let mut arena = Arena::new(1 << 16);
        let mut heap = arena.heap();
        let l = layout(40, 8);
        let a = alloc(&mut heap, l).unwrap();
        let b = alloc(&mut heap, l).unwrap();
        free(&mut heap, a, l);
        assert_eq!(alloc(&mut heap, l), Some(a), "LIFO reuse");
        free(&mut heap, b, l);
        // Same class (33..=64 bytes), same block.
        assert_eq!(alloc(&mut heap, layout(64, 1)), Some(b));
    }

    #[test]
    fn freed_large_blocks_merge_and_return_to_the_top() {
        let mut arena = Arena::new(1 << 20);
        let mut heap = arena.heap();
        let fresh = heap.untouched();
        let l = layout(10_000, 8);
        let a = alloc(&mut heap, l).unwrap();
        let b = alloc(&mut heap, l).unwrap();
        let c = alloc(&mut heap, l).unwrap();
        free(&mut heap, a, l);
        free(&mut heap, b, l);
        // a and b merged: a block of twice the size fits where they were.
        let big = layout(20_000, 8);
        assert_eq!(alloc(&mut heap, big), Some(a));
        free(&mut heap, a, big);
        free(&mut heap, c, l);
        assert_eq!(
            heap.untouched(),
            fresh,
            "everything merged back into the top"
        );
    }

    #[test]
    fn realloc_grows_in_place_at_the_top_and_keeps_contents() {
        let mut arena = Arena::new(1 << 20);
        let mut heap = arena.heap();
        let l = layout(4096, 4);
        let p = alloc(&mut heap, l).unwrap();
        // SAFETY: `p` holds 4096 bytes.
        unsafe { p.as_ptr().write_bytes(0xab, 4096) };
        // SAFETY: `p` came from `heap` with `l`.
        let q = unsafe { heap.realloc(p, l, 100_000) }.unwrap();
        assert_eq!(p, q, "in place at the top");
        // A small block in the way forces the next growth to move.
        let s = alloc(&mut heap, layout(16, 8)).unwrap();
        // SAFETY: as above, with the new size.
        let r = unsafe { heap.realloc(q, layout(100_000, 4), 200_000) }.unwrap();
        assert_ne!(r, q);
        // SAFETY: `r` holds at least 4096 bytes, copied from `p`.
        assert!(
            unsafe { core::slice::from_raw_parts(r.as_ptr(), 4096) }
                .iter()
                .all(|&x| x == 0xab)
        );
        // Shrinking stays in place; small to small within a class too.
        // SAFETY: as above.
        assert_eq!(
            unsafe { heap.realloc(r, layout(200_000, 4), 3000) },
            Some(r)
        );
        // SAFETY: as above.
        assert_eq!(unsafe { heap.realloc(s, layout(16, 8), 12) }, Some(s));
    }

    #[test]
    fn exhaustion_is_reported_not_corrupting() {
        let mut arena = Arena::new(64 * 1024);
        let mut heap = arena.heap();
        assert_eq!(alloc(&mut heap, layout(1 << 20, 8)), None);
        let l = layout(1000, 8);
        let mut held = Vec::new();
        while let Some(p) = alloc(&mut heap, l) {
            held.push(p);
        }
        assert!(
            held.len() >= 60,
            "64 KiB holds 64 blocks of 1 KiB, got {}",
            held.len()
        );
        // Small classes fall back on free large blocks once the top is used up.
        let mut arena2 = Arena::new(32 * 1024);
        let mut h = arena2.heap();
        let big = layout(20_000, 8);
        let b = alloc(&mut h, big).unwrap();
        let rest = layout(h.untouched(), 8);
        let filler = alloc(&mut h, rest).unwrap();
        assert_eq!((h.untouched(), alloc(&mut h, layout(8, 8))), (0, None));
        free(&mut h, b, big);
        let from_b = alloc(&mut h, layout(100, 8)).unwrap().as_ptr().addr();
        let b_addr = b.as_ptr().addr();
        assert!((b_addr..b_addr + 20_000).contains(&from_b));
        assert!(alloc(&mut h, layout(8, 8)).is_some());
        free(&mut h, filler, rest);
        for p in held {
            free(&mut heap, p, l);
        }
        assert!(alloc(&mut heap, l).is_some());
        assert_eq!(alloc(&mut Heap::empty(), layout(1, 1)), None);
    }

    /// Random allocations, frees and reallocs against a model that checks every live block
    /// keeps its contents and never overlaps another.
    #[test]
    fn random_workload_keeps_blocks_intact() {
        let mut arena = Arena::new(4 << 20);
        let range = arena.range();
        let mut heap = arena.heap();
        let fresh = heap.untouched();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |bound: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % bound as u64) as usize
        };
        let mut live: Vec<(NonNull<u8>, Layout, u8)> = Vec::new();
        for round in 0..20_000 {
            let action = next(10);
            if action < 5 || live.is_empty() {
                let size = match next(4) {
                    0 => 1 + next(16),
                    1 => 1 + next(300),
                    2 => 1 + next(3000),
                    _ => 1 + next(40_000),
                };
                let l = layout(size, 1 << next(7));
                let Some(p) = alloc(&mut heap, l) else {
                    continue;
                };
                let tag = round as u8;
                // SAFETY: a fresh block of `size` bytes.
                unsafe { p.as_ptr().write_bytes(tag, size) };
                live.push((p, l, tag));
            } else if action < 8 {
                let (p, l, tag) = live.swap_remove(next(live.len()));
                // SAFETY: a live block of `l`.
                let data = unsafe { core::slice::from_raw_parts(p.as_ptr(), l.size()) };
                assert!(data.iter().all(|&x| x == tag), "block corrupted");
                free(&mut heap, p, l);
            } else {
                let i = next(live.len());
                let (p, l, tag) = live[i];
                let new_size = 1 + next(2 * l.size() + 64);
                // SAFETY: a live block of `l`.
                if let Some(q) = unsafe { heap.realloc(p, l, new_size) } {
                    let keep = l.size().min(new_size);
                    // SAFETY: the first `keep` bytes were copied; the block has `new_size`.
                    unsafe {
                        assert!(
                            core::slice::from_raw_parts(q.as_ptr(), keep)
                                .iter()
                                .all(|&x| x == tag)
                        );
                        q.as_ptr().write_bytes(tag, new_size);
                    }
                    live[i] = (q, layout(new_size, l.align()), tag);
                }
            }
            if round % 1000 == 0 {
                let mut spans: Vec<(usize, usize)> = live
                    .iter()
                    .map(|(p, l, _)| (p.as_ptr().addr(), l.size()))
                    .collect();
                spans.sort();
                for pair in spans.windows(2) {
                    assert!(pair[0].0 + pair[0].1 <= pair[1].0, "overlap");
                }
                let mut used = 0;
                for (p, l, _) in &live {
                    assert_eq!(p.as_ptr().addr() % l.align(), 0);
                    assert!(range.contains(&p.as_ptr().addr()));
                    used += match class_of(*l) {
                        Some(class) => MIN_CLASS << class,
                        None => large_size(l.size()).unwrap(),
                    };
                }
                assert_eq!(
                    free_memory(&heap).0 + used,
                    fresh,
                    "bytes lost or double counted"
                );
            }
        }
        for (p, l, _) in live {
            free(&mut heap, p, l);
        }
        // Freed memory is usable again in large pieces.
        // Nothing was lost: every byte is untouched, free or in a slab's unused part, and the
        // free large blocks are fully merged.
        let (free, largest) = free_memory(&heap);
        assert_eq!(free, fresh);
        assert!(largest >= 64 * 1024, "largest free block {largest}");
    }
}
