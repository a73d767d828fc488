//! The embedded chain: an in-memory EVM (revm) with funded dev accounts.
//!
//! It is a chain of one block that never moves: transactions run at once, with no signatures, a
//! zero base fee and no nonce checks. [`EmbeddedChain::deploy`] and [`EmbeddedChain::transact`]
//! commit their state changes; [`EmbeddedChain::call`] runs a transaction and discards them, as
//! `eth_call` does, but reports the gas the transaction would use.

use std::fmt;

use alloy_primitives::{Address, Bytes, U256};
use revm::context::result::{ExecutionResult, Output};
use revm::context::{CfgEnv, TxEnv};
use revm::context_interface::cfg::gas::calculate_initial_tx_gas;
use revm::database::{CacheDB, EmptyDB};
use revm::handler::{MainnetContext, MainnetEvm};
use revm::primitives::TxKind;
use revm::primitives::hardfork::SpecId;
use revm::state::AccountInfo;
use revm::{Context, ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext};

/// The gas limit of every transaction (the EIP-7825 cap: what any transaction may use).
pub const TX_GAS_LIMIT: u64 = 1 << 24;

/// Number of funded dev accounts.
const DEV_ACCOUNTS: usize = 10;

/// Balance of each dev account: 10^6 ether.
const DEV_BALANCE: u128 = 1_000_000 * 10u128.pow(18);

/// Why a transaction on the embedded chain failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvmError {
    /// The EVM refused the transaction (an invalid transaction or a database error).
    Rejected(String),
    /// The transaction reverted with `data`; `error` names the custom error when a caller
    /// decoded it.
    Revert {
        /// The revert data.
        data: Bytes,
        /// The decoded custom error, such as `MemoryRoot(leafIndex: 1234)`.
        error: Option<String>,
        /// Gas the transaction used.
        gas_used: u64,
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
}

impl fmt::Display for EvmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvmError::Rejected(reason) => write!(f, "the EVM rejected the transaction: {reason}"),
            EvmError::Revert {
                error: Some(error), ..
            } => write!(f, "reverted: {error}"),
            EvmError::Revert { data, .. } => write!(f, "reverted with data {data}"),
            EvmError::Halt { reason, gas_used } => {
                write!(f, "halted after {gas_used} gas: {reason}")
            }
            EvmError::NoContract => f.write_str("the deployment created no contract"),
            EvmError::BadOutput { output } => write!(f, "undecodable return data {output}"),
        }
    }
}

impl std::error::Error for EvmError {}

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
        EmbeddedChain {
            evm,
            spec,
            accounts,
        }
    }

    /// The rules the chain runs under.
    pub fn spec(&self) -> SpecId {
        self.spec
    }

    /// The funded dev accounts; the first sends every transaction.
    pub fn accounts(&self) -> &[Address] {
        &self.accounts
    }

    fn tx(&self, kind: TxKind, data: Bytes) -> TxEnv {
        TxEnv::builder()
            .caller(self.accounts[0])
            .kind(kind)
            .data(data)
            .gas_limit(TX_GAS_LIMIT)
            .build_fill()
    }

    /// Deploys a contract from its creation code; returns its address.
    pub fn deploy(&mut self, creation_code: &[u8]) -> Result<Address, EvmError> {
        let tx = self.tx(TxKind::Create, Bytes::copy_from_slice(creation_code));
        let result = self
            .evm
            .transact_commit(tx)
            .map_err(|err| EvmError::Rejected(err.to_string()))?;
        receipt(result)?.created.ok_or(EvmError::NoContract)
    }

    /// Sends a transaction calling `to` with `calldata` and commits its state changes.
    pub fn transact(&mut self, to: Address, calldata: Bytes) -> Result<Receipt, EvmError> {
        let tx = self.tx(TxKind::Call(to), calldata);
        let result = self
            .evm
            .transact_commit(tx)
            .map_err(|err| EvmError::Rejected(err.to_string()))?;
        receipt(result)
    }

    /// Runs a transaction calling `to` with `calldata` and discards its state changes
    /// (`eth_call`), reporting the gas it used.
    pub fn call(&mut self, to: Address, calldata: Bytes) -> Result<Receipt, EvmError> {
        let tx = self.tx(TxKind::Call(to), calldata);
        let result = self
            .evm
            .transact(tx)
            .map_err(|err| EvmError::Rejected(err.to_string()))?;
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
        ExecutionResult::Revert { output, .. } => Err(EvmError::Revert {
            data: output,
            error: None,
            gas_used,
        }),
        ExecutionResult::Halt { reason, .. } => Err(EvmError::Halt {
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
