//! Chain backends of opml: where the contracts run.
//!
//! - [`backend`]: [`Chain`], the small blocking interface the agents run against, the same on
//!   every backend, and [`ChainError`], its one error type ([`error`]).
//! - [`evm`]: an embedded in-memory EVM (revm) with funded dev accounts, the default: tests, the
//!   gas benchmark, `opml check --evm`.
//! - [`rpc`]: a JSON-RPC node (alloy), selected by URL and private keys; [`anvil`] starts a
//!   local one.
//! - [`contracts`]: bindings generated from the committed forge artifacts
//!   (`contracts/artifacts/*.json`), and [`StepVerifierEvm`], the step verifier deployed on the
//!   embedded chain.

pub mod anvil;
pub mod backend;
pub mod contracts;
pub mod error;
pub mod evm;
pub mod rpc;

pub use anvil::Anvil;
pub use backend::{BlockLog, Chain, LogQuery, Tx, TxReceipt};
pub use contracts::{StepOutcome, StepVerifierEvm};
pub use error::{ChainError, decode_revert};
pub use evm::{EmbeddedChain, EvmError, Receipt, TxGas};
pub use rpc::{PrivateKeySigner, RpcChain};
