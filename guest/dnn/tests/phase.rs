//! The graph phase: the native executor (fast path, `GraphRun`) against the node step (proving
//! path, `phase::step`) run natively over the preimages the run serves, on every committed
//! reference vector (the MNIST models in both dtypes, the sklearn model, and `ops.opml`, which
//! uses every op in both dtypes), and the outputs against the numpy reference.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};

use opml_dnn::phase::state::{self, Coarse, Refusal, ZERO};
use opml_dnn::phase::{GraphRun, Oracle, Preimage, step};
use opml_dnn::root::MerkleTree;
use opml_dnn::{AlignedBytes, Hash, Model};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Preimages by key, with the keys counted as they are opened.
#[derive(Default)]
struct Map {
    map: HashMap<Hash, Preimage>,
    opened: usize,
}

impl Map {
    fn of(run: &GraphRun, model: &Model<'_>, j: u64) -> Map {
        let mut map = Map::default();
        run.preimages(model, j, &mut |p: Preimage| {
            map.map.insert(Sha256::digest(p).into(), p);
        });
        map
    }
}

/// A key the map lacks.
#[derive(Debug, PartialEq)]
struct Missing(Hash);

impl Oracle for Map {
    type Error = Missing;

    fn preimage(&mut self, key: &Hash) -> Result<Preimage, Missing> {
        self.opened += 1;
        self.map.get(key).copied().ok_or(Missing(*key))
    }
}

/// Every committed reference vector: (name, model file, input bytes, output bytes).
fn vectors() -> Vec<(String, AlignedBytes, Vec<u8>, Vec<u8>)> {
    let dir = root().join("toolchain/model/reference");
    let mut all = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let vectors: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        if vectors["format"] != "opml-reference-v1" {
            continue;
        }
        let file = std::fs::read(root().join(vectors["model"].as_str().unwrap())).unwrap();
        let concat = |specs: &Value| -> Vec<u8> {
            let specs = specs.as_array().unwrap().iter();
            specs
                .flat_map(|s| hex::decode(s["data"].as_str().unwrap()).unwrap())
                .collect()
        };
        for vector in vectors["vectors"].as_array().unwrap() {
            let name = format!("{} / {}", path.display(), vector["name"]);
            let input = concat(&vector["inputs"]);
            let output = concat(&vector["outputs"]);
            all.push((name, AlignedBytes::from_slice(&file), input, output));
        }
    }
    assert!(all.len() >= 21, "only {} reference vectors", all.len());
    all
}

/// Checks every step of `run` against the node step; returns the most preimages a step opened.
fn check_every_step(name: &str, model: &Model<'_>, run: &GraphRun) -> usize {
    let mut most = 0;
    for j in 1..=run.step_count() + 2 {
        let mut map = Map::of(run, model, j);
        let next = step(&run.state(j - 1), j, &mut map);
        assert_eq!(next, Ok(run.state(j)), "{name}: S({j})");
        most = most.max(map.opened);
    }
    most
}

#[test]
fn the_node_step_redoes_every_step_of_every_reference_run() {
    for (name, file, input, output) in vectors() {
        let model = Model::parse(&file).unwrap();
        let run = GraphRun::new(&model, &input);
        assert_eq!(run.refusal(), None, "{name}");
        assert_eq!(run.output(), Some(&output[..]), "{name}: the numpy outputs");
        assert_eq!(run.states().len() as u64, run.step_count() + 1);
        assert_eq!(run.model_root(), &model.root());
        assert_eq!(
            run.state(0),
            state::start(&state::task(&model.root(), &state::byte_commitment(&input)))
        );
        let last = run.state(run.step_count());
        let values = run.values().root();
        assert_eq!(
            last,
            state::state(run.task(), &values, &state::byte_commitment(&output)),
            "{name}: the last state commits to the output bytes"
        );
        check_every_step(&name, &model, &run);
    }
}

#[test]
fn states_are_distinct_until_the_last_and_fixed_after() {
    let (name, file, input, _) = vectors().swap_remove(0);
    let model = Model::parse(&file).unwrap();
    let run = GraphRun::new(&model, &input);
    let states = run.states();
    let distinct: std::collections::HashSet<_> = states.iter().collect();
    assert_eq!(distinct.len(), states.len(), "{name}");
    let m = run.step_count();
    for j in [m + 1, m + 5, u64::MAX] {
        assert_eq!(run.state(j), run.state(m));
        let mut map = Map::of(&run, &model, j);
        assert_eq!(step(&run.state(j - 1), j, &mut map), Ok(run.state(m)));
    }
    // Step 0 is no step.
    let mut map = Map::of(&run, &model, 1);
    assert_eq!(step(&run.state(0), 0, &mut map), Ok(run.state(0)));
}

#[test]
fn a_wrong_input_length_is_refused_at_the_load_and_fixed_after() {
    let (name, file, input, _) = vectors().swap_remove(0);
    let model = Model::parse(&file).unwrap();
    for input in [
        &input[..input.len() - 1],
        &[input.clone(), vec![0]].concat()[..],
        &[],
    ] {
        let run = GraphRun::new(&model, input);
        assert_eq!(run.refusal(), Some(Refusal::InputLength), "{name}");
        assert_eq!(run.output(), None);
        assert_eq!(
            run.state(1),
            state::state(run.task(), &ZERO, &Refusal::InputLength.word())
        );
        assert_eq!(run.state(7), run.state(1));
        check_every_step(&name, &model, &run);
    }
}

#[test]
fn a_step_reads_data_of_its_node_plus_log_n_not_the_whole_graph() {
    for (name, file, input, _) in vectors() {
        let model = Model::parse(&file).unwrap();
        let run = GraphRun::new(&model, &input);
        for (k, node) in model.nodes().iter().enumerate() {
            let j = k as u64 + 2;
            assert_eq!(
                Coarse::of(j, model.nodes().len() as u32),
                Coarse::Node(k as u32)
            );
            let mut map = Map::of(&run, &model, j);
            step(&run.state(j - 1), j, &mut map).unwrap();
            // Chunk pairs of the node's inputs, plus a bounded number of opens per input and
            // per tree level.
            let bytes: usize = node
                .inputs()
                .iter()
                .map(|&t| run.metas()[t as usize].byte_len())
                .sum();
            let levels = 64 - (model.tensor_count() as u64).leading_zeros() as usize;
            let bound = bytes / 32 + 12 + (node.inputs().len() + 3) * (levels + 3);
            assert!(
                map.opened <= bound,
                "{name}: node {k} opened {} preimages, more than {bound}",
                map.opened
            );
        }
    }
}

#[test]
fn a_step_needs_every_preimage_it_names() {
    let (name, file, input, _) = vectors().swap_remove(0);
    let model = Model::parse(&file).unwrap();
    let run = GraphRun::new(&model, &input);
    let j = 3;
    let full = Map::of(&run, &model, j);
    // Drop the preimages one at a time among those actually opened: each is needed.
    let mut used = Vec::new();
    struct Record<'m>(&'m Map, &'m mut Vec<Hash>);
    impl Oracle for Record<'_> {
        type Error = Infallible;
        fn preimage(&mut self, key: &Hash) -> Result<Preimage, Infallible> {
            self.1.push(*key);
            Ok(self.0.map[key])
        }
    }
    step(&run.state(j - 1), j, &mut Record(&full, &mut used)).unwrap();
    used.sort_unstable();
    used.dedup();
    for key in used.iter().step_by(7) {
        let mut map = Map::of(&run, &model, j);
        map.map.remove(key);
        assert_eq!(
            step(&run.state(j - 1), j, &mut map),
            Err(Missing(*key)),
            "{name}"
        );
    }
}

#[test]
fn forged_states_do_not_pass_for_honest_ones() {
    let (name, file, input, _) = vectors().swap_remove(0);
    let model = Model::parse(&file).unwrap();
    let run = GraphRun::new(&model, &input);
    let j = 4;
    // A state claiming another tensor in the slot node j−2 reads: the step opens the slot
    // through the oracle, which has no preimage of the forged tree, so no one can run it.
    let mut values: MerkleTree = run.values_at(j - 1);
    let node = &model.nodes()[(j - 2) as usize];
    let t = node.inputs()[0] as usize;
    values.set(t, [7; 32]);
    let forged = state::state(run.task(), &values.root(), &ZERO);
    let mut map = Map::of(&run, &model, j);
    assert!(step(&forged, j, &mut map).is_err(), "{name}");
}
