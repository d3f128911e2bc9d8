// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title Forwarder (TEST FIXTURE: never deploy outside tests)
/// @notice Passes everything it receives on to its owner: ETH at once in receive(), tokens with
/// forwardToken (callable by anyone). A release to it lands with the owner, not the recipient.
contract Forwarder {
    using SafeERC20 for IERC20;

    address payable public immutable owner;

    error ForwardFailed(uint256 amount);

    constructor(address payable owner_) {
        owner = owner_;
    }

    receive() external payable {
        (bool ok,) = owner.call{value: msg.value}("");
        if (!ok) revert ForwardFailed(msg.value);
    }

    function forwardToken(IERC20 token) external {
        token.safeTransfer(owner, token.balanceOf(address(this)));
    }
}
