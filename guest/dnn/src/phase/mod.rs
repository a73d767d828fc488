//! The graph phase of a two-phase dispute (`docs/dnn.md`, "Graph phase"): a DNN graph run as
//! a sequence of coarse steps over a committed state, so that a dispute bisects over nodes
//! first and re-does only one node in the VM.
//!
//! | module | |
//! |---|---|
//! | [`state`] | the graph state `S(i)`: task word, values tree, result, byte commitments, refusals |
//! | [`native`] | the fast path: [`GraphRun`], every state of a run computed natively |
//! | `preimages` | [`GraphRun::preimages`]: what a node step reads, for the host's data oracle |
//! | [`step`] | the proving path: [`step()`], coarse step `j` from `S(j − 1)` through a data [`Oracle`] |

pub mod native;
mod preimages;
pub mod state;
pub mod step;

pub use native::{GraphRun, Tamper};
pub use preimages::Preimage;
pub use state::{Coarse, Refusal};
pub use step::{Oracle, step};
