//! The block compiler's process-wide cache, in a test binary of its own so that no other test
//! compiles or reuses regions meanwhile: a machine loading a program that another machine ran
//! hot takes its compiled regions long before it would compile them itself.

mod common;

use common::asm::*;
use opml_vm::Machine;

#[test]
fn a_new_machine_on_the_same_code_reuses_compiled_regions() {
    // 400 passes of a loop: fewer than the entries before fast mode compiles (by default), more
    // than those before it looks in the cache.
    let mut text = li(S1, 400).to_vec();
    text.extend([addi(A0, A0, 7), addi(S1, S1, -1), bne(S1, ZERO, -8)]);
    text.extend(exit());
    let image = program(&text, &[], 0);
    let mut first = Machine::from_program(&image, Vec::new()).unwrap();
    first.set_jit(Some(10));
    first.run(u64::MAX);
    let compiled = Machine::jit_stats();
    assert_eq!(compiled.blocks > 0, cfg!(jit));
    assert_eq!(compiled.reused, 0);

    let mut second = Machine::from_program(&image, Vec::new()).unwrap();
    second.run(u64::MAX);
    let after = Machine::jit_stats();
    assert_eq!(after.blocks, compiled.blocks, "nothing compiled again");
    assert_eq!(after.reused > 0, cfg!(jit));
    assert_eq!(second.state(), first.state());
    assert_eq!(second.status(), first.status());
}
