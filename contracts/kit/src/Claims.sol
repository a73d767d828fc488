// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {VmConstants as C} from "../../src/lib/VmConstants.sol";

/// @title Claims
/// @notice The claim a server commits for a VM task and a game settles (`docs/game-design.md`):
/// program ID, input commitment, output bytes, exit status and code, steps, final state hash,
/// read from a packed VM state (`VmConstants`, `STATE_LEN` bytes, integers big-endian) the way
/// `TaskRegistry.commitResult` reads it.
/// @dev Note: `outputMatches` mirrors `TaskRegistry._checkOutput` and `startState` mirrors
/// `TaskRegistry._startState`; `test/Kit.t.sol` checks both against the registry on a
/// fixture. Every function takes memory bytes, as fixtures and app tests hold them.
library Claims {
    /// @notice The packed state is not `VmConstants.STATE_LEN` bytes long.
    error BadStateLength(uint256 length);
    /// @notice The output bytes are not the ones the packed state commits to.
    error OutputMismatch();

    /// @notice A claimed result of a VM task.
    struct Claim {
        bytes32 programId;
        bytes32 inputCommitment;
        /// `sha256` of the packed final state: the round's `finalState`.
        bytes32 finalState;
        /// `VmConstants.STATUS_EXITED` or `STATUS_TRAPPED` for a halted run.
        uint8 exitStatus;
        /// The exit code (or trap cause).
        uint32 exitCode;
        uint64 steps;
        bytes output;
    }

    /// @notice The claim of the packed final state `state` with `output` for a task of
    /// `programId` on `inputCommitment`; reverts unless `state` commits to `output`.
    function decode(
        bytes32 programId,
        bytes32 inputCommitment,
        bytes memory state,
        bytes memory output
    ) internal pure returns (Claim memory claim) {
        if (!outputMatches(state, output)) revert OutputMismatch();
        claim.programId = programId;
        claim.inputCommitment = inputCommitment;
        claim.finalState = sha256(state);
        claim.exitStatus = uint8(bytes1(_word(state, C.STATUS)));
        claim.exitCode = uint32(bytes4(_word(state, C.EXIT_CODE)));
        claim.steps = uint64(bytes8(_word(state, C.STEP)));
        claim.output = output;
    }

    /// @notice Whether the packed state's output fields commit to `output`: the fold of its
    /// full 32-byte chunks, its zero-padded tail and its length (`opml_state::output`).
    function outputMatches(bytes memory state, bytes memory output) internal pure returns (bool) {
        _checkLength(state);
        uint256 full = output.length / C.CHUNK_LEN * C.CHUNK_LEN;
        bytes32 acc;
        for (uint256 i = 0; i < full; i += C.CHUNK_LEN) {
            acc = sha256(abi.encodePacked(acc, _word(output, i)));
        }
        bytes32 tail;
        if (full < output.length) {
            // The word past the end reads memory after `output`: mask it to the tail's bytes.
            uint256 bits = 8 * (output.length - full);
            tail = _word(output, full) & bytes32(type(uint256).max << (256 - bits));
        }
        return acc == _word(state, C.OUTPUT_ACC) && tail == _word(state, C.OUTPUT_TAIL)
            && output.length == uint32(bytes4(_word(state, C.OUTPUT_LEN)));
    }

    /// @notice The start state of a task's games: the program's packed initial state
    /// (`sha256` of it is the program ID) with `inputCommitment` as its input link.
    function startState(bytes memory initialState, bytes32 inputCommitment)
        internal
        pure
        returns (bytes32)
    {
        _checkLength(initialState);
        bytes memory s = bytes.concat(initialState); // a copy, not the caller's bytes
        uint256 link = C.INPUT_LINK;
        assembly ("memory-safe") {
            mstore(add(add(s, 0x20), link), inputCommitment)
        }
        return sha256(s);
    }

    function _checkLength(bytes memory state) private pure {
        if (state.length != C.STATE_LEN) revert BadStateLength(state.length);
    }

    /// @dev The 32 bytes of `b` from `offset` (the caller keeps `offset` inside `b`, or masks).
    function _word(bytes memory b, uint256 offset) private pure returns (bytes32 w) {
        assembly ("memory-safe") {
            w := mload(add(add(b, 0x20), offset))
        }
    }
}
