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
    /// @notice log2 of how many times faster than the VM an honest agent is assumed to compute
    /// a program-defined top phase (a graph's nodes, natively on every core). The work of a
    /// node is bounded by the VM run that re-does it (at most `2^(heights below the top)`
    /// steps); measured natively it is 88 - 35,000 times faster than that run (BENCHMARKS.md,
    /// "α per node"), so 16 leaves a margin of 5 over the slowest node kind measured.
    uint256 internal constant NATIVE_SPEEDUP_LOG2 = 4;
    /// @notice Largest sum of heights with a program-defined top phase: `2^44` steps of VM
    /// work at most, natively in the time of `2^40` VM steps. The VM trace below the top phase
    /// still has at most `MAX_TOTAL_HEIGHT` levels.
    uint256 internal constant MAX_PROGRAM_TOTAL_HEIGHT = MAX_TOTAL_HEIGHT + NATIVE_SPEEDUP_LOG2;
}
