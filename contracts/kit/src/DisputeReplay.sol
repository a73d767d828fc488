// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {TestBase} from "./Vm.sol";
import {DisputeGame} from "../../src/DisputeGame.sol";
import {InputOracle} from "../../src/InputOracle.sol";
import {TaskRegistry} from "../../src/TaskRegistry.sol";

/// @title DisputeReplay
/// @notice Replays a dispute that `opml fixture --disputes` recorded, move by move, against the
/// real `DisputeGame` (and so the real `RiscvStep` in its last move): a forge test reads a
/// fixture with `load`, opens the game (through a `TaskRegistry` or directly with `open`),
/// then `play`s the moves and checks the verdict.
/// @dev Note: this file imports the real game, compiled via IR like the rest of `src/` (about
/// 20 s); the interfaces, the mock and the codecs of the kit do not. Each move is the exact
/// calldata the Rust agent sent on an embedded EVM, naming game `gameId` (0 on a fresh game
/// contract), sent from the mover's account with `vm.prank`. A fixture's `moves` are objects
/// `{calldata, function, party}`: forge decodes them as `Move` (fields in key order).
abstract contract DisputeReplay is TestBase {
    /// @notice A recorded move was refused by the game (its revert data).
    error MoveRefused(uint256 index, string function_, bytes reason);
    /// @notice The game opened under another id than the recorded one (its moves name it).
    error GameIdMismatch(uint256 id, uint256 recorded);
    /// @notice A move names a party other than `claimant` or `challenger`.
    error UnknownParty(string party);

    /// @notice One recorded move.
    struct Move {
        /// The call to the game.
        bytes data;
        /// The game function it calls (`reveal`, `descend`, `step`, ...).
        string function_;
        /// `claimant` or `challenger`.
        string party;
    }

    /// @notice One recorded dispute (`disputes.<key>` of a fixture).
    struct Dispute {
        /// The game's id where it was recorded (the moves name it).
        uint256 gameId;
        /// The game's parameters (`stepProgram` zero: a VM task).
        DisputeGame.Params params;
        /// The challenger's opening: its top root, last leaf and that leaf's proof.
        bytes32 root;
        bytes32 end;
        bytes32[] endProof;
        /// The packed final state and output the claimant defends (`sha256` of the state is
        /// `params.claimedEnd`).
        bytes claimedState;
        bytes claimedOutput;
        /// Who won when it was recorded.
        DisputeGame.Party winner;
        Move[] moves;
    }

    /// @notice Reads dispute `key` (`lying_claimant`, `lying_challenger`) of fixture `json`.
    function load(string memory json, string memory key) internal pure returns (Dispute memory d) {
        string memory p = string.concat(".disputes.", key, ".");
        d.gameId = vm.parseJsonUint(json, string.concat(p, "game_id"));
        d.params = DisputeGame.Params({
            claimant: vm.parseJsonAddress(json, string.concat(p, "claimant")),
            challenger: vm.parseJsonAddress(json, string.concat(p, "challenger")),
            startState: vm.parseJsonBytes32(json, string.concat(p, "start_state")),
            claimedEnd: vm.parseJsonBytes32(json, string.concat(p, "claimed_end")),
            heights: vm.parseJsonBytes32(json, string.concat(p, "heights")),
            clock: uint64(vm.parseJsonUint(json, string.concat(p, "clock"))),
            stepProgram: 0
        });
        d.root = vm.parseJsonBytes32(json, string.concat(p, "challenger_root"));
        d.end = vm.parseJsonBytes32(json, string.concat(p, "challenger_end"));
        d.endProof = vm.parseJsonBytes32Array(json, string.concat(p, "challenger_end_proof"));
        d.claimedState = vm.parseJsonBytes(json, string.concat(p, "claimed_state"));
        d.claimedOutput = vm.parseJsonBytes(json, string.concat(p, "claimed_output"));
        d.winner = _party(vm.parseJsonString(json, string.concat(p, "winner")));
        d.moves = abi.decode(vm.parseJson(json, string.concat(p, "moves")), (Move[]));
    }

    /// @notice Opens the dispute's game directly on `game`, as its challenger.
    function open(DisputeGame game, Dispute memory d) internal returns (uint256 id) {
        vm.prank(d.params.challenger);
        id = game.create(d.params, d.root, d.end, d.endProof);
    }

    /// @notice The whole story of dispute `key` of fixture `json` on a real `registry` (whose
    /// games it plays): publishes the fixture's input on `oracle`, posts the task from
    /// `requester` with `fee`, commits the dispute's claim as its claimant, disputes it as its
    /// challenger (both funded with their bonds here), plays every recorded move and settles
    /// the verdict. Returns the task, its input commitment and the dispute; the task is then
    /// reopened (the claimant lied) or committed with its window running (the challenger lied).
    function replayTask(
        TaskRegistry registry,
        InputOracle oracle,
        string memory json,
        string memory key,
        address requester,
        uint256 fee
    ) internal returns (uint256 taskId, bytes32 input, Dispute memory d) {
        d = load(json, key);
        bytes memory data = vm.parseJsonBytes(json, ".input");
        input = oracle.post(oracle.open(uint32(data.length)), data);
        vm.deal(requester, fee);
        vm.prank(requester);
        taskId = registry.postTask{value: fee}(
            vm.parseJsonBytes32(json, ".program_id"),
            input,
            d.params.heights,
            uint64(block.timestamp + 1 days)
        );
        uint256 bond = registry.serverBond();
        vm.deal(d.params.claimant, bond);
        vm.prank(d.params.claimant);
        registry.commitResult{value: bond}(taskId, d.claimedState, d.claimedOutput);
        bond = registry.challengerBond();
        vm.deal(d.params.challenger, bond);
        vm.prank(d.params.challenger);
        uint256 gameId = registry.challenge{value: bond}(
            taskId, vm.parseJsonBytes(json, ".initial_state"), d.root, d.end, d.endProof
        );
        if (gameId != d.gameId) revert GameIdMismatch(gameId, d.gameId);
        play(registry.games(), d);
        registry.settleDispute(taskId, 0, d.params.challenger);
    }

    /// @notice Sends every recorded move to `game` from its mover; reverts with `MoveRefused`
    /// on the first the game refuses.
    function play(DisputeGame game, Dispute memory d) internal {
        for (uint256 i = 0; i < d.moves.length; ++i) {
            Move memory m = d.moves[i];
            DisputeGame.Party party = _party(m.party);
            vm.prank(party == DisputeGame.Party.Claimant ? d.params.claimant : d.params.challenger);
            (bool ok, bytes memory reason) = address(game).call(m.data);
            if (!ok) revert MoveRefused(i, m.function_, reason);
        }
    }

    function _party(string memory name) private pure returns (DisputeGame.Party) {
        bytes32 h = keccak256(bytes(name));
        if (h == keccak256("claimant")) return DisputeGame.Party.Claimant;
        if (h == keccak256("challenger")) return DisputeGame.Party.Challenger;
        revert UnknownParty(name);
    }
}
