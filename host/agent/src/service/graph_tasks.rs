//! Graph tasks in the services (`docs/game-design.md`, "Graph tasks"): a graph task's model and
//! input come from its posting event, and its run is the model's graph phase, computed
//! natively as a job.

use alloy_primitives::{B256, U256};
use alloy_sol_types::SolEvent;
use opml_chain::contracts::TaskRegistry;
use opml_chain::{Chain, LogQuery};
use opml_dnn::phase::Refusal;
use opml_graph::GraphPhase;
use opml_state::Hash;

use super::desk::{Desk, config_of};
use super::jobs::Spec;
use super::results::{JobKey, JobOutput};
use super::task_work::{Run, RunBudget, TaskWork};
use crate::AgentError;
use crate::deploy::Contracts;
use crate::models::{HeldModel, ModelStore};

/// `TaskRegistry.TaskKind.Graph`, as the `task` view gives it.
const GRAPH_KIND: u8 = 1;

/// Whether `task` is a graph task.
pub(crate) fn is_graph(task: &TaskRegistry::Task) -> bool {
    task.kind == GRAPH_KIND
}

/// The model root and input of graph task `task_id`, from its `GraphTaskPosted` event (asked
/// for by the task id, an indexed topic) in blocks `from_block..=to_block`.
fn fetch_graph_task(
    chain: &mut dyn Chain,
    contracts: &Contracts,
    task_id: u64,
    from_block: u64,
    to_block: Option<u64>,
) -> Result<(Hash, Vec<u8>), AgentError> {
    let mut query = LogQuery::new(contracts.registry)
        .from_block(from_block)
        .topic(0, TaskRegistry::GraphTaskPosted::SIGNATURE_HASH)
        .topic(1, B256::from(U256::from(task_id)));
    if let Some(to_block) = to_block {
        query = query.to_block(to_block);
    }
    chain
        .logs(&query)?
        .iter()
        .find_map(|entry| {
            let posted = TaskRegistry::GraphTaskPosted::decode_log(&entry.log).ok()?;
            (posted.taskId == U256::from(task_id))
                .then(|| (posted.modelRoot.0, posted.input.to_vec()))
        })
        .ok_or_else(|| {
            AgentError::Decode(format!(
                "no GraphTaskPosted event of task {task_id} from block {from_block} on"
            ))
        })
}

/// Why the model refused the input of `phase`'s run, if it did (then the run has no output).
pub(crate) fn refusal(phase: &GraphPhase) -> Option<String> {
    let input = phase.run().input().len();
    phase.run().refusal().map(|refusal| match refusal {
        Refusal::InputLength => format!(
            "the model refuses its input: {input} bytes, not the size of the model's inputs"
        ),
        other => format!("the model refuses its input ({other:?})"),
    })
}

/// Graphs of more nodes than this get the grouped bound ([`GraphPhase::step_bound`]) instead of
/// re-doing every coarse step in the VM ([`GraphPhase::longest_step`]).
pub(crate) const EXACT_STEPS: u64 = 2_000;

/// `Ok` if every coarse step of `phase` halts within `limit = 2^lower_log2` instructions in
/// the VM (the game's lower phases); else why the task cannot be defended: a dispute landing
/// on the longest step could not be descended into by either side, and the challenger, who
/// descends first, would lose on time. Up to [`EXACT_STEPS`] coarse steps, every step is re-done
/// in the VM; above, or for an LLM task's graph (`grouped`), one step per group of like steps,
/// with a margin ([`GraphPhase::step_bound`]).
pub(crate) fn fits(
    phase: &GraphPhase,
    limit: u64,
    lower_log2: u32,
    grouped: bool,
) -> Result<(), String> {
    let redo = |error| format!("cannot re-do its steps in the VM ({error})");
    let (longest, j, how) = if !grouped && phase.step_count() <= EXACT_STEPS {
        let (longest, j) = phase.longest_step(limit).map_err(redo)?;
        (longest, j, format!("takes at least {longest}"))
    } else {
        let bound = phase.step_bound(limit).map_err(redo)?;
        let how = if bound.measured == bound.bound || bound.measured >= limit {
            format!("takes at least {}", bound.measured)
        } else {
            format!(
                "takes {}, and {} with the margin its group of {} like steps gets",
                bound.measured,
                bound.bound,
                phase
                    .step_groups()
                    .iter()
                    .find(|g| g.contains(&bound.step))
                    .map_or(1, Vec::len)
            )
        };
        (bound.bound, bound.step, how)
    };
    if longest < limit {
        return Ok(());
    }
    Err(format!(
        "its lower phases hold 2^{lower_log2} instructions, but the node step program of \
         coarse step {j} ({}) {how}: neither side could descend there, so the task cannot be \
         defended",
        phase.describe_step(j)
    ))
}

/// `Ok` if a top phase of height `top` holds the `model`'s coarse steps; else why not.
fn top_fits(root: &Hash, model: &HeldModel, top: u32) -> Result<(), String> {
    if 1u64
        .checked_shl(top)
        .is_some_and(|leaves| leaves < model.steps)
    {
        return Err(format!(
            "a graph task of model 0x{} ({} coarse steps), more than its top phase of height \
             {top} holds",
            hex::encode(root),
            model.steps
        ));
    }
    Ok(())
}

impl Desk {
    /// Starts the run of graph task `task_id` (record `task`) within `budget`: reads its model
    /// root and input from its posting event, and runs its model natively as a job (a run
    /// that cannot be interrupted: it takes what the model takes, but a run abandoned meanwhile
    /// stays abandoned). A model it lacks, or one the task's top phase cannot hold, gets no
    /// run, for that reason. With an LLM, a model it lacks is derived, in the job, from the
    /// task's input as an LLM task record ([`ModelStore::resolve`](crate::ModelStore::resolve)):
    /// a record that is not one, or asks too much, or whose graph has another root, gets no
    /// run either, for that reason. A lying server's run alters the output of node `lie − 2`
    /// (clamped to the graph's nodes), every later state following from it. Says so.
    pub(crate) fn start_graph_run(
        &mut self,
        chain: &mut dyn Chain,
        task_id: u64,
        task: &TaskRegistry::Task,
        budget: RunBudget,
        lines: &mut Vec<String>,
    ) -> Result<(), AgentError> {
        let to_block = self.tasks.get(&task_id).map(|entry| entry.block);
        let first = self.cursor.first;
        let (root, input) = match fetch_graph_task(chain, &self.contracts, task_id, first, to_block)
        {
            Ok(posted) => posted,
            // The node failed: the next poll tries again.
            Err(error @ AgentError::Chain(_)) => return Err(error),
            Err(error) => {
                let reason = format!("cannot read its posting ({error})");
                self.work.insert(task_id, TaskWork::failed(reason));
                return Ok(());
            }
        };
        let lacks = format!(
            "a graph task of model 0x{}, which this service does not have",
            hex::encode(root)
        );
        let Some(models) = self.models.clone() else {
            self.work.insert(task_id, TaskWork::failed(lacks));
            return Ok(());
        };
        let config = config_of(task)?;
        let top = config.height(0).map_or(0, u32::from);
        let held = models.get(&root);
        match &held {
            Some(model) => {
                if let Err(reason) = top_fits(&root, model, top) {
                    self.work.insert(task_id, TaskWork::failed(reason));
                    return Ok(());
                }
                let kind = match model.llm {
                    Some(shape) => format!(
                        "LLM graph task of {} ({} prompt tokens, {} generated)",
                        models.llm_name().unwrap_or("its LLM"),
                        shape.prompt_tokens,
                        shape.generated()
                    ),
                    None => "graph task".to_owned(),
                };
                lines.push(format!(
                    "task {task_id}: {kind}, model 0x{}, {} coarse steps, {} bytes of input; \
                     running it natively (within {} s: {})",
                    hex::encode(root),
                    model.steps,
                    input.len(),
                    budget.wall.as_secs(),
                    budget.why
                ));
            }
            None if models.has_llm() => match ModelStore::llm_request(&input) {
                Err(error) => {
                    let reason = format!("{lacks}, and {error}");
                    self.work.insert(task_id, TaskWork::failed(reason));
                    return Ok(());
                }
                Ok(request) => lines.push(format!(
                    "task {task_id}: graph task, model 0x{}, not held: an LLM task of {} \
                     ({} tokens to generate after a prompt of {} bytes{}); deriving its graph \
                     and running it natively (within {} s: {})",
                    hex::encode(root),
                    models.llm_name().unwrap_or("its LLM"),
                    request.tokens,
                    request.prompt_bytes,
                    if request.chat { ", chat" } else { "" },
                    budget.wall.as_secs(),
                    budget.why
                )),
            },
            None => {
                self.work.insert(task_id, TaskWork::failed(lacks));
                return Ok(());
            }
        }
        let spec = Spec {
            urgency: budget.wall.as_secs(),
            steps: budget.steps,
            deadline: None,
        };
        let lie = self.lie;
        // Instructions the lower phases hold: every node step must halt inside them.
        let lower_log2 = config.heights()[1..]
            .iter()
            .map(|&h| u32::from(h))
            .sum::<u32>();
        let vm_limit = 1u64.checked_shl(lower_log2).unwrap_or(u64::MAX);
        let step_program = models.step_program().clone();
        self.jobs.submit(JobKey::Run(task_id), spec, move |_| {
            let model = match held {
                Some(model) => Ok(model),
                None => models
                    .resolve(&root, &input)
                    .map_err(|error| format!("{lacks}, and {error}"))
                    .and_then(|model| top_fits(&root, &model, top).map(|()| model)),
            };
            let run = model.and_then(|model| {
                // Coarse step j ≥ 2 is node j − 2; a model has at least one node.
                let nodes = model.steps.saturating_sub(2);
                let fault = lie
                    .map(|from| from.saturating_sub(2).min(nodes.saturating_sub(1)))
                    .map(|node| u32::try_from(node).unwrap_or(u32::MAX));
                let phase = match fault {
                    None => GraphPhase::new(&model.file, &input),
                    Some(node) => GraphPhase::with_fault(&model.file, &input, node),
                };
                phase
                    .map_err(|error| format!("cannot run it ({error})"))
                    .and_then(|phase| {
                        fits(&phase, vm_limit, lower_log2, model.llm.is_some()).map(|()| phase)
                    })
                    .map(|phase| Run::Graph {
                        phase,
                        step_program,
                    })
            });
            JobOutput::Run { task: task_id, run }
        });
        self.work.insert(task_id, TaskWork::running());
        Ok(())
    }
}
