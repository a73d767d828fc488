//! Function symbols of a guest ELF, so reports name `main::step+0x14` rather than a bare pc.

use object::{Object, ObjectSymbol, SymbolKind};

/// Sorted function symbols: `(start, size, demangled name)`.
#[derive(Default)]
pub(crate) struct Symbols {
    functions: Vec<(u32, u32, String)>,
}

impl Symbols {
    /// Reads the symbol table; an ELF without one (or one `object` cannot read) gives no symbols.
    pub(crate) fn parse(elf: &[u8]) -> Symbols {
        let Ok(file) = object::File::parse(elf) else {
            return Symbols::default();
        };
        let mut functions: Vec<(u32, u32, String)> = file
            .symbols()
            .filter(|s| s.kind() == SymbolKind::Text)
            .filter_map(|s| {
                let start = u32::try_from(s.address()).ok()?;
                let size = u32::try_from(s.size()).ok()?;
                let name = s.name().ok()?;
                Some((start, size, format!("{:#}", rustc_demangle::demangle(name))))
            })
            .collect();
        functions.sort_by_key(|&(start, _, _)| start);
        Symbols { functions }
    }

    /// `name+0xoffset` for the function containing `pc`, if any.
    pub(crate) fn describe(&self, pc: u32) -> Option<String> {
        let index = self.functions.partition_point(|&(start, _, _)| start <= pc);
        let (start, size, name) = self.functions.get(index.checked_sub(1)?)?;
        let offset = pc - start;
        (offset < *size || *size == 0).then(|| format!("{name}+{offset:#x}"))
    }

    /// `0x000100a4 (main::step+0x14)`, or just the address.
    pub(crate) fn locate(&self, pc: u32) -> String {
        match self.describe(pc) {
            Some(function) => format!("{pc:#010x} ({function})"),
            None => format!("{pc:#010x}"),
        }
    }
}
