//! The chain the agents run against: one small blocking interface, implemented by the embedded
//! EVM ([`EmbeddedChain`](crate::EmbeddedChain)) and by a JSON-RPC node
//! ([`RpcChain`](crate::RpcChain)).
//!
//! Both chains mine one transaction per block. A transaction that would revert is reported as
//! [`ChainError::Revert`] with its revert data (decode it with [`ChainError::decoded`]); on a
//! node it is found by the gas estimate and never sent.

use alloy_primitives::{Address, B256, Bytes, Log, U256};

use crate::error::ChainError;

/// A transaction to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tx {
    /// The sender: one of [`Chain::accounts`].
    pub from: Address,
    /// The called contract or the receiver of the value.
    pub to: Address,
    /// Wei sent along.
    pub value: U256,
    /// The calldata.
    pub data: Bytes,
}

impl Tx {
    /// A call of `to` with `data` and no value.
    pub fn call(from: Address, to: Address, data: impl Into<Bytes>) -> Tx {
        Tx {
            from,
            to,
            value: U256::ZERO,
            data: data.into(),
        }
    }

    /// A plain transfer of `value` wei.
    pub fn transfer(from: Address, to: Address, value: U256) -> Tx {
        Tx {
            from,
            to,
            value,
            data: Bytes::new(),
        }
    }
}

/// A committed (mined) transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxReceipt {
    /// The transaction hash; `None` on the embedded chain, which signs nothing.
    pub tx_hash: Option<B256>,
    /// The block the transaction is in.
    pub block_number: u64,
    /// Gas the transaction used, intrinsic gas included.
    pub gas_used: u64,
    /// Wei paid per unit of gas (zero on the embedded chain): the sender paid
    /// `gas_used * effective_gas_price` besides the value.
    pub effective_gas_price: u128,
    /// The logs the transaction emitted, in order.
    pub logs: Vec<Log>,
}

/// A log and the block it was emitted in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockLog {
    /// The block number.
    pub block_number: u64,
    /// The log (emitting address, topics, data).
    pub log: Log,
}

/// Which logs to read ([`Chain::logs`]): one emitter's, in a block range, whose topics match.
///
/// A `None` topic matches anything; topic 0 of a Solidity event is its signature hash, and its
/// indexed parameters follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogQuery {
    /// The emitting contract.
    pub address: Address,
    /// The first block.
    pub from_block: u64,
    /// The last block (`None`: the latest).
    pub to_block: Option<u64>,
    /// The topics to match, by position.
    pub topics: [Option<B256>; 4],
}

impl LogQuery {
    /// Every log of `address`, from the genesis block on.
    pub fn new(address: Address) -> LogQuery {
        LogQuery {
            address,
            from_block: 0,
            to_block: None,
            topics: [None; 4],
        }
    }

    /// From block `block` on.
    pub fn from_block(mut self, block: u64) -> LogQuery {
        self.from_block = block;
        self
    }

    /// Up to block `block` (included).
    pub fn to_block(mut self, block: u64) -> LogQuery {
        self.to_block = Some(block);
        self
    }

    /// Only the logs whose topic `index` is `value`; an index past the fourth topic is ignored
    /// (no log has one).
    pub fn topic(mut self, index: usize, value: B256) -> LogQuery {
        if let Some(slot) = self.topics.get_mut(index) {
            *slot = Some(value);
        }
        self
    }

    /// Whether `entry` is one of the logs asked for.
    pub fn matches(&self, entry: &BlockLog) -> bool {
        let topics = entry.log.topics();
        entry.log.address == self.address
            && entry.block_number >= self.from_block
            && self.to_block.is_none_or(|last| entry.block_number <= last)
            && self.topics.iter().enumerate().all(|(index, wanted)| {
                wanted.is_none_or(|wanted| topics.get(index) == Some(&wanted))
            })
    }
}

/// A chain: accounts to send from, contracts to deploy and call, time and logs.
///
/// Blocking: every method returns once the node answered (a transaction once it is mined).
pub trait Chain {
    /// The accounts this chain can send from (embedded: its funded dev accounts; a node: the
    /// addresses of the keys it was given).
    fn accounts(&self) -> &[Address];

    /// Deploys a contract from its creation code, sent by `from`; returns its address.
    fn deploy(&mut self, from: Address, creation_code: Bytes) -> Result<Address, ChainError>;

    /// Sends a transaction and waits until it is mined. A revert is an error and changes no
    /// state.
    fn send(&mut self, tx: Tx) -> Result<TxReceipt, ChainError>;

    /// Runs a call on the latest state without changing it (`eth_call`); returns its output.
    fn call(&mut self, from: Address, to: Address, data: Bytes) -> Result<Bytes, ChainError>;

    /// The balance of `who` in wei.
    fn balance(&mut self, who: Address) -> Result<U256, ChainError>;

    /// The timestamp of the latest block, in seconds.
    fn timestamp(&mut self) -> Result<u64, ChainError>;

    /// Moves time forward by `seconds` and mines a block (dev chains only; a real node answers
    /// [`ChainError::Unsupported`]).
    fn advance_time(&mut self, seconds: u64) -> Result<(), ChainError>;

    /// Every log `query` asks for, in chain order.
    fn logs(&mut self, query: &LogQuery) -> Result<Vec<BlockLog>, ChainError>;

    /// The number of the latest block.
    fn block_number(&mut self) -> Result<u64, ChainError>;
}
