//! The opml contract suite on a chain, and typed calls to it.

use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::{SolCall, SolConstructor};
use opml_chain::contracts::{DisputeGame, InputOracle, RiscvStep, TaskRegistry};
use opml_chain::{Chain, ChainError, Tx, TxReceipt, decode_revert};
use serde::Serialize;

use crate::AgentError;

/// The registry's parameters, fixed at deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RegistryConfig {
    /// Bond a server posts with a result, in wei.
    pub server_bond: U256,
    /// Bond a challenger posts with a dispute, in wei.
    pub challenger_bond: U256,
    /// Seconds after a result during which disputes may open.
    pub challenge_window: u64,
    /// Chess-clock budget of each side of a dispute, in seconds.
    pub game_clock: u64,
}

impl Default for RegistryConfig {
    /// One ether each, a one-hour window and a one-day clock.
    fn default() -> RegistryConfig {
        let ether = U256::from(10u64).pow(U256::from(18u64));
        RegistryConfig {
            server_bond: ether,
            challenger_bond: ether,
            challenge_window: 3600,
            game_clock: 86_400,
        }
    }
}

/// Where the four contracts live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Contracts {
    /// `RiscvStep`, the one-step verifier.
    pub verifier: Address,
    /// `InputOracle`.
    pub oracle: Address,
    /// `DisputeGame`.
    pub game: Address,
    /// `TaskRegistry`.
    pub registry: Address,
    /// The registry's parameters.
    pub config: RegistryConfig,
}

impl Contracts {
    /// Deploys the suite from `from`.
    pub fn deploy(
        chain: &mut dyn Chain,
        from: Address,
        config: RegistryConfig,
    ) -> Result<Contracts, AgentError> {
        let verifier = chain.deploy(from, RiscvStep::BYTECODE.clone())?;
        let oracle = chain.deploy(from, InputOracle::BYTECODE.clone())?;
        let game_args = DisputeGame::constructorCall {
            verifier_: verifier,
        }
        .abi_encode();
        let game = chain.deploy(from, concat(&DisputeGame::BYTECODE, &game_args))?;
        let registry_args = TaskRegistry::constructorCall {
            games_: game,
            inputOracle_: oracle,
            serverBond_: config.server_bond,
            challengerBond_: config.challenger_bond,
            challengeWindow_: config.challenge_window,
            gameClock_: config.game_clock,
        }
        .abi_encode();
        let registry = chain.deploy(from, concat(&TaskRegistry::BYTECODE, &registry_args))?;
        Ok(Contracts {
            verifier,
            oracle,
            game,
            registry,
            config,
        })
    }

    /// Connects to a deployed suite, reading the registry's parameters from the chain.
    pub fn at(chain: &mut dyn Chain, registry: Address) -> Result<Contracts, AgentError> {
        let from = Address::ZERO;
        let game = view(chain, from, registry, TaskRegistry::gamesCall {})?;
        let oracle = view(chain, from, registry, TaskRegistry::inputOracleCall {})?;
        let verifier = view(chain, from, game, DisputeGame::verifierCall {})?;
        let config = RegistryConfig {
            server_bond: view(chain, from, registry, TaskRegistry::serverBondCall {})?,
            challenger_bond: view(chain, from, registry, TaskRegistry::challengerBondCall {})?,
            challenge_window: view(chain, from, registry, TaskRegistry::challengeWindowCall {})?,
            game_clock: view(chain, from, registry, TaskRegistry::gameClockCall {})?,
        };
        Ok(Contracts {
            verifier,
            oracle,
            game,
            registry,
            config,
        })
    }
}

fn concat(code: &Bytes, args: &[u8]) -> Bytes {
    let mut out = code.to_vec();
    out.extend_from_slice(args);
    out.into()
}

/// Runs a view call and decodes its return value.
pub fn view<K: SolCall>(
    chain: &mut dyn Chain,
    from: Address,
    to: Address,
    call: K,
) -> Result<K::Return, AgentError> {
    let output = chain
        .call(from, to, call.abi_encode().into())
        .map_err(decode_errors)?;
    K::abi_decode_returns(&output).map_err(|_| AgentError::Chain(ChainError::BadOutput { output }))
}

/// Sends a transaction; a revert names the opml contract error.
pub fn send(
    chain: &mut dyn Chain,
    from: Address,
    to: Address,
    value: U256,
    data: Bytes,
) -> Result<TxReceipt, AgentError> {
    chain
        .send(Tx {
            from,
            to,
            value,
            data,
        })
        .map_err(|error| AgentError::Chain(decode_errors(error)))
}

/// Names a revert by the custom error of whichever opml contract raised it.
fn decode_errors(error: ChainError) -> ChainError {
    match error {
        ChainError::Revert {
            data,
            error: None,
            gas_used,
        } => ChainError::Revert {
            error: decode_revert::<DisputeGame::DisputeGameErrors>(&data)
                .or_else(|| decode_revert::<TaskRegistry::TaskRegistryErrors>(&data))
                .or_else(|| decode_revert::<InputOracle::InputOracleErrors>(&data))
                .or_else(|| decode_revert::<RiscvStep::RiscvStepErrors>(&data)),
            data,
            gas_used,
        },
        other => other,
    }
}
