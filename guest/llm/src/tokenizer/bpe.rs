//! Byte-pair merging of one pre-token piece: lowest rank first, ties leftmost, with a binary
//! heap of candidate pairs (stale candidates are skipped when popped), O(n log n).

use super::Tables;
use alloc::collections::BinaryHeap;
use alloc::vec::Vec;
use core::cmp::Reverse;

const NONE: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Symbol {
    id: u32,
    prev: u32,
    next: u32,
}

/// A candidate merge: `(rank, left position, left id, right id, merged id)`; ordered by rank,
/// then position (the key is unique among valid candidates).
type Candidate = Reverse<(u32, u32, u32, u32, u32)>;

/// Working memory of the encoder, reusable across calls.
#[derive(Default, Debug)]
pub struct Scratch {
    symbols: Vec<Symbol>,
    heap: BinaryHeap<Candidate>,
}

impl Scratch {
    fn push_pair(&mut self, tables: &Tables<'_>, left: u32) {
        let right = self.symbols[left as usize].next;
        if right == NONE {
            return;
        }
        let (l, r) = (
            self.symbols[left as usize].id,
            self.symbols[right as usize].id,
        );
        if let Some(m) = tables.merge(l, r) {
            self.heap.push(Reverse((m.rank, left, l, r, m.merged)));
        }
    }
}

/// Appends the ids of `piece` (non-empty) to `out`.
pub(crate) fn merge_piece(tables: &Tables<'_>, piece: &[u8], out: &mut Vec<u32>, s: &mut Scratch) {
    if let [b] = piece {
        let id = tables.byte_ids[*b as usize];
        if id != NONE {
            out.push(id);
        }
        return;
    }
    s.symbols.clear();
    s.heap.clear();
    // Bytes without a token are dropped (Hugging Face's BPE without an unknown token).
    s.symbols.extend(
        piece
            .iter()
            .map(|&b| tables.byte_ids[b as usize])
            .filter(|&id| id != NONE)
            .map(|id| Symbol {
                id,
                prev: NONE,
                next: NONE,
            }),
    );
    let n = s.symbols.len() as u32;
    if n == 0 {
        return;
    }
    for (i, sym) in (0..n).zip(s.symbols.iter_mut()) {
        sym.prev = if i == 0 { NONE } else { i - 1 };
        sym.next = if i + 1 == n { NONE } else { i + 1 };
    }
    for i in 0..n - 1 {
        s.push_pair(tables, i);
    }
    while let Some(Reverse((_, pos, l, r, merged))) = s.heap.pop() {
        let left = s.symbols[pos as usize];
        // Stale: the left symbol was absorbed (id NONE) or either side has grown since.
        if left.id != l || left.next == NONE || s.symbols[left.next as usize].id != r {
            continue;
        }
        let right = s.symbols[left.next as usize];
        s.symbols[left.next as usize].id = NONE;
        s.symbols[pos as usize] = Symbol {
            id: merged,
            prev: left.prev,
            next: right.next,
        };
        if right.next != NONE {
            s.symbols[right.next as usize].prev = pos;
        }
        if left.prev != NONE {
            s.push_pair(tables, left.prev);
        }
        s.push_pair(tables, pos);
    }
    let mut i = 0;
    while i != NONE {
        out.push(s.symbols[i as usize].id);
        i = s.symbols[i as usize].next;
    }
}
