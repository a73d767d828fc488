//! A chain behind a JSON-RPC node (alloy): anvil, or any Ethereum node reached by an `http://`
//! URL, with the private keys of the accounts to send from.
//!
//! [`RpcChain`] is blocking: it holds a current-thread tokio runtime and waits on every request,
//! each bounded by a timeout ([`RpcChain::DEFAULT_TIMEOUT`]). Transactions are EIP-1559, signed
//! locally by the key of their `from`, with nonce, fees and chain id filled from the node. A
//! transaction is first estimated: a revert there is returned as [`ChainError::Revert`] with its
//! data, and the transaction is never sent; otherwise it is sent with the estimate plus 20% as
//! its gas limit, and the receipt is awaited. A transaction that still fails once mined (the state
//! moved under it) is a revert too, with the data of a replay on the block before it.
//!
//! This build of alloy has no TLS: `https://` URLs are refused.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{
    BlockId, BlockNumberOrTag, Filter, TransactionReceipt, TransactionRequest,
};
use alloy::transports::TransportError;
use alloy::transports::http::reqwest::Url;
use tokio::runtime::Runtime;

pub use alloy::signers::local::PrivateKeySigner;

use crate::backend::{BlockLog, Chain, LogQuery, Tx, TxReceipt};
use crate::error::ChainError;

/// JSON-RPC error code of a method the node does not have.
const METHOD_NOT_FOUND: i64 = -32601;

/// A chain behind a JSON-RPC node, sending from the accounts of its keys.
pub struct RpcChain {
    runtime: Runtime,
    provider: DynProvider,
    url: Url,
    chain_id: u64,
    accounts: Vec<Address>,
    timeout: Duration,
    /// Most blocks one `eth_getLogs` request covers (`None`: any).
    log_window: Option<u64>,
}

impl fmt::Debug for RpcChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcChain")
            .field("url", &self.url.as_str())
            .field("chain_id", &self.chain_id)
            .field("accounts", &self.accounts)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RpcChain {
    /// How long one operation (a request, or a transaction until it is mined) may take.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

    /// Connects to the node at `url` (`http://` only) that the accounts of `keys` send
    /// transactions to (none: a chain to read and call only); checks that the node answers
    /// `eth_chainId`.
    pub fn connect(url: &str, keys: &[PrivateKeySigner]) -> Result<RpcChain, ChainError> {
        RpcChain::connect_with_timeout(url, keys, RpcChain::DEFAULT_TIMEOUT)
    }

    /// [`RpcChain::connect`], with `timeout` for every operation.
    pub fn connect_with_timeout(
        url: &str,
        keys: &[PrivateKeySigner],
        timeout: Duration,
    ) -> Result<RpcChain, ChainError> {
        let parsed: Url = url
            .parse()
            .map_err(|err| ChainError::Rpc(format!("bad node URL {url:?}: {err}")))?;
        if parsed.scheme() != "http" {
            return Err(ChainError::Rpc(format!(
                "node URL {url:?}: only http:// is supported (this build has no TLS)"
            )));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|err| ChainError::Rpc(format!("cannot start the tokio runtime: {err}")))?;
        let builder = ProviderBuilder::new();
        let provider = match keys.split_first() {
            Some((first, rest)) => {
                let mut wallet = EthereumWallet::new(first.clone());
                for key in rest {
                    wallet.register_signer(key.clone());
                }
                builder.wallet(wallet).connect_http(parsed.clone()).erased()
            }
            None => builder.connect_http(parsed.clone()).erased(),
        };
        let mut chain = RpcChain {
            runtime,
            provider,
            url: parsed,
            chain_id: 0,
            accounts: keys.iter().map(PrivateKeySigner::address).collect(),
            timeout,
            log_window: None,
        };
        let provider = chain.provider.clone();
        chain.chain_id = chain.block_on("eth_chainId", async move {
            provider
                .get_chain_id()
                .await
                .map_err(rpc_error("eth_chainId"))
        })?;
        Ok(chain)
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The chain id the node reported.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Sets how long one operation may take.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Asks `eth_getLogs` for at most `blocks` blocks at a time (`None` or zero: the whole
    /// range at once), for nodes that cap the range of one query.
    pub fn set_log_window(&mut self, blocks: Option<u64>) {
        self.log_window = blocks.filter(|&blocks| blocks > 0);
    }

    /// Runs `future` to completion, or fails with [`ChainError::Timeout`].
    fn block_on<T>(
        &self,
        what: &str,
        future: impl Future<Output = Result<T, ChainError>>,
    ) -> Result<T, ChainError> {
        let timeout = self.timeout;
        self.runtime
            .block_on(async move { tokio::time::timeout(timeout, future).await })
            .unwrap_or_else(|_| {
                Err(ChainError::Timeout {
                    what: what.to_owned(),
                    after: timeout,
                })
            })
    }

    /// Estimates, signs, sends and awaits the transaction `request` from `from`.
    fn submit(
        &self,
        from: Address,
        request: TransactionRequest,
    ) -> Result<TransactionReceipt, ChainError> {
        if !self.accounts.contains(&from) {
            return Err(ChainError::UnknownAccount(from));
        }
        let provider = self.provider.clone();
        let request = request.with_from(from);
        self.block_on("a transaction to be mined", async move {
            let gas = provider
                .estimate_gas(request.clone())
                .await
                .map_err(rpc_error("eth_estimateGas"))?;
            let request = request.with_gas_limit(gas.saturating_add(gas / 5));
            let pending = provider
                .send_transaction(request.clone())
                .await
                .map_err(rpc_error("eth_sendRawTransaction"))?;
            let receipt = wait_for_receipt(&provider, *pending.tx_hash()).await?;
            if receipt.status() {
                return Ok(receipt);
            }
            // Mined but failed: replay it on the state before its block for the revert data.
            let gas_used = receipt.gas_used;
            let parent = receipt.block_number.and_then(|n| n.checked_sub(1));
            let replay = match parent {
                Some(parent) => provider.call(request).block(BlockId::number(parent)).await,
                None => Ok(Bytes::new()),
            };
            Err(match replay.map_err(rpc_error("eth_call")) {
                Err(ChainError::Revert { data, error, .. }) => ChainError::Revert {
                    data,
                    error,
                    gas_used: Some(gas_used),
                },
                Err(err) => ChainError::Halt {
                    reason: format!("failed once mined, and its replay failed: {err}"),
                    gas_used,
                },
                Ok(_) => ChainError::Halt {
                    reason: "failed once mined, but not on the state before (out of gas?)"
                        .to_owned(),
                    gas_used,
                },
            })
        })
    }
}

impl RpcChain {
    /// One `eth_getLogs` request: the logs `query` asks for, in blocks `from..=to`.
    fn logs_in(
        &self,
        query: &LogQuery,
        from: u64,
        to: Option<u64>,
    ) -> Result<Vec<BlockLog>, ChainError> {
        let provider = self.provider.clone();
        let mut filter = Filter::new().address(query.address).from_block(from);
        if let Some(to) = to {
            filter = filter.to_block(to);
        }
        let [t0, t1, t2, t3] = query.topics;
        if let Some(topic) = t0 {
            filter = filter.event_signature(topic);
        }
        if let Some(topic) = t1 {
            filter = filter.topic1(topic);
        }
        if let Some(topic) = t2 {
            filter = filter.topic2(topic);
        }
        if let Some(topic) = t3 {
            filter = filter.topic3(topic);
        }
        self.block_on("eth_getLogs", async move {
            let logs = provider
                .get_logs(&filter)
                .await
                .map_err(rpc_error("eth_getLogs"))?;
            logs.into_iter()
                .filter(|log| !log.removed)
                .map(|log| {
                    let block_number = log.block_number.ok_or_else(|| {
                        ChainError::Rpc("eth_getLogs: a log without a block number".to_owned())
                    })?;
                    Ok(BlockLog {
                        block_number,
                        log: log.inner,
                    })
                })
                .collect()
        })
    }
}

/// Polls the node for the receipt of `hash` until there is one.
async fn wait_for_receipt(
    provider: &DynProvider,
    hash: B256,
) -> Result<TransactionReceipt, ChainError> {
    let mut delay = Duration::from_millis(5);
    loop {
        let receipt = provider
            .get_transaction_receipt(hash)
            .await
            .map_err(rpc_error("eth_getTransactionReceipt"))?;
        if let Some(receipt) = receipt {
            return Ok(receipt);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}

/// Maps an error of the RPC method `what`: a revert (with its data where the node gave it), a
/// method the node lacks, or any other failure.
fn rpc_error(what: &'static str) -> impl Fn(TransportError) -> ChainError {
    move |err| {
        if let Some(payload) = err.as_error_resp() {
            if let Some(data) = payload.as_revert_data() {
                return ChainError::Revert {
                    data,
                    error: None,
                    gas_used: None,
                };
            }
            if payload.message.contains("revert") {
                return ChainError::Revert {
                    data: Bytes::new(),
                    error: None,
                    gas_used: None,
                };
            }
            if payload.code == METHOD_NOT_FOUND {
                return ChainError::Unsupported(format!("{what}: {}", payload.message));
            }
        }
        ChainError::Rpc(format!("{what}: {err}"))
    }
}

/// A private key from its hex form (with or without `0x`). The error does not repeat the key.
pub fn parse_key(hex: &str) -> Result<PrivateKeySigner, ChainError> {
    hex.trim()
        .parse()
        .map_err(|_| ChainError::Rpc("a private key must be 32 bytes of hex".to_owned()))
}

impl Chain for RpcChain {
    fn accounts(&self) -> &[Address] {
        &self.accounts
    }

    fn deploy(&mut self, from: Address, creation_code: Bytes) -> Result<Address, ChainError> {
        let request = TransactionRequest::default().with_deploy_code(creation_code);
        self.submit(from, request)?
            .contract_address
            .ok_or(ChainError::NoContract)
    }

    fn send(&mut self, tx: Tx) -> Result<TxReceipt, ChainError> {
        let request = TransactionRequest::default()
            .with_to(tx.to)
            .with_value(tx.value)
            .with_input(tx.data);
        let receipt = self.submit(tx.from, request)?;
        let block_number = receipt
            .block_number
            .ok_or_else(|| ChainError::Rpc("a mined receipt without a block number".to_owned()))?;
        Ok(TxReceipt {
            tx_hash: Some(receipt.transaction_hash),
            block_number,
            gas_used: receipt.gas_used,
            effective_gas_price: receipt.effective_gas_price,
            logs: receipt
                .inner
                .logs()
                .iter()
                .map(|log| log.inner.clone())
                .collect(),
        })
    }

    fn call(&mut self, from: Address, to: Address, data: Bytes) -> Result<Bytes, ChainError> {
        let provider = self.provider.clone();
        let request = TransactionRequest::default()
            .with_from(from)
            .with_to(to)
            .with_input(data);
        self.block_on("eth_call", async move {
            provider
                .call(request)
                .block(BlockId::latest())
                .await
                .map_err(rpc_error("eth_call"))
        })
    }

    fn balance(&mut self, who: Address) -> Result<U256, ChainError> {
        let provider = self.provider.clone();
        self.block_on("eth_getBalance", async move {
            provider
                .get_balance(who)
                .await
                .map_err(rpc_error("eth_getBalance"))
        })
    }

    fn timestamp(&mut self) -> Result<u64, ChainError> {
        let provider = self.provider.clone();
        self.block_on("eth_getBlockByNumber", async move {
            let block = provider
                .get_block_by_number(BlockNumberOrTag::Latest)
                .await
                .map_err(rpc_error("eth_getBlockByNumber"))?
                .ok_or_else(|| ChainError::Rpc("the node has no latest block".to_owned()))?;
            Ok(block.header.timestamp)
        })
    }

    fn advance_time(&mut self, seconds: u64) -> Result<(), ChainError> {
        let provider = self.provider.clone();
        self.block_on("evm_increaseTime and evm_mine", async move {
            provider
                .raw_request::<_, serde_json::Value>("evm_increaseTime".into(), (seconds,))
                .await
                .map_err(rpc_error("evm_increaseTime"))?;
            provider
                .raw_request::<_, serde_json::Value>("evm_mine".into(), ())
                .await
                .map_err(rpc_error("evm_mine"))?;
            Ok(())
        })
    }

    /// Asks for the logs in windows of [`RpcChain::set_log_window`] blocks when one is set.
    fn logs(&mut self, query: &LogQuery) -> Result<Vec<BlockLog>, ChainError> {
        let Some(window) = self.log_window else {
            return self.logs_in(query, query.from_block, query.to_block);
        };
        let last = match query.to_block {
            Some(last) => last,
            None => self.block_number()?,
        };
        let mut logs = Vec::new();
        let mut from = query.from_block;
        while from <= last {
            let to = from.saturating_add(window - 1).min(last);
            logs.extend(self.logs_in(query, from, Some(to))?);
            from = match to.checked_add(1) {
                Some(next) => next,
                None => break,
            };
        }
        Ok(logs)
    }

    fn block_number(&mut self) -> Result<u64, ChainError> {
        let provider = self.provider.clone();
        self.block_on("eth_blockNumber", async move {
            provider
                .get_block_number()
                .await
                .map_err(rpc_error("eth_blockNumber"))
        })
    }
}
