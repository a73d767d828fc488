// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {TestBase} from "./utils/Vm.sol";
import {RiscvStep} from "../src/RiscvStep.sol";
import {VmConstants as C} from "../src/lib/VmConstants.sol";
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
} from "../src/lib/Errors.sol";

/// @notice Exposes RiscvStep internals for differential tests.
contract RiscvStepHarness is RiscvStep {
    /// @dev The assembly Merkle root over calldata siblings, elided ones from ZERO_HASHES.
    function rootOf(uint32 index, bytes32 content, uint256 mask, bytes calldata siblings)
        external
        view
        returns (bytes32)
    {
        bytes memory zeroHashes = C.ZERO_HASHES;
        uint256 offset;
        uint256 zeros;
        assembly {
            offset := siblings.offset
            zeros := add(zeroHashes, 0x20)
        }
        return root(index, content, mask, offset, zeros);
    }

    /// @dev splice, exposed.
    function spliceOf(bytes32 target, uint256 at, bytes32 src, uint256 from, uint256 len)
        external
        pure
        returns (bytes32)
    {
        return splice(target, at, src, from, len);
    }
}

/// @notice The step verifier against the Rust vectors (`test/vectors/steps.json`): equal
/// post-states, equal constants, tampering always detected (data-oracle preimages included),
/// decode refusals, gas.
/// @dev Note: the vectors are loaded once in setUp into storage, so fuzz runs stay fast.
contract RiscvStepTest is TestBase {
    string internal constant VECTORS = "test/vectors/steps.json";

    RiscvStepHarness internal verifier;
    string[] internal names;
    bytes[] internal states;
    bytes[] internal proofs;
    bytes32[] internal posts;
    /// @dev Vectors with a non-empty proof.
    uint256[] internal withProof;
    /// @dev Vectors whose proof carries an input chunk right after the fetch proof.
    uint256[] internal withChunk;
    /// @dev Vectors of a `preimage` read: fetch proof, data-leaf proof, then the preimage.
    uint256[] internal withPreimage;
    /// @dev Each vector's proof items in order: M memory proof, I input chunk, P preimage.
    string[] internal shapes;

    function setUp() public {
        verifier = new RiscvStepHarness();
        string memory json = vm.readFile(VECTORS);
        names = vm.parseJsonStringArray(json, ".names");
        bytes[] memory s = vm.parseJsonBytesArray(json, ".stateData");
        bytes[] memory p = vm.parseJsonBytesArray(json, ".proofs");
        bytes32[] memory h = vm.parseJsonBytes32Array(json, ".posts");
        string[] memory k = vm.parseJsonStringArray(json, ".shapes");
        require(s.length == names.length && p.length == names.length && h.length == names.length);
        require(k.length == names.length);
        for (uint256 i = 0; i < s.length; ++i) {
            states.push(s[i]);
            proofs.push(p[i]);
            posts.push(h[i]);
            shapes.push(k[i]);
            bytes32 shape = keccak256(bytes(k[i]));
            if (p[i].length != 0) withProof.push(i);
            if (shape == keccak256("MI") || shape == keccak256("MIM")) withChunk.push(i);
            if (shape == keccak256("MMP")) withPreimage.push(i);
        }
    }

    /// @dev Bytes of the memory proof at `at` in `proof`: the mask, the leaf, and one sibling
    /// per clear mask bit.
    function memoryProofLen(bytes memory proof, uint256 at) internal pure returns (uint256) {
        uint256 mask = uint32(bytes4(slice(proof, at, 4)));
        uint256 elided;
        for (uint256 b = 0; b < C.MERKLE_DEPTH; ++b) {
            elided += (mask >> b) & 1;
        }
        return C.MASK_LEN + 32 * (1 + C.MERKLE_DEPTH - elided);
    }

    /// @dev `proof` (items as in `shape`) with every memory proof sent in full (mask 0): the
    /// elided siblings written out from ZERO_HASHES.
    function unelided(bytes memory proof, string memory shape)
        internal
        pure
        returns (bytes memory out)
    {
        bytes memory zeros = C.ZERO_HASHES;
        uint256 at;
        for (uint256 k = 0; k < bytes(shape).length; ++k) {
            bytes1 item = bytes(shape)[k];
            if (item == "I" || item == "P") {
                uint256 len = item == "I" ? C.CHUNK_PROOF_LEN : C.PREIMAGE_LEN;
                out = bytes.concat(out, slice(proof, at, len));
                at += len;
                continue;
            }
            uint256 mask = uint32(bytes4(slice(proof, at, 4)));
            out = bytes.concat(out, bytes4(0), slice(proof, at + 4, 32)); // mask 0, the leaf
            at += 36;
            for (uint256 b = 0; b < C.MERKLE_DEPTH; ++b) {
                if ((mask >> b) & 1 == 1) {
                    out = bytes.concat(out, slice(zeros, 32 * b, 32));
                } else {
                    out = bytes.concat(out, slice(proof, at, 32));
                    at += 32;
                }
            }
        }
        require(at == proof.length, "shape does not match the proof");
    }

    /*//////////////////////////////////////////////////////////////
                               VECTORS
    //////////////////////////////////////////////////////////////*/

    /// @dev Every vector's post-state equals the Rust verifier's.
    function test_vectorsMatchRust() public view {
        vm.assertTrue(names.length > 0, "no vectors");
        for (uint256 i = 0; i < names.length; ++i) {
            bytes32 post = verifier.step(states[i], proofs[i]);
            vm.assertEq(post, posts[i], names[i]);
        }
    }

    /// @dev Every constant the Rust side exports equals ours, and we know every one of them.
    function test_constantsMatchRust() public view {
        string memory json = vm.readFile(VECTORS);
        string[] memory keys = vm.parseJsonKeys(json, ".constants");
        vm.assertTrue(keys.length >= 3, "too few constants");
        for (uint256 i = 0; i < keys.length; ++i) {
            uint256 rust = vm.parseJsonUint(json, string.concat(".constants.", keys[i]));
            vm.assertEq(constant_(keys[i]), rust, keys[i]);
        }
    }

    /// @dev The zero-subtree roots (ZERO_HASHES) equal the Rust table.
    function test_zeroHashesMatchRust() public view {
        bytes32[] memory rust = vm.parseJsonBytes32Array(vm.readFile(VECTORS), ".zeroHashes");
        vm.assertEq(rust.length, C.MERKLE_DEPTH, "zero hashes");
        vm.assertEq(C.ZERO_HASHES.length, 32 * C.MERKLE_DEPTH, "ZERO_HASHES length");
        for (uint256 h = 0; h < rust.length; ++h) {
            vm.assertEq(bytes32(slice(C.ZERO_HASHES, 32 * h, 32)), rust[h], "zero hash");
        }
    }

    /// @dev Every vector's proof with nothing elided (mask 0) gives the same post-state: any
    /// mask that verifies is accepted, as in Rust.
    function test_unelidedProofsAreAccepted() public view {
        for (uint256 i = 0; i < names.length; ++i) {
            bytes memory full = unelided(proofs[i], shapes[i]);
            vm.assertEq(verifier.step(states[i], full), posts[i], names[i]);
        }
    }

    /// @dev A mask bit above MERKLE_DEPTH reverts with ProofMask, in any memory proof.
    function testFuzz_maskHighBitReverts(uint256 which, uint8 bit) public {
        uint256 i = withProof[which % withProof.length];
        bytes memory proof = proofs[i];
        uint256 b = C.MERKLE_DEPTH + bit % (32 - C.MERKLE_DEPTH);
        // The fetch proof's mask is the first 4 bytes (bit 24 and up in byte 0).
        proof[0] |= bytes1(uint8(1 << (b - 24)));
        uint32 mask = uint32(bytes4(slice(proof, 0, 4)));
        vm.expectRevert(abi.encodeWithSelector(ProofMask.selector, mask));
        verifier.step(states[i], proof);
    }

    /// @dev Our value of the constant `name`; reverts for a name we do not define.
    function constant_(string memory name) internal pure returns (uint256) {
        bytes32 k = keccak256(bytes(name));
        if (k == keccak256("STATE_LEN")) return C.STATE_LEN;
        if (k == keccak256("MASK_LEN")) return C.MASK_LEN;
        if (k == keccak256("MAX_PROOF_LEN")) return C.MAX_PROOF_LEN;
        if (k == keccak256("CHUNK_PROOF_LEN")) return C.CHUNK_PROOF_LEN;
        if (k == keccak256("MEMORY_ROOT")) return C.MEMORY_ROOT;
        if (k == keccak256("INPUT_LINK")) return C.INPUT_LINK;
        if (k == keccak256("OUTPUT_ACC")) return C.OUTPUT_ACC;
        if (k == keccak256("OUTPUT_TAIL")) return C.OUTPUT_TAIL;
        if (k == keccak256("PC")) return C.PC;
        if (k == keccak256("INPUT_CURSOR")) return C.INPUT_CURSOR;
        if (k == keccak256("OUTPUT_LEN")) return C.OUTPUT_LEN;
        if (k == keccak256("STEP")) return C.STEP;
        if (k == keccak256("STATUS")) return C.STATUS;
        if (k == keccak256("EXIT_CODE")) return C.EXIT_CODE;
        if (k == keccak256("REGS")) return C.REGS;
        if (k == keccak256("REG_COUNT")) return C.REG_COUNT;
        if (k == keccak256("LEAF_SIZE")) return C.LEAF_SIZE;
        if (k == keccak256("LEAF_SIZE_LOG2")) return C.LEAF_SIZE_LOG2;
        if (k == keccak256("CHUNK_LEN")) return C.CHUNK_LEN;
        if (k == keccak256("MERKLE_DEPTH")) return C.MERKLE_DEPTH;
        if (k == keccak256("SYS_READ")) return C.SYS_READ;
        if (k == keccak256("SYS_WRITE")) return C.SYS_WRITE;
        if (k == keccak256("SYS_EXIT")) return C.SYS_EXIT;
        if (k == keccak256("SYS_EXIT_GROUP")) return C.SYS_EXIT_GROUP;
        if (k == keccak256("SYS_PREIMAGE")) return C.SYS_PREIMAGE;
        if (k == keccak256("PREIMAGE_LEN")) return C.PREIMAGE_LEN;
        if (k == keccak256("EINVAL")) return C.EINVAL;
        if (k == keccak256("FD_STDIN")) return C.FD_STDIN;
        if (k == keccak256("FD_STDOUT")) return C.FD_STDOUT;
        if (k == keccak256("FD_STDERR")) return C.FD_STDERR;
        if (k == keccak256("EBADF")) return C.EBADF;
        if (k == keccak256("ENOSYS")) return C.ENOSYS;
        if (k == keccak256("REG_A0")) return C.REG_A0;
        if (k == keccak256("REG_A1")) return C.REG_A1;
        if (k == keccak256("REG_A2")) return C.REG_A2;
        if (k == keccak256("REG_A7")) return C.REG_A7;
        if (k == keccak256("STATUS_RUNNING")) return C.STATUS_RUNNING;
        if (k == keccak256("STATUS_EXITED")) return C.STATUS_EXITED;
        if (k == keccak256("STATUS_TRAPPED")) return C.STATUS_TRAPPED;
        if (k == keccak256("TRAP_ILLEGAL_INSTRUCTION")) return C.TRAP_ILLEGAL_INSTRUCTION;
        if (k == keccak256("TRAP_BREAKPOINT")) return C.TRAP_BREAKPOINT;
        if (k == keccak256("TRAP_MISALIGNED_FETCH")) return C.TRAP_MISALIGNED_FETCH;
        if (k == keccak256("TRAP_MISALIGNED_LOAD")) return C.TRAP_MISALIGNED_LOAD;
        if (k == keccak256("TRAP_MISALIGNED_STORE")) return C.TRAP_MISALIGNED_STORE;
        revert(string.concat("constant not defined in VmConstants.sol: ", name));
    }

    /*//////////////////////////////////////////////////////////////
                           TAMPERING (FUZZ)
    //////////////////////////////////////////////////////////////*/

    /// @dev `step` on tampered data reverts or gives a post-state other than `honest`.
    function assertNotHonest(
        bytes memory state,
        bytes memory proof,
        bytes32 honest,
        string memory what
    ) internal view {
        try verifier.step(state, proof) returns (bytes32 post) {
            vm.assertNotEq(post, honest, what);
        } catch {}
    }

    /// @dev Any changed byte of the packed state changes the post-state or reverts, except a
    /// byte of the register the step overwrites (`rd`, or `a0` of an `ecall`): the step
    /// discards its old value, so both pre-states lead to the same post-state. That is sound:
    /// the game binds the pre-state by its hash, and the two pre-states hash differently.
    function testFuzz_stateByteChangeIsDetected(uint256 which, uint256 pos, uint8 flip)
        public
        view
    {
        vm.assume(flip != 0);
        uint256 i = which % names.length;
        bytes memory state = states[i];
        pos %= state.length;
        state[pos] ^= bytes1(flip);
        try verifier.step(state, proofs[i]) returns (bytes32 post) {
            if (post == posts[i]) {
                uint256 rd = overwritten(i);
                vm.assertTrue(
                    rd != 0 && pos >= C.REGS + 4 * rd && pos < C.REGS + 4 * rd + 4, names[i]
                );
            }
        } catch {}
    }

    /// @dev The register vector `i`'s instruction overwrites whatever it held (0 if none).
    function overwritten(uint256 i) internal view returns (uint256) {
        bytes memory proof = proofs[i];
        if (proof.length == 0) return 0; // halted or misaligned pc: nothing is written
        uint256 pc = uint32(bytes4(slice(states[i], C.PC, 4)));
        uint256 at = C.MASK_LEN + pc % 32; // the fetch leaf follows its mask
        uint32 word = uint32(uint8(proof[at])) | uint32(uint8(proof[at + 1])) << 8
            | uint32(uint8(proof[at + 2])) << 16 | uint32(uint8(proof[at + 3])) << 24;
        if (word == 0x73) return C.REG_A0; // ecall: a0 takes the result
        uint32 opcode = word & 0x7f;
        // OP, OP-IMM, LUI, AUIPC, JAL, JALR, LOAD write rd.
        if (
            opcode == 0x33 || opcode == 0x13 || opcode == 0x37 || opcode == 0x17 || opcode == 0x6f
                || opcode == 0x67 || opcode == 0x03
        ) return (word >> 7) & 31;
        return 0;
    }

    /// @dev Any changed byte of the proof (a leaf, a sibling, an input chunk).
    function testFuzz_proofByteChangeIsDetected(uint256 which, uint256 pos, uint8 flip)
        public
        view
    {
        vm.assume(flip != 0);
        uint256 i = withProof[which % withProof.length];
        bytes memory proof = proofs[i];
        proof[pos % proof.length] ^= bytes1(flip);
        assertNotHonest(states[i], proof, posts[i], names[i]);
    }

    /// @dev Any changed byte of the input chunk of a `read` step.
    function testFuzz_inputChunkChangeIsDetected(uint256 which, uint256 pos, uint8 flip) public {
        vm.assume(flip != 0);
        vm.assertTrue(withChunk.length > 0, "no vector with an input chunk");
        uint256 i = withChunk[which % withChunk.length];
        bytes memory proof = proofs[i];
        proof[memoryProofLen(proof, 0) + pos % C.CHUNK_PROOF_LEN] ^= bytes1(flip);
        vm.expectRevert(InputLink.selector);
        verifier.step(states[i], proof);
    }

    /// @dev A proof with bytes missing or left over reverts.
    function testFuzz_proofLengthChangeReverts(uint256 which, uint256 cut, bytes memory extra)
        public
    {
        uint256 i = which % names.length;
        bytes memory proof = proofs[i];
        if (extra.length == 0 && proof.length > 0) {
            uint256 keep = cut % proof.length;
            assembly {
                mstore(proof, keep) // truncate in place
            }
            // The step runs out of proof at the item that `keep` cuts (ProofTooShort).
            vm.expectRevert();
        } else {
            vm.assume(extra.length > 0);
            vm.expectRevert(
                abi.encodeWithSelector(
                    ProofTooLong.selector, proof.length, proof.length + extra.length
                )
            );
            proof = bytes.concat(proof, extra);
        }
        verifier.step(states[i], proof);
    }

    /*//////////////////////////////////////////////////////////////
                       DATA ORACLE TAMPERING (FUZZ)
    //////////////////////////////////////////////////////////////*/

    /// @dev A preimage vector, chosen by `which`, with its `buf` (a0) and `half` (a1).
    function preimageVector(uint256 which)
        internal
        view
        returns (uint256 i, uint32 buf, uint32 half)
    {
        vm.assertTrue(withPreimage.length >= 2, "too few preimage vectors");
        i = withPreimage[which % withPreimage.length];
        buf = uint32(bytes4(slice(states[i], C.REGS + 4 * C.REG_A0, 4)));
        half = uint32(bytes4(slice(states[i], C.REGS + 4 * C.REG_A1, 4)));
    }

    /// @dev Any changed byte of the preimage: its SHA-256 is no longer the key.
    function testFuzz_preimageByteChangeReverts(uint256 which, uint256 pos, uint8 flip) public {
        vm.assume(flip != 0);
        (uint256 i, uint32 buf,) = preimageVector(which);
        bytes memory proof = proofs[i];
        proof[proof.length - C.PREIMAGE_LEN + pos % C.PREIMAGE_LEN] ^= bytes1(flip);
        vm.expectRevert(abi.encodeWithSelector(PreimageKey.selector, buf));
        verifier.step(states[i], proof);
    }

    /// @dev The preimage's halves swapped (both halves true data, in the wrong order).
    function test_preimageHalvesSwappedRevert() public {
        for (uint256 k = 0; k < withPreimage.length; ++k) {
            (uint256 i, uint32 buf,) = preimageVector(k);
            bytes memory proof = proofs[i];
            uint256 at = proof.length - C.PREIMAGE_LEN;
            bytes memory swapped =
                bytes.concat(slice(proof, 0, at), slice(proof, at + 32, 32), slice(proof, at, 32));
            vm.expectRevert(abi.encodeWithSelector(PreimageKey.selector, buf));
            verifier.step(states[i], swapped);
        }
    }

    /// @dev Another `half` in the pre-state: the other half (a different post-state), or a
    /// refusal (`-EINVAL`, which takes no data proof, so the proof has bytes left over).
    function testFuzz_preimageHalfChangeIsDetected(uint256 which, uint32 other) public view {
        (uint256 i,, uint32 half) = preimageVector(which);
        vm.assume(other != half);
        bytes memory state = states[i];
        uint256 at = C.REGS + 4 * C.REG_A1;
        for (uint256 b = 0; b < 4; ++b) {
            state[at + b] = bytes1(uint8(other >> (8 * (3 - b))));
        }
        assertNotHonest(state, proofs[i], posts[i], names[i]);
        if (other > 1) {
            try verifier.step(state, proofs[i]) returns (bytes32) {
                revert("an invalid half must leave proof bytes over");
            } catch {}
        }
    }

    /// @dev Any changed byte of the data leaf holding the key (or of its siblings): the leaf no
    /// longer proves against the memory root, whatever the preimage. (A changed mask byte is
    /// covered by testFuzz_proofByteChangeIsDetected.)
    function testFuzz_preimageKeyLeafChangeReverts(uint256 which, uint256 pos, uint8 flip) public {
        vm.assume(flip != 0);
        (uint256 i, uint32 buf,) = preimageVector(which);
        bytes memory proof = proofs[i];
        uint256 at = memoryProofLen(proof, 0) + C.MASK_LEN; // the key leaf, after its mask
        proof[at + pos % (proof.length - C.PREIMAGE_LEN - at)] ^= bytes1(flip);
        vm.expectRevert(abi.encodeWithSelector(MemoryRoot.selector, buf >> 5));
        verifier.step(states[i], proof);
    }

    /// @dev A preimage cut short (or missing), or followed by extra bytes.
    function testFuzz_preimageLengthChangeReverts(uint256 which, uint256 cut, bytes memory extra)
        public
    {
        (uint256 i,,) = preimageVector(which);
        bytes memory proof = proofs[i];
        uint256 at = proof.length - C.PREIMAGE_LEN;
        if (extra.length == 0) {
            uint256 keep = at + cut % C.PREIMAGE_LEN;
            assembly {
                mstore(proof, keep) // truncate in place
            }
            vm.expectRevert(abi.encodeWithSelector(ProofTooShort.selector, at, C.PREIMAGE_LEN));
        } else {
            vm.expectRevert(
                abi.encodeWithSelector(
                    ProofTooLong.selector, proof.length, proof.length + extra.length
                )
            );
            proof = bytes.concat(proof, extra);
        }
        verifier.step(states[i], proof);
    }

    /*//////////////////////////////////////////////////////////////
                            STATE DECODING
    //////////////////////////////////////////////////////////////*/

    function firstRunning() internal view returns (uint256 i) {
        for (i = 0; i < states.length; ++i) {
            if (uint8(states[i][C.STATUS]) == C.STATUS_RUNNING && proofs[i].length > 0) return i;
        }
        revert("no running vector");
    }

    function test_wrongStateLengthReverts() public {
        uint256 i = firstRunning();
        bytes memory state = bytes.concat(states[i], hex"00");
        vm.expectRevert(abi.encodeWithSelector(StateLength.selector, 282));
        verifier.step(state, proofs[i]);
    }

    function test_badStatusReverts() public {
        uint256 i = firstRunning();
        bytes memory state = states[i];
        state[C.STATUS] = bytes1(uint8(3));
        vm.expectRevert(abi.encodeWithSelector(StateStatus.selector, 3, 0));
        verifier.step(state, proofs[i]);
        // Running with a non-zero code.
        state = states[i];
        state[C.EXIT_CODE + 3] = bytes1(uint8(1));
        vm.expectRevert(abi.encodeWithSelector(StateStatus.selector, 0, 1));
        verifier.step(state, proofs[i]);
        // Trapped with a code that names no trap cause.
        state[C.STATUS] = bytes1(C.STATUS_TRAPPED);
        state[C.EXIT_CODE + 3] = bytes1(uint8(6));
        vm.expectRevert(abi.encodeWithSelector(StateStatus.selector, 2, 6));
        verifier.step(state, "");
    }

    function test_nonZeroX0Reverts() public {
        uint256 i = firstRunning();
        bytes memory state = states[i];
        state[C.REGS + 3] = bytes1(uint8(1));
        vm.expectRevert(StateNonZeroX0.selector);
        verifier.step(state, proofs[i]);
    }

    function test_outputTailPaddingReverts() public {
        uint256 i = firstRunning();
        bytes memory state = states[i];
        // output_len % 32 == 3: the tail's bytes 3.. must be zero.
        state[C.OUTPUT_LEN + 3] = bytes1(uint8(3));
        state[C.OUTPUT_TAIL + 3] = bytes1(uint8(1));
        vm.expectRevert(StateOutputTailPadding.selector);
        verifier.step(state, proofs[i]);
    }

    function test_wrongMemoryRootReverts() public {
        uint256 i = firstRunning();
        bytes memory state = states[i];
        state[C.MEMORY_ROOT] ^= bytes1(uint8(1));
        uint32 pc = uint32(bytes4(slice(state, C.PC, 4)));
        vm.expectRevert(abi.encodeWithSelector(MemoryRoot.selector, pc >> 5));
        verifier.step(state, proofs[i]);
    }

    function test_haltedStateIsAFixedPoint() public view {
        for (uint256 i = 0; i < states.length; ++i) {
            if (uint8(states[i][C.STATUS]) != C.STATUS_RUNNING) {
                vm.assertEq(verifier.step(states[i], ""), sha256(states[i]), names[i]);
            }
        }
    }

    function slice(bytes memory data, uint256 from, uint256 len)
        internal
        pure
        returns (bytes memory out)
    {
        out = new bytes(len);
        for (uint256 j = 0; j < len; ++j) {
            out[j] = data[from + j];
        }
    }

    /*//////////////////////////////////////////////////////////////
                       ASSEMBLY VS PLAIN REFERENCE
    //////////////////////////////////////////////////////////////*/

    /// @dev The assembly Merkle root equals a plain Solidity `root_with_leaf`.
    function testFuzz_rootMatchesReference(uint32 index, bytes32 content, bytes32 seed)
        public
        view
    {
        uint256 mask = uint256(seed) & ((1 << C.MERKLE_DEPTH) - 1);
        bytes memory siblings;
        bytes32 node = content;
        for (uint256 level = 0; level < C.MERKLE_DEPTH; ++level) {
            bytes32 sibling = keccak256(abi.encode(seed, level));
            if ((mask >> level) & 1 == 1) {
                sibling = bytes32(slice(C.ZERO_HASHES, 32 * level, 32));
            } else {
                siblings = bytes.concat(siblings, sibling);
            }
            node = (index >> level) & 1 == 1
                ? sha256(abi.encodePacked(sibling, node))
                : sha256(abi.encodePacked(node, sibling));
        }
        vm.assertEq(verifier.rootOf(index, content, mask, siblings), node, "root");
    }

    /// @dev splice equals a byte-by-byte copy.
    function testFuzz_spliceMatchesReference(
        bytes32 target,
        bytes32 src,
        uint256 at,
        uint256 from,
        uint256 len
    ) public view {
        len = 1 + len % 32;
        at = at % (33 - len);
        from = from % (33 - len);
        bytes memory t = abi.encodePacked(target);
        for (uint256 j = 0; j < len; ++j) {
            t[at + j] = src[from + j];
        }
        vm.assertEq(verifier.spliceOf(target, at, src, from, len), bytes32(t), "splice");
    }
}
