//! Feeds arbitrary bytes to the ELF loader: it must never panic, every refusal must explain
//! itself, and every program it accepts must write back to a file that loads as the same program.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opml_elf::Program;

fuzz_target!(|bytes: &[u8]| {
    match Program::from_elf(bytes) {
        Ok(program) => assert_eq!(Program::from_elf(&program.to_elf()), Ok(program)),
        Err(error) => assert!(!error.to_string().is_empty()),
    }
});
