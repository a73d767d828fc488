// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title GraphState
/// @notice The commitments of a graph task (a DNN model run as a graph of coarse steps): the
/// byte commitment of its input and output, its task word and its graph states, as the host
/// computes them (`docs/game-design.md`, "Graph tasks"). `H(a ‖ b)` is SHA-256 of the 64 bytes.
/// ```
/// data_root(b)       = root of the binary tree over b's 32-byte chunks (the last one zero
///                      padded), leaves padded with zero chunks to the next power of two;
///                      one chunk: the chunk itself; no bytes: bytes32(0)
/// len_word(n)        = le64(n) ‖ 24 zero bytes
/// byte_commitment(b) = H(len_word(len(b)) ‖ data_root(b))
/// task               = H(model_root ‖ byte_commitment(input))
/// S                  = H(task ‖ H(values ‖ result))
/// S(0)               = H(task ‖ H(0 ‖ 0))
/// final              = H(task ‖ H(values ‖ byte_commitment(output)))
/// ```
/// @dev Note: SHA-256 is the precompile at address 2, called from assembly (so the functions
/// are `view`, not `pure`: the compiler counts a `staticcall` as reading the environment). A
/// data root copies the data once into scratch memory past the free memory pointer (never
/// allocated: nothing else runs while it is in use) and hashes pairs in place, level by level:
/// the parent `i` of level `l + 1` overwrites word `i`, which is at or before the pair `2i`,
/// `2i + 1` it is read from, and after every pair before it was read. Padding leaves are never
/// hashed: a level with an odd number of nodes pairs its last node with the root of an
/// all-zero subtree of that level (`z`, one hash per level), which is what the zero leaves
/// would hash to. A failed precompile call (out of gas) reverts.
library GraphState {
    /// @dev Address of the SHA-256 precompile.
    uint256 private constant SHA256 = 2;

    /*//////////////////////////////////////////////////////////////
                               OPERATIONS
    //////////////////////////////////////////////////////////////*/

    /// @notice `H(a ‖ b)`.
    function hashPair(bytes32 a, bytes32 b) internal view returns (bytes32 h) {
        assembly ("memory-safe") {
            mstore(0x00, a)
            mstore(0x20, b)
            if iszero(staticcall(gas(), SHA256, 0x00, 0x40, 0x00, 0x20)) { revert(0, 0) }
            h := mload(0x00)
        }
    }

    /// @notice `len_word(len)`: the u64 little-endian length, then 24 zero bytes.
    function lenWord(uint256 len) internal pure returns (bytes32) {
        uint256 v = uint64(len);
        // Byte-reverse the 8 bytes: swap bytes, then pairs, then halves.
        v = ((v & 0xFF00FF00FF00FF00) >> 8) | ((v & 0x00FF00FF00FF00FF) << 8);
        v = ((v & 0xFFFF0000FFFF0000) >> 16) | ((v & 0x0000FFFF0000FFFF) << 16);
        v = ((v & 0xFFFFFFFF00000000) >> 32) | ((v & 0x00000000FFFFFFFF) << 32);
        return bytes32(v << 192);
    }

    /// @notice `data_root(data)` of calldata bytes.
    function dataRoot(bytes calldata data) internal view returns (bytes32 root) {
        uint256 len = data.length;
        if (len == 0) return 0;
        uint256 scratch;
        assembly ("memory-safe") {
            scratch := mload(0x40)
            // Zero the last chunk first: the copy leaves its padding untouched.
            mstore(add(scratch, shl(5, shr(5, sub(len, 1)))), 0)
            calldatacopy(scratch, data.offset, len)
        }
        root = _rootInPlace(scratch, (len + 31) >> 5);
    }

    /// @notice `data_root(data)` of memory bytes (left unchanged).
    function dataRootMemory(bytes memory data) internal view returns (bytes32 root) {
        uint256 len = data.length;
        if (len == 0) return 0;
        uint256 scratch;
        assembly ("memory-safe") {
            scratch := mload(0x40)
            mstore(add(scratch, shl(5, shr(5, sub(len, 1)))), 0)
            mcopy(scratch, add(data, 0x20), len)
        }
        root = _rootInPlace(scratch, (len + 31) >> 5);
    }

    /// @notice `byte_commitment(data)` of calldata bytes.
    function byteCommitment(bytes calldata data) internal view returns (bytes32) {
        return hashPair(lenWord(data.length), dataRoot(data));
    }

    /// @notice `byte_commitment(data)` of memory bytes.
    function byteCommitmentMemory(bytes memory data) internal view returns (bytes32) {
        return hashPair(lenWord(data.length), dataRootMemory(data));
    }

    /// @notice The task word of a graph task: `H(model_root ‖ byte_commitment(input))`.
    function taskWord(bytes32 modelRoot, bytes calldata input) internal view returns (bytes32) {
        return hashPair(modelRoot, byteCommitment(input));
    }

    /// @notice A graph state: `H(task ‖ H(values ‖ result))`.
    function state(bytes32 task, bytes32 values, bytes32 result) internal view returns (bytes32) {
        return hashPair(task, hashPair(values, result));
    }

    /// @notice `S(0)` of a task: no values, no result.
    function startState(bytes32 task) internal view returns (bytes32) {
        return state(task, 0, 0);
    }

    /// @notice The final state a result claims: `values` and the byte commitment of `output`.
    function finalState(bytes32 task, bytes32 values, bytes calldata output)
        internal
        view
        returns (bytes32)
    {
        return state(task, values, byteCommitment(output));
    }

    /*//////////////////////////////////////////////////////////////
                               INTERNALS
    //////////////////////////////////////////////////////////////*/

    /// @dev The root of the tree over the `n >= 1` words at `scratch`, hashed in place. Needs
    /// the word after them (`scratch + 32 n`) as scratch too.
    function _rootInPlace(uint256 scratch, uint256 n) private view returns (bytes32 root) {
        assembly ("memory-safe") {
            let ok := 1
            // The root of an all-zero subtree of the current level (a zero chunk at level 0).
            let z := 0
            for {} gt(n, 1) {} {
                let half := shr(1, n)
                // Parent i = H(node 2i ‖ node 2i + 1), written over word i.
                for { let i := 0 } lt(i, half) { i := add(i, 1) } {
                    ok := and(
                        ok,
                        staticcall(
                            gas(),
                            SHA256,
                            add(scratch, shl(6, i)),
                            0x40,
                            add(scratch, shl(5, i)),
                            0x20
                        )
                    )
                }
                if and(n, 1) {
                    // The last node's sibling is all padding: z. Its parent is word `half`.
                    let last := add(scratch, shl(5, sub(n, 1)))
                    mstore(add(last, 0x20), z)
                    ok := and(
                        ok,
                        staticcall(gas(), SHA256, last, 0x40, add(scratch, shl(5, half)), 0x20)
                    )
                    half := add(half, 1)
                }
                n := half
                if gt(n, 1) {
                    // z of the next level (only needed if there is one).
                    mstore(0x00, z)
                    mstore(0x20, z)
                    ok := and(ok, staticcall(gas(), SHA256, 0x00, 0x40, 0x00, 0x20))
                    z := mload(0x00)
                }
            }
            if iszero(ok) { revert(0, 0) }
            root := mload(scratch)
        }
    }
}
