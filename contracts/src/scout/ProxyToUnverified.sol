// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title ProxyToUnverified (TEST FIXTURE: never deploy outside tests)
/// @notice An EIP-1967 proxy whose implementation slot points at `logic` (e.g. UnverifiedLogic):
/// scouts must follow the slot and judge the implementation, not the proxy.
contract ProxyToUnverified is ERC1967Proxy {
    constructor(address logic) ERC1967Proxy(logic, "") {}
}

/// @title UnverifiedLogic (TEST FIXTURE: never deploy outside tests)
/// @notice The logic behind ProxyToUnverified: a drainer-like sweep that sends any token balance
/// (and ETH) the proxy holds to a fixed collector.
contract UnverifiedLogic {
    address public immutable collector;

    constructor(address collector_) {
        collector = collector_;
    }

    receive() external payable {}

    function sweep(IERC20 token) external {
        // Deliberately careless, like the code scouts are meant to catch.
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transfer(collector, token.balanceOf(address(this)));
    }

    function sweepNative() external {
        (bool ok,) = payable(collector).call{value: address(this).balance}("");
        require(ok, "sweep failed");
    }
}
