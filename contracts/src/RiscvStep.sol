// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IStepVerifier} from "./interfaces/IStepVerifier.sol";
import {VmConstants as C} from "./lib/VmConstants.sol";
import {
    InputLink,
    MemoryRoot,
    PreimageKey,
    ProofMask,
    ProofTooLong,
    ProofTooShort,
    StateLength,
    StateNonZeroX0,
    StateOutputTailPadding,
    StateStatus
} from "./lib/Errors.sol";

/// @title RiscvStep
/// @notice The one-step verifier of the opml RV32IM VM: from a packed pre-state and a step
/// proof, the hash of the state one instruction later (`docs/vm-spec.md`, "One step" and
/// "Step proof").
/// @dev Note: this mirrors the Rust verifier `framework/proof/src/verify.rs` function by
/// function (`verify_step` = `step`, `VmState::decode` = `decodeState`, `Verifier::leaf` =
/// `leaf`, `read`, `write`, `input_chunk` = `inputChunk`, ...) and `opml_isa::{decode,
/// execute, step}` (`decode`, `execute`, `isaStep`). Where Rust records the first error in the
/// context and reports it after the step, this contract reverts at once: the error and the
/// accepted (pre-state, proof) pairs are the same. Other differences, all internal:
/// - `write` to a leaf the step has not touched proves it and computes the new root in one
///   pass over its path (`roots`), instead of `leaf` then `root`: the same checks.
/// - A touched leaf keeps its mask and the calldata offset of its siblings, not a decoded copy;
///   an elided sibling is read from a memory copy of `ZERO_HASHES`, made on the step's first
///   proof with a nonzero mask (a step whose proofs elide nothing copies nothing, and their
///   paths take the same loop as before elision).
/// - `VmState.regs` stays packed (128 bytes); `reg`/`setReg` read and write it in place.
/// - `opml_isa::step` is `isaStep` (`step` is the external entry point), a `Flow` is a
///   (status, value) pair, and register-immediate ALU ops share `alu` with their
///   register-register forms.
///
/// Gas (Cancun, full transaction; BENCHMARKS.md, issue 13), over a real run (echo example,
/// sparse memory: zero-subtree siblings elided): 46k mean for steps that touch only the fetch
/// leaf, 62k for loads and `write(1, ..)` from a second leaf, 68-69k for a store or `read`
/// into a second leaf (81 SHA-256 calls: fetch path, old and new data path). With nothing
/// elided (dense memory): 50-52k, 74k, 80-82k, and 82.9k for a `preimage` read (0.3-0.5k
/// above the figures before elision: the mask's calldata and dispatch).
///
/// Invariants:
/// - A halted pre-state is a fixed point and takes an empty proof.
/// - Each distinct memory leaf the step touches is proved exactly once, by the next memory
///   proof (mask, leaf, the siblings the mask does not elide), against the memory root at that
///   moment; the fetch leaf is first. A mask bit above MERKLE_DEPTH reverts; any other mask
///   whose proof hashes to the root is accepted.
///   At most two leaves are touched (fetch, then one data leaf).
/// - The only memory writes (store, `read`) are the step's last memory access, so the siblings
///   of the written leaf are still valid and the new root is recomputed along them.
/// - The input chunk (if any) is proved before the data leaf of a `read`.
/// - A `preimage` call's 64-byte preimage comes right after the data leaf holding its key
///   (after the fetch proof if that leaf is the fetch leaf) and must hash to that key; the
///   call writes one half over the key, its only memory write.
/// - Every byte of the proof is consumed, or the call reverts.
/// - Counters wrap: step mod 2^64, input_cursor and output_len mod 2^32.
/// - Register values are kept as uint32; all address arithmetic wraps mod 2^32.
contract RiscvStep is IStepVerifier {
    /*//////////////////////////////////////////////////////////////
                                 TYPES
    //////////////////////////////////////////////////////////////*/

    /// @dev Instruction kinds, in the order of `opml_isa::Instruction`.
    enum Op {
        Lui,
        Auipc,
        Jal,
        Jalr,
        Beq,
        Bne,
        Blt,
        Bge,
        Bltu,
        Bgeu,
        Lb,
        Lh,
        Lw,
        Lbu,
        Lhu,
        Sb,
        Sh,
        Sw,
        Addi,
        Slti,
        Sltiu,
        Xori,
        Ori,
        Andi,
        Slli,
        Srli,
        Srai,
        Add,
        Sub,
        Sll,
        Slt,
        Sltu,
        Xor,
        Srl,
        Sra,
        Or,
        And,
        Mul,
        Mulh,
        Mulhsu,
        Mulhu,
        Div,
        Divu,
        Rem,
        Remu,
        Fence,
        Ecall,
        Ebreak,
        Illegal
    }

    /// @dev One decoded instruction (`opml_isa::Instruction`). `imm` holds the immediate,
    /// offset or shift amount, as a two's complement uint32; unused fields are zero.
    struct Instruction {
        Op op;
        uint256 rd;
        uint256 rs1;
        uint256 rs2;
        uint32 imm;
    }

    /// @dev The decoded state (`opml_state::VmState`), fields in packed-layout order. The
    /// registers stay packed: 32 big-endian words of 4 bytes (128 bytes).
    struct VmState {
        bytes32 memoryRoot;
        bytes32 inputLink;
        bytes32 outputAcc;
        bytes32 outputTail;
        uint32 pc;
        uint32 inputCursor;
        uint32 outputLen;
        uint64 step;
        uint8 status;
        uint32 exitCode;
        bytes regs;
    }

    /// @dev A memory leaf the step has touched, with its proof: `leaf` is its current content,
    /// `mask` its elision mask, `siblings` the calldata offset of the sibling hashes the mask
    /// leaves in (bottom up).
    struct Leaf {
        uint32 index;
        bytes32 leaf;
        uint256 mask;
        uint256 siblings;
    }

    /// @dev One opened link of the input chain (`opml_state::input::InputChunk`).
    struct InputChunk {
        uint32 remaining;
        bytes32 data;
        bytes32 next;
    }

    /// @dev The verifier's context (`Verifier` in verify.rs): the state being stepped and the
    /// proof being consumed (calldata offset and length, bytes used so far). `zeros` is the
    /// memory address of a copy of `C.ZERO_HASHES` (elided siblings are read from it), 0 until
    /// a proof needs it (`zeroTable`).
    struct Verifier {
        VmState state;
        uint256 zeros;
        uint256 proofOffset;
        uint256 proofLen;
        uint256 used;
        Leaf[2] leaves;
        uint256 leafCount;
        bool hasInput;
        InputChunk input;
    }

    /*//////////////////////////////////////////////////////////////
                               CONSTANTS
    //////////////////////////////////////////////////////////////*/
    // All VM numbers are in `lib/VmConstants.sol`; only decoder encodings live here.

    /// @dev The `ecall` word, the only legal SYSTEM word besides EBREAK.
    uint32 private constant ECALL = 0x00000073;
    /// @dev The `ebreak` word.
    uint32 private constant EBREAK = 0x00100073;
    /// @dev Major opcodes (bits 6..0).
    uint32 private constant OPCODE_LOAD = 0x03;
    uint32 private constant OPCODE_MISC_MEM = 0x0f;
    uint32 private constant OPCODE_OP_IMM = 0x13;
    uint32 private constant OPCODE_AUIPC = 0x17;
    uint32 private constant OPCODE_STORE = 0x23;
    uint32 private constant OPCODE_OP = 0x33;
    uint32 private constant OPCODE_LUI = 0x37;
    uint32 private constant OPCODE_BRANCH = 0x63;
    uint32 private constant OPCODE_JALR = 0x67;
    uint32 private constant OPCODE_JAL = 0x6f;

    /*//////////////////////////////////////////////////////////////
                               OPERATIONS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IStepVerifier
    /// @dev `verify_step` in verify.rs.
    function step(bytes calldata stateData, bytes calldata proof)
        external
        view
        returns (bytes32 postStateHash)
    {
        VmState memory state = decodeState(stateData);
        if (state.status != C.STATUS_RUNNING) {
            if (proof.length != 0) revert ProofTooLong(0, proof.length);
            // decodeState accepts only canonical encodings, so this is hash(state).
            return sha256(stateData);
        }
        uint256 proofOffset;
        assembly ("memory-safe") {
            proofOffset := proof.offset // calldata offset of the proof bytes
        }
        Leaf[2] memory leaves;
        InputChunk memory input;
        Verifier memory v = Verifier({
            state: state,
            zeros: 0,
            proofOffset: proofOffset,
            proofLen: proof.length,
            used: 0,
            leaves: leaves,
            leafCount: 0,
            hasInput: false,
            input: input
        });
        (uint8 status, uint32 value) = isaStep(v, state.pc);
        if (v.used != proof.length) revert ProofTooLong(v.used, proof.length);
        unchecked {
            state.step += 1; // wraps mod 2^64, also for the halting instruction
        }
        if (status == C.STATUS_RUNNING) {
            state.pc = value;
        } else {
            state.status = status;
            state.exitCode = value;
        }
        return hashState(state);
    }

    /*------------------------------ state ------------------------------*/

    /// @dev `VmState::decode`: the packed state, refusing encodings the VM never produces
    /// (checked in the Rust order: length, status, x0, output tail padding).
    /// Hot path (every step), so the fields are read with assembly.
    function decodeState(bytes calldata data) internal pure returns (VmState memory s) {
        if (data.length != C.STATE_LEN) revert StateLength(data.length);
        bytes32 memoryRoot;
        bytes32 inputLink;
        bytes32 outputAcc;
        bytes32 outputTail;
        uint256 scalars;
        uint256 x0;
        assembly ("memory-safe") {
            let p := data.offset
            memoryRoot := calldataload(add(p, 0)) // C.MEMORY_ROOT
            inputLink := calldataload(add(p, 32)) // C.INPUT_LINK
            outputAcc := calldataload(add(p, 64)) // C.OUTPUT_ACC
            outputTail := calldataload(add(p, 96)) // C.OUTPUT_TAIL
            // Bytes 128..160: pc(4) input_cursor(4) output_len(4) step(8) status(1)
            // exit_code(4), then the first 7 bytes of the registers (unused here).
            scalars := calldataload(add(p, 128)) // C.PC
            x0 := shr(224, calldataload(add(p, 153))) // C.REGS: register x0
        }
        s.memoryRoot = memoryRoot;
        s.inputLink = inputLink;
        s.outputAcc = outputAcc;
        s.outputTail = outputTail;
        // Big-endian fields of `scalars`, each shifted down from its byte offset in 128..160.
        s.pc = uint32(scalars >> 224); // bytes 128..132
        s.inputCursor = uint32(scalars >> 192); // bytes 132..136
        s.outputLen = uint32(scalars >> 160); // bytes 136..140
        s.step = uint64(scalars >> 96); // bytes 140..148
        s.status = uint8(scalars >> 88); // byte 148
        s.exitCode = uint32(scalars >> 56); // bytes 149..153
        if (!validStatus(s.status, s.exitCode)) revert StateStatus(s.status, s.exitCode);
        if (x0 != 0) revert StateNonZeroX0();
        // The bytes past the pending ones: all 32 when output_len % 32 == 0.
        uint256 padding = type(uint256).max >> (8 * (s.outputLen % C.LEAF_SIZE));
        if (uint256(outputTail) & padding != 0) revert StateOutputTailPadding();
        s.regs = data[C.REGS:C.STATE_LEN];
    }

    /// @dev `ExitStatus::from_parts(..).is_some()`: running with code 0, exited with any code,
    /// trapped with a trap cause.
    function validStatus(uint8 status, uint32 code) internal pure returns (bool) {
        if (status == C.STATUS_RUNNING) return code == 0;
        if (status == C.STATUS_EXITED) return true;
        if (status == C.STATUS_TRAPPED) {
            return code >= C.TRAP_ILLEGAL_INSTRUCTION && code <= C.TRAP_MISALIGNED_STORE;
        }
        return false;
    }

    /// @dev `VmState::hash`: sha256 of the packed encoding (`VmState::encode`).
    /// Hot path (every step): packs into free memory with assembly.
    function hashState(VmState memory s) internal view returns (bytes32 hash) {
        uint256 scalars = (uint256(s.pc) << 224) | (uint256(s.inputCursor) << 192)
            | (uint256(s.outputLen) << 160) | (uint256(s.step) << 96) | (uint256(s.status) << 88)
            | (uint256(s.exitCode) << 56);
        bytes memory regs = s.regs;
        assembly ("memory-safe") {
            // Scratch past the free memory pointer (never allocated: used only here).
            let ptr := mload(0x40)
            mstore(ptr, mload(s)) // memory_root: struct field 0
            mstore(add(ptr, 32), mload(add(s, 32))) // input_link
            mstore(add(ptr, 64), mload(add(s, 64))) // output_acc
            mstore(add(ptr, 96), mload(add(s, 96))) // output_tail
            mstore(add(ptr, 128), scalars) // pc .. exit_code (bytes 128..153), zeros after
            mcopy(add(ptr, 153), add(regs, 32), 128) // registers (bytes 153..281)
            // sha256 over the 281 bytes via the precompile; fails only when out of gas.
            if iszero(staticcall(gas(), 0x02, ptr, 281, 0x00, 0x20)) { revert(0, 0) }
            hash := mload(0x00)
        }
    }

    /// @dev Register `index` (0..32) of the packed registers.
    function reg(Verifier memory v, uint256 index) internal pure returns (uint32 value) {
        bytes memory regs = v.state.regs;
        assembly ("memory-safe") {
            // Register i is the 4 bytes at regs data + 4 i: the top 4 bytes of that word.
            value := shr(224, mload(add(add(regs, 0x20), shl(2, index))))
        }
    }

    /// @dev Sets register `index` (1..32; callers never pass 0).
    function setReg(Verifier memory v, uint256 index, uint32 value) internal pure {
        bytes memory regs = v.state.regs;
        assembly ("memory-safe") {
            let at := add(add(regs, 0x20), shl(2, index))
            // Keep the 28 bytes after the register (the next registers, or memory past the
            // array for x31, which must not change), replace its top 4 bytes.
            let rest :=
                and(mload(at), 0x00000000ffffffffffffffffffffffffffffffffffffffffffffffffffffffff)
            mstore(at, or(rest, shl(224, value)))
        }
    }

    /// @dev `set` in execute.rs: writes `value` to `rd` unless `rd` is x0.
    function set(Verifier memory v, uint256 rd, uint32 value) internal pure {
        if (rd != 0) setReg(v, rd, value);
    }

    /*------------------------------ proof ------------------------------*/

    /// @dev `Verifier::take`: the calldata offset of the next `n` proof bytes, consumed.
    function take(Verifier memory v, uint256 n) internal pure returns (uint256 offset) {
        uint256 used = v.used;
        // Unchecked: `used` and `n` are at most the calldata size, far below 2^255.
        unchecked {
            if (used + n > v.proofLen) revert ProofTooShort(used, n);
            offset = v.proofOffset + used;
            v.used = used + n;
        }
    }

    /// @dev `MerkleProof::root_with_leaf`: the root implied by `content` at leaf `index`, with
    /// the sibling at height h read from `zeros + 32 h` (ZERO_HASHES[h]) if bit h of `mask` is
    /// set, else from the next 32 bytes at calldata offset `siblings` (bottom up).
    /// Hot path (27 SHA-256 calls per proof, up to 81 per step): assembly, three levels per
    /// loop iteration.
    ///
    /// Precompile failure: sha256 (0x02) fails only when it runs out of gas. It gets 63/64 of
    /// the remaining gas and needs 84, so it fails only if fewer than 86 gas remain before the
    /// call; the frame is then left with at most 1 gas and the next MLOAD (3 gas) runs out of
    /// gas, reverting the whole call. So a failed call can never produce a root, and the
    /// success flag need not be checked (`pop`).
    function root(uint32 index, bytes32 content, uint256 mask, uint256 siblings, uint256 zeros)
        internal
        view
        returns (bytes32 node)
    {
        assembly ("memory-safe") {
            node := content
            {
                let end := add(zeros, 864) // 27 levels of 32 bytes (C.MERKLE_DEPTH)
                // Three levels per iteration (27 = 9 * 3), written out rather than a Yul function
                // (measured: ~40 gas per level cheaper than a non-inlined call). Each level: the
                // sibling is ZERO_HASHES[h] (at `zeros`) if the mask bit is set, else the next
                // calldata word; bit 0 of `index` says whether the node is a right child; then it
                // goes to scratch word 1 (0x20), else word 0, and the sibling to the other word, so
                // scratch 0x00..0x40 holds left ‖ right; its sha256 (precompile 0x02) lands in
                // word 0. The three mask bits of an iteration are tested at once: a path's low
                // levels are usually all in the proof and its high levels all zero subtrees, and
                // those iterations then take no branch per level.
                for {} lt(zeros, end) {} {
                    switch and(mask, 7)
                    case 0 {
                        // Three siblings in the proof.
                        let at := and(shl(5, index), 0x20)
                        mstore(at, node)
                        mstore(xor(at, 0x20), calldataload(siblings))
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        node := mload(0x00)
                        at := and(shl(4, index), 0x20) // bit 1 of index, times 32
                        mstore(at, node)
                        mstore(xor(at, 0x20), calldataload(add(siblings, 0x20)))
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        node := mload(0x00)
                        at := and(shl(3, index), 0x20) // bit 2 of index, times 32
                        mstore(at, node)
                        mstore(xor(at, 0x20), calldataload(add(siblings, 0x40)))
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        node := mload(0x00)
                        siblings := add(siblings, 0x60)
                    }
                    case 7 {
                        // Three zero subtrees.
                        let at := and(shl(5, index), 0x20)
                        mstore(at, node)
                        mstore(xor(at, 0x20), mload(zeros))
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        node := mload(0x00)
                        at := and(shl(4, index), 0x20) // bit 1 of index, times 32
                        mstore(at, node)
                        mstore(xor(at, 0x20), mload(add(zeros, 0x20)))
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        node := mload(0x00)
                        at := and(shl(3, index), 0x20) // bit 2 of index, times 32
                        mstore(at, node)
                        mstore(xor(at, 0x20), mload(add(zeros, 0x40)))
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        node := mload(0x00)
                    }
                    default {
                        // Some of each: one mask bit per level.
                        let at
                        let sibling0 := mload(zeros)
                        if iszero(and(mask, 1)) {
                            sibling0 := calldataload(siblings)
                            siblings := add(siblings, 0x20)
                        }
                        at := and(shl(5, index), 0x20)
                        mstore(at, node)
                        mstore(xor(at, 0x20), sibling0)
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        node := mload(0x00)
                        let sibling1 := mload(add(zeros, 0x20))
                        if iszero(and(mask, 2)) {
                            sibling1 := calldataload(siblings)
                            siblings := add(siblings, 0x20)
                        }
                        at := and(shl(4, index), 0x20) // bit 1 of index, times 32
                        mstore(at, node)
                        mstore(xor(at, 0x20), sibling1)
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        node := mload(0x00)
                        let sibling2 := mload(add(zeros, 0x40))
                        if iszero(and(mask, 4)) {
                            sibling2 := calldataload(siblings)
                            siblings := add(siblings, 0x20)
                        }
                        at := and(shl(3, index), 0x20) // bit 2 of index, times 32
                        mstore(at, node)
                        mstore(xor(at, 0x20), sibling2)
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        node := mload(0x00)
                    }

                    index := shr(3, index)
                    mask := shr(3, mask)
                    zeros := add(zeros, 0x60)
                }
            }
        }
    }

    /// @dev `root` for a proof that elides nothing (mask 0): the 27 siblings are consecutive
    /// calldata words from `siblings`; no mask bit or table word is looked at. The loop before
    /// elision, kept apart so that a dense path costs what it did.
    function rootDense(uint32 index, bytes32 content, uint256 siblings)
        internal
        view
        returns (bytes32 node)
    {
        assembly ("memory-safe") {
            node := content
            let end := add(siblings, 864) // 27 siblings of 32 bytes (C.MERKLE_DEPTH)
            // Three levels per iteration (27 = 9 * 3), written out rather than a Yul function
            // (measured: ~40 gas per level cheaper than a non-inlined call). Each level: bit 0 of
            // `index` says whether the node is a right child; then it goes to scratch word 1
            // (0x20), else word 0, and the sibling to the other word, so scratch 0x00..0x40
            // holds left ‖ right; its sha256 (precompile 0x02) lands in word 0.
            for {} lt(siblings, end) {} {
                let at := and(shl(5, index), 0x20)
                mstore(at, node)
                mstore(xor(at, 0x20), calldataload(siblings))
                pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                node := mload(0x00)

                at := and(shl(4, index), 0x20) // bit 1 of index, times 32
                mstore(at, node)
                mstore(xor(at, 0x20), calldataload(add(siblings, 0x20)))
                pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                node := mload(0x00)

                at := and(shl(3, index), 0x20) // bit 2 of index, times 32
                mstore(at, node)
                mstore(xor(at, 0x20), calldataload(add(siblings, 0x40)))
                pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                node := mload(0x00)

                index := shr(3, index)
                siblings := add(siblings, 0x60)
            }
        }
    }

    /// @dev `hash_pair`: sha256(left ‖ right), in scratch memory (see `root` for why the
    /// precompile's success flag needs no check).
    function hashPair(bytes32 left, bytes32 right) internal view returns (bytes32 hash) {
        assembly ("memory-safe") {
            mstore(0x00, left)
            mstore(0x20, right)
            pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
            hash := mload(0x00)
        }
    }

    /// @dev `root` for two leaf contents on the same path in one pass: the root before and
    /// after a write to a leaf proved by that write (same result as `root` twice).
    function roots(
        uint32 index,
        bytes32 before,
        bytes32 after_,
        uint256 mask,
        uint256 siblings,
        uint256 zeros
    ) internal view returns (bytes32 oldNode, bytes32 newNode) {
        assembly ("memory-safe") {
            // As in `root` (including why the success flag is not checked, and three levels
            // per iteration), both contents hashed with the same sibling.
            oldNode := before
            newNode := after_
            {
                let end := add(zeros, 864) // 27 levels of 32 bytes (C.MERKLE_DEPTH)
                for {} lt(zeros, end) {} {
                    switch and(mask, 7)
                    case 0 {
                        // Three siblings in the proof.
                        let sibling, at, other
                        sibling := calldataload(siblings)
                        at := and(shl(5, index), 0x20)
                        other := xor(at, 0x20)
                        mstore(at, oldNode)
                        mstore(other, sibling)
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        oldNode := mload(0x00)
                        mstore(at, newNode)
                        mstore(other, sibling)
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        newNode := mload(0x00)
                        sibling := calldataload(add(siblings, 0x20))
                        at := and(shl(4, index), 0x20) // bit 1 of index, times 32
                        other := xor(at, 0x20)
                        mstore(at, oldNode)
                        mstore(other, sibling)
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        oldNode := mload(0x00)
                        mstore(at, newNode)
                        mstore(other, sibling)
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        newNode := mload(0x00)
                        sibling := calldataload(add(siblings, 0x40))
                        at := and(shl(3, index), 0x20) // bit 2 of index, times 32
                        other := xor(at, 0x20)
                        mstore(at, oldNode)
                        mstore(other, sibling)
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        oldNode := mload(0x00)
                        mstore(at, newNode)
                        mstore(other, sibling)
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        newNode := mload(0x00)
                        siblings := add(siblings, 0x60)
                    }
                    case 7 {
                        // Three zero subtrees.
                        let sibling, at, other
                        sibling := mload(zeros)
                        at := and(shl(5, index), 0x20)
                        other := xor(at, 0x20)
                        mstore(at, oldNode)
                        mstore(other, sibling)
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        oldNode := mload(0x00)
                        mstore(at, newNode)
                        mstore(other, sibling)
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        newNode := mload(0x00)
                        sibling := mload(add(zeros, 0x20))
                        at := and(shl(4, index), 0x20) // bit 1 of index, times 32
                        other := xor(at, 0x20)
                        mstore(at, oldNode)
                        mstore(other, sibling)
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        oldNode := mload(0x00)
                        mstore(at, newNode)
                        mstore(other, sibling)
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        newNode := mload(0x00)
                        sibling := mload(add(zeros, 0x40))
                        at := and(shl(3, index), 0x20) // bit 2 of index, times 32
                        other := xor(at, 0x20)
                        mstore(at, oldNode)
                        mstore(other, sibling)
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        oldNode := mload(0x00)
                        mstore(at, newNode)
                        mstore(other, sibling)
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        newNode := mload(0x00)
                    }
                    default {
                        // Some of each: one mask bit per level.
                        let sibling, at, other
                        sibling := mload(zeros)
                        if iszero(and(mask, 1)) {
                            sibling := calldataload(siblings)
                            siblings := add(siblings, 0x20)
                        }
                        at := and(shl(5, index), 0x20)
                        other := xor(at, 0x20)
                        mstore(at, oldNode)
                        mstore(other, sibling)
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        oldNode := mload(0x00)
                        mstore(at, newNode)
                        mstore(other, sibling)
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        newNode := mload(0x00)
                        sibling := mload(add(zeros, 0x20))
                        if iszero(and(mask, 2)) {
                            sibling := calldataload(siblings)
                            siblings := add(siblings, 0x20)
                        }
                        at := and(shl(4, index), 0x20) // bit 1 of index, times 32
                        other := xor(at, 0x20)
                        mstore(at, oldNode)
                        mstore(other, sibling)
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        oldNode := mload(0x00)
                        mstore(at, newNode)
                        mstore(other, sibling)
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        newNode := mload(0x00)
                        sibling := mload(add(zeros, 0x40))
                        if iszero(and(mask, 4)) {
                            sibling := calldataload(siblings)
                            siblings := add(siblings, 0x20)
                        }
                        at := and(shl(3, index), 0x20) // bit 2 of index, times 32
                        other := xor(at, 0x20)
                        mstore(at, oldNode)
                        mstore(other, sibling)
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        oldNode := mload(0x00)
                        mstore(at, newNode)
                        mstore(other, sibling)
                        pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                        newNode := mload(0x00)
                    }

                    index := shr(3, index)
                    mask := shr(3, mask)
                    zeros := add(zeros, 0x60)
                }
            }
        }
    }

    /// @dev `roots` for a proof that elides nothing (mask 0), as `rootDense`.
    function rootsDense(uint32 index, bytes32 before, bytes32 after_, uint256 siblings)
        internal
        view
        returns (bytes32 oldNode, bytes32 newNode)
    {
        assembly ("memory-safe") {
            // As in `root` (including why the success flag is not checked, and three levels
            // per iteration), both contents hashed with the same sibling.
            oldNode := before
            newNode := after_
            let end := add(siblings, 864) // 27 siblings of 32 bytes (C.MERKLE_DEPTH)
            for {} lt(siblings, end) {} {
                let sibling := calldataload(siblings)
                let at := and(shl(5, index), 0x20)
                let other := xor(at, 0x20)
                mstore(at, oldNode)
                mstore(other, sibling)
                pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                oldNode := mload(0x00)
                mstore(at, newNode)
                mstore(other, sibling)
                pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                newNode := mload(0x00)

                sibling := calldataload(add(siblings, 0x20))
                at := and(shl(4, index), 0x20) // bit 1 of index, times 32
                other := xor(at, 0x20)
                mstore(at, oldNode)
                mstore(other, sibling)
                pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                oldNode := mload(0x00)
                mstore(at, newNode)
                mstore(other, sibling)
                pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                newNode := mload(0x00)

                sibling := calldataload(add(siblings, 0x40))
                at := and(shl(3, index), 0x20) // bit 2 of index, times 32
                other := xor(at, 0x20)
                mstore(at, oldNode)
                mstore(other, sibling)
                pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                oldNode := mload(0x00)
                mstore(at, newNode)
                mstore(other, sibling)
                pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
                newNode := mload(0x00)

                index := shr(3, index)
                siblings := add(siblings, 0x60)
            }
        }
    }

    /// @dev The memory address of the copy of `C.ZERO_HASHES` (ZERO_HASHES[h] is the word at
    /// `zeros + 32 h`) that `root`/`roots` read, made on the step's first proof with a nonzero
    /// mask (a step whose masks are all 0 never copies it).
    function zeroTable(Verifier memory v) internal pure returns (uint256 zeros) {
        zeros = v.zeros;
        if (zeros == 0) {
            bytes memory table = C.ZERO_HASHES;
            assembly ("memory-safe") {
                zeros := add(table, 0x20)
            }
            v.zeros = zeros;
        }
    }

    /// @dev `Verifier::take_memory_proof`: consumes the next memory proof, its mask (MASK_LEN
    /// bytes, bits above MERKLE_DEPTH refused) then the leaf and the siblings the mask leaves
    /// in. Returns the leaf, the mask and the calldata offset of the first sibling.
    function takeMemoryProof(Verifier memory v)
        internal
        pure
        returns (bytes32 content, uint256 mask, uint256 siblings)
    {
        // `take` for the mask, then for the rest, in one place (same checks, same errors).
        uint256 used = v.used;
        uint256 len = v.proofLen;
        // Unchecked: `used` and `n` are at most the calldata size, far below 2^255, and
        // elided <= MERKLE_DEPTH.
        unchecked {
            if (used + C.MASK_LEN > len) revert ProofTooShort(used, C.MASK_LEN);
            uint256 at = v.proofOffset + used;
            assembly ("memory-safe") {
                mask := shr(224, calldataload(at))
            }
            uint256 n = 32 * (1 + C.MERKLE_DEPTH); // the leaf and the siblings left in
            if (mask != 0) {
                if (mask >> C.MERKLE_DEPTH != 0) revert ProofMask(uint32(mask));
                // Elided siblings: popcount(mask), SWAR on the 27-bit mask.
                uint256 elided = mask - ((mask >> 1) & 0x55555555);
                elided = (elided & 0x33333333) + ((elided >> 2) & 0x33333333);
                elided = ((((elided + (elided >> 4)) & 0x0f0f0f0f) * 0x01010101) >> 24) & 0xff;
                n -= 32 * elided;
            }
            used += C.MASK_LEN;
            if (used + n > len) revert ProofTooShort(used, n);
            v.used = used + n;
            at += C.MASK_LEN;
            assembly ("memory-safe") {
                content := calldataload(at)
            }
            siblings = at + 32;
        }
    }

    /// @dev `Verifier::leaf`: the touched leaf holding `addr`, proved with the next memory
    /// proof on first touch.
    function leaf(Verifier memory v, uint32 addr) internal view returns (Leaf memory l) {
        uint32 index = addr >> C.LEAF_SIZE_LOG2;
        uint256 count = v.leafCount; // 0, 1 or 2
        for (uint256 i = 0; i < count; ++i) {
            if (v.leaves[i].index == index) return v.leaves[i];
        }
        (bytes32 content, uint256 mask, uint256 siblings) = takeMemoryProof(v);
        l = Leaf({index: index, leaf: content, mask: mask, siblings: siblings});
        bytes32 proved = mask == 0
            ? rootDense(index, content, siblings)
            : root(index, content, mask, siblings, zeroTable(v));
        if (proved != v.state.memoryRoot) {
            revert MemoryRoot(index);
        }
        v.leaves[v.leafCount++] = l;
    }

    /// @dev `Verifier::read`: the `width` bytes at `addr` (not crossing a leaf), big-endian
    /// in memory order (the byte at `addr` is the most significant).
    function read(Verifier memory v, uint32 addr, uint256 width) internal view returns (uint256) {
        bytes32 content = leaf(v, addr).leaf;
        // Unchecked: the access does not cross the leaf, so offset + width <= 32.
        unchecked {
            uint256 offset = addr % C.LEAF_SIZE;
            return (uint256(content) >> (8 * (32 - offset - width))) & ((1 << (8 * width)) - 1);
        }
    }

    /// @dev `Verifier::write`: copies `len` bytes of `src` from byte `from` to memory at `addr`
    /// (not crossing a leaf) and updates the memory root along the leaf's path.
    /// A leaf the step has not touched yet is proved and rewritten in one pass over its path
    /// (`roots`), which is `leaf` then `root` fused: the same checks, fewer loop iterations.
    function write(Verifier memory v, uint32 addr, bytes32 src, uint256 from, uint256 len)
        internal
        view
    {
        uint32 index = addr >> C.LEAF_SIZE_LOG2;
        uint256 at = addr % C.LEAF_SIZE;
        for (uint256 i = 0; i < v.leafCount; ++i) {
            Leaf memory l = v.leaves[i];
            if (l.index == index) {
                l.leaf = splice(l.leaf, at, src, from, len);
                v.state.memoryRoot = l.mask == 0
                    ? rootDense(index, l.leaf, l.siblings)
                    : root(index, l.leaf, l.mask, l.siblings, v.zeros);
                return;
            }
        }
        (bytes32 content, uint256 mask, uint256 siblings) = takeMemoryProof(v);
        bytes32 written = splice(content, at, src, from, len);
        (bytes32 oldRoot, bytes32 newRoot) = mask == 0
            ? rootsDense(index, content, written, siblings)
            : roots(index, content, written, mask, siblings, zeroTable(v));
        if (oldRoot != v.state.memoryRoot) revert MemoryRoot(index);
        v.state.memoryRoot = newRoot;
        v.leaves[v.leafCount++] =
            Leaf({index: index, leaf: written, mask: mask, siblings: siblings});
    }

    /// @dev `target` with its bytes `at .. at + len` replaced by `src[from .. from + len]`
    /// (1 <= len, both ranges inside 32 bytes).
    function splice(bytes32 target, uint256 at, bytes32 src, uint256 from, uint256 len)
        internal
        pure
        returns (bytes32)
    {
        // Unchecked: by the preconditions every difference below is non-negative and every
        // shift at most 256.
        unchecked {
            // `len` bytes of ones, moved to bytes at .. at + len (byte 0 most significant).
            uint256 mask = (type(uint256).max >> (256 - 8 * len)) << (8 * (32 - at - len));
            // src moved so that its byte `from` lands on byte `at`.
            uint256 moved =
                from >= at ? uint256(src) << (8 * (from - at)) : uint256(src) >> (8 * (at - from));
            return bytes32((uint256(target) & ~mask) | (moved & mask));
        }
    }

    /// @dev `Verifier::input_chunk`: the input chunk at the cursor, proved by the next chunk
    /// proof on first use; past the end of the input (link zero) the empty chunk, unproved.
    function inputChunk(Verifier memory v) internal pure returns (InputChunk memory chunk) {
        if (!v.hasInput) {
            v.hasInput = true;
            if (v.state.inputLink != 0) {
                uint256 at = take(v, C.CHUNK_PROOF_LEN);
                uint32 remaining;
                bytes32 data;
                bytes32 next;
                assembly ("memory-safe") {
                    remaining := shr(224, calldataload(at))
                    data := calldataload(add(at, 4))
                    next := calldataload(add(at, 36))
                }
                if (sha256(abi.encodePacked(remaining, data, next)) != v.state.inputLink) {
                    revert InputLink();
                }
                v.input = InputChunk({remaining: remaining, data: data, next: next});
            }
        }
        return v.input;
    }

    /// @dev `InputChunk::valid_len`: how many bytes of the chunk are input.
    function validLen(InputChunk memory chunk) internal pure returns (uint32) {
        return chunk.remaining < C.CHUNK_LEN ? chunk.remaining : uint32(C.CHUNK_LEN);
    }

    /*---------------------------- context -----------------------------*/
    // `impl Context for Verifier` in verify.rs.

    /// @dev `Context::fetch`: the little-endian instruction word at the 4-aligned `pc`.
    function fetch(Verifier memory v, uint32 pc) internal view returns (uint32) {
        return uint32(swap(read(v, pc, 4), 4));
    }

    /// @dev `Context::load`: `width` bytes at the aligned `addr`, little-endian, zero-extended.
    function loadMem(Verifier memory v, uint32 addr, uint256 width) internal view returns (uint32) {
        return uint32(swap(read(v, addr, width), width));
    }

    /// @dev `Context::store`: the low `width` bytes of `value`, little-endian, at `addr`.
    function storeMem(Verifier memory v, uint32 addr, uint256 width, uint32 value) internal view {
        // Memory order of the bytes, left-aligned in a word.
        bytes32 src = bytes32(swap(value & ((1 << (8 * width)) - 1), width) << (256 - 8 * width));
        write(v, addr, src, 0, width);
    }

    /// @dev Byte order reversal of the low `width` (1, 2 or 4) bytes of `x`.
    function swap(uint256 x, uint256 width) internal pure returns (uint256) {
        if (width == 1) return x;
        if (width == 2) return ((x & 0xff) << 8) | (x >> 8);
        return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >> 8) & 0xff00) | (x >> 24);
    }

    /// @dev `Context::input_available`: unread bytes of the chunk at the cursor. Saturates:
    /// only a pre-state no run reaches has its cursor past the chunk's valid bytes.
    function inputAvailable(Verifier memory v) internal pure returns (uint32) {
        uint32 valid = validLen(inputChunk(v));
        uint32 offset = v.state.inputCursor % uint32(C.LEAF_SIZE);
        return valid > offset ? valid - offset : 0;
    }

    /// @dev `Context::read_input`: copies `len` input bytes to `buf` and advances the cursor;
    /// once the cursor reaches the end of the chunk's valid bytes, the link moves on.
    function readInput(Verifier memory v, uint32 buf, uint32 len) internal view {
        InputChunk memory chunk = inputChunk(v);
        uint32 offset = v.state.inputCursor % uint32(C.LEAF_SIZE);
        uint32 end = offset + len;
        write(v, buf, chunk.data, offset, len);
        unchecked {
            v.state.inputCursor += len; // wraps mod 2^32
        }
        if (end == validLen(chunk)) v.state.inputLink = chunk.next;
    }

    /// @dev `Context::output_room`: free bytes in the pending output chunk.
    function outputRoom(Verifier memory v) internal pure returns (uint32) {
        return uint32(C.LEAF_SIZE) - v.state.outputLen % uint32(C.LEAF_SIZE);
    }

    /// @dev `Context::write_output`: appends the `len` memory bytes at `buf` to the output
    /// tail; a full tail is folded into the accumulator (`output::fold`) and cleared.
    function writeOutput(Verifier memory v, uint32 buf, uint32 len) internal view {
        bytes32 data = leaf(v, buf).leaf;
        VmState memory s = v.state;
        s.outputTail = splice(s.outputTail, s.outputLen % C.LEAF_SIZE, data, buf % C.LEAF_SIZE, len);
        unchecked {
            s.outputLen += len; // wraps mod 2^32
        }
        if (s.outputLen % C.LEAF_SIZE == 0) {
            s.outputAcc = hashPair(s.outputAcc, s.outputTail); // output::fold
            s.outputTail = 0;
        }
    }

    /// @dev `Context::preimage` (`Verifier::preimage`): reads the key from the data leaf at
    /// `buf` (proving it on first touch), takes the next PREIMAGE_LEN proof bytes, checks that
    /// their SHA-256 is the key, and writes half `half` (0 or 1) over the key.
    function preimage(Verifier memory v, uint32 buf, uint32 half) internal view {
        bytes32 key = leaf(v, buf).leaf;
        uint256 at = take(v, C.PREIMAGE_LEN);
        bytes32 hash;
        bytes32 chosen;
        assembly ("memory-safe") {
            // The preimage to scratch 0x00..0x40 and its sha256 (precompile 0x02) to word 0;
            // see `root` for why the success flag needs no check.
            calldatacopy(0x00, at, 0x40)
            pop(staticcall(gas(), 0x02, 0x00, 0x40, 0x00, 0x20))
            hash := mload(0x00)
            chosen := calldataload(add(at, shl(5, half))) // half * 32 bytes in
        }
        if (hash != key) revert PreimageKey(buf);
        write(v, buf, chosen, 0, 32);
    }

    /*----------------------------- decode -----------------------------*/

    /// @dev `opml_isa::decode`: legal are exactly the RV32IM base encodings with every fixed
    /// field as the ISA requires; every other word decodes to Op.Illegal. Mirrors rrs-lib's
    /// `process_instruction` plus the checks decode.rs adds (SYSTEM, JALR funct3, SLLI funct7).
    function decode(uint32 word) internal pure returns (Instruction memory insn) {
        insn.op = Op.Illegal;
        if (word == ECALL) {
            insn.op = Op.Ecall;
            return insn;
        }
        if (word == EBREAK) {
            insn.op = Op.Ebreak;
            return insn;
        }
        uint32 opcode = word & 0x7f;
        uint32 funct3 = (word >> 12) & 7;
        uint32 funct7 = word >> 25;
        insn.rd = (word >> 7) & 31;
        insn.rs1 = (word >> 15) & 31;
        insn.rs2 = (word >> 20) & 31;
        if (opcode == OPCODE_OP) {
            insn.op = decodeOp(funct3, funct7);
        } else if (opcode == OPCODE_OP_IMM) {
            insn.op = decodeOpImm(funct3, funct7);
            // Shifts take the 5-bit shamt; the others the sign-extended I immediate.
            insn.imm = (funct3 & 3) == 1 ? (word >> 20) & 31 : immI(word);
        } else if (opcode == OPCODE_LOAD) {
            if (funct3 != 3 && funct3 < 6) insn.op = Op(uint8(Op.Lb) + funct3 - (funct3 >> 2));
            insn.imm = immI(word);
        } else if (opcode == OPCODE_STORE) {
            if (funct3 < 3) insn.op = Op(uint8(Op.Sb) + funct3);
            insn.imm = immS(word);
        } else if (opcode == OPCODE_BRANCH) {
            if (funct3 != 2 && funct3 != 3) {
                // beq 000, bne 001, blt 100, bge 101, bltu 110, bgeu 111.
                insn.op = Op(uint8(Op.Beq) + (funct3 < 2 ? funct3 : funct3 - 2));
            }
            insn.imm = immB(word);
        } else if (opcode == OPCODE_LUI) {
            insn.op = Op.Lui;
            insn.imm = word & 0xfffff000;
        } else if (opcode == OPCODE_AUIPC) {
            insn.op = Op.Auipc;
            insn.imm = word & 0xfffff000;
        } else if (opcode == OPCODE_JAL) {
            insn.op = Op.Jal;
            insn.imm = immJ(word);
        } else if (opcode == OPCODE_JALR) {
            if (funct3 == 0) insn.op = Op.Jalr;
            insn.imm = immI(word);
        } else if (opcode == OPCODE_MISC_MEM) {
            // fence: any pred/succ/fm, rd and rs1 ignored; fence.i (001) and others illegal.
            if (funct3 == 0) insn.op = Op.Fence;
        }
        if (insn.op == Op.Illegal) {
            // Illegal(word) carries no fields.
            insn.rd = 0;
            insn.rs1 = 0;
            insn.rs2 = 0;
            insn.imm = 0;
        }
    }

    /// @dev The OP major opcode (register-register, including M).
    function decodeOp(uint32 funct3, uint32 funct7) internal pure returns (Op) {
        if (funct7 == 1) return Op(uint8(Op.Mul) + funct3); // mul mulh mulhsu mulhu div divu rem remu
        if (funct7 == 0x20) {
            if (funct3 == 0) return Op.Sub;
            if (funct3 == 5) return Op.Sra;
            return Op.Illegal;
        }
        if (funct7 != 0) return Op.Illegal;
        if (funct3 == 0) return Op.Add;
        if (funct3 == 1) return Op.Sll;
        if (funct3 == 2) return Op.Slt;
        if (funct3 == 3) return Op.Sltu;
        if (funct3 == 4) return Op.Xor;
        if (funct3 == 5) return Op.Srl;
        if (funct3 == 6) return Op.Or;
        return Op.And;
    }

    /// @dev The OP-IMM major opcode. `funct7` is imm[11:5], fixed only for the shifts.
    function decodeOpImm(uint32 funct3, uint32 funct7) internal pure returns (Op) {
        if (funct3 == 0) return Op.Addi;
        if (funct3 == 1) return funct7 == 0 ? Op.Slli : Op.Illegal;
        if (funct3 == 2) return Op.Slti;
        if (funct3 == 3) return Op.Sltiu;
        if (funct3 == 4) return Op.Xori;
        if (funct3 == 5) {
            if (funct7 == 0) return Op.Srli;
            if (funct7 == 0x20) return Op.Srai;
            return Op.Illegal;
        }
        if (funct3 == 6) return Op.Ori;
        return Op.Andi;
    }

    /// @dev The low `bits` bits of `value`, sign-extended to 32 bits.
    function sext(uint32 value, uint256 bits) internal pure returns (uint32) {
        uint32 sign = uint32(1 << (bits - 1));
        uint32 low = value & ((sign << 1) - 1);
        // (low ^ sign) - sign, mod 2^32: the usual branch-free sign extension.
        unchecked {
            return (low ^ sign) - sign;
        }
    }

    /// @dev I-type immediate: imm[11:0] = word[31:20].
    function immI(uint32 word) internal pure returns (uint32) {
        return sext(word >> 20, 12);
    }

    /// @dev S-type immediate: imm[11:5] = word[31:25], imm[4:0] = word[11:7].
    function immS(uint32 word) internal pure returns (uint32) {
        return sext(((word >> 25) << 5) | ((word >> 7) & 0x1f), 12);
    }

    /// @dev B-type immediate: imm[12|10:5] = word[31:25], imm[4:1|11] = word[11:7].
    function immB(uint32 word) internal pure returns (uint32) {
        uint32 imm = ((word >> 31) << 12) | (((word >> 7) & 1) << 11) | (((word >> 25) & 0x3f) << 5)
            | (((word >> 8) & 0xf) << 1);
        return sext(imm, 13);
    }

    /// @dev J-type immediate: imm[20|10:1|11|19:12] = word[31:12].
    function immJ(uint32 word) internal pure returns (uint32) {
        uint32 imm = ((word >> 31) << 20) | (((word >> 21) & 0x3ff) << 1)
            | (((word >> 20) & 1) << 11) | (((word >> 12) & 0xff) << 12);
        return sext(imm, 21);
    }

    /*----------------------------- execute ----------------------------*/
    // A flow is (status, value): (RUNNING, next pc) for `Flow::Next`, or (EXITED | TRAPPED,
    // exit code | trap cause) for `Flow::Halt`.

    /// @dev `opml_isa::step`: trap on a misaligned pc (nothing fetched), else fetch, decode
    /// and execute.
    function isaStep(Verifier memory v, uint32 pc) internal view returns (uint8, uint32) {
        if (pc % 4 != 0) return trap(C.TRAP_MISALIGNED_FETCH);
        return execute(v, pc, decode(fetch(v, pc)));
    }

    /// @dev `trap` in execute.rs.
    function trap(uint32 cause) internal pure returns (uint8, uint32) {
        return (C.STATUS_TRAPPED, cause);
    }

    /// @dev `opml_isa::execute`: runs `insn`, the instruction at `pc`. Context calls come in
    /// the order their leaves and chunks appear in the step proof.
    function execute(Verifier memory v, uint32 pc, Instruction memory insn)
        internal
        view
        returns (uint8, uint32)
    {
        uint8 op = uint8(insn.op);
        uint32 next;
        unchecked {
            next = pc + 4;
        }
        if (op >= uint8(Op.Addi) && op <= uint8(Op.Remu)) {
            // Register-immediate and register-register ALU, M included.
            uint32 a = reg(v, insn.rs1);
            uint32 b = op <= uint8(Op.Srai) ? insn.imm : reg(v, insn.rs2);
            set(v, insn.rd, alu(Op(op), a, b));
            return (C.STATUS_RUNNING, next);
        }
        if (op >= uint8(Op.Beq) && op <= uint8(Op.Bgeu)) {
            return branch(pc, taken(Op(op), reg(v, insn.rs1), reg(v, insn.rs2)), insn.imm);
        }
        if (op >= uint8(Op.Lb) && op <= uint8(Op.Lhu)) return load(v, pc, insn);
        if (op >= uint8(Op.Sb) && op <= uint8(Op.Sw)) return store(v, pc, insn);
        unchecked {
            if (insn.op == Op.Lui) {
                set(v, insn.rd, insn.imm);
                return (C.STATUS_RUNNING, next);
            }
            if (insn.op == Op.Auipc) {
                set(v, insn.rd, pc + insn.imm);
                return (C.STATUS_RUNNING, next);
            }
            if (insn.op == Op.Jal) return jump(v, pc, insn.rd, pc + insn.imm);
            if (insn.op == Op.Jalr) {
                return jump(v, pc, insn.rd, (reg(v, insn.rs1) + insn.imm) & ~uint32(1));
            }
        }
        if (insn.op == Op.Fence) return (C.STATUS_RUNNING, next);
        if (insn.op == Op.Ecall) return ecall(v, pc);
        if (insn.op == Op.Ebreak) return trap(C.TRAP_BREAKPOINT);
        return trap(C.TRAP_ILLEGAL_INSTRUCTION);
    }

    /// @dev The value of an ALU instruction (OP-IMM, OP, M) from `a = rs1` and `b = rs2` or
    /// the immediate. Register-immediate forms share their register-register semantics.
    function alu(Op op, uint32 a, uint32 b) internal pure returns (uint32) {
        unchecked {
            if (op == Op.Add || op == Op.Addi) return a + b;
            if (op == Op.Sub) return a - b;
            if (op == Op.Sll || op == Op.Slli) return a << (b & 31);
            if (op == Op.Slt || op == Op.Slti) return int32(a) < int32(b) ? 1 : 0;
            if (op == Op.Sltu || op == Op.Sltiu) return a < b ? 1 : 0;
            if (op == Op.Xor || op == Op.Xori) return a ^ b;
            if (op == Op.Srl || op == Op.Srli) return a >> (b & 31);
            // Solidity's >> on signed integers is an arithmetic shift.
            if (op == Op.Sra || op == Op.Srai) return uint32(int32(a) >> (b & 31));
            if (op == Op.Or || op == Op.Ori) return a | b;
            if (op == Op.And || op == Op.Andi) return a & b;
            return mulDiv(op, a, b);
        }
    }

    /// @dev The M extension. 256-bit intermediates make every case exact: a 64-bit product
    /// fits, and INT_MIN / -1 = 2^31 truncates to INT_MIN as RISC-V requires.
    function mulDiv(Op op, uint32 a, uint32 b) internal pure returns (uint32) {
        int256 sa = int256(int32(a));
        int256 sb = int256(int32(b));
        unchecked {
            if (op == Op.Mul) return a * b;
            // The high word is bits 32..63 of the two's complement product.
            if (op == Op.Mulh) return uint32(uint256(sa * sb) >> 32);
            if (op == Op.Mulhsu) return uint32(uint256(sa * int256(uint256(b))) >> 32);
            if (op == Op.Mulhu) return uint32((uint256(a) * uint256(b)) >> 32);
            if (op == Op.Div) return b == 0 ? type(uint32).max : uint32(uint256(sa / sb));
            if (op == Op.Divu) return b == 0 ? type(uint32).max : a / b;
            // Remainders truncate toward zero (sign of the dividend), as RISC-V.
            if (op == Op.Rem) return b == 0 ? a : uint32(uint256(sa % sb));
            return b == 0 ? a : a % b; // Remu
        }
    }

    /// @dev Whether a branch is taken.
    function taken(Op op, uint32 a, uint32 b) internal pure returns (bool) {
        if (op == Op.Beq) return a == b;
        if (op == Op.Bne) return a != b;
        if (op == Op.Blt) return int32(a) < int32(b);
        if (op == Op.Bge) return int32(a) >= int32(b);
        if (op == Op.Bltu) return a < b;
        return a >= b; // Bgeu
    }

    /// @dev `branch` in execute.rs: `pc + offset` if taken (trapping if not 4-aligned), else
    /// `pc + 4`. A not-taken branch never traps.
    function branch(uint32 pc, bool isTaken, uint32 offset) internal pure returns (uint8, uint32) {
        unchecked {
            if (!isTaken) return (C.STATUS_RUNNING, pc + 4);
            uint32 target = pc + offset;
            if (target % 4 != 0) return trap(C.TRAP_MISALIGNED_FETCH);
            return (C.STATUS_RUNNING, target);
        }
    }

    /// @dev `jump` in execute.rs: link `rd` and continue at `target`, or trap if `target` is
    /// not 4-aligned (then `rd` is not written).
    function jump(Verifier memory v, uint32 pc, uint256 rd, uint32 target)
        internal
        pure
        returns (uint8, uint32)
    {
        if (target % 4 != 0) return trap(C.TRAP_MISALIGNED_FETCH);
        unchecked {
            set(v, rd, pc + 4);
        }
        return (C.STATUS_RUNNING, target);
    }

    /// @dev Width in bytes of a load or store op.
    function accessWidth(Op op) internal pure returns (uint256) {
        if (op == Op.Lb || op == Op.Lbu || op == Op.Sb) return 1;
        if (op == Op.Lh || op == Op.Lhu || op == Op.Sh) return 2;
        return 4;
    }

    /// @dev `load` in execute.rs: `rs1 + offset` into `rd`, sign-extended for lb/lh; traps
    /// without touching memory or `rd` if misaligned. A load into x0 still touches its leaf.
    function load(Verifier memory v, uint32 pc, Instruction memory insn)
        internal
        view
        returns (uint8, uint32)
    {
        uint32 addr;
        unchecked {
            addr = reg(v, insn.rs1) + insn.imm;
        }
        uint256 w = accessWidth(insn.op);
        if (addr % w != 0) return trap(C.TRAP_MISALIGNED_LOAD);
        uint32 value = loadMem(v, addr, w);
        if (insn.op == Op.Lb || insn.op == Op.Lh) value = sext(value, 8 * w);
        set(v, insn.rd, value);
        unchecked {
            return (C.STATUS_RUNNING, pc + 4);
        }
    }

    /// @dev `store` in execute.rs: the low bytes of `rs2` at `rs1 + offset`; traps without
    /// touching memory if misaligned.
    function store(Verifier memory v, uint32 pc, Instruction memory insn)
        internal
        view
        returns (uint8, uint32)
    {
        uint32 addr;
        unchecked {
            addr = reg(v, insn.rs1) + insn.imm;
        }
        uint256 w = accessWidth(insn.op);
        if (addr % w != 0) return trap(C.TRAP_MISALIGNED_STORE);
        storeMem(v, addr, w, reg(v, insn.rs2));
        unchecked {
            return (C.STATUS_RUNNING, pc + 4);
        }
    }

    /*----------------------------- syscalls ---------------------------*/

    /// @dev `ecall` in execute.rs: the syscall numbered by a7, arguments a0..a2, result in a0.
    function ecall(Verifier memory v, uint32 pc) internal view returns (uint8, uint32) {
        uint32 a0 = reg(v, C.REG_A0);
        uint32 a1 = reg(v, C.REG_A1);
        uint32 a2 = reg(v, C.REG_A2);
        uint32 number = reg(v, C.REG_A7);
        uint32 result;
        if (number == C.SYS_EXIT || number == C.SYS_EXIT_GROUP) return (C.STATUS_EXITED, a0);
        if (number == C.SYS_READ) result = sysRead(v, a0, a1, a2);
        else if (number == C.SYS_WRITE) result = sysWrite(v, a0, a1, a2);
        else if (number == C.SYS_PREIMAGE) result = sysPreimage(v, a0, a1);
        else result = neg(C.ENOSYS);
        setReg(v, C.REG_A0, result);
        unchecked {
            return (C.STATUS_RUNNING, pc + 4);
        }
    }

    /// @dev `neg` in execute.rs: a negated errno as an a0 result.
    function neg(uint32 errno) internal pure returns (uint32) {
        unchecked {
            return 0 - errno;
        }
    }

    /// @dev `leaf_room` in execute.rs: bytes from `buf` to the end of its leaf (1..32).
    function leafRoom(uint32 buf) internal pure returns (uint32) {
        return uint32(C.LEAF_SIZE) - buf % uint32(C.LEAF_SIZE);
    }

    /// @dev The smaller of two values.
    function min(uint32 a, uint32 b) internal pure returns (uint32) {
        return a < b ? a : b;
    }

    /// @dev `sys_read` in execute.rs. The input chunk is asked for only when there is
    /// something to read (fd 0, len > 0): that is when a step proof carries one.
    function sysRead(Verifier memory v, uint32 fd, uint32 buf, uint32 len)
        internal
        view
        returns (uint32)
    {
        if (fd != C.FD_STDIN) return neg(C.EBADF);
        if (len == 0) return 0;
        uint32 available = inputAvailable(v);
        if (available == 0) return 0;
        uint32 n = min(min(len, available), leafRoom(buf));
        readInput(v, buf, n);
        return n;
    }

    /// @dev `sys_write` in execute.rs: fd 1 appends to the committed output, fd 2 (debug log)
    /// touches nothing.
    function sysWrite(Verifier memory v, uint32 fd, uint32 buf, uint32 len)
        internal
        view
        returns (uint32)
    {
        if (fd == C.FD_STDOUT) {
            uint32 n = min(min(len, outputRoom(v)), leafRoom(buf));
            if (n > 0) writeOutput(v, buf, n);
            return n;
        }
        if (fd == C.FD_STDERR) return min(len, leafRoom(buf));
        return neg(C.EBADF);
    }

    /// @dev `sys_preimage` in execute.rs: a `buf` that is not 32-byte aligned or a `half`
    /// above 1 is refused before memory is touched. (Rust's `Flow::Blocked` has no
    /// counterpart: the proof carries the preimage, or the step reverts.)
    function sysPreimage(Verifier memory v, uint32 buf, uint32 half)
        internal
        view
        returns (uint32)
    {
        if (buf % uint32(C.LEAF_SIZE) != 0 || half > 1) return neg(C.EINVAL);
        preimage(v, buf, half);
        return 0;
    }
}
