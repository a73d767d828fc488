//! The guest's logic, a plain library: tested natively with `cargo test`, called by the VM
//! binary (`main.rs`).
#![cfg_attr(target_os = "none", no_std)]

/// The median of `values` (the lower middle value of an even count); `None` if there are none.
pub fn median(values: &mut [i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    Some(values[(values.len() - 1) / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [5]), Some(5));
        assert_eq!(median(&mut [9, -3, 4, 1]), Some(1));
        assert_eq!(median(&mut [3, 1, 2]), Some(2));
    }
}
