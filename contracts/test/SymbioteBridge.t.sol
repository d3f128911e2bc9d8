// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {RelayerSet} from "../src/RelayerSet.sol";
import {SymbioteBridge} from "../src/SymbioteBridge.sol";
import {PlainToken} from "../src/scout/PlainToken.sol";
import {RelayerTestBase} from "./utils/RelayerTestBase.sol";

/// An ERC-20 that keeps 1% of every transfer (fee-on-transfer).
contract FeeToken is ERC20 {
    constructor() ERC20("Fee", "FEE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0)) return super._update(from, to, value);
        uint256 fee = value / 100;
        super._update(from, address(0), fee);
        super._update(from, to, value - fee);
    }
}

/// A token whose transferFrom succeeds without moving anything.
contract NoopToken {
    function transferFrom(address, address, uint256) external pure returns (bool) {
        return true;
    }

    function balanceOf(address) external pure returns (uint256) {
        return 0;
    }
}

/// A contract that refuses ETH.
contract Rejecter {}

/// A release recipient that tries to re-enter the bridge when it is paid.
contract Reenterer {
    SymbioteBridge internal bridge;
    uint256 internal nonce;
    bytes[] internal signatures;
    bytes public innerError;
    bool public attempted;

    constructor(SymbioteBridge bridge_) {
        bridge = bridge_;
    }

    function arm(uint256 nonce_, bytes[] memory signatures_) external {
        nonce = nonce_;
        signatures = signatures_;
    }

    receive() external payable {
        if (attempted) return;
        attempted = true;
        try bridge.release(nonce, address(0), payable(address(this)), 1 ether, signatures) {}
        catch (bytes memory err) {
            innerError = err;
        }
    }
}

contract SymbioteBridgeTest is RelayerTestBase {
    SymbioteBridge internal bridge;
    PlainToken internal token;
    uint256[] internal keys; // 3 relayers sorted by address, threshold 2
    address[] internal relayers;
    uint256 internal constant THRESHOLD = 2;

    address internal constant NATIVE = address(0);
    address internal constant USER = address(0x05E4);
    address payable internal constant ALICE = payable(address(0xA11CE));
    bytes32 internal constant RECIPIENT = keccak256("ed25519 public key of a symbiote account");
    /// A timestamp half-way through an hour (hour number 500000).
    uint256 internal constant T0 = 500_000 * 3600 + 1800;

    function setUp() public {
        vm.warp(T0);
        keys = makeKeys(7, 3);
        relayers = addressesOf(keys);
        bridge = new SymbioteBridge(relayers, THRESHOLD);
        token = new PlainToken("Plain", "PLN");
        vm.deal(address(bridge), 1000 ether);
        token.mint(address(bridge), 1000 ether);
        vm.deal(USER, 100 ether);
        token.mint(USER, 100 ether);
    }

    // ------------------------------------------------------------ helpers

    function releaseSigs(uint256 nonce, address tok, address recipient, uint256 amount)
        internal
        view
        returns (bytes[] memory)
    {
        return signFirst(keys, THRESHOLD, bridge.releaseDigest(nonce, tok, recipient, amount));
    }

    function doRelease(uint256 nonce, address tok, address payable recipient, uint256 amount) internal {
        bytes[] memory s = releaseSigs(nonce, tok, recipient, amount);
        bridge.release(nonce, tok, recipient, amount, s);
    }

    function setLimit(address tok, uint256 cap, uint256 large, uint256 delay) internal {
        uint256 n = bridge.adminNonce();
        bytes[] memory s = signFirst(keys, THRESHOLD, bridge.setLimitDigest(tok, cap, large, delay, n));
        bridge.setLimit(tok, cap, large, delay, n, s);
    }

    function setPaused(bool p) internal {
        uint256 n = bridge.adminNonce();
        bytes[] memory s = signFirst(keys, THRESHOLD, bridge.setPausedDigest(p, n));
        bridge.setPaused(p, n, s);
    }

    // ------------------------------------------------------------ deposits

    function test_native_and_token_deposits_get_sequential_nonces() public {
        vm.startPrank(USER);
        vm.expectEmit(true, true, true, true, address(bridge));
        emit SymbioteBridge.Deposited(1, NATIVE, USER, 1 ether, RECIPIENT);
        bridge.depositNative{value: 1 ether}(RECIPIENT);

        token.approve(address(bridge), 5 ether);
        vm.expectEmit(true, true, true, true, address(bridge));
        emit SymbioteBridge.Deposited(2, address(token), USER, 5 ether, RECIPIENT);
        bridge.depositToken(address(token), 5 ether, RECIPIENT);

        vm.expectEmit(true, true, true, true, address(bridge));
        emit SymbioteBridge.Deposited(3, NATIVE, USER, 2 ether, bytes32(uint256(1)));
        bridge.depositNative{value: 2 ether}(bytes32(uint256(1)));
        vm.stopPrank();

        vm.assertEq(bridge.depositNonce(), 3);
        vm.assertEq(address(bridge).balance, 1003 ether);
        vm.assertEq(token.balanceOf(address(bridge)), 1005 ether);
        vm.assertEq(token.balanceOf(USER), 95 ether);
    }

    function test_fee_on_transfer_deposit_records_amount_received() public {
        FeeToken fee = new FeeToken();
        fee.mint(USER, 1000);
        vm.startPrank(USER);
        fee.approve(address(bridge), 1000);
        vm.expectEmit(true, true, true, true, address(bridge));
        emit SymbioteBridge.Deposited(1, address(fee), USER, 990, RECIPIENT);
        bridge.depositToken(address(fee), 1000, RECIPIENT);
        vm.stopPrank();
        vm.assertEq(fee.balanceOf(address(bridge)), 990);
    }

    function test_zero_native_deposit_reverts() public {
        vm.prank(USER);
        vm.expectRevert(SymbioteBridge.ZeroAmount.selector);
        bridge.depositNative{value: 0}(RECIPIENT);
    }

    function test_zero_token_deposit_reverts() public {
        vm.startPrank(USER);
        token.approve(address(bridge), 1 ether);
        vm.expectRevert(SymbioteBridge.ZeroAmount.selector);
        bridge.depositToken(address(token), 0, RECIPIENT);
        vm.stopPrank();
    }

    function test_deposit_that_moves_nothing_reverts() public {
        // transferFrom says yes but the bridge's balance does not change: nothing is credited.
        NoopToken noop = new NoopToken();
        vm.prank(USER);
        vm.expectRevert(SymbioteBridge.ZeroAmount.selector);
        bridge.depositToken(address(noop), 1 ether, RECIPIENT);
        vm.assertEq(bridge.depositNonce(), 0);
    }

    function test_deposit_to_zero_recipient_reverts() public {
        vm.startPrank(USER);
        vm.expectRevert(SymbioteBridge.ZeroRecipient.selector);
        bridge.depositNative{value: 1 ether}(bytes32(0));
        token.approve(address(bridge), 1 ether);
        vm.expectRevert(SymbioteBridge.ZeroRecipient.selector);
        bridge.depositToken(address(token), 1 ether, bytes32(0));
        vm.stopPrank();
    }

    function test_deposit_token_zero_address_reverts() public {
        vm.prank(USER);
        vm.expectRevert(abi.encodeWithSelector(SymbioteBridge.InvalidToken.selector, address(0)));
        bridge.depositToken(address(0), 1 ether, RECIPIENT);
    }

    function test_deposit_token_without_allowance_reverts() public {
        vm.prank(USER);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(bridge), 0, 1 ether)
        );
        bridge.depositToken(address(token), 1 ether, RECIPIENT);
    }

    function test_plain_ether_transfer_is_refused() public {
        vm.prank(USER);
        (bool ok,) = address(bridge).call{value: 1 ether}("");
        vm.assertFalse(ok);
    }

    // ------------------------------------------------------------ releases

    function test_release_native_with_threshold_pays() public {
        bytes[] memory s = releaseSigs(1, NATIVE, ALICE, 3 ether);
        vm.expectEmit(true, true, true, true, address(bridge));
        emit SymbioteBridge.Released(1, NATIVE, ALICE, 3 ether);
        vm.prank(USER); // anyone may submit
        bridge.release(1, NATIVE, ALICE, 3 ether, s);

        vm.assertEq(ALICE.balance, 3 ether);
        vm.assertEq(address(bridge).balance, 997 ether);
        vm.assertTrue(bridge.isReleased(1));
        vm.assertFalse(bridge.isReleased(2));
        vm.assertTrue(bridge.releaseStatus(1) == SymbioteBridge.ReleaseStatus.Released);
        vm.assertEq(bridge.releasedInWindow(NATIVE), 3 ether);
    }

    function test_release_token_with_threshold_pays() public {
        bytes[] memory s = releaseSigs(9, address(token), ALICE, 7 ether);
        vm.expectEmit(true, true, true, true, address(bridge));
        emit SymbioteBridge.Released(9, address(token), ALICE, 7 ether);
        bridge.release(9, address(token), ALICE, 7 ether, s);
        vm.assertEq(token.balanceOf(ALICE), 7 ether);
        vm.assertEq(token.balanceOf(address(bridge)), 993 ether);
        vm.assertEq(bridge.releasedInWindow(address(token)), 7 ether);
        vm.assertEq(bridge.releasedInWindow(NATIVE), 0);
    }

    function test_release_replayed_nonce_refused() public {
        bytes[] memory s = releaseSigs(1, NATIVE, ALICE, 3 ether);
        bridge.release(1, NATIVE, ALICE, 3 ether, s);
        vm.expectRevert(
            abi.encodeWithSelector(SymbioteBridge.NonceAlreadyUsed.selector, 1, SymbioteBridge.ReleaseStatus.Released)
        );
        bridge.release(1, NATIVE, ALICE, 3 ether, s);

        // Another payload under the same nonce is refused too.
        bytes[] memory s2 = releaseSigs(1, address(token), ALICE, 1 ether);
        vm.expectRevert(
            abi.encodeWithSelector(SymbioteBridge.NonceAlreadyUsed.selector, 1, SymbioteBridge.ReleaseStatus.Released)
        );
        bridge.release(1, address(token), ALICE, 1 ether, s2);
        vm.assertEq(ALICE.balance, 3 ether);
    }

    function test_release_one_signature_short_refused() public {
        bytes[] memory s = signFirst(keys, 1, bridge.releaseDigest(1, NATIVE, ALICE, 3 ether));
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.InsufficientSignatures.selector, 1, 2));
        bridge.release(1, NATIVE, ALICE, 3 ether, s);
    }

    function test_release_signed_by_non_relayers_refused() public {
        uint256[] memory strangers = makeKeys(8, 2);
        bytes[] memory s = signAll(strangers, bridge.releaseDigest(1, NATIVE, ALICE, 3 ether));
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.NotRelayer.selector, vm.addr(strangers[0])));
        bridge.release(1, NATIVE, ALICE, 3 ether, s);
    }

    function test_release_with_altered_amount_refused() public {
        bytes[] memory s = releaseSigs(1, NATIVE, ALICE, 3 ether);
        address recovered = ECDSA.recover(bridge.releaseDigest(1, NATIVE, ALICE, 30 ether), s[0]);
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.NotRelayer.selector, recovered));
        bridge.release(1, NATIVE, ALICE, 30 ether, s);
    }

    function test_release_with_altered_recipient_refused() public {
        bytes[] memory s = releaseSigs(1, NATIVE, ALICE, 3 ether);
        address payable mallory = payable(address(0xBAD));
        address recovered = ECDSA.recover(bridge.releaseDigest(1, NATIVE, mallory, 3 ether), s[0]);
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.NotRelayer.selector, recovered));
        bridge.release(1, NATIVE, mallory, 3 ether, s);
    }

    function test_release_signed_for_another_bridge_refused() public {
        SymbioteBridge other = new SymbioteBridge(relayers, THRESHOLD);
        bytes[] memory s = signFirst(keys, THRESHOLD, other.releaseDigest(1, NATIVE, ALICE, 3 ether));
        address recovered = ECDSA.recover(bridge.releaseDigest(1, NATIVE, ALICE, 3 ether), s[0]);
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.NotRelayer.selector, recovered));
        bridge.release(1, NATIVE, ALICE, 3 ether, s);
    }

    function test_release_signed_for_another_chain_refused() public {
        uint256 original = block.chainid;
        vm.chainId(original + 1);
        bytes[] memory s = releaseSigs(1, NATIVE, ALICE, 3 ether);
        vm.chainId(original);
        address recovered = ECDSA.recover(bridge.releaseDigest(1, NATIVE, ALICE, 3 ether), s[0]);
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.NotRelayer.selector, recovered));
        bridge.release(1, NATIVE, ALICE, 3 ether, s);
    }

    function test_release_zero_amount_or_zero_recipient_reverts() public {
        bytes[] memory s = releaseSigs(1, NATIVE, ALICE, 0);
        vm.expectRevert(SymbioteBridge.ZeroAmount.selector);
        bridge.release(1, NATIVE, ALICE, 0, s);
        s = releaseSigs(1, NATIVE, address(0), 1 ether);
        vm.expectRevert(abi.encodeWithSelector(SymbioteBridge.InvalidRecipient.selector, address(0)));
        bridge.release(1, NATIVE, payable(address(0)), 1 ether, s);
    }

    function test_failed_native_payment_reverts_and_leaves_nonce_unused() public {
        address payable rejecter = payable(address(new Rejecter()));
        bytes[] memory s = releaseSigs(1, NATIVE, rejecter, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(SymbioteBridge.NativeTransferFailed.selector, rejecter, 1 ether));
        bridge.release(1, NATIVE, rejecter, 1 ether, s);
        vm.assertFalse(bridge.isReleased(1));
        vm.assertEq(bridge.releasedInWindow(NATIVE), 0);
    }

    function test_release_more_than_the_bridge_holds_reverts() public {
        bytes[] memory s = releaseSigs(1, address(token), ALICE, 2000 ether);
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientBalance.selector, address(bridge), 1000 ether, 2000 ether
            )
        );
        bridge.release(1, address(token), ALICE, 2000 ether, s);
        vm.assertFalse(bridge.isReleased(1));
    }

    function test_reentrant_release_is_blocked() public {
        Reenterer r = new Reenterer(bridge);
        address payable target = payable(address(r));
        r.arm(2, releaseSigs(2, NATIVE, target, 1 ether));
        doRelease(1, NATIVE, target, 1 ether);
        vm.assertTrue(r.attempted());
        vm.assertEq(r.innerError(), abi.encodeWithSelector(ReentrancyGuard.ReentrancyGuardReentrantCall.selector));
        vm.assertFalse(bridge.isReleased(2));
        vm.assertEq(target.balance, 1 ether);
    }

    // ------------------------------------------------------------ limits

    function test_daily_cap_exceeded_is_queued_then_executable_after_delay() public {
        setLimit(NATIVE, 10 ether, 0, 1 hours);
        doRelease(1, NATIVE, ALICE, 6 ether);
        vm.assertEq(ALICE.balance, 6 ether);

        bytes[] memory s = releaseSigs(2, NATIVE, ALICE, 5 ether);
        vm.expectEmit(true, false, false, true, address(bridge));
        emit SymbioteBridge.Queued(2, NATIVE, ALICE, 5 ether, T0 + 1 hours);
        bridge.release(2, NATIVE, ALICE, 5 ether, s);

        // Queued, not paid, not dropped; the nonce is consumed.
        vm.assertEq(ALICE.balance, 6 ether);
        vm.assertTrue(bridge.isReleased(2));
        vm.assertTrue(bridge.releaseStatus(2) == SymbioteBridge.ReleaseStatus.Queued);
        SymbioteBridge.QueuedRelease memory q = bridge.queuedRelease(2);
        vm.assertEq(q.token, NATIVE);
        vm.assertEq(q.recipient, ALICE);
        vm.assertEq(q.amount, 5 ether);
        vm.assertEq(q.releaseAfter, T0 + 1 hours);
        vm.assertEq(bridge.releasedInWindow(NATIVE), 6 ether);

        // Too early.
        vm.warp(T0 + 1 hours - 1);
        vm.expectRevert(
            abi.encodeWithSelector(SymbioteBridge.QueuedReleaseNotReady.selector, 2, T0 + 1 hours, T0 + 1 hours - 1)
        );
        bridge.executeQueued(2);

        // On time: anyone executes it, without signatures.
        vm.warp(T0 + 1 hours);
        vm.expectEmit(true, true, true, true, address(bridge));
        emit SymbioteBridge.Released(2, NATIVE, ALICE, 5 ether);
        vm.prank(USER);
        bridge.executeQueued(2);
        vm.assertEq(ALICE.balance, 11 ether);
        vm.assertTrue(bridge.releaseStatus(2) == SymbioteBridge.ReleaseStatus.Released);
        vm.assertEq(bridge.queuedRelease(2).amount, 0);
        vm.assertEq(bridge.releasedInWindow(NATIVE), 11 ether);
    }

    function test_release_up_to_the_cap_is_paid_one_more_wei_is_queued() public {
        setLimit(address(token), 10 ether, 0, 1 days);
        doRelease(1, address(token), ALICE, 4 ether);
        doRelease(2, address(token), ALICE, 6 ether); // exactly at the cap
        vm.assertEq(token.balanceOf(ALICE), 10 ether);
        doRelease(3, address(token), ALICE, 1);
        vm.assertTrue(bridge.releaseStatus(3) == SymbioteBridge.ReleaseStatus.Queued);
        vm.assertEq(token.balanceOf(ALICE), 10 ether);
    }

    function test_release_larger_than_any_cap_is_queued_not_reverted() public {
        setLimit(address(token), 10 ether, 0, 1 hours);
        doRelease(1, address(token), ALICE, 5 ether);
        doRelease(2, address(token), ALICE, type(uint256).max); // no overflow in the cap check
        vm.assertTrue(bridge.releaseStatus(2) == SymbioteBridge.ReleaseStatus.Queued);
    }

    function test_window_rolls_after_24_to_25_hours() public {
        setLimit(NATIVE, 10 ether, 0, 1 hours);
        doRelease(1, NATIVE, ALICE, 10 ether); // at T0, half-way through hour H

        // 24 hours later the amount still counts (it counts for 24 to 25 hours).
        vm.warp(T0 + 24 hours);
        vm.assertEq(bridge.releasedInWindow(NATIVE), 10 ether);
        doRelease(2, NATIVE, ALICE, 1 ether);
        vm.assertTrue(bridge.releaseStatus(2) == SymbioteBridge.ReleaseStatus.Queued);

        // From the start of hour H+25 it no longer does.
        vm.warp(T0 - 1800 + 25 hours);
        vm.assertEq(bridge.releasedInWindow(NATIVE), 0);
        doRelease(3, NATIVE, ALICE, 10 ether);
        vm.assertTrue(bridge.releaseStatus(3) == SymbioteBridge.ReleaseStatus.Released);
        vm.assertEq(ALICE.balance, 20 ether);
    }

    function test_window_sums_releases_across_hours() public {
        setLimit(NATIVE, 10 ether, 0, 1 hours);
        doRelease(1, NATIVE, ALICE, 3 ether);
        vm.warp(T0 + 5 hours);
        doRelease(2, NATIVE, ALICE, 3 ether);
        vm.warp(T0 + 23 hours);
        doRelease(3, NATIVE, ALICE, 3 ether);
        vm.assertEq(bridge.releasedInWindow(NATIVE), 9 ether);
        doRelease(4, NATIVE, ALICE, 2 ether); // 11 > 10
        vm.assertTrue(bridge.releaseStatus(4) == SymbioteBridge.ReleaseStatus.Queued);
        // Hour H leaves the window at the start of H+25; the other two stay.
        vm.warp(T0 - 1800 + 25 hours);
        vm.assertEq(bridge.releasedInWindow(NATIVE), 6 ether);
        doRelease(5, NATIVE, ALICE, 4 ether);
        vm.assertTrue(bridge.releaseStatus(5) == SymbioteBridge.ReleaseStatus.Released);
    }

    function test_ring_buckets_are_reused_after_a_full_turn() public {
        // Hour H and hour H+25 share a ring slot: the old amount must not leak into the new hour.
        doRelease(1, NATIVE, ALICE, 7 ether);
        vm.warp(T0 + 25 hours);
        doRelease(2, NATIVE, ALICE, 1 ether);
        vm.assertEq(bridge.releasedInWindow(NATIVE), 1 ether);
    }

    function test_large_transfer_is_delayed_even_under_the_cap() public {
        setLimit(NATIVE, 0, 50 ether, 2 days); // no cap, large transfers from 50
        doRelease(1, NATIVE, ALICE, 49 ether);
        vm.assertEq(ALICE.balance, 49 ether);

        bytes[] memory s = releaseSigs(2, NATIVE, ALICE, 50 ether);
        vm.expectEmit(true, false, false, true, address(bridge));
        emit SymbioteBridge.Queued(2, NATIVE, ALICE, 50 ether, T0 + 2 days);
        bridge.release(2, NATIVE, ALICE, 50 ether, s);
        vm.assertEq(ALICE.balance, 49 ether);

        vm.warp(T0 + 2 days - 1);
        vm.expectRevert(
            abi.encodeWithSelector(SymbioteBridge.QueuedReleaseNotReady.selector, 2, T0 + 2 days, T0 + 2 days - 1)
        );
        bridge.executeQueued(2);
        vm.warp(T0 + 2 days);
        bridge.executeQueued(2);
        vm.assertEq(ALICE.balance, 99 ether);
    }

    function test_large_transfer_with_cap_room_is_still_delayed() public {
        setLimit(address(token), 1000 ether, 100 ether, 6 hours);
        doRelease(1, address(token), ALICE, 100 ether);
        vm.assertTrue(bridge.releaseStatus(1) == SymbioteBridge.ReleaseStatus.Queued);
        vm.assertEq(bridge.queuedRelease(1).releaseAfter, T0 + 6 hours);
    }

    function test_token_without_limit_has_no_cap_and_no_delay() public {
        doRelease(1, address(token), ALICE, 999 ether);
        vm.assertEq(token.balanceOf(ALICE), 999 ether);
        // A limit on another token does not apply.
        setLimit(NATIVE, 1, 1, 1 days);
        doRelease(2, address(token), ALICE, 1 ether);
        vm.assertEq(token.balanceOf(ALICE), 1000 ether);
    }

    function test_limit_applies_to_the_flow_before_it_was_set() public {
        doRelease(1, NATIVE, ALICE, 8 ether);
        setLimit(NATIVE, 10 ether, 0, 1 hours);
        doRelease(2, NATIVE, ALICE, 3 ether);
        vm.assertTrue(bridge.releaseStatus(2) == SymbioteBridge.ReleaseStatus.Queued);
    }

    function test_removing_a_limit_releases_at_once_again() public {
        setLimit(NATIVE, 1 ether, 0, 1 hours);
        doRelease(1, NATIVE, ALICE, 2 ether);
        vm.assertTrue(bridge.releaseStatus(1) == SymbioteBridge.ReleaseStatus.Queued);
        setLimit(NATIVE, 0, 0, 0);
        doRelease(2, NATIVE, ALICE, 2 ether);
        vm.assertEq(ALICE.balance, 2 ether);
        // The release queued before keeps its delay.
        vm.assertEq(bridge.queuedRelease(1).releaseAfter, T0 + 1 hours);
    }

    function test_queued_nonce_cannot_be_released_twice() public {
        setLimit(NATIVE, 0, 1 ether, 1 hours);
        bytes[] memory s = releaseSigs(1, NATIVE, ALICE, 5 ether);
        bridge.release(1, NATIVE, ALICE, 5 ether, s);
        vm.expectRevert(
            abi.encodeWithSelector(SymbioteBridge.NonceAlreadyUsed.selector, 1, SymbioteBridge.ReleaseStatus.Queued)
        );
        bridge.release(1, NATIVE, ALICE, 5 ether, s);

        vm.warp(T0 + 1 hours);
        bridge.executeQueued(1);
        vm.expectRevert(
            abi.encodeWithSelector(SymbioteBridge.NonceAlreadyUsed.selector, 1, SymbioteBridge.ReleaseStatus.Released)
        );
        bridge.release(1, NATIVE, ALICE, 5 ether, s);
        vm.expectRevert(
            abi.encodeWithSelector(SymbioteBridge.NotQueued.selector, 1, SymbioteBridge.ReleaseStatus.Released)
        );
        bridge.executeQueued(1);
        vm.assertEq(ALICE.balance, 5 ether);
    }

    function test_execute_unknown_nonce_reverts() public {
        vm.expectRevert(
            abi.encodeWithSelector(SymbioteBridge.NotQueued.selector, 42, SymbioteBridge.ReleaseStatus.None)
        );
        bridge.executeQueued(42);
    }

    function test_set_limit_emits_and_is_readable() public {
        bytes[] memory s = signFirst(keys, THRESHOLD, bridge.setLimitDigest(address(token), 5, 3, 60, 0));
        vm.expectEmit(true, false, false, true, address(bridge));
        emit SymbioteBridge.LimitSet(address(token), 5, 3, 60, 0);
        bridge.setLimit(address(token), 5, 3, 60, 0, s);
        SymbioteBridge.Limit memory l = bridge.limitOf(address(token));
        vm.assertEq(l.dailyCap, 5);
        vm.assertEq(l.largeTransferThreshold, 3);
        vm.assertEq(l.delaySeconds, 60);
        vm.assertEq(bridge.adminNonce(), 1);
    }

    function test_set_limit_requires_threshold_and_fresh_nonce() public {
        bytes[] memory one = signFirst(keys, 1, bridge.setLimitDigest(NATIVE, 5, 0, 60, 0));
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.InsufficientSignatures.selector, 1, 2));
        bridge.setLimit(NATIVE, 5, 0, 60, 0, one);

        bytes[] memory s = signFirst(keys, THRESHOLD, bridge.setLimitDigest(NATIVE, 5, 0, 60, 0));
        bridge.setLimit(NATIVE, 5, 0, 60, 0, s);
        vm.expectRevert(abi.encodeWithSelector(SymbioteBridge.WrongAdminNonce.selector, 1, 0));
        bridge.setLimit(NATIVE, 5, 0, 60, 0, s);
    }

    function test_set_limit_rejects_invalid_delays() public {
        bytes[] memory s = signFirst(keys, THRESHOLD, bridge.setLimitDigest(NATIVE, 5, 0, 0, 0));
        vm.expectRevert(abi.encodeWithSelector(SymbioteBridge.InvalidDelay.selector, 0, 30 days));
        bridge.setLimit(NATIVE, 5, 0, 0, 0, s);

        s = signFirst(keys, THRESHOLD, bridge.setLimitDigest(NATIVE, 0, 5, 30 days + 1, 0));
        vm.expectRevert(abi.encodeWithSelector(SymbioteBridge.InvalidDelay.selector, 30 days + 1, 30 days));
        bridge.setLimit(NATIVE, 0, 5, 30 days + 1, 0, s);
    }

    function test_cancel_queued_release() public {
        setLimit(NATIVE, 0, 1 ether, 1 hours);
        doRelease(1, NATIVE, ALICE, 5 ether);
        uint256 n = bridge.adminNonce();

        bytes[] memory one = signFirst(keys, 1, bridge.cancelQueuedDigest(1, n));
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.InsufficientSignatures.selector, 1, 2));
        bridge.cancelQueued(1, n, one);

        bytes[] memory s = signFirst(keys, THRESHOLD, bridge.cancelQueuedDigest(1, n));
        vm.expectEmit(true, false, false, true, address(bridge));
        emit SymbioteBridge.QueuedCancelled(1, n);
        bridge.cancelQueued(1, n, s);
        vm.assertTrue(bridge.releaseStatus(1) == SymbioteBridge.ReleaseStatus.Cancelled);
        vm.assertTrue(bridge.isReleased(1));
        vm.assertEq(bridge.queuedRelease(1).amount, 0);

        vm.warp(T0 + 1 hours);
        vm.expectRevert(
            abi.encodeWithSelector(SymbioteBridge.NotQueued.selector, 1, SymbioteBridge.ReleaseStatus.Cancelled)
        );
        bridge.executeQueued(1);
        bytes[] memory again = releaseSigs(1, NATIVE, ALICE, 5 ether);
        vm.expectRevert(
            abi.encodeWithSelector(SymbioteBridge.NonceAlreadyUsed.selector, 1, SymbioteBridge.ReleaseStatus.Cancelled)
        );
        bridge.release(1, NATIVE, ALICE, 5 ether, again);
        vm.assertEq(ALICE.balance, 0);
    }

    function test_cancel_of_a_nonce_not_queued_reverts() public {
        doRelease(1, NATIVE, ALICE, 1 ether);
        bytes[] memory s = signFirst(keys, THRESHOLD, bridge.cancelQueuedDigest(1, 0));
        vm.expectRevert(
            abi.encodeWithSelector(SymbioteBridge.NotQueued.selector, 1, SymbioteBridge.ReleaseStatus.Released)
        );
        bridge.cancelQueued(1, 0, s);
    }

    // ------------------------------------------------------------ pause

    function test_pause_blocks_deposits_releases_and_queued_executions() public {
        setLimit(NATIVE, 0, 1 ether, 1 hours);
        doRelease(1, NATIVE, ALICE, 5 ether); // queued

        uint256 n = bridge.adminNonce();
        bytes[] memory ps = signFirst(keys, THRESHOLD, bridge.setPausedDigest(true, n));
        vm.expectEmit(false, false, false, true, address(bridge));
        emit SymbioteBridge.PauseSet(true, n);
        bridge.setPaused(true, n, ps);
        vm.assertTrue(bridge.paused());

        vm.startPrank(USER);
        vm.expectRevert(SymbioteBridge.BridgePaused.selector);
        bridge.depositNative{value: 1 ether}(RECIPIENT);
        token.approve(address(bridge), 1 ether);
        vm.expectRevert(SymbioteBridge.BridgePaused.selector);
        bridge.depositToken(address(token), 1 ether, RECIPIENT);
        vm.stopPrank();

        bytes[] memory rs = releaseSigs(2, NATIVE, ALICE, 0.5 ether);
        vm.expectRevert(SymbioteBridge.BridgePaused.selector);
        bridge.release(2, NATIVE, ALICE, 0.5 ether, rs);

        vm.warp(T0 + 2 hours);
        vm.expectRevert(SymbioteBridge.BridgePaused.selector);
        bridge.executeQueued(1);

        // Unpause with a threshold: everything works again.
        setPaused(false);
        vm.assertFalse(bridge.paused());
        bridge.executeQueued(1);
        bridge.release(2, NATIVE, ALICE, 0.5 ether, rs);
        vm.prank(USER);
        bridge.depositNative{value: 1 ether}(RECIPIENT);
        vm.assertEq(ALICE.balance, 5.5 ether);
        vm.assertEq(bridge.depositNonce(), 1);
    }

    function test_pause_and_unpause_require_threshold() public {
        bytes[] memory one = signFirst(keys, 1, bridge.setPausedDigest(true, 0));
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.InsufficientSignatures.selector, 1, 2));
        bridge.setPaused(true, 0, one);

        setPaused(true);
        bytes[] memory strangers = signAll(makeKeys(8, 2), bridge.setPausedDigest(false, 1));
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.NotRelayer.selector, vm.addr(makeKeys(8, 2)[0])));
        bridge.setPaused(false, 1, strangers);
        vm.assertTrue(bridge.paused());
    }

    function test_replayed_pause_is_refused() public {
        bytes[] memory pause0 = signFirst(keys, THRESHOLD, bridge.setPausedDigest(true, 0));
        bridge.setPaused(true, 0, pause0);
        setPaused(false);
        vm.expectRevert(abi.encodeWithSelector(SymbioteBridge.WrongAdminNonce.selector, 2, 0));
        bridge.setPaused(true, 0, pause0);
        vm.assertFalse(bridge.paused());
    }

    // ------------------------------------------------------------ relayer rotation

    function test_bridge_rotation_old_set_refused_new_set_accepted() public {
        uint256[] memory newKeys = makeKeys(9, 3);
        address[] memory newSet = addressesOf(newKeys);
        bytes[] memory rs = signFirst(keys, THRESHOLD, bridge.relayerSetUpdateDigest(newSet, 3, 0));
        bridge.updateRelayers(newSet, 3, 0, rs);

        bytes32 digest = bridge.releaseDigest(1, NATIVE, ALICE, 1 ether);
        bytes[] memory old = signAll(keys, digest);
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.NotRelayer.selector, relayers[0]));
        bridge.release(1, NATIVE, ALICE, 1 ether, old);

        bytes[] memory short = signFirst(newKeys, 2, digest);
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.InsufficientSignatures.selector, 2, 3));
        bridge.release(1, NATIVE, ALICE, 1 ether, short);

        bridge.release(1, NATIVE, ALICE, 1 ether, signAll(newKeys, digest));
        vm.assertEq(ALICE.balance, 1 ether);

        // Admin operations follow the new set too.
        bytes[] memory oldPause = signAll(keys, bridge.setPausedDigest(true, 0));
        vm.expectRevert(abi.encodeWithSelector(RelayerSet.NotRelayer.selector, relayers[0]));
        bridge.setPaused(true, 0, oldPause);
    }

    // ------------------------------------------------------------ EIP-712 encoding

    function test_typehashes_are_canonical() public view {
        vm.assertEq(
            bridge.RELEASE_TYPEHASH(),
            vm.eip712HashType("Release(uint256 nonce,address token,address recipient,uint256 amount)")
        );
        vm.assertEq(
            bridge.SET_LIMIT_TYPEHASH(),
            vm.eip712HashType(
                "SetLimit(address token,uint256 dailyCap,uint256 largeTransferThreshold,uint256 delaySeconds,uint256 nonce)"
            )
        );
        vm.assertEq(bridge.SET_PAUSED_TYPEHASH(), vm.eip712HashType("SetPaused(bool paused,uint256 nonce)"));
        vm.assertEq(
            bridge.CANCEL_QUEUED_TYPEHASH(), vm.eip712HashType("CancelQueued(uint256 releaseNonce,uint256 nonce)")
        );
        (, string memory name, string memory version,,,,) = bridge.eip712Domain();
        vm.assertEq(name, "SymbioteBridge");
        vm.assertEq(version, "1");
    }

    function test_release_digest_matches_typed_data_json() public view {
        string memory json = string.concat(
            '{"types":{',
            DOMAIN_TYPE_JSON,
            ',"Release":[{"name":"nonce","type":"uint256"},{"name":"token","type":"address"},',
            '{"name":"recipient","type":"address"},{"name":"amount","type":"uint256"}]},',
            '"primaryType":"Release",',
            domainJson("SymbioteBridge", address(bridge)),
            ',"message":{"nonce":77,"token":"',
            vm.toString(address(token)),
            '","recipient":"',
            vm.toString(address(ALICE)),
            '","amount":"1000000000000000000000"}}'
        );
        vm.assertEq(bridge.releaseDigest(77, address(token), ALICE, 1000 ether), vm.eip712HashTypedData(json));
    }

    function test_admin_digests_match_typed_data_json() public view {
        string memory head = string.concat('{"types":{', DOMAIN_TYPE_JSON, ",");
        string memory domain = domainJson("SymbioteBridge", address(bridge));
        string memory setLimitJson = string.concat(
            head,
            '"SetLimit":[{"name":"token","type":"address"},{"name":"dailyCap","type":"uint256"},',
            '{"name":"largeTransferThreshold","type":"uint256"},{"name":"delaySeconds","type":"uint256"},',
            '{"name":"nonce","type":"uint256"}]},"primaryType":"SetLimit",',
            domain,
            ',"message":{"token":"',
            vm.toString(address(token)),
            '","dailyCap":100,"largeTransferThreshold":20,"delaySeconds":3600,"nonce":4}}'
        );
        vm.assertEq(bridge.setLimitDigest(address(token), 100, 20, 3600, 4), vm.eip712HashTypedData(setLimitJson));

        string memory setPausedJson = string.concat(
            head,
            '"SetPaused":[{"name":"paused","type":"bool"},{"name":"nonce","type":"uint256"}]},',
            '"primaryType":"SetPaused",',
            domain,
            ',"message":{"paused":true,"nonce":3}}'
        );
        vm.assertEq(bridge.setPausedDigest(true, 3), vm.eip712HashTypedData(setPausedJson));

        string memory cancelJson = string.concat(
            head,
            '"CancelQueued":[{"name":"releaseNonce","type":"uint256"},{"name":"nonce","type":"uint256"}]},',
            '"primaryType":"CancelQueued",',
            domain,
            ',"message":{"releaseNonce":12,"nonce":5}}'
        );
        vm.assertEq(bridge.cancelQueuedDigest(12, 5), vm.eip712HashTypedData(cancelJson));
    }
}
