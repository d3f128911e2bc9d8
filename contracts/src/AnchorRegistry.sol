// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title AnchorRegistry
/// @notice Records the anchors of symbiotes on an EVM hostchain: for each symbiote, a strictly
/// increasing sequence of Merkle roots, each covering a range of the symbiote's finalized blocks.
/// @dev This first version accepts anchors from a single submitter fixed at deployment. The
/// threshold-signed relayer set (EIP-712 signatures checked with ecrecover) replaces the single
/// submitter in the EVM hostchain work; the storage layout and event stay the same.
contract AnchorRegistry {
    /// @notice One anchor as stored: what a verifier reads back.
    struct Anchor {
        bytes32 root;
        uint64 fromHeight;
        uint64 toHeight;
        uint64 blockNumber;
    }

    /// @notice The only account allowed to submit anchors.
    address public immutable submitter;

    /// @notice Highest sequence number anchored per symbiote (0: none yet; sequences start at 1).
    mapping(bytes32 symbiote => uint64 sequence) public lastSequence;

    mapping(bytes32 symbiote => mapping(uint64 sequence => Anchor)) private anchors;

    /// @notice Emitted once per accepted anchor; relayers and verifiers index this event.
    event Anchored(
        bytes32 indexed symbiote, uint64 indexed sequence, bytes32 root, uint64 fromHeight, uint64 toHeight
    );

    error NotSubmitter(address caller);
    error SequenceNotIncreasing(bytes32 symbiote, uint64 last, uint64 given);
    error InvalidRange(uint64 fromHeight, uint64 toHeight);
    error ZeroRoot();
    error UnknownAnchor(bytes32 symbiote, uint64 sequence);

    constructor(address submitter_) {
        submitter = submitter_;
    }

    /// @notice Records `root` as anchor number `sequence` of `symbiote`, covering the blocks
    /// `fromHeight..=toHeight`. Sequence numbers may skip but never repeat or go backwards.
    function anchor(bytes32 symbiote, uint64 sequence, bytes32 root, uint64 fromHeight, uint64 toHeight)
        external
    {
        if (msg.sender != submitter) revert NotSubmitter(msg.sender);
        if (root == bytes32(0)) revert ZeroRoot();
        if (toHeight < fromHeight) revert InvalidRange(fromHeight, toHeight);
        uint64 last = lastSequence[symbiote];
        if (sequence <= last) revert SequenceNotIncreasing(symbiote, last, sequence);

        lastSequence[symbiote] = sequence;
        anchors[symbiote][sequence] = Anchor(root, fromHeight, toHeight, uint64(block.number));
        emit Anchored(symbiote, sequence, root, fromHeight, toHeight);
    }

    /// @notice The anchor number `sequence` of `symbiote`; reverts if there is none.
    function anchorOf(bytes32 symbiote, uint64 sequence) external view returns (Anchor memory a) {
        a = anchors[symbiote][sequence];
        if (a.root == bytes32(0)) revert UnknownAnchor(symbiote, sequence);
    }
}
