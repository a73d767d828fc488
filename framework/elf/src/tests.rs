//! Files are built with [`Program::to_elf`] and then patched field by field, so each test states
//! exactly which header field it breaks.

use super::*;
use proptest::prelude::*;

const CODE: u32 = 0x1_0000;
const DATA: u32 = 0x2_0000;

/// Offsets of the ELF32 header fields the tests patch.
const E_TYPE: usize = 16;
const E_MACHINE: usize = 18;
const E_VERSION: usize = 20;
const E_ENTRY: usize = 24;
const E_PHOFF: usize = 28;
const E_FLAGS: usize = 36;
const E_PHENTSIZE: usize = 42;
const E_PHNUM: usize = 44;

/// Offsets of the ELF32 program header fields, relative to the header.
const P_TYPE: usize = 0;
const P_OFFSET: usize = 4;
const P_VADDR: usize = 8;
const P_FILESZ: usize = 16;
const P_MEMSZ: usize = 20;
const P_FLAGS: usize = 24;

fn segment(vaddr: u32, data: &[u8], mem_size: u32, executable: bool) -> Segment {
    Segment {
        vaddr,
        data: data.to_vec(),
        mem_size,
        executable,
    }
}

/// A code segment with a few words and a data segment with a bss tail.
fn program() -> Program {
    let code: Vec<u8> = (0u8..32).collect();
    Program {
        entry: CODE + 4,
        segments: vec![
            segment(CODE, &code, 32, true),
            segment(DATA, b"data", 0x100, false),
        ],
    }
}

fn elf() -> Vec<u8> {
    program().to_elf()
}

fn set16(elf: &mut [u8], at: usize, value: u16) {
    elf[at..at + 2].copy_from_slice(&value.to_le_bytes());
}

fn set32(elf: &mut [u8], at: usize, value: u32) {
    elf[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

/// Sets field `field` of program header `index`.
fn set_ph(elf: &mut [u8], index: usize, field: usize, value: u32) {
    set32(elf, SIZEOF_EHDR + index * SIZEOF_PHDR + field, value);
}

/// Loads a file `patch` made out of the valid one and returns the error, checking its message.
fn refuse(patch: impl FnOnce(&mut Vec<u8>)) -> ElfError {
    let mut bytes = elf();
    patch(&mut bytes);
    let error = Program::from_elf(&bytes).expect_err("the file must be refused");
    assert!(!error.to_string().is_empty());
    error
}

#[test]
fn round_trips_a_program() {
    assert_eq!(Program::from_elf(&elf()), Ok(program()));
}

#[test]
fn written_segments_are_page_congruent() {
    let bytes = elf();
    for index in 0..2 {
        let field = |at: usize| {
            let at = SIZEOF_EHDR + index * SIZEOF_PHDR + at;
            u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
        };
        assert_eq!(
            field(P_OFFSET) % SEGMENT_ALIGN,
            field(P_VADDR) % SEGMENT_ALIGN
        );
    }
}

#[test]
fn sorts_segments_by_address() {
    let mut reversed = program();
    reversed.segments.reverse();
    assert_eq!(Program::from_elf(&reversed.to_elf()), Ok(program()));
}

#[test]
fn skips_empty_and_non_load_segments() {
    let mut with_extra = program();
    with_extra.segments.push(segment(0x3_0000, b"", 0, false));
    with_extra
        .segments
        .push(segment(0x4_0000, b"note", 4, false));
    let mut bytes = with_extra.to_elf();
    set_ph(&mut bytes, 3, P_TYPE, goblin::elf::program_header::PT_NOTE);
    assert_eq!(Program::from_elf(&bytes), Ok(program()));
}

#[test]
fn accepts_edges() {
    // Adjacent segments, one ending at the top of memory, entry at the last code word.
    let top = Program {
        entry: 0xffff_fffc,
        segments: vec![
            segment(0xffff_f000, &[1, 2, 3], 0x1000, true),
            segment(0xffff_e000, &[], 0x1000, false),
        ],
    };
    let mut sorted = top.clone();
    sorted.segments.reverse();
    assert_eq!(Program::from_elf(&top.to_elf()), Ok(sorted));
}

#[test]
fn ignores_flags_an_rv32im_machine_honours() {
    const EF_RISCV_RVE: u32 = 0x8;
    const EF_RISCV_TSO: u32 = 0x10;
    let mut bytes = elf();
    set32(&mut bytes, E_FLAGS, EF_RISCV_RVE | EF_RISCV_TSO);
    assert_eq!(Program::from_elf(&bytes), Ok(program()));
}

#[test]
fn refuses_non_elf() {
    assert_eq!(Program::from_elf(b""), Err(ElfError::NotElf));
    assert_eq!(Program::from_elf(b"hello, world"), Err(ElfError::NotElf));
    assert_eq!(refuse(|e| e[1] = b'e'), ElfError::NotElf);
}

#[test]
fn refuses_truncated_headers() {
    for len in [1, 3, 4, 15, 16, 40, SIZEOF_EHDR - 1] {
        assert_eq!(
            refuse(|e| e.truncate(len)),
            ElfError::TruncatedHeader(len),
            "{len} bytes"
        );
    }
}

#[test]
fn refuses_every_strict_prefix() {
    let bytes = elf();
    for len in 0..bytes.len() {
        assert!(Program::from_elf(&bytes[..len]).is_err(), "{len} bytes");
    }
}

#[test]
fn refuses_other_classes_and_encodings() {
    assert_eq!(refuse(|e| e[EI_CLASS] = ELFCLASS64), ElfError::Elf64);
    assert_eq!(refuse(|e| e[EI_CLASS] = 0), ElfError::UnknownClass(0));
    assert_eq!(refuse(|e| e[EI_DATA] = ELFDATA2MSB), ElfError::BigEndian);
    assert_eq!(refuse(|e| e[EI_DATA] = 3), ElfError::UnknownEncoding(3));
    assert_eq!(refuse(|e| e[EI_VERSION] = 0), ElfError::UnknownVersion(0));
    assert_eq!(
        refuse(|e| set32(e, E_VERSION, 2)),
        ElfError::UnknownVersion(2)
    );
}

#[test]
fn refuses_other_machines_and_types() {
    const EM_X86_64: u16 = 62;
    const ET_REL: u16 = 1;
    assert_eq!(
        refuse(|e| set16(e, E_MACHINE, EM_X86_64)),
        ElfError::WrongMachine(EM_X86_64)
    );
    let pie = refuse(|e| set16(e, E_TYPE, ET_DYN));
    assert_eq!(pie, ElfError::NotExecutable(ET_DYN));
    assert!(pie.to_string().contains("position-independent"));
    assert_eq!(
        refuse(|e| set16(e, E_TYPE, ET_REL)),
        ElfError::NotExecutable(ET_REL)
    );
}

#[test]
fn refuses_rvc_and_hardware_float_abis() {
    assert_eq!(
        refuse(|e| set32(e, E_FLAGS, EF_RISCV_RVC)),
        ElfError::CompressedInstructions
    );
    // ilp32f, ilp32d, ilp32q.
    for flags in [0x2, 0x4, 0x6] {
        assert_eq!(
            refuse(|e| set32(e, E_FLAGS, flags)),
            ElfError::FloatAbi(flags)
        );
    }
}

#[test]
fn refuses_bad_program_header_tables() {
    assert_eq!(
        refuse(|e| set16(e, E_PHENTSIZE, 56)),
        ElfError::ProgramHeaderSize(56)
    );
    assert_eq!(
        refuse(|e| set16(e, E_PHNUM, 0)),
        ElfError::NoLoadableSegment
    );
    assert_eq!(
        refuse(|e| set16(e, E_PHNUM, 0xffff)),
        ElfError::TooManyProgramHeaders(0xffff)
    );
    let len = elf().len();
    for offset in [len as u32 - 40, len as u32, u32::MAX] {
        assert_eq!(
            refuse(|e| set32(e, E_PHOFF, offset)),
            ElfError::TruncatedProgramHeaders {
                offset,
                count: 2,
                file_len: len
            }
        );
    }
}

#[test]
fn refuses_dynamic_programs() {
    for p_type in [PT_INTERP, PT_DYNAMIC] {
        let error = refuse(|e| set_ph(e, 1, P_TYPE, p_type));
        assert_eq!(error, ElfError::Dynamic { index: 1, p_type });
        assert!(error.to_string().contains("dynamically linked"));
    }
}

#[test]
fn refuses_segments_outside_the_file() {
    let len = elf().len();
    let error = refuse(|e| set_ph(e, 1, P_FILESZ, 0x100));
    assert!(matches!(error, ElfError::TruncatedSegment { index: 1, .. }));
    assert_eq!(
        refuse(|e| set_ph(e, 0, P_OFFSET, u32::MAX)),
        ElfError::TruncatedSegment {
            index: 0,
            offset: u32::MAX,
            file_size: 32,
            file_len: len
        }
    );
}

#[test]
fn refuses_file_size_over_mem_size() {
    assert_eq!(
        refuse(|e| set_ph(e, 0, P_MEMSZ, 16)),
        ElfError::FileSizeExceedsMemSize {
            index: 0,
            file_size: 32,
            mem_size: 16
        }
    );
}

#[test]
fn refuses_segments_past_the_address_space() {
    assert_eq!(
        refuse(|e| set_ph(e, 1, P_VADDR, 0xffff_ff80)),
        ElfError::SegmentWraps {
            index: 1,
            vaddr: 0xffff_ff80,
            mem_size: 0x100
        }
    );
}

#[test]
fn refuses_segments_sharing_file_bytes_beyond_the_file() {
    let len = elf().len() as u32;
    let error = refuse(|e| {
        for index in 0..2 {
            set_ph(e, index, P_OFFSET, 0);
            set_ph(e, index, P_FILESZ, len);
            set_ph(e, index, P_MEMSZ, len);
        }
    });
    assert_eq!(
        error,
        ElfError::SegmentDataExceedsFile {
            total: 2 * u64::from(len),
            file_len: len as usize
        }
    );
}

#[test]
fn refuses_overlapping_segments() {
    assert_eq!(
        refuse(|e| set_ph(e, 1, P_VADDR, CODE + 28)),
        ElfError::OverlappingSegments {
            first: (CODE, u64::from(CODE) + 32),
            second: (CODE + 28, u64::from(CODE) + 28 + 0x100)
        }
    );
}

#[test]
fn refuses_programs_without_loadable_segments() {
    let error = refuse(|e| {
        for index in 0..2 {
            set_ph(e, index, P_FILESZ, 0);
            set_ph(e, index, P_MEMSZ, 0);
        }
    });
    assert_eq!(error, ElfError::NoLoadableSegment);
}

#[test]
fn refuses_bad_entry_points() {
    assert_eq!(
        refuse(|e| set32(e, E_ENTRY, CODE + 2)),
        ElfError::MisalignedEntry(CODE + 2)
    );
    // Past the code, inside the (non-executable) data, nowhere, and in code without PF_X.
    for entry in [CODE + 32, DATA, 0] {
        assert_eq!(
            refuse(|e| set32(e, E_ENTRY, entry)),
            ElfError::EntryNotExecutable(entry)
        );
    }
    assert_eq!(
        refuse(|e| set_ph(e, 0, P_FLAGS, PF_R)),
        ElfError::EntryNotExecutable(CODE + 4)
    );
}

/// Loads `bytes` and checks the outcome: an error explains itself, an accepted program is one
/// that writes back to an identical program.
fn check(bytes: &[u8]) {
    match Program::from_elf(bytes) {
        Ok(program) => assert_eq!(Program::from_elf(&program.to_elf()), Ok(program)),
        Err(error) => assert!(!error.to_string().is_empty()),
    }
}

/// Valid programs: up to four disjoint segments, the first one executable and holding the entry.
fn programs() -> impl Strategy<Value = Program> {
    let segment = (
        0u32..0x4000,
        prop::collection::vec(any::<u8>(), 0..64),
        0u32..0x100,
    );
    (
        0u32..0x1000,
        prop::collection::vec((segment, any::<bool>()), 1..4),
    )
        .prop_map(|(base, parts)| {
            let mut vaddr = base * 4;
            let mut segments = Vec::new();
            for (index, ((gap, data, bss), executable)) in parts.into_iter().enumerate() {
                if index > 0 {
                    vaddr += gap;
                }
                let mem_size = data.len() as u32 + bss + 4;
                segments.push(Segment {
                    vaddr,
                    data,
                    mem_size,
                    executable: executable || index == 0,
                });
                vaddr += mem_size;
            }
            Program {
                entry: base * 4,
                segments,
            }
        })
}

proptest! {
    #[test]
    fn random_programs_round_trip(program in programs()) {
        prop_assert_eq!(Program::from_elf(&program.to_elf()), Ok(program));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes);
    }

    #[test]
    fn random_headers_never_panic(tail in prop::collection::vec(any::<u8>(), 0..512)) {
        // A valid identification, so the rest of the header is what varies.
        let mut bytes = elf()[..SIZEOF_IDENT].to_vec();
        bytes.extend_from_slice(&tail);
        check(&bytes);
    }

    #[test]
    fn mutated_files_never_panic(
        program in programs(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = program.to_elf();
        for (at, value) in edits {
            // Mostly the headers, where a byte changes the meaning of the file.
            let headers = SIZEOF_EHDR + SIZEOF_PHDR * program.segments.len();
            let at = at.index(if value % 4 == 0 { bytes.len() } else { headers });
            bytes[at] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        check(&bytes);
    }
}
