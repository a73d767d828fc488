//! The node as a service sees it: reads retried with backoff when the node fails for a while
//! ([`Patient`]), and the registry's log read a window at a time ([`LogCursor`]).

use std::time::Duration;

use alloy_primitives::{Address, Bytes, U256};
use opml_chain::{BlockLog, Chain, ChainError, LogQuery, Tx, TxReceipt};

/// How many times a read is tried before its error is reported.
pub const READ_ATTEMPTS: u32 = 4;

/// The wait before the first retry of a read; it doubles with each retry (100, 200, 400 ms:
/// under a second per read that keeps failing).
pub const FIRST_RETRY: Duration = Duration::from_millis(100);

/// Whether `error` may go away if the same request is sent again: the node or the transport
/// failed, or the node did not answer in time.
pub fn is_transient(error: &ChainError) -> bool {
    matches!(error, ChainError::Rpc(_) | ChainError::Timeout { .. })
}

/// A chain whose reads (calls, balances, time, logs, block numbers) are retried with
/// exponential backoff on transient errors ([`is_transient`]), [`READ_ATTEMPTS`] times in
/// all. Transactions are not retried: one that timed out may have been sent, and the next poll
/// reads where the chain stands anyway.
pub(crate) struct Patient<'a> {
    chain: &'a mut dyn Chain,
    /// Reads that still failed after every attempt.
    failed_reads: u32,
}

impl<'a> Patient<'a> {
    /// `chain`, read patiently.
    pub(crate) fn new(chain: &'a mut dyn Chain) -> Patient<'a> {
        Patient {
            chain,
            failed_reads: 0,
        }
    }

    /// Reads that failed after every attempt since it was made.
    pub(crate) fn failed_reads(&self) -> u32 {
        self.failed_reads
    }

    fn read<T>(
        &mut self,
        mut read: impl FnMut(&mut dyn Chain) -> Result<T, ChainError>,
    ) -> Result<T, ChainError> {
        let mut wait = FIRST_RETRY;
        let mut attempt = 1;
        loop {
            match read(&mut *self.chain) {
                Err(error) if is_transient(&error) && attempt < READ_ATTEMPTS => {
                    std::thread::sleep(wait);
                    wait *= 2;
                    attempt += 1;
                }
                Err(error) => {
                    if is_transient(&error) {
                        self.failed_reads += 1;
                    }
                    return Err(error);
                }
                Ok(value) => return Ok(value),
            }
        }
    }
}

impl Chain for Patient<'_> {
    fn accounts(&self) -> &[Address] {
        self.chain.accounts()
    }

    fn deploy(&mut self, from: Address, creation_code: Bytes) -> Result<Address, ChainError> {
        self.chain.deploy(from, creation_code)
    }

    fn send(&mut self, tx: Tx) -> Result<TxReceipt, ChainError> {
        self.chain.send(tx)
    }

    fn call(&mut self, from: Address, to: Address, data: Bytes) -> Result<Bytes, ChainError> {
        self.read(|chain| chain.call(from, to, data.clone()))
    }

    fn balance(&mut self, who: Address) -> Result<U256, ChainError> {
        self.read(|chain| chain.balance(who))
    }

    fn timestamp(&mut self) -> Result<u64, ChainError> {
        self.read(|chain| chain.timestamp())
    }

    fn advance_time(&mut self, seconds: u64) -> Result<(), ChainError> {
        self.chain.advance_time(seconds)
    }

    fn logs(&mut self, query: &LogQuery) -> Result<Vec<BlockLog>, ChainError> {
        self.read(|chain| chain.logs(query))
    }

    fn block_number(&mut self) -> Result<u64, ChainError> {
        self.read(|chain| chain.block_number())
    }
}

/// Where a service stands in the registry's log.
#[derive(Debug)]
pub(crate) struct LogCursor {
    /// The first block it reads (`--from-block`): nothing before it is seen, inputs included.
    pub(crate) first: u64,
    /// The first block not read yet.
    pub(crate) next: u64,
}

impl LogCursor {
    /// Reads from the genesis block.
    pub(crate) fn new() -> LogCursor {
        LogCursor { first: 0, next: 0 }
    }

    /// Starts (over) at `block`.
    pub(crate) fn start_at(&mut self, block: u64) {
        self.first = block;
        self.next = block;
    }

    /// The logs `registry` emitted since the last read, up to the latest block; the cursor
    /// only moves when the read succeeds, so a failed read is retried whole.
    pub(crate) fn read(
        &mut self,
        chain: &mut dyn Chain,
        registry: Address,
    ) -> Result<Vec<BlockLog>, ChainError> {
        let head = chain.block_number()?;
        if self.next > head {
            // Nothing new (and a node refuses a range that starts past its head).
            return Ok(Vec::new());
        }
        let query = LogQuery::new(registry).from_block(self.next).to_block(head);
        let logs = chain.logs(&query)?;
        self.next = head + 1;
        Ok(logs)
    }
}
