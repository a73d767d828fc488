// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

// Errors of the step verifier. They mirror `opml_proof::VerifyError` and
// `opml_state::StateDecodeError` (Rust), one custom error per variant.

/// @notice The packed pre-state is not STATE_LEN (281) bytes long.
/// @param len The length given.
error StateLength(uint256 len);

/// @notice The status byte and exit code are not a combination the VM produces (running with a
/// non-zero code, an unknown status byte, or a trap code that names no trap cause).
/// @param status The status byte.
/// @param exitCode The exit code.
error StateStatus(uint8 status, uint32 exitCode);

/// @notice Register x0 of the pre-state is not zero.
error StateNonZeroX0();

/// @notice The output tail has non-zero bytes past the `output_len % 32` pending ones.
error StateOutputTailPadding();

/// @notice The proof ended at byte `offset` where the step needed an item of `needed` bytes.
/// @param offset Where the missing item starts.
/// @param needed Length of the missing item.
error ProofTooShort(uint256 offset, uint256 needed);

/// @notice The step used `used` bytes of a proof of `len` bytes (bytes left over).
/// @param used Bytes the step consumed.
/// @param len Bytes in the proof.
error ProofTooLong(uint256 used, uint256 len);

/// @notice A memory proof's elision mask has a bit set above the tree's MERKLE_DEPTH levels.
/// @param mask The mask.
error ProofMask(uint32 mask);

/// @notice The memory proof of leaf `leafIndex` does not hash to the state's memory root.
/// @param leafIndex Index of the leaf the step touched (byte address / 32).
error MemoryRoot(uint32 leafIndex);

/// @notice The input chunk does not hash to the state's input link.
error InputLink();

/// @notice The preimage of a `preimage` syscall does not hash (SHA-256) to the key held in the
/// data leaf at `buf`.
/// @param buf The syscall's `buf` argument (a 32-byte aligned address).
error PreimageKey(uint32 buf);
