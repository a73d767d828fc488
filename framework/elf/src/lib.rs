//! ELF32 RISC-V executables to opml program images, and back.
//!
//! [`Program::from_elf`] accepts exactly the static, little-endian, RV32 `ET_EXEC` files a guest
//! toolchain produces for the opml VM and returns their loadable segments; it refuses everything
//! else with a typed [`ElfError`]. It never panics and never allocates more than the input's size
//! (plus a bounded table of program headers), whatever the input: every header field it uses is
//! range-checked here before `goblin` reads the structures.
//!
//! What is accepted:
//!
//! - `e_ident`: ELF magic, `ELFCLASS32`, `ELFDATA2LSB`, `EV_CURRENT`; any OS ABI byte.
//! - `e_type = ET_EXEC`, `e_machine = EM_RISCV`, `e_version = EV_CURRENT`.
//! - `e_flags`: neither [`EF_RISCV_RVC`] (the VM has no compressed instructions) nor any
//!   [`EF_RISCV_FLOAT_ABI`] bit (RV32IM guests use the `ilp32` soft-float ABI; an `ilp32f`/`ilp32d`
//!   object expects floating-point registers the VM does not have). Other flags (`RVE`, `TSO`)
//!   describe programs an RV32IM machine runs as they are, and are ignored.
//! - Program headers of exactly 32 bytes, at most [`MAX_PROGRAM_HEADERS`] of them, inside the
//!   file. `PT_INTERP` or `PT_DYNAMIC` means a dynamically linked program: refused. `PT_LOAD`
//!   segments with a zero memory size are skipped; every other type (`PT_NOTE`, `PT_GNU_STACK`,
//!   `PT_RISCV_ATTRIBUTES`, `PT_TLS`, ...) is ignored.
//! - Each `PT_LOAD` segment: its file bytes inside the file, `p_filesz <= p_memsz`, its memory
//!   range inside the 32-bit address space and disjoint from every other segment's.
//! - The entry point: 4-byte aligned and inside an executable (`PF_X`) segment.
//!
//! Section headers are not read: a loader needs none of them.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

use alloc::vec::Vec;
use core::fmt;

use goblin::elf::header::{
    EI_CLASS, EI_DATA, EI_VERSION, ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, ELFMAG,
    EM_RISCV, ET_DYN, ET_EXEC, EV_CURRENT, SIZEOF_IDENT,
};
use goblin::elf::program_header::{PF_R, PF_W, PF_X, PT_DYNAMIC, PT_INTERP, PT_LOAD};
use goblin::elf32::header::{Header, SIZEOF_EHDR};
use goblin::elf32::program_header::{ProgramHeader, SIZEOF_PHDR};

/// `e_flags` bit of a RISC-V object that may contain compressed (RVC) instructions.
pub const EF_RISCV_RVC: u32 = 0x0001;
/// `e_flags` field of a RISC-V object naming its floating-point ABI; zero means soft-float.
pub const EF_RISCV_FLOAT_ABI: u32 = 0x0006;
/// The most program headers [`Program::from_elf`] reads. Linkers emit fewer than ten.
pub const MAX_PROGRAM_HEADERS: usize = 128;

/// Alignment of the segments [`Program::to_elf`] writes: a file offset and a virtual address
/// agree modulo this, as `mmap`-based loaders (`qemu-user`, Linux) need.
const SEGMENT_ALIGN: u32 = 0x1000;

/// A program image: where execution starts and what memory holds before the first step.
///
/// Memory outside the segments is zero.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// The initial `pc` (`e_entry`): 4-byte aligned, inside an executable segment.
    pub entry: u32,
    /// The loadable segments, sorted by address, pairwise disjoint, none empty.
    pub segments: Vec<Segment>,
}

/// One loadable segment: `data` at `vaddr`, then zeros up to `mem_size` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// First address.
    pub vaddr: u32,
    /// The bytes from the file; `data.len() <= mem_size`.
    pub data: Vec<u8>,
    /// Size in memory, at least 1; `vaddr + mem_size <= 2^32`.
    pub mem_size: u32,
    /// Whether the segment is executable (`PF_X`). The VM itself has no permissions; the loader
    /// uses this to check the entry point.
    pub executable: bool,
}

/// Why bytes are not a program image the opml VM can run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// The file does not start with the ELF magic number.
    NotElf,
    /// The file ends inside the ELF header; the value is the file's length.
    TruncatedHeader(usize),
    /// An ELF64 file.
    Elf64,
    /// An `EI_CLASS` byte that is neither 32- nor 64-bit.
    UnknownClass(u8),
    /// A big-endian file.
    BigEndian,
    /// An `EI_DATA` byte that is neither little- nor big-endian.
    UnknownEncoding(u8),
    /// An ELF version (`EI_VERSION` or `e_version`) other than `EV_CURRENT`.
    UnknownVersion(u32),
    /// `e_machine` is not `EM_RISCV`.
    WrongMachine(u16),
    /// `e_type` is not `ET_EXEC`.
    NotExecutable(u16),
    /// `e_flags` has [`EF_RISCV_RVC`] set.
    CompressedInstructions,
    /// `e_flags` names a hardware floating-point ABI; the value is `e_flags`.
    FloatAbi(u32),
    /// `e_phentsize` is not the size of an ELF32 program header.
    ProgramHeaderSize(u16),
    /// More than [`MAX_PROGRAM_HEADERS`] program headers.
    TooManyProgramHeaders(u16),
    /// The program header table does not fit in the file.
    TruncatedProgramHeaders {
        /// `e_phoff`.
        offset: u32,
        /// `e_phnum`.
        count: u16,
        /// Length of the file.
        file_len: usize,
    },
    /// A `PT_INTERP` or `PT_DYNAMIC` program header: the program is dynamically linked.
    Dynamic {
        /// Index of the program header.
        index: usize,
        /// Its type, `PT_INTERP` or `PT_DYNAMIC`.
        p_type: u32,
    },
    /// A segment's file bytes run past the end of the file.
    TruncatedSegment {
        /// Index of the program header.
        index: usize,
        /// `p_offset`.
        offset: u32,
        /// `p_filesz`.
        file_size: u32,
        /// Length of the file.
        file_len: usize,
    },
    /// A segment has more file bytes than memory.
    FileSizeExceedsMemSize {
        /// Index of the program header.
        index: usize,
        /// `p_filesz`.
        file_size: u32,
        /// `p_memsz`.
        mem_size: u32,
    },
    /// A segment ends past the top of the 32-bit address space.
    SegmentWraps {
        /// Index of the program header.
        index: usize,
        /// `p_vaddr`.
        vaddr: u32,
        /// `p_memsz`.
        mem_size: u32,
    },
    /// The segments' file bytes add up to more than the file: they overlap in the file.
    SegmentDataExceedsFile {
        /// Sum of every loaded segment's `p_filesz`.
        total: u64,
        /// Length of the file.
        file_len: usize,
    },
    /// Two segments share memory. Ranges are `[start, end)`, `end` up to `2^32`.
    OverlappingSegments {
        /// The lower segment's range.
        first: (u32, u64),
        /// The higher segment's range.
        second: (u32, u64),
    },
    /// No `PT_LOAD` segment with a non-zero memory size.
    NoLoadableSegment,
    /// The entry point is not 4-byte aligned.
    MisalignedEntry(u32),
    /// The entry point is not inside an executable segment.
    EntryNotExecutable(u32),
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::NotElf => f.write_str("not an ELF file (bad magic number)"),
            ElfError::TruncatedHeader(len) => write!(
                f,
                "truncated ELF file: {len} bytes, shorter than the {SIZEOF_EHDR}-byte ELF32 header"
            ),
            ElfError::Elf64 => {
                f.write_str("64-bit ELF file: the opml VM runs 32-bit (RV32IM) programs only")
            }
            ElfError::UnknownClass(class) => write!(f, "unknown ELF class {class}"),
            ElfError::BigEndian => f.write_str(
                "big-endian ELF file: RISC-V programs for the opml VM are little-endian",
            ),
            ElfError::UnknownEncoding(data) => write!(f, "unknown ELF data encoding {data}"),
            ElfError::UnknownVersion(version) => {
                write!(f, "unknown ELF version {version} (expected 1)")
            }
            ElfError::WrongMachine(machine) => write!(
                f,
                "ELF machine {machine} is not RISC-V (EM_RISCV = {EM_RISCV})"
            ),
            ElfError::NotExecutable(ET_DYN) => f.write_str(
                "ELF type ET_DYN (position-independent executable or shared object): \
                 link the program statically at a fixed address (ET_EXEC)",
            ),
            ElfError::NotExecutable(e_type) => write!(
                f,
                "ELF type {e_type} is not an executable (ET_EXEC = {ET_EXEC})"
            ),
            ElfError::CompressedInstructions => f.write_str(
                "the ELF flags allow compressed (RVC) instructions, which the RV32IM VM does not \
                 have: build for rv32im",
            ),
            ElfError::FloatAbi(flags) => write!(
                f,
                "the ELF flags {flags:#x} name a hardware floating-point ABI: build for the \
                 ilp32 soft-float ABI"
            ),
            ElfError::ProgramHeaderSize(size) => write!(
                f,
                "program header entries of {size} bytes (ELF32 program headers are {SIZEOF_PHDR})"
            ),
            ElfError::TooManyProgramHeaders(count) => write!(
                f,
                "{count} program headers (at most {MAX_PROGRAM_HEADERS} are accepted)"
            ),
            ElfError::TruncatedProgramHeaders {
                offset,
                count,
                file_len,
            } => write!(
                f,
                "truncated ELF file: {count} program headers at offset {offset:#x} do not fit \
                 in its {file_len} bytes"
            ),
            ElfError::Dynamic { index, p_type } => {
                let what = if *p_type == PT_INTERP {
                    "PT_INTERP"
                } else {
                    "PT_DYNAMIC"
                };
                write!(
                    f,
                    "dynamically linked program (program header {index} is {what}): link it \
                     statically"
                )
            }
            ElfError::TruncatedSegment {
                index,
                offset,
                file_size,
                file_len,
            } => write!(
                f,
                "truncated ELF file: segment {index} has {file_size} file bytes at offset \
                 {offset:#x}, past the end of its {file_len} bytes"
            ),
            ElfError::FileSizeExceedsMemSize {
                index,
                file_size,
                mem_size,
            } => write!(
                f,
                "segment {index} has more file bytes ({file_size}) than memory bytes ({mem_size})"
            ),
            ElfError::SegmentWraps {
                index,
                vaddr,
                mem_size,
            } => write!(
                f,
                "segment {index} ({mem_size} bytes at {vaddr:#010x}) runs past the end of the \
                 32-bit address space"
            ),
            ElfError::SegmentDataExceedsFile { total, file_len } => write!(
                f,
                "the segments' file bytes ({total} in all) overlap: the file has only {file_len}"
            ),
            ElfError::OverlappingSegments { first, second } => write!(
                f,
                "segments [{:#010x}, {:#x}) and [{:#010x}, {:#x}) overlap in memory",
                first.0, first.1, second.0, second.1
            ),
            ElfError::NoLoadableSegment => {
                f.write_str("no loadable segment (PT_LOAD with a non-zero memory size)")
            }
            ElfError::MisalignedEntry(entry) => {
                write!(f, "entry point {entry:#010x} is not 4-byte aligned")
            }
            ElfError::EntryNotExecutable(entry) => write!(
                f,
                "entry point {entry:#010x} is not inside an executable segment"
            ),
        }
    }
}

impl core::error::Error for ElfError {}

impl Program {
    /// Reads the program image of a static ELF32 RISC-V executable.
    ///
    /// See the crate documentation for exactly what is accepted. Never panics.
    pub fn from_elf(bytes: &[u8]) -> Result<Program, ElfError> {
        let header = parse_header(bytes)?;
        let program_headers = parse_program_headers(bytes, &header)?;
        let segments = load_segments(bytes, &program_headers)?;
        check_entry(header.e_entry, &segments)?;
        Ok(Program {
            entry: header.e_entry,
            segments,
        })
    }

    /// Writes the program as a static ELF32 RISC-V executable that [`Program::from_elf`] reads
    /// back as the same program (when the program is one it accepts).
    ///
    /// The file holds the ELF header, one `PT_LOAD` program header per segment (executable
    /// segments `R+X`, the others `R+W`) and the segments' data, each at a file offset congruent
    /// to its address modulo 4 KiB, so `qemu-riscv32` and Linux load it too. No section headers.
    ///
    /// # Panics
    ///
    /// If the file would not fit the 32-bit offsets of ELF32 (segment data near 4 GiB), or if a
    /// segment's data is longer than its memory size or there are more than 65535 segments.
    pub fn to_elf(&self) -> Vec<u8> {
        let count = u16::try_from(self.segments.len()).expect("at most 65535 segments");
        let headers_end = SIZEOF_EHDR + SIZEOF_PHDR * self.segments.len();
        let mut offset = u32::try_from(headers_end).expect("ELF32 offsets are 32-bit");
        let mut program_headers = Vec::with_capacity(self.segments.len() * SIZEOF_PHDR);
        let mut data = Vec::new();
        for segment in &self.segments {
            let file_size = u32::try_from(segment.data.len()).expect("segment data under 4 GiB");
            assert!(
                file_size <= segment.mem_size,
                "segment data exceeds its memory size"
            );
            offset = offset
                .checked_add(segment.vaddr.wrapping_sub(offset) % SEGMENT_ALIGN)
                .expect("ELF32 offsets are 32-bit");
            let flags = if segment.executable {
                PF_R | PF_X
            } else {
                PF_R | PF_W
            };
            for field in [
                PT_LOAD,
                offset,
                segment.vaddr,
                segment.vaddr,
                file_size,
                segment.mem_size,
                flags,
                SEGMENT_ALIGN,
            ] {
                program_headers.extend_from_slice(&field.to_le_bytes());
            }
            let start = offset as usize - headers_end;
            data.resize(start, 0);
            data.extend_from_slice(&segment.data);
            offset = offset
                .checked_add(file_size)
                .expect("ELF32 offsets are 32-bit");
        }

        let mut elf = Vec::with_capacity(headers_end + data.len());
        elf.extend_from_slice(ELFMAG);
        elf.extend_from_slice(&[ELFCLASS32, ELFDATA2LSB, EV_CURRENT]);
        elf.resize(SIZEOF_IDENT, 0);
        elf.extend_from_slice(&ET_EXEC.to_le_bytes());
        elf.extend_from_slice(&EM_RISCV.to_le_bytes());
        for field in [
            u32::from(EV_CURRENT),
            self.entry,
            SIZEOF_EHDR as u32, // e_phoff
            0,                  // e_shoff
            0,                  // e_flags: ilp32 soft-float, no RVC
        ] {
            elf.extend_from_slice(&field.to_le_bytes());
        }
        for field in [SIZEOF_EHDR as u16, SIZEOF_PHDR as u16, count, 0, 0, 0] {
            elf.extend_from_slice(&field.to_le_bytes());
        }
        elf.extend_from_slice(&program_headers);
        elf.extend_from_slice(&data);
        elf
    }
}

/// Checks the identification bytes and the header fields, then reads the header.
fn parse_header(bytes: &[u8]) -> Result<Header, ElfError> {
    let magic_len = bytes.len().min(ELFMAG.len());
    if bytes.is_empty() || bytes[..magic_len] != ELFMAG[..magic_len] {
        return Err(ElfError::NotElf);
    }
    if bytes.len() < SIZEOF_IDENT {
        return Err(ElfError::TruncatedHeader(bytes.len()));
    }
    match bytes[EI_CLASS] {
        ELFCLASS32 => {}
        ELFCLASS64 => return Err(ElfError::Elf64),
        class => return Err(ElfError::UnknownClass(class)),
    }
    match bytes[EI_DATA] {
        ELFDATA2LSB => {}
        ELFDATA2MSB => return Err(ElfError::BigEndian),
        data => return Err(ElfError::UnknownEncoding(data)),
    }
    if bytes[EI_VERSION] != EV_CURRENT {
        return Err(ElfError::UnknownVersion(bytes[EI_VERSION].into()));
    }
    if bytes.len() < SIZEOF_EHDR {
        return Err(ElfError::TruncatedHeader(bytes.len()));
    }
    // The length is checked, so this bounded read cannot fail; map it anyway rather than unwrap.
    let header = Header::parse(bytes).map_err(|_| ElfError::TruncatedHeader(bytes.len()))?;
    if header.e_machine != EM_RISCV {
        return Err(ElfError::WrongMachine(header.e_machine));
    }
    if header.e_type != ET_EXEC {
        return Err(ElfError::NotExecutable(header.e_type));
    }
    if header.e_version != u32::from(EV_CURRENT) {
        return Err(ElfError::UnknownVersion(header.e_version));
    }
    if header.e_flags & EF_RISCV_RVC != 0 {
        return Err(ElfError::CompressedInstructions);
    }
    if header.e_flags & EF_RISCV_FLOAT_ABI != 0 {
        return Err(ElfError::FloatAbi(header.e_flags));
    }
    Ok(header)
}

/// Checks the program header table's geometry, then reads it.
fn parse_program_headers(bytes: &[u8], header: &Header) -> Result<Vec<ProgramHeader>, ElfError> {
    let count = usize::from(header.e_phnum);
    if count == 0 {
        return Err(ElfError::NoLoadableSegment);
    }
    if usize::from(header.e_phentsize) != SIZEOF_PHDR {
        return Err(ElfError::ProgramHeaderSize(header.e_phentsize));
    }
    if count > MAX_PROGRAM_HEADERS {
        return Err(ElfError::TooManyProgramHeaders(header.e_phnum));
    }
    let truncated = ElfError::TruncatedProgramHeaders {
        offset: header.e_phoff,
        count: header.e_phnum,
        file_len: bytes.len(),
    };
    let start = header.e_phoff as usize;
    match start.checked_add(count * SIZEOF_PHDR) {
        Some(end) if end <= bytes.len() => {}
        _ => return Err(truncated),
    }
    // In bounds and of bounded count: goblin allocates `count` headers and reads them.
    ProgramHeader::parse(bytes, start, count, goblin::container::Endian::Little)
        .map_err(|_| truncated)
}

/// The `PT_LOAD` segments, checked and sorted by address.
fn load_segments(
    bytes: &[u8],
    program_headers: &[ProgramHeader],
) -> Result<Vec<Segment>, ElfError> {
    let mut loads = Vec::new();
    let mut total_file_size = 0u64;
    for (index, ph) in program_headers.iter().enumerate() {
        match ph.p_type {
            PT_INTERP | PT_DYNAMIC => {
                return Err(ElfError::Dynamic {
                    index,
                    p_type: ph.p_type,
                });
            }
            PT_LOAD => {}
            _ => continue,
        }
        if ph.p_filesz > ph.p_memsz {
            return Err(ElfError::FileSizeExceedsMemSize {
                index,
                file_size: ph.p_filesz,
                mem_size: ph.p_memsz,
            });
        }
        if ph.p_memsz == 0 {
            continue;
        }
        if u64::from(ph.p_vaddr) + u64::from(ph.p_memsz) > 1 << 32 {
            return Err(ElfError::SegmentWraps {
                index,
                vaddr: ph.p_vaddr,
                mem_size: ph.p_memsz,
            });
        }
        if u64::from(ph.p_offset) + u64::from(ph.p_filesz) > bytes.len() as u64 {
            return Err(ElfError::TruncatedSegment {
                index,
                offset: ph.p_offset,
                file_size: ph.p_filesz,
                file_len: bytes.len(),
            });
        }
        total_file_size += u64::from(ph.p_filesz);
        loads.push(ph);
    }
    // Bounds the copies below by the input's size, whatever the headers claim.
    if total_file_size > bytes.len() as u64 {
        return Err(ElfError::SegmentDataExceedsFile {
            total: total_file_size,
            file_len: bytes.len(),
        });
    }
    if loads.is_empty() {
        return Err(ElfError::NoLoadableSegment);
    }
    loads.sort_by_key(|ph| ph.p_vaddr);
    for pair in loads.windows(2) {
        let range =
            |ph: &ProgramHeader| (ph.p_vaddr, u64::from(ph.p_vaddr) + u64::from(ph.p_memsz));
        let (first, second) = (range(pair[0]), range(pair[1]));
        if first.1 > u64::from(second.0) {
            return Err(ElfError::OverlappingSegments { first, second });
        }
    }
    Ok(loads
        .into_iter()
        .map(|ph| {
            // In bounds: checked against the file's length above.
            let start = ph.p_offset as usize;
            Segment {
                vaddr: ph.p_vaddr,
                data: bytes[start..start + ph.p_filesz as usize].to_vec(),
                mem_size: ph.p_memsz,
                executable: ph.p_flags & PF_X != 0,
            }
        })
        .collect())
}

/// Checks that execution starts at an aligned address of an executable segment.
fn check_entry(entry: u32, segments: &[Segment]) -> Result<(), ElfError> {
    if !entry.is_multiple_of(4) {
        return Err(ElfError::MisalignedEntry(entry));
    }
    let executable = segments.iter().any(|segment| {
        segment.executable && entry >= segment.vaddr && entry - segment.vaddr < segment.mem_size
    });
    if executable {
        Ok(())
    } else {
        Err(ElfError::EntryNotExecutable(entry))
    }
}

#[cfg(test)]
mod tests;
