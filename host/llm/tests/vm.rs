//! Native ⇔ VM on a real generation: the node step program re-does, in the VM, one node of
//! every kind of a real SmolLM2 task (the heaviest, the output head, included) and gives
//! exactly the graph state the native run computed.

mod common;

use std::collections::BTreeSet;

use opml_dnn::Model;
use opml_graph::GraphPhase;
use opml_llama::LlmGraph;
use opml_llm::sample::Sampling;
use opml_llm::task::Task;

#[test]
fn one_node_of_every_kind_is_the_same_in_the_vm() {
    let task = Task {
        chat: false,
        tokens: 2,
        sampling: Sampling {
            temperature: 0.9,
            top_k: 20,
            top_p: 0.9,
            seed: 3,
        },
        prompt: "Deterministic inference,",
    };
    let graph = LlmGraph::build(common::llama(), &task).expect("builds");
    let phase = GraphPhase::new(&graph.file, &graph.input).expect("runs");
    assert_eq!(phase.run().refusal(), None);
    let model = Model::parse(&graph.file).expect("parses");

    // The first node of each (label, op) kind, at position 1 where there is one (so the caches
    // are concatenations), and the load and finish steps.
    let mut seen = BTreeSet::new();
    let mut steps = vec![1, phase.step_count()];
    for (k, label) in graph.labels.iter().enumerate() {
        let op = model.nodes()[k].op().name();
        let wanted = label.position >= 1 || matches!(label.what, "tokenize");
        if wanted && label.layer.is_none_or(|l| l == 1) && seen.insert((label.what, op)) {
            steps.push(k as u64 + 2);
        }
    }
    assert!(seen.len() >= 17, "{seen:?}");
    for j in steps {
        let vm = phase.vm_step(j, 1 << 32).expect("the step program runs");
        assert!(vm.status.is_halted(), "step {j}: {:?}", vm.status);
        assert_eq!(
            vm.output,
            phase.state(j),
            "coarse step {j} ({}) differs in the VM",
            phase.describe_step(j)
        );
    }
}
