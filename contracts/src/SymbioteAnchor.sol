// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {RelayerSet} from "./RelayerSet.sol";

/// @title SymbioteAnchor
/// @notice Records the anchors of symbiotes on an EVM hostchain: for each symbiote, a strictly
/// increasing sequence of Merkle roots, each covering a range of the symbiote's finalized blocks
/// that starts after the range of the previous anchor.
/// @dev Anyone may submit an anchor (in practice the relayer that pays the gas); a threshold of
/// the registered relayer set authorizes it with EIP-712 signatures over
/// `Anchor(bytes32 symbiote,uint64 sequence,bytes32 root,uint64 fromHeight,uint64 toHeight)` in
/// the domain ("SymbioteAnchor", "1", chain id, this contract).
contract SymbioteAnchor is RelayerSet {
    /// @notice One anchor as stored: what a verifier reads back.
    struct Anchor {
        bytes32 root;
        uint64 fromHeight;
        uint64 toHeight;
        uint64 blockNumber;
    }

    /// @notice keccak256 of the EIP-712 type of an anchor.
    bytes32 public constant ANCHOR_TYPEHASH =
        keccak256("Anchor(bytes32 symbiote,uint64 sequence,bytes32 root,uint64 fromHeight,uint64 toHeight)");

    /// @dev The latest anchor of a symbiote, packed in one slot.
    struct Head {
        uint64 sequence;
        uint64 toHeight;
    }

    mapping(bytes32 symbiote => Head) private _heads;

    mapping(bytes32 symbiote => mapping(uint64 sequence => Anchor)) private _anchors;

    /// @notice Emitted once per accepted anchor; relayers and verifiers index this event.
    event Anchored(bytes32 indexed symbiote, uint64 indexed sequence, bytes32 root, uint64 fromHeight, uint64 toHeight);

    error ZeroRoot(bytes32 symbiote, uint64 sequence);
    error InvalidRange(uint64 fromHeight, uint64 toHeight);
    error SequenceNotIncreasing(bytes32 symbiote, uint64 last, uint64 given);
    error RangeOverlaps(bytes32 symbiote, uint64 lastToHeight, uint64 fromHeight);
    error UnknownAnchor(bytes32 symbiote, uint64 sequence);

    constructor(address[] memory initialRelayers, uint256 initialThreshold)
        RelayerSet("SymbioteAnchor", initialRelayers, initialThreshold)
    {}

    /// @notice Records `root` as anchor number `sequence` of `symbiote`, covering the blocks
    /// `fromHeight..=toHeight`. Sequence numbers may skip but never repeat or go backwards;
    /// ranges never overlap or go backwards (the first anchor of a symbiote may start anywhere,
    /// including at height 0). `signatures`: a threshold of the current relayers, sorted by
    /// ascending signer address, over `anchorDigest(...)`.
    function anchor(
        bytes32 symbiote,
        uint64 sequence,
        bytes32 root,
        uint64 fromHeight,
        uint64 toHeight,
        bytes[] calldata signatures
    ) external {
        if (root == bytes32(0)) revert ZeroRoot(symbiote, sequence);
        if (toHeight < fromHeight) revert InvalidRange(fromHeight, toHeight);
        Head memory head = _heads[symbiote];
        if (sequence <= head.sequence) revert SequenceNotIncreasing(symbiote, head.sequence, sequence);
        if (head.sequence != 0 && fromHeight <= head.toHeight) {
            revert RangeOverlaps(symbiote, head.toHeight, fromHeight);
        }
        _checkSignatures(anchorDigest(symbiote, sequence, root, fromHeight, toHeight), signatures);

        _heads[symbiote] = Head(sequence, toHeight);
        _anchors[symbiote][sequence] = Anchor(root, fromHeight, toHeight, uint64(block.number));
        emit Anchored(symbiote, sequence, root, fromHeight, toHeight);
    }

    /// @notice Highest sequence number anchored for `symbiote` (0: none yet; sequences start at 1).
    function lastSequence(bytes32 symbiote) external view returns (uint64) {
        return _heads[symbiote].sequence;
    }

    /// @notice Last block height covered by the latest anchor of `symbiote` (0 while
    /// `lastSequence` is 0; the first anchor may start at any height).
    function lastToHeight(bytes32 symbiote) external view returns (uint64) {
        return _heads[symbiote].toHeight;
    }

    /// @notice The anchor number `sequence` of `symbiote`; reverts with UnknownAnchor if there
    /// is none.
    function anchorOf(bytes32 symbiote, uint64 sequence) external view returns (Anchor memory a) {
        a = _anchors[symbiote][sequence];
        if (a.root == bytes32(0)) revert UnknownAnchor(symbiote, sequence);
    }

    /// @notice The EIP-712 digest the relayers sign to authorize an anchor.
    function anchorDigest(bytes32 symbiote, uint64 sequence, bytes32 root, uint64 fromHeight, uint64 toHeight)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(ANCHOR_TYPEHASH, symbiote, sequence, root, fromHeight, toHeight)));
    }
}
