// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {TestBase} from "./utils/Vm.sol";
import {RiscvStep} from "../src/RiscvStep.sol";
import {VmConstants as C} from "../src/lib/VmConstants.sol";

/// @notice Gas of one `step` transaction per vector: 21,000 + calldata (Cancun: 16 gas per
/// non-zero byte, 4 per zero byte) + execution, checked against the budgets: 60,000 for ALU,
/// branch, jump and trap steps; 75,000 for every step that touches memory beyond the fetch
/// (loads, stores, syscalls, `preimage`). `forge test -vv --match-contract StepGas` prints
/// the table.
/// @dev Note: the vectors' memory is sparse, so their memory proofs elide most siblings; a
/// store or `read` into a second leaf of a dense memory (no sibling elided: two 900-byte
/// proofs) costs about 80k, as before the elision mask (BENCHMARKS.md, issue 13).
/// @dev Note: execution gas is the gas of a warm STATICCALL minus the 100 gas of the warm call
/// itself (and includes ~10 gas of the measuring opcodes).
contract StepGasTest is TestBase {
    /// @dev Budget for ALU, branch, jump and trap steps.
    uint256 internal constant ALU_BUDGET = 60_000;
    /// @dev Budget for loads, stores, syscalls and `preimage`.
    uint256 internal constant MEMORY_BUDGET = 75_000;

    RiscvStep internal verifier;

    function setUp() public {
        verifier = new RiscvStep();
    }

    function test_gasPerStepWithinBudget() public {
        string memory json = vm.readFile("test/vectors/steps.json");
        string[] memory names = vm.parseJsonStringArray(json, ".names");
        bytes[] memory states = vm.parseJsonBytesArray(json, ".stateData");
        bytes[] memory proofs = vm.parseJsonBytesArray(json, ".proofs");
        // Warm the verifier's account, as a transaction to it would.
        verifier.step(states[0], proofs[0]);
        uint256 over;
        for (uint256 i = 0; i < names.length; ++i) {
            bytes memory data = abi.encodeCall(RiscvStep.step, (states[i], proofs[i]));
            address target = address(verifier);
            bool ok;
            uint256 execution;
            assembly {
                // Measured around the STATICCALL alone: no return data is copied, so no memory
                // of this (large) test frame is expanded inside the measurement.
                let before := gas()
                ok := staticcall(gas(), target, add(data, 0x20), mload(data), 0, 0)
                execution := sub(before, gas())
            }
            execution -= 100; // the warm call itself, which a transaction does not pay
            require(ok, names[i]);
            uint256 total = 21_000 + calldataGas(data) + execution;
            (string memory class, uint256 budget) = classify(states[i], proofs[i]);
            emit log(string.concat(
                    names[i],
                    " | ",
                    class,
                    " | calldata ",
                    toString(data.length),
                    " B ",
                    toString(calldataGas(data)),
                    " gas | execution ",
                    toString(execution),
                    " | total ",
                    toString(total)
                ));
            if (total > budget) {
                emit log(string.concat("OVER BUDGET: ", names[i]));
                over++;
            }
        }
        vm.assertEq(over, 0, "steps over their gas budget");
    }

    /// @dev Intrinsic calldata gas (EIP-2028).
    function calldataGas(bytes memory data) internal pure returns (uint256 gas) {
        for (uint256 i = 0; i < data.length; ++i) {
            gas += data[i] == 0 ? 4 : 16;
        }
    }

    /// @dev The instruction class of a vector, from the fetched word, and its gas budget.
    function classify(bytes memory state, bytes memory proof)
        internal
        pure
        returns (string memory, uint256)
    {
        (string memory class, bool memoryClass) = classOf(state, proof);
        return (class, memoryClass ? MEMORY_BUDGET : ALU_BUDGET);
    }

    /// @dev The class of a vector and whether it is a memory class (load, store, ecall).
    function classOf(bytes memory state, bytes memory proof)
        internal
        pure
        returns (string memory, bool)
    {
        if (uint8(state[C.STATUS]) != C.STATUS_RUNNING) return ("halted", false);
        if (proof.length == 0) return ("trap", false);
        uint256 pc = C.MASK_LEN + uint8(state[C.PC + 3]) % 32; // the fetch leaf, after its mask
        uint32 word = uint32(uint8(proof[pc])) | uint32(uint8(proof[pc + 1])) << 8
            | uint32(uint8(proof[pc + 2])) << 16 | uint32(uint8(proof[pc + 3])) << 24;
        uint32 opcode = word & 0x7f;
        if (word == 0x73) {
            uint256 a7 = regOf(state, C.REG_A7);
            if (a7 == C.SYS_PREIMAGE) return ("preimage", true);
            uint256 a0 = uint8(state[C.REGS + 4 * C.REG_A0 + 3]);
            return (string.concat("syscall ", toString(a7), " fd ", toString(a0)), true);
        }
        if (opcode == 0x03) return ("load", true);
        if (opcode == 0x23) return ("store", true);
        if (opcode == 0x33 && word >> 25 == 1) return ("mul/div", false);
        if (opcode == 0x33 || opcode == 0x13 || opcode == 0x37 || opcode == 0x17) {
            return ("alu", false);
        }
        if (opcode == 0x63) return ("branch", false);
        if (opcode == 0x6f || opcode == 0x67) return ("jump", false);
        return ("other", false);
    }

    /// @dev Register `r` of a packed state (big-endian).
    function regOf(bytes memory state, uint256 r) internal pure returns (uint256 value) {
        for (uint256 b = 0; b < 4; ++b) {
            value = value << 8 | uint8(state[C.REGS + 4 * r + b]);
        }
    }

    function toString(uint256 value) internal pure returns (string memory) {
        if (value == 0) return "0";
        bytes memory buf;
        while (value != 0) {
            buf = bytes.concat(bytes1(uint8(48 + value % 10)), buf);
            value /= 10;
        }
        return string(buf);
    }
}
