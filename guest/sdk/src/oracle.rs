//! The data oracle: reading data a guest names by its hash (`docs/vm-spec.md`, "Data oracle").
//!
//! Data lives in a binary SHA-256 DAG of 64-byte preimages: an inner node is `left key ‖ right
//! key`, a leaf is 64 bytes of data, and a node's key is the SHA-256 of its preimage. A guest
//! holding a root key (from its input, say) walks down to any data with [`preimage`]. The host
//! must have every preimage the guest asks for; the VM, and on chain the step verifier, make
//! sure the bytes returned are the key's true preimage, so the guest need not hash them again.

use opml_platform::exit_code;
use opml_platform::memory::{LEAF_SIZE, PREIMAGE_LEN};

use crate::sys;

/// The 64-byte preimage of `key` (two `preimage` system calls, one per half).
///
/// Outside the opml VM (natively, or under `qemu-riscv32`) there is no oracle: the program
/// logs why and exits with `exit_code::ORACLE_UNAVAILABLE`. In the VM a key the host does not
/// know stops the machine before the call (a host error; the guest never sees it).
pub fn preimage(key: &[u8; 32]) -> [u8; PREIMAGE_LEN] {
    let mut out = [0u8; PREIMAGE_LEN];
    for (half, part) in out.chunks_exact_mut(LEAF_SIZE as usize).enumerate() {
        let mut leaf = sys::Leaf(*key);
        let ret = sys::preimage(&mut leaf, half as u32);
        if ret != 0 {
            crate::log_fmt(format_args!(
                "opml-guest: the data oracle is unavailable (preimage returned {ret}); \
                 not running in the opml VM?"
            ));
            crate::exit(exit_code::ORACLE_UNAVAILABLE);
        }
        part.copy_from_slice(&leaf.0);
    }
    out
}

#[cfg(all(test, not(target_os = "none")))]
mod tests {
    use opml_platform::errno;

    use crate::sys;

    #[test]
    fn natively_there_is_no_oracle_and_the_buffer_is_untouched() {
        let mut leaf = sys::Leaf([9; 32]);
        assert_eq!(core::mem::align_of::<sys::Leaf>(), 32);
        for half in [0, 1, 2] {
            assert_eq!(sys::preimage(&mut leaf, half), -(errno::ENOSYS as isize));
            assert_eq!(leaf.0, [9; 32]);
        }
    }
}
