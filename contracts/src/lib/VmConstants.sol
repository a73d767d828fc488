// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title VmConstants
/// @notice Every number the opml VM fixes, in one place: the packed state layout, proof item
/// sizes, the memory tree, syscall numbers, file descriptors, errno values, status bytes and
/// trap causes.
/// @dev Note: these mirror `framework/platform` and `framework/state` (Rust). The forge vector
/// test (`test/StepVectors.t.sol`) asserts each against the constants the Rust vector
/// generator writes into `test/vectors/steps.json`, so the two sides cannot drift silently.
library VmConstants {
    /*//////////////////////////////////////////////////////////////
                          PACKED STATE LAYOUT
    //////////////////////////////////////////////////////////////*/
    // Mirrors `opml_state::state::layout`. Integers are big-endian.

    /// @dev Offset of the memory Merkle root (32 bytes).
    uint256 internal constant MEMORY_ROOT = 0;
    /// @dev Offset of the input chain link (32 bytes).
    uint256 internal constant INPUT_LINK = 32;
    /// @dev Offset of the output accumulator (32 bytes).
    uint256 internal constant OUTPUT_ACC = 64;
    /// @dev Offset of the pending output bytes (32 bytes, zero padded).
    uint256 internal constant OUTPUT_TAIL = 96;
    /// @dev Offset of the program counter (4 bytes).
    uint256 internal constant PC = 128;
    /// @dev Offset of the input cursor (4 bytes).
    uint256 internal constant INPUT_CURSOR = 132;
    /// @dev Offset of the output length (4 bytes).
    uint256 internal constant OUTPUT_LEN = 136;
    /// @dev Offset of the step counter (8 bytes).
    uint256 internal constant STEP = 140;
    /// @dev Offset of the status byte.
    uint256 internal constant STATUS = 148;
    /// @dev Offset of the exit code (4 bytes).
    uint256 internal constant EXIT_CODE = 149;
    /// @dev Offset of register x0; register i is at REGS + 4 * i (4 bytes each).
    uint256 internal constant REGS = 153;
    /// @dev Number of integer registers.
    uint256 internal constant REG_COUNT = 32;
    /// @dev Length of the packed state.
    uint256 internal constant STATE_LEN = 281;

    /*//////////////////////////////////////////////////////////////
                          MEMORY AND PROOF ITEMS
    //////////////////////////////////////////////////////////////*/

    /// @dev Bytes per memory leaf (and per input / output chunk).
    uint256 internal constant LEAF_SIZE = 32;
    /// @dev log2(LEAF_SIZE): leaf index = address >> LEAF_SIZE_LOG2.
    uint256 internal constant LEAF_SIZE_LOG2 = 5;
    /// @dev Levels of the memory Merkle tree above the leaves.
    uint256 internal constant MERKLE_DEPTH = 27;
    /// @dev Bytes of the elision mask that starts a memory proof (big-endian; bit i set: the
    /// sibling at height i is ZERO_HASHES[i], left out of the proof).
    uint256 internal constant MASK_LEN = 4;
    /// @dev Bytes of the longest memory proof (nothing elided): the mask, the leaf, then
    /// MERKLE_DEPTH siblings bottom up.
    uint256 internal constant MAX_PROOF_LEN = 900;
    /// @dev ZERO_HASHES[h], h = 0..MERKLE_DEPTH-1: the root of an all-zero subtree of height h
    /// (`opml_state::merkle::ZERO_HASHES`; test/RiscvStep.t.sol checks them against the Rust
    /// vectors), 32 bytes each, height 0 first.
    bytes internal constant ZERO_HASHES = hex"0000000000000000000000000000000000000000000000000000000000000000"
        hex"f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b"
        hex"db56114e00fdd4c1f85c892bf35ac9a89289aaecb1ebd0a96cde606a748b5d71"
        hex"c78009fdf07fc56a11f122370658a353aaa542ed63e44c4bc15ff4cd105ab33c"
        hex"536d98837f2dd165a55d5eeae91485954472d56f246df256bf3cae19352a123c"
        hex"9efde052aa15429fae05bad4d0b1d7c64da64d03d7a1854a588c2cb8430c0d30"
        hex"d88ddfeed400a8755596b21942c1497e114c302e6118290f91e6772976041fa1"
        hex"87eb0ddba57e35f6d286673802a4af5975e22506c7cf4c64bb6be5ee11527f2c"
        hex"26846476fd5fc54a5d43385167c95144f2643f533cc85bb9d16b782f8d7db193"
        hex"506d86582d252405b840018792cad2bf1259f1ef5aa5f887e13cb2f0094f51e1"
        hex"ffff0ad7e659772f9534c195c815efc4014ef1e1daed4404c06385d11192e92b"
        hex"6cf04127db05441cd833107a52be852868890e4317e6a02ab47683aa75964220"
        hex"b7d05f875f140027ef5118a2247bbb84ce8f2f0f1123623085daf7960c329f5f"
        hex"df6af5f5bbdb6be9ef8aa618e4bf8073960867171e29676f8b284dea6a08a85e"
        hex"b58d900f5e182e3c50ef74969ea16c7726c549757cc23523c369587da7293784"
        hex"d49a7502ffcfb0340b1d7885688500ca308161a7f96b62df9d083b71fcc8f2bb"
        hex"8fe6b1689256c0d385f42f5bbe2027a22c1996e110ba97c171d3e5948de92beb"
        hex"8d0d63c39ebade8509e0ae3c9c3876fb5fa112be18f905ecacfecb92057603ab"
        hex"95eec8b2e541cad4e91de38385f2e046619f54496c2382cb6cacd5b98c26f5a4"
        hex"f893e908917775b62bff23294dbbe3a1cd8e6cc1c35b4801887b646a6f81f17f"
        hex"cddba7b592e3133393c16194fac7431abf2f5485ed711db282183c819e08ebaa"
        hex"8a8d7fe3af8caa085a7639a832001457dfb9128a8061142ad0335629ff23ff9c"
        hex"feb3c337d7a51a6fbf00b9e34c52e1c9195c969bd4e7a0bfd51d5c5bed9c1167"
        hex"e71f0aa83cc32edfbefa9f4d3e0174ca85182eec9f3a09f6a6c0df6377a510d7"
        hex"31206fa80a50bb6abe29085058f16212212a60eec8f049fecb92d8c8e0a84bc0"
        hex"21352bfecbeddde993839f614c3dac0a3ee37543f9b412b16199dc158e23b544"
        hex"619e312724bb6d7c3153ed9de791d764a366b389af13c58bf8a8d90481a46765";
    /// @dev Bytes of one input chunk proof: be32(remaining) ‖ chunk ‖ next.
    uint256 internal constant CHUNK_PROOF_LEN = 68;
    /// @dev Bytes of one data-oracle preimage (two leaves; its SHA-256 is the key).
    uint256 internal constant PREIMAGE_LEN = 64;
    /// @dev Bytes of input data per chunk.
    uint256 internal constant CHUNK_LEN = 32;

    /*//////////////////////////////////////////////////////////////
                        SYSCALLS AND REGISTERS
    //////////////////////////////////////////////////////////////*/

    /// @dev `read(fd, buf, len)`.
    uint32 internal constant SYS_READ = 63;
    /// @dev `write(fd, buf, len)`.
    uint32 internal constant SYS_WRITE = 64;
    /// @dev `exit(code)`.
    uint32 internal constant SYS_EXIT = 93;
    /// @dev `exit_group(code)`.
    uint32 internal constant SYS_EXIT_GROUP = 94;
    /// @dev `preimage(buf, half)`: the data oracle (outside Linux's syscall numbers).
    uint32 internal constant SYS_PREIMAGE = 0x10000;
    /// @dev The input stream.
    uint32 internal constant FD_STDIN = 0;
    /// @dev The public output.
    uint32 internal constant FD_STDOUT = 1;
    /// @dev The debug log (not committed).
    uint32 internal constant FD_STDERR = 2;
    /// @dev Bad file descriptor (returned negated).
    uint32 internal constant EBADF = 9;
    /// @dev Invalid argument: `preimage` with a misaligned `buf` or `half > 1` (negated).
    uint32 internal constant EINVAL = 22;
    /// @dev Unknown syscall (returned negated).
    uint32 internal constant ENOSYS = 38;
    /// @dev First argument and result register.
    uint256 internal constant REG_A0 = 10;
    /// @dev Second argument register.
    uint256 internal constant REG_A1 = 11;
    /// @dev Third argument register.
    uint256 internal constant REG_A2 = 12;
    /// @dev Syscall number register.
    uint256 internal constant REG_A7 = 17;

    /*//////////////////////////////////////////////////////////////
                          STATUS AND TRAP CAUSES
    //////////////////////////////////////////////////////////////*/

    /// @dev Status byte: the machine can step.
    uint8 internal constant STATUS_RUNNING = 0;
    /// @dev Status byte: the guest called exit; exit code = its a0.
    uint8 internal constant STATUS_EXITED = 1;
    /// @dev Status byte: the machine trapped; exit code = trap cause.
    uint8 internal constant STATUS_TRAPPED = 2;
    /// @dev Trap: the word at pc is not an RV32IM instruction.
    uint32 internal constant TRAP_ILLEGAL_INSTRUCTION = 1;
    /// @dev Trap: `ebreak`.
    uint32 internal constant TRAP_BREAKPOINT = 2;
    /// @dev Trap: a misaligned pc, jump target or taken-branch target.
    uint32 internal constant TRAP_MISALIGNED_FETCH = 3;
    /// @dev Trap: a misaligned halfword or word load.
    uint32 internal constant TRAP_MISALIGNED_LOAD = 4;
    /// @dev Trap: a misaligned halfword or word store.
    uint32 internal constant TRAP_MISALIGNED_STORE = 5;
}
