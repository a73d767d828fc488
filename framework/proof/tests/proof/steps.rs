//! Hand-built witnesses for single steps, with post-states written out from the spec.

use opml_platform::memory::PREIMAGE_LEN;
use opml_platform::syscall::PREIMAGE;
use opml_platform::{TrapCause, errno, reg};
use opml_proof::{ProofItem, StepWitness, VerifyError, verify_step};
use opml_state::input::{END_LINK, InputChunk, chunk_at, commitment};
use opml_state::merkle::{MASK_BITS, MASK_LEN, MerkleProof, ZERO_HASHES, encoded_len, leaf_index};
use opml_state::{ExitStatus, Hash, StateDecodeError, VmState, layout, output, sha256};

use crate::sparse::SparseMemory;

const PC: u32 = 0x1000;
const ADD_A0_A1_A2: u32 = 0x00c5_8533;
const LW_A0_0_A1: u32 = 0x0005_a503;
const LW_A0_8_A1: u32 = 0x0085_a503;
const SW_A2_4_A1: u32 = 0x00c5_a223;
const SB_A2_0_A1: u32 = 0x00c5_8023;
const ECALL: u32 = 0x0000_0073;
const EBREAK: u32 = 0x0010_0073;

/// Memory holding `word` at [`PC`] and a running state at [`PC`] with `regs` set.
fn setup(word: u32, regs: &[(usize, u32)]) -> (SparseMemory, VmState) {
    let mut mem = SparseMemory::default();
    mem.put_word(PC, word);
    mem.put(0x2000, &[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
    let mut state = VmState::initial(mem.root(), PC, END_LINK);
    for &(r, v) in regs {
        state.regs[r] = v;
    }
    (mem, state)
}

fn leaf(mem: &SparseMemory, addr: u32) -> ProofItem {
    ProofItem::Memory {
        leaf_index: leaf_index(addr),
        proof: mem.proof(addr),
    }
}

/// The canonical encoding of a memory proof.
fn encoded(proof: &MerkleProof) -> Vec<u8> {
    let mut out = Vec::new();
    proof.encode(&mut out);
    out
}

/// The pre-state advanced by one step to `pc`.
fn advanced(state: &VmState, pc: u32) -> VmState {
    let mut post = state.clone();
    post.step += 1;
    post.pc = pc;
    post
}

/// Asserts the witness verifies to `expected`, and that flipping any bit-0 of any proof byte,
/// or of any state byte outside `overwritten` (bytes the step overwrites anyway), does not.
fn check(witness: &StepWitness, expected: &VmState, overwritten: &[usize]) {
    let state = witness.state_data();
    let proof = witness.encode_proof();
    assert_eq!(verify_step(&state, &proof), Ok(expected.hash()));
    assert_eq!(witness.verify(), Ok(expected.hash()));
    for i in 0..state.len() {
        if overwritten.contains(&i) {
            continue;
        }
        let mut bad = state;
        bad[i] ^= 1;
        assert_ne!(
            verify_step(&bad, &proof),
            Ok(expected.hash()),
            "state byte {i}"
        );
    }
    for i in 0..proof.len() {
        let mut bad = proof.clone();
        bad[i] ^= 1;
        assert!(verify_step(&state, &bad).is_err(), "proof byte {i}");
    }
    if !proof.is_empty() {
        assert!(matches!(
            verify_step(&state, &proof[..proof.len() - 1]),
            Err(VerifyError::ProofTooShort { .. })
        ));
    }
    let mut long = proof.clone();
    long.push(0);
    assert_eq!(
        verify_step(&state, &long),
        Err(VerifyError::ProofTooLong {
            used: proof.len(),
            len: proof.len() + 1
        })
    );
}

/// The state bytes of register `r`.
fn reg_bytes(r: usize) -> Vec<usize> {
    (layout::REGS + 4 * r..layout::REGS + 4 * r + 4).collect()
}

#[test]
fn alu_step() {
    let (mem, state) = setup(ADD_A0_A1_A2, &[(11, 40), (12, 2)]);
    let witness = StepWitness {
        state: state.clone(),
        items: vec![leaf(&mem, PC)],
    };
    let mut post = advanced(&state, PC + 4);
    post.regs[10] = 42;
    check(&witness, &post, &reg_bytes(10));
}

#[test]
fn load_from_another_leaf() {
    let (mem, state) = setup(LW_A0_0_A1, &[(11, 0x2004)]);
    let witness = StepWitness {
        state: state.clone(),
        items: vec![leaf(&mem, PC), leaf(&mem, 0x2004)],
    };
    let mut post = advanced(&state, PC + 4);
    post.regs[10] = 0x8877_6655;
    check(&witness, &post, &reg_bytes(10));
}

#[test]
fn load_from_the_fetch_leaf_needs_no_second_proof() {
    let (mut mem, _) = setup(LW_A0_8_A1, &[]);
    mem.put_word(PC + 8, 0xcafe_f00d);
    let mut state = VmState::initial(mem.root(), PC, END_LINK);
    state.regs[11] = PC;
    let mut witness = StepWitness::new(state.clone());
    // Recording: the data access touches the fetch leaf again, which adds nothing.
    witness.touch_leaf(leaf_index(PC), || mem.proof(PC));
    witness.touch_leaf(leaf_index(PC + 8), || unreachable!("leaf already recorded"));
    assert_eq!(witness.items.len(), 1);
    let mut post = advanced(&state, PC + 4);
    post.regs[10] = 0xcafe_f00d;
    check(&witness, &post, &reg_bytes(10));
}

#[test]
fn store_updates_the_memory_root() {
    let (mem, state) = setup(SW_A2_4_A1, &[(11, 0x2000), (12, 0xdead_beef)]);
    let witness = StepWitness {
        state: state.clone(),
        items: vec![leaf(&mem, PC), leaf(&mem, 0x2004)],
    };
    let mut after = mem.clone();
    after.put(0x2004, &[0xef, 0xbe, 0xad, 0xde]);
    let mut post = advanced(&state, PC + 4);
    post.memory_root = after.root();
    assert_ne!(post.memory_root, state.memory_root);
    check(&witness, &post, &[]);
}

#[test]
fn store_into_the_fetch_leaf() {
    let (mem, state) = setup(SB_A2_0_A1, &[(11, PC + 31), (12, 0xab)]);
    let witness = StepWitness {
        state: state.clone(),
        items: vec![leaf(&mem, PC)],
    };
    let mut after = mem.clone();
    after.put(PC + 31, &[0xab]);
    let mut post = advanced(&state, PC + 4);
    post.memory_root = after.root();
    check(&witness, &post, &[]);
}

/// 40 bytes of input: chunk 0 holds 32, chunk 1 holds 8.
fn input() -> Vec<u8> {
    (100..140).collect()
}

#[test]
fn read_opens_the_input_chunk_before_the_data_leaf() {
    let input = input();
    let (mem, mut state) = setup(
        ECALL,
        &[
            (reg::A7, 63),
            (reg::A0, 0),
            (reg::A1, 0x2010),
            (reg::A2, 100),
        ],
    );
    state.input_link = commitment(&input);
    let chunk1 = chunk_at(&input, 40, 1, END_LINK);
    let chunk0 = chunk_at(&input, 40, 0, chunk1.link());
    assert_eq!(chunk0.link(), state.input_link);
    let witness = StepWitness {
        state: state.clone(),
        items: vec![leaf(&mem, PC), ProofItem::Input(chunk0), leaf(&mem, 0x2010)],
    };
    // n = min(100, 32 available, 32 - 0x10 % 32 = 16) = 16; the chunk is not finished.
    let mut after = mem.clone();
    after.put(0x2010, &input[..16]);
    let mut post = advanced(&state, PC + 4);
    post.regs[reg::A0] = 16;
    post.input_cursor = 16;
    post.memory_root = after.root();
    check(&witness, &post, &[]);
}

#[test]
fn read_to_the_end_of_a_chunk_moves_the_link() {
    let input = input();
    let chunk1 = chunk_at(&input, 40, 1, END_LINK);
    let chunk0 = chunk_at(&input, 40, 0, chunk1.link());
    // (cursor, link, chunk, buf, len, n, next link)
    let cases = [
        (
            20,
            chunk0.link(),
            chunk0.clone(),
            0x2000,
            64,
            12,
            chunk1.link(),
        ),
        (32, chunk1.link(), chunk1.clone(), 0x2000, 64, 8, END_LINK),
        (
            35,
            chunk1.link(),
            chunk1.clone(),
            0x2000,
            3,
            3,
            chunk1.link(),
        ),
        (35, chunk1.link(), chunk1.clone(), 0x2000, 64, 5, END_LINK),
    ];
    for (cursor, link, chunk, buf, len, n, next) in cases {
        let (mem, mut state) = setup(
            ECALL,
            &[(reg::A7, 63), (reg::A0, 0), (reg::A1, buf), (reg::A2, len)],
        );
        state.input_cursor = cursor;
        state.input_link = link;
        let witness = StepWitness {
            state: state.clone(),
            items: vec![leaf(&mem, PC), ProofItem::Input(chunk), leaf(&mem, buf)],
        };
        let mut after = mem.clone();
        after.put(buf, &input[cursor as usize..(cursor + n) as usize]);
        let mut post = advanced(&state, PC + 4);
        post.regs[reg::A0] = n;
        post.input_cursor = cursor + n;
        post.input_link = next;
        post.memory_root = after.root();
        check(&witness, &post, &[]);
    }
}

#[test]
fn read_at_the_end_of_input_opens_no_chunk() {
    let (mem, mut state) = setup(
        ECALL,
        &[(reg::A7, 63), (reg::A0, 0), (reg::A1, 0x2000), (reg::A2, 8)],
    );
    state.input_cursor = 40;
    let witness = StepWitness {
        state: state.clone(),
        items: vec![leaf(&mem, PC)],
    };
    let mut post = advanced(&state, PC + 4);
    post.regs[reg::A0] = 0;
    check(&witness, &post, &[]);
}

#[test]
fn wrong_input_chunk_is_rejected() {
    let input = input();
    let (mem, mut state) = setup(
        ECALL,
        &[(reg::A7, 63), (reg::A0, 0), (reg::A1, 0x2000), (reg::A2, 8)],
    );
    state.input_link = commitment(&input);
    let forged = InputChunk {
        remaining: 40,
        data: [0xff; 32],
        next: END_LINK,
    };
    let witness = StepWitness {
        state,
        items: vec![leaf(&mem, PC), ProofItem::Input(forged), leaf(&mem, 0x2000)],
    };
    assert_eq!(witness.verify(), Err(VerifyError::InputLink));
}

/// A state that has written `written` output bytes `0, 1, 2, …`.
fn with_output(state: &mut VmState, written: usize) -> Vec<u8> {
    let out: Vec<u8> = (0..written as u8).collect();
    let mut acc: Hash = [0; 32];
    for c in out.chunks_exact(32) {
        acc = output::fold(&acc, c.try_into().unwrap());
    }
    state.output_acc = acc;
    state.output_tail = [0; 32];
    let tail = &out[written / 32 * 32..];
    state.output_tail[..tail.len()].copy_from_slice(tail);
    state.output_len = written as u32;
    out
}

#[test]
fn write_stdout_appends_to_the_tail() {
    let (mem, mut state) = setup(
        ECALL,
        &[(reg::A7, 64), (reg::A0, 1), (reg::A1, 0x2001), (reg::A2, 3)],
    );
    let mut out = with_output(&mut state, 33);
    let witness = StepWitness {
        state: state.clone(),
        items: vec![leaf(&mem, PC), leaf(&mem, 0x2001)],
    };
    out.extend_from_slice(&[0x22, 0x33, 0x44]);
    let mut post = advanced(&state, PC + 4);
    post.regs[reg::A0] = 3;
    post.output_len = 36;
    post.output_tail[1..4].copy_from_slice(&[0x22, 0x33, 0x44]);
    assert_eq!(post.output_digest(), output::digest(&out));
    // The write overwrites the tail's padding after byte 1.
    check(&witness, &post, &[97, 98, 99]);
}

#[test]
fn write_stdout_that_fills_the_tail_folds_it() {
    let (mem, mut state) = setup(
        ECALL,
        &[(reg::A7, 64), (reg::A0, 1), (reg::A1, 0x2000), (reg::A2, 8)],
    );
    let mut out = with_output(&mut state, 62);
    let witness = StepWitness {
        state: state.clone(),
        items: vec![leaf(&mem, PC), leaf(&mem, 0x2000)],
    };
    // n = min(8, room 2, 32) = 2.
    out.extend_from_slice(&[0x11, 0x22]);
    let mut post = advanced(&state, PC + 4);
    post.regs[reg::A0] = 2;
    post.output_len = 64;
    post.output_acc = output::fold(&state.output_acc, out[32..64].try_into().unwrap());
    post.output_tail = [0; 32];
    assert_eq!(post.output_digest(), output::digest(&out));
    // The write overwrites the tail's padding after byte 30.
    check(&witness, &post, &[126, 127]);
}

#[test]
fn write_stderr_needs_no_data_proof() {
    let (mem, state) = setup(
        ECALL,
        &[(reg::A7, 64), (reg::A0, 2), (reg::A1, 0x2000), (reg::A2, 8)],
    );
    let witness = StepWitness {
        state: state.clone(),
        items: vec![leaf(&mem, PC)],
    };
    let mut post = advanced(&state, PC + 4);
    post.regs[reg::A0] = 8;
    check(&witness, &post, &[]);
}

#[test]
fn exit_halts_and_counts_the_step() {
    for number in [93, 94] {
        let (mem, state) = setup(ECALL, &[(reg::A7, number), (reg::A0, 7)]);
        let witness = StepWitness {
            state: state.clone(),
            items: vec![leaf(&mem, PC)],
        };
        let mut post = advanced(&state, PC);
        post.status = ExitStatus::Exited(7);
        check(&witness, &post, &[]);
    }
}

#[test]
fn traps_halt_with_their_cause() {
    for (word, cause) in [
        (0, TrapCause::IllegalInstruction),
        (EBREAK, TrapCause::Breakpoint),
    ] {
        let (mem, state) = setup(word, &[]);
        let witness = StepWitness {
            state: state.clone(),
            items: vec![leaf(&mem, PC)],
        };
        let mut post = advanced(&state, PC);
        post.status = ExitStatus::Trapped(cause);
        check(&witness, &post, &[]);
    }
    // A misaligned load traps after the fetch, touching no data leaf.
    let (mem, state) = setup(LW_A0_0_A1, &[(11, 0x2002)]);
    let witness = StepWitness {
        state: state.clone(),
        items: vec![leaf(&mem, PC)],
    };
    let mut post = advanced(&state, PC);
    post.status = ExitStatus::Trapped(TrapCause::MisalignedLoad);
    check(&witness, &post, &[]);
}

#[test]
fn misaligned_pc_traps_with_an_empty_proof() {
    let (_, mut state) = setup(0, &[]);
    state.pc = PC + 2;
    let witness = StepWitness::new(state.clone());
    let mut post = advanced(&state, PC + 2);
    post.status = ExitStatus::Trapped(TrapCause::MisalignedFetch);
    check(&witness, &post, &[]);
}

#[test]
fn halted_states_are_fixed_points() {
    for status in [
        ExitStatus::Exited(3),
        ExitStatus::Trapped(TrapCause::MisalignedStore),
    ] {
        let (mem, mut state) = setup(ADD_A0_A1_A2, &[(11, 1)]);
        state.status = status;
        state.step = 99;
        assert_eq!(verify_step(&state.encode(), &[]), Ok(state.hash()));
        let proof = encoded(&mem.proof(PC));
        assert_eq!(
            verify_step(&state.encode(), &proof),
            Err(VerifyError::ProofTooLong {
                used: 0,
                len: proof.len()
            })
        );
    }
}

#[test]
fn proof_errors() {
    let (mem, state) = setup(LW_A0_0_A1, &[(11, 0x2000)]);
    let data = state.encode();
    let fetch = encoded(&mem.proof(PC));
    // The data leaf is missing.
    assert_eq!(
        verify_step(&data, &fetch),
        Err(VerifyError::ProofTooShort {
            offset: fetch.len(),
            needed: MASK_LEN
        })
    );
    // Nothing at all.
    assert_eq!(
        verify_step(&data, &[]),
        Err(VerifyError::ProofTooShort {
            offset: 0,
            needed: MASK_LEN
        })
    );
    // The data leaf's mask, but not the rest of its proof.
    let data_proof = mem.proof(0x2000);
    let mask = data_proof.zero_mask();
    let mut cut = fetch.clone();
    cut.extend_from_slice(&mask.to_be_bytes());
    assert_eq!(
        verify_step(&data, &cut),
        Err(VerifyError::ProofTooShort {
            offset: fetch.len() + MASK_LEN,
            needed: encoded_len(mask) - MASK_LEN
        })
    );
    // A mask bit above the tree.
    for bit in 27..32 {
        let mut high = fetch.clone();
        high[..MASK_LEN].copy_from_slice(&(mask | 1 << bit).to_be_bytes());
        assert_eq!(
            verify_step(&data, &high),
            Err(VerifyError::ProofMask {
                mask: mask | 1 << bit
            })
        );
    }
    // Zero-subtree siblings sent in full (a sub-mask of the canonical one) are accepted, with
    // the same post-state; eliding a sibling that is not a zero subtree is not.
    let canonical = StepWitness {
        state: state.clone(),
        items: vec![leaf(&mem, PC), leaf(&mem, 0x2000)],
    };
    let honest = canonical.verify().expect("canonical proof");
    for sub in [0, mask & 0x00ff_00ff, mask & !1] {
        let mut proof = fetch.clone();
        data_proof.encode_with_mask(sub, &mut proof);
        assert_eq!(verify_step(&data, &proof), Ok(honest), "mask {sub:#x}");
    }
    let level = (0..27)
        .find(|h| data_proof.siblings[*h] != ZERO_HASHES[*h])
        .unwrap();
    let mut proof = fetch.clone();
    data_proof.encode_with_mask(mask | 1 << level, &mut proof);
    assert_eq!(
        verify_step(&data, &proof),
        Err(VerifyError::MemoryRoot {
            leaf_index: leaf_index(0x2000)
        })
    );
    assert_eq!(mask & !MASK_BITS, 0);
    // The proof of a different leaf in place of the data leaf.
    let mut proof = fetch.clone();
    proof.extend_from_slice(&fetch);
    assert_eq!(
        verify_step(&data, &proof),
        Err(VerifyError::MemoryRoot {
            leaf_index: leaf_index(0x2000)
        })
    );
    // A malformed state.
    assert_eq!(
        verify_step(&data[..280], &proof),
        Err(VerifyError::State(StateDecodeError::Length(280)))
    );
    // Errors display.
    assert_eq!(
        VerifyError::MemoryRoot { leaf_index: 0x100 }.to_string(),
        "memory proof of leaf 0x100 (address 0x00002000) does not match the memory root"
    );
    assert_eq!(
        VerifyError::ProofMask { mask: 1 << 27 }.to_string(),
        "memory proof mask 0x08000000 has bits above the tree's 27 levels"
    );
}

/// A 64-byte preimage with distinct bytes.
fn sample_preimage() -> [u8; 64] {
    core::array::from_fn(|i| 0x40 + i as u8)
}

/// An `ecall` of `preimage(buf, half)` with the key of [`sample_preimage`] stored at `key_at`.
fn preimage_setup(key_at: u32, buf: u32, half: u32) -> (SparseMemory, VmState) {
    let (mut mem, _) = setup(ECALL, &[]);
    mem.put(key_at, &sha256(&sample_preimage()));
    let mut state = VmState::initial(mem.root(), PC, END_LINK);
    state.regs[reg::A7] = PREIMAGE;
    state.regs[reg::A0] = buf;
    state.regs[reg::A1] = half;
    (mem, state)
}

#[test]
fn preimage_writes_the_chosen_half_over_the_key() {
    for half in [0u32, 1] {
        let (mem, state) = preimage_setup(0x2020, 0x2020, half);
        let witness = StepWitness {
            state: state.clone(),
            items: vec![
                leaf(&mem, PC),
                leaf(&mem, 0x2020),
                ProofItem::Preimage(sample_preimage()),
            ],
        };
        let mut after = mem.clone();
        after.put(0x2020, &sample_preimage()[32 * half as usize..][..32]);
        let mut post = advanced(&state, PC + 4);
        post.regs[reg::A0] = 0;
        post.memory_root = after.root();
        check(&witness, &post, &reg_bytes(reg::A0));
    }
}

#[test]
fn preimage_of_the_fetch_leaf_reuses_its_proof() {
    // `buf` is the leaf of the ecall itself: the fetch proof opens it and the preimage comes
    // next. (Its "key" is the code around the ecall, so no honest run has its preimage: this
    // proves the order, and that the check still applies.)
    let buf = PC & !31;
    let (mem, state) = preimage_setup(0x2020, buf, 0);
    let data = state.encode();
    let fetch_only = StepWitness {
        state: state.clone(),
        items: vec![leaf(&mem, PC)],
    }
    .encode_proof();
    assert_eq!(
        verify_step(&data, &fetch_only),
        Err(VerifyError::ProofTooShort {
            offset: fetch_only.len(),
            needed: PREIMAGE_LEN
        })
    );
    let mut with_preimage = fetch_only.clone();
    with_preimage.extend_from_slice(&sample_preimage());
    assert_eq!(
        verify_step(&data, &with_preimage),
        Err(VerifyError::PreimageKey { buf })
    );
}

#[test]
fn preimage_with_a_bad_buffer_or_half_touches_only_the_fetch_leaf() {
    for (buf, half) in [(0x2021, 0), (0x2030, 0), (0x2020, 2), (0x2020, u32::MAX)] {
        let (mem, state) = preimage_setup(0x2020, buf, half);
        let witness = StepWitness {
            state: state.clone(),
            items: vec![leaf(&mem, PC)],
        };
        let mut post = advanced(&state, PC + 4);
        post.regs[reg::A0] = 0u32.wrapping_sub(errno::EINVAL);
        check(&witness, &post, &reg_bytes(reg::A0));
    }
}

#[test]
fn preimage_errors() {
    let (mem, state) = preimage_setup(0x2020, 0x2020, 0);
    let data = state.encode();
    let base = StepWitness {
        state: state.clone(),
        items: vec![leaf(&mem, PC), leaf(&mem, 0x2020)],
    }
    .encode_proof();
    // The preimage is missing, or short.
    assert_eq!(
        verify_step(&data, &base),
        Err(VerifyError::ProofTooShort {
            offset: base.len(),
            needed: PREIMAGE_LEN
        })
    );
    let mut short = base.clone();
    short.extend_from_slice(&sample_preimage()[..63]);
    assert!(matches!(
        verify_step(&data, &short),
        Err(VerifyError::ProofTooShort { .. })
    ));
    // Sixty-four bytes that are not the key's preimage: the other half's order swapped, or
    // any single bit flipped.
    let mut swapped = sample_preimage();
    swapped.rotate_left(32);
    let mut wrong = base.clone();
    wrong.extend_from_slice(&swapped);
    assert_eq!(
        verify_step(&data, &wrong),
        Err(VerifyError::PreimageKey { buf: 0x2020 })
    );
    // A correct preimage for a key the leaf does not hold (the leaf's proof is for a leaf
    // holding another key): the memory root rejects it first.
    let mut other = mem.clone();
    other.put(0x2020, &sha256(&swapped));
    let mut forged = StepWitness {
        state: state.clone(),
        items: vec![leaf(&mem, PC), leaf(&other, 0x2020)],
    }
    .encode_proof();
    forged.extend_from_slice(&swapped);
    assert_eq!(
        verify_step(&data, &forged),
        Err(VerifyError::MemoryRoot {
            leaf_index: leaf_index(0x2020)
        })
    );
    assert_eq!(
        VerifyError::PreimageKey { buf: 0x2020 }.to_string(),
        "preimage does not hash to the key held at 0x00002020"
    );
}
