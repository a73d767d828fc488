//! Regions compiled on the block compiler's thread, in a test binary of its own so that it
//! can wait for that thread's first region and count what it compiled: a machine installs the
//! region while running and ends as the interpreter does, and the blocks inside the region
//! wait for it rather than becoming regions of their own.

mod common;

use std::time::{Duration, Instant};

use common::asm::*;
use opml_vm::Machine;

#[test]
fn a_region_compiled_on_the_compiler_thread_is_installed_while_the_machine_runs() {
    // A loop of three blocks: `[andi, beq]`, `[addi a0]` on odd passes, `[addi s1, bne]`.
    let mut text = li(S1, 1_000_000).to_vec();
    text.extend([
        andi(T0, S1, 1),
        beq(T0, ZERO, 8),
        addi(A0, A0, 7),
        addi(S1, S1, -1),
        bne(S1, ZERO, -16),
    ]);
    text.extend(exit());
    let image = program(&text, &[], 0);
    let mut reference = Machine::from_program(&image, Vec::new()).unwrap();
    reference.set_jit(None);
    let mut m = Machine::from_program(&image, Vec::new()).unwrap();
    m.set_jit(Some(100));
    // 400 passes: the loop's region goes to the compiler thread on the 100th, and its other
    // blocks wait for it instead of becoming regions of their own.
    m.run(1800);
    reference.run(1800);
    assert_eq!(m.state(), reference.state());
    if cfg!(jit) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Machine::jit_stats().blocks == 0 {
            assert!(
                Instant::now() < deadline,
                "the compiler thread compiled nothing"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    // The next pass takes the region; every later stop agrees with the interpreter.
    for steps in [1, 2, 3, 1000, 12_345] {
        m.run(steps);
        reference.run(steps);
        assert_eq!(m.state(), reference.state(), "after {steps} more");
    }
    m.run(u64::MAX);
    reference.run(u64::MAX);
    assert_eq!(m.state(), reference.state());
    assert_eq!(m.status(), reference.status());
    assert_eq!(
        Machine::jit_stats().blocks,
        u64::from(cfg!(jit)),
        "one region"
    );
}
