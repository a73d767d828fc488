// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {TestBase} from "./utils/Vm.sol";
import {InputOracle} from "../src/InputOracle.sol";

/// @notice InputOracle: multi-call uploads give the Rust commitment
/// (`test/vectors/input.json`), any chunk-aligned split gives the same commitment, and
/// out-of-order, oversized, misaligned or foreign parts revert.
contract InputOracleTest is TestBase {
    InputOracle internal oracle;
    bytes internal input;
    bytes32 internal commitment;

    function setUp() public {
        oracle = new InputOracle();
        string memory json = vm.readFile("test/vectors/input.json");
        input = vm.parseJsonBytes(json, ".input");
        commitment = vm.parseJsonBytes32(json, ".commitment");
    }

    function part(uint256 from, uint256 to) internal view returns (bytes memory out) {
        out = new bytes(to - from);
        for (uint256 i = 0; i < out.length; ++i) {
            out[i] = input[from + i];
        }
    }

    /// @dev Three parts from the end backwards (the first ends with the partial chunk).
    function test_multiCallUploadMatchesRust() public {
        vm.assertTrue(input.length % 32 != 0, "vector should end with a partial chunk");
        uint256 id = oracle.open(uint32(input.length));
        uint256 tailStart = input.length / 32 * 32 - 64;
        oracle.post(id, part(tailStart, input.length));
        vm.assertTrue(!oracle.isAvailable(commitment), "available too early");
        oracle.post(id, part(320, tailStart));
        bytes32 link = oracle.post(id, part(0, 320));
        vm.assertEq(link, commitment, "commitment");
        vm.assertTrue(oracle.isAvailable(commitment), "available");
        vm.assertEq(oracle.commitmentOf(input), commitment, "commitmentOf");
    }

    /// @dev Any chunk-aligned split into two parts gives the same commitment.
    function testFuzz_anySplitGivesTheCommitment(uint256 cut) public {
        uint256 chunks = (input.length + 31) / 32;
        uint256 start = (cut % chunks) * 32; // start of the second (first posted) part
        uint256 id = oracle.open(uint32(input.length));
        if (start > 0) oracle.post(id, part(start, input.length));
        vm.assertEq(oracle.post(id, part(0, start > 0 ? start : input.length)), commitment, "split");
    }

    /// @dev A commitment depends on every byte: a one-call upload of changed data differs.
    function testFuzz_changedByteChangesCommitment(uint256 pos, uint8 flip) public {
        vm.assume(flip != 0);
        bytes memory data = input;
        data[pos % data.length] ^= bytes1(flip);
        uint256 id = oracle.open(uint32(data.length));
        vm.assertNotEq(oracle.post(id, data), commitment, "changed input");
    }

    function test_emptyInputIsAlwaysAvailable() public {
        vm.assertTrue(oracle.isAvailable(bytes32(0)), "empty");
        uint256 id = oracle.open(0);
        vm.expectRevert(abi.encodeWithSelector(InputOracle.UploadNotOpen.selector, id));
        oracle.post(id, hex"00");
    }

    function test_misalignedPartReverts() public {
        uint256 id = oracle.open(uint32(input.length));
        // Ends at the end of the input but starts mid-chunk.
        vm.expectRevert(
            abi.encodeWithSelector(InputOracle.PartNotChunkAligned.selector, input.length - 33)
        );
        oracle.post(id, part(input.length - 33, input.length));
        // After an aligned first part, a part that is not a whole number of chunks.
        uint256 start = input.length / 32 * 32;
        oracle.post(id, part(start, input.length));
        vm.expectRevert(
            abi.encodeWithSelector(InputOracle.PartNotChunkAligned.selector, start - 31)
        );
        oracle.post(id, part(start - 31, start));
    }

    function test_oversizedPartReverts() public {
        uint256 id = oracle.open(10);
        vm.expectRevert(abi.encodeWithSelector(InputOracle.PartTooLong.selector, 11, 10));
        oracle.post(id, new bytes(11));
        vm.expectRevert(InputOracle.EmptyPart.selector);
        oracle.post(id, "");
    }

    function test_completedUploadIsClosed() public {
        uint256 id = oracle.open(uint32(input.length));
        oracle.post(id, input);
        vm.expectRevert(abi.encodeWithSelector(InputOracle.UploadNotOpen.selector, id));
        oracle.post(id, hex"00");
    }

    function test_onlyUploaderPosts() public {
        uint256 id = oracle.open(uint32(input.length));
        address other = address(0xbeef);
        vm.prank(other);
        vm.expectRevert(abi.encodeWithSelector(InputOracle.NotUploader.selector, id, other));
        oracle.post(id, input);
    }

    function test_emitsDataAndAvailability() public {
        uint256 id = oracle.open(uint32(input.length));
        vm.expectEmit();
        emit InputOracle.InputData(id, 0, input);
        vm.expectEmit();
        emit InputOracle.InputAvailable(commitment, id, uint32(input.length));
        oracle.post(id, input);
    }
}
