// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AnchorRegistry} from "../src/AnchorRegistry.sol";
import {CheatsTest} from "./utils/Cheats.sol";

contract AnchorRegistryTest is CheatsTest {
    event Anchored(
        bytes32 indexed symbiote, uint64 indexed sequence, bytes32 root, uint64 fromHeight, uint64 toHeight
    );

    AnchorRegistry internal registry;
    address internal constant SUBMITTER = address(0xA11CE);
    bytes32 internal constant SYMBIOTE = keccak256("symbiote-1");
    bytes32 internal constant ROOT = keccak256("root-1");

    function setUp() public {
        registry = new AnchorRegistry(SUBMITTER);
    }

    function test_stores_anchor_and_emits_event() public {
        vm.roll(42);
        vm.expectEmit(true, true, false, true);
        emit Anchored(SYMBIOTE, 1, ROOT, 1, 10);
        vm.prank(SUBMITTER);
        registry.anchor(SYMBIOTE, 1, ROOT, 1, 10);

        AnchorRegistry.Anchor memory a = registry.anchorOf(SYMBIOTE, 1);
        vm.assertEq(a.root, ROOT);
        vm.assertEq(a.fromHeight, 1);
        vm.assertEq(a.toHeight, 10);
        vm.assertEq(a.blockNumber, 42);
        vm.assertEq(registry.lastSequence(SYMBIOTE), 1);
    }

    function test_rejects_other_submitters() public {
        vm.expectRevert(abi.encodeWithSelector(AnchorRegistry.NotSubmitter.selector, address(this)));
        registry.anchor(SYMBIOTE, 1, ROOT, 1, 10);
    }

    function test_sequence_cannot_repeat_or_go_backwards() public {
        vm.prank(SUBMITTER);
        registry.anchor(SYMBIOTE, 5, ROOT, 1, 10);

        vm.prank(SUBMITTER);
        vm.expectRevert(abi.encodeWithSelector(AnchorRegistry.SequenceNotIncreasing.selector, SYMBIOTE, 5, 5));
        registry.anchor(SYMBIOTE, 5, ROOT, 11, 20);

        vm.prank(SUBMITTER);
        vm.expectRevert(abi.encodeWithSelector(AnchorRegistry.SequenceNotIncreasing.selector, SYMBIOTE, 5, 4));
        registry.anchor(SYMBIOTE, 4, ROOT, 11, 20);

        // Another symbiote has its own sequence.
        vm.prank(SUBMITTER);
        registry.anchor(keccak256("symbiote-2"), 1, ROOT, 1, 1);
    }

    function test_rejects_zero_root_and_inverted_range() public {
        vm.prank(SUBMITTER);
        vm.expectRevert(AnchorRegistry.ZeroRoot.selector);
        registry.anchor(SYMBIOTE, 1, bytes32(0), 1, 10);

        vm.prank(SUBMITTER);
        vm.expectRevert(abi.encodeWithSelector(AnchorRegistry.InvalidRange.selector, 10, 9));
        registry.anchor(SYMBIOTE, 1, ROOT, 10, 9);
    }

    function test_unknown_anchor_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(AnchorRegistry.UnknownAnchor.selector, SYMBIOTE, 7));
        registry.anchorOf(SYMBIOTE, 7);
    }
}
