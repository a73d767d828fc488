//! The step verifier.

use opml_isa::{Context, Flow, Width};
use opml_platform::memory::{LEAF_SIZE, PREIMAGE_LEN};
use opml_state::input::{self, CHUNK_PROOF_LEN, END_LINK, InputChunk};
use opml_state::merkle::{self, MASK_LEN, MerkleProof};
use opml_state::{Hash, VmState, output, sha256};

use crate::VerifyError;

/// Verifies one step: returns the hash of the state after one step from the packed pre-state
/// `state_data`, whose memory and input are opened by `proof` (layout in `docs/vm-spec.md`,
/// "Step proof").
///
/// - A halted pre-state is a fixed point: its own hash, with an empty proof.
/// - Otherwise the step runs [`opml_isa::step`] over the proof. Each memory leaf is proved on
///   its first touch by the next memory proof (a 4-byte elision mask, the leaf, the siblings
///   the mask does not elide: [`merkle::encoded_len`]), checked against the memory root at
///   that moment; a store rewrites the leaf and recomputes the root along the same path. The
///   input chunk at the cursor is proved on first use by the next [`CHUNK_PROOF_LEN`] bytes,
///   checked against the input link. A `preimage` syscall's 64-byte preimage comes after the
///   data leaf holding its key, and must hash to that key.
/// - Then `step += 1` (wrapping, also for the instruction that halts) and either `pc` moves on
///   or `status` records the halt.
///
/// Fails on a malformed pre-state, a proof item that does not match the state, a proof that
/// ends early, or proof bytes left over. Never panics.
pub fn verify_step(state_data: &[u8], proof: &[u8]) -> Result<Hash, VerifyError> {
    let state = VmState::decode(state_data)?;
    if state.status.is_halted() {
        return match proof.len() {
            0 => Ok(state.hash()),
            len => Err(VerifyError::ProofTooLong { used: 0, len }),
        };
    }
    let pc = state.pc;
    let mut verifier = Verifier {
        state,
        proof,
        used: 0,
        leaves: Vec::with_capacity(2),
        input: None,
        error: None,
    };
    let flow = opml_isa::step(&mut verifier, pc);
    if let Some(err) = verifier.error {
        return Err(err);
    }
    if verifier.used != proof.len() {
        return Err(VerifyError::ProofTooLong {
            used: verifier.used,
            len: proof.len(),
        });
    }
    let mut post = verifier.state;
    post.step = post.step.wrapping_add(1);
    match flow {
        Flow::Next(pc) => post.pc = pc,
        Flow::Halt(status) => post.status = status,
        // `Verifier::preimage` never blocks: a missing or wrong preimage is a proof error,
        // already returned above.
        Flow::Blocked => {
            return Err(VerifyError::ProofTooShort {
                offset: verifier.used,
                needed: PREIMAGE_LEN,
            });
        }
    }
    Ok(post.hash())
}

/// A memory leaf the step has touched, with its proof (`proof.leaf` is its current content).
struct Leaf {
    /// Leaf index: byte address / 32.
    index: u32,
    /// The leaf and its siblings.
    proof: MerkleProof,
}

/// The verifier's [`Context`]: the state being stepped and the proof being consumed.
///
/// Context calls cannot fail, so the first error is kept in `error` and every later access
/// returns zero without consuming anything; [`verify_step`] reports the error after the step.
struct Verifier<'a> {
    /// The state, updated in place.
    state: VmState,
    /// The whole proof.
    proof: &'a [u8],
    /// Proof bytes consumed so far.
    used: usize,
    /// The leaves proved so far, in first-touch order: the fetch leaf, then at most one data
    /// leaf. Only the last access of a step can be a store, so the siblings of every leaf
    /// stay valid for as long as they are used.
    leaves: Vec<Leaf>,
    /// The input chunk at the cursor, once the step asked for it.
    input: Option<InputChunk>,
    /// The first error.
    error: Option<VerifyError>,
}

impl Verifier<'_> {
    /// Records `err` unless an error is already recorded.
    fn fail(&mut self, err: VerifyError) {
        self.error.get_or_insert(err);
    }

    /// Consumes the next `N` proof bytes.
    fn take<const N: usize>(&mut self) -> Option<&[u8; N]> {
        self.take_slice(N)
            .map(|item| item.try_into().expect("N bytes"))
    }

    /// Consumes the next `len` proof bytes.
    fn take_slice(&mut self, len: usize) -> Option<&[u8]> {
        if self.error.is_some() {
            return None;
        }
        let Some(item) = self.proof.get(self.used..).and_then(|rest| rest.get(..len)) else {
            self.fail(VerifyError::ProofTooShort {
                offset: self.used,
                needed: len,
            });
            return None;
        };
        self.used += len;
        Some(item)
    }

    /// Consumes the next memory proof: its mask ([`MASK_LEN`] bytes, bits above
    /// [`merkle::MASK_BITS`] refused), then the leaf and the siblings the mask leaves in.
    fn take_memory_proof(&mut self) -> Option<MerkleProof> {
        let mask = u32::from_be_bytes(*self.take::<MASK_LEN>()?);
        if mask & !merkle::MASK_BITS != 0 {
            self.fail(VerifyError::ProofMask { mask });
            return None;
        }
        let body = self.take_slice(merkle::encoded_len(mask) - MASK_LEN)?;
        Some(MerkleProof::decode(mask, body).expect("mask and length checked"))
    }

    /// The touched leaf holding `addr`, proving it with the next memory proof on first touch.
    fn leaf(&mut self, addr: u32) -> Option<&mut Leaf> {
        let index = merkle::leaf_index(addr);
        let position = match self.leaves.iter().position(|leaf| leaf.index == index) {
            Some(position) => position,
            None => {
                let proof = self.take_memory_proof()?;
                if proof.root(index) != self.state.memory_root {
                    self.fail(VerifyError::MemoryRoot { leaf_index: index });
                    return None;
                }
                self.leaves.push(Leaf { index, proof });
                self.leaves.len() - 1
            }
        };
        self.leaves.get_mut(position)
    }

    /// `N` bytes of memory at `addr`, which must not cross a leaf; zero after an error.
    fn read<const N: usize>(&mut self, addr: u32) -> [u8; N] {
        let offset = (addr % LEAF_SIZE) as usize;
        let mut out = [0u8; N];
        if let Some(leaf) = self.leaf(addr) {
            out.copy_from_slice(&leaf.proof.leaf[offset..offset + N]);
        }
        out
    }

    /// Writes `data` to memory at `addr` (not crossing a leaf) and updates the memory root.
    fn write(&mut self, addr: u32, data: &[u8]) {
        let offset = (addr % LEAF_SIZE) as usize;
        if let Some(leaf) = self.leaf(addr) {
            leaf.proof.leaf[offset..offset + data.len()].copy_from_slice(data);
            let root = leaf.proof.root(leaf.index);
            self.state.memory_root = root;
        }
    }

    /// The input chunk at the cursor, proved by the next chunk proof on first use. Past the end
    /// of the input (link zero) it is the empty chunk, with no proof.
    fn input_chunk(&mut self) -> Option<InputChunk> {
        if self.input.is_none() {
            self.input = if self.state.input_link == END_LINK {
                Some(InputChunk {
                    remaining: 0,
                    data: [0; input::CHUNK_LEN],
                    next: END_LINK,
                })
            } else {
                let chunk = InputChunk::decode(self.take::<CHUNK_PROOF_LEN>()?);
                if chunk.link() != self.state.input_link {
                    self.fail(VerifyError::InputLink);
                    return None;
                }
                Some(chunk)
            };
        }
        self.input.clone()
    }
}

impl Context for Verifier<'_> {
    fn reg(&self, index: usize) -> u32 {
        self.state.regs[index]
    }

    fn set_reg(&mut self, index: usize, value: u32) {
        self.state.regs[index] = value;
    }

    fn fetch(&mut self, pc: u32) -> u32 {
        u32::from_le_bytes(self.read::<4>(pc))
    }

    fn load(&mut self, addr: u32, width: Width) -> u32 {
        match width {
            Width::Byte => u32::from(self.read::<1>(addr)[0]),
            Width::Half => u32::from(u16::from_le_bytes(self.read::<2>(addr))),
            Width::Word => u32::from_le_bytes(self.read::<4>(addr)),
        }
    }

    fn store(&mut self, addr: u32, width: Width, value: u32) {
        self.write(addr, &value.to_le_bytes()[..width as usize]);
    }

    /// `valid_len - cursor % 32` of the chunk at the cursor. The subtraction saturates: only a
    /// pre-state no run reaches has its cursor past the chunk's valid bytes.
    fn input_available(&mut self) -> u32 {
        let offset = self.state.input_cursor % LEAF_SIZE;
        self.input_chunk()
            .map_or(0, |chunk| chunk.valid_len().saturating_sub(offset))
    }

    /// Copies input to memory and advances the cursor; once the cursor reaches the end of the
    /// chunk's valid bytes, the input link moves on to the chunk's `next`.
    fn read_input(&mut self, buf: u32, len: u32) {
        let Some(chunk) = self.input_chunk() else {
            return;
        };
        let offset = self.state.input_cursor % LEAF_SIZE;
        let end = offset + len;
        self.write(buf, &chunk.data[offset as usize..end as usize]);
        self.state.input_cursor = self.state.input_cursor.wrapping_add(len);
        if end == chunk.valid_len() {
            self.state.input_link = chunk.next;
        }
    }

    fn output_room(&self) -> u32 {
        LEAF_SIZE - self.state.output_len % LEAF_SIZE
    }

    /// Appends memory bytes to the output tail; a full tail is folded into the accumulator
    /// and cleared.
    fn write_output(&mut self, buf: u32, len: u32) {
        let data = self.read::<32>(buf & !(LEAF_SIZE - 1));
        if self.error.is_some() {
            return;
        }
        let from = (buf % LEAF_SIZE) as usize;
        let at = (self.state.output_len % LEAF_SIZE) as usize;
        let len = len as usize;
        self.state.output_tail[at..at + len].copy_from_slice(&data[from..from + len]);
        self.state.output_len = self.state.output_len.wrapping_add(len as u32);
        if self.state.output_len.is_multiple_of(LEAF_SIZE) {
            self.state.output_acc = output::fold(&self.state.output_acc, &self.state.output_tail);
            self.state.output_tail = [0; output::CHUNK_LEN];
        }
    }

    /// The debug log is not part of the state: nothing to prove.
    fn write_log(&mut self, _buf: u32, _len: u32) {}

    /// Reads the key from the data leaf at `buf` (proving the leaf on first touch), takes the
    /// next [`PREIMAGE_LEN`] proof bytes as its preimage, checks `sha256(preimage) == key` and
    /// writes half `half` over the key. Never blocks: a missing or wrong preimage is an error.
    fn preimage(&mut self, buf: u32, half: u32) -> bool {
        let key = self.read::<32>(buf);
        let Some(preimage) = self.take::<PREIMAGE_LEN>().copied() else {
            return true;
        };
        if sha256(&preimage) != key {
            self.fail(VerifyError::PreimageKey { buf });
            return true;
        }
        let from = half as usize * LEAF_SIZE as usize;
        self.write(buf, &preimage[from..from + LEAF_SIZE as usize]);
        true
    }
}
