//! Builds the guest for `riscv32im-unknown-none-elf` (reproducibly: its program ID depends on
//! its sources, not on this machine's paths), embeds it, and writes its program ID for the
//! contracts.

fn main() {
    opml_build::Guests::new()
        .guest("../guest")
        .solidity("../contracts/src/generated/Programs.sol", "Programs")
        .build()
        .unwrap_or_else(|err| panic!("{err}"));
}
