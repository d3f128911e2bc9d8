// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title HoneypotToken (TEST FIXTURE: never deploy outside tests)
/// @notice An ERC-20 that can be bought (received) but not sold: every transfer reverts unless
/// it comes from the owner. Scout tests use it as a malicious release destination.
contract HoneypotToken is ERC20 {
    address public immutable owner;

    error TransferBlocked(address from);

    constructor(uint256 supply) ERC20("Honeypot", "HONEY") {
        owner = msg.sender;
        _mint(msg.sender, supply);
    }

    function _update(address from, address to, uint256 value) internal override {
        // Minting (from == 0) and the owner's transfers pass; everyone else is stuck.
        if (from != address(0) && from != owner) revert TransferBlocked(from);
        super._update(from, to, value);
    }
}
