//! The verifier against the reference machine on random steps, and on random bytes.

use opml_platform::syscall::PREIMAGE;
use opml_proof::verify_step;
use opml_state::{VmState, layout, sha256};
use proptest::prelude::*;

use crate::machine::Machine;
use crate::sparse::SparseMemory;

/// Opcodes of RV32IM with enough weight on memory and system instructions.
const OPCODES: [u32; 12] = [
    0x37, 0x17, 0x6f, 0x67, 0x63, 0x03, 0x03, 0x23, 0x23, 0x13, 0x33, 0x0f,
];

/// One step's setup: the instruction, registers, and streams.
#[derive(Debug, Clone)]
struct Setup {
    word: u32,
    pc: u32,
    regs: [u32; 32],
    input: Vec<u8>,
    cursor: u32,
    output_len: usize,
}

/// A register value: random, near the pc, in the data area or small.
fn register_value((kind, raw): (u8, u32), pc: u32) -> u32 {
    match kind {
        0 => raw,
        1 => pc.wrapping_add(raw % 64).wrapping_sub(8),
        2 => 0x2000 + raw % 72,
        _ => raw % 8,
    }
}

fn setup() -> impl Strategy<Value = Setup> {
    let pc = prop_oneof![8 => (0x400u32..0x440).prop_map(|k| 4 * k), 1 => 0x1000u32..0x1004];
    let word = prop_oneof![
        3 => (0usize..OPCODES.len(), any::<u32>())
            .prop_map(|(op, bits)| (bits & !0x7f) | OPCODES[op]),
        2 => Just(0x73u32),
        1 => any::<u32>(),
        // Register ALU instructions with a legal funct7.
        1 => (any::<u32>(), prop_oneof![Just(0u32), Just(1), Just(0x20)])
            .prop_map(|(bits, funct7)| funct7 << 25 | (bits & 0x01ff_ff80) | 0x33),
        // Loads and stores with small offsets, to hit the fetch leaf and its neighbours.
        2 => (any::<u32>(), -16i32..16, any::<bool>()).prop_map(|(bits, imm, is_store)| {
            let fields = bits & 0x000f_f000; // rs1, funct3
            let imm = imm as u32;
            if is_store {
                (imm >> 5) << 25 | (bits & 0x01f0_0000) | fields | (imm & 0x1f) << 7 | 0x23
            } else {
                imm << 20 | fields | (bits & 0xf80) | 0x03
            }
        }),
    ];
    let regs = proptest::array::uniform32((0u8..4, any::<u32>()));
    let a7 = prop_oneof![
        Just(63u32),
        Just(64),
        Just(93),
        Just(94),
        Just(PREIMAGE),
        Just(PREIMAGE),
        any::<u32>()
    ];
    let fd = prop_oneof![Just(0u32), Just(1), Just(2), 0u32..5];
    let input = proptest::collection::vec(any::<u8>(), 0..80);
    (
        pc,
        word,
        regs,
        (a7, fd, 0u32..40),
        input,
        any::<u32>(),
        0usize..70,
    )
        .prop_map(
            |(pc, word, regs, (a7, fd, len), input, cursor, output_len)| {
                let mut regs = regs.map(|r| register_value(r, pc));
                regs[17] = a7;
                regs[10] = fd;
                regs[12] = len;
                if a7 == PREIMAGE {
                    // buf: one of the leaves at 0x2000 (known key), 0x2020 (known key), 0x2040
                    // (unknown key), the fetch leaf, or misaligned; half: 0, 1 or invalid.
                    regs[10] = match len % 5 {
                        0..3 => 0x2000 + 32 * (len % 3),
                        3 => pc & !31,
                        _ => 0x2000 + len,
                    };
                    regs[11] = fd % 3;
                }
                let cursor = cursor % (input.len() as u32 + 1);
                Setup {
                    word,
                    pc,
                    regs,
                    input,
                    cursor,
                    output_len,
                }
            },
        )
}

fn machine(setup: &Setup) -> Machine {
    let mut mem = SparseMemory::default();
    let pc = setup.pc & !3;
    mem.put_word(pc, setup.word);
    mem.put(pc.wrapping_sub(16), &(0..16).collect::<Vec<u8>>());
    mem.put(
        pc.wrapping_add(4),
        &(0..28).map(|i| 0xa0 + i).collect::<Vec<u8>>(),
    );
    mem.put(0x2000, &(0..72).map(|i| i * 3).collect::<Vec<u8>>());
    // Two leaves holding keys the oracle knows; the leaf after them holds one it does not.
    let preimages: [[u8; 64]; 2] = [
        core::array::from_fn(|i| i as u8),
        core::array::from_fn(|i| 0xff - i as u8),
    ];
    mem.put(0x2000, &sha256(&preimages[0]));
    mem.put(0x2020, &sha256(&preimages[1]));
    let output: Vec<u8> = (0..setup.output_len).map(|i| i as u8).collect();
    let mut machine = Machine::new(
        mem,
        setup.pc,
        setup.regs,
        &setup.input,
        setup.cursor,
        &output,
    );
    for preimage in preimages {
        machine.add_preimage(preimage);
    }
    machine
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn verifier_agrees_with_the_reference_machine(setup in setup()) {
        let mut machine = machine(&setup);
        let witness = machine.step();
        let expected = machine.state.hash();
        if machine.blocked {
            // Unknown key: no step, and no proof the verifier accepts.
            prop_assert_eq!(witness.state.hash(), expected);
            prop_assert!(witness.verify().is_err());
            return Ok(());
        }
        prop_assert_eq!(witness.verify(), Ok(expected));
        // A halted machine stays put, with an empty proof.
        if machine.state.status.is_halted() {
            let witness = machine.step();
            prop_assert!(witness.items.is_empty());
            prop_assert_eq!(witness.verify(), Ok(expected));
        }
    }

    #[test]
    fn corrupted_proofs_are_rejected(setup in setup(), at in any::<usize>(), bit in 0u8..8) {
        let mut machine = machine(&setup);
        let witness = machine.step();
        let mut proof = witness.encode_proof();
        prop_assume!(!proof.is_empty() && !machine.blocked);
        let at = at % proof.len();
        proof[at] ^= 1 << bit;
        prop_assert!(verify_step(&witness.state_data(), &proof).is_err());
        proof.truncate(at);
        prop_assert!(verify_step(&witness.state_data(), &proof).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        state in proptest::collection::vec(any::<u8>(), 0..300),
        proof in proptest::collection::vec(any::<u8>(), 0..2000),
    ) {
        let _ = verify_step(&state, &proof);
    }

    #[test]
    fn arbitrary_running_states_never_panic(
        fields in proptest::collection::vec(any::<u8>(), layout::STATE_LEN),
        proof in proptest::collection::vec(any::<u8>(), 0..2000),
    ) {
        let mut data = fields;
        data[layout::STATUS] = 0;
        data[layout::EXIT_CODE..layout::EXIT_CODE + 4].fill(0);
        data[layout::REGS..layout::REGS + 4].fill(0);
        // Keep the output tail's padding (past output_len % 32) zero, as in every real state.
        let pending = data[layout::OUTPUT_LEN + 3] as usize % 32;
        data[layout::OUTPUT_TAIL + pending..layout::OUTPUT_TAIL + 32].fill(0);
        let state = VmState::decode(&data).unwrap();
        let _ = verify_step(&state.encode(), &proof);
    }
}
