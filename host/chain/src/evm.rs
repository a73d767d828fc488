//! The embedded chain: an in-memory EVM (revm) with funded dev accounts.
//!
//! Every committed transaction is mined in a block of its own, as on anvil with automine:
//! [`EmbeddedChain::deploy`], [`EmbeddedChain::transact`] and [`Chain::send`] commit their state
//! changes and move the block number by one; [`EmbeddedChain::call`] runs a transaction and
//! discards its changes, as `eth_call` does, but reports the gas the transaction would use.
//! Transactions are not signed and their nonces are not checked; gas is free (zero base fee and
//! gas price), so a sender's balance moves by the value it sends and nothing else. Time stands
//! still: blocks keep the timestamp of the genesis block ([`GENESIS_TIMESTAMP`]) until
//! [`Chain::advance_time`] moves it, so runs are deterministic. Solidity's `block.number` and
//! `block.timestamp` see the block being mined (the latest block plus one, at the latest
//! timestamp).

use std::fmt;

use alloy_primitives::{Address, Bytes, Log, U256};
use revm::context::result::{ExecutionResult, Output};
use revm::context::{CfgEnv, TxEnv};
use revm::context_interface::cfg::gas::calculate_initial_tx_gas;
use revm::database::{CacheDB, EmptyDB};
use revm::database_interface::DatabaseRef;
use revm::handler::{MainnetContext, MainnetEvm};
use revm::primitives::TxKind;
use revm::primitives::hardfork::SpecId;
use revm::state::AccountInfo;
use revm::{Context, ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext};

use crate::backend::{BlockLog, Chain, LogQuery, Tx, TxReceipt};
use crate::error::ChainError;

/// The gas limit of every transaction (the EIP-7825 cap: what any transaction may use).
pub const TX_GAS_LIMIT: u64 = 1 << 24;

/// Number of funded dev accounts: enough for a task's roles and twenty sybil or garbage
/// challengers.
const DEV_ACCOUNTS: usize = 32;

/// Balance of each dev account: 10^6 ether.
const DEV_BALANCE: u128 = 1_000_000 * 10u128.pow(18);

/// Timestamp of the genesis block (2023-11-14), and of every block until time is advanced.
pub const GENESIS_TIMESTAMP: u64 = 1_700_000_000;

/// Why a transaction on the embedded chain failed: the error of every backend.
pub type EvmError = ChainError;

/// A successful transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The returned data (a call's return value, a deployment's runtime code).
    pub output: Bytes,
    /// Gas the transaction used, intrinsic gas included, under the chain's spec.
    pub gas_used: u64,
    /// The created contract of a deployment.
    pub created: Option<Address>,
}

/// Gas of one transaction with the given calldata, split into its parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxGas {
    /// Execution gas: what the called code used, without the intrinsic gas.
    pub execution: u64,
    /// The full transaction under Cancun: `21000 + 4 * zero bytes + 16 * non-zero bytes +
    /// execution`.
    pub cancun: u64,
    /// The full transaction under Prague, with the EIP-7623 calldata floor:
    /// `max(cancun, 21000 + 10 * (zero bytes + 4 * non-zero bytes))`.
    pub prague: u64,
}

impl TxGas {
    /// The gas parts of a call with `calldata` whose full cost under `spec` was `gas_used`.
    ///
    /// Exact for any spec before Prague. Under Prague and later a call that paid the calldata
    /// floor hides its execution gas: measure on a Cancun chain ([`EmbeddedChain::new`]).
    pub fn split(spec: SpecId, calldata: &[u8], gas_used: u64) -> TxGas {
        let intrinsic = |spec| calculate_initial_tx_gas(spec, calldata, false, 0, 0, 0, None);
        let here = intrinsic(spec);
        // Under Prague and later, a call costs at least the floor; the execution gas is only
        // known when the floor did not apply.
        let execution = gas_used.saturating_sub(here.initial_regular_gas);
        let cancun = intrinsic(SpecId::CANCUN).initial_regular_gas + execution;
        let prague_gas = intrinsic(SpecId::PRAGUE);
        let prague = (prague_gas.initial_regular_gas + execution).max(prague_gas.floor_gas);
        TxGas {
            execution,
            cancun,
            prague,
        }
    }
}

/// The EVM of the embedded chain.
type Evm = MainnetEvm<MainnetContext<CacheDB<EmptyDB>>>;

/// An in-memory chain: revm over an empty database, with funded dev accounts.
pub struct EmbeddedChain {
    evm: Evm,
    spec: SpecId,
    accounts: Vec<Address>,
    /// The latest block.
    block_number: u64,
    /// The latest block's timestamp.
    timestamp: u64,
    /// Every log of every committed transaction, in order.
    logs: Vec<BlockLog>,
}

impl Default for EmbeddedChain {
    fn default() -> EmbeddedChain {
        EmbeddedChain::new()
    }
}

impl fmt::Debug for EmbeddedChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedChain")
            .field("spec", &self.spec)
            .field("accounts", &self.accounts)
            .field("block_number", &self.block_number)
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
}

impl EmbeddedChain {
    /// A chain under the Cancun rules.
    pub fn new() -> EmbeddedChain {
        EmbeddedChain::with_spec(SpecId::CANCUN)
    }

    /// A chain under the rules of `spec`.
    pub fn with_spec(spec: SpecId) -> EmbeddedChain {
        let mut db = CacheDB::new(EmptyDB::default());
        let accounts: Vec<Address> = (1..=DEV_ACCOUNTS)
            .map(|k| Address::with_last_byte(k as u8).create(0))
            .collect();
        for &account in &accounts {
            db.insert_account_info(
                account,
                AccountInfo {
                    balance: U256::from(DEV_BALANCE),
                    ..Default::default()
                },
            );
        }
        let mut cfg = CfgEnv::new_with_spec(spec);
        cfg.disable_nonce_check = true;
        let evm = Context::mainnet().with_db(db).with_cfg(cfg).build_mainnet();
        let mut chain = EmbeddedChain {
            evm,
            spec,
            accounts,
            block_number: 0,
            timestamp: GENESIS_TIMESTAMP,
            logs: Vec::new(),
        };
        chain.set_next_block();
        chain
    }

    /// The rules the chain runs under.
    pub fn spec(&self) -> SpecId {
        self.spec
    }

    /// The funded dev accounts; the first sends the transactions of [`EmbeddedChain::deploy`],
    /// [`EmbeddedChain::transact`] and [`EmbeddedChain::call`].
    pub fn accounts(&self) -> &[Address] {
        &self.accounts
    }

    /// Points the block environment at the next block: the one the next transaction is mined
    /// in, and the one calls see.
    fn set_next_block(&mut self) {
        let block = &mut self.evm.ctx.block;
        block.number = U256::from(self.block_number) + U256::ONE;
        block.timestamp = U256::from(self.timestamp);
    }

    /// Mines a block: the latest block moves by one.
    fn mine(&mut self) {
        self.block_number += 1;
        self.set_next_block();
    }

    fn tx(from: Address, kind: TxKind, value: U256, data: Bytes) -> TxEnv {
        TxEnv::builder()
            .caller(from)
            .kind(kind)
            .value(value)
            .data(data)
            .gas_limit(TX_GAS_LIMIT)
            .build_fill()
    }

    /// Runs `tx` and, if it succeeds, commits it in a block of its own and keeps its logs. A
    /// reverted or halted transaction changes nothing, as on a node where the gas estimate
    /// finds the revert before the transaction is sent.
    fn commit(&mut self, tx: TxEnv) -> Result<(Receipt, Vec<Log>), ChainError> {
        let outcome = self
            .evm
            .transact(tx)
            .map_err(|err| ChainError::Rejected(err.to_string()))?;
        let logs = outcome.result.logs().to_vec();
        let receipt = receipt(outcome.result)?;
        self.evm.commit(outcome.state);
        self.mine();
        self.logs.extend(logs.iter().map(|log| BlockLog {
            block_number: self.block_number,
            log: log.clone(),
        }));
        Ok((receipt, logs))
    }

    /// `from` if the chain holds it.
    fn sender(&self, from: Address) -> Result<Address, ChainError> {
        if self.accounts.contains(&from) {
            Ok(from)
        } else {
            Err(ChainError::UnknownAccount(from))
        }
    }

    /// Deploys a contract from its creation code, sent by the first account; returns its
    /// address.
    pub fn deploy(&mut self, creation_code: &[u8]) -> Result<Address, EvmError> {
        let tx = EmbeddedChain::tx(
            self.accounts[0],
            TxKind::Create,
            U256::ZERO,
            Bytes::copy_from_slice(creation_code),
        );
        self.commit(tx)?.0.created.ok_or(ChainError::NoContract)
    }

    /// Sends a transaction from the first account calling `to` with `calldata` and commits its
    /// state changes.
    pub fn transact(&mut self, to: Address, calldata: Bytes) -> Result<Receipt, EvmError> {
        let tx = EmbeddedChain::tx(self.accounts[0], TxKind::Call(to), U256::ZERO, calldata);
        Ok(self.commit(tx)?.0)
    }

    /// Runs a transaction from the first account calling `to` with `calldata` and discards its
    /// state changes (`eth_call`), reporting the gas it used.
    pub fn call(&mut self, to: Address, calldata: Bytes) -> Result<Receipt, EvmError> {
        self.call_from(self.accounts[0], to, calldata)
    }

    fn call_from(&mut self, from: Address, to: Address, data: Bytes) -> Result<Receipt, EvmError> {
        let tx = EmbeddedChain::tx(from, TxKind::Call(to), U256::ZERO, data);
        let result = self
            .evm
            .transact(tx)
            .map_err(|err| ChainError::Rejected(err.to_string()))?;
        receipt(result.result)
    }

    /// The code deployed at `address` (empty if none).
    pub fn code(&self, address: Address) -> Bytes {
        self.evm
            .ctx
            .journaled_state
            .database
            .cache
            .accounts
            .get(&address)
            .and_then(|account| account.info.code.as_ref())
            .map(|code| code.original_bytes())
            .unwrap_or_default()
    }
}

impl Chain for EmbeddedChain {
    fn accounts(&self) -> &[Address] {
        &self.accounts
    }

    fn deploy(&mut self, from: Address, creation_code: Bytes) -> Result<Address, ChainError> {
        let tx = EmbeddedChain::tx(
            self.sender(from)?,
            TxKind::Create,
            U256::ZERO,
            creation_code,
        );
        self.commit(tx)?.0.created.ok_or(ChainError::NoContract)
    }

    fn send(&mut self, tx: Tx) -> Result<TxReceipt, ChainError> {
        let from = self.sender(tx.from)?;
        let tx = EmbeddedChain::tx(from, TxKind::Call(tx.to), tx.value, tx.data);
        let (receipt, logs) = self.commit(tx)?;
        Ok(TxReceipt {
            tx_hash: None,
            block_number: self.block_number,
            gas_used: receipt.gas_used,
            effective_gas_price: 0,
            logs,
        })
    }

    fn call(&mut self, from: Address, to: Address, data: Bytes) -> Result<Bytes, ChainError> {
        Ok(self.call_from(from, to, data)?.output)
    }

    fn balance(&mut self, who: Address) -> Result<U256, ChainError> {
        let account = self
            .evm
            .ctx
            .journaled_state
            .database
            .basic_ref(who)
            .map_err(|err| ChainError::Rejected(err.to_string()))?;
        Ok(account.map_or(U256::ZERO, |account| account.balance))
    }

    fn timestamp(&mut self) -> Result<u64, ChainError> {
        Ok(self.timestamp)
    }

    fn advance_time(&mut self, seconds: u64) -> Result<(), ChainError> {
        self.timestamp = self.timestamp.checked_add(seconds).ok_or_else(|| {
            ChainError::Rejected(format!("advancing time by {seconds} s overflows"))
        })?;
        self.mine();
        Ok(())
    }

    fn logs(&mut self, query: &LogQuery) -> Result<Vec<BlockLog>, ChainError> {
        Ok(self
            .logs
            .iter()
            .filter(|entry| query.matches(entry))
            .cloned()
            .collect())
    }

    fn block_number(&mut self) -> Result<u64, ChainError> {
        Ok(self.block_number)
    }
}

/// A receipt for a successful result, the error for any other.
fn receipt(result: ExecutionResult) -> Result<Receipt, EvmError> {
    let gas_used = result.tx_gas_used();
    match result {
        ExecutionResult::Success { output, .. } => {
            let (output, created) = match output {
                Output::Call(bytes) => (bytes, None),
                Output::Create(bytes, address) => (bytes, address),
            };
            Ok(Receipt {
                output,
                gas_used,
                created,
            })
        }
        ExecutionResult::Revert { output, .. } => Err(ChainError::Revert {
            data: output,
            error: None,
            gas_used: Some(gas_used),
        }),
        ExecutionResult::Halt { reason, .. } => Err(ChainError::Halt {
            reason: format!("{reason:?}"),
            gas_used,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runtime code that returns `sha256(calldata)` through the precompile at address 2, and
    /// creation code that deploys it.
    fn sha256_echo() -> Vec<u8> {
        // calldatacopy(0, 0, calldatasize); staticcall(gas, 2, 0, calldatasize, 0, 32);
        // return(0, 32)
        let runtime: [u8; 20] = [
            0x36, 0x60, 0x00, 0x60, 0x00, 0x37, // calldatacopy(0, 0, size)
            0x60, 0x20, 0x60, 0x00, 0x36, 0x60, 0x00, 0x60, 0x02, 0x5a, 0xfa, // staticcall
            0x50, // pop
            0x60, 0x20, // push 32 (return length)
        ];
        let mut runtime = runtime.to_vec();
        runtime.extend([0x60, 0x00, 0xf3]); // return(0, 32)
        // codecopy(0, 12, len); return(0, len)
        let len = runtime.len() as u8;
        let mut creation = vec![
            0x60, len, 0x60, 12, 0x60, 0x00, 0x39, 0x60, len, 0x60, 0x00, 0xf3,
        ];
        assert_eq!(creation.len(), 12);
        creation.extend(runtime);
        creation
    }

    #[test]
    fn deploys_and_calls_the_sha256_precompile() {
        let mut chain = EmbeddedChain::new();
        let address = chain.deploy(&sha256_echo()).unwrap();
        assert_eq!(chain.code(address).len(), 23);
        let data = Bytes::from_static(b"opml");
        let receipt = chain.call(address, data.clone()).unwrap();
        assert_eq!(receipt.output[..], opml_state::sha256(b"opml"));
        let gas = TxGas::split(SpecId::CANCUN, &data, receipt.gas_used);
        assert_eq!(gas.cancun, receipt.gas_used);
        assert_eq!(gas.cancun, 21_000 + 4 * 16 + gas.execution);
        // A second deployment from the same account gets a new address.
        assert_ne!(chain.deploy(&sha256_echo()).unwrap(), address);
    }

    #[test]
    fn prague_gas_matches_a_prague_chain() {
        // Data-heavy calldata: the floor applies under Prague.
        let data = Bytes::from(vec![0xab; 2000]);
        let mut cancun = EmbeddedChain::new();
        let mut prague = EmbeddedChain::with_spec(SpecId::PRAGUE);
        let a = cancun.deploy(&sha256_echo()).unwrap();
        let b = prague.deploy(&sha256_echo()).unwrap();
        let on_cancun = TxGas::split(
            SpecId::CANCUN,
            &data,
            cancun.call(a, data.clone()).unwrap().gas_used,
        );
        assert_eq!(
            on_cancun.prague,
            prague.call(b, data.clone()).unwrap().gas_used
        );
        assert_eq!(on_cancun.cancun, 21_000 + 16 * 2000 + on_cancun.execution);
        assert_eq!(on_cancun.prague, 21_000 + 10 * 4 * 2000);
    }
}
