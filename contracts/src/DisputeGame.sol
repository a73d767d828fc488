// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IStepVerifier} from "./interfaces/IStepVerifier.sol";
import {VmConstants as C} from "./lib/VmConstants.sol";
import {StateLength} from "./lib/Errors.sol";
import {Phases} from "./lib/Phases.sol";

/// @title DisputeGame
/// @notice Referee of k-phase bisection games between a claimant and a challenger over a VM
/// trace (`docs/game-design.md`). Both parties commit to a history tree of state hashes; the game
/// walks down both trees to the first leaf where they differ, descends into that coarse step in
/// the next phase, and in the last phase re-executes one instruction with the step verifier.
/// @dev Note: one contract holds every game (a game is a storage record, not a clone). The game
/// never trusts a mover for its parameters: the start state, the claimed end state, the phase
/// heights and the clocks are fixed by the creator (the task registry) at creation, and every
/// position and agreed state afterwards comes from the game's own bookkeeping.
///
/// Trees: phase `p` over a range `[a, a + 2^h * s]` of stride `s` has the `2^h` leaves
/// `S(a + s), S(a + 2s), ..., S(a + 2^h * s)` (the start `S(a)` is agreed and not a leaf), with
/// `node = keccak256(left ‖ right)`. A halted state is a fixed point of the VM, so a trace
/// past the halting step repeats the final state (last-leaf padding).
///
/// Turns alternate: the challenger opens with its root, the claimant answers with its root,
/// then in each level the challenger reveals its children first and the claimant second (the
/// claimant's reveal decides the direction). At a leaf the challenger descends first, the
/// claimant second. In the last phase anyone may call `step`; if nobody does, the side on turn
/// (the challenger) runs out of time. Every state of the game has a side on turn whose clock
/// runs, so every game ends: by `step` or by `timeout`.
contract DisputeGame {
    /*//////////////////////////////////////////////////////////////
                                 TYPES
    //////////////////////////////////////////////////////////////*/

    /// @notice A side of a game (also the winner of a resolved game, `None` before).
    enum Party {
        None,
        Claimant,
        Challenger
    }

    /// @notice What the game waits for.
    enum Stage {
        /// The claimant's root for the top phase.
        ClaimantRoot,
        /// Children of both current nodes (height > 0).
        Bisection,
        /// Both child roots for the next phase (height 0, not the last phase).
        Descent,
        /// The one-step proof (height 0 of the last phase).
        Step,
        /// Nothing: the game is over.
        Resolved
    }

    /// @notice How a game ended.
    enum Reason {
        Step,
        Timeout
    }

    /// @notice What a creator fixes for a game's lifetime.
    struct Params {
        /// The side defending `claimedEnd`.
        address claimant;
        /// The side disputing it.
        address challenger;
        /// The agreed state hash at step 0.
        bytes32 startState;
        /// The claimant's state hash at the end of the trace.
        bytes32 claimedEnd;
        /// Phase heights, top phase first, one byte each, zero after the last phase.
        bytes32 heights;
        /// Seconds each side may spend on its moves in total (chess clock).
        uint64 clock;
        /// Zero for a VM trace. Otherwise the top phase is program-defined: its leaves are the
        /// program's own commitments `C(1..)`, one per coarse step, and the phases below are
        /// the VM trace of this step program (its program ID) re-doing the disputed step.
        bytes32 stepProgram;
    }

    /// @notice A game's record. Field order packs the first three slots.
    struct Game {
        address claimant;
        /// When the side on turn got the turn.
        uint64 turnStart;
        /// Current phase, 0 = top.
        uint8 phase;
        /// Height of the current nodes in the current phase's tree.
        uint8 height;
        Party turn;
        Stage stage;
        address challenger;
        /// Seconds left on the claimant's clock (at `turnStart` if on turn).
        uint64 claimantClock;
        /// log2 of the current phase's stride.
        uint8 strideLog2;
        /// Height of `agreedLeft` while the agreed state waits for its proof.
        uint8 agreedLeftHeight;
        /// True while `agreedState` is the last leaf of `agreedLeft`, not yet proven.
        bool agreedPending;
        Party winner;
        uint64 challengerClock;
        /// Absolute step of the agreed start of the current nodes' range.
        uint64 position;
        /// The disputed coarse step `j` of a program-defined top phase, once the game has
        /// descended into its step program's run (0 before): a player joining later needs it
        /// to re-run the step program, since `position` counts that run's instructions.
        uint64 programStep;
        bytes32 heights;
        bytes32 claimedEnd;
        /// `S(position)` once proven (always, outside `agreedPending`).
        bytes32 agreedState;
        /// The agreed subtree whose last leaf is `S(position)` (while `agreedPending`).
        bytes32 agreedLeft;
        bytes32 claimantNode;
        bytes32 challengerNode;
        /// The challenger's revealed children (or child root) awaiting the claimant.
        bytes32 pendingLeft;
        bytes32 pendingRight;
        /// The step program of a program-defined top phase (zero: none).
        bytes32 stepProgram;
    }

    /*//////////////////////////////////////////////////////////////
                               CONSTANTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Most phases a game may have.
    uint256 public constant MAX_PHASES = Phases.MAX_PHASES;
    /// @notice Highest tree of one phase (2^24 leaves), `Phases.MAX_PHASE_HEIGHT`.
    uint256 public constant MAX_PHASE_HEIGHT = Phases.MAX_PHASE_HEIGHT;
    /// @notice Longest trace, as log2 of its steps (2^40), `Phases.MAX_TOTAL_HEIGHT`.
    uint256 public constant MAX_TOTAL_HEIGHT = Phases.MAX_TOTAL_HEIGHT;
    /// @notice Largest sum of heights over a program-defined top phase (2^44 steps of VM
    /// work, the top phase computed natively), `Phases.MAX_PROGRAM_TOTAL_HEIGHT`.
    uint256 public constant MAX_PROGRAM_TOTAL_HEIGHT = Phases.MAX_PROGRAM_TOTAL_HEIGHT;

    /*//////////////////////////////////////////////////////////////
                                STORAGE
    //////////////////////////////////////////////////////////////*/

    /// @notice The one-step verifier of the last phase.
    IStepVerifier public immutable verifier;

    /// @notice Number of games created; ids are 0 .. gameCount - 1.
    uint256 public gameCount;

    mapping(uint256 id => Game) internal games;

    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

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

    /*//////////////////////////////////////////////////////////////
                                 ERRORS
    //////////////////////////////////////////////////////////////*/

    /// @notice `heights` breaks a phase rule (count, range, sum or zero padding).
    error BadHeights(bytes32 heights);
    /// @notice A game needs two different parties and a non-zero clock.
    error BadParams();
    /// @notice A program-defined top phase needs a VM phase below it (k >= 2): its leaves are
    /// only decided by re-running the step program in a child phase.
    error ProgramPhaseAlone(bytes32 heights);
    /// @notice The challenger's end state is the claimed one: there is nothing to dispute.
    error EndNotDisputed();
    /// @notice No game has this id.
    error NoSuchGame(uint256 id);
    /// @notice The game is over: no move is possible.
    error GameOver(uint256 id);
    /// @notice The move does not fit the game's stage.
    error WrongStage(Stage expected, Stage actual);
    /// @notice It is not the caller's turn (or the caller is not that party).
    error NotYourTurn(Party onTurn);
    /// @notice The mover's clock ran out: only `timeout` is possible.
    error ClockExpired(Party party);
    /// @notice The side on turn still has time.
    error ClockRunning(Party party, uint256 secondsLeft);
    /// @notice A proof has the wrong number of siblings.
    error ProofLength(uint256 length, uint256 expected);
    /// @notice The children or the proof do not hash to the committed node.
    error NodeMismatch(bytes32 computed, bytes32 expected);
    /// @notice A proof was given where none is due.
    error UnexpectedProof();
    /// @notice `descend` at a program-defined phase, or `descendProgram` at a VM phase.
    error WrongDescent();
    /// @notice The packed state does not hash to the step program's ID.
    error StepProgramMismatch(bytes32 computed, bytes32 stepProgram);
    /// @notice The step program's final state is not a clean exit whose whole output is the
    /// mover's own commitment.
    error BadStepResult();
    /// @notice The packed pre-state does not hash to the agreed state.
    error PreStateMismatch(bytes32 computed, bytes32 expected);

    constructor(IStepVerifier verifier_) {
        verifier = verifier_;
    }

    /*//////////////////////////////////////////////////////////////
                                 MOVES
    //////////////////////////////////////////////////////////////*/

    /// @notice Starts a game in which `params.challenger` disputes `params.claimedEnd` with
    /// `root`, whose last leaf `end` (proved by `endProof`) differs from it.
    /// @dev Anyone may create games; whoever acts on a verdict (the registry) must only trust
    /// games it created itself. The challenger's root counts as its first move.
    function create(Params calldata params, bytes32 root, bytes32 end, bytes32[] calldata endProof)
        external
        returns (uint256 id)
    {
        (, uint256 total) = checkHeights(params.heights, params.stepProgram != 0);
        if (
            params.claimant == params.challenger || params.claimant == address(0)
                || params.challenger == address(0) || params.clock == 0
        ) revert BadParams();
        if (end == params.claimedEnd) revert EndNotDisputed();
        uint8 topHeight = uint8(params.heights[0]);
        _checkLastLeaf(end, endProof, topHeight, root);

        id = gameCount++;
        Game storage g = games[id];
        g.claimant = params.claimant;
        g.challenger = params.challenger;
        g.turnStart = uint64(block.timestamp);
        g.height = topHeight;
        g.turn = Party.Claimant;
        g.stage = Stage.ClaimantRoot;
        g.claimantClock = params.clock;
        g.challengerClock = params.clock;
        // A program-defined top phase counts coarse steps; its children start a new VM trace.
        g.strideLog2 = params.stepProgram == 0 ? uint8(total - topHeight) : 0;
        g.stepProgram = params.stepProgram;
        g.heights = params.heights;
        g.claimedEnd = params.claimedEnd;
        g.agreedState = params.startState;
        g.challengerNode = root;
        emit GameCreated(
            id,
            msg.sender,
            params.claimant,
            params.challenger,
            params.startState,
            params.claimedEnd,
            params.heights,
            params.clock
        );
        emit RootPosted(id, Party.Challenger, 0, 0, root);
    }

    /// @notice The claimant commits its top-phase root, whose last leaf is the claimed end.
    function commitRoot(uint256 id, bytes32 root, bytes32[] calldata endProof) external {
        Game storage g = _enter(id, Stage.ClaimantRoot);
        _checkLastLeaf(g.claimedEnd, endProof, g.height, root);
        g.claimantNode = root;
        g.stage = Stage.Bisection;
        _pass(g, Party.Challenger);
        emit RootPosted(id, Party.Claimant, 0, 0, root);
    }

    /// @notice Reveals the children of the caller's current node. The challenger reveals
    /// first; the claimant's reveal moves both parties to the first differing child.
    function reveal(uint256 id, bytes32 left, bytes32 right) external {
        Game storage g = _enter(id, Stage.Bisection);
        if (g.turn == Party.Challenger) {
            _checkNode(left, right, g.challengerNode);
            g.pendingLeft = left;
            g.pendingRight = right;
            _pass(g, Party.Claimant);
            emit Revealed(id, Party.Challenger, left, right);
            return;
        }
        _checkNode(left, right, g.claimantNode);
        emit Revealed(id, Party.Claimant, left, right);
        uint8 height = g.height - 1;
        bool goRight = left == g.pendingLeft;
        if (goRight) {
            // The left subtrees agree, so their last leaf is the new agreed start.
            g.claimantNode = right;
            g.challengerNode = g.pendingRight;
            g.position += uint64(1) << (height + g.strideLog2);
            if (height == 0) {
                g.agreedState = left;
                g.agreedPending = false;
            } else {
                g.agreedLeft = left;
                g.agreedLeftHeight = height;
                g.agreedPending = true;
            }
        } else {
            g.claimantNode = left;
            g.challengerNode = g.pendingLeft;
        }
        g.height = height;
        if (height == 0) {
            g.stage = g.phase + 1 == _phaseCount(g.heights) ? Stage.Step : Stage.Descent;
        }
        _pass(g, Party.Challenger);
        emit Bisected(id, g.phase, height, g.position, goRight);
    }

    /// @notice Commits the caller's root for the disputed coarse step in the next phase. Its
    /// last leaf must be the caller's own leaf in this phase (`lastLeafProof`). The first
    /// descender also proves the agreed start state when it is pending (`agreedProof`).
    function descend(
        uint256 id,
        bytes32 childRoot,
        bytes32[] calldata lastLeafProof,
        bytes32[] calldata agreedProof
    ) external {
        Game storage g = _enter(id, Stage.Descent);
        if (_programPhase(g)) revert WrongDescent();
        uint8 childHeight = uint8(g.heights[g.phase + 1]);
        if (g.turn == Party.Challenger) {
            _settleAgreed(id, g, agreedProof);
            _checkLastLeaf(g.challengerNode, lastLeafProof, childHeight, childRoot);
            g.pendingLeft = childRoot;
            _pass(g, Party.Claimant);
            emit RootPosted(id, Party.Challenger, g.phase + 1, g.position, childRoot);
            return;
        }
        if (agreedProof.length != 0) revert UnexpectedProof();
        _checkLastLeaf(g.claimantNode, lastLeafProof, childHeight, childRoot);
        g.claimantNode = childRoot;
        g.challengerNode = g.pendingLeft;
        g.phase += 1;
        g.height = childHeight;
        g.strideLog2 -= childHeight;
        g.stage = Stage.Bisection;
        _pass(g, Party.Challenger);
        emit RootPosted(id, Party.Claimant, g.phase, g.position, childRoot);
    }

    /// @notice Descends from the disputed coarse step `j` of a program-defined top phase into
    /// the VM trace of the step program re-doing it. Both sides commit to that run's history
    /// (stride of the next phase), whose last leaf must be a clean exit of the step program
    /// whose whole output is the mover's own `C(j)` (`finalState`, proved against the leaf). The
    /// first descender proves the agreed `C(j−1)` if pending and opens the step program's
    /// initial state (`stepInitialState`, hashing to its ID); the game starts the run from it
    /// with the input `C(j−1) ‖ be64(j)` (`docs/game-design.md`).
    function descendProgram(
        uint256 id,
        bytes32 childRoot,
        bytes32[] calldata lastLeafProof,
        bytes32[] calldata agreedProof,
        bytes calldata stepInitialState,
        bytes calldata finalState
    ) external {
        Game storage g = _enter(id, Stage.Descent);
        if (!_programPhase(g)) revert WrongDescent();
        uint8 childHeight = uint8(g.heights[1]);
        bytes32 ownLeaf = g.turn == Party.Challenger ? g.challengerNode : g.claimantNode;
        bytes32 lastLeaf = sha256(finalState);
        _checkLastLeaf(lastLeaf, lastLeafProof, childHeight, childRoot);
        _checkStepResult(finalState, ownLeaf);
        if (g.turn == Party.Challenger) {
            _settleAgreed(id, g, agreedProof);
            g.programStep = g.position + 1;
            g.agreedState =
                _stepStart(stepInitialState, g.stepProgram, g.agreedState, g.programStep);
            g.pendingLeft = childRoot;
            _pass(g, Party.Claimant);
            emit RootPosted(id, Party.Challenger, 1, 0, childRoot);
            return;
        }
        if (agreedProof.length != 0 || stepInitialState.length != 0) revert UnexpectedProof();
        g.claimantNode = childRoot;
        g.challengerNode = g.pendingLeft;
        g.phase = 1;
        g.height = childHeight;
        // Positions below count the step program's instructions from its start.
        g.position = 0;
        (, uint256 total) = checkHeights(g.heights, true);
        g.strideLog2 = uint8(total - uint8(g.heights[0]) - childHeight);
        g.stage = Stage.Bisection;
        _pass(g, Party.Challenger);
        emit RootPosted(id, Party.Claimant, 1, 0, childRoot);
    }

    /// @notice Executes the disputed instruction from the agreed state (anyone may call). The
    /// claimant wins if the verifier's post-state is its leaf; otherwise the challenger wins,
    /// since a claimant must be able to defend its own trace.
    function step(
        uint256 id,
        bytes calldata stateData,
        bytes calldata proof,
        bytes32[] calldata agreedProof
    ) external {
        Game storage g = _live(id, Stage.Step);
        _charge(g);
        _settleAgreed(id, g, agreedProof);
        bytes32 pre = sha256(stateData);
        if (pre != g.agreedState) revert PreStateMismatch(pre, g.agreedState);
        bytes32 post = verifier.step(stateData, proof);
        emit StepVerified(id, g.position, pre, post);
        _resolve(id, g, post == g.claimantNode ? Party.Claimant : Party.Challenger, Reason.Step);
    }

    /// @notice Ends the game for the other side once the side on turn has run out of time
    /// (anyone may call).
    function timeout(uint256 id) external {
        Game storage g = games[id];
        if (g.claimant == address(0)) revert NoSuchGame(id);
        if (g.stage == Stage.Resolved) revert GameOver(id);
        uint256 left = _clockLeft(g);
        if (left != 0) revert ClockRunning(g.turn, left);
        _resolve(
            id, g, g.turn == Party.Claimant ? Party.Challenger : Party.Claimant, Reason.Timeout
        );
    }

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @notice The record of game `id` (all zero for an unknown id).
    function game(uint256 id) external view returns (Game memory) {
        return games[id];
    }

    /// @notice Seconds the side on turn has left, counting the time since its turn began.
    function clockLeft(uint256 id) external view returns (uint256) {
        return _clockLeft(games[id]);
    }

    /// @notice Checks a packed phase configuration: the number of phases `k` and the sum of
    /// the heights (log2 of the steps the top phase covers). Reverts with `BadHeights` if a
    /// rule is broken, and with `ProgramPhaseAlone` if a program-defined top phase has no
    /// phase below it. Over a program-defined top phase (computed natively) the heights may
    /// add up to `MAX_PROGRAM_TOTAL_HEIGHT`, those below it to `MAX_TOTAL_HEIGHT`.
    function checkHeights(bytes32 heights, bool programDefined)
        public
        pure
        returns (uint256 k, uint256 total)
    {
        k = _phaseCount(heights);
        if (k == 0 || k > MAX_PHASES) revert BadHeights(heights);
        for (uint256 i = 0; i < 32; ++i) {
            uint256 h = uint8(heights[i]);
            if (i < k) {
                if (h > MAX_PHASE_HEIGHT) revert BadHeights(heights);
                total += h;
            } else if (h != 0) {
                revert BadHeights(heights);
            }
        }
        if (!programDefined) {
            if (total > MAX_TOTAL_HEIGHT) revert BadHeights(heights);
            return (k, total);
        }
        if (k < 2) revert ProgramPhaseAlone(heights);
        uint256 vm = total - uint8(heights[0]);
        if (total > MAX_PROGRAM_TOTAL_HEIGHT || vm > MAX_TOTAL_HEIGHT) revert BadHeights(heights);
    }

    /*//////////////////////////////////////////////////////////////
                               INTERNALS
    //////////////////////////////////////////////////////////////*/

    /// @dev The live game `id` in `stage`, with the caller as the side on turn and its clock
    /// charged.
    function _enter(uint256 id, Stage stage) internal returns (Game storage g) {
        g = _live(id, stage);
        address mover = g.turn == Party.Claimant ? g.claimant : g.challenger;
        if (msg.sender != mover) revert NotYourTurn(g.turn);
        _charge(g);
    }

    /// @dev The game `id`, which must exist, be unresolved and be in `stage`.
    function _live(uint256 id, Stage stage) internal view returns (Game storage g) {
        g = games[id];
        if (g.claimant == address(0)) revert NoSuchGame(id);
        if (g.stage == Stage.Resolved) revert GameOver(id);
        if (g.stage != stage) revert WrongStage(stage, g.stage);
    }

    /// @dev Charges the time since the turn began to the side on turn.
    function _charge(Game storage g) internal {
        uint64 elapsed = uint64(block.timestamp) - g.turnStart;
        if (g.turn == Party.Claimant) {
            if (elapsed >= g.claimantClock) revert ClockExpired(Party.Claimant);
            g.claimantClock -= elapsed;
        } else {
            if (elapsed >= g.challengerClock) revert ClockExpired(Party.Challenger);
            g.challengerClock -= elapsed;
        }
        g.turnStart = uint64(block.timestamp);
    }

    /// @dev Gives the turn to `next`; its clock starts now.
    function _pass(Game storage g, Party next) internal {
        g.turn = next;
        g.turnStart = uint64(block.timestamp);
    }

    function _clockLeft(Game storage g) internal view returns (uint256) {
        if (g.stage == Stage.Resolved) return 0;
        uint256 clock = g.turn == Party.Claimant ? g.claimantClock : g.challengerClock;
        uint256 elapsed = block.timestamp - g.turnStart;
        return elapsed >= clock ? 0 : clock - elapsed;
    }

    function _resolve(uint256 id, Game storage g, Party winner, Reason reason) internal {
        g.winner = winner;
        g.stage = Stage.Resolved;
        g.turn = Party.None;
        emit Resolved(id, winner, reason);
    }

    /// @dev Proves the pending agreed state as the last leaf of `agreedLeft`. `proof` must be
    /// empty when nothing is pending.
    function _settleAgreed(uint256 id, Game storage g, bytes32[] calldata proof) internal {
        if (!g.agreedPending) {
            if (proof.length != 0) revert UnexpectedProof();
            return;
        }
        // The leaf, then its siblings.
        uint256 expected = uint256(g.agreedLeftHeight) + 1;
        if (proof.length != expected) revert ProofLength(proof.length, expected);
        bytes32 leaf = proof[0];
        _checkLastLeaf(leaf, proof[1:], g.agreedLeftHeight, g.agreedLeft);
        g.agreedState = leaf;
        g.agreedPending = false;
        emit AgreedStateProven(id, g.position, leaf);
    }

    /// @dev Whether the game stands at the program-defined top phase.
    function _programPhase(Game storage g) internal view returns (bool) {
        return g.phase == 0 && g.stepProgram != 0;
    }

    /// @dev The step program's start state for coarse step `j` from `previous`: its initial
    /// state (hashing to `stepProgram`) with the input commitment of `previous ‖ be64(j)`
    /// (`opml_state::input::commitment`: 40 bytes, two chunks).
    function _stepStart(
        bytes calldata initialState,
        bytes32 stepProgram,
        bytes32 previous,
        uint64 j
    ) internal pure returns (bytes32) {
        if (initialState.length != C.STATE_LEN) revert StateLength(initialState.length);
        bytes32 computed = sha256(initialState);
        if (computed != stepProgram) revert StepProgramMismatch(computed, stepProgram);
        uint32 len = 32 + 8;
        bytes32 tail = sha256(abi.encodePacked(uint32(len - 32), bytes32(bytes8(j)), bytes32(0)));
        bytes32 input = sha256(abi.encodePacked(len, previous, tail));
        return sha256(
            abi.encodePacked(initialState[:C.INPUT_LINK], input, initialState[C.INPUT_LINK + 32:])
        );
    }

    /// @dev Checks a step program's packed final state: exited with code 0, and its whole
    /// output is the 32 bytes `commitment` (one full chunk folded from zero, empty tail).
    function _checkStepResult(bytes calldata state, bytes32 commitment) internal pure {
        if (state.length != C.STATE_LEN) revert StateLength(state.length);
        bool clean = uint8(state[C.STATUS]) == C.STATUS_EXITED
            && bytes4(state[C.EXIT_CODE:C.EXIT_CODE + 4]) == 0
            && uint32(bytes4(state[C.OUTPUT_LEN:C.OUTPUT_LEN + 4])) == 32
            && bytes32(state[C.OUTPUT_TAIL:C.OUTPUT_TAIL + 32]) == 0
            && bytes32(state[C.OUTPUT_ACC:C.OUTPUT_ACC + 32])
                == sha256(abi.encodePacked(bytes32(0), commitment));
        if (!clean) revert BadStepResult();
    }

    /// @dev Checks that `leaf` is the last leaf of the tree of `height` with `root`, given the
    /// left siblings on its path from the bottom up.
    function _checkLastLeaf(bytes32 leaf, bytes32[] calldata siblings, uint256 height, bytes32 root)
        internal
        pure
    {
        if (siblings.length != height) revert ProofLength(siblings.length, height);
        bytes32 node = leaf;
        for (uint256 i = 0; i < siblings.length; ++i) {
            node = _hashPair(siblings[i], node);
        }
        if (node != root) revert NodeMismatch(node, root);
    }

    function _checkNode(bytes32 left, bytes32 right, bytes32 node) internal pure {
        bytes32 computed = _hashPair(left, right);
        if (computed != node) revert NodeMismatch(computed, node);
    }

    /// @dev keccak256(a ‖ b) in scratch space.
    function _hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            mstore(0x00, a)
            mstore(0x20, b)
            h := keccak256(0x00, 0x40)
        }
    }

    /// @dev Number of phases: the leading non-zero bytes of `heights`.
    function _phaseCount(bytes32 heights) internal pure returns (uint256 k) {
        while (k < 32 && heights[k] != 0) ++k;
    }
}
