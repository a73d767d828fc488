// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title IStepVerifier
/// @notice One-step verifier of the opml RISC-V VM: the function a dispute game calls once the
/// parties have narrowed their disagreement to a single instruction.
/// @dev Note: the verifier is stateless and checks nothing about its caller. It binds the
/// result to the input only through hashes: a game must itself check that
/// `sha256(stateData)` is the agreed pre-state hash before trusting the returned post-state.
interface IStepVerifier {
    /// @notice Executes one step of the VM.
    /// @param stateData The packed pre-state (281 bytes, layout in `docs/vm-spec.md`).
    /// @param proof The step proof: memory proofs and the input chunk the step touches, in the
    /// order it first touches them (`docs/vm-spec.md`, "Step proof").
    /// @return postStateHash sha256 of the packed post-state. Reverts on a malformed pre-state
    /// or a proof that does not match it.
    function step(bytes calldata stateData, bytes calldata proof)
        external
        view
        returns (bytes32 postStateHash);
}
