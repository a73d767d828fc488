//! A byte buffer whose start is 16-aligned in memory, to read a model file into.

use alloc::vec::Vec;
use core::ops::{Deref, DerefMut};

/// Sixteen bytes aligned to 16: the unit of [`AlignedBytes`]' storage.
#[derive(Clone, Copy, Default)]
#[repr(C, align(16))]
struct Block([u8; 16]);

// SAFETY: `Block` is `repr(C)` around a `[u8; 16]`: size 16, alignment 16, no padding, and every
// bit pattern (including all zeros) is valid.
unsafe impl bytemuck::Zeroable for Block {}
// SAFETY: as above; `Block` is also `Copy` and `'static`.
unsafe impl bytemuck::Pod for Block {}

/// Bytes whose first byte is 16-aligned, as [`Model::parse`](crate::Model::parse) needs: a
/// model file is read into one once, and every constant is a slice of it.
#[derive(Clone, Default)]
pub struct AlignedBytes {
    blocks: Vec<Block>,
    len: usize,
}

impl AlignedBytes {
    /// `len` zero bytes.
    pub fn zeroed(len: usize) -> AlignedBytes {
        AlignedBytes {
            blocks: alloc::vec![Block::default(); len.div_ceil(16)],
            len,
        }
    }

    /// A copy of `bytes`.
    pub fn from_slice(bytes: &[u8]) -> AlignedBytes {
        let mut out = AlignedBytes::zeroed(bytes.len());
        out.copy_from_slice(bytes);
        out
    }
}

impl Deref for AlignedBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.blocks)[..self.len]
    }
}

impl DerefMut for AlignedBytes {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut(&mut self.blocks)[..self.len]
    }
}

impl core::fmt::Debug for AlignedBytes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "AlignedBytes({} bytes)", self.len)
    }
}
