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
    /// Short pieces: the ids, and the merge of each adjacent pair (`(NONE, _)` for none).
    ids: Vec<u32>,
    pairs: Vec<(u32, u32)>,
}

/// Pieces up to this many tokens are merged by scanning for the lowest rank (fewer steps than
/// the heap for short pieces, the same result).
const SHORT: usize = 24;

/// The merge of `(l, r)` as `(rank, merged)`, `(NONE, NONE)` for none.
fn pair(tables: &Tables<'_>, l: u32, r: u32) -> (u32, u32) {
    tables
        .merge(l, r)
        .map_or((NONE, NONE), |m| (m.rank, m.merged))
}

/// Merges a short piece (its ids in `s.ids`) by repeated scans, appending the ids to `out`.
fn merge_short(tables: &Tables<'_>, out: &mut Vec<u32>, s: &mut Scratch) {
    let ids = &mut s.ids;
    let pairs = &mut s.pairs;
    pairs.clear();
    pairs.extend(ids.windows(2).map(|w| pair(tables, w[0], w[1])));
    // The lowest rank, leftmost on ties.
    while let Some((k, &(_, merged))) = pairs
        .iter()
        .enumerate()
        .min_by_key(|&(k, &(rank, _))| (rank, k))
        .filter(|&(_, &(rank, _))| rank != NONE)
    {
        ids[k] = merged;
        ids.remove(k + 1);
        pairs.remove(k);
        if k > 0 {
            pairs[k - 1] = pair(tables, ids[k - 1], ids[k]);
        }
        if k < pairs.len() {
            pairs[k] = pair(tables, ids[k], ids[k + 1]);
        }
    }
    out.extend_from_slice(ids);
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
    // Bytes without a token are dropped (Hugging Face's BPE without an unknown token).
    s.ids.clear();
    s.ids.extend(
        piece
            .iter()
            .map(|&b| tables.byte_ids[b as usize])
            .filter(|&id| id != NONE),
    );
    match s.ids.len() {
        0 => {}
        1 => out.push(s.ids[0]),
        n if n <= SHORT => merge_short(tables, out, s),
        _ => merge_heap(tables, out, s),
    }
}

/// Merges a piece (its ids in `s.ids`, at least one) with the heap, appending the ids to `out`.
fn merge_heap(tables: &Tables<'_>, out: &mut Vec<u32>, s: &mut Scratch) {
    s.symbols.clear();
    s.heap.clear();
    let n = s.ids.len() as u32;
    s.symbols.extend((0..n).zip(&s.ids).map(|(i, &id)| Symbol {
        id,
        prev: if i == 0 { NONE } else { i - 1 },
        next: if i + 1 == n { NONE } else { i + 1 },
    }));
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

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec;
    use proptest::prelude::*;

    /// Bytes a b c and a space, with merges whose results overlap and tie.
    fn blob() -> Vec<u8> {
        let mut tokens: Vec<String> = (0..=255u8)
            .map(|b| String::from(crate::tokenizer::bytelevel::byte_to_char(b)))
            .collect();
        let extra = [
            "ab", "bc", "ca", "aa", "abc", "aab", "bca", "aaaa", "Ġa", "Ġab", "cab", "abab",
        ];
        tokens.extend(extra.map(String::from));
        let types = vec![1; tokens.len()];
        let merges = [
            "a a", "b c", "a b", "c a", "ab c", "a ab", "b ca", "aa aa", "Ġ a", "Ġa b", "c ab",
            "ab ab",
        ];
        let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
        Tables::build(&tokens, &types, &merges).unwrap()
    }

    proptest! {
        /// The scan and the heap merge alike.
        #[test]
        fn short_and_heap_agree(text in "[abc ]{2,40}") {
            let blob = blob();
            let t = Tables::parse(&blob).unwrap();
            let mut s = Scratch::default();
            let ids: Vec<u32> = text.bytes().map(|b| t.byte_ids[b as usize]).collect();
            let (mut short, mut heap) = (Vec::new(), Vec::new());
            s.ids.clone_from(&ids);
            merge_short(&t, &mut short, &mut s);
            s.ids.clone_from(&ids);
            merge_heap(&t, &mut heap, &mut s);
            prop_assert_eq!(short, heap);
        }
    }
}
