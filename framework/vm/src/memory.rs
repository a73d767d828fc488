//! Sparse, copy-on-write 4 GiB memory with a lazily maintained SHA-256 Merkle tree.
//!
//! Memory is cut into 4 KiB pages held behind [`Arc`]s, so cloning a [`Memory`] is a cheap
//! snapshot: pages are shared until one side writes them. Pages that were never written are
//! absent and read as zero.
//!
//! The page table has two levels: 1024 directories of 1024 pages each. The Merkle tree
//! (`opml_state::merkle`, 27 levels above 32-byte leaves) is split along the same lines:
//!
//! ```text
//! height 27 .. 17   top tree over the 1024 directory roots     (Memory::top)
//! height 17 ..  7   directory tree over its 1024 page roots    (Dir::nodes)
//! height  7 ..  0   page tree over its 128 leaves              (recomputed from the page)
//! ```
//!
//! Both cached trees are heap-indexed arrays (node 1 is the subtree root, nodes `1024..2048`
//! its bottom row). Writing a page only marks it dirty; [`Memory::root`] rehashes the dirty
//! pages and the paths above them, so a state hash costs time proportional to the pages written
//! since the previous one.

use std::sync::Arc;

use opml_state::merkle::{self, MerkleProof, ZERO_HASHES};
use opml_state::{Hash, hash_pair};

/// log2 of the page size.
pub(crate) const PAGE_SHIFT: u32 = 12;
/// Bytes per page.
pub(crate) const PAGE_SIZE: usize = 1 << PAGE_SHIFT;
/// Pages per directory, and directories per memory.
const FANOUT: usize = 1024;
/// log2 of [`FANOUT`].
const FANOUT_LOG2: usize = 10;
/// Bytes per Merkle leaf.
const LEAF: usize = opml_platform::memory::LEAF_SIZE as usize;
/// Leaves per page.
const PAGE_LEAVES: usize = PAGE_SIZE / LEAF;
/// Height of a page root above the leaves.
const PAGE_HEIGHT: usize = 7;
/// Height of a directory root above the leaves.
const DIR_HEIGHT: usize = PAGE_HEIGHT + FANOUT_LOG2;

const _: () = assert!(PAGE_LEAVES == 1 << PAGE_HEIGHT);
const _: () = assert!(DIR_HEIGHT + FANOUT_LOG2 == merkle::DEPTH);

/// The contents of one page.
pub(crate) type Page = [u8; PAGE_SIZE];

/// What an absent page reads as.
pub(crate) static ZERO_PAGE: Page = [0; PAGE_SIZE];

/// A cached binary tree over [`FANOUT`] subtree roots of height `base`, heap-indexed.
#[derive(Clone)]
struct NodeTree {
    nodes: Box<[Hash; 2 * FANOUT]>,
}

impl NodeTree {
    /// The tree over `FANOUT` zero subtrees of height `base`.
    fn zero(base: usize) -> NodeTree {
        let mut nodes = Box::new([[0u8; 32]; 2 * FANOUT]);
        for (i, node) in nodes.iter_mut().enumerate().skip(1) {
            // Node i sits `ilog2(i)` levels below the root, i.e. at height base + 10 - depth.
            let depth = i.ilog2() as usize;
            *node = ZERO_HASHES[base + FANOUT_LOG2 - depth];
        }
        NodeTree { nodes }
    }

    fn root(&self) -> Hash {
        self.nodes[1]
    }

    /// Rehashes every node above the `changed` nodes (indices on one level, ascending), which
    /// the caller has already set.
    fn update(&mut self, changed: &mut Vec<usize>) {
        while changed.first().is_some_and(|&i| i > 1) {
            let mut last = 0;
            let mut w = 0;
            for r in 0..changed.len() {
                let parent = changed[r] / 2;
                if parent != last {
                    self.nodes[parent] =
                        hash_pair(&self.nodes[2 * parent], &self.nodes[2 * parent + 1]);
                    changed[w] = parent;
                    w += 1;
                    last = parent;
                }
            }
            changed.truncate(w);
        }
    }

    /// Sibling hashes of bottom-row slot `slot`, bottom up.
    fn siblings(&self, slot: usize, out: &mut [Hash]) {
        let mut i = FANOUT + slot;
        for sibling in out.iter_mut() {
            *sibling = self.nodes[i ^ 1];
            i /= 2;
        }
    }
}

/// 1024 pages and the Merkle tree over their roots.
#[derive(Clone)]
struct Dir {
    pages: Box<[Option<Arc<Page>>; FANOUT]>,
    tree: NodeTree,
    /// Pages written since their root was last computed, one bit each.
    dirty: [u64; FANOUT / 64],
}

impl Dir {
    fn new() -> Dir {
        Dir {
            pages: Box::new([const { None }; FANOUT]),
            tree: NodeTree::zero(PAGE_HEIGHT),
            dirty: [0; FANOUT / 64],
        }
    }
}

/// The sparse memory. See the [module documentation](self).
#[derive(Clone)]
pub(crate) struct Memory {
    dirs: Box<[Option<Arc<Dir>>; FANOUT]>,
    top: NodeTree,
    /// Directories holding dirty pages, one bit each.
    dirty: [u64; FANOUT / 64],
    /// Bytes of pages and directories copied because a clone shared them ([`copied`]).
    ///
    /// [`copied`]: Memory::copied
    copied: u64,
}

/// Bytes a copied directory takes: its page table and its cached tree.
const DIR_BYTES: u64 = (size_of::<Dir>()
    + size_of::<[Option<Arc<Page>>; FANOUT]>()
    + size_of::<[Hash; 2 * FANOUT]>()) as u64;

/// Iterates the indices of the set bits of `bits`, ascending.
fn set_bits(bits: &[u64]) -> impl Iterator<Item = usize> + '_ {
    bits.iter().enumerate().flat_map(|(w, &word)| {
        let mut word = word;
        std::iter::from_fn(move || {
            (word != 0).then(|| {
                let bit = word.trailing_zeros() as usize;
                word &= word - 1;
                64 * w + bit
            })
        })
    })
}

/// Hashes a page's leaves into `levels`: `levels[h]` gets the `128 >> h` nodes of height `h`
/// (for `h` in `1..=7`), zero subtrees short-cut to [`ZERO_HASHES`].
fn page_levels(page: &Page) -> [Vec<Hash>; PAGE_HEIGHT + 1] {
    let mut levels: [Vec<Hash>; PAGE_HEIGHT + 1] = Default::default();
    levels[0] = page
        .chunks_exact(LEAF)
        .map(|leaf| leaf.try_into().expect("32-byte leaf"))
        .collect();
    for h in 0..PAGE_HEIGHT {
        let zero = &ZERO_HASHES[h];
        levels[h + 1] = levels[h]
            .chunks_exact(2)
            .map(|pair| {
                if &pair[0] == zero && &pair[1] == zero {
                    ZERO_HASHES[h + 1]
                } else {
                    hash_pair(&pair[0], &pair[1])
                }
            })
            .collect();
    }
    levels
}

/// The Merkle root of one page.
fn page_root(page: &Page) -> Hash {
    page_levels(page)[PAGE_HEIGHT][0]
}

impl Memory {
    /// All-zero memory.
    pub(crate) fn new() -> Memory {
        Memory {
            dirs: Box::new([const { None }; FANOUT]),
            top: NodeTree::zero(DIR_HEIGHT),
            dirty: [0; FANOUT / 64],
            copied: 0,
        }
    }

    /// Bytes of pages and directories this memory and the memories it was cloned from have
    /// copied on write because a clone shared them. Between two clones, the growth of this
    /// count is what the older clone alone holds.
    pub(crate) fn copied(&self) -> u64 {
        self.copied
    }

    /// The page with number `pn` (`addr >> 12`), or the zero page if it was never written.
    #[inline]
    pub(crate) fn page(&self, pn: u32) -> &Page {
        let pn = pn as usize;
        match &self.dirs[(pn >> FANOUT_LOG2) & (FANOUT - 1)] {
            Some(dir) => match &dir.pages[pn & (FANOUT - 1)] {
                Some(page) => page,
                None => &ZERO_PAGE,
            },
            None => &ZERO_PAGE,
        }
    }

    /// The page with number `pn` for writing: allocated or unshared as needed, marked dirty.
    pub(crate) fn page_mut(&mut self, pn: u32) -> &mut Page {
        let pn = pn as usize;
        let d = (pn >> FANOUT_LOG2) & (FANOUT - 1);
        let p = pn & (FANOUT - 1);
        self.dirty[d / 64] |= 1 << (d % 64);
        let dir = self.dirs[d].get_or_insert_with(|| Arc::new(Dir::new()));
        if Arc::get_mut(dir).is_none() {
            self.copied += DIR_BYTES;
        }
        let dir = Arc::make_mut(dir);
        dir.dirty[p / 64] |= 1 << (p % 64);
        let page = dir.pages[p].get_or_insert_with(|| Arc::new(ZERO_PAGE));
        if Arc::get_mut(page).is_none() {
            self.copied += PAGE_SIZE as u64;
        }
        Arc::make_mut(page)
    }

    /// The `len` bytes from `addr` on, which must not cross a page.
    pub(crate) fn in_page(&self, addr: u32, len: u32) -> &[u8] {
        let off = addr as usize & (PAGE_SIZE - 1);
        &self.page(addr >> PAGE_SHIFT)[off..off + len as usize]
    }

    /// The `len` bytes from `addr` on for writing (see [`page_mut`](Self::page_mut)); they must
    /// not cross a page.
    pub(crate) fn in_page_mut(&mut self, addr: u32, len: u32) -> &mut [u8] {
        let off = addr as usize & (PAGE_SIZE - 1);
        &mut self.page_mut(addr >> PAGE_SHIFT)[off..off + len as usize]
    }

    /// Loads `width` (1, 2 or 4) bytes at `addr`, little-endian; the access must not cross a
    /// page.
    #[inline]
    pub(crate) fn load(&self, addr: u32, width: usize) -> u32 {
        let mut bytes = [0u8; 4];
        bytes[..width].copy_from_slice(self.in_page(addr, width as u32));
        u32::from_le_bytes(bytes)
    }

    /// Stores the low `width` (1, 2 or 4) bytes of `value` at `addr`; the access must not cross
    /// a page.
    pub(crate) fn store(&mut self, addr: u32, width: usize, value: u32) {
        self.in_page_mut(addr, width as u32)
            .copy_from_slice(&value.to_le_bytes()[..width]);
    }

    /// Copies `len` bytes from `addr` on, wrapping around the end of the address space.
    pub(crate) fn read_bytes(&self, addr: u32, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        let mut addr = addr;
        while out.len() < len {
            let off = addr as usize & (PAGE_SIZE - 1);
            let n = (PAGE_SIZE - off).min(len - out.len());
            out.extend_from_slice(&self.page(addr >> PAGE_SHIFT)[off..off + n]);
            addr = addr.wrapping_add(n as u32);
        }
        out
    }

    /// Writes `data` from `addr` on, wrapping around the end of the address space. Zero bytes
    /// written to absent pages allocate nothing.
    pub(crate) fn write_bytes(&mut self, addr: u32, data: &[u8]) {
        let mut addr = addr;
        let mut data = data;
        while !data.is_empty() {
            let off = addr as usize & (PAGE_SIZE - 1);
            let n = (PAGE_SIZE - off).min(data.len());
            let (head, rest) = data.split_at(n);
            let pn = addr >> PAGE_SHIFT;
            if head.iter().any(|&b| b != 0) || !std::ptr::eq(self.page(pn), &ZERO_PAGE) {
                self.page_mut(pn)[off..off + n].copy_from_slice(head);
            }
            addr = addr.wrapping_add(n as u32);
            data = rest;
        }
    }

    /// Brings the cached trees up to date with every page written since the last call.
    fn rehash(&mut self) {
        let mut dirs = Vec::new();
        let mut changed = Vec::new();
        for d in set_bits(&self.dirty) {
            let Some(dir) = self.dirs[d].as_mut() else {
                continue;
            };
            let dir = Arc::make_mut(dir);
            changed.clear();
            for p in set_bits(&dir.dirty) {
                dir.tree.nodes[FANOUT + p] = match &dir.pages[p] {
                    Some(page) => page_root(page),
                    None => ZERO_HASHES[PAGE_HEIGHT],
                };
                changed.push(FANOUT + p);
            }
            dir.dirty = [0; FANOUT / 64];
            dir.tree.update(&mut changed);
            self.top.nodes[FANOUT + d] = dir.tree.root();
            dirs.push(FANOUT + d);
        }
        self.dirty = [0; FANOUT / 64];
        self.top.update(&mut dirs);
    }

    /// The Merkle root of memory.
    pub(crate) fn root(&mut self) -> Hash {
        self.rehash();
        self.top.root()
    }

    /// The Merkle proof of the leaf holding `addr`, against [`root`](Self::root).
    pub(crate) fn proof(&mut self, addr: u32) -> MerkleProof {
        self.rehash();
        let pn = (addr >> PAGE_SHIFT) as usize;
        let d = pn >> FANOUT_LOG2;
        let p = pn & (FANOUT - 1);
        let leaf = (addr as usize & (PAGE_SIZE - 1)) / LEAF;
        let levels = page_levels(self.page(addr >> PAGE_SHIFT));
        let mut siblings = [[0u8; 32]; merkle::DEPTH];
        for (h, sibling) in siblings[..PAGE_HEIGHT].iter_mut().enumerate() {
            *sibling = levels[h][(leaf >> h) ^ 1];
        }
        match &self.dirs[d] {
            Some(dir) => dir.tree.siblings(p, &mut siblings[PAGE_HEIGHT..DIR_HEIGHT]),
            None => {
                for (h, sibling) in siblings[PAGE_HEIGHT..DIR_HEIGHT].iter_mut().enumerate() {
                    *sibling = ZERO_HASHES[PAGE_HEIGHT + h];
                }
            }
        }
        self.top.siblings(d, &mut siblings[DIR_HEIGHT..]);
        MerkleProof {
            leaf: levels[0][leaf],
            siblings,
        }
    }

    /// The Merkle root recomputed from scratch over every present page, ignoring all caches.
    /// Slow; for tests of the incremental hashing.
    #[cfg(test)]
    pub(crate) fn root_from_scratch(&self) -> Hash {
        let mut pages: Vec<(usize, Hash)> = Vec::new();
        for (d, dir) in self.dirs.iter().enumerate() {
            if let Some(dir) = dir {
                for (p, page) in dir.pages.iter().enumerate() {
                    if let Some(page) = page {
                        pages.push((d * FANOUT + p, page_root(page)));
                    }
                }
            }
        }
        // Fold level by level from the page roots (height 7) to the root (height 27).
        let mut level = pages;
        for zero in &ZERO_HASHES[PAGE_HEIGHT..merkle::DEPTH] {
            let mut next: Vec<(usize, Hash)> = Vec::new();
            for &(i, node) in &level {
                let parent = i / 2;
                if next.last().is_some_and(|&(j, _)| j == parent) {
                    continue;
                }
                let sibling = |k: usize| {
                    level
                        .iter()
                        .find(|&&(j, _)| j == k)
                        .map_or(*zero, |&(_, n)| n)
                };
                let (l, r) = if i % 2 == 0 {
                    (node, sibling(i + 1))
                } else {
                    (sibling(i - 1), node)
                };
                next.push((parent, hash_pair(&l, &r)));
            }
            level = next;
        }
        level.first().map_or(merkle::EMPTY_ROOT, |&(_, root)| root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_memory_has_the_empty_root() {
        let mut mem = Memory::new();
        assert_eq!(mem.root(), merkle::EMPTY_ROOT);
        assert_eq!(mem.root_from_scratch(), merkle::EMPTY_ROOT);
        let proof = mem.proof(0x1234_5678);
        assert_eq!(
            proof.root(merkle::leaf_index(0x1234_5678)),
            merkle::EMPTY_ROOT
        );
    }

    #[test]
    fn incremental_root_matches_scratch_and_proofs_verify() {
        let mut mem = Memory::new();
        let addrs = [
            0u32,
            0x1_0000,
            0x1_0fe0,
            0x3fff_fffc,
            0x4000_0000,
            0xffff_fffc,
            0x0040_0000,
            0x8000_1004,
        ];
        for (k, &a) in addrs.iter().enumerate() {
            mem.store(a, 4, 0xdead_0000 + k as u32);
            assert_eq!(mem.root(), mem.root_from_scratch(), "after store {k}");
            for &b in &addrs {
                let proof = mem.proof(b);
                assert_eq!(proof.root(merkle::leaf_index(b)), mem.root());
                assert_eq!(proof.leaf[(b % 32) as usize], mem.load(b, 1) as u8);
            }
        }
        // A snapshot keeps its root while the original moves on.
        let mut snap = mem.clone();
        let before = snap.root();
        mem.store(0x1_0000, 1, 7);
        mem.store(0x7000_0000, 2, 7);
        assert_ne!(mem.root(), before);
        assert_eq!(snap.root(), before);
        assert_eq!(snap.load(0x1_0000, 4), 0xdead_0001);
        assert_eq!(mem.root(), mem.root_from_scratch());
        // Writing zeros back gives the empty root again.
        for &a in &addrs {
            mem.store(a, 4, 0);
        }
        mem.store(0x1_0000, 1, 0);
        mem.store(0x7000_0000, 2, 0);
        assert_eq!(mem.root(), merkle::EMPTY_ROOT);
    }

    #[test]
    fn byte_copies_wrap_and_skip_zero_pages() {
        let mut mem = Memory::new();
        mem.write_bytes(0xffff_fffe, &[1, 2, 3, 4]);
        assert_eq!(mem.read_bytes(0xffff_fffe, 4), vec![1, 2, 3, 4]);
        assert_eq!(mem.load(0, 2), 0x0403);
        let mut empty = Memory::new();
        empty.write_bytes(0x2000, &[0; 10000]);
        assert!(empty.dirs.iter().all(Option::is_none));
    }
}
