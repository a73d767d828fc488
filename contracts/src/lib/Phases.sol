// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Phases
/// @notice The caps on a game's phase configuration, shared by `DisputeGame` (which enforces
/// them) and `TaskRegistry` (whose pure time views read them). Mirrored by
/// `framework/game/src/config.rs`.
library Phases {
    /// @notice Most phases a game may have.
    uint256 internal constant MAX_PHASES = 8;
    /// @notice Highest tree of one phase (2^24 leaves): what an honest agent hashes and holds
    /// in seconds and a few hundred MiB.
    uint256 internal constant MAX_PHASE_HEIGHT = 24;
    /// @notice Longest trace, as log2 of its steps: 2^40 steps, about 12 hours of an honest
    /// agent's run at `TaskRegistry.RUN_RATE`.
    uint256 internal constant MAX_TOTAL_HEIGHT = 40;
}
