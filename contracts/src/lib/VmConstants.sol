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
    /// @dev Bytes of one memory proof: the leaf, then MERKLE_DEPTH siblings bottom up.
    uint256 internal constant PROOF_LEN = 896;
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
