//! Random RV32IM programs in fast mode with every block compiled on its first entry, against
//! the proving path's single steps: the same state at every stop of runs in strides of 1 to 9
//! steps, and at the end.

use opml_tests::RandomProgram;
use opml_vm::Machine;

const PROGRAMS: u64 = 200;
const OPERATIONS: usize = 300;

#[test]
fn compiled_random_programs_agree_with_single_steps() {
    for seed in 0..PROGRAMS {
        let elf = RandomProgram::new(seed, OPERATIONS).elf();
        let mut single = Machine::load(&elf, Vec::new()).unwrap();
        let mut hashes = vec![single.state_hash()];
        while !single.status().is_halted() {
            single.prove_step().expect("no preimages");
            hashes.push(single.state_hash());
        }
        let stride = 1 + seed % 9;
        let mut m = Machine::load(&elf, Vec::new()).unwrap();
        m.set_jit(Some(0));
        while !m.status().is_halted() {
            m.run(stride);
            let step = m.step_count() as usize;
            assert_eq!(
                m.state_hash(),
                hashes[step],
                "seed {seed}, stride {stride}, step {step}"
            );
        }
        assert_eq!(m.state(), single.state(), "seed {seed}");
        assert_eq!(m.output(), single.output(), "seed {seed}");
    }
}
