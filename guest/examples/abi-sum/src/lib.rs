//! The `abi-sum` example guest: its input, and the ABI output a contract decodes.
//!
//! Input: one frame holding an [`Input`]. Output: `abi.encode(uint256 sum, uint32 count,
//! string label)` (see [`output`]), raw, so a contract reads a finalized task's result with
//!
//! ```solidity
//! (uint256 sum, uint32 count, string memory label) =
//!     abi.decode(registry.outputOf(taskId), (uint256, uint32, string));
//! ```
#![no_std]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;

use opml_guest::abi::U256;
use serde::{Deserialize, Serialize};

/// What the guest reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// Numbers to add up.
    pub numbers: Vec<u64>,
    /// A label carried into the output (a dynamic ABI value).
    pub label: String,
}

/// What the guest commits, ABI-encoded: the sum, the count and the label.
pub fn output(input: &Input) -> (U256, u32, String) {
    let sum: u128 = input.numbers.iter().map(|&n| u128::from(n)).sum();
    (
        U256::from(sum),
        input.numbers.len() as u32,
        input.label.clone(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use opml_guest::abi::AbiParams;

    #[test]
    fn output_is_the_abi_encoding_of_the_sum_count_and_label() {
        let input = Input {
            numbers: vec![u64::MAX, 1],
            label: "x".into(),
        };
        let bytes = output(&input).abi_encode_params();
        assert_eq!(bytes.len(), 5 * 32);
        assert_eq!(bytes[23], 1, "2^64 overflows no word");
        assert_eq!(bytes[63], 2, "count");
        assert_eq!(bytes[95], 96, "the label's offset");
        assert_eq!((bytes[127], bytes[128]), (1, b'x'));
    }
}
