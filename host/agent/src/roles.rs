//! The opML roles' transactions: a requester publishes an input and posts a task, a server
//! commits a result, a challenger disputes it, and anyone settles, collects rewards,
//! finalizes, cancels and withdraws.

use alloy_primitives::{Address, B256, Bytes, Log, U256};
use alloy_sol_types::{SolCall, SolEvent};
use opml_chain::contracts::{InputOracle, TaskRegistry};
use opml_chain::{Chain, LogQuery, TxReceipt};
use opml_game::{PhaseConfig, Top};
use opml_state::{Hash, input};

use crate::AgentError;
use crate::deploy::{Contracts, send, view};

/// Largest part of an input sent in one transaction (chunk-aligned).
pub const INPUT_PART: usize = 24 * 1024;

/// Publishes `data` in the input oracle from `from` (from the end backwards, in parts of at
/// most [`INPUT_PART`] bytes) and returns its commitment. The empty input needs no upload.
pub fn publish_input(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    from: Address,
    data: &[u8],
) -> Result<Hash, AgentError> {
    let commitment = input::commitment(data);
    if data.is_empty() {
        return Ok(commitment);
    }
    let length = u32::try_from(data.len()).map_err(|_| AgentError::InputTooLong(data.len()))?;
    let receipt = send(
        chain,
        from,
        contracts.oracle,
        U256::ZERO,
        InputOracle::openCall { length }.abi_encode().into(),
    )?;
    let opened: InputOracle::UploadOpened = event(&receipt, contracts.oracle)?;
    let mut end = data.len();
    while end > 0 {
        // Parts start on chunk boundaries; only the first part sent may end mid-chunk.
        let start = end.saturating_sub(INPUT_PART).div_ceil(32) * 32;
        let call = InputOracle::postCall {
            id: opened.id,
            data: Bytes::copy_from_slice(&data[start..end]),
        };
        send(
            chain,
            from,
            contracts.oracle,
            U256::ZERO,
            call.abi_encode().into(),
        )?;
        end = start;
    }
    Ok(commitment)
}

/// Most bytes of input an agent fetches: 64 MiB. An upload's length comes from the input
/// oracle's event, which anyone can emit by opening an upload; an agent refuses a longer input
/// ([`AgentError::InputOverLimit`]) instead of allocating what the chain says.
pub const MAX_INPUT: usize = 64 << 20;

/// Rebuilds the input with `commitment` from the input oracle's events, reading blocks
/// `from_block..=to_block` (`None`: up to the latest): the first complete upload of it (its
/// `InputAvailable` event, asked for by the commitment, an indexed topic), assembled from its
/// parts (the `InputData` events of that upload id, also indexed, up to the block that
/// completed it) and checked against the commitment. The empty input (commitment zero) needs
/// no upload. A task's input is complete before the task is posted, so the task's block is a
/// good `to_block`.
pub fn fetch_input(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    commitment: Hash,
    from_block: u64,
    to_block: Option<u64>,
) -> Result<Vec<u8>, AgentError> {
    if commitment == input::commitment(&[]) {
        return Ok(Vec::new());
    }
    let mut query = LogQuery::new(contracts.oracle)
        .from_block(from_block)
        .topic(0, InputOracle::InputAvailable::SIGNATURE_HASH)
        .topic(1, B256::from(commitment));
    if let Some(to_block) = to_block {
        query = query.to_block(to_block);
    }
    let (id, length, completed) = chain
        .logs(&query)?
        .iter()
        .find_map(|entry| {
            let available = InputOracle::InputAvailable::decode_log(&entry.log).ok()?;
            (available.commitment.0 == commitment).then_some((
                available.id,
                available.length,
                entry.block_number,
            ))
        })
        .ok_or(AgentError::InputUnavailable(commitment))?;
    let length = usize::try_from(length)
        .ok()
        .filter(|&length| length <= MAX_INPUT)
        .ok_or(AgentError::InputOverLimit {
            commitment,
            length: u64::from(length),
        })?;
    let parts = LogQuery::new(contracts.oracle)
        .from_block(from_block)
        .to_block(completed)
        .topic(0, InputOracle::InputData::SIGNATURE_HASH)
        .topic(1, B256::from(id));
    let mut data = vec![0u8; length];
    let mut posted = 0;
    for entry in chain.logs(&parts)? {
        let Ok(part) = InputOracle::InputData::decode_log(&entry.log).map(|log| log.data) else {
            continue;
        };
        if part.id != id {
            continue;
        }
        let start = part.offset as usize;
        let slot = start
            .checked_add(part.data.len())
            .and_then(|end| data.get_mut(start..end))
            .ok_or_else(|| AgentError::Decode(format!("upload {id} has a part past its end")))?;
        slot.copy_from_slice(&part.data);
        posted += part.data.len();
    }
    if posted != data.len() || input::commitment(&data) != commitment {
        return Err(AgentError::Decode(format!(
            "upload {id} does not rebuild input 0x{}",
            hex::encode(commitment)
        )));
    }
    Ok(data)
}

/// What a requester asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskRequest {
    /// The program to run.
    pub program_id: Hash,
    /// The published input.
    pub input_commitment: Hash,
    /// The phases of its dispute games.
    pub config: PhaseConfig,
    /// The fee, in wei.
    pub fee: U256,
    /// Last moment for a result (block time).
    pub deadline: u64,
}

/// Posts a task; returns its id.
pub fn post_task(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    from: Address,
    request: &TaskRequest,
) -> Result<u64, AgentError> {
    let call = TaskRegistry::postTaskCall {
        programId: B256::from(request.program_id),
        inputCommitment: B256::from(request.input_commitment),
        heights: B256::from(request.config.pack()),
        deadline: request.deadline,
    };
    let receipt = send(
        chain,
        from,
        contracts.registry,
        request.fee,
        call.abi_encode().into(),
    )?;
    let posted: TaskRegistry::TaskPosted = event(&receipt, contracts.registry)?;
    id_of(posted.taskId)
}

/// Commits a result (packed final state and output) with the server bond.
pub fn commit_result(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    from: Address,
    task_id: u64,
    final_state: &[u8],
    output: &[u8],
) -> Result<TxReceipt, AgentError> {
    let call = TaskRegistry::commitResultCall {
        taskId: U256::from(task_id),
        finalStateData: Bytes::copy_from_slice(final_state),
        output: Bytes::copy_from_slice(output),
    };
    send(
        chain,
        from,
        contracts.registry,
        contracts.config.server_bond,
        call.abi_encode().into(),
    )
}

/// What a requester asks for in a graph task (two-phase DNN inference, `docs/dnn.md`,
/// "Graph phase").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphRequest {
    /// The node step program (`opml_graph::STEP_PROGRAM_ID`).
    pub step_program: Hash,
    /// The model root of the `.opml` model.
    pub model_root: Hash,
    /// The graph inputs' data, concatenated (published in the posting event's log).
    pub input: Vec<u8>,
    /// The phases of its dispute games: the graph phase on top.
    pub config: PhaseConfig,
    /// The fee, in wei.
    pub fee: U256,
    /// Last moment for a result (block time).
    pub deadline: u64,
}

/// Posts a graph task; returns its id.
pub fn post_graph_task(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    from: Address,
    request: &GraphRequest,
) -> Result<u64, AgentError> {
    let call = TaskRegistry::postGraphTaskCall {
        stepProgram: B256::from(request.step_program),
        modelRoot: B256::from(request.model_root),
        input: Bytes::copy_from_slice(&request.input),
        heights: B256::from(request.config.pack()),
        deadline: request.deadline,
    };
    let receipt = send(
        chain,
        from,
        contracts.registry,
        request.fee,
        call.abi_encode().into(),
    )?;
    let posted: TaskRegistry::GraphTaskPosted = event(&receipt, contracts.registry)?;
    id_of(posted.taskId)
}

/// Commits a graph task's result (the final values root and the output bytes; the registry
/// derives the final graph state) with the server bond.
pub fn commit_graph_result(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    from: Address,
    task_id: u64,
    values: &Hash,
    output: &[u8],
) -> Result<TxReceipt, AgentError> {
    let call = TaskRegistry::commitGraphResultCall {
        taskId: U256::from(task_id),
        values: B256::from(*values),
        output: Bytes::copy_from_slice(output),
    };
    send(
        chain,
        from,
        contracts.registry,
        contracts.config.server_bond,
        call.abi_encode().into(),
    )
}

/// Disputes the result of `task_id` with the challenger bond and the challenger's top-phase
/// commitment; returns the game id.
pub fn challenge(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    from: Address,
    task_id: u64,
    initial_state: &[u8],
    (root, end, end_proof): (Hash, Hash, Vec<Hash>),
) -> Result<(u64, TxReceipt), AgentError> {
    let call = TaskRegistry::challengeCall {
        taskId: U256::from(task_id),
        initialState: Bytes::copy_from_slice(initial_state),
        root: B256::from(root),
        end: B256::from(end),
        endProof: end_proof.into_iter().map(B256::from).collect(),
    };
    let receipt = send(
        chain,
        from,
        contracts.registry,
        contracts.config.challenger_bond,
        call.abi_encode().into(),
    )?;
    let challenged: TaskRegistry::Challenged = event(&receipt, contracts.registry)?;
    Ok((id_of(challenged.gameId)?, receipt))
}

/// Applies the verdict of `challenger`'s dispute of round `round` of `task_id` (its game must
/// be over).
pub fn settle(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    from: Address,
    task_id: u64,
    round: u32,
    challenger: Address,
) -> Result<TxReceipt, AgentError> {
    let call = TaskRegistry::settleDisputeCall {
        taskId: U256::from(task_id),
        round_: U256::from(round),
        challenger,
    };
    to_registry(chain, contracts, from, &call)
}

/// Credits `challenger`'s reward for winning in rejected round `round` of `task_id` (its bond
/// and its share of the pool; the round must be closed).
pub fn collect(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    from: Address,
    task_id: u64,
    round: u32,
    challenger: Address,
) -> Result<TxReceipt, AgentError> {
    let call = TaskRegistry::collectCall {
        taskId: U256::from(task_id),
        round_: U256::from(round),
        challenger,
    };
    to_registry(chain, contracts, from, &call)
}

/// Finalizes `task_id` after its window.
pub fn finalize(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    from: Address,
    task_id: u64,
) -> Result<TxReceipt, AgentError> {
    let call = TaskRegistry::finalizeCall {
        taskId: U256::from(task_id),
    };
    to_registry(chain, contracts, from, &call)
}

/// Cancels `task_id`, open past its deadline: the fee goes back to its requester.
pub fn cancel(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    from: Address,
    task_id: u64,
) -> Result<TxReceipt, AgentError> {
    let call = TaskRegistry::cancelCall {
        taskId: U256::from(task_id),
    };
    to_registry(chain, contracts, from, &call)
}

/// Withdraws everything credited to `from`; returns the amount (zero: nothing was sent).
pub fn withdraw(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    from: Address,
) -> Result<U256, AgentError> {
    let amount = credit(chain, contracts, from)?;
    if !amount.is_zero() {
        to_registry(chain, contracts, from, &TaskRegistry::withdrawCall {})?;
    }
    Ok(amount)
}

/// What the registry owes `account`.
pub fn credit(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    account: Address,
) -> Result<U256, AgentError> {
    view(
        chain,
        account,
        contracts.registry,
        TaskRegistry::balanceOfCall { account },
    )
}

/// The record of task `task_id`.
pub fn read_task(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    task_id: u64,
) -> Result<TaskRegistry::Task, AgentError> {
    view(
        chain,
        Address::ZERO,
        contracts.registry,
        TaskRegistry::taskCall {
            taskId: U256::from(task_id),
        },
    )
}

/// Where a task is in its lifecycle (`TaskRegistry.TaskStatus`). A rejection is a property of
/// a round ([`read_round`]): the task goes back to `Open` for its next round, or to
/// `Cancelled` past its deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskStatus {
    /// No such task.
    None,
    /// Waiting for a result (of its current round).
    Open,
    /// The current round has a result; disputes may be open.
    Committed,
    /// The result stands.
    Finalized,
    /// No result stands and the deadline passed; the fee went back.
    Cancelled,
}

impl TaskStatus {
    /// The status of the task record `task`.
    pub fn of(task: &TaskRegistry::Task) -> Result<TaskStatus, AgentError> {
        Ok(match task.status {
            0 => TaskStatus::None,
            1 => TaskStatus::Open,
            2 => TaskStatus::Committed,
            3 => TaskStatus::Finalized,
            4 => TaskStatus::Cancelled,
            other => return Err(AgentError::Decode(format!("unknown task status {other}"))),
        })
    }
}

/// Where one challenger's dispute stands (`TaskRegistry.DisputeStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisputeStatus {
    /// It never disputed that round.
    None,
    /// Its game is running or its verdict is not settled.
    Open,
    /// The server won its game.
    Lost,
    /// It won its game; its reward is collectible once the round closes.
    Won,
    /// It won and collected its reward.
    Collected,
}

impl DisputeStatus {
    /// The status of the dispute record `dispute`.
    pub fn of(dispute: &TaskRegistry::Dispute) -> Result<DisputeStatus, AgentError> {
        Ok(match dispute.status {
            0 => DisputeStatus::None,
            1 => DisputeStatus::Open,
            2 => DisputeStatus::Lost,
            3 => DisputeStatus::Won,
            4 => DisputeStatus::Collected,
            other => {
                return Err(AgentError::Decode(format!(
                    "unknown dispute status {other}"
                )));
            }
        })
    }
}

/// `challenger`'s dispute of round `round` of task `task_id` (all zero if it never disputed
/// it).
pub fn read_dispute(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    task_id: u64,
    round: u32,
    challenger: Address,
) -> Result<TaskRegistry::Dispute, AgentError> {
    view(
        chain,
        Address::ZERO,
        contracts.registry,
        TaskRegistry::disputeCall {
            taskId: U256::from(task_id),
            round_: U256::from(round),
            challenger,
        },
    )
}

/// Round `round` of task `task_id` (all zero if it never opened).
pub fn read_round(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    task_id: u64,
    round: u32,
) -> Result<TaskRegistry::Round, AgentError> {
    view(
        chain,
        Address::ZERO,
        contracts.registry,
        TaskRegistry::roundCall {
            taskId: U256::from(task_id),
            round_: U256::from(round),
        },
    )
}

/// Wei the registry has burned so far.
pub fn burned(chain: &mut dyn Chain, contracts: &Contracts) -> Result<U256, AgentError> {
    view(
        chain,
        Address::ZERO,
        contracts.registry,
        TaskRegistry::burnedCall {},
    )
}

/// The registry's time requirements of `config`: `(requiredWindow, requiredClock)` in
/// seconds, read from the contract.
pub fn required_times(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    config: &PhaseConfig,
) -> Result<(U256, U256), AgentError> {
    let heights = B256::from(config.pack());
    let graph = config.top() == Top::Program;
    let window = view(
        chain,
        Address::ZERO,
        contracts.registry,
        TaskRegistry::requiredWindowCall { heights, graph },
    )?;
    let clock = view(
        chain,
        Address::ZERO,
        contracts.registry,
        TaskRegistry::requiredClockCall { heights, graph },
    )?;
    Ok((window, clock))
}

/// Sends `call` to the registry from `from`, with no value.
fn to_registry(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    from: Address,
    call: &impl SolCall,
) -> Result<TxReceipt, AgentError> {
    let data = call.abi_encode().into();
    send(chain, from, contracts.registry, U256::ZERO, data)
}

/// The first event `E` that `address` emitted in `receipt`.
pub fn event<E: SolEvent>(receipt: &TxReceipt, address: Address) -> Result<E, AgentError> {
    receipt
        .logs
        .iter()
        .filter(|log| log.address == address)
        .find_map(|log: &Log| E::decode_log(log).ok().map(|decoded| decoded.data))
        .ok_or(AgentError::MissingEvent(E::SIGNATURE))
}

/// A task, game or upload id as a `u64`.
pub(crate) fn id_of(id: U256) -> Result<u64, AgentError> {
    u64::try_from(id).map_err(|_| AgentError::Decode(format!("id {id} out of range")))
}
