//! The model root: a content address of a model that commits to its graph and to every tensor
//! separately (`docs/dnn.md`, "Model root").
//!
//! Every inner node of the commitment is `sha256(left ‖ right)` of two 32-byte values, and every
//! leaf is a 32-byte word (a data chunk, zero-padded, or a metadata word), so a reader holding
//! only the root can walk down to any tensor's data chunk or any node entry through a data
//! oracle that returns 64-byte preimages, and anyone can prove one tensor or one node entry
//! against the root with O(log n) hashes.
//!
//! ```text
//! model_root   = H(header ‖ body)
//! body         = H(graph ‖ tensors_root)
//! graph        = H(nodes_root ‖ io)
//! io           = H(data_root(graph inputs, u32 LE) ‖ data_root(graph outputs, u32 LE))
//! tensors_root = tree(tensor commitments)        tensor commitment = H(meta ‖ data_root)
//! nodes_root   = tree(node commitments)          node commitment   = H(entry[0..32] ‖ entry[32..56] ‖ 0^8)
//! ```
//!
//! `tree(leaves)` is the complete binary tree over the leaves padded with zero subtrees to the
//! next power of two (depth 0 for one leaf: the root is the leaf; an empty tree is the zero
//! word). [`data_root`] is the tree over a byte string's 32-byte chunks.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::format::NODE_ENTRY_LEN;
use crate::model::{Model, TensorKind};
use crate::tensor::{DType, Quant, Shape, TensorInfo};
use crate::{Hash, sha256};

/// The first 8 bytes of a model root's header word.
pub const ROOT_TAG: [u8; 8] = *b"opmlroot";
/// The version of the commitment layout, in the header word.
pub const ROOT_VERSION: u32 = 1;
/// The size of a leaf: a data chunk or a metadata word.
pub const CHUNK: usize = 32;
/// The deepest tree a [`Merkleizer`] builds: enough for `2^64 − 1` leaves.
const MAX_DEPTH: usize = 64;

/// An inner node: `sha256(left ‖ right)`.
pub fn node(left: &Hash, right: &Hash) -> Hash {
    sha256(&[left, right])
}

/// The depth of the tree over `leaves` leaves: the least `d` with `2^d ≥ leaves` (0 for 0 or
/// 1 leaf).
pub fn depth(leaves: u64) -> usize {
    match leaves {
        0 | 1 => 0,
        n => (u64::BITS - (n - 1).leading_zeros()) as usize,
    }
}

/// Computes the root of a tree leaf by leaf, keeping one hash per level: the leaves need not be
/// held in memory, and each is read once.
#[derive(Clone, Debug)]
pub struct Merkleizer {
    /// `pending[l]`: the root of the complete subtree of `2^l` leaves not yet combined, valid
    /// where bit `l` of `count` is set.
    pending: [Hash; MAX_DEPTH],
    count: u64,
}

impl Default for Merkleizer {
    fn default() -> Merkleizer {
        Merkleizer {
            pending: [[0; 32]; MAX_DEPTH],
            count: 0,
        }
    }
}

impl Merkleizer {
    /// A tree with no leaves yet.
    pub fn new() -> Merkleizer {
        Merkleizer::default()
    }

    /// Appends a leaf (at most `2^64 − 1` of them: far beyond any byte string in memory).
    pub fn push(&mut self, leaf: &Hash) {
        let mut carry = *leaf;
        let mut level = 0;
        while self.count >> level & 1 == 1 {
            carry = node(&self.pending[level], &carry);
            level += 1;
        }
        self.pending[level] = carry;
        self.count += 1;
    }

    /// The number of leaves pushed.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The root of the tree of depth [`depth`]`(count)` over the leaves, zero-padded.
    pub fn root(&self) -> Hash {
        let depth = depth(self.count);
        if 1u64.checked_shl(depth as u32) == Some(self.count) {
            // A full tree: its root is the one pending subtree.
            return self.pending[depth];
        }
        // Fold the incomplete right edge upward: at each level, the pending complete subtree
        // (if any) is the left child of what is accumulated to its right.
        let mut zero_level = [0; 32];
        let mut right: Option<Hash> = None;
        for level in 0..depth {
            right = if self.count >> level & 1 == 1 {
                Some(node(&self.pending[level], &right.unwrap_or(zero_level)))
            } else {
                right.map(|r| node(&r, &zero_level))
            };
            zero_level = node(&zero_level, &zero_level);
        }
        right.unwrap_or(zero_level)
    }
}

/// The root of the tree over `leaves` (see [`Merkleizer`]).
pub fn tree_root(leaves: &[Hash]) -> Hash {
    let mut tree = Merkleizer::new();
    leaves.iter().for_each(|leaf| tree.push(leaf));
    tree.root()
}

/// The siblings, bottom-up, of leaf `index` in the tree over `leaves`; `None` if `index` is out
/// of range.
pub fn tree_proof(leaves: &[Hash], index: usize) -> Option<Vec<Hash>> {
    MerkleTree::new(leaves).proof(index)
}

/// A tree kept whole in memory: every level of the tree of [`tree_root`]'s shape over its
/// leaves (padded with zero leaves to the next power of two), so that a leaf is replaced in
/// O(depth) hashes and every inner node's children can be listed (for a data oracle's
/// preimages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerkleTree {
    /// `levels[0]`: the padded leaves; `levels[depth]`: the root alone.
    levels: Vec<Vec<Hash>>,
    /// Leaves before padding.
    len: usize,
}

impl MerkleTree {
    /// The tree over `leaves`.
    pub fn new(leaves: &[Hash]) -> MerkleTree {
        let width = 1usize << depth(leaves.len() as u64);
        let mut level = leaves.to_vec();
        level.resize(width, [0; 32]);
        let mut levels = vec![level];
        while levels[levels.len() - 1].len() > 1 {
            let below = &levels[levels.len() - 1];
            let above = below.chunks_exact(2).map(|p| node(&p[0], &p[1])).collect();
            levels.push(above);
        }
        MerkleTree {
            levels,
            len: leaves.len(),
        }
    }

    /// The root (the zero word for no leaves).
    pub fn root(&self) -> Hash {
        self.levels[self.levels.len() - 1][0]
    }

    /// Leaves before padding.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Leaf `index`, if below [`len`](Self::len).
    pub fn leaf(&self, index: usize) -> Option<&Hash> {
        self.levels[0][..self.len].get(index)
    }

    /// Replaces leaf `index` (below [`len`](Self::len)) and the nodes above it.
    pub fn set(&mut self, index: usize, leaf: Hash) {
        assert!(index < self.len, "leaf {index} of a tree of {}", self.len);
        self.levels[0][index] = leaf;
        let mut at = index;
        for level in 1..self.levels.len() {
            at /= 2;
            let below = &self.levels[level - 1];
            let parent = node(&below[2 * at], &below[2 * at + 1]);
            self.levels[level][at] = parent;
        }
    }

    /// The siblings of leaf `index`, bottom-up; `None` past [`len`](Self::len).
    pub fn proof(&self, index: usize) -> Option<Vec<Hash>> {
        (index < self.len).then(|| {
            let levels = &self.levels[..self.levels.len() - 1];
            levels
                .iter()
                .enumerate()
                .map(|(level, nodes)| nodes[(index >> level) ^ 1])
                .collect()
        })
    }

    /// Every inner node as its two children `(left, right)`, level by level from the bottom.
    pub fn inner_nodes(&self) -> impl Iterator<Item = (&Hash, &Hash)> {
        let levels = &self.levels[..self.levels.len() - 1];
        levels
            .iter()
            .flat_map(|nodes| nodes.chunks_exact(2).map(|p| (&p[0], &p[1])))
    }
}

/// The root that leaf `leaf` at `index` and its bottom-up `siblings` lead to.
fn fold(leaf: &Hash, index: u64, siblings: &[Hash]) -> Hash {
    siblings
        .iter()
        .enumerate()
        .fold(*leaf, |acc, (level, sibling)| {
            if index >> level & 1 == 0 {
                node(&acc, sibling)
            } else {
                node(sibling, &acc)
            }
        })
}

/// Hashes a byte string into its [`data_root`] as it arrives: 32-byte chunks, the last one
/// zero-padded, as the leaves of a tree. The length is not in the root (the tensor's metadata
/// word commits to it).
#[derive(Clone, Debug, Default)]
pub struct DataHasher {
    tree: Merkleizer,
    chunk: [u8; CHUNK],
    filled: usize,
    len: u64,
}

impl DataHasher {
    /// An empty byte string.
    pub fn new() -> DataHasher {
        DataHasher::default()
    }

    /// Appends `bytes`.
    pub fn update(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len() as u64;
        while !bytes.is_empty() {
            let take = (CHUNK - self.filled).min(bytes.len());
            self.chunk[self.filled..self.filled + take].copy_from_slice(&bytes[..take]);
            self.filled += take;
            bytes = &bytes[take..];
            if self.filled == CHUNK {
                self.tree.push(&self.chunk);
                self.filled = 0;
            }
        }
    }

    /// The number of bytes appended.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no bytes were appended.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The root over the bytes appended.
    pub fn finish(mut self) -> Hash {
        if self.filled > 0 {
            self.chunk[self.filled..].fill(0);
            self.tree.push(&self.chunk);
        }
        self.tree.root()
    }
}

/// The root of the tree over the 32-byte chunks of `bytes` (the last zero-padded): depth
/// [`depth`]`(⌈len / 32⌉)`; a string of at most 32 bytes is its own zero-padded chunk, the
/// empty string the zero word.
pub fn data_root(bytes: &[u8]) -> Hash {
    let mut hasher = DataHasher::new();
    hasher.update(bytes);
    hasher.finish()
}

/// The 32-byte chunks of `bytes`, the last zero-padded: the leaves of its [`data_root`].
pub fn chunks(bytes: &[u8]) -> Vec<Hash> {
    let (whole, tail) = bytes.as_chunks::<CHUNK>();
    let mut leaves = whole.to_vec();
    if !tail.is_empty() {
        let mut last = [0; CHUNK];
        last[..tail.len()].copy_from_slice(tail);
        leaves.push(last);
    }
    leaves
}

/// The proof of chunk `chunk` of a tensor's data `bytes` (see [`verify_chunk`]): its siblings
/// in the data tree, bottom-up; `None` past the last chunk.
pub fn chunk_proof(bytes: &[u8], chunk: usize) -> Option<Vec<Hash>> {
    tree_proof(&chunks(bytes), chunk)
}

/// Checks that `chunk` (zero-padded if it is the last) is chunk `index` of the data of the
/// tensor whose commitment is `commitment` and whose metadata word is `meta`. `proof`: the
/// siblings in the data tree, bottom-up, as many as the depth of `⌈len / 32⌉` for the byte
/// length `meta` commits to.
pub fn verify_chunk(
    commitment: &Hash,
    meta: &Hash,
    index: u32,
    chunk: &Hash,
    proof: &[Hash],
) -> Result<(), RootError> {
    let len = TensorMeta::decode(meta)?.byte_len();
    let count = len.div_ceil(CHUNK) as u32;
    if index >= count {
        return Err(RootError::Index { index, count });
    }
    let expected = depth(u64::from(count));
    if proof.len() != expected {
        return Err(RootError::Length {
            expected,
            got: proof.len(),
        });
    }
    matches(
        node(meta, &fold(chunk, u64::from(index), proof)),
        commitment,
    )
}

/// Why a metadata word, a header word or an inclusion proof is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootError {
    /// The header word does not start with [`ROOT_TAG`] and [`ROOT_VERSION`], or its reserved
    /// word is not zero.
    Header,
    /// A tensor metadata word has an unknown dtype or kind, an invalid shape, a non-zero
    /// reserved byte, or a byte length other than its shape's.
    Meta,
    /// The index is not below the count the header commits to.
    Index {
        /// The index asked for.
        index: u32,
        /// The count in the header.
        count: u32,
    },
    /// The proof has `got` hashes where the committed counts give `expected`.
    Length {
        /// Hashes the proof must have.
        expected: usize,
        /// Hashes it has.
        got: usize,
    },
    /// The proof does not lead to the root.
    Mismatch,
}

impl fmt::Display for RootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootError::Header => f.write_str("not a model root header word"),
            RootError::Meta => f.write_str("invalid tensor metadata word"),
            RootError::Index { index, count } => {
                write!(f, "index {index} is not below the committed count {count}")
            }
            RootError::Length { expected, got } => {
                write!(
                    f,
                    "proof of {got} hashes, the committed counts need {expected}"
                )
            }
            RootError::Mismatch => f.write_str("the proof does not lead to the root"),
        }
    }
}

impl core::error::Error for RootError {}

/// The header word: the first leaf under a model root. Its counts fix the depth of every tree
/// below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RootHeader {
    /// Tensors in the tensor table.
    pub tensor_count: u32,
    /// Nodes in the node table.
    pub node_count: u32,
    /// Graph inputs.
    pub input_count: u32,
    /// Graph outputs.
    pub output_count: u32,
}

impl RootHeader {
    /// `"opmlroot" ‖ version ‖ tensor_count ‖ node_count ‖ input_count ‖ output_count ‖ 0`,
    /// each a u32 LE.
    pub fn encode(&self) -> Hash {
        let mut word = [0; 32];
        word[..8].copy_from_slice(&ROOT_TAG);
        let fields = [
            ROOT_VERSION,
            self.tensor_count,
            self.node_count,
            self.input_count,
            self.output_count,
        ];
        for (slot, value) in word[8..28].chunks_exact_mut(4).zip(fields) {
            slot.copy_from_slice(&value.to_le_bytes());
        }
        word
    }

    /// Decodes a header word; refuses another tag, version or a non-zero reserved word.
    pub fn decode(word: &Hash) -> Result<RootHeader, RootError> {
        let [
            version,
            tensor_count,
            node_count,
            input_count,
            output_count,
            reserved,
        ] = u32s(&word[8..]);
        if word[..8] != ROOT_TAG || version != ROOT_VERSION || reserved != 0 {
            return Err(RootError::Header);
        }
        Ok(RootHeader {
            tensor_count,
            node_count,
            input_count,
            output_count,
        })
    }
}

/// The six little-endian `u32`s of 24 bytes.
fn u32s(bytes: &[u8]) -> [u32; 6] {
    let mut out = [0; 6];
    for (value, word) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        *value = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
    }
    out
}

/// A tensor's metadata word: everything the tensor table says about it except where its data
/// lies in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorMeta {
    /// Dtype, shape and quantization.
    pub info: TensorInfo,
    /// Constant, graph input or node output.
    pub kind: TensorKind,
}

impl TensorMeta {
    /// `dtype u8 ‖ rank u8 ‖ kind u8 ‖ 0u8 ‖ dims 4 × u32 ‖ scale f32 bits ‖ zero_point i32 ‖
    /// byte length u32`, little-endian. A model's tensors have at most `2^31 − 1` bytes; the
    /// length of a larger shape is truncated to 32 bits, and [`decode`](Self::decode) refuses
    /// the word.
    pub fn encode(&self) -> Hash {
        let TensorInfo {
            dtype,
            shape,
            quant,
        } = self.info;
        let mut word = [0; 32];
        word[..4].copy_from_slice(&[dtype as u8, shape.rank() as u8, self.kind as u8, 0]);
        let len = self.byte_len() as u32;
        let fields =
            shape
                .padded()
                .into_iter()
                .chain([quant.scale.to_bits(), quant.zero_point as u32, len]);
        for (slot, value) in word[4..].chunks_exact_mut(4).zip(fields) {
            slot.copy_from_slice(&value.to_le_bytes());
        }
        word
    }

    /// Decodes a metadata word, checking it as the reader checks a tensor entry's shape and
    /// length (not the quantization, which an oracle reader takes as committed).
    pub fn decode(word: &Hash) -> Result<TensorMeta, RootError> {
        let [dtype, rank, kind, reserved] = [word[0], word[1], word[2], word[3]];
        let [d0, d1, d2, d3, scale, zero_point] = u32s(&word[4..28]);
        let len = u32::from_le_bytes([word[28], word[29], word[30], word[31]]);
        let dtype = DType::from_code(dtype).ok_or(RootError::Meta)?;
        let kind = TensorKind::from_code(kind).ok_or(RootError::Meta)?;
        let dims = [d0, d1, d2, d3];
        let (used, unused) = dims
            .split_at_checked(usize::from(rank))
            .ok_or(RootError::Meta)?;
        let shape = Shape::new(used).map_err(|_| RootError::Meta)?;
        let size = dtype.byte_len(&shape);
        let block_not_constant = dtype.block().is_some() && kind != TensorKind::Constant;
        if reserved != 0
            || unused.iter().any(|&d| d != 1)
            || size != Some(u64::from(len))
            || block_not_constant
        {
            return Err(RootError::Meta);
        }
        Ok(TensorMeta {
            info: TensorInfo {
                dtype,
                shape,
                quant: Quant {
                    scale: f32::from_bits(scale),
                    zero_point: zero_point as i32,
                },
            },
            kind,
        })
    }

    /// Whether its quantization is one the reader accepts ([`TensorInfo::valid_quant`]).
    pub fn valid_quant(&self) -> bool {
        self.info.valid_quant()
    }

    /// The byte length of the tensor's data.
    pub fn byte_len(&self) -> usize {
        // The reader and `decode` only accept metas whose length fits.
        self.info.dtype.byte_len(&self.info.shape).unwrap_or(0) as usize
    }
}

/// A tensor commitment: `H(meta ‖ data_root)`. For a graph input or node output of a model,
/// whose data the model does not hold, `data_root` is the zero word.
pub fn tensor_commitment(meta: &TensorMeta, data_root: &Hash) -> Hash {
    node(&meta.encode(), data_root)
}

/// A node commitment: `H(entry[0..32] ‖ entry[32..56] ‖ 0^8)`, the 56-byte node table entry
/// as one 64-byte preimage.
pub fn node_commitment(entry: &[u8; NODE_ENTRY_LEN]) -> Hash {
    let mut preimage = [0; 64];
    preimage[..NODE_ENTRY_LEN].copy_from_slice(entry);
    sha256(&[&preimage])
}

/// Everything a model root is made of, computed once: the root, every tensor and node
/// commitment, and the inclusion proofs of any of them.
#[derive(Clone, Debug)]
pub struct ModelCommitment {
    header: RootHeader,
    /// Each tensor's data root (the zero word but for constants).
    data_roots: Vec<Hash>,
    tensors: Vec<Hash>,
    nodes: Vec<Hash>,
    io: Hash,
    tensors_root: Hash,
    nodes_root: Hash,
}

impl ModelCommitment {
    /// Commits to `model`, hashing each constant's data once.
    pub fn new(model: &Model<'_>) -> ModelCommitment {
        let count = model.tensor_count() as u32;
        let data_roots: Vec<Hash> = (0..count).filter_map(|t| model.data_root(t)).collect();
        let tensors: Vec<Hash> = (0..count)
            .zip(&data_roots)
            .filter_map(|(t, data)| Some(tensor_commitment(&model.meta(t)?, data)))
            .collect();
        let nodes: Vec<Hash> = model
            .nodes()
            .iter()
            .map(|n| node_commitment(&n.entry()))
            .collect();
        let list = |indices: &[u32]| {
            let mut hasher = DataHasher::new();
            indices.iter().for_each(|i| hasher.update(&i.to_le_bytes()));
            hasher.finish()
        };
        ModelCommitment {
            header: RootHeader {
                tensor_count: tensors.len() as u32,
                node_count: nodes.len() as u32,
                input_count: model.inputs().len() as u32,
                output_count: model.outputs().len() as u32,
            },
            io: node(&list(model.inputs()), &list(model.outputs())),
            tensors_root: tree_root(&tensors),
            nodes_root: tree_root(&nodes),
            data_roots,
            tensors,
            nodes,
        }
    }

    fn graph(&self) -> Hash {
        node(&self.nodes_root, &self.io)
    }

    /// The model root: `H(header ‖ H(H(nodes_root ‖ io) ‖ tensors_root))`.
    pub fn root(&self) -> Hash {
        node(
            &self.header.encode(),
            &node(&self.graph(), &self.tensors_root),
        )
    }

    /// The header word's fields.
    pub fn header(&self) -> &RootHeader {
        &self.header
    }

    /// Every tensor's data root, by tensor index: a constant's, the zero word for the others.
    pub fn data_roots(&self) -> &[Hash] {
        &self.data_roots
    }

    /// Every tensor's commitment, by tensor index.
    pub fn tensors(&self) -> &[Hash] {
        &self.tensors
    }

    /// Every node's commitment, in table order.
    pub fn nodes(&self) -> &[Hash] {
        &self.nodes
    }

    /// The proof that tensor `index`'s commitment is in the root (see [`verify_tensor`]);
    /// `None` past the tensor table.
    pub fn tensor_proof(&self, index: u32) -> Option<Vec<Hash>> {
        let mut proof = tree_proof(&self.tensors, index as usize)?;
        proof.extend([self.graph(), self.header.encode()]);
        Some(proof)
    }

    /// The proof that node `index`'s commitment is in the root (see [`verify_node`]); `None`
    /// past the node table.
    pub fn node_proof(&self, index: u32) -> Option<Vec<Hash>> {
        let mut proof = tree_proof(&self.nodes, index as usize)?;
        proof.extend([self.io, self.tensors_root, self.header.encode()]);
        Some(proof)
    }
}

/// Checks the shape of a proof whose last hash is the header word: `index` below the count
/// `count_of` picks, and `depth(count) + N` hashes in all. Returns the in-tree siblings and the
/// `N` hashes above the tree, bottom-up.
fn split<const N: usize>(
    index: u32,
    proof: &[Hash],
    count_of: fn(&RootHeader) -> u32,
) -> Result<(&[Hash], &[Hash; N]), RootError> {
    let length = |expected| RootError::Length {
        expected,
        got: proof.len(),
    };
    let header = RootHeader::decode(proof.last().ok_or(length(N))?)?;
    let count = count_of(&header);
    if index >= count {
        return Err(RootError::Index { index, count });
    }
    let expected = depth(u64::from(count)) + N;
    match proof.split_last_chunk::<N>() {
        Some(split) if proof.len() == expected => Ok(split),
        _ => Err(length(expected)),
    }
}

/// `Ok` if `computed` is `root`.
fn matches(computed: Hash, root: &Hash) -> Result<(), RootError> {
    if computed == *root {
        Ok(())
    } else {
        Err(RootError::Mismatch)
    }
}

/// Checks that `commitment` is tensor `index`'s under `root`. `proof`, bottom-up: the siblings
/// in the tensor tree (as many as the depth of the header's `tensor_count`), the graph node,
/// then the header word.
pub fn verify_tensor(
    root: &Hash,
    index: u32,
    commitment: &Hash,
    proof: &[Hash],
) -> Result<(), RootError> {
    let (siblings, [graph, header]) = split(index, proof, |h| h.tensor_count)?;
    let tensors_root = fold(commitment, u64::from(index), siblings);
    matches(node(header, &node(graph, &tensors_root)), root)
}

/// Checks that `commitment` is node `index`'s under `root`. `proof`, bottom-up: the siblings
/// in the node tree (as many as the depth of the header's `node_count`), the io node, the
/// tensor tree's root, then the header word.
pub fn verify_node(
    root: &Hash,
    index: u32,
    commitment: &Hash,
    proof: &[Hash],
) -> Result<(), RootError> {
    let (siblings, [io, tensors_root, header]) = split(index, proof, |h| h.node_count)?;
    let nodes_root = fold(commitment, u64::from(index), siblings);
    matches(
        node(header, &node(&node(&nodes_root, io), tensors_root)),
        root,
    )
}
