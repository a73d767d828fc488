// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {TestBase} from "./utils/Vm.sol";
import {RiscvStep} from "../src/RiscvStep.sol";
import {VmConstants as C} from "../src/lib/VmConstants.sol";
import {
    InputLink,
    MemoryRoot,
    PreimageKey,
    ProofTooLong,
    ProofTooShort,
    StateLength,
    StateNonZeroX0,
    StateOutputTailPadding,
    StateStatus
} from "../src/lib/Errors.sol";

/// @notice Exposes RiscvStep internals for differential tests.
contract RiscvStepHarness is RiscvStep {
    /// @dev The assembly Merkle root over calldata siblings.
    function rootOf(uint32 index, bytes32 content, bytes calldata siblings)
        external
        view
        returns (bytes32)
    {
        uint256 offset;
        assembly {
            offset := siblings.offset
        }
        return root(index, content, offset);
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

    function setUp() public {
        verifier = new RiscvStepHarness();
        string memory json = vm.readFile(VECTORS);
        names = vm.parseJsonStringArray(json, ".names");
        bytes[] memory s = vm.parseJsonBytesArray(json, ".stateData");
        bytes[] memory p = vm.parseJsonBytesArray(json, ".proofs");
        bytes32[] memory h = vm.parseJsonBytes32Array(json, ".posts");
        require(s.length == names.length && p.length == names.length && h.length == names.length);
        for (uint256 i = 0; i < s.length; ++i) {
            states.push(s[i]);
            proofs.push(p[i]);
            posts.push(h[i]);
            if (p[i].length != 0) withProof.push(i);
            if (p[i].length % C.PROOF_LEN == C.CHUNK_PROOF_LEN) withChunk.push(i);
            if (p[i].length == 2 * C.PROOF_LEN + C.PREIMAGE_LEN) withPreimage.push(i);
        }
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

    /// @dev Our value of the constant `name`; reverts for a name we do not define.
    function constant_(string memory name) internal pure returns (uint256) {
        bytes32 k = keccak256(bytes(name));
        if (k == keccak256("STATE_LEN")) return C.STATE_LEN;
        if (k == keccak256("PROOF_LEN")) return C.PROOF_LEN;
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
        uint256 at = pc % 32;
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
        proof[C.PROOF_LEN + pos % C.CHUNK_PROOF_LEN] ^= bytes1(flip);
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
        proof[2 * C.PROOF_LEN + pos % C.PREIMAGE_LEN] ^= bytes1(flip);
        vm.expectRevert(abi.encodeWithSelector(PreimageKey.selector, buf));
        verifier.step(states[i], proof);
    }

    /// @dev The preimage's halves swapped (both halves true data, in the wrong order).
    function test_preimageHalvesSwappedRevert() public {
        for (uint256 k = 0; k < withPreimage.length; ++k) {
            (uint256 i, uint32 buf,) = preimageVector(k);
            bytes memory proof = proofs[i];
            uint256 at = 2 * C.PROOF_LEN;
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
    /// longer proves against the memory root, whatever the preimage.
    function testFuzz_preimageKeyLeafChangeReverts(uint256 which, uint256 pos, uint8 flip) public {
        vm.assume(flip != 0);
        (uint256 i, uint32 buf,) = preimageVector(which);
        bytes memory proof = proofs[i];
        proof[C.PROOF_LEN + pos % C.PROOF_LEN] ^= bytes1(flip);
        vm.expectRevert(abi.encodeWithSelector(MemoryRoot.selector, buf >> 5));
        verifier.step(states[i], proof);
    }

    /// @dev A preimage cut short (or missing), or followed by extra bytes.
    function testFuzz_preimageLengthChangeReverts(uint256 which, uint256 cut, bytes memory extra)
        public
    {
        (uint256 i,,) = preimageVector(which);
        bytes memory proof = proofs[i];
        uint256 at = 2 * C.PROOF_LEN;
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
        bytes memory siblings = new bytes(32 * C.MERKLE_DEPTH);
        bytes32 node = content;
        for (uint256 level = 0; level < C.MERKLE_DEPTH; ++level) {
            bytes32 sibling = keccak256(abi.encode(seed, level));
            assembly {
                mstore(add(add(siblings, 32), shl(5, level)), sibling)
            }
            node = (index >> level) & 1 == 1
                ? sha256(abi.encodePacked(sibling, node))
                : sha256(abi.encodePacked(node, sibling));
        }
        vm.assertEq(verifier.rootOf(index, content, siblings), node, "root");
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
