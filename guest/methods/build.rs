//! Builds the example guests for the VM with `opml-build`, and writes their program IDs for the
//! contracts.

fn main() {
    opml_build::Guests::new()
        .guest("../examples/abi-sum")
        .guest("../examples/chain-step")
        .guest("../examples/codec-bench")
        .guest("../examples/data-walk")
        .guest("../examples/dnn-runner")
        .guest("../examples/echo")
        .guest("../examples/graph-step")
        .guest("../examples/hashbench")
        .guest("../examples/mnist")
        .guest("../examples/syscalls")
        .solidity(
            "../../contracts/src/generated/GuestPrograms.sol",
            "GuestPrograms",
        )
        .build()
        .unwrap_or_else(|err| panic!("{err}"));
}
