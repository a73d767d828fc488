//! The DNN models an agent serves graph tasks of (`docs/game-design.md`, "Graph tasks"),
//! indexed by their model root, the name a graph task gives its model on chain; and, with an
//! LLM ([`ModelStore::with_llm`]), the graphs of LLM tasks, derived per task from the GGUF
//! model and the task's posted record (`docs/game-design.md`, "LLM tasks").

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};

use opml_dnn::phase::state::coarse_steps;
use opml_dnn::{AlignedBytes, Model};
use opml_gguf::Gguf;
use opml_graph::{GraphError, STEP_PROGRAM_ELF};
use opml_llama::{Llama, LlmGraph};
use opml_llm::task::{HEADER_LEN, Task};
use opml_state::Hash;

use crate::AgentError;
use crate::program::Program;

/// The most positions (prompt tokens plus generated tokens) of an LLM task a store derives the
/// graph of: the graph grows linearly with them, and the memory of its native run with their
/// square (every position's KV cache is a tensor of its own: SmolLM2 at 256 positions holds
/// 1.5 GB of them, at 4,096 it would need 390 GB). A game holds far fewer today (about 15 for
/// SmolLM2, `docs/game-design.md`).
pub const MAX_LLM_POSITIONS: u32 = 256;

/// The longest prompt (in bytes) of an LLM task a store tokenizes: 16 bytes for each position
/// it could take (the tokenizer's work grows with the text, whatever the tokens).
pub const MAX_LLM_PROMPT_BYTES: usize = 16 * MAX_LLM_POSITIONS as usize;

/// How many derived LLM graphs a store keeps by default (each holds the model's weights: about
/// 100 MB for SmolLM2-135M).
pub const LLM_CACHE: usize = 2;

/// One model held: its `.opml` file and the number of coarse steps of its runs.
#[derive(Clone, Debug)]
pub struct HeldModel {
    /// The whole `.opml` file.
    pub file: Arc<[u8]>,
    /// Coarse steps of every run of the model: load, one per node, finish.
    pub steps: u64,
    /// For the graph of an LLM task: its prompt tokens and positions.
    pub llm: Option<LlmShape>,
}

/// The length of an LLM task's generation, which its graph (and so its model root) fixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LlmShape {
    /// Prompt tokens `n` (after the chat template, if the task applies it).
    pub prompt_tokens: u32,
    /// Positions `P = n + g`, `g` the generated tokens.
    pub positions: u32,
}

impl LlmShape {
    /// Generated tokens `g`.
    pub fn generated(&self) -> u32 {
        self.positions - self.prompt_tokens
    }
}

/// What the header of an LLM task record asks, read without tokenizing
/// ([`ModelStore::llm_request`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LlmRequest {
    /// Tokens to generate.
    pub tokens: u32,
    /// The prompt's bytes.
    pub prompt_bytes: usize,
    /// Whether the prompt is wrapped in the chat template.
    pub chat: bool,
}

/// Why an LLM model cannot be held, or an LLM task's graph not derived: a reason for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LlmError(pub String);

impl fmt::Display for LlmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LlmError {}

/// The LLM of a store: the GGUF file, and the graphs derived from it, most recent last.
#[derive(Debug)]
struct HeldLlm {
    gguf: Arc<[u8]>,
    name: String,
    cache: Mutex<VecDeque<(Hash, HeldModel)>>,
    cache_limit: usize,
}

/// The models an agent has, by model root, and the node step program (`opml_graph`'s
/// `graph-step`) that re-does their steps in the VM. Clones share the LLM's derived graphs.
#[derive(Clone, Debug)]
pub struct ModelStore {
    models: BTreeMap<Hash, HeldModel>,
    llm: Option<Arc<HeldLlm>>,
    step_program: Program,
}

impl ModelStore {
    /// A store of the models in `files` (whole `.opml` files); fails if one does not parse.
    pub fn new<F: AsRef<[u8]>>(
        files: impl IntoIterator<Item = F>,
    ) -> Result<ModelStore, AgentError> {
        let mut store = ModelStore {
            models: BTreeMap::new(),
            llm: None,
            step_program: Program::new(STEP_PROGRAM_ELF)?,
        };
        for file in files {
            store.insert(file.as_ref())?;
        }
        Ok(store)
    }

    /// The store, also deriving the graphs of LLM tasks of the llama model in `gguf` (a whole
    /// GGUF file): a graph task of a model root it does not hold whose input is an LLM task
    /// record ([`opml_llm::task`]) gets the graph [`LlmGraph::build`] makes of the record,
    /// if that graph's root is the task's ([`derive`](Self::derive)). Keeps the last
    /// [`LLM_CACHE`] graphs derived. Fails if the file is not a llama model `opml_llama` runs.
    pub fn with_llm(mut self, gguf: impl Into<Arc<[u8]>>) -> Result<ModelStore, LlmError> {
        let gguf = gguf.into();
        let name = with_llama(&gguf, |llama| Ok(llama.name.clone()))?;
        self.llm = Some(Arc::new(HeldLlm {
            gguf,
            name,
            cache: Mutex::new(VecDeque::new()),
            cache_limit: LLM_CACHE,
        }));
        Ok(self)
    }

    /// The store keeping the last `limit` (at least 1) LLM graphs derived instead of
    /// [`LLM_CACHE`]; the graphs derived so far are dropped.
    pub fn with_llm_cache(mut self, limit: usize) -> ModelStore {
        if let Some(llm) = &self.llm {
            self.llm = Some(Arc::new(HeldLlm {
                gguf: llm.gguf.clone(),
                name: llm.name.clone(),
                cache: Mutex::new(VecDeque::new()),
                cache_limit: limit.max(1),
            }));
        }
        self
    }

    /// Adds the model in `file`; returns its model root.
    pub fn insert(&mut self, file: &[u8]) -> Result<Hash, AgentError> {
        let (root, steps) = parse(file)?;
        let held = HeldModel {
            file: file.into(),
            steps,
            llm: None,
        };
        self.models.insert(root, held);
        Ok(root)
    }

    /// The model root of the model in `file` (a whole `.opml` file), as a store indexes it.
    pub fn root_of(file: &[u8]) -> Result<Hash, AgentError> {
        Ok(parse(file)?.0)
    }

    /// The model of root `root`, if held: one of its `.opml` files, or an LLM graph it
    /// derived lately.
    pub fn get(&self, root: &Hash) -> Option<HeldModel> {
        if let Some(model) = self.models.get(root) {
            return Some(model.clone());
        }
        let llm = self.llm.as_ref()?;
        let mut cache = llm
            .cache
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let at = cache.iter().position(|(r, _)| r == root)?;
        let entry = cache.remove(at)?;
        let model = entry.1.clone();
        cache.push_back(entry);
        Some(model)
    }

    /// The roots of the `.opml` models held, in order (not the LLM graphs derived).
    pub fn roots(&self) -> impl Iterator<Item = &Hash> {
        self.models.keys()
    }

    /// How many `.opml` models it holds.
    pub fn len(&self) -> usize {
        self.models.len()
    }

    /// Whether it holds no `.opml` model (it may still derive LLM graphs).
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }

    /// The node step program of every graph task.
    pub fn step_program(&self) -> &Program {
        &self.step_program
    }

    /// The name of its LLM (`general.name` of the GGUF file), if it has one.
    pub fn llm_name(&self) -> Option<&str> {
        self.llm.as_deref().map(|llm| llm.name.as_str())
    }

    /// Whether it derives LLM graphs.
    pub fn has_llm(&self) -> bool {
        self.llm.is_some()
    }

    /// What the LLM task record `input` asks, checked without tokenizing its prompt (cheap:
    /// a service asks it before it spends a job on the task): a record that parses, at least
    /// one token to generate and fewer than [`MAX_LLM_POSITIONS`], a prompt of at most
    /// [`MAX_LLM_PROMPT_BYTES`].
    pub fn llm_request(input: &[u8]) -> Result<LlmRequest, LlmError> {
        let task = Task::parse(input)
            .map_err(|error| LlmError(format!("its input is not an LLM task record ({error})")))?;
        let prompt_bytes = input.len() - HEADER_LEN;
        if task.tokens == 0 {
            return Err(LlmError(
                "its LLM task asks for no token to generate".to_owned(),
            ));
        }
        if task.tokens >= MAX_LLM_POSITIONS {
            return Err(LlmError(format!(
                "its LLM task asks for {} tokens, more than the {MAX_LLM_POSITIONS} positions \
                 a graph may have",
                task.tokens
            )));
        }
        if prompt_bytes > MAX_LLM_PROMPT_BYTES {
            return Err(LlmError(format!(
                "its LLM task's prompt has {prompt_bytes} bytes, more than the \
                 {MAX_LLM_PROMPT_BYTES} this service tokenizes"
            )));
        }
        Ok(LlmRequest {
            tokens: task.tokens,
            prompt_bytes,
            chat: task.chat,
        })
    }

    /// The graph of the LLM task of record `input`, and its model root, derived from the
    /// store's LLM (or found among the graphs derived lately): checks the record
    /// ([`llm_request`](Self::llm_request)), tokenizes the prompt, refuses more than
    /// [`MAX_LLM_POSITIONS`] positions, and only then builds the graph. Keeps it.
    pub fn derive(&self, input: &[u8]) -> Result<(Hash, HeldModel), LlmError> {
        let (root, held) = self.build(input)?;
        self.keep(root, &held);
        Ok((root, held))
    }

    /// The graph of the LLM task of record `input` and its root, not kept.
    fn build(&self, input: &[u8]) -> Result<(Hash, HeldModel), LlmError> {
        let llm = self
            .llm
            .as_ref()
            .ok_or_else(|| LlmError("this service has no LLM".to_owned()))?;
        let graph = llm_graph(&llm.gguf, input)?;
        let model = Model::parse(&graph.file)
            .map_err(|error| LlmError(format!("its graph does not parse ({error})")))?;
        let root = model.root();
        let steps = coarse_steps(model.nodes().len() as u32);
        let held = HeldModel {
            file: Arc::from(&graph.file[..]),
            steps,
            llm: Some(LlmShape {
                prompt_tokens: graph.prompt_tokens,
                positions: graph.positions,
            }),
        };
        Ok((root, held))
    }

    /// Keeps the derived graph `held` of root `root`, dropping the least recently used beyond
    /// the bound.
    fn keep(&self, root: Hash, held: &HeldModel) {
        let Some(llm) = &self.llm else { return };
        let mut cache = llm
            .cache
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        cache.retain(|(r, _)| *r != root);
        cache.push_back((root, held.clone()));
        while cache.len() > llm.cache_limit {
            cache.pop_front();
        }
    }

    /// The model of graph task (`root`, `input`): a model held ([`get`](Self::get)), else the
    /// graph derived from the LLM task record `input` ([`derive`](Self::derive)) if its root
    /// is `root` (only then kept: tasks of other roots cannot evict the graphs kept); else why
    /// not.
    pub fn resolve(&self, root: &Hash, input: &[u8]) -> Result<HeldModel, LlmError> {
        if let Some(model) = self.get(root) {
            return Ok(model);
        }
        let (derived, model) = self.build(input)?;
        if derived != *root {
            let shape = model.llm.expect("a derived model has its shape");
            return Err(LlmError(format!(
                "its input is an LLM task of {} ({} prompt tokens, {} generated), whose graph \
                 has model root 0x{}, not the task's",
                self.llm_name().unwrap_or("the LLM"),
                shape.prompt_tokens,
                shape.generated(),
                hex::encode(derived)
            )));
        }
        self.keep(derived, &model);
        Ok(model)
    }
}

/// The graph of the LLM task of record `input` on the llama model in `gguf` (a whole GGUF
/// file), within [`MAX_LLM_POSITIONS`] and [`MAX_LLM_PROMPT_BYTES`]: the record is checked and
/// the prompt tokenized before anything is built.
pub fn llm_graph(gguf: &[u8], input: &[u8]) -> Result<LlmGraph, LlmError> {
    ModelStore::llm_request(input)?;
    let task = Task::parse(input).expect("checked by llm_request");
    with_llama(gguf, |llama| {
        let ids = task.prompt_ids(&llama.tables());
        let positions = ids.len() as u64 + u64::from(task.tokens);
        if positions > u64::from(MAX_LLM_POSITIONS) {
            return Err(LlmError(format!(
                "its LLM task has {} prompt tokens and {} to generate: more than the \
                 {MAX_LLM_POSITIONS} positions a graph may have",
                ids.len(),
                task.tokens
            )));
        }
        LlmGraph::build(llama, &task)
            .map_err(|error| LlmError(format!("its LLM task has no graph ({error})")))
    })
}

/// Calls `f` with the llama model in `gguf`.
fn with_llama<T>(
    gguf: &[u8],
    f: impl FnOnce(&Llama<'_>) -> Result<T, LlmError>,
) -> Result<T, LlmError> {
    let parsed =
        Gguf::parse(gguf).map_err(|error| LlmError(format!("not a GGUF file: {error}")))?;
    let llama = Llama::from_gguf(&parsed).map_err(|error| LlmError(error.to_string()))?;
    f(&llama)
}

/// The model root of the model in `file` and the coarse steps of its runs.
fn parse(file: &[u8]) -> Result<(Hash, u64), AgentError> {
    let aligned = AlignedBytes::from_slice(file);
    let model = Model::parse(&aligned).map_err(GraphError::from)?;
    let nodes = u32::try_from(model.nodes().len())
        .map_err(|_| AgentError::Internal("a model of 2^32 nodes or more"))?;
    Ok((model.root(), coarse_steps(nodes)))
}
