//! The one error type of every chain backend, and the decoding of revert data.

use std::fmt::{self, Debug};
use std::time::Duration;

use alloy_primitives::{Address, Bytes};
use alloy_sol_types::{ContractError, SolInterface};

/// Why a chain operation failed, on any backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainError {
    /// The chain refused the transaction before running it (invalid transaction, database
    /// error, a value the chain cannot represent).
    Rejected(String),
    /// The transaction or call reverted with `data`; `error` names the custom error when a
    /// caller decoded it ([`ChainError::decoded`]).
    Revert {
        /// The revert data.
        data: Bytes,
        /// The decoded error, such as `MemoryRoot { leafIndex: 1234 }`.
        error: Option<String>,
        /// Gas the transaction used, when known: always on the embedded chain, on a node only
        /// for a transaction that was mined (not for a call or a gas estimate).
        gas_used: Option<u64>,
    },
    /// The transaction halted exceptionally (out of gas, invalid opcode, ...).
    Halt {
        /// The EVM's reason.
        reason: String,
        /// Gas the transaction used.
        gas_used: u64,
    },
    /// A deployment succeeded but created no contract.
    NoContract,
    /// A call returned data the caller could not decode.
    BadOutput {
        /// The returned bytes.
        output: Bytes,
    },
    /// The sender is not an account the backend can sign for.
    UnknownAccount(Address),
    /// The backend does not offer the operation (moving time on a real node).
    Unsupported(String),
    /// The node or the transport failed.
    Rpc(String),
    /// The node did not answer in time.
    Timeout {
        /// What was waited for.
        what: String,
        /// How long.
        after: Duration,
    },
    /// A local node could not be found or started.
    Node(String),
}

impl ChainError {
    /// Names the error of a revert from `E`, the errors enum of a `sol!` contract binding (such
    /// as `RiscvStep::RiscvStepErrors`), or the standard `Error(string)` and `Panic(uint256)`;
    /// any other error is returned as it is.
    pub fn decoded<E: SolInterface + Debug>(self) -> ChainError {
        match self {
            ChainError::Revert {
                data,
                error: None,
                gas_used,
            } => ChainError::Revert {
                error: decode_revert::<E>(&data),
                data,
                gas_used,
            },
            other => other,
        }
    }
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainError::Rejected(reason) => {
                write!(f, "the chain rejected the transaction: {reason}")
            }
            ChainError::Revert {
                error: Some(error), ..
            } => write!(f, "reverted: {error}"),
            ChainError::Revert { data, .. } if data.is_empty() => f.write_str("reverted"),
            ChainError::Revert { data, .. } => write!(f, "reverted with data {data}"),
            ChainError::Halt { reason, gas_used } => {
                write!(f, "halted after {gas_used} gas: {reason}")
            }
            ChainError::NoContract => f.write_str("the deployment created no contract"),
            ChainError::BadOutput { output } => write!(f, "undecodable return data {output}"),
            ChainError::UnknownAccount(address) => {
                write!(f, "no signing key for the sender {address}")
            }
            ChainError::Unsupported(what) => write!(f, "not supported by this chain: {what}"),
            ChainError::Rpc(message) => write!(f, "JSON-RPC: {message}"),
            ChainError::Timeout { what, after } => {
                write!(f, "timed out after {after:?} waiting for {what}")
            }
            ChainError::Node(message) => write!(f, "local node: {message}"),
        }
    }
}

impl std::error::Error for ChainError {}

/// The error in revert `data`: a custom error of `E` (the errors enum of a `sol!` contract
/// binding) as `Name { field: value, .. }`, or a standard `Error(string)` as `revert: reason`
/// or `Panic(uint256)` as `panic: ...`; `None` when the data is none of them.
pub fn decode_revert<E: SolInterface + Debug>(data: &[u8]) -> Option<String> {
    match ContractError::<E>::abi_decode(data).ok()? {
        ContractError::CustomError(error) => {
            // `Variant(Variant { .. })`: keep the inner struct.
            let debug = format!("{error:?}");
            let inner = debug
                .split_once('(')
                .and_then(|(_, rest)| rest.strip_suffix(')'))
                .unwrap_or(&debug);
            Some(inner.to_owned())
        }
        ContractError::Revert(revert) => Some(revert.to_string()),
        ContractError::Panic(panic) => Some(panic.to_string()),
    }
}
