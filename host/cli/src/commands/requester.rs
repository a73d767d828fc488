//! The requester's commands on a node, after `opml request`: `opml task` (a task's record),
//! `opml output` (the output of its current round, final or still disputable), `opml withdraw`
//! (what the registry credits the account: refunded fees, bonds, rewards) and `opml cancel`
//! (an open task past its deadline: its fee is credited back).
//!
//! `task` and `output` only read the node, so they need no key; `withdraw` and `cancel` send
//! from the account of `--key` (or `OPML_KEY`), as every role's command does (`node.rs`).

use std::path::PathBuf;

use alloy_primitives::{Address, U256};
use anyhow::{Context, Result, bail};
use clap::Args;
use opml_agent::roles::{self, TaskStatus};
use opml_agent::{AgentError, Contracts, deploy};
use opml_chain::contracts::TaskRegistry;
use opml_chain::{Chain, ChainError, RpcChain};
use opml_game::{PhaseConfig, Top};
use serde_json::{Value, json};

use crate::commands::codec::{decode_abi, decode_frames};
use crate::commands::node::{NodeArgs, RpcArgs, registry};
use crate::json::hex;
use crate::schema::Schema;

/// `opml task --help`'s and `opml output --help`'s examples.
const READ_EXAMPLES: &str = "Examples:
  opml task 3 --rpc-url http://127.0.0.1:8545 --registry 0x…         the record, in words
  opml task 3 --rpc-url http://127.0.0.1:8545 --registry 0x… --json  ... as JSON
  opml output 3 --rpc-url http://127.0.0.1:8545 --registry 0x…       the output bytes as hex
  opml output 3 --rpc-url … --registry 0x… --out result.bin --finalized
                                                  the raw bytes, only once the result is final";

/// `opml withdraw --help`'s and `opml cancel --help`'s examples.
const SEND_EXAMPLES: &str = "Examples (the key from OPML_KEY or --key):
  opml cancel 3 --rpc-url http://127.0.0.1:8545 --registry 0x…   an open task past its deadline
  opml withdraw --rpc-url http://127.0.0.1:8545 --registry 0x…   pay out the account's credit";

/// The node and the registry, for the commands that only read them.
#[derive(Args)]
pub(crate) struct ReadArgs {
    #[command(flatten)]
    rpc: RpcArgs,
    /// The task registry (`opml deploy` prints it).
    #[arg(long, value_name = "ADDR")]
    registry: Address,
}

impl ReadArgs {
    /// Connects to the node (with no key) and reads the suite around the registry.
    fn connect(&self) -> Result<(RpcChain, Contracts)> {
        let mut chain = self.rpc.connect_with(&[])?;
        let contracts = registry(&mut chain, self.registry)?;
        Ok((chain, contracts))
    }
}

/// The node, the sending account's key and the registry.
#[derive(Args)]
pub(crate) struct SendArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The task registry (`opml deploy` prints it).
    #[arg(long, value_name = "ADDR")]
    registry: Address,
}

/// Arguments of `opml task`.
#[derive(Args)]
#[command(after_help = READ_EXAMPLES)]
pub(crate) struct TaskArgs {
    /// The task's id (`opml request` prints it).
    id: u64,
    #[command(flatten)]
    read: ReadArgs,
    /// Print the record as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `opml output`.
#[derive(Args)]
#[command(after_help = READ_EXAMPLES)]
pub(crate) struct OutputArgs {
    /// The task's id (`opml request` prints it).
    id: u64,
    #[command(flatten)]
    read: ReadArgs,
    /// Write the raw output bytes to this file instead of printing them as hex.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Fail unless the result is finalized (a committed result may still be disputed).
    #[arg(long)]
    finalized: bool,
    /// Print the output decoded by this schema (one per frame, in order; see `opml codec
    /// encode --help`) as JSON, one line per frame, instead of hex.
    #[arg(long, value_name = "SCHEMA", conflicts_with_all = ["abi", "out"])]
    schema: Vec<String>,
    /// Print the output decoded as `abi.encode` of these Solidity types (e.g.
    /// `uint256,string`; a guest's `commit_abi`) as a JSON array, instead of hex.
    #[arg(long, value_name = "TYPES", conflicts_with = "out")]
    abi: Option<String>,
}

/// Arguments of `opml withdraw`.
#[derive(Args)]
#[command(after_help = SEND_EXAMPLES)]
pub(crate) struct WithdrawArgs {
    #[command(flatten)]
    send: SendArgs,
}

/// Arguments of `opml cancel`.
#[derive(Args)]
#[command(after_help = SEND_EXAMPLES)]
pub(crate) struct CancelArgs {
    /// The task's id.
    id: u64,
    #[command(flatten)]
    send: SendArgs,
}

/// A task's record, read from the registry, with the chain's clock and the challenge window.
struct Record {
    id: u64,
    task: TaskRegistry::Task,
    status: TaskStatus,
    /// The chain's clock (the latest block's timestamp).
    now: u64,
    /// The registry's challenge window, in seconds.
    window: u64,
}

impl Record {
    /// Reads task `id`; fails if the registry has no such task.
    fn read(chain: &mut RpcChain, contracts: &Contracts, id: u64) -> Result<Record> {
        let task = roles::read_task(chain, contracts, id)
            .with_context(|| format!("cannot read task {id}"))?;
        let status = TaskStatus::of(&task)?;
        if status == TaskStatus::None {
            bail!("no task {id} at the registry {}", contracts.registry);
        }
        Ok(Record {
            id,
            task,
            status,
            now: chain.timestamp()?,
            window: contracts.config.challenge_window,
        })
    }

    /// Whether it is a graph task (a DNN model's), not a program's.
    fn is_graph(&self) -> bool {
        self.task.kind == 1
    }

    /// Its phases, decoded over its kind of top phase (`None` if the word does not decode).
    fn phases(&self) -> Option<PhaseConfig> {
        let top = if self.is_graph() {
            Top::Program
        } else {
            Top::Vm
        };
        PhaseConfig::unpack(&self.task.heights.0, top).ok()
    }

    /// When the current round's challenge window closes (`None` while no result is
    /// committed).
    fn window_closes(&self) -> Option<u64> {
        (self.task.committedAt != 0).then(|| self.task.committedAt.saturating_add(self.window))
    }

    /// The record as JSON.
    fn json(&self, registry: Address) -> Value {
        let task = &self.task;
        let committed = task.server != Address::ZERO;
        json!({
            "task_id": self.id,
            "registry": registry.to_string(),
            "status": status_name(self.status),
            "round": task.round,
            "kind": if self.is_graph() { "graph" } else { "vm" },
            "requester": task.requester.to_string(),
            "program_id": hex(task.programId.as_slice()),
            "input_commitment": hex(task.inputCommitment.as_slice()),
            "phases": self.phases().map(|phases| phases.heights().to_vec()),
            "heights": hex(task.heights.as_slice()),
            "fee": task.fee.to_string(),
            "deadline": task.deadline,
            "server": committed.then(|| task.server.to_string()),
            "committed_at": committed.then_some(task.committedAt),
            "window_closes": self.window_closes(),
            "open_disputes": task.openDisputes,
            "final_state": committed.then(|| hex(task.finalState.as_slice())),
            "cancellable": self.cancellable(),
            "chain_time": self.now,
        })
    }

    /// The record in words, a field a line.
    fn describe(&self) -> String {
        let task = &self.task;
        let (kind, program, input) = if self.is_graph() {
            ("a graph task", "step program", "task word")
        } else {
            ("a VM task", "program", "input")
        };
        let mut lines = vec![
            format!(
                "task {}: {} (round {}), {kind}",
                self.id,
                status_name(self.status),
                task.round
            ),
            format!("  requester      {}", task.requester),
            format!("  {program:<14} {}", hex(task.programId.as_slice())),
            format!("  {input:<14} {}", hex(task.inputCommitment.as_slice())),
            match self.phases() {
                Some(phases) => format!(
                    "  phases         {phases} (2^{} steps)",
                    phases.total_height()
                ),
                None => format!("  phases         {} (undecodable)", task.heights),
            },
            format!("  fee            {} wei", task.fee),
            format!(
                "  deadline       {} ({}){}",
                task.deadline,
                self.relative(task.deadline),
                self.cancellable_hint()
            ),
        ];
        if task.server != Address::ZERO {
            lines.push(format!("  server         {}", task.server));
            lines.push(format!("  committed at   {}", task.committedAt));
            if let Some(closes) = self.window_closes() {
                lines.push(format!(
                    "  window closes  {closes} ({})",
                    self.relative(closes)
                ));
            }
            lines.push(format!("  open disputes  {}", task.openDisputes));
            lines.push(format!(
                "  final state    {}",
                hex(task.finalState.as_slice())
            ));
        }
        lines.push(format!("  chain time     {}", self.now));
        lines.join("\n")
    }

    /// Whether the registry would cancel it now: open, and its deadline passed.
    fn cancellable(&self) -> bool {
        self.status == TaskStatus::Open && self.now > self.task.deadline
    }

    /// A hint to cancel it, when it can be (for the lines that describe it).
    fn cancellable_hint(&self) -> String {
        match self.cancellable() {
            true => format!("; `opml cancel {}` returns its fee", self.id),
            false => String::new(),
        }
    }

    /// `at` relative to the chain's clock: "in 12 s", "passed 3 s ago".
    fn relative(&self, at: u64) -> String {
        match at.checked_sub(self.now) {
            Some(left) => format!("in {left} s"),
            None => format!("passed {} s ago", self.now - at),
        }
    }
}

/// A task status as the commands print it.
fn status_name(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::None => "none",
        TaskStatus::Open => "open",
        TaskStatus::Committed => "committed",
        TaskStatus::Finalized => "finalized",
        TaskStatus::Cancelled => "cancelled",
    }
}

/// Prints a task's record.
pub(crate) fn task(args: TaskArgs) -> Result<u8> {
    let (mut chain, contracts) = args.read.connect()?;
    let record = Record::read(&mut chain, &contracts, args.id)?;
    if args.json {
        let report = record.json(contracts.registry);
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", record.describe());
    }
    Ok(0)
}

/// Prints (or writes) the output of a task's current round; says on stderr whether it is final.
pub(crate) fn output(args: OutputArgs) -> Result<u8> {
    let schemas = args
        .schema
        .iter()
        .map(|s| Schema::parse(s))
        .collect::<Result<Vec<_>>>()?;
    let (mut chain, contracts) = args.read.connect()?;
    let record = Record::read(&mut chain, &contracts, args.id)?;
    let (id, round) = (record.id, record.task.round);
    match record.status {
        TaskStatus::Finalized => eprintln!("task {id}: the result of round {round} is FINALIZED"),
        TaskStatus::Committed if args.finalized => bail!(
            "task {id}: the result of round {round} is committed, not finalized (it may still \
             be disputed{})",
            record
                .window_closes()
                .map_or_else(String::new, |at| format!(
                    "; its window closes at {at}, {}",
                    record.relative(at)
                ))
        ),
        TaskStatus::Committed => eprintln!(
            "task {id}: the result of round {round} is only COMMITTED, not final: it may still \
             be disputed ({} open){}",
            record.task.openDisputes,
            record
                .window_closes()
                .map_or_else(String::new, |at| format!(
                    "; its challenge window closes at {at} ({})",
                    record.relative(at)
                ))
        ),
        TaskStatus::Open if round > 0 => bail!(
            "task {id} has no result: round {}'s was rejected, and round {round} is open{}",
            round - 1,
            record.cancellable_hint()
        ),
        TaskStatus::Open => bail!(
            "task {id} has no result yet: it is open{}",
            record.cancellable_hint()
        ),
        TaskStatus::Cancelled | TaskStatus::None => {
            bail!("task {id} was cancelled: no result stands")
        }
    }
    let call = TaskRegistry::outputOfCall {
        taskId: U256::from(id),
    };
    let output = deploy::view(&mut chain, Address::ZERO, contracts.registry, call)
        .with_context(|| format!("cannot read task {id}'s output"))?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, &output)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "wrote its {} output bytes to {}",
                output.len(),
                path.display()
            );
        }
        None if !schemas.is_empty() => {
            for value in decode_frames(&schemas, &output)? {
                println!("{value}");
            }
        }
        None => match &args.abi {
            Some(types) => println!("{}", decode_abi(types, &output)?),
            None => println!("{}", hex(&output)),
        },
    }
    Ok(0)
}

/// Pays out what the registry credits the account; prints the amount.
pub(crate) fn withdraw(args: WithdrawArgs) -> Result<u8> {
    let (mut chain, account) = args.send.node.connect()?;
    let contracts = registry(&mut chain, args.send.registry)?;
    let amount = roles::withdraw(&mut chain, &contracts, account)
        .with_context(|| format!("cannot withdraw {account}'s credit"))?;
    if amount.is_zero() {
        println!("nothing to withdraw: the registry credits {account} 0 wei");
    } else {
        println!("withdrew {amount} wei to {account}");
    }
    Ok(0)
}

/// Cancels an open task past its deadline; its fee is credited to its requester.
pub(crate) fn cancel(args: CancelArgs) -> Result<u8> {
    let (mut chain, account) = args.send.node.connect()?;
    let contracts = registry(&mut chain, args.send.registry)?;
    let id = args.id;
    match roles::cancel(&mut chain, &contracts, account, id) {
        Ok(_) => {
            let record = Record::read(&mut chain, &contracts, id)?;
            println!(
                "cancelled task {id}: its fee of {} wei is credited to its requester {} \
                 (`opml withdraw` pays it out)",
                record.task.fee, record.task.requester
            );
            Ok(0)
        }
        Err(error) => {
            let Some(name) = revert_name(&error) else {
                return Err(error).with_context(|| format!("cannot cancel task {id}"));
            };
            let why = match Record::read(&mut chain, &contracts, id) {
                Err(_) => format!("there is no task {id}"),
                Ok(record) if name == "DeadlineNotPassed" => format!(
                    "task {id} is open until its deadline {} ({}; the chain's clock is at {})",
                    record.task.deadline,
                    record.relative(record.task.deadline),
                    record.now
                ),
                Ok(record) => format!(
                    "only an open task can be cancelled, and task {id} is {}",
                    status_name(record.status)
                ),
            };
            bail!("the registry refuses to cancel task {id}: {name}: {why} ({error})")
        }
    }
}

/// The name of the registry's custom error in a refused transaction (`DeadlineNotPassed`).
fn revert_name(error: &AgentError) -> Option<&str> {
    match error {
        AgentError::Chain(ChainError::Revert {
            error: Some(decoded),
            ..
        }) => decoded
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .next()
            .filter(|name| !name.is_empty()),
        _ => None,
    }
}
