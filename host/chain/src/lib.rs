//! Chain backends of opml: where the Solidity step verifier runs.
//!
//! - [`evm`]: an embedded in-memory EVM (revm) with funded dev accounts, for tests, the gas
//!   benchmark and `opml check --evm`.
//! - [`contracts`]: bindings generated from the committed forge artifacts
//!   (`contracts/artifacts/*.json`), and [`StepVerifierEvm`], the step verifier deployed on a
//!   chain.
//!
//! A JSON-RPC backend (alloy) and the dispute game come next, beside these (`rpc`).

pub mod evm;

pub use evm::{EmbeddedChain, EvmError, Receipt, TxGas};
pub mod contracts;

pub use contracts::{StepOutcome, StepVerifierEvm};
