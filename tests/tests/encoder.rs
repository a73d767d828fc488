//! The test encoder against the GNU assembler: the listing of random programs, assembled by
//! `riscv64-unknown-elf-gcc`, must give the words the encoder gives.

use opml_elf::Program;
use opml_tests::RandomProgram;
use opml_tests::generator::CODE_BASE;
use opml_tests::toolchain::assemble;

#[test]
fn encoder_agrees_with_the_gnu_assembler() {
    for seed in 0..8 {
        let program = RandomProgram::new(seed, 400);
        let mut source = String::from(".globl _start\n_start:\n");
        for insn in &program.code {
            source.push_str(&format!("    {insn}\n"));
        }
        let elf = assemble(&source).unwrap_or_else(|err| panic!("seed {seed}: {err}"));
        let image = Program::from_elf(&elf).unwrap_or_else(|err| panic!("seed {seed}: {err}"));
        assert_eq!(image.entry, CODE_BASE);
        let text = image
            .segments
            .iter()
            .find(|segment| segment.executable)
            .expect("an executable segment");
        let start = (CODE_BASE - text.vaddr) as usize;
        for (index, insn) in program.code.iter().enumerate() {
            let at = start + 4 * index;
            let word = u32::from_le_bytes(text.data[at..at + 4].try_into().unwrap());
            assert_eq!(
                insn.encode(),
                word,
                "seed {seed}, `{insn}`: encoder {:#010x}, assembler {word:#010x}",
                insn.encode()
            );
        }
    }
}
