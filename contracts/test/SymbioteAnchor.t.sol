// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {RelayerSet} from "../src/RelayerSet.sol";
import {SymbioteAnchor} from "../src/SymbioteAnchor.sol";
import {RelayerTestBase} from "./utils/RelayerTestBase.sol";

contract SymbioteAnchorTest is RelayerTestBase {
    SymbioteAnchor internal anchorContract;
    uint256[] internal keys; // 5 relayers, sorted by address; threshold 3
    address[] internal relayers;
    uint256 internal constant THRESHOLD = 3;

    bytes32 internal constant SYMBIOTE = keccak256("symbiote-1");
    bytes32 internal constant ROOT = keccak256("root-1");
    address internal constant SUBMITTER = address(0xA11CE);

    function setUp() public {
        keys = makeKeys(1, 5);
        relayers = addressesOf(keys);
        anchorContract = new SymbioteAnchor(relayers, THRESHOLD);
    }

    // ------------------------------------------------------------ helpers

    function sigs(bytes32 symbiote, uint64 sequence, bytes32 root, uint64 fromHeight, uint64 toHeight)
        internal
        view
        returns (bytes[] memory)
    {
        return signFirst(keys, THRESHOLD, anchorContract.anchorDigest(symbiote, sequence, root, fromHeight, toHeight));
    }

    function submit(bytes32 symbiote, uint64 sequence, bytes32 root, uint64 fromHeight, uint64 toHeight) internal {
        bytes[] memory s = sigs(symbiote, sequence, root, fromHeight, toHeight);
        vm.prank(SUBMITTER);
        anchorContract.anchor(symbiote, sequence, root, fromHeight, toHeight, s);
    }

    function rotationSigs(uint256[] memory signerKeys, address[] memory newSet, uint256 newThreshold, uint256 nonce)
        internal
        view
        returns (bytes[] memory)
    {
        return signAll(signerKeys, anchorContract.relayerSetUpdateDigest(newSet, newThreshold, nonce));
    }

    // ------------------------------------------------------------ accepted anchors

    function test_anchor_with_threshold_stores_and_emits() public {
        vm.roll(42);
        bytes[] memory s = sigs(SYMBIOTE, 1, ROOT, 1, 10);
        vm.expectEmit(true, true, false, true, address(anchorContract));
        emit SymbioteAnchor.Anchored(SYMBIOTE, 1, ROOT, 1, 10);
        vm.prank(SUBMITTER); // anyone may submit: the signatures authorize
        anchorContract.anchor(SYMBIOTE, 1, ROOT, 1, 10, s);

        SymbioteAnchor.Anchor memory a = anchorContract.anchorOf(SYMBIOTE, 1);
        vm.assertEq(a.root, ROOT);
        vm.assertEq(a.fromHeight, 1);
        vm.assertEq(a.toHeight, 10);
        vm.assertEq(a.blockNumber, 42);
        vm.assertEq(anchorContract.lastSequence(SYMBIOTE), 1);
        vm.assertEq(anchorContract.lastToHeight(SYMBIOTE), 10);
    }

    function test_anchor_with_all_relayers_accepted() public {
        bytes[] memory s = signAll(keys, anchorContract.anchorDigest(SYMBIOTE, 1, ROOT, 1, 10));
        anchorContract.anchor(SYMBIOTE, 1, ROOT, 1, 10, s);
        vm.assertEq(anchorContract.lastSequence(SYMBIOTE), 1);
    }

    function test_first_anchor_may_start_at_height_zero() public {
        submit(SYMBIOTE, 1, ROOT, 0, 0);
        vm.assertEq(anchorContract.anchorOf(SYMBIOTE, 1).toHeight, 0);
        submit(SYMBIOTE, 2, ROOT, 1, 5);
        vm.assertEq(anchorContract.lastToHeight(SYMBIOTE), 5);
    }

    function test_sequence_may_skip_and_ranges_may_leave_gaps() public {
        submit(SYMBIOTE, 1, ROOT, 1, 10);
        submit(SYMBIOTE, 7, ROOT, 11, 20); // adjacent range, skipped sequence
        submit(SYMBIOTE, 8, ROOT, 30, 30); // gap in heights
        vm.assertEq(anchorContract.lastSequence(SYMBIOTE), 8);
        vm.assertEq(anchorContract.lastToHeight(SYMBIOTE), 30);
    }

    function test_symbiotes_are_independent() public {
        submit(SYMBIOTE, 5, ROOT, 100, 200);
        bytes32 other = keccak256("symbiote-2");
        submit(other, 1, ROOT, 1, 1);
        vm.assertEq(anchorContract.lastSequence(other), 1);
        vm.assertEq(anchorContract.lastSequence(SYMBIOTE), 5);
    }

    // ------------------------------------------------------------ signature rules

    function test_one_signature_short_reverts() public {
        bytes[] memory s = signFirst(keys, THRESHOLD - 1, anchorContract.anchorDigest(SYMBIOTE, 1, ROOT, 1, 10));
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.InsufficientSignatures.selector, 2, 3));
        anchorContract.anchor(SYMBIOTE, 1, ROOT, 1, 10, s);
    }

    function test_no_signature_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.InsufficientSignatures.selector, 0, 3));
        anchorContract.anchor(SYMBIOTE, 1, ROOT, 1, 10, new bytes[](0));
    }

    function test_signature_from_non_relayer_reverts() public {
        uint256[] memory signers = firstKeys(keys, THRESHOLD);
        uint256 outsider = makeKeys(99, 1)[0];
        signers[2] = outsider;
        sortByAddress(signers);
        bytes[] memory s = signAll(signers, anchorContract.anchorDigest(SYMBIOTE, 1, ROOT, 1, 10));
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.NotRelayer.selector, vm.addr(outsider)));
        anchorContract.anchor(SYMBIOTE, 1, ROOT, 1, 10, s);
    }

    function test_duplicate_signer_reverts() public {
        uint256[] memory signers = firstKeys(keys, THRESHOLD);
        signers[2] = signers[1];
        bytes[] memory s = signAll(signers, anchorContract.anchorDigest(SYMBIOTE, 1, ROOT, 1, 10));
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.DuplicateSigner.selector, relayers[1]));
        anchorContract.anchor(SYMBIOTE, 1, ROOT, 1, 10, s);
    }

    function test_unsorted_signers_revert() public {
        uint256[] memory signers = firstKeys(keys, THRESHOLD);
        (signers[0], signers[1]) = (signers[1], signers[0]);
        bytes[] memory s = signAll(signers, anchorContract.anchorDigest(SYMBIOTE, 1, ROOT, 1, 10));
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.SignersNotSorted.selector, relayers[1], relayers[0]));
        anchorContract.anchor(SYMBIOTE, 1, ROOT, 1, 10, s);
    }

    function test_malleable_signature_reverts() public {
        bytes[] memory s = sigs(SYMBIOTE, 1, ROOT, 1, 10);
        bytes memory twin = malleate(s[1]);
        bytes32 highS;
        assembly {
            highS := mload(add(twin, 64))
        }
        s[1] = twin;
        vm.expectRevert(abi.encodeWithSelector(ECDSA.ECDSAInvalidSignatureS.selector, highS));
        anchorContract.anchor(SYMBIOTE, 1, ROOT, 1, 10, s);
    }

    function test_malformed_signature_length_reverts() public {
        bytes[] memory s = sigs(SYMBIOTE, 1, ROOT, 1, 10);
        s[0] = bytes.concat(s[0], hex"00");
        vm.expectRevert(abi.encodeWithSelector(ECDSA.ECDSAInvalidSignatureLength.selector, 66));
        anchorContract.anchor(SYMBIOTE, 1, ROOT, 1, 10, s);
    }

    function test_signatures_over_other_fields_revert() public {
        // Signed for one root, submitted with another: the signers recovered are strangers.
        bytes32 digestSigned = anchorContract.anchorDigest(SYMBIOTE, 1, ROOT, 1, 10);
        bytes[] memory s = signFirst(keys, THRESHOLD, digestSigned);
        bytes32 otherRoot = keccak256("root-2");
        address recovered = ECDSA.recover(anchorContract.anchorDigest(SYMBIOTE, 1, otherRoot, 1, 10), s[0]);
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.NotRelayer.selector, recovered));
        anchorContract.anchor(SYMBIOTE, 1, otherRoot, 1, 10, s);
    }

    function test_signature_for_another_chain_reverts() public {
        uint256 original = block.chainid;
        vm.chainId(original + 1);
        bytes[] memory s = sigs(SYMBIOTE, 1, ROOT, 1, 10); // digest of the other chain
        vm.chainId(original);
        address recovered = ECDSA.recover(anchorContract.anchorDigest(SYMBIOTE, 1, ROOT, 1, 10), s[0]);
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.NotRelayer.selector, recovered));
        anchorContract.anchor(SYMBIOTE, 1, ROOT, 1, 10, s);

        // The same signatures are valid where they were made.
        vm.chainId(original + 1);
        anchorContract.anchor(SYMBIOTE, 1, ROOT, 1, 10, s);
    }

    function test_signature_for_another_contract_reverts() public {
        SymbioteAnchor twin = new SymbioteAnchor(relayers, THRESHOLD);
        bytes[] memory s = signFirst(keys, THRESHOLD, twin.anchorDigest(SYMBIOTE, 1, ROOT, 1, 10));
        twin.anchor(SYMBIOTE, 1, ROOT, 1, 10, s);

        address recovered = ECDSA.recover(anchorContract.anchorDigest(SYMBIOTE, 1, ROOT, 1, 10), s[0]);
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.NotRelayer.selector, recovered));
        anchorContract.anchor(SYMBIOTE, 1, ROOT, 1, 10, s);
    }

    // ------------------------------------------------------------ anchor rules

    function test_sequence_repeat_reverts() public {
        submit(SYMBIOTE, 5, ROOT, 1, 10);
        bytes[] memory s = sigs(SYMBIOTE, 5, ROOT, 11, 20);
        vm.expectRevert(abi.encodeWithSelector(SymbioteAnchor.SequenceNotIncreasing.selector, SYMBIOTE, 5, 5));
        anchorContract.anchor(SYMBIOTE, 5, ROOT, 11, 20, s);
    }

    function test_sequence_backwards_reverts() public {
        submit(SYMBIOTE, 5, ROOT, 1, 10);
        bytes[] memory s = sigs(SYMBIOTE, 4, ROOT, 11, 20);
        vm.expectRevert(abi.encodeWithSelector(SymbioteAnchor.SequenceNotIncreasing.selector, SYMBIOTE, 5, 4));
        anchorContract.anchor(SYMBIOTE, 4, ROOT, 11, 20, s);
    }

    function test_sequence_zero_reverts() public {
        bytes[] memory s = sigs(SYMBIOTE, 0, ROOT, 1, 10);
        vm.expectRevert(abi.encodeWithSelector(SymbioteAnchor.SequenceNotIncreasing.selector, SYMBIOTE, 0, 0));
        anchorContract.anchor(SYMBIOTE, 0, ROOT, 1, 10, s);
    }

    function test_overlapping_range_reverts() public {
        submit(SYMBIOTE, 1, ROOT, 1, 10);
        bytes[] memory s = sigs(SYMBIOTE, 2, ROOT, 10, 20); // shares block 10
        vm.expectRevert(abi.encodeWithSelector(SymbioteAnchor.RangeOverlaps.selector, SYMBIOTE, 10, 10));
        anchorContract.anchor(SYMBIOTE, 2, ROOT, 10, 20, s);
    }

    function test_range_going_backwards_reverts() public {
        submit(SYMBIOTE, 1, ROOT, 100, 200);
        bytes[] memory s = sigs(SYMBIOTE, 2, ROOT, 1, 50);
        vm.expectRevert(abi.encodeWithSelector(SymbioteAnchor.RangeOverlaps.selector, SYMBIOTE, 200, 1));
        anchorContract.anchor(SYMBIOTE, 2, ROOT, 1, 50, s);
    }

    function test_inverted_range_reverts() public {
        bytes[] memory s = sigs(SYMBIOTE, 1, ROOT, 10, 9);
        vm.expectRevert(abi.encodeWithSelector(SymbioteAnchor.InvalidRange.selector, 10, 9));
        anchorContract.anchor(SYMBIOTE, 1, ROOT, 10, 9, s);
    }

    function test_zero_root_reverts() public {
        bytes[] memory s = sigs(SYMBIOTE, 1, bytes32(0), 1, 10);
        vm.expectRevert(abi.encodeWithSelector(SymbioteAnchor.ZeroRoot.selector, SYMBIOTE, 1));
        anchorContract.anchor(SYMBIOTE, 1, bytes32(0), 1, 10, s);
    }

    function test_unknown_anchor_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(SymbioteAnchor.UnknownAnchor.selector, SYMBIOTE, 7));
        anchorContract.anchorOf(SYMBIOTE, 7);
    }

    // ------------------------------------------------------------ EIP-712 encoding

    function test_typehashes_are_canonical() public view {
        vm.assertEq(
            anchorContract.ANCHOR_TYPEHASH(),
            vm.eip712HashType("Anchor(bytes32 symbiote,uint64 sequence,bytes32 root,uint64 fromHeight,uint64 toHeight)")
        );
        vm.assertEq(
            anchorContract.RELAYER_SET_UPDATE_TYPEHASH(),
            vm.eip712HashType("RelayerSetUpdate(address[] relayers,uint256 threshold,uint256 nonce)")
        );
    }

    function test_constants_and_domain() public view {
        vm.assertEq(
            anchorContract.ANCHOR_TYPEHASH(),
            keccak256("Anchor(bytes32 symbiote,uint64 sequence,bytes32 root,uint64 fromHeight,uint64 toHeight)")
        );
        vm.assertEq(
            anchorContract.RELAYER_SET_UPDATE_TYPEHASH(),
            keccak256("RelayerSetUpdate(address[] relayers,uint256 threshold,uint256 nonce)")
        );
        (, string memory name, string memory version, uint256 chainId, address verifyingContract,,) =
            anchorContract.eip712Domain();
        vm.assertEq(name, "SymbioteAnchor");
        vm.assertEq(version, "1");
        vm.assertEq(chainId, block.chainid);
        vm.assertEq(verifyingContract, address(anchorContract));
        vm.assertEq(
            anchorContract.DOMAIN_SEPARATOR(),
            keccak256(
                abi.encode(
                    keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                    keccak256("SymbioteAnchor"),
                    keccak256("1"),
                    block.chainid,
                    address(anchorContract)
                )
            )
        );
    }

    /// The contract's digest equals the one of an independent EIP-712 implementation (forge's,
    /// from alloy, as the Rust side uses) fed with eth_signTypedData_v4 JSON.
    function test_anchor_digest_matches_typed_data_json() public view {
        bytes32 symbiote = 0x1111111111111111111111111111111111111111111111111111111111111111;
        bytes32 root = 0xabcdef0000000000000000000000000000000000000000000000000000000001;
        string memory json = string.concat(
            '{"types":{',
            DOMAIN_TYPE_JSON,
            ',"Anchor":[{"name":"symbiote","type":"bytes32"},{"name":"sequence","type":"uint64"},',
            '{"name":"root","type":"bytes32"},{"name":"fromHeight","type":"uint64"},{"name":"toHeight","type":"uint64"}]},',
            '"primaryType":"Anchor",',
            domainJson("SymbioteAnchor", address(anchorContract)),
            ',"message":{"symbiote":"',
            vm.toString(symbiote),
            '","sequence":7,"root":"',
            vm.toString(root),
            '","fromHeight":100,"toHeight":18446744073709551615}}'
        );
        vm.assertEq(anchorContract.anchorDigest(symbiote, 7, root, 100, type(uint64).max), vm.eip712HashTypedData(json));
    }

    function test_rotation_digest_matches_typed_data_json() public view {
        string memory json = string.concat(
            '{"types":{',
            DOMAIN_TYPE_JSON,
            ',"RelayerSetUpdate":[{"name":"relayers","type":"address[]"},{"name":"threshold","type":"uint256"},',
            '{"name":"nonce","type":"uint256"}]},',
            '"primaryType":"RelayerSetUpdate",',
            domainJson("SymbioteAnchor", address(anchorContract)),
            ',"message":{"relayers":["',
            vm.toString(relayers[0]),
            '","',
            vm.toString(relayers[1]),
            '","',
            vm.toString(relayers[2]),
            '"],"threshold":2,"nonce":0}}'
        );
        address[] memory set = new address[](3);
        (set[0], set[1], set[2]) = (relayers[0], relayers[1], relayers[2]);
        vm.assertEq(anchorContract.relayerSetUpdateDigest(set, 2, 0), vm.eip712HashTypedData(json));
    }

    // ------------------------------------------------------------ relayer-set rotation

    function test_constructor_registers_the_set() public view {
        address[] memory registered = anchorContract.relayers();
        vm.assertEq(registered.length, 5);
        for (uint256 i = 0; i < 5; ++i) {
            vm.assertEq(registered[i], relayers[i]);
            vm.assertTrue(anchorContract.isRelayer(relayers[i]));
        }
        vm.assertFalse(anchorContract.isRelayer(address(this)));
        vm.assertEq(anchorContract.threshold(), 3);
        vm.assertEq(anchorContract.relayerSetNonce(), 0);
    }

    function test_rotation_old_set_refused_new_set_accepted() public {
        uint256[] memory newKeys = makeKeys(2, 4);
        address[] memory newSet = addressesOf(newKeys);
        bytes[] memory s = rotationSigs(firstKeys(keys, THRESHOLD), newSet, 2, 0);
        vm.expectEmit(false, false, false, true, address(anchorContract));
        emit RelayerSet.RelayerSetUpdated(1, newSet, 2);
        vm.prank(SUBMITTER);
        anchorContract.updateRelayers(newSet, 2, 0, s);

        vm.assertEq(anchorContract.relayerSetNonce(), 1);
        vm.assertEq(anchorContract.threshold(), 2);
        vm.assertEq(anchorContract.relayers().length, 4);
        vm.assertFalse(anchorContract.isRelayer(relayers[0]));
        vm.assertTrue(anchorContract.isRelayer(newSet[0]));

        // The old set's threshold no longer counts...
        bytes32 digest = anchorContract.anchorDigest(SYMBIOTE, 1, ROOT, 1, 10);
        bytes[] memory old = signFirst(keys, THRESHOLD, digest);
        // (3 signatures for a threshold of 2: the first old signer is the one refused)
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.NotRelayer.selector, relayers[0]));
        anchorContract.anchor(SYMBIOTE, 1, ROOT, 1, 10, old);

        // ...the new set's does.
        anchorContract.anchor(SYMBIOTE, 1, ROOT, 1, 10, signFirst(newKeys, 2, digest));
        vm.assertEq(anchorContract.lastSequence(SYMBIOTE), 1);
    }

    function test_rotation_keeps_members_that_stay() public {
        // Relayers 0..2 stay, 3 and 4 leave, one joins.
        uint256[] memory next = new uint256[](4);
        (next[0], next[1], next[2], next[3]) = (keys[0], keys[1], keys[2], makeKeys(3, 1)[0]);
        sortByAddress(next);
        address[] memory newSet = addressesOf(next);
        anchorContract.updateRelayers(newSet, 3, 0, rotationSigs(firstKeys(keys, THRESHOLD), newSet, 3, 0));
        vm.assertTrue(anchorContract.isRelayer(relayers[0]));
        vm.assertFalse(anchorContract.isRelayer(relayers[4]));
        anchorContract.anchor(
            SYMBIOTE, 1, ROOT, 1, 10, signFirst(next, 3, anchorContract.anchorDigest(SYMBIOTE, 1, ROOT, 1, 10))
        );
    }

    function test_rotation_without_threshold_refused() public {
        address[] memory newSet = addressesOf(makeKeys(2, 3));
        bytes[] memory s = rotationSigs(firstKeys(keys, THRESHOLD - 1), newSet, 2, 0);
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.InsufficientSignatures.selector, 2, 3));
        anchorContract.updateRelayers(newSet, 2, 0, s);
        vm.assertEq(anchorContract.relayerSetNonce(), 0);
    }

    function test_rotation_signed_by_the_new_set_refused() public {
        uint256[] memory newKeys = makeKeys(2, 3);
        address[] memory newSet = addressesOf(newKeys);
        bytes[] memory s = rotationSigs(newKeys, newSet, 2, 0);
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.NotRelayer.selector, newSet[0]));
        anchorContract.updateRelayers(newSet, 2, 0, s);
    }

    function test_rotation_replayed_nonce_refused() public {
        address[] memory setA = addressesOf(makeKeys(2, 3));
        bytes[] memory s = rotationSigs(firstKeys(keys, THRESHOLD), setA, 2, 0);
        anchorContract.updateRelayers(setA, 2, 0, s);

        // Replaying the very same rotation (same signatures, nonce 0) is refused.
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.WrongRelayerSetNonce.selector, 1, 0));
        anchorContract.updateRelayers(setA, 2, 0, s);
    }

    function test_rotation_with_future_nonce_refused() public {
        address[] memory newSet = addressesOf(makeKeys(2, 3));
        bytes[] memory s = rotationSigs(firstKeys(keys, THRESHOLD), newSet, 2, 1);
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.WrongRelayerSetNonce.selector, 0, 1));
        anchorContract.updateRelayers(newSet, 2, 1, s);
    }

    function test_rotation_signatures_bound_to_the_proposed_set() public {
        address[] memory newSet = addressesOf(makeKeys(2, 3));
        bytes[] memory s = rotationSigs(firstKeys(keys, THRESHOLD), newSet, 2, 0);
        // Same signatures, threshold changed by the submitter: refused.
        address recovered = ECDSA.recover(anchorContract.relayerSetUpdateDigest(newSet, 1, 0), s[0]);
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.NotRelayer.selector, recovered));
        anchorContract.updateRelayers(newSet, 1, 0, s);
    }

    function test_rotation_rejects_invalid_sets() public {
        address[] memory two = addressesOf(makeKeys(2, 2));
        expectRotationRevert(new address[](0), 1, abi.encodeWithSelector(RelayerSet.EmptyRelayerSet.selector));
        expectRotationRevert(two, 0, abi.encodeWithSelector(RelayerSet.InvalidThreshold.selector, 0, 2));
        expectRotationRevert(two, 3, abi.encodeWithSelector(RelayerSet.InvalidThreshold.selector, 3, 2));

        address[] memory withZero = new address[](2);
        withZero[0] = two[0];
        expectRotationRevert(withZero, 1, abi.encodeWithSelector(RelayerSet.InvalidRelayer.selector, address(0)));

        address[] memory dup = new address[](3);
        (dup[0], dup[1], dup[2]) = (two[0], two[1], two[0]);
        expectRotationRevert(dup, 2, abi.encodeWithSelector(RelayerSet.DuplicateRelayer.selector, two[0]));

        address[] memory tooMany = addressesOf(makeKeys(4, 65));
        expectRotationRevert(tooMany, 1, abi.encodeWithSelector(RelayerSet.TooManyRelayers.selector, 65, 64));

        vm.assertEq(anchorContract.relayerSetNonce(), 0);
    }

    /// A rotation to `newSet` correctly signed by the current set, expected to revert with `err`.
    function expectRotationRevert(address[] memory newSet, uint256 newThreshold, bytes memory err) internal {
        bytes[] memory s = rotationSigs(firstKeys(keys, THRESHOLD), newSet, newThreshold, 0);
        vm.expectRevert(err);
        anchorContract.updateRelayers(newSet, newThreshold, 0, s);
    }

    function test_constructor_rejects_invalid_sets() public {
        vm.expectRevert(RelayerSet.EmptyRelayerSet.selector);
        new SymbioteAnchor(new address[](0), 1);
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.InvalidThreshold.selector, 6, 5));
        new SymbioteAnchor(relayers, 6);
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.InvalidThreshold.selector, 0, 5));
        new SymbioteAnchor(relayers, 0);
    }
}
