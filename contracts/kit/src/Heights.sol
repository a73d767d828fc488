// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Phases} from "../../src/lib/Phases.sol";

/// @title Heights
/// @notice The packed phase configuration of a task (`heights`), as `PhaseConfig::pack` writes
/// it (`framework/game/src/config.rs`): byte 0 (the most significant) is the top phase's
/// height, then one byte per phase below it, and zero bytes after the last phase. A game of
/// heights `h_0 .. h_{k-1}` covers `2^(h_0 + .. + h_{k-1})` VM steps; phase `p`'s leaves are
/// coarse steps of `2^(h_{p+1} + .. + h_{k-1})` instructions.
/// @dev Note: `pack` enforces the game's rules (`DisputeGame.checkHeights`): 1 to
/// `Phases.MAX_PHASES` phases, each of height 1 to `Phases.MAX_PHASE_HEIGHT`, adding up to at
/// most `Phases.MAX_TOTAL_HEIGHT`: the rules of a VM task. A graph task's heights may add up to
/// `Phases.MAX_PROGRAM_TOTAL_HEIGHT` (`DisputeGame.checkHeights(heights, true)`); `pack`
/// refuses those above 40. The readers assume a valid word.
library Heights {
    /// @notice The heights break a phase rule (same selector as `DisputeGame.BadHeights`).
    error BadHeights(bytes32 heights);

    /// @notice One phase of height `top` (2^top single instructions).
    function pack(uint8 top) internal pure returns (bytes32) {
        uint8[] memory h = new uint8[](1);
        h[0] = top;
        return pack(h);
    }

    /// @notice Two phases: 2^top coarse steps of 2^second instructions each.
    function pack(uint8 top, uint8 second) internal pure returns (bytes32) {
        uint8[] memory h = new uint8[](2);
        (h[0], h[1]) = (top, second);
        return pack(h);
    }

    /// @notice Three phases, top first.
    function pack(uint8 top, uint8 second, uint8 third) internal pure returns (bytes32) {
        uint8[] memory h = new uint8[](3);
        (h[0], h[1], h[2]) = (top, second, third);
        return pack(h);
    }

    /// @notice The packed word of `heights`, top phase first; reverts with `BadHeights` if
    /// they break a phase rule.
    function pack(uint8[] memory heights) internal pure returns (bytes32 packed) {
        uint256 sum;
        for (uint256 p = 0; p < heights.length && p < 32; ++p) {
            packed |= bytes32(uint256(heights[p]) << (248 - 8 * p));
            sum += heights[p];
        }
        bool valid = heights.length != 0 && heights.length <= Phases.MAX_PHASES
            && sum <= Phases.MAX_TOTAL_HEIGHT;
        for (uint256 p = 0; valid && p < heights.length; ++p) {
            valid = heights[p] != 0 && heights[p] <= Phases.MAX_PHASE_HEIGHT;
        }
        if (!valid) revert BadHeights(packed);
    }

    /// @notice The number of phases: the bytes before the first zero.
    function count(bytes32 heights) internal pure returns (uint256 k) {
        while (k < 32 && heights[k] != 0) ++k;
    }

    /// @notice The height of phase `phase` (0 = top; 0 past the last phase).
    function at(bytes32 heights, uint256 phase) internal pure returns (uint8) {
        return uint8(heights[phase]);
    }

    /// @notice The sum of the heights: the game covers `2^total` VM steps.
    function total(bytes32 heights) internal pure returns (uint256 sum) {
        for (uint256 p = 0; p < 32; ++p) {
            sum += uint8(heights[p]);
        }
    }

    /// @notice The most VM steps a claimed run may take under `heights`: `2^total`.
    function maxSteps(bytes32 heights) internal pure returns (uint256) {
        return 1 << total(heights);
    }
}
