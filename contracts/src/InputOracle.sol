// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {VmConstants as C} from "./lib/VmConstants.sol";

/// @title InputOracle
/// @notice Makes a task's input available on chain and computes its commitment, for inputs
/// far larger than one transaction. The data itself is published in events (data
/// availability); the contract keeps only the running hash and, once complete, records the
/// commitment as available.
/// @dev Note: the commitment is the reverse hash chain of `framework/state/src/input.rs`:
/// with the input cut into 32-byte chunks `c_i` (the last zero padded) and `r_i = L - 32 i`,
/// `link_i = sha256(be32(r_i) ‖ c_i ‖ link_{i+1})`, `link_n = 0`, commitment `link_0`. Because
/// each link needs its successor, parts are posted from the END backwards: the first part ends
/// at the end of the input, each next part ends where the previous one began, and every part
/// starts on a chunk boundary (so each part is a whole number of chunks, except that the first
/// may end with the input's partial last chunk).
///
/// Invariants:
/// - `uploads[id].start` only decreases, in steps that are multiples of 32 (except the first,
///   which may cut the partial last chunk), and `link` is `link_{start / 32}` of the data
///   posted so far: after the part starting at 0 it is the commitment.
/// - Only the uploader who opened an upload posts to it, so uploads cannot be interleaved by
///   others. An upload is closed once complete.
/// - The empty input commits to zero and is always available.
contract InputOracle {
    /*//////////////////////////////////////////////////////////////
                                 ERRORS
    //////////////////////////////////////////////////////////////*/

    /// @notice No open upload has this id (never opened, or already complete).
    /// @param id The upload id.
    error UploadNotOpen(uint256 id);

    /// @notice Only the account that opened an upload may post its parts.
    /// @param id The upload id.
    /// @param caller The account that tried.
    error NotUploader(uint256 id, address caller);

    /// @notice A part must carry at least one byte.
    error EmptyPart();

    /// @notice The part is longer than the bytes not yet posted (oversized).
    /// @param length The part's length.
    /// @param unposted Bytes of the input before the previously posted part.
    error PartTooLong(uint256 length, uint256 unposted);

    /// @notice The part would start at `start`, which is not a chunk boundary: every part but
    /// the first must be a whole number of 32-byte chunks, and the first must start on one.
    /// @param start The byte offset the part would start at.
    error PartNotChunkAligned(uint256 start);

    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice An upload of `length` bytes was opened by `uploader`.
    event UploadOpened(uint256 indexed id, address indexed uploader, uint32 length);

    /// @notice Bytes `offset .. offset + data.length` of upload `id` (data availability).
    event InputData(uint256 indexed id, uint32 offset, bytes data);

    /// @notice The input with `commitment` (of `length` bytes, uploaded as `id`) is available.
    event InputAvailable(bytes32 indexed commitment, uint256 indexed id, uint32 length);

    /*//////////////////////////////////////////////////////////////
                                STORAGE
    //////////////////////////////////////////////////////////////*/

    /// @dev An upload in progress.
    struct Upload {
        /// The account that opened it; zero once complete (or never opened).
        address uploader;
        /// Total input length.
        uint32 length;
        /// Offset of the first byte posted so far (`length` before any part).
        uint32 start;
        /// The chain link of the chunk at `start` (zero before any part).
        bytes32 link;
    }

    /// @notice Uploads by id.
    mapping(uint256 id => Upload) public uploads;

    /// @notice The id the next upload gets.
    uint256 public nextUploadId;

    /// @dev Commitments of completed uploads.
    mapping(bytes32 commitment => bool) internal available;

    /*//////////////////////////////////////////////////////////////
                               OPERATIONS
    //////////////////////////////////////////////////////////////*/

    /// @notice Opens an upload of an input of `length` bytes; the caller then posts its parts
    /// from the end backwards with `post`. An empty input completes at once (commitment 0).
    /// @return id The upload id.
    function open(uint32 length) external returns (uint256 id) {
        id = nextUploadId++;
        emit UploadOpened(id, msg.sender, length);
        if (length == 0) {
            emit InputAvailable(bytes32(0), id, 0);
            return id;
        }
        uploads[id] = Upload({uploader: msg.sender, length: length, start: length, link: 0});
    }

    /// @notice Posts the part of upload `id` that ends where the previous part began (the first
    /// part ends at the end of the input). The part must start on a 32-byte chunk boundary.
    /// When the part starts at byte 0 the upload is complete and its commitment available.
    /// @return link The chain link at the part's start (the commitment once complete).
    function post(uint256 id, bytes calldata data) external returns (bytes32 link) {
        Upload storage upload = uploads[id];
        address uploader = upload.uploader;
        if (uploader == address(0)) revert UploadNotOpen(id);
        if (uploader != msg.sender) revert NotUploader(id, msg.sender);
        uint256 end = upload.start;
        if (data.length == 0) revert EmptyPart();
        if (data.length > end) revert PartTooLong(data.length, end);
        uint256 start = end - data.length;
        if (start % C.CHUNK_LEN != 0) revert PartNotChunkAligned(start);
        uint32 length = upload.length;

        link = fold(upload.link, data, start, length);
        emit InputData(id, uint32(start), data);
        if (start == 0) {
            delete uploads[id];
            available[link] = true;
            emit InputAvailable(link, id, length);
        } else {
            upload.start = uint32(start);
            upload.link = link;
        }
    }

    /// @notice Whether the input with `commitment` has been uploaded completely (the empty
    /// input, commitment zero, always has).
    function isAvailable(bytes32 commitment) external view returns (bool) {
        return commitment == 0 || available[commitment];
    }

    /// @notice The commitment of `input` (`input::commitment` in Rust), for inputs that fit in
    /// one call; a convenience for callers and tests.
    function commitmentOf(bytes calldata input) external pure returns (bytes32) {
        return fold(0, input, 0, uint32(input.length));
    }

    /// @dev Folds the chunks of `data` (input bytes `start ..`, `start` chunk-aligned) into the
    /// chain, from the last chunk back to the first, starting from `link` (the link of the
    /// chunk after the part). `length` is the input's total length.
    function fold(bytes32 link, bytes calldata data, uint256 start, uint32 length)
        internal
        pure
        returns (bytes32)
    {
        uint256 chunks = (data.length + C.CHUNK_LEN - 1) / C.CHUNK_LEN;
        for (uint256 i = chunks; i > 0; --i) {
            uint256 at = (i - 1) * C.CHUNK_LEN; // chunk offset within `data`
            uint256 valid = data.length - at; // bytes of this chunk in `data` (> 0)
            bytes32 chunk;
            assembly ("memory-safe") {
                chunk := calldataload(add(data.offset, at))
            }
            if (valid < C.CHUNK_LEN) {
                // The input's partial last chunk: zero the bytes past its end (calldata there
                // belongs to the ABI encoding, not to the input).
                chunk &= bytes32(~(type(uint256).max >> (8 * valid)));
            }
            // r_i: input bytes from this chunk to the end of the input.
            uint32 remaining = length - uint32(start + at);
            link = sha256(abi.encodePacked(remaining, chunk, link));
        }
        return link;
    }
}
