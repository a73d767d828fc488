//! The DNN models an agent serves graph tasks of (`docs/game-design.md`, "Graph tasks"),
//! indexed by their model root, the name a graph task gives its model on chain.

use std::collections::BTreeMap;
use std::sync::Arc;

use opml_dnn::phase::state::coarse_steps;
use opml_dnn::{AlignedBytes, Model};
use opml_graph::{GraphError, STEP_PROGRAM_ELF};
use opml_state::Hash;

use crate::AgentError;
use crate::program::Program;

/// One model held: its `.opml` file and the number of coarse steps of its runs.
#[derive(Clone, Debug)]
pub struct HeldModel {
    /// The whole `.opml` file.
    pub file: Arc<[u8]>,
    /// Coarse steps of every run of the model: load, one per node, finish.
    pub steps: u64,
}

/// The models an agent has, by model root, and the node step program (`opml_graph`'s
/// `graph-step`) that re-does their steps in the VM.
#[derive(Clone, Debug)]
pub struct ModelStore {
    models: BTreeMap<Hash, HeldModel>,
    step_program: Program,
}

impl ModelStore {
    /// A store of the models in `files` (whole `.opml` files); fails if one does not parse.
    pub fn new<F: AsRef<[u8]>>(
        files: impl IntoIterator<Item = F>,
    ) -> Result<ModelStore, AgentError> {
        let mut store = ModelStore {
            models: BTreeMap::new(),
            step_program: Program::new(STEP_PROGRAM_ELF)?,
        };
        for file in files {
            store.insert(file.as_ref())?;
        }
        Ok(store)
    }

    /// Adds the model in `file`; returns its model root.
    pub fn insert(&mut self, file: &[u8]) -> Result<Hash, AgentError> {
        let (root, steps) = parse(file)?;
        let held = HeldModel {
            file: file.into(),
            steps,
        };
        self.models.insert(root, held);
        Ok(root)
    }

    /// The model root of the model in `file` (a whole `.opml` file), as a store indexes it.
    pub fn root_of(file: &[u8]) -> Result<Hash, AgentError> {
        Ok(parse(file)?.0)
    }

    /// The model of root `root`, if held.
    pub fn get(&self, root: &Hash) -> Option<&HeldModel> {
        self.models.get(root)
    }

    /// The roots of the models held, in order.
    pub fn roots(&self) -> impl Iterator<Item = &Hash> {
        self.models.keys()
    }

    /// How many models it holds.
    pub fn len(&self) -> usize {
        self.models.len()
    }

    /// Whether it holds no model.
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }

    /// The node step program of every graph task.
    pub fn step_program(&self) -> &Program {
        &self.step_program
    }
}

/// The model root of the model in `file` and the coarse steps of its runs.
fn parse(file: &[u8]) -> Result<(Hash, u64), AgentError> {
    let aligned = AlignedBytes::from_slice(file);
    let model = Model::parse(&aligned).map_err(GraphError::from)?;
    let nodes = u32::try_from(model.nodes().len())
        .map_err(|_| AgentError::Internal("a model of 2^32 nodes or more"))?;
    Ok((model.root(), coarse_steps(nodes)))
}
