// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title SelfDestructor (TEST FIXTURE: never deploy outside tests)
/// @notice Holds ETH and contains a SELFDESTRUCT that its owner can reach: the dangerous-opcode
/// signal of the scouts. (Since EIP-6780 it only sends the balance unless called in the creating
/// transaction, but the opcode in the code is what scouts flag.)
contract SelfDestructor {
    address payable public immutable owner;

    error NotOwner(address caller);

    constructor() payable {
        owner = payable(msg.sender);
    }

    receive() external payable {}

    function destroy() external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        selfdestruct(owner);
    }
}
