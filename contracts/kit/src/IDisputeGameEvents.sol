// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title IDisputeGameEvents
/// @notice The events of the opml `DisputeGame` (`contracts/src/DisputeGame.sol`), for apps and
/// tests that follow a dispute: `vm.expectEmit` against them, or decode them from logs.
/// @dev Note: `test/Kit.t.sol` holds every selector equal to the game's.
interface IDisputeGameEvents {
    /// @notice A side of a game (also the winner of a resolved game, `None` before).
    enum Party {
        None,
        Claimant,
        Challenger
    }

    /// @notice How a game ended.
    enum Reason {
        Step,
        Timeout
    }

    /// @notice A game started; the challenger's top root is posted with it.
    event GameCreated(
        uint256 indexed id,
        address indexed creator,
        address claimant,
        address challenger,
        bytes32 startState,
        bytes32 claimedEnd,
        bytes32 heights,
        uint64 clock
    );
    /// @notice `party` committed `root` for the range starting at `position` in `phase`.
    event RootPosted(
        uint256 indexed id, Party indexed party, uint8 phase, uint64 position, bytes32 root
    );
    /// @notice `party` revealed the children of its current node.
    event Revealed(uint256 indexed id, Party indexed party, bytes32 left, bytes32 right);
    /// @notice Both reveals are in: the game went left or right, to nodes of `height`.
    event Bisected(uint256 indexed id, uint8 phase, uint8 height, uint64 position, bool right);
    /// @notice The agreed state at `position` was proven from an agreed subtree.
    event AgreedStateProven(uint256 indexed id, uint64 position, bytes32 state);
    /// @notice The step from `position` was executed on chain.
    event StepVerified(uint256 indexed id, uint64 position, bytes32 preState, bytes32 postState);
    /// @notice The game is over.
    event Resolved(uint256 indexed id, Party winner, Reason reason);
}
