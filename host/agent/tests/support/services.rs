//! What the service tests share: polling a service, reading a task, an anvil with one
//! connection per role.

use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256};
use opml_agent::roles::{self, TaskStatus};
use opml_agent::service::Service;
use opml_agent::{Contracts, deploy};
use opml_chain::contracts::TaskRegistry;
use opml_chain::{Anvil, Chain, RpcChain};

/// Polls `service` once, and again while the jobs it started run (as `opml serve --once`
/// does); returns everything it said.
pub(crate) fn poll_once(service: &mut dyn Service, chain: &mut dyn Chain) -> Vec<String> {
    let started = Instant::now();
    let mut lines = Vec::new();
    while started.elapsed() < Duration::from_secs(1800) {
        lines.extend(service.poll(chain).expect("the service polls"));
        if !service.backlog().is_busy() {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("the service's jobs did not finish: {lines:#?}");
}

/// The output task `task` stands on.
pub(crate) fn output_of(chain: &mut dyn Chain, contracts: &Contracts, task: u64) -> Vec<u8> {
    let call = TaskRegistry::outputOfCall {
        taskId: U256::from(task),
    };
    deploy::view(chain, Address::ZERO, contracts.registry, call)
        .unwrap()
        .to_vec()
}

/// Task `task`'s status.
pub(crate) fn status(chain: &mut dyn Chain, contracts: &Contracts, task: u64) -> TaskStatus {
    TaskStatus::of(&roles::read_task(chain, contracts, task).unwrap()).unwrap()
}

/// Anvil, a connection with every dev key (the requester's and the clock's), and one for
/// each of the server (key 2) and the challenger (key 3).
pub(crate) fn anvil() -> (Anvil, RpcChain, RpcChain, RpcChain) {
    let anvil =
        Anvil::spawn().expect("anvil starts (install it with toolchain/scripts/install.sh)");
    let all = anvil.connect().unwrap();
    let server = RpcChain::connect(anvil.url(), &anvil.keys()[2..3]).unwrap();
    let challenger = RpcChain::connect(anvil.url(), &anvil.keys()[3..4]).unwrap();
    (anvil, all, server, challenger)
}
