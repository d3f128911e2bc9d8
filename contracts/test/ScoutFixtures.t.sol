// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {SymbioteBridge} from "../src/SymbioteBridge.sol";
import {Forwarder} from "../src/scout/Forwarder.sol";
import {HoneypotToken} from "../src/scout/HoneypotToken.sol";
import {PlainToken} from "../src/scout/PlainToken.sol";
import {ProxyToUnverified, UnverifiedLogic} from "../src/scout/ProxyToUnverified.sol";
import {SelfDestructor} from "../src/scout/SelfDestructor.sol";
import {RelayerTestBase} from "./utils/RelayerTestBase.sol";

/// The scout fixtures behave as their documentation says, including against the bridge.
contract ScoutFixturesTest is RelayerTestBase {
    address internal constant HOLDER = address(0xB0B);
    address payable internal constant OWNER = payable(address(0x0111));
    bytes32 internal constant EIP1967_IMPLEMENTATION_SLOT =
        0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc;

    SymbioteBridge internal bridge;
    uint256[] internal keys;

    function setUp() public {
        keys = makeKeys(11, 1);
        bridge = new SymbioteBridge(addressesOf(keys), 1);
    }

    function release(uint256 nonce, address token, address payable recipient, uint256 amount) internal {
        bytes[] memory s = signAll(keys, bridge.releaseDigest(nonce, token, recipient, amount));
        bridge.release(nonce, token, recipient, amount, s);
    }

    /// Whether `code` contains `opcode` as an instruction (PUSH data skipped).
    function hasOpcode(bytes memory code, uint8 opcode) internal pure returns (bool) {
        for (uint256 i = 0; i < code.length; ++i) {
            uint8 op = uint8(code[i]);
            if (op == opcode) return true;
            if (op >= 0x60 && op <= 0x7f) i += op - 0x5f; // PUSH1..PUSH32
        }
        return false;
    }

    function test_plain_token_mints_to_anyone() public {
        PlainToken t = new PlainToken("Plain", "PLN");
        vm.prank(HOLDER);
        t.mint(HOLDER, 5);
        vm.assertEq(t.balanceOf(HOLDER), 5);
        vm.prank(HOLDER);
        vm.assertTrue(t.transfer(OWNER, 2));
        vm.assertEq(t.balanceOf(OWNER), 2);
    }

    function test_honeypot_only_the_owner_can_transfer() public {
        vm.prank(OWNER);
        HoneypotToken honey = new HoneypotToken(1000);
        vm.assertEq(honey.balanceOf(OWNER), 1000);

        vm.prank(OWNER);
        vm.assertTrue(honey.transfer(HOLDER, 100)); // buying works
        vm.assertEq(honey.balanceOf(HOLDER), 100);

        vm.prank(HOLDER);
        vm.expectRevert(abi.encodeWithSelector(HoneypotToken.TransferBlocked.selector, HOLDER));
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        honey.transfer(OWNER, 1); // selling does not

        // A holder cannot even deposit it into the bridge.
        vm.startPrank(HOLDER);
        honey.approve(address(bridge), 100);
        vm.expectRevert(abi.encodeWithSelector(HoneypotToken.TransferBlocked.selector, HOLDER));
        bridge.depositToken(address(honey), 100, keccak256("recipient"));
        vm.stopPrank();

        // Tokens the bridge holds are stuck: a release reverts and the nonce stays unused.
        vm.prank(OWNER);
        vm.assertTrue(honey.transfer(address(bridge), 10));
        bytes[] memory s = signAll(keys, bridge.releaseDigest(1, address(honey), HOLDER, 10));
        vm.expectRevert(abi.encodeWithSelector(HoneypotToken.TransferBlocked.selector, address(bridge)));
        bridge.release(1, address(honey), payable(HOLDER), 10, s);
        vm.assertFalse(bridge.isReleased(1));
    }

    function test_forwarder_passes_ether_and_tokens_to_its_owner() public {
        Forwarder fwd = new Forwarder(OWNER);
        address payable target = payable(address(fwd));

        vm.deal(address(bridge), 10 ether);
        release(1, address(0), target, 3 ether);
        vm.assertEq(target.balance, 0);
        vm.assertEq(OWNER.balance, 3 ether);

        PlainToken t = new PlainToken("Plain", "PLN");
        t.mint(address(bridge), 50);
        release(2, address(t), target, 50);
        vm.assertEq(t.balanceOf(target), 50);
        vm.prank(HOLDER); // anyone may trigger the forwarding
        fwd.forwardToken(t);
        vm.assertEq(t.balanceOf(target), 0);
        vm.assertEq(t.balanceOf(OWNER), 50);
    }

    function test_self_destructor_has_selfdestruct_reachable_by_its_owner() public {
        vm.prank(OWNER);
        SelfDestructor sd = new SelfDestructor();
        vm.assertTrue(hasOpcode(address(sd).code, 0xff)); // SELFDESTRUCT
        vm.assertFalse(hasOpcode(address(new PlainToken("P", "P")).code, 0xff));
        vm.deal(address(sd), 2 ether);

        vm.prank(HOLDER);
        vm.expectRevert(abi.encodeWithSelector(SelfDestructor.NotOwner.selector, HOLDER));
        sd.destroy();

        vm.prank(OWNER);
        sd.destroy();
        vm.assertEq(OWNER.balance, 2 ether);
    }

    function test_proxy_points_at_its_logic_through_the_eip1967_slot() public {
        UnverifiedLogic logic = new UnverifiedLogic(OWNER);
        ProxyToUnverified proxy = new ProxyToUnverified(address(logic));
        bytes32 slot = vm.load(address(proxy), EIP1967_IMPLEMENTATION_SLOT);
        vm.assertEq(address(uint160(uint256(slot))), address(logic));

        // Calls reach the logic (immutables live in the logic's code).
        UnverifiedLogic viaProxy = UnverifiedLogic(payable(address(proxy)));
        vm.assertEq(viaProxy.collector(), OWNER);

        // A release to the proxy can be swept away by anyone.
        PlainToken t = new PlainToken("Plain", "PLN");
        t.mint(address(bridge), 40);
        release(1, address(t), payable(address(proxy)), 40);
        vm.prank(HOLDER);
        viaProxy.sweep(t);
        vm.assertEq(t.balanceOf(OWNER), 40);

        vm.deal(address(bridge), 1 ether);
        release(2, address(0), payable(address(proxy)), 1 ether);
        viaProxy.sweepNative();
        vm.assertEq(OWNER.balance, 1 ether);
    }
}
